/* core/matmul_bf16.c — bf16 products through oneDNN's C API: weights reordered once into the
 * layout its matmul prefers, primitives cached per shape, activations rounded per call. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "matmul_bf16.h"

#include <cblas.h>
#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "gemv.h"

typedef struct mm_weight {
    const float *f32;             /* the fp32 matrix [N, K] it stands for: the key */
    int64_t N, K;
    dnnl_memory_t mem;            /* bf16 [K, N] in oneDNN's layout, owned */
} mm_weight;

enum { KIND_LINEAR, KIND_GEMM };
enum { GEMM_ACCUMULATE = 4 };     /* a gemm shape's flag: C += the product */

/* M·N·K under which a product runs on one thread (about 20 µs of work at these rates). */
#define SMALL_PRODUCT (4.0 * 1024 * 1024)

typedef struct mm_shape {
    int kind, flags;              /* KIND_*; linear: has bias; gemm: trans_a | trans_b << 1 | accumulate */
    int64_t M, N, K, ldc;
    dnnl_primitive_t prim;        /* NULL: oneDNN has none for this shape (use fp32) */
    dnnl_memory_t src, wei, bias, dst; /* handles set per call (wei: gemm only) */
} mm_shape;

struct tfx_mm {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int64_t probe_m;              /* rows the weights' layout is chosen for */
    char impl[96];
    mm_weight *weights;           /* [n_weights], sorted by f32 */
    size_t n_weights, cap_weights;
    uint64_t weight_bytes;
    mm_shape *shapes;             /* [n_shapes] */
    size_t n_shapes, cap_shapes;
    uint16_t *scratch[2];         /* bf16 operands of one call, [scratch_n[i]] */
    size_t scratch_n[2];
};

static const char *status_name(dnnl_status_t s)
{
    switch (s) {
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    default: return "failure";
    }
}

const char *tfx_mm_isa(void)
{
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

/* The OpenMP runtime oneDNN was built with (libgomp, loaded with libdnnl), looked up at run
 * time rather than linked: a tfx built by clang would otherwise set the threads of its own
 * runtime (libomp), which oneDNN never reads. Without one, nothing is set (1 thread read). */
static void omp_threads_set(int n)
{
    void (*set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (set)
        set(n);
}

static int omp_threads(void)
{
    int (*get)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    return get ? get() : 1;
}

void tfx_mm_set_threads(int n)
{
    omp_threads_set(n > 0 ? n : 1);
}

const char *tfx_mm_impl(const tfx_mm *mm) { return mm->impl; }
uint64_t tfx_mm_weight_bytes(const tfx_mm *mm) { return mm->weight_bytes; }

/* A row-major (or, with `transposed`, column-major) rows × cols matrix of `dt`, rows ld apart. */
static dnnl_status_t plain_md(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int64_t ld,
                              bool transposed, dnnl_data_type_t dt)
{
    dnnl_dims_t dims = {rows, cols}, strides = {ld, 1};
    if (transposed)
        strides[0] = 1, strides[1] = ld;
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

/* The primitive descriptor below with `accumulate`: dst += the product (a sum post-op: the fp32
 * dst read and added inside the kernel, as training's gradients accumulate). */
static dnnl_primitive_desc_t matmul_pd_acc(tfx_mm *mm, const dnnl_memory_desc_t *src,
                                           const dnnl_memory_desc_t *wei,
                                           const dnnl_memory_desc_t *bias,
                                           const dnnl_memory_desc_t *dst, bool accumulate,
                                           dnnl_status_t *st)
{
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    *st = dnnl_matmul_desc_init(&desc, src, wei, bias, dst);
    if (*st == dnnl_success && accumulate &&
        ((*st = dnnl_primitive_attr_create(&attr)) || (*st = dnnl_post_ops_create(&ops)) ||
         (*st = dnnl_post_ops_append_sum(ops, 1.0f)) ||
         (*st = dnnl_primitive_attr_set_post_ops(attr, ops))))
        pd = NULL;
    else if (*st == dnnl_success)
        *st = dnnl_primitive_desc_create(&pd, &desc, attr, mm->engine, NULL);
    if (ops)
        dnnl_post_ops_destroy(ops);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return *st == dnnl_success ? pd : NULL;
}

/* The primitive descriptor of [M, K]bf16 · weights[K, N] (+ bias f32 [1, N]) → dst; NULL on
 * failure (no implementation for this ISA, or out of memory), with its status in *st. */
static dnnl_primitive_desc_t matmul_pd(tfx_mm *mm, const dnnl_memory_desc_t *src,
                                       const dnnl_memory_desc_t *wei, const dnnl_memory_desc_t *bias,
                                       const dnnl_memory_desc_t *dst, dnnl_status_t *st)
{
    return matmul_pd_acc(mm, src, wei, bias, dst, false, st);
}

/* The layout oneDNN prefers for weights [K, N] in a product of mm->probe_m rows. */
static dnnl_status_t preferred_md(tfx_mm *mm, int64_t N, int64_t K, dnnl_memory_desc_t *out,
                                  char *impl, size_t impl_size)
{
    dnnl_memory_desc_t src, wei, dst;
    dnnl_dims_t wdims = {K, N};
    dnnl_status_t st;
    if ((st = plain_md(&src, mm->probe_m, K, K, false, dnnl_bf16)) ||
        (st = dnnl_memory_desc_init_by_tag(&wei, 2, wdims, dnnl_bf16, dnnl_format_tag_any)) ||
        (st = plain_md(&dst, mm->probe_m, N, N, false, dnnl_f32)))
        return st;
    dnnl_primitive_desc_t pd = matmul_pd(mm, &src, &wei, NULL, &dst, &st);
    if (!pd)
        return st;
    *out = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const char *name = NULL;
    if (impl && dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success)
        snprintf(impl, impl_size, "%s", name ? name : "?");
    dnnl_primitive_desc_destroy(pd);
    return dnnl_success;
}

tfx_mm *tfx_mm_open(int64_t M, int64_t N, int64_t K, tfx_error *err)
{
    tfx_mm *mm = calloc(1, sizeof *mm);
    if (!mm) {
        tfx_fail(err, "out of memory");
        return NULL;
    }
    mm->probe_m = M > 0 ? M : 1;
    dnnl_status_t st = dnnl_engine_create(&mm->engine, dnnl_cpu, 0);
    if (st == dnnl_success)
        st = dnnl_stream_create(&mm->stream, mm->engine, dnnl_stream_default_flags);
    dnnl_memory_desc_t md;
    if (st == dnnl_success)
        st = preferred_md(mm, N, K, &md, mm->impl, sizeof mm->impl);
    if (st != dnnl_success) {
        tfx_fail(err, "oneDNN has no bf16 matmul on this CPU (ISA %s): %s", tfx_mm_isa(),
                 status_name(st));
        tfx_mm_close(mm);
        return NULL;
    }
    return mm;
}

static void drop_shape(mm_shape *s)
{
    if (s->prim)
        dnnl_primitive_destroy(s->prim);
    dnnl_memory_t mems[] = {s->src, s->wei, s->bias, s->dst};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
}

void tfx_mm_close(tfx_mm *mm)
{
    if (!mm)
        return;
    for (size_t i = 0; i < mm->n_shapes; i++)
        drop_shape(&mm->shapes[i]);
    for (size_t i = 0; i < mm->n_weights; i++)
        dnnl_memory_destroy(mm->weights[i].mem);
    free(mm->shapes);
    free(mm->weights);
    free(mm->scratch[0]);
    free(mm->scratch[1]);
    if (mm->stream)
        dnnl_stream_destroy(mm->stream);
    if (mm->engine)
        dnnl_engine_destroy(mm->engine);
    free(mm);
}

/* ---- weights -------------------------------------------------------------------------------- */

/* Index of the first weight whose key is >= W. */
static size_t weight_slot(const tfx_mm *mm, const float *W)
{
    size_t lo = 0, hi = mm->n_weights;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mm->weights[mid].f32 < W)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static mm_weight *find_weight(tfx_mm *mm, const float *W)
{
    size_t i = weight_slot(mm, W);
    return i < mm->n_weights && mm->weights[i].f32 == W ? &mm->weights[i] : NULL;
}

/* Copy `from` into `to`, converting type and layout (a oneDNN reorder, run once). */
static dnnl_status_t reorder(tfx_mm *mm, dnnl_memory_t from, dnnl_memory_t to)
{
    const dnnl_memory_desc_t *a, *b;
    dnnl_memory_get_memory_desc(from, &a);
    dnnl_memory_get_memory_desc(to, &b);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, a, mm->engine, b, mm->engine, NULL);
    if (st == dnnl_success)
        st = dnnl_primitive_create(&prim, pd);
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        st = dnnl_primitive_execute(prim, mm->stream, 2, args);
        if (st == dnnl_success)
            st = dnnl_stream_wait(mm->stream);
    }
    if (prim)
        dnnl_primitive_destroy(prim);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    return st;
}

/* A bf16 copy of W[N, K] in oneDNN's preferred layout, or NULL with *st. */
static dnnl_memory_t convert_weight(tfx_mm *mm, const float *W, int64_t N, int64_t K,
                                   dnnl_status_t *st)
{
    dnnl_memory_desc_t f32_md, bf16_md;
    dnnl_memory_t f32 = NULL, bf16 = NULL;
    /* W[N, K] row-major is the [K, N] matrix oneDNN multiplies by, stored column by column. */
    if ((*st = plain_md(&f32_md, K, N, K, true, dnnl_f32)) ||
        (*st = preferred_md(mm, N, K, &bf16_md, NULL, 0)) ||
        (*st = dnnl_memory_create(&f32, &f32_md, mm->engine, (void *)W)) ||
        (*st = dnnl_memory_create(&bf16, &bf16_md, mm->engine, DNNL_MEMORY_ALLOCATE)) ||
        (*st = reorder(mm, f32, bf16))) {
        if (bf16)
            dnnl_memory_destroy(bf16);
        bf16 = NULL;
    }
    if (f32)
        dnnl_memory_destroy(f32);
    return bf16;
}

int tfx_mm_add_weight(tfx_mm *mm, const float *W, int64_t N, int64_t K, tfx_error *err)
{
    if (find_weight(mm, W))
        return 0;
    if (mm->n_weights == mm->cap_weights) {
        size_t cap = mm->cap_weights ? 2 * mm->cap_weights : 64, bytes;
        if (__builtin_mul_overflow(cap, sizeof *mm->weights, &bytes))
            return tfx_fail(err, "too many oneDNN weights");
        mm_weight *grown = realloc(mm->weights, bytes);
        if (!grown)
            return tfx_fail(err, "out of memory");
        mm->weights = grown, mm->cap_weights = cap;
    }
    dnnl_status_t st;
    dnnl_memory_t mem = convert_weight(mm, W, N, K, &st);
    if (!mem)
        return tfx_fail(err, "oneDNN cannot convert a [%lld, %lld] weight to bf16: %s",
                        (long long)N, (long long)K, status_name(st));
    const dnnl_memory_desc_t *md;
    dnnl_memory_get_memory_desc(mem, &md);
    mm->weight_bytes += dnnl_memory_desc_get_size(md);
    size_t i = weight_slot(mm, W);
    memmove(&mm->weights[i + 1], &mm->weights[i], (mm->n_weights - i) * sizeof *mm->weights);
    mm->weights[i] = (mm_weight){W, N, K, mem};
    mm->n_weights++;
    return 0;
}

int tfx_mm_refresh_weights(tfx_mm *mm, tfx_error *err)
{
    for (size_t i = 0; i < mm->n_weights; i++) {
        mm_weight *w = &mm->weights[i];
        dnnl_memory_desc_t f32_md;
        dnnl_memory_t f32 = NULL;
        /* W[N, K] row-major read as the [K, N] matrix stored column by column, as at the add. */
        dnnl_status_t st = plain_md(&f32_md, w->K, w->N, w->K, true, dnnl_f32);
        if (st == dnnl_success)
            st = dnnl_memory_create(&f32, &f32_md, mm->engine, (void *)w->f32);
        if (st == dnnl_success)
            st = reorder(mm, f32, w->mem);
        if (f32)
            dnnl_memory_destroy(f32);
        if (st != dnnl_success)
            return tfx_fail(err, "oneDNN cannot refresh a [%lld, %lld] bf16 weight: %s",
                            (long long)w->N, (long long)w->K, status_name(st));
    }
    return 0;
}

/* Forget W (a measurement's temporary weight). */
static void drop_weight(tfx_mm *mm, const float *W)
{
    mm_weight *w = find_weight(mm, W);
    if (!w)
        return;
    const dnnl_memory_desc_t *md;
    dnnl_memory_get_memory_desc(w->mem, &md);
    mm->weight_bytes -= dnnl_memory_desc_get_size(md);
    dnnl_memory_destroy(w->mem);
    size_t i = (size_t)(w - mm->weights);
    memmove(&mm->weights[i], &mm->weights[i + 1], (mm->n_weights - i - 1) * sizeof *mm->weights);
    mm->n_weights--;
}

/* ---- shapes and calls ----------------------------------------------------------------------- */

static mm_shape *find_shape(tfx_mm *mm, int kind, int flags, int64_t M, int64_t N, int64_t K,
                            int64_t ldc)
{
    for (size_t i = 0; i < mm->n_shapes; i++) {
        mm_shape *s = &mm->shapes[i];
        if (s->kind == kind && s->flags == flags && s->M == M && s->N == N && s->K == K &&
            s->ldc == ldc)
            return s;
    }
    return NULL;
}

static mm_shape *new_shape(tfx_mm *mm, tfx_error *err)
{
    if (mm->n_shapes == mm->cap_shapes) {
        size_t cap = mm->cap_shapes ? 2 * mm->cap_shapes : 16, bytes;
        if (__builtin_mul_overflow(cap, sizeof *mm->shapes, &bytes)) {
            tfx_fail(err, "too many oneDNN shapes");
            return NULL;
        }
        mm_shape *grown = realloc(mm->shapes, bytes);
        if (!grown) {
            tfx_fail(err, "out of memory");
            return NULL;
        }
        mm->shapes = grown, mm->cap_shapes = cap;
    }
    mm_shape *s = &mm->shapes[mm->n_shapes++];
    memset(s, 0, sizeof *s);
    return s;
}

/* The primitive and argument memories of s from its descriptors (bias/wei_md may be NULL: a
 * linear without bias; a linear's weights come with each weight). An ISA without a bf16 matmul
 * for the shape leaves s->prim NULL and returns 0. */
static int build_shape(tfx_mm *mm, mm_shape *s, const dnnl_memory_desc_t *src,
                       const dnnl_memory_desc_t *wei, const dnnl_memory_desc_t *bias,
                       const dnnl_memory_desc_t *dst, bool own_wei, tfx_error *err)
{
    dnnl_status_t st;
    bool accumulate = s->kind == KIND_GEMM && (s->flags & GEMM_ACCUMULATE);
    dnnl_primitive_desc_t pd = matmul_pd_acc(mm, src, wei, bias, dst, accumulate, &st);
    if (!pd)
        return st == dnnl_unimplemented ? 0 : tfx_fail(err, "oneDNN matmul: %s", status_name(st));
    st = dnnl_primitive_create(&s->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st == dnnl_success)
        st = dnnl_memory_create(&s->src, src, mm->engine, DNNL_MEMORY_NONE);
    if (st == dnnl_success)
        st = dnnl_memory_create(&s->dst, dst, mm->engine, DNNL_MEMORY_NONE);
    if (st == dnnl_success && bias)
        st = dnnl_memory_create(&s->bias, bias, mm->engine, DNNL_MEMORY_NONE);
    if (st == dnnl_success && own_wei)
        st = dnnl_memory_create(&s->wei, wei, mm->engine, DNNL_MEMORY_NONE);
    if (st != dnnl_success) {
        drop_shape(s);
        memset(s, 0, sizeof *s);
        return tfx_fail(err, "oneDNN matmul: %s", status_name(st));
    }
    return 0;
}

/* mm->scratch[i] holding at least n bf16 values; NULL with err. */
static uint16_t *scratch(tfx_mm *mm, int i, int64_t n, tfx_error *err)
{
    if ((size_t)n <= mm->scratch_n[i])
        return mm->scratch[i];
    size_t bytes;
    if (n < 0 || __builtin_mul_overflow((size_t)n, sizeof(uint16_t), &bytes)) {
        tfx_fail(err, "a bf16 operand of %lld elements is too large", (long long)n);
        return NULL;
    }
    uint16_t *grown = realloc(mm->scratch[i], bytes);
    if (!grown) {
        tfx_fail(err, "out of memory for a bf16 operand of %zu bytes", bytes);
        return NULL;
    }
    mm->scratch[i] = grown, mm->scratch_n[i] = (size_t)n;
    return grown;
}

static int execute(tfx_mm *mm, const mm_shape *s, dnnl_memory_t wei, tfx_error *err)
{
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, s->src}, {DNNL_ARG_WEIGHTS, wei},
                               {DNNL_ARG_DST, s->dst}, {DNNL_ARG_BIAS, s->bias}};
    dnnl_status_t st = dnnl_primitive_execute(s->prim, mm->stream, s->bias ? 4 : 3, args);
    if (st == dnnl_success)
        st = dnnl_stream_wait(mm->stream);
    return st == dnnl_success ? 0 : tfx_fail(err, "oneDNN matmul failed: %s", status_name(st));
}

static mm_shape *linear_shape(tfx_mm *mm, const mm_weight *w, bool has_bias, int64_t M,
                              tfx_error *err)
{
    mm_shape *s = find_shape(mm, KIND_LINEAR, has_bias, M, w->N, w->K, w->N);
    if (s)
        return s;
    if (!(s = new_shape(mm, err)))
        return NULL;
    *s = (mm_shape){.kind = KIND_LINEAR, .flags = has_bias, .M = M, .N = w->N, .K = w->K, .ldc = w->N};
    dnnl_memory_desc_t src, bias, dst;
    const dnnl_memory_desc_t *wei;
    dnnl_memory_get_memory_desc(w->mem, &wei);
    dnnl_status_t st;
    if ((st = plain_md(&src, M, w->K, w->K, false, dnnl_bf16)) ||
        (st = plain_md(&bias, 1, w->N, w->N, false, dnnl_f32)) ||
        (st = plain_md(&dst, M, w->N, w->N, false, dnnl_f32))) {
        mm->n_shapes--;
        tfx_fail(err, "oneDNN memory descriptor: %s", status_name(st));
        return NULL;
    }
    if (build_shape(mm, s, &src, wei, has_bias ? &bias : NULL, &dst, false, err)) {
        mm->n_shapes--;
        return NULL;
    }
    return s;
}

int tfx_mm_linear(tfx_mm *mm, float *out, const float *in, const float *W, const float *bias,
                  int64_t M, tfx_error *err)
{
    const mm_weight *w = find_weight(mm, W);
    if (!w)
        return 1;
    mm_shape *s = linear_shape(mm, w, bias != NULL, M, err);
    if (!s)
        return -1;
    if (!s->prim)
        return 1;
    int64_t n;
    if (__builtin_mul_overflow(M, w->K, &n))
        return tfx_fail(err, "a [%lld, %lld] operand is too large", (long long)M, (long long)w->K);
    uint16_t *a = scratch(mm, 0, n, err); /* [M, K] bf16 */
    if (!a)
        return -1;
    tfx_to_bf16(a, in, n);
    dnnl_memory_set_data_handle(s->src, a);
    dnnl_memory_set_data_handle(s->dst, out);
    if (bias)
        dnnl_memory_set_data_handle(s->bias, (void *)bias);
    return execute(mm, s, w->mem, err);
}

/* alpha × (rows × cols of X, rows ld apart) rounded into a packed bf16 [rows, cols]. */
static void pack_bf16(uint16_t *out, const float *X, int64_t rows, int64_t cols, int64_t ld,
                      float alpha)
{
    enum { CHUNK = 256 };
    float scaled[CHUNK];
    for (int64_t r = 0; r < rows; r++) {
        const float *x = X + r * ld;
        if (alpha == 1.0f) {
            tfx_to_bf16(out + r * cols, x, cols);
            continue;
        }
        for (int64_t c = 0; c < cols; c += CHUNK) {
            int64_t n = cols - c < CHUNK ? cols - c : CHUNK;
            for (int64_t i = 0; i < n; i++)
                scaled[i] = alpha * x[c + i];
            tfx_to_bf16(out + r * cols + c, scaled, n);
        }
    }
}

static int gemm_on(tfx_mm *mm, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                   float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, bool acc,
                   float *C, int64_t ldc, tfx_error *err)
{
    int flags = (int)trans_a | (int)trans_b << 1 | (acc ? GEMM_ACCUMULATE : 0);
    mm_shape *s = find_shape(mm, KIND_GEMM, flags, M, N, K, ldc);
    if (!s) {
        if (!(s = new_shape(mm, err)))
            return -1;
        *s = (mm_shape){.kind = KIND_GEMM, .flags = flags, .M = M, .N = N, .K = K, .ldc = ldc};
        dnnl_memory_desc_t src, wei, dst; /* packed: A as [M, K] or [K, M]; B as [K, N] or [N, K] */
        dnnl_status_t st;
        if ((st = plain_md(&src, M, K, trans_a ? M : K, trans_a, dnnl_bf16)) ||
            (st = plain_md(&wei, K, N, trans_b ? K : N, trans_b, dnnl_bf16)) ||
            (st = plain_md(&dst, M, N, ldc, false, dnnl_f32))) {
            mm->n_shapes--;
            return tfx_fail(err, "oneDNN memory descriptor: %s", status_name(st));
        }
        if (build_shape(mm, s, &src, &wei, NULL, &dst, true, err)) {
            mm->n_shapes--;
            return -1;
        }
    }
    if (!s->prim)
        return 1;
    int64_t na, nb;
    if (__builtin_mul_overflow(M, K, &na) || __builtin_mul_overflow(K, N, &nb))
        return tfx_fail(err, "a bf16 operand is too large");
    uint16_t *a = scratch(mm, 0, na, err), *b = a ? scratch(mm, 1, nb, err) : NULL;
    if (!b)
        return -1;
    pack_bf16(a, A, trans_a ? K : M, trans_a ? M : K, lda, alpha);
    pack_bf16(b, B, trans_b ? N : K, trans_b ? K : N, ldb, 1.0f);
    dnnl_memory_set_data_handle(s->src, a);
    dnnl_memory_set_data_handle(s->wei, b);
    dnnl_memory_set_data_handle(s->dst, C);
    return execute(mm, s, s->wei, err);
}

int tfx_mm_gemm(tfx_mm *mm, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                float *C, int64_t ldc, tfx_error *err)
{
    if (beta != 0.0f && beta != 1.0f)
        return 1;
    /* Small products (attention's, per head and block of rows) on this thread alone, primitive
     * and all (oneDNN fixes a primitive's threads when it creates it): waking a sleeping
     * OpenMP thread for each costs more than they take. */
    int threads = omp_threads();
    bool alone = threads > 1 && (double)M * (double)N * (double)K < SMALL_PRODUCT;
    if (alone)
        omp_threads_set(1);
    int rc = gemm_on(mm, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta == 1.0f, C, ldc, err);
    if (alone)
        omp_threads_set(threads);
    return rc;
}

/* ---- the choice ----------------------------------------------------------------------------- */

const char *const tfx_bf16_prefill_names[] = {"auto", "onednn", "fp32", NULL};

enum { REPS = 3 };

/* Best GFLOP/s of REPS products out[M, N] = in[M, K]·W[N, K]ᵀ, after one untimed call (which
 * creates oneDNN's primitive, or wakes OpenBLAS's threads). */
static int best_rate(tfx_mm *mm, float *out, const float *in, const float *W, int64_t M,
                     int64_t N, int64_t K, double *gflops, tfx_error *err)
{
    *gflops = 0;
    for (int rep = 0; rep <= REPS; rep++) {
        double t0 = tfx_now();
        if (mm) {
            int rc = tfx_mm_linear(mm, out, in, W, NULL, M, err);
            if (rc)
                return rc;
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, in,
                        (int)K, W, (int)K, 0.0f, out, (int)N);
        }
        double rate = 2.0 * (double)M * (double)N * (double)K / (tfx_now() - t0) / 1e9;
        if (rep && rate > *gflops)
            *gflops = rate;
    }
    return 0;
}

/* Both rates on [M, K]·[K, N] with made-up operands. Returns 0, 1 (no bf16 primitive), -1. */
static int measure(tfx_mm *mm, tfx_prefill_choice *c, tfx_error *err)
{
    size_t nw, ni, no;
    if (__builtin_mul_overflow((size_t)c->N, (size_t)c->K, &nw) ||
        __builtin_mul_overflow((size_t)c->M, (size_t)c->K, &ni) ||
        __builtin_mul_overflow((size_t)c->M, (size_t)c->N, &no))
        return tfx_fail(err, "the measured shape is too large");
    float *W = calloc(nw, sizeof *W), *in = calloc(ni, sizeof *in), *out = calloc(no, sizeof *out);
    int rc = -1;
    if (!W || !in || !out) {
        tfx_fail(err, "out of memory for the measurement");
        goto out;
    }
    for (size_t i = 0; i < nw; i++)
        W[i] = 1e-3f * (float)(int)(i % 2001 - 1000);
    for (size_t i = 0; i < ni; i++)
        in[i] = 1e-3f * (float)(int)(i % 1999 - 999);
    /* oneDNN first: after a call OpenBLAS's workers keep spinning for a while, and oneDNN
     * timed right after an sgemm gave 150 GFLOP/s in two runs of three against 870 otherwise. */
    if ((rc = tfx_mm_add_weight(mm, W, c->N, c->K, err)))
        goto out;
    rc = best_rate(mm, out, in, W, c->M, c->N, c->K, &c->bf16_gflops, err);
    drop_weight(mm, W);
    if (rc == 0)
        rc = best_rate(NULL, out, in, W, c->M, c->N, c->K, &c->fp32_gflops, err);
out:
    free(W), free(in), free(out);
    return rc;
}

int tfx_prefill_choose(tfx_bf16_prefill mode, int64_t M, int64_t N, int64_t K, tfx_mm **mm,
                       tfx_prefill_choice *c, tfx_error *err)
{
    *mm = NULL;
    memset(c, 0, sizeof *c);
    c->M = M, c->N = N, c->K = K;
    if (mode == TFX_BF16_PREFILL_FP32) {
        snprintf(c->why, sizeof c->why, "fp32 (OpenBLAS sgemm): --bf16-prefill fp32");
        return 0;
    }
    tfx_error why = {{0}};
    tfx_mm *opened = tfx_mm_open(M, N, K, &why);
    int rc = opened ? measure(opened, c, err) : 1;
    if (rc < 0) {
        tfx_mm_close(opened);
        return -1;
    }
    if (rc > 0) {
        snprintf(c->why, sizeof c->why, "fp32 (OpenBLAS sgemm): %.200s",
                 why.msg[0] ? why.msg : "oneDNN has no bf16 matmul for this shape");
        tfx_mm_close(opened);
        return 0;
    }
    snprintf(c->impl, sizeof c->impl, "%s", tfx_mm_impl(opened));
    c->onednn = mode == TFX_BF16_PREFILL_ONEDNN || c->bf16_gflops > c->fp32_gflops;
    snprintf(c->why, sizeof c->why, "%s: %s; measured on [%lld, %lld]·[%lld, %lld]: oneDNN bf16 "
             "%.0f GFLOP/s, OpenBLAS fp32 %.0f", c->onednn ? "bf16 (oneDNN)" : "fp32 (OpenBLAS sgemm)",
             mode == TFX_BF16_PREFILL_ONEDNN ? "forced by --bf16-prefill onednn"
                                             : c->onednn ? "faster here" : "fp32 faster here",
             (long long)M, (long long)K, (long long)K, (long long)N, c->bf16_gflops, c->fp32_gflops);
    if (c->onednn)
        *mm = opened;
    else
        tfx_mm_close(opened);
    return 0;
}
