/* tests/plugins/overrun.c — an ffn that fills its whole declared workspace [T, C] and then
 * `past` floats more (option), for the core's guard-word check (`--check`). Adds nothing. */
#include <stdlib.h>
#include <string.h>

#include <tfx/plugin.h>

typedef struct overrun {
    int64_t C, past;
} overrun;

static const tfx_option options[] = {
    {.name = "past", .type = TFX_OPT_INT, .default_value = "0",
     .doc = "floats written past the declared workspace", .min = 0, .max = 64},
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
static int64_t workspace_floats(void *state, int64_t T) { return T * ((const overrun *)state)->C; }
static int64_t width(void *state) { return ((const overrun *)state)->C; }

static int forward(void *state, const float *const *w, float *out, const float *x, int64_t T,
                   float *workspace, tfx_status *st)
{
    const overrun *o = state;
    for (int64_t i = 0; i < T * o->C + o->past; i++)
        workspace[i] = 1.0f;
    memset(out, 0, (size_t)(T * o->C) * sizeof *out);
    return 0;
}

static const tfx_ffn_ops ops = {.size = sizeof ops, .workspace_floats = workspace_floats,
                                .forward = forward, .width = width};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_FFN,
        .name = "overrun", .summary = "writes past its declared workspace",
        .options = options, .n_options = 1, .configure = configure, .destroy = destroy,
        .ffn = &ops,
    };
    return &plugin;
}
