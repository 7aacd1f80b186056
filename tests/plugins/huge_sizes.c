/* tests/plugins/huge_sizes.c — an attention plugin that reports absurd sizes (one chosen by its
 * `lie` option), so that the core must refuse them by plugin and recipe place. */
#include <stdint.h>
#include <stdlib.h>

#include <tfx/plugin.h>

enum { LIE_NONE, LIE_WORKSPACE, LIE_CACHE, LIE_KEYS, LIE_NEGATIVE };
static const char *const lies[] = {"none", "workspace", "cache", "keys", "negative", NULL};
static const tfx_option options[] = {
    {.name = "lie", .type = TFX_OPT_ENUM, .default_value = "none", .doc = "which size to lie about",
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

static int64_t cache_floats(void *state, int64_t context)
{
    int lie = *(int *)state;
    return lie == LIE_CACHE ? INT64_MAX - 3 : lie == LIE_NEGATIVE ? -16 : context;
}

static int64_t workspace_floats(void *state, int64_t T, int64_t context)
{
    return *(int *)state == LIE_WORKSPACE ? INT64_MAX - 3 : T;
}

static int64_t keys_seen(void *state, int64_t n) { return *(int *)state == LIE_KEYS ? n + 1 : n; }

static int forward(void *state, const float *const *w, const tfx_attn_io *io, tfx_status *st)
{
    for (int64_t i = 0; i < io->T; i++)
        io->out[i] = 0.0f;
    return 0;
}

static const tfx_attention_ops ops = {.size = sizeof ops, .cache_floats = cache_floats,
                                      .workspace_floats = workspace_floats,
                                      .keys_seen = keys_seen, .forward = forward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_ATTENTION,
        .name = "huge", .summary = "reports absurd sizes", .options = options, .n_options = 1,
        .configure = configure, .destroy = destroy, .attention = &ops,
    };
    return &plugin;
}
