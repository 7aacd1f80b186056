/* plugins/norm/layernorm.c — LayerNorm (Ba et al., 2016): subtract the mean, divide by the
 * standard deviation, then scale by `weight` and shift by `bias`. */
#include <math.h>
#include <stdlib.h>

#include <tfx/plugin.h>

enum { OPT_EPS, OPT_BIAS, N_OPTIONS };

static const tfx_option options[N_OPTIONS] = {
    [OPT_EPS] = {.name = "eps", .type = TFX_OPT_FLOAT, .default_value = "1e-5",
                 .doc = "added to the variance before the square root", .min = 0, .max = 1},
    [OPT_BIAS] = {.name = "bias", .type = TFX_OPT_BOOL, .default_value = "true",
                  .doc = "learn a bias (a shift) as well as a gain", .min = 1, .max = 0},
};

typedef struct layernorm {
    const tfx_host *host;
    int64_t C;
    double eps;
    int bias;
} layernorm;

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    layernorm *n = malloc(sizeof *n);
    if (!n)
        return cfg->host->fail(st, "out of memory");
    *n = (layernorm){.host = cfg->host, .C = cfg->dims.d_model, .eps = cfg->options[OPT_EPS].f,
                     .bias = (int)cfg->options[OPT_BIAS].i};
    *state = n;
    return 0;
}

static void destroy(void *state) { free(state); }

static int declare(void *state, tfx_declarer *d, tfx_status *st)
{
    const layernorm *n = state;
    int64_t shape[1] = {n->C};
    if (n->host->declare_tensor(d, "weight", 1, shape, TFX_INIT_ONES, st))
        return -1;
    return n->bias ? n->host->declare_tensor(d, "bias", 1, shape, TFX_INIT_ZEROS, st) : 0;
}

/* The mean of row[C] and 1/sqrt(var + eps), as the forward computes them. */
static void row_stats(const layernorm *n, const float *row, float *mean_out, float *rstd_out)
{
    const int64_t C = n->C;
    double sum = 0, sq = 0;
    for (int64_t c = 0; c < C; c++)
        sum += row[c];
    double mean = sum / (double)C;
    for (int64_t c = 0; c < C; c++) {
        double dev = row[c] - mean;
        sq += dev * dev;
    }
    *rstd_out = (float)(1.0 / sqrt(sq / (double)C + n->eps));
    *mean_out = (float)mean;
}

/* out[T, C] = (x - mean) / sqrt(var + eps) * weight + bias, per row; out may be x. */
static void forward(void *state, const float *const *w, float *out, const float *x, int64_t T)
{
    const layernorm *n = state;
    const int64_t C = n->C;
    const float *weight = w[0], *bias = n->bias ? w[1] : NULL;
    for (int64_t t = 0; t < T; t++) {
        const float *row = x + t * C;
        float *dst = out + t * C;
        float m, rstd;
        row_stats(n, row, &m, &rstd);
        for (int64_t c = 0; c < C; c++) {
            float v = (row[c] - m) * rstd * weight[c];
            dst[c] = bias ? v + bias[c] : v;
        }
    }
}

/* With x̂ = (x − mean)·rstd and g = dout ⊙ weight, per row:
 * dx = rstd·(g − mean(g) − x̂·mean(g ⊙ x̂)); dweight += dout ⊙ x̂; dbias += dout.
 * mean and rstd are recomputed from x. dx may equal dout: a row is read before it is written. */
static void backward(void *state, const float *const *w, float *const *dw, float *dx,
                     const float *dout, const float *x, int64_t T)
{
    const layernorm *n = state;
    const int64_t C = n->C;
    const float *weight = w[0];
    float *dweight = dw[0], *dbias = n->bias ? dw[1] : NULL;
    for (int64_t t = 0; t < T; t++) {
        const float *row = x + t * C, *dy = dout + t * C;
        float m, rstd;
        row_stats(n, row, &m, &rstd);
        double sum_g = 0, sum_gx = 0;
        for (int64_t c = 0; c < C; c++) {
            float xhat = (row[c] - m) * rstd, g = dy[c] * weight[c];
            sum_g += g;
            sum_gx += (double)g * xhat;
            dweight[c] += dy[c] * xhat;
            if (dbias)
                dbias[c] += dy[c];
        }
        float mean_g = (float)(sum_g / (double)C), mean_gx = (float)(sum_gx / (double)C);
        float *d = dx + t * C;
        for (int64_t c = 0; c < C; c++) {
            float xhat = (row[c] - m) * rstd;
            d[c] = rstd * (dy[c] * weight[c] - mean_g - xhat * mean_gx);
        }
    }
}

static const tfx_norm_ops ops = {.size = sizeof ops, .forward = forward, .backward = backward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_NORM,
        .name = "layernorm", .summary = "LayerNorm: normalise by mean and variance, then gain and bias",
        .options = options, .n_options = N_OPTIONS,
        .configure = configure, .destroy = destroy, .declare = declare, .norm = &ops,
    };
    return &plugin;
}
