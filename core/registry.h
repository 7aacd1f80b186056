/* core/registry.h — discovery and loading of plugin shared objects (dlopen), with the ABI,
 * entry-symbol, required-operation and duplicate-name checks; a bad plugin is skipped with a
 * message, never fatal.
 *
 * The core never reads a plugin's own descriptor or ops struct after loading: it copies each
 * into a zero-filled struct of the current size, reading only up to the plugin's `size`, so a
 * field appended after the plugin was built reads as absent (NULL / 0), as plugin.h promises. */
#ifndef TFX_CORE_REGISTRY_H
#define TFX_CORE_REGISTRY_H

#include <stddef.h>

#include "error.h"
#include "tfx/plugin.h"

struct tfx_plugin_copy;

typedef struct tfx_registered {
    const tfx_plugin *desc;       /* the core's copy; its ops pointer points to the copied ops */
    struct tfx_plugin_copy *copy; /* owns desc and its ops */
    char *path;                   /* the .so it came from */
    void *handle;                 /* dlopen handle, closed by tfx_registry_free */
} tfx_registered;

typedef struct tfx_registry {
    tfx_registered *plugins;      /* [n] in load order */
    size_t n;
    char **skipped;               /* [n_skipped] one message per plugin or folder skipped */
    size_t n_skipped;
    char **dirs;                  /* [n_dirs] folders searched, in order */
    size_t n_dirs;
} tfx_registry;

/* Kind names as recipes and reports spell them ("position", "norm", ...), and back. */
const char *tfx_kind_name(tfx_kind kind);
int tfx_kind_from_name(const char *name); /* -1 when unknown */

/* The default search path: the build tree's plugins/ beside the executable, each folder of
 * $TFX_PLUGIN_PATH, then the install prefix's plugin folder. Returns a NULL-terminated
 * list the caller frees with tfx_registry_free_dirs. */
char **tfx_registry_default_dirs(void);
void tfx_registry_free_dirs(char **dirs);

/* Load every *.so in each of `dirs` (NULL-terminated). A plugin that cannot be used is
 * recorded in `skipped` and left out. Returns NULL only when out of memory. */
tfx_registry *tfx_registry_open(char *const *dirs, tfx_error *err);
void tfx_registry_free(tfx_registry *reg);

/* The plugin of `kind` named `name`, or NULL. */
const tfx_registered *tfx_registry_find(const tfx_registry *reg, tfx_kind kind,
                                        const char *name);

/* Names of the plugins of one kind, for suggestions; fills up to `cap` and returns the count. */
size_t tfx_registry_names(const tfx_registry *reg, tfx_kind kind, const char **names,
                          size_t cap);

#endif
