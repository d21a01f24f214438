/*
 * http_drafts.c - rule drafts on the oversight desk (issue 8 item 5, P-15, P-16, P-30;
 * docs/http-api.md §11): a rule author writes or uploads a draft, sees `policy check`'s
 * diagnostics by line, replays the last 30 days of the gateway's audit log against it
 * (sl_policy_simulate, the code of `stateline policy simulate`), submits it with its
 * legal basis; an approver approves or rejects it with a reason; a draft that loosens
 * access needs two approvers.  Approval puts the text in force through
 * sl_gw_policy_apply, the path of `stateline policy apply`.  The rule history lists the
 * log's policy-change entries with a diff of the texts gateway.db keeps.
 *
 * Tables in DATA/gateway.db (times in µs since the epoch, UTC):
 *   http_draft(id INTEGER PRIMARY KEY, name, author, created_us, updated_us, text, hash
 *              (hex SHA-256 of text), errors, warnings, status ('draft' | 'submitted' |
 *              'approved-1of2' | 'approved' | 'rejected'), basis, base_hash (the policy
 *              in force when submitted), loosens (0/1), loosen_why (one reason a line),
 *              approver1, applied_us)
 *   http_draft_action(id INTEGER PRIMARY KEY, draft, at_us, actor, action ('save' |
 *              'submit' | 'approve-1of2' | 'approve' | 'reject'), reason)
 *
 * Upload: multipart/form-data with the fields csrf, name, id (optional) and file (the
 * policy text, at most 64 KiB with the rest of the form).  A field given twice is
 * refused, as in the urlencoded forms.
 */
#include <ctype.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_int.h"
#include "stateline/core.h"
#include "stateline/policy.h"

#define DAY_US INT64_C(86400000000)
#define SIM_DAYS 30
#define TEXT_MAX 65536

enum { D_LIST = 1, D_SAVE, D_UPLOAD, D_VIEW, D_SIM, D_CHECK, D_SUBMIT, D_APPROVE, D_REJECT,
       D_HISTORY };

#define READERS (HTTP_ROLE(HR_AUTHOR) | HTTP_ROLE(HR_APPROVER) | HTTP_ROLE(HR_AUDITOR) | \
                 HTTP_ROLE(HR_ADMIN))
#define AUTHOR HTTP_ROLE(HR_AUTHOR)
#define APPROVER HTTP_ROLE(HR_APPROVER)
#define ANYONE 0x3fu

const struct http_route http_draft_routes[] = {
    {"GET", "/drafts", READERS, 0, D_LIST},
    {"GET", "/api/drafts", READERS, 0, D_LIST},
    {"POST", "/drafts/save", AUTHOR, 1, D_SAVE},
    {"POST", "/api/drafts/save", AUTHOR, 1, D_SAVE},
    {"POST", "/drafts/upload", AUTHOR, 0, D_UPLOAD}, /* multipart: CSRF checked below */
    {"POST", "/api/drafts/upload", AUTHOR, 0, D_UPLOAD},
    {"GET", "/drafts/view", READERS, 0, D_VIEW},
    {"GET", "/api/drafts/view", READERS, 0, D_VIEW},
    {"GET", "/drafts/simulate", READERS, 0, D_SIM},
    {"GET", "/api/drafts/simulate", READERS, 0, D_SIM},
    {"POST", "/api/drafts/check", AUTHOR | APPROVER, 1, D_CHECK},
    {"POST", "/drafts/submit", AUTHOR, 1, D_SUBMIT},
    {"POST", "/api/drafts/submit", AUTHOR, 1, D_SUBMIT},
    {"POST", "/drafts/approve", APPROVER, 1, D_APPROVE},
    {"POST", "/api/drafts/approve", APPROVER, 1, D_APPROVE},
    {"POST", "/drafts/reject", APPROVER, 1, D_REJECT},
    {"POST", "/api/drafts/reject", APPROVER, 1, D_REJECT},
    {"GET", "/rules/history", ANYONE, 0, D_HISTORY},
    {"GET", "/api/rules/history", ANYONE, 0, D_HISTORY},
};
const size_t http_draft_nroutes = sizeof http_draft_routes / sizeof http_draft_routes[0];

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS http_draft(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " author TEXT NOT NULL, created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL,"
    " text TEXT NOT NULL, hash TEXT NOT NULL, errors INTEGER NOT NULL,"
    " warnings INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'draft',"
    " basis TEXT NOT NULL DEFAULT '', base_hash TEXT NOT NULL DEFAULT '',"
    " loosens INTEGER NOT NULL DEFAULT 0, loosen_why TEXT NOT NULL DEFAULT '',"
    " approver1 TEXT NOT NULL DEFAULT '', applied_us INTEGER);"
    "CREATE TABLE IF NOT EXISTS http_draft_action(id INTEGER PRIMARY KEY,"
    " draft INTEGER NOT NULL, at_us INTEGER NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS policy_text(hash TEXT PRIMARY KEY, text TEXT NOT NULL,"
    " first_us INTEGER NOT NULL);";

int http_drafts_init(sqlite3 *db, char *err, size_t errlen)
{
    char *e = NULL;
    if (sqlite3_exec(db, schema, NULL, NULL, &e) != SQLITE_OK) {
        snprintf(err, errlen, "gateway.db: %s", e ? e : sqlite3_errmsg(db));
        sqlite3_free(e);
        return -1;
    }
    return 0;
}

/* ---- small helpers ---- */

static void sha256_hex(const char *p, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(p, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void time_text(int64_t us, char out[32])
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* Names compared as the review desk does: without case, spaces or punctuation. */
static void norm_name(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 1 < cap; s++)
        if (isalnum((unsigned char)*s))
            out[n++] = (char)tolower((unsigned char)*s);
    out[n] = 0;
}

static int same_person(const char *a, const char *b)
{
    char x[80], y[80];
    norm_name(a, x, sizeof x);
    norm_name(b, y, sizeof y);
    return !strcmp(x, y);
}

/* A one-line text from a person (name, reason, basis): printable, no control characters
 * (the form parser already refuses most), 1..max bytes. */
static int line_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 1 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* Well-formed UTF-8 (no overlong forms, no surrogates): the texts go into JSON. */
static int utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned c = *p;
        int k = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                                                   : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (k < 0 || e - p <= k)
            return k == 0;
        unsigned v = k ? c & (0x3Fu >> k) : c;
        for (int i = 1; i <= k; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            v = v << 6 | (p[i] & 0x3Fu);
        }
        static const unsigned min[4] = {0, 0x80, 0x800, 0x10000};
        if (v < min[k] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return 0;
        p += k + 1;
    }
    return 1;
}

/* The text of the policy file in force (NULL when the gateway runs on its default). */
static char *policy_file_text(const struct sl_gw_config *cfg, size_t *len)
{
    return cfg->policy[0] ? sl_read_file(cfg->policy, len) : NULL;
}

/* ---- diagnostics: the library's, as JSON ---- */

static json_t *diags_json(const struct sl_policy_diags *dg, const char *name)
{
    json_t *a = json_array();
    for (int i = 0; i < dg->n; i++) {
        char f[600];
        sl_policy_diag_format(&dg->v[i], name, f, sizeof f);
        json_array_append_new(a, json_pack("{s:s, s:i, s:i, s:s, s:s}", "level",
                                           dg->v[i].level == SL_PDIAG_ERROR ? "error"
                                                                            : "warning",
                                           "line", dg->v[i].line, "column", dg->v[i].col,
                                           "message", dg->v[i].msg, "text", f));
    }
    return a;
}

/* Compile text as `policy check` does (analysis on).  *p is NULL when it has errors. */
static void check_text(const char *text, size_t len, const char *name, struct sl_policy **p,
                       struct sl_policy_diags *dg)
{
    struct sl_policy_opts opts;
    memset(&opts, 0, sizeof opts);
    *p = NULL;
    sl_policy_compile(text, len, name, &opts, p, dg);
}

/* The policy a draft is judged against: the gateway's policy file as it is now (what is
 * in force, or about to be: an approval writes the file and the gateway swaps it in
 * within policy_poll_ms), compiled; the slot's policy when the gateway runs without a
 * file.  NULL when neither checks.  A new reference. */
static struct sl_policy *current_policy(struct sl_http *h)
{
    size_t len = 0;
    char *text = policy_file_text(h->cfg, &len);
    if (!text)
        return sl_policy_slot_acquire(h->slot);
    struct sl_policy_diags dg = {0};
    struct sl_policy_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.no_analysis = 1;
    struct sl_policy *p = NULL;
    sl_policy_compile(text, len, "in-force", &opts, &p, &dg);
    sl_policy_diags_free(&dg);
    free(text);
    return p ? p : sl_policy_slot_acquire(h->slot);
}

/* After an approval: wait (at most 3 s) until the gateway has swapped the text with this
 * hash in.  Returns the milliseconds it took, or -1 when it did not happen in time. */
static int wait_in_force(struct sl_http *h, const char *hash)
{
    int64_t t0 = sl_wall_us();
    for (;;) {
        struct sl_policy *p = sl_policy_slot_acquire(h->slot);
        int same = p && !strcmp(sl_policy_hash(p), hash);
        if (p)
            sl_policy_unref(p);
        int64_t ms = (sl_wall_us() - t0) / 1000;
        if (same)
            return (int)ms;
        if (ms > 3000)
            return -1;
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
}

/* ---- a draft row ---- */

struct draft {
    int64_t id, created_us, updated_us, applied_us;
    char name[80], author[64], hash[65], status[16], base_hash[65], approver1[64];
    char basis[260], loosen_why[2048];
    int errors, warnings, loosens;
    char *text; /* owned */
    size_t len;
};

static void col(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    sl_strlcpy(out, t ? (const char *)t : "", cap);
}

/* 0 found, 1 none, -1 error.  With h->mu held. */
static int draft_get(sqlite3 *db, int64_t id, struct draft *d)
{
    sqlite3_stmt *st;
    memset(d, 0, sizeof *d);
    if (sqlite3_prepare_v2(db, "SELECT id, name, author, created_us, updated_us, text, hash,"
                           " errors, warnings, status, basis, base_hash, loosens, loosen_why,"
                           " approver1, applied_us FROM http_draft WHERE id = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        d->id = sqlite3_column_int64(st, 0);
        col(st, 1, d->name, sizeof d->name);
        col(st, 2, d->author, sizeof d->author);
        d->created_us = sqlite3_column_int64(st, 3);
        d->updated_us = sqlite3_column_int64(st, 4);
        int n = sqlite3_column_bytes(st, 5);
        d->text = sl_xmalloc((size_t)n + 1);
        memcpy(d->text, n ? (const char *)sqlite3_column_text(st, 5) : "", (size_t)n);
        d->text[n] = 0;
        d->len = (size_t)n;
        col(st, 6, d->hash, sizeof d->hash);
        d->errors = sqlite3_column_int(st, 7);
        d->warnings = sqlite3_column_int(st, 8);
        col(st, 9, d->status, sizeof d->status);
        col(st, 10, d->basis, sizeof d->basis);
        col(st, 11, d->base_hash, sizeof d->base_hash);
        d->loosens = sqlite3_column_int(st, 12);
        col(st, 13, d->loosen_why, sizeof d->loosen_why);
        col(st, 14, d->approver1, sizeof d->approver1);
        d->applied_us = sqlite3_column_int64(st, 15);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

static void draft_free(struct draft *d)
{
    free(d->text);
    d->text = NULL;
}

static int action_add(sqlite3 *db, int64_t draft, const char *actor, const char *action,
                      const char *reason)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO http_draft_action(draft, at_us, actor, action,"
                           " reason) VALUES(?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, draft);
    sqlite3_bind_int64(st, 2, sl_wall_us());
    sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, reason ? reason : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

static json_t *draft_json(const struct draft *d, int with_text)
{
    char c[32], u[32];
    time_text(d->created_us, c);
    time_text(d->updated_us, u);
    json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:s}", "id",
                          (json_int_t)d->id, "name", d->name, "author", d->author, "created",
                          c, "updated", u, "sha256", d->hash, "errors", d->errors,
                          "warnings", d->warnings, "status", d->status, "basis", d->basis);
    if (with_text)
        json_object_set_new(j, "text", json_stringn(d->text, d->len));
    if (strcmp(d->status, "draft")) {
        json_object_set_new(j, "loosens", json_boolean(d->loosens));
        json_object_set_new(j, "base_sha256", json_string(d->base_hash));
        json_t *why = json_array();
        const char *s = d->loosen_why;
        while (*s) {
            const char *e = strchr(s, '\n');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            if (n)
                json_array_append_new(why, json_stringn(s, n));
            s += n + (e ? 1 : 0);
        }
        json_object_set_new(j, "loosens_because", why);
    }
    if (d->approver1[0])
        json_object_set_new(j, "first_approver", json_string(d->approver1));
    if (d->applied_us) {
        time_text(d->applied_us, c);
        json_object_set_new(j, "applied", json_string(c));
    }
    return j;
}

static json_t *actions_json(sqlite3 *db, int64_t id)
{
    json_t *a = json_array();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT at_us, actor, action, reason FROM http_draft_action"
                           " WHERE draft = ? ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        return a;
    sqlite3_bind_int64(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char t[32], actor[64], action[32], reason[600];
        time_text(sqlite3_column_int64(st, 0), t);
        col(st, 1, actor, sizeof actor);
        col(st, 2, action, sizeof action);
        col(st, 3, reason, sizeof reason);
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "time", t, "actor", actor,
                                           "action", action, "reason", reason));
    }
    sqlite3_finalize(st);
    return a;
}

/* ---- a line diff (LCS), for the approver and the history ---- */

/* [{"op":" "|"-"|"+","line":"..."}], or NULL when the texts are too long to compare. */
static json_t *line_diff(const char *a, const char *b)
{
    enum { MAXL = 2000 };
    const char *la[MAXL], *lb[MAXL];
    int na = 0, nb = 0, lena[MAXL], lenb[MAXL];
    for (int k = 0; k < 2; k++) {
        const char *s = k ? b : a;
        const char **v = k ? lb : la;
        int *l = k ? lenb : lena;
        int *n = k ? &nb : &na;
        while (*s) {
            if (*n == MAXL)
                return NULL;
            const char *e = strchr(s, '\n');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            v[*n] = s;
            l[(*n)++] = (int)len;
            s += len + (e ? 1 : 0);
        }
    }
    /* lcs[i][j] = LCS of a[i..], b[j..] */
    uint16_t *lcs = sl_xcalloc((size_t)(na + 1) * (size_t)(nb + 1), sizeof *lcs);
#define L(i, j) lcs[(size_t)(i) * (size_t)(nb + 1) + (size_t)(j)]
    for (int i = na - 1; i >= 0; i--)
        for (int j = nb - 1; j >= 0; j--)
            L(i, j) = lena[i] == lenb[j] && !memcmp(la[i], lb[j], (size_t)lena[i])
                          ? (uint16_t)(L(i + 1, j + 1) + 1)
                          : (L(i + 1, j) > L(i, j + 1) ? L(i + 1, j) : L(i, j + 1));
    json_t *out = json_array();
    int i = 0, j = 0;
    while (i < na || j < nb) {
        if (i < na && j < nb && lena[i] == lenb[j] && !memcmp(la[i], lb[j], (size_t)lena[i])) {
            json_array_append_new(out, json_pack("{s:s, s:s%}", "op", " ", "line", la[i],
                                                 (size_t)lena[i]));
            i++;
            j++;
        } else if (j < nb && (i == na || L(i, j + 1) >= L(i + 1, j))) {
            json_array_append_new(out, json_pack("{s:s, s:s%}", "op", "+", "line", lb[j],
                                                 (size_t)lenb[j]));
            j++;
        } else {
            json_array_append_new(out, json_pack("{s:s, s:s%}", "op", "-", "line", la[i],
                                                 (size_t)lena[i]));
            i++;
        }
    }
#undef L
    free(lcs);
    return out;
}

/* ---- multipart/form-data (the upload form) ---- */

int sl_http_multipart_get(const char *body, size_t len, const char *boundary,
                          const char *name, const char **v, size_t *n)
{
    char delim[120];
    int dl = snprintf(delim, sizeof delim, "--%s", boundary);
    if (dl <= 2 || (size_t)dl >= sizeof delim)
        return -1;
    const char *end = body + len;
    const char *p = memmem(body, len, delim, (size_t)dl);
    int found = 0;
    if (!p)
        return -1;
    for (;;) {
        p += dl;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return found; /* the closing delimiter */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return -1;
        p += 2;
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend)
            return -1;
        /* the part's name="..." in its Content-Disposition header */
        char pname[64] = "";
        const char *h = p;
        while (h < hend) {
            const char *le = memmem(h, (size_t)(hend - h), "\r\n", 2);
            if (!le)
                le = hend;
            if ((size_t)(le - h) > 20 && !strncasecmp(h, "Content-Disposition:", 20)) {
                const char *q = memmem(h, (size_t)(le - h), " name=\"", 7);
                if (!q)
                    q = memmem(h, (size_t)(le - h), ";name=\"", 7);
                if (q) {
                    q += 7;
                    const char *qe = memchr(q, '"', (size_t)(le - q));
                    if (!qe || (size_t)(qe - q) >= sizeof pname)
                        return -1;
                    memcpy(pname, q, (size_t)(qe - q));
                    pname[qe - q] = 0;
                }
            }
            h = le + 2;
        }
        const char *data = hend + 4;
        char cdelim[124];
        int cl = snprintf(cdelim, sizeof cdelim, "\r\n%s", delim);
        const char *next = memmem(data, (size_t)(end - data), cdelim, (size_t)cl);
        if (!next)
            return -1;
        if (!strcmp(pname, name)) {
            if (found)
                return -1;
            found = 1;
            *v = data;
            *n = (size_t)(next - data);
        }
        p = next + 2;
    }
}

/* ---- loosening: rules, the grid, the traffic ---- */

struct judgement {
    int loosens;
    struct sl_buf why; /* one reason a line */
    json_t *grid_changes;
    json_t *sim; /* the replay's JSON */
    int64_t from_us, to_us;
};

static int grid_rank(const char *r)
{
    return !strcmp(r, "denied") ? 0 : !strcmp(r, "held") ? 1 : !strcmp(r, "redacted") ? 2
                                                                                       : 3;
}

/* Compare the grid of now and of draft: every cell that differs, and whether it opens. */
static json_t *grid_diff(struct sl_http *h, const struct sl_policy *now,
                         const struct sl_policy *draft, int *opens, struct sl_buf *why)
{
    time_t t = time(NULL);
    json_t *g0 = http_grid(h, now, t), *g1 = http_grid(h, draft, t);
    json_t *out = json_array();
    json_t *r0 = json_object_get(g0, "rows"), *r1 = json_object_get(g1, "rows");
    for (size_t i = 0; i < json_array_size(r0) && i < json_array_size(r1); i++) {
        json_t *a = json_array_get(r0, i), *b = json_array_get(r1, i);
        json_t *ca = json_object_get(a, "cells"), *cb = json_object_get(b, "cells");
        for (size_t k = 0; k < json_array_size(ca) && k < json_array_size(cb); k++) {
            const char *x = json_string_value(json_object_get(json_array_get(ca, k), "result"));
            const char *y = json_string_value(json_object_get(json_array_get(cb, k), "result"));
            const char *cls = json_string_value(json_object_get(json_array_get(ca, k), "class"));
            if (!x || !y || !strcmp(x, y))
                continue;
            int more = grid_rank(y) > grid_rank(x);
            const char *label = json_string_value(json_object_get(a, "label"));
            json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "row",
                                                 json_string_value(json_object_get(a, "id")),
                                                 "label", label, "class", cls ? cls : "",
                                                 "in_force", x, "draft", y, "opens", more));
            if (more) {
                if (!*opens)
                    sl_buf_printf(why, "who can see what: %s, %s goes from %s to %s\n", label,
                                  cls ? cls : "", x, y);
                *opens = 1;
            }
        }
    }
    json_decref(g0);
    json_decref(g1);
    return out;
}

/* Judge draft against the policy in force: the three tests of docs/http-api.md §11. */
static int judge(struct sl_http *h, const struct sl_policy *now, const struct sl_policy *draft,
                 struct judgement *jd, char *err, size_t errlen)
{
    memset(jd, 0, sizeof *jd);
    sl_buf_init(&jd->why);
    int nrules = sl_policy_loosens(now, draft, &jd->why);
    int grid_opens = 0;
    jd->grid_changes = grid_diff(h, now, draft, &grid_opens, &jd->why);
    int64_t t = sl_wall_us();
    jd->to_us = t;
    jd->from_us = t - SIM_DAYS * DAY_US;
    struct sl_policy_sim s;
    if (sl_policy_simulate(now, draft, h->cfg->audit_dir, jd->from_us, jd->to_us, 15, NULL,
                           NULL, &s, err, errlen) != 0) {
        json_decref(jd->grid_changes);
        sl_buf_free(&jd->why);
        return -1;
    }
    if (s.loosened)
        sl_buf_printf(&jd->why, "the last %d days: %llu queries would have been answered more "
                      "openly\n", SIM_DAYS, (unsigned long long)s.loosened);
    jd->sim = sl_policy_sim_json(&s);
    jd->loosens = nrules > 0 || grid_opens || s.loosened > 0;
    sl_policy_sim_free(&s);
    return 0;
}

static void judgement_free(struct judgement *jd)
{
    sl_buf_free(&jd->why);
    json_decref(jd->grid_changes);
    json_decref(jd->sim);
}

/* ---- HTML pieces ---- */

static void esc(struct sl_buf *b, const char *s)
{
    html_escape(b, s);
}

static void escn(struct sl_buf *b, const char *s, size_t n)
{
    char *t = sl_xmalloc(n + 1);
    memcpy(t, s, n);
    t[n] = 0;
    html_escape(b, t);
    free(t);
}

static void csrf_input(struct sl_buf *b, const struct http_session *s)
{
    sl_buf_append_str(b, "<input type=\"hidden\" name=\"csrf\" value=\"");
    esc(b, s->csrf);
    sl_buf_append_str(b, "\">");
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* The source with line numbers; each diagnostic under its line, a caret at its column. */
static void html_source(struct sl_buf *b, const char *text, json_t *diags)
{
    sl_buf_append_str(b, "<div class=\"scroll\"><table class=\"src\"><caption>The draft, with "
                         "<code>policy check</code>'s findings under their lines</caption>\n"
                         "<tr><th scope=\"col\">line</th><th scope=\"col\">text</th></tr>\n");
    int line = 1;
    const char *s = text;
    size_t i;
    json_t *d;
    for (;;) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (!e && !n)
            break;
        int bad = 0;
        json_array_foreach(diags, i, d) bad |= json_integer_value(json_object_get(d, "line")) ==
                                               line;
        sl_buf_printf(b, "<tr id=\"L%d\"%s><td class=\"n\">%d</td><td><pre>", line,
                      bad ? " class=\"flag\"" : "", line);
        escn(b, s, n);
        sl_buf_append_str(b, "</pre></td></tr>\n");
        json_array_foreach(diags, i, d) {
            if (json_integer_value(json_object_get(d, "line")) != line)
                continue;
            int c = (int)json_integer_value(json_object_get(d, "column"));
            int err = !strcmp(jstr(d, "level"), "error");
            sl_buf_printf(b, "<tr class=\"%s\"><td></td><td><pre>%*s^</pre><p>", err ? "diag-e"
                                                                                   : "diag-w",
                          c > 1 && c < 400 ? c - 1 : 0, "");
            esc(b, jstr(d, "text"));
            sl_buf_append_str(b, "</p></td></tr>\n");
        }
        line++;
        if (!e)
            break;
        s = e + 1;
    }
    sl_buf_append_str(b, "</table></div>\n");
    /* findings about the whole file */
    json_array_foreach(diags, i, d) {
        if (json_integer_value(json_object_get(d, "line")) > 0)
            continue;
        sl_buf_append_str(b, "<p class=\"error\">");
        esc(b, jstr(d, "text"));
        sl_buf_append_str(b, "</p>\n");
    }
}

static void html_diags_summary(struct sl_buf *b, json_t *diags)
{
    int e = 0, w = 0;
    size_t i;
    json_t *d;
    json_array_foreach(diags, i, d) {
        if (!strcmp(jstr(d, "level"), "error"))
            e++;
        else
            w++;
    }
    if (!e && !w) {
        sl_buf_append_str(b, "<p class=\"ok\">policy check: no errors, no warnings.</p>\n");
        return;
    }
    sl_buf_printf(b, "<div role=\"%s\"><p class=\"%s\">policy check: %d error%s, %d warning%s"
                     "%s</p><ul>", e ? "alert" : "status", e ? "error" : "ok", e,
                  e == 1 ? "" : "s", w, w == 1 ? "" : "s",
                  e ? " &mdash; this draft can be saved but not submitted" : "");
    json_array_foreach(diags, i, d) {
        int line = (int)json_integer_value(json_object_get(d, "line"));
        sl_buf_append_str(b, "<li>");
        if (line > 0)
            sl_buf_printf(b, "<a href=\"#L%d\">", line);
        esc(b, jstr(d, "text"));
        if (line > 0)
            sl_buf_append_str(b, "</a>");
        sl_buf_append_str(b, "</li>");
    }
    sl_buf_append_str(b, "</ul></div>\n");
}

static void html_diff(struct sl_buf *b, json_t *diff, const char *caption)
{
    sl_buf_append_str(b, "<figure class=\"diff\"><figcaption>");
    esc(b, caption);
    sl_buf_append_str(b, "</figcaption>");
    if (!diff) {
        sl_buf_append_str(b, "<p class=\"muted\">(the texts are too long to compare here)</p>"
                             "</figure>\n");
        return;
    }
    int changed = 0;
    size_t i;
    json_t *d;
    json_array_foreach(diff, i, d) changed |= strcmp(jstr(d, "op"), " ") != 0;
    if (!changed) {
        sl_buf_append_str(b, "<p class=\"muted\">(no difference)</p></figure>\n");
        return;
    }
    /* unchanged lines more than 2 away from a change are folded into one line */
    size_t nd = json_array_size(diff);
    char *near = sl_xcalloc(nd ? nd : 1, 1);
    for (size_t k = 0; k < nd; k++)
        if (strcmp(jstr(json_array_get(diff, k), "op"), " "))
            for (size_t m = k >= 2 ? k - 2 : 0; m < nd && m <= k + 2; m++)
                near[m] = 1;
    sl_buf_append_str(b, "<pre>");
    size_t folded = 0;
    json_array_foreach(diff, i, d) {
        const char *op = jstr(d, "op");
        if (!near[i]) {
            folded++;
            if (i + 1 < nd && !near[i + 1])
                continue;
            sl_buf_printf(b, "<span class=\"muted\">  &hellip; %zu unchanged line%s &hellip;"
                             "</span>", folded, folded == 1 ? "" : "s");
            folded = 0;
            continue;
        }
        if (*op == '+')
            sl_buf_append_str(b, "<ins>+ ");
        else if (*op == '-')
            sl_buf_append_str(b, "<del>- ");
        else
            sl_buf_append_str(b, "<span>  ");
        esc(b, jstr(d, "line"));
        /* each line is a block (style sheet): no newline between them */
        sl_buf_append_str(b, *op == '+' ? "</ins>" : *op == '-' ? "</del>" : "</span>");
    }
    free(near);
    sl_buf_append_str(b, "</pre></figure>\n");
}

/* ---- handlers ---- */

static int parse_id(struct ctx *x, const char *v, int64_t *id)
{
    (void)x;
    if (!v || !*v || strlen(v) > 15 || strspn(v, "0123456789") != strlen(v))
        return -1;
    *id = strtoll(v, NULL, 10);
    return *id > 0 ? 0 : -1;
}

/* The draft named by ?id= (GET) or the field id (POST); answers the error itself. */
static int load_draft(struct ctx *x, int post, struct draft *d, int *answered)
{
    struct sl_http *h = http_req_server(x);
    char buf[32];
    const char *v = NULL;
    *answered = 0;
    if (post) {
        int r = http_req_field(x, "id", buf, sizeof buf);
        v = r == 1 ? buf : NULL;
    } else {
        v = http_req_arg(x, "id");
    }
    int64_t id;
    if (parse_id(x, v, &id)) {
        *answered = http_req_fail(x, 400, "id: the draft's number, e.g. id=3");
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    int rc = draft_get(h->db, id, d);
    pthread_mutex_unlock(&h->mu);
    if (rc != 0) {
        *answered = http_req_fail(x, rc > 0 ? 404 : 500, rc > 0 ? "no such draft"
                                                                : "gateway.db cannot be read");
        return -1;
    }
    return 0;
}

static int serve_list(struct ctx *x)
{
    struct sl_http *h = http_req_server(x);
    const struct http_session *s = http_req_session(x);
    json_t *list = json_array();
    pthread_mutex_lock(&h->mu);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h->db, "SELECT id FROM http_draft ORDER BY id DESC LIMIT 500", -1,
                           &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            struct draft d;
            if (draft_get(h->db, sqlite3_column_int64(st, 0), &d) == 0) {
                json_array_append_new(list, draft_json(&d, 0));
                draft_free(&d);
            }
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&h->mu);
    size_t len = 0;
    char *text = policy_file_text(h->cfg, &len);
    struct sl_policy *p = sl_policy_slot_acquire(h->slot);
    json_t *inf = json_pack("{s:s, s:s, s:s%}", "sha256", p ? sl_policy_hash(p) : "", "file",
                            h->cfg->policy, "text", text ? text : "", len);
    if (p)
        sl_policy_unref(p);
    free(text);
    json_t *j = json_pack("{s:o, s:o}", "drafts", list, "in_force", inf);
    http_req_audit_read(x);
    if (http_req_api(x))
        return http_req_json(x, 200, j);
    struct sl_buf b;
    sl_buf_init(&b);
    html_begin(&b, h->cfg, "Rule drafts", s, s->csrf);
    sl_buf_append_str(&b, "<h1>Rule drafts</h1>\n<p>A draft is a whole policy file. Write it "
                          "here or upload it; it is checked as <code>stateline policy check"
                          "</code> checks it, can be replayed against the last 30 days of "
                          "this gateway's traffic, and is put in force only when an approver "
                          "approves it (two approvers when it loosens access).</p>\n");
    sl_buf_append_str(&b, "<div class=\"scroll\"><table><caption>Drafts, newest first"
                          "</caption><tr><th scope=\"col\">no.</th><th scope=\"col\">name</th>"
                          "<th scope=\"col\">author</th><th scope=\"col\">updated</th>"
                          "<th scope=\"col\">check</th><th scope=\"col\">status</th></tr>\n");
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) {
        sl_buf_printf(&b, "<tr><td class=\"n\">%" JSON_INTEGER_FORMAT "</td><td>"
                          "<a href=\"/drafts/view?id=%" JSON_INTEGER_FORMAT "\">",
                      json_integer_value(json_object_get(d, "id")),
                      json_integer_value(json_object_get(d, "id")));
        esc(&b, jstr(d, "name"));
        sl_buf_append_str(&b, "</a></td><td>");
        esc(&b, jstr(d, "author"));
        sl_buf_append_str(&b, "</td><td>");
        esc(&b, jstr(d, "updated"));
        json_int_t ne = json_integer_value(json_object_get(d, "errors")),
                   nw = json_integer_value(json_object_get(d, "warnings"));
        sl_buf_printf(&b, "</td><td class=\"%s\">%" JSON_INTEGER_FORMAT " errors, %"
                          JSON_INTEGER_FORMAT " warnings</td><td>", ne ? "error" : "",
                      ne, nw);
        esc(&b, jstr(d, "status"));
        sl_buf_append_str(&b, "</td></tr>\n");
    }
    if (!json_array_size(list))
        sl_buf_append_str(&b, "<tr><td colspan=\"6\">no drafts yet</td></tr>\n");
    sl_buf_append_str(&b, "</table></div>\n");
    if (s->role == HR_AUTHOR) {
        sl_buf_append_str(&b, "<h2 id=\"new\">A new draft</h2>\n<form method=\"post\" "
                              "action=\"/drafts/save\">");
        csrf_input(&b, s);
        sl_buf_append_str(&b, "<label>Name of the draft<input name=\"name\" required "
                              "maxlength=\"64\" value=\"\"></label>\n<label>Policy text "
                              "(starts as the policy in force)<textarea class=\"policy\" name=\"text\" "
                              "rows=\"24\" cols=\"100\" spellcheck=\"false\">");
        esc(&b, jstr(inf, "text"));
        sl_buf_append_str(&b, "</textarea></label>\n<p><button type=\"submit\">Save and check"
                              "</button></p></form>\n<h2 id=\"upload\">Or upload a policy file"
                              "</h2>\n<form method=\"post\" action=\"/drafts/upload\" "
                              "enctype=\"multipart/form-data\">");
        csrf_input(&b, s);
        sl_buf_append_str(&b, "<label>Name of the draft<input name=\"name\" required "
                              "maxlength=\"64\"></label>\n<label>Policy file<input "
                              "type=\"file\" name=\"file\" required accept=\".policy,"
                              "text/plain\"></label>\n<p><button type=\"submit\">Upload and "
                              "check</button></p></form>\n");
    }
    sl_buf_append_str(&b, "<h2>The policy in force</h2><p>sha256 <code class=\"hash\">");
    esc(&b, jstr(inf, "sha256"));
    sl_buf_append_str(&b, "</code></p>\n");
    html_end(&b);
    json_decref(j);
    return http_req_html(x, 200, &b);
}

static int save_norm(struct ctx *x, int64_t id, const char *name, const char *text,
                     size_t len);

/* Save text as a new draft (id 0) or over the author's own draft. */
static int save_text(struct ctx *x, int64_t id, const char *name, const char *text,
                     size_t len)
{
    if (!line_ok(name, 64))
        return http_req_fail(x, 400, "name: the draft's name, 1 to 64 characters on one line");
    if (!utf8_ok(name, strlen(name)))
        return http_req_fail(x, 400, "name: not valid UTF-8");
    if (len == 0 || len > TEXT_MAX || memchr(text, 0, len))
        return http_req_fail(x, 400, "text: the policy text, 1 byte to 64 KiB, no NUL");
    if (!utf8_ok(text, len))
        return http_req_fail(x, 400, "text: not valid UTF-8 (save the file as UTF-8)");
    /* Line ends as LF: a browser sends a textarea's lines with CRLF (HTML's form
     * encoding), and a file may have them; the policy file and its hash should not depend
     * on which way the text came in. */
    char *norm = sl_xmalloc(len + 1);
    size_t nl = 0;
    for (size_t i = 0; i < len; i++)
        if (!(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n'))
            norm[nl++] = text[i];
    norm[nl] = 0;
    int rc0 = save_norm(x, id, name, norm, nl);
    free(norm);
    return rc0;
}

static int save_norm(struct ctx *x, int64_t id, const char *name, const char *text,
                     size_t len)
{
    struct sl_http *h = http_req_server(x);
    const struct http_session *s = http_req_session(x);
    struct sl_policy_diags dg = {0};
    struct sl_policy *p = NULL;
    char dname[80];
    snprintf(dname, sizeof dname, "draft");
    check_text(text, len, dname, &p, &dg);
    int errors = dg.nerrors, warnings = dg.nwarnings;
    if (p)
        sl_policy_unref(p);
    char hash[65];
    sha256_hex(text, len, hash);
    int64_t now = sl_wall_us();
    pthread_mutex_lock(&h->mu);
    int rc = -1;
    const char *why = "gateway.db cannot be written";
    unsigned status = 500;
    if (id) {
        struct draft d;
        int g = draft_get(h->db, id, &d);
        if (g == 1) {
            why = "no such draft";
            status = 404;
        } else if (g == 0 && !same_person(d.author, s->user)) {
            why = "a draft is edited by its author only (save it as a new draft)";
            status = 403;
        } else if (g == 0 && strcmp(d.status, "draft") && strcmp(d.status, "rejected") &&
                   strcmp(d.status, "submitted")) {
            why = "this draft is being approved or is in force: save a new draft";
            status = 409;
        } else if (g == 0) {
            sqlite3_stmt *st;
            if (sqlite3_prepare_v2(h->db, "UPDATE http_draft SET name = ?, text = ?, hash = ?,"
                                   " errors = ?, warnings = ?, updated_us = ?, status ="
                                   " 'draft', base_hash = '', loosens = 0, loosen_why = '',"
                                   " approver1 = '' WHERE id = ?", -1, &st, NULL) ==
                SQLITE_OK) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, text, (int)len, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 4, errors);
                sqlite3_bind_int(st, 5, warnings);
                sqlite3_bind_int64(st, 6, now);
                sqlite3_bind_int64(st, 7, id);
                rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
                sqlite3_finalize(st);
            }
        }
        if (g == 0)
            draft_free(&d);
    } else {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h->db, "INSERT INTO http_draft(name, author, created_us,"
                               " updated_us, text, hash, errors, warnings) VALUES(?, ?, ?, ?,"
                               " ?, ?, ?, ?)", -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, s->user, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, now);
            sqlite3_bind_int64(st, 4, now);
            sqlite3_bind_text(st, 5, text, (int)len, SQLITE_STATIC);
            sqlite3_bind_text(st, 6, hash, -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 7, errors);
            sqlite3_bind_int(st, 8, warnings);
            rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
            sqlite3_finalize(st);
            id = sqlite3_last_insert_rowid(h->db);
        }
    }
    if (rc == 0)
        action_add(h->db, id, s->user, "save", "");
    pthread_mutex_unlock(&h->mu);
    if (rc != 0) {
        sl_policy_diags_free(&dg);
        return http_req_fail(x, status, why);
    }
    char t[300];
    snprintf(t, sizeof t, "draft %lld \"%.64s\" saved: sha256 %s, %d errors, %d warnings",
             (long long)id, name, hash, errors, warnings);
    http_req_audit(x, SL_AUDIT_ADMIN, "draft-save", SL_AUDIT_OUT_OK, t);
    if (http_req_api(x)) {
        json_t *j = json_pack("{s:I, s:s, s:i, s:i, s:o}", "id", (json_int_t)id, "sha256",
                              hash, "errors", errors, "warnings", warnings, "diagnostics",
                              diags_json(&dg, "draft"));
        sl_policy_diags_free(&dg);
        return http_req_json(x, 200, j);
    }
    sl_policy_diags_free(&dg);
    char to[64];
    snprintf(to, sizeof to, "/drafts/view?id=%lld", (long long)id);
    return http_req_redirect(x, to);
}

static int serve_save(struct ctx *x)
{
    char name[200], idv[32];
    size_t blen;
    http_req_body(x, &blen);
    char *text = sl_xmalloc(blen + 1);
    int rn = http_req_field(x, "name", name, sizeof name);
    int rt = http_req_field(x, "text", text, blen + 1);
    int ri = http_req_field(x, "id", idv, sizeof idv);
    int64_t id = 0;
    int r;
    if (rn != 1 || rt != 1)
        r = http_req_fail(x, 400, "name and text are required (form fields name, text; id "
                                  "to save over your own draft), each once");
    else if (ri < 0 || (ri == 1 && parse_id(x, idv, &id)))
        r = http_req_fail(x, 400, "id: the draft's number, e.g. id=3");
    else
        r = save_text(x, id, name, text, strlen(text));
    free(text);
    return r;
}

static int serve_upload(struct ctx *x)
{
    const char *ct = http_req_header(x, "Content-Type");
    const char *bd = ct ? strstr(ct, "boundary=") : NULL;
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) || !bd)
        return http_req_fail(x, 400, "an upload is multipart/form-data with the fields csrf, "
                                     "name and file");
    char boundary[80];
    bd += 9;
    if (*bd == '"')
        bd++;
    size_t bl = strcspn(bd, "\";, ");
    if (bl < 1 || bl >= sizeof boundary)
        return http_req_fail(x, 400, "the multipart boundary is missing or too long");
    memcpy(boundary, bd, bl);
    boundary[bl] = 0;
    size_t len;
    const char *body = http_req_body(x, &len);
    const char *v[4];
    size_t n[4];
    const char *names[4] = {"csrf", "name", "file", "id"};
    int got[4];
    for (int i = 0; i < 4; i++) {
        got[i] = sl_http_multipart_get(body, len, boundary, names[i], &v[i], &n[i]);
        if (got[i] < 0)
            return http_req_fail(x, 400, "the multipart body is malformed or has a field "
                                         "twice");
    }
    char csrf[80] = "", name[80] = "", idv[32] = "";
    if (got[0] && n[0] < sizeof csrf)
        memcpy(csrf, v[0], n[0]), csrf[n[0]] = 0;
    if (!http_req_csrf_ok(x, csrf) &&
        !http_req_csrf_ok(x, http_req_header(x, "X-CSRF-Token")))
        return http_req_fail(x, 403, "CSRF token missing or wrong (form field csrf or header "
                                     "X-CSRF-Token)");
    if (!got[1] || n[1] >= sizeof name || !got[2])
        return http_req_fail(x, 400, "name (up to 64 characters) and file are required");
    memcpy(name, v[1], n[1]);
    name[n[1]] = 0;
    int64_t id = 0;
    if (got[3]) {
        if (n[3] >= sizeof idv)
            return http_req_fail(x, 400, "id: the draft's number, e.g. id=3");
        memcpy(idv, v[3], n[3]);
        idv[n[3]] = 0;
        if (idv[0] && parse_id(x, idv, &id))
            return http_req_fail(x, 400, "id: the draft's number, e.g. id=3");
    }
    /* a file with CRLF line ends reads the same to the parser; it is kept as given */
    return save_text(x, id, name, v[2], n[2]);
}

static int serve_check(struct ctx *x)
{
    size_t blen;
    http_req_body(x, &blen);
    char *text = sl_xmalloc(blen + 1);
    int rt = http_req_field(x, "text", text, blen + 1);
    if (rt != 1 || !text[0]) {
        free(text);
        return http_req_fail(x, 400, "text: the policy text is required (form field text)");
    }
    struct sl_policy_diags dg = {0};
    struct sl_policy *p = NULL;
    check_text(text, strlen(text), "draft", &p, &dg);
    json_t *j = json_pack("{s:i, s:i, s:o, s:s}", "errors", dg.nerrors, "warnings",
                          dg.nwarnings, "diagnostics", diags_json(&dg, "draft"), "sha256",
                          p ? sl_policy_hash(p) : "");
    if (p)
        sl_policy_unref(p);
    sl_policy_diags_free(&dg);
    free(text);
    return http_req_json(x, 200, j);
}

static int serve_view(struct ctx *x)
{
    struct sl_http *h = http_req_server(x);
    const struct http_session *s = http_req_session(x);
    struct draft d;
    int answered;
    if (load_draft(x, 0, &d, &answered))
        return answered;
    struct sl_policy_diags dg = {0};
    struct sl_policy *p = NULL;
    check_text(d.text, d.len, "draft", &p, &dg);
    json_t *diags = diags_json(&dg, "draft");
    sl_policy_diags_free(&dg);
    if (p)
        sl_policy_unref(p);
    size_t ilen = 0;
    char *inforce = policy_file_text(h->cfg, &ilen);
    json_t *diff = line_diff(inforce ? inforce : "", d.text);
    free(inforce);
    pthread_mutex_lock(&h->mu);
    json_t *acts = actions_json(h->db, d.id);
    pthread_mutex_unlock(&h->mu);
    json_t *j = json_pack("{s:o, s:o, s:o, s:o}", "draft", draft_json(&d, 1), "diagnostics",
                          diags, "actions", acts, "diff_from_in_force",
                          diff ? diff : json_null());
    http_req_audit_read(x);
    if (http_req_api(x)) {
        draft_free(&d);
        return http_req_json(x, 200, j);
    }
    struct sl_buf b;
    sl_buf_init(&b);
    char title[120];
    snprintf(title, sizeof title, "Draft %lld", (long long)d.id);
    html_begin(&b, h->cfg, title, s, s->csrf);
    sl_buf_printf(&b, "<h1>Draft %lld: ", (long long)d.id);
    esc(&b, d.name);
    sl_buf_append_str(&b, "</h1>\n<p>By ");
    esc(&b, d.author);
    char c[32];
    time_text(d.updated_us, c);
    sl_buf_printf(&b, ", last saved %s. Status: <strong>%s</strong>. sha256 <code>%.16s"
                      "&hellip;</code></p>\n", c, d.status, d.hash);
    if (d.basis[0]) {
        sl_buf_append_str(&b, "<p>Legal basis: ");
        esc(&b, d.basis);
        sl_buf_append_str(&b, "</p>\n");
    }
    if (strcmp(d.status, "draft")) {
        sl_buf_printf(&b, "<p>%s</p>", d.loosens
                                          ? "<strong>This draft loosens access</strong>: two "
                                            "approvers other than the author must approve it."
                                          : "This draft does not loosen access: one approver "
                                            "other than the author suffices.");
        if (d.loosen_why[0]) {
            sl_buf_append_str(&b, "<ul>");
            const char *q = d.loosen_why;
            while (*q) {
                const char *e = strchr(q, '\n');
                size_t n = e ? (size_t)(e - q) : strlen(q);
                sl_buf_append_str(&b, "<li>");
                escn(&b, q, n);
                sl_buf_append_str(&b, "</li>");
                q += n + (e ? 1 : 0);
            }
            sl_buf_append_str(&b, "</ul>\n");
        }
        if (d.approver1[0]) {
            sl_buf_append_str(&b, "<p>First approval by ");
            esc(&b, d.approver1);
            sl_buf_append_str(&b, "; a second approver is needed.</p>\n");
        }
    }
    html_diags_summary(&b, diags);
    sl_buf_printf(&b, "<p><a href=\"/drafts/simulate?id=%lld\">What would this draft have "
                      "changed in the last %d days?</a></p>\n", (long long)d.id, SIM_DAYS);
    html_source(&b, d.text, diags);
    int mine = same_person(d.author, s->user);
    int editable = !strcmp(d.status, "draft") || !strcmp(d.status, "rejected") ||
                   !strcmp(d.status, "submitted");
    if (s->role == HR_AUTHOR && mine && editable) {
        sl_buf_append_str(&b, "<h2 id=\"submit\">Submit for approval</h2>\n");
        if (d.errors)
            sl_buf_printf(&b, "<p class=\"error\">This draft has %d error%s: fix %s before "
                              "submitting.</p>\n", d.errors, d.errors == 1 ? "" : "s",
                          d.errors == 1 ? "it" : "them");
        sl_buf_append_str(&b, "<form method=\"post\" action=\"/drafts/submit\">");
        csrf_input(&b, s);
        sl_buf_printf(&b, "<input type=\"hidden\" name=\"id\" value=\"%lld\"><label>Legal "
                          "basis (the law, order or decision this change carries out)"
                          "<input name=\"basis\" required maxlength=\"256\" size=\"80\" "
                          "value=\"", (long long)d.id);
        esc(&b, d.basis);
        sl_buf_append_str(&b, "\"></label><p><button type=\"submit\">Submit</button></p>"
                              "</form>\n<h2 id=\"edit\">Edit</h2>\n<form method=\"post\" "
                              "action=\"/drafts/save\">");
        csrf_input(&b, s);
        sl_buf_printf(&b, "<input type=\"hidden\" name=\"id\" value=\"%lld\"><label>Name"
                          "<input name=\"name\" required maxlength=\"64\" value=\"",
                      (long long)d.id);
        esc(&b, d.name);
        sl_buf_append_str(&b, "\"></label><label>Policy text<textarea class=\"policy\" name=\"text\" rows=\"24\""
                              " cols=\"100\" spellcheck=\"false\">");
        esc(&b, d.text);
        sl_buf_append_str(&b, "</textarea></label><p><button type=\"submit\">Save and check"
                              "</button></p></form>\n");
    }
    if (s->role == HR_APPROVER &&
        (!strcmp(d.status, "submitted") || !strcmp(d.status, "approved-1of2"))) {
        sl_buf_append_str(&b, "<h2 id=\"decide\">Decide</h2>\n");
        for (int k = 0; k < 2; k++) {
            sl_buf_printf(&b, "<form method=\"post\" action=\"/drafts/%s\">",
                          k ? "reject" : "approve");
            csrf_input(&b, s);
            sl_buf_printf(&b, "<input type=\"hidden\" name=\"id\" value=\"%lld\"><label>"
                              "Reason for %s<input name=\"reason\" required maxlength=\"500\""
                              " size=\"80\"></label><p><button type=\"submit\">%s</button>"
                              "</p></form>\n", (long long)d.id,
                          k ? "rejecting" : "approving",
                          k ? "Reject" : "Approve and put in force");
        }
    }
    html_diff(&b, json_object_get(j, "diff_from_in_force") == json_null()
                      ? NULL
                      : json_object_get(j, "diff_from_in_force"),
              "What the draft changes in the text of the policy in force");
    sl_buf_append_str(&b, "<h2>What happened to this draft</h2><div class=\"scroll\"><table>"
                          "<tr><th scope=\"col\">when</th><th scope=\"col\">who</th>"
                          "<th scope=\"col\">what</th><th scope=\"col\">reason</th></tr>\n");
    size_t i;
    json_t *a;
    json_array_foreach(acts, i, a) {
        sl_buf_append_str(&b, "<tr><td>");
        esc(&b, jstr(a, "time"));
        sl_buf_append_str(&b, "</td><td>");
        esc(&b, jstr(a, "actor"));
        sl_buf_append_str(&b, "</td><td>");
        esc(&b, jstr(a, "action"));
        sl_buf_append_str(&b, "</td><td>");
        esc(&b, jstr(a, "reason"));
        sl_buf_append_str(&b, "</td></tr>\n");
    }
    sl_buf_append_str(&b, "</table></div>\n");
    html_end(&b);
    draft_free(&d);
    json_decref(j);
    return http_req_html(x, 200, &b);
}

/* ---- simulation page ---- */

static json_int_t cnt(json_t *row, const char *side, const char *what)
{
    return json_integer_value(json_object_get(json_object_get(row, side), what));
}

/* Two bars a requester class (now, draft), split into released whole, released with parts
 * withheld, held and denied; the numbers are in the table next to it. */
static void svg_sim(struct sl_buf *b, const char *title, json_t *by)
{
    size_t n = json_object_size(by);
    json_int_t top = 1;
    const char *k;
    json_t *v;
    json_object_foreach(by, k, v) {
        for (int s = 0; s < 2; s++) {
            const char *side = s ? "draft" : "in_force";
            json_int_t t = cnt(v, side, "released") + cnt(v, side, "held") +
                           cnt(v, side, "denied");
            if (t > top)
                top = t;
        }
    }
    int w = 680, lw = 250, bw = w - lw - 60, hgt = (int)n * 44 + 40;
    sl_buf_append_str(b, "<figure><figcaption>");
    esc(b, title);
    sl_buf_printf(b, "</figcaption><svg role=\"img\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                     "height=\"%d\" aria-label=\"", w, hgt, w, hgt);
    esc(b, title);
    sl_buf_append_str(b, " (the table below has the numbers)\">");
    static const char *const seg[4] = {"released", "redacted", "held", "denied"};
    static const char *const fill[4] = {"#2e7d32", "#b8860b", "#1f4fbf", "#b3261e"};
    int y = 4;
    json_object_foreach(by, k, v) {
        sl_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"end\">",
                      lw - 6, y + 15);
        esc(b, !strcmp(k, "(none)") ? "state and local (no parent)" : k);
        sl_buf_append_str(b, "</text>");
        for (int s = 0; s < 2; s++) {
            const char *side = s ? "draft" : "in_force";
            json_int_t val[4] = {cnt(v, side, "released") - cnt(v, side, "redacted"),
                                 cnt(v, side, "redacted"), cnt(v, side, "held"),
                                 cnt(v, side, "denied")};
            int x0 = lw;
            for (int q = 0; q < 4; q++) {
                int wd = (int)((double)val[q] / (double)top * bw);
                if (val[q] && wd < 2)
                    wd = 2;
                if (!val[q])
                    continue;
                sl_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"16\" "
                                 "fill=\"%s\"><title>%s, %s: %" JSON_INTEGER_FORMAT
                                 "</title></rect>", x0, y + 18 * s, wd, fill[q],
                              s ? "draft" : "now", seg[q], val[q]);
                x0 += wd;
            }
            sl_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>", x0 + 4,
                          y + 12 + 18 * s, s ? "draft" : "now");
        }
        y += 44;
    }
    static const int lx[4] = {10, 150, 350, 430};
    for (int q = 0; q < 4; q++)
        sl_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                         "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>", lx[q], y + 6,
                      fill[q], lx[q] + 16, y + 17, q == 1 ? "released, parts withheld"
                                                         : q == 0 ? "released whole" : seg[q]);
    sl_buf_append_str(b, "</svg></figure>\n");
}

static void sim_table(struct sl_buf *b, const char *caption, json_t *by)
{
    static const char *const cols[] = {"released", "redacted", "noticed", "held", "denied"};
    sl_buf_append_str(b, "<div class=\"scroll\"><table class=\"sim\"><caption>");
    esc(b, caption);
    sl_buf_append_str(b, "</caption><tr><th scope=\"col\" rowspan=\"2\">requester</th>");
    for (int i = 0; i < 5; i++)
        sl_buf_printf(b, "<th scope=\"colgroup\" colspan=\"2\">%s</th>", cols[i]);
    sl_buf_append_str(b, "</tr><tr>");
    for (int i = 0; i < 5; i++)
        sl_buf_append_str(b, "<th scope=\"col\">now</th><th scope=\"col\">draft</th>");
    sl_buf_append_str(b, "</tr>\n");
    const char *k;
    json_t *v;
    json_object_foreach(by, k, v) {
        int changed = !json_equal(json_object_get(v, "in_force"), json_object_get(v, "draft"));
        sl_buf_printf(b, "<tr%s><th scope=\"row\">", changed ? " class=\"changed\"" : "");
        esc(b, k);
        if (changed)
            sl_buf_append_str(b, " <small>(changes)</small>");
        sl_buf_append_str(b, "</th>");
        for (int i = 0; i < 5; i++) {
            json_int_t a = cnt(v, "in_force", cols[i]), c = cnt(v, "draft", cols[i]);
            sl_buf_printf(b, "<td class=\"n\">%" JSON_INTEGER_FORMAT "</td><td class=\"n%s\">%"
                             JSON_INTEGER_FORMAT "</td>", a, a != c ? " diff" : "", c);
        }
        sl_buf_append_str(b, "</tr>\n");
    }
    if (!json_object_size(by))
        sl_buf_append_str(b, "<tr><td colspan=\"11\">no queries in the period</td></tr>\n");
    sl_buf_append_str(b, "</table></div>\n");
}

static int serve_sim(struct ctx *x)
{
    struct sl_http *h = http_req_server(x);
    const struct http_session *s = http_req_session(x);
    struct draft d;
    int answered;
    if (load_draft(x, 0, &d, &answered))
        return answered;
    struct sl_policy_diags dg = {0};
    struct sl_policy *p = NULL;
    check_text(d.text, d.len, "draft", &p, &dg);
    if (!p) {
        char why[800], f[600] = "draft: error";
        for (int i = 0; i < dg.n; i++)
            if (dg.v[i].level == SL_PDIAG_ERROR) {
                sl_policy_diag_format(&dg.v[i], "draft", f, sizeof f);
                break;
            }
        snprintf(why, sizeof why, "the draft does not check, so it cannot be replayed: %s", f);
        sl_policy_diags_free(&dg);
        draft_free(&d);
        return http_req_fail(x, 422, why);
    }
    sl_policy_diags_free(&dg);
    struct sl_policy *now = current_policy(h);
    if (!now) {
        sl_policy_unref(p);
        draft_free(&d);
        return http_req_fail(x, 503, "no policy is in force (the gateway denies every "
                                     "query): there is nothing to compare with");
    }
    struct judgement jd;
    char err[300];
    if (judge(h, now, p, &jd, err, sizeof err) != 0) {
        sl_policy_unref(p);
        sl_policy_unref(now);
        draft_free(&d);
        return http_req_fail(x, 500, err);
    }
    char f[32], t[32];
    time_text(jd.from_us, f);
    time_text(jd.to_us, t);
    json_t *why = json_array();
    {
        const char *q = sl_buf_used(&jd.why) ? (const char *)sl_buf_head(&jd.why) : "";
        size_t left = sl_buf_used(&jd.why);
        while (left) {
            const char *e = memchr(q, '\n', left);
            size_t n = e ? (size_t)(e - q) : left;
            json_array_append_new(why, json_stringn(q, n));
            left -= n + (e ? 1 : 0);
            q += n + (e ? 1 : 0);
        }
    }
    json_t *j = json_pack("{s:{s:I, s:s, s:s}, s:{s:s}, s:s, s:s, s:i, s:O, s:O, s:b, s:o}",
                          "draft", "id", (json_int_t)d.id, "name", d.name, "sha256",
                          sl_policy_hash(p), "in_force", "sha256", sl_policy_hash(now), "from",
                          f, "to", t, "days", SIM_DAYS, "simulation", jd.sim,
                          "who_can_see_what_changes", jd.grid_changes, "loosens",
                          jd.loosens, "loosens_because", why);
    sl_policy_unref(p);
    sl_policy_unref(now);
    judgement_free(&jd);
    http_req_audit_read(x);
    if (http_req_api(x)) {
        draft_free(&d);
        return http_req_json(x, 200, j);
    }
    json_t *sim = json_object_get(j, "simulation");
    struct sl_buf b;
    sl_buf_init(&b);
    html_begin(&b, h->cfg, "What the draft would change", s, s->csrf);
    sl_buf_printf(&b, "<h1>What draft %lld would have changed</h1>\n<p><a href=\"/drafts/view"
                      "?id=%lld\">Draft %lld: ", (long long)d.id, (long long)d.id,
                  (long long)d.id);
    esc(&b, d.name);
    sl_buf_printf(&b, "</a>. The %" JSON_INTEGER_FORMAT " queries this gateway answered from "
                      "%s to %s, decided again by the policy in force and by the draft "
                      "(<code>stateline policy simulate</code>).</p>\n",
                  json_integer_value(json_object_get(sim, "queries")), f, t);
    sl_buf_printf(&b, "<p><strong>%" JSON_INTEGER_FORMAT "</strong> would be decided "
                      "differently; %" JSON_INTEGER_FORMAT " would get more than now.</p>\n",
                  json_integer_value(json_object_get(sim, "changed")),
                  json_integer_value(json_object_get(sim, "loosened")));
    json_t *rh = json_object_get(sim, "review_hours_per_week");
    sl_buf_printf(&b, "<p>The review desk: <strong>%.1f</strong> hours a week now, "
                      "<strong>%.1f</strong> with the draft (%.0f minutes per held request)."
                      "</p>\n", json_real_value(json_object_get(rh, "in_force")),
                  json_real_value(json_object_get(rh, "draft")),
                  json_real_value(json_object_get(rh, "minutes_per_review")));
    sl_buf_printf(&b, "<p>%s</p>\n", jd.loosens ? "<strong>This draft loosens access</strong>"
                                                  ": it needs two approvers besides its author."
                                                : "This draft does not loosen access: one "
                                                  "approver besides its author suffices.");
    size_t i;
    json_t *w;
    if (json_array_size(why)) {
        sl_buf_append_str(&b, "<ul>");
        json_array_foreach(why, i, w) {
            sl_buf_append_str(&b, "<li>");
            esc(&b, json_string_value(w));
            sl_buf_append_str(&b, "</li>");
        }
        sl_buf_append_str(&b, "</ul>\n");
    }
    sl_buf_append_str(&b, "<h2>By parent agency</h2><div class=\"charts\">");
    svg_sim(&b, "Queries by parent agency: now and with the draft",
            json_object_get(sim, "by_parent"));
    sl_buf_append_str(&b, "</div>\n");
    json_t *all = json_object();
    json_object_set(all, "all queries", json_object_get(sim, "all"));
    sim_table(&b, "All queries", all);
    json_decref(all);
    sim_table(&b, "By parent agency ((none) = state and local agencies)",
              json_object_get(sim, "by_parent"));
    sim_table(&b, "By agency type (ORION)", json_object_get(sim, "by_type"));
    sim_table(&b, "In or out of state", json_object_get(sim, "by_place"));
    sl_buf_append_str(&b, "<p class=\"muted\">Released counts every query answered with a "
                          "record; redacted and noticed are parts of it (some data withheld; "
                          "the person is notified). Tags are not kept in the log, so a rule "
                          "on a directory tag sees none here.</p>\n");
    sl_buf_append_str(&b, "<h2>Who can see what: the cells that change</h2>\n<div class=\""
                          "scroll\"><table><tr><th scope=\"col\">requester</th><th scope=\""
                          "col\">data</th><th scope=\"col\">now</th><th scope=\"col\">draft"
                          "</th></tr>\n");
    json_array_foreach(json_object_get(j, "who_can_see_what_changes"), i, w) {
        sl_buf_append_str(&b, "<tr><td>");
        esc(&b, jstr(w, "label"));
        sl_buf_append_str(&b, "</td><td>");
        esc(&b, jstr(w, "class"));
        sl_buf_printf(&b, "</td><td class=\"%s\">%s</td><td class=\"%s\">%s</td></tr>\n",
                      jstr(w, "in_force"), jstr(w, "in_force"), jstr(w, "draft"),
                      jstr(w, "draft"));
    }
    if (!json_array_size(json_object_get(j, "who_can_see_what_changes")))
        sl_buf_append_str(&b, "<tr><td colspan=\"4\">no cell changes</td></tr>\n");
    sl_buf_append_str(&b, "</table></div>\n");
    html_end(&b);
    draft_free(&d);
    json_decref(j);
    return http_req_html(x, 200, &b);
}

/* ---- submit, approve, reject ---- */

static int back_to(struct ctx *x, int64_t id, json_t *j)
{
    if (http_req_api(x))
        return http_req_json(x, 200, j);
    json_decref(j);
    char to[64];
    snprintf(to, sizeof to, "/drafts/view?id=%lld", (long long)id);
    return http_req_redirect(x, to);
}

static int serve_submit(struct ctx *x)
{
    struct sl_http *h = http_req_server(x);
    const struct http_session *s = http_req_session(x);
    char basis[300];
    int rb = http_req_field(x, "basis", basis, sizeof basis);
    struct draft d;
    int answered;
    if (load_draft(x, 1, &d, &answered))
        return answered;
    int r;
    struct sl_policy_diags dg = {0};
    struct sl_policy *p = NULL, *now = NULL;
    char why[700];
    if (rb != 1 || !line_ok(basis, 256) || !utf8_ok(basis, strlen(basis))) {
        r = http_req_fail(x, 400, "basis: the legal basis of the change (the law, order or "
                                  "decision), 1 to 256 characters on one line");
        goto out;
    }
    if (!same_person(d.author, s->user)) {
        r = http_req_fail(x, 403, "a draft is submitted by its author");
        goto out;
    }
    if (strcmp(d.status, "draft") && strcmp(d.status, "rejected") &&
        strcmp(d.status, "submitted")) {
        snprintf(why, sizeof why, "this draft is %s: nothing to submit", d.status);
        r = http_req_fail(x, 409, why);
        goto out;
    }
    check_text(d.text, d.len, "draft", &p, &dg);
    if (!p) {
        int k = 0;
        while (k < dg.n && dg.v[k].level != SL_PDIAG_ERROR)
            k++;
        char f[600];
        if (k < dg.n)
            sl_policy_diag_format(&dg.v[k], "draft", f, sizeof f);
        else
            snprintf(f, sizeof f, "draft: error");
        snprintf(why, sizeof why, "the draft does not check (%d error%s), so it cannot be "
                 "submitted: %s", dg.nerrors, dg.nerrors == 1 ? "" : "s", f);
        r = http_req_fail(x, 422, why);
        goto out;
    }
    if (strcmp(sl_policy_state(p), h->cfg->state)) {
        snprintf(why, sizeof why, "the draft is for state %s; this gateway answers for %s",
                 sl_policy_state(p), h->cfg->state);
        r = http_req_fail(x, 422, why);
        goto out;
    }
    now = current_policy(h);
    if (!now) {
        r = http_req_fail(x, 503, "no policy is in force: there is nothing to compare with "
                                  "(put one in force with `stateline policy apply`)");
        goto out;
    }
    if (!strcmp(sl_policy_hash(now), sl_policy_hash(p))) {
        r = http_req_fail(x, 409, "the draft is the policy in force: nothing would change");
        goto out;
    }
    struct judgement jd;
    char err[300];
    if (judge(h, now, p, &jd, err, sizeof err) != 0) {
        r = http_req_fail(x, 500, err);
        goto out;
    }
    sl_buf_append(&jd.why, "", 1);
    const char *reasons = (const char *)sl_buf_head(&jd.why);
    pthread_mutex_lock(&h->mu);
    sqlite3_stmt *st;
    int rc = -1;
    if (sqlite3_prepare_v2(h->db, "UPDATE http_draft SET status = 'submitted', basis = ?,"
                           " base_hash = ?, loosens = ?, loosen_why = ?, approver1 = ''"
                           " WHERE id = ? AND hash = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, basis, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, sl_policy_hash(now), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, jd.loosens);
        sqlite3_bind_text(st, 4, reasons, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, d.id);
        sqlite3_bind_text(st, 6, d.hash, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(h->db) == 1 ? 0 : -1;
        sqlite3_finalize(st);
    }
    if (rc == 0)
        action_add(h->db, d.id, s->user, "submit", basis);
    pthread_mutex_unlock(&h->mu);
    if (rc != 0) {
        judgement_free(&jd);
        r = http_req_fail(x, 409, "the draft changed while it was being submitted: look at "
                                  "it again");
        goto out;
    }
    char t[900];
    snprintf(t, sizeof t, "draft %lld \"%.64s\" submitted: sha256 %s over %s; loosens "
             "access: %s; basis: %.256s", (long long)d.id, d.name, d.hash, sl_policy_hash(now),
             jd.loosens ? "yes (two approvers)" : "no", basis);
    http_req_audit(x, SL_AUDIT_ADMIN, "draft-submit", SL_AUDIT_OUT_OK, t);
    json_t *j = json_pack("{s:I, s:s, s:b, s:s}", "id", (json_int_t)d.id, "status",
                          "submitted", "loosens", jd.loosens, "loosens_because", reasons);
    judgement_free(&jd);
    r = back_to(x, d.id, j);
out:
    sl_policy_diags_free(&dg);
    if (p)
        sl_policy_unref(p);
    if (now)
        sl_policy_unref(now);
    draft_free(&d);
    return r;
}

static int set_status(sqlite3 *db, int64_t id, const char *from, const char *to,
                      const char *approver1, int64_t applied_us)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "UPDATE http_draft SET status = ?, approver1 = ?, applied_us"
                           " = ? WHERE id = ? AND status = ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, approver1, -1, SQLITE_STATIC);
    if (applied_us)
        sqlite3_bind_int64(st, 3, applied_us);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, id);
    sqlite3_bind_text(st, 5, from, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) == 1 ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

static int serve_decide(struct ctx *x, int approve)
{
    struct sl_http *h = http_req_server(x);
    const struct http_session *s = http_req_session(x);
    char reason[600], why[900];
    int rr = http_req_field(x, "reason", reason, sizeof reason);
    struct draft d;
    int answered;
    if (load_draft(x, 1, &d, &answered))
        return answered;
    int r;
    struct sl_policy *now = NULL;
    /* One decision at a time: two approvers pressing at once are serialised here and the
     * second sees the first's result (the status guard in set_status). */
    pthread_mutex_lock(&h->mu);
    int locked = 1;
    struct draft cur;
    if (draft_get(h->db, d.id, &cur) == 0) {
        draft_free(&d);
        d = cur;
    }
    if (rr != 1 || !line_ok(reason, 500) || !utf8_ok(reason, strlen(reason))) {
        r = http_req_fail(x, 400, "reason: why you approve or reject, 1 to 500 characters on "
                                  "one line (no personal data)");
        goto out;
    }
    if (strcmp(d.status, "submitted") && strcmp(d.status, "approved-1of2")) {
        snprintf(why, sizeof why, "this draft is %s, not waiting for approval", d.status);
        r = http_req_fail(x, 409, why);
        goto out;
    }
    if (same_person(d.author, s->user)) {
        r = http_req_fail(x, 403, "the author of a draft cannot approve or reject it");
        goto out;
    }
    if (!approve) {
        if (set_status(h->db, d.id, d.status, "rejected", "", 0) != 0 ||
            action_add(h->db, d.id, s->user, "reject", reason) != 0) {
            r = http_req_fail(x, 500, "gateway.db cannot be written");
            goto out;
        }
        snprintf(why, sizeof why, "draft %lld \"%.64s\" (sha256 %s) rejected: %.500s",
                 (long long)d.id, d.name, d.hash, reason);
        http_req_audit(x, SL_AUDIT_ADMIN, "draft-reject", SL_AUDIT_OUT_OK, why);
        r = back_to(x, d.id, json_pack("{s:I, s:s}", "id", (json_int_t)d.id, "status",
                                       "rejected"));
        goto out;
    }
    if (!strcmp(d.status, "approved-1of2") && same_person(d.approver1, s->user)) {
        r = http_req_fail(x, 403, "this draft loosens access: its second approval must come "
                                  "from another approver than the first");
        goto out;
    }
    now = current_policy(h);
    if (!now || strcmp(sl_policy_hash(now), d.base_hash)) {
        r = http_req_fail(x, 409, "the policy in force changed since this draft was "
                                  "submitted: its author must look at it and submit it again");
        goto out;
    }
    if (d.loosens && !strcmp(d.status, "submitted")) {
        if (set_status(h->db, d.id, "submitted", "approved-1of2", s->user, 0) != 0 ||
            action_add(h->db, d.id, s->user, "approve-1of2", reason) != 0) {
            r = http_req_fail(x, 500, "gateway.db cannot be written");
            goto out;
        }
        snprintf(why, sizeof why, "draft %lld \"%.64s\" (sha256 %s) loosens access: first of "
                 "two approvals: %.500s", (long long)d.id, d.name, d.hash, reason);
        http_req_audit(x, SL_AUDIT_ADMIN, "draft-approve-1of2", SL_AUDIT_OUT_OK, why);
        r = back_to(x, d.id, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)d.id, "status",
                                       "approved-1of2", "needs", "a second approver, other "
                                       "than the author and the first approver"));
        goto out;
    }
    /* Final approval: put it in force through `policy apply`'s path. */
    char approvers[140], note[1000], hash[65], err[1200];
    if (d.approver1[0])
        snprintf(approvers, sizeof approvers, "%s, %s", d.approver1, s->user);
    else
        snprintf(approvers, sizeof approvers, "%s", s->user);
    snprintf(note, sizeof note, "draft %lld \"%.64s\" approved on the oversight desk by %s "
             "(%s): %.500s", (long long)d.id, d.name, approvers,
             d.loosens ? "loosens access: two approvers" : "does not loosen access", reason);
    char file[32];
    snprintf(file, sizeof file, "draft-%lld", (long long)d.id);
    struct sl_gw_change ch = {d.author, approvers, d.basis, note, file, 1};
    struct sl_policy_diags dg = {0};
    if (sl_gw_policy_apply(h->cfg, d.text, d.len, &ch, NULL, &dg, hash, err, sizeof err) != 0) {
        sl_policy_diags_free(&dg);
        r = http_req_fail(x, 500, err);
        goto out;
    }
    sl_policy_diags_free(&dg);
    int64_t t = sl_wall_us();
    if (set_status(h->db, d.id, d.status, "approved", d.approver1, t) != 0 ||
        action_add(h->db, d.id, s->user, "approve", reason) != 0)
        SL_ERROR("http", "draft %lld is in force but gateway.db did not record its approval",
                 (long long)d.id);
    http_req_audit(x, SL_AUDIT_ADMIN, "draft-approve", SL_AUDIT_OUT_OK, note);
    /* Answer when it is in force.  The lock is not needed for the wait: an approval of
     * another draft now finds the policy file changed (its base) and is refused. */
    pthread_mutex_unlock(&h->mu);
    locked = 0;
    int ms = wait_in_force(h, hash);
    if (ms < 0)
        SL_WARN("http", "draft %lld: written to %s but not in force after 3 s (does the "
                "gateway poll its policy file?)", (long long)d.id, h->cfg->policy);
    r = back_to(x, d.id, json_pack("{s:I, s:s, s:s, s:s, s:b, s:i}", "id", (json_int_t)d.id,
                                   "status", "approved", "sha256", hash, "approvers", approvers,
                                   "in_force", ms >= 0, "in_force_after_ms", ms));
out:
    if (locked)
        pthread_mutex_unlock(&h->mu);
    if (now)
        sl_policy_unref(now);
    draft_free(&d);
    return r;
}

/* ---- the rule history ---- */

struct hist {
    json_t *rows;
    uint64_t bad;
};

static void str_of(const struct sl_audit_str *a, char *out, size_t cap)
{
    size_t n = a->len < cap - 1 ? a->len : cap - 1;
    if (n && a->p)
        memcpy(out, a->p, n);
    out[a->p ? n : 0] = 0;
}

static int hist_entry(uint64_t index, const uint8_t *p, size_t len, void *arg)
{
    struct hist *hs = arg;
    struct sl_audit_entry e;
    char err[100];
    (void)index;
    if (sl_audit_decode(p, len, &e, err, sizeof err) != 0) {
        hs->bad++;
        return 0;
    }
    if (e.type != SL_AUDIT_POLICY_CHANGE)
        return 0;
    char actor[80], approver[80], text[1100], basis[300], t[32], hb[65] = "", ha[65] = "";
    str_of(&e.actor, actor, sizeof actor);
    str_of(&e.approver, approver, sizeof approver);
    str_of(&e.text, text, sizeof text);
    str_of(&e.basis, basis, sizeof basis);
    if (e.present & SL_AF_BIT(SL_AF_POLICY_BEFORE))
        sl_audit_hex(e.policy_before, 32, hb);
    if (e.present & SL_AF_BIT(SL_AF_POLICY_AFTER))
        sl_audit_hex(e.policy_after, 32, ha);
    time_text(e.time_us, t);
    json_array_append_new(hs->rows, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                                              "index", (json_int_t)e.seq, "time", t, "author",
                                              actor, "approver", approver, "basis", basis,
                                              "before", hb, "after", ha, "text", text));
    return 0;
}

/* A kept policy text by hash (NULL when not kept). */
static char *kept_text(sqlite3 *db, const char *hash)
{
    sqlite3_stmt *st;
    char *out = NULL;
    if (!hash[0] || sqlite3_prepare_v2(db, "SELECT text FROM policy_text WHERE hash = ?", -1,
                                       &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        out = strdup(t ? t : "");
    }
    sqlite3_finalize(st);
    return out;
}

static int serve_history(struct ctx *x)
{
    struct sl_http *h = http_req_server(x);
    const struct http_session *s = http_req_session(x);
    struct hist hs = {json_array(), 0};
    char err[300];
    struct sl_audit_reader_cb cb = {hist_entry, NULL, &hs};
    if (sl_audit_read_dir(h->cfg->audit_dir, &cb, err, sizeof err) != 0) {
        json_decref(hs.rows);
        return http_req_fail(x, 500, err);
    }
    /* newest first, each with the diff of the texts when both are kept */
    json_t *rows = json_array();
    for (size_t i = json_array_size(hs.rows); i-- > 0;) {
        json_t *r = json_array_get(hs.rows, i);
        pthread_mutex_lock(&h->mu);
        char *a = kept_text(h->db, jstr(r, "before"));
        char *b = kept_text(h->db, jstr(r, "after"));
        pthread_mutex_unlock(&h->mu);
        json_t *diff = a && b ? line_diff(a, b) : NULL;
        json_object_set_new(r, "diff", diff ? diff : json_null());
        json_object_set_new(r, "texts_kept", json_boolean(a && b));
        free(a);
        free(b);
        json_array_append(rows, r);
    }
    json_decref(hs.rows);
    json_t *j = json_pack("{s:o, s:I}", "changes", rows, "undecodable_entries",
                          (json_int_t)hs.bad);
    http_req_audit_read(x);
    if (http_req_api(x))
        return http_req_json(x, 200, j);
    struct sl_buf b;
    sl_buf_init(&b);
    html_begin(&b, h->cfg, "Rule history", s, s->csrf);
    sl_buf_append_str(&b, "<h1>Rule history</h1>\n<p>Every change of the policy in force, "
                          "newest first, from the policy-change entries of the audit log: who "
                          "wrote it, who approved it, on what legal basis, and the "
                          "fingerprints (SHA-256) of the texts before and after. Where the "
                          "gateway kept both texts, the change itself is shown.</p>\n");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        sl_buf_append_str(&b, "<section class=\"rule\"><h2>");
        esc(&b, jstr(r, "time"));
        sl_buf_append_str(&b, "</h2><dl class=\"kv\"><dt>Changed by</dt><dd>");
        esc(&b, jstr(r, "author"));
        sl_buf_append_str(&b, "</dd><dt>Approved by</dt><dd>");
        esc(&b, jstr(r, "approver")[0] ? jstr(r, "approver") : "(none recorded)");
        sl_buf_append_str(&b, "</dd><dt>Legal basis</dt><dd>");
        esc(&b, jstr(r, "basis")[0] ? jstr(r, "basis") : "(none recorded)");
        sl_buf_append_str(&b, "</dd><dt>What</dt><dd>");
        esc(&b, jstr(r, "text"));
        sl_buf_append_str(&b, "</dd><dt>Before &rarr; after (sha256)</dt><dd><code>");
        sl_buf_printf(&b, "%.16s</code> &rarr; <code>%.16s</code></dd></dl>\n",
                      jstr(r, "before")[0] ? jstr(r, "before") : "(none)", jstr(r, "after"));
        if (json_is_true(json_object_get(r, "texts_kept")))
            html_diff(&b, json_object_get(r, "diff") == json_null() ? NULL
                                                                    : json_object_get(r, "diff"),
                      "The change");
        else
            sl_buf_append_str(&b, "<p class=\"muted\">The texts were not kept by this gateway "
                                  "(changed before it kept them, or by editing the file).</p>");
        sl_buf_append_str(&b, "</section>\n");
    }
    if (!json_array_size(rows))
        sl_buf_append_str(&b, "<p>No change since the log began.</p>\n");
    html_end(&b);
    json_decref(j);
    return http_req_html(x, 200, &b);
}

int http_drafts_serve(struct ctx *x, int which)
{
    switch (which) {
    case D_LIST:
        return serve_list(x);
    case D_SAVE:
        return serve_save(x);
    case D_UPLOAD:
        return serve_upload(x);
    case D_VIEW:
        return serve_view(x);
    case D_SIM:
        return serve_sim(x);
    case D_CHECK:
        return serve_check(x);
    case D_SUBMIT:
        return serve_submit(x);
    case D_APPROVE:
        return serve_decide(x, 1);
    case D_REJECT:
        return serve_decide(x, 0);
    case D_HISTORY:
        return serve_history(x);
    }
    return http_req_fail(x, 500, "unrouted");
}
