/* tests/plugins/lying_costs.c — an attention plugin whose optional cost operations lie (one
 * chosen by its `lie` option), so that the core's size gate must refuse them by plugin and place. */
#include <stdint.h>
#include <stdlib.h>

#include <tfx/plugin.h>

enum { LIE_NONE, LIE_ACTIVE, LIE_FLOPS, LIE_KV, LIE_SHAPES };
static const char *const lies[] = {"none", "active", "flops", "kv", "shapes", NULL};
static const tfx_option options[] = {
    {.name = "lie", .type = TFX_OPT_ENUM, .default_value = "none", .doc = "which cost to lie about",
     .choices = lies},
};

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    int *lie = malloc(sizeof *lie);
    if (!lie)
        return cfg->host->fail(st, "out of memory");
    *lie = (int)cfg->options[0].i;
    *state = lie;
    return 0;
}

static void destroy(void *state) { free(state); }

static int64_t cache_floats(void *state, int64_t context) { return context; }
static int64_t workspace_floats(void *state, int64_t T, int64_t context) { return T; }
static int64_t keys_seen(void *state, int64_t n) { return n; }

static int forward(void *state, const float *const *w, const tfx_attn_io *io, tfx_status *st)
{
    for (int64_t i = 0; i < io->T; i++)
        io->out[i] = 0.0f;
    return 0;
}

/* More active parameters than it declared (none), negative FLOPs, a KV figure without its
 * formula, a shape of rank 9; the truth otherwise. */
static int64_t active_params(void *state) { return *(int *)state == LIE_ACTIVE ? 5 : 0; }

static int64_t flops_per_token(void *state, int64_t context)
{
    return *(int *)state == LIE_FLOPS ? -1 : 2 * context;
}

static int64_t kv_per_token(void *state, const char **formula)
{
    *formula = *(int *)state == LIE_KV ? NULL : "1 per token";
    return 1;
}

static int shapes(void *state, int64_t batch, int64_t context, tfx_out_shape *out, int cap)
{
    out[0] = (tfx_out_shape){"scores", "B, S", *(int *)state == LIE_SHAPES ? 9 : 2, {batch, context}};
    return 1;
}

static const tfx_attention_ops ops = {.size = sizeof ops, .cache_floats = cache_floats,
                                      .workspace_floats = workspace_floats,
                                      .keys_seen = keys_seen, .forward = forward,
                                      .active_params = active_params,
                                      .flops_per_token = flops_per_token,
                                      .kv_per_token = kv_per_token, .shapes = shapes};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_ATTENTION,
        .name = "costly", .summary = "reports lying costs", .options = options, .n_options = 1,
        .configure = configure, .destroy = destroy, .attention = &ops,
    };
    return &plugin;
}
