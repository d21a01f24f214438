/*
 * fuzz_gw_inbox.c - libFuzzer target: any bytes as the blobs of gateway.db's inbox_read
 * and answered_batch rows (src/gateway/gw_queue.c's header comment), as a damaged file
 * would give them back: gw_inbox_blob_next walks the records of an inbox row and must
 * stop at the end or refuse the rest, never read past it; gw_answered_blob_get finds a
 * reply of a batch or says there is none; and a blob written with gw_blob_put_frame /
 * gw_blob_put_reply from the records read reads back the same.  The same bytes as a
 * segment file of the inbox's log (src/gateway/gw_ilog.c): its header, then its records
 * as the scan at open walks them (length, seq, salted CRC-32C); every record found lies
 * inside the input and its header written again from its payload is the input's; a
 * BATCH payload's parts lie inside it.
 * Seeds: tests/fuzz/corpus/gw_inbox/ (seg_* are segment files).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/uio.h>

#include "gateway/gw_int.h"
#include "stateline/buf.h"
#include "stateline/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* inbox row: every record lies inside the input; writing them again gives back the
     * input's whole-record prefix */
    struct sl_buf again = SL_BUF_INIT, mids = SL_BUF_INIT, replies = SL_BUF_INIT;
    size_t off = 0, prev = 0;
    uint64_t mid;
    const uint8_t *f;
    uint32_t len;
    int rc;
    while ((rc = gw_inbox_blob_next(data, size, &off, &mid, &f, &len)) == 1) {
        if (f < data || f + len > data + size || len > SL_FRAME_DEFAULT_MAX ||
            off != prev + GW_INBOX_REC_HDR + len)
            abort();
        gw_blob_put_frame(&again, mid, f, len);
        prev = off;
    }
    if (off != prev || (rc == 0 && off != size) || sl_buf_used(&again) != off ||
        (off && memcmp(sl_buf_head(&again), data, off) != 0))
        abort();

    /* answered replies: the first few positions (and one far away) */
    for (uint32_t i = 0; i < 8; i++) {
        const uint8_t *r;
        if (gw_answered_blob_get(data, size, i, &r, &len) == 0) {
            if (r < data || r + len > data + size)
                abort();
            gw_blob_put_reply(&mids, &replies, i + 1, r, len);
        }
    }
    const uint8_t *r;
    (void)gw_answered_blob_get(data, size, UINT32_MAX, &r, &len);
    /* what was found reads back from the blob written of it */
    uint32_t n = (uint32_t)(sl_buf_used(&mids) / 8);
    for (uint32_t i = 0; i < n; i++) {
        if (gw_answered_blob_get(sl_buf_head(&replies), sl_buf_used(&replies), i, &r, &len) !=
                0 ||
            gw_mids_get(sl_buf_head(&mids), i) == 0)
            abort();
    }
    sl_buf_free(&again);
    sl_buf_free(&mids);
    sl_buf_free(&replies);

    /* a segment file: without a valid header, the records are tried from byte 32 with the
     * salt of bytes 24-31 and seq 1 (what a damaged header would have said) */
    int64_t seq = 1;
    uint64_t salt = 0;
    if (gw_ilog_seg_header_parse(data, size, &seq, &salt) != 0 && size >= 32) {
        seq = 1;
        for (int i = 24; i < 32; i++)
            salt = salt << 8 | data[i];
    }
    size_t at = size < 32 ? size : 32;
    for (;;) {
        uint32_t type;
        const uint8_t *p;
        size_t plen;
        if (gw_ilog_rec_parse(data + at, size - at, salt, seq, &type, &p, &plen) != 0)
            break;
        if (p != data + at + GW_ILOG_REC_HDR || plen > size - at - GW_ILOG_REC_HDR ||
            (type != GW_ILOG_READ && type != GW_ILOG_BATCH))
            abort();
        uint8_t h[GW_ILOG_REC_HDR];
        struct iovec v = {(void *)p, plen};
        gw_ilog_rec_header(h, salt, seq, type, &v, 1);
        if (memcmp(h, data + at, sizeof h) != 0)
            abort();
        struct gw_ilog_batch b;
        if (type == GW_ILOG_BATCH && gw_ilog_batch_parse(p, plen, &b) == 0) {
            if (b.mids != p + 8 || b.done + (size_t)b.ndone * 8 != b.replies ||
                b.replies + b.rlen != p + plen)
                abort();
            for (uint32_t i = 0; i < b.n && i < 4; i++)
                (void)gw_ilog_u64(b.mids, i);
            for (uint32_t i = 0; i < 4; i++)
                if (gw_answered_blob_get(b.replies, b.rlen, i, &r, &len) == 0 &&
                    (r < b.replies || r + len > b.replies + b.rlen))
                    abort();
        }
        at += GW_ILOG_REC_HDR + plen;
        seq++;
    }
    return 0;
}
