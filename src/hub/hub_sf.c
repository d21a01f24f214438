/*
 * hub_sf.c - store-and-forward: messages for a destination that is down, kept durably and
 * delivered in order when its line returns (docs/protocol.md §7), and the members'
 * service states set by the operator (`stateline hub ctl line WA down`).
 *
 * One SQLite database (`queue` in the configuration), WAL, synchronous=FULL:
 *
 *     q(id INTEGER PRIMARY KEY AUTOINCREMENT,   -- delivery order, never reused
 *       member TEXT,                            -- destination member ("WA")
 *       key, ori, dest, ctl TEXT,               -- output header (dest: the addressee as
 *       rx_time INTEGER, rx_seq INTEGER,        --   the sender wrote it: WA, E1, an ORI)
 *       src_mbr TEXT,                           -- member of the originating ORI
 *       req TEXT,                               -- verified requester, tab-separated
 *                                               --   ORI MBR TYP CAT PAR TAG, or NULL
 *       body BLOB,                              -- the text after TXT
 *       mid INTEGER)                            -- switch message id of a query (MID/),
 *                                               --   given when kept, NULL otherwise
 *     INDEX q_member ON q(member, id)
 *     svc(member TEXT PRIMARY KEY, state TEXT, since INTEGER)   -- 'down' / 'removed';
 *                                               --   no row = up
 *     meta(key TEXT PRIMARY KEY, value)         -- 'schema' = '2'; 'mid_epoch': the
 *                                               --   message-id epoch, +1 at every start
 *
 * Ids: AUTOINCREMENT for what is kept; queries an answering line had not answered when it
 * dropped are kept again *before* everything (hub_outstanding.c) with ids below the lowest
 * in use (negative ones), so `ORDER BY id` stays the delivery order.  Schema 1 files get
 * the mid column at open (mid = id for the queries in them: below every epoch's ids).
 *
 * Nothing here runs while every destination is up and drained: the normal path never
 * touches SQLite.  Keeping a message opens one transaction for the loop iteration; it is
 * committed (fsync) before any byte of that iteration's output leaves (hub_sf_commit is
 * called first thing in every flush), so the SM .02. a sender reads means the message is
 * on disk.
 *
 * Delivery: rows are written into the answering line's output buffer in id order, at most
 * HUB_SF_INFLIGHT at a time, only while the buffer is under half of out_cap and the
 * member's outstanding table has room.  Once the socket has taken all of a row's bytes
 * (the line's byte count says so) it counts as written: a row without a message id (AM,
 * SM, a reply) is deleted then; a query's row stays until its answer has been routed
 * (hub_outstanding.c deletes it in the iteration that routes the answer, committed before
 * that answer leaves).  So a hub killed at any point finds every kept query whose answer
 * it had not passed on, and writes it again with the same message id: the gateway
 * recognises the id and sends the reply it already made, without deciding again
 * (docs/gateway.md §5).  While a member has rows, new messages for it are kept too, so
 * order holds.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub_int.h"
#include "stateline/core.h"

struct hub_sf {
    sqlite3 *db;
    sqlite3_stmt *ins, *sel, *del, *svc_set, *svc_del, *take, *front, *forget;
    sqlite3_stmt *begin, *commit; /* a transaction per loop iteration that keeps anything:
                                   * compiled once, not at every iteration */
    int txn;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS q(id INTEGER PRIMARY KEY AUTOINCREMENT, member TEXT NOT NULL,"
    " key TEXT NOT NULL, ori TEXT NOT NULL, dest TEXT NOT NULL, ctl TEXT NOT NULL,"
    " rx_time INTEGER NOT NULL, rx_seq INTEGER NOT NULL, src_mbr TEXT NOT NULL, req TEXT,"
    " body BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS q_member ON q(member, id);"
    "CREATE TABLE IF NOT EXISTS svc(member TEXT PRIMARY KEY, state TEXT NOT NULL,"
    " since INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
    "INSERT OR IGNORE INTO meta VALUES('schema', '1');";

/* schema 1 -> 2: the message id of kept queries */
static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    char *e = NULL;
    if (sqlite3_exec(db, "ALTER TABLE q ADD COLUMN mid INTEGER", NULL, NULL, &e) ==
        SQLITE_OK) {
        if (sqlite3_exec(db, "UPDATE q SET mid = id WHERE req IS NOT NULL", NULL, NULL, &e) !=
            SQLITE_OK)
            goto fail;
    } else if (!e || !strstr(e, "duplicate column")) {
        goto fail;
    }
    sqlite3_free(e);
    e = NULL;
    if (sqlite3_exec(db, "UPDATE meta SET value = '2' WHERE key = 'schema'", NULL, NULL, &e) ==
        SQLITE_OK)
        return 0;
fail:
    snprintf(err, errlen, "queue: adding the message id column: %s",
             e ? e : sqlite3_errmsg(db));
    sqlite3_free(e);
    return -1;
}

static int prep(struct hub_sf *sf, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2(sf->db, sql, -1, st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "queue: %s", sqlite3_errmsg(sf->db));
        return -1;
    }
    return 0;
}

int hub_sf_open(struct sl_hub *hub, char *err, size_t errlen)
{
    struct hub_sf *sf = sl_xcalloc(1, sizeof *sf);
    char *emsg = NULL;
    if (sqlite3_open_v2(hub->cfg.queue, &sf->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "queue = %s: %s", hub->cfg.queue,
                 sf->db ? sqlite3_errmsg(sf->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(sf->db, 5000);
    if (sqlite3_exec(sf->db, schema, NULL, NULL, &emsg) != SQLITE_OK) {
        snprintf(err, errlen, "queue = %s: %s", hub->cfg.queue, emsg ? emsg : "schema");
        sqlite3_free(emsg);
        goto fail;
    }
    if (migrate(sf->db, err, errlen))
        goto fail;
    if (prep(sf,
             "INSERT INTO q(member, key, ori, dest, ctl, rx_time, rx_seq, src_mbr, req, body,"
             " mid, id) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
             &sf->ins, err, errlen) ||
        prep(sf,
             "SELECT id, key, ori, dest, ctl, rx_time, rx_seq, src_mbr, req, body, mid FROM q"
             " WHERE member = ? AND id > ? ORDER BY id LIMIT ?",
             &sf->sel, err, errlen) ||
        prep(sf, "DELETE FROM q WHERE member = ? AND mid = ? AND id > ?", &sf->take, err,
             errlen) ||
        prep(sf, "SELECT min(id) FROM q", &sf->front, err, errlen) ||
        prep(sf, "DELETE FROM q WHERE member = ? AND id <= ? AND mid IS NULL", &sf->del, err,
             errlen) ||
        prep(sf, "DELETE FROM q WHERE id = ?", &sf->forget, err, errlen) ||
        prep(sf, "INSERT OR REPLACE INTO svc(member, state, since) VALUES(?,?,?)",
             &sf->svc_set, err, errlen) ||
        prep(sf, "DELETE FROM svc WHERE member = ?", &sf->svc_del, err, errlen) ||
        prep(sf, "BEGIN IMMEDIATE", &sf->begin, err, errlen) ||
        prep(sf, "COMMIT", &sf->commit, err, errlen))
        goto fail;
    hub->sf = sf;
    /* a new message-id epoch for this run, on disk before the first id */
    if (hub_sf_next_epoch(hub) != 0) {
        snprintf(err, errlen, "queue = %s: cannot record the message-id epoch",
                 hub->cfg.queue);
        hub_sf_close(hub);
        return -1;
    }
    return 0;
fail:
    hub->sf = sf;
    hub_sf_close(hub);
    return -1;
}

void hub_sf_close(struct sl_hub *hub)
{
    struct hub_sf *sf = hub->sf;
    if (!sf)
        return;
    hub_sf_commit(hub);
    sqlite3_finalize(sf->ins);
    sqlite3_finalize(sf->sel);
    sqlite3_finalize(sf->del);
    sqlite3_finalize(sf->svc_set);
    sqlite3_finalize(sf->svc_del);
    sqlite3_finalize(sf->take);
    sqlite3_finalize(sf->front);
    sqlite3_finalize(sf->forget);
    sqlite3_finalize(sf->begin);
    sqlite3_finalize(sf->commit);
    sqlite3_close(sf->db);
    free(sf);
    hub->sf = NULL;
}

static int begin(struct hub_sf *sf)
{
    if (sf->txn)
        return 0;
    int rc = sqlite3_step(sf->begin);
    sqlite3_reset(sf->begin);
    if (rc != SQLITE_DONE) {
        SL_ERROR("hub", "queue: BEGIN: %s", sqlite3_errmsg(sf->db));
        return -1;
    }
    sf->txn = 1;
    return 0;
}

int hub_sf_commit(struct sl_hub *hub)
{
    struct hub_sf *sf = hub->sf;
    if (!sf || !sf->txn)
        return 0;
    sf->txn = 0;
    int rc = sqlite3_step(sf->commit);
    sqlite3_reset(sf->commit);
    if (rc != SQLITE_DONE) {
        /* Nothing to do but say so loudly: the SM .02. of this iteration is already in the
         * senders' buffers.  SQLite rolls back; the counts are reloaded from the table. */
        SL_ERROR("hub", "queue: COMMIT failed: %s; messages kept in this iteration may be "
                 "lost", sqlite3_errmsg(sf->db));
        sqlite3_exec(sf->db, "ROLLBACK", NULL, NULL, NULL);
        hub_sf_load(hub);
        return -1;
    }
    return 0;
}

static void req_text(const struct sl_outhdr *h, char *out, size_t outlen)
{
    const struct sl_requester *r = &h->req;
    snprintf(out, outlen, "%s\t%s\t%s\t%s\t%s\t%s", r->ori, r->member, r->type, r->cats,
             r->parent, r->tags);
}

static void req_parse(const char *s, struct sl_outhdr *h)
{
    char tmp[512];
    sl_strlcpy(tmp, s, sizeof tmp);
    char *f[6] = {0};
    int n = 0;
    char *p = tmp;
    f[n++] = p;
    while (*p && n < 6) {
        if (*p == '\t') {
            *p = '\0';
            f[n++] = p + 1;
        }
        p++;
    }
    struct sl_requester *r = &h->req;
    memset(r, 0, sizeof *r);
    sl_strlcpy(r->ori, f[0] ? f[0] : "", sizeof r->ori);
    sl_strlcpy(r->member, f[1] ? f[1] : "", sizeof r->member);
    sl_strlcpy(r->type, f[2] ? f[2] : "", sizeof r->type);
    sl_strlcpy(r->cats, f[3] ? f[3] : "", sizeof r->cats);
    sl_strlcpy(r->parent, f[4] ? f[4] : "", sizeof r->parent);
    sl_strlcpy(r->tags, f[5] ? f[5] : "", sizeof r->tags);
    memcpy(r->state, r->ori, 2);
    r->state[2] = '\0';
    h->has_req = 1;
}

int hub_sf_put(struct sl_hub *hub, struct hub_member *dm, const struct sl_outhdr *h,
               const char *body, size_t body_len, const char *src_mbr)
{
    return hub_sf_put_id(hub, dm, h, body, body_len, src_mbr, 0);
}

int hub_sf_put_id(struct sl_hub *hub, struct hub_member *dm, const struct sl_outhdr *h,
                  const char *body, size_t body_len, const char *src_mbr, int64_t id)
{
    struct hub_sf *sf = hub->sf;
    if (!sf || begin(sf))
        return -1;
    sqlite3_stmt *st = sf->ins;
    char req[512];
    sqlite3_bind_text(st, 1, dm->code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, h->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, h->ori, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, h->dest, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, h->ctl, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, h->rx_time);
    sqlite3_bind_int64(st, 7, h->rx_seq);
    sqlite3_bind_text(st, 8, src_mbr ? src_mbr : "", -1, SQLITE_STATIC);
    if (h->has_req) {
        req_text(h, req, sizeof req);
        sqlite3_bind_text(st, 9, req, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 9);
    }
    sqlite3_bind_blob(st, 10, body_len ? body : "", (int)body_len, SQLITE_STATIC);
    /* a query keeps the id it was first delivered with; a new one gets one now, so that
     * every delivery of it carries the same id */
    if (h->has_req)
        sqlite3_bind_int64(st, 11, (sqlite3_int64)(h->mid ? h->mid : hub_mid_next(hub)));
    else
        sqlite3_bind_null(st, 11);
    if (id)
        sqlite3_bind_int64(st, 12, id);
    else
        sqlite3_bind_null(st, 12);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        SL_ERROR("hub", "queue: cannot keep %s.%s for %s: %s", h->key, h->ori, dm->code,
                 sqlite3_errmsg(sf->db));
        return -1;
    }
    dm->sf_count++;
    hub->t_queued++;
    return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

void hub_sf_pump(struct sl_hub *hub, struct hub_member *dm)
{
    struct hub_sf *sf = hub->sf;
    struct hub_line *l = dm->answer;
    if (!sf || !l || !l->open || l->closing || dm->svc != HUB_UP)
        return;
    if (!dm->flight)
        dm->flight = sl_xcalloc(HUB_SF_INFLIGHT, sizeof *dm->flight);
    int blocked = 0;
    while (!blocked && dm->nflight < HUB_SF_INFLIGHT && dm->sf_count > dm->nflight &&
           sl_buf_used(&l->c->out) < hub->cfg.out_cap / 2) {
        sqlite3_stmt *st = sf->sel;
        sqlite3_bind_text(st, 1, dm->code, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, dm->sf_last);
        sqlite3_bind_int(st, 3, HUB_SF_INFLIGHT - dm->nflight);
        int got = 0, rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct sl_outhdr h;
            memset(&h, 0, sizeof h);
            int64_t id = sqlite3_column_int64(st, 0);
            sl_strlcpy(h.key, col_text(st, 1), sizeof h.key);
            sl_strlcpy(h.ori, col_text(st, 2), sizeof h.ori);
            sl_strlcpy(h.dest, col_text(st, 3), sizeof h.dest);
            sl_strlcpy(h.ctl, col_text(st, 4), sizeof h.ctl);
            h.rx_time = sqlite3_column_int64(st, 5);
            h.rx_seq = (unsigned)sqlite3_column_int64(st, 6);
            char src_mbr[SL_MEMBER_MAX];
            sl_strlcpy(src_mbr, col_text(st, 7), sizeof src_mbr);
            if (sqlite3_column_type(st, 8) != SQLITE_NULL)
                req_parse(col_text(st, 8), &h);
            const char *body = sqlite3_column_blob(st, 9);
            size_t blen = (size_t)sqlite3_column_bytes(st, 9);
            /* the requester lines go only to answering lines (they are); a query is
             * remembered until answered, with the id it was kept with */
            if (h.has_req) {
                if (!hub_out_room(hub, dm, blen)) {
                    blocked = 1; /* an answer frees room and pumps again */
                    break;
                }
                h.mid = (uint64_t)sqlite3_column_int64(st, 10);
                hub_out_emit(hub, dm, l, &h, body ? body : "", blen, src_mbr, id);
            } else {
                hub_emit(hub, l, &h, body ? body : "", blen, src_mbr);
            }
            dm->flight[dm->nflight].id = id;
            dm->flight[dm->nflight].end = l->app_total;
            dm->nflight++;
            dm->sf_last = id;
            hub->t_forwarded++;
            got++;
        }
        if (rc != SQLITE_DONE)
            SL_ERROR("hub", "queue: reading %s's messages: %s", dm->code,
                     sqlite3_errmsg(sf->db));
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (!got && !blocked) {
            /* the count was off (a failed commit): trust the table */
            dm->sf_count = dm->nflight;
            break;
        }
    }
}

void hub_sf_written(struct sl_hub *hub, struct hub_line *l)
{
    struct hub_sf *sf = hub->sf;
    if (!sf || !l->bound)
        return;
    struct hub_member *dm = hub_member_find(&hub->members, l->c->peer.member);
    if (!dm || dm->answer != l || !dm->sf_count)
        return;
    if (!dm->nflight) {
        /* nothing in flight: more may go now that the buffer drained */
        hub_sf_pump(hub, dm);
        return;
    }
    size_t used = sl_buf_used(&l->c->out);
    uint64_t written = l->app_total > used ? l->app_total - used : 0;
    int k = 0;
    while (k < dm->nflight && dm->flight[k].end <= written)
        k++;
    if (!k)
        return;
    if (begin(sf) == 0) {
        sqlite3_stmt *st = sf->del;
        sqlite3_bind_text(st, 1, dm->code, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, dm->flight[k - 1].id);
        if (sqlite3_step(st) != SQLITE_DONE)
            SL_ERROR("hub", "queue: deleting %s's delivered messages: %s", dm->code,
                     sqlite3_errmsg(sf->db));
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    dm->sf_count -= k;
    if (dm->sf_count < 0)
        dm->sf_count = 0;
    memmove(dm->flight, dm->flight + k, (size_t)(dm->nflight - k) * sizeof *dm->flight);
    dm->nflight -= k;
    if (!dm->sf_count)
        SL_INFO("hub", "queue: every kept message for %s delivered", dm->code);
    hub_sf_pump(hub, dm);
}

int64_t hub_sf_front(struct sl_hub *hub)
{
    struct hub_sf *sf = hub->sf;
    int64_t lo = 1;
    if (sqlite3_step(sf->front) == SQLITE_ROW && sqlite3_column_type(sf->front, 0) != SQLITE_NULL)
        lo = sqlite3_column_int64(sf->front, 0);
    sqlite3_reset(sf->front);
    return lo < 1 ? lo : 1;
}

int hub_sf_forget(struct sl_hub *hub, int64_t id)
{
    struct hub_sf *sf = hub->sf;
    if (!sf || begin(sf))
        return -1;
    sqlite3_bind_int64(sf->forget, 1, id);
    int rc = sqlite3_step(sf->forget);
    sqlite3_reset(sf->forget);
    if (rc != SQLITE_DONE) {
        SL_ERROR("hub", "queue: deleting answered message %lld: %s", (long long)id,
                 sqlite3_errmsg(sf->db));
        return -1;
    }
    return 0;
}

int hub_sf_take(struct sl_hub *hub, struct hub_member *dm, uint64_t mid)
{
    struct hub_sf *sf = hub->sf;
    if (!sf || begin(sf))
        return 0;
    sqlite3_stmt *st = sf->take;
    sqlite3_bind_text(st, 1, dm->code, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)mid);
    sqlite3_bind_int64(st, 3, dm->sf_last);
    int rc = sqlite3_step(st);
    int n = rc == SQLITE_DONE ? sqlite3_changes(sf->db) : 0;
    if (rc != SQLITE_DONE)
        SL_ERROR("hub", "queue: taking MID %llu out of %s's queue: %s",
                 (unsigned long long)mid, dm->code, sqlite3_errmsg(sf->db));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    dm->sf_count -= n;
    if (dm->sf_count < 0)
        dm->sf_count = 0;
    return n > 0;
}

int hub_sf_next_epoch(struct sl_hub *hub)
{
    struct hub_sf *sf = hub->sf;
    /* outside the iteration's transaction, committed (fsync) before any id of it exists */
    hub_sf_commit(hub);
    sqlite3_stmt *st;
    int64_t epoch = 0;
    if (sqlite3_prepare_v2(sf->db, "SELECT value FROM meta WHERE key = 'mid_epoch'", -1, &st,
                           NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_step(st) == SQLITE_ROW)
        epoch = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if ((uint64_t)epoch < hub->mid_epoch)
        epoch = (int64_t)hub->mid_epoch;
    epoch++;
    if (sqlite3_prepare_v2(sf->db, "INSERT OR REPLACE INTO meta VALUES('mid_epoch', ?)", -1,
                           &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(st, 1, epoch);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        goto fail;
    hub->mid_epoch = (uint64_t)epoch;
    hub->mid_seq = 0;
    return 0;
fail:
    /* the ids of this epoch could repeat an earlier run's: say so, and still move on */
    SL_ERROR("hub", "queue: cannot record the message-id epoch: %s", sqlite3_errmsg(sf->db));
    hub->mid_epoch++;
    hub->mid_seq = 0;
    return -1;
}

int hub_sf_set_svc(struct sl_hub *hub, const char *member, int svc, char *err, size_t errlen)
{
    struct hub_sf *sf = hub->sf;
    hub_sf_commit(hub);
    sqlite3_stmt *st;
    if (svc == HUB_UP) {
        st = sf->svc_del;
        sqlite3_bind_text(st, 1, member, -1, SQLITE_STATIC);
    } else {
        st = sf->svc_set;
        sqlite3_bind_text(st, 1, member, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, svc == HUB_DOWN ? "down" : "removed", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "queue: cannot record the state of %s: %s", member,
                 sqlite3_errmsg(sf->db));
        return -1;
    }
    return 0;
}

void hub_sf_load(struct sl_hub *hub)
{
    struct hub_sf *sf = hub->sf;
    if (!sf)
        return;
    for (uint32_t i = 0; i <= hub->members.mask && hub->members.tab; i++) {
        struct hub_member *m = &hub->members.tab[i];
        m->sf_count = 0;
        m->svc = HUB_UP;
        m->nflight = 0;
        m->sf_last = INT64_MIN; /* requeued queries have negative ids */
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(sf->db, "SELECT member, count(*) FROM q GROUP BY member", -1, &st,
                           NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            struct hub_member *m = hub_member_find(&hub->members, col_text(st, 0));
            if (m) {
                m->sf_count = sqlite3_column_int64(st, 1);
                SL_INFO("hub", "queue: %lld messages kept for %s", (long long)m->sf_count,
                        m->code);
            } else {
                SL_WARN("hub", "queue: %lld messages kept for %s, which is not a member any "
                        "more (left in the queue)", (long long)sqlite3_column_int64(st, 1),
                        col_text(st, 0));
            }
        }
        sqlite3_finalize(st);
    }
    if (sqlite3_prepare_v2(sf->db, "SELECT member, state FROM svc", -1, &st, NULL) ==
        SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            struct hub_member *m = hub_member_find(&hub->members, col_text(st, 0));
            if (!m)
                continue;
            m->svc = !strcmp(col_text(st, 1), "removed") ? HUB_REMOVED : HUB_DOWN;
            SL_INFO("hub", "line state: %s is %s (set by the operator)", m->code,
                    col_text(st, 1));
        }
        sqlite3_finalize(st);
    }
}
