/*
 * test_gateway_inbox.c - the gateway's inbox and its memory of answered queries by switch
 * message id (src/gateway/gw_queue.c, docs/gateway.md §5): a query delivered again with an
 * id still in the inbox is recognised, one answered gets the same reply back, an unknown
 * id is new; the answered table keeps the last 20,000; a gateway.db of the version before
 * (an inbox without the mid column) is upgraded at open and keeps its rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gateway/gw_int.h"
#include "stateline/core.h"

static char *tmpdir(void)
{
    char *d = sl_xmalloc(64);
    snprintf(d, 64, "/tmp/sl-gw-inbox-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rmdir_all(const char *d)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    free((void *)d);
}

static void test_seen_by_mid(void **state)
{
    (void)state;
    char *d = tmpdir();
    char err[256] = "";
    struct gw_queue *q = gw_queue_open(d, err, sizeof err);
    assert_non_null(q);
    uint8_t *reply;
    size_t len;
    assert_int_equal(gw_queue_begin(q), 0);
    int64_t id = gw_queue_inbox_add(q, "DQ.WASP00000\n...", 16, 1099511627777ull);
    assert_true(id > 0);
    assert_true(gw_queue_inbox_add(q, "AM.WASP00000\n...", 16, 0) > 0); /* no id: fine */
    /* read, not answered: in the inbox (also before the commit, in the same transaction) */
    assert_int_equal(gw_queue_mid_seen(q, 1099511627777ull, &reply, &len), 1);
    assert_null(reply);
    assert_int_equal(gw_queue_commit(q), 0);
    assert_int_equal(gw_queue_mid_seen(q, 1099511627777ull, &reply, &len), 1);
    assert_int_equal(gw_queue_mid_seen(q, 42, &reply, &len), 0);
    /* answered: the inbox row goes, the reply is kept under the id */
    const char dr[] = "DR.WAOLN0000.WASP00000.TXT\nMID/1099511627777\nNOT ON FILE";
    assert_int_equal(gw_queue_begin(q), 0);
    assert_int_equal(gw_queue_inbox_done(q, id), 0);
    assert_int_equal(gw_queue_answered(q, 1099511627777ull, dr, sizeof dr - 1), 0);
    assert_int_equal(gw_queue_commit(q), 0);
    assert_int_equal(gw_queue_mid_seen(q, 1099511627777ull, &reply, &len), 2);
    assert_non_null(reply);
    assert_int_equal(len, sizeof dr - 1);
    assert_memory_equal(reply, dr, len);
    free(reply);
    gw_queue_close(q);
    /* and after a restart */
    q = gw_queue_open(d, err, sizeof err);
    assert_non_null(q);
    assert_int_equal(gw_queue_mid_seen(q, 1099511627777ull, &reply, &len), 2);
    free(reply);
    /* the largest id there is */
    assert_int_equal(gw_queue_begin(q), 0);
    assert_true(gw_queue_inbox_add(q, "x", 1, UINT64_MAX) > 0);
    assert_int_equal(gw_queue_mid_seen(q, UINT64_MAX, &reply, &len), 1);
    assert_int_equal(gw_queue_commit(q), 0);
    gw_queue_close(q);
    rmdir_all(d);
}

static void test_answered_bounded(void **state)
{
    (void)state;
    char *d = tmpdir();
    char err[256] = "";
    struct gw_queue *q = gw_queue_open(d, err, sizeof err);
    assert_non_null(q);
    assert_int_equal(gw_queue_begin(q), 0);
    for (uint64_t mid = 1; mid <= 25000; mid++)
        assert_int_equal(gw_queue_answered(q, mid, "R", 1), 0);
    assert_int_equal(gw_queue_commit(q), 0);
    uint8_t *reply;
    size_t len;
    /* the oldest are gone, the last 20,000 are there */
    assert_int_equal(gw_queue_mid_seen(q, 1, &reply, &len), 0);
    assert_int_equal(gw_queue_mid_seen(q, 25000 - 19999, &reply, &len), 2);
    free(reply);
    assert_int_equal(gw_queue_mid_seen(q, 25000, &reply, &len), 2);
    free(reply);
    gw_queue_close(q);
    rmdir_all(d);
}

static void count_row(int64_t id, const void *frame, size_t len, void *arg)
{
    assert_int_equal(len, 2);
    assert_memory_equal(frame, "DQ", 2);
    *(int64_t *)arg = id;
}

static void test_upgrade_old_inbox(void **state)
{
    (void)state;
    char *d = tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/gateway.db", d);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE inbox(id INTEGER PRIMARY KEY, received_us "
                                  "INTEGER NOT NULL, frame BLOB NOT NULL);"
                                  "INSERT INTO inbox VALUES(7, 1, x'4451');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    char err[256] = "";
    struct gw_queue *q = gw_queue_open(d, err, sizeof err);
    if (!q)
        print_error("%s\n", err);
    assert_non_null(q);
    int64_t seen_id = 0;
    assert_int_equal(gw_queue_inbox_each(q, count_row, &seen_id), 1);
    assert_int_equal(seen_id, 7);
    uint8_t *reply;
    size_t len;
    assert_int_equal(gw_queue_mid_seen(q, 7, &reply, &len), 0);
    gw_queue_close(q);
    rmdir_all(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seen_by_mid),
        cmocka_unit_test(test_answered_bounded),
        cmocka_unit_test(test_upgrade_old_inbox),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
