/* core/doc.c — the report document: filling it with figures (one owner for every string) and
 * writing one figure's value for a reader, with grouped digits and a scaled unit. */
#include "doc.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

void tfx_doc_init(tfx_doc *d, const char *name, const char *title)
{
    memset(d, 0, sizeof *d);
    d->name = strdup(name ? name : "");
    d->title = strdup(title ? title : "");
    if (!d->name || !d->title) {
        d->failed = true;
        tfx_fail(&d->err, "out of memory");
    }
}

static void figure_free(tfx_figure *f)
{
    free(f->key);
    free(f->label);
    free(f->formula);
    free(f->text);
    free(f->ints);
}

void tfx_doc_free(tfx_doc *d)
{
    for (size_t i = 0; i < d->n_figs; i++)
        figure_free(&d->figs[i]);
    for (size_t g = 0; g < d->n_groups; g++) {
        free(d->groups[g].prefix);
        free(d->groups[g].title);
    }
    free(d->figs);
    free(d->groups);
    free(d->name);
    free(d->title);
    memset(d, 0, sizeof *d);
}

static void fail(tfx_doc *d, const char *what)
{
    if (!d->failed)
        tfx_fail(&d->err, "report: %s", what);
    d->failed = true;
}

/* Grow *items (of `size` bytes each) to hold one more; 0, or -1 with the doc failed. */
static int grow(tfx_doc *d, void **items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t want, bytes;
    if (__builtin_mul_overflow(*cap ? *cap : 8, (size_t)2, &want) ||
        __builtin_mul_overflow(want, size, &bytes)) {
        fail(d, "too many figures");
        return -1;
    }
    void *p = realloc(*items, bytes);
    if (!p) {
        fail(d, "out of memory");
        return -1;
    }
    *items = p;
    *cap = want;
    return 0;
}

void tfx_doc_group_start(tfx_doc *d, const char *prefix, const char *title, bool table)
{
    if (d->failed || grow(d, (void **)&d->groups, &d->cap_groups, d->n_groups, sizeof *d->groups))
        return;
    tfx_doc_group *g = &d->groups[d->n_groups];
    *g = (tfx_doc_group){.prefix = strdup(prefix), .title = strdup(title ? title : ""),
                         .table = table, .first = d->n_figs};
    if (!g->prefix || !g->title) {
        free(g->prefix);
        free(g->title);
        fail(d, "out of memory");
        return;
    }
    d->n_groups++;
}

/* A new figure at the end of the current group with its key and label set; NULL on failure. */
static tfx_figure *add(tfx_doc *d, const char *key, const char *label, const char *formula)
{
    if (!d->failed && d->n_groups == 0)
        tfx_doc_group_start(d, "", "", false);
    if (d->failed || grow(d, (void **)&d->figs, &d->cap_figs, d->n_figs, sizeof *d->figs))
        return NULL;
    tfx_doc_group *g = &d->groups[d->n_groups - 1];
    char full[512];
    if (tfx_text(full, sizeof full, "%s%s%s", g->prefix, g->prefix[0] && key[0] ? "." : "", key) < 0) {
        fail(d, "a figure's key is too long");
        return NULL;
    }
    const char *last = strrchr(full, '.');
    tfx_figure *f = &d->figs[d->n_figs];
    *f = (tfx_figure){.key = strdup(full), .label = strdup(label ? label : last ? last + 1 : full),
                      .formula = formula ? strdup(formula) : NULL};
    if (!f->key || !f->label || (formula && !f->formula)) {
        figure_free(f);
        fail(d, "out of memory");
        return NULL;
    }
    d->n_figs++;
    g->n++;
    return f;
}

void tfx_doc_int(tfx_doc *d, const char *key, const char *label, int64_t v, tfx_unit unit,
                 const char *formula)
{
    tfx_figure *f = add(d, key, label, formula);
    if (f)
        f->kind = TFX_VALUE_INT, f->i = v, f->unit = unit;
}

void tfx_doc_real(tfx_doc *d, const char *key, const char *label, double v, int decimals,
                  tfx_unit unit, const char *formula)
{
    tfx_figure *f = add(d, key, label, formula);
    if (f)
        f->kind = TFX_VALUE_REAL, f->d = v, f->decimals = decimals, f->unit = unit;
}

void tfx_doc_text(tfx_doc *d, const char *key, const char *label, const char *v, const char *formula)
{
    tfx_figure *f = add(d, key, label, formula);
    if (!f)
        return;
    f->kind = TFX_VALUE_TEXT;
    if (!(f->text = strdup(v)))
        fail(d, "out of memory");
}

void tfx_doc_ints(tfx_doc *d, const char *key, const char *label, const int32_t *v, int64_t n)
{
    tfx_figure *f = add(d, key, label, NULL);
    if (!f)
        return;
    f->kind = TFX_VALUE_INTS;
    f->ints = calloc(n > 0 ? (size_t)n : 1, sizeof *f->ints); /* calloc checks n x size */
    if (!f->ints) {
        fail(d, "out of memory");
        return;
    }
    for (int64_t i = 0; i < n; i++)
        f->ints[i] = v[i];
    f->n_ints = n;
}

void tfx_doc_list(tfx_doc *d, const char *key)
{
    tfx_figure *f = add(d, key, NULL, NULL);
    if (f)
        f->kind = TFX_VALUE_LIST;
}

void tfx_doc_detail(tfx_doc *d, const char *const *patterns, size_t n)
{
    for (size_t i = 0; i < d->n_figs; i++)
        for (size_t k = 0; k < n; k++) {
            size_t len = strlen(patterns[k]);
            bool prefix = len && patterns[k][len - 1] == '*';
            if (prefix ? strncmp(d->figs[i].key, patterns[k], len - 1) == 0 : strcmp(d->figs[i].key, patterns[k]) == 0)
                d->figs[i].detail = true;
        }
}

const tfx_figure *tfx_doc_find(const tfx_doc *d, const char *key)
{
    for (size_t i = 0; i < d->n_figs; i++)
        if (strcmp(d->figs[i].key, key) == 0)
            return &d->figs[i];
    return NULL;
}

/* ---- a value for a reader ----------------------------------------------------------------- */

typedef struct unit_info {
    const char *name;             /* CSV and JSON consumers' spelling */
    const char *shown;            /* after the number in text, or "" */
    int scale;                    /* 0: none; 1000 or 1024: a scaled form beside big values */
} unit_info;

static const unit_info units[TFX_UNIT_COUNT_] = {
    [TFX_UNIT_NONE] = {"", "", 0},
    [TFX_UNIT_PARAMS] = {"parameters", "", 1000},
    [TFX_UNIT_BYTES] = {"B", " B", 1024},
    [TFX_UNIT_FLOP] = {"FLOP", " FLOP", 1000},
    [TFX_UNIT_TOKENS] = {"tokens", " tokens", 0},
    [TFX_UNIT_SECONDS] = {"s", " s", 0},
    [TFX_UNIT_TOKENS_PER_S] = {"tokens/s", " tokens/s", 0},
    [TFX_UNIT_MIB] = {"MiB", " MiB", 0},
    [TFX_UNIT_GFLOP_PER_S] = {"GFLOP/s", " GFLOP/s", 0},
};

const char *tfx_unit_name(tfx_unit u) { return units[u].name; }

/* " (36.0 MiB)" / " (2.53 GFLOP)" / " (124 M)" for |v| of at least one scaled step, else "". */
static void scaled(char *buf, size_t cap, double v, tfx_unit u)
{
    static const char *const si[] = {"", "k", "M", "G", "T", "P", "E"};
    static const char *const bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int base = units[u].scale, step = 0;
    buf[0] = '\0';
    if (!base || fabs(v) < base)
        return;
    while (fabs(v) >= base && step < 6)
        v /= base, step++;
    int digits = fabs(v) < 9.995 ? 2 : fabs(v) < 99.95 ? 1 : 0;
    const char *name = u == TFX_UNIT_PARAMS ? "" : units[u].name;
    snprintf(buf, cap, "(%.*f %s%s)", digits, v, base == 1024 ? bin[step] : si[step], name);
}

double tfx_figure_number(const tfx_figure *f)
{
    return f->kind == TFX_VALUE_INT ? (double)f->i : f->kind == TFX_VALUE_REAL ? f->d : 0.0;
}

/* The integers joined by commas, cut with "…" where buf ends. */
static void ints_text(const tfx_figure *f, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (int64_t i = 0; i < f->n_ints; i++)
        if (tfx_text_append(buf, cap, "%s%" PRId64, i ? "," : "", f->ints[i]) < 0) {
            tfx_text_append(buf, cap, "...");
            return;
        }
}

/* v with `decimals` digits after the point and the whole part grouped: "27,943.4". */
static void real_text(char *buf, size_t cap, double v, int decimals)
{
    char raw[64];
    if (isnan(v)) { /* a figure that has no value: a loss at a length the positions cannot reach */
        snprintf(buf, cap, "n/a");
        return;
    }
    if (!isfinite(v) || fabs(v) >= 9e18) {
        snprintf(buf, cap, "%.*g", decimals + 3, v);
        return;
    }
    snprintf(raw, sizeof raw, "%.*f", decimals, v);
    const char *point = strchr(raw, '.');
    tfx_group_digits(buf, cap, (int64_t)strtoll(raw, NULL, 10));
    if (raw[0] == '-' && buf[0] != '-' && strlen(buf) + 2 < cap) { /* -0.5: the whole part is 0 */
        memmove(buf + 1, buf, strlen(buf) + 1);
        buf[0] = '-';
    }
    if (point)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s", point);
}

void tfx_figure_parts(const tfx_figure *f, char *main, size_t cap, char *scale, size_t scale_cap)
{
    char num[48];
    scale[0] = '\0';
    switch (f->kind) {
    case TFX_VALUE_INT:
        scaled(scale, scale_cap, (double)f->i, f->unit);
        snprintf(main, cap, "%s%s", tfx_group_digits(num, sizeof num, f->i), units[f->unit].shown);
        break;
    case TFX_VALUE_REAL:
        real_text(num, sizeof num, f->d, f->decimals);
        snprintf(main, cap, "%s%s", num, units[f->unit].shown);
        break;
    case TFX_VALUE_TEXT:
        snprintf(main, cap, "%s", f->text);
        break;
    case TFX_VALUE_INTS:
        ints_text(f, main, cap);
        break;
    case TFX_VALUE_LIST:
        main[0] = '\0';
        break;
    }
}

char *tfx_figure_text(const tfx_figure *f, char *buf, size_t cap)
{
    char scale[48];
    tfx_figure_parts(f, buf, cap, scale, sizeof scale);
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "%s%s", scale[0] ? " " : "", scale);
    return buf;
}
