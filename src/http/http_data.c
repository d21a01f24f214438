/*
 * http_data.c - what the oversight desk shows, as JSON (docs/http-api.md has every field).
 *
 *   briefing  the policy in force in plain language; "who can see what", computed by
 *             running the policy in force (sl_policy_decide) on one representative request
 *             per requester class and data class (one query in every window of a rate
 *             rule: the answer within the limits); the last 12 months from the audit log;
 *             the rule history (policy-change entries).
 *   figures   the transparency report (sl_audit_report, the same as `stateline report`)
 *             for a period, and, when agency / key / outcome filters are given, the same
 *             counts over the entries that match them (one pass over the log).
 *   public    the aggregate tables of one month's report, nothing else.
 *   health    the latest signed checkpoint, the log's size, the last verification, and the
 *             commands an outside auditor runs.
 *
 * Nothing here reads personal data: the audit log's coded fields only.
 */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "http_int.h"
#include "stateline/core.h"
#include "stateline/policy.h"

#define DAY_US INT64_C(86400000000)

/* ---- CSV, as `stateline report --format csv` ---- */

static void csv_key(struct sl_buf *b, const char *k)
{
    if (strpbrk(k, ",\"\n")) {
        sl_buf_append_str(b, "\"");
        for (const char *p = k; *p; p++) {
            if (*p == '"')
                sl_buf_append_str(b, "\"");
            sl_buf_append(b, p, 1);
        }
        sl_buf_append_str(b, "\"");
    } else {
        sl_buf_append_str(b, k);
    }
}

void http_report_csv(json_t *r, struct sl_buf *b)
{
    sl_buf_append_str(b, "table,key,count\n");
    sl_buf_printf(b, "total,entries,%" JSON_INTEGER_FORMAT "\n",
                  json_integer_value(json_object_get(r, "entries")));
    sl_buf_printf(b, "total,queries,%" JSON_INTEGER_FORMAT "\n",
                  json_integer_value(json_object_get(r, "queries")));
    const char *k, *k2, *o;
    json_t *v, *v2, *n;
    json_object_foreach(r, k, v) {
        if (!json_is_object(v))
            continue;
        if (!strncmp(k, "outcomes_by_", 12)) {
            json_object_foreach(v, k2, v2) {
                json_object_foreach(v2, o, n) {
                    sl_buf_printf(b, "%s_%s,", o, k + 9);
                    csv_key(b, k2);
                    sl_buf_printf(b, ",%" JSON_INTEGER_FORMAT "\n", json_integer_value(n));
                }
            }
        } else {
            json_object_foreach(v, k2, v2) {
                sl_buf_printf(b, "%s,", k);
                csv_key(b, k2);
                sl_buf_printf(b, ",%" JSON_INTEGER_FORMAT "\n", json_integer_value(v2));
            }
        }
    }
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(r, "monthly"), i, row) {
        const char *month = json_string_value(json_object_get(row, "month"));
        json_object_foreach(row, k, v) {
            if (strcmp(k, "month"))
                sl_buf_printf(b, "monthly_%s,%s,%" JSON_INTEGER_FORMAT "\n", k,
                              month ? month : "", json_integer_value(v));
        }
    }
}

/* ---- one pass over the log ---- */

static void incr(json_t *obj, const char *k)
{
    json_t *v = json_object_get(obj, k);
    json_object_set_new(obj, k, json_integer(v ? json_integer_value(v) + 1 : 1));
}

static json_t *sub(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!v) {
        v = json_object();
        json_object_set_new(o, k, v);
    }
    return v;
}

static void str_of(const struct sl_audit_str *s, char *out, size_t cap)
{
    size_t n = s->len < cap - 1 ? s->len : cap - 1;
    memcpy(out, s->p ? s->p : "", s->p ? n : 0);
    out[s->p ? n : 0] = 0;
}

static void month_of(int64_t us, char out[8])
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 8, "%Y-%m", &tm);
}

static int is_requester_outcome(int o)
{
    return o == SL_AUDIT_OUT_RELEASED || o == SL_AUDIT_OUT_DENIED || o == SL_AUDIT_OUT_HELD ||
           o == SL_AUDIT_OUT_REDACTED || o == SL_AUDIT_OUT_NOTICED ||
           o == SL_AUDIT_OUT_TIMED_OUT;
}

struct scan {
    const struct http_filter *f;
    int64_t from_us, to_us;
    json_t *months;    /* "YYYY-MM" -> {queries, federal, <outcome>...} */
    json_t *by_parent; /* queries by parent agency */
    json_t *outcomes;
    json_t *out_by_parent; /* parent -> {outcome: n} */
    json_t *by_key;
    json_t *history;   /* policy changes (all time) */
    uint64_t queries, bad;
};

static int federal(const struct sl_audit_entry *e)
{
    return (e->present & SL_AF_BIT(SL_AF_AGENCY_TYPE)) && e->agency_type.len == 2 &&
           (!memcmp(e->agency_type.p, "FE", 2) || !memcmp(e->agency_type.p, "JF", 2));
}

static int matches(const struct scan *s, const struct sl_audit_entry *e)
{
    const struct http_filter *f = s->f;
    if (!f)
        return 1;
    if (f->agency[0]) {
        size_t n = strlen(f->agency);
        if (!(e->present & SL_AF_BIT(SL_AF_PARENT)) || e->parent.len < n ||
            memcmp(e->parent.p, f->agency, n) ||
            (e->parent.len > n && f->agency[n - 1] != '/' && e->parent.p[n] != '/'))
            return 0;
    }
    if (f->key[0] && (!(e->present & SL_AF_BIT(SL_AF_KEY)) || e->key.len != strlen(f->key) ||
                      memcmp(e->key.p, f->key, e->key.len)))
        return 0;
    return 1;
}

static int scan_entry(uint64_t index, const uint8_t *p, size_t len, void *arg)
{
    struct scan *s = arg;
    struct sl_audit_entry e;
    char err[100], parent[64], month[8];
    (void)index;
    if (sl_audit_decode(p, len, &e, err, sizeof err) != 0) {
        s->bad++;
        return 0;
    }
    if (e.type == SL_AUDIT_POLICY_CHANGE && s->history) {
        char actor[64] = "", approver[80] = "", text[200] = "", t[32], hb[65] = "", ha[65] = "";
        char basis[260] = "";
        str_of(&e.basis, basis, sizeof basis);
        str_of(&e.actor, actor, sizeof actor);
        str_of(&e.approver, approver, sizeof approver);
        str_of(&e.text, text, sizeof text);
        if (e.present & SL_AF_BIT(SL_AF_POLICY_BEFORE))
            sl_audit_hex(e.policy_before, 32, hb);
        if (e.present & SL_AF_BIT(SL_AF_POLICY_AFTER))
            sl_audit_hex(e.policy_after, 32, ha);
        time_t tt = (time_t)(e.time_us / 1000000);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S UTC", &tm);
        json_array_append_new(s->history,
                              json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "index",
                                        (json_int_t)e.seq, "time", t, "author", actor,
                                        "approver", approver, "before", hb, "after", ha,
                                        "text", text, "basis", basis));
    }
    if (e.time_us < s->from_us || e.time_us >= s->to_us)
        return 0;
    if (!matches(s, &e))
        return 0;
    month_of(e.time_us, month);
    str_of(&e.parent, parent, sizeof parent);
    if (!parent[0])
        sl_strlcpy(parent, "(none)", sizeof parent);
    if (e.type == SL_AUDIT_QUERY && !(s->f && s->f->outcome)) {
        s->queries++;
        json_t *m = sub(s->months, month);
        incr(m, "queries");
        if (federal(&e))
            incr(m, "federal");
        incr(s->by_parent, parent);
        char key[8];
        str_of(&e.key, key, sizeof key);
        incr(s->by_key, key[0] ? key : "(none)");
    }
    if ((e.present & SL_AF_BIT(SL_AF_OUTCOME)) && is_requester_outcome(e.outcome)) {
        if (s->f && s->f->outcome && s->f->outcome != e.outcome)
            return 0;
        const char *on = sl_audit_outcome_name(e.outcome);
        incr(s->outcomes, on);
        incr(sub(s->months, month), on);
        incr(sub(s->out_by_parent, parent), on);
        if (s->f && s->f->outcome) {
            /* with an outcome filter, "queries" counts the entries with that outcome */
            s->queries++;
            incr(sub(s->months, month), "queries");
            incr(s->by_parent, parent);
        }
    }
    return 0;
}

/* Run the scan over [from, to); months listed from the first to the last month of the
 * period, zeros included (a chart with gaps misleads). */
static json_t *run_scan(struct sl_http *h, const struct http_filter *f, int64_t from_us,
                        int64_t to_us, int with_history, char *err, size_t errlen)
{
    struct scan s;
    memset(&s, 0, sizeof s);
    s.f = f;
    s.from_us = from_us;
    s.to_us = to_us;
    s.months = json_object();
    s.by_parent = json_object();
    s.outcomes = json_object();
    s.out_by_parent = json_object();
    s.by_key = json_object();
    s.history = with_history ? json_array() : NULL;
    struct sl_audit_reader_cb cb = {scan_entry, NULL, &s};
    if (sl_audit_read_dir(h->cfg->audit_dir, &cb, err, errlen) != 0) {
        json_decref(s.months);
        json_decref(s.by_parent);
        json_decref(s.outcomes);
        json_decref(s.out_by_parent);
        json_decref(s.by_key);
        json_decref(s.history);
        return NULL;
    }
    json_t *rows = json_array();
    char m[8], last[8];
    month_of(from_us, m);
    month_of(to_us - 1, last);
    static const char *const names[] = {"queries", "federal", "released", "redacted",
                                        "denied", "held", "timed-out", "noticed"};
    for (int guard = 0; guard < 1200; guard++) {
        json_t *src = json_object_get(s.months, m);
        json_t *row = json_pack("{s:s}", "month", m);
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            json_t *v = src ? json_object_get(src, names[i]) : NULL;
            json_object_set_new(row, names[i], json_integer(v ? json_integer_value(v) : 0));
        }
        json_array_append_new(rows, row);
        if (!strcmp(m, last))
            break;
        int y = atoi(m), mo = atoi(m + 5);
        if (++mo > 12) {
            mo = 1;
            y++;
        }
        snprintf(m, sizeof m, "%04d-%02d", (y % 10000 + 10000) % 10000, (mo % 100 + 100) % 100);
    }
    json_decref(s.months);
    json_t *j = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:I}", "queries",
                          (json_int_t)s.queries, "monthly", rows, "queries_by_parent_agency",
                          s.by_parent, "outcomes", s.outcomes, "outcomes_by_parent_agency",
                          s.out_by_parent, "queries_by_key", s.by_key,
                          "undecodable_entries", (json_int_t)s.bad);
    if (s.history)
        json_object_set_new(j, "rule_history", s.history);
    return j;
}

/* ---- briefing ---- */

struct req_class {
    const char *id, *label;
    const char *ori_suffix; /* ORI = state prefix + suffix when in_state / other */
    const char *ori, *member, *type, *parent, *tags;
    int where;              /* 0 federal (fixed ORI), 1 in-state, 2 another state */
};

/* Representative requesters, as the generated directory has them (src/dir/gen_data.c). */
static const struct req_class req_classes[] = {
    {"in-state-police", "In-state police", "SP00000", NULL, NULL, "PD", "", "", 1},
    {"out-of-state-police", "Out-of-state police", "SP00000", NULL, NULL, "PD", "", "", 2},
    {"fbi", "FBI", NULL, "DCFBI0000", "DJ", "FE", "DOJ/FBI", "", 0},
    {"ice-ero", "ICE ERO (deportations)", NULL, "DCERO0000", "DH", "FE", "DHS/ICE/ERO",
     "immigration-enforcement", 0},
    {"ice-hsi", "ICE HSI (investigations)", NULL, "DCHSI0000", "DH", "FE", "DHS/ICE/HSI", "",
     0},
    {"cbp", "CBP (border)", NULL, "DCCBP0000", "DH", "FE", "DHS/CBP/OFO", "border", 0},
    {"other-federal", "Other federal (National Park Service)", NULL, "DCNPS0000", "DI", "FE",
     "DOI/NPS", "", 0},
};

/* The key that carries each data class in a reply, and the search fields used. */
static const struct {
    int dc;
    const char *key, *fields;
} class_keys[] = {
    {SL_DC_IDENTITY, "DQ", "OLN/A1234567.PUR/C"},
    {SL_DC_ADDRESS, "DQ", "OLN/A1234567.PUR/C"},
    {SL_DC_PHOTO, "DQ", "OLN/A1234567.IMQ/Y.PUR/C"},
    {SL_DC_SSN, "DQ", "OLN/A1234567.PUR/C"},
    {SL_DC_DOB, "DQ", "OLN/A1234567.PUR/C"},
    {SL_DC_DESCRIPTION, "DQ", "OLN/A1234567.PUR/C"},
    {SL_DC_LICENSE, "DQ", "OLN/A1234567.PUR/C"},
    {SL_DC_HISTORY, "KQ", "OLN/A1234567.PUR/C"},
    {SL_DC_VEHICLE, "RQ", "LIC/ABC1234.LIY/2026.LIT/PC.PUR/C"},
    {SL_DC_OWNER, "RQ", "LIC/ABC1234.LIY/2026.LIT/PC.PUR/C"},
    {SL_DC_OWNER_ADDRESS, "RQ", "LIC/ABC1234.LIY/2026.LIT/PC.PUR/C"},
};

static void requester_for(const struct sl_gw_config *cfg, const struct req_class *rc,
                          struct sl_requester *r)
{
    memset(r, 0, sizeof *r);
    if (rc->where) {
        const char *st = cfg->state;
        if (rc->where == 2)
            st = strcmp(cfg->state, "CA") ? "CA" : "NV";
        snprintf(r->ori, sizeof r->ori, "%.2s%s", st, rc->ori_suffix);
        sl_strlcpy(r->member, st, sizeof r->member);
    } else {
        sl_strlcpy(r->ori, rc->ori, sizeof r->ori);
        sl_strlcpy(r->member, rc->member, sizeof r->member);
    }
    memcpy(r->state, r->ori, 2);
    sl_strlcpy(r->type, rc->type, sizeof r->type);
    sl_strlcpy(r->cats, "ACDZ", sizeof r->cats);
    sl_strlcpy(r->parent, rc->parent, sizeof r->parent);
    sl_strlcpy(r->tags, rc->tags, sizeof r->tags);
}

static const char *cell_word(const struct sl_policy_decision *d, int dc)
{
    if (d->effect == SL_POLICY_FORBID)
        return "denied";
    if (d->effect == SL_POLICY_HOLD)
        return "held";
    return (d->redact & SL_DC_BIT(dc)) ? "redacted" : "released";
}

json_t *http_grid(struct sl_http *h, const struct sl_policy *p, time_t now)
{
    json_t *rows = json_array(), *cols = json_array(), *reqs = json_array();
    for (size_t k = 0; k < sizeof class_keys / sizeof class_keys[0]; k++)
        json_array_append_new(cols, json_string(sl_policy_dc_name(class_keys[k].dc)));
    for (size_t i = 0; i < sizeof req_classes / sizeof req_classes[0]; i++) {
        struct sl_requester rq;
        requester_for(h->cfg, &req_classes[i], &rq);
        json_t *cells = json_array();
        for (size_t k = 0; k < sizeof class_keys / sizeof class_keys[0]; k++) {
            char text[160], err[120];
            snprintf(text, sizeof text, "%s.%s.%s.TXT %s", class_keys[k].key, rq.ori,
                     h->cfg->state, class_keys[k].fields);
            struct sl_policy_request r;
            struct sl_policy_decision d;
            memset(&r, 0, sizeof r);
            if (sl_policy_parse_request_text(text, &r, err, sizeof err) != 0) {
                json_array_append_new(cells, json_pack("{s:s, s:s}", "class",
                                                       sl_policy_dc_name(class_keys[k].dc),
                                                       "error", err));
                continue;
            }
            r.requester = &rq;
            r.requester_known = 1;
            sl_policy_request_set_time(&r, now);
            /* a requester within any rate limit: this one query in every window */
            sl_policy_parse_counts(NULL, &r, err, sizeof err);
            sl_policy_decide(p, &r, &d);
            json_t *rules = json_array();
            for (int n = 0; n < d.nrules; n++)
                json_array_append_new(rules, json_string(d.rules[n]));
            json_array_append_new(
                cells, json_pack("{s:s, s:s, s:s, s:o, s:b}", "class",
                                 sl_policy_dc_name(class_keys[k].dc), "result",
                                 cell_word(&d, class_keys[k].dc), "key", class_keys[k].key,
                                 "rules", rules, "by_default", d.is_default));
        }
        json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id",
                                              req_classes[i].id, "label", req_classes[i].label,
                                              "ori", rq.ori, "type", rq.type, "parent",
                                              rq.parent, "tags", rq.tags, "cells", cells));
    }
    for (size_t k = 0; k < sizeof class_keys / sizeof class_keys[0]; k++) {
        char t[120];
        snprintf(t, sizeof t, "%s.<ORI>.%s.TXT %s", class_keys[k].key, h->cfg->state,
                 class_keys[k].fields);
        json_array_append_new(reqs, json_pack("{s:s, s:s}", "class",
                                              sl_policy_dc_name(class_keys[k].dc), "request",
                                              t));
    }
    return json_pack("{s:o, s:o, s:o, s:s}", "columns", cols, "rows", rows, "requests", reqs,
                     "method",
                     "each cell is the decision of the policy in force on the request shown "
                     "for its column, sent by the requester of its row at the time of this "
                     "page; released = the class leaves, redacted = the reply leaves without "
                     "it, held = a reviewer decides first, denied = nothing leaves");
}

static void effect_words(const struct sl_policy_rule_info *ri, char *out, size_t len)
{
    char red[200] = "";
    for (int dc = 0; dc < SL_DC_COUNT; dc++)
        if (ri->redact & SL_DC_BIT(dc)) {
            size_t l = strlen(red);
            snprintf(red + l, sizeof red - l, "%s%s", l ? ", " : "", sl_policy_dc_name(dc));
        }
    if (ri->effect == SL_POLICY_FORBID)
        snprintf(out, len, "Denied: nothing is released");
    else if (ri->effect == SL_POLICY_HOLD)
        snprintf(out, len, "Held: a reviewer must decide within %lld hours; if no one does, "
                 "%s", (long long)(ri->deadline_s / 3600),
                 ri->then == SL_POLICY_FORBID ? "denied" : "released");
    else if (red[0])
        snprintf(out, len, "Released, without: %s", red);
    else
        snprintf(out, len, "Released");
}

json_t *http_briefing(struct sl_http *h, int64_t now_us, char *err, size_t errlen)
{
    struct sl_policy *p = sl_policy_slot_acquire(h->slot);
    json_t *j = json_object();
    json_object_set_new(j, "state", json_string(h->cfg->state));
    json_object_set_new(j, "state_name", json_string(h->cfg->state_name));
    if (p) {
        json_t *rules = json_array();
        struct sl_buf cond;
        sl_buf_init(&cond);
        for (int i = 0; i < sl_policy_nrules(p); i++) {
            struct sl_policy_rule_info ri;
            if (sl_policy_rule_info(p, i, &ri) != 0)
                continue;
            char words[300];
            effect_words(&ri, words, sizeof words);
            sl_buf_reset(&cond);
            sl_policy_rule_condition(p, i, &cond);
            sl_buf_append(&cond, "", 1);
            json_t *red = json_array();
            for (int dc = 0; dc < SL_DC_COUNT; dc++)
                if (ri.redact & SL_DC_BIT(dc))
                    json_array_append_new(red, json_string(sl_policy_dc_name(dc)));
            json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o}", "id", ri.id,
                                  "reason", ri.reason ? ri.reason : "", "effect",
                                  sl_policy_effect_name(ri.effect), "in_words", words, "when",
                                  (const char *)sl_buf_head(&cond), "line", ri.line,
                                  "withholds", red);
            if (ri.mark)
                json_object_set_new(r, "mark", json_string(ri.mark));
            if (ri.notify_days)
                json_object_set_new(r, "notify", json_pack("{s:i, s:b}", "days",
                                                           ri.notify_days, "business_days",
                                                           ri.notify_business));
            if (ri.effect == SL_POLICY_HOLD)
                json_object_set_new(r, "hold", json_pack("{s:I, s:s}", "deadline_s",
                                                         (json_int_t)ri.deadline_s, "then",
                                                         sl_policy_effect_name(ri.then)));
            json_array_append_new(rules, r);
        }
        sl_buf_free(&cond);
        json_object_set_new(j, "policy", json_pack("{s:b, s:s, s:s, s:s, s:o}", "in_force", 1,
                                                   "title", sl_policy_title(p), "sha256",
                                                   sl_policy_hash(p), "default",
                                                   sl_policy_effect_name(sl_policy_default(p)),
                                                   "rules", rules));
    } else {
        json_object_set_new(j, "policy",
                            json_pack("{s:b, s:s}", "in_force", 0, "note",
                                      "no policy is in force: external queries are denied "
                                      "(fail closed); see the gateway's log"));
    }
    json_object_set_new(j, "who_can_see_what", http_grid(h, p, (time_t)(now_us / 1000000)));
    if (p)
        sl_policy_unref(p);
    /* the last 12 months: from the first day of the month 11 months ago */
    time_t t = (time_t)(now_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    int y = tm.tm_year + 1900, m = tm.tm_mon + 1 - 11;
    while (m < 1) {
        m += 12;
        y--;
    }
    char first[8];
    int64_t from, to;
    snprintf(first, sizeof first, "%04d-%02d", (y % 10000 + 10000) % 10000, (m % 100 + 100) % 100);
    sl_http_parse_month(first, &from, &to);
    json_t *s = run_scan(h, NULL, from, now_us - now_us % DAY_US + DAY_US, 1, err, errlen);
    if (!s) {
        json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "rule_history", json_incref(json_object_get(s, "rule_history")));
    json_object_del(s, "rule_history");
    json_object_set_new(j, "last_12_months", s);
    json_object_set_new(j, "federal_means", json_string("agency type FE or JF"));
    return j;
}

/* ---- figures and public ---- */

static json_t *report(struct sl_http *h, int64_t from, int64_t to, char *err, size_t errlen)
{
    json_t *r = sl_audit_report(h->cfg->audit_dir, from, to, err, errlen);
    if (!r)
        return NULL;
    char a[11], b[11];
    time_t ta = (time_t)(from / 1000000), tb = (time_t)((to - DAY_US) / 1000000);
    struct tm tm;
    gmtime_r(&ta, &tm);
    strftime(a, sizeof a, "%Y-%m-%d", &tm);
    gmtime_r(&tb, &tm);
    strftime(b, sizeof b, "%Y-%m-%d", &tm);
    json_object_set_new(r, "from", json_string(a));
    json_object_set_new(r, "to", json_string(b));
    return r;
}

json_t *http_figures(struct sl_http *h, const struct http_filter *f, char *err, size_t errlen)
{
    json_t *r = report(h, f->from_us, f->to_us, err, errlen);
    if (!r)
        return NULL;
    json_t *j = json_pack("{s:o, s:{s:s, s:s, s:s, s:s, s:s}}", "report", r, "filter", "from",
                          f->from, "to", f->to, "agency", f->agency, "key", f->key, "outcome",
                          f->outcome ? sl_audit_outcome_name(f->outcome) : "");
    json_t *flt = run_scan(h, f, f->from_us, f->to_us, 0, err, errlen);
    if (!flt) {
        json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "filtered", flt);
    return j;
}

json_t *http_public(struct sl_http *h, int64_t from_us, int64_t to_us, const char *month,
                    char *err, size_t errlen)
{
    int64_t now = sl_now_ms();
    pthread_mutex_lock(&h->mu);
    if (h->pub.j && h->pub.from_us == from_us && now - h->pub.at_ms < 5000) {
        json_t *c = json_deep_copy(h->pub.j);
        pthread_mutex_unlock(&h->mu);
        return c;
    }
    pthread_mutex_unlock(&h->mu);
    json_t *r = sl_audit_report(h->cfg->audit_dir, from_us, to_us, err, errlen);
    if (!r)
        return NULL;
    static const char *const keep[] = {"queries", "queries_by_parent_agency",
                                       "queries_by_agency_type", "queries_by_requester_state",
                                       "queries_by_key", "queries_by_reason",
                                       "queries_by_purpose", "outcomes",
                                       "outcomes_by_parent_agency", "outcomes_by_agency_type",
                                       "data_classes_released", "data_classes_withheld"};
    json_t *j = json_pack("{s:s, s:s, s:s}", "state", h->cfg->state, "state_name",
                          h->cfg->state_name, "month", month);
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        json_t *v = json_object_get(r, keep[i]);
        json_object_set(j, keep[i], v ? v : json_null());
    }
    json_decref(r);
    pthread_mutex_lock(&h->mu);
    json_decref(h->pub.j);
    h->pub.j = json_deep_copy(j);
    h->pub.from_us = from_us;
    h->pub.at_ms = now;
    pthread_mutex_unlock(&h->mu);
    return j;
}

/* ---- health ---- */

static void on_problem(int64_t index, const char *text, void *arg)
{
    struct http_verify *v = arg;
    if (!v->first_problem[0])
        snprintf(v->first_problem, sizeof v->first_problem, "%s%lld: %s",
                 index >= 0 ? "entry " : "log ", (long long)index, text);
}

void http_verify_now(struct sl_http *h, const char *by)
{
    struct http_verify v;
    memset(&v, 0, sizeof v);
    sl_strlcpy(v.by, by ? by : "", sizeof v.by);
    struct sl_audit_verifier ver;
    memset(&ver, 0, sizeof ver);
    char err[300];
    size_t len;
    char *key = sl_read_file(h->cfg->audit_pub, &len);
    int have_key = key && sl_audit_verifier_parse(&ver, key, err, sizeof err) == 0;
    if (!have_key)
        snprintf(v.first_problem, sizeof v.first_problem,
                 "verifier key %.200s cannot be read: signatures were not checked",
                 h->cfg->audit_pub);
    free(key);
    struct sl_audit_verify_result res;
    memset(&res, 0, sizeof res);
    int64_t n = sl_audit_verify_dir(h->cfg->audit_dir, have_key ? &ver : NULL, on_problem, &v,
                                    &res, err, sizeof err);
    if (have_key)
        sl_audit_verifier_free(&ver);
    v.done = 1;
    v.at_us = sl_wall_us();
    v.problems = n < 0 ? -1 : n + (have_key ? 0 : 1);
    if (n < 0)
        snprintf(v.first_problem, sizeof v.first_problem, "%s", err);
    v.entries = res.entries;
    v.checkpoints = res.checkpoints;
    v.seconds = res.seconds;
    sl_audit_hex(res.root, 32, v.root);
    pthread_mutex_lock(&h->mu);
    h->ver = v;
    pthread_mutex_unlock(&h->mu);
}

json_t *http_health(struct sl_http *h, char *err, size_t errlen)
{
    const struct sl_gw_config *cfg = h->cfg;
    json_t *j = json_object();
    char path[SL_GW_PATH_MAX + 300];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/checkpoint", cfg->audit_dir);
    char *note = sl_read_file(path, &len);
    if (note) {
        struct sl_audit_checkpoint c;
        char perr[200], root[65];
        if (sl_audit_checkpoint_parse(note, len, &c, perr, sizeof perr) == 0) {
            sl_audit_hex(c.root, 32, root);
            json_object_set_new(j, "checkpoint",
                                json_pack("{s:s, s:I, s:s, s:s, s:i}", "origin", c.origin,
                                          "size", (json_int_t)c.size, "root_hex", root, "note",
                                          note, "signatures", c.nsig));
        } else {
            json_object_set_new(j, "checkpoint", json_pack("{s:s, s:s}", "error", perr, "note",
                                                           note));
        }
        free(note);
    } else {
        json_object_set_new(j, "checkpoint", json_null());
    }
    uint64_t bytes = 0;
    int segs = 0;
    DIR *d = opendir(cfg->audit_dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot read the audit log folder", cfg->audit_dir);
        json_decref(j);
        return NULL;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "seg-", 4))
            continue;
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", cfg->audit_dir, de->d_name);
        if (stat(path, &st) == 0) {
            bytes += (uint64_t)st.st_size;
            segs++;
        }
    }
    closedir(d);
    json_object_set_new(j, "segments", json_integer(segs));
    json_object_set_new(j, "bytes", json_integer((json_int_t)bytes));
    char *pub = sl_read_file(cfg->audit_pub, &len);
    if (pub)
        pub[strcspn(pub, "\r\n")] = 0;
    json_object_set_new(j, "verifier_key", pub ? json_string(pub) : json_null());
    free(pub);
    struct http_verify v;
    pthread_mutex_lock(&h->mu);
    v = h->ver;
    pthread_mutex_unlock(&h->mu);
    if (v.done) {
        char t[40];
        time_t tt = (time_t)(v.at_us / 1000000);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S UTC", &tm);
        json_object_set_new(j, "last_verification",
                            json_pack("{s:s, s:b, s:I, s:I, s:I, s:f, s:s, s:s, s:s}", "time", t,
                                      "ok", v.problems == 0, "problems",
                                      (json_int_t)v.problems, "entries", (json_int_t)v.entries,
                                      "checkpoints", (json_int_t)v.checkpoints, "seconds",
                                      v.seconds, "root_hex", v.root, "first_problem",
                                      v.first_problem, "by", v.by));
    } else {
        json_object_set_new(j, "last_verification", json_null());
    }
    char c1[3 * SL_GW_PATH_MAX], c2[3 * SL_GW_PATH_MAX], c3[3 * SL_GW_PATH_MAX];
    snprintf(c1, sizeof c1, "stateline audit verify %s --key %s", cfg->audit_dir,
             cfg->audit_pub);
    snprintf(c2, sizeof c2, "stateline audit consistency %s --from OLD_SIZE --to NEW_SIZE "
             "> c.txt", cfg->audit_dir);
    snprintf(c3, sizeof c3, "stateline audit check-proof --consistency --from OLD_SIZE "
             "--to NEW_SIZE --old-root OLD_ROOT_HEX --root NEW_ROOT_HEX --proof c.txt");
    json_object_set_new(j, "auditor_commands", json_pack("[s, s, s]", c1, c2, c3));
    return j;
}
