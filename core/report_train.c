/* core/report_train.c — fills the report document of `tfx grad` and `tfx train`: the loss (or
 * the loss before each step), the memory plan with its formulas, and where the tensors went. */
#include <inttypes.h>

#include "cmd_train.h"
#include "report_doc.h"
#include "text.h"
#include "train.h"

static double mib(uint64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

void tfx_doc_train_plan(tfx_doc *d, const tfx_loaded *l, const tfx_trainer *t, double peak)
{
    const tfx_train_plan *p = &t->plan;
    int64_t B = t->shape.batch, T = t->shape.tokens, C = l->spec->d_model;
    char formula[320], n[32];
    tfx_doc_group_start(d, "plan", "memory plan", false);
    snprintf(formula, sizeof formula, "N × 4 B, N = %s parameters (tied once; each tensor padded to 64 B)",
             tfx_group_digits(n, sizeof n, l->counts.total));
    tfx_doc_int(d, "weights", NULL, (int64_t)p->weights, TFX_UNIT_BYTES, formula);
    tfx_doc_int(d, "bf16_copies", "bf16 copies", (int64_t)p->bf16_copies, TFX_UNIT_BYTES,
                "2 B for each element of a matrix linear() multiplies by, in oneDNN's layout (refreshed after "
                "each step); 0 in fp32");
    tfx_doc_int(d, "gradients", NULL, (int64_t)p->grads, TFX_UNIT_BYTES,
                "N × 4 B (the weights' layout; a tied tensor's uses sum into one)");
    tfx_doc_int(d, "moments", "AdamW moments", (int64_t)p->moments, TFX_UNIT_BYTES,
                p->moments ? "2 × N × 4 B (fp32)" : "none: tfx grad does not update");
    snprintf(formula, sizeof formula, "per layer %" PRId64 " inputs (norms, sublayers) of B·T·C = %" PRId64 "·%"
             PRId64 "·%" PRId64 " floats, + each attention and FFN call's own workspace and cache",
             p->saved_per_layer_rows, B, T, C);
    tfx_doc_int(d, "saved_activations", "saved activations", (int64_t)p->saved, TFX_UNIT_BYTES, formula);
    snprintf(formula, sizeof formula, "logits B·T·V = %" PRId64 "·%" PRId64 "·%" PRId64 " floats; each stack's "
             "residual, 6 placement scratch and the residual's gradient, B·T·C each; the largest backward scratch",
             B, T, l->spec->vocab);
    tfx_doc_int(d, "workspace", NULL, (int64_t)p->workspace, TFX_UNIT_BYTES, formula);
    tfx_doc_int(d, "total", NULL, (int64_t)tfx_cmd_train_plan_total(p), TFX_UNIT_BYTES, "the sum of the six above");
    tfx_doc_group_start(d, "", "", false);
    double planned = mib(tfx_cmd_train_plan_total(p));
    snprintf(formula, sizeof formula, "%.2fx the plan", planned > 0 ? peak / planned : 0.0);
    tfx_doc_real(d, "peak_rss_mib", "peak memory", peak, 1, TFX_UNIT_MIB, formula);
    tfx_doc_real(d, "planned_mib", "planned memory", planned, 2, TFX_UNIT_MIB, "plan.total in MiB");
    if (!p->bf16_copies) { /* fp32: no copies to speak of in the text */
        static const char *const none[] = {"plan.bf16_copies"};
        tfx_doc_detail(d, none, 1);
    }
}

void tfx_doc_train(tfx_doc *d, const tfx_loaded *l, const tfx_trainer *t, const tfx_train_outcome *o)
{
    const tfx_spec *s = l->spec;
    char title[TFX_MAX_NAME + 96];
    tfx_text(title, sizeof title, "%s (%s): %" PRId64 " sequence%s of %" PRId64 " tokens", s->name,
             tfx_model_kind_name(s->kind), t->shape.batch, t->shape.batch == 1 ? "" : "s", t->shape.tokens);
    tfx_doc_init(d, s->name, title);
    tfx_doc_text(d, "name", NULL, s->name, NULL);
    tfx_doc_int(d, "batch", NULL, t->shape.batch, TFX_UNIT_NONE, "sequences");
    tfx_doc_int(d, "tokens", NULL, t->shape.tokens, TFX_UNIT_TOKENS, "per sequence");
    if (!o->train) {
        tfx_doc_real(d, "loss", NULL, o->losses[0], 6, TFX_UNIT_NONE, "mean cross-entropy of the next token");
    } else {
        tfx_doc_group_start(d, "losses", "loss before each step", false);
        tfx_doc_list(d, "");
        for (int64_t i = 0; i < o->n_losses; i++) {
            char key[32], label[48];
            snprintf(key, sizeof key, "%" PRId64, i);
            snprintf(label, sizeof label, "step %" PRId64, i + 1);
            tfx_doc_real(d, key, label, o->losses[i], 6, TFX_UNIT_NONE, NULL);
        }
    }
    tfx_doc_train_dtype(d, t);
    tfx_doc_train_plan(d, l, t, tfx_peak_rss_mib());
    if (o->out)
        tfx_doc_text(d, o->train ? "saved" : "gradients_file", o->train ? "saved" : "gradients", o->out, NULL);
}

void tfx_doc_train_dtype(tfx_doc *d, const tfx_trainer *t)
{
    tfx_doc_group_start(d, "", "", false);
    tfx_doc_text(d, "dtype", NULL, t->mm ? "bf16" : "fp32", "the products' operands (bf16: mixed precision through oneDNN)");
    if (t->bf16.why[0]) { /* --dtype bf16: which path the products took, and why */
        tfx_doc_group_start(d, "bf16_path", "bf16 path", false);
        tfx_doc_text(d, "why", NULL, t->bf16.why, NULL);
        tfx_doc_text(d, "kernel", "oneDNN kernel", t->bf16.impl, NULL);
        tfx_doc_real(d, "bf16_gflops", "oneDNN bf16", t->bf16.bf16_gflops, 1, TFX_UNIT_GFLOP_PER_S, "measured (0: not)");
        tfx_doc_real(d, "fp32_gflops", "OpenBLAS fp32", t->bf16.fp32_gflops, 1, TFX_UNIT_GFLOP_PER_S, "measured (0: not)");
    }
}
