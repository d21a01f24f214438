/*
 * test_gateway_ckpt.c - gateway.db's WAL checkpoints off the loop thread
 * (src/core/walckpt.c, docs/gateway.md §5.1 "Checkpoints"): the checkpointer thread
 * runs and the WAL starts again from its beginning (the loop's commits see it small
 * again); the WAL file stays bounded by the loop's own fallback however the thread is
 * scheduled; close checkpoints, joins the thread and leaves no WAL behind; nothing
 * committed is lost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gateway/gw_int.h"
#include "stateline/core.h"
#include "stateline/walckpt.h"
#include "tmpdir.h"

/* Size of d/gateway.db-wal, -1 when there is none. */
static long long wal_size(const char *d)
{
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/gateway.db-wal", d);
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static long long count_reads(const char *d)
{
    char path[128];
    snprintf(path, sizeof path, "%s/gateway.db", d);
    sqlite3 *db;
    sqlite3_stmt *s;
    long long n = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM notice", -1, &s, NULL),
                     SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* One loop pass: a row of about `len` bytes (a notice whose subject is blob as letters:
 * the inbox, which these tests once wrote, is no longer in gateway.db), committed. */
static void pass(struct gw_queue *q, const uint8_t *blob, size_t len)
{
    char subject[4096];
    size_t n = len < sizeof subject - 1 ? len : sizeof subject - 1;
    for (size_t i = 0; i < n; i++)
        subject[i] = (char)('a' + blob[i] % 26);
    subject[n] = 0;
    struct gw_notice nt = {.created_us = 1, .due = 20270101, .days = 5, .subject = subject};
    assert_int_equal(gw_queue_begin(q), 0);
    assert_true(gw_queue_notice_add(q, &nt) > 0);
    assert_int_equal(gw_queue_commit(q), 0);
}

/* The thread checkpoints; once it has copied everything the WAL starts again, and the
 * file never grows past what the loop's fallback allows; close leaves no WAL. */
static void test_checkpointer_runs_and_bounds(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-ckpt");
    char err[256] = "";
    struct gw_queue *q = gw_queue_open(d, err, sizeof err);
    assert_non_null(q);
    struct sl_walckpt *ck = gw_queue_ckpt(q);
    assert_non_null(ck);
    const struct sl_walckpt_limits lim = {64, 256, 512};
    sl_walckpt_set_limits(ck, &lim);

    uint8_t blob[3000];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)(i * 7 + 1);
    /* Each pass writes the row's page(s), the table's interior and page 1: at most ~4
     * pages of 4 KB.  The WAL holds at most loop_cap pages before a commit, plus that
     * commit's pages: that is the bound, whatever the thread does. */
    const long long page = 4096 + 24, bound = (512 + 8) * page + 32;
    long long max = 0;
    for (int i = 0; i < 4000; i++) {
        pass(q, blob, sizeof blob);
        long long w = wal_size(d);
        if (w > max)
            max = w;
    }
    if (max > bound) {
        struct sl_walckpt_stats x;
        sl_walckpt_get_stats(ck, &x);
        print_error("WAL %lld bytes > %lld; thread %llu runs (%llu complete), loop %llu\n",
                    max, bound, (unsigned long long)x.runs, (unsigned long long)x.complete,
                    (unsigned long long)x.loop_runs);
    }
    assert_true(max > 0);
    assert_true(max <= bound);

    /* Between loop passes that leave the thread time to copy everything, the WAL starts
     * again: the loop's next commit finds it small.  Had the thread copied nothing, it
     * would hold thousands of pages. */
    struct sl_walckpt_stats st;
    int restarted = 0, more = 0;
    for (int i = 0; i < 50 && !restarted; i++) {
        sl_walckpt_wait_idle(ck);
        pass(q, blob, sizeof blob);
        more++;
        sl_walckpt_get_stats(ck, &st);
        restarted = st.wal_pages < lim.soft;
    }
    assert_true(restarted);
    sl_walckpt_get_stats(ck, &st);
    assert_true(st.runs >= 1);
    assert_true(st.complete >= 1);
    assert_true(st.pages > 0);
    assert_int_equal(st.failures, 0);
    print_message("checkpoints: thread %llu (%llu complete, %llu FULL, %llu pages), loop "
                  "%llu; WAL at most %lld bytes\n", (unsigned long long)st.runs,
                  (unsigned long long)st.complete, (unsigned long long)st.fulls,
                  (unsigned long long)st.pages, (unsigned long long)st.loop_runs, max);

    gw_queue_close(q);
    assert_int_equal(wal_size(d), -1);  /* final checkpoint, last connection: no WAL */
    assert_int_equal(count_reads(d), 4000 + more);
    test_rmdir(d);
}

/* Without a signal the thread stays asleep: a few small commits are left to the WAL. */
static void test_below_soft_no_checkpoint(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-ckpt");
    char err[256] = "";
    struct gw_queue *q = gw_queue_open(d, err, sizeof err);
    assert_non_null(q);
    struct sl_walckpt *ck = gw_queue_ckpt(q);
    assert_non_null(ck);
    uint8_t blob[100] = {1};
    for (int i = 0; i < 20; i++)
        pass(q, blob, sizeof blob);
    sl_walckpt_wait_idle(ck);
    struct sl_walckpt_stats st;
    sl_walckpt_get_stats(ck, &st);
    assert_int_equal(st.runs, 0);
    assert_int_equal(st.loop_runs, 0);
    assert_true(wal_size(d) > 0);
    gw_queue_close(q);
    assert_int_equal(wal_size(d), -1);
    assert_int_equal(count_reads(d), 20);
    test_rmdir(d);
}

/* A reader that keeps an old snapshot stops every checkpoint from copying past it: the
 * WAL cannot start again and grows (FULL at cap waits for it, then gives up); once the
 * reader lets go the thread copies everything and the WAL starts again.  Close joins the
 * thread and leaves no WAL. */
static void test_reader_pins_then_restart(void **state)
{
    (void)state;
    char *d = test_tmpdir("gw-ckpt");
    char err[256] = "", path[128];
    struct gw_queue *q = gw_queue_open(d, err, sizeof err);
    assert_non_null(q);
    struct sl_walckpt *ck = gw_queue_ckpt(q);
    assert_non_null(ck);
    const struct sl_walckpt_limits lim = {32, 128, 1 << 30};  /* no loop fallback */
    sl_walckpt_set_limits(ck, &lim);
    uint8_t blob[3000] = {2};
    pass(q, blob, sizeof blob);

    sqlite3 *rd;
    sqlite3_stmt *s;
    snprintf(path, sizeof path, "%s/gateway.db", d);
    assert_int_equal(sqlite3_open(path, &rd), SQLITE_OK);
    assert_int_equal(sqlite3_exec(rd, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(rd, "SELECT count(*) FROM notice", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    for (int i = 0; i < 200; i++)
        pass(q, blob, sizeof blob);
    sl_walckpt_wait_idle(ck);
    struct sl_walckpt_stats st;
    sl_walckpt_get_stats(ck, &st);
    assert_true(st.wal_pages > 200);        /* it could not start again */
    assert_true(st.fulls >= 1);             /* tried, and was held up by the reader */
    assert_int_equal(sqlite3_exec(rd, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(rd);

    int restarted = 0, more = 0;
    for (int i = 0; i < 50 && !restarted; i++) {
        sl_walckpt_wait_idle(ck);
        pass(q, blob, sizeof blob);
        more++;
        sl_walckpt_get_stats(ck, &st);
        restarted = st.wal_pages < lim.soft;
    }
    assert_true(restarted);
    gw_queue_close(q);
    assert_int_equal(wal_size(d), -1);
    assert_int_equal(count_reads(d), 201 + more);
    test_rmdir(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpointer_runs_and_bounds),
        cmocka_unit_test(test_below_soft_no_checkpoint),
        cmocka_unit_test(test_reader_pins_then_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
