/*
 * buf.h - a growable byte buffer with a read offset, for socket input and output.
 *
 * Bytes live in data[off .. len); append writes at len, consume advances off.  When off
 * passes half the capacity the live bytes are moved to the front (amortised O(1)).
 * The buffer owns data; sl_buf_free releases it and leaves an empty buffer.
 */
#ifndef STATELINE_BUF_H
#define STATELINE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct sl_buf {
    uint8_t *data;
    size_t off; /* first unread byte */
    size_t len; /* one past the last byte */
    size_t cap;
};

#define SL_BUF_INIT {NULL, 0, 0, 0}

void sl_buf_init(struct sl_buf *b);
void sl_buf_free(struct sl_buf *b);
static inline size_t sl_buf_used(const struct sl_buf *b) { return b->len - b->off; }
static inline uint8_t *sl_buf_head(const struct sl_buf *b) { return b->data + b->off; }
/* Make room for n more bytes at the tail; returns the tail pointer. */
uint8_t *sl_buf_reserve(struct sl_buf *b, size_t n);
/* After writing n bytes at the pointer sl_buf_reserve returned. */
void sl_buf_commit(struct sl_buf *b, size_t n);
void sl_buf_append(struct sl_buf *b, const void *p, size_t n);
void sl_buf_append_str(struct sl_buf *b, const char *s);
void sl_buf_printf(struct sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_buf_consume(struct sl_buf *b, size_t n);
void sl_buf_reset(struct sl_buf *b);

/* The whole file at path, NUL-terminated (the NUL not counted in *len): malloc'd, the
 * caller frees it.  NULL when it cannot be opened or read (errno says why). */
char *sl_read_file(const char *path, size_t *len);

/* Write all n bytes of p to fd, going on after short writes and EINTR.  0, or -1 with
 * errno set by the write that failed. */
int sl_write_all(int fd, const void *p, size_t n);

/* fsync the directory at path, so that the names created, renamed or removed in it are
 * durable (a file's own fsync does not cover its directory entry).  0, or -1 with errno. */
int sl_fsync_dir(const char *path);

#endif
