/* core/cmd_run.c — `tfx run RECIPE`: assemble the model, check it fits in memory, initialise or
 * load its weights, run a prefill and a generation, and report counts, timings and tokens. */
#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "accounting.h"
#include "checked.h"
#include "checkpoint.h"
#include "clock.h"
#include "files.h"
#include "text.h"
#include "cli.h"
#include "gemv.h"
#include "headroom.h"
#include "host.h"
#include "load.h"
#include "matmul_bf16.h"
#include "pool.h"
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

typedef struct run_result {
    double load_s, encode_s, prefill_s, decode_s;
    uint64_t prefill_flops;
    uint64_t planned_bytes;       /* weights + KV caches + activations, as allocated */
    int64_t n_encoder, n_prompt, n_generated;
    int32_t *generated;
    const char *weights_from;
    char checkpoint[4096];
    size_t mapped_tensors, loaded_tensors; /* of a checkpoint: used in place / all */
    size_t bf16_matrices;         /* --dtype bf16: matrices decode reads as BF16 */
    bool bf16_skipped;            /* --dtype bf16 on a model that does not decode: no copies */
    bool prefill_chosen;          /* --dtype bf16: prefill's path was chosen, as below */
    tfx_prefill_choice prefill;
    uint64_t mm_products;         /* prefill products oneDNN ran */
} run_result;

/* ---- options ------------------------------------------------------------------------------ */

static int parse_opts(int argc, char **argv, run_opts *o, tfx_error *err)
{
    int rc = tfx_options_parse(&spec, argc, argv, o, tfx_cli_take_arg, err);
    o->bf16 = o->dtype == 1;
    return rc;
}

/* "5,17,3" → tokens; returns the count or -1. */
static int64_t parse_tokens(const char *text, int32_t *out, int64_t cap, const char *opt,
                            tfx_error *err)
{
    int64_t n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX)
            return tfx_fail(err, "%s: expected comma-separated token ids, got '%s'", opt, text);
        if (n == cap)
            return tfx_fail(err, "%s: more than %" PRId64 " tokens", opt, cap);
        out[n++] = (int32_t)v;
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return tfx_fail(err, "%s: expected comma-separated token ids, got '%s'", opt, text);
    }
    if (n == 0)
        return tfx_fail(err, "%s: no tokens given", opt);
    return n;
}

static void random_tokens(int32_t *out, int64_t n, int64_t vocab, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 12345;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        out[i] = (int32_t)(s % (uint64_t)vocab);
    }
}

/* ---- memory ------------------------------------------------------------------------------- */

/* Address space OpenBLAS maps beside what tfx allocates: a buffer of about 128 MiB for each
 * thread (the calling thread's at its first product), and thread stacks. Under ulimit -v an
 * OpenBLAS buffer that cannot be mapped is retried forever, so it must be budgeted. */
#define BLAS_BUFFER (UINT64_C(144) << 20)

static int check_fits(uint64_t need, bool force, tfx_error *err)
{
    tfx_headroom h;
    tfx_headroom_measure(&h, BLAS_BUFFER);
    if (h.bytes == TFX_UNLIMITED || need <= h.bytes || force)
        return 0;
    return tfx_fail(err, "the model needs %.2f GiB (%" PRIu64 " bytes: weights and run state) but "
                    "%.2f GiB (%" PRIu64 " bytes) are available (limited by %s); use --force to try anyway",
                    (double)need / (1u << 30), need, (double)h.bytes / (1u << 30), h.bytes, h.limit);
}

/* Under an address-space limit main.c started OpenBLAS on one thread (TFX_BLAS_THREADS_LIMITED);
 * add the threads asked for (default: all cores) whose buffers fit beside `need`. */
static void raise_blas_threads(uint64_t need, int64_t asked)
{
    if (!getenv("TFX_BLAS_THREADS_LIMITED"))
        return;
    tfx_headroom h;
    tfx_headroom_measure(&h, BLAS_BUFFER);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t want = asked > 0 ? asked : cores > 0 ? cores : 1, fit = 1;
    if (h.address_space != TFX_UNLIMITED && h.address_space > need)
        fit += (int64_t)((h.address_space - need) / BLAS_BUFFER);
    else if (h.address_space == TFX_UNLIMITED)
        fit = want;
    openblas_set_num_threads((int)(want < fit ? want : fit));
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

/* The run's inputs and the run state they need: one plan for the memory check and the run. */
typedef struct run_inputs {
    int32_t *prompt, *enc;        /* [MAX_TOKENS] each, owned */
    int64_t n_prompt, n_enc, generate;
    tfx_run_limits lim;
} run_inputs;

static void inputs_free(run_inputs *in)
{
    free(in->prompt);
    free(in->enc);
}

/* Parse or draw the prompt (and encoder input), and size the run for exactly them. */
static int prepare_inputs(const run_opts *o, const tfx_spec *s, run_inputs *in, tfx_error *err)
{
    memset(in, 0, sizeof *in);
    in->prompt = calloc(MAX_TOKENS, sizeof *in->prompt);
    in->enc = calloc(MAX_TOKENS, sizeof *in->enc);
    if (!in->prompt || !in->enc)
        return tfx_fail(err, "out of memory");
    in->n_prompt = o->tokens ? parse_tokens(o->tokens, in->prompt, MAX_TOKENS, "--tokens", err)
                             : o->prompt_len;
    if (in->n_prompt < 0)
        return -1;
    if (!o->tokens)
        random_tokens(in->prompt, in->n_prompt, s->vocab, o->seed);
    if (s->kind == TFX_MODEL_ENCODER_DECODER) {
        in->n_enc = o->encoder_tokens ? parse_tokens(o->encoder_tokens, in->enc, MAX_TOKENS, "--encoder-tokens", err)
                                      : o->prompt_len;
        if (in->n_enc < 0)
            return -1;
        if (!o->encoder_tokens)
            random_tokens(in->enc, in->n_enc, s->vocab, (uint64_t)o->seed + 1);
    }
    in->generate = s->kind == TFX_MODEL_ENCODER_ONLY ? 0 : o->generate;
    int64_t positions = in->n_prompt + (in->generate > 0 ? in->generate - 1 : 0);
    if (positions > s->context || in->n_enc > s->context)
        return tfx_fail(err, "the prompt (%" PRId64 " tokens) and generation (%" PRId64 ") need %" PRId64
                        " positions; the context of '%s' is %" PRId64, in->n_prompt, in->generate,
                        positions > in->n_enc ? positions : in->n_enc, s->name, s->context);
    in->lim = (tfx_run_limits){.max_tokens = in->n_prompt, .capacity = positions,
                               .encoder_tokens = in->n_enc, .check = o->check};
    if (s->kind == TFX_MODEL_ENCODER_ONLY)
        in->lim.capacity = in->n_prompt;
    return 0;
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

/* ---- report ------------------------------------------------------------------------------- */

static double gib(uint64_t bytes) { return (double)bytes / (double)(1ull << 30); }

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* Which path --dtype bf16 took for prefill, why, and oneDNN's kernel. */
static void print_prefill_path(FILE *out, const run_result *r)
{
    const tfx_prefill_choice *c = &r->prefill;
    fprintf(out, "  prefill path   %s\n", c->why);
    if (c->impl[0])
        fprintf(out, "                 oneDNN %s (ISA %s)%s", c->impl, tfx_mm_isa(),
                c->onednn ? "" : ", unused\n");
    if (c->onednn)
        fprintf(out, "; %" PRIu64 " products ran on it\n", r->mm_products);
}

static void print_text(FILE *out, const tfx_loaded *l, const tfx_counts *c, const run_result *r,
                       const tfx_params_item *est, uint64_t prefill_estimate)
{
    const tfx_spec *s = l->spec;
    char num[32];
    fprintf(out, "%s (%s)\n", s->name, tfx_model_kind_name(s->kind));
    fprintf(out, "  parameters     %s\n", tfx_group_digits(num, sizeof num, c->total));
    for (int p = 0; p < TFX_PART_COUNT; p++)
        if (c->part[p])
            fprintf(out, "    %-12s %s\n", tfx_part_name((tfx_part)p),
                    tfx_group_digits(num, sizeof num, c->part[p]));
    fprintf(out, "  weights        %s (%.3f s", r->weights_from, r->load_s);
    if (r->loaded_tensors)
        fprintf(out, "; %zu of %zu tensors read in place from the mapped file, %zu copied",
                r->mapped_tensors, r->loaded_tensors, r->loaded_tensors - r->mapped_tensors);
    fputs(")\n", out);
    if (r->bf16_skipped)
        fprintf(out, "  dtype          bf16 for prefill only: an encoder-only model does not decode, so "
                     "no BF16 copies for it\n");
    if (r->bf16_matrices)
        fprintf(out, "  dtype          bf16 for decode: %zu matrices streamed as BF16 copies (the fp32 "
                     "ones kept)\n", r->bf16_matrices);
    if (r->prefill_chosen)
        print_prefill_path(out, r);
    const char *forced = getenv("OPENBLAS_CORETYPE");
    fprintf(out, "  threads        %d (OpenBLAS %s kernels%s%s%s for matrix products; tfx's %s "
                 "kernels for softmax, activations and one-token attention)\n", openblas_get_num_threads(),
            openblas_get_corename(), forced ? "; OPENBLAS_CORETYPE=" : "", forced ? forced : "",
            forced ? " in the environment" : "", tfx_kernel_isa());
    if (r->n_encoder)
        fprintf(out, "  encode         %" PRId64 " tokens in %.3f s: %.1f tokens/s\n", r->n_encoder,
                r->encode_s, (double)r->n_encoder / r->encode_s);
    const tfx_memory *m = &est->memory;
    fprintf(out, "  memory         weights %.2f GiB fp32 (%.2f fp16); KV cache %.2f GiB (batch %lld, "
                 "context %lld, %lld B); training %.2f GiB (%d B/param)\n",
            gib(m->weights_fp32), gib(m->weights_fp16), gib(m->kv_cache), (long long)est->opts.batch,
            (long long)est->opts.context, (long long)est->opts.kv_bytes, gib(m->training),
            m->bytes_per_param);
    fprintf(out, "  FLOPs          %.3g GFLOP forward per token at context %lld (2N + attention%s), "
                 "%.3g training\n",
            (double)est->flops.forward_per_token / 1e9, (long long)est->opts.context,
            est->flops.forward_plugin_term ? " + plugin-reported" : "",
            (double)est->flops.training_per_token / 1e9);
    double gflops = (double)r->prefill_flops / 1e9 / r->prefill_s;
    fprintf(out, "  prefill        %" PRId64 " tokens in %.3f s: %.1f tokens/s, %.1f GFLOP/s "
                 "(%.3g GFLOP done by the kernels; estimate %.3g)\n",
            r->n_prompt, r->prefill_s, (double)r->n_prompt / r->prefill_s, gflops,
            (double)r->prefill_flops / 1e9, (double)prefill_estimate / 1e9);
    if (r->n_generated > 1)
        fprintf(out, "  decode         %" PRId64 " tokens in %.3f s: %.1f tokens/s\n",
                r->n_generated - 1, r->decode_s, (double)(r->n_generated - 1) / r->decode_s);
    double planned_mib = (double)r->planned_bytes / (1024.0 * 1024.0);
    fprintf(out, "  peak memory    %.1f MiB resident (%.2fx the %.1f MiB of weights, KV cache and "
                 "activations)\n", peak_rss_mib(), peak_rss_mib() / planned_mib, planned_mib);
    if (r->n_generated) {
        fprintf(out, "  generated:");
        for (int64_t i = 0; i < r->n_generated; i++)
            fprintf(out, "%s%" PRId32, i ? "," : " ", r->generated[i]);
        fputc('\n', out);
    }
}

/* The report as one JSON object (the source of the json, markdown and csv formats). */
static json_t *report_json(const tfx_loaded *l, const tfx_counts *c, const run_result *r,
                           const tfx_params_item *est, uint64_t prefill_estimate)
{
    const tfx_spec *s = l->spec;
    json_t *parts = json_object(), *gen = json_array();
    for (int p = 0; p < TFX_PART_COUNT; p++)
        json_object_set_new(parts, tfx_part_name((tfx_part)p), json_integer(c->part[p]));
    for (int64_t i = 0; i < r->n_generated; i++)
        json_array_append_new(gen, json_integer(r->generated[i]));
    json_t *doc = json_pack(
        "{s:s, s:s, s:I, s:o, s:s, s:i, s:s, s:s, s:f, s:I, s:f, s:I, s:f, s:f, s:I, s:f, s:f, s:f, s:o}",
        "name", s->name, "model", tfx_model_kind_name(s->kind), "total", (json_int_t)c->total,
        "components", parts, "weights", r->weights_from, "threads", openblas_get_num_threads(),
        "kernels", openblas_get_corename(), "vector_isa", tfx_kernel_isa(), "load_s", r->load_s,
        "encoder_tokens", (json_int_t)r->n_encoder, "encode_s", r->encode_s,
        "prefill_tokens", (json_int_t)r->n_prompt, "prefill_s", r->prefill_s,
        "prefill_gflops", (double)r->prefill_flops / 1e9 / r->prefill_s,
        "decode_tokens", (json_int_t)(r->n_generated > 0 ? r->n_generated - 1 : 0),
        "decode_s", r->decode_s, "peak_rss_mib", peak_rss_mib(), "planned_mib",
        (double)r->planned_bytes / (1024.0 * 1024.0), "generated", gen);
    json_t *flops, *memory = tfx_json_estimates(est, &flops);
    json_object_set_new(doc, "memory", memory);
    json_object_set_new(doc, "flops", flops);
    json_object_set_new(doc, "weights_in_place", json_integer((json_int_t)r->mapped_tensors));
    json_object_set_new(doc, "dtype", json_string(r->prefill_chosen ? "bf16" : "fp32"));
    if (r->prefill_chosen) {
        const tfx_prefill_choice *p = &r->prefill;
        json_object_set_new(doc, "bf16_prefill", json_pack(
            "{s:s, s:s, s:s, s:s, s:f, s:f, s:I}", "path", p->onednn ? "onednn" : "fp32",
            "why", p->why, "onednn_impl", p->impl, "onednn_isa", tfx_mm_isa(), "onednn_gflops",
            p->bf16_gflops, "fp32_gflops", p->fp32_gflops, "onednn_products",
            (json_int_t)r->mm_products));
    }
    json_object_set_new(doc, "prefill_flops_measured", json_integer((json_int_t)r->prefill_flops));
    json_object_set_new(doc, "prefill_flops_estimate", json_integer((json_int_t)prefill_estimate));
    return doc;
}

/* One "key | value" (markdown) or "key,value" (csv) line per scalar of the report; nested
 * objects give dotted keys ("memory.kv_cache"), arrays a comma-joined value. */
static void print_flat(FILE *out, const char *prefix, json_t *obj, bool markdown)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        char name[256];
        snprintf(name, sizeof name, "%s%s%s", prefix, prefix[0] ? "." : "", key);
        if (json_is_object(v)) {
            print_flat(out, name, v, markdown);
            continue;
        }
        fprintf(out, markdown ? "| %s | " : "%s,", name);
        if (json_is_array(v)) {
            size_t i;
            json_t *item;
            fputs(markdown ? "" : "\"", out);
            json_array_foreach(v, i, item)
                fprintf(out, "%s%" JSON_INTEGER_FORMAT, i ? "," : "", json_integer_value(item));
            fputs(markdown ? "" : "\"", out);
        } else if (json_is_string(v)) {
            fprintf(out, markdown ? "%s" : "\"%s\"", json_string_value(v));
        } else if (json_is_integer(v)) {
            fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        } else if (json_is_real(v)) {
            fprintf(out, "%.6g", json_real_value(v));
        }
        fputs(markdown ? " |\n" : "\n", out);
    }
}

static int print_report(FILE *out, tfx_format fmt, const tfx_loaded *l, const run_result *r,
                        const tfx_params_item *est, uint64_t prefill_estimate)
{
    if (fmt == TFX_FORMAT_TEXT) {
        print_text(out, l, &l->counts, r, est, prefill_estimate);
        return ferror(out) ? -1 : 0;
    }
    json_t *doc = report_json(l, &l->counts, r, est, prefill_estimate);
    if (!doc)
        return -1;
    int rc = 0;
    if (fmt == TFX_FORMAT_JSON) {
        rc = json_dumpf(doc, out, JSON_INDENT(2));
        fputc('\n', out);
    } else {
        fputs(fmt == TFX_FORMAT_MARKDOWN ? "| figure | value |\n| --- | ---: |\n" : "figure,value\n", out);
        print_flat(out, "", doc, fmt == TFX_FORMAT_MARKDOWN);
    }
    json_decref(doc);
    return rc || ferror(out) ? -1 : 0;
}

/* ---- command ------------------------------------------------------------------------------ */

/* Open the checkpoint once through the input helper before loading it, so that a FIFO or a
 * directory is refused in the words of what named it: --checkpoint, or the recipe's key. */
static int check_checkpoint(const run_opts *o, const tfx_loaded *l, const char *path, tfx_error *err)
{
    char where[4096 + 32] = "--checkpoint";
    if (!o->checkpoint) {
        tfx_mark m = tfx_node_get(l->spec->checkpoint, "file")->mark;
        if (tfx_mark_text(where, sizeof where, m) < 0)
            return tfx_fail(err, "%s: path too long", m.file);
    }
    int fd = tfx_input_open(path, where, err);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int load_weights(const run_opts *o, const tfx_loaded *l, tfx_weights *w, run_result *r,
                        tfx_error *err)
{
    double t0 = tfx_now();
    if (tfx_weights_alloc(w, l->model, err))
        return -1;
    bool from_recipe = !o->checkpoint && !o->random_weights && l->spec->checkpoint &&
                       tfx_node_get(l->spec->checkpoint, "file");
    if (o->checkpoint || from_recipe) {
        if (o->checkpoint && tfx_text(r->checkpoint, sizeof r->checkpoint, "%s", o->checkpoint) < 0)
            return tfx_fail(err, "--checkpoint: path longer than %zu bytes", sizeof r->checkpoint - 1);
        if (!o->checkpoint && tfx_checkpoint_path(l->spec, r->checkpoint, sizeof r->checkpoint, err))
            return -1;
        if (check_checkpoint(o, l, r->checkpoint, err))
            return -1;
        tfx_progress bar;
        tfx_progress_start(&bar, "loading weights");
        int rc = tfx_checkpoint_load(w, l->model, r->checkpoint, tfx_progress_callback, &bar, err);
        tfx_progress_end(&bar);
        if (rc)
            return -1;
        r->weights_from = r->checkpoint;
        r->mapped_tensors = w->mapped_tensors;
        for (size_t i = 0; i < l->model->n_tensors; i++)
            r->loaded_tensors += l->model->tensors[i].tied_to < 0;
    } else {
        tfx_progress bar;
        tfx_progress_start(&bar, "initialising weights");
        int rc = tfx_weights_init(w, l->model, o->seed, l->spec->init_std, openblas_get_num_threads(),
                                  tfx_progress_callback, &bar, err);
        tfx_progress_end(&bar);
        if (rc)
            return -1;
        r->weights_from = "random (seeded)";
    }
    r->load_s = tfx_now() - t0;
    return 0;
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
    int rc = (o.tokens && parse_tokens(o.tokens, ids, MAX_TOKENS, "--tokens", err) < 0) ||
             (o.encoder_tokens && parse_tokens(o.encoder_tokens, ids, MAX_TOKENS, "--encoder-tokens", err) < 0);
    free(ids);
    return rc ? -1 : 0;
}

/* --dtype bf16: measure oneDNN's bf16 matmul against sgemm on a GPT-2-sized product (256 rows,
 * [768, 3072]; about 40 ms) and, where oneDNN is chosen, hand it the weights for prefill. */
static int choose_prefill(const run_opts *o, const tfx_loaded *l, tfx_weights *w, run_result *r,
                          tfx_mm **mm, tfx_error *err)
{
    if (tfx_prefill_choose(o->bf16_prefill, 256, 3072, 768, mm, &r->prefill, err))
        return -1;
    r->prefill_chosen = true;
    if (!*mm)
        return 0;
    if (tfx_weights_add_to_mm(w, l->model, *mm, err))
        return -1;
    r->planned_bytes += tfx_mm_weight_bytes(*mm);
    tfx_host_use_mm(*mm);
    return 0;
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
    tfx_loaded *l = tfx_load(o.common.files[0], o.common.sets, o.common.n_sets, reg, &err);
    if (!l)
        goto out;
    uint64_t weight_bytes, run_bytes;
    if (tfx_model_check_context(l->model, o.common.estimate.context, &err) ||
        prepare_inputs(&o, l->spec, &in, &err) || tfx_weights_bytes(l->model, &weight_bytes, &err) ||
        tfx_runtime_bytes(l->model, &in.lim, &run_bytes, &err))
        goto out;
    /* An encoder-only model never decodes: --dtype bf16 has no copies to stream there, only its
     * prefill to route. With copies, the fp32 weights stay for prefill beside them. oneDNN's
     * copies, if the measurement picks it, take about as much again (counted in planned_bytes
     * once made, at their real size). */
    bool copies = o.bf16 && l->spec->kind != TFX_MODEL_ENCODER_ONLY;
    r.bf16_skipped = o.bf16 && !copies;
    uint64_t onednn_bytes = o.bf16 ? tfx_weights_bf16_bytes(l->model) : 0, with_onednn;
    if ((copies && tfx_add_overflows_u64(weight_bytes, tfx_weights_bf16_bytes(l->model), &weight_bytes)) ||
        tfx_add_overflows_u64(weight_bytes, run_bytes, &r.planned_bytes) ||
        tfx_add_overflows_u64(r.planned_bytes, onednn_bytes, &with_onednn)) {
        tfx_fail(&err, "the run's size overflows 64 bits");
        goto out;
    }
    if (check_fits(with_onednn, o.force, &err))
        goto out;
    raise_blas_threads(r.planned_bytes, o.threads);
    if (load_weights(&o, l, &w, &r, &err))
        goto out;
    if (copies) {
        if (tfx_weights_make_bf16(&w, l->model, &err))
            goto out;
        tfx_host_use_bf16(w.bf16_views, w.n_bf16);
        tfx_pool_start(o.threads ? (int)o.threads : openblas_get_num_threads());
        r.bf16_matrices = w.n_bf16;
    }
    if (o.bf16 && choose_prefill(&o, l, &w, &r, &mm, &err))
        goto out;
    if (run_model(&o, l, &w, &in, &r, &err))
        goto out;
    r.mm_products = tfx_host_mm_products();
    tfx_params_item est;
    tfx_memory prefill_memory;
    tfx_flops prefill_flops;
    tfx_estimate_opts prefill_opts = {.batch = 1, .context = r.n_prompt};
    if (tfx_cli_item(&o.common, o.common.files[0], l, &est, &err) ||
        tfx_estimate(l->model, l->counts.total, l->counts.non_embedding, &prefill_opts,
                     &prefill_memory, &prefill_flops, &err))
        goto out;
    if (print_report(stdout, o.common.format, l, &r, &est, prefill_flops.forward_per_sequence)) {
        tfx_fail(&err, "cannot write the report");
        goto out;
    }
    status = 0;
out:
    if (status)
        tfx_cli_error(&err);
    free(r.generated);
    inputs_free(&in);
    tfx_host_use_mm(NULL);
    tfx_mm_close(mm);
    tfx_weights_free(&w);
    tfx_loaded_free(l);
    tfx_registry_free(reg);
    return status;
}
