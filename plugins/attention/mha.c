/* plugins/attention/mha.c — the maths of multi-head attention: q/k/v projections, a KV cache
 * (a ring for local attention), per-head softmax(q·kᵀ)·v through the host's gemm, output; and back. */
#include "mha.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Queries per block: a block's scores [QUERY_BLOCK, L] stay in the core's L2 cache between the
 * two products and the softmax, and a causal block skips the keys none of its rows can see. */
enum { QUERY_BLOCK = 64 };

const char *const mha_scales[] = {"sqrt", "none", NULL};

typedef struct mha {
    const tfx_host *host;
    mha_mask mask;
    int64_t C, H, KVH, hd, window;
    float alpha;                  /* score scale */
    int bias_qkv, bias_out;
    int training;                 /* forward keeps the softmax probabilities for backward */
    int iq, ik, iv, io;           /* indices of the weights in w; biases follow when present */
} mha;

int mha_configure(const tfx_config *cfg, mha_mask mask, void **state, tfx_status *st)
{
    mha *a = malloc(sizeof *a);
    if (!a)
        return cfg->host->fail(st, "out of memory");
    const tfx_dims *d = &cfg->dims;
    *a = (mha){.host = cfg->host, .mask = mask, .C = d->d_model, .H = d->heads, .KVH = d->kv_heads,
               .hd = d->head_dim, .bias_qkv = (int)cfg->options[OPT_BIAS_QKV].i,
               .bias_out = (int)cfg->options[OPT_BIAS_OUT].i,
               .window = mask == MASK_LOCAL ? cfg->options[OPT_WINDOW].i : 0};
    a->training = cfg->size >= offsetof(tfx_config, training) + sizeof cfg->training &&
                  cfg->training;
    a->alpha = cfg->options[OPT_SCALE].i == 0 ? 1.0f / sqrtf((float)a->hd) : 1.0f;
    int step = a->bias_qkv ? 2 : 1;
    a->iq = 0, a->ik = step, a->iv = 2 * step, a->io = 3 * step;
    *state = a;
    return 0;
}

void mha_destroy(void *state) { free(state); }

static int declare_linear(const mha *a, tfx_declarer *d, const char *weight, const char *bias,
                          int with_bias, int64_t rows, int64_t cols, tfx_status *st)
{
    int64_t shape[2] = {rows, cols};
    if (a->host->declare_tensor(d, weight, 2, shape, TFX_INIT_NORMAL, st))
        return -1;
    return with_bias ? a->host->declare_tensor(d, bias, 1, shape, TFX_INIT_ZEROS, st) : 0;
}

int mha_declare(void *state, tfx_declarer *d, tfx_status *st)
{
    const mha *a = state;
    const int64_t q = a->H * a->hd, kv = a->KVH * a->hd;
    return declare_linear(a, d, "q.weight", "q.bias", a->bias_qkv, q, a->C, st) ||
                   declare_linear(a, d, "k.weight", "k.bias", a->bias_qkv, kv, a->C, st) ||
                   declare_linear(a, d, "v.weight", "v.bias", a->bias_qkv, kv, a->C, st) ||
                   declare_linear(a, d, "o.weight", "o.bias", a->bias_out, a->C, q, st)
               ? -1 : 0;
}

/* Saturating size arithmetic: a size past INT64_MAX reads as INT64_MAX, which the core
 * refuses naming this plugin and its recipe place (rather than a product that wraps). */
static int64_t sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

/* Positions a cache of `context` holds: a local layer keeps only its window. */
static int64_t cache_positions(const mha *a, int64_t context)
{
    return a->mask == MASK_LOCAL && a->window < context ? a->window : context;
}

int64_t mha_cache_floats(void *state, int64_t context)
{
    const mha *a = state;
    return sat_mul(sat_mul(2 * a->KVH, cache_positions(a, context)), a->hd);
}

/* Most keys one forward over T tokens can see. */
static int64_t max_keys(const mha *a, int64_t T, int64_t context)
{
    return a->mask == MASK_LOCAL ? cache_positions(a, context) + T : context;
}

/* Floats of the inference workspace: where the training part begins. */
static int64_t inference_floats(const mha *a, int64_t T, int64_t context)
{
    const int64_t L = max_keys(a, T, context), kv = a->KVH * a->hd;
    int64_t rows = a->mask == MASK_CROSS ? (T > context ? T : context) : T;
    const int64_t block = T < QUERY_BLOCK ? T : QUERY_BLOCK;
    /* q, attn_out [T, H*hd]; new k, v [rows, KVH*hd]; scores [block, L]; key positions [L];
     * gathered keys and values [2, KVH, L, hd] (local) */
    int64_t sum = sat_add(sat_mul(2 * T, a->H * a->hd), sat_mul(2 * rows, kv));
    sum = sat_add(sat_add(sum, sat_mul(block, L)), L);
    return a->mask == MASK_LOCAL ? sat_add(sum, sat_mul(2 * kv, L)) : sum;
}

/* Keys one training forward sees: training starts afresh (n_past 0), so the T new tokens, or
 * the memory (up to `context` positions) for cross attention. */
static int64_t train_keys(const mha *a, int64_t T, int64_t context)
{
    return a->mask == MASK_CROSS ? context : T;
}

/* a·b·c, or INT64_MAX (no allocation can hold it) when it overflows. */
static int64_t mul3(int64_t a, int64_t b, int64_t c)
{
    int64_t ab, abc;
    if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, c, &abc))
        return INT64_MAX;
    return abc;
}

/* x + y, or INT64_MAX when it overflows. */
static int64_t add_sat(int64_t x, int64_t y)
{
    int64_t s;
    return __builtin_add_overflow(x, y, &s) ? INT64_MAX : s;
}

int64_t mha_workspace_floats(void *state, int64_t T, int64_t context)
{
    const mha *a = state;
    int64_t n = inference_floats(a, T, context);
    /* training: the softmax probabilities [H, T, train_keys] after the inference part */
    return a->training ? add_sat(n, mul3(a->H, T, train_keys(a, T, context))) : n;
}

int64_t mha_keys_seen(void *state, int64_t n)
{
    const mha *a = state;
    return a->mask == MASK_LOCAL && a->window < n ? a->window : n;
}

/* ---- forward ------------------------------------------------------------------------------ */

/* Where one forward's keys and values are, as [KVH, L, hd] matrices with row stride hd. */
typedef struct kv_view {
    const float *k, *v;
    int64_t head_stride;          /* floats between kv heads */
    int64_t L;                    /* keys */
    int32_t *pos;                 /* [L] key positions */
} kv_view;

/* Copy rows [T, KVH*hd] into a [KVH, cap, hd] block at position `at`. */
static void scatter(const mha *a, float *dst, int64_t cap, int64_t at, const float *src, int64_t T)
{
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < a->KVH; h++)
            memcpy(dst + (h * cap + at + t) * a->hd, src + (t * a->KVH + h) * a->hd,
                   (size_t)a->hd * sizeof(float));
}

/* Self / causal: append the new keys and values to the cache; view all n_past + T. */
static int view_full_cache(const mha *a, const tfx_attn_io *io, const float *k_new,
                           const float *v_new, kv_view *kv, tfx_status *st)
{
    const int64_t cap = io->cache_capacity;
    if (io->n_past + io->T > cap)
        return a->host->fail(st, "%lld positions do not fit the KV cache of %lld",
                             (long long)(io->n_past + io->T), (long long)cap);
    float *keys = io->cache, *values = io->cache + a->KVH * cap * a->hd;
    scatter(a, keys, cap, io->n_past, k_new, io->T);
    scatter(a, values, cap, io->n_past, v_new, io->T);
    kv->k = keys, kv->v = values, kv->head_stride = cap * a->hd, kv->L = io->n_past + io->T;
    for (int64_t j = 0; j < kv->L; j++)
        kv->pos[j] = (int32_t)j;
    return 0;
}

/* Local: gather the cached window and the new tokens into `gather`, then refresh the ring. */
static void view_window(const mha *a, const tfx_attn_io *io, const float *k_new,
                        const float *v_new, float *gather, kv_view *kv)
{
    const int64_t ring = cache_positions(a, io->cache_capacity), hd = a->hd;
    const int64_t prev = io->n_past < a->window - 1 ? io->n_past : a->window - 1;
    const int64_t kept = prev < ring ? prev : ring, L = kept + io->T;
    float *ring_k = io->cache, *ring_v = io->cache + a->KVH * ring * hd;
    float *gk = gather, *gv = gather + a->KVH * L * hd; /* [KVH, L, hd] each */
    for (int64_t j = 0; j < kept; j++) {
        int64_t p = io->n_past - kept + j, slot = p % ring;
        kv->pos[j] = (int32_t)p;
        for (int64_t h = 0; h < a->KVH; h++) {
            memcpy(gk + (h * L + j) * hd, ring_k + (h * ring + slot) * hd, (size_t)hd * sizeof(float));
            memcpy(gv + (h * L + j) * hd, ring_v + (h * ring + slot) * hd, (size_t)hd * sizeof(float));
        }
    }
    scatter(a, gk, L, kept, k_new, io->T);
    scatter(a, gv, L, kept, v_new, io->T);
    for (int64_t t = 0; t < io->T; t++)
        kv->pos[kept + t] = io->pos[t];
    for (int64_t t = io->T > ring ? io->T - ring : 0; t < io->T; t++) {
        int64_t slot = (io->n_past + t) % ring;
        for (int64_t h = 0; h < a->KVH; h++) {
            memcpy(ring_k + (h * ring + slot) * hd, k_new + (t * a->KVH + h) * hd, (size_t)hd * sizeof(float));
            memcpy(ring_v + (h * ring + slot) * hd, v_new + (t * a->KVH + h) * hd, (size_t)hd * sizeof(float));
        }
    }
    kv->k = gk, kv->v = gv, kv->head_stride = L * hd, kv->L = L;
}

/* Cross: (re)compute the memory's keys and values when it changed; view them. */
static int view_memory(const mha *a, const float *const *w, const tfx_attn_io *io,
                       float *k_tmp, float *v_tmp, kv_view *kv, tfx_status *st)
{
    const int64_t cap = io->cache_capacity, S = io->memory_len, kvw = a->KVH * a->hd;
    if (!io->memory || S < 1 || S > cap)
        return a->host->fail(st, "cross attention needs the encoder's output (1 to %lld positions), got %lld",
                             (long long)cap, (long long)S);
    float *keys = io->cache, *values = io->cache + a->KVH * cap * a->hd;
    if (io->memory_fresh || a->training) { /* training keeps them in the workspace */
        a->host->linear(k_tmp, io->memory, w[a->ik], a->bias_qkv ? w[a->ik + 1] : NULL, S, a->C, kvw, 0.0f);
        a->host->linear(v_tmp, io->memory, w[a->iv], a->bias_qkv ? w[a->iv + 1] : NULL, S, a->C, kvw, 0.0f);
        scatter(a, keys, cap, 0, k_tmp, S);
        scatter(a, values, cap, 0, v_tmp, S);
    }
    kv->k = keys, kv->v = values, kv->head_stride = cap * a->hd, kv->L = S;
    for (int64_t j = 0; j < S; j++)
        kv->pos[j] = (int32_t)j;
    return 0;
}

/* First index in the view whose key position is > p (positions are sorted ascending). */
static int64_t keys_up_to(const kv_view *kv, int64_t p)
{
    int64_t lo = 0, hi = kv->L;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (kv->pos[mid] <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Keys [*first, *end) of the view that a query at position p may see. */
static void visible_keys(const mha *a, const kv_view *kv, int32_t p, int64_t *first, int64_t *end)
{
    int causal = a->mask == MASK_CAUSAL || a->mask == MASK_LOCAL;
    *end = causal ? keys_up_to(kv, p) : kv->L;
    *first = a->mask == MASK_LOCAL ? keys_up_to(kv, (int64_t)p - a->window) : 0;
}

/* Scores [rows, ld] of queries at q_pos over keys [j0, j1): entries a row may not see are -inf. */
static void apply_mask(const mha *a, const kv_view *kv, float *scores, int64_t rows, int64_t ld,
                       const int32_t *q_pos, int64_t j0, int64_t j1)
{
    if (a->mask != MASK_CAUSAL && a->mask != MASK_LOCAL)
        return;
    for (int64_t i = 0; i < rows; i++) {
        int64_t first, end;
        visible_keys(a, kv, q_pos[i], &first, &end);
        float *row = scores + i * ld;
        for (int64_t j = j0; j < first && j < j1; j++)
            row[j - j0] = -INFINITY;
        for (int64_t j = end > j0 ? end : j0; j < j1; j++)
            row[j - j0] = -INFINITY;
    }
}

/* Training: probs[h, i0 + i, :] of rows [rows] = the block's probabilities over keys [j0, j1),
 * zeros elsewhere (row length L). */
static void keep_probs(float *probs, int64_t L, const float *scores, int64_t rows, int64_t j0,
                       int64_t j1)
{
    for (int64_t i = 0; i < rows; i++) {
        float *row = probs + i * L;
        memset(row, 0, (size_t)L * sizeof *row);
        if (j1 > j0)
            memcpy(row + j0, scores + i * (j1 - j0), (size_t)(j1 - j0) * sizeof *row);
    }
}

/* attn[T, H*hd] = softmax(alpha·q·kᵀ + bias, masked)·v: head by head (a head's keys and values
 * stay in cache), QUERY_BLOCK rows at a time over only the keys the block can see. The softmax
 * is exact and two-pass per row (max, then e^(s - max)), so a row of large scores cannot
 * overflow and a fully masked row gives zeros. In training, probs [H, T, L] keeps every row's
 * probabilities for backward (NULL otherwise). */
static void attend(const mha *a, const tfx_attn_io *io, const float *q, const kv_view *kv,
                   float *scores, float *attn, float *probs)
{
    const int64_t T = io->T, qw = a->H * a->hd, group = a->H / a->KVH, hd = a->hd;
    const tfx_position_hooks *hooks = io->position;
    for (int64_t h = 0; h < a->H; h++) {
        const float *k = kv->k + (h / group) * kv->head_stride;
        const float *v = kv->v + (h / group) * kv->head_stride;
        for (int64_t i0 = 0; i0 < T; i0 += QUERY_BLOCK) {
            const int64_t rows = T - i0 < QUERY_BLOCK ? T - i0 : QUERY_BLOCK;
            const int32_t *q_pos = io->pos + i0;
            int64_t j0, unused, j1;
            visible_keys(a, kv, q_pos[0], &j0, &unused);
            visible_keys(a, kv, q_pos[rows - 1], &unused, &j1);
            float *out = attn + i0 * qw + h * hd;
            float *kept = probs ? probs + (h * T + i0) * kv->L : NULL; /* [rows, L] */
            if (j1 <= j0) { /* nothing visible: no attention */
                for (int64_t i = 0; i < rows; i++)
                    memset(out + i * qw, 0, (size_t)hd * sizeof *out);
                if (kept)
                    keep_probs(kept, kv->L, scores, rows, 0, 0);
                continue;
            }
            const int64_t n = j1 - j0;
            a->host->gemm(0, 1, rows, n, hd, a->alpha, q + i0 * qw + h * hd, qw, k + j0 * hd, hd,
                          0.0f, scores, n);
            if (hooks && hooks->score_bias)
                hooks->score_bias(hooks->state, hooks->w, scores, n, rows, n, h, q_pos, kv->pos + j0);
            apply_mask(a, kv, scores, rows, n, q_pos, j0, j1);
            a->host->softmax_rows(scores, rows, n, n);
            if (kept)
                keep_probs(kept, kv->L, scores, rows, j0, j1);
            a->host->gemm(0, 0, rows, hd, n, 1.0f, scores, n, v + j0 * hd, hd, 0.0f, out, qw);
        }
    }
}

int mha_forward(void *state, const float *const *w, const tfx_attn_io *io, tfx_status *st)
{
    const mha *a = state;
    const int64_t T = io->T, qw = a->H * a->hd, kvw = a->KVH * a->hd;
    const int64_t L = max_keys(a, T, io->cache_capacity);
    const int64_t rows = a->mask == MASK_CROSS ? (T > io->cache_capacity ? T : io->cache_capacity) : T;
    float *q = io->workspace;            /* [T, H*hd] */
    float *attn = q + T * qw;            /* [T, H*hd] */
    float *k_new = attn + T * qw;        /* [rows, KVH*hd] */
    float *v_new = k_new + rows * kvw;   /* [rows, KVH*hd] */
    float *scores = v_new + rows * kvw;  /* [min(T, QUERY_BLOCK), L] */
    int32_t *key_pos = (int32_t *)(scores + (T < QUERY_BLOCK ? T : QUERY_BLOCK) * L); /* [L] */
    float *gather = (float *)(key_pos + L);         /* [2, KVH, L, hd] (local) */
    kv_view kv = {.pos = key_pos};
    const tfx_position_hooks *hooks = io->position;
    float *probs = NULL; /* training: [H, T, keys] */
    if (a->training) {
        if (io->n_past != 0)
            return a->host->fail(st, "training runs each sequence afresh (n_past 0), got n_past %lld",
                                 (long long)io->n_past);
        probs = io->workspace + inference_floats(a, T, io->cache_capacity);
    }

    a->host->linear(q, io->x, w[a->iq], a->bias_qkv ? w[a->iq + 1] : NULL, T, a->C, qw, 0.0f);
    if (a->mask == MASK_CROSS) {
        if (view_memory(a, w, io, k_new, v_new, &kv, st))
            return -1;
    } else {
        a->host->linear(k_new, io->x, w[a->ik], a->bias_qkv ? w[a->ik + 1] : NULL, T, a->C, kvw, 0.0f);
        a->host->linear(v_new, io->x, w[a->iv], a->bias_qkv ? w[a->iv + 1] : NULL, T, a->C, kvw, 0.0f);
        if (hooks && hooks->rotate) {
            hooks->rotate(hooks->state, hooks->w, q, T, a->H, io->pos);
            hooks->rotate(hooks->state, hooks->w, k_new, T, a->KVH, io->pos);
        }
        if (a->mask == MASK_LOCAL)
            view_window(a, io, k_new, v_new, gather, &kv);
        else if (view_full_cache(a, io, k_new, v_new, &kv, st))
            return -1;
    }
    attend(a, io, q, &kv, scores, attn, probs);
    a->host->linear(io->out, attn, w[a->io], a->bias_out ? w[a->io + 1] : NULL, T, qw, a->C, 0.0f);
    return 0;
}

/* ---- backward ----------------------------------------------------------------------------- */

int64_t mha_backward_workspace_floats(void *state, int64_t T, int64_t context)
{
    const mha *a = state;
    const int64_t L = train_keys(a, T, context), kvw = a->KVH * a->hd;
    /* dq, dattn [T, H*hd]; dk, dv [L, KVH*hd]; one head's dscores [T, L] */
    int64_t n = add_sat(mul3(2, T, a->H * a->hd), mul3(2, L, kvw));
    return add_sat(n, mul3(1, T, L));
}

/* What the training forward left in its workspace, and where backward's scratch goes. */
typedef struct mha_saved {
    const float *q, *attn, *k, *v;   /* q, attn [T, H*hd] (q rotated); k (rotated), v [L, KVH*hd] */
    const float *probs;              /* [H, T, L] */
    const int32_t *key_pos;          /* [L] */
    int64_t T, L;
    float *dq, *dattn, *dk, *dv;     /* dq, dattn [T, H*hd]; dk, dv [L, KVH*hd] */
    float *dscores;                  /* [T, L] */
} mha_saved;

static mha_saved saved_view(const mha *a, const tfx_attn_io *io, float *scratch)
{
    const int64_t T = io->T, qw = a->H * a->hd, kvw = a->KVH * a->hd, cap = io->cache_capacity;
    const int64_t rows = a->mask == MASK_CROSS ? (T > cap ? T : cap) : T;
    const int64_t L = a->mask == MASK_CROSS ? io->memory_len : T;
    const int64_t block = T < QUERY_BLOCK ? T : QUERY_BLOCK;
    const float *ws = io->workspace;
    mha_saved s = {.q = ws, .attn = ws + T * qw, .k = ws + 2 * T * qw, .T = T, .L = L};
    s.v = s.k + rows * kvw;
    s.key_pos = (const int32_t *)(s.v + rows * kvw + block * max_keys(a, T, cap));
    s.probs = ws + inference_floats(a, T, cap);
    s.dq = scratch, s.dattn = s.dq + T * qw, s.dk = s.dattn + T * qw, s.dv = s.dk + L * kvw;
    s.dscores = s.dv + L * kvw;
    return s;
}

/* One head h back through p·v, the softmax, the score bias and the scale: dv and dk of its
 * kv head accumulate (GQA: shared by `group` query heads), dq of head h is written. */
static void head_backward(const mha *a, const tfx_attn_io *io, const tfx_attn_grad *grad,
                          const mha_saved *s, int64_t h)
{
    const int64_t T = s->T, L = s->L, hd = a->hd, qw = a->H * hd, kvw = a->KVH * hd;
    const int64_t g = h / (a->H / a->KVH);
    const float *P = s->probs + h * T * L; /* [T, L] */
    float *dS = s->dscores;                /* [T, L] */
    a->host->gemm(1, 0, L, hd, T, 1.0f, P, L, s->dattn + h * hd, qw, 1.0f, s->dv + g * hd, kvw);
    a->host->gemm(0, 1, T, L, hd, 1.0f, s->dattn + h * hd, qw, s->v + g * hd, kvw, 0.0f, dS, L);
    a->host->softmax_rows_backward(dS, P, dS, T, L, L);
    const tfx_position_grad_hooks *pos = grad->position;
    if (pos && pos->score_bias_backward)
        pos->score_bias_backward(pos->state, pos->w, pos->dw, dS, L, T, L, h, io->pos, s->key_pos);
    a->host->gemm(0, 0, T, hd, L, a->alpha, dS, L, s->k + g * hd, kvw, 0.0f, s->dq + h * hd, qw);
    a->host->gemm(1, 0, L, hd, T, a->alpha, dS, L, s->q + h * hd, qw, 1.0f, s->dk + g * hd, kvw);
}

/* dx (or dmemory) through the q, k and v projections; their weights' gradients accumulate. */
static void projections_backward(const mha *a, const float *const *w, const tfx_attn_io *io,
                                 const tfx_attn_grad *grad, const mha_saved *s)
{
    const int64_t T = s->T, L = s->L, qw = a->H * a->hd, kvw = a->KVH * a->hd;
    const int b = a->bias_qkv;
    float *const *dw = grad->dw;
    a->host->linear_backward(grad->dx, dw[a->iq], b ? dw[a->iq + 1] : NULL, s->dq, io->x,
                             w[a->iq], T, a->C, qw, 0.0f);
    const int cross = a->mask == MASK_CROSS;
    float *dkv_in = cross ? grad->dmemory : grad->dx;      /* [L, C] */
    const float *kv_in = cross ? io->memory : io->x;       /* [L, C] */
    a->host->linear_backward(dkv_in, dw[a->ik], b ? dw[a->ik + 1] : NULL, s->dk, kv_in,
                             w[a->ik], L, a->C, kvw, 1.0f);
    a->host->linear_backward(dkv_in, dw[a->iv], b ? dw[a->iv + 1] : NULL, s->dv, kv_in,
                             w[a->iv], L, a->C, kvw, 1.0f);
}

int mha_backward(void *state, const float *const *w, const tfx_attn_io *io,
                 const tfx_attn_grad *grad, tfx_status *st)
{
    const mha *a = state;
    if (!a->training)
        return a->host->fail(st, "attention backward needs an instance configured for training");
    if (io->n_past != 0)
        return a->host->fail(st, "training runs each sequence afresh (n_past 0), got n_past %lld",
                             (long long)io->n_past);
    if (a->mask == MASK_CROSS && !grad->dmemory)
        return a->host->fail(st, "cross attention backward needs dmemory");
    const mha_saved s = saved_view(a, io, grad->workspace);
    const int64_t T = s.T, qw = a->H * a->hd, kvw = a->KVH * a->hd;
    a->host->linear_backward(s.dattn, grad->dw[a->io], a->bias_out ? grad->dw[a->io + 1] : NULL,
                             grad->dout, s.attn, w[a->io], T, qw, a->C, 0.0f);
    memset(s.dk, 0, (size_t)(2 * s.L * kvw) * sizeof *s.dk); /* dk and dv, adjacent */
    for (int64_t h = 0; h < a->H; h++)
        head_backward(a, io, grad, &s, h);
    const tfx_position_grad_hooks *pos = grad->position;
    if (a->mask != MASK_CROSS && pos && pos->rotate_backward) {
        pos->rotate_backward(pos->state, pos->w, s.dq, T, a->H, io->pos);
        pos->rotate_backward(pos->state, pos->w, s.dk, T, a->KVH, io->pos);
    }
    projections_backward(a, w, io, grad, &s);
    return 0;
}
