/* core/cmd_train_data.c — `tfx train --data`: reads the data, runs core/train_run.c's loop,
 * evaluates at --eval-contexts lengths, and reports (text, JSON, --result, --log). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checked.h"
#include "cmd_train.h"
#include "data.h"
#include "eval.h"
#include "files.h"
#include "train_run.h"

/* The training tokens and the validation tokens (--val, else the tail of --data). */
static int read_data(const train_opts *o, const tfx_spec *s, int64_t T, tfx_tokens *train,
                     tfx_tokens *val, tfx_error *err)
{
    if (tfx_tokens_read(train, o->data, "--data", s->vocab, err))
        return -1;
    if (o->val ? tfx_tokens_read(val, o->val, "--val", s->vocab, err)
               : tfx_tokens_split(train, val, o->val_fraction, o->data, err))
        return -1;
    if (train->n < T)
        return tfx_fail(err, "data '%s' has %" PRId64 " training tokens, fewer than one sequence of %" PRId64,
                        o->data, train->n, T);
    if (val->n < T)
        return tfx_fail(err, "validation data '%s' has %" PRId64 " tokens, fewer than one sequence of %" PRId64,
                        o->val ? o->val : o->data, val->n, T);
    return 0;
}

static json_t *curve_json(const tfx_train_result *r)
{
    json_t *arr = json_array();
    for (int64_t i = 0; i < r->n_curve; i++)
        json_array_append_new(arr, json_pack("{s:I, s:f, s:f}", "step", (json_int_t)r->curve[i].step,
                                             "train_loss", r->curve[i].train_loss, "val_loss",
                                             r->curve[i].val_loss));
    return arr;
}

#define MAX_CONTEXTS 8

/* The losses at --eval-contexts: NAN where the positions cannot reach (reason kept). */
typedef struct context_losses {
    int n;
    int64_t context[MAX_CONTEXTS];
    double loss[MAX_CONTEXTS];
    char reason[MAX_CONTEXTS][256];
} context_losses;

static int parse_contexts(const char *text, context_losses *c, tfx_error *err)
{
    const char *p = text;
    c->n = 0;
    for (;;) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 2 || v > 1000000 || c->n == MAX_CONTEXTS || (*end && *end != ','))
            return tfx_fail(err, "--eval-contexts expects up to %d lengths of at least 2, e.g. 128,256,512; got '%s'",
                            MAX_CONTEXTS, text);
        c->context[c->n++] = v;
        if (!*end)
            return 0;
        p = end + 1;
    }
}

static int eval_contexts(const train_opts *o, const tfx_loaded *l, const tfx_weights *w,
                         const tfx_tokens *val, int64_t B, context_losses *c, tfx_error *err)
{
    tfx_registry *reg = tfx_cli_registry(err);
    if (!reg)
        return -1;
    tfx_eval_source src = {.path = o->common.files[0], .sets = o->common.sets,
                           .n_sets = o->common.n_sets, .reg = reg, .l = l, .w = w,
                           .bf16 = o->dtype == 1, .bf16_path = o->bf16_path};
    /* Every length reads the same tokens: whole windows of the longest over the validation
     * data's start, at most eval-batches × B of them, one window at a time. */
    int64_t longest = 0;
    for (int k = 0; k < c->n; k++)
        longest = c->context[k] > longest ? c->context[k] : longest;
    int64_t budget = val->n / longest * longest, cap;
    if (!tfx_mul_overflows(o->eval_batches, B, &cap) && !tfx_mul_overflows(cap, longest, &cap))
        budget = budget < cap ? budget : cap;
    for (int k = 0; k < c->n; k++) {
        tfx_error why = {{0}};
        int64_t windows, n = budget / c->context[k];
        if (n < 1 || tfx_eval_at(&src, val, c->context[k], 1, n, &c->loss[k], &windows, &why)) {
            if (n < 1)
                snprintf(why.msg, sizeof why.msg, "the validation data holds no window of %" PRId64 " tokens", c->context[k]);
            c->loss[k] = NAN;
            snprintf(c->reason[k], sizeof c->reason[k], "%.255s", why.msg);
        }
    }
    tfx_registry_free(reg);
    return 0;
}

static json_t *contexts_json(const context_losses *c)
{
    json_t *arr = json_array();
    for (int k = 0; k < c->n; k++)
        json_array_append_new(arr, isnan(c->loss[k])
                                       ? json_pack("{s:I, s:n, s:s}", "context", (json_int_t)c->context[k], "loss", "error", c->reason[k])
                                       : json_pack("{s:I, s:f}", "context", (json_int_t)c->context[k], "loss", c->loss[k]));
    return arr;
}

static json_t *data_json(const train_opts *o, const tfx_loaded *l, const tfx_trainer *t,
                         const tfx_train_result *r, double rss, const context_losses *c)
{
    int64_t n = t->step - r->first_step;
    json_t *losses = json_array(), *sets = json_array();
    for (int64_t i = 0; i < n; i++)
        json_array_append_new(losses, json_real(r->losses[i]));
    for (int i = 0; i < o->common.n_sets; i++)
        json_array_append_new(sets, json_string(o->common.sets[i]));
    return json_pack("{s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:f, s:f, s:f, s:f, s:o, s:f, s:f, s:o}",
                     "name", l->spec->name, "recipe", o->common.files[0], "sets", sets, "label",
                     o->label ? o->label : "", "batch", (json_int_t)t->shape.batch, "tokens",
                     (json_int_t)t->shape.tokens, "accum", (json_int_t)o->accum, "steps",
                     (json_int_t)t->step, "losses", losses, "curve", curve_json(r), "train_loss",
                     r->train_loss, "val_loss", r->val_loss, "tokens_per_s", r->tokens_per_s,
                     "train_s", r->train_s, "plan", tfx_cmd_train_plan_json(t), "peak_rss_mib", rss,
                     "planned_mib", tfx_cmd_train_mib(tfx_cmd_train_plan_total(&t->plan)), "context_losses", contexts_json(c));
}

/* The JSON report into --result FILE, atomically. */
static int write_result(const char *path, const json_t *doc, tfx_error *err)
{
    tfx_output out = {0};
    if (tfx_output_open(&out, path, "--result", err))
        return -1;
    if (json_dumpf(doc, out.f, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) != 0) {
        tfx_output_abort(&out);
        return tfx_fail(err, "cannot write '%s'", path);
    }
    return tfx_output_commit(&out, err);
}

static void data_text(const train_opts *o, const tfx_loaded *l, const tfx_trainer *t,
                      const tfx_train_result *r, const context_losses *c)
{
    FILE *out = stdout;
    int64_t n = t->step - r->first_step;
    fprintf(out, "%s: %" PRId64 " step%s of %lld × %lld sequences of %lld tokens (steps %" PRId64 " to %" PRId64 ")\n",
            l->spec->name, n, n == 1 ? "" : "s", (long long)o->accum, (long long)t->shape.batch,
            (long long)t->shape.tokens, r->first_step + 1, t->step);
    for (int64_t i = 0; i < r->n_curve; i++)
        fprintf(out, "  step %-9" PRId64 " train loss %.4f  val loss %.4f\n", r->curve[i].step,
                r->curve[i].train_loss, r->curve[i].val_loss);
    fprintf(out, "  train loss     %.6f\n  val loss       %.6f\n  speed          %.0f tokens/s (%.1f s of steps)\n",
            r->train_loss, r->val_loss, r->tokens_per_s, r->train_s);
    for (int k = 0; k < c->n; k++)
        isnan(c->loss[k]) ? fprintf(out, "  at %-11" PRId64 " unreachable: %s\n", c->context[k], c->reason[k])
                          : fprintf(out, "  at %-11" PRId64 " val loss %.6f\n", c->context[k], c->loss[k]);
    tfx_cmd_train_print_plan(out, l, t);
    if (o->out)
        fprintf(out, "  saved          %s (and %s.state)\n", o->out, o->out);
}

static int data_report(const train_opts *o, const tfx_loaded *l, const tfx_trainer *t,
                       const tfx_train_result *r, double rss, const context_losses *c,
                       tfx_error *err)
{
    json_t *doc = data_json(o, l, t, r, rss, c);
    tfx_cmd_train_dtype_json(doc, t);
    int rc = o->result ? write_result(o->result, doc, err) : 0;
    if (!rc && o->common.format == TFX_FORMAT_JSON) {
        rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        fputc('\n', stdout);
    } else if (!rc)
        data_text(o, l, t, r, c);
    json_decref(doc);
    if (!rc && ferror(stdout))
        rc = tfx_fail(err, "cannot write the report");
    return rc;
}

static void run_opts(const train_opts *o, FILE *log, tfx_train_run_opts *r)
{
    *r = (tfx_train_run_opts){.steps = o->steps, .accum = o->accum, .adamw = o->adamw,
                              .clip = o->clip < 0 ? 1.0 : o->clip, .eval_every = o->eval_every,
                              .eval_batches = o->eval_batches, .save_every = o->save_every,
                              .save = o->out, .log = log,
                              .progress = isatty(STDERR_FILENO) == 1};
    r->schedule = (tfx_schedule){.lr = o->adamw.lr, .warmup = o->warmup, .steps = o->steps,
                                 .min_lr = o->min_lr < 0 ? o->adamw.lr / 10 : o->min_lr};
}

static int train_on_data(train_opts *o, const tfx_loaded *l, tfx_weights *w, tfx_error *err)
{
    tfx_trainer t = {0};
    tfx_tokens train = {0}, val = {0};
    tfx_train_result r = {0};
    tfx_train_run_opts ro;
    context_losses contexts = {0};
    tfx_output log = {0};
    int64_t position = 0, T = o->common.estimate.context ? o->common.estimate.context : l->spec->context;
    tfx_train_shape shape = {.batch = o->common.estimate.batch ? o->common.estimate.batch : 4, .tokens = T};
    int rc = -1;
    if (l->spec->kind == TFX_MODEL_ENCODER_DECODER) {
        tfx_fail(err, "--data trains decoder-only models; '%s' is encoder-decoder (give --tokens and --encoder-tokens)",
                 l->spec->name);
        goto out;
    }
    if ((o->contexts && parse_contexts(o->contexts, &contexts, err)) ||
        tfx_trainer_init(&t, l->model, w, &shape, true, err) ||
        (o->dtype && tfx_trainer_use_bf16(&t, o->bf16_path, err)) ||
        read_data(o, l->spec, T, &train, &val, err) ||
        (o->resume && tfx_train_load_state(&t, o->resume, &position, err)) ||
        (position > train.n &&
         tfx_fail(err, "--resume: '%s.state' puts the data at token %" PRId64 ", past the %" PRId64 " training tokens of '%s'",
                  o->resume, position, train.n, o->data)) ||
        (o->out && tfx_output_check(o->out, "--save", err)) || /* every input is read by now */
        (o->result && tfx_output_check(o->result, "--result", err)) ||
        (o->log && tfx_output_open(&log, o->log, "--log", err)))
        goto out;
    run_opts(o, log.f, &ro);
    if (tfx_train_run(&t, &train, &val, position, &ro, &r, err) ||
        (o->log && tfx_output_commit(&log, err)))
        goto out;
    memset(&log, 0, sizeof log);
    double rss = tfx_cmd_train_peak_rss_mib(); /* training's, before any evaluation at other lengths */
    if ((o->contexts && eval_contexts(o, l, w, &val, shape.batch, &contexts, err)) ||
        data_report(o, l, &t, &r, rss, &contexts, err))
        goto out;
    rc = 0;
out:
    tfx_output_abort(&log);
    tfx_train_result_free(&r);
    tfx_tokens_free(&train);
    tfx_tokens_free(&val);
    tfx_trainer_free(&t);
    return rc;
}

int tfx_cmd_train_data(train_opts *o, tfx_error *err)
{
    int status = 1;
    tfx_registry *reg = tfx_cli_registry(err);
    tfx_loaded *l = NULL;
    tfx_weights w = {0};
    char ckpt[4096] = "";
    if (reg && (l = tfx_load_from(o->common.files[0], o->common.sets, NULL, o->common.n_sets, reg, 1, err)) &&
        !tfx_cmd_train_load_weights(o, l, &w, ckpt, sizeof ckpt, err) && !train_on_data(o, l, &w, err))
        status = 0;
    tfx_weights_free(&w);
    tfx_loaded_free(l);
    tfx_registry_free(reg);
    return status;
}

