/* tools/examples/relu2/relu2.c — an FFN tfx does not ship, built out of tree: squared ReLU
 * (So et al. 2021, "Primer"), out = relu(x·upᵀ)²·downᵀ, with its backward. */
#include <stdlib.h>
#include <string.h>

#include <tfx/plugin.h>

static const tfx_option options[] = {
    {.name = "width", .type = TFX_OPT_INT, .default_value = "0",
     .doc = "hidden width; 0: 4 x d_model", .min = 0, .max = 1e9},
};

typedef struct relu2 {
    const tfx_host *host;
    int64_t C, W;                 /* d_model, hidden width */
    int training;
} relu2;

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    const int64_t C = cfg->dims.d_model, W = cfg->options[0].i ? cfg->options[0].i : 4 * C;
    relu2 *p = malloc(sizeof *p);
    if (!p)
        return cfg->host->fail(st, "out of memory");
    *p = (relu2){.host = cfg->host, .C = C, .W = W,
                 .training = cfg->size >= offsetof(tfx_config, training) + sizeof cfg->training &&
                             cfg->training};
    *state = p;
    return 0;
}

static void destroy(void *state) { free(state); }

static int declare(void *state, tfx_declarer *d, tfx_status *st)
{
    const relu2 *p = state;
    int64_t up[2] = {p->W, p->C}, down[2] = {p->C, p->W};
    return p->host->declare_tensor(d, "up.weight", 2, up, TFX_INIT_NORMAL, st) ||
                   p->host->declare_tensor(d, "down.weight", 2, down, TFX_INIT_NORMAL, st)
               ? -1 : 0;
}

/* h [T, W]; in training the pre-activations [T, W] too. */
static int64_t workspace_floats(void *state, int64_t T)
{
    const relu2 *p = state;
    return (p->training ? 2 : 1) * T * p->W;
}

static int forward(void *state, const float *const *w, float *out, const float *x, int64_t T,
                   float *workspace, tfx_status *st)
{
    const relu2 *p = state;
    float *h = workspace; /* [T, W] */
    p->host->linear(h, x, w[0], NULL, T, p->C, p->W, 0.0f);
    if (p->training)
        memcpy(workspace + T * p->W, h, (size_t)(T * p->W) * sizeof *h);
    for (int64_t i = 0; i < T * p->W; i++)
        h[i] = h[i] > 0 ? h[i] * h[i] : 0.0f;
    p->host->linear(out, h, w[1], NULL, T, p->W, p->C, 0.0f);
    return 0;
}

static int64_t backward_workspace_floats(void *state, int64_t T)
{
    return T * ((const relu2 *)state)->W;
}

/* dh = dout·down (down's gradient from h); dpre = dh · 2·relu(pre); dx = dpre·up. */
static int backward(void *state, const float *const *w, float *const *dw, float *dx,
                    const float *dout, const float *x, int64_t T, float *saved, float *workspace,
                    tfx_status *st)
{
    const relu2 *p = state;
    if (!p->training)
        return p->host->fail(st, "relu2 backward needs an instance configured for training");
    const float *h = saved, *pre = saved + T * p->W; /* [T, W] each */
    float *dh = workspace;                           /* [T, W] */
    p->host->linear_backward(dh, dw[1], NULL, dout, h, w[1], T, p->W, p->C, 0.0f);
    for (int64_t i = 0; i < T * p->W; i++)
        dh[i] *= pre[i] > 0 ? 2.0f * pre[i] : 0.0f;
    p->host->linear_backward(dx, dw[0], NULL, dh, x, w[0], T, p->C, p->W, 0.0f);
    return 0;
}

static int64_t width(void *state) { return ((const relu2 *)state)->W; }

static const tfx_ffn_ops ops = {.size = sizeof ops, .workspace_floats = workspace_floats,
                                .forward = forward, .width = width,
                                .backward_workspace_floats = backward_workspace_floats,
                                .backward = backward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_FFN,
        .name = "relu2", .summary = "squared-ReLU FFN (Primer): relu(x·up)^2·down",
        .options = options, .n_options = 1,
        .configure = configure, .destroy = destroy, .declare = declare, .ffn = &ops,
    };
    return &plugin;
}
