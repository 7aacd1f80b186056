/* core/train.c — training's forward (keeping every norm and sublayer input and every call's own
 * workspace), the next-token loss, the backward pass through the plugins, and AdamW.
 *
 * Shapes: B sequences, T tokens per sequence of a stack (S for the encoder), rows = B·T,
 * C = d_model, V = vocab. Norms, FFNs and placements see all rows at once; attention is called
 * once per sequence, so attention never crosses sequences. */
#include "train.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "checked.h"
#include "attend.h"
#include "host.h"
#include "runtime.h"
#include "sizes.h"

/* ---- the carving of one block into buffers ------------------------------------------------ */

/* Hands out 64-byte-aligned runs of a block; with base NULL it only counts (the plan). */
typedef struct carver {
    float *base;
    int64_t used;                 /* floats */
    int overflow;
    int refused;                  /* a plugin reported a size out of range: err says which */
    tfx_error *err;
} carver;

static float *carve(carver *c, int64_t floats)
{
    int64_t padded;
    if (tfx_pad_floats_overflows(floats, &padded)) {
        c->overflow = 1;
        return NULL;
    }
    float *p = c->base ? c->base + c->used : NULL;
    if (__builtin_add_overflow(c->used, padded, &c->used))
        c->overflow = 1;
    return p;
}

/* A size a plugin reported through core/sizes.c's gate (rc its status, floats its value). */
static int64_t reported(carver *c, int rc, int64_t floats)
{
    if (rc)
        c->refused = 1;
    return rc ? 0 : floats;
}

/* floats = a · b, or -1 on overflow (carve turns that into an overflow). */
static int64_t mul(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? -1 : r;
}

/* ---- per-stack state ---------------------------------------------------------------------- */

/* What one attention instance keeps per sequence: the io of its forward, for its backward. */
typedef struct train_layer {
    int n_slots;                  /* sublayers + norms */
    int n_sub;
    float **saved;                /* [n_slots] → [rows, C]: the input of each call */
    float *ffn_ws;                /* the FFN call's own workspace */
    tfx_attn_io *io[2];           /* [B] self, cross (NULL when absent) */
} train_layer;

typedef struct train_stack {
    int si;
    int64_t T, rows;
    float *x;                     /* [rows, C] residual; after forward, the stack's output */
    float *embed_in;              /* [rows, C] embed_norm's input, or NULL */
    float *final_in;              /* [rows, C] final norm's input, or NULL */
    int32_t *pos;                 /* [rows]: t of each row within its sequence */
    int32_t *tokens;              /* [rows] */
    train_layer *layers;          /* [layers] */
    tfx_position_hooks hooks;
    tfx_position_grad_hooks grad_hooks;
} train_stack;

static const tfx_plugin *plugin_of(const tfx_instance *inst) { return inst->comp->plugin->desc; }

static int is_seq2seq_encoder(const tfx_model *m, int si)
{
    return m->spec->kind == TFX_MODEL_ENCODER_DECODER && si == 0;
}

/* Lay out the saved activations of stack si (counting only while the carver's base is NULL).
 * Pointer arrays live in `st` (allocated at init). */
static void layout_stack(const tfx_model *m, const tfx_train_shape *sh, int si, carver *saved,
                         carver *work, train_stack *st)
{
    const tfx_stack *stk = &m->stacks[si];
    int64_t C = m->spec->d_model, B = sh->batch;
    int64_t T = is_seq2seq_encoder(m, si) ? sh->encoder_tokens : sh->tokens;
    int64_t rows = mul(B, T), rc = mul(rows, C);
    st->si = si, st->T = T, st->rows = rows;
    st->x = carve(work, rc);
    st->pos = (int32_t *)carve(work, rows);
    st->tokens = (int32_t *)carve(work, rows);
    st->embed_in = stk->embed_norm.comp ? carve(saved, rc) : NULL;
    st->final_in = stk->final_norm.comp ? carve(saved, rc) : NULL;
    for (int64_t i = 0; i < stk->spec->layers; i++) {
        const tfx_layer *l = &stk->layers[i];
        train_layer *tl = &st->layers[i];
        for (int k = 0; k < tl->n_slots; k++)
            tl->saved[k] = carve(saved, rc);
        int64_t n = 0, ws = 0, cache = 0;
        int bad = tfx_size_ffn_workspace(&l->ffn, rows, &n, saved->err);
        tl->ffn_ws = carve(saved, reported(saved, bad, n));
        const tfx_instance *attn[2] = {&l->attn, &l->cross_attn};
        for (int a = 0; a < 2; a++) {
            if (!attn[a]->comp)
                continue;
            int64_t ctx = a ? sh->encoder_tokens : T;
            bad = tfx_size_attn_workspace(attn[a], T, ctx, &ws, saved->err) ||
                  tfx_size_attn_cache(attn[a], ctx, &cache, saved->err);
            ws = reported(saved, bad, ws), cache = reported(saved, bad, cache);
            for (int64_t b = 0; b < B; b++) {
                tfx_attn_io *io = &tl->io[a][b];
                io->workspace = carve(saved, ws);
                io->cache = carve(saved, cache);
                io->cache_capacity = ctx;
            }
        }
    }
}

/* The largest backward workspace of any call of stack si. */
static int64_t backward_floats(const tfx_model *m, const tfx_train_shape *sh, int si, carver *c)
{
    const tfx_stack *stk = &m->stacks[si];
    int64_t T = is_seq2seq_encoder(m, si) ? sh->encoder_tokens : sh->tokens, most = 0, n = 0;
    for (int64_t i = 0; i < stk->spec->layers; i++) {
        const tfx_layer *l = &stk->layers[i];
        int rc = tfx_size_ffn_backward_workspace(&l->ffn, mul(sh->batch, T), &n, c->err);
        n = reported(c, rc, n);
        most = n > most ? n : most;
        const tfx_instance *attn[2] = {&l->attn, &l->cross_attn};
        for (int a = 0; a < 2; a++) {
            if (!attn[a]->comp)
                continue;
            int64_t ctx = a ? sh->encoder_tokens : T;
            rc = tfx_size_attn_backward_workspace(attn[a], T, ctx, &n, c->err);
            n = reported(c, rc, n);
            most = n > most ? n : most;
        }
    }
    return most;
}

/* The shared buffers: scratch, gradient of the residual, logits, backward workspace. */
static void layout_shared(const tfx_model *m, const tfx_train_shape *sh, carver *work,
                          tfx_trainer *t)
{
    int64_t C = m->spec->d_model, rows = mul(sh->batch, sh->tokens);
    int64_t enc_rows = mul(sh->batch, sh->encoder_tokens), most = 0;
    rows = enc_rows > rows ? enc_rows : rows;
    for (int i = 0; i < 3; i++) {
        t->scratch[i] = carve(work, mul(rows, C));
        t->gscratch[i] = carve(work, mul(rows, C));
    }
    t->dx = carve(work, mul(rows, C));
    t->dmemory = carve(work, mul(enc_rows, C));
    t->logits = carve(work, mul(mul(sh->batch, sh->tokens), m->spec->vocab));
    for (int si = 0; si < m->n_stacks; si++) {
        int64_t n = backward_floats(m, sh, si, work);
        most = n > most ? n : most;
    }
    t->bwd_workspace = carve(work, most);
}

static void layout(tfx_trainer *t, carver *saved, carver *work)
{
    for (int si = 0; si < t->model->n_stacks; si++)
        layout_stack(t->model, &t->shape, si, saved, work, &t->stacks[si]);
    layout_shared(t->model, &t->shape, work, t);
}

/* ---- init --------------------------------------------------------------------------------- */

static void free_stacks(tfx_trainer *t)
{
    for (int si = 0; t->stacks && si < t->model->n_stacks; si++) {
        train_stack *st = &t->stacks[si];
        for (int64_t i = 0; st->layers && i < t->model->stacks[si].spec->layers; i++) {
            free(st->layers[i].saved);
            free(st->layers[i].io[0]);
            free(st->layers[i].io[1]);
        }
        free(st->layers);
    }
    free(t->stacks);
    t->stacks = NULL;
}

/* The pointer arrays of every stack (small; sized by layers, norms and B). */
static int alloc_stacks(tfx_trainer *t, tfx_error *err)
{
    const tfx_model *m = t->model;
    if (!(t->stacks = calloc((size_t)m->n_stacks, sizeof *t->stacks)))
        return tfx_fail(err, "out of memory");
    for (int si = 0; si < m->n_stacks; si++) {
        const tfx_stack *stk = &m->stacks[si];
        train_stack *st = &t->stacks[si];
        if (!(st->layers = calloc((size_t)stk->spec->layers, sizeof *st->layers)))
            return tfx_fail(err, "out of memory");
        for (int64_t i = 0; i < stk->spec->layers; i++) {
            const tfx_layer *l = &stk->layers[i];
            train_layer *tl = &st->layers[i];
            tl->n_sub = l->cross_attn.comp ? 3 : 2;
            tl->n_slots = tl->n_sub + l->n_norms;
            tl->saved = calloc((size_t)tl->n_slots, sizeof *tl->saved);
            tl->io[0] = calloc((size_t)t->shape.batch, sizeof *tl->io[0]);
            tl->io[1] = l->cross_attn.comp ? calloc((size_t)t->shape.batch, sizeof *tl->io[1]) : NULL;
            if (!tl->saved || !tl->io[0] || (l->cross_attn.comp && !tl->io[1]))
                return tfx_fail(err, "out of memory");
        }
    }
    return 0;
}

static int check_shape(const tfx_model *m, const tfx_train_shape *sh, tfx_error *err)
{
    const tfx_spec *s = m->spec;
    if (!m->training)
        return tfx_fail(err, "the model was not built for training");
    if (s->kind == TFX_MODEL_ENCODER_ONLY || m->lm_head < 0)
        return tfx_fail(err, "'%s' has no LM head to train by next-token loss", s->name);
    if (sh->batch < 1 || sh->tokens < 2 || sh->tokens > s->context)
        return tfx_fail(err, "training needs at least one sequence of 2 to %" PRId64 " tokens (the context), not %" PRId64,
                        s->context, sh->tokens);
    bool seq2seq = s->kind == TFX_MODEL_ENCODER_DECODER;
    if (seq2seq ? (sh->encoder_tokens < 1 || sh->encoder_tokens > s->context) : sh->encoder_tokens != 0)
        return tfx_fail(err, seq2seq ? "an encoder-decoder model needs 1 to %" PRId64 " encoder tokens per sequence"
                                     : "encoder tokens are for encoder-decoder models (context %" PRId64 ")",
                        s->context);
    return 0;
}

int tfx_train_plan_bytes(const tfx_model *m, const tfx_train_shape *sh, bool with_moments,
                         tfx_train_plan *plan, tfx_error *err)
{
    memset(plan, 0, sizeof *plan);
    if (check_shape(m, sh, err) || tfx_weights_bytes(m, &plan->weights, err))
        return -1;
    tfx_trainer t = {.model = m, .shape = *sh};
    if (alloc_stacks(&t, err)) {
        free_stacks(&t);
        return -1;
    }
    carver saved = {.err = err}, work = {.err = err};
    layout(&t, &saved, &work);
    free_stacks(&t);
    if (saved.refused || work.refused)
        return -1;
    if (saved.overflow || work.overflow ||
        __builtin_mul_overflow((uint64_t)saved.used, sizeof(float), &plan->saved) ||
        __builtin_mul_overflow((uint64_t)work.used, sizeof(float), &plan->workspace) ||
        (with_moments && __builtin_mul_overflow(plan->weights, 2, &plan->moments)))
        return tfx_fail(err, "training's memory overflows 64 bits");
    plan->grads = plan->weights;
    const tfx_stack *dec = &m->stacks[m->n_stacks - 1];
    plan->saved_per_layer_rows = dec->spec->layers ? dec->layers[0].n_norms + (dec->layers[0].cross_attn.comp ? 3 : 2) : 0;
    return 0;
}

int tfx_trainer_init(tfx_trainer *t, const tfx_model *m, tfx_weights *w,
                     const tfx_train_shape *sh, bool with_moments, tfx_error *err)
{
    memset(t, 0, sizeof *t);
    t->model = m, t->weights = w, t->shape = *sh;
    if (tfx_train_plan_bytes(m, sh, with_moments, &t->plan, err) || alloc_stacks(t, err))
        goto err_free;
    if (tfx_weights_alloc(&t->grads, m, err) ||
        (with_moments && (tfx_weights_alloc(&t->moment1, m, err) ||
                          tfx_weights_alloc(&t->moment2, m, err))))
        goto err_free;
    if (with_moments) {
        memset(t->moment1.arena, 0, t->moment1.floats * sizeof(float));
        memset(t->moment2.arena, 0, t->moment2.floats * sizeof(float));
    }
    t->saved_block = aligned_alloc(64, (size_t)(t->plan.saved ? t->plan.saved : 64));
    t->work_block = aligned_alloc(64, (size_t)t->plan.workspace);
    if (!t->saved_block || !t->work_block) {
        tfx_fail(err, "cannot allocate %" PRIu64 " bytes of activations for training",
                 t->plan.saved + t->plan.workspace);
        goto err_free;
    }
    carver saved = {.base = t->saved_block, .err = err}, work = {.base = t->work_block, .err = err};
    layout(t, &saved, &work);
    return 0;
err_free:
    tfx_trainer_free(t);
    return -1;
}

int tfx_trainer_use_bf16(tfx_trainer *t, tfx_bf16_prefill mode, tfx_error *err)
{
    int64_t C = t->model->spec->d_model, rows = t->stacks[t->model->n_stacks - 1].rows, ffn;
    if (__builtin_mul_overflow(C, 4, &ffn))
        return tfx_fail(err, "d_model %" PRId64 " is too large", C);
    tfx_mm_set_threads(openblas_get_num_threads()); /* one count for OpenBLAS and oneDNN */
    if (tfx_prefill_choose(mode, rows, ffn, C, &t->mm, &t->bf16, err))
        return -1;
    char *flag = strstr(t->bf16.why, "--bf16-prefill"); /* the choice's words are prefill's */
    if (flag)
        memmove(flag + 11, flag + 14, strlen(flag + 14) + 1), memcpy(flag, "--bf16-path", 11);
    tfx_host_use_mm_training(t->mm);
    return 0;
}

void tfx_trainer_free(tfx_trainer *t)
{
    if (t->mm) {
        tfx_host_use_mm_training(NULL);
        tfx_mm_close(t->mm);
    }
    if (t->model)
        free_stacks(t);
    tfx_weights_free(&t->grads);
    tfx_weights_free(&t->moment1);
    tfx_weights_free(&t->moment2);
    free(t->saved_block);
    free(t->work_block);
    memset(t, 0, sizeof *t);
}

/* ---- forward ------------------------------------------------------------------------------ */

/* What the block callbacks reach: the trainer, the stack and the layer running. */
typedef struct block_ctx {
    tfx_trainer *t;
    train_stack *st;
    int64_t layer;
} block_ctx;

static const float *const *w_of(const tfx_trainer *t, const tfx_instance *inst)
{
    return (const float *const *)t->weights->data + inst->first;
}

static float *const *dw_of(const tfx_trainer *t, const tfx_instance *inst)
{
    return t->grads.data + inst->first;
}

static const tfx_layer *layer_of(const block_ctx *b)
{
    return &b->t->model->stacks[b->st->si].layers[b->layer];
}

/* Sublayer s's instance: 0 attention, 1 cross attention when there is one, else the FFN. */
static const tfx_instance *sublayer_of(const tfx_layer *l, int s, int *attn)
{
    *attn = s == 0 ? 0 : (s == 1 && l->cross_attn.comp) ? 1 : -1;
    return *attn == 0 ? &l->attn : *attn == 1 ? &l->cross_attn : &l->ffn;
}

static void keep(float *saved, const float *in, int64_t floats)
{
    if (saved != in)
        memcpy(saved, in, (size_t)floats * sizeof(float));
}

/* Sublayer s of the block's layer (as sublayer_of), or NULL with st set when the placement
 * names one the block does not have; `call` names the callback for the message. */
static const tfx_instance *called_sublayer(const block_ctx *b, int s, const char *call, int *attn,
                                           tfx_status *st)
{
    const train_layer *tl = &b->st->layers[b->layer];
    if (s < 0 || s >= tl->n_sub) {
        tfx_host_table()->fail(st, "the placement called %s %d of %d", call, s, tl->n_sub);
        return NULL;
    }
    return sublayer_of(layer_of(b), s, attn);
}

static int train_sublayer(void *ctx, int s, float *out, const float *in, tfx_status *st)
{
    block_ctx *b = ctx;
    tfx_trainer *t = b->t;
    train_layer *tl = &b->st->layers[b->layer];
    int64_t C = t->model->spec->d_model, T = b->st->T, S = t->shape.encoder_tokens;
    int a;
    const tfx_instance *inst = called_sublayer(b, s, "sublayer", &a, st);
    if (!inst)
        return -1;
    float *x = tl->saved[s]; /* [rows, C] */
    keep(x, in, b->st->rows * C);
    if (a < 0)
        return plugin_of(inst)->ffn->forward(inst->state, w_of(t, inst), out, x, b->st->rows,
                                             tl->ffn_ws, st);
    for (int64_t q = 0; q < t->shape.batch; q++) {
        tfx_attn_io *io = &tl->io[a][q];
        io->size = sizeof *io, io->out = out + q * T * C, io->x = x + q * T * C, io->T = T;
        io->pos = b->st->pos, io->n_past = 0;
        io->memory = a ? t->stacks[0].x + q * S * C : NULL;
        io->memory_len = a ? S : 0, io->memory_fresh = a;
        io->position = a ? NULL : &b->st->hooks;
        if (plugin_of(inst)->attention->forward(inst->state, w_of(t, inst), io, st))
            return -1;
    }
    return 0;
}

/* Norm i of the block's layer; *input is where its forward's input is kept for backward. */
static const tfx_instance *norm_of(const block_ctx *b, int i, float **input)
{
    const train_layer *tl = &b->st->layers[b->layer];
    *input = tl->saved[tl->n_sub + i];
    return &layer_of(b)->norms[i];
}

static void train_norm(void *ctx, int i, float *out, const float *in)
{
    block_ctx *b = ctx;
    float *x;
    const tfx_instance *n = norm_of(b, i, &x);
    keep(x, in, b->st->rows * b->t->model->spec->d_model);
    plugin_of(n)->norm->forward(n->state, w_of(b->t, n), out, x, b->st->rows);
}

static int check_tokens(const tfx_model *m, const int32_t *tokens, int64_t n, tfx_error *err)
{
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->spec->vocab)
            return tfx_fail(err, "token id %" PRId32 " (token %" PRId64 ") is outside the vocabulary of %" PRId64,
                            tokens[i], i, m->spec->vocab);
    return 0;
}

static float embed_scale(const tfx_model *m)
{
    return m->spec->embed_scale ? sqrtf((float)m->spec->d_model) : 1.0f;
}

/* x[rows, C] = scaled token embeddings (+ token type 0) + positions, then embed_norm. */
static int embed(tfx_trainer *t, train_stack *st, tfx_error *err)
{
    const tfx_model *m = t->model;
    const tfx_stack *stk = &m->stacks[st->si];
    int64_t C = m->spec->d_model;
    const float *table = t->weights->data[m->tok_embed]; /* [V, C] */
    float scale = embed_scale(m);
    for (int64_t r = 0; r < st->rows; r++) {
        const float *row = table + (int64_t)st->tokens[r] * C;
        float *x = st->x + r * C;
        for (int64_t c = 0; c < C; c++)
            x[c] = row[c] * scale;
        for (int64_t c = 0; m->token_types >= 0 && c < C; c++)
            x[c] += t->weights->data[m->token_types][c];
    }
    const tfx_position_ops *pos = plugin_of(&stk->position)->position;
    tfx_status s = {{0}};
    if (pos->embed && pos->embed(stk->position.state, w_of(t, &stk->position), st->x, st->rows,
                                 st->pos, &s))
        return tfx_fail(err, "position plugin '%s': %s", plugin_of(&stk->position)->name, s.msg);
    if (stk->embed_norm.comp) {
        keep(st->embed_in, st->x, st->rows * C);
        plugin_of(&stk->embed_norm)->norm->forward(stk->embed_norm.state, w_of(t, &stk->embed_norm),
                                                   st->x, st->embed_in, st->rows);
    }
    return 0;
}

static void set_hooks(tfx_trainer *t, train_stack *st)
{
    const tfx_instance *p = &t->model->stacks[st->si].position;
    const tfx_position_ops *pos = plugin_of(p)->position;
    st->hooks = (tfx_position_hooks){.state = p->state, .w = w_of(t, p), .rotate = pos->rotate,
                                     .score_bias = pos->score_bias};
    /* The model was built for training: each hook present has its twin within ops->size. */
    st->grad_hooks = (tfx_position_grad_hooks){
        .size = sizeof st->grad_hooks, .state = p->state, .w = w_of(t, p), .dw = dw_of(t, p),
        .rotate_backward = pos->rotate ? pos->rotate_backward : NULL,
        .score_bias_backward = pos->score_bias ? pos->score_bias_backward : NULL};
}

static int forward_stack(tfx_trainer *t, train_stack *st, const int32_t *tokens, tfx_error *err)
{
    const tfx_model *m = t->model;
    const tfx_stack *stk = &m->stacks[st->si];
    int64_t C = m->spec->d_model;
    if (check_tokens(m, tokens, st->rows, err))
        return -1;
    memcpy(st->tokens, tokens, (size_t)st->rows * sizeof *tokens);
    for (int64_t r = 0; r < st->rows; r++)
        st->pos[r] = (int32_t)(r % st->T);
    set_hooks(t, st);
    if (embed(t, st, err))
        return -1;
    block_ctx b = {.t = t, .st = st};
    tfx_block_io io = {.size = sizeof io, .x = st->x, .T = st->rows, .C = C, .ctx = &b,
                       .sublayer = train_sublayer, .norm = train_norm,
                       .scratch = {t->scratch[0], t->scratch[1], t->scratch[2]}};
    const tfx_placement_ops *place = plugin_of(&stk->placement)->placement;
    for (int64_t i = 0; i < stk->spec->layers; i++) {
        tfx_status s = {{0}};
        b.layer = i;
        if (place->forward(stk->placement.state, &io, &s))
            return tfx_fail(err, "%s layer %" PRId64 ": %s", stk->spec->name, i, s.msg);
    }
    if (stk->final_norm.comp) {
        keep(st->final_in, st->x, st->rows * C);
        plugin_of(&stk->final_norm)->norm->forward(stk->final_norm.state, w_of(t, &stk->final_norm),
                                                   st->x, st->final_in, st->rows);
    }
    return 0;
}

/* Mean cross-entropy of logits[b, t] against tokens[b, t+1] over t < T−1; with `grad`, the
 * logits become d loss / d logits (the last row of each sequence 0). */
static double next_token_loss(tfx_trainer *t, const int32_t *tokens, bool grad)
{
    int64_t B = t->shape.batch, T = t->shape.tokens, V = t->model->spec->vocab;
    const double cap = t->model->spec->final_logit_softcap;
    double total = 0, n = (double)(B * (T - 1));
    for (int64_t r = 0; r < B * T; r++) {
        float *z = t->logits + r * V; /* [V] */
        if (r % T == T - 1) {
            if (grad)
                memset(z, 0, (size_t)V * sizeof *z);
            continue;
        }
        float max = z[0];
        for (int64_t v = 1; v < V; v++)
            max = z[v] > max ? z[v] : max;
        double sum = 0;
        for (int64_t v = 0; v < V; v++)
            sum += exp((double)(z[v] - max));
        int32_t target = tokens[r + 1];
        total += log(sum) - (double)(z[target] - max);
        if (!grad)
            continue;
        for (int64_t v = 0; v < V; v++) {
            double g = exp((double)(z[v] - max)) / sum / n - (v == target ? 1.0 / n : 0.0);
            /* soft-capped logits c = cap·tanh(z/cap): dc/dz = 1 − (c/cap)² */
            double c = cap > 0 ? (double)z[v] / cap : 0.0;
            z[v] = (float)(g * (1.0 - c * c));
        }
    }
    return total / n;
}

static int forward(tfx_trainer *t, const int32_t *tokens, const int32_t *encoder, double *loss,
                   bool grad, tfx_error *err)
{
    const tfx_model *m = t->model;
    if (m->spec->kind == TFX_MODEL_ENCODER_DECODER &&
        forward_stack(t, &t->stacks[0], encoder, err))
        return -1;
    train_stack *dec = &t->stacks[m->n_stacks - 1];
    if (forward_stack(t, dec, tokens, err))
        return -1;
    tfx_lm_head(m, t->weights->data, t->logits, dec->x, dec->rows);
    tfx_cap_logits(t->logits, dec->rows * m->spec->vocab, m->spec->final_logit_softcap);
    if (t->mm)
        t->plan.bf16_copies = tfx_mm_weight_bytes(t->mm);
    *loss = next_token_loss(t, tokens, grad);
    if (!isfinite(*loss))
        return tfx_fail(err, "the loss is not finite (%g)", *loss);
    return 0;
}

int tfx_trainer_loss(tfx_trainer *t, const int32_t *tokens, const int32_t *encoder,
                     double *loss, tfx_error *err)
{
    return forward(t, tokens, encoder, loss, false, err);
}

/* ---- backward ----------------------------------------------------------------------------- */

static int train_sublayer_backward(void *ctx, int s, float *d_in, const float *d_out,
                                   tfx_status *st)
{
    block_ctx *b = ctx;
    tfx_trainer *t = b->t;
    train_layer *tl = &b->st->layers[b->layer];
    int64_t C = t->model->spec->d_model, T = b->st->T, S = t->shape.encoder_tokens;
    int a;
    const tfx_instance *inst = called_sublayer(b, s, "sublayer_backward", &a, st);
    if (!inst)
        return -1;
    if (a < 0)
        return plugin_of(inst)->ffn->backward(inst->state, w_of(t, inst), dw_of(t, inst), d_in,
                                              d_out, tl->saved[s], b->st->rows, tl->ffn_ws,
                                              t->bwd_workspace, st);
    for (int64_t q = 0; q < t->shape.batch; q++) {
        tfx_attn_grad g = {.size = sizeof g, .dout = d_out + q * T * C, .dx = d_in + q * T * C,
                           .dmemory = a ? t->dmemory + q * S * C : NULL, .dw = dw_of(t, inst),
                           .workspace = t->bwd_workspace,
                           .position = a ? NULL : &b->st->grad_hooks};
        if (plugin_of(inst)->attention->backward(inst->state, w_of(t, inst), &tl->io[a][q], &g, st))
            return -1;
    }
    return 0;
}

static void train_norm_backward(void *ctx, int i, float *d_in, const float *d_out)
{
    block_ctx *b = ctx;
    float *x;
    const tfx_instance *n = norm_of(b, i, &x);
    plugin_of(n)->norm->backward(n->state, w_of(b->t, n), dw_of(b->t, n), d_in, d_out, x,
                                 b->st->rows);
}

/* The gradient of the token table (and type 0) from dx [rows, C], the embeddings' gradient. */
static void embed_backward(tfx_trainer *t, const train_stack *st)
{
    const tfx_model *m = t->model;
    int64_t C = m->spec->d_model;
    float scale = embed_scale(m);
    float *dtable = t->grads.data[m->tok_embed]; /* [V, C] */
    for (int64_t r = 0; r < st->rows; r++) {
        float *d = dtable + (int64_t)st->tokens[r] * C;
        const float *g = t->dx + r * C;
        for (int64_t c = 0; c < C; c++)
            d[c] += g[c] * scale;
        for (int64_t c = 0; m->token_types >= 0 && c < C; c++)
            t->grads.data[m->token_types][c] += g[c];
    }
}

/* t->dx [rows, C] holds d loss / d (stack output); run it back to the embeddings. */
static int backward_stack(tfx_trainer *t, train_stack *st, tfx_error *err)
{
    const tfx_model *m = t->model;
    const tfx_stack *stk = &m->stacks[st->si];
    if (stk->final_norm.comp)
        plugin_of(&stk->final_norm)->norm->backward(stk->final_norm.state, w_of(t, &stk->final_norm),
                                                    dw_of(t, &stk->final_norm), t->dx, t->dx,
                                                    st->final_in, st->rows);
    block_ctx b = {.t = t, .st = st};
    tfx_block_grad_io io = {.size = sizeof io, .dx = t->dx, .T = st->rows, .C = m->spec->d_model,
                            .ctx = &b, .sublayer_backward = train_sublayer_backward,
                            .norm_backward = train_norm_backward,
                            .scratch = {t->gscratch[0], t->gscratch[1], t->gscratch[2]}};
    const tfx_placement_ops *place = plugin_of(&stk->placement)->placement;
    for (int64_t i = stk->spec->layers - 1; i >= 0; i--) {
        tfx_status s = {{0}};
        b.layer = i;
        if (place->backward(stk->placement.state, &io, &s))
            return tfx_fail(err, "%s layer %" PRId64 " backward: %s", stk->spec->name, i, s.msg);
    }
    if (stk->embed_norm.comp)
        plugin_of(&stk->embed_norm)->norm->backward(stk->embed_norm.state, w_of(t, &stk->embed_norm),
                                                    dw_of(t, &stk->embed_norm), t->dx, t->dx,
                                                    st->embed_in, st->rows);
    const tfx_position_ops *pos = plugin_of(&stk->position)->position;
    tfx_status s = {{0}};
    if (pos->embed && pos->embed_backward(stk->position.state, w_of(t, &stk->position),
                                          dw_of(t, &stk->position), t->dx, st->rows, st->pos, &s))
        return tfx_fail(err, "position plugin '%s' backward: %s", plugin_of(&stk->position)->name, s.msg);
    embed_backward(t, st);
    return 0;
}

int tfx_trainer_grad(tfx_trainer *t, const int32_t *tokens, const int32_t *encoder,
                     double *loss, tfx_error *err)
{
    memset(t->grads.arena, 0, t->grads.floats * sizeof(float));
    return tfx_trainer_grad_add(t, tokens, encoder, loss, err);
}

int tfx_trainer_grad_add(tfx_trainer *t, const int32_t *tokens, const int32_t *encoder,
                         double *loss, tfx_error *err)
{
    const tfx_model *m = t->model;
    int64_t C = m->spec->d_model;
    if (forward(t, tokens, encoder, loss, true, err))
        return -1;
    train_stack *dec = &t->stacks[m->n_stacks - 1];
    /* logits = x · Wᵀ: dx = dlogits · W, dW += dlogitsᵀ · x (a tied W sums into the table). */
    const bool trained_bias = m->lm_head_bias >= 0 && m->tensors[m->lm_head_bias].role == TFX_ROLE_PARAM;
    const int64_t V = m->spec->vocab, n = dec->rows * V;
    const float s = (float)m->spec->lm_head_scale;
    float *dbias = trained_bias ? t->grads.data[m->lm_head_bias] : NULL;
    if (s != 1.0f) { /* logits = s·(x·Wᵀ) + b: the bias sees dlogits, x and W see s·dlogits */
        for (int64_t r = 0; dbias && r < dec->rows; r++)
            for (int64_t v = 0; v < V; v++)
                dbias[v] += t->logits[r * V + v];
        for (int64_t i = 0; i < n; i++)
            t->logits[i] *= s;
        dbias = NULL;
    }
    tfx_host_table()->linear_backward(t->dx, t->grads.data[m->lm_head], dbias, t->logits, dec->x,
                                      t->weights->data[m->lm_head], dec->rows, C,
                                      m->spec->vocab, 0.0f);
    bool seq2seq = m->spec->kind == TFX_MODEL_ENCODER_DECODER;
    if (seq2seq)
        memset(t->dmemory, 0, (size_t)(t->stacks[0].rows * C) * sizeof(float));
    if (backward_stack(t, dec, err))
        return -1;
    if (!seq2seq)
        return 0;
    memcpy(t->dx, t->dmemory, (size_t)(t->stacks[0].rows * C) * sizeof(float));
    return backward_stack(t, &t->stacks[0], err);
}

/* ---- AdamW -------------------------------------------------------------------------------- */

int tfx_trainer_adamw(tfx_trainer *t, const tfx_adamw *h, tfx_error *err)
{
    const tfx_model *m = t->model;
    t->step++;
    double c1 = 1.0 - pow(h->beta1, (double)t->step), c2 = 1.0 - pow(h->beta2, (double)t->step);
    float step = (float)(h->lr / c1), root_c2 = (float)sqrt(c2);
    float b1 = (float)h->beta1, b2 = (float)h->beta2, eps = (float)h->eps;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tfx_tensor *tn = &m->tensors[i];
        if (tn->tied_to >= 0 || tn->role != TFX_ROLE_PARAM) /* frozen tensors and buffers stay */
            continue;
        float *p = t->weights->data[i], *g = t->grads.data[i];
        float *m1 = t->moment1.data[i], *m2 = t->moment2.data[i]; /* [numel] each */
        float decay = tn->rank >= 2 ? (float)(1.0 - h->lr * h->weight_decay) : 1.0f;
        for (int64_t k = 0; k < tn->numel; k++) {
            p[k] *= decay;
            m1[k] = b1 * m1[k] + (1.0f - b1) * g[k];
            m2[k] = b2 * m2[k] + (1.0f - b2) * g[k] * g[k];
            p[k] -= step * m1[k] / (sqrtf(m2[k]) / root_c2 + eps);
        }
    }
    return t->mm ? tfx_mm_refresh_weights(t->mm, err) : 0;
}

/* ---- the conventions of nanoGPT and llm.c --------------------------------------------------- */

double tfx_train_grad_norm(const tfx_trainer *t)
{
    const tfx_model *m = t->model;
    double sum = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        if (m->tensors[i].tied_to >= 0)
            continue;
        const float *g = t->grads.data[i]; /* [numel] */
        for (int64_t k = 0; k < m->tensors[i].numel; k++)
            sum += (double)g[k] * (double)g[k];
    }
    return sqrt(sum);
}

void tfx_train_scale_grads(tfx_trainer *t, float factor)
{
    const tfx_model *m = t->model;
    for (size_t i = 0; i < m->n_tensors; i++) {
        if (m->tensors[i].tied_to >= 0)
            continue;
        float *g = t->grads.data[i];
        for (int64_t k = 0; k < m->tensors[i].numel; k++)
            g[k] *= factor;
    }
}

double tfx_train_lr(const tfx_schedule *s, int64_t step)
{
    if (step < s->warmup)
        return s->lr * (double)(step + 1) / (double)s->warmup;
    if (step >= s->steps || s->steps <= s->warmup)
        return s->min_lr;
    double ratio = (double)(step - s->warmup) / (double)(s->steps - s->warmup);
    return s->min_lr + 0.5 * (1.0 + cos(M_PI * ratio)) * (s->lr - s->min_lr);
}

/* The matrix through which a sublayer writes into the residual: the last rank-2 tensor it
 * declares whose rows are d_model (mha's o, mlp's and glu's down), or -1. */
static int64_t residual_projection(const tfx_model *m, const tfx_instance *inst)
{
    for (size_t k = inst->n; inst->comp && k-- > 0;) {
        const tfx_tensor *tn = &m->tensors[inst->first + k];
        if (tn->rank == 2 && tn->shape[0] == m->spec->d_model && tn->init == TFX_INIT_NORMAL &&
            tn->tied_to < 0)
            return (int64_t)(inst->first + k);
    }
    return -1;
}

void tfx_train_scale_residual_init(const tfx_model *m, tfx_weights *w)
{
    for (int si = 0; si < m->n_stacks; si++) {
        const tfx_stack *stk = &m->stacks[si];
        float scale = (float)(1.0 / sqrt(2.0 * (double)(stk->spec->layers ? stk->spec->layers : 1)));
        for (int64_t l = 0; l < stk->spec->layers; l++) {
            const tfx_instance *subs[3] = {&stk->layers[l].attn, &stk->layers[l].cross_attn,
                                           &stk->layers[l].ffn};
            for (int k = 0; k < 3; k++) {
                int64_t i = residual_projection(m, subs[k]);
                for (int64_t e = 0; i >= 0 && e < m->tensors[i].numel; e++)
                    w->data[i][e] *= scale;
            }
        }
    }
}
