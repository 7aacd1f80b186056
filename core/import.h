/* core/import.h — a Hugging Face config.json, already parsed, becomes the text of a
 * self-contained recipe; apart from `tfx import`'s file reading so that a fuzz target can drive it. */
#ifndef TFX_CORE_IMPORT_H
#define TFX_CORE_IMPORT_H

#include <jansson.h>
#include <stdio.h>

#include "error.h"

/* Check every value of `config` (the file at `path`, named in every message and in the recipe)
 * and write the recipe for it to `out`: the family's shipped recipe from `recipes_dir` (NULL:
 * the ones beside the executable) with the config's values over it, `name` (NULL: the
 * model_type) as its name. Writes nothing unless the whole recipe is ready. Returns 0, or -1
 * with err naming the path and the config key. */
int tfx_import_recipe(const char *path, const json_t *config, const char *name,
                      const char *recipes_dir, FILE *out, tfx_error *err);

#endif
