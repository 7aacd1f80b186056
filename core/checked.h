/* core/checked.h — size arithmetic that cannot wrap: every sum or product of sizes that come
 * from a recipe, a file or a plugin goes through these, and an overflow becomes an error. */
#ifndef TFX_CORE_CHECKED_H
#define TFX_CORE_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

/* *r = a * b (or a + b); true when the result does not fit (then *r must not be used). */
static inline bool tfx_mul_overflows(int64_t a, int64_t b, int64_t *r)
{
    return __builtin_mul_overflow(a, b, r);
}

static inline bool tfx_add_overflows(int64_t a, int64_t b, int64_t *r)
{
    return __builtin_add_overflow(a, b, r);
}

static inline bool tfx_mul_overflows_u64(uint64_t a, uint64_t b, uint64_t *r)
{
    return __builtin_mul_overflow(a, b, r);
}

static inline bool tfx_add_overflows_u64(uint64_t a, uint64_t b, uint64_t *r)
{
    return __builtin_add_overflow(a, b, r);
}

/* *r = n rounded up to a multiple of `align` (> 0); true when n < 0 or the result does not fit. */
static inline bool tfx_round_up_overflows(int64_t n, int64_t align, int64_t *r)
{
    int64_t sum;
    if (n < 0 || align < 1 || __builtin_add_overflow(n, align - 1, &sum))
        return true;
    *r = sum / align * align;
    return false;
}

/* Every buffer tfx carves out of a block starts on 64 bytes: sizes in floats are padded to a
 * multiple of TFX_ALIGN_FLOATS. */
#define TFX_ALIGN_FLOATS 16

/* *r = floats padded to TFX_ALIGN_FLOATS; true when floats < 0 or the result does not fit. */
static inline bool tfx_pad_floats_overflows(int64_t floats, int64_t *r)
{
    return tfx_round_up_overflows(floats, TFX_ALIGN_FLOATS, r);
}

/* floats padded to TFX_ALIGN_FLOATS, for a size whose padding was checked already. */
static inline int64_t tfx_pad_floats(int64_t floats)
{
    return (floats + TFX_ALIGN_FLOATS - 1) / TFX_ALIGN_FLOATS * TFX_ALIGN_FLOATS;
}

#endif
