/*
 * policy_req.c - building requests for the matcher, and describing decisions in words.
 *
 * Formats read here (docs/policy-language.md, "Tools"):
 *   requester   ORI=WASP00000,TYPE=PD,MEMBER=WA,STATE=WA,PARENT=DHS/ICE/ERO,TAGS=a b,CATS=DZ
 *   request     DQ.WASP00000.WA.TXT OLN/WDL123.RSN/I      (Nlets input form; a newline or
 *               a space may separate TXT from the body)
 *   time        2026-11-26 14:05  or  2026-11-26T14:05   (the state's local time)
 */
#include "policy/policy_int.h"

#include <jansson.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include "stateline/buf.h"
#include "stateline/core.h"

static enum sl_policy_via via_of(const char *key, int ndest, const char dest[][SL_ORI_LEN + 1])
{
    if (strcmp(key, "DQG") == 0 || strcmp(key, "RQG") == 0)
        return SL_VIA_REGION;
    enum sl_policy_via v = SL_VIA_DIRECT;
    for (int i = 0; i < ndest; i++) {
        const char *d = dest[i];
        if (strcmp(d, "NL") == 0)
            return SL_VIA_NATIONWIDE;
        if (strlen(d) == 2 && (isdigit((unsigned char)d[0]) || isdigit((unsigned char)d[1])))
            v = SL_VIA_REGION;
    }
    return v;
}

void sl_policy_request_from_msg(struct sl_policy_request *r, const struct sl_msg *m)
{
    sl_strlcpy(r->key, m->key, sizeof(r->key));
    r->via = via_of(m->key, m->ndest, m->dest);
    r->nfields = 0;
    for (int i = 0; i < m->nfields && r->nfields < SL_POLICY_REQ_MAX_FIELDS; i++) {
        struct sl_policy_field *f = &r->fields[r->nfields++];
        memcpy(f->pfx, m->fields[i].pfx, 4);
        f->val = m->fields[i].val;
        f->len = m->fields[i].len;
    }
}

static int weekday_of(int y, int m, int d)
{
    int32_t days = sl_policy_days(y, m, d); /* 1970-01-01 was a Thursday */
    int w = (int)((days % 7 + 7 + 4) % 7);
    return w;
}

void sl_policy_request_set_time(struct sl_policy_request *r, time_t t)
{
    struct tm tm;
    localtime_r(&t, &tm);
    r->has_time = 1;
    r->local.year = tm.tm_year + 1900;
    r->local.month = tm.tm_mon + 1;
    r->local.day = tm.tm_mday;
    r->local.hour = tm.tm_hour;
    r->local.minute = tm.tm_min;
    r->local.wday = tm.tm_wday;
}

int sl_policy_parse_time(const char *s, struct sl_policy_time *out)
{
    int y, mo, d, h, mi;
    char sep, extra;
    if (sscanf(s, "%4d-%2d-%2d%c%2d:%2d%c", &y, &mo, &d, &sep, &h, &mi, &extra) != 6 ||
        (sep != ' ' && sep != 'T') || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || y < 1970)
        return -1;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return -1;
    out->year = y;
    out->month = mo;
    out->day = d;
    out->hour = h;
    out->minute = mi;
    out->wday = weekday_of(y, mo, d);
    return 0;
}

int sl_policy_parse_counts(const char *s, struct sl_policy_request *r, char *err,
                           size_t errlen)
{
    long v[2][SL_WIN_COUNT] = {{0, 0, 0}, {0, 0, 0}}; /* 0 = not given */
    for (const char *p = s ? s : ""; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, ", ");
        char item[48];
        if (n >= sizeof item) {
            snprintf(err, errlen, "queries: '%.*s' is too long", (int)n, p);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        p += n;
        char *eq = strchr(item, '=');
        char *end = NULL;
        long x = eq ? strtol(eq + 1, &end, 10) : 0;
        if (!eq || eq[1] < '0' || eq[1] > '9' || *end || x < 1 || x > 100000000) {
            snprintf(err, errlen, "queries: expected WINDOW=N with N at least 1 (hour=51, "
                     "user-day=3), found '%s'", item);
            return -1;
        }
        *eq = '\0';
        const char *w = item;
        int d = 0;
        if (strncmp(w, "user-", 5) == 0) {
            d = 1;
            w += 5;
        }
        int k = -1;
        for (int i = 0; i < SL_WIN_COUNT; i++)
            if (strcmp(w, sl_policy_window_name(i)) == 0)
                k = i;
        if (k < 0) {
            snprintf(err, errlen, "queries: unknown window '%s' (minute hour day, user-minute "
                     "user-hour user-day)", item);
            return -1;
        }
        v[d][k] = x;
    }
    for (int d = 0; d < 2; d++) {
        uint32_t *out = d ? r->user_queries : r->ori_queries;
        for (int k = 0; k < SL_WIN_COUNT; k++) {
            if (!v[d][k])
                v[d][k] = k ? v[d][k - 1] : 1;
            if (k && v[d][k] < v[d][k - 1]) {
                snprintf(err, errlen, "queries: the %s cannot hold fewer queries (%ld) than the "
                         "%s in it (%ld)", sl_policy_window_name(k), v[d][k],
                         sl_policy_window_name(k - 1), v[d][k - 1]);
                return -1;
            }
            out[k] = (uint32_t)v[d][k];
        }
    }
    r->has_counts = 1;
    r->has_user_counts = sl_policy_request_user(r) != NULL;
    return 0;
}

int sl_policy_parse_requester(const char *s, struct sl_requester *out, int *known, char *err,
                              size_t errlen)
{
    memset(out, 0, sizeof(*out));
    *known = 0;
    int have_state = 0, have_member = 0;
    const char *p = s;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        if (!eq || eq > end) {
            snprintf(err, errlen, "requester: expected KEY=value at '%.*s'", (int)(end - p), p);
            return -1;
        }
        char k[16], v[160];
        size_t kl = (size_t)(eq - p), vl = (size_t)(end - eq - 1);
        if (kl >= sizeof(k) || vl >= sizeof(v)) {
            snprintf(err, errlen, "requester: '%.*s' is too long", (int)(end - p), p);
            return -1;
        }
        memcpy(k, p, kl);
        k[kl] = '\0';
        memcpy(v, eq + 1, vl);
        v[vl] = '\0';
        size_t cap = 0;
        char *dst = NULL;
        if (strcasecmp(k, "ORI") == 0) {
            dst = out->ori;
            cap = sizeof(out->ori);
            if (vl != SL_ORI_LEN) {
                snprintf(err, errlen, "requester: an ORI has 9 characters, '%s' has %zu", v, vl);
                return -1;
            }
        } else if (strcasecmp(k, "TYPE") == 0) {
            dst = out->type;
            cap = sizeof(out->type);
            *known = 1;
            for (char *c = v; *c; c++)
                *c = (char)toupper((unsigned char)*c);
            if (sl_policy_type_slot(v) == PT_OTHER) {
                snprintf(err, errlen, "requester: unknown ORION type '%s' (PD SO SA LE FE JA JC JG JJ JF CJ NJ)", v);
                return -1;
            }
        } else if (strcasecmp(k, "MEMBER") == 0) {
            dst = out->member;
            cap = sizeof(out->member);
            have_member = 1;
        } else if (strcasecmp(k, "STATE") == 0) {
            dst = out->state;
            cap = sizeof(out->state);
            have_state = 1;
        } else if (strcasecmp(k, "PARENT") == 0) {
            dst = out->parent;
            cap = sizeof(out->parent);
        } else if (strcasecmp(k, "TAGS") == 0) {
            dst = out->tags;
            cap = sizeof(out->tags);
        } else if (strcasecmp(k, "CATS") == 0 || strcasecmp(k, "CATEGORIES") == 0) {
            dst = out->cats;
            cap = sizeof(out->cats);
        } else {
            snprintf(err, errlen, "requester: unknown key '%s' (ORI TYPE MEMBER STATE PARENT TAGS CATS)", k);
            return -1;
        }
        if (vl >= cap) {
            snprintf(err, errlen, "requester: %s value '%s' is too long", k, v);
            return -1;
        }
        memcpy(dst, v, vl + 1);
        p = end;
    }
    if (!out->ori[0]) {
        snprintf(err, errlen, "requester: ORI= is required");
        return -1;
    }
    if (!have_state)
        memcpy(out->state, out->ori, 2);
    if (!have_member)
        sl_strlcpy(out->member, out->state, sizeof(out->member));
    return 0;
}

int sl_policy_parse_request_text(const char *text, struct sl_policy_request *r, char *err,
                                 size_t errlen)
{
    r->key[0] = '\0';
    r->nfields = 0;
    r->via = SL_VIA_DIRECT;
    /* Header: MKE.ORI.DEST[.DEST...][.CTL].TXT */
    const char *txt = NULL;
    for (const char *s = text; (s = strstr(s, ".TXT")) != NULL; s += 4) {
        char c = s[4];
        if (c == '\0' || c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            txt = s;
            break;
        }
    }
    if (!txt) {
        snprintf(err, errlen, "request: no '.TXT' ending the header (DQ.WASP00000.WA.TXT OLN/...)");
        return -1;
    }
    char hdr[128];
    size_t hl = (size_t)(txt - text);
    if (hl >= sizeof(hdr)) {
        snprintf(err, errlen, "request: header too long");
        return -1;
    }
    memcpy(hdr, text, hl);
    hdr[hl] = '\0';
    char *parts[10];
    int np = 0;
    char *save = NULL;
    for (char *t = strtok_r(hdr, ".", &save); t && np < 10; t = strtok_r(NULL, ".", &save))
        parts[np++] = t;
    if (np < 3) {
        snprintf(err, errlen, "request: header needs key, ORI and a destination before TXT");
        return -1;
    }
    size_t kl = strlen(parts[0]);
    if (kl < 2 || kl > 3) {
        snprintf(err, errlen, "request: message key '%s' must be 2 or 3 letters", parts[0]);
        return -1;
    }
    for (size_t i = 0; i < kl; i++)
        r->key[i] = (char)toupper((unsigned char)parts[0][i]);
    r->key[kl] = '\0';
    char dest[SL_MSG_MAX_DEST][SL_ORI_LEN + 1];
    int nd = 0;
    for (int i = 2; i < np && nd < SL_MSG_MAX_DEST; i++) {
        size_t l = strlen(parts[i]);
        if (l == 2 || l == 9)
            sl_strlcpy(dest[nd++], parts[i], sizeof(dest[0]));
    }
    r->via = via_of(r->key, nd, dest);
    /* Body: PFX/value separated by '.' where the next field begins. */
    const char *b = txt + 4;
    while (*b == ' ' || *b == '\r' || *b == '\n' || *b == '\t')
        b++;
    while (*b) {
        if (!(isalnum((unsigned char)b[0]) && isalnum((unsigned char)b[1]) &&
              isalnum((unsigned char)b[2]) && b[3] == '/')) {
            snprintf(err, errlen, "request: expected a field PFX/value at '%.20s'", b);
            return -1;
        }
        if (r->nfields == SL_POLICY_REQ_MAX_FIELDS) {
            snprintf(err, errlen, "request: more than %d fields", SL_POLICY_REQ_MAX_FIELDS);
            return -1;
        }
        struct sl_policy_field *f = &r->fields[r->nfields++];
        memcpy(f->pfx, b, 3);
        f->pfx[3] = '\0';
        const char *v = b + 4, *e = v;
        for (;;) {
            if (*e == '\0')
                break;
            if (*e == '.' && isalnum((unsigned char)e[1]) && isalnum((unsigned char)e[2]) &&
                isalnum((unsigned char)e[3]) && e[4] == '/')
                break;
            e++;
        }
        f->val = v;
        f->len = (uint32_t)(e - v);
        b = *e ? e + 1 : e;
    }
    return 0;
}

static void dc_list(uint32_t mask, struct sl_buf *out)
{
    int k = 0;
    for (int i = 0; i < SL_DC_COUNT; i++)
        if (mask >> i & 1)
            sl_buf_printf(out, "%s%s", k++ ? ", " : "", sl_policy_dc_name(i));
}

void sl_policy_decision_describe(const struct sl_policy *p, const struct sl_policy_decision *d,
                                 struct sl_buf *out)
{
    static const char *const verdict[] = {"RELEASE (permit)", "HOLD for review", "DENY (forbid)"};
    sl_buf_printf(out, "decision: %s\n", verdict[d->effect]);
    if (d->is_default) {
        sl_buf_printf(out, "  because no rule matched, and this policy's default is %s\n",
                      sl_policy_effect_name(d->effect));
    } else {
        sl_buf_printf(out, "  because of %d rule%s:\n", d->nrules_total, d->nrules_total == 1 ? "" : "s");
        for (int i = 0; i < d->nrules; i++) {
            int k = sl_policy_rule_find(p, d->rules[i]);
            struct sl_policy_rule_info ri;
            if (k >= 0 && sl_policy_rule_info(p, k, &ri) == 0)
                sl_buf_printf(out, "    %s (line %d, %s): %s\n", ri.id, ri.line,
                              sl_policy_effect_name(ri.effect), ri.reason);
        }
        if (d->nrules < d->nrules_total)
            sl_buf_printf(out, "    ... and %d more\n", d->nrules_total - d->nrules);
    }
    if (d->effect == SL_POLICY_HOLD) {
        int64_t h = d->hold_deadline_s / 3600;
        sl_buf_printf(out, "  a state reviewer decides; if nobody does within %lld hour%s, it is %s\n",
                      (long long)h, h == 1 ? "" : "s",
                      d->hold_then == SL_POLICY_FORBID ? "denied" : "released");
    }
    if (d->effect != SL_POLICY_FORBID) {
        const char *when = d->effect == SL_POLICY_HOLD ? "if released, " : "";
        if (d->redact) {
            sl_buf_printf(out, "  %swithheld from the reply: ", when);
            dc_list(d->redact, out);
            sl_buf_append_str(out, "\n");
        }
        for (int i = 0; i < d->nnotices; i++)
            sl_buf_printf(out, "  %sthe person is notified within %u %sday%s (rule %s)\n", when,
                          d->notices[i].days, d->notices[i].business ? "business " : "",
                          d->notices[i].days == 1 ? "" : "s", d->notices[i].rule);
        for (int i = 0; i < d->nmarks; i++)
            sl_buf_printf(out, "  %sthe reply is marked: \"%s\"\n", when, d->marks[i]);
    }
    if (d->nerrors) {
        sl_buf_printf(out, "  %d rule%s could not be evaluated%s:\n", d->nerrors,
                      d->nerrors == 1 ? "" : "s",
                      d->fail_closed ? ", and that decided the outcome (fail closed)" : "");
        for (int i = 0; i < d->nerrors && i < SL_POLICY_MAX_ERRS; i++)
            sl_buf_printf(out, "    %s: %s\n", d->error_rules[i],
                          sl_policy_eval_err_text(d->error_kinds[i]));
    }
    sl_buf_printf(out, "  policy %s, sha256 %s\n", sl_policy_state(p), d->hash);
}

static const char *why_name(enum sl_policy_eval_err e)
{
    switch (e) {
    case SL_PEVAL_NO_REQUESTER: return "no-requester";
    case SL_PEVAL_UNKNOWN_REQUESTER: return "unknown-requester";
    case SL_PEVAL_NO_MESSAGE: return "no-message";
    case SL_PEVAL_NO_TIME: return "no-time";
    case SL_PEVAL_NO_COUNT: return "no-count";
    case SL_PEVAL_NO_USER: return "no-user";
    default: return "no-policy";
    }
}

void sl_policy_decision_json(const struct sl_policy_decision *d, struct sl_buf *out)
{
    json_t *o = json_object();
    json_object_set_new(o, "effect", json_string(sl_policy_effect_name(d->effect)));
    json_object_set_new(o, "default", json_boolean(d->is_default));
    json_t *a = json_array();
    for (int i = 0; i < d->nrules; i++)
        json_array_append_new(a, json_string(d->rules[i]));
    json_object_set_new(o, "rules", a);
    json_object_set_new(o, "rules_total", json_integer(d->nrules_total));
    a = json_array();
    for (int i = 0; i < SL_DC_COUNT; i++)
        if (d->redact >> i & 1)
            json_array_append_new(a, json_string(sl_policy_dc_name(i)));
    json_object_set_new(o, "redact", a);
    a = json_array();
    for (int i = 0; i < d->nnotices; i++)
        json_array_append_new(a, json_pack("{s:i,s:b,s:s}", "days", (int)d->notices[i].days,
                                           "business", (int)d->notices[i].business, "rule",
                                           d->notices[i].rule));
    json_object_set_new(o, "notices", a);
    a = json_array();
    for (int i = 0; i < d->nmarks; i++)
        json_array_append_new(a, json_string(d->marks[i]));
    json_object_set_new(o, "marks", a);
    if (d->effect == SL_POLICY_HOLD)
        json_object_set_new(o, "hold", json_pack("{s:I,s:s}", "deadline_s", (json_int_t)d->hold_deadline_s,
                                                 "then", sl_policy_effect_name(d->hold_then)));
    a = json_array();
    for (int i = 0; i < d->nerrors && i < SL_POLICY_MAX_ERRS; i++)
        json_array_append_new(a, json_pack("{s:s?,s:s}", "rule", d->error_rules[i], "why",
                                           why_name(d->error_kinds[i])));
    json_object_set_new(o, "errors", a);
    json_object_set_new(o, "errors_total", json_integer(d->nerrors));
    json_object_set_new(o, "fail_closed", json_boolean(d->fail_closed));
    json_object_set_new(o, "policy_sha256", json_string(d->hash));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text) {
        sl_buf_append_str(out, text);
        free(text);
    }
    json_decref(o);
}
