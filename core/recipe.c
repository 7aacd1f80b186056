/* core/recipe.c — placeholder, filled in by its owner. */
