/*
 * test_http.c - the oversight desk's parsers and credentials: percent-decoding, form and
 * cookie look-ups (duplicates, control characters, truncation refused), dates and months,
 * base32, TOTP against the RFC 6238 test vectors, scrypt hashes (right / wrong password,
 * malformed stored hashes), and the desk's configuration keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stateline/gateway.h"
#include "stateline/http.h"

static void test_urldecode(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(sl_http_urldecode("a+b%2Fc", 7, out, sizeof out, 1), 5);
    assert_string_equal(out, "a b/c");
    assert_int_equal(sl_http_urldecode("a+b", 3, out, sizeof out, 0), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(sl_http_urldecode("%zz", 3, out, sizeof out, 1), -1);
    assert_int_equal(sl_http_urldecode("%4", 2, out, sizeof out, 1), -1);
    assert_int_equal(sl_http_urldecode("a%00b", 5, out, sizeof out, 1), -1);
    assert_int_equal(sl_http_urldecode("a%01b", 5, out, sizeof out, 1), -1);
    assert_int_equal(sl_http_urldecode("0123456789", 10, out, 10, 1), -1); /* no room */
    assert_int_equal(sl_http_urldecode("", 0, out, sizeof out, 1), 0);
}

static void test_form_and_cookie(void **state)
{
    (void)state;
    char out[32], tiny[3];
    const char *f = "user=olivia&password=a+b%26c&code=&flag";
    assert_int_equal(sl_http_form_get(f, strlen(f), "user", out, sizeof out), 6);
    assert_string_equal(out, "olivia");
    assert_int_equal(sl_http_form_get(f, strlen(f), "password", out, sizeof out), 5);
    assert_string_equal(out, "a b&c");
    assert_int_equal(sl_http_form_get(f, strlen(f), "code", out, sizeof out), 0);
    assert_int_equal(sl_http_form_get(f, strlen(f), "flag", out, sizeof out), 0);
    assert_int_equal(sl_http_form_get(f, strlen(f), "use", out, sizeof out), -1);
    assert_int_equal(sl_http_form_get(f, strlen(f), "user", tiny, sizeof tiny), -2);
    const char *dup = "user=a&user=b";
    assert_int_equal(sl_http_form_get(dup, strlen(dup), "user", out, sizeof out), -3);
    const char *bad = "user=%zz";
    assert_int_equal(sl_http_form_get(bad, strlen(bad), "user", out, sizeof out), -2);
    /* a length, not a NUL, ends the body */
    assert_int_equal(sl_http_form_get("user=abcdef", 8, "user", out, sizeof out), 3);
    assert_string_equal(out, "abc");
    const char *ck = "theme=dark;  sl_session=00ff; x=1";
    assert_int_equal(sl_http_cookie_get(ck, strlen(ck), "sl_session", out, sizeof out), 4);
    assert_string_equal(out, "00ff");
    assert_int_equal(sl_http_cookie_get(ck, strlen(ck), "session", out, sizeof out), -1);
    const char *ck2 = "a=1; a=2";
    assert_int_equal(sl_http_cookie_get(ck2, strlen(ck2), "a", out, sizeof out), -3);
    const char *ck3 = "a=x y";
    assert_int_equal(sl_http_cookie_get(ck3, strlen(ck3), "a", out, sizeof out), -2);
}

static void test_dates(void **state)
{
    (void)state;
    int64_t us, a, b;
    assert_int_equal(sl_http_parse_date("1970-01-02", &us), 0);
    assert_true(us == INT64_C(86400000000));
    assert_int_equal(sl_http_parse_date("2024-02-29", &us), 0);
    assert_int_equal(sl_http_parse_date("2026-02-29", &us), -1);
    assert_int_equal(sl_http_parse_date("2026-13-01", &us), -1);
    assert_int_equal(sl_http_parse_date("2026-1-01", &us), -1);
    assert_int_equal(sl_http_parse_date("1969-12-31", &us), -1);
    assert_int_equal(sl_http_parse_date("2026-11-26x", &us), -1);
    assert_int_equal(sl_http_parse_month("2026-12", &a, &b), 0);
    int64_t jan;
    assert_int_equal(sl_http_parse_date("2027-01-01", &jan), 0);
    assert_true(b == jan && b - a == INT64_C(31) * 86400000000);
    assert_int_equal(sl_http_parse_month("2026-00", &a, &b), -1);
    assert_int_equal(sl_http_parse_month("2026-1", &a, &b), -1);
}

static void test_base32_totp(void **state)
{
    (void)state;
    const uint8_t key[] = "12345678901234567890";
    char b32[64];
    uint8_t back[32];
    assert_int_equal(sl_http_base32_encode(key, 20, b32, sizeof b32), 32);
    assert_string_equal(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_int_equal(sl_http_base32_decode("gezd gnbv gy3t qojq gezd gnbv gy3t qojq", back,
                                           sizeof back), 20);
    assert_memory_equal(back, key, 20);
    assert_int_equal(sl_http_base32_decode("GEZ1", back, sizeof back), -1);
    assert_int_equal(sl_http_base32_encode(key, 20, b32, 10), -1);
    /* RFC 6238 appendix B (SHA-1): the last six digits of the 8-digit codes */
    assert_int_equal(sl_http_totp(key, 20, 59 / 30), 287082);
    assert_int_equal(sl_http_totp(key, 20, 1111111109 / 30), 81804);
    assert_int_equal(sl_http_totp(key, 20, 1234567890 / 30), 5924);
    assert_int_equal(sl_http_totp(key, 20, 2000000000 / 30), 279037);
}

static void test_password(void **state)
{
    (void)state;
    char h1[160], h2[160];
    assert_int_equal(sl_http_password_hash("correct horse battery", h1, sizeof h1), 0);
    assert_int_equal(sl_http_password_hash("correct horse battery", h2, sizeof h2), 0);
    assert_true(strncmp(h1, "scrypt$15$8$1$", 14) == 0);
    assert_string_not_equal(h1, h2); /* salted */
    assert_int_equal(sl_http_password_check("correct horse battery", h1), 1);
    assert_int_equal(sl_http_password_check("correct horse batterY", h1), 0);
    assert_int_equal(sl_http_password_check("", h1), 0);
    assert_int_equal(sl_http_password_check("x", "plain"), 0);
    assert_int_equal(sl_http_password_check("x", "scrypt$40$8$1$AAAA$AAAA"), 0);
    assert_int_equal(sl_http_password_check("x", "scrypt$15$8$1$!!!$AAAA"), 0);
    assert_int_equal(sl_http_password_hash("x", h1, 20), -1);
}

static void test_config_keys(void **state)
{
    (void)state;
    struct sl_gw_config *c = malloc(sizeof *c);
    char err[600];
    const char *base = "[gateway]\nstate = WA\nori = WAOLN0000\nhub = 127.0.0.1:1\n"
                       "tls = no\ntokens = t\nrecords = r.db\ndefault = permit\n"
                       "audit = a\naudit_key = keys/audit.key\n";
    char text[1024];
    assert_int_equal(sl_gw_config_parse(base, strlen(base), "/etc/sl/gw.conf", c, err,
                                        sizeof err), 0);
    assert_string_equal(c->http_listen, "");
    assert_int_equal(c->http_tls, 1);
    assert_int_equal(c->http_session_s, 1800);
    assert_string_equal(c->audit_pub, "/etc/sl/keys/audit.pub");
    snprintf(text, sizeof text, "%shttp_listen = 127.0.0.1:8443\n", base);
    assert_int_equal(sl_gw_config_parse(text, strlen(text), "/etc/sl/gw.conf", c, err,
                                        sizeof err), -1);
    assert_non_null(strstr(err, "http_cert"));
    snprintf(text, sizeof text, "%shttp_listen = 127.0.0.1:8443\nhttp_cert = w.crt\n"
             "http_key = w.key\nhttp_session_minutes = 15\naudit_pub = a.pub\n", base);
    assert_int_equal(sl_gw_config_parse(text, strlen(text), "/etc/sl/gw.conf", c, err,
                                        sizeof err), 0);
    assert_string_equal(c->http_cert, "/etc/sl/w.crt");
    assert_int_equal(c->http_session_s, 900);
    assert_string_equal(c->audit_pub, "/etc/sl/a.pub");
    snprintf(text, sizeof text, "%shttp_session_minutes = 0\n", base);
    assert_int_equal(sl_gw_config_parse(text, strlen(text), "/etc/sl/gw.conf", c, err,
                                        sizeof err), -1);
    assert_non_null(strstr(err, "minutes"));
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urldecode),   cmocka_unit_test(test_form_and_cookie),
        cmocka_unit_test(test_dates),       cmocka_unit_test(test_base32_totp),
        cmocka_unit_test(test_password),    cmocka_unit_test(test_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
