/* core/cmd_eval.c — `tfx eval`: the next-token loss and perplexity of trained weights on data, at
 * any context the model's positions reach (a table learned at 128 rows cannot reach 512). */
#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "data.h"
#include "load.h"
#include "train.h"
#include "train_run.h"
#include "weights.h"

static const char usage[] =
    "usage: tfx eval RECIPE --checkpoint FILE --data FILE [--context T] [options]\n"
    "\n"
    "The mean next-token cross-entropy (\"loss\", nats per token) and its perplexity of the\n"
    "weights on every whole window of T tokens of the data (an llm.c token file or text read as\n"
    "bytes, as tfx train reads them). T may exceed the context the model was trained at when its\n"
    "positions are computed (sinusoidal, RoPE, ALiBi, ...); a learned table is refused beyond its\n"
    "rows.\n"
    "\n"
    "  --checkpoint FILE  weights (default: checkpoint.file of the recipe)\n"
    "  --data FILE        tokens to evaluate on\n"
    "  --context T        tokens per window (default: the model's context)\n"
    "  --batch B          windows at once (default 4)\n"
    "  --max-batches N    evaluate at most N batches (default: all the data holds)\n"
    "  --threads N        threads for the matrix kernels (default: all cores)\n"
    "  --format F         text (default) or json (\"loss\", \"perplexity\", \"context\", \"tokens\")\n"
    "  --set key=value    override a recipe key\n";

typedef struct eval_opts {
    tfx_cli_common common;
    const char *checkpoint, *data;
    int64_t max_batches, threads;
    char context_set[64];         /* "context=T" when T is beyond the recipe's */
} eval_opts;

static int parse_int(const char *opt, const char *v, int64_t lo, int64_t *out, tfx_error *err)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > 1000000000)
        return tfx_fail(err, "%s expects an integer between %" PRId64 " and 1000000000, got '%s'", opt, lo, v);
    *out = n;
    return 0;
}

static int parse_opts(int argc, char **argv, eval_opts *o, tfx_error *err)
{
    for (int i = 1; i < argc; i++) {
        int taken = tfx_cli_take_common(&o->common, argc, argv, &i, err);
        if (taken < 0)
            return -1;
        if (taken)
            continue;
        const char *a = argv[i];
        bool valued = !strcmp(a, "--checkpoint") || !strcmp(a, "--data") ||
                      !strcmp(a, "--max-batches") || !strcmp(a, "--threads");
        if (!valued) {
            if (tfx_cli_take_file(&o->common, a, err))
                return -1;
            continue;
        }
        const char *v = tfx_cli_value(argc, argv, &i, err);
        if (!v)
            return -1;
        if (!strcmp(a, "--checkpoint"))
            o->checkpoint = v;
        else if (!strcmp(a, "--data"))
            o->data = v;
        else if (parse_int(a, v, 1, !strcmp(a, "--threads") ? &o->threads : &o->max_batches, err))
            return -1;
    }
    if (o->common.n_files != 1)
        return tfx_fail(err, "tfx eval takes one recipe (see tfx eval --help)");
    if (!o->data)
        return tfx_fail(err, "tfx eval needs --data FILE (see tfx eval --help)");
    if (o->common.format != TFX_FORMAT_TEXT && o->common.format != TFX_FORMAT_JSON)
        return tfx_fail(err, "tfx eval writes --format text or json");
    return 0;
}

/* Load the recipe for a context of T: beyond its own, only when the positions are computed. */
static tfx_loaded *load_at(eval_opts *o, const tfx_registry *reg, int64_t *T, tfx_error *err)
{
    tfx_cli_common *c = &o->common;
    tfx_loaded *l = tfx_load_for(c->files[0], c->sets, c->n_sets, reg, 1, err);
    if (!l)
        return NULL;
    *T = c->estimate.context ? c->estimate.context : l->spec->context;
    if (*T <= l->spec->context)
        return l;
    const tfx_stack *dec = &l->model->stacks[l->model->n_stacks - 1];
    if (dec->position.n > 0) {
        const tfx_tensor *table = &l->model->tensors[dec->position.first];
        tfx_fail(err, "'%s' learns its positions ('%s', %" PRId64 " rows): a context of %" PRId64 " is beyond the last position it learned",
                 l->spec->name, table->name, table->shape[0], *T);
        tfx_loaded_free(l);
        return NULL;
    }
    tfx_loaded_free(l);
    if (c->n_sets >= TFX_MAX_SETS)
        return tfx_fail(err, "too many --set options"), NULL;
    snprintf(o->context_set, sizeof o->context_set, "context=%" PRId64, *T);
    c->sets[c->n_sets++] = o->context_set;
    return tfx_load_for(c->files[0], c->sets, c->n_sets, reg, 1, err);
}

static int load_weights(const eval_opts *o, const tfx_loaded *l, tfx_weights *w, tfx_error *err)
{
    char ckpt[4096];
    if (tfx_weights_alloc(w, l->model, err))
        return -1;
    if (o->checkpoint)
        snprintf(ckpt, sizeof ckpt, "%s", o->checkpoint);
    else if (!l->spec->checkpoint || !tfx_node_get(l->spec->checkpoint, "file"))
        return tfx_fail(err, "tfx eval needs trained weights: give --checkpoint FILE");
    else if (tfx_checkpoint_path(l->spec, ckpt, sizeof ckpt, err))
        return -1;
    return tfx_checkpoint_load(w, l->model, ckpt, NULL, NULL, err);
}

static int report(const eval_opts *o, const tfx_loaded *l, int64_t T, int64_t windows, double loss)
{
    FILE *out = stdout;
    if (o->common.format == TFX_FORMAT_JSON) {
        json_t *doc = json_pack("{s:s, s:I, s:I, s:I, s:f, s:f}", "name", l->spec->name,
                                "context", (json_int_t)T, "sequences", (json_int_t)windows,
                                "tokens", (json_int_t)(windows * T), "loss", loss,
                                "perplexity", exp(loss));
        int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        fputc('\n', out);
        json_decref(doc);
        return rc || ferror(out) ? -1 : 0;
    }
    fprintf(out, "%s: %" PRId64 " windows of %" PRId64 " tokens\n  loss        %.6f\n  perplexity  %.4f\n",
            l->spec->name, windows, T, loss, exp(loss));
    return ferror(out) ? -1 : 0;
}

/* The loss over whole windows of T tokens, B at a time. */
static int evaluate(const eval_opts *o, const tfx_loaded *l, tfx_weights *w, int64_t T,
                    tfx_error *err)
{
    tfx_tokens data = {0};
    tfx_trainer t = {0};
    int rc = -1;
    if (tfx_tokens_read(&data, o->data, l->spec->vocab, err))
        return -1;
    int64_t windows = data.n / T, B = o->common.estimate.batch ? o->common.estimate.batch : 4;
    if (windows < 1) {
        tfx_fail(err, "data '%s' has %" PRId64 " tokens, fewer than one window of %" PRId64, o->data, data.n, T);
        goto out;
    }
    B = B < windows ? B : windows;
    int64_t batches = windows / B;
    if (o->max_batches && batches > o->max_batches)
        batches = o->max_batches;
    tfx_train_shape shape = {.batch = B, .tokens = T};
    double loss;
    if (tfx_trainer_init(&t, l->model, w, &shape, false, err) ||
        tfx_train_eval(&t, &data, batches, &loss, err))
        goto out;
    rc = report(o, l, T, batches * B, loss) ? tfx_fail(err, "cannot write the report") : 0;
out:
    tfx_trainer_free(&t);
    tfx_tokens_free(&data);
    return rc;
}

int tfx_cmd_eval(int argc, char **argv)
{
    eval_opts o = {0};
    tfx_error err = {{0}};
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return fputs(usage, stdout), 0;
    if (parse_opts(argc, argv, &o, &err))
        return tfx_cli_error(&err);
    if (o.threads)
        openblas_set_num_threads((int)o.threads);
    tfx_registry *reg = tfx_cli_registry(&err);
    tfx_loaded *l = NULL;
    tfx_weights w = {0};
    int64_t T = 0;
    int status = 1;
    if (reg && (l = load_at(&o, reg, &T, &err)) && !load_weights(&o, l, &w, &err) &&
        !evaluate(&o, l, &w, T, &err))
        status = 0;
    tfx_weights_free(&w);
    tfx_loaded_free(l);
    tfx_registry_free(reg);
    return status ? tfx_cli_error(&err) : 0;
}
