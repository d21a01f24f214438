/*
 * http_server.c - the oversight desk's HTTPS server: libmicrohttpd on its own threads,
 * routing, log-on, sessions, CSRF, and the queue of audit entries for the loop thread.
 *
 * Every route is in `routes` below and in docs/http-api.md.  Pages are HTML; the same
 * data is under /api/... as JSON.  Rules every request goes through:
 *   - a page that needs a log-on answers 303 -> /login (HTML) or 401 (API) without one;
 *   - a role that may not see it gets 403;
 *   - every POST needs an Origin that is ours when the browser sends one, and (except the
 *     log-on itself) the session's CSRF token in the form field `csrf` or the header
 *     X-CSRF-Token; else 403 with the reason;
 *   - bad input gets 400 with the reason; bodies over 64 KiB get 413;
 *   - every log-on, failed log-on, page read by a logged-on user and action is an audit
 *     entry (log-on, log-on-failed, log-read, admin).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "http_int.h"
#include "stateline/core.h"
#include "stateline/policy.h"

#define BODY_MAX 65536
#define LOCK_AFTER 5
#define LOCK_S 300

/* ---- the audit queue ---- */

void http_audit(struct sl_http *h, struct sl_audit_entry *e)
{
    uint8_t buf[8192];
    char err[200];
    e->seq = 0;
    int n = sl_audit_encode(e, buf, sizeof buf, err, sizeof err);
    if (n < 0) {
        SL_ERROR("http", "audit entry refused by the encoder: %s", err);
        return;
    }
    uint32_t len = (uint32_t)n;
    pthread_mutex_lock(&h->qmu);
    sl_buf_append(&h->q, &len, sizeof len);
    sl_buf_append(&h->q, buf, len);
    pthread_mutex_unlock(&h->qmu);
    uint64_t one = 1;
    if (write(h->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        SL_ERROR("http", "eventfd: %s", strerror(errno));
}

int sl_http_audit_fd(const struct sl_http *h)
{
    return h->efd;
}

int sl_http_audit_drain(struct sl_http *h, struct sl_audit_log *log)
{
    uint64_t v;
    struct sl_buf q;
    if (read(h->efd, &v, sizeof v) < 0 && errno != EAGAIN)
        SL_ERROR("http", "eventfd: %s", strerror(errno));
    pthread_mutex_lock(&h->qmu);
    q = h->q;
    sl_buf_init(&h->q);
    pthread_mutex_unlock(&h->qmu);
    int n = 0, rc = 0;
    size_t off = 0, used = sl_buf_used(&q);
    const uint8_t *p = used ? sl_buf_head(&q) : NULL;
    while (off + 4 <= used) {
        uint32_t len;
        memcpy(&len, p + off, 4);
        off += 4;
        struct sl_audit_entry e;
        char err[200];
        if (sl_audit_decode(p + off, len, &e, err, sizeof err) == 0) {
            e.time_us = e.time_us ? e.time_us : sl_wall_us();
            if (sl_audit_append(log, &e, NULL, 0) < 0) {
                rc = -1;
                break;
            }
            n++;
        } else {
            SL_ERROR("http", "queued audit entry does not decode: %s", err);
        }
        off += len;
    }
    sl_buf_free(&q);
    return rc ? -1 : n;
}

static void account_entry(int64_t t, const char *actor, const char *action, const char *name,
                          const char *role, void *arg)
{
    struct sl_audit_entry e;
    char text[120];
    snprintf(text, sizeof text, "account %s%s%s", name, role[0] ? ", role " : "", role);
    sl_audit_entry_init(&e, SL_AUDIT_ADMIN, t * 1000000);
    sl_audit_set_str(&e, SL_AF_ACTOR, actor);
    sl_audit_set_str(&e, SL_AF_ACTION, action);
    sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_OK);
    sl_audit_set_str(&e, SL_AF_TEXT, text);
    http_audit(arg, &e);
}

void http_account_events(struct sl_http *h)
{
    if (http_db_account_events(h->db, account_entry, h) < 0)
        SL_WARN("http", "gateway.db: cannot read the account changes (they stay for the "
                "next try): %s", sqlite3_errmsg(h->db));
}

/* ---- requests ---- */

struct rq {
    struct sl_buf body;
    int too_big;
};

struct ctx {
    struct sl_http *h;
    struct MHD_Connection *c;
    const char *method, *url;
    struct rq *rq;
    int api;                 /* /api/...: JSON answers */
    int have_session;
    struct http_session s;
    char token[65];
    char remote[64];
};

static void remote_of(struct MHD_Connection *c, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    sl_strlcpy(out, "?", len);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
                  (socklen_t)len);
}

static enum MHD_Result send_buf(struct ctx *x, unsigned status, const char *ctype,
                                const struct sl_buf *b, const char *cookie,
                                const char *location, const char *disposition)
{
    size_t n = sl_buf_used(b);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n, n ? sl_buf_head(b) : (void *)"",
                                        MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    /* same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" with
     * every form POST (Fetch: "append a request Origin header"), and origin_ok could not
     * tell our own forms from another site's; nothing leaves for other sites either way */
    MHD_add_response_header(r, "Referrer-Policy", "same-origin");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    if (x->h->cfg->http_tls)
        MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
    if (cookie)
        MHD_add_response_header(r, "Set-Cookie", cookie);
    if (location)
        MHD_add_response_header(r, "Location", location);
    if (disposition)
        MHD_add_response_header(r, "Content-Disposition", disposition);
    if (status == 405)
        MHD_add_response_header(r, "Allow", "GET, POST");
    enum MHD_Result ret = MHD_queue_response(x->c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct ctx *x, unsigned status, json_t *j, const char *cookie)
{
    struct sl_buf b;
    sl_buf_init(&b);
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
    sl_buf_append_str(&b, s ? s : "{}");
    sl_buf_append_str(&b, "\n");
    free(s);
    json_decref(j);
    enum MHD_Result r = send_buf(x, status, "application/json; charset=utf-8", &b, cookie,
                                 NULL, NULL);
    sl_buf_free(&b);
    return r;
}

static enum MHD_Result send_html(struct ctx *x, unsigned status, struct sl_buf *b,
                                 const char *cookie)
{
    enum MHD_Result r = send_buf(x, status, "text/html; charset=utf-8", b, cookie, NULL, NULL);
    sl_buf_free(b);
    return r;
}

/* An error: JSON {"error": why, "status": n} under /api, else a small page. */
static enum MHD_Result fail(struct ctx *x, unsigned status, const char *why)
{
    if (x->api)
        return send_json(x, status, json_pack("{s:s, s:i}", "error", why, "status",
                                              (int)status), NULL);
    struct sl_buf b;
    sl_buf_init(&b);
    char title[64];
    snprintf(title, sizeof title, "%u", status);
    html_begin(&b, x->h->cfg, title, x->have_session ? &x->s : NULL,
               x->have_session ? x->s.csrf : NULL);
    sl_buf_append_str(&b, "<h1>");
    sl_buf_printf(&b, "%u</h1>\n<p class=\"error\" role=\"alert\">", status);
    html_escape(&b, why);
    sl_buf_append_str(&b, "</p>\n<p><a href=\"/\">Public figures</a> &middot; "
                          "<a href=\"/briefing\">Briefing</a></p>\n");
    html_end(&b);
    return send_html(x, status, &b, NULL);
}

static enum MHD_Result redirect(struct ctx *x, const char *to, const char *cookie)
{
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_append_str(&b, "see other\n");
    enum MHD_Result r = send_buf(x, 303, "text/plain; charset=utf-8", &b, cookie, to, NULL);
    sl_buf_free(&b);
    return r;
}

static const char *arg(struct ctx *x, const char *name)
{
    return MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, name);
}

/* A body field (form-urlencoded).  1 found, 0 absent, -1 bad (duplicate, undecodable). */
static int field(struct ctx *x, const char *name, char *out, size_t cap)
{
    out[0] = 0;
    if (!x->rq->body.data)
        return 0;
    int n = sl_http_form_get((const char *)sl_buf_head(&x->rq->body),
                             sl_buf_used(&x->rq->body), name, out, cap);
    return n >= 0 ? 1 : n == -1 ? 0 : -1;
}

static void load_session(struct ctx *x)
{
    const char *ck = MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, "Cookie");
    char tok[80];
    if (!ck || sl_http_cookie_get(ck, strlen(ck), "sl_session", tok, sizeof tok) != 64)
        return;
    for (int i = 0; i < 64; i++)
        if (!((tok[i] >= '0' && tok[i] <= '9') || (tok[i] >= 'a' && tok[i] <= 'f')))
            return;
    pthread_mutex_lock(&x->h->mu);
    int rc = http_db_session_get(x->h->db, tok, x->h->cfg->http_session_s, &x->s);
    pthread_mutex_unlock(&x->h->mu);
    if (rc == 0) {
        x->have_session = 1;
        sl_strlcpy(x->token, tok, sizeof x->token);
    }
}

static void audit_simple(struct ctx *x, int type, const char *actor, const char *action,
                         int outcome, const char *text)
{
    struct sl_audit_entry e;
    sl_audit_entry_init(&e, (enum sl_audit_type)type, sl_wall_us());
    sl_audit_set_str(&e, SL_AF_ACTOR, actor);
    sl_audit_set_str(&e, SL_AF_ACTION, action);
    sl_audit_set_str(&e, SL_AF_REMOTE, x->remote);
    if (outcome)
        sl_audit_set_int(&e, SL_AF_OUTCOME, outcome);
    sl_audit_set_str(&e, SL_AF_TEXT, text);
    http_audit(x->h, &e);
}

/* A read by a logged-on user: who read which page with which filters. */
static void audit_read(struct ctx *x)
{
    char what[300];
    const union MHD_ConnectionInfo *ci = NULL;
    (void)ci;
    snprintf(what, sizeof what, "%s %s", x->method, x->url);
    char q[400] = "";
    const char *keys[] = {"from", "to", "agency", "key", "outcome", "month", "id"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = arg(x, keys[i]);
        if (v && *v) {
            size_t l = strlen(q);
            snprintf(q + l, sizeof q - l, "%s%s=%.48s", l ? " " : "", keys[i], v);
        }
    }
    audit_simple(x, SL_AUDIT_LOG_READ, x->s.user, what, SL_AUDIT_OUT_OK, q);
}

static int csrf_ok(struct ctx *x)
{
    char f[80];
    const char *hv = MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, "X-CSRF-Token");
    const char *t = hv;
    if (!t) {
        if (field(x, "csrf", f, sizeof f) != 1)
            return 0;
        t = f;
    }
    return strlen(t) == 64 && CRYPTO_memcmp(t, x->s.csrf, 64) == 0;
}

/* A browser's Origin, when sent, must be this server (defence in depth with SameSite). */
static int origin_ok(struct ctx *x)
{
    const char *o = MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, "Host");
    if (!o)
        return 1;
    if (!host)
        return 0;
    char want[300];
    snprintf(want, sizeof want, "%s://%s", x->h->cfg->http_tls ? "https" : "http", host);
    return strcmp(o, want) == 0;
}

/* ---- filters ---- */

static int parse_filter(struct ctx *x, struct http_filter *f, char *why, size_t len)
{
    memset(f, 0, sizeof *f);
    const char *from = arg(x, "from"), *to = arg(x, "to"), *ag = arg(x, "agency"),
               *key = arg(x, "key"), *out = arg(x, "outcome");
    int64_t now = sl_wall_us();
    int64_t day = INT64_C(86400000000);
    int64_t today = now - now % day;
    if (to && *to) {
        if (sl_http_parse_date(to, &f->to_us)) {
            snprintf(why, len, "to: a date YYYY-MM-DD, e.g. 2026-11-30");
            return -1;
        }
        f->to_us += day;
    } else {
        f->to_us = today + day;
    }
    if (from && *from) {
        if (sl_http_parse_date(from, &f->from_us)) {
            snprintf(why, len, "from: a date YYYY-MM-DD, e.g. 2026-01-01");
            return -1;
        }
    } else {
        f->from_us = f->to_us - 365 * day;
    }
    if (f->from_us >= f->to_us) {
        snprintf(why, len, "from must be on or before to");
        return -1;
    }
    if (f->to_us - f->from_us > 3660 * day) {
        snprintf(why, len, "from .. to: at most 10 years at a time");
        return -1;
    }
    time_t a = (time_t)(f->from_us / 1000000), b = (time_t)((f->to_us - day) / 1000000);
    struct tm ta, tb;
    gmtime_r(&a, &ta);
    gmtime_r(&b, &tb);
    strftime(f->from, sizeof f->from, "%Y-%m-%d", &ta);
    strftime(f->to, sizeof f->to, "%Y-%m-%d", &tb);
    if (ag && *ag) {
        size_t n = strlen(ag);
        int ok = n < sizeof f->agency;
        for (size_t i = 0; ok && i < n; i++)
            ok = (ag[i] >= 'A' && ag[i] <= 'Z') || (ag[i] >= '0' && ag[i] <= '9') ||
                 ag[i] == '/' || ag[i] == '-' || ag[i] == '_' || ag[i] == '.' || ag[i] == ' ';
        if (!ok) {
            snprintf(why, len, "agency: a parent agency or its prefix in capitals, e.g. "
                               "DHS/ICE (up to 47 characters A-Z 0-9 / - _ .)");
            return -1;
        }
        sl_strlcpy(f->agency, ag, sizeof f->agency);
    }
    if (key && *key) {
        static const char *const keys[] = {"DQ", "DQG", "DNQ", "KQ", "RQ", "RQG", "RNQ",
                                           "RPQ"};
        int ok = 0;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            ok |= !strcmp(key, keys[i]);
        if (!ok) {
            snprintf(why, len, "key: one of DQ DQG DNQ KQ RQ RQG RNQ RPQ");
            return -1;
        }
        sl_strlcpy(f->key, key, sizeof f->key);
    }
    if (out && *out) {
        int o = sl_audit_outcome_parse(out);
        if (o != SL_AUDIT_OUT_RELEASED && o != SL_AUDIT_OUT_DENIED &&
            o != SL_AUDIT_OUT_HELD && o != SL_AUDIT_OUT_REDACTED &&
            o != SL_AUDIT_OUT_NOTICED && o != SL_AUDIT_OUT_TIMED_OUT) {
            snprintf(why, len, "outcome: one of released, redacted, denied, held, noticed, "
                               "timed-out");
            return -1;
        }
        f->outcome = o;
    }
    return 0;
}

/* ---- log-on ---- */

static enum MHD_Result login_page(struct ctx *x, unsigned status, const char *msg)
{
    struct sl_buf b;
    sl_buf_init(&b);
    html_begin(&b, x->h->cfg, "Log on", NULL, NULL);
    html_login(&b, msg);
    html_end(&b);
    return send_html(x, status, &b, NULL);
}

static int valid_user(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
              s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

static enum MHD_Result do_login(struct ctx *x)
{
    struct sl_http *h = x->h;
    char user[80], pw[300], code[16], why[160];
    if (field(x, "user", user, sizeof user) != 1 || field(x, "password", pw, sizeof pw) != 1 ||
        field(x, "code", code, sizeof code) < 0) {
        const char *m = "user and password are required (form fields user, password, code)";
        return x->api ? fail(x, 400, m) : login_page(x, 400, m);
    }
    int64_t now = (int64_t)time(NULL);
    struct http_user u;
    int found = -1, ok = 0;
    pthread_mutex_lock(&h->mu);
    http_account_events(h); /* account changes by the CLI reach the log before log-ons */
    pthread_mutex_unlock(&h->mu);
    int64_t step_ok = 0;
    why[0] = 0;
    if (!valid_user(user)) {
        snprintf(why, sizeof why, "no such account");
        sl_strlcpy(user, "(not an account name)", sizeof user);
    } else {
        pthread_mutex_lock(&h->mu);
        found = http_db_user(h->db, user, &u);
        pthread_mutex_unlock(&h->mu);
    }
    if (found == 1) {
        snprintf(why, sizeof why, "no such account");
        /* spend the same time as a real check: no account enumeration by timing */
        sl_http_password_check(pw, "scrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA==$"
                                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    } else if (found < 0 && !why[0]) {
        snprintf(why, sizeof why, "account store error");
    } else if (found == 0 && u.locked_until > now) {
        snprintf(why, sizeof why, "account locked after %d failed log-ons", u.failures);
    } else if (found == 0) {
        int pw_ok = sl_http_password_check(pw, u.pwhash);
        int code_ok = 0;
        size_t cl = strlen(code);
        uint8_t key[64];
        int kl = sl_http_base32_decode(u.totp, key, sizeof key);
        if (cl == 6 && strspn(code, "0123456789") == 6 && kl > 0) {
            uint32_t want = (uint32_t)strtoul(code, NULL, 10);
            int64_t st = now / 30;
            for (int64_t d = -1; d <= 1; d++)
                if (st + d > u.last_step && sl_http_totp(key, (size_t)kl, (uint64_t)(st + d)) ==
                                                want) {
                    code_ok = 1;
                    step_ok = st + d;
                }
        }
        if (!pw_ok)
            snprintf(why, sizeof why, "wrong password");
        else if (cl == 0 && http_role_needs_totp(u.role))
            snprintf(why, sizeof why, "the %s role needs a TOTP code", http_role_name(u.role));
        else if (cl != 0 && !code_ok)
            snprintf(why, sizeof why, "wrong or reused TOTP code");
        else
            ok = 1;
    }
    if (!ok) {
        if (found == 0) {
            int64_t until = u.failures + 1 >= LOCK_AFTER ? now + LOCK_S : 0;
            pthread_mutex_lock(&h->mu);
            http_db_user_logon_result(h->db, user, 0, 0, until);
            pthread_mutex_unlock(&h->mu);
        }
        audit_simple(x, SL_AUDIT_LOGON_FAILED, user, "log-on", SL_AUDIT_OUT_FAILED, why);
        /* the person is told only that it failed: which part failed is in the log */
        const char *m = "log-on failed: wrong account, password or code (or the account is "
                        "locked)";
        return x->api ? fail(x, 401, m) : login_page(x, 401, m);
    }
    char token[65], csrf[65], cookie[200], text[80];
    pthread_mutex_lock(&h->mu);
    int rc = http_db_user_logon_result(h->db, user, 1, step_ok, 0);
    if (rc == 0)
        rc = http_db_session_new(h->db, user, u.role, h->cfg->http_session_s, token, csrf);
    pthread_mutex_unlock(&h->mu);
    if (rc != 0)
        return fail(x, 500, "cannot store the session");
    snprintf(text, sizeof text, "role %s%s", http_role_name(u.role),
             step_ok ? ", with TOTP" : ", password only");
    audit_simple(x, SL_AUDIT_LOGON, user, "log-on", SL_AUDIT_OUT_OK, text);
    snprintf(cookie, sizeof cookie, "sl_session=%s; Path=/; Secure; HttpOnly; "
             "SameSite=Strict; Max-Age=43200", token);
    if (x->api)
        return send_json(x, 200, json_pack("{s:s, s:s, s:s, s:I}", "user", user, "role",
                                           http_role_name(u.role), "csrf", csrf,
                                           "expires", (json_int_t)(now +
                                                                   h->cfg->http_session_s)),
                         cookie);
    return redirect(x, "/briefing", cookie);
}

static enum MHD_Result do_logout(struct ctx *x)
{
    pthread_mutex_lock(&x->h->mu);
    http_db_session_end(x->h->db, x->token);
    pthread_mutex_unlock(&x->h->mu);
    audit_simple(x, SL_AUDIT_ADMIN, x->s.user, "log-off", SL_AUDIT_OUT_OK, NULL);
    const char *ck = "sl_session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0";
    if (x->api)
        return send_json(x, 200, json_pack("{s:b}", "logged_off", 1), ck);
    return redirect(x, "/", ck);
}

/* ---- pages ---- */

static enum MHD_Result page_json_or_html(struct ctx *x, json_t *j, int kind,
                                         const struct http_filter *f)
{
    if (x->api)
        return send_json(x, 200, j, NULL);
    struct sl_buf b;
    sl_buf_init(&b);
    static const char *const titles[] = {"Briefing", "Figures", "The log's health",
                                         "Public figures"};
    html_begin(&b, x->h->cfg, titles[kind], x->have_session ? &x->s : NULL,
               x->have_session ? x->s.csrf : NULL);
    if (kind == 0)
        html_briefing(&b, j);
    else if (kind == 1)
        html_figures(&b, j, f);
    else if (kind == 2)
        html_health(&b, j, x->have_session ? &x->s : NULL);
    else
        html_public(&b, j);
    html_end(&b);
    json_decref(j);
    return send_html(x, 200, &b, NULL);
}

static enum MHD_Result public_page(struct ctx *x)
{
    const char *m = arg(x, "month");
    char month[8];
    int64_t from, to;
    if (m && *m) {
        if (sl_http_parse_month(m, &from, &to))
            return fail(x, 400, "month: YYYY-MM, e.g. 2026-10");
        sl_strlcpy(month, m, sizeof month);
    } else {
        time_t now = time(NULL);
        struct tm t;
        gmtime_r(&now, &t);
        strftime(month, sizeof month, "%Y-%m", &t);
        sl_http_parse_month(month, &from, &to);
    }
    char err[300];
    json_t *j = http_public(x->h, from, to, month, err, sizeof err);
    if (!j)
        return fail(x, 500, err);
    return page_json_or_html(x, j, 3, NULL);
}

static enum MHD_Result figures(struct ctx *x, int download)
{
    struct http_filter f;
    char why[200], err[300];
    if (parse_filter(x, &f, why, sizeof why))
        return fail(x, 400, why);
    json_t *j = http_figures(x->h, &f, err, sizeof err);
    if (!j)
        return fail(x, 500, err);
    audit_read(x);
    if (download) {
        char disp[120];
        struct sl_buf b;
        sl_buf_init(&b);
        json_t *rep = json_object_get(j, "report");
        if (download == 1) {
            http_report_csv(rep, &b);
            snprintf(disp, sizeof disp, "attachment; filename=\"%s-report-%s-%s.csv\"",
                     x->h->cfg->state, f.from, f.to);
        } else {
            char *s = json_dumps(rep, JSON_INDENT(1) | JSON_SORT_KEYS);
            sl_buf_append_str(&b, s ? s : "{}");
            sl_buf_append_str(&b, "\n");
            free(s);
            snprintf(disp, sizeof disp, "attachment; filename=\"%s-report-%s-%s.json\"",
                     x->h->cfg->state, f.from, f.to);
        }
        enum MHD_Result r = send_buf(x, 200, download == 1 ? "text/csv; charset=utf-8"
                                                           : "application/json; charset=utf-8",
                                     &b, NULL, NULL, disp);
        sl_buf_free(&b);
        json_decref(j);
        return r;
    }
    return page_json_or_html(x, j, 1, &f);
}

static enum MHD_Result briefing(struct ctx *x)
{
    char err[300];
    json_t *j = http_briefing(x->h, sl_wall_us(), err, sizeof err);
    if (!j)
        return fail(x, 500, err);
    audit_read(x);
    return page_json_or_html(x, j, 0, NULL);
}

static enum MHD_Result health(struct ctx *x)
{
    char err[300];
    json_t *j = http_health(x->h, err, sizeof err);
    if (!j)
        return fail(x, 500, err);
    audit_read(x);
    return page_json_or_html(x, j, 2, NULL);
}

static enum MHD_Result verify(struct ctx *x)
{
    http_verify_now(x->h, x->s.user);
    char t[200];
    pthread_mutex_lock(&x->h->mu);
    snprintf(t, sizeof t, "audit verify: %lld problems in %llu entries",
             (long long)x->h->ver.problems, (unsigned long long)x->h->ver.entries);
    pthread_mutex_unlock(&x->h->mu);
    audit_simple(x, SL_AUDIT_ADMIN, x->s.user, "verify-log", SL_AUDIT_OUT_OK, t);
    if (x->api) {
        char err[300];
        json_t *j = http_health(x->h, err, sizeof err);
        return j ? send_json(x, 200, j, NULL) : fail(x, 500, err);
    }
    return redirect(x, "/health", NULL);
}

static enum MHD_Result users(struct ctx *x)
{
    pthread_mutex_lock(&x->h->mu);
    json_t *a = http_db_users_json(x->h->db);
    pthread_mutex_unlock(&x->h->mu);
    audit_read(x);
    return send_json(x, 200, json_pack("{s:o}", "users", a), NULL);
}

static enum MHD_Result session_info(struct ctx *x)
{
    return send_json(x, 200, json_pack("{s:s, s:s, s:s, s:I}", "user", x->s.user, "role",
                                       http_role_name(x->s.role), "csrf", x->s.csrf,
                                       "expires", (json_int_t)x->s.expires), NULL);
}

/* ---- for the handlers in other files (http_int.h: http_desk.c, http_decisions.c) ---- */

struct sl_http *http_req_server(struct ctx *x) { return x->h; }
int http_req_api(const struct ctx *x) { return x->api; }
const struct http_session *http_req_session(const struct ctx *x)
{
    return x->have_session ? &x->s : NULL;
}
const char *http_req_arg(struct ctx *x, const char *name) { return arg(x, name); }
int http_req_field(struct ctx *x, const char *name, char *out, size_t cap)
{
    return field(x, name, out, cap);
}
int http_req_json(struct ctx *x, unsigned status, json_t *j)
{
    return send_json(x, status, j, NULL);
}
int http_req_html(struct ctx *x, unsigned status, struct sl_buf *b)
{
    return send_html(x, status, b, NULL);
}
int http_req_send(struct ctx *x, unsigned status, const char *ctype, const struct sl_buf *b)
{
    return send_buf(x, status, ctype, b, NULL, NULL, NULL);
}
int http_req_fail(struct ctx *x, unsigned status, const char *why)
{
    return fail(x, status, why);
}
int http_req_redirect(struct ctx *x, const char *to) { return redirect(x, to, NULL); }
void http_req_audit(struct ctx *x, int type, const char *action, int outcome, const char *text)
{
    audit_simple(x, type, x->s.user, action, outcome, text);
}
int http_req_filter(struct ctx *x, struct http_filter *f, char *why, size_t len)
{
    return parse_filter(x, f, why, len);
}
/* (http_drafts.c: the upload form reads its multipart body and checks CSRF itself) */
const char *http_req_header(struct ctx *x, const char *name)
{
    return MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, name);
}
const char *http_req_body(struct ctx *x, size_t *len)
{
    *len = sl_buf_used(&x->rq->body);
    return *len ? (const char *)sl_buf_head(&x->rq->body) : "";
}
int http_req_csrf_ok(struct ctx *x, const char *token)
{
    return x->have_session && token && strlen(token) == 64 &&
           CRYPTO_memcmp(token, x->s.csrf, 64) == 0;
}
void http_req_audit_read(struct ctx *x) { audit_read(x); }

/* ---- routing ---- */

enum { R_PUBLIC = 0, R_ANY = 0x3f };
#define ROLE(r) (1u << (r))

#define route http_route /* the same shape for the other files' tables */

enum { W_PUBLIC, W_CSS, W_LOGIN_FORM, W_LOGIN, W_LOGOUT, W_BRIEFING, W_FIGURES, W_CSV,
       W_JSONDL, W_HEALTH, W_VERIFY, W_USERS, W_SESSION,
       /* http_desk.c, http_decisions.c */
       W_REVIEW, W_REVIEW_ITEM, W_REVIEW_DECIDE, W_NOTICES, W_LETTER, W_NOTICES_SEND,
       W_DECISIONS };
#define DESK (ROLE(HR_REVIEWER) | ROLE(HR_ADMIN))

static const struct route routes[] = {
    {"GET", "/", R_PUBLIC, 0, W_PUBLIC},
    {"GET", "/api/public", R_PUBLIC, 0, W_PUBLIC},
    {"GET", "/style.css", R_PUBLIC, 0, W_CSS},
    {"GET", "/login", R_PUBLIC, 0, W_LOGIN_FORM},
    {"POST", "/login", R_PUBLIC, 0, W_LOGIN},
    {"POST", "/api/login", R_PUBLIC, 0, W_LOGIN},
    {"POST", "/logout", R_ANY, 1, W_LOGOUT},
    {"POST", "/api/logout", R_ANY, 1, W_LOGOUT},
    {"GET", "/api/session", R_ANY, 0, W_SESSION},
    {"GET", "/briefing", R_ANY, 0, W_BRIEFING},
    {"GET", "/api/briefing", R_ANY, 0, W_BRIEFING},
    {"GET", "/figures", R_ANY, 0, W_FIGURES},
    {"GET", "/api/figures", R_ANY, 0, W_FIGURES},
    {"GET", "/figures.csv", R_ANY, 0, W_CSV},
    {"GET", "/figures.json", R_ANY, 0, W_JSONDL},
    {"GET", "/health", R_ANY, 0, W_HEALTH},
    {"GET", "/api/health", R_ANY, 0, W_HEALTH},
    {"POST", "/health/verify", ROLE(HR_AUDITOR) | ROLE(HR_ADMIN), 1, W_VERIFY},
    {"POST", "/api/verify", ROLE(HR_AUDITOR) | ROLE(HR_ADMIN), 1, W_VERIFY},
    {"GET", "/api/users", ROLE(HR_ADMIN), 0, W_USERS},
    /* the review desk and notices (http_desk.c) */
    {"GET", "/review", DESK, 0, W_REVIEW},
    {"GET", "/api/review", DESK, 0, W_REVIEW},
    {"GET", "/review/item", DESK, 0, W_REVIEW_ITEM},
    {"GET", "/api/review/item", DESK, 0, W_REVIEW_ITEM},
    {"POST", "/review/decide", DESK, 1, W_REVIEW_DECIDE},
    {"POST", "/api/review/decide", DESK, 1, W_REVIEW_DECIDE},
    {"GET", "/review/notices", DESK, 0, W_NOTICES},
    {"GET", "/api/review/notices", DESK, 0, W_NOTICES},
    {"GET", "/review/letter", DESK, 0, W_LETTER},
    {"GET", "/api/review/letter", DESK, 0, W_LETTER},
    {"POST", "/review/notices/send", DESK, 1, W_NOTICES_SEND},
    {"POST", "/api/review/notices/send", DESK, 1, W_NOTICES_SEND},
    /* decisions and the rules that made them (http_decisions.c) */
    {"GET", "/decisions", R_ANY, 0, W_DECISIONS},
    {"GET", "/api/decisions", R_ANY, 0, W_DECISIONS},
};

static enum MHD_Result dispatch(struct ctx *x)
{
    const struct route *rt = NULL;
    int path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(routes[i].path, x->url))
            continue;
        path_known = 1;
        if (!strcmp(routes[i].method, x->method) ||
            (!strcmp(x->method, "HEAD") && !strcmp(routes[i].method, "GET")))
            rt = &routes[i];
    }
    int drafts = 0; /* the rule drafts' table (http_drafts.c) */
    for (size_t i = 0; !rt && i < http_draft_nroutes; i++) {
        if (strcmp(http_draft_routes[i].path, x->url))
            continue;
        path_known = 1;
        if (!strcmp(http_draft_routes[i].method, x->method) ||
            (!strcmp(x->method, "HEAD") && !strcmp(http_draft_routes[i].method, "GET"))) {
            rt = &http_draft_routes[i];
            drafts = 1;
        }
    }
    if (!rt)
        return path_known ? fail(x, 405, "method not allowed here")
                          : fail(x, 404, "no such page");
    if (x->rq->too_big)
        return fail(x, 413, "request body over 64 KiB");
    if (!strcmp(x->method, "POST") && !origin_ok(x))
        return fail(x, 403, "cross-site request refused (Origin is not this server)");
    if (MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, "Cookie"))
        load_session(x); /* public pages too: the navigation shows who is logged on */
    if (rt->roles) {
        if (!x->have_session) {
            if (x->api || strcmp(x->method, "GET"))
                return fail(x, 401, "log-on required");
            return redirect(x, "/login", NULL);
        }
        if (!(rt->roles & ROLE(x->s.role))) {
            audit_simple(x, SL_AUDIT_ADMIN, x->s.user, x->url, SL_AUDIT_OUT_FAILED,
                         "refused: role may not do this");
            return fail(x, 403, "your role may not do this");
        }
        if (rt->post_csrf && !csrf_ok(x))
            return fail(x, 403, "CSRF token missing or wrong (form field csrf or header "
                                "X-CSRF-Token)");
    }
    if (drafts)
        return (enum MHD_Result)http_drafts_serve(x, rt->which);
    switch (rt->which) {
    case W_PUBLIC:
        return public_page(x);
    case W_CSS: {
        struct sl_buf b;
        sl_buf_init(&b);
        sl_buf_append_str(&b, http_css);
        enum MHD_Result r = send_buf(x, 200, "text/css; charset=utf-8", &b, NULL, NULL, NULL);
        sl_buf_free(&b);
        return r;
    }
    case W_LOGIN_FORM:
        return login_page(x, 200, NULL);
    case W_LOGIN:
        return do_login(x);
    case W_LOGOUT:
        return do_logout(x);
    case W_SESSION:
        return session_info(x);
    case W_BRIEFING:
        return briefing(x);
    case W_FIGURES:
        return figures(x, 0);
    case W_CSV:
        return figures(x, 1);
    case W_JSONDL:
        return figures(x, 2);
    case W_HEALTH:
        return health(x);
    case W_VERIFY:
        return verify(x);
    case W_USERS:
        return users(x);
    case W_REVIEW:
        return (enum MHD_Result)http_desk_queue(x);
    case W_REVIEW_ITEM:
        return (enum MHD_Result)http_desk_item(x);
    case W_REVIEW_DECIDE:
        return (enum MHD_Result)http_desk_decide(x);
    case W_NOTICES:
        return (enum MHD_Result)http_desk_notices(x);
    case W_LETTER:
        return (enum MHD_Result)http_desk_letter(x);
    case W_NOTICES_SEND:
        return (enum MHD_Result)http_desk_send(x);
    case W_DECISIONS:
        return (enum MHD_Result)http_decisions(x);
    }
    return fail(x, 500, "unrouted");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct sl_http *h = cls;
    struct rq *rq = *con_cls;
    if (!rq) {
        rq = sl_xcalloc(1, sizeof *rq);
        sl_buf_init(&rq->body);
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size) {
        if (sl_buf_used(&rq->body) + *upload_size > BODY_MAX)
            rq->too_big = 1;
        else
            sl_buf_append(&rq->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    struct ctx x;
    memset(&x, 0, sizeof x);
    x.h = h;
    x.c = c;
    x.method = method;
    x.url = url;
    x.rq = rq;
    x.api = !strncmp(url, "/api/", 5);
    remote_of(c, x.remote, sizeof x.remote);
    return dispatch(&x);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct rq *rq = *con_cls;
    if (rq) {
        sl_buf_free(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = 0;
    SL_DEBUG("http", "%s", line);
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = sl_read_file(path, &len);
    if (!text)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return text;
}

int sl_http_start(const struct sl_gw_config *cfg, struct sl_policy_slot *slot,
                  struct sl_http **out, char *err, size_t errlen)
{
    struct sl_http *h = sl_xcalloc(1, sizeof *h);
    h->cfg = cfg;
    h->slot = slot;
    h->efd = -1;
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->qmu, NULL);
    sl_buf_init(&h->q);
    *out = NULL;
    char host[128], port[16];
    const char *colon = strrchr(cfg->http_listen, ':');
    if (!colon || colon == cfg->http_listen || strlen(colon + 1) >= sizeof port ||
        (size_t)(colon - cfg->http_listen) >= sizeof host) {
        snprintf(err, errlen, "http_listen = %s: host:port, e.g. 127.0.0.1:8443",
                 cfg->http_listen);
        goto fail;
    }
    memcpy(host, cfg->http_listen, (size_t)(colon - cfg->http_listen));
    host[colon - cfg->http_listen] = 0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    sl_strlcpy(port, colon + 1, sizeof port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gr = getaddrinfo(host, port, &hints, &ai);
    if (gr != 0) {
        snprintf(err, errlen, "http_listen = %s: %s", cfg->http_listen, gai_strerror(gr));
        goto fail;
    }
    if (cfg->http_tls) {
        if (!(h->tls_cert = read_file(cfg->http_cert, err, errlen)) ||
            !(h->tls_key = read_file(cfg->http_key, err, errlen))) {
            freeaddrinfo(ai);
            goto fail;
        }
    }
    h->db = http_db_open(cfg->data_dir, err, errlen);
    if (!h->db) {
        freeaddrinfo(ai);
        goto fail;
    }
    h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        freeaddrinfo(ai);
        goto fail;
    }
    http_account_events(h);
    if (http_drafts_init(h->db, err, errlen) != 0) {
        freeaddrinfo(ai);
        goto fail;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (cfg->http_tls)
        flags |= MHD_USE_TLS;
    /* Two threads: a slow report or a log-on's scrypt does not stall every reader. */
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL},
        {MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr},
        {MHD_OPTION_THREAD_POOL_SIZE, 2, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, 30, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 256, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 128 * 1024, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {cfg->http_tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        snprintf(err, errlen, "cannot start the HTTP%s server on %s (port in use, or the "
                 "certificate/key cannot be used: %s, %s)", cfg->http_tls ? "S" : "",
                 cfg->http_listen, cfg->http_cert, cfg->http_key);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : 0;
    printf("oversight desk: %s://%s%s%s:%d/\n", cfg->http_tls ? "https" : "http",
           strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", h->port);
    fflush(stdout);
    SL_INFO("http", "oversight desk on %s port %d (%s)", host, h->port,
            cfg->http_tls ? "HTTPS" : "plain HTTP: loopback tests only");
    *out = h;
    return 0;
fail:
    sl_http_stop(h);
    sl_http_free(h);
    return -1;
}

void sl_http_stop(struct sl_http *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    h->d = NULL;
    if (h->db && h->efd >= 0)
        http_account_events(h); /* the caller drains the queue once more after this */
}

void sl_http_free(struct sl_http *h)
{
    if (!h)
        return;
    if (h->db)
        sqlite3_close(h->db);
    if (h->efd >= 0)
        close(h->efd);
    sl_buf_free(&h->q);
    json_decref(h->pub.j);
    free(h->tls_cert);
    free(h->tls_key);
    pthread_mutex_destroy(&h->mu);
    pthread_mutex_destroy(&h->qmu);
    free(h);
}
