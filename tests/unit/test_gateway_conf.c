/*
 * test_gateway_conf.c - the gateway's configuration reader (defaults, relative paths, the
 * keys it answers, layouts, a clear error for every bad or missing value) and the one
 * conversion of a policy redact mask into store classes (by class name).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/gw_int.h"
#include "stateline/policy.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/sl-gwconf-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/gw.conf", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void write_conf(struct fixture *f, const char *text)
{
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

#define BASE                                                                             \
    "[gateway]\nstate = WA\nori = WAOLN0000\nhub = 127.0.0.1:5151\n"                      \
    "cert = c.crt\nkey = c.key\nca = ca.crt\nrecords = wa.db\naudit = audit\n"            \
    "audit_key = audit.key\n"

static void test_defaults_and_paths(void **state)
{
    struct fixture *f = *state;
    struct sl_gw_config cfg;
    char err[512], want[256];
    write_conf(f, BASE "policy = wa.policy\n");
    assert_int_equal(sl_gw_config_load(f->path, &cfg, err, sizeof err), 0);
    assert_string_equal(cfg.state, "WA");
    assert_string_equal(cfg.state_name, "WASHINGTON");
    assert_string_equal(cfg.ori, "WAOLN0000");
    assert_int_equal(cfg.tls, 1);
    snprintf(want, sizeof want, "%s/wa.policy", f->dir);
    assert_string_equal(cfg.policy, want);
    snprintf(want, sizeof want, "%s/data", f->dir);
    assert_string_equal(cfg.data_dir, want);
    assert_int_equal(cfg.keys, SL_GW_KEYS_DEFAULT);
    assert_false(cfg.keys & SL_GW_KEY_RPQ);
    assert_int_equal(cfg.layout, SL_GW_LAYOUT_TEXT);
    assert_int_equal(cfg.policy_poll_ms, 250);
    assert_int_equal(cfg.outage, SL_GW_OUTAGE_DENY_EXTERNAL);
    assert_int_equal(cfg.retention_days, 365);

    write_conf(f, BASE "default = forbid\nanswer = DQ RQ RPQ\nlayout = standard\n"
                       "outage = deny-all\nname = EVERGREEN STATE\npolicy_poll_ms = 100\n"
                       "retention_days = 0\n");
    assert_int_equal(sl_gw_config_load(f->path, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.default_effect, GW_FORBID);
    assert_string_equal(cfg.policy, "");
    assert_int_equal(cfg.keys, SL_GW_KEY_DQ | SL_GW_KEY_RQ | SL_GW_KEY_RPQ);
    assert_int_equal(cfg.layout, SL_GW_LAYOUT_STANDARD);
    assert_int_equal(cfg.outage, SL_GW_OUTAGE_DENY_ALL);
    assert_string_equal(cfg.state_name, "EVERGREEN STATE");
    assert_int_equal(cfg.policy_poll_ms, 100);
    assert_int_equal(cfg.retention_days, 0);
}

static void expect_error(struct fixture *f, const char *text, const char *needle)
{
    struct sl_gw_config cfg;
    char err[512];
    write_conf(f, text);
    assert_int_equal(sl_gw_config_load(f->path, &cfg, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not contain '%s'", err, needle);
}

static void test_errors(void **state)
{
    struct fixture *f = *state;
    expect_error(f, BASE, "neither policy");
    expect_error(f, BASE "policy = p\ndefault = permit\n", "both policy and default");
    expect_error(f, BASE "default = maybe\n", "default = maybe: permit or forbid");
    expect_error(f, BASE "default = permit\nanswer = DQ XQ\n", "unknown key 'XQ'");
    expect_error(f, BASE "default = permit\nlayout = fancy\n", "text or standard");
    expect_error(f, BASE "default = permit\nbogus = 1\n", "bogus = 1: unknown key");
    expect_error(f, BASE "default = permit\n[other]\nx = 1\n", "unknown section");
    expect_error(f, BASE "default = permit\ntls = perhaps\n", "yes or no");
    expect_error(f, BASE "default = permit\noutage = never\n", "deny-external or deny-all");
    expect_error(f, BASE "default = permit\npolicy_poll_ms = 0\n", "10 to 60000");
    expect_error(f, BASE "default = permit\nretention_days = -1\n", "0 (keep) to 36500");
    expect_error(f, BASE "default = permit\nretention_days = 1y\n", "0 (keep) to 36500");
    expect_error(f, "[gateway]\nstate = wa\n", "two upper-case letters");
    expect_error(f, "[gateway]\nstate = WA\nori = WAOLN\n", "9 upper-case");
    expect_error(f, "[gateway]\nstate = WA\nori = ORTEST000\nhub = h:1\n",
                 "does not belong to state WA");
    expect_error(f, "[gateway]\nori = WAOLN0000\n", "state is missing");
    expect_error(f, "[gateway]\nstate = WA\nori = WAOLN0000\n", "hub is missing");
    expect_error(f, "[gateway]\nstate = WA\nori = WAOLN0000\nhub = h:1\ntls = no\n",
                 "tls = no needs tokens");
    expect_error(f, "[gateway]\nstate = WA\nori = WAOLN0000\nhub = h:1\n", "tls = yes needs");
    expect_error(f, "[gateway]\nstate = WA\nori = WAOLN0000\nhub = h:1\ncert = a\nkey = b\n"
                    "ca = c\ndefault = permit\n", "records is missing");
    expect_error(f, "[gateway\n", "not INI syntax");
    struct sl_gw_config cfg;
    char err[256];
    assert_int_equal(sl_gw_config_load("/nonexistent/gw.conf", &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
}

/* Every class the policy language can redact is one the store can apply; a bit it cannot
 * apply is reported, never dropped silently. */
static void test_class_mapping(void **state)
{
    (void)state;
    for (int i = 0; i < SL_DC_COUNT; i++) {
        int nun = 0;
        char un[64];
        assert_int_equal(gw_policy_store_mask(SL_DC_BIT(i), &nun, un, sizeof un), SL_DC_BIT(i));
        assert_int_equal(nun, 0);
    }
    int nun = 0;
    char un[64];
    assert_int_equal(gw_policy_store_mask(SL_DC_ALL, &nun, un, sizeof un), SL_DC_ALL);
    assert_int_equal(nun, 0);
    assert_int_equal(gw_policy_store_mask(SL_DC_ALL | SL_DC_BIT(SL_DC_COUNT), &nun, un, sizeof un),
                     SL_DC_ALL);
    assert_int_equal(nun, 1);
    assert_non_null(strstr(un, "class"));
    char names[200];
    gw_class_names(SL_DC_BIT(SL_DC_PHOTO) | SL_DC_BIT(SL_DC_SSN), names, sizeof names);
    assert_string_equal(names, "photo, ssn");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_and_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test(test_class_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
