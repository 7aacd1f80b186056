/* tests/test_kernels.c — tfx's own matrix-vector kernels (decode's attention) against a plain
 * double-precision loop, for sizes that are not multiples of the vector width. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gemv.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gemv_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
