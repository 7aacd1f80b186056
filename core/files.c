/* core/files.c — the one way tfx opens files: inputs that cannot hang and are remembered,
 * outputs through a temporary file and a rename, and mappings whose SIGBUS becomes an error. */
#define _GNU_SOURCE
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text.h"

/* ---- inputs -------------------------------------------------------------------------------- */

typedef struct input {
    dev_t dev;
    ino_t ino;
    char *path;                   /* as it was named, for the refusal's message */
} input;

static input *inputs;             /* [n_inputs] every input opened so far */
static size_t n_inputs, cap_inputs;

static const char *kind_of(mode_t mode)
{
    return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) ? "a character device"
         : S_ISBLK(mode) ? "a block device" : S_ISSOCK(mode) ? "a socket" : "not a plain file";
}

/* "[where: ]cannot read 'path': why" */
static int fail_read(tfx_error *err, const char *where, const char *path, const char *why)
{
    if (where)
        return tfx_fail(err, "%s: cannot read '%s': %s", where, path, why);
    return tfx_fail(err, "cannot read '%s': %s", path, why);
}

static int remember(const struct stat *sb, const char *path, tfx_error *err)
{
    for (size_t i = 0; i < n_inputs; i++)
        if (inputs[i].dev == sb->st_dev && inputs[i].ino == sb->st_ino)
            return 0;
    if (n_inputs == cap_inputs) {
        size_t cap = cap_inputs ? 2 * cap_inputs : 16, bytes;
        input *grown;
        if (__builtin_mul_overflow(cap, sizeof *grown, &bytes) || !(grown = realloc(inputs, bytes)))
            return tfx_fail(err, "out of memory");
        inputs = grown;
        cap_inputs = cap;
    }
    if (!(inputs[n_inputs].path = strdup(path)))
        return tfx_fail(err, "out of memory");
    inputs[n_inputs].dev = sb->st_dev;
    inputs[n_inputs++].ino = sb->st_ino;
    return 0;
}

int tfx_input_open(const char *path, const char *where, tfx_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fail_read(err, where, path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        fail_read(err, where, path, strerror(errno));
        goto err_close;
    }
    if (!S_ISREG(sb.st_mode)) {
        char why[64];
        tfx_text(why, sizeof why, "(%s)", kind_of(sb.st_mode));
        if (where)
            tfx_fail(err, "%s: '%s' is not a regular file %s", where, path, why);
        else
            tfx_fail(err, "'%s' is not a regular file %s", path, why);
        goto err_close;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        fail_read(err, where, path, strerror(errno));
        goto err_close;
    }
    if (remember(&sb, path, err))
        goto err_close;
    return fd;
err_close:
    close(fd);
    return -1;
}

FILE *tfx_input_fopen(const char *path, const char *where, tfx_error *err)
{
    int fd = tfx_input_open(path, where, err);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        fail_read(err, where, path, strerror(errno));
        close(fd);
    }
    return f;
}

void tfx_inputs_forget(void)
{
    for (size_t i = 0; i < n_inputs; i++)
        free(inputs[i].path);
    free(inputs);
    inputs = NULL;
    n_inputs = cap_inputs = 0;
}

/* ---- outputs: the temporary files a signal must remove ------------------------------------ */

#define MAX_PENDING 8

static char pending_path[MAX_PENDING][PATH_MAX];
static volatile sig_atomic_t pending_live[MAX_PENDING];

static void remove_pending_and_die(int sig)
{
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending_live[i])
            unlink(pending_path[i]);
    /* SA_RESETHAND put the default action back: the re-raised signal ends the process as the
     * first one would have, once this handler returns. */
    raise(sig);
}

static void catch_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old, sa = {.sa_handler = remove_pending_and_die, .sa_flags = SA_RESETHAND};
        sigemptyset(&sa.sa_mask);
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            sigaction(sigs[i], &sa, NULL);
    }
}

static int claim_slot(const char *tmp)
{
    for (int i = 0; i < MAX_PENDING; i++)
        if (!pending_live[i]) {
            memcpy(pending_path[i], tmp, strlen(tmp) + 1);
            pending_live[i] = 1;
            catch_signals();
            return i;
        }
    return -1;
}

static void release_slot(int slot)
{
    if (slot >= 0)
        pending_live[slot] = 0;
}

/* ---- outputs ------------------------------------------------------------------------------- */

static int refuse_inputs(const char *path, const char *where, const struct stat *sb,
                         tfx_error *err)
{
    for (size_t i = 0; i < n_inputs; i++) {
        if (inputs[i].dev != sb->st_dev || inputs[i].ino != sb->st_ino)
            continue;
        if (strcmp(inputs[i].path, path) == 0)
            return tfx_fail(err, "%s '%s': this command reads that file; not writing over it", where, path);
        return tfx_fail(err, "%s '%s': this command reads that file (as '%s'); not writing over it",
                        where, path, inputs[i].path);
    }
    return 0;
}

static mode_t creation_mode(void)
{
    mode_t mask = umask(022);
    umask(mask);
    return 0666 & ~mask;
}

/* The temporary file "DIR/.BASE.tfx-XXXXXX" beside target, open for writing. */
static int open_beside(tfx_output *o, mode_t mode, const char *where, tfx_error *err)
{
    char dir[PATH_MAX], base[PATH_MAX], tmp[PATH_MAX];
    if (tfx_text(dir, sizeof dir, "%s", o->path) < 0 || tfx_text(base, sizeof base, "%s", o->path) < 0)
        return tfx_fail(err, "%s '%s': path too long", where, o->path);
    if (tfx_text(tmp, sizeof tmp, "%s/.%s.tfx-XXXXXX", dirname(dir), basename(base)) < 0)
        return tfx_fail(err, "%s '%s': path too long", where, o->path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return tfx_fail(err, "%s: cannot write '%s': %s", where, o->path, strerror(errno));
    if (!(o->tmp = strdup(tmp)) || (o->slot = claim_slot(tmp)) < 0) {
        unlink(tmp);
        close(fd);
        if (!o->tmp)
            return tfx_fail(err, "out of memory");
        return tfx_fail(err, "%s: more than %d files open for writing", where, MAX_PENDING);
    }
    if (fchmod(fd, mode) != 0 || !(o->f = fdopen(fd, "wb"))) {
        tfx_fail(err, "%s: cannot write '%s': %s", where, o->path, strerror(errno));
        close(fd);
        return -1;
    }
    return 0;
}

/* A device or FIFO: written in place, never renamed over or removed; a FIFO that nothing
 * reads is an error (ENXIO) rather than a wait. */
static int open_in_place(tfx_output *o, const char *path, const char *where, tfx_error *err)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), flags;
    if (fd < 0)
        return tfx_fail(err, "%s: cannot write '%s': %s", where, path, strerror(errno));
    if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
        !(o->f = fdopen(fd, "wb"))) {
        tfx_fail(err, "%s: cannot write '%s': %s", where, path, strerror(errno));
        close(fd);
        return -1;
    }
    return 0;
}

/* The refusals of tfx_output_open that need no writing, for stat's answer sb on path. */
static int check_target(const char *path, const char *where, const struct stat *sb, tfx_error *err)
{
    if (refuse_inputs(path, where, sb, err))
        return -1;
    if (S_ISDIR(sb->st_mode))
        return tfx_fail(err, "%s '%s': is a directory", where, path);
    return 0;
}

int tfx_output_check(const char *path, const char *where, tfx_error *err)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? check_target(path, where, &sb, err) : 0;
}

int tfx_output_open(tfx_output *o, const char *path, const char *where, tfx_error *err)
{
    *o = (tfx_output){.slot = -1};
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    if (exists && check_target(path, where, &sb, err))
        return -1;
    char real[PATH_MAX];
    const char *target = exists && realpath(path, real) ? real : path;
    if (!(o->path = strdup(target)))
        return tfx_fail(err, "out of memory");
    if (exists && !S_ISREG(sb.st_mode)) {
        if (open_in_place(o, path, where, err))
            goto err_abort;
        return 0;
    }
    /* a file its owner made read-only stays so, though a rename could replace it */
    if (exists && access(path, W_OK) != 0) {
        tfx_fail(err, "%s: cannot write '%s': %s", where, path, strerror(errno));
        goto err_abort;
    }
    if (open_beside(o, exists ? sb.st_mode & 07777 : creation_mode(), where, err))
        goto err_abort;
    return 0;
err_abort:
    tfx_output_abort(o);
    return -1;
}

int tfx_output_commit(tfx_output *o, tfx_error *err)
{
    errno = 0;
    int ok = fflush(o->f) == 0 && !ferror(o->f);
    int why = errno;
    if (ok && o->tmp && fsync(fileno(o->f)) != 0)
        ok = 0, why = errno;
    if (fclose(o->f) != 0 && ok)
        ok = 0, why = errno;
    o->f = NULL;
    if (ok && o->tmp && rename(o->tmp, o->path) != 0)
        ok = 0, why = errno;
    if (!ok) {
        tfx_fail(err, "cannot write '%s': %s", o->path, why ? strerror(why) : "write error");
        tfx_output_abort(o);
        return -1;
    }
    release_slot(o->slot);
    free(o->tmp);
    free(o->path);
    *o = (tfx_output){.slot = -1};
    return 0;
}

void tfx_output_abort(tfx_output *o)
{
    if (o->f)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    release_slot(o->slot);
    free(o->tmp);
    free(o->path);
    *o = (tfx_output){.slot = -1};
}

/* ---- mappings ------------------------------------------------------------------------------ */

#define MAX_MAPS 16

typedef struct watched {
    const void *addr;
    size_t len;
    char *msg;                    /* the whole line for stderr, escaped, made before any fault */
    size_t msg_len;
    volatile sig_atomic_t live;
} watched;

static watched maps[MAX_MAPS];

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    (void)context;
    uintptr_t at = (uintptr_t)info->si_addr;
    for (int i = 0; i < MAX_MAPS; i++)
        if (maps[i].live && at >= (uintptr_t)maps[i].addr && at - (uintptr_t)maps[i].addr < maps[i].len) {
            ssize_t w = write(STDERR_FILENO, maps[i].msg, maps[i].msg_len);
            (void)w;
            _exit(1);
        }
    /* not one of ours: the default action, when the faulting instruction runs again */
    signal(sig, SIG_DFL);
}

static int install_sigbus(void)
{
    static int installed;
    if (installed)
        return 0;
    struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, NULL) != 0)
        return -1;
    installed = 1;
    return 0;
}

static char *sigbus_message(const char *path, size_t *len)
{
    static const char head[] = "tfx: ", tail[] = ": the file shrank while tfx was reading it (changed under its mapping)\n";
    size_t n = strlen(path), bytes;
    if (__builtin_mul_overflow(n, (size_t)6, &bytes) ||
        __builtin_add_overflow(bytes, sizeof head + sizeof tail, &bytes))
        return NULL;
    char *msg = malloc(bytes);
    if (!msg)
        return NULL;
    memcpy(msg, head, sizeof head - 1);
    size_t o = sizeof head - 1 + tfx_escape(msg + sizeof head - 1, path, n, NULL);
    memcpy(msg + o, tail, sizeof tail);
    *len = o + sizeof tail - 1;
    return msg;
}

int tfx_map_watch(const void *addr, size_t len, const char *path)
{
    for (int i = 0; i < MAX_MAPS; i++) {
        if (maps[i].live)
            continue;
        if (install_sigbus() || !(maps[i].msg = sigbus_message(path, &maps[i].msg_len)))
            return -1;
        maps[i].addr = addr;
        maps[i].len = len;
        maps[i].live = 1;
        return 0;
    }
    return -1;
}

void tfx_map_unwatch(const void *addr)
{
    for (int i = 0; i < MAX_MAPS; i++)
        if (maps[i].live && maps[i].addr == addr) {
            maps[i].live = 0;
            free(maps[i].msg);
            maps[i].msg = NULL;
        }
}
