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

/* params, validate and plugins share tfx_cli_parse; params' --set go through a recipe. */
static void common_parsers(int pick, int argc, char **argv)
{
    static tfx_cli_common c;
    memset(&c, 0, sizeof c);
    bool shapes = false;
    int parsed = pick == 0   ? tfx_cli_parse(&c, argc, argv, "", "--shapes", &shapes, 1, TFX_MAX_FILES)
                 : pick == 1 ? tfx_cli_parse(&c, argc, argv, "", NULL, NULL, 1, TFX_MAX_FILES)
                             : tfx_cli_parse(&c, argc, argv, "", NULL, NULL, 0, 0);
    if (parsed != TFX_CLI_PROCEED || c.n_sets == 0)
        return;
    tfx_error err;
    tfx_loaded *l = tfx_load(TFX_SOURCE_DIR "/tests/data/hf/gpt2/recipe.yaml", c.sets, c.n_sets, reg, &err);
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
