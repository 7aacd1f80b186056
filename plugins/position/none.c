/* plugins/position/none.c — no positional information at all (NoPE): the causal mask alone
 * tells a decoder where it is. */
#include <tfx/plugin.h>

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    *state = NULL;
    return 0;
}

static void destroy(void *state) {}

static const tfx_position_ops ops = {.size = sizeof ops};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_POSITION,
        .name = "none", .summary = "no position encoding (NoPE)",
        .configure = configure, .destroy = destroy, .position = &ops,
    };
    return &plugin;
}
