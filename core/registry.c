/* core/registry.c — finds plugin .so files along the search path, dlopens each, checks its
 * descriptor (entry symbol, ABI version, kind, required ops, unique name) and keeps a copy. */
#define _GNU_SOURCE
#include "registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "text.h"

static const char *const kind_names[] = {"position", "norm", "placement", "attention", "ffn"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == TFX_KIND_COUNT,
               "kind_names must list every tfx_kind");

const char *tfx_kind_name(tfx_kind kind)
{
    return (unsigned)kind < TFX_KIND_COUNT ? kind_names[kind] : "unknown";
}

int tfx_kind_from_name(const char *name)
{
    for (int k = 0; k < TFX_KIND_COUNT; k++)
        if (strcmp(kind_names[k], name) == 0)
            return k;
    return -1;
}

/* ---- search path --------------------------------------------------------------------------- */

static char *exe_dir(void)
{
    char buf[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (len <= 0)
        return NULL;
    buf[len] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    return strdup(buf);
}

static int push_dir(char ***dirs, size_t *n, const char *dir)
{
    char **grown = realloc(*dirs, (*n + 2) * sizeof **dirs);
    if (!grown)
        return -1;
    *dirs = grown;
    grown[*n] = strdup(dir);
    if (!grown[*n])
        return -1;
    grown[++*n] = NULL;
    return 0;
}

char **tfx_registry_default_dirs(void)
{
    char **dirs = calloc(1, sizeof *dirs);
    size_t n = 0;
    if (!dirs)
        return NULL;
    char *exe = exe_dir();
    char path[PATH_MAX];
    struct stat sb;
    if (exe) {
        /* The build tree: plugins/ next to the executable. */
        snprintf(path, sizeof path, "%s/plugins", exe);
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            push_dir(&dirs, &n, path);
    }
    const char *env = getenv("TFX_PLUGIN_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        for (char *tok = copy ? strtok_r(copy, ":", &save) : NULL; tok;
             tok = strtok_r(NULL, ":", &save))
            push_dir(&dirs, &n, tok);
        free(copy);
    }
    if (exe) {
        /* The install prefix, found relative to bin/ so an installed tree can be moved. */
        snprintf(path, sizeof path, "%s/../%s", exe, TFX_PLUGIN_INSTALL_DIR);
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            push_dir(&dirs, &n, path);
        free(exe);
    }
    return dirs;
}

void tfx_registry_free_dirs(char **dirs)
{
    if (!dirs)
        return;
    for (char **d = dirs; *d; d++)
        free(*d);
    free(dirs);
}

/* ---- loading ------------------------------------------------------------------------------- */

static void note_skipped(tfx_registry *reg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note_skipped(tfx_registry *reg, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char **grown = realloc(reg->skipped, (reg->n_skipped + 1) * sizeof *grown);
    if (!grown)
        return;
    reg->skipped = grown;
    grown[reg->n_skipped] = strdup(msg);
    if (grown[reg->n_skipped])
        reg->n_skipped++;
}

static int valid_name(const char *name)
{
    if (!name || !*name || strlen(name) > 64)
        return 0;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return 0;
    return 1;
}

/* ---- the core's copy of a descriptor ------------------------------------------------------ */

/* A descriptor and its kind's ops, zero-filled to the sizes this core was built with and
 * filled from the plugin up to the plugin's own `size`s. One allocation per plugin. */
typedef struct tfx_plugin_copy {
    tfx_plugin desc;
    uint32_t ops_size;            /* the plugin's own ops `size` */
    union {
        tfx_position_ops position;
        tfx_norm_ops norm;
        tfx_placement_ops placement;
        tfx_attention_ops attention;
        tfx_ffn_ops ffn;
    } ops;
} tfx_plugin_copy;

/* One operation of an ops struct, found by its offset. */
typedef struct op_field {
    const char *name;
    size_t offset;
} op_field;

/* What the core needs of each kind's ops: where the descriptor points to them, their size as
 * this core knows it, and the operations it calls without checking for NULL. A position
 * plugin's three hooks are all optional (`none` has none). */
typedef struct kind_ops {
    size_t slot;                  /* offsetof(tfx_plugin, <kind>) */
    size_t size;                  /* sizeof the kind's ops struct */
    int n_required;
    op_field required[4];
} kind_ops;

#define OP(type, field) {#field, offsetof(type, field)}
static const kind_ops kind_table[TFX_KIND_COUNT] = {
    [TFX_KIND_POSITION] = {offsetof(tfx_plugin, position), sizeof(tfx_position_ops), 0, {{0}}},
    [TFX_KIND_NORM] = {offsetof(tfx_plugin, norm), sizeof(tfx_norm_ops), 1,
                       {OP(tfx_norm_ops, forward)}},
    [TFX_KIND_PLACEMENT] = {offsetof(tfx_plugin, placement), sizeof(tfx_placement_ops), 2,
                            {OP(tfx_placement_ops, declare_norms), OP(tfx_placement_ops, forward)}},
    [TFX_KIND_ATTENTION] = {offsetof(tfx_plugin, attention), sizeof(tfx_attention_ops), 4,
                            {OP(tfx_attention_ops, cache_floats),
                             OP(tfx_attention_ops, workspace_floats),
                             OP(tfx_attention_ops, keys_seen), OP(tfx_attention_ops, forward)}},
    [TFX_KIND_FFN] = {offsetof(tfx_plugin, ffn), sizeof(tfx_ffn_ops), 3,
                      {OP(tfx_ffn_ops, workspace_floats), OP(tfx_ffn_ops, forward),
                       OP(tfx_ffn_ops, width)}},
};
#undef OP

/* The ops pointer in descriptor slot `slot`. */
static const void *ops_at(const tfx_plugin *p, size_t slot)
{
    const void *ops;
    memcpy(&ops, (const char *)p + slot, sizeof ops);
    return ops;
}

static int op_present(const void *ops, size_t offset)
{
    void (*fn)(void);
    memcpy(&fn, (const char *)ops + offset, sizeof fn);
    return fn != NULL;
}

/* The kind's ops pointer must be set and the others NULL. */
static int ops_match_kind(const tfx_plugin *p)
{
    for (int k = 0; k < TFX_KIND_COUNT; k++)
        if ((ops_at(p, kind_table[k].slot) != NULL) != (k == (int)p->kind))
            return 0;
    return 1;
}

/* A zero-filled copy of the descriptor, read only up to the plugin's `size`. Returns NULL
 * when out of memory. */
static tfx_plugin_copy *copy_descriptor(const tfx_plugin *p)
{
    tfx_plugin_copy *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    memcpy(&c->desc, p, p->size < sizeof c->desc ? p->size : sizeof c->desc);
    return c;
}

/* Copy the kind's ops the same way, and point the copied descriptor at the copy. */
static void copy_ops(tfx_plugin_copy *c)
{
    const kind_ops *k = &kind_table[c->desc.kind];
    const void *src = ops_at(&c->desc, k->slot);
    uint32_t size;
    memcpy(&size, src, sizeof size);
    memcpy(&c->ops, src, size < k->size ? size : k->size);
    c->ops_size = size;
    memcpy(&c->ops, &size, sizeof size);
    const void *own = &c->ops;
    memcpy((char *)&c->desc + k->slot, &own, sizeof own);
}

/* NULL when the copied ops hold every operation the kind requires, else why not. */
static const char *missing_op(const tfx_plugin_copy *c, char *buf, size_t cap)
{
    const kind_ops *k = &kind_table[c->desc.kind];
    for (int i = 0; i < k->n_required; i++) {
        const op_field *f = &k->required[i];
        if (op_present(&c->ops, f->offset))
            continue;
        if (c->ops_size < f->offset + sizeof(void (*)(void)))
            snprintf(buf, cap, "its %s ops struct (size %u) ends before the required operation "
                     "'%s' (this core's is size %zu; rebuild the plugin)",
                     tfx_kind_name(c->desc.kind), c->ops_size, f->name, k->size);
        else
            snprintf(buf, cap, "the required %s operation '%s' is NULL",
                     tfx_kind_name(c->desc.kind), f->name);
        return buf;
    }
    return NULL;
}

/* ---- checks -------------------------------------------------------------------------------- */

/* Check the plugin's own descriptor header: enough to copy it. NULL when usable. */
static const char *header_problem(const tfx_plugin *p, char *buf, size_t cap)
{
    if (!p)
        return "its entry point returned NULL";
    if (p->abi_version != TFX_ABI_VERSION) {
        snprintf(buf, cap, "incompatible ABI version (plugin: %u, core: %u)", p->abi_version,
                 TFX_ABI_VERSION);
        return buf;
    }
    if (p->size < offsetof(tfx_plugin, ffn) + sizeof p->ffn)
        return "descriptor is smaller than ABI version 1 requires";
    return NULL;
}

/* Check the copied descriptor; returns NULL when usable, else why not. */
static const char *descriptor_problem(const tfx_plugin *p, char *buf, size_t cap)
{
    if ((unsigned)p->kind >= TFX_KIND_COUNT)
        return "unknown plugin kind";
    if (!valid_name(p->name))
        return "invalid name (use 1-64 characters of a-z, 0-9, '_' or '-')";
    if (!p->configure || !p->destroy)
        return "configure and destroy are required";
    if (!ops_match_kind(p)) {
        snprintf(buf, cap, "the operations set do not match its kind '%s'",
                 tfx_kind_name(p->kind));
        return buf;
    }
    if (p->n_options < 0 || (p->n_options > 0 && !p->options))
        return "option table missing";
    for (int i = 0; i < p->n_options; i++) {
        const tfx_option *o = &p->options[i];
        if (!o->name || !o->default_value || o->type > TFX_OPT_ENUM ||
            (o->type == TFX_OPT_ENUM && !o->choices)) {
            snprintf(buf, cap, "option %d is malformed", i);
            return buf;
        }
    }
    return NULL;
}

/* The core's checked copy of the plugin `path` exports, or NULL with the reason noted. */
static tfx_plugin_copy *checked_copy(tfx_registry *reg, const char *path, const tfx_plugin *desc)
{
    char why[512];
    const char *problem = header_problem(desc, why, sizeof why);
    if (problem) {
        note_skipped(reg, "%s: %s; skipped", path, problem);
        return NULL;
    }
    tfx_plugin_copy *copy = copy_descriptor(desc);
    if (!copy)
        return NULL;
    problem = descriptor_problem(&copy->desc, why, sizeof why);
    if (!problem) {
        copy_ops(copy);
        problem = missing_op(copy, why, sizeof why);
    }
    if (problem) {
        note_skipped(reg, "%s: %s; skipped", path, problem);
        free(copy);
        return NULL;
    }
    return copy;
}

static void load_one(tfx_registry *reg, const char *path)
{
    tfx_error err;
    int fd = tfx_input_open(path, NULL, &err); /* a FIFO called x.so would hang dlopen */
    if (fd < 0) {
        note_skipped(reg, "%s; skipped", err.msg);
        return;
    }
    close(fd);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        note_skipped(reg, "%s: cannot load plugin: %s; skipped", path, dlerror());
        return;
    }
    tfx_plugin_entry_fn entry;
    *(void **)&entry = dlsym(handle, TFX_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        note_skipped(reg, "%s: no entry point [%s] in shared library; skipped", path,
                     TFX_PLUGIN_ENTRY_SYMBOL);
        goto err_close;
    }
    tfx_plugin_copy *copy = checked_copy(reg, path, entry());
    if (!copy)
        goto err_close;
    const tfx_registered *taken = tfx_registry_find(reg, copy->desc.kind, copy->desc.name);
    if (taken) {
        note_skipped(reg, "%s: %s plugin '%s' is already provided by %s; skipped", path,
                     tfx_kind_name(copy->desc.kind), copy->desc.name, taken->path);
        goto err_free;
    }
    tfx_registered *grown = realloc(reg->plugins, (reg->n + 1) * sizeof *grown);
    if (!grown)
        goto err_free;
    reg->plugins = grown;
    grown[reg->n] = (tfx_registered){.desc = &copy->desc, .copy = copy, .path = strdup(path),
                                     .handle = handle};
    reg->n++;
    return;
err_free:
    free(copy);
err_close:
    dlclose(handle);
}

static int is_shared_object(const char *name)
{
    size_t len = strlen(name);
    return len > 3 && strcmp(name + len - 3, ".so") == 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load a folder's *.so files in name order, so that the result does not depend on readdir. */
static void load_dir(tfx_registry *reg, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        note_skipped(reg, "%s: cannot read plugin folder: %s", dir, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_shared_object(e->d_name))
            continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown)
            break;
        names = grown;
        if ((names[n] = strdup(e->d_name)))
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        if (tfx_text(path, sizeof path, "%s/%s", dir, names[i]) < 0)
            note_skipped(reg, "%s/%s: path too long; skipped", dir, names[i]);
        else
            load_one(reg, path);
        free(names[i]);
    }
    free(names);
}

tfx_registry *tfx_registry_open(char *const *dirs, tfx_error *err)
{
    tfx_registry *reg = calloc(1, sizeof *reg);
    if (!reg) {
        tfx_fail(err, "out of memory");
        return NULL;
    }
    for (size_t i = 0; dirs && dirs[i]; i++) {
        /* The same folder named twice (a symlink, a repeated entry) is searched once. */
        char real[PATH_MAX];
        const char *key = realpath(dirs[i], real) ? real : dirs[i];
        int seen = 0;
        for (size_t j = 0; j < reg->n_dirs; j++)
            seen |= strcmp(reg->dirs[j], key) == 0;
        if (seen)
            continue;
        char **grown = realloc(reg->dirs, (reg->n_dirs + 1) * sizeof *grown);
        if (!grown)
            break;
        reg->dirs = grown;
        if (!(grown[reg->n_dirs] = strdup(key)))
            break;
        reg->n_dirs++;
        load_dir(reg, dirs[i]);
    }
    return reg;
}

void tfx_registry_free(tfx_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++) {
        free(reg->plugins[i].path);
        free(reg->plugins[i].copy);
        dlclose(reg->plugins[i].handle);
    }
    for (size_t i = 0; i < reg->n_skipped; i++)
        free(reg->skipped[i]);
    for (size_t i = 0; i < reg->n_dirs; i++)
        free(reg->dirs[i]);
    free(reg->plugins);
    free(reg->skipped);
    free(reg->dirs);
    free(reg);
}

const tfx_registered *tfx_registry_find(const tfx_registry *reg, tfx_kind kind,
                                        const char *name)
{
    for (size_t i = 0; i < reg->n; i++)
        if (reg->plugins[i].desc->kind == kind && strcmp(reg->plugins[i].desc->name, name) == 0)
            return &reg->plugins[i];
    return NULL;
}

size_t tfx_registry_names(const tfx_registry *reg, tfx_kind kind, const char **names,
                          size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < reg->n && n < cap; i++)
        if (reg->plugins[i].desc->kind == kind)
            names[n++] = reg->plugins[i].desc->name;
    return n;
}
