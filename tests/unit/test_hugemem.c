/*
 * test_hugemem.c - sl_huge_zalloc (src/core/hugemem.c): zeroed, aligned as documented,
 * every byte writable, freed with free().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#include <cmocka.h>

#include "stateline/hugemem.h"

static void check(size_t n, size_t align)
{
    unsigned char *p = sl_huge_zalloc(n);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % align, 0);
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            fail_msg("byte %zu of %zu not zero", i, n);
    memset(p, 0xa5, n ? n : 1);
    free(p);
}

static void test_sizes(void **state)
{
    (void)state;
    check(0, 64);
    check(1, 64);
    check(100, 64);
    check(4096, 64);
    check((1u << 20) - 1, 64);         /* under 1 MiB: ordinary memory */
    check(1u << 20, (size_t)2 << 20);  /* 1 MiB and up: 2 MiB pages */
    check(((size_t)6 << 20) + 12345, (size_t)2 << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
