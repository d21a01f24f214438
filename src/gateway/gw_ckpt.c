/*
 * gw_ckpt.c - gateway.db's WAL checkpoints, off the loop thread (docs/gateway.md §5.1,
 * "Checkpoints").
 *
 * (Written when the inbox was in gateway.db and the loop committed once per read; since
 * the inbox is a log of its own, gw_ilog.c, gateway.db is written only for held requests,
 * notices and review actions, and this thread rarely has work.  It stays: the loop still
 * commits gateway.db.)  With SQLite's automatic checkpoint (every
 * 1,000 WAL pages) the commit that crosses the mark copies the WAL into the database file
 * and fdatasyncs both, 2-5 ms on the loop thread, a few times a second at 400 queries/s:
 * the p99 of F-2.  Instead:
 *
 *   - the loop's connection has wal_autocheckpoint = 0, and a WAL hook (called by SQLite
 *     after each of its commits with the WAL's size in pages) that only signals;
 *   - a thread with its own connection (synchronous = NORMAL: it fdatasyncs the WAL before
 *     copying and the database after, as SQLite's own checkpoint does) runs a PASSIVE
 *     checkpoint when signalled at soft pages or more.  PASSIVE takes no lock a writer
 *     needs: the loop keeps committing while pages are copied.  When the loop starts its
 *     next write after a checkpoint that copied everything, SQLite starts the WAL again
 *     from its beginning (the WAL stays at about soft pages);
 *   - a PASSIVE checkpoint copies the frames there were when it started; if the loop
 *     committed meanwhile, the WAL cannot start again yet, and the loop asks for another
 *     once the WAL has grown by step (soft / 2) pages more: each try costs two
 *     fdatasyncs on the disk the audit log syncs to, so not one per commit.  Under continuous commits that race can be lost every
 *     time: at cap pages the thread runs a FULL checkpoint, which holds the loop's writes
 *     back while it copies the last frames (the loop waits in SQLite's busy handler) so
 *     that the WAL is whole in the file and starts again.  A FULL checkpoint also waits
 *     (GW_CKPT_BUSY_MS) for readers on an old snapshot; if one held it up, the next FULL
 *     comes a second later at the earliest (the WAL grows while a reader holds it:
 *     nothing can copy past a snapshot still in use);
 *   - at loop_cap pages (the FULL checkpoints could not get the loop's write lock, or the
 *     thread is starved of CPU) the loop waits for the thread's checkpoint in progress to
 *     end and runs a PASSIVE checkpoint itself, as SQLite would have: whatever happens to
 *     the thread, the WAL stays under loop_cap pages and the last transaction's, unless a
 *     reader keeps an old snapshot (then nothing can copy past it, with or without us).
 *
 * What stays on the loop: the first commit after the WAL starts again writes the WAL's
 * new header and fdatasyncs it (SQLite does that on the writer, at synchronous = NORMAL
 * too: a header not on disk before the frames after it could corrupt the file at a power
 * cut).  One small sync per WAL cycle instead of two large ones and the copying.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "stateline/core.h"

#define GW_CKPT_BUSY_MS 100        /* a FULL checkpoint waits at most this long for a lock */
#define GW_CKPT_FULL_RETRY_MS 1000 /* after one a reader held up, the next FULL waits this */

struct gw_ckpt {
    sqlite3 *db;            /* the thread's own connection (used by the thread only) */
    sqlite3 *loop_db;       /* the loop's connection (its WAL hook) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* the loop asks (want), or stop */
    pthread_cond_t idle;    /* a request was served (gw_ckpt_wait_idle) */
    int stop;
    int want;               /* WAL pages the loop last reported at or above soft; 0 none */
    int next;               /* ... and at or above this (the last checkpoint's WAL + step) */
    int busy;               /* the thread is checkpointing */
    int hold;               /* the loop checkpoints itself: the thread waits */
    int restarted;          /* the loop saw the WAL start again (the loop's own) */
    struct gw_ckpt_limits lim;
    struct gw_ckpt_stats st;
    int copied;             /* the WAL's frames copied after the last checkpoint */
    int64_t full_after_ms;  /* no FULL checkpoint before (a reader held the last up) */
};

static void run_one(struct gw_ckpt *ck, int pages, int cap, int step)
{
    int mode = SQLITE_CHECKPOINT_PASSIVE;
    int64_t now = sl_now_ms();
    if (pages >= cap && now >= ck->full_after_ms)
        mode = SQLITE_CHECKPOINT_FULL;
    int nlog = -1, ncopied = -1;
    int rc = sqlite3_wal_checkpoint_v2(ck->db, "main", mode, &nlog, &ncopied);
    pthread_mutex_lock(&ck->mu);
    ck->next = (nlog > 0 ? nlog : pages) + step;
    pthread_mutex_unlock(&ck->mu);
    int complete = rc == SQLITE_OK && nlog >= 0 && ncopied == nlog;
    if (mode == SQLITE_CHECKPOINT_FULL && !complete) {
        /* A reader on an old snapshot held it up, or the loop's writes kept the lock:
         * not again for a while (each try makes the loop's writes wait up to
         * GW_CKPT_BUSY_MS); the loop's own fallback (loop_cap) stays. */
        ck->full_after_ms = now + GW_CKPT_FULL_RETRY_MS;
        SL_DEBUG("gateway", "gateway.db: the WAL reached %d pages and could not be copied "
                 "whole (a reader on an old snapshot, or the loop kept writing)", pages);
    }
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        SL_WARN("gateway", "gateway.db: WAL checkpoint: %s", sqlite3_errmsg(ck->db));
    pthread_mutex_lock(&ck->mu);
    if (rc == SQLITE_OK || rc == SQLITE_BUSY) {
        ck->st.runs++;
        if (mode == SQLITE_CHECKPOINT_FULL)
            ck->st.fulls++;
        /* ncopied counts from the WAL's start: what this one copied is the difference */
        if (ncopied > 0)
            ck->st.pages += (uint64_t)(ncopied >= ck->copied ? ncopied - ck->copied : ncopied);
        if (ncopied >= 0)
            ck->copied = ncopied;
        if (complete)
            ck->st.complete++;
    } else {
        ck->st.failures++;
    }
    pthread_mutex_unlock(&ck->mu);
}

static void *ckpt_main(void *arg)
{
    struct gw_ckpt *ck = arg;
    sl_thread_name("sl-gw-ckpt");
    pthread_mutex_lock(&ck->mu);
    for (;;) {
        while (!ck->stop && (!ck->want || ck->hold))
            pthread_cond_wait(&ck->wake, &ck->mu);
        if (ck->stop)
            break;
        int pages = ck->want, cap = ck->lim.cap, step = ck->lim.soft / 2 + 1;
        ck->want = 0;
        ck->busy = 1;
        pthread_mutex_unlock(&ck->mu);
        run_one(ck, pages, cap, step);
        pthread_mutex_lock(&ck->mu);
        ck->busy = 0;
        pthread_cond_broadcast(&ck->idle);
    }
    pthread_mutex_unlock(&ck->mu);
    /* Shutdown: the loop has committed its last transaction; copy everything and empty
     * the WAL (waits at most GW_CKPT_BUSY_MS for a desk's reader). */
    int nlog = -1, ncopied = -1;
    if (sqlite3_wal_checkpoint_v2(ck->db, "main", SQLITE_CHECKPOINT_TRUNCATE, &nlog,
                                  &ncopied) != SQLITE_OK)
        SL_DEBUG("gateway", "gateway.db: final checkpoint: %s (the WAL stays for the next "
                 "start)", sqlite3_errmsg(ck->db));
    return NULL;
}

/* SQLite calls this on the loop thread after each commit of the loop's connection. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct gw_ckpt *ck = arg;
    if (pages < ck->st.wal_pages) {
        ck->restarted = 1;  /* the WAL started again: the next cycle starts at soft */
        ck->st.restarts++;
    }
    ck->st.wal_pages = pages;
    if (pages >= ck->lim.loop_cap) {
        /* The thread does not keep up: what SQLite would have done, on the loop, with the
         * thread held off (its checkpoint would make ours fail with SQLITE_BUSY).  The
         * loop is between transactions: everything is copied, and its next write starts
         * the WAL again, unless a reader is on an old snapshot. */
        pthread_mutex_lock(&ck->mu);
        ck->hold = 1;
        while (ck->busy)
            pthread_cond_wait(&ck->idle, &ck->mu);
        pthread_mutex_unlock(&ck->mu);
        int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&ck->mu);
        ck->hold = 0;
        ck->want = 0;
        ck->st.loop_runs++;
        pthread_mutex_unlock(&ck->mu);
        if (rc != SQLITE_OK)
            SL_WARN("gateway", "gateway.db: WAL checkpoint on the loop: %s",
                    sqlite3_errmsg(db));
        return SQLITE_OK;
    }
    if (pages >= ck->lim.soft) {
        pthread_mutex_lock(&ck->mu);
        if (ck->restarted) {
            ck->next = 0;
            ck->restarted = 0;
        }
        if (pages >= ck->next) {
            if (!ck->want && !ck->busy)
                pthread_cond_signal(&ck->wake);
            ck->want = pages;
        }
        pthread_mutex_unlock(&ck->mu);
    }
    return SQLITE_OK;
}

struct gw_ckpt *gw_ckpt_start(sqlite3 *loop_db, const char *path)
{
    struct gw_ckpt *ck = sl_xcalloc(1, sizeof *ck);
    ck->loop_db = loop_db;
    ck->lim.soft = GW_CKPT_SOFT;
    ck->lim.cap = GW_CKPT_CAP;
    ck->lim.loop_cap = GW_CKPT_LOOP_CAP;
    char *e = NULL;
    if (sqlite3_open_v2(path, &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(ck->db, "PRAGMA synchronous=NORMAL", NULL, NULL, &e) != SQLITE_OK) {
        SL_WARN("gateway", "%s: no checkpoint thread (%s): SQLite checkpoints on the loop",
                path, e ? e : ck->db ? sqlite3_errmsg(ck->db) : "out of memory");
        sqlite3_free(e);
        sqlite3_close(ck->db);
        free(ck);
        return NULL;
    }
    sqlite3_busy_timeout(ck->db, GW_CKPT_BUSY_MS);
    pthread_mutex_init(&ck->mu, NULL);
    pthread_cond_init(&ck->wake, NULL);
    pthread_cond_init(&ck->idle, NULL);
    int rc = pthread_create(&ck->thread, NULL, ckpt_main, ck);
    if (rc != 0) {
        SL_WARN("gateway", "%s: no checkpoint thread (%s): SQLite checkpoints on the loop",
                path, strerror(rc));
        pthread_cond_destroy(&ck->idle);
        pthread_cond_destroy(&ck->wake);
        pthread_mutex_destroy(&ck->mu);
        sqlite3_close(ck->db);
        free(ck);
        return NULL;
    }
    /* Only now: without the thread the loop keeps SQLite's own checkpoints. */
    sqlite3_wal_autocheckpoint(loop_db, 0);
    sqlite3_wal_hook(loop_db, on_wal, ck);
    return ck;
}

void gw_ckpt_stop(struct gw_ckpt *ck)
{
    if (!ck)
        return;
    sqlite3_wal_hook(ck->loop_db, NULL, NULL);
    pthread_mutex_lock(&ck->mu);
    ck->stop = 1;
    pthread_cond_signal(&ck->wake);
    pthread_mutex_unlock(&ck->mu);
    pthread_join(ck->thread, NULL);
    SL_INFO("gateway", "gateway.db: WAL checkpoints: %llu on their thread (%llu copied the "
            "whole WAL as it was when they began, %llu FULL), %llu pages; %llu on the loop; "
            "the WAL started again %llu times",
            (unsigned long long)ck->st.runs, (unsigned long long)ck->st.complete,
            (unsigned long long)ck->st.fulls, (unsigned long long)ck->st.pages,
            (unsigned long long)ck->st.loop_runs, (unsigned long long)ck->st.restarts);
    sqlite3_close(ck->db);
    pthread_cond_destroy(&ck->idle);
    pthread_cond_destroy(&ck->wake);
    pthread_mutex_destroy(&ck->mu);
    free(ck);
}

void gw_ckpt_set_limits(struct gw_ckpt *ck, const struct gw_ckpt_limits *lim)
{
    pthread_mutex_lock(&ck->mu);
    ck->lim = *lim;
    pthread_mutex_unlock(&ck->mu);
}

void gw_ckpt_get_stats(struct gw_ckpt *ck, struct gw_ckpt_stats *out)
{
    pthread_mutex_lock(&ck->mu);
    *out = ck->st;  /* wal_pages is the loop's: read it on the loop's thread */
    pthread_mutex_unlock(&ck->mu);
}

void gw_ckpt_wait_idle(struct gw_ckpt *ck)
{
    pthread_mutex_lock(&ck->mu);
    while ((ck->want && !ck->hold) || ck->busy)
        pthread_cond_wait(&ck->idle, &ck->mu);
    pthread_mutex_unlock(&ck->mu);
}
