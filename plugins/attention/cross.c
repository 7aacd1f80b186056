/* plugins/attention/cross.c — cross-attention (encoder-decoders): queries from the decoder, keys and values from the
 * encoder's output, computed once per input and kept in the cache. */
#include "mha.h"

static const tfx_option options[] = {
    MHA_OPTIONS,
};

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    return mha_configure(cfg, MASK_CROSS, state, st);
}

static const tfx_attention_ops ops = MHA_OPS(1);

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_ATTENTION,
        .name = "cross", .summary = "cross-attention: decoder queries over the encoder's output",
        .options = options, .n_options = N_MHA_OPTIONS,
        .configure = configure, .destroy = mha_destroy, .declare = mha_declare, .attention = &ops,
    };
    return &plugin;
}
