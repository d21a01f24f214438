/*
 * test_audit_entry.c - the canonical entry encoding: a round trip for every event type,
 * byte-exact re-encoding, and the decoder refusing each kind of non-canonical input.
 * Also the checkpoint note: sign, parse, verify, and forged or damaged notes refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <cmocka.h>

#include "stateline/audit.h"
#include "stateline/policy.h"

static void fill(struct sl_audit_entry *e, int type)
{
    static const uint8_t h1[32] = {1, 2, 3}, h2[32] = {4, 5, 6}, h3[32] = {7};
    sl_audit_entry_init(e, (enum sl_audit_type)type, 1795704025134528LL + type);
    e->seq = 1000 + (uint64_t)type;
    sl_audit_set_str(e, SL_AF_REF, "WA-000000000042");
    sl_audit_set_str(e, SL_AF_ORI, "DCICE0100");
    sl_audit_set_str(e, SL_AF_MEMBER, "DHS");
    sl_audit_set_str(e, SL_AF_PARENT, "DHS/ICE/ERO");
    sl_audit_set_str(e, SL_AF_AGENCY_TYPE, "FE");
    sl_audit_set_str(e, SL_AF_REQ_STATE, "DC");
    sl_audit_set_str(e, SL_AF_USER, "agent 0042");
    sl_audit_set_str(e, SL_AF_TERMINAL, "T-17");
    sl_audit_set_str(e, SL_AF_KEY, "DQ");
    sl_audit_add_item(e, SL_AF_DEST, "WA");
    sl_audit_add_item(e, SL_AF_DEST, "OR");
    sl_audit_set_str(e, SL_AF_CONTROL, "CTL123");
    sl_audit_add_item(e, SL_AF_SEARCH, "NAM");
    sl_audit_add_item(e, SL_AF_SEARCH, "DOB");
    sl_audit_set_str(e, SL_AF_REASON, "C");
    sl_audit_set_str(e, SL_AF_PURPOSE, "TTP");
    sl_audit_set_str(e, SL_AF_CASE, "2026-004411");
    sl_audit_set_str(e, SL_AF_LEGAL, "W-2026-118 (US Dist Ct WD Wash)");
    sl_audit_set_int(e, SL_AF_EFFECT, SL_AUDIT_EFF_HOLD);
    sl_audit_set_int(e, SL_AF_OUTCOME, SL_AUDIT_OUT_HELD);
    sl_audit_add_item(e, SL_AF_RULES, "federal-review");
    sl_audit_set_hash(e, SL_AF_POLICY_HASH, h1);
    sl_audit_set_int(e, SL_AF_RELEASED, SL_AUDIT_CLASS_IDENTITY);
    sl_audit_set_int(e, SL_AF_WITHHELD, SL_AUDIT_CLASS_PHOTO | SL_AUDIT_CLASS_ADDRESS);
    sl_audit_set_hash(e, SL_AF_PERSONAL_HASH, h3);
    sl_audit_set_str(e, SL_AF_ACTOR, "reviewer.lee");
    sl_audit_set_str(e, SL_AF_ACTION, "approve-redact");
    sl_audit_set_str(e, SL_AF_TEXT, "Warrant checked \xe2\x80\x94 photo withheld");
    sl_audit_set_str(e, SL_AF_APPROVER, "director.kim");
    sl_audit_set_hash(e, SL_AF_POLICY_BEFORE, h1);
    sl_audit_set_hash(e, SL_AF_POLICY_AFTER, h2);
    sl_audit_set_str(e, SL_AF_NOTICE_ID, "N-77");
    sl_audit_set_int(e, SL_AF_DUE, 1796000000000000LL);
    sl_audit_set_int(e, SL_AF_ERROR, 12);
    sl_audit_set_int(e, SL_AF_LINE_SEQ, 123456789012ULL);
    sl_audit_set_str(e, SL_AF_REMOTE, "10.0.0.5:443");
    sl_audit_set_str(e, SL_AF_BASIS, "RCW 43.17.425");
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    for (int t = 1; t <= SL_AUDIT_TYPE_MAX; t++) {
        struct sl_audit_entry e, d;
        uint8_t buf[4096], buf2[4096];
        char err[200];
        fill(&e, t);
        int n = sl_audit_encode(&e, buf, sizeof buf, err, sizeof err);
        assert_true(n > 18);
        assert_int_equal(sl_audit_decode(buf, (size_t)n, &d, err, sizeof err), 0);
        assert_int_equal(d.type, t);
        assert_int_equal(d.seq, 1000 + (uint64_t)t);
        assert_int_equal(d.time_us, e.time_us);
        assert_int_equal(d.present, e.present);
        assert_int_equal(d.dest.n, 2);
        assert_memory_equal(d.dest.item[1].p, "OR", 2);
        assert_int_equal(d.line_seq, 123456789012ULL);
        assert_int_equal(d.withheld, SL_AUDIT_CLASS_PHOTO | SL_AUDIT_CLASS_ADDRESS);
        assert_memory_equal(d.policy_after, e.policy_after, 32);
        /* Canonical: re-encoding what was decoded gives the same bytes. */
        int n2 = sl_audit_encode(&d, buf2, sizeof buf2, err, sizeof err);
        assert_int_equal(n, n2);
        assert_memory_equal(buf, buf2, (size_t)n);
        /* Minimal entry of the type: only its required fields. */
        assert_non_null(sl_audit_type_name(t));
        assert_int_equal(sl_audit_type_parse(sl_audit_type_name(t)), t);
    }
}

static void test_required_fields(void **state)
{
    (void)state;
    struct sl_audit_entry e;
    uint8_t buf[512];
    char err[200];
    sl_audit_entry_init(&e, SL_AUDIT_QUERY, 1);
    sl_audit_set_str(&e, SL_AF_REF, "r1");
    sl_audit_set_str(&e, SL_AF_KEY, "DQ");
    assert_int_equal(sl_audit_encode(&e, buf, sizeof buf, err, sizeof err), -1);
    assert_non_null(strstr(err, "ori"));
    sl_audit_set_str(&e, SL_AF_ORI, "WASP00000");
    assert_true(sl_audit_encode(&e, buf, sizeof buf, err, sizeof err) > 0);
    /* no personal-data field exists: a name can only travel as a keyed hash */
    sl_audit_entry_init(&e, SL_AUDIT_QUERY, 1);
    assert_int_equal(sl_audit_set_str(&e, SL_AF_PERSONAL_HASH, "DOE, JANE"), -1);
}

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

static void test_decoder_strict(void **state)
{
    (void)state;
    struct sl_audit_entry e;
    uint8_t buf[512], b[512];
    sl_audit_entry_init(&e, SL_AUDIT_DECISION, 5);
    static const uint8_t h[32] = {9};
    sl_audit_set_str(&e, SL_AF_REF, "r1");
    sl_audit_set_int(&e, SL_AF_EFFECT, SL_AUDIT_EFF_FORBID);
    sl_audit_set_hash(&e, SL_AF_POLICY_HASH, h);
    sl_audit_add_item(&e, SL_AF_RULES, "no-civil-immigration");
    int n = enc(&e, buf, sizeof buf);
    assert_true(n > 0);
    struct sl_audit_entry d;
    char err[200];
    assert_int_equal(sl_audit_decode(buf, (size_t)n, &d, err, sizeof err), 0);

    /* every truncation is refused */
    for (int k = 0; k < n; k++)
        expect_bad(buf, (size_t)k, NULL);
    /* trailing garbage */
    memcpy(b, buf, (size_t)n);
    b[n] = 0;
    expect_bad(b, (size_t)n + 1, "truncated");
    /* version, type */
    memcpy(b, buf, (size_t)n);
    b[0] = 2;
    expect_bad(b, (size_t)n, "version");
    memcpy(b, buf, (size_t)n);
    b[1] = SL_AUDIT_TYPE_MAX + 1;
    expect_bad(b, (size_t)n, "type");
    /* negative time */
    memcpy(b, buf, (size_t)n);
    b[10] = 0x80;
    expect_bad(b, (size_t)n, "time");
    /* field order: swap tag of first field (ref, 1) to 200 -> unknown */
    memcpy(b, buf, (size_t)n);
    b[18] = 200;
    expect_bad(b, (size_t)n, "unknown field");
    /* out-of-order tags: make the first tag larger than the second */
    memcpy(b, buf, (size_t)n);
    b[18] = SL_AF_EFFECT; /* ref(1) -> effect(17), then effect(17) again */
    expect_bad(b, (size_t)n, NULL);
    /* zero enum value */
    int off = 18 + 3 + 2; /* after ref "r1" */
    assert_int_equal(buf[off], SL_AF_EFFECT);
    memcpy(b, buf, (size_t)n);
    b[off + 3] = 0;
    expect_bad(b, (size_t)n, "effect");
    b[off + 3] = SL_AUDIT_EFF_HOLD + 1;
    expect_bad(b, (size_t)n, "effect");
    /* control character in a string */
    memcpy(b, buf, (size_t)n);
    b[21] = '\n';
    expect_bad(b, (size_t)n, "ref");
    /* a field length running past the end */
    memcpy(b, buf, (size_t)n);
    b[20] = 0xff;
    expect_bad(b, (size_t)n, "past the end");
    /* missing required field: drop the whole policy hash field */
    sl_audit_entry_init(&e, SL_AUDIT_DECISION, 5);
    sl_audit_set_str(&e, SL_AF_REF, "r1");
    sl_audit_set_int(&e, SL_AF_EFFECT, SL_AUDIT_EFF_FORBID);
    assert_int_equal(enc(&e, b, sizeof b), -1);
    /* a mask with unknown bits, an empty string, a bad UTF-8 text */
    sl_audit_entry_init(&e, SL_AUDIT_SYSTEM, 5);
    sl_audit_set_str(&e, SL_AF_TEXT, "ok");
    sl_audit_set_int(&e, SL_AF_RELEASED, 1u << 30);
    assert_int_equal(enc(&e, b, sizeof b), -1);
    sl_audit_entry_init(&e, SL_AUDIT_SYSTEM, 5);
    sl_audit_set_str(&e, SL_AF_TEXT, "\xc0\xaf overlong");
    assert_int_equal(enc(&e, b, sizeof b), -1);
    sl_audit_set_str(&e, SL_AF_TEXT, "\xed\xa0\x80 surrogate");
    assert_int_equal(enc(&e, b, sizeof b), -1);
    sl_audit_set_str(&e, SL_AF_TEXT, "caf\xc3\xa9");
    assert_true(enc(&e, b, sizeof b) > 0);
}

static void test_too_long(void **state)
{
    (void)state;
    struct sl_audit_entry e;
    static uint8_t buf[70000];
    char text[1100];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = 0;
    sl_audit_entry_init(&e, SL_AUDIT_SYSTEM, 5);
    sl_audit_set_str(&e, SL_AF_TEXT, text); /* 1099 > 1024 */
    assert_int_equal(enc(&e, buf, sizeof buf), -1);
    text[1024] = 0;
    sl_audit_set_str(&e, SL_AF_TEXT, text);
    assert_true(enc(&e, buf, sizeof buf) > 0);
    assert_int_equal(enc(&e, buf, 100), -1); /* buffer too small */
}

/* ---- checkpoints ---------------------------------------------------------------------- */

static void test_checkpoint_sign_verify(void **state)
{
    (void)state;
    char sk[256], vk[256], sk2[256], vk2[256], err[200], note[1024], forged[1024];
    assert_int_equal(sl_audit_keygen("wa.example.gov/audit", sk, sizeof sk, vk, sizeof vk, err,
                                     sizeof err), 0);
    assert_int_equal(sl_audit_keygen("wa.example.gov/audit", sk2, sizeof sk2, vk2, sizeof vk2,
                                     err, sizeof err), 0);
    assert_memory_equal(sk, "PRIVATE+KEY+wa.example.gov/audit+", 33);
    assert_memory_equal(vk, "wa.example.gov/audit+", 21);
    assert_int_equal(sl_audit_keygen("bad name", sk2, sizeof sk2, vk2, sizeof vk2, err, sizeof err), -1);
    assert_int_equal(sl_audit_keygen("a+b", sk2, sizeof sk2, vk2, sizeof vk2, err, sizeof err), -1);
    assert_int_equal(sl_audit_keygen("other", sk2, sizeof sk2, vk2, sizeof vk2, err, sizeof err), 0);

    struct sl_audit_signer s;
    struct sl_audit_verifier v, v2;
    assert_int_equal(sl_audit_signer_parse(&s, sk, err, sizeof err), 0);
    assert_int_equal(sl_audit_verifier_parse(&v, vk, err, sizeof err), 0);
    assert_int_equal(sl_audit_verifier_parse(&v2, vk2, err, sizeof err), 0);
    assert_int_equal(s.key_id, v.key_id);
    { struct sl_audit_verifier vx; assert_int_equal(sl_audit_verifier_parse(&vx, sk, err, sizeof err), -1); }

    uint8_t root[32];
    for (int i = 0; i < 32; i++)
        root[i] = (uint8_t)i;
    int n = sl_audit_checkpoint_sign(&s, 1234, root, note, sizeof note);
    assert_true(n > 0);
    assert_memory_equal(note, "wa.example.gov/audit\n1234\n", 26);
    assert_non_null(strstr(note, "\n\n\xe2\x80\x94 wa.example.gov/audit "));
    struct sl_audit_checkpoint c;
    assert_int_equal(sl_audit_checkpoint_parse(note, (size_t)n, &c, err, sizeof err), 0);
    assert_int_equal(c.size, 1234);
    assert_memory_equal(c.root, root, 32);
    assert_string_equal(c.origin, "wa.example.gov/audit");
    assert_int_equal(c.nsig, 1);
    assert_int_equal(sl_audit_checkpoint_verify(note, &c, &v), 0);
    /* a key of another log does not verify it */
    struct sl_audit_verifier vo;
    assert_int_equal(sl_audit_verifier_parse(&vo, vk2, err, sizeof err), 0);
    assert_int_equal(sl_audit_checkpoint_verify(note, &c, &vo), -1);
    sl_audit_verifier_free(&vo);

    /* forged: size changed, signature kept */
    memcpy(forged, note, (size_t)n + 1);
    forged[24] = '5'; /* 1234 -> 1235 */
    assert_int_equal(sl_audit_checkpoint_parse(forged, (size_t)n, &c, err, sizeof err), 0);
    assert_int_equal(c.size, 1235);
    assert_int_equal(sl_audit_checkpoint_verify(forged, &c, &v), -1);
    /* forged: signature bit flipped */
    memcpy(forged, note, (size_t)n + 1);
    char *sig = strrchr(forged, ' ') + 1;
    sig[3] = sig[3] == 'A' ? 'B' : 'A';
    assert_int_equal(sl_audit_checkpoint_parse(forged, (size_t)n, &c, err, sizeof err), 0);
    assert_int_equal(sl_audit_checkpoint_verify(forged, &c, &v), -1);
    /* damaged forms are refused by the parser */
    const char *bad[] = {
        "o\n01\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n\xe2\x80\x94 o AAAAAAAA\n",
        "o\n1\nAAEC\n\n\xe2\x80\x94 o AAAAAAAA\n",
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n",
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n- o AAAAAAAA\n",
        "o\nx\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n\xe2\x80\x94 o AAAAAAAA\n",
        "o\n1\n\n\xe2\x80\x94 o AAAAAAAA\n",
        "o\n99999999999999999999\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n\xe2\x80\x94 o AAAAAAAA\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sl_audit_checkpoint_parse(bad[i], strlen(bad[i]), &c, err, sizeof err), -1);
    sl_audit_signer_free(&s);
    sl_audit_verifier_free(&v);
    sl_audit_verifier_free(&v2);
}

/* The audit log's data classes are the policy module's, bit for bit and name for name. */
static void test_classes_match_policy(void **state)
{
    (void)state;
    assert_int_equal(SL_AUDIT_CLASS_COUNT, SL_DC_COUNT);
    for (int i = 0; i < SL_DC_COUNT; i++)
        assert_string_equal(sl_audit_class_name(i), sl_policy_dc_name(i));
    assert_int_equal(SL_AUDIT_CLASS_PHOTO, 1u << SL_DC_PHOTO);
    assert_int_equal(SL_AUDIT_CLASS_OWNER_ADDRESS, 1u << SL_DC_OWNER_ADDRESS);
    assert_null(sl_audit_class_name(SL_AUDIT_CLASS_COUNT));
}

static void test_b64(void **state)
{
    (void)state;
    uint8_t out[8];
    char s[16];
    sl_audit_b64_encode((const uint8_t *)"foob", 4, s);
    assert_string_equal(s, "Zm9vYg==");
    assert_int_equal(sl_audit_b64_decode("Zm9vYg==", 8, out, sizeof out), 4);
    assert_int_equal(sl_audit_b64_decode("Zm9vYh==", 8, out, sizeof out), -1); /* stray bits */
    assert_int_equal(sl_audit_b64_decode("Zm9=Yg==", 8, out, sizeof out), -1);
    assert_int_equal(sl_audit_b64_decode("Zm9vY", 5, out, sizeof out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_required_fields),
        cmocka_unit_test(test_decoder_strict),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_checkpoint_sign_verify),
        cmocka_unit_test(test_b64),
        cmocka_unit_test(test_classes_match_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
