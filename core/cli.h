/* core/cli.h — what every `tfx` command shares: the options several of them take (declared once),
 * recipes as positional arguments, opening the plugin registry, and printing an error once. */
#ifndef TFX_CORE_CLI_H
#define TFX_CORE_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "registry.h"
#include "estimate.h"
#include "load.h"
#include "options.h"
#include "report.h"

#define TFX_MAX_SETS 64
#define TFX_MAX_FILES 256

/* What the commands that read recipes share; the first member of each command's options, so
 * that tfx_cli_take_arg can file positional arguments into it. */
typedef struct tfx_cli_common {
    char *sets[TFX_MAX_SETS];     /* --set key=value, in order */
    int n_sets;
    tfx_format format;            /* --format */
    char *files[TFX_MAX_FILES];   /* positional arguments (or the recipe a name resolved to) */
    char resolved[TFX_MAX_FILES][512]; /* storage for names resolved to shipped recipes */
    int n_files;
    tfx_estimate_opts estimate;   /* --batch, --context, --kv-dtype, --no-fp32-grads */
} tfx_cli_common;

#define TFX_CLI_PROCEED TFX_OPTIONS_PROCEED

/* Parse a command's arguments by its table into dst (whose first member is a tfx_cli_common),
 * positional arguments as recipes. Returns TFX_CLI_PROCEED, or the exit status to return now
 * (0 after --help; 1 after printing the error). */
int tfx_cli_options(const tfx_command_spec *cmd, int argc, char **argv, void *dst);

/* tfx_cli_options, then the plugin registry into *reg (tfx_cli_registry). Returns
 * TFX_CLI_PROCEED with *reg open (the caller frees it), or the exit status with *reg NULL. */
int tfx_cli_start(const tfx_command_spec *cmd, int argc, char **argv, void *dst, tfx_registry **reg);

/* tfx_arg_fn for dst whose first member is a tfx_cli_common: tfx_cli_take_file. */
int tfx_cli_take_arg(void *dst, const char *arg, tfx_error *err);

/* The limits of tfx run's options, which compare --run checks before it starts any run. */
#define TFX_MAX_TOKENS 65536      /* --prompt-len, --generate, token lists */
#define TFX_MAX_THREADS 1024      /* --threads */

/* The choices of --format (in tfx_format's order), --kv-dtype (with their bytes) and --dtype. */
extern const char *const tfx_cli_formats[];
extern const char *const tfx_cli_kv_dtypes[];
extern const int tfx_cli_kv_bytes[];
extern const char *const tfx_cli_dtypes[];

/* ---- options several commands take, each declared once ------------------------------------ */
/* Each names the command's struct `type` and the member its value goes to. */

#define TFX_OPT_SET(type, list, count)                                                            \
    {"--set", TFX_ARG_LIST, "key=value", "override a recipe key (a dotted path); repeatable",     \
     .max = TFX_MAX_SETS, TFX_AT(type, list), .count_at = offsetof(type, count)}
#define TFX_OPT_FORMAT(type, field)                                                               \
    {"--format", TFX_ARG_ENUM, "F", "the report's format", .def = "text",                         \
     .choices = tfx_cli_formats, TFX_AT(type, field)}
#define TFX_OPTS_COMMON(type)                                                                     \
    TFX_OPT_SET(type, common.sets, common.n_sets), TFX_OPT_FORMAT(type, common.format)
#define TFX_OPTS_ESTIMATE(type)                                                                   \
    {"--batch", TFX_ARG_INT, "B", "sequences at once for memory figures", .def = "1", .min = 1,   \
     .max = INT32_MAX, TFX_AT(type, common.estimate.batch)},                                      \
    {"--context", TFX_ARG_INT, "N", "tokens per sequence for memory and FLOPs",                  \
     .def_doc = "the model's", .min = 1, .max = INT32_MAX, TFX_AT(type, common.estimate.context)},\
    {"--kv-dtype", TFX_ARG_ENUM, "T", "the KV cache's element", .def = "fp16",                    \
     .choices = tfx_cli_kv_dtypes, .values = tfx_cli_kv_bytes,                                    \
     TFX_AT(type, common.estimate.kv_bytes)},                                                     \
    {"--no-fp32-grads", TFX_ARG_FLAG, NULL,                                                       \
     "count training as ZeRO does, 16 bytes per parameter instead of 20", .clears = true,         \
     TFX_AT(type, common.estimate.fp32_grads)}
#define TFX_OPT_THREADS(type, field, doc)                                                         \
    {"--threads", TFX_ARG_INT, "N", doc, .def_doc = "all cores", .min = 1,                        \
     .max = TFX_MAX_THREADS, TFX_AT(type, field)}
#define TFX_OPT_PROMPT_LEN(type, field, doc, def_)                                                \
    {"--prompt-len", TFX_ARG_INT, "N", doc, .def = def_, .min = 1, .max = TFX_MAX_TOKENS,         \
     TFX_AT(type, field)}
#define TFX_OPT_GENERATE(type, field, doc, def_)                                                  \
    {"--generate", TFX_ARG_INT, "N", doc, .def = def_, .min = 0, .max = TFX_MAX_TOKENS,           \
     TFX_AT(type, field)}
#define TFX_OPT_DTYPE(type, field, doc)                                                           \
    {"--dtype", TFX_ARG_ENUM, "T", doc, .def = "fp32", .choices = tfx_cli_dtypes,                 \
     TFX_AT(type, field)}
#define TFX_OPT_SEED(type, field, doc)                                                            \
    {"--seed", TFX_ARG_INT, "S", doc, .def = "1", .min = 0, .max = INT64_MAX, TFX_AT(type, field)}
#define TFX_OPT_CHECKPOINT(type, field, doc)                                                      \
    {"--checkpoint", TFX_ARG_STRING, "FILE", doc, TFX_AT(type, field)}

/* A positional argument; -1 with err set when there are too many.
 * A name that is not a file but names a shipped recipe ("gpt2", "variants/gpt2-rope") becomes
 * that recipe's path: the build tree's recipes/, then the install prefix's. */
int tfx_cli_take_file(tfx_cli_common *c, const char *arg, tfx_error *err);

/* The shipped recipe called `name` (with or without .yaml) into out: the build tree's recipes/,
 * then the install prefix's. Returns 1 when found, 0 when not. */
int tfx_cli_shipped_recipe(const char *name, char *out, size_t cap);

/* Fill item with the figures of one loaded recipe under c->estimate. Returns 0 or -1. */
int tfx_cli_item(const tfx_cli_common *c, const char *path, const tfx_loaded *l,
                 tfx_params_item *item, tfx_error *err);

/* Open the registry along the default search path; prints skipped plugins as warnings. */
tfx_registry *tfx_cli_registry(tfx_error *err);

/* Print "tfx: <message>" to stderr, a line for each line of the message; returns the exit
 * status for errors (1). */
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
