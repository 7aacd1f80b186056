/* plugins/placement/pre.c — pre-LN (GPT-2, Llama): each sublayer reads a normed copy of the
 * residual and adds its output back: x += f(norm(x)); the stack ends with a final norm. */
#include "block.h"

static int declare_norms(void *state, const char *const *sublayers, int n, tfx_declarer *d,
                         tfx_status *st)
{
    return declare_each(state, sublayers, n, "_norm", d, st);
}

static int forward(void *state, const tfx_block_io *io, tfx_status *st)
{
    const placement *p = state;
    float *normed = io->scratch[0], *out = io->scratch[1]; /* [T, C] each */
    for (int s = 0; s < p->n_sublayers; s++) {
        io->norm(io->ctx, s, normed, io->x);
        if (io->sublayer(io->ctx, s, out, normed, st))
            return -1;
        add_into(io->x, out, io->T * io->C);
    }
    return 0;
}

/* In reverse: the residual passes dx through unchanged, and each branch adds
 * norm_backward(sublayer_backward(dx)). */
static int backward(void *state, const tfx_block_grad_io *io, tfx_status *st)
{
    const placement *p = state;
    float *d = io->scratch[0]; /* [T, C] */
    for (int s = p->n_sublayers - 1; s >= 0; s--) {
        if (io->sublayer_backward(io->ctx, s, d, io->dx, st))
            return -1;
        io->norm_backward(io->ctx, s, d, d);
        add_into(io->dx, d, io->T * io->C);
    }
    return 0;
}

static const tfx_placement_ops ops = {
    .size = sizeof ops, .declare_norms = declare_norms, .forward = forward, .final_norm = 1,
    .backward = backward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_PLACEMENT,
        .name = "pre", .summary = "pre-LN: x += sublayer(norm(x)), with a final norm",
        .configure = placement_configure, .destroy = placement_destroy, .placement = &ops,
    };
    return &plugin;
}
