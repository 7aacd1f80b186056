/* tests/plugins/null_op.c — an attention plugin whose required keys_seen is NULL: the registry
 * must skip it with a message naming the file and the operation, not let `tfx params` call it. */
#include <tfx/plugin.h>

static int configure(const tfx_config *cfg, void **state, tfx_status *st) { return 0; }
static void destroy(void *state) {}
static int64_t cache_floats(void *state, int64_t context) { return 0; }
static int64_t workspace_floats(void *state, int64_t T, int64_t context) { return 0; }
static int forward(void *state, const float *const *w, const tfx_attn_io *io, tfx_status *st)
{
    return 0;
}
static const tfx_attention_ops ops = {.size = sizeof ops, .cache_floats = cache_floats,
                                      .workspace_floats = workspace_floats, .forward = forward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_ATTENTION,
        .name = "nokeys", .summary = "lacks keys_seen", .configure = configure,
        .destroy = destroy, .attention = &ops,
    };
    return &plugin;
}
