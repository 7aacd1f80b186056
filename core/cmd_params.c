/* core/cmd_params.c — `tfx params RECIPE...`: exact parameter counts per component and layer,
 * computed from the declared tensors without allocating any weights. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: tfx params RECIPE... [--format text|markdown|csv|json] [--set key=value]...\n"
    "\n"
    "Count the parameters of each recipe, per component (embedding, position, attention,\n"
    "ffn, norm, pooler, head), per layer and in total; tied tensors are counted once. Then\n"
    "memory (weights by dtype, KV cache, activations, mixed-precision training) and FLOPs,\n"
    "each with its formula. No weights are allocated, so any size is counted at once.\n"
    "\n"
    "  --format F       text (default), markdown, csv or json\n"
    "  --shapes         list every tensor's shape, and each component's output shape for\n"
    "                   --batch and --context, instead of the counts\n"
    "  --set key=value  override a recipe key (dotted path), for every recipe\n"
    TFX_CLI_ESTIMATE_HELP;

int tfx_cmd_params(int argc, char **argv)
{
    tfx_cli_common c = {.estimate = {.fp32_grads = true}};
    tfx_error err = {{0}};
    bool shapes = false;
    int parsed = tfx_cli_parse(&c, argc, argv, usage, "--shapes", &shapes, 1, TFX_MAX_FILES);
    if (parsed != TFX_CLI_PROCEED)
        return parsed;
    tfx_registry *reg = tfx_cli_registry(&err);
    if (!reg)
        return tfx_cli_error(&err);
    tfx_loaded *loaded[TFX_MAX_FILES] = {0};
    tfx_params_item items[TFX_MAX_FILES];
    int n = 0, status = 0;
    for (; n < c.n_files; n++) {
        loaded[n] = tfx_load(c.files[n], c.sets, c.n_sets, reg, &err);
        if (!loaded[n] || tfx_cli_item(&c, c.files[n], loaded[n], &items[n], &err)) {
            status = tfx_cli_error(&err);
            break;
        }
    }
    for (int i = 0; status == 0 && shapes && i < n; i++)
        if (tfx_report_shapes(stdout, c.format, &items[i], &err))
            status = err.msg[0] ? tfx_cli_error(&err) : 1;
    if (status == 0 && !shapes && tfx_report_params(stdout, c.format, items, n))
        status = 1;
    for (int i = 0; i <= n && i < c.n_files; i++)
        tfx_loaded_free(loaded[i]);
    tfx_registry_free(reg);
    return status;
}
