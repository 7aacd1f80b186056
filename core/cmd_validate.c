/* core/cmd_validate.c — `tfx validate FILE...`: checks recipes completely (keys, types,
 * plugins, options, sizes, declared tensors) and prints nothing but errors. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "load.h"

static const char usage[] =
    "usage: tfx validate RECIPE... [--set key=value]...\n"
    "\n"
    "Check each recipe: YAML, keys, value types, plugins and their options, sizes, and every\n"
    "tensor the plugins declare. Prints nothing for a good recipe; for a bad one, the error\n"
    "with file:line:col. Exit status 1 when any recipe is bad.\n";

int tfx_cmd_validate(int argc, char **argv)
{
    tfx_cli_common c = {0};
    tfx_error err = {{0}};
    int parsed = tfx_cli_parse(&c, argc, argv, usage, NULL, NULL, 1, TFX_MAX_FILES);
    if (parsed != TFX_CLI_PROCEED)
        return parsed;
    tfx_registry *reg = tfx_cli_registry(&err);
    if (!reg)
        return tfx_cli_error(&err);
    int status = 0;
    for (int i = 0; i < c.n_files; i++) {
        tfx_loaded *l = tfx_load(c.files[i], c.sets, c.n_sets, reg, &err);
        if (!l)
            status = tfx_cli_error(&err);
        tfx_loaded_free(l);
    }
    tfx_registry_free(reg);
    return status;
}
