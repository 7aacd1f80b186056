/* plugins/placement/block.h — what the placement plugins share: their state, naming one norm
 * per sublayer, and adding one [T, C] buffer into another. */
#ifndef TFX_PLACEMENT_BLOCK_H
#define TFX_PLACEMENT_BLOCK_H

#include <stdio.h>
#include <stdlib.h>

#include <tfx/plugin.h>

typedef struct placement {
    const tfx_host *host;
    int n_sublayers;              /* as the last declare_norms saw them */
    int shared_norm;              /* parallel only */
} placement;

static inline int placement_configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    placement *p = calloc(1, sizeof *p);
    if (!p)
        return cfg->host->fail(st, "out of memory");
    p->host = cfg->host;
    *state = p;
    return 0;
}

static inline void placement_destroy(void *state) { free(state); }

/* Declare "<sublayer><suffix>" for every sublayer, e.g. "attn_norm". */
static inline int declare_each(placement *p, const char *const *sublayers, int n,
                               const char *suffix, tfx_declarer *d, tfx_status *st)
{
    for (int s = 0; s < n; s++) {
        char name[64];
        snprintf(name, sizeof name, "%s%s", sublayers[s], suffix);
        if (p->host->declare_norm(d, name, st))
            return -1;
    }
    p->n_sublayers = n;
    return 0;
}

/* x[n] += y[n] */
static inline void add_into(float *x, const float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] += y[i];
}

/* Post-LN with the residual weighted by alpha (1: post-LN; DeepNorm's α): per sublayer,
 * x = norm(alpha·x + f(x)). scratch[0] holds the sum. */
static inline int post_forward(const placement *p, float alpha, const tfx_block_io *io,
                               tfx_status *st)
{
    float *sum = io->scratch[0]; /* [T, C] */
    for (int s = 0; s < p->n_sublayers; s++) {
        if (io->sublayer(io->ctx, s, sum, io->x, st))
            return -1;
        for (int64_t i = 0; i < io->T * io->C; i++)
            sum[i] += alpha * io->x[i];
        io->norm(io->ctx, s, io->x, sum);
    }
    return 0;
}

/* Its reverse: through the norm to the sum, whose gradient reaches x through the residual
 * (times alpha) and through the sublayer. */
static inline int post_backward(const placement *p, float alpha, const tfx_block_grad_io *io,
                                tfx_status *st)
{
    float *dsum = io->scratch[0], *d = io->scratch[1]; /* [T, C] each */
    for (int s = p->n_sublayers - 1; s >= 0; s--) {
        io->norm_backward(io->ctx, s, dsum, io->dx);
        if (io->sublayer_backward(io->ctx, s, d, dsum, st))
            return -1;
        for (int64_t i = 0; i < io->T * io->C; i++)
            io->dx[i] = alpha * dsum[i] + d[i];
    }
    return 0;
}

#endif
