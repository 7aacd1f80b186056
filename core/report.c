/* core/report.c — placeholder, filled in by its owner. */
