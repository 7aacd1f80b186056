/* core/model.c — placeholder, filled in by its owner. */
