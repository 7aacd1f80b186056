/* core/accounting.c — placeholder, filled in by its owner. */
