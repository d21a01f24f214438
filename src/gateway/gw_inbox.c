/*
 * gw_inbox.c - the gateway's inbox in memory (docs/gateway.md §5).  The durable side is
 * gw_queue.c: tables inbox_read (one row per read of the hub line) and answered_batch (one
 * row per pass over the acknowledgements), formats in its header comment.
 *
 * Before this, every query cost five SQL statements (an inbox INSERT with an index, two
 * look-ups of its id, a DELETE and an INSERT into answered with a UNIQUE index); now a
 * read costs one INSERT and a pass over the acknowledgements one INSERT and a DELETE per
 * row it completes.  What SQLite answered per query is held here:
 *
 *   ids      switch message id -> in flight (0) or the answered_batch row (and position)
 *            of its reply (GW_PENDING: in this pass's batch, not yet written).  Open
 *            addressing, linear probing, deletion by backward shift; at most half full.
 *   rows     the inbox rows not yet deleted, ascending by id (SQLite gives each new row
 *            max(id) + 1, and rows are deleted only here), each with the number of its
 *            frames whose reply has not been acknowledged.
 *   batches  the answered_batch rows, oldest first, with their count of ids, and the
 *            ids themselves in a ring in the same order: pruning drops whole rows from
 *            the front while at least GW_ANSWERED_KEEP ids stay.
 *
 * Invariant: a frame read is in an inbox row until its reply is acknowledged; the
 * reply is then in an answered_batch row written in the transaction that deletes the
 * inbox row, or in one written before it (a row with several frames).  So after a kill
 * each query is in a row (answered at start, unless its id is answered), or answered
 * (a repeat gets the same reply), or was never stored (the hub delivers it again).
 */
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "stateline/core.h"
#include "stateline/frame.h"

#define GW_PENDING (-1)            /* batch of an id acknowledged in this pass */
#define GW_PRUNE_STEP 1000         /* prune when this many ids over GW_ANSWERED_KEEP */

struct mid_ent {
    uint64_t mid;                  /* 0: empty slot */
    int64_t batch;                 /* 0 in flight, GW_PENDING, or answered_batch id */
    uint32_t idx;                  /* position in the batch (in flight: 1 once recovery
                                      has given the frame to its handler) */
};

struct row_ent {
    int64_t id;
    uint32_t pending;              /* frames whose reply is not acknowledged */
};

struct batch_ent {
    int64_t id;
    uint32_t n;
};

struct gw_inbox {
    struct gw_queue *q;
    struct mid_ent *tab;
    size_t tcap, tn;               /* tcap a power of two; tn entries in use */
    size_t ninflight;
    struct row_ent *rows;
    size_t rhead, rn, rcap;        /* live: rows[rhead, rn), each with pending > 0 */
    int64_t *gone;                 /* rows whose frames are all done: to delete */
    size_t ngone, gcap;
    struct sl_buf blob, one;       /* the current read's row; a row of one frame */
    uint32_t blob_n;
    struct sl_buf bmids, breplies; /* this pass's answered batch */
    uint32_t bn;
    struct batch_ent *batches;
    size_t bhead, bn_rows, bcap;   /* live: batches[bhead, bhead + bn_rows) */
    uint64_t *ring;                /* answered ids, oldest first (capacity power of two) */
    size_t ring_cap, ring_head, ring_n;
};

/* ---- ids ---- */

static size_t slot_of(const struct gw_inbox *ib, uint64_t mid)
{
    /* Fibonacci hashing: ids are epoch * 2^40 + sequence, dense in their low bits. */
    return (size_t)((mid * 0x9E3779B97F4A7C15ull) >> 32) & (ib->tcap - 1);
}

static struct mid_ent *mid_find(const struct gw_inbox *ib, uint64_t mid)
{
    if (!mid || !ib->tcap)
        return NULL;
    for (size_t i = slot_of(ib, mid);; i = (i + 1) & (ib->tcap - 1)) {
        if (ib->tab[i].mid == mid)
            return &ib->tab[i];
        if (!ib->tab[i].mid)
            return NULL;
    }
}

static void mid_grow(struct gw_inbox *ib)
{
    struct mid_ent *old = ib->tab;
    size_t ocap = ib->tcap;
    ib->tcap = ocap ? ocap * 2 : 1024;
    ib->tab = sl_xcalloc(ib->tcap, sizeof *ib->tab);
    for (size_t k = 0; k < ocap; k++) {
        if (!old[k].mid)
            continue;
        size_t i = slot_of(ib, old[k].mid);
        while (ib->tab[i].mid)
            i = (i + 1) & (ib->tcap - 1);
        ib->tab[i] = old[k];
    }
    free(old);
}

/* The entry of mid (nonzero), made (in flight) if there was none. */
static struct mid_ent *mid_put(struct gw_inbox *ib, uint64_t mid)
{
    struct mid_ent *e = mid_find(ib, mid);
    if (e)
        return e;
    if ((ib->tn + 1) * 2 > ib->tcap)
        mid_grow(ib);
    size_t i = slot_of(ib, mid);
    while (ib->tab[i].mid)
        i = (i + 1) & (ib->tcap - 1);
    ib->tab[i].mid = mid;
    ib->tab[i].batch = 0;
    ib->tab[i].idx = 0;
    ib->tn++;
    ib->ninflight++;
    return &ib->tab[i];
}

static void set_batch(struct gw_inbox *ib, struct mid_ent *e, int64_t batch, uint32_t idx)
{
    if (e->batch == 0 && batch != 0)
        ib->ninflight--;
    else if (e->batch != 0 && batch == 0)
        ib->ninflight++;
    e->batch = batch;
    e->idx = idx;
}

/* Backward-shift deletion: the entries after the hole that would be found through it
 * move into it, so no tombstone is needed. */
static void mid_del(struct gw_inbox *ib, struct mid_ent *e)
{
    size_t mask = ib->tcap - 1, hole = (size_t)(e - ib->tab);
    if (e->batch == 0)
        ib->ninflight--;
    for (size_t i = (hole + 1) & mask; ib->tab[i].mid; i = (i + 1) & mask) {
        size_t home = slot_of(ib, ib->tab[i].mid);
        /* does the run from home to i pass the hole? then i may move into it */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            ib->tab[hole] = ib->tab[i];
            hole = i;
        }
    }
    ib->tab[hole].mid = 0;
    ib->tn--;
}

/* ---- rows ---- */

static void gone_push(struct gw_inbox *ib, int64_t id)
{
    if (ib->ngone == ib->gcap) {
        ib->gcap = ib->gcap ? ib->gcap * 2 : 64;
        ib->gone = sl_xrealloc(ib->gone, ib->gcap * sizeof *ib->gone);
    }
    ib->gone[ib->ngone++] = id;
}

static void row_add(struct gw_inbox *ib, int64_t id, uint32_t pending)
{
    if (!pending) {
        gone_push(ib, id);
        return;
    }
    if (ib->rn == ib->rcap) {
        if (ib->rhead) {
            memmove(ib->rows, ib->rows + ib->rhead, (ib->rn - ib->rhead) * sizeof *ib->rows);
            ib->rn -= ib->rhead;
            ib->rhead = 0;
        }
        if (ib->rn == ib->rcap) {
            ib->rcap = ib->rcap ? ib->rcap * 2 : 256;
            ib->rows = sl_xrealloc(ib->rows, ib->rcap * sizeof *ib->rows);
        }
    }
    /* ascending by id: new rows have the highest id, so this is an append (a row given a
     * lower id would be a surprise, and is put in its place all the same) */
    size_t at = ib->rn;
    while (at > ib->rhead && ib->rows[at - 1].id > id)
        at--;
    memmove(ib->rows + at + 1, ib->rows + at, (ib->rn - at) * sizeof *ib->rows);
    ib->rows[at].id = id;
    ib->rows[at].pending = pending;
    ib->rn++;
}

static struct row_ent *row_find(struct gw_inbox *ib, int64_t id)
{
    size_t lo = ib->rhead, hi = ib->rn;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (ib->rows[m].id < id)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < ib->rn && ib->rows[lo].id == id ? &ib->rows[lo] : NULL;
}

/* A frame of row id is done; a row with none left leaves the array at once (SQLite gives
 * a new row the id of a deleted one that had the highest: a finished row left in the
 * array would be found in its place). */
static void row_done(struct gw_inbox *ib, int64_t id)
{
    struct row_ent *r = row_find(ib, id);
    if (!r || --r->pending > 0)
        return;
    gone_push(ib, id);
    size_t at = (size_t)(r - ib->rows);
    if (at == ib->rhead) { /* the usual case: replies leave in the order read */
        ib->rhead++;
    } else {
        memmove(ib->rows + at, ib->rows + at + 1, (ib->rn - at - 1) * sizeof *ib->rows);
        ib->rn--;
    }
    if (ib->rhead == ib->rn)
        ib->rhead = ib->rn = 0;
}

/* ---- answered ids ---- */

static void ring_push(struct gw_inbox *ib, uint64_t mid)
{
    if (ib->ring_n == ib->ring_cap) {
        size_t ncap = ib->ring_cap ? ib->ring_cap * 2 : 1024;
        uint64_t *v = sl_xmalloc(ncap * sizeof *v);
        for (size_t k = 0; k < ib->ring_n; k++)
            v[k] = ib->ring[(ib->ring_head + k) & (ib->ring_cap - 1)];
        free(ib->ring);
        ib->ring = v;
        ib->ring_cap = ncap;
        ib->ring_head = 0;
    }
    ib->ring[(ib->ring_head + ib->ring_n++) & (ib->ring_cap - 1)] = mid;
}

static void batch_push(struct gw_inbox *ib, int64_t id, uint32_t n)
{
    if (ib->bhead + ib->bn_rows == ib->bcap) {
        if (ib->bhead) {
            memmove(ib->batches, ib->batches + ib->bhead, ib->bn_rows * sizeof *ib->batches);
            ib->bhead = 0;
        } else {
            ib->bcap = ib->bcap ? ib->bcap * 2 : 64;
            ib->batches = sl_xrealloc(ib->batches, ib->bcap * sizeof *ib->batches);
        }
    }
    ib->batches[ib->bhead + ib->bn_rows].id = id;
    ib->batches[ib->bhead + ib->bn_rows].n = n;
    ib->bn_rows++;
}

/* Are GW_PRUNE_STEP ids over GW_ANSWERED_KEEP, and can the oldest row go? */
static int prunable(const struct gw_inbox *ib)
{
    return ib->ring_n >= GW_ANSWERED_KEEP + GW_PRUNE_STEP && ib->bn_rows &&
           ib->ring_n - ib->batches[ib->bhead].n >= GW_ANSWERED_KEEP;
}

/* Forget the oldest batches while GW_ANSWERED_KEEP ids stay; returns the id of the last
 * one forgotten (its rows and those before it are to be deleted), 0 if none. */
static int64_t prune_memory(struct gw_inbox *ib)
{
    int64_t upto = 0;
    if (!prunable(ib))
        return 0;
    while (ib->bn_rows && ib->ring_n - ib->batches[ib->bhead].n >= GW_ANSWERED_KEEP) {
        struct batch_ent *b = &ib->batches[ib->bhead];
        for (uint32_t k = 0; k < b->n; k++) {
            uint64_t mid = ib->ring[ib->ring_head];
            ib->ring_head = (ib->ring_head + 1) & (ib->ring_cap - 1);
            ib->ring_n--;
            struct mid_ent *e = mid_find(ib, mid);
            /* the id may have moved on (answered again in a later batch): keep that */
            if (e && e->batch == b->id)
                mid_del(ib, e);
        }
        upto = b->id;
        ib->bhead++;
        ib->bn_rows--;
    }
    return upto;
}

static void load_batch(int64_t id, const uint8_t *mids, size_t len, void *arg)
{
    struct gw_inbox *ib = arg;
    uint32_t n = (uint32_t)(len / 8);
    if (len % 8)
        SL_ERROR("gateway", "gateway.db: answered row %lld: ids of %zu bytes (damaged); "
                 "the whole ones kept", (long long)id, len);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t mid = gw_mids_get(mids, i);
        ring_push(ib, mid); /* (an id 0, never written, is only counted) */
        if (mid)
            set_batch(ib, mid_put(ib, mid), id, i);
    }
    batch_push(ib, id, n);
}

struct gw_inbox *gw_inbox_open(struct gw_queue *q)
{
    struct gw_inbox *ib = sl_xcalloc(1, sizeof *ib);
    ib->q = q;
    sl_buf_init(&ib->blob);
    sl_buf_init(&ib->one);
    sl_buf_init(&ib->bmids);
    sl_buf_init(&ib->breplies);
    if (gw_queue_answered_each(q, load_batch, ib) < 0) {
        SL_ERROR("gateway", "gateway.db: cannot read the answered ids");
        gw_inbox_free(ib);
        return NULL;
    }
    return ib;
}

void gw_inbox_free(struct gw_inbox *ib)
{
    if (!ib)
        return;
    free(ib->tab);
    free(ib->rows);
    free(ib->gone);
    free(ib->batches);
    free(ib->ring);
    sl_buf_free(&ib->blob);
    sl_buf_free(&ib->one);
    sl_buf_free(&ib->bmids);
    sl_buf_free(&ib->breplies);
    free(ib);
}

void gw_inbox_counts(const struct gw_inbox *ib, size_t *inflight, size_t *answered,
                     size_t *rows)
{
    *inflight = ib->ninflight;
    *answered = ib->tn - ib->ninflight;
    *rows = ib->rn - ib->rhead;
}

/* ---- recovery ---- */

struct rec_row {
    int64_t id;
    uint8_t *blob;
    size_t len;
};
struct rec_list {
    struct rec_row *v;
    size_t n, cap;
};

static void collect_row(int64_t id, const uint8_t *blob, size_t len, void *arg)
{
    struct rec_list *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = sl_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n].id = id;
    l->v[l->n].blob = sl_xmalloc(len ? len : 1);
    if (len)
        memcpy(l->v[l->n].blob, blob, len);
    l->v[l->n].len = len;
    l->n++;
}

int gw_inbox_recover(struct gw_inbox *ib,
                     void (*fn)(int64_t id, const uint8_t *frame, uint32_t len, uint64_t mid,
                                void *arg),
                     void *arg)
{
    struct rec_list l = {0};
    if (gw_queue_reads_each(ib->q, collect_row, &l) < 0) {
        SL_ERROR("gateway", "gateway.db: cannot read the inbox");
        return -1;
    }
    /* First pass: every row and every id in flight becomes known, since the work (second
     * pass) may finish a frame at once and must find its row.  A frame with an id already
     * known is no work: answered (its reply was acknowledged before the stop, in a row
     * with frames that were not), or a second copy of an id in flight. */
    size_t skipped = 0;
    for (size_t r = 0; r < l.n; r++) {
        size_t off = 0;
        uint64_t mid;
        const uint8_t *f;
        uint32_t len, pending = 0;
        int rc;
        while ((rc = gw_inbox_blob_next(l.v[r].blob, l.v[r].len, &off, &mid, &f, &len)) == 1) {
            if (mid && mid_find(ib, mid)) {
                skipped++;
                continue;
            }
            if (mid)
                mid_put(ib, mid)->idx = 0; /* idx 0: not yet given to fn */
            pending++;
        }
        if (rc < 0)
            SL_ERROR("gateway", "gateway.db: inbox row %lld is damaged after %zu bytes: the "
                     "frames before are answered, the rest is lost",
                     (long long)l.v[r].id, off);
        row_add(ib, l.v[r].id, pending);
    }
    /* Second pass: the frames counted above, in order.  With an id: the first record of
     * an id in flight whose idx is still 0 (set to 1 when given: a second copy in the
     * same row is skipped; an id fn has finished is no longer there). */
    int given = 0;
    for (size_t r = 0; r < l.n; r++) {
        size_t off = 0;
        uint64_t mid;
        const uint8_t *f;
        uint32_t len;
        while (gw_inbox_blob_next(l.v[r].blob, l.v[r].len, &off, &mid, &f, &len) == 1) {
            if (mid) {
                struct mid_ent *e = mid_find(ib, mid);
                if (!e || e->batch != 0 || e->idx != 0)
                    continue;
                e->idx = 1;
            }
            given++;
            fn(l.v[r].id, f, len, mid, arg);
        }
        free(l.v[r].blob);
    }
    free(l.v);
    if (skipped)
        SL_INFO("gateway", "inbox: %zu frames of rows cut short by the stop were answered "
                "before it: not answered again", skipped);
    return given;
}

/* ---- a read ---- */

int64_t gw_inbox_take(struct gw_inbox *ib, const void *frame, uint32_t len, uint64_t mid,
                      uint8_t **reply, size_t *rlen)
{
    *reply = NULL;
    *rlen = 0;
    if (gw_queue_begin(ib->q) != 0)
        return -1;
    struct mid_ent *e = mid_find(ib, mid);
    if (e && e->batch == 0)
        return GW_INBOX_INFLIGHT;
    if (e && e->batch == GW_PENDING) {
        const uint8_t *p;
        uint32_t l;
        if (gw_answered_blob_get(sl_buf_head(&ib->breplies), sl_buf_used(&ib->breplies),
                                 e->idx, &p, &l) == 0) {
            *reply = sl_xmalloc(l ? l : 1);
            if (l)
                memcpy(*reply, p, l);
            *rlen = l;
            return GW_INBOX_ANSWERED;
        }
    } else if (e && gw_queue_answered_reply(ib->q, e->batch, e->idx, reply, rlen) == 0) {
        return GW_INBOX_ANSWERED;
    }
    /* new (or an answer that cannot be read back: answered again, and a second answer is
     * dropped by the hub if it had the first) */
    if (!mid) {
        sl_buf_reset(&ib->one);
        gw_blob_put_frame(&ib->one, 0, frame, len);
        int64_t id = gw_queue_read_add(ib->q, sl_buf_head(&ib->one), sl_buf_used(&ib->one));
        if (id > 0)
            row_add(ib, id, 1);
        return id > 0 ? id : -1;
    }
    if (!ib->blob_n)
        sl_buf_reset(&ib->blob);
    gw_blob_put_frame(&ib->blob, mid, frame, len);
    ib->blob_n++;
    set_batch(ib, mid_put(ib, mid), 0, 0);
    return GW_INBOX_SHARED;
}

int64_t gw_inbox_read_end(struct gw_inbox *ib)
{
    if (!ib->blob_n)
        return 0;
    uint32_t n = ib->blob_n;
    ib->blob_n = 0;
    int64_t id = gw_queue_read_add(ib->q, sl_buf_head(&ib->blob), sl_buf_used(&ib->blob));
    if (id > 0) {
        row_add(ib, id, n);
        return id;
    }
    /* not stored: its ids are not in flight (a repeat would find nothing to wait for) */
    size_t off = 0;
    uint64_t mid;
    const uint8_t *f;
    uint32_t len;
    while (gw_inbox_blob_next(sl_buf_head(&ib->blob), sl_buf_used(&ib->blob), &off, &mid, &f,
                              &len) == 1) {
        struct mid_ent *e = mid_find(ib, mid);
        if (e && e->batch == 0)
            mid_del(ib, e);
    }
    return -1;
}

/* ---- acknowledgements ---- */

void gw_inbox_done(struct gw_inbox *ib, int64_t id, uint64_t mid, const void *reply,
                   size_t len)
{
    if (id <= 0)
        return;
    struct mid_ent *e = mid ? mid_find(ib, mid) : NULL;
    if (mid && reply && len <= SL_FRAME_DEFAULT_MAX) {
        if (!e)
            e = mid_put(ib, mid);
        set_batch(ib, e, GW_PENDING, ib->bn++);
        gw_blob_put_reply(&ib->bmids, &ib->breplies, mid, reply, (uint32_t)len);
    } else if (e && e->batch == 0) {
        mid_del(ib, e);
    }
    row_done(ib, id);
}

int gw_inbox_flush(struct gw_inbox *ib)
{
    if (!ib->bn && !ib->ngone && !prunable(ib))
        return 0;
    int rc = 0;
    gw_queue_begin(ib->q);
    if (ib->bn) {
        /* the batch first: should the deletions below be committed without it (no
         * transaction), a kill in between leaves rows whose ids are answered, which the
         * start skips */
        int64_t id = gw_queue_answered_add(ib->q, sl_buf_head(&ib->bmids),
                                           sl_buf_used(&ib->bmids), sl_buf_head(&ib->breplies),
                                           sl_buf_used(&ib->breplies));
        const uint8_t *mids = sl_buf_head(&ib->bmids);
        for (uint32_t i = 0; i < ib->bn; i++) {
            uint64_t mid = gw_mids_get(mids, i);
            struct mid_ent *e = mid_find(ib, mid);
            if (id > 0) {
                if (e && e->batch == GW_PENDING)
                    e->batch = id;
                ring_push(ib, mid);
            } else if (e && e->batch == GW_PENDING) {
                mid_del(ib, e); /* not kept: a repeat is answered anew */
            }
        }
        if (id > 0) {
            batch_push(ib, id, ib->bn);
        } else {
            /* The replies are not on disk: the rows stay, so a kill now makes the start
             * answer them again (the hub drops an answer it had), never lose one. */
            rc = -1;
            ib->ngone = 0;
        }
        ib->bn = 0;
        sl_buf_reset(&ib->bmids);
        sl_buf_reset(&ib->breplies);
    }
    for (size_t i = 0; i < ib->ngone; i++)
        if (gw_queue_read_done(ib->q, ib->gone[i]) != 0)
            rc = -1;
    ib->ngone = 0;
    int64_t upto = prune_memory(ib);
    if (upto > 0 && gw_queue_answered_prune(ib->q, upto) != 0)
        rc = -1;
    return rc;
}
