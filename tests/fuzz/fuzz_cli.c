/* tests/fuzz/fuzz_cli.c — libFuzzer target: bytes as a whole argument vector (split at NUL
 * bytes; the first byte picks the command) through the commands' option parsers, and any
 * --set through a recipe and the spec checker. Nothing is run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "files.h"
#include "load.h"

#define MAX_ARGS 64

static tfx_registry *reg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char *dirs[] = {TFX_PLUGIN_BUILD_DIR, NULL};
    tfx_error err;
    reg = tfx_registry_open(dirs, &err);
    /* usage and errors the parsers print go nowhere (libFuzzer keeps its own stderr) */
    FILE *null = fopen("/dev/null", "w");
    if (null)
        stdout = stderr = null;
    return 0;
}

/* params, validate and plugins: the table parser over the options they share (a table like
 * params'); --set go through a recipe. */
typedef struct common_opts {
    tfx_cli_common common;
    bool shapes;
} common_opts;

static const tfx_opt common_table[] = {
    TFX_OPTS_COMMON(common_opts),
    TFX_OPTS_ESTIMATE(common_opts),
    {"--shapes", TFX_ARG_FLAG, NULL, "shapes", TFX_AT(common_opts, shapes)},
};

static void common_parsers(int pick, int argc, char **argv)
{
    static common_opts o;
    memset(&o, 0, sizeof o);
    tfx_command_spec spec = {.name = "params", .args = "RECIPE", .min_args = pick < 2,
                             .max_args = pick < 2 ? TFX_MAX_FILES : 0, .about = "",
                             .opts = common_table, .n_opts = sizeof common_table / sizeof common_table[0]};
    tfx_error err;
    int parsed = tfx_options_parse(&spec, argc, argv, &o, tfx_cli_take_arg, &err);
    if (parsed != TFX_OPTIONS_PROCEED || o.common.n_sets == 0)
        return;
    tfx_loaded *l = tfx_load(TFX_SOURCE_DIR "/tests/data/hf/gpt2/recipe.yaml", o.common.sets,
                             o.common.n_sets, reg, &err);
    tfx_loaded_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"params", "validate", "plugins", "run", "compare"};
    if (size == 0)
        return 0;
    int pick = data[0] % 5;
    char *text = malloc(size); /* the rest, NUL-terminated */
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *argv[MAX_ARGS + 1] = {(char *)names[pick]};
    int argc = 1;
    for (char *p = text; argc < MAX_ARGS && p < text + size - 1; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;
    tfx_error err;
    if (pick < 3)
        common_parsers(pick, argc, argv);
    else if (pick == 3)
        tfx_cmd_run_parse(argc, argv, &err);
    else
        tfx_cmd_compare_parse(argc, argv, &err);
    tfx_inputs_forget();
    free(text);
    return 0;
}
