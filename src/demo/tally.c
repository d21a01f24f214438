/*
 * tally.c - one gateway's audit log as the demo's table: queries by requester class and
 * outcome (docs/demo.md §4).
 *
 * Two passes over the same files, both with the audit library:
 *   1. sl_audit_report (what `stateline report` prints) gives the totals: queries and the
 *      report outcomes (released, redacted, denied, held, noticed, timed out);
 *   2. sl_audit_read_dir + sl_audit_decode give the split the report does not make: the
 *      requester class of each outcome (parent agency, federal line, requester state
 *      against this state), "not on file" apart from released (a release entry whose text
 *      is "not on file", as the gateway writes it), and "failed" as an error.
 * Counted per entry, as the report counts: entries of type decision, hold and release
 * that carry one of the outcomes released, redacted, held, denied or failed are the
 * query's outcome (the gateway writes exactly one such entry per query).  The demo
 * prints both and says where they differ.
 *
 * Holds pending: hold entries (outcome held) anywhere in the log, of this run or an
 * earlier one, whose reference has no later review entry and no timed-out outcome.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stateline/audit.h"
#include "stateline/core.h"
#include "stateline/demo.h"

struct tally_ctx {
    const char *dest;
    int64_t from_us, to_us;
    struct sl_demo_tally *t;
    /* references of held queries not yet resolved (a small open list: demo-sized) */
    char **held;
    size_t nheld, capheld;
};

static void str_of(const struct sl_audit_str *s, char *out, size_t cap)
{
    size_t n = s->len < cap - 1 ? s->len : cap - 1;
    if (n)
        memcpy(out, s->p, n);
    out[n] = 0;
}

static void held_add(struct tally_ctx *c, const char *ref)
{
    if (c->nheld == c->capheld) {
        c->capheld = c->capheld ? c->capheld * 2 : 64;
        c->held = sl_xrealloc(c->held, c->capheld * sizeof *c->held);
    }
    c->held[c->nheld++] = sl_xstrdup(ref);
}

static void held_resolve(struct tally_ctx *c, const char *ref)
{
    for (size_t i = 0; i < c->nheld; i++)
        if (strcmp(c->held[i], ref) == 0) {
            free(c->held[i]);
            c->held[i] = c->held[--c->nheld];
            return;
        }
}

static int on_entry(uint64_t index, const uint8_t *buf, size_t len, void *arg)
{
    struct tally_ctx *c = arg;
    struct sl_demo_tally *t = c->t;
    (void)index;
    struct sl_audit_entry e;
    if (sl_audit_decode(buf, len, &e, NULL, 0) != 0) {
        t->undecodable++;
        return 0;
    }
    /* Holds are followed over the whole log (a hold of an earlier run may still wait);
     * everything else is counted in the run's window. */
    int in_window = e.time_us >= c->from_us && e.time_us < c->to_us;
    char ref[80], parent[64], member[16], type[8], rstate[8], text[64];
    str_of(&e.ref, ref, sizeof ref);
    str_of(&e.parent, parent, sizeof parent);
    str_of(&e.member, member, sizeof member);
    str_of(&e.agency_type, type, sizeof type);
    str_of(&e.req_state, rstate, sizeof rstate);
    str_of(&e.text, text, sizeof text);
    int has_out = (e.present & SL_AF_BIT(SL_AF_OUTCOME)) != 0;

    if (e.type == SL_AUDIT_HOLD && has_out && e.outcome == SL_AUDIT_OUT_HELD && ref[0])
        held_add(c, ref);
    else if ((e.type == SL_AUDIT_REVIEW ||
              (has_out && e.outcome == SL_AUDIT_OUT_TIMED_OUT)) && ref[0])
        held_resolve(c, ref);
    if (!in_window)
        return 0;
    switch (e.type) {
    case SL_AUDIT_QUERY:
        t->queries++;
        return 0;
    case SL_AUDIT_NOTICE_CREATED:
        t->notices_created++;
        return 0;
    case SL_AUDIT_DECISION:
    case SL_AUDIT_HOLD:
    case SL_AUDIT_RELEASE:
        break;
    default:
        return 0;
    }
    if (!has_out)
        return 0;
    int out;
    switch (e.outcome) {
    case SL_AUDIT_OUT_RELEASED:
        out = strcmp(text, "not on file") == 0 ? SL_DEMO_NOT_ON_FILE : SL_DEMO_RELEASED;
        break;
    case SL_AUDIT_OUT_REDACTED: out = SL_DEMO_REDACTED; break;
    case SL_AUDIT_OUT_HELD: out = SL_DEMO_HELD; break;
    case SL_AUDIT_OUT_DENIED: out = SL_DEMO_DENIED; break;
    case SL_AUDIT_OUT_FAILED: out = SL_DEMO_ERROR; break;
    default: return 0;
    }
    if (e.type == SL_AUDIT_HOLD && out == SL_DEMO_HELD)
        t->holds++;
    int cls = sl_demo_classify(c->dest, rstate, parent, sl_demo_is_federal(member, type));
    t->cell[cls][out]++;
    t->outcomes++;
    return 0;
}

static uint64_t jint(json_t *obj, const char *k)
{
    json_t *v = json_object_get(obj, k);
    return v && json_is_integer(v) && json_integer_value(v) > 0
               ? (uint64_t)json_integer_value(v)
               : 0;
}

int sl_demo_tally_log(const char *audit_dir, const char *dest, int64_t from_us, int64_t to_us,
                      struct sl_demo_tally *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    /* 1. the report's figures */
    json_t *rep = sl_audit_report(audit_dir, from_us, to_us, err, errlen);
    if (!rep)
        return -1;
    t->report_queries = jint(rep, "queries");
    json_t *o = json_object_get(rep, "outcomes");
    t->report_released = jint(o, "released");
    t->report_redacted = jint(o, "redacted");
    t->report_denied = jint(o, "denied");
    t->report_held = jint(o, "held");
    t->report_noticed = jint(o, "noticed");
    t->report_timed_out = jint(o, "timed-out");
    json_decref(rep);

    /* 2. the split by class */
    struct tally_ctx c = {dest, from_us, to_us, t, NULL, 0, 0};
    struct sl_audit_reader_cb cb = {on_entry, NULL, &c};
    int rc = sl_audit_read_dir(audit_dir, &cb, err, errlen);
    t->holds_pending = c.nheld;
    for (size_t i = 0; i < c.nheld; i++)
        free(c.held[i]);
    free(c.held);
    return rc < 0 ? -1 : 0;
}
