/* core/accounting.c — sums the declared tensors into parameter counts; every addition is
 * checked, so a count is exact or an error, never wrapped. */
#include "accounting.h"

#include <stdlib.h>
#include <string.h>

#include "checked.h"

static int add(int64_t *sum, int64_t n, tfx_error *err)
{
    if (tfx_add_overflows(*sum, n, sum))
        return tfx_fail(err, "the parameter count overflows 64 bits");
    return 0;
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
