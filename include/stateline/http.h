/*
 * http.h - the oversight desk in the browser: the gateway's HTTPS server (issue 8,
 * REQUIREMENTS, U-2; docs/http-api.md).
 *
 * The server runs on libmicrohttpd's own threads inside `stateline gateway` (a small
 * thread pool; the gateway's loop thread keeps the hub line).  It serves
 *   - a public part without log-on: aggregate monthly figures only (/, /api/public);
 *   - for named accounts (roles official, reviewer, author, approver, auditor, admin):
 *     the briefing (rules in plain language, "who can see what" computed by the policy
 *     in force, the last 12 months as charts, the rule history), the figures (the
 *     transparency report with filters, CSV/JSON) and the log's health;
 * every page as server-rendered HTML (no JavaScript, inline SVG charts) and as JSON.
 *
 * Accounts and sessions live in the gateway's SQLite (DATA/gateway.db, tables http_user
 * and http_session).  Passwords: scrypt (OpenSSL 3 EVP_KDF, N = 2^15, r = 8, p = 1,
 * 16-byte salt, 32-byte hash).  Second factor: TOTP (RFC 6238, HMAC-SHA1, 6 digits,
 * 30 s, one step either side, a step never accepted twice).
 *
 * The audit log has one producer thread (the gateway's loop).  The server therefore
 * queues its entries (log-on, failed log-on, log reads, actions), encoded, and signals an
 * eventfd; the loop calls sl_http_audit_drain when it fires, which appends them.
 */
#ifndef STATELINE_HTTP_H
#define STATELINE_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct sl_gw_config;
struct sl_policy_slot;
struct sl_audit_log;
struct sl_http;

/* Start the server on cfg->http_listen (port 0: any free port).  slot: the gateway's
 * policy slot (read with sl_policy_slot_acquire, never swapped here); both must outlive
 * the server.  Prints "oversight desk: https://HOST:PORT/" on stdout.  *out is owned by
 * the caller and released by sl_http_stop + sl_http_free.  0, or -1 with err. */
int sl_http_start(const struct sl_gw_config *cfg, struct sl_policy_slot *slot,
                  struct sl_http **out, char *err, size_t errlen);
/* Readable when audit entries wait to be appended. */
int sl_http_audit_fd(const struct sl_http *h);
/* Loop thread: append every queued entry to log.  Returns the number appended, -1 when
 * an append failed (the log is then failed: the caller stops). */
int sl_http_audit_drain(struct sl_http *h, struct sl_audit_log *log);
/* Stop the threads (no request is served after it returns); the queue stays, so drain it
 * once more, then sl_http_free.  Entries still queued at free are dropped. */
void sl_http_stop(struct sl_http *h);
void sl_http_free(struct sl_http *h);

/* `stateline gateway users --config FILE add|list|remove|passwd ...` (argv[0] =
 * "users").  Returns a process exit code (SL_EXIT_*). */
int sl_http_users_cmd(int argc, char **argv);
/* Add an account to cfg's DATA/gateway.db (as `users add`): role by name, password of at
 * least 12 characters; replace = 1 removes an account of that name first (and its
 * sessions).  The new TOTP secret (base32) goes to secret.  The change reaches the audit
 * log as the CLI's do (http_account_event).  0, or -1 with err.  For `stateline demo`. */
int sl_http_user_add(const struct sl_gw_config *cfg, const char *name, const char *role,
                     const char *password, int replace, char *secret, size_t seclen,
                     char *err, size_t errlen);
/* The account's TOTP code at now_s (6 digits + NUL); *valid_s (may be NULL): seconds left
 * in its step.  0, or -1 with err (no such account).  For `users code`. */
int sl_http_user_code(const struct sl_gw_config *cfg, const char *name, int64_t now_s,
                      char code[7], int *valid_s, char *err, size_t errlen);

/* ---- parsers of HTTP input (http_parse.c; fuzzed by tests/fuzz/fuzz_http_input.c) ---- */

/* Percent-decode in[0, len) into out (cap bytes, NUL-terminated); plus: '+' means space
 * (form bodies, query strings).  Returns the length, or -1 when a %-escape is broken,
 * the result holds a NUL or a control character other than tab/CR/LF, or it does not
 * fit. */
int sl_http_urldecode(const char *in, size_t len, char *out, size_t cap, int plus);
/* The value of name in an application/x-www-form-urlencoded body or query string
 * ("a=1&b=x+y"), decoded into out.  Returns its length, -1 when absent, -2 when present
 * but undecodable or too long, -3 when it appears more than once (refused: ambiguous). */
int sl_http_form_get(const char *body, size_t len, const char *name, char *out, size_t cap);
/* The value of cookie name in a Cookie header ("a=1; b=2"), not decoded.  Same returns. */
int sl_http_cookie_get(const char *hdr, size_t len, const char *name, char *out, size_t cap);
/* "YYYY-MM-DD" -> microseconds at 00:00 UTC of that day.  0, or -1 when not a real date
 * between 1970 and 9999. */
int sl_http_parse_date(const char *s, int64_t *us);
/* "YYYY-MM" -> [first day, first day of next month) in µs.  0 or -1. */
int sl_http_parse_month(const char *s, int64_t *from_us, int64_t *to_us);

/* ---- credentials (http_auth.c) ---- */

/* RFC 4648 base32 without padding.  Returns the length written (NUL-terminated), or -1. */
int sl_http_base32_encode(const uint8_t *in, size_t len, char *out, size_t cap);
/* Decoding ignores case, spaces and '='; -1 on any other character. */
int sl_http_base32_decode(const char *in, uint8_t *out, size_t cap);
/* The TOTP code (6 digits) of key for time step `step` (unix time / 30). */
uint32_t sl_http_totp(const uint8_t *key, size_t keylen, uint64_t step);
/* "scrypt$15$8$1$<salt b64>$<hash b64>" of pw into out (cap >= 128).  0 or -1. */
int sl_http_password_hash(const char *pw, char *out, size_t cap);
/* 1 when pw matches stored, 0 when not (or stored is malformed). Constant time compare. */
int sl_http_password_check(const char *pw, const char *stored);

#endif
