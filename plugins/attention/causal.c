/* plugins/attention/causal.c — causal self-attention (GPT, decoders): a query sees keys at or before its position. */
#include "mha.h"

static const tfx_option options[] = {
    MHA_OPTIONS,
};

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    return mha_configure(cfg, MASK_CAUSAL, state, st);
}

static const tfx_attention_ops ops = MHA_OPS(0);

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_ATTENTION,
        .name = "causal", .summary = "causal self-attention: a token sees itself and the past",
        .options = options, .n_options = N_MHA_OPTIONS,
        .configure = configure, .destroy = mha_destroy, .declare = mha_declare, .attention = &ops,
    };
    return &plugin;
}
