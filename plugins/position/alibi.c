/* plugins/position/alibi.c — ALiBi (Press et al., 2021): each head adds slope · (key position −
 * query position) to its scores; slopes as BLOOM computes them, for any head count. */
#include <math.h>
#include <stdlib.h>

#include <tfx/plugin.h>

enum { OPT_MAX_BIAS, N_OPTIONS };

static const tfx_option options[N_OPTIONS] = {
    [OPT_MAX_BIAS] = {.name = "max_bias", .type = TFX_OPT_FLOAT, .default_value = "8",
                      .doc = "the slopes are 2^(-max_bias·k/n) for heads k = 1..n", .min = 1e-9, .max = 1e6},
};

typedef struct alibi {
    int64_t heads;
    float slopes[]; /* [heads] */
} alibi;

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    const int64_t H = cfg->dims.heads;
    const float max_bias = (float)cfg->options[OPT_MAX_BIAS].f;
    alibi *p = malloc(sizeof *p + (size_t)H * sizeof(float));
    if (!p)
        return cfg->host->fail(st, "out of memory");
    p->heads = H;
    int64_t cp = 1; /* the largest power of two <= H */
    while (cp * 2 <= H)
        cp *= 2;
    float base = powf(2.0f, -max_bias / (float)cp);
    for (int64_t h = 0; h < cp; h++)
        p->slopes[h] = powf(base, (float)(h + 1));
    float extra = powf(2.0f, -max_bias / (float)(2 * cp));
    for (int64_t k = 0; k < H - cp; k++) /* the odd powers of the next power of two */
        p->slopes[cp + k] = powf(extra, (float)(2 * k + 1));
    *state = p;
    return 0;
}

static void destroy(void *state) { free(state); }

static void score_bias(void *state, const float *const *w, float *scores, int64_t ld, int64_t Tq,
                       int64_t Tk, int64_t head, const int32_t *q_pos, const int32_t *k_pos)
{
    const alibi *p = state;
    const float slope = p->slopes[head];
    for (int64_t i = 0; i < Tq; i++)
        for (int64_t j = 0; j < Tk; j++)
            scores[i * ld + j] += slope * (float)(k_pos[j] - q_pos[i]);
}

/* The slopes are fixed, not learned: no weight gradient. The scores' gradient passes through
 * unchanged (the attention plugin carries it on). */
static void score_bias_backward(void *state, const float *const *w, float *const *dw,
                                const float *dscores, int64_t ld, int64_t Tq, int64_t Tk,
                                int64_t head, const int32_t *q_pos, const int32_t *k_pos)
{
}

static const tfx_position_ops ops = {.size = sizeof ops, .score_bias = score_bias,
                                     .score_bias_backward = score_bias_backward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_POSITION,
        .name = "alibi", .summary = "linear biases on attention scores by distance (ALiBi)",
        .options = options, .n_options = N_OPTIONS,
        .configure = configure, .destroy = destroy, .position = &ops,
    };
    return &plugin;
}
