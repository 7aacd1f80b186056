/* core/report_train_data.c — fills the report documents of `tfx train --data` (the run, its
 * curve, the losses at other lengths, the memory plan) and of `tfx eval` (loss, perplexity). */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "checked.h"
#include "cmd_train.h"
#include "report_doc.h"
#include "text.h"
#include "train_run.h"

/* The run's shape and its inputs: the recipe, the overrides and the label compare gives it. */
static void doc_run(tfx_doc *d, const tfx_loaded *l, const tfx_trainer *t, const tfx_train_data_outcome *o)
{
    char key[32];
    tfx_doc_text(d, "name", NULL, l->spec->name, NULL);
    tfx_doc_text(d, "recipe", NULL, o->recipe, NULL);
    tfx_doc_list(d, "sets");
    for (int i = 0; i < o->n_sets; i++) {
        snprintf(key, sizeof key, "sets.%d", i);
        tfx_doc_text(d, key, "set", o->sets[i], NULL);
    }
    tfx_doc_text(d, "label", NULL, o->label, NULL);
    tfx_doc_int(d, "batch", NULL, t->shape.batch, TFX_UNIT_NONE, "sequences per micro-batch");
    tfx_doc_int(d, "tokens", NULL, t->shape.tokens, TFX_UNIT_TOKENS, "per sequence");
    tfx_doc_int(d, "accum", NULL, o->accum, TFX_UNIT_NONE, "micro-batches per step");
    tfx_doc_int(d, "steps", NULL, t->step, TFX_UNIT_NONE, "optimizer steps done, a resumed run's included");
}

/* The training loss of each step this run took (a detail), and the evaluations' curve. */
static void doc_curve(tfx_doc *d, const tfx_trainer *t, const tfx_train_result *r)
{
    char key[64], label[64];
    tfx_doc_list(d, "losses");
    for (int64_t i = 0; i < t->step - r->first_step; i++) {
        snprintf(key, sizeof key, "losses.%" PRId64, i);
        snprintf(label, sizeof label, "loss of step %" PRId64, r->first_step + i + 1);
        tfx_doc_real(d, key, label, r->losses[i], 6, TFX_UNIT_NONE, NULL);
    }
    tfx_doc_list(d, "curve");
    for (int64_t i = 0; i < r->n_curve; i++) {
        const tfx_train_point *p = &r->curve[i];
        snprintf(key, sizeof key, "curve.%" PRId64 ".step", i);
        tfx_doc_int(d, key, NULL, p->step, TFX_UNIT_NONE, NULL);
        snprintf(key, sizeof key, "curve.%" PRId64 ".train_loss", i);
        snprintf(label, sizeof label, "step %" PRId64 " train loss", p->step);
        tfx_doc_real(d, key, label, p->train_loss, 4, TFX_UNIT_NONE, NULL);
        snprintf(key, sizeof key, "curve.%" PRId64 ".val_loss", i);
        snprintf(label, sizeof label, "step %" PRId64 " val loss", p->step);
        tfx_doc_real(d, key, label, p->val_loss, 4, TFX_UNIT_NONE, NULL);
    }
}

/* The final losses and the speed. */
static void doc_outcome(tfx_doc *d, const tfx_train_result *r)
{
    tfx_doc_real(d, "train_loss", "train loss", r->train_loss, 6, TFX_UNIT_NONE,
                 "mean next-token loss of the last step");
    tfx_doc_real(d, "val_loss", "val loss", r->val_loss, 6, TFX_UNIT_NONE,
                 "mean next-token loss on the validation batches");
    tfx_doc_real(d, "tokens_per_s", "speed", r->tokens_per_s, 0, TFX_UNIT_TOKENS_PER_S,
                 "tokens trained on / train_s");
    tfx_doc_real(d, "train_s", "time of steps", r->train_s, 3, TFX_UNIT_SECONDS, "the steps' wall time, no evaluation");
}

/* The validation loss at each --eval-contexts length, or why the positions cannot reach it. */
static void doc_contexts(tfx_doc *d, const tfx_context_losses *c)
{
    char key[64], label[64];
    tfx_doc_list(d, "context_losses");
    for (int k = 0; k < c->n; k++) {
        snprintf(key, sizeof key, "context_losses.%d.context", k);
        tfx_doc_int(d, key, NULL, c->context[k], TFX_UNIT_TOKENS, NULL);
        snprintf(key, sizeof key, "context_losses.%d.loss", k);
        snprintf(label, sizeof label, "val loss at %" PRId64, c->context[k]);
        tfx_doc_real(d, key, label, c->loss[k], 6, TFX_UNIT_NONE,
                     isnan(c->loss[k]) ? "NaN (null): the positions cannot reach it" : NULL);
        if (isnan(c->loss[k])) {
            snprintf(key, sizeof key, "context_losses.%d.error", k);
            snprintf(label, sizeof label, "unreachable at %" PRId64, c->context[k]);
            tfx_doc_text(d, key, label, c->reason[k], NULL);
        }
    }
}

/* Text is a summary: no per-step losses, and a curve point's or a length's number is in its
 * neighbours' labels. */
static void mark_details(tfx_doc *d)
{
    static const char *const details[] = {"losses.*", "sets.*"};
    tfx_doc_detail(d, details, 2);
    for (size_t i = 0; i < d->n_figs; i++) {
        const char *k = d->figs[i].key;
        size_t len = strlen(k);
        if ((strncmp(k, "curve.", 6) == 0 && len > 5 && strcmp(k + len - 5, ".step") == 0) ||
            (strncmp(k, "context_losses.", 15) == 0 && len > 8 && strcmp(k + len - 8, ".context") == 0))
            d->figs[i].detail = true;
    }
}

void tfx_doc_train_data(tfx_doc *d, const tfx_loaded *l, const tfx_trainer *t, const tfx_train_data_outcome *o)
{
    const tfx_train_result *r = o->r;
    char title[TFX_MAX_NAME + 160];
    int64_t n = t->step - r->first_step;
    tfx_text(title, sizeof title, "%s: %" PRId64 " step%s of %" PRId64 " × %" PRId64 " sequences of %" PRId64
             " tokens (steps %" PRId64 " to %" PRId64 ")", l->spec->name, n, n == 1 ? "" : "s", o->accum,
             t->shape.batch, t->shape.tokens, r->first_step + 1, t->step);
    tfx_doc_init(d, l->spec->name, title);
    doc_run(d, l, t, o);
    doc_curve(d, t, r);
    doc_outcome(d, r);
    doc_contexts(d, o->contexts);
    tfx_doc_train_dtype(d, t);
    tfx_doc_train_plan(d, l, t, o->peak_rss_mib);
    if (o->out)
        tfx_doc_text(d, "saved", NULL, o->out, "the weights; the optimizer's state beside them, in SAVED.state");
    mark_details(d);
}

void tfx_doc_eval(tfx_doc *d, const char *name, int64_t T, int64_t windows, double loss)
{
    char title[TFX_MAX_NAME + 96];
    int64_t tokens;
    if (tfx_mul_overflows(windows, T, &tokens))
        tokens = INT64_MAX;
    tfx_text(title, sizeof title, "%s: %" PRId64 " window%s of %" PRId64 " tokens", name, windows,
             windows == 1 ? "" : "s", T);
    tfx_doc_init(d, name, title);
    tfx_doc_text(d, "name", NULL, name, NULL);
    tfx_doc_int(d, "context", NULL, T, TFX_UNIT_TOKENS, "tokens per window");
    tfx_doc_int(d, "sequences", NULL, windows, TFX_UNIT_NONE, "whole windows evaluated");
    tfx_doc_int(d, "tokens", NULL, tokens, TFX_UNIT_TOKENS, "sequences × context");
    tfx_doc_real(d, "loss", NULL, loss, 6, TFX_UNIT_NONE, "mean next-token cross-entropy, nats per token");
    tfx_doc_real(d, "perplexity", NULL, exp(loss), 4, TFX_UNIT_NONE, "e^loss");
}
