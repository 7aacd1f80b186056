/* core/cli.c — option handling shared by the tfx commands, and the one place errors and
 * plugin warnings are printed. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

const char *tfx_cli_value(int argc, char **argv, int *i, tfx_error *err)
{
    if (*i + 1 >= argc) {
        tfx_fail(err, "option '%s' needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int tfx_cli_int(const char *opt, const char *text, int64_t lo, int64_t hi, int64_t *out,
                tfx_error *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return tfx_fail(err, "%s expects an integer between %" PRId64 " and %" PRId64 ", got '%s'",
                        opt, lo, hi, text);
    *out = v;
    return 0;
}

int tfx_cli_dtype(const char *value, bool *bf16, tfx_error *err)
{
    if (strcmp(value, "fp32") != 0 && strcmp(value, "bf16") != 0)
        return tfx_fail(err, "--dtype '%s': expected fp32 or bf16", value);
    *bf16 = strcmp(value, "bf16") == 0;
    return 0;
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
    static const char *const sized[] = {"--batch", "--context"};
    for (int k = 0; k < 2; k++) {
        if (strcmp(arg, sized[k]) != 0)
            continue;
        const char *v = tfx_cli_value(argc, argv, i, err);
        char *end;
        if (!v)
            return -1;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || *end || end == v || n < 1 || n > INT32_MAX)
            return tfx_fail(err, "%s expects an integer between 1 and %d, got '%s'", arg, INT32_MAX, v);
        *(k ? &c->estimate.context : &c->estimate.batch) = n;
        return 1;
    }
    if (strcmp(arg, "--kv-dtype") == 0) {
        static const char *const names[] = {"fp32", "fp16", "bf16", "int8"};
        static const int bytes[] = {4, 2, 2, 1};
        const char *v = tfx_cli_value(argc, argv, i, err);
        if (!v)
            return -1;
        for (int k = 0; k < 4; k++)
            if (strcmp(v, names[k]) == 0) {
                c->estimate.kv_bytes = bytes[k];
                return 1;
            }
        return tfx_fail(err, "unknown --kv-dtype '%s' (fp32, fp16, bf16 or int8)", v);
    }
    if (strcmp(arg, "--no-fp32-grads") == 0) {
        c->estimate.fp32_grads = false;
        return 1;
    }
    return 0;
}

int tfx_cli_item(const tfx_cli_common *c, const char *path, const tfx_loaded *l,
                 tfx_params_item *item, tfx_error *err)
{
    *item = (tfx_params_item){.path = path, .loaded = l, .counts = &l->counts,
                              .opts = tfx_estimate_defaults(l->model, &c->estimate)};
    if (tfx_model_check_context(l->model, item->opts.context, err))
        return -1;
    if (tfx_estimate(l->model, l->counts.total, l->counts.non_embedding, &item->opts, &item->memory,
                     &item->flops, err))
        return tfx_error_prefix(err, "%s", path);
    return 0;
}

int tfx_cli_shipped_recipe(const char *name, char *out, size_t cap)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0 || strstr(name, ".."))
        return 0;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    const char *dirs[] = {"../recipes", "../" TFX_RECIPE_INSTALL_DIR};
    const char *exts[] = {"", ".yaml"};
    for (int d = 0; d < 2; d++)
        for (int e = 0; e < 2; e++) {
            int n = snprintf(out, cap, "%s/%s/%s%s", exe, dirs[d], name, exts[e]);
            if (n > 0 && (size_t)n < cap && access(out, R_OK) == 0)
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
    char *slot = c->resolved[c->n_files];
    c->files[c->n_files++] = access(arg, F_OK) == 0 || !tfx_cli_shipped_recipe(arg, slot, sizeof c->resolved[0])
                                 ? (char *)arg : slot;
    return 0;
}

int tfx_cli_parse(tfx_cli_common *c, int argc, char **argv, const char *usage, const char *flag,
                  bool *flag_set, int min_files, int max_files)
{
    tfx_error err = {{0}};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (flag && strcmp(argv[i], flag) == 0) {
            *flag_set = true;
            continue;
        }
        int taken = tfx_cli_take_common(c, argc, argv, &i, &err);
        if (taken < 0 || (!taken && tfx_cli_take_file(c, argv[i], &err)))
            return tfx_cli_error(&err);
    }
    if (c->n_files < min_files || c->n_files > max_files) {
        fputs(usage, stderr);
        return 2;
    }
    return TFX_CLI_PROCEED;
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
