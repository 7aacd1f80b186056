/* core/sizes.c — one gate for every size a plugin reports: checked against its bound, and an
 * error naming the recipe place and the plugin when it is out of range. */
#include "sizes.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tfx/plugin.h"

/* The one check: lo <= value <= hi, else an error at the instance's recipe place. */
static int checked(const tfx_instance *inst, const char *what, const char *args, int64_t value,
                   int64_t hi, int64_t *out, tfx_error *err)
{
    const tfx_plugin *p = inst->comp->plugin->desc;
    if (value < 0 || value > hi)
        return tfx_fail_at(err, inst->comp->mark, "%s plugin '%s' reports %s of %" PRId64 "%s; it must be between 0 and %" PRId64,
                           tfx_kind_name(p->kind), p->name, what, value, args, hi);
    *out = value;
    return 0;
}

int tfx_size_attn_cache(const tfx_instance *inst, int64_t context, int64_t *out, tfx_error *err)
{
    char args[64];
    snprintf(args, sizeof args, " floats for a cache of %" PRId64 " positions", context);
    int64_t v = inst->comp->plugin->desc->attention->cache_floats(inst->state, context);
    return checked(inst, "a KV cache", args, v, TFX_PLUGIN_FLOATS_MAX, out, err);
}

int tfx_size_attn_workspace(const tfx_instance *inst, int64_t T, int64_t context, int64_t *out,
                            tfx_error *err)
{
    char args[80];
    snprintf(args, sizeof args, " floats for %" PRId64 " tokens in a context of %" PRId64, T, context);
    int64_t v = inst->comp->plugin->desc->attention->workspace_floats(inst->state, T, context);
    return checked(inst, "a workspace", args, v, TFX_PLUGIN_FLOATS_MAX, out, err);
}

int tfx_size_attn_keys_seen(const tfx_instance *inst, int64_t n, int64_t *out, tfx_error *err)
{
    char args[64];
    snprintf(args, sizeof args, " at position %" PRId64, n - 1);
    int64_t v = inst->comp->plugin->desc->attention->keys_seen(inst->state, n);
    return checked(inst, "keys seen", args, v, n, out, err);
}

int tfx_size_ffn_workspace(const tfx_instance *inst, int64_t T, int64_t *out, tfx_error *err)
{
    char args[48];
    snprintf(args, sizeof args, " floats for %" PRId64 " tokens", T);
    int64_t v = inst->comp->plugin->desc->ffn->workspace_floats(inst->state, T);
    return checked(inst, "a workspace", args, v, TFX_PLUGIN_FLOATS_MAX, out, err);
}

int tfx_size_attn_backward_workspace(const tfx_instance *inst, int64_t T, int64_t context,
                                     int64_t *out, tfx_error *err)
{
    char args[80];
    snprintf(args, sizeof args, " floats for %" PRId64 " tokens in a context of %" PRId64, T, context);
    int64_t v = inst->comp->plugin->desc->attention->backward_workspace_floats(inst->state, T, context);
    return checked(inst, "a backward workspace", args, v, TFX_PLUGIN_FLOATS_MAX, out, err);
}

int tfx_size_ffn_backward_workspace(const tfx_instance *inst, int64_t T, int64_t *out,
                                    tfx_error *err)
{
    char args[48];
    snprintf(args, sizeof args, " floats for %" PRId64 " tokens", T);
    int64_t v = inst->comp->plugin->desc->ffn->backward_workspace_floats(inst->state, T);
    return checked(inst, "a backward workspace", args, v, TFX_PLUGIN_FLOATS_MAX, out, err);
}

int tfx_size_ffn_width(const tfx_instance *inst, int64_t *out, tfx_error *err)
{
    const tfx_ffn_ops *ops = inst->comp->plugin->desc->ffn;
    *out = 0;
    if (!ops->width)
        return 0;
    return checked(inst, "a width", "", ops->width(inst->state), INT32_MAX, out, err);
}

/* ---- costs only the plugin knows ---------------------------------------------------------- */

typedef struct cost_ops {
    int64_t (*active_params)(void *state);
    int64_t (*flops_per_token)(void *state, int64_t context);
} cost_ops;

static cost_ops costs_of(const tfx_instance *inst)
{
    const tfx_plugin *p = inst->comp->plugin->desc;
    if (p->kind == TFX_KIND_ATTENTION)
        return (cost_ops){p->attention->active_params, p->attention->flops_per_token};
    if (p->kind == TFX_KIND_FFN)
        return (cost_ops){p->ffn->active_params, p->ffn->flops_per_token};
    return (cost_ops){NULL, NULL};
}

int tfx_size_active_params(const tfx_instance *inst, int64_t declared, int64_t *out, tfx_error *err)
{
    cost_ops ops = costs_of(inst);
    if (!ops.active_params)
        return 0;
    char args[64];
    snprintf(args, sizeof args, " (it declared %" PRId64 ")", declared);
    return checked(inst, "active parameters", args, ops.active_params(inst->state), declared, out, err)
               ? -1 : 1;
}

int tfx_size_flops_per_token(const tfx_instance *inst, int64_t context, int64_t *out, tfx_error *err)
{
    cost_ops ops = costs_of(inst);
    if (!ops.flops_per_token)
        return 0;
    char args[64];
    snprintf(args, sizeof args, " per token at context %" PRId64, context);
    return checked(inst, "FLOPs", args, ops.flops_per_token(inst->state, context),
                   TFX_PLUGIN_FLOATS_MAX, out, err) ? -1 : 1;
}

int tfx_size_kv_per_token(const tfx_instance *inst, int64_t *out, const char **formula, tfx_error *err)
{
    const tfx_plugin *p = inst->comp->plugin->desc;
    if (p->kind != TFX_KIND_ATTENTION || !p->attention->kv_per_token)
        return 0;
    *formula = NULL;
    int64_t v = p->attention->kv_per_token(inst->state, formula);
    if (checked(inst, "KV-cache elements", " per token", v, INT32_MAX, out, err))
        return -1;
    if (!*formula || !**formula || strlen(*formula) > 96)
        return tfx_fail_at(err, inst->comp->mark, "attention plugin '%s' reports KV-cache elements per token without a formula (1 to 96 characters)",
                           p->name);
    return 1;
}

int tfx_size_out_shapes(const tfx_instance *inst, int64_t batch, int64_t context, tfx_out_shape *out,
                        int cap, int *n, tfx_error *err)
{
    const tfx_plugin *p = inst->comp->plugin->desc;
    int (*shapes)(void *, int64_t, int64_t, tfx_out_shape *, int) =
        p->kind == TFX_KIND_ATTENTION ? p->attention->shapes : p->kind == TFX_KIND_FFN ? p->ffn->shapes : NULL;
    if (!shapes)
        return 0;
    memset(out, 0, (size_t)cap * sizeof *out);
    *n = shapes(inst->state, batch, context, out, cap);
    if (*n < 0 || *n > cap)
        return tfx_fail_at(err, inst->comp->mark, "%s plugin '%s' reports %d output shapes; it may report 0 to %d",
                           tfx_kind_name(p->kind), p->name, *n, cap);
    for (int i = 0; i < *n; i++) {
        const tfx_out_shape *o = &out[i];
        int bad = !o->what || !o->axes || o->rank < 1 || o->rank > 4;
        for (int d = 0; !bad && d < o->rank; d++)
            bad = o->dims[d] < 0;
        if (bad)
            return tfx_fail_at(err, inst->comp->mark, "%s plugin '%s' reports a malformed output shape (entry %d: names, a rank of 1 to 4, no negative dimension)",
                               tfx_kind_name(p->kind), p->name, i);
    }
    return 1;
}
