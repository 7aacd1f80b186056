/* plugins/norm/rmsnorm.c — RMSNorm (Zhang & Sennrich, 2019): divide by the root mean square
 * and scale by `weight`; no mean subtraction, no bias (Llama, T5). */
#include <math.h>
#include <stdlib.h>

#include <tfx/plugin.h>

enum { OPT_EPS, N_OPTIONS };

static const tfx_option options[N_OPTIONS] = {
    [OPT_EPS] = {.name = "eps", .type = TFX_OPT_FLOAT, .default_value = "1e-6",
                 .doc = "added to the mean square before the square root", .min = 0, .max = 1},
};

typedef struct rmsnorm {
    const tfx_host *host;
    int64_t C;
    double eps;
} rmsnorm;

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    rmsnorm *n = malloc(sizeof *n);
    if (!n)
        return cfg->host->fail(st, "out of memory");
    *n = (rmsnorm){.host = cfg->host, .C = cfg->dims.d_model, .eps = cfg->options[OPT_EPS].f};
    *state = n;
    return 0;
}

static void destroy(void *state) { free(state); }

static int declare(void *state, tfx_declarer *d, tfx_status *st)
{
    const rmsnorm *n = state;
    int64_t shape[1] = {n->C};
    return n->host->declare_tensor(d, "weight", 1, shape, TFX_INIT_ONES, st);
}

/* out[T, C] = x / sqrt(mean(x²) + eps) * weight, per row; out may be x. */
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
            dst[c] = w[0][c] * (row[c] * scale);
    }
}

static const tfx_norm_ops ops = {.size = sizeof ops, .forward = forward};

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
