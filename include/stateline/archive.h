/*
 * archive.h - the switch's message archive and its search, RAND-style (docs/archive.md).
 *
 * Every message the switch sends is archived as it leaves: sl_archive_put copies it into a
 * bounded queue and returns at once; a writer thread strips images, commits the queue in
 * batches (one transaction per batch, prepared statements) and deletes expired rows in
 * small steps.  NLQ searches and NFQ fetches read through their own connection.
 *
 * Storage: one SQLite database in WAL mode, synchronous=NORMAL, or FULL with sync_full
 * (docs/archive.md §2):
 *     msg(seq INTEGER PRIMARY KEY, t INTEGER                -- send time, s since epoch UTC
 *         tw INTEGER,                                       -- max(t) of rows up to seq
 *         key, src, src_mbr, dst, dst_mbr, ctl, body)      -- body: text after TXT, no images
 *     meta 'clock_back' = '1' once a row's t was below the tw before it (a clock stepped
 *         back): from then on END no longer bounds the sequence range of a search
 *     VIEW msg_text(seq, body) AS SELECT seq, body FROM msg
 *         WHERE key NOT IN ('NLQ', 'NFQ', 'NLR', 'NFR')    -- never searched: not indexed
 *     msg_fts USING fts5(body, content='msg_text', content_rowid='seq', columnsize=0,
 *                        tokenize='stateline')
 *         automerge 16, crisismerge 64, hashsize 32 MiB
 *         the tokenizer 'stateline' (src/archive/tokenize.c) cuts the terms unicode61 cuts
 *         from sl_archive_norm(body): runs of letters and digits, case folded, an
 *         apostrophe between two of them removed (O'BRIEN -> obrien).  Any connection
 *         touching msg_fts needs sl_archive_sql_functions (it registers the tokenizer).
 *     lost(id INTEGER PRIMARY KEY, t_first, t_last,        -- n messages sent from t_first
 *          after_seq, before_seq, n)                    -- to t_last (UTC s) never archived
 *         (sl_archive_lost: the queue was full), numbered between after_seq and before_seq;
 *         created at the read-write open (added to schema 3 in place), expired with the rows
 *     meta(key TEXT PRIMARY KEY, value)                     -- 'schema' = '3';
 *         'seq_next': the next sequence number (written with each batch);
 *         'indexed': every searchable row with seq <= this is in msg_fts (rows after it
 *         are indexed within index_every_ms, or at the next open after a crash)
 * Schema 1 (AUTOINCREMENT, an index on t, FTS5 with per-row sizes) and schema 2 (the view
 * msg_norm applying sl_norm(), unicode61) are migrated at the first read-write open
 * (logged; one transaction; the index rebuilt).
 * Sequence numbers start at 1 and grow by one per message (meta 'seq_next': a number once
 * committed is never given again, even after expiry), so they fit NLR's 10 characters for
 * 9,999,999,999 messages (about 16 years of Nlets' DMV traffic with its replies).  A number handed out by sl_archive_put for a message lost in a
 * crash before its commit is handed out again after the restart.
 *
 * Threads: put, lost, queued, flush, expire, submit, drain, close are for one owner thread (the
 * hub's loop).  search, fetch, answer, gaps may be called from any thread (they take the reader
 * lock; the archive's search thread uses them for sl_archive_submit).
 *
 * Times: every time in the archive and in NLQ (BEG/, END/) is UTC.
 */
#ifndef STATELINE_ARCHIVE_H
#define STATELINE_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "stateline/buf.h"
#include "stateline/dir.h"
#include "stateline/msg.h"

#define SL_ARCHIVE_MAX_HITS 100     /* hits listed in one NLR */
#define SL_ARCHIVE_HIT_TEXT 80      /* characters of the body shown per hit */
#define SL_ARCHIVE_MAX_KEYS 32      /* keys in one TYP/ list (100 characters hold 25) */
#define SL_ARCHIVE_MAX_TERMS 16     /* name parts / words per text field */
#define SL_ARCHIVE_IMAGE_MARK "[IMAGE NOT ARCHIVED]"

struct sl_archive;

struct sl_archive_conf {
    const char *path;        /* database file; created with the schema when absent */
    int retention_days;      /* rows older than this are deleted and never found (365) */
    size_t queue_max;        /* messages waiting for the writer (65536) */
    size_t queue_bytes_max;  /* bytes waiting for the writer (64 MiB) */
    int batch_max;           /* rows per transaction (2048) */
    int expire_batch;        /* rows deleted per expiry step (500) */
    int expire_every_ms;     /* the writer runs an expiry step at most this often (1000);
                              * 0 = never by itself (tests, tools; sl_archive_expire) */
    int count_max;           /* an NLR counts matches up to this many (10000) */
    int search_queue;        /* NLQ/NFQ waiting for the search thread (64); 0 = no thread */
    int sync_full;           /* 1: synchronous=FULL, the WAL is synced at every batch commit
                              * (committed batches survive power loss); 0: NORMAL (0) */
    int readonly;            /* 1: no writer thread, put refused (search/fetch tools) */
    int commit_every_ms;     /* under load, commit at most this often (20): a message that
                              * arrives within this time of the last commit waits for more
                              * (or for batch_max, or a flush).  Each commit also writes a
                              * full-text segment; at 16,000 messages/s one commit per few
                              * messages cost the hub three quarters of its CPU.  The first
                              * message after a quiet spell is written at once. 0 = never
                              * wait. */
    int index_every_ms;      /* full-text indexing lags the commits by at most this (1000):
                              * rows are indexed in batches of up to index_batch, in the
                              * transaction of a later commit, so FTS5 writes one large
                              * segment per second instead of one small one per commit
                              * (docs/archive.md §2).  An NLQ finds a message this long
                              * after its commit at the latest; NFQ at once; flush and
                              * close index everything.  0 = index in every commit. */
    int index_batch;         /* rows indexed at most at once (16384) */
};

void sl_archive_conf_default(struct sl_archive_conf *c);

/* Open (create when absent, unless readonly) and start the writer thread.  *out is owned by
 * the caller: sl_archive_close.  0 or -1 with err. */
int sl_archive_open(const struct sl_archive_conf *c, struct sl_archive **out, char *err,
                    size_t errlen);
/* Commit everything queued, stop the threads, close.  NULL is a no-op. */
void sl_archive_close(struct sl_archive *a);

/* One message as it leaves the switch.  Strings are NUL-terminated; they are copied. */
struct sl_archive_rec {
    int64_t time;          /* send time, seconds since the epoch, UTC */
    const char *key;       /* "DQ" (2-3 upper-case letters) */
    const char *src;       /* originating ORI (9 characters) */
    const char *src_mbr;   /* member line of the originator ("WA", "DH"); NULL or "": the
                            * ORI's first two characters */
    const char *dst;       /* addressee: member code (2) or ORI (9) */
    const char *dst_mbr;   /* member of dst when dst is an ORI; NULL or "": dst's first two */
    const char *ctl;       /* control field, NULL or "" for none (<= 10 characters) */
    const char *text;      /* the message text after TXT (images are stripped here) */
    size_t text_len;
};

/* Queue r for the writer.  Cost: one mutex, one copy of the text, at most one wake-up.
 * *seq (may be NULL) gets the message's sequence number.
 * 0 queued; -1 the queue is full (count or bytes): nothing queued, the caller decides
 * (the hub counts it and goes on: the archive is a record, not the delivery guarantee);
 * -2 the record is malformed (logged) or the archive is read-only. */
int sl_archive_put(struct sl_archive *a, const struct sl_archive_rec *r, uint64_t *seq);
/* The caller gives up on r after sl_archive_put said -1 (the queue is full): the archive
 * records the gap, so that it says it is incomplete instead of being silently so.  The
 * writer writes it to the table `lost` with its next batch (a gap that goes on extends
 * one row), logs it (at most a line every 10 s), and every search of that time warns of
 * it (docs/archive.md §2).  Cheap: a few fields under the queue's mutex. */
void sl_archive_lost(struct sl_archive *a, const struct sl_archive_rec *r);
/* Messages and bytes waiting (for metrics and backpressure decisions). */
void sl_archive_queued(struct sl_archive *a, size_t *msgs, size_t *bytes);
/* Wait until everything queued before the call is committed, and every gap recorded
 * before it written.  0, or -1 when a commit failed (logged; those rows are lost). */
int sl_archive_flush(struct sl_archive *a);
/* Delete every row older than the retention, counted from now (0 = the wall clock), in
 * steps of expire_batch rows on the writer thread; waits until done.  Returns the number
 * of rows deleted, or -1. */
int64_t sl_archive_expire(struct sl_archive *a, int64_t now);
/* Counters since open, for metrics and the benchmark. */
struct sl_archive_stats {
    uint64_t committed;      /* messages written */
    uint64_t lost;           /* messages whose insert or commit failed (logged) */
    uint64_t batches;        /* write transactions */
    uint64_t expired;        /* messages deleted by retention */
    uint64_t queue_full;     /* puts answered -1 */
    int64_t writer_cpu_ns;   /* CPU time of the writer thread */
    uint64_t behind;         /* messages put and not yet searchable (queued, or written
                              * and waiting for the index: about a second's worth when
                              * the writer keeps up, index_every_ms) */
};
void sl_archive_stats(struct sl_archive *a, struct sl_archive_stats *out);
/* Rows in the archive (committed), -1 on error. */
int64_t sl_archive_count(struct sl_archive *a);

/* ---- NLQ: the query ---- */

enum sl_archive_mode { SL_ARCHIVE_FND = 1, SL_ARCHIVE_NAM = 2 };

struct sl_archive_query {
    int all;                                   /* TYP/ALL */
    int nkeys;
    char keys[SL_ARCHIVE_MAX_KEYS][4];         /* TYP/ list, or after authorisation the
                                                * keys the search will cover */
    char src[SL_ORI_LEN + 1];                  /* "" any; 2 = member, 9 = ORI */
    char dst[SL_ORI_LEN + 1];
    int64_t beg, end;                          /* inclusive, seconds UTC */
    enum sl_archive_mode mode;
    char fts[1024];                            /* the FTS5 MATCH expression; every term
                                                * is a double-quoted string of [a-z0-9] */
    char what[200];                            /* FND/AND/ORR or NAM as given, for the NLR */
};

/* Turn the fields of an NLQ (m: sl_msg_parse'd; sl_msg_check need not have run) into a
 * query.  Checks every field itself, so any input gives either a query whose FTS5
 * expression is made only of quoted [a-z0-9] terms, or -1 with err saying what is wrong
 * (for an ER .22./.10. detail).  Rules (docs/archive.md §4):
 *   TYP/  ALL, or keys separated by ',' (spaces ignored), <= 100 characters
 *   SRC/ DST/  2-character member code or 9-character ORI
 *   BEG/ END/  ccyymmdd or ccyymmdd@hhmm, UTC; BEG from its first second, END to its last
 *   FND/ [AND/] [ORR/]  words (letters/digits; other characters separate them) that must
 *         appear in this order, next to each other; match = (FND and AND) or ORR
 *   NAM/  name parts separated by any non-alphanumeric character, each anywhere in the
 *         message, in any order; a part may end in '*' (prefix); apostrophes are ignored */
int sl_archive_query_parse(const struct sl_msg *m, struct sl_archive_query *q, char *err,
                           size_t errlen);

/* Narrow q to what `who` may see.  Refused (-1, a reason line appended to out) when who is
 * NULL, inactive, lacks the rand flag, or none of the requested keys remain.  Otherwise 0
 * and q->keys is the list searched; one "WARNING - ..." line per dropped key is appended
 * to out.  A key is visible when its table category is among who->cats; NLQ, NFQ, NLR and
 * NFR are never visible (searches of the archive are withheld); unknown keys are dropped. */
int sl_archive_authorise(const struct sl_ori *who, struct sl_archive_query *q,
                         struct sl_buf *out);

/* ---- search and fetch ---- */

struct sl_archive_hit {
    uint64_t seq;
    int64_t time;
    char key[4];
    char src[SL_ORI_LEN + 1];
    char dst[SL_ORI_LEN + 1];
    char text[SL_ARCHIVE_HIT_TEXT + 1];        /* control characters shown as spaces */
};

struct sl_archive_hits {
    int n;                                     /* hits listed (<= SL_ARCHIVE_MAX_HITS) */
    int64_t total;                             /* matches counted */
    int more;                                  /* 1: counting stopped at count_max */
    int64_t lost;                              /* messages of the search's period, of any
                                                * key, that were never archived (the
                                                * gaps, sl_archive_lost) */
    struct sl_archive_hit hit[SL_ARCHIVE_MAX_HITS];
};

/* A gap: n messages the switch sent from t_first to t_last (UTC seconds) that the
 * archive never got, numbered between after_seq and before_seq (a lost message takes no
 * number; messages archived meanwhile may lie between them too). */
struct sl_archive_gap {
    int64_t t_first, t_last;
    uint64_t after_seq, before_seq, n;
};

/* t (UTC seconds) as "YYYY-MM-DD HH:MM:SS", UTC (no zone: the caller says it). */
void sl_archive_fmt_time(int64_t t, char out[24]);

/* The newest `cap` gaps, newest first: how many (0: none recorded), -1 on error. */
int sl_archive_gaps(struct sl_archive *a, struct sl_archive_gap *out, int cap);

/* Run an authorised query: newest first.  0 or -1 (logged). */
int sl_archive_search(struct sl_archive *a, const struct sl_archive_query *q, int64_t now,
                      struct sl_archive_hits *out);

struct sl_archive_msg {
    uint64_t seq;
    int64_t time;
    char key[4];
    char src[SL_ORI_LEN + 1], src_mbr[3];
    char dst[SL_ORI_LEN + 1], dst_mbr[3];
    char ctl[SL_MSG_CTL_MAX + 1];
    struct sl_buf body;                        /* owned: sl_buf_free */
};

/* One message by sequence number as `who` may see it (NULL = operator, sees all but
 * still not past retention).  0 found, 1 not on file (or not visible), -1 error. */
int sl_archive_fetch(struct sl_archive *a, uint64_t seq, const struct sl_ori *who,
                     int64_t now, struct sl_archive_msg *out);

/* ---- reply bodies (the hub wraps them in the output header) ---- */

/* "NLQ RECEIVED AND QUEUED FOR PROCESSING" (key = NLQ or NFQ). */
void sl_archive_reply_ack(const char *key, struct sl_buf *out);
/* "NLQ NOT QUEUED - THE ARCHIVE IS BUSY, SEND IT AGAIN LATER" (sl_archive_submit said -1). */
void sl_archive_reply_busy(const char *key, struct sl_buf *out);
/* NLR body (docs/archive.md §5):
 *     <warning lines>
 *     NLR - SEARCH OF ARCHIVE: TYP/.. SRC/.. DST/.. BEG/.. END/.. FND/..
 *     3 HITS                        | 100 OF 2345 HITS, NARROW THE SEARCH
 *                                   | 100 OF MORE THAN 10000 HITS, NARROW THE SEARCH
 *     SEQUENCE   DATE     TIME KEY SOURCE    DEST      TEXT
 *     1234       20261126 1452 DQ  WASP00000 CA        OLN/WDL1234...
 * or the warning lines and "NOT ON FILE". */
void sl_archive_reply_nlr(const struct sl_archive_query *q, const char *warnings,
                          const struct sl_archive_hits *h, struct sl_buf *out);
/* NFR body: "SEQ/.. DATE/ccyymmdd@hhmm KEY/.. SRC/.. DST/.. [CTL/..]" then "TXT" and the
 * archived text.  m NULL: "NOT ON FILE".  xml: the requester asked for the XML form. */
void sl_archive_reply_nfr(const struct sl_archive_msg *m, int xml, struct sl_buf *out);

/* Everything for one NLQ or NFQ message from `who`: parse, authorise, search or fetch,
 * and the reply body.  *reply_key gets "NLR"/"NFR".  0: body holds the reply (hits,
 * NOT ON FILE, or a refusal); -1: the message is malformed, err holds the detail for an
 * ER (*er the number); -2: the archive failed (logged; answer ER or SM as the hub does). */
int sl_archive_answer(struct sl_archive *a, const struct sl_msg *m, const struct sl_ori *who,
                      int64_t now, struct sl_buf *body, char reply_key[4], enum sl_er *er,
                      char *err, size_t errlen);

/* ---- answers off the event loop ---- */

/* A search can take from a millisecond to a few hundred (docs/performance.md), too
 * long for the hub's one loop thread.  With conf.search_queue > 0 the archive runs a search
 * thread: the loop submits, sends the acknowledgement (sl_archive_reply_ack) at once, and
 * later drains the finished answers when sl_archive_event_fd is readable. */
struct sl_archive_done {
    void *tag;            /* as given to sl_archive_submit */
    int rc;               /* as sl_archive_answer: 0 body is the reply, -1 ER, -2 failed */
    char reply_key[4];    /* "NLR" / "NFR" */
    enum sl_er er;
    char err[160];
    struct sl_buf body;   /* owned by the archive, valid during the callback only */
};
typedef void (*sl_archive_done_fn)(void *ctx, struct sl_archive_done *d);

/* Queue one NLQ/NFQ (m and *who are copied; who may be NULL).  0 queued; -1 the search
 * queue is full (answer busy, e.g. SM); -2 no search thread (search_queue 0 or read-only
 * with none).  Cost: one copy of the message. */
int sl_archive_submit(struct sl_archive *a, const struct sl_msg *m, const struct sl_ori *who,
                      int64_t now, void *tag);
/* An eventfd that is readable while finished answers wait; -1 without a search thread.
 * Owned by the archive. */
int sl_archive_event_fd(struct sl_archive *a);
/* Call fn for every finished answer, on the calling thread (the loop), oldest first, and
 * clear the eventfd.  Returns the number handled.  Answers not drained before
 * sl_archive_close are dropped with their tags (the caller owns what tags point to). */
int sl_archive_drain(struct sl_archive *a, sl_archive_done_fn fn, void *ctx);

/* ---- helpers (exported for tests, the fuzzer and tools) ---- */

/* Copy text into out with image payloads replaced by SL_ARCHIVE_IMAGE_MARK: the content of
 * XML elements named *BinaryBase64Object, the value of IMG/ fields (to the end of the
 * line or the next '.'), and any block of 200+ base64 characters, on one line or wrapped
 * in lines of 60+ (MIME, PEM); bytes outside printable ASCII, TAB, CR, LF are dropped
 * (runs of 16+ become the mark).  The result holds no run of 200 base64 characters.
 * Returns the number of marks written. */
int sl_archive_strip_images(const char *text, size_t len, struct sl_buf *out);
/* Text as the index sees it: an apostrophe between two letters/digits is removed. */
void sl_archive_norm(const char *text, size_t len, struct sl_buf *out);
/* Register sl_norm() and the FTS5 tokenizer 'stateline' on a SQLite connection
 * (sqlite3 *), for tools that open the database themselves (FTS5 'integrity-check',
 * 'rebuild', fts5vocab, any MATCH).  SQLITE_OK or an SQLite error code. */
struct sqlite3;
int sl_archive_sql_functions(struct sqlite3 *db);
/* ccyymmdd[@hhmm] -> seconds UTC; end_of = 1 gives the last second of the day/minute. */
int sl_archive_parse_time(const char *s, size_t len, int end_of, int64_t *out);

#endif
