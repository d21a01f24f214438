/*
 * policy_check.c - warnings a rule author needs before a policy goes into force.
 *
 *   - a rule that can never match (its conditions contradict each other);
 *   - a permit or hold that can never take effect because whenever it matches a forbid
 *     matches too (its condition implies the forbid's);
 *   - a permit without obligations under `default permit` (it changes nothing);
 *   - a data class that replies to the rule's keys never carry;
 *   - with a directory: a parent agency or tag no ORI has.
 *
 * Method: a condition is put in disjunctive normal form (capped; beyond the cap the
 * check is skipped, never guessed) and each conjunction is tested for consistency per
 * attribute: finite sets (key, type, via, weekday) as bit masks, time of day as a
 * 1440-minute bitmap, dates as an interval, string attributes by trying the values a
 * positive literal allows against every other literal.  A warning is given only when a
 * contradiction is certain.
 */
#include "policy/policy_int.h"

#include <stdlib.h>
#include <string.h>

#include "stateline/core.h"

#define MAXL 48
#define MAXT 256
#define PAIR_BUDGET 2000000

struct lit {
    uint32_t n;
    int neg;
};
struct term {
    int n;
    struct lit l[MAXL];
};
struct dnf {
    int n, overflow;
    struct term *t;
};

static void dnf_free(struct dnf *d)
{
    free(d->t);
    d->t = NULL;
    d->n = 0;
}

static void dnf_one(struct dnf *d)
{
    d->t = sl_xmalloc(sizeof(struct term));
    d->n = 1;
    d->overflow = 0;
    d->t[0].n = 0;
}

static void dnf_product(struct dnf *out, const struct dnf *a, const struct dnf *b)
{
    out->overflow = a->overflow || b->overflow;
    out->n = 0;
    out->t = NULL;
    if (out->overflow || (long)a->n * b->n > MAXT) {
        out->overflow = 1;
        return;
    }
    out->t = sl_xmalloc(sizeof(struct term) * (size_t)(a->n * b->n > 0 ? a->n * b->n : 1));
    for (int i = 0; i < a->n; i++)
        for (int j = 0; j < b->n; j++) {
            if (a->t[i].n + b->t[j].n > MAXL) {
                out->overflow = 1;
                return;
            }
            struct term *t = &out->t[out->n++];
            t->n = 0;
            memcpy(t->l, a->t[i].l, sizeof(struct lit) * (size_t)a->t[i].n);
            t->n = a->t[i].n;
            memcpy(t->l + t->n, b->t[j].l, sizeof(struct lit) * (size_t)b->t[j].n);
            t->n += b->t[j].n;
        }
}

static void dnf_union(struct dnf *out, const struct dnf *a, const struct dnf *b)
{
    out->overflow = a->overflow || b->overflow || a->n + b->n > MAXT;
    out->n = 0;
    out->t = NULL;
    if (out->overflow)
        return;
    out->t = sl_xmalloc(sizeof(struct term) * (size_t)(a->n + b->n ? a->n + b->n : 1));
    memcpy(out->t, a->t, sizeof(struct term) * (size_t)a->n);
    memcpy(out->t + a->n, b->t, sizeof(struct term) * (size_t)b->n);
    out->n = a->n + b->n;
}

static void dnf_of(const struct sl_policy *p, uint32_t n, int neg, struct dnf *out, int depth)
{
    out->n = 0;
    out->t = NULL;
    out->overflow = 0;
    if (depth > 64) {
        out->overflow = 1;
        return;
    }
    if (n == P_NONE) {
        if (neg) { /* "not always": no term at all (unsatisfiable) */
            out->t = NULL;
            out->n = 0;
        } else {
            dnf_one(out);
        }
        return;
    }
    const struct pnode *x = &p->nodes[n];
    if (x->op == PO_NOT) {
        dnf_of(p, x->a, !neg, out, depth + 1);
        return;
    }
    if (x->op == PO_AND || x->op == PO_OR) {
        struct dnf a, b;
        dnf_of(p, x->a, neg, &a, depth + 1);
        dnf_of(p, x->b, neg, &b, depth + 1);
        if ((x->op == PO_AND) != (neg != 0))
            dnf_product(out, &a, &b);
        else
            dnf_union(out, &a, &b);
        dnf_free(&a);
        dnf_free(&b);
        return;
    }
    dnf_one(out);
    out->t[0].n = 1;
    out->t[0].l[0] = (struct lit){n, neg};
}

/* ---- consistency of one conjunction ---- */

static const char *val(const struct sl_policy *p, const struct pnode *x, uint32_t i)
{
    return p->pool + p->vals[x->a + i];
}

static int in_list(const struct sl_policy *p, const struct pnode *x, const char *s)
{
    for (uint32_t i = 0; i < x->b; i++)
        if (strcmp(val(p, x, i), s) == 0)
            return 1;
    return 0;
}

static int under(const char *s, const char *anc)
{
    size_t l = strlen(anc);
    return strncmp(s, anc, l) == 0 && (s[l] == '\0' || s[l] == '/');
}

static int under_list(const struct sl_policy *p, const struct pnode *x, const char *s)
{
    for (uint32_t i = 0; i < x->b; i++)
        if (under(s, val(p, x, i)))
            return 1;
    return 0;
}

static int match_list(const struct sl_policy *p, const struct pnode *x, const char *s)
{
    for (uint32_t i = 0; i < x->b; i++)
        if (sl_policy_glob(val(p, x, i), s, strlen(s)))
            return 1;
    return 0;
}

/* Same string attribute (and, for fields, same field). */
static int same_attr(const struct pnode *a, const struct pnode *b)
{
    return a->attr == b->attr && (a->attr != PA_FIELD || a->field == b->field);
}

/* Can value s satisfy every literal of t about the same attribute as ref? */
static int viable(const struct sl_policy *p, const struct term *t, const struct pnode *ref,
                  const char *s)
{
    for (int i = 0; i < t->n; i++) {
        const struct pnode *x = &p->nodes[t->l[i].n];
        int neg = t->l[i].neg;
        int holds;
        if (x->op == PO_INSTATE && ref->attr == PA_STATE)
            holds = strcmp(s, p->state) == 0;
        else if (!same_attr(x, ref))
            continue;
        else if (x->op == PO_IN)
            holds = in_list(p, x, s);
        else if (x->op == PO_MATCH)
            holds = match_list(p, x, s);
        else if (x->op == PO_UNDER)
            holds = under_list(p, x, s);
        else if (x->op == PO_PRESENT)
            holds = 1;
        else
            continue;
        if (holds == neg)
            return 0;
    }
    return 1;
}

static int term_sat(const struct sl_policy *p, const struct term *t)
{
    uint32_t keys = P_ALLKEYS, types = P_ALLTYPES, via = 7, wd = 0x7f;
    int32_t dlo = INT32_MIN, dhi = INT32_MAX;
    uint8_t minutes[1440];
    int have_time = 0;
    for (int i = 0; i < t->n; i++) {
        const struct pnode *x = &p->nodes[t->l[i].n];
        int neg = t->l[i].neg;
        if (x->op == PO_MASK) {
            uint32_t *m = x->attr == PA_KEY ? &keys : x->attr == PA_TYPE ? &types
                        : x->attr == PA_VIA ? &via : &wd;
            *m &= neg ? ~x->a : x->a;
        } else if (x->op == PO_RANGE && x->attr == PA_TIME) {
            if (!have_time) {
                memset(minutes, 1, sizeof(minutes));
                have_time = 1;
            }
            for (int m = 0; m < 1440; m++) {
                int in = x->a < x->b ? (m >= (int)x->a && m < (int)x->b) : (m >= (int)x->a || m < (int)x->b);
                if (in == neg)
                    minutes[m] = 0;
            }
        } else if (x->op == PO_RANGE && x->attr == PA_DATE && !neg) {
            if ((int32_t)x->a > dlo)
                dlo = (int32_t)x->a;
            if ((int32_t)x->b < dhi)
                dhi = (int32_t)x->b;
        }
    }
    if (!keys || !types || !via || !wd || dlo > dhi)
        return 0;
    if (have_time) {
        int any = 0;
        for (int m = 0; m < 1440 && !any; m++)
            any = minutes[m];
        if (!any)
            return 0;
    }
    /* A negative date range covering the whole positive one. */
    for (int i = 0; i < t->n; i++) {
        const struct pnode *x = &p->nodes[t->l[i].n];
        if (x->op == PO_RANGE && x->attr == PA_DATE && t->l[i].neg && (int32_t)x->a <= dlo &&
            (int32_t)x->b >= dhi)
            return 0;
    }
    for (int i = 0; i < t->n; i++) {
        const struct pnode *x = &p->nodes[t->l[i].n];
        int neg = t->l[i].neg;
        /* Positive value lists: some value must satisfy every other literal. */
        if (!neg && (x->op == PO_IN || x->op == PO_INSTATE)) {
            if (x->op == PO_INSTATE) {
                struct pnode ref = *x;
                ref.attr = PA_STATE;
                if (!viable(p, t, &ref, p->state))
                    return 0;
                continue;
            }
            int ok = 0;
            for (uint32_t v = 0; v < x->b && !ok; v++)
                ok = viable(p, t, x, val(p, x, v));
            if (!ok)
                return 0;
        }
        /* Unders must lie on one chain, and the deepest outside every negated under. */
        if (!neg && x->op == PO_UNDER) {
            int ok = 0;
            for (uint32_t v = 0; v < x->b && !ok; v++) {
                const char *s = val(p, x, v);
                int good = 1;
                for (int j = 0; j < t->n && good; j++) {
                    const struct pnode *y = &p->nodes[t->l[j].n];
                    if (y->attr != PA_PARENT || y == x)
                        continue;
                    if (y->op == PO_UNDER && !t->l[j].neg) {
                        /* s or a descendant of s must be under y: s under y, or some y
                         * value under s. */
                        int any = 0;
                        for (uint32_t u = 0; u < y->b && !any; u++)
                            any = under(s, val(p, y, u)) || under(val(p, y, u), s);
                        good = any;
                    } else if (y->op == PO_UNDER && t->l[j].neg) {
                        good = !under_list(p, y, s);
                    }
                }
                ok = good;
            }
            if (!ok)
                return 0;
        }
        /* Absent field against a value or a presence test. */
        if (x->op == PO_PRESENT && neg) {
            for (int j = 0; j < t->n; j++) {
                const struct pnode *y = &p->nodes[t->l[j].n];
                if (y->attr == PA_FIELD && y->field == x->field && !t->l[j].neg &&
                    (y->op == PO_PRESENT || y->op == PO_IN || y->op == PO_MATCH))
                    return 0;
            }
        }
        /* has t and not has (.. t ..) */
        if (!neg && x->op == PO_HAS) {
            int ok = 0;
            for (uint32_t v = 0; v < x->b && !ok; v++) {
                const char *s = val(p, x, v);
                int good = 1;
                for (int j = 0; j < t->n && good; j++) {
                    const struct pnode *y = &p->nodes[t->l[j].n];
                    if (y->op == PO_HAS && y->attr == x->attr && t->l[j].neg && in_list(p, y, s))
                        good = 0;
                }
                ok = good;
            }
            if (!ok)
                return 0;
        }
    }
    return 1;
}

/* The first top-level conjunct `requester.ori = / in`, or NULL. */
static const struct pnode *ori_conjunct(const struct sl_policy *p, uint32_t n)
{
    if (n == P_NONE)
        return NULL;
    const struct pnode *x = &p->nodes[n];
    if (x->op == PO_AND) {
        const struct pnode *a = ori_conjunct(p, x->a);
        return a ? a : ori_conjunct(p, x->b);
    }
    return x->op == PO_IN && x->attr == PA_ORI ? x : NULL;
}

/* Can a satisfiable rule tied to ORIs a (NULL: not tied) not imply one tied to b?  When
 * the sets are disjoint, or b names ORIs and a does not (a then allows ORIs outside b;
 * ORIs named only inside an "or", or by a pattern without wildcards, are the rare cases
 * this misses - a missed warning, never a wrong one). */
static int ori_disjoint(const struct sl_policy *p, const struct pnode *a, const struct pnode *b)
{
    if (!b)
        return 0;
    if (!a)
        return 1;
    for (uint32_t i = 0; i < a->b; i++)
        if (in_list(p, b, val(p, a, i)))
            return 0;
    return 1;
}

/* 1 when certainly unsatisfiable, 0 when satisfiable or unknown. */
static int dnf_unsat(const struct sl_policy *p, const struct dnf *d)
{
    if (d->overflow)
        return 0;
    for (int i = 0; i < d->n; i++)
        if (term_sat(p, &d->t[i]))
            return 0;
    return 1;
}

static void warn_unknown_names(const struct sl_policy *p, const struct sl_policy_opts *o,
                               struct sl_policy_diags *dg)
{
    for (uint32_t i = 0; i < p->nnodes; i++) {
        const struct pnode *x = &p->nodes[i];
        if (x->attr == PA_PARENT && (x->op == PO_IN || x->op == PO_UNDER) && o->known_parent) {
            for (uint32_t v = 0; v < x->b; v++)
                if (!o->known_parent(o->ctx, val(p, x, v), x->op == PO_UNDER))
                    sl_policy_diag_add(dg, SL_PDIAG_WARNING, x->line, x->col,
                                       "no ORI in the directory has parent agency '%s'%s",
                                       val(p, x, v), x->op == PO_UNDER ? " or one under it" : "");
        }
        if (x->attr == PA_TAGS && x->op == PO_HAS && o->known_tag) {
            for (uint32_t v = 0; v < x->b; v++)
                if (!o->known_tag(o->ctx, val(p, x, v)))
                    sl_policy_diag_add(dg, SL_PDIAG_WARNING, x->line, x->col,
                                       "no ORI in the directory has the tag '%s'", val(p, x, v));
        }
    }
}

/* Does the condition tree under n hold a node with this op and attr (and, for fields,
 * this field)?  Returns the first found, or NULL. */
static const struct pnode *find_node(const struct sl_policy *p, uint32_t n, int op, int attr,
                                     int field)
{
    if (n == P_NONE)
        return NULL;
    const struct pnode *x = &p->nodes[n];
    if (x->op == PO_AND || x->op == PO_OR) {
        const struct pnode *f = find_node(p, x->a, op, attr, field);
        return f ? f : find_node(p, x->b, op, attr, field);
    }
    if (x->op == PO_NOT)
        return find_node(p, x->a, op, attr, field);
    if (x->op == op && x->attr == attr && (field < 0 || x->field == field))
        return x;
    return NULL;
}

void sl_policy_analyse(const struct sl_policy *p, const struct sl_policy_opts *opts,
                       struct sl_policy_diags *dg)
{
    int atn = sl_policy_field_lookup("ATN");
    if (opts)
        warn_unknown_names(p, opts, dg);
    for (uint32_t i = 0; i < p->nrules; i++) {
        const struct prule *r = &p->rules[i];
        uint32_t keys, types;
        sl_policy_rule_masks(p, r->cond, &keys, &types);
        if (r->redact) {
            uint32_t avail = 0;
            for (int k = 0; k < PK_COUNT - 1; k++)
                if (keys >> k & 1)
                    avail |= sl_policy_dc_for_key(sl_policy_keys[k]);
            for (int dc = 0; dc < SL_DC_COUNT; dc++)
                if ((r->redact >> dc & 1) && !(avail >> dc & 1))
                    sl_policy_diag_add(dg, SL_PDIAG_WARNING, r->redact_line, r->redact_col,
                                       "rule '%s': replies to its keys never carry '%s'; the redaction does nothing",
                                       p->pool + r->id, sl_policy_dc_name(dc));
        }
        /* A user's count needs a user: without ATN/ the condition cannot be evaluated,
         * which a forbid or hold takes as matching (fail closed).  Say so, unless the rule
         * looks at ATN itself. */
        const struct pnode *uc = find_node(p, r->cond, PO_COUNT, PA_COUNT_USER, -1);
        if (uc && r->effect != SL_POLICY_PERMIT &&
            !find_node(p, r->cond, PO_PRESENT, PA_FIELD, atn))
            sl_policy_diag_add(dg, SL_PDIAG_WARNING, uc->line, uc->col,
                               "rule '%s': a request that names no user (no ATN/) has no user "
                               "count, so this rule %s it (fail closed); write 'ATN present "
                               "and ...' if it should not",
                               p->pool + r->id,
                               r->effect == SL_POLICY_FORBID ? "denies" : "holds");
        if (r->effect == SL_POLICY_PERMIT && p->deflt == SL_POLICY_PERMIT && !r->redact &&
            !r->notify_days && r->mark == P_NONE)
            sl_policy_diag_add(dg, SL_PDIAG_WARNING, r->line, r->col,
                               "rule '%s' changes nothing: the default is already permit and it has no redact, notify or mark",
                               p->pool + r->id);
    }
    if (opts && opts->no_analysis)
        return;
    long budget = PAIR_BUDGET;
    for (uint32_t i = 0; i < p->nrules; i++) {
        const struct prule *r = &p->rules[i];
        struct dnf d;
        dnf_of(p, r->cond, 0, &d, 0);
        if (dnf_unsat(p, &d)) {
            sl_policy_diag_add(dg, SL_PDIAG_WARNING, r->line, r->col,
                               "rule '%s' can never match: its conditions contradict each other",
                               p->pool + r->id);
            dnf_free(&d);
            continue;
        }
        if (r->effect == SL_POLICY_FORBID || d.overflow) {
            dnf_free(&d);
            continue;
        }
        uint32_t k1, t1;
        sl_policy_rule_masks(p, r->cond, &k1, &t1);
        const struct pnode *o1 = ori_conjunct(p, r->cond);
        for (uint32_t j = 0; j < p->nrules && budget > 0; j++) {
            const struct prule *f = &p->rules[j];
            if (f->effect != SL_POLICY_FORBID)
                continue;
            uint32_t k2, t2;
            sl_policy_rule_masks(p, f->cond, &k2, &t2);
            if (!(k1 & k2) || !(t1 & t2) || ori_disjoint(p, o1, ori_conjunct(p, f->cond)))
                continue;
            budget--;
            struct dnf nf, both;
            dnf_of(p, f->cond, 1, &nf, 0);
            dnf_product(&both, &d, &nf);
            int shadowed = dnf_unsat(p, &both);
            dnf_free(&nf);
            dnf_free(&both);
            if (shadowed) {
                sl_policy_diag_add(dg, SL_PDIAG_WARNING, r->line, r->col,
                                   "%s rule '%s' never takes effect: whenever it matches, forbid rule '%s' (line %d) matches too",
                                   r->effect == SL_POLICY_HOLD ? "hold" : "permit", p->pool + r->id,
                                   p->pool + f->id, f->line);
                break;
            }
        }
        dnf_free(&d);
    }
    if (budget <= 0)
        sl_policy_diag_add(dg, SL_PDIAG_WARNING, 0, 0,
                           "the policy is too large to check every rule against every forbid; "
                           "shadowing was checked for the first %d pairs", PAIR_BUDGET);
}
