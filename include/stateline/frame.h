/*
 * frame.h - the wire framing of every stateline line (docs/protocol.md §1).
 *
 * A frame is a 4-byte unsigned big-endian length N followed by N bytes of message.
 * N = 0 is a valid empty frame (used as a keep-alive).  A peer announcing N greater than
 * the configured maximum (default 1 MiB) is refused: the receiver answers with an error
 * and closes the line, without reading or allocating the announced size.
 *
 * The decoder is incremental: feed it whatever the socket gave, take whole frames out.
 */
#ifndef STATELINE_FRAME_H
#define STATELINE_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "stateline/buf.h"

#define SL_FRAME_DEFAULT_MAX (1024u * 1024u)
#define SL_FRAME_HDR 4

enum sl_frame_status {
    SL_FRAME_OK = 0,        /* a whole frame is available */
    SL_FRAME_AGAIN = 1,     /* need more bytes */
    SL_FRAME_TOO_BIG = -1,  /* announced length exceeds the maximum: close the line */
};

/* Look at the bytes in `in`.  On SL_FRAME_OK, *payload points into `in` (valid until
 * the buffer is next modified) with *len bytes, and the caller must call
 * sl_buf_consume(in, SL_FRAME_HDR + *len) when done with it.  On SL_FRAME_TOO_BIG,
 * *len holds the announced length. */
enum sl_frame_status sl_frame_peek(const struct sl_buf *in, uint32_t max, const uint8_t **payload,
                                   uint32_t *len);

/* Append one frame (header + payload) to out. */
void sl_frame_write(struct sl_buf *out, const void *payload, uint32_t len);
/* Reserve the 4 header bytes, returning their offset; write the payload with the
 * sl_buf functions, then sl_frame_end patches the length. Avoids a copy. */
size_t sl_frame_begin(struct sl_buf *out);
void sl_frame_end(struct sl_buf *out, size_t begin_off);

#endif
