/* core/checkpoint.c — fills the weights from a safetensors checkpoint through the recipe's
 * tensor-name map (templates over {layer}, transposes, splits of fused projections). */
#include "checkpoint.h"

#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "safetensors.h"
#include "text.h"

#define LAYER_TOKEN "{layer}"

/* One `checkpoint.tensors` entry: which recipe tensors it fills and from where. */
typedef struct map_entry {
    const char *target;           /* recipe tensor name, may hold {layer} */
    const char *from;             /* file tensor name, may hold {layer} */
    bool transpose;
    int64_t split, part, groups;
    tfx_mark mark;
} map_entry;

/* A template split at its {layer}, sorted so that a name finds its templates by binary
 * search: matching every tensor against every entry cost tensors × entries (10^6 × 10^4 for
 * a hostile map), now tensors × digits × log entries. */
typedef struct tmpl_key {
    const char *prefix, *suffix;  /* suffix NULL: a plain name (prefix is all of it) */
    size_t prefix_len;
    size_t order;                 /* the template's place in the recipe's list */
} tmpl_key;

typedef struct tmpl_index {
    tmpl_key *keys;               /* [n], sorted by key_cmp */
    size_t n;
} tmpl_index;

typedef struct ckpt_map {
    map_entry *entries;
    size_t n;
    tmpl_index targets;           /* over entries[].target */
    tmpl_index ignore;            /* over checkpoint.ignore's names */
} ckpt_map;

/* ---- templates ---------------------------------------------------------------------------- */

static int key_cmp(const void *pa, const void *pb)
{
    const tmpl_key *a = pa, *b = pb;
    size_t n = a->prefix_len < b->prefix_len ? a->prefix_len : b->prefix_len;
    int c = memcmp(a->prefix, b->prefix, n);
    if (c || a->prefix_len != b->prefix_len)
        return c ? c : a->prefix_len < b->prefix_len ? -1 : 1;
    if (!a->suffix || !b->suffix)
        return (a->suffix != NULL) - (b->suffix != NULL);
    return strcmp(a->suffix, b->suffix);
}

/* Index n templates (texts[i], in recipe order). Returns 0, or -1 when out of memory. */
static int index_build(tmpl_index *ix, const char *const *texts, size_t n)
{
    ix->n = 0;
    if (!(ix->keys = calloc(n + 1, sizeof *ix->keys)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!texts[i])
            continue;
        const char *tok = strstr(texts[i], LAYER_TOKEN);
        ix->keys[ix->n++] = (tmpl_key){.prefix = texts[i], .order = i,
                                       .prefix_len = tok ? (size_t)(tok - texts[i]) : strlen(texts[i]),
                                       .suffix = tok ? tok + strlen(LAYER_TOKEN) : NULL};
    }
    qsort(ix->keys, ix->n, sizeof *ix->keys, key_cmp);
    return 0;
}

/* The first template (in recipe order) that `name` matches as template_match() would, or -1;
 * *layer is its {layer} value (-1 for a plain name). Looks up the plain name, then each digit
 * of the name as where {layer} could stand. */
static int64_t index_find(const tmpl_index *ix, const char *name, int64_t *layer)
{
    int64_t best = -1;
    *layer = -1;
    tmpl_key probe = {.prefix = name, .prefix_len = strlen(name)};
    const tmpl_key *k = ix->n ? bsearch(&probe, ix->keys, ix->n, sizeof probe, key_cmp) : NULL;
    if (k)
        best = (int64_t)k->order;
    for (const char *d = name; *d && ix->n; d++) {
        const char *end = d;
        int64_t value = 0;
        while (*end >= '0' && *end <= '9' && end - d < 9)
            value = value * 10 + (*end++ - '0');
        if (end == d || (end - d > 1 && *d == '0'))
            continue;
        probe = (tmpl_key){.prefix = name, .prefix_len = (size_t)(d - name), .suffix = end};
        k = bsearch(&probe, ix->keys, ix->n, sizeof probe, key_cmp);
        if (k && (best < 0 || (int64_t)k->order < best))
            best = (int64_t)k->order, *layer = value;
    }
    return best;
}

/* The template with its layer token replaced; -1 when it does not fit in out[cap]. */
static int template_fill(char *out, size_t cap, const char *tmpl, int64_t layer)
{
    const char *tok = strstr(tmpl, LAYER_TOKEN);
    if (!tok || layer < 0)
        return tfx_text(out, cap, "%s", tmpl);
    if (tok - tmpl > INT_MAX)
        return -1;
    return tfx_text(out, cap, "%.*s%" PRId64 "%s", (int)(tok - tmpl), tmpl, layer,
                    tok + strlen(LAYER_TOKEN));
}

/* ---- reading the map from the recipe ------------------------------------------------------ */

static int read_int_key(const tfx_node *map, const char *key, int64_t def, int64_t lo,
                        int64_t *out, tfx_error *err)
{
    const tfx_node *n = tfx_node_get(map, key);
    *out = def;
    if (!n)
        return 0;
    if (tfx_node_int(n, key, out, err))
        return -1;
    if (*out < lo)
        return tfx_fail_at(err, n->mark, "'%s' must be at least %" PRId64, key, lo);
    return 0;
}

/* `groups` may name a dimension of the model instead of a number. */
static int read_groups(const tfx_node *map, const tfx_spec *spec, int64_t *out, tfx_error *err)
{
    const tfx_node *n = tfx_node_get(map, "groups");
    if (n && n->type == TFX_NODE_SCALAR && strcmp(n->text, "heads") == 0) {
        *out = spec->heads;
        return 0;
    }
    if (n && n->type == TFX_NODE_SCALAR && strcmp(n->text, "kv_heads") == 0) {
        *out = spec->kv_heads;
        return 0;
    }
    return read_int_key(map, "groups", 1, 1, out, err);
}

static int parse_entry(const tfx_node *tensors, size_t i, const tfx_spec *spec, map_entry *e,
                       tfx_error *err)
{
    const tfx_node *v = tensors->values[i];
    e->target = tensors->keys[i];
    e->mark = tensors->key_marks[i];
    e->split = e->groups = 1;
    if (v->type == TFX_NODE_SCALAR)
        return tfx_node_string(v, e->target, &e->from, err);
    if (v->type != TFX_NODE_MAP)
        return tfx_fail_at(err, v->mark, "checkpoint source of '%s' must be a name or a map (from, transpose, split, part, groups)",
                           e->target);
    static const char *const keys[] = {"from", "transpose", "split", "part", "groups"};
    for (size_t k = 0; k < v->n; k++) {
        size_t j = 0;
        while (j < 5 && strcmp(v->keys[k], keys[j]) != 0)
            j++;
        if (j == 5) {
            const char *hint = tfx_suggest(v->keys[k], keys, 5);
            return tfx_fail_at(err, v->key_marks[k], "unknown key '%s' in a checkpoint source%s%s%s",
                               v->keys[k], hint ? " (did you mean '" : "", hint ? hint : "",
                               hint ? "'?)" : "");
        }
    }
    const tfx_node *from = tfx_node_get(v, "from");
    if (!from)
        return tfx_fail_at(err, v->mark, "checkpoint source of '%s' needs 'from'", e->target);
    if (tfx_node_string(from, "from", &e->from, err))
        return -1;
    const tfx_node *tr = tfx_node_get(v, "transpose");
    if (tr && tfx_node_bool(tr, "transpose", &e->transpose, err))
        return -1;
    if (read_int_key(v, "split", 1, 1, &e->split, err) ||
        read_int_key(v, "part", 0, 0, &e->part, err) || read_groups(v, spec, &e->groups, err))
        return -1;
    if (e->part >= e->split)
        return tfx_fail_at(err, tfx_node_get(v, "part")->mark, "'part' must be below 'split' (%" PRId64 ")",
                           e->split);
    int64_t parts;
    if (tfx_mul_overflows(e->split, e->groups, &parts))
        return tfx_fail_at(err, v->mark, "checkpoint source of '%s': 'groups' x 'split' (%" PRId64 " x %" PRId64 ") overflows 64 bits",
                           e->target, e->groups, e->split);
    return 0;
}

static int read_map(const tfx_node *ckpt, const tfx_spec *spec, ckpt_map *map, tfx_error *err)
{
    memset(map, 0, sizeof *map);
    static const char *const keys[] = {"file", "tensors", "ignore"};
    for (size_t k = 0; k < ckpt->n; k++) {
        size_t j = 0;
        while (j < 3 && strcmp(ckpt->keys[k], keys[j]) != 0)
            j++;
        if (j == 3)
            return tfx_fail_at(err, ckpt->key_marks[k], "unknown key '%s' in 'checkpoint' (file, tensors, ignore)",
                               ckpt->keys[k]);
    }
    const tfx_node *tensors = tfx_node_get(ckpt, "tensors");
    if (!tensors || tensors->type != TFX_NODE_MAP)
        return tfx_fail_at(err, ckpt->mark, "'checkpoint.tensors' must map recipe tensor names to checkpoint tensor names");
    const tfx_node *ignore = tfx_node_get(ckpt, "ignore");
    if (ignore && ignore->type != TFX_NODE_SEQ)
        return tfx_fail_at(err, ignore->mark, "'checkpoint.ignore' must be a list of tensor names");
    map->entries = calloc(tensors->n + 1, sizeof *map->entries);
    if (!map->entries)
        return tfx_fail(err, "out of memory");
    map->n = tensors->n;
    for (size_t i = 0; i < tensors->n; i++)
        if (parse_entry(tensors, i, spec, &map->entries[i], err))
            return -1;
    size_t n_ignore = ignore ? ignore->n : 0;
    const char **names = calloc(n_ignore + 1, sizeof *names);
    if (!names)
        return tfx_fail(err, "out of memory");
    for (size_t i = 0; i < n_ignore; i++)
        names[i] = ignore->values[i]->type == TFX_NODE_SCALAR ? ignore->values[i]->text : NULL;
    int rc = index_build(&map->ignore, names, n_ignore);
    free(names);
    if (rc || !(names = calloc(map->n + 1, sizeof *names)))
        return tfx_fail(err, "out of memory");
    for (size_t i = 0; i < map->n; i++)
        names[i] = map->entries[i].target;
    rc = index_build(&map->targets, names, map->n);
    free(names);
    return rc ? tfx_fail(err, "out of memory") : 0;
}

static void map_free(ckpt_map *map)
{
    free(map->entries);
    free(map->targets.keys);
    free(map->ignore.keys);
}

/* ---- copying one tensor ------------------------------------------------------------------- */

/* The shape the entry makes of the file tensor: transposed, then dimension 0 split. */
static int source_shape(const map_entry *e, const tfx_st_tensor *src, int64_t *shape, int *rank,
                        const char *file, tfx_error *err)
{
    *rank = src->rank;
    memcpy(shape, src->shape, sizeof src->shape);
    if (e->transpose) {
        if (src->rank != 2)
            return tfx_fail(err, "%s: tensor '%s' has rank %d; only 2-D tensors can be transposed",
                            file, src->name, src->rank);
        shape[0] = src->shape[1];
        shape[1] = src->shape[0];
    }
    int64_t parts;
    if (tfx_mul_overflows(e->split, e->groups, &parts))
        return tfx_fail(err, "%s: tensor '%s': %" PRId64 " x %" PRId64 " parts overflow 64 bits", file,
                        src->name, e->groups, e->split);
    if (parts > 1) {
        if (*rank < 1 || shape[0] < parts || shape[0] % parts != 0)
            return tfx_fail(err, "%s: tensor '%s' cannot be split into %" PRId64 " x %" PRId64 " parts along its first dimension",
                            file, src->name, e->groups, e->split);
        shape[0] /= e->split;
    }
    return 0;
}

static int copy_rows(const map_entry *e, const tfx_st_tensor *src, const int64_t *shape, int rank,
                     float *dst, float **tmp, size_t *tmp_cap, tfx_error *err)
{
    int64_t row_len = 1;
    for (int i = 1; i < rank; i++)
        if (tfx_mul_overflows(row_len, shape[i], &row_len))
            return tfx_fail(err, "tensor '%s': its row length overflows 64 bits", src->name);
    int64_t rows = rank ? shape[0] : 1;
    int64_t per_group = rows / e->groups;   /* rows of one group's part */
    int64_t src_row_len = e->transpose ? src->shape[1] : row_len;
    const float *whole = NULL;
    if (e->transpose) {
        size_t need = (size_t)src->numel;
        if (need > *tmp_cap) {
            float *grown = realloc(*tmp, need * sizeof(float));
            if (!grown)
                return tfx_fail(err, "out of memory reading '%s'", src->name);
            *tmp = grown;
            *tmp_cap = need;
        }
        if (tfx_st_read_f32(src, 0, src->numel, *tmp, err))
            return -1;
        whole = *tmp;
    }
    for (int64_t g = 0; g < e->groups; g++) {
        for (int64_t k = 0; k < per_group; k++) {
            int64_t s = g * e->split * per_group + e->part * per_group + k;
            float *out = dst + (g * per_group + k) * row_len;
            if (!whole) {
                if (tfx_st_read_f32(src, s * src_row_len, row_len, out, err))
                    return -1;
                continue;
            }
            /* Row s of the transposed matrix is column s of the file's [a, b] tensor. */
            for (int64_t j = 0; j < row_len; j++)
                out[j] = whole[j * src_row_len + s];
        }
    }
    return 0;
}

static int check_finite(const float *x, int64_t n, const char *file, const char *src,
                        const char *target, tfx_error *err)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return tfx_fail(err, "%s: tensor '%s' (for '%s') holds %s at element %" PRId64, file,
                            src, target, isnan(x[i]) ? "NaN" : "Inf", i);
    return 0;
}

/* ---- the whole load ----------------------------------------------------------------------- */

static bool ignored(const ckpt_map *map, const char *name)
{
    int64_t layer;
    return index_find(&map->ignore, name, &layer) >= 0;
}

/* A tensor stored as the recipe wants it (F32, little-endian, no transpose or split, aligned):
 * the weights can point into the mapped file instead of holding a copy. */
static bool usable_in_place(const map_entry *e, const tfx_st_tensor *src)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return src->dtype == TFX_DTYPE_F32 && !e->transpose && e->split == 1 && e->groups == 1 &&
           (uintptr_t)src->data % _Alignof(float) == 0;
#else
    return false;
#endif
}

/* Load tensor ti: into dst, or, when usable in place, by setting *in_place to its data in the
 * mapping. Either way every value is checked finite. */
static int load_tensor(const tfx_model *m, size_t ti, const ckpt_map *map, const tfx_st_file *f,
                       const char *file, bool *used, float *dst, const float **in_place,
                       float **tmp, size_t *tmp_cap, tfx_error *err)
{
    *in_place = NULL;
    const tfx_tensor *t = &m->tensors[ti];
    int64_t layer, found = index_find(&map->targets, t->name, &layer);
    const map_entry *e = found >= 0 ? &map->entries[found] : NULL;
    if (!e)
        return tfx_fail(err, "recipe tensor '%s' has no entry in checkpoint.tensors", t->name);
    char src_name[512];
    if (template_fill(src_name, sizeof src_name, e->from, layer) < 0)
        return tfx_fail(err, "checkpoint.tensors: the name for recipe tensor '%s' is longer than %zu bytes",
                        t->name, sizeof src_name - 1);
    const tfx_st_tensor *src = tfx_st_find(f, src_name);
    if (!src)
        return tfx_fail(err, "%s has no tensor '%s' (for recipe tensor '%s')", file, src_name, t->name);
    used[src - f->tensors] = true;
    int64_t shape[TFX_ST_MAX_RANK];
    int rank;
    if (source_shape(e, src, shape, &rank, file, err))
        return -1;
    bool same = rank == t->rank;
    for (int i = 0; same && i < rank; i++)
        same = shape[i] == t->shape[i];
    if (!same) {
        char have[128], want[128], raw[128];
        tfx_shape_text(have, sizeof have, shape, rank);
        tfx_shape_text(want, sizeof want, t->shape, t->rank);
        tfx_shape_text(raw, sizeof raw, src->shape, src->rank);
        if (!e->transpose && e->split == 1)
            return tfx_fail(err, "%s: tensor '%s' is %s, but recipe tensor '%s' is %s", file,
                            src_name, raw, t->name, want);
        return tfx_fail(err, "%s: tensor '%s' %s%s%s gives %s, but recipe tensor '%s' is %s", file,
                        src_name, raw, e->transpose ? " transposed" : "",
                        e->split > 1 ? " and split" : "", have, t->name, want);
    }
    if (usable_in_place(e, src)) {
        *in_place = src->data;
        return check_finite(src->data, t->numel, file, src_name, t->name, err);
    }
    if (copy_rows(e, src, shape, rank, dst, tmp, tmp_cap, err))
        return tfx_error_prefix(err, "%s", file);
    tfx_st_release(src); /* copied: its file pages need not stay resident */
    return check_finite(dst, t->numel, file, src_name, t->name, err);
}

int tfx_checkpoint_path(const tfx_spec *spec, char *out, size_t cap, tfx_error *err)
{
    const tfx_node *file = spec->checkpoint ? tfx_node_get(spec->checkpoint, "file") : NULL;
    if (!file)
        return tfx_fail(err, "no checkpoint: the recipe has no 'checkpoint.file' and no --checkpoint was given");
    const char *name;
    if (tfx_node_string(file, "file", &name, err))
        return -1;
    char dir[4096];
    int n;
    if (name[0] == '/' || file->mark.line == 0) /* absolute, or from the command line */
        n = tfx_text(out, cap, "%s", name);
    else /* relative to the recipe file that wrote it */
        n = tfx_text(dir, sizeof dir, "%s", file->mark.file) < 0
                ? -1 : tfx_text(out, cap, "%s/%s", dirname(dir), name);
    if (n < 0)
        return tfx_fail(err, "%s:%d:%d: 'checkpoint.file': path longer than %zu bytes", file->mark.file,
                        file->mark.line, file->mark.col, cap - 1);
    return 0;
}

int tfx_checkpoint_check_map(const tfx_spec *spec, tfx_error *err)
{
    ckpt_map map = {0};
    int rc = spec->checkpoint ? read_map(spec->checkpoint, spec, &map, err) : 0;
    map_free(&map);
    return rc;
}

int tfx_checkpoint_load(tfx_weights *w, const tfx_model *m, const char *path,
                        tfx_progress_fn progress, void *progress_ctx, tfx_error *err)
{
    const tfx_spec *spec = m->spec;
    if (!spec->checkpoint)
        return tfx_fail(err, "%s: the recipe has no 'checkpoint' map to read it with", path);
    ckpt_map map = {0};
    float *tmp = NULL;
    size_t tmp_cap = 0;
    bool *used = NULL;
    int rc = -1;
    tfx_st_file *f = NULL;
    tfx_weights_use_arena(w, m); /* copies must land in the arena, not an earlier mapping */
    if (read_map(spec->checkpoint, spec, &map, err))
        goto out;
    if (!(f = tfx_st_open(path, err)))
        goto out;
    if (!(used = calloc(f->n + 1, sizeof *used))) {
        tfx_fail(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m->n_tensors; i++) {
        const float *in_place = NULL;
        if (m->tensors[i].tied_to < 0 &&
            load_tensor(m, i, &map, f, path, used, w->data[i], &in_place, &tmp, &tmp_cap, err))
            goto out;
        if (in_place) {
            /* The weights own the mapping from here; their arena slot stays untouched (and
             * so never resident). */
            w->checkpoint = f;
            w->data[i] = (float *)in_place;
            w->mapped_tensors++;
        }
        if (progress)
            progress(progress_ctx, i + 1, m->n_tensors);
    }
    tfx_weights_tie(w, m);
    for (size_t i = 0; i < f->n; i++)
        if (!used[i] && !ignored(&map, f->tensors[i].name)) {
            tfx_fail(err, "%s: tensor '%s' is not used by the recipe's checkpoint map (map it under checkpoint.tensors or list it under checkpoint.ignore)",
                     path, f->tensors[i].name);
            goto out;
        }
    rc = 0;
out:
    if (f != w->checkpoint)
        tfx_st_close(f);
    free(used);
    free(tmp);
    map_free(&map);
    return rc;
}

/* ---- writing tensors back in the checkpoint's layout -------------------------------------- */

/* One file tensor being gathered: its name, shape and data. */
typedef struct gathered {
    char name[512];
    int rank;
    int64_t shape[TFX_ST_MAX_RANK];
    float *data;                  /* [numel], owned */
} gathered;

typedef struct gather_set {
    gathered *items;
    size_t n;
} gather_set;

/* The file tensor a recipe tensor of `shape` came from under entry e: split pieces stacked
 * back along dimension 0, then transposed back. */
static void file_shape(const map_entry *e, const tfx_tensor *t, int64_t *shape)
{
    memcpy(shape, t->shape, sizeof t->shape);
    shape[0] *= e->split;
    if (e->transpose) {
        int64_t rows = shape[0];
        shape[0] = shape[1];
        shape[1] = rows;
    }
}

/* The gathered tensor named `name` (made, zeroed, when new). NULL with err set on a shape
 * disagreement or no memory. */
static gathered *gather_slot(gather_set *g, const char *name, const int64_t *shape, int rank,
                             tfx_error *err)
{
    for (size_t i = 0; i < g->n; i++) {
        if (strcmp(g->items[i].name, name) != 0)
            continue;
        if (g->items[i].rank != rank || memcmp(g->items[i].shape, shape, (size_t)rank * sizeof *shape)) {
            tfx_fail(err, "checkpoint tensor '%s' is gathered from pieces of different shapes", name);
            return NULL;
        }
        return &g->items[i];
    }
    int64_t numel = 1;
    for (int d = 0; d < rank; d++)
        if (__builtin_mul_overflow(numel, shape[d], &numel)) {
            tfx_fail(err, "checkpoint tensor '%s' is too large", name);
            return NULL;
        }
    gathered *grown = realloc(g->items, (g->n + 1) * sizeof *grown);
    if (!grown) {
        tfx_fail(err, "out of memory");
        return NULL;
    }
    g->items = grown;
    gathered *s = &g->items[g->n];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->rank = rank;
    memcpy(s->shape, shape, (size_t)rank * sizeof *shape);
    if (!(s->data = calloc((size_t)numel, sizeof(float)))) {
        tfx_fail(err, "out of memory for checkpoint tensor '%s'", name);
        return NULL;
    }
    g->n++;
    return s;
}

/* Put recipe tensor t's rows (data [numel]) where copy_rows took them from in `dst`. */
static void scatter_rows(const map_entry *e, const tfx_tensor *t, const float *data, gathered *dst)
{
    int64_t rows = t->shape[0], row_len = t->numel / rows, per_group = rows / e->groups;
    int64_t file_cols = dst->rank == 2 ? dst->shape[1] : 0;
    for (int64_t g = 0; g < e->groups; g++)
        for (int64_t k = 0; k < per_group; k++) {
            int64_t s = g * e->split * per_group + e->part * per_group + k;
            const float *row = data + (g * per_group + k) * row_len;
            if (!e->transpose) {
                memcpy(dst->data + s * row_len, row, (size_t)row_len * sizeof *row);
                continue;
            }
            for (int64_t j = 0; j < row_len; j++)
                dst->data[j * file_cols + s] = row[j];
        }
}

static int gather_tensor(const tfx_model *m, size_t i, float *const *data, const ckpt_map *map,
                         gather_set *g, tfx_error *err)
{
    const tfx_tensor *t = &m->tensors[i];
    int64_t layer, k = index_find(&map->targets, t->name, &layer);
    const map_entry *e = k >= 0 ? &map->entries[k] : NULL;
    if (!e)
        return tfx_fail(err, "recipe tensor '%s' has no entry in checkpoint.tensors", t->name);
    if ((e->transpose && t->rank != 2) || t->shape[0] % e->groups != 0)
        return tfx_fail(err, "recipe tensor '%s' does not fit its checkpoint entry's transpose or groups", t->name);
    char name[512];
    int64_t shape[TFX_MAX_RANK];
    if (template_fill(name, sizeof name, e->from, layer) < 0)
        return tfx_fail(err, "checkpoint tensor name for '%s' is too long", t->name);
    file_shape(e, t, shape);
    gathered *dst = gather_slot(g, name, shape, t->rank, err);
    if (!dst)
        return -1;
    scatter_rows(e, t, data[i], dst);
    return 0;
}

static int write_gathered(const gather_set *g, const char *path, const char *where,
                          tfx_error *err)
{
    tfx_st_out *out = calloc(g->n + 1, sizeof *out);
    if (!out)
        return tfx_fail(err, "out of memory");
    for (size_t i = 0; i < g->n; i++) {
        out[i] = (tfx_st_out){.name = g->items[i].name, .dtype = TFX_DTYPE_F32,
                              .rank = g->items[i].rank, .data = g->items[i].data};
        memcpy(out[i].shape, g->items[i].shape, sizeof g->items[i].shape);
    }
    int rc = tfx_st_write(path, where, out, g->n, err);
    free(out);
    return rc;
}

/* Every stored tensor under tfx's own names. */
static int write_own_names(const tfx_model *m, float *const *data, const char *path,
                           const char *where, tfx_error *err)
{
    tfx_st_out *out = calloc(m->n_tensors + 1, sizeof *out);
    size_t n = 0;
    if (!out)
        return tfx_fail(err, "out of memory");
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tfx_tensor *t = &m->tensors[i];
        if (t->tied_to >= 0)
            continue;
        out[n] = (tfx_st_out){.name = t->name, .dtype = TFX_DTYPE_F32, .rank = t->rank, .data = data[i]};
        memcpy(out[n++].shape, t->shape, sizeof t->shape);
    }
    int rc = tfx_st_write(path, where, out, n, err);
    free(out);
    return rc;
}

int tfx_checkpoint_write(const tfx_model *m, float *const *data, const char *path,
                         const char *where, tfx_error *err)
{
    if (!m->spec->checkpoint || !tfx_node_get(m->spec->checkpoint, "tensors"))
        return write_own_names(m, data, path, where, err);
    ckpt_map map = {0};
    gather_set g = {0};
    int rc = -1;
    if (read_map(m->spec->checkpoint, m->spec, &map, err))
        goto out;
    for (size_t i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].tied_to < 0 && gather_tensor(m, i, data, &map, &g, err))
            goto out;
    rc = write_gathered(&g, path, where, err);
out:
    for (size_t i = 0; i < g.n; i++)
        free(g.items[i].data);
    free(g.items);
    map_free(&map); /* the entries and both template indexes */
    return rc;
}
