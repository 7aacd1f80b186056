/* plugins/ffn/activation.h — the activation functions of the FFN plugins, as PyTorch computes
 * them in float32, with their names in an enum-indexed table. */
#ifndef TFX_FFN_ACTIVATION_H
#define TFX_FFN_ACTIVATION_H

#include <math.h>
#include <string.h>

#include <tfx/vecmath.h>

typedef enum activation { ACT_RELU, ACT_GELU, ACT_GELU_TANH, ACT_SILU, ACT_COUNT } activation;

static const char *const activation_names[ACT_COUNT + 1] = {
    [ACT_RELU] = "relu", [ACT_GELU] = "gelu", [ACT_GELU_TANH] = "gelu_tanh", [ACT_SILU] = "silu",
    [ACT_COUNT] = NULL,
};

/* The activation named `name`, or -1. */
static inline int activation_from_name(const char *name)
{
    for (int a = 0; a < ACT_COUNT; a++)
        if (strcmp(activation_names[a], name) == 0)
            return a;
    return -1;
}

/* x[n] = act(x[n]) in place; GELU-tanh and SiLU through tfx/vecmath.h, so the loops vectorise. */
static TFX_VECTORIZED void activate(activation act, float *x, int64_t n)
{
    switch (act) {
    case ACT_RELU:
        for (int64_t i = 0; i < n; i++)
            x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case ACT_GELU: /* exact: 0.5·x·(1 + erf(x/√2)) */
        for (int64_t i = 0; i < n; i++)
            x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] * 0.70710678118654752440)));
        break;
    case ACT_GELU_TANH: /* HF's gelu_new */
        for (int64_t i = 0; i < n; i++)
            x[i] = tfx_gelu_tanhf(x[i]);
        break;
    case ACT_SILU:
        for (int64_t i = 0; i < n; i++)
            x[i] = tfx_siluf(x[i]);
        break;
    case ACT_COUNT:
        break;
    }
}

/* dy[n] = dy ⊙ act'(pre) in place: on entry the gradient of act's output, on return that of its
 * input `pre` (the values activate() was given). */
static TFX_VECTORIZED void activate_backward(activation act, float *dy, const float *pre, int64_t n)
{
    switch (act) {
    case ACT_RELU:
        for (int64_t i = 0; i < n; i++)
            dy[i] = pre[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case ACT_GELU: /* Φ(x) + x·φ(x) */
        for (int64_t i = 0; i < n; i++) {
            double x = pre[i];
            double g = 0.5 * (1.0 + erf(x * 0.70710678118654752440)) +
                       x * exp(-0.5 * x * x) * 0.39894228040143267794;
            dy[i] = (float)(dy[i] * g);
        }
        break;
    case ACT_GELU_TANH:
        for (int64_t i = 0; i < n; i++)
            dy[i] *= tfx_gelu_tanh_grad(pre[i]);
        break;
    case ACT_SILU:
        for (int64_t i = 0; i < n; i++)
            dy[i] *= tfx_silu_grad(pre[i]);
        break;
    case ACT_COUNT:
        break;
    }
}

#endif
