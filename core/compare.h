/* core/compare.h — the comparison table of several configurations: its columns, its rows (one
 * spelling shared by every format), and the SVG chart drawn from it. */
#ifndef TFX_CORE_COMPARE_H
#define TFX_CORE_COMPARE_H

#include <jansson.h>
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

#define TFX_CURVE_MAX 64
#define TFX_CONTEXTS_MAX 8

/* What `tfx compare --train` measured of one column: the JSON report of its `tfx train`. */
typedef struct tfx_train_figures {
    int measured;                 /* 0: not trained, or failed (error says why) */
    int eval_only;                /* compare --eval: only the losses at lengths are known */
    double train_loss, val_loss, tokens_per_s, peak_rss_mib, planned_mib;
    int64_t steps;
    int n_curve;                  /* validation loss against step */
    int64_t curve_step[TFX_CURVE_MAX];
    double curve_val[TFX_CURVE_MAX];
    int n_contexts;               /* loss against evaluation length (--contexts) */
    int64_t context[TFX_CONTEXTS_MAX];
    double context_loss[TFX_CONTEXTS_MAX]; /* NAN: the positions cannot reach it */
    char error[512];
} tfx_train_figures;

typedef struct tfx_compare_column {
    char label[512];              /* the sweep assignments that made it, or "" */
    tfx_loaded *loaded;           /* owned */
    tfx_params_item item;
    tfx_run_figures run;
    tfx_train_figures train;
    char path[1024];              /* the recipe's path, kept when read back by --collect */
} tfx_compare_column;

/* What `tfx compare --eval` evaluates: each column's checkpoint on the same data. */
typedef struct tfx_compare_eval_opts {
    const char *data;             /* --data */
    const char *contexts;         /* "128,256,..." */
    int64_t batch, max_batches;
    int threads;
} tfx_compare_eval_opts;

/* Evaluate the column's trained weights (`tfx eval` in a child per length) and fill
 * col->train's losses at lengths; a length the positions cannot reach is NAN. Returns 0, or
 * -1 with col->train.error saying why. */
int tfx_compare_eval(tfx_compare_column *col, const char *path, char *const *sets, int n_sets,
                     const char *checkpoint, const tfx_compare_eval_opts *o);

/* What every column of `tfx compare --train` is trained on, the same for all. */
typedef struct tfx_compare_train_opts {
    const char *data, *val;       /* --data, --val (or NULL) */
    const char *contexts;         /* "128,256,..." evaluation lengths, or NULL */
    int64_t steps, batch, context, eval_every, warmup;
    const char *lr;               /* as given, or NULL */
    uint64_t seed;
    int threads;                  /* 0: tfx train's default */
    const char *dtype;            /* --dtype of tfx train, or NULL */
} tfx_compare_train_opts;

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

/* Run `argv` (argv[0] "tfx", argv[1] the command) as this executable in a child process and
 * keep its stdout in out[cap]. Returns 0, or -1 with error[error_cap] holding the child's
 * message. */
int tfx_compare_spawn(char *const *argv, char *out, size_t cap, char *error, size_t error_cap);

/* Train the column (`tfx train` in a child) and fill col->train from its report. Returns 0, or
 * -1 with col->train.error saying why. */
int tfx_compare_train(tfx_compare_column *col, const char *path, char *const *sets, int n_sets,
                      const tfx_compare_train_opts *o);

/* Print, one line each, a self-contained shell command that trains the column and writes its
 * JSON result to DIR/NN.json (NN = index). Returns 0 or -1. */
int tfx_compare_emit_job(FILE *out, const char *label, const char *path, char *const *sets,
                         int n_sets, const tfx_compare_train_opts *o, const char *dir, int index);

/* Columns from the results the jobs wrote into `dir` (*.json, in name order): each recipe and
 * its --set values loaded again for the table's rows, the figures from the result.
 * Returns 0, or -1 with err naming the file. */
int tfx_compare_collect(const tfx_cli_common *c, const char *dir, const tfx_registry *reg,
                        tfx_compare_column *cols, int max, int *n_cols, tfx_error *err);

/* Fill col->train from a report of `tfx train --format json` (what a job wrote). */
int tfx_compare_train_figures(const json_t *doc, tfx_train_figures *f);

/* The column's train (or eval) group of its report document: final losses, speed and memory,
 * the validation curve and the losses at lengths, or the error. */
typedef struct tfx_doc tfx_doc;
void tfx_doc_compare_train(tfx_doc *d, const tfx_train_figures *f);
int tfx_compare_any_trained(const tfx_compare_column *cols, int n);

/* SVG panels of lines at `top`: validation loss against step, and loss against evaluation
 * length. Return the height used (0 when there is nothing); with f NULL draw nothing. */
int tfx_compare_svg_curves(FILE *f, int top, int width, const tfx_compare_column *cols, int n);

/* Print the columns side by side with the difference to the first; text in blocks of columns
 * that fit `width` (0: unlimited). Returns 0, or -1 with err set. */
int tfx_report_compare(FILE *out, tfx_format fmt, const tfx_compare_column *cols, int n, int width,
                       tfx_error *err);

/* One column's figures as a report document (initialised here; the caller frees it). */
void tfx_doc_compare_column(tfx_doc *d, const tfx_compare_column *c);

/* Write an SVG chart of the columns (parameters by component, memory, FLOPs per token, and
 * measured speed after --run), TFX_CHART_WIDTH pixels wide and tfx_compare_svg_height tall. */
int tfx_compare_svg_height(int n_columns);
int tfx_compare_svg(const char *path, const tfx_compare_column *cols, int n, tfx_error *err);

#endif
