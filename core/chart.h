/* core/chart.h — SVG chart panels that know nothing of models: bars by numbered column (grouped
 * or stacked) and lines of value against step, on axes with nice ticks, linear or logarithmic.
 * `tfx compare --svg` draws its panels with these; a loss curve or an evaluation-length panel
 * is a line panel. */
#ifndef TFX_CORE_CHART_H
#define TFX_CORE_CHART_H

#include <stdbool.h>
#include <stdio.h>

#define TFX_CHART_WIDTH 1400      /* the whole chart's width in pixels; panels share it equally */
#define TFX_CHART_MAX_TICKS 12

/* The smallest step of 1, 2 or 5 × 10^n that covers `span` in at most `max_steps` steps
 * (span > 0, max_steps >= 1). */
double tfx_nice_step(double span, int max_steps);

/* Whether a panel of these values needs a logarithmic axis: its positive values span more than
 * two decades (largest / smallest positive > 100). */
bool tfx_axis_wants_log(const double *values, int n);

/* A value axis: linear from 0 (or the smallest value, when below 0) to a nice top, or
 * logarithmic from a power of ten to a power of ten. */
typedef struct tfx_axis {
    bool log;
    double lo, hi;                /* the axis's ends (for log: powers of ten) */
    double ticks[TFX_CHART_MAX_TICKS + 1];
    int n_ticks;
} tfx_axis;

/* The axis for these values (at most max_ticks + 1 ticks; log when tfx_axis_wants_log and
 * allow_log). */
void tfx_axis_make(tfx_axis *a, const double *values, int n, int max_ticks, bool allow_log);

/* A linear axis over [lo, hi] with nice ticks (steps of 1, 2 or 5 × 10^n, at most max_ticks + 1
 * ticks), from the nice value at or below lo to the first at or above hi. */
void tfx_axis_range(tfx_axis *a, double lo, double hi, int max_ticks);

/* Where v sits on the axis, 0 (lo) to 1 (hi); values at or below 0 sit at 0 on a log axis. */
double tfx_axis_frac(const tfx_axis *a, double v);

/* A number as an axis or bar label: "0.25", "12.5", "1,250", "1e+06" for 10^6 and beyond on a
 * log axis is written "1,000,000". Returns buf. */
char *tfx_chart_number(char *buf, size_t cap, double v);

/* Text for SVG: markup characters as entities, control characters escaped as tfx_escape does. */
void tfx_svg_text(FILE *f, const char *raw);

/* A panel's place on the chart. */
typedef struct tfx_panel_box {
    int x, y, w, h;
} tfx_panel_box;

/* Bars: values[c * n_series + k] for column c (drawn with its number c + 1 under it; titles[c]
 * is its full name, shown on hover) and series k. */
typedef struct tfx_bar_panel {
    const char *title, *unit;
    int n_cols, n_series;
    const char *const *series;    /* [n_series] names in the legend */
    const char *const *colours;   /* [n_series] */
    const char *const *titles;    /* [n_cols] */
    const double *values;         /* [n_cols * n_series] */
    bool stacked;                 /* series on top of each other (then always linear) */
} tfx_bar_panel;

void tfx_chart_bars(FILE *f, tfx_panel_box box, const tfx_bar_panel *p);

/* Lines: line k has n_points[k] points (xs[k][i], ys[k][i]), e.g. loss against step, one per
 * column. */
typedef struct tfx_line_panel {
    const char *title, *unit, *x_label;
    int n_lines;
    const char *const *names;     /* [n_lines] */
    const char *const *colours;   /* [n_lines] */
    const double *const *xs, *const *ys;
    const int *n_points;
} tfx_line_panel;

void tfx_chart_lines(FILE *f, tfx_panel_box box, const tfx_line_panel *p);

/* The colour of series or line k (a fixed palette, repeating). */
const char *tfx_chart_colour(int k);

#endif
