/* core/weights.h — the model's weights: one 64-byte-aligned arena laid out from the declared
 * tensor list, filled by seeded initialisation or from a checkpoint (core/checkpoint.c). */
#ifndef TFX_CORE_WEIGHTS_H
#define TFX_CORE_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "host.h"
#include "model.h"
#include "progress.h"

struct tfx_st_file;

typedef struct tfx_weights {
    float *arena;                 /* [floats], 64-byte aligned, owned */
    size_t floats;
    float **data;                 /* [model->n_tensors]; tied tensors point at their target */
    struct tfx_st_file *checkpoint; /* a mapped checkpoint some data[] point into, owned */
    size_t mapped_tensors;        /* how many point into it (F32 tensors used as stored) */
    uint16_t *bf16_arena;         /* BF16 copies of the matrices (--dtype bf16), owned */
    tfx_bf16_view *bf16_views;    /* [n_bf16], sorted by f32 address, owned */
    size_t n_bf16;
} tfx_weights;

/* Bytes the arena of `m` needs (each tensor padded to 64 bytes; tied ones take none).
 * Returns 0, or -1 with err set on overflow. */
int tfx_weights_bytes(const tfx_model *m, uint64_t *bytes, tfx_error *err);

/* Allocate the arena (uninitialised). Returns 0, or -1 with err naming the size. */
int tfx_weights_alloc(tfx_weights *w, const tfx_model *m, tfx_error *err);

/* Fill every tensor by its declared init: N(0, std) from a generator seeded by (seed, tensor
 * name, chunk), so the same seed gives the same weights on any machine and with any number
 * of threads: n_threads of core/pool.c's (started with that many if it runs with another
 * count). `progress` (may be NULL) hears of the chunks done. Returns 0, or -1 with err. */
int tfx_weights_init(tfx_weights *w, const tfx_model *m, uint64_t seed, double std,
                     int n_threads, tfx_progress_fn progress, void *progress_ctx, tfx_error *err);

/* Point every tied tensor at its target's storage (after targets moved, e.g. into a mapping). */
void tfx_weights_tie(tfx_weights *w, const tfx_model *m);

/* Point every tensor back at its place in the arena (and ties at their targets), letting go of
 * a mapped checkpoint: what a fresh load starts from. */
void tfx_weights_use_arena(tfx_weights *w, const tfx_model *m);

/* Copy every tensor used in place from a mapped checkpoint into its arena slot and let the
 * mapping go: the weights become writable (training). */
void tfx_weights_own(tfx_weights *w, const tfx_model *m);

/* Copy every tensor used in place from a mapped checkpoint into its arena slot and let the
 * mapping go: the weights become writable (training). */
void tfx_weights_own(tfx_weights *w, const tfx_model *m);

/* BF16 copies of every matrix (rank-2 tensor), for decode to stream (core/host.c uses them once
 * registered with tfx_host_use_bf16). Bytes they take: 2 per element. Returns 0 or -1. */
int tfx_weights_make_bf16(tfx_weights *w, const tfx_model *m, tfx_error *err);
uint64_t tfx_weights_bf16_bytes(const tfx_model *m);

/* Hand every matrix (the same ones as the BF16 copies) to oneDNN, which keeps each as bf16 in
 * its own layout, for prefill's linears. Returns 0, or -1 with err naming the tensor. */
struct tfx_mm;
int tfx_weights_add_to_mm(const tfx_weights *w, const tfx_model *m, struct tfx_mm *mm,
                          tfx_error *err);

void tfx_weights_free(tfx_weights *w);

#endif
