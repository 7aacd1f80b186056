/* core/report_compare.c — `tfx compare`'s report: one document per column (dims, parameters,
 * memory, FLOPs, what --run measured) diffed by core/doc_diff.c, and the SVG chart of them. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#include "compare.h"
#include "doc.h"
#include "files.h"
#include "text.h"

/* ---- each column's document -------------------------------------------------------------- */

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

static void doc_dims(tfx_doc *d, const tfx_spec *s)
{
    int64_t layers = 0;
    for (int i = 0; i < s->n_stacks; i++)
        layers += s->stacks[i].layers;
    tfx_doc_group_start(d, "dims", "dims", false);
    tfx_doc_int(d, "vocab", NULL, s->vocab, TFX_UNIT_NONE, NULL);
    tfx_doc_int(d, "d_model", NULL, s->d_model, TFX_UNIT_NONE, NULL);
    tfx_doc_int(d, "heads", NULL, s->heads, TFX_UNIT_NONE, NULL);
    tfx_doc_int(d, "kv_heads", NULL, s->kv_heads, TFX_UNIT_NONE, NULL);
    tfx_doc_int(d, "head_dim", NULL, s->head_dim, TFX_UNIT_NONE, NULL);
    tfx_doc_int(d, "layers", NULL, layers, TFX_UNIT_NONE, "every stack's");
    tfx_doc_int(d, "context", NULL, s->context, TFX_UNIT_TOKENS, NULL);
}

static void doc_costs(tfx_doc *d, const tfx_params_item *it)
{
    tfx_doc_group_start(d, "parameters", "parameters", false);
    for (int p = 0; p < TFX_PART_COUNT; p++)
        tfx_doc_int(d, tfx_part_name((tfx_part)p), NULL, it->counts->part[p], TFX_UNIT_PARAMS, NULL);
    tfx_doc_int(d, "total", NULL, it->counts->total, TFX_UNIT_PARAMS, NULL);
    const tfx_memory *m = &it->memory;
    tfx_doc_group_start(d, "memory", "memory", false);
    tfx_doc_int(d, "weights_fp32", NULL, (int64_t)m->weights_fp32, TFX_UNIT_BYTES, NULL);
    tfx_doc_int(d, "weights_fp16", NULL, (int64_t)m->weights_fp16, TFX_UNIT_BYTES, NULL);
    tfx_doc_int(d, "kv_cache", NULL, (int64_t)m->kv_cache, TFX_UNIT_BYTES, NULL);
    tfx_doc_int(d, "kv_cache_cross", NULL, (int64_t)m->kv_cache_cross, TFX_UNIT_BYTES, NULL);
    tfx_doc_int(d, "activations", NULL, (int64_t)m->activations, TFX_UNIT_BYTES, NULL);
    tfx_doc_int(d, "training", NULL, (int64_t)m->training, TFX_UNIT_BYTES, NULL);
    tfx_doc_int(d, "train_activations", NULL, (int64_t)m->train_activations, TFX_UNIT_BYTES, NULL);
    tfx_doc_group_start(d, "flops", "flops", false);
    tfx_doc_int(d, "forward_per_token", NULL, (int64_t)it->flops.forward_per_token, TFX_UNIT_FLOP, NULL);
    tfx_doc_int(d, "training_per_token", NULL, (int64_t)it->flops.training_per_token, TFX_UNIT_FLOP, NULL);
}

static void doc_run(tfx_doc *d, const tfx_run_figures *f)
{
    char title[96];
    snprintf(title, sizeof title, "run (%" PRId64 "-token prefill, %" PRId64 " decode steps)",
             f->prefill_tokens, f->decode_tokens);
    tfx_doc_group_start(d, "run", title, false);
    if (!f->measured) {
        tfx_doc_text(d, "error", NULL, f->error, NULL);
        return;
    }
    tfx_doc_int(d, "prefill_tokens", NULL, f->prefill_tokens, TFX_UNIT_TOKENS, NULL);
    tfx_doc_int(d, "decode_tokens", NULL, f->decode_tokens, TFX_UNIT_TOKENS, NULL);
    tfx_doc_real(d, "prefill_tokens_per_s", NULL, f->prefill_tokens_per_s, 1, TFX_UNIT_TOKENS_PER_S, NULL);
    tfx_doc_real(d, "decode_tokens_per_s", NULL, f->decode_tokens_per_s, 1, TFX_UNIT_TOKENS_PER_S, NULL);
    tfx_doc_real(d, "peak_rss_mib", NULL, f->peak_rss_mib, 1, TFX_UNIT_MIB, NULL);
}

void tfx_doc_compare_column(tfx_doc *d, const tfx_compare_column *c)
{
    char title[TITLE_CAP];
    column_title(c, title, sizeof title);
    tfx_doc_init(d, c->loaded->spec->name, title);
    tfx_doc_text(d, "name", NULL, c->loaded->spec->name, NULL);
    tfx_doc_text(d, "recipe", NULL, c->item.path, NULL);
    tfx_doc_text(d, "sweep", NULL, c->label, NULL);
    doc_dims(d, c->loaded->spec);
    doc_costs(d, &c->item);
    if (c->run.measured || c->run.error[0])
        doc_run(d, &c->run);
}

int tfx_report_compare(FILE *out, tfx_format fmt, const tfx_compare_column *cols, int n, int width,
                       tfx_error *err)
{
    tfx_doc *docs = calloc(n > 0 ? (size_t)n : 1, sizeof *docs);
    if (!docs)
        return tfx_fail(err, "out of memory");
    for (int c = 0; c < n; c++)
        tfx_doc_compare_column(&docs[c], &cols[c]);
    int rc = tfx_doc_diff_emit(out, fmt, docs, n, width, err);
    for (int c = 0; c < n; c++)
        tfx_doc_free(&docs[c]);
    free(docs);
    return rc;
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
    int height = panels * PANEL_H + 40 + 18 * n;
    if (width < 760)
        width = 760;
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
