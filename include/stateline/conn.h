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

/* A TLS context for one side.  NULL paths are an error for TLS; for plain use no ctx. */
struct sl_tls;
/* cert/key: PEM of this side; ca: PEM bundle that signs the peers. err gets a reason. */
int sl_tls_new_server(const char *cert, const char *key, const char *ca, struct sl_tls **out,
                      char *err, size_t errlen);
int sl_tls_new_client(const char *cert, const char *key, const char *ca, struct sl_tls **out,
                      char *err, size_t errlen);
void sl_tls_free(struct sl_tls *tls);

/* Look up a line's token in a tokens file; 0 when found (hex copied to out). */
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
    char err[128];    /* why the line failed, for logs */
};

/* Server side: wrap an accepted, non-blocking fd.  tls NULL = plain line (caller has
 * already checked that the listener is loopback and plain is allowed).  *out owned by
 * the caller (sl_conn_free). */
int sl_conn_accept(struct sl_tls *tls, int fd, struct sl_conn **out);

/* Read what the socket has into c->in (progressing the handshake first).
 * Returns >0 bytes read, 0 nothing now (would block, or still handshaking),
 * -1 the line is closed or failed (c->err says why). */
int sl_conn_read(struct sl_conn *c);
/* Write as much of c->out as the socket takes. 0 all flushed, 1 some left (watch for
 * writable), -1 failed. */
int sl_conn_flush(struct sl_conn *c);
void sl_conn_free(struct sl_conn *c);

/* Client side, blocking: connect to host:port, handshake (TLS) or AUTH (plain, with
 * token), with a timeout.  For plain lines pass tls NULL and member/role/token. */
int sl_conn_dial(const char *hostport, struct sl_tls *tls, const char *member,
                 const char *role, const char *token, int timeout_ms, struct sl_conn **out,
                 char *err, size_t errlen);
/* Blocking frame I/O on a dialled conn. recv returns 0 with a frame copied into a
 * malloc'd *payload (caller frees), 1 on timeout, -1 on a closed/failed line. */
int sl_conn_send(struct sl_conn *c, const void *payload, uint32_t len);
int sl_conn_recv(struct sl_conn *c, uint32_t max, int timeout_ms, uint8_t **payload,
                 uint32_t *len);
/* Switch a dialled conn to non-blocking mode for use with a loop. */
int sl_conn_set_nonblocking(struct sl_conn *c);

#endif
