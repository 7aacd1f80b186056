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
    /* Shift the old message right to make room; whatever passes the end is cut. */
    size_t plen = strlen(prefix), old = strnlen(err->msg, sizeof err->msg - 1);
    size_t keep = old < sizeof err->msg - 3 - plen ? old : sizeof err->msg - 3 - plen;
    memmove(err->msg + plen + 2, err->msg, keep);
    memcpy(err->msg, prefix, plen);
    memcpy(err->msg + plen, ": ", 2);
    err->msg[plen + 2 + keep] = '\0';
    return -1;
}
