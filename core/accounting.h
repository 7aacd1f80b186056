/* core/accounting.h — exact parameter counts from the declared tensor list (no weights needed):
 * per component, per stack and layer, and in total, each tied tensor counted once. */
#ifndef TFX_CORE_ACCOUNTING_H
#define TFX_CORE_ACCOUNTING_H

#include <stdint.h>

#include "model.h"

typedef struct tfx_layer_count {
    int64_t part[TFX_PART_COUNT];
    int64_t total;
} tfx_layer_count;

typedef struct tfx_counts {
    int64_t total;                       /* every parameter, tied ones once */
    int64_t part[TFX_PART_COUNT];        /* per component */
    int64_t tied;                        /* elements shared rather than stored twice */
    int64_t non_embedding;               /* total minus embeddings, positions and a tied head */
    int n_stacks;
    tfx_layer_count *layers[2];          /* [stack][layer] */
    int64_t n_layers[2];
    int64_t trainable;                   /* total less frozen parameters (HF's requires_grad) */
    int64_t active;                      /* parameters one token uses: total less the routed
                                          * experts a token skips (plugins' active_params) */
} tfx_counts;

/* Count the model's declared tensors. Returns 0, or -1 with err set when a sum overflows
 * 64 bits. Free with tfx_counts_free. */
int tfx_counts_compute(const tfx_model *model, tfx_counts *out, tfx_error *err);
void tfx_counts_free(tfx_counts *c);

/* The parameters an instance declared (tied ones not again). 0, or -1 with err on overflow. */
int tfx_instance_params(const tfx_model *model, const tfx_instance *inst, int64_t *out,
                        tfx_error *err);

/* Calls fn on every attention, cross-attention and ffn instance of the model, stopping at the
 * first non-zero return, which it returns. */
int tfx_each_sublayer(const tfx_model *model,
                      int (*fn)(const tfx_model *m, const tfx_instance *inst, void *ctx), void *ctx);

#endif
