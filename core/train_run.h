/* core/train_run.h — a training run on data: batches in order, accumulation, clipping, the
 * learning-rate schedule, evaluation, JSON-lines log, saving and resuming a run exactly. */
#ifndef TFX_CORE_TRAIN_RUN_H
#define TFX_CORE_TRAIN_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "data.h"
#include "train.h"

typedef struct tfx_train_run_opts {
    int64_t steps, accum;         /* optimizer steps; micro-batches per step */
    tfx_schedule schedule;        /* peak lr, floor, warmup (schedule.steps = steps) */
    tfx_adamw adamw;              /* betas, eps, weight decay (lr set each step) */
    double clip;                  /* global gradient-norm clip, 0: none */
    int64_t eval_every, eval_batches; /* 0: evaluate at the end only */
    int64_t save_every;           /* 0: save at the end only */
    const char *save;             /* weights to OUT, optimizer state to OUT.state; or NULL */
    FILE *log;                    /* JSON lines, or NULL */
    int progress;                 /* draw a progress line (stderr is a terminal) */
} tfx_train_run_opts;

/* One evaluation of the curve. */
typedef struct tfx_train_point {
    int64_t step;
    double train_loss, val_loss;
} tfx_train_point;

typedef struct tfx_train_result {
    double *losses;               /* [steps − first_step], the training loss of each step, owned */
    tfx_train_point *curve;       /* [n_curve], owned */
    int64_t n_curve, first_step;
    double train_loss, val_loss, tokens_per_s, train_s;
    int64_t position;             /* where the next batch starts in the training tokens */
} tfx_train_result;

/* Train t (whose t->step and *position say where a resumed run stands) on `train` up to
 * o->steps, evaluating on `val`. Returns 0, or -1 with err set. */
int tfx_train_run(tfx_trainer *t, const tfx_tokens *train, const tfx_tokens *val, int64_t position,
                  const tfx_train_run_opts *o, tfx_train_result *r, tfx_error *err);
void tfx_train_result_free(tfx_train_result *r);

/* Mean next-token loss over n_batches batches of val from its start (n_batches clipped to
 * what val holds, at least one). Returns 0, or -1 with err set. */
int tfx_train_eval(tfx_trainer *t, const tfx_tokens *val, int64_t n_batches, double *loss,
                   tfx_error *err);

/* Save a run: the weights to `path`, AdamW's moments, the step and the data position to
 * `path`.state, each atomically and never over an input. Returns 0, or -1 with err set. */
int tfx_train_save(const tfx_trainer *t, int64_t position, const char *path, tfx_error *err);

/* Read `path`.state into t's moments and step, and the data position. The weights are read
 * as any checkpoint. Returns 0, or -1 with err naming the file. */
int tfx_train_load_state(tfx_trainer *t, const char *path, int64_t *position, tfx_error *err);

#endif
