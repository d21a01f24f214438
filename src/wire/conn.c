/*
 * conn.c - a member line: non-blocking server side for the loop, blocking client side for
 * tools and tests (see conn.h, docs/protocol.md).
 *
 * Reading.  sl_conn_read loops SSL_read/read until the socket has nothing more
 * (WANT_READ/EAGAIN, or a plain read shorter than its room) or a per-call budget is
 * spent.  OpenSSL reads ahead (many records per read(2)), so bytes can wait inside the
 * SSL where level-triggered epoll cannot see them: the TLS loop stops as soon as
 * SSL_has_pending() says the SSL holds nothing (whatever is left is in the kernel socket
 * and epoll reports it again), and never while it holds something, so the budget does
 * not apply to it.  Each SSL_read is given at least READ_ROOM (> one record's 16 KiB of
 * plaintext).
 *
 * Closing.  A clean TLS close_notify, an unclean EOF (OpenSSL 3 reports it as
 * SSL_R_UNEXPECTED_EOF_WHILE_READING; we handle it explicitly instead of hiding it with
 * SSL_OP_IGNORE_UNEXPECTED_EOF) and a plain EOF all mean "the line is closed": bytes that
 * came before the EOF are delivered first (read returns >0, read_eof is set) and the next
 * sl_conn_read returns -1, so the owner can tell a truncated last frame from a clean end.
 *
 * Writing.  sl_conn_flush hands SSL_write the whole pending output: with partial-write
 * mode each call seals up to one 16 KiB record, so many small frames share a record and a
 * syscall.  Because `out` only grows at its tail, a retry after WANT_WRITE passes the same
 * bytes (possibly moved, which ACCEPT_MOVING_WRITE_BUFFER allows) and at least as many.
 *
 * Plain lines authenticate with one frame, "AUTH <member> <role> <token>" (ASCII, single
 * spaces); the answer is the frame "AUTH OK" or "AUTH ERR <reason>" followed by a close.
 * Tokens are compared in constant time (CRYPTO_memcmp over equal lengths).
 */
#include "stateline/conn.h"
#include "stateline/core.h"
#include "stateline/frame.h"
#include "wire/wire_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define READ_ROOM (32u * 1024u)     /* free space given to each read */
#define READ_BUDGET (256u * 1024u)  /* bytes per sl_conn_read before yielding */
#define AUTH_MAX 256u               /* longest acceptable AUTH frame */

/* SSL_get_error is right only when the thread's error queue was empty before the call.
 * ERR_clear_error empties it by clearing (and freeing the data of) all 16 slots, every
 * time: 1% of the switch's CPU, called before every SSL_read and SSL_write.  The queue is
 * nearly always empty already, which ERR_peek_error sees from its head alone. */
static void ssl_errors_reset(void)
{
    if (ERR_peek_error() != 0)
        ERR_clear_error();
}

static void set_nodelay(int fd)
{
    int one = 1;
    /* We coalesce frames ourselves; Nagle would only add latency to the last one. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static struct sl_conn *conn_new(int fd)
{
    struct sl_conn *c = sl_xcalloc(1, sizeof *c);
    c->fd = fd;
    sl_buf_init(&c->in);
    sl_buf_init(&c->out);
    return c;
}

static void conn_fail(struct sl_conn *c, const char *fmt, const char *detail)
{
    c->failed = 1;
    c->state = SL_CONN_CLOSED;
    snprintf(c->err, sizeof c->err, fmt, detail);
}

int sl_conn_accept(struct sl_tls *tls, int fd, struct sl_conn **out)
{
    *out = NULL;
    if (tls && !tls->server) {
        SL_ERROR("wire", "sl_conn_accept needs a server TLS context");
        return -1;
    }
    set_nodelay(fd);
    struct sl_conn *c = conn_new(fd);
    if (tls) {
        c->ssl = SSL_new(tls->ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
            char err[128];
            sl_wire_ssl_error(err, sizeof err, "SSL_new");
            SL_ERROR("wire", "fd %d: %s", fd, err);
            if (c->ssl)
                SSL_free(c->ssl);
            free(c);
            return -1;
        }
        SSL_set_accept_state(c->ssl);
        c->state = SL_CONN_HANDSHAKE;
    } else {
        c->state = SL_CONN_AUTH;
    }
    *out = c;
    return 0;
}

/* 1 handshake done (identity checked), 0 in progress, -1 failed. */
static int handshake_step(struct sl_conn *c)
{
    ERR_clear_error();
    errno = 0; /* SSL_ERROR_SYSCALL with errno 0 means the peer just went away */
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        char err[sizeof c->err];
        if (sl_wire_peer_identity(c->ssl, &c->peer, err, sizeof err) < 0) {
            conn_fail(c, "%s", err);
            return -1;
        }
        int server = !SSL_is_server(c->ssl) ? 0 : 1;
        if (server && (c->peer.role == SL_ROLE_HUB || strcmp(c->peer.member, "NL") == 0)) {
            conn_fail(c, "certificate %.60s is the switch's own, not a member line's",
                      c->peer.subject);
            return -1;
        }
        if (!server && (c->peer.role != SL_ROLE_HUB || strcmp(c->peer.member, "NL") != 0)) {
            conn_fail(c, "certificate %.60s is not the switch's (want CN=NL, OU=hub)",
                      c->peer.subject);
            return -1;
        }
        c->state = SL_CONN_OPEN;
        c->want_write = 0;
        return 1;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        c->want_write = 0;
        return 0;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        c->want_write = 1;
        return 0;
    }
    char err[sizeof c->err];
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        snprintf(err, sizeof err, "TLS handshake: %s",
                 errno ? strerror(errno) : "peer closed the connection");
    else
        sl_wire_ssl_error(err, sizeof err, "TLS handshake");
    long vr = SSL_get_verify_result(c->ssl);
    if (vr != X509_V_OK) {
        size_t n = strlen(err);
        snprintf(err + n, sizeof err - n, " (%s)", X509_verify_cert_error_string(vr));
    }
    conn_fail(c, "%s", err);
    return -1;
}

static void mark_eof(struct sl_conn *c, const char *why)
{
    c->read_eof = 1;
    if (!c->err[0])
        sl_strlcpy(c->err, why, sizeof c->err);
}

int sl_conn_read(struct sl_conn *c)
{
    if (c->failed || c->state == SL_CONN_CLOSED)
        return -1;
    if (c->read_eof) {
        c->state = SL_CONN_CLOSED;
        return -1;
    }
    if (c->ssl && c->state == SL_CONN_HANDSHAKE) {
        int r = handshake_step(c);
        if (r <= 0)
            return r;
    }
    size_t total = 0;
    for (;;) {
        uint8_t *p = sl_buf_reserve(&c->in, READ_ROOM);
        size_t room = c->in.cap - c->in.len;
        if (room > INT_MAX)
            room = INT_MAX;
        if (c->ssl) {
            ssl_errors_reset();
            errno = 0;
            int n = SSL_read(c->ssl, p, (int)room);
            if (n > 0) {
                sl_buf_commit(&c->in, (size_t)n);
                total += (size_t)n;
                /* Nothing buffered inside the SSL: whatever else there is waits in the
                 * kernel socket, where level-triggered epoll sees it.  Stopping here
                 * saves the read(2) that would only return EAGAIN (one per wake-up of
                 * every line: a third of the hub's reads at 10,000 queries/s). */
                if (!SSL_has_pending(c->ssl))
                    break;
                continue;
            }
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ)
                break;
            if (e == SSL_ERROR_WANT_WRITE) {
                c->want_write = 1;
                break;
            }
            if (e == SSL_ERROR_ZERO_RETURN) {
                mark_eof(c, "closed by peer");
                break;
            }
            if (e == SSL_ERROR_SSL &&
                ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
                ERR_clear_error();
                mark_eof(c, "closed by peer (no TLS close_notify)");
                break;
            }
            if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
                if (errno == 0 || errno == ECONNRESET)
                    mark_eof(c, errno ? "connection reset by peer" : "closed by peer");
                else
                    conn_fail(c, "read: %s", strerror(errno));
                break;
            }
            char err[sizeof c->err];
            sl_wire_ssl_error(err, sizeof err, "TLS read");
            conn_fail(c, "%s", err);
            break;
        } else {
            ssize_t n = read(c->fd, p, room);
            if (n > 0) {
                sl_buf_commit(&c->in, (size_t)n);
                total += (size_t)n;
                /* A short read emptied the socket; if more arrives, epoll says so. */
                if (total >= READ_BUDGET || (size_t)n < room)
                    break;
                continue;
            }
            if (n == 0) {
                mark_eof(c, "closed by peer");
                break;
            }
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == ECONNRESET) {
                mark_eof(c, "connection reset by peer");
                break;
            }
            conn_fail(c, "read: %s", strerror(errno));
            break;
        }
    }
    if (total > 0)
        return (int)total; /* EOF or failure, if any, is reported by the next call */
    if (c->read_eof || c->failed) {
        c->state = SL_CONN_CLOSED;
        return -1;
    }
    return 0;
}

int sl_conn_flush(struct sl_conn *c) { return sl_conn_flush_upto(c, SIZE_MAX); }

int sl_conn_flush_upto(struct sl_conn *c, size_t limit)
{
    if (c->failed || c->fd < 0)
        return -1;
    if (c->ssl && c->state == SL_CONN_HANDSHAKE) {
        int r = handshake_step(c);
        if (r < 0)
            return -1;
        if (r == 0)
            return c->want_write ? 1 : 0;
    }
    c->want_write = 0;
    while (sl_buf_used(&c->out) > 0 && limit > 0) {
        size_t n = sl_buf_used(&c->out);
        if (n > limit)
            n = limit;
        if (n > INT_MAX)
            n = INT_MAX;
        if (c->ssl) {
            ssl_errors_reset();
            errno = 0;
            int w = SSL_write(c->ssl, sl_buf_head(&c->out), (int)n);
            if (w > 0) {
                sl_buf_consume(&c->out, (size_t)w);
                limit -= (size_t)w;
                continue;
            }
            int e = SSL_get_error(c->ssl, w);
            if (e == SSL_ERROR_WANT_WRITE) {
                c->want_write = 1;
                return 1;
            }
            if (e == SSL_ERROR_WANT_READ)
                return 1; /* the peer must speak first; reading will let us go on */
            char err[sizeof c->err];
            if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
                snprintf(err, sizeof err, "write: %s", errno ? strerror(errno) : "closed");
            else
                sl_wire_ssl_error(err, sizeof err, "TLS write");
            conn_fail(c, "%s", err);
            return -1;
        }
        ssize_t w = send(c->fd, sl_buf_head(&c->out), n, MSG_NOSIGNAL);
        if (w > 0) {
            sl_buf_consume(&c->out, (size_t)w);
            limit -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->want_write = 1;
            return 1;
        }
        conn_fail(c, "write: %s", w < 0 ? strerror(errno) : "no progress");
        return -1;
    }
    return 0;
}

void sl_conn_free(struct sl_conn *c)
{
    if (!c)
        return;
    if (c->ssl) {
        /* Best effort close_notify; never wait for the peer's. */
        if (c->state == SL_CONN_OPEN && !c->failed) {
            ERR_clear_error();
            (void)SSL_shutdown(c->ssl);
        }
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    if (c->fd >= 0)
        close(c->fd);
    sl_buf_free(&c->in);
    OPENSSL_cleanse(c->out.data, c->out.cap);
    sl_buf_free(&c->out);
    free(c);
}

/* ---- plain AUTH (server side) ---------------------------------------------------- */

static int auth_refuse(struct sl_conn *c, const char *reason, const char *log_detail)
{
    char msg[96];
    int n = snprintf(msg, sizeof msg, "AUTH ERR %s", reason);
    sl_frame_write(&c->out, msg, (uint32_t)n);
    c->state = SL_CONN_CLOSED;
    snprintf(c->err, sizeof c->err, "plain AUTH refused: %s", log_detail);
    return -1;
}

int sl_conn_plain_auth(struct sl_conn *c, const char *tokens_path)
{
    if (c->ssl || c->state != SL_CONN_AUTH) {
        snprintf(c->err, sizeof c->err, "sl_conn_plain_auth on a line not waiting for AUTH");
        return -1;
    }
    const uint8_t *p;
    uint32_t len;
    enum sl_frame_status st = sl_frame_peek(&c->in, AUTH_MAX, &p, &len);
    if (st == SL_FRAME_AGAIN)
        return 1;
    if (st == SL_FRAME_TOO_BIG)
        return auth_refuse(c, "malformed AUTH frame", "first frame too long");
    char line[AUTH_MAX + 1];
    memcpy(line, p, len);
    line[len] = '\0';
    sl_buf_consume(&c->in, SL_FRAME_HDR + len);

    /* Exactly "AUTH" SP member SP role SP token in printable ASCII: nothing lenient
     * about credentials. */
    int ok_shape = 1;
    for (uint32_t i = 0; i < len; i++)
        if (line[i] < 0x20 || line[i] > 0x7e)
            ok_shape = 0;
    char *f[4] = {line, line, line, line};
    int nf = 0;
    char *s = line;
    while (nf < 4) {
        f[nf++] = s;
        if (nf == 4)
            break; /* the rest is the token: a space in it is an error below */
        char *sp = strchr(s, ' ');
        if (!sp)
            break;
        *sp = '\0';
        s = sp + 1;
    }
    ok_shape = ok_shape && nf == 4 && strchr(f[3], ' ') == NULL && strcmp(f[0], "AUTH") == 0 &&
               f[1][0] && f[2][0] && f[3][0];
    if (!ok_shape) {
        OPENSSL_cleanse(line, sizeof line);
        return auth_refuse(c, "malformed AUTH frame (want AUTH <member> <role> <token>)",
                           "malformed first frame");
    }
    enum sl_line_role role = sl_role_parse(f[2]);
    char want[256];
    int found = sl_wire_member_valid(f[1]) &&
                (role == SL_ROLE_ANSWER || role == SL_ROLE_TERMINAL) &&
                sl_tokens_lookup(tokens_path, f[1], f[2], want, sizeof want) == 0;
    /* Compare even when the line is unknown, so timing does not tell which part failed. */
    size_t tl = strlen(f[3]);
    if (!found)
        memset(want, 'x', sizeof want - 1), want[sizeof want - 1] = '\0';
    size_t wl = strlen(want);
    int same = tl == wl && CRYPTO_memcmp(f[3], want, wl) == 0;
    OPENSSL_cleanse(want, sizeof want);
    char member[SL_MEMBER_MAX * 2];
    snprintf(member, sizeof member, "%s", f[1]);
    char detail[96];
    snprintf(detail, sizeof detail, "line %.15s %.15s", f[1], f[2]);
    OPENSSL_cleanse(line, sizeof line);
    if (!found || !same)
        return auth_refuse(c, "unknown line or wrong token", detail);
    sl_strlcpy(c->peer.member, member, sizeof c->peer.member);
    c->peer.role = role;
    snprintf(c->peer.subject, sizeof c->peer.subject, "plain:%s/%s", c->peer.member,
             sl_role_name(role));
    sl_frame_write(&c->out, "AUTH OK", 7);
    c->state = SL_CONN_OPEN;
    return 0;
}

/* ---- client side (blocking use over a non-blocking fd) ----------------------------- */

/* Wait for events until deadline (ms, monotonic; -1 = forever). revents, 0 timeout, -1. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int timeout = -1;
        if (deadline >= 0) {
            int64_t left = deadline - sl_now_ms();
            if (left <= 0)
                return 0;
            timeout = left > INT_MAX ? INT_MAX : (int)left;
        }
        struct pollfd pfd = {fd, events, 0};
        int r = poll(&pfd, 1, timeout);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        return pfd.revents;
    }
}

static int64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : sl_now_ms() + timeout_ms;
}

/* Host part of "host:port" / "[v6]:port" into out. */
static int host_of(const char *hostport, char *out, size_t outlen)
{
    const char *start = hostport, *end;
    if (hostport[0] == '[') {
        start = hostport + 1;
        end = strchr(start, ']');
    } else {
        end = strrchr(hostport, ':');
    }
    if (!end || (size_t)(end - start) >= outlen)
        return -1;
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
    return 0;
}

/* Flush c->out completely, reading what arrives meanwhile (a peer that answers while we
 * still write must not deadlock us).  0, 1 timeout, -1 failed. */
static int flush_all(struct sl_conn *c, int64_t deadline)
{
    for (;;) {
        int r = sl_conn_flush(c);
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        int ev = wait_fd(c->fd, (short)(POLLIN | (c->want_write ? POLLOUT : 0)), deadline);
        if (ev < 0) {
            snprintf(c->err, sizeof c->err, "poll: %s", strerror(errno));
            return -1;
        }
        if (ev == 0)
            return 1;
        if (ev & (POLLIN | POLLHUP | POLLERR)) {
            if (sl_conn_read(c) < 0 && !c->read_eof)
                return -1;
            if (c->state == SL_CONN_CLOSED && c->failed)
                return -1;
        }
    }
}

int sl_conn_send(struct sl_conn *c, const void *payload, uint32_t len)
{
    if (c->failed || c->state == SL_CONN_CLOSED)
        return -1;
    sl_frame_write(&c->out, payload, len);
    int r = flush_all(c, deadline_of(c->io_timeout_ms));
    if (r == 1)
        snprintf(c->err, sizeof c->err, "send timed out after %d ms", c->io_timeout_ms);
    return r == 0 ? 0 : -1;
}

int sl_conn_recv(struct sl_conn *c, uint32_t max, int timeout_ms, uint8_t **payload,
                 uint32_t *len)
{
    int64_t deadline = deadline_of(timeout_ms);
    *payload = NULL;
    *len = 0;
    for (;;) {
        const uint8_t *p;
        uint32_t n;
        enum sl_frame_status st = sl_frame_peek(&c->in, max, &p, &n);
        if (st == SL_FRAME_OK) {
            uint8_t *copy = sl_xmalloc((size_t)n + 1);
            memcpy(copy, p, n);
            copy[n] = '\0';
            sl_buf_consume(&c->in, SL_FRAME_HDR + (size_t)n);
            *payload = copy;
            *len = n;
            return 0;
        }
        if (st == SL_FRAME_TOO_BIG) {
            snprintf(c->err, sizeof c->err, "frame of %u bytes exceeds the maximum of %u", n,
                     max);
            return -1;
        }
        if (c->failed)
            return -1;
        if (c->read_eof || c->state == SL_CONN_CLOSED) {
            if (sl_buf_used(&c->in) > 0)
                snprintf(c->err, sizeof c->err, "line closed inside a frame (%zu bytes of it)",
                         sl_buf_used(&c->in));
            c->state = SL_CONN_CLOSED;
            return -1;
        }
        if (sl_buf_used(&c->out) > 0 || c->want_write) {
            if (sl_conn_flush(c) < 0)
                return -1;
        }
        int r = sl_conn_read(c);
        if (r > 0)
            continue;
        if (r < 0 && !c->read_eof && c->failed)
            return -1;
        if (r < 0)
            continue; /* EOF: the loop above reports it */
        int ev = wait_fd(c->fd, (short)(POLLIN | (c->want_write ? POLLOUT : 0)), deadline);
        if (ev < 0) {
            snprintf(c->err, sizeof c->err, "poll: %s", strerror(errno));
            return -1;
        }
        if (ev == 0)
            return 1;
    }
}

int sl_conn_set_nonblocking(struct sl_conn *c)
{
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

/* Connect to one address within the deadline: the fd, or -1 with err set. */
static int connect_one(const struct sockaddr *sa, socklen_t salen, const char *hostport,
                       int64_t deadline, char *err, size_t errlen)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    set_nodelay(fd);
    if (connect(fd, sa, salen) < 0) {
        if (errno != EINPROGRESS) {
            snprintf(err, errlen, "connect %s: %s", hostport, strerror(errno));
            close(fd);
            return -1;
        }
        int ev = wait_fd(fd, POLLOUT, deadline);
        if (ev <= 0) {
            snprintf(err, errlen, "connect %s: %s", hostport,
                     ev == 0 ? "timed out" : strerror(errno));
            close(fd);
            return -1;
        }
        int soerr = 0;
        socklen_t l = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0 || soerr != 0) {
            snprintf(err, errlen, "connect %s: %s", hostport, strerror(soerr ? soerr : errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* Try every address the name has ("localhost" may list ::1 before 127.0.0.1 while the
 * hub listens on one of them only).  plain_only_loopback: skip non-loopback addresses. */
static int dial_connect(const char *hostport, const char *host, int loopback_only,
                        int64_t deadline, char *err, size_t errlen)
{
    const char *port = hostport[0] == '[' ? strchr(hostport, ']') : strrchr(hostport, ':');
    if (port && *port == ']')
        port = port[1] == ':' ? port + 1 : NULL;
    if (!port || !port[1]) {
        snprintf(err, errlen, "bad address '%s' (want host:port)", hostport);
        return -1;
    }
    port++;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0 || !res) {
        snprintf(err, errlen, "cannot resolve '%s': %s", hostport, gai_strerror(gai));
        return -1;
    }
    int fd = -1, tried = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        if (loopback_only && !sl_addr_is_loopback(&ss))
            continue;
        tried++;
        fd = connect_one(ai->ai_addr, ai->ai_addrlen, hostport, deadline, err, errlen);
    }
    freeaddrinfo(res);
    if (!tried)
        /* The token would cross the network in the clear. */
        snprintf(err, errlen, "plain lines are only for loopback addresses, not '%s'",
                 hostport);
    return fd;
}

static int dial_tls(struct sl_conn *c, struct sl_tls *tls, const char *host, int64_t deadline,
                    char *err, size_t errlen)
{
    c->ssl = SSL_new(tls->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        sl_wire_ssl_error(err, errlen, "SSL_new");
        return -1;
    }
    SSL_set_connect_state(c->ssl);
    /* The hub's certificate must name the address we dialled (SAN DNS or IP). */
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host)
                   : SSL_set1_host(c->ssl, host);
    if (!is_ip && ok)
        ok = SSL_set_tlsext_host_name(c->ssl, host);
    if (!ok) {
        sl_wire_ssl_error(err, errlen, "cannot set the expected hub name");
        return -1;
    }
    c->state = SL_CONN_HANDSHAKE;
    for (;;) {
        int r = handshake_step(c);
        if (r == 1)
            return 0;
        if (r < 0) {
            snprintf(err, errlen, "%s", c->err);
            return -1;
        }
        int ev = wait_fd(c->fd, c->want_write ? POLLOUT : POLLIN, deadline);
        if (ev == 0) {
            snprintf(err, errlen, "TLS handshake timed out");
            return -1;
        }
        if (ev < 0) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return -1;
        }
    }
}

static int dial_plain(struct sl_conn *c, const char *member, const char *role, const char *token,
                      int64_t deadline, char *err, size_t errlen)
{
    char line[AUTH_MAX + 1];
    int n = snprintf(line, sizeof line, "AUTH %s %s %s", member, role, token);
    if (n < 0 || (size_t)n > AUTH_MAX) {
        snprintf(err, errlen, "AUTH line too long");
        return -1;
    }
    c->state = SL_CONN_OPEN; /* so that send/recv may run; reset on refusal */
    sl_frame_write(&c->out, line, (uint32_t)n);
    OPENSSL_cleanse(line, sizeof line);
    int r = flush_all(c, deadline);
    if (r != 0) {
        snprintf(err, errlen, "sending AUTH: %s", r == 1 ? "timed out" : c->err);
        return -1;
    }
    int64_t left = deadline < 0 ? -1 : deadline - sl_now_ms();
    if (deadline >= 0 && left < 0)
        left = 0;
    uint8_t *reply = NULL;
    uint32_t rlen = 0;
    r = sl_conn_recv(c, AUTH_MAX, (int)(left > INT_MAX ? INT_MAX : left), &reply, &rlen);
    if (r != 0) {
        snprintf(err, errlen, "waiting for AUTH OK: %s", r == 1 ? "timed out" : c->err);
        return -1;
    }
    if (rlen == 7 && memcmp(reply, "AUTH OK", 7) == 0) {
        free(reply);
        return 0;
    }
    snprintf(err, errlen, "hub refused the line: %.*s", (int)(rlen > 100 ? 100 : rlen),
             (const char *)reply);
    free(reply);
    return -1;
}

int sl_conn_dial(const char *hostport, struct sl_tls *tls, const char *member, const char *role,
                 const char *token, int timeout_ms, struct sl_conn **out, char *err,
                 size_t errlen)
{
    *out = NULL;
    int64_t deadline = deadline_of(timeout_ms);
    char host[256];
    if (host_of(hostport, host, sizeof host) < 0) {
        snprintf(err, errlen, "bad address '%s' (want host:port)", hostport);
        return -1;
    }
    if (tls && tls->server) {
        snprintf(err, errlen, "sl_conn_dial needs a client TLS context");
        return -1;
    }
    if (!tls && (!member || !role || !token)) {
        snprintf(err, errlen, "a plain line needs member, role and token");
        return -1;
    }
    int fd = dial_connect(hostport, host, !tls, deadline, err, errlen);
    if (fd < 0)
        return -1;
    struct sl_conn *c = conn_new(fd);
    c->io_timeout_ms = timeout_ms;
    int rc = tls ? dial_tls(c, tls, host, deadline, err, errlen)
                 : dial_plain(c, member, role, token, deadline, err, errlen);
    if (rc < 0) {
        c->failed = 1; /* no close_notify on a line that never opened */
        sl_conn_free(c);
        return -1;
    }
    if (!tls) {
        sl_strlcpy(c->peer.member, "NL", sizeof c->peer.member);
        c->peer.role = SL_ROLE_HUB;
        snprintf(c->peer.subject, sizeof c->peer.subject, "plain:NL/hub");
    }
    c->state = SL_CONN_OPEN;
    *out = c;
    return 0;
}
