/*
 * nats_peer.c - stateline-nats-peer: the traffic of `stateline bench switch` through
 * nats-server, with the official C client libnats (docs/performance.md).
 *
 * `stateline bench switch` has its own peer (src/bench/nats.c: a hand-written client of
 * the NATS text protocol inside the generator's poll loop).  This program is the other
 * way to measure the same thing: nats-server driven by the client its authors ship, with
 * its threads and buffering, as a NATS user would run it.  Together the two say how much
 * of the figure is the server and how much the client.
 *
 *   stateline-nats-peer [--rate R --duration S] [--connections K] [--p99-bound MS]
 *                       [--max-seconds N] [--step S] [--reply-size N] [--measure-rate R]
 *                       [--plain] [--keep] [--json] [--nats-server PATH]
 *
 * What it does, in a temporary directory it removes afterwards:
 *   - credentials for WA and CA, with the code of `stateline gen certs`;
 *   - nats-server (a child process) on 127.0.0.1, a free port, with the hub's certificate
 *     and `verify: true` (client certificates from the same CA required), as
 *     `stateline bench switch` configures it; --plain: no TLS;
 *   - the responder: this program again (`stateline-nats-peer responder ...`, a child
 *     process) on CA's answering certificate, one libnats connection subscribed to
 *     "dq.CA".  For each query it parses the input-form DQ and publishes a DR of
 *     --reply-size bytes of text in the switch's output form to the query's reply
 *     subject (bench_direct_reply: the work of the bench's direct and nats responders);
 *   - the requester: this process, K libnats connections on WA's terminal certificate,
 *     connection k subscribed to "_INBOX.k.*".  Query i (the 43-byte DQ of the bench,
 *     "DQ.WABEN000k.CA.<run><seq:9>.TXT LF OLN/A1234567") is published on connection
 *     i mod K to "dq.CA" with the reply subject "_INBOX.k.<run><seq>".
 *
 * Open loop: query i is due at t0 + i / rate whatever happened before; its latency runs
 * from that intended time to the moment libnats hands its DR to the subscription's
 * callback (libnats delivers on one thread per subscription), into the histogram of
 * stateline/hist.h.  The sustained-rate search, the pass rule and the JSON field names
 * are those of `stateline bench switch` (src/bench/switch.c).
 *
 * Output: a table, or with --json one object: scenario, peer, client, connections, tls,
 * query_bytes, reply_text_bytes, p99_bound_ms, search [trials], sustained_rate,
 * sustained_routed_messages, measure_rate, nats {run}, and when --measure-rate is given
 * and differs, nats_at_measure_rate {run}; machine {...}.  A run: rate, duration_s, sent,
 * received, errors, lost, achieved_rate, overload, warmup_s, sent_late_over_1ms,
 * max_send_lag_us, latency_us {p50 p90 p99 p99.9 max mean count}, first_error.
 *
 * Exit status: 0 measured, 1 could not run, 2 no search trial passed, 130 interrupted.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <jansson.h>
#include <nats/nats.h>
#include <openssl/crypto.h>

#include "bench/bench_int.h"
#include "stateline/certs.h"
#include "stateline/core.h"
#include "stateline/hist.h"
#include "stateline/msg.h"

#define MAX_CONNS 64
#define OUT_CAP (64 * 1024 * 1024) /* bytes unsent on one connection: overloaded */
#define DRAIN_MS 2000
#define RESPONDER_ORI "CADMV0000"

struct opts {
    double rate, duration_s, p99_bound_ms, max_seconds, step_s, measure_rate;
    int conns, reply_size, json, keep, plain, flusher;
    const char *nats_server;
};

/* What one run's callbacks need; written by the main thread under each line's mutex. */
struct run_params {
    char run;
    int64_t t0;
    double rate;
    int64_t warmup_ns;
    uint64_t total;
};

/* One requester connection.  The callback (a libnats thread) and the main thread share
 * everything below mu. */
struct line {
    int k, nconns;
    natsConnection *nc;
    natsSubscription *sub;
    pthread_mutex_t mu;
    struct run_params p;
    uint8_t *seen;          /* bit per query of this line: seq / nconns */
    uint64_t received, errors;
    int64_t last_reply;
    char first_error[160];
    struct sl_hist hist;
};

struct child {
    pid_t pid;
    double cpu_s;
    char log[600];
};

struct peer {
    const struct opts *o;
    char dir[256], certs[300], url[64];
    int port, sfd;
    struct child server, resp;
    struct line *lines;
    int nlines;
    char run_letter;
    char ver_server[64];
    uint64_t answered;      /* queries answered over every run (CPU per query) */
};

/* ---- small things ------------------------------------------------------------------------ */

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Start argv[0] (a path) with stdout to *out_fd (a pipe; NULL: the log) and stderr to
 * the child's log. */
static int spawn(struct child *c, char *const argv[], int *out_fd)
{
    int pfd[2] = {-1, -1};
    if (out_fd && pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    int lfd = open(c->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (lfd < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(lfd);
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(out_fd ? pfd[1] : lfd, 1);
        dup2(lfd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(lfd);
    if (out_fd) {
        close(pfd[1]);
        *out_fd = pfd[0];
    }
    c->pid = pid;
    return 0;
}

static void stop_child(struct child *c)
{
    if (c->pid <= 0)
        return;
    kill(c->pid, SIGTERM);
    struct rusage ru;
    int st;
    for (int i = 0; i < 100; i++) { /* 5 s, then SIGKILL */
        pid_t r = wait4(c->pid, &st, WNOHANG, &ru);
        if (r == c->pid)
            goto reaped;
        usleep(50000);
    }
    kill(c->pid, SIGKILL);
    if (wait4(c->pid, &st, 0, &ru) != c->pid) {
        c->pid = 0;
        return;
    }
reaped:
    c->cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    c->pid = 0;
}

static int child_alive(struct child *c)
{
    int st;
    return c->pid > 0 && waitpid(c->pid, &st, WNOHANG) == 0;
}

/* Client options for this network: URL, TLS with a line certificate (role "terminal" or
 * "answer" of member), no reconnect (a lost connection is a failed run, not a pause).
 * *out owned by the caller (natsOptions_Destroy). */
static natsStatus client_opts(const char *url, const char *certs, const char *member,
                              const char *role, int plain, int flusher, natsOptions **out)
{
    natsOptions *op = NULL;
    natsStatus s = natsOptions_Create(&op);
    char cert[400], key[400], ca[400];
    snprintf(cert, sizeof cert, "%s/%s-%s.crt", certs, member, role);
    snprintf(key, sizeof key, "%s/%s-%s.key", certs, member, role);
    snprintf(ca, sizeof ca, "%s/ca.crt", certs);
    if (s == NATS_OK)
        s = natsOptions_SetURL(op, url);
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(op, false);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(op, 10000);
    /* libnats by default hands each publish to a flusher thread, which batches writes at
     * the cost of latency (measured here at 5,000/s: p50 1.9 ms against 0.33 ms, over two
     * publishes per round trip).  "Send ASAP" writes from the publishing thread, as the
     * hub's generator writes once per pass.  --flusher keeps libnats's default. */
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(op, !flusher);
    if (s == NATS_OK && !plain) {
        s = natsOptions_SetSecure(op, true);
        if (s == NATS_OK)
            s = natsOptions_LoadCATrustedCertificates(op, ca);
        if (s == NATS_OK)
            s = natsOptions_LoadCertificatesChain(op, cert, key);
        if (s == NATS_OK)
            s = natsOptions_SetExpectedHostname(op, "localhost");
    }
    if (s != NATS_OK) {
        natsOptions_Destroy(op);
        op = NULL;
    }
    *out = op;
    return s;
}

static const char *nats_err(natsStatus s)
{
    const char *t = nats_GetLastError(NULL);
    return t && t[0] ? t : natsStatus_GetText(s);
}

/* ---- the responder (a child process) ------------------------------------------------ */

struct responder {
    natsConnection *nc;
    const char *as;
    char *text;
    size_t text_len;
    unsigned seq;
    struct sl_msg scratch;
    struct sl_buf dr;
    uint64_t answered, failed;
};

/* libnats calls this on the subscription's thread, one message at a time. */
static void on_query(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)sub;
    struct responder *r = closure;
    const char *reply = natsMsg_GetReply(msg);
    if (reply) {
        sl_buf_reset(&r->dr);
        if (bench_direct_reply(r->as, r->text, r->text_len, &r->seq, &r->scratch,
                               (const uint8_t *)natsMsg_GetData(msg),
                               (uint32_t)natsMsg_GetDataLength(msg), &r->dr) == 1 &&
            natsConnection_Publish(nc, reply, sl_buf_head(&r->dr), (int)sl_buf_used(&r->dr)) ==
                NATS_OK)
            r->answered++;
        else
            r->failed++;
    }
    natsMsg_Destroy(msg);
}

static int responder_main(int argc, char **argv)
{
    const char *url = NULL, *certs = NULL;
    long reply_size = 256;
    int plain = 0, flusher = 0;
    struct responder r;
    memset(&r, 0, sizeof r);
    r.as = RESPONDER_ORI;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--plain"))
            plain = 1;
        else if (!strcmp(argv[i], "--flusher"))
            flusher = 1;
        else if (!strcmp(argv[i], "--send-asap"))
            flusher = 0;
        else if (i + 1 < argc && !strcmp(argv[i], "--url"))
            url = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--certs"))
            certs = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--reply-size"))
            reply_size = strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "stateline-nats-peer responder: unknown option '%s'\n", argv[i]);
            return 1;
        }
    }
    if (!url || !certs || reply_size < 1 || reply_size > 65536) {
        fprintf(stderr, "usage: stateline-nats-peer responder --url URL --certs DIR "
                        "[--reply-size N] [--plain]\n");
        return 1;
    }
    /* Signals are blocked before libnats starts its threads, and waited for here. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);

    r.text_len = (size_t)reply_size;
    r.text = sl_xmalloc(r.text_len);
    bench_reply_text(r.text, r.text_len);
    sl_buf_init(&r.dr);
    natsOptions *op = NULL;
    natsSubscription *sub = NULL;
    natsStatus s = client_opts(url, certs, "CA", "answer", plain, flusher, &op);
    if (s == NATS_OK)
        s = natsConnection_Connect(&r.nc, op);
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&sub, r.nc, "dq.CA", on_query, &r);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(sub, -1, -1);
    if (s == NATS_OK)
        s = natsConnection_FlushTimeout(r.nc, 10000);
    if (s != NATS_OK) {
        fprintf(stderr, "stateline-nats-peer responder: %s\n", nats_err(s));
        return 1;
    }
    printf("READY\n");
    fflush(stdout);
    int sig;
    sigwait(&mask, &sig);
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(r.nc);
    natsOptions_Destroy(op);
    fprintf(stderr, "responder: %llu answered, %llu failed\n", (unsigned long long)r.answered,
            (unsigned long long)r.failed);
    sl_buf_free(&r.dr);
    free(r.text);
    fflush(stdout);
    return 0; /* no nats_Close(): see main */
}

/* ---- the requester: replies --------------------------------------------------------------- */

static void line_error(struct line *l, const char *fmt, const char *detail)
{
    l->errors++;
    if (!l->first_error[0])
        snprintf(l->first_error, sizeof l->first_error, fmt, detail);
}

/* A DR arrived on line l's inbox: match it to its query, time it.  Same rules as the
 * generator of `stateline bench switch` (src/bench/gen.c take_reply). */
static void on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    int64_t now = sl_now_ns();
    struct line *l = closure;
    struct sl_outhdr h;
    const char *body;
    size_t blen;
    struct sl_msg_err e;
    int parsed = sl_msg_parse_output(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg),
                                     &h, &body, &blen, &e);
    pthread_mutex_lock(&l->mu);
    const struct run_params *p = &l->p;
    if (parsed != 0) {
        line_error(l, "unreadable reply: %.120s", e.detail);
    } else if (h.ctl[0] != p->run || strlen(h.ctl) != 10) {
        /* a late reply of an earlier run */
    } else if (strcmp(h.key, "DR") != 0) {
        line_error(l, "unexpected %s", h.key);
    } else {
        uint64_t seq = strtoull(h.ctl + 1, NULL, 10);
        uint64_t idx = seq / (uint64_t)l->nconns;
        if (seq >= p->total || seq % (uint64_t)l->nconns != (uint64_t)l->k ||
            (l->seen[idx / 8] >> (idx % 8)) & 1) {
            line_error(l, "unexpected reply %s", h.ctl);
        } else {
            l->seen[idx / 8] |= (uint8_t)(1u << (idx % 8));
            l->received++;
            l->last_reply = now;
            int64_t due = (int64_t)((double)seq * 1e9 / p->rate);
            if (due >= p->warmup_ns) {
                int64_t lat = now - (p->t0 + due);
                sl_hist_record(&l->hist, lat > 0 ? (uint64_t)lat / 1000 : 0);
            }
        }
    }
    pthread_mutex_unlock(&l->mu);
    natsMsg_Destroy(msg);
}

static void close_lines(struct peer *pe)
{
    for (int k = 0; k < pe->nlines; k++) {
        struct line *l = &pe->lines[k];
        if (l->sub) {
            natsSubscription_Unsubscribe(l->sub);
            natsSubscription_Destroy(l->sub);
        }
        if (l->nc)
            natsConnection_Destroy(l->nc);
        l->sub = NULL;
        l->nc = NULL;
    }
}

/* (Re)open the K requester connections, each subscribed to its inbox. */
static int open_lines(struct peer *pe, char *err, size_t errlen)
{
    close_lines(pe);
    natsOptions *op = NULL;
    natsStatus s = client_opts(pe->url, pe->certs, "WA", "terminal", pe->o->plain, pe->o->flusher, &op);
    for (int k = 0; s == NATS_OK && k < pe->nlines; k++) {
        struct line *l = &pe->lines[k];
        char inbox[32];
        snprintf(inbox, sizeof inbox, "_INBOX.%d.*", k);
        s = natsConnection_Connect(&l->nc, op);
        if (s == NATS_OK)
            s = natsConnection_Subscribe(&l->sub, l->nc, inbox, on_reply, l);
        if (s == NATS_OK)
            s = natsSubscription_SetPendingLimits(l->sub, -1, -1);
        if (s == NATS_OK)
            s = natsConnection_FlushTimeout(l->nc, 10000);
    }
    if (s != NATS_OK)
        snprintf(err, errlen, "connecting to nats-server: %s", nats_err(s));
    natsOptions_Destroy(op);
    return s == NATS_OK ? 0 : -1;
}

/* ---- the requester: one open-loop run ------------------------------------------------------ */

/* The DQ of `stateline bench switch` (src/bench/gen.c write_dq), 43 bytes. */
static size_t write_dq(char *p, const char *ori, char run, uint64_t seq)
{
    size_t n = 0;
    memcpy(p, "DQ.", 3);
    n += 3;
    memcpy(p + n, ori, SL_ORI_LEN);
    n += SL_ORI_LEN;
    memcpy(p + n, ".CA.", 4);
    n += 4;
    p[n++] = run;
    for (int d = 8; d >= 0; d--) {
        p[n + (size_t)d] = (char)('0' + seq % 10);
        seq /= 10;
    }
    n += 9;
    memcpy(p + n, ".TXT\nOLN/A1234567", 17);
    n += 17;
    return n;
}

static uint64_t answered_total(struct peer *pe, int64_t *last)
{
    uint64_t n = 0;
    for (int k = 0; k < pe->nlines; k++) {
        struct line *l = &pe->lines[k];
        pthread_mutex_lock(&l->mu);
        n += l->received + l->errors;
        if (last && l->last_reply > *last)
            *last = l->last_reply;
        pthread_mutex_unlock(&l->mu);
    }
    return n;
}

/* Sleep until `until` (monotonic ns) or a signal: 1 when interrupted. */
static int nap(struct peer *pe, int64_t until)
{
    int64_t ns = until - sl_now_ns();
    if (ns <= 0)
        return 0;
    struct pollfd p = {pe->sfd, POLLIN, 0};
    struct timespec ts = {ns / 1000000000, ns % 1000000000};
    return ppoll(&p, 1, &ts, NULL) > 0;
}

/* 0 done, 1 interrupted, -1 a connection failed. */
static int one_run(struct peer *pe, double rate, double duration_s, double warmup_s,
                   struct sl_bench_run *res)
{
    memset(res, 0, sizeof *res);
    sl_hist_init(&res->hist);
    res->rate = rate;
    res->duration_s = duration_s;
    res->warmup_s = warmup_s;
    uint64_t total = (uint64_t)llround(rate * duration_s);
    if (total == 0)
        total = 1;
    char run = pe->run_letter;
    pe->run_letter = pe->run_letter == 'Z' ? 'A' : (char)(pe->run_letter + 1);
    int K = pe->nlines;
    int64_t t0 = sl_now_ns() + 1000000;
    for (int k = 0; k < K; k++) {
        struct line *l = &pe->lines[k];
        pthread_mutex_lock(&l->mu);
        l->p = (struct run_params){run, t0, rate, (int64_t)(warmup_s * 1e9), total};
        free(l->seen);
        l->seen = sl_xcalloc((size_t)(total / (uint64_t)K / 8 + 2), 1);
        l->received = l->errors = 0;
        l->last_reply = t0;
        l->first_error[0] = '\0';
        sl_hist_init(&l->hist);
        pthread_mutex_unlock(&l->mu);
    }
    char ori[MAX_CONNS][SL_ORI_LEN + 1];
    for (int k = 0; k < K; k++)
        snprintf(ori[k], sizeof ori[k], "WABEN%04d", (k + 1) % 10000);
    int rc = 0;
    uint64_t next = 0;
    int64_t end_ns = t0 + (int64_t)(duration_s * 1e9);
    while (next < total && !res->overload) {
        int64_t now = sl_now_ns();
        uint64_t due = now < t0 ? 0 : (uint64_t)((double)(now - t0) * rate / 1e9) + 1;
        if (due > total)
            due = total;
        for (; next < due; next++) {
            int k = (int)(next % (uint64_t)K);
            struct line *l = &pe->lines[k];
            if (natsConnection_Buffered(l->nc) > OUT_CAP) {
                res->overload = 1;
                snprintf(res->first_error, sizeof res->first_error,
                         "the requester could not send: %d bytes waiting on one connection",
                         OUT_CAP);
                break;
            }
            char dq[64], inbox[40];
            size_t n = write_dq(dq, ori[k], run, next);
            snprintf(inbox, sizeof inbox, "_INBOX.%d.%.10s", k, dq + 3 + SL_ORI_LEN + 4);
            natsStatus s = natsConnection_PublishRequest(l->nc, "dq.CA", inbox, dq, (int)n);
            if (s != NATS_OK) {
                snprintf(res->first_error, sizeof res->first_error, "publish: %s", nats_err(s));
                rc = -1;
                goto done;
            }
            res->sent++;
            int64_t lag = now - (t0 + (int64_t)((double)next * 1e9 / rate));
            if (lag > 1000000)
                res->sent_late++;
            if (lag > 0 && (uint64_t)lag / 1000 > res->max_send_lag_us)
                res->max_send_lag_us = (uint64_t)lag / 1000;
        }
        if (next < total && !res->overload &&
            nap(pe, t0 + (int64_t)((double)next * 1e9 / rate))) {
            rc = 1;
            goto done;
        }
    }
    /* Drain: every reply, or 2 s after the end of the schedule. */
    int64_t now = sl_now_ns();
    int64_t drain_until = (now > end_ns ? now : end_ns) + (int64_t)DRAIN_MS * 1000000;
    while (answered_total(pe, NULL) < res->sent && sl_now_ns() < drain_until) {
        if (nap(pe, sl_now_ns() + 1000000)) {
            rc = 1;
            break;
        }
    }
done:;
    int64_t last = t0;
    for (int k = 0; k < K; k++) {
        struct line *l = &pe->lines[k];
        pthread_mutex_lock(&l->mu);
        res->received += l->received;
        res->errors += l->errors;
        if (l->last_reply > last)
            last = l->last_reply;
        if (!res->first_error[0] && l->first_error[0])
            memcpy(res->first_error, l->first_error, sizeof res->first_error);
        sl_hist_merge(&res->hist, &l->hist);
        l->p.run = 0; /* later replies belong to no run */
        pthread_mutex_unlock(&l->mu);
    }
    res->lost = res->sent > res->received ? res->sent - res->received : 0;
    pe->answered += res->received;
    double span = (double)(last - t0) / 1e9;
    if (span < duration_s)
        span = duration_s;
    res->span_s = span;
    res->achieved = (double)res->received / span;
    return rc;
}

/* ---- the report (the field names of src/bench/switch.c) ---------------------------------- */

static void print_run(const char *label, const struct sl_bench_run *r)
{
    const struct sl_hist *h = &r->hist;
    printf("  %-22s %8.0f/s offered, %8.0f/s answered, %llu errors, %llu lost\n", label,
           r->rate, r->achieved, (unsigned long long)r->errors, (unsigned long long)r->lost);
    printf("  %-22s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms\n", "",
           sl_hist_percentile(h, 50) / 1000.0, sl_hist_percentile(h, 90) / 1000.0,
           sl_hist_percentile(h, 99) / 1000.0, sl_hist_percentile(h, 99.9) / 1000.0,
           h->max / 1000.0);
    if (r->first_error[0])
        printf("  %-22s first error: %s\n", "", r->first_error);
}

/* ---- the search: the same as stateline bench's (src/bench/harness.c) ------------------------ */

static int path_run(void *arg, double rate, double secs, double warmup_s, struct sl_bench_run *r)
{
    return one_run(arg, rate, secs, warmup_s < 0 ? fmin(0.5, secs * 0.1) : warmup_s, r);
}

static int path_reconnect(void *arg, char *err, size_t errlen)
{
    return open_lines(arg, err, errlen);
}

static int search(struct peer *pe, int64_t start, double until_ms, json_t *trials,
                  struct sl_bench_run *r, double *lo_out)
{
    struct sl_bench_opts so;
    memset(&so, 0, sizeof so);
    so.p99_bound_ms = pe->o->p99_bound_ms;
    so.step_s = pe->o->step_s;
    so.json = pe->o->json;
    const struct bench_path path = {path_run, path_reconnect, pe};
    double hi;
    return bench_search(&so, &path, start, until_ms, trials, r, lo_out, &hi);
}

/* ---- set-up and main -------------------------------------------------------------------------- */

static int find_nats(char *out, size_t cap)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/usr/local/sbin:/usr/bin", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, cap, "%s/nats-server", d);
        if (access(out, X_OK) == 0)
            return 0;
    }
    return -1;
}

static int start(struct peer *pe, const char *self, char *err, size_t errlen)
{
    const struct opts *o = pe->o;
    char natsbin[512];
    if (o->nats_server)
        sl_strlcpy(natsbin, o->nats_server, sizeof natsbin);
    else if (find_nats(natsbin, sizeof natsbin) != 0) {
        snprintf(err, errlen, "nats-server is not installed (apt-get install nats-server)");
        return -1;
    }
    snprintf(pe->dir, sizeof pe->dir, "/tmp/sl-nats-peer-XXXXXX");
    if (!mkdtemp(pe->dir)) {
        snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
        pe->dir[0] = '\0';
        return -1;
    }
    snprintf(pe->certs, sizeof pe->certs, "%s/certs", pe->dir);
    const char *members[] = {"WA", "CA"};
    struct sl_certs_opts co = {pe->certs, members, 2, NULL, 2, 0};
    if (sl_certs_generate(&co, NULL, err, errlen) != 0)
        return -1;

    /* nats-server's version, for the report ("nats-server: v2.9.10"). */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' --version 2>&1", natsbin);
    FILE *v = popen(cmd, "r");
    if (v) {
        if (fgets(pe->ver_server, sizeof pe->ver_server, v))
            pe->ver_server[strcspn(pe->ver_server, "\n")] = '\0';
        pclose(v);
    }

    pe->port = bench_free_port();
    char conf[300];
    snprintf(conf, sizeof conf, "%s/nats.conf", pe->dir);
    FILE *f = fopen(conf, "w");
    if (!f || pe->port <= 0) {
        snprintf(err, errlen, "cannot write %s", conf);
        if (f)
            fclose(f);
        return -1;
    }
    fprintf(f, "# written by stateline-nats-peer: loopback%s\nlisten: 127.0.0.1:%d\n",
            o->plain ? ", no TLS" : ", mutual TLS", pe->port);
    if (!o->plain)
        fprintf(f, "tls {\n  cert_file: \"%s/hub.crt\"\n  key_file: \"%s/hub.key\"\n"
                   "  ca_file: \"%s/ca.crt\"\n  verify: true\n  timeout: 5\n}\n",
                pe->certs, pe->certs, pe->certs);
    fclose(f);
    snprintf(pe->url, sizeof pe->url, "%s://127.0.0.1:%d", o->plain ? "nats" : "tls", pe->port);

    snprintf(pe->server.log, sizeof pe->server.log, "%s/nats-server.log", pe->dir);
    char *nargv[] = {natsbin, "-c", conf, NULL};
    if (spawn(&pe->server, nargv, NULL) != 0) {
        snprintf(err, errlen, "cannot start %.200s: %s", natsbin, strerror(errno));
        return -1;
    }
    for (int i = 0; !port_open(pe->port); i++) {
        if (i > 200 || !child_alive(&pe->server)) {
            snprintf(err, errlen, "nats-server did not start (see its log: --keep)");
            return -1;
        }
        usleep(50000);
    }

    snprintf(pe->resp.log, sizeof pe->resp.log, "%s/responder.log", pe->dir);
    char size[32];
    snprintf(size, sizeof size, "%d", o->reply_size);
    char *rargv[] = {(char *)self, "responder", "--url", pe->url, "--certs", pe->certs,
                     "--reply-size", size, o->flusher ? "--flusher" : "--send-asap",
                     o->plain ? "--plain" : NULL, NULL};
    int rfd = -1;
    if (spawn(&pe->resp, rargv, &rfd) != 0) {
        snprintf(err, errlen, "cannot start the responder: %s", strerror(errno));
        return -1;
    }
    char line[64] = "";
    struct pollfd p = {rfd, POLLIN, 0};
    ssize_t n = poll(&p, 1, 15000) > 0 ? read(rfd, line, sizeof line - 1) : -1;
    close(rfd);
    if (n <= 0 || strncmp(line, "READY", 5) != 0) {
        snprintf(err, errlen, "the responder did not start (see its log: --keep)");
        return -1;
    }
    return open_lines(pe, err, errlen);
}

static double num(const char *opt, const char *v, double lo, double hi)
{
    char *end;
    double d = strtod(v, &end);
    if (*end || !(d >= lo && d <= hi)) {
        fprintf(stderr, "stateline-nats-peer: %s: '%s' is not a valid value\n", opt, v);
        exit(1);
    }
    return d;
}

static const char usage[] =
    "usage: stateline-nats-peer [options]   (docs/performance.md)\n"
    "  the traffic of `stateline bench switch` through nats-server, with libnats\n"
    "  --rate R --duration S   one fixed-rate run (default: search the sustained rate)\n"
    "  --connections K         requester connections (default 4, at most 64)\n"
    "  --p99-bound MS          search: highest rate with p99 under MS ms (default 2)\n"
    "  --max-seconds N         search: time budget (default 60)\n"
    "  --step S                search: length of a trial (default 2)\n"
    "  --duration S            the measurement at half the sustained rate (default 5)\n"
    "  --measure-rate R        also measure at R/s (the hub's measurement rate)\n"
    "  --reply-size N          bytes of DR text (default 256)\n"
    "  --plain                 no TLS (default: mutual TLS as the hub)\n"
    "  --flusher               libnats's default write path: a flusher thread that waits\n"
    "                          1 ms to batch (default: send ASAP from the publisher)\n"
    "  --nats-server PATH      the server program (default: nats-server on PATH, /usr/sbin)\n"
    "  --keep                  keep the temporary directory (logs)\n"
    "  --json                  the report as one JSON object\n";

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "responder"))
        return responder_main(argc, argv);
    struct opts o = {0, 5, 2, 60, 2, 0, 4, 256, 0, 0, 0, 0, NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--json"))
            o.json = 1;
        else if (!strcmp(a, "--keep"))
            o.keep = 1;
        else if (!strcmp(a, "--plain"))
            o.plain = 1;
        else if (!strcmp(a, "--flusher"))
            o.flusher = 1;
        else if (i + 1 >= argc) {
            fprintf(stderr, "stateline-nats-peer: unknown option or missing value '%s'\n%s", a,
                    usage);
            return 1;
        } else if (!strcmp(a, "--rate"))
            o.rate = num(a, argv[++i], 1, 1e8);
        else if (!strcmp(a, "--duration"))
            o.duration_s = num(a, argv[++i], 0.1, 3600);
        else if (!strcmp(a, "--connections"))
            o.conns = (int)num(a, argv[++i], 1, MAX_CONNS);
        else if (!strcmp(a, "--p99-bound"))
            o.p99_bound_ms = num(a, argv[++i], 0.01, 60000);
        else if (!strcmp(a, "--max-seconds"))
            o.max_seconds = num(a, argv[++i], 5, 36000);
        else if (!strcmp(a, "--step"))
            o.step_s = num(a, argv[++i], 0.2, 600);
        else if (!strcmp(a, "--measure-rate"))
            o.measure_rate = num(a, argv[++i], 1, 1e8);
        else if (!strcmp(a, "--reply-size"))
            o.reply_size = (int)num(a, argv[++i], 1, 65536);
        else if (!strcmp(a, "--nats-server"))
            o.nats_server = argv[++i];
        else {
            fprintf(stderr, "stateline-nats-peer: unknown option '%s'\n%s", a, usage);
            return 1;
        }
    }

    /* Block the signals before libnats starts threads; the run loop waits on a signalfd. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct peer pe;
    memset(&pe, 0, sizeof pe);
    pe.o = &o;
    pe.run_letter = 'A';
    pe.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    pe.nlines = o.conns;
    pe.lines = sl_xcalloc((size_t)o.conns, sizeof *pe.lines);
    for (int k = 0; k < o.conns; k++) {
        pe.lines[k].k = k;
        pe.lines[k].nconns = o.conns;
        pthread_mutex_init(&pe.lines[k].mu, NULL);
        sl_hist_init(&pe.lines[k].hist);
    }
    char self[512];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fprintf(stderr, "stateline-nats-peer: cannot find its own program\n");
        return 1;
    }
    self[sl] = '\0';

    json_t *report = json_object();
    json_object_set_new(report, "scenario", json_string("switch"));
    json_object_set_new(report, "peer", json_string("nats-server"));
    json_object_set_new(report, "client", json_string("libnats"));
    json_object_set_new(report, "mode", json_string(o.rate > 0 ? "fixed" : "search"));
    json_object_set_new(report, "connections", json_integer(o.conns));
    json_object_set_new(report, "tls", json_boolean(!o.plain));
    json_object_set_new(report, "libnats_write", json_string(o.flusher ? "flusher" : "send_asap"));
    json_object_set_new(report, "query_bytes", json_integer((json_int_t)bench_query_bytes()));
    json_object_set_new(report, "reply_text_bytes", json_integer(o.reply_size));
    json_object_set_new(report, "p99_bound_ms", json_real(o.p99_bound_ms));
    json_t *machine = bench_machine_json();

    int64_t start_ms = sl_now_ms();
    char err[512];
    int rc = 0;
    struct sl_bench_run *r = sl_xmalloc(sizeof *r);
    struct sl_bench_run *m = sl_xmalloc(sizeof *m);
    struct sl_bench_run *m2 = sl_xmalloc(sizeof *m2);
    int have_m2 = 0;
    if (start(&pe, self, err, sizeof err) != 0) {
        fprintf(stderr, "stateline-nats-peer: %s\n", err);
        rc = 1;
        goto out;
    }
    if (!o.json)
        printf("stateline-nats-peer: %d requester connections -> nats-server (%s) -> "
               "responder; libnats %s (%s); DQ %zu bytes, DR text %d bytes\n\n",
               o.conns, o.plain ? "plain TCP" : "mutual TLS", nats_GetVersion(),
               o.flusher ? "flusher thread" : "send ASAP",
               bench_query_bytes(), o.reply_size);
    double measure_rate = o.rate;
    double measure_s = o.duration_s;
    if (o.rate <= 0) {
        json_t *trials = json_array();
        json_object_set_new(report, "search", trials);
        double reserve_ms = 2 * (o.duration_s + 2.5) * 1000 + 3000;
        double lo = 0;
        int k = search(&pe, start_ms, o.max_seconds * 1000 - reserve_ms, trials, r, &lo);
        if (k != 0) {
            rc = k == 1 ? 130 : 1;
            goto out;
        }
        json_object_set_new(report, "sustained_rate", json_real(round(lo)));
        json_object_set_new(report, "sustained_routed_messages", json_real(round(2 * lo)));
        if (lo <= 0) {
            if (!o.json)
                printf("\nno trial passed\n");
            rc = 2;
            goto out;
        }
        if (!o.json)
            printf("\nsustained: %.0f queries/s through nats-server (%.0f routed messages/s)\n\n",
                   lo, 2 * lo);
        measure_rate = lo / 2;
        if (open_lines(&pe, err, sizeof err) != 0) {
            fprintf(stderr, "stateline-nats-peer: %s\n", err);
            rc = 1;
            goto out;
        }
    }
    double warm = fmin(0.5, measure_s * 0.1);
    int k = one_run(&pe, measure_rate, measure_s, warm, m);
    if (k == 0 && o.measure_rate > 0 && fabs(o.measure_rate - measure_rate) > 0.5) {
        k = one_run(&pe, o.measure_rate, measure_s, warm, m2);
        have_m2 = 1;
    }
    if (k != 0) {
        if (k < 0)
            fprintf(stderr, "stateline-nats-peer: %s\n", m->first_error);
        rc = k == 1 ? 130 : 1;
        goto out;
    }
    json_object_set_new(report, "measure_rate", json_real(measure_rate));
    json_object_set_new(report, "nats", bench_run_json(m));
    if (have_m2)
        json_object_set_new(report, "nats_at_measure_rate", bench_run_json(m2));
    if (!o.json) {
        printf("measurement (%.1f s):\n", measure_s);
        print_run("nats-server", m);
        if (have_m2)
            print_run("nats-server at --measure-rate", m2);
    }
out:
    close_lines(&pe);
    stop_child(&pe.resp);
    stop_child(&pe.server);
    if (rc == 0 || rc == 2) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double gen = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        json_object_set_new(machine, "libnats", json_string(nats_GetVersion()));
        json_object_set_new(machine, "nats_server", json_string(pe.ver_server));
        json_object_set_new(machine, "wall_s",
                            json_real(round((double)(sl_now_ms() - start_ms) / 100) / 10));
        json_object_set_new(machine, "cpu_s_requester", json_real(round(gen * 100) / 100));
        json_object_set_new(machine, "cpu_s_nats_server",
                            json_real(round(pe.server.cpu_s * 100) / 100));
        json_object_set_new(machine, "cpu_s_responder", json_real(round(pe.resp.cpu_s * 100) / 100));
        /* CPU per answered query over the whole run (search trials included, and start-up):
         * steadier than latency on a shared machine. */
        json_object_set_new(machine, "queries_answered", json_integer((json_int_t)pe.answered));
        if (pe.answered) {
            json_t *per = json_object();
            double q = (double)pe.answered / 1e6;
            json_object_set_new(per, "nats_server", json_real(round(pe.server.cpu_s / q * 10) / 10));
            json_object_set_new(per, "requester", json_real(round(gen / q * 10) / 10));
            json_object_set_new(per, "responder", json_real(round(pe.resp.cpu_s / q * 10) / 10));
            json_object_set_new(machine, "cpu_us_per_query", per);
        }
        json_object_set_new(report, "machine", machine);
        machine = NULL;
        if (o.json) {
            char *s = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            puts(s);
            free(s);
        } else {
            printf("\ncpu: requester %.2f s, nats-server %.2f s, responder %.2f s; %s; libnats %s\n",
                   gen, pe.server.cpu_s, pe.resp.cpu_s, pe.ver_server, nats_GetVersion());
        }
    }
    json_decref(machine);
    json_decref(report);
    if (pe.dir[0]) {
        if (o.keep)
            fprintf(stderr, "stateline-nats-peer: kept %s\n", pe.dir);
        else
            bench_rm_tree(pe.dir);
    }
    for (int i = 0; i < pe.nlines; i++) {
        free(pe.lines[i].seen);
        pthread_mutex_destroy(&pe.lines[i].mu);
    }
    free(pe.lines);
    free(r);
    free(m);
    free(m2);
    close(pe.sfd);
    /* No nats_Close(): libnats 3.4 then frees OpenSSL state that OpenSSL's own exit
     * handler frees again (a crash at exit); the process ends here anyway. */
    fflush(stdout);
    return rc;
}
