/*
 * test_loop.c - the event loop (loop.h): timers fire in deadline order, a timer can delete
 * itself and others from inside its proc, periodic timers by return value, file events on
 * a pipe (level-triggered), before_sleep, signals through the signalfd, and an fd larger
 * than the initial set size.
 *
 * No timing assertions: every test orders events by deadline, never by wall-clock speed,
 * and a guard timer stops the loop if something never happens (the test then fails).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "stateline/loop.h"

struct rec {
    struct sl_loop *loop;
    int order[64];
    int n;
    int64_t ids[8];
    int count;
    int guard_fired;
};

static int64_t guard(struct sl_loop *loop, int64_t id, void *cd)
{
    struct rec *r = cd;
    r->guard_fired = 1;
    sl_loop_stop(loop);
    return SL_TIMER_NOMORE;
}

static int64_t record_tag(struct sl_loop *loop, int64_t id, void *cd)
{
    struct rec *r = cd;
    for (int i = 0; i < 8; i++)
        if (r->ids[i] == id)
            r->order[r->n++] = i;
    if (r->n == 5)
        sl_loop_stop(loop);
    return SL_TIMER_NOMORE;
}

static void test_timer_order(void **state)
{
    (void)state;
    struct rec r = {0};
    struct sl_loop *l = sl_loop_create(64);
    assert_non_null(l);
    /* deadlines 40, 10, 30, 0, 20 ms -> order 3, 1, 4, 2, 0 */
    const int64_t ms[5] = {40, 10, 30, 0, 20};
    for (int i = 0; i < 5; i++) {
        r.ids[i] = sl_loop_add_timer(l, ms[i], record_tag, &r);
        assert_true(r.ids[i] > 0);
    }
    sl_loop_add_timer(l, 10000, guard, &r);
    assert_int_equal(sl_loop_run(l), 0);
    assert_false(r.guard_fired);
    assert_int_equal(r.n, 5);
    const int want[5] = {3, 1, 4, 2, 0};
    for (int i = 0; i < 5; i++)
        assert_int_equal(r.order[i], want[i]);
    sl_loop_free(l);
}

/* Same deadline: fired in the order armed. */
static void test_timer_ties(void **state)
{
    (void)state;
    struct rec r = {0};
    struct sl_loop *l = sl_loop_create(64);
    for (int i = 0; i < 5; i++)
        r.ids[i] = sl_loop_add_timer(l, 5, record_tag, &r);
    sl_loop_add_timer(l, 10000, guard, &r);
    sl_loop_run(l);
    assert_int_equal(r.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(r.order[i], i);
    sl_loop_free(l);
}

/* Timer 0 deletes itself (while running) and timer 2; timer 1 runs; timer 2 never does. */
static int64_t deleter(struct sl_loop *loop, int64_t id, void *cd)
{
    struct rec *r = cd;
    r->order[r->n++] = 0;
    assert_int_equal(sl_loop_del_timer(loop, id), 0);
    assert_int_equal(sl_loop_del_timer(loop, id), -1); /* already deleted */
    assert_int_equal(sl_loop_del_timer(loop, r->ids[2]), 0);
    return 5; /* would re-arm, but the deletion wins */
}

static int64_t tag1(struct sl_loop *loop, int64_t id, void *cd)
{
    struct rec *r = cd;
    r->order[r->n++] = 1;
    return SL_TIMER_NOMORE;
}

static int64_t tag2(struct sl_loop *loop, int64_t id, void *cd)
{
    struct rec *r = cd;
    r->order[r->n++] = 2;
    return SL_TIMER_NOMORE;
}

static int64_t stopper(struct sl_loop *loop, int64_t id, void *cd)
{
    sl_loop_stop(loop);
    return SL_TIMER_NOMORE;
}

static void test_delete_inside_proc(void **state)
{
    (void)state;
    struct rec r = {0};
    struct sl_loop *l = sl_loop_create(64);
    r.ids[0] = sl_loop_add_timer(l, 1, deleter, &r);
    r.ids[1] = sl_loop_add_timer(l, 2, tag1, &r);
    r.ids[2] = sl_loop_add_timer(l, 3, tag2, &r);
    sl_loop_add_timer(l, 30, stopper, &r);
    sl_loop_run(l);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.order[0], 0);
    assert_int_equal(r.order[1], 1);
    /* deleted ids stay dead even after their slots are reused */
    int64_t fresh = sl_loop_add_timer(l, INT64_MAX, tag1, &r); /* far future, no overflow */
    assert_true(fresh != r.ids[0] && fresh != r.ids[2]);
    assert_int_equal(sl_loop_del_timer(l, r.ids[0]), -1);
    assert_int_equal(sl_loop_del_timer(l, r.ids[2]), -1);
    assert_int_equal(sl_loop_del_timer(l, fresh), 0);
    assert_int_equal(sl_loop_del_timer(l, 0), -1);
    assert_int_equal(sl_loop_del_timer(l, 12345), -1);
    sl_loop_free(l);
}

static int64_t periodic(struct sl_loop *loop, int64_t id, void *cd)
{
    struct rec *r = cd;
    r->count++;
    if (r->count == 10) {
        sl_loop_stop(loop);
        return SL_TIMER_NOMORE;
    }
    return r->count % 2 ? 0 : 1; /* 0 ms: fires again on the next iteration, no spin */
}

static void test_periodic(void **state)
{
    (void)state;
    struct rec r = {0};
    struct sl_loop *l = sl_loop_create(64);
    sl_loop_add_timer(l, 1, periodic, &r);
    sl_loop_add_timer(l, 10000, guard, &r);
    sl_loop_run(l);
    assert_false(r.guard_fired);
    assert_int_equal(r.count, 10);
    sl_loop_free(l);
}

/* Many timers, deleted in a scattered order, exercise the heap. */
static int64_t count_up(struct sl_loop *loop, int64_t id, void *cd)
{
    struct rec *r = cd;
    r->count++;
    return SL_TIMER_NOMORE;
}

static void test_many_timers(void **state)
{
    (void)state;
    struct rec r = {0};
    struct sl_loop *l = sl_loop_create(64);
    int64_t ids[500];
    for (int i = 0; i < 500; i++)
        ids[i] = sl_loop_add_timer(l, (i * 7919) % 50, count_up, &r);
    int deleted = 0;
    for (int i = 0; i < 500; i += 3) {
        assert_int_equal(sl_loop_del_timer(l, ids[i]), 0);
        deleted++;
    }
    sl_loop_add_timer(l, 80, stopper, &r);
    sl_loop_run(l);
    assert_int_equal(r.count, 500 - deleted);
    sl_loop_free(l);
}

/* ---- file events ----------------------------------------------------------------- */

struct pipe_rec {
    int rfd, wfd;
    int reads;
    int writes;
    char got[64];
    size_t got_len;
    int before_sleep_calls;
    int calls_at_first_read;
};

static void on_pipe(struct sl_loop *loop, int fd, void *cd, int mask)
{
    struct pipe_rec *p = cd;
    if (mask & SL_EV_WRITE) {
        /* writable: write once, then stop watching for writable */
        assert_int_equal(write(p->wfd, "hello", 5), 5);
        p->writes++;
        sl_loop_del(loop, p->wfd, SL_EV_WRITE);
    }
    if (mask & SL_EV_READ) {
        /* read one byte per call: level-triggered must call us again for the rest */
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n == 1) {
            if (p->reads == 0)
                p->calls_at_first_read = p->before_sleep_calls;
            p->got[p->got_len++] = c;
            p->reads++;
        }
        if (p->got_len == 5)
            sl_loop_stop(loop);
    }
}

static void bs(struct sl_loop *loop, void *cd)
{
    struct pipe_rec *p = cd;
    p->before_sleep_calls++;
}

static void test_pipe_events(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    struct pipe_rec p = {.rfd = fds[0], .wfd = fds[1]};
    struct rec r = {0};
    struct sl_loop *l = sl_loop_create(4); /* small: the table must grow */
    sl_loop_set_before_sleep(l, bs, &p);
    assert_int_equal(sl_loop_add(l, fds[0], SL_EV_READ, on_pipe, &p), 0);
    assert_int_equal(sl_loop_add(l, fds[1], SL_EV_WRITE, on_pipe, &p), 0);
    assert_int_equal(sl_loop_get_mask(l, fds[0]), SL_EV_READ);
    assert_int_equal(sl_loop_get_mask(l, fds[1]), SL_EV_WRITE);
    sl_loop_add_timer(l, 10000, guard, &r);
    sl_loop_run(l);
    assert_false(r.guard_fired);
    assert_int_equal(p.writes, 1);
    assert_int_equal(p.reads, 5);
    assert_memory_equal(p.got, "hello", 5);
    /* before_sleep ran before the first sleep and once per iteration: the five one-byte
     * reads took five iterations, each preceded by before_sleep */
    assert_true(p.calls_at_first_read >= 1);
    assert_true(p.before_sleep_calls >= 5 + 1);
    assert_int_equal(sl_loop_get_mask(l, fds[1]), SL_EV_NONE);

    /* adding READ to an fd watched for nothing and then removing it */
    assert_int_equal(sl_loop_add(l, fds[1], SL_EV_READ, on_pipe, &p), 0);
    assert_int_equal(sl_loop_add(l, fds[1], SL_EV_WRITE, on_pipe, &p), 0);
    assert_int_equal(sl_loop_get_mask(l, fds[1]), SL_EV_READ | SL_EV_WRITE);
    sl_loop_del(l, fds[1], SL_EV_READ | SL_EV_WRITE);
    assert_int_equal(sl_loop_get_mask(l, fds[1]), SL_EV_NONE);
    assert_int_equal(sl_loop_add(l, -1, SL_EV_READ, on_pipe, &p), -1);
    sl_loop_free(l);
    close(fds[0]);
    close(fds[1]);
}

/* A descriptor numbered far above the initial set size. */
static void on_high(struct sl_loop *loop, int fd, void *cd, int mask)
{
    int *hits = cd;
    char buf[8];
    assert_true(read(fd, buf, sizeof buf) > 0);
    (*hits)++;
    sl_loop_stop(loop);
}

static void test_fd_table_grows(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    int high = fcntl(fds[0], F_DUPFD, 300);
    assert_true(high >= 300);
    int hits = 0;
    struct rec r = {0};
    struct sl_loop *l = sl_loop_create(16);
    assert_int_equal(sl_loop_add(l, high, SL_EV_READ, on_high, &hits), 0);
    sl_loop_add_timer(l, 10000, guard, &r);
    assert_int_equal(write(fds[1], "x", 1), 1);
    sl_loop_run(l);
    assert_int_equal(hits, 1);
    assert_false(r.guard_fired);
    sl_loop_free(l);
    close(high);
    close(fds[0]);
    close(fds[1]);
}

/* ---- signals --------------------------------------------------------------------- */

struct sig_rec {
    int got[4];
    int n;
};

static void on_signal(struct sl_loop *loop, int signo, void *cd)
{
    struct sig_rec *s = cd;
    s->got[s->n++] = signo;
    if (signo == SIGTERM)
        sl_loop_stop(loop);
}

static int64_t raise_them(struct sl_loop *loop, int64_t id, void *cd)
{
    raise(SIGHUP);
    raise(SIGTERM);
    return SL_TIMER_NOMORE;
}

static void test_signals(void **state)
{
    (void)state;
    struct sig_rec s = {{0}, 0};
    struct rec r = {0};
    struct sl_loop *l = sl_loop_create(16);
    const int sigs[] = {SIGHUP, SIGTERM};
    assert_int_equal(sl_loop_watch_signals(l, sigs, 2, on_signal, &s), 0);
    /* raised from inside the loop, as a signal from outside would arrive */
    sl_loop_add_timer(l, 1, raise_them, NULL);
    sl_loop_add_timer(l, 10000, guard, &r);
    sl_loop_run(l);
    assert_false(r.guard_fired);
    assert_int_equal(s.n, 2);
    /* signalfd reports pending signals lowest number first */
    assert_int_equal(s.got[0], SIGHUP);
    assert_int_equal(s.got[1], SIGTERM);
    sl_loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_order),
        cmocka_unit_test(test_timer_ties),
        cmocka_unit_test(test_delete_inside_proc),
        cmocka_unit_test(test_periodic),
        cmocka_unit_test(test_many_timers),
        cmocka_unit_test(test_pipe_events),
        cmocka_unit_test(test_fd_table_grows),
        cmocka_unit_test(test_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
