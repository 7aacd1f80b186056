/* core/doc_emit.c — the four generic emitters of a report document: aligned text, markdown
 * tables, CSV rows and nested JSON (through jansson). They format; they never compute. */
#include <inttypes.h>
#include <math.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"

#define VALUE_CAP 1024

/* The value as a reader sees it; a list of integers goes out whole, not through a buffer. */
static void value_out(FILE *out, const tfx_figure *f)
{
    char buf[VALUE_CAP];
    if (f->kind != TFX_VALUE_INTS) {
        fputs(tfx_figure_text(f, buf, sizeof buf), out);
        return;
    }
    for (int64_t i = 0; i < f->n_ints; i++)
        fprintf(out, "%s%" PRId64, i ? "," : "", f->ints[i]);
}

static bool numeric(const tfx_figure *f) { return f->kind == TFX_VALUE_INT || f->kind == TFX_VALUE_REAL; }

/* ---- table groups: keys PREFIX.ROW.COLUMN ------------------------------------------------- */

/* The ROW and COLUMN segments of a table figure's key (pointers into it; row is cut at '.'). */
static void row_col(const tfx_doc_group *g, const tfx_figure *f, const char **row, size_t *row_len,
                    const char **col)
{
    const char *rest = f->key + strlen(g->prefix) + (g->prefix[0] ? 1 : 0);
    const char *dot = strchr(rest, '.');
    *row = rest;
    *row_len = dot ? (size_t)(dot - rest) : strlen(rest);
    *col = dot ? dot + 1 : "";
}

/* Figures [i, end) of a table group share one ROW; returns end. */
static size_t row_end(const tfx_doc *d, const tfx_doc_group *g, size_t i)
{
    const char *row, *r2, *col;
    size_t len, len2, end = i + 1;
    row_col(g, &d->figs[i], &row, &len, &col);
    for (; end < g->first + g->n; end++) {
        row_col(g, &d->figs[end], &r2, &len2, &col);
        if (len2 != len || strncmp(row, r2, len) != 0)
            break;
    }
    return end;
}

static bool same_values(const tfx_doc *d, size_t a, size_t b, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (tfx_figure_number(&d->figs[a + k]) != tfx_figure_number(&d->figs[b + k]))
            return false;
    return true;
}

static void text_table(FILE *out, const tfx_doc *d, const tfx_doc_group *g)
{
    const char *row, *col;
    size_t len, first_end = row_end(d, g, g->first), cols = first_end - g->first;
    fprintf(out, "  %-20s", g->title);
    for (size_t k = g->first; k < first_end; k++) {
        row_col(g, &d->figs[k], &row, &len, &col);
        fprintf(out, " %14s", col);
    }
    fputc('\n', out);
    for (size_t i = g->first; i < g->first + g->n;) {
        /* identical rows in a run print once, as "first-last (each)" */
        size_t end = i + cols;
        while (end + cols <= g->first + g->n && same_values(d, i, end, cols))
            end += cols;
        char label[64], last[64], num[32];
        row_col(g, &d->figs[i], &row, &len, &col);
        snprintf(label, sizeof label, "%.*s", (int)len, row);
        if (end - i > cols) {
            row_col(g, &d->figs[end - cols], &row, &len, &col);
            snprintf(last, sizeof last, "-%.*s (each)", (int)len, row);
            strncat(label, last, sizeof label - strlen(label) - 1);
        }
        fprintf(out, "  %-20s", label);
        for (size_t k = 0; k < cols && i + k < g->first + g->n; k++)
            fprintf(out, " %14s", tfx_group_digits(num, sizeof num, d->figs[i + k].i));
        fputc('\n', out);
        i = end;
    }
}

/* ---- text --------------------------------------------------------------------------------- */

/* Widths of a plain group's columns: label, value, scaled value. */
static void text_widths(const tfx_doc *d, const tfx_doc_group *g, int w[3])
{
    char main[VALUE_CAP], scale[64];
    w[0] = w[1] = w[2] = 0;
    for (size_t i = g->first; i < g->first + g->n; i++) {
        const tfx_figure *f = &d->figs[i];
        if (f->detail)
            continue;
        int l = (int)strlen(f->label);
        w[0] = l > w[0] && l <= 28 ? l : w[0];
        if (!numeric(f))
            continue;
        tfx_figure_parts(f, main, sizeof main, scale, sizeof scale);
        w[1] = (int)strlen(main) > w[1] ? (int)strlen(main) : w[1];
        w[2] = (int)strlen(scale) > w[2] ? (int)strlen(scale) : w[2];
    }
}

static void text_group(FILE *out, const tfx_doc *d, const tfx_doc_group *g)
{
    if (g->table) {
        fputc('\n', out);
        text_table(out, d, g);
        return;
    }
    int w[3];
    char main[VALUE_CAP], scale[64];
    text_widths(d, g, w);
    if (g->title[0])
        fprintf(out, "\n  %s\n", g->title);
    const char *indent = g->title[0] ? "    " : "  ";
    for (size_t i = g->first; i < g->first + g->n; i++) {
        const tfx_figure *f = &d->figs[i];
        if (f->kind == TFX_VALUE_LIST || f->detail)
            continue;
        fprintf(out, "%s%-*s ", indent, w[0], f->label);
        if (numeric(f)) {
            tfx_figure_parts(f, main, sizeof main, scale, sizeof scale);
            fprintf(out, "%*s", w[1], main);
            if (scale[0] || f->formula)
                fprintf(out, " %-*s", f->formula ? w[2] : 0, scale);
        } else {
            value_out(out, f);
        }
        if (f->formula)
            fprintf(out, "  %s", f->formula);
        fputc('\n', out);
    }
}

/* Whether text shows anything of the group. */
static bool shown(const tfx_doc *d, const tfx_doc_group *g)
{
    for (size_t i = g->first; i < g->first + g->n; i++)
        if (!d->figs[i].detail && d->figs[i].kind != TFX_VALUE_LIST)
            return true;
    return false;
}

static void text_doc(FILE *out, const tfx_doc *d)
{
    fprintf(out, "%s\n", d->title);
    for (size_t g = 0; g < d->n_groups; g++)
        if (shown(d, &d->groups[g]))
            text_group(out, d, &d->groups[g]);
}

/* ---- markdown ----------------------------------------------------------------------------- */

void tfx_md_cell(FILE *out, const char *s)
{
    for (; *s; s++)
        fputs(*s == '|' ? "\\|" : (char[2]){*s, 0}, out);
}

static void md_table(FILE *out, const tfx_doc *d, const tfx_doc_group *g)
{
    const char *row, *col;
    size_t len, first_end = row_end(d, g, g->first), cols = first_end - g->first;
    fputs("\n| ", out);
    tfx_md_cell(out, g->title);
    for (size_t k = g->first; k < first_end; k++) {
        row_col(g, &d->figs[k], &row, &len, &col);
        fprintf(out, " | %s", col);
    }
    fputs(" |\n| ---", out);
    for (size_t k = 0; k < cols; k++)
        fputs(" | ---:", out);
    fputs(" |\n", out);
    for (size_t i = g->first; i < g->first + g->n; i += cols) {
        char num[32];
        row_col(g, &d->figs[i], &row, &len, &col);
        fprintf(out, "| `%s%s%.*s` |", g->prefix, g->prefix[0] ? "." : "", (int)len, row);
        for (size_t k = 0; k < cols && i + k < g->first + g->n; k++)
            fprintf(out, " %s |", tfx_group_digits(num, sizeof num, d->figs[i + k].i));
        fputc('\n', out);
    }
}

static void md_group(FILE *out, const tfx_doc *d, const tfx_doc_group *g)
{
    if (g->table) {
        md_table(out, d, g);
        return;
    }
    fputs("\n| ", out);
    tfx_md_cell(out, g->title[0] ? g->title : "figure");
    fputs(" | value | formula | key |\n| --- | ---: | --- | --- |\n", out);
    for (size_t i = g->first; i < g->first + g->n; i++) {
        const tfx_figure *f = &d->figs[i];
        if (f->kind == TFX_VALUE_LIST)
            continue;
        char buf[VALUE_CAP];
        fputs("| ", out);
        tfx_md_cell(out, f->label + strspn(f->label, " ")); /* indentation is text's, not a table's */
        fputs(" | ", out);
        if (f->kind == TFX_VALUE_INTS)
            value_out(out, f);
        else
            tfx_md_cell(out, tfx_figure_text(f, buf, sizeof buf));
        fputs(" | ", out);
        tfx_md_cell(out, f->formula ? f->formula : "");
        fprintf(out, " | `%s` |\n", f->key);
    }
}

static void md_doc(FILE *out, const tfx_doc *d)
{
    fputs("### ", out);
    tfx_md_cell(out, d->title);
    fputc('\n', out);
    for (size_t g = 0; g < d->n_groups; g++)
        if (d->groups[g].n)
            md_group(out, d, &d->groups[g]);
    fputc('\n', out);
}

/* ---- CSV ---------------------------------------------------------------------------------- */

void tfx_csv_field(FILE *out, const char *s, bool always)
{
    if (!always && !strpbrk(s, ",\"\n\r")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++)
        fputs(*s == '"' ? "\"\"" : (char[2]){*s, 0}, out);
    fputc('"', out);
}

static void csv_value(FILE *out, const tfx_figure *f)
{
    switch (f->kind) {
    case TFX_VALUE_INT: fprintf(out, "%" PRId64, f->i); break;
    case TFX_VALUE_REAL:
        if (!isnan(f->d)) /* NaN: an empty field */
            fprintf(out, "%.15g", f->d);
        break;
    case TFX_VALUE_TEXT: tfx_csv_field(out, f->text, false); break;
    case TFX_VALUE_INTS:
        fputc('"', out);
        value_out(out, f);
        fputc('"', out);
        break;
    case TFX_VALUE_LIST: break;
    }
}

static void csv_doc(FILE *out, const tfx_doc *d)
{
    for (size_t i = 0; i < d->n_figs; i++) {
        const tfx_figure *f = &d->figs[i];
        if (f->kind == TFX_VALUE_LIST)
            continue;
        tfx_csv_field(out, d->name, false);
        fprintf(out, ",%s,", f->key);
        csv_value(out, f);
        fprintf(out, ",%s,", tfx_unit_name(f->unit));
        tfx_csv_field(out, f->formula ? f->formula : "", false);
        fputc('\n', out);
    }
}

/* ---- JSON --------------------------------------------------------------------------------- */

static bool is_index(const char *seg, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (seg[i] < '0' || seg[i] > '9')
            return false;
    return len > 0;
}

static json_t *json_value(const tfx_figure *f)
{
    switch (f->kind) {
    case TFX_VALUE_INT: return json_integer(f->i);
    case TFX_VALUE_REAL: return isnan(f->d) ? json_null() : json_real(f->d); /* JSON has no NaN */
    case TFX_VALUE_TEXT: return json_string(f->text);
    case TFX_VALUE_INTS: {
        json_t *a = json_array();
        for (int64_t i = 0; a && i < f->n_ints; i++)
            json_array_append_new(a, json_integer(f->ints[i]));
        return a;
    }
    case TFX_VALUE_LIST: return json_array();
    }
    return NULL;
}

/* Container `c`'s child named by seg[0..len) (an index into an array), made when absent: an
 * array when the next segment is an index, else an object. Borrowed, or NULL. */
static json_t *child(json_t *c, const char *seg, size_t len, bool next_index)
{
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)len, seg);
    json_t *have = json_is_array(c) ? json_array_get(c, strtoul(name, NULL, 10)) : json_object_get(c, name);
    if (have)
        return have;
    json_t *made = next_index ? json_array() : json_object();
    if (json_is_array(c) ? json_array_append_new(c, made) : json_object_set_new(c, name, made))
        return NULL;
    return made;
}

/* Put f's value at its dotted path under root; 0 or -1. */
static int json_put(json_t *root, const tfx_figure *f)
{
    json_t *c = root;
    const char *seg = f->key;
    for (const char *dot; c && (dot = strchr(seg, '.')); seg = dot + 1) {
        const char *next = dot + 1, *end = strchr(next, '.');
        c = child(c, seg, (size_t)(dot - seg), is_index(next, end ? (size_t)(end - next) : strlen(next)));
    }
    json_t *v = c ? json_value(f) : NULL;
    if (!v)
        return -1;
    return json_is_array(c) ? json_array_append_new(c, v) : json_object_set_new(c, seg, v);
}

json_t *tfx_doc_json(const tfx_doc *d)
{
    json_t *root = json_object();
    for (size_t i = 0; root && i < d->n_figs; i++)
        if (json_put(root, &d->figs[i])) {
            json_decref(root);
            return NULL;
        }
    return root;
}

static int json_docs(FILE *out, const tfx_doc *docs, int n)
{
    json_t *all = n == 1 ? tfx_doc_json(&docs[0]) : json_array();
    for (int i = 0; n > 1 && all && i < n; i++)
        if (json_array_append_new(all, tfx_doc_json(&docs[i]))) {
            json_decref(all);
            all = NULL;
        }
    int rc = all ? json_dumpf(all, out, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : -1;
    if (rc == 0)
        fputc('\n', out);
    json_decref(all);
    return rc;
}

int tfx_doc_emit(FILE *out, tfx_format fmt, const tfx_doc *docs, int n, tfx_error *err)
{
    for (int i = 0; i < n; i++)
        if (docs[i].failed) {
            *err = docs[i].err;
            return -1;
        }
    int rc = 0;
    if (fmt == TFX_FORMAT_CSV)
        fputs("name,key,value,unit,formula\n", out);
    for (int i = 0; i < n && fmt != TFX_FORMAT_JSON; i++) {
        if (fmt == TFX_FORMAT_TEXT)
            text_doc(out, &docs[i]);
        else if (fmt == TFX_FORMAT_MARKDOWN)
            md_doc(out, &docs[i]);
        else
            csv_doc(out, &docs[i]);
        if (fmt == TFX_FORMAT_TEXT && i + 1 < n)
            fputc('\n', out);
    }
    if (fmt == TFX_FORMAT_JSON)
        rc = json_docs(out, docs, n);
    if (rc || ferror(out))
        return tfx_fail(err, "cannot write the report");
    return 0;
}
