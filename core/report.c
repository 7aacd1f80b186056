/* core/report.c — formats parameter counts and the plugin list as text, markdown, CSV and JSON
 * (JSON through jansson). */
#include "report.h"

#include <inttypes.h>
#include <jansson.h>
#include <string.h>

static const char *const format_names[] = {"text", "markdown", "csv", "json"};

int tfx_format_from_name(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, format_names[i]) == 0)
            return i;
    return -1;
}

char *tfx_group_digits(char *buf, size_t cap, int64_t v)
{
    char raw[32];
    int len = snprintf(raw, sizeof raw, "%" PRId64, v < 0 ? -v : v);
    size_t o = 0;
    if (v < 0 && o + 1 < cap)
        buf[o++] = '-';
    for (int i = 0; i < len && o + 1 < cap; i++) {
        if (i > 0 && (len - i) % 3 == 0 && o + 1 < cap)
            buf[o++] = ',';
        if (o + 1 < cap)
            buf[o++] = raw[i];
    }
    buf[o] = '\0';
    return buf;
}

static double share(int64_t part, int64_t total) { return total ? 100.0 * (double)part / (double)total : 0.0; }

/* ---- per-layer rows, grouping runs of identical layers ------------------------------------ */

static int same_layer(const tfx_layer_count *a, const tfx_layer_count *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* Layers [i, end) all equal layers[i]; returns end. */
static int64_t run_end(const tfx_layer_count *layers, int64_t n, int64_t i)
{
    int64_t end = i + 1;
    while (end < n && same_layer(&layers[i], &layers[end]))
        end++;
    return end;
}

static void layer_label(char *buf, size_t cap, int64_t first, int64_t end)
{
    if (end - first == 1)
        snprintf(buf, cap, "%" PRId64, first);
    else
        snprintf(buf, cap, "%" PRId64 "-%" PRId64 " (each)", first, end - 1);
}

/* ---- text and markdown -------------------------------------------------------------------- */

static void dims_line(FILE *out, const tfx_spec *s)
{
    fprintf(out, "vocab %" PRId64 ", d_model %" PRId64 ", heads %" PRId64 " (kv_heads %" PRId64
                 ", head_dim %" PRId64 "), context %" PRId64,
            s->vocab, s->d_model, s->heads, s->kv_heads, s->head_dim, s->context);
    for (int si = 0; si < s->n_stacks; si++)
        fprintf(out, ", %s layers %" PRId64, s->stacks[si].name, s->stacks[si].layers);
}

static const char *tied_note(const tfx_model *m, tfx_part part, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tfx_tensor *t = &m->tensors[i];
        if (t->part == part && t->tied_to >= 0) {
            char n[32];
            snprintf(buf, cap, "  (%s tied to %s: %s shared)", t->name,
                     m->tensors[t->tied_to].name, tfx_group_digits(n, sizeof n, t->numel));
        }
    }
    return buf;
}

static double gib(uint64_t bytes) { return (double)bytes / (double)(1ull << 30); }

/* One figure: "  label   1,234 B (1.15 GiB)   formula". */
static void figure(FILE *out, int markdown, const char *label, uint64_t bytes, const char *formula)
{
    char num[32];
    tfx_group_digits(num, sizeof num, (int64_t)bytes);
    if (markdown)
        fprintf(out, "| %s | %s | %.2f GiB | %s |\n", label, num, gib(bytes), formula);
    else
        fprintf(out, "  %-22s %22s B %10.2f GiB  %s\n", label, num, gib(bytes), formula);
}

static void flop_figure(FILE *out, int markdown, const char *label, uint64_t flops, const char *formula)
{
    char num[32];
    tfx_group_digits(num, sizeof num, (int64_t)flops);
    if (markdown)
        fprintf(out, "| %s | %s | %.3g GFLOP | %s |\n", label, num, (double)flops / 1e9, formula);
    else
        fprintf(out, "  %-22s %22s   %10.3g GFLOP  %s\n", label, num, (double)flops / 1e9, formula);
}

static void estimates(FILE *out, const tfx_params_item *it, int markdown)
{
    const tfx_memory *m = &it->memory;
    const tfx_flops *f = &it->flops;
    const tfx_estimate_opts *o = &it->opts;
    char formula[256];
    fprintf(out, markdown ? "\n| memory (batch %lld, context %lld) | bytes | | formula |\n| --- | ---: | ---: | --- |\n"
                          : "\n  memory (batch %lld, context %lld)\n",
            (long long)o->batch, (long long)o->context);
    figure(out, markdown, "weights fp32", m->weights_fp32, "4 B x parameters");
    figure(out, markdown, "weights fp16/bf16", m->weights_fp16, "2 B x parameters");
    figure(out, markdown, "weights int8", m->weights_int8, "1 B x parameters");
    snprintf(formula, sizeof formula, "layers x (%s) x tokens x batch x %lld B (local layers: their window)",
             m->kv_formula ? m->kv_formula : "2 x kv_heads x head_dim", (long long)o->kv_bytes);
    figure(out, markdown, "KV cache", m->kv_cache, formula);
    if (m->kv_cache_cross)
        figure(out, markdown, "KV cache (cross)", m->kv_cache_cross, "2 x layers x kv_heads x head_dim x encoder tokens x batch x B");
    snprintf(formula, sizeof formula, "Σ_layers (%s) x %lld B", m->kv_formula ? m->kv_formula : "2 x kv_heads x head_dim",
             (long long)o->kv_bytes);
    figure(out, markdown, "  per token", m->kv_per_token, formula);
    figure(out, markdown, "activations (1 fwd)", m->activations, "fp32 run state of one forward over batch x context");
    snprintf(formula, sizeof formula, "%d B/param: fp16 weights 2 + grads 2 + fp32 master 4%s + Adam m, v 8%s",
             m->bytes_per_param, m->train_grads_fp32 ? " + fp32 grads 4" : "",
             m->train_grads_fp32 ? " (ZeRO counts 16: --no-fp32-grads)" : " (ZeRO)");
    figure(out, markdown, "training (AdamW, mixed)", m->training, formula);
    figure(out, markdown, "training activations", m->train_activations, "s·b·h·(34 + 5·a·s/h) per layer (Korthikanti et al. 2022)");
    figure(out, markdown, "  with recomputation", m->train_activations_recompute, "2·s·b·h per layer (full recomputation)");
    fprintf(out, markdown ? "\n| FLOPs | count | | formula |\n| --- | ---: | ---: | --- |\n" : "\n  FLOPs\n");
    flop_figure(out, markdown, "forward per token", f->forward_per_token,
                "2N + 2·Σ_layers keys·d_attn (Kaplan et al. 2020; N non-embedding; local layers see their window)");
    flop_figure(out, markdown, "  2N", f->forward_params_term, "N = non-embedding parameters");
    flop_figure(out, markdown, "  attention", f->forward_attention_term, "2 · Σ_layers keys_seen(context) · heads · head_dim");
    if (f->forward_plugin_term)
        flop_figure(out, markdown, "  plugin-reported", f->forward_plugin_term,
                    "what plugins count themselves (e.g. only a token's routed experts); their parameters not in 2N");
    flop_figure(out, markdown, "forward per sequence", f->forward_per_sequence, "forward per token x context");
    flop_figure(out, markdown, "training per token", f->training_per_token, "3 x forward (≈ 6N + attention)");
}

static void text_item(FILE *out, const tfx_params_item *it, int markdown)
{
    const tfx_model *m = it->loaded->model;
    const tfx_spec *s = it->loaded->spec;
    const tfx_counts *c = it->counts;
    char num[32], note[256];
    if (markdown)
        fprintf(out, "### %s\n\n`%s`, %s: ", s->name, it->path, tfx_model_kind_name(s->kind));
    else
        fprintf(out, "%s  (%s, %s)\n  ", s->name, it->path, tfx_model_kind_name(s->kind));
    dims_line(out, s);
    fprintf(out, markdown ? "\n\n| component | parameters | share |\n| --- | ---: | ---: |\n"
                          : "\n\n  %-12s %18s %8s\n", "component", "parameters", "share");
    for (int p = 0; p < TFX_PART_COUNT; p++) {
        tied_note(m, (tfx_part)p, note, sizeof note);
        if (c->part[p] == 0 && !note[0])
            continue;
        tfx_group_digits(num, sizeof num, c->part[p]);
        if (markdown)
            fprintf(out, "| %s | %s | %.2f%% |%s\n", tfx_part_name((tfx_part)p), num,
                    share(c->part[p], c->total), note);
        else
            fprintf(out, "  %-12s %18s %7.2f%%%s\n", tfx_part_name((tfx_part)p), num,
                    share(c->part[p], c->total), note);
    }
    tfx_group_digits(num, sizeof num, c->total);
    fprintf(out, markdown ? "| **total** | **%s** | 100.00%% |\n" : "  %-12s %18s %7.2f%%\n",
            markdown ? num : "total", markdown ? "" : num, 100.0);
    if (c->trainable != c->total) {
        tfx_group_digits(num, sizeof num, c->trainable);
        if (markdown)
            fprintf(out, "| trainable | %s | %.2f%% |\n", num, share(c->trainable, c->total));
        else
            fprintf(out, "  %-12s %18s %7.2f%%  (the rest frozen)\n", "trainable", num, share(c->trainable, c->total));
    }
    tfx_group_digits(num, sizeof num, c->active);
    if (markdown)
        fprintf(out, "| active per token | %s | %.2f%% |\n", num, share(c->active, c->total));
    else
        fprintf(out, "  %-12s %18s %7.2f%%  (per token)\n", "active", num, share(c->active, c->total));
    for (int si = 0; si < c->n_stacks; si++) {
        const tfx_layer_count *ls = c->layers[si];
        int64_t n = c->n_layers[si];
        fprintf(out, markdown ? "\n| %s layer | attention | ffn | norm | total |\n| --- | ---: | ---: | ---: | ---: |\n"
                              : "\n  %-20s %14s %14s %10s %14s\n",
                markdown ? s->stacks[si].name : "layer", "attention", "ffn", "norm", "total");
        if (!markdown)
            fprintf(out, "  (%s)\n", s->stacks[si].name);
        for (int64_t i = 0; i < n;) {
            int64_t end = run_end(ls, n, i);
            char label[64], a[32], f[32], no[32], t[32];
            layer_label(label, sizeof label, i, end);
            tfx_group_digits(a, sizeof a, ls[i].part[TFX_PART_ATTENTION]);
            tfx_group_digits(f, sizeof f, ls[i].part[TFX_PART_FFN]);
            tfx_group_digits(no, sizeof no, ls[i].part[TFX_PART_NORM]);
            tfx_group_digits(t, sizeof t, ls[i].total);
            fprintf(out, markdown ? "| %s | %s | %s | %s | %s |\n" : "  %-20s %14s %14s %10s %14s\n",
                    label, a, f, no, t);
            i = end;
        }
    }
    estimates(out, it, markdown);
    fputc('\n', out);
}

/* ---- CSV ---------------------------------------------------------------------------------- */

static void csv_item(FILE *out, const tfx_params_item *it)
{
    const tfx_counts *c = it->counts;
    const char *name = it->loaded->spec->name;
    for (int p = 0; p < TFX_PART_COUNT; p++)
        fprintf(out, "%s,%s,,%" PRId64 "\n", name, tfx_part_name((tfx_part)p), c->part[p]);
    for (int si = 0; si < c->n_stacks; si++)
        for (int64_t i = 0; i < c->n_layers[si]; i++)
            fprintf(out, "%s,%s.layers.%" PRId64 ",%" PRId64 ",%" PRId64 "\n", name,
                    it->loaded->spec->stacks[si].name, i, i, c->layers[si][i].total);
    fprintf(out, "%s,total,,%" PRId64 "\n", name, c->total);
    fprintf(out, "%s,active,,%" PRId64 "\n", name, c->active);
    fprintf(out, "%s,trainable,,%" PRId64 "\n", name, c->trainable);
    const tfx_memory *m = &it->memory;
    const struct { const char *k; uint64_t v; } figs[] = {
        {"memory.weights_fp32", m->weights_fp32}, {"memory.weights_fp16", m->weights_fp16},
        {"memory.weights_int8", m->weights_int8}, {"memory.kv_cache", m->kv_cache},
        {"memory.activations", m->activations}, {"memory.training", m->training},
        {"memory.train_activations", m->train_activations},
        {"memory.kv_per_token", m->kv_per_token},
        {"flops.forward_per_token", it->flops.forward_per_token},
        {"flops.forward_per_sequence", it->flops.forward_per_sequence},
        {"flops.training_per_token", it->flops.training_per_token},
    };
    for (size_t i = 0; i < sizeof figs / sizeof figs[0]; i++)
        fprintf(out, "%s,%s,,%" PRIu64 "\n", name, figs[i].k, figs[i].v);
}

/* ---- JSON --------------------------------------------------------------------------------- */

static json_t *json_dims(const tfx_spec *s)
{
    json_t *layers = json_object();
    for (int si = 0; si < s->n_stacks; si++)
        json_object_set_new(layers, s->stacks[si].name, json_integer(s->stacks[si].layers));
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "vocab", (json_int_t)s->vocab,
                     "d_model", (json_int_t)s->d_model, "heads", (json_int_t)s->heads,
                     "kv_heads", (json_int_t)s->kv_heads, "head_dim", (json_int_t)s->head_dim,
                     "context", (json_int_t)s->context, "layers", layers);
}

json_t *tfx_json_estimates(const tfx_params_item *it, json_t **flops_out)
{
    const tfx_memory *m = &it->memory;
    const tfx_flops *f = &it->flops;
    *flops_out = json_pack("{s:I, s:I, s:I, s:I, s:I, s:s}",
        "forward_per_token", (json_int_t)f->forward_per_token,
        "forward_params_term", (json_int_t)f->forward_params_term,
        "forward_attention_term", (json_int_t)f->forward_attention_term,
        "forward_per_sequence", (json_int_t)f->forward_per_sequence,
        "training_per_token", (json_int_t)f->training_per_token,
        "formula", "forward per token = 2N + 2*sum(keys_seen*d_attn); training = 3 x forward");
    json_t *mem = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
        "batch", (json_int_t)it->opts.batch, "context", (json_int_t)it->opts.context,
        "weights_fp32", (json_int_t)m->weights_fp32, "weights_fp16", (json_int_t)m->weights_fp16,
        "weights_bf16", (json_int_t)m->weights_bf16, "weights_int8", (json_int_t)m->weights_int8,
        "kv_cache", (json_int_t)m->kv_cache, "kv_cache_cross", (json_int_t)m->kv_cache_cross,
        "activations", (json_int_t)m->activations);
    json_object_set_new(mem, "training", json_integer((json_int_t)m->training));
    json_object_set_new(mem, "kv_per_token", json_integer((json_int_t)m->kv_per_token));
    json_object_set_new(mem, "kv_formula", json_string(m->kv_formula ? m->kv_formula : "2 x kv_heads x head_dim"));
    json_object_set_new(*flops_out, "forward_plugin_term", json_integer((json_int_t)f->forward_plugin_term));
    json_object_set_new(mem, "training_breakdown", json_pack("{s:I, s:I, s:I, s:I, s:I, s:i}",
        "weights", (json_int_t)m->train_weights, "gradients", (json_int_t)m->train_grads,
        "master_weights", (json_int_t)m->train_master, "gradients_fp32", (json_int_t)m->train_grads_fp32,
        "adam_moments", (json_int_t)m->train_adam, "bytes_per_param", m->bytes_per_param));
    json_object_set_new(mem, "train_activations", json_integer((json_int_t)m->train_activations));
    json_object_set_new(mem, "train_activations_recompute", json_integer((json_int_t)m->train_activations_recompute));
    return mem;
}

static json_t *json_item(const tfx_params_item *it)
{
    const tfx_model *m = it->loaded->model;
    const tfx_spec *s = it->loaded->spec;
    const tfx_counts *c = it->counts;
    json_t *parts = json_object(), *tied = json_array(), *stacks = json_object();
    for (int p = 0; p < TFX_PART_COUNT; p++)
        json_object_set_new(parts, tfx_part_name((tfx_part)p), json_integer(c->part[p]));
    for (size_t i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].tied_to >= 0)
            json_array_append_new(tied, json_pack("{s:s, s:s, s:I}", "tensor", m->tensors[i].name,
                                                  "to", m->tensors[m->tensors[i].tied_to].name,
                                                  "parameters", (json_int_t)m->tensors[i].numel));
    for (int si = 0; si < c->n_stacks; si++) {
        json_t *layers = json_array();
        for (int64_t i = 0; i < c->n_layers[si]; i++) {
            const tfx_layer_count *lc = &c->layers[si][i];
            json_array_append_new(layers, json_pack("{s:I, s:I, s:I, s:I}",
                "attention", (json_int_t)lc->part[TFX_PART_ATTENTION],
                "ffn", (json_int_t)lc->part[TFX_PART_FFN],
                "norm", (json_int_t)lc->part[TFX_PART_NORM], "total", (json_int_t)lc->total));
        }
        json_object_set_new(stacks, s->stacks[si].name, layers);
    }
    json_t *flops, *memory = tfx_json_estimates(it, &flops);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "name", s->name,
                     "recipe", it->path, "model", tfx_model_kind_name(s->kind), "dims",
                     json_dims(s), "total", (json_int_t)c->total, "non_embedding",
                     (json_int_t)c->non_embedding, "components", parts, "tied", tied, "layers",
                     stacks, "memory", memory, "flops", flops);
    json_object_set_new(doc, "active_parameters", json_integer((json_int_t)c->active));
    json_object_set_new(doc, "trainable_parameters", json_integer((json_int_t)c->trainable));
    return doc;
}

static int json_print(FILE *out, json_t *doc)
{
    int rc = doc ? json_dumpf(doc, out, JSON_INDENT(2)) : -1;
    if (rc == 0)
        fputc('\n', out);
    json_decref(doc);
    return rc;
}

int tfx_report_params(FILE *out, tfx_format fmt, const tfx_params_item *items, int n)
{
    switch (fmt) {
    case TFX_FORMAT_TEXT:
    case TFX_FORMAT_MARKDOWN:
        for (int i = 0; i < n; i++)
            text_item(out, &items[i], fmt == TFX_FORMAT_MARKDOWN);
        break;
    case TFX_FORMAT_CSV:
        fprintf(out, "recipe,component,layer,parameters\n");
        for (int i = 0; i < n; i++)
            csv_item(out, &items[i]);
        break;
    case TFX_FORMAT_JSON: {
        if (n == 1)
            return json_print(out, json_item(&items[0]));
        json_t *all = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(all, json_item(&items[i]));
        return json_print(out, all);
    }
    }
    return ferror(out) ? -1 : 0;
}

/* ---- plugins ------------------------------------------------------------------------------ */

static const char *const opt_type_names[] = {"int", "float", "bool", "enum"};

static void choices_text(const tfx_option *o, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (o->type != TFX_OPT_ENUM)
        return;
    for (int c = 0; o->choices[c]; c++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", c ? "|" : "", o->choices[c]);
}

static void plugin_text(FILE *out, const tfx_registered *r)
{
    const tfx_plugin *p = r->desc;
    fprintf(out, "  %-12s %s\n  %-12s %s\n", p->name, p->summary ? p->summary : "", "", r->path);
    for (int o = 0; o < p->n_options; o++) {
        const tfx_option *opt = &p->options[o];
        char choices[256];
        choices_text(opt, choices, sizeof choices);
        fprintf(out, "  %-12s   %s: %s%s%s = %s  %s\n", "", opt->name, opt_type_names[opt->type],
                choices[0] ? " " : "", choices, opt->default_value, opt->doc ? opt->doc : "");
    }
}

static void plugin_markdown(FILE *out, const tfx_registered *r)
{
    const tfx_plugin *p = r->desc;
    fprintf(out, "- **%s**: %s\n", p->name, p->summary ? p->summary : "");
    for (int o = 0; o < p->n_options; o++) {
        const tfx_option *opt = &p->options[o];
        char choices[256];
        choices_text(opt, choices, sizeof choices);
        fprintf(out, "  - `%s` (%s%s%s, default `%s`): %s\n", opt->name, opt_type_names[opt->type],
                choices[0] ? " " : "", choices, opt->default_value, opt->doc ? opt->doc : "");
    }
}

int tfx_report_plugins(FILE *out, tfx_format fmt, const tfx_registry *reg)
{
    if (fmt == TFX_FORMAT_JSON) {
        json_t *all = json_array();
        for (size_t i = 0; i < reg->n; i++) {
            const tfx_plugin *p = reg->plugins[i].desc;
            json_t *opts = json_array();
            for (int o = 0; o < p->n_options; o++) {
                char choices[256];
                choices_text(&p->options[o], choices, sizeof choices);
                json_array_append_new(opts, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name",
                    p->options[o].name, "type", opt_type_names[p->options[o].type], "default",
                    p->options[o].default_value, "doc", p->options[o].doc ? p->options[o].doc : "",
                    "choices", choices));
            }
            json_array_append_new(all, json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "kind",
                tfx_kind_name(p->kind), "name", p->name, "summary", p->summary ? p->summary : "",
                "file", reg->plugins[i].path, "abi_version", (json_int_t)p->abi_version,
                "options", opts));
        }
        return json_print(out, all);
    }
    for (int k = 0; k < TFX_KIND_COUNT; k++) {
        int header = 0;
        for (size_t i = 0; i < reg->n; i++) {
            const tfx_plugin *p = reg->plugins[i].desc;
            if ((int)p->kind != k)
                continue;
            if (!header && fmt != TFX_FORMAT_CSV)
                fprintf(out, fmt == TFX_FORMAT_MARKDOWN ? "## %s\n\n" : "%s\n", tfx_kind_name((tfx_kind)k));
            header = 1;
            if (fmt == TFX_FORMAT_CSV) {
                fprintf(out, "%s,%s,\"%s\",%s\n", tfx_kind_name(p->kind), p->name,
                        p->summary ? p->summary : "", reg->plugins[i].path);
                continue;
            }
            if (fmt == TFX_FORMAT_MARKDOWN)
                plugin_markdown(out, &reg->plugins[i]);
            else
                plugin_text(out, &reg->plugins[i]);
        }
        if (header && fmt != TFX_FORMAT_CSV)
            fputc('\n', out);
    }
    return ferror(out) ? -1 : 0;
}
