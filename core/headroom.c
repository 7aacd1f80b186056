/* core/headroom.c — reads what limits this process's memory (MemAvailable, ulimit -v, the
 * cgroup's limit) and keeps the tightest, so that a run that cannot fit fails before it starts. */
#include "headroom.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* The first "<key> <n> kB" line of a /proc file, in bytes; TFX_UNLIMITED when absent. */
static uint64_t proc_kb(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[256];
    unsigned long long kb;
    uint64_t bytes = TFX_UNLIMITED;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && sscanf(line + n, " %llu kB", &kb) == 1) {
            bytes = kb <= UINT64_MAX / 1024 ? (uint64_t)kb * 1024u : TFX_UNLIMITED;
            break;
        }
    if (f)
        fclose(f);
    return bytes;
}

/* One number from a cgroup file ("max" and anything unreadable: TFX_UNLIMITED). */
static uint64_t cgroup_value(const char *dir, const char *file)
{
    char path[4096];
    unsigned long long v;
    int n = snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = n > 0 && (size_t)n < sizeof path ? fopen(path, "r") : NULL;
    uint64_t value = TFX_UNLIMITED;
    if (f && fscanf(f, "%llu", &v) == 1)
        value = (uint64_t)v;
    if (f)
        fclose(f);
    return value;
}

/* The tightest limit - usage from `dir` up to `root` (a v1 limit near 2^63 means none). */
static uint64_t cgroup_headroom(const char *root, const char *rel, const char *max_file,
                                const char *usage_file)
{
    char dir[4096];
    uint64_t best = TFX_UNLIMITED;
    int n = snprintf(dir, sizeof dir, "%s%s", root, rel);
    if (n <= 0 || (size_t)n >= sizeof dir)
        return best;
    size_t root_len = strlen(root);
    for (;;) {
        uint64_t max = cgroup_value(dir, max_file), used = cgroup_value(dir, usage_file);
        if (max < (UINT64_C(1) << 62) && used != TFX_UNLIMITED) {
            uint64_t room = max > used ? max - used : 0;
            best = room < best ? room : best;
        }
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < root_len)
            break;
        *slash = '\0';
    }
    return best;
}

/* The process's cgroup headroom: the v2 line "0::/path", else the v1 memory controller's. */
static uint64_t cgroup_limit(const tfx_headroom_sources *src)
{
    FILE *f = fopen(src->cgroup, "r");
    char line[4096], v1[4096];
    uint64_t best = TFX_UNLIMITED;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        const char *rel = NULL;
        if (strncmp(line, "0::", 3) == 0) {
            rel = line + 3;
            uint64_t room = cgroup_headroom(src->cgroup_root, strcmp(rel, "/") ? rel : "",
                                            "memory.max", "memory.current");
            best = room < best ? room : best;
        } else if ((rel = strstr(line, ":memory:"))) {
            rel += strlen(":memory:");
            snprintf(v1, sizeof v1, "%s/memory", src->cgroup_root);
            uint64_t room = cgroup_headroom(v1, strcmp(rel, "/") ? rel : "",
                                            "memory.limit_in_bytes", "memory.usage_in_bytes");
            best = room < best ? room : best;
        }
    }
    if (f)
        fclose(f);
    return best;
}

void tfx_headroom_read(tfx_headroom *h, const tfx_headroom_sources *src)
{
    h->available = proc_kb(src->meminfo, "MemAvailable:");
    h->address_space = TFX_UNLIMITED;
    if (src->address_limit != TFX_UNLIMITED) {
        uint64_t used = proc_kb(src->status, "VmSize:");
        used = used == TFX_UNLIMITED ? 0 : used;
        h->address_space = src->address_limit > used ? src->address_limit - used : 0;
    }
    h->cgroup = cgroup_limit(src);
    h->bytes = h->available, h->limit = "the memory available, MemAvailable";
    if (h->address_space < h->bytes)
        h->bytes = h->address_space, h->limit = "the address-space limit (ulimit -v)";
    if (h->cgroup < h->bytes)
        h->bytes = h->cgroup, h->limit = "the cgroup's memory limit";
}

void tfx_headroom_measure(tfx_headroom *h, uint64_t address_reserve)
{
    struct rlimit rl;
    tfx_headroom_sources src = {.meminfo = "/proc/meminfo", .status = "/proc/self/status",
                                .cgroup = "/proc/self/cgroup", .cgroup_root = "/sys/fs/cgroup",
                                .address_limit = TFX_UNLIMITED};
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        src.address_limit = (uint64_t)rl.rlim_cur > address_reserve ? (uint64_t)rl.rlim_cur - address_reserve : 0;
    tfx_headroom_read(h, &src);
}
