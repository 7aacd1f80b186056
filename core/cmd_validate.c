/* core/cmd_validate.c — `tfx validate FILE...`: checks recipes completely (keys, types,
 * plugins, options, sizes, declared tensors) and prints nothing but errors. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "load.h"

typedef struct validate_opts {
    tfx_cli_common common;        /* first: the recipes go here */
} validate_opts;

static const tfx_opt options[] = {
    TFX_OPT_SET(validate_opts, common.sets, common.n_sets),
};

static const tfx_command_spec spec = {
    .name = "validate", TFX_ARGS("RECIPE...", 1, TFX_MAX_FILES),
    .about = "Check each recipe: YAML, keys, value types, plugins and their options, sizes, and every\n"
             "tensor the plugins declare. Prints nothing for a good recipe; for a bad one, every error\n"
             "found, each with file:line:col. Exit status 1 when any recipe is bad.\n",
    TFX_OPTIONS_OF(options),
};

int tfx_cmd_validate(int argc, char **argv)
{
    validate_opts o = {0};
    tfx_registry *reg;
    int status = tfx_cli_start(&spec, argc, argv, &o, &reg);
    if (status != TFX_CLI_PROCEED)
        return status;
    status = 0;
    for (int i = 0; i < o.common.n_files; i++) {
        tfx_error err = {{0}};
        tfx_loaded *l = tfx_load(o.common.files[i], o.common.sets, o.common.n_sets, reg, &err);
        if (!l)
            status = tfx_cli_error(&err);
        tfx_loaded_free(l);
    }
    tfx_registry_free(reg);
    return status;
}
