/*
 * gen.c - the open-loop generator of `stateline bench switch` (see stateline/bench.h).
 *
 * One thread, epoll over the K connections and a signalfd.  Each pass: every message
 * whose intended time has come is appended to its connection's output buffer (message i
 * goes on connection i mod K), each buffer is flushed with one write, and whatever came
 * back is parsed and timed.  epoll sleeps until the next intended send (or a reply).  If
 * the generator itself falls behind (a slow pass, a full socket), the messages it owes
 * go out late but keep their intended times: the lateness is measured, not hidden.
 *
 * Wire: DQ.<ori>.CA.<run><seq:9>.TXT LF OLN/A1234567, where ori is the connection's
 * sender ORI (the hub sends a reply to the line its ORI last sent from), run is one
 * letter per run and seq the message number within the run.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "bench/bench_int.h"
#include "stateline/core.h"
#include "stateline/frame.h"
#include "stateline/msg.h"

/* Stop queueing when one connection holds this much unsent output: the receiver has
 * stopped reading and the run is overloaded. */
#define GEN_OUT_CAP (64u * 1024u * 1024u)
#define GEN_DRAIN_MS 2000

int bench_gen_connect(struct bench_gen *g, const char *hostport, struct sl_tls *tls,
                      const char *member, int n, char *err, size_t errlen)
{
    g->n = 0;
    for (int i = 0; i < n; i++) {
        struct sl_conn *c = NULL;
        if (sl_conn_dial(hostport, tls, member, "terminal", NULL, 10000, &c, err, errlen) != 0)
            return -1;
        if (sl_conn_set_nonblocking(c) != 0) {
            snprintf(err, errlen, "cannot make a line non-blocking");
            sl_conn_free(c);
            return -1;
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        g->c[i] = c;
        g->n++;
    }
    return 0;
}

int bench_gen_connect_nats(struct bench_gen *g, const char *hostport, struct ssl_ctx_st *ctx,
                           int n, char *err, size_t errlen)
{
    g->n = 0;
    g->nats = 1;
    for (int i = 0; i < n; i++) {
        char sub[32];
        snprintf(sub, sizeof sub, "_INBOX.%d.*", i);
        if (bench_nats_dial(hostport, ctx, sub, &g->nl[i], err, errlen) != 0)
            return -1;
        g->n++;
    }
    return 0;
}

void bench_gen_close(struct bench_gen *g)
{
    for (int i = 0; i < g->n; i++) {
        if (g->nats)
            bench_nats_free(g->nl[i]);
        else
            sl_conn_free(g->c[i]);
    }
    g->n = 0;
}

/* The two transports, stateline lines and nats lines, behind the same five calls. */
static struct sl_buf *line_out(struct bench_gen *g, int k)
{
    return g->nats ? &g->nl[k]->out : &g->c[k]->out;
}

static int line_fd(const struct bench_gen *g, int k)
{
    return g->nats ? g->nl[k]->fd : g->c[k]->fd;
}

static int line_want_write(const struct bench_gen *g, int k)
{
    return g->nats ? g->nl[k]->want_write : g->c[k]->want_write;
}

static int line_flush(struct bench_gen *g, int k)
{
    return g->nats ? bench_nats_flush(g->nl[k]) : sl_conn_flush(g->c[k]);
}

static const char *line_err(const struct bench_gen *g, int k)
{
    return g->nats ? g->nl[k]->err : g->c[k]->err;
}

/* Write the text of query `seq` of run `run` from sender ORI `ori` at p (64 bytes room):
 * "DQ." ori ".CA." run seq9 ".TXT\nOLN/A1234567".  Returns its length. */
static size_t write_dq(uint8_t *p, const char *ori, char run, uint64_t seq)
{
    size_t n = 0;
    memcpy(p, "DQ.", 3);
    n += 3;
    memcpy(p + n, ori, SL_ORI_LEN);
    n += SL_ORI_LEN;
    memcpy(p + n, ".CA.", 4);
    n += 4;
    p[n++] = (uint8_t)run;
    for (int d = 8; d >= 0; d--) {
        p[n + (size_t)d] = (uint8_t)('0' + seq % 10);
        seq /= 10;
    }
    n += 9;
    memcpy(p + n, ".TXT\nOLN/A1234567", 17);
    n += 17;
    return n;
}

/* Append query `seq` of run `run` to line k. */
static void put_query(struct bench_gen *g, int k, char run, uint64_t seq)
{
    if (g->nats) {
        /* PUB dq.CA _INBOX.<k>.<run><seq> <n> CRLF <DQ> CRLF */
        uint8_t dq[64];
        size_t n = write_dq(dq, g->ori[k], run, seq);
        char inbox[40];
        snprintf(inbox, sizeof inbox, "_INBOX.%d.%.10s", k, (const char *)dq + 3 + SL_ORI_LEN + 4);
        bench_nats_pub(g->nl[k], "dq.CA", inbox, dq, n);
        return;
    }
    struct sl_buf *out = &g->c[k]->out;
    if (g->tr) {
        g->tr->put(g->tr->arg, out, k, run, seq);
        return;
    }
    size_t at = sl_frame_begin(out);
    uint8_t *p = sl_buf_reserve(out, 64);
    sl_buf_commit(out, write_dq(p, g->ori[k], run, seq));
    sl_frame_end(out, at);
}

size_t bench_query_bytes(void)
{
    return 3 + SL_ORI_LEN + 4 + 10 + 17;
}

/* One reply.  Returns 1 when it belonged to this run. */
static int take_reply(struct bench_gen *g, const uint8_t *p, uint32_t len, char run,
                      int64_t t0, double rate, int64_t warmup_ns, uint8_t *seen, uint64_t total,
                      struct sl_bench_run *res, int64_t now)
{
    struct sl_outhdr h;
    const char *body;
    size_t blen;
    struct sl_msg_err e;
    if (sl_msg_parse_output((const char *)p, len, &h, &body, &blen, &e) != 0) {
        res->errors++;
        if (!res->first_error[0])
            snprintf(res->first_error, sizeof res->first_error, "unreadable reply: %.120s",
                     e.detail);
        return 0;
    }
    int ours = h.ctl[0] == run && strlen(h.ctl) == 10;
    if (g->tr) {
        /* The scenario's own traffic: any reply key; the scenario judges the answer. */
        if (!ours) {
            if (!h.ctl[0]) { /* an ER or SM that names no query */
                res->errors++;
                if (!res->first_error[0])
                    snprintf(res->first_error, sizeof res->first_error, "%s: %.*s", h.key,
                             (int)(blen > 120 ? 120 : blen), body);
            }
            return 0;
        }
        uint64_t q = strtoull(h.ctl + 1, NULL, 10);
        if (q >= total || (seen[q / 8] >> (q % 8)) & 1) {
            res->errors++;
            if (!res->first_error[0])
                snprintf(res->first_error, sizeof res->first_error, "unexpected reply %s",
                         h.ctl);
            return 0;
        }
        char why[160];
        why[0] = '\0';
        if (g->tr->check(g->tr->arg, q, &h, body, blen, why, sizeof why) != 0) {
            /* Answered, but not as it should be: counted as an error, not as lost. */
            seen[q / 8] |= (uint8_t)(1u << (q % 8));
            res->errors++;
            if (!res->first_error[0])
                snprintf(res->first_error, sizeof res->first_error, "reply %s: %s", h.ctl,
                         why);
            return 0;
        }
    } else if (strcmp(h.key, "DR") != 0) {
        if (ours || !h.ctl[0]) {
            res->errors++;
            if (!res->first_error[0])
                snprintf(res->first_error, sizeof res->first_error, "%s: %.*s", h.key,
                         (int)(blen > 120 ? 120 : blen), body);
        }
        return 0;
    }
    if (!ours)
        return 0; /* a late reply of an earlier run */
    uint64_t seq = strtoull(h.ctl + 1, NULL, 10);
    if (seq >= total || (seen[seq / 8] >> (seq % 8)) & 1) {
        res->errors++;
        if (!res->first_error[0])
            snprintf(res->first_error, sizeof res->first_error, "unexpected reply %s", h.ctl);
        return 0;
    }
    seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
    res->received++;
    int64_t due = (int64_t)((double)seq * 1e9 / rate);
    if (due >= warmup_ns) {
        int64_t lat = now - (t0 + due);
        sl_hist_record(&res->hist, lat > 0 ? (uint64_t)lat / 1000 : 0);
    }
    (void)g;
    return 1;
}

/* An epoll set of the signalfd (data 0, when sfd >= 0) and line k's fd (data 1 + k), for
 * input; -1 with errno. */
static int gen_epoll(const struct bench_gen *g, int sfd)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -1;
    for (int i = sfd >= 0 ? 0 : 1; i <= g->n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, i == 0 ? sfd : line_fd(g, i - 1), &ev) < 0) {
            int e = errno;
            close(epfd);
            errno = e;
            return -1;
        }
    }
    return epfd;
}

/* Watch line k (fd) for output room too (on), or for input only. */
static int gen_watch(int epfd, int fd, int k, int on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0u),
                             .data.u32 = (uint32_t)k + 1};
    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Wait for the set with a timeout to the nanosecond (the next query may be due in 50 us:
 * epoll_wait's milliseconds would send it late).  epoll_pwait2 is Linux 5.11; before it,
 * ppoll on the epoll descriptor itself, then collect without waiting. */
static int gen_wait(int epfd, struct epoll_event *ev, int max, const struct timespec *ts,
                    int *no_pwait2)
{
    if (!*no_pwait2) {
        int n = epoll_pwait2(epfd, ev, max, ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        *no_pwait2 = 1;
    }
    struct pollfd p = {epfd, POLLIN, 0};
    int r = ppoll(&p, 1, ts, NULL);
    if (r <= 0)
        return r;
    return epoll_wait(epfd, ev, max, 0);
}

int bench_gen_run(struct bench_gen *g, char run, double rate, double duration_s,
                  double warmup_s, int sfd, struct sl_bench_run *res)
{
    memset(res, 0, sizeof *res);
    sl_hist_init(&res->hist);
    res->rate = rate;
    res->duration_s = duration_s;
    uint64_t total = (uint64_t)llround(rate * duration_s);
    if (total == 0)
        total = 1;
    res->warmup_s = warmup_s;
    int64_t warmup_ns = (int64_t)(warmup_s * 1e9);
    uint8_t *seen = sl_xcalloc((size_t)(total / 8 + 1), 1);
    /* The lines and the signalfd stay in one epoll set for the whole run: poll(2) would
     * register on and unregister from every line's wait queue at each of the ~2 wake-ups
     * per query (about a tenth of the generator's CPU at 15,000 queries/s). */
    struct epoll_event fired[BENCH_MAX_CONNS + 1];
    uint8_t ready[BENCH_MAX_CONNS + 1];
    uint8_t watch_out[BENCH_MAX_CONNS] = {0};
    int no_pwait2 = 0;
    int epfd = gen_epoll(g, sfd);
    if (epfd < 0) {
        snprintf(res->first_error, sizeof res->first_error, "epoll: %s", strerror(errno));
        free(seen);
        return -1;
    }
    int rc = 0;
    uint64_t next = 0;
    int64_t t0 = sl_now_ns() + 1000000; /* 1 ms from now */
    int64_t last_reply = t0;
    int64_t end_ns = t0 + (int64_t)(duration_s * 1e9);
    int64_t drain_until = 0;
    uint64_t answered = 0;

    for (;;) {
        int64_t now = sl_now_ns();
        /* 1. everything due by now */
        if (next < total && !res->overload) {
            uint64_t due = now < t0 ? 0 : (uint64_t)((double)(now - t0) * rate / 1e9) + 1;
            if (due > total)
                due = total;
            for (; next < due; next++) {
                int k = (int)(next % (uint64_t)g->n);
                if (sl_buf_used(line_out(g, k)) > GEN_OUT_CAP) {
                    res->overload = 1;
                    snprintf(res->first_error, sizeof res->first_error,
                             "the generator could not send: %u bytes waiting on one line",
                             GEN_OUT_CAP);
                    break;
                }
                put_query(g, k, run, next);
                res->sent++;
                int64_t lag = now - (t0 + (int64_t)((double)next * 1e9 / rate));
                if (lag > 1000000)
                    res->sent_late++;
                if (lag > 0 && (uint64_t)lag / 1000 > res->max_send_lag_us)
                    res->max_send_lag_us = (uint64_t)lag / 1000;
            }
            for (int k = 0; k < g->n; k++)
                if (sl_buf_used(line_out(g, k)) && line_flush(g, k) < 0) {
                    snprintf(res->first_error, sizeof res->first_error, "line failed: %s",
                             line_err(g, k));
                    rc = -1;
                    goto done;
                }
        }
        /* 2. finished?  all answered, or the drain window is over */
        if (next >= total || res->overload) {
            if (!drain_until)
                drain_until = (now > end_ns ? now : end_ns) + (int64_t)GEN_DRAIN_MS * 1000000;
            if (answered >= res->sent || now >= drain_until)
                break;
        }
        /* 3. sleep until the next send, or a reply */
        int64_t wake = next < total && !res->overload
                           ? t0 + (int64_t)((double)next * 1e9 / rate)
                           : drain_until;
        int64_t wait_ns = wake - now;
        for (int k = 0; k < g->n; k++) {
            int want = sl_buf_used(line_out(g, k)) || line_want_write(g, k);
            if (want != watch_out[k] && gen_watch(epfd, line_fd(g, k), k, want) == 0)
                watch_out[k] = (uint8_t)want;
        }
        struct timespec ts = {wait_ns > 0 ? wait_ns / 1000000000 : 0,
                              wait_ns > 0 ? wait_ns % 1000000000 : 0};
        int pr = gen_wait(epfd, fired, g->n + 1, &ts, &no_pwait2);
        if (pr < 0 && errno != EINTR) {
            rc = -1;
            goto done;
        }
        if (pr <= 0)
            continue;
        memset(ready, 0, (size_t)g->n + 1);
        for (int i = 0; i < pr; i++)
            ready[fired[i].data.u32] = 1;
        if (ready[0]) {
            rc = 1; /* interrupted */
            goto done;
        }
        now = sl_now_ns();
        for (int k = 0; k < g->n; k++) {
            if (!ready[1 + k])
                continue;
            int r = g->nats ? bench_nats_read(g->nl[k]) : sl_conn_read(g->c[k]);
            struct sl_buf *in = g->nats ? &g->nl[k]->in : &g->c[k]->in;
            for (;;) {
                const uint8_t *p;
                uint32_t len;
                size_t consume;
                if (g->nats) {
                    struct nats_msg m;
                    int st = bench_nats_next(g->nl[k], &m);
                    if (st < 0) {
                        r = -1;
                        break;
                    }
                    if (st == 0)
                        break;
                    p = m.payload;
                    len = m.len;
                    consume = m.consume;
                } else {
                    if (sl_frame_peek(in, SL_FRAME_DEFAULT_MAX, &p, &len) != SL_FRAME_OK)
                        break;
                    consume = SL_FRAME_HDR + len;
                }
                if (len > 0 && take_reply(g, p, len, run, t0, rate, warmup_ns, seen, total, res,
                                          now)) {
                    answered++;
                    last_reply = now;
                }
                sl_buf_consume(in, consume);
            }
            if (r < 0) {
                snprintf(res->first_error, sizeof res->first_error, "line closed: %s",
                         line_err(g, k));
                rc = -1;
                goto done;
            }
            if ((sl_buf_used(line_out(g, k)) || line_want_write(g, k)) && line_flush(g, k) < 0) {
                rc = -1;
                goto done;
            }
        }
        answered = res->received + res->errors;
    }
done:
    res->lost = res->sent > res->received ? res->sent - res->received : 0;
    double span = (double)(last_reply - t0) / 1e9;
    if (span < duration_s)
        span = duration_s;
    res->span_s = span;
    res->achieved = (double)res->received / span;
    close(epfd);
    free(seen);
    return rc;
}
