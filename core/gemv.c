/* core/gemv.c — one-row matrix products of a decode step's attention (q·Kᵀ over the cache, p·V),
 * where OpenBLAS's sgemm at M = 1 is several times slower than a plain vectorised loop. */
#include "gemv.h"

#include <tfx/vecmath.h>


/* 16 floats; GCC lowers it to one AVX-512 register, two AVX ones or four SSE ones. The
 * unaligned variant loads from any float (vectors may alias their element type). */
typedef float vec16 __attribute__((vector_size(64)));
typedef float vec16_unaligned __attribute__((vector_size(64), aligned(4)));
#define LOAD16(p) (*(const vec16_unaligned *)(p))

typedef struct gemv_job {
    float *y;
    const float *W, *x, *bias;
    int64_t ldw, K;
    float alpha, beta;
} gemv_job;

/* Rows [begin, end): four independent FMA chains of 16 lanes per row, so that loads, not the
 * latency of one chain, set the pace. */
static TFX_VECTORIZED void gemv_rows(void *ctx, int64_t begin, int64_t end)
{
    const gemv_job *j = ctx;
    const int64_t K = j->K, body = K - K % 64;
    const float *x = j->x;
    for (int64_t r = begin; r < end; r++) {
        const float *w = j->W + r * j->ldw;
        vec16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (int64_t k = 0; k < body; k += 64) {
            a0 += LOAD16(w + k) * LOAD16(x + k);
            a1 += LOAD16(w + k + 16) * LOAD16(x + k + 16);
            a2 += LOAD16(w + k + 32) * LOAD16(x + k + 32);
            a3 += LOAD16(w + k + 48) * LOAD16(x + k + 48);
        }
        vec16 a = (a0 + a1) + (a2 + a3);
        float sum = 0.0f;
        for (int l = 0; l < 16; l++)
            sum += a[l];
        for (int64_t k = body; k < K; k++)
            sum += w[k] * x[k];
        sum *= j->alpha;
        if (j->bias)
            sum += j->bias[r];
        j->y[r] = j->beta != 0.0f ? sum + j->beta * j->y[r] : sum;
    }
}

void tfx_gemv(float *y, const float *W, int64_t ldw, const float *x, const float *bias, int64_t N,
              int64_t K, float alpha, float beta)
{
    gemv_job job = {.y = y, .W = W, .x = x, .bias = bias, .ldw = ldw, .K = K, .alpha = alpha,
                    .beta = beta};
    gemv_rows(&job, 0, N);
}

static TFX_VECTORIZED void gemv_t_rows(float *y, const float *W, int64_t ldw, const float *x,
                                       int64_t N, int64_t K, float alpha, float beta)
{
    for (int64_t n = 0; n < N; n++)
        y[n] = beta != 0.0f ? beta * y[n] : 0.0f;
    for (int64_t k = 0; k < K; k++) {
        const float *w = W + k * ldw;
        const float xk = alpha * x[k];
        for (int64_t n = 0; n < N; n++)
            y[n] += xk * w[n];
    }
}

void tfx_gemv_t(float *y, const float *W, int64_t ldw, const float *x, int64_t N, int64_t K,
                float alpha, float beta)
{
    gemv_t_rows(y, W, ldw, x, N, K, alpha, beta);
}

const char *tfx_kernel_isa(void)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    if (__builtin_cpu_supports("x86-64-v4"))
        return "AVX-512";
    if (__builtin_cpu_supports("x86-64-v3"))
        return "AVX2";
    return "SSE2";
#else
    return "the compiler's default";
#endif
}
