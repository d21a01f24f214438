/*
 * bench_int.h - what the parts of `stateline bench` share inside src/bench.
 */
#ifndef STATELINE_BENCH_INT_H
#define STATELINE_BENCH_INT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "stateline/bench.h"
#include "stateline/conn.h"
#include "stateline/msg.h"
#include "stateline/buf.h"

#define BENCH_MAX_CONNS 64

struct ssl_ctx_st;
struct ssl_st;

/* One line to nats-server (nats.c). */
struct nats_line {
    int fd;
    struct ssl_st *ssl;
    struct sl_buf in, out;
    int want_write;
    char err[128];
};

/* One MSG, pointing into the line's input buffer until `consume` bytes are consumed. */
struct nats_msg {
    const char *subject, *reply;
    size_t subject_len, reply_len;
    const uint8_t *payload;
    uint32_t len;
    size_t consume;
};

/* A client TLS context for nats lines (caller frees with SSL_CTX_free). */
struct ssl_ctx_st *bench_nats_ctx(const char *cert, const char *key, const char *ca, char *err,
                                  size_t errlen);
/* Connect, read INFO, TLS, CONNECT + SUB sub; blocking, then non-blocking.  *out owned by
 * the caller (bench_nats_free). */
int bench_nats_dial(const char *hostport, struct ssl_ctx_st *ctx, const char *sub,
                    struct nats_line **out, char *err, size_t errlen);
void bench_nats_free(struct nats_line *n);
/* As sl_conn_read / sl_conn_flush. */
int bench_nats_read(struct nats_line *n);
int bench_nats_flush(struct nats_line *n);
/* Append a PUB to the output. */
void bench_nats_pub(struct nats_line *n, const char *subject, const char *reply,
                    const void *payload, size_t len);
/* Next MSG in the input: 1 (consume m->consume bytes after use), 0 need more, -1 error.
 * PINGs are answered on the way. */
int bench_nats_next(struct nats_line *n, struct nats_msg *m);

/* The DR text of the responders: len bytes, status words then spaces and newlines. */
void bench_reply_text(char *text, size_t len);
/* Answer one input-form query (p, len) with its reply in the switch's output form, as the
 * hub would have delivered it, appended to out.  1 appended, 0 not a query, -1 unreadable.
 * scratch: a zeroed message reused between calls; seq: the output sequence counter. */
int bench_direct_reply(const char *as, const char *text, size_t text_len, unsigned *seq,
                       struct sl_msg *scratch, const uint8_t *p, uint32_t len,
                       struct sl_buf *out);

/* What a scenario sends and how it judges the replies (the e2e scenario's mix, e2e.c);
 * NULL in struct bench_gen: the switch's fixed DQ, answered by a DR.
 *   put:   append query `seq` of run `run` for line k to out, framed (sl_frame_begin/end);
 *          its control field must be the run letter and seq in nine digits;
 *   check: a reply to query `seq` (its control field matched): 0 a good answer, -1 not an
 *          answer to that query, or an ER / SM (why says what, in at most why_len bytes). */
struct bench_traffic {
    void (*put)(void *arg, struct sl_buf *out, int k, char run, uint64_t seq);
    int (*check)(void *arg, uint64_t seq, const struct sl_outhdr *h, const char *body,
                 size_t blen, char *why, size_t why_len);
    void *arg;
};

/* The generator's lines: each a terminal line with its own sender ORI; either stateline
 * lines (c) or, for the peer, nats lines (nl). */
struct bench_gen {
    int n;
    int nats;
    const struct bench_traffic *tr;  /* NULL: the switch's DQ */
    struct sl_conn *c[BENCH_MAX_CONNS];
    struct nats_line *nl[BENCH_MAX_CONNS];
    char ori[BENCH_MAX_CONNS][SL_ORI_LEN + 1];
};

/* Dial n requester lines to nats-server; line k subscribes to _INBOX.k.* */
int bench_gen_connect_nats(struct bench_gen *g, const char *hostport, struct ssl_ctx_st *ctx,
                           int n, char *err, size_t errlen);
/* The peer's responder child: `stateline bench nats-responder --port P --certs DIR
 * --as ORI --reply-size N`; "READY" on stdout once subscribed. */
int sl_bench_nats_responder_main(int argc, char **argv);

/* Dial n terminal lines of `member` (blocking), then make them non-blocking. */
int bench_gen_connect(struct bench_gen *g, const char *hostport, struct sl_tls *tls,
                      const char *member, int n, char *err, size_t errlen);
void bench_gen_close(struct bench_gen *g);
/* One open-loop run at `rate` for `duration_s`; replies to queries due in the first
 * warmup_s seconds are counted but not timed; sfd: a signalfd that interrupts.
 * 0 done, 1 interrupted, -1 a line failed (res->first_error says why). */
int bench_gen_run(struct bench_gen *g, char run, double rate, double duration_s,
                  double warmup_s, int sfd, struct sl_bench_run *res);
/* One trial on g as the scenarios run it: the next run letter in *run_id (A..Z, so the
 * control fields of successive trials differ), warmup_s < 0 = a tenth of the trial up to
 * 0.5 s, the replies added to *answered, a failed line said on stderr.  As bench_gen_run. */
int bench_gen_trial(struct bench_gen *g, char *run_id, uint64_t *answered, double rate,
                    double secs, double warmup_s, int sfd, struct sl_bench_run *res);
/* The end of a scenario: its temporary directory dir removed (or kept, and said, when
 * keep), the signalfd sfd (-1: none) drained and closed, and the signal mask oldmask
 * restored. */
void bench_finish(const char *dir, int keep, int sfd, const sigset_t *oldmask);
/* Say that the run was interrupted (Ctrl-C, SIGTERM) and everything started is being
 * stopped; returns 130, the exit status. */
int bench_say_interrupted(void);
/* Size of one DQ as the generator writes it (without the frame header). */
size_t bench_query_bytes(void);

/* ---- harness.c: what the scenarios share ---- */

/* A child process of the benchmark (the hub, a gateway, a responder). */
struct bench_child {
    pid_t pid;
    const char *name;
    char log[1100];
    double cpu_s;      /* user + system CPU seconds, known once it has been reaped */
    int status;        /* wait status, once reaped */
    int reaped;
};
/* Start prog with argv (signal mask oldmask restored in the child, which gets SIGTERM if
 * the benchmark dies); stderr into c->log; stdout into *out_fd (a pipe) when asked. */
int bench_spawn(const sigset_t *oldmask, struct bench_child *c, const char *prog,
                char *const argv[], int *out_fd);
/* SIGTERM, wait up to 5 s, then SIGKILL; reaps (c->cpu_s then holds its CPU time). */
void bench_stop(struct bench_child *c);
/* Started and not ended with status 0: says so on stderr, returns 1. */
int bench_ended_badly(const struct bench_child *c);
void bench_print_log_tail(const struct bench_child *c);
/* Still running? (reaps it when not) */
int bench_alive(struct bench_child *c);
/* A free loopback port (bind 0, read, close), -1 when none. */
int bench_free_port(void);
/* Read c's first line from rfd (closed here) while `server` stays up; 15 s; sfd (a
 * signalfd) interrupts: err "interrupted". */
int bench_wait_ready(int sfd, int rfd, struct bench_child *server, struct bench_child *c,
                     char *line, size_t cap, char *err, size_t errlen);
void bench_rm_tree(const char *path);
/* CPU seconds (user + system) a running process has used, -1 when it is gone. */
double bench_proc_cpu_s(pid_t pid);

/* A run passes the search: p99 within bound_us, >= 99% answered, no error, no loss. */
int bench_passes(const struct sl_bench_run *r, double bound_us);
json_t *bench_lat_json(const struct sl_hist *h);
json_t *bench_run_json(const struct sl_bench_run *r);
extern const double bench_pct[4];           /* 50 90 99 99.9 */
extern const char *const bench_pct_name[4]; /* "p50" ... */
void bench_print_lat_row(const char *label, const struct sl_hist *h);
void bench_print_added_row(const char *label, const struct sl_hist *hub,
                           const struct sl_hist *dir);
void bench_print_counts(const char *label, const struct sl_bench_run *r);
/* Add run r into acc (first: acc is still empty). */
void bench_add_run(struct sl_bench_run *acc, const struct sl_bench_run *r, int first);

/* CPU ticks of the whole machine (/proc/stat): busy and steal. */
struct bench_ticks {
    unsigned long long busy, steal;
};
void bench_read_ticks(struct bench_ticks *t);
double bench_rusage_s(int who);
/* CPU model and count, kernel, OpenSSL, load average now. */
json_t *bench_machine_json(void);

/* The search's budget (harness.c): what it leaves for the measurements after it, and the
 * most one trial takes (its step, the drain and the reconnection), both in ms. */
double bench_reserve_ms(const struct sl_bench_opts *o, int e2e);
double bench_trial_ms(const struct sl_bench_opts *o);
/* e2e: the latency-bound search's share of the search time (the capacity search has the
 * rest). */
#define BENCH_E2E_LAT_SHARE 0.4

/* One path the search can run on: run one trial (0, 1 interrupted, -1 failed; warmup_s
 * < 0: the default), and open fresh lines after a saturated trial. */
struct bench_path {
    int (*run)(void *arg, double rate, double secs, double warmup_s, struct sl_bench_run *r);
    int (*reconnect)(void *arg, char *err, size_t errlen);
    void *arg;
};
/* The sustained-rate search (docs/performance.md "Switch"), trials appended to `trials`
 * and printed unless o->json.  *lo: the sustained rate (0 = none passed), *hi: the lowest
 * failing rate above it.  0, 1 interrupted, -1 failed. */
int bench_search(const struct sl_bench_opts *o, const struct bench_path *path, int64_t start,
                 double until_ms, json_t *trials, struct sl_bench_run *r, double *lo,
                 double *hi);

/* The disk's flush time while a measurement runs (diskwatch.c): a thread appending 200
 * bytes to DIR/disk-watch and fdatasyncing them every period_ms.  Stats in µs. */
struct bench_disk_stats {
    struct sl_hist hist;
    uint64_t syncs, over_2ms, over_20ms, errors;
    uint64_t beyond_2ms_us;  /* the sum, over the syncs, of what each took beyond 2 ms */
    int64_t span_us;         /* from the start of the watch to its stop */
};
struct bench_diskwatch;
/* 0 and *out (owned: bench_diskwatch_stop frees it), or -1 (the file could not be made). */
int bench_diskwatch_start(const char *dir, int period_ms, struct bench_diskwatch **out);
/* Stop and join the thread, copy its stats into *st (when not NULL), remove the file, free
 * w.  w NULL: nothing. */
void bench_diskwatch_stop(struct bench_diskwatch *w, struct bench_disk_stats *st);
/* {syncs, p50_ms, p90_ms, p99_ms, p99_9_ms, max_ms, over_2ms, over_20ms,
 * stalled_over_2ms_pct[, errors]}: a new reference.  stalled_over_2ms_pct: beyond_2ms_us
 * as a share of span_us, the part of the time at which a flush in flight still had more
 * than 2 ms to go (at least: a stall that began between two syncs is seen from the next);
 * a reply arriving then waits longer than F-2's whole bound for its durable audit, so
 * above 1 % no code can have a p99 under 2 ms on that disk (docs/performance.md). */
double bench_disk_stalled_pct(const struct bench_disk_stats *st);
json_t *bench_disk_stats_json(const struct bench_disk_stats *st);

#endif
