/* core/cmd_plugins.c — `tfx plugins`: what is installed, its kind, options and file, and what
 * was skipped and why (on stderr). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct plugins_opts {
    tfx_cli_common common;
} plugins_opts;

static const tfx_opt options[] = {
    TFX_OPT_FORMAT(plugins_opts, common.format),
};

static const tfx_command_spec spec = {
    .name = "plugins", TFX_ARGS(NULL, 0, 0),
    .about = "List the installed plugins by kind: name, summary, the file each came from, and its\n"
             "options (type, default, doc). Search path: the build tree's plugins/ folder, each folder\n"
             "of $TFX_PLUGIN_PATH (colon-separated), then the install prefix.\n",
    TFX_OPTIONS_OF(options),
};

int tfx_cmd_plugins(int argc, char **argv)
{
    plugins_opts o = {0};
    tfx_registry *reg;
    int status = tfx_cli_start(&spec, argc, argv, &o, &reg);
    if (status != TFX_CLI_PROCEED)
        return status;
    status = tfx_report_plugins(stdout, o.common.format, reg) ? 1 : 0;
    tfx_registry_free(reg);
    return status;
}
