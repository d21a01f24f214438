/*
 * bench.h - `stateline bench`: honest load tests of the switch (docs/performance.md).
 *
 * The `switch` scenario starts, as child processes of the same binary, a hub on loopback
 * (TLS, credentials made in a temporary directory) and a minimal responder (California's
 * answering line: it answers every DQ with a DR of a fixed size).  The calling process is
 * the load generator: K connections, each a Washington terminal line with its own sender
 * ORI, send DQs at a fixed total rate, open loop.  Message i is *due* at
 * t0 + i / rate; its latency is measured from that intended time to the arrival of its
 * DR, so a stall anywhere (hub, responder, generator, kernel) shows in the figures instead
 * of slowing the sender down (no coordinated omission).  The DQ's control field carries
 * the run and the message number (one letter, nine digits); the hub echoes it in the DR.
 *
 * The baseline is the same traffic sent directly from the generator to the responder
 * (which then formats the DR in the switch's output form itself, as the hub would):
 * "hub-added latency" is the difference of the two at each percentile.
 *
 * The peer, when the nats-server program is installed: the same traffic through
 * nats-server (request/reply over the same mutual TLS, src/bench/nats.c), interleaved with
 * the other two, reported beside the hub as a ratio.
 *
 * Everything the benchmark starts it stops, on success, error, SIGINT or SIGTERM.
 */
#ifndef STATELINE_BENCH_H
#define STATELINE_BENCH_H

#include <stdint.h>
#include "stateline/hist.h"

struct sl_bench_opts {
    double rate;           /* fixed-rate mode: messages/s (0 = search the sustained rate) */
    double duration_s;     /* fixed-rate run length, and the measurement at half rate */
    int conns;             /* generator connections (default 4) */
    double p99_bound_ms;   /* search: highest rate with p99 under this (default 2) */
    double max_seconds;    /* search: total time budget (default 60) */
    double step_s;         /* search: length of one trial (default 2) */
    int reply_size;        /* bytes of DR text (default 256) */
    int json;
    int keep;              /* keep the temporary directory (for post-mortems) */
    int no_direct;         /* skip the direct (no hub) baseline */
    int no_peer;           /* skip the nats-server peer even when it is installed */
    int peer_search;       /* also search nats-server's sustained rate (the ratio) */
    int hub_audit;         /* the hub keeps its audit log (durable before forward) */
    double start_rate;     /* search: first trial's rate (0 = 5,000/s) */
    /* e2e only */
    uint64_t drivers;      /* population of each gateway's state (default 100,000) */
    int gateways;          /* gateways, one per state: WA, NY, IL, CA, AZ, TX (default 1) */
    int at_sustained;      /* also measure at the sustained rate itself (default 1) */
    double capacity_bound_ms; /* when nothing passes p99_bound_ms: the capacity search's
                               * bound (default 250: queues do not grow) */
    int no_archive;        /* the hub without its message archive (to measure its cost) */
};

/* The least --max-seconds with which a search (o->rate 0) has time for a trial of each of
 * its searches after leaving room for the measurements that follow it (harness.c; switch:
 * the hub's search, and nats-server's with --peer-search; e2e: the latency-bound search
 * and the capacity search).  Seconds, counted from the end of the set-up. */
double sl_bench_min_max_seconds(const struct sl_bench_opts *o, int e2e);

/* The outcome of one fixed-rate run. */
struct sl_bench_run {
    double rate;           /* offered, messages/s */
    double duration_s;     /* scheduled length */
    uint64_t sent;         /* handed to the sockets */
    uint64_t received;     /* matching replies (DR) */
    uint64_t errors;       /* ER / SM / unexpected messages */
    uint64_t lost;         /* sent but not answered within the drain window (2 s) */
    double achieved;       /* received / span_s */
    double span_s;         /* from the first due time to the last reply (>= duration) */
    double warmup_s;       /* replies to messages due before this were not put in the hist */
    int overload;          /* the generator could not hand its messages to the socket */
    uint64_t sent_late;    /* queries the generator itself sent > 1 ms after their due time */
    uint64_t max_send_lag_us; /* the most late one (the generator was not scheduled, or busy) */
    char first_error[160];
    struct sl_hist hist;   /* microseconds from intended send to reply */
};

/* Run the switch scenario; prints the report (text or JSON) on stdout.  Returns the exit
 * status: 0, 1 when it could not run (the reason on stderr). */
int sl_bench_switch(const struct sl_bench_opts *o, const char *self_exe);

/* The e2e scenario (e2e.c): terminal lines -> hub -> gateway(s) with an example policy,
 * look-ups in a generated population and durable audit -> hub -> terminal, TLS on. */
int sl_bench_e2e(const struct sl_bench_opts *o, const char *self_exe);

/* The disk scenario (disk.c): fdatasync's time on DIR's file system, nothing else running. */
struct sl_bench_disk_opts {
    const char *dir;   /* measured in a temporary directory made inside it, removed after */
    double duration_s; /* how long */
    int period_ms;     /* a 200-byte append and fdatasync every period_ms */
    int json;          /* the report as one JSON object */
};
/* Prints the report on stdout.  0 measured, 1 could not (why on stderr), 130 interrupted
 * by SIGINT/SIGTERM (what was measured until then is reported). */
int sl_bench_disk(const struct sl_bench_disk_opts *o);

/* The responder child: `stateline bench responder --hub HOST:PORT --certs DIR
 * --as ORI --reply-size N`.  Answers every query that arrives on CA's answering line,
 * and every query sent to it directly on a loopback TLS listener (port chosen by the
 * kernel).  Writes "READY <port>\n" on stdout when both are up.  Exit status 0 on
 * SIGTERM. */
int sl_bench_responder_main(int argc, char **argv);

#endif
