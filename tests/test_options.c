/* tests/test_options.c — core/options.c on a table of every kind of option: defaults applied,
 * values stored where the table says at their width, each mistake's message, and --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

typedef struct demo {
    int64_t big;
    int small;                    /* an int member: the parser stores 4 bytes */
    double rate;
    int mode;
    const char *path;
    char *items[2];
    int n_items;
    bool on, off;
    const char *args[4];
    int n_args;
} demo;

static const char *const modes[] = {"fast", "slow", "exact", NULL};
static const int mode_values[] = {10, 20, 30};

static const tfx_opt table[] = {
    {"--big", TFX_ARG_INT, "N", "a wide integer", .def = "7", .min = -5, .max = INT64_MAX, TFX_AT(demo, big)},
    {"--small", TFX_ARG_INT, "K", "a narrow integer", .def_doc = "none", .min = 1, .max = 100, TFX_AT(demo, small)},
    {"--rate", TFX_ARG_FLOAT, "X", "a rate", .def = "0.5", .fmin = 0, .fmax = 1, TFX_AT(demo, rate)},
    {"--mode", TFX_ARG_ENUM, "M", "how", .def = "slow", .choices = modes, .values = mode_values, TFX_AT(demo, mode)},
    {"--path", TFX_ARG_STRING, "FILE", "where", .required = true, TFX_AT(demo, path)},
    {"--item", TFX_ARG_LIST, "V", "repeatable", .max = 2, TFX_AT(demo, items), .count_at = offsetof(demo, n_items)},
    {"--on", TFX_ARG_FLAG, NULL, "set", TFX_AT(demo, on)},
    {"--no-off", TFX_ARG_FLAG, NULL, "clear", .clears = true, TFX_AT(demo, off)},
};

static const tfx_command_spec spec = {
    .name = "demo", TFX_ARGS("ARG...", 1, 3), .about = "A demonstration.\n", TFX_OPTIONS_OF(table),
};

static int take(void *dst, const char *arg, tfx_error *err)
{
    (void)err;
    demo *d = dst;
    d->args[d->n_args++] = arg;
    return 0;
}

/* Parse the words of `line` (split at spaces) into d; returns the parser's result. */
static int parse(const char *line, demo *d, tfx_error *err)
{
    static char buf[512];
    char *argv[32] = {"demo"};
    int argc = 1;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *w = strtok(buf, " "); w && argc < 31; w = strtok(NULL, " "))
        argv[argc++] = w;
    memset(d, 0, sizeof *d);
    err->msg[0] = '\0';
    return tfx_options_parse(&spec, argc, argv, d, take, err);
}

static void values_case(void **state)
{
    (void)state;
    demo d;
    tfx_error err;
    assert_int_equal(parse("a --path p b", &d, &err), TFX_OPTIONS_PROCEED);
    assert_int_equal(d.big, 7);            /* defaults applied */
    assert_int_equal(d.small, 0);          /* a default said in words only: untouched */
    assert_true(d.rate == 0.5);
    assert_int_equal(d.mode, 20);
    assert_false(d.on);
    assert_true(d.off);
    assert_int_equal(d.n_args, 2);
    assert_string_equal(d.args[1], "b");
    assert_int_equal(parse("a --path=p --big -5 --small 100 --rate=1 --mode exact --item x --item y --on --no-off",
                           &d, &err), TFX_OPTIONS_PROCEED);
    assert_int_equal(d.big, -5);
    assert_int_equal(d.small, 100);
    assert_true(d.rate == 1.0);
    assert_int_equal(d.mode, 30);
    assert_string_equal(d.path, "p");
    assert_int_equal(d.n_items, 2);
    assert_string_equal(d.items[1], "y");
    assert_true(d.on);
    assert_false(d.off);
    assert_int_equal(parse("a --path p --big 9223372036854775807", &d, &err), TFX_OPTIONS_PROCEED);
    assert_true(d.big == INT64_MAX);
}

static void mistakes_case(void **state)
{
    (void)state;
    static const struct {
        const char *line, *message;
    } rows[] = {
        {"a --path p --small 101", "--small expects an integer between 1 and 100, got '101'"},
        {"a --path p --small 1.5", "--small expects an integer between 1 and 100, got '1.5'"},
        {"a --path p --big 9223372036854775808", "--big expects an integer between -5 and 9223372036854775807, got '9223372036854775808'"},
        {"a --path p --rate 2", "--rate expects a number between 0 and 1, got '2'"},
        {"a --path p --rate nan", "--rate expects a number between 0 and 1, got 'nan'"},
        {"a --path p --mode fats", "--mode expects fast, slow or exact, got 'fats' (did you mean 'fast'?)"},
        {"a --path p --item 1 --item 2 --item 3", "too many --item options (at most 2)"},
        {"a --path p --on=1", "--on takes no value"},
        {"a --path p --rat 1", "unknown option '--rat' for tfx demo (did you mean '--rate'?); see tfx demo --help"},
        {"a --path", "--path needs a value (FILE)"},
        {"a", "tfx demo needs --path FILE; see tfx demo --help"},
        {"--path p", "tfx demo needs ARG...; see tfx demo --help"},
        {"a b c d --path p", "tfx demo takes at most 3 arguments; see tfx demo --help"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        demo d;
        tfx_error err;
        int rc = parse(rows[i].line, &d, &err);
        if (rc != 1 || strcmp(err.msg, rows[i].message) != 0)
            fail_msg("'%s': got %d '%s', want '%s'", rows[i].line, rc, err.msg, rows[i].message);
    }
}

static void help_case(void **state)
{
    (void)state;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_non_null(out);
    assert_int_equal(tfx_options_help(&spec, out), 0);
    fclose(out);
    assert_string_equal(text,
        "usage: tfx demo ARG... [options]\n"
        "\n"
        "A demonstration.\n"
        "\n"
        "options:\n"
        "  --big N      a wide integer (default 7)\n"
        "  --small K    a narrow integer (default: none)\n"
        "  --rate X     a rate (default 0.5)\n"
        "  --mode M     how (fast, slow or exact; default slow)\n"
        "  --path FILE  where\n"
        "  --item V     repeatable\n"
        "  --on         set\n"
        "  --no-off     clear\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_case),
        cmocka_unit_test(mistakes_case),
        cmocka_unit_test(help_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
