/* core/sizes.h — the sizes plugins report (KV cache and workspace floats, keys seen, FFN width),
 * fetched through one gate that treats them as untrusted input. */
#ifndef TFX_CORE_SIZES_H
#define TFX_CORE_SIZES_H

#include <stdint.h>

#include "error.h"
#include "model.h"

/* The most floats one plugin buffer may report: 2^52 floats (16 PiB), more than any machine
 * holds, so that padding and summing them cannot wrap; what a run allocates is then checked
 * against the memory the machine has. */
#define TFX_PLUGIN_FLOATS_MAX (INT64_C(1) << 52)

/* Each asks the instance's plugin and checks the answer: non-negative and within its bound
 * (floats: TFX_PLUGIN_FLOATS_MAX; keys seen: n; width: INT32_MAX). Returns 0 with *out set,
 * or -1 with err naming the recipe place, the plugin and the value. */
int tfx_size_attn_cache(const tfx_instance *inst, int64_t context, int64_t *out, tfx_error *err);
int tfx_size_attn_workspace(const tfx_instance *inst, int64_t T, int64_t context, int64_t *out,
                            tfx_error *err);
int tfx_size_attn_keys_seen(const tfx_instance *inst, int64_t n, int64_t *out, tfx_error *err);
int tfx_size_ffn_workspace(const tfx_instance *inst, int64_t T, int64_t *out, tfx_error *err);
/* The scratch of a backward call (training). */
int tfx_size_attn_backward_workspace(const tfx_instance *inst, int64_t T, int64_t context,
                                     int64_t *out, tfx_error *err);
int tfx_size_ffn_backward_workspace(const tfx_instance *inst, int64_t T, int64_t *out,
                                    tfx_error *err);
/* 0 when the plugin reports no width. */
int tfx_size_ffn_width(const tfx_instance *inst, int64_t *out, tfx_error *err);

/* Costs only the plugin knows (optional operations of attention and ffn plugins). Each
 * returns 1 with *out set when the plugin reports the figure, 0 when it has no such operation
 * (the caller uses its generic formula), -1 with err when the figure is out of range:
 * active parameters 0 .. `declared` (the instance's own), FLOPs per token 0 .. 2^52,
 * KV elements per token 0 .. 2^31 with a non-empty formula. */
int tfx_size_active_params(const tfx_instance *inst, int64_t declared, int64_t *out, tfx_error *err);
int tfx_size_flops_per_token(const tfx_instance *inst, int64_t context, int64_t *out, tfx_error *err);
int tfx_size_kv_per_token(const tfx_instance *inst, int64_t *out, const char **formula, tfx_error *err);
/* The output shapes an attention or ffn plugin reports for `params --shapes`: 1 with *n rows
 * in out[cap] (cap <= 8), 0 without a shapes operation, -1 with err when it reports more than
 * cap, or a row without names, of a rank outside 1 to 4, or with a negative dimension. */
int tfx_size_out_shapes(const tfx_instance *inst, int64_t batch, int64_t context, tfx_out_shape *out,
                        int cap, int *n, tfx_error *err);

#endif
