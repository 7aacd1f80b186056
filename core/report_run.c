/* core/report_run.c — fills the report document of `tfx run`: the model's counts and estimates,
 * where the weights came from, the threads and kernels, and what prefill and decode measured. */
#include <cblas.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "gemv.h"
#include "report_doc.h"
#include "text.h"

double tfx_peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static double rate(double n, double s) { return s > 0 ? n / s : 0.0; }

static void doc_setup(tfx_doc *d, const tfx_run_result *r)
{
    char formula[512];
    tfx_doc_text(d, "weights", NULL, r->weights_from, NULL);
    snprintf(formula, sizeof formula, "of %zu tensors read in place from the mapped file, %zu copied",
             r->loaded_tensors, r->loaded_tensors - r->mapped_tensors);
    tfx_doc_int(d, "weights_in_place", "weights in place", (int64_t)r->mapped_tensors, TFX_UNIT_NONE,
                r->loaded_tensors ? formula : "random weights: none mapped");
    tfx_doc_real(d, "load_s", "weights ready in", r->load_s, 3, TFX_UNIT_SECONDS, NULL);
    if (r->bf16_matrices)
        snprintf(formula, sizeof formula, "for decode: %zu matrices streamed as BF16 copies (the fp32 ones kept)",
                 r->bf16_matrices);
    else
        snprintf(formula, sizeof formula, "%s", r->bf16_skipped ? "for prefill only: an encoder-only model does "
                 "not decode, so no BF16 copies for it" : "every product in fp32");
    tfx_doc_text(d, "dtype", NULL, r->prefill_chosen ? "bf16" : "fp32", formula);
    const char *forced = getenv("OPENBLAS_CORETYPE");
    snprintf(formula, sizeof formula, "OpenBLAS %s kernels for matrix products%s%s%s; tfx's %s kernels "
             "for softmax, activations and one-token attention", openblas_get_corename(),
             forced ? " (OPENBLAS_CORETYPE=" : "", forced ? forced : "", forced ? " in the environment)" : "",
             tfx_kernel_isa());
    tfx_doc_int(d, "threads", NULL, openblas_get_num_threads(), TFX_UNIT_NONE, formula);
    tfx_doc_text(d, "kernels", "OpenBLAS kernels", openblas_get_corename(), NULL);
    tfx_doc_text(d, "vector_isa", "tfx's kernels", tfx_kernel_isa(), NULL);
}

/* --dtype bf16: which path prefill took, why, and oneDNN's kernel. */
static void doc_prefill_path(tfx_doc *d, const tfx_run_result *r)
{
    const tfx_prefill_choice *c = &r->prefill;
    tfx_doc_group_start(d, "bf16_prefill", "bf16 prefill", false);
    tfx_doc_text(d, "path", "prefill path", c->onednn ? "onednn" : "fp32", NULL);
    tfx_doc_text(d, "why", NULL, c->why, NULL);
    tfx_doc_text(d, "onednn_impl", "oneDNN kernel", c->impl, c->impl[0] ? (c->onednn ? "used" : "unused") : "none");
    tfx_doc_text(d, "onednn_isa", "oneDNN ISA", tfx_mm_isa(), NULL);
    tfx_doc_real(d, "onednn_gflops", "oneDNN bf16", c->bf16_gflops, 1, TFX_UNIT_GFLOP_PER_S, "measured (0: not)");
    tfx_doc_real(d, "fp32_gflops", "OpenBLAS fp32", c->fp32_gflops, 1, TFX_UNIT_GFLOP_PER_S, "measured (0: not)");
    tfx_doc_int(d, "onednn_products", "oneDNN products", (int64_t)r->mm_products, TFX_UNIT_NONE,
                "prefill products that ran on oneDNN");
}

static void doc_timings(tfx_doc *d, const tfx_run_result *r)
{
    int64_t decoded = r->n_generated > 0 ? r->n_generated - 1 : 0;
    double planned_mib = (double)r->planned_bytes / (1024.0 * 1024.0), peak = tfx_peak_rss_mib();
    char formula[160];
    tfx_doc_group_start(d, "", "run", false);
    tfx_doc_int(d, "encoder_tokens", "encoder tokens", r->n_encoder, TFX_UNIT_TOKENS, NULL);
    tfx_doc_real(d, "encode_s", "encode", r->encode_s, 3, TFX_UNIT_SECONDS, NULL);
    tfx_doc_int(d, "prefill_tokens", "prefill tokens", r->n_prompt, TFX_UNIT_TOKENS, NULL);
    tfx_doc_real(d, "prefill_s", "prefill", r->prefill_s, 3, TFX_UNIT_SECONDS, NULL);
    tfx_doc_real(d, "prefill_tokens_per_s", "prefill speed", rate((double)r->n_prompt, r->prefill_s), 1,
                 TFX_UNIT_TOKENS_PER_S, "prefill tokens / prefill");
    tfx_doc_real(d, "prefill_gflops", "prefill throughput", rate((double)r->prefill_flops / 1e9, r->prefill_s), 1,
                 TFX_UNIT_GFLOP_PER_S, "FLOPs done by the kernels / prefill");
    tfx_doc_int(d, "prefill_flops_measured", "prefill FLOPs done", (int64_t)r->prefill_flops, TFX_UNIT_FLOP,
                "counted by the kernels (core/host.c)");
    tfx_doc_int(d, "prefill_flops_estimate", "prefill FLOPs estimated", (int64_t)r->prefill_estimate,
                TFX_UNIT_FLOP, "forward per token × prompt tokens, at the prompt's length");
    tfx_doc_int(d, "decode_tokens", "decode tokens", decoded, TFX_UNIT_TOKENS, "generated less the one prefill gave");
    tfx_doc_real(d, "decode_s", "decode", r->decode_s, 3, TFX_UNIT_SECONDS, NULL);
    tfx_doc_real(d, "decode_tokens_per_s", "decode speed", rate((double)decoded, r->decode_s), 1,
                 TFX_UNIT_TOKENS_PER_S, "decode tokens / decode");
    snprintf(formula, sizeof formula, "%.2fx the planned memory", planned_mib > 0 ? peak / planned_mib : 0.0);
    tfx_doc_real(d, "peak_rss_mib", "peak memory", peak, 1, TFX_UNIT_MIB, formula);
    tfx_doc_real(d, "planned_mib", "planned memory", planned_mib, 1, TFX_UNIT_MIB,
                 "weights, KV cache and activations as allocated");
    tfx_doc_group_start(d, "", "", false); /* alone, so that it reads "generated: 5,17,3" */
    tfx_doc_ints(d, "generated", "generated:", r->generated, r->n_generated);
}

void tfx_doc_run(tfx_doc *d, const tfx_loaded *l, const tfx_run_result *r, const tfx_params_item *est)
{
    const tfx_spec *s = l->spec;
    char title[TFX_MAX_NAME + 64];
    tfx_text(title, sizeof title, "%s (%s)", s->name, tfx_model_kind_name(s->kind));
    tfx_doc_init(d, s->name, title);
    tfx_doc_text(d, "name", NULL, s->name, NULL);
    tfx_doc_text(d, "model", NULL, tfx_model_kind_name(s->kind), NULL);
    doc_setup(d, r);
    tfx_doc_counts(d, l);
    tfx_doc_estimates(d, est);
    if (r->prefill_chosen)
        doc_prefill_path(d, r);
    doc_timings(d, r);
    /* The text is a summary: what params details stays in the other formats. */
    static const char *const details[] = {"name", "model", "kernels", "vector_isa", "tied.*", "memory.batch",
        "memory.context", "memory.weights_bf16", "memory.weights_int8", "memory.activations",
        "memory.training_breakdown.*", "memory.train_activations*",
        "memory.kv_per_token", "memory.kv_formula", "active_parameters", "trainable_parameters", "flops.forward_params_term",
        "flops.forward_attention_term", "flops.forward_per_sequence", "flops.formula",
        "prefill_flops_measured", "prefill_flops_estimate", "planned_mib"};
    tfx_doc_detail(d, details, sizeof details / sizeof details[0]);
    for (size_t i = 0; i < d->n_figs; i++) { /* and what is zero or did not happen */
        tfx_figure *f = &d->figs[i];
        bool zero = f->kind == TFX_VALUE_INT ? f->i == 0 : f->kind == TFX_VALUE_REAL && f->d == 0;
        if (zero && (strncmp(f->key, "components.", 11) == 0 || strcmp(f->key, "flops.forward_plugin_term") == 0 || strncmp(f->key, "memory.kv_cache_cross", 21) == 0 ||
                     strncmp(f->key, "encode", 6) == 0 || strcmp(f->key, "weights_in_place") == 0))
            f->detail = true;
    }
}

int tfx_report_run(FILE *out, const tfx_cli_common *c, const tfx_loaded *l, tfx_run_result *r, tfx_error *err)
{
    tfx_params_item est;
    tfx_memory prefill_memory;
    tfx_flops prefill_flops;
    tfx_estimate_opts prefill_opts = {.batch = 1, .context = r->n_prompt};
    if (tfx_cli_item(c, c->files[0], l, &est, err) ||
        tfx_estimate(l->model, l->counts.total, l->counts.non_embedding, &prefill_opts, &prefill_memory,
                     &prefill_flops, err))
        return -1;
    r->prefill_estimate = prefill_flops.forward_per_sequence;
    tfx_doc doc;
    tfx_doc_run(&doc, l, r, &est);
    int rc = tfx_doc_emit(out, c->format, &doc, 1, err);
    tfx_doc_free(&doc);
    return rc;
}
