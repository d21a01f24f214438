/*
 * test_hub_audit_entry.c - the version-2 entry fields the hub writes (line, legs) and the
 * hub-line type: the version byte follows the content (1 unless something of version 2
 * is present), both versions round-trip byte for byte, and the decoder refuses a
 * version-1 entry with a version-2 tag or type and a version-2 entry that needs none.
 * A known-answer hub-route entry pins the bytes (docs/audit-format.md §2 and §11).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "stateline/audit.h"

static int enc(struct sl_audit_entry *e, uint8_t *buf, size_t cap)
{
    char err[200];
    return sl_audit_encode(e, buf, cap, err, sizeof err);
}

static void expect_bad(const uint8_t *buf, size_t n, const char *why)
{
    struct sl_audit_entry d;
    char err[200] = "";
    assert_int_equal(sl_audit_decode(buf, n, &d, err, sizeof err), -1);
    if (why && !strstr(err, why)) {
        fprintf(stderr, "expected '%s' in '%s'\n", why, err);
        fail();
    }
}

/* The hub-route entry of a DQ from WA's terminal line to CA, delivered. */
static void route(struct sl_audit_entry *e)
{
    sl_audit_entry_init(e, SL_AUDIT_HUB_ROUTE, 1795714733106384LL);
    e->seq = 3;
    sl_audit_set_str(e, SL_AF_REF, "WA-1795714733-00001");
    sl_audit_set_str(e, SL_AF_ORI, "WATEST000");
    sl_audit_set_str(e, SL_AF_MEMBER, "WA");
    sl_audit_set_str(e, SL_AF_KEY, "DQ");
    sl_audit_add_item(e, SL_AF_DEST, "CA");
    sl_audit_set_str(e, SL_AF_CONTROL, "CTL42");
    sl_audit_set_int(e, SL_AF_OUTCOME, SL_AUDIT_OUT_ROUTED);
    sl_audit_set_int(e, SL_AF_LINE_SEQ, 1);
    sl_audit_set_str(e, SL_AF_LINE, "terminal");
    sl_audit_add_item(e, SL_AF_LEGS, "DQ>CA/a#1");
}

static void test_version_follows_content(void **state)
{
    (void)state;
    struct sl_audit_entry e, d;
    uint8_t buf[1024], buf2[1024];
    char err[200];
    route(&e);
    int n = enc(&e, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(buf[0], 2);
    assert_int_equal(sl_audit_decode(buf, (size_t)n, &d, err, sizeof err), 0);
    assert_int_equal(d.legs.n, 1);
    assert_memory_equal(d.legs.item[0].p, "DQ>CA/a#1", 9);
    assert_int_equal(d.line.len, 8);
    assert_memory_equal(d.line.p, "terminal", 8);
    int n2 = enc(&d, buf2, sizeof buf2);
    assert_int_equal(n, n2);
    assert_memory_equal(buf, buf2, (size_t)n);

    /* a reply's switch message id (tag 38, u64, version 2) */
    route(&e);
    sl_audit_set_int(&e, SL_AF_MID, -1); /* stored as u64: 2^64-1 */
    n = enc(&e, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(sl_audit_decode(buf, (size_t)n, &d, err, sizeof err), 0);
    assert_true(d.mid == UINT64_MAX);
    assert_true(d.present & SL_AF_BIT(SL_AF_MID));
    n2 = enc(&d, buf2, sizeof buf2);
    assert_int_equal(n, n2);
    assert_memory_equal(buf, buf2, (size_t)n);

    /* without line, legs and mid the same entry is version 1 */
    route(&e);
    e.present &= ~(SL_AF_BIT(SL_AF_LINE) | SL_AF_BIT(SL_AF_LEGS));
    n = enc(&e, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(buf[0], 1);
    assert_int_equal(sl_audit_decode(buf, (size_t)n, &d, err, sizeof err), 0);
    /* ... and written as version 2 it is not canonical */
    buf[0] = 2;
    expect_bad(buf, (size_t)n, "must be version 1");

    /* the hub-line type is version 2 */
    sl_audit_entry_init(&e, SL_AUDIT_HUB_LINE, 5);
    sl_audit_set_str(&e, SL_AF_ACTION, "up");
    n = enc(&e, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(buf[0], 2);
    assert_int_equal(sl_audit_decode(buf, (size_t)n, &d, err, sizeof err), 0);
    assert_string_equal(sl_audit_type_name(d.type), "hub-line");
    assert_int_equal(sl_audit_type_parse("hub-line"), SL_AUDIT_HUB_LINE);
    buf[0] = 1;
    expect_bad(buf, (size_t)n, "type");
}

static void test_v1_refuses_v2_tags(void **state)
{
    (void)state;
    struct sl_audit_entry e;
    uint8_t buf[1024];
    route(&e);
    e.present &= ~SL_AF_BIT(SL_AF_LEGS); /* keep "line", the last field */
    int n = enc(&e, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(buf[0], 2);
    buf[0] = 1;
    expect_bad(buf, (size_t)n, "unknown field tag 36");
    buf[0] = 3;
    expect_bad(buf, (size_t)n, "version");
}

static void test_required_and_limits(void **state)
{
    (void)state;
    struct sl_audit_entry e;
    uint8_t buf[4096];
    char err[200];
    /* a message the hub could not parse: member and outcome are enough */
    sl_audit_entry_init(&e, SL_AUDIT_HUB_ROUTE, 5);
    sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_REJECTED);
    assert_int_equal(sl_audit_encode(&e, buf, sizeof buf, err, sizeof err), -1);
    assert_non_null(strstr(err, "member"));
    sl_audit_set_str(&e, SL_AF_MEMBER, "WA");
    sl_audit_set_int(&e, SL_AF_ERROR, 1);
    assert_true(enc(&e, buf, sizeof buf) > 0);
    /* hub-line needs its action */
    sl_audit_entry_init(&e, SL_AUDIT_HUB_LINE, 5);
    sl_audit_set_str(&e, SL_AF_MEMBER, "WA");
    assert_int_equal(sl_audit_encode(&e, buf, sizeof buf, err, sizeof err), -1);
    assert_non_null(strstr(err, "action"));
    /* legs: at most 32 items of at most 64 printable bytes; line at most 16 */
    route(&e);
    for (int i = 1; i < SL_AUDIT_MAX_LIST; i++)
        assert_int_equal(sl_audit_add_item(&e, SL_AF_LEGS, "ID:queued"), 0);
    assert_int_equal(sl_audit_add_item(&e, SL_AF_LEGS, "ID:queued"), -1);
    assert_true(enc(&e, buf, sizeof buf) > 0);
    route(&e);
    sl_audit_add_item(&e, SL_AF_LEGS,
                      "DQ>CA/a#18446744073709551615 MID/18446744073709551615"); /* longest */
    assert_true(enc(&e, buf, sizeof buf) > 0);
    route(&e);
    sl_audit_add_item(&e, SL_AF_LEGS,
                      "01234567890123456789012345678901234567890123456789012345678901234");
    assert_int_equal(enc(&e, buf, sizeof buf), -1);
    route(&e);
    sl_audit_add_item(&e, SL_AF_LEGS, "OR VIA H1:refused");
    assert_true(enc(&e, buf, sizeof buf) > 0);
    route(&e);
    sl_audit_set_str(&e, SL_AF_LINE, "terminal-line-too-long");
    assert_int_equal(enc(&e, buf, sizeof buf), -1);
}

/* The bytes of the route() entry, as docs/audit-format.md §11 shows them. */
static void test_known_answer(void **state)
{
    (void)state;
    static const char want[] =
        "020e0000000000000003000661316ac8e4d0"       /* v2, hub-route, seq 3, time */
        "010013" "57412d313739353731343733332d3030303031" /* ref */
        "020009" "574154455354303030"                    /* ori */
        "030002" "5741"                                  /* member */
        "090002" "4451"                                  /* key */
        "0a0003" "024341"                                /* destinations */
        "0b0005" "43544c3432"                            /* control */
        "120001" "07"                                    /* outcome routed */
        "210008" "0000000000000001"                      /* line_seq */
        "240008" "7465726d696e616c"                      /* line */
        "25000a" "0944513e43412f612331";                 /* legs */
    struct sl_audit_entry e;
    uint8_t buf[512];
    char hex[1100];
    route(&e);
    int n = enc(&e, buf, sizeof buf);
    assert_true(n > 0);
    sl_audit_hex(buf, (size_t)n, hex);
    assert_string_equal(hex, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_follows_content),
        cmocka_unit_test(test_v1_refuses_v2_tags),
        cmocka_unit_test(test_required_and_limits),
        cmocka_unit_test(test_known_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
