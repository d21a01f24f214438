/*
 * test_gateway_layout.c - the gateway's reply layouts (text and standard) for driver,
 * history, vehicle and list items, with and without redaction: a withheld class reads
 * WITHHELD and none of its values appears anywhere in the reply, in every layout; the
 * classes that are not withheld still show their values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stateline/buf.h"
#include "stateline/core.h"
#include "stateline/gateway.h"
#include "stateline/store.h"

static void make_driver(struct sl_driver *d)
{
    memset(d, 0, sizeof *d);
    d->id = 7;
    strcpy(d->oln, "WDLQX7Z9K2PA");
    strcpy(d->last, "ZABRISKIE");
    strcpy(d->first, "QUENTINA");
    strcpy(d->middle, "MARGOLIS");
    d->dob = 19710926;
    d->sex = 'F';
    strcpy(d->street, "4417 SECRETARIAT WAY");
    strcpy(d->city, "WENATCHEE");
    strcpy(d->state, "WA");
    strcpy(d->zip, "98807");
    d->height_in = 67;
    d->weight_lb = 143;
    strcpy(d->eyes, "HAZ");
    strcpy(d->hair, "RED");
    strcpy(d->lic_class, "C");
    strcpy(d->endorsements, "M");
    strcpy(d->restrictions, "B");
    strcpy(d->status, "SUSPENDED");
    d->issued = 20210314;
    d->expires = 20290926;
    strcpy(d->ssn, "666123987");
}

static void make_vehicle(struct sl_vehicle *v)
{
    memset(v, 0, sizeof *v);
    strcpy(v->plate, "QZX4471");
    v->plate_year = 2027;
    strcpy(v->plate_type, "PC");
    strcpy(v->vin, "1HGCM82633A004352");
    strcpy(v->make, "HOND");
    strcpy(v->model, "ACCORD");
    v->year = 2003;
    strcpy(v->colour, "GRN");
    strcpy(v->style, "4D");
    v->reg_expires = 20270131;
    v->n_owners = 1;
    strcpy(v->owner[0].oln, "WDLQX7Z9K2PA");
    strcpy(v->owner[0].last, "ZABRISKIE");
    strcpy(v->owner[0].first, "QUENTINA");
    v->owner[0].dob = 19710926;
    strcpy(v->owner[0].street, "4417 SECRETARIAT WAY");
    strcpy(v->owner[0].city, "WENATCHEE");
    strcpy(v->owner[0].state, "WA");
    strcpy(v->owner[0].zip, "98807");
}

static int has(const struct sl_buf *b, const char *s)
{
    return memmem(sl_buf_head(b), sl_buf_used(b), s, strlen(s)) != NULL;
}

/* Values of each class as they would print in either layout. */
static const struct {
    unsigned cls;
    const char *values[7];
} driver_values[] = {
    {SL_DC_BIT(SL_DC_IDENTITY), {"ZABRISKIE", "QUENTINA", "MARGOLIS", NULL}},
    {SL_DC_BIT(SL_DC_ADDRESS), {"SECRETARIAT", "WENATCHEE", "98807", NULL}},
    {SL_DC_BIT(SL_DC_DOB), {"09/26/1971", "19710926", NULL}},
    {SL_DC_BIT(SL_DC_DESCRIPTION), {"HAZ", "143", NULL}},
    {SL_DC_BIT(SL_DC_SSN), {"666123987", NULL}},
    {SL_DC_BIT(SL_DC_LICENSE),
     {"WDLQX7Z9K2PA", "SUSPENDED", "03/14/2021", "20210314", "09/26/2029", "20290926", NULL}},
};

static void check_driver(enum sl_gw_layout lay, unsigned withheld)
{
    struct sl_driver d;
    struct sl_buf b = SL_BUF_INIT;
    make_driver(&d);
    sl_store_driver_redact(&d, withheld);
    sl_gw_format_driver(&b, lay, "WA", "WASHINGTON", &d, withheld);
    sl_gw_format_driver_item(&b, lay, 1, &d, withheld);
    sl_buf_append(&b, "", 1);
    for (size_t i = 0; i < sizeof driver_values / sizeof driver_values[0]; i++) {
        for (int k = 0; driver_values[i].values[k]; k++) {
            const char *val = driver_values[i].values[k];
            /* A date prints in one form per layout: only check the form it uses. */
            int is_text_date = strchr(val, '/') != NULL;
            int is_std_date = strlen(val) == 8 && val[0] >= '0' && val[0] <= '9' &&
                              strchr(val, '/') == NULL && strcmp(val, "98807") != 0;
            if ((is_text_date && lay != SL_GW_LAYOUT_TEXT) ||
                (is_std_date && lay != SL_GW_LAYOUT_STANDARD))
                continue;
            /* list items do not carry addresses, descriptions, SSN or dates */
            if (driver_values[i].cls & withheld) {
                if (has(&b, val))
                    fail_msg("layout %d, withheld 0x%x: '%s' leaked:\n%s", lay, withheld, val,
                             (char *)sl_buf_head(&b));
            } else if (!has(&b, val)) {
                fail_msg("layout %d, withheld 0x%x: '%s' missing:\n%s", lay, withheld, val,
                         (char *)sl_buf_head(&b));
            }
        }
    }
    assert_int_equal(has(&b, "WITHHELD"), withheld != 0);
    sl_buf_free(&b);
}

static void test_driver_every_class(void **state)
{
    (void)state;
    for (int lay = 0; lay <= 1; lay++) {
        check_driver((enum sl_gw_layout)lay, 0);
        for (size_t i = 0; i < sizeof driver_values / sizeof driver_values[0]; i++)
            check_driver((enum sl_gw_layout)lay, driver_values[i].cls);
        check_driver((enum sl_gw_layout)lay, SL_DC_BIT(SL_DC_ADDRESS) | SL_DC_BIT(SL_DC_SSN) | SL_DC_BIT(SL_DC_PHOTO));
    }
}

static void test_driver_standard_tags(void **state)
{
    (void)state;
    struct sl_driver d;
    struct sl_buf b = SL_BUF_INIT;
    make_driver(&d);
    sl_gw_format_driver(&b, SL_GW_LAYOUT_STANDARD, "WA", "WASHINGTON", &d, 0);
    sl_buf_append(&b, "", 1);
    const char *want[] = {"RESPONSE: DRIVER STATUS\n", "JURISDICTION: WA\n",
                          "DL-NUMBER: WDLQX7Z9K2PA\n", "NAME-LAST: ZABRISKIE\n",
                          "BIRTH-DATE: 19710926\n", "SEX: F\n", "HEIGHT: 507\n",
                          "LICENSE-STATUS: SUSPENDED\n", "ENDORSEMENTS: M\n",
                          "NAME-SUFFIX: NONE\n", "EXPIRATION-DATE: 20290926\n", NULL};
    for (int i = 0; want[i]; i++)
        if (!has(&b, want[i]))
            fail_msg("missing %s in\n%s", want[i], (char *)sl_buf_head(&b));
    /* every line is TAG: value */
    for (char *line = (char *)sl_buf_head(&b); *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        char *colon = strstr(line, ": ");
        assert_true(colon && colon < nl);
        for (char *p = line; p < colon; p++)
            assert_true((*p >= 'A' && *p <= 'Z') || *p == '-');
        line = nl + 1;
    }
    sl_buf_free(&b);
}

static void test_history(void **state)
{
    (void)state;
    struct sl_history h[2];
    memset(h, 0, sizeof h);
    h[0].kind = SL_HIST_VIOLATION;
    h[0].date = 20220708;
    strcpy(h[0].code, "S10");
    strcpy(h[0].text, "SPEEDING 1-10 MPH OVER LIMIT");
    h[0].conviction = 20220910;
    h[1].kind = SL_HIST_WITHDRAWAL;
    h[1].date = 20250427;
    strcpy(h[1].code, "SUS");
    strcpy(h[1].text, "FAILURE TO APPEAR OR PAY");
    for (int lay = 0; lay <= 1; lay++) {
        struct sl_buf b = SL_BUF_INIT;
        sl_gw_format_history(&b, (enum sl_gw_layout)lay, h, 2, 2, 0);
        sl_buf_append(&b, "", 1);
        assert_true(has(&b, "SPEEDING 1-10"));
        assert_true(has(&b, "FAILURE TO APPEAR"));
        assert_true(has(&b, lay ? "HISTORY-COUNT: 2" : "HISTORY: 2 EVENTS"));
        sl_buf_free(&b);
        struct sl_history r[2];
        memcpy(r, h, sizeof r);
        sl_store_history_redact(r, 2, SL_DC_BIT(SL_DC_HISTORY));
        sl_buf_init(&b);
        sl_gw_format_history(&b, (enum sl_gw_layout)lay, r, 2, 2, SL_DC_BIT(SL_DC_HISTORY));
        sl_buf_append(&b, "", 1);
        assert_false(has(&b, "SPEEDING"));
        assert_false(has(&b, "S10"));
        assert_true(has(&b, "WITHHELD"));
        sl_buf_free(&b);
    }
}

static void check_vehicle(enum sl_gw_layout lay, unsigned withheld)
{
    struct sl_vehicle v;
    struct sl_buf b = SL_BUF_INIT;
    make_vehicle(&v);
    sl_store_vehicle_redact(&v, withheld);
    sl_gw_format_vehicle(&b, lay, "WA", "WASHINGTON", &v, withheld);
    sl_buf_append(&b, "", 1);
    struct {
        unsigned cls;
        const char *val;
    } vals[] = {{SL_DC_BIT(SL_DC_VEHICLE), "QZX4471"}, {SL_DC_BIT(SL_DC_VEHICLE), "1HGCM82633A004352"},
                {SL_DC_BIT(SL_DC_VEHICLE), "ACCORD"}, {SL_DC_BIT(SL_DC_OWNER), "ZABRISKIE"},
                {SL_DC_BIT(SL_DC_OWNER), "WDLQX7Z9K2PA"}, {SL_DC_BIT(SL_DC_OWNER_ADDRESS), "SECRETARIAT"},
                {SL_DC_BIT(SL_DC_OWNER_ADDRESS), "98807"}};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        int present = has(&b, vals[i].val);
        if ((vals[i].cls & withheld) ? present : !present)
            fail_msg("layout %d withheld 0x%x: '%s' %s:\n%s", lay, withheld, vals[i].val,
                     present ? "leaked" : "missing", (char *)sl_buf_head(&b));
    }
    assert_int_equal(has(&b, "WITHHELD"), withheld != 0);
    sl_buf_free(&b);
    /* list item */
    make_vehicle(&v);
    sl_store_vehicle_redact(&v, withheld);
    sl_buf_init(&b);
    sl_gw_format_vehicle_item(&b, lay, 1, &v, withheld);
    sl_buf_append(&b, "", 1);
    assert_int_equal(has(&b, "QZX4471"), !(withheld & SL_DC_BIT(SL_DC_VEHICLE)));
    assert_int_equal(has(&b, "ZABRISKIE"), !(withheld & SL_DC_BIT(SL_DC_OWNER)));
    sl_buf_free(&b);
}

static void test_vehicle_every_class(void **state)
{
    (void)state;
    for (int lay = 0; lay <= 1; lay++) {
        check_vehicle((enum sl_gw_layout)lay, 0);
        check_vehicle((enum sl_gw_layout)lay, SL_DC_BIT(SL_DC_VEHICLE));
        check_vehicle((enum sl_gw_layout)lay, SL_DC_BIT(SL_DC_OWNER));
        check_vehicle((enum sl_gw_layout)lay, SL_DC_BIT(SL_DC_OWNER_ADDRESS));
        check_vehicle((enum sl_gw_layout)lay, SL_DC_BIT(SL_DC_OWNER) | SL_DC_BIT(SL_DC_OWNER_ADDRESS));
    }
}

static void test_layout_for(void **state)
{
    (void)state;
    struct sl_gw_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.layout = SL_GW_LAYOUT_TEXT;
    strcpy(cfg.standard_for, "CA NYSP00000");
    assert_int_equal(sl_gw_layout_for(&cfg, "CASP00000", "CA"), SL_GW_LAYOUT_STANDARD);
    assert_int_equal(sl_gw_layout_for(&cfg, "NYSP00000", "NY"), SL_GW_LAYOUT_STANDARD);
    assert_int_equal(sl_gw_layout_for(&cfg, "NYSP00001", "NY"), SL_GW_LAYOUT_TEXT);
    assert_int_equal(sl_gw_layout_for(&cfg, "WA0010200", "WA"), SL_GW_LAYOUT_TEXT);
    cfg.layout = SL_GW_LAYOUT_STANDARD;
    assert_int_equal(sl_gw_layout_for(&cfg, "WA0010200", "WA"), SL_GW_LAYOUT_STANDARD);
}

/* Every formatter, both layouts, three redactions: the bytes a reply carries. */
static void render_all(struct sl_buf *b)
{
    static const unsigned ws[3] = {0, SL_DC_BIT(SL_DC_SSN) | SL_DC_BIT(SL_DC_PHOTO),
                                   SL_DC_BIT(SL_DC_OWNER_ADDRESS) | SL_DC_BIT(SL_DC_DOB)};
    for (int lay = 0; lay <= 1; lay++) {
        for (int k = 0; k < 3; k++) {
            unsigned w = ws[k];
            struct sl_driver d;
            make_driver(&d);
            strcpy(d.suffix, "JR");
            sl_store_driver_redact(&d, w);
            sl_gw_format_driver(b, (enum sl_gw_layout)lay, "WA", "WASHINGTON", &d, w);
            sl_gw_format_driver_item(b, (enum sl_gw_layout)lay, 3, &d, w);
            struct sl_history h[3];
            memset(h, 0, sizeof h);
            h[0].kind = SL_HIST_VIOLATION;
            h[0].date = 20220708;
            strcpy(h[0].code, "S10");
            strcpy(h[0].text, "SPEEDING 1-10 MPH OVER LIMIT");
            h[0].conviction = 20220910;
            h[1].kind = SL_HIST_WITHDRAWAL;
            h[1].date = 20250427;
            h[1].ends = 20260101;
            strcpy(h[1].code, "SUS");
            strcpy(h[1].text, "FAILURE TO APPEAR OR PAY");
            h[2].kind = SL_HIST_WITHDRAWAL;
            h[2].date = 20250501;
            strcpy(h[2].code, "REV");
            sl_gw_format_history(b, (enum sl_gw_layout)lay, h, 3, 12, w);
            struct sl_vehicle v;
            make_vehicle(&v);
            v.n_owners = 2;
            v.owner[1] = v.owner[0];
            strcpy(v.owner[1].first, "ARCHIBALD");
            strcpy(v.owner[1].middle, "P");
            strcpy(v.owner[1].suffix, "III");
            v.owner[1].dob = 0;
            v.owner[1].oln[0] = 0;
            sl_store_vehicle_redact(&v, w);
            sl_gw_format_vehicle(b, (enum sl_gw_layout)lay, "WA", "WASHINGTON", &v, w);
            sl_gw_format_vehicle_item(b, (enum sl_gw_layout)lay, 12, &v, w);
            v.year = 0;
            v.plate_year = 0;
            v.n_owners = 0;
            sl_gw_format_vehicle(b, (enum sl_gw_layout)lay, "WA", "WASHINGTON", &v, w);
            sl_gw_format_vehicle_item(b, (enum sl_gw_layout)lay, 100, &v, w);
        }
    }
}

#include "layout_golden.inc"

/* Byte for byte what the layouts printed before they had their own formatter (glibc's
 * printf then): every field, both layouts, redacted and not, dates and numbers of every
 * width, empty values (NONE), two owners with a middle name and a suffix. */
/* Dates are written digit by digit up to year 9999 and by the formatter past it: both
 * print what printf's "%02d/%02d/%04d" and "%08d" print. */
static void test_date_shapes(void **state)
{
    (void)state;
    static const int32_t dates[] = {1, 101, 10101, 990101, 10000101, 19800521, 20291231,
                                    99991231, 99999999, 100000101, 2147483647};
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        struct sl_driver d;
        make_driver(&d);
        d.dob = dates[i];
        char want[64];
        for (int lay = 0; lay < 2; lay++) {
            struct sl_buf b = SL_BUF_INIT;
            sl_gw_format_driver(&b, lay ? SL_GW_LAYOUT_STANDARD : SL_GW_LAYOUT_TEXT, "WA",
                                "WASHINGTON", &d, 0);
            sl_buf_append(&b, "", 1);
            if (lay)
                snprintf(want, sizeof want, "BIRTH-DATE: %08d\n", (int)dates[i]);
            else
                snprintf(want, sizeof want, "DOB: %02d/%02d/%04d ", (int)(dates[i] / 100 % 100),
                         (int)(dates[i] % 100), (int)(dates[i] / 10000));
            if (!has(&b, want))
                fail_msg("date %d, layout %d: '%s' missing:\n%s", (int)dates[i], lay, want,
                         (char *)sl_buf_head(&b));
            sl_buf_free(&b);
        }
    }
}

static void test_bytes_unchanged(void **state)
{
    (void)state;
    struct sl_buf b = SL_BUF_INIT;
    render_all(&b);
    size_t n = sl_buf_used(&b), want = strlen(layout_golden);
    const char *p = (const char *)sl_buf_head(&b);
    size_t i = 0;
    while (i < n && i < want && p[i] == layout_golden[i])
        i++;
    if (i != n || i != want) {
        size_t from = i > 60 ? i - 60 : 0;
        fail_msg("layouts differ at byte %zu of %zu (golden %zu):\n...%.*s\n--- golden:\n...%.*s",
                 i, n, want, (int)(n - from > 120 ? 120 : n - from), p + from,
                 (int)(want - from > 120 ? 120 : want - from), layout_golden + from);
    }
    sl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_driver_every_class), cmocka_unit_test(test_driver_standard_tags),
        cmocka_unit_test(test_history),            cmocka_unit_test(test_vehicle_every_class),
        cmocka_unit_test(test_layout_for),         cmocka_unit_test(test_bytes_unchanged),
        cmocka_unit_test(test_date_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
