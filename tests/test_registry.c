/* tests/test_registry.c — plugin discovery: every shipped plugin loads from its own .so, and
 * each kind of broken plugin is skipped with a message naming its file, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "registry.h"

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
        cmocka_unit_test(kind_names_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
