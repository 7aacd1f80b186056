/* core/train.h — training a model: a forward pass over a batch that keeps what backward needs,
 * the next-token loss, the backward pass into one gradient arena, and AdamW.
 *
 * Shapes: B sequences of T decoder tokens (S encoder tokens for encoder-decoder models),
 * C = d_model, V = vocab. Everything is allocated at init; a step allocates nothing. */
#ifndef TFX_CORE_TRAIN_H
#define TFX_CORE_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "matmul_bf16.h"
#include "model.h"
#include "weights.h"

/* The batch one step works on. */
typedef struct tfx_train_shape {
    int64_t batch;                /* B sequences */
    int64_t tokens;               /* T decoder tokens per sequence, at least 2 */
    int64_t encoder_tokens;       /* S encoder tokens per sequence (encoder-decoder), else 0 */
} tfx_train_shape;

/* Bytes of each part of training's memory, as tfx_trainer_init allocates them. */
typedef struct tfx_train_plan {
    uint64_t weights;             /* the fp32 weights (tied tensors once) */
    uint64_t grads;               /* one gradient per stored tensor: the weights' layout */
    uint64_t moments;             /* AdamW's two moments, fp32 (0 without an optimizer) */
    uint64_t saved;               /* saved activations: every norm / sublayer input, every
                                     attention and FFN call's own workspace and cache */
    uint64_t workspace;           /* residual, scratch, logits, backward scratch */
    uint64_t bf16_copies;         /* --dtype bf16 through oneDNN: the weights' bf16 copies in
                                     oneDNN's layout (counted once the first forward made them) */
    int64_t saved_per_layer_rows; /* [B·T, C] buffers kept per decoder layer (norm and
                                     sublayer inputs), for the report's formula */
} tfx_train_plan;

/* torch.optim.AdamW's hyper-parameters. */
typedef struct tfx_adamw {
    double lr, beta1, beta2, eps, weight_decay;
} tfx_adamw;

struct train_stack;

typedef struct tfx_trainer {
    const tfx_model *model;       /* built with training = 1 */
    tfx_weights *weights;         /* not owned; every tensor in its arena */
    tfx_weights grads;            /* owned: the weights' layout, ties shared */
    tfx_weights moment1, moment2; /* owned when with_moments */
    tfx_train_shape shape;
    tfx_train_plan plan;
    float *saved_block, *work_block; /* own every buffer below */
    struct train_stack *stacks;   /* [model->n_stacks] */
    float *scratch[3];            /* [rows, C] placement scratch, forward */
    float *gscratch[3];           /* [rows, C] placement scratch, backward */
    float *dx;                    /* [rows, C] the residual's gradient */
    float *dmemory;               /* [B·S, C] gradient of the encoder's output */
    float *logits;                /* [B·T, V]; after backward, d loss / d logits */
    float *bwd_workspace;         /* the largest backward workspace any call asks */
    int64_t step;                 /* AdamW steps taken */
    struct tfx_mm *mm;            /* --dtype bf16 through oneDNN: bf16 weight copies, owned; or NULL */
    tfx_prefill_choice bf16;      /* --dtype bf16: the path taken and why (why[0] == 0: fp32 run) */
} tfx_trainer;

/* The memory tfx_trainer_init would allocate for `shape` (moments only when with_moments). */
int tfx_train_plan_bytes(const tfx_model *m, const tfx_train_shape *shape, bool with_moments,
                         tfx_train_plan *plan, tfx_error *err);

/* Allocate everything for `shape`. `w` must be in its arena (tfx_weights_own) since AdamW
 * writes it. Returns 0, or -1 with err set. */
int tfx_trainer_init(tfx_trainer *t, const tfx_model *m, tfx_weights *w,
                     const tfx_train_shape *shape, bool with_moments, tfx_error *err);
void tfx_trainer_free(tfx_trainer *t);

/* Forward over tokens[B·T] (and encoder[B·S]) and the mean next-token cross-entropy over the
 * first T−1 positions of every sequence, into *loss. Nothing else. */
int tfx_trainer_loss(tfx_trainer *t, const int32_t *tokens, const int32_t *encoder,
                     double *loss, tfx_error *err);

/* The loss as tfx_trainer_loss, then every gradient: t->grads is zeroed and filled. */
int tfx_trainer_grad(tfx_trainer *t, const int32_t *tokens, const int32_t *encoder,
                     double *loss, tfx_error *err);

/* The same, adding every gradient into t->grads without zeroing it first (accumulation). */
int tfx_trainer_grad_add(tfx_trainer *t, const int32_t *tokens, const int32_t *encoder,
                         double *loss, tfx_error *err);

/* One AdamW step of every stored tensor from t->grads, exactly as torch.optim.AdamW:
 * p ← p·(1 − lr·wd) (tensors of rank ≥ 2 only), m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g²,
 * p ← p − lr/(1−β1^t) · m / (√v / √(1−β2^t) + eps). */
int tfx_trainer_adamw(tfx_trainer *t, const tfx_adamw *h, tfx_error *err);

/* Mixed precision (--dtype bf16): the matrix products of forward and backward take bf16 operands
 * (fp32 accumulation and outputs) through oneDNN where its bf16 matmul measures faster than
 * sgemm on this batch's FFN product, else everything stays fp32 (t->bf16.why says which and why).
 * Weights, gradients and moments stay fp32; the bf16 copies of the weights are made at their
 * first product and refreshed after each AdamW step. Returns 0, or -1 with err. */
int tfx_trainer_use_bf16(tfx_trainer *t, tfx_bf16_prefill mode, tfx_error *err);

/* nanoGPT's and llm.c's learning-rate schedule: linear warmup over `warmup` steps to lr, then
 * cosine decay to min_lr at step `steps`. */
typedef struct tfx_schedule {
    double lr, min_lr;
    int64_t warmup, steps;
} tfx_schedule;

/* The learning rate of step `step` (0-based): lr·(step+1)/warmup while step < warmup, then
 * min_lr + ½(1 + cos(π·(step − warmup)/(steps − warmup)))·(lr − min_lr). */
double tfx_train_lr(const tfx_schedule *s, int64_t step);

/* The global L2 norm of every gradient (tied tensors once), for clipping. */
double tfx_train_grad_norm(const tfx_trainer *t);

/* Multiply every gradient by factor (accumulation's 1/steps, clipping's clip/norm). */
void tfx_train_scale_grads(tfx_trainer *t, float factor);

/* GPT-2's scaled residual projections, the core's rule until plugins declare their own: the
 * matrix through which each attention and FFN sublayer writes into the residual (the last
 * rank-2 N(0, std) tensor it declares with d_model rows: mha's o, mlp's and glu's down) is
 * multiplied by 1/√(2·layers) of its stack after tfx_weights_init. */
void tfx_train_scale_residual_init(const tfx_model *m, tfx_weights *w);

#endif
