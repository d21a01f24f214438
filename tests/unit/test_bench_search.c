/*
 * test_bench_search.c - the sustained-rate search of `stateline bench` (harness.c,
 * bench_search) on a scripted path: a server model that answers everything up to its
 * capacity with a 1 ms p99 and saturates above it.  The search must find the capacity
 * within its 5% resolution, also when the first trial hits a stall (it falls short with no
 * error or loss: tried again once, not taken for saturation), and must stop low when the
 * server really is saturated at the first rate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/bench_int.h"

struct model {
    double capacity;  /* rates up to this pass */
    int stall_first;  /* the first trial falls short (80% answered), as a stall does */
    int trials;
    double first_rate;
};

static int model_run(void *arg, double rate, double secs, double warmup_s,
                     struct sl_bench_run *r)
{
    (void)warmup_s;
    struct model *m = arg;
    memset(r, 0, sizeof *r);
    sl_hist_init(&r->hist);
    r->rate = rate;
    r->duration_s = secs;
    r->sent = (uint64_t)(rate * secs);
    int stalled = m->stall_first && m->trials == 0;
    if (m->trials++ == 0)
        m->first_rate = rate;
    double answered = rate <= m->capacity ? rate : m->capacity;
    if (stalled)
        answered = 0.8 * rate;
    r->received = r->sent;
    r->achieved = answered;
    for (int i = 0; i < 100; i++)
        sl_hist_record(&r->hist, rate <= m->capacity && !stalled ? 1000 : 300000);
    return 0;
}

static int model_reconnect(void *arg, char *err, size_t errlen)
{
    (void)arg;
    (void)err;
    (void)errlen;
    return 0;
}

static double search(struct model *m, double start_rate)
{
    struct sl_bench_opts o;
    memset(&o, 0, sizeof o);
    o.json = 1; /* no table on stdout */
    o.step_s = 2;
    o.p99_bound_ms = 250;
    o.start_rate = start_rate;
    struct bench_path path = {model_run, model_reconnect, m};
    struct sl_bench_run *r = malloc(sizeof *r);
    json_t *trials = json_array();
    double lo = -1, hi = -1;
    assert_int_equal(bench_search(&o, &path, 0, 1e15, trials, r, &lo, &hi), 0);
    assert_int_equal(json_array_size(trials), (size_t)m->trials);
    json_decref(trials);
    free(r);
    return lo;
}

static void test_finds_capacity(void **state)
{
    (void)state;
    struct model m = {.capacity = 52000};
    double lo = search(&m, 5000);
    assert_true(lo <= 52000 && lo >= 52000 * 0.95);
}

/* The first trial stalls: before, the climb ended there and the search bisected below
 * 5,000/s; now the trial is run again and the search climbs as usual. */
static void test_first_trial_stall(void **state)
{
    (void)state;
    struct model m = {.capacity = 52000, .stall_first = 1};
    double lo = search(&m, 5000);
    assert_true(lo <= 52000 && lo >= 52000 * 0.95);
    assert_true(m.first_rate == 5000);
}

/* Saturated from the start: the retry fails too, and the search goes down to the
 * capacity instead of climbing. */
static void test_saturated_at_first(void **state)
{
    (void)state;
    struct model m = {.capacity = 3000};
    double lo = search(&m, 5000);
    assert_true(lo <= 3000 && lo >= 3000 * 0.95);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_capacity),
        cmocka_unit_test(test_first_trial_stall),
        cmocka_unit_test(test_saturated_at_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
