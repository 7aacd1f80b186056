/* core/chart.c — draws SVG chart panels (bars by numbered column, lines against step) on axes
 * with nice ticks, switching to a log axis where a panel's values span more than two decades. */
#include "chart.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "text.h"

/* ---- axes --------------------------------------------------------------------------------- */

double tfx_nice_step(double span, int max_steps)
{
    double raw = span / (max_steps > 0 ? max_steps : 1);
    double pow10 = pow(10.0, floor(log10(raw)));
    static const double mult[] = {1, 2, 5, 10};
    for (int i = 0; i < 4; i++)
        if (mult[i] * pow10 >= raw * (1 - 1e-9))
            return mult[i] * pow10;
    return 10 * pow10;
}

/* The smallest positive value and the largest value; *min_pos is 0 when none is positive. */
static void extent(const double *v, int n, double *min_pos, double *max)
{
    *min_pos = 0;
    *max = 0;
    for (int i = 0; i < n; i++) {
        if (v[i] > *max)
            *max = v[i];
        if (v[i] > 0 && (*min_pos == 0 || v[i] < *min_pos))
            *min_pos = v[i];
    }
}

bool tfx_axis_wants_log(const double *values, int n)
{
    double min_pos, max;
    extent(values, n, &min_pos, &max);
    return min_pos > 0 && max / min_pos > 100;
}

static void axis_log(tfx_axis *a, double min_pos, double max, int max_ticks)
{
    int lo = (int)floor(log10(min_pos)), hi = (int)ceil(log10(max));
    if (hi == lo)
        hi++;
    int every = (hi - lo + max_ticks - 1) / max_ticks; /* a tick every `every` decades */
    a->log = true;
    a->lo = pow(10.0, lo);
    a->hi = pow(10.0, hi);
    a->n_ticks = 0;
    for (int e = lo; e <= hi && a->n_ticks <= max_ticks; e += every)
        a->ticks[a->n_ticks++] = pow(10.0, e);
}

void tfx_axis_make(tfx_axis *a, const double *values, int n, int max_ticks, bool allow_log)
{
    double min_pos, max;
    if (max_ticks > TFX_CHART_MAX_TICKS)
        max_ticks = TFX_CHART_MAX_TICKS;
    extent(values, n, &min_pos, &max);
    if (allow_log && tfx_axis_wants_log(values, n)) {
        axis_log(a, min_pos, max, max_ticks);
        return;
    }
    if (max <= 0)
        max = 1;
    tfx_axis_range(a, 0, max, max_ticks);
}

void tfx_axis_range(tfx_axis *a, double lo, double hi, int max_ticks)
{
    if (max_ticks > TFX_CHART_MAX_TICKS)
        max_ticks = TFX_CHART_MAX_TICKS;
    if (!(hi > lo))
        hi = lo + (lo != 0 ? fabs(lo) * 0.1 : 1);
    double step = tfx_nice_step(hi - lo, max_ticks - 1); /* a step spare: room above the top bar */
    double first = floor(lo / step + 1e-9) * step;
    a->log = false;
    a->n_ticks = 0;
    for (int t = 0; t <= max_ticks; t++) {
        a->ticks[a->n_ticks++] = first + t * step;
        if (first + t * step >= hi * (1 - 1e-9) && first + t * step > lo)
            break;
    }
    a->lo = first;
    a->hi = a->ticks[a->n_ticks - 1];
}

double tfx_axis_frac(const tfx_axis *a, double v)
{
    if (a->log)
        return v <= a->lo ? 0 : (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    return a->hi > a->lo ? (v - a->lo) / (a->hi - a->lo) : 0;
}

char *tfx_chart_number(char *buf, size_t cap, double v)
{
    double m = fabs(v);
    if (m >= 1 && m < 9e18 && v == round(v)) /* whole numbers (ticks, mostly) without a point */
        tfx_group_digits(buf, cap, (int64_t)llround(v));
    else if (m >= 1000 && m < 9e18)
        tfx_group_digits(buf, cap, (int64_t)llround(v));
    else if (m >= 100 || m == 0)
        snprintf(buf, cap, "%.0f", v);
    else if (m >= 10)
        snprintf(buf, cap, "%.1f", v);
    else if (m >= 1e-4)
        snprintf(buf, cap, "%.3g", v);
    else
        snprintf(buf, cap, "%.1e", v);
    return buf;
}

/* ---- SVG pieces --------------------------------------------------------------------------- */

void tfx_svg_text(FILE *f, const char *raw)
{
    size_t len = strlen(raw), cap;
    char *s = __builtin_mul_overflow(len, (size_t)6, &cap) ? NULL : malloc(cap + 1);
    if (!s) {
        fputs("?", f);
        return;
    }
    s[tfx_escape(s, raw, len, NULL)] = '\0';
    for (const char *c = s; *c; c++)
        switch (*c) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*c, f);
        }
    free(s);
}

const char *tfx_chart_colour(int k)
{
    static const char *const palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                          "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
    return palette[k % (int)(sizeof palette / sizeof palette[0])];
}

#define AXIS_W 70                 /* the value labels left of the plot */
#define LEGEND_W 130              /* the series names right of it */
#define TITLE_H 34
#define FOOT_H 34                 /* column numbers or the x axis under the plot */

/* The plot area of a panel box. */
static tfx_panel_box plot_area(tfx_panel_box b)
{
    return (tfx_panel_box){b.x + AXIS_W, b.y + TITLE_H, b.w - AXIS_W - LEGEND_W, b.h - TITLE_H - FOOT_H};
}

static void title(FILE *f, tfx_panel_box b, const char *text, const char *unit, const tfx_axis *a)
{
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"title\">", b.x + 10, b.y + 20);
    tfx_svg_text(f, text);
    fprintf(f, " (%s%s)</text>\n", unit, a->log ? ", log scale" : "");
}

static double y_of(const tfx_axis *a, tfx_panel_box p, double v)
{
    return p.y + p.h - tfx_axis_frac(a, v) * p.h;
}

/* A tick's label: as many decimals as the step needs (4.985 and 4.995 apart), else as a number. */
static char *tick_text(char *buf, size_t cap, const tfx_axis *a, int t)
{
    double step = a->n_ticks > 1 ? a->ticks[1] - a->ticks[0] : 0;
    if (a->log || step <= 0 || step >= 1 || step < 1e-6)
        return tfx_chart_number(buf, cap, a->ticks[t]);
    snprintf(buf, cap, "%.*f", (int)ceil(-log10(step) - 1e-9), a->ticks[t]);
    return buf;
}

static void y_axis(FILE *f, const tfx_axis *a, tfx_panel_box p)
{
    char num[48];
    for (int t = 0; t < a->n_ticks; t++) {
        double y = y_of(a, p, a->ticks[t]);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>\n", p.x, y, p.x + p.w, y,
                t ? "#e5e5e5" : "#999");
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"axis\" text-anchor=\"end\">%s</text>\n", p.x - 6, y + 4,
                tick_text(num, sizeof num, a, t));
    }
}

/* A legend's name in about 20 characters: its first word (the column's number) and the end, where
 * sweeps differ ("3 …placement=sandwich"), cut at a UTF-8 boundary; the whole name on hover. */
static void short_name(FILE *f, const char *name)
{
    char cut[96];
    size_t len = strlen(name), sp = strcspn(name, " ");
    if (len <= 20 || sp > 8) {
        tfx_svg_text(f, name);
        return;
    }
    size_t from = len - (20 - sp - 2);
    while (from < len && ((unsigned char)name[from] & 0xC0) == 0x80)
        from++;
    snprintf(cut, sizeof cut, "%.*s \u2026%s", (int)sp, name, name + from);
    tfx_svg_text(f, cut);
    fputs("<title>", f);
    tfx_svg_text(f, name);
    fputs("</title>", f);
}

static void legend(FILE *f, tfx_panel_box b, int n, const char *const *names, const char *const *colours)
{
    int lx = b.x + b.w - LEGEND_W + 14;
    for (int k = 0; k < n; k++) {
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", lx, b.y + TITLE_H + 18 * k,
                colours[k]);
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"axis\">", lx + 18, b.y + TITLE_H + 11 + 18 * k);
        short_name(f, names[k]);
        fputs("</text>\n", f);
    }
}

/* ---- bars --------------------------------------------------------------------------------- */

/* A bar's value above it: level where the bar is wide enough, else turned to read upwards. */
static void value_label(FILE *f, double cx, double top, double w, double v)
{
    char num[48];
    tfx_chart_number(num, sizeof num, v);
    if (w >= 5.0 * (double)strlen(num)) /* 10-pixel digits are about 5.5 wide, a point less */
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"value\" text-anchor=\"middle\">%s</text>\n", cx, top - 3, num);
    else
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"value\" transform=\"rotate(-90 %.1f %.1f)\">%s</text>\n",
                cx + 3, top - 3, cx + 3, top - 3, num);
}

/* One bar from the axis's foot to v (or from `below` up by v when stacked), with its value. */
static void bar(FILE *f, const tfx_bar_panel *p, const tfx_axis *a, tfx_panel_box pa, double x, double w,
                double below, int c, int k, bool label)
{
    double v = p->values[c * p->n_series + k];
    double top = y_of(a, pa, below + v), foot = y_of(a, pa, below);
    char num[48];
    if (v <= 0 || top >= foot)
        return;
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", x, top, w,
            foot - top, p->colours[k]);
    tfx_svg_text(f, p->titles[c]);
    fputs(": ", f);
    tfx_svg_text(f, p->series[k]);
    fprintf(f, " %s %s</title></rect>\n", tfx_chart_number(num, sizeof num, v), p->unit);
    if (label)
        value_label(f, x + w / 2, top, w, below + v);
}

void tfx_chart_bars(FILE *f, tfx_panel_box box, const tfx_bar_panel *p)
{
    int n = p->n_cols * p->n_series;
    double *tops = calloc(p->n_cols > 0 ? (size_t)p->n_cols : 1, sizeof *tops);
    if (!tops)
        return;
    for (int c = 0; c < p->n_cols; c++)
        for (int k = 0; k < p->n_series; k++)
            tops[c] += p->values[c * p->n_series + k];
    tfx_axis a;
    tfx_axis_make(&a, p->stacked ? tops : p->values, p->stacked ? p->n_cols : n, 5, !p->stacked);
    free(tops);
    tfx_panel_box pa = plot_area(box);
    title(f, box, p->title, p->unit, &a);
    y_axis(f, &a, pa);
    double group = (double)pa.w / (p->n_cols > 0 ? p->n_cols : 1);
    double w = p->stacked ? fmin(group * 0.6, 56) : fmin(group * 0.8 / p->n_series, 40);
    bool labels = w >= 9; /* a value label needs a line's height of bar, turned if need be */
    for (int c = 0; c < p->n_cols; c++) {
        double x0 = pa.x + group * c + (group - (p->stacked ? w : w * p->n_series)) / 2, below = 0;
        for (int k = 0; k < p->n_series; k++) {
            bar(f, p, &a, pa, p->stacked ? x0 : x0 + k * w, w - 2, below, c, k, labels && !p->stacked);
            if (p->stacked)
                below += p->values[c * p->n_series + k];
        }
        if (labels && p->stacked && below > 0) /* a stack's label is its total */
            value_label(f, x0 + (w - 2) / 2, y_of(&a, pa, below), w - 2, below);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"label\" text-anchor=\"middle\">%d<title>", pa.x + group * (c + 0.5),
                pa.y + pa.h + 16, c + 1);
        tfx_svg_text(f, p->titles[c]);
        fputs("</title></text>\n", f);
    }
    legend(f, box, p->n_series, p->series, p->colours);
}

/* ---- lines -------------------------------------------------------------------------------- */

void tfx_chart_lines(FILE *f, tfx_panel_box box, const tfx_line_panel *p)
{
    double xmax = 0, ymin_pos = 0, ymax = 0;
    for (int k = 0; k < p->n_lines; k++) {
        double lo, hi;
        extent(p->ys[k], p->n_points[k], &lo, &hi);
        ymax = hi > ymax ? hi : ymax;
        ymin_pos = lo > 0 && (ymin_pos == 0 || lo < ymin_pos) ? lo : ymin_pos;
        for (int i = 0; i < p->n_points[k]; i++)
            xmax = p->xs[k][i] > xmax ? p->xs[k][i] : xmax;
    }
    double span[2] = {ymin_pos, ymax}, ymin = INFINITY;
    for (int k = 0; k < p->n_lines; k++)
        for (int i = 0; i < p->n_points[k]; i++)
            ymin = p->ys[k][i] < ymin ? p->ys[k][i] : ymin;
    tfx_axis ya, xa;
    if (tfx_axis_wants_log(span, 2)) /* a line's axis spans its values, not from 0: a loss moves little */
        tfx_axis_make(&ya, span, 2, 5, true);
    else
        tfx_axis_range(&ya, isinf(ymin) ? 0 : ymin, ymax, 5);
    tfx_axis_make(&xa, &xmax, 1, 8, false);
    tfx_panel_box pa = plot_area(box);
    title(f, box, p->title, p->unit, &ya);
    y_axis(f, &ya, pa);
    char num[48], num2[48];
    for (int t = 0; t < xa.n_ticks; t++)
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"axis\" text-anchor=\"middle\">%s</text>\n",
                pa.x + tfx_axis_frac(&xa, xa.ticks[t]) * pa.w, pa.y + pa.h + 16,
                tfx_chart_number(num, sizeof num, xa.ticks[t]));
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"axis\" text-anchor=\"middle\">", pa.x + pa.w / 2, pa.y + pa.h + 30);
    tfx_svg_text(f, p->x_label);
    fputs("</text>\n", f);
    for (int k = 0; k < p->n_lines; k++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", p->colours[k]);
        for (int i = 0; i < p->n_points[k]; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", pa.x + tfx_axis_frac(&xa, p->xs[k][i]) * pa.w,
                    y_of(&ya, pa, p->ys[k][i]));
        fputs("\"/>\n", f);
        for (int i = 0; i < p->n_points[k]; i++) /* each point, so that a lone one shows too */
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"><title>%s: %s</title></circle>\n",
                    pa.x + tfx_axis_frac(&xa, p->xs[k][i]) * pa.w, y_of(&ya, pa, p->ys[k][i]), p->colours[k],
                    tfx_chart_number(num, sizeof num, p->xs[k][i]), tfx_chart_number(num2, sizeof num2, p->ys[k][i]));
    }
    legend(f, box, p->n_lines, p->names, p->colours);
}
