/* core/runtime.c — the forward pass: embeddings, blocks wired by the placement plugin with the
 * attention / FFN / norm instances as sublayers, KV caches, logits and generation. */
#include "runtime.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attend.h"
#include "checked.h"
#include "host.h"
#include "sizes.h"

void tfx_lm_head(const tfx_model *m, float *const *w, float *logits, const float *x, int64_t rows)
{
    const int64_t C = m->spec->d_model, V = m->spec->vocab;
    const float *bias = m->lm_head_bias >= 0 ? w[m->lm_head_bias] : NULL;
    const float s = (float)m->spec->lm_head_scale;
    if (s == 1.0f) {
        tfx_host_table()->linear(logits, x, w[m->lm_head], bias, rows, C, V, 0.0f);
        return;
    }
    tfx_host_table()->linear(logits, x, w[m->lm_head], NULL, rows, C, V, 0.0f); /* [rows, V] */
    for (int64_t r = 0; r < rows; r++)
        for (int64_t v = 0; v < V; v++)
            logits[r * V + v] = s * logits[r * V + v] + (bias ? bias[v] : 0.0f);
}

static float *const *weights_of(const tfx_runtime *rt, const tfx_instance *inst)
{
    return rt->weights->data + inst->first;
}

static const tfx_plugin *plugin_of(const tfx_instance *inst) { return inst->comp->plugin->desc; }

/* ---- guard words (check mode) ------------------------------------------------------------- */

/* In check mode, GUARD_FLOATS words of a signalling-NaN pattern that no arithmetic produces
 * follow every workspace and KV cache a plugin is handed, at the end of what it declared, and
 * are compared after each call: a plugin that writes past its buffers is named at once. */
#define GUARD_FLOATS 16
#define GUARD_BITS 0x7fbadbadu

#ifndef TFX_CHECK_DEFAULT
#define TFX_CHECK_DEFAULT 0 /* the sanitizer build sets 1 */
#endif

static int checking(const tfx_run_limits *lim) { return lim->check || TFX_CHECK_DEFAULT; }

/* Floats of a buffer of `floats` with its guard words; -1 when negative or too large. */
static int64_t guarded(const tfx_run_limits *lim, int64_t floats)
{
    int64_t total;
    if (floats < 0 || __builtin_add_overflow(floats, checking(lim) ? GUARD_FLOATS : 0, &total))
        return -1;
    return total;
}

static void guard_set(float *at)
{
    const uint32_t bits = GUARD_BITS;
    for (int i = 0; i < GUARD_FLOATS; i++)
        memcpy(at + i, &bits, sizeof bits);
}

static int guard_intact(const float *at)
{
    for (int i = 0; i < GUARD_FLOATS; i++) {
        uint32_t bits;
        memcpy(&bits, at + i, sizeof bits);
        if (bits != GUARD_BITS)
            return 0;
    }
    return 1;
}

/* The check-mode error for `inst`, naming the plugin, where the recipe chose it, and the
 * buffer; written to st for the placement to pass on, and kept in `kept` in case it does not. */
static int guard_fail(const tfx_instance *inst, tfx_status *kept, tfx_status *st,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int guard_fail(const tfx_instance *inst, tfx_status *kept, tfx_status *st,
                      const char *fmt, ...)
{
    const tfx_plugin *p = plugin_of(inst);
    const tfx_mark *m = &inst->comp->mark;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* A very long recipe path shortens the message; it still names the plugin first. */
    char place[512];
    if (tfx_mark_text(place, sizeof place, *m) < 0)
        snprintf(place, sizeof place, "%s", "a recipe path too long to show");
    if (snprintf(kept->msg, sizeof kept->msg, "--check: %s plugin '%s' (%s) %s",
                 tfx_kind_name(p->kind), p->name, place, what) < 0)
        kept->msg[0] = '?';
    memcpy(st->msg, kept->msg, sizeof st->msg);
    return -1;
}

/* ---- sizing ------------------------------------------------------------------------------- */

/* Rows and cache capacity one stack works with. */
static void stack_limits(const tfx_model *m, const tfx_run_limits *lim, int si, int64_t *rows,
                         int64_t *capacity)
{
    int is_encoder_of_seq2seq = m->spec->kind == TFX_MODEL_ENCODER_DECODER && si == 0;
    *rows = is_encoder_of_seq2seq ? lim->encoder_tokens : lim->max_tokens;
    *capacity = is_encoder_of_seq2seq ? lim->encoder_tokens : lim->capacity;
}

typedef struct run_sizes {
    int64_t rows;                 /* most rows of x in any stack */
    int64_t workspace;
    int64_t caches;
} run_sizes;

static int add_checked(int64_t *sum, int64_t n, tfx_error *err)
{
    int64_t padded;
    if (tfx_pad_floats_overflows(n, &padded) || tfx_add_overflows(*sum, padded, sum))
        return tfx_fail(err, "the run state's size overflows 64 bits");
    return 0;
}

static int measure(const tfx_model *m, const tfx_run_limits *lim, run_sizes *sz, tfx_error *err)
{
    memset(sz, 0, sizeof *sz);
    for (int si = 0; si < m->n_stacks; si++) {
        int64_t rows, cap;
        stack_limits(m, lim, si, &rows, &cap);
        if (rows > sz->rows)
            sz->rows = rows;
        for (int64_t i = 0; i < m->stacks[si].spec->layers; i++) {
            const tfx_layer *l = &m->stacks[si].layers[i];
            const tfx_instance *attn[2] = {&l->attn, &l->cross_attn};
            for (int a = 0; a < 2; a++) {
                if (!attn[a]->comp)
                    continue;
                int64_t c = a ? lim->encoder_tokens : cap, ws, cache;
                if (tfx_size_attn_workspace(attn[a], rows, c, &ws, err) ||
                    tfx_size_attn_cache(attn[a], c, &cache, err) ||
                    add_checked(&sz->caches, guarded(lim, cache), err))
                    return -1;
                if (ws > sz->workspace)
                    sz->workspace = ws;
            }
            int64_t ws;
            if (tfx_size_ffn_workspace(&l->ffn, rows, &ws, err))
                return -1;
            if (ws > sz->workspace)
                sz->workspace = ws;
        }
    }
    return 0;
}

/* Floats of the activation block: x, 3 scratch, workspace, logits, memory, pooled, probs,
 * pos. */
static int activation_floats(const tfx_model *m, const tfx_run_limits *lim, const run_sizes *sz,
                             int64_t *floats, tfx_error *err)
{
    int64_t C = m->spec->d_model, V = m->spec->vocab, total = 0, rc, logit, mem;
    if (tfx_mul_overflows(sz->rows, C, &rc) || tfx_mul_overflows(lim->max_tokens, V, &logit) ||
        tfx_mul_overflows(lim->encoder_tokens, C, &mem))
        return tfx_fail(err, "the run state's size overflows 64 bits");
    for (int i = 0; i < 4; i++)
        if (add_checked(&total, rc, err))
            return -1;
    if (add_checked(&total, guarded(lim, sz->workspace), err) || add_checked(&total, logit, err) ||
        add_checked(&total, mem, err) || add_checked(&total, C, err) ||
        add_checked(&total, V, err) ||
        add_checked(&total, sz->rows, err))
        return -1;
    *floats = total;
    return 0;
}

int tfx_runtime_bytes(const tfx_model *m, const tfx_run_limits *lim, uint64_t *bytes,
                      tfx_error *err)
{
    run_sizes sz;
    int64_t act;
    if (measure(m, lim, &sz, err) || activation_floats(m, lim, &sz, &act, err))
        return -1;
    uint64_t floats;
    if (tfx_add_overflows_u64((uint64_t)act, (uint64_t)sz.caches, &floats) ||
        tfx_mul_overflows_u64(floats, (uint64_t)sizeof(float), bytes))
        return tfx_fail(err, "the run state's size overflows 64 bits");
    return 0;
}

/* ---- init --------------------------------------------------------------------------------- */

/* A cache of n floats (through core/sizes.c's gate) at `at`, its guard words after it in
 * check mode; returns where the next begins (measure() summed these sizes without overflow). */
static float *place_cache(const tfx_runtime *rt, float *at, int64_t n)
{
    if (checking(&rt->limits))
        guard_set(at + n);
    return at + tfx_pad_floats(guarded(&rt->limits, n));
}

static int alloc_caches(tfx_runtime *rt, const run_sizes *sz, tfx_error *err)
{
    const tfx_model *m = rt->model;
    rt->cache_block = aligned_alloc(64, (size_t)tfx_pad_floats(sz->caches ? sz->caches : 1) * sizeof(float));
    if (!rt->cache_block)
        return tfx_fail(err, "cannot allocate %" PRId64 " bytes for the KV caches",
                        sz->caches * (int64_t)sizeof(float));
    float *next = rt->cache_block;
    for (int si = 0; si < m->n_stacks; si++) {
        int64_t n = m->stacks[si].spec->layers, rows, cap;
        stack_limits(m, &rt->limits, si, &rows, &cap);
        rt->self_cache[si] = calloc((size_t)n, sizeof(float *));
        rt->cross_cache[si] = calloc((size_t)n, sizeof(float *));
        if (!rt->self_cache[si] || !rt->cross_cache[si])
            return tfx_fail(err, "out of memory");
        for (int64_t i = 0; i < n; i++) {
            const tfx_layer *l = &m->stacks[si].layers[i];
            int64_t self, cross = 0;
            if (tfx_size_attn_cache(&l->attn, cap, &self, err) ||
                (l->cross_attn.comp &&
                 tfx_size_attn_cache(&l->cross_attn, rt->limits.encoder_tokens, &cross, err)))
                return -1;
            rt->self_cache[si][i] = next;
            next = place_cache(rt, next, self);
            if (l->cross_attn.comp) {
                rt->cross_cache[si][i] = next;
                next = place_cache(rt, next, cross);
            }
        }
    }
    return 0;
}

int tfx_runtime_init(tfx_runtime *rt, const tfx_model *m, const tfx_weights *w,
                     const tfx_run_limits *limits, tfx_error *err)
{
    memset(rt, 0, sizeof *rt);
    rt->model = m;
    rt->weights = w;
    rt->limits = *limits;
    rt->encoder = m->spec->kind == TFX_MODEL_DECODER_ONLY ? -1 : 0;
    rt->decoder = m->spec->kind == TFX_MODEL_ENCODER_ONLY ? -1 : m->n_stacks - 1;
    if (limits->max_tokens < 1 || limits->capacity > m->spec->context ||
        limits->encoder_tokens > m->spec->context)
        return tfx_fail(err, "run limits outside the model's context of %" PRId64, m->spec->context);
    run_sizes sz;
    int64_t floats;
    uint64_t bytes;
    if (measure(m, limits, &sz, err) || activation_floats(m, limits, &sz, &floats, err) ||
        tfx_runtime_bytes(m, limits, &bytes, err))
        return -1;
    rt->block = aligned_alloc(64, (size_t)floats * sizeof(float));
    if (!rt->block) {
        tfx_fail(err, "cannot allocate %" PRId64 " bytes for activations", floats * 4);
        goto err_free;
    }
    int64_t C = m->spec->d_model, rc = tfx_pad_floats(sz.rows * C);
    float *next = rt->block;
    rt->x = next, next += rc;
    for (int i = 0; i < 3; i++)
        rt->scratch[i] = next, next += rc;
    rt->workspace = next, next += tfx_pad_floats(guarded(limits, sz.workspace));
    rt->workspace_floats = sz.workspace;
    rt->logits = next, next += tfx_pad_floats(limits->max_tokens * m->spec->vocab);
    rt->memory = next, next += tfx_pad_floats(limits->encoder_tokens * C);
    rt->pooled = next, next += tfx_pad_floats(C);
    rt->probs = next, next += tfx_pad_floats(m->spec->vocab);
    rt->pos = (int32_t *)next;
    if (alloc_caches(rt, &sz, err))
        goto err_free;
    return 0;
err_free:
    tfx_runtime_free(rt);
    return -1;
}

void tfx_runtime_free(tfx_runtime *rt)
{
    for (int si = 0; si < 2; si++) {
        free(rt->self_cache[si]);
        free(rt->cross_cache[si]);
    }
    free(rt->cache_block);
    free(rt->block);
    memset(rt, 0, sizeof *rt);
}

/* ---- one stack ---------------------------------------------------------------------------- */

/* What the block callbacks need to reach the layer's instances. */
typedef struct block_ctx {
    tfx_runtime *rt;
    int si;
    int64_t layer;
    int64_t T;
    const tfx_position_hooks *hooks;
    tfx_status guard;             /* check mode: the overrun found, even if the placement drops it */
} block_ctx;

/* Check mode, before a call: guard words at the end of the `ws` floats of workspace `inst`
 * declared for this call. */
static int arm_workspace(block_ctx *b, const tfx_instance *inst, int64_t ws, tfx_status *st)
{
    const tfx_runtime *rt = b->rt;
    if (ws < 0 || ws > rt->workspace_floats)
        return guard_fail(inst, &b->guard, st, "declared %" PRId64 " floats of workspace for %"
                          PRId64 " tokens, outside the %" PRId64 " it declared when the run was sized",
                          ws, b->T, rt->workspace_floats);
    guard_set(rt->workspace + ws);
    return 0;
}

/* Check mode, after a call: the guards after its workspace and (when not NULL) its cache of
 * `cache_n` floats. */
static int check_guards(block_ctx *b, const tfx_instance *inst, int64_t ws, const float *cache,
                        int64_t cache_n, tfx_status *st)
{
    if (!guard_intact(b->rt->workspace + ws))
        return guard_fail(inst, &b->guard, st, "wrote past its workspace of %" PRId64 " floats", ws);
    if (cache && !guard_intact(cache + cache_n))
        return guard_fail(inst, &b->guard, st, "wrote past its KV cache of %" PRId64 " floats",
                          cache_n);
    return 0;
}

static int run_attention(block_ctx *b, const tfx_instance *inst, float *cache, int64_t capacity,
                         int cross, float *out, const float *in, tfx_status *st)
{
    tfx_runtime *rt = b->rt;
    tfx_attn_io io = {
        .size = sizeof io, .out = out, .x = in, .T = b->T, .pos = rt->pos,
        .n_past = cross || b->si == rt->encoder ? 0 : rt->n_past,
        .memory = cross ? rt->memory : NULL, .memory_len = cross ? rt->memory_len : 0,
        .memory_fresh = cross ? rt->memory_fresh : 0, .cache = cache,
        .cache_capacity = capacity, .workspace = rt->workspace,
        .position = cross ? NULL : b->hooks,
    };
    const tfx_attention_ops *ops = plugin_of(inst)->attention;
    if (!checking(&rt->limits))
        return ops->forward(inst->state, (const float *const *)weights_of(rt, inst), &io, st);
    int64_t ws = ops->workspace_floats(inst->state, b->T, capacity);
    if (arm_workspace(b, inst, ws, st))
        return -1;
    int rc = ops->forward(inst->state, (const float *const *)weights_of(rt, inst), &io, st);
    int64_t cache_n = ops->cache_floats(inst->state, capacity);
    return check_guards(b, inst, ws, cache, cache_n, st) ? -1 : rc;
}

static int run_ffn(block_ctx *b, const tfx_instance *inst, float *out, const float *in,
                   tfx_status *st)
{
    tfx_runtime *rt = b->rt;
    const tfx_ffn_ops *ops = plugin_of(inst)->ffn;
    const float *const *w = (const float *const *)weights_of(rt, inst);
    if (!checking(&rt->limits))
        return ops->forward(inst->state, w, out, in, b->T, rt->workspace, st);
    int64_t ws = ops->workspace_floats(inst->state, b->T);
    if (arm_workspace(b, inst, ws, st))
        return -1;
    int rc = ops->forward(inst->state, w, out, in, b->T, rt->workspace, st);
    return check_guards(b, inst, ws, NULL, 0, st) ? -1 : rc;
}

static int block_sublayer(void *ctx, int s, float *out, const float *in, tfx_status *st)
{
    block_ctx *b = ctx;
    tfx_runtime *rt = b->rt;
    const tfx_layer *l = &rt->model->stacks[b->si].layers[b->layer];
    int64_t rows, cap;
    stack_limits(rt->model, &rt->limits, b->si, &rows, &cap);
    if (s == 0)
        return run_attention(b, &l->attn, rt->self_cache[b->si][b->layer], cap, 0, out, in, st);
    if (s == 1 && l->cross_attn.comp)
        return run_attention(b, &l->cross_attn, rt->cross_cache[b->si][b->layer],
                             rt->limits.encoder_tokens, 1, out, in, st);
    return run_ffn(b, &l->ffn, out, in, st);
}

static void block_norm(void *ctx, int i, float *out, const float *in)
{
    block_ctx *b = ctx;
    const tfx_layer *l = &b->rt->model->stacks[b->si].layers[b->layer];
    const tfx_instance *n = &l->norms[i];
    plugin_of(n)->norm->forward(n->state, (const float *const *)weights_of(b->rt, n), out, in, b->T);
}

static void run_norm(const tfx_runtime *rt, const tfx_instance *n, float *x, int64_t T)
{
    plugin_of(n)->norm->forward(n->state, (const float *const *)weights_of(rt, n), x, x, T);
}

static int check_tokens(const tfx_runtime *rt, const int32_t *tokens, int64_t T, tfx_error *err)
{
    for (int64_t t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= rt->model->spec->vocab)
            return tfx_fail(err, "token id %" PRId32 " (token %" PRId64 ") is outside the vocabulary of %" PRId64,
                            tokens[t], t, rt->model->spec->vocab);
    return 0;
}

/* x[T, C] = token embeddings (scaled) + token types + position embeddings, then embed_norm. */
static int embed(tfx_runtime *rt, int si, const int32_t *tokens, const int32_t *types, int64_t T,
                 tfx_error *err)
{
    const tfx_model *m = rt->model;
    const tfx_stack *stk = &m->stacks[si];
    int64_t C = m->spec->d_model;
    const float *table = rt->weights->data[m->tok_embed];
    float scale = m->spec->embed_scale ? sqrtf((float)C) : 1.0f;
    for (int64_t t = 0; t < T; t++) {
        const float *row = table + (int64_t)tokens[t] * C;
        float *x = rt->x + t * C;
        for (int64_t c = 0; c < C; c++)
            x[c] = row[c] * scale;
        if (m->token_types >= 0) {
            int64_t type = types ? types[t] : 0;
            if (type < 0 || type >= m->spec->token_types)
                return tfx_fail(err, "token type %" PRId64 " is outside 0..%" PRId64, type,
                                m->spec->token_types - 1);
            const float *trow = rt->weights->data[m->token_types] + type * C;
            for (int64_t c = 0; c < C; c++)
                x[c] += trow[c];
        }
    }
    const tfx_position_ops *pos = plugin_of(&stk->position)->position;
    tfx_status st = {{0}};
    if (pos->embed && pos->embed(stk->position.state, (const float *const *)weights_of(rt, &stk->position),
                                 rt->x, T, rt->pos, &st))
        return tfx_fail(err, "position plugin '%s': %s", plugin_of(&stk->position)->name, st.msg);
    if (stk->embed_norm.comp)
        run_norm(rt, &stk->embed_norm, rt->x, T);
    return 0;
}

/* The first element of x[n] that is NaN or ±Inf, or -1. Finite weights can still overflow
 * float32 (±3e38 gives all-NaN logits); a run must not report ids from those. */
static int64_t first_nonfinite(const float *x, int64_t n)
{
    float any = 0.0f; /* x·0 is 0 for every finite x, NaN otherwise */
    for (int64_t i = 0; i < n; i++)
        any += x[i] * 0.0f;
    if (any == 0.0f)
        return -1;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return -1;
}

/* 0 when x[T, width] is finite, else an error naming `what`, the token and the element. */
static int check_finite(const float *x, int64_t T, int64_t width, const char *what,
                        tfx_error *err)
{
    int64_t i = first_nonfinite(x, T * width);
    if (i < 0)
        return 0;
    return tfx_fail(err, "%s holds %s (token %" PRId64 ", element %" PRId64 "): the weights or "
                    "inputs overflow float32", what, isnan(x[i]) ? "NaN" : "Inf", i / width, i % width);
}

static int run_stack(tfx_runtime *rt, int si, const int32_t *tokens, const int32_t *types,
                     int64_t T, int64_t first_pos, tfx_error *err)
{
    const tfx_model *m = rt->model;
    const tfx_stack *stk = &m->stacks[si];
    for (int64_t t = 0; t < T; t++)
        rt->pos[t] = (int32_t)(first_pos + t);
    char what[96];
    snprintf(what, sizeof what, "the %s's embeddings", stk->spec->name);
    if (check_tokens(rt, tokens, T, err) || embed(rt, si, tokens, types, T, err) ||
        check_finite(rt->x, T, m->spec->d_model, what, err))
        return -1;
    if (rt->on_hidden)
        rt->on_hidden(rt->on_hidden_ctx, si, -1, rt->x, T);
    const tfx_position_ops *pos = plugin_of(&stk->position)->position;
    tfx_position_hooks hooks = {.state = stk->position.state,
                                .w = (const float *const *)weights_of(rt, &stk->position),
                                .rotate = pos->rotate, .score_bias = pos->score_bias};
    block_ctx b = {.rt = rt, .si = si, .T = T, .hooks = &hooks};
    tfx_block_io io = {.size = sizeof io, .x = rt->x, .T = T, .C = m->spec->d_model, .ctx = &b,
                       .sublayer = block_sublayer, .norm = block_norm,
                       .scratch = {rt->scratch[0], rt->scratch[1], rt->scratch[2]}};
    const tfx_placement_ops *place = plugin_of(&stk->placement)->placement;
    for (int64_t i = 0; i < stk->spec->layers; i++) {
        tfx_status st = {{0}};
        b.layer = i;
        if (place->forward(stk->placement.state, &io, &st) || b.guard.msg[0])
            return tfx_fail(err, "%s layer %" PRId64 ": %s", stk->spec->name, i,
                            b.guard.msg[0] ? b.guard.msg : st.msg);
        if (i == stk->spec->layers - 1 && stk->final_norm.comp)
            run_norm(rt, &stk->final_norm, rt->x, T);
        snprintf(what, sizeof what, "the output of %s layer %" PRId64, stk->spec->name, i);
        if (check_finite(rt->x, T, m->spec->d_model, what, err))
            return -1;
        if (rt->on_hidden)
            rt->on_hidden(rt->on_hidden_ctx, si, i, rt->x, T);
    }
    return 0;
}

/* ---- public passes ------------------------------------------------------------------------ */

int tfx_runtime_encode(tfx_runtime *rt, const int32_t *tokens, const int32_t *token_types,
                       int64_t S, tfx_error *err)
{
    const tfx_model *m = rt->model;
    if (rt->encoder < 0)
        return tfx_fail(err, "this %s model has no encoder", tfx_model_kind_name(m->spec->kind));
    int64_t rows, cap;
    stack_limits(m, &rt->limits, rt->encoder, &rows, &cap);
    if (S < 1 || S > rows)
        return tfx_fail(err, "the encoder input has %" PRId64 " tokens; this run holds 1 to %" PRId64
                        " (the context is %" PRId64 ")", S, rows, m->spec->context);
    if (run_stack(rt, rt->encoder, tokens, token_types, S, 0, err))
        return -1;
    int64_t C = m->spec->d_model;
    if (m->spec->kind == TFX_MODEL_ENCODER_DECODER) {
        memcpy(rt->memory, rt->x, (size_t)(S * C) * sizeof(float));
        rt->memory_len = S;
        rt->memory_fresh = 1;
        rt->n_past = 0;
    }
    if (m->pooler_weight >= 0) {
        /* BERT's pooler: tanh(W · h[first token] + b). */
        tfx_host_table()->linear(rt->pooled, rt->x, rt->weights->data[m->pooler_weight],
                                 rt->weights->data[m->pooler_bias], 1, C, C, 0.0f);
        for (int64_t c = 0; c < C; c++)
            rt->pooled[c] = tanhf(rt->pooled[c]);
    }
    return 0;
}

int tfx_runtime_decode(tfx_runtime *rt, const int32_t *tokens, int64_t T, int64_t n_logits,
                       tfx_error *err)
{
    const tfx_model *m = rt->model;
    if (rt->decoder < 0)
        return tfx_fail(err, "this %s model has no decoder", tfx_model_kind_name(m->spec->kind));
    if (m->spec->kind == TFX_MODEL_ENCODER_DECODER && rt->memory_len == 0)
        return tfx_fail(err, "run the encoder before the decoder");
    if (T < 1 || T > rt->limits.max_tokens)
        return tfx_fail(err, "%" PRId64 " tokens in one pass; this run holds 1 to %" PRId64, T,
                        rt->limits.max_tokens);
    if (rt->n_past + T > rt->limits.capacity)
        return tfx_fail(err, "the sequence would reach %" PRId64 " tokens, past the %" PRId64
                        " this run holds (the context is %" PRId64 ")",
                        rt->n_past + T, rt->limits.capacity, m->spec->context);
    if (n_logits < 0 || n_logits > T)
        n_logits = T;
    if (run_stack(rt, rt->decoder, tokens, NULL, T, rt->n_past, err))
        return -1;
    rt->n_past += T;
    rt->memory_fresh = 0;
    rt->n_logits = m->lm_head >= 0 ? n_logits : 0;
    if (m->lm_head >= 0 && n_logits > 0) {
        int64_t C = m->spec->d_model;
        tfx_lm_head(m, rt->weights->data, rt->logits, rt->x + (T - n_logits) * C, n_logits);
        tfx_cap_logits(rt->logits, n_logits * m->spec->vocab, m->spec->final_logit_softcap);
        if (check_finite(rt->logits, n_logits, m->spec->vocab, "the logits", err))
            return -1;
    }
    return 0;
}

/* ---- generation --------------------------------------------------------------------------- */

static int32_t argmax(const float *x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return (int32_t)best;
}

static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Restore the min-heap property of heap[m] below slot i. */
static void sift_down(float *heap, int64_t m, int64_t i)
{
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= m)
            return;
        if (c + 1 < m && heap[c + 1] < heap[c])
            c++;
        if (heap[i] <= heap[c])
            return;
        float t = heap[i];
        heap[i] = heap[c], heap[c] = t;
        i = c;
    }
}

float tfx_kth_largest(const float *x, int64_t n, int64_t k, float *heap)
{
    /* A min-heap of the m largest of y = ±x, m = min(k, n - k + 1): its root is the m-th
     * largest of y, which is the k-th largest of x (y = x) or the (n-k+1)-th smallest of x
     * (y = -x). V·log m, where repeated selection cost k·V. */
    const bool top = k <= n - k + 1;
    const float sign = top ? 1.0f : -1.0f;
    const int64_t m = top ? k : n - k + 1;
    for (int64_t i = 0; i < m; i++)
        heap[i] = sign * x[i];
    for (int64_t i = m / 2 - 1; i >= 0; i--)
        sift_down(heap, m, i);
    for (int64_t i = m; i < n; i++)
        if (sign * x[i] > heap[0]) {
            heap[0] = sign * x[i];
            sift_down(heap, m, 0);
        }
    return sign * heap[0];
}

/* Temperature / top-k sampling over logits[V]; uses `probs` [V] as scratch. */
static int32_t sample(const float *logits, int64_t V, const tfx_sampler *s, uint64_t *state,
                      float *probs)
{
    if (s->temperature <= 0)
        return argmax(logits, V);
    float cutoff = -INFINITY;
    if (s->top_k > 0 && s->top_k < V)
        cutoff = tfx_kth_largest(logits, V, s->top_k, probs);
    float max = logits[argmax(logits, V)];
    double sum = 0;
    for (int64_t i = 0; i < V; i++) {
        probs[i] = logits[i] >= cutoff ? expf((float)((logits[i] - max) / s->temperature)) : 0.0f;
        sum += probs[i];
    }
    double r = (double)(next_random(state) >> 11) * (1.0 / 9007199254740992.0) * sum;
    for (int64_t i = 0; i < V; i++) {
        r -= probs[i];
        if (r < 0)
            return (int32_t)i;
    }
    return argmax(logits, V);
}

int tfx_generate(tfx_runtime *rt, int64_t n_new, const tfx_sampler *sampler, int32_t *out,
                 tfx_progress_fn progress, void *progress_ctx, tfx_error *err)
{
    const tfx_model *m = rt->model;
    if (m->lm_head < 0)
        return tfx_fail(err, "this model has no LM head to generate with");
    if (rt->n_past == 0 || rt->n_logits == 0)
        return tfx_fail(err, "generation continues a prefill; run the prompt first");
    int64_t V = m->spec->vocab;
    uint64_t state = sampler->seed;
    const float *logits = rt->logits + (rt->n_logits - 1) * V;
    for (int64_t i = 0; i < n_new; i++) {
        out[i] = sample(logits, V, sampler, &state, rt->probs);
        if (progress)
            progress(progress_ctx, (uint64_t)i + 1, (uint64_t)n_new);
        if (i + 1 == n_new)
            break;
        if (tfx_runtime_decode(rt, &out[i], 1, 1, err))
            return -1;
        logits = rt->logits;
    }
    return 0;
}
