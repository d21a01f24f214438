/*
 * test_gateway_ilog.c - the inbox's log (src/gateway/gw_ilog.c, gw_inbox.c,
 * docs/gateway.md §5.1): records read back as written; a write cut short (a torn tail) or
 * a recycled file's old contents end the last segment and the next record goes in their
 * place; damage in an older segment loses only what follows it there; a segment file
 * without a valid header (a recycled one whose header was not written) is taken as empty;
 * with small segments the log stays bounded while a row left open for long is written
 * forward and survives restarts, and the kept replies stay readable; a conversion of
 * gateway.db cut short is done again, one that finished is not repeated; the read-only
 * inspection (`stateline inbox`) reports each segment as the scan sees it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gateway/gw_int.h"
#include "stateline/core.h"
#include "tmpdir.h"

/* What a scan found. */
struct seen {
    int n;
    int64_t seq[64];
    uint32_t seg[64];
    char text[64][32];
};

static void on_rec(const struct gw_ilog_rec *r, void *arg)
{
    struct seen *s = arg;
    assert_true(s->n < 64);
    assert_int_equal(r->type, GW_ILOG_READ);
    assert_true(r->len < 32);
    s->seq[s->n] = r->seq;
    s->seg[s->n] = r->seg;
    memcpy(s->text[s->n], r->payload, r->len);
    s->text[s->n][r->len] = 0;
    s->n++;
}

static struct gw_ilog *open_log(const char *dir, struct seen *s)
{
    char err[256] = "";
    memset(s, 0, sizeof *s);
    struct gw_ilog *lg = gw_ilog_open(dir, on_rec, s, err, sizeof err);
    if (!lg)
        print_error("%s\n", err);
    assert_non_null(lg);
    return lg;
}

static int64_t put(struct gw_ilog *lg, const char *text)
{
    struct iovec v = {(void *)text, strlen(text)};
    uint32_t seg;
    uint64_t off;
    int64_t seq = gw_ilog_append(lg, GW_ILOG_READ, &v, 1, &seg, &off);
    assert_true(seq > 0);
    return seq;
}

static void seg_file(const char *dir, uint32_t num, char *out, size_t cap)
{
    snprintf(out, cap, "%s/seg-%08u.log", dir, num);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void append_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void test_write_read_back(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-ilog");
    struct seen s;
    struct gw_ilog *lg = open_log(d, &s);
    assert_int_equal(s.n, 0);
    assert_int_equal(put(lg, "first"), 1);
    /* a record of several parts, read back whole */
    struct iovec v[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
    uint32_t seg;
    uint64_t off;
    assert_int_equal(gw_ilog_append(lg, GW_ILOG_READ, v, 3, &seg, &off), 2);
    struct sl_buf b = SL_BUF_INIT;
    uint32_t type;
    const uint8_t *p;
    size_t len;
    assert_int_equal(gw_ilog_read(lg, seg, off, 2, &b, &type, &p, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(p, "abcde", 5);
    /* asked with the wrong seq, or at the wrong place: refused */
    assert_int_equal(gw_ilog_read(lg, seg, off, 3, &b, &type, &p, &len), -1);
    assert_int_equal(gw_ilog_read(lg, seg, off + 1, 2, &b, &type, &p, &len), -1);
    gw_ilog_close(lg);
    lg = open_log(d, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.text[0], "first");
    assert_string_equal(s.text[1], "abcde");
    assert_int_equal(put(lg, "third"), 3);
    gw_ilog_close(lg);
    sl_buf_free(&b);
    test_rmdir(d);
}

/* A write cut short: every byte count of the last record; the records before stay, the
 * next is written in its place and read back after another start. */
static void test_torn_tail(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-ilog"), path[128];
    struct seen s;
    struct gw_ilog *lg = open_log(d, &s);
    put(lg, "one");
    put(lg, "two");
    gw_ilog_close(lg);
    seg_file(d, 1, path, sizeof path);
    long long whole = file_size(path);
    long long rec = GW_ILOG_REC_HDR + 3;
    for (long long cut = 1; cut < rec; cut++) {
        assert_int_equal(truncate(path, whole - cut), 0);
        lg = open_log(d, &s);
        assert_int_equal(s.n, 1);
        assert_string_equal(s.text[0], "one");
        assert_int_equal(put(lg, "TWO"), 2); /* in the torn record's place, same seq */
        gw_ilog_close(lg);
        lg = open_log(d, &s);
        assert_int_equal(s.n, 2);
        assert_string_equal(s.text[1], "TWO");
        gw_ilog_close(lg);
        assert_int_equal(file_size(path), whole);
    }
    /* garbage after the last record (what a recycled file or a torn longer record leaves) */
    uint8_t junk[100];
    memset(junk, 0xA5, sizeof junk);
    append_bytes(path, junk, sizeof junk);
    lg = open_log(d, &s);
    assert_int_equal(s.n, 2);
    put(lg, "3");
    gw_ilog_close(lg);
    lg = open_log(d, &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.text[2], "3");
    gw_ilog_close(lg);
    test_rmdir(d);
}

/* A record written with another segment's salt (a recycled file's old contents), or with
 * a seq that does not follow, is not taken; a flipped byte in an older segment ends that
 * segment only. */
static void test_stale_and_damaged(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-ilog"), path[128];
    struct seen s;
    struct gw_ilog *lg = open_log(d, &s);
    gw_ilog_set_seg_max(lg, 4096);
    put(lg, "a1");
    put(lg, "a2");
    gw_ilog_close(lg);
    seg_file(d, 1, path, sizeof path);
    /* a well-formed record of seq 3 under another salt */
    uint8_t h[GW_ILOG_REC_HDR];
    struct iovec v = {"zz", 2};
    gw_ilog_rec_header(h, 12345, 3, GW_ILOG_READ, &v, 1);
    append_bytes(path, h, sizeof h);
    append_bytes(path, "zz", 2);
    lg = open_log(d, &s);
    assert_int_equal(s.n, 2);
    gw_ilog_close(lg);

    /* segment 1 full, then segment 2 with records */
    lg = open_log(d, &s);
    gw_ilog_set_seg_max(lg, 4096);
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    struct iovec bv = {big, sizeof big - 1};
    uint32_t seg;
    uint64_t off;
    assert_int_equal(gw_ilog_append(lg, GW_ILOG_READ, &bv, 1, &seg, &off), 3);
    assert_int_equal(gw_ilog_append(lg, GW_ILOG_READ, &bv, 1, &seg, &off), 4);
    assert_true(gw_ilog_full(lg));
    assert_int_equal(gw_ilog_rotate(lg, 0), 0); /* nothing retired */
    assert_int_equal(gw_ilog_current(lg), 2);
    assert_int_equal(put(lg, "b5"), 5);
    gw_ilog_close(lg);
    /* the finished segment was cut to its last record: the stale one is gone */
    assert_int_equal(file_size(path), 32 + 2 * (GW_ILOG_REC_HDR + 2) +
                                          2 * (GW_ILOG_REC_HDR + (long long)sizeof big - 1));
    /* flip a byte of record 2 in segment 1: 1 stays, 2 to 4 are lost, 5 is there */
    FILE *io = fopen(path, "r+b");
    assert_non_null(io);
    assert_int_equal(fseek(io, 32 + GW_ILOG_REC_HDR + 2 + GW_ILOG_REC_HDR, SEEK_SET), 0);
    fputc('!', io);
    fclose(io);
    lg = open_log(d, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.text[0], "a1");
    assert_int_equal(s.seq[1], 5);
    assert_string_equal(s.text[1], "b5");
    assert_int_equal(put(lg, "b6"), 6);
    gw_ilog_close(lg);
    test_rmdir(d);
}

/* What gw_ilog_inspect reports (`stateline inbox`), and that it writes nothing. */
struct reports {
    int n;
    struct gw_ilog_seg_report r[8];
    int records;
};

static void rep_seg(const struct gw_ilog_seg_report *s, void *arg)
{
    struct reports *x = arg;
    assert_true(x->n < 8);
    x->r[x->n++] = *s;
}

static void rep_rec(const struct gw_ilog_rec *r, void *arg)
{
    (void)r;
    ((struct reports *)arg)->records++;
}

static void test_inspect(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-ilog"), p1[128], p2[128], err[256];
    struct seen s;
    struct gw_ilog *lg = open_log(d, &s);
    gw_ilog_set_seg_max(lg, 64);
    put(lg, "a1");
    put(lg, "a2");
    assert_int_equal(gw_ilog_rotate(lg, 0), 0);
    put(lg, "b3");
    gw_ilog_close(lg);
    seg_file(d, 1, p1, sizeof p1);
    seg_file(d, 2, p2, sizeof p2);
    append_bytes(p2, "tail", 4);
    struct reports x = {0};
    assert_int_equal(gw_ilog_inspect(d, rep_rec, rep_seg, &x, err, sizeof err), 0);
    assert_int_equal(x.n, 2);
    assert_int_equal(x.records, 3);
    assert_int_equal(x.r[0].status, GW_ILOG_SEG_OK);
    assert_int_equal(x.r[0].first_seq, 1);
    assert_int_equal(x.r[0].records, 2);
    assert_int_equal(x.r[1].status, GW_ILOG_SEG_TAIL);
    assert_int_equal(x.r[1].size, x.r[1].valid + 4);
    assert_int_equal(file_size(p2), (long long)x.r[1].size); /* nothing written */
    /* damage in the first: the second is then missing records */
    FILE *io = fopen(p1, "r+b");
    assert_non_null(io);
    assert_int_equal(fseek(io, 32 + GW_ILOG_REC_HDR, SEEK_SET), 0);
    fputc('!', io);
    fclose(io);
    memset(&x, 0, sizeof x);
    assert_int_equal(gw_ilog_inspect(d, rep_rec, rep_seg, &x, err, sizeof err), 0);
    assert_int_equal(x.r[0].status, GW_ILOG_SEG_DAMAGED);
    assert_int_equal(x.r[0].records, 0);
    assert_int_equal(x.r[1].gap, 2);
    assert_int_equal(x.records, 1);
    /* a folder that is not there */
    char nd[160];
    snprintf(nd, sizeof nd, "%s/none", d);
    assert_int_equal(gw_ilog_inspect(nd, rep_rec, rep_seg, &x, err, sizeof err), -1);
    test_rmdir(d);
}

/* A segment file whose header is not valid (a recycled file renamed, its header not yet
 * written) is empty: when it is the last, it is started again. */
static void test_header_missing(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-ilog"), p1[128], p2[128];
    struct seen s;
    struct gw_ilog *lg = open_log(d, &s);
    put(lg, "r1");
    put(lg, "r2");
    gw_ilog_close(lg);
    /* a copy of segment 1 as segment 2: its header says seq 1, below what 1 ended at */
    seg_file(d, 1, p1, sizeof p1);
    seg_file(d, 2, p2, sizeof p2);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", p1, p2);
    assert_int_equal(system(cmd), 0);
    lg = open_log(d, &s);
    assert_int_equal(s.n, 2); /* not four */
    assert_int_equal(gw_ilog_current(lg), 2);
    assert_int_equal(put(lg, "r3"), 3);
    gw_ilog_close(lg);
    lg = open_log(d, &s);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.seg[2], 2);
    gw_ilog_close(lg);
    /* zeros for a header */
    FILE *io = fopen(p2, "r+b");
    assert_non_null(io);
    static const uint8_t z[32];
    assert_int_equal(fwrite(z, 1, sizeof z, io), sizeof z);
    fclose(io);
    lg = open_log(d, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(put(lg, "r3 again"), 3);
    gw_ilog_close(lg);
    test_rmdir(d);
}

/* ---- through gw_inbox ---- */

struct got {
    int n;
    int64_t id[8];
    uint64_t mid[8];
};

static void got_one(int64_t id, const uint8_t *frame, uint32_t len, uint64_t mid, void *arg)
{
    struct got *g = arg;
    (void)frame;
    (void)len;
    assert_true(g->n < 8);
    g->id[g->n] = id;
    g->mid[g->n] = mid;
    g->n++;
}

struct opened {
    struct gw_queue *q;
    struct gw_inbox *ib;
};

static struct opened open_dir(const char *d, uint64_t seg_max)
{
    char err[256] = "";
    struct opened o;
    o.q = gw_queue_open(d, err, sizeof err);
    assert_non_null(o.q);
    o.ib = gw_inbox_open(o.q);
    assert_non_null(o.ib);
    gw_inbox_set_seg_max(o.ib, seg_max);
    return o;
}

static void stop(struct opened *o)
{
    gw_inbox_free(o->ib);
    gw_queue_close(o->q);
}

static int count_segs(const char *d)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "ls '%s/inbox' | grep -c '^seg-' > '%s/n'", d, d);
    assert_int_equal(system(cmd), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/n", d);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n = -1;
    assert_int_equal(fscanf(f, "%d", &n), 1);
    fclose(f);
    return n;
}

/* Segments of 64 KB, 30,000 queries with replies of 200 bytes, one query left open from
 * the start: the log stays within the kept replies and a segment or two, the open query
 * is written forward and comes back at each start, the kept replies read back. */
static void test_rotation_bounded(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-ilog");
    struct opened o = open_dir(d, 65536);
    uint8_t *reply;
    size_t len;
    char frame[100], rep[200];
    memset(frame, 'q', sizeof frame);
    memset(rep, 'r', sizeof rep);
    const uint64_t stuck = 1ull << 50;
    assert_int_equal(gw_inbox_take(o.ib, "STUCK", 5, stuck, &reply, &len), GW_INBOX_SHARED);
    int64_t stuck_row = gw_inbox_read_end(o.ib);
    assert_true(stuck_row > 0);
    enum { N = 30000, READ = 10 };
    int max_segs = 0;
    for (uint64_t m = 1; m <= N; m += READ) {
        for (uint64_t k = m; k < m + READ; k++)
            assert_int_equal(gw_inbox_take(o.ib, frame, sizeof frame, k, &reply, &len),
                             GW_INBOX_SHARED);
        int64_t r = gw_inbox_read_end(o.ib);
        assert_true(r > 0);
        for (uint64_t k = m; k < m + READ; k++) {
            memcpy(rep, &k, sizeof k);
            gw_inbox_done(o.ib, r, k, rep, sizeof rep);
        }
        assert_int_equal(gw_inbox_flush(o.ib), 0);
        int n = (int)gw_inbox_segments(o.ib);
        if (n > max_segs)
            max_segs = n;
    }
    /* per query: its frame in a READ of 10 (1,152 / 10 bytes) and its reply in a BATCH
     * of 10 (2,160 / 10 bytes); at most 21,000 ids and a pass kept, plus the segment being
     * written and the one whose batches were just forgotten */
    const double per = (1152 + 2160) / 10.0;
    assert_true(max_segs <= (int)(21010 * per / 65536) + 3);
    assert_true(max_segs >= (int)(20000 * per / 65536));
    assert_int_equal(count_segs(d), (int)gw_inbox_segments(o.ib));
    stop(&o);

    o = open_dir(d, 65536);
    struct got g = {0};
    assert_int_equal(gw_inbox_recover(o.ib, got_one, &g), 1);
    assert_int_equal(g.id[0], stuck_row);
    assert_int_equal(g.mid[0], stuck);
    /* a kept reply reads back, byte for byte; a forgotten one is new */
    uint64_t k = N - 5;
    assert_int_equal(gw_inbox_take(o.ib, frame, sizeof frame, k, &reply, &len),
                     GW_INBOX_ANSWERED);
    assert_int_equal(len, sizeof rep);
    memcpy(rep, &k, sizeof k);
    assert_memory_equal(reply, rep, sizeof rep);
    free(reply);
    assert_int_equal(gw_inbox_take(o.ib, frame, sizeof frame, 3, &reply, &len),
                     GW_INBOX_SHARED);
    gw_inbox_read_end(o.ib);
    /* the stuck query answered at last: nothing left open after another start */
    gw_inbox_done(o.ib, stuck_row, stuck, "DONE", 4);
    assert_int_equal(gw_inbox_flush(o.ib), 0);
    stop(&o);
    o = open_dir(d, 65536);
    memset(&g, 0, sizeof g);
    assert_int_equal(gw_inbox_recover(o.ib, got_one, &g), 1); /* query 3, read above */
    assert_int_equal(g.mid[0], 3);
    assert_int_equal(gw_inbox_take(o.ib, "S", 1, stuck, &reply, &len), GW_INBOX_ANSWERED);
    assert_memory_equal(reply, "DONE", 4);
    free(reply);
    stop(&o);
    test_rmdir(d);
}

static void exec_sql(const char *d, const char *sql)
{
    char path[128];
    snprintf(path, sizeof path, "%s/gateway.db", d);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *e = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK)
        print_error("%s\n", e);
    assert_null(e);
    sqlite3_close(db);
}

/* gateway.db of the version before the log: its rows go into the log once.  A log left
 * in inbox.new (a conversion cut short) is thrown away and the conversion done again; a
 * log in place with the tables still there (cut short after the rename) only drops them. */
static void test_convert_once(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-ilog");
    /* mids 1 and 3 answered in one batch; a row with 3 (answered there) and 4 */
    static const char sql[] =
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE inbox_read(id INTEGER PRIMARY KEY, received_us INTEGER NOT NULL,"
        " frames BLOB NOT NULL);"
        "CREATE TABLE answered_batch(id INTEGER PRIMARY KEY, at_us INTEGER NOT NULL,"
        " mids BLOB NOT NULL, replies BLOB NOT NULL);"
        "INSERT INTO answered_batch VALUES(1, 1, x'00000000000000010000000000000003',"
        " x'000000025231000000025233');"
        "INSERT INTO inbox_read VALUES(5, 1, x'00000002000000000000000351330000000200000000"
        "000000045134');";
    exec_sql(d, sql);
    /* a conversion cut short before its rename */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir '%s/inbox.new' && echo junk > '%s/inbox.new/seg-00000001.log'",
             d, d);
    assert_int_equal(system(cmd), 0);
    struct opened o = open_dir(d, GW_ILOG_SEG_MAX);
    struct got g = {0};
    assert_int_equal(gw_inbox_recover(o.ib, got_one, &g), 1);
    assert_int_equal(g.mid[0], 4); /* 3 was answered */
    uint8_t *reply;
    size_t len;
    assert_int_equal(gw_inbox_take(o.ib, "x", 1, 3, &reply, &len), GW_INBOX_ANSWERED);
    assert_int_equal(len, 2);
    assert_memory_equal(reply, "R3", 2);
    free(reply);
    stop(&o);
    struct stat st;
    char path[128];
    snprintf(path, sizeof path, "%s/inbox.new", d);
    assert_int_not_equal(stat(path, &st), 0);
    /* the tables again (as if the drop had not been committed): not converted twice */
    exec_sql(d, sql);
    o = open_dir(d, GW_ILOG_SEG_MAX);
    memset(&g, 0, sizeof g);
    assert_int_equal(gw_inbox_recover(o.ib, got_one, &g), 1);
    size_t inflight, answered, rows;
    gw_inbox_counts(o.ib, &inflight, &answered, &rows);
    assert_int_equal(answered, 2);
    assert_int_equal(rows, 1);
    stop(&o);
    test_rmdir(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_read_back),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_stale_and_damaged),
        cmocka_unit_test(test_header_missing),
        cmocka_unit_test(test_inspect),
        cmocka_unit_test(test_rotation_bounded),
        cmocka_unit_test(test_convert_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
