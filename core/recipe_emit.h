/* core/recipe_emit.h — writes a recipe tree back out as YAML (block style, keys in order,
 * scalars quoted only where YAML would misread them), so that it loads back the same. */
#ifndef TFX_CORE_RECIPE_EMIT_H
#define TFX_CORE_RECIPE_EMIT_H

#include <stdio.h>

#include "recipe.h"

/* Write the MAP `root` as a YAML document. Returns 0, or -1 when writing fails. */
int tfx_recipe_emit(FILE *out, const tfx_node *root);

#endif
