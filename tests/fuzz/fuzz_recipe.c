/* tests/fuzz/fuzz_recipe.c — libFuzzer target: arbitrary bytes as a recipe file, through the
 * YAML loader, --set, the spec checker against the shipped plugins, and model building. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"

static tfx_registry *reg;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *dirs[] = {TFX_PLUGIN_BUILD_DIR, NULL};
    tfx_error err;
    reg = tfx_registry_open(dirs, &err);
    snprintf(path, sizeof path, "/tmp/tfx-fuzz-recipe-%d.yaml", (int)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    tfx_error err;
    /* A few overrides exercise --set on whatever tree came out. */
    char *sets[] = {"layers=1", "attention.bias.qkv=false"};
    tfx_loaded *l = tfx_load(path, sets, size % 3 == 0 ? 2 : 0, reg, &err);
    tfx_loaded_free(l);
    return 0;
}
