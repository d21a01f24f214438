/*
 * test_gateway_inbox.c - the gateway's inbox (src/gateway/gw_inbox.c, gw_ilog.c,
 * docs/gateway.md §5): one READ record per read, done (in a BATCH record) when every
 * frame of it is answered; the memory of switch message ids in flight and answered,
 * rebuilt from the log DATA/inbox/ at start;
 * a row cut short by a kill (some of its replies acknowledged) gives only its unanswered
 * frames back; the answered ids are kept (at least the last 20,000) in rows of one pass
 * each; the blob parsers refuse what is not a record; a gateway.db of the versions before
 * (one inbox row per query, with and without the mid column, and the answered table) is
 * converted at open and loses nothing.  The log itself (segments, torn tails, damage,
 * rotation) is tested in test_gateway_ilog.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gateway/gw_int.h"
#include "stateline/core.h"
#include "tmpdir.h"

/* One SQL count from d/gateway.db (a second connection: what is committed). */
static long long count(const char *d, const char *sql)
{
    char path[128];
    snprintf(path, sizeof path, "%s/gateway.db", d);
    sqlite3 *db;
    sqlite3_stmt *s;
    long long n = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* What the log in d/inbox says (read only, as a start would read it): rows not done,
 * BATCH records with ids, ids in them. */
struct disk {
    long long rows, batches, mids;
    int64_t *open;
    size_t nopen, cap;
};

static void disk_rec(const struct gw_ilog_rec *r, void *arg)
{
    struct disk *k = arg;
    if (r->type == GW_ILOG_READ) {
        assert_true(r->len >= 8);
        int64_t id = (int64_t)gw_ilog_u64(r->payload, 0);
        if (!id)
            id = r->seq;
        for (size_t i = 0; i < k->nopen; i++)
            if (k->open[i] == id)
                return; /* a copy written forward */
        if (k->nopen == k->cap)
            k->open = sl_xrealloc(k->open, (k->cap = k->cap * 2 + 16) * sizeof *k->open);
        k->open[k->nopen++] = id;
        return;
    }
    struct gw_ilog_batch b;
    assert_int_equal(gw_ilog_batch_parse(r->payload, r->len, &b), 0);
    if (b.n)
        k->batches++;
    k->mids += b.n;
    for (uint32_t j = 0; j < b.ndone; j++) {
        int64_t id = (int64_t)gw_ilog_u64(b.done, j);
        for (size_t i = 0; i < k->nopen; i++)
            if (k->open[i] == id) {
                k->open[i] = k->open[--k->nopen];
                break;
            }
    }
}

static struct disk disk(const char *d)
{
    char dir[128], err[256] = "";
    struct disk k = {0};
    snprintf(dir, sizeof dir, "%s/inbox", d);
    assert_int_equal(gw_ilog_inspect(dir, disk_rec, NULL, &k, err, sizeof err), 0);
    k.rows = (long long)k.nopen;
    free(k.open);
    return k;
}

struct opened {
    struct gw_queue *q;
    struct gw_inbox *ib;
};

static struct opened open_dir(const char *d)
{
    char err[256] = "";
    struct opened o;
    o.q = gw_queue_open(d, err, sizeof err);
    if (!o.q)
        print_error("%s\n", err);
    assert_non_null(o.q);
    o.ib = gw_inbox_open(o.q);
    assert_non_null(o.ib);
    return o;
}

/* A stop: what was committed stays, nothing more is written (as after kill -9, once the
 * loop pass's commit is done). */
static void stop(struct opened *o)
{
    gw_inbox_free(o->ib);
    gw_queue_close(o->q);
}

static int64_t take(struct gw_inbox *ib, const char *frame, uint64_t mid, uint8_t **reply,
                    size_t *len)
{
    return gw_inbox_take(ib, frame, (uint32_t)strlen(frame), mid, reply, len);
}

/* What gw_inbox_recover gave back. */
struct got {
    int n;
    int64_t id[16];
    uint64_t mid[16];
    char frame[16][64];
};

static void got_one(int64_t id, const uint8_t *frame, uint32_t len, uint64_t mid, void *arg)
{
    struct got *g = arg;
    assert_true(g->n < 16);
    assert_true(len < 64);
    g->id[g->n] = id;
    g->mid[g->n] = mid;
    memcpy(g->frame[g->n], frame, len);
    g->frame[g->n][len] = 0;
    g->n++;
}

static const char dr1[] = "DR.WAOLN0000.WASP00000.TXT\nMID/1099511627777\nNOT ON FILE";

static void test_read_row_and_ids(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-inbox");
    struct opened o = open_dir(d);
    uint8_t *reply;
    size_t len;
    const uint64_t m1 = 1099511627777ull, m2 = m1 + 1;
    /* one read: two queries with ids, a second copy of the first, one frame without id */
    assert_int_equal(take(o.ib, "DQ.WASP00000\n1", m1, &reply, &len), GW_INBOX_SHARED);
    assert_null(reply);
    assert_int_equal(take(o.ib, "DQ.WASP00000\n2", m2, &reply, &len), GW_INBOX_SHARED);
    assert_int_equal(take(o.ib, "DQ.WASP00000\n1", m1, &reply, &len), GW_INBOX_INFLIGHT);
    int64_t own = take(o.ib, "AM.WASP00000\n", 0, &reply, &len);
    assert_true(own > 0);
    int64_t row = gw_inbox_read_end(o.ib);
    assert_true(row > own);
    assert_int_equal(gw_inbox_read_end(o.ib), 0); /* an empty read writes nothing */
    assert_int_equal(gw_queue_commit(o.q), 0);
    assert_int_equal(disk(d).rows, 2);
    /* a later read: both ids are in flight */
    assert_int_equal(take(o.ib, "DQ.WASP00000\n2", m2, &reply, &len), GW_INBOX_INFLIGHT);
    size_t inflight, answered, rows;
    gw_inbox_counts(o.ib, &inflight, &answered, &rows);
    assert_int_equal(inflight, 2);
    assert_int_equal(answered, 0);
    assert_int_equal(rows, 2);
    /* the AM is no query: done at once; its row goes at the next flush */
    gw_inbox_done(o.ib, own, 0, NULL, 0);
    assert_int_equal(gw_inbox_flush(o.ib), 0);
    assert_int_equal(gw_queue_commit(o.q), 0);
    assert_int_equal(disk(d).rows, 1);
    /* the first reply acknowledged: the row stays (one frame left), the reply is kept */
    gw_inbox_done(o.ib, row, m1, dr1, sizeof dr1 - 1);
    assert_int_equal(gw_inbox_flush(o.ib), 0);
    assert_int_equal(gw_queue_commit(o.q), 0);
    assert_int_equal(disk(d).rows, 1);
    assert_int_equal(disk(d).batches, 1);
    assert_int_equal(take(o.ib, "DQ.WASP00000\n1", m1, &reply, &len), GW_INBOX_ANSWERED);
    assert_non_null(reply);
    assert_int_equal(len, sizeof dr1 - 1);
    assert_memory_equal(reply, dr1, len);
    free(reply);
    /* the second: the row is deleted in the pass that keeps its reply */
    gw_inbox_done(o.ib, row, m2, "DR two", 6);
    assert_int_equal(gw_inbox_flush(o.ib), 0);
    assert_int_equal(gw_queue_commit(o.q), 0);
    assert_int_equal(disk(d).rows, 0);
    assert_int_equal(disk(d).batches, 2);
    gw_inbox_counts(o.ib, &inflight, &answered, &rows);
    assert_int_equal(inflight, 0);
    assert_int_equal(answered, 2);
    assert_int_equal(rows, 0);
    /* nothing to do: no statement, no error */
    assert_int_equal(gw_inbox_flush(o.ib), 0);
    stop(&o);

    /* after a restart: the answered ids are known again, the replies read back */
    o = open_dir(d);
    struct got g = {0};
    assert_int_equal(gw_inbox_recover(o.ib, got_one, &g), 0);
    assert_int_equal(take(o.ib, "DQ.WASP00000\n2", m2, &reply, &len), GW_INBOX_ANSWERED);
    assert_int_equal(len, 6);
    assert_memory_equal(reply, "DR two", 6);
    free(reply);
    assert_int_equal(take(o.ib, "DQ.WASP00000\n1", m1, &reply, &len), GW_INBOX_ANSWERED);
    assert_memory_equal(reply, dr1, sizeof dr1 - 1);
    free(reply);
    /* the largest id there is, and an unknown one */
    assert_int_equal(take(o.ib, "x", UINT64_MAX, &reply, &len), GW_INBOX_SHARED);
    assert_int_equal(take(o.ib, "y", 42, &reply, &len), GW_INBOX_SHARED);
    assert_true(gw_inbox_read_end(o.ib) > 0);
    assert_int_equal(take(o.ib, "x", UINT64_MAX, &reply, &len), GW_INBOX_INFLIGHT);
    assert_int_equal(gw_queue_commit(o.q), 0);
    stop(&o);
    test_rmdir(d);
}

static void test_recover_row_cut_short(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-inbox");
    struct opened o = open_dir(d);
    uint8_t *reply;
    size_t len;
    /* read 1: ids 11 12 13; read 2: id 14 and a frame without id (a row of its own) */
    assert_int_equal(take(o.ib, "q11", 11, &reply, &len), GW_INBOX_SHARED);
    assert_int_equal(take(o.ib, "q12", 12, &reply, &len), GW_INBOX_SHARED);
    assert_int_equal(take(o.ib, "q13", 13, &reply, &len), GW_INBOX_SHARED);
    int64_t r1 = gw_inbox_read_end(o.ib);
    assert_int_equal(take(o.ib, "q14", 14, &reply, &len), GW_INBOX_SHARED);
    int64_t own = take(o.ib, "q--", 0, &reply, &len);
    int64_t r2 = gw_inbox_read_end(o.ib);
    assert_true(r1 > 0 && own > r1 && r2 > own);
    assert_int_equal(gw_queue_commit(o.q), 0);
    /* the reply to 11 is acknowledged and kept; then the kill */
    gw_inbox_done(o.ib, r1, 11, "R11", 3);
    assert_int_equal(gw_inbox_flush(o.ib), 0);
    assert_int_equal(gw_queue_commit(o.q), 0);
    /* (12's acknowledgement seen, but the pass not flushed: lost with the process) */
    gw_inbox_done(o.ib, r1, 12, "R12", 3);
    gw_inbox_free(o.ib);
    gw_queue_close(o.q);

    o = open_dir(d);
    struct got g = {0};
    assert_int_equal(gw_inbox_recover(o.ib, got_one, &g), 4);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.frame[0], "q12");
    assert_int_equal(g.id[0], r1);
    assert_int_equal(g.mid[0], 12);
    assert_string_equal(g.frame[1], "q13");
    assert_string_equal(g.frame[2], "q--");
    assert_int_equal(g.id[2], own);
    assert_int_equal(g.mid[2], 0);
    assert_string_equal(g.frame[3], "q14");
    assert_int_equal(g.id[3], r2);
    /* 11 was answered: a repeat gets its reply; the others are in flight again */
    assert_int_equal(take(o.ib, "q11", 11, &reply, &len), GW_INBOX_ANSWERED);
    assert_memory_equal(reply, "R11", 3);
    free(reply);
    assert_int_equal(take(o.ib, "q12", 12, &reply, &len), GW_INBOX_INFLIGHT);
    assert_int_equal(take(o.ib, "q14", 14, &reply, &len), GW_INBOX_INFLIGHT);
    /* answering them all empties the inbox */
    gw_inbox_done(o.ib, r1, 12, "R12", 3);
    gw_inbox_done(o.ib, r1, 13, "R13", 3);
    gw_inbox_done(o.ib, own, 0, "R--", 3);
    gw_inbox_done(o.ib, r2, 14, "R14", 3);
    assert_int_equal(gw_inbox_flush(o.ib), 0);
    assert_int_equal(gw_queue_commit(o.q), 0);
    assert_int_equal(disk(d).rows, 0);
    stop(&o);
    /* and a start finds nothing more to answer */
    o = open_dir(d);
    memset(&g, 0, sizeof g);
    assert_int_equal(gw_inbox_recover(o.ib, got_one, &g), 0);
    assert_int_equal(take(o.ib, "q13", 13, &reply, &len), GW_INBOX_ANSWERED);
    assert_memory_equal(reply, "R13", 3);
    free(reply);
    stop(&o);
    test_rmdir(d);
}

/* A row finished before an older one (only frames without a reply) is done first; the
 * next row gets a new id (its record's seq) and is still finished when its frames are
 * done. */
static void test_row_id_reused(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-inbox");
    struct opened o = open_dir(d);
    uint8_t *reply;
    size_t len;
    assert_int_equal(take(o.ib, "q1", 1, &reply, &len), GW_INBOX_SHARED);
    assert_int_equal(take(o.ib, "q2", 2, &reply, &len), GW_INBOX_SHARED);
    int64_t a = gw_inbox_read_end(o.ib);
    assert_int_equal(take(o.ib, "am", 3, &reply, &len), GW_INBOX_SHARED);
    int64_t b = gw_inbox_read_end(o.ib);
    assert_int_equal(gw_queue_commit(o.q), 0);
    gw_inbox_done(o.ib, b, 3, NULL, 0); /* not a query: done before a's */
    assert_int_equal(gw_inbox_flush(o.ib), 0);
    assert_int_equal(gw_queue_commit(o.q), 0);
    assert_int_equal(take(o.ib, "q4", 4, &reply, &len), GW_INBOX_SHARED);
    int64_t c = gw_inbox_read_end(o.ib);
    assert_true(c > b); /* a new id */
    assert_int_equal(gw_queue_commit(o.q), 0);
    gw_inbox_done(o.ib, c, 4, "R4", 2);
    assert_int_equal(gw_inbox_flush(o.ib), 0);
    assert_int_equal(gw_queue_commit(o.q), 0);
    assert_int_equal(disk(d).rows, 1);
    size_t inflight, answered, rows;
    gw_inbox_counts(o.ib, &inflight, &answered, &rows);
    assert_int_equal(rows, 1);
    assert_int_equal(inflight, 2);
    gw_inbox_done(o.ib, a, 2, "R2", 2);
    gw_inbox_done(o.ib, a, 1, "R1", 2);
    assert_int_equal(gw_inbox_flush(o.ib), 0);
    assert_int_equal(gw_queue_commit(o.q), 0);
    assert_int_equal(disk(d).rows, 0);
    gw_inbox_counts(o.ib, &inflight, &answered, &rows);
    assert_int_equal(rows, 0);
    assert_int_equal(inflight, 0);
    assert_int_equal(answered, 3);
    stop(&o);
    test_rmdir(d);
}

/* Ids in flight and answered in large numbers (the table grows, entries are deleted out
 * of order): every id is where it should be. */
static void test_many_ids(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-inbox");
    struct opened o = open_dir(d);
    uint8_t *reply;
    size_t len;
    enum { N = 30000, PER_READ = 50 };
    const uint64_t base = 7ull << 40;
    int64_t *row = sl_xmalloc(N * sizeof *row);
    for (int i = 0; i < N; i += PER_READ) {
        for (int k = i; k < i + PER_READ; k++)
            assert_int_equal(take(o.ib, "q", base + (uint64_t)k, &reply, &len),
                             GW_INBOX_SHARED);
        int64_t r = gw_inbox_read_end(o.ib);
        assert_true(r > 0);
        for (int k = i; k < i + PER_READ; k++)
            row[k] = r;
    }
    assert_int_equal(gw_queue_commit(o.q), 0);
    /* even ids answered (a pass per read), odd ids finished without a reply */
    for (int i = 0; i < N; i += PER_READ) {
        for (int k = i; k < i + PER_READ; k++)
            gw_inbox_done(o.ib, row[k], base + (uint64_t)k, k % 2 ? NULL : "R", 1);
        assert_int_equal(gw_inbox_flush(o.ib), 0);
    }
    assert_int_equal(gw_queue_commit(o.q), 0);
    assert_int_equal(disk(d).rows, 0);
    size_t inflight, answered, rows;
    gw_inbox_counts(o.ib, &inflight, &answered, &rows);
    assert_int_equal(inflight, 0);
    assert_int_equal(rows, 0);
    assert_int_equal(answered, N / 2);
    for (int k = 0; k < N; k++) {
        int64_t r = take(o.ib, "q", base + (uint64_t)k, &reply, &len);
        if (k % 2) {
            assert_int_equal(r, GW_INBOX_SHARED); /* forgotten: a new query */
        } else {
            assert_int_equal(r, GW_INBOX_ANSWERED);
            free(reply);
        }
    }
    gw_inbox_read_end(o.ib);
    assert_int_equal(gw_queue_commit(o.q), 0);
    free(row);
    stop(&o);
    test_rmdir(d);
}

static void test_answered_bounded(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-inbox");
    struct opened o = open_dir(d);
    uint8_t *reply;
    size_t len;
    enum { N = 25000, PASS = 100 };
    for (uint64_t mid = 1; mid <= N; mid += PASS) {
        for (uint64_t m = mid; m < mid + PASS; m++)
            assert_int_equal(take(o.ib, "q", m, &reply, &len), GW_INBOX_SHARED);
        int64_t r = gw_inbox_read_end(o.ib);
        for (uint64_t m = mid; m < mid + PASS; m++)
            gw_inbox_done(o.ib, r, m, "R", 1);
        assert_int_equal(gw_inbox_flush(o.ib), 0);
        assert_int_equal(gw_queue_commit(o.q), 0);
    }
    /* whole batches are forgotten while at least 20,000 ids stay, at most 21,000 + one;
     * the log still holds them all (one segment: nothing to retire yet) */
    size_t inflight, answered, rows;
    gw_inbox_counts(o.ib, &inflight, &answered, &rows);
    size_t kept = answered;
    assert_true(kept >= GW_ANSWERED_KEEP && kept <= GW_ANSWERED_KEEP + 1000 + PASS);
    assert_int_equal(disk(d).mids, N);
    assert_int_equal(take(o.ib, "q", 1, &reply, &len), GW_INBOX_SHARED); /* pruned */
    assert_int_equal(take(o.ib, "q", N - GW_ANSWERED_KEEP + 1, &reply, &len),
                     GW_INBOX_ANSWERED);
    free(reply);
    gw_inbox_read_end(o.ib);
    assert_int_equal(gw_queue_commit(o.q), 0);
    stop(&o);
    /* after a restart: the same bound (the scan reads every id the log has, and forgets
     * whole batches as the pass would) */
    o = open_dir(d);
    gw_inbox_counts(o.ib, &inflight, &answered, &rows);
    assert_true(answered >= GW_ANSWERED_KEEP && answered <= GW_ANSWERED_KEEP + 1000 + PASS);
    assert_int_equal(take(o.ib, "q", N - GW_ANSWERED_KEEP + 1, &reply, &len),
                     GW_INBOX_ANSWERED);
    free(reply);
    assert_int_equal(take(o.ib, "q", N, &reply, &len), GW_INBOX_ANSWERED);
    assert_int_equal(len, 1);
    free(reply);
    stop(&o);
    test_rmdir(d);
}

static void test_blob_parsers(void **state)
{
    (void)state;
    struct sl_buf b = SL_BUF_INIT, mids = SL_BUF_INIT, replies = SL_BUF_INIT;
    gw_blob_put_frame(&b, 5, "abc", 3);
    gw_blob_put_frame(&b, 0, "", 0);
    gw_blob_put_frame(&b, UINT64_MAX, "z", 1);
    size_t off = 0;
    uint64_t mid;
    const uint8_t *f;
    uint32_t len;
    const uint8_t *p = sl_buf_head(&b);
    size_t n = sl_buf_used(&b);
    assert_int_equal(n, 3 * GW_INBOX_REC_HDR + 4);
    assert_int_equal(gw_inbox_blob_next(p, n, &off, &mid, &f, &len), 1);
    assert_int_equal(mid, 5);
    assert_int_equal(len, 3);
    assert_memory_equal(f, "abc", 3);
    assert_int_equal(gw_inbox_blob_next(p, n, &off, &mid, &f, &len), 1);
    assert_int_equal(mid, 0);
    assert_int_equal(len, 0);
    assert_int_equal(gw_inbox_blob_next(p, n, &off, &mid, &f, &len), 1);
    assert_int_equal(mid, UINT64_MAX);
    assert_int_equal(gw_inbox_blob_next(p, n, &off, &mid, &f, &len), 0);
    /* cut anywhere inside a record: refused, never read past the end */
    for (size_t cut = 1; cut < GW_INBOX_REC_HDR + 3; cut++) {
        off = 0;
        assert_int_equal(gw_inbox_blob_next(p, cut, &off, &mid, &f, &len), -1);
        assert_int_equal(off, 0);
    }
    /* a length over the frame maximum */
    uint8_t big[GW_INBOX_REC_HDR] = {0x00, 0x10, 0x00, 0x01};
    off = 0;
    assert_int_equal(gw_inbox_blob_next(big, sizeof big, &off, &mid, &f, &len), -1);
    uint8_t huge[GW_INBOX_REC_HDR] = {0xff, 0xff, 0xff, 0xff};
    off = 0;
    assert_int_equal(gw_inbox_blob_next(huge, sizeof huge, &off, &mid, &f, &len), -1);

    gw_blob_put_reply(&mids, &replies, 9, "first", 5);
    gw_blob_put_reply(&mids, &replies, 10, "", 0);
    gw_blob_put_reply(&mids, &replies, 11, "third", 5);
    assert_int_equal(sl_buf_used(&mids), 24);
    assert_int_equal(gw_mids_get(sl_buf_head(&mids), 2), 11);
    const uint8_t *r;
    p = sl_buf_head(&replies);
    n = sl_buf_used(&replies);
    assert_int_equal(gw_answered_blob_get(p, n, 0, &r, &len), 0);
    assert_memory_equal(r, "first", 5);
    assert_int_equal(gw_answered_blob_get(p, n, 1, &r, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(gw_answered_blob_get(p, n, 2, &r, &len), 0);
    assert_memory_equal(r, "third", 5);
    assert_int_equal(gw_answered_blob_get(p, n, 3, &r, &len), -1);
    assert_int_equal(gw_answered_blob_get(p, n - 1, 2, &r, &len), -1);
    assert_int_equal(gw_answered_blob_get(p, 0, 0, &r, &len), -1);
    sl_buf_free(&b);
    sl_buf_free(&mids);
    sl_buf_free(&replies);
}

/* gateway.db as the per-query versions wrote it. */
static void write_old(const char *d, int with_mid)
{
    char path[128];
    snprintf(path, sizeof path, "%s/gateway.db", d);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    const char *sql =
        with_mid
            ? "PRAGMA journal_mode=WAL;"
              "CREATE TABLE inbox(id INTEGER PRIMARY KEY, received_us INTEGER NOT NULL,"
              " frame BLOB NOT NULL, mid INTEGER);"
              "CREATE INDEX inbox_mid ON inbox(mid);"
              "CREATE TABLE answered(seq INTEGER PRIMARY KEY, mid INTEGER NOT NULL UNIQUE,"
              " at_us INTEGER NOT NULL, reply BLOB NOT NULL);"
              "INSERT INTO inbox VALUES(7, 1, CAST('DQ seven' AS BLOB), 1099511627784);"
              "INSERT INTO inbox VALUES(9, 2, CAST('AM nine' AS BLOB), NULL);"
              "INSERT INTO inbox VALUES(12, 3, CAST('DQ twelve' AS BLOB), 1099511627790);"
              "INSERT INTO answered VALUES(1, 1099511627780, 5, CAST('DR old 80' AS BLOB));"
              "INSERT INTO answered VALUES(2, 1099511627781, 6, CAST('DR old 81' AS BLOB));"
            : "CREATE TABLE inbox(id INTEGER PRIMARY KEY, received_us INTEGER NOT NULL,"
              " frame BLOB NOT NULL);"
              "INSERT INTO inbox VALUES(7, 1, x'4451');";
    char *e = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK)
        print_error("%s\n", e);
    assert_null(e);
    sqlite3_close(db);
}

static void test_migrate_old_gateway_db(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-inbox");
    write_old(d, 1);
    struct opened o = open_dir(d);
    /* converted: the old tables are gone, their rows are in the log */
    assert_int_equal(count(d, "SELECT count(*) FROM sqlite_master WHERE name IN ('inbox',"
                              " 'answered', 'inbox_mid', 'inbox_read', 'answered_batch')"),
                     0);
    assert_int_equal(disk(d).rows, 3);
    assert_int_equal(disk(d).batches, 1);
    /* the old inbox rows are answered at start, oldest first, with their ids */
    struct got g = {0};
    assert_int_equal(gw_inbox_recover(o.ib, got_one, &g), 3);
    assert_string_equal(g.frame[0], "DQ seven");
    assert_int_equal(g.mid[0], 1099511627784ull);
    assert_string_equal(g.frame[1], "AM nine");
    assert_int_equal(g.mid[1], 0);
    assert_string_equal(g.frame[2], "DQ twelve");
    assert_true(g.id[0] < g.id[1] && g.id[1] < g.id[2]);
    uint8_t *reply;
    size_t len;
    /* a repeat of one of them is in flight; of an old answered one, its old reply */
    assert_int_equal(take(o.ib, "DQ seven", 1099511627784ull, &reply, &len),
                     GW_INBOX_INFLIGHT);
    assert_int_equal(take(o.ib, "DQ", 1099511627781ull, &reply, &len), GW_INBOX_ANSWERED);
    assert_int_equal(len, 9);
    assert_memory_equal(reply, "DR old 81", 9);
    free(reply);
    /* answering them empties the inbox, as for rows of the new form */
    for (int i = 0; i < 3; i++)
        gw_inbox_done(o.ib, g.id[i], g.mid[i], g.mid[i] ? "DR" : NULL, 2);
    assert_int_equal(gw_inbox_flush(o.ib), 0);
    assert_int_equal(gw_queue_commit(o.q), 0);
    assert_int_equal(disk(d).rows, 0);
    stop(&o);
    /* opened again: nothing left to convert or answer, the answered ids all there */
    o = open_dir(d);
    memset(&g, 0, sizeof g);
    assert_int_equal(gw_inbox_recover(o.ib, got_one, &g), 0);
    assert_int_equal(take(o.ib, "DQ", 1099511627780ull, &reply, &len), GW_INBOX_ANSWERED);
    assert_memory_equal(reply, "DR old 80", 9);
    free(reply);
    assert_int_equal(take(o.ib, "DQ", 1099511627790ull, &reply, &len), GW_INBOX_ANSWERED);
    free(reply);
    stop(&o);
    test_rmdir(d);

    /* the version before the ids: an inbox without the mid column */
    d = test_tmpdir("gw-inbox");
    write_old(d, 0);
    o = open_dir(d);
    memset(&g, 0, sizeof g);
    assert_int_equal(gw_inbox_recover(o.ib, got_one, &g), 1);
    assert_string_equal(g.frame[0], "DQ");
    assert_int_equal(g.mid[0], 0);
    stop(&o);
    test_rmdir(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_row_and_ids),
        cmocka_unit_test(test_recover_row_cut_short),
        cmocka_unit_test(test_row_id_reused),
        cmocka_unit_test(test_many_ids),
        cmocka_unit_test(test_answered_bounded),
        cmocka_unit_test(test_blob_parsers),
        cmocka_unit_test(test_migrate_old_gateway_db),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
