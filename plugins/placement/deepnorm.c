/* plugins/placement/deepnorm.c — DeepNorm (Wang et al. 2022, "DeepNet"): post-LN with the
 * residual up-weighted, x = norm(α·x + f(x)), α from the stacks' depths; no final norm. */
#include <math.h>

#include "block.h"

static const tfx_option options[] = {
    {.name = "alpha", .type = TFX_OPT_FLOAT, .default_value = "0",
     .doc = "the residual's weight; 0: DeepNet's, (2N)^(1/4) for one stack of N layers, encoder 0.81(N^4 M)^(1/16) and decoder (3M)^(1/4) with N encoder and M decoder layers",
     .min = 0, .max = 1e6},
};

typedef struct deepnorm {
    placement base;               /* first: the shared helpers take it as a placement */
    float alpha;
} deepnorm;

/* DeepNet's α for this instance's stack (Table 1 of the paper). */
static double paper_alpha(const tfx_config *cfg)
{
    const double own = (double)cfg->dims.layers;
    const int64_t other = cfg->size >= offsetof(tfx_config, other_layers) + sizeof cfg->other_layers
                              ? cfg->other_layers : 0;
    if (other <= 0)
        return pow(2.0 * own, 0.25);
    if (cfg->stack && cfg->stack[0] == 'e') /* the encoder: N own, M the decoder's */
        return 0.81 * pow(own * own * own * own * (double)other, 1.0 / 16);
    return pow(3.0 * own, 0.25);
}

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    deepnorm *p = calloc(1, sizeof *p);
    if (!p)
        return cfg->host->fail(st, "out of memory");
    p->base.host = cfg->host;
    double a = cfg->options[0].f > 0 ? cfg->options[0].f : paper_alpha(cfg);
    p->alpha = (float)a;
    *state = p;
    return 0;
}

static int declare_norms(void *state, const char *const *sublayers, int n, tfx_declarer *d,
                         tfx_status *st)
{
    return declare_each(state, sublayers, n, "_norm", d, st);
}

static int forward(void *state, const tfx_block_io *io, tfx_status *st)
{
    const deepnorm *p = state;
    return post_forward(&p->base, p->alpha, io, st);
}

/* In reverse: through the norm to the sum; the sum's gradient reaches x through the residual
 * (times α) and through the sublayer. */
static int backward(void *state, const tfx_block_grad_io *io, tfx_status *st)
{
    const deepnorm *p = state;
    return post_backward(&p->base, p->alpha, io, st);
}

static const tfx_placement_ops ops = {
    .size = sizeof ops, .declare_norms = declare_norms, .forward = forward, .final_norm = 0,
    .backward = backward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_PLACEMENT,
        .name = "deepnorm", .summary = "DeepNorm: x = norm(alpha·x + sublayer(x)), alpha from the depth (DeepNet)",
        .options = options, .n_options = 1,
        .configure = configure, .destroy = placement_destroy, .placement = &ops,
    };
    return &plugin;
}
