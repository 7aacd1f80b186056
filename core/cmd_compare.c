/* core/cmd_compare.c — `tfx compare`: recipes (and --sweep expansions of them) in columns,
 * side by side — dims, parameters, memory, FLOPs — with the difference to the first column. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compare.h"

#define MAX_SWEEPS 8
#define MAX_COLUMNS 64

static const char usage[] =
    "usage: tfx compare RECIPE... [--sweep key=v1,v2,...]... [--set key=value]... [options]\n"
    "\n"
    "Put recipes side by side: dimensions, parameters per component, memory and FLOPs, with\n"
    "the difference to the first column. --sweep expands each recipe into a column per value\n"
    "(several --sweep options: every combination).\n"
    "\n"
    "  --sweep key=a,b  one column per value of a recipe key (repeatable: the product)\n"
    "  --set key=value  override a recipe key in every column\n"
    "  --format F       text (default), markdown, csv or json\n"
    "  --svg FILE       also draw the comparison as an SVG chart\n"
    TFX_CLI_ESTIMATE_HELP
    "\n"
    "example:\n"
    "  tfx compare recipes/gpt2.yaml --sweep position.plugin=learned,rope,alibi --sweep d_model=768,1024\n";

typedef struct sweep {
    char key[128];
    char *values[MAX_COLUMNS];
    int n;
    char *storage;
} sweep;

static int parse_sweep(const char *arg, sweep *s, tfx_error *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof s->key)
        return tfx_fail(err, "--sweep '%s': expected key=value1,value2,...", arg);
    snprintf(s->key, sizeof s->key, "%.*s", (int)(eq - arg), arg);
    if (!(s->storage = strdup(eq + 1)))
        return tfx_fail(err, "out of memory");
    char *save = NULL;
    for (char *v = strtok_r(s->storage, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
        if (s->n == MAX_COLUMNS)
            return tfx_fail(err, "--sweep '%s': more than %d values", arg, MAX_COLUMNS);
        s->values[s->n++] = v;
    }
    if (s->n == 0)
        return tfx_fail(err, "--sweep '%s': no values", arg);
    return 0;
}

/* Build one column: the recipe with the global --set and this combination of sweep values. */
static int build_column(const tfx_cli_common *c, const char *path, const sweep *sweeps,
                        int n_sweeps, const int *choice, const tfx_registry *reg,
                        tfx_compare_column *col, tfx_error *err)
{
    char *sets[TFX_MAX_SETS + MAX_SWEEPS];
    char assign[MAX_SWEEPS][1024];
    int n = 0;
    for (int i = 0; i < c->n_sets; i++)
        sets[n++] = c->sets[i];
    col->label[0] = '\0';
    for (int k = 0; k < n_sweeps; k++) {
        snprintf(assign[k], sizeof assign[k], "%.120s=%.800s", sweeps[k].key, sweeps[k].values[choice[k]]);
        sets[n++] = assign[k];
        snprintf(col->label + strlen(col->label), sizeof col->label - strlen(col->label), "%s%s",
                 k ? " " : "", assign[k]);
    }
    col->loaded = tfx_load(path, sets, n, reg, err);
    if (!col->loaded)
        return -1;
    return tfx_cli_item(c, path, col->loaded, &col->item, err);
}

static void free_columns(tfx_compare_column *cols, int n)
{
    for (int i = 0; i < n; i++)
        tfx_loaded_free(cols[i].loaded);
}

/* Columns for every recipe × every combination of sweep values (odometer order). */
static int build_columns(const tfx_cli_common *c, const sweep *sweeps, int n_sweeps,
                         const tfx_registry *reg, tfx_compare_column *cols, int *n_cols,
                         tfx_error *err)
{
    *n_cols = 0;
    for (int f = 0; f < c->n_files; f++) {
        int choice[MAX_SWEEPS] = {0};
        for (;;) {
            if (*n_cols == MAX_COLUMNS)
                return tfx_fail(err, "more than %d columns", MAX_COLUMNS);
            if (build_column(c, c->files[f], sweeps, n_sweeps, choice, reg, &cols[*n_cols], err))
                return -1;
            (*n_cols)++;
            int k = n_sweeps - 1;
            while (k >= 0 && ++choice[k] == sweeps[k].n)
                choice[k--] = 0;
            if (k < 0)
                break;
        }
    }
    return 0;
}

int tfx_cmd_compare(int argc, char **argv)
{
    tfx_cli_common c = {.estimate = {.fp32_grads = true}};
    tfx_error err = {{0}};
    sweep sweeps[MAX_SWEEPS];
    int n_sweeps = 0, n_cols = 0, status = 1;
    const char *svg = NULL;
    tfx_compare_column *cols = calloc(MAX_COLUMNS, sizeof *cols);
    tfx_registry *reg = NULL;
    memset(sweeps, 0, sizeof sweeps);
    if (!cols) {
        tfx_fail(&err, "out of memory");
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            status = 0;
            goto out;
        }
        if (strcmp(argv[i], "--svg") == 0) {
            if (!(svg = tfx_cli_value(argc, argv, &i, &err)))
                goto out;
            continue;
        }
        if (strcmp(argv[i], "--sweep") == 0) {
            const char *v = tfx_cli_value(argc, argv, &i, &err);
            if (!v)
                goto out;
            if (n_sweeps == MAX_SWEEPS) {
                tfx_fail(&err, "at most %d --sweep options", MAX_SWEEPS);
                goto out;
            }
            if (parse_sweep(v, &sweeps[n_sweeps++], &err))
                goto out;
            continue;
        }
        int taken = tfx_cli_take_common(&c, argc, argv, &i, &err);
        if (taken < 0 || (!taken && tfx_cli_take_file(&c, argv[i], &err)))
            goto out;
    }
    if (c.n_files == 0) {
        fputs(usage, stderr);
        status = 2;
        goto out;
    }
    if (!(reg = tfx_cli_registry(&err)) ||
        build_columns(&c, sweeps, n_sweeps, reg, cols, &n_cols, &err))
        goto out;
    if (tfx_report_compare(stdout, c.format, cols, n_cols)) {
        tfx_fail(&err, "cannot write the comparison");
        goto out;
    }
    if (svg && tfx_compare_svg(svg, cols, n_cols, &err))
        goto out;
    status = 0;
out:
    if (status == 1)
        tfx_cli_error(&err);
    if (cols)
        free_columns(cols, n_cols);
    free(cols);
    for (int k = 0; k < n_sweeps; k++)
        free(sweeps[k].storage);
    tfx_registry_free(reg);
    return status;
}
