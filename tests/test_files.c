/* tests/test_files.c — core/files.c and core/text.c: inputs that cannot hang, outputs that are
 * atomic and never over an input, a truncated mapping as an error, checked text, escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files.h"
#include "safetensors.h"
#include "text.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/tfx-files-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    tfx_inputs_forget();
    return system(cmd);
}

static const char *in_dir(const char *name)
{
    static char path[4][256];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    return p;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Entries of dir other than . and .. */
static int entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* ---- text ------------------------------------------------------------------------------------ */

static void text_case(void **state)
{
    (void)state;
    char buf[8];
    assert_int_equal(tfx_text(buf, sizeof buf, "%s", "1234567"), 7);
    assert_string_equal(buf, "1234567");
    assert_int_equal(tfx_text(buf, sizeof buf, "%s", "12345678"), -1); /* snprintf would cut */
    assert_string_equal(buf, "");
    strcpy(buf, "ab");
    assert_int_equal(tfx_text_append(buf, sizeof buf, "%s", "cde"), 5);
    assert_int_equal(tfx_text_append(buf, sizeof buf, "%s", "fgh"), -1);
    assert_string_equal(buf, "abcde");
}

/* The one joined list and the one suggestion every message uses. */
static void join_case(void **state)
{
    (void)state;
    static const char *const items[] = {"fp16", "bf16", "fp32", "int8"};
    char buf[64], small[16];
    assert_string_equal(tfx_join(buf, sizeof buf, items, 4, "or"), "fp16, bf16, fp32 or int8");
    assert_string_equal(tfx_join(buf, sizeof buf, items, 2, "and"), "fp16 and bf16");
    assert_string_equal(tfx_join(buf, sizeof buf, items, 1, "or"), "fp16");
    assert_string_equal(tfx_join(buf, sizeof buf, items, 0, "or"), "");
    assert_string_equal(tfx_join(buf, sizeof buf, items, 3, NULL), "fp16, bf16, fp32");
    assert_string_equal(tfx_join(small, sizeof small, items, 4, "or"), "fp16, bf16, ..."); /* never cut mid-word */
    assert_string_equal(tfx_did_you_mean(buf, sizeof buf, "in8", items, 4), " (did you mean 'int8'?)");
    assert_string_equal(tfx_did_you_mean(buf, sizeof buf, "yaml", items, 4), "");
}

static void escape_case(void **state)
{
    (void)state;
    char out[256];
    const char in[] = "a\x1b]0;x\x07" "b\x7f\xc2\x9b" "c\n\t\r\xc3\xa9\xc2\xa0";
    size_t n = tfx_escape(out, in, sizeof in - 1, NULL);
    out[n] = '\0';
    assert_string_equal(out, "a\\u001b]0;x\\u0007b\\u007f\\u009bc\n\t\\u000d\xc3\xa9\xc2\xa0");
    /* a C1 character split between two writes */
    int pending = 0;
    n = tfx_escape(out, "x\xc2", 2, &pending);
    assert_int_equal(pending, 1);
    n += tfx_escape(out + n, "\x85y", 2, &pending);
    out[n] = '\0';
    assert_string_equal(out, "x\\u0085y");
}

/* ---- inputs ---------------------------------------------------------------------------------- */

static void input_case(void **state)
{
    (void)state;
    tfx_error err;
    char want[512];
    const char *fifo = in_dir("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(tfx_input_open(fifo, "--checkpoint", &err), -1); /* returns: no writer needed */
    snprintf(want, sizeof want, "--checkpoint: '%s' is not a regular file (a FIFO)", fifo);
    assert_string_equal(err.msg, want);
    assert_int_equal(tfx_input_open(dir, NULL, &err), -1);
    snprintf(want, sizeof want, "'%s' is not a regular file (a directory)", dir);
    assert_string_equal(err.msg, want);
    assert_int_equal(tfx_input_open(in_dir("none"), "a.yaml:1:10", &err), -1);
    snprintf(want, sizeof want, "a.yaml:1:10: cannot read '%s/none': No such file or directory", dir);
    assert_string_equal(err.msg, want);
    put(in_dir("ok"), "x");
    int fd = tfx_input_open(in_dir("ok"), NULL, &err);
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0); /* blocking again for the reader */
    close(fd);
    remove(fifo);
    remove(in_dir("ok"));
    tfx_inputs_forget();
}

/* ---- outputs --------------------------------------------------------------------------------- */

static void output_refuses_inputs_case(void **state)
{
    (void)state;
    tfx_error err;
    char want[512];
    tfx_output o;
    put(in_dir("in.yaml"), "name: x\n");
    assert_int_equal(link(in_dir("in.yaml"), in_dir("alias")), 0);
    int fd = tfx_input_open(in_dir("in.yaml"), NULL, &err);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(tfx_output_open(&o, in_dir("in.yaml"), "--logits", &err), -1);
    snprintf(want, sizeof want, "--logits '%s/in.yaml': this command reads that file; not writing over it", dir);
    assert_string_equal(err.msg, want);
    assert_int_equal(tfx_output_open(&o, in_dir("alias"), "--svg", &err), -1); /* same inode */
    snprintf(want, sizeof want, "--svg '%s/alias': this command reads that file (as '%s/in.yaml'); not writing over it",
             dir, dir);
    assert_string_equal(err.msg, want);
    assert_string_equal(slurp(in_dir("in.yaml")), "name: x\n");
    assert_int_equal(tfx_output_open(&o, dir, "--svg", &err), -1);
    snprintf(want, sizeof want, "--svg '%s': is a directory", dir);
    assert_string_equal(err.msg, want);
    tfx_inputs_forget();
    remove(in_dir("in.yaml"));
    remove(in_dir("alias"));
}

static void output_atomic_case(void **state)
{
    (void)state;
    tfx_error err;
    tfx_output o;
    const char *target = in_dir("out.txt");
    put(target, "old");
    assert_int_equal(chmod(target, 0640), 0);
    assert_int_equal(tfx_output_open(&o, target, "--svg", &err), 0);
    fputs("new", o.f);
    fflush(o.f);
    assert_string_equal(slurp(target), "old"); /* nothing visible before commit */
    assert_int_equal(entries(), 2);           /* the target and the temporary file beside it */
    tfx_output_abort(&o);
    assert_string_equal(slurp(target), "old");
    assert_int_equal(entries(), 1);
    assert_int_equal(tfx_output_open(&o, target, "--svg", &err), 0);
    fputs("new", o.f);
    assert_int_equal(tfx_output_commit(&o, &err), 0);
    assert_string_equal(slurp(target), "new");
    struct stat sb;
    assert_int_equal(stat(target, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640); /* the old file's mode kept */
    assert_int_equal(entries(), 1);
    /* a device is written in place and survives */
    assert_int_equal(tfx_output_open(&o, "/dev/null", "--logits", &err), 0);
    assert_null(o.tmp);
    fputs("x", o.f);
    assert_int_equal(tfx_output_commit(&o, &err), 0);
    assert_int_equal(stat("/dev/null", &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));
    remove(target);
}

/* SIGTERM while writing: the temporary file goes, the target stays as it was. */
static void output_signal_case(void **state)
{
    (void)state;
    const char *target = in_dir("sig.txt");
    put(target, "before");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tfx_error err;
        tfx_output o;
        if (tfx_output_open(&o, target, "--logits", &err))
            _exit(7);
        fputs("half of it", o.f);
        fflush(o.f);
        raise(SIGTERM);
        _exit(8);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
    assert_string_equal(slurp(target), "before");
    assert_int_equal(entries(), 1);
    remove(target);
}

/* ---- mappings -------------------------------------------------------------------------------- */

/* A checkpoint truncated while mapped, then read through tfx_st_read_f32: exit 1 naming the
 * file (it used to die of SIGBUS). */
static void truncated_mapping_case(void **state)
{
    (void)state;
    const char *path = in_dir("m.safetensors");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp tests/data/hf/gpt2/model.safetensors '%s'", path);
    assert_int_equal(system(cmd), 0);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], STDERR_FILENO);
        tfx_error err;
        tfx_st_file *f = tfx_st_open(path, &err);
        if (!f || truncate(path, 0) != 0)
            _exit(7);
        const tfx_st_tensor *t = &f->tensors[f->n - 1];
        float x[4];
        tfx_st_read_f32(t, 0, 4, x, &err);
        _exit(8);
    }
    close(pipefd[1]);
    char got[1024] = "";
    ssize_t n = read(pipefd[0], got, sizeof got - 1);
    got[n > 0 ? n : 0] = '\0';
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    char want[512];
    snprintf(want, sizeof want, "tfx: %s: the file shrank while tfx was reading it (changed under its mapping)\n", path);
    assert_string_equal(got, want);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_case),
        cmocka_unit_test(join_case),
        cmocka_unit_test(escape_case),
        cmocka_unit_test(input_case),
        cmocka_unit_test(output_refuses_inputs_case),
        cmocka_unit_test(output_atomic_case),
        cmocka_unit_test(output_signal_case),
        cmocka_unit_test(truncated_mapping_case),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
