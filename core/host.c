/* core/host.c — the services plugins call: matrix products through OpenBLAS, softmax, error
 * reporting; FLOPs are counted here, in one place, for the measured GFLOP/s. */
#include "host.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

static uint64_t flops_done;

uint64_t tfx_host_flops(void) { return flops_done; }
void tfx_host_flops_reset(void) { flops_done = 0; }

static void host_linear(float *out, const float *in, const float *weight, const float *bias,
                        int64_t M, int64_t K, int64_t N, float beta)
{
    if (M == 1) {
        /* One row: a matrix-vector product streams the weights once. */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)K, 1.0f, weight, (int)K, in, 1,
                    beta, out, 1);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, in,
                    (int)K, weight, (int)K, beta, out, (int)N);
    }
    if (bias) {
        for (int64_t i = 0; i < M; i++) {
            float *row = out + i * N;
            for (int64_t j = 0; j < N; j++)
                row[j] += bias[j];
        }
    }
    flops_done += 2u * (uint64_t)M * (uint64_t)N * (uint64_t)K;
}

static void host_gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda,
                B, (int)ldb, beta, C, (int)ldc);
    flops_done += 2u * (uint64_t)M * (uint64_t)N * (uint64_t)K;
}

static void host_softmax_rows(float *x, int64_t rows, int64_t cols, int64_t ld)
{
    for (int64_t r = 0; r < rows; r++) {
        float *row = x + r * ld;
        float max = -INFINITY;
        for (int64_t j = 0; j < cols; j++)
            if (row[j] > max)
                max = row[j];
        if (max == -INFINITY) { /* every entry masked: no attention at all */
            memset(row, 0, (size_t)cols * sizeof *row);
            continue;
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < cols; j++) {
            row[j] = expf(row[j] - max);
            sum += row[j];
        }
        float inv = 1.0f / sum;
        for (int64_t j = 0; j < cols; j++)
            row[j] *= inv;
    }
}

static int host_fail(tfx_status *st, const char *fmt, ...)
{
    if (st) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->msg, sizeof st->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const tfx_host host_table = {
    .size = sizeof(tfx_host),
    .abi_version = 1,
    .linear = host_linear,
    .gemm = host_gemm,
    .softmax_rows = host_softmax_rows,
    .fail = host_fail,
    .declare_tensor = tfx_model_declare_tensor,
    .declare_norm = tfx_model_declare_norm,
};

const tfx_host *tfx_host_table(void) { return &host_table; }
