/* plugins/placement/post.c — post-LN (the original Transformer, BERT, BART): the norm follows
 * each residual addition: x = norm(x + f(x)); no final norm. */
#include "block.h"

static int declare_norms(void *state, const char *const *sublayers, int n, tfx_declarer *d,
                         tfx_status *st)
{
    return declare_each(state, sublayers, n, "_norm", d, st);
}

static int forward(void *state, const tfx_block_io *io, tfx_status *st)
{
    const placement *p = state;
    float *sum = io->scratch[0]; /* [T, C] */
    for (int s = 0; s < p->n_sublayers; s++) {
        if (io->sublayer(io->ctx, s, sum, io->x, st))
            return -1;
        add_into(sum, io->x, io->T * io->C);
        io->norm(io->ctx, s, io->x, sum);
    }
    return 0;
}

/* In reverse: through the norm to the sum, then the sum's gradient reaches x twice, through
 * the residual and through the sublayer. */
static int backward(void *state, const tfx_block_grad_io *io, tfx_status *st)
{
    const placement *p = state;
    float *dsum = io->scratch[0], *d = io->scratch[1]; /* [T, C] each */
    for (int s = p->n_sublayers - 1; s >= 0; s--) {
        io->norm_backward(io->ctx, s, dsum, io->dx);
        if (io->sublayer_backward(io->ctx, s, d, dsum, st))
            return -1;
        for (int64_t i = 0; i < io->T * io->C; i++)
            io->dx[i] = dsum[i] + d[i];
    }
    return 0;
}

static const tfx_placement_ops ops = {
    .size = sizeof ops, .declare_norms = declare_norms, .forward = forward, .final_norm = 0,
    .backward = backward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_PLACEMENT,
        .name = "post", .summary = "post-LN: x = norm(x + sublayer(x)), no final norm",
        .configure = placement_configure, .destroy = placement_destroy, .placement = &ops,
    };
    return &plugin;
}
