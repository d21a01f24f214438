/*
 * tmpdir.h - a scratch directory for a unit test that works on real files.
 *
 * test_tmpdir("gw-ilog") makes /tmp/sl-gw-ilog-XXXXXX (mkdtemp) and returns its path
 * (sl_xmalloc'd); test_rmdir removes the whole tree and frees the path. Include after
 * <cmocka.h> and "stateline/core.h": a failure is a test failure.
 */
#ifndef SL_TEST_TMPDIR_H
#define SL_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

static inline char *test_tmpdir(const char *tag)
{
    char *d = sl_xmalloc(96);
    snprintf(d, 96, "/tmp/sl-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(d));
    return d;
}

static inline void test_rmdir(char *d)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    free(d);
}

#endif
