/*
 * archive.c - the archive's database, its bounded put queue, the writer thread and expiry
 * (archive.h; schema there and in docs/archive.md §2).
 *
 * The hub's loop thread calls sl_archive_put: a mutex, a copy into a reused ring slot and,
 * only when the writer sleeps (or a full batch waits), one condition signal.  The writer
 * takes everything queued (up to batch_max), writes it in one transaction through
 * prepared statements, then releases the slots.  Under load batches grow by themselves,
 * so the commit cost is shared by more rows exactly when it matters (SQLite's form of
 * group commit).
 *
 * The full-text index follows the commits instead of riding in each: every
 * index_every_ms (or index_batch rows), one INSERT ... SELECT in the transaction of the
 * batch at hand indexes every row committed since (meta 'indexed' moves with it), so
 * FTS5 writes one large segment then rather than a small one per commit, and merges far
 * fewer (docs/archive.md §2, "The write path").  flush, close and expire index first.
 *
 * Expiry runs on the writer too, between batches: one step deletes at most expire_batch
 * rows (the oldest by seq, while tw is before the cutoff, and only rows the index holds)
 * in its own transaction, so a backlog of expired rows (after a long stop) drains in
 * short steps that never hold inserts back for more than one step.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch_int.h"
#include "stateline/core.h"
#include "stateline/walckpt.h"

#define SLOT_KEEP (64 * 1024) /* a slot's text buffer above this is freed after use */
#define SCHEMA_VERSION 3

/* Schema 3 (archive.h; docs/archive.md §2 says why each choice).  Against schema 1:
 * no AUTOINCREMENT (the next sequence number is meta 'seq_next', written once per batch,
 * not sqlite_sequence once per row), no index on t (expiry walks the oldest rows by
 * seq: tw never decreases along it), the full-text index keeps no per-row sizes
 * (columnsize=0: nothing ranks by bm25) and merges its segments 16 at a time, and the
 * messages no search may find (NLQ, NFQ, NLR, NFR: sl_arch_withheld) are not indexed:
 * the view leaves them out, so FTS5's 'delete', 'rebuild' and 'integrity-check' agree
 * with the writer, which skips them.  Against schema 2: the index cuts its terms with
 * the archive's own tokenizer (tokenize.c: the same terms unicode61 cut from
 * sl_norm(body), at a fraction of the cost), so the view hands the body over as it is. */
static const char schema_msg_sql[] =
    "CREATE TABLE msg("
    " seq INTEGER PRIMARY KEY,"
    " t INTEGER NOT NULL,"
    " tw INTEGER NOT NULL,"
    " key TEXT NOT NULL,"
    " src TEXT NOT NULL, src_mbr TEXT NOT NULL,"
    " dst TEXT NOT NULL, dst_mbr TEXT NOT NULL,"
    " ctl TEXT NOT NULL,"
    " body TEXT NOT NULL);";
static const char schema_index_sql[] =
    "CREATE VIEW msg_text(seq, body) AS SELECT seq, body FROM msg"
    " WHERE key NOT IN ('NLQ', 'NFQ', 'NLR', 'NFR');"
    "CREATE VIRTUAL TABLE msg_fts USING fts5(body, content='msg_text', content_rowid='seq',"
    " columnsize=0, tokenize='" SL_ARCHIVE_TOKENIZER "');"
    "INSERT INTO msg_fts(msg_fts, rank) VALUES('automerge', 16);"
    "INSERT INTO msg_fts(msg_fts, rank) VALUES('crisismerge', 64);"
    "INSERT INTO msg_fts(msg_fts, rank) VALUES('hashsize', 33554432);";

/* Schema 1 -> 3, in the open's transaction: the table is copied without AUTOINCREMENT
 * (SQLite cannot drop it in place), the next sequence number carried over from
 * sqlite_sequence, and the full-text index built again with the new options. */
static const char migrate_v1_sql[] =
    "INSERT OR REPLACE INTO meta VALUES('seq_next', (SELECT max("
    " coalesce((SELECT seq FROM sqlite_sequence WHERE name='msg'), 0),"
    " coalesce((SELECT max(seq) FROM msg), 0)) + 1));"
    "DROP TABLE msg_fts;"
    "DROP VIEW msg_norm;"
    "DROP INDEX IF EXISTS msg_t;"
    "ALTER TABLE msg RENAME TO msg_v1;";
static const char migrate_v1_copy_sql[] =
    "INSERT INTO msg(seq, t, tw, key, src, src_mbr, dst, dst_mbr, ctl, body)"
    " SELECT seq, t, tw, key, src, src_mbr, dst, dst_mbr, ctl, body FROM msg_v1 ORDER BY seq;"
    "DROP TABLE msg_v1;";
/* Schema 2 -> 3: the index again, with the tokenizer (the table stays as it is). */
static const char migrate_v2_sql[] =
    "DROP TABLE msg_fts;"
    "DROP VIEW msg_norm;";
/* Both, last: every row indexed (rows schema 2 had not indexed yet too). */
static const char migrate_rebuild_sql[] =
    "INSERT INTO msg_fts(msg_fts) VALUES('rebuild');"
    "INSERT OR REPLACE INTO meta VALUES('indexed', coalesce((SELECT max(seq) FROM msg), 0));";

void sl_archive_conf_default(struct sl_archive_conf *c)
{
    memset(c, 0, sizeof *c);
    c->retention_days = 365;
    c->queue_max = 65536;
    c->queue_bytes_max = 64u << 20;
    c->batch_max = 2048;
    c->expire_batch = 500;
    c->expire_every_ms = 1000;
    c->count_max = 10000;
    c->search_queue = 64;
    c->commit_every_ms = 20;
    c->index_every_ms = 1000;
    c->index_batch = 16384;
}

static void seterr(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a, b);
}

/* sl_norm(text): the indexed form of a body (sl_archive_norm), as an SQL function: in
 * schemas 1 and 2 the view msg_norm applied it for the FTS5 table (unicode61), so it is
 * still registered for a read-only open of such an archive and for tools.  Schema 3
 * does the same inside its tokenizer (tokenize.c). */
static void sql_norm(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *t = (const char *)sqlite3_value_text(argv[0]);
    int n = sqlite3_value_bytes(argv[0]);
    if (!t) {
        sqlite3_result_null(ctx);
        return;
    }
    if (!memchr(t, '\'', (size_t)n)) { /* nearly every message: nothing to remove */
        sqlite3_result_value(ctx, argv[0]);
        return;
    }
    struct sl_buf b = SL_BUF_INIT;
    sl_archive_norm(t, (size_t)n, &b);
    sqlite3_result_text(ctx, b.data ? (const char *)b.data : "", (int)b.len, SQLITE_TRANSIENT);
    sl_buf_free(&b);
}

int sl_archive_sql_functions(sqlite3 *db)
{
    int rc = sqlite3_create_function(db, "sl_norm", 1,
                                     SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                     NULL, sql_norm, NULL, NULL);
    return rc == SQLITE_OK ? sl_arch_tokenizer_register(db) : rc;
}

static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **s, char *err, size_t errlen)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL) != SQLITE_OK) {
        seterr(err, errlen, "archive: prepare: %s (%s)", sqlite3_errmsg(db), sql);
        return -1;
    }
    return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        SL_ERROR("archive", "%s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* The writer's memory of the last committed row: its tw, and whether a send time ever
 * went backwards.  At open, and after a rolled-back batch. */
static void load_tail(struct sl_archive *a)
{
    sqlite3_stmt *q;
    a->tw_last = 0;
    if (sqlite3_prepare_v2(a->db, "SELECT tw FROM msg ORDER BY seq DESC LIMIT 1", -1, &q,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            a->tw_last = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    a->clock_back = 0;
    if (sqlite3_prepare_v2(a->db, "SELECT 1 FROM meta WHERE key='clock_back'", -1, &q, NULL) ==
        SQLITE_OK) {
        a->clock_back = sqlite3_step(q) == SQLITE_ROW;
        sqlite3_finalize(q);
    }
}

/* Create the schema in a new database, or bring an older one to SCHEMA_VERSION (logged:
 * schema 1 -> 3 copies the table and rebuilds the full-text index, some 20 s per
 * million messages; 2 -> 3 rebuilds the index), all in one transaction.  A newer schema
 * is refused. */
static int ensure_schema(struct sl_archive *a, char *err, size_t errlen)
{
    char *msg = NULL;
    sqlite3_stmt *q = NULL;
    int version = 0, has_msg = 0;
    if (sqlite3_exec(a->db,
                     "BEGIN IMMEDIATE;"
                     "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
                     NULL, NULL, &msg) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(a->db,
                           "SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key='schema'),"
                           " EXISTS(SELECT 1 FROM sqlite_master WHERE type='table' AND"
                           " name='msg')",
                           -1, &q, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_step(q) == SQLITE_ROW) {
        version = sqlite3_column_int(q, 0);
        has_msg = sqlite3_column_int(q, 1);
    }
    sqlite3_finalize(q);
    if (version == 0 && has_msg)
        version = 1; /* schema 1 wrote its version after its tables */
    if (version > SCHEMA_VERSION) {
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
        if (err && errlen)
            snprintf(err, errlen, "archive: %s has schema %d, newer than this stateline's %d",
                     a->path, version, SCHEMA_VERSION);
        return -1;
    }
    if (version == 0) {
        if (sqlite3_exec(a->db, schema_msg_sql, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(a->db, schema_index_sql, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(a->db, "INSERT INTO meta VALUES('indexed', 0)", NULL, NULL, &msg) !=
                SQLITE_OK)
            goto fail;
    } else if (version < SCHEMA_VERSION) {
        int64_t t0 = sl_now_ms();
        if (version == 1)
            SL_INFO("archive", "%s: schema 1 -> 3: copying the messages and rebuilding the "
                    "full-text index (one transaction; some 20 s per million messages)",
                    a->path);
        else
            SL_INFO("archive", "%s: schema 2 -> 3: rebuilding the full-text index with the "
                    "archive's tokenizer (one transaction; some 10 s per million messages)",
                    a->path);
        if ((version == 1 && (sqlite3_exec(a->db, migrate_v1_sql, NULL, NULL, &msg) != SQLITE_OK ||
                              sqlite3_exec(a->db, schema_msg_sql, NULL, NULL, &msg) != SQLITE_OK ||
                              sqlite3_exec(a->db, migrate_v1_copy_sql, NULL, NULL, &msg) !=
                                  SQLITE_OK)) ||
            (version == 2 && sqlite3_exec(a->db, migrate_v2_sql, NULL, NULL, &msg) != SQLITE_OK) ||
            sqlite3_exec(a->db, schema_index_sql, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(a->db, migrate_rebuild_sql, NULL, NULL, &msg) != SQLITE_OK)
            goto fail;
        int64_t rows = -1;
        if (sqlite3_prepare_v2(a->db, "SELECT count(*) FROM msg", -1, &q, NULL) == SQLITE_OK) {
            if (sqlite3_step(q) == SQLITE_ROW)
                rows = sqlite3_column_int64(q, 0);
            sqlite3_finalize(q);
        }
        SL_INFO("archive", "%s: schema 3 in %.1f s (%lld messages)", a->path,
                (double)(sl_now_ms() - t0) / 1e3, (long long)rows);
    }
    /* The gaps (sl_archive_lost): added to schema 3 without a new number, since a
     * stateline that does not know the table reads and writes the rest as before. */
    if (sqlite3_exec(a->db,
                     "CREATE TABLE IF NOT EXISTS lost(id INTEGER PRIMARY KEY,"
                     " t_first INTEGER NOT NULL, t_last INTEGER NOT NULL,"
                     " after_seq INTEGER NOT NULL, before_seq INTEGER NOT NULL,"
                     " n INTEGER NOT NULL);"
                     "INSERT OR REPLACE INTO meta VALUES('schema', '3');"
                     "COMMIT;",
                     NULL, NULL, &msg) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    seterr(err, errlen, "archive: %s: schema: %s", a->path, msg ? msg : sqlite3_errmsg(a->db));
    sqlite3_free(msg);
    sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int open_writer(struct sl_archive *a, char *err, size_t errlen)
{
    if (sqlite3_open_v2(a->path, &a->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        seterr(err, errlen, "archive: cannot open %s: %s", a->path,
               a->db ? sqlite3_errmsg(a->db) : "out of memory");
        return -1;
    }
    sqlite3_busy_timeout(a->db, 5000);
    if (sl_archive_sql_functions(a->db) != SQLITE_OK) {
        seterr(err, errlen, "archive: %s: %s", a->path, sqlite3_errmsg(a->db));
        return -1;
    }
    char *msg = NULL;
    if (sqlite3_exec(a->db,
                     a->conf.sync_full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                         "PRAGMA cache_size=-32768;"
                                       : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                         "PRAGMA cache_size=-32768;",
                     NULL, NULL, &msg) != SQLITE_OK) {
        seterr(err, errlen, "archive: %s: %s", a->path, msg ? msg : sqlite3_errmsg(a->db));
        sqlite3_free(msg);
        return -1;
    }
    if (ensure_schema(a, err, errlen) < 0)
        return -1;
    /* The WAL's checkpoints on a thread of their own (walckpt.h): the writer never copies
     * the WAL into the file nor waits for the checkpoint's two fdatasyncs, which on a disk
     * that stalls took hundreds of milliseconds while the queue filled (docs/archive.md
     * §2).  NULL: SQLite checkpoints on the writer, as before. */
    a->ck = sl_walckpt_start(a->db, a->path, "archive", "archive.db", "sl-arch-ckpt");
    if (prep(a->db,
             "INSERT INTO msg(seq, t, key, src, src_mbr, dst, dst_mbr, ctl, body, tw)"
             " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
             &a->ins_msg, err, errlen) < 0 ||
        prep(a->db,
             "INSERT INTO msg_fts(rowid, body) SELECT seq, body FROM msg_text"
             " WHERE seq > ?1 AND seq <= ?2",
             &a->idx_rows, err, errlen) < 0 ||
        prep(a->db, "INSERT OR REPLACE INTO meta VALUES('indexed', ?1)", &a->set_indexed, err,
             errlen) < 0 ||
        prep(a->db,
             "INSERT INTO msg_fts(msg_fts, rowid, body) SELECT 'delete', seq, body"
             " FROM msg_text WHERE seq=?1",
             &a->del_fts, err, errlen) < 0 ||
        prep(a->db, "DELETE FROM msg WHERE seq=?1", &a->del_msg, err, errlen) < 0 ||
        prep(a->db, "SELECT seq, tw FROM msg ORDER BY seq LIMIT ?1", &a->old_rows, err,
             errlen) < 0 ||
        prep(a->db, "INSERT OR REPLACE INTO meta VALUES('seq_next', ?1)", &a->set_seq, err,
             errlen) < 0 ||
        prep(a->db, "INSERT OR REPLACE INTO meta VALUES('clock_back', '1')", &a->set_back, err,
             errlen) < 0 ||
        prep(a->db, "INSERT INTO msg_fts(rowid, body) VALUES(?1, ?2)", &a->ins_fts, err,
             errlen) < 0 ||
        prep(a->db,
             "INSERT INTO lost(t_first, t_last, after_seq, before_seq, n)"
             " VALUES(?1, ?2, ?3, ?4, ?5)",
             &a->ins_gap, err, errlen) < 0 ||
        prep(a->db,
             "UPDATE lost SET t_first = min(t_first, ?1), t_last = max(t_last, ?2),"
             " before_seq = max(before_seq, ?4), n = n + ?5 WHERE id = ?3",
             &a->ext_gap, err, errlen) < 0 ||
        prep(a->db, "DELETE FROM lost WHERE t_last < ?1", &a->del_gaps, err, errlen) < 0)
        return -1;
    /* the same two, many rows to a statement */
    struct sl_buf sql = SL_BUF_INIT;
    sl_buf_append_str(&sql, "INSERT INTO msg(seq, t, key, src, src_mbr, dst, dst_mbr, ctl, body, tw)"
                          " VALUES");
    for (int i = 0; i < INS_ROWS; i++)
        sl_buf_append_str(&sql, i ? ",(?,?,?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?,?,?)");
    sl_buf_append(&sql, "", 1);
    int bad = prep(a->db, (const char *)sql.data, &a->ins_msgs, err, errlen) < 0;
    sl_buf_free(&sql);
    if (bad)
        return -1;
    load_tail(a);
    /* meta seq_next outlives the rows (a year of silence expires them all); max(seq)
     * covers a batch whose meta row was lost with it */
    sqlite3_stmt *q;
    a->next_seq = 1;
    if (sqlite3_prepare_v2(a->db,
                           "SELECT max(coalesce((SELECT max(seq) FROM msg), 0) + 1,"
                           " coalesce((SELECT CAST(value AS INTEGER) FROM meta"
                           " WHERE key='seq_next'), 1))",
                           -1, &q, NULL) != SQLITE_OK) {
        seterr(err, errlen, "archive: %s: %s", a->path, sqlite3_errmsg(a->db));
        return -1;
    }
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) > 0)
        a->next_seq = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    /* Rows committed but not yet indexed when the last run ended (a crash): indexed at
     * once by the writer.  No 'indexed' row: everything is (schema 2 before the lag). */
    if (sqlite3_prepare_v2(a->db,
                           "SELECT coalesce((SELECT max(seq) FROM msg), 0),"
                           " coalesce((SELECT CAST(value AS INTEGER) FROM meta"
                           " WHERE key='indexed'), (SELECT max(seq) FROM msg), 0)",
                           -1, &q, NULL) != SQLITE_OK) {
        seterr(err, errlen, "archive: %s: %s", a->path, sqlite3_errmsg(a->db));
        return -1;
    }
    if (sqlite3_step(q) == SQLITE_ROW) {
        a->written = (uint64_t)sqlite3_column_int64(q, 0);
        a->indexed = (uint64_t)sqlite3_column_int64(q, 1);
    }
    sqlite3_finalize(q);
    if (a->indexed > a->written)
        a->indexed = a->written;
    if (a->written > a->indexed)
        SL_INFO("archive", "%s: indexing messages %llu-%llu (committed, not yet indexed when "
                "the archive last closed)", a->path, (unsigned long long)a->indexed + 1,
                (unsigned long long)a->written);
    a->index_due_ms = sl_now_ms();
    /* The gather window counts from the open, not from the clock's zero (the machine's
     * boot): else the first batch went at once, with whatever one put had queued. */
    a->last_commit_ms = sl_now_ms();
    a->pend_ok = a->written == a->indexed; /* else the view until the index catches up */
    a->committed = a->next_seq;
    a->searchable = a->written > a->indexed ? a->indexed + 1 : a->next_seq;
    return 0;
}

static int open_reader(struct sl_archive *a, char *err, size_t errlen)
{
    if (sqlite3_open_v2(a->path, &a->rdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        seterr(err, errlen, "archive: cannot open %s: %s", a->path,
               a->rdb ? sqlite3_errmsg(a->rdb) : "out of memory");
        return -1;
    }
    sqlite3_busy_timeout(a->rdb, 5000);
    sl_archive_sql_functions(a->rdb);
    sqlite3_exec(a->rdb, "PRAGMA cache_size=-32768;", NULL, NULL, NULL);
    /* Rows come out newest first; the FTS5 table drives (ORDER BY its rowid DESC), each
     * candidate is checked against the row's time, key and addresses by primary key. */
    if (prep(a->rdb,
             "SELECT m.seq, m.t, m.key, m.src, m.dst, substr(m.body, 1, 400)"
             " FROM msg_fts f JOIN msg m ON m.seq = f.rowid"
             " WHERE f.msg_fts MATCH ?1 AND f.rowid BETWEEN ?9 AND ?10"
             " AND m.t BETWEEN ?2 AND ?3"
             " AND instr(?4, ' ' || m.key || ' ') > 0"
             " AND (?5 = '' OR m.src = ?5) AND (?6 = '' OR m.src_mbr = ?6)"
             " AND (?7 = '' OR m.dst = ?7) AND (?8 = '' OR m.dst_mbr = ?8)"
             " ORDER BY f.rowid DESC",
             &a->search, err, errlen) < 0 ||
        prep(a->rdb,
             "SELECT seq, t, key, src, src_mbr, dst, dst_mbr, ctl, body FROM msg WHERE seq=?1",
             &a->fetch, err, errlen) < 0 ||
        prep(a->rdb, "SELECT 1 FROM meta WHERE key='clock_back'", &a->get_back, err, errlen) < 0 ||
        prep(a->rdb, "SELECT seq, tw FROM msg WHERE seq >= ?1 ORDER BY seq LIMIT 1",
             &a->next_row, err, errlen) < 0 ||
        prep(a->rdb, "SELECT (SELECT min(seq) FROM msg), (SELECT max(seq) FROM msg)",
             &a->seq_span, err, errlen) < 0)
        return -1;
    /* An archive written before the table `lost` (opened read-only) has none: no gaps. */
    if (sqlite3_prepare_v2(a->rdb,
                           "SELECT coalesce(sum(n), 0) FROM lost"
                           " WHERE t_last >= ?1 AND t_first <= ?2",
                           -1, &a->lost_in, NULL) != SQLITE_OK) {
        sqlite3_finalize(a->lost_in);
        a->lost_in = NULL;
    }
    return 0;
}

/* ---- the writer ---- */

static void bind_text(sqlite3_stmt *s, int i, const char *v, int n)
{
    sqlite3_bind_text(s, i, v, n, SQLITE_STATIC);
}

/* Index the rows written after a->indexed, up to a->written, when due: index_batch of
 * them wait, or the oldest has waited index_every_ms, or `force` (flush, close, expire).
 * Runs inside the caller's transaction, under a savepoint: when it fails (logged) the
 * rows stay committed and wait for the next attempt, and expiry does not touch them.
 * Returns 1 indexed up to *upto (valid once the transaction commits), 0 not due, -1
 * failed. */
static int index_due(struct sl_archive *a, int force, uint64_t *upto_out)
{
    if (a->written <= a->indexed)
        return 0;
    if (!force && a->conf.index_every_ms > 0 &&
        a->written - a->indexed < (uint64_t)a->conf.index_batch &&
        sl_now_ms() < a->index_due_ms)
        return 0;
    uint64_t upto = a->written;
    if (upto - a->indexed > (uint64_t)a->conf.index_batch && !force && !a->pend_ok)
        upto = a->indexed + (uint64_t)a->conf.index_batch;
    if (exec(a->db, "SAVEPOINT ix") < 0)
        return -1;
    int rc = SQLITE_DONE;
    if (a->pend_ok) {
        /* the rows from memory, exactly what the view would give (pend_add) */
        /* one row to a statement: a statement of several rows opens a statement
         * savepoint, and FTS5 writes a segment at every savepoint */
        for (size_t i = 0; i < a->npend && rc == SQLITE_DONE; i++) {
            const struct arch_pend *p = &a->pend[i];
            sqlite3_bind_int64(a->ins_fts, 1, (sqlite3_int64)p->seq);
            sqlite3_bind_text(a->ins_fts, 2,
                              p->len ? (const char *)a->pend_text.data + p->off : "",
                              (int)p->len, SQLITE_STATIC);
            rc = sqlite3_step(a->ins_fts);
            sqlite3_reset(a->ins_fts);
        }
    } else {
        sqlite3_bind_int64(a->idx_rows, 1, (sqlite3_int64)a->indexed);
        sqlite3_bind_int64(a->idx_rows, 2, (sqlite3_int64)upto);
        rc = sqlite3_step(a->idx_rows);
        sqlite3_reset(a->idx_rows);
    }
    if (rc == SQLITE_DONE) {
        sqlite3_bind_int64(a->set_indexed, 1, (sqlite3_int64)upto);
        rc = sqlite3_step(a->set_indexed);
        sqlite3_reset(a->set_indexed);
    }
    if (rc != SQLITE_DONE) {
        SL_ERROR("archive", "indexing messages %llu-%llu failed (they stay archived, and "
                 "are tried again): %s", (unsigned long long)a->indexed + 1,
                 (unsigned long long)upto, sqlite3_errmsg(a->db));
        exec(a->db, "ROLLBACK TO ix");
        exec(a->db, "RELEASE ix");
        a->index_due_ms = sl_now_ms() + (a->conf.index_every_ms > 0 ? a->conf.index_every_ms
                                                                     : 1000);
        return -1;
    }
    exec(a->db, "RELEASE ix");
    *upto_out = upto;
    return 1;
}

/* Keep a written row for the next index step (pend_ok): its text as the view msg_text
 * gives it, unless no search may find it (the view leaves it out). */
static void pend_add(struct sl_archive *a, const struct arch_slot *s, const char *text,
                     size_t len)
{
    if (sl_arch_withheld(s->key))
        return;
    if (a->npend == a->pend_cap) {
        a->pend_cap = a->pend_cap ? a->pend_cap * 2 : 1024;
        a->pend = sl_xrealloc(a->pend, a->pend_cap * sizeof *a->pend);
    }
    struct arch_pend *p = &a->pend[a->npend++];
    p->seq = s->seq;
    p->off = a->pend_text.len;
    sl_buf_append(&a->pend_text, text, len);
    p->len = a->pend_text.len - p->off;
}

/* Forget the rows kept for the index: after they were indexed (then pend_ok again), or
 * when the index step must read the view instead (ok = 0). */
static void pend_reset(struct sl_archive *a, int ok)
{
    a->npend = 0;
    sl_buf_reset(&a->pend_text);
    a->pend_ok = ok;
    if (!ok) { /* memory back: the view path may run for a while */
        free(a->pend);
        a->pend = NULL;
        a->pend_cap = 0;
        sl_buf_free(&a->pend_text);
    }
}

/* The text of slot s as archived: images stripped (sl_archive_strip_images).  Nearly every
 * message has nothing to strip; its text is then the slot's own, not a copy. */
static void row_text(const struct arch_slot *s, struct sl_buf *b, const char **text,
                     size_t *len)
{
    if (sl_arch_plain(s->text, s->len)) {
        *text = s->text;
        *len = s->len;
        return;
    }
    sl_buf_reset(b);
    sl_archive_strip_images(s->text, s->len, b);
    *text = b->data ? (const char *)b->data : "";
    *len = b->len;
}

/* The ten values of one msg row, from parameter base + 1 (the column order of ins_msg). */
static void bind_row(sqlite3_stmt *m, int base, const struct arch_slot *s, const char *text,
                     size_t len, int64_t tw)
{
    sqlite3_bind_int64(m, base + 1, (sqlite3_int64)s->seq);
    sqlite3_bind_int64(m, base + 2, s->t);
    bind_text(m, base + 3, s->key, -1);
    bind_text(m, base + 4, s->src, SL_ORI_LEN);
    bind_text(m, base + 5, s->src_mbr, 2);
    bind_text(m, base + 6, s->dst, -1);
    bind_text(m, base + 7, s->dst_mbr, 2);
    bind_text(m, base + 8, s->ctl, -1);
    bind_text(m, base + 9, text, (int)len);
    sqlite3_bind_int64(m, base + 10, tw);
}

/* Gap g (taken from the queue with the batch) into the table `lost`, in the batch's
 * transaction: a gap that begins within a second of the row written last extends that
 * row, so that an overload of an hour is one row, not one per batch.  0 or -1. */
static int write_gap(struct sl_archive *a, const struct arch_gap *g)
{
    for (int ext = a->gap_row > 0 && g->t_first <= a->gap_row_t_last + 1;; ext = 0) {
        sqlite3_stmt *st = ext ? a->ext_gap : a->ins_gap;
        sqlite3_bind_int64(st, 1, g->t_first);
        sqlite3_bind_int64(st, 2, g->t_last);
        sqlite3_bind_int64(st, 3, ext ? a->gap_row : (sqlite3_int64)g->after);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)g->before);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)g->n);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            SL_ERROR("archive", "cannot record %llu messages not archived: %s",
                     (unsigned long long)g->n, sqlite3_errmsg(a->db));
            return -1;
        }
        if (ext && sqlite3_changes(a->db) == 0)
            continue; /* the row expired meanwhile: a new one */
        if (!ext)
            a->gap_row = sqlite3_last_insert_rowid(a->db);
        if (g->t_last > a->gap_row_t_last || !ext)
            a->gap_row_t_last = g->t_last;
        return 0;
    }
}

/* Add gap b to gap g (both of messages not archived; b the later). */
static void gap_add(struct arch_gap *g, const struct arch_gap *b)
{
    if (!b->n)
        return;
    if (!g->n) {
        *g = *b;
        return;
    }
    g->n += b->n;
    g->t_first = b->t_first < g->t_first ? b->t_first : g->t_first;
    g->t_last = b->t_last > g->t_last ? b->t_last : g->t_last;
    g->after = b->after < g->after ? b->after : g->after;
    g->before = b->before > g->before ? b->before : g->before;
}

void sl_archive_fmt_time(int64_t t, char out[24])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 24, "%Y-%m-%d %H:%M:%S", &tm);
}

/* The operator's line for the gaps written since the last one: at once for the first,
 * then at most one a LOG_GAP_MS, and at close (now_ms < 0: whatever is left). */
#define LOG_GAP_MS 10000
static void log_gaps(struct sl_archive *a, int64_t now_ms)
{
    struct arch_gap *g = &a->gap_log;
    if (!g->n || (now_ms >= 0 && a->gap_logged_ms && now_ms - a->gap_logged_ms < LOG_GAP_MS))
        return;
    char t1[24], t2[24];
    sl_archive_fmt_time(g->t_first, t1);
    sl_archive_fmt_time(g->t_last, t2);
    SL_WARN("archive", "%llu message%s sent from %s to %s UTC %s not archived (between "
            "sequence numbers %llu and %llu): the writer was a whole queue behind; searches "
            "of that time say so (`stateline archive gaps`)",
            (unsigned long long)g->n, g->n == 1 ? "" : "s", t1, t2, g->n == 1 ? "was" : "were",
            (unsigned long long)g->after, (unsigned long long)g->before);
    memset(g, 0, sizeof *g);
    a->gap_logged_ms = now_ms >= 0 ? now_ms : sl_now_ms();
}

/* Write slots [h, h+n) of the ring (n may be 0) in one transaction, with the gap taken
 * from the queue with them (*gap_done: 1 written; 0 not, to be tried with the next batch:
 * a gap that cannot be written never costs the rows), and index what is due (index_due).
 * Rows go INS_ROWS to a statement (ins_msgs: one statement start and end, one B-tree
 * seek, for INS_ROWS rows); a group that fails is written again a row at a time, so that
 * one bad row loses only itself.  Returns rows written or -1 (nothing of the batch is in
 * the file); *ix gets index_due's answer. */
static int write_batch(struct sl_archive *a, size_t h, size_t n, const struct arch_gap *gap,
                       int *gap_done, int force, int *ix)
{
    *gap_done = 0;
    *ix = 0;
    if (exec(a->db, "BEGIN") < 0)
        return -1;
    int written = 0;
    size_t prev_npend = a->npend, prev_pend_len = a->pend_text.len;
    uint64_t prev_written = a->written, prev_indexed = a->indexed;
    int64_t prev_due = a->index_due_ms;
    int64_t prev_gap_row = a->gap_row, prev_gap_t = a->gap_row_t_last;
    size_t single_until = 0; /* rows before this go one at a time (a group failed) */
    for (size_t i = 0; i < n;) {
        size_t k = i >= single_until && n - i >= INS_ROWS ? INS_ROWS : 1;
        sqlite3_stmt *m = k == 1 ? a->ins_msg : a->ins_msgs;
        const char *text[INS_ROWS];
        size_t len[INS_ROWS];
        int64_t tws[INS_ROWS];
        /* tw never decreases along seq: search turns BEG/END into a seq range with it */
        int64_t tw = a->tw_last;
        for (size_t j = 0; j < k; j++) {
            const struct arch_slot *s = &a->ring[(h + i + j) % a->cap];
            row_text(s, &a->strip[j], &text[j], &len[j]);
            tw = s->t > tw ? s->t : tw;
            tws[j] = tw;
            bind_row(m, (int)j * 10, s, text[j], len[j], tw);
        }
        int rc = sqlite3_step(m);
        sqlite3_reset(m);
        if (rc != SQLITE_DONE) {
            if (k > 1) { /* the statement wrote none of them: again, one at a time */
                single_until = i + k;
                continue;
            }
            SL_ERROR("archive", "insert of message %llu failed: %s",
                     (unsigned long long)a->ring[(h + i) % a->cap].seq, sqlite3_errmsg(a->db));
            i++;
            continue;
        }
        for (size_t j = 0; j < k; j++) {
            const struct arch_slot *s = &a->ring[(h + i + j) % a->cap];
            if (s->t < a->tw_last && !a->clock_back) {
                /* a send time went backwards (clock step): END can no longer bound seq */
                SL_WARN("archive", "send time of message %llu is before the previous "
                        "message's; searches stop using END as a sequence bound",
                        (unsigned long long)s->seq);
                if (sqlite3_step(a->set_back) == SQLITE_DONE)
                    a->clock_back = 1;
                sqlite3_reset(a->set_back);
            }
            a->tw_last = tws[j];
            if (a->pend_ok)
                pend_add(a, s, text[j], len[j]);
            written++;
        }
        i += k;
    }
    if (n) {
        uint64_t last = a->ring[(h + n - 1) % a->cap].seq;
        if (a->written <= a->indexed) /* the first row waiting for the index */
            a->index_due_ms = sl_now_ms() + a->conf.index_every_ms;
        a->written = last;
        /* the next sequence number, once per batch (it outlives expired rows) */
        sqlite3_bind_int64(a->set_seq, 1, (sqlite3_int64)last + 1);
        int rc = sqlite3_step(a->set_seq);
        sqlite3_reset(a->set_seq);
        if (rc != SQLITE_DONE)
            SL_ERROR("archive", "cannot record the next sequence number: %s",
                     sqlite3_errmsg(a->db));
    }
    int gap_ok = gap->n && write_gap(a, gap) == 0;
    uint64_t upto = 0;
    *ix = index_due(a, force, &upto);
    if (exec(a->db, "COMMIT") < 0)
        goto undo;
    *gap_done = gap_ok;
    if (*ix > 0) {
        a->indexed = upto;
        if (a->written > a->indexed) /* more waiting: the next batch goes on with them */
            a->index_due_ms = sl_now_ms();
    }
    if (a->indexed == a->written)
        pend_reset(a, 1);
    else if (*ix < 0 && a->npend > 4 * (size_t)a->conf.index_batch)
        pend_reset(a, 0); /* indexing keeps failing: do not hold the rows in memory too */
    return written;
undo: /* nothing of the batch is in the file */
    exec(a->db, "ROLLBACK");
    load_tail(a);
    a->written = prev_written;
    a->indexed = prev_indexed;
    a->index_due_ms = prev_due;
    a->npend = prev_npend; /* the batch's rows are not in msg */
    a->pend_text.len = prev_pend_len;
    a->gap_row = prev_gap_row;
    a->gap_row_t_last = prev_gap_t;
    *ix = -1;
    return -1;
}

/* One expiry step: delete up to `limit` of the oldest rows whose tw is before the cutoff.
 * Returns rows deleted or -1. */
static int expire_step(struct sl_archive *a, int64_t cutoff, int limit)
{
    uint64_t seqs[1024];
    if (limit > 1024)
        limit = 1024;
    int n = 0;
    /* The oldest rows by seq whose tw is before the cutoff: tw never decreases along seq,
     * so they are a prefix, and each has t <= tw.  (A row sent just after a clock step
     * back has t < tw: it goes when its tw does, at most the size of the step later;
     * search and fetch hide it from the cutoff on.) */
    sqlite3_bind_int(a->old_rows, 1, limit);
    while (n < limit && sqlite3_step(a->old_rows) == SQLITE_ROW &&
           sqlite3_column_int64(a->old_rows, 1) < cutoff &&
           (uint64_t)sqlite3_column_int64(a->old_rows, 0) <= a->indexed) /* see index_due */
        seqs[n++] = (uint64_t)sqlite3_column_int64(a->old_rows, 0);
    sqlite3_reset(a->old_rows);
    if (n == 0)
        return 0;
    if (exec(a->db, "BEGIN") < 0)
        return -1;
    /* the gaps of the same time go with the rows (a search never looks past the cutoff) */
    sqlite3_bind_int64(a->del_gaps, 1, cutoff);
    int grc = sqlite3_step(a->del_gaps);
    sqlite3_reset(a->del_gaps);
    if (grc != SQLITE_DONE) {
        SL_ERROR("archive", "expiry of the gaps before %lld failed: %s", (long long)cutoff,
                 sqlite3_errmsg(a->db));
        exec(a->db, "ROLLBACK");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        sqlite3_bind_int64(a->del_fts, 1, (sqlite3_int64)seqs[i]);
        int rc = sqlite3_step(a->del_fts);
        sqlite3_reset(a->del_fts);
        sqlite3_bind_int64(a->del_msg, 1, (sqlite3_int64)seqs[i]);
        if (rc == SQLITE_DONE)
            rc = sqlite3_step(a->del_msg);
        sqlite3_reset(a->del_msg);
        if (rc != SQLITE_DONE) {
            SL_ERROR("archive", "expiry of message %llu failed: %s",
                     (unsigned long long)seqs[i], sqlite3_errmsg(a->db));
            exec(a->db, "ROLLBACK");
            return -1;
        }
    }
    if (exec(a->db, "COMMIT") < 0) {
        exec(a->db, "ROLLBACK");
        return -1;
    }
    return n;
}

static int64_t wall_s(void) { return sl_wall_us() / 1000000; }

static int64_t cutoff_at(const struct sl_archive *a, int64_t now)
{
    return now - (int64_t)a->conf.retention_days * 86400;
}

static void *writer_main(void *arg)
{
    struct sl_archive *a = arg;
    sl_thread_name("sl-archive");
    int64_t next_expire = a->conf.expire_every_ms > 0 ? sl_now_ms() + a->conf.expire_every_ms
                                                      : INT64_MAX;
    int index_tries_at_stop = 0;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        /* rows committed and waiting for the index (writer-only state, read here) */
        int pending = a->written > a->indexed;
        while (a->count == 0 && !a->gap_new && !a->stop && a->expire_req == 0 &&
               sl_now_ms() < next_expire &&
               !(pending && (a->flushing || sl_now_ms() >= a->index_due_ms))) {
            int64_t until = next_expire;
            if (pending && a->index_due_ms < until)
                until = a->index_due_ms;
            a->writer_waiting = 1;
            if (until == INT64_MAX) {
                pthread_cond_wait(&a->wake, &a->mu);
            } else {
                struct timespec ts;
                sl_deadline_after_ms(&ts, until - sl_now_ms());
                pthread_cond_timedwait(&a->wake, &a->mu, &ts);
            }
            a->writer_waiting = 0;
        }
        if (a->stop && a->count == 0 && !a->gap_new && a->expire_req == 0 &&
            (!pending || index_tries_at_stop > 0))
            break;
        /* Under load, gather: commit at most every commit_every_ms (a commit is a WAL
         * write, whatever its size). */
        if (a->conf.commit_every_ms > 0 && a->count < (size_t)a->conf.batch_max &&
            a->count > 0 && !a->stop && !a->flushing && a->expire_req == 0) {
            int64_t due = a->last_commit_ms + a->conf.commit_every_ms;
            int64_t now = sl_now_ms();
            if (now < due) {
                struct timespec ts;
                sl_deadline_after_ms(&ts, due - now);
                /* writer_waiting stays 0: puts do not wake us (flush and stop do) */
                pthread_cond_timedwait(&a->wake, &a->mu, &ts);
                continue;
            }
        }
        size_t n = a->count < (size_t)a->conf.batch_max ? a->count : (size_t)a->conf.batch_max;
        size_t h = a->head;
        struct arch_gap gap = a->gap;
        memset(&a->gap, 0, sizeof a->gap);
        a->gap_new = 0;
        uint64_t gap_gen = a->gap_gen;
        int64_t ereq = a->expire_req;
        /* flush, close and expire want everything searchable (expiry only deletes what
         * the index holds) */
        int force = a->flushing || a->stop || ereq != 0;
        if (a->stop && a->count == 0)
            index_tries_at_stop++;
        pthread_mutex_unlock(&a->mu);

        int ix = 0, wrote = 0, gap_done = 0;
        if (n || gap.n || (pending && (force || sl_now_ms() >= a->index_due_ms)))
            wrote = write_batch(a, h, n, &gap, &gap_done, force, &ix);
        if (gap_done) {
            gap_add(&a->gap_log, &gap);
            log_gaps(a, sl_now_ms());
        }
        if (n)
            a->last_commit_ms = sl_now_ms();
        int64_t expired = 0;
        int step_expired = 0;
        if (ereq) {
            for (;;) {
                int d = expire_step(a, cutoff_at(a, ereq), a->conf.expire_batch);
                if (d < 0) {
                    expired = -1;
                    break;
                }
                expired += d;
                if (d < a->conf.expire_batch)
                    break;
            }
        } else if (sl_now_ms() >= next_expire) {
            int d = expire_step(a, cutoff_at(a, wall_s()), a->conf.expire_batch);
            if (d > 0) {
                SL_DEBUG("archive", "expired %d messages", d);
                step_expired = d;
            }
            /* a full step means more are waiting: go on after the next batch */
            next_expire = d == a->conf.expire_batch ? sl_now_ms()
                                                    : sl_now_ms() + a->conf.expire_every_ms;
        }

        pthread_mutex_lock(&a->mu);
        if (gap.n && !gap_done) { /* not written: again with the next batch */
            gap_add(&gap, &a->gap);
            a->gap = gap;
            a->failed = 1;
        }
        a->gap_gen_done = gap_gen;
        size_t freed = 0;
        for (size_t i = 0; i < n; i++) {
            struct arch_slot *s = &a->ring[(h + i) % a->cap];
            freed += s->len;
            if (s->cap > SLOT_KEEP) {
                free(s->text);
                s->text = NULL;
                s->cap = 0;
            }
            if (i == n - 1)
                a->committed = s->seq + 1;
        }
        a->head = (h + n) % a->cap;
        a->count -= n;
        a->bytes -= freed;
        a->searchable = a->written > a->indexed ? a->indexed + 1 : a->committed;
        if (wrote < 0 || (size_t)wrote < n || ix < 0)
            a->failed = 1;
        if (n) {
            a->st.batches++;
            a->st.committed += wrote > 0 ? (uint64_t)wrote : 0;
            a->st.lost += n - (wrote > 0 ? (size_t)wrote : 0);
        }
        a->st.expired += (uint64_t)(expired > 0 ? expired : 0) + (uint64_t)step_expired;
        if (ereq) {
            a->expire_result = expired;
            a->expire_req = 0;
            a->expire_gen_done++;
        }
        pthread_cond_broadcast(&a->done);
    }
    struct arch_gap unwritten = a->gap;
    pthread_mutex_unlock(&a->mu);
    log_gaps(a, -1);
    if (unwritten.n)
        SL_ERROR("archive", "%llu messages were not archived, and the gap could not be "
                 "recorded in the table lost (see the errors above)",
                 (unsigned long long)unwritten.n);
    return NULL;
}

/* ---- open / close ---- */

int sl_archive_open(const struct sl_archive_conf *c, struct sl_archive **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (!c->path || !c->path[0]) {
        seterr(err, errlen, "archive: no database path%s%s", "", "");
        return -1;
    }
    if (c->retention_days < 1 || c->queue_max < 1 || c->queue_bytes_max < 1 ||
        c->batch_max < 1 || c->expire_batch < 1 || c->expire_every_ms < 0 ||
        c->count_max < SL_ARCHIVE_MAX_HITS || c->search_queue < 0 || c->index_every_ms < 0 ||
        c->index_batch < 1) {
        seterr(err, errlen,
               "archive: bad configuration (retention_days, queue_max, queue_bytes_max, "
               "batch_max, expire_batch, index_batch must be >= 1, count_max >= 100, "
               "search_queue, index_every_ms >= 0)%s%s",
               "", "");
        return -1;
    }
    struct sl_archive *a = sl_xcalloc(1, sizeof *a);
    a->conf = *c;
    a->path = sl_xstrdup(c->path);
    a->conf.path = a->path;
    if (a->conf.expire_batch > 1024)
        a->conf.expire_batch = 1024;
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->rmu, NULL);
    pthread_mutex_init(&a->smu, NULL);
    pthread_cond_init(&a->swake, NULL);
    a->efd = -1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&a->done, NULL);

    if (!c->readonly && open_writer(a, err, errlen) < 0)
        goto fail;
    if (open_reader(a, err, errlen) < 0)
        goto fail;
    if (!c->readonly) {
        a->cap = c->queue_max;
        a->ring = sl_xcalloc(a->cap, sizeof *a->ring);
        int rc = pthread_create(&a->writer, NULL, writer_main, a);
        if (rc != 0) {
            seterr(err, errlen, "archive: cannot start the writer thread: %s%s", strerror(rc),
                   "");
            goto fail;
        }
        a->writer_started = 1;
    }
    if (c->search_queue > 0 && sl_arch_async_start(a, err, errlen) < 0)
        goto fail;
    *out = a;
    return 0;
fail:
    sl_archive_close(a);
    return -1;
}

void sl_archive_close(struct sl_archive *a)
{
    if (!a)
        return;
    sl_arch_async_stop(a);
    if (a->writer_started) {
        pthread_mutex_lock(&a->mu);
        a->stop = 1;
        pthread_cond_signal(&a->wake);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->writer, NULL);
    }
    sqlite3_stmt *st[] = {a->ins_msg, a->idx_rows, a->set_indexed, a->del_fts, a->del_msg,  a->old_rows,
                          a->set_seq, a->set_back, a->ins_fts, a->ins_msgs, a->search, a->fetch,   a->get_back,
                          a->next_row, a->seq_span, a->ins_gap, a->ext_gap, a->del_gaps,
                          a->lost_in};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        sqlite3_finalize(st[i]);
    sl_walckpt_stop(a->ck); /* after the writer's last commit (joined above) */
    if (a->db && sqlite3_close(a->db) != SQLITE_OK)
        SL_ERROR("archive", "close: %s", sqlite3_errmsg(a->db));
    if (a->rdb)
        sqlite3_close(a->rdb);
    free(a->pend);
    sl_buf_free(&a->pend_text);
    for (int i = 0; i < INS_ROWS; i++)
        sl_buf_free(&a->strip[i]);
    for (size_t i = 0; i < a->cap; i++)
        free(a->ring[i].text);
    free(a->ring);
    pthread_cond_destroy(&a->wake);
    pthread_cond_destroy(&a->done);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->rmu);
    pthread_mutex_destroy(&a->smu);
    pthread_cond_destroy(&a->swake);
    free(a->path);
    free(a);
}

/* ---- put ---- */

static int upper_alnum(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

static int rec_ok(const struct sl_archive_rec *r)
{
    size_t kl = r->key ? strlen(r->key) : 0;
    if (kl < 2 || kl > 3 || !upper_alnum(r->key, kl))
        return 0;
    if (!r->src || strlen(r->src) != SL_ORI_LEN || !upper_alnum(r->src, SL_ORI_LEN))
        return 0;
    size_t dl = r->dst ? strlen(r->dst) : 0;
    if ((dl != 2 && dl != SL_ORI_LEN) || !upper_alnum(r->dst, dl))
        return 0;
    if (r->src_mbr && r->src_mbr[0] && (strlen(r->src_mbr) != 2 || !upper_alnum(r->src_mbr, 2)))
        return 0;
    if (r->dst_mbr && r->dst_mbr[0] && (strlen(r->dst_mbr) != 2 || !upper_alnum(r->dst_mbr, 2)))
        return 0;
    if (r->ctl && strlen(r->ctl) > SL_MSG_CTL_MAX)
        return 0;
    if (r->time < 0 || (!r->text && r->text_len))
        return 0;
    return 1;
}

static void mbr(char dst[3], const char *given, const char *addr)
{
    const char *s = given && given[0] ? given : addr;
    dst[0] = s[0];
    dst[1] = s[1];
    dst[2] = '\0';
}

int sl_archive_put(struct sl_archive *a, const struct sl_archive_rec *r, uint64_t *seq)
{
    if (a->conf.readonly) {
        SL_ERROR("archive", "put on a read-only archive");
        return -2;
    }
    if (!rec_ok(r)) {
        SL_ERROR("archive", "malformed record not archived (key %.8s src %.12s dst %.12s)",
                 r->key ? r->key : "-", r->src ? r->src : "-", r->dst ? r->dst : "-");
        return -2;
    }
    pthread_mutex_lock(&a->mu);
    if (a->count >= a->cap || a->bytes + r->text_len > a->conf.queue_bytes_max) {
        a->st.queue_full++;
        pthread_mutex_unlock(&a->mu);
        return -1;
    }
    struct arch_slot *s = &a->ring[(a->head + a->count) % a->cap];
    if (s->cap < r->text_len + 1) {
        free(s->text);
        s->cap = r->text_len + 1 < 256 ? 256 : r->text_len + 1;
        s->text = sl_xmalloc(s->cap);
    }
    if (r->text_len)
        memcpy(s->text, r->text, r->text_len);
    s->text[r->text_len] = '\0';
    s->len = r->text_len;
    s->t = r->time;
    sl_strlcpy(s->key, r->key, sizeof s->key);
    sl_strlcpy(s->src, r->src, sizeof s->src);
    sl_strlcpy(s->dst, r->dst, sizeof s->dst);
    mbr(s->src_mbr, r->src_mbr, r->src);
    mbr(s->dst_mbr, r->dst_mbr, r->dst);
    sl_strlcpy(s->ctl, r->ctl ? r->ctl : "", sizeof s->ctl);
    s->seq = a->next_seq++;
    if (seq)
        *seq = s->seq;
    a->count++;
    a->bytes += r->text_len;
    /* wake the writer when it sleeps, or when it gathers and a full batch is here */
    if (a->writer_waiting || a->count == (size_t)a->conf.batch_max)
        pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

void sl_archive_lost(struct sl_archive *a, const struct sl_archive_rec *r)
{
    if (a->conf.readonly)
        return;
    pthread_mutex_lock(&a->mu);
    struct arch_gap g = {1, a->next_seq - 1, a->next_seq, r->time, r->time};
    gap_add(&a->gap, &g);
    a->gap_new = 1;
    a->gap_gen++;
    if (a->writer_waiting)
        pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->mu);
}

void sl_archive_queued(struct sl_archive *a, size_t *msgs, size_t *bytes)
{
    pthread_mutex_lock(&a->mu);
    if (msgs)
        *msgs = a->count;
    if (bytes)
        *bytes = a->bytes;
    pthread_mutex_unlock(&a->mu);
}

int sl_archive_flush(struct sl_archive *a)
{
    if (!a->writer_started)
        return 0;
    pthread_mutex_lock(&a->mu);
    uint64_t target = a->next_seq;
    a->flushing++;
    pthread_cond_signal(&a->wake);
    uint64_t gaps = a->gap_gen;
    /* committed, and indexed (unless indexing failed: then -1, the rows are archived);
     * the gaps recorded so far written (or failed: -1) */
    while (a->committed < target || (a->searchable < target && !a->failed) ||
           a->gap_gen_done < gaps)
        pthread_cond_wait(&a->done, &a->mu);
    a->flushing--;
    int rc = a->failed ? -1 : 0;
    a->failed = 0;
    pthread_mutex_unlock(&a->mu);
    return rc;
}

int64_t sl_archive_expire(struct sl_archive *a, int64_t now)
{
    if (!a->writer_started)
        return -1;
    if (now <= 0)
        now = wall_s();
    pthread_mutex_lock(&a->mu);
    while (a->expire_req != 0) /* another expiry in progress */
        pthread_cond_wait(&a->done, &a->mu);
    a->expire_req = now;
    uint64_t gen = ++a->expire_gen;
    pthread_cond_signal(&a->wake);
    while (a->expire_gen_done < gen)
        pthread_cond_wait(&a->done, &a->mu);
    int64_t r = a->expire_result;
    pthread_mutex_unlock(&a->mu);
    return r;
}

void sl_archive_stats(struct sl_archive *a, struct sl_archive_stats *out)
{
    pthread_mutex_lock(&a->mu);
    *out = a->st;
    out->behind = a->next_seq > a->searchable ? a->next_seq - a->searchable : 0;
    pthread_mutex_unlock(&a->mu);
    out->writer_cpu_ns = 0;
    clockid_t cid;
    struct timespec ts;
    if (a->writer_started && pthread_getcpuclockid(a->writer, &cid) == 0 &&
        clock_gettime(cid, &ts) == 0)
        out->writer_cpu_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t sl_archive_count(struct sl_archive *a)
{
    pthread_mutex_lock(&a->rmu);
    sqlite3_stmt *s;
    int64_t n = -1;
    if (sqlite3_prepare_v2(a->rdb, "SELECT count(*) FROM msg", -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            n = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    pthread_mutex_unlock(&a->rmu);
    return n;
}
