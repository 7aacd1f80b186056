/* plugins/ffn/ffn.h — what the FFN plugins share: their options' layout, the state, the width
 * rule (explicit, or a multiple of d_model) and the declaration of the projections. */
#ifndef TFX_FFN_FFN_H
#define TFX_FFN_FFN_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include <tfx/plugin.h>

#include "activation.h"

enum { OPT_WIDTH, OPT_MULT, OPT_ACTIVATION, OPT_BIAS, OPT_INIT, N_OPTIONS };

/* The `init` option: how the random initialisation scales with depth (tfx_init_rule). */
typedef enum ffn_init { INIT_NORMAL, INIT_GPT2, INIT_DEEPNET } ffn_init;
static const char *const init_choices[] = {"normal", "gpt2", "deepnet", NULL};
#define FFN_INIT_OPTION                                                                             \
    [OPT_INIT] = {.name = "init", .type = TFX_OPT_ENUM, .default_value = "normal",                  \
                  .doc = "normal: N(0, init_std); gpt2: the down projection's std / sqrt(2 x layers); " \
                         "deepnet: every matrix's std x DeepNet's beta",                            \
                  .choices = init_choices}

typedef struct ffn {
    const tfx_host *host;
    int64_t C, W;                 /* d_model, hidden width */
    activation act;
    int bias;
    int training;                 /* forward keeps what backward needs in its workspace */
    ffn_init init;
} ffn;

/* cfg->training, or 0 from a core whose tfx_config predates it. */
static inline int config_training(const tfx_config *cfg)
{
    return cfg->size >= offsetof(tfx_config, training) + sizeof cfg->training && cfg->training;
}

/* Configure from the options; the ENUM's choices are a subset of activation_names. */
static inline int ffn_configure(const tfx_config *cfg, const char *const *choices, void **state,
                                tfx_status *st)
{
    const int64_t C = cfg->dims.d_model, width = cfg->options[OPT_WIDTH].i;
    double w = width > 0 ? (double)width : round(cfg->options[OPT_MULT].f * (double)C);
    int64_t W = (int64_t)w, product;
    if (!(w >= 1 && w < 9e18) || __builtin_mul_overflow(W, C, &product))
        return cfg->host->fail(st, "FFN width %.0f is out of range for d_model %lld", w, (long long)C);
    ffn *f = malloc(sizeof *f);
    if (!f)
        return cfg->host->fail(st, "out of memory");
    *f = (ffn){.host = cfg->host, .C = C, .W = W, .bias = (int)cfg->options[OPT_BIAS].i,
               .training = config_training(cfg), .init = (ffn_init)cfg->options[OPT_INIT].i,
               .act = (activation)activation_from_name(choices[cfg->options[OPT_ACTIVATION].i])};
    *state = f;
    return 0;
}

static inline void ffn_destroy(void *state) { free(state); }

/* Declare "<name>.weight" [rows, cols] and, with biases, "<name>.bias" [rows]; the weight
 * under the `init` rule (`residual`: it writes into the residual stream, GPT-2's c_proj). */
static inline int declare_linear_as(const ffn *f, tfx_declarer *d, const char *weight,
                                    const char *bias, int64_t rows, int64_t cols, int residual,
                                    tfx_status *st)
{
    int64_t shape[2] = {rows, cols};
    tfx_init_depth depth = f->init == INIT_DEEPNET              ? TFX_DEPTH_DEEPNET
                           : f->init == INIT_GPT2 && residual ? TFX_DEPTH_RESIDUAL
                                                              : TFX_DEPTH_NONE;
    if (depth != TFX_DEPTH_NONE) {
        if (f->host->size < offsetof(tfx_host, declare_tensor_init) + sizeof(void *) ||
            !f->host->declare_tensor_init)
            return f->host->fail(st, "init rules need a newer tfx (declare_tensor_init)");
        tfx_init_rule rule = {.size = sizeof rule, .init = TFX_INIT_NORMAL, .std = 0, .depth = depth};
        if (f->host->declare_tensor_init(d, weight, 2, shape, &rule, st))
            return -1;
    } else if (f->host->declare_tensor(d, weight, 2, shape, TFX_INIT_NORMAL, st)) {
        return -1;
    }
    return f->bias ? f->host->declare_tensor(d, bias, 1, shape, TFX_INIT_ZEROS, st) : 0;
}

/* k·T·W floats of workspace, or INT64_MAX (which no allocation can hold) when it overflows. */
static inline int64_t ffn_floats(int64_t k, int64_t T, int64_t W)
{
    int64_t kT, n;
    if (__builtin_mul_overflow(k, T, &kT) || __builtin_mul_overflow(kT, W, &n))
        return INT64_MAX;
    return n;
}

/* dg[n] = dh ⊙ up and du[n] = dh ⊙ act(pre): the gradients of the product's two factors, the
 * first still before the activation's derivative. dg may be dh. */
static inline void glu_split_product(float *dg, float *du, const float *dh, const float *upped,
                                     const float *pre, activation act, int64_t n)
{
    memcpy(du, pre, (size_t)n * sizeof *du);
    activate(act, du, n);
    for (int64_t i = 0; i < n; i++) {
        float g = dh[i];
        du[i] *= g;
        dg[i] = g * upped[i];
    }
    activate_backward(act, dg, pre, n);
}

static inline int declare_linear(const ffn *f, tfx_declarer *d, const char *weight,
                                 const char *bias, int64_t rows, int64_t cols, tfx_status *st)
{
    return declare_linear_as(f, d, weight, bias, rows, cols, 0, st);
}

static inline int64_t ffn_width(void *state) { return ((const ffn *)state)->W; }

#endif
