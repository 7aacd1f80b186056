/* tfx/plugin.h — the whole contract between the tfx core and a plugin.
 * A plugin includes this header (and tfx/host.h) and nothing else of tfx; it links nothing of the core.
 *
 * A plugin is one shared object exporting one symbol, `tfx_plugin_entry`, that returns a const
 * descriptor: ABI version, kind, name, summary, the option schema, and the kind's operations.
 *
 *     #include <tfx/plugin.h>
 *
 *     static const tfx_option options[] = {
 *         { .name = "eps", .type = TFX_OPT_FLOAT, .default_value = "1e-5",
 *           .doc = "added to the variance before the square root", .min = 0, .max = 1 },
 *     };
 *     static const tfx_norm_ops ops = { .size = sizeof ops, .forward = my_forward };
 *     TFX_PLUGIN_EXPORT const tfx_plugin *tfx_plugin_entry(void) {
 *         static const tfx_plugin plugin = {
 *             .abi_version = TFX_ABI_VERSION, .size = sizeof plugin,
 *             .kind = TFX_KIND_NORM, .name = "mynorm", .summary = "one line",
 *             .options = options, .n_options = 1,
 *             .configure = my_configure, .destroy = my_destroy, .declare = my_declare,
 *             .norm = &ops,
 *         };
 *         return &plugin;
 *     }
 *
 * Lifetime: the core calls configure() once per instance (one per layer and sublayer that uses
 * the plugin), which returns a state the plugin owns; declare() names the instance's tensors;
 * the forward operations read those tensors, in declaration order, through `w`; destroy() frees
 * the state. Tensors, caches and workspaces are owned by the core; a plugin never frees them.
 *
 * Errors: operations that can fail return 0 on success and -1 on error, with a message written
 * through host->fail() into the tfx_status the core passed in. A plugin never prints, exits
 * or aborts.
 *
 * Threading: the core calls one instance from one thread at a time. Host kernels may use
 * several threads internally; a plugin starts no threads of its own.
 *
 * Training: every kind has backward operations, appended to its ops struct (so a plugin built
 * before them still counts and runs, and training refuses it, naming it). A plugin can be
 * trained when its kind's backward operations are all present (for a position plugin: the twin
 * of each hook it has). The core configures instances that will be trained with
 * tfx_config.training = 1 and keeps each forward call's workspace for the matching backward
 * call. Backward operations write the gradient of their input (dx) and ACCUMULATE (+=) into the
 * gradients of their weights (dw, in declaration order, as w): a tensor used twice, or a batch of
 * several sequences, sums. Backward allocates nothing; scratch comes from the core.
 *
 * Versioning: TFX_ABI_VERSION changes when a struct here changes in a way an old plugin or an
 * old core would misread (a field removed, reordered or retyped). Structs that cross the
 * boundary begin with a `size` field and only ever grow at the end; the core reads a field past
 * the plugin's `size` as absent (NULL / 0), so adding an operation at the end does not bump the
 * version.
 */
#ifndef TFX_PLUGIN_H
#define TFX_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "tfx/host.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TFX_ABI_VERSION 1u

/* The symbol every plugin exports, and its type. */
#define TFX_PLUGIN_ENTRY_SYMBOL "tfx_plugin_entry"
#define TFX_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef enum tfx_kind {
    TFX_KIND_POSITION,  /* adds to embeddings, rotates q/k, or biases attention scores */
    TFX_KIND_NORM,      /* a normalisation function and its gains */
    TFX_KIND_PLACEMENT, /* how a block wires its norms, sublayers and residual */
    TFX_KIND_ATTENTION, /* mask, where K/V come from, projections */
    TFX_KIND_FFN,       /* the position-wise feed-forward network */
    TFX_KIND_COUNT
} tfx_kind;

/* ---- option schema ------------------------------------------------------------------------ */

typedef enum tfx_opt_type {
    TFX_OPT_INT,    /* 64-bit integer; min/max bound it */
    TFX_OPT_FLOAT,  /* double; min/max bound it */
    TFX_OPT_BOOL,   /* true / false */
    TFX_OPT_ENUM,   /* one of `choices`; the value is the index into `choices` */
} tfx_opt_type;

/* One option a plugin accepts in a recipe. A dotted name ("bias.qkv") is written in YAML as a
 * nested map (`bias: { qkv: false }`). The default is text parsed like a recipe value. */
typedef struct tfx_option {
    const char *name;
    tfx_opt_type type;
    const char *default_value;
    const char *doc;              /* one line for `tfx plugins` and the README */
    double min, max;              /* inclusive range for INT and FLOAT; ignored when min > max */
    const char *const *choices;   /* ENUM: NULL-terminated list */
} tfx_option;

/* A resolved option value. The core validates the recipe against the schema before any plugin
 * code runs, so a plugin receives exactly one value per option, in schema order. */
typedef union tfx_value {
    int64_t i;     /* INT, BOOL (0/1), ENUM (index) */
    double f;      /* FLOAT */
} tfx_value;

/* ---- what an instance is configured with -------------------------------------------------- */

/* The model's dimensions as one instance sees them. */
typedef struct tfx_dims {
    int64_t d_model;      /* C: width of the residual stream */
    int64_t heads;        /* NH: query heads */
    int64_t kv_heads;     /* key/value heads (== heads: MHA, 1: MQA, else GQA) */
    int64_t head_dim;     /* HS: d_model / heads unless the recipe sets it */
    int64_t vocab;        /* V */
    int64_t context;      /* longest sequence the model is built for */
    int64_t layer;        /* this instance's layer index in its stack, -1 outside layers */
    int64_t layers;       /* layers in this instance's stack */
} tfx_dims;

typedef struct tfx_config {
    uint32_t size;                /* sizeof(tfx_config) as the core built it */
    const tfx_host *host;         /* services; valid until the instance is destroyed */
    const tfx_value *options;     /* [n_options] in schema order */
    tfx_dims dims;
    const char *stack;            /* "encoder" or "decoder" */
    /* Appended (training). 1: this instance will be trained. Its forward must then leave in the
     * workspace the core hands it whatever its backward needs (workspace_floats counts it): in
     * training the core gives every forward call a workspace of its own and hands the same
     * floats, as the forward left them, to the matching backward call. */
    int training;
    /* Appended (issue 14, t14-costs): the other stack's layers in an encoder-decoder model (the
     * decoder's for an encoder instance, the encoder's for a decoder one), 0 with one stack:
     * DeepNorm's α and β depend on both depths. */
    int64_t other_layers;
} tfx_config;

/* ---- tensor declarations ------------------------------------------------------------------ */

#define TFX_MAX_RANK 4

/* ---- kind operations ---------------------------------------------------------------------- */

/* Positions: any of the three hooks may be NULL. `pos` are absolute positions. */
typedef struct tfx_position_ops {
    uint32_t size;
    /* x[T, C] += position embedding of pos[T] */
    int (*embed)(void *state, const float *const *w, float *x, int64_t T, const int32_t *pos,
                 tfx_status *st);
    /* Rotate x[T, n_heads * head_dim] in place (queries or keys) at positions pos[T]. */
    void (*rotate)(void *state, const float *const *w, float *x, int64_t T, int64_t n_heads,
                   const int32_t *pos);
    /* scores[Tq, Tk] (row stride ld) of head `head` += bias(q_pos[i], k_pos[j]). */
    void (*score_bias)(void *state, const float *const *w, float *scores, int64_t ld, int64_t Tq,
                       int64_t Tk, int64_t head, const int32_t *q_pos, const int32_t *k_pos);

    /* Backward (appended; see "Training" above). Each hook that is not NULL needs its twin.
     * embed: dw[i] += d loss / d w[i], given dx[T, C], the gradient of x after embed (the
     * gradient of x before it is the same dx: embed adds). */
    int (*embed_backward)(void *state, const float *const *w, float *const *dw, const float *dx,
                          int64_t T, const int32_t *pos, tfx_status *st);
    /* dx[T, n_heads * head_dim] in place: the gradient of rotate's input from its output's. */
    void (*rotate_backward)(void *state, const float *const *w, float *dx, int64_t T,
                            int64_t n_heads, const int32_t *pos);
    /* dw[i] += d loss / d w[i] given dscores[Tq, Tk] (row stride ld), the gradient of the
     * biased scores of head `head`; scores themselves pass the gradient through unchanged. */
    void (*score_bias_backward)(void *state, const float *const *w, float *const *dw,
                                const float *dscores, int64_t ld, int64_t Tq, int64_t Tk,
                                int64_t head, const int32_t *q_pos, const int32_t *k_pos);
} tfx_position_ops;

typedef struct tfx_norm_ops {
    uint32_t size;
    /* out[T, C] = norm(x[T, C]); out may equal x. */
    void (*forward)(void *state, const float *const *w, float *out, const float *x, int64_t T);

    /* Backward (appended). dx[T, C] = (d out / d x)ᵀ · dout[T, C], written (dx may equal dout,
     * never x); dw[i] += d loss / d w[i]. x is the forward's input. */
    void (*backward)(void *state, const float *const *w, float *const *dw, float *dx,
                     const float *dout, const float *x, int64_t T);
} tfx_norm_ops;

/* What a placement is given to wire one block. Norm `i` is the i-th norm the placement named
 * in declare_norms(); sublayer `s` is the block's s-th sublayer (attention, [cross], ffn). */
typedef struct tfx_block_io {
    uint32_t size;
    float *x;                     /* [T, C] residual stream, updated in place */
    float *scratch[3];            /* three [T, C] buffers the placement may use freely */
    int64_t T, C;
    void *ctx;
    int (*sublayer)(void *ctx, int s, float *out, const float *in, tfx_status *st);
    void (*norm)(void *ctx, int i, float *out, const float *in);
} tfx_block_io;

/* What a placement is given to run one block backward. */
typedef struct tfx_block_grad_io {
    uint32_t size;
    float *dx;                    /* [T, C] in: d loss / d block output; out: d loss / d input */
    float *scratch[3];            /* three [T, C] buffers the placement may use freely */
    int64_t T, C;
    void *ctx;
    /* d_in[T, C] = gradient of sublayer s's input from d_out[T, C], its output's (written);
     * the sublayer's weight gradients accumulate. d_in may not equal d_out. */
    int (*sublayer_backward)(void *ctx, int s, float *d_in, const float *d_out, tfx_status *st);
    /* d_in[T, C] = gradient of norm i's input from d_out, its output's (written; may equal d_out). */
    void (*norm_backward)(void *ctx, int i, float *d_in, const float *d_out);
} tfx_block_grad_io;

typedef struct tfx_placement_ops {
    uint32_t size;
    /* Name the block's norms (host->declare_norm) given its sublayer names; e.g. "attn_norm". */
    int (*declare_norms)(void *state, const char *const *sublayers, int n_sublayers,
                         tfx_declarer *d, tfx_status *st);
    int (*forward)(void *state, const tfx_block_io *io, tfx_status *st);
    int final_norm;               /* 1: the stack ends with a norm unless the recipe says not */

    /* Backward (appended): the block's wiring in reverse. On entry io->dx holds the gradient of
     * the block's output, on return that of its input. In training each sublayer and each norm
     * may be called at most once per block forward; the core keeps the input of every call and
     * hands it to the matching sublayer_backward / norm_backward. */
    int (*backward)(void *state, const tfx_block_grad_io *io, tfx_status *st);
} tfx_placement_ops;

/* ---- costs only the plugin knows (issue 14, t14-costs) ------------------------------------ */

/* One output shape for `tfx params --shapes`: what it is ("q", "router logits"), its axes as
 * a legend ("B, heads, S, head_dim") and its dimensions. Strings are the plugin's, static. */
typedef struct tfx_out_shape {
    const char *what;
    const char *axes;
    int rank;
    int64_t dims[TFX_MAX_RANK];
} tfx_out_shape;

/* ---- end of costs only the plugin knows --------------------------------------------------- */

/* The position hooks an attention instance calls; NULL members mean "not applicable". */
typedef struct tfx_position_hooks {
    void *state;
    const float *const *w;
    void (*rotate)(void *state, const float *const *w, float *x, int64_t T, int64_t n_heads,
                   const int32_t *pos);
    void (*score_bias)(void *state, const float *const *w, float *scores, int64_t ld, int64_t Tq,
                       int64_t Tk, int64_t head, const int32_t *q_pos, const int32_t *k_pos);
} tfx_position_hooks;

typedef struct tfx_attn_io {
    uint32_t size;
    float *out;                   /* [T, C] */
    const float *x;               /* [T, C] the new tokens (queries; keys/values for self) */
    int64_t T;
    const int32_t *pos;           /* [T] absolute positions of x */
    int64_t n_past;               /* tokens already in the cache; 0 means start afresh */
    const float *memory;          /* [S, C] encoder output for cross attention, else NULL */
    int64_t memory_len;           /* S */
    int memory_fresh;             /* 1: memory changed, recompute its keys/values */
    float *cache;                 /* cache_floats(cache_capacity) floats owned by the core */
    int64_t cache_capacity;       /* positions the cache holds (the `context` it was sized for) */
    float *workspace;             /* workspace_floats() floats owned by the core */
    const tfx_position_hooks *position;
} tfx_attn_io;

/* The position plugin's backward hooks, as an attention instance calls them. */
typedef struct tfx_position_grad_hooks {
    uint32_t size;
    void *state;
    const float *const *w;
    float *const *dw;             /* the position instance's weight gradients */
    void (*rotate_backward)(void *state, const float *const *w, float *dx, int64_t T,
                            int64_t n_heads, const int32_t *pos);
    void (*score_bias_backward)(void *state, const float *const *w, float *const *dw,
                                const float *dscores, int64_t ld, int64_t Tq, int64_t Tk,
                                int64_t head, const int32_t *q_pos, const int32_t *k_pos);
} tfx_position_grad_hooks;

/* The gradients of one attention call, beside the tfx_attn_io of its forward. */
typedef struct tfx_attn_grad {
    uint32_t size;
    const float *dout;            /* [T, C] d loss / d out */
    float *dx;                    /* [T, C] d loss / d x, written */
    float *dmemory;               /* [S, C] d loss / d memory, accumulated (cross attention) */
    float *const *dw;             /* d loss / d w[i], accumulated */
    float *workspace;             /* backward_workspace_floats(T, context) floats of scratch */
    const tfx_position_grad_hooks *position; /* NULL for cross attention */
} tfx_attn_grad;

typedef struct tfx_attention_ops {
    uint32_t size;
    int uses_memory;              /* 1: keys/values come from the encoder (cross attention) */
    /* Floats of KV cache for up to `context` positions (memory positions for cross attention).
     * The core sizes the cache with this and passes the same `context` as io->cache_capacity. */
    int64_t (*cache_floats)(void *state, int64_t context);
    /* Floats of scratch for T new tokens with up to `context` positions in view. */
    int64_t (*workspace_floats)(void *state, int64_t T, int64_t context);
    /* How many keys the query at position n-1 sees (the attention term of FLOPs). */
    int64_t (*keys_seen)(void *state, int64_t n);
    int (*forward)(void *state, const float *const *w, const tfx_attn_io *io, tfx_status *st);

    /* Backward (appended). Training runs each sequence afresh (n_past 0) and calls backward with
     * the very io of the matching forward: io->workspace holds what that forward left there,
     * io->cache what it cached. */
    int64_t (*backward_workspace_floats)(void *state, int64_t T, int64_t context);
    int (*backward)(void *state, const float *const *w, const tfx_attn_io *io,
                    const tfx_attn_grad *grad, tfx_status *st);

    /* ---- appended: composition (issue 14) ---- */
    /* NULL-terminated names of the position plugins this attention works with (NULL: any). The
     * core refuses any other when it checks the recipe, at the position's file:line:col (MLA
     * rotates its decoupled rope part itself: rope or none). */
    const char *const *positions;

    /* ---- Costs only the plugin knows (appended, issue 14, t14-costs). Each may be NULL: the
     * core then uses its generic formula. Every figure passes the core's size gate. */
    /* Parameters one token uses, of those this instance declared (0 .. its declared total). */
    int64_t (*active_params)(void *state);
    /* Forward FLOPs of one token at position context-1, everything this instance does
     * (projections and scores); replaces 2·params + 2·keys_seen·heads·head_dim. */
    int64_t (*flops_per_token)(void *state, int64_t context);
    /* KV-cache elements this instance keeps per cached token, and the formula they follow
     * (static text, e.g. "kv_lora_rank + rope_dim"), for the report's label. */
    int64_t (*kv_per_token)(void *state, const char **formula);
    /* Up to `cap` output shapes for a batch and context (`params --shapes`); returns how many
     * (at most cap), replacing the core's q / k, v / scores rows. */
    int (*shapes)(void *state, int64_t batch, int64_t context, tfx_out_shape *out, int cap);
    /* ---- end of costs only the plugin knows */
} tfx_attention_ops;

typedef struct tfx_ffn_ops {
    uint32_t size;
    int64_t (*workspace_floats)(void *state, int64_t T);
    /* out[T, C] = ffn(x[T, C]) */
    int (*forward)(void *state, const float *const *w, float *out, const float *x, int64_t T,
                   float *workspace, tfx_status *st);
    int64_t (*width)(void *state); /* the hidden width, for reports */

    /* Backward (appended). dx[T, C] = gradient of x from dout[T, C] (written); dw[i] += d loss /
     * d w[i]. `saved` is the forward's workspace as the forward left it; `workspace` is
     * backward_workspace_floats(T) floats of scratch. */
    int64_t (*backward_workspace_floats)(void *state, int64_t T);
    int (*backward)(void *state, const float *const *w, float *const *dw, float *dx,
                    const float *dout, const float *x, int64_t T, float *saved, float *workspace,
                    tfx_status *st);

    /* ---- Costs only the plugin knows (appended, issue 14, t14-costs); as for attention.
     * active_params: a mixture of experts counts the router, the shared experts and top_k of
     * its routed experts; flops_per_token replaces 2·params. */
    int64_t (*active_params)(void *state);
    int64_t (*flops_per_token)(void *state, int64_t context);
    /* Up to `cap` output shapes (replacing the core's "ffn hidden" row); returns how many. */
    int (*shapes)(void *state, int64_t batch, int64_t context, tfx_out_shape *out, int cap);
    /* ---- end of costs only the plugin knows */
} tfx_ffn_ops;

/* ---- the descriptor ----------------------------------------------------------------------- */

typedef struct tfx_plugin {
    uint32_t abi_version;         /* TFX_ABI_VERSION the plugin was built against */
    uint32_t size;                /* sizeof(tfx_plugin) the plugin was built with */
    tfx_kind kind;
    const char *name;             /* unique within its kind; [a-z0-9_-]+ */
    const char *summary;          /* one line */
    const tfx_option *options;
    int n_options;

    /* Make an instance. Returns 0 and sets *state, or -1 with a message in st. */
    int (*configure)(const tfx_config *cfg, void **state, tfx_status *st);
    void (*destroy)(void *state);
    /* Declare the instance's tensors with host->declare_tensor(d, ...). May be NULL. */
    int (*declare)(void *state, tfx_declarer *d, tfx_status *st);

    const tfx_position_ops *position;   /* exactly one of these, matching kind */
    const tfx_norm_ops *norm;
    const tfx_placement_ops *placement;
    const tfx_attention_ops *attention;
    const tfx_ffn_ops *ffn;
} tfx_plugin;

typedef const tfx_plugin *(*tfx_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
