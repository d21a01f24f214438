/*
 * demo.h - `stateline demo`: a whole national network on one machine in one command
 * (REQUIREMENTS U-1, issue 4 item 4; docs/demo.md).
 *
 * The demo builds, in one folder it names (default ./stateline-demo), everything a
 * network needs: certificates for every member line, the national ORI directory (plus
 * the demo's certification tags, docs/demo.md §2), a hub, and six state gateways (WA NY
 * IL CA AZ TX) each with its example policy, population and audit log.  It starts them
 * as child processes of the same binary, sends traffic drawn from the directory in the
 * mix of the Nlets figures, and prints per state a table of queries by requester class
 * and outcome, computed from each gateway's audit log, beside what the traffic
 * generator counted from the replies.  A second run reuses what the folder holds.
 *
 * Layout of the folder (written by setup.c):
 *     certs/                  `stateline gen certs` material for every member line
 *     directory.db            the national directory (`stateline gen directory`)
 *     policies/xx.policy      copies of examples/policies (edit them: the gateways
 *                             put a changed file in force within a second)
 *     hub.conf hub.log hub.sock
 *     XX/records.db           the state's population (`stateline gen population`)
 *     XX/gateway.conf XX/gateway.log XX/audit/ XX/audit.key XX/audit.pub XX/data/
 *     demo.pids               "name pid" per running child (while a network runs)
 *
 * The traffic model (model.c) and the log tally (tally.c) are separate from the
 * processes so that they can be unit-tested.
 */
#ifndef STATELINE_DEMO_H
#define STATELINE_DEMO_H

#include <stddef.h>
#include <stdint.h>

#define SL_DEMO_NSTATES 6

/* The six states, in table order, with their 2020 census population (destination
 * weights): WA NY IL CA AZ TX. */
struct sl_demo_state {
    const char *code;
    const char *name;
    double population_m;
};
const struct sl_demo_state *sl_demo_states(void); /* SL_DEMO_NSTATES entries */
int sl_demo_state_index(const char *code);         /* -1 when not a demo state */

/* Requester classes (rows of the end table). */
enum sl_demo_class {
    SL_DEMO_IN_STATE = 0,  /* an agency of the destination state (not federal) */
    SL_DEMO_OUT_POLICE,    /* local and state police (PD SO SA) of another state */
    SL_DEMO_FBI,           /* DOJ/FBI */
    SL_DEMO_ICE_ERO,       /* DHS/ICE/ERO */
    SL_DEMO_ICE_HSI,       /* DHS/ICE/HSI */
    SL_DEMO_CBP,           /* DHS/CBP/... (OFO ports, USBP stations) */
    SL_DEMO_OTHER_FED,     /* every other federal agency (DEA, USMS, ATF, USSS, ...) */
    SL_DEMO_NCLASS
};

/* Outcomes (columns of the end table). */
enum sl_demo_outcome {
    SL_DEMO_RELEASED = 0,  /* a record released in full */
    SL_DEMO_REDACTED,      /* a record released with classes withheld */
    SL_DEMO_HELD,          /* held for review */
    SL_DEMO_DENIED,        /* denied by policy (or a key not answered) */
    SL_DEMO_NOT_ON_FILE,   /* searched, nothing found */
    SL_DEMO_ERROR,         /* no answer, ER/SM, query not usable, file unavailable */
    SL_DEMO_NOUT
};

struct sl_demo_class_info {
    const char *name;      /* "in-state", "out-of-state police", "FBI", ... */
    const char *id;        /* JSON key: "in_state", "out_of_state_police", "fbi", ... */
    double share;          /* fraction of all queries (out-of-state police: the rest) */
    const char *basis;     /* where the share comes from (docs/demo.md §3) */
};
const struct sl_demo_class_info *sl_demo_class_info(int cls);
const char *sl_demo_outcome_id(int out);   /* "released", "redacted", ... */
const char *sl_demo_outcome_name(int out); /* "released with redactions", ... */

/* The class of a requester as a destination state sees it: parent agency first
 * (a federal office in Washington is federal, not in-state), then the member line's
 * kind ('F' federal), then the requester's state against the destination. */
int sl_demo_classify(const char *dest, const char *req_state, const char *parent,
                     int is_federal);
/* 1 for the federal member lines (DJ DH TR DI DD) or a federal ORION type (FE JF). */
int sl_demo_is_federal(const char *member, const char *type);

/* The outcome a requester reads in a reply body (the gateway's texts, docs/gateway.md):
 * key is the reply's key (DR, RR, ..., or ER / SM from the switch). */
int sl_demo_reply_outcome(const char *key, const char *body, size_t len);

/*
 * The schedule: n queries as (destination, class) slots, in a random order drawn from
 * seed.  Destinations get n in proportion to their population; within a destination
 * each class gets round(share x n_dest) queries but at least min_per_cell, as far as the
 * destination's count allows (served in the order out-of-state police, ICE ERO, ICE HSI,
 * CBP, FBI, other federal, in-state), and out-of-state police the rest.  out has n
 * entries.  counts (may be NULL) gets the planned count of each cell.
 */
struct sl_demo_slot {
    uint8_t dest;  /* index into sl_demo_states() */
    uint8_t cls;   /* enum sl_demo_class */
};
void sl_demo_plan(uint64_t n, uint64_t seed, int min_per_cell, struct sl_demo_slot *out,
                  uint64_t counts[SL_DEMO_NSTATES][SL_DEMO_NCLASS]);

/*
 * One gateway's audit log, tallied by requester class and outcome (tally.c).  The
 * per-entry rule is the one `stateline report` counts by (the report library, called
 * here for the totals): every entry carrying a report outcome counts once, every "query"
 * entry is a query.  The table adds the split the report does not make: a release whose
 * text is "not on file", and outcome "failed" as an error.  report_* are the report's own
 * figures for the same log; the demo prints both and says where they differ.
 */
struct sl_demo_tally {
    uint64_t cell[SL_DEMO_NCLASS][SL_DEMO_NOUT];
    uint64_t queries;            /* "query" entries */
    uint64_t outcomes;           /* sum of cell[][] */
    uint64_t notices_created;    /* notice-created entries */
    uint64_t holds;              /* hold entries (held) in the window */
    uint64_t holds_pending;      /* held in the whole log, no review or timeout since */
    uint64_t report_queries;     /* sl_audit_report: "queries" */
    uint64_t report_released, report_redacted, report_denied, report_held, report_noticed,
        report_timed_out;
    uint64_t undecodable;
};
/* Tally the entries of the log in audit_dir whose time is in [from_us, to_us) (UTC µs;
 * a log outlives the runs that wrote it, so a run counts its own window) for destination
 * state dest.  0, or -1 with err. */
int sl_demo_tally_log(const char *audit_dir, const char *dest, int64_t from_us, int64_t to_us,
                      struct sl_demo_tally *t, char *err, size_t errlen);

/* ---- the command -------------------------------------------------------------------- */

struct sl_demo_opts {
    const char *dir;          /* the folder (default "stateline-demo") */
    uint64_t drivers;         /* per state (default 100000) */
    uint64_t queries;         /* how many to send (0: none, e.g. --stay alone) */
    double duration_s;        /* > 0: send rate x duration_s instead of queries */
    double rate;              /* queries per second (default 200) */
    uint64_t seed;            /* directory, populations and traffic (default 1) */
    int min_per_cell;         /* at least this many per (state, class) (default 3) */
    int json;
    int stay;
    const char *policies;     /* folder with xx.policy (default: found near the binary) */
};

/* Build, start, run the traffic, print the tables, stop (unless stay).  self_exe: path
 * of this binary, for the children.  Returns the exit status: 0 when every total adds up
 * and every log verifies, 1 otherwise (the reason printed). */
int sl_demo_run(const struct sl_demo_opts *o, const char *self_exe);

/* `stateline demo stop --dir DIR`: stop a network left running by --stay.  0 / 1. */
int sl_demo_stop(const char *dir);

#endif
