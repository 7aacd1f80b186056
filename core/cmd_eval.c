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
#include "eval.h"
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
static int evaluate(const eval_opts *o, const tfx_registry *reg, const tfx_loaded *l,
                    const tfx_weights *w, tfx_error *err)
{
    tfx_tokens data = {0};
    int64_t T = o->common.estimate.context ? o->common.estimate.context : l->spec->context;
    int64_t B = o->common.estimate.batch ? o->common.estimate.batch : 4, windows = 0;
    tfx_eval_source src = {.path = o->common.files[0], .sets = o->common.sets,
                           .n_sets = o->common.n_sets, .reg = reg, .l = l, .w = w};
    double loss;
    int rc = -1;
    if (tfx_tokens_read(&data, o->data, "--data", l->spec->vocab, err))
        return -1;
    if (data.n < T)
        tfx_fail(err, "data '%s' has %" PRId64 " tokens, fewer than one window of %" PRId64, o->data, data.n, T);
    else if (!tfx_eval_at(&src, &data, T, B, o->max_batches, &loss, &windows, err))
        rc = report(o, l, T, windows, loss) ? tfx_fail(err, "cannot write the report") : 0;
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
    int status = 1;
    tfx_cli_common *c = &o.common;
    if (reg && (l = tfx_load_from(c->files[0], c->sets, NULL, c->n_sets, reg, 1, &err)) &&
        !load_weights(&o, l, &w, &err) && !evaluate(&o, reg, l, &w, &err))
        status = 0;
    tfx_weights_free(&w);
    tfx_loaded_free(l);
    tfx_registry_free(reg);
    return status ? tfx_cli_error(&err) : 0;
}
