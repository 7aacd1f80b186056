/* core/text.h — text that tfx makes from untrusted values: formatting into a fixed buffer that
 * fails instead of truncating, and the escaping of control characters on everything printed. */
#ifndef TFX_CORE_TEXT_H
#define TFX_CORE_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* snprintf into buf[cap] that refuses to cut: returns the length written, or -1 (buf then
 * holds "") when the text would not fit or cannot be formatted. */
int tfx_text(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Append to the string already in buf[cap], with the same refusal; returns the new length or -1
 * (buf then unchanged). */
int tfx_text_append(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* items[0..n) joined into buf[cap]: "a, b or c" with conj "or" ("a, b and c" with "and"; with
 * conj NULL, commas only). Items that do not fit become ", ..." (buf always holds a string).
 * Returns buf. */
const char *tfx_join(char *buf, size_t cap, const char *const *items, size_t n, const char *conj);

/* " (did you mean 'x'?)" for the candidate nearest `word` (core/suggest.c), or "" when none is
 * near; written into buf[cap] (64 bytes or more), which is returned. */
const char *tfx_did_you_mean(char *buf, size_t cap, const char *word, const char *const *candidates,
                             size_t n);

/* Escape the control characters of in[0..n) into out (room for 6 * n bytes): C0 other than
 * newline and tab, DEL, and C1 (U+0080..U+009F, as UTF-8) become "\u001b"-style escapes, which
 * read the same in a terminal and decode to the same string inside JSON. *pending carries a
 * lead byte 0xC2 cut off at the end of one call into the next (start it at 0; pass NULL when
 * in is whole). Returns the bytes written. */
size_t tfx_escape(char *out, const char *in, size_t n, int *pending);

/* The state of an escaping stream, owned by the caller for as long as the stream lives. */
typedef struct tfx_escaping {
    int fd;
    int pending;                  /* a 0xC2 held back from the last write */
} tfx_escaping;

/* A stream that escapes as tfx_escape does before writing to `fd` (buffered as setvbuf's
 * `mode` says), so that no name from a recipe, plugin or config reaches the terminal raw; its
 * fclose closes fd and fails when fd's close does. main() puts one over stdout and stderr.
 * Returns NULL (out of memory) and leaves fd alone. */
FILE *tfx_escaping_stream(tfx_escaping *e, int fd, int mode);

#endif
