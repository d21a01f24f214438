/*
 * gw_int.h - the gateway's parts, between its files.
 *
 * The policy side (gw_policy.c) decides; the records side (gw_records.c, gw_layout.c)
 * looks up, redacts and formats.  What passes between them is struct gw_verdict, whose
 * class mask uses the one set of data classes (SL_DC_BIT(SL_DC_*), policy.h) that the
 * store and the audit log share.
 */
#ifndef STATELINE_GW_INT_H
#define STATELINE_GW_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "stateline/buf.h"
#include "stateline/gateway.h"
#include "stateline/msg.h"

#define GW_MAX_RULES 16
#define GW_MAX_MARKS 4

/* Effects, same numbers as enum sl_policy_effect. */
enum { GW_PERMIT = 0, GW_HOLD = 1, GW_FORBID = 2 };

/* The decision on one query, with everything copied out of the policy (no reference to
 * it is kept). */
struct gw_verdict {
    int effect;
    int is_default;           /* the policy's default decided */
    int no_policy;            /* no policy in force (outage): decided by cfg->outage */
    int fail_closed;          /* the policy could not be evaluated for this request */
    int nrules;
    char rules[GW_MAX_RULES][64];
    char why[1200];           /* "rule-id: reason; rule-id: reason" (forbid / hold) */
    unsigned withheld;        /* store class bits to redact on release */
    char withheld_by[400];    /* "photo, ssn (photos-stay-home); address (cbp-...)" */
    int unmapped;             /* a class the gateway cannot apply: no release */
    char unmapped_names[120];
    int nmarks;
    char marks[GW_MAX_MARKS][160];
    int64_t hold_deadline_s;
    int hold_then;
    char hash[65];            /* policy hash, "" when no policy */
    int nnotices;             /* notify obligations (permit, or a hold's) */
    struct {
        int days, business;
        char rule[64];
    } notices[4];
};

/* ---- gw_policy.c ---- */
struct gw_policy;
/* Load the configured policy (or the configured default) into a new slot.  A policy file
 * that does not check is logged and leaves the slot empty (fail closed): the gateway
 * still answers, with denials.  Never NULL. */
struct gw_policy *gw_policy_new(const struct sl_gw_config *cfg);
void gw_policy_free(struct gw_policy *gp);
/* The slot the policy in force is in (for the oversight desk's readers, http.h). */
struct sl_policy_slot *gw_policy_slot(struct gw_policy *gp);
/* One line saying what is in force ("policy wa.policy (state WA, 5 rules, sha256 ...)"). */
void gw_policy_describe(struct gw_policy *gp, char *out, size_t len);
/* Hash in force, "" when none. */
void gw_policy_hash(struct gw_policy *gp, char out[65]);
/* Look at the file; when it changed, compile it and swap it in.  Returns 1 when a new
 * policy is in force (before/after receive the hashes, "" for none), 0 unchanged or
 * refused (errors logged), and fills *refused = 1 when a changed file did not check. */
int gw_policy_poll(struct gw_policy *gp, char before[65], char after[65], int *refused);
/* Decide on a delivered query.  requester_in_state: the requester's state is ours. */
void gw_policy_decide(struct gw_policy *gp, const struct sl_outhdr *h, const struct sl_msg *m,
                      time_t now, struct gw_verdict *v);
/* The classes of a policy mask the store can withhold.  Bits it cannot apply go into
 * unmapped (comma list) and make *nunmapped non-zero: the query is then not released. */
unsigned gw_policy_store_mask(uint32_t policy_mask, int *nunmapped, char *unmapped,
                              size_t len);

/* ---- gw_records.c ---- */
struct gw_records;
/* Open the store read-only; NULL (logged) when it cannot be opened: the gateway then
 * answers FILE NOT AVAILABLE and tries again on each query. */
struct gw_records *gw_records_open(const struct sl_gw_config *cfg);
void gw_records_close(struct gw_records *r);
/* The loop is about to sleep: end the read transaction the look-ups of this pass shared
 * (a snapshot is held only while there is work). */
void gw_records_idle(struct gw_records *r);

/* What a release looked like, for the audit entries. */
struct gw_release {
    int outcome;           /* enum gw_outcome */
    unsigned released;     /* store class bits that left, withheld excluded */
    unsigned withheld;     /* store class bits withheld */
    int nrecords;
    struct sl_buf personal; /* identifiers of the records released (personal store) */
};
enum gw_outcome {
    GW_OUT_FOUND = 0,       /* records released */
    GW_OUT_NOT_ON_FILE,
    GW_OUT_UNUSABLE,        /* the query cannot be searched (reason in the reply) */
    GW_OUT_NOT_AVAILABLE,   /* store missing or corrupt */
    GW_OUT_UNAVAILABLE,     /* store busy / error: TEMPORARILY UNAVAILABLE */
    GW_OUT_NOT_ANSWERED,    /* key not answered here (RPQ not opted in) */
};
/* Look up the records for m (a permitted query), redact v->withheld on them, and append
 * the reply body to out (the marks and the "withheld" line included).  lay: layout. */
void gw_records_answer(struct gw_records *r, const struct sl_gw_config *cfg,
                       const struct sl_msg *m, const struct gw_verdict *v,
                       enum sl_gw_layout lay, struct sl_buf *out, struct gw_release *rel);
/* Class bits -> the audit log's class field (audit.h). */
uint32_t gw_audit_classes(unsigned store_bits);
/* "photo, ssn" for store bits. */
void gw_class_names(unsigned store_bits, char *out, size_t len);

/* ---- gw_queue.c: DATA/gateway.db (inbox of unanswered queries, review queue) ---- */
struct gw_queue;
/* Open (and create) DATA/gateway.db; a file of an earlier version is converted (the
 * per-query inbox and answered tables, gw_queue.c).  NULL with err filled on failure. */
struct gw_queue *gw_queue_open(const char *data_dir, char *err, size_t errlen);
void gw_queue_close(struct gw_queue *q);
/* One transaction per loop iteration: begin/commit around the inbox's writes. */
int gw_queue_begin(struct gw_queue *q);
int gw_queue_commit(struct gw_queue *q);
/* The directory gateway.db is in (the inbox's log is DATA/inbox, gw_ilog.c). */
const char *gw_queue_dir(const struct gw_queue *q);
/* The inbox as gateway.db held it before the log (tables inbox_read and answered_batch,
 * gw_queue.c's header comment; a file of the per-query form was converted to them at
 * open): every answered_batch row, oldest first, then every inbox_read row:
 * batch(mids, mlen, replies, rlen, arg), read(frames, len, arg).  The number of rows, 0
 * when there are no such tables, -1 on error (logged). */
int gw_queue_old_inbox(struct gw_queue *q,
                       void (*batch)(const uint8_t *mids, size_t mlen, const uint8_t *replies,
                                     size_t rlen, void *arg),
                       void (*read)(const uint8_t *frames, size_t len, void *arg), void *arg);
/* Drop those tables (their contents are in the log).  0 or -1 (logged). */
int gw_queue_old_inbox_drop(struct gw_queue *q);

/* The blobs' records (gw_queue.c's header comment), written and read without SQLite. */
#define GW_INBOX_REC_HDR 12   /* an inbox record's length (4) and message id (8) */
void gw_blob_put_frame(struct sl_buf *b, uint64_t mid, const void *frame, uint32_t len);
void gw_blob_put_reply(struct sl_buf *mids, struct sl_buf *replies, uint64_t mid,
                       const void *reply, uint32_t len);
/* The record of an inbox row's frames at *off: 1 with *mid, *frame (into b) and *len
 * filled and *off moved past it; 0 at the end; -1 when the rest is not a record (a length
 * past the end or over SL_FRAME_DEFAULT_MAX). */
int gw_inbox_blob_next(const uint8_t *b, size_t n, size_t *off, uint64_t *mid,
                       const uint8_t **frame, uint32_t *len);
/* Id i of a mids blob (the caller checks i < len / 8). */
uint64_t gw_mids_get(const uint8_t *mids, uint32_t i);
/* Reply i of a replies blob: 0 with *reply (into b) and *len, -1 if there is none. */
int gw_answered_blob_get(const uint8_t *b, size_t n, uint32_t i, const uint8_t **reply,
                         uint32_t *len);

/* ---- gw_ilog.c: the inbox's log, DATA/inbox/seg-NNNNNNNN.log (format there) ---- */
#define GW_ILOG_REC_HDR 24
#define GW_ILOG_REC_MAX (64u << 20)   /* a record's payload at most */
#define GW_ILOG_SEG_MAX (4u << 20)    /* a segment is finished once this long */
#define GW_ILOG_READ 1
#define GW_ILOG_BATCH 2
struct iovec;
struct gw_ilog;

/* The inbox's tables in memory (its rows, its BATCH records, and what the scan at open and
 * `stateline inbox` collect) are arrays of structs sorted by an int64_t `id` at offset 0,
 * `stride` bytes apart: the first index in [lo, hi) whose id is >= id (hi if none). */
static inline size_t gw_ilog_lower_bound(const void *base, size_t stride, size_t lo, size_t hi,
                                         int64_t id)
{
    const unsigned char *b = base;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        int64_t v;
        memcpy(&v, b + m * stride, sizeof v);
        if (v < id)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}
/* A record found by the scan at open (payload points into a buffer valid during fn). */
struct gw_ilog_rec {
    uint32_t seg;          /* segment number */
    uint64_t off;          /* byte offset of the record in it */
    int64_t seq;
    uint32_t type;         /* GW_ILOG_READ, GW_ILOG_BATCH */
    const uint8_t *payload;
    size_t len;
};
/* Open the log in dir (created): fn(record, arg) for every record, oldest first; a
 * damaged or cut record ends its segment (logged).  NULL with err on failure.  Free with
 * gw_ilog_close. */
struct gw_ilog *gw_ilog_open(const char *dir, void (*fn)(const struct gw_ilog_rec *r, void *arg),
                             void *arg, char *err, size_t errlen);
void gw_ilog_close(struct gw_ilog *lg);
/* Append one record of the niov (at most 7) parts: its seq, and where it is (*seg,
 * *off); -1 on error (logged; nothing that fails its check is left before the next). */
int64_t gw_ilog_append(struct gw_ilog *lg, uint32_t type, const struct iovec *iov, int niov,
                       uint32_t *seg, uint64_t *off);
/* The record seq at seg/off read back into buf: 0 with *type and *payload (into buf),
 * -1 (logged) if it is not there whole. */
int gw_ilog_read(struct gw_ilog *lg, uint32_t seg, uint64_t off, int64_t seq,
                 struct sl_buf *buf, uint32_t *type, const uint8_t **payload, size_t *len);
/* The segment written is at its size: time to rotate. */
int gw_ilog_full(const struct gw_ilog *lg);
uint32_t gw_ilog_current(const struct gw_ilog *lg);
size_t gw_ilog_segments(const struct gw_ilog *lg);
/* Start a new segment; the segments numbered below keep_from are retired (the oldest
 * becomes the new one, the others are zeroed and removed).  0 or -1 (logged). */
int gw_ilog_rotate(struct gw_ilog *lg, uint32_t keep_from);
/* For tests: segments of another size. */
void gw_ilog_set_seg_max(struct gw_ilog *lg, uint64_t bytes);
/* What the scan found in one segment file (`stateline inbox`, tests). */
enum gw_ilog_seg_status {
    GW_ILOG_SEG_OK = 0,         /* records up to the file's end */
    GW_ILOG_SEG_TAIL,           /* the last segment: bytes after its records (written over) */
    GW_ILOG_SEG_DAMAGED,        /* an older segment: a record that does not hold; the rest lost */
    GW_ILOG_SEG_NO_HEADER,      /* no valid header (or one from before): taken as empty */
};
struct gw_ilog_seg_report {
    uint32_t num;
    int64_t first_seq;          /* 0 when no header */
    int64_t records;
    int64_t gap;                /* sequence numbers missing before it (a segment lost) */
    uint64_t valid, size;       /* bytes of header and whole records; the file's */
    enum gw_ilog_seg_status status;
};
/* The log in dir read as gw_ilog_open reads it, writing and logging nothing: fn for each
 * record, then seg (may be NULL) for each segment file after its records.  0, or -1 with err (dir or a file cannot be read). */
int gw_ilog_inspect(const char *dir, void (*fn)(const struct gw_ilog_rec *r, void *arg),
                    void (*seg)(const struct gw_ilog_seg_report *s, void *arg), void *arg,
                    char *err, size_t errlen);
/* The parsers, for the scan, the read-back and the fuzz target.  A record at b (n bytes
 * there) of a segment with salt whose seq must be want_seq: 0 with its type and payload
 * (into b), -1 if it is not one. */
int gw_ilog_rec_parse(const uint8_t *b, size_t n, uint64_t salt, int64_t want_seq,
                      uint32_t *type, const uint8_t **payload, size_t *len);
/* The header of a record of the iov parts (the writer's, and tests'). */
void gw_ilog_rec_header(uint8_t h[GW_ILOG_REC_HDR], uint64_t salt, int64_t seq, uint32_t type,
                        const struct iovec *iov, int niov);
/* A segment's header: 0 with its first seq and salt, -1 if it is none. */
int gw_ilog_seg_header_parse(const uint8_t *b, size_t n, int64_t *first_seq, uint64_t *salt);
/* A BATCH payload's parts: n ids, ndone row ids (8 bytes each, gw_ilog_u64), the replies
 * (gw_answered_blob_get).  0, or -1 if the counts do not fit in len. */
struct gw_ilog_batch {
    uint32_t n, ndone;
    const uint8_t *mids, *done, *replies;
    size_t rlen;
};
int gw_ilog_batch_parse(const uint8_t *p, size_t len, struct gw_ilog_batch *b);
uint64_t gw_ilog_u64(const uint8_t *p, uint32_t i);

/* ---- gw_inbox.c: the inbox (docs/gateway.md §5.1) ----
 * Which switch message ids are in flight (read, reply not acknowledged) and which were
 * answered (in which BATCH record of the log), so that no query costs a look-up on disk;
 * how many frames of each row (read) still wait for their reply; the replies
 * acknowledged in the current pass.  Rebuilt at start from the log, DATA/inbox/
 * (gw_ilog.c); the log is where gateway.db's tables inbox_read and answered_batch were
 * (converted at the first open). */
#define GW_ANSWERED_KEEP 20000      /* answered ids kept at least (pruned by whole rows) */
#define GW_INBOX_INFLIGHT (-2)      /* gw_inbox_take: a repeat of a query in the inbox */
#define GW_INBOX_SHARED (-3)        /* gw_inbox_take: in this read's row (gw_inbox_read_end) */
#define GW_INBOX_ANSWERED (-4)      /* gw_inbox_take: a repeat of an answered query */
struct gw_inbox;
/* The inbox in DATA/inbox/ (DATA: q's directory), its log scanned: the answered ids and
 * the open rows known (the replies and frames stay on disk).  A gateway.db with the
 * inbox's tables of the versions before is converted first.  NULL (logged) if the log
 * cannot be read or written.  q stays the caller's; free with gw_inbox_free. */
struct gw_inbox *gw_inbox_open(struct gw_queue *q);
void gw_inbox_free(struct gw_inbox *ib);
/* Every frame of the inbox rows left by an earlier run whose reply was not acknowledged,
 * oldest first: fn(row id, frame, len, mid, arg), after every row is known (fn may call
 * gw_inbox_done).  A frame of a row whose id was answered is skipped (its row was cut
 * short by a kill after some of its replies were acknowledged).  Returns the number of
 * frames given to fn, -1 if the rows could not be read. */
int gw_inbox_recover(struct gw_inbox *ib,
                     void (*fn)(int64_t id, const uint8_t *frame, uint32_t len, uint64_t mid,
                                void *arg),
                     void *arg);
/* A frame of the current read (mid: its switch message id, 0 none).  Returns
 *   GW_INBOX_SHARED    new: it goes into the read's row at gw_inbox_read_end;
 *   > 0                new, without an id: a row of its own, written now (its id);
 *   GW_INBOX_INFLIGHT  a repeat of a query read before and not yet answered;
 *   GW_INBOX_ANSWERED  a repeat of an answered query: *reply (sl_xmalloc'd, the caller
 *                      frees) is the reply sent then;
 *   -1                 not stored (logged): the work is still done.
 * An answered id whose reply cannot be read back counts as new. */
int64_t gw_inbox_take(struct gw_inbox *ib, const void *frame, uint32_t len, uint64_t mid,
                      uint8_t **reply, size_t *rlen);
/* The read is over: write its row (one READ record).  Its id, 0 if it has no frame, -1
 * on error (logged; its ids are forgotten, its frames still answered). */
int64_t gw_inbox_read_end(struct gw_inbox *ib);
/* A frame of row id is done: its reply (mid != 0) was acknowledged by the hub's TCP, or
 * it has none (reply NULL: not a query, unreadable).  Kept in memory until
 * gw_inbox_flush. */
void gw_inbox_done(struct gw_inbox *ib, int64_t id, uint64_t mid, const void *reply,
                   size_t len);
/* Write what gw_inbox_done gathered: one BATCH record (the replies, and the rows whose
 * frames are all done); forget the oldest answered ids over the bound.  0, or -1
 * (logged). */
int gw_inbox_flush(struct gw_inbox *ib);
/* Counts, for tests and the log: ids in flight, answered ids known, rows open. */
void gw_inbox_counts(const struct gw_inbox *ib, size_t *inflight, size_t *answered,
                     size_t *rows);
/* The log's segment files; for tests, another segment size (call before writing). */
size_t gw_inbox_segments(const struct gw_inbox *ib);
void gw_inbox_set_seg_max(struct gw_inbox *ib, uint64_t bytes);
/* Review queue: a held request, durably (synchronous = FULL).  Returns the review id. */
struct gw_hold {
    int64_t received_us, deadline_us;
    const char *ori, *key, *ctl, *rules, *why, *policy_hash, *then;
    const char *ref, *detail;  /* correlation ref; JSON with what the reviewer needs */
    const void *frame;
    size_t frame_len;
    uint64_t audit_index;
};
int64_t gw_queue_hold(struct gw_queue *q, const struct gw_hold *h);
int64_t gw_queue_count_held(struct gw_queue *q);

/* ---- the review desk, gateway side (docs/review.md §2) ---- */
/* Held requests whose deadline has passed become 'timed-out', each with a 'timeout'
 * action row, in one transaction.  Returns how many, -1 on error. */
int gw_queue_expire(struct gw_queue *q, int64_t now_us);
/* Retention (A-3, P-19): delete, in one transaction, up to `batch` reviews decided
 * before cut_us whose reply was sent and whose actions are all in the audit log (with
 * those actions), and up to `batch` notices sent before cut_us whose sending is in the
 * log; the freed pages are zeroed (secure_delete).  *reviews and *notices get the rows
 * deleted (either equal to batch: call again).  0 or -1 (logged; nothing deleted). */
int gw_queue_retention(struct gw_queue *q, int64_t cut_us, int batch, int64_t *reviews,
                       int64_t *notices);
/* A review action not yet in the audit log (approve, approve-1of2, deny, timeout). */
struct gw_action {
    int64_t id, review_id, at_us;
    char reviewer[140], action[32], reason[1024], ref[64], ori[10], key[4], rules[400];
    uint32_t redact;          /* the reviewer's extra redactions */
    uint32_t policy_redact;   /* the policy's redactions of classes the key carries */
};
/* Up to cap actions not yet audited, oldest first; returns the count or -1. */
int gw_queue_actions(struct gw_queue *q, struct gw_action *out, int cap);
int gw_queue_action_audited(struct gw_queue *q, int64_t id);
/* A decided review whose reply has not left (and was not queued by this run). */
struct gw_decided {
    int64_t id;
    char status[16];        /* approved | denied | timed-out */
    char by[140], reason[1024], then[8], ref[64];
    char policy_hash[65];   /* the policy that held it (the release entry names it) */
    uint32_t extra;         /* policy class bits the reviewers withheld */
    char *detail;           /* JSON (sl_xmalloc'd) */
    uint8_t *frame;         /* the held frame (sl_xmalloc'd) */
    size_t frame_len;
};
/* Up to cap decided reviews not sent and not queued by run; the caller frees detail and
 * frame of each.  Returns the count or -1. */
int gw_queue_decided(struct gw_queue *q, int64_t run, struct gw_decided *out, int cap);
/* The reply of review id is queued by run / has been acknowledged by the hub. */
int gw_queue_review_queued(struct gw_queue *q, int64_t id, int64_t run);
int gw_queue_review_sent(struct gw_queue *q, int64_t id);

/* ---- notices to the person ---- */
struct gw_notice {
    int64_t created_us;
    int32_t due;            /* yyyymmdd */
    int days, business;
    const char *rule, *ref, *review, *ori, *member, *type, *parent, *req_state, *key;
    uint32_t classes;       /* policy class bits released */
    const char *subject;    /* the person's licence number (looked up at send time) */
};
int64_t gw_queue_notice_add(struct gw_queue *q, const struct gw_notice *n);
/* Notices marked sent by `review notices send` whose notice-sent entry is not written. */
struct gw_sent {
    int64_t id, sent_us;
    char by[64], ref[64], ori[10], key[4];
};
int gw_queue_sent_unaudited(struct gw_queue *q, struct gw_sent *out, int cap);
int gw_queue_sent_audited(struct gw_queue *q, int64_t id);
/* Tools' events for the audit log (table admin_event: a refused policy apply, P-33). */
struct gw_admin_event {
    int64_t id, at_us;
    char actor[64], action[32], text[400]; /* the audit fields' sizes */
    int failed;                            /* the entry's outcome: failed, else ok */
};
int gw_queue_admin_unaudited(struct gw_queue *q, struct gw_admin_event *out, int cap);
int gw_queue_admin_audited(struct gw_queue *q, int64_t id);
/* Who applied the policy text with this hash (`stateline policy apply --author`, or a
 * draft approved on the desk): 1 and *a filled, 0 when nobody recorded it. */
struct gw_applied {
    char author[64], approver[65], basis[257], note[400]; /* the audit fields' sizes */
};
int gw_queue_policy_author(struct gw_queue *q, const char *hash, struct gw_applied *a);
struct sqlite3;
struct sl_walckpt;
/* The checkpointer of q (stateline/walckpt.h), NULL when SQLite checkpoints on the loop
 * (tests, the log). */
struct sl_walckpt *gw_queue_ckpt(struct gw_queue *q);

/* The schema, for the desk (gw_desk.c) that opens the same file. */
/* Create the tables and add the columns of later versions to an older file. 0 or -1. */
int gw_queue_schema_apply(struct sqlite3 *db, char *err, size_t errlen);

#endif
