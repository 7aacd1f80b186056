/* plugins/attention/local.c — local (sliding-window) causal attention (GPT-Neo, Mistral): a query at p sees keys at
 * p - window < k <= p; the KV cache keeps only the window. */
#include "mha.h"

static const tfx_option options[] = {
    MHA_OPTIONS,
    [OPT_WINDOW] = {.name = "window", .type = TFX_OPT_INT, .default_value = "256",
                    .doc = "a query at position p sees keys at p-window < k <= p", .min = 1, .max = 1e9},
};

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    return mha_configure(cfg, MASK_LOCAL, state, st);
}

static const tfx_attention_ops ops = MHA_OPS(0);

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_ATTENTION,
        .name = "local", .summary = "sliding-window causal attention over the last 'window' tokens",
        .options = options, .n_options = N_MHA_OPTIONS + 1,
        .configure = configure, .destroy = mha_destroy, .declare = mha_declare, .attention = &ops,
    };
    return &plugin;
}
