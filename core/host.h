/* core/host.h — the table of services the core hands to plugins (tfx_host), and the
 * counters the core keeps through it (FLOPs done by matrix kernels). */
#ifndef TFX_CORE_HOST_H
#define TFX_CORE_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "tfx/host.h"

/* The process-wide host table: kernels through OpenBLAS, declaration hooks into core/model.c. */
const tfx_host *tfx_host_table(void);

/* A BF16 copy of a weight matrix: linear() over `f32` with one row of input (decode) streams
 * `bf16` instead, half the bytes. */
typedef struct tfx_bf16_view {
    const float *f32;             /* the matrix as plugins see it */
    int64_t numel;
    const uint16_t *bf16;         /* [numel] */
} tfx_bf16_view;

/* Use these copies (sorted by f32, owned by the caller, alive until replaced or forgotten). */
void tfx_host_use_bf16(const tfx_bf16_view *views, size_t n);
/* Stop using `views` if they are the ones in use. */
void tfx_host_forget_bf16(const tfx_bf16_view *views);

/* Route linear() with more than one row (prefill) through oneDNN's bf16 matmul for the weights
 * `mm` holds (owned by the caller; NULL: OpenBLAS's sgemm for all). */
struct tfx_mm;
void tfx_host_use_mm(struct tfx_mm *mm);
/* Training in mixed precision: as tfx_host_use_mm, and linear() adds each weight it meets to
 * `mm` (bf16 copies the trainer refreshes after each step); linear_backward's dX and dW products
 * and gemm's with beta 0 or 1 run through oneDNN too (NULL: all fp32 again). */
void tfx_host_use_mm_training(struct tfx_mm *mm);
/* Products linear() has run through oneDNN so far. */
uint64_t tfx_host_mm_products(void);

/* Floating-point operations done by linear/gemm since the last reset (2·M·N·K each). */
uint64_t tfx_host_flops(void);
void tfx_host_flops_reset(void);

#endif
