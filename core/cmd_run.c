/* core/cmd_run.c — `tfx run RECIPE`: assemble the model, check it fits in memory, initialise or
 * load its weights, run a prefill and a generation, and report counts, timings and tokens. */
#include <cblas.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
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

typedef struct run_opts {
    tfx_cli_common common;        /* first: the recipe goes here */
    const char *checkpoint;
    const char *tokens, *encoder_tokens, *logits_path;
    int64_t prompt_len, generate, top_k, threads, seed;
    double temperature;
    int dtype;                    /* index in tfx_cli_dtypes */
    bool force, random_weights, bf16, check;
    tfx_bf16_prefill bf16_prefill;
} run_opts;

static const tfx_opt options[] = {
    TFX_OPT_CHECKPOINT(run_opts, checkpoint, "load weights from a safetensors file through the recipe's "
                       "map (default: checkpoint.file of the recipe, if any; else random)"),
    {"--tokens", TFX_ARG_STRING, "IDS", "the prompt's token ids, e.g. 5,17,3 (the decoder's prompt of "
     "an encoder-decoder model)", TFX_AT(run_opts, tokens)},
    TFX_OPT_PROMPT_LEN(run_opts, prompt_len, "a random prompt of N tokens from --seed", "32"),
    {"--encoder-tokens", TFX_ARG_STRING, "IDS", "the encoder's input of an encoder-decoder model",
     .def_doc = "random", TFX_AT(run_opts, encoder_tokens)},
    TFX_OPT_GENERATE(run_opts, generate, "tokens to generate, 0 for none", "8"),
    {"--temperature", TFX_ARG_FLOAT, "T", "sample with temperature T, 0 for greedy", .def = "0",
     .fmin = 0, .fmax = 100, TFX_AT(run_opts, temperature)},
    {"--top-k", TFX_ARG_INT, "K", "sample among the K most likely tokens, 0 for all", .def = "0",
     .min = 0, .max = INT32_MAX, TFX_AT(run_opts, top_k)},
    TFX_OPT_SEED(run_opts, seed, "seed of the weights, the prompt and sampling"),
    TFX_OPT_THREADS(run_opts, threads, "threads of the matrix kernels"),
    TFX_OPT_DTYPE(run_opts, dtype, "the weights' element: bf16 decode streams BF16 copies of the weight "
                  "matrices (half the bytes); prefill goes through oneDNN's bf16 matmul where it measures "
                  "faster than fp32 sgemm here"),
    {"--bf16-prefill", TFX_ARG_ENUM, "P", "with --dtype bf16, prefill's path. auto: the faster, measured at "
     "the start; onednn: oneDNN wherever it has a bf16 matmul; fp32: OpenBLAS's sgemm", .def = "auto",
     .choices = tfx_bf16_prefill_names, TFX_AT(run_opts, bf16_prefill)},
    {"--logits", TFX_ARG_STRING, "FILE", "write the prefill's logits at every prompt position, [T, vocab] "
     "(last_hidden_state [T, d_model] of an encoder-only model), as safetensors",
     TFX_AT(run_opts, logits_path)},
    {"--random", TFX_ARG_FLAG, NULL, "ignore the recipe's checkpoint.file and use random weights",
     TFX_AT(run_opts, random_weights)},
    {"--force", TFX_ARG_FLAG, NULL, "run even when the model does not fit in available memory",
     TFX_AT(run_opts, force)},
    {"--check", TFX_ARG_FLAG, NULL, "for plugin authors: guard words after every workspace and KV cache, "
     "checked after each plugin call; an overrun is an error naming the plugin (always on in the "
     "sanitizer build)", TFX_AT(run_opts, check)},
    TFX_OPTS_COMMON(run_opts),
    TFX_OPTS_ESTIMATE(run_opts),
};

static const tfx_command_spec spec = {
    .name = "run", TFX_ARGS("RECIPE", 1, 1),
    .about = "Assemble the recipe's model, initialise its weights (or load a checkpoint), run a\n"
             "prefill over a prompt and generate tokens with the KV cache, then report parameters,\n"
             "timings and the generated token ids.\n",
    TFX_OPTIONS_OF(options),
};

typedef tfx_run_result run_result;
typedef tfx_run_inputs run_inputs;

/* ---- options ------------------------------------------------------------------------------ */

static int parse_opts(int argc, char **argv, run_opts *o, tfx_error *err)
{
    int rc = tfx_options_parse(&spec, argc, argv, o, tfx_cli_take_arg, err);
    o->bf16 = o->dtype == 1;
    return rc;
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
        double t0 = tfx_now();
        tfx_host_flops_reset();
        if (tfx_runtime_encode(&rt, prompt, NULL, n_prompt, err))
            goto out;
        r->prefill_s = tfx_now() - t0;
        r->prefill_flops = tfx_host_flops();
    } else {
        if (n_enc) {
            double t0 = tfx_now();
            if (tfx_runtime_encode(&rt, enc, NULL, n_enc, err))
                goto out;
            r->encode_s = tfx_now() - t0;
        }
        r->generated = calloc((size_t)(generate ? generate : 1), sizeof *r->generated);
        if (!r->generated) {
            tfx_fail(err, "out of memory");
            goto out;
        }
        double t0 = tfx_now();
        tfx_host_flops_reset();
        rt.n_past = 0;
        if (tfx_runtime_decode(&rt, prompt, n_prompt, o->logits_path ? n_prompt : 1, err))
            goto out;
        r->prefill_s = tfx_now() - t0;
        r->prefill_flops = tfx_host_flops();
        if (o->logits_path && write_logits(o->logits_path, &rt, n_prompt, err))
            goto out;
        tfx_sampler sampler = {.temperature = o->temperature, .top_k = o->top_k, .seed = o->seed};
        tfx_progress bar;
        tfx_progress_start(&bar, "generating");
        t0 = tfx_now();
        int failed = generate > 0 &&
                     tfx_generate(&rt, generate, &sampler, r->generated, tfx_progress_callback, &bar, err);
        r->decode_s = tfx_now() - t0;
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

int tfx_cmd_run_parse(int argc, char **argv, tfx_error *err)
{
    run_opts o = {0};
    int parsed = parse_opts(argc, argv, &o, err);
    if (parsed != TFX_OPTIONS_PROCEED)
        return parsed ? -1 : 0;
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
    run_opts o = {0};
    tfx_error err = {{0}};
    int parsed = parse_opts(argc, argv, &o, &err);
    if (parsed != TFX_OPTIONS_PROCEED)
        return parsed ? tfx_cli_error(&err) : 0;
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
                               .generate = o.generate, .seed = (uint64_t)o.seed, .check = o.check};
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
    double t0 = tfx_now();
    if (tfx_run_load_weights(o.checkpoint, o.random_weights, o.seed, l, &w, &r, &err))
        goto out;
    r.load_s = tfx_now() - t0;
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
