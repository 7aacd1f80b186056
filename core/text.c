/* core/text.c — checked formatting (an error, never a cut) and the escaping of control
 * characters in everything tfx prints. */
#define _GNU_SOURCE
#include "text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
    if (cap == 0)
        return -1;
    int n = vsnprintf(buf, cap, fmt, ap);
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return -1;
    }
    return n;
}

int tfx_text(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vformat(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

int tfx_text_append(char *buf, size_t cap, const char *fmt, ...)
{
    size_t used = strnlen(buf, cap);
    if (used >= cap)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vformat(buf + used, cap - used, fmt, ap);
    va_end(ap);
    if (n < 0) {
        buf[used] = '\0';
        return -1;
    }
    return (int)used + n;
}

static size_t put_escape(char *out, unsigned code)
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "\\u00", 4);
    out[4] = hex[(code >> 4) & 15];
    out[5] = hex[code & 15];
    return 6;
}

size_t tfx_escape(char *out, const char *in, size_t n, int *pending)
{
    size_t o = 0, i = 0;
    const unsigned char *s = (const unsigned char *)in;
    if (pending && *pending && n > 0) {
        /* a 0xC2 held back from the last call: C1 when this byte is 0x80..0x9F */
        if (s[0] >= 0x80 && s[0] <= 0x9f) {
            o += put_escape(out + o, s[0]);
            i = 1;
        } else
            out[o++] = (char)0xc2;
        *pending = 0;
    }
    for (; i < n; i++) {
        unsigned char c = s[i];
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            o += put_escape(out + o, c);
        else if (c == 0xc2 && i + 1 == n && pending)
            *pending = 1;
        else if (c == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
            o += put_escape(out + o, s[++i]);
        else
            out[o++] = (char)c;
    }
    return o;
}

/* ---- an escaping stdio stream (glibc's fopencookie) ---------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static ssize_t escaping_write(void *cookie, const char *buf, size_t size)
{
    tfx_escaping *e = cookie;
    char out[6 * 512];
    for (size_t done = 0; done < size;) {
        size_t chunk = size - done < 512 ? size - done : 512;
        size_t o = tfx_escape(out, buf + done, chunk, &e->pending);
        if (write_all(e->fd, out, o))
            return -1;
        done += chunk;
    }
    return (ssize_t)size;
}

static int escaping_close(void *cookie)
{
    tfx_escaping *e = cookie;
    int rc = e->pending ? write_all(e->fd, "\xc2", 1) : 0;
    if (close(e->fd) != 0 && errno != EINTR)
        rc = -1;
    return rc;
}

FILE *tfx_escaping_stream(tfx_escaping *e, int fd, int mode)
{
    *e = (tfx_escaping){.fd = fd};
    FILE *f = fopencookie(e, "w", (cookie_io_functions_t){.write = escaping_write,
                                                          .close = escaping_close});
    if (!f)
        return NULL;
    setvbuf(f, NULL, mode, BUFSIZ);
    return f;
}

const char *tfx_join(char *buf, size_t cap, const char *const *items, size_t n, const char *conj)
{
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *sep = i == 0 ? "" : (i + 1 == n && conj) ? " " : ", ";
        const char *word = i > 0 && i + 1 == n && conj ? conj : "";
        size_t used = strlen(buf);
        if (tfx_text_append(buf, cap, "%s%s%s%s", sep, word, *word ? " " : "", items[i]) < 0) {
            buf[used] = '\0';
            if (tfx_text_append(buf, cap, "%s", ", ...") < 0 && used >= 5)
                memcpy(buf + used - 5, ", ...", 6);
            break;
        }
    }
    return buf;
}
