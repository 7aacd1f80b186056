/* core/suggest.c — placeholder, filled in by its owner. */
