/* core/cmd_run.c — `tfx run RECIPE`: assemble the model, check it fits in memory, initialise or
 * load its weights, run a prefill and a generation, and report counts, timings and tokens. */
#include <cblas.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "files.h"
#include "host.h"
#include "cli.h"
#include "load.h"
#include "matmul_bf16.h"
#include "report_doc.h"
#include "run_setup.h"
#include "runtime.h"
#include "safetensors.h"
#include "weights.h"

#define MAX_TOKENS TFX_MAX_TOKENS

static const char usage[] =
    "usage: tfx run RECIPE [options]\n"
    "\n"
    "Assemble the recipe's model, initialise its weights (or load a checkpoint), run a\n"
    "prefill over a prompt and generate tokens with the KV cache, then report parameters,\n"
    "timings and the generated token ids.\n"
    "\n"
    "  --checkpoint FILE     load weights from a safetensors file through the recipe's map\n"
    "                        (default: checkpoint.file of the recipe, if any; else random)\n"
    "  --tokens 5,17,3       the prompt's token ids (decoder prompt for encoder-decoder)\n"
    "  --prompt-len N        a random prompt of N tokens from --seed (default 32)\n"
    "  --encoder-tokens IDS  encoder input of an encoder-decoder model (default: random)\n"
    "  --generate N          tokens to generate (default 8; 0 for none)\n"
    "  --temperature T       sample with temperature T (default 0: greedy)\n"
    "  --top-k K             sample among the K most likely tokens (default 0: all)\n"
    "  --seed S              seed for weights, prompt and sampling (default 1)\n"
    "  --threads N           threads for the matrix kernels (default: all cores)\n"
    "  --dtype T             fp32 (default), or bf16: decode streams BF16 copies of the\n"
    "                        weight matrices (half the bytes); prefill goes through oneDNN's\n"
    "                        bf16 matmul where it measures faster than fp32 sgemm here\n"
    "  --bf16-prefill P      with --dtype bf16: auto (default: the faster, measured at the\n"
    "                        start), onednn (oneDNN wherever it has a bf16 matmul) or fp32\n"
    "  --logits FILE         write the last forward's logits (or last_hidden_state for\n"
    "                        encoder-only models) as safetensors\n"
    "  --random              ignore the recipe's checkpoint.file and use random weights\n"
    "  --force               run even when the model does not fit in available memory\n"
    "  --check               for plugin authors: guard words after every workspace and KV\n"
    "                        cache, checked after each plugin call; an overrun is an error\n"
    "                        naming the plugin (always on in the sanitizer build)\n"
    "  --format F            text (default), markdown, csv or json\n"
    "  --set key=value       override a recipe key\n"
    TFX_CLI_ESTIMATE_HELP;

typedef struct run_opts {
    tfx_cli_common common;
    const char *checkpoint;
    const char *tokens, *encoder_tokens, *logits_path;
    int64_t prompt_len, generate, top_k, threads;
    double temperature;
    uint64_t seed;
    bool force, random_weights, bf16, check;
    tfx_bf16_prefill bf16_prefill;
} run_opts;

typedef tfx_run_result run_result;
typedef tfx_run_inputs run_inputs;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- options ------------------------------------------------------------------------------ */

static int parse_i64(const char *opt, const char *text, int64_t lo, int64_t hi, int64_t *out,
                     tfx_error *err)
{
    return tfx_cli_int(opt, text, lo, hi, out, err);
}

static int parse_opts(int argc, char **argv, run_opts *o, tfx_error *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int taken = tfx_cli_take_common(&o->common, argc, argv, &i, err);
        if (taken < 0)
            return -1;
        if (taken)
            continue;
        if (strcmp(a, "--force") == 0) {
            o->force = true;
            continue;
        }
        if (strcmp(a, "--random") == 0) {
            o->random_weights = true;
            continue;
        }
        if (strcmp(a, "--check") == 0) {
            o->check = true;
            continue;
        }
        static const char *const valued[] = {"--checkpoint", "--tokens", "--prompt-len",
            "--encoder-tokens", "--generate", "--seed", "--threads", "--logits",
            "--temperature", "--top-k", "--dtype", "--bf16-prefill"};
        bool needs = false;
        for (size_t k = 0; k < sizeof valued / sizeof *valued; k++)
            needs |= strcmp(a, valued[k]) == 0;
        if (!needs) {
            if (tfx_cli_take_file(&o->common, a, err))
                return -1;
            continue;
        }
        if (!(v = tfx_cli_value(argc, argv, &i, err)))
            return -1;
        int64_t n;
        if (strcmp(a, "--checkpoint") == 0)
            o->checkpoint = v;
        else if (strcmp(a, "--tokens") == 0)
            o->tokens = v;
        else if (strcmp(a, "--encoder-tokens") == 0)
            o->encoder_tokens = v;
        else if (strcmp(a, "--logits") == 0)
            o->logits_path = v;
        else if (strcmp(a, "--dtype") == 0) {
            if (tfx_cli_dtype(v, &o->bf16, err))
                return -1;
        } else if (strcmp(a, "--bf16-prefill") == 0) {
            if (tfx_bf16_prefill_parse(v, &o->bf16_prefill, err))
                return -1;
        }
        else if (strcmp(a, "--prompt-len") == 0) {
            if (parse_i64(a, v, 1, MAX_TOKENS, &o->prompt_len, err))
                return -1;
        } else if (strcmp(a, "--generate") == 0) {
            if (parse_i64(a, v, 0, MAX_TOKENS, &o->generate, err))
                return -1;
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_i64(a, v, 1, TFX_MAX_THREADS, &o->threads, err))
                return -1;
        } else if (strcmp(a, "--top-k") == 0) {
            if (parse_i64(a, v, 0, INT32_MAX, &o->top_k, err))
                return -1;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_i64(a, v, 0, INT64_MAX, &n, err))
                return -1;
            o->seed = (uint64_t)n;
        } else if (strcmp(a, "--temperature") == 0) {
            char *end;
            o->temperature = strtod(v, &end);
            if (end == v || *end || !(o->temperature >= 0 && o->temperature <= 100))
                return tfx_fail(err, "--temperature expects a number between 0 and 100, got '%s'", v);
        }
    }
    if (o->common.n_files != 1)
        return tfx_fail(err, "tfx run takes one recipe (see tfx run --help)");
    return 0;
}

/* ---- the run ------------------------------------------------------------------------------ */

static int write_logits(const char *path, const tfx_runtime *rt, int64_t T, tfx_error *err)
{
    const tfx_spec *s = rt->model->spec;
    bool hidden = s->kind == TFX_MODEL_ENCODER_ONLY;
    tfx_st_out t = {.name = hidden ? "last_hidden_state" : "logits", .dtype = TFX_DTYPE_F32,
                    .rank = 2, .shape = {T, hidden ? s->d_model : s->vocab},
                    .data = hidden ? rt->x : rt->logits};
    return tfx_st_write(path, "--logits", &t, 1, err);
}

static int run_model(const run_opts *o, const tfx_loaded *l, tfx_weights *w, const run_inputs *in,
                     run_result *r, tfx_error *err)
{
    const tfx_model *m = l->model;
    const tfx_spec *s = l->spec;
    const int32_t *prompt = in->prompt, *enc = in->enc;
    const int64_t n_prompt = in->n_prompt, n_enc = in->n_enc, generate = in->generate;
    tfx_runtime rt;
    int rc = -1;
    memset(&rt, 0, sizeof rt);
    /* every input is open by now: refuse --logits over one before running, not after */
    if ((o->logits_path && tfx_output_check(o->logits_path, "--logits", err)) ||
        tfx_runtime_init(&rt, m, w, &in->lim, err))
        goto out;
    r->n_prompt = n_prompt;
    r->n_encoder = n_enc;
    if (s->kind == TFX_MODEL_ENCODER_ONLY) {
        double t0 = now();
        tfx_host_flops_reset();
        if (tfx_runtime_encode(&rt, prompt, NULL, n_prompt, err))
            goto out;
        r->prefill_s = now() - t0;
        r->prefill_flops = tfx_host_flops();
    } else {
        if (n_enc) {
            double t0 = now();
            if (tfx_runtime_encode(&rt, enc, NULL, n_enc, err))
                goto out;
            r->encode_s = now() - t0;
        }
        r->generated = calloc((size_t)(generate ? generate : 1), sizeof *r->generated);
        if (!r->generated) {
            tfx_fail(err, "out of memory");
            goto out;
        }
        double t0 = now();
        tfx_host_flops_reset();
        rt.n_past = 0;
        if (tfx_runtime_decode(&rt, prompt, n_prompt, o->logits_path ? n_prompt : 1, err))
            goto out;
        r->prefill_s = now() - t0;
        r->prefill_flops = tfx_host_flops();
        if (o->logits_path && write_logits(o->logits_path, &rt, n_prompt, err))
            goto out;
        tfx_sampler sampler = {.temperature = o->temperature, .top_k = o->top_k, .seed = o->seed};
        tfx_progress bar;
        tfx_progress_start(&bar, "generating");
        t0 = now();
        int failed = generate > 0 &&
                     tfx_generate(&rt, generate, &sampler, r->generated, tfx_progress_callback, &bar, err);
        r->decode_s = now() - t0;
        tfx_progress_end(&bar);
        if (failed)
            goto out;
        r->n_generated = generate;
    }
    if (s->kind == TFX_MODEL_ENCODER_ONLY && o->logits_path && write_logits(o->logits_path, &rt, n_prompt, err))
        goto out;
    rc = 0;
out:
    tfx_runtime_free(&rt);
    return rc;
}

/* ---- command ------------------------------------------------------------------------------ */

#define RUN_OPTS_DEFAULT {.prompt_len = 32, .generate = 8, .seed = 1, .common.estimate.fp32_grads = true}

int tfx_cmd_run_parse(int argc, char **argv, tfx_error *err)
{
    run_opts o = RUN_OPTS_DEFAULT;
    if (parse_opts(argc, argv, &o, err))
        return -1;
    int32_t *ids = calloc(MAX_TOKENS, sizeof *ids);
    if (!ids)
        return tfx_fail(err, "out of memory");
    int rc = (o.tokens && tfx_parse_tokens(o.tokens, ids, MAX_TOKENS, "--tokens", err) < 0) ||
             (o.encoder_tokens && tfx_parse_tokens(o.encoder_tokens, ids, MAX_TOKENS, "--encoder-tokens", err) < 0);
    free(ids);
    return rc ? -1 : 0;
}

int tfx_cmd_run(int argc, char **argv)
{
    run_opts o = RUN_OPTS_DEFAULT;
    tfx_error err = {{0}};
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    if (parse_opts(argc, argv, &o, &err))
        return tfx_cli_error(&err);
    if (o.threads && !getenv("TFX_BLAS_THREADS_LIMITED"))
        openblas_set_num_threads((int)o.threads);
    tfx_mm_set_threads(openblas_get_num_threads()); /* one count for OpenBLAS, oneDNN, the pool */
    tfx_registry *reg = tfx_cli_registry(&err);
    if (!reg)
        return tfx_cli_error(&err);
    int status = 1;
    tfx_weights w = {0};
    tfx_mm *mm = NULL;
    run_result r = {0};
    run_inputs in = {0};
    tfx_run_request request = {.tokens = o.tokens, .encoder_tokens = o.encoder_tokens, .prompt_len = o.prompt_len,
                               .generate = o.generate, .seed = o.seed, .check = o.check};
    tfx_loaded *l = tfx_load(o.common.files[0], o.common.sets, o.common.n_sets, reg, &err);
    if (!l)
        goto out;
    bool copies;
    uint64_t with_onednn;
    if (tfx_model_check_context(l->model, o.common.estimate.context, &err) ||
        tfx_run_inputs_prepare(&request, l->spec, &in, &err) ||
        tfx_run_plan(l, &in.lim, o.bf16, &copies, &with_onednn, &r, &err))
        goto out;
    if (tfx_run_check_fits(with_onednn, o.force, &err))
        goto out;
    tfx_run_raise_blas_threads(r.planned_bytes, o.threads);
    double t0 = now();
    if (tfx_run_load_weights(o.checkpoint, o.random_weights, o.seed, l, &w, &r, &err))
        goto out;
    r.load_s = now() - t0;
    if (o.bf16 && tfx_run_bf16(l, &w, copies, o.bf16_prefill, (int)o.threads, &r, &mm, &err))
        goto out;
    if (run_model(&o, l, &w, &in, &r, &err))
        goto out;
    r.mm_products = tfx_host_mm_products();
    if (tfx_report_run(stdout, &o.common, l, &r, &err))
        goto out;
    status = 0;
out:
    if (status)
        tfx_cli_error(&err);
    free(r.generated);
    tfx_run_inputs_free(&in);
    tfx_host_use_mm(NULL);
    tfx_mm_close(mm);
    tfx_weights_free(&w);
    tfx_loaded_free(l);
    tfx_registry_free(reg);
    return status;
}
