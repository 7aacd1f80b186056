/* core/data.c — reads training data (llm.c token files or text as bytes), checking every claim
 * of a header against the file, and cuts it into validation tail and in-order batches. */
#include "data.h"

#include "files.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The whole of a regular file into a new buffer (*size bytes), opened as an input of `where`
 * (core/files.c). Returns NULL with err set. */
static uint8_t *slurp(const char *path, const char *where, int64_t *size, tfx_error *err)
{
    int fd = tfx_input_open(path, where, err);
    if (fd < 0)
        return NULL;
    struct stat sb;
    uint8_t *buf = NULL;
    if (fstat(fd, &sb) != 0) {
        tfx_fail(err, "%s: cannot read '%s': %s", where, path, strerror(errno));
        goto out;
    }
    *size = (int64_t)sb.st_size;
    if (!(buf = malloc(sb.st_size ? (size_t)sb.st_size : 1))) {
        tfx_fail(err, "%s: '%s': cannot allocate %" PRId64 " bytes", where, path, *size);
        goto out;
    }
    int64_t got = 0;
    while (got < *size) {
        ssize_t r = read(fd, buf + got, (size_t)(*size - got));
        if (r <= 0) {
            tfx_fail(err, "%s: cannot read '%s': %s", where, path, r < 0 ? strerror(errno) : "the file shrank");
            free(buf);
            buf = NULL;
            goto out;
        }
        got += r;
    }
out:
    close(fd);
    return buf;
}

static int32_t le32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static int alloc_ids(tfx_tokens *out, int64_t n, const char *path, tfx_error *err)
{
    size_t bytes;
    if (n < 2 || __builtin_mul_overflow((size_t)n, sizeof *out->ids, &bytes))
        return tfx_fail(err, "data '%s' holds %" PRId64 " tokens; training needs at least 2", path, n);
    if (!(out->ids = malloc(bytes)))
        return tfx_fail(err, "data '%s': cannot allocate %" PRId64 " tokens", path, n);
    out->n = n;
    return 0;
}

/* llm.c's format: header [256] int32, then uint16 tokens, exactly as many as it says. */
static int parse_token_file(tfx_tokens *out, const uint8_t *buf, int64_t size, const char *path,
                            int64_t vocab, tfx_error *err)
{
    const int64_t header = TFX_DATA_HEADER_INTS * 4;
    if (size < header)
        return tfx_fail(err, "token file '%s' is truncated: %" PRId64 " bytes, its header alone is %" PRId64,
                        path, size, header);
    int32_t version = le32(buf + 4), count = le32(buf + 8);
    if (version != TFX_DATA_VERSION)
        return tfx_fail(err, "token file '%s' has version %" PRId32 "; tfx reads version %d (uint16 tokens)",
                        path, version, TFX_DATA_VERSION);
    if (count < 0 || (size - header) % 2 || (size - header) / 2 != count)
        return tfx_fail(err, "token file '%s' claims %" PRId32 " tokens but holds %" PRId64 " bytes of them",
                        path, count, size - header);
    if (alloc_ids(out, count, path, err))
        return -1;
    for (int64_t i = 0; i < count; i++) {
        const uint8_t *p = buf + header + 2 * i;
        out->ids[i] = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8);
        if (out->ids[i] >= vocab)
            return tfx_fail(err, "token file '%s': token %" PRId64 " is %" PRId32 ", outside the vocabulary of %" PRId64,
                            path, i, out->ids[i], vocab);
    }
    return 0;
}

int tfx_tokens_read(tfx_tokens *out, const char *path, const char *where, int64_t vocab,
                    tfx_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t size = 0;
    uint8_t *buf = slurp(path, where, &size, err);
    if (!buf)
        return -1;
    int rc;
    if (size >= 4 && le32(buf) == TFX_DATA_MAGIC)
        rc = parse_token_file(out, buf, size, path, vocab, err);
    else if (vocab < 256)
        rc = tfx_fail(err, "text '%s' is read as bytes (256 tokens) but the vocabulary is %" PRId64,
                      path, vocab);
    else if ((rc = alloc_ids(out, size, path, err)) == 0)
        for (int64_t i = 0; i < size; i++)
            out->ids[i] = buf[i];
    free(buf);
    if (rc)
        tfx_tokens_free(out);
    return rc;
}

void tfx_tokens_free(tfx_tokens *t)
{
    free(t->ids);
    memset(t, 0, sizeof *t);
}

int tfx_tokens_split(tfx_tokens *all, tfx_tokens *val, double fraction, const char *path,
                     tfx_error *err)
{
    int64_t n_val = (int64_t)((double)all->n * fraction);
    if (n_val < 2 || all->n - n_val < 2)
        return tfx_fail(err, "data '%s': %" PRId64 " tokens leave no room for a validation tail of %g (give --val FILE)",
                        path, all->n, fraction);
    memset(val, 0, sizeof *val);
    if (!(val->ids = malloc((size_t)n_val * sizeof *val->ids)))
        return tfx_fail(err, "out of memory");
    val->n = n_val;
    all->n -= n_val;
    memcpy(val->ids, all->ids + all->n, (size_t)n_val * sizeof *val->ids);
    return 0;
}

void tfx_tokens_batch(const tfx_tokens *src, int64_t *pos, int64_t B, int64_t T, int32_t *out)
{
    for (int64_t b = 0; b < B; b++) {
        if (*pos + T > src->n)
            *pos = 0;
        memcpy(out + b * T, src->ids + *pos, (size_t)T * sizeof *out);
        *pos += T;
    }
}
