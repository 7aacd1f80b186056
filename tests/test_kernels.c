/* tests/test_kernels.c — tfx's own kernels: the worker pool covers every item exactly once, even
 * right after a restart; fp32 and BF16 matrix-vector products equal a double loop. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gemv.h"
#include "pool.h"
#include "runtime.h"

static void count_items(void *ctx, int64_t begin, int64_t end)
{
    int *hits = ctx;
    for (int64_t i = begin; i < end; i++)
        hits[i]++;
}

static void pool_case(void **state)
{
    enum { N = 1000 };
    int hits[N];
    for (int round = 0; round < 300; round++) {
        if (round % 3 == 0)
            tfx_pool_start(1 + round % 4); /* a job follows at once: the race a restart opens */
        memset(hits, 0, sizeof hits);
        int64_t n = 1 + (round * 37) % N;
        tfx_pool_run(count_items, hits, n, 16, 1);
        for (int64_t i = 0; i < N; i++)
            if (hits[i] != (i < n))
                fail_msg("round %d (%d threads): item %lld done %d times", round,
                         tfx_pool_threads(), (long long)i, hits[i]);
    }
    tfx_pool_stop();
    assert_int_equal(tfx_pool_threads(), 1);
}

static float *random_floats(int64_t n, unsigned seed)
{
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    return x;
}

static void gemv_case(void **state)
{
    const int64_t sizes[][2] = {{1, 1}, {17, 63}, {33, 64}, {100, 130}, {5000, 768}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const int64_t N = sizes[s][0], K = sizes[s][1], ldw = K + 3;
        float *W = random_floats(N * ldw, 1), *x = random_floats(K > N ? K : N, 2);
        float *bias = random_floats(N, 3), *y = random_floats(N, 4), *y0 = malloc((size_t)N * 4);
        memcpy(y0, y, (size_t)N * 4);
        tfx_gemv(y, W, ldw, x, bias, N, K, 0.5f, 2.0f);
        for (int64_t r = 0; r < N; r++) {
            double want = 0;
            for (int64_t k = 0; k < K; k++)
                want += (double)W[r * ldw + k] * x[k];
            want = 0.5 * want + bias[r] + 2.0 * y0[r];
            if (fabs(y[r] - want) > 1e-5 * (1 + sqrt((double)K)))
                fail_msg("gemv %lldx%lld row %lld: %g, want %g", (long long)N, (long long)K,
                         (long long)r, y[r], want);
        }
        /* Transposed: y[N] = alpha·W[K, N]ᵀ·x[K] + beta·y, with W's rows ldw apart. */
        if (N <= ldw) {
            memcpy(y, y0, (size_t)N * 4);
            tfx_gemv_t(y, W, ldw, x, N, K < N ? K : N, 1.5f, 0.0f);
            for (int64_t n = 0; n < N; n++) {
                double want = 0;
                for (int64_t k = 0; k < (K < N ? K : N); k++)
                    want += (double)W[k * ldw + n] * x[k];
                assert_true(fabs(y[n] - 1.5 * want) < 1e-4);
            }
        }
        free(W), free(x), free(bias), free(y), free(y0);
    }
}

static float from_bf16(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void bf16_case(void **state)
{
    /* rounding: exact values stay, halfway cases go to even, NaN stays NaN, Inf stays Inf */
    const float in[] = {1.0f, -2.5f, 1.00390625f /* 1 + 2^-8: halfway, to even (1) */,
                        1.01171875f /* 1 + 3·2^-8: halfway, to even (1 + 2^-6) */, INFINITY, NAN};
    uint16_t out[6];
    tfx_to_bf16(out, in, 6);
    assert_int_equal(out[0], 0x3f80);
    assert_int_equal(out[1], 0xc020);
    assert_int_equal(out[2], 0x3f80);
    assert_int_equal(out[3], 0x3f82);
    assert_int_equal(out[4], 0x7f80);
    assert_true(isnan(from_bf16(out[5])));
    /* the product over BF16 weights equals a double loop over the same (widened) weights */
    tfx_pool_start(2);
    const int64_t sizes[][2] = {{1, 1}, {17, 63}, {33, 64}, {100, 130}, {5000, 768}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const int64_t N = sizes[s][0], K = sizes[s][1];
        float *W = random_floats(N * K, 5), *x = random_floats(K, 6), *bias = random_floats(N, 7);
        float *y = random_floats(N, 8), *y0 = malloc((size_t)N * 4);
        uint16_t *half = malloc((size_t)(N * K) * sizeof *half);
        memcpy(y0, y, (size_t)N * 4);
        tfx_to_bf16(half, W, N * K);
        tfx_gemv_bf16(y, half, x, bias, N, K, 0.5f);
        for (int64_t r = 0; r < N; r++) {
            double want = 0;
            for (int64_t k = 0; k < K; k++)
                want += (double)from_bf16(half[r * K + k]) * x[k];
            want += bias[r] + 0.5 * y0[r];
            if (fabs(y[r] - want) > 1e-5 * (1 + sqrt((double)K)))
                fail_msg("bf16 gemv %lldx%lld row %lld: %g, want %g", (long long)N, (long long)K,
                         (long long)r, y[r], want);
        }
        free(W), free(x), free(bias), free(y), free(y0), free(half);
    }
    tfx_pool_stop();
}

static int descending(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* Top-k's cutoff: for every k, the value a descending sort puts at k-1 (repeats counted, as the
 * repeated selection it replaced found it), on logits with many ties. */
static void kth_largest_case(void **state)
{
    enum { N = 301 };
    float x[N], sorted[N], heap[N];
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((int)(s >> 33) % 41 - 20) * 0.5f; /* 41 distinct values: ties */
    }
    x[7] = -INFINITY;
    memcpy(sorted, x, sizeof x);
    qsort(sorted, N, sizeof *sorted, descending);
    for (int k = 1; k <= N; k++)
        if (tfx_kth_largest(x, N, k, heap) != sorted[k - 1])
            fail_msg("k %d: got %g, want %g", k, tfx_kth_largest(x, N, k, heap), sorted[k - 1]);
    float one = 3.0f;
    assert_true(tfx_kth_largest(&one, 1, 1, heap) == 3.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pool_case),
        cmocka_unit_test(gemv_case),
        cmocka_unit_test(bf16_case),
        cmocka_unit_test(kth_largest_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
