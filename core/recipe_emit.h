/* core/recipe_emit.h — writes a recipe tree back out as YAML (block style, keys in order,
 * scalars quoted only where YAML would misread them), so that it loads back the same. */
#ifndef TFX_CORE_RECIPE_EMIT_H
#define TFX_CORE_RECIPE_EMIT_H

#include <stdio.h>

#include "recipe.h"

/* Write the MAP `root` as a YAML document. Returns 0, or -1 when writing fails. */
int tfx_recipe_emit(FILE *out, const tfx_node *root);

/* Write `text` as one YAML scalar that reads back as exactly `text`: plain when that is safe
 * and `quote` is 0, else double-quoted with every control character, quote, backslash and
 * line separator escaped, so that nothing in it can end the line or start another key (bytes
 * that are not UTF-8, which YAML cannot hold, become U+FFFD). The one way tfx writes text
 * from a config, a path or a name into YAML. Returns 0, or -1 when writing fails. */
int tfx_yaml_scalar(FILE *out, const char *text, int quote);

#endif
