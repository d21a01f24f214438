/*
 * test_hub_conf.c - the hub's configuration reader: defaults, relative paths, sizes, the
 * plain-TCP rules, [member] takes, and a clear error for every bad value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "stateline/hub.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/sl-hubconf-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/hub.conf", f->dir);
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

static int load(struct fixture *f, const char *text, struct sl_hub_config *cfg, char *err,
                size_t errlen)
{
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return sl_hub_config_load(f->path, cfg, err, errlen);
}

static void test_defaults_and_paths(void **state)
{
    struct fixture *f = *state;
    struct sl_hub_config *cfg = malloc(sizeof *cfg);
    char err[512] = "", want[256];
    assert_int_equal(load(f,
                          "[hub]\nlisten = 127.0.0.1:5151\ncert = certs/hub.pem\n"
                          "key = /abs/hub.key\nca = certs/ca.pem\ndirectory = dir.db\n",
                          cfg, err, sizeof err),
                     0);
    assert_int_equal(cfg->tls, 1);
    assert_int_equal(cfg->max_frame, 1024 * 1024);
    assert_int_equal(cfg->out_cap, 4 * 1024 * 1024);
    assert_int_equal(cfg->requester_map, 65536);
    assert_string_equal(cfg->ori, "NL0000000");
    snprintf(want, sizeof want, "%s/certs/hub.pem", f->dir);
    assert_string_equal(cfg->cert, want);
    assert_string_equal(cfg->key, "/abs/hub.key");
    snprintf(want, sizeof want, "%s/dir.db", f->dir);
    assert_string_equal(cfg->directory, want);
    assert_int_equal(cfg->nmembers, 0);
    free(cfg);
}

static void test_sizes_and_members(void **state)
{
    struct fixture *f = *state;
    struct sl_hub_config *cfg = malloc(sizeof *cfg);
    char err[512] = "";
    assert_int_equal(load(f,
                          "[hub]\nlisten = 127.0.0.1:0\ndirectory = d.db\ntls = no\n"
                          "plain = yes\ntokens = t\nmax_frame = 64k\nout_cap = 1 MiB\n"
                          "requester_map = 1000\n[member OR]\ntakes = DQ, RQ AM\n"
                          "[member DJ]\ntakes =\n",
                          cfg, err, sizeof err),
                     0);
    assert_int_equal(cfg->max_frame, 65536);
    assert_int_equal(cfg->out_cap, 1024 * 1024);
    assert_int_equal(cfg->requester_map, 1024); /* rounded up to a power of two */
    assert_int_equal(cfg->nmembers, 2);
    assert_string_equal(cfg->members[0].code, "OR");
    assert_int_equal(cfg->members[0].ntakes, 3);
    assert_string_equal(cfg->members[0].takes[1], "RQ");
    assert_int_equal(cfg->members[1].ntakes, 0);
    free(cfg);
}

static void expect_error(struct fixture *f, const char *text, const char *want)
{
    struct sl_hub_config *cfg = malloc(sizeof *cfg);
    char err[512] = "";
    assert_int_equal(load(f, text, cfg, err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("error '%s' does not say '%s'", err, want);
    free(cfg);
}

static void test_errors(void **state)
{
    struct fixture *f = *state;
    const char *base = "[hub]\nlisten = 127.0.0.1:0\ndirectory = d.db\ncert = c\nkey = k\nca = a\n";
    char buf[512];
    expect_error(f, "[hub]\nlisten = 127.0.0.1:0\ndirectory = d.db\ntls = no\n", "plain = yes");
    expect_error(f,
                 "[hub]\nlisten = 0.0.0.0:0\ndirectory = d.db\ntls = no\nplain = yes\n"
                 "tokens = t\n",
                 "loopback");
    expect_error(f, "[hub]\nlisten = 127.0.0.1:0\ndirectory = d.db\ntls = no\nplain = yes\n",
                 "tokens");
    expect_error(f, "[hub]\nlisten = 127.0.0.1:0\ndirectory = d.db\n", "needs cert, key and ca");
    expect_error(f, "[hub]\ndirectory = d.db\n", "listen is missing");
    snprintf(buf, sizeof buf, "%smax_frame = 10\n", base);
    expect_error(f, buf, "[hub] max_frame = 10");
    snprintf(buf, sizeof buf, "%sout_cap = lots\n", base);
    expect_error(f, buf, "out_cap");
    snprintf(buf, sizeof buf, "%stls = maybe\n", base);
    expect_error(f, buf, "expected yes or no");
    snprintf(buf, sizeof buf, "%sori = NL0\n", base);
    expect_error(f, buf, "9 characters");
    snprintf(buf, sizeof buf, "%scolour = blue\n", base);
    expect_error(f, buf, "unknown setting");
    snprintf(buf, sizeof buf, "%s[member wa]\ntakes = DQ\n", base);
    expect_error(f, buf, "bad member code");
    snprintf(buf, sizeof buf, "%s[member WA]\ntakes = DQ QQ\n", base);
    expect_error(f, buf, "unknown message key 'QQ'");
    snprintf(buf, sizeof buf, "%s[member WA]\ntakes = ER\n", base);
    expect_error(f, buf, "sent only by the switch");
    snprintf(buf, sizeof buf, "%s[member WA]\ncolour = red\n", base);
    expect_error(f, buf, "unknown setting");
    expect_error(f, "[other]\nx = 1\n", "unknown section");
    expect_error(f, "[hub]\njust some words\n", "line 2: not INI syntax");
    struct sl_hub_config *cfg = malloc(sizeof *cfg);
    char err[256];
    assert_int_equal(sl_hub_config_load("/nonexistent/hub.conf", cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/hub.conf"));
    free(cfg);
}

/* Part 2: queue/archive/msq keys, our region table, [region] sections and their errors. */
static void test_part2_keys_and_regions(void **state)
{
    struct fixture *f = *state;
    struct sl_hub_config *cfg = malloc(sizeof *cfg);
    char err[512] = "", want[256];
    const char *base = "[hub]\nlisten = 127.0.0.1:0\ndirectory = d.db\ncert = c\nkey = k\nca = a\n";
    assert_int_equal(load(f, base, cfg, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s/queue.db", f->dir);
    assert_string_equal(cfg->queue, want);
    snprintf(want, sizeof want, "%s/archive.db", f->dir);
    assert_string_equal(cfg->archive, want);
    assert_int_equal(cfg->msq_timeout_s, 60);
    assert_int_equal(cfg->answer_wait_s, 900);
    assert_int_equal(cfg->archive_retention_days, 365);
    assert_int_equal(cfg->queue_cap, 100000);
    /* our table: 8 regions of 6-7 members, each member once, E1 holds WI */
    assert_int_equal(cfg->nregions, 8);
    int total = 0, wi_in_e1 = 0;
    for (int i = 0; i < cfg->nregions; i++) {
        assert_true(cfg->regions[i].nstates >= 6 && cfg->regions[i].nstates <= 7);
        for (int j = 0; j < cfg->regions[i].nstates; j++) {
            total++;
            wi_in_e1 |= !strcmp(cfg->regions[i].code, "E1") &&
                        !strcmp(cfg->regions[i].states[j], "WI");
            for (int k = 0; k < cfg->nregions; k++)
                for (int l = 0; l < cfg->regions[k].nstates; l++)
                    if (k != i || l != j)
                        assert_string_not_equal(cfg->regions[i].states[j],
                                                cfg->regions[k].states[l]);
        }
    }
    assert_int_equal(total, 54);
    assert_true(wi_in_e1);
    char buf[1024];
    snprintf(buf, sizeof buf,
             "%sarchive = none\nmsq_timeout = 2\nanswer_wait = 0\nqueue = /q/q.db\n[region Z1]\nstates = CA, OR\n",
             base);
    assert_int_equal(load(f, buf, cfg, err, sizeof err), 0);
    assert_string_equal(cfg->archive, "");
    assert_string_equal(cfg->queue, "/q/q.db");
    assert_int_equal(cfg->msq_timeout_s, 2);
    assert_int_equal(cfg->answer_wait_s, 0);
    assert_int_equal(cfg->nregions, 1);
    assert_string_equal(cfg->regions[0].states[1], "OR");
    const char *bad[][2] = {
        {"[region ZZ]\nstates = CA\n", "bad region code 'ZZ'"},
        {"[region Z1]\nstates = CA\n[region Z2]\nstates = OR CA\n", "CA is already in region Z1"},
        {"[region Z1]\nstates = C9\n", "not a 2-letter member code"},
        {"[region Z1]\nmembers = CA\n", "unknown setting"},
        {"[hub]\nmsq_timeout = 0\n", "msq_timeout"},
        {"[hub]\nanswer_wait = -1\n", "answer_wait"},
        {"[hub]\nanswer_wait = 604801\n", "answer_wait"},
        {"[hub]\nqueue_cap = -1\n", "queue_cap"},
        {"[hub]\narchive_retention_days = 0\n", "archive_retention_days"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, "%s%s", base, bad[i][0]);
        err[0] = '\0';
        assert_int_not_equal(load(f, buf, cfg, err, sizeof err), 0);
        if (!strstr(err, bad[i][1]))
            fail_msg("config %zu: '%s' not in '%s'", i, bad[i][1], err);
    }
    free(cfg);
}

/* The audit log keys: off by default, paths relative to the file, both keys or none. */
static void test_audit_keys(void **state)
{
    struct fixture *f = *state;
    struct sl_hub_config *cfg = malloc(sizeof *cfg);
    char err[512] = "", want[600], buf[1024];
    const char *base = "[hub]\nlisten = 127.0.0.1:0\ndirectory = d.db\ncert = c\nkey = k\nca = a\n";
    assert_int_equal(load(f, base, cfg, err, sizeof err), 0);
    assert_string_equal(cfg->audit_dir, "");
    assert_int_equal(cfg->audit_checkpoint_ms, 1000);
    assert_int_equal(cfg->audit_checkpoint_every, 0);
    snprintf(buf, sizeof buf,
             "%saudit_dir = hub-audit\naudit_key = keys/hub.key\naudit_checkpoint_ms = 250\n"
             "audit_checkpoint_every = 5000\n", base);
    assert_int_equal(load(f, buf, cfg, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s/hub-audit", f->dir);
    assert_string_equal(cfg->audit_dir, want);
    snprintf(want, sizeof want, "%s/keys/hub.key", f->dir);
    assert_string_equal(cfg->audit_key, want);
    assert_int_equal(cfg->audit_checkpoint_ms, 250);
    assert_int_equal(cfg->audit_checkpoint_every, 5000);
    /* "audit", the gateway's name for it, is the same key; "none" turns it off */
    snprintf(buf, sizeof buf, "%saudit = /var/log/hub\naudit_key = k.key\n", base);
    assert_int_equal(load(f, buf, cfg, err, sizeof err), 0);
    assert_string_equal(cfg->audit_dir, "/var/log/hub");
    snprintf(buf, sizeof buf, "%saudit_dir = none\n", base);
    assert_int_equal(load(f, buf, cfg, err, sizeof err), 0);
    assert_string_equal(cfg->audit_dir, "");
    const char *bad[][2] = {
        {"audit_dir = a\n", "audit_key is not"},
        {"audit_dir = a\naudit_key = k\naudit_checkpoint_ms = 5\n", "audit_checkpoint_ms"},
        {"audit_checkpoint_every = -1\n", "audit_checkpoint_every"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, "%s%s", base, bad[i][0]);
        err[0] = '\0';
        assert_int_not_equal(load(f, buf, cfg, err, sizeof err), 0);
        if (!strstr(err, bad[i][1]))
            fail_msg("config %zu: '%s' not in '%s'", i, bad[i][1], err);
    }
    free(cfg);
}

static void test_default_takes(void **state)
{
    (void)state;
    assert_string_equal(sl_hub_default_takes('S'), "DQ DNQ KQ RQ RNQ RPQ AM AML");
    assert_string_equal(sl_hub_default_takes('F'), "AM AML");
    assert_string_equal(sl_hub_default_takes('I'), "AM AML");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_and_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sizes_and_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test(test_default_takes),
        cmocka_unit_test_setup_teardown(test_part2_keys_and_regions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
