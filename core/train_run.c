/* core/train_run.c — the loop of a training run on data (accumulate, clip, schedule, AdamW,
 * evaluate, log, save) and the files that let a saved run resume exactly. */
#include "train_run.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "clock.h"
#include "progress.h"
#include "safetensors.h"
#include "checked.h"
#include "text.h"



/* ---- files -------------------------------------------------------------------------------- */

/* "m1.<name>", "m2.<name>" for every stored tensor, and "run" = [step, position]. */
static int write_state(const tfx_trainer *t, int64_t position, const char *path, tfx_error *err)
{
    const tfx_model *m = t->model;
    size_t n = 0, cap = 2 * m->n_tensors + 1;
    tfx_st_out *outs = calloc(cap, sizeof *outs);
    char **names = calloc(cap, sizeof *names);
    int64_t run[2] = {t->step, position};
    int rc = -1;
    if (!outs || !names) {
        tfx_fail(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tfx_tensor *tn = &m->tensors[i];
        for (int k = 0; tn->tied_to < 0 && k < 2; k++) {
            size_t len = strlen(tn->name) + 4;
            if (!(names[n] = malloc(len))) {
                tfx_fail(err, "out of memory");
                goto out;
            }
            snprintf(names[n], len, "m%d.%s", k + 1, tn->name);
            outs[n] = (tfx_st_out){.name = names[n], .dtype = TFX_DTYPE_F32, .rank = tn->rank,
                                   .data = (k ? t->moment2 : t->moment1).data[i]};
            memcpy(outs[n].shape, tn->shape, sizeof(int64_t) * (size_t)tn->rank);
            n++;
        }
    }
    outs[n++] = (tfx_st_out){.name = "run", .dtype = TFX_DTYPE_I64, .rank = 1, .shape = {2},
                             .data = run};
    rc = tfx_st_write(path, "--save", outs, n, err);
out:
    for (size_t i = 0; names && i < cap; i++)
        free(names[i]);
    free(names);
    free(outs);
    return rc;
}

int tfx_train_save(const tfx_trainer *t, int64_t position, const char *path, tfx_error *err)
{
    char state[4200]; /* PATH.state */
    if (tfx_text(state, sizeof state, "%s.state", path) < 0)
        return tfx_fail(err, "--save: path too long: '%s'", path);
    return write_state(t, position, state, err) ||
                   tfx_checkpoint_write(t->model, t->weights->data, path, "--save", err)
               ? -1
               : 0;
}

/* Copy the F32 tensor `name` of f, which must hold exactly numel elements, into out. */
static int read_moment(const tfx_st_file *f, const char *name, int64_t numel, float *out,
                       tfx_error *err)
{
    const tfx_st_tensor *st = tfx_st_find(f, name);
    if (!st || st->dtype != TFX_DTYPE_F32 || st->numel != numel)
        return tfx_fail(err, "'%s' lacks an F32 tensor '%s' of %" PRId64 " elements: not the state of this model's run",
                        f->path, name, numel);
    memcpy(out, st->data, (size_t)numel * sizeof *out);
    return 0;
}

static int read_moments(tfx_trainer *t, const tfx_st_file *f, tfx_error *err)
{
    const tfx_model *m = t->model;
    char name[1024];
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tfx_tensor *tn = &m->tensors[i];
        for (int k = 0; tn->tied_to < 0 && k < 2; k++) {
            if (tfx_text(name, sizeof name, "m%d.%s", k + 1, tn->name) < 0)
                return tfx_fail(err, "tensor name too long: '%s'", tn->name);
            if (read_moment(f, name, tn->numel, (k ? t->moment2 : t->moment1).data[i], err))
                return -1;
        }
    }
    return 0;
}

int tfx_train_load_state(tfx_trainer *t, const char *path, int64_t *position, tfx_error *err)
{
    char state[4200]; /* PATH.state */
    if (tfx_text(state, sizeof state, "%s.state", path) < 0)
        return tfx_fail(err, "--resume: path too long: '%s'", path);
    tfx_st_file *f = tfx_st_open(state, err);
    if (!f)
        return -1;
    int rc = read_moments(t, f, err);
    const tfx_st_tensor *run = tfx_st_find(f, "run");
    int64_t v[2];
    if (!rc && (!run || run->numel != 2 || tfx_st_read_i64(run, 0, 2, v, err)))
        rc = tfx_fail(err, "'%s' lacks the run's step and data position ('run', two integers)", state);
    if (!rc && (v[0] < 0 || v[1] < 0))
        rc = tfx_fail(err, "'%s' has a negative step or data position", state);
    if (!rc)
        t->step = v[0], *position = v[1];
    tfx_st_close(f);
    return rc;
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* A batch's tokens, [B·T] (B·T fits: the trainer's plan checked it), or NULL. */
static int32_t *alloc_tokens(const tfx_trainer *t)
{
    int64_t n;
    size_t bytes;
    if (tfx_mul_overflows(t->shape.batch, t->shape.tokens, &n) ||
        __builtin_mul_overflow((size_t)n, sizeof(int32_t), &bytes))
        return NULL;
    return malloc(bytes);
}

int tfx_train_eval(tfx_trainer *t, const tfx_tokens *val, int64_t n_batches, double *loss,
                   tfx_error *err)
{
    int64_t B = t->shape.batch, T = t->shape.tokens, pos = 0, fit = val->n / B / T;
    if (n_batches > fit)
        n_batches = fit;
    if (n_batches < 1)
        n_batches = 1;
    int32_t *tokens = alloc_tokens(t); /* [B·T] */
    if (!tokens)
        return tfx_fail(err, "out of memory");
    double sum = 0, l;
    int rc = 0;
    for (int64_t i = 0; i < n_batches && !rc; i++) {
        tfx_tokens_batch(val, &pos, B, T, tokens);
        rc = tfx_trainer_loss(t, tokens, NULL, &l, err);
        sum += l;
    }
    free(tokens);
    *loss = sum / (double)n_batches;
    return rc;
}

/* One optimizer step: accum micro-batches into the gradients, their mean, the clip, AdamW. */
static int step_once(tfx_trainer *t, const tfx_tokens *train, int64_t *pos, int32_t *tokens,
                     const tfx_train_run_opts *o, double *loss, double *norm, double *lr,
                     tfx_error *err)
{
    int64_t B = t->shape.batch, T = t->shape.tokens;
    double sum = 0, l;
    memset(t->grads.arena, 0, t->grads.floats * sizeof(float));
    for (int64_t a = 0; a < o->accum; a++) {
        tfx_tokens_batch(train, pos, B, T, tokens);
        if (tfx_trainer_grad_add(t, tokens, NULL, &l, err))
            return -1;
        sum += l;
    }
    if (o->accum > 1)
        tfx_train_scale_grads(t, (float)(1.0 / (double)o->accum));
    *loss = sum / (double)o->accum;
    *norm = tfx_train_grad_norm(t);
    if (o->clip > 0 && *norm > o->clip)
        tfx_train_scale_grads(t, (float)(o->clip / *norm));
    *lr = tfx_train_lr(&o->schedule, t->step);
    tfx_adamw h = o->adamw;
    h.lr = *lr;
    return tfx_trainer_adamw(t, &h, err);
}

static void log_step(FILE *log, int64_t step, double loss, const double *val, double lr,
                     double norm, double tps)
{
    if (!log)
        return;
    fprintf(log, "{\"step\": %" PRId64 ", \"train_loss\": %.9g", step, loss);
    if (val)
        fprintf(log, ", \"val_loss\": %.9g", *val);
    fprintf(log, ", \"lr\": %.9g, \"grad_norm\": %.9g, \"tokens_per_s\": %.6g}\n", lr, norm, tps);
}

static int alloc_result(tfx_train_result *r, const tfx_trainer *t, const tfx_train_run_opts *o,
                        tfx_error *err)
{
    int64_t n = o->steps - t->step;
    memset(r, 0, sizeof *r);
    r->first_step = t->step;
    r->losses = calloc((size_t)(n > 0 ? n : 1), sizeof *r->losses);
    r->curve = calloc((size_t)(n > 0 ? n : 1) + 1, sizeof *r->curve);
    if (!r->losses || !r->curve)
        return tfx_fail(err, "out of memory");
    r->train_loss = r->val_loss = NAN;
    return 0;
}

/* Evaluate after step `done` when it is due; record it on the curve. */
static int maybe_eval(tfx_trainer *t, const tfx_tokens *val, const tfx_train_run_opts *o,
                      int64_t done, double loss, tfx_train_result *r, double **val_out,
                      tfx_error *err)
{
    *val_out = NULL;
    bool due = done == o->steps || (o->eval_every > 0 && done % o->eval_every == 0);
    if (!due)
        return 0;
    if (tfx_train_eval(t, val, o->eval_batches, &r->val_loss, err))
        return -1;
    r->curve[r->n_curve++] = (tfx_train_point){.step = done, .train_loss = loss, .val_loss = r->val_loss};
    *val_out = &r->val_loss;
    return 0;
}

int tfx_train_run(tfx_trainer *t, const tfx_tokens *train, const tfx_tokens *val, int64_t position,
                  const tfx_train_run_opts *o, tfx_train_result *r, tfx_error *err)
{
    int64_t B = t->shape.batch, T = t->shape.tokens;
    int32_t *tokens = alloc_tokens(t); /* [B·T] */
    if (!tokens || alloc_result(r, t, o, err)) {
        free(tokens);
        return tokens ? -1 : tfx_fail(err, "out of memory");
    }
    tfx_progress p = {0};
    if (o->progress)
        tfx_progress_start(&p, "train");
    int rc = 0;
    r->position = position;
    for (int64_t i = 0; t->step < o->steps && !rc; i++) {
        double loss, norm, lr, *v, t0 = tfx_now();
        if ((rc = step_once(t, train, &r->position, tokens, o, &loss, &norm, &lr, err)))
            break;
        r->train_s += tfx_now() - t0;
        double tps = (double)(i + 1) * (double)B * (double)T * (double)o->accum / r->train_s;
        r->losses[i] = r->train_loss = loss;
        if ((rc = maybe_eval(t, val, o, t->step, loss, r, &v, err)))
            break;
        log_step(o->log, t->step, loss, v, lr, norm, tps);
        r->tokens_per_s = tps;
        if (o->save && o->save_every > 0 && t->step % o->save_every == 0 && t->step < o->steps)
            rc = tfx_train_save(t, r->position, o->save, err);
        tfx_progress_steps(&p, t->step, o->steps, i + 1, loss, tps);
    }
    if (o->progress)
        tfx_progress_end(&p);
    if (!rc && r->n_curve == 0) /* resumed at the end: still report the validation loss */
        rc = tfx_train_eval(t, val, o->eval_batches, &r->val_loss, err);
    if (!rc && o->save)
        rc = tfx_train_save(t, r->position, o->save, err);
    free(tokens);
    return rc;
}

void tfx_train_result_free(tfx_train_result *r)
{
    free(r->losses);
    free(r->curve);
    memset(r, 0, sizeof *r);
}
