/* core/error.h — the core's error value: one message, filled where the error is found and
 * printed once, by the command that gave up. */
#ifndef TFX_CORE_ERROR_H
#define TFX_CORE_ERROR_H

#include <stdarg.h>

#define TFX_ERROR_MSG 2048

typedef struct tfx_error {
    char msg[TFX_ERROR_MSG];
} tfx_error;

/* Set err's message (printf-style); returns -1 so callers can `return tfx_fail(err, ...)`.
 * A NULL err is allowed and ignored. */
int tfx_fail(tfx_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tfx_vfail(tfx_error *err, const char *fmt, va_list ap);

/* Prefix err's existing message with "prefix: " (for adding context on the way up). */
int tfx_error_prefix(tfx_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
