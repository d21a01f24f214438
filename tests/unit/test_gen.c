/*
 * test_gen.c - the population generator: VIN check digits, licence and plate formats
 * of every state, shares and distributions within the tolerances docs/records.md
 * states, reproducibility, uniqueness, owners, photos, option errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/population.h"
#include "stateline/store.h"

#define AS_OF 20261126

static struct sl_pop *mk(const char *state, uint64_t n, uint64_t seed)
{
    struct sl_pop_opts o = {.state = state, .drivers = n, .seed = seed, .as_of = AS_OF};
    char err[256];
    struct sl_pop *g = sl_pop_new(&o, err, sizeof err);
    if (!g)
        fail_msg("sl_pop_new(%s): %s", state, err);
    return g;
}

static int next(struct sl_pop *g, struct sl_pop_rec *r)
{
    char err[256];
    int n = sl_pop_next(g, r, err, sizeof err);
    if (n < 0)
        fail_msg("sl_pop_next: %s", err);
    return n;
}

static void test_vin_known(void **state)
{
    (void)state;
    /* The worked example of 49 CFR 565 / the common references: check digit X. */
    assert_int_equal(sl_store_vin_check_digit("1M8GDM9AXKP042788"), 'X');
    assert_true(sl_store_vin_valid("1M8GDM9AXKP042788"));
    assert_true(sl_store_vin_valid("11111111111111111"));
    assert_false(sl_store_vin_valid("1M8GDM9A1KP042788"));
    assert_false(sl_store_vin_valid("1M8GDM9AXKP04278"));   /* 16 characters */
    assert_false(sl_store_vin_valid("1M8GDM9AXKP0427881")); /* 18 */
    assert_int_equal(sl_store_vin_check_digit("IM8GDM9AXKP042788"), 0); /* I is not a VIN letter */
    assert_false(sl_store_vin_valid(NULL));
}

static int vin_val(char c)
{
    const char *l = "ABCDEFGHJKLMNPRSTUVWXYZ";
    const int v[] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9};
    if (c >= '0' && c <= '9')
        return c - '0';
    return v[strchr(l, c) - l];
}

static void test_vin_generated(void **state)
{
    (void)state;
    struct sl_pop *g = mk("TX", 20000, 11);
    struct sl_pop_rec r;
    int vins = 0;
    const char alphabet[] = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ";
    struct sl_pop_rng rng;
    sl_pop_rng_seed(&rng, 99);
    while (vins < 10000 && next(g, &r) == 1) {
        for (int i = 0; i < r.n_veh && vins < 10000; i++, vins++) {
            const char *vin = r.veh[i].vin;
            assert_int_equal(strlen(vin), 17);
            assert_true(sl_store_vin_valid(vin));
            assert_null(strpbrk(vin, "IOQ"));
            /* Change one position to a character of a different value: rejected. */
            char alt[18];
            memcpy(alt, vin, 18);
            int pos = (int)sl_pop_rng_below(&rng, 17);
            char c;
            do
                c = alphabet[sl_pop_rng_below(&rng, 33)];
            while (pos == 8 ? c == vin[8] : vin_val(c) == vin_val(vin[pos]));
            alt[pos] = c;
            assert_false(sl_store_vin_valid(alt));
        }
    }
    assert_int_equal(vins, 10000);
    sl_pop_free(g);
}

static void check_re(const char *re, const char *s, const char *what, const char *st)
{
    regex_t rx;
    assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
    if (regexec(&rx, s, 0, NULL, 0) != 0)
        fail_msg("%s %s '%s' does not match %s", st, what, s, re);
    regfree(&rx);
}

static void test_state_formats(void **state)
{
    (void)state;
    struct sl_pop_state_info info;
    size_t n = 0;
    for (size_t i = 0; sl_pop_state_info(i, &info) == 0; i++, n++) {
        struct sl_pop *g = mk(info.code, 300, 5 + i);
        struct sl_pop_rec r;
        int surname_letter = strchr(info.oln_fmt, 's') != NULL;
        while (next(g, &r) == 1) {
            check_re(info.oln_re, r.d.oln, "licence", info.code);
            if (surname_letter)
                assert_int_equal(r.d.oln[0], r.d.last[0]);
            assert_string_equal(r.d.state, info.code);
            for (int k = 0; k < r.n_veh; k++) {
                const struct sl_vehicle *v = &r.veh[k];
                if (!strcmp(v->plate_type, "MC"))
                    check_re("^[A-HJ-NPR-Z][0-9]{5}$", v->plate, "MC plate", info.code);
                else if (!strcmp(v->plate_type, "TL"))
                    check_re("^[0-9]{5}[A-HJ-NPR-Z]{2}$", v->plate, "TL plate", info.code);
                else
                    check_re(info.plate_re, v->plate, "plate", info.code);
                assert_null(strpbrk(v->plate, "IOQ"));
            }
        }
        sl_pop_free(g);
    }
    assert_true(n >= 51); /* 50 states + DC, then territories */
    /* A few formats spelled out, as the brief and the DMVs state them. */
    const struct {
        const char *st, *oln_re;
    } want[] = {{"WA", "^WDL[A-Z0-9]{9}$"}, {"CA", "^[A-Z][0-9]{7}$"}, {"NY", "^[0-9]{9}$"},
                {"IL", "^[A-Z][0-9]{11}$"}, {"TX", "^[0-9]{7,8}$"}, {"FL", "^[A-Z][0-9]{12}$"},
                {"AZ", "^([A-Z][0-9]{8}|[0-9]{9})$"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(sl_pop_state_find(want[i].st, &info), 0);
        assert_string_equal(info.oln_re, want[i].oln_re);
    }
    assert_int_equal(sl_pop_state_find("wa", &info), 0);
    assert_int_equal(sl_pop_state_find("ZZ", &info), -1);
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

/* Shares, distributions and uniqueness on 20,000 drivers. */
static void test_shares(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct sl_pop *g = mk("WA", N, 2026);
    struct sl_pop_rec r;
    int status[5] = {0}, female = 0, vehicles = 0, cdl = 0, lenses = 0, with_hist = 0;
    static const char *st_names[] = {"VALID", "SUSPENDED", "EXPIRED", "REVOKED", "CANCELLED"};
    int bands[4] = {0}; /* 16-24, 25-44, 45-64, 65+ */
    char(*olns)[24] = calloc(N, 24);
    char(*ssns)[12] = calloc(N, 12);
    char(*vins)[20] = calloc(N * 4, 20);
    char(*plates)[16] = calloc(N * 4, 16);
    int nv = 0;
    int64_t today = sl_pop_date_days(AS_OF);
    for (int i = 0; next(g, &r) == 1; i++) {
        const struct sl_driver *d = &r.d;
        assert_int_equal(d->id, i + 1);
        int k;
        for (k = 0; k < 5; k++)
            if (!strcmp(d->status, st_names[k]))
                break;
        assert_true(k < 5);
        status[k]++;
        female += d->sex == 'F';
        assert_true(d->sex == 'F' || d->sex == 'M');
        int age = (int)((today - sl_pop_date_days(d->dob)) / 365.2425);
        assert_true(age >= 16 && age <= 96);
        bands[age < 25 ? 0 : age < 45 ? 1 : age < 65 ? 2 : 3]++;
        if (k == 0 || k == 1 || k == 3)
            assert_true(sl_pop_date_days(d->expires) >= today || k != 0);
        if (k == 2)
            assert_true(sl_pop_date_days(d->expires) < today);
        assert_true(d->issued < d->expires);
        assert_true(sl_pop_date_days(d->issued) <= today);
        /* SSNs only from never-issued areas. */
        assert_int_equal(strlen(d->ssn), 9);
        assert_true(d->ssn[0] == '9' || !strncmp(d->ssn, "666", 3));
        assert_true(d->height_in >= 56 && d->height_in <= 84);
        assert_true(d->weight_lb >= 90 && d->weight_lb <= 450);
        assert_true(d->last[0] && d->first[0]);
        cdl += d->lic_class[0] == 'A' || d->lic_class[0] == 'B';
        lenses += strchr(d->restrictions, 'B') != NULL;
        with_hist += r.n_hist > 0;
        if (k == 1 || k == 3 || k == 4) {
            int w = 0;
            for (int h = 0; h < r.n_hist; h++)
                w += r.hist[h].kind == 'W';
            assert_true(w >= 1); /* a withdrawal explains the status */
        }
        memcpy(olns[i], d->oln, 24);
        memcpy(ssns[i], d->ssn, 12);
        for (int v = 0; v < r.n_veh; v++) {
            const struct sl_vehicle *x = &r.veh[v];
            /* owners exist as drivers; a co-owner is someone else */
            assert_int_equal(x->owner[0].driver_id, d->id);
            if (x->n_owners == 2) {
                assert_true(x->owner[1].driver_id >= 1 && x->owner[1].driver_id <= N);
                assert_true(x->owner[1].driver_id != d->id);
            }
            assert_true(x->year >= AS_OF / 10000 - 31 && x->year <= AS_OF / 10000 + 1);
            memcpy(vins[nv], x->vin, 20);
            snprintf(plates[nv], 16, "%s/%s", x->plate, x->plate_type);
            nv++;
        }
        vehicles += r.n_veh;
    }
    sl_pop_free(g);
    /* docs/records.md: valid 88%, suspended 6%, expired 4%, revoked 1%, cancelled 1%;
     * tolerances are about 4 standard errors at N = 20,000. */
    const double want[5] = {88.0, 6.0, 4.0, 1.0, 1.0}, tol[5] = {1.0, 0.7, 0.6, 0.3, 0.3};
    for (int k = 0; k < 5; k++) {
        double pct = 100.0 * status[k] / N;
        if (pct < want[k] - tol[k] || pct > want[k] + tol[k])
            fail_msg("status %s: %.2f%%, want %.1f +- %.1f", st_names[k], pct, want[k], tol[k]);
    }
    double fpct = 100.0 * female / N;
    assert_true(fpct > 49.2 && fpct < 52.0);
    /* FHWA DL-20 2022 bands: 16-24 11.5%, 25-44 34.3%, 45-64 32.8%, 65+ 21.3%. */
    const double bw[4] = {11.5, 34.3, 32.8, 21.3};
    for (int b = 0; b < 4; b++) {
        double pct = 100.0 * bands[b] / N;
        if (pct < bw[b] - 1.5 || pct > bw[b] + 1.5)
            fail_msg("age band %d: %.2f%%, want %.1f +- 1.5", b, pct, bw[b]);
    }
    double per = (double)vehicles / N;
    assert_true(per >= 0.9 && per <= 1.1);
    assert_true(cdl > N * 0.01 && cdl < N * 0.05);
    assert_true(lenses > N * 0.4 && lenses < N * 0.7);
    assert_true(with_hist > N * 0.15 && with_hist < N * 0.40);
    /* Identifiers unique by construction. */
    qsort(olns, N, 24, cmp_str);
    qsort(ssns, N, 12, cmp_str);
    qsort(vins, (size_t)nv, 20, cmp_str);
    qsort(plates, (size_t)nv, 16, cmp_str);
    for (int i = 1; i < N; i++) {
        assert_string_not_equal(olns[i - 1], olns[i]);
        assert_string_not_equal(ssns[i - 1], ssns[i]);
    }
    for (int i = 1; i < nv; i++) {
        assert_string_not_equal(vins[i - 1], vins[i]);
        assert_string_not_equal(plates[i - 1], plates[i]);
    }
    free(olns);
    free(ssns);
    free(vins);
    free(plates);
}

static void test_reproducible(void **state)
{
    (void)state;
    struct sl_pop *a = mk("NY", 3000, 42), *b = mk("NY", 3000, 42), *c = mk("NY", 3000, 43);
    struct sl_pop_rec ra, rb, rc;
    int differ = 0, n = 0;
    while (next(a, &ra) == 1) {
        assert_int_equal(next(b, &rb), 1);
        assert_int_equal(next(c, &rc), 1);
        assert_memory_equal(&ra, &rb, sizeof ra);
        differ += strcmp(ra.d.oln, rc.d.oln) != 0 && strcmp(ra.d.last, rc.d.last) != 0;
        n++;
    }
    assert_int_equal(next(b, &rb), 0);
    assert_int_equal(n, 3000);
    assert_true(differ > n * 9 / 10);
    sl_pop_free(a);
    sl_pop_free(b);
    sl_pop_free(c);
    /* A different state with the same seed is a different population too. */
    struct sl_pop *w = mk("WA", 10, 42);
    assert_int_equal(next(w, &rc), 1);
    assert_string_not_equal(rc.d.oln, "");
    sl_pop_free(w);
}

static void test_photo(void **state)
{
    (void)state;
    unsigned char a[SL_STORE_PHOTO_W * SL_STORE_PHOTO_H], b[sizeof a];
    sl_pop_photo(7, 12, 'F', "BLN", "BLU", a);
    sl_pop_photo(7, 12, 'F', "BLN", "BLU", b);
    assert_memory_equal(a, b, sizeof a);
    sl_pop_photo(7, 13, 'F', "BLN", "BLU", b);
    assert_memory_not_equal(a, b, sizeof a);
    sl_pop_photo(8, 12, 'F', "BLN", "BLU", b);
    assert_memory_not_equal(a, b, sizeof a);
    /* Not a flat image: a face is drawn. */
    int lo = 255, hi = 0;
    for (size_t i = 0; i < sizeof a; i++) {
        lo = a[i] < lo ? a[i] : lo;
        hi = a[i] > hi ? a[i] : hi;
    }
    assert_true(hi - lo > 100);
}

static void test_errors(void **state)
{
    (void)state;
    char err[256];
    struct sl_pop_opts o = {.state = "XX", .drivers = 10, .seed = 1, .as_of = AS_OF};
    assert_null(sl_pop_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "unknown state"));
    o.state = "WA";
    o.drivers = 0;
    assert_null(sl_pop_new(&o, err, sizeof err));
    o.drivers = 20000000; /* Alaska's 7-digit numbers hold 10 million */
    o.state = "AK";
    assert_null(sl_pop_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "licence numbers"));
    o.state = "WA";
    o.drivers = 5;
    o.as_of = 20260231;
    assert_null(sl_pop_new(&o, err, sizeof err));
}

static void test_dates_rng(void **state)
{
    (void)state;
    assert_int_equal(sl_pop_date_days(19700101), 0);
    assert_int_equal(sl_pop_date_ymd(0), 19700101);
    assert_int_equal(sl_pop_date_ymd(sl_pop_date_days(20000229) + 1), 20000301);
    for (int64_t d = -50000; d < 80000; d += 37)
        assert_int_equal(sl_pop_date_days(sl_pop_date_ymd(d)), d);
    struct sl_pop_rng a, b;
    sl_pop_rng_seed(&a, 1);
    sl_pop_rng_seed(&b, 1);
    for (int i = 0; i < 100; i++)
        assert_true(sl_pop_rng_next(&a) == sl_pop_rng_next(&b));
    for (int i = 0; i < 10000; i++) {
        assert_true(sl_pop_rng_below(&a, 7) < 7);
        double u = sl_pop_rng_unit(&a);
        assert_true(u >= 0 && u < 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vin_known),    cmocka_unit_test(test_vin_generated),
        cmocka_unit_test(test_state_formats), cmocka_unit_test(test_shares),
        cmocka_unit_test(test_reproducible), cmocka_unit_test(test_photo),
        cmocka_unit_test(test_errors),       cmocka_unit_test(test_dates_rng),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
