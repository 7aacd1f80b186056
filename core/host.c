/* core/host.c — placeholder, filled in by its owner. */
