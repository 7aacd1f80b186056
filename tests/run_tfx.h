/* tests/run_tfx.h — running the tfx executable from a test: `tfx ARGS` with stderr folded into
 * stdout, returning the exit status and the output (the caller frees it). */
#ifndef TFX_TESTS_RUN_TFX_H
#define TFX_TESTS_RUN_TFX_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define TFX_OUT_CAP (1 << 20)

static int tfx(const char *args, char **out)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", TFX_EXE, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *buf = calloc(TFX_OUT_CAP, 1);
    assert_non_null(buf);
    size_t n = fread(buf, 1, TFX_OUT_CAP - 1, p);
    buf[n] = '\0';
    int status = pclose(p);
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* tfx ARGS for argument lists longer than tfx()'s command buffer. */
__attribute__((unused)) static int tfx_long(const char *args, char **out)
{
    size_t cap = strlen(args) + strlen(TFX_EXE) + 16;
    char *cmd = malloc(cap);
    assert_non_null(cmd);
    snprintf(cmd, cap, "%s %s 2>&1", TFX_EXE, args);
    FILE *p = popen(cmd, "r");
    free(cmd);
    assert_non_null(p);
    char *buf = calloc(TFX_OUT_CAP, 1);
    assert_non_null(buf);
    buf[fread(buf, 1, TFX_OUT_CAP - 1, p)] = '\0';
    int status = pclose(p);
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif
