/*
 * test_policy_dir.c - `stateline policy check/explain --directory` on a directory
 * database (src/dir): warnings for parent agencies and tags no ORI has, and the
 * requester looked up by ORI.  Calls the subcommand's run() from the library, with
 * stdout and stderr sent to files in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <cmocka.h>

#include "stateline/cli.h"
#include "stateline/dir.h"

extern const struct sl_cli_cmd sl_cmd_policy;

struct env {
    char dir[64], db[96], pol[96], out[96], err[96];
};

static void put(struct sl_dir *d, const char *ori, const char *member, const char *type,
                const char *parent, const char *tags)
{
    struct sl_ori o;
    memset(&o, 0, sizeof(o));
    snprintf(o.ori, sizeof(o.ori), "%s", ori);
    snprintf(o.member, sizeof(o.member), "%s", member);
    snprintf(o.name, sizeof(o.name), "Test agency %s", ori);
    snprintf(o.type, sizeof(o.type), "%s", type);
    snprintf(o.cats, sizeof(o.cats), "DZ");
    o.status = 'A';
    snprintf(o.parent, sizeof(o.parent), "%s", parent);
    snprintf(o.tags, sizeof(o.tags), "%s", tags);
    char err[200];
    if (sl_dir_put(d, NULL, &o, err, sizeof(err)) != 0) {
        print_error("sl_dir_put %s: %s\n", ori, err);
        fail();
    }
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/sl-policy-dir-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->db, sizeof(e->db), "%s/dir.db", e->dir);
    snprintf(e->pol, sizeof(e->pol), "%s/wa.policy", e->dir);
    snprintf(e->out, sizeof(e->out), "%s/out", e->dir);
    snprintf(e->err, sizeof(e->err), "%s/err", e->dir);
    struct sl_dir *d = NULL;
    char err[200];
    if (sl_dir_open(e->db, 1, &d, err, sizeof(err)) != 0) {
        print_error("sl_dir_open: %s\n", err);
        return -1;
    }
    put(d, "WA0170100", "WA", "PD", "", "");
    put(d, "DCICE0100", "DH", "FE", "DHS/ICE/ERO", "immigration-enforcement");
    sl_dir_close(d);
    FILE *f = fopen(e->pol, "w");
    fputs("state WA\ndefault permit\n"
          "rule ice \"r\" forbid when requester.parent under \"DHS/ICE\"\n"
          "rule hsi \"r\" forbid when requester.parent = \"DHS/ICE/HSI\"\n"
          "rule tf \"r\" hold when requester.tags has (immigration-enforcement, taskforce)\n"
          "  deadline 72h, then forbid\n", f);
    fclose(f);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    if (system(cmd) != 0)
        return -1;
    free(e);
    return 0;
}

/* Run `stateline policy ARGS...`, output into e->out / e->err; returns the exit status. */
static int run_policy(struct env *e, char **argv, int argc)
{
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(e->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(e->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = sl_cmd_policy.run(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    close(fo);
    close(fe);
    return rc;
}

static char *slurp(const char *path)
{
    static char buf[16384];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_check_with_database(void **state)
{
    struct env *e = *state;
    char *argv[] = {"policy", "check", e->pol, "--directory", e->db, NULL};
    assert_int_equal(run_policy(e, argv, 5), 0);
    const char *err = slurp(e->err);
    assert_non_null(strstr(err, ":4:26: warning: no ORI in the directory has parent agency 'DHS/ICE/HSI'"));
    assert_non_null(strstr(err, "no ORI in the directory has the tag 'taskforce'"));
    assert_null(strstr(err, "'DHS/ICE'"));
    assert_null(strstr(err, "'immigration-enforcement'"));
    assert_non_null(strstr(slurp(e->out), "2 warnings"));
}

static void test_explain_looks_up_requester(void **state)
{
    struct env *e = *state;
    char *argv[] = {"policy", "explain", e->pol, "--request", "DQ.DCICE0100.WA.TXT OLN/WDL1",
                    "--directory", e->db, "--time", "2026-11-26 10:00", NULL};
    assert_int_equal(run_policy(e, argv, 9), 0);
    const char *out = slurp(e->out);
    assert_non_null(strstr(out, "type FE, parent DHS/ICE/ERO"));
    assert_non_null(strstr(out, "DENY (forbid)"));
    assert_non_null(strstr(out, "    ice (line 3, forbid)"));
    /* An ORI the directory does not have: unknown, refused (fail closed). */
    char *argv2[] = {"policy", "explain", e->pol, "--request", "DQ.WA0999999.WA.TXT OLN/WDL1",
                     "--directory", e->db, "--time", "2026-11-26 10:00", NULL};
    assert_int_equal(run_policy(e, argv2, 9), 0);
    out = slurp(e->out);
    assert_non_null(strstr(out, "not in the directory"));
    assert_non_null(strstr(out, "fail closed"));
    /* A known Washington police department: the default. */
    char *argv3[] = {"policy", "explain", e->pol, "--request", "DQ.WA0170100.WA.TXT OLN/WDL1",
                     "--directory", e->db, "--time", "2026-11-26 10:00", NULL};
    assert_int_equal(run_policy(e, argv3, 9), 0);
    out = slurp(e->out);
    assert_non_null(strstr(out, "RELEASE (permit)"));
    assert_non_null(strstr(out, "no rule matched"));
}

static void test_missing_database(void **state)
{
    struct env *e = *state;
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/none.db", e->dir);
    char *argv[] = {"policy", "check", e->pol, "--directory", missing, NULL};
    assert_int_equal(run_policy(e, argv, 5), 1);
    assert_non_null(strstr(slurp(e->err), "none.db"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_with_database),
        cmocka_unit_test(test_explain_looks_up_requester),
        cmocka_unit_test(test_missing_database),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
