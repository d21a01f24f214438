/*
 * gw_text.h - appending text to a buffer without a format string, for the gateway's
 * per-query text (reply headers, audit references, personal-data records).
 *
 * Why: glibc's vsnprintf costs 1,000-2,500 instructions a call for these short
 * "%s.%s" and "%lld" shapes (it sets up a FILE and walks the format); a query made
 * seven to ten such calls, about a tenth of the gateway loop's instructions
 * (docs/performance.md, "The gateway loop pass").  These do the same appends directly.
 * The bytes are those printf would write (decimal integers with a '-' when negative,
 * no padding); unit/test_gateway_text compares them with snprintf.
 */
#ifndef SL_GW_TEXT_H
#define SL_GW_TEXT_H

#include <stdint.h>
#include <string.h>

#include "stateline/buf.h"

/* s as printf's %s would write it. */
static inline void gw_cat(struct sl_buf *b, const char *s)
{
    sl_buf_append(b, s, strlen(s));
}

static inline void gw_cat_n(struct sl_buf *b, const char *s, size_t n)
{
    sl_buf_append(b, s, n);
}

/* s as printf's %.*s would write it with precision n: up to n bytes, none after a NUL. */
static inline void gw_cat_prec(struct sl_buf *b, const char *s, size_t n)
{
    sl_buf_append(b, s, strnlen(s, n));
}

static inline void gw_cat_c(struct sl_buf *b, char c)
{
    sl_buf_append(b, &c, 1);
}

/* Decimal of v into out (at least 21 bytes), NUL-terminated; returns its length. */
static inline size_t gw_u64_dec(char *out, uint64_t v)
{
    char t[20];
    size_t n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = t[n - 1 - i];
    out[n] = 0;
    return n;
}

/* Decimal of v as %lld writes it, into out (at least 21 bytes); returns its length. */
static inline size_t gw_i64_dec(char *out, int64_t v)
{
    if (v >= 0)
        return gw_u64_dec(out, (uint64_t)v);
    out[0] = '-';
    return 1 + gw_u64_dec(out + 1, (uint64_t)0 - (uint64_t)v);
}

static inline void gw_cat_i64(struct sl_buf *b, int64_t v)
{
    char t[24];
    sl_buf_append(b, t, gw_i64_dec(t, v));
}

static inline void gw_cat_u64(struct sl_buf *b, uint64_t v)
{
    char t[24];
    sl_buf_append(b, t, gw_u64_dec(t, v));
}

#endif
