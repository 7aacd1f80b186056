/* tests/test_vecmath.c — the vectorisable maths of include/tfx/vecmath.h against libm: exp and
 * log within 2 ulp, exact edges, tanh, GELU, sin and cos within their stated bounds. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <tfx/vecmath.h>

/* Distance in units in the last place between two finite floats of the same sign. */
static int64_t ulps(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

static void exp_case(void **state)
{
    int64_t worst = 0;
    for (float x = -87.3f; x <= 88.3f; x += 0.00137f) {
        int64_t u = ulps(tfx_expf(x), expf(x));
        if (u > worst)
            worst = u;
    }
    if (worst > 2)
        fail_msg("tfx_expf is %lld ulp from expf", (long long)worst);
    assert_true(tfx_expf(0.0f) == 1.0f);
    assert_true(tfx_expf(-INFINITY) == 0.0f); /* a masked score weighs nothing */
    assert_true(tfx_expf(-100.0f) == 0.0f);
    assert_true(isinf(tfx_expf(100.0f)));
}

static void tanh_gelu_case(void **state)
{
    double worst_tanh = 0, worst_gelu = 0;
    for (float x = -12.0f; x <= 12.0f; x += 0.00071f) {
        double t = fabs((double)tfx_tanhf(x) - tanh((double)x));
        double g0 = 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * (double)x * x * x)));
        double g = fabs((double)tfx_gelu_tanhf(x) - g0) / fmax(1.0, fabs(g0));
        worst_tanh = t > worst_tanh ? t : worst_tanh;
        worst_gelu = g > worst_gelu ? g : worst_gelu;
    }
    if (worst_tanh > 2e-7 || worst_gelu > 5e-7)
        fail_msg("tanh off by %g, gelu_tanh by %g", worst_tanh, worst_gelu);
    assert_true(tfx_tanhf(30.0f) == 1.0f && tfx_tanhf(-30.0f) == -1.0f);
    assert_true(fabsf(tfx_siluf(3.0f) - 3.0f / (1.0f + expf(-3.0f))) < 1e-6f);
    assert_true(tfx_siluf(-200.0f) == 0.0f);
}

static void log_cossin_case(void **state)
{
    int64_t worst = 0;
    for (float x = 1e-7f; x <= 1.0f; x *= 1.0013f) {
        int64_t u = ulps(-tfx_logf(x), -logf(x));
        if (x != 1.0f && u > worst)
            worst = u;
    }
    if (worst > 2)
        fail_msg("tfx_logf is %lld ulp from logf", (long long)worst);
    assert_true(tfx_logf(1.0f) == 0.0f);
    assert_true(fabsf(tfx_logf(5.9604645e-8f) - logf(5.9604645e-8f)) < 1e-5f); /* 2^-24 */
    double worst_trig = 0;
    for (float t = 0.0f; t <= 1.0f; t += 1.0f / 4099) {
        float c, s;
        tfx_cossin_turn(t, &c, &s);
        worst_trig = fmax(worst_trig, fabs(c - cos(6.283185307179586 * t)));
        worst_trig = fmax(worst_trig, fabs(s - sin(6.283185307179586 * t)));
    }
    if (worst_trig > 3e-7)
        fail_msg("tfx_cossin_turn off by %g", worst_trig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exp_case),
        cmocka_unit_test(tanh_gelu_case),
        cmocka_unit_test(log_cossin_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
