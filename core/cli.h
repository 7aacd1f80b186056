/* core/cli.h — what every `tfx` command shares: its options table parsing, opening the plugin
 * registry (with skipped-plugin warnings on stderr), and printing an error once. */
#ifndef TFX_CORE_CLI_H
#define TFX_CORE_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "registry.h"
#include "estimate.h"
#include "load.h"
#include "report.h"

#define TFX_MAX_SETS 64
#define TFX_MAX_FILES 256

/* Options common to the commands that read recipes. */
typedef struct tfx_cli_common {
    char *sets[TFX_MAX_SETS];     /* --set key=value, in order */
    int n_sets;
    tfx_format format;            /* --format */
    char *files[TFX_MAX_FILES];   /* positional arguments (or the recipe a name resolved to) */
    char resolved[TFX_MAX_FILES][512]; /* storage for names resolved to shipped recipes */
    int n_files;
    tfx_estimate_opts estimate;   /* --batch, --context, --kv-dtype, --no-fp32-grads */
} tfx_cli_common;

/* Take argv[*i] (and its value) if it is --set, --format or an estimate option; returns 1 when
 * taken, 0 when not one of them, -1 with err set on a bad value. */
int tfx_cli_take_common(tfx_cli_common *c, int argc, char **argv, int *i, tfx_error *err);

#define TFX_CLI_PROCEED (-1)

/* Parse a command's arguments: --help prints `usage`, the common options, `flag` (a boolean
 * option such as "--shapes", or NULL) into *flag_set, and files, of which there must be
 * `min_files` to `max_files`. Returns TFX_CLI_PROCEED, or the exit status to return now
 * (having printed help, usage or the error). */
int tfx_cli_parse(tfx_cli_common *c, int argc, char **argv, const char *usage, const char *flag,
                  bool *flag_set, int min_files, int max_files);

/* A positional argument; -1 with err set when there are too many or it looks like an option.
 * A name that is not a file but names a shipped recipe ("gpt2", "variants/gpt2-rope") becomes
 * that recipe's path: the build tree's recipes/, then the install prefix's. */
int tfx_cli_take_file(tfx_cli_common *c, const char *arg, tfx_error *err);

/* The shipped recipe called `name` (with or without .yaml) into out: the build tree's recipes/,
 * then the install prefix's. Returns 1 when found, 0 when not. */
int tfx_cli_shipped_recipe(const char *name, char *out, size_t cap);

/* The limits of tfx run's options, which compare --run checks before it starts any run. */
#define TFX_MAX_TOKENS 65536      /* --prompt-len, --generate, token lists */
#define TFX_MAX_THREADS 1024      /* --threads */

/* An integer option's value within [lo, hi]; -1 with err set to
 * "OPT expects an integer between LO and HI, got 'TEXT'". */
int tfx_cli_int(const char *opt, const char *text, int64_t lo, int64_t hi, int64_t *out,
                tfx_error *err);

/* The value of an option that needs one: argv[++*i], or NULL with err set. */
const char *tfx_cli_value(int argc, char **argv, int *i, tfx_error *err);

/* The weights' --dtype: "fp32" or "bf16" (*bf16 says which); -1 with err set on anything else. */
int tfx_cli_dtype(const char *value, bool *bf16, tfx_error *err);

/* Help text for the estimate options, shared by the commands that take them. */
#define TFX_CLI_ESTIMATE_HELP                                                                    \
    "  --batch B        sequences at once for memory figures (default 1)\n"                      \
    "  --context N      tokens per sequence for memory and FLOPs (default: the model's)\n"       \
    "  --kv-dtype T     KV-cache element: fp16 (default), bf16, fp32 or int8\n"                  \
    "  --no-fp32-grads  count training as ZeRO does, 16 bytes per parameter instead of 20\n"

/* Fill item with the figures of one loaded recipe under c->estimate. Returns 0 or -1. */
int tfx_cli_item(const tfx_cli_common *c, const char *path, const tfx_loaded *l,
                 tfx_params_item *item, tfx_error *err);

/* Open the registry along the default search path; prints skipped plugins as warnings. */
tfx_registry *tfx_cli_registry(tfx_error *err);

/* Print "tfx: <message>" to stderr; returns the exit status for errors (1). */
int tfx_cli_error(const tfx_error *err);

int tfx_cmd_params(int argc, char **argv);
int tfx_cmd_plugins(int argc, char **argv);
int tfx_cmd_validate(int argc, char **argv);
int tfx_cmd_run(int argc, char **argv);
int tfx_cmd_compare(int argc, char **argv);
int tfx_cmd_import(int argc, char **argv);
int tfx_cmd_grad(int argc, char **argv);
int tfx_cmd_train(int argc, char **argv);
int tfx_cmd_eval(int argc, char **argv);

/* The parsers of run and compare alone, with nothing run (for tests/fuzz/fuzz_cli.c): run's
 * returns 0 or -1 with err set; compare's TFX_CLI_PROCEED or the exit status it would return. */
int tfx_cmd_run_parse(int argc, char **argv, tfx_error *err);
int tfx_cmd_compare_parse(int argc, char **argv, tfx_error *err);

#endif
