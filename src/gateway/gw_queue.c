/*
 * gw_queue.c - the gateway's own durable state: DATA/gateway.db (SQLite, WAL).
 *
 * The loop's connection does not checkpoint the WAL itself (wal_autocheckpoint = 0): a
 * thread with its own connection does (src/core/walckpt.c, docs/gateway.md §5.1), started at open
 * and joined at close.
 *
 * The inbox is not here: it is a log of its own, DATA/inbox/ (gw_ilog.c, gw_inbox.c,
 * docs/gateway.md §5.1).  The tables it had in the versions before are read once, to
 * convert them into the log, and dropped (gw_queue_old_inbox, gw_queue_old_inbox_drop):
 *
 *   inbox_read(id INTEGER PRIMARY KEY, received_us INTEGER, frames BLOB)
 *       one row per read of the hub line, until the replies to all its frames had been
 *       acknowledged.  frames: records, each a 4-byte big-endian length L, the 8-byte
 *       big-endian switch message id of the frame (0 = none), then the L bytes of the
 *       frame as read (gw_inbox_blob_next parses a record; the log's READ records hold
 *       the same).
 *
 *   answered_batch(id INTEGER PRIMARY KEY, at_us INTEGER, mids BLOB, replies BLOB)
 *       the replies to queries with a message id, one row per pass over the hub's
 *       acknowledgements.  mids: n 8-byte big-endian ids.  replies: n records in the same
 *       order, each a 4-byte big-endian length L and the L bytes of the reply frame as
 *       sent (gw_answered_blob_get; the log's BATCH records hold the same).
 *
 *   inbox(id, received_us, frame, mid), answered(seq, mid UNIQUE, at_us, reply)
 *       the one-row-per-query forms of the versions before those: a file that has them
 *       is converted at open (gw_queue_open, one transaction) into inbox_read rows of one
 *       record (oldest first) and answered_batch rows of up to 1,000, which then go into
 *       the log like any.

 *   review(id INTEGER PRIMARY KEY, received_us, deadline_us, ori, key, ctl, rules, why,
 *          policy_hash, then_effect, frame BLOB, audit_index, status)
 *       requests held for review (policy `hold`).  Written with synchronous = FULL:
 *       a held request survives a power cut, since the requester has been told it is
 *       held.  Later columns (added to older files at open):
 *         ref            the query's audit correlation ref
 *         detail         JSON: requester (member, type, parent, state), RSN PUR CAS LGP ATN,
 *                        classes that would be released, policy redactions (mask and
 *                        "withheld by" text), marks, notices, two_person
 *         status         held -> approved | denied | timed-out (one UPDATE ... WHERE
 *                        status = 'held': the desk and the deadline cannot both win)
 *         decided_us, decided_by, decision_reason, extra_redact (reviewers' class bits)
 *         queued_run     the gateway run that queued the reply (a restart queues it again)
 *         sent_us        the hub's TCP acknowledged the reply: done
 *
 *   Retention (gw_queue_retention, retention_days): reviews done (decided, reply sent,
 *   actions audited) and notices sent (and audited) are deleted after retention_days.
 *
 *   review_action(id, review_id, at_us, reviewer, action, reason, redact, audited)
 *       every reviewer action (approve, approve-1of2, deny) and deadline (timeout), written
 *       by the desk or the gateway; the gateway writes its REVIEW audit entry and sets
 *       audited = 1 (the gateway is the audit log's one writer).
 *
 *   notice(id, created_us, due, days, business, rule, ref, review, ori, member,
 *          agency_type, parent, req_state, key, classes, subject, status, sent_us,
 *          sent_by, letter, audited_sent)
 *       notices to the person (policy `notify`): created by the gateway when data is
 *       released (due = yyyymmdd), sent by `stateline review notices send`.  subject is
 *       the person's licence number: name and address are looked up at send time.
 *
 *   policy_apply(id, at_us, author, file, hash, audited, approver, basis, note)
 *       who applied which policy text (`stateline policy apply --author`, or a draft
 *       approved on the oversight desk: approver(s) "bob, dave", the legal basis and a
 *       note such as "draft 3"), for the gateway's policy-change entry.
 *   admin_event(id, at_us, actor, action, text, failed, audited)
 *       what a tool did or was refused that the audit log must show and the tool cannot
 *       write there itself (the gateway is the log's one writer): a policy apply refused
 *       (P-33: another state's rules, or a text that does not check; failed = 1), a read
 *       of an entry's personal data (`audit personal`, P-18).  The gateway writes each as
 *       an admin entry (outcome failed or ok) and sets audited = 1.  No personal data.
 *   policy_text(hash PRIMARY KEY, text, first_us)
 *       the texts of applied policies and of the policy they replaced (gw_apply.c), so
 *       the rule history can show what changed.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gw_int.h"
#include "stateline/be.h"
#include "stateline/core.h"
#include "stateline/sqlcfg.h"
#include "stateline/walckpt.h"
#include "stateline/frame.h"

/* The statements of the loop's recurring work: the review timer's pass (every
 * review_poll_ms: deadlines, reviewer actions, decided replies, sent notices), a notice per
 * released query under a `notify` rule, the policy author at each apply.  Each is compiled
 * at its first use and kept until close (q_stmt), not compiled again at every call: a
 * compile costs more than the statement's own work here. */
enum q_sql {
    QS_COUNT_HELD,
    QS_BEGIN_IMMEDIATE,
    QS_EXPIRE_ACTION,
    QS_EXPIRE_REVIEW,
    QS_ACTIONS,
    QS_ACTION_AUDITED,
    QS_DECIDED,
    QS_REVIEW_QUEUED,
    QS_REVIEW_SENT,
    QS_NOTICE_ADD,
    QS_SENT_UNAUDITED,
    QS_SENT_AUDITED,
    QS_POLICY_AUTHOR,
    QS_POLICY_AUDITED,
    QS_ADMIN_UNAUDITED,
    QS_ADMIN_AUDITED,
    QS_RETAIN_ACTIONS,
    QS_RETAIN_REVIEWS,
    QS_RETAIN_NOTICES,
    QS_N
};

#define RETAIN_REVIEW                                                                   \
    " status <> 'held' AND sent_us IS NOT NULL AND coalesce(decided_us, received_us) < ?1"  \
    " AND NOT EXISTS (SELECT 1 FROM review_action a WHERE a.review_id = review.id AND"      \
    " a.audited = 0)"

static const char *const q_sql[QS_N] = {
    [QS_COUNT_HELD] = "SELECT count(*) FROM review WHERE status = 'held'",
    [QS_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [QS_EXPIRE_ACTION] =
        "INSERT INTO review_action(review_id, at_us, reviewer, action, reason)"
        " SELECT id, ?1, '(deadline)', 'timeout', 'the deadline passed with"
        " no reviewer decision: the policy''s outcome ('||then_effect||')"
        " applies' FROM review WHERE status = 'held' AND deadline_us <= ?1",
    [QS_EXPIRE_REVIEW] = "UPDATE review SET status = 'timed-out', decided_us = ?1,"
                         " decided_by = '(deadline)', decision_reason = 'timeout'"
                         " WHERE status = 'held' AND deadline_us <= ?1",
    [QS_ACTIONS] = "SELECT a.id, a.review_id, a.at_us, a.reviewer, a.action, a.reason,"
                   " a.redact, r.ref, r.ori, r.key, r.rules,"
                   " coalesce(json_extract(r.detail, '$.redact') &"
                   " json_extract(r.detail, '$.carried'), 0) FROM review_action a"
                   " JOIN review r ON r.id = a.review_id WHERE a.audited = 0"
                   " ORDER BY a.id LIMIT ?",
    [QS_ACTION_AUDITED] = "UPDATE review_action SET audited = 1 WHERE id = ?1 AND ?2 = ?2",
    [QS_DECIDED] = "SELECT id, status, coalesce(decided_by,''),"
                   " coalesce(decision_reason,''), then_effect, ref, extra_redact,"
                   " detail, frame, policy_hash FROM review WHERE status <> 'held' AND"
                   " sent_us IS NULL AND (queued_run IS NULL OR queued_run <> ?) ORDER BY"
                   " decided_us, id LIMIT ?",
    [QS_REVIEW_QUEUED] = "UPDATE review SET queued_run = ?2 WHERE id = ?1",
    [QS_REVIEW_SENT] = "UPDATE review SET sent_us = ?2 WHERE id = ?1",
    [QS_NOTICE_ADD] = "INSERT INTO notice(created_us, due, days, business, rule, ref,"
                      " review, ori, member, agency_type, parent, req_state, key, classes,"
                      " subject) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [QS_SENT_UNAUDITED] = "SELECT id, sent_us, coalesce(sent_by,''), ref, ori, key FROM notice"
                          " WHERE status = 'sent' AND audited_sent = 0 ORDER BY id LIMIT ?",
    [QS_SENT_AUDITED] = "UPDATE notice SET audited_sent = 1 WHERE id = ?1 AND ?2 = ?2",
    [QS_POLICY_AUTHOR] = "SELECT id, author, approver, basis, note FROM policy_apply"
                         " WHERE hash = ? ORDER BY id DESC LIMIT 1",
    [QS_POLICY_AUDITED] = "UPDATE policy_apply SET audited = 1 WHERE id = ?1 AND ?2 = ?2",
    [QS_ADMIN_UNAUDITED] = "SELECT id, at_us, actor, action, text, failed FROM admin_event"
                           " WHERE audited = 0 ORDER BY id LIMIT ?",
    [QS_ADMIN_AUDITED] = "UPDATE admin_event SET audited = 1 WHERE id = ?1 AND ?2 = ?2",
    /* retention (gw_queue_retention): a review is done when decided, its reply sent and
     * every action on it in the audit log; a notice when sent and that in the log */
    [QS_RETAIN_ACTIONS] = "DELETE FROM review_action WHERE review_id IN (SELECT id FROM"
                          " review WHERE" RETAIN_REVIEW " ORDER BY id LIMIT ?2)",
    [QS_RETAIN_REVIEWS] = "DELETE FROM review WHERE id IN (SELECT id FROM review WHERE"
                          RETAIN_REVIEW " ORDER BY id LIMIT ?2)",
    [QS_RETAIN_NOTICES] = "DELETE FROM notice WHERE id IN (SELECT id FROM notice WHERE"
                          " status = 'sent' AND sent_us < ?1 AND audited_sent = 1"
                          " ORDER BY sent_us LIMIT ?2)",
};

struct gw_queue {
    sqlite3 *db;
    sqlite3_stmt *hold;
    sqlite3_stmt *begin, *commit;  /* once per loop pass: compiled once */
    sqlite3_stmt *st[QS_N];        /* q_sql, compiled at first use (q_stmt) */
    int in_tx;
    struct sl_walckpt *ck; /* WAL checkpoints off the loop (walckpt.h); NULL: SQLite's own */
    char dir[SL_GW_PATH_MAX];
};

/* secure_delete (per connection: every connection that writes the file runs this): a
 * deleted or rewritten row's bytes are zeroed in its page, not left in the free space,
 * so a request or a notice is gone from the file when retention deletes it (an UPDATE of
 * a review's status would otherwise leave a copy of its request behind). */
static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA secure_delete=ON;"
    "CREATE TABLE IF NOT EXISTS review_action(id INTEGER PRIMARY KEY, review_id INTEGER NOT"
    " NULL, at_us INTEGER NOT NULL, reviewer TEXT NOT NULL, action TEXT NOT NULL, reason"
    " TEXT NOT NULL, redact INTEGER NOT NULL DEFAULT 0, audited INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS review_action_audited ON review_action(audited);"
    "CREATE TABLE IF NOT EXISTS notice(id INTEGER PRIMARY KEY, created_us INTEGER NOT NULL,"
    " due INTEGER NOT NULL, days INTEGER NOT NULL, business INTEGER NOT NULL, rule TEXT NOT"
    " NULL, ref TEXT NOT NULL, review TEXT NOT NULL, ori TEXT NOT NULL, member TEXT NOT NULL,"
    " agency_type TEXT NOT NULL, parent TEXT NOT NULL, req_state TEXT NOT NULL, key TEXT NOT"
    " NULL, classes INTEGER NOT NULL, subject TEXT NOT NULL, status TEXT NOT NULL DEFAULT"
    " 'due', sent_us INTEGER, sent_by TEXT, letter TEXT, audited_sent INTEGER NOT NULL"
    " DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS notice_status ON notice(status, due);"
    /* retention finds the sent notices by age without reading every notice */
    "CREATE INDEX IF NOT EXISTS notice_sent ON notice(sent_us) WHERE status = 'sent';"
    "CREATE TABLE IF NOT EXISTS admin_event(id INTEGER PRIMARY KEY, at_us INTEGER NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, text TEXT NOT NULL, failed INTEGER NOT NULL"
    " DEFAULT 0, audited INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS policy_apply(id INTEGER PRIMARY KEY, at_us INTEGER NOT NULL,"
    " author TEXT NOT NULL, file TEXT NOT NULL, hash TEXT NOT NULL, audited INTEGER NOT NULL"
    " DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS policy_text(hash TEXT PRIMARY KEY, text TEXT NOT NULL,"
    " first_us INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS review(id INTEGER PRIMARY KEY, received_us INTEGER NOT NULL,"
    " deadline_us INTEGER NOT NULL, ori TEXT NOT NULL, key TEXT NOT NULL, ctl TEXT NOT NULL,"
    " rules TEXT NOT NULL, why TEXT NOT NULL, policy_hash TEXT NOT NULL,"
    " then_effect TEXT NOT NULL, frame BLOB NOT NULL, audit_index INTEGER NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'held');"
    "CREATE INDEX IF NOT EXISTS review_status ON review(status, deadline_us);";

/* The inbox's tables of the versions before the log (gw_ilog.c): created only to convert
 * a file of the per-query form, whose rows then go into the log. */
static const char old_inbox_schema[] =
    "CREATE TABLE IF NOT EXISTS inbox_read(id INTEGER PRIMARY KEY, received_us INTEGER NOT"
    " NULL, frames BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS answered_batch(id INTEGER PRIMARY KEY, at_us INTEGER NOT NULL,"
    " mids BLOB NOT NULL, replies BLOB NOT NULL);";

/* Columns added to `review` after its first version (an older gateway.db gets them). */
static const char *const review_columns[] = {
    "ref TEXT NOT NULL DEFAULT ''", "detail TEXT NOT NULL DEFAULT '{}'",
    "decided_us INTEGER", "decided_by TEXT", "decision_reason TEXT",
    "extra_redact INTEGER NOT NULL DEFAULT 0", "queued_run INTEGER", "sent_us INTEGER",
};

static int gw_queue_schema_apply_v1(sqlite3 *db, char *err, size_t errlen);

/* Columns added to `policy_apply` by the desk's draft approvals. */
static const char *const apply_columns[] = {
    "approver TEXT NOT NULL DEFAULT ''", "basis TEXT NOT NULL DEFAULT ''",
    "note TEXT NOT NULL DEFAULT ''",
};

static int add_columns(sqlite3 *db, const char *table, const char *const *cols, size_t n,
                       char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        char sql[200], *e = NULL;
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s", table, cols[i]);
        if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK) {
            int dup = e && strstr(e, "duplicate column");
            if (!dup)
                snprintf(err, errlen, "%s: %s", sql, e ? e : sqlite3_errmsg(db));
            sqlite3_free(e);
            if (!dup)
                return -1;
        }
    }
    return 0;
}

int gw_queue_schema_apply(sqlite3 *db, char *err, size_t errlen)
{
    if (gw_queue_schema_apply_v1(db, err, errlen) != 0)
        return -1;
    return add_columns(db, "policy_apply", apply_columns,
                       sizeof apply_columns / sizeof apply_columns[0], err, errlen);
}

static int gw_queue_schema_apply_v1(sqlite3 *db, char *err, size_t errlen)
{
    char *e = NULL;
    if (sqlite3_exec(db, schema, NULL, NULL, &e) != SQLITE_OK) {
        snprintf(err, errlen, "%s", e ? e : sqlite3_errmsg(db));
        sqlite3_free(e);
        return -1;
    }
    for (size_t i = 0; i < sizeof review_columns / sizeof review_columns[0]; i++) {
        char sql[200];
        snprintf(sql, sizeof sql, "ALTER TABLE review ADD COLUMN %s", review_columns[i]);
        if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK) {
            int dup = e && strstr(e, "duplicate column");
            if (!dup)
                snprintf(err, errlen, "%s: %s", sql, e ? e : sqlite3_errmsg(db));
            sqlite3_free(e);
            e = NULL;
            if (!dup)
                return -1;
        }
    }
    return 0;
}

/* ---- blobs (formats in the header comment) ---- */

void gw_blob_put_frame(struct sl_buf *b, uint64_t mid, const void *frame, uint32_t len)
{
    uint8_t *p = sl_buf_reserve(b, GW_INBOX_REC_HDR + (size_t)len);
    sl_be_put32(p, len);
    sl_be_put32(p + 4, (uint32_t)(mid >> 32));
    sl_be_put32(p + 8, (uint32_t)mid);
    if (len)
        memcpy(p + GW_INBOX_REC_HDR, frame, len);
    sl_buf_commit(b, GW_INBOX_REC_HDR + (size_t)len);
}

void gw_blob_put_reply(struct sl_buf *mids, struct sl_buf *replies, uint64_t mid,
                       const void *reply, uint32_t len)
{
    uint8_t *p = sl_buf_reserve(mids, 8);
    sl_be_put32(p, (uint32_t)(mid >> 32));
    sl_be_put32(p + 4, (uint32_t)mid);
    sl_buf_commit(mids, 8);
    p = sl_buf_reserve(replies, 4 + (size_t)len);
    sl_be_put32(p, len);
    if (len)
        memcpy(p + 4, reply, len);
    sl_buf_commit(replies, 4 + (size_t)len);
}

int gw_inbox_blob_next(const uint8_t *b, size_t n, size_t *off, uint64_t *mid,
                       const uint8_t **frame, uint32_t *len)
{
    if (*off >= n)
        return 0;
    if (n - *off < GW_INBOX_REC_HDR)
        return -1;
    const uint8_t *p = b + *off;
    uint32_t l = sl_be_get32(p);
    if (l > SL_FRAME_DEFAULT_MAX || n - *off - GW_INBOX_REC_HDR < l)
        return -1;
    *mid = sl_be_get64(p + 4);
    *frame = p + GW_INBOX_REC_HDR;
    *len = l;
    *off += GW_INBOX_REC_HDR + (size_t)l;
    return 1;
}

uint64_t gw_mids_get(const uint8_t *mids, uint32_t i)
{
    return sl_be_get64(mids + (size_t)i * 8);
}

int gw_answered_blob_get(const uint8_t *b, size_t n, uint32_t i, const uint8_t **reply,
                         uint32_t *len)
{
    size_t off = 0;
    for (uint32_t k = 0;; k++) {
        if (n - off < 4)
            return -1;
        uint32_t l = sl_be_get32(b + off);
        if (n - off - 4 < l)
            return -1;
        if (k == i) {
            *reply = b + off + 4;
            *len = l;
            return 0;
        }
        off += 4 + (size_t)l;
    }
}

/* ---- the forms before inbox_read / answered_batch ---- */

static int table_exists(sqlite3 *db, const char *name)
{
    sqlite3_stmt *s;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(s);
    return found;
}

/* Each row of the old per-query inbox (oldest first) becomes an inbox_read row of one
 * record; a file of the version before that has no mid column (0 then). */
static int migrate_inbox(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *sel = NULL, *ins = NULL;
    struct sl_buf b = SL_BUF_INIT;
    int has_mid = 0, rc, n = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info('inbox') WHERE name ="
                           " 'mid'", -1, &sel, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_step(sel) == SQLITE_ROW)
        has_mid = sqlite3_column_int(sel, 0) > 0;
    sqlite3_finalize(sel);
    sel = NULL;
    if (sqlite3_prepare_v2(db, has_mid ? "SELECT received_us, frame, mid FROM inbox ORDER BY id"
                                       : "SELECT received_us, frame, 0 FROM inbox ORDER BY id",
                           -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO inbox_read(received_us, frames) VALUES(?,?)", -1,
                           &ins, NULL) != SQLITE_OK)
        goto fail;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(sel, 1);
        if (len > SL_FRAME_DEFAULT_MAX) {
            /* never written so by any version: not a frame the hub can send */
            SL_ERROR("gateway", "gateway.db: an inbox row of %zu bytes (over the frame "
                     "maximum) is not converted", len);
            continue;
        }
        sl_buf_reset(&b);
        gw_blob_put_frame(&b, (uint64_t)sqlite3_column_int64(sel, 2),
                          sqlite3_column_blob(sel, 1), (uint32_t)len);
        sqlite3_bind_int64(ins, 1, sqlite3_column_int64(sel, 0));
        sqlite3_bind_blob(ins, 2, sl_buf_head(&b), (int)sl_buf_used(&b), SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            goto fail;
        sqlite3_reset(ins);
        n++;
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    sl_buf_free(&b);
    if (n)
        SL_INFO("gateway", "gateway.db: %d inbox rows of the per-query form converted", n);
    return sqlite3_exec(db, "DROP TABLE inbox", NULL, NULL, NULL) == SQLITE_OK ? 0 : -2;
fail:
    snprintf(err, errlen, "converting the inbox: %s", sqlite3_errmsg(db));
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    sl_buf_free(&b);
    return -1;
}

/* The old answered rows (oldest first) become answered_batch rows of up to 1,000. */
static int migrate_answered(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *sel = NULL, *ins = NULL;
    struct sl_buf mids = SL_BUF_INIT, replies = SL_BUF_INIT;
    int rc, n = 0, k = 0;
    if (sqlite3_prepare_v2(db, "SELECT mid, reply FROM answered ORDER BY seq", -1, &sel,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO answered_batch(at_us, mids, replies)"
                           " VALUES(?,?,?)", -1, &ins, NULL) != SQLITE_OK)
        goto fail;
    for (;;) {
        rc = sqlite3_step(sel);
        if (rc == SQLITE_ROW) {
            size_t len = (size_t)sqlite3_column_bytes(sel, 1);
            if (len <= SL_FRAME_DEFAULT_MAX && sqlite3_column_int64(sel, 0) != 0) {
                gw_blob_put_reply(&mids, &replies, (uint64_t)sqlite3_column_int64(sel, 0),
                                  sqlite3_column_blob(sel, 1), (uint32_t)len);
                k++;
                n++;
            }
        } else if (rc != SQLITE_DONE) {
            goto fail;
        }
        if (k && (k == 1000 || rc == SQLITE_DONE)) {
            sqlite3_bind_int64(ins, 1, sl_wall_us());
            sqlite3_bind_blob(ins, 2, sl_buf_head(&mids), (int)sl_buf_used(&mids),
                              SQLITE_STATIC);
            sqlite3_bind_blob(ins, 3, sl_buf_head(&replies), (int)sl_buf_used(&replies),
                              SQLITE_STATIC);
            if (sqlite3_step(ins) != SQLITE_DONE)
                goto fail;
            sqlite3_reset(ins);
            sl_buf_reset(&mids);
            sl_buf_reset(&replies);
            k = 0;
        }
        if (rc == SQLITE_DONE)
            break;
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    sl_buf_free(&mids);
    sl_buf_free(&replies);
    if (n)
        SL_INFO("gateway", "gateway.db: %d answered ids of the per-query form converted", n);
    return sqlite3_exec(db, "DROP TABLE answered", NULL, NULL, NULL) == SQLITE_OK ? 0 : -2;
fail:
    snprintf(err, errlen, "converting the answered ids: %s", sqlite3_errmsg(db));
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    sl_buf_free(&mids);
    sl_buf_free(&replies);
    return -1;
}

/* A file of the versions before: both old tables converted in one transaction, so a kill
 * during it leaves the file as it was. */
static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    int old_inbox = table_exists(db, "inbox"), old_answered = table_exists(db, "answered");
    if (old_inbox < 0 || old_answered < 0) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    if (!old_inbox && !old_answered)
        return 0;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "converting the inbox: BEGIN: %s", sqlite3_errmsg(db));
        return -1;
    }
    int rc = 0;
    if (sqlite3_exec(db, old_inbox_schema, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "converting the inbox: %s", sqlite3_errmsg(db));
        rc = -1;
    }
    if (!rc && old_inbox)
        rc = migrate_inbox(db, err, errlen);
    if (!rc && old_answered)
        rc = migrate_answered(db, err, errlen);
    if (rc == -2)
        snprintf(err, errlen, "converting the inbox: DROP: %s", sqlite3_errmsg(db));
    if (rc || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        if (!rc)
            snprintf(err, errlen, "converting the inbox: COMMIT: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* Statement k of q_sql, compiled at its first use; NULL (logged) if it cannot be.  The
 * caller gives it back with q_done, whatever happened, so that no statement keeps a read
 * transaction open (it would hold the checkpoint back). */
static sqlite3_stmt *q_stmt(struct gw_queue *q, enum q_sql k)
{
    if (!q->st[k] && sqlite3_prepare_v3(q->db, q_sql[k], -1, SQLITE_PREPARE_PERSISTENT,
                                        &q->st[k], NULL) != SQLITE_OK) {
        SL_ERROR("gateway", "gateway.db: %s: %s", q_sql[k], sqlite3_errmsg(q->db));
        sqlite3_finalize(q->st[k]);
        q->st[k] = NULL;
    }
    return q->st[k];
}

static void q_done(sqlite3_stmt *s)
{
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

struct gw_queue *gw_queue_open(const char *data_dir, char *err, size_t errlen)
{
    char path[SL_GW_PATH_MAX + 32];
    mkdir(data_dir, 0700);
    snprintf(path, sizeof path, "%s/gateway.db", data_dir);
    struct gw_queue *q = sl_xcalloc(1, sizeof *q);
    snprintf(q->dir, sizeof q->dir, "%s", data_dir);
    if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, q->db ? sqlite3_errmsg(q->db) : "out of memory");
        gw_queue_close(q);
        return NULL;
    }
    sqlite3_busy_timeout(q->db, 2000);
    char *e = NULL;
    char serr[300] = "";
    if (gw_queue_schema_apply(q->db, serr, sizeof serr) != 0 ||
        migrate(q->db, serr, sizeof serr) != 0)
        e = sqlite3_mprintf("%s", serr);
    if (e ||
        sqlite3_prepare_v2(q->db, "BEGIN", -1, &q->begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(q->db, "COMMIT", -1, &q->commit, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(q->db,
                           "INSERT INTO review(received_us, deadline_us, ori, key, ctl, rules,"
                           " why, policy_hash, then_effect, frame, audit_index, ref, detail)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &q->hold, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, e ? e : sqlite3_errmsg(q->db));
        sqlite3_free(e);
        gw_queue_close(q);
        return NULL;
    }
    q->ck = sl_walckpt_start(q->db, path, "gateway", "gateway.db", "sl-gw-ckpt");
    return q;
}

struct sl_walckpt *gw_queue_ckpt(struct gw_queue *q)
{
    return q->ck;
}

void gw_queue_close(struct gw_queue *q)
{
    if (!q)
        return;
    if (q->in_tx)
        gw_queue_commit(q);
    /* After the last commit: the thread's final checkpoint copies everything; closing the
     * loop's connection, the last one, then removes the WAL. */
    sl_walckpt_stop(q->ck);
    for (int k = 0; k < QS_N; k++)
        sqlite3_finalize(q->st[k]);
    sqlite3_finalize(q->hold);
    sqlite3_finalize(q->begin);
    sqlite3_finalize(q->commit);
    sqlite3_close(q->db);
    free(q);
}

int gw_queue_begin(struct gw_queue *q)
{
    if (q->in_tx)
        return 0;
    int rc = sqlite3_step(q->begin);
    sqlite3_reset(q->begin);
    if (rc != SQLITE_DONE) {
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
    int rc = sqlite3_step(q->commit);
    sqlite3_reset(q->commit);
    /* A COMMIT that failed and left the transaction open (SQLITE_BUSY) is tried again by
     * the next commit; one SQLite rolled back is over. */
    q->in_tx = !sqlite3_get_autocommit(q->db);
    if (rc != SQLITE_DONE) {
        SL_ERROR("gateway", "gateway.db: COMMIT: %s", sqlite3_errmsg(q->db));
        return -1;
    }
    return 0;
}

const char *gw_queue_dir(const struct gw_queue *q)
{
    return q->dir;
}

int gw_queue_old_inbox(struct gw_queue *q,
                       void (*batch)(const uint8_t *mids, size_t mlen, const uint8_t *replies,
                                     size_t rlen, void *arg),
                       void (*read)(const uint8_t *frames, size_t len, void *arg), void *arg)
{
    int has_reads = table_exists(q->db, "inbox_read"),
        has_batches = table_exists(q->db, "answered_batch");
    if (has_reads < 0 || has_batches < 0) {
        SL_ERROR("gateway", "gateway.db: %s", sqlite3_errmsg(q->db));
        return -1;
    }
    int n = 0;
    const char *const sql[2] = {
        has_batches ? "SELECT mids, replies FROM answered_batch ORDER BY id" : NULL,
        has_reads ? "SELECT frames, NULL FROM inbox_read ORDER BY id" : NULL,
    };
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *s;
        if (!sql[k])
            continue;
        if (sqlite3_prepare_v2(q->db, sql[k], -1, &s, NULL) != SQLITE_OK) {
            SL_ERROR("gateway", "gateway.db: %s", sqlite3_errmsg(q->db));
            return -1;
        }
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            const uint8_t *a = sqlite3_column_blob(s, 0);
            size_t al = (size_t)sqlite3_column_bytes(s, 0);
            if (k == 0)
                batch(a, al, sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1),
                      arg);
            else
                read(a, al, arg);
            n++;
        }
        if (rc != SQLITE_DONE)
            SL_ERROR("gateway", "gateway.db: %s", sqlite3_errmsg(q->db));
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return -1;
    }
    return n;
}

int gw_queue_old_inbox_drop(struct gw_queue *q)
{
    int a = table_exists(q->db, "inbox_read"), b = table_exists(q->db, "answered_batch");
    if (a == 0 && b == 0)
        return 0; /* the usual case: no write transaction at each start */
    if (gw_queue_commit(q) != 0)
        return -1;
    char *e = NULL;
    if (sqlite3_exec(q->db, "BEGIN IMMEDIATE; DROP TABLE IF EXISTS inbox_read;"
                     " DROP TABLE IF EXISTS answered_batch; COMMIT", NULL, NULL,
                     &e) != SQLITE_OK) {
        SL_ERROR("gateway", "gateway.db: dropping the inbox's old tables: %s",
                 e ? e : sqlite3_errmsg(q->db));
        sqlite3_free(e);
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
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
    sqlite3_bind_text(s, 12, h->ref ? h->ref : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 13, h->detail ? h->detail : "{}", -1, SQLITE_STATIC);
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
    sqlite3_stmt *s = q_stmt(q, QS_COUNT_HELD);
    int64_t n = -1;
    if (!s)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    q_done(s);
    return n;
}

/* ---- the review desk, gateway side ---- */

static int exec1(struct gw_queue *q, const char *sql)
{
    char *e = NULL;
    if (sqlite3_exec(q->db, sql, NULL, NULL, &e) != SQLITE_OK) {
        SL_ERROR("gateway", "gateway.db: %s: %s", sql, e ? e : sqlite3_errmsg(q->db));
        sqlite3_free(e);
        return -1;
    }
    return 0;
}

/* Step a statement of no rows (BEGIN, an INSERT or UPDATE) once: 0, or -1 (logged). */
static int q_run(struct gw_queue *q, sqlite3_stmt *s)
{
    int rc = s ? sqlite3_step(s) : SQLITE_ERROR;
    if (s && rc != SQLITE_DONE)
        SL_ERROR("gateway", "gateway.db: %s: %s", sqlite3_sql(s), sqlite3_errmsg(q->db));
    q_done(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int gw_queue_expire(struct gw_queue *q, int64_t now_us)
{
    /* Outside the inbox's per-iteration transaction: commit that first. */
    int was_tx = q->in_tx;
    if (was_tx)
        gw_queue_commit(q);
    int n = -1;
    if (q_run(q, q_stmt(q, QS_BEGIN_IMMEDIATE)) != 0)
        goto out;
    sqlite3_stmt *s = q_stmt(q, QS_EXPIRE_ACTION);
    if (!s)
        goto fail;
    sqlite3_bind_int64(s, 1, now_us);
    if (q_run(q, s) != 0)
        goto fail;
    n = sqlite3_changes(q->db);
    if (n > 0) {
        s = q_stmt(q, QS_EXPIRE_REVIEW);
        if (!s)
            goto fail;
        sqlite3_bind_int64(s, 1, now_us);
        if (q_run(q, s) != 0)
            goto fail;
    }
    if (q_run(q, q->commit) != 0)
        n = -1;
    goto out;
fail: /* q_stmt or q_run said what failed */
    exec1(q, "ROLLBACK");
    n = -1;
out:
    if (was_tx)
        gw_queue_begin(q);
    return n;
}

int gw_queue_retention(struct gw_queue *q, int64_t cut_us, int batch, int64_t *reviews,
                       int64_t *notices)
{
    *reviews = *notices = 0;
    /* Outside the inbox's per-iteration transaction: commit that first. */
    int was_tx = q->in_tx;
    if (was_tx)
        gw_queue_commit(q);
    int rc = -1;
    /* The connection has secure_delete on (schema): the rows' bytes are zeroed in their
     * pages; the WAL keeps copies until it is written over (docs/gateway.md §2). */
    if (q_run(q, q_stmt(q, QS_BEGIN_IMMEDIATE)) != 0)
        goto out;
    static const enum q_sql steps[] = {QS_RETAIN_ACTIONS, QS_RETAIN_REVIEWS,
                                       QS_RETAIN_NOTICES};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sqlite3_stmt *s = q_stmt(q, steps[i]);
        if (!s)
            goto fail;
        sqlite3_bind_int64(s, 1, cut_us);
        sqlite3_bind_int(s, 2, batch);
        if (q_run(q, s) != 0)
            goto fail;
        if (steps[i] == QS_RETAIN_REVIEWS)
            *reviews = sqlite3_changes(q->db);
        else if (steps[i] == QS_RETAIN_NOTICES)
            *notices = sqlite3_changes(q->db);
    }
    if (q_run(q, q->commit) == 0)
        rc = 0;
    goto out;
fail: /* q_stmt or q_run said what failed */
    exec1(q, "ROLLBACK");
    *reviews = *notices = 0;
out:
    if (was_tx)
        gw_queue_begin(q);
    return rc;
}

int gw_queue_actions(struct gw_queue *q, struct gw_action *out, int cap)
{
    sqlite3_stmt *s = q_stmt(q, QS_ACTIONS);
    if (!s)
        return -1;
    sqlite3_bind_int(s, 1, cap);
    int n = 0, rc;
    while (n < cap && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct gw_action *a = &out[n++];
        a->id = sqlite3_column_int64(s, 0);
        a->review_id = sqlite3_column_int64(s, 1);
        a->at_us = sqlite3_column_int64(s, 2);
        sl_sqlite_text(s, 3, a->reviewer, sizeof a->reviewer);
        sl_sqlite_text(s, 4, a->action, sizeof a->action);
        sl_sqlite_text(s, 5, a->reason, sizeof a->reason);
        a->redact = (uint32_t)sqlite3_column_int64(s, 6);
        sl_sqlite_text(s, 7, a->ref, sizeof a->ref);
        sl_sqlite_text(s, 8, a->ori, sizeof a->ori);
        sl_sqlite_text(s, 9, a->key, sizeof a->key);
        sl_sqlite_text(s, 10, a->rules, sizeof a->rules);
        a->policy_redact = (uint32_t)sqlite3_column_int64(s, 11);
    }
    q_done(s);
    return n;
}

/* One of the UPDATEs of q_sql with ?1 the row's id and ?2 a value. */
static int update_id(struct gw_queue *q, enum q_sql k, int64_t id, int64_t v)
{
    sqlite3_stmt *s = q_stmt(q, k);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, v);
    return q_run(q, s);
}

int gw_queue_action_audited(struct gw_queue *q, int64_t id)
{
    return update_id(q, QS_ACTION_AUDITED, id, 0);
}

int gw_queue_decided(struct gw_queue *q, int64_t run, struct gw_decided *out, int cap)
{
    sqlite3_stmt *s = q_stmt(q, QS_DECIDED);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, run);
    sqlite3_bind_int(s, 2, cap);
    int n = 0, rc;
    while (n < cap && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct gw_decided *d = &out[n++];
        d->id = sqlite3_column_int64(s, 0);
        sl_sqlite_text(s, 1, d->status, sizeof d->status);
        sl_sqlite_text(s, 2, d->by, sizeof d->by);
        sl_sqlite_text(s, 3, d->reason, sizeof d->reason);
        sl_sqlite_text(s, 4, d->then, sizeof d->then);
        sl_sqlite_text(s, 5, d->ref, sizeof d->ref);
        d->extra = (uint32_t)sqlite3_column_int64(s, 6);
        const unsigned char *t = sqlite3_column_text(s, 7);
        d->detail = sl_xstrdup(t ? (const char *)t : "{}");
        d->frame_len = (size_t)sqlite3_column_bytes(s, 8);
        d->frame = sl_xmalloc(d->frame_len ? d->frame_len : 1);
        if (d->frame_len)
            memcpy(d->frame, sqlite3_column_blob(s, 8), d->frame_len);
        sl_sqlite_text(s, 9, d->policy_hash, sizeof d->policy_hash);
    }
    q_done(s);
    return n;
}

int gw_queue_review_queued(struct gw_queue *q, int64_t id, int64_t run)
{
    return update_id(q, QS_REVIEW_QUEUED, id, run);
}

int gw_queue_review_sent(struct gw_queue *q, int64_t id)
{
    return update_id(q, QS_REVIEW_SENT, id, sl_wall_us());
}

/* ---- notices ---- */

int64_t gw_queue_notice_add(struct gw_queue *q, const struct gw_notice *n)
{
    /* in the loop pass's transaction (committed with the pass), not a commit of its own */
    gw_queue_begin(q);
    sqlite3_stmt *s = q_stmt(q, QS_NOTICE_ADD);
    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, n->created_us);
    sqlite3_bind_int(s, 2, n->due);
    sqlite3_bind_int(s, 3, n->days);
    sqlite3_bind_int(s, 4, n->business);
    const char *txt[] = {n->rule, n->ref, n->review, n->ori, n->member, n->type, n->parent,
                         n->req_state, n->key};
    for (int i = 0; i < 9; i++)
        sqlite3_bind_text(s, 5 + i, txt[i] ? txt[i] : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 14, n->classes);
    sqlite3_bind_text(s, 15, n->subject, -1, SQLITE_STATIC);
    if (q_run(q, s) != 0)
        return -1;
    return sqlite3_last_insert_rowid(q->db);
}

int gw_queue_sent_unaudited(struct gw_queue *q, struct gw_sent *out, int cap)
{
    sqlite3_stmt *s = q_stmt(q, QS_SENT_UNAUDITED);
    if (!s)
        return -1;
    sqlite3_bind_int(s, 1, cap);
    int n = 0;
    while (n < cap && sqlite3_step(s) == SQLITE_ROW) {
        struct gw_sent *x = &out[n++];
        x->id = sqlite3_column_int64(s, 0);
        x->sent_us = sqlite3_column_int64(s, 1);
        sl_sqlite_text(s, 2, x->by, sizeof x->by);
        sl_sqlite_text(s, 3, x->ref, sizeof x->ref);
        sl_sqlite_text(s, 4, x->ori, sizeof x->ori);
        sl_sqlite_text(s, 5, x->key, sizeof x->key);
    }
    q_done(s);
    return n;
}

int gw_queue_sent_audited(struct gw_queue *q, int64_t id)
{
    return update_id(q, QS_SENT_AUDITED, id, 0);
}

int gw_queue_admin_unaudited(struct gw_queue *q, struct gw_admin_event *out, int cap)
{
    sqlite3_stmt *s = q_stmt(q, QS_ADMIN_UNAUDITED);
    if (!s)
        return -1;
    sqlite3_bind_int(s, 1, cap);
    int n = 0;
    while (n < cap && sqlite3_step(s) == SQLITE_ROW) {
        struct gw_admin_event *x = &out[n++];
        x->id = sqlite3_column_int64(s, 0);
        x->at_us = sqlite3_column_int64(s, 1);
        sl_sqlite_text(s, 2, x->actor, sizeof x->actor);
        sl_sqlite_text(s, 3, x->action, sizeof x->action);
        sl_sqlite_text(s, 4, x->text, sizeof x->text);
        x->failed = sqlite3_column_int(s, 5) != 0;
    }
    q_done(s);
    return n;
}

int gw_queue_admin_audited(struct gw_queue *q, int64_t id)
{
    return update_id(q, QS_ADMIN_AUDITED, id, 0);
}

int gw_queue_policy_author(struct gw_queue *q, const char *hash, struct gw_applied *a)
{
    memset(a, 0, sizeof *a);
    sqlite3_stmt *s = q_stmt(q, QS_POLICY_AUTHOR);
    if (!s)
        return 0;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    int found = 0;
    int64_t id = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        id = sqlite3_column_int64(s, 0);
        sl_sqlite_text(s, 1, a->author, sizeof a->author);
        sl_sqlite_text(s, 2, a->approver, sizeof a->approver);
        sl_sqlite_text(s, 3, a->basis, sizeof a->basis);
        sl_sqlite_text(s, 4, a->note, sizeof a->note);
        found = 1;
    }
    q_done(s);
    if (found)
        update_id(q, QS_POLICY_AUDITED, id, 0);
    return found;
}
