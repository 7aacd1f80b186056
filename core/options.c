/* core/options.c — the one parser of command lines: reads argv by a command's option table,
 * checks every value against the table's type and range, and prints --help from the same table. */
#include "options.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "recipe.h"
#include "text.h"

#define MAX_OPTS 64
#define HELP_WIDTH 96             /* --help lines are wrapped before this column */

int tfx_options_int(const char *opt, const char *text, int64_t lo, int64_t hi, int64_t *out,
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

static int parse_float(const tfx_opt *o, const char *text, double *out, tfx_error *err)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= o->fmin && v <= o->fmax))
        return tfx_fail(err, "%s expects a number between %g and %g, got '%s'", o->name, o->fmin,
                        o->fmax, text);
    *out = v;
    return 0;
}

static size_t count_choices(const tfx_opt *o)
{
    size_t n = 0;
    while (o->choices[n])
        n++;
    return n;
}

static int parse_enum(const tfx_opt *o, const char *text, int *out, tfx_error *err)
{
    size_t n = count_choices(o);
    for (size_t k = 0; k < n; k++)
        if (strcmp(text, o->choices[k]) == 0) {
            *out = o->values ? o->values[k] : (int)k;
            return 0;
        }
    char list[256], hint[128];
    return tfx_fail(err, "%s expects %s, got '%s'%s", o->name, tfx_join(list, sizeof list, o->choices, n, "or"),
                    text, tfx_did_you_mean(hint, sizeof hint, text, o->choices, n));
}

/* Store an integer in the member .at of .size bytes (an int or an int64_t). */
static void store_int(const tfx_opt *o, void *dst, int64_t v)
{
    char *p = (char *)dst + o->at;
    if (o->size == sizeof(int64_t)) {
        memcpy(p, &v, sizeof v);
    } else {
        int narrow = (int)v;
        memcpy(p, &narrow, sizeof narrow);
    }
}

static int append(const tfx_opt *o, void *dst, const char *text, tfx_error *err)
{
    int *count = (int *)((char *)dst + o->count_at);
    if (*count >= o->max)
        return tfx_fail(err, "too many %s options (at most %" PRId64 ")", o->name, o->max);
    const char **list = (const char **)((char *)dst + o->at);
    list[(*count)++] = text;
    return 0;
}

/* Give option o the value `text` (NULL for a flag). */
static int set_value(const tfx_opt *o, void *dst, const char *text, tfx_error *err)
{
    char *p = (char *)dst + o->at;
    int64_t i = 0;
    double f = 0;
    int e = 0;
    switch (o->kind) {
    case TFX_ARG_FLAG:
        *(bool *)p = !o->clears;
        return 0;
    case TFX_ARG_INT:
        if (tfx_options_int(o->name, text, o->min, o->max, &i, err))
            return -1;
        store_int(o, dst, i);
        return 0;
    case TFX_ARG_FLOAT:
        if (parse_float(o, text, &f, err))
            return -1;
        memcpy(p, &f, sizeof f);
        return 0;
    case TFX_ARG_ENUM:
        if (parse_enum(o, text, &e, err))
            return -1;
        store_int(o, dst, e);
        return 0;
    case TFX_ARG_STRING:
        memcpy(p, &text, sizeof text);
        return 0;
    case TFX_ARG_LIST:
        return append(o, dst, text, err);
    }
    return tfx_fail(err, "%s: unknown option type", o->name);
}

static int apply_defaults(const tfx_command_spec *cmd, void *dst, tfx_error *err)
{
    for (size_t k = 0; k < cmd->n_opts; k++) {
        const tfx_opt *o = &cmd->opts[k];
        if (o->kind == TFX_ARG_FLAG)
            *(bool *)((char *)dst + o->at) = o->clears;
        else if (o->def && set_value(o, dst, o->def, err))
            return tfx_error_prefix(err, "the default of tfx %s", cmd->name);
    }
    return 0;
}

/* The option named by `arg` (the part before any '='), or NULL with err set. */
static const tfx_opt *find_opt(const tfx_command_spec *cmd, const char *arg, size_t len,
                               tfx_error *err)
{
    const char *names[MAX_OPTS];
    size_t n = 0;
    for (size_t k = 0; k < cmd->n_opts; k++) {
        const tfx_opt *o = &cmd->opts[k];
        if (strlen(o->name) == len && strncmp(o->name, arg, len) == 0)
            return o;
        if (n < MAX_OPTS)
            names[n++] = o->name;
    }
    char word[128], hint[160];
    tfx_text(word, sizeof word, "%.*s", (int)(len < 100 ? len : 100), arg);
    tfx_fail(err, "unknown option '%s' for tfx %s%s; see tfx %s --help", word, cmd->name,
             tfx_did_you_mean(hint, sizeof hint, word, names, n), cmd->name);
    return NULL;
}

/* argv[*i] is an option: take it and its value (the next argument, or after '='). */
static int take_option(const tfx_command_spec *cmd, int argc, char **argv, int *i, void *dst,
                       bool *given, tfx_error *err)
{
    const char *arg = argv[*i], *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const tfx_opt *o = find_opt(cmd, arg, len, err);
    if (!o)
        return -1;
    given[o - cmd->opts] = true;
    if (o->kind == TFX_ARG_FLAG) {
        if (eq)
            return tfx_fail(err, "%s takes no value", o->name);
        return set_value(o, dst, NULL, err);
    }
    if (eq)
        return set_value(o, dst, eq + 1, err);
    if (*i + 1 >= argc)
        return tfx_fail(err, "%s needs a value (%s)", o->name, o->value ? o->value : "a value");
    return set_value(o, dst, argv[++*i], err);
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/* After parsing: enough positional arguments, and the required options. */
static int check_complete(const tfx_command_spec *cmd, int n_args, const bool *given, tfx_error *err)
{
    if (n_args < cmd->min_args)
        return tfx_fail(err, "tfx %s needs %s; see tfx %s --help", cmd->name, cmd->args, cmd->name);
    for (size_t k = 0; k < cmd->n_opts; k++)
        if (cmd->opts[k].required && !given[k])
            return tfx_fail(err, "tfx %s needs %s %s; see tfx %s --help", cmd->name, cmd->opts[k].name,
                            cmd->opts[k].value, cmd->name);
    return 0;
}

/* A positional argument past the command's count. */
static int too_many(const tfx_command_spec *cmd, const char *arg, tfx_error *err)
{
    if (cmd->max_args == 0)
        return tfx_fail(err, "tfx %s takes no arguments, got '%s'; see tfx %s --help", cmd->name, arg,
                        cmd->name);
    if (cmd->max_args == 1)
        return tfx_fail(err, "tfx %s takes one %s; '%s' is a second; see tfx %s --help", cmd->name,
                        cmd->args, arg, cmd->name);
    return tfx_fail(err, "tfx %s takes at most %d arguments; see tfx %s --help", cmd->name,
                    cmd->max_args, cmd->name);
}

int tfx_options_parse(const tfx_command_spec *cmd, int argc, char **argv, void *dst,
                      tfx_arg_fn take_arg, tfx_error *err)
{
    if (wants_help(argc, argv))
        return tfx_options_help(cmd, stdout) ? 1 : 0;
    bool given[MAX_OPTS] = {false};
    if (cmd->n_opts > MAX_OPTS)
        return tfx_fail(err, "tfx %s declares more than %d options", cmd->name, MAX_OPTS), 1;
    if (apply_defaults(cmd, dst, err))
        return 1;
    int n_args = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] != '\0') {
            if (take_option(cmd, argc, argv, &i, dst, given, err))
                return 1;
            continue;
        }
        if (n_args == cmd->max_args)
            return too_many(cmd, a, err), 1;
        if (take_arg(dst, a, err))
            return 1;
        n_args++;
    }
    return check_complete(cmd, n_args, given, err) ? 1 : TFX_OPTIONS_PROCEED;
}

/* ---- --help ------------------------------------------------------------------------------- */

/* The doc of an option with its default, as shown. */
static void describe(const tfx_opt *o, char *buf, size_t cap)
{
    char list[256];
    bool choices = o->kind == TFX_ARG_ENUM, def = o->def_doc || (o->def && o->kind != TFX_ARG_FLAG);
    tfx_text(buf, cap, "%s%s", o->doc, choices || def ? " (" : "");
    if (choices)
        tfx_text_append(buf, cap, "%s%s", tfx_join(list, sizeof list, o->choices, count_choices(o), "or"),
                        def ? "; " : "");
    if (def)
        tfx_text_append(buf, cap, "default%s%s", o->def_doc ? ": " : " ", o->def_doc ? o->def_doc : o->def);
    if (choices || def)
        tfx_text_append(buf, cap, ")");
}

/* Print `text` from column `col`, wrapped before HELP_WIDTH with following lines at `col`. */
static void print_wrapped(FILE *out, const char *text, int col)
{
    int at = col;
    while (*text) {
        size_t word = strcspn(text, " ");
        if (at > col && at + 1 + (int)word > HELP_WIDTH) {
            fprintf(out, "\n%*s", col, "");
            at = col;
        } else if (at > col) {
            fputc(' ', out);
            at++;
        }
        fprintf(out, "%.*s", (int)word, text);
        at += (int)word;
        text += word;
        text += strspn(text, " ");
    }
    fputc('\n', out);
}

int tfx_options_help(const tfx_command_spec *cmd, FILE *out)
{
    int width = 0;
    for (size_t k = 0; k < cmd->n_opts; k++) {
        const tfx_opt *o = &cmd->opts[k];
        int w = (int)strlen(o->name) + (o->value ? 1 + (int)strlen(o->value) : 0);
        width = w > width ? w : width;
    }
    fprintf(out, "usage: tfx %s%s%s%s\n\n%s", cmd->name, cmd->args ? " " : "", cmd->args ? cmd->args : "",
            cmd->usage_tail ? cmd->usage_tail : (cmd->n_opts ? " [options]" : ""), cmd->about);
    if (cmd->n_opts)
        fputs("\noptions:\n", out);
    for (size_t k = 0; k < cmd->n_opts; k++) {
        const tfx_opt *o = &cmd->opts[k];
        char head[128], doc[1024];
        tfx_text(head, sizeof head, "%s%s%s", o->name, o->value ? " " : "", o->value ? o->value : "");
        describe(o, doc, sizeof doc);
        fprintf(out, "  %-*s  ", width, head);
        print_wrapped(out, doc, width + 4);
    }
    if (cmd->example)
        fprintf(out, "\nexample:\n  %s\n", cmd->example);
    return ferror(out) ? -1 : 0;
}
