/*
 * arch_int.h - internals of the message archive (archive.h), shared by archive.c (open,
 * writer thread, expiry), query.c (NLQ parsing, authorisation, text helpers) and search.c
 * (search, fetch, replies).
 */
#ifndef STATELINE_ARCH_INT_H
#define STATELINE_ARCH_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "stateline/archive.h"

/* One queued message.  Slots are reused: text keeps its capacity between uses (so a put
 * allocates only while the queue warms up), except above SLOT_KEEP bytes. */
struct arch_slot {
    uint64_t seq;
    int64_t t;
    char key[4];
    char src[SL_ORI_LEN + 1], src_mbr[3];
    char dst[SL_ORI_LEN + 1], dst_mbr[3];
    char ctl[SL_MSG_CTL_MAX + 1];
    char *text;
    size_t len, cap;
};

#define INS_ROWS 16 /* msg rows per insert statement (ins_msgs) */

/* A row written and not yet indexed, as the index step feeds it to FTS5: its text in
 * sl_archive.pend_text at [off, off + len). */
struct arch_pend {
    uint64_t seq;
    size_t off, len;
};

/* Messages the hub gave up on (sl_archive_lost), not yet written to the table `lost`:
 * n of them, sent from t_first to t_last, after message `after` and before `before`. */
struct arch_gap {
    uint64_t n, after, before;
    int64_t t_first, t_last;
};

struct sl_archive {
    struct sl_archive_conf conf;
    char *path;

    /* writer side: db is used only by the writer thread once it runs */
    sqlite3 *db;
    struct sl_walckpt *ck;   /* db's WAL checkpoints (walckpt.h); NULL: SQLite's own */
    sqlite3_stmt *ins_msg, *idx_rows, *set_indexed, *del_fts, *del_msg, *old_rows, *set_seq,
        *set_back, *ins_fts, *ins_msgs, *ins_gap, *ext_gap, *del_gaps;
    int64_t tw_last;         /* tw of the last row written (writer thread) */
    uint64_t written;        /* the last seq written to msg (writer thread) */
    uint64_t indexed;        /* every searchable row up to this seq is indexed (writer) */
    int64_t index_due_ms;    /* rows after `indexed` are indexed by then (writer) */
    int clock_back;          /* a send time went backwards once (writer thread) */
    int64_t gap_row;         /* the `lost` row the next gap may extend, 0 none (writer) */
    int64_t gap_row_t_last;  /* its t_last (writer) */
    struct arch_gap gap_log; /* written and not yet logged (writer: one line per 10 s) */
    int64_t gap_logged_ms;   /* when the last such line was logged (writer) */
    /* The searchable rows after `indexed` up to `written`, kept in memory so that the index
     * step hands them to FTS5 directly instead of reading them back through the view
     * (writer thread).  Valid only when pend_ok; otherwise (after an open that found rows
     * to index, or a failure) the step reads the view until the index has caught up. */
    struct arch_pend *pend;
    size_t npend, pend_cap;
    struct sl_buf pend_text;
    int pend_ok;
    struct sl_buf strip[INS_ROWS]; /* stripped texts of the rows of one insert (writer) */
    pthread_t writer;
    int writer_started;

    /* the queue, under mu */
    pthread_mutex_t mu;
    pthread_cond_t wake;     /* writer waits for work */
    pthread_cond_t done;     /* flush/expire waiters */
    struct arch_slot *ring;
    size_t cap, head, count; /* count includes the slots the writer is working on */
    size_t bytes;
    uint64_t next_seq;       /* next sequence number to hand out */
    struct arch_gap gap;     /* sl_archive_lost since the writer last took it */
    int gap_new;             /* sl_archive_lost since then: wakes the writer (a gap that
                              * failed to be written waits for the next batch instead) */
    uint64_t gap_gen;        /* sl_archive_lost calls so far */
    uint64_t gap_gen_done;   /* those the writer has tried to write (flush waits for them) */
    uint64_t committed;      /* every seq < committed is written (or failed) */
    uint64_t searchable;     /* every seq < searchable is indexed too (or failed) */
    int writer_waiting;
    int flushing;            /* sl_archive_flush waits: commit without lingering */
    int64_t last_commit_ms;  /* the writer's last batch (commit_every_ms), writer-only */
    int stop;
    int failed;              /* a commit failed since the last flush */
    int64_t expire_req;      /* > 0: an sl_archive_expire wants this cutoff */
    int64_t expire_result;   /* rows deleted, -1 error; valid when expire_req == 0 */
    uint64_t expire_gen, expire_gen_done;
    struct sl_archive_stats st;  /* writer_cpu_ns filled on demand */

    /* search thread (async.c), under smu */
    pthread_mutex_t smu;
    pthread_cond_t swake;
    pthread_t searcher;
    int searcher_started, sstop;
    int efd;
    struct arch_job *jobs, *jobs_tail;   /* waiting */
    struct arch_job *answered, *answered_tail; /* done */
    int njobs;

    /* reader side, under rmu */
    pthread_mutex_t rmu;
    sqlite3 *rdb;
    sqlite3_stmt *search, *fetch, *get_back, *next_row, *seq_span;
    sqlite3_stmt *lost_in;   /* NULL: an archive from before the table `lost` (read-only) */
};

/* async.c */
struct arch_job;
int sl_arch_async_start(struct sl_archive *a, char *err, size_t errlen);
void sl_arch_async_stop(struct sl_archive *a);

/* tokenize.c: the FTS5 tokenizer of schema 3, SL_ARCHIVE_TOKENIZER, on db.  SQLITE_OK or
 * an SQLite error code.  (sl_archive_sql_functions calls it.) */
#define SL_ARCHIVE_TOKENIZER "stateline"
int sl_arch_tokenizer_register(sqlite3 *db);

/* query.c */
int sl_arch_key_visible(const struct sl_ori *who, const char *key);
int sl_arch_withheld(const char *key);
/* 1: sl_archive_strip_images would copy t[0, len) unchanged (nearly every message). */
int sl_arch_plain(const char *t, size_t len);

#endif
