/*
 * policy_sim.c - what a draft policy would have changed: replay an audit log's query
 * entries against the policy in force and a draft (`stateline policy simulate`, the
 * oversight desk's draft page), and the structural comparison of two policies that says
 * whether a draft loosens access (docs/review.md §5, docs/http-api.md "Rule drafts").
 *
 * Reads: an audit log folder (docs/audit-format.md) through sl_audit_read_dir; only
 * SL_AUDIT_QUERY entries in [from, to) count.  The request is rebuilt from the entry as
 * the gateway logged it: requester (ORI, member, type, parent agency, state), key and
 * first destination, RSN PUR CAS LGP ATN with their values, the search fields' prefixes
 * (values are personal data and never logged: a value condition sees "?"; IMQ counts as
 * "Y"), and the time.  Tags and access categories are not in the log: an optional look-up
 * (the directory) supplies them.  Rate conditions (`requester.queries per hour > 50`)
 * see the counts the gateway would have had: every query entry of the day before the
 * period and of the period is counted, in log order, with the gateway's counters.
 */
#include "policy/policy_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/audit.h"
#include "stateline/buf.h"
#include "stateline/core.h"
#include "stateline/msg.h"

/* Keys the simulator's counters may hold: a month of a national network's ORIs and users
 * fits; more fail the rate conditions of the rest closed, as the gateway would. */
#define SL_POLICY_SIM_COUNT_KEYS (1u << 18)

const char *const sl_policy_sim_names[SL_SIM_N] = {"released", "denied", "held", "redacted",
                                                   "noticed"};

struct sim_run {
    struct sl_policy_sim *s;
    const struct sl_policy *pol[2];
    sl_policy_sim_lookup lookup;
    void *ctx;
    int64_t from_us, to_us;
    size_t cap;
    struct sl_policy_counts *counts; /* NULL when neither policy counts queries */
    uint32_t uses;
};

static struct sl_policy_sim_class *sim_class(struct sim_run *r, const char *kind,
                                             const char *name)
{
    struct sl_policy_sim *s = r->s;
    for (size_t i = 0; i < s->ncls; i++)
        if (!strcmp(s->cls[i].kind, kind) && !strcmp(s->cls[i].name, name))
            return &s->cls[i];
    if (s->ncls == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 32;
        s->cls = sl_xrealloc(s->cls, r->cap * sizeof *s->cls);
    }
    struct sl_policy_sim_class *c = &s->cls[s->ncls++];
    memset(c, 0, sizeof *c);
    sl_strlcpy(c->kind, kind, sizeof c->kind);
    sl_strlcpy(c->name, name, sizeof c->name);
    return c;
}

static void str_of(const struct sl_audit_str *a, char *out, size_t len)
{
    size_t n = a->len < len - 1 ? a->len : len - 1;
    if (n && a->p)
        memcpy(out, a->p, n);
    out[a->p ? n : 0] = 0;
}

static void sim_outcome(const struct sl_policy_decision *d, const char *key, int o[SL_SIM_N])
{
    memset(o, 0, sizeof(int) * SL_SIM_N);
    if (d->effect == SL_POLICY_FORBID)
        o[SL_SIM_DENIED] = 1;
    else if (d->effect == SL_POLICY_HOLD)
        o[SL_SIM_HELD] = 1;
    else {
        o[SL_SIM_RELEASED] = 1;
        o[SL_SIM_REDACTED] = (d->redact & sl_policy_dc_for_key(key)) != 0;
        o[SL_SIM_NOTICED] = d->nnotices > 0;
    }
}

/* Does the draft's decision give the requester more than the one in force?  Denied <
 * held < released; for two releases, a class the key carries withheld now and not by the
 * draft, or a notice owed now and not by the draft. */
static int more_open(const struct sl_policy_decision *now, const struct sl_policy_decision *dr,
                     const char *key)
{
    static const int rank[3] = {2, 1, 0}; /* permit, hold, forbid */
    if (rank[dr->effect] != rank[now->effect])
        return rank[dr->effect] > rank[now->effect];
    if (now->effect == SL_POLICY_HOLD)
        return now->hold_then == SL_POLICY_FORBID && dr->hold_then == SL_POLICY_PERMIT;
    if (now->effect != SL_POLICY_PERMIT)
        return 0;
    uint32_t carried = sl_policy_dc_for_key(key);
    return (now->redact & carried & ~dr->redact) != 0 || (now->nnotices && !dr->nnotices);
}

static int sim_entry(uint64_t index, const uint8_t *buf, size_t len, void *arg)
{
    struct sim_run *run = arg;
    struct sl_policy_sim *s = run->s;
    (void)index;
    struct sl_audit_entry e;
    char err[200];
    if (sl_audit_decode(buf, len, &e, err, sizeof err) != 0) {
        s->bad++;
        return 0;
    }
    /* A rate condition counts the day before the period too (the longest window). */
    int64_t count_from = run->counts ? run->from_us - (int64_t)86400 * 1000000 : run->from_us;
    if (e.type != SL_AUDIT_QUERY || e.time_us < count_from || e.time_us >= run->to_us)
        return 0;
    struct sl_requester q;
    memset(&q, 0, sizeof q);
    str_of(&e.ori, q.ori, sizeof q.ori);
    struct sl_policy_request r;
    memset(&r, 0, sizeof r);
    char vals[5][130];
    const struct sl_audit_str *src[5] = {&e.reason, &e.purpose, &e.case_ref, &e.legal, &e.user};
    for (int i = 0; i < 5; i++)
        str_of(src[i], vals[i], sizeof vals[i]);
    if (run->counts) /* every query the gateway decided counts, as it counted them */
        sl_policy_counts_add(run->counts, run->uses, e.time_us / 1000000, q.ori, vals[4],
                             strlen(vals[4]), &r);
    if (e.time_us < run->from_us)
        return 0;
    str_of(&e.member, q.member, sizeof q.member);
    str_of(&e.agency_type, q.type, sizeof q.type);
    str_of(&e.parent, q.parent, sizeof q.parent);
    str_of(&e.req_state, q.state, sizeof q.state);
    if (!q.state[0])
        snprintf(q.state, sizeof q.state, "%.2s", q.ori);
    /* Tags and access categories are not in the log: from the look-up, when given. */
    if (run->lookup) {
        struct sl_requester d;
        memset(&d, 0, sizeof d);
        if (run->lookup(run->ctx, q.ori, &d) == 1) {
            sl_strlcpy(q.tags, d.tags, sizeof q.tags);
            sl_strlcpy(q.cats, d.cats, sizeof q.cats);
            if (!q.type[0])
                sl_strlcpy(q.type, d.type, sizeof q.type);
        }
    }
    struct sl_msg m;
    memset(&m, 0, sizeof m);
    str_of(&e.key, m.key, sizeof m.key);
    if (e.dest.n) {
        m.ndest = 1;
        str_of(&e.dest.item[0], m.dest[0], sizeof m.dest[0]);
    }
    r.requester = &q;
    r.requester_known = q.type[0] != 0;
    sl_policy_request_from_msg(&r, &m);
    const char *pf[5] = {"RSN", "PUR", "CAS", "LGP", "ATN"};
    for (int i = 0; i < 5; i++) {
        if (!vals[i][0] || r.nfields >= SL_POLICY_REQ_MAX_FIELDS)
            continue;
        struct sl_policy_field *f = &r.fields[r.nfields++];
        memcpy(f->pfx, pf[i], 4);
        f->val = vals[i];
        f->len = (uint32_t)strlen(vals[i]);
    }
    char pfx[SL_AUDIT_MAX_LIST][4];
    for (int i = 0; i < e.search.n && r.nfields < SL_POLICY_REQ_MAX_FIELDS; i++) {
        str_of(&e.search.item[i], pfx[i], sizeof pfx[i]);
        struct sl_policy_field *f = &r.fields[r.nfields++];
        memcpy(f->pfx, pfx[i], 4);
        f->val = !strcmp(pfx[i], "IMQ") ? "Y" : "?";
        f->len = 1;
    }
    sl_policy_request_set_time(&r, (time_t)(e.time_us / 1000000));

    int o[2][SL_SIM_N];
    struct sl_policy_decision d[2];
    for (int k = 0; k < 2; k++) {
        sl_policy_decide(run->pol[k], &r, &d[k]);
        sim_outcome(&d[k], m.key, o[k]);
    }
    s->total++;
    if (memcmp(o[0], o[1], sizeof o[0]) != 0)
        s->changed++;
    if (more_open(&d[0], &d[1], m.key))
        s->loosened++;
    const char *place = !strcmp(q.state, sl_policy_state(run->pol[1])) ? "in-state"
                                                                      : "out-of-state";
    struct sl_policy_sim_class *c[3] = {sim_class(run, "parent", q.parent[0] ? q.parent : "(none)"),
                                        sim_class(run, "type", q.type[0] ? q.type : "(unknown)"),
                                        sim_class(run, "place", place)};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < SL_SIM_N; i++) {
            s->all[k][i] += (uint64_t)o[k][i];
            for (int j = 0; j < 3; j++)
                c[j]->n[k][i] += (uint64_t)o[k][i];
        }
    return 0;
}

static int sim_cmp(const void *a, const void *b)
{
    const struct sl_policy_sim_class *x = a, *y = b;
    int k = strcmp(x->kind, y->kind);
    return k ? k : strcmp(x->name, y->name);
}

int sl_policy_simulate(const struct sl_policy *now, const struct sl_policy *draft,
                       const char *audit_dir, int64_t from_us, int64_t to_us,
                       double minutes_per_review, sl_policy_sim_lookup lookup, void *ctx,
                       struct sl_policy_sim *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!now || !draft || to_us <= from_us || minutes_per_review <= 0) {
        snprintf(err, errlen, "simulate: two policies and a period from < to are needed");
        return -1;
    }
    struct sim_run run;
    memset(&run, 0, sizeof run);
    run.s = out;
    run.pol[0] = now;
    run.pol[1] = draft;
    run.lookup = lookup;
    run.ctx = ctx;
    run.from_us = from_us;
    run.to_us = to_us;
    run.uses = sl_policy_count_uses(now) | sl_policy_count_uses(draft);
    if (run.uses)
        run.counts = sl_policy_counts_new(SL_POLICY_SIM_COUNT_KEYS);
    struct sl_audit_reader_cb cb = {sim_entry, NULL, &run};
    int rc = sl_audit_read_dir(audit_dir, &cb, err, errlen);
    sl_policy_counts_free(run.counts);
    if (rc != 0) {
        sl_policy_sim_free(out);
        return -1;
    }
    if (out->ncls)
        qsort(out->cls, out->ncls, sizeof *out->cls, sim_cmp);
    out->from_us = from_us;
    out->to_us = to_us;
    out->minutes_per_review = minutes_per_review;
    out->weeks = (double)(to_us - from_us) / (7.0 * 86400 * 1000000);
    for (int k = 0; k < 2; k++)
        out->hours_per_week[k] =
            (double)out->all[k][SL_SIM_HELD] * minutes_per_review / 60.0 / out->weeks;
    return 0;
}

void sl_policy_sim_free(struct sl_policy_sim *s)
{
    free(s->cls);
    s->cls = NULL;
    s->ncls = 0;
}

static json_t *sim_counts(const uint64_t n[2][SL_SIM_N])
{
    json_t *o = json_object();
    for (int k = 0; k < 2; k++) {
        json_t *c = json_object();
        for (int i = 0; i < SL_SIM_N; i++)
            json_object_set_new(c, sl_policy_sim_names[i], json_integer((json_int_t)n[k][i]));
        json_object_set_new(o, k ? "draft" : "in_force", c);
    }
    return o;
}

json_t *sl_policy_sim_json(const struct sl_policy_sim *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "queries", json_integer((json_int_t)s->total));
    json_object_set_new(o, "changed", json_integer((json_int_t)s->changed));
    json_object_set_new(o, "loosened", json_integer((json_int_t)s->loosened));
    json_object_set_new(o, "all", sim_counts(s->all));
    const char *kinds[3] = {"parent", "type", "place"};
    for (int k = 0; k < 3; k++) {
        json_t *by = json_object();
        for (size_t i = 0; i < s->ncls; i++)
            if (!strcmp(s->cls[i].kind, kinds[k]))
                json_object_set_new(by, s->cls[i].name, sim_counts(s->cls[i].n));
        char key[16];
        snprintf(key, sizeof key, "by_%s", kinds[k]);
        json_object_set_new(o, key, by);
    }
    json_object_set_new(o, "review_hours_per_week",
                        json_pack("{s:f,s:f,s:f}", "in_force", s->hours_per_week[0], "draft",
                                  s->hours_per_week[1], "minutes_per_review",
                                  s->minutes_per_review));
    json_object_set_new(o, "weeks", json_real(s->weeks));
    if (s->bad)
        json_object_set_new(o, "undecodable_entries", json_integer((json_int_t)s->bad));
    return o;
}

/* ---- does a draft loosen access?  (by the rules' text) ---- */

static void why_add(struct sl_buf *why, int *n, const char *fmt, const char *a, const char *b)
{
    if (*n < 12) {
        sl_buf_printf(why, fmt, a, b);
        sl_buf_append_str(why, "\n");
    }
    (*n)++;
}

static void dc_list(uint32_t mask, char *out, size_t len)
{
    out[0] = 0;
    for (int i = 0; i < SL_DC_COUNT; i++)
        if (mask >> i & 1) {
            size_t l = strlen(out);
            snprintf(out + l, len - l, "%s%s", l ? ", " : "", sl_policy_dc_name(i));
        }
}

int sl_policy_loosens(const struct sl_policy *now, const struct sl_policy *draft,
                      struct sl_buf *why)
{
    int n = 0;
    if (sl_policy_default(now) == SL_POLICY_FORBID && sl_policy_default(draft) != SL_POLICY_FORBID)
        why_add(why, &n, "the default changes from forbid to %s%s",
                sl_policy_effect_name(sl_policy_default(draft)), "");
    struct sl_buf c0 = SL_BUF_INIT, c1 = SL_BUF_INIT;
    for (int i = 0; i < sl_policy_nrules(now); i++) {
        struct sl_policy_rule_info a, b;
        sl_policy_rule_info(now, i, &a);
        int j = sl_policy_rule_find(draft, a.id);
        if (j < 0) {
            if (a.effect != SL_POLICY_PERMIT)
                why_add(why, &n, "%s rule %s is removed", sl_policy_effect_name(a.effect), a.id);
            else if (a.redact || a.notify_days)
                why_add(why, &n, "permit rule %s, which withholds data or notifies the "
                        "person, is removed%s", a.id, "");
            continue;
        }
        sl_policy_rule_info(draft, j, &b);
        sl_buf_reset(&c0);
        sl_buf_reset(&c1);
        sl_policy_rule_condition(now, i, &c0);
        sl_policy_rule_condition(draft, j, &c1);
        int same_cond = sl_buf_used(&c0) == sl_buf_used(&c1) &&
                        memcmp(sl_buf_head(&c0), sl_buf_head(&c1), sl_buf_used(&c0)) == 0;
        if (a.effect != SL_POLICY_PERMIT && b.effect != a.effect) {
            static const int rank[3] = {2, 1, 0};
            if (rank[b.effect] > rank[a.effect])
                why_add(why, &n, "rule %s changes to %s", a.id, sl_policy_effect_name(b.effect));
        }
        if (a.effect != SL_POLICY_PERMIT && !same_cond)
            why_add(why, &n, "the condition of %s rule %s changes (it may match fewer "
                    "requests)", sl_policy_effect_name(a.effect), a.id);
        if (a.effect == SL_POLICY_HOLD && b.effect == SL_POLICY_HOLD &&
            a.then == SL_POLICY_FORBID && b.then == SL_POLICY_PERMIT)
            why_add(why, &n, "hold rule %s now releases when the deadline passes%s", a.id, "");
        if (a.redact & ~b.redact) {
            char l[200];
            dc_list(a.redact & ~b.redact, l, sizeof l);
            why_add(why, &n, "rule %s no longer withholds %s", a.id, l);
        }
        if (a.notify_days && !b.notify_days)
            why_add(why, &n, "rule %s no longer notifies the person%s", a.id, "");
        if (a.effect == SL_POLICY_PERMIT && b.effect == SL_POLICY_PERMIT && !same_cond &&
            sl_policy_default(draft) == SL_POLICY_FORBID)
            why_add(why, &n, "the condition of permit rule %s changes under default forbid "
                    "(it may release more)%s", a.id, "");
    }
    if (sl_policy_default(draft) == SL_POLICY_FORBID) {
        for (int j = 0; j < sl_policy_nrules(draft); j++) {
            struct sl_policy_rule_info b;
            sl_policy_rule_info(draft, j, &b);
            if (b.effect == SL_POLICY_PERMIT && sl_policy_rule_find(now, b.id) < 0)
                why_add(why, &n, "new permit rule %s under default forbid%s", b.id, "");
        }
    }
    /* Under default forbid a new hold that releases on timeout can turn a denial into a
     * release (a forbid still wins over it; under default permit it only delays). */
    for (int j = 0; sl_policy_default(draft) == SL_POLICY_FORBID &&
                    j < sl_policy_nrules(draft); j++) {
        struct sl_policy_rule_info b;
        sl_policy_rule_info(draft, j, &b);
        if (b.effect == SL_POLICY_HOLD && b.then == SL_POLICY_PERMIT &&
            sl_policy_rule_find(now, b.id) < 0)
            why_add(why, &n, "new hold rule %s releases when its deadline passes%s", b.id, "");
    }
    if (n > 12)
        sl_buf_printf(why, "... and %d more\n", n - 12);
    sl_buf_free(&c0);
    sl_buf_free(&c1);
    return n;
}
