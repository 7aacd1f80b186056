/* plugins/placement/sandwich.c — sandwich norms (CogView; Gemma 2's pre- and post-norms): a
 * norm before and after each sublayer: x += norm2(f(norm1(x))). */
#include "block.h"

static int declare_norms(void *state, const char *const *sublayers, int n, tfx_declarer *d,
                         tfx_status *st)
{
    placement *p = state;
    for (int s = 0; s < n; s++) /* norms 2s (before) and 2s+1 (after) */
        if (declare_each(p, &sublayers[s], 1, "_norm", d, st) ||
            declare_each(p, &sublayers[s], 1, "_post_norm", d, st))
            return -1;
    p->n_sublayers = n;
    return 0;
}

static int forward(void *state, const tfx_block_io *io, tfx_status *st)
{
    const placement *p = state;
    float *a = io->scratch[0], *b = io->scratch[1]; /* [T, C] each */
    for (int s = 0; s < p->n_sublayers; s++) {
        io->norm(io->ctx, 2 * s, a, io->x);
        if (io->sublayer(io->ctx, s, b, a, st))
            return -1;
        io->norm(io->ctx, 2 * s + 1, a, b);
        add_into(io->x, a, io->T * io->C);
    }
    return 0;
}

/* In reverse: each branch adds norm1'(sublayer'(norm2'(dx))) to the residual's dx. */
static int backward(void *state, const tfx_block_grad_io *io, tfx_status *st)
{
    const placement *p = state;
    float *a = io->scratch[0], *b = io->scratch[1]; /* [T, C] each */
    for (int s = p->n_sublayers - 1; s >= 0; s--) {
        io->norm_backward(io->ctx, 2 * s + 1, a, io->dx);
        if (io->sublayer_backward(io->ctx, s, b, a, st))
            return -1;
        io->norm_backward(io->ctx, 2 * s, b, b);
        add_into(io->dx, b, io->T * io->C);
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
        .name = "sandwich", .summary = "sandwich: x += norm(sublayer(norm(x))), with a final norm",
        .configure = placement_configure, .destroy = placement_destroy, .placement = &ops,
    };
    return &plugin;
}
