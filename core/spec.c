/* core/spec.c — placeholder, filled in by its owner. */
