/* core/headroom.h — how much more memory this process may take: the smallest of available
 * memory, the address-space limit's headroom and the cgroup's memory limit. */
#ifndef TFX_CORE_HEADROOM_H
#define TFX_CORE_HEADROOM_H

#include <stdint.h>

#define TFX_UNLIMITED UINT64_MAX

/* Where the figures come from; tfx_headroom_measure uses the live system's. */
typedef struct tfx_headroom_sources {
    const char *meminfo;          /* /proc/meminfo: MemAvailable */
    const char *status;           /* /proc/self/status: VmSize */
    const char *cgroup;           /* /proc/self/cgroup: the process's cgroup paths */
    const char *cgroup_root;      /* /sys/fs/cgroup: v2 files here, v1 under memory/ */
    uint64_t address_limit;       /* RLIMIT_AS in bytes, TFX_UNLIMITED for none */
} tfx_headroom_sources;

typedef struct tfx_headroom {
    uint64_t available;           /* MemAvailable */
    uint64_t address_space;       /* RLIMIT_AS minus VmSize */
    uint64_t cgroup;              /* the tightest memory.max - memory.current on the way up (v2),
                                   * or memory.limit_in_bytes - memory.usage_in_bytes (v1) */
    uint64_t bytes;               /* the smallest of the three */
    const char *limit;            /* which one that is, for messages */
} tfx_headroom;                   /* each TFX_UNLIMITED when absent or unreadable */

/* Fill h from the live system (the one function every memory check uses); `address_reserve`
 * bytes of the address-space headroom are kept back for mappings made outside tfx's plan. */
void tfx_headroom_measure(tfx_headroom *h, uint64_t address_reserve);

/* The same from the given sources (for tests). */
void tfx_headroom_read(tfx_headroom *h, const tfx_headroom_sources *src);

#endif
