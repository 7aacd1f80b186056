/* tests/plugins/old_position.c — a position plugin built against an older ops struct that ends
 * after `embed`: it loads, and the core must treat rotate and score_bias as absent, never call
 * the bytes that follow its struct. Its embedding adds nothing (like `none`). */
#include <stddef.h>

#include <tfx/plugin.h>

static int configure(const tfx_config *cfg, void **state, tfx_status *st) { return 0; }
static void destroy(void *state) {}
static int embed(void *state, const float *const *w, float *x, int64_t T, const int32_t *pos,
                 tfx_status *st)
{
    return 0;
}

static const tfx_position_ops ops = {
    .size = offsetof(tfx_position_ops, rotate), .embed = embed,
    /* Past `size`: stand-ins for whatever an old plugin's memory holds there. */
    .rotate = (void (*)(void *, const float *const *, float *, int64_t, int64_t,
                        const int32_t *))16,
    .score_bias = (void (*)(void *, const float *const *, float *, int64_t, int64_t, int64_t,
                            int64_t, const int32_t *, const int32_t *))16,
};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_POSITION,
        .name = "old", .summary = "built with an ops struct that ends after embed",
        .configure = configure, .destroy = destroy, .position = &ops,
    };
    return &plugin;
}
