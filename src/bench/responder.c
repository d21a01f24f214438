/*
 * responder.c - the minimal responder of `stateline bench switch` (see stateline/bench.h).
 *
 * One process, one thread, poll(2) over a handful of descriptors: the answering line to
 * the hub, a loopback TLS listener for the direct baseline, and the direct connections.
 * Per query it does what a state's gateway must do at the least: parse the message, and
 * append a reply of a fixed size to the line's output buffer.  Output is flushed once per
 * poll iteration, so replies that arrive together leave together.
 *
 *   from the hub:  output form (header + verified requester)  ->  reply in input form
 *                  DR.<as>.<requester ORI>.<control>.TXT LF <text>
 *   direct:        input form DQ  ->  the DR in the switch's output form (what the hub
 *                  would have delivered), so the generator reads the same bytes both ways
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include "bench/bench_int.h"
#include "stateline/bench.h"
#include "stateline/conn.h"
#include "stateline/core.h"
#include "stateline/frame.h"
#include "stateline/msg.h"

#define MAX_DIRECT 64

struct responder {
    struct sl_conn *hub;
    struct sl_conn *direct[MAX_DIRECT];
    int ndirect;
    int lfd;
    struct sl_tls *client_tls;
    struct sl_tls *server_tls;
    char as[SL_ORI_LEN + 1];
    char *text;           /* the reply text, reply_size bytes */
    size_t text_len;
    struct sl_msg msg;    /* reused for every direct query */
    unsigned out_seq;
    uint64_t answered;
};

/* One frame from the hub: a query in output form. */
static void answer_hub(struct responder *r, const uint8_t *p, uint32_t len)
{
    struct sl_outhdr h;
    const char *body;
    size_t blen;
    struct sl_msg_err e;
    if (sl_msg_parse_output((const char *)p, len, &h, &body, &blen, &e) != 0) {
        SL_WARN("bench", "responder: unreadable message from the hub: %s", e.detail);
        return;
    }
    const struct sl_key_info *ki = sl_key_lookup(h.key);
    if (!ki || !ki->reply)
        return; /* an ER, SM or AM: nothing to answer */
    struct sl_buf *out = &r->hub->out;
    size_t at = sl_frame_begin(out);
    sl_buf_printf(out, "%s.%s.%s", ki->reply, r->as, h.ori);
    if (h.ctl[0])
        sl_buf_printf(out, ".%s", h.ctl);
    sl_buf_append(out, ".TXT\n", 5);
    sl_buf_append(out, r->text, r->text_len);
    sl_frame_end(out, at);
    r->answered++;
}

void bench_reply_text(char *text, size_t len)
{
    /* A plausible DR: status lines, padded with spaces to the wanted size. */
    static const char head[] = "STATUS/VALID CLASS/C EXP/20300101 NOT A REAL RECORD - BENCHMARK";
    for (size_t i = 0; i < len; i++)
        text[i] = i < sizeof head - 1 ? head[i] : (i % 64 == 63 ? '\n' : ' ');
}

int bench_direct_reply(const char *as, const char *text, size_t text_len, unsigned *seq,
                       struct sl_msg *scratch, const uint8_t *p, uint32_t len,
                       struct sl_buf *out)
{
    struct sl_msg_err e;
    int rc = 0;
    if (sl_msg_parse((const char *)p, len, scratch, &e) != 0) {
        SL_WARN("bench", "responder: unreadable direct query: %s", e.detail);
        sl_msg_clear(scratch);
        return -1;
    }
    const struct sl_key_info *ki = sl_key_lookup(scratch->key);
    if (ki && ki->reply) {
        struct sl_outhdr h;
        memset(&h, 0, sizeof h);
        sl_strlcpy(h.key, ki->reply, sizeof h.key);
        sl_strlcpy(h.ori, as, sizeof h.ori);
        h.rx_time = h.tx_time = sl_wall_us() / 1000000;
        *seq = (*seq + 1) % 100000;
        h.rx_seq = h.tx_seq = *seq;
        sl_strlcpy(h.dest, scratch->ori, sizeof h.dest);
        sl_strlcpy(h.ctl, scratch->ctl, sizeof h.ctl);
        sl_msg_format_output(&h, text, text_len, out);
        rc = 1;
    }
    sl_msg_clear(scratch);
    return rc;
}

/* One frame on a direct line: a query in input form. */
static void answer_direct(struct responder *r, struct sl_conn *c, const uint8_t *p, uint32_t len)
{
    size_t at = sl_frame_begin(&c->out);
    if (bench_direct_reply(r->as, r->text, r->text_len, &r->out_seq, &r->msg, p, len,
                           &c->out) == 1) {
        sl_frame_end(&c->out, at);
        r->answered++;
    } else {
        c->out.len = at; /* nothing to send: drop the reserved header */
    }
}

/* Read and answer what a line has.  -1 when the line is gone. */
static int serve(struct responder *r, struct sl_conn *c, int is_hub)
{
    int n = sl_conn_read(c);
    for (;;) {
        const uint8_t *p;
        uint32_t len;
        enum sl_frame_status st = sl_frame_peek(&c->in, SL_FRAME_DEFAULT_MAX, &p, &len);
        if (st == SL_FRAME_AGAIN)
            break;
        if (st == SL_FRAME_TOO_BIG)
            return -1;
        if (len > 0) {
            if (is_hub)
                answer_hub(r, p, len);
            else
                answer_direct(r, c, p, len);
        }
        sl_buf_consume(&c->in, SL_FRAME_HDR + len);
    }
    if (n < 0)
        return -1;
    return sl_conn_flush(c) < 0 ? -1 : 0;
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static void accept_direct(struct responder *r)
{
    for (;;) {
        int fd = accept4(r->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct sl_conn *c = NULL;
        if (r->ndirect == MAX_DIRECT || sl_conn_accept(r->server_tls, fd, &c) != 0) {
            if (!c)
                close(fd);
            else
                sl_conn_free(c);
            continue;
        }
        r->direct[r->ndirect++] = c;
    }
}

static const char usage_text[] =
    "usage: stateline bench responder --hub HOST:PORT --certs DIR --as ORI [--line M]\n"
    "                                 [--reply-size N]\n";

int sl_bench_responder_main(int argc, char **argv)
{
    const char *hub = NULL, *certs = NULL, *as = NULL, *member = "CA";
    long reply_size = 256;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fputs(usage_text, stderr);
            return 2;
        }
        if (!strcmp(argv[i], "--hub"))
            hub = v;
        else if (!strcmp(argv[i], "--certs"))
            certs = v;
        else if (!strcmp(argv[i], "--as"))
            as = v;
        else if (!strcmp(argv[i], "--line"))
            member = v;
        else if (!strcmp(argv[i], "--reply-size"))
            reply_size = strtol(v, NULL, 10);
        else {
            fputs(usage_text, stderr);
            return 2;
        }
    }
    if (!hub || !certs || !as || strlen(as) != SL_ORI_LEN || reply_size < 1 ||
        reply_size > 65536) {
        fputs(usage_text, stderr);
        return 2;
    }

    struct responder r;
    memset(&r, 0, sizeof r);
    r.lfd = -1;
    sl_strlcpy(r.as, as, sizeof r.as);
    r.text_len = (size_t)reply_size;
    r.text = sl_xmalloc(r.text_len);
    bench_reply_text(r.text, r.text_len);

    int sfd = -1;
    char cert[1024], key[1024], ca[1024], hcert[1024], hkey[1024], err[256];
    snprintf(cert, sizeof cert, "%s/%s-answer.crt", certs, member);
    snprintf(key, sizeof key, "%s/%s-answer.key", certs, member);
    snprintf(ca, sizeof ca, "%s/ca.crt", certs);
    snprintf(hcert, sizeof hcert, "%s/hub.crt", certs);
    snprintf(hkey, sizeof hkey, "%s/hub.key", certs);
    int rc = 1, port = 0;
    if (sl_tls_new_client(cert, key, ca, &r.client_tls, err, sizeof err) != 0 ||
        sl_tls_new_server(hcert, hkey, ca, &r.server_tls, err, sizeof err) != 0) {
        SL_ERROR("bench", "responder: TLS: %s", err);
        goto out;
    }
    /* The hub may still be starting: retry for up to 10 s. */
    int64_t until = sl_now_ms() + 10000;
    while (sl_conn_dial(hub, r.client_tls, member, "answer", NULL, 2000, &r.hub, err,
                        sizeof err) != 0) {
        if (sl_now_ms() > until) {
            SL_ERROR("bench", "responder: cannot reach the hub at %s: %s", hub, err);
            goto out;
        }
        usleep(50000);
    }
    sl_conn_set_nonblocking(r.hub);
    r.lfd = listen_loopback(&port);
    if (r.lfd < 0) {
        SL_ERROR("bench", "responder: cannot listen on loopback: %s", strerror(errno));
        goto out;
    }
    /* From here SIGTERM / SIGINT end the loop through a signalfd (no handler, no global
     * flag); before, while dialling, they simply end the process. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    printf("READY %d\n", port);
    fflush(stdout);

    struct pollfd pfd[MAX_DIRECT + 3];
    for (;;) {
        int n = 0;
        pfd[n++] = (struct pollfd){sfd, POLLIN, 0};
        pfd[n++] = (struct pollfd){r.lfd, POLLIN, 0};
        pfd[n++] = (struct pollfd){r.hub->fd,
                                   (short)(POLLIN | (r.hub->want_write ? POLLOUT : 0)), 0};
        for (int i = 0; i < r.ndirect; i++)
            pfd[n++] = (struct pollfd){r.direct[i]->fd,
                                       (short)(POLLIN | (r.direct[i]->want_write ? POLLOUT : 0)),
                                       0};
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents) {
            rc = 0;
            break;
        }
        if (pfd[2].revents && serve(&r, r.hub, 1) < 0) {
            /* The hub went away: the benchmark is over (or failed); nothing to answer. */
            SL_INFO("bench", "responder: hub line closed: %s", r.hub->err);
            rc = 0;
            break;
        }
        for (int i = 0; i < r.ndirect; i++) {
            if (!pfd[3 + i].revents)
                continue;
            if (serve(&r, r.direct[i], 0) < 0) {
                sl_conn_free(r.direct[i]);
                r.direct[i] = NULL;
            }
        }
        int k = 0; /* compact closed direct lines */
        for (int i = 0; i < r.ndirect; i++)
            if (r.direct[i])
                r.direct[k++] = r.direct[i];
        r.ndirect = k;
        if (pfd[1].revents)
            accept_direct(&r);
    }
out:
    for (int i = 0; i < r.ndirect; i++)
        sl_conn_free(r.direct[i]);
    if (r.hub)
        sl_conn_free(r.hub);
    if (r.lfd >= 0)
        close(r.lfd);
    sl_tls_free(r.client_tls);
    sl_tls_free(r.server_tls);
    if (sfd >= 0)
        close(sfd);
    free(r.text);
    return rc;
}
