/* plugins/norm/rmsnorm.c — RMSNorm (Zhang & Sennrich, 2019): divide by the root mean square
 * and scale by `offset + weight`; no mean subtraction, no bias (Llama, T5; Gemma's 1 + w). */
#include <math.h>
#include <stdlib.h>

#include <tfx/plugin.h>

enum { OPT_EPS, OPT_OFFSET, N_OPTIONS };

static const tfx_option options[N_OPTIONS] = {
    [OPT_EPS] = {.name = "eps", .type = TFX_OPT_FLOAT, .default_value = "1e-6",
                 .doc = "added to the mean square before the square root", .min = 0, .max = 1},
    [OPT_OFFSET] = {.name = "offset", .type = TFX_OPT_FLOAT, .default_value = "0",
                    .doc = "the gain is offset + weight (Gemma: 1, weights stored around 0)",
                    .min = -1e3, .max = 1e3},
};

typedef struct rmsnorm {
    const tfx_host *host;
    int64_t C;
    double eps;
    float offset;                 /* gain = offset + weight */
} rmsnorm;

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    rmsnorm *n = malloc(sizeof *n);
    if (!n)
        return cfg->host->fail(st, "out of memory");
    *n = (rmsnorm){.host = cfg->host, .C = cfg->dims.d_model, .eps = cfg->options[OPT_EPS].f,
                   .offset = (float)cfg->options[OPT_OFFSET].f};
    *state = n;
    return 0;
}

static void destroy(void *state) { free(state); }

static int declare(void *state, tfx_declarer *d, tfx_status *st)
{
    const rmsnorm *n = state;
    int64_t shape[1] = {n->C};
    /* a fresh gain of 1: weight 1, or 0 beside an offset of 1 */
    tfx_init init = n->offset == 1.0f ? TFX_INIT_ZEROS : TFX_INIT_ONES;
    return n->host->declare_tensor(d, "weight", 1, shape, init, st);
}

/* out[T, C] = x / sqrt(mean(x²) + eps) * (offset + weight), per row; out may be x. */
static void forward(void *state, const float *const *w, float *out, const float *x, int64_t T)
{
    const rmsnorm *n = state;
    const int64_t C = n->C;
    for (int64_t t = 0; t < T; t++) {
        const float *row = x + t * C;
        float *dst = out + t * C;
        double sq = 0;
        for (int64_t c = 0; c < C; c++)
            sq += (double)row[c] * row[c];
        float scale = (float)(1.0 / sqrt(sq / (double)C + n->eps));
        for (int64_t c = 0; c < C; c++)
            dst[c] = (n->offset + w[0][c]) * (row[c] * scale);
    }
}

/* With r = 1/sqrt(mean(x²) + eps) and g = dout ⊙ weight, per row:
 * dx = r·g − x·r³·mean(g ⊙ x) with g = dout ⊙ (offset + weight); dweight += dout ⊙ x·r.
 * r is recomputed from x; dx may equal
 * dout: a row is read before it is written. */
static void backward(void *state, const float *const *w, float *const *dw, float *dx,
                     const float *dout, const float *x, int64_t T)
{
    const rmsnorm *n = state;
    const int64_t C = n->C;
    for (int64_t t = 0; t < T; t++) {
        const float *row = x + t * C, *dy = dout + t * C;
        double sq = 0, sum_gx = 0;
        for (int64_t c = 0; c < C; c++)
            sq += (double)row[c] * row[c];
        float r = (float)(1.0 / sqrt(sq / (double)C + n->eps));
        for (int64_t c = 0; c < C; c++) {
            sum_gx += (double)dy[c] * (n->offset + w[0][c]) * row[c];
            dw[0][c] += dy[c] * (row[c] * r);
        }
        float k = (float)(sum_gx / (double)C) * r * r * r;
        float *d = dx + t * C;
        for (int64_t c = 0; c < C; c++)
            d[c] = r * dy[c] * (n->offset + w[0][c]) - row[c] * k;
    }
}

static const tfx_norm_ops ops = {.size = sizeof ops, .forward = forward, .backward = backward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_NORM,
        .name = "rmsnorm", .summary = "RMSNorm: divide by the root mean square, then a gain",
        .options = options, .n_options = N_OPTIONS,
        .configure = configure, .destroy = destroy, .declare = declare, .norm = &ops,
    };
    return &plugin;
}
