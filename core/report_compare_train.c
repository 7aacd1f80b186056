/* core/report_compare_train.c — what `compare --train` adds to the comparison: a group of final
 * losses, speed and memory in each column's report document, and SVG line panels of the curves. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"

#include "compare.h"
#include "doc.h"

typedef struct train_row {
    const char *name;
    double (*get)(const tfx_train_figures *f);
    int decimals;
    tfx_unit unit;
} train_row;

static double train_loss(const tfx_train_figures *f) { return f->train_loss; }
static double val_loss(const tfx_train_figures *f) { return f->val_loss; }
static double tokens_per_s(const tfx_train_figures *f) { return f->tokens_per_s; }
static double peak_rss(const tfx_train_figures *f) { return f->peak_rss_mib; }
static double planned(const tfx_train_figures *f) { return f->planned_mib; }

static const train_row rows[] = {
    {"train_loss", train_loss, 4, TFX_UNIT_NONE},      {"val_loss", val_loss, 4, TFX_UNIT_NONE},
    {"tokens_per_s", tokens_per_s, 0, TFX_UNIT_TOKENS_PER_S}, {"peak_rss_mib", peak_rss, 1, TFX_UNIT_MIB},
    {"planned_mib", planned, 1, TFX_UNIT_MIB},
};
#define N_ROWS (sizeof rows / sizeof rows[0])

int tfx_compare_any_trained(const tfx_compare_column *cols, int n)
{
    for (int c = 0; c < n; c++)
        if (cols[c].train.measured || cols[c].train.error[0])
            return 1;
    return 0;
}

/* Only --eval's losses at lengths: no training rows. */
static int all_eval_only(const tfx_compare_column *cols, int n)
{
    for (int c = 0; c < n; c++)
        if (cols[c].train.measured && !cols[c].train.eval_only)
            return 0;
    return 1;
}

/* The evaluation lengths of the first column that has them (every column shares them). */
static const tfx_train_figures *with_contexts(const tfx_compare_column *cols, int n)
{
    for (int c = 0; c < n; c++)
        if (cols[c].train.n_contexts)
            return &cols[c].train;
    return NULL;
}

void tfx_doc_compare_train(tfx_doc *d, const tfx_train_figures *f)
{
    char title[96];
    if (f->eval_only)
        snprintf(title, sizeof title, "eval (loss at each length, same data)");
    else
        snprintf(title, sizeof title, "train (%" PRId64 " steps, same data and seed)", f->steps);
    tfx_doc_group_start(d, "train", title, false);
    if (!f->measured) {
        tfx_doc_text(d, "error", NULL, f->error, NULL);
        return;
    }
    for (size_t r = 0; !f->eval_only && r < N_ROWS; r++)
        tfx_doc_real(d, rows[r].name, NULL, rows[r].get(f), rows[r].decimals, rows[r].unit, NULL);
    tfx_doc_int(d, "steps", NULL, f->steps, TFX_UNIT_NONE, NULL);
    char key[64];
    tfx_doc_list(d, "curve");
    for (int i = 0; i < f->n_curve; i++) {
        snprintf(key, sizeof key, "curve.%d.step", i);
        tfx_doc_int(d, key, NULL, f->curve_step[i], TFX_UNIT_NONE, NULL);
        snprintf(key, sizeof key, "curve.%d.val_loss", i);
        tfx_doc_real(d, key, NULL, f->curve_val[i], 4, TFX_UNIT_NONE, NULL);
    }
    tfx_doc_list(d, "context_losses");
    for (int i = 0; i < f->n_contexts; i++) {
        snprintf(key, sizeof key, "context_losses.%d.context", i);
        tfx_doc_int(d, key, NULL, f->context[i], TFX_UNIT_TOKENS, NULL);
        snprintf(key, sizeof key, "context_losses.%d.loss", i);
        char label[48];
        snprintf(label, sizeof label, "loss_at_%" PRId64, f->context[i]);
        tfx_doc_real(d, key, label, f->context_loss[i], 4, TFX_UNIT_NONE, "NaN (null): the positions cannot reach it");
    }
    /* text: the final losses and one row per length; the curve is the chart's */
    static const char *const details[] = {"train.curve.*"};
    tfx_doc_detail(d, details, 1);
    for (size_t i = 0; i < d->n_figs; i++) { /* the lengths themselves are in the rows' names */
        const char *k = d->figs[i].key;
        size_t len = strlen(k);
        if (strncmp(k, "train.context_losses.", 21) == 0 && len > 8 && strcmp(k + len - 8, ".context") == 0)
            d->figs[i].detail = true;
    }
}

/* ---- SVG line panels ---------------------------------------------------------------------- */

#define LINE_PANEL_H 320
#define LINE_MARGIN 20

/* The points of column c: x and y of point i, or false when it has none there. */
typedef bool (*point_fn)(const tfx_train_figures *f, int i, double *x, double *y);

static bool curve_point(const tfx_train_figures *f, int i, double *x, double *y)
{
    if (!f->measured || i >= f->n_curve)
        return false;
    *x = (double)f->curve_step[i], *y = f->curve_val[i];
    return true;
}

static bool context_point(const tfx_train_figures *f, int i, double *x, double *y)
{
    if (!f->measured || i >= f->n_contexts)
        return false;
    *x = (double)f->context[i], *y = f->context_loss[i]; /* NaN: unreachable, left out below */
    return true;
}

/* The buffers of one line panel: a line per column, its points, its name. */
typedef struct lines {
    double *x, *y;                /* [n * TFX_CURVE_MAX] */
    const double **xs, **ys;      /* [n] */
    int *n_points;
    const char **names, **colours;
    char (*titles)[600];
} lines;

static void lines_free(lines *l)
{
    free(l->x), free(l->y), free(l->xs), free(l->ys), free(l->n_points), free(l->names), free(l->colours),
        free(l->titles);
}

static int lines_make(lines *l, const tfx_compare_column *cols, int n, point_fn at)
{
    size_t m = n > 0 ? (size_t)n : 1;
    *l = (lines){calloc(m, TFX_CURVE_MAX * sizeof(double)), calloc(m, TFX_CURVE_MAX * sizeof(double)),
                 calloc(m, sizeof(double *)), calloc(m, sizeof(double *)), calloc(m, sizeof(int)),
                 calloc(m, sizeof(char *)), calloc(m, sizeof(char *)), calloc(m, sizeof *l->titles)};
    if (!l->x || !l->y || !l->xs || !l->ys || !l->n_points || !l->names || !l->colours || !l->titles)
        return -1;
    for (int c = 0; c < n; c++) {
        double x, y, *px = l->x + (size_t)c * TFX_CURVE_MAX, *py = l->y + (size_t)c * TFX_CURVE_MAX;
        for (int i = 0; i < TFX_CURVE_MAX && at(&cols[c].train, i, &x, &y); i++)
            if (!isnan(y))
                px[l->n_points[c]] = x, py[l->n_points[c]++] = y;
        l->xs[c] = px, l->ys[c] = py;
        snprintf(l->titles[c], sizeof l->titles[c], "%d %.256s%s%.300s", c + 1, cols[c].loaded->spec->name,
                 cols[c].label[0] ? " " : "", cols[c].label);
        l->names[c] = l->titles[c];
        l->colours[c] = tfx_chart_colour(c);
    }
    return 0;
}

static void line_panel(FILE *f, tfx_panel_box box, const char *title, const char *x_label,
                       const tfx_compare_column *cols, int n, point_fn at)
{
    lines l;
    if (lines_make(&l, cols, n, at) == 0)
        tfx_chart_lines(f, box, &(tfx_line_panel){title, "loss", x_label, n, l.names, l.colours, l.xs, l.ys,
                                                  l.n_points});
    lines_free(&l);
}

int tfx_compare_svg_curves(FILE *f, int top, int width, const tfx_compare_column *cols, int n)
{
    if (!tfx_compare_any_trained(cols, n))
        return 0;
    int curves = !all_eval_only(cols, n), lengths = with_contexts(cols, n) != NULL;
    if (!curves && !lengths)
        return 0;
    if (f) { /* one row of panels, two across, as the bars above them */
        int w = (width - 3 * LINE_MARGIN) / 2, x = LINE_MARGIN;
        if (curves)
            line_panel(f, (tfx_panel_box){x, top, w, LINE_PANEL_H}, "Validation loss against step", "step",
                       cols, n, curve_point), x += w + LINE_MARGIN;
        if (lengths)
            line_panel(f, (tfx_panel_box){x, top, w, LINE_PANEL_H}, "Loss against evaluation length",
                       "tokens per sequence", cols, n, context_point);
    }
    return LINE_PANEL_H + LINE_MARGIN;
}
