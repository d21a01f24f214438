/*
 * test_archive_schema.c - the archive's storage schema (src/archive/archive.c,
 * docs/archive.md §2): a schema 1 database (AUTOINCREMENT, an index on t, FTS5 with
 * per-row sizes) is migrated at open and keeps its messages, sequence numbers and
 * searches; a newer schema is refused; sequence numbers are never reused, even after every
 * row expired; expiry follows tw along seq; withheld messages stay out of the index; the
 * full-text index lags the commits (index_every_ms), flush and close catch it up, a crash
 * between a commit and its indexing is repaired at the next open, and expiry never
 * deletes a row the index does not hold yet.
 * Each test uses its own database in a fresh temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "stateline/archive.h"
#include "stateline/buf.h"
#include "stateline/dir.h"
#include "stateline/msg.h"

struct fx {
    char dir[64];
    char path[128];
    struct sl_archive *a;
    int64_t now; /* 2026-11-26 12:00 UTC */
};

static int64_t T(const char *s)
{
    int64_t t;
    assert_int_equal(sl_archive_parse_time(s, strlen(s), 0, &t), 0);
    return t;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/sl-archschema-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/archive.db", f->dir);
    f->now = T("20261126@1200");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sl_archive_close(f->a);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int open_conf(struct fx *f, int readonly, int index_every_ms, int expire_every_ms,
                     char *err, size_t errlen)
{
    struct sl_archive_conf c;
    sl_archive_conf_default(&c);
    c.path = f->path;
    c.expire_every_ms = expire_every_ms;
    c.search_queue = 0;
    c.readonly = readonly;
    c.index_every_ms = index_every_ms;
    return sl_archive_open(&c, &f->a, err, errlen);
}

static int open_fx(struct fx *f, int readonly, char *err, size_t errlen)
{
    return open_conf(f, readonly, 1000, 0, err, errlen);
}

/* The index an hour behind: nothing but flush, close or expire indexes. */
static void open_lagging(struct fx *f, int expire_every_ms)
{
    char err[256];
    int rc = open_conf(f, 0, 3600 * 1000, expire_every_ms, err, sizeof err);
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
}

/* Wait (bounded) until the writer committed n rows: the first message after a quiet
 * spell is committed at once. */
static void wait_rows(struct fx *f, int64_t n)
{
    for (int i = 0; i < 1000 && sl_archive_count(f->a) < n; i++)
        usleep(10000);
    assert_int_equal(sl_archive_count(f->a), n);
}

static void open_ok(struct fx *f, int readonly)
{
    char err[256];
    int rc = open_fx(f, readonly, err, sizeof err);
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
}

static void reopen(struct fx *f)
{
    sl_archive_close(f->a);
    f->a = NULL;
    open_ok(f, 0);
}

static uint64_t put(struct fx *f, int64_t t, const char *key, const char *text)
{
    struct sl_archive_rec r = {t, key, "WASP00000", NULL, "CA", NULL, "", text, strlen(text)};
    uint64_t seq = 0;
    assert_int_equal(sl_archive_put(f->a, &r, &seq), 0);
    return seq;
}

/* The hits of an NLQ (fields only) as an operator, newest first: "4,1". */
static void expect_hits(struct fx *f, const char *fields, const char *want)
{
    struct sl_ori w;
    memset(&w, 0, sizeof w);
    strcpy(w.ori, "WASP00000");
    memcpy(w.member, "WA", 2);
    strcpy(w.cats, "ACDZ");
    strcpy(w.type, "PD");
    w.status = 'A';
    w.rand = 1;
    char in[512];
    snprintf(in, sizeof in, "NLQ.WASP00000.NL.TXT\n%s", fields);
    struct sl_msg m;
    memset(&m, 0, sizeof m);
    struct sl_msg_err me;
    assert_int_equal(sl_msg_parse(in, strlen(in), &m, &me), 0);
    struct sl_archive_query q;
    char err[160];
    assert_int_equal(sl_archive_query_parse(&m, &q, err, sizeof err), 0);
    sl_msg_clear(&m);
    struct sl_buf warn = SL_BUF_INIT;
    assert_int_equal(sl_archive_authorise(&w, &q, &warn), 0);
    sl_buf_free(&warn);
    struct sl_archive_hits *h = malloc(sizeof *h);
    assert_int_equal(sl_archive_search(f->a, &q, f->now, h), 0);
    char got[256] = "";
    for (int i = 0; i < h->n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", i ? "," : "",
                 (unsigned long long)h->hit[i].seq);
    if (strcmp(got, want) != 0)
        print_error("%s\n  want %s\n  got  %s\n", fields, want, got);
    assert_string_equal(got, want);
    free(h);
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        print_error("%s: %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
}

static int64_t sql_int(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sl_archive_sql_functions(db), SQLITE_OK);
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        print_error("%s: %s\n", sql, sqlite3_errmsg(db));
    assert_int_equal(rc, SQLITE_OK);
    int64_t v = -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void integrity(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sl_archive_sql_functions(db), SQLITE_OK);
    exec_ok(db, "INSERT INTO msg_fts(msg_fts) VALUES('integrity-check')");
    sqlite3_close(db);
}

/* Schema 1 exactly as stateline wrote it until schema 2 (archive.c, SCHEMA_VERSION "1"). */
static const char v1_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS msg("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " t INTEGER NOT NULL,"
    " tw INTEGER NOT NULL,"
    " key TEXT NOT NULL,"
    " src TEXT NOT NULL, src_mbr TEXT NOT NULL,"
    " dst TEXT NOT NULL, dst_mbr TEXT NOT NULL,"
    " ctl TEXT NOT NULL,"
    " body TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS msg_t ON msg(t);"
    "CREATE VIEW IF NOT EXISTS msg_norm(seq, body) AS SELECT seq, sl_norm(body) FROM msg;"
    "CREATE VIRTUAL TABLE IF NOT EXISTS msg_fts USING fts5(body, content='msg_norm',"
    " content_rowid='seq');"
    "INSERT OR IGNORE INTO meta VALUES('schema', '1');";

/* A schema 1 archive with rows 1-4, after rows 5 and 6 were deleted (sqlite_sequence 6). */
static void make_v1(struct fx *f)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sl_archive_sql_functions(db), SQLITE_OK);
    exec_ok(db, "PRAGMA journal_mode=WAL");
    exec_ok(db, v1_schema);
    static const char *const bodies[] = {
        "NAM/SMITH,JOHN ALLEN.DOB/19800101.SEX/M\nADDR/123 MAIN ST SACRAMENTO CA",
        "OWNER/O'BRIEN,MARY-KATE 44 ELM ST SEATTLE\nLIC/ABC123 VIN/1HGCM82633A004352",
        "LIC/ABC123.LIY/2025.LIT/PC",
        "MEETING AT 10 AM, 9 MAIN ST AUSTIN",
        "GONE ONE",
        "GONE TWO",
    };
    sqlite3_stmt *ins, *fts;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO msg(t, tw, key, src, src_mbr, dst, "
                                        "dst_mbr, ctl, body) VALUES(?1, ?1, ?2, 'CADMV0000', "
                                        "'CA', 'WASP00000', 'WA', '', ?3)",
                                        -1, &ins, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO msg_fts(rowid, body) VALUES(?1, "
                                        "sl_norm(?2))",
                                        -1, &fts, NULL),
                     SQLITE_OK);
    for (int i = 0; i < 6; i++) {
        sqlite3_bind_int64(ins, 1, T("20261120@0800") + i * 3600);
        sqlite3_bind_text(ins, 2, i == 3 ? "AM" : "DR", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, bodies[i], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
        sqlite3_bind_int64(fts, 1, sqlite3_last_insert_rowid(db));
        sqlite3_bind_text(fts, 2, bodies[i], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(fts), SQLITE_DONE);
        sqlite3_reset(fts);
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(fts);
    exec_ok(db, "INSERT INTO msg_fts(msg_fts, rowid, body) SELECT 'delete', seq, body "
                "FROM msg_norm WHERE seq >= 5; DELETE FROM msg WHERE seq >= 5;");
    sqlite3_close(db);
}

#define RANGE "BEG/20261101.END/20261126"

static void t_migrate_v1(void **state)
{
    struct fx *f = *state;
    make_v1(f);
    assert_int_equal(sql_int(f->path, "SELECT seq FROM sqlite_sequence WHERE name='msg'"), 6);
    /* the read-only tools read a schema 1 archive as it is */
    open_ok(f, 1);
    expect_hits(f, "TYP/ALL." RANGE ".FND/MAIN ST", "4,1");
    sl_archive_close(f->a);
    f->a = NULL;
    assert_int_equal(sql_int(f->path, "SELECT value FROM meta WHERE key='schema'"), 1);

    open_ok(f, 0); /* migrates */
    assert_int_equal(sql_int(f->path, "SELECT value FROM meta WHERE key='schema'"), 3);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM msg"), 4);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master WHERE "
                                      "name IN ('msg_t', 'msg_v1', 'msg_fts_docsize')"),
                     0);
    assert_int_equal(sql_int(f->path, "SELECT instr(sql, 'AUTOINCREMENT') FROM sqlite_master "
                                      "WHERE name='msg'"),
                     0);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_sequence"), 0);
    integrity(f->path);
    /* the same searches, the same answers */
    expect_hits(f, "TYP/ALL." RANGE ".FND/MAIN ST", "4,1");
    expect_hits(f, "TYP/ALL." RANGE ".FND/ST MAIN", "");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/O'BRIEN,MARY", "2");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/OBRI*", "2");
    expect_hits(f, "TYP/ALL." RANGE ".FND/ABC123", "3,2");
    expect_hits(f, "TYP/ALL." RANGE ".FND/GONE", "");
    struct sl_archive_msg m;
    assert_int_equal(sl_archive_fetch(f->a, 2, NULL, f->now, &m), 0);
    assert_int_equal(m.time, T("20261120@0900"));
    assert_string_equal(m.key, "DR");
    assert_string_equal(m.dst_mbr, "WA");
    assert_int_equal(m.body.len, strlen("OWNER/O'BRIEN,MARY-KATE 44 ELM ST SEATTLE\n"
                                        "LIC/ABC123 VIN/1HGCM82633A004352"));
    sl_buf_free(&m.body);
    /* the numbers of the deleted rows 5 and 6 are not handed out again */
    uint64_t s = put(f, T("20261125@0000"), "AM", "MAIN ST AGAIN");
    assert_int_equal(s, 7);
    assert_int_equal(sl_archive_flush(f->a), 0);
    expect_hits(f, "TYP/ALL." RANGE ".FND/MAIN ST", "7,4,1");
    /* and a second open finds schema 3: nothing more to do */
    reopen(f);
    assert_int_equal(put(f, T("20261125@0100"), "AM", "ONE MORE"), 8);
    assert_int_equal(sl_archive_flush(f->a), 0);
    integrity(f->path);
}

/* Schema 2 exactly as stateline wrote it until schema 3 (archive.c): unicode61 over the
 * view's sl_norm(body), the withheld keys left out. */
static const char v2_schema[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE msg("
    " seq INTEGER PRIMARY KEY,"
    " t INTEGER NOT NULL,"
    " tw INTEGER NOT NULL,"
    " key TEXT NOT NULL,"
    " src TEXT NOT NULL, src_mbr TEXT NOT NULL,"
    " dst TEXT NOT NULL, dst_mbr TEXT NOT NULL,"
    " ctl TEXT NOT NULL,"
    " body TEXT NOT NULL);"
    "CREATE VIEW msg_norm(seq, body) AS SELECT seq, sl_norm(body) FROM msg"
    " WHERE key NOT IN ('NLQ', 'NFQ', 'NLR', 'NFR');"
    "CREATE VIRTUAL TABLE msg_fts USING fts5(body, content='msg_norm', content_rowid='seq',"
    " columnsize=0);"
    "INSERT INTO msg_fts(msg_fts, rank) VALUES('automerge', 16);"
    "INSERT INTO msg_fts(msg_fts, rank) VALUES('crisismerge', 64);"
    "INSERT INTO msg_fts(msg_fts, rank) VALUES('hashsize', 33554432);"
    "INSERT INTO meta VALUES('schema', '2');";

/* A schema 2 archive of rows 1-5, rows 1-3 indexed (meta 'indexed' 3: a crash before
 * the index step of rows 4 and 5), 'seq_next' 9 (rows 6-8 expired). */
static void make_v2(struct fx *f)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sl_archive_sql_functions(db), SQLITE_OK);
    exec_ok(db, "PRAGMA journal_mode=WAL");
    exec_ok(db, v2_schema);
    static const char *const keys[] = {"DR", "DR", "NLQ", "AM", "RR"};
    static const char *const bodies[] = {
        "NAM/SMITH,JOHN ALLEN.DOB/19800101.SEX/M\nADDR/123 MAIN ST SACRAMENTO CA",
        "OWNER/O'BRIEN,MARY-KATE 44 ELM ST SEATTLE\nLIC/ABC123 VIN/1HGCM82633A004352",
        "TYP/ALL.FND/MAIN ST",
        "MEETING AT 10 AM, 9 MAIN ST AUSTIN",
        "LIC/XYZ987 OWNER: D'ANGELO, RAY 5 ELM ST RENO",
    };
    sqlite3_stmt *ins;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO msg(seq, t, tw, key, src, src_mbr, dst, "
                                        "dst_mbr, ctl, body) VALUES(?1, ?2, ?2, ?3, "
                                        "'CADMV0000', 'CA', 'WASP00000', 'WA', '', ?4)",
                                        -1, &ins, NULL),
                     SQLITE_OK);
    for (int i = 0; i < 5; i++) {
        sqlite3_bind_int64(ins, 1, i + 1);
        sqlite3_bind_int64(ins, 2, T("20261120@0800") + i * 3600);
        sqlite3_bind_text(ins, 3, keys[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, bodies[i], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    exec_ok(db, "INSERT INTO msg_fts(rowid, body) SELECT seq, body FROM msg_norm WHERE seq <= 3;"
                "INSERT INTO meta VALUES('indexed', '3');"
                "INSERT INTO meta VALUES('seq_next', '9');"
                "INSERT INTO msg_fts(msg_fts) VALUES('integrity-check');");
    sqlite3_close(db);
}

static void t_migrate_v2(void **state)
{
    struct fx *f = *state;
    make_v2(f);
    /* the read-only tools read a schema 2 archive as it is (rows 4, 5 not indexed yet) */
    open_ok(f, 1);
    expect_hits(f, "TYP/ALL." RANGE ".FND/MAIN ST", "1");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/O'BRIEN,MARY", "2");
    sl_archive_close(f->a);
    f->a = NULL;
    assert_int_equal(sql_int(f->path, "SELECT value FROM meta WHERE key='schema'"), 2);

    open_ok(f, 0); /* migrates: the index again, every row in it */
    assert_int_equal(sql_int(f->path, "SELECT value FROM meta WHERE key='schema'"), 3);
    assert_int_equal(sql_int(f->path, "SELECT value FROM meta WHERE key='indexed'"), 5);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM msg"), 5);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master WHERE "
                                      "name = 'msg_norm'"),
                     0);
    assert_int_equal(sql_int(f->path, "SELECT instr(sql, 'stateline') > 0 FROM sqlite_master "
                                      "WHERE name='msg_fts'"),
                     1);
    integrity(f->path);
    /* the same answers as schema 2 gave, and the rows it had not indexed found too */
    expect_hits(f, "TYP/ALL." RANGE ".FND/MAIN ST", "4,1");
    expect_hits(f, "TYP/ALL." RANGE ".FND/ST MAIN", "");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/O'BRIEN,MARY", "2");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/OBRI*", "2");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/DANGELO", "5");
    expect_hits(f, "TYP/ALL." RANGE ".FND/ALLEN DOB 19800101", "1");
    expect_hits(f, "TYP/ALL." RANGE ".FND/ABC123", "2");
    expect_hits(f, "TYP/ALL." RANGE ".FND/TYP", ""); /* the NLQ: withheld, not indexed */
    /* numbers go on after seq_next */
    assert_int_equal(put(f, T("20261125@0000"), "AM", "MAIN ST AGAIN"), 9);
    assert_int_equal(sl_archive_flush(f->a), 0);
    expect_hits(f, "TYP/ALL." RANGE ".FND/MAIN ST", "9,4,1");
    assert_int_equal(sl_archive_expire(f->a, T("20261120@0800") + 365 * 86400 + 1800), 1);
    integrity(f->path);
    reopen(f);
    integrity(f->path);
    expect_hits(f, "TYP/ALL." RANGE ".FND/MAIN ST", "9,4");
}

static void t_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    exec_ok(db, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "INSERT INTO meta VALUES('schema', '4');");
    sqlite3_close(db);
    char err[256] = "";
    assert_int_equal(open_fx(f, 0, err, sizeof err), -1);
    assert_null(f->a);
    assert_non_null(strstr(err, "schema 4, newer"));
    /* and nothing was changed */
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master"), 2);
}

/* A year of silence expires every row; the numbers still go on. */
static void t_seq_after_all_expired(void **state)
{
    struct fx *f = *state;
    open_ok(f, 0);
    int64_t day = 86400;
    for (int i = 0; i < 3; i++)
        assert_int_equal(put(f, f->now - 400 * day + i, "DQ", "OLN/OLD"), (uint64_t)i + 1);
    assert_int_equal(sl_archive_flush(f->a), 0);
    assert_int_equal(sl_archive_expire(f->a, f->now), 3);
    assert_int_equal(sl_archive_count(f->a), 0);
    reopen(f);
    assert_int_equal(put(f, f->now, "DQ", "OLN/NEW"), 4);
    assert_int_equal(sl_archive_flush(f->a), 0);
    integrity(f->path);
}

/* Expiry goes by tw along seq: a row sent after a clock step back (t below the tw before
 * it) goes when its tw does; search and fetch hide it from its own cutoff on. */
static void t_expiry_follows_tw(void **state)
{
    struct fx *f = *state;
    open_ok(f, 0);
    int64_t day = 86400;
    uint64_t a = put(f, f->now - 400 * day, "AM", "ALPHA ONE");
    uint64_t b = put(f, f->now - 300 * day, "AM", "ALPHA TWO");
    uint64_t c = put(f, f->now - 500 * day, "AM", "ALPHA THREE"); /* the clock stepped back */
    uint64_t d = put(f, f->now - 10 * day, "AM", "ALPHA FOUR");
    assert_int_equal(sl_archive_flush(f->a), 0);
    assert_int_equal(sl_archive_expire(f->a, f->now), 1); /* a; c waits for b's tw */
    struct sl_archive_msg m;
    assert_int_equal(sl_archive_fetch(f->a, a, NULL, f->now, &m), 1);
    assert_int_equal(sl_archive_fetch(f->a, c, NULL, f->now, &m), 1); /* hidden */
    assert_int_equal(sl_archive_fetch(f->a, b, NULL, f->now, &m), 0);
    sl_buf_free(&m.body);
    char want[64];
    snprintf(want, sizeof want, "%llu,%llu", (unsigned long long)d, (unsigned long long)b);
    expect_hits(f, "TYP/AM.BEG/20240101.END/20261126.FND/ALPHA", want);
    /* 70 days on, b and c are past the retention: both go */
    assert_int_equal(sl_archive_expire(f->a, f->now + 70 * day), 2);
    assert_int_equal(sl_archive_count(f->a), 1);
    integrity(f->path);
}

/* NLQ/NFQ/NLR/NFR are archived but never searched: not indexed, and expiry, 'rebuild'
 * and 'integrity-check' agree with that. */
static void t_withheld_not_indexed(void **state)
{
    struct fx *f = *state;
    open_ok(f, 0);
    int64_t day = 86400;
    put(f, f->now - 400 * day, "NLQ", "TYP/ALL.BEG/20250101.END/20250102.NAM/ZEBULON");
    put(f, f->now - 400 * day, "DQ", "NAM/ZEBULON,ANN");
    uint64_t r = put(f, f->now - day, "NLR", "1 HIT ZEBULON");
    uint64_t q = put(f, f->now - day, "DQ", "NAM/ZEBULON,BOB");
    assert_int_equal(sl_archive_flush(f->a), 0);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM msg"), 4);
    assert_int_equal(sql_int(f->path,
                             "SELECT count(*) FROM msg_fts WHERE msg_fts MATCH 'zebulon'"),
                     2);
    integrity(f->path);
    struct sl_archive_msg m; /* kept in full: an operator still reads it */
    assert_int_equal(sl_archive_fetch(f->a, r, NULL, f->now, &m), 0);
    assert_string_equal(m.key, "NLR");
    sl_buf_free(&m.body);
    char want[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)q);
    expect_hits(f, "TYP/ALL.BEG/20240101.END/20261126.NAM/ZEBULON", want);
    assert_int_equal(sl_archive_expire(f->a, f->now), 2);
    integrity(f->path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sl_archive_sql_functions(db), SQLITE_OK);
    exec_ok(db, "INSERT INTO msg_fts(msg_fts) VALUES('rebuild')");
    sqlite3_close(db);
    integrity(f->path);
    assert_int_equal(sql_int(f->path,
                             "SELECT count(*) FROM msg_fts WHERE msg_fts MATCH 'zebulon'"),
                     1);
}


/* Committed rows are fetched at once and found by a search once indexed: at the latest
 * index_every_ms later, or at a flush. */
static void t_index_lags_commits(void **state)
{
    struct fx *f = *state;
    open_lagging(f, 0);
    uint64_t s = put(f, T("20261125@0000"), "AM", "LAGGING MESSAGE");
    wait_rows(f, 1);
    struct sl_archive_msg m;
    assert_int_equal(sl_archive_fetch(f->a, s, NULL, f->now, &m), 0);
    sl_buf_free(&m.body);
    assert_int_equal(sql_int(f->path, "SELECT value FROM meta WHERE key='indexed'"), 0);
    expect_hits(f, "TYP/AM." RANGE ".FND/LAGGING", "");
    assert_int_equal(sl_archive_flush(f->a), 0);
    expect_hits(f, "TYP/AM." RANGE ".FND/LAGGING", "1");
    assert_int_equal(sql_int(f->path, "SELECT value FROM meta WHERE key='indexed'"), 1);
    /* close indexes too */
    put(f, T("20261125@0100"), "AM", "LAGGING TWO");
    wait_rows(f, 2);
    reopen(f);
    expect_hits(f, "TYP/AM." RANGE ".FND/LAGGING", "2,1");
    integrity(f->path);
}

/* A crash after a commit and before its indexing: the next open indexes the rest. */
static void t_index_repaired_at_open(void **state)
{
    struct fx *f = *state;
    open_ok(f, 0);
    for (int i = 0; i < 5; i++)
        put(f, T("20261125@0000") + i, "AM", i < 2 ? "EARLY WORDS" : "LATE WORDS");
    assert_int_equal(sl_archive_flush(f->a), 0);
    sl_archive_close(f->a);
    f->a = NULL;
    /* what a crash leaves: rows 3-5 committed, the index and meta at row 2 */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sl_archive_sql_functions(db), SQLITE_OK);
    exec_ok(db, "INSERT INTO msg_fts(msg_fts, rowid, body) SELECT 'delete', seq, body "
                "FROM msg_text WHERE seq > 2; UPDATE meta SET value='2' WHERE key='indexed'");
    sqlite3_close(db);
    integrity(f->path);
    open_lagging(f, 0); /* even an hour's lag: what the last run left is indexed at once */
    for (int i = 0; i < 1000 && sql_int(f->path, "SELECT value FROM meta WHERE "
                                                 "key='indexed'") < 5; i++)
        usleep(10000);
    assert_int_equal(sql_int(f->path, "SELECT value FROM meta WHERE key='indexed'"), 5);
    expect_hits(f, "TYP/AM." RANGE ".FND/LATE WORDS", "5,4,3");
    expect_hits(f, "TYP/AM." RANGE ".FND/WORDS", "5,4,3,2,1");
    integrity(f->path);
}

/* Expiry deletes from the index what it deletes from msg, so it waits for rows the index
 * does not hold yet; sl_archive_expire indexes first. */
static void t_expiry_waits_for_index(void **state)
{
    struct fx *f = *state;
    open_lagging(f, 20);
    int64_t day = 86400, now = time(NULL);
    put(f, now - 400 * day, "AM", "OLD ONE");
    wait_rows(f, 1);
    usleep(200 * 1000); /* about ten expiry steps of the writer */
    assert_int_equal(sl_archive_count(f->a), 1);
    integrity(f->path);
    put(f, now - 400 * day, "AM", "OLD TWO");
    put(f, now - day, "AM", "NEW ONE");
    wait_rows(f, 3);
    assert_int_equal(sl_archive_expire(f->a, now), 2);
    assert_int_equal(sl_archive_count(f->a), 1);
    integrity(f->path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_migrate_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(t_migrate_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(t_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(t_seq_after_all_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(t_expiry_follows_tw, setup, teardown),
        cmocka_unit_test_setup_teardown(t_withheld_not_indexed, setup, teardown),
        cmocka_unit_test_setup_teardown(t_index_lags_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(t_index_repaired_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(t_expiry_waits_for_index, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
