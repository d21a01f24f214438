/*
 * test_gateway_notice.c - due dates of notices to the person (sl_gw_notice_due): business
 * days over weekends, holidays (from the gateway config), month and year ends, calendar
 * days; and the config's holidays, two_person and reviewer_links keys with their errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "stateline/gateway.h"

static const char base[] =
    "[gateway]\nstate = WA\nori = WAOLN0000\nhub = 127.0.0.1:1\ntls = no\ntokens = t\n"
    "records = wa.db\ndefault = permit\naudit = audit\naudit_key = audit.key\n";

static int load(const char *extra, struct sl_gw_config *cfg, char *err, size_t len)
{
    char text[2048];
    snprintf(text, sizeof text, "%s%s\n", base, extra);
    return sl_gw_config_parse(text, strlen(text), "/tmp/gw.conf", cfg, err, len);
}

/* Noon UTC on a date (the process runs with TZ=UTC here). */
static int64_t noon(int y, int m, int d)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = 12;
    return (int64_t)timegm(&tm);
}

static void test_business_days(void **state)
{
    (void)state;
    struct sl_gw_config *cfg = malloc(sizeof *cfg);
    char err[300];
    assert_int_equal(load("holidays = 2026-12-25 2026-11-26", cfg, err, sizeof err), 0);
    assert_int_equal(cfg->nholidays, 2);
    assert_int_equal(cfg->holidays[0], 20261126); /* sorted */
    /* Monday 2026-11-23 + 3 business days: Tue, Wed, (Thu holiday), Fri -> Fri 27 */
    assert_int_equal(sl_gw_notice_due(cfg, noon(2026, 11, 23), 3, 1), 20261127);
    /* Wednesday 25 + 3: (Thu holiday) Fri 27, (weekend) Mon 30, Tue Dec 1 */
    assert_int_equal(sl_gw_notice_due(cfg, noon(2026, 11, 25), 3, 1), 20261201);
    /* Friday 27 + 1: over the weekend to Monday 30 */
    assert_int_equal(sl_gw_notice_due(cfg, noon(2026, 11, 27), 1, 1), 20261130);
    /* created on a Saturday: Mon, Tue, Wed */
    assert_int_equal(sl_gw_notice_due(cfg, noon(2026, 11, 28), 3, 1), 20261202);
    /* over Christmas (Fri holiday) and the year end: Thu Dec 24 + 2 -> Mon 28, Tue 29 */
    assert_int_equal(sl_gw_notice_due(cfg, noon(2026, 12, 24), 2, 1), 20261229);
    assert_int_equal(sl_gw_notice_due(cfg, noon(2026, 12, 30), 3, 1), 20270104);
    /* calendar days ignore weekends and holidays */
    assert_int_equal(sl_gw_notice_due(cfg, noon(2026, 11, 25), 3, 0), 20261128);
    assert_int_equal(sl_gw_notice_due(cfg, noon(2026, 12, 30), 3, 0), 20270102);
    assert_int_equal(sl_gw_notice_due(cfg, noon(2028, 2, 28), 1, 0), 20280229);
    /* zero days: the same day */
    assert_int_equal(sl_gw_notice_due(cfg, noon(2026, 11, 25), 0, 1), 20261125);
    assert_int_equal(sl_gw_business_day(cfg, 20261126), 0);
    assert_int_equal(sl_gw_business_day(cfg, 20261128), 0);
    assert_int_equal(sl_gw_business_day(cfg, 20261127), 1);
    /* without holidays, Thanksgiving is a business day */
    assert_int_equal(load("", cfg, err, sizeof err), 0);
    assert_int_equal(sl_gw_notice_due(cfg, noon(2026, 11, 25), 3, 1), 20261130);
    free(cfg);
}

static void test_config_keys(void **state)
{
    (void)state;
    struct sl_gw_config *cfg = malloc(sizeof *cfg);
    char err[300];
    assert_int_equal(load("two_person = cbp-review task-force\nreviewer_links = alice=WASP00000"
                          " bob=WAKCS0000\nreview_poll_ms = 50", cfg, err, sizeof err), 0);
    assert_string_equal(cfg->two_person, "cbp-review task-force");
    assert_string_equal(cfg->reviewer_links, "alice=WASP00000 bob=WAKCS0000");
    assert_int_equal(cfg->review_poll_ms, 50);
    assert_int_equal(load("", cfg, err, sizeof err), 0);
    assert_int_equal(cfg->review_poll_ms, 200);
    assert_int_equal(cfg->nholidays, 0);

    assert_int_equal(load("holidays = 2026-13-01", cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "holidays = 2026-13-01: '2026-13-01' is not a date YYYY-MM-DD"));
    assert_int_equal(load("holidays = tomorrow", cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "'tomorrow' is not a date"));
    assert_int_equal(load("reviewer_links = alice", cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "'alice' is not reviewer=ORI"));
    assert_int_equal(load("reviewer_links = alice=WA1", cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "is not reviewer=ORI (a 9-character ORI)"));
    assert_int_equal(load("review_poll_ms = 5", cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "milliseconds, 10 to 60000"));
    free(cfg);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_business_days),
        cmocka_unit_test(test_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
