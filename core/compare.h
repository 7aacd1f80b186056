/* core/compare.h — the comparison table of several configurations: its columns, its rows (one
 * spelling shared by every format), and the SVG chart drawn from it. */
#ifndef TFX_CORE_COMPARE_H
#define TFX_CORE_COMPARE_H

#include <stdio.h>

#include "cli.h"
#include "load.h"
#include "report.h"

/* What `tfx compare --run` measured of one column (random weights, one process each). */
typedef struct tfx_run_figures {
    int measured;                 /* 0: not run, or failed (error says why) */
    int64_t prefill_tokens, decode_tokens;
    double prefill_tokens_per_s, decode_tokens_per_s, peak_rss_mib;
    char error[512];
} tfx_run_figures;

typedef struct tfx_compare_column {
    char label[512];              /* the sweep assignments that made it, or "" */
    tfx_loaded *loaded;           /* owned */
    tfx_params_item item;
    tfx_run_figures run;
} tfx_compare_column;

typedef struct tfx_compare_run_opts {
    int64_t prompt_len, generate;
    int threads;                  /* 0: tfx run's default */
    const char *dtype;            /* --dtype of tfx run, or NULL */
    bool check;                   /* pass --check to tfx run */
} tfx_compare_run_opts;

/* Run `tfx run` (this executable) on the recipe at `path` with `sets`, and fill col->run from
 * its JSON report. Returns 0, or -1 with col->run.error saying why (the child's message). */
int tfx_compare_measure(tfx_compare_column *col, const char *path, char *const *sets, int n_sets,
                        const tfx_compare_run_opts *o);

/* Print the columns side by side with the difference to the first; text in blocks of columns
 * that fit `width` (0: unlimited). Returns 0, or -1 with err set. */
int tfx_report_compare(FILE *out, tfx_format fmt, const tfx_compare_column *cols, int n, int width,
                       tfx_error *err);

/* One column's figures as a report document (initialised here; the caller frees it). */
typedef struct tfx_doc tfx_doc;
void tfx_doc_compare_column(tfx_doc *d, const tfx_compare_column *c);

/* Write an SVG chart of the columns (parameters by component, memory, FLOPs per token, and
 * measured speed after --run), TFX_CHART_WIDTH pixels wide and tfx_compare_svg_height tall. */
int tfx_compare_svg_height(int n_columns);
int tfx_compare_svg(const char *path, const tfx_compare_column *cols, int n, tfx_error *err);

#endif
