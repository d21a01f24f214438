/*
 * conn.h - a member line: one TCP socket, TLS or plain, with its buffers and the
 * identity of the member at the other end (docs/protocol.md §1-2).
 *
 * Identity.  On TLS lines both sides present certificates signed by the network's CA
 * (`stateline gen certs`).  A member certificate's subject carries
 *     CN = member code ("WA", "FB", "NL" for the hub itself)
 *     OU = line role: "answer" (the line that answers the member's inbound queries, e.g. a
 *          state's gateway) or "terminal" (a line carrying the member's agencies' queries)
 * On plain TCP (only allowed on loopback, only when the hub is told `plain = yes`) the
 * line still authenticates: the first frame the client sends must be
 *     AUTH <member> <role> <token>
 * where token is the member line's secret from the network's tokens file (written by
 * `stateline gen certs`, one "member role hex-token" line each).  The hub answers
 * "AUTH OK" or closes the line after an ER-style refusal.
 *
 * Non-blocking use (hub, gateway): the owner registers the fd with the loop, calls
 * sl_conn_read when readable and sl_conn_flush when it has output or the fd is writable.
 * Blocking use (`stateline query`, tests): sl_conn_dial + sl_conn_send/sl_conn_recv.
 *
 * Ownership: a conn owns its fd, SSL and buffers; sl_conn_free closes and frees all.
 * Certificate rotation: build a new sl_tls (e.g. on SIGHUP), accept new lines with it and
 * sl_tls_free the old one: lines already open keep a reference to their SSL_CTX.
 */
#ifndef STATELINE_CONN_H
#define STATELINE_CONN_H

#include <stddef.h>
#include <stdint.h>
#include "stateline/buf.h"

struct ssl_st;
struct ssl_ctx_st;

#define SL_MEMBER_MAX 8   /* member code incl. NUL: "WA", "FB", "CN" */
#define SL_ROLE_MAX 16

enum sl_line_role { SL_ROLE_UNKNOWN = 0, SL_ROLE_ANSWER = 1, SL_ROLE_TERMINAL = 2, SL_ROLE_HUB = 3 };

struct sl_peer {
    char member[SL_MEMBER_MAX];
    enum sl_line_role role;
    char subject[128]; /* for logs */
};

/* A TLS context for one side: TLS 1.3 preferred, 1.2 with ECDHE+AES-GCM only, no
 * renegotiation, peers verified against `ca`.  The server requires a client certificate.
 * A client may pass cert = key = NULL (it is then refused by any hub: for tests of
 * exactly that).  For plain lines use no ctx.  The process must ignore SIGPIPE (main
 * does): OpenSSL writes to the socket with write(2). */
struct sl_tls;
/* cert/key: PEM of this side; ca: PEM bundle that signs the peers. err gets a reason. */
int sl_tls_new_server(const char *cert, const char *key, const char *ca, struct sl_tls **out,
                      char *err, size_t errlen);
int sl_tls_new_client(const char *cert, const char *key, const char *ca, struct sl_tls **out,
                      char *err, size_t errlen);
void sl_tls_free(struct sl_tls *tls);

/* Look up a line's token in a tokens file ("MEMBER ROLE TOKEN" lines, '#' comments);
 * 0 when found (token copied to out), -1 when absent, unreadable or out too small. */
int sl_tokens_lookup(const char *path, const char *member, const char *role, char *out,
                     size_t outlen);
const char *sl_role_name(enum sl_line_role role);
enum sl_line_role sl_role_parse(const char *s);

enum sl_conn_state {
    SL_CONN_HANDSHAKE = 0, /* TLS handshake in progress */
    SL_CONN_AUTH = 1,      /* plain line waiting for its AUTH frame (server side) */
    SL_CONN_OPEN = 2,      /* identity known, frames flow */
    SL_CONN_CLOSED = 3,
};

struct sl_conn {
    int fd;
    struct ssl_st *ssl; /* NULL on plain lines */
    enum sl_conn_state state;
    struct sl_peer peer;
    struct sl_buf in;
    struct sl_buf out;
    int want_write;   /* the last I/O needs the fd writable to progress */
    int read_eof;     /* the peer closed; bytes before it are in `in`, next read is -1 */
    int failed;       /* fatal I/O or TLS error: nothing more can be sent */
    int io_timeout_ms; /* dialled conns: how long sl_conn_send waits (<0 = forever) */
    char err[128];    /* why the line failed, for logs */
};

/* Server side: wrap an accepted, non-blocking fd.  tls NULL = plain line (caller has
 * already checked that the listener is loopback and plain is allowed).  *out owned by
 * the caller (sl_conn_free). */
int sl_conn_accept(struct sl_tls *tls, int fd, struct sl_conn **out);

/* Read what the socket has into c->in (progressing the handshake first; when it
 * completes the peer's certificate has been verified and c->peer filled, state OPEN).
 * Reads until the socket would block or 256 KiB were read, leaving nothing buffered
 * inside the SSL, so level-triggered epoll stays truthful.
 * Returns >0 bytes read, 0 nothing now (would block, or still handshaking),
 * -1 the line is closed or failed (c->err says why).  When the peer closes after
 * sending, the bytes come first (>0, c->read_eof set) and the next call returns -1:
 * bytes left in c->in at that point are a truncated frame. */
int sl_conn_read(struct sl_conn *c);
/* Write as much of c->out as the socket takes (many frames go out in one TLS record).
 * 0 all flushed (or the handshake waits for the peer: nothing to do until readable),
 * 1 some left: watch for writable when c->want_write, -1 failed (c->err). */
int sl_conn_flush(struct sl_conn *c);
/* The same for the first `limit` bytes of c->out only (the rest stays, e.g. output held
 * until the hub's audit entries are durable).  Returns 0 when those bytes are written.
 * A later call may pass a larger limit over the same bytes (a TLS write retried with more
 * data is allowed: SSL_MODE_ENABLE_PARTIAL_WRITE). */
int sl_conn_flush_upto(struct sl_conn *c, size_t limit);
/* Delivery as the peer's TCP saw it (conn_ack.c; Linux), for an owner that must not count
 * what it wrote delivered before the peer's kernel has it (the gateway's replies).
 * sl_conn_acked: the bytes the peer has acknowledged (tcp_info.tcpi_bytes_acked:
 *   cumulative, the SYN counts 1, readable after a reset), and in *all (may be NULL) 1 if
 *   c->out is empty and the kernel holds nothing unacknowledged: everything written so
 *   far is delivered, whatever marks said (one getsockopt for both).  0, or -1 (*all 0).
 * sl_conn_ack_mark: the value sl_conn_acked reaches once every byte handed to the kernel
 *   so far is acknowledged (call it when c->out is empty).  0 exact; 1 an overestimate
 *   (acknowledgements kept landing between the reads: the mark can be late, never early);
 *   -1 it cannot be read. */
int sl_conn_acked(const struct sl_conn *c, uint64_t *acked, int *all);
int sl_conn_ack_mark(const struct sl_conn *c, uint64_t *mark);
/* Sends a TLS close_notify (best effort, never waits), closes the fd, frees all. */
void sl_conn_free(struct sl_conn *c);

/* Server side of a plain line in SL_CONN_AUTH.  sl_conn_read puts bytes in c->in as on
 * any line; the owner then calls this to check the first frame, "AUTH <member> <role>
 * <token>" (<= 256 bytes), against the tokens file (read at each call, so a new file
 * needs no reload).  The token is compared in constant time.
 *   1  the AUTH frame is not complete yet: call again after the next read;
 *   0  accepted: frame consumed, c->peer filled (subject "plain:WA/answer"), the frame
 *      "AUTH OK" queued in c->out, state OPEN; frames after AUTH stay in c->in;
 *  -1  refused: "AUTH ERR <reason>" queued in c->out, state CLOSED, c->err says why
 *      (for the log): flush once (best effort) and free the line. */
int sl_conn_plain_auth(struct sl_conn *c, const char *tokens_path);

/* Client side, blocking: connect to host:port, handshake (TLS) or AUTH (plain, with
 * token), with a timeout.  For plain lines pass tls NULL and member/role/token; a plain
 * dial to a non-loopback address is refused (the token would cross the network in the
 * clear).  On TLS the hub's certificate must chain to the CA, name the dialled host or IP
 * in its SAN, and say CN=NL, OU=hub; c->peer is then {"NL", SL_ROLE_HUB}.
 * Note: in TLS 1.3 the hub checks the client certificate after the client has finished
 * its handshake, so a refused certificate shows up as -1 from the first send/recv.
 * The fd stays non-blocking underneath; send/recv wait with poll().  timeout_ms (<0 =
 * none) also bounds each later sl_conn_send. *out owned by the caller (sl_conn_free). */
int sl_conn_dial(const char *hostport, struct sl_tls *tls, const char *member,
                 const char *role, const char *token, int timeout_ms, struct sl_conn **out,
                 char *err, size_t errlen);
/* Blocking frame I/O on a dialled conn. recv returns 0 with a frame copied into a
 * malloc'd *payload (caller frees), 1 on timeout, -1 on a closed/failed line. */
int sl_conn_send(struct sl_conn *c, const void *payload, uint32_t len);
int sl_conn_recv(struct sl_conn *c, uint32_t max, int timeout_ms, uint8_t **payload,
                 uint32_t *len);
/* (recv: *payload has a NUL after the len bytes, for text convenience; a frame over max
 * or a line closed inside a frame is -1 with c->err saying which.) */
/* Switch a dialled conn to non-blocking mode for use with a loop (a dialled fd already
 * is: this only makes sure).  Then use sl_conn_read/sl_conn_flush as on the server. */
int sl_conn_set_nonblocking(struct sl_conn *c);

#endif
