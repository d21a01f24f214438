/*
 * test_dir.c - the ORI directory: storage, field rules, ownership, CSV, snapshot and the
 * national directory generator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stateline/dir.h"

/* ---- fixtures ---------------------------------------------------------------------- */

struct fx {
    char tmpdir[64];
    char path[128];
    struct sl_dir *d;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    strcpy(f->tmpdir, "/tmp/test_dir_XXXXXX");
    if (!mkdtemp(f->tmpdir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/dir.db", f->tmpdir);
    char err[256];
    if (sl_dir_open(f->path, 1, &f->d, err, sizeof err) != 0) {
        fprintf(stderr, "open: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sl_dir_close(f->d);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->tmpdir);
    free(f);
    return 0;
}

static struct sl_ori mk(const char *ori, const char *member, const char *name,
                        const char *type, const char *cats)
{
    struct sl_ori o;
    memset(&o, 0, sizeof o);
    strcpy(o.ori, ori);
    strcpy(o.member, member);
    strcpy(o.name, name);
    strcpy(o.type, type);
    strcpy(o.cats, cats);
    o.status = 'A';
    return o;
}

static void assert_ori_equal(const struct sl_ori *a, const struct sl_ori *b)
{
    assert_string_equal(a->ori, b->ori);
    assert_string_equal(a->member, b->member);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->type, b->type);
    assert_string_equal(a->cats, b->cats);
    assert_int_equal(a->status, b->status);
    assert_string_equal(a->parent, b->parent);
    assert_string_equal(a->tags, b->tags);
    assert_int_equal(a->rand, b->rand);
}

/* Run an import of text; returns its result, err and nrows filled. */
static int import_text(struct sl_dir *d, const char *as, const char *text, int64_t *nrows,
                       char *err, size_t errlen)
{
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(in);
    int rc = sl_dir_import_csv(d, as, in, nrows, err, errlen);
    fclose(in);
    return rc;
}

/* Export into a malloc'd string (caller frees). */
static char *export_text(struct sl_dir *d, const char *member)
{
    /* Through a temporary file rather than open_memstream: gcc -O3 takes the memstream's
     * pointer to a local for a dangling pointer (-Wdangling-pointer). */
    FILE *out = tmpfile();
    assert_non_null(out);
    assert_int_equal(sl_dir_export_csv(d, member, out), 0);
    long len = ftell(out);
    assert_true(len >= 0);
    char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    rewind(out);
    assert_int_equal(fread(buf, 1, (size_t)len, out), (size_t)len);
    buf[len] = '\0';
    fclose(out);
    return buf;
}

/* ---- storage ----------------------------------------------------------------------- */

static void test_put_get_delete(void **state)
{
    struct fx *f = *state;
    char err[256];
    struct sl_ori o = mk("WA0170000", "WA", "Seattle Police Department", "PD", "DZCA");
    strcpy(o.tags, "task-force campus");
    o.rand = 1;
    assert_int_equal(sl_dir_put(f->d, NULL, &o, err, sizeof err), 0);
    assert_int_equal(sl_dir_count(f->d), 1);

    struct sl_ori got;
    assert_int_equal(sl_dir_get(f->d, "WA0170000", &got), 0);
    strcpy(o.cats, "ACDZ"); /* stored in canonical order */
    assert_ori_equal(&got, &o);
    assert_int_equal(sl_dir_get(f->d, "WA0170001", &got), 1);

    /* Replace. */
    o.status = 'I';
    strcpy(o.name, "Seattle Police Department - Records");
    assert_int_equal(sl_dir_put(f->d, NULL, &o, err, sizeof err), 0);
    assert_int_equal(sl_dir_get(f->d, "WA0170000", &got), 0);
    assert_ori_equal(&got, &o);
    assert_int_equal(sl_dir_count(f->d), 1);

    assert_int_equal(sl_dir_delete(f->d, NULL, "WA0170000", err, sizeof err), 0);
    assert_int_equal(sl_dir_get(f->d, "WA0170000", &got), 1);
    assert_int_equal(sl_dir_delete(f->d, NULL, "WA0170000", err, sizeof err), 1);
    assert_int_equal(sl_dir_count(f->d), 0);
}

static void test_reopen_and_members(void **state)
{
    struct fx *f = *state;
    char err[256];
    struct sl_ori o = mk("TXDPS0000", "TX", "Texas Department of Public Safety", "SA", "ACDZ");
    assert_int_equal(sl_dir_put(f->d, NULL, &o, err, sizeof err), 0);
    sl_dir_close(f->d);
    assert_int_equal(sl_dir_open(f->path, 0, &f->d, err, sizeof err), 0);
    struct sl_ori got;
    assert_int_equal(sl_dir_get(f->d, "TXDPS0000", &got), 0);

    struct sl_member m;
    assert_int_equal(sl_dir_get_member(f->d, "DH", &m), 0);
    assert_int_equal(m.kind, 'F');
    assert_int_equal(sl_dir_get_member(f->d, "CN", &m), 0);
    assert_int_equal(m.kind, 'I');
    assert_int_equal(sl_dir_get_member(f->d, "NL", &m), 0);
    assert_int_equal(m.kind, 'N');
    assert_int_equal(sl_dir_get_member(f->d, "ZZ", &m), 1);

    /* A new member line, then an ORI on it. */
    struct sl_member nm = {"AS", "American Samoa", 'S'};
    assert_int_equal(sl_dir_put_member(f->d, &nm), 0);
    struct sl_ori as = mk("AS0010000", "AS", "Pago Pago Police", "PD", "ACDZ");
    assert_int_equal(sl_dir_put(f->d, NULL, &as, err, sizeof err), 0);
    struct sl_member bad = {"A1", "bad", 'S'};
    assert_int_equal(sl_dir_put_member(f->d, &bad), -1);

    /* Opening a missing file without create fails with a reason. */
    char other[160];
    snprintf(other, sizeof other, "%s/none.db", f->tmpdir);
    struct sl_dir *d2 = NULL;
    assert_int_equal(sl_dir_open(other, 0, &d2, err, sizeof err), -1);
    assert_null(d2);
    assert_non_null(strstr(err, "none.db"));
}

/* ---- field rules ------------------------------------------------------------------- */

static void expect_refused(struct sl_dir *d, const struct sl_ori *o, const char *field)
{
    char err[256] = "";
    if (sl_dir_put(d, NULL, o, err, sizeof err) != -1)
        fail_msg("accepted %.9s name '%.95s' type '%.2s' cats '%.4s' parent '%.47s' tags "
                 "'%.159s', expected an error about %s",
                 o->ori, o->name, o->type, o->cats, o->parent, o->tags, field);
    if (strncmp(err, field, strlen(field)) != 0)
        fail_msg("expected an error about '%s', got '%s'", field, err);
}

static void test_validation(void **state)
{
    struct fx *f = *state;
    const struct sl_ori good = mk("WA0170000", "WA", "Seattle Police Department", "PD", "ACDZ");
    struct sl_ori o;
    char err[256];
    assert_int_equal(sl_dir_put(f->d, NULL, &good, err, sizeof err), 0);

    const char *bad_oris[] = {"WA017000", "WA01700000", "wa0170000", "WA017000-", "", "WA 170000"};
    for (size_t i = 0; i < sizeof bad_oris / sizeof *bad_oris; i++) {
        o = good;
        strcpy(o.ori, bad_oris[i]);
        expect_refused(f->d, &o, "ori");
    }
    /* Prefix: a state's ORI starts with its code. */
    o = good;
    strcpy(o.ori, "OR0170000");
    expect_refused(f->d, &o, "ori");

    o = good;
    strcpy(o.member, "W");
    expect_refused(f->d, &o, "member");
    o = good;
    strcpy(o.member, "ZZ");
    strcpy(o.ori, "ZZ0170000");
    expect_refused(f->d, &o, "member");

    const char *bad_names[] = {"", " Seattle", "Seattle ", "Sea\ttle", "Sea\x7ftle",
                               "Sea\xc3tle", "\xc0\xafx"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        o = good;
        strcpy(o.name, bad_names[i]);
        expect_refused(f->d, &o, "name");
    }
    o = good;
    strcpy(o.name, "Cañon City Police Department"); /* UTF-8 is fine */
    assert_int_equal(sl_dir_put(f->d, NULL, &o, err, sizeof err), 0);

    const char *bad_types[] = {"", "XX", "pd", "P", "FB"};
    for (size_t i = 0; i < sizeof bad_types / sizeof *bad_types; i++) {
        o = good;
        strcpy(o.type, bad_types[i]);
        expect_refused(f->d, &o, "type");
    }
    const char *bad_cats[] = {"ACDB", "AA", "acd", "ACD "};
    for (size_t i = 0; i < sizeof bad_cats / sizeof *bad_cats; i++) {
        o = good;
        strcpy(o.cats, bad_cats[i]);
        expect_refused(f->d, &o, "categories");
    }
    o = good;
    o.status = 'X';
    expect_refused(f->d, &o, "status");
    const char *bad_parents[] = {"dhs/ice", "/DHS", "DHS/", "DHS//ICE", "DHS ICE", "-DHS",
                                 "DHS/-ICE", "DHS/ICE/ERO/A\xc3\xb1"};
    for (size_t i = 0; i < sizeof bad_parents / sizeof *bad_parents; i++) {
        o = good;
        strcpy(o.parent, bad_parents[i]);
        expect_refused(f->d, &o, "parent");
    }
    o = good;
    strcpy(o.parent, "TREAS/IRS-CI");
    assert_int_equal(sl_dir_put(f->d, NULL, &o, err, sizeof err), 0);

    const char *bad_tags[] = {"Border", "task force ", " border", "border  campus",
                              "-border", "border,campus", "bor_der"};
    for (size_t i = 0; i < sizeof bad_tags / sizeof *bad_tags; i++) {
        o = good;
        strcpy(o.tags, bad_tags[i]);
        expect_refused(f->d, &o, "tags");
    }
    o = good;
    strcpy(o.tags, "287g immigration-enforcement");
    assert_int_equal(sl_dir_put(f->d, NULL, &o, err, sizeof err), 0);
    o = good;
    o.rand = 2;
    expect_refused(f->d, &o, "rand");

    /* Unterminated arrays must be refused, not read past. */
    o = good;
    memset(o.name, 'x', sizeof o.name);
    expect_refused(f->d, &o, "name");
    o = good;
    memset(o.parent, 'A', sizeof o.parent);
    expect_refused(f->d, &o, "parent");
    o = good;
    memset(o.tags, 'a', sizeof o.tags);
    expect_refused(f->d, &o, "tags");

    /* Federal ORIs: the state of the office, or the member code. */
    o = mk("WAICE0100", "DH", "ICE ERO Seattle Field Office", "FE", "ACDZ");
    assert_int_equal(sl_dir_put(f->d, NULL, &o, err, sizeof err), 0);
    strcpy(o.ori, "DHICE0100");
    assert_int_equal(sl_dir_put(f->d, NULL, &o, err, sizeof err), 0);
    strcpy(o.ori, "XXICE0100");
    expect_refused(f->d, &o, "ori");
    strcpy(o.ori, "ONICE0100"); /* a province is not a US office */
    expect_refused(f->d, &o, "ori");
    /* Canada: province codes. */
    o = mk("ON0190000", "CN", "Toronto Police Service", "PD", "ACDZ");
    assert_int_equal(sl_dir_put(f->d, NULL, &o, err, sizeof err), 0);
    strcpy(o.ori, "WA0190000");
    expect_refused(f->d, &o, "ori");

    assert_int_equal(sl_dir_valid_type("FE"), 1);
    assert_int_equal(sl_dir_valid_cats(""), 1);
    assert_int_equal(sl_dir_valid_cats("ZDCA"), 1);
    assert_int_equal(sl_dir_valid_parent(""), 1);
    assert_int_equal(sl_dir_valid_tags(""), 1);
    assert_int_equal(sl_ori_valid(SL_SWITCH_ORI), 1);
}

static void test_ownership(void **state)
{
    struct fx *f = *state;
    char err[256];
    struct sl_ori wa = mk("WA0170000", "WA", "Seattle Police Department", "PD", "ACDZ");
    struct sl_ori orr = mk("OR0260000", "OR", "Portland Police Bureau", "PD", "ACDZ");
    assert_int_equal(sl_dir_put(f->d, NULL, &wa, err, sizeof err), 0);
    assert_int_equal(sl_dir_put(f->d, "OR", &orr, err, sizeof err), 0);

    /* WA may change its own. */
    strcpy(wa.cats, "AC");
    assert_int_equal(sl_dir_put(f->d, "WA", &wa, err, sizeof err), 0);
    /* WA may not change OR's. */
    strcpy(orr.cats, "A");
    assert_int_equal(sl_dir_put(f->d, "WA", &orr, err, sizeof err), -1);
    assert_non_null(strstr(err, "WA"));
    /* nor create one for OR */
    struct sl_ori orr2 = mk("OR0260100", "OR", "Portland Police Bureau - North", "PD", "ACDZ");
    assert_int_equal(sl_dir_put(f->d, "WA", &orr2, err, sizeof err), -1);
    /* nor move its own to another member: a federal line takes any state prefix, so
     * the only thing stopping WA0170000 going to DH is the ownership rule. */
    struct sl_ori moved = wa;
    strcpy(moved.member, "DH");
    assert_int_equal(sl_dir_put(f->d, "WA", &moved, err, sizeof err), -1);
    /* and DH may not take it either */
    assert_int_equal(sl_dir_put(f->d, "DH", &moved, err, sizeof err), -1);
    assert_non_null(strstr(err, "belongs to member WA"));
    /* nor delete another's */
    assert_int_equal(sl_dir_delete(f->d, "WA", "OR0260000", err, sizeof err), -1);
    assert_non_null(strstr(err, "belongs to member OR"));

    struct sl_ori got;
    assert_int_equal(sl_dir_get(f->d, "OR0260000", &got), 0);
    assert_string_equal(got.cats, "ACDZ");
    assert_string_equal(got.member, "OR");
    assert_int_equal(sl_dir_get(f->d, "WA0170000", &got), 0);
    assert_string_equal(got.member, "WA");

    /* The operator may do anything, including moving an ORI. */
    assert_int_equal(sl_dir_put(f->d, NULL, &moved, err, sizeof err), 0);
    assert_int_equal(sl_dir_get(f->d, "WA0170000", &got), 0);
    assert_string_equal(got.member, "DH");
    assert_int_equal(sl_dir_delete(f->d, NULL, "OR0260000", err, sizeof err), 0);
    assert_int_equal(sl_dir_delete(f->d, "DH", "WA0170000", err, sizeof err), 0);
}

/* ---- CSV --------------------------------------------------------------------------- */

static const char sample_csv[] =
    "ori,member,name,type,categories,status,parent,tags,rand\n"
    "WASP00000,WA,Washington State Patrol,SA,ACDZ,A,,,1\n"
    "WA0170000,WA,Seattle Police Department,PD,ZDCA,A,,task-force,0\r\n"
    "WAICE0100,DH,ICE ERO Seattle Field Office,FE,ACDZ,A,DHS/ICE/ERO,immigration-enforcement,0\n"
    "\n"
    "WA0320000,WA,\"Spokane County Sheriff's Office, \"\"Main\"\"\",SO,ACDZ,I,,,0\n"
    "WALIC0000,WA,\"Washington Department of Licensing\",NJ,AD,A,,,0\n";

static void test_csv_import_export_roundtrip(void **state)
{
    struct fx *f = *state;
    char err[256];
    int64_t n;
    assert_int_equal(import_text(f->d, NULL, sample_csv, &n, err, sizeof err), 0);
    assert_int_equal(n, 5);
    struct sl_ori got;
    assert_int_equal(sl_dir_get(f->d, "WA0320000", &got), 0);
    assert_string_equal(got.name, "Spokane County Sheriff's Office, \"Main\"");
    assert_int_equal(got.status, 'I');
    assert_int_equal(sl_dir_get(f->d, "WA0170000", &got), 0);
    assert_string_equal(got.cats, "ACDZ");
    assert_int_equal(sl_dir_get(f->d, "WASP00000", &got), 0);
    assert_int_equal(got.rand, 1);

    char *a = export_text(f->d, NULL);
    /* Import the export into a second, empty directory; its export is the same. */
    char p2[160];
    snprintf(p2, sizeof p2, "%s/two.db", f->tmpdir);
    struct sl_dir *d2;
    assert_int_equal(sl_dir_open(p2, 1, &d2, err, sizeof err), 0);
    assert_int_equal(import_text(d2, NULL, a, &n, err, sizeof err), 0);
    assert_int_equal(n, 5);
    char *b = export_text(d2, NULL);
    assert_string_equal(a, b);
    sl_dir_close(d2);

    char *onlydh = export_text(f->d, "DH");
    assert_string_equal(onlydh, "ori,member,name,type,categories,status,parent,tags,rand\n"
                                "WAICE0100,DH,ICE ERO Seattle Field Office,FE,ACDZ,A,"
                                "DHS/ICE/ERO,immigration-enforcement,0\n");
    free(a);
    free(b);
    free(onlydh);
}

/* A bad line aborts the import; err starts with "line N:"; nothing is imported. */
static void expect_bad_csv(struct sl_dir *d, const char *as, const char *text, int line,
                           const char *what)
{
    char err[256] = "";
    int64_t n = 99;
    int64_t before = sl_dir_count(d);
    assert_int_equal(import_text(d, as, text, &n, err, sizeof err), -1);
    char want[32];
    snprintf(want, sizeof want, "line %d: ", line);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, what))
        fail_msg("expected '%s...%s', got '%s'", want, what, err);
    assert_int_equal(n, 0);
    assert_int_equal(sl_dir_count(d), before);
}

#define HDR "ori,member,name,type,categories,status,parent,tags,rand\n"
#define OK1 "WASP00000,WA,Washington State Patrol,SA,ACDZ,A,,,1\n"

static void test_csv_bad_lines(void **state)
{
    struct fx *f = *state;
    expect_bad_csv(f->d, NULL, "", 1, "header");
    expect_bad_csv(f->d, NULL, "ori,member,name\n" OK1, 1, "header");
    expect_bad_csv(f->d, NULL, OK1, 1, "header");
    expect_bad_csv(f->d, NULL, HDR OK1 "WA0170000,WA,Seattle,PD,ACDZ,A,,\n", 3,
                   "8 fields, expected 9");
    expect_bad_csv(f->d, NULL, HDR OK1 "\n" "WA0170000,WA,Seattle,PD,ACDZ,A,,,0,x\n", 4,
                   "more than 9 fields");
    expect_bad_csv(f->d, NULL, HDR OK1 "WA0170000,WA,Seattle,XX,ACDZ,A,,,0\n", 3, "type");
    expect_bad_csv(f->d, NULL, HDR OK1 "WA0170000,WA,\"Seattle,PD,ACDZ,A,,,0\n", 3,
                   "no closing quote");
    expect_bad_csv(f->d, NULL, HDR OK1 "WA0170000,WA,\"Seattle\"x,PD,ACDZ,A,,,0\n", 3,
                   "after the closing quote");
    expect_bad_csv(f->d, NULL, HDR OK1 "WA0170000,WA,Sea\"ttle,PD,ACDZ,A,,,0\n", 3,
                   "quote inside an unquoted field");
    /* A quoted line break makes one record of two lines: the error names its first. */
    expect_bad_csv(f->d, NULL, HDR OK1 "WA0170000,WA,\"Seat\ntle\",PD,ACDZ,A,,,0\n" OK1, 3,
                   "name");
    expect_bad_csv(f->d, NULL, HDR OK1 "WA0170000,WA,Seattle,PD,ACDZ,Y,,,0\n", 3, "status");
    expect_bad_csv(f->d, NULL, HDR OK1 "WA0170000,WA,Seattle,PD,ACDZ,A,,,yes\n", 3, "rand");
    expect_bad_csv(f->d, NULL, HDR OK1 "WA0170000,WA,Seattle,PD,ACDZ,A,dhs,,0\n", 3, "parent");
    expect_bad_csv(f->d, NULL, HDR OK1 "WA0170000,WA,Seattle,PD,ACDZ,A,,Campus,0\n", 3, "tags");
    expect_bad_csv(f->d, NULL, HDR OK1 "WA0170000,WA,Seattle,PD,ABC,A,,,0\n", 3, "categories");
    expect_bad_csv(f->d, NULL, HDR OK1 "WA0170000,ZZ,Seattle,PD,ACDZ,A,,,0\n", 3,
                   "not a member line");
    expect_bad_csv(f->d, NULL, HDR OK1 "\n\nWA0170000,WA,,PD,ACDZ,A,,,0\n", 5, "name");
    expect_bad_csv(f->d, NULL, HDR OK1 OK1, 3, "appears already on line 2");
    /* Ownership on import. */
    expect_bad_csv(f->d, "OR", HDR "OR0260000,OR,Portland Police Bureau,PD,ACDZ,A,,,0\n" OK1,
                   3, "member OR may not give ORI WASP00000 to member WA");
    /* Too long a field is refused, not cut. */
    char longname[400];
    snprintf(longname, sizeof longname, HDR "WA0170000,WA,%0120d,PD,ACDZ,A,,,0\n", 7);
    expect_bad_csv(f->d, NULL, longname, 2, "name: longer than 95");

    /* An endless record (an unclosed quote eating the file) stops at 64 KiB. */
    size_t big = 70000;
    char *huge = malloc(big + 200);
    int k = snprintf(huge, 200, HDR OK1 "WA0170000,WA,\"");
    memset(huge + k, 'x', big);
    strcpy(huge + k + big, "\n");
    expect_bad_csv(f->d, NULL, huge, 3, "record longer than 65536 bytes");
    free(huge);

    /* A header with a BOM and different case, CRLF everywhere, is fine. */
    char err[256];
    int64_t n;
    assert_int_equal(import_text(f->d, "WA",
                                 "\xEF\xBB\xBFORI,Member,Name,Type,Categories,Status,Parent,"
                                 "Tags,Rand\r\n" OK1,
                                 &n, err, sizeof err),
                     0);
    assert_int_equal(n, 1);
}

static void test_csv_split(void **state)
{
    (void)state;
    char buf[128], err[128];
    const char *f[10];
    const char *rec = "a,\"b,c\",\"\"\"q\"\"\",,\"\"";
    int n = sl_dir_csv_split(rec, strlen(rec), buf, sizeof buf, f, 10, err, sizeof err);
    assert_int_equal(n, 5);
    assert_string_equal(f[0], "a");
    assert_string_equal(f[1], "b,c");
    assert_string_equal(f[2], "\"q\"");
    assert_string_equal(f[3], "");
    assert_string_equal(f[4], "");
    n = sl_dir_csv_split("", 0, buf, sizeof buf, f, 10, err, sizeof err);
    assert_int_equal(n, 1);
    assert_string_equal(f[0], "");
    n = sl_dir_csv_split("a,b,", 4, buf, sizeof buf, f, 10, err, sizeof err);
    assert_int_equal(n, 3);
    assert_string_equal(f[2], "");
    n = sl_dir_csv_split("a\0b", 3, buf, sizeof buf, f, 10, err, sizeof err);
    assert_int_equal(n, -1);
    assert_non_null(strstr(err, "NUL"));
    n = sl_dir_csv_split("a,b,c", 5, buf, sizeof buf, f, 2, err, sizeof err);
    assert_int_equal(n, -1);
    assert_non_null(strstr(err, "more than 2 fields"));
    n = sl_dir_csv_split("a,b,c", 5, buf, 4, f, 10, err, sizeof err);
    assert_int_equal(n, -1);
}

/* ---- snapshot ---------------------------------------------------------------------- */

static void test_snapshot_small(void **state)
{
    struct fx *f = *state;
    char err[256];
    int64_t n;
    assert_int_equal(import_text(f->d, NULL, sample_csv, &n, err, sizeof err), 0);
    struct sl_dir_snap *s;
    assert_int_equal(sl_dir_snapshot(f->d, &s), 0);
    assert_int_equal(sl_dir_snap_count(s), 5);
    const struct sl_ori *o = sl_dir_snap_find(s, "WAICE0100");
    assert_non_null(o);
    assert_string_equal(o->parent, "DHS/ICE/ERO");
    assert_string_equal(o->member, "DH");
    assert_null(sl_dir_snap_find(s, "WAICE0101"));
    assert_null(sl_dir_snap_find(s, "WAICE010"));
    assert_null(sl_dir_snap_find(s, "WAICE01000"));
    assert_null(sl_dir_snap_find(s, ""));
    assert_non_null(sl_dir_snap_find_n(s, "WASP00000.CA.TXT", 9));
    assert_null(sl_dir_snap_find_n(s, "WASP00000.CA.TXT", 10));

    const struct sl_member *m = sl_dir_snap_member(s, "DH");
    assert_non_null(m);
    assert_int_equal(m->kind, 'F');
    assert_null(sl_dir_snap_member(s, "ZZ"));
    assert_null(sl_dir_snap_member(s, "WAXXXXXXXXXXX"));
    size_t nstd;
    sl_dir_std_members(&nstd);
    assert_int_equal(sl_dir_snap_nmembers(s), (int)nstd);
    for (int i = 1; i < sl_dir_snap_nmembers(s); i++)
        assert_true(strcmp(sl_dir_snap_member_at(s, i - 1)->code,
                           sl_dir_snap_member_at(s, i)->code) < 0);
    assert_null(sl_dir_snap_member_at(s, -1));
    assert_null(sl_dir_snap_member_at(s, sl_dir_snap_nmembers(s)));

    /* Walks and the checker's questions. */
    int64_t seen = 0;
    for (int64_t i = 0; sl_dir_snap_at(s, i); i++)
        seen++;
    assert_int_equal(seen, 5);
    assert_null(sl_dir_snap_at(s, -1));
    assert_int_equal(sl_dir_snap_has_parent(s, "DHS/ICE/ERO", 0), 1);
    assert_int_equal(sl_dir_snap_has_parent(s, "DHS/ICE", 0), 0);
    assert_int_equal(sl_dir_snap_has_parent(s, "DHS/ICE", 1), 1);
    assert_int_equal(sl_dir_snap_has_parent(s, "DHS/IC", 1), 0);
    assert_int_equal(sl_dir_snap_has_parent(s, "", 1), 0);
    assert_int_equal(sl_dir_snap_has_tag(s, "task-force"), 1);
    assert_int_equal(sl_dir_snap_has_tag(s, "immigration-enforcement"), 1);
    assert_int_equal(sl_dir_snap_has_tag(s, "immigration"), 0);
    assert_int_equal(sl_dir_snap_has_tag(s, "force"), 0);
    sl_dir_snap_free(s);

    /* The same from the files: the SQLite database and a CSV export. */
    assert_int_equal(sl_dir_snapshot_file(f->path, &s, err, sizeof err), 0);
    assert_int_equal(sl_dir_snap_count(s), 5);
    sl_dir_snap_free(s);
    char csvpath[160];
    snprintf(csvpath, sizeof csvpath, "%s/dir.csv", f->tmpdir);
    FILE *cf = fopen(csvpath, "w");
    assert_non_null(cf);
    assert_int_equal(sl_dir_export_csv(f->d, NULL, cf), 0);
    fclose(cf);
    assert_int_equal(sl_dir_snapshot_file(csvpath, &s, err, sizeof err), 0);
    assert_int_equal(sl_dir_snap_count(s), 5);
    assert_non_null(sl_dir_snap_find(s, "WALIC0000"));
    assert_non_null(sl_dir_snap_member(s, "WA"));
    sl_dir_snap_free(s);
    cf = fopen(csvpath, "w");
    fputs(HDR OK1 "WA0170000,WA,Seattle,QQ,ACDZ,A,,,0\n", cf);
    fclose(cf);
    assert_int_equal(sl_dir_snapshot_file(csvpath, &s, err, sizeof err), -1);
    assert_null(s);
    assert_non_null(strstr(err, "dir.csv: line 3: type"));
    snprintf(csvpath, sizeof csvpath, "%s/none.csv", f->tmpdir);
    assert_int_equal(sl_dir_snapshot_file(csvpath, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "none.csv"));

    /* An empty directory gives an empty snapshot that finds nothing. */
    char p2[160];
    snprintf(p2, sizeof p2, "%s/empty.db", f->tmpdir);
    struct sl_dir *d2;
    assert_int_equal(sl_dir_open(p2, 1, &d2, err, sizeof err), 0);
    assert_int_equal(sl_dir_snapshot(d2, &s), 0);
    assert_int_equal(sl_dir_snap_count(s), 0);
    assert_null(sl_dir_snap_find(s, "WASP00000"));
    sl_dir_snap_free(s);
    sl_dir_close(d2);
}

/* ---- the generator ---------------------------------------------------------------- */

struct tally {
    int64_t n, by_type[12], inactive, le_no_d, le;
    int64_t fed_states[8][64]; /* per component: rows per state index */
    int state_rows[64];
    const struct sl_member *mem;
    size_t nmem;
    struct sl_dir *d;
    char err[256];
    int bad;
};

static const char *const type_names[12] = {"PD", "SO", "SA", "LE", "FE", "JA",
                                           "JC", "JG", "JJ", "JF", "CJ", "NJ"};
static const char *const comps[8] = {"DHS/ICE/ERO", "DHS/ICE/HSI", "DHS/CBP", "DOJ/FBI",
                                     "DOJ/DEA", "DOJ/USMS", "DOJ/ATF", "DHS/USSS"};

static int state_index(const char *code)
{
    size_t n;
    const struct sl_member *m = sl_dir_std_members(&n);
    for (size_t i = 0; i < n; i++)
        if (strncmp(m[i].code, code, 2) == 0)
            return (int)i;
    return -1;
}

static int tally_row(void *ctx, const struct sl_ori *o)
{
    struct tally *t = ctx;
    t->n++;
    for (int i = 0; i < 12; i++)
        if (strcmp(o->type, type_names[i]) == 0)
            t->by_type[i]++;
    if (o->status == 'I')
        t->inactive++;
    if (strchr("PSLF", o->type[0]) && strcmp(o->type, "JF") != 0) {
        t->le++;
        if (!strchr(o->cats, 'D'))
            t->le_no_d++;
    }
    /* Every row passes the rules, including the prefix rule of its member's kind. */
    char kind = 0;
    for (size_t i = 0; i < t->nmem; i++)
        if (strcmp(t->mem[i].code, o->member) == 0)
            kind = t->mem[i].kind;
    if (kind == 0 || sl_dir_check(o, kind, t->err, sizeof t->err) != 0) {
        if (!t->bad++)
            fprintf(stderr, "invalid generated row %s (%s): %s\n", o->ori, o->name, t->err);
    }
    int si = state_index(o->ori);
    if (kind != 'I' && kind != 'N') {
        if (si < 0) {
            if (!t->bad++)
                fprintf(stderr, "row %s does not start with a state code\n", o->ori);
            return 0;
        }
        t->state_rows[si]++;
    }
    for (int c = 0; c < 8; c++)
        if (strncmp(o->parent, comps[c], strlen(comps[c])) == 0 && si >= 0)
            t->fed_states[c][si]++;
    return 0;
}

static int states_with(const struct tally *t, int comp)
{
    int n = 0;
    for (int i = 0; i < 64; i++)
        n += t->fed_states[comp][i] > 0;
    return n;
}

static double share(const struct tally *t, const char *type)
{
    for (int i = 0; i < 12; i++)
        if (strcmp(type_names[i], type) == 0)
            return (double)t->by_type[i] / (double)t->n;
    return -1;
}

static void assert_between(double v, double lo, double hi, const char *what)
{
    if (v < lo || v > hi)
        fail_msg("%s = %.4f, expected %.3f to %.3f", what, v, lo, hi);
}

/* Generate into a fresh database in the fixture's directory. */
static struct sl_dir *generate(struct fx *f, const char *name, uint64_t seed, int64_t target)
{
    char p[200], err[256];
    snprintf(p, sizeof p, "%s/%s", f->tmpdir, name);
    struct sl_dir *d;
    assert_int_equal(sl_dir_open(p, 1, &d, err, sizeof err), 0);
    if (sl_dir_generate(d, seed, target, err, sizeof err) != 0)
        fail_msg("generate: %s", err);
    return d;
}

/* The national directory's snapshot (18,000 rows, the huge-page rows and tagged slots of
 * dir.c): every ORI finds its own row, with the same fields the database has, and
 * near-misses of every ORI (one character changed, one dropped) find nothing. */
struct snap_walk {
    const struct sl_dir_snap *s;
    int64_t n, bad;
};

static int snap_check_row(void *ctx, const struct sl_ori *o)
{
    struct snap_walk *w = ctx;
    w->n++;
    const struct sl_ori *f = sl_dir_snap_find(w->s, o->ori);
    if (!f || strcmp(f->ori, o->ori) || strcmp(f->member, o->member) ||
        strcmp(f->type, o->type) || strcmp(f->cats, o->cats) || f->status != o->status ||
        strcmp(f->name, o->name) || strcmp(f->parent, o->parent) || strcmp(f->tags, o->tags))
        w->bad++;
    char near[SL_ORI_LEN + 1];
    memcpy(near, o->ori, sizeof near);
    near[SL_ORI_LEN - 1] = near[SL_ORI_LEN - 1] == '~' ? '!' : '~'; /* never in an ORI */
    if (sl_dir_snap_find(w->s, near))
        w->bad++;
    if (sl_dir_snap_find_n(w->s, o->ori, SL_ORI_LEN - 1))
        w->bad++;
    return 0;
}

static void test_snapshot_national(void **state)
{
    struct fx *f = *state;
    struct sl_dir *d = generate(f, "n.db", 7, 18000);
    struct sl_dir_snap *s;
    assert_int_equal(sl_dir_snapshot(d, &s), 0);
    assert_int_equal(sl_dir_snap_count(s), 18000);
    struct snap_walk w = {s, 0, 0};
    assert_int_equal(sl_dir_foreach(d, NULL, snap_check_row, &w), 0);
    assert_int_equal(w.n, 18000);
    assert_int_equal(w.bad, 0);
    for (int64_t i = 0; i < 18000; i += 997)
        assert_ptr_equal(sl_dir_snap_find(s, sl_dir_snap_at(s, i)->ori), sl_dir_snap_at(s, i));
    sl_dir_snap_free(s);
    sl_dir_close(d);
}

/* The documented proportions (docs/directory.md, "Proportions"), with tolerances wide
 * enough for any seed and narrow enough to catch a broken model. */
static void test_generate_model(void **state)
{
    struct fx *f = *state;
    struct sl_dir *d = generate(f, "g.db", 20261126, 18000);
    struct tally t;
    memset(&t, 0, sizeof t);
    t.mem = sl_dir_std_members(&t.nmem);
    assert_int_equal(sl_dir_foreach(d, NULL, tally_row, &t), 0);
    assert_int_equal(t.bad, 0);
    assert_int_equal(t.n, 18000);
    assert_int_equal(sl_dir_count(d), 18000);

    assert_between(share(&t, "PD"), 0.48, 0.60, "PD share");
    assert_between(share(&t, "SO"), 0.14, 0.20, "SO share");
    assert_between(share(&t, "FE") + share(&t, "JF"), 0.10, 0.16, "federal share");
    assert_between(share(&t, "SA"), 0.02, 0.06, "SA share");
    assert_between(share(&t, "LE"), 0.02, 0.06, "LE share");
    assert_between(share(&t, "JJ") + share(&t, "JA") + share(&t, "JC") + share(&t, "JG"),
                   0.04, 0.10, "courts, prosecutors, corrections, probation");
    assert_between(share(&t, "NJ"), 0.01, 0.025, "NJ share");
    assert_between((double)t.inactive / (double)t.n, 0.008, 0.025, "inactive share");
    assert_between((double)t.le_no_d / (double)t.le, 0.01, 0.10, "LE without D");
    /* PD is most of the state members' ORIs. */
    assert_true(share(&t, "PD") > share(&t, "SO") * 2.5);

    /* Every state and territory is there, with its generic ORIs and state police. */
    size_t nm;
    const struct sl_member *m = sl_dir_std_members(&nm);
    int nstates = 0;
    for (size_t i = 0; i < nm; i++) {
        if (m[i].kind != 'S')
            continue;
        nstates++;
        assert_true(t.state_rows[i] >= 10);
        static const char *const generic[] = {"LIC0000", "OLN0000", "VIN0000", "SIR0000",
                                              "NLETREP"};
        for (size_t k = 0; k < 5; k++) {
            char ori[10];
            snprintf(ori, sizeof ori, "%s%s", m[i].code, generic[k]);
            struct sl_ori o;
            if (sl_dir_get(d, ori, &o) != 0)
                fail_msg("missing %s", ori);
            assert_string_equal(o.member, m[i].code);
        }
    }
    assert_int_equal(nstates, 54);
    struct sl_ori o;
    assert_int_equal(sl_dir_get(d, SL_SWITCH_ORI, &o), 0);
    assert_string_equal(o.member, "NL");

    /* Federal components in many states. */
    assert_true(states_with(&t, 0) >= 30); /* ERO */
    assert_true(states_with(&t, 1) >= 30); /* HSI */
    assert_true(states_with(&t, 2) >= 15); /* CBP */
    assert_true(states_with(&t, 3) >= 45); /* FBI */
    assert_true(states_with(&t, 5) >= 50); /* USMS: every district */
    /* CBP per head is much higher in land-border states than inland. */
    static const char *const border[] = {"TX", "AZ", "NM", "CA", "WA", "MT", "ND", "VT", "ME",
                                         "NY", "MI", "MN"};
    static const char *const inland[] = {"OH", "KS", "MO", "CO", "TN", "IN", "OK", "IA",
                                         "NE", "AR", "KY", "WV"};
    static const int pop_border[] = {29146, 7152, 2118, 39538, 7705, 1084,
                                     779, 643, 1362, 20201, 10077, 5706};
    static const int pop_inland[] = {11799, 2938, 6155, 5774, 6911, 6786,
                                     3959, 3190, 1962, 3012, 4506, 1794};
    double cb = 0, ci = 0, pb = 0, pi = 0;
    for (int i = 0; i < 12; i++) {
        cb += (double)t.fed_states[2][state_index(border[i])];
        ci += (double)t.fed_states[2][state_index(inland[i])];
        pb += pop_border[i];
        pi += pop_inland[i];
    }
    if (!(cb / pb > 4 * (ci + 1) / pi))
        fail_msg("CBP per million: border %.2f, inland %.2f", 1000 * cb / pb, 1000 * ci / pi);
    /* ERO carries the immigration-enforcement tag; some sheriffs have 287(g). */
    assert_int_equal(sl_dir_get(d, "WAERO0000", &o), 0);
    assert_string_equal(o.parent, "DHS/ICE/ERO");
    assert_non_null(strstr(o.tags, "immigration-enforcement"));

    /* Snapshot: finds every row, misses what is not there. */
    struct sl_dir_snap *s;
    assert_int_equal(sl_dir_snapshot(d, &s), 0);
    assert_int_equal(sl_dir_snap_count(s), 18000);
    char *csv = export_text(d, NULL);
    int found = 0, missed = 0;
    for (char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        char ori[10];
        memcpy(ori, line + 1, 9);
        ori[9] = '\0';
        const struct sl_ori *r = sl_dir_snap_find(s, ori);
        if (r && strcmp(r->ori, ori) == 0)
            found++;
        /* a near miss: same ORI with its last character changed to '#' is never valid */
        ori[8] = '#';
        missed += sl_dir_snap_find(s, ori) == NULL;
    }
    assert_int_equal(found, 18000);
    assert_int_equal(missed, 18000);
    assert_null(sl_dir_snap_find(s, "ZZ0000000"));
    assert_non_null(sl_dir_snap_member(s, "DH"));
    free(csv);
    sl_dir_snap_free(s);
    sl_dir_close(d);
}

static void test_generate_reproducible(void **state)
{
    struct fx *f = *state;
    struct sl_dir *a = generate(f, "a.db", 42, 6000);
    struct sl_dir *b = generate(f, "b.db", 42, 6000);
    struct sl_dir *c = generate(f, "c.db", 43, 6000);
    char *ca = export_text(a, NULL), *cb = export_text(b, NULL), *cc = export_text(c, NULL);
    assert_string_equal(ca, cb);
    assert_true(strcmp(ca, cc) != 0);
    /* The export of a generated directory imports into an empty one and exports the same:
     * the CSV round trip on 6,000 real-looking rows (UTF-8 names, quotes, tags). */
    char p[200], err[256];
    snprintf(p, sizeof p, "%s/d.db", f->tmpdir);
    struct sl_dir *d;
    assert_int_equal(sl_dir_open(p, 1, &d, err, sizeof err), 0);
    int64_t n;
    if (import_text(d, NULL, ca, &n, err, sizeof err) != 0)
        fail_msg("import: %s", err);
    assert_int_equal(n, 6000);
    char *cd = export_text(d, NULL);
    assert_string_equal(ca, cd);
    /* Other targets are met exactly, as long as they are in range. */
    struct sl_dir *e = generate(f, "e.db", 1, 30000);
    assert_int_equal(sl_dir_count(e), 30000);
    assert_int_equal(sl_dir_generate(e, 1, 30000, err, sizeof err), -1); /* not empty */
    assert_int_equal(sl_dir_generate(d, 1, 10, err, sizeof err), -1);    /* too small */
    free(ca);
    free(cb);
    free(cc);
    free(cd);
    sl_dir_close(a);
    sl_dir_close(b);
    sl_dir_close(c);
    sl_dir_close(d);
    sl_dir_close(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_and_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ownership, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_import_export_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_bad_lines, setup, teardown),
        cmocka_unit_test(test_csv_split),
        cmocka_unit_test_setup_teardown(test_snapshot_small, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_national, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generate_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generate_reproducible, setup, teardown),
    };
    return cmocka_run_group_tests_name("dir", tests, NULL, NULL);
}
