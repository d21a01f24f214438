/*
 * fuzz_frame.c - libFuzzer target for the frame decoder (frame.h).
 *
 * Input layout: byte 0 picks the maximum frame length (0..63, small so that both "too
 * big" and "whole frame" paths are hit often), byte 1 seeds the chunk sizes, the rest is
 * the byte stream a peer sent.  The stream is fed into an sl_buf in chunks of 1..17 bytes,
 * and after each chunk every whole frame is taken out, as the hub does.
 *
 * Checked: each peek is repeated on an exact-size copy of the live bytes (so ASan catches
 * any read past the data); a whole frame lies inside the live bytes and is <= max; AGAIN
 * only when the header or payload is really incomplete; TOO_BIG only when the announced
 * length is > max, after which the line stops; the frames and their offsets equal a
 * one-shot parse of the whole stream; consumed + left == fed; re-encoding the frames with
 * sl_frame_write and sl_frame_begin/end gives back exactly the consumed prefix.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/buf.h"
#include "stateline/frame.h"

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Peek on an exact-size heap copy: any over-read is an ASan report. */
static enum sl_frame_status peek_exact(const struct sl_buf *in, uint32_t max, uint32_t *len,
                                       size_t *payload_off)
{
    size_t used = sl_buf_used(in);
    uint8_t *copy = malloc(used ? used : 1);
    if (used)
        memcpy(copy, sl_buf_head(in), used);
    struct sl_buf exact = {copy, 0, used, used};
    const uint8_t *p = NULL;
    enum sl_frame_status st = sl_frame_peek(&exact, max, &p, len);
    if (st == SL_FRAME_OK)
        *payload_off = (size_t)(p - copy);
    free(copy);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const uint32_t max = data[0] % 64;
    uint32_t seed = data[1] * 2654435761u + 1;
    const uint8_t *stream = data + 2;
    const size_t n = size - 2;

    struct sl_buf in = SL_BUF_INIT;
    struct sl_buf again = SL_BUF_INIT; /* the frames re-encoded */
    size_t fed = 0, consumed = 0;
    int closed = 0;
    while (fed < n && !closed) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        size_t chunk = 1 + seed % 17;
        if (chunk > n - fed)
            chunk = n - fed;
        sl_buf_append(&in, stream + fed, chunk);
        fed += chunk;
        for (;;) {
            const uint8_t *p = NULL;
            uint32_t len = 0, len2 = 0;
            size_t used = sl_buf_used(&in);
            size_t poff = 0;
            enum sl_frame_status st = sl_frame_peek(&in, max, &p, &len);
            enum sl_frame_status st2 = peek_exact(&in, max, &len2, &poff);
            if (st != st2)
                abort();
            /* the reference: what the stream says at this offset */
            const uint8_t *at = stream + consumed;
            size_t avail = fed - consumed;
            if (avail != used)
                abort();
            if (st == SL_FRAME_AGAIN) {
                if (avail >= 4 && be32(at) <= max && avail >= 4 + (size_t)be32(at))
                    abort(); /* a whole frame was there */
                if (avail >= 4 && be32(at) > max)
                    abort(); /* should have been refused */
                break;
            }
            if (st == SL_FRAME_TOO_BIG) {
                if (avail < 4 || be32(at) <= max || len != be32(at) || len2 != len)
                    abort();
                closed = 1; /* the hub closes the line */
                break;
            }
            /* SL_FRAME_OK */
            if (len > max || len != len2 || poff != SL_FRAME_HDR || len != be32(at))
                abort();
            if (p != sl_buf_head(&in) + SL_FRAME_HDR || (size_t)SL_FRAME_HDR + len > used)
                abort();
            if (len && memcmp(p, at + SL_FRAME_HDR, len) != 0)
                abort();
            if (len % 2) {
                sl_frame_write(&again, p, len);
            } else {
                size_t b = sl_frame_begin(&again);
                sl_buf_append(&again, p, len);
                sl_frame_end(&again, b);
            }
            sl_buf_consume(&in, SL_FRAME_HDR + (size_t)len);
            consumed += SL_FRAME_HDR + (size_t)len;
        }
    }
    if (consumed + sl_buf_used(&in) != fed)
        abort();
    if (sl_buf_used(&again) != consumed ||
        (consumed && memcmp(sl_buf_head(&again), stream, consumed) != 0))
        abort();
    sl_buf_free(&in);
    sl_buf_free(&again);
    return 0;
}
