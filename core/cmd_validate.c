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
    .name = "validate", .args = "RECIPE...", .min_args = 1, .max_args = TFX_MAX_FILES,
    .about = "Check each recipe: YAML, keys, value types, plugins and their options, sizes, and every\n"
             "tensor the plugins declare. Prints nothing for a good recipe; for a bad one, every error\n"
             "found, each with file:line:col. Exit status 1 when any recipe is bad.\n",
    .opts = options, .n_opts = sizeof options / sizeof options[0],
};

int tfx_cmd_validate(int argc, char **argv)
{
    validate_opts o = {0};
    const tfx_cli_common *const c = &o.common;
    tfx_error err = {{0}};
    int parsed = tfx_cli_options(&spec, argc, argv, &o);
    if (parsed != TFX_CLI_PROCEED)
        return parsed;
    tfx_registry *reg = tfx_cli_registry(&err);
    if (!reg)
        return tfx_cli_error(&err);
    int status = 0;
    for (int i = 0; i < c->n_files; i++) {
        tfx_loaded *l = tfx_load(c->files[i], c->sets, c->n_sets, reg, &err);
        if (!l)
            status = tfx_cli_error(&err);
        tfx_loaded_free(l);
    }
    tfx_registry_free(reg);
    return status;
}
