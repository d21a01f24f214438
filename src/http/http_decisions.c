/*
 * http_decisions.c - "which rule decided this query?": the recent decisions of the
 * policy, from the audit log (docs/http-api.md §10).
 *
 *   GET /decisions, /api/decisions
 *       from, to      UTC days, to inclusive (default: the last 7 days up to today)
 *       agency        a parent agency or its prefix (DHS/ICE), or an ORI (9 characters)
 *       key           DQ DQG DNQ KQ RQ RQG RNQ RPQ
 *       outcome       released, redacted, denied, held, timed-out (the query's result:
 *                     after review when it was reviewed)
 *       rule          a rule id: only the decisions that rule took part in
 *       q             a query's reference (WA-1764...-12) or control field (R-00000003)
 *       limit         rows shown, newest first (1..1000, default 100)
 *
 * One pass over the log.  Each query has one DECISION entry (the requester, the key, the
 * effect, the rule ids, the policy's hash), written before any record is read; its result
 * is on the entries with the same reference that follow: HOLD (held), RELEASE (released
 * or redacted), REVIEW (the reviewer's result, or timed-out).  The page joins them by
 * reference.  Memory is bounded: at most ROW_CAP matching decisions are kept (the newest);
 * the answer says when older ones of the period were left out.
 *
 * Personal data: none.  A decision row has the requester's ORI and agency, the key, the
 * control field and the log's reference, the rule ids and the outcome.  The log holds no
 * search values; the officer's name (ATN/) and the case and legal-process numbers of the
 * query entry are not shown here, to any role (a reviewer sees them on the review desk,
 * for the requests held for review, where they are needed to decide).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_int.h"
#include "stateline/core.h"
#include "stateline/policy.h"

#define DAY_US INT64_C(86400000000)
#define ROW_CAP 20000

struct drow {
    int64_t time_us;
    char ref[48], control[24];
    char ori[12], member[8], parent[48], type[4], state[4], key[4];
    uint8_t effect;
    uint8_t outcome;       /* at decision time: denied / held / released / redacted */
    uint8_t after;         /* after review: released / redacted / denied / timed-out */
    char review[24];       /* WA-R12 */
    char rules[8][64];
    int nrules;
    char hash[13];         /* first 12 hex digits of the policy's sha256 */
    char text[120];
};

struct dscan {
    const struct http_filter *f;
    const char *rule, *q;
    int ori_filter;        /* f->agency is an ORI */
    struct drow *rows;
    size_t n, cap;
    uint64_t matched, dropped, bad;
    char last_ref[48], last_control[24]; /* the QUERY entry just before its DECISION */
};

static void cpy(char *out, size_t cap, const struct sl_audit_str *s)
{
    size_t n = s->p ? (s->len < cap - 1 ? s->len : cap - 1) : 0;
    if (n)
        memcpy(out, s->p, n);
    out[n] = 0;
}

static int str_is(const struct sl_audit_str *s, const char *v)
{
    return s->p && s->len == strlen(v) && !memcmp(s->p, v, s->len);
}

static int decision_matches(const struct dscan *s, const struct sl_audit_entry *e)
{
    const struct http_filter *f = s->f;
    if (f->agency[0]) {
        if (s->ori_filter) {
            if (!str_is(&e->ori, f->agency))
                return 0;
        } else {
            size_t n = strlen(f->agency);
            if (!e->parent.p || e->parent.len < n || memcmp(e->parent.p, f->agency, n) ||
                (e->parent.len > n && f->agency[n - 1] != '/' && e->parent.p[n] != '/'))
                return 0;
        }
    }
    if (f->key[0] && !str_is(&e->key, f->key))
        return 0;
    if (s->rule) {
        int any = 0;
        for (int i = 0; i < e->rules.n && !any; i++)
            any = str_is(&e->rules.item[i], s->rule);
        if (!any)
            return 0;
    }
    return 1;
}

/* The newest row with this reference (results follow their decision closely; a review
 * may come days later, hence the whole search when needed). */
static struct drow *find(struct dscan *s, const struct sl_audit_str *ref)
{
    for (size_t i = s->n; i-- > 0;)
        if (str_is(ref, s->rows[i].ref))
            return &s->rows[i];
    return NULL;
}

static int on_entry(uint64_t index, const uint8_t *p, size_t len, void *arg)
{
    struct dscan *s = arg;
    struct sl_audit_entry e;
    char err[100];
    (void)index;
    if (sl_audit_decode(p, len, &e, err, sizeof err) != 0) {
        s->bad++;
        return 0;
    }
    if (e.time_us < s->f->from_us || e.time_us >= s->f->to_us + 30 * DAY_US)
        return 0; /* results may follow their decision by the review's deadline */
    if (e.type == SL_AUDIT_QUERY) {
        cpy(s->last_ref, sizeof s->last_ref, &e.ref);
        cpy(s->last_control, sizeof s->last_control, &e.control);
        return 0;
    }
    if (e.type == SL_AUDIT_DECISION) {
        if (e.time_us >= s->f->to_us || !decision_matches(s, &e))
            return 0;
        s->matched++;
        if (s->n == s->cap) {
            if (s->cap < ROW_CAP) {
                s->cap = s->cap ? s->cap * 2 : 256;
                s->rows = sl_xrealloc(s->rows, s->cap * sizeof *s->rows);
            } else {
                /* keep the newest: drop the oldest half */
                size_t half = s->n / 2;
                memmove(s->rows, s->rows + half, (s->n - half) * sizeof *s->rows);
                s->n -= half;
                s->dropped += half;
            }
        }
        struct drow *r = &s->rows[s->n++];
        memset(r, 0, sizeof *r);
        r->time_us = e.time_us;
        cpy(r->ref, sizeof r->ref, &e.ref);
        if (!strcmp(r->ref, s->last_ref))
            sl_strlcpy(r->control, s->last_control, sizeof r->control);
        cpy(r->ori, sizeof r->ori, &e.ori);
        cpy(r->member, sizeof r->member, &e.member);
        cpy(r->parent, sizeof r->parent, &e.parent);
        cpy(r->type, sizeof r->type, &e.agency_type);
        cpy(r->state, sizeof r->state, &e.req_state);
        cpy(r->key, sizeof r->key, &e.key);
        cpy(r->text, sizeof r->text, &e.text);
        r->effect = e.effect;
        for (int i = 0; i < e.rules.n && r->nrules < 8; i++)
            cpy(r->rules[r->nrules++], sizeof r->rules[0], &e.rules.item[i]);
        char hex[65];
        sl_audit_hex(e.policy_hash, 32, hex);
        memcpy(r->hash, hex, 12);
        r->hash[12] = 0;
        if (e.present & SL_AF_BIT(SL_AF_OUTCOME))
            r->outcome = e.outcome;
        return 0;
    }
    if (e.type != SL_AUDIT_HOLD && e.type != SL_AUDIT_RELEASE && e.type != SL_AUDIT_REVIEW)
        return 0;
    if (!(e.present & SL_AF_BIT(SL_AF_OUTCOME)) || !e.ref.p)
        return 0;
    struct drow *r = find(s, &e.ref);
    if (!r)
        return 0;
    int o = e.outcome;
    if (e.type == SL_AUDIT_REVIEW) {
        if (o == SL_AUDIT_OUT_RELEASED || o == SL_AUDIT_OUT_REDACTED ||
            o == SL_AUDIT_OUT_DENIED || o == SL_AUDIT_OUT_TIMED_OUT)
            r->after = (uint8_t)o;
        cpy(r->review, sizeof r->review, &e.notice_id);
    } else if (e.type == SL_AUDIT_HOLD) {
        r->outcome = (uint8_t)o;
        cpy(r->review, sizeof r->review, &e.notice_id);
    } else if (!r->outcome && (o == SL_AUDIT_OUT_RELEASED || o == SL_AUDIT_OUT_REDACTED ||
                               o == SL_AUDIT_OUT_DENIED)) {
        r->outcome = (uint8_t)o;
    }
    return 0;
}

/* The query's result: after review when reviewed, else at decision time. */
static int result_of(const struct drow *r)
{
    return r->after ? r->after : r->outcome;
}

static int valid_rule_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return 0;
    return 1;
}

static int valid_q(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 47)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return 0;
    return 1;
}

/* ---- HTML ---- */

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void opt(struct sl_buf *b, const char *v, const char *cur, const char *label)
{
    sl_buf_append_str(b, "<option value=\"");
    html_escape(b, v);
    sl_buf_printf(b, "\"%s>", !strcmp(v, cur) ? " selected" : "");
    html_escape(b, label ? label : v);
    sl_buf_append_str(b, "</option>");
}

static void html_decisions(struct sl_buf *b, json_t *j)
{
    json_t *f = json_object_get(j, "filter");
    json_t *rows = json_object_get(j, "decisions");
    json_t *inforce = json_object_get(j, "rules_in_force");
    sl_buf_append_str(b, "<h1>Decisions and the rules that made them</h1>\n<p>Each query "
                         "the state received, newest first, with the policy's decision and "
                         "the rule(s) that made it (each links to the rule in plain words on "
                         "the briefing). From the audit log's decision entries; no personal "
                         "data is shown.</p>\n<form class=\"filters\" method=\"get\" "
                         "action=\"/decisions\">\n<label for=\"from\">From<input id=\"from\" "
                         "name=\"from\" type=\"date\" value=\"");
    html_escape(b, str(f, "from"));
    sl_buf_append_str(b, "\"></label>\n<label for=\"to\">To<input id=\"to\" name=\"to\" "
                         "type=\"date\" value=\"");
    html_escape(b, str(f, "to"));
    sl_buf_append_str(b, "\"></label>\n<label for=\"outcome\">Outcome<select id=\"outcome\" "
                         "name=\"outcome\">");
    static const char *const outs[] = {"", "released", "redacted", "denied", "held",
                                       "timed-out"};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        opt(b, outs[i], str(f, "outcome"), outs[i][0] ? NULL : "all");
    sl_buf_append_str(b, "</select></label>\n<label for=\"agency\">Agency (parent or ORI)"
                         "<input id=\"agency\" name=\"agency\" placeholder=\"DHS/ICE\" "
                         "value=\"");
    html_escape(b, str(f, "agency"));
    sl_buf_append_str(b, "\"></label>\n<label for=\"key\">Key<select id=\"key\" name=\"key\">");
    static const char *const keys[] = {"", "DQ", "DQG", "DNQ", "KQ", "RQ", "RQG", "RNQ", "RPQ"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        opt(b, keys[i], str(f, "key"), keys[i][0] ? NULL : "all");
    sl_buf_append_str(b, "</select></label>\n<label for=\"rule\">Rule<select id=\"rule\" "
                         "name=\"rule\">");
    opt(b, "", str(f, "rule"), "any");
    size_t i;
    json_t *v;
    int listed = 0;
    json_array_foreach(inforce, i, v) {
        opt(b, json_string_value(v), str(f, "rule"), NULL);
        listed |= !strcmp(json_string_value(v), str(f, "rule"));
    }
    if (!listed && str(f, "rule")[0])
        opt(b, str(f, "rule"), str(f, "rule"), NULL);
    sl_buf_append_str(b, "</select></label>\n<label for=\"q\">Query reference or control"
                         "<input id=\"q\" name=\"q\" value=\"");
    html_escape(b, str(f, "q"));
    sl_buf_append_str(b, "\"></label>\n<button type=\"submit\">Show</button></form>\n");
    sl_buf_printf(b, "<p>%" JSON_INTEGER_FORMAT " decision%s in the period match",
                  json_integer_value(json_object_get(j, "matched")),
                  json_integer_value(json_object_get(j, "matched")) == 1 ? "" : "s");
    sl_buf_printf(b, "; %zu shown, newest first", json_array_size(rows));
    if (json_is_true(json_object_get(j, "truncated")))
        sl_buf_append_str(b, " (older ones of the period are left out: narrow the dates or "
                             "the filters)");
    sl_buf_append_str(b, ".</p>\n");
    if (!json_array_size(rows)) {
        sl_buf_append_str(b, "<p>No decision matches.</p>\n");
        return;
    }
    sl_buf_append_str(b, "<div class=\"scroll\"><table class=\"decisions stack\"><caption>Decisions"
                         "</caption><tr><th scope=\"col\">time (UTC)</th><th scope=\"col\">"
                         "requester</th><th scope=\"col\">key</th><th scope=\"col\">outcome"
                         "</th><th scope=\"col\">rule(s)</th><th scope=\"col\">query</th>"
                         "</tr>\n");
    json_array_foreach(rows, i, v) {
        const char *o = str(v, "outcome");
        sl_buf_append_str(b, "<tr><td data-label=\"time (UTC)\">");
        html_escape(b, str(v, "time"));
        sl_buf_append_str(b, "</td><td data-label=\"requester\"><code>");
        html_escape(b, str(v, "ori"));
        sl_buf_append_str(b, "</code><br><small>");
        html_escape(b, str(v, "parent")[0] ? str(v, "parent") : "no parent agency");
        sl_buf_append_str(b, " &middot; ");
        html_escape(b, str(v, "type"));
        sl_buf_append_str(b, " &middot; ");
        html_escape(b, str(v, "state"));
        sl_buf_append_str(b, "</small></td><td data-label=\"key\">");
        html_escape(b, str(v, "key"));
        sl_buf_printf(b, "</td><td data-label=\"outcome\" class=\"%s\">",
                      !strcmp(o, "timed-out") ? "denied" : o[0] ? o : "held");
        html_escape(b, o[0] ? o : "(no result logged)");
        if (str(v, "review")[0]) {
            sl_buf_append_str(b, "<br><small>review ");
            html_escape(b, str(v, "review"));
            if (str(v, "decided_at_first")[0]) {
                sl_buf_append_str(b, ", first ");
                html_escape(b, str(v, "decided_at_first"));
            }
            sl_buf_append_str(b, "</small>");
        }
        sl_buf_append_str(b, "</td><td data-label=\"rule(s)\">");
        size_t k;
        json_t *r;
        json_t *rl = json_object_get(v, "rules");
        json_array_foreach(rl, k, r) {
            if (k)
                sl_buf_append_str(b, ", ");
            const char *id = json_string_value(r);
            int here = 0;
            size_t m;
            json_t *w;
            json_array_foreach(inforce, m, w) here |= !strcmp(json_string_value(w), id);
            if (here) {
                sl_buf_append_str(b, "<a href=\"/briefing#rule-");
                html_escape(b, id);
                sl_buf_append_str(b, "\">");
                html_escape(b, id);
                sl_buf_append_str(b, "</a><br><small>");
                html_escape(b, str(json_object_get(j, "rule_reasons"), id));
                sl_buf_append_str(b, "</small>");
            } else {
                html_escape(b, id);
                sl_buf_append_str(b, " <small>(not in the policy in force)</small>");
            }
        }
        if (!json_array_size(rl)) {
            sl_buf_append_str(b, "<small>");
            html_escape(b, str(v, "note")[0] ? str(v, "note") : "the policy's default");
            sl_buf_append_str(b, "</small>");
        }
        sl_buf_append_str(b, "</td><td data-label=\"query\"><small>");
        html_escape(b, str(v, "control"));
        sl_buf_append_str(b, "<br><code>");
        html_escape(b, str(v, "ref"));
        sl_buf_append_str(b, "</code></small></td></tr>\n");
    }
    sl_buf_append_str(b, "</table></div>\n<p class=\"muted\">Outcome: the query's result "
                         "(for a request held for review, the reviewer's result, or "
                         "timed-out). A rule that is no longer in the policy in force is "
                         "named but not linked; the policy's hash on each row (JSON) says "
                         "which policy decided.</p>\n");
}

/* ---- the handler ---- */

int http_decisions(struct ctx *x)
{
    struct sl_http *h = http_req_server(x);
    struct http_filter f;
    char why[300], err[300];
    /* the filter parser's default period is a year; this page's is a week */
    const char *from = http_req_arg(x, "from");
    if (http_req_filter(x, &f, why, sizeof why) != 0)
        return http_req_fail(x, 400, why);
    if (!from || !*from) {
        f.from_us = f.to_us - 7 * DAY_US;
        time_t a = (time_t)(f.from_us / 1000000);
        struct tm ta;
        gmtime_r(&a, &ta);
        strftime(f.from, sizeof f.from, "%Y-%m-%d", &ta);
    }
    if (f.outcome == SL_AUDIT_OUT_NOTICED)
        return http_req_fail(x, 400, "outcome: one of released, redacted, denied, held, "
                                     "timed-out");
    const char *rule = http_req_arg(x, "rule"), *q = http_req_arg(x, "q"),
               *lim = http_req_arg(x, "limit");
    if (rule && !*rule)
        rule = NULL;
    if (q && !*q)
        q = NULL;
    if (rule && !valid_rule_id(rule))
        return http_req_fail(x, 400, "rule: a rule id (letters, digits, - _ ., up to 63)");
    if (q && !valid_q(q))
        return http_req_fail(x, 400, "q: a query reference (WA-1764000000000000-12) or a "
                                     "control field (letters, digits, - _ ., up to 47)");
    long limit = 100;
    if (lim && *lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (*end || limit < 1 || limit > 1000)
            return http_req_fail(x, 400, "limit: a number from 1 to 1000");
    }
    struct dscan s;
    memset(&s, 0, sizeof s);
    s.f = &f;
    s.rule = rule;
    s.q = q;
    /* an agency of 9 capitals and digits without '/' is an ORI */
    s.ori_filter = strlen(f.agency) == 9 && !strchr(f.agency, '/') && !strchr(f.agency, ' ');
    struct sl_audit_reader_cb cb = {on_entry, NULL, &s};
    if (sl_audit_read_dir(h->cfg->audit_dir, &cb, err, sizeof err) != 0) {
        free(s.rows);
        return http_req_fail(x, 500, err);
    }
    /* the rule ids of the policy in force, to link to the briefing */
    json_t *inforce = json_array(), *reasons = json_object();
    struct sl_policy *pol = sl_policy_slot_acquire(h->slot);
    if (pol) {
        int nr = sl_policy_nrules(pol);
        for (int i = 0; i < nr; i++) {
            struct sl_policy_rule_info ri;
            if (sl_policy_rule_info(pol, i, &ri) == 0) {
                json_array_append_new(inforce, json_string(ri.id));
                json_object_set_new(reasons, ri.id, json_string(ri.reason ? ri.reason : ""));
            }
        }
        sl_policy_unref(pol);
    }
    json_t *rows = json_array();
    uint64_t shown_matched = 0;
    for (size_t i = s.n; i-- > 0;) {
        struct drow *r = &s.rows[i];
        int res = result_of(r);
        if (f.outcome && res != f.outcome)
            continue;
        if (q && strcmp(q, r->ref) && strcmp(q, r->control))
            continue;
        shown_matched++;
        if ((long)json_array_size(rows) >= limit)
            continue;
        char t[32];
        time_t tt = (time_t)(r->time_us / 1000000);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S", &tm);
        json_t *rl = json_array();
        for (int k = 0; k < r->nrules; k++)
            json_array_append_new(rl, json_string(r->rules[k]));
        const char *on = sl_audit_outcome_name(res);
        json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, "
                              "s:s, s:s, s:s}",
                              "time", t, "time_us", (json_int_t)r->time_us, "ref", r->ref,
                              "control", r->control, "ori", r->ori, "member", r->member,
                              "parent", r->parent, "type", r->type, "state", r->state, "key",
                              r->key, "effect",
                              sl_audit_effect_name(r->effect) ? sl_audit_effect_name(r->effect)
                                                              : "",
                              "rules", rl, "outcome", res && on ? on : "", "policy_sha256_12",
                              r->hash, "note", r->text);
        if (r->after) {
            const char *dn = sl_audit_outcome_name(r->outcome);
            json_object_set_new(o, "decided_at_first", json_string(dn ? dn : ""));
        }
        if (r->review[0])
            json_object_set_new(o, "review", json_string(r->review));
        json_array_append_new(rows, o);
    }
    free(s.rows);
    json_t *fj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "from", f.from, "to",
                           f.to, "agency", f.agency, "key", f.key, "outcome",
                           f.outcome ? sl_audit_outcome_name(f.outcome) : "", "rule",
                           rule ? rule : "", "q", q ? q : "", "limit", (json_int_t)limit);
    json_t *j = json_pack("{s:s, s:o, s:I, s:b, s:o, s:o, s:o, s:I}", "state", h->cfg->state,
                          "filter", fj, "matched",
                          (json_int_t)((f.outcome || q) ? shown_matched : s.matched),
                          "truncated", s.dropped > 0 || (json_int_t)shown_matched > limit,
                          "decisions", rows, "rules_in_force", inforce, "rule_reasons",
                          reasons, "undecodable_entries",
                          (json_int_t)s.bad);
    char text[400];
    snprintf(text, sizeof text, "from=%s to=%s%s%s%s%s%s%s%s%s%s%s", f.from, f.to,
             f.agency[0] ? " agency=" : "", f.agency, f.key[0] ? " key=" : "", f.key,
             f.outcome ? " outcome=" : "", f.outcome ? sl_audit_outcome_name(f.outcome) : "",
             rule ? " rule=" : "", rule ? rule : "", q ? " q=" : "", q ? q : "");
    http_req_audit(x, SL_AUDIT_LOG_READ, http_req_api(x) ? "GET /api/decisions"
                                                         : "GET /decisions",
                   SL_AUDIT_OUT_OK, text);
    if (http_req_api(x))
        return http_req_json(x, 200, j);
    const struct http_session *ss = http_req_session(x);
    struct sl_buf b = SL_BUF_INIT;
    html_begin(&b, h->cfg, "Decisions", ss, ss ? ss->csrf : NULL);
    html_decisions(&b, j);
    html_end(&b);
    json_decref(j);
    return http_req_html(x, 200, &b);
}
