/*
 * gw_policy.c - the gateway's one decision function and the policy in force.
 *
 * Reads: the policy file of the config (docs/policy-language.md), or, without one, the
 * configured default as the two-line policy "state XX / default permit|forbid" (so even
 * the default decision has a policy hash in the audit log).
 *
 * The file is looked at every policy_poll_ms (stat: mtime, size, inode); a changed file
 * is compiled on the loop thread and swapped into the slot (policy.h): queries decided
 * before the swap keep their decision, queries after it see the new policy.  A file that
 * does not check leaves the old policy in force and its errors in the log.  A policy for
 * another state is refused the same way.
 *
 * The records side (store.h) is used here only for the set of classes it can withhold.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gw_int.h"
#include "stateline/core.h"
#include "stateline/policy.h"
#include "stateline/store.h"

struct gw_policy {
    const struct sl_gw_config *cfg;
    struct sl_policy_slot *slot;
    /* the file as last looked at: a changed signature triggers a compile */
    int have_sig;
    struct timespec mtime;
    off_t size;
    ino_t ino;
    /* queries by ORI and by user, for the policy's rate conditions (P-22); made when a
     * policy in force first reads them; only the gateway's loop thread uses it */
    struct sl_policy_counts *counts;
    time_t full_logged; /* when "the tables are full" was last logged (once a minute) */
};

/* Keys each of the gateway's count tables may hold (ORIs, or ORI + ATN users, that sent
 * something in the window): a whole national directory is 18,000 ORIs. */
#define GW_COUNT_KEYS (1u << 18)

static void log_diags(const struct sl_policy_diags *d, const char *path)
{
    char line[400];
    for (int i = 0; d && i < d->n; i++) {
        sl_policy_diag_format(&d->v[i], path, line, sizeof line);
        if (d->v[i].level == SL_PDIAG_ERROR)
            SL_ERROR("gateway", "%s", line);
        else
            SL_WARN("gateway", "%s", line);
    }
}

/* Compile the file (or the default); NULL when it does not check (logged). */
static struct sl_policy *compile_current(struct gw_policy *gp)
{
    const struct sl_gw_config *cfg = gp->cfg;
    struct sl_policy *p = NULL;
    struct sl_policy_diags d = {0};
    int rc;
    if (cfg->policy[0]) {
        rc = sl_policy_load_file(cfg->policy, NULL, &p, &d);
    } else {
        char text[64];
        int n = snprintf(text, sizeof text, "state %s\ndefault %s\n", cfg->state,
                         cfg->default_effect == GW_FORBID ? "forbid" : "permit");
        rc = sl_policy_compile(text, (size_t)n, "(default)", NULL, &p, &d);
    }
    if (rc != 0) {
        log_diags(&d, cfg->policy[0] ? cfg->policy : "(default)");
        SL_ERROR("gateway", "policy %s does not check (%d errors): not put in force",
                 cfg->policy, d.nerrors);
        sl_policy_diags_free(&d);
        return NULL;
    }
    if (d.nwarnings)
        log_diags(&d, cfg->policy);
    sl_policy_diags_free(&d);
    if (strcmp(sl_policy_state(p), cfg->state) != 0) {
        SL_ERROR("gateway", "policy %s is for state %s, this gateway answers for %s: "
                 "not put in force", cfg->policy, sl_policy_state(p), cfg->state);
        sl_policy_unref(p);
        return NULL;
    }
    return p;
}

static int file_sig(struct gw_policy *gp, struct stat *st)
{
    if (stat(gp->cfg->policy, st) != 0)
        return -1;
    return 0;
}

struct sl_policy_slot *gw_policy_slot(struct gw_policy *gp)
{
    return gp->slot;
}

struct gw_policy *gw_policy_new(const struct sl_gw_config *cfg)
{
    struct gw_policy *gp = sl_xcalloc(1, sizeof *gp);
    gp->cfg = cfg;
    gp->slot = sl_policy_slot_new();
    struct stat st;
    if (cfg->policy[0] && file_sig(gp, &st) == 0) {
        gp->have_sig = 1;
        gp->mtime = st.st_mtim;
        gp->size = st.st_size;
        gp->ino = st.st_ino;
    }
    struct sl_policy *p = compile_current(gp);
    if (p)
        sl_policy_slot_swap(gp->slot, p);
    else
        SL_ERROR("gateway", "NO POLICY IN FORCE: queries are denied (%s) until %s checks",
                 cfg->outage == SL_GW_OUTAGE_DENY_ALL ? "all" : "external requesters",
                 cfg->policy);
    return gp;
}

void gw_policy_free(struct gw_policy *gp)
{
    if (!gp)
        return;
    sl_policy_slot_free(gp->slot);
    sl_policy_counts_free(gp->counts);
    free(gp);
}

void gw_policy_hash(struct gw_policy *gp, char out[65])
{
    struct sl_policy *p = sl_policy_slot_acquire(gp->slot);
    out[0] = 0;
    if (p) {
        sl_strlcpy(out, sl_policy_hash(p), 65);
        sl_policy_unref(p);
    }
}

void gw_policy_describe(struct gw_policy *gp, char *out, size_t len)
{
    struct sl_policy *p = sl_policy_slot_acquire(gp->slot);
    if (!p) {
        snprintf(out, len, "NO POLICY IN FORCE (%s did not check): %s queries are denied",
                 gp->cfg->policy, gp->cfg->outage == SL_GW_OUTAGE_DENY_ALL ? "all"
                                                                          : "external");
        return;
    }
    if (gp->cfg->policy[0])
        snprintf(out, len, "policy %s in force: state %s, %d rules, default %s, sha256 %s",
                 gp->cfg->policy, sl_policy_state(p), sl_policy_nrules(p),
                 sl_policy_effect_name(sl_policy_default(p)), sl_policy_hash(p));
    else
        snprintf(out, len, "no policy file: the configured default decides every query: "
                 "default %s (state %s, sha256 %s)",
                 sl_policy_effect_name(sl_policy_default(p)), sl_policy_state(p),
                 sl_policy_hash(p));
    sl_policy_unref(p);
}

int gw_policy_poll(struct gw_policy *gp, char before[65], char after[65], int *refused)
{
    *refused = 0;
    if (!gp->cfg->policy[0])
        return 0;
    struct stat st;
    if (file_sig(gp, &st) != 0) {
        if (gp->have_sig)
            SL_WARN("gateway", "policy %s: %s (the policy in force stays)", gp->cfg->policy,
                    strerror(errno));
        gp->have_sig = 0;
        return 0;
    }
    if (gp->have_sig && st.st_mtim.tv_sec == gp->mtime.tv_sec &&
        st.st_mtim.tv_nsec == gp->mtime.tv_nsec && st.st_size == gp->size &&
        st.st_ino == gp->ino)
        return 0;
    gp->have_sig = 1;
    gp->mtime = st.st_mtim;
    gp->size = st.st_size;
    gp->ino = st.st_ino;

    gw_policy_hash(gp, before);
    struct sl_policy *p = compile_current(gp);
    if (!p) {
        *refused = 1;
        SL_ERROR("gateway", "policy %s changed but does not check: the policy in force "
                 "(sha256 %s) stays", gp->cfg->policy, before[0] ? before : "none");
        return 0;
    }
    sl_strlcpy(after, sl_policy_hash(p), 65);
    if (strcmp(before, after) == 0) {
        sl_policy_unref(p);
        return 0; /* touched, same text */
    }
    int nrules = sl_policy_nrules(p);
    sl_policy_slot_swap(gp->slot, p);
    SL_INFO("gateway", "policy %s in force: %d rules, sha256 %s (was %s)", gp->cfg->policy,
            nrules, after, before[0] ? before : "none");
    return 1;
}

unsigned gw_policy_store_mask(uint32_t policy_mask, int *nunmapped, char *unmapped,
                              size_t len)
{
    /* The store withholds every class the policy language names (SL_DC_ALL, the
     * same bits); a bit outside that set is a class this gateway cannot apply, which
     * means no release.  It is reported, never dropped. */
    unsigned out = policy_mask & SL_DC_ALL;
    uint32_t extra = policy_mask & ~SL_DC_ALL;
    *nunmapped = 0;
    if (len)
        unmapped[0] = 0;
    for (int i = 0; i < 32 && extra; i++) {
        if (!(extra & (1u << i)))
            continue;
        extra &= ~(1u << i);
        size_t l = strlen(unmapped);
        snprintf(unmapped + l, len - l, "%sclass %d", l ? ", " : "", i);
        (*nunmapped)++;
    }
    return out;
}

/* What snprintf(dst + *l, cap - *l, "%s", s) wrote, for *l < cap: as much of s as fits
 * and a NUL; *l grows by the length of s, as by snprintf's return (it may pass cap).
 * glibc's snprintf was an eighth of the decision's cost (a redacted release ran it five
 * to ten times); "(null)" is what it printed for a NULL. */
static void bcat(char *dst, size_t cap, size_t *l, const char *s)
{
    if (!s)
        s = "(null)";
    size_t n = strlen(s);
    if (*l < cap) {
        size_t room = cap - 1 - *l, cp = n < room ? n : room;
        memcpy(dst + *l, s, cp);
        dst[*l + cp] = 0;
    }
    *l += n;
}

static void add_reason(struct sl_policy *p, const char *id, char *why, size_t len)
{
    struct sl_policy_rule_info info;
    int i = sl_policy_rule_find(p, id);
    size_t l = strlen(why);
    /* "%s%s: %s" or "%s%s" */
    bcat(why, len, &l, l ? "; " : "");
    bcat(why, len, &l, id);
    if (i >= 0 && sl_policy_rule_info(p, i, &info) == 0) {
        bcat(why, len, &l, ": ");
        bcat(why, len, &l, info.reason);
    }
}

/* "photo, ssn (photos-stay-home); address (cbp-border-duties)": which rule withheld what,
 * for the line of the reply that says so. */
static void withheld_by(struct sl_policy *p, struct gw_verdict *v, uint32_t redact)
{
    size_t l = 0;
    const size_t cap = sizeof v->withheld_by;
    for (int r = 0; r < v->nrules; r++) {
        struct sl_policy_rule_info info;
        int i = sl_policy_rule_find(p, v->rules[r]);
        if (i < 0 || sl_policy_rule_info(p, i, &info) != 0 || !(info.redact & redact))
            continue;
        if (l)
            bcat(v->withheld_by, cap, &l, "; ");
        int first = 1;
        for (int c = 0; c < SL_DC_COUNT && l < cap; c++) {
            if (!(info.redact & (1u << c)))
                continue;
            bcat(v->withheld_by, cap, &l, first ? "" : ", ");
            bcat(v->withheld_by, cap, &l, sl_policy_dc_name(c));
            first = 0;
        }
        if (l < cap) {
            bcat(v->withheld_by, cap, &l, " (");
            bcat(v->withheld_by, cap, &l, v->rules[r]);
            bcat(v->withheld_by, cap, &l, ")");
        }
        if (l >= cap) {
            l = cap - 1;
            break;
        }
    }
}

void gw_policy_decide(struct gw_policy *gp, const struct sl_outhdr *h, const struct sl_msg *m,
                      time_t now, struct gw_verdict *v)
{
    memset(v, 0, sizeof *v);
    struct sl_policy *p = sl_policy_slot_acquire(gp->slot);
    if (!p) {
        /* no policy can be evaluated. */
        int in_state = h->has_req && strcmp(h->req.state, gp->cfg->state) == 0;
        v->no_policy = 1;
        if (gp->cfg->outage == SL_GW_OUTAGE_DENY_EXTERNAL && in_state) {
            v->effect = GW_PERMIT;
        } else {
            v->effect = GW_FORBID;
            snprintf(v->why, sizeof v->why, "NO %s POLICY IS IN FORCE (THE POLICY FILE DOES "
                     "NOT CHECK); QUERIES FROM OUTSIDE %s ARE DENIED UNTIL IT IS FIXED",
                     gp->cfg->state, gp->cfg->state);
        }
        return;
    }
    struct sl_policy_request req;
    memset(&req, 0, sizeof req);
    req.requester = h->has_req ? &h->req : NULL;
    req.requester_known = h->has_req && h->req.type[0] != 0;
    sl_policy_request_from_msg(&req, m);
    sl_policy_request_set_time(&req, now);
    uint32_t uses = sl_policy_count_uses(p);
    if (uses && h->has_req) {
        /* Counted only while a policy reads the counts: nothing is kept otherwise. */
        if (!gp->counts)
            gp->counts = sl_policy_counts_new(GW_COUNT_KEYS);
        const struct sl_policy_field *u = sl_policy_request_user(&req);
        if (sl_policy_counts_add(gp->counts, uses, (int64_t)now, h->req.ori,
                                 u ? u->val : "", u ? u->len : 0, &req) != 0 &&
            now - gp->full_logged >= 60) {
            gp->full_logged = now;
            SL_WARN("gateway", "query counts: the tables are full (%zu keys); %s's rate "
                    "conditions fail closed", sl_policy_counts_keys(gp->counts), h->req.ori);
        }
    }

    struct sl_policy_decision d;
    sl_policy_decide(p, &req, &d);

    v->effect = (int)d.effect;
    v->is_default = d.is_default;
    v->fail_closed = d.fail_closed;
    sl_strlcpy(v->hash, d.hash, sizeof v->hash);
    v->nrules = d.nrules < GW_MAX_RULES ? d.nrules : GW_MAX_RULES;
    for (int i = 0; i < v->nrules; i++)
        sl_strlcpy(v->rules[i], d.rules[i], sizeof v->rules[i]);
    v->nmarks = d.nmarks < GW_MAX_MARKS ? d.nmarks : GW_MAX_MARKS;
    for (int i = 0; i < v->nmarks; i++)
        sl_strlcpy(v->marks[i], d.marks[i], sizeof v->marks[i]);
    v->hold_deadline_s = d.hold_deadline_s;
    v->hold_then = (int)d.hold_then;
    v->withheld = gw_policy_store_mask(d.redact, &v->unmapped, v->unmapped_names,
                                       sizeof v->unmapped_names);

    /* A hold's redactions and notices apply if it is released (after review or by its
     * deadline's outcome): they are kept for the review desk. */
    if (d.effect != SL_POLICY_FORBID && d.redact)
        withheld_by(p, v, d.redact);
    if (d.effect != SL_POLICY_FORBID) {
        v->nnotices = d.nnotices < 4 ? d.nnotices : 4;
        for (int i = 0; i < v->nnotices; i++) {
            v->notices[i].days = d.notices[i].days;
            v->notices[i].business = d.notices[i].business;
            sl_strlcpy(v->notices[i].rule, d.notices[i].rule ? d.notices[i].rule : "",
                       sizeof v->notices[i].rule);
        }
    }
    if (d.effect != SL_POLICY_PERMIT) {
        for (int i = 0; i < v->nrules; i++)
            add_reason(p, v->rules[i], v->why, sizeof v->why);
        if (d.is_default && !v->why[0])
            snprintf(v->why, sizeof v->why, "NO RULE RELEASES THIS REQUEST (THE POLICY'S "
                     "DEFAULT IS %s)", d.effect == SL_POLICY_FORBID ? "FORBID" : "HOLD");
        if (d.fail_closed || d.nerrors) {
            size_t l = strlen(v->why);
            for (int i = 0; i < d.nerrors && i < SL_POLICY_MAX_ERRS; i++) {
                snprintf(v->why + l, sizeof v->why - l, "%sRULE %s COULD NOT BE EVALUATED "
                         "(%s)", l ? "; " : "", d.error_rules[i] ? d.error_rules[i] : "?",
                         sl_policy_eval_err_text(d.error_kinds[i]));
                l = strlen(v->why);
            }
        }
    }
    sl_policy_unref(p);
}
