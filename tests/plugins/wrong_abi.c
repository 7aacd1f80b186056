/* tests/plugins/wrong_abi.c — a deliberately broken plugin: built for ABI version 99, so the
 * registry must skip it with a message naming the file and both versions. */
#include <tfx/plugin.h>

static int configure(const tfx_config *cfg, void **state, tfx_status *st) { return 0; }
static void destroy(void *state) {}
static void forward(void *state, const float *const *w, float *out, const float *x, int64_t T) {}
static const tfx_norm_ops ops = {.size = sizeof ops, .forward = forward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = 99, .size = sizeof plugin, .kind = TFX_KIND_NORM, .name = "future",
        .summary = "built for another ABI", .configure = configure, .destroy = destroy,
        .norm = &ops,
    };
    return &plugin;
}
