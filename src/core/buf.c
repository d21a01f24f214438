/*
 * buf.c - growable byte buffer (see buf.h).
 */
#include "stateline/buf.h"
#include "stateline/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sl_buf_init(struct sl_buf *b)
{
    memset(b, 0, sizeof *b);
}

void sl_buf_free(struct sl_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

uint8_t *sl_buf_reserve(struct sl_buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return b->data + b->len;
    /* Reclaim consumed space before growing. */
    if (b->off > 0) {
        size_t used = b->len - b->off;
        memmove(b->data, b->data + b->off, used);
        b->off = 0;
        b->len = used;
        if (b->cap - b->len >= n)
            return b->data + b->len;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    b->data = sl_xrealloc(b->data, cap);
    b->cap = cap;
    return b->data + b->len;
}

void sl_buf_commit(struct sl_buf *b, size_t n)
{
    b->len += n;
}

void sl_buf_append(struct sl_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(sl_buf_reserve(b, n), p, n);
    b->len += n;
}

void sl_buf_append_str(struct sl_buf *b, const char *s)
{
    sl_buf_append(b, s, strlen(s));
}

void sl_buf_printf(struct sl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        sl_buf_append(b, small, (size_t)n);
        return;
    }
    uint8_t *dst = sl_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sl_buf_consume(struct sl_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len) {
        b->off = 0;
        b->len = 0;
    } else if (b->off > b->cap / 2) {
        size_t used = b->len - b->off;
        memmove(b->data, b->data + b->off, used);
        b->off = 0;
        b->len = used;
    }
}

void sl_buf_reset(struct sl_buf *b)
{
    b->off = 0;
    b->len = 0;
}

char *sl_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct sl_buf b = SL_BUF_INIT;
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        sl_buf_append(&b, tmp, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        sl_buf_free(&b);
        errno = EIO;
        return NULL;
    }
    *len = sl_buf_used(&b);
    sl_buf_append(&b, "", 1);
    return (char *)b.data;
}

int sl_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *q = p;
    while (n) {
        ssize_t w = write(fd, q, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

int sl_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}
