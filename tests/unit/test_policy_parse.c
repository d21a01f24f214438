/*
 * test_policy_parse.c - every error message of the policy parser, with its line and
 * column, and the checker's warnings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "stateline/buf.h"
#include "stateline/policy.h"

struct err_case {
    const char *src;
    int line, col;
    const char *msg;
};

static const struct err_case errors[] = {
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when requestor.type = FE\n",
     4, 15, "unknown field 'requestor'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when requester.typ = FE\n",
     4, 25, "unknown requester attribute 'typ'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when key = DL\n",
     4, 21, "unknown message key 'DL'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when requester.type = FED\n",
     4, 32, "unknown agency type 'FED'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when requester.ori = WA123\n",
     4, 31, "an ORI has 9 characters"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when requester.ori = \"WA*\"\n",
     4, 31, "is a pattern"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when requester.state = WAS\n",
     4, 33, "a state code has 2 letters"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when requester.parent under \"/DHS\"\n",
     4, 38, "is not a path"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when requester.tags = x\n",
     4, 30, "expected 'has' after requester.tags"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when requester.categories has Q\n",
     4, 40, "unknown access category 'Q'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when RSN = Q\n",
     4, 21, "RSN (reason code) has no code 'Q'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when LGP\n",
     5, 1, "expected present, absent, =, !=, in (...) or matches after LGP"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when lgp present\n",
     4, 15, "message fields are written in capitals"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when LPG present\n",
     4, 15, "unknown field 'LPG'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when requester present\n",
     4, 15, "say which requester attribute"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when via air\n",
     4, 19, "unknown route 'air'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when time from 08:00\n",
     4, 20, "expected 'between'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when time between 8 and 17:00\n",
     4, 28, "'8' is not a time of day"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when time between 08:00 to 17:00\n",
     4, 34, "expected 'and'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when time between 08:00 and 08:00\n",
     4, 38, "is empty"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when weekday = funday\n",
     4, 25, "unknown weekday 'funday'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when date before 2026-01-01\n",
     4, 20, "expected from, until, between or ="},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when date from 2026-02-30\n",
     4, 25, "is not a date"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when date between 2026-03-01 and 2026-02-01\n",
     4, 43, "ends (2026-02-01) before it starts"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when (key = DQ\n",
     5, 1, "expected ')' to close"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when key = DQ and\n",
     5, 1, "expected a condition, found end of file"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when key < DQ\n",
     4, 19, "unexpected '<'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when key == DQ\n",
     4, 20, "expected a message key, found '='"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when key in DQ\n",
     4, 22, "expected '(' after 'in'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when key = (DQ, KQ)\n",
     4, 21, "a list is not allowed here"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when key in (DQ KQ)\n",
     4, 26, "expected ',' or ')' in the list"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when key not (DQ)\n",
     4, 23, "expected 'in' after 'not'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid when key is DQ\n",
     4, 19, "write '=' to compare"},
    {"state WA\ndefault permit\nrule a \"r\"\n  allow when key = DQ\n",
     4, 3, "expected permit, forbid or hold, found 'allow'"},
    {"state WA\ndefault permit\nrule \"r\"\n  forbid\n",
     3, 6, "expected a rule id after 'rule'"},
    {"state WA\ndefault permit\nrule a!b \"r\"\n  forbid\n",
     3, 7, "unexpected character '!'"},
    {"state WA\ndefault permit\nrule a\n  forbid\n",
     4, 3, "rule 'a' needs its reason in quotes"},
    {"state WA\ndefault permit\nrule a \"\"\n  forbid\n",
     3, 8, "the reason of rule 'a' is empty"},
    {"state WA\ndefault permit\nrule a \"r\" forbid\nrule a \"s\" forbid\n",
     4, 6, "rule id 'a' is already used at line 3"},
    {"state WA\ndefault permit\nrule a \"r\"\n  forbid\n  redact photo\n",
     5, 3, "a forbid rule releases nothing"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit\n  redact face\n",
     5, 10, "unknown data class 'face'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit\n  notify person within 3 days\n",
     5, 10, "expected 'subject'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit\n  notify subject in 3 days\n",
     5, 18, "expected 'within'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit\n  notify subject within three days\n",
     5, 25, "'three' is not a number of days"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit\n  notify subject within 3 weeks\n",
     5, 27, "expected 'days' or 'business days'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit\n  notify subject within 3 days\n  notify subject within 5 days\n",
     6, 3, "already has a notify"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit\n  mark NOT-FOR-ICE\n",
     5, 8, "expected the marking text in quotes"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit\n  mark \"a\"\n  mark \"b\"\n",
     6, 3, "already has a mark"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit\n  deadline 72h, then forbid\n",
     5, 3, "only a hold rule has a deadline"},
    {"state WA\ndefault permit\nrule a \"r\"\n  hold when key = KQ\n",
     3, 1, "hold rule 'a' needs a deadline"},
    {"state WA\ndefault permit\nrule a \"r\"\n  hold\n  deadline 3 weeks, then forbid\n",
     5, 12, "'3' is not a duration"},
    {"state WA\ndefault permit\nrule a \"r\"\n  hold\n  deadline 72h then forbid\n",
     5, 16, "expected ', then forbid'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  hold\n  deadline 72h, forbid\n",
     5, 17, "expected 'then'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  hold\n  deadline 72h, then hold\n",
     5, 22, "the outcome is forbid or permit"},
    {"state WA\ndefault permit\nrule a \"r\"\n  hold\n  deadline 72h, then forbid\n  deadline 48h, then forbid\n",
     6, 3, "already has a deadline"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit when key = DQ redact photo when RSN present\n",
     4, 37, "'when' comes right after permit"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit redact photo and RSN present\n",
     4, 23, "'and' continues a condition"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit\n  redcat photo\n",
     5, 3, "unexpected 'redcat' in rule 'a' \xE2""\x80""\x94"" did you mean 'redact'?"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit\n  \"stray\"\n",
     5, 3, "expected redact, notify, mark or the next rule"},
    {"state WA\ndefault permit\nrule a \"unterminated\n  permit\n",
     3, 8, "unterminated string"},
    {"default permit\nrule a \"r\" permit\n",
     1, 1, "'state WA' first"},
    {"state WA\nrule a \"r\" permit\n",
     1, 1, "'default permit' or 'default forbid'"},
    {"state wa\ndefault permit\n",
     1, 7, "expected a 2-letter state code"},
    {"state WA\nstate OR\ndefault permit\n",
     2, 1, "'state' is given twice"},
    {"state WA\ndefault allow\n",
     2, 9, "the default is permit or forbid"},
    {"state WA\ndefault hold\n",
     2, 9, "a hold needs a rule with a deadline"},
    {"state WA\ndefault permit\ndefault forbid\n",
     3, 1, "'default' is given twice"},
    {"state WA\ndefault permit\ntitle WA\n",
     3, 7, "expected the title in quotes"},
    {"state WA\ndefualt permit\n",
     2, 1, "did you mean 'default'?"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit when key = D\xC3""\x89""\n",
     4, 22, "non-ASCII character outside a quoted string"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit when requester.parent not over \"DHS\"\n",
     4, 36, "expected 'under' or 'in' after 'not'"},
    {"state WA\ndefault permit\nrule a \"r\"\n  permit when requester.tags has \"two words\"\n",
     4, 34, "a tag is one word"},
    {"state WA\ndefault permit\nrule xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx \"r\"\n  permit\n",
     3, 6, "must be letters, digits"},
};

static void test_every_error(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        const struct err_case *c = &errors[i];
        struct sl_policy *p = (struct sl_policy *)1;
        struct sl_policy_diags dg = {0};
        int rc = sl_policy_compile(c->src, strlen(c->src), "t.policy", NULL, &p, &dg);
        if (rc != -1 || p != NULL || dg.nerrors < 1) {
            print_error("case %zu: compiled: %s\n", i, c->src);
            fail();
        }
        const struct sl_policy_diag *d = NULL;
        for (int k = 0; k < dg.n && !d; k++)
            if (dg.v[k].level == SL_PDIAG_ERROR)
                d = &dg.v[k];
        if (d->line != c->line || d->col != c->col || !strstr(d->msg, c->msg)) {
            print_error("case %zu: got %d:%d %s\n  want %d:%d %s\n", i, d->line, d->col, d->msg,
                        c->line, c->col, c->msg);
            fail();
        }
        sl_policy_diags_free(&dg);
    }
}

static void test_format_matches_brief(void **state)
{
    (void)state;
    const char *src = "state WA\ndefault permit\n# a comment\n\n\n\n\n\n\n\n\n"
                      "rule x \"r\" forbid when requestor.parent under DHS\n";
    struct sl_policy *p;
    struct sl_policy_diags dg = {0};
    assert_int_equal(sl_policy_compile(src, strlen(src), "wa.policy", NULL, &p, &dg), -1);
    char buf[300];
    sl_policy_diag_format(&dg.v[0], "wa.policy", buf, sizeof(buf));
    assert_string_equal(buf, "wa.policy:12:24: error: unknown field 'requestor' \xE2\x80\x94 did you mean 'requester'?");
    sl_policy_diags_free(&dg);
}

static void test_recovery_reports_every_rule(void **state)
{
    (void)state;
    const char *src = "state WA\ndefault permit\n"
                      "rule a \"r\" forbid when key = XX\n"
                      "rule b \"r\" forbid when key = DQ\n"
                      "rule c \"r\" permit when requester.type = ZZ\n";
    struct sl_policy *p;
    struct sl_policy_diags dg = {0};
    assert_int_equal(sl_policy_compile(src, strlen(src), "t", NULL, &p, &dg), -1);
    assert_null(p);
    assert_int_equal(dg.nerrors, 2);
    assert_int_equal(dg.v[0].line, 3);
    assert_int_equal(dg.v[1].line, 5);
    sl_policy_diags_free(&dg);
}

static void test_condition_too_long(void **state)
{
    (void)state;
    struct sl_buf b = SL_BUF_INIT;
    sl_buf_append_str(&b, "state WA\ndefault permit\nrule long \"r\" forbid when RSN present");
    for (int i = 0; i < 1200; i++)
        sl_buf_append_str(&b, " and RSN present");
    sl_buf_append_str(&b, "\n");
    struct sl_policy *p;
    struct sl_policy_diags dg = {0};
    assert_int_equal(sl_policy_compile((const char *)sl_buf_head(&b), sl_buf_used(&b), "t", NULL, &p, &dg), -1);
    assert_int_equal(dg.v[0].line, 3);
    assert_int_equal(dg.v[0].col, 39 + 16 * 1000); /* the 1001st "and" */
    assert_non_null(strstr(dg.v[0].msg, "more than 1000 'and'/'or'"));
    sl_policy_diags_free(&dg);
    sl_buf_free(&b);
}

static void test_nul_and_bom(void **state)
{
    (void)state;
    struct sl_policy *p;
    struct sl_policy_diags dg = {0};
    const char nul[] = "state WA\0default permit\n";
    assert_int_equal(sl_policy_compile(nul, sizeof(nul) - 1, "t", NULL, &p, &dg), -1);
    assert_non_null(strstr(dg.v[0].msg, "NUL byte"));
    sl_policy_diags_free(&dg);
    const char *bom = "\xEF\xBB\xBFstate WA\ndefault forbid\n";
    assert_int_equal(sl_policy_compile(bom, strlen(bom), "t", NULL, &p, &dg), 0);
    assert_int_equal(sl_policy_default(p), SL_POLICY_FORBID);
    sl_policy_unref(p);
    sl_policy_diags_free(&dg);
}

/* Compile src (must succeed) and return the warnings. */
static struct sl_policy_diags warnings_of(const char *src, const struct sl_policy_opts *o)
{
    struct sl_policy *p;
    struct sl_policy_diags dg = {0};
    int rc = sl_policy_compile(src, strlen(src), "t", o, &p, &dg);
    assert_int_equal(rc, 0);
    assert_int_equal(dg.nerrors, 0);
    sl_policy_unref(p);
    return dg;
}

static int has_warning(const struct sl_policy_diags *dg, int line, const char *sub)
{
    for (int i = 0; i < dg->n; i++)
        if (dg->v[i].level == SL_PDIAG_WARNING && (line == 0 || dg->v[i].line == line) &&
            strstr(dg->v[i].msg, sub))
            return 1;
    return 0;
}

static void test_warn_never_matches(void **state)
{
    (void)state;
    const char *src =
        "state WA\ndefault permit\n"
        "rule a \"r\" forbid when requester.type = FE and requester.type = PD\n"
        "rule b \"r\" forbid when key = DQ and not key in (DQ, KQ)\n"
        "rule c \"r\" forbid when LGP present and LGP absent\n"
        "rule d \"r\" forbid when requester.parent under \"DHS/ICE\" and requester.parent under \"DHS/CBP\"\n"
        "rule e \"r\" forbid when requester.parent = \"DHS/CBP\" and not requester.parent under DHS\n"
        "rule f \"r\" forbid when time between 08:00 and 10:00 and time between 12:00 and 14:00\n"
        "rule g \"r\" forbid when in-state and requester.state = OR\n"
        "rule h \"r\" forbid when requester.tags has x and not requester.tags has x\n"
        "rule i \"r\" forbid when date from 2027-01-01 and date until 2026-01-01\n"
        "rule j \"r\" forbid when RSN = T and RSN in (N, F)\n"
        "rule k \"r\" forbid when requester.ori = WA0000001 and requester.ori matches \"OR*\"\n"
        "rule ok1 \"r\" forbid when time between 22:00 and 06:00 and time between 05:00 and 07:00\n"
        "rule ok2 \"r\" forbid when requester.parent under DHS and requester.parent under \"DHS/ICE\"\n"
        "rule ok3 \"r\" forbid when (key = DQ or key = KQ) and not key = DQ\n";
    struct sl_policy_diags dg = warnings_of(src, NULL);
    for (int line = 3; line <= 13; line++)
        if (!has_warning(&dg, line, "can never match")) {
            print_error("no never-match warning on line %d\n", line);
            fail();
        }
    assert_false(has_warning(&dg, 14, "can never match"));
    assert_false(has_warning(&dg, 15, "can never match"));
    assert_false(has_warning(&dg, 16, "can never match"));
    sl_policy_diags_free(&dg);
}

static void test_warn_shadowed(void **state)
{
    (void)state;
    const char *src =
        "state WA\ndefault forbid\n"
        "rule ice \"r\" forbid when requester.parent under \"DHS/ICE\"\n"
        "rule ero \"r\" permit when requester.parent = \"DHS/ICE/ERO\" and key = DQ\n"
        "rule hsi \"r\" hold when requester.parent under \"DHS/ICE/HSI\"\n  deadline 72h, then forbid\n"
        "rule cbp \"r\" permit when requester.parent under \"DHS/CBP\"\n"
        "rule fe \"r\" permit when requester.type = FE and not requester.parent under \"DHS/ICE\"\n";
    struct sl_policy_diags dg = warnings_of(src, NULL);
    assert_true(has_warning(&dg, 4, "permit rule 'ero' never takes effect"));
    assert_true(has_warning(&dg, 4, "forbid rule 'ice' (line 3)"));
    assert_true(has_warning(&dg, 5, "hold rule 'hsi' never takes effect"));
    assert_false(has_warning(&dg, 7, "never takes effect"));
    assert_false(has_warning(&dg, 8, "never takes effect"));
    assert_int_equal(dg.nwarnings, 2);
    sl_policy_diags_free(&dg);
}

static void test_warn_no_effect_and_data_class(void **state)
{
    (void)state;
    const char *src =
        "state WA\ndefault permit\n"
        "rule nothing \"r\" permit when requester.type = PD\n"
        "rule plates \"r\" permit when key in (RQ, RNQ)\n  redact photo, owner\n"
        "rule mixed \"r\" permit when key = DQ or key = RQ\n  redact photo, owner\n"
        "rule any \"r\" permit\n  redact history\n";
    struct sl_policy_diags dg = warnings_of(src, NULL);
    assert_true(has_warning(&dg, 3, "changes nothing"));
    assert_true(has_warning(&dg, 5, "never carry 'photo'"));
    assert_false(has_warning(&dg, 5, "never carry 'owner'"));
    assert_false(has_warning(&dg, 7, "never carry"));
    assert_false(has_warning(&dg, 9, "never carry"));
    assert_int_equal(dg.nwarnings, 2);
    sl_policy_diags_free(&dg);
}

static void test_warn_mixed_and_or(void **state)
{
    (void)state;
    const char *src = "state WA\ndefault forbid\n"
                      "rule a \"r\" permit when key = DQ and RSN present or key = KQ\n"
                      "rule b \"r\" permit when (key = DQ and RSN present) or key = KQ\n";
    struct sl_policy_diags dg = warnings_of(src, NULL);
    assert_true(has_warning(&dg, 3, "mixed without parentheses"));
    assert_false(has_warning(&dg, 4, "mixed"));
    sl_policy_diags_free(&dg);
}

static int known_parent(void *ctx, const char *p, int under)
{
    (void)ctx;
    if (strcmp(p, "DHS/ICE/ERO") == 0)
        return 1;
    return under && strcmp(p, "DHS/ICE") == 0;
}

static int known_tag(void *ctx, const char *t)
{
    (void)ctx;
    return strcmp(t, "task-force") == 0;
}

static void test_warn_directory(void **state)
{
    (void)state;
    const char *src = "state WA\ndefault permit\n"
                      "rule a \"r\" forbid when requester.parent under \"DHS/ICE\"\n"
                      "rule b \"r\" forbid when requester.parent = \"DHS/ICE\"\n"
                      "rule c \"r\" forbid when requester.parent under \"DHS/ICX\"\n"
                      "rule d \"r\" forbid when requester.tags has (task-force, taskforce)\n";
    struct sl_policy_opts o = {known_parent, known_tag, NULL, 0};
    struct sl_policy_diags dg = warnings_of(src, &o);
    assert_false(has_warning(&dg, 3, "directory"));
    assert_true(has_warning(&dg, 4, "no ORI in the directory has parent agency 'DHS/ICE'"));
    assert_true(has_warning(&dg, 5, "'DHS/ICX' or one under it"));
    assert_true(has_warning(&dg, 6, "the tag 'taskforce'"));
    assert_int_equal(dg.nwarnings, 3);
    sl_policy_diags_free(&dg);
    /* Without a directory, none of these. */
    dg = warnings_of(src, NULL);
    assert_int_equal(dg.nwarnings, 0);
    sl_policy_diags_free(&dg);
}

static void test_condition_text(void **state)
{
    (void)state;
    const char *src = "state WA\ndefault permit\n"
                      "rule a \"r\" forbid when requester.type in (FE, JF) and key in (DQ, DQG, KQ) "
                      "and not (LGP present or CAS matches \"26-*\") unless weekday in (sat, sun)\n";
    struct sl_policy *p;
    assert_int_equal(sl_policy_compile(src, strlen(src), "t", NULL, &p, NULL), 0);
    struct sl_buf b = SL_BUF_INIT;
    sl_policy_rule_condition(p, 0, &b);
    sl_buf_append(&b, "", 1);
    assert_string_equal((char *)sl_buf_head(&b),
                        "requester.type in (FE, JF) and key in (DQ, KQ) and not (LGP present or CAS "
                        "matches \"26-*\") and not weekday in (sun, sat)");
    sl_buf_free(&b);
    sl_policy_unref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_error),
        cmocka_unit_test(test_format_matches_brief),
        cmocka_unit_test(test_recovery_reports_every_rule),
        cmocka_unit_test(test_nul_and_bom),
        cmocka_unit_test(test_condition_too_long),
        cmocka_unit_test(test_warn_never_matches),
        cmocka_unit_test(test_warn_shadowed),
        cmocka_unit_test(test_warn_no_effect_and_data_class),
        cmocka_unit_test(test_warn_mixed_and_or),
        cmocka_unit_test(test_warn_directory),
        cmocka_unit_test(test_condition_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
