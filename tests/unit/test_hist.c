/*
 * test_hist.c - the latency histogram against a sorted-array oracle.
 *
 * For random values drawn from several shapes (uniform, log-uniform over 1 us .. 60 s,
 * a tight cluster, a few huge outliers), every percentile the histogram reports must lie
 * within the stated precision of the exact order statistic: not below it, and above it by
 * at most 1/128 of its value (the width of its slot).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <cmocka.h>

#include "stateline/hist.h"

/* xorshift64*: a deterministic generator so a failure reproduces. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static const double pcts[] = {0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};

static void check_against_oracle(uint64_t *vals, size_t n)
{
    struct sl_hist *h = malloc(sizeof *h);
    assert_non_null(h);
    sl_hist_init(h);
    for (size_t i = 0; i < n; i++)
        sl_hist_record(h, vals[i]);
    qsort(vals, n, sizeof *vals, cmp_u64);
    assert_int_equal(h->count, n);
    assert_int_equal(h->min, vals[0]);
    assert_int_equal(h->max, vals[n - 1]);
    for (size_t k = 0; k < sizeof pcts / sizeof pcts[0]; k++) {
        size_t rank = (size_t)ceil(pcts[k] / 100.0 * (double)n);
        if (rank < 1)
            rank = 1;
        uint64_t exact = vals[rank - 1];
        uint64_t got = sl_hist_percentile(h, pcts[k]);
        if (exact > SL_HIST_MAX) { /* clamped into the top slot */
            assert_true(got >= SL_HIST_MAX - (SL_HIST_MAX >> 8));
            continue;
        }
        if (got < exact || (double)(got - exact) > (double)exact / 128.0) {
            print_error("p%g: exact %llu, histogram %llu\n", pcts[k],
                        (unsigned long long)exact, (unsigned long long)got);
            fail();
        }
    }
    free(h);
}

static void test_uniform(void **state)
{
    (void)state;
    uint64_t s = 42;
    size_t n = 100000;
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = rnd(&s) % 5000000;
    check_against_oracle(v, n);
    free(v);
}

static void test_log_uniform(void **state)
{
    (void)state;
    uint64_t s = 7;
    size_t n = 200000;
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        double e = (double)(rnd(&s) % 1000000) / 1000000.0 * log(60e6);
        v[i] = (uint64_t)exp(e);
    }
    check_against_oracle(v, n);
    free(v);
}

static void test_cluster_and_outliers(void **state)
{
    (void)state;
    uint64_t s = 99;
    size_t n = 50001;
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = 180 + rnd(&s) % 40;
    v[17] = 59000000;
    v[1000] = 2500000;
    v[2000] = 0;
    check_against_oracle(v, n);
    free(v);
}

static void test_small_counts(void **state)
{
    (void)state;
    uint64_t one[] = {12345};
    check_against_oracle(one, 1);
    uint64_t few[] = {5, 1, 3, 1000000, 77, 300};
    check_against_oracle(few, 6);
}

static void test_slots_and_limits(void **state)
{
    (void)state;
    /* Below 256 every value is exact. */
    for (uint64_t v = 0; v < 256; v++)
        assert_int_equal(sl_hist_highest_equivalent(v), v);
    /* Above, slot width is at most v/128 and the slot contains v. */
    for (uint64_t v = 256; v < SL_HIST_MAX; v = v * 3 / 2 + 1) {
        uint64_t hi = sl_hist_highest_equivalent(v);
        assert_true(hi >= v);
        assert_true((double)(hi - v) <= (double)v / 128.0);
    }
    assert_int_equal(sl_hist_highest_equivalent(SL_HIST_MAX), SL_HIST_MAX);
    assert_true(SL_HIST_MAX >= 60000000u); /* 60 s in microseconds */

    struct sl_hist *h = malloc(sizeof *h);
    sl_hist_init(h);
    assert_int_equal(sl_hist_percentile(h, 99), 0);
    sl_hist_record(h, UINT64_C(1) << 40); /* beyond the range: counted, max exact */
    assert_int_equal(h->max, UINT64_C(1) << 40);
    assert_int_equal(sl_hist_percentile(h, 50), SL_HIST_MAX);

    /* merge = recording both sets into one */
    struct sl_hist *a = malloc(sizeof *a), *b = malloc(sizeof *b), *c = malloc(sizeof *c);
    sl_hist_init(a);
    sl_hist_init(b);
    sl_hist_init(c);
    for (uint64_t v = 1; v < 10000; v += 7) {
        sl_hist_record(v % 2 ? a : b, v);
        sl_hist_record(c, v);
    }
    sl_hist_merge(a, b);
    assert_int_equal(a->count, c->count);
    assert_int_equal(a->min, c->min);
    assert_int_equal(a->max, c->max);
    for (size_t k = 0; k < sizeof pcts / sizeof pcts[0]; k++)
        assert_int_equal(sl_hist_percentile(a, pcts[k]), sl_hist_percentile(c, pcts[k]));
    assert_true(fabs(sl_hist_mean(a) - sl_hist_mean(c)) < 1e-6);
    free(a);
    free(b);
    free(c);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_log_uniform),
        cmocka_unit_test(test_cluster_and_outliers),
        cmocka_unit_test(test_small_counts),
        cmocka_unit_test(test_slots_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
