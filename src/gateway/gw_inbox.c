/*
 * gw_inbox.c - the gateway's inbox (docs/gateway.md §5, §5.1): what it keeps in memory,
 * and what it writes to its log (gw_ilog.c: DATA/inbox/, records READ and BATCH, format
 * in that file's header comment).
 *
 * A read of the hub line costs one READ record (all the new frames it brought), written
 * before any of them is worked on; a pass over the hub's acknowledgements costs one BATCH
 * record (the replies acknowledged, and the rows whose frames are now all done).  One
 * write(2) each, no fsync (a record in the page cache survives a kill).  What the log says
 * is held here, rebuilt by the scan at open:
 *
 *   ids      switch message id -> in flight (0) or the BATCH (its seq, and position) of
 *            its reply (GW_PENDING: in this pass's batch, not yet written).  Open
 *            addressing, linear probing, deletion by backward shift; at most half full.
 *   rows     the rows (reads) not yet done, ascending by id (a row's id is the seq of its
 *            READ record), each with the number of its frames whose reply has not been
 *            acknowledged and where its READ record is (segment, offset, seq).
 *   batches  the BATCH records whose ids are kept, oldest first, with their count of ids
 *            and where they are, and the ids themselves in a ring in the same order:
 *            pruning forgets whole batches from the front while at least
 *            GW_ANSWERED_KEEP ids stay.
 *
 * Segments: when the one written is full (GW_ILOG_SEG_MAX), those older than the oldest
 * kept batch are retired (gw_ilog_rotate); a row still open in one of them is first
 * written again (its frames not known answered, under the same row id) into the current
 * segment.  So the log holds the kept replies, the open rows, and at most a segment more.
 *
 * Invariant: a frame read is in a READ record of a row not done until its reply is
 * acknowledged; the reply is then in a BATCH record, the one that says the row is done or
 * one before it (a row with several frames).  So after a kill each query is in an open
 * row (answered at start, unless its id is answered), or answered (a repeat gets the same
 * reply), or was never stored (the hub delivers it again).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "gw_int.h"
#include "stateline/be.h"
#include "stateline/buf.h"
#include "stateline/core.h"
#include "stateline/frame.h"

#define GW_PENDING (-1)            /* batch of an id acknowledged in this pass */
#define GW_PRUNE_STEP 1000         /* prune when this many ids over GW_ANSWERED_KEEP */

struct mid_ent {
    uint64_t mid;                  /* 0: empty slot */
    int64_t batch;                 /* 0 in flight, GW_PENDING, or the seq of the BATCH
                                      record holding its reply */
    uint32_t idx;                  /* position in the batch (in flight: 1 once recovery
                                      has given the frame to its handler) */
};

/* Where a record is in the log. */
struct at {
    uint32_t seg;
    uint64_t off;
    int64_t seq;
};

struct row_ent {
    int64_t id;
    uint32_t pending;              /* frames whose reply is not acknowledged */
    struct at at;                  /* its READ record (the latest copy) */
};

struct batch_ent {
    int64_t id;                    /* the seq of its BATCH record */
    uint32_t n;
    struct at at;
};

/* A row found by the scan at open, until gw_inbox_recover. */
struct load_ent {
    int64_t id;
    struct at at;
    int done;
};
/* gw_ilog_lower_bound reads the id at offset 0 */
_Static_assert(offsetof(struct row_ent, id) == 0 && offsetof(struct batch_ent, id) == 0 &&
                   offsetof(struct load_ent, id) == 0,
               "the sorted tables keep their id first");

struct gw_inbox {
    struct gw_queue *q;
    struct gw_ilog *lg;
    struct sl_buf rd;              /* a record read back */
    struct load_ent *load;         /* rows found at open, ascending by id */
    size_t nload, loadcap;
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

static void row_add(struct gw_inbox *ib, int64_t id, uint32_t pending, struct at where)
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
    /* ascending by id: a new row's id is the seq of its record, the highest, so this is an
     * append (at start the rows come in order too) */
    size_t at = ib->rn;
    while (at > ib->rhead && ib->rows[at - 1].id > id)
        at--;
    memmove(ib->rows + at + 1, ib->rows + at, (ib->rn - at) * sizeof *ib->rows);
    ib->rows[at].id = id;
    ib->rows[at].pending = pending;
    ib->rows[at].at = where;
    ib->rn++;
}

static struct row_ent *row_find(struct gw_inbox *ib, int64_t id)
{
    size_t lo = gw_ilog_lower_bound(ib->rows, sizeof *ib->rows, ib->rhead, ib->rn, id);
    return lo < ib->rn && ib->rows[lo].id == id ? &ib->rows[lo] : NULL;
}

/* A frame of row id is done; a row with none left leaves the array at once, and goes into
 * the next BATCH record's list of rows done. */
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

static void batch_push(struct gw_inbox *ib, int64_t id, uint32_t n, struct at where)
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
    ib->batches[ib->bhead + ib->bn_rows].at = where;
    ib->bn_rows++;
}

/* Are GW_PRUNE_STEP ids over GW_ANSWERED_KEEP, and can the oldest row go? */
static int prunable(const struct gw_inbox *ib)
{
    return ib->ring_n >= GW_ANSWERED_KEEP + GW_PRUNE_STEP && ib->bn_rows &&
           ib->ring_n - ib->batches[ib->bhead].n >= GW_ANSWERED_KEEP;
}

/* Forget the oldest batches while GW_ANSWERED_KEEP ids stay (their segments can then be
 * retired); returns the id of the last one forgotten, 0 if none. */
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


/* The bytes of b (NULL when it never held any: no pointer arithmetic on NULL). */
static uint8_t *bytes(const struct sl_buf *b)
{
    return b->data ? sl_buf_head(b) : NULL;
}

static int64_t u64_at(const uint8_t *p)
{
    return (int64_t)gw_ilog_u64(p, 0);
}

/* ---- the scan at open ---- */

static struct load_ent *load_find(struct gw_inbox *ib, int64_t id, size_t *pos)
{
    size_t lo = gw_ilog_lower_bound(ib->load, sizeof *ib->load, 0, ib->nload, id);
    *pos = lo;
    return lo < ib->nload && ib->load[lo].id == id ? &ib->load[lo] : NULL;
}

static void load_read(struct gw_inbox *ib, const struct gw_ilog_rec *r)
{
    if (r->len < 8) {
        SL_ERROR("gateway", "inbox: READ record %lld has no row id (damaged): skipped",
                 (long long)r->seq);
        return;
    }
    int64_t id = u64_at(r->payload);
    if (id == 0)
        id = r->seq;
    struct at where = {r->seg, r->off, r->seq};
    size_t pos;
    struct load_ent *e = load_find(ib, id, &pos);
    if (e) { /* a copy written forward: the latest is read at recovery */
        e->at = where;
        return;
    }
    if (ib->nload == ib->loadcap) {
        ib->loadcap = ib->loadcap ? ib->loadcap * 2 : 64;
        ib->load = sl_xrealloc(ib->load, ib->loadcap * sizeof *ib->load);
    }
    memmove(ib->load + pos + 1, ib->load + pos, (ib->nload - pos) * sizeof *ib->load);
    ib->load[pos].id = id;
    ib->load[pos].at = where;
    ib->load[pos].done = 0;
    ib->nload++;
}

static void load_batch(struct gw_inbox *ib, const struct gw_ilog_rec *r)
{
    struct gw_ilog_batch b;
    if (gw_ilog_batch_parse(r->payload, r->len, &b) != 0) {
        SL_ERROR("gateway", "inbox: BATCH record %lld: counts past its end (damaged): "
                 "skipped", (long long)r->seq);
        return;
    }
    for (uint32_t i = 0; i < b.n; i++) {
        uint64_t mid = gw_ilog_u64(b.mids, i);
        ring_push(ib, mid); /* (an id 0, never written, is only counted) */
        if (mid)
            set_batch(ib, mid_put(ib, mid), r->seq, i);
    }
    if (b.n) {
        struct at where = {r->seg, r->off, r->seq};
        batch_push(ib, r->seq, b.n, where);
    }
    for (uint32_t i = 0; i < b.ndone; i++) {
        size_t pos;
        struct load_ent *e = load_find(ib, (int64_t)gw_ilog_u64(b.done, i), &pos);
        if (e)
            e->done = 1;
    }
}

static void on_record(const struct gw_ilog_rec *r, void *arg)
{
    struct gw_inbox *ib = arg;
    if (r->type == GW_ILOG_READ)
        load_read(ib, r);
    else
        load_batch(ib, r);
}

/* ---- converting the tables of gateway.db's versions before the log ---- */

struct conv {
    struct gw_ilog *lg;
    int n, failed;
};

static void conv_append(struct conv *c, uint32_t type, struct iovec *v, int nv)
{
    uint32_t seg;
    uint64_t off;
    if (c->failed)
        return;
    if (gw_ilog_append(c->lg, type, v, nv, &seg, &off) < 0) {
        c->failed = 1;
        return;
    }
    c->n++;
    if (gw_ilog_full(c->lg) && gw_ilog_rotate(c->lg, 0) != 0)
        c->failed = 1;
}

static void conv_batch(const uint8_t *mids, size_t mlen, const uint8_t *replies, size_t rlen,
                       void *arg)
{
    uint8_t h[8];
    uint32_t n = (uint32_t)(mlen / 8);
    if (mlen % 8)
        SL_ERROR("gateway", "gateway.db: an answered row with ids of %zu bytes (damaged); "
                 "the whole ones converted", mlen);
    h[0] = (uint8_t)(n >> 24), h[1] = (uint8_t)(n >> 16), h[2] = (uint8_t)(n >> 8);
    h[3] = (uint8_t)n, h[4] = h[5] = h[6] = h[7] = 0;
    struct iovec v[3] = {{h, 8}, {(void *)mids, (size_t)n * 8}, {(void *)replies, rlen}};
    conv_append(arg, GW_ILOG_BATCH, v, 3);
}

static void conv_read(const uint8_t *frames, size_t len, void *arg)
{
    uint8_t id[8] = {0}; /* 0: the row's id is its record's seq */
    struct iovec v[2] = {{id, 8}, {(void *)frames, len}};
    conv_append(arg, GW_ILOG_READ, v, 2);
}

static void ignore_rec(const struct gw_ilog_rec *r, void *arg)
{
    (void)r;
    (void)arg;
}

/* fn on each file of dir (not . or ..): 0, or -1 when dir cannot be read or fn failed for
 * one (the others are still done). */
static int each_file(const char *dir, int (*fn)(const char *path))
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[SL_GW_PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (fn(path) != 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

static int unlink_file(const char *path) { return unlink(path); }

static int sync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fdatasync(fd);
    close(fd);
    return rc;
}

/* Remove dir and the files in it (a conversion cut short). */
static void remove_dir(const char *dir)
{
    each_file(dir, unlink_file);
    rmdir(dir);
}

/* Sync every file in dir and dir itself (once, at a conversion). */
static int sync_dir(const char *dir)
{
    int rc = each_file(dir, sync_file);
    if (sl_fsync_dir(dir) != 0)
        rc = -1;
    return rc;
}

/* No log yet: the rows of gateway.db's inbox tables (if any) are written into a new one
 * in DATA/inbox.new, synced, and that is renamed DATA/inbox: the log appears whole or
 * not at all.  The tables are dropped after (gw_inbox_open): a kill in between finds the
 * log there and only drops them. */
static int convert(struct gw_queue *q, const char *dir)
{
    char tmp[SL_GW_PATH_MAX + 32], err[300];
    snprintf(tmp, sizeof tmp, "%s.new", dir);
    remove_dir(tmp);
    struct conv c = {0};
    c.lg = gw_ilog_open(tmp, ignore_rec, NULL, err, sizeof err);
    if (!c.lg) {
        SL_ERROR("gateway", "inbox: converting gateway.db's inbox: %s", err);
        return -1;
    }
    int rows = gw_queue_old_inbox(q, conv_batch, conv_read, &c);
    gw_ilog_close(c.lg);
    if (rows < 0 || c.failed) {
        SL_ERROR("gateway", "inbox: converting gateway.db's inbox into %s failed: nothing "
                 "changed", tmp);
        remove_dir(tmp);
        return -1;
    }
    if (!rows) { /* nothing to convert: the log starts empty */
        remove_dir(tmp);
        return 0;
    }
    /* the new log's files and its entry, then the rename's entry in DATA (not DATA's
     * other files: nothing of theirs changed) */
    if (sync_dir(tmp) != 0 || rename(tmp, dir) != 0 || sl_fsync_dir(gw_queue_dir(q)) != 0) {
        SL_ERROR("gateway", "inbox: converting gateway.db's inbox: %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    SL_INFO("gateway", "inbox: %d rows of gateway.db's inbox tables (inbox_read, "
            "answered_batch) written into %s as %d records", rows, dir, c.n);
    return 0;
}

struct gw_inbox *gw_inbox_open(struct gw_queue *q)
{
    char dir[SL_GW_PATH_MAX + 16], err[300];
    snprintf(dir, sizeof dir, "%s/inbox", gw_queue_dir(q));
    struct stat st;
    if (stat(dir, &st) != 0 && convert(q, dir) != 0)
        return NULL;
    if (gw_queue_old_inbox_drop(q) != 0)
        return NULL;
    struct gw_inbox *ib = sl_xcalloc(1, sizeof *ib);
    ib->q = q;
    sl_buf_init(&ib->blob);
    sl_buf_init(&ib->one);
    sl_buf_init(&ib->bmids);
    sl_buf_init(&ib->breplies);
    sl_buf_init(&ib->rd);
    ib->lg = gw_ilog_open(dir, on_record, ib, err, sizeof err);
    if (!ib->lg) {
        SL_ERROR("gateway", "inbox: %s", err);
        gw_inbox_free(ib);
        return NULL;
    }
    /* the rows done are gone; the answered ids over the bound are forgotten as they would
     * have been at the next pass */
    size_t k = 0;
    for (size_t i = 0; i < ib->nload; i++)
        if (!ib->load[i].done)
            ib->load[k++] = ib->load[i];
    ib->nload = k;
    prune_memory(ib);
    return ib;
}

void gw_inbox_free(struct gw_inbox *ib)
{
    if (!ib)
        return;
    gw_ilog_close(ib->lg);
    free(ib->tab);
    free(ib->rows);
    free(ib->gone);
    free(ib->batches);
    free(ib->ring);
    free(ib->load);
    sl_buf_free(&ib->blob);
    sl_buf_free(&ib->one);
    sl_buf_free(&ib->bmids);
    sl_buf_free(&ib->breplies);
    sl_buf_free(&ib->rd);
    free(ib);
}

void gw_inbox_counts(const struct gw_inbox *ib, size_t *inflight, size_t *answered,
                     size_t *rows)
{
    *inflight = ib->ninflight;
    *answered = ib->tn - ib->ninflight;
    *rows = ib->rn - ib->rhead + ib->nload;
}

size_t gw_inbox_segments(const struct gw_inbox *ib)
{
    return gw_ilog_segments(ib->lg);
}

void gw_inbox_set_seg_max(struct gw_inbox *ib, uint64_t bytes)
{
    gw_ilog_set_seg_max(ib->lg, bytes);
}

/* ---- recovery ---- */

struct rec_row {
    int64_t id;
    struct at at;
    uint8_t *blob;
    size_t len;
};

int gw_inbox_recover(struct gw_inbox *ib,
                     void (*fn)(int64_t id, const uint8_t *frame, uint32_t len, uint64_t mid,
                                void *arg),
                     void *arg)
{
    size_t n = ib->nload;
    struct rec_row *l = sl_xcalloc(n ? n : 1, sizeof *l);
    for (size_t r = 0; r < n; r++) {
        uint32_t type;
        const uint8_t *p;
        size_t len;
        l[r].id = ib->load[r].id;
        l[r].at = ib->load[r].at;
        if (gw_ilog_read(ib->lg, l[r].at.seg, l[r].at.off, l[r].at.seq, &ib->rd, &type, &p,
                         &len) != 0 ||
            type != GW_ILOG_READ || len < 8) {
            SL_ERROR("gateway", "inbox: row %lld cannot be read back: its frames are lost "
                     "(the hub delivers again what it has not seen answered)",
                     (long long)l[r].id);
            len = 8;
        }
        l[r].len = len - 8;
        l[r].blob = sl_xmalloc(l[r].len ? l[r].len : 1);
        if (l[r].len)
            memcpy(l[r].blob, p + 8, l[r].len);
    }
    free(ib->load);
    ib->load = NULL;
    ib->nload = ib->loadcap = 0;
    /* First pass: every row and every id in flight becomes known, since the work (second
     * pass) may finish a frame at once and must find its row.  A frame with an id already
     * known is no work: answered (its reply was acknowledged before the stop, in a row
     * with frames that were not), or a second copy of an id in flight. */
    size_t skipped = 0;
    for (size_t r = 0; r < n; r++) {
        size_t off = 0;
        uint64_t mid;
        const uint8_t *f;
        uint32_t len, pending = 0;
        int rc;
        while ((rc = gw_inbox_blob_next(l[r].blob, l[r].len, &off, &mid, &f, &len)) == 1) {
            if (mid && mid_find(ib, mid)) {
                skipped++;
                continue;
            }
            if (mid)
                mid_put(ib, mid)->idx = 0; /* idx 0: not yet given to fn */
            pending++;
        }
        if (rc < 0)
            SL_ERROR("gateway", "inbox: row %lld is damaged after %zu bytes: the frames "
                     "before are answered, the rest is lost", (long long)l[r].id, off);
        row_add(ib, l[r].id, pending, l[r].at);
    }
    /* Second pass: the frames counted above, in order.  With an id: the first record of
     * an id in flight whose idx is still 0 (set to 1 when given: a second copy in the
     * same row is skipped; an id fn has finished is no longer there). */
    int given = 0;
    for (size_t r = 0; r < n; r++) {
        size_t off = 0;
        uint64_t mid;
        const uint8_t *f;
        uint32_t len;
        while (gw_inbox_blob_next(l[r].blob, l[r].len, &off, &mid, &f, &len) == 1) {
            if (mid) {
                struct mid_ent *e = mid_find(ib, mid);
                if (!e || e->batch != 0 || e->idx != 0)
                    continue;
                e->idx = 1;
            }
            given++;
            fn(l[r].id, f, len, mid, arg);
        }
        free(l[r].blob);
    }
    free(l);
    if (skipped)
        SL_INFO("gateway", "inbox: %zu frames of rows cut short by the stop were answered "
                "before it: not answered again", skipped);
    return given;
}

/* ---- segments ---- */

/* The segment written is full: rows open in segments older than the oldest kept batch
 * are written again into it (only their frames not known answered, under the same row
 * id), then those segments are retired and a new one starts. */
static void rotate(struct gw_inbox *ib)
{
    uint32_t keep = ib->bn_rows ? ib->batches[ib->bhead].at.seg : gw_ilog_current(ib->lg);
    struct sl_buf copy = SL_BUF_INIT;
    for (size_t i = ib->rhead; i < ib->rn; i++) {
        struct row_ent *r = &ib->rows[i];
        if (r->at.seg >= keep)
            continue;
        uint32_t type;
        const uint8_t *p;
        size_t len;
        if (gw_ilog_read(ib->lg, r->at.seg, r->at.off, r->at.seq, &ib->rd, &type, &p, &len) !=
                0 ||
            len < 8) {
            /* cannot be copied: its segment stays (the next rotation tries again) */
            keep = r->at.seg;
            continue;
        }
        sl_buf_reset(&copy);
        uint8_t *h = sl_buf_reserve(&copy, 8);
        sl_be_put64(h, (uint64_t)r->id);
        sl_buf_commit(&copy, 8);
        size_t off = 8;
        uint64_t mid;
        const uint8_t *f;
        uint32_t fl;
        while (gw_inbox_blob_next(p, len, &off, &mid, &f, &fl) == 1) {
            struct mid_ent *e = mid ? mid_find(ib, mid) : NULL;
            if (e && e->batch > 0)
                continue; /* answered, and that is on disk */
            gw_blob_put_frame(&copy, mid, f, fl);
        }
        struct iovec v = {bytes(&copy), sl_buf_used(&copy)};
        struct at where;
        where.seq = gw_ilog_append(ib->lg, GW_ILOG_READ, &v, 1, &where.seg, &where.off);
        if (where.seq > 0)
            r->at = where;
        else
            keep = r->at.seg;
    }
    sl_buf_free(&copy);
    gw_ilog_rotate(ib->lg, keep);
}

static int64_t append(struct gw_inbox *ib, uint32_t type, const struct iovec *v, int nv,
                      struct at *where)
{
    where->seq = gw_ilog_append(ib->lg, type, v, nv, &where->seg, &where->off);
    return where->seq;
}

static void maybe_rotate(struct gw_inbox *ib)
{
    if (gw_ilog_full(ib->lg))
        rotate(ib);
}

/* ---- a read ---- */

/* The reply i of the BATCH record id into *reply (sl_xmalloc'd): 0, or -1 (logged). */
static int batch_reply(struct gw_inbox *ib, int64_t id, uint32_t i, uint8_t **reply,
                       size_t *rlen)
{
    size_t lo = gw_ilog_lower_bound(ib->batches, sizeof *ib->batches, ib->bhead,
                                    ib->bhead + ib->bn_rows, id);
    if (lo == ib->bhead + ib->bn_rows || ib->batches[lo].id != id)
        return -1;
    struct at *a = &ib->batches[lo].at;
    uint32_t type;
    const uint8_t *p, *r;
    size_t len;
    uint32_t l;
    struct gw_ilog_batch b;
    if (gw_ilog_read(ib->lg, a->seg, a->off, a->seq, &ib->rd, &type, &p, &len) != 0 ||
        type != GW_ILOG_BATCH || gw_ilog_batch_parse(p, len, &b) != 0 ||
        gw_answered_blob_get(b.replies, b.rlen, i, &r, &l) != 0) {
        SL_ERROR("gateway", "inbox: BATCH record %lld has no reply %u (damaged)",
                 (long long)id, i);
        return -1;
    }
    *reply = sl_xmalloc(l ? l : 1);
    if (l)
        memcpy(*reply, r, l);
    *rlen = l;
    return 0;
}

/* A READ record of the frames in b (a row id 0 in its payload: the row's id is the
 * record's seq).  Its id, -1 on error. */
static int64_t write_row(struct gw_inbox *ib, const struct sl_buf *b, uint32_t n)
{
    static const uint8_t own_id[8];
    struct iovec v[2] = {{(void *)own_id, 8}, {bytes(b), sl_buf_used(b)}};
    struct at where;
    int64_t id = append(ib, GW_ILOG_READ, v, 2, &where);
    if (id > 0) {
        row_add(ib, id, n, where);
        maybe_rotate(ib);
    }
    return id;
}

int64_t gw_inbox_take(struct gw_inbox *ib, const void *frame, uint32_t len, uint64_t mid,
                      uint8_t **reply, size_t *rlen)
{
    *reply = NULL;
    *rlen = 0;
    struct mid_ent *e = mid_find(ib, mid);
    if (e && e->batch == 0)
        return GW_INBOX_INFLIGHT;
    if (e && e->batch == GW_PENDING) {
        const uint8_t *p;
        uint32_t l;
        if (gw_answered_blob_get(bytes(&ib->breplies), sl_buf_used(&ib->breplies),
                                 e->idx, &p, &l) == 0) {
            *reply = sl_xmalloc(l ? l : 1);
            if (l)
                memcpy(*reply, p, l);
            *rlen = l;
            return GW_INBOX_ANSWERED;
        }
    } else if (e && batch_reply(ib, e->batch, e->idx, reply, rlen) == 0) {
        return GW_INBOX_ANSWERED;
    }
    /* new (or an answer that cannot be read back: answered again, and a second answer is
     * dropped by the hub if it had the first) */
    if (!mid) {
        sl_buf_reset(&ib->one);
        gw_blob_put_frame(&ib->one, 0, frame, len);
        int64_t id = write_row(ib, &ib->one, 1);
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
    int64_t id = write_row(ib, &ib->blob, n);
    if (id > 0)
        return id;
    /* not stored: its ids are not in flight (a repeat would find nothing to wait for) */
    size_t off = 0;
    uint64_t mid;
    const uint8_t *f;
    uint32_t len;
    while (gw_inbox_blob_next(bytes(&ib->blob), sl_buf_used(&ib->blob), &off, &mid, &f,
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
    /* a pass of very many replies is written in more than one record */
    if (sl_buf_used(&ib->breplies) >= GW_ILOG_REC_MAX / 2)
        gw_inbox_flush(ib);
}

int gw_inbox_flush(struct gw_inbox *ib)
{
    if (!ib->bn && !ib->ngone) {
        prune_memory(ib);
        return 0;
    }
    int rc = 0;
    /* one record: the replies acknowledged and the rows now done, whole or not at all */
    uint8_t h[8];
    uint32_t nd = (uint32_t)ib->ngone;
    sl_be_put32(h, ib->bn);
    sl_be_put32(h + 4, nd);
    /* the row ids, big-endian, in place of the array (it is emptied below) */
    uint8_t *done = (uint8_t *)ib->gone;
    for (size_t i = 0; i < ib->ngone; i++)
        sl_be_put64(done + i * 8, (uint64_t)ib->gone[i]);
    struct iovec v[4] = {{h, 8},
                         {bytes(&ib->bmids), sl_buf_used(&ib->bmids)},
                         {done, ib->ngone * 8},
                         {bytes(&ib->breplies), sl_buf_used(&ib->breplies)}};
    struct at where;
    int64_t id = append(ib, GW_ILOG_BATCH, v, 4, &where);
    const uint8_t *mids = bytes(&ib->bmids);
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
    if (id > 0 && ib->bn) {
        batch_push(ib, id, ib->bn, where);
    } else if (id <= 0) {
        /* The replies are not on disk: the rows are not done there either, so a kill now
         * makes the start answer them again (the hub drops an answer it had), never lose
         * one. */
        rc = -1;
    }
    ib->bn = 0;
    ib->ngone = 0;
    sl_buf_reset(&ib->bmids);
    sl_buf_reset(&ib->breplies);
    prune_memory(ib);
    if (id > 0)
        maybe_rotate(ib);
    return rc;
}
