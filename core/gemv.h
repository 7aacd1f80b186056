/* core/gemv.h — tfx's own matrix-vector products for the attention of one-token steps (decode),
 * over row-major matrices, vectorised; single-threaded (a head's keys are small). */
#ifndef TFX_CORE_GEMV_H
#define TFX_CORE_GEMV_H

#include <stdint.h>

/* y[N] = alpha·W[N, K]·x[K] + bias[N] (bias may be NULL) + beta·y[N]; W's rows are ldw apart. */
void tfx_gemv(float *y, const float *W, int64_t ldw, const float *x, const float *bias, int64_t N,
              int64_t K, float alpha, float beta);

/* y[N] = alpha·W[K, N]ᵀ·x[K] + beta·y[N]: a weighted sum of W's rows (attention's p·V). */
void tfx_gemv_t(float *y, const float *W, int64_t ldw, const float *x, int64_t N, int64_t K,
                float alpha, float beta);

/* The instruction set the vectorised kernels run with here: "AVX-512", "AVX2" or "SSE2". */
const char *tfx_kernel_isa(void);

#endif
