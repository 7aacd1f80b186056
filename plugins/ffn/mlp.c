/* plugins/ffn/mlp.c — the two-layer feed-forward network: out = act(x·upᵀ + b)·downᵀ + b,
 * with ReLU (the original Transformer), GELU (BERT, BART), GELU-tanh (GPT-2) or SiLU. */
#include "ffn.h"

static const char *const choices[] = {"relu", "gelu", "gelu_tanh", "silu", NULL};

static const tfx_option options[N_OPTIONS] = {
    [OPT_WIDTH] = {.name = "width", .type = TFX_OPT_INT, .default_value = "0",
                   .doc = "hidden width; 0: mult x d_model", .min = 0, .max = 1e9},
    [OPT_MULT] = {.name = "mult", .type = TFX_OPT_FLOAT, .default_value = "4",
                  .doc = "hidden width as a multiple of d_model, when width is 0", .min = 1e-6, .max = 1e6},
    [OPT_ACTIVATION] = {.name = "activation", .type = TFX_OPT_ENUM, .default_value = "gelu",
                        .doc = "gelu is the exact erf form; gelu_tanh is HF's gelu_new", .choices = choices},
    [OPT_BIAS] = {.name = "bias", .type = TFX_OPT_BOOL, .default_value = "true",
                  .doc = "biases on both projections", .min = 1, .max = 0},
    FFN_INIT_OPTION,
};

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    return ffn_configure(cfg, choices, state, st);
}

static int declare(void *state, tfx_declarer *d, tfx_status *st)
{
    const ffn *f = state;
    return declare_linear(f, d, "up.weight", "up.bias", f->W, f->C, st) ||
                   declare_linear_as(f, d, "down.weight", "down.bias", f->C, f->W, 1, st)
               ? -1 : 0;
}

/* Inference: the hidden activations [T, W]. Training: the pre-activations [T, W] as well,
 * which backward needs. */
static int64_t workspace_floats(void *state, int64_t T)
{
    const ffn *f = state;
    return ffn_floats(f->training ? 2 : 1, T, f->W);
}

static int forward(void *state, const float *const *w, float *out, const float *x, int64_t T,
                   float *workspace, tfx_status *st)
{
    const ffn *f = state;
    const float *up = w[0], *up_bias = f->bias ? w[1] : NULL;
    const float *down = w[f->bias ? 2 : 1], *down_bias = f->bias ? w[3] : NULL;
    float *hidden = workspace; /* [T, W] */
    f->host->linear(hidden, x, up, up_bias, T, f->C, f->W, 0.0f);
    if (f->training) { /* keep the pre-activations [T, W] after the hidden */
        float *pre = workspace + T * f->W;
        memcpy(pre, hidden, (size_t)(T * f->W) * sizeof *pre);
    }
    activate(f->act, hidden, T * f->W);
    f->host->linear(out, hidden, down, down_bias, T, f->W, f->C, 0.0f);
    return 0;
}

static int64_t backward_workspace_floats(void *state, int64_t T)
{
    return ffn_floats(1, T, ((const ffn *)state)->W);
}

/* Through down, the activation and up, in reverse: dh = dout·down, dh ⊙= act'(pre),
 * dx = dh·up; the weights' gradients accumulate on the way. */
static int backward(void *state, const float *const *w, float *const *dw, float *dx,
                    const float *dout, const float *x, int64_t T, float *saved, float *workspace,
                    tfx_status *st)
{
    const ffn *f = state;
    if (!f->training)
        return f->host->fail(st, "mlp backward needs an instance configured for training");
    const int b = f->bias;
    const float *up = w[0], *down = w[b ? 2 : 1];
    const float *hidden = saved, *pre = saved + T * f->W; /* [T, W] each */
    float *dh = workspace;                                /* [T, W] */
    f->host->linear_backward(dh, dw[b ? 2 : 1], b ? dw[3] : NULL, dout, hidden, down, T, f->W,
                             f->C, 0.0f);
    activate_backward(f->act, dh, pre, T * f->W);
    f->host->linear_backward(dx, dw[0], b ? dw[1] : NULL, dh, x, up, T, f->C, f->W, 0.0f);
    return 0;
}

static const tfx_ffn_ops ops = {.size = sizeof ops, .workspace_floats = workspace_floats,
                                .forward = forward, .width = ffn_width,
                                .backward_workspace_floats = backward_workspace_floats,
                                .backward = backward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_FFN,
        .name = "mlp", .summary = "two-layer MLP: act(x·up)·down",
        .options = options, .n_options = N_OPTIONS,
        .configure = configure, .destroy = ffn_destroy, .declare = declare, .ffn = &ops,
    };
    return &plugin;
}
