/*
 * nats.c - the peer of `stateline bench switch`: the same request/reply traffic through
 * nats-server (docs/performance.md), with a client written here for the NATS text
 * protocol, over the same mutual TLS.
 *
 * The protocol (nats.io "Client Protocol"), as far as the benchmark uses it:
 *   server -> client   INFO {json} CRLF           first, in plain text; with tls_required
 *                                                the client then starts TLS on the socket
 *   client -> server   CONNECT {json} CRLF       verbose false: no +OK after each command
 *                      SUB <subject> <sid> CRLF
 *                      PUB <subject> [reply-to] <#bytes> CRLF <payload> CRLF
 *                      PING CRLF / PONG CRLF
 *   server -> client   MSG <subject> <sid> [reply-to] <#bytes> CRLF <payload> CRLF
 *                      PING CRLF (answered with PONG), PONG CRLF, +OK, -ERR '<text>'
 *
 * A requester line subscribes to its own inbox (_INBOX.<k>.*) and publishes each query to
 * "dq.CA" with a reply subject in that inbox; the responder line subscribes to "dq.CA" and
 * publishes each answer to the query's reply subject.  nats-server routes both, as the hub
 * routes a DQ to CA and its DR back to the requester's line.
 *
 * Hand-written rather than with libnats (Debian's libnats-dev): the benchmark needs five
 * commands, non-blocking I/O in its own poll loop, and the same OpenSSL context handling as
 * the rest of the generator; libnats would bring its own threads and buffering into the
 * measurement.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench/bench_int.h"
#include "stateline/core.h"
#include "stateline/frame.h"

SSL_CTX *bench_nats_ctx(const char *cert, const char *key, const char *ca, char *err,
                        size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        snprintf(err, errlen, "TLS context for nats: %s",
                 ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* The output buffer grows (and may move) while a write waits for the socket: a retry
     * then passes the same bytes, longer, from another address. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return ctx;
}

void bench_nats_free(struct nats_line *n)
{
    if (!n)
        return;
    if (n->ssl)
        SSL_free(n->ssl);
    if (n->fd >= 0)
        close(n->fd);
    sl_buf_free(&n->in);
    sl_buf_free(&n->out);
    free(n);
}

/* Read one CRLF-terminated line in plain text (the INFO before TLS), blocking. */
static int read_plain_line(int fd, char *line, size_t cap, int timeout_ms)
{
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0)
            return -1;
        ssize_t r = read(fd, line + n, 1); /* byte by byte: TLS starts right after */
        if (r <= 0)
            return -1;
        if (line[n++] == '\n') {
            line[n] = '\0';
            return 0;
        }
    }
    return -1;
}

int bench_nats_read(struct nats_line *n)
{
    int total = 0;
    for (;;) {
        uint8_t *p = sl_buf_reserve(&n->in, 16384);
        int r = SSL_read(n->ssl, p, 16384);
        if (r > 0) {
            sl_buf_commit(&n->in, (size_t)r);
            total += r;
            continue;
        }
        int e = SSL_get_error(n->ssl, r);
        if (e == SSL_ERROR_WANT_READ)
            return total;
        if (e == SSL_ERROR_WANT_WRITE) {
            n->want_write = 1;
            return total;
        }
        snprintf(n->err, sizeof n->err, "nats line closed (%d)", e);
        return total > 0 ? total : -1;
    }
}

int bench_nats_flush(struct nats_line *n)
{
    n->want_write = 0;
    while (sl_buf_used(&n->out) > 0) {
        size_t len = sl_buf_used(&n->out);
        int w = SSL_write(n->ssl, sl_buf_head(&n->out), len > 1048576 ? 1048576 : (int)len);
        if (w > 0) {
            sl_buf_consume(&n->out, (size_t)w);
            continue;
        }
        int e = SSL_get_error(n->ssl, w);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            n->want_write = e == SSL_ERROR_WANT_WRITE;
            return 1;
        }
        snprintf(n->err, sizeof n->err, "nats write failed (%d)", e);
        return -1;
    }
    return 0;
}

void bench_nats_pub(struct nats_line *n, const char *subject, const char *reply,
                    const void *payload, size_t len)
{
    if (reply)
        sl_buf_printf(&n->out, "PUB %s %s %zu\r\n", subject, reply, len);
    else
        sl_buf_printf(&n->out, "PUB %s %zu\r\n", subject, len);
    sl_buf_append(&n->out, payload, len);
    sl_buf_append(&n->out, "\r\n", 2);
}

int bench_nats_next(struct nats_line *n, struct nats_msg *m)
{
    for (;;) {
        size_t avail = sl_buf_used(&n->in);
        if (avail == 0)
            return 0; /* (an empty buffer may have no storage at all) */
        const char *s = (const char *)sl_buf_head(&n->in);
        const char *eol = memchr(s, '\n', avail);
        if (!eol)
            return 0;
        size_t llen = (size_t)(eol - s) + 1;
        if (llen >= 4 && strncmp(s, "MSG ", 4) == 0) {
            /* MSG <subject> <sid> [reply-to] <#bytes> */
            const char *tok[5];
            size_t tl[5];
            int nt = 0;
            const char *p = s + 4, *end = eol;
            while (p < end && nt < 5) {
                while (p < end && (*p == ' ' || *p == '\r'))
                    p++;
                if (p >= end)
                    break;
                const char *q = p;
                while (q < end && *q != ' ' && *q != '\r')
                    q++;
                tok[nt] = p;
                tl[nt] = (size_t)(q - p);
                nt++;
                p = q;
            }
            if (nt != 3 && nt != 4) {
                snprintf(n->err, sizeof n->err, "nats: bad MSG line");
                return -1;
            }
            unsigned long bytes = strtoul(tok[nt - 1], NULL, 10);
            if (bytes > SL_FRAME_DEFAULT_MAX) {
                snprintf(n->err, sizeof n->err, "nats: MSG of %lu bytes", bytes);
                return -1;
            }
            if (avail < llen + bytes + 2)
                return 0; /* the payload is not all here yet */
            m->subject = tok[0];
            m->subject_len = tl[0];
            m->reply = nt == 4 ? tok[2] : NULL;
            m->reply_len = nt == 4 ? tl[2] : 0;
            m->payload = (const uint8_t *)s + llen;
            m->len = (uint32_t)bytes;
            m->consume = llen + bytes + 2;
            return 1;
        }
        if (llen >= 4 && strncmp(s, "PING", 4) == 0)
            sl_buf_append(&n->out, "PONG\r\n", 6);
        else if (llen >= 4 && strncmp(s, "-ERR", 4) == 0) {
            snprintf(n->err, sizeof n->err, "nats-server: %.*s", (int)(llen > 100 ? 100 : llen),
                     s);
            return -1;
        }
        /* PONG, +OK, INFO (cluster updates): nothing to do */
        sl_buf_consume(&n->in, llen);
    }
}

int bench_nats_dial(const char *hostport, SSL_CTX *ctx, const char *sub,
                    struct nats_line **out, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    unsigned slen;
    *out = NULL;
    if (sl_parse_hostport(hostport, &ss, &slen) != 0) {
        snprintf(err, errlen, "bad address %s", hostport);
        return -1;
    }
    struct nats_line *n = sl_xcalloc(1, sizeof *n);
    n->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (n->fd < 0 || connect(n->fd, (struct sockaddr *)&ss, slen) != 0) {
        snprintf(err, errlen, "connect %s: %s", hostport, strerror(errno));
        bench_nats_free(n);
        return -1;
    }
    int one = 1;
    setsockopt(n->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char info[4096];
    if (read_plain_line(n->fd, info, sizeof info, 5000) != 0 || strncmp(info, "INFO ", 5) != 0) {
        snprintf(err, errlen, "nats-server at %s sent no INFO", hostport);
        bench_nats_free(n);
        return -1;
    }
    n->ssl = SSL_new(ctx);
    SSL_set_fd(n->ssl, n->fd);
    if (SSL_connect(n->ssl) != 1) {
        snprintf(err, errlen, "TLS with nats-server: %s",
                 ERR_reason_error_string(ERR_get_error()));
        bench_nats_free(n);
        return -1;
    }
    /* CONNECT, the subscription, and a PING whose PONG says both were taken. */
    sl_buf_printf(&n->out,
                  "CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":true,"
                  "\"name\":\"stateline-bench\",\"lang\":\"c\",\"version\":\"0.1\","
                  "\"protocol\":1}\r\nSUB %s 1\r\nPING\r\n", sub);
    if (bench_nats_flush(n) != 0) {
        snprintf(err, errlen, "%s", n->err);
        bench_nats_free(n);
        return -1;
    }
    int64_t until = sl_now_ms() + 5000;
    for (;;) {
        size_t avail = sl_buf_used(&n->in);
        const char *s = avail ? (const char *)sl_buf_head(&n->in) : NULL;
        const char *eol = avail ? memchr(s, '\n', avail) : NULL;
        if (eol) {
            size_t llen = (size_t)(eol - s) + 1;
            if (strncmp(s, "PONG", 4) == 0) {
                sl_buf_consume(&n->in, llen);
                break;
            }
            if (strncmp(s, "-ERR", 4) == 0) {
                snprintf(err, errlen, "nats-server refused: %.*s", (int)(llen > 100 ? 100 : llen),
                         s);
                bench_nats_free(n);
                return -1;
            }
            sl_buf_consume(&n->in, llen);
            continue;
        }
        if (sl_now_ms() > until) {
            snprintf(err, errlen, "nats-server did not answer CONNECT");
            bench_nats_free(n);
            return -1;
        }
        uint8_t *p = sl_buf_reserve(&n->in, 4096);
        int r = SSL_read(n->ssl, p, 4096);
        if (r <= 0) {
            snprintf(err, errlen, "nats-server closed the line after CONNECT");
            bench_nats_free(n);
            return -1;
        }
        sl_buf_commit(&n->in, (size_t)r);
    }
    /* From here on, non-blocking, driven by the caller's poll loop. */
    int fl = fcntl(n->fd, F_GETFL);
    if (fl < 0 || fcntl(n->fd, F_SETFL, fl | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "cannot make the nats line non-blocking");
        bench_nats_free(n);
        return -1;
    }
    *out = n;
    return 0;
}

/* ---- the peer's responder (a child process) --------------------------------------- */

static const char nats_usage[] =
    "usage: stateline bench nats-responder --port P --certs DIR --as ORI [--line M]\n"
    "                                      [--reply-size N]\n";

int sl_bench_nats_responder_main(int argc, char **argv)
{
    const char *port = NULL, *certs = NULL, *as = NULL, *member = "CA";
    long reply_size = 256;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fputs(nats_usage, stderr);
            return 2;
        }
        if (!strcmp(argv[i], "--port"))
            port = v;
        else if (!strcmp(argv[i], "--certs"))
            certs = v;
        else if (!strcmp(argv[i], "--as"))
            as = v;
        else if (!strcmp(argv[i], "--line"))
            member = v;
        else if (!strcmp(argv[i], "--reply-size"))
            reply_size = strtol(v, NULL, 10);
        else {
            fputs(nats_usage, stderr);
            return 2;
        }
    }
    if (!port || !certs || !as || strlen(as) != SL_ORI_LEN || reply_size < 1 ||
        reply_size > 65536) {
        fputs(nats_usage, stderr);
        return 2;
    }
    char cert[1024], key[1024], ca[1024], addr[64], err[256];
    snprintf(cert, sizeof cert, "%s/%s-answer.crt", certs, member);
    snprintf(key, sizeof key, "%s/%s-answer.key", certs, member);
    snprintf(ca, sizeof ca, "%s/ca.crt", certs);
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    SSL_CTX *ctx = bench_nats_ctx(cert, key, ca, err, sizeof err);
    if (!ctx) {
        SL_ERROR("bench", "nats responder: %s", err);
        return 1;
    }
    struct nats_line *n = NULL;
    int64_t until = sl_now_ms() + 10000; /* nats-server may still be starting */
    while (bench_nats_dial(addr, ctx, "dq.CA", &n, err, sizeof err) != 0) {
        if (sl_now_ms() > until) {
            SL_ERROR("bench", "nats responder: %s", err);
            SSL_CTX_free(ctx);
            return 1;
        }
        usleep(50000);
    }
    size_t text_len = (size_t)reply_size;
    char *text = sl_xmalloc(text_len);
    bench_reply_text(text, text_len);
    struct sl_msg scratch;
    memset(&scratch, 0, sizeof scratch);
    struct sl_buf dr = SL_BUF_INIT;
    unsigned seq = 0;
    char reply[256];

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    printf("READY\n");
    fflush(stdout);
    int rc = 0;
    for (;;) {
        struct pollfd p[2] = {{sfd, POLLIN, 0},
                              {n->fd, (short)(POLLIN | (n->want_write ? POLLOUT : 0)), 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents)
            break;
        int r = bench_nats_read(n);
        struct nats_msg m;
        int st;
        while ((st = bench_nats_next(n, &m)) == 1) {
            if (m.reply && m.reply_len < sizeof reply) {
                sl_buf_reset(&dr);
                if (bench_direct_reply(as, text, text_len, &seq, &scratch, m.payload, m.len,
                                       &dr) == 1) {
                    memcpy(reply, m.reply, m.reply_len);
                    reply[m.reply_len] = '\0';
                    bench_nats_pub(n, reply, NULL, sl_buf_head(&dr), sl_buf_used(&dr));
                }
            }
            sl_buf_consume(&n->in, m.consume);
        }
        if (st < 0 || r < 0 || bench_nats_flush(n) < 0) {
            SL_INFO("bench", "nats responder: line closed: %s", n->err);
            break;
        }
    }
    sl_buf_free(&dr);
    free(text);
    bench_nats_free(n);
    SSL_CTX_free(ctx);
    close(sfd);
    return rc;
}
