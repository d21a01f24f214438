/*
 * wire_echo.c - how fast the wire layer alone moves frames: an echo server on an sl_loop
 * (the hub's read / frame / flush pattern) and a pipelining client in a second thread,
 * over TLS 1.3 or a plain AUTH line on loopback.  No message parsing, no routing: this is
 * the ceiling the hub works under, not the hub's figure (docs/performance.md has that).
 *
 * Build and run (after `cmake --build build`):
 *   cc -O2 -D_GNU_SOURCE -Iinclude bench/wire_echo.c build/libslcore.a -lssl -lcrypto \
 *      -lsqlite3 -ljansson -linih -lm -lpthread -o build/wire_echo
 *   build/stateline gen certs --out /tmp/certs --members WA
 *   build/wire_echo /tmp/certs 5000000 [plain]
 * Frames are 100 bytes; the client keeps up to 2,000 frames in flight.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stateline/conn.h"
#include "stateline/core.h"
#include "stateline/frame.h"
#include "stateline/loop.h"

struct bench {
    const char *dir;
    long frames;
    int plain;
    int port;
    struct sl_tls *server_tls;
    char tokens[300];
};

struct line {
    struct bench *b;
    struct sl_conn *c;
};

static void on_line(struct sl_loop *loop, int fd, void *cd, int mask)
{
    struct line *ln = cd;
    struct sl_conn *c = ln->c;
    if (mask & SL_EV_READ) {
        if (sl_conn_read(c) < 0) {
            sl_loop_del(loop, fd, SL_EV_READ | SL_EV_WRITE);
            sl_conn_free(c);
            free(ln);
            sl_loop_stop(loop);
            return;
        }
        if (c->state == SL_CONN_AUTH && sl_conn_plain_auth(c, ln->b->tokens) < 0)
            fprintf(stderr, "AUTH refused: %s\n", c->err);
        const uint8_t *p;
        uint32_t n;
        while (c->state == SL_CONN_OPEN &&
               sl_frame_peek(&c->in, SL_FRAME_DEFAULT_MAX, &p, &n) == SL_FRAME_OK) {
            sl_frame_write(&c->out, p, n);
            sl_buf_consume(&c->in, SL_FRAME_HDR + n);
        }
    }
    if (sl_conn_flush(c) == 1 && c->want_write)
        sl_loop_add(loop, fd, SL_EV_WRITE, on_line, ln);
    else
        sl_loop_del(loop, fd, SL_EV_WRITE);
}

static void on_accept(struct sl_loop *loop, int fd, void *cd, int mask)
{
    struct bench *b = cd;
    int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0)
        return;
    struct line *ln = sl_xcalloc(1, sizeof *ln);
    ln->b = b;
    if (sl_conn_accept(b->server_tls, cfd, &ln->c) < 0) {
        close(cfd);
        free(ln);
        return;
    }
    sl_loop_add(loop, cfd, SL_EV_READ, on_line, ln);
}

static void *client(void *arg)
{
    struct bench *b = arg;
    char err[256], crt[300], key[300], ca[300], hp[64], tok[100] = "";
    struct sl_tls *tls = NULL;
    snprintf(crt, sizeof crt, "%s/WA-terminal.crt", b->dir);
    snprintf(key, sizeof key, "%s/WA-terminal.key", b->dir);
    snprintf(ca, sizeof ca, "%s/ca.crt", b->dir);
    if (!b->plain && sl_tls_new_client(crt, key, ca, &tls, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    if (b->plain && sl_tokens_lookup(b->tokens, "WA", "terminal", tok, sizeof tok) < 0) {
        fprintf(stderr, "no WA terminal token in %s\n", b->tokens);
        exit(1);
    }
    snprintf(hp, sizeof hp, "127.0.0.1:%d", b->port);
    struct sl_conn *c;
    if (sl_conn_dial(hp, tls, "WA", "terminal", tok, 5000, &c, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    char msg[100];
    memset(msg, 'A', sizeof msg);
    memcpy(msg, "DQ.WASP00000.CA.TXT\nOLN/", 24);
    int64_t t0 = sl_now_us();
    long got = 0, sent = 0;
    while (got < b->frames) {
        while (sent < b->frames && sent - got < 2000) {
            sl_frame_write(&c->out, msg, sizeof msg);
            sent++;
        }
        uint8_t *p;
        uint32_t n;
        if (sl_conn_flush(c) < 0 || sl_conn_recv(c, SL_FRAME_DEFAULT_MAX, 5000, &p, &n) != 0) {
            fprintf(stderr, "line failed: %s\n", c->err);
            exit(1);
        }
        free(p);
        got++;
        const uint8_t *q;
        while (sl_frame_peek(&c->in, SL_FRAME_DEFAULT_MAX, &q, &n) == SL_FRAME_OK) {
            sl_buf_consume(&c->in, SL_FRAME_HDR + n);
            got++;
        }
    }
    double s = (double)(sl_now_us() - t0) / 1e6;
    printf("%s: %ld frames of 100 B echoed in %.3f s: %.0f frames/s each way\n",
           b->plain ? "plain" : "TLS", b->frames, s, (double)b->frames / s);
    sl_conn_free(c);
    sl_tls_free(tls);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: wire_echo CERTS_DIR FRAMES [plain]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct bench b = {.dir = argv[1], .frames = atol(argv[2]), .plain = argc > 3};
    snprintf(b.tokens, sizeof b.tokens, "%s/tokens", b.dir);
    char err[256], crt[300], key[300], ca[300];
    snprintf(crt, sizeof crt, "%s/hub.crt", b.dir);
    snprintf(key, sizeof key, "%s/hub.key", b.dir);
    snprintf(ca, sizeof ca, "%s/ca.crt", b.dir);
    if (!b.plain && sl_tls_new_server(crt, key, ca, &b.server_tls, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
        perror("listen");
        return 1;
    }
    b.port = ntohs(sa.sin_port);
    struct sl_loop *loop = sl_loop_create(64);
    sl_loop_add(loop, fd, SL_EV_READ, on_accept, &b);
    pthread_t t;
    pthread_create(&t, NULL, client, &b);
    sl_loop_run(loop);
    pthread_join(t, NULL);
    sl_loop_free(loop);
    close(fd);
    sl_tls_free(b.server_tls);
    return 0;
}
