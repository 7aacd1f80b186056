/* core/report.c — the report formats, tfx params through its document, and the plugin list in
 * text, markdown, CSV and JSON (JSON through jansson). */
#include "report.h"

#include <inttypes.h>
#include <jansson.h>
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

static int json_print(FILE *out, json_t *doc)
{
    int rc = doc ? json_dumpf(doc, out, JSON_INDENT(2)) : -1;
    if (rc == 0)
        fputc('\n', out);
    json_decref(doc);
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
