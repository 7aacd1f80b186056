/* tests/plugins/old_norm.c — a norm plugin built before the backward ABI: its ops struct ends at
 * `forward` (size says so), so it counts and runs but training must refuse it by name. */
#include <stddef.h>
#include <stdlib.h>

#include <tfx/plugin.h>

/* Only so that recipes written for layernorm (which set eps) take it. */
static const tfx_option options[] = {
    {.name = "eps", .type = TFX_OPT_FLOAT, .default_value = "1e-5", .doc = "unused", .min = 0, .max = 1},
};

typedef struct old_norm {
    const tfx_host *host;
    int64_t C;
} old_norm;

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    old_norm *n = malloc(sizeof *n);
    if (!n)
        return cfg->host->fail(st, "out of memory");
    *n = (old_norm){.host = cfg->host, .C = cfg->dims.d_model};
    *state = n;
    return 0;
}

static void destroy(void *state) { free(state); }

static int declare(void *state, tfx_declarer *d, tfx_status *st)
{
    const old_norm *n = state;
    int64_t shape[1] = {n->C};
    return n->host->declare_tensor(d, "weight", 1, shape, TFX_INIT_ONES, st);
}

/* out[T, C] = x ⊙ weight. */
static void forward(void *state, const float *const *w, float *out, const float *x, int64_t T)
{
    const old_norm *n = state;
    for (int64_t i = 0; i < T * n->C; i++)
        out[i] = x[i] * w[0][i % n->C];
}

/* The struct as a plugin compiled before the backward operations were appended saw it. */
static const tfx_norm_ops ops = {.size = offsetof(tfx_norm_ops, backward), .forward = forward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_NORM,
        .name = "old_norm", .summary = "scales by a gain; built without backward",
        .options = options, .n_options = 1, .configure = configure, .declare = declare, .destroy = destroy, .norm = &ops,
    };
    return &plugin;
}
