/*
 * test_policy_rate.c - the query counters behind a policy's rate conditions
 * (src/policy/policy_rate.c, P-22): sliding windows of 60 steps, ORIs and users apart,
 * only the windows asked for, time going backwards, and the bound on keys (quiet keys
 * are forgotten first; a key with no room gets no count).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "stateline/policy.h"

#define T0 1794998880 /* a Unix time, a multiple of 60 (and of 1,440) */
#define ALL_ORI (SL_POLICY_USES_ORI(SL_WIN_MINUTE) | SL_POLICY_USES_ORI(SL_WIN_HOUR) | \
                 SL_POLICY_USES_ORI(SL_WIN_DAY))
#define ALL_USER (SL_POLICY_USES_USER(SL_WIN_MINUTE) | SL_POLICY_USES_USER(SL_WIN_HOUR) | \
                  SL_POLICY_USES_USER(SL_WIN_DAY))

static struct sl_policy_request add(struct sl_policy_counts *c, uint32_t uses, int64_t t,
                                    const char *ori, const char *user)
{
    struct sl_policy_request r;
    memset(&r, 0, sizeof r);
    assert_int_equal(sl_policy_counts_add(c, uses, t, ori, user, user ? strlen(user) : 0, &r),
                     0);
    return r;
}

static void test_windows_slide(void **state)
{
    (void)state;
    struct sl_policy_counts *c = sl_policy_counts_new(1000);
    struct sl_policy_request r;
    for (int i = 0; i < 10; i++)
        r = add(c, ALL_ORI, T0 + i, "DCICE0100", NULL);
    assert_true(r.has_counts);
    assert_int_equal(r.ori_queries[SL_WIN_MINUTE], 10);
    assert_int_equal(r.ori_queries[SL_WIN_HOUR], 10);
    assert_int_equal(r.ori_queries[SL_WIN_DAY], 10);
    /* a minute's window is 60 one-second steps: the query of T0 counts until T0+59 */
    r = add(c, ALL_ORI, T0 + 59, "DCICE0100", NULL);
    assert_int_equal(r.ori_queries[SL_WIN_MINUTE], 11);
    r = add(c, ALL_ORI, T0 + 60, "DCICE0100", NULL); /* T0's has gone, T0+1.. stay */
    assert_int_equal(r.ori_queries[SL_WIN_MINUTE], 11);
    assert_int_equal(r.ori_queries[SL_WIN_HOUR], 12);
    /* an hour's is 60 steps of a minute: T0..T0+59 still count at T0+59 min */
    r = add(c, ALL_ORI, T0 + 59 * 60, "DCICE0100", NULL);
    assert_int_equal(r.ori_queries[SL_WIN_MINUTE], 1);
    assert_int_equal(r.ori_queries[SL_WIN_HOUR], 13);
    r = add(c, ALL_ORI, T0 + 3600, "DCICE0100", NULL); /* the first minute's 11 have gone */
    assert_int_equal(r.ori_queries[SL_WIN_HOUR], 3);
    assert_int_equal(r.ori_queries[SL_WIN_DAY], 14);
    /* a day later only the day's window remembers nothing either */
    r = add(c, ALL_ORI, T0 + 86400 + 3600, "DCICE0100", NULL);
    assert_int_equal(r.ori_queries[SL_WIN_MINUTE], 1);
    assert_int_equal(r.ori_queries[SL_WIN_HOUR], 1);
    assert_int_equal(r.ori_queries[SL_WIN_DAY], 1);
    /* another ORI counts apart */
    r = add(c, ALL_ORI, T0 + 86400 + 3600, "ORPD00000", NULL);
    assert_int_equal(r.ori_queries[SL_WIN_DAY], 1);
    sl_policy_counts_free(c);
}

static void test_users_and_uses(void **state)
{
    (void)state;
    struct sl_policy_counts *c = sl_policy_counts_new(1000);
    struct sl_policy_request r;
    /* only the hour is kept when only the hour is read */
    r = add(c, SL_POLICY_USES_ORI(SL_WIN_HOUR), T0, "DCICE0100", "SMITH");
    assert_true(r.has_counts);
    assert_false(r.has_user_counts); /* no user window asked for */
    assert_int_equal(r.ori_queries[SL_WIN_HOUR], 1);
    assert_int_equal(r.ori_queries[SL_WIN_MINUTE], 0);
    assert_int_equal(sl_policy_counts_keys(c), 1);
    /* users: the same name at two ORIs are two people; no name, no user count */
    for (int i = 0; i < 3; i++)
        r = add(c, ALL_USER, T0 + i, "DCICE0100", "SMITH");
    assert_false(r.has_counts); /* no ORI window asked for */
    assert_true(r.has_user_counts);
    assert_int_equal(r.user_queries[SL_WIN_MINUTE], 3);
    r = add(c, ALL_USER, T0 + 3, "DCICE0200", "SMITH");
    assert_int_equal(r.user_queries[SL_WIN_MINUTE], 1);
    r = add(c, ALL_USER | ALL_ORI, T0 + 3, "DCICE0100", NULL);
    assert_true(r.has_counts);
    assert_false(r.has_user_counts);
    /* no requester: nothing counted, nothing claimed */
    r = add(c, ALL_ORI, T0 + 3, "", NULL);
    assert_false(r.has_counts);
    /* a long user name is cut, not refused */
    char lng[200];
    memset(lng, 'A', sizeof lng - 1);
    lng[sizeof lng - 1] = 0;
    r = add(c, ALL_USER, T0 + 4, "DCICE0100", lng);
    r = add(c, ALL_USER, T0 + 4, "DCICE0100", lng);
    assert_int_equal(r.user_queries[SL_WIN_MINUTE], 2);
    sl_policy_counts_free(c);
}

static void test_time_backwards(void **state)
{
    (void)state;
    struct sl_policy_counts *c = sl_policy_counts_new(1000);
    struct sl_policy_request r;
    r = add(c, ALL_ORI, T0 + 100, "DCICE0100", NULL);
    r = add(c, ALL_ORI, T0 + 40, "DCICE0100", NULL); /* the clock stepped back */
    assert_int_equal(r.ori_queries[SL_WIN_MINUTE], 2);
    r = add(c, ALL_ORI, T0 + 100 + 60, "DCICE0100", NULL); /* both were in the step of +100 */
    assert_int_equal(r.ori_queries[SL_WIN_MINUTE], 1);
    sl_policy_counts_free(c);
}

static void test_bound(void **state)
{
    (void)state;
    /* at most 256 keys a table (the least allowed): the table is 512 slots, 383 usable */
    struct sl_policy_counts *c = sl_policy_counts_new(256);
    char ori[16];
    int counted = 0, refused = 0;
    for (int i = 0; i < 600; i++) {
        struct sl_policy_request r;
        memset(&r, 0, sizeof r);
        snprintf(ori, sizeof ori, "WA%07d", i);
        if (sl_policy_counts_add(c, SL_POLICY_USES_ORI(SL_WIN_MINUTE), T0, ori, NULL, 0, &r) ==
            0) {
            assert_true(r.has_counts);
            counted++;
        } else {
            assert_false(r.has_counts); /* its conditions fail closed */
            refused++;
        }
    }
    assert_true(counted >= 256 && counted < 600);
    assert_int_equal(counted + refused, 600);
    assert_int_equal(sl_policy_counts_keys(c), (size_t)counted);
    /* a known key still counts while the table is full */
    struct sl_policy_request r = add(c, SL_POLICY_USES_ORI(SL_WIN_MINUTE), T0, "WA0000000",
                                     NULL);
    assert_int_equal(r.ori_queries[SL_WIN_MINUTE], 2);
    /* a minute later every key has gone quiet: a new one finds room */
    r = add(c, SL_POLICY_USES_ORI(SL_WIN_MINUTE), T0 + 61, "WA9999999", NULL);
    assert_int_equal(r.ori_queries[SL_WIN_MINUTE], 1);
    assert_int_equal(sl_policy_counts_keys(c), 1);
    sl_policy_counts_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_slide),
        cmocka_unit_test(test_users_and_uses),
        cmocka_unit_test(test_time_backwards),
        cmocka_unit_test(test_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
