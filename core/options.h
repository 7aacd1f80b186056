/* core/options.h — a command's options declared as a table (name, type, range, default, one line
 * of doc, where the value goes) that one parser uses for parsing, checking and --help. */
#ifndef TFX_CORE_OPTIONS_H
#define TFX_CORE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

typedef enum tfx_opt_kind {
    TFX_ARG_FLAG,                 /* no value: stores true (false with .clears) in a bool */
    TFX_ARG_INT,                  /* an integer in [min, max], into an int or an int64_t */
    TFX_ARG_FLOAT,                /* a number in [fmin, fmax], into a double */
    TFX_ARG_ENUM,                 /* one of .choices: its index (or .values[index]), into an int */
    TFX_ARG_STRING,               /* a string or a path, into a const char * */
    TFX_ARG_LIST,                 /* repeatable: each value appended to a char *[max] beside an int count */
} tfx_opt_kind;

/* One option of a command. Where the value goes: .at (offsetof in the command's struct) and
 * .size (sizeof that member); a list's count goes to .count_at (an int). */
typedef struct tfx_opt {
    const char *name;             /* "--threads" */
    tfx_opt_kind kind;
    const char *value;            /* the value's name in --help: "N", "FILE" */
    const char *doc;              /* one line */
    const char *def;              /* the default, applied before parsing and shown in --help */
    const char *def_doc;          /* a default said in words only ("all cores"), or NULL */
    int64_t min, max;             /* TFX_ARG_INT; TFX_ARG_LIST: max is the most values */
    double fmin, fmax;            /* TFX_ARG_FLOAT */
    const char *const *choices;   /* TFX_ARG_ENUM, NULL-terminated */
    const int *values;            /* TFX_ARG_ENUM: the value of each choice, or NULL (the index) */
    bool clears;                  /* TFX_ARG_FLAG: stores false */
    bool required;                /* the command needs it */
    size_t at, size, count_at;
} tfx_opt;

/* .at and .size of member `field` of struct `type`. */
#define TFX_AT(type, field) .at = offsetof(type, field), .size = sizeof(((type *)0)->field)

/* A command: its positional arguments and its options. */
typedef struct tfx_command_spec {
    const char *name;             /* "run": messages say "tfx run" */
    const char *args;             /* the positional arguments' name in the usage: "RECIPE" */
    int min_args, max_args;
    const char *usage_tail;       /* after the name and args in the usage line, or NULL */
    const char *about;            /* the paragraph after the usage line */
    const char *example;          /* printed last, or NULL */
    const tfx_opt *opts;
    size_t n_opts;
} tfx_command_spec;

/* .args, .min_args and .max_args of a command spec. */
#define TFX_ARGS(name_, min_, max_) .args = (name_), .min_args = (min_), .max_args = (max_)

/* .opts and .n_opts of a command spec: the table `opts` (an array). */
#define TFX_OPTIONS_OF(opts_) .opts = (opts_), .n_opts = sizeof(opts_) / sizeof(opts_)[0]

/* Where positional arguments go: add one (returns 0 or -1 with err set). */
typedef int (*tfx_arg_fn)(void *dst, const char *arg, tfx_error *err);

#define TFX_OPTIONS_PROCEED (-1)

/* Parse argv[1..argc) into dst by the command's table: defaults first, then each option, each
 * positional argument through take_arg, then the counts and required options. Returns
 * TFX_OPTIONS_PROCEED, 0 after printing --help to stdout, or 1 with err set. */
int tfx_options_parse(const tfx_command_spec *cmd, int argc, char **argv, void *dst,
                      tfx_arg_fn take_arg, tfx_error *err);

/* The command's --help, every option line made from its table, aligned. */
int tfx_options_help(const tfx_command_spec *cmd, FILE *out);

/* An integer `text` in [lo, hi], as every integer option reads one; -1 with err set to
 * "OPT expects an integer between LO and HI, got 'TEXT'". */
int tfx_options_int(const char *opt, const char *text, int64_t lo, int64_t hi, int64_t *out,
                    tfx_error *err);

#endif
