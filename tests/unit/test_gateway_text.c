/*
 * test_gateway_text.c - the gateway's printf-free appends (src/gateway/gw_text.h) and
 * gw_class_names write exactly what the snprintf calls they replaced wrote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/gw_int.h"
#include "gateway/gw_text.h"
#include "stateline/buf.h"
#include "stateline/policy.h"

static void expect_buf(struct sl_buf *b, const char *want)
{
    assert_int_equal(sl_buf_used(b), strlen(want));
    assert_memory_equal(sl_buf_head(b), want, strlen(want));
}

static void test_integers(void **state)
{
    (void)state;
    static const int64_t v[] = {0, 1, -1, 9, 10, -10, 19991231, -20260101, 1764201600123456LL,
                                INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char want[32], got[32];
        snprintf(want, sizeof want, "%lld", (long long)v[i]);
        size_t n = gw_i64_dec(got, v[i]);
        assert_string_equal(got, want);
        assert_int_equal(n, strlen(want));
        struct sl_buf b = SL_BUF_INIT;
        gw_cat_i64(&b, v[i]);
        expect_buf(&b, want);
        sl_buf_free(&b);
    }
    static const uint64_t u[] = {0, 7, 10, 4294967296ULL, UINT64_MAX};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        char want[32];
        snprintf(want, sizeof want, "%llu", (unsigned long long)u[i]);
        struct sl_buf b = SL_BUF_INIT;
        gw_cat_u64(&b, u[i]);
        expect_buf(&b, want);
        sl_buf_free(&b);
    }
}

static void test_strings(void **state)
{
    (void)state;
    struct sl_buf b = SL_BUF_INIT;
    char want[64];
    /* "%s/%.*s" with a value shorter than, equal to, and cut by the precision, and one with
     * a NUL inside the precision (printf stops there) */
    const char val[] = "ABC\0DEF";
    gw_cat(&b, "OLN");
    gw_cat_c(&b, '/');
    gw_cat_prec(&b, "WDL123", 3);
    gw_cat_c(&b, '.');
    gw_cat_prec(&b, val, 7);
    gw_cat_n(&b, ".", 1);
    gw_cat_prec(&b, "", 5);
    snprintf(want, sizeof want, "%s/%.*s.%.*s.%.*s", "OLN", 3, "WDL123", 7, val, 5, "");
    expect_buf(&b, want);
    sl_buf_free(&b);
}

static void printf_names(unsigned bits, char *out, size_t len)
{
    size_t l = 0;
    out[0] = 0;
    for (int c = 0; c < SL_DC_COUNT && l < len; c++) {
        if (!(bits & SL_DC_BIT(c)))
            continue;
        const char *n = sl_policy_dc_name(c);
        l += (size_t)snprintf(out + l, len - l, "%s%s", l ? ", " : "", n ? n : "?");
    }
}

static void test_class_names(void **state)
{
    (void)state;
    /* every single class, a few sets, all of them; buffers large, exact and too short */
    unsigned sets[SL_DC_COUNT + 4];
    int ns = 0;
    for (int c = 0; c < SL_DC_COUNT; c++)
        sets[ns++] = SL_DC_BIT(c);
    sets[ns++] = 0;
    sets[ns++] = SL_DC_BIT(0) | SL_DC_BIT(SL_DC_COUNT - 1);
    sets[ns++] = 0x5555u & ((1u << SL_DC_COUNT) - 1);
    sets[ns++] = (1u << SL_DC_COUNT) - 1;
    for (int i = 0; i < ns; i++) {
        for (size_t len = 1; len <= 200; len++) {
            char want[200], got[200];
            memset(want, 'x', sizeof want);
            memset(got, 'x', sizeof got);
            printf_names(sets[i], want, len);
            gw_class_names(sets[i], got, len);
            assert_string_equal(got, want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_class_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
