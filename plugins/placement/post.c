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
    return post_forward(state, 1.0f, io, st);
}

/* In reverse: through the norm to the sum, then the sum's gradient reaches x twice, through
 * the residual and through the sublayer. */
static int backward(void *state, const tfx_block_grad_io *io, tfx_status *st)
{
    return post_backward(state, 1.0f, io, st);
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
