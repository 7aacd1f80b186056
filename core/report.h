/* core/report.h — what tfx prints: parameter tables and the plugin list, in text, markdown,
 * CSV or JSON. Reports only format; every figure is computed elsewhere. */
#ifndef TFX_CORE_REPORT_H
#define TFX_CORE_REPORT_H

#include <stdio.h>

#include "accounting.h"
#include "estimate.h"
#include "load.h"
#include "registry.h"

typedef enum tfx_format {
    TFX_FORMAT_TEXT,
    TFX_FORMAT_MARKDOWN,
    TFX_FORMAT_CSV,
    TFX_FORMAT_JSON,
} tfx_format;

/* Parse "text" / "markdown" / "csv" / "json"; -1 when unknown. */
int tfx_format_from_name(const char *name);

/* One recipe's parameter figures, ready to print. */
typedef struct tfx_params_item {
    const char *path;
    const tfx_loaded *loaded;
    const tfx_counts *counts;
    tfx_estimate_opts opts;       /* batch and context the figures below are for */
    tfx_memory memory;
    tfx_flops flops;
} tfx_params_item;

/* Print the parameter report of n recipes. JSON: one object for one recipe, an array for
 * several. Returns 0, or -1 when writing fails. */
int tfx_report_params(FILE *out, tfx_format fmt, const tfx_params_item *items, int n);

/* Print every declared tensor's shape and each component's output shape for the item's
 * batch and context (`tfx params --shapes`). Returns -1 with err set when a plugin reports an
 * out-of-range size (before anything is printed); -1 alone when the write fails. */
int tfx_report_shapes(FILE *out, tfx_format fmt, const tfx_params_item *item, tfx_error *err);

/* Print the installed plugins: kind, name, summary, file, options with types and defaults. */
int tfx_report_plugins(FILE *out, tfx_format fmt, const tfx_registry *reg);

/* The memory and flops JSON objects of an item (new references). */
typedef struct json_t json_t;
json_t *tfx_json_estimates(const tfx_params_item *it, json_t **flops);

/* 1234567 → "1,234,567" into buf; returns buf. */
char *tfx_group_digits(char *buf, size_t cap, int64_t v);

#endif
