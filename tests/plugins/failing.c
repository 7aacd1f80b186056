/* tests/plugins/failing.c — a plugin whose configure always fails, so that the core must turn
 * its message into an error naming the recipe place and the plugin. */
#include <tfx/plugin.h>

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    return cfg->host->fail(st, "this norm refuses every configuration (d_model %lld)",
                           (long long)cfg->dims.d_model);
}
static void destroy(void *state) {}
static void forward(void *state, const float *const *w, float *out, const float *x, int64_t T) {}
static const tfx_norm_ops ops = {.size = sizeof ops, .forward = forward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_NORM,
        .name = "failing", .summary = "always fails to configure", .configure = configure,
        .destroy = destroy, .norm = &ops,
    };
    return &plugin;
}
