/* tests/test_headroom.c — the memory a run may take is the tightest of MemAvailable, the
 * address-space limit's headroom and the cgroup's limit (v2 up the tree, or v1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "headroom.h"

static char dir[64];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static tfx_headroom read_at(uint64_t address_limit)
{
    char meminfo[128], status[128], cgroup[128], root[128];
    snprintf(meminfo, sizeof meminfo, "%s/meminfo", dir);
    snprintf(status, sizeof status, "%s/status", dir);
    snprintf(cgroup, sizeof cgroup, "%s/cgroup", dir);
    snprintf(root, sizeof root, "%s/sys", dir);
    tfx_headroom_sources src = {.meminfo = meminfo, .status = status, .cgroup = cgroup,
                                .cgroup_root = root, .address_limit = address_limit};
    tfx_headroom h;
    tfx_headroom_read(&h, &src);
    return h;
}

static void headroom_case(void **state)
{
    assert_non_null(mkdtemp(strcpy(dir, "/tmp/tfx-headroom-XXXXXX")));
    put("meminfo", "MemTotal:       1000000 kB\nMemAvailable:     500000 kB\n");
    put("status", "Name:\ttfx\nVmSize:\t  100000 kB\n");
    put("cgroup", "0::/\n");
    tfx_headroom h = read_at(TFX_UNLIMITED);
    assert_true(h.bytes == 500000ull * 1024 && h.address_space == TFX_UNLIMITED);
    assert_string_equal(h.limit, "the memory available, MemAvailable");

    /* ulimit -v: the limit less what is mapped already. */
    h = read_at(300000ull * 1024);
    assert_true(h.address_space == 200000ull * 1024 && h.bytes == h.address_space);
    assert_string_equal(h.limit, "the address-space limit (ulimit -v)");

    /* cgroup v2: the tightest memory.max - memory.current on the way up to the root. */
    put("cgroup", "0::/a/b\n");
    put("sys/a/b/memory.max", "max\n");
    put("sys/a/b/memory.current", "1000\n");
    put("sys/a/memory.max", "104857600\n");
    put("sys/a/memory.current", "4857600\n");
    h = read_at(TFX_UNLIMITED);
    assert_true(h.cgroup == 100000000ull && h.bytes == h.cgroup);
    assert_string_equal(h.limit, "the cgroup's memory limit");

    /* cgroup v1: the memory controller's limit_in_bytes; ~2^63 means none. */
    put("cgroup", "4:memory:/job\n0::/\n");
    put("sys/memory/job/memory.limit_in_bytes", "9223372036854771712\n");
    put("sys/memory/job/memory.usage_in_bytes", "5\n");
    put("sys/memory/memory.limit_in_bytes", "50000000\n");
    put("sys/memory/memory.usage_in_bytes", "20000000\n");
    h = read_at(TFX_UNLIMITED);
    assert_true(h.cgroup == 30000000ull && h.bytes == h.cgroup);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(headroom_case)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
