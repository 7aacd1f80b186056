/* core/safetensors.c — memory-maps safetensors files and checks every claim of the header
 * (through jansson) before any byte of data is read; also writes them. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checked.h"
#include "files.h"

#define MAX_HEADER (100u << 20)

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian");

static const struct {
    const char *name;
    size_t size;
} dtypes[TFX_DTYPE_COUNT] = {
    [TFX_DTYPE_F32] = {"F32", 4}, [TFX_DTYPE_F16] = {"F16", 2}, [TFX_DTYPE_BF16] = {"BF16", 2},
    [TFX_DTYPE_F64] = {"F64", 8}, [TFX_DTYPE_I64] = {"I64", 8}, [TFX_DTYPE_I32] = {"I32", 4},
    [TFX_DTYPE_I16] = {"I16", 2}, [TFX_DTYPE_I8] = {"I8", 1},   [TFX_DTYPE_U8] = {"U8", 1},
    [TFX_DTYPE_BOOL] = {"BOOL", 1},
};

const char *tfx_dtype_name(tfx_dtype t) { return (unsigned)t < TFX_DTYPE_COUNT ? dtypes[t].name : "?"; }
size_t tfx_dtype_size(tfx_dtype t) { return (unsigned)t < TFX_DTYPE_COUNT ? dtypes[t].size : 0; }

static int dtype_from_name(const char *name)
{
    for (int t = 0; t < TFX_DTYPE_COUNT; t++)
        if (strcmp(dtypes[t].name, name) == 0)
            return t;
    return -1;
}

/* ---- header ------------------------------------------------------------------------------- */

static int read_u64(json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Fill t from one header entry; data_size is the size of the data section. */
static int parse_tensor(const char *path, const char *name, json_t *entry, const uint8_t *data,
                        uint64_t data_size, tfx_st_tensor *t, uint64_t offsets[2], tfx_error *err)
{
    if (!json_is_object(entry))
        return tfx_fail(err, "%s: tensor '%s': expected an object with dtype, shape and data_offsets", path, name);
    json_t *dtype = json_object_get(entry, "dtype"), *shape = json_object_get(entry, "shape"),
           *offs = json_object_get(entry, "data_offsets");
    if (!json_is_string(dtype))
        return tfx_fail(err, "%s: tensor '%s': 'dtype' must be a string", path, name);
    int d = dtype_from_name(json_string_value(dtype));
    if (d < 0)
        return tfx_fail(err, "%s: tensor '%s': unsupported dtype '%s'", path, name, json_string_value(dtype));
    t->dtype = (tfx_dtype)d;
    if (!json_is_array(shape) || json_array_size(shape) > TFX_ST_MAX_RANK)
        return tfx_fail(err, "%s: tensor '%s': 'shape' must be a list of at most %d sizes", path, name, TFX_ST_MAX_RANK);
    t->rank = (int)json_array_size(shape);
    t->numel = 1;
    for (int i = 0; i < t->rank; i++) {
        uint64_t dim;
        if (read_u64(json_array_get(shape, (size_t)i), &dim) || dim > INT64_MAX)
            return tfx_fail(err, "%s: tensor '%s': shape entry %d is not a non-negative integer", path, name, i);
        t->shape[i] = (int64_t)dim;
        if (tfx_mul_overflows(t->numel, t->shape[i], &t->numel))
            return tfx_fail(err, "%s: tensor '%s': its shape's element count overflows 64 bits", path, name);
    }
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        read_u64(json_array_get(offs, 0), &offsets[0]) || read_u64(json_array_get(offs, 1), &offsets[1]))
        return tfx_fail(err, "%s: tensor '%s': 'data_offsets' must be [begin, end] of non-negative integers", path, name);
    if (offsets[0] > offsets[1] || offsets[1] > data_size)
        return tfx_fail(err, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] lie outside the %" PRIu64 " bytes of data",
                        path, name, offsets[0], offsets[1], data_size);
    uint64_t bytes;
    if (tfx_mul_overflows_u64((uint64_t)t->numel, (uint64_t)dtypes[d].size, &bytes) ||
        bytes != offsets[1] - offsets[0])
        return tfx_fail(err, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64 " bytes, but its shape and %s need %" PRIu64,
                        path, name, offsets[0], offsets[1], offsets[1] - offsets[0], dtypes[d].name,
                        bytes);
    t->nbytes = (size_t)bytes;
    t->data = data + offsets[0];
    return 0;
}

typedef struct span {
    uint64_t begin, end;
    size_t index;
} span;

static int compare_spans(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static int compare_tensors(const void *a, const void *b)
{
    return strcmp(((const tfx_st_tensor *)a)->name, ((const tfx_st_tensor *)b)->name);
}

/* Every two non-empty byte ranges are disjoint. Empty ones hold no bytes and are dropped first:
 * left in, one sorted between two overlapping ranges hid them from the neighbour check. Sorted
 * by begin, non-empty ranges overlap somewhere only if two neighbours do. */
static int check_overlaps(const char *path, tfx_st_file *f, span *spans, tfx_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (spans[i].end > spans[i].begin)
            spans[n++] = spans[i];
    qsort(spans, n, sizeof *spans, compare_spans);
    for (size_t i = 1; i < n; i++)
        if (spans[i].begin < spans[i - 1].end)
            return tfx_fail(err, "%s: tensors '%s' and '%s' overlap", path,
                            f->tensors[spans[i - 1].index].name, f->tensors[spans[i].index].name);
    return 0;
}

static int parse_header(tfx_st_file *f, const char *path, const char *text, size_t len,
                        const uint8_t *data, uint64_t data_size, tfx_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    span *spans = NULL;
    int rc = -1;
    if (!root)
        return tfx_fail(err, "%s: header is not valid JSON: %s (line %d, column %d)", path, jerr.text,
                        jerr.line, jerr.column);
    if (!json_is_object(root)) {
        tfx_fail(err, "%s: header must be a JSON object", path);
        goto out;
    }
    size_t cap = json_object_size(root);
    f->tensors = calloc(cap + 1, sizeof *f->tensors);
    spans = calloc(cap + 1, sizeof *spans);
    if (!f->tensors || !spans) {
        tfx_fail(err, "%s: out of memory", path);
        goto out;
    }
    const char *name;
    json_t *entry;
    json_object_foreach(root, name, entry) {
        if (strcmp(name, "__metadata__") == 0) {
            const char *k;
            json_t *v;
            if (!json_is_object(entry)) {
                tfx_fail(err, "%s: __metadata__ must be an object of strings", path);
                goto out;
            }
            json_object_foreach(entry, k, v) if (!json_is_string(v)) {
                tfx_fail(err, "%s: __metadata__ must be an object of strings", path);
                goto out;
            }
            continue;
        }
        tfx_st_tensor *t = &f->tensors[f->n];
        uint64_t offsets[2];
        if (!(t->name = strdup(name))) {
            tfx_fail(err, "%s: out of memory", path);
            goto out;
        }
        f->n++;
        if (parse_tensor(path, name, entry, data, data_size, t, offsets, err))
            goto out;
        spans[f->n - 1] = (span){offsets[0], offsets[1], f->n - 1};
    }
    if (check_overlaps(path, f, spans, err))
        goto out;
    qsort(f->tensors, f->n, sizeof *f->tensors, compare_tensors);
    rc = 0;
out:
    free(spans);
    json_decref(root);
    return rc;
}

/* ---- open / close ------------------------------------------------------------------------- */

tfx_st_file *tfx_st_open(const char *path, tfx_error *err)
{
    tfx_st_file *f = calloc(1, sizeof *f);
    int fd = -1;
    if (!f || !(f->path = strdup(path))) {
        tfx_fail(err, "out of memory");
        goto err_free;
    }
    if ((fd = tfx_input_open(path, NULL, err)) < 0)
        goto err_free;
    struct stat sb;
    if (fstat(fd, &sb)) {
        tfx_fail(err, "cannot read '%s': %s", path, strerror(errno));
        goto err_free;
    }
    if (sb.st_size < 8) {
        tfx_fail(err, "%s: %lld bytes is too short for a safetensors file (8-byte header length first)",
                 path, (long long)sb.st_size);
        goto err_free;
    }
    f->map_size = (size_t)sb.st_size;
    f->map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        tfx_fail(err, "%s: cannot map: %s", path, strerror(errno));
        goto err_free;
    }
    /* Truncated under us, a touch of the lost pages would be SIGBUS: make it an error. */
    if (tfx_map_watch(f->map, f->map_size, path)) {
        tfx_fail(err, "%s: out of memory", path);
        goto err_free;
    }
    uint64_t header_len;
    memcpy(&header_len, f->map, 8);
    if (header_len > MAX_HEADER || header_len > f->map_size - 8) {
        tfx_fail(err, "%s: header length %" PRIu64 " runs past the end of the file (%zu bytes)", path,
                 header_len, f->map_size);
        goto err_free;
    }
    const uint8_t *bytes = f->map;
    if (parse_header(f, path, (const char *)bytes + 8, (size_t)header_len, bytes + 8 + header_len,
                     f->map_size - 8 - header_len, err))
        goto err_free;
    close(fd);
    return f;
err_free:
    if (fd >= 0)
        close(fd);
    tfx_st_close(f);
    return NULL;
}

void tfx_st_close(tfx_st_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    if (f->map) {
        tfx_map_unwatch(f->map);
        munmap(f->map, f->map_size);
    }
    free(f->path);
    free(f);
}

const tfx_st_tensor *tfx_st_find(const tfx_st_file *f, const char *name)
{
    tfx_st_tensor key = {.name = (char *)name};
    return f->n ? bsearch(&key, f->tensors, f->n, sizeof key, compare_tensors) : NULL;
}

/* ---- conversion --------------------------------------------------------------------------- */

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f)
        bits = sign | 0x7f800000u | (mant << 13);
    else if (exp != 0)
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    else if (mant == 0)
        bits = sign;
    else { /* subnormal: normalise */
        int e = -1;
        do {
            e++;
            mant <<= 1;
        } while (!(mant & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ff) << 13);
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

static int check_range(const tfx_st_tensor *t, int64_t first, int64_t count, tfx_error *err)
{
    if (first < 0 || count < 0 || first > t->numel || count > t->numel - first)
        return tfx_fail(err, "tensor '%s': elements [%" PRId64 ", +%" PRId64 ") are outside its %" PRId64,
                        t->name, first, count, t->numel);
    return 0;
}

int tfx_st_read_f32(const tfx_st_tensor *t, int64_t first, int64_t count, float *out,
                    tfx_error *err)
{
    if (check_range(t, first, count, err))
        return -1;
    const uint8_t *p = (const uint8_t *)t->data + (size_t)first * dtypes[t->dtype].size;
    switch (t->dtype) {
    case TFX_DTYPE_F32:
        memcpy(out, p, (size_t)count * 4);
        return 0;
    case TFX_DTYPE_F16:
        for (int64_t i = 0; i < count; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = half_to_float(h);
        }
        return 0;
    case TFX_DTYPE_BF16:
        for (int64_t i = 0; i < count; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&out[i], &bits, 4);
        }
        return 0;
    case TFX_DTYPE_F64:
        for (int64_t i = 0; i < count; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            out[i] = (float)d;
        }
        return 0;
    default:
        return tfx_fail(err, "tensor '%s' is %s; expected a floating-point tensor", t->name,
                        dtypes[t->dtype].name);
    }
}

int tfx_st_read_i64(const tfx_st_tensor *t, int64_t first, int64_t count, int64_t *out,
                    tfx_error *err)
{
    if (check_range(t, first, count, err))
        return -1;
    size_t size = dtypes[t->dtype].size;
    const uint8_t *p = (const uint8_t *)t->data + (size_t)first * size;
    for (int64_t i = 0; i < count; i++) {
        const uint8_t *e = p + (size_t)i * size;
        switch (t->dtype) {
        case TFX_DTYPE_I64: { int64_t v; memcpy(&v, e, 8); out[i] = v; break; }
        case TFX_DTYPE_I32: { int32_t v; memcpy(&v, e, 4); out[i] = v; break; }
        case TFX_DTYPE_I16: { int16_t v; memcpy(&v, e, 2); out[i] = v; break; }
        case TFX_DTYPE_I8: out[i] = (int8_t)*e; break;
        case TFX_DTYPE_U8: out[i] = *e; break;
        case TFX_DTYPE_BOOL: out[i] = *e != 0; break;
        default:
            return tfx_fail(err, "tensor '%s' is %s; expected an integer tensor", t->name,
                            dtypes[t->dtype].name);
        }
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------ */

int tfx_st_write(const char *path, const char *where, const tfx_st_out *tensors, size_t n,
                 tfx_error *err)
{
    json_t *header = json_object();
    uint64_t offset = 0;
    int rc = -1;
    char *text = NULL;
    tfx_output out = {.slot = -1};
    for (size_t i = 0; i < n; i++) {
        const tfx_st_out *t = &tensors[i];
        uint64_t numel = 1, bytes;
        json_t *shape = json_array();
        for (int d = 0; d < t->rank; d++) {
            json_array_append_new(shape, json_integer(t->shape[d]));
            if (t->shape[d] < 0 || __builtin_mul_overflow(numel, (uint64_t)t->shape[d], &numel))
                numel = UINT64_MAX;
        }
        if (__builtin_mul_overflow(numel, (uint64_t)tfx_dtype_size(t->dtype), &bytes) ||
            __builtin_add_overflow(offset, bytes, &bytes)) {
            json_decref(shape);
            tfx_fail(err, "%s: tensor '%s' is too large", path, t->name);
            goto out;
        }
        json_object_set_new(header, t->name,
                            json_pack("{s:s, s:o, s:[I, I]}", "dtype", tfx_dtype_name(t->dtype),
                                      "shape", shape, "data_offsets", (json_int_t)offset,
                                      (json_int_t)bytes));
        offset = bytes;
    }
    text = json_dumps(header, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        tfx_fail(err, "%s: out of memory", path);
        goto out;
    }
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    uint64_t header_len = padded;
    if (tfx_output_open(&out, path, where, err))
        goto out;
    FILE *f = out.f;
    int ok = fwrite(&header_len, 8, 1, f) == 1 && fwrite(text, 1, len, f) == len;
    for (size_t i = len; ok && i < padded; i++)
        ok = fputc(' ', f) != EOF;
    for (size_t i = 0; ok && i < n; i++) {
        size_t bytes = tfx_dtype_size(tensors[i].dtype);
        for (int d = 0; d < tensors[i].rank; d++)
            bytes *= (size_t)tensors[i].shape[d];
        ok = bytes == 0 || fwrite(tensors[i].data, 1, bytes, f) == bytes;
    }
    if (!ok) {
        tfx_fail(err, "cannot write '%s': %s", path, strerror(errno));
        tfx_output_abort(&out); /* the temporary file; never the path, which may be a device */
        goto out;
    }
    rc = tfx_output_commit(&out, err);
out:
    free(text);
    json_decref(header);
    return rc;
}

void tfx_st_release(const tfx_st_tensor *t)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || t->nbytes == 0)
        return;
    uintptr_t begin = ((uintptr_t)t->data + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    uintptr_t end = ((uintptr_t)t->data + t->nbytes) / (uintptr_t)page * (uintptr_t)page;
    if (end > begin)
        madvise((void *)begin, end - begin, MADV_DONTNEED);
}
