/* core/cli.c — option handling shared by the tfx commands, and the one place errors and
 * plugin warnings are printed. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

const char *tfx_cli_value(int argc, char **argv, int *i, tfx_error *err)
{
    if (*i + 1 >= argc) {
        tfx_fail(err, "option '%s' needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int tfx_cli_take_common(tfx_cli_common *c, int argc, char **argv, int *i, tfx_error *err)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "--set") == 0) {
        const char *v = tfx_cli_value(argc, argv, i, err);
        if (!v)
            return -1;
        if (c->n_sets == TFX_MAX_SETS)
            return tfx_fail(err, "too many --set options (at most %d)", TFX_MAX_SETS);
        c->sets[c->n_sets++] = (char *)v;
        return 1;
    }
    if (strcmp(arg, "--format") == 0) {
        const char *v = tfx_cli_value(argc, argv, i, err);
        if (!v)
            return -1;
        int f = tfx_format_from_name(v);
        if (f < 0)
            return tfx_fail(err, "unknown format '%s' (text, markdown, csv or json)", v);
        c->format = (tfx_format)f;
        return 1;
    }
    return 0;
}

int tfx_cli_take_file(tfx_cli_common *c, const char *arg, tfx_error *err)
{
    if (arg[0] == '-' && arg[1] != '\0')
        return tfx_fail(err, "unknown option '%s' (see --help)", arg);
    if (c->n_files == TFX_MAX_FILES)
        return tfx_fail(err, "too many files (at most %d)", TFX_MAX_FILES);
    c->files[c->n_files++] = (char *)arg;
    return 0;
}

tfx_registry *tfx_cli_registry(tfx_error *err)
{
    char **dirs = tfx_registry_default_dirs();
    if (!dirs) {
        tfx_fail(err, "out of memory");
        return NULL;
    }
    tfx_registry *reg = tfx_registry_open(dirs, err);
    tfx_registry_free_dirs(dirs);
    if (!reg)
        return NULL;
    for (size_t i = 0; i < reg->n_skipped; i++)
        fprintf(stderr, "tfx: warning: %s\n", reg->skipped[i]);
    if (reg->n == 0)
        fprintf(stderr, "tfx: warning: no plugins found; searched the build tree's plugins/, "
                        "$TFX_PLUGIN_PATH and the install prefix\n");
    return reg;
}

int tfx_cli_error(const tfx_error *err)
{
    fprintf(stderr, "tfx: %s\n", err->msg);
    return 1;
}
