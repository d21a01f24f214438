/*
 * test_policy_eval.c - the matcher: precedence, obligations, holds, time, fail closed,
 * the policy hash, swapping; and properties over random policies and requests:
 *   - the index finds exactly what evaluating every rule finds;
 *   - adding a forbid never turns a denial (or a hold) into a release;
 *   - adding a permit never removes a redaction another permit imposes;
 *   - the order of rules does not change a decision.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "stateline/buf.h"
#include "stateline/policy.h"

static struct sl_policy *compile(const char *src)
{
    struct sl_policy *p = NULL;
    struct sl_policy_diags dg = {0};
    if (sl_policy_compile(src, strlen(src), "t", NULL, &p, &dg) != 0) {
        for (int i = 0; i < dg.n; i++)
            print_error("%d:%d: %s\n", dg.v[i].line, dg.v[i].col, dg.v[i].msg);
        fail();
    }
    sl_policy_diags_free(&dg);
    return p;
}

struct req {
    struct sl_requester q;
    struct sl_policy_request r;
    char text[256];
};

static void mkreq(struct req *x, const char *requester, const char *request, const char *when)
{
    memset(x, 0, sizeof(*x));
    int known;
    char err[200];
    assert_int_equal(sl_policy_parse_requester(requester, &x->q, &known, err, sizeof(err)), 0);
    snprintf(x->text, sizeof(x->text), "%s", request);
    assert_int_equal(sl_policy_parse_request_text(x->text, &x->r, err, sizeof(err)), 0);
    x->r.requester = &x->q;
    x->r.requester_known = known;
    if (when) {
        assert_int_equal(sl_policy_parse_time(when, &x->r.local), 0);
        x->r.has_time = 1;
    }
}

static int has_rule(const struct sl_policy_decision *d, const char *id)
{
    for (int i = 0; i < d->nrules; i++)
        if (strcmp(d->rules[i], id) == 0)
            return 1;
    return 0;
}

#define DC(x) (1u << SL_DC_##x)

static const char *precedence_src =
    "state WA\ndefault permit\n"
    "rule f \"r\" forbid when requester.parent under \"DHS/ICE\"\n"
    "rule h \"r\" hold when requester.type = FE\n  deadline 72h, then permit\n  redact address\n"
    "rule h2 \"r\" hold when requester.type = FE and key = KQ\n  deadline 24h, then forbid\n"
    "rule p1 \"r\" permit when not in-state\n  redact photo, ssn\n  notify subject within 3 business days\n"
    "  mark \"M1\"\n"
    "rule p2 \"r\" permit when requester.type in (FE, PD) and not in-state\n  redact dob\n"
    "  notify subject within 5 days\n  mark \"M2\"\n"
    "rule p3 \"r\" permit when not in-state and RSN present\n  redact photo\n  mark \"M1\"\n";

static void test_precedence(void **state)
{
    (void)state;
    struct sl_policy *p = compile(precedence_src);
    struct sl_policy_decision d;
    struct req x;
    /* forbid beats hold beats permit */
    mkreq(&x, "ORI=DCICE0100,TYPE=FE,PARENT=DHS/ICE/ERO", "DQ.DCICE0100.WA.TXT OLN/1", NULL);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_FORBID);
    assert_int_equal(d.nrules, 1);
    assert_true(has_rule(&d, "f"));
    assert_int_equal(d.redact, 0);
    assert_int_equal(d.nnotices, 0);
    assert_int_equal(d.nmarks, 0);
    /* hold beats permit; a hold carries the permits' and its own obligations */
    mkreq(&x, "ORI=DCFBI0000,TYPE=FE,PARENT=DOJ/FBI", "DQ.DCFBI0000.WA.TXT OLN/1", NULL);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_HOLD);
    assert_int_equal(d.nrules, 1);
    assert_true(has_rule(&d, "h"));
    assert_int_equal(d.hold_deadline_s, 72 * 3600);
    assert_int_equal(d.hold_then, SL_POLICY_PERMIT);
    assert_int_equal(d.redact, DC(ADDRESS) | DC(PHOTO) | DC(SSN) | DC(DOB));
    /* two holds: the shorter deadline, and forbid if either says so */
    mkreq(&x, "ORI=DCFBI0000,TYPE=FE,PARENT=DOJ/FBI", "KQ.DCFBI0000.WA.TXT OLN/1", NULL);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_HOLD);
    assert_int_equal(d.nrules, 2);
    assert_string_equal(d.rules[0], "h");
    assert_string_equal(d.rules[1], "h2");
    assert_int_equal(d.hold_deadline_s, 24 * 3600);
    assert_int_equal(d.hold_then, SL_POLICY_FORBID);
    /* permits: union of redactions, notices and marks (deduplicated) */
    mkreq(&x, "ORI=OR0260200,TYPE=PD", "DQ.OR0260200.WA.TXT OLN/1.RSN/T", NULL);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_PERMIT);
    assert_false(d.is_default);
    assert_int_equal(d.nrules, 3);
    assert_int_equal(d.nrules_total, 3);
    assert_int_equal(d.redact, DC(PHOTO) | DC(SSN) | DC(DOB));
    assert_int_equal(d.nnotices, 2);
    assert_int_equal(d.notices[0].days + d.notices[1].days, 8);
    assert_int_equal(d.notices[0].business + d.notices[1].business, 1);
    assert_int_equal(d.nmarks, 2);
    /* no rule: the default */
    mkreq(&x, "ORI=WA0170100,TYPE=PD", "DQ.WA0170100.WA.TXT OLN/1", NULL);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_PERMIT);
    assert_true(d.is_default);
    assert_int_equal(d.nrules, 0);
    assert_int_equal(d.nerrors, 0);
    sl_policy_unref(p);

    p = compile("state WA\ndefault forbid\nrule p \"r\" permit when in-state\n  redact ssn\n");
    mkreq(&x, "ORI=OR0260200,TYPE=PD", "DQ.OR0260200.WA.TXT OLN/1", NULL);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_FORBID);
    assert_true(d.is_default);
    mkreq(&x, "ORI=WA0260200,TYPE=PD", "DQ.WA0260200.WA.TXT OLN/1", NULL);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_PERMIT);
    assert_int_equal(d.redact, DC(SSN));
    sl_policy_unref(p);
}

static void test_conditions(void **state)
{
    (void)state;
    struct sl_policy *p = compile(
        "state WA\ndefault permit\n"
        "rule ori \"r\" forbid when requester.ori matches \"ID0??0000\"\n"
        "rule exact \"r\" forbid when requester.ori = NV0010000\n"
        "rule member \"r\" forbid when requester.member = XX\n"
        "rule region \"r\" forbid when via region and key = RQ\n"
        "rule nl \"r\" forbid when key = DQG or (via nationwide and key = KQ)\n"
        "rule tag \"r\" forbid when requester.tags has (a, b) and requester.categories has C\n"
        "rule pur \"r\" forbid when PUR in (E, J) or CAS matches \"BAD*\"\n"
        "rule lgp \"r\" forbid when key = DNQ and LGP/ absent\n"
        "rule twice \"r\" forbid when requester.ori in (MT0000001, MT0000001)\n"
        "rule tree \"r\" forbid when requester.parent under (\"X/Y\", X, \"X/Y\") and requester.parent = \"X/Y/Z\"\n");
    struct sl_policy_decision d;
    struct req x;
    struct {
        const char *who, *msg, *rule;
    } t[] = {
        {"ORI=ID0120000,TYPE=PD", "DQ.ID0120000.WA.TXT OLN/1", "ori"},
        {"ORI=ID0120001,TYPE=PD", "DQ.ID0120001.WA.TXT OLN/1", NULL},
        {"ORI=NV0010000,TYPE=SO", "DQ.NV0010000.WA.TXT OLN/1", "exact"},
        {"ORI=NV0010001,TYPE=SO,MEMBER=XX", "DQ.NV0010001.WA.TXT OLN/1", "member"},
        {"ORI=OR0010000,TYPE=PD", "RQ.OR0010000.G1.TXT LIC/A", "region"},
        {"ORI=OR0010000,TYPE=PD", "RQG.OR0010000.G1.TXT LIC/A", "region"},
        {"ORI=OR0010000,TYPE=PD", "RQ.OR0010000.WA.TXT LIC/A", NULL},
        {"ORI=OR0010000,TYPE=PD", "DQ.OR0010000.G1.TXT NAM/A", "nl"},
        {"ORI=OR0010000,TYPE=PD", "DQ.OR0010000.NL.TXT NAM/A", NULL},
        {"ORI=OR0010000,TYPE=PD", "KQ.OR0010000.NL.TXT OLN/A", "nl"},
        {"ORI=OR0010000,TYPE=PD,TAGS=x b,CATS=CD", "DQ.OR0010000.WA.TXT OLN/1", "tag"},
        {"ORI=OR0010000,TYPE=PD,TAGS=x b,CATS=D", "DQ.OR0010000.WA.TXT OLN/1", NULL},
        {"ORI=OR0010000,TYPE=PD,TAGS=xb,CATS=C", "DQ.OR0010000.WA.TXT OLN/1", NULL},
        {"ORI=OR0010000,TYPE=PD", "KQ.OR0010000.WA.TXT OLN/1.PUR/J", "pur"},
        {"ORI=OR0010000,TYPE=PD", "KQ.OR0010000.WA.TXT OLN/1.PUR/C.CAS/BAD-1", "pur"},
        {"ORI=OR0010000,TYPE=PD", "KQ.OR0010000.WA.TXT OLN/1.PUR/C.CAS/OK-1", NULL},
        {"ORI=OR0010000,TYPE=PD", "DNQ.OR0010000.WA.TXT NAM/A", "lgp"},
        {"ORI=OR0010000,TYPE=PD", "DNQ.OR0010000.WA.TXT NAM/A.LGP/X", NULL},
        {"ORI=OR0010000,TYPE=PD", "DNQ.OR0010000.WA.TXT NAM/A.LGP/", "lgp"},
        {"ORI=MT0000001,TYPE=PD", "DQ.MT0000001.WA.TXT OLN/1", "twice"},
        {"ORI=MT0000002,TYPE=PD,PARENT=X/Y/Z", "DQ.MT0000002.WA.TXT OLN/1", "tree"},
        {"ORI=MT0000002,TYPE=PD,PARENT=X/YY", "DQ.MT0000002.WA.TXT OLN/1", NULL},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        mkreq(&x, t[i].who, t[i].msg, NULL);
        sl_policy_decide(p, &x.r, &d);
        int ok = t[i].rule ? d.effect == SL_POLICY_FORBID && d.nrules == 1 && has_rule(&d, t[i].rule)
                           : d.effect == SL_POLICY_PERMIT && d.is_default;
        if (!ok || d.nerrors) {
            print_error("case %zu (%s): effect %d rules %d first %s\n", i, t[i].msg, d.effect,
                        d.nrules, d.nrules ? d.rules[0] : "-");
            fail();
        }
    }
    sl_policy_unref(p);
}

static void test_time(void **state)
{
    (void)state;
    struct sl_policy *p = compile(
        "state WA\ndefault permit\n"
        "rule night \"r\" hold when not in-state and time between 22:00 and 06:00\n"
        "  deadline 12h, then forbid\n"
        "rule weekend \"r\" forbid when requester.type = FE and weekday in (sat, sun)\n"
        "rule blackout \"r\" forbid when requester.type = SO and date between 2026-12-24 and 2026-12-26\n"
        "rule until \"r\" forbid when requester.type = JA and date until 2026-01-31\n");
    struct sl_policy_decision d;
    struct req x;
    struct {
        const char *who, *when, *rule;
    } t[] = {
        {"ORI=OR0010000,TYPE=PD", "2026-11-26 23:30", "night"},
        {"ORI=OR0010000,TYPE=PD", "2026-11-26 05:59", "night"},
        {"ORI=OR0010000,TYPE=PD", "2026-11-26 06:00", NULL},
        {"ORI=OR0010000,TYPE=PD", "2026-11-26 21:59", NULL},
        {"ORI=WA0010000,TYPE=PD", "2026-11-26 23:30", NULL},
        {"ORI=DCFBI0000,TYPE=FE", "2026-11-28 12:00", "weekend"}, /* a Saturday */
        {"ORI=DCFBI0000,TYPE=FE", "2026-11-29 12:00", "weekend"}, /* a Sunday */
        {"ORI=DCFBI0000,TYPE=FE", "2026-11-30 12:00", NULL},      /* a Monday */
        {"ORI=WA0020000,TYPE=SO", "2026-12-24 00:00", "blackout"},
        {"ORI=WA0020000,TYPE=SO", "2026-12-26 23:59", "blackout"},
        {"ORI=WA0020000,TYPE=SO", "2026-12-27 00:00", NULL},
        {"ORI=WA0020000,TYPE=JA", "2026-01-31 10:00", "until"},
        {"ORI=WA0020000,TYPE=JA", "2026-02-01 10:00", NULL},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        mkreq(&x, t[i].who, "DQ.XX0000000.WA.TXT OLN/1", t[i].when);
        sl_policy_decide(p, &x.r, &d);
        int ok = t[i].rule ? d.nrules == 1 && has_rule(&d, t[i].rule) : d.is_default;
        if (!ok || d.nerrors) {
            print_error("case %zu (%s %s): effect %d rules %d\n", i, t[i].who, t[i].when, d.effect,
                        d.nrules);
            fail();
        }
    }
    /* Weekday computed from the date. */
    struct sl_policy_time tm;
    assert_int_equal(sl_policy_parse_time("2026-11-26T10:00", &tm), 0);
    assert_int_equal(tm.wday, 4);
    assert_int_equal(sl_policy_parse_time("2000-02-29 00:00", &tm), 0);
    assert_int_equal(tm.wday, 2);
    assert_int_equal(sl_policy_parse_time("2026-02-29 00:00", &tm), -1);
    /* No time: time conditions cannot be evaluated; the hold counts (fail closed). */
    mkreq(&x, "ORI=OR0010000,TYPE=PD", "DQ.OR0010000.WA.TXT OLN/1", NULL);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_HOLD);
    assert_true(d.fail_closed);
    assert_int_equal(d.nerrors, 1);
    assert_int_equal(d.error_kinds[0], SL_PEVAL_NO_TIME);
    assert_string_equal(d.error_rules[0], "night");
    sl_policy_unref(p);
}

static void test_fail_closed(void **state)
{
    (void)state;
    struct sl_policy *p = compile(
        "state WA\ndefault permit\n"
        "rule ice \"r\" forbid when requester.parent under \"DHS/ICE\"\n"
        "rule photo \"r\" permit when requester.type != PD\n  redact photo\n"
        "rule plain \"r\" permit when requester.tags has friendly and RSN present\n  mark \"X\"\n");
    struct sl_policy_decision d;
    struct req x;
    /* Requester not in the directory: the forbid on parent errors and counts. */
    mkreq(&x, "ORI=ZZ0000000", "DQ.ZZ0000000.WA.TXT OLN/1", NULL);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_FORBID);
    assert_true(d.fail_closed);
    assert_true(has_rule(&d, "ice"));
    assert_int_equal(d.nerrors, 2); /* plain: RSN absent makes it false whatever the tags */
    assert_int_equal(d.error_kinds[0], SL_PEVAL_UNKNOWN_REQUESTER);
    /* Only a permit with obligations errors: deny rather than release unredacted. */
    struct sl_policy *q = compile("state WA\ndefault permit\n"
                                  "rule photo \"r\" permit when requester.type != PD\n  redact photo\n"
                                  "rule free \"r\" permit when requester.type = FE or in-state\n  mark \"Y\"\n");
    sl_policy_decide(q, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_FORBID);
    assert_true(d.fail_closed);
    assert_int_equal(d.nerrors, 2);
    assert_true(has_rule(&d, "photo"));
    assert_true(has_rule(&d, "free"));
    /* The same requester known: the permit applies. */
    mkreq(&x, "ORI=ZZ0000000,TYPE=SO", "DQ.ZZ0000000.WA.TXT OLN/1", NULL);
    sl_policy_decide(q, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_PERMIT);
    assert_int_equal(d.redact, DC(PHOTO));
    assert_int_equal(d.nerrors, 0);
    /* An erroring permit without obligations is only skipped. */
    struct sl_policy *r = compile("state WA\ndefault forbid\n"
                                  "rule pd \"r\" permit when requester.type = PD\n");
    mkreq(&x, "ORI=ZZ0000000", "DQ.ZZ0000000.WA.TXT OLN/1", NULL);
    sl_policy_decide(r, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_FORBID);
    assert_true(d.is_default);
    assert_int_equal(d.nerrors, 1);
    /* No requester at all. */
    x.r.requester = NULL;
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_FORBID);
    assert_int_equal(d.error_kinds[0], SL_PEVAL_NO_REQUESTER);
    /* No message key. */
    mkreq(&x, "ORI=WA0000000,TYPE=PD", "DQ.WA0000000.WA.TXT OLN/1", NULL);
    struct sl_policy *k = compile("state WA\ndefault permit\nrule k \"r\" forbid when key = RPQ\n");
    x.r.key[0] = '\0';
    sl_policy_decide(k, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_FORBID);
    assert_int_equal(d.error_kinds[0], SL_PEVAL_NO_MESSAGE);
    /* No policy in force. */
    sl_policy_decide(NULL, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_FORBID);
    assert_true(d.fail_closed);
    sl_policy_unref(p);
    sl_policy_unref(q);
    sl_policy_unref(r);
    sl_policy_unref(k);
}

static void test_hash_and_slot(void **state)
{
    (void)state;
    const char *src = "state WA\ndefault permit\n";
    struct sl_policy *p = compile(src);
    /* sha256 of exactly those 24 bytes */
    assert_string_equal(sl_policy_hash(p),
                        "28b8af1167b4de479a2ab884456302c37b97a7a77bd725ad7e7e5731bcf8f55f");
    struct sl_policy_decision d;
    struct req x;
    mkreq(&x, "ORI=WA0000000,TYPE=PD", "DQ.WA0000000.WA.TXT OLN/1", NULL);
    sl_policy_decide(p, &x.r, &d);
    assert_string_equal(d.hash, sl_policy_hash(p));
    /* The slot: a reader keeps its policy across a swap. */
    struct sl_policy_slot *s = sl_policy_slot_new();
    assert_null(sl_policy_slot_acquire(s));
    sl_policy_slot_swap(s, p);
    struct sl_policy *held = sl_policy_slot_acquire(s);
    assert_ptr_equal(held, p);
    struct sl_policy *p2 = compile("state WA\ndefault forbid\n");
    sl_policy_slot_swap(s, p2);
    sl_policy_decide(held, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_PERMIT);
    sl_policy_unref(held); /* the old policy is freed here (ASan checks) */
    struct sl_policy *now = sl_policy_slot_acquire(s);
    sl_policy_decide(now, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_FORBID);
    assert_string_not_equal(d.hash, "HASH_PLACEHOLDER");
    sl_policy_unref(now);
    sl_policy_slot_free(s);
}

/* Readers decide while a writer swaps policies: every decision is one policy's answer,
 * never a mix, and nothing is freed under a reader (ASan). */
struct swap_ctx {
    struct sl_policy_slot *slot;
    struct req x;
    atomic_int stop;
    long decisions, bad;
};

static void *reader(void *arg)
{
    struct swap_ctx *c = arg;
    long n = 0, bad = 0;
    while (!atomic_load(&c->stop)) {
        struct sl_policy *p = sl_policy_slot_acquire(c->slot);
        struct sl_policy_decision d;
        sl_policy_decide(p, &c->x.r, &d);
        /* policy A forbids by rule "a", policy B permits by rule "b" with a redaction */
        int ok = (d.effect == SL_POLICY_FORBID && d.nrules == 1 && strcmp(d.rules[0], "a") == 0) ||
                 (d.effect == SL_POLICY_PERMIT && d.nrules == 1 && strcmp(d.rules[0], "b") == 0 &&
                  d.redact == DC(PHOTO));
        bad += !ok || strcmp(d.hash, sl_policy_hash(p)) != 0;
        sl_policy_unref(p);
        n++;
    }
    c->decisions = n;
    c->bad = bad;
    return NULL;
}

static void test_swap_under_load(void **state)
{
    (void)state;
    static const char *const srcs[2] = {
        "state WA\ndefault permit\nrule a \"r\" forbid when requester.type = FE\n",
        "state WA\ndefault forbid\nrule b \"r\" permit when requester.type = FE\n  redact photo\n",
    };
    struct swap_ctx c[2];
    struct sl_policy_slot *slot = sl_policy_slot_new();
    sl_policy_slot_swap(slot, compile(srcs[0]));
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        memset(&c[i], 0, sizeof(c[i]));
        c[i].slot = slot;
        mkreq(&c[i].x, "ORI=DCFBI0000,TYPE=FE", "DQ.DCFBI0000.WA.TXT OLN/1", NULL);
        atomic_init(&c[i].stop, 0);
        assert_int_equal(pthread_create(&th[i], NULL, reader, &c[i]), 0);
    }
    for (int k = 0; k < 400; k++)
        sl_policy_slot_swap(slot, compile(srcs[(k + 1) % 2]));
    for (int i = 0; i < 2; i++) {
        atomic_store(&c[i].stop, 1);
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].bad, 0);
    }
    sl_policy_slot_free(slot);
}

static void test_from_msg(void **state)
{
    (void)state;
    struct sl_msg m;
    memset(&m, 0, sizeof(m));
    memcpy(m.key, "DQ", 3);
    m.ndest = 2;
    memcpy(m.dest[0], "OR", 3);
    memcpy(m.dest[1], "NL", 3);
    m.nfields = 1;
    memcpy(m.fields[0].pfx, "LGP", 4);
    m.fields[0].val = "W-1";
    m.fields[0].len = 3;
    struct sl_policy_request r;
    memset(&r, 0, sizeof(r));
    sl_policy_request_from_msg(&r, &m);
    assert_string_equal(r.key, "DQ");
    assert_int_equal(r.via, SL_VIA_NATIONWIDE);
    assert_int_equal(r.nfields, 1);
    memcpy(m.dest[1], "E1", 3);
    sl_policy_request_from_msg(&r, &m);
    assert_int_equal(r.via, SL_VIA_REGION);
    assert_int_equal(sl_policy_dc_for_key("RQG"), DC(VEHICLE) | DC(OWNER) | DC(OWNER_ADDRESS));
    assert_int_equal(sl_policy_dc_lookup("owner-address"), SL_DC_OWNER_ADDRESS);
}

/* ---- properties over random policies ---- */

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
#define PICK(a) (a)[rnd(s) % (sizeof(a) / sizeof((a)[0]))]

static const char *const oris[] = {"WA0000001", "WA0000002", "OR0000001", "DC0000001", "DC0000002", "ID0000003"};
static const char *const parents[] = {"DHS/ICE/ERO", "DHS/ICE/HSI", "DHS/CBP", "DOJ/FBI", ""};
static const char *const types[] = {"PD", "FE", "SO"};
static const char *const keys[] = {"DQ", "KQ", "RQ", "DNQ"};
static const char *const dcs[] = {"photo", "ssn", "address", "dob", "owner"};

static void gen_atom(uint64_t *s, struct sl_buf *b)
{
    switch (rnd(s) % 11) {
    case 0: sl_buf_printf(b, "requester.ori = %s", PICK(oris)); break;
    case 1: sl_buf_printf(b, "requester.parent under \"%s\"", rnd(s) & 1 ? "DHS/ICE" : "DHS"); break;
    case 2: {
        const char *par = PICK(parents);
        sl_buf_printf(b, "requester.parent = \"%s\"", par[0] ? par : "DHS/CBP");
        break;
    }
    case 3: sl_buf_printf(b, "requester.type = %s", PICK(types)); break;
    case 4: sl_buf_printf(b, "key in (%s, %s)", PICK(keys), PICK(keys)); break;
    case 5: sl_buf_printf(b, "in-state"); break;
    case 6: sl_buf_printf(b, "LGP %s", rnd(s) & 1 ? "present" : "absent"); break;
    case 7: sl_buf_printf(b, "requester.tags has %s", rnd(s) & 1 ? "a" : "b"); break;
    case 8: {
        int h1 = (int)(rnd(s) % 24), h2 = (h1 + 1 + (int)(rnd(s) % 22)) % 24;
        sl_buf_printf(b, "time between %02d:00 and %02d:00", h1, h2);
        break;
    }
    case 9: sl_buf_printf(b, "RSN = %c", "NTI"[rnd(s) % 3]); break;
    default: sl_buf_printf(b, "requester.ori matches \"%s*\"", rnd(s) & 1 ? "DC" : "WA"); break;
    }
}

static void gen_cond(uint64_t *s, struct sl_buf *b, int depth)
{
    int k = depth > 2 ? 0 : (int)(rnd(s) % 4);
    if (k == 0 || k == 3) {
        if (rnd(s) % 4 == 0)
            sl_buf_append_str(b, "not ");
        gen_atom(s, b);
    } else {
        sl_buf_append_str(b, "(");
        gen_cond(s, b, depth + 1);
        sl_buf_append_str(b, k == 1 ? " and " : " or ");
        gen_cond(s, b, depth + 1);
        sl_buf_append_str(b, ")");
    }
}

/* One rule as text; eff: 0 permit, 1 hold, 2 forbid, -1 random. */
static void gen_rule(uint64_t *s, struct sl_buf *b, int id, int eff)
{
    if (eff < 0)
        eff = (int)(rnd(s) % 3);
    static const char *const names[] = {"permit", "hold", "forbid"};
    sl_buf_printf(b, "rule r%d \"generated\"\n  %s", id, names[eff]);
    if (rnd(s) % 6) {
        sl_buf_append_str(b, " when ");
        gen_cond(s, b, 0);
    }
    sl_buf_append_str(b, "\n");
    if (eff == 1)
        sl_buf_printf(b, "  deadline %dh, then %s\n", (int)(rnd(s) % 96 + 1), rnd(s) & 1 ? "forbid" : "permit");
    if (eff != 2) {
        if (rnd(s) % 2)
            sl_buf_printf(b, "  redact %s, %s\n", PICK(dcs), PICK(dcs));
        if (rnd(s) % 3 == 0)
            sl_buf_printf(b, "  notify subject within %d%s days\n", (int)(rnd(s) % 5 + 1), rnd(s) & 1 ? " business" : "");
        if (rnd(s) % 3 == 0)
            sl_buf_printf(b, "  mark \"M%d\"\n", (int)(rnd(s) % 3));
    }
}

static void gen_req(uint64_t *s, struct req *x)
{
    memset(x, 0, sizeof(*x));
    snprintf(x->q.ori, sizeof(x->q.ori), "%s", PICK(oris));
    memcpy(x->q.state, x->q.ori, 2);
    memcpy(x->q.member, x->q.ori, 2);
    snprintf(x->q.type, sizeof(x->q.type), "%s", PICK(types));
    snprintf(x->q.parent, sizeof(x->q.parent), "%s", PICK(parents));
    snprintf(x->q.tags, sizeof(x->q.tags), "%s", rnd(s) & 1 ? "a c" : "");
    const char *flds[] = {"", ".LGP/W1", ".RSN/T", ".RSN/I.LGP/X"};
    snprintf(x->text, sizeof(x->text), "%s.%s.WA.TXT OLN/1%s", PICK(keys), x->q.ori, PICK(flds));
    char err[100];
    assert_int_equal(sl_policy_parse_request_text(x->text, &x->r, err, sizeof(err)), 0);
    x->r.requester = rnd(s) % 20 ? &x->q : NULL;
    x->r.requester_known = rnd(s) % 8 != 0;
    if (rnd(s) % 8) {
        x->r.has_time = 1;
        x->r.local = (struct sl_policy_time){2026, 11, 26, (int)(rnd(s) % 24), 30, 4};
    }
}

static int rank(enum sl_policy_effect e)
{
    return e == SL_POLICY_PERMIT ? 0 : e == SL_POLICY_HOLD ? 1 : 2;
}

static int same_decision(const struct sl_policy_decision *a, const struct sl_policy_decision *b)
{
    if (a->effect != b->effect || a->is_default != b->is_default || a->redact != b->redact ||
        a->nrules != b->nrules || a->nnotices != b->nnotices || a->nmarks != b->nmarks ||
        a->nerrors != b->nerrors || a->hold_deadline_s != b->hold_deadline_s ||
        a->hold_then != b->hold_then || a->fail_closed != b->fail_closed)
        return 0;
    for (int i = 0; i < a->nrules; i++)
        if (!has_rule(b, a->rules[i]))
            return 0;
    for (int i = 0; i < a->nmarks; i++) {
        int f = 0;
        for (int j = 0; j < b->nmarks; j++)
            f |= strcmp(a->marks[i], b->marks[j]) == 0;
        if (!f)
            return 0;
    }
    return 1;
}

/* The decision's effect computed by evaluating every rule (no index). */
static enum sl_policy_effect reference(const struct sl_policy *p, const struct sl_policy_request *r)
{
    int f = 0, h = 0, pm = 0, bad = 0;
    for (int i = 0; i < sl_policy_nrules(p); i++) {
        struct sl_policy_rule_info ri;
        sl_policy_rule_info(p, i, &ri);
        int v = sl_policy_rule_eval(p, i, r, NULL);
        if (v == 0)
            continue;
        if (ri.effect == SL_POLICY_FORBID)
            f = 1;
        else if (ri.effect == SL_POLICY_HOLD)
            h = 1;
        else if (v == 1)
            pm = 1;
        else if (ri.redact || ri.notify_days || ri.mark)
            bad = 1;
    }
    if (f || bad)
        return SL_POLICY_FORBID;
    if (h)
        return SL_POLICY_HOLD;
    if (pm)
        return SL_POLICY_PERMIT;
    return sl_policy_default(p);
}

static struct sl_policy *compile_buf(struct sl_buf *b)
{
    struct sl_policy *p = NULL;
    struct sl_policy_diags dg = {0};
    struct sl_policy_opts o = {NULL, NULL, NULL, 1};
    if (sl_policy_compile((const char *)sl_buf_head(b), sl_buf_used(b), "gen", &o, &p, &dg) != 0) {
        for (int i = 0; i < dg.n; i++)
            print_error("%d:%d: %s\n", dg.v[i].line, dg.v[i].col, dg.v[i].msg);
        print_error("%.*s\n", (int)sl_buf_used(b), (const char *)sl_buf_head(b));
        fail();
    }
    sl_policy_diags_free(&dg);
    return p;
}

/* Rate conditions (P-22): the counts come in the request; absent counts fail closed. */
static void test_counts(void **state)
{
    (void)state;
    struct sl_policy *p = compile(
        "state WA\ndefault permit\n"
        "rule bulk \"r\" hold when requester.type = FE and requester.queries per hour > 50\n"
        "  deadline 72h, then forbid\n"
        "rule burst \"r\" forbid when ATN present and user.queries per minute > 20\n"
        "rule day \"r\" forbid when requester.queries per day > 1000\n");
    assert_int_equal(sl_policy_count_uses(p), SL_POLICY_USES_ORI(SL_WIN_HOUR) |
                                                   SL_POLICY_USES_ORI(SL_WIN_DAY) |
                                                   SL_POLICY_USES_USER(SL_WIN_MINUTE));
    struct req x;
    struct sl_policy_decision d;
    char err[200];
    /* no counts given: the hold and the forbid cannot be evaluated: they count (fail closed) */
    mkreq(&x, "ORI=DCICE0100,TYPE=FE", "DQ.DCICE0100.WA.TXT OLN/WDL1", NULL);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_FORBID);
    assert_true(d.nerrors >= 1 && d.error_kinds[0] == SL_PEVAL_NO_COUNT);
    /* within the limits */
    assert_int_equal(sl_policy_parse_counts("hour=50,day=1000", &x.r, err, sizeof err), 0);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_PERMIT);
    assert_int_equal(d.nerrors, 0);
    /* the 51st of the hour is held */
    assert_int_equal(sl_policy_parse_counts("hour=51", &x.r, err, sizeof err), 0);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_HOLD);
    assert_true(has_rule(&d, "bulk"));
    /* the same count from a police department: not a federal requester, released */
    mkreq(&x, "ORI=ORPD00000,TYPE=PD", "DQ.ORPD00000.WA.TXT OLN/WDL1", NULL);
    assert_int_equal(sl_policy_parse_counts("hour=51", &x.r, err, sizeof err), 0);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_PERMIT);
    /* the day's limit */
    assert_int_equal(sl_policy_parse_counts("day=1001", &x.r, err, sizeof err), 0);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_FORBID);
    assert_true(has_rule(&d, "day"));
    /* a user's count: only with a user named; without ATN/ the rule's guard is false */
    assert_int_equal(sl_policy_parse_counts("user-minute=21", &x.r, err, sizeof err), 0);
    assert_int_equal(x.r.has_user_counts, 0);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_PERMIT);
    mkreq(&x, "ORI=ORPD00000,TYPE=PD", "DQ.ORPD00000.WA.TXT OLN/WDL1.ATN/DET SMITH", NULL);
    assert_int_equal(sl_policy_parse_counts("user-minute=21", &x.r, err, sizeof err), 0);
    assert_int_equal(x.r.has_user_counts, 1);
    assert_int_equal(x.r.user_queries[SL_WIN_DAY], 21); /* a longer window: at least as many */
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_FORBID);
    assert_true(has_rule(&d, "burst"));
    assert_int_equal(sl_policy_parse_counts("user-minute=20", &x.r, err, sizeof err), 0);
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_PERMIT);
    /* a user's count that is missing while the user is named: the count is unknown */
    x.r.has_user_counts = 0;
    sl_policy_decide(p, &x.r, &d);
    assert_int_equal(d.effect, SL_POLICY_FORBID);
    assert_int_equal(d.error_kinds[0], SL_PEVAL_NO_COUNT);
    /* the count text: bad input */
    assert_int_equal(sl_policy_parse_counts("week=3", &x.r, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown window"));
    assert_int_equal(sl_policy_parse_counts("hour=0", &x.r, err, sizeof err), -1);
    assert_int_equal(sl_policy_parse_counts("hour=x", &x.r, err, sizeof err), -1);
    assert_int_equal(sl_policy_parse_counts("minute=9,hour=5", &x.r, err, sizeof err), -1);
    assert_non_null(strstr(err, "fewer"));
    /* the condition in words, as `policy show` prints it */
    struct sl_buf b = SL_BUF_INIT;
    sl_policy_rule_condition(p, 0, &b);
    sl_buf_append(&b, "", 1);
    assert_string_equal((const char *)sl_buf_head(&b),
                        "requester.type = FE and requester.queries per hour > 50");
    sl_buf_free(&b);
    sl_policy_unref(p);
}

static void test_properties(void **state)
{
    (void)state;
    uint64_t seed = 20261126;
    uint64_t *s = &seed;
    for (int round = 0; round < 300; round++) {
        int n = (int)(rnd(s) % 12) + 1;
        /* Rules as separate texts so that they can be reordered. */
        struct sl_buf rules[14];
        for (int i = 0; i < n; i++) {
            sl_buf_init(&rules[i]);
            gen_rule(s, &rules[i], i, -1);
        }
        const char *hdr = rnd(s) & 1 ? "state WA\ndefault permit\n" : "state WA\ndefault forbid\n";
        struct sl_buf base = SL_BUF_INIT, shuffled = SL_BUF_INIT, plus_f = SL_BUF_INIT,
                      plus_p = SL_BUF_INIT;
        sl_buf_append_str(&base, hdr);
        for (int i = 0; i < n; i++)
            sl_buf_append(&base, sl_buf_head(&rules[i]), sl_buf_used(&rules[i]));
        /* reversed and rotated order */
        sl_buf_append_str(&shuffled, hdr);
        int rot = (int)(rnd(s) % (uint64_t)n);
        for (int i = 0; i < n; i++) {
            int k = (n - 1 - i + rot) % n;
            sl_buf_append(&shuffled, sl_buf_head(&rules[k]), sl_buf_used(&rules[k]));
        }
        sl_buf_append(&plus_f, sl_buf_head(&base), sl_buf_used(&base));
        gen_rule(s, &plus_f, 99, 2);
        sl_buf_append(&plus_p, sl_buf_head(&base), sl_buf_used(&base));
        gen_rule(s, &plus_p, 99, 0);
        struct sl_policy *pb = compile_buf(&base), *ps = compile_buf(&shuffled),
                         *pf = compile_buf(&plus_f), *pp = compile_buf(&plus_p);
        for (int q = 0; q < 40; q++) {
            struct req x;
            gen_req(s, &x);
            struct sl_policy_decision db, dsh, dfo, dpe;
            sl_policy_decide(pb, &x.r, &db);
            sl_policy_decide(ps, &x.r, &dsh);
            sl_policy_decide(pf, &x.r, &dfo);
            sl_policy_decide(pp, &x.r, &dpe);
            /* the index agrees with evaluating every rule */
            if (db.effect != reference(pb, &x.r)) {
                print_error("index disagrees: round %d %s\n%.*s\n", round, x.text,
                            (int)sl_buf_used(&base), (const char *)sl_buf_head(&base));
                fail();
            }
            /* order does not matter */
            if (!same_decision(&db, &dsh)) {
                print_error("order changed the decision: round %d %s\n", round, x.text);
                fail();
            }
            /* a forbid never makes things more open */
            if (rank(dfo.effect) < rank(db.effect)) {
                print_error("forbid opened: round %d %s\n", round, x.text);
                fail();
            }
            /* a permit never removes a redaction */
            if (db.effect == SL_POLICY_PERMIT && dpe.effect == SL_POLICY_PERMIT &&
                (db.redact & ~dpe.redact)) {
                print_error("permit removed a redaction: round %d %s\n", round, x.text);
                fail();
            }
            assert_string_equal(db.hash, sl_policy_hash(pb));
        }
        sl_policy_unref(pb);
        sl_policy_unref(ps);
        sl_policy_unref(pf);
        sl_policy_unref(pp);
        for (int i = 0; i < n; i++)
            sl_buf_free(&rules[i]);
        sl_buf_free(&base);
        sl_buf_free(&shuffled);
        sl_buf_free(&plus_f);
        sl_buf_free(&plus_p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_fail_closed),
        cmocka_unit_test(test_hash_and_slot),
        cmocka_unit_test(test_from_msg),
        cmocka_unit_test(test_swap_under_load),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
