/* tests/test_bf16.c — --dtype bf16's prefill through oneDNN: its logits against fp32 on every Hugging
 * Face fixture (oneDNN forced), its products against a reference, and the choice of path per ISA. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint.h"
#include "gemv.h"
#include "host.h"
#include "load.h"
#include "matmul_bf16.h"
#include "registry.h"
#include "runtime.h"
#include "safetensors.h"
#include "run_tfx.h"

/* bf16 prefill against fp32 prefill of the same weights: largest |diff| over every logit (BERT:
 * every hidden value) of the fixture's prompt. Measured 0.009–0.029 on values up to 4.8 (printed):
 * weights and activations (attention's too) are rounded to 8 significant bits. */
#define PREFILL_TOL 0.06

static tfx_registry *reg;

static int setup_registry(void **state)
{
    char *dirs[] = {TFX_PLUGIN_BUILD_DIR, NULL};
    tfx_error err;
    reg = tfx_registry_open(dirs, &err);
    return reg && reg->n > 0 ? 0 : -1;
}

static int teardown_registry(void **state)
{
    tfx_registry_free(reg);
    return 0;
}

/* Integer tensor `name` of the fixture's io file; returns its element count. */
static int64_t io_ints(const tfx_st_file *io, const char *name, int32_t *out, int64_t cap)
{
    const tfx_st_tensor *t = tfx_st_find(io, name);
    int64_t tmp[256];
    tfx_error err;
    if (!t)
        fail_msg("io.safetensors has no '%s'", name);
    assert_true(t->numel <= cap && t->numel <= 256);
    assert_int_equal(tfx_st_read_i64(t, 0, t->numel, tmp, &err), 0);
    for (int64_t i = 0; i < t->numel; i++)
        out[i] = (int32_t)tmp[i];
    return t->numel;
}

/* One forward over the fixture's prompt (encoder, then decoder where there is one); copies what
 * it produced — logits [T, V], or BERT's last hidden state [T, C] — into a new buffer. */
static float *forward(const tfx_loaded *l, const tfx_weights *w, const tfx_st_file *io, int64_t *n)
{
    tfx_error err = {{0}};
    const tfx_spec *s = l->spec;
    int32_t ids[64], dec[64];
    int64_t T = io_ints(io, "input_ids", ids, 64), D = 0;
    bool seq2seq = s->kind == TFX_MODEL_ENCODER_DECODER, encoder = s->kind == TFX_MODEL_ENCODER_ONLY;
    if (seq2seq)
        D = io_ints(io, "decoder_input_ids", dec, 64);
    tfx_runtime rt;
    tfx_run_limits lim = {.max_tokens = seq2seq ? D : T, .capacity = seq2seq ? D : T,
                          .encoder_tokens = seq2seq ? T : 0};
    if (tfx_runtime_init(&rt, l->model, w, &lim, &err))
        fail_msg("%s", err.msg);
    if (encoder || seq2seq)
        assert_int_equal(tfx_runtime_encode(&rt, ids, NULL, T, &err), 0);
    if (!encoder)
        assert_int_equal(tfx_runtime_decode(&rt, seq2seq ? dec : ids, seq2seq ? D : T,
                                            seq2seq ? D : T, &err), 0);
    *n = encoder ? T * s->d_model : (seq2seq ? D : T) * s->vocab;
    float *out = malloc((size_t)*n * sizeof *out);
    assert_non_null(out);
    memcpy(out, encoder ? rt.x : rt.logits, (size_t)*n * sizeof *out);
    tfx_runtime_free(&rt);
    return out;
}

/* Prefill with oneDNN forced against fp32, on one fixture. */
static void check_fixture(const char *name)
{
    char path[512], ckpt[4096];
    tfx_error err = {{0}};
    snprintf(path, sizeof path, "tests/data/hf/%s/recipe.yaml", name);
    tfx_loaded *l = tfx_load(path, NULL, 0, reg, &err);
    if (!l)
        fail_msg("%s", err.msg);
    tfx_weights w = {0};
    assert_int_equal(tfx_weights_alloc(&w, l->model, &err), 0);
    if (tfx_checkpoint_path(l->spec, ckpt, sizeof ckpt, &err) ||
        tfx_checkpoint_load(&w, l->model, ckpt, NULL, NULL, &err))
        fail_msg("%s", err.msg);
    snprintf(path, sizeof path, "tests/data/hf/%s/io.safetensors", name);
    tfx_st_file *io = tfx_st_open(path, &err);
    assert_non_null(io);

    int64_t n, n_bf16;
    float *want = forward(l, &w, io, &n);
    tfx_mm *mm;
    tfx_prefill_choice c;
    assert_int_equal(tfx_prefill_choose(TFX_BF16_PREFILL_ONEDNN, 64, 256, 128, &mm, &c, &err), 0);
    if (!mm) { /* a CPU without a bf16 matmul: nothing of oneDNN's to check */
        printf("  %s: skipped, %s\n", name, c.why);
        goto out;
    }
    assert_true(c.onednn);
    assert_int_equal(tfx_weights_add_to_mm(&w, l->model, mm, &err), 0);
    tfx_host_use_mm(mm);
    uint64_t before = tfx_host_mm_products();
    float *got = forward(l, &w, io, &n_bf16);
    uint64_t products = tfx_host_mm_products() - before;
    tfx_host_use_mm(NULL);
    tfx_mm_close(mm);
    assert_int_equal(n, n_bf16);
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)got[i] - (double)want[i]));
        scale = fmax(scale, fabs((double)want[i]));
    }
    printf("  %s: bf16 prefill (oneDNN %s, %llu products) vs fp32 max |diff| %.3g (values up to %.3g)\n",
           name, c.impl, (unsigned long long)products, worst, scale);
    assert_true(products > 0);
    assert_true(worst < PREFILL_TOL);
    assert_true(worst > 1e-5); /* bf16 was used: its rounding shows */
    free(got);
out:
    free(want);
    tfx_st_close(io);
    tfx_weights_free(&w);
    tfx_loaded_free(l);
}

static void gpt2_case(void **state) { check_fixture("gpt2"); }
static void gpt_neo_case(void **state) { check_fixture("gpt_neo"); }
static void llama_case(void **state) { check_fixture("llama"); }
static void bloom_case(void **state) { check_fixture("bloom"); }
static void bart_case(void **state) { check_fixture("bart"); }
static void bert_case(void **state) { check_fixture("bert"); }

/* ---- the products themselves ---------------------------------------------------------------- */

static float bf16_value(float x)
{
    uint16_t h;
    tfx_to_bf16(&h, &x, 1);
    uint32_t bits = (uint32_t)h << 16;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* linear and gemm (every transpose) against double sums of the bf16-rounded operands: equal to
 * fp32 accumulation error, which a wrong layout or transpose would far exceed. */
static void products_case(void **state)
{
    enum { M = 37, N = 50, K = 70 };
    float A[M * K], W[N * K], bias[N], out[M * N], At[K * M], Wt[K * N];
    for (int i = 0; i < M * K; i++)
        A[i] = sinf(0.37f * (float)i);
    for (int i = 0; i < N * K; i++)
        W[i] = cosf(0.11f * (float)i);
    for (int n = 0; n < N; n++)
        bias[n] = 0.01f * (float)n;
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++)
            At[k * M + m] = A[m * K + k];
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            Wt[k * N + n] = W[n * K + k];
    tfx_error err = {{0}};
    tfx_mm *mm = tfx_mm_open(M, N, K, &err);
    if (!mm) {
        printf("  products: skipped, %s\n", err.msg);
        return;
    }
    assert_int_equal(tfx_mm_add_weight(mm, W, N, K, &err), 0);
    assert_int_equal(tfx_mm_linear(mm, out, A, W, bias, M, &err), 0);
    assert_int_equal(tfx_mm_linear(mm, out, A, bias, NULL, M, &err), 1); /* not a weight it holds */
    for (int form = 0; form < 5; form++) {
        bool ta = form == 2 || form == 4, tb = form == 1 || form == 4;
        float alpha = form == 3 ? 0.125f : 1.0f;
        if (form)
            assert_int_equal(tfx_mm_gemm(mm, ta, tb, M, N, K, alpha, ta ? At : A, ta ? M : K,
                                         tb ? W : Wt, tb ? K : N, 0.0f, out, N, &err), 0);
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double want = form ? 0 : bias[n];
                for (int k = 0; k < K; k++)
                    want += (double)bf16_value(alpha * A[m * K + k]) * bf16_value(W[n * K + k]);
                if (fabs(out[m * N + n] - want) > 1e-4)
                    fail_msg("form %d [%d, %d]: %g, want %g", form, m, n, out[m * N + n], want);
            }
    }
    tfx_mm_close(mm);
}

/* ---- the choice of path, with oneDNN's ISA forced down ------------------------------------ */

/* `tfx run` of the GPT-2 fixture with --dtype bf16 under ONEDNN_MAX_CPU_ISA=isa; returns the
 * output (freed by the caller) after checking it ran. */
static char *run_limited(const char *isa, const char *mode)
{
    char args[512], *out;
    snprintf(args, sizeof args, "run tests/data/hf/gpt2/recipe.yaml --tokens 1,2,3,4,5 --generate 2 "
             "--dtype bf16 --bf16-prefill %s", mode);
    setenv("ONEDNN_MAX_CPU_ISA", isa, 1);
    int status = tfx(args, &out);
    unsetenv("ONEDNN_MAX_CPU_ISA");
    if (status != 0)
        fail_msg("ONEDNN_MAX_CPU_ISA=%s --bf16-prefill %s: exit %d\n%s", isa, mode, status, out);
    return out;
}

/* AVX2 has no bf16 matmul: forced or not, tfx says so and runs in fp32. */
static void avx2_case(void **state)
{
    const char *modes[] = {"auto", "onednn"};
    for (int i = 0; i < 2; i++) {
        char *out = run_limited("AVX2", modes[i]);
        assert_non_null(strstr(out, "    why             fp32 (OpenBLAS sgemm): oneDNN has no bf16 matmul "
                                    "on this CPU (ISA avx2): unimplemented\n"));
        assert_non_null(strstr(out, "  generated: "));
        free(out);
    }
}

/* The path the report names agrees with the two rates it prints (auto), or with the force. */
static void check_path(const char *out, const char *isa, bool forced)
{
    const char *line = strstr(out, "    why             ");
    assert_non_null(line);
    double bf16 = 0, fp32 = 0;
    const char *rates = strstr(line, "oneDNN bf16 ");
    assert_non_null(rates);
    assert_int_equal(sscanf(rates, "oneDNN bf16 %lf GFLOP/s, OpenBLAS fp32 %lf", &bf16, &fp32), 2);
    assert_true(bf16 > 0 && fp32 > 0);
    bool onednn = strncmp(line, "    why             bf16 (oneDNN): ", 35) == 0;
    assert_true(onednn == (forced || bf16 > fp32));
    if (!forced)
        assert_non_null(strstr(line, onednn ? "faster here" : "fp32 faster here"));
    char impl[128];
    snprintf(impl, sizeof impl, "\n    oneDNN ISA      %s\n", isa);
    assert_non_null(strstr(out, impl));
    const char *kernel = strstr(out, "\n    oneDNN kernel   ");
    assert_non_null(kernel);
    assert_true(strncmp(strchr(kernel + 1, '\n') - (onednn ? 6 : 8), onednn ? "  used" : "  unused", onednn ? 6 : 8) == 0);
}

static void avx512_case(void **state)
{
    /* On a CPU with AVX512-BF16 (the CI machine's), the limit is the ISA oneDNN runs with;
     * elsewhere oneDNN runs with less and says which. */
    struct { const char *limit, *isa; } cases[] = {
        {"AVX512_CORE_BF16", "avx512_core_bf16"}, {"AVX512_CORE", "avx512_core"}};
    bool bf16_cpu = __builtin_cpu_supports("avx512bf16");
    for (int i = 0; i < 2; i++) {
        if (!bf16_cpu && i == 0)
            continue;
        for (int forced = 0; forced < 2; forced++) {
            char *out = run_limited(cases[i].limit, forced ? "onednn" : "auto");
            check_path(out, cases[i].isa, forced);
            if (forced) /* the report names the kernel: brgemm with AVX512-BF16, else jit gemm */
                assert_non_null(strstr(out, i == 0 ? "    oneDNN kernel   brg:avx512_core_bf16 " :
                                                     "    oneDNN kernel   gemm:jit"));
            free(out);
        }
    }
}

/* The report's count of prefill products that ran on oneDNN (its column width follows the
 * measured rates beside it); -1 when the line is missing. */
static int products(const char *out)
{
    const char *line = strstr(out, "\n    oneDNN products ");
    int n = -1;
    if (line && sscanf(line, "\n    oneDNN products %d   prefill products that ran on oneDNN\n", &n) != 1)
        n = -1;
    return n;
}

static void bad_mode_case(void **state)
{
    char *out;
    assert_int_equal(tfx("run tests/data/hf/gpt2/recipe.yaml --dtype bf16 --bf16-prefill amx", &out), 1);
    assert_string_equal(out, "tfx: --bf16-prefill expects auto, onednn or fp32, got 'amx'\n");
    free(out);
    assert_int_equal(tfx("run tests/data/hf/gpt2/recipe.yaml --tokens 1,2 --generate 2 --dtype bf16 "
                         "--bf16-prefill fp32", &out), 0);
    assert_non_null(strstr(out, "    why             fp32 (OpenBLAS sgemm): --bf16-prefill fp32\n"));
    assert_non_null(strstr(out, "    oneDNN kernel     none\n")); /* none opened */
    assert_int_equal(products(out), 0);
    free(out);
}

/* An encoder-only model has no decode to stream copies for, but its prefill takes the path. */
static void encoder_only_case(void **state)
{
    char *out;
    assert_int_equal(tfx("run tests/data/hf/bert/recipe.yaml --dtype bf16 --bf16-prefill fp32", &out), 0);
    assert_non_null(strstr(out, "  dtype            bf16  for prefill only: an encoder-only model does not "
                                "decode, so no BF16 copies for it\n"));
    assert_non_null(strstr(out, "    why             fp32 (OpenBLAS sgemm): --bf16-prefill fp32\n"));
    free(out);
    setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE", 1);
    assert_int_equal(tfx("run tests/data/hf/bert/recipe.yaml --dtype bf16 --bf16-prefill onednn", &out), 0);
    unsetenv("ONEDNN_MAX_CPU_ISA");
    if (__builtin_cpu_supports("avx512bw"))
        assert_true(strstr(out, "    oneDNN kernel   gemm:jit") && strstr(out, "    oneDNN ISA      avx512_core\n") &&
                    products(out) == 28);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gpt2_case), cmocka_unit_test(gpt_neo_case), cmocka_unit_test(llama_case),
        cmocka_unit_test(bloom_case), cmocka_unit_test(bart_case), cmocka_unit_test(bert_case),
        cmocka_unit_test(products_case), cmocka_unit_test(avx2_case), cmocka_unit_test(avx512_case),
        cmocka_unit_test(bad_mode_case), cmocka_unit_test(encoder_only_case),
    };
    return cmocka_run_group_tests(tests, setup_registry, teardown_registry);
}
