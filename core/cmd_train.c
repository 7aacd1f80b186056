/* core/cmd_train.c — `tfx grad` (the loss and every gradient, written in the checkpoint's layout)
 * and `tfx train` (AdamW steps on one batch), each printing its memory plan beside peak RSS. */
#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "files.h"
#include "cli.h"
#include "load.h"
#include "report_doc.h"
#include "train.h"
#include "weights.h"

#define MAX_TOKENS 65536
#define MAX_STEPS 1000000

static const char grad_usage[] =
    "usage: tfx grad RECIPE --tokens IDS --out G.safetensors [options]\n"
    "\n"
    "Run the model forward over the tokens, take the mean next-token cross-entropy over the\n"
    "first T-1 positions of each sequence, and write d loss / d tensor for every tensor: under\n"
    "the checkpoint's names and layout when the recipe has a checkpoint map, else under tfx's.\n"
    "\n"
    "  --checkpoint FILE     weights (default: checkpoint.file of the recipe, else random)\n"
    "  --tokens IDS          token ids, e.g. 5,17,3; several sequences of one length: 5,17;3,9\n"
    "  --encoder-tokens IDS  encoder input of an encoder-decoder model (as many sequences)\n"
    "  --out FILE            where the gradients go (safetensors; never over an input)\n"
    "  --seed S              seed of the random weights (default 1)\n"
    "  --threads N           threads for the matrix kernels (default: all cores)\n"
    "  --format F            text (default), markdown, csv or json (has \"loss\")\n"
    "  --set key=value       override a recipe key\n";

static const char train_usage[] =
    "usage: tfx train RECIPE --tokens IDS --steps N [options]\n"
    "\n"
    "Take N AdamW steps (torch.optim.AdamW: bias-corrected, decoupled weight decay on tensors of\n"
    "two or more dimensions, none on biases and norm gains) on the mean next-token cross-entropy\n"
    "of the tokens, printing the loss before each step.\n"
    "\n"
    "  --checkpoint FILE     weights to start from (default: checkpoint.file of the recipe,\n"
    "                        else the seeded random initialisation)\n"
    "  --tokens IDS          token ids, e.g. 5,17,3; several sequences of one length: 5,17;3,9\n"
    "  --encoder-tokens IDS  encoder input of an encoder-decoder model (as many sequences)\n"
    "  --steps N             optimizer steps (default 1)\n"
    "  --lr X                learning rate (default 0.001)\n"
    "  --betas B1,B2         moment decay rates (default 0.9,0.999)\n"
    "  --eps E               added to the root of the second moment (default 1e-8)\n"
    "  --weight-decay W      decoupled weight decay (default 0.01)\n"
    "  --save FILE           write the trained tensors (the checkpoint's layout; never over an input)\n"
    "  --seed S              seed of the random weights (default 1)\n"
    "  --threads N           threads for the matrix kernels (default: all cores)\n"
    "  --format F            text (default), markdown, csv or json (has \"losses\", the loss\n"
    "                        before each step)\n"
    "  --set key=value       override a recipe key\n";

typedef struct train_opts {
    tfx_cli_common common;
    bool train;                   /* tfx train (else tfx grad) */
    const char *checkpoint, *tokens, *encoder_tokens, *out;
    int64_t steps, threads;
    uint64_t seed;
    tfx_adamw adamw;
} train_opts;

/* The batch as parsed: B sequences of T (and S) tokens. */
typedef struct batch {
    int32_t *tokens;              /* [B·T] */
    int32_t *encoder;             /* [B·S] or NULL */
    tfx_train_shape shape;
} batch;

/* ---- options ------------------------------------------------------------------------------ */

static int parse_number(const char *opt, const char *text, double lo, double hi, double *out,
                        tfx_error *err)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= lo && v <= hi))
        return tfx_fail(err, "%s expects a number between %g and %g, got '%s'", opt, lo, hi, text);
    *out = v;
    return 0;
}

/* An integer option in [lo, hi]. */
static int parse_count(const char *opt, const char *text, double lo, double hi, double *out,
                       tfx_error *err)
{
    if (parse_number(opt, text, lo, hi, out, err) || *out != floor(*out))
        return tfx_fail(err, "%s expects an integer between %.0f and %.0f, got '%s'", opt, lo, hi, text);
    return 0;
}

static int parse_betas(const char *text, tfx_adamw *h, tfx_error *err)
{
    char *end;
    errno = 0;
    h->beta1 = strtod(text, &end);
    if (errno || end == text || *end != ',')
        return tfx_fail(err, "--betas expects two numbers B1,B2 in [0, 1), got '%s'", text);
    const char *second = end + 1;
    h->beta2 = strtod(second, &end);
    if (errno || end == second || *end || !(h->beta1 >= 0 && h->beta1 < 1) ||
        !(h->beta2 >= 0 && h->beta2 < 1))
        return tfx_fail(err, "--betas expects two numbers B1,B2 in [0, 1), got '%s'", text);
    return 0;
}

static int take_value(train_opts *o, const char *a, const char *v, tfx_error *err)
{
    double x;
    if (strcmp(a, "--checkpoint") == 0)
        o->checkpoint = v;
    else if (strcmp(a, "--tokens") == 0)
        o->tokens = v;
    else if (strcmp(a, "--encoder-tokens") == 0)
        o->encoder_tokens = v;
    else if (strcmp(a, o->train ? "--save" : "--out") == 0)
        o->out = v;
    else if (strcmp(a, "--seed") == 0) {
        if (parse_count(a, v, 0, 9007199254740992.0, &x, err))
            return -1;
        o->seed = (uint64_t)x;
    } else if (strcmp(a, "--threads") == 0) {
        if (parse_count(a, v, 1, 1024, &x, err))
            return -1;
        o->threads = (int64_t)x;
    } else if (strcmp(a, "--steps") == 0) {
        if (parse_count(a, v, 0, MAX_STEPS, &x, err))
            return -1;
        o->steps = (int64_t)x;
    } else if (strcmp(a, "--lr") == 0)
        return parse_number(a, v, 0, 1e3, &o->adamw.lr, err);
    else if (strcmp(a, "--eps") == 0)
        return parse_number(a, v, 0, 1, &o->adamw.eps, err);
    else if (strcmp(a, "--weight-decay") == 0)
        return parse_number(a, v, 0, 1e3, &o->adamw.weight_decay, err);
    else if (strcmp(a, "--betas") == 0)
        return parse_betas(v, &o->adamw, err);
    return 0;
}

static bool needs_value(const train_opts *o, const char *a)
{
    static const char *const both[] = {"--checkpoint", "--tokens", "--encoder-tokens", "--seed",
                                       "--threads"};
    static const char *const train_only[] = {"--steps", "--lr", "--betas", "--eps",
                                             "--weight-decay", "--save"};
    for (size_t k = 0; k < sizeof both / sizeof *both; k++)
        if (strcmp(a, both[k]) == 0)
            return true;
    for (size_t k = 0; o->train && k < sizeof train_only / sizeof *train_only; k++)
        if (strcmp(a, train_only[k]) == 0)
            return true;
    return !o->train && strcmp(a, "--out") == 0;
}

static int parse_opts(int argc, char **argv, train_opts *o, tfx_error *err)
{
    const char *cmd = o->train ? "train" : "grad";
    for (int i = 1; i < argc; i++) {
        int taken = tfx_cli_take_common(&o->common, argc, argv, &i, err);
        if (taken < 0)
            return -1;
        if (taken)
            continue;
        if (!needs_value(o, argv[i])) {
            if (tfx_cli_take_file(&o->common, argv[i], err))
                return -1;
            continue;
        }
        const char *a = argv[i], *v = tfx_cli_value(argc, argv, &i, err);
        if (!v || take_value(o, a, v, err))
            return -1;
    }
    if (o->common.n_files != 1)
        return tfx_fail(err, "tfx %s takes one recipe (see tfx %s --help)", cmd, cmd);
    if (!o->tokens)
        return tfx_fail(err, "tfx %s needs --tokens (see tfx %s --help)", cmd, cmd);
    if (!o->train && !o->out)
        return tfx_fail(err, "tfx grad needs --out FILE for the gradients");
    return 0;
}

/* "5,17,3;4,9,1" → B sequences of one length into out[cap]; *len gets the length. Returns B
 * or -1. */
static int64_t parse_sequences(const char *text, int32_t *out, int64_t cap, int64_t *len,
                               const char *opt, tfx_error *err)
{
    int64_t n = 0, seqs = 0, in_seq = 0;
    const char *p = text;
    *len = -1;
    for (;;) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || n == cap)
            return tfx_fail(err, "%s: expected comma-separated token ids (sequences separated by ';', at most %" PRId64 " ids), got '%s'",
                            opt, cap, text);
        out[n++] = (int32_t)v, in_seq++;
        p = end;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p != ';' && *p)
            return tfx_fail(err, "%s: expected comma-separated token ids, got '%s'", opt, text);
        if (*len >= 0 && in_seq != *len)
            return tfx_fail(err, "%s: every sequence needs the same length (%" PRId64 ", not %" PRId64 ")",
                            opt, *len, in_seq);
        *len = in_seq, in_seq = 0, seqs++;
        if (!*p++)
            return seqs;
    }
}

static int read_batch(const train_opts *o, const tfx_spec *s, batch *b, tfx_error *err)
{
    b->tokens = calloc(MAX_TOKENS, sizeof *b->tokens);
    if (!b->tokens)
        return tfx_fail(err, "out of memory");
    int64_t B = parse_sequences(o->tokens, b->tokens, MAX_TOKENS, &b->shape.tokens, "--tokens", err);
    if (B < 0)
        return -1;
    b->shape.batch = B;
    bool seq2seq = s->kind == TFX_MODEL_ENCODER_DECODER;
    if (!seq2seq && o->encoder_tokens)
        return tfx_fail(err, "--encoder-tokens is for encoder-decoder models; '%s' is %s", s->name,
                        tfx_model_kind_name(s->kind));
    if (!seq2seq)
        return 0;
    if (!o->encoder_tokens)
        return tfx_fail(err, "'%s' is encoder-decoder: give its encoder input with --encoder-tokens", s->name);
    if (!(b->encoder = calloc(MAX_TOKENS, sizeof *b->encoder)))
        return tfx_fail(err, "out of memory");
    int64_t BE = parse_sequences(o->encoder_tokens, b->encoder, MAX_TOKENS,
                                 &b->shape.encoder_tokens, "--encoder-tokens", err);
    if (BE < 0)
        return -1;
    if (BE != B)
        return tfx_fail(err, "--tokens has %" PRId64 " sequences but --encoder-tokens %" PRId64, B, BE);
    return 0;
}

/* ---- files -------------------------------------------------------------------------------- */

/* ---- the report --------------------------------------------------------------------------- */

static int print_report(const train_opts *o, const tfx_loaded *l, const tfx_trainer *t,
                        const double *losses, int64_t n_losses, tfx_error *err)
{
    tfx_train_outcome outcome = {.train = o->train, .losses = losses, .n_losses = n_losses, .out = o->out};
    tfx_doc doc;
    tfx_doc_train(&doc, l, t, &outcome);
    int rc = tfx_doc_emit(stdout, o->common.format, &doc, 1, err);
    tfx_doc_free(&doc);
    return rc;
}

/* ---- the commands ------------------------------------------------------------------------- */

static int load_weights(const train_opts *o, const tfx_loaded *l, tfx_weights *w, char *ckpt,
                        size_t cap, tfx_error *err)
{
    if (tfx_weights_alloc(w, l->model, err))
        return -1;
    bool from_recipe = !o->checkpoint && l->spec->checkpoint && tfx_node_get(l->spec->checkpoint, "file");
    if (!o->checkpoint && !from_recipe)
        return tfx_weights_init(w, l->model, o->seed, l->spec->init_std, openblas_get_num_threads(),
                                NULL, NULL, err);
    if (o->checkpoint)
        snprintf(ckpt, cap, "%s", o->checkpoint);
    else if (tfx_checkpoint_path(l->spec, ckpt, cap, err))
        return -1;
    if (tfx_checkpoint_load(w, l->model, ckpt, NULL, NULL, err))
        return -1;
    tfx_weights_own(w, l->model); /* the optimizer writes them */
    return 0;
}

static int run_steps(const train_opts *o, tfx_trainer *t, const batch *b, double *losses,
                     tfx_error *err)
{
    if (!o->train)
        return tfx_trainer_grad(t, b->tokens, b->encoder, &losses[0], err);
    for (int64_t i = 0; i < o->steps; i++) {
        if (tfx_trainer_grad(t, b->tokens, b->encoder, &losses[i], err))
            return -1;
        tfx_trainer_adamw(t, &o->adamw);
    }
    return 0;
}

static int run(train_opts *o, tfx_error *err)
{
    int status = 1;
    tfx_registry *reg = tfx_cli_registry(err);
    tfx_loaded *l = NULL;
    tfx_weights w = {0};
    tfx_trainer t = {0};
    batch b = {0};
    double *losses = NULL;
    char ckpt[4096] = "";
    if (!reg || !(l = tfx_load_from(o->common.files[0], o->common.sets, NULL, o->common.n_sets, reg, 1, err)))
        goto out;
    if (read_batch(o, l->spec, &b, err) || load_weights(o, l, &w, ckpt, sizeof ckpt, err) ||
        (o->out && tfx_output_check(o->out, o->train ? "--save" : "--out", err)) ||
        tfx_trainer_init(&t, l->model, &w, &b.shape, o->train, err))
        goto out;
    int64_t n_losses = o->train ? o->steps : 1;
    if (!(losses = calloc((size_t)n_losses + 1, sizeof *losses))) {
        tfx_fail(err, "out of memory");
        goto out;
    }
    if (run_steps(o, &t, &b, losses, err))
        goto out;
    float *const *data = o->train ? w.data : t.grads.data;
    if (o->out && tfx_checkpoint_write(l->model, data, o->out, o->train ? "--save" : "--out", err))
        goto out;
    if (print_report(o, l, &t, losses, n_losses, err))
        goto out;
    status = 0;
out:
    free(losses);
    free(b.tokens);
    free(b.encoder);
    tfx_trainer_free(&t);
    tfx_weights_free(&w);
    tfx_loaded_free(l);
    tfx_registry_free(reg);
    return status;
}

static int command(int argc, char **argv, bool train)
{
    train_opts o = {.train = train, .steps = 1, .seed = 1,
                    .adamw = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                              .weight_decay = 0.01}};
    tfx_error err = {{0}};
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(train ? train_usage : grad_usage, stdout);
            return 0;
        }
    if (parse_opts(argc, argv, &o, &err))
        return tfx_cli_error(&err);
    if (o.threads)
        openblas_set_num_threads((int)o.threads);
    if (run(&o, &err))
        return tfx_cli_error(&err);
    return 0;
}

int tfx_cmd_grad(int argc, char **argv) { return command(argc, argv, false); }

int tfx_cmd_train(int argc, char **argv) { return command(argc, argv, true); }
