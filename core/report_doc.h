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

#endif
