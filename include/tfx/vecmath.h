/* tfx/vecmath.h — elementwise maths for the hot loops of plugins and the core (exp, log, tanh,
 * sin/cos and what is built on them), written so that the compiler vectorises a loop of them. */
#ifndef TFX_VECMATH_H
#define TFX_VECMATH_H

#include <stdint.h>
#include <string.h>

/* TFX_VECTORIZED on a function that loops over floats: GCC builds it for AVX-512, AVX2+FMA and
 * plain x86-64 and picks the best the CPU has when the library loads, so one binary runs
 * everywhere and uses the wide registers where they exist. Elsewhere it is empty. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define TFX_VECTORIZED __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TFX_VECTORIZED
#endif

/* e^x in float, within 2 ulp of libm's expf for x in [-87.33, 88.37]; 0 below (so a masked
 * score of -inf weighs exactly nothing; libm gives subnormals down to -103.9), +inf above (libm
 * overflows above 88.72). Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2,
 * then Cephes' degree-6 polynomial for e^r, scaled by 2^n through the exponent bits. No
 * branches, no libm call: a loop of these vectorises. */
static inline float tfx_expf(float x)
{
    const float hi = 88.37f, lo = -87.3365f; /* 2^n stays a normal float */
    float xc = x > hi ? hi : (x < lo ? lo : x);
    /* round(xc / ln2) by adding and removing 1.5·2^23 (round to nearest even). */
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693359375f;    /* ln2 split into a part exact in float … */
    r = r - n * -2.12194440e-4f;        /* … and the rest */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23; /* 2^n, n in [-126, 127] */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale;
    y = x > hi ? (float)__builtin_inff() : y;
    return x < lo ? 0.0f : y;
}

/* ln x for x > 0 and finite (what a uniform in (0, 1] gives): within 2 ulp of libm's logf for
 * normal x. x = m·2^e with m in [√½, √2), then Cephes' degree-9 polynomial in m − 1. */
static inline float tfx_logf(float x)
{
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int32_t e = ((bits >> 23) & 0xff) - 127;
    int32_t mant = (bits & 0x007fffff) | 0x3f800000; /* m in [1, 2) */
    float m;
    memcpy(&m, &mant, sizeof m);
    int big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1 : e;
    float f = m - 1.0f, z = f * f;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float y = f * z * p;
    float fe = (float)e;
    y += -2.12194440e-4f * fe;
    y += -0.5f * z;
    return f + y + 0.693359375f * fe;
}

/* cos(2πt) and sin(2πt) for t in [0, 1]: the turn is reduced to a quarter (t = q/4 + r,
 * |r| ≤ 1/8), both functions are Taylor polynomials on [−π/4, π/4] (error below 3e-8), and the
 * quarter picks signs and order. Branch-free. */
static inline void tfx_cossin_turn(float t, float *c, float *s)
{
    float q = (t * 4.0f + 12582912.0f) - 12582912.0f; /* round(4t) */
    float a = (t - q * 0.25f) * 6.28318530718f, a2 = a * a;
    float sn = a * (1.0f + a2 * (-1.0f / 6 + a2 * (1.0f / 120 + a2 * (-1.0f / 5040 + a2 * (1.0f / 362880)))));
    float cs = 1.0f + a2 * (-0.5f + a2 * (1.0f / 24 + a2 * (-1.0f / 720 + a2 * (1.0f / 40320))));
    int32_t quarter = (int32_t)q & 3;
    float cos_out = quarter == 0 ? cs : quarter == 1 ? -sn : quarter == 2 ? -cs : sn;
    float sin_out = quarter == 0 ? sn : quarter == 1 ? cs : quarter == 2 ? -sn : -cs;
    *c = cos_out;
    *s = sin_out;
}

/* tanh(x) = sign(x)·(1 − e^{−2|x|}) / (1 + e^{−2|x|}): within 2e-7 absolute of libm's tanhf
 * (it is what GELU's 1 + tanh needs; relative error near 0 is larger). */
static inline float tfx_tanhf(float x)
{
    float ax = x < 0 ? -x : x;
    float e = tfx_expf(-2.0f * ax);
    float t = (1.0f - e) / (1.0f + e);
    return x < 0 ? -t : t;
}

/* GELU with the tanh approximation (HF's gelu_new, GPT-2). */
static inline float tfx_gelu_tanhf(float x)
{
    return 0.5f * x * (1.0f + tfx_tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}

/* SiLU (swish): x·σ(x). */
static inline float tfx_siluf(float x) { return x / (1.0f + tfx_expf(-x)); }

/* d/dx of tfx_gelu_tanhf: with u = k(x + 0.044715x³) and t = tanh u,
 * 0.5(1 + t) + 0.5·x·(1 − t²)·k(1 + 3·0.044715x²). */
static inline float tfx_gelu_tanh_grad(float x)
{
    const float k = 0.7978845608028654f;
    float t = tfx_tanhf(k * (x + 0.044715f * x * x * x));
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 0.134145f * x * x);
}

/* d/dx of tfx_siluf: σ(x)·(1 + x·(1 − σ(x))). */
static inline float tfx_silu_grad(float x)
{
    float s = 1.0f / (1.0f + tfx_expf(-x));
    return s * (1.0f + x * (1.0f - s));
}

#endif
