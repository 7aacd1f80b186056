/* core/pool.h — the worker threads of tfx's own kernels (the decode matrix-vector products):
 * started once for --threads, given one range to split per call, asleep between bursts. */
#ifndef TFX_CORE_POOL_H
#define TFX_CORE_POOL_H

#include <stdint.h>

/* Work on items [begin, end) of a job. */
typedef void (*tfx_pool_fn)(void *ctx, int64_t begin, int64_t end);

/* Run with `n_threads` threads in all (the caller and n_threads - 1 workers); stops the workers
 * of an earlier call first. 1 (or a failure to start a thread) leaves every job on the caller.
 * Not thread-safe: one thread drives the pool. */
void tfx_pool_start(int n_threads);

/* Threads the pool runs with (1 when it was never started). */
int tfx_pool_threads(void);

/* fn over [0, n) in one contiguous part per thread, parts a multiple of `align` items; returns
 * when every part is done. Jobs smaller than `min_per_thread` items per thread stay on the
 * caller. */
void tfx_pool_run(tfx_pool_fn fn, void *ctx, int64_t n, int64_t align, int64_t min_per_thread);

/* Stop and join the workers (also at exit). */
void tfx_pool_stop(void);

#endif
