/* core/safetensors.h — reading (memory-mapped, every header claim checked) and writing
 * safetensors files: the checkpoint format and the format of tfx's logits and test fixtures. */
#ifndef TFX_CORE_SAFETENSORS_H
#define TFX_CORE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum tfx_dtype {
    TFX_DTYPE_F32,
    TFX_DTYPE_F16,
    TFX_DTYPE_BF16,
    TFX_DTYPE_F64,
    TFX_DTYPE_I64,
    TFX_DTYPE_I32,
    TFX_DTYPE_I16,
    TFX_DTYPE_I8,
    TFX_DTYPE_U8,
    TFX_DTYPE_BOOL,
    TFX_DTYPE_COUNT
} tfx_dtype;

#define TFX_ST_MAX_RANK 8

typedef struct tfx_st_tensor {
    char *name;
    tfx_dtype dtype;
    int rank;
    int64_t shape[TFX_ST_MAX_RANK];
    int64_t numel;                /* product of shape (1 for rank 0) */
    const void *data;             /* inside the mapping; numel * dtype size bytes */
    size_t nbytes;
} tfx_st_tensor;

typedef struct tfx_st_file {
    char *path;
    void *map;                    /* the whole file, read-only */
    size_t map_size;
    size_t n;
    tfx_st_tensor *tensors;       /* [n], sorted by name */
} tfx_st_file;

/* Name of a dtype as safetensors writes it ("F32"), and its size in bytes. */
const char *tfx_dtype_name(tfx_dtype t);
size_t tfx_dtype_size(tfx_dtype t);

/* Map and validate `path`. Every claim of the header is checked before use: header length
 * within the file, valid JSON object, known dtypes, non-negative integer shapes whose byte size
 * does not overflow and equals data_offsets' span, offsets inside the data section, no two
 * tensors overlapping. Returns NULL with err naming the file and the offending tensor. */
tfx_st_file *tfx_st_open(const char *path, tfx_error *err);
void tfx_st_close(tfx_st_file *f);

/* The tensor named `name`, or NULL. */
const tfx_st_tensor *tfx_st_find(const tfx_st_file *f, const char *name);

/* Convert `count` elements starting at element `first` of t (F32, F16, BF16, F64) to float. */
int tfx_st_read_f32(const tfx_st_tensor *t, int64_t first, int64_t count, float *out,
                    tfx_error *err);
/* Let the kernel take back the mapped pages wholly inside t's data, once it has been copied
 * out: they stop counting as this process's resident memory (the file is read again if t is). */
void tfx_st_release(const tfx_st_tensor *t);

/* Convert an integer tensor (I64, I32, I16, I8, U8) to int64 values. */
int tfx_st_read_i64(const tfx_st_tensor *t, int64_t first, int64_t count, int64_t *out,
                    tfx_error *err);

/* A tensor to write: F32 or I64 data, caller-owned. */
typedef struct tfx_st_out {
    const char *name;
    tfx_dtype dtype;              /* TFX_DTYPE_F32 or TFX_DTYPE_I64 */
    int rank;
    int64_t shape[TFX_ST_MAX_RANK];
    const void *data;
} tfx_st_out;

/* Write tensors to `path` (header padded to 8 bytes, as the reference writer does), through
 * tfx_output (core/files.h): atomically, never over an input; `where` names the option that
 * gave the path ("--logits"). Returns 0, or -1 with err set. */
int tfx_st_write(const char *path, const char *where, const tfx_st_out *tensors, size_t n,
                 tfx_error *err);

#endif
