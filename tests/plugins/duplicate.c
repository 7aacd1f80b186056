/* tests/plugins/duplicate.c — a deliberately clashing plugin: a second position plugin named
 * "rope", which the registry must skip because the shipped one came first. */
#include <tfx/plugin.h>

static int configure(const tfx_config *cfg, void **state, tfx_status *st) { return 0; }
static void destroy(void *state) {}
static const tfx_position_ops ops = {.size = sizeof ops};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_POSITION,
        .name = "rope", .summary = "an impostor", .configure = configure, .destroy = destroy,
        .position = &ops,
    };
    return &plugin;
}
