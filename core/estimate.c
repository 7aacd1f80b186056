/* core/estimate.c — memory and FLOP figures with checked 64-bit arithmetic; the KV cache and
 * attention terms ask each attention plugin what it keeps and sees (a local window, GQA). */
#include "estimate.h"

#include <string.h>

#include "accounting.h"
#include "checked.h"
#include "runtime.h"
#include "sizes.h"

typedef struct calc {
    bool overflow;
} calc;

static uint64_t mul(calc *c, uint64_t a, uint64_t b)
{
    uint64_t r;
    if (tfx_mul_overflows_u64(a, b, &r))
        c->overflow = true;
    return r;
}

static uint64_t add(calc *c, uint64_t a, uint64_t b)
{
    uint64_t r;
    if (tfx_add_overflows_u64(a, b, &r))
        c->overflow = true;
    return r;
}

tfx_estimate_opts tfx_estimate_defaults(const tfx_model *m, const tfx_estimate_opts *opts)
{
    tfx_estimate_opts o = opts ? *opts : (tfx_estimate_opts){.fp32_grads = true};
    if (o.batch <= 0)
        o.batch = 1;
    if (o.context <= 0)
        o.context = m->spec->context; /* a longer one: see tfx_model_check_context */
    if (o.kv_bytes <= 0)
        o.kv_bytes = 2;
    return o;
}

/* KV caches of every layer at `context` positions, in elements, self and cross. */
static int kv_elements(calc *c, const tfx_model *m, int64_t context, uint64_t *self,
                       uint64_t *cross, tfx_error *err)
{
    *self = *cross = 0;
    for (int si = 0; si < m->n_stacks; si++) {
        if (!m->stacks[si].spec->is_decoder)
            continue;
        for (int64_t i = 0; i < m->stacks[si].spec->layers; i++) {
            const tfx_layer *l = &m->stacks[si].layers[i];
            int64_t n;
            if (tfx_size_attn_cache(&l->attn, context, &n, err))
                return -1;
            *self = add(c, *self, (uint64_t)n);
            if (!l->cross_attn.comp)
                continue;
            if (tfx_size_attn_cache(&l->cross_attn, context, &n, err))
                return -1;
            *cross = add(c, *cross, (uint64_t)n);
        }
    }
    return 0;
}

/* KV bytes per token over the decoder's self-attention layers, and the per-layer formula. */
static int kv_per_token(calc *c, const tfx_model *m, uint64_t kv_bytes, tfx_memory *mem,
                        tfx_error *err)
{
    const uint64_t generic = mul(c, 2, mul(c, (uint64_t)m->spec->kv_heads, (uint64_t)m->spec->head_dim));
    mem->kv_per_token = 0;
    mem->kv_formula = "2 x kv_heads x head_dim";
    for (int si = 0; si < m->n_stacks; si++) {
        if (!m->stacks[si].spec->is_decoder)
            continue;
        for (int64_t i = 0; i < m->stacks[si].spec->layers; i++) {
            int64_t n;
            const char *formula;
            int rc = tfx_size_kv_per_token(&m->stacks[si].layers[i].attn, &n, &formula, err);
            if (rc < 0)
                return -1;
            if (rc)
                mem->kv_formula = formula;
            mem->kv_per_token = add(c, mem->kv_per_token, mul(c, rc ? (uint64_t)n : generic, kv_bytes));
        }
    }
    return 0;
}

/* FLOPs the plugins report themselves, and the parameters those instances hold. */
typedef struct reported {
    calc *c;
    int64_t context;
    uint64_t flops, params;
    tfx_error *err;
} reported;

static int add_reported(const tfx_model *m, const tfx_instance *inst, void *ctx)
{
    reported *r = ctx;
    int64_t f, declared;
    int rc = tfx_size_flops_per_token(inst, r->context, &f, r->err);
    if (rc <= 0)
        return rc;
    if (tfx_instance_params(m, inst, &declared, r->err))
        return -1;
    r->flops = add(r->c, r->flops, (uint64_t)f);
    r->params = add(r->c, r->params, (uint64_t)declared);
    return 0;
}

static int reports_flops(const tfx_instance *inst)
{
    return inst->comp->plugin->desc->attention->flops_per_token != NULL;
}

/* Σ over attention layers of keys_seen(context) · d_attn: the attention term of one token. */
static int attention_term(calc *c, const tfx_model *m, int64_t context, uint64_t *term,
                          tfx_error *err)
{
    const uint64_t d_attn = mul(c, (uint64_t)m->spec->heads, (uint64_t)m->spec->head_dim);
    uint64_t sum = 0;
    for (int si = 0; si < m->n_stacks; si++)
        for (int64_t i = 0; i < m->stacks[si].spec->layers; i++) {
            const tfx_layer *l = &m->stacks[si].layers[i];
            const tfx_instance *attn[2] = {&l->attn, &l->cross_attn};
            for (int a = 0; a < 2; a++) {
                int64_t keys;
                if (!attn[a]->comp || reports_flops(attn[a]))
                    continue;
                if (tfx_size_attn_keys_seen(attn[a], context, &keys, err))
                    return -1;
                sum = add(c, sum, mul(c, (uint64_t)keys, d_attn));
            }
        }
    *term = mul(c, 2, sum);
    return 0;
}

static void training(calc *c, const tfx_model *m, const tfx_estimate_opts *o, uint64_t params,
                     tfx_memory *mem)
{
    mem->train_weights = mul(c, params, 2);
    mem->train_grads = mul(c, params, 2);
    mem->train_master = mul(c, params, 4);
    mem->train_grads_fp32 = o->fp32_grads ? mul(c, params, 4) : 0;
    mem->train_adam = mul(c, params, 8);
    mem->bytes_per_param = o->fp32_grads ? 20 : 16;
    mem->training = add(c, add(c, add(c, mem->train_weights, mem->train_grads),
                               add(c, mem->train_master, mem->train_grads_fp32)), mem->train_adam);
    /* Korthikanti et al. (2022), no parallelism: s·b·h·(34 + 5·a·s/h) bytes per layer. */
    const uint64_t s = (uint64_t)o->context, b = (uint64_t)o->batch, h = (uint64_t)m->spec->d_model;
    const uint64_t a = (uint64_t)m->spec->heads;
    uint64_t layers = 0;
    for (int si = 0; si < m->n_stacks; si++)
        layers = add(c, layers, (uint64_t)m->stacks[si].spec->layers);
    uint64_t sbh = mul(c, mul(c, s, b), h);
    uint64_t per_layer = add(c, mul(c, sbh, 34), mul(c, mul(c, mul(c, 5, a), mul(c, s, s)), b));
    mem->train_activations = mul(c, per_layer, layers);
    mem->train_activations_recompute = mul(c, mul(c, sbh, 2), layers);
}

int tfx_estimate(const tfx_model *m, int64_t params, int64_t non_embedding,
                 const tfx_estimate_opts *opts, tfx_memory *mem, tfx_flops *flops,
                 tfx_error *err)
{
    calc c = {false};
    tfx_estimate_opts o = tfx_estimate_defaults(m, opts);
    const uint64_t n = (uint64_t)params, b = (uint64_t)o.batch;
    memset(mem, 0, sizeof *mem);
    memset(flops, 0, sizeof *flops);
    mem->weights_fp32 = mul(&c, n, 4);
    mem->weights_fp16 = mem->weights_bf16 = mul(&c, n, 2);
    mem->weights_int8 = n;
    uint64_t self, cross;
    if (kv_elements(&c, m, o.context, &self, &cross, err))
        return -1;
    mem->kv_cache = mul(&c, mul(&c, self, b), (uint64_t)o.kv_bytes);
    mem->kv_cache_cross = mul(&c, mul(&c, cross, b), (uint64_t)o.kv_bytes);
    tfx_run_limits lim = {.max_tokens = o.context, .capacity = o.context,
                          .encoder_tokens = m->spec->kind == TFX_MODEL_ENCODER_DECODER ? o.context : 0};
    uint64_t run_bytes;
    if (tfx_runtime_bytes(m, &lim, &run_bytes, err))
        return -1;
    uint64_t kv_fp32 = mul(&c, add(&c, self, cross), 4);
    mem->activations = mul(&c, run_bytes > kv_fp32 ? run_bytes - kv_fp32 : 0, b);
    training(&c, m, &o, n, mem);
    if (kv_per_token(&c, m, (uint64_t)o.kv_bytes, mem, err))
        return -1;
    reported r = {&c, o.context, 0, 0, err};
    if (tfx_each_sublayer(m, add_reported, &r))
        return -1;
    flops->forward_plugin_term = r.flops;
    flops->forward_params_term = mul(&c, 2, (uint64_t)non_embedding - r.params);
    if (attention_term(&c, m, o.context, &flops->forward_attention_term, err))
        return -1;
    flops->forward_per_token = add(&c, add(&c, flops->forward_params_term, flops->forward_attention_term),
                                   flops->forward_plugin_term);
    flops->forward_per_sequence = mul(&c, flops->forward_per_token, (uint64_t)o.context);
    flops->training_per_token = mul(&c, 3, flops->forward_per_token);
    if (c.overflow)
        return tfx_fail(err, "a memory or FLOP figure overflows 64 bits");
    return 0;
}
