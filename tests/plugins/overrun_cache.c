/* tests/plugins/overrun_cache.c — an attention that fills its whole declared KV cache
 * [capacity, C] and then `past` floats more (option), for the guard-word check (`--check`). */
#include <stdlib.h>
#include <string.h>

#include <tfx/plugin.h>

typedef struct overrun {
    int64_t C, past;
} overrun;

static const tfx_option options[] = {
    {.name = "past", .type = TFX_OPT_INT, .default_value = "0",
     .doc = "floats written past the declared KV cache", .min = 0, .max = 64},
};

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    overrun *o = malloc(sizeof *o);
    if (!o)
        return cfg->host->fail(st, "out of memory");
    *o = (overrun){.C = cfg->dims.d_model, .past = cfg->options[0].i};
    *state = o;
    return 0;
}
static void destroy(void *state) { free(state); }
static int64_t cache_floats(void *state, int64_t context) { return context * ((const overrun *)state)->C; }
static int64_t workspace_floats(void *state, int64_t T, int64_t context) { return 0; }
static int64_t keys_seen(void *state, int64_t n) { return n; }

static int forward(void *state, const float *const *w, const tfx_attn_io *io, tfx_status *st)
{
    const overrun *o = state;
    for (int64_t i = 0; i < io->cache_capacity * o->C + o->past; i++)
        io->cache[i] = 1.0f;
    memset(io->out, 0, (size_t)(io->T * o->C) * sizeof *io->out);
    return 0;
}

static const tfx_attention_ops ops = {.size = sizeof ops, .cache_floats = cache_floats,
                                      .workspace_floats = workspace_floats,
                                      .keys_seen = keys_seen, .forward = forward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_ATTENTION,
        .name = "overrun", .summary = "writes past its declared KV cache",
        .options = options, .n_options = 1, .configure = configure, .destroy = destroy,
        .attention = &ops,
    };
    return &plugin;
}
