/*
 * gw_desk.c - the review desk and notices to the person, tool side (docs/review.md).
 *
 * `stateline review` and `stateline policy apply` open the gateway's DATA/gateway.db
 * (schema in gw_queue.c) next to the running gateway (WAL: readers and one writer at a
 * time, busy timeout 5 s).  A decision is one transaction (BEGIN IMMEDIATE, synchronous =
 * FULL):
 *
 *     check the request is still 'held', the reviewer may act on it (not their own
 *     request; a second approval by someone else where two are needed);
 *     INSERT review_action (reviewer, action, reason, extra redactions);
 *     for a final decision: UPDATE review SET status = approved|denied ... WHERE id = ?
 *     AND status = 'held' (the deadline, applied by the gateway with the same guard,
 *     cannot also win).
 *
 * The running gateway looks at gateway.db every review_poll_ms: it writes each action's
 * REVIEW audit entry, builds and sends the reply of each decided request, and marks it
 * sent once the hub's TCP has acknowledged it (docs/review.md §2).
 *
 * Letters (notices send): DIR/WA-N12.txt and DIR/WA-N12.html, written to a temporary
 * name, fsync'd and renamed, then the notice is marked sent.  The outbox is created with
 * mode 0700; an existing one that group or others can read is refused.  The person's
 * name and address come from the records store at send time and appear only in the
 * letters.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gw_int.h"
#include "stateline/core.h"
#include "stateline/policy.h"
#include "stateline/store.h"

struct sl_gw_desk {
    const struct sl_gw_config *cfg;
    sqlite3 *db;
};

/* ---- business days ---- */

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm), and back. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int32_t civil_from_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp + (mp < 10 ? 3 : -9);
    return (int32_t)((y + (m <= 2)) * 10000 + m * 100 + d);
}

static int64_t ymd_days(int32_t ymd)
{
    return days_from_civil(ymd / 10000, ymd / 100 % 100, ymd % 100);
}

int sl_gw_business_day(const struct sl_gw_config *cfg, int32_t ymd)
{
    int64_t z = ymd_days(ymd);
    int wday = (int)(((z % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday (4) */
    if (wday == 0 || wday == 6)
        return 0;
    for (int i = 0; i < cfg->nholidays; i++)
        if (cfg->holidays[i] == ymd)
            return 0;
    return 1;
}

int32_t sl_gw_notice_due(const struct sl_gw_config *cfg, int64_t from_s, int days,
                         int business)
{
    time_t t = (time_t)from_s;
    struct tm tm;
    localtime_r(&t, &tm);
    int64_t z = days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    if (!business)
        return civil_from_days(z + days);
    /* N business days after the day of creation: count forward over weekends and
     * holidays (the day itself does not count, as in "within 3 business days"). */
    for (int n = 0; n < days;) {
        z++;
        if (sl_gw_business_day(cfg, civil_from_days(z)))
            n++;
    }
    return civil_from_days(z);
}

/* ---- opening ---- */

struct sl_gw_desk *sl_gw_desk_open(const struct sl_gw_config *cfg, char *err, size_t errlen)
{
    char path[SL_GW_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/gateway.db", cfg->data_dir);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s (has the gateway of %s run with data = %s?)", path,
                 strerror(errno), cfg->path, cfg->data_dir);
        return NULL;
    }
    struct sl_gw_desk *d = sl_xcalloc(1, sizeof *d);
    d->cfg = cfg;
    if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, d->db ? sqlite3_errmsg(d->db) : "out of memory");
        sl_gw_desk_close(d);
        return NULL;
    }
    sqlite3_busy_timeout(d->db, 5000);
    char e[300];
    if (gw_queue_schema_apply(d->db, e, sizeof e) != 0) {
        snprintf(err, errlen, "%s: %s", path, e);
        sl_gw_desk_close(d);
        return NULL;
    }
    /* A decision recorded by a reviewer must survive a power cut. */
    sqlite3_exec(d->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    return d;
}

void sl_gw_desk_close(struct sl_gw_desk *d)
{
    if (!d)
        return;
    sqlite3_close(d->db);
    free(d);
}

/* ---- helpers ---- */

static void utc(int64_t us, char *out, size_t len)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%d %H:%M UTC", &tm);
}

static void class_names(uint32_t mask, char *out, size_t len)
{
    size_t l = 0;
    out[0] = 0;
    for (int c = 0; c < SL_DC_COUNT; c++)
        if (mask & SL_DC_BIT(c) && l < len)
            l += (size_t)snprintf(out + l, len - l, "%s%s", l ? ", " : "",
                                  sl_policy_dc_name(c));
    if (!l)
        sl_strlcpy(out, "none", len);
}

static json_t *class_array(uint32_t mask)
{
    json_t *a = json_array();
    for (int c = 0; c < SL_DC_COUNT; c++)
        if (mask & SL_DC_BIT(c))
            json_array_append_new(a, json_string(sl_policy_dc_name(c)));
    return a;
}

static const char *ctext(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

/* "WA-R12" or "12" -> 12; -1 when neither. */
static int64_t parse_id(const char *state, const char *id, char letter)
{
    const char *p = id;
    if (strlen(id) > 3 && !strncasecmp(id, state, 2) && id[2] == '-' &&
        (id[3] == letter || id[3] == (letter | 0x20)))
        p = id + 4;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (!*p || *end || errno || v <= 0)
        return -1;
    return v;
}

static const char *jget(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* ---- list and show ---- */

#define REVIEW_COLS                                                                        \
    "id, received_us, deadline_us, ori, key, ctl, rules, why, then_effect, status,"        \
    " coalesce(decided_us, 0), coalesce(decided_by, ''), coalesce(decision_reason, ''),"   \
    " extra_redact, coalesce(sent_us, 0), detail, frame, policy_hash,"                     \
    " (SELECT group_concat(reviewer, ', ') FROM review_action a WHERE a.review_id ="       \
    " review.id AND a.action = 'approve-1of2')"

/* The request's body lines (the search values) from the stored frame, for `show`. */
static void frame_body(const void *frame, size_t len, struct sl_buf *out)
{
    const char *p = frame, *end = p + len;
    const char *txt = NULL;
    for (const char *q = p; q < end;) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        size_t l = nl ? (size_t)(nl - q) : (size_t)(end - q);
        if (l == 3 && !memcmp(q, "TXT", 3)) {
            txt = nl ? nl + 1 : end;
            break;
        }
        q = nl ? nl + 1 : end;
    }
    if (txt)
        sl_buf_append(out, txt, (size_t)(end - txt));
}

/* o[k] = det[k] (a new reference), or an empty array when det has none.  (Setting a new
 * json_array() with json_object_set would leak it: the desk in the browser calls this in a
 * long-running process.) */
static void set_array(json_t *o, const char *k, json_t *det)
{
    json_t *v = json_object_get(det, k);
    json_object_set_new(o, k, v ? json_incref(v) : json_array());
}

static json_t *row_json(const struct sl_gw_config *cfg, sqlite3_stmt *s, int full)
{
    json_error_t je;
    json_t *det = json_loads(ctext(s, 15), 0, &je);
    if (!det)
        det = json_object();
    char id[32];
    snprintf(id, sizeof id, "%s-R%lld", cfg->state, (long long)sqlite3_column_int64(s, 0));
    uint32_t carried = (uint32_t)json_integer_value(json_object_get(det, "carried"));
    uint32_t redact = (uint32_t)json_integer_value(json_object_get(det, "redact"));
    json_t *o = json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:s}", "id", id, "received_us",
                          (json_int_t)sqlite3_column_int64(s, 1), "deadline_us",
                          (json_int_t)sqlite3_column_int64(s, 2), "ori", ctext(s, 3), "key",
                          ctext(s, 4), "status", ctext(s, 9), "then", ctext(s, 8), "why",
                          ctext(s, 7));
    const char *copy[] = {"member", "type", "parent", "state", "RSN", "PUR", "CAS", "LGP",
                          "ATN", "IMQ", "tags", "categories", "withheld_by"};
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++)
        json_object_set_new(o, copy[i], json_string(jget(det, copy[i])));
    set_array(o, "rules", det);
    json_object_set_new(o, "would_release", class_array(carried & ~redact));
    json_object_set_new(o, "policy_withholds", class_array(redact & carried));
    json_object_set_new(o, "two_person", json_boolean(json_is_true(json_object_get(det,
                                                                                "two_person"))));
    const char *first = ctext(s, 18);
    json_object_set_new(o, "first_approval_by", first[0] ? json_string(first) : json_null());
    if (strcmp(ctext(s, 9), "held") != 0) {
        json_object_set_new(o, "decided_us", json_integer(sqlite3_column_int64(s, 10)));
        json_object_set_new(o, "decided_by", json_string(ctext(s, 11)));
        json_object_set_new(o, "decision_reason", json_string(ctext(s, 12)));
        json_object_set_new(o, "extra_redact",
                            class_array((uint32_t)sqlite3_column_int64(s, 13)));
        json_object_set_new(o, "sent", json_boolean(sqlite3_column_int64(s, 14) != 0));
    }
    if (full) {
        json_object_set_new(o, "control", json_string(ctext(s, 5)));
        set_array(o, "fields", det);
        set_array(o, "marks", det);
        set_array(o, "notices", det);
        struct sl_buf b = SL_BUF_INIT;
        frame_body(sqlite3_column_blob(s, 16), (size_t)sqlite3_column_bytes(s, 16), &b);
        json_object_set_new(o, "request_text",
                            json_stringn(b.data ? (const char *)sl_buf_head(&b) : "",
                                         sl_buf_used(&b)));
        sl_buf_free(&b);
        json_object_set_new(o, "policy_sha256", json_string(ctext(s, 17)));
    }
    json_decref(det);
    return o;
}

static void dump_json(json_t *o, struct sl_buf *out)
{
    char *t = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (t) {
        sl_buf_printf(out, "%s\n", t);
        free(t);
    }
}

static void row_text(const struct sl_gw_config *cfg, json_t *o, struct sl_buf *out, int full)
{
    char rec[40], dl[40];
    utc(json_integer_value(json_object_get(o, "received_us")), rec, sizeof rec);
    utc(json_integer_value(json_object_get(o, "deadline_us")), dl, sizeof dl);
    struct sl_buf wr = SL_BUF_INIT;
    json_t *a = json_object_get(o, "would_release");
    for (size_t i = 0; i < json_array_size(a); i++)
        sl_buf_printf(&wr, "%s%s", i ? ", " : "", json_string_value(json_array_get(a, i)));
    if (!sl_buf_used(&wr))
        sl_buf_printf(&wr, "nothing");
    sl_buf_append(&wr, "", 1);
    struct sl_buf rules = SL_BUF_INIT;
    a = json_object_get(o, "rules");
    for (size_t i = 0; i < json_array_size(a); i++)
        sl_buf_printf(&rules, "%s%s", i ? " " : "", json_string_value(json_array_get(a, i)));
    sl_buf_append(&rules, "", 1);
    if (!full) {
        sl_buf_printf(out, "%-8s %-9s %-4s %-3s %-14.14s %-3s %-20s %-10s %s\n",
                      jget(o, "id"), jget(o, "ori"), jget(o, "member"), jget(o, "type"),
                      jget(o, "parent")[0] ? jget(o, "parent") : "-", jget(o, "key"), dl,
                      jget(o, "status"), (const char *)sl_buf_head(&rules));
    } else {
        sl_buf_printf(out, "Review %s   status: %s\n", jget(o, "id"), jget(o, "status"));
        sl_buf_printf(out, "Received:   %s\nDeadline:   %s (then: %s)\n", rec, dl,
                      !strcmp(jget(o, "then"), "permit") ? "released" : "denied");
        sl_buf_printf(out, "Requester:  %s (member %s, type %s, parent agency %s, state %s%s)\n",
                      jget(o, "ori"), jget(o, "member"), jget(o, "type"),
                      jget(o, "parent")[0] ? jget(o, "parent") : "none", jget(o, "state"),
                      !strcmp(jget(o, "state"), cfg->state) ? ", in-state" : ", out of state");
        if (jget(o, "tags")[0])
            sl_buf_printf(out, "Tags:       %s\n", jget(o, "tags"));
        sl_buf_printf(out, "Request:    %s%s%s\n", jget(o, "key"),
                      jget(o, "control")[0] ? "   control " : "", jget(o, "control"));
        const char *f[] = {"RSN", "PUR", "CAS", "LGP", "ATN", "IMQ"};
        const char *w[] = {"reason code", "purpose code", "case number", "legal process",
                           "attention (officer)", "image requested"};
        for (int i = 0; i < 6; i++)
            sl_buf_printf(out, "  %s/ %-22s %s\n", f[i], w[i],
                          jget(o, f[i])[0] ? jget(o, f[i]) : "(not given)");
        sl_buf_printf(out, "Request text:\n  %s", jget(o, "request_text"));
        if (!strchr(jget(o, "request_text"), '\n'))
            sl_buf_printf(out, "\n");
        sl_buf_printf(out, "Held by:    %s\n", jget(o, "why"));
        sl_buf_printf(out, "If approved, released: %s\n", (const char *)sl_buf_head(&wr));
        if (jget(o, "withheld_by")[0])
            sl_buf_printf(out, "Withheld by the policy: %s\n", jget(o, "withheld_by"));
        a = json_object_get(o, "notices");
        for (size_t i = 0; i < json_array_size(a); i++) {
            json_t *n = json_array_get(a, i);
            sl_buf_printf(out, "Notice to the person within %lld %sdays (%s)\n",
                          (long long)json_integer_value(json_object_get(n, "days")),
                          json_is_true(json_object_get(n, "business")) ? "business " : "",
                          jget(n, "rule"));
        }
        a = json_object_get(o, "marks");
        for (size_t i = 0; i < json_array_size(a); i++)
            sl_buf_printf(out, "Reply mark: %s\n", json_string_value(json_array_get(a, i)));
        if (json_is_true(json_object_get(o, "two_person")))
            sl_buf_printf(out, "Approval needs two different reviewers%s%s\n",
                          json_is_string(json_object_get(o, "first_approval_by"))
                              ? "; first approval by "
                              : "",
                          json_is_string(json_object_get(o, "first_approval_by"))
                              ? jget(o, "first_approval_by")
                              : "");
        if (strcmp(jget(o, "status"), "held") != 0)
            sl_buf_printf(out, "Decided by: %s: %s%s\n", jget(o, "decided_by"),
                          jget(o, "decision_reason"),
                          json_is_true(json_object_get(o, "sent")) ? " (reply sent)"
                                                                   : " (reply pending)");
        sl_buf_printf(out, "Policy:     sha256 %s\n", jget(o, "policy_sha256"));
    }
    sl_buf_free(&wr);
    sl_buf_free(&rules);
}

int sl_gw_desk_list(struct sl_gw_desk *d, int all, int json, struct sl_buf *out)
{
    sqlite3_stmt *s;
    const char *sql = all ? "SELECT " REVIEW_COLS " FROM review ORDER BY id"
                          : "SELECT " REVIEW_COLS " FROM review WHERE status = 'held' ORDER BY"
                            " deadline_us, id";
    if (sqlite3_prepare_v2(d->db, sql, -1, &s, NULL) != SQLITE_OK) {
        sl_buf_printf(out, "gateway.db: %s\n", sqlite3_errmsg(d->db));
        return -1;
    }
    json_t *arr = json_array();
    int n = 0;
    if (!json)
        sl_buf_printf(out, "%-8s %-9s %-4s %-3s %-14s %-3s %-20s %-10s %s\n", "ID", "ORI",
                      "MBR", "TYP", "PARENT", "KEY", "DEADLINE", "STATUS", "RULES");
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *o = row_json(d->cfg, s, 0);
        if (json)
            json_array_append(arr, o);
        else
            row_text(d->cfg, o, out, 0);
        json_decref(o);
        n++;
    }
    sqlite3_finalize(s);
    if (json)
        dump_json(arr, out);
    else
        sl_buf_printf(out, "%d %s\n", n, all ? "requests held so far" : "held for review");
    json_decref(arr);
    return 0;
}

static sqlite3_stmt *get_row(struct sl_gw_desk *d, int64_t id)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(d->db, "SELECT " REVIEW_COLS " FROM review WHERE id = ?", -1, &s,
                           NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

int sl_gw_desk_show(struct sl_gw_desk *d, const char *id, int json, struct sl_buf *out,
                    char *err, size_t errlen)
{
    int64_t n = parse_id(d->cfg->state, id, 'R');
    sqlite3_stmt *s = n > 0 ? get_row(d, n) : NULL;
    if (!s) {
        snprintf(err, errlen, "no review %s", id);
        return -1;
    }
    json_t *o = row_json(d->cfg, s, 1);
    sqlite3_finalize(s);
    if (json)
        dump_json(o, out);
    else
        row_text(d->cfg, o, out, 1);
    json_decref(o);
    return 0;
}

/* ---- deciding ---- */

/* Names compared without case, spaces or punctuation ("J. Smith" = "jsmith"). */
static void norm(const char *s, char *out, size_t len)
{
    size_t n = 0;
    for (; *s && n + 1 < len; s++)
        if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9'))
            out[n++] = *s;
        else if (*s >= 'A' && *s <= 'Z')
            out[n++] = (char)(*s | 0x20);
    out[n] = 0;
}

/* The reviewer's own request: their name is the request's ATN/, or reviewer_links ties
 * them to the requesting ORI. */
static int own_request(const struct sl_gw_config *cfg, const char *reviewer, const char *atn,
                       const char *ori, char *why, size_t len)
{
    char a[140], b[140];
    norm(reviewer, a, sizeof a);
    norm(atn, b, sizeof b);
    if (b[0] && !strcmp(a, b)) {
        snprintf(why, len, "the request was made by %s (ATN/%s): a reviewer cannot approve "
                 "their own request", reviewer, atn);
        return 1;
    }
    char buf[sizeof cfg->reviewer_links];
    sl_strlcpy(buf, cfg->reviewer_links, sizeof buf);
    for (char *save = NULL, *t = strtok_r(buf, " ,\t", &save); t;
         t = strtok_r(NULL, " ,\t", &save)) {
        char *eq = strchr(t, '=');
        if (!eq)
            continue;
        *eq = 0;
        norm(t, b, sizeof b);
        if (!strcmp(a, b) && !strcasecmp(eq + 1, ori)) {
            snprintf(why, len, "%s is linked to the requesting ORI %s (reviewer_links in %s): "
                     "a reviewer cannot approve their own agency's request", reviewer, ori,
                     cfg->path);
            return 1;
        }
    }
    return 0;
}

static int step_done(sqlite3 *db, const char *sql, int64_t id, const char *a, const char *b,
                     const char *c, int64_t i1, int64_t i2)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, a ? a : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, b ? b : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, c ? c : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, i1);
    sqlite3_bind_int64(s, 6, i2);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? sqlite3_changes(db) : -1;
}

int sl_gw_desk_decide(struct sl_gw_desk *d, const char *id, int approve, const char *reviewer,
                      uint32_t extra, const char *reason, struct sl_buf *out, char *err,
                      size_t errlen)
{
    const struct sl_gw_config *cfg = d->cfg;
    char rn[140];
    norm(reviewer ? reviewer : "", rn, sizeof rn);
    if (!rn[0] || strlen(reviewer) > 64) {
        snprintf(err, errlen, "a reviewer identity is required (--reviewer NAME, up to 64 "
                 "characters)");
        return -1;
    }
    if (!reason || !reason[0] || strlen(reason) > 1000) {
        snprintf(err, errlen, "a written reason is required (--reason \"...\", up to 1000 "
                 "characters)");
        return -1;
    }
    int64_t n = parse_id(cfg->state, id, 'R');
    if (n <= 0) {
        snprintf(err, errlen, "'%s' is not a review number (%s-R12 or 12)", id, cfg->state);
        return -1;
    }
    if (sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "gateway.db: %s", sqlite3_errmsg(d->db));
        return -1;
    }
    int rc = -1;
    sqlite3_stmt *s = get_row(d, n);
    json_t *det = NULL;
    if (!s) {
        snprintf(err, errlen, "no review %s", id);
        goto out;
    }
    char idtxt[32];
    snprintf(idtxt, sizeof idtxt, "%s-R%lld", cfg->state, (long long)n);
    if (strcmp(ctext(s, 9), "held") != 0) {
        snprintf(err, errlen, "%s is no longer held: %s by %s", idtxt, ctext(s, 9),
                 ctext(s, 11));
        goto out;
    }
    if (approve && sqlite3_column_int64(s, 2) <= sl_wall_us()) {
        snprintf(err, errlen, "%s: the deadline has passed; the policy's outcome (%s) "
                 "applies", idtxt, ctext(s, 8));
        goto out;
    }
    json_error_t je;
    det = json_loads(ctext(s, 15), 0, &je);
    if (!det)
        det = json_object();
    char ori[16];
    sl_strlcpy(ori, ctext(s, 3), sizeof ori);
    int two = json_is_true(json_object_get(det, "two_person"));
    char first[200];
    sl_strlcpy(first, ctext(s, 18), sizeof first);
    sqlite3_finalize(s);
    s = NULL;
    if (approve && own_request(cfg, reviewer, jget(det, "ATN"), ori, err, errlen))
        goto out;
    /* audit-format.md §5: approve, approve-redact (the reviewer withholds more), deny;
     * approve-1of2 for a first approval under the two-person rule. */
    const char *action = !approve ? "deny" : extra ? "approve-redact" : "approve";
    uint32_t extra_total = extra;
    if (approve && two) {
        /* Earlier first approvals: by whom, and their redactions (which also apply). */
        sqlite3_stmt *q;
        int mine = 0, others = 0;
        char other[140] = "";
        if (sqlite3_prepare_v2(d->db, "SELECT reviewer, redact FROM review_action WHERE"
                               " review_id = ? AND action = 'approve-1of2'", -1, &q,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_int64(q, 1, n);
            while (sqlite3_step(q) == SQLITE_ROW) {
                char b[140];
                norm(ctext(q, 0), b, sizeof b);
                if (!strcmp(b, rn))
                    mine = 1;
                else {
                    others = 1;
                    sl_strlcpy(other, ctext(q, 0), sizeof other);
                    extra_total |= (uint32_t)sqlite3_column_int64(q, 1);
                }
            }
            sqlite3_finalize(q);
        }
        if (mine) {
            snprintf(err, errlen, "%s has already approved %s; the two-person rule needs a "
                     "second, different reviewer", reviewer, idtxt);
            goto out;
        }
        if (!others)
            action = "approve-1of2";
        else
            snprintf(first, sizeof first, "%s, %s", other, reviewer);
    } else {
        sl_strlcpy(first, reviewer, sizeof first);
    }
    int64_t now = sl_wall_us();
    if (step_done(d->db, "INSERT INTO review_action(review_id, reviewer, action, reason,"
                  " at_us, redact) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                  n, reviewer, action, reason, now, extra) != 1)
        goto dberr;
    if (strcmp(action, "approve-1of2") != 0) {
        int ch = step_done(d->db, "UPDATE review SET status = ?3, decided_by = ?2,"
                           " decision_reason = ?4, decided_us = ?5, extra_redact = ?6"
                           " WHERE id = ?1 AND status = 'held'",
                           n, first, approve ? "approved" : "denied", reason, now,
                           approve ? extra_total : 0);
        if (ch < 0)
            goto dberr;
        if (ch == 0) {
            snprintf(err, errlen, "%s is no longer held", idtxt);
            goto out;
        }
    }
    if (sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto dberr;
    char names[200];
    class_names(extra_total, names, sizeof names);
    if (!strcmp(action, "approve-1of2")) {
        sl_buf_printf(out, "%s: first approval recorded (%s); the two-person rule needs a "
                      "second, different reviewer to approve\n", idtxt, reviewer);
        rc = 1;
    } else {
        sl_buf_printf(out, "%s %s by %s%s%s; the gateway sends the reply\n", idtxt,
                      approve ? "approved" : "denied", first,
                      approve && extra_total ? ", also withholding " : "",
                      approve && extra_total ? names : "");
        rc = 0;
    }
    json_decref(det);
    return rc;
dberr:
    snprintf(err, errlen, "gateway.db: %s", sqlite3_errmsg(d->db));
out:
    if (s)
        sqlite3_finalize(s);
    json_decref(det);
    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ---- notices ---- */

static void ymd_text(int32_t ymd, char *out, size_t len)
{
    snprintf(out, len, "%04d-%02d-%02d", ymd / 10000, ymd / 100 % 100, ymd % 100);
}

static int32_t today_local(int64_t now_s)
{
    time_t t = (time_t)now_s;
    struct tm tm;
    localtime_r(&t, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

#define NOTICE_COLS                                                                        \
    "id, created_us, due, days, business, rule, ref, review, ori, member, agency_type,"    \
    " parent, req_state, key, classes, subject, status, coalesce(sent_us, 0),"             \
    " coalesce(sent_by, ''), coalesce(letter, '')"

int sl_gw_desk_notices(struct sl_gw_desk *d, int which, int json, int64_t now_s,
                       struct sl_buf *out)
{
    int32_t today = today_local(now_s);
    const char *where[] = {"status = 'due'", "status = 'due' AND due >= ?",
                           "status = 'due' AND due < ?", "1"};
    char sql[600];
    snprintf(sql, sizeof sql, "SELECT " NOTICE_COLS " FROM notice WHERE %s ORDER BY due, id",
             where[which < 0 || which > 3 ? 0 : which]);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(d->db, sql, -1, &s, NULL) != SQLITE_OK) {
        sl_buf_printf(out, "gateway.db: %s\n", sqlite3_errmsg(d->db));
        return -1;
    }
    if (which == 1 || which == 2)
        sqlite3_bind_int(s, 1, today);
    json_t *arr = json_array();
    if (!json)
        sl_buf_printf(out, "%-8s %-10s %-8s %-9s %-4s %-3s %-14s %-3s %-7s %s\n", "NOTICE",
                      "DUE", "STATE", "ORI", "MBR", "TYP", "PARENT", "KEY", "REVIEW",
                      "RELEASED");
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        char id[32], due[16], names[200], created[40];
        snprintf(id, sizeof id, "%s-N%lld", d->cfg->state, (long long)sqlite3_column_int64(s, 0));
        int32_t dd = sqlite3_column_int(s, 2);
        ymd_text(dd, due, sizeof due);
        class_names((uint32_t)sqlite3_column_int64(s, 14), names, sizeof names);
        utc(sqlite3_column_int64(s, 1), created, sizeof created);
        const char *st = !strcmp(ctext(s, 16), "sent") ? "sent"
                         : dd < today                   ? "OVERDUE"
                                                        : "due";
        if (json) {
            json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:b,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
                                  "id", id, "created", created, "due", due, "status", st,
                                  "days", sqlite3_column_int(s, 3), "business",
                                  sqlite3_column_int(s, 4), "rule", ctext(s, 5), "review",
                                  ctext(s, 7), "ori", ctext(s, 8), "member", ctext(s, 9),
                                  "type", ctext(s, 10), "parent", ctext(s, 11), "state",
                                  ctext(s, 12), "key", ctext(s, 13));
            json_object_set_new(o, "released", class_array((uint32_t)sqlite3_column_int64(s, 14)));
            if (!strcmp(st, "sent"))
                json_object_set_new(o, "letter", json_string(ctext(s, 19)));
            json_array_append_new(arr, o);
        } else {
            sl_buf_printf(out, "%-8s %-10s %-8s %-9s %-4s %-3s %-14.14s %-3s %-7s %s\n", id,
                          due, st, ctext(s, 8), ctext(s, 9), ctext(s, 10),
                          ctext(s, 11)[0] ? ctext(s, 11) : "-", ctext(s, 13),
                          ctext(s, 7)[0] ? ctext(s, 7) : "-", names);
        }
        n++;
    }
    sqlite3_finalize(s);
    if (json)
        dump_json(arr, out);
    else
        sl_buf_printf(out, "%d notice%s\n", n, n == 1 ? "" : "s");
    json_decref(arr);
    return 0;
}

static void html_esc(struct sl_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': sl_buf_printf(b, "&amp;"); break;
        case '<': sl_buf_printf(b, "&lt;"); break;
        case '>': sl_buf_printf(b, "&gt;"); break;
        case '"': sl_buf_printf(b, "&quot;"); break;
        default: sl_buf_append(b, s, 1);
        }
    }
}

static int write_file(const char *dir, const char *name, const struct sl_buf *b, char *err,
                      size_t errlen)
{
    char path[SL_GW_PATH_MAX + 64], tmp[SL_GW_PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    const char *p = (const char *)sl_buf_head(b);
    size_t left = sl_buf_used(b);
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static const char *const class_words[SL_DC_COUNT] = {
    "your name", "your licence photo", "your Social Security number",
    "your residential address", "your date of birth",
    "your physical description (sex, height, weight, eyes, hair)",
    "your licence number, class, status and expiry", "your driving history",
    "vehicle details (plate, VIN, make, model, year, colour)",
    "the registered owner's name", "the registered owner's address",
};

/* One letter, text and HTML.  The person's data (name, address) is used here only. */
static void letter(const struct sl_gw_config *cfg, sqlite3_stmt *s, const struct sl_driver *p,
                   const char *sender, struct sl_buf *txt, struct sl_buf *html)
{
    char id[32], due[16], today[16], when[40];
    snprintf(id, sizeof id, "%s-N%lld", cfg->state, (long long)sqlite3_column_int64(s, 0));
    ymd_text(sqlite3_column_int(s, 2), due, sizeof due);
    ymd_text(today_local(sl_wall_us() / 1000000), today, sizeof today);
    utc(sqlite3_column_int64(s, 1), when, sizeof when);
    char name[120], line2[120], agency[300];
    snprintf(name, sizeof name, "%s%s%s %s%s%s", p->first, p->middle[0] ? " " : "", p->middle,
             p->last, p->suffix[0] ? " " : "", p->suffix);
    snprintf(line2, sizeof line2, "%s, %s %s", p->city, p->state, p->zip);
    const char *parent = ctext(s, 11), *type = ctext(s, 10);
    snprintf(agency, sizeof agency, "the agency with ORI %s%s%s (agency type %s, %s)",
             ctext(s, 8), parent[0] ? ", part of " : "", parent, type[0] ? type : "?",
             !strcmp(ctext(s, 12), cfg->state) ? "in this state" : "outside this state");
    uint32_t classes = (uint32_t)sqlite3_column_int64(s, 14);
    int days = sqlite3_column_int(s, 3), bus = sqlite3_column_int(s, 4);

    sl_buf_printf(txt, "%s\nNOTICE OF A RELEASE OF YOUR RECORD\n\n%s\n\n%s\n%s\n%s\n\n"
                  "Notice no. %s\n\n",
                  cfg->state_name, today, name, p->street, line2, id);
    sl_buf_printf(txt, "On %s, %s asked the State of %s for its driver and vehicle records "
                  "(message key %s). Under rule \"%s\" of the state's policy, the state "
                  "released information from your record. It released:\n",
                  when, agency, cfg->state_name, ctext(s, 13), ctext(s, 5));
    for (int c = 0; c < SL_DC_COUNT; c++)
        if (classes & SL_DC_BIT(c))
            sl_buf_printf(txt, "  - %s\n", class_words[c]);
    if (ctext(s, 7)[0])
        sl_buf_printf(txt, "The request was first held and read by a state reviewer "
                      "(review no. %s).\n", ctext(s, 7));
    sl_buf_printf(txt, "\nThe state's policy requires this notice within %d %sday%s "
                  "(by %s).\n\n%s\n%s\n",
                  days, bus ? "business " : "", days == 1 ? "" : "s", due, sender,
                  cfg->state_name);

    sl_buf_printf(html, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<title>Notice ");
    html_esc(html, id);
    sl_buf_printf(html, "</title></head>\n<body>\n<h1>");
    html_esc(html, cfg->state_name);
    sl_buf_printf(html, "</h1>\n<h2>Notice of a release of your record</h2>\n<p>");
    html_esc(html, today);
    sl_buf_printf(html, "</p>\n<address>");
    html_esc(html, name);
    sl_buf_printf(html, "<br>");
    html_esc(html, p->street);
    sl_buf_printf(html, "<br>");
    html_esc(html, line2);
    sl_buf_printf(html, "</address>\n<p>Notice no. ");
    html_esc(html, id);
    sl_buf_printf(html, "</p>\n<p>On ");
    html_esc(html, when);
    sl_buf_printf(html, ", ");
    html_esc(html, agency);
    sl_buf_printf(html, " asked the State of ");
    html_esc(html, cfg->state_name);
    sl_buf_printf(html, " for its driver and vehicle records (message key ");
    html_esc(html, ctext(s, 13));
    sl_buf_printf(html, "). Under rule &ldquo;");
    html_esc(html, ctext(s, 5));
    sl_buf_printf(html, "&rdquo; of the state's policy, the state released information from "
                  "your record. It released:</p>\n<ul>\n");
    for (int c = 0; c < SL_DC_COUNT; c++)
        if (classes & SL_DC_BIT(c)) {
            sl_buf_printf(html, "<li>");
            html_esc(html, class_words[c]);
            sl_buf_printf(html, "</li>\n");
        }
    sl_buf_printf(html, "</ul>\n");
    if (ctext(s, 7)[0]) {
        sl_buf_printf(html, "<p>The request was first held and read by a state reviewer "
                      "(review no. ");
        html_esc(html, ctext(s, 7));
        sl_buf_printf(html, ").</p>\n");
    }
    sl_buf_printf(html, "<p>The state's policy requires this notice within %d %sday%s (by ",
                  days, bus ? "business " : "", days == 1 ? "" : "s");
    html_esc(html, due);
    sl_buf_printf(html, ").</p>\n<p>");
    html_esc(html, sender);
    sl_buf_printf(html, "<br>");
    html_esc(html, cfg->state_name);
    sl_buf_printf(html, "</p>\n</body></html>\n");
}

int sl_gw_desk_send(struct sl_gw_desk *d, const char *outbox, const char *sender,
                    struct sl_buf *out, int *nsent, char *err, size_t errlen)
{
    const struct sl_gw_config *cfg = d->cfg;
    *nsent = 0;
    struct stat st;
    if (mkdir(outbox, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "outbox %s: %s", outbox, strerror(errno));
        return -1;
    }
    if (stat(outbox, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "outbox %s: not a folder", outbox);
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "outbox %s has mode %03o: letters carry the person's name and "
                 "address, so the outbox must be readable by its owner only (chmod 700 %s)",
                 outbox, (unsigned)(st.st_mode & 0777), outbox);
        return -1;
    }
    struct sl_store *store = sl_store_open(cfg->records, 1, err, errlen);
    if (!store)
        return -1;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(d->db, "SELECT " NOTICE_COLS " FROM notice WHERE status = 'due'"
                           " ORDER BY due, id", -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "gateway.db: %s", sqlite3_errmsg(d->db));
        sl_store_close(store);
        return -1;
    }
    int rc = 0;
    struct sl_buf txt = SL_BUF_INIT, html = SL_BUF_INIT;
    /* Collect first: the UPDATEs below would otherwise run under an open SELECT. */
    struct todo {
        int64_t id;
    } *todo = NULL;
    size_t ntodo = 0, cap = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (ntodo == cap) {
            cap = cap ? cap * 2 : 16;
            todo = sl_xrealloc(todo, cap * sizeof *todo);
        }
        todo[ntodo++].id = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    for (size_t i = 0; i < ntodo && rc == 0; i++) {
        if (sqlite3_prepare_v2(d->db, "SELECT " NOTICE_COLS " FROM notice WHERE id = ?", -1,
                               &s, NULL) != SQLITE_OK)
            break;
        sqlite3_bind_int64(s, 1, todo[i].id);
        if (sqlite3_step(s) != SQLITE_ROW || strcmp(ctext(s, 16), "due") != 0) {
            sqlite3_finalize(s);
            continue;
        }
        char id[32];
        snprintf(id, sizeof id, "%s-N%lld", cfg->state, (long long)todo[i].id);
        struct sl_driver p;
        int found = sl_store_driver_by_oln(store, ctext(s, 15), &p);
        if (found != 1) {
            sl_buf_printf(out, "%s: the person's record is no longer on file: no letter "
                          "(the notice stays due; handle it by hand)\n", id);
            sqlite3_finalize(s);
            continue;
        }
        sl_buf_reset(&txt);
        sl_buf_reset(&html);
        letter(cfg, s, &p, sender, &txt, &html);
        sqlite3_finalize(s);
        char n1[48], n2[48];
        snprintf(n1, sizeof n1, "%s.txt", id);
        snprintf(n2, sizeof n2, "%s.html", id);
        if (write_file(outbox, n1, &txt, err, errlen) != 0 ||
            write_file(outbox, n2, &html, err, errlen) != 0) {
            rc = -1;
            break;
        }
        char letterp[SL_GW_PATH_MAX + 64];
        snprintf(letterp, sizeof letterp, "%s/%s", outbox, n1);
        if (step_done(d->db, "UPDATE notice SET status = 'sent', sent_us = ?5, sent_by = ?2,"
                      " letter = ?3, audited_sent = ?6 WHERE id = ?1 AND status = 'due' AND"
                      " ?4 = ''",
                      todo[i].id, sender, letterp, "", sl_wall_us(), 0) < 0) {
            snprintf(err, errlen, "gateway.db: %s", sqlite3_errmsg(d->db));
            rc = -1;
            break;
        }
        sl_buf_printf(out, "%s: letter written: %s/%s (.txt, .html)\n", id, outbox, id);
        (*nsent)++;
    }
    free(todo);
    sl_buf_free(&txt);
    sl_buf_free(&html);
    sl_store_close(store);
    return rc;
}

int sl_gw_desk_policy_applied(struct sl_gw_desk *d, const char *author, const char *file,
                              const char *hash, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = -1;
    if (sqlite3_prepare_v2(d->db, "INSERT INTO policy_apply(at_us, author, file, hash)"
                           " VALUES(?, ?, ?, ?)", -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, sl_wall_us());
        sqlite3_bind_text(s, 2, author, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, file, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, hash, -1, SQLITE_STATIC);
        rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(s);
    }
    if (rc != 0)
        snprintf(err, errlen, "gateway.db: %s", sqlite3_errmsg(d->db));
    return rc;
}

/* The letter of one notice, for the desk in the browser (docs/review.md §3): the letter
 * written when it was sent (the .txt file in the outbox, as the person received it), or,
 * for an unsent notice, the letter as `notices send` would write it now (the name and
 * address looked up in the records store now). */
int sl_gw_desk_letter(struct sl_gw_desk *d, const char *id, const char *sender,
                      struct sl_buf *txt, char *err, size_t errlen)
{
    const struct sl_gw_config *cfg = d->cfg;
    int64_t n = parse_id(cfg->state, id, 'N');
    if (n <= 0) {
        snprintf(err, errlen, "'%s' is not a notice number (%s-N12 or 12)", id, cfg->state);
        return -1;
    }
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(d->db, "SELECT " NOTICE_COLS " FROM notice WHERE id = ?", -1, &s,
                           NULL) != SQLITE_OK) {
        snprintf(err, errlen, "gateway.db: %s", sqlite3_errmsg(d->db));
        return -1;
    }
    sqlite3_bind_int64(s, 1, n);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        snprintf(err, errlen, "no notice %s", id);
        return -1;
    }
    int rc = -1;
    if (!strcmp(ctext(s, 16), "sent")) {
        char path[SL_GW_PATH_MAX + 64];
        sl_strlcpy(path, ctext(s, 19), sizeof path);
        sqlite3_finalize(s);
        FILE *f = fopen(path, "r");
        if (!f) {
            snprintf(err, errlen, "the letter of %s was sent as %s, which cannot be read now: "
                     "%s", id, path, strerror(errno));
            return -1;
        }
        char buf[4096];
        size_t k;
        while ((k = fread(buf, 1, sizeof buf, f)) > 0)
            sl_buf_append(txt, buf, k);
        fclose(f);
        return 1;
    }
    struct sl_store *store = sl_store_open(cfg->records, 1, err, errlen);
    if (store) {
        struct sl_driver p;
        if (sl_store_driver_by_oln(store, ctext(s, 15), &p) == 1) {
            struct sl_buf html = SL_BUF_INIT;
            letter(cfg, s, &p, sender, txt, &html);
            sl_buf_free(&html);
            rc = 0;
        } else {
            snprintf(err, errlen, "%s: the person's record is no longer on file: no letter "
                     "can be written (handle the notice by hand)", id);
        }
        sl_store_close(store);
    }
    sqlite3_finalize(s);
    return rc;
}
