/* core/error.c — filling and prefixing tfx_error messages.
 * Messages are truncated, never overflowed. */
#include "error.h"

#include <stdio.h>
#include <string.h>

int tfx_vfail(tfx_error *err, const char *fmt, va_list ap)
{
    if (err)
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return -1;
}

int tfx_fail(tfx_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tfx_vfail(err, fmt, ap);
    va_end(ap);
    return -1;
}

int tfx_error_prefix(tfx_error *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[TFX_ERROR_MSG];
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return -1;
}
