/*
 * http_int.h - the oversight desk's parts, between its files.
 *
 * http_server.c  libmicrohttpd, routing, sessions, CSRF, the audit queue
 * http_db.c      accounts and sessions in DATA/gateway.db; `gateway users`
 * http_data.c    what the pages show, as JSON (briefing, figures, health, public)
 * http_html.c    HTML rendering and inline SVG charts
 */
#ifndef STATELINE_HTTP_INT_H
#define STATELINE_HTTP_INT_H

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "stateline/audit.h"
#include "stateline/buf.h"
#include "stateline/gateway.h"
#include "stateline/http.h"

/* Roles (R-4, P-30): separate so that no one both sets the rules and applies them. */
enum http_role {
    HR_OFFICIAL = 0, /* read-only: briefing, figures, health */
    HR_REVIEWER,     /* releases held requests (review desk) */
    HR_AUTHOR,       /* writes rule drafts */
    HR_APPROVER,     /* puts rules in force */
    HR_AUDITOR,      /* reads and verifies the log */
    HR_ADMIN,        /* accounts */
    HR_COUNT
};
const char *http_role_name(int r);
int http_role_parse(const char *s);   /* -1 if unknown */
int http_role_needs_totp(int r);      /* can release data or change rules */

struct http_verify {
    int done;              /* a verification has run since start */
    int running;
    int64_t at_us;         /* when it finished */
    int64_t problems;      /* -1: the log could not be read */
    uint64_t entries, checkpoints;
    double seconds;
    char root[65];
    char first_problem[300];
    char by[64];           /* who asked */
};

struct sl_http {
    const struct sl_gw_config *cfg;
    struct sl_policy_slot *slot;
    struct MHD_Daemon *d;
    char *tls_cert, *tls_key; /* PEM text, owned */
    int port;
    pthread_mutex_t mu;       /* db and verify */
    sqlite3 *db;
    struct http_verify ver;
    /* the public page's last report: the same month asked within 5 s is not recomputed
     * (the public page is the one anybody can ask for in a loop) */
    struct {
        int64_t from_us, at_ms;
        json_t *j;
    } pub;
    /* audit queue: encoded entries, each u32 length + bytes */
    pthread_mutex_t qmu;
    struct sl_buf q;
    int efd;
};

/* ---- http_server.c ---- */
/* Queue an entry for the loop thread (encoded now: e's strings need not live on). */
void http_audit(struct sl_http *h, struct sl_audit_entry *e);

/* ---- http_db.c ---- */
/* Open DATA/gateway.db and create the tables when missing.  NULL with err. */
sqlite3 *http_db_open(const char *data_dir, char *err, size_t errlen);
struct http_user {
    char name[64];
    int role;
    char pwhash[160];
    char totp[64];          /* base32 */
    int64_t last_step;      /* last TOTP step accepted (replay) */
    int failures;           /* consecutive failed log-ons */
    int64_t locked_until;   /* unix seconds */
};
/* 0 found, 1 no such user, -1 error. */
int http_db_user(sqlite3 *db, const char *name, struct http_user *u);
int http_db_user_logon_result(sqlite3 *db, const char *name, int ok, int64_t step,
                              int64_t locked_until);
struct http_session {
    char user[64];
    int role;
    char csrf[65];
    int64_t expires;        /* unix seconds */
};
/* New session for user: token (64 hex, the cookie) and csrf filled.  0 or -1. */
int http_db_session_new(sqlite3 *db, const char *user, int role, int lifetime_s,
                        char token[65], char csrf[65]);
/* Look up a live session by its token and extend it.  0 found, 1 none/expired, -1. */
int http_db_session_get(sqlite3 *db, const char *token, int lifetime_s,
                        struct http_session *s);
int http_db_session_end(sqlite3 *db, const char *token);
/* Account changes made by the CLI, oldest first, then deleted: fn per row.  Count or -1. */
int http_db_account_events(sqlite3 *db,
                           void (*fn)(int64_t time, const char *actor, const char *action,
                                      const char *name, const char *role, void *arg),
                           void *arg);
/* Queue an admin audit entry for each (http_server.c); with h->mu held. */
void http_account_events(struct sl_http *h);
/* Accounts as JSON [{name, role, totp_required, failures, locked}] */
json_t *http_db_users_json(sqlite3 *db);

/* ---- http_data.c ---- (each returns a new json_t or NULL with err) */
struct http_filter {
    int64_t from_us, to_us;  /* [from, to) */
    char from[11], to[11];   /* as given, YYYY-MM-DD (to inclusive) */
    char agency[48];         /* parent agency prefix ("DHS/ICE"), "" = all */
    char key[4];             /* message key, "" = all */
    int outcome;             /* SL_AUDIT_OUT_*, 0 = all */
};
json_t *http_briefing(struct sl_http *h, int64_t now_us, char *err, size_t errlen);
json_t *http_figures(struct sl_http *h, const struct http_filter *f, char *err,
                     size_t errlen);
json_t *http_public(struct sl_http *h, int64_t from_us, int64_t to_us, const char *month,
                    char *err, size_t errlen);
json_t *http_health(struct sl_http *h, char *err, size_t errlen);
/* Run a full verification now (blocking) and remember the result. */
void http_verify_now(struct sl_http *h, const char *by);
/* The report as CSV (table,key,count), as `stateline report --format csv`. */
void http_report_csv(json_t *report, struct sl_buf *out);

/* ---- http_html.c ---- */
void html_escape(struct sl_buf *b, const char *s);
/* Page head with the title, navigation for a user (NULL: public), and the closing. */
void html_begin(struct sl_buf *b, const struct sl_gw_config *cfg, const char *title,
                const struct http_session *s, const char *csrf);
void html_end(struct sl_buf *b);
void html_briefing(struct sl_buf *b, json_t *j);
void html_figures(struct sl_buf *b, json_t *j, const struct http_filter *f);
void html_public(struct sl_buf *b, json_t *j);
void html_health(struct sl_buf *b, json_t *j, const struct http_session *s);
void html_login(struct sl_buf *b, const char *msg);
/* A horizontal bar chart of an object {label: count} (largest first, at most max bars). */
void svg_bars(struct sl_buf *b, const char *title, json_t *obj, int max);
/* Monthly columns: rows [{month, <series>...}], series names and colours. */
void svg_months(struct sl_buf *b, const char *title, json_t *rows, const char *const *series,
                const char *const *labels, int nseries);
extern const char http_css[];

/* ---- handlers in other files than http_server.c ----
 * A request (http_server.c's struct ctx) seen through these calls; every http_req_*
 * that answers returns the libmicrohttpd result (MHD_YES/MHD_NO) to return from the
 * handler.  The route table in http_server.c has already checked the session, the role,
 * the Origin and, for a POST, the CSRF token. */
struct ctx;
struct sl_http *http_req_server(struct ctx *x);
int http_req_api(const struct ctx *x);                        /* under /api/ */
const struct http_session *http_req_session(const struct ctx *x); /* NULL: public */
const char *http_req_arg(struct ctx *x, const char *name);    /* query string */
/* A body field: 1 found, 0 absent, -1 bad (duplicate, undecodable). */
int http_req_field(struct ctx *x, const char *name, char *out, size_t cap);
int http_req_json(struct ctx *x, unsigned status, json_t *j); /* takes j */
int http_req_html(struct ctx *x, unsigned status, struct sl_buf *b); /* frees b */
int http_req_send(struct ctx *x, unsigned status, const char *ctype, const struct sl_buf *b);
int http_req_fail(struct ctx *x, unsigned status, const char *why);
int http_req_redirect(struct ctx *x, const char *to);        /* 303 */
/* An audit entry of this type by the session's user (action, outcome 0 = none, text). */
void http_req_audit(struct ctx *x, int type, const char *action, int outcome,
                    const char *text);
/* from/to/agency/key/outcome of the query string; -1 with why (a 400). */
int http_req_filter(struct ctx *x, struct http_filter *f, char *why, size_t len);

/* ---- http_desk.c: the review desk and notices (docs/http-api.md §9) ---- */
int http_desk_queue(struct ctx *x);   /* GET /review, /api/review */
int http_desk_item(struct ctx *x);    /* GET /review/item?id= */
int http_desk_decide(struct ctx *x);  /* POST /review/decide */
int http_desk_notices(struct ctx *x); /* GET /review/notices?which= */
int http_desk_letter(struct ctx *x);  /* GET /review/letter?id= */
int http_desk_send(struct ctx *x);    /* POST /review/notices/send */

/* ---- http_decisions.c: decisions and their rules (docs/http-api.md §10) ---- */
int http_decisions(struct ctx *x);    /* GET /decisions, /api/decisions */

#endif
