/* tests/test_registry.c — plugin discovery: every shipped plugin loads from its own .so, and
 * each kind of broken plugin is skipped with a message naming its file, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "registry.h"
#include "run_tfx.h"

/* The skipped-plugin message that mentions `file`, or NULL. */
static const char *skipped_for(const tfx_registry *reg, const char *file)
{
    for (size_t i = 0; i < reg->n_skipped; i++)
        if (strstr(reg->skipped[i], file))
            return reg->skipped[i];
    return NULL;
}

static void shipped_plugins_case(void **state)
{
    char *dirs[] = {TFX_PLUGIN_BUILD_DIR, NULL};
    tfx_error err;
    tfx_registry *reg = tfx_registry_open(dirs, &err);
    assert_non_null(reg);
    assert_int_equal(reg->n_skipped, 0);
    assert_true(reg->n >= 17);
    static const struct { tfx_kind kind; const char *name; } expected[] = {
        {TFX_KIND_POSITION, "learned"}, {TFX_KIND_POSITION, "sinusoidal"},
        {TFX_KIND_POSITION, "rope"}, {TFX_KIND_POSITION, "alibi"}, {TFX_KIND_POSITION, "none"},
        {TFX_KIND_NORM, "layernorm"}, {TFX_KIND_NORM, "rmsnorm"},
        {TFX_KIND_PLACEMENT, "pre"}, {TFX_KIND_PLACEMENT, "post"},
        {TFX_KIND_PLACEMENT, "sandwich"}, {TFX_KIND_PLACEMENT, "parallel"},
        {TFX_KIND_ATTENTION, "self"}, {TFX_KIND_ATTENTION, "causal"},
        {TFX_KIND_ATTENTION, "cross"}, {TFX_KIND_ATTENTION, "local"},
        {TFX_KIND_FFN, "mlp"}, {TFX_KIND_FFN, "glu"},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        const tfx_registered *r = tfx_registry_find(reg, expected[i].kind, expected[i].name);
        assert_non_null(r);
        char file[128];
        snprintf(file, sizeof file, "/%s-%s.so", tfx_kind_name(expected[i].kind), expected[i].name);
        assert_non_null(strstr(r->path, file)); /* one .so per plugin */
    }
    tfx_registry_free(reg);
}

static void broken_plugins_case(void **state)
{
    char *dirs[] = {TFX_PLUGIN_BUILD_DIR, TFX_BAD_PLUGIN_DIR, "/nonexistent-tfx-plugins", NULL};
    tfx_error err;
    tfx_registry *reg = tfx_registry_open(dirs, &err);
    assert_non_null(reg);
    char want[1024];
    snprintf(want, sizeof want, "%s/wrong_abi.so: incompatible ABI version (plugin: 99, core: %u); skipped",
             TFX_BAD_PLUGIN_DIR, TFX_ABI_VERSION);
    assert_string_equal(skipped_for(reg, "wrong_abi.so"), want);
    snprintf(want, sizeof want, "%s/no_entry.so: no entry point [tfx_plugin_entry] in shared library; skipped",
             TFX_BAD_PLUGIN_DIR);
    assert_string_equal(skipped_for(reg, "no_entry.so"), want);
    snprintf(want, sizeof want, "%s/duplicate.so: position plugin 'rope' is already provided by %s/position-rope.so; skipped",
             TFX_BAD_PLUGIN_DIR, TFX_PLUGIN_BUILD_DIR);
    assert_string_equal(skipped_for(reg, "duplicate.so"), want);
    assert_string_equal(skipped_for(reg, "/nonexistent-tfx-plugins"),
                        "/nonexistent-tfx-plugins: cannot read plugin folder: No such file or directory");
    /* The good ones are still there, and the failing-but-valid one loaded. */
    assert_non_null(tfx_registry_find(reg, TFX_KIND_POSITION, "rope"));
    assert_non_null(tfx_registry_find(reg, TFX_KIND_NORM, "failing"));
    assert_null(tfx_registry_find(reg, TFX_KIND_NORM, "future"));
    tfx_registry_free(reg);
}

/* Ops structs are read only up to their `size`, and each kind's required operations must be
 * there: an older, shorter ffn struct and a NULL keys_seen are skipped, naming file and op. */
static void ops_checked_case(void **state)
{
    char *dirs[] = {TFX_PLUGIN_BUILD_DIR, TFX_BAD_PLUGIN_DIR, NULL};
    tfx_error err;
    tfx_registry *reg = tfx_registry_open(dirs, &err);
    assert_non_null(reg);
    char want[1024];
    snprintf(want, sizeof want, "%s/old_ffn.so: its ffn ops struct (size 24) ends before the "
             "required operation 'width' (this core's is size %zu; rebuild the plugin); skipped",
             TFX_BAD_PLUGIN_DIR, sizeof(tfx_ffn_ops));
    assert_string_equal(skipped_for(reg, "old_ffn.so"), want);
    snprintf(want, sizeof want, "%s/null_op.so: the required attention operation 'keys_seen' "
             "is NULL; skipped", TFX_BAD_PLUGIN_DIR);
    assert_string_equal(skipped_for(reg, "null_op.so"), want);
    assert_null(tfx_registry_find(reg, TFX_KIND_FFN, "old"));
    assert_null(tfx_registry_find(reg, TFX_KIND_ATTENTION, "nokeys"));
    /* A shorter position struct loads: the hooks past its size read as absent, although the
     * plugin's own memory there holds non-NULL bytes. */
    const tfx_registered *old = tfx_registry_find(reg, TFX_KIND_POSITION, "old");
    assert_non_null(old);
    assert_non_null(old->desc->position->embed);
    assert_null(old->desc->position->rotate);
    assert_null(old->desc->position->score_bias);
    assert_int_equal(old->desc->position->size, offsetof(tfx_position_ops, rotate));
    /* The core's copies, not the plugin's: every descriptor and ops struct is core-owned. */
    for (size_t i = 0; i < reg->n; i++)
        assert_ptr_equal(reg->plugins[i].desc, (const void *)reg->plugins[i].copy);
    assert_non_null(tfx_registry_find(reg, TFX_KIND_FFN, "mlp"));
    tfx_registry_free(reg);
}

/* tfx itself with the broken plugins on its path: it warns about each, naming the file and
 * the operation, and runs on. The old position plugin's hooks past its size are never called. */
static void tfx_runs_on_case(void **state)
{
    setenv("TFX_PLUGIN_PATH", TFX_BAD_PLUGIN_DIR, 1);
    char *out, want[1024];
    assert_int_equal(tfx("run tests/data/spec/generic-gpt.yaml --random --set position.plugin=old "
                         "--set d_model=32 --set heads=2 --set vocab=50 --tokens 1,2,3 --generate 3",
                         &out), 0);
    snprintf(want, sizeof want, "tfx: warning: %s/null_op.so: the required attention operation "
             "'keys_seen' is NULL; skipped\n", TFX_BAD_PLUGIN_DIR);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof want, "tfx: warning: %s/old_ffn.so: its ffn ops struct (size 24) ends "
             "before the required operation 'width' (this core's is size %zu; rebuild the plugin); "
             "skipped\n", TFX_BAD_PLUGIN_DIR, sizeof(tfx_ffn_ops));
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "  generated: "));
    free(out);
    /* Before the registry checked ops, both of these crashed tfx params. */
    assert_int_equal(tfx("params tests/data/check/overrun.yaml --shapes --set ffn=old", &out), 1);
    assert_non_null(strstr(out, "tfx: --set 'ffn=old': unknown ffn plugin 'old' for 'ffn'; installed: glu, mlp, moe, overrun (a plugin of your own: add its folder to TFX_PLUGIN_PATH)\n"));
    free(out);
    assert_int_equal(tfx("params tests/data/check/overrun.yaml --set attention=nokeys", &out), 1);
    assert_non_null(strstr(out, "tfx: --set 'attention=nokeys': unknown attention plugin 'nokeys' for 'attention'; "
                                "installed: causal, cross, local, mla, self, "));
    /* the bad folder's plugins follow in the order that folder lists them */
    assert_non_null(strstr(out, "costly"));
    assert_non_null(strstr(out, "huge"));
    assert_non_null(strstr(out, "overrun (a plugin of your own: add its folder to TFX_PLUGIN_PATH)\n") ||
                    strstr(out, "huge (a plugin of your own: add its folder to TFX_PLUGIN_PATH)\n") ||
                    strstr(out, "costly (a plugin of your own: add its folder to TFX_PLUGIN_PATH)\n"));
    free(out);
    assert_int_equal(tfx("params tests/data/spec/generic-gpt.yaml --shapes", &out), 0);
    assert_non_null(strstr(out, "decoder ffn hidden (mlp)"));
    free(out);
    /* a plugin's own output shapes pass core/sizes.c's gate too */
    FILE *f = fopen("/tmp/tfx-registry-costly.yaml", "w");
    assert_non_null(f);
    fputs("name: t\nmodel: decoder-only\nvocab: 100\nd_model: 64\nheads: 4\nlayers: 2\ncontext: 32\n"
          "attention: { plugin: costly, lie: shapes }\n", f);
    fclose(f);
    assert_int_equal(tfx("params /tmp/tfx-registry-costly.yaml --shapes 2>&1 | grep -v warning", &out), 0);
    assert_string_equal(out, "tfx: /tmp/tfx-registry-costly.yaml:8:22: attention plugin 'costly' reports a malformed "
                             "output shape (entry 0: names, a rank of 1 to 4, no negative dimension)\n");
    free(out);
    remove("/tmp/tfx-registry-costly.yaml");
    unsetenv("TFX_PLUGIN_PATH");
}

/* --check: guard words after the workspace and the KV caches catch a plugin writing one float
 * past them, naming the plugin, the recipe place and the buffer; one that stays inside passes. */
static void check_case(void **state)
{
    setenv("TFX_PLUGIN_PATH", TFX_BAD_PLUGIN_DIR, 1);
    const char *base = "run tests/data/check/overrun.yaml --random --tokens 1,2,3 --generate 3";
    const char *want = "tfx: decoder layer 0: --check: ffn plugin 'overrun' "
                       "(tests/data/check/overrun.yaml:14:16) wrote past its workspace of 96 floats\n";
    char args[512], *out;
    snprintf(args, sizeof args, "%s --check", base);
    assert_int_equal(tfx(args, &out), 0);
    assert_non_null(strstr(out, "  generated: 3,3,3\n"));
    free(out);
    snprintf(args, sizeof args, "%s --check --set ffn.past=1", base);
    assert_int_equal(tfx(args, &out), 1);
    assert_non_null(strstr(out, want));
    free(out);
    snprintf(args, sizeof args, "%s --check --set ffn.past=64", base);
    assert_int_equal(tfx(args, &out), 1);
    assert_non_null(strstr(out, want));
    free(out);
    /* The same for every KV cache: 3 prompt tokens and 2 generated ones need 5 positions of
     * d_model 32. */
    snprintf(args, sizeof args, "%s --check --set 'attention={plugin: overrun, past: 1}'", base);
    assert_int_equal(tfx(args, &out), 1);
    assert_non_null(strstr(out, "tfx: decoder layer 0: --check: attention plugin 'overrun' "
                                "(--set 'attention={plugin: overrun, past: 1}') wrote past its KV cache of 160 floats\n"));
    free(out);
    snprintf(args, sizeof args, "%s --check --set 'attention={plugin: overrun, past: 0}'", base);
    assert_int_equal(tfx(args, &out), 0);
    free(out);
    /* compare --run passes --check on to each column's run, and reports its error. */
    assert_int_equal(tfx("compare tests/data/check/overrun.yaml --set ffn.past=1 --run --check "
                         "--prompt-len 3 --generate 2", &out), 1);
    assert_non_null(strstr(out, "tfx: column 1 (overrun) did not run: decoder layer 0: --check: "
                                "ffn plugin 'overrun' (tests/data/check/overrun.yaml:14:16) wrote "
                                "past its workspace of 96 floats\n"));
    free(out);
    unsetenv("TFX_PLUGIN_PATH");
}

static void kind_names_case(void **state)
{
    assert_string_equal(tfx_kind_name(TFX_KIND_ATTENTION), "attention");
    assert_int_equal(tfx_kind_from_name("ffn"), TFX_KIND_FFN);
    assert_int_equal(tfx_kind_from_name("mlp"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_plugins_case),
        cmocka_unit_test(broken_plugins_case),
        cmocka_unit_test(ops_checked_case),
        cmocka_unit_test(tfx_runs_on_case),
        cmocka_unit_test(check_case),
        cmocka_unit_test(kind_names_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
