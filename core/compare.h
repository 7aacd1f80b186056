/* core/compare.h — the comparison table of several configurations: its columns, its rows (one
 * spelling shared by every format), and the SVG chart drawn from it. */
#ifndef TFX_CORE_COMPARE_H
#define TFX_CORE_COMPARE_H

#include <stdio.h>

#include "load.h"
#include "report.h"

typedef struct tfx_compare_column {
    char label[512];              /* the sweep assignments that made it, or "" */
    tfx_loaded *loaded;           /* owned */
    tfx_params_item item;
} tfx_compare_column;

/* Print the columns side by side with the difference to the first. Returns 0 or -1. */
int tfx_report_compare(FILE *out, tfx_format fmt, const tfx_compare_column *cols, int n);

/* Write an SVG chart of the columns (parameters by component, memory, FLOPs per token). */
int tfx_compare_svg(const char *path, const tfx_compare_column *cols, int n, tfx_error *err);

#endif
