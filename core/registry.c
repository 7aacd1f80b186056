/* core/registry.c — placeholder, filled in by its owner. */
