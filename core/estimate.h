/* core/estimate.h — what a model costs, from its declarations alone: memory for inference
 * (weights by dtype, KV cache, activations) and training (mixed-precision AdamW), and FLOPs. */
#ifndef TFX_CORE_ESTIMATE_H
#define TFX_CORE_ESTIMATE_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "model.h"

typedef struct tfx_estimate_opts {
    int64_t batch;                /* sequences at once (default 1) */
    int64_t context;              /* tokens per sequence (default: the model's context) */
    int64_t kv_bytes;             /* bytes per cached element (default 2: fp16) */
    bool fp32_grads;              /* count an fp32 gradient copy (20 B/param); false: ZeRO's 16 */
} tfx_estimate_opts;

typedef struct tfx_memory {
    uint64_t weights_fp32, weights_fp16, weights_bf16, weights_int8;
    uint64_t kv_cache;            /* decoder self-attention caches at batch x context */
    uint64_t kv_cache_cross;      /* cross-attention caches (encoder-decoder) */
    uint64_t activations;         /* the run state of one forward over batch x context */
    /* training, mixed precision with AdamW, per parameter: */
    uint64_t train_weights;       /* fp16/bf16 weights: 2 */
    uint64_t train_grads;         /* fp16/bf16 gradients: 2 */
    uint64_t train_master;        /* fp32 master weights: 4 */
    uint64_t train_grads_fp32;    /* fp32 gradients for the update: 4 (0 without) */
    uint64_t train_adam;          /* Adam first and second moments: 4 + 4 */
    uint64_t training;            /* the sum of the five above */
    uint64_t train_activations;   /* Korthikanti et al. 2022: s·b·h·(34 + 5·a·s/h) per layer */
    uint64_t train_activations_recompute; /* full recomputation: 2·s·b·h per layer */
    int bytes_per_param;          /* 20 or 16 */
    /* KV-cache bytes one more token adds (decoder self-attention, all layers, at kv_bytes),
     * and the per-layer formula: the plugins' own when they report one, else
     * "2 x kv_heads x head_dim". */
    uint64_t kv_per_token;
    const char *kv_formula;
} tfx_memory;

typedef struct tfx_flops {
    uint64_t forward_per_token;   /* 2·N + 2·Σ_layers keys_seen(context)·d_attn */
    uint64_t forward_params_term; /* 2·N (N: non-embedding parameters) */
    uint64_t forward_attention_term;
    uint64_t forward_per_sequence;/* forward_per_token · context */
    uint64_t training_per_token;  /* 3 · forward_per_token */
    /* What plugins that report their own FLOPs (a mixture of experts: only the routed experts)
     * count; their parameters are then left out of forward_params_term and, for attention,
     * their layers out of forward_attention_term. */
    uint64_t forward_plugin_term;
} tfx_flops;

/* Fill memory and FLOPs for `m` under `opts` (0 fields take their defaults). Returns 0, or
 * -1 with err set when a figure overflows 64 bits. */
int tfx_estimate(const tfx_model *m, int64_t params, int64_t non_embedding,
                 const tfx_estimate_opts *opts, tfx_memory *mem, tfx_flops *flops,
                 tfx_error *err);

/* The options with defaults applied for `m`. */
tfx_estimate_opts tfx_estimate_defaults(const tfx_model *m, const tfx_estimate_opts *opts);

#endif
