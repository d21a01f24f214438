/*
 * tls.c - OpenSSL 3 contexts for member lines, line identity from certificates, and the
 * tokens file of plain loopback lines (see conn.h, docs/protocol.md §2-3).
 *
 * Both sides: TLS 1.3 preferred, TLS 1.2 allowed with ECDHE + AES-GCM suites only, no
 * renegotiation, no compression, peers verified against the network CA file.  The server
 * demands a client certificate (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT) and
 * issues no session tickets: member lines are long-lived, and a resumed session would
 * skip nothing we care to skip.  Writes use partial-write and moving-buffer modes, so
 * conn.c can hand SSL_write the head of a buffer that grows (and moves) between retries.
 *
 * Identity (subject of the verified peer certificate):
 *     CN = member code: 2 to 7 characters, A-Z and 0-9 ("WA", "DJ", "NL" = the hub)
 *     OU = role: "answer" | "terminal" for member lines, "hub" for the switch
 *
 * Tokens file (written by `stateline gen certs`), one line per plain-capable line:
 *     MEMBER ROLE TOKEN        e.g.  "WA answer 3f9c...e1" (TOKEN = 64 hex digits)
 * Blank lines and lines starting with '#' are ignored.
 */
#include "stateline/conn.h"
#include "stateline/core.h"
#include "wire/wire_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* TLS 1.2 only: forward secrecy and AEAD, ECDSA (our certificates) or RSA (a CA a state
 * may bring).  TLS 1.3 suites are all AEAD and stay at OpenSSL's defaults. */
static const char tls12_ciphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";

void sl_wire_ssl_error(char *err, size_t errlen, const char *what)
{
    /* The earliest error in the queue is the cause ("certificate verify failed"); the
     * rest are the layers it went up through.  Drain them so they do not leak into the
     * next call's diagnosis. */
    unsigned long e = ERR_get_error();
    while (ERR_get_error() != 0)
        ;
    if (!e) {
        snprintf(err, errlen, "%s", what);
        return;
    }
    const char *reason = ERR_reason_error_string(e);
    if (reason)
        snprintf(err, errlen, "%s: %s", what, reason);
    else
        snprintf(err, errlen, "%s: error %lx", what, e);
}

const char *sl_role_name(enum sl_line_role role)
{
    switch (role) {
    case SL_ROLE_ANSWER:
        return "answer";
    case SL_ROLE_TERMINAL:
        return "terminal";
    case SL_ROLE_HUB:
        return "hub";
    default:
        return "unknown";
    }
}

enum sl_line_role sl_role_parse(const char *s)
{
    if (!s)
        return SL_ROLE_UNKNOWN;
    if (strcmp(s, "answer") == 0)
        return SL_ROLE_ANSWER;
    if (strcmp(s, "terminal") == 0)
        return SL_ROLE_TERMINAL;
    if (strcmp(s, "hub") == 0)
        return SL_ROLE_HUB;
    return SL_ROLE_UNKNOWN;
}

int sl_wire_member_valid(const char *m)
{
    size_t n = strlen(m);
    if (n < 2 || n >= SL_MEMBER_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isupper((unsigned char)m[i]) || isdigit((unsigned char)m[i])))
            return 0;
    return 1;
}

static int setup_common(SSL_CTX *ctx, const char *cert, const char *key, const char *ca, char *err,
                        size_t errlen)
{
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        sl_wire_ssl_error(err, errlen, "cannot set TLS 1.2 minimum");
        return -1;
    }
    if (!SSL_CTX_set_cipher_list(ctx, tls12_ciphers)) {
        sl_wire_ssl_error(err, errlen, "cannot set TLS 1.2 ciphers");
        return -1;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Read-ahead: one read(2) takes many small records instead of two syscalls (header,
     * body) per record.  Safe because conn.c reads until WANT_READ and checks
     * SSL_has_pending before it yields. */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (cert) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
            char what[300];
            snprintf(what, sizeof what, "cannot load certificate %s", cert);
            sl_wire_ssl_error(err, errlen, what);
            return -1;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
            char what[300];
            snprintf(what, sizeof what, "cannot load private key %s", key);
            sl_wire_ssl_error(err, errlen, what);
            return -1;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            char what[600];
            snprintf(what, sizeof what, "key %s does not match certificate %s", key, cert);
            sl_wire_ssl_error(err, errlen, what);
            return -1;
        }
    }
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        char what[300];
        snprintf(what, sizeof what, "cannot load CA %s", ca);
        sl_wire_ssl_error(err, errlen, what);
        return -1;
    }
    SSL_CTX_set_verify_depth(ctx, 4);
    return 0;
}

static int tls_new(int server, const char *cert, const char *key, const char *ca,
                   struct sl_tls **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!ca || (server && (!cert || !key)) || (!!cert != !!key)) {
        snprintf(err, errlen, "TLS needs %s", server ? "a certificate, its key and the CA" : "the CA (and a certificate with its key)");
        return -1;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        sl_wire_ssl_error(err, errlen, "SSL_CTX_new");
        return -1;
    }
    if (setup_common(ctx, cert, key, ca, err, errlen) < 0) {
        SSL_CTX_free(ctx);
        return -1;
    }
    if (server) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
        if (names)
            SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    struct sl_tls *t = sl_xcalloc(1, sizeof *t);
    t->ctx = ctx;
    t->server = server;
    *out = t;
    return 0;
}

int sl_tls_new_server(const char *cert, const char *key, const char *ca, struct sl_tls **out,
                      char *err, size_t errlen)
{
    return tls_new(1, cert, key, ca, out, err, errlen);
}

int sl_tls_new_client(const char *cert, const char *key, const char *ca, struct sl_tls **out,
                      char *err, size_t errlen)
{
    return tls_new(0, cert, key, ca, out, err, errlen);
}

void sl_tls_free(struct sl_tls *tls)
{
    if (!tls)
        return;
    SSL_CTX_free(tls->ctx); /* reference counted: live SSLs keep it until they go */
    free(tls);
}

/* The single value of a subject attribute; -1 when absent, repeated or too long. */
static int name_entry(X509_NAME *name, int nid, char *out, size_t outlen)
{
    int idx = X509_NAME_get_index_by_NID(name, nid, -1);
    if (idx < 0)
        return -1;
    if (X509_NAME_get_index_by_NID(name, nid, idx) >= 0)
        return -1; /* two CNs or OUs: ambiguous, refuse */
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n < 0)
        return -1;
    int rc = -1;
    if ((size_t)n < outlen && memchr(utf8, '\0', (size_t)n) == NULL) {
        memcpy(out, utf8, (size_t)n);
        out[n] = '\0';
        rc = 0;
    }
    OPENSSL_free(utf8);
    return rc;
}

int sl_wire_peer_identity(SSL *ssl, struct sl_peer *peer, char *err, size_t errlen)
{
    memset(peer, 0, sizeof *peer);
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (!cert) {
        snprintf(err, errlen, "peer presented no certificate");
        return -1;
    }
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK) {
        snprintf(err, errlen, "peer certificate not verified: %s",
                 X509_verify_cert_error_string(vr));
        return -1;
    }
    X509_NAME *subj = X509_get_subject_name(cert);
    X509_NAME_oneline(subj, peer->subject, sizeof peer->subject);
    char cn[64], ou[64];
    if (name_entry(subj, NID_commonName, cn, sizeof cn) < 0) {
        snprintf(err, errlen, "certificate %s: no single CN", peer->subject);
        return -1;
    }
    if (name_entry(subj, NID_organizationalUnitName, ou, sizeof ou) < 0) {
        snprintf(err, errlen, "certificate %s: no single OU", peer->subject);
        return -1;
    }
    if (!sl_wire_member_valid(cn)) {
        snprintf(err, errlen, "certificate %s: CN is not a member code", peer->subject);
        return -1;
    }
    enum sl_line_role role = sl_role_parse(ou);
    if (role == SL_ROLE_UNKNOWN) {
        snprintf(err, errlen, "certificate %s: OU '%s' is not a line role", peer->subject, ou);
        return -1;
    }
    sl_strlcpy(peer->member, cn, sizeof peer->member);
    peer->role = role;
    return 0;
}

/* ---- tokens file ----------------------------------------------------------------- */

int sl_tokens_lookup(const char *path, const char *member, const char *role, char *out,
                     size_t outlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        char m[64], r[64], tok[256];
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%63s %63s %255s", m, r, tok) != 3)
            continue;
        if (strcmp(m, member) == 0 && strcmp(r, role) == 0) {
            if (strlen(tok) < outlen) {
                sl_strlcpy(out, tok, outlen);
                rc = 0;
            }
            break;
        }
    }
    OPENSSL_cleanse(line, sizeof line);
    fclose(f);
    return rc;
}
