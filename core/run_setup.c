/* core/run_setup.c — what `tfx run` settles before it runs: the prompt (parsed or drawn) and the
 * run's size, whether that fits in memory, the OpenBLAS threads that fit, and the weights. */
#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checked.h"
#include "checkpoint.h"
#include "cli.h"
#include "files.h"
#include "host.h"
#include "pool.h"
#include "headroom.h"
#include "progress.h"
#include "run_setup.h"
#include "text.h"

#define MAX_TOKENS TFX_MAX_TOKENS

/* ---- inputs ------------------------------------------------------------------------------- */

int64_t tfx_parse_tokens(const char *text, int32_t *out, int64_t cap, const char *opt,
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

void tfx_run_inputs_free(tfx_run_inputs *in)
{
    free(in->prompt);
    free(in->enc);
}

int tfx_run_inputs_prepare(const tfx_run_request *o, const tfx_spec *s, tfx_run_inputs *in, tfx_error *err)
{
    memset(in, 0, sizeof *in);
    in->prompt = calloc(MAX_TOKENS, sizeof *in->prompt);
    in->enc = calloc(MAX_TOKENS, sizeof *in->enc);
    if (!in->prompt || !in->enc)
        return tfx_fail(err, "out of memory");
    in->n_prompt = o->tokens ? tfx_parse_tokens(o->tokens, in->prompt, MAX_TOKENS, "--tokens", err)
                             : o->prompt_len;
    if (in->n_prompt < 0)
        return -1;
    if (!o->tokens)
        random_tokens(in->prompt, in->n_prompt, s->vocab, o->seed);
    if (s->kind == TFX_MODEL_ENCODER_DECODER) {
        in->n_enc = o->encoder_tokens ? tfx_parse_tokens(o->encoder_tokens, in->enc, MAX_TOKENS, "--encoder-tokens", err)
                                      : o->prompt_len;
        if (in->n_enc < 0)
            return -1;
        if (!o->encoder_tokens)
            random_tokens(in->enc, in->n_enc, s->vocab, o->seed + 1);
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

/* ---- memory ------------------------------------------------------------------------------- */

/* Address space OpenBLAS maps beside what tfx allocates: a buffer of about 128 MiB for each
 * thread (the calling thread's at its first product), and thread stacks. Under ulimit -v an
 * OpenBLAS buffer that cannot be mapped is retried forever, so it must be budgeted. */
#define BLAS_BUFFER (UINT64_C(144) << 20)

int tfx_run_check_fits(uint64_t need, bool force, tfx_error *err)
{
    tfx_headroom h;
    tfx_headroom_measure(&h, BLAS_BUFFER);
    if (h.bytes == TFX_UNLIMITED || need <= h.bytes || force)
        return 0;
    return tfx_fail(err, "the model needs %.2f GiB (%" PRIu64 " bytes: weights and run state) but "
                    "%.2f GiB (%" PRIu64 " bytes) are available (limited by %s); use --force to try anyway",
                    (double)need / (1u << 30), need, (double)h.bytes / (1u << 30), h.bytes, h.limit);
}

void tfx_run_raise_blas_threads(uint64_t need, int64_t asked)
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

int tfx_run_plan(const tfx_loaded *l, const tfx_run_limits *lim, bool bf16, bool *copies, uint64_t *with_onednn,
                 tfx_run_result *r, tfx_error *err)
{
    uint64_t weight_bytes, run_bytes;
    if (tfx_weights_bytes(l->model, &weight_bytes, err) || tfx_runtime_bytes(l->model, lim, &run_bytes, err))
        return -1;
    /* An encoder-only model never decodes: --dtype bf16 has no copies to stream there, only its
     * prefill to route. With copies, the fp32 weights stay for prefill beside them. oneDNN's
     * copies, if the measurement picks it, take about as much again (counted in planned_bytes
     * once made, at their real size). */
    *copies = bf16 && l->spec->kind != TFX_MODEL_ENCODER_ONLY;
    r->bf16_skipped = bf16 && !*copies;
    uint64_t onednn_bytes = bf16 ? tfx_weights_bf16_bytes(l->model) : 0;
    if ((*copies && tfx_add_overflows_u64(weight_bytes, tfx_weights_bf16_bytes(l->model), &weight_bytes)) ||
        tfx_add_overflows_u64(weight_bytes, run_bytes, &r->planned_bytes) ||
        tfx_add_overflows_u64(r->planned_bytes, onednn_bytes, with_onednn))
        return tfx_fail(err, "the run's size overflows 64 bits");
    return 0;
}

/* ---- --dtype bf16 ------------------------------------------------------------------------- */

/* Measure oneDNN's bf16 matmul against sgemm on a GPT-2-sized product (256 rows, [768, 3072];
 * about 40 ms) and, where oneDNN is chosen, hand it the weights for prefill. */
static int choose_prefill(tfx_bf16_prefill mode, const tfx_loaded *l, tfx_weights *w, tfx_run_result *r,
                          tfx_mm **mm, tfx_error *err)
{
    if (tfx_prefill_choose(mode, 256, 3072, 768, mm, &r->prefill, err))
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

int tfx_run_bf16(const tfx_loaded *l, tfx_weights *w, bool copies, tfx_bf16_prefill mode, int threads,
                 tfx_run_result *r, tfx_mm **mm, tfx_error *err)
{
    if (copies) {
        if (tfx_weights_make_bf16(w, l->model, err))
            return -1;
        tfx_host_use_bf16(w->bf16_views, w->n_bf16);
        tfx_pool_start(threads ? threads : openblas_get_num_threads());
        r->bf16_matrices = w->n_bf16;
    }
    return choose_prefill(mode, l, w, r, mm, err);
}

/* ---- weights ------------------------------------------------------------------------------ */

/* Open the checkpoint once through the input helper before loading it, so that a FIFO or a
 * directory is refused in the words of what named it: --checkpoint, or the recipe's key. */
static int check_checkpoint(const char *named, const tfx_loaded *l, const char *path, tfx_error *err)
{
    char where[4096 + 32] = "--checkpoint";
    if (!named) {
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

int tfx_run_load_weights(const char *checkpoint, bool random_weights, uint64_t seed, const tfx_loaded *l,
                         tfx_weights *w, tfx_run_result *r, tfx_error *err)
{
    if (tfx_weights_alloc(w, l->model, err))
        return -1;
    bool from_recipe = !checkpoint && !random_weights && l->spec->checkpoint &&
                       tfx_node_get(l->spec->checkpoint, "file");
    if (checkpoint || from_recipe) {
        if (checkpoint && tfx_text(r->checkpoint, sizeof r->checkpoint, "%s", checkpoint) < 0)
            return tfx_fail(err, "--checkpoint: path longer than %zu bytes", sizeof r->checkpoint - 1);
        if (!checkpoint && tfx_checkpoint_path(l->spec, r->checkpoint, sizeof r->checkpoint, err))
            return -1;
        if (check_checkpoint(checkpoint, l, r->checkpoint, err))
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
        int rc = tfx_weights_init(w, l->model, seed, l->spec->init_std, openblas_get_num_threads(),
                                  tfx_progress_callback, &bar, err);
        tfx_progress_end(&bar);
        if (rc)
            return -1;
        r->weights_from = "random (seeded)";
    }
    return 0;
}
