/* core/recipe_emit.c — YAML out of tfx_node trees: maps as blocks, short maps and lists of
 * scalars in flow style, and quotes wherever a plain scalar would read differently. */
#include "recipe_emit.h"

#include <string.h>

/* Would this text, written plain, read back as something else (or not parse)? */
static int needs_quotes(const char *text, int was_quoted)
{
    size_t len = strlen(text);
    if (was_quoted || len == 0 || strpbrk(text, "{}[],#&*!|>'\"%@`"))
        return 1;
    if (strstr(text, ": ") || text[len - 1] == ':' || text[0] == ' ' || text[len - 1] == ' ')
        return 1;
    return (text[0] == '-' || text[0] == '?') && (text[1] == ' ' || text[1] == '\0');
}

static void scalar(FILE *out, const char *text, int was_quoted)
{
    if (!needs_quotes(text, was_quoted)) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *c = text; *c; c++) {
        if (*c == '"' || *c == '\\')
            fputc('\\', out);
        fputc(*c, out);
    }
    fputc('"', out);
}

/* A map whose values are all scalars or such maps, small enough for one line. */
static int flowable(const tfx_node *n, int depth)
{
    if (n->type == TFX_NODE_SCALAR)
        return 1;
    if (depth > 2 || n->n > 6)
        return 0;
    for (size_t i = 0; i < n->n; i++)
        if (!flowable(n->values[i], depth + 1))
            return 0;
    return 1;
}

static void flow(FILE *out, const tfx_node *n)
{
    if (n->type == TFX_NODE_SCALAR) {
        scalar(out, n->text, n->quoted);
        return;
    }
    fputs(n->type == TFX_NODE_MAP ? "{" : "[", out);
    for (size_t i = 0; i < n->n; i++) {
        fputs(i ? ", " : (n->type == TFX_NODE_MAP ? " " : ""), out);
        if (n->type == TFX_NODE_MAP) {
            scalar(out, n->keys[i], 0);
            fputs(": ", out);
        }
        flow(out, n->values[i]);
    }
    fputs(n->type == TFX_NODE_MAP ? (n->n ? " }" : "}") : "]", out);
}

static void block(FILE *out, const tfx_node *map, int indent)
{
    for (size_t i = 0; i < map->n; i++) {
        const tfx_node *v = map->values[i];
        fprintf(out, "%*s", indent, "");
        scalar(out, map->keys[i], 0);
        fputc(':', out);
        if (v->type == TFX_NODE_MAP && !flowable(v, 0)) {
            fputc('\n', out);
            block(out, v, indent + 2);
        } else if (v->type == TFX_NODE_SEQ && !flowable(v, 0)) {
            fputc('\n', out);
            for (size_t k = 0; k < v->n; k++) {
                fprintf(out, "%*s- ", indent + 2, "");
                flow(out, v->values[k]);
                fputc('\n', out);
            }
        } else {
            fputc(' ', out);
            flow(out, v);
            fputc('\n', out);
        }
    }
}

int tfx_recipe_emit(FILE *out, const tfx_node *root)
{
    block(out, root, 0);
    return ferror(out) ? -1 : 0;
}
