/* tests/test_import.c — `tfx import`: every fixture's config.json becomes a self-contained
 * recipe that counts what Hugging Face counts and, with the fixture's weights, gives HF's
 * logits; every published configuration counts exactly; the unknown is refused by name. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "run_tfx.h"
#include "safetensors.h"

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/tfx-import-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* "1,2,3" from an integer tensor of the fixture's io file. */
static void ids_text(const tfx_st_file *io, const char *name, char *out, size_t cap)
{
    tfx_error err;
    const tfx_st_tensor *t = tfx_st_find(io, name);
    int64_t ids[64];
    assert_non_null(t);
    assert_int_equal(tfx_st_read_i64(t, 0, t->numel, ids, &err), 0);
    out[0] = '\0';
    for (int64_t i = 0; i < t->numel; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%lld", i ? "," : "", (long long)ids[i]);
}

static int64_t total_of(const char *json_text)
{
    const char *at = strstr(json_text, "\"total\": ");
    assert_non_null(at);
    return strtoll(at + 9, NULL, 10);
}

static void import_fixture(const char *name)
{
    char args[4096], recipe[256], logits[256], tokens[512], enc[600], *out;
    tfx_error err;
    snprintf(recipe, sizeof recipe, "%s/%s.yaml", dir, name);
    snprintf(args, sizeof args, "import tests/data/hf/%s/config.json > %s", name, recipe);
    assert_int_equal(tfx(args, &out), 0);
    free(out);
    FILE *f = fopen(recipe, "r");
    char *text = calloc(1, 1 << 20);
    assert_true(fread(text, 1, (1 << 20) - 1, f) > 0);
    fclose(f);
    assert_null(strstr(text, "\nextends:"));
    free(text);

    snprintf(args, sizeof args, "params %s --format json", recipe);
    assert_int_equal(tfx(args, &out), 0);
    char meta[256];
    snprintf(meta, sizeof meta, "tests/data/hf/%s/meta.json", name);
    json_error_t jerr;
    json_t *m = json_load_file(meta, 0, &jerr);
    assert_int_equal(total_of(out), json_integer_value(json_object_get(m, "param_count")));
    json_decref(m);
    free(out);

    /* With the fixture's weights, the imported recipe gives HF's outputs. */
    char io_path[256];
    snprintf(io_path, sizeof io_path, "tests/data/hf/%s/io.safetensors", name);
    tfx_st_file *io = tfx_st_open(io_path, &err);
    assert_non_null(io);
    int seq2seq = tfx_st_find(io, "decoder_input_ids") != NULL;
    int encoder = tfx_st_find(io, "last_hidden_state") != NULL;
    ids_text(io, seq2seq ? "decoder_input_ids" : "input_ids", tokens, sizeof tokens);
    enc[0] = '\0';
    if (seq2seq) {
        char ids[512];
        ids_text(io, "input_ids", ids, sizeof ids);
        snprintf(enc, sizeof enc, "--encoder-tokens %s", ids);
    }
    snprintf(logits, sizeof logits, "%s/%s.logits.safetensors", dir, name);
    snprintf(args, sizeof args, "run %s --checkpoint tests/data/hf/%s/model.safetensors --tokens %s %s "
             "--generate 0 --logits %s", recipe, name, tokens, enc, logits);
    int rc = tfx(args, &out);
    if (rc != 0)
        fail_msg("%s: %s", name, out);
    free(out);
    tfx_st_file *got = tfx_st_open(logits, &err);
    assert_non_null(got);
    const char *key = encoder ? "last_hidden_state" : "logits";
    const tfx_st_tensor *a = tfx_st_find(got, key), *b = tfx_st_find(io, key);
    assert_non_null(a);
    assert_int_equal(a->numel, b->numel);
    float *x = malloc((size_t)a->numel * 4), *y = malloc((size_t)a->numel * 4);
    assert_int_equal(tfx_st_read_f32(a, 0, a->numel, x, &err), 0);
    assert_int_equal(tfx_st_read_f32(b, 0, b->numel, y, &err), 0);
    for (int64_t i = 0; i < a->numel; i++)
        if (!(fabsf(x[i] - y[i]) < 1e-4f))
            fail_msg("%s: %s[%lld] = %g, HF %g", name, key, (long long)i, x[i], y[i]);
    free(x);
    free(y);
    tfx_st_close(got);
    tfx_st_close(io);
}

static void fixtures_case(void **state)
{
    static const char *const names[] = {"gpt2", "gpt_neo", "llama", "bloom", "bart", "bert"};
    for (size_t i = 0; i < 6; i++)
        import_fixture(names[i]);
}

static void published_case(void **state)
{
    json_error_t jerr;
    json_t *all = json_load_file("tests/data/hf/param_counts.json", 0, &jerr);
    const char *key;
    json_t *entry;
    assert_non_null(all);
    json_object_foreach(all, key, entry) {
        char config[256], recipe[256], args[1024], *out;
        snprintf(config, sizeof config, "%s/%s.json", dir, key);
        snprintf(recipe, sizeof recipe, "%s/%s.yaml", dir, key);
        assert_int_equal(json_dump_file(json_object_get(entry, "config"), config, 0), 0);
        snprintf(args, sizeof args, "import %s > %s && %s params %s --format json", config, recipe,
                 TFX_EXE, recipe);
        int rc = tfx(args, &out);
        if (rc != 0)
            fail_msg("%s: %s", key, out);
        if (total_of(out) != json_integer_value(json_object_get(entry, "params")))
            fail_msg("%s: imported recipe counts %lld", key, (long long)total_of(out));
        free(out);
    }
    json_decref(all);
}

static void refusals_case(void **state)
{
    char path[256], args[512], want[512], *out;
    snprintf(path, sizeof path, "%s/t5.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"model_type\": \"t5\", \"d_model\": 512}", f);
    fclose(f);
    snprintf(args, sizeof args, "import %s", path);
    assert_int_equal(tfx(args, &out), 1);
    snprintf(want, sizeof want, "tfx: %s: model_type 't5' is not one tfx can import yet (gpt2, gpt_neo, llama, bloom, bart, bert)\n", path);
    assert_string_equal(out, want);
    free(out);
    f = fopen(path, "w");
    fputs("{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"llama3\"}}", f);
    fclose(f);
    assert_int_equal(tfx(args, &out), 1);
    snprintf(want, sizeof want, "tfx: %s: rope_type 'llama3' is not expressible in a tfx recipe yet\n", path);
    assert_string_equal(out, want);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures_case), cmocka_unit_test(published_case),
        cmocka_unit_test(refusals_case),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
