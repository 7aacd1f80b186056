/* tests/test_safetensors.c — the safetensors reader on real fixtures, a write/read round trip,
 * dtype conversion, and a table of lying or broken files that must give exact messages. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "safetensors.h"

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/tfx-st-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void fixture_case(void **state)
{
    tfx_error err;
    tfx_st_file *f = tfx_st_open("tests/data/hf/gpt2/io.safetensors", &err);
    assert_non_null(f);
    const tfx_st_tensor *logits = tfx_st_find(f, "logits");
    assert_non_null(logits);
    assert_int_equal(logits->dtype, TFX_DTYPE_F32);
    assert_int_equal(logits->rank, 3);
    assert_int_equal(logits->shape[1], 12);
    assert_int_equal(logits->shape[2], 256);
    const tfx_st_tensor *ids = tfx_st_find(f, "input_ids");
    assert_int_equal(ids->dtype, TFX_DTYPE_I64);
    assert_int_equal(ids->numel, 12);
    int64_t v[12];
    assert_int_equal(tfx_st_read_i64(ids, 0, 12, v, &err), 0);
    for (int i = 0; i < 12; i++)
        assert_true(v[i] >= 0 && v[i] < 256);
    assert_int_equal(tfx_st_read_f32(ids, 0, 1, (float[1]){0}, &err), -1);
    assert_string_equal(err.msg, "tensor 'input_ids' is I64; expected a floating-point tensor");
    assert_int_equal(tfx_st_read_i64(ids, 10, 5, v, &err), -1);
    assert_null(tfx_st_find(f, "nope"));
    tfx_st_close(f);
    f = tfx_st_open("tests/data/hf/gpt2/model.safetensors", &err);
    assert_non_null(f);
    const tfx_st_tensor *c_attn = tfx_st_find(f, "transformer.h.0.attn.c_attn.weight");
    assert_non_null(c_attn);
    assert_int_equal(c_attn->shape[0], 64);
    assert_int_equal(c_attn->shape[1], 192);
    tfx_st_close(f);
}

static void round_trip_case(void **state)
{
    char path[128];
    tfx_error err;
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    float a[6] = {1, -2, 3.5f, 0, 1e-30f, -7};
    int64_t b[3] = {5, -1, 1LL << 40};
    tfx_st_out out[2] = {
        {.name = "a", .dtype = TFX_DTYPE_F32, .rank = 2, .shape = {2, 3}, .data = a},
        {.name = "b", .dtype = TFX_DTYPE_I64, .rank = 1, .shape = {3}, .data = b},
    };
    assert_int_equal(tfx_st_write(path, "test", out, 2, &err), 0);
    tfx_st_file *f = tfx_st_open(path, &err);
    assert_non_null(f);
    float ra[6];
    int64_t rb[3];
    assert_int_equal(tfx_st_read_f32(tfx_st_find(f, "a"), 0, 6, ra, &err), 0);
    assert_memory_equal(ra, a, sizeof a);
    assert_int_equal(tfx_st_read_i64(tfx_st_find(f, "b"), 0, 3, rb, &err), 0);
    assert_memory_equal(rb, b, sizeof b);
    tfx_st_close(f);
}

/* Write a file of an 8-byte header length, the header, then `data_len` zero bytes. */
static void write_raw(const char *path, uint64_t claimed, const char *header, size_t data_len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(&claimed, 8, 1, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < data_len; i++)
        fputc(0, f);
    fclose(f);
}

static void conversion_case(void **state)
{
    char path[128];
    tfx_error err;
    snprintf(path, sizeof path, "%s/half.safetensors", dir);
    const char *header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[6],\"data_offsets\":[0,12]},"
                         "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[12,16]}}";
    uint16_t halves[6] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x7e00};
    uint16_t bf[2] = {0x3f80, 0xc040};
    FILE *f = fopen(path, "wb");
    uint64_t len = strlen(header);
    fwrite(&len, 8, 1, f);
    fwrite(header, 1, len, f);
    fwrite(halves, 2, 6, f);
    fwrite(bf, 2, 2, f);
    fclose(f);
    tfx_st_file *st = tfx_st_open(path, &err);
    if (!st)
        fail_msg("%s", err.msg);
    float h[6], b[2];
    assert_int_equal(tfx_st_read_f32(tfx_st_find(st, "h"), 0, 6, h, &err), 0);
    assert_true(h[0] == 1.0f && h[1] == -2.0f && h[2] == 65504.0f);
    assert_true(h[3] == ldexpf(1.0f, -24));
    assert_true(isinf(h[4]) && isnan(h[5]));
    assert_int_equal(tfx_st_read_f32(tfx_st_find(st, "b"), 0, 2, b, &err), 0);
    assert_true(b[0] == 1.0f && b[1] == -3.0f);
    tfx_st_close(st);
}

static void bad_files_case(void **state)
{
    static const struct {
        uint64_t claimed;         /* 0: the header's own length */
        const char *header;
        size_t data;
        const char *message;      /* after "<path>" */
    } rows[] = {
        {999, "{}", 0, ": header length 999 runs past the end of the file (10 bytes)"},
        {1ull << 63, "{}", 0, ": header length 9223372036854775808 runs past the end of the file (10 bytes)"},
        {0, "{not json", 0, ": header is not valid JSON: "},
        {0, "[1, 2]", 0, ": header must be a JSON object"},
        {0, "{\"t\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, ": tensor 't': unsupported dtype 'F8_E4M3'"},
        {0, "{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, ": tensor 't': shape entry 0 is not a non-negative integer"},
        {0, "{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, ": tensor 't': shape entry 0 is not a non-negative integer"},
        {0, "{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, ": tensor 't': its shape's element count overflows 64 bits"},
        {0, "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, ": tensor 't': data_offsets [0, 8] lie outside the 4 bytes of data"},
        {0, "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, ": tensor 't': data_offsets [4, 0] lie outside the 4 bytes of data"},
        {0, "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, ": tensor 't': data_offsets [0, 4] hold 4 bytes, but its shape and F32 need 8"},
        {0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, ": tensors 'a' and 'b' overlap"},
        /* an empty tensor sorted between two that overlap must not hide them */
        {0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, ": tensors 'a' and 'b' overlap"},
        {0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, ": header is not valid JSON: duplicate object key"},
        {0, "{\"__metadata__\":{\"x\":1}}", 0, ": __metadata__ must be an object of strings"},
        {0, "{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, ": tensor 't': 'data_offsets' must be [begin, end] of non-negative integers"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char path[128], want[512];
        tfx_error err;
        snprintf(path, sizeof path, "%s/bad%zu.safetensors", dir, i);
        write_raw(path, rows[i].claimed ? rows[i].claimed : strlen(rows[i].header), rows[i].header, rows[i].data);
        assert_null(tfx_st_open(path, &err));
        snprintf(want, sizeof want, "%s%s", path, rows[i].message);
        if (strncmp(err.msg, want, strlen(want)) != 0)
            fail_msg("row %zu: got '%s', want '%s'", i, err.msg, want);
    }
    char path[128], want[256];
    tfx_error err;
    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    FILE *f = fopen(path, "wb");
    fputs("abcd", f);
    fclose(f);
    assert_null(tfx_st_open(path, &err));
    snprintf(want, sizeof want, "%s: 4 bytes is too short for a safetensors file (8-byte header length first)", path);
    assert_string_equal(err.msg, want);
    assert_null(tfx_st_open("/nonexistent.safetensors", &err));
    assert_string_equal(err.msg, "cannot read '/nonexistent.safetensors': No such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixture_case), cmocka_unit_test(round_trip_case),
        cmocka_unit_test(conversion_case), cmocka_unit_test(bad_files_case),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
