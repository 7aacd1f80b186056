/* core/cmd_train.c — `tfx grad` (every gradient, in the checkpoint's layout) and `tfx train`'s
 * options and steps on one batch (--data runs: core/cmd_train_data.c), with the memory plan. */
#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "files.h"
#include "cli.h"
#include "cmd_train.h"
#include "load.h"
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
    "  --format F            text (default) or json (has \"loss\")\n"
    "  --set key=value       override a recipe key\n";

static const char train_usage[] =
    "usage: tfx train RECIPE --data FILE --steps N [options]\n"
    "       tfx train RECIPE --tokens IDS --steps N [options]\n"
    "\n"
    "Take N AdamW steps (torch.optim.AdamW: bias-corrected, decoupled weight decay on tensors of\n"
    "two or more dimensions, none on biases and norm gains) on the mean next-token cross-entropy,\n"
    "over batches of a data file (with the conventions of nanoGPT and llm.c: warmup then cosine\n"
    "decay, clipping by global gradient norm, gradient accumulation, GPT-2's initialisation) or\n"
    "over one batch of tokens given on the command line.\n"
    "\n"
    "Data (batches of B sequences of T tokens, read in order, as llm.c's DataLoader):\n"
    "  --data FILE           llm.c token file (header magic 20240520, uint16 tokens), or any\n"
    "                        other file read as bytes: text (vocabulary of at least 256)\n"
    "  --val FILE            validation data (default: the tail of --data)\n"
    "  --val-fraction F      the tail of --data held out for validation (default 0.1)\n"
    "  --batch B             sequences per micro-batch (nanoGPT batch_size, llm.c -b; default 4)\n"
    "  --context T           tokens per sequence (nanoGPT block_size, llm.c -t; default: the\n"
    "                        model's context)\n"
    "  --accum K             micro-batches per step, gradients averaged (nanoGPT\n"
    "                        gradient_accumulation_steps; default 1)\n"
    "  --eval-every N        validation loss every N steps (nanoGPT eval_interval, llm.c -v;\n"
    "                        default: at the end only)\n"
    "  --eval-batches N      batches of validation data per evaluation (nanoGPT eval_iters,\n"
    "                        llm.c -m; default 8)\n"
    "  --log FILE            JSON lines: step, train_loss, val_loss, lr, grad_norm, tokens_per_s\n"
    "  --save OUT            the weights to OUT (the checkpoint's layout) and AdamW's moments,\n"
    "                        step and data position to OUT.state, at the end\n"
    "  --save-every N        also every N steps\n"
    "  --resume OUT          continue a run saved with --save OUT, exactly as if unbroken\n"
    "  --eval-contexts A,B   after training, the validation loss at each of these lengths (beyond\n"
    "                        the context when the positions are computed; see tfx eval), each\n"
    "                        over the same tokens: whole windows of the longest from the start\n"
    "                        of the validation data, at most eval-batches x batch of them\n"
    "  --result FILE         also write the JSON report to FILE (what compare --emit-jobs uses)\n"
    "  --label TEXT          a name for the run, kept in the JSON report\n"
    "\n"
    "Optimizer and schedule:\n"
    "  --steps N             optimizer steps in all, a resumed run's included (nanoGPT max_iters;\n"
    "                        default 1)\n"
    "  --lr X                peak learning rate (nanoGPT learning_rate, llm.c -l; default 0.001)\n"
    "  --warmup N            steps of linear warmup (nanoGPT warmup_iters, llm.c -u; default 0)\n"
    "  --min-lr X            floor of the cosine decay, reached at the last step (nanoGPT min_lr;\n"
    "                        default lr/10; llm.c -q is this as a fraction of lr)\n"
    "  --clip C              clip the global gradient norm to C, 0: never (nanoGPT grad_clip;\n"
    "                        default 1.0 with --data, 0 with --tokens)\n"
    "  --betas B1,B2         moment decay rates (default 0.9,0.999)\n"
    "  --eps E               added to the root of the second moment (default 1e-8)\n"
    "  --weight-decay W      decoupled weight decay (nanoGPT weight_decay; default 0.01)\n"
    "\n"
    "Weights and the rest:\n"
    "  --checkpoint FILE     weights to start from (default: checkpoint.file of the recipe,\n"
    "                        else the seeded initialisation: each tensor's declared rule, with\n"
    "                        GPT-2's residual projections scaled by 1/sqrt(2 layers))\n"
    "  --tokens IDS          one batch: token ids, e.g. 5,17,3; sequences of one length: 5,17;3,9\n"
    "  --encoder-tokens IDS  encoder input of an encoder-decoder model (as many sequences)\n"
    "  --seed S              seed of the initialisation (default 1); with the same seed, data,\n"
    "                        machine and --threads, a run repeats bit for bit\n"
    "  --threads N           threads for the matrix kernels (default: all cores)\n"
    "  --format F            text (default) or json (\"losses\" of each step; with --data also\n"
    "                        \"train_loss\", \"val_loss\", \"tokens_per_s\", \"curve\")\n"
    "  --set key=value       override a recipe key\n";


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

/* The integer options of a run on data, each with its lowest value. */
static int take_count(train_opts *o, const char *a, const char *v, double *x, tfx_error *err)
{
    static const struct {
        const char *name;
        double lo;
        size_t field;
    } counts[] = {{"--accum", 1, offsetof(train_opts, accum)},
                  {"--warmup", 0, offsetof(train_opts, warmup)},
                  {"--eval-every", 0, offsetof(train_opts, eval_every)},
                  {"--eval-batches", 1, offsetof(train_opts, eval_batches)},
                  {"--save-every", 0, offsetof(train_opts, save_every)}};
    for (size_t k = 0; k < sizeof counts / sizeof *counts; k++) {
        if (strcmp(a, counts[k].name) != 0)
            continue;
        if (parse_count(a, v, counts[k].lo, MAX_STEPS, x, err))
            return -1;
        *(int64_t *)((char *)o + counts[k].field) = (int64_t)*x;
    }
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
    } else if (strcmp(a, "--data") == 0)
        o->data = v;
    else if (strcmp(a, "--val") == 0)
        o->val = v;
    else if (strcmp(a, "--log") == 0)
        o->log = v;
    else if (strcmp(a, "--resume") == 0)
        o->resume = v;
    else if (strcmp(a, "--eval-contexts") == 0)
        o->contexts = v;
    else if (strcmp(a, "--label") == 0)
        o->label = v;
    else if (strcmp(a, "--result") == 0)
        o->result = v;
    else if (strcmp(a, "--val-fraction") == 0)
        return parse_number(a, v, 0, 0.9, &o->val_fraction, err);
    else if (strcmp(a, "--min-lr") == 0)
        return parse_number(a, v, 0, 1e3, &o->min_lr, err);
    else if (strcmp(a, "--clip") == 0)
        return parse_number(a, v, 0, 1e9, &o->clip, err);
    else if (take_count(o, a, v, &x, err))
        return -1;
    else if (strcmp(a, "--lr") == 0)
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
    static const char *const train_only[] = {
        "--steps", "--lr", "--betas", "--eps", "--weight-decay", "--save", "--data", "--val",
        "--val-fraction", "--accum", "--warmup", "--min-lr", "--clip", "--eval-every",
        "--eval-batches", "--save-every", "--log", "--resume", "--eval-contexts", "--label",
        "--result"};
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
    if (o->data && o->tokens)
        return tfx_fail(err, "tfx train takes --data or --tokens, not both");
    if (!o->tokens && !o->data)
        return tfx_fail(err, o->train ? "tfx train needs --data or --tokens (see tfx train --help)"
                                      : "tfx grad needs --tokens (see tfx grad --help)");
    if (!o->data && (o->val || o->resume || o->log || o->contexts || o->result))
        return tfx_fail(err, "--val, --resume, --log, --eval-contexts and --result are for a run on --data");
    if (!o->train && !o->out)
        return tfx_fail(err, "tfx grad needs --out FILE for the gradients");
    if (o->common.format != TFX_FORMAT_TEXT && o->common.format != TFX_FORMAT_JSON)
        return tfx_fail(err, "tfx %s writes --format text or json", cmd);
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

/* ---- the report --------------------------------------------------------------------------- */

double tfx_cmd_train_mib(uint64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

double tfx_cmd_train_peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

uint64_t tfx_cmd_train_plan_total(const tfx_train_plan *p)
{
    return p->weights + p->grads + p->moments + p->saved + p->workspace;
}

void tfx_cmd_train_print_plan(FILE *out, const tfx_loaded *l, const tfx_trainer *t)
{
    const tfx_train_plan *p = &t->plan;
    const tfx_spec *s = l->spec;
    long long B = t->shape.batch, T = t->shape.tokens, C = s->d_model, N = l->counts.total;
    fprintf(out, "  memory plan    %.2f MiB\n", tfx_cmd_train_mib(tfx_cmd_train_plan_total(p)));
    fprintf(out, "    weights            %9.2f MiB  N × 4 B, N = %lld parameters (tied once; each tensor padded to 64 B)\n",
            tfx_cmd_train_mib(p->weights), N);
    fprintf(out, "    gradients          %9.2f MiB  N × 4 B (the weights' layout; a tied tensor's uses sum into one)\n",
            tfx_cmd_train_mib(p->grads));
    if (p->moments)
        fprintf(out, "    AdamW moments      %9.2f MiB  2 × N × 4 B (fp32)\n", tfx_cmd_train_mib(p->moments));
    fprintf(out, "    saved activations  %9.2f MiB  per layer %lld inputs (norms, sublayers) of B·T·C = %lld·%lld·%lld "
                 "floats, + each attention and FFN call's own workspace and cache\n",
            tfx_cmd_train_mib(p->saved), (long long)p->saved_per_layer_rows, B, T, C);
    fprintf(out, "    workspace          %9.2f MiB  logits B·T·V = %lld·%lld·%lld floats; each stack's residual, 6 "
                 "placement scratch and the residual's gradient, B·T·C each; the largest backward scratch\n",
            tfx_cmd_train_mib(p->workspace), B, T, (long long)s->vocab);
    fprintf(out, "  peak memory    %.1f MiB resident (%.2fx the plan)\n", tfx_cmd_train_peak_rss_mib(),
            tfx_cmd_train_peak_rss_mib() / tfx_cmd_train_mib(tfx_cmd_train_plan_total(p)));
}

json_t *tfx_cmd_train_plan_json(const tfx_trainer *t)
{
    const tfx_train_plan *p = &t->plan;
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "weights", (json_int_t)p->weights,
                     "gradients", (json_int_t)p->grads, "moments", (json_int_t)p->moments,
                     "saved_activations", (json_int_t)p->saved, "workspace",
                     (json_int_t)p->workspace, "total", (json_int_t)tfx_cmd_train_plan_total(p));
}

static int print_report(const train_opts *o, const tfx_loaded *l, const tfx_trainer *t,
                        const double *losses, int64_t n_losses)
{
    FILE *out = stdout;
    if (o->common.format == TFX_FORMAT_JSON) {
        json_t *doc = json_pack("{s:s, s:I, s:I, s:o, s:f, s:f}", "name", l->spec->name,
                                "batch", (json_int_t)t->shape.batch, "tokens",
                                (json_int_t)t->shape.tokens, "plan", tfx_cmd_train_plan_json(t),
                                "peak_rss_mib", tfx_cmd_train_peak_rss_mib(), "planned_mib",
                                tfx_cmd_train_mib(tfx_cmd_train_plan_total(&t->plan)));
        json_t *arr = json_array();
        for (int64_t i = 0; i < n_losses; i++)
            json_array_append_new(arr, json_real(losses[i]));
        if (o->train)
            json_object_set_new(doc, "losses", arr);
        else {
            json_object_set_new(doc, "loss", json_real(losses[0]));
            json_decref(arr);
        }
        int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        fputc('\n', out);
        json_decref(doc);
        return rc || ferror(out) ? -1 : 0;
    }
    fprintf(out, "%s (%s): %lld sequence%s of %lld tokens\n", l->spec->name,
            tfx_model_kind_name(l->spec->kind), (long long)t->shape.batch,
            t->shape.batch == 1 ? "" : "s", (long long)t->shape.tokens);
    for (int64_t i = 0; i < n_losses; i++) {
        if (o->train)
            fprintf(out, "  step %-9" PRId64 " loss before it %.6f\n", i + 1, losses[i]);
        else
            fprintf(out, "  loss           %.6f\n", losses[i]);
    }
    tfx_cmd_train_print_plan(out, l, t);
    if (o->out)
        fprintf(out, "  %s %s\n", o->train ? "saved         " : "gradients     ", o->out);
    return ferror(out) ? -1 : 0;
}

/* ---- the commands ------------------------------------------------------------------------- */

int tfx_cmd_train_load_weights(const train_opts *o, const tfx_loaded *l, tfx_weights *w, char *ckpt,
                        size_t cap, tfx_error *err)
{
    if (tfx_weights_alloc(w, l->model, err))
        return -1;
    bool from_recipe = !o->checkpoint && l->spec->checkpoint && tfx_node_get(l->spec->checkpoint, "file");
    if (!o->checkpoint && !o->resume && !from_recipe) {
        if (tfx_weights_init(w, l->model, o->seed, l->spec->init_std, openblas_get_num_threads(),
                             NULL, NULL, err))
            return -1;
        tfx_train_scale_residual_init(l->model, w);
        return 0;
    }
    if (o->resume || o->checkpoint)
        snprintf(ckpt, cap, "%s", o->resume ? o->resume : o->checkpoint);
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
    if (read_batch(o, l->spec, &b, err) || tfx_cmd_train_load_weights(o, l, &w, ckpt, sizeof ckpt, err) ||
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
    if (print_report(o, l, &t, losses, n_losses)) {
        tfx_fail(err, "cannot write the report");
        goto out;
    }
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
    train_opts o = {.train = train, .steps = 1, .seed = 1, .val_fraction = 0.1, .min_lr = -1,
                    .clip = -1, .accum = 1, .eval_batches = 8,
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
    if (o.data ? tfx_cmd_train_data(&o, &err) : run(&o, &err))
        return tfx_cli_error(&err);
    return 0;
}

int tfx_cmd_grad(int argc, char **argv) { return command(argc, argv, false); }

int tfx_cmd_train(int argc, char **argv) { return command(argc, argv, true); }
