/*
 * test_drafts.c - the pieces of rule drafts that need no server: whether a draft loosens
 * access by its text (sl_policy_loosens, src/policy/policy_sim.c) on each kind of change
 * and on tightening ones, and the upload form's multipart reader (sl_http_multipart_get).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stateline/buf.h"
#include "stateline/http.h"
#include "stateline/policy.h"

static struct sl_policy *compile(const char *src)
{
    struct sl_policy *p = NULL;
    struct sl_policy_diags dg = {0};
    if (sl_policy_compile(src, strlen(src), "t", NULL, &p, &dg) != 0) {
        for (int i = 0; i < dg.n; i++)
            print_error("%d:%d: %s\n", dg.v[i].line, dg.v[i].col, dg.v[i].msg);
        fail();
    }
    sl_policy_diags_free(&dg);
    return p;
}

#define BASE                                                                              \
    "state WA\ndefault permit\n"                                                          \
    "rule no-ice \"r\" forbid when requester.parent under \"DHS/ICE\"\n"                  \
    "rule tf \"r\" hold when requester.tags has task-force\n  deadline 72h, then forbid\n" \
    "rule out \"r\" permit when not in-state\n  redact photo, ssn\n"                      \
    "  notify subject within 3 days\n"

/* How many reasons the change from BASE to draft gives; *why gets them. */
static int loosens(const char *draft, struct sl_buf *why)
{
    struct sl_policy *a = compile(BASE), *b = compile(draft);
    sl_buf_reset(why);
    int n = sl_policy_loosens(a, b, why);
    sl_buf_append(why, "", 1);
    sl_policy_unref(a);
    sl_policy_unref(b);
    return n;
}

static int has(struct sl_buf *why, const char *s)
{
    return strstr((const char *)sl_buf_head(why), s) != NULL;
}

static void test_loosens(void **state)
{
    (void)state;
    struct sl_buf why = SL_BUF_INIT;
    /* tightening or neutral: nothing */
    assert_int_equal(loosens(BASE, &why), 0);
    assert_int_equal(loosens(BASE "rule dhs \"r\" forbid when requester.parent under \"DHS\"\n",
                             &why), 0);
    assert_int_equal(loosens(BASE "rule fe \"r\" hold when requester.type = FE\n"
                                  "  deadline 24h, then permit\n", &why),
                     0); /* under default permit a hold only delays */
    /* a forbid removed */
    const char *no_ice =
        "state WA\ndefault permit\n"
        "rule tf \"r\" hold when requester.tags has task-force\n  deadline 72h, then forbid\n"
        "rule out \"r\" permit when not in-state\n  redact photo, ssn\n"
        "  notify subject within 3 days\n";
    assert_true(loosens(no_ice, &why) >= 1);
    assert_true(has(&why, "forbid rule no-ice is removed"));
    /* a forbid's condition changed */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", BASE);
    char *q = strstr(buf, "\"DHS/ICE\"");
    memcpy(q, "\"DHS/IC\" ", 9);
    assert_true(loosens(buf, &why) >= 1);
    assert_true(has(&why, "condition of forbid rule no-ice changes"));
    /* a forbid becomes a hold; a hold releases on timeout; a redaction and a notice go */
    const char *weaker =
        "state WA\ndefault permit\n"
        "rule no-ice \"r\" hold when requester.parent under \"DHS/ICE\"\n"
        "  deadline 72h, then forbid\n"
        "rule tf \"r\" hold when requester.tags has task-force\n  deadline 72h, then permit\n"
        "rule out \"r\" permit when not in-state\n  redact photo\n";
    assert_true(loosens(weaker, &why) >= 4);
    assert_true(has(&why, "rule no-ice changes to hold"));
    assert_true(has(&why, "hold rule tf now releases when the deadline passes"));
    assert_true(has(&why, "rule out no longer withholds ssn"));
    assert_true(has(&why, "rule out no longer notifies the person"));
    /* the default opens */
    const char *closed = "state WA\ndefault forbid\n";
    struct sl_policy *a = compile(closed), *b = compile("state WA\ndefault permit\n");
    sl_buf_reset(&why);
    assert_int_equal(sl_policy_loosens(a, b, &why), 1);
    /* under default forbid, a new permit opens; a new forbid does not */
    struct sl_policy *c = compile("state WA\ndefault forbid\nrule wa \"r\" permit when in-state\n");
    sl_buf_reset(&why);
    assert_int_equal(sl_policy_loosens(a, c, &why), 1);
    sl_buf_reset(&why);
    assert_int_equal(sl_policy_loosens(c, a, &why), 0);
    sl_policy_unref(a);
    sl_policy_unref(b);
    sl_policy_unref(c);
    sl_buf_free(&why);
}

static void test_multipart(void **state)
{
    (void)state;
    const char *body =
        "--xyz\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n"
        "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.policy\"\r\n"
        "Content-Type: text/plain\r\n\r\nstate WA\r\n--x\ndefault permit\n\r\n--xyz--\r\n";
    const char *v;
    size_t n;
    assert_int_equal(sl_http_multipart_get(body, strlen(body), "xyz", "csrf", &v, &n), 1);
    assert_int_equal(n, 3);
    assert_memory_equal(v, "abc", 3);
    assert_int_equal(sl_http_multipart_get(body, strlen(body), "xyz", "file", &v, &n), 1);
    assert_int_equal(n, strlen("state WA\r\n--x\ndefault permit\n"));
    assert_memory_equal(v, "state WA\r\n--x\ndefault permit\n", n);
    assert_int_equal(sl_http_multipart_get(body, strlen(body), "xyz", "name", &v, &n), 0);
    /* twice, truncated, no delimiter, wrong boundary */
    const char *twice = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
                        "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n2\r\n--b--";
    assert_int_equal(sl_http_multipart_get(twice, strlen(twice), "b", "a", &v, &n), -1);
    assert_int_equal(sl_http_multipart_get(body, strlen(body) - 12, "xyz", "file", &v, &n), -1);
    assert_int_equal(sl_http_multipart_get("garbage", 7, "xyz", "csrf", &v, &n), -1);
    assert_int_equal(sl_http_multipart_get(body, strlen(body), "other", "csrf", &v, &n), -1);
    assert_int_equal(sl_http_multipart_get(body, strlen(body), "", "csrf", &v, &n), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loosens),
        cmocka_unit_test(test_multipart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
