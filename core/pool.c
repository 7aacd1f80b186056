/* core/pool.c — worker threads for tfx's own kernels: a job is published under a generation
 * number; idle workers spin briefly for the next, then sleep, so none competes with OpenBLAS. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "clock.h"

enum { MAX_THREADS = 256 };
#define SPIN_NS 200000 /* how long an idle worker looks for the next job before sleeping */

static struct {
    int n_threads;                /* caller included; 1 = no workers */
    pthread_t workers[MAX_THREADS];
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int sleepers;                 /* under lock */
    atomic_uint_fast64_t generation;
    atomic_int pending;           /* parts not yet done */
    atomic_int stop;
    uint64_t first_generation;    /* when the workers started: a job after it is theirs */
    tfx_pool_fn fn;               /* the job of the current generation */
    void *ctx;
    int64_t n, part;
} pool = {.n_threads = 1, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void run_part(int id)
{
    int64_t begin = id * pool.part, end = begin + pool.part;
    if (end > pool.n)
        end = pool.n;
    if (begin < end)
        pool.fn(pool.ctx, begin, end);
}

/* Wait for a generation other than `seen`: spin, then sleep. Returns it. */
static uint64_t next_generation(uint64_t seen)
{
    int64_t deadline = tfx_now_ns() + SPIN_NS;
    for (int i = 1;; i++) {
        uint64_t g = atomic_load_explicit(&pool.generation, memory_order_acquire);
        if (g != seen || atomic_load(&pool.stop))
            return g;
        cpu_relax();
        if (i % 256 == 0 && tfx_now_ns() > deadline)
            break;
    }
    pthread_mutex_lock(&pool.lock);
    uint64_t g;
    pool.sleepers++;
    while ((g = atomic_load(&pool.generation)) == seen && !atomic_load(&pool.stop))
        pthread_cond_wait(&pool.wake, &pool.lock);
    pool.sleepers--;
    pthread_mutex_unlock(&pool.lock);
    return g;
}

static void *worker_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t seen = pool.first_generation; /* not the current one: a job may already wait */
    for (;;) {
        seen = next_generation(seen);
        if (atomic_load(&pool.stop))
            return NULL;
        run_part(id);
        atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
    }
}

void tfx_pool_stop(void)
{
    if (pool.n_threads <= 1)
        return;
    pthread_mutex_lock(&pool.lock);
    atomic_store(&pool.stop, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 1; i < pool.n_threads; i++)
        pthread_join(pool.workers[i], NULL);
    pool.n_threads = 1;
    atomic_store(&pool.stop, 0);
}

void tfx_pool_start(int n_threads)
{
    static int registered;
    tfx_pool_stop();
    if (!registered)
        registered = atexit(tfx_pool_stop) == 0;
    if (n_threads > MAX_THREADS)
        n_threads = MAX_THREADS;
    pool.first_generation = atomic_load(&pool.generation);
    int started = 1;
    for (int i = 1; i < n_threads; i++, started++)
        if (pthread_create(&pool.workers[i], NULL, worker_main, (void *)(intptr_t)i) != 0)
            break;
    pool.n_threads = started;
}

int tfx_pool_threads(void) { return pool.n_threads; }

void tfx_pool_run(tfx_pool_fn fn, void *ctx, int64_t n, int64_t align, int64_t min_per_thread)
{
    int t = pool.n_threads;
    if (t <= 1 || n < (int64_t)t * min_per_thread) {
        fn(ctx, 0, n);
        return;
    }
    int64_t part = (n + t - 1) / t;
    pool.fn = fn, pool.ctx = ctx, pool.n = n;
    pool.part = (part + align - 1) / align * align;
    atomic_store_explicit(&pool.pending, t - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_mutex_lock(&pool.lock);
    if (pool.sleepers)
        pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    run_part(0);
    while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0)
        cpu_relax();
}
