/* core/report_compare_train.c — what `compare --train` adds to the comparison: rows of final
 * losses, speed and memory in every format, and SVG line panels of the loss curves. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "compare.h"

typedef struct train_row {
    const char *name;
    double (*get)(const tfx_train_figures *f);
    const char *fmt;
} train_row;

static double train_loss(const tfx_train_figures *f) { return f->train_loss; }
static double val_loss(const tfx_train_figures *f) { return f->val_loss; }
static double tokens_per_s(const tfx_train_figures *f) { return f->tokens_per_s; }
static double peak_rss(const tfx_train_figures *f) { return f->peak_rss_mib; }
static double planned(const tfx_train_figures *f) { return f->planned_mib; }

static const train_row rows[] = {
    {"train_loss", train_loss, "%.4f"},     {"val_loss", val_loss, "%.4f"},
    {"tokens_per_s", tokens_per_s, "%.0f"}, {"peak_rss_mib", peak_rss, "%.1f"},
    {"planned_mib", planned, "%.1f"},
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

static void cell_of(char *cell, size_t cap, const tfx_train_figures *f, double v, const char *fmt)
{
    if (!f->measured)
        snprintf(cell, cap, "failed");
    else if (isnan(v))
        snprintf(cell, cap, "unreachable");
    else
        snprintf(cell, cap, fmt, v);
}

void tfx_report_compare_train(FILE *out, const tfx_compare_column *cols, int n, int markdown)
{
    if (!tfx_compare_any_trained(cols, n))
        return;
    char cell[64], name[64];
    int64_t steps = 0;
    for (int c = 0; c < n && !steps; c++)
        steps = cols[c].train.steps;
    int first = all_eval_only(cols, n) ? (int)N_ROWS : 0; /* --eval: the lengths only */
    if (first)
        fprintf(out, markdown ? "| **eval** (loss at each length, same data) |" : "eval (loss at each length, same data)\n");
    else
        fprintf(out, markdown ? "| **train** (%" PRId64 " steps, same data and seed) |" : "train (%" PRId64 " steps, same data and seed)\n", steps);
    for (int c = 0; markdown && c < n; c++)
        fputs(" |", out);
    if (markdown)
        fputc('\n', out);
    const tfx_train_figures *ctx = with_contexts(cols, n);
    int n_rows = (int)N_ROWS + (ctx ? ctx->n_contexts : 0);
    for (int r = first; r < n_rows; r++) {
        if (r < (int)N_ROWS)
            snprintf(name, sizeof name, "%s", rows[r].name);
        else
            snprintf(name, sizeof name, "loss_at_%" PRId64, ctx->context[r - (int)N_ROWS]);
        fprintf(out, markdown ? "| %s |" : "  %-28s", name);
        for (int c = 0; c < n; c++) {
            const tfx_train_figures *f = &cols[c].train;
            if (r < (int)N_ROWS)
                cell_of(cell, sizeof cell, f, rows[r].get(f), rows[r].fmt);
            else
                cell_of(cell, sizeof cell, f, r - (int)N_ROWS < f->n_contexts ? f->context_loss[r - (int)N_ROWS] : NAN, "%.4f");
            fprintf(out, markdown ? " %s |" : "%30s", cell);
        }
        fputc('\n', out);
    }
}

void tfx_report_compare_train_csv(FILE *out, const tfx_compare_column *cols, int n)
{
    if (!tfx_compare_any_trained(cols, n))
        return;
    const tfx_train_figures *ctx = with_contexts(cols, n);
    for (size_t r = 0; !all_eval_only(cols, n) && r < N_ROWS; r++) {
        fprintf(out, "train,%s", rows[r].name);
        for (int c = 0; c < n; c++)
            cols[c].train.measured ? fprintf(out, ",%.6g", rows[r].get(&cols[c].train)) : fprintf(out, ",");
        fputc('\n', out);
    }
    for (int k = 0; ctx && k < ctx->n_contexts; k++) {
        fprintf(out, "train,loss_at_%" PRId64, ctx->context[k]);
        for (int c = 0; c < n; c++) {
            const tfx_train_figures *f = &cols[c].train;
            bool have = f->measured && k < f->n_contexts && !isnan(f->context_loss[k]);
            have ? fprintf(out, ",%.6g", f->context_loss[k]) : fprintf(out, ",");
        }
        fputc('\n', out);
    }
}

json_t *tfx_compare_train_json(const tfx_train_figures *f)
{
    if (!f->measured)
        return json_pack("{s:s}", "error", f->error);
    json_t *o = json_object(), *curve = json_array(), *ctx = json_array();
    for (size_t r = 0; !f->eval_only && r < N_ROWS; r++)
        json_object_set_new(o, rows[r].name, json_real(rows[r].get(f)));
    json_object_set_new(o, "steps", json_integer(f->steps));
    for (int i = 0; i < f->n_curve; i++)
        json_array_append_new(curve, json_pack("{s:I, s:f}", "step", (json_int_t)f->curve_step[i],
                                               "val_loss", f->curve_val[i]));
    for (int i = 0; i < f->n_contexts; i++)
        json_array_append_new(ctx, isnan(f->context_loss[i])
                                       ? json_pack("{s:I, s:n}", "context", (json_int_t)f->context[i], "loss")
                                       : json_pack("{s:I, s:f}", "context", (json_int_t)f->context[i],
                                                   "loss", f->context_loss[i]));
    json_object_set_new(o, "curve", curve);
    json_object_set_new(o, "context_losses", ctx);
    return o;
}

/* ---- SVG line panels ---------------------------------------------------------------------- */

#define LINE_PANEL_H 300
#define LINE_LEFT 90
#define LINE_PLOT_W 520

static const char *const line_colours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

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
    if (!f->measured || i >= f->n_contexts || isnan(f->context_loss[i]))
        return false;
    *x = log2((double)f->context[i]), *y = f->context_loss[i];
    return true;
}

static void bounds(const tfx_compare_column *cols, int n, point_fn at, double *lo, double *hi)
{
    lo[0] = lo[1] = INFINITY, hi[0] = hi[1] = -INFINITY;
    double p[2];
    for (int c = 0; c < n; c++)
        for (int i = 0; at(&cols[c].train, i, &p[0], &p[1]); i++)
            for (int k = 0; k < 2; k++) {
                lo[k] = p[k] < lo[k] ? p[k] : lo[k];
                hi[k] = p[k] > hi[k] ? p[k] : hi[k];
            }
    for (int k = 0; k < 2; k++)
        if (!(hi[k] > lo[k]))
            hi[k] = lo[k] + 1;
}

static void xml(FILE *f, const char *s)
{
    for (; *s; s++)
        fputs(*s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : *s == '"' ? "&quot;"
                                                                              : (char[]){*s, 0},
              f);
}

/* One panel: a polyline per column through its points, axes with five ticks each. */
static void line_panel(FILE *f, int top, const char *title, const char *x_name, int log2_x,
                       const tfx_compare_column *cols, int n, point_fn at)
{
    double lo[2], hi[2], x, y;
    bounds(cols, n, at, lo, hi);
    if (isinf(lo[0]))
        return;
    int base = top + LINE_PANEL_H - 50, height = LINE_PANEL_H - 90;
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"title\">%s</text>\n", LINE_LEFT, top + 18, title);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n",
            LINE_LEFT, base - height, LINE_PLOT_W, height);
    const tfx_train_figures *ctx = with_contexts(cols, n);
    for (int k = 0; log2_x && ctx && k < ctx->n_contexts; k++) /* ticks at the lengths */
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"axis\" text-anchor=\"middle\">%" PRId64 "</text>\n",
                LINE_LEFT + (log2((double)ctx->context[k]) - lo[0]) / (hi[0] - lo[0]) * LINE_PLOT_W,
                base + 16, ctx->context[k]);
    for (int t = 0; t <= 4; t++) {
        double vx = lo[0] + (hi[0] - lo[0]) * t / 4, vy = lo[1] + (hi[1] - lo[1]) * t / 4;
        int px = LINE_LEFT + LINE_PLOT_W * t / 4, py = base - height * t / 4;
        if (!log2_x)
            fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"axis\" text-anchor=\"middle\">%.0f</text>\n",
                    px, base + 16, vx);
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"axis\" text-anchor=\"end\">%.3f</text>\n",
                LINE_LEFT - 8, py + 4, vy);
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#eee\"/>\n", LINE_LEFT, py,
                LINE_LEFT + LINE_PLOT_W, py);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"axis\" text-anchor=\"middle\">%s</text>\n",
            LINE_LEFT + LINE_PLOT_W / 2, base + 34, x_name);
    for (int c = 0; c < n; c++) {
        const char *colour = line_colours[c % 10];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colour);
        for (int i = 0; at(&cols[c].train, i, &x, &y); i++)
            fprintf(f, "%.1f,%.1f ", LINE_LEFT + (x - lo[0]) / (hi[0] - lo[0]) * LINE_PLOT_W,
                    base - (y - lo[1]) / (hi[1] - lo[1]) * height);
        fputs("\"/>\n", f);
        for (int i = 0; at(&cols[c].train, i, &x, &y); i++) /* a lone point shows too */
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%.4g: %.4f</title></circle>\n",
                    LINE_LEFT + (x - lo[0]) / (hi[0] - lo[0]) * LINE_PLOT_W,
                    base - (y - lo[1]) / (hi[1] - lo[1]) * height, colour, log2_x ? exp2(x) : x, y);
        int ly = top + 40 + 18 * c;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>"
                   "<text x=\"%d\" y=\"%d\" class=\"label\">%d ",
                LINE_LEFT + LINE_PLOT_W + 20, ly, LINE_LEFT + LINE_PLOT_W + 40, ly, colour,
                LINE_LEFT + LINE_PLOT_W + 46, ly + 4, c + 1);
        xml(f, cols[c].loaded->spec->name);
        fputc(' ', f);
        xml(f, cols[c].label);
        fputs("</text>\n", f);
    }
}

int tfx_compare_svg_curves(FILE *f, int top, int width, const tfx_compare_column *cols, int n)
{
    (void)width;
    if (!tfx_compare_any_trained(cols, n))
        return 0;
    int curves = !all_eval_only(cols, n), lengths = with_contexts(cols, n) != NULL;
    if (!f) /* only the height */
        return (curves + lengths) * LINE_PANEL_H;
    if (curves)
        line_panel(f, top, "Validation loss against step", "step", 0, cols, n, curve_point);
    if (lengths)
        line_panel(f, top + curves * LINE_PANEL_H, "Loss against evaluation length (log scale)",
                   "tokens per sequence", 1, cols, n, context_point);
    return (curves + lengths) * LINE_PANEL_H;
}
