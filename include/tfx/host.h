/* tfx/host.h — the services the core hands every plugin: matrix kernels, declarations, errors.
 * A plugin calls these through the table it receives in tfx_config; it links none of them.
 *
 * Shapes are row-major. `linear` is the hot product of every projection: weights are stored as
 * [out, in] (as PyTorch's nn.Linear stores them), so y = x · Wᵀ needs no copy or transpose.
 */
#ifndef TFX_HOST_H
#define TFX_HOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TFX_STATUS_MSG 512

/* A message buffer owned by the core; plugins write to it only through host->fail(). */
typedef struct tfx_status {
    char msg[TFX_STATUS_MSG];
} tfx_status;

/* Opaque: the core's collector of an instance's declarations. */
typedef struct tfx_declarer tfx_declarer;

/* How the core fills a tensor when no checkpoint is loaded. */
typedef enum tfx_init {
    TFX_INIT_NORMAL, /* N(0, init_std) with the recipe's init_std */
    TFX_INIT_ZEROS,
    TFX_INIT_ONES,
} tfx_init;

/* ---- initialisation rules (issue 14, t14-costs) ------------------------------------------ */

/* How a NORMAL tensor's standard deviation scales with depth. */
typedef enum tfx_init_depth {
    TFX_DEPTH_NONE,       /* the std as given */
    TFX_DEPTH_RESIDUAL,   /* std / sqrt(2 · layers of the instance's stack): GPT-2's residual
                           * projections (attn c_proj, mlp c_proj) */
    TFX_DEPTH_DEEPNET,    /* std · β of DeepNet (Wang et al. 2022): (8N)^(-1/4) for one stack of
                           * N layers; encoder 0.87·(N⁴M)^(-1/16), decoder (12M)^(-1/4) for N
                           * encoder and M decoder layers */
} tfx_init_depth;

/* One tensor's initialisation, for host->declare_tensor_init. */
typedef struct tfx_init_rule {
    uint32_t size;                /* sizeof(tfx_init_rule) as the plugin built it */
    tfx_init init;                /* NORMAL, ZEROS or ONES */
    double std;                   /* NORMAL: the standard deviation; 0: the recipe's init_std */
    tfx_init_depth depth;         /* NORMAL: how the std scales with depth */
    int frozen;                   /* 1: a frozen parameter (Hugging Face counts it in the total,
                                   * never trains it: Marian's sinusoidal tables); tfx counts it
                                   * apart and training leaves it unchanged */
} tfx_init_rule;

/* ---- end of initialisation rules ---------------------------------------------------------- */

typedef struct tfx_host {
    uint32_t size;                /* sizeof(tfx_host) as the core built it */
    uint32_t abi_version;

    /* out[M, N] = beta * out + in[M, K] · weight[N, K]ᵀ (+ bias[N] when not NULL) */
    void (*linear)(float *out, const float *in, const float *weight, const float *bias,
                   int64_t M, int64_t K, int64_t N, float beta);

    /* C[M, N] = alpha · op(A) · op(B) + beta · C, row-major with leading dimensions;
     * op(X) is Xᵀ when trans_X is 1. */
    void (*gemm)(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                 int64_t ldc);

    /* Each of x's `rows` rows (stride ld) becomes softmax over its first `cols` entries;
     * entries equal to -INFINITY get probability 0. */
    void (*softmax_rows)(float *x, int64_t rows, int64_t cols, int64_t ld);

    /* Record an error message; returns -1 so a plugin can `return host->fail(st, ...)`. */
    int (*fail)(tfx_status *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

    /* Declare one tensor of the calling instance: `name` is local ("q.weight"); shape has
     * `rank` (1..4) entries, each > 0. Tensors reach forward() in the order declared. */
    int (*declare_tensor)(tfx_declarer *d, const char *name, int rank, const int64_t *shape,
                          tfx_init init, tfx_status *st);

    /* Placement only: declare a norm of the block, named e.g. "attn_norm". Norms are numbered
     * in the order declared. */
    int (*declare_norm)(tfx_declarer *d, const char *name, tfx_status *st);

    /* ---- appended: backward kernels (training) ---- */

    /* The backward of linear: dx[M, K] = beta_dx · dx + dout[M, N] · weight[N, K] (dx may be
     * NULL: not needed); dweight[N, K] += doutᵀ · in[M, K]; dbias[N] += Σ_rows dout (dbias may
     * be NULL). */
    void (*linear_backward)(float *dx, float *dweight, float *dbias, const float *dout,
                            const float *in, const float *weight, int64_t M, int64_t K, int64_t N,
                            float beta_dx);

    /* The backward of softmax_rows: each row of dx = y ⊙ (dy − Σ_j y·dy) over the first `cols`
     * entries (row stride ld), where y is softmax_rows' output. dx may equal dy. */
    void (*softmax_rows_backward)(float *dx, const float *y, const float *dy, int64_t rows,
                                  int64_t cols, int64_t ld);

    /* ---- appended (issue 14, t14-costs): initialisation rules ---- */
    /* declare_tensor with a rule: a NORMAL tensor's own std (0: the recipe's) and its depth
     * scaling. NULL in a core that predates it (check host->size). */
    int (*declare_tensor_init)(tfx_declarer *d, const char *name, int rank, const int64_t *shape,
                               const tfx_init_rule *rule, tfx_status *st);
    /* ---- end of initialisation rules */
} tfx_host;

#ifdef __cplusplus
}
#endif

#endif
