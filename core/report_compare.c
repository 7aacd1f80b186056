/* core/report_compare.c — formats `tfx compare`: a table of rows (dims, parameters, memory,
 * FLOPs) by columns in text, markdown, CSV or JSON, and an SVG chart of the same figures. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#include "compare.h"
#include "files.h"
#include "text.h"

/* ---- the rows, defined once for every format ---------------------------------------------- */

typedef struct row {
    const char *section, *name;
    int64_t (*get)(const tfx_params_item *it, int arg);
    int arg;
} row;

static int64_t dim(const tfx_params_item *it, int which)
{
    const tfx_spec *s = it->loaded->spec;
    int64_t layers = 0;
    for (int i = 0; i < s->n_stacks; i++)
        layers += s->stacks[i].layers;
    const int64_t dims[] = {s->vocab, s->d_model, s->heads, s->kv_heads, s->head_dim, layers, s->context};
    return dims[which];
}
static int64_t part(const tfx_params_item *it, int p) { return it->counts->part[p]; }
static int64_t total(const tfx_params_item *it, int which)
{
    const int64_t v[] = {it->counts->total, it->counts->active, it->counts->trainable};
    return v[which];
}
static int64_t memory(const tfx_params_item *it, int which)
{
    const tfx_memory *m = &it->memory;
    const uint64_t v[] = {m->weights_fp32, m->weights_fp16, m->kv_cache, m->activations,
                          m->training, m->train_activations};
    return (int64_t)v[which];
}
static int64_t flops(const tfx_params_item *it, int which)
{
    return (int64_t)(which ? it->flops.training_per_token : it->flops.forward_per_token);
}

static const row rows[] = {
    {"dims", "vocab", dim, 0}, {"dims", "d_model", dim, 1}, {"dims", "heads", dim, 2},
    {"dims", "kv_heads", dim, 3}, {"dims", "head_dim", dim, 4}, {"dims", "layers", dim, 5},
    {"dims", "context", dim, 6},
    {"parameters", "embedding", part, TFX_PART_EMBEDDING}, {"parameters", "position", part, TFX_PART_POSITION},
    {"parameters", "attention", part, TFX_PART_ATTENTION}, {"parameters", "ffn", part, TFX_PART_FFN},
    {"parameters", "norm", part, TFX_PART_NORM}, {"parameters", "pooler", part, TFX_PART_POOLER},
    {"parameters", "head", part, TFX_PART_HEAD}, {"parameters", "total", total, 0},
    {"parameters", "active", total, 1}, {"parameters", "trainable", total, 2},
    {"memory", "weights_fp32", memory, 0}, {"memory", "weights_fp16", memory, 1},
    {"memory", "kv_cache", memory, 2}, {"memory", "activations", memory, 3},
    {"memory", "training", memory, 4}, {"memory", "train_activations", memory, 5},
    {"flops", "forward_per_token", flops, 0}, {"flops", "training_per_token", flops, 1},
};
#define N_ROWS (sizeof rows / sizeof rows[0])

/* The measured rows of `--run`: real numbers, present when any column was run. */
typedef struct run_row {
    const char *name;
    double (*get)(const tfx_run_figures *f);
} run_row;

static double prefill_tps(const tfx_run_figures *f) { return f->prefill_tokens_per_s; }
static double decode_tps(const tfx_run_figures *f) { return f->decode_tokens_per_s; }
static double peak_rss(const tfx_run_figures *f) { return f->peak_rss_mib; }

static const run_row run_rows[] = {
    {"prefill_tokens_per_s", prefill_tps}, {"decode_tokens_per_s", decode_tps},
    {"peak_rss_mib", peak_rss},
};
#define N_RUN_ROWS (sizeof run_rows / sizeof run_rows[0])

static int any_run(const tfx_compare_column *cols, int n)
{
    for (int c = 0; c < n; c++)
        if (cols[c].run.measured || cols[c].run.error[0])
            return 1;
    return 0;
}

/* A column's title fits whole: a recipe name is at most TFX_MAX_NAME bytes. */
#define TITLE_CAP (TFX_MAX_NAME + 1 + sizeof ((tfx_compare_column *)0)->label)

/* "name label" into buf[TITLE_CAP]. */
static void column_title(const tfx_compare_column *c, char *buf, size_t cap)
{
    if (tfx_text(buf, cap, "%s%s%s", c->loaded->spec->name, c->label[0] ? " " : "", c->label) < 0)
        tfx_text(buf, cap, "?");
}

/* "+12.5%" of v against base; "" when equal or base is 0. */
static void diff_text(int64_t v, int64_t base, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (v == base)
        return;
    if (base == 0)
        snprintf(buf, cap, "new");
    else
        snprintf(buf, cap, "%+.1f%%", 100.0 * ((double)v - (double)base) / (double)base);
}

/* ---- text and markdown -------------------------------------------------------------------- */

static void table(FILE *out, const tfx_compare_column *cols, int n, int markdown)
{
    char title[TITLE_CAP], num[32], diff[32], cell[80];
    if (markdown) {
        fprintf(out, "| |");
        for (int c = 0; c < n; c++) {
            column_title(&cols[c], title, sizeof title);
            fprintf(out, " %s |", title);
        }
        fputc('\n', out);
    } else {
        /* The name, then one header line per sweep assignment, each cut to the column. */
        for (int line = 0;; line++) {
            int printed = 0;
            fprintf(out, "%-30s", "");
            for (int c = 0; c < n; c++) {
                const char *text = line == 0 ? cols[c].loaded->spec->name : cols[c].label;
                for (int k = 1; k < line && text; k++)
                    text = strchr(text, ' ') ? strchr(text, ' ') + 1 : NULL;
                int len = text ? (int)(strchr(text, ' ') ? strchr(text, ' ') - text : (long)strlen(text)) : 0;
                printed |= len > 0;
                fprintf(out, "%30.*s", len > 29 ? 29 : len, text ? text + (len > 29 ? len - 29 : 0) : "");
            }
            fputc('\n', out);
            if (!printed && line > 0)
                break;
        }
    }
    if (markdown) {
        fprintf(out, "| --- |");
        for (int c = 0; c < n; c++)
            fprintf(out, " ---: |");
        fputc('\n', out);
    }
    const char *section = "";
    for (size_t r = 0; r < N_ROWS; r++) {
        if (strcmp(section, rows[r].section) != 0) {
            section = rows[r].section;
            fprintf(out, markdown ? "| **%s** |" : "%s\n", section);
            for (int c = 0; markdown && c < n; c++)
                fprintf(out, " |");
            if (markdown)
                fputc('\n', out);
        }
        int64_t base = rows[r].get(&cols[0].item, rows[r].arg);
        fprintf(out, markdown ? "| %s |" : "  %-28s", rows[r].name);
        for (int c = 0; c < n; c++) {
            int64_t v = rows[r].get(&cols[c].item, rows[r].arg);
            tfx_group_digits(num, sizeof num, v);
            diff_text(v, base, diff, sizeof diff);
            snprintf(cell, sizeof cell, diff[0] && c ? "%s (%s)" : "%s", num, diff);
            fprintf(out, markdown ? " %s |" : "%30s", cell);
        }
        fputc('\n', out);
    }
    tfx_report_compare_train(out, cols, n, markdown);
    if (!any_run(cols, n))
        return;
    const tfx_run_figures *shown = &cols[0].run; /* the first that ran gives the lengths */
    for (int c = n - 1; c >= 0; c--)
        if (cols[c].run.measured)
            shown = &cols[c].run;
    fprintf(out, markdown ? "| **run** (%" PRId64 "-token prefill, %" PRId64 " decode steps) |"
                          : "run (%" PRId64 "-token prefill, %" PRId64 " decode steps)\n",
            shown->prefill_tokens, shown->decode_tokens);
    for (int c = 0; markdown && c < n; c++)
        fprintf(out, " |");
    if (markdown)
        fputc('\n', out);
    for (size_t r = 0; r < N_RUN_ROWS; r++) {
        const tfx_run_figures *first = &cols[0].run;
        fprintf(out, markdown ? "| %s |" : "  %-28s", run_rows[r].name);
        for (int c = 0; c < n; c++) {
            const tfx_run_figures *f = &cols[c].run;
            double v = run_rows[r].get(f), base = run_rows[r].get(first);
            if (!f->measured)
                snprintf(cell, sizeof cell, "failed");
            else if (c && first->measured && base > 0)
                snprintf(cell, sizeof cell, "%.1f (%+.1f%%)", v, 100.0 * (v - base) / base);
            else
                snprintf(cell, sizeof cell, "%.1f", v);
            fprintf(out, markdown ? " %s |" : "%30s", cell);
        }
        fputc('\n', out);
    }
}

/* ---- CSV and JSON ------------------------------------------------------------------------- */

static void csv(FILE *out, const tfx_compare_column *cols, int n)
{
    char title[TITLE_CAP];
    fprintf(out, "section,row");
    for (int c = 0; c < n; c++) {
        column_title(&cols[c], title, sizeof title);
        fprintf(out, ",\"%s\"", title);
    }
    fputc('\n', out);
    for (size_t r = 0; r < N_ROWS; r++) {
        fprintf(out, "%s,%s", rows[r].section, rows[r].name);
        for (int c = 0; c < n; c++)
            fprintf(out, ",%" PRId64, rows[r].get(&cols[c].item, rows[r].arg));
        fputc('\n', out);
    }
    tfx_report_compare_train_csv(out, cols, n);
    for (size_t r = 0; any_run(cols, n) && r < N_RUN_ROWS; r++) {
        fprintf(out, "run,%s", run_rows[r].name);
        for (int c = 0; c < n; c++)
            if (cols[c].run.measured)
                fprintf(out, ",%.3f", run_rows[r].get(&cols[c].run));
            else
                fprintf(out, ",");
        fputc('\n', out);
    }
}

static int json(FILE *out, const tfx_compare_column *cols, int n)
{
    json_t *all = json_array();
    for (int c = 0; c < n; c++) {
        json_t *col = json_pack("{s:s, s:s, s:s}", "name", cols[c].loaded->spec->name, "recipe",
                                cols[c].item.path, "sweep", cols[c].label);
        json_t *diff = json_object();
        for (size_t r = 0; r < N_ROWS; r++) {
            json_t *section = json_object_get(col, rows[r].section);
            if (!section)
                json_object_set_new(col, rows[r].section, section = json_object());
            int64_t v = rows[r].get(&cols[c].item, rows[r].arg);
            json_object_set_new(section, rows[r].name, json_integer(v));
            char key[96];
            snprintf(key, sizeof key, "%s.%s", rows[r].section, rows[r].name);
            json_object_set_new(diff, key, json_integer(v - rows[r].get(&cols[0].item, rows[r].arg)));
        }
        const tfx_run_figures *f = &cols[c].run, *first = &cols[0].run;
        if (f->measured) {
            json_t *run = json_pack("{s:I, s:I}", "prefill_tokens", (json_int_t)f->prefill_tokens,
                                    "decode_tokens", (json_int_t)f->decode_tokens);
            for (size_t r = 0; r < N_RUN_ROWS; r++) {
                char key[96];
                json_object_set_new(run, run_rows[r].name, json_real(run_rows[r].get(f)));
                snprintf(key, sizeof key, "run.%s", run_rows[r].name);
                if (first->measured)
                    json_object_set_new(diff, key, json_real(run_rows[r].get(f) - run_rows[r].get(first)));
            }
            json_object_set_new(col, "run", run);
        } else if (f->error[0]) {
            json_object_set_new(col, "run", json_pack("{s:s}", "error", f->error));
        }
        if (cols[c].train.measured || cols[c].train.error[0])
            json_object_set_new(col, "train", tfx_compare_train_json(&cols[c].train));
        json_object_set_new(col, "diff_to_first", diff);
        json_array_append_new(all, col);
    }
    int rc = json_dumpf(all, out, JSON_INDENT(2));
    fputc('\n', out);
    json_decref(all);
    return rc;
}

int tfx_report_compare(FILE *out, tfx_format fmt, const tfx_compare_column *cols, int n)
{
    switch (fmt) {
    case TFX_FORMAT_TEXT:
    case TFX_FORMAT_MARKDOWN:
        table(out, cols, n, fmt == TFX_FORMAT_MARKDOWN);
        break;
    case TFX_FORMAT_CSV:
        csv(out, cols, n);
        break;
    case TFX_FORMAT_JSON:
        return json(out, cols, n);
    }
    return ferror(out) ? -1 : 0;
}

/* ---- SVG ---------------------------------------------------------------------------------- */

static const char *const part_colours[TFX_PART_COUNT] = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1"};

#define PANEL_H 260
#define BAR_W 36
#define GROUP_GAP 40
#define LEFT 90

/* Text for XML: markup characters as entities, control characters (which XML 1.0 forbids)
 * as tfx_escape writes them. */
static void xml_text(FILE *f, const char *raw)
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

/* One panel of bars: values[c][k] for column c and series k, scaled to the largest. */
static void panel(FILE *f, int top, const char *title, const char *unit, const tfx_compare_column *cols,
                  int n, int series, const char *const *names, const char *const *colours,
                  double values[][8], int stacked)
{
    double max = 0;
    for (int c = 0; c < n; c++) {
        double sum = 0;
        for (int k = 0; k < series; k++) {
            sum = stacked ? sum + values[c][k] : values[c][k];
            if (sum > max)
                max = sum;
        }
    }
    if (max <= 0)
        max = 1;
    int group = stacked ? BAR_W : BAR_W * series;
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"title\">%s (%s)</text>\n", LEFT, top + 18, title, unit);
    int base = top + PANEL_H - 40, height = PANEL_H - 80;
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n", LEFT - 5, base,
            LEFT + n * (group + GROUP_GAP), base);
    for (int t = 0; t <= 4; t++) {
        int y = base - height * t / 4;
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"axis\" text-anchor=\"end\">%.4g</text>\n", LEFT - 8, y + 4, max * t / 4);
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#eee\"/>\n", LEFT, y,
                LEFT + n * (group + GROUP_GAP), y);
    }
    for (int c = 0; c < n; c++) {
        int x = LEFT + 10 + c * (group + GROUP_GAP);
        double below = 0;
        for (int k = 0; k < series; k++) {
            double h = values[c][k] / max * height;
            int bx = stacked ? x : x + k * BAR_W;
            double by = base - (stacked ? below : 0) - h;
            fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>",
                    bx, by, BAR_W - 4, h, colours[k]);
            xml_text(f, names[k]);
            fprintf(f, ": %.4g %s</title></rect>\n", values[c][k], unit);
            if (stacked)
                below += h;
        }
        /* The column's number under its bars; the key below the panels names it in full. */
        char label[TITLE_CAP];
        column_title(&cols[c], label, sizeof label);
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"label\" text-anchor=\"middle\">%d<title>",
                x + (group - 4) / 2, base + 16, c + 1);
        xml_text(f, label);
        fputs("</title></text>\n", f);
    }
    int lx = LEFT + n * (group + GROUP_GAP) + 10;
    for (int k = 0; k < series; k++) {
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", lx, top + 30 + 18 * k, colours[k]);
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"axis\">%s</text>\n", lx + 18, top + 41 + 18 * k, names[k]);
    }
}

int tfx_compare_svg(const char *path, const tfx_compare_column *cols, int n, tfx_error *err)
{
    tfx_output out;
    if (tfx_output_open(&out, path, "--svg", err))
        return -1;
    FILE *f = out.f;
    int run = any_run(cols, n), panels = run ? 4 : 3;
    int width = LEFT + n * (BAR_W * 3 + GROUP_GAP) + 220;
    int height = panels * PANEL_H + 40 + 18 * n + tfx_compare_svg_curves(NULL, 0, 0, cols, n);
    if (width < 760)
        width = 760;
    if (tfx_compare_any_trained(cols, n) && width < 900)
        width = 900; /* the line panels and their key */
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n"
               "<style>text{font-family:sans-serif}.title{font-size:15px;font-weight:bold}"
               ".axis{font-size:11px;fill:#444}.label{font-size:11px}</style>\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", width, height, width, height);
    double (*v)[8] = calloc((size_t)n, sizeof *v);
    if (!v) {
        tfx_output_abort(&out);
        return tfx_fail(err, "out of memory");
    }
    const char *part_names[TFX_PART_COUNT];
    for (int p = 0; p < TFX_PART_COUNT; p++)
        part_names[p] = tfx_part_name((tfx_part)p);
    for (int c = 0; c < n; c++)
        for (int p = 0; p < TFX_PART_COUNT; p++)
            v[c][p] = (double)cols[c].item.counts->part[p] / 1e6;
    panel(f, 0, "Parameters by component", "millions", cols, n, TFX_PART_COUNT, part_names, part_colours, v, 1);
    static const char *const mem_names[] = {"weights fp16", "KV cache", "training"};
    static const char *const mem_colours[] = {"#4e79a7", "#f28e2b", "#e15759"};
    for (int c = 0; c < n; c++) {
        const tfx_memory *m = &cols[c].item.memory;
        v[c][0] = (double)m->weights_fp16 / (1u << 30);
        v[c][1] = (double)m->kv_cache / (1u << 30);
        v[c][2] = (double)m->training / (1u << 30);
    }
    panel(f, PANEL_H, "Memory", "GiB", cols, n, 3, mem_names, mem_colours, v, 0);
    static const char *const flop_names[] = {"forward per token"};
    static const char *const flop_colours[] = {"#59a14f"};
    for (int c = 0; c < n; c++)
        v[c][0] = (double)cols[c].item.flops.forward_per_token / 1e9;
    panel(f, 2 * PANEL_H, "FLOPs per token", "GFLOP", cols, n, 1, flop_names, flop_colours, v, 0);
    if (run) {
        static const char *const run_names[] = {"prefill", "decode"};
        static const char *const run_colours[] = {"#4e79a7", "#e15759"};
        for (int c = 0; c < n; c++) {
            v[c][0] = cols[c].run.prefill_tokens_per_s;
            v[c][1] = cols[c].run.decode_tokens_per_s;
        }
        panel(f, 3 * PANEL_H, "Measured speed", "tokens/s", cols, n, 2, run_names, run_colours, v, 0);
    }
    /* The key: each column's number and full name. */
    int ky = panels * PANEL_H + 20;
    ky += tfx_compare_svg_curves(f, panels * PANEL_H, width, cols, n);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"title\">Columns</text>\n", LEFT, ky);
    for (int c = 0; c < n; c++) {
        char label[TITLE_CAP];
        column_title(&cols[c], label, sizeof label);
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"label\">%d  ", LEFT, ky + 18 * (c + 1), c + 1);
        xml_text(f, label);
        fputs(cols[c].run.error[0] ? " (did not run)</text>\n" : "</text>\n", f);
    }
    fputs("</svg>\n", f);
    free(v);
    return tfx_output_commit(&out, err);
}
