/* core/main.c — the `tfx` command: dispatches to one command per verb and prints the help a
 * newcomer needs first. */
#include <cblas.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>
#include <string.h>

#include "cli.h"
#include "files.h"
#include "recipe.h"
#include "text.h"

static const char help[] =
    "tfx " TFX_VERSION " — a transformer-architecture explorer\n"
    "\n"
    "usage: tfx COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  run RECIPE        assemble the model, count, estimate, run a forward pass and generate\n"
    "  params RECIPE...  exact parameter counts per component and layer (no weights allocated)\n"
    "  compare RECIPE... recipes side by side (with --sweep key=a,b: one column per value)\n"
    "  validate FILE...  check recipes; prints nothing when they are good\n"
    "  import CONFIG     a recipe from a Hugging Face config.json, on stdout\n"
    "  grad RECIPE       the next-token loss and every gradient, in the checkpoint's layout\n"
    "  train RECIPE      train on a data file (or one batch of tokens): AdamW, schedule, eval\n"
    "  eval RECIPE       loss and perplexity of trained weights on data, at any context\n"
    "  plugins           list installed plugins, their options and files\n"
    "  help [COMMAND]    this text, or a command's own help\n"
    "\n"
    "Each command takes --help. Recipes are YAML files (see recipes/ and the README);\n"
    "plugins are shared objects found in the build tree, $TFX_PLUGIN_PATH, then the\n"
    "install prefix.\n"
    "\n"
    "example:\n"
    "  tfx run recipes/gpt-neo.yaml\n"
    "  tfx params recipes/gpt2.yaml recipes/variants/gpt2-rope.yaml --format markdown\n";

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"run", tfx_cmd_run},
    {"params", tfx_cmd_params},
    {"compare", tfx_cmd_compare},
    {"import", tfx_cmd_import},
    {"validate", tfx_cmd_validate},
    {"plugins", tfx_cmd_plugins},
    {"grad", tfx_cmd_grad},
    {"train", tfx_cmd_train},
    {"eval", tfx_cmd_eval},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* Say that `name` is no command, with the nearest one; returns the exit status (2). */
static int unknown_command(const char *name)
{
    const char *names[N_COMMANDS];
    for (size_t i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].name;
    char hint[160];
    fprintf(stderr, "tfx: unknown command '%s'%s; see tfx --help\n", name,
            tfx_did_you_mean(hint, sizeof hint, name, names, N_COMMANDS));
    return 2;
}

/* Debian's OpenBLAS 0.3.21 does not recognise recent AVX-512 CPUs (AMD Zen 4/5) and falls back
 * to its Haswell kernels, about half as fast. It picks its kernels when the library loads, so
 * the only remedy is to set OPENBLAS_CORETYPE and start again. A user's own setting wins. */
static bool prefer_fast_kernels(void)
{
    if (getenv("OPENBLAS_CORETYPE") || !__builtin_cpu_supports("avx512f") ||
        !__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vl"))
        return false;
    const char *core = openblas_get_corename();
    if (strcmp(core, "Haswell") != 0 && strcmp(core, "Zen") != 0)
        return false;
    return setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 1) == 0;
}

/* Under an address-space limit (ulimit -v), each OpenBLAS thread maps a buffer of about
 * 128 MiB when the library loads, and one that cannot be mapped is retried forever: tfx would
 * hang, at the latest at exit with its report unflushed. So start OpenBLAS on one thread;
 * `tfx run` adds threads once its memory check has budgeted their buffers. A user's
 * OPENBLAS_NUM_THREADS wins. */
static bool limit_blas_threads(void)
{
    struct rlimit rl;
    if (getenv("OPENBLAS_NUM_THREADS") || getrlimit(RLIMIT_AS, &rl) != 0 ||
        rl.rlim_cur == RLIM_INFINITY)
        return false;
    return setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0 &&
           setenv("TFX_BLAS_THREADS_LIMITED", "1", 1) == 0;
}

/* The same for oneDNN's OpenMP threads (--dtype bf16 prefill): libgomp reads OMP_WAIT_POLICY
 * when it loads, and its default, spinning at every barrier, made a bf16 prefill 7-10x slower
 * whenever other processes wanted the cores (gpt2 at 512 tokens: 59-94 tokens/s against
 * 620-760 passive, in alternating runs on a loaded 2-core machine). A user's setting wins. */
static bool passive_omp_threads(void)
{
    return !getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0;
}

/* These settings take effect only when the libraries load: start again with them. */
static void tune_blas(char **argv)
{
    bool kernels = prefer_fast_kernels(), threads = limit_blas_threads();
    bool passive = passive_omp_threads();
    if (!kernels && !threads && !passive)
        return;
    execv("/proc/self/exe", argv); /* returns only on failure: carry on with what we have */
    if (kernels)
        unsetenv("OPENBLAS_CORETYPE");
    if (threads)
        unsetenv("OPENBLAS_NUM_THREADS"), unsetenv("TFX_BLAS_THREADS_LIMITED");
    if (passive)
        unsetenv("OMP_WAIT_POLICY");
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tfx %s (plugin ABI %u)\n", TFX_VERSION, TFX_ABI_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0) {
        if (argc < 3) {
            fputs(help, stdout);
            return 0;
        }
        const command *c = find_command(argv[2]);
        if (!c)
            return unknown_command(argv[2]);
        char *sub[] = {argv[2], "--help", NULL};
        return c->run(2, sub);
    }
    const command *c = find_command(argv[1]);
    if (!c)
        return unknown_command(argv[1]);
    return c->run(argc - 1, argv + 1);
}

/* With descriptor 0, 1 or 2 closed, the next file tfx opens would take its number, and a
 * report meant for stdout would land in it (a --logits file). Hold them with /dev/null; a
 * closed stdout is held read-only, so that writing a report still fails and is reported. */
static void hold_standard_fds(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int held = open("/dev/null", fd == 2 ? O_WRONLY : O_RDONLY);
            if (held >= 0 && held != fd) {
                dup2(held, fd);
                close(held);
            }
        }
}

/* Everything printed goes through a stream that escapes control characters, so that a name
 * from a recipe, plugin or config cannot drive the terminal. */
static void escape_output(void)
{
    static tfx_escaping out_state, err_state;
    FILE *out = tfx_escaping_stream(&out_state, STDOUT_FILENO, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF);
    FILE *err = tfx_escaping_stream(&err_state, STDERR_FILENO, _IONBF);
    if (out)
        stdout = out;
    if (err)
        stderr = err;
}

/* A report that could not be written is a failure: check every write and the final close of
 * standard output, whatever the command. Returns the exit status. */
static int finish_output(int status)
{
    errno = 0;
    int failed = ferror(stdout) != 0;
    int why = errno;
    if (fflush(stdout) != 0)
        failed = 1, why = errno;
    if (fclose(stdout) != 0 && !failed)
        failed = 1, why = errno;
    if (failed) {
        fprintf(stderr, "tfx: cannot write to standard output: %s\n", why ? strerror(why) : "write error");
        status = status ? status : 1;
    }
    fflush(stderr);
    return status;
}

int main(int argc, char **argv)
{
    hold_standard_fds();
    tune_blas(argv);
    escape_output();
    int status = dispatch(argc, argv);
    tfx_inputs_forget();
    return finish_output(status);
}
