/* core/cmd_plugins.c — `tfx plugins`: what is installed, its kind, options and file, and what
 * was skipped and why (on stderr). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: tfx plugins [--format text|markdown|csv|json]\n"
    "\n"
    "List the installed plugins by kind: name, summary, the file each came from, and its\n"
    "options (type, default, doc). Search path: the build tree's plugins/ folder, each folder\n"
    "of $TFX_PLUGIN_PATH (colon-separated), then the install prefix.\n";

int tfx_cmd_plugins(int argc, char **argv)
{
    tfx_cli_common c = {0};
    tfx_error err = {{0}};
    int parsed = tfx_cli_parse(&c, argc, argv, usage, NULL, NULL, 0, 0);
    if (parsed != TFX_CLI_PROCEED)
        return parsed;
    tfx_registry *reg = tfx_cli_registry(&err);
    if (!reg)
        return tfx_cli_error(&err);
    int status = tfx_report_plugins(stdout, c.format, reg) ? 1 : 0;
    tfx_registry_free(reg);
    return status;
}
