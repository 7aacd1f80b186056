/* core/report_shapes.c — `tfx params --shapes`: every declared tensor with its shape, and the
 * output shape of every component for a batch and context (what people work out by hand). */
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "sizes.h"

#define MAX_ROWS 160             /* per stack: 8 distinct layers of at most 12 rows, and 6 more */

typedef struct shape_row {
    char what[96];
    int rank;
    int64_t dims[4];
    char legend[64];
} shape_row;

static int push(shape_row *rows, int n, const char *what, const char *legend, int rank,
                int64_t a, int64_t b, int64_t c, int64_t d)
{
    shape_row *r = &rows[n];
    snprintf(r->what, sizeof r->what, "%s", what);
    snprintf(r->legend, sizeof r->legend, "%s", legend);
    r->rank = rank;
    r->dims[0] = a, r->dims[1] = b, r->dims[2] = c, r->dims[3] = d;
    return n + 1;
}

/* Rows a plugin reports itself (its shapes operation), checked: at most `cap`, ranks 1 to 4,
 * no negative dimension, named. Returns the new row count, or -1 with err. */
static int plugin_rows(const tfx_instance *inst, const char *stack, int64_t layer, int64_t B,
                       int64_t S, shape_row *rows, int n, int cap, tfx_error *err)
{
    const tfx_plugin *p = inst->comp->plugin->desc;
    tfx_out_shape got[8];
    int k = 0;
    if (tfx_size_out_shapes(inst, B, S, got, 8, &k, err) < 0)
        return -1;
    if (n + k > cap)
        return tfx_fail(err, "too many output shapes to show");
    for (int i = 0; i < k; i++) {
        const tfx_out_shape *o = &got[i];
        char what[96];
        snprintf(what, sizeof what, "%s layer %" PRId64 " %.40s (%s)", stack, layer, o->what, p->name);
        n = push(rows, n, what, o->axes, o->rank, o->dims[0], o->dims[1], o->dims[2], o->dims[3]);
    }
    return n;
}

/* The activation shapes of one stack's first layer (all layers share them but the window). */
static int stack_rows(const tfx_params_item *it, int si, shape_row *rows, int n, tfx_error *err)
{
    const tfx_model *m = it->loaded->model;
    const tfx_spec *s = m->spec;
    const tfx_stack *stk = &m->stacks[si];
    const int64_t B = it->opts.batch, S = it->opts.context, C = s->d_model, H = s->heads;
    const int64_t KVH = s->kv_heads, hd = s->head_dim;
    char what[96];
    const char *name = stk->spec->name;
    snprintf(what, sizeof what, "%s embedding", name);
    n = push(rows, n, what, "B, S, C", 3, B, S, C, 0);
    int64_t shown[8];
    int n_shown = 0;
    for (int64_t i = 0; i < stk->spec->layers && n_shown < 8; i++) {
        /* Layers differ only in how many keys they see (a local window): show each once. */
        const tfx_layer *l = &stk->layers[i];
        int64_t keys, W;
        if (tfx_size_attn_keys_seen(&l->attn, S, &keys, err) || tfx_size_ffn_width(&l->ffn, &W, err))
            return -1;
        bool seen = false;
        for (int k = 0; k < n_shown; k++)
            seen |= shown[k] == keys;
        if (seen)
            continue;
        shown[n_shown++] = keys;
        if (l->attn.comp->plugin->desc->attention->shapes) {
            if ((n = plugin_rows(&l->attn, name, i, B, S, rows, n, MAX_ROWS - 12, err)) < 0)
                return -1;
            goto attention_done;
        }
        snprintf(what, sizeof what, "%s layer %" PRId64 " q", name, i);
        n = push(rows, n, what, "B, heads, S, head_dim", 4, B, H, S, hd);
        snprintf(what, sizeof what, "%s layer %" PRId64 " k, v", name, i);
        n = push(rows, n, what, "B, kv_heads, keys, head_dim", 4, B, KVH, keys, hd);
        snprintf(what, sizeof what, "%s layer %" PRId64 " scores (%s)", name, i, l->attn.comp->plugin->desc->name);
        n = push(rows, n, what, "B, heads, S, keys", 4, B, H, S, keys);
    attention_done:
        if (i == 0) {
            snprintf(what, sizeof what, "%s attention output", name);
            n = push(rows, n, what, "B, S, C", 3, B, S, C, 0);
            if (l->cross_attn.comp) {
                /* Cross-attention: queries from this stack, keys and values from the encoder's
                 * output (as long as the context here). */
                snprintf(what, sizeof what, "%s layer 0 cross k, v", name);
                n = push(rows, n, what, "B, kv_heads, S_enc, head_dim", 4, B, KVH, S, hd);
                snprintf(what, sizeof what, "%s layer 0 cross scores (%s)", name,
                         l->cross_attn.comp->plugin->desc->name);
                n = push(rows, n, what, "B, heads, S, S_enc", 4, B, H, S, S);
                snprintf(what, sizeof what, "%s cross-attention output", name);
                n = push(rows, n, what, "B, S, C", 3, B, S, C, 0);
            }
            const tfx_plugin *ffn = l->ffn.comp->plugin->desc;
            if (ffn->ffn->shapes) {
                if ((n = plugin_rows(&l->ffn, name, i, B, S, rows, n, MAX_ROWS - 4, err)) < 0)
                    return -1;
            } else {
                snprintf(what, sizeof what, "%s ffn hidden (%s)", name, ffn->name);
                n = push(rows, n, what, "B, S, width", 3, B, S, W, 0);
            }
            snprintf(what, sizeof what, "%s block output", name);
            n = push(rows, n, what, "B, S, C", 3, B, S, C, 0);
        }
    }
    return n;
}

static int activation_rows(const tfx_params_item *it, shape_row *rows, tfx_error *err)
{
    const tfx_spec *s = it->loaded->spec;
    int n = 0;
    for (int si = 0; si < it->loaded->model->n_stacks; si++)
        if ((n = stack_rows(it, si, rows, n, err)) < 0)
            return -1;
    if (s->lm_head)
        n = push(rows, n, "logits", "B, S, V", 3, it->opts.batch, it->opts.context, s->vocab, 0);
    if (s->pooler)
        n = push(rows, n, "pooler output", "B, C", 2, it->opts.batch, s->d_model, 0, 0);
    return n;
}

int tfx_report_shapes(FILE *out, tfx_format fmt, const tfx_params_item *it, tfx_error *err)
{
    const tfx_model *m = it->loaded->model;
    shape_row rows[MAX_ROWS];
    int n = activation_rows(it, rows, err);
    if (n < 0)
        return -1;
    char shape[128];
    if (fmt == TFX_FORMAT_JSON) {
        json_t *tensors = json_array(), *acts = json_array();
        for (size_t i = 0; i < m->n_tensors; i++) {
            json_t *dims = json_array();
            for (int d = 0; d < m->tensors[i].rank; d++)
                json_array_append_new(dims, json_integer(m->tensors[i].shape[d]));
            json_array_append_new(tensors, json_pack("{s:s, s:o, s:I}", "name", m->tensors[i].name,
                                                     "shape", dims, "parameters",
                                                     (json_int_t)(m->tensors[i].tied_to >= 0 ? 0 : m->tensors[i].numel)));
        }
        for (int i = 0; i < n; i++) {
            json_t *dims = json_array();
            for (int d = 0; d < rows[i].rank; d++)
                json_array_append_new(dims, json_integer(rows[i].dims[d]));
            json_array_append_new(acts, json_pack("{s:s, s:o, s:s}", "output", rows[i].what,
                                                  "shape", dims, "axes", rows[i].legend));
        }
        json_t *doc = json_pack("{s:s, s:I, s:I, s:o, s:o}", "name", it->loaded->spec->name,
                                "batch", (json_int_t)it->opts.batch, "context",
                                (json_int_t)it->opts.context, "tensors", tensors, "outputs", acts);
        int rc = json_dumpf(doc, out, JSON_INDENT(2));
        fputc('\n', out);
        json_decref(doc);
        return rc;
    }
    const char *row_fmt = fmt == TFX_FORMAT_MARKDOWN ? "| %s | %s | %s |\n"
                          : fmt == TFX_FORMAT_CSV    ? "%s,\"%s\",%s\n"
                                                     : "  %-48s %-24s %s\n";
    fprintf(out, fmt == TFX_FORMAT_MARKDOWN ? "### %s: tensors\n\n| tensor | shape | |\n| --- | --- | --- |\n"
                 : fmt == TFX_FORMAT_CSV   ? "# %s: tensors\n"
                                           : "%s: tensors\n", it->loaded->spec->name);
    for (size_t i = 0; i < m->n_tensors; i++) {
        tfx_shape_text(shape, sizeof shape, m->tensors[i].shape, m->tensors[i].rank);
        char note[96] = "";
        if (m->tensors[i].tied_to >= 0)
            snprintf(note, sizeof note, "tied to %s", m->tensors[m->tensors[i].tied_to].name);
        fprintf(out, row_fmt, m->tensors[i].name, shape, note);
    }
    fprintf(out, fmt == TFX_FORMAT_MARKDOWN ? "\n### outputs (batch %lld, context %lld)\n\n| output | shape | axes |\n| --- | --- | --- |\n"
                 : fmt == TFX_FORMAT_CSV   ? "# outputs (batch %lld, context %lld)\n"
                                           : "\noutputs (batch %lld, context %lld)\n",
            (long long)it->opts.batch, (long long)it->opts.context);
    for (int i = 0; i < n; i++) {
        tfx_shape_text(shape, sizeof shape, rows[i].dims, rows[i].rank);
        fprintf(out, row_fmt, rows[i].what, shape, rows[i].legend);
    }
    fputc('\n', out);
    return ferror(out) ? -1 : 0;
}
