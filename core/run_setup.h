/* core/run_setup.h — what `tfx run` settles before it runs: its inputs and their size, whether
 * they fit in memory, the OpenBLAS threads that fit beside them, and the weights. */
#ifndef TFX_CORE_RUN_SETUP_H
#define TFX_CORE_RUN_SETUP_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "load.h"
#include "report_doc.h"
#include "runtime.h"
#include "weights.h"

/* "5,17,3" → out[cap]; returns the count, or -1 with err naming `opt`. */
int64_t tfx_parse_tokens(const char *text, int32_t *out, int64_t cap, const char *opt, tfx_error *err);

/* What the command line asks of the run's inputs. */
typedef struct tfx_run_request {
    const char *tokens, *encoder_tokens; /* token ids, or NULL for a random prompt */
    int64_t prompt_len, generate;
    uint64_t seed;
    bool check;                   /* --check: guard words */
} tfx_run_request;

/* The run's inputs and the run state they need: one plan for the memory check and the run. */
typedef struct tfx_run_inputs {
    int32_t *prompt, *enc;        /* [TFX_MAX_TOKENS] each, owned */
    int64_t n_prompt, n_enc, generate;
    tfx_run_limits lim;
} tfx_run_inputs;

/* Parse or draw the prompt (and encoder input), and size the run for exactly them. Returns 0,
 * or -1 with err set; tfx_run_inputs_free undoes it either way. */
int tfx_run_inputs_prepare(const tfx_run_request *q, const tfx_spec *s, tfx_run_inputs *in, tfx_error *err);
void tfx_run_inputs_free(tfx_run_inputs *in);

/* The bytes the run holds (r->planned_bytes): the weights, with BF16 copies for decode when bf16
 * and the model decodes (*copies), and the run state for lim; *with_onednn adds room for
 * oneDNN's copies, should prefill choose it. Sets r->bf16_skipped. Returns 0, or -1 on overflow. */
int tfx_run_plan(const tfx_loaded *l, const tfx_run_limits *lim, bool bf16, bool *copies, uint64_t *with_onednn,
                 tfx_run_result *r, tfx_error *err);

/* 0 when `need` bytes fit in what is available (or `force`); else -1 with err saying how much
 * is there and what limits it. */
int tfx_run_check_fits(uint64_t need, bool force, tfx_error *err);

/* Under an address-space limit main.c started OpenBLAS on one thread (TFX_BLAS_THREADS_LIMITED);
 * add the threads asked for (0: all cores) whose buffers fit beside `need`. */
void tfx_run_raise_blas_threads(uint64_t need, int64_t asked);

/* --dtype bf16: make the BF16 copies decode streams (when `copies`) and start the pool on
 * `threads` (0: OpenBLAS's count), then choose prefill's path by `mode` (measuring oneDNN against
 * sgemm for auto) and give oneDNN the weights where chosen (*mm, closed by the caller). */
int tfx_run_bf16(const tfx_loaded *l, tfx_weights *w, bool copies, tfx_bf16_prefill mode, int threads,
                 tfx_run_result *r, tfx_mm **mm, tfx_error *err);

/* Allocate w and fill it from `checkpoint` (--checkpoint), else the recipe's checkpoint.file
 * unless random_weights, else seeded random values; r learns where they came from. */
int tfx_run_load_weights(const char *checkpoint, bool random_weights, uint64_t seed, const tfx_loaded *l,
                         tfx_weights *w, tfx_run_result *r, tfx_error *err);

#endif
