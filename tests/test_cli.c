/* tests/test_cli.c — the `tfx` command as a user meets it: help, exit codes, the headline
 * counts, JSON output, validate's silence, and clear errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#define OUT_CAP (1 << 20)

/* Run `tfx ARGS` (stderr folded into stdout); returns the exit status, output in *out. */
static int tfx(const char *args, char **out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", TFX_EXE, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *buf = calloc(OUT_CAP, 1);
    assert_non_null(buf);
    size_t n = fread(buf, 1, OUT_CAP - 1, p);
    buf[n] = '\0';
    int status = pclose(p);
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void help_case(void **state)
{
    char *out;
    assert_int_equal(tfx("--help", &out), 0);
    assert_non_null(strstr(out, "usage: tfx COMMAND"));
    assert_non_null(strstr(out, "params RECIPE..."));
    free(out);
    assert_int_equal(tfx("params --help", &out), 0);
    assert_non_null(strstr(out, "usage: tfx params RECIPE..."));
    free(out);
    assert_int_equal(tfx("parms recipes/gpt2.yaml", &out), 2);
    assert_string_equal(out, "tfx: unknown command 'parms'; did you mean 'params'? (see tfx --help)\n");
    free(out);
    assert_int_equal(tfx("", &out), 2);
    free(out);
}

static void params_case(void **state)
{
    char *out;
    assert_int_equal(tfx("params recipes/gpt-neo.yaml", &out), 0);
    assert_non_null(strstr(out, "1,315,575,808"));
    free(out);
    assert_int_equal(tfx("params recipes/gpt2.yaml --format json", &out), 0);
    assert_non_null(strstr(out, "\"total\": 124439808"));
    assert_non_null(strstr(out, "\"name\": \"gpt2\""));
    free(out);
    assert_int_equal(tfx("params recipes/gpt2.yaml recipes/gpt2-medium.yaml --format json", &out), 0);
    assert_true(out[0] == '[');
    assert_non_null(strstr(out, "\"total\": 354823168"));
    free(out);
    assert_int_equal(tfx("params recipes/gpt2.yaml --format csv", &out), 0);
    assert_non_null(strstr(out, "gpt2,total,,124439808\n"));
    free(out);
    assert_int_equal(tfx("params recipes/gpt2.yaml --format markdown", &out), 0);
    assert_non_null(strstr(out, "| **total** | **124,439,808** |"));
    free(out);
    assert_int_equal(tfx("params recipes/gpt2.yaml --format yaml", &out), 1);
    assert_string_equal(out, "tfx: unknown format 'yaml' (text, markdown, csv or json)\n");
    free(out);
}

static void validate_case(void **state)
{
    char *out;
    assert_int_equal(tfx("validate recipes/gpt2.yaml recipes/bart-base.yaml", &out), 0);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(tfx("validate recipes/gpt2.yaml --set position.plugin=rop", &out), 1);
    assert_non_null(strstr(out, "--set:1:"));
    assert_non_null(strstr(out, "unknown position plugin 'rop' for 'position' (did you mean 'rope'?)"));
    free(out);
    assert_int_equal(tfx("validate no-such-recipe.yaml", &out), 1);
    assert_non_null(strstr(out, "no-such-recipe.yaml"));
    free(out);
}

static void plugins_case(void **state)
{
    char *out;
    assert_int_equal(tfx("plugins", &out), 0);
    static const char *const names[] = {"learned", "sinusoidal", "rope", "alibi", "none",
        "layernorm", "rmsnorm", "pre", "post", "sandwich", "parallel", "self", "causal",
        "cross", "local", "mlp", "glu"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_non_null(strstr(out, names[i]));
    assert_non_null(strstr(out, "position-rope.so"));
    free(out);
}

static void run_case(void **state)
{
    char *out;
    assert_int_equal(tfx("run tests/data/hf/gpt2/recipe.yaml --tokens 1,2,3 --generate 4", &out), 0);
    assert_non_null(strstr(out, "generated: "));
    assert_non_null(strstr(out, "prefill"));
    free(out);
    assert_int_equal(tfx("run tests/data/hf/gpt2/recipe.yaml --tokens 1,999 --generate 1", &out), 1);
    assert_string_equal(out, "tfx: token id 999 (token 1) is outside the vocabulary of 256\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(help_case),     cmocka_unit_test(params_case),
        cmocka_unit_test(validate_case), cmocka_unit_test(plugins_case),
        cmocka_unit_test(run_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
