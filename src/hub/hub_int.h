/*
 * hub_int.h - the hub's internal state, shared by hub.c (loop and lines), hub_route.c
 * (checks and routing) and hub_ctl.c (control socket).  Not a public header.
 */
#ifndef STATELINE_HUB_INT_H
#define STATELINE_HUB_INT_H

#include <stdint.h>
#include <time.h>

#include "stateline/buf.h"
#include "stateline/conn.h"
#include "stateline/dir.h"
#include "stateline/hub.h"
#include "stateline/loop.h"
#include "stateline/msg.h"

#define HUB_MAX_KEYS 128
#define HUB_SEQ_MOD 100000u
#define HUB_SF_INFLIGHT 64   /* stored messages in a line's output buffer, not yet deleted */
#define HUB_DEFER_MAX 4096   /* regional messages held for the end of an iteration */
#define HUB_MSQ_STATES 64
#define HUB_OUT_DONE 4096           /* answered message ids remembered per member */
#define HUB_OUT_HDR_MAX 1024        /* bound of an output header (msg_out.c) */
#define HUB_MID_SEQ_BITS 40         /* message id = epoch << 40 | sequence in the epoch */

/* A member's service state, set by the operator (`hub ctl line`) and persisted. */
enum hub_svc { HUB_UP = 0, HUB_DOWN = 1, HUB_REMOVED = 2 };

/* One member line. */
struct hub_line {
    struct sl_hub *hub;   /* back pointer: the loop's clientdata is the line */
    struct sl_conn *c;
    uint32_t slot;        /* index in hub->slots */
    uint32_t gen;         /* bumped each time the slot is reused: stale references fail */
    char addr[64];        /* peer address, for logs */
    int64_t since_ms;     /* accepted at (monotonic) */
    int64_t deadline_ms;  /* handshake deadline, then close deadline when closing */
    int open;             /* identity established */
    int closing;          /* flush what is queued, then close */
    char close_why[128];  /* the reason, for the log */
    int paused;           /* not reading: its own output is over the cap */
    int pending;          /* in hub->pending (output to flush this iteration) */
    int watching_write;
    int bound;            /* the answering line of its member */
    /* counters */
    uint64_t frames_in, bytes_in, frames_out, bytes_out, errors, refused;
    uint64_t in_count, out_count; /* sequence numbers are these mod 100000 */
    uint64_t app_total;   /* bytes emit() appended to c->out since the line opened */
    uint64_t iter;        /* hub iteration of iter_normal */
    size_t iter_normal;   /* bytes of non-SM frames appended in that iteration */
    int mid_echo;         /* an answering line that echoes MID/: no fallback matching */
    struct hub_aud_line *aud; /* output held for the audit log (hub_audit.c), or NULL */
};

/* A stored message written into a line's output buffer, deleted once written out. */
struct hub_sf_inflight {
    int64_t id;
    uint64_t end;         /* line's app_total just after it */
};

/* A member as the hub routes to it: from the directory, with its config. */
struct hub_member {
    char code[SL_MEMBER_MAX];
    char kind;
    uint64_t takes[2];        /* bit per key index (hub->keys) */
    struct hub_line *answer;  /* connected answering line, or NULL */
    int svc;                  /* enum hub_svc */
    char region[3];           /* its region, "" when none */
    int64_t sf_count;         /* its messages in the store-and-forward queue */
    int64_t sf_last;          /* highest queue id written into its line's output */
    int nflight;
    struct hub_sf_inflight *flight; /* [HUB_SF_INFLIGHT], allocated at first delivery */
    struct hub_out *out;      /* queries delivered to its line, not answered (hub_outstanding.c) */
};

struct hub_members {
    uint32_t mask;            /* capacity - 1; capacity a power of two */
    struct hub_member *tab;   /* code[0] == 0 = empty */
    int n;
};

/* requester ORI -> the line that last sent a valid message from it */
struct hub_req_entry {
    char ori[SL_ORI_LEN + 1];
    uint32_t slot, gen;
    uint64_t stamp;
};

struct ctl_client;
struct hub_out;
struct hub_audit;
struct hub_aud_line;
struct hub_sf;
struct hub_msq;
struct sl_archive;

/* A regional query held for the end of the loop iteration (lower priority). */
struct hub_deferred {
    uint32_t slot, gen;
    unsigned rx_seq;
    uint32_t len;
    uint8_t *p;           /* owned copy of the frame payload */
};

struct sl_hub {
    struct sl_hub_config cfg;
    struct sl_loop *loop;
    struct sl_tls *tls;
    struct sl_dir_snap *snap;
    int lfd;
    int ctl_fd;
    struct ctl_client *ctl_clients; /* open control connections (hub_ctl.c) */
    int64_t timer_id;
    int64_t accept_pause_timer;

    /* lines: slots with generations, and a free list */
    struct hub_line **slots;
    uint32_t nslots, cap_slots;
    uint32_t *free_slots;
    uint32_t nfree;
    uint32_t gen_counter;
    int nlines;

    uint32_t *pending; /* slots with output to flush */
    uint32_t npending, cap_pending;

    struct hub_members members;
    const struct sl_key_info *keys[HUB_MAX_KEYS];
    int nkeys;
    uint64_t always[2]; /* keys every line accepts: replies and SM */

    struct hub_req_entry *reqmap;
    uint32_t reqmap_mask;
    uint64_t req_stamp;

    struct sl_msg msg;        /* reused for every message */
    struct sl_buf scratch;    /* ER/SM bodies */
    time_t now_s;

    int draining;
    int64_t drain_deadline_ms;
    int exit_code;
    int64_t started_ms;

    /* part 2 */
    struct hub_sf *sf;            /* store-and-forward queue (hub_sf.c) */
    struct sl_archive *archive;   /* NULL: none */
    struct hub_nlq *nlq;          /* archive searches waiting for their answer */
    struct hub_msq *msq;          /* [cfg.msq_max] multi-state collections (hub_msq.c) */
    uint32_t msq_next, msq_active;
    struct hub_deferred *deferred;
    uint32_t ndeferred;
    int in_deferred;
    uint64_t iter;                /* loop iterations (before_sleep calls) */
    uint64_t mid_epoch, mid_seq;  /* switch message ids (hub_outstanding.c) */
    /* a kept query answered: its row goes once the answer has left (hub_outstanding.c) */
    int64_t forget_id;            /* the row of the answer being routed, 0 = none */
    int routed;                   /* the answer went into a line's output: */
    uint32_t routed_slot, routed_gen;
    uint64_t routed_end;          /*   that line's app_total just after it */
    struct hub_forget *forgets;   /* rows to delete once their answers are written */
    uint32_t nforgets;

    struct hub_audit *audit;      /* the hub's audit log (hub_audit.c); NULL = off */

    /* totals */
    uint64_t t_frames_in, t_frames_out, t_routed, t_er, t_sm, t_accepted, t_refused_lines;
    uint64_t t_reloads;
    uint64_t t_queued, t_forwarded, t_archive_lost, t_msq, t_regional;
    uint64_t t_requeued, t_dup_answers, t_unanswered;
};

struct hub_forget {
    int64_t id;
    uint32_t slot, gen;
    uint64_t end;
};

struct hub_nlq {
    struct hub_nlq *next, *prev;
    uint32_t slot, gen;
    char ori[SL_ORI_LEN + 1];
    char member[SL_MEMBER_MAX];
    char ctl[SL_MSG_CTL_MAX + 1];
    unsigned rx_seq;
    int64_t rx_time;
};

/* hub_route.c */
void hub_process_frame(struct sl_hub *hub, struct hub_line *line, const uint8_t *p,
                       uint32_t len);
void hub_send_er(struct sl_hub *hub, struct hub_line *line, enum sl_er code, const char *detail,
                 const char *dest, const char *ctl, const char *key_for_sets,
                 const uint8_t *orig, size_t orig_len, unsigned rx_seq);
int hub_key_index(const struct sl_hub *hub, const struct sl_key_info *ki);
int hub_members_build(struct sl_hub *hub, const struct sl_hub_config *cfg,
                      const struct sl_dir_snap *snap, struct hub_members *out);
void hub_members_free(struct hub_members *m);
struct hub_member *hub_member_find(const struct hub_members *m, const char *code);
void hub_keys_init(struct sl_hub *hub);

/* the verified requester line fields of an output header from a directory entry */
void hub_fill_requester(struct sl_outhdr *h, const struct sl_ori *so);
/* Append one message to a line's output (archived as sent).  src_mbr: the member of the
 * originating ORI ("" = its first two characters). */
void hub_emit(struct sl_hub *hub, struct hub_line *to, struct sl_outhdr *h, const char *body,
              size_t body_len, const char *src_mbr);
/* Status message from the switch to a line, ahead of everything else of this iteration. */
void hub_emit_sm(struct sl_hub *hub, struct hub_line *to, const char *dest, const char *ctl,
                 unsigned rx_seq, const char *text, size_t len);
/* Deliver a message to a member: now when it is up and its line has room, else kept
 * (SM .02. to `from`), or refused (SM .04.).  Returns 0 delivered or kept, -1 refused. */
struct hub_delivery {
    struct hub_line *from;        /* sender's line for SMs, or NULL */
    const struct sl_msg *m;       /* the message (SM texts), or NULL */
    const uint8_t *orig;          /* original input for the SM echo */
    size_t orig_len;
    const char *src_mbr;
};
int hub_deliver(struct sl_hub *hub, struct hub_member *dm, struct hub_line *to,
                struct sl_outhdr *h, const char *body, size_t body_len,
                const struct hub_delivery *dv);
/* Deliver to an ORI: the line it last sent from, else its member (hub_deliver). */
int hub_deliver_ori(struct sl_hub *hub, const char *ori, struct sl_outhdr *h, const char *body,
                    size_t body_len, const char *src_mbr);
void hub_send_sm(struct sl_hub *hub, struct hub_line *line, const struct sl_msg *m, int num,
                 const char *dest, const char *why, const uint8_t *orig, size_t orig_len,
                 unsigned rx_seq);
void hub_switch_header(struct sl_hub *hub, struct sl_outhdr *h, const char *key,
                       const char *dest, const char *ctl, unsigned rx_seq);
void hub_process_deferred(struct sl_hub *hub);
void hub_broadcast_sm(struct sl_hub *hub, const char *text);

/* hub_sf.c: store-and-forward (SQLite, WAL, synchronous=FULL) and the line states */
int hub_sf_open(struct sl_hub *hub, char *err, size_t errlen);
void hub_sf_close(struct sl_hub *hub);
/* Keep one message for dm (in the iteration's transaction).  0, -1 failed (logged). */
int hub_sf_put(struct sl_hub *hub, struct hub_member *dm, const struct sl_outhdr *h,
               const char *body, size_t body_len, const char *src_mbr);
/* Commit what this iteration kept or delivered: before any output leaves. */
int hub_sf_commit(struct sl_hub *hub);
/* Write dm's kept messages into its answering line, as far as the line has room. */
void hub_sf_pump(struct sl_hub *hub, struct hub_member *dm);
/* After a flush: forget (delete) what has been written to the socket. */
void hub_sf_written(struct sl_hub *hub, struct hub_line *l);
int hub_sf_set_svc(struct sl_hub *hub, const char *member, int svc, char *err, size_t errlen);
void hub_sf_load(struct sl_hub *hub); /* states and counts into hub->members */

/* hub_sf.c, for hub_outstanding.c */
/* Keep a message with an explicit queue id (0 = the next one): requeued queries go before
 * what is kept (ids below every id in the queue, hub_sf_front). */
int hub_sf_put_id(struct sl_hub *hub, struct hub_member *dm, const struct sl_outhdr *h,
                  const char *body, size_t body_len, const char *src_mbr, int64_t id);
/* Delete a kept query whose answer was routed (in the iteration's transaction). */
int hub_sf_forget(struct sl_hub *hub, int64_t id);
/* The lowest queue id in use, or 1 when the queue is empty (ids below it are free). */
int64_t hub_sf_front(struct sl_hub *hub);
/* A message kept for dm and not yet written to its line, with this message id: delete it
 * (its answer arrived first).  1 deleted, 0 none. */
int hub_sf_take(struct sl_hub *hub, struct hub_member *dm, uint64_t mid);
/* Read and advance the persisted message-id epoch (meta 'mid_epoch').  0 or -1. */
int hub_sf_next_epoch(struct sl_hub *hub);

/* hub_outstanding.c: queries delivered to an answering line and not yet answered
 * (docs/protocol.md Part III §7) */
/* The next switch message id: epoch << 40 | sequence, unique across restarts. */
uint64_t hub_mid_next(struct sl_hub *hub);
/* 1 when dm's table can take one more query of about body_len bytes. */
int hub_out_room(const struct sl_hub *hub, const struct hub_member *dm, size_t body_len);
/* Write a query to dm's answering line `to` with a message id (h->mid, a new one when 0)
 * and remember it.  sf_id: the queue row it comes from, 0 = none. */
void hub_out_emit(struct sl_hub *hub, struct hub_member *dm, struct hub_line *to,
                  struct sl_outhdr *h, const char *body, size_t body_len, const char *src_mbr,
                  int64_t sf_id);
/* A reply read from an answering line: forget the query it answers.  1 when it is a
 * second answer to a query already answered (drop it), 0 route it. */
int hub_out_answer(struct sl_hub *hub, struct hub_line *line, const struct sl_msg *m);
/* dm's answering line is gone (tell = 1: dropped, the requesters get SM .02.; 0: replaced
 * by a new line): every outstanding query goes back into the queue, before what is kept. */
void hub_out_line_down(struct sl_hub *hub, struct hub_member *dm, int tell);
/* After routing a message: an answer to a kept query has its row deleted once the answer
 * has been written out (hub_out_written) or, kept or refused, now. */
void hub_out_routed(struct sl_hub *hub);
/* After a flush of l: delete the rows of kept queries whose answers l has written. */
void hub_out_written(struct sl_hub *hub, struct hub_line *l);
/* Outstanding queries of dm (for `hub ctl queue`). */
uint32_t hub_out_count(const struct hub_member *dm);
/* Stop tracking queries delivered more than answer_wait seconds ago and still unanswered
 * (called every tick; looks at the oldest entry of each table). */
void hub_out_expire(struct sl_hub *hub);
void hub_out_free(struct hub_member *dm);

/* hub_msq.c: multi-state queries (NL) */
int hub_msq_init(struct sl_hub *hub);
void hub_msq_free(struct sl_hub *hub);
/* Fan a query to NL out.  0 started (or answered), -1 refused (the caller sends the ER). */
int hub_msq_start(struct sl_hub *hub, struct hub_line *line, const struct sl_msg *m,
                  const struct sl_ori *so, int kidx, const uint8_t *orig, size_t orig_len,
                  unsigned rx_seq);
/* A reply that belongs to a collection: taken (1) or not (0). */
int hub_msq_reply(struct sl_hub *hub, struct hub_line *line, const struct sl_msg *m);
/* member's answering line dropped: its pending copies count as NO ANSWER now. */
void hub_msq_line_down(struct sl_hub *hub, const char *member);

/* hub_route.c: archive searches */
void hub_archive_drain(struct sl_hub *hub);
void hub_nlq_free_all(struct sl_hub *hub);

/* hub.c */
void hub_line_mark_pending(struct sl_hub *hub, struct hub_line *line);
struct hub_line *hub_line_get(const struct sl_hub *hub, uint32_t slot, uint32_t gen);
int hub_reload(struct sl_hub *hub, char *err, size_t errlen);

/* hub_audit.c: the hub's own audit log (docs/audit-format.md §11).  Every function is
 * called only when hub->audit is set (the call sites test it: nothing costs anything with
 * the log off).  A message's hub-route entry is built between _msg_begin and _msg_end;
 * whatever hub_emit writes meanwhile is one of its legs, and anything emitted outside a
 * message gets a hub-deliver entry of its own.  Output leaves a line only when the entries
 * it depends on are durable (hub_audit_flush instead of sl_conn_flush). */
int hub_audit_open(struct sl_hub *hub, char *err, size_t errlen);
void hub_audit_close(struct sl_hub *hub);
void hub_audit_msg_begin(struct sl_hub *hub, struct hub_line *line, unsigned rx_seq);
void hub_audit_msg_header(struct sl_hub *hub, const struct sl_msg *m);
void hub_audit_msg_requester(struct sl_hub *hub, const struct sl_ori *so);
/* a destination's result without output to it: "queued", "refused", "not-taken", ... */
void hub_audit_msg_leg(struct sl_hub *hub, const char *dest, const char *result);
void hub_audit_msg_er(struct sl_hub *hub, int code);
void hub_audit_msg_end(struct sl_hub *hub);
/* hub_emit: a frame was appended to to's output (to->out_count is its sequence). */
void hub_audit_emit(struct sl_hub *hub, struct hub_line *to, const struct sl_outhdr *h,
                    const char *src_mbr);
/* line_flush: write what may leave (same returns as sl_conn_flush; 1 while held). */
int hub_audit_flush(struct sl_hub *hub, struct hub_line *l);
/* a line came up ("up"), went down ("down", why) or was refused ("refused", why) */
void hub_audit_line(struct sl_hub *hub, struct hub_line *l, const char *action,
                    const char *why);
void hub_audit_line_free(struct sl_hub *hub, struct hub_line *l);
/* An operator's control command that changes something ("line WA down", "reload"):
 * the frames it makes between _begin and _end are its legs.  fd: the control client
 * (its uid is the actor), or -1 with cmd "SIGHUP" for a reload by signal. */
void hub_audit_ctl_begin(struct sl_hub *hub, int fd, const char *cmd, const char *args);
void hub_audit_ctl_end(struct sl_hub *hub, int ok, const char *error);
void hub_audit_system(struct sl_hub *hub, const char *action, const char *text);
/* For `ctl stats`: the log's counters and the output waiting for it now. */
struct hub_audit_stats {
    uint64_t entries, durable, batches, checkpoints, queue_full_waits, lines_held, bytes_held;
};
void hub_audit_stats(struct sl_hub *hub, struct hub_audit_stats *st);

/* hub_ctl.c */
int hub_ctl_listen(struct sl_hub *hub, char *err, size_t errlen);
void hub_ctl_close(struct sl_hub *hub);

#endif
