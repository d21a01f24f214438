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
};

/* A member as the hub routes to it: from the directory, with its config. */
struct hub_member {
    char code[SL_MEMBER_MAX];
    char kind;
    uint64_t takes[2];        /* bit per key index (hub->keys) */
    struct hub_line *answer;  /* connected answering line, or NULL */
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

    /* totals */
    uint64_t t_frames_in, t_frames_out, t_routed, t_er, t_sm, t_accepted, t_refused_lines;
    uint64_t t_reloads;
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

/* hub.c */
void hub_line_mark_pending(struct sl_hub *hub, struct hub_line *line);
struct hub_line *hub_line_get(const struct sl_hub *hub, uint32_t slot, uint32_t gen);
int hub_reload(struct sl_hub *hub, char *err, size_t errlen);

/* hub_ctl.c */
int hub_ctl_listen(struct sl_hub *hub, char *err, size_t errlen);
void hub_ctl_close(struct sl_hub *hub);

#endif
