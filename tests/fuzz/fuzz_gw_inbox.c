/*
 * fuzz_gw_inbox.c - libFuzzer target: any bytes as the blobs of gateway.db's inbox_read
 * and answered_batch rows (src/gateway/gw_queue.c's header comment), as a damaged file
 * would give them back: gw_inbox_blob_next walks the records of an inbox row and must
 * stop at the end or refuse the rest, never read past it; gw_answered_blob_get finds a
 * reply of a batch or says there is none; and a blob written with gw_blob_put_frame /
 * gw_blob_put_reply from the records read reads back the same.
 * Seeds: tests/fuzz/corpus/gw_inbox/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    return 0;
}
