/*
 * certs.h - credentials for a test or demo network (`stateline gen certs`).
 *
 * Files written into the output directory (PEM; keys and tokens mode 0600):
 *     ca.crt, ca.key                  the network CA (EC P-256, self-signed, CA:TRUE)
 *     hub.crt, hub.key                the switch: CN=NL, OU=hub, O=stateline,
 *                                     SAN DNS:localhost, IP:127.0.0.1, IP:::1 (+ hub_host)
 *     <M>-answer.crt, <M>-answer.key  member M's answering line: CN=M, OU=answer
 *     <M>-terminal.crt, .key          member M's terminal line: CN=M, OU=terminal
 *     <M>-desk.crt, <M>-desk.key      member M's oversight desk (HTTPS server): CN=M,
 *                                     OU=desk, serverAuth, the hub's SANs
 *     tokens                          "M ROLE TOKEN" per line certificate, TOKEN = 64 hex
 *                                     digits from the CSPRNG (plain loopback lines)
 * Line certificates carry extendedKeyUsage clientAuth; the hub's serverAuth+clientAuth;
 * the desks' serverAuth.
 *
 * Idempotent: a file set that is still valid (parses, key matches, signed by the CA in the
 * directory, within its validity period, right subject and SANs) is kept, unless force.
 * A new CA makes every line certificate new.  Existing tokens are kept, and lines for
 * members not named this time are left alone.
 */
#ifndef STATELINE_CERTS_H
#define STATELINE_CERTS_H

#include <stddef.h>
#include <stdio.h>

struct sl_certs_opts {
    const char *out_dir;          /* created (0700) when missing */
    const char *const *members;   /* member codes, 2-7 of A-Z 0-9, not "NL" */
    size_t nmembers;
    const char *hub_host;         /* extra hub SAN (DNS name or IP); NULL = none */
    int days;                     /* validity of new certificates */
    int force;                    /* rewrite everything */
};

/* Generate what is missing or invalid.  report (may be NULL) gets a short summary.
 * 0, or -1 with err set. */
int sl_certs_generate(const struct sl_certs_opts *o, FILE *report, char *err, size_t errlen);

/* The members of a national network: the 50 states, DC, PR, GU, VI, CN (Canada) and the
 * federal lines DJ (Justice), DH (Homeland Security), TR (Treasury), DI (Interior),
 * DD (Defense).  *n gets the count. */
const char *const *sl_certs_all_members(size_t *n);

#endif
