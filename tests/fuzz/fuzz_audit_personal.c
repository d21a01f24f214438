/*
 * fuzz_audit_personal.c - the personal store's data file and sidecar parsers
 * (src/audit/personal.c, docs/audit-format.md §8), as open and the readers use them on a
 * file that may be torn or damaged.  Oracles: every record the walk accepts lies inside the
 * image, is ascending and reads back the same at its offset; the walk ends inside the
 * image; a sidecar hit names an entry with that index.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/audit.h"
#include "audit/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk {
    const uint8_t *img;
    size_t len;
    uint64_t last, next;
    int any;
};

static int check(const struct sl__audit_prec *r, uint64_t off, void *arg)
{
    struct walk *w = arg;
    struct sl__audit_prec again;
    if (off != w->next || off + r->total > w->len || (w->any && r->index <= w->last) ||
        sl__audit_pdata_record(w->img, w->len, off, &again) != 0 || again.index != r->index ||
        again.total != r->total || r->ct + r->ctlen != r->tag || r->tag + 16 != w->img + off + r->total)
        abort();
    w->last = r->index;
    w->any = 1;
    w->next = off + r->total;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t start = sl__audit_pdata_check_header(data, size, NULL) == 0 ? SL_AUDIT_PDATA_HDR : 0;
    struct walk w = {data, size, 0, start, 0};
    uint64_t end = sl__audit_pdata_scan(data, size, start, UINT64_MAX, check, &w);
    if (end > size || end != w.next)
        abort();
    /* the same bytes as a sidecar */
    for (size_t i = 0; i + 16 <= size && i < 64 * 16; i += 16) {
        uint64_t idx = 0, off = 0;
        for (int k = 0; k < 8; k++)
            idx = idx << 8 | data[i + (size_t)k];
        int64_t pos = sl__audit_pindex_find(data, size - size % 16, idx, &off);
        if (pos >= 0) {
            uint64_t at = 0;
            for (int k = 0; k < 8; k++)
                at = at << 8 | data[(size_t)pos * 16 + (size_t)k];
            if (at != idx)
                abort();
        }
    }
    return 0;
}
