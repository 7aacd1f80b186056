/* plugins/placement/parallel.c — the parallel block of GPT-J and GPT-NeoX: every sublayer reads
 * the same (normed) block input and their outputs are summed into one residual addition. */
#include <string.h>

#include "block.h"

enum { OPT_SHARED_NORM, N_OPTIONS };

static const tfx_option options[N_OPTIONS] = {
    [OPT_SHARED_NORM] = {.name = "shared_norm", .type = TFX_OPT_BOOL, .default_value = "true",
                         .doc = "one norm feeds every sublayer (GPT-J); false: one per sublayer (GPT-NeoX)",
                         .min = 1, .max = 0},
};

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    if (placement_configure(cfg, state, st))
        return -1;
    ((placement *)*state)->shared_norm = (int)cfg->options[OPT_SHARED_NORM].i;
    return 0;
}

static int declare_norms(void *state, const char *const *sublayers, int n, tfx_declarer *d,
                         tfx_status *st)
{
    placement *p = state;
    if (declare_each(p, sublayers, p->shared_norm ? 1 : n, "_norm", d, st))
        return -1;
    p->n_sublayers = n;
    return 0;
}

static int forward(void *state, const tfx_block_io *io, tfx_status *st)
{
    const placement *p = state;
    const int64_t n = io->T * io->C;
    float *normed = io->scratch[0], *out = io->scratch[1], *sum = io->scratch[2]; /* [T, C] */
    memset(sum, 0, (size_t)n * sizeof *sum);
    for (int s = 0; s < p->n_sublayers; s++) {
        if (s == 0 || !p->shared_norm)
            io->norm(io->ctx, s, normed, io->x);
        if (io->sublayer(io->ctx, s, out, normed, st))
            return -1;
        add_into(sum, out, n);
    }
    add_into(io->x, sum, n);
    return 0;
}

/* Every sublayer's output gradient is dx itself; their input gradients sum (before one shared
 * norm's backward, or each through its own), and the sum joins the residual's dx. */
static int backward(void *state, const tfx_block_grad_io *io, tfx_status *st)
{
    const placement *p = state;
    const int64_t n = io->T * io->C;
    float *d = io->scratch[0], *sum = io->scratch[2]; /* [T, C] each */
    memset(sum, 0, (size_t)n * sizeof *sum);
    for (int s = p->n_sublayers - 1; s >= 0; s--) {
        if (io->sublayer_backward(io->ctx, s, d, io->dx, st))
            return -1;
        if (!p->shared_norm)
            io->norm_backward(io->ctx, s, d, d);
        add_into(sum, d, n);
    }
    if (p->shared_norm)
        io->norm_backward(io->ctx, 0, sum, sum);
    add_into(io->dx, sum, n);
    return 0;
}

static const tfx_placement_ops ops = {
    .size = sizeof ops, .declare_norms = declare_norms, .forward = forward, .final_norm = 1,
    .backward = backward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_PLACEMENT,
        .name = "parallel", .summary = "parallel: x += attention(norm(x)) + ffn(norm(x)) (GPT-J, GPT-NeoX)",
        .options = options, .n_options = N_OPTIONS,
        .configure = configure, .destroy = placement_destroy, .placement = &ops,
    };
    return &plugin;
}
