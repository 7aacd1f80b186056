/* plugins/position/sinusoidal.c — the fixed sine/cosine encodings of "Attention Is All You
 * Need", added to the embeddings; no parameters. */
#include <math.h>
#include <stdlib.h>

#include <tfx/plugin.h>

enum { OPT_BASE, OPT_LAYOUT, OPT_STORED, N_OPTIONS };
enum { LAYOUT_INTERLEAVED, LAYOUT_CONCAT };

static const char *const layouts[] = {"interleaved", "concat", NULL};

static const tfx_option options[N_OPTIONS] = {
    [OPT_BASE] = {.name = "base", .type = TFX_OPT_FLOAT, .default_value = "10000",
                  .doc = "wavelengths grow geometrically up to 2π·base", .min = 1, .max = 1e12},
    [OPT_LAYOUT] = {.name = "layout", .type = TFX_OPT_ENUM, .default_value = "interleaved",
                    .doc = "interleaved: sin, cos in even, odd columns (the paper); concat: all sines, then all cosines (fairseq)",
                    .choices = layouts},
    [OPT_STORED] = {.name = "stored", .type = TFX_OPT_BOOL, .default_value = "false",
                    .doc = "declare the table [context, d_model] as a frozen parameter, as Hugging Face's Marian keeps it: counted in the total, loaded, never trained (the encodings are computed all the same)",
                    .min = 1, .max = 0},
};

typedef struct sinusoidal {
    const tfx_host *host;
    int64_t C, context;
    int stored;
    double base;
    int layout;
} sinusoidal;

static int configure(const tfx_config *cfg, void **state, tfx_status *st)
{
    if (cfg->dims.d_model % 2)
        return cfg->host->fail(st, "sinusoidal positions need an even d_model, not %lld",
                               (long long)cfg->dims.d_model);
    sinusoidal *p = malloc(sizeof *p);
    if (!p)
        return cfg->host->fail(st, "out of memory");
    *p = (sinusoidal){.host = cfg->host, .C = cfg->dims.d_model, .context = cfg->dims.context,
                      .stored = (int)cfg->options[OPT_STORED].i, .base = cfg->options[OPT_BASE].f,
                      .layout = (int)cfg->options[OPT_LAYOUT].i};
    *state = p;
    return 0;
}

static void destroy(void *state) { free(state); }

/* With `stored`: weight [context, C], a frozen parameter (the values are not read). */
static int declare(void *state, tfx_declarer *d, tfx_status *st)
{
    const sinusoidal *p = state;
    if (!p->stored)
        return 0;
    if (p->host->size < offsetof(tfx_host, declare_tensor_init) + sizeof(void *) || !p->host->declare_tensor_init)
        return p->host->fail(st, "a stored table needs a newer tfx (declare_tensor_init)");
    int64_t shape[2] = {p->context, p->C};
    tfx_init_rule rule = {.size = sizeof rule, .init = TFX_INIT_ZEROS, .frozen = 1};
    return p->host->declare_tensor_init(d, "weight", 2, shape, &rule, st);
}

/* x[T, C] += PE(pos): frequency i in [0, C/2) is base^(-2i/C). */
static int embed(void *state, const float *const *w, float *x, int64_t T, const int32_t *pos,
                 tfx_status *st)
{
    const sinusoidal *p = state;
    const int64_t half = p->C / 2;
    for (int64_t t = 0; t < T; t++) {
        float *row = x + t * p->C;
        for (int64_t i = 0; i < half; i++) {
            double angle = pos[t] * pow(p->base, -2.0 * (double)i / (double)p->C);
            int64_t s = p->layout == LAYOUT_INTERLEAVED ? 2 * i : i;
            int64_t c = p->layout == LAYOUT_INTERLEAVED ? 2 * i + 1 : half + i;
            row[s] += (float)sin(angle);
            row[c] += (float)cos(angle);
        }
    }
    return 0;
}

/* The encodings are fixed, not learned: nothing to accumulate (x's gradient passes through). */
static int embed_backward(void *state, const float *const *w, float *const *dw, const float *dx,
                          int64_t T, const int32_t *pos, tfx_status *st)
{
    return 0;
}

static const tfx_position_ops ops = {.size = sizeof ops, .embed = embed,
                                     .embed_backward = embed_backward};

TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void)
{
    static const tfx_plugin plugin = {
        .abi_version = TFX_ABI_VERSION, .size = sizeof plugin, .kind = TFX_KIND_POSITION,
        .name = "sinusoidal", .summary = "fixed sine/cosine encodings added to the embeddings",
        .options = options, .n_options = N_OPTIONS,
        .configure = configure, .destroy = destroy, .declare = declare, .position = &ops,
    };
    return &plugin;
}
