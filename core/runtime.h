/* core/runtime.h — running a model: embeddings, the blocks of each stack wired by their
 * placement, KV caches for prefill-then-decode, logits, and generation. Allocates everything
 * at init; a forward pass allocates nothing.
 *
 * Shapes: T new tokens in one call, C = d_model, V = vocab, S = encoder tokens. */
#ifndef TFX_CORE_RUNTIME_H
#define TFX_CORE_RUNTIME_H

#include <stdint.h>

#include "error.h"
#include "model.h"
#include "progress.h"
#include "weights.h"

/* How large the run state must be. */
typedef struct tfx_run_limits {
    int64_t max_tokens;           /* largest T of one decoder (or encoder-only) call */
    int64_t capacity;             /* positions the decoder's caches hold (<= context) */
    int64_t encoder_tokens;       /* longest encoder input (encoder-decoder models) */
    int check;                    /* 1 (--check; always in sanitizer builds): guard words after
                                     every workspace and KV cache, checked after each call */
} tfx_run_limits;

typedef struct tfx_runtime {
    const tfx_model *model;
    const tfx_weights *weights;
    tfx_run_limits limits;
    int encoder, decoder;         /* stack indices, -1 when absent */

    float *block;                 /* owns every buffer below except caches */
    float *x;                     /* [rows, C] residual stream; after a call, its output */
    float *scratch[3];            /* [rows, C] placement scratch */
    float *workspace;             /* plugin scratch, the largest any instance asked for */
    int64_t workspace_floats;     /* its size, not counting check mode's guard words */
    float *logits;                /* [max_tokens, V] */
    float *memory;                /* [encoder_tokens, C] encoder output */
    float *pooled;                /* [C] pooler output */
    float *probs;                 /* [V] sampling scratch */
    int32_t *pos;                 /* [rows] */
    int64_t memory_len;
    int memory_fresh;

    float *cache_block;           /* owns every KV cache */
    float **self_cache[2];        /* [stack][layer] */
    float **cross_cache[2];       /* [stack][layer] */
    int64_t n_past;               /* decoder tokens in the caches */
    int64_t n_logits;             /* rows of rt->logits the last decode wrote */

    /* Optional: called after the embeddings (layer -1) and after every block with x [T, C];
     * the last block's call comes after the stack's final norm when it has one. */
    void (*on_hidden)(void *ctx, int stack, int64_t layer, const float *x, int64_t T);
    void *on_hidden_ctx;
} tfx_runtime;

/* Bytes of run state (activations, workspace, caches) `limits` will need. */
int tfx_runtime_bytes(const tfx_model *m, const tfx_run_limits *limits, uint64_t *bytes,
                      tfx_error *err);

int tfx_runtime_init(tfx_runtime *rt, const tfx_model *m, const tfx_weights *w,
                     const tfx_run_limits *limits, tfx_error *err);
void tfx_runtime_free(tfx_runtime *rt);

/* Run the encoder over tokens[S] (token_types may be NULL: all 0). Leaves the output in
 * rt->x (encoder-only; and rt->pooled with a pooler) and rt->memory (encoder-decoder). */
int tfx_runtime_encode(tfx_runtime *rt, const int32_t *tokens, const int32_t *token_types,
                       int64_t S, tfx_error *err);

/* Run the decoder over T new tokens after the rt->n_past cached ones (n_past = 0 to start
 * afresh). Writes logits for the last n_logits of them to rt->logits [n_logits, V]. */
int tfx_runtime_decode(tfx_runtime *rt, const int32_t *tokens, int64_t T, int64_t n_logits,
                       tfx_error *err);

/* How the next token is chosen. */
typedef struct tfx_sampler {
    double temperature;           /* 0: greedy argmax */
    int64_t top_k;                /* 0: all */
    uint64_t seed;
} tfx_sampler;

/* Continue a prefill (a tfx_runtime_decode over the prompt): choose the next token from the
 * last logits row, then decode one token at a time with the KV cache until out[n_new] holds
 * n_new tokens (n_new - 1 decode steps). `progress` (may be NULL) hears of each token. */
int tfx_generate(tfx_runtime *rt, int64_t n_new, const tfx_sampler *sampler, int32_t *out,
                 tfx_progress_fn progress, void *progress_ctx, tfx_error *err);

/* The k-th largest of x[n] (1 <= k <= n), repeats counted, as sorting x in descending order
 * would put at index k-1; the top-k sampling cutoff. heap: scratch of n floats. */
float tfx_kth_largest(const float *x, int64_t n, int64_t k, float *heap);

/* logits[rows, V] = (lm_head_scale · x[rows, C]) · lm_headᵀ (+ lm_head.bias), with the model's
 * weights w. */
void tfx_lm_head(const tfx_model *m, float *const *w, float *logits, const float *x, int64_t rows);

#endif
