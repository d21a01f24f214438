/*
 * demo_int.h - what the parts of `stateline demo` share (setup.c, proc.c, traffic.c,
 * demo.c).  Not a public header.
 */
#ifndef STATELINE_DEMO_INT_H
#define STATELINE_DEMO_INT_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "stateline/demo.h"

#define DEMO_PATH 1024

struct demo_child {
    char name[24];      /* "hub", "gateway WA" */
    pid_t pid;          /* 0 when not running */
    char log[DEMO_PATH];
};

/* What the generator counted from the replies it received. */
struct demo_traffic {
    uint64_t planned;
    uint64_t sent, answered, unmatched, late_replies;
    uint64_t sent_cell[SL_DEMO_NSTATES][SL_DEMO_NCLASS];
    uint64_t cell[SL_DEMO_NSTATES][SL_DEMO_NCLASS][SL_DEMO_NOUT];
    uint64_t by_key[8];  /* DQ DQ-name KQ RQ-plate RQ-VIN DNQ RNQ, counted when sent */
    uint64_t with_rsn, with_pur, with_cas, with_lgp, meant_to_miss;
    double seconds;
    int64_t from_us, to_us; /* wall clock: before the first query, after the last answer */
    int lines;           /* terminal lines opened */
    char example_oln[SL_DEMO_NSTATES][24]; /* a real licence number of each state */
    char example_ori[SL_DEMO_NSTATES][10]; /* an in-state police ORI of each state */
    char example_ero[10];                 /* an ICE ERO ORI (line DH) */
};

struct demo {
    const struct sl_demo_opts *o;
    const char *self;
    char dir[DEMO_PATH];          /* absolute */
    char policies_src[DEMO_PATH];
    FILE *say;                    /* progress and human text: stderr with --json, else stdout */
    int sfd;                      /* signalfd: SIGINT, SIGTERM */
    sigset_t oldmask;
    int interrupted;
    int hub_port;
    struct demo_child hub;
    struct demo_child gw[SL_DEMO_NSTATES];
    struct demo_traffic tr;
    int desk_port[SL_DEMO_NSTATES]; /* each state's oversight desk (HTTPS), 0 unknown */
};

/* snprintf that always NUL-terminates and returns what snprintf returns; a function of
 * its own so that paths built from a folder name given at run time (bounded by DEMO_PATH
 * when the folder is resolved) need no compile-time proof of their length. */
int demo_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* model.c: parent equals p, or lies below it ("DHS/CBP" covers "DHS/CBP/OFO"). */
int demo_parent_under(const char *parent, const char *p);

/* setup.c */
int demo_find_policies(const char *given, const char *self, char *out, size_t outlen);
int demo_setup(struct demo *dm, char *err, size_t errlen);
int demo_write_configs(struct demo *dm, char *err, size_t errlen);
/* The pieces `stateline bench e2e` shares with the demo (it builds the same network):
 * the national directory with the demo's certification tags at DIR/directory.db (kept
 * when it exists; progress on say); an audit key pair at kpath / ppath with the log
 * origin `origin` (1: both existed); hub.conf (hub_audit: the switch's own log in
 * hub-audit/, key hub-audit.key) and a gateway.conf (paths relative to their folders as
 * the demo lays them out: certs/ beside hub.conf, ../certs from a state's folder; policy
 * as written into the file; desk: the HTTPS desk on a kernel-chosen port; `by` goes into
 * the first comment line). */
int demo_make_directory(const char *dir, uint64_t seed, FILE *say, char *err, size_t errlen);
int demo_audit_keypair(const char *kpath, const char *ppath, const char *origin, char *err,
                       size_t errlen);
int demo_write_hub_conf(const char *path, int port, int hub_audit, const char *by, char *err,
                        size_t errlen);
int demo_write_gateway_conf(const char *path, const char *code, int hub_port,
                            const char *policy, int desk, const char *by, char *err,
                            size_t errlen);

/* proc.c */
void prctl_pdeathsig(void);
int demo_check_not_running(struct demo *dm, char *err, size_t errlen);
int demo_start(struct demo *dm, char *err, size_t errlen);
void demo_stop_all(struct demo *dm);
void demo_print_log_tail(FILE *f, const struct demo_child *c);
int demo_write_pids(struct demo *dm);

/* desk.c: the oversight desks' demo accounts (DIR/accounts.txt, one per role per
 * state), and a desk's port from its gateway's log.  0 / port, or -1 (with err). */
int demo_desk_accounts(struct demo *dm, char *err, size_t errlen);
int demo_desk_port(const char *log);

/* traffic.c */
int demo_traffic(struct demo *dm, char *err, size_t errlen);
/* The pieces of a realistic query that `stateline bench e2e` draws the same way:
 * demo_chance is 1 with probability pct/100; demo_typo changes one of the last three
 * characters of s the way a typo would (digit -> digit, letter -> letter, never I, O or
 * Q); demo_ncic_name writes "LAST,FIRST" when it passes the codec's NAM rule, else "". */
struct sl_pop_rng;
int demo_chance(struct sl_pop_rng *r, int pct);
void demo_typo(struct sl_pop_rng *r, char *s);
void demo_ncic_name(const char *last, const char *first, char *out, size_t cap);

/* review.c: decide the state's held requests as a demo reviewer (one approved, the next
 * denied, ...), wait for the gateway to send the replies, and write the letters of the
 * notices the approvals owe.  0, or -1 with err. */
struct demo_review {
    int approved, denied, refused;
    int unsent;               /* 1: some reply had not left within 10 s */
    int notices, letters;
    char outbox[DEMO_PATH + 32];
};
int demo_review(struct demo *dm, int d, struct demo_review *r, char *err, size_t errlen);

#endif
