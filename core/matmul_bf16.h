/* core/matmul_bf16.h — bf16 matrix products through oneDNN's matmul primitive (bf16 operands, fp32
 * accumulation and output), and the per-machine choice between it and OpenBLAS's sgemm. */
#ifndef TFX_CORE_MATMUL_BF16_H
#define TFX_CORE_MATMUL_BF16_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* oneDNN's engine and stream, the weights it holds (bf16, in the layout its matmul prefers),
 * primitives created once per shape, and the bf16 scratch for activations. One owner. */
typedef struct tfx_mm tfx_mm;

/* Open oneDNN's CPU engine and create a probe bf16 matmul of [M, K]·[K, N]. Returns NULL with err
 * when the CPU (or ONEDNN_MAX_CPU_ISA) offers no bf16 matmul: the caller keeps fp32. */
tfx_mm *tfx_mm_open(int64_t M, int64_t N, int64_t K, tfx_error *err);
void tfx_mm_close(tfx_mm *mm);

/* oneDNN's name for the probe's implementation, e.g. "brg:avx512_core_amx_bf16". */
const char *tfx_mm_impl(const tfx_mm *mm);

/* oneDNN's CPU ISA in effect ("avx512_core_bf16", "avx2", ...): the machine's, or lower where
 * ONEDNN_MAX_CPU_ISA limits it. */
const char *tfx_mm_isa(void);

/* Threads of oneDNN's OpenMP runtime for products started from this thread (--threads). */
void tfx_mm_set_threads(int n);

/* Convert W[N, K] (fp32, row-major: what linear() takes) to bf16 in the layout the probe's
 * primitive prefers, once, and keep it under W's address. Returns 0, or -1 with err. */
int tfx_mm_add_weight(tfx_mm *mm, const float *W, int64_t N, int64_t K, tfx_error *err);

/* Convert every weight added so far again from its fp32 matrix (training changes them each
 * step): one oneDNN reorder each, on oneDNN's threads. Returns 0, or -1 with err. */
int tfx_mm_refresh_weights(tfx_mm *mm, tfx_error *err);

/* Bytes the weights added so far take. */
uint64_t tfx_mm_weight_bytes(const tfx_mm *mm);

/* out[M, N] = in[M, K]·W[N, K]ᵀ + bias[N] (bias may be NULL) with W added before; in is rounded
 * to bf16 per call. Returns 0; 1 when W was not added or this shape has no bf16 primitive (the
 * caller computes it in fp32); -1 with err when oneDNN fails. */
int tfx_mm_linear(tfx_mm *mm, float *out, const float *in, const float *W, const float *bias,
                  int64_t M, tfx_error *err);

/* C[M, N] = alpha·op(A)·op(B) + beta·C (beta 0 or 1; 1 adds in fp32, inside oneDNN's kernel: a
 * sum post-op), op(X) = Xᵀ where trans_x; A and B are fp32 (leading dimensions
 * lda, ldb, row-major as stored), rounded to bf16 per call (alpha·A rounded): products of two
 * activations, such as attention's q·Kᵀ and p·V, or training's dX = dY·W and dW = dYᵀ·X.
 * Returns 0; 1 when this shape has no bf16 primitive or beta is neither 0 nor 1 (compute it in
 * fp32); -1 with err. */
int tfx_mm_gemm(tfx_mm *mm, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                float *C, int64_t ldc, tfx_error *err);

/* ---- the choice of prefill path ------------------------------------------------------------ */

typedef enum tfx_bf16_prefill {
    TFX_BF16_PREFILL_AUTO,        /* whichever measures faster here */
    TFX_BF16_PREFILL_ONEDNN,      /* oneDNN wherever it has a bf16 matmul */
    TFX_BF16_PREFILL_FP32,        /* OpenBLAS's sgemm over the fp32 weights */
} tfx_bf16_prefill;

/* The modes' names in tfx_bf16_prefill's order, NULL-terminated: --bf16-prefill's choices. */
extern const char *const tfx_bf16_prefill_names[];

typedef struct tfx_prefill_choice {
    bool onednn;                  /* route prefill's linears through mm */
    double bf16_gflops, fp32_gflops; /* measured on the shape (0: not measured) */
    int64_t M, N, K;              /* the shape measured */
    char impl[96];                /* oneDNN's implementation, "" when it has none */
    char why[256];                /* one sentence for the report */
} tfx_prefill_choice;

/* Choose the prefill path for `mode` on a representative product [M, K]·[K, N]: open oneDNN
 * (*mm, owned by the caller; NULL when the choice is fp32), and with auto time both kernels
 * (a few reps of each, tens of milliseconds). Never fails for want of a bf16 matmul: that
 * choice is fp32, and `why` says so. Returns 0, or -1 with err when memory runs out. */
int tfx_prefill_choose(tfx_bf16_prefill mode, int64_t M, int64_t N, int64_t K, tfx_mm **mm,
                       tfx_prefill_choice *c, tfx_error *err);

#endif
