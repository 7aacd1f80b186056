/* core/cmd_params.c — `tfx params RECIPE...`: exact parameter counts per component and layer,
 * computed from the declared tensors without allocating any weights. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct params_opts {
    tfx_cli_common common;        /* first: the recipes go here */
    bool shapes;
} params_opts;

static const tfx_opt options[] = {
    TFX_OPT_FORMAT(params_opts, common.format),
    {"--shapes", TFX_ARG_FLAG, NULL, "list every tensor's shape, and each component's output shape for "
     "--batch and --context, instead of the counts", TFX_AT(params_opts, shapes)},
    TFX_OPT_SET(params_opts, common.sets, common.n_sets),
    TFX_OPTS_ESTIMATE(params_opts),
};

static const tfx_command_spec spec = {
    .name = "params", TFX_ARGS("RECIPE...", 1, TFX_MAX_FILES),
    .about = "Count the parameters of each recipe, per component (embedding, position, attention,\n"
             "ffn, norm, pooler, head), per layer and in total; tied tensors are counted once. Then\n"
             "memory (weights by dtype, KV cache, activations, mixed-precision training) and FLOPs,\n"
             "each with its formula. No weights are allocated, so any size is counted at once.\n",
    TFX_OPTIONS_OF(options),
};

int tfx_cmd_params(int argc, char **argv)
{
    params_opts o = {0};
    tfx_cli_common *const c = &o.common;
    tfx_error err = {{0}};
    tfx_registry *reg;
    int started = tfx_cli_start(&spec, argc, argv, &o, &reg);
    if (started != TFX_CLI_PROCEED)
        return started;
    const bool shapes = o.shapes;
    tfx_loaded *loaded[TFX_MAX_FILES] = {0};
    tfx_params_item items[TFX_MAX_FILES];
    int n = 0, status = 0;
    for (; n < c->n_files; n++) {
        loaded[n] = tfx_load(c->files[n], c->sets, c->n_sets, reg, &err);
        if (!loaded[n] || tfx_cli_item(c, c->files[n], loaded[n], &items[n], &err)) {
            status = tfx_cli_error(&err);
            break;
        }
    }
    for (int i = 0; status == 0 && shapes && i < n; i++)
        if (tfx_report_shapes(stdout, c->format, &items[i], &err))
            status = err.msg[0] ? tfx_cli_error(&err) : 1;
    if (status == 0 && !shapes && tfx_report_params(stdout, c->format, items, n, &err))
        status = tfx_cli_error(&err);
    for (int i = 0; i <= n && i < c->n_files; i++)
        tfx_loaded_free(loaded[i]);
    tfx_registry_free(reg);
    return status;
}
