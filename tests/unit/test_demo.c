/*
 * test_demo.c - the demo's traffic model: the schedule adds up and keeps its minimums
 * and shares, classification of requesters, outcomes read from reply texts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stateline/demo.h"

static void count(const struct sl_demo_slot *s, uint64_t n,
                  uint64_t c[SL_DEMO_NSTATES][SL_DEMO_NCLASS])
{
    memset(c, 0, sizeof(uint64_t) * SL_DEMO_NSTATES * SL_DEMO_NCLASS);
    for (uint64_t i = 0; i < n; i++) {
        assert_true(s[i].dest < SL_DEMO_NSTATES);
        assert_true(s[i].cls < SL_DEMO_NCLASS);
        c[s[i].dest][s[i].cls]++;
    }
}

static void test_plan_small_keeps_minimums(void **state)
{
    (void)state;
    uint64_t n = 600, planned[SL_DEMO_NSTATES][SL_DEMO_NCLASS], got[SL_DEMO_NSTATES][SL_DEMO_NCLASS];
    struct sl_demo_slot *s = calloc(n, sizeof *s);
    sl_demo_plan(n, 1, 3, s, planned);
    count(s, n, got);
    assert_memory_equal(planned, got, sizeof got);
    for (int d = 0; d < SL_DEMO_NSTATES; d++)
        for (int c = 0; c < SL_DEMO_NCLASS; c++)
            assert_true(got[d][c] >= 3);
    /* a run too short for every minimum: out-of-state police and ICE ERO come first */
    struct sl_demo_slot t[120];
    uint64_t few[SL_DEMO_NSTATES][SL_DEMO_NCLASS];
    sl_demo_plan(120, 1, 3, t, few);
    int wa = sl_demo_state_index("WA");
    assert_true(few[wa][SL_DEMO_OUT_POLICE] >= 3);
    assert_true(few[wa][SL_DEMO_ICE_ERO] >= 3);
    /* California (the largest) gets the most, Arizona (the smallest) the fewest */
    uint64_t tot[SL_DEMO_NSTATES] = {0};
    for (int d = 0; d < SL_DEMO_NSTATES; d++)
        for (int c = 0; c < SL_DEMO_NCLASS; c++)
            tot[d] += got[d][c];
    assert_true(tot[sl_demo_state_index("CA")] > tot[sl_demo_state_index("TX")]);
    assert_true(tot[sl_demo_state_index("AZ")] < tot[sl_demo_state_index("WA")]);
    free(s);
}

static void test_plan_large_follows_shares(void **state)
{
    (void)state;
    uint64_t n = 1000000, got[SL_DEMO_NSTATES][SL_DEMO_NCLASS];
    struct sl_demo_slot *s = calloc(n, sizeof *s);
    sl_demo_plan(n, 7, 0, s, NULL);
    count(s, n, got);
    uint64_t cls[SL_DEMO_NCLASS] = {0}, all = 0;
    for (int d = 0; d < SL_DEMO_NSTATES; d++)
        for (int c = 0; c < SL_DEMO_NCLASS; c++) {
            cls[c] += got[d][c];
            all += got[d][c];
        }
    assert_int_equal(all, n);
    /* ICE ERO 292,114 and HSI 605,116 in 290 million: about 1,007 and 2,087 per million */
    assert_in_range(cls[SL_DEMO_ICE_ERO], 990, 1025);
    assert_in_range(cls[SL_DEMO_ICE_HSI], 2065, 2110);
    assert_true(cls[SL_DEMO_OUT_POLICE] > n * 9 / 10);
    /* shuffled: the first thousand are not all one state */
    int seen[SL_DEMO_NSTATES] = {0};
    for (int i = 0; i < 1000; i++)
        seen[s[i].dest] = 1;
    for (int d = 0; d < SL_DEMO_NSTATES; d++)
        assert_true(seen[d]);
    free(s);
}

static void test_plan_reproducible(void **state)
{
    (void)state;
    struct sl_demo_slot a[500], b[500], c[500];
    sl_demo_plan(500, 42, 3, a, NULL);
    sl_demo_plan(500, 42, 3, b, NULL);
    sl_demo_plan(500, 43, 3, c, NULL);
    assert_memory_equal(a, b, sizeof a);
    assert_true(memcmp(a, c, sizeof a) != 0);
    /* fewer queries than minimums: still exactly n */
    struct sl_demo_slot t[10];
    uint64_t got[SL_DEMO_NSTATES][SL_DEMO_NCLASS];
    sl_demo_plan(10, 1, 3, t, NULL);
    count(t, 10, got);
}

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(sl_demo_classify("WA", "WA", "DHS/ICE/ERO", 1), SL_DEMO_ICE_ERO);
    assert_int_equal(sl_demo_classify("WA", "TX", "DHS/ICE/HSI", 1), SL_DEMO_ICE_HSI);
    assert_int_equal(sl_demo_classify("WA", "WA", "DHS/CBP/USBP", 1), SL_DEMO_CBP);
    assert_int_equal(sl_demo_classify("WA", "WA", "DOJ/FBI", 1), SL_DEMO_FBI);
    assert_int_equal(sl_demo_classify("WA", "WA", "DOJ/DEA", 1), SL_DEMO_OTHER_FED);
    /* a federal office in the state is federal, not in-state */
    assert_int_equal(sl_demo_classify("WA", "WA", "", 1), SL_DEMO_OTHER_FED);
    assert_int_equal(sl_demo_classify("WA", "WA", "", 0), SL_DEMO_IN_STATE);
    assert_int_equal(sl_demo_classify("WA", "OR", "", 0), SL_DEMO_OUT_POLICE);
    /* "DHS/CBPX" is not under "DHS/CBP" */
    assert_int_equal(sl_demo_classify("WA", "OR", "DHS/CBPX", 1), SL_DEMO_OTHER_FED);
    assert_int_equal(sl_demo_is_federal("DH", "PD"), 1);
    assert_int_equal(sl_demo_is_federal("WA", "FE"), 1);
    assert_int_equal(sl_demo_is_federal("WA", "SO"), 0);
}

static int out(const char *key, const char *body)
{
    return sl_demo_reply_outcome(key, body, strlen(body));
}

static void test_reply_outcome(void **state)
{
    (void)state;
    assert_int_equal(out("DR", "DENIED BY WA POLICY no-civil-immigration: ...\n"), SL_DEMO_DENIED);
    assert_int_equal(out("DR", "HELD FOR REVIEW BY NY POLICY x\nA NY REVIEWER WILL ANSWER BY "
                               "2026-11-29 (THEN: DENIED). REVIEW NO. NY-R1\n"),
                     SL_DEMO_HELD);
    assert_int_equal(out("DR", "NOT ON FILE\nSEARCHED: OLN/WA123\n"), SL_DEMO_NOT_ON_FILE);
    assert_int_equal(out("DR", "WASHINGTON DRIVER\nNAME: DOE, JANE\nSSN: WITHHELD\n"
                               "WITHHELD UNDER WA POLICY: photos-stay-home\n"),
                     SL_DEMO_REDACTED);
    /* the policy line alone (an RR under a rule withholding the SSN) is no redaction */
    assert_int_equal(out("RR", "PLATE: ABC123\nWITHHELD UNDER TX POLICY: ssn-stays-in-texas\n"
                               "MARK: TX DPS\n"),
                     SL_DEMO_RELEASED);
    assert_int_equal(out("DR", "NAME: DOE, JANE\n"), SL_DEMO_RELEASED);
    assert_int_equal(out("DR", "QUERY NOT USABLE: NEEDS OLN/\n"), SL_DEMO_ERROR);
    assert_int_equal(out("DR", "TEMPORARILY UNAVAILABLE\n"), SL_DEMO_ERROR);
    assert_int_equal(out("DNR", "WA DOES NOT ANSWER DNQ ON THIS SYSTEM\n"), SL_DEMO_DENIED);
    assert_int_equal(out("ER", "anything"), SL_DEMO_ERROR);
    assert_int_equal(out("SM", "anything"), SL_DEMO_ERROR);
}

static void test_names(void **state)
{
    (void)state;
    for (int c = 0; c < SL_DEMO_NCLASS; c++) {
        assert_non_null(sl_demo_class_info(c));
        assert_non_null(sl_demo_class_info(c)->basis);
    }
    assert_null(sl_demo_class_info(SL_DEMO_NCLASS));
    assert_string_equal(sl_demo_outcome_id(SL_DEMO_NOT_ON_FILE), "not_on_file");
    assert_int_equal(sl_demo_state_index("TX"), 5);
    assert_int_equal(sl_demo_state_index("OR"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_small_keeps_minimums),
        cmocka_unit_test(test_plan_large_follows_shares),
        cmocka_unit_test(test_plan_reproducible),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_reply_outcome),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
