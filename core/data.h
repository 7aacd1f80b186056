/* core/data.h — training data: a text file read as bytes or a token file in llm.c's format,
 * validated as hostile input, split into training and validation, served as batches in order. */
#ifndef TFX_CORE_DATA_H
#define TFX_CORE_DATA_H

#include <stdint.h>

#include "error.h"

/* llm.c's token files: a header of 256 int32 (magic, version, token count, then zeros), then
 * the tokens as uint16. */
#define TFX_DATA_MAGIC 20240520
#define TFX_DATA_VERSION 1
#define TFX_DATA_HEADER_INTS 256

typedef struct tfx_tokens {
    int32_t *ids;                 /* [n], owned */
    int64_t n;
} tfx_tokens;

/* Read `path` (a regular file, opened as an input of option `where`, e.g. "--data"): an llm.c
 * token file when it begins with the magic, else bytes of text (each byte one token, so vocab
 * must be at least 256). Every header claim is checked against the file's size, and every
 * token against vocab; errors name the file. Returns 0, or -1 with err set. */
int tfx_tokens_read(tfx_tokens *out, const char *path, const char *where, int64_t vocab,
                    tfx_error *err);
void tfx_tokens_free(tfx_tokens *t);

/* Move the last ⌊n · fraction⌋ tokens of `all` into `val` (all keeps the rest).
 * Returns 0, or -1 with err set when either part would be empty. */
int tfx_tokens_split(tfx_tokens *all, tfx_tokens *val, double fraction, const char *path,
                     tfx_error *err);

/* Fill out[B·T] with B consecutive windows of T tokens from src, starting at *pos and moving
 * *pos past them; a window that would run past the end starts again at 0 (llm.c's loader).
 * src must hold at least T tokens. */
void tfx_tokens_batch(const tfx_tokens *src, int64_t *pos, int64_t B, int64_t T, int32_t *out);

#endif
