/*
 * wire_int.h - what tls.c and conn.c share inside the wire module (not a public API).
 */
#ifndef STATELINE_WIRE_INT_H
#define STATELINE_WIRE_INT_H

#include <stddef.h>
#include <openssl/ssl.h>
#include "stateline/conn.h"

struct sl_tls {
    SSL_CTX *ctx;
    int server;
};

/* Describe the first error on OpenSSL's queue (and clear the queue) into err. */
void sl_wire_ssl_error(char *err, size_t errlen, const char *what);
/* Fill peer from the verified certificate of an established SSL. 0 or -1 (err says). */
int sl_wire_peer_identity(SSL *ssl, struct sl_peer *peer, char *err, size_t errlen);
/* Nonzero when m is a syntactically valid member code (2-7 of A-Z, 0-9). */
int sl_wire_member_valid(const char *m);

#endif
