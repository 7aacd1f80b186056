/* core/weights.c — lays the declared tensors out in one aligned arena and fills them with
 * reproducible pseudo-random values (splitmix64 per pair, Box-Muller normals). */
#include "weights.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <tfx/vecmath.h>

#include "checked.h"
#include "gemv.h"
#include "matmul_bf16.h"
#include "pool.h"
#include "safetensors.h"

int tfx_weights_bytes(const tfx_model *m, uint64_t *bytes, tfx_error *err)
{
    uint64_t floats = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tfx_tensor *t = &m->tensors[i];
        if (t->tied_to >= 0)
            continue;
        int64_t padded;
        if (tfx_pad_floats_overflows(t->numel, &padded) ||
            tfx_add_overflows_u64(floats, (uint64_t)padded, &floats))
            return tfx_fail(err, "the weights' size overflows 64 bits");
    }
    if (tfx_mul_overflows_u64(floats, (uint64_t)sizeof(float), bytes))
        return tfx_fail(err, "the weights' size overflows 64 bits");
    return 0;
}

int tfx_weights_alloc(tfx_weights *w, const tfx_model *m, tfx_error *err)
{
    memset(w, 0, sizeof *w);
    uint64_t bytes;
    if (tfx_weights_bytes(m, &bytes, err))
        return -1;
    if (bytes > SIZE_MAX - 64)
        return tfx_fail(err, "the weights need %llu bytes, more than this machine can address",
                        (unsigned long long)bytes);
    w->data = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *w->data);
    /* 2 MiB alignment lets the kernel back a large arena with huge pages; aligned_alloc
     * wants the size a multiple of the alignment. */
    size_t align = bytes >= (64u << 20) ? (2u << 20) : 64;
    size_t size = bytes ? ((size_t)bytes + align - 1) / align * align : align;
    w->arena = aligned_alloc(align, size);
    if (!w->data || !w->arena) {
        tfx_weights_free(w);
        return tfx_fail(err, "cannot allocate %llu bytes (%.2f GiB) for the weights",
                        (unsigned long long)bytes, (double)bytes / (1u << 30));
    }
    w->floats = (size_t)(bytes / sizeof(float));
    /* Gigabytes of weights fault in 4 KiB pages slowly; ask for transparent huge pages. */
    if (bytes >= (64u << 20))
        madvise(w->arena, (size_t)bytes / 4096 * 4096, MADV_HUGEPAGE);
    tfx_weights_use_arena(w, m);
    return 0;
}

static void drop_bf16(tfx_weights *w)
{
    tfx_host_forget_bf16(w->bf16_views);
    free(w->bf16_views);
    free(w->bf16_arena);
    w->bf16_views = NULL, w->bf16_arena = NULL, w->n_bf16 = 0;
}

/* Matrices that pass through linear(): every untied rank-2 tensor but the position and
 * embedding tables, which are read row by row (the token table counts when it is the LM head). */
static bool is_matrix(const tfx_model *m, size_t i)
{
    const tfx_tensor *t = &m->tensors[i];
    bool head = m->lm_head >= 0 &&
                ((size_t)m->lm_head == i || m->tensors[m->lm_head].tied_to == (int64_t)i);
    return t->tied_to < 0 && t->rank == 2 && t->part != TFX_PART_POSITION &&
           (t->part != TFX_PART_EMBEDDING || head);
}

uint64_t tfx_weights_bf16_bytes(const tfx_model *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->n_tensors; i++)
        if (is_matrix(m, i))
            n += 2u * (uint64_t)m->tensors[i].numel;
    return n;
}

static int by_address(const void *a, const void *b)
{
    const float *x = ((const tfx_bf16_view *)a)->f32, *y = ((const tfx_bf16_view *)b)->f32;
    return x < y ? -1 : x > y;
}

int tfx_weights_make_bf16(tfx_weights *w, const tfx_model *m, tfx_error *err)
{
    drop_bf16(w);
    uint64_t bytes = tfx_weights_bf16_bytes(m);
    size_t n = 0;
    for (size_t i = 0; i < m->n_tensors; i++)
        n += is_matrix(m, i);
    if (bytes > SIZE_MAX / 2)
        return tfx_fail(err, "the BF16 copies need %llu bytes, more than this machine can address",
                        (unsigned long long)bytes);
    /* Like the fp32 arena: 2 MiB aligned and backed by huge pages, so streaming it every
     * decode step does not walk page tables. */
    size_t align = 2u << 20, size = ((size_t)bytes + align - 1) / align * align;
    w->bf16_arena = aligned_alloc(align, size ? size : align);
    if (w->bf16_arena && size)
        madvise(w->bf16_arena, size, MADV_HUGEPAGE);
    w->bf16_views = calloc(n ? n : 1, sizeof *w->bf16_views);
    if (!w->bf16_arena || !w->bf16_views) {
        drop_bf16(w);
        return tfx_fail(err, "cannot allocate %llu bytes (%.2f GiB) for the BF16 weights",
                        (unsigned long long)bytes, (double)bytes / (1u << 30));
    }
    uint16_t *next = w->bf16_arena;
    for (size_t i = 0; i < m->n_tensors; i++) {
        if (!is_matrix(m, i))
            continue;
        tfx_to_bf16(next, w->data[i], m->tensors[i].numel);
        w->bf16_views[w->n_bf16++] = (tfx_bf16_view){w->data[i], m->tensors[i].numel, next};
        next += m->tensors[i].numel;
    }
    qsort(w->bf16_views, w->n_bf16, sizeof *w->bf16_views, by_address);
    return 0;
}

int tfx_weights_add_to_mm(const tfx_weights *w, const tfx_model *m, struct tfx_mm *mm,
                          tfx_error *err)
{
    for (size_t i = 0; i < m->n_tensors; i++)
        if (is_matrix(m, i) &&
            tfx_mm_add_weight(mm, w->data[i], m->tensors[i].shape[0], m->tensors[i].shape[1], err))
            return tfx_error_prefix(err, "%s", m->tensors[i].name);
    return 0;
}

void tfx_weights_use_arena(tfx_weights *w, const tfx_model *m)
{
    drop_bf16(w); /* copies of what is about to change */
    tfx_st_close(w->checkpoint);
    w->checkpoint = NULL;
    w->mapped_tensors = 0;
    size_t offset = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tfx_tensor *t = &m->tensors[i];
        if (t->tied_to >= 0)
            continue;
        w->data[i] = w->arena + offset;
        offset += (size_t)tfx_pad_floats(t->numel);
    }
    tfx_weights_tie(w, m);
}

void tfx_weights_own(tfx_weights *w, const tfx_model *m)
{
    if (!w->checkpoint)
        return;
    drop_bf16(w);
    size_t offset = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tfx_tensor *t = &m->tensors[i];
        if (t->tied_to >= 0)
            continue;
        float *slot = w->arena + offset; /* [numel] */
        if (w->data[i] != slot)
            memcpy(slot, w->data[i], (size_t)t->numel * sizeof *slot);
        w->data[i] = slot;
        offset += (size_t)tfx_pad_floats(t->numel);
    }
    tfx_st_close(w->checkpoint);
    w->checkpoint = NULL;
    w->mapped_tensors = 0;
    tfx_weights_tie(w, m);
}

void tfx_weights_tie(tfx_weights *w, const tfx_model *m)
{
    for (size_t i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].tied_to >= 0)
            w->data[i] = w->data[m->tensors[i].tied_to];
}

static uint64_t hash_name(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 0x100000001b3ull;
    return h;
}

/* A uniform float in (0, 1] from the 24 bits at the top of `bits`. */
static inline float uniform24(uint64_t bits) { return ((float)(int32_t)(bits >> 40) + 1.0f) * (1.0f / 16777216.0f); }

/* Pair p of normals N(0, std²) by Box–Muller from splitmix64's output for state + (p + 1)·γ: pairs
 * are independent of each other, so a loop of them vectorises. */
static inline __attribute__((always_inline)) void normal_pair(uint64_t state, int64_t p, float std,
                                                             float *a, float *b)
{
    uint64_t z = state + (uint64_t)(p + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    float radius = std * sqrtf(-2.0f * tfx_logf(uniform24(z)));
    float c, s;
    tfx_cossin_turn(uniform24(z << 24), &c, &s);
    *a = radius * c;
    *b = radius * s;
}

/* x[n] ~ N(0, std²). This file is compiled without FMA contraction (core/CMakeLists.txt) and the
 * maths is tfx/vecmath.h's, not libm's: the same bits from every clone, on every machine. */
static TFX_VECTORIZED void fill_normal(float *x, int64_t n, uint64_t state, float std)
{
    for (int64_t p = 0; p < n / 2; p++)
        normal_pair(state, p, std, &x[2 * p], &x[2 * p + 1]);
    if (n % 2) {
        float unused;
        normal_pair(state, n / 2, std, &x[n - 1], &unused);
    }
}

/* Initialisation works in chunks of CHUNK elements, each seeded by (seed, tensor, chunk), so
 * the values do not depend on how many threads fill them. */
#define CHUNK (1 << 20)

typedef struct init_job {
    const tfx_model *m;
    tfx_weights *w;
    uint64_t seed;
    float std;
    size_t n_chunks;              /* over all tensors */
    size_t *first_chunk;          /* [n_tensors + 1] prefix sums */
    size_t stripes;               /* one a thread */
    tfx_progress_fn progress;     /* heard from the caller's thread only */
    void *progress_ctx;
} init_job;

static void init_chunk(const init_job *job, size_t ti, size_t chunk)
{
    const tfx_tensor *t = &job->m->tensors[ti];
    int64_t begin = (int64_t)chunk * CHUNK;
    int64_t n = t->numel - begin < CHUNK ? t->numel - begin : CHUNK;
    float *x = job->w->data[ti] + begin;
    switch (t->init) {
    case TFX_INIT_ZEROS:
        memset(x, 0, (size_t)n * sizeof *x);
        break;
    case TFX_INIT_ONES:
        for (int64_t k = 0; k < n; k++)
            x[k] = 1.0f;
        break;
    case TFX_INIT_NORMAL:
        fill_normal(x, n, job->seed ^ hash_name(t->name) ^ (chunk * 0xd1b54a32d192ed03ull),
                    (float)((t->std > 0 ? t->std : job->std) * (t->gain > 0 ? t->gain : 1.0)));
        break;
    }
}

/* Stripes [begin, end) on one of core/pool.c's threads: stripe s is chunks s, s + stripes,
 * s + 2·stripes, …, so that each thread has its share of every tensor, large and small. Stripe 0
 * is the calling thread's: it alone reports progress. */
static void init_stripes(void *ctx, int64_t begin, int64_t end)
{
    const init_job *job = ctx;
    for (size_t s = (size_t)begin; s < (size_t)end; s++) {
        size_t ti = 0;
        for (size_t c = s; c < job->n_chunks; c += job->stripes) {
            while (job->first_chunk[ti + 1] <= c)
                ti++;
            init_chunk(job, ti, c - job->first_chunk[ti]);
            if (s == 0 && job->progress)
                job->progress(job->progress_ctx, c + 1, job->n_chunks);
        }
    }
}

int tfx_weights_init(tfx_weights *w, const tfx_model *m, uint64_t seed, double std,
                     int n_threads, tfx_progress_fn progress, void *progress_ctx, tfx_error *err)
{
    tfx_weights_use_arena(w, m); /* never write into a mapped checkpoint */
    size_t *first = calloc(m->n_tensors + 1, sizeof *first);
    if (!first)
        return tfx_fail(err, "out of memory");
    for (size_t i = 0; i < m->n_tensors; i++) {
        size_t chunks = m->tensors[i].tied_to >= 0 ? 0 : (size_t)((m->tensors[i].numel + CHUNK - 1) / CHUNK);
        first[i + 1] = first[i] + chunks;
    }
    if (n_threads < 1)
        n_threads = 1;
    if (tfx_pool_threads() != n_threads)
        tfx_pool_start(n_threads);
    init_job job = {.m = m, .w = w, .seed = seed, .std = (float)std, .n_chunks = first[m->n_tensors],
                    .first_chunk = first, .stripes = (size_t)tfx_pool_threads(),
                    .progress = progress, .progress_ctx = progress_ctx};
    tfx_pool_run(init_stripes, &job, (int64_t)job.stripes, 1, 1);
    free(first);
    return 0;
}

void tfx_weights_free(tfx_weights *w)
{
    drop_bf16(w);
    tfx_st_close(w->checkpoint);
    free(w->arena);
    free(w->data);
    memset(w, 0, sizeof *w);
}
