/* core/load.h — the front half of the flow in one call: recipe file (+ --set overrides) →
 * spec checked against the registry → model with its declared tensors. */
#ifndef TFX_CORE_LOAD_H
#define TFX_CORE_LOAD_H

#include "accounting.h"
#include "model.h"
#include "recipe.h"
#include "registry.h"
#include "spec.h"

typedef struct tfx_loaded {
    tfx_recipe *recipe;
    tfx_spec *spec;
    tfx_model *model;
    tfx_counts counts;
} tfx_loaded;

/* Load `path`, apply the n_sets "key=value" overrides in order, build spec and model, and
 * count the parameters (a count that overflows is an error of the recipe).
 * Returns NULL with err set (already prefixed with file:line:col where one applies). */
tfx_loaded *tfx_load(const char *path, char *const *sets, int n_sets, const tfx_registry *reg,
                     tfx_error *err);
/* tfx_load with the option that gave each override (origins[i]: "--set", "--sweep"), for
 * errors that name it (NULL origins means all "--set"), building the model for training
 * (tfx_model_build_for) when `training` is 1. */
tfx_loaded *tfx_load_from(const char *path, char *const *sets, const char *const *origins,
                          int n_sets, const tfx_registry *reg, int training, tfx_error *err);

void tfx_loaded_free(tfx_loaded *l);

#endif
