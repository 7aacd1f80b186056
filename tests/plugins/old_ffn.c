/* tests/plugins/old_ffn.c — an ffn plugin built against an older, shorter ops struct: its
 * `size` ends before `width`, and the bytes after it are not a function the core may call. */
#include <stddef.h>

#include <tfx/plugin.h>

static int configure(const tfx_config *cfg, void **state, tfx_status *st) { return 0; }
static void destroy(void *state) {}
static int64_t workspace_floats(void *state, int64_t T) { return 0; }
static int forward(void *state, const float *const *w, float *out, const float *x, int64_t T,
                   float *workspace, tfx_status *st)
{
    return 0;
}

/* What follows an old plugin's struct in memory is anything; here, a pointer no code lives at. */
static const tfx_ffn_ops ops = {.size = offsetof(tfx_ffn_ops, width),
                                .workspace_floats = workspace_floats, .forward = forward,
                                .width = (int64_t (*)(void *))16};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_FFN,
        .name = "old", .summary = "built with an ops struct that ends before width",
        .configure = configure, .destroy = destroy, .ffn = &ops,
    };
    return &plugin;
}
