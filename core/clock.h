/* core/clock.h — the one monotonic clock tfx times itself by: seconds for reports and progress,
 * nanoseconds for the pool's spin deadline. */
#ifndef TFX_CORE_CLOCK_H
#define TFX_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic nanoseconds since an arbitrary start. */
static inline int64_t tfx_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Monotonic seconds since an arbitrary start. */
static inline double tfx_now(void) { return 1e-9 * (double)tfx_now_ns(); }

#endif
