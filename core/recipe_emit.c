/* core/recipe_emit.c — YAML out of tfx_node trees: maps as blocks, short maps and lists of
 * scalars in flow style, and quotes wherever a plain scalar would read differently. */
#include "recipe_emit.h"

#include <stdio.h>
#include <string.h>

/* Would this text, written plain, read back as something else (or not parse)? Anything but
 * printable ASCII is quoted, so that it can be escaped. */
static int needs_quotes(const char *text, int was_quoted)
{
    size_t len = strlen(text);
    if (was_quoted || len == 0 || strpbrk(text, "{}[],#&*!|>'\"%@`"))
        return 1;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        if (*c < 0x20 || *c >= 0x7f)
            return 1;
    if (strstr(text, ": ") || text[len - 1] == ':' || text[0] == ' ' || text[len - 1] == ' ')
        return 1;
    return (text[0] == '-' || text[0] == '?') && (text[1] == ' ' || text[1] == '\0');
}

/* The code point of the UTF-8 sequence at s (its length in *len), or -1 when s does not start
 * a well-formed one (overlong, surrogate, past U+10FFFF, truncated). */
static long utf8_decode(const unsigned char *s, int *len)
{
    int n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    static const long least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (n == 0 || s[0] > 0xf4)
        return -1;
    long cp = s[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *len = n;
    return cp;
}

/* Write one character of a double-quoted scalar; returns the bytes of `s` it consumed. */
static int quoted_char(FILE *out, const unsigned char *s)
{
    static const char escapes[][2] = {{'\n', 'n'}, {'\t', 't'}, {'\r', 'r'}, {'"', '"'},
                                      {'\\', '\\'}};
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++)
        if (*s == (unsigned char)escapes[i][0])
            return fprintf(out, "\\%c", escapes[i][1]), 1;
    if (*s < 0x20 || *s == 0x7f)
        return fprintf(out, "\\x%02x", *s), 1;
    if (*s < 0x80)
        return fputc(*s, out), 1;
    int len;
    long cp = utf8_decode(s, &len);
    if (cp < 0)
        return fputs("\\ufffd", out), 1; /* not UTF-8: YAML cannot hold the byte itself */
    if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff || cp >= 0xfffe)
        /* C1 controls, line separators and non-characters: YAML wants them escaped. */
        return fprintf(out, cp > 0xffff ? "\\U%08lx" : "\\u%04lx", cp), len;
    fwrite(s, 1, (size_t)len, out);
    return len;
}

int tfx_yaml_scalar(FILE *out, const char *text, int quote)
{
    if (!quote && !needs_quotes(text, 0)) {
        fputs(text, out);
        return ferror(out) ? -1 : 0;
    }
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)text; *c;)
        c += quoted_char(out, c);
    fputc('"', out);
    return ferror(out) ? -1 : 0;
}

static void scalar(FILE *out, const char *text, int was_quoted)
{
    tfx_yaml_scalar(out, text, was_quoted);
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
