/* core/report.c — the report formats, tfx params through its document, and the plugin list in
 * aligned text, and through its document in markdown, CSV and JSON. */
#include "report.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "report_doc.h"

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

int tfx_report_params(FILE *out, tfx_format fmt, const tfx_params_item *items, int n, tfx_error *err)
{
    tfx_doc *docs = calloc(n > 0 ? (size_t)n : 1, sizeof *docs);
    if (!docs)
        return tfx_fail(err, "out of memory");
    for (int i = 0; i < n; i++)
        tfx_doc_params(&docs[i], &items[i]);
    int rc = tfx_doc_emit(out, fmt, docs, n, err);
    for (int i = 0; i < n; i++)
        tfx_doc_free(&docs[i]);
    free(docs);
    return rc;
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

/* One option's figures under KEY (plugins.I.options.J): name, type, default, range or choices,
 * doc. */
static void doc_option(tfx_doc *d, const char *key, const tfx_option *o)
{
    char k[96], choices[256];
    snprintf(k, sizeof k, "%s.name", key);
    tfx_doc_text(d, k, "option", o->name, NULL);
    snprintf(k, sizeof k, "%s.type", key);
    tfx_doc_text(d, k, "type", opt_type_names[o->type], NULL);
    snprintf(k, sizeof k, "%s.default", key);
    tfx_doc_text(d, k, "default", o->default_value, NULL);
    choices_text(o, choices, sizeof choices);
    snprintf(k, sizeof k, "%s.choices", key);
    tfx_doc_text(d, k, "choices", choices, NULL);
    if (o->type != TFX_OPT_ENUM && o->type != TFX_OPT_BOOL && o->min <= o->max) {
        snprintf(k, sizeof k, "%s.min", key);
        tfx_doc_real(d, k, "min", o->min, 9, TFX_UNIT_NONE, "inclusive");
        snprintf(k, sizeof k, "%s.max", key);
        tfx_doc_real(d, k, "max", o->max, 9, TFX_UNIT_NONE, "inclusive");
    }
    snprintf(k, sizeof k, "%s.doc", key);
    tfx_doc_text(d, k, "doc", o->doc ? o->doc : "", NULL);
}

/* One plugin as plugins[i]: kind, name, summary, file, abi_version, options. */
static void doc_plugin(tfx_doc *d, size_t i, const tfx_registered *r)
{
    const tfx_plugin *p = r->desc;
    char k[64], ok[64];
    snprintf(k, sizeof k, "%zu.kind", i);
    tfx_doc_text(d, k, "kind", tfx_kind_name(p->kind), NULL);
    snprintf(k, sizeof k, "%zu.name", i);
    tfx_doc_text(d, k, "name", p->name, NULL);
    snprintf(k, sizeof k, "%zu.summary", i);
    tfx_doc_text(d, k, "summary", p->summary ? p->summary : "", NULL);
    snprintf(k, sizeof k, "%zu.file", i);
    tfx_doc_text(d, k, "file", r->path, NULL);
    snprintf(k, sizeof k, "%zu.abi_version", i);
    tfx_doc_int(d, k, "ABI version", (int64_t)p->abi_version, TFX_UNIT_NONE, NULL);
    snprintf(k, sizeof k, "%zu.options", i);
    tfx_doc_list(d, k);
    for (int o = 0; o < p->n_options; o++) {
        snprintf(ok, sizeof ok, "%zu.options.%d", i, o);
        doc_option(d, ok, &p->options[o]);
    }
}

/* The installed plugins as one document, grouped by kind: plugins[i] in kind order. */
static void doc_plugins(tfx_doc *d, const tfx_registry *reg)
{
    tfx_doc_init(d, "plugins", "installed plugins");
    size_t i = 0;
    for (int k = 0; k < TFX_KIND_COUNT; k++) {
        bool started = false;
        for (size_t r = 0; r < reg->n; r++) {
            if ((int)reg->plugins[r].desc->kind != k)
                continue;
            if (!started)
                tfx_doc_group_start(d, "plugins", tfx_kind_name((tfx_kind)k), false);
            started = true;
            doc_plugin(d, i++, &reg->plugins[r]);
        }
    }
}

int tfx_report_plugins(FILE *out, tfx_format fmt, const tfx_registry *reg)
{
    if (fmt != TFX_FORMAT_TEXT) {
        tfx_doc d;
        tfx_error err = {{0}};
        doc_plugins(&d, reg);
        int rc = tfx_doc_emit(out, fmt, &d, 1, &err);
        tfx_doc_free(&d);
        return rc;
    }
    for (int k = 0; k < TFX_KIND_COUNT; k++) {
        int header = 0;
        for (size_t i = 0; i < reg->n; i++) {
            if ((int)reg->plugins[i].desc->kind != k)
                continue;
            if (!header)
                fprintf(out, "%s\n", tfx_kind_name((tfx_kind)k));
            header = 1;
            plugin_text(out, &reg->plugins[i]);
        }
        if (header)
            fputc('\n', out);
    }
    return ferror(out) ? -1 : 0;
}
