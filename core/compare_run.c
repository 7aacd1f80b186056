/* core/compare_run.c — `tfx compare --run`: measures one column by running `tfx run` on it in a
 * child process (its own peak RSS, its own failures) and reading the JSON report it prints;
 * the child process itself, shared with `compare --train`. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compare.h"

/* All of fd into a NUL-terminated buffer (at most cap - 1 bytes kept). */
static void read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t got;
    char sink[4096];
    while ((got = read(fd, len + 1 < cap ? buf + len : sink,
                       len + 1 < cap ? cap - 1 - len : sizeof sink)) > 0)
        if (len + 1 < cap)
            len += (size_t)got;
    buf[len] = '\0';
}

/* argv of `tfx run RECIPE --random --format json ... --set ...` (NULL-terminated), with the
 * text of its numbers. */
typedef struct run_argv {
    char *argv[16 + 2 * (TFX_MAX_SETS + 8)];
    char prompt[32], generate[32], threads[32];
} run_argv;

static void build_argv(run_argv *a, const char *path, char *const *sets, int n_sets,
                       const tfx_compare_run_opts *o)
{
    char **argv = a->argv;
    snprintf(a->prompt, sizeof a->prompt, "%" PRId64, o->prompt_len);
    snprintf(a->generate, sizeof a->generate, "%" PRId64, o->generate);
    snprintf(a->threads, sizeof a->threads, "%d", o->threads);
    int n = 0;
    argv[n++] = "tfx", argv[n++] = "run", argv[n++] = (char *)path, argv[n++] = "--random";
    argv[n++] = "--format", argv[n++] = "json", argv[n++] = "--prompt-len", argv[n++] = a->prompt;
    argv[n++] = "--generate", argv[n++] = a->generate;
    if (o->threads > 0)
        argv[n++] = "--threads", argv[n++] = a->threads;
    if (o->dtype)
        argv[n++] = "--dtype", argv[n++] = (char *)o->dtype;
    if (o->check)
        argv[n++] = "--check";
    for (int i = 0; i < n_sets && i < TFX_MAX_SETS + 8; i++)
        argv[n++] = "--set", argv[n++] = sets[i];
    argv[n] = NULL;
}

int tfx_compare_spawn(char *const *argv, char *out, size_t cap, char *error, size_t error_cap)
{
    char errs[1024];
    int out_pipe[2], err_pipe[2];
    if (pipe(out_pipe) != 0)
        return snprintf(error, error_cap, "cannot create a pipe"), -1;
    if (pipe(err_pipe) != 0) {
        close(out_pipe[0]), close(out_pipe[1]);
        return snprintf(error, error_cap, "cannot create a pipe"), -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(out_pipe[0]), close(err_pipe[0]);
        dup2(out_pipe[1], STDOUT_FILENO);
        dup2(err_pipe[1], STDERR_FILENO);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "cannot start tfx %s\n", argv[1]);
        _exit(127);
    }
    close(out_pipe[1]), close(err_pipe[1]);
    out[0] = errs[0] = '\0';
    if (pid > 0) {
        read_all(out_pipe[0], out, cap); /* the report is small: stderr cannot fill first */
        read_all(err_pipe[0], errs, sizeof errs);
    }
    close(out_pipe[0]), close(err_pipe[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return snprintf(error, error_cap, "cannot start tfx %s", argv[1]), -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        /* The error comes last, after any warnings (a skipped plugin, ...). */
        size_t end = strlen(errs);
        while (end > 0 && errs[end - 1] == '\n')
            errs[--end] = '\0';
        const char *last = strrchr(errs, '\n') ? strrchr(errs, '\n') + 1 : errs;
        const char *msg = strncmp(last, "tfx: ", 5) == 0 ? last + 5 : last;
        snprintf(error, error_cap, "%.500s", msg[0] ? msg : "tfx failed");
        return -1;
    }
    return 0;
}

int tfx_compare_measure(tfx_compare_column *col, const char *path, char *const *sets, int n_sets,
                        const tfx_compare_run_opts *o)
{
    tfx_run_figures *f = &col->run;
    char out[16384];
    run_argv a;
    memset(f, 0, sizeof *f);
    build_argv(&a, path, sets, n_sets, o);
    if (tfx_compare_spawn(a.argv, out, sizeof out, f->error, sizeof f->error))
        return -1;
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    json_int_t prefill_tokens = 0, decode_tokens = 0;
    double prefill_s = 0, decode_s = 0, rss = 0;
    if (!doc || json_unpack(doc, "{s:I, s:F, s:I, s:F, s:F}", "prefill_tokens", &prefill_tokens,
                            "prefill_s", &prefill_s, "decode_tokens", &decode_tokens, "decode_s",
                            &decode_s, "peak_rss_mib", &rss) != 0) {
        json_decref(doc);
        snprintf(f->error, sizeof f->error, "tfx run printed no report");
        return -1;
    }
    json_decref(doc);
    f->measured = 1;
    f->prefill_tokens = prefill_tokens;
    f->decode_tokens = decode_tokens;
    f->prefill_tokens_per_s = prefill_s > 0 ? (double)prefill_tokens / prefill_s : 0;
    f->decode_tokens_per_s = decode_s > 0 && decode_tokens > 0 ? (double)decode_tokens / decode_s : 0;
    f->peak_rss_mib = rss;
    return 0;
}
