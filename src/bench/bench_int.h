/*
 * bench_int.h - what the parts of `stateline bench` share inside src/bench.
 */
#ifndef STATELINE_BENCH_INT_H
#define STATELINE_BENCH_INT_H

#include <stddef.h>
#include <stdint.h>
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

/* The generator's lines: each a terminal line with its own sender ORI; either stateline
 * lines (c) or, for the peer, nats lines (nl). */
struct bench_gen {
    int n;
    int nats;
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
/* Size of one DQ as the generator writes it (without the frame header). */
size_t bench_query_bytes(void);

#endif
