/*
 * test_certs.c - `stateline gen certs` (certs.h): the files and their subjects, modes,
 * that a second run keeps valid files and tokens, that a damaged or missing pair is made
 * again (alone), that --force and a new CA renew everything, and bad arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "stateline/certs.h"
#include "stateline/conn.h"

struct tmp {
    char dir[256];
};

static int setup(void **state)
{
    struct tmp *t = calloc(1, sizeof *t);
    const char *base = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/sl-certs-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(t->dir))
        return -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tmp *t = *state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    if (system(cmd) != 0)
        return -1;
    free(t);
    return 0;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static int same_file(const char *dir, const char *name, const char *before)
{
    char *now = slurp(dir, name, NULL);
    int same = now && strcmp(now, before) == 0;
    free(now);
    return same;
}

static mode_t mode_of(const char *dir, const char *name)
{
    char path[400];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (stat(path, &st) < 0)
        return 0;
    return st.st_mode & 0777;
}

static X509 *load(const char *dir, const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return x;
}

static void subject_has(X509 *x, const char *cn, const char *ou)
{
    char v[64];
    X509_NAME *n = X509_get_subject_name(x);
    assert_true(X509_NAME_get_text_by_NID(n, NID_commonName, v, sizeof v) > 0);
    assert_string_equal(v, cn);
    assert_true(X509_NAME_get_text_by_NID(n, NID_organizationalUnitName, v, sizeof v) > 0);
    assert_string_equal(v, ou);
}

static int gen(const char *dir, const char *const *m, size_t n, const char *host, int force)
{
    struct sl_certs_opts o = {.out_dir = dir, .members = m, .nmembers = n, .hub_host = host,
                              .days = 10, .force = force};
    char err[256];
    int rc = sl_certs_generate(&o, NULL, err, sizeof err);
    if (rc)
        fprintf(stderr, "gen: %s\n", err);
    return rc;
}

static void test_files_and_subjects(void **state)
{
    struct tmp *t = *state;
    const char *m[] = {"WA", "DJ"};
    assert_int_equal(gen(t->dir, m, 2, "hub.example.org", 0), 0);
    const char *files[] = {"ca.crt", "hub.crt", "WA-answer.crt", "WA-terminal.crt",
                           "DJ-answer.crt", "DJ-terminal.crt"};
    for (size_t i = 0; i < 6; i++) {
        char key[64];
        snprintf(key, sizeof key, "%.*s.key", (int)(strlen(files[i]) - 4), files[i]);
        assert_int_equal(mode_of(t->dir, key), 0600);
        assert_int_equal(mode_of(t->dir, files[i]), 0644);
    }
    assert_int_equal(mode_of(t->dir, "tokens"), 0600);

    X509 *ca = load(t->dir, "ca.crt");
    X509 *hub = load(t->dir, "hub.crt");
    X509 *wa = load(t->dir, "WA-terminal.crt");
    assert_non_null(ca);
    assert_non_null(hub);
    assert_non_null(wa);
    assert_int_equal(X509_check_ca(ca) >= 1, 1);
    assert_int_equal(X509_verify(hub, X509_get0_pubkey(ca)), 1);
    assert_int_equal(X509_verify(wa, X509_get0_pubkey(ca)), 1);
    subject_has(hub, "NL", "hub");
    subject_has(wa, "WA", "terminal");
    assert_int_equal(X509_check_host(hub, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(hub, "hub.example.org", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(hub, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_host(hub, "other.example.org", 0, 0, NULL), 0);
    assert_int_equal(X509_check_ca(wa), 0);
    X509_free(ca);
    X509_free(hub);
    X509_free(wa);

    char tokens[300], tok[128];
    snprintf(tokens, sizeof tokens, "%s/tokens", t->dir);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(sl_tokens_lookup(tokens, m[i], "answer", tok, sizeof tok), 0);
        assert_int_equal(strlen(tok), 64);
        assert_int_equal(strspn(tok, "0123456789abcdef"), 64);
        char tok2[128];
        assert_int_equal(sl_tokens_lookup(tokens, m[i], "terminal", tok2, sizeof tok2), 0);
        assert_string_not_equal(tok, tok2);
    }
}

static void test_idempotent(void **state)
{
    struct tmp *t = *state;
    const char *m[] = {"WA", "OR"};
    assert_int_equal(gen(t->dir, m, 2, NULL, 0), 0);
    char *ca = slurp(t->dir, "ca.crt", NULL);
    char *hub = slurp(t->dir, "hub.crt", NULL);
    char *wa = slurp(t->dir, "WA-answer.crt", NULL);
    char *orc = slurp(t->dir, "OR-terminal.crt", NULL);
    char *tokens = slurp(t->dir, "tokens", NULL);

    /* a second run keeps everything */
    assert_int_equal(gen(t->dir, m, 2, NULL, 0), 0);
    assert_true(same_file(t->dir, "ca.crt", ca));
    assert_true(same_file(t->dir, "hub.crt", hub));
    assert_true(same_file(t->dir, "WA-answer.crt", wa));
    assert_true(same_file(t->dir, "tokens", tokens));

    /* a lost key: that pair alone is made again */
    char path[400];
    snprintf(path, sizeof path, "%s/WA-answer.key", t->dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(gen(t->dir, m, 2, NULL, 0), 0);
    assert_false(same_file(t->dir, "WA-answer.crt", wa));
    assert_true(same_file(t->dir, "OR-terminal.crt", orc));
    assert_true(same_file(t->dir, "ca.crt", ca));

    /* a new member adds its lines and tokens, keeping the old tokens */
    const char *m3[] = {"CA"};
    assert_int_equal(gen(t->dir, m3, 1, NULL, 0), 0);
    char *tok_after = slurp(t->dir, "tokens", NULL);
    assert_non_null(strstr(tok_after, "\nCA answer "));
    char *wa_line = strstr(tokens, "WA answer ");
    assert_non_null(wa_line);
    char wa_tok[80];
    snprintf(wa_tok, sizeof wa_tok, "%.74s", wa_line);
    assert_non_null(strstr(tok_after, wa_tok)); /* same WA token */

    /* the hub gets a new name: its certificate alone is renewed */
    assert_int_equal(gen(t->dir, m, 2, "10.1.2.3", 0), 0);
    assert_false(same_file(t->dir, "hub.crt", hub));
    assert_true(same_file(t->dir, "OR-terminal.crt", orc));
    X509 *h = load(t->dir, "hub.crt");
    assert_int_equal(X509_check_ip_asc(h, "10.1.2.3", 0), 1);
    X509_free(h);

    /* --force: a new CA, and with it every certificate and token */
    assert_int_equal(gen(t->dir, m, 2, NULL, 1), 0);
    assert_false(same_file(t->dir, "ca.crt", ca));
    assert_false(same_file(t->dir, "OR-terminal.crt", orc));
    char *tok_forced = slurp(t->dir, "tokens", NULL);
    assert_null(strstr(tok_forced, wa_tok));

    /* a damaged CA key means a new CA and new line certificates */
    char *orc2 = slurp(t->dir, "OR-terminal.crt", NULL);
    snprintf(path, sizeof path, "%s/ca.key", t->dir);
    FILE *f = fopen(path, "w");
    fputs("garbage\n", f);
    fclose(f);
    assert_int_equal(gen(t->dir, m, 2, NULL, 0), 0);
    assert_false(same_file(t->dir, "OR-terminal.crt", orc2));
    X509 *cax = load(t->dir, "ca.crt");
    X509 *orx = load(t->dir, "OR-terminal.crt");
    assert_int_equal(X509_verify(orx, X509_get0_pubkey(cax)), 1);
    X509_free(cax);
    X509_free(orx);

    free(ca);
    free(hub);
    free(wa);
    free(orc);
    free(orc2);
    free(tokens);
    free(tok_after);
    free(tok_forced);
}

static void test_bad_arguments(void **state)
{
    struct tmp *t = *state;
    char err[256];
    const char *bad_members[][1] = {{"wa"}, {"NL"}, {"W"}, {"TOOLONGX"}, {"W A"}};
    for (size_t i = 0; i < 5; i++) {
        struct sl_certs_opts o = {.out_dir = t->dir, .members = bad_members[i], .nmembers = 1,
                                  .days = 10};
        assert_int_equal(sl_certs_generate(&o, NULL, err, sizeof err), -1);
        assert_non_null(strstr(err, "member code"));
    }
    const char *m[] = {"WA"};
    struct sl_certs_opts o = {.out_dir = t->dir, .members = m, .nmembers = 1, .days = 0};
    assert_int_equal(sl_certs_generate(&o, NULL, err, sizeof err), -1);
    o.days = 10;
    o.hub_host = "bad host,name";
    assert_int_equal(sl_certs_generate(&o, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "--hub-host"));
    o.hub_host = NULL;
    o.out_dir = "/nonexistent/deeper/dir";
    assert_int_equal(sl_certs_generate(&o, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot create"));

    size_t n;
    const char *const *all = sl_certs_all_members(&n);
    assert_int_equal(n, 60);
    int has_dc = 0, has_dd = 0;
    for (size_t i = 0; i < n; i++) {
        has_dc |= strcmp(all[i], "DC") == 0;
        has_dd |= strcmp(all[i], "DD") == 0;
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(all[i], all[j]);
    }
    assert_true(has_dc && has_dd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_files_and_subjects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
