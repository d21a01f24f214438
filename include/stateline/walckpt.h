/*
 * walckpt.h - a SQLite database's WAL checkpoints on a thread of their own, so that the
 * thread that writes it never copies the WAL nor waits for the checkpoint's fdatasyncs
 * (src/core/walckpt.c says how).  Used for gateway.db (the gateway's loop) and archive.db
 * (the archive's writer).
 */
#ifndef STATELINE_WALCKPT_H
#define STATELINE_WALCKPT_H

#include <stdint.h>

#define SL_WALCKPT_SOFT 1000       /* WAL pages: the thread checkpoints (PASSIVE) */
#define SL_WALCKPT_CAP 10000       /* the thread runs FULL checkpoints (the writer waits) */
#define SL_WALCKPT_LOOP_CAP 20000  /* the writer checkpoints itself (the thread is behind) */

struct sqlite3;
struct sl_walckpt;
struct sl_walckpt_limits {
    int soft, cap, loop_cap;    /* WAL pages, as the SL_WALCKPT_* above */
};
struct sl_walckpt_stats {
    uint64_t runs;        /* checkpoints the thread ran */
    uint64_t complete;    /* ... that copied the whole WAL as it was when they began */
    uint64_t pages;       /* pages copied by the thread */
    uint64_t fulls;       /* FULL checkpoints (over cap) */
    uint64_t loop_runs;   /* checkpoints the writer ran itself (over loop_cap) */
    uint64_t failures;
    uint64_t restarts;    /* the writer's commits saw the WAL start again (writer's field) */
    int wal_pages;        /* the WAL's pages after the writer's last commit */
};
/* Take the checkpoints of writer_db (the writing thread's connection to path) off that
 * thread: its automatic checkpoint off, a WAL hook that signals a thread with its own
 * connection.  who names the log's module ("gateway"), label the file in its lines
 * ("gateway.db"), thread_name the thread (docs/operations.md, "Threads").  NULL (logged)
 * when the thread or its connection cannot be had: SQLite then checkpoints on the writer
 * as before.  Free with sl_walckpt_stop, after writer_db's last commit and before it
 * closes. */
struct sl_walckpt *sl_walckpt_start(struct sqlite3 *writer_db, const char *path,
                                    const char *who, const char *label,
                                    const char *thread_name);
/* Remove the hook, checkpoint (TRUNCATE, waiting at most 100 ms for readers), join the
 * thread, close its connection, log what it did, free ck.  NULL is a no-op. */
void sl_walckpt_stop(struct sl_walckpt *ck);
/* For tests and tuning: other thresholds (call before the writer writes). */
void sl_walckpt_set_limits(struct sl_walckpt *ck, const struct sl_walckpt_limits *lim);
void sl_walckpt_get_stats(struct sl_walckpt *ck, struct sl_walckpt_stats *out);
/* Block until no checkpoint is asked for or running (tests). */
void sl_walckpt_wait_idle(struct sl_walckpt *ck);

#endif
