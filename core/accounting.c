/* core/accounting.c — sums the declared tensors into parameter counts; every addition is
 * checked, so a count is exact or an error, never wrapped. */
#include "accounting.h"

#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "sizes.h"

static int add(int64_t *sum, int64_t n, tfx_error *err)
{
    if (tfx_add_overflows(*sum, n, sum))
        return tfx_fail(err, "the parameter count overflows 64 bits");
    return 0;
}

int tfx_instance_params(const tfx_model *m, const tfx_instance *inst, int64_t *out, tfx_error *err)
{
    *out = 0;
    for (size_t i = inst->first; i < inst->first + inst->n; i++)
        if (m->tensors[i].tied_to < 0 && m->tensors[i].role != TFX_ROLE_BUFFER &&
            add(out, m->tensors[i].numel, err))
            return -1;
    return 0;
}

int tfx_each_sublayer(const tfx_model *m,
                      int (*fn)(const tfx_model *m, const tfx_instance *inst, void *ctx), void *ctx)
{
    for (int si = 0; si < m->n_stacks; si++)
        for (int64_t i = 0; i < m->stacks[si].spec->layers; i++) {
            const tfx_layer *l = &m->stacks[si].layers[i];
            const tfx_instance *subs[3] = {&l->attn, &l->cross_attn, &l->ffn};
            for (int k = 0; k < 3; k++) {
                int rc = subs[k]->comp ? fn(m, subs[k], ctx) : 0;
                if (rc)
                    return rc;
            }
        }
    return 0;
}

typedef struct active_ctx {
    int64_t skipped;              /* declared less active, summed */
    tfx_error *err;
} active_ctx;

static int skip_inactive(const tfx_model *m, const tfx_instance *inst, void *ctx)
{
    active_ctx *a = ctx;
    int64_t declared, active;
    if (tfx_instance_params(m, inst, &declared, a->err))
        return -1;
    int rc = tfx_size_active_params(inst, declared, &active, a->err);
    if (rc <= 0)
        return rc;
    return add(&a->skipped, declared - active, a->err);
}

int tfx_counts_compute(const tfx_model *m, tfx_counts *c, tfx_error *err)
{
    memset(c, 0, sizeof *c);
    c->n_stacks = m->n_stacks;
    for (int si = 0; si < m->n_stacks; si++) {
        c->n_layers[si] = m->stacks[si].spec->layers;
        c->layers[si] = calloc((size_t)c->n_layers[si], sizeof *c->layers[si]);
        if (!c->layers[si])
            return tfx_fail(err, "out of memory");
    }
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tfx_tensor *t = &m->tensors[i];
        if (t->role == TFX_ROLE_BUFFER) /* Hugging Face counts no buffer */
            continue;
        if (t->role == TFX_ROLE_PARAM && t->tied_to < 0 && add(&c->trainable, t->numel, err))
            goto err_free;
        if (t->tied_to >= 0) {
            if (add(&c->tied, t->numel, err))
                goto err_free;
            continue;
        }
        if (add(&c->total, t->numel, err) || add(&c->part[t->part], t->numel, err))
            goto err_free;
        if (t->part != TFX_PART_EMBEDDING && t->part != TFX_PART_POSITION &&
            add(&c->non_embedding, t->numel, err))
            goto err_free;
        if (t->stack >= 0 && t->layer >= 0) {
            tfx_layer_count *lc = &c->layers[t->stack][t->layer];
            if (add(&lc->part[t->part], t->numel, err) || add(&lc->total, t->numel, err))
                goto err_free;
        }
    }
    active_ctx a = {0, err};
    if (tfx_each_sublayer(m, skip_inactive, &a))
        goto err_free;
    c->active = c->total - a.skipped; /* 0 <= skipped <= total: each part is an instance's own */
    return 0;
err_free:
    tfx_counts_free(c);
    return -1;
}

void tfx_counts_free(tfx_counts *c)
{
    for (int si = 0; si < 2; si++) {
        free(c->layers[si]);
        c->layers[si] = NULL;
    }
}
