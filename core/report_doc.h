/* core/report_doc.h — the report documents of the commands: which figures each command reports,
 * with their units and formulas (core/doc.h renders them). */
#ifndef TFX_CORE_REPORT_DOC_H
#define TFX_CORE_REPORT_DOC_H

#include "doc.h"
#include "matmul_bf16.h"
#include "report.h"

/* A recipe's whole `tfx params` report into d (initialised here; the caller frees it). */
void tfx_doc_params(tfx_doc *d, const tfx_params_item *it);

/* The recipe's widths (vocab, d_model, heads, kv_heads, head_dim) into the open group. */
void tfx_doc_widths(tfx_doc *d, const tfx_spec *s);

/* The groups shared with other commands: parameter counts by component (with tied tensors),
 * and memory and FLOPs at the item's batch and context. */
void tfx_doc_counts(tfx_doc *d, const tfx_loaded *l);
void tfx_doc_estimates(tfx_doc *d, const tfx_params_item *it);

/* What one `tfx run` did: timings, token counts and where its weights came from. */
typedef struct tfx_run_result {
    double load_s, encode_s, prefill_s, decode_s;
    uint64_t prefill_flops;       /* done by the kernels, counted in core/host.c */
    uint64_t prefill_estimate;    /* forward per sequence at the prompt's length */
    uint64_t planned_bytes;       /* weights + KV caches + activations, as allocated */
    int64_t n_encoder, n_prompt, n_generated;
    int32_t *generated;           /* [n_generated], owned by the command */
    const char *weights_from;
    char checkpoint[4096];
    size_t mapped_tensors, loaded_tensors; /* of a checkpoint: used in place / all */
    size_t bf16_matrices;         /* --dtype bf16: matrices decode reads as BF16 */
    bool bf16_skipped;            /* --dtype bf16 on a model that does not decode: no copies */
    bool prefill_chosen;          /* --dtype bf16: prefill's path was chosen, as below */
    tfx_prefill_choice prefill;
    uint64_t mm_products;         /* prefill products oneDNN ran */
} tfx_run_result;

/* The `tfx run` report into d (initialised here; the caller frees it): the model's counts and
 * estimates (est), then what the run did. */
void tfx_doc_run(tfx_doc *d, const tfx_loaded *l, const tfx_run_result *r, const tfx_params_item *est);

/* Estimate at the command's --batch / --context (and the prefill's FLOPs at the prompt's length,
 * into r), then print run's report in c->format. Returns 0, or -1 with err set. */
typedef struct tfx_cli_common tfx_cli_common;
int tfx_report_run(FILE *out, const tfx_cli_common *c, const tfx_loaded *l, tfx_run_result *r, tfx_error *err);

/* This process's peak resident memory so far, MiB. */
double tfx_peak_rss_mib(void);

/* What `tfx grad` or `tfx train` produced, for its report. */
typedef struct tfx_train_outcome {
    bool train;                   /* tfx train (losses before each step), or tfx grad (one loss) */
    const double *losses;         /* [n_losses] */
    int64_t n_losses;
    const char *out;              /* where the gradients or the trained weights went, or NULL */
} tfx_train_outcome;

/* The `tfx grad` / `tfx train` report into d (initialised here; the caller frees it). */
typedef struct tfx_trainer tfx_trainer;
void tfx_doc_train(tfx_doc *d, const tfx_loaded *l, const tfx_trainer *t, const tfx_train_outcome *o);

/* The groups grad, train and train --data share: the products' dtype (and the bf16 path taken),
 * and the memory plan with its formulas beside `peak` MiB of resident memory. */
void tfx_doc_train_dtype(tfx_doc *d, const tfx_trainer *t);
void tfx_doc_train_plan(tfx_doc *d, const tfx_loaded *l, const tfx_trainer *t, double peak);

/* The losses of `tfx train --data --eval-contexts`: NAN where the positions cannot reach (why
 * in reason). */
#define TFX_MAX_CONTEXTS 8
typedef struct tfx_context_losses {
    int n;
    int64_t context[TFX_MAX_CONTEXTS];
    double loss[TFX_MAX_CONTEXTS];
    char reason[TFX_MAX_CONTEXTS][256];
} tfx_context_losses;

/* What `tfx train --data` did, for its report. */
typedef struct tfx_train_result tfx_train_result;
typedef struct tfx_train_data_outcome {
    const char *recipe, *label;   /* the recipe's file; --label or "" */
    const char *const *sets;      /* [n_sets], the --set overrides as given */
    int n_sets;
    int64_t accum;
    const tfx_train_result *r;
    double peak_rss_mib;          /* training's, before the evaluations at other lengths */
    const tfx_context_losses *contexts;
    const char *out;              /* --save, or NULL */
} tfx_train_data_outcome;

/* The `tfx train --data` report into d (initialised here; the caller frees it). */
void tfx_doc_train_data(tfx_doc *d, const tfx_loaded *l, const tfx_trainer *t, const tfx_train_data_outcome *o);

/* The `tfx eval` report into d (initialised here; the caller frees it): T tokens per window,
 * `windows` of them, their mean loss. */
void tfx_doc_eval(tfx_doc *d, const char *name, int64_t T, int64_t windows, double loss);

#endif
