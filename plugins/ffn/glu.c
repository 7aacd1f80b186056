/* plugins/ffn/glu.c — gated linear units (Shazeer, 2020): out = (act(x·gateᵀ) ⊙ x·upᵀ)·downᵀ;
 * SwiGLU with silu (Llama), GeGLU with gelu. */
#include "ffn.h"

static const char *const choices[] = {"silu", "gelu", "gelu_tanh", NULL};

static const tfx_option options[N_OPTIONS] = {
    [OPT_WIDTH] = {.name = "width", .type = TFX_OPT_INT, .default_value = "0",
                   .doc = "hidden width; 0: mult x d_model", .min = 0, .max = 1e9},
    [OPT_MULT] = {.name = "mult", .type = TFX_OPT_FLOAT, .default_value = "2.6666666666666667",
                  .doc = "hidden width as a multiple of d_model, when width is 0 (8/3 matches a 4x MLP's parameters)",
                  .min = 1e-6, .max = 1e6},
    [OPT_ACTIVATION] = {.name = "activation", .type = TFX_OPT_ENUM, .default_value = "silu",
                        .doc = "silu: SwiGLU; gelu / gelu_tanh: GeGLU", .choices = choices},
    [OPT_BIAS] = {.name = "bias", .type = TFX_OPT_BOOL, .default_value = "false",
                  .doc = "biases on the three projections", .min = 1, .max = 0},
    FFN_INIT_OPTION,
};

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    return ffn_configure(cfg, choices, state, st);
}

static int declare(void *state, tfx_declarer *d, tfx_status *st)
{
    const ffn *f = state;
    return declare_linear(f, d, "gate.weight", "gate.bias", f->W, f->C, st) ||
                   declare_linear(f, d, "up.weight", "up.bias", f->W, f->C, st) ||
                   declare_linear_as(f, d, "down.weight", "down.bias", f->C, f->W, 1, st)
               ? -1 : 0;
}

/* Inference: gate and up [T, W] each. Training: the gate's pre-activations [T, W] as well. */
static int64_t workspace_floats(void *state, int64_t T)
{
    const ffn *f = state;
    return ffn_floats(f->training ? 3 : 2, T, f->W);
}

static int forward(void *state, const float *const *w, float *out, const float *x, int64_t T,
                   float *workspace, tfx_status *st)
{
    const ffn *f = state;
    const int b = f->bias;
    const float *gate = w[0], *up = w[b ? 2 : 1], *down = w[b ? 4 : 2];
    float *gated = workspace, *upped = workspace + T * f->W; /* [T, W] each */
    f->host->linear(gated, x, gate, b ? w[1] : NULL, T, f->C, f->W, 0.0f);
    f->host->linear(upped, x, up, b ? w[3] : NULL, T, f->C, f->W, 0.0f);
    if (f->training) { /* keep the gate's pre-activations [T, W] after up */
        float *pre = workspace + 2 * T * f->W;
        memcpy(pre, gated, (size_t)(T * f->W) * sizeof *pre);
    }
    activate(f->act, gated, T * f->W);
    for (int64_t i = 0; i < T * f->W; i++)
        gated[i] *= upped[i];
    f->host->linear(out, gated, down, b ? w[5] : NULL, T, f->W, f->C, 0.0f);
    return 0;
}

static int64_t backward_workspace_floats(void *state, int64_t T)
{
    return ffn_floats(2, T, ((const ffn *)state)->W);
}

/* dh = dout·down; the gate's and up's gradients from the product; dx = dg·gate + du·up. */
static int backward(void *state, const float *const *w, float *const *dw, float *dx,
                    const float *dout, const float *x, int64_t T, float *saved, float *workspace,
                    tfx_status *st)
{
    const ffn *f = state;
    if (!f->training)
        return f->host->fail(st, "glu backward needs an instance configured for training");
    const int b = f->bias;
    const int64_t n = T * f->W;
    const float *gate = w[0], *up = w[b ? 2 : 1], *down = w[b ? 4 : 2];
    const float *hidden = saved, *upped = saved + n, *pre = saved + 2 * n; /* [T, W] each */
    float *dh = workspace, *du = workspace + n;                           /* [T, W] each */
    f->host->linear_backward(dh, dw[b ? 4 : 2], b ? dw[5] : NULL, dout, hidden, down, T, f->W,
                             f->C, 0.0f);
    glu_split_product(dh, du, dh, upped, pre, f->act, n);
    f->host->linear_backward(dx, dw[0], b ? dw[1] : NULL, dh, x, gate, T, f->C, f->W, 0.0f);
    f->host->linear_backward(dx, dw[b ? 2 : 1], b ? dw[3] : NULL, du, x, up, T, f->C, f->W, 1.0f);
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
        .name = "glu", .summary = "gated FFN: (act(x·gate) * x·up)·down (SwiGLU, GeGLU)",
        .options = options, .n_options = N_OPTIONS,
        .configure = configure, .destroy = ffn_destroy, .declare = declare, .ffn = &ops,
    };
    return &plugin;
}
