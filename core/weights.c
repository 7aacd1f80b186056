/* core/weights.c — lays the declared tensors out in one aligned arena and fills them with
 * reproducible pseudo-random values (splitmix64 per tensor, Box-Muller normals). */
#include "weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_FLOATS 16 /* 64 bytes */

int tfx_weights_bytes(const tfx_model *m, uint64_t *bytes, tfx_error *err)
{
    uint64_t floats = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tfx_tensor *t = &m->tensors[i];
        if (t->tied_to >= 0)
            continue;
        uint64_t padded = ((uint64_t)t->numel + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
        if (__builtin_add_overflow(floats, padded, &floats))
            return tfx_fail(err, "the weights' size overflows 64 bits");
    }
    if (__builtin_mul_overflow(floats, (uint64_t)sizeof(float), bytes))
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
    w->arena = aligned_alloc(64, bytes ? (size_t)bytes : 64);
    if (!w->data || !w->arena) {
        tfx_weights_free(w);
        return tfx_fail(err, "cannot allocate %llu bytes (%.2f GiB) for the weights",
                        (unsigned long long)bytes, (double)bytes / (1u << 30));
    }
    w->floats = (size_t)(bytes / sizeof(float));
    size_t offset = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tfx_tensor *t = &m->tensors[i];
        if (t->tied_to >= 0)
            continue;
        w->data[i] = w->arena + offset;
        offset += ((size_t)t->numel + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    }
    for (size_t i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].tied_to >= 0)
            w->data[i] = w->data[m->tensors[i].tied_to];
    return 0;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t hash_name(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 0x100000001b3ull;
    return h;
}

/* A uniform float in (0, 1] from 24 random bits. */
static float uniform(uint64_t bits) { return ((float)(bits >> 40) + 1.0f) * (1.0f / 16777216.0f); }

static void fill_normal(float *x, int64_t n, uint64_t state, float std)
{
    for (int64_t i = 0; i < n; i += 2) {
        uint64_t r = splitmix64(&state);
        float u1 = uniform(r), u2 = uniform(r << 24);
        float radius = std * sqrtf(-2.0f * logf(u1));
        float angle = 6.28318530718f * u2;
        x[i] = radius * cosf(angle);
        if (i + 1 < n)
            x[i + 1] = radius * sinf(angle);
    }
}

void tfx_weights_init(tfx_weights *w, const tfx_model *m, uint64_t seed, double std)
{
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tfx_tensor *t = &m->tensors[i];
        if (t->tied_to >= 0)
            continue;
        float *x = w->data[i];
        switch (t->init) {
        case TFX_INIT_ZEROS:
            memset(x, 0, (size_t)t->numel * sizeof *x);
            break;
        case TFX_INIT_ONES:
            for (int64_t k = 0; k < t->numel; k++)
                x[k] = 1.0f;
            break;
        case TFX_INIT_NORMAL:
            fill_normal(x, t->numel, seed ^ hash_name(t->name), (float)std);
            break;
        }
    }
}

void tfx_weights_free(tfx_weights *w)
{
    free(w->arena);
    free(w->data);
    memset(w, 0, sizeof *w);
}
