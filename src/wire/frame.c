/*
 * frame.c - length-prefixed framing (see frame.h and docs/protocol.md §1).
 *
 * Format: N as 4 bytes, most significant first, then N bytes.  0 <= N <= max.
 *
 * The decoder never allocates and never looks past sl_buf_used(in): a header announcing
 * more than `max` is refused as soon as its 4 bytes are in, before any payload arrives,
 * so a peer cannot make us buffer (or wait for) an unbounded amount.
 */
#include "stateline/frame.h"

#include <string.h>

static uint32_t get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
           (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

enum sl_frame_status sl_frame_peek(const struct sl_buf *in, uint32_t max, const uint8_t **payload,
                                   uint32_t *len)
{
    size_t used = sl_buf_used(in);
    if (used < SL_FRAME_HDR)
        return SL_FRAME_AGAIN;
    const uint8_t *p = sl_buf_head(in);
    uint32_t n = get_be32(p);
    if (n > max) {
        *len = n;
        return SL_FRAME_TOO_BIG;
    }
    if (used - SL_FRAME_HDR < n)
        return SL_FRAME_AGAIN;
    *payload = p + SL_FRAME_HDR;
    *len = n;
    return SL_FRAME_OK;
}

void sl_frame_write(struct sl_buf *out, const void *payload, uint32_t len)
{
    uint8_t *p = sl_buf_reserve(out, (size_t)SL_FRAME_HDR + len);
    put_be32(p, len);
    if (len)
        memcpy(p + SL_FRAME_HDR, payload, len);
    sl_buf_commit(out, (size_t)SL_FRAME_HDR + len);
}

/* The offset is relative to out->off, which only changes when bytes are consumed (a
 * flush between begin and end would be a bug in the caller: the frame is not whole). */
size_t sl_frame_begin(struct sl_buf *out)
{
    uint8_t *p = sl_buf_reserve(out, SL_FRAME_HDR);
    memset(p, 0, SL_FRAME_HDR);
    sl_buf_commit(out, SL_FRAME_HDR);
    return out->len - out->off - SL_FRAME_HDR;
}

void sl_frame_end(struct sl_buf *out, size_t begin_off)
{
    uint8_t *hdr = out->data + out->off + begin_off;
    size_t n = out->len - out->off - begin_off - SL_FRAME_HDR;
    put_be32(hdr, (uint32_t)n);
}
