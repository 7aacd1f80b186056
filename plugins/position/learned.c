/* plugins/position/learned.c — a learned table of position embeddings added to the token
 * embeddings (GPT-2, BERT, BART's with an offset of 2). */
#include <stdlib.h>

#include <tfx/plugin.h>

enum { OPT_OFFSET, N_OPTIONS };

static const tfx_option options[N_OPTIONS] = {
    [OPT_OFFSET] = {.name = "offset", .type = TFX_OPT_INT, .default_value = "0",
                    .doc = "rows of the table before position 0 (BART: 2)", .min = 0, .max = 1000000},
};

typedef struct learned {
    const tfx_host *host;
    int64_t C, context, offset;
} learned;

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    learned *p = malloc(sizeof *p);
    if (!p)
        return cfg->host->fail(st, "out of memory");
    *p = (learned){.host = cfg->host, .C = cfg->dims.d_model, .context = cfg->dims.context,
                   .offset = cfg->options[OPT_OFFSET].i};
    *state = p;
    return 0;
}

static void destroy(void *state) { free(state); }

static int declare(void *state, tfx_declarer *d, tfx_status *st)
{
    const learned *p = state;
    int64_t shape[2] = {p->context + p->offset, p->C};
    return p->host->declare_tensor(d, "weight", 2, shape, TFX_INIT_NORMAL, st);
}

/* x[T, C] += weight[pos + offset] */
static int embed(void *state, const float *const *w, float *x, int64_t T, const int32_t *pos,
                 tfx_status *st)
{
    const learned *p = state;
    for (int64_t t = 0; t < T; t++) {
        if (pos[t] < 0 || pos[t] >= p->context)
            return p->host->fail(st, "position %d is outside the context of %lld", (int)pos[t],
                                 (long long)p->context);
        const float *row = w[0] + (pos[t] + p->offset) * p->C;
        float *dst = x + t * p->C;
        for (int64_t c = 0; c < p->C; c++)
            dst[c] += row[c];
    }
    return 0;
}

/* dweight[pos + offset] += dx[t]: each row of the gradient goes back to the row it read. */
static int embed_backward(void *state, const float *const *w, float *const *dw, const float *dx,
                          int64_t T, const int32_t *pos, tfx_status *st)
{
    (void)w;
    const learned *p = state;
    for (int64_t t = 0; t < T; t++) {
        if (pos[t] < 0 || pos[t] >= p->context)
            return p->host->fail(st, "position %d is outside the context of %lld", (int)pos[t],
                                 (long long)p->context);
        float *row = dw[0] + (pos[t] + p->offset) * p->C;
        const float *src = dx + t * p->C;
        for (int64_t c = 0; c < p->C; c++)
            row[c] += src[c];
    }
    return 0;
}

static const tfx_position_ops ops = {.size = sizeof ops, .embed = embed,
                                     .embed_backward = embed_backward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_POSITION,
        .name = "learned", .summary = "a learned position table added to the embeddings",
        .options = options, .n_options = N_OPTIONS,
        .configure = configure, .destroy = destroy, .declare = declare, .position = &ops,
    };
    return &plugin;
}
