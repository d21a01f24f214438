/*
 * walckpt.c - a SQLite database's WAL checkpoints, off the thread that writes it: the
 * gateway's loop (gateway.db, docs/gateway.md §5.1 "Checkpoints") and the archive's writer
 * (archive.db, docs/archive.md §2).  Moved here from src/gateway/gw_ckpt.c when the
 * archive took it up (27 Nov 2026); the behaviour is the gateway's, unchanged.
 *
 * With SQLite's automatic checkpoint (every 1,000 WAL pages) the commit that crosses the
 * mark copies the WAL into the database file and fdatasyncs both, on the writing thread:
 * 2-5 ms on an idle disk, hundreds when the disk stalls (docs/performance.md, "The disk's
 * own flush time").  The gateway's loop then held every reply; the archive's writer held
 * its queue, which overflowed.  Instead:
 *
 *   - the writer's connection has wal_autocheckpoint = 0, and a WAL hook (called by SQLite
 *     after each of its commits with the WAL's size in pages) that only signals;
 *   - a thread with its own connection (synchronous = NORMAL: it fdatasyncs the WAL before
 *     copying and the database after, as SQLite's own checkpoint does) runs a PASSIVE
 *     checkpoint when signalled at soft pages or more.  PASSIVE takes no lock a writer
 *     needs: the writer keeps committing while pages are copied.  When the writer starts
 *     its next write after a checkpoint that copied everything, SQLite starts the WAL again
 *     from its beginning (the WAL stays at about soft pages);
 *   - a PASSIVE checkpoint copies the frames there were when it started; if the writer
 *     committed meanwhile, the WAL cannot start again yet, and the writer asks for another
 *     once the WAL has grown by step (soft / 2) pages more: each try costs two fdatasyncs,
 *     so not one per commit.  Under continuous commits that race can be lost every
 *     time: at cap pages the thread runs a FULL checkpoint, which holds the writer's
 *     commits back while it copies the last frames (the writer waits in SQLite's busy
 *     handler) so that the WAL is whole in the file and starts again.  A FULL checkpoint
 *     also waits (SL_WALCKPT_BUSY_MS) for readers on an old snapshot; if one held it up,
 *     the next FULL comes a second later at the earliest (the WAL grows while a reader
 *     holds it: nothing can copy past a snapshot still in use);
 *   - at loop_cap pages (the FULL checkpoints could not get the write lock, or the thread
 *     is starved of CPU) the writer waits for the thread's checkpoint in progress to end
 *     and runs a PASSIVE checkpoint itself, as SQLite would have: whatever happens to the
 *     thread, the WAL stays under loop_cap pages and the last transaction's, unless a
 *     reader keeps an old snapshot (then nothing can copy past it, with or without us).
 *
 * What stays on the writer: the first commit after the WAL starts again writes the WAL's
 * new header and fdatasyncs it (SQLite does that on the writer, at synchronous = NORMAL
 * too: a header not on disk before the frames after it could corrupt the file at a power
 * cut).  One small sync per WAL cycle instead of two large ones and the copying.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/core.h"
#include "stateline/walckpt.h"

#define SL_WALCKPT_BUSY_MS 100        /* a FULL checkpoint waits at most this for a lock */
#define SL_WALCKPT_FULL_RETRY_MS 1000 /* after one a reader held up, the next FULL waits */

struct sl_walckpt {
    sqlite3 *db;            /* the thread's own connection (used by the thread only) */
    sqlite3 *loop_db;       /* the writer's connection (its WAL hook) */
    char who[16];           /* the log's module ("gateway", "archive") */
    char label[64];         /* the file, as the log names it */
    char thread_name[16];   /* its thread's (the kernel keeps 15 characters) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* the writer asks (want), or stop */
    pthread_cond_t idle;    /* a request was served (sl_walckpt_wait_idle) */
    int stop;
    int want;               /* WAL pages the writer last reported at or above soft; 0 none */
    int next;               /* ... and at or above this (the last checkpoint's WAL + step) */
    int busy;               /* the thread is checkpointing */
    int hold;               /* the writer checkpoints itself: the thread waits */
    int restarted;          /* the writer saw the WAL start again (the writer's own) */
    struct sl_walckpt_limits lim;
    struct sl_walckpt_stats st;
    int copied;             /* the WAL's frames copied after the last checkpoint */
    int64_t full_after_ms;  /* no FULL checkpoint before (a reader held the last up) */
};

static void run_one(struct sl_walckpt *ck, int pages, int cap, int step)
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
        /* A reader on an old snapshot held it up, or the writer kept the lock: not again
         * for a while (each try makes the writer wait up to SL_WALCKPT_BUSY_MS); the
         * writer's own fallback (loop_cap) stays. */
        ck->full_after_ms = now + SL_WALCKPT_FULL_RETRY_MS;
        SL_DEBUG(ck->who, "%s: the WAL reached %d pages and could not be copied whole (a "
                 "reader on an old snapshot, or the writer kept writing)", ck->label, pages);
    }
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        SL_WARN(ck->who, "%s: WAL checkpoint: %s", ck->label, sqlite3_errmsg(ck->db));
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
    struct sl_walckpt *ck = arg;
    sl_thread_name(ck->thread_name);
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
    /* Shutdown: the writer has committed its last transaction; copy everything and empty
     * the WAL (waits at most SL_WALCKPT_BUSY_MS for a reader). */
    int nlog = -1, ncopied = -1;
    if (sqlite3_wal_checkpoint_v2(ck->db, "main", SQLITE_CHECKPOINT_TRUNCATE, &nlog,
                                  &ncopied) != SQLITE_OK)
        SL_DEBUG(ck->who, "%s: final checkpoint: %s (the WAL stays for the next start)",
                 ck->label, sqlite3_errmsg(ck->db));
    return NULL;
}

/* SQLite calls this on the writer's thread after each commit of its connection. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct sl_walckpt *ck = arg;
    if (pages < ck->st.wal_pages) {
        ck->restarted = 1;  /* the WAL started again: the next cycle starts at soft */
        ck->st.restarts++;
    }
    ck->st.wal_pages = pages;
    if (pages >= ck->lim.loop_cap) {
        /* The thread does not keep up: what SQLite would have done, on the writer's thread,
         * with the thread held off (its checkpoint would make ours fail with SQLITE_BUSY).
         * The writer is between transactions: everything is copied, and its next write
         * starts the WAL again, unless a reader is on an old snapshot. */
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
            SL_WARN(ck->who, "%s: WAL checkpoint on the writer's thread: %s", ck->label,
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

struct sl_walckpt *sl_walckpt_start(sqlite3 *loop_db, const char *path, const char *who,
                                    const char *label, const char *thread_name)
{
    struct sl_walckpt *ck = sl_xcalloc(1, sizeof *ck);
    ck->loop_db = loop_db;
    sl_strlcpy(ck->who, who, sizeof ck->who);
    sl_strlcpy(ck->label, label, sizeof ck->label);
    sl_strlcpy(ck->thread_name, thread_name, sizeof ck->thread_name);
    ck->lim.soft = SL_WALCKPT_SOFT;
    ck->lim.cap = SL_WALCKPT_CAP;
    ck->lim.loop_cap = SL_WALCKPT_LOOP_CAP;
    char *e = NULL;
    if (sqlite3_open_v2(path, &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(ck->db, "PRAGMA synchronous=NORMAL", NULL, NULL, &e) != SQLITE_OK) {
        SL_WARN(who, "%s: no checkpoint thread (%s): SQLite checkpoints on the writer's "
                "thread", label, e ? e : ck->db ? sqlite3_errmsg(ck->db) : "out of memory");
        sqlite3_free(e);
        sqlite3_close(ck->db);
        free(ck);
        return NULL;
    }
    sqlite3_busy_timeout(ck->db, SL_WALCKPT_BUSY_MS);
    pthread_mutex_init(&ck->mu, NULL);
    pthread_cond_init(&ck->wake, NULL);
    pthread_cond_init(&ck->idle, NULL);
    int rc = pthread_create(&ck->thread, NULL, ckpt_main, ck);
    if (rc != 0) {
        SL_WARN(who, "%s: no checkpoint thread (%s): SQLite checkpoints on the writer's "
                "thread", label, strerror(rc));
        pthread_cond_destroy(&ck->idle);
        pthread_cond_destroy(&ck->wake);
        pthread_mutex_destroy(&ck->mu);
        sqlite3_close(ck->db);
        free(ck);
        return NULL;
    }
    /* Only now: without the thread the writer keeps SQLite's own checkpoints. */
    sqlite3_wal_autocheckpoint(loop_db, 0);
    sqlite3_wal_hook(loop_db, on_wal, ck);
    return ck;
}

void sl_walckpt_stop(struct sl_walckpt *ck)
{
    if (!ck)
        return;
    sqlite3_wal_hook(ck->loop_db, NULL, NULL);
    pthread_mutex_lock(&ck->mu);
    ck->stop = 1;
    pthread_cond_signal(&ck->wake);
    pthread_mutex_unlock(&ck->mu);
    pthread_join(ck->thread, NULL);
    SL_INFO(ck->who, "%s: WAL checkpoints: %llu on their thread (%llu copied the whole WAL "
            "as it was when they began, %llu FULL), %llu pages; %llu on the writer's thread; "
            "the WAL started again %llu times", ck->label,
            (unsigned long long)ck->st.runs, (unsigned long long)ck->st.complete,
            (unsigned long long)ck->st.fulls, (unsigned long long)ck->st.pages,
            (unsigned long long)ck->st.loop_runs, (unsigned long long)ck->st.restarts);
    sqlite3_close(ck->db);
    pthread_cond_destroy(&ck->idle);
    pthread_cond_destroy(&ck->wake);
    pthread_mutex_destroy(&ck->mu);
    free(ck);
}

void sl_walckpt_set_limits(struct sl_walckpt *ck, const struct sl_walckpt_limits *lim)
{
    pthread_mutex_lock(&ck->mu);
    ck->lim = *lim;
    pthread_mutex_unlock(&ck->mu);
}

void sl_walckpt_get_stats(struct sl_walckpt *ck, struct sl_walckpt_stats *out)
{
    pthread_mutex_lock(&ck->mu);
    *out = ck->st;  /* wal_pages is the writer's: read it on the writer's thread */
    pthread_mutex_unlock(&ck->mu);
}

void sl_walckpt_wait_idle(struct sl_walckpt *ck)
{
    pthread_mutex_lock(&ck->mu);
    while ((ck->want && !ck->hold) || ck->busy)
        pthread_cond_wait(&ck->idle, &ck->mu);
    pthread_mutex_unlock(&ck->mu);
}
