/*
 * http_desk.c - the review desk and the notices to the person, in the browser
 * (docs/http-api.md §9; the desk itself: docs/review.md).
 *
 *   GET  /review               the held queue, soonest deadline first (overdue marked),
 *                              the last decisions, the notices due and overdue
 *   GET  /review/item?id=      one held request: all a reviewer needs, and the forms
 *   POST /review/decide        id, action = approve|deny, reason (required), the classes
 *                              the reviewer withholds too (redact = "photo,address" or one
 *                              field redact_<class> per class)
 *   GET  /review/notices?which=unsent|due|overdue|all
 *   GET  /review/letter?id=    a notice's letter (the one sent, or the one it would be)
 *   POST /review/notices/send  write every unsent notice's letter into DATA/outbox
 * and the same under /api/ as JSON.  Roles: reviewer and admin.
 *
 * Nothing here decides anything itself: every read and every decision goes through the
 * gateway's own desk functions (sl_gw_desk_*, src/gateway/gw_desk.c), the same code path
 * as `stateline review`, with the logged-on account's name as the reviewer.  So the
 * rules are the same (a written reason, no self-approval, the two-person rule, the
 * deadline), and the running gateway writes the review audit entry and sends the reply
 * within review_poll_ms, exactly as for a decision made on the command line.
 *
 * A gateway.db connection is opened per request (gw_desk keeps no state between calls;
 * the desk is a few requests a minute, and SQLite's WAL lets it sit beside the gateway).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_int.h"
#include "stateline/core.h"
#include "stateline/policy.h"

#define SENDER "Driver and vehicle records office"

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void utc_text(int64_t us, char *out, size_t len)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%d %H:%M UTC", &tm);
}

/* How long until (or since) a deadline, in words a reviewer reads at a glance. */
static void left_text(int64_t left_us, char *out, size_t len)
{
    int64_t s = (left_us < 0 ? -left_us : left_us) / 1000000;
    if (s >= 86400)
        snprintf(out, len, "%lld d %lld h", (long long)(s / 86400), (long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(out, len, "%lld h %lld min", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(out, len, "%lld min", (long long)(s / 60));
}

static struct sl_gw_desk *open_desk(struct ctx *x, char *err, size_t errlen)
{
    return sl_gw_desk_open(http_req_server(x)->cfg, err, errlen);
}

/* The JSON a gw_desk call printed into out; NULL when it is not JSON. */
static json_t *parse_out(struct sl_buf *out)
{
    json_error_t je;
    json_t *j = sl_buf_used(out) ? json_loadb((const char *)sl_buf_head(out), sl_buf_used(out),
                                              0, &je)
                                 : NULL;
    return j;
}

/* "WA-R12", "wa-r12" or "12" for this state; letter R (review) or N (notice). */
static int valid_id(const struct sl_gw_config *cfg, const char *id, char letter)
{
    if (!id || !*id || strlen(id) > 24)
        return 0;
    const char *p = id;
    if (strlen(id) > 4 && !strncasecmp(id, cfg->state, 2) && id[2] == '-' &&
        (id[3] == letter || id[3] == (letter | 0x20)))
        p = id + 4;
    if (!*p || strlen(p) > 15)
        return 0;
    for (; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

/* Add the times a page shows to a review row: deadline and received as text, time left,
 * overdue (the deadline has passed: the gateway applies the policy's outcome at its next
 * poll, so this shows for at most review_poll_ms). */
static void add_times(json_t *o, int64_t now_us)
{
    char t[40];
    int64_t dl = json_integer_value(json_object_get(o, "deadline_us"));
    utc_text(dl, t, sizeof t);
    json_object_set_new(o, "deadline", json_string(t));
    utc_text(json_integer_value(json_object_get(o, "received_us")), t, sizeof t);
    json_object_set_new(o, "received", json_string(t));
    left_text(dl - now_us, t, sizeof t);
    json_object_set_new(o, "time_left", json_string(t));
    json_object_set_new(o, "overdue", json_boolean(dl <= now_us));
    json_object_set_new(o, "due_within_24h", json_boolean(dl > now_us &&
                                                          dl - now_us < INT64_C(86400000000)));
    if (json_object_get(o, "decided_us")) {
        utc_text(json_integer_value(json_object_get(o, "decided_us")), t, sizeof t);
        json_object_set_new(o, "decided", json_string(t));
    }
}

static void join(struct sl_buf *b, json_t *a, const char *none)
{
    size_t i;
    json_t *v;
    if (!json_array_size(a)) {
        html_escape(b, none);
        return;
    }
    json_array_foreach(a, i, v) {
        if (i)
            sl_buf_append_str(b, ", ");
        html_escape(b, json_string_value(v));
    }
}

static void rule_links(struct sl_buf *b, json_t *rules)
{
    size_t i;
    json_t *v;
    json_array_foreach(rules, i, v) {
        const char *id = json_string_value(v);
        if (i)
            sl_buf_append_str(b, ", ");
        sl_buf_append_str(b, "<a href=\"/briefing#rule-");
        html_escape(b, id);
        sl_buf_append_str(b, "\">");
        html_escape(b, id);
        sl_buf_append_str(b, "</a>");
    }
}

static void requester_cell(struct sl_buf *b, json_t *o)
{
    sl_buf_append_str(b, "<code>");
    html_escape(b, str(o, "ori"));
    sl_buf_append_str(b, "</code><br><small>");
    html_escape(b, str(o, "parent")[0] ? str(o, "parent") : "no parent agency");
    sl_buf_append_str(b, " &middot; type ");
    html_escape(b, str(o, "type"));
    sl_buf_append_str(b, " &middot; ");
    html_escape(b, str(o, "state"));
    sl_buf_append_str(b, "</small>");
}

/* ---- the queue ---- */

static json_t *queue_json(struct ctx *x, struct sl_gw_desk *d, char *err, size_t errlen)
{
    const struct sl_gw_config *cfg = http_req_server(x)->cfg;
    int64_t now = sl_wall_us();
    struct sl_buf out = SL_BUF_INIT;
    json_t *held = NULL, *all = NULL, *due = NULL, *over = NULL;
    if (sl_gw_desk_list(d, 0, 1, &out) != 0 || !(held = parse_out(&out)))
        goto bad;
    sl_buf_reset(&out);
    if (sl_gw_desk_list(d, 1, 1, &out) != 0 || !(all = parse_out(&out)))
        goto bad;
    sl_buf_reset(&out);
    if (sl_gw_desk_notices(d, 1, 1, now / 1000000, &out) != 0 || !(due = parse_out(&out)))
        goto bad;
    sl_buf_reset(&out);
    if (sl_gw_desk_notices(d, 2, 1, now / 1000000, &out) != 0 || !(over = parse_out(&out)))
        goto bad;
    sl_buf_free(&out);
    size_t i;
    json_t *o;
    json_array_foreach(held, i, o) add_times(o, now);
    /* the last 20 decisions, newest first */
    json_t *decided = json_array();
    for (size_t k = json_array_size(all); k-- > 0 && json_array_size(decided) < 20;) {
        o = json_array_get(all, k);
        if (strcmp(str(o, "status"), "held") != 0) {
            add_times(o, now);
            json_array_append(decided, o);
        }
    }
    json_decref(all);
    json_int_t ndue = (json_int_t)json_array_size(due), nover = (json_int_t)json_array_size(over);
    json_decref(due);
    json_decref(over);
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:I, s:I}}", "state", cfg->state,
                     "state_name", cfg->state_name, "two_person", cfg->two_person, "held",
                     held, "decided", decided, "notices", "due", ndue, "overdue", nover);
bad:
    snprintf(err, errlen, "cannot read the review queue: %.*s", (int)sl_buf_used(&out),
             sl_buf_used(&out) ? (const char *)sl_buf_head(&out) : "");
    sl_buf_free(&out);
    json_decref(held);
    json_decref(all);
    json_decref(due);
    json_decref(over);
    return NULL;
}

static void html_queue(struct sl_buf *b, json_t *j)
{
    json_t *held = json_object_get(j, "held");
    json_t *n = json_object_get(j, "notices");
    sl_buf_printf(b, "<h1>Review desk</h1>\n<p>%zu request%s held for review. ",
                  json_array_size(held), json_array_size(held) == 1 ? "" : "s");
    json_int_t nd = json_integer_value(json_object_get(n, "due")),
               no = json_integer_value(json_object_get(n, "overdue"));
    sl_buf_printf(b, "<a href=\"/review/notices\">Notices to the person</a>: %" JSON_INTEGER_FORMAT
                     " due, %s%" JSON_INTEGER_FORMAT " overdue%s.</p>\n",
                  nd, no ? "<strong class=\"error\">" : "", no, no ? "</strong>" : "");
    if (str(j, "two_person")[0]) {
        sl_buf_append_str(b, "<p class=\"muted\">Two-person rule: approving a request held by ");
        if (!strcmp(str(j, "two_person"), "all"))
            sl_buf_append_str(b, "any rule");
        else {
            sl_buf_append_str(b, "rule(s) ");
            html_escape(b, str(j, "two_person"));
        }
        sl_buf_append_str(b, " needs two different reviewers.</p>\n");
    }
    sl_buf_append_str(b, "<h2 id=\"held\">Held, soonest deadline first</h2>\n");
    if (!json_array_size(held)) {
        sl_buf_append_str(b, "<p>Nothing is waiting.</p>\n");
    } else {
        sl_buf_append_str(b, "<div class=\"scroll\"><table class=\"stack\"><caption>Held "
                             "requests</caption>"
                             "<tr><th scope=\"col\">review</th><th scope=\"col\">deadline"
                             "</th><th scope=\"col\">requester</th><th scope=\"col\">key</th>"
                             "<th scope=\"col\">held by</th><th scope=\"col\">if approved, "
                             "released</th><th scope=\"col\">approvals</th></tr>\n");
        size_t i;
        json_t *o;
        json_array_foreach(held, i, o) {
            int over = json_is_true(json_object_get(o, "overdue"));
            int soon = json_is_true(json_object_get(o, "due_within_24h"));
            sl_buf_append_str(b, "<tr><td data-label=\"review\"><a href=\"/review/item?id=");
            html_escape(b, str(o, "id"));
            sl_buf_append_str(b, "\">");
            html_escape(b, str(o, "id"));
            sl_buf_printf(b, "</a></td><td data-label=\"deadline\"%s>",
                          over ? " class=\"denied\"" : "");
            html_escape(b, str(o, "deadline"));
            sl_buf_append_str(b, "<br><small>");
            if (over)
                sl_buf_append_str(b, "<strong>OVERDUE</strong>: the policy's outcome applies");
            else {
                sl_buf_append_str(b, soon ? "<strong>" : "");
                html_escape(b, str(o, "time_left"));
                sl_buf_append_str(b, soon ? " left</strong>" : " left");
            }
            sl_buf_append_str(b, " (then ");
            sl_buf_append_str(b, !strcmp(str(o, "then"), "permit") ? "released" : "denied");
            sl_buf_append_str(b, ")</small></td><td data-label=\"requester\">");
            requester_cell(b, o);
            sl_buf_append_str(b, "</td><td data-label=\"key\">");
            html_escape(b, str(o, "key"));
            sl_buf_append_str(b, "</td><td data-label=\"held by\">");
            rule_links(b, json_object_get(o, "rules"));
            sl_buf_append_str(b, "</td><td data-label=\"if approved, released\">");
            join(b, json_object_get(o, "would_release"), "nothing");
            sl_buf_append_str(b, "</td><td data-label=\"approvals\">");
            if (json_is_true(json_object_get(o, "two_person"))) {
                sl_buf_append_str(b, "two needed");
                if (json_is_string(json_object_get(o, "first_approval_by"))) {
                    sl_buf_append_str(b, "; first: ");
                    html_escape(b, str(o, "first_approval_by"));
                }
            } else {
                sl_buf_append_str(b, "one");
            }
            sl_buf_append_str(b, "</td></tr>\n");
        }
        sl_buf_append_str(b, "</table></div>\n");
    }
    json_t *dec = json_object_get(j, "decided");
    sl_buf_append_str(b, "<h2 id=\"decided\">Last decisions</h2>\n");
    if (!json_array_size(dec)) {
        sl_buf_append_str(b, "<p>None yet.</p>\n");
        return;
    }
    sl_buf_append_str(b, "<div class=\"scroll\"><table><caption>Decided requests, newest "
                         "first</caption><tr><th scope=\"col\">review</th><th scope=\"col\">"
                         "outcome</th><th scope=\"col\">by</th><th scope=\"col\">when</th>"
                         "<th scope=\"col\">reason</th><th scope=\"col\">reply</th></tr>\n");
    size_t i;
    json_t *o;
    json_array_foreach(dec, i, o) {
        const char *st = str(o, "status");
        sl_buf_append_str(b, "<tr><td><a href=\"/review/item?id=");
        html_escape(b, str(o, "id"));
        sl_buf_append_str(b, "\">");
        html_escape(b, str(o, "id"));
        sl_buf_printf(b, "</a></td><td class=\"%s\">", !strcmp(st, "approved") ? "released"
                                                        : !strcmp(st, "denied") ? "denied"
                                                                                : "held");
        html_escape(b, st);
        sl_buf_append_str(b, "</td><td>");
        html_escape(b, str(o, "decided_by"));
        sl_buf_append_str(b, "</td><td>");
        html_escape(b, str(o, "decided"));
        sl_buf_append_str(b, "</td><td>");
        html_escape(b, str(o, "decision_reason"));
        sl_buf_append_str(b, "</td><td>");
        sl_buf_append_str(b, json_is_true(json_object_get(o, "sent")) ? "sent" : "pending");
        sl_buf_append_str(b, "</td></tr>\n");
    }
    sl_buf_append_str(b, "</table></div>\n");
}

static int page(struct ctx *x, const char *title, json_t *j,
                void (*render)(struct sl_buf *, json_t *, const char *, const char *),
                const char *msg, unsigned status)
{
    if (http_req_api(x))
        return http_req_json(x, status, j);
    const struct http_session *s = http_req_session(x);
    struct sl_buf b = SL_BUF_INIT;
    html_begin(&b, http_req_server(x)->cfg, title, s, s ? s->csrf : NULL);
    render(&b, j, msg, s ? s->csrf : "");
    html_end(&b);
    json_decref(j);
    return http_req_html(x, status, &b);
}

static void render_queue(struct sl_buf *b, json_t *j, const char *msg, const char *csrf)
{
    (void)msg;
    (void)csrf;
    html_queue(b, j);
}

int http_desk_queue(struct ctx *x)
{
    char err[600];
    struct sl_gw_desk *d = open_desk(x, err, sizeof err);
    if (!d)
        return http_req_fail(x, 500, err);
    json_t *j = queue_json(x, d, err, sizeof err);
    sl_gw_desk_close(d);
    if (!j)
        return http_req_fail(x, 500, err);
    http_req_audit(x, SL_AUDIT_LOG_READ, http_req_api(x) ? "GET /api/review" : "GET /review",
                   SL_AUDIT_OUT_OK, "review queue");
    return page(x, "Review desk", j, render_queue, NULL, 200);
}

/* ---- one request ---- */

/* The show JSON of one review; *status 404 or 500 with err when NULL. */
static json_t *item_json(struct ctx *x, struct sl_gw_desk *d, const char *id, unsigned *status,
                         char *err, size_t errlen)
{
    struct sl_buf out = SL_BUF_INIT;
    char e[300] = "";
    json_t *o = NULL;
    if (sl_gw_desk_show(d, id, 1, &out, e, sizeof e) != 0) {
        *status = !strncmp(e, "no review", 9) ? 404 : 500;
        snprintf(err, errlen, "%s", e);
    } else if (!(o = parse_out(&out))) {
        *status = 500;
        snprintf(err, errlen, "the desk's answer about %s does not read as JSON", id);
    } else {
        add_times(o, sl_wall_us());
        const struct sl_gw_config *cfg = http_req_server(x)->cfg;
        json_object_set_new(o, "in_state", json_boolean(!strcmp(str(o, "state"), cfg->state)));
    }
    sl_buf_free(&out);
    return o;
}

static void field_row(struct sl_buf *b, const char *label, const char *v)
{
    sl_buf_append_str(b, "<tr><th scope=\"row\">");
    sl_buf_append_str(b, label);
    sl_buf_append_str(b, "</th><td>");
    if (v && *v)
        html_escape(b, v);
    else
        sl_buf_append_str(b, "<span class=\"muted\">(not given)</span>");
    sl_buf_append_str(b, "</td></tr>\n");
}

static void render_item(struct sl_buf *b, json_t *o, const char *msg, const char *csrf)
{
    const char *id = str(o, "id"), *st = str(o, "status");
    int held = !strcmp(st, "held");
    sl_buf_append_str(b, "<p><a href=\"/review\">&larr; Review desk</a></p>\n<h1>Review ");
    html_escape(b, id);
    sl_buf_append_str(b, "</h1>\n");
    if (msg) {
        sl_buf_append_str(b, "<p class=\"error\" role=\"alert\">");
        html_escape(b, msg);
        sl_buf_append_str(b, "</p>\n");
    }
    sl_buf_printf(b, "<p>Status: <strong class=\"%s\">%s</strong>", held ? "" : "ok",
                  held ? "held for review" : "");
    if (!held)
        html_escape(b, st);
    sl_buf_append_str(b, ". Received ");
    html_escape(b, str(o, "received"));
    sl_buf_append_str(b, "; deadline ");
    html_escape(b, str(o, "deadline"));
    if (held && json_is_true(json_object_get(o, "overdue")))
        sl_buf_append_str(b, " (<strong>OVERDUE</strong>)");
    else if (held) {
        sl_buf_append_str(b, " (");
        html_escape(b, str(o, "time_left"));
        sl_buf_append_str(b, " left)");
    }
    sl_buf_append_str(b, !strcmp(str(o, "then"), "permit")
                             ? "; if nobody decides by then it is <strong>released</strong>"
                             : "; if nobody decides by then it is <strong>denied</strong>");
    sl_buf_append_str(b, ".</p>\n");
    if (!held) {
        sl_buf_append_str(b, "<p>Decided by ");
        html_escape(b, str(o, "decided_by"));
        sl_buf_append_str(b, " on ");
        html_escape(b, str(o, "decided"));
        sl_buf_append_str(b, ": &ldquo;");
        html_escape(b, str(o, "decision_reason"));
        sl_buf_append_str(b, "&rdquo;");
        if (json_array_size(json_object_get(o, "extra_redact"))) {
            sl_buf_append_str(b, "; also withheld: ");
            join(b, json_object_get(o, "extra_redact"), "");
        }
        sl_buf_append_str(b, json_is_true(json_object_get(o, "sent"))
                                 ? ". The reply has been sent to the requester.</p>\n"
                                 : ". The gateway sends the reply within a second.</p>\n");
    }
    sl_buf_append_str(b, "<h2>Who asked</h2>\n<p class=\"muted\">The request carries the "
                         "agency's ORI, type and parent agency; its name is in the switch's "
                         "directory (<code>stateline dir show ORI</code>).</p>\n<table>\n");
    field_row(b, "requester ORI", str(o, "ori"));
    field_row(b, "parent agency", str(o, "parent"));
    field_row(b, "agency type", str(o, "type"));
    field_row(b, "member line", str(o, "member"));
    char stt[64];
    snprintf(stt, sizeof stt, "%s (%s)", str(o, "state"),
             json_is_true(json_object_get(o, "in_state")) ? "in-state" : "out of state");
    field_row(b, "requester's state", stt);
    field_row(b, "directory tags", str(o, "tags"));
    field_row(b, "officer (ATN/)", str(o, "ATN"));
    sl_buf_append_str(b, "</table>\n<h2>What they asked and why</h2>\n<table>\n");
    field_row(b, "message key", str(o, "key"));
    field_row(b, "control field", str(o, "control"));
    field_row(b, "reason code (RSN/)", str(o, "RSN"));
    field_row(b, "purpose code (PUR/)", str(o, "PUR"));
    field_row(b, "case number (CAS/)", str(o, "CAS"));
    field_row(b, "legal process (LGP/)", str(o, "LGP"));
    field_row(b, "image requested (IMQ/)", str(o, "IMQ"));
    sl_buf_append_str(b, "<tr><th scope=\"row\">request text</th><td><code>");
    html_escape(b, str(o, "request_text"));
    sl_buf_append_str(b, "</code></td></tr>\n</table>\n<h2>What the policy says</h2>\n<p>Held "
                         "by rule ");
    rule_links(b, json_object_get(o, "rules"));
    /* "why" is "<rule>: <reason>" (the gateway's text): the rule is linked just before */
    const char *why = str(o, "why");
    const char *first = json_string_value(json_array_get(json_object_get(o, "rules"), 0));
    if (first && !strncmp(why, first, strlen(first)) && !strncmp(why + strlen(first), ": ", 2))
        why += strlen(first) + 2;
    sl_buf_append_str(b, ": ");
    html_escape(b, why);
    sl_buf_append_str(b, "</p>\n<table>\n<tr><th scope=\"row\">if approved, released</th><td "
                         "class=\"released\">");
    join(b, json_object_get(o, "would_release"), "nothing");
    sl_buf_append_str(b, "</td></tr>\n<tr><th scope=\"row\">withheld by the policy</th><td "
                         "class=\"redacted\">");
    if (str(o, "withheld_by")[0])
        html_escape(b, str(o, "withheld_by"));
    else
        join(b, json_object_get(o, "policy_withholds"), "nothing");
    sl_buf_append_str(b, "</td></tr>\n");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(o, "notices"), i, v) {
        sl_buf_printf(b, "<tr><th scope=\"row\">notice to the person</th><td>within %d %sdays "
                         "(rule ",
                      (int)json_integer_value(json_object_get(v, "days")),
                      json_is_true(json_object_get(v, "business")) ? "business " : "");
        html_escape(b, str(v, "rule"));
        sl_buf_append_str(b, ")</td></tr>\n");
    }
    json_array_foreach(json_object_get(o, "marks"), i, v) {
        sl_buf_append_str(b, "<tr><th scope=\"row\">mark on the reply</th><td>");
        html_escape(b, json_string_value(v));
        sl_buf_append_str(b, "</td></tr>\n");
    }
    sl_buf_append_str(b, "</table>\n<p class=\"muted\">Policy sha256 <code>");
    html_escape(b, str(o, "policy_sha256"));
    sl_buf_append_str(b, "</code></p>\n");
    if (!held)
        return;
    sl_buf_append_str(b, "<h2>Decide</h2>\n");
    if (json_is_true(json_object_get(o, "two_person"))) {
        if (json_is_string(json_object_get(o, "first_approval_by"))) {
            sl_buf_append_str(b, "<p><strong>First approval by ");
            html_escape(b, str(o, "first_approval_by"));
            sl_buf_append_str(b, ".</strong> A second, different reviewer's approval releases "
                                 "it (both reviewers' redactions apply).</p>\n");
        } else {
            sl_buf_append_str(b, "<p><strong>Two-person rule:</strong> your approval is "
                                 "recorded as the first; a second, different reviewer must "
                                 "approve before anything is released.</p>\n");
        }
    }
    sl_buf_append_str(b, "<form method=\"post\" action=\"/review/decide\">\n"
                         "<input type=\"hidden\" name=\"csrf\" value=\"");
    html_escape(b, csrf);
    sl_buf_append_str(b, "\"><input type=\"hidden\" name=\"id\" value=\"");
    html_escape(b, id);
    sl_buf_append_str(b, "\">\n<p><label for=\"reason\">Reason (required; it goes into the "
                         "audit log, and to the requester with a denial: write no personal "
                         "data)</label><textarea id=\"reason\" name=\"reason\" rows=\"3\" "
                         "cols=\"60\" maxlength=\"1000\" required></textarea></p>\n"
                         "<fieldset><legend>Withhold as well (approve with redaction)"
                         "</legend>\n");
    json_array_foreach(json_object_get(o, "would_release"), i, v) {
        const char *c = json_string_value(v);
        sl_buf_append_str(b, "<label class=\"check\"><input type=\"checkbox\" name=\"redact_");
        html_escape(b, c);
        sl_buf_append_str(b, "\" value=\"on\"> ");
        html_escape(b, c);
        sl_buf_append_str(b, "</label>\n");
    }
    if (!json_array_size(json_object_get(o, "would_release")))
        sl_buf_append_str(b, "<p>Nothing would be released.</p>\n");
    sl_buf_append_str(b, "</fieldset>\n<p class=\"actions\"><button type=\"submit\" "
                         "name=\"action\" value=\"approve\" id=\"approve\">Approve</button> "
                         "<button type=\"submit\" name=\"action\" value=\"deny\" id=\"deny\" "
                         "class=\"deny\">Deny</button></p>\n</form>\n<p class=\"muted\">A "
                         "decision is final; the gateway sends the reply within a second "
                         "and writes the decision to the audit log under your account's "
                         "name.</p>\n");
}

int http_desk_item(struct ctx *x)
{
    struct sl_http *h = http_req_server(x);
    const char *id = http_req_arg(x, "id");
    char err[600], why[200];
    if (!valid_id(h->cfg, id, 'R')) {
        snprintf(why, sizeof why, "id: a review number, e.g. %s-R12 (or 12)", h->cfg->state);
        return http_req_fail(x, 400, why);
    }
    struct sl_gw_desk *d = open_desk(x, err, sizeof err);
    if (!d)
        return http_req_fail(x, 500, err);
    unsigned status = 200;
    json_t *o = item_json(x, d, id, &status, err, sizeof err);
    sl_gw_desk_close(d);
    if (!o)
        return http_req_fail(x, status, err);
    snprintf(why, sizeof why, "id=%s", str(o, "id"));
    http_req_audit(x, SL_AUDIT_LOG_READ, http_req_api(x) ? "GET /api/review/item"
                                                         : "GET /review/item",
                   SL_AUDIT_OUT_OK, why);
    return page(x, str(o, "id"), o, render_item, NULL, 200);
}

/* ---- deciding ---- */

/* The classes the reviewer withholds too: `redact` = "photo,address" and/or one field
 * redact_<class> per class (the form's check boxes).  -1 with why. */
static int redactions(struct ctx *x, uint32_t *mask, char *why, size_t len)
{
    char v[400];
    *mask = 0;
    int r = http_req_field(x, "redact", v, sizeof v);
    if (r < 0) {
        snprintf(why, len, "redact: given twice or not decodable");
        return -1;
    }
    if (r == 1) {
        char *save = NULL;
        for (char *t = strtok_r(v, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            int c = sl_policy_dc_lookup(t);
            if (c < 0) {
                snprintf(why, len, "redact: unknown data class '%.40s' (identity, photo, ssn, "
                         "address, dob, description, license, history, vehicle, owner, "
                         "owner-address)", t);
                return -1;
            }
            *mask |= SL_DC_BIT(c);
        }
    }
    for (int c = 0; c < SL_DC_COUNT; c++) {
        char name[48];
        snprintf(name, sizeof name, "redact_%s", sl_policy_dc_name(c));
        r = http_req_field(x, name, v, sizeof v);
        if (r < 0) {
            snprintf(why, len, "%s: given twice or not decodable", name);
            return -1;
        }
        if (r == 1 && v[0] && strcmp(v, "on") && strcmp(v, "1") && strcmp(v, "yes")) {
            snprintf(why, len, "%s: on (or leave it out)", name);
            return -1;
        }
        if (r == 1 && v[0])
            *mask |= SL_DC_BIT(c);
    }
    return 0;
}

int http_desk_decide(struct ctx *x)
{
    struct sl_http *h = http_req_server(x);
    const struct http_session *s = http_req_session(x);
    char id[40], action[16], reason[1200], why[300], err[600];
    int ri = http_req_field(x, "id", id, sizeof id);
    int ra = http_req_field(x, "action", action, sizeof action);
    int rr = http_req_field(x, "reason", reason, sizeof reason);
    uint32_t extra = 0;
    if (ri != 1 || !valid_id(h->cfg, id, 'R')) {
        snprintf(why, sizeof why, "id: a review number, e.g. %s-R12 (or 12)", h->cfg->state);
        return http_req_fail(x, 400, why);
    }
    if (ra != 1 || (strcmp(action, "approve") && strcmp(action, "deny")))
        return http_req_fail(x, 400, "action: approve or deny");
    int approve = !strcmp(action, "approve");
    if (redactions(x, &extra, why, sizeof why) != 0)
        return http_req_fail(x, 400, why);
    if (!approve && extra)
        return http_req_fail(x, 400, "redact: belongs to approve (a denial releases nothing)");
    /* the reason: required, and no blank-only text */
    size_t rl = rr == 1 ? strlen(reason) : 0;
    int blank = 1;
    for (size_t i = 0; i < rl; i++)
        blank &= reason[i] == ' ' || reason[i] == '\t' || reason[i] == '\r' ||
                 reason[i] == '\n';
    const char *reason_error = rr < 0    ? "reason: given twice or not decodable"
                               : blank  ? "reason: a written reason is required (it goes "
                                          "into the audit log; with a denial, to the "
                                          "requester too)"
                               : rl > 1000 ? "reason: at most 1000 characters"
                                          : NULL;
    struct sl_gw_desk *d = open_desk(x, err, sizeof err);
    if (!d)
        return http_req_fail(x, 500, err);
    int rc = -1;
    unsigned status = 400;
    struct sl_buf out = SL_BUF_INIT;
    if (reason_error) {
        snprintf(err, sizeof err, "%s", reason_error);
    } else {
        /* The same call as `stateline review approve|deny`: the account is the reviewer. */
        for (char *p = reason; *p; p++)
            if (*p == '\r' || *p == '\n' || *p == '\t')
                *p = ' ';
        rc = sl_gw_desk_decide(d, id, approve, s->user, extra, reason, &out, err, sizeof err);
        status = rc >= 0 ? 200 : !strncmp(err, "no review", 9) ? 404
                                 : !strncmp(err, "gateway.db", 10) ? 500
                                                                   : 409;
    }
    char text[300];
    snprintf(text, sizeof text, "%s %s: %.200s", action, id,
             rc == 0 ? "decided" : rc == 1 ? "first approval" : err);
    http_req_audit(x, SL_AUDIT_ADMIN, "review-decide", rc >= 0 ? SL_AUDIT_OUT_OK
                                                               : SL_AUDIT_OUT_FAILED, text);
    if (rc < 0 && !http_req_api(x)) {
        /* show the request again, with the reason it was refused */
        unsigned st2 = 200;
        json_t *o = valid_id(h->cfg, id, 'R') ? item_json(x, d, id, &st2, why, sizeof why)
                                              : NULL;
        sl_gw_desk_close(d);
        sl_buf_free(&out);
        if (!o)
            return http_req_fail(x, status, err);
        return page(x, str(o, "id"), o, render_item, err, status);
    }
    unsigned st2 = 200;
    json_t *o = rc >= 0 ? item_json(x, d, id, &st2, why, sizeof why) : NULL;
    sl_gw_desk_close(d);
    if (rc < 0) {
        sl_buf_free(&out);
        json_decref(o);
        return http_req_fail(x, status, err);
    }
    if (!http_req_api(x)) {
        json_decref(o);
        sl_buf_free(&out);
        char to[80];
        snprintf(to, sizeof to, "/review/item?id=%s", id);
        return http_req_redirect(x, to);
    }
    json_t *j = json_pack("{s:s, s:s, s:b, s:s%}", "id", o ? str(o, "id") : id, "result",
                          rc == 1 ? "first-approval" : approve ? "approved" : "denied",
                          "final", rc == 0, "message", sl_buf_used(&out) ? (const char *)sl_buf_head(&out) : "",
                          sl_buf_used(&out) ? sl_buf_used(&out) - 1 : 0);
    if (o)
        json_object_set_new(j, "review", o);
    sl_buf_free(&out);
    return http_req_json(x, 200, j);
}

/* ---- notices ---- */

static void render_notices(struct sl_buf *b, json_t *j, const char *msg, const char *csrf)
{
    (void)msg;
    json_t *a = json_object_get(j, "notices");
    const char *which = str(j, "which");
    sl_buf_append_str(b, "<p><a href=\"/review\">&larr; Review desk</a></p>\n<h1>Notices to "
                         "the person</h1>\n<p>When a policy says so, the person whose record "
                         "was released is told, by letter, within the days the rule names. "
                         "The letter names the agency and the kinds of information released, "
                         "never the values.</p>\n<form class=\"filters\" method=\"get\" "
                         "action=\"/review/notices\"><label for=\"which\">Show<select "
                         "id=\"which\" name=\"which\">");
    static const char *const w[] = {"unsent", "due", "overdue", "all"};
    static const char *const wl[] = {"unsent (due and overdue)", "due, not yet overdue",
                                     "overdue", "all, sent ones too"};
    for (int i = 0; i < 4; i++)
        sl_buf_printf(b, "<option value=\"%s\"%s>%s</option>", w[i],
                      !strcmp(w[i], which) ? " selected" : "", wl[i]);
    sl_buf_append_str(b, "</select></label><button type=\"submit\">Show</button></form>\n");
    if (!json_array_size(a)) {
        sl_buf_append_str(b, "<p>No notice in this list.</p>\n");
    } else {
        sl_buf_append_str(b, "<div class=\"scroll\"><table><caption>Notices</caption><tr>"
                             "<th scope=\"col\">notice</th><th scope=\"col\">due</th>"
                             "<th scope=\"col\">status</th><th scope=\"col\">requester</th>"
                             "<th scope=\"col\">key</th><th scope=\"col\">rule</th>"
                             "<th scope=\"col\">review</th><th scope=\"col\">released</th>"
                             "<th scope=\"col\">letter</th></tr>\n");
        size_t i;
        json_t *o;
        json_array_foreach(a, i, o) {
            const char *st = str(o, "status");
            sl_buf_append_str(b, "<tr><td>");
            html_escape(b, str(o, "id"));
            sl_buf_append_str(b, "</td><td>");
            html_escape(b, str(o, "due"));
            sl_buf_printf(b, "</td><td class=\"%s\">", !strcmp(st, "OVERDUE") ? "denied"
                                                        : !strcmp(st, "sent") ? "released"
                                                                              : "held");
            html_escape(b, st);
            sl_buf_append_str(b, "</td><td>");
            requester_cell(b, o);
            sl_buf_append_str(b, "</td><td>");
            html_escape(b, str(o, "key"));
            sl_buf_append_str(b, "</td><td><a href=\"/briefing#rule-");
            html_escape(b, str(o, "rule"));
            sl_buf_append_str(b, "\">");
            html_escape(b, str(o, "rule"));
            sl_buf_append_str(b, "</a></td><td>");
            if (str(o, "review")[0]) {
                sl_buf_append_str(b, "<a href=\"/review/item?id=");
                html_escape(b, str(o, "review"));
                sl_buf_append_str(b, "\">");
                html_escape(b, str(o, "review"));
                sl_buf_append_str(b, "</a>");
            } else {
                sl_buf_append_str(b, "-");
            }
            sl_buf_append_str(b, "</td><td>");
            join(b, json_object_get(o, "released"), "nothing");
            sl_buf_append_str(b, "</td><td><a href=\"/review/letter?id=");
            html_escape(b, str(o, "id"));
            sl_buf_append_str(b, "\" aria-label=\"the letter of notice ");
            html_escape(b, str(o, "id"));
            sl_buf_append_str(b, "\">");
            sl_buf_append_str(b, !strcmp(st, "sent") ? "letter sent" : "read the letter");
            sl_buf_append_str(b, "</a></td></tr>\n");
        }
        sl_buf_append_str(b, "</table></div>\n");
    }
    sl_buf_append_str(b, "<h2>Send the letters</h2>\n<form method=\"post\" "
                         "action=\"/review/notices/send\"><input type=\"hidden\" "
                         "name=\"csrf\" value=\"");
    html_escape(b, csrf);
    sl_buf_append_str(b, "\"><p>Write the letter of every unsent notice (text and HTML, with "
                         "the person's name and address from the records) into the "
                         "gateway's outbox for the post room, and mark each sent "
                         "(<code>stateline review notices send</code>).</p><p><button "
                         "type=\"submit\" id=\"send\">Write the letters and mark them sent"
                         "</button></p></form>\n");
}

static json_t *notices_json(struct ctx *x, struct sl_gw_desk *d, int which, char *err,
                            size_t errlen)
{
    static const char *const names[] = {"unsent", "due", "overdue", "all"};
    struct sl_buf out = SL_BUF_INIT;
    json_t *a = NULL;
    if (sl_gw_desk_notices(d, which, 1, sl_wall_us() / 1000000, &out) != 0 ||
        !(a = parse_out(&out))) {
        snprintf(err, errlen, "cannot read the notices: %.*s", (int)sl_buf_used(&out),
                 sl_buf_used(&out) ? (const char *)sl_buf_head(&out) : "");
        sl_buf_free(&out);
        return NULL;
    }
    sl_buf_free(&out);
    /* the letter's path in the outbox is the gateway's business, not the page's */
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o) json_object_del(o, "letter");
    (void)x;
    return json_pack("{s:s, s:o}", "which", names[which], "notices", a);
}

int http_desk_notices(struct ctx *x)
{
    const char *w = http_req_arg(x, "which");
    int which = 0;
    if (w && *w) {
        if (!strcmp(w, "unsent"))
            which = 0;
        else if (!strcmp(w, "due"))
            which = 1;
        else if (!strcmp(w, "overdue"))
            which = 2;
        else if (!strcmp(w, "all"))
            which = 3;
        else
            return http_req_fail(x, 400, "which: unsent, due, overdue or all");
    }
    char err[600];
    struct sl_gw_desk *d = open_desk(x, err, sizeof err);
    if (!d)
        return http_req_fail(x, 500, err);
    json_t *j = notices_json(x, d, which, err, sizeof err);
    sl_gw_desk_close(d);
    if (!j)
        return http_req_fail(x, 500, err);
    char t[40];
    snprintf(t, sizeof t, "which=%s", str(j, "which"));
    http_req_audit(x, SL_AUDIT_LOG_READ, http_req_api(x) ? "GET /api/review/notices"
                                                         : "GET /review/notices",
                   SL_AUDIT_OUT_OK, t);
    return page(x, "Notices to the person", j, render_notices, NULL, 200);
}

static void render_letter(struct sl_buf *b, json_t *j, const char *msg, const char *csrf)
{
    (void)msg;
    (void)csrf;
    sl_buf_append_str(b, "<p><a href=\"/review/notices\">&larr; Notices</a></p>\n<h1>Letter "
                         "of notice ");
    html_escape(b, str(j, "id"));
    sl_buf_append_str(b, "</h1>\n<p>");
    sl_buf_append_str(b, json_is_true(json_object_get(j, "sent"))
                             ? "This is the letter as it was written to the outbox."
                             : "Not sent yet: this is the letter as it would be written now "
                               "(the name and address are looked up in the records when it "
                               "is sent).");
    sl_buf_append_str(b, " It holds the person's name and address: it is shown to reviewers "
                         "only, and each reading is in the audit log.</p>\n<pre "
                         "class=\"letter\">");
    html_escape(b, str(j, "text"));
    sl_buf_append_str(b, "</pre>\n");
}

int http_desk_letter(struct ctx *x)
{
    struct sl_http *h = http_req_server(x);
    const char *id = http_req_arg(x, "id");
    char err[600], why[120];
    if (!valid_id(h->cfg, id, 'N')) {
        snprintf(why, sizeof why, "id: a notice number, e.g. %s-N7 (or 7)", h->cfg->state);
        return http_req_fail(x, 400, why);
    }
    struct sl_gw_desk *d = open_desk(x, err, sizeof err);
    if (!d)
        return http_req_fail(x, 500, err);
    struct sl_buf txt = SL_BUF_INIT;
    int rc = sl_gw_desk_letter(d, id, SENDER, &txt, err, sizeof err);
    sl_gw_desk_close(d);
    if (rc < 0) {
        sl_buf_free(&txt);
        return http_req_fail(x, !strncmp(err, "no notice", 9) ? 404 : 409, err);
    }
    char nid[40];
    const char *num = strchr(id, '-') ? id + 4 : id;
    snprintf(nid, sizeof nid, "%s-N%s", h->cfg->state, num);
    snprintf(why, sizeof why, "letter of notice %s", nid);
    http_req_audit(x, SL_AUDIT_LOG_READ, http_req_api(x) ? "GET /api/review/letter"
                                                         : "GET /review/letter",
                   SL_AUDIT_OUT_OK, why);
    json_t *j = json_pack("{s:s, s:b, s:s%}", "id", nid, "sent", rc == 1, "text",
                          sl_buf_used(&txt) ? (const char *)sl_buf_head(&txt) : "",
                          sl_buf_used(&txt));
    sl_buf_free(&txt);
    return page(x, nid, j, render_letter, NULL, 200);
}

int http_desk_send(struct ctx *x)
{
    struct sl_http *h = http_req_server(x);
    char err[600], box[SL_GW_PATH_MAX + 16];
    snprintf(box, sizeof box, "%s/outbox", h->cfg->data_dir);
    struct sl_gw_desk *d = open_desk(x, err, sizeof err);
    if (!d)
        return http_req_fail(x, 500, err);
    struct sl_buf out = SL_BUF_INIT;
    int n = 0;
    err[0] = 0;
    int rc = sl_gw_desk_send(d, box, SENDER, &out, &n, err, sizeof err);
    char text[200];
    snprintf(text, sizeof text, "%d letter%s written%s%.100s", n, n == 1 ? "" : "s",
             rc ? "; stopped: " : "", rc ? err : "");
    http_req_audit(x, SL_AUDIT_ADMIN, "notices-send", rc ? SL_AUDIT_OUT_FAILED
                                                         : SL_AUDIT_OUT_OK, text);
    if (rc != 0) {
        sl_gw_desk_close(d);
        sl_buf_free(&out);
        return http_req_fail(x, 500, err);
    }
    if (!http_req_api(x)) {
        sl_gw_desk_close(d);
        sl_buf_free(&out);
        return http_req_redirect(x, "/review/notices?which=all");
    }
    json_t *j = json_pack("{s:i, s:s%}", "letters", n, "output",
                          sl_buf_used(&out) ? (const char *)sl_buf_head(&out) : "",
                          sl_buf_used(&out));
    sl_gw_desk_close(d);
    sl_buf_free(&out);
    return http_req_json(x, 200, j);
}
