/*
 * gw_queue.c - the gateway's own durable state: DATA/gateway.db (SQLite, WAL).
 *
 *   inbox(id INTEGER PRIMARY KEY, received_us INTEGER, frame BLOB)
 *       every query read from the hub line, until its reply has been handed to the line
 *       a gateway killed between reading a query and sending its reply answers it
 *       after the restart).  WAL with synchronous = NORMAL: a commit survives the process
 *       being killed (it is in the OS's page cache); one commit per loop iteration.
 *
 *   review(id INTEGER PRIMARY KEY, received_us, deadline_us, ori, key, ctl, rules, why,
 *          policy_hash, then_effect, frame BLOB, audit_index, status)
 *       requests held for review (policy `hold`).  Written with synchronous = FULL:
 *       a held request survives a power cut, since the requester has been told it is
 *       held.  status is 'held' until the review desk (`stateline review`) acts.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gw_int.h"
#include "stateline/core.h"

struct gw_queue {
    sqlite3 *db;
    sqlite3_stmt *add, *done, *hold;
    int in_tx;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS inbox(id INTEGER PRIMARY KEY, received_us INTEGER NOT NULL,"
    " frame BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS review(id INTEGER PRIMARY KEY, received_us INTEGER NOT NULL,"
    " deadline_us INTEGER NOT NULL, ori TEXT NOT NULL, key TEXT NOT NULL, ctl TEXT NOT NULL,"
    " rules TEXT NOT NULL, why TEXT NOT NULL, policy_hash TEXT NOT NULL,"
    " then_effect TEXT NOT NULL, frame BLOB NOT NULL, audit_index INTEGER NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'held');"
    "CREATE INDEX IF NOT EXISTS review_status ON review(status, deadline_us);";

struct gw_queue *gw_queue_open(const char *data_dir, char *err, size_t errlen)
{
    char path[SL_GW_PATH_MAX + 32];
    mkdir(data_dir, 0700);
    snprintf(path, sizeof path, "%s/gateway.db", data_dir);
    struct gw_queue *q = sl_xcalloc(1, sizeof *q);
    if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, q->db ? sqlite3_errmsg(q->db) : "out of memory");
        gw_queue_close(q);
        return NULL;
    }
    sqlite3_busy_timeout(q->db, 2000);
    char *e = NULL;
    if (sqlite3_exec(q->db, schema, NULL, NULL, &e) != SQLITE_OK ||
        sqlite3_prepare_v2(q->db, "INSERT INTO inbox(received_us, frame) VALUES(?,?)", -1,
                           &q->add, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(q->db, "DELETE FROM inbox WHERE id = ?", -1, &q->done, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(q->db,
                           "INSERT INTO review(received_us, deadline_us, ori, key, ctl, rules,"
                           " why, policy_hash, then_effect, frame, audit_index)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &q->hold, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, e ? e : sqlite3_errmsg(q->db));
        sqlite3_free(e);
        gw_queue_close(q);
        return NULL;
    }
    return q;
}

void gw_queue_close(struct gw_queue *q)
{
    if (!q)
        return;
    if (q->in_tx)
        gw_queue_commit(q);
    sqlite3_finalize(q->add);
    sqlite3_finalize(q->done);
    sqlite3_finalize(q->hold);
    sqlite3_close(q->db);
    free(q);
}

int gw_queue_begin(struct gw_queue *q)
{
    if (q->in_tx)
        return 0;
    if (sqlite3_exec(q->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        SL_ERROR("gateway", "gateway.db: BEGIN: %s", sqlite3_errmsg(q->db));
        return -1;
    }
    q->in_tx = 1;
    return 0;
}

int gw_queue_commit(struct gw_queue *q)
{
    if (!q->in_tx)
        return 0;
    q->in_tx = 0;
    if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        SL_ERROR("gateway", "gateway.db: COMMIT: %s", sqlite3_errmsg(q->db));
        return -1;
    }
    return 0;
}

int64_t gw_queue_inbox_add(struct gw_queue *q, const void *frame, size_t len)
{
    sqlite3_bind_int64(q->add, 1, sl_wall_us());
    sqlite3_bind_blob(q->add, 2, frame, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(q->add);
    sqlite3_reset(q->add);
    sqlite3_clear_bindings(q->add);
    if (rc != SQLITE_DONE) {
        SL_ERROR("gateway", "gateway.db: inbox: %s", sqlite3_errmsg(q->db));
        return -1;
    }
    return sqlite3_last_insert_rowid(q->db);
}

int gw_queue_inbox_done(struct gw_queue *q, int64_t id)
{
    if (id <= 0)
        return 0;
    sqlite3_bind_int64(q->done, 1, id);
    int rc = sqlite3_step(q->done);
    sqlite3_reset(q->done);
    if (rc != SQLITE_DONE) {
        SL_ERROR("gateway", "gateway.db: inbox done: %s", sqlite3_errmsg(q->db));
        return -1;
    }
    return 0;
}

int gw_queue_inbox_each(struct gw_queue *q,
                        void (*fn)(int64_t id, const void *frame, size_t len, void *arg),
                        void *arg)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db, "SELECT id, frame FROM inbox ORDER BY id", -1, &s, NULL) !=
        SQLITE_OK)
        return -1;
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        fn(sqlite3_column_int64(s, 0), sqlite3_column_blob(s, 1),
           (size_t)sqlite3_column_bytes(s, 1), arg);
        n++;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? n : -1;
}

int64_t gw_queue_hold(struct gw_queue *q, const struct gw_hold *h)
{
    /* The requester is told "held": the request must survive a power cut too. */
    int was_tx = q->in_tx;
    if (was_tx)
        gw_queue_commit(q);
    sqlite3_exec(q->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    sqlite3_stmt *s = q->hold;
    sqlite3_bind_int64(s, 1, h->received_us);
    sqlite3_bind_int64(s, 2, h->deadline_us);
    sqlite3_bind_text(s, 3, h->ori, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, h->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, h->ctl, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, h->rules, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, h->why, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, h->policy_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, h->then, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 10, h->frame, (int)h->frame_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 11, (int64_t)h->audit_index);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    int64_t id = rc == SQLITE_DONE ? sqlite3_last_insert_rowid(q->db) : -1;
    if (id < 0)
        SL_ERROR("gateway", "gateway.db: review queue: %s", sqlite3_errmsg(q->db));
    sqlite3_exec(q->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    if (was_tx)
        gw_queue_begin(q);
    return id;
}

int64_t gw_queue_count_held(struct gw_queue *q)
{
    sqlite3_stmt *s;
    int64_t n = -1;
    if (sqlite3_prepare_v2(q->db, "SELECT count(*) FROM review WHERE status = 'held'", -1, &s,
                           NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}
