/*
 * policy_cases.c - running a table of expected decisions against a policy.
 *
 * CASES format (docs/policy-language.md, "Test tables"): line-oriented, `#` comments.
 *
 *     case ice-ero-licence "ICE ERO asks for a Washington licence"
 *       requester ORI=DCICE0100,TYPE=FE,MEMBER=DH,PARENT=DHS/ICE/ERO
 *       request DQ.DCICE0100.WA.TXT OLN/WDL1234567
 *       time 2026-11-26 10:00              (optional: the state's local time)
 *       queries hour=51,user-day=3         (optional: the ORI's and the user's query
 *                                           counts, this one included; 1 when omitted)
 *       expect forbid                      (permit | forbid | hold)
 *       rules no-civil-immigration         (exactly these rules decided; none = the default)
 *       redact photo, ssn                  (exactly these classes; none when omitted)
 *       notify 3 business days             (one line per notice; none when omitted)
 *       mark "NOT FOR IMMIGRATION ENFORCEMENT"   (one line per mark; none when omitted)
 *       deadline 72h then forbid           (hold only; checked when given)
 *       error                              (an evaluation error is expected)
 *
 * Everything a decision carries is compared exactly, so a case that leaves out a
 * redaction expects none: a table is a full statement of what each request gets.
 */
#include "policy/policy_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/buf.h"
#include "stateline/core.h"

struct tcase {
    char name[64];
    int line;
    struct sl_requester req;
    int have_req, req_known;
    char request[1024];
    int have_request;
    struct sl_policy_time time;
    int have_time;
    char queries[128];  /* sl_policy_parse_counts text, "" = 1 everywhere */
    int have_expect;
    enum sl_policy_effect effect;
    char rules[SL_POLICY_MAX_IDS][64];
    int nrules;
    uint32_t redact;
    int nnotices;
    int notice_days[SL_POLICY_MAX_NOTICES], notice_business[SL_POLICY_MAX_NOTICES];
    int nmarks;
    char marks[SL_POLICY_MAX_MARKS][208];
    int have_deadline;
    int64_t deadline;
    enum sl_policy_effect then;
    int error;
};

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t l = strlen(s);
    while (l && isspace((unsigned char)s[l - 1]))
        s[--l] = '\0';
    return s;
}

/* Strip surrounding quotes in place. */
static char *unquote(char *s)
{
    size_t l = strlen(s);
    if (l >= 2 && s[0] == '"' && s[l - 1] == '"') {
        s[l - 1] = '\0';
        return s + 1;
    }
    return s;
}

static int effect_of(const char *w, enum sl_policy_effect *e)
{
    if (strcmp(w, "permit") == 0)
        *e = SL_POLICY_PERMIT;
    else if (strcmp(w, "forbid") == 0)
        *e = SL_POLICY_FORBID;
    else if (strcmp(w, "hold") == 0)
        *e = SL_POLICY_HOLD;
    else
        return -1;
    return 0;
}

static void fail_line(struct sl_buf *out, const char *name, int line, const char *what)
{
    sl_buf_printf(out, "%s:%d: error: %s\n", name, line, what);
}

static void dc_text(uint32_t m, struct sl_buf *out)
{
    int k = 0;
    for (int i = 0; i < SL_DC_COUNT; i++)
        if (m >> i & 1)
            sl_buf_printf(out, "%s%s", k++ ? ", " : "", sl_policy_dc_name(i));
    if (!k)
        sl_buf_append_str(out, "none");
}

/* Compare and report; returns 1 if the case passed. */
static int run_case(const struct sl_policy *p, const struct tcase *c, const char *name,
                    struct sl_buf *out, unsigned char *covered)
{
    struct sl_policy_request r;
    memset(&r, 0, sizeof(r));
    char err[200];
    if (sl_policy_parse_request_text(c->request, &r, err, sizeof(err)) < 0) {
        sl_buf_printf(out, "%s:%d: FAIL %s: %s\n", name, c->line, c->name, err);
        return 0;
    }
    if (sl_policy_parse_counts(c->queries[0] ? c->queries : NULL, &r, err, sizeof(err)) < 0) {
        sl_buf_printf(out, "%s:%d: FAIL %s: %s\n", name, c->line, c->name, err);
        return 0;
    }
    r.requester = &c->req;
    r.requester_known = c->req_known;
    r.has_time = c->have_time;
    r.local = c->time;
    struct sl_policy_decision d;
    sl_policy_decide(p, &r, &d);
    for (int i = 0; i < d.nrules; i++) {
        int k = sl_policy_rule_find(p, d.rules[i]);
        if (k >= 0)
            covered[k] = 1;
    }
    struct sl_buf why = SL_BUF_INIT;
    if (d.effect != c->effect)
        sl_buf_printf(&why, "expected %s, got %s; ", sl_policy_effect_name(c->effect),
                      sl_policy_effect_name(d.effect));
    int same = d.nrules == c->nrules;
    for (int i = 0; i < c->nrules && same; i++) {
        int found = 0;
        for (int j = 0; j < d.nrules; j++)
            found |= strcmp(c->rules[i], d.rules[j]) == 0;
        same = found;
    }
    if (!same) {
        sl_buf_append_str(&why, "expected rules ");
        for (int i = 0; i < c->nrules; i++)
            sl_buf_printf(&why, "%s%s", i ? ", " : "", c->rules[i]);
        if (!c->nrules)
            sl_buf_append_str(&why, "none (the default)");
        sl_buf_append_str(&why, ", got ");
        for (int i = 0; i < d.nrules; i++)
            sl_buf_printf(&why, "%s%s", i ? ", " : "", d.rules[i]);
        if (!d.nrules)
            sl_buf_append_str(&why, "none (the default)");
        sl_buf_append_str(&why, "; ");
    }
    if (d.redact != c->redact) {
        sl_buf_append_str(&why, "expected redact ");
        dc_text(c->redact, &why);
        sl_buf_append_str(&why, ", got ");
        dc_text(d.redact, &why);
        sl_buf_append_str(&why, "; ");
    }
    same = d.nnotices == c->nnotices;
    for (int i = 0; i < c->nnotices && same; i++) {
        int found = 0;
        for (int j = 0; j < d.nnotices; j++)
            found |= d.notices[j].days == c->notice_days[i] &&
                     d.notices[j].business == c->notice_business[i];
        same = found;
    }
    if (!same) {
        sl_buf_append_str(&why, "expected notices ");
        for (int i = 0; i < c->nnotices; i++)
            sl_buf_printf(&why, "%s%d%s", i ? ", " : "", c->notice_days[i],
                          c->notice_business[i] ? " business days" : " days");
        if (!c->nnotices)
            sl_buf_append_str(&why, "none");
        sl_buf_append_str(&why, ", got ");
        for (int i = 0; i < d.nnotices; i++)
            sl_buf_printf(&why, "%s%u%s", i ? ", " : "", d.notices[i].days,
                          d.notices[i].business ? " business days" : " days");
        if (!d.nnotices)
            sl_buf_append_str(&why, "none");
        sl_buf_append_str(&why, "; ");
    }
    same = d.nmarks == c->nmarks;
    for (int i = 0; i < c->nmarks && same; i++) {
        int found = 0;
        for (int j = 0; j < d.nmarks; j++)
            found |= strcmp(d.marks[j], c->marks[i]) == 0;
        same = found;
    }
    if (!same) {
        sl_buf_printf(&why, "expected %d mark%s, got %d", c->nmarks, c->nmarks == 1 ? "" : "s",
                      d.nmarks);
        for (int j = 0; j < d.nmarks; j++)
            sl_buf_printf(&why, "%s\"%s\"", j ? ", " : ": ", d.marks[j]);
        sl_buf_append_str(&why, "; ");
    }
    if (c->have_deadline && (d.effect != SL_POLICY_HOLD || d.hold_deadline_s != c->deadline ||
                             d.hold_then != c->then))
        sl_buf_printf(&why, "expected deadline %lldh then %s, got %lldh then %s; ",
                      (long long)(c->deadline / 3600), sl_policy_effect_name(c->then),
                      (long long)(d.hold_deadline_s / 3600), sl_policy_effect_name(d.hold_then));
    if ((d.nerrors > 0) != c->error)
        sl_buf_printf(&why, "expected %s, got %d evaluation error%s; ",
                      c->error ? "an evaluation error" : "no evaluation error", d.nerrors,
                      d.nerrors == 1 ? "" : "s");
    int ok = sl_buf_used(&why) == 0;
    if (!ok)
        sl_buf_printf(out, "%s:%d: FAIL %s: %.*s\n", name, c->line, c->name,
                      (int)sl_buf_used(&why) - 2, (const char *)sl_buf_head(&why));
    sl_buf_free(&why);
    return ok;
}

static int parse_notice(char *v, int *days, int *business)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || n < 1 || n > 365)
        return -1;
    end = trim(end);
    *business = 0;
    if (strncmp(end, "business ", 9) == 0) {
        *business = 1;
        end = trim(end + 9);
    }
    if (strcmp(end, "days") != 0 && strcmp(end, "day") != 0)
        return -1;
    *days = (int)n;
    return 0;
}

int sl_policy_run_cases(const struct sl_policy *p, const char *cases, size_t len,
                        const char *name, struct sl_buf *out,
                        struct sl_policy_cases_result *res)
{
    memset(res, 0, sizeof(*res));
    res->nrules = (int)p->nrules;
    unsigned char *covered = sl_xcalloc(p->nrules ? p->nrules : 1, 1);
    struct tcase *c = sl_xcalloc(1, sizeof(*c));
    int in_case = 0, rc = 0;
    size_t pos = 0;
    int lineno = 0;
    char line[2048];
    while (pos < len) {
        size_t e = pos;
        while (e < len && cases[e] != '\n')
            e++;
        lineno++;
        size_t l = e - pos;
        if (l >= sizeof(line)) {
            fail_line(out, name, lineno, "line longer than 2047 characters");
            rc = -1;
            goto done;
        }
        memcpy(line, cases + pos, l);
        line[l] = '\0';
        pos = e + 1;
        /* Comments: '#' outside quotes. */
        int q = 0;
        for (char *s = line; *s; s++) {
            if (*s == '"')
                q = !q;
            else if (*s == '#' && !q) {
                *s = '\0';
                break;
            }
        }
        char *s = trim(line);
        if (!*s)
            continue;
        char *sp = s;
        while (*sp && !isspace((unsigned char)*sp))
            sp++;
        char *val = trim(sp);
        if (*sp && sp != val)
            *sp = '\0';
        else if (*sp)
            *sp = '\0';
        char msg[300];
        if (strcmp(s, "case") == 0) {
            if (in_case) {
                if (!c->have_expect || !c->have_req || !c->have_request) {
                    snprintf(msg, sizeof(msg), "case '%s' needs requester, request and expect lines", c->name);
                    fail_line(out, name, c->line, msg);
                    rc = -1;
                    goto done;
                }
                res->ncases++;
                if (run_case(p, c, name, out, covered))
                    res->npassed++;
                else
                    res->nfailed++;
            }
            memset(c, 0, sizeof(*c));
            in_case = 1;
            c->line = lineno;
            char *n = val;
            char *ne = n;
            while (*ne && !isspace((unsigned char)*ne))
                ne++;
            *ne = '\0';
            if (!*n || strlen(n) >= sizeof(c->name)) {
                fail_line(out, name, lineno, "case needs a name of at most 63 characters");
                rc = -1;
                goto done;
            }
            memcpy(c->name, n, strlen(n) + 1);
            continue;
        }
        if (!in_case) {
            snprintf(msg, sizeof(msg), "expected 'case NAME' before '%s'", s);
            fail_line(out, name, lineno, msg);
            rc = -1;
            goto done;
        }
        if (strcmp(s, "requester") == 0) {
            char err[200];
            if (sl_policy_parse_requester(val, &c->req, &c->req_known, err, sizeof(err)) < 0) {
                fail_line(out, name, lineno, err);
                rc = -1;
                goto done;
            }
            c->have_req = 1;
        } else if (strcmp(s, "request") == 0) {
            char *v = unquote(val);
            if (strlen(v) >= sizeof(c->request)) {
                fail_line(out, name, lineno, "request longer than 1023 characters");
                rc = -1;
                goto done;
            }
            memcpy(c->request, v, strlen(v) + 1);
            struct sl_policy_request tr;
            char err[200];
            if (sl_policy_parse_request_text(c->request, &tr, err, sizeof(err)) < 0) {
                fail_line(out, name, lineno, err);
                rc = -1;
                goto done;
            }
            c->have_request = 1;
        } else if (strcmp(s, "time") == 0) {
            if (sl_policy_parse_time(val, &c->time) < 0) {
                fail_line(out, name, lineno, "time is 'YYYY-MM-DD HH:MM'");
                rc = -1;
                goto done;
            }
            c->have_time = 1;
        } else if (strcmp(s, "queries") == 0) {
            struct sl_policy_request tr;
            memset(&tr, 0, sizeof(tr));
            char err[200];
            if (strlen(val) >= sizeof(c->queries)) {
                fail_line(out, name, lineno, "queries longer than 127 characters");
                rc = -1;
                goto done;
            }
            if (sl_policy_parse_counts(val, &tr, err, sizeof(err)) < 0) {
                fail_line(out, name, lineno, err);
                rc = -1;
                goto done;
            }
            memcpy(c->queries, val, strlen(val) + 1);
        } else if (strcmp(s, "expect") == 0) {
            if (effect_of(val, &c->effect) < 0) {
                fail_line(out, name, lineno, "expect permit, forbid or hold");
                rc = -1;
                goto done;
            }
            c->have_expect = 1;
        } else if (strcmp(s, "rules") == 0 || strcmp(s, "redact") == 0) {
            int is_rules = s[0] == 'r' && s[1] == 'u';
            char *save = NULL;
            for (char *t = strtok_r(val, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
                if (strcmp(t, "none") == 0)
                    continue;
                if (is_rules) {
                    if (c->nrules == SL_POLICY_MAX_IDS || strlen(t) >= sizeof(c->rules[0])) {
                        fail_line(out, name, lineno, "too many rules, or a rule id too long");
                        rc = -1;
                        goto done;
                    }
                    if (sl_policy_rule_find(p, t) < 0) {
                        snprintf(msg, sizeof(msg), "the policy has no rule '%s'", t);
                        fail_line(out, name, lineno, msg);
                        rc = -1;
                        goto done;
                    }
                    memcpy(c->rules[c->nrules++], t, strlen(t) + 1);
                } else {
                    int dc = sl_policy_dc_lookup(t);
                    if (dc < 0) {
                        snprintf(msg, sizeof(msg), "unknown data class '%s'", t);
                        fail_line(out, name, lineno, msg);
                        rc = -1;
                        goto done;
                    }
                    c->redact |= 1u << dc;
                }
            }
        } else if (strcmp(s, "notify") == 0) {
            if (c->nnotices == SL_POLICY_MAX_NOTICES ||
                parse_notice(val, &c->notice_days[c->nnotices], &c->notice_business[c->nnotices]) < 0) {
                fail_line(out, name, lineno, "notify N days | N business days");
                rc = -1;
                goto done;
            }
            c->nnotices++;
        } else if (strcmp(s, "mark") == 0) {
            char *v = unquote(val);
            if (c->nmarks == SL_POLICY_MAX_MARKS || strlen(v) >= sizeof(c->marks[0])) {
                fail_line(out, name, lineno, "too many marks, or a mark too long");
                rc = -1;
                goto done;
            }
            memcpy(c->marks[c->nmarks++], v, strlen(v) + 1);
        } else if (strcmp(s, "deadline") == 0) {
            long h;
            char unit, then[16];
            if (sscanf(val, "%ld%c then %15s", &h, &unit, then) != 3 || (unit != 'h' && unit != 'd') ||
                effect_of(then, &c->then) < 0 || c->then == SL_POLICY_HOLD) {
                fail_line(out, name, lineno, "deadline 72h then forbid|permit");
                rc = -1;
                goto done;
            }
            c->deadline = (int64_t)h * (unit == 'h' ? 3600 : 86400);
            c->have_deadline = 1;
        } else if (strcmp(s, "error") == 0) {
            c->error = 1;
        } else {
            snprintf(msg, sizeof(msg),
                     "unknown line '%s' (case requester request time queries expect rules redact notify mark deadline error)", s);
            fail_line(out, name, lineno, msg);
            rc = -1;
            goto done;
        }
    }
    if (in_case) {
        if (!c->have_expect || !c->have_req || !c->have_request) {
            char msg[200];
            snprintf(msg, sizeof(msg), "case '%s' needs requester, request and expect lines", c->name);
            fail_line(out, name, c->line, msg);
            rc = -1;
            goto done;
        }
        res->ncases++;
        if (run_case(p, c, name, out, covered))
            res->npassed++;
        else
            res->nfailed++;
    }
    for (uint32_t i = 0; i < p->nrules; i++) {
        if (covered[i])
            res->ncovered++;
        else
            sl_buf_printf(out, "%s: uncovered: rule '%s' (line %d) decided no case\n", name,
                          p->pool + p->rules[i].id, p->rules[i].line);
    }
    sl_buf_printf(out, "%d cases: %d passed, %d failed; rule coverage %d/%d\n", res->ncases,
                  res->npassed, res->nfailed, res->ncovered, res->nrules);
    rc = res->nfailed || res->ncovered < res->nrules || res->ncases == 0 ? 1 : 0;
done:
    free(c);
    free(covered);
    return rc;
}
