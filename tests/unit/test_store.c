/*
 * test_store.c - the record store against a generated population of 5,000 drivers:
 * every query form finds the record it was built from; name matching ignores case,
 * punctuation and order; DOB forms; plate tolerance; partial plates; list caps;
 * not-found answers; NCIC name parsing; photos; the data-class table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "stateline/population.h"
#include "stateline/store.h"

#define AS_OF 20261126
#define N_DRIVERS 5000
#define SEED 77

struct fx {
    char dir[256], path[300];
    struct sl_store *st;
};

static struct sl_pop_opts opts(void)
{
    struct sl_pop_opts o = {.state = "WA", .drivers = N_DRIVERS, .seed = SEED, .as_of = AS_OF};
    return o;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/sl-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/wa.db", f->dir);
    struct sl_pop_opts o = opts();
    char err[256];
    struct sl_pop_stats st;
    if (sl_pop_write(&o, f->path, 0, &st, err, sizeof err) < 0) {
        fprintf(stderr, "sl_pop_write: %s\n", err);
        return -1;
    }
    if (st.drivers != N_DRIVERS)
        return -1;
    /* A second write without replace refuses to clobber the file. */
    if (sl_pop_write(&o, f->path, 0, NULL, err, sizeof err) == 0 || !strstr(err, "exists"))
        return -1;
    f->st = sl_store_open(f->path, 1, err, sizeof err);
    if (!f->st) {
        fprintf(stderr, "sl_store_open: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sl_store_close(f->st);
    char p[320];
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Iterate the same population the store was built from. */
static struct sl_pop *regen(void)
{
    struct sl_pop_opts o = opts();
    char err[256];
    struct sl_pop *g = sl_pop_new(&o, err, sizeof err);
    assert_non_null(g);
    return g;
}

static int next(struct sl_pop *g, struct sl_pop_rec *r)
{
    char err[256];
    return sl_pop_next(g, r, err, sizeof err);
}

static void same_driver(const struct sl_driver *a, const struct sl_driver *b)
{
    assert_int_equal(a->id, b->id);
    assert_string_equal(a->oln, b->oln);
    assert_string_equal(a->last, b->last);
    assert_string_equal(a->first, b->first);
    assert_string_equal(a->middle, b->middle);
    assert_string_equal(a->suffix, b->suffix);
    assert_int_equal(a->dob, b->dob);
    assert_int_equal(a->sex, b->sex);
    assert_string_equal(a->street, b->street);
    assert_string_equal(a->city, b->city);
    assert_string_equal(a->zip, b->zip);
    assert_int_equal(a->height_in, b->height_in);
    assert_int_equal(a->weight_lb, b->weight_lb);
    assert_string_equal(a->eyes, b->eyes);
    assert_string_equal(a->hair, b->hair);
    assert_string_equal(a->lic_class, b->lic_class);
    assert_string_equal(a->endorsements, b->endorsements);
    assert_string_equal(a->restrictions, b->restrictions);
    assert_string_equal(a->status, b->status);
    assert_int_equal(a->issued, b->issued);
    assert_int_equal(a->expires, b->expires);
    assert_string_equal(a->ssn, b->ssn);
}

static void test_meta(void **state)
{
    struct fx *f = *state;
    assert_string_equal(sl_store_state(f->st), "WA");
    assert_true(sl_store_has_partial_plate(f->st));
    assert_true(sl_store_seed(f->st) == SEED);
    assert_int_equal(sl_store_as_of(f->st), AS_OF);
    assert_int_equal(sl_store_count_drivers(f->st), N_DRIVERS);
    assert_true(sl_store_count_vehicles(f->st) > N_DRIVERS * 9 / 10);
    char err[256];
    assert_null(sl_store_open("/nonexistent/dir/x.db", 1, err, sizeof err));
    assert_true(err[0] != 0);
}

static void test_oln(void **state)
{
    struct fx *f = *state;
    struct sl_pop *g = regen();
    struct sl_pop_rec r;
    struct sl_driver d;
    int n = 0;
    while (next(g, &r) == 1) {
        assert_int_equal(sl_store_driver_by_oln(f->st, r.d.oln, &d), 1);
        same_driver(&d, &r.d);
        n++;
    }
    assert_int_equal(n, N_DRIVERS);
    sl_pop_free(g);
    /* Typed lower-case with separators. */
    g = regen();
    assert_int_equal(next(g, &r), 1);
    char typed[64];
    snprintf(typed, sizeof typed, "%.3s-%.4s %.16s", r.d.oln, r.d.oln + 3, r.d.oln + 7);
    for (char *p = typed; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    assert_int_equal(sl_store_driver_by_oln(f->st, typed, &d), 1);
    assert_int_equal(d.id, r.d.id);
    sl_pop_free(g);
    /* Not on file. */
    assert_int_equal(sl_store_driver_by_oln(f->st, "WDL000000000", &d), 0);
    assert_int_equal(sl_store_driver_by_oln(f->st, "", &d), 0);
    assert_int_equal(sl_store_driver_by_oln(f->st, "---", &d), 0);
}

static int has_id(const struct sl_driver *l, int n, int64_t id)
{
    for (int i = 0; i < n; i++)
        if (l[i].id == id)
            return 1;
    return 0;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static void test_name_dob_sex(void **state)
{
    struct fx *f = *state;
    struct sl_pop *g = regen();
    struct sl_pop_rec r;
    struct sl_driver l[64];
    int total, checked = 0;
    while (next(g, &r) == 1) {
        if (r.d.id % 7 != 0)
            continue;
        const struct sl_driver *d = &r.d;
        char name[128], dob8[16], dob6[16];
        snprintf(dob8, sizeof dob8, "%08d", d->dob);
        snprintf(dob6, sizeof dob6, "%02d%02d%02d", d->dob / 100 % 100, d->dob % 100,
                 d->dob / 10000 % 100);
        /* The NCIC form, with and without the middle name and suffix. */
        snprintf(name, sizeof name, "%s,%s %s %s", d->last, d->first, d->middle, d->suffix);
        int n = sl_store_driver_by_name_dob_sex(f->st, name, dob8, d->sex, l, 64, &total);
        assert_true(n >= 1 && has_id(l, n, d->id));
        same_driver(&l[0], l[0].id == d->id ? d : &l[0]);
        n = sl_store_driver_by_name_dob_sex(f->st, name, dob6, d->sex, l, 64, &total);
        assert_true(has_id(l, n, d->id));
        snprintf(name, sizeof name, "%s, %s", d->last, d->first);
        n = sl_store_driver_by_name_dob_sex(f->st, name, dob8, d->sex, l, 64, &total);
        assert_true(has_id(l, n, d->id));
        /* Order, case and punctuation ignored: "first middle-initial. last". */
        snprintf(name, sizeof name, "%s %.1s. %s", d->first, d->middle, d->last);
        lower(name);
        n = sl_store_driver_by_name_dob_sex(f->st, name, dob8, 0, l, 64, &total);
        assert_true(has_id(l, n, d->id));
        snprintf(name, sizeof name, "%s %s", d->last, d->first);
        n = sl_store_driver_by_name_dob_sex(f->st, name, dob8, d->sex, l, 64, &total);
        assert_true(has_id(l, n, d->id));
        /* Swapped around the comma still finds it. */
        snprintf(name, sizeof name, "%s,%s", d->first, d->last);
        n = sl_store_driver_by_name_dob_sex(f->st, name, dob8, d->sex, l, 64, &total);
        assert_true(has_id(l, n, d->id));
        /* The other sex, a day off, a different middle name: not this driver. */
        snprintf(name, sizeof name, "%s,%s", d->last, d->first);
        n = sl_store_driver_by_name_dob_sex(f->st, name, dob8, d->sex == 'M' ? 'F' : 'M', l, 64,
                                            &total);
        assert_false(has_id(l, n, d->id));
        char off[16];
        int32_t other = sl_pop_date_ymd(sl_pop_date_days(d->dob) + 1);
        snprintf(off, sizeof off, "%08d", other);
        n = sl_store_driver_by_name_dob_sex(f->st, name, off, d->sex, l, 64, &total);
        assert_false(has_id(l, n, d->id));
        if (strlen(d->middle) > 1) {
            snprintf(name, sizeof name, "%s,%s ZZZYX", d->last, d->first);
            n = sl_store_driver_by_name_dob_sex(f->st, name, dob8, d->sex, l, 64, &total);
            assert_false(has_id(l, n, d->id));
        }
        checked++;
    }
    assert_true(checked > 600);
    sl_pop_free(g);
    /* Invalid queries are reported as such, not as "not on file". */
    assert_int_equal(sl_store_driver_by_name_dob_sex(f->st, "SMITH", "19800101", 'M', l, 64,
                                                     &total), -2);
    assert_int_equal(sl_store_driver_by_name_dob_sex(f->st, "SMITH,JOHN", "19801301", 'M', l,
                                                     64, &total), -2);
    assert_int_equal(sl_store_driver_by_name_dob_sex(f->st, "NOBODY,NOONE", "19800101", 'M', l,
                                                     64, &total), 0);
    assert_int_equal(total, 0);
}

/* The most common (last, first) pair in the file and how many share it. */
static int biggest_name(const char *path, char *last, char *first)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT last, first, count(*) c FROM driver GROUP BY "
                                        "pair_key ORDER BY c DESC LIMIT 1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    strcpy(last, (const char *)sqlite3_column_text(s, 0));
    strcpy(first, (const char *)sqlite3_column_text(s, 1));
    int c = sqlite3_column_int(s, 2);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return c;
}

static void test_name_list(void **state)
{
    struct fx *f = *state;
    char last[64], first[64], name[160];
    int c = biggest_name(f->path, last, first);
    assert_true(c >= 3);
    struct sl_driver l[SL_STORE_LIST_CAP];
    int total;
    snprintf(name, sizeof name, "%s,%s", last, first);
    int n = sl_store_driver_by_name(f->st, name, l, 2, &total);
    assert_int_equal(n, 2);
    assert_int_equal(total, c); /* the "more" count is total - n */
    n = sl_store_driver_by_name(f->st, name, l, SL_STORE_LIST_CAP, &total);
    assert_int_equal(n, c < SL_STORE_LIST_CAP ? c : SL_STORE_LIST_CAP);
    for (int i = 1; i < n; i++)
        assert_true(l[i - 1].dob <= l[i].dob); /* ordered by DOB */
    for (int i = 0; i < n; i++) {
        char k1[72], k2[72];
        sl_store_pair_key(l[i].last, l[i].first, k1, sizeof k1);
        sl_store_pair_key(last, first, k2, sizeof k2);
        assert_string_equal(k1, k2);
    }
    /* cap 0 only counts */
    n = sl_store_driver_by_name(f->st, name, l, 0, &total);
    assert_int_equal(n, 0);
    assert_int_equal(total, c);
    /* Every driver is found by name alone (large cap). */
    struct sl_pop *g = regen();
    struct sl_pop_rec r;
    struct sl_driver *big = calloc(256, sizeof *big);
    while (next(g, &r) == 1) {
        if (r.d.id % 11 != 0)
            continue;
        snprintf(name, sizeof name, "%s %s", r.d.first, r.d.last);
        n = sl_store_driver_by_name(f->st, name, big, 256, &total);
        assert_true(has_id(big, n, r.d.id));
    }
    free(big);
    sl_pop_free(g);
    assert_int_equal(sl_store_driver_by_name(f->st, "QQQQ,XXXX", l, 20, &total), 0);
    assert_int_equal(sl_store_driver_by_name(f->st, ",", l, 20, &total), -2);
}

static void test_history(void **state)
{
    struct fx *f = *state;
    struct sl_pop *g = regen();
    struct sl_pop_rec r;
    struct sl_history h[SL_POP_MAX_HIST];
    int total, with = 0;
    while (next(g, &r) == 1) {
        int n = sl_store_history(f->st, r.d.id, h, SL_POP_MAX_HIST, &total);
        assert_int_equal(n, r.n_hist);
        assert_int_equal(total, r.n_hist);
        for (int i = 0; i < n; i++) {
            assert_int_equal(h[i].kind, r.hist[i].kind);
            assert_int_equal(h[i].date, r.hist[i].date);
            assert_string_equal(h[i].code, r.hist[i].code);
            assert_string_equal(h[i].text, r.hist[i].text);
            assert_int_equal(h[i].conviction, r.hist[i].conviction);
            assert_int_equal(h[i].ends, r.hist[i].ends);
        }
        with += n > 0;
        if (n > 1) {
            assert_int_equal(sl_store_history(f->st, r.d.id, h, 1, &total), 1);
            assert_int_equal(total, r.n_hist);
        }
    }
    assert_true(with > 500);
    sl_pop_free(g);
    assert_int_equal(sl_store_history(f->st, N_DRIVERS + 10, h, 4, &total), 0);
}

static int has_vid(const struct sl_vehicle *l, int n, int64_t id)
{
    for (int i = 0; i < n; i++)
        if (l[i].id == id)
            return 1;
    return 0;
}

static void same_vehicle(const struct sl_vehicle *a, const struct sl_vehicle *b,
                         const struct sl_driver *owner0)
{
    assert_int_equal(a->id, b->id);
    assert_string_equal(a->plate, b->plate);
    assert_int_equal(a->plate_year, b->plate_year);
    assert_string_equal(a->plate_type, b->plate_type);
    assert_string_equal(a->vin, b->vin);
    assert_string_equal(a->make, b->make);
    assert_string_equal(a->model, b->model);
    assert_int_equal(a->year, b->year);
    assert_string_equal(a->colour, b->colour);
    assert_string_equal(a->style, b->style);
    assert_int_equal(a->reg_expires, b->reg_expires);
    assert_int_equal(a->n_owners, b->n_owners);
    for (int i = 0; i < a->n_owners; i++)
        assert_int_equal(a->owner[i].driver_id, b->owner[i].driver_id);
    /* The owner comes with the driver record's identity and address. */
    assert_string_equal(a->owner[0].last, owner0->last);
    assert_string_equal(a->owner[0].oln, owner0->oln);
    assert_string_equal(a->owner[0].street, owner0->street);
    assert_int_equal(a->owner[0].dob, owner0->dob);
    if (a->n_owners == 2)
        assert_true(a->owner[1].last[0] != 0);
}

static void test_vehicles(void **state)
{
    struct fx *f = *state;
    struct sl_pop *g = regen();
    struct sl_pop_rec r;
    struct sl_vehicle l[16];
    int total, n, nveh = 0, coowned = 0;
    while (next(g, &r) == 1) {
        for (int k = 0; k < r.n_veh; k++) {
            const struct sl_vehicle *v = &r.veh[k];
            nveh++;
            coowned += v->n_owners == 2;
            /* LIC + LIY + LIT */
            n = sl_store_vehicle_by_plate(f->st, v->plate, v->plate_year, v->plate_type, l, 16,
                                          &total);
            assert_int_equal(n, 1);
            same_vehicle(&l[0], v, &r.d);
            assert_int_equal(l[0].match, SL_MATCH_YEAR | SL_MATCH_TYPE);
            /* VIN, full and last 8 */
            int ok = 0;
            n = sl_store_vehicle_by_vin(f->st, v->vin, l, 16, &total, &ok);
            assert_int_equal(n, 1);
            assert_int_equal(ok, 1);
            same_vehicle(&l[0], v, &r.d);
            n = sl_store_vehicle_by_vin(f->st, v->vin + 9, l, 16, &total, NULL);
            assert_true(has_vid(l, n, v->id));
            if (r.d.id % 5 != 0)
                continue;
            /* Tolerance: LIC alone; wrong year; two-digit year; wrong type. */
            n = sl_store_vehicle_by_plate(f->st, v->plate, 0, NULL, l, 16, &total);
            assert_true(has_vid(l, n, v->id));
            n = sl_store_vehicle_by_plate(f->st, v->plate, v->plate_year - 3, v->plate_type, l,
                                          16, &total);
            assert_true(has_vid(l, n, v->id));
            assert_int_equal(l[0].match, SL_MATCH_TYPE);
            n = sl_store_vehicle_by_plate(f->st, v->plate, v->plate_year % 100, v->plate_type, l,
                                          16, &total);
            assert_int_equal(l[0].match, SL_MATCH_YEAR | SL_MATCH_TYPE);
            const char *wrong = strcmp(v->plate_type, "PC") ? "PC" : "TK";
            n = sl_store_vehicle_by_plate(f->st, v->plate, v->plate_year, wrong, l, 16, &total);
            assert_true(has_vid(l, n, v->id));
            /* typed with a space and lower case */
            char typed[24];
            snprintf(typed, sizeof typed, "%.3s %s", v->plate, v->plate + 3);
            lower(typed);
            n = sl_store_vehicle_by_plate(f->st, typed, 0, NULL, l, 16, &total);
            assert_true(has_vid(l, n, v->id));
            /* A mistyped check digit: not on file, and reported as failing the check. */
            char bad[18];
            memcpy(bad, v->vin, 18);
            bad[8] = bad[8] == '0' ? '1' : '0';
            n = sl_store_vehicle_by_vin(f->st, bad, l, 16, &total, &ok);
            assert_int_equal(n, 0);
            assert_int_equal(ok, 0);
        }
    }
    assert_true(nveh > N_DRIVERS * 9 / 10);
    assert_true(coowned > nveh / 10);
    sl_pop_free(g);
    assert_int_equal(sl_store_vehicle_by_plate(f->st, "ZZ", 0, NULL, l, 16, &total), 0);
    assert_int_equal(total, 0);
    assert_int_equal(sl_store_vehicle_by_vin(f->st, "1234", l, 16, &total, NULL), -2);
    assert_int_equal(sl_store_vehicle_by_vin(f->st, "AB12345O", l, 16, &total, NULL), -2);
    assert_int_equal(sl_store_vehicle_by_vin(f->st, "AB123450", l, 16, &total, NULL), 0);
    int ok = 1;
    assert_int_equal(sl_store_vehicle_by_vin(f->st, "1M8GDM9AXKP042788", l, 16, &total, &ok), 0);
    assert_int_equal(ok, 1); /* valid, just not on file */
    struct sl_vehicle one;
    assert_int_equal(sl_store_vehicle_by_id(f->st, 1, &one), 1);
    assert_int_equal(sl_store_vehicle_by_id(f->st, 1 << 30, &one), 0);
}

static void test_owner(void **state)
{
    struct fx *f = *state;
    struct sl_pop *g = regen();
    struct sl_pop_rec r;
    struct sl_vehicle *l = calloc(128, sizeof *l);
    struct sl_driver co;
    int total, checked = 0;
    while (next(g, &r) == 1) {
        if (r.d.id % 9 != 0 || r.n_veh == 0)
            continue;
        char name[128];
        snprintf(name, sizeof name, "%s,%s %s", r.d.last, r.d.first, r.d.middle);
        int n = sl_store_vehicle_by_owner(f->st, name, l, 128, &total);
        assert_true(n <= total);
        for (int k = 0; k < r.n_veh; k++)
            assert_true(has_vid(l, n, r.veh[k].id));
        /* The co-owner finds the vehicle by his or her own name. */
        for (int k = 0; k < r.n_veh; k++)
            if (r.veh[k].n_owners == 2) {
                assert_int_equal(sl_store_driver_by_id(f->st, r.veh[k].owner[1].driver_id, &co), 1);
                snprintf(name, sizeof name, "%s %s", co.first, co.last);
                n = sl_store_vehicle_by_owner(f->st, name, l, 128, &total);
                assert_true(has_vid(l, n, r.veh[k].id));
            }
        /* cap respected, total unchanged */
        int t2;
        n = sl_store_vehicle_by_owner(f->st, name, l, 1, &t2);
        assert_true(n <= 1);
        checked++;
    }
    assert_true(checked > 300);
    sl_pop_free(g);
    assert_int_equal(sl_store_vehicle_by_owner(f->st, "NOBODY,NOONE", l, 20, &total), 0);
    assert_int_equal(total, 0);
    assert_int_equal(sl_store_vehicle_by_owner(f->st, "X", l, 20, &total), -2);
    free(l);
}

static void test_partial_plate(void **state)
{
    struct fx *f = *state;
    struct sl_pop *g = regen();
    struct sl_pop_rec r;
    struct sl_vehicle *l = calloc(512, sizeof *l);
    char err[128], pat[32];
    int total, checked = 0;
    while (next(g, &r) == 1 && checked < 200) {
        if (r.n_veh == 0 || r.d.id % 3 != 0)
            continue;
        const struct sl_vehicle *v = &r.veh[0];
        size_t len = strlen(v->plate);
        const char *forms[5];
        char p1[32], p2[32], p3[32], p4[32], p5[32];
        snprintf(p1, sizeof p1, "%.3s*", v->plate);                     /* prefix */
        snprintf(p2, sizeof p2, "*%s", v->plate + len - 3);             /* suffix */
        snprintf(p3, sizeof p3, "%.*s?%s", (int)len - 4, v->plate, v->plate + len - 3);
        snprintf(p4, sizeof p4, "%.4s", v->plate + 1);                  /* no wildcard */
        snprintf(p5, sizeof p5, "?%.3s*", v->plate + 1);
        forms[0] = p1, forms[1] = p2, forms[2] = p3, forms[3] = p4, forms[4] = p5;
        for (int i = 0; i < 5; i++) {
            int n = sl_store_vehicle_by_partial_plate(f->st, forms[i], l, 512, &total, err,
                                                      sizeof err);
            if (n < 0)
                fail_msg("pattern %s: %s", forms[i], err);
            assert_true(total >= 1 && n <= total);
            if (!has_vid(l, n, v->id))
                fail_msg("pattern %s (plate %s) did not find vehicle %lld", forms[i], v->plate,
                         (long long)v->id);
        }
        /* A pattern that does not fit the plate excludes it. */
        snprintf(pat, sizeof pat, "%.3s?", v->plate);
        int n = sl_store_vehicle_by_partial_plate(f->st, pat, l, 512, &total, err, sizeof err);
        if (len != 4)
            assert_false(has_vid(l, n, v->id));
        checked++;
    }
    assert_int_equal(checked, 200);
    sl_pop_free(g);
    /* Cap and count. */
    int n = sl_store_vehicle_by_partial_plate(f->st, "*000*", l, 3, &total, err, sizeof err);
    assert_true(n <= 3 && total >= n);
    /* Pattern rules. */
    assert_int_equal(sl_store_vehicle_by_partial_plate(f->st, "AB*", l, 3, &total, err, sizeof err), -2);
    assert_non_null(strstr(err, "3 consecutive"));
    assert_int_equal(sl_store_vehicle_by_partial_plate(f->st, "A?C?2?4", l, 3, &total, err, sizeof err), -2);
    assert_int_equal(sl_store_vehicle_by_partial_plate(f->st, "AB%12", l, 3, &total, err, sizeof err), -2);
    assert_int_equal(sl_store_vehicle_by_partial_plate(f->st, "", l, 3, &total, err, sizeof err), -2);
    assert_int_equal(sl_store_vehicle_by_partial_plate(f->st, "ABC[1]", l, 3, &total, err, sizeof err), -2);
    assert_int_equal(sl_store_partial_plate_check("abc-1*", err, sizeof err), 0);
    assert_int_equal(sl_store_vehicle_by_partial_plate(f->st, "QQQ*", l, 3, &total, err, sizeof err), 0);
    free(l);
}

static void test_ncic_names(void **state)
{
    (void)state;
    struct sl_name nm;
    char err[128];
    assert_int_equal(sl_store_name_parse("SMITH,JOHN ALLEN JR", &nm, err, sizeof err), 0);
    assert_true(nm.has_comma);
    assert_int_equal(nm.n, 3);
    assert_string_equal(nm.part[0], "SMITH");
    assert_string_equal(nm.part[1], "JOHN");
    assert_string_equal(nm.part[2], "ALLEN");
    assert_string_equal(nm.suffix, "JR");
    assert_int_equal(sl_store_name_parse("smith, john", &nm, err, sizeof err), 0);
    assert_int_equal(nm.n, 2);
    assert_string_equal(nm.part[0], "SMITH");
    assert_int_equal(sl_store_name_parse("O'BRIEN,MARY-ANN", &nm, err, sizeof err), 0);
    assert_string_equal(nm.part[0], "OBRIEN");
    assert_string_equal(nm.part[1], "MARYANN");
    assert_int_equal(sl_store_name_parse("DE LA CRUZ,MARIA", &nm, err, sizeof err), 0);
    assert_string_equal(nm.part[0], "DELACRUZ");
    assert_int_equal(sl_store_name_parse("SMITH JR,JOHN", &nm, err, sizeof err), 0);
    assert_string_equal(nm.part[0], "SMITH");
    assert_string_equal(nm.suffix, "JR");
    assert_int_equal(sl_store_name_parse("DR JOHN A. SMITH III", &nm, err, sizeof err), 0);
    assert_false(nm.has_comma);
    assert_int_equal(nm.n, 3);
    assert_string_equal(nm.part[0], "JOHN");
    assert_string_equal(nm.suffix, "III");
    assert_int_equal(sl_store_name_parse("SMITH", &nm, err, sizeof err), -1);
    assert_int_equal(sl_store_name_parse(",JOHN", &nm, err, sizeof err), -1);
    assert_non_null(strstr(err, "surname"));
    assert_int_equal(sl_store_name_parse("SMITH,", &nm, err, sizeof err), -1);
    assert_int_equal(sl_store_name_parse("", &nm, err, sizeof err), -1);
    assert_int_equal(sl_store_name_parse("A B C D E F G H I J K L", &nm, err, sizeof err), -1);
    char key[72];
    sl_store_pair_key("Smith", "john", key, sizeof key);
    assert_string_equal(key, "JOHN SMITH");
    sl_store_pair_key("JOHN", "SMITH", key, sizeof key);
    assert_string_equal(key, "JOHN SMITH");
    sl_store_pair_key("de la Cruz", "Maria", key, sizeof key);
    assert_string_equal(key, "DELACRUZ MARIA");
}

static void test_dob(void **state)
{
    (void)state;
    int32_t d[2];
    int n;
    assert_int_equal(sl_store_dob_parse("19800315", d, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(d[0], 19800315);
    assert_int_equal(sl_store_dob_parse("031580", d, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(d[0], 19800315);
    assert_int_equal(d[1], 20800315);
    assert_int_equal(sl_store_dob_parse("03/15/1980", d, &n), 0);
    assert_int_equal(d[0], 19800315);
    assert_int_equal(sl_store_dob_parse("1980-03-15", d, &n), 0);
    assert_int_equal(d[0], 19800315);
    assert_int_equal(sl_store_dob_parse("022900", d, &n), 0); /* 2000 was leap, 1900 not */
    assert_int_equal(n, 1);
    assert_int_equal(d[0], 20000229);
    assert_int_equal(sl_store_dob_parse("19801301", d, &n), -1);
    assert_int_equal(sl_store_dob_parse("023080", d, &n), -1);
    assert_int_equal(sl_store_dob_parse("1980031", d, &n), -1);
    assert_int_equal(sl_store_dob_parse("19800315X", d, &n), -1);
    assert_int_equal(sl_store_dob_parse("", d, &n), -1);
    assert_int_equal(sl_store_dob_parse(NULL, d, &n), -1);
    char c[16];
    assert_int_equal(sl_store_canon("wdl-abc 123", c, sizeof c), 9);
    assert_string_equal(c, "WDLABC123");
    assert_int_equal(sl_store_canon("0123456789ABCDEFGHIJ", c, sizeof c), -1);
}

static void test_photo(void **state)
{
    struct fx *f = *state;
    unsigned char *a = malloc(SL_STORE_PHOTO_MAX), *b = malloc(SL_STORE_PHOTO_MAX);
    int n = sl_store_photo(f->st, 42, a, SL_STORE_PHOTO_MAX);
    assert_true(n > 0 && n <= SL_STORE_PHOTO_MAX);
    assert_memory_equal(a, "P5\n64 80\n255\n", 13);
    assert_int_equal(n, 13 + 64 * 80);
    assert_int_equal(sl_store_photo(f->st, 42, b, SL_STORE_PHOTO_MAX), n);
    assert_memory_equal(a, b, (size_t)n);
    assert_int_equal(sl_store_photo(f->st, 43, b, SL_STORE_PHOTO_MAX), n);
    assert_memory_not_equal(a, b, (size_t)n);
    /* A short buffer gets what fits and the full length. */
    assert_int_equal(sl_store_photo(f->st, 42, b, 20), n);
    assert_memory_equal(a, b, 20);
    assert_int_equal(sl_store_photo(f->st, N_DRIVERS + 1, a, SL_STORE_PHOTO_MAX), 0);
    free(a);
    free(b);
}

static void test_data_classes(void **state)
{
    struct fx *f = *state;
    size_t n;
    const struct sl_field_class *t = sl_store_field_classes(&n);
    assert_true(n > 40);
    uint32_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        int dc = t[i].dc;
        assert_true(dc >= 0 && dc < SL_DC_COUNT); /* exactly one of the policy's classes */
        seen |= SL_DC_BIT(dc);
        assert_non_null(sl_policy_dc_name(dc));
        assert_int_equal(sl_store_field_class(t[i].record, t[i].field), dc);
        for (size_t j = 0; j < i; j++) /* no field listed twice */
            assert_false(!strcmp(t[i].record, t[j].record) && !strcmp(t[i].field, t[j].field));
    }
    assert_int_equal(seen, SL_DC_ALL);
    assert_int_equal(sl_store_field_class("driver", "ssn"), SL_DC_SSN);
    assert_int_equal(sl_store_field_class("driver", "photo"), SL_DC_PHOTO);
    assert_int_equal(sl_store_field_class("driver", "oln"), SL_DC_LICENSE);
    assert_int_equal(sl_store_field_class("driver", "sex"), SL_DC_DESCRIPTION);
    assert_int_equal(sl_store_field_class("owner", "street"), SL_DC_OWNER_ADDRESS);
    assert_int_equal(sl_store_field_class("driver", "nope"), -1);
    /* Redaction blanks exactly the fields of the classes named. */
    struct sl_driver d, orig;
    assert_int_equal(sl_store_driver_by_id(f->st, 5, &d), 1);
    orig = d;
    sl_store_driver_redact(&d, SL_DC_BIT(SL_DC_SSN) | SL_DC_BIT(SL_DC_ADDRESS));
    assert_string_equal(d.ssn, "");
    assert_string_equal(d.street, "");
    assert_string_equal(d.zip, "");
    assert_string_equal(d.last, orig.last);
    assert_string_equal(d.oln, orig.oln);
    assert_int_equal(d.dob, orig.dob);
    assert_string_equal(d.status, orig.status);
    assert_string_equal(d.eyes, orig.eyes);
    d = orig;
    sl_store_driver_redact(&d, SL_DC_ALL);
    struct sl_driver blank;
    memset(&blank, 0, sizeof blank);
    blank.id = d.id;
    assert_memory_equal(&d, &blank, sizeof d); /* every field has a class */
    struct sl_vehicle v;
    assert_int_equal(sl_store_vehicle_by_id(f->st, 5, &v), 1);
    sl_store_vehicle_redact(&v, SL_DC_BIT(SL_DC_OWNER_ADDRESS));
    assert_string_equal(v.owner[0].street, "");
    assert_true(v.owner[0].last[0] && v.plate[0]);
    sl_store_vehicle_redact(&v, SL_DC_BIT(SL_DC_VEHICLE) | SL_DC_BIT(SL_DC_OWNER));
    assert_string_equal(v.vin, "");
    assert_string_equal(v.owner[0].last, "");
    struct sl_history h[SL_POP_MAX_HIST];
    int total, hn = 0;
    for (int64_t id = 1; id < 100 && hn == 0; id++)
        hn = sl_store_history(f->st, id, h, SL_POP_MAX_HIST, &total);
    assert_true(hn > 0);
    sl_store_history_redact(h, hn, SL_DC_BIT(SL_DC_HISTORY));
    assert_int_equal(h[0].kind, 0);
    assert_int_equal(h[hn - 1].date, 0);
}

/* A state's own loader: the published schema and index scripts, rows written by hand
 * (names the generator does not make), then the same look-ups. */
static void test_own_loader(void **state)
{
    struct fx *f = *state;
    char path[320], err[256];
    snprintf(path, sizeof path, "%s/own.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sl_store_schema_sql(), NULL, NULL, NULL), SQLITE_OK);
    static const char rows[] =
        "INSERT INTO driver VALUES(1,'X1234567','SMITH','MARY ANN','','','',19700102,'F',"
        "'1 MAIN ST','BOISE','ID','83701',64,130,'BRO','BRO','C','','B','VALID',20200102,"
        "20280102,'900000001');"
        "INSERT INTO driver VALUES(2,'X7654321','DE LA CRUZ','JOSE','LUIS','JR','',19650305,"
        "'M','2 OAK AVE','BOISE','ID','83702',68,180,'BRO','BLK','C','','','VALID',20200305,"
        "20280305,'900000002');"
        "INSERT INTO vehicle VALUES(1,'1A23456',2027,'PC','1M8GDM9AXKP042788','CHEV','VAN',"
        "1989,'WHI','VN',20270101);"
        "INSERT INTO owner VALUES(1,0,2);"
        "INSERT INTO meta VALUES('schema','1'),('state','ID');";
    assert_int_equal(sqlite3_exec(db, rows, NULL, NULL, NULL), SQLITE_OK);
    /* pair_key as a loader computes it */
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "UPDATE driver SET pair_key=?1 WHERE id=?2", -1, &s,
                                        NULL), SQLITE_OK);
    char key[72];
    sl_store_pair_key("SMITH", "MARY ANN", key, sizeof key);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, 1);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_reset(s);
    sl_store_pair_key("DE LA CRUZ", "JOSE", key, sizeof key);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, 2);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_exec(db, sl_store_index_sql(), NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    /* Without the optional RPQ index: everything else works, RPQ says it cannot. */
    struct sl_store *st = sl_store_open(path, 1, err, sizeof err);
    assert_non_null(st);
    assert_false(sl_store_has_partial_plate(st));
    struct sl_vehicle pv[2];
    int pt;
    assert_int_equal(sl_store_vehicle_by_partial_plate(st, "*345?", pv, 2, &pt, err, sizeof err),
                     -1);
    sl_store_close(st);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sl_store_plate_index_sql(), NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    st = sl_store_open(path, 1, err, sizeof err);
    assert_non_null(st);
    assert_true(sl_store_has_partial_plate(st));
    assert_string_equal(sl_store_state(st), "ID");
    assert_int_equal(sl_store_count_drivers(st), 2); /* no count in meta: counted */
    struct sl_driver l[4];
    int total;
    assert_int_equal(sl_store_driver_by_name_dob_sex(st, "SMITH,MARY ANN", "010270", 'F', l, 4,
                                                     &total), 1);
    assert_int_equal(l[0].id, 1);
    assert_int_equal(sl_store_driver_by_name(st, "Smith, Mary-Ann", l, 4, &total), 1);
    assert_int_equal(sl_store_driver_by_name(st, "jose luis de la cruz jr", l, 4, &total), 1);
    assert_int_equal(sl_store_driver_by_name(st, "DE LA CRUZ,JOSE L", l, 4, &total), 1);
    assert_int_equal(sl_store_driver_by_name(st, "DELACRUZ, JOSE SR", l, 4, &total), 0);
    assert_int_equal(sl_store_driver_by_name(st, "CRUZ,JOSE", l, 4, &total), 0);
    struct sl_vehicle v[2];
    int ok;
    assert_int_equal(sl_store_vehicle_by_vin(st, "1m8gdm9axkp042788", v, 2, &total, &ok), 1);
    assert_int_equal(ok, 1);
    assert_string_equal(v[0].owner[0].last, "DE LA CRUZ");
    assert_int_equal(sl_store_vehicle_by_owner(st, "Jose De La Cruz", v, 2, &total), 1);
    assert_int_equal(sl_store_vehicle_by_partial_plate(st, "*345?", v, 2, &total, err,
                                                       sizeof err), 1);
    sl_store_close(st);
    unlink(path);
    /* Not a store: an SQLite file without the schema. */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(sl_store_open(path, 1, err, sizeof err));
    assert_non_null(strstr(err, "not a stateline record store"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta),          cmocka_unit_test(test_oln),
        cmocka_unit_test(test_name_dob_sex),  cmocka_unit_test(test_name_list),
        cmocka_unit_test(test_history),       cmocka_unit_test(test_vehicles),
        cmocka_unit_test(test_owner),         cmocka_unit_test(test_partial_plate),
        cmocka_unit_test(test_ncic_names),    cmocka_unit_test(test_dob),
        cmocka_unit_test(test_photo),         cmocka_unit_test(test_data_classes),
        cmocka_unit_test(test_own_loader),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
