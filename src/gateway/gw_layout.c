/*
 * gw_layout.c - the two reply layouts of a state's gateway (docs/gateway.md §3).
 *
 * TEXT (readable free text, the default): a title line naming the state and the record,
 * then lines of "LABEL: value" pairs grouped as a dispatcher reads them, dates as
 * MM/DD/CCYY, heights as F-II.
 *
 * STANDARD: the fields of an AAMVA driver status / registration response (CDLIS / CANDLE
 * style), one "TAG: value" per line, always the same tags in the same order, dates as
 * CCYYMMDD, so a receiving switch can parse it without guessing.
 *
 * In both, a field whose data class the policy withheld reads WITHHELD: the record has
 * already been blanked by sl_store_*_redact, and these functions decide by the field's
 * class (sl_store_field_class), never by its value.  An empty field reads NONE.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "stateline/core.h"
#include "stateline/store.h"

#define WITHHELD "WITHHELD"

/*
 * The layouts' own formatter: %s, %d and %0Nd / %Nd (and %%), which is every conversion
 * this file uses, with printf's meaning (the format attribute has the compiler check the
 * arguments as printf's).  Every reply is one to thirty formatted lines; glibc's
 * vsnprintf, with its locale and its general parser, was about half of the cost of
 * formatting a record (2-5 us per reply, measured), this a small part of it.
 * Writes at most cap - 1 bytes and a NUL (cap > 0); returns the length the whole text
 * needs, as vsnprintf does.
 */
static size_t lay_vfmt(char *dst, size_t cap, const char *fmt, va_list ap)
{
    size_t n = 0;
#define PUT(ch) do { if (n + 1 < cap) dst[n] = (ch); n++; } while (0)
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            PUT(*f);
            continue;
        }
        f++;
        if (*f == '%') {
            PUT('%');
            continue;
        }
        if (*f == 's') {
            for (const char *v = va_arg(ap, const char *); *v; v++)
                PUT(*v);
            continue;
        }
        int zero = *f == '0', width = 0;
        if (zero)
            f++;
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        if (*f != 'd')
            abort(); /* a conversion this formatter does not have: a bug in this file */
        int v = va_arg(ap, int);
        unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
        char digits[24];
        int nd = 0;
        do {
            digits[nd++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        int len = nd + (v < 0), pad = width > len ? width - len : 0;
        if (!zero)
            while (pad-- > 0)
                PUT(' ');
        if (v < 0)
            PUT('-');
        if (zero)
            while (pad-- > 0)
                PUT('0');
        while (nd > 0)
            PUT(digits[--nd]);
    }
#undef PUT
    if (cap)
        dst[n < cap ? n : cap - 1] = '\0';
    return n;
}

__attribute__((format(printf, 3, 4))) static size_t lay_snprintf(char *dst, size_t cap,
                                                                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = lay_vfmt(dst, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* Append formatted text to o (as sl_buf_printf). */
__attribute__((format(printf, 2, 3))) static void lay_printf(struct sl_buf *o, const char *fmt,
                                                             ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    char small[256];
    size_t n = lay_vfmt(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < sizeof small) {
        sl_buf_append(o, small, n);
    } else {
        uint8_t *dst = sl_buf_reserve(o, n + 1);
        lay_vfmt((char *)dst, n + 1, fmt, ap2);
        sl_buf_commit(o, n);
    }
    va_end(ap2);
}

static int hidden(const char *rec, const char *field, unsigned withheld)
{
    /* Most replies withhold nothing: no look-up of the field's class (a scan of the
     * class table by name, ~20 per record formatted) then. */
    if (!withheld)
        return 0;
    int c = sl_store_field_class(rec, field);
    return c >= 0 && (SL_DC_BIT(c) & withheld) != 0;
}

/* The value of a string field: WITHHELD, NONE or the value. */
static const char *sv(const char *rec, const char *field, unsigned withheld, const char *v)
{
    if (hidden(rec, field, withheld))
        return WITHHELD;
    return v && v[0] ? v : "NONE";
}

/* The dates of a record: three to six a reply, a formatter call each (~640
 * instructions) before these wrote the digits of a date up to year 9999 directly (~60);
 * the bytes are the same ("%02d/%02d/%04d", "%08d"). */
static const char *date_text(int32_t ymd, char *buf, size_t len)
{
    if (ymd <= 0)
        return "NONE";
    if (ymd <= 99999999 && len >= 11) {
        int m = ymd / 100 % 100, d = ymd % 100, y = ymd / 10000;
        buf[0] = (char)('0' + m / 10);
        buf[1] = (char)('0' + m % 10);
        buf[2] = '/';
        buf[3] = (char)('0' + d / 10);
        buf[4] = (char)('0' + d % 10);
        buf[5] = '/';
        buf[6] = (char)('0' + y / 1000);
        buf[7] = (char)('0' + y / 100 % 10);
        buf[8] = (char)('0' + y / 10 % 10);
        buf[9] = (char)('0' + y % 10);
        buf[10] = '\0';
        return buf;
    }
    lay_snprintf(buf, len, "%02d/%02d/%04d", (int)(ymd / 100 % 100), (int)(ymd % 100),
             (int)(ymd / 10000));
    return buf;
}

static const char *date_std(int32_t ymd, char *buf, size_t len)
{
    if (ymd <= 0)
        return "NONE";
    if (ymd <= 99999999 && len >= 9) {
        int32_t v = ymd;
        for (int i = 7; i >= 0; i--) {
            buf[i] = (char)('0' + v % 10);
            v /= 10;
        }
        buf[8] = '\0';
        return buf;
    }
    lay_snprintf(buf, len, "%08d", (int)ymd);
    return buf;
}

/* A date field in the layout's form. */
static const char *dv(enum sl_gw_layout lay, const char *rec, const char *field,
                      unsigned withheld, int32_t ymd, char *buf, size_t len)
{
    if (hidden(rec, field, withheld))
        return WITHHELD;
    return lay == SL_GW_LAYOUT_TEXT ? date_text(ymd, buf, len) : date_std(ymd, buf, len);
}

/* "LAST, FIRST MIDDLE SUFFIX" */
static void full_name(char *out, size_t len, const char *last, const char *first,
                      const char *middle, const char *suffix)
{
    lay_snprintf(out, len, "%s, %s%s%s%s%s", last, first, middle[0] ? " " : "", middle,
             suffix[0] ? " " : "", suffix);
}

static void address(char *out, size_t len, const char *street, const char *city,
                    const char *state, const char *zip)
{
    lay_snprintf(out, len, "%s, %s, %s %s", street, city, state, zip);
}

void sl_gw_format_driver(struct sl_buf *o, enum sl_gw_layout lay, const char *state,
                         const char *state_name, const struct sl_driver *d, unsigned withheld)
{
    char b1[32], b2[32], b3[32], line[200];
    const unsigned w = withheld;
    if (lay == SL_GW_LAYOUT_TEXT) {
        lay_printf(o, "%s DRIVER LICENSE\n", state_name);
        if (hidden("driver", "last", w))
            lay_printf(o, "NAME: %s\n", WITHHELD);
        else {
            full_name(line, sizeof line, d->last, d->first, d->middle, d->suffix);
            lay_printf(o, "NAME: %s\n", line);
        }
        lay_printf(o, "DOB: %s   SEX: %s\n",
                      dv(lay, "driver", "dob", w, d->dob, b1, sizeof b1),
                      hidden("driver", "sex", w) ? WITHHELD : (char[]){d->sex, 0});
        if (hidden("driver", "street", w))
            lay_printf(o, "ADDRESS: %s\n", WITHHELD);
        else {
            address(line, sizeof line, d->street, d->city, d->state, d->zip);
            lay_printf(o, "ADDRESS: %s\n", line);
        }
        if (hidden("driver", "height_in", w))
            lay_printf(o, "HGT: %s   WGT: %s   EYES: %s   HAIR: %s\n", WITHHELD, WITHHELD,
                          WITHHELD, WITHHELD);
        else
            lay_printf(o, "HGT: %d-%02d   WGT: %d   EYES: %s   HAIR: %s\n",
                          d->height_in / 12, d->height_in % 12, d->weight_lb,
                          sv("driver", "eyes", w, d->eyes), sv("driver", "hair", w, d->hair));
        lay_printf(o, "OLN: %s   STATE: %s\n", sv("driver", "oln", w, d->oln), state);
        lay_printf(o, "CLASS: %s   STATUS: %s\n", sv("driver", "lic_class", w, d->lic_class),
                      sv("driver", "status", w, d->status));
        lay_printf(o, "ISSUED: %s   EXPIRES: %s\n",
                      dv(lay, "driver", "issued", w, d->issued, b2, sizeof b2),
                      dv(lay, "driver", "expires", w, d->expires, b3, sizeof b3));
        lay_printf(o, "ENDORSEMENTS: %s   RESTRICTIONS: %s\n",
                      sv("driver", "endorsements", w, d->endorsements),
                      sv("driver", "restrictions", w, d->restrictions));
        lay_printf(o, "SSN: %s\n", sv("driver", "ssn", w, d->ssn));
        return;
    }
    char hgt[16] = "NONE", wgt[16] = "NONE";
    if (d->height_in > 0)
        lay_snprintf(hgt, sizeof hgt, "%d%02d", d->height_in / 12, d->height_in % 12);
    if (d->weight_lb > 0)
        lay_snprintf(wgt, sizeof wgt, "%d", d->weight_lb);
    lay_printf(o, "RESPONSE: DRIVER STATUS\nJURISDICTION: %s\n", state);
    lay_printf(o, "DL-NUMBER: %s\n", sv("driver", "oln", w, d->oln));
    lay_printf(o, "NAME-LAST: %s\n", sv("driver", "last", w, d->last));
    lay_printf(o, "NAME-FIRST: %s\n", sv("driver", "first", w, d->first));
    lay_printf(o, "NAME-MIDDLE: %s\n", sv("driver", "middle", w, d->middle));
    lay_printf(o, "NAME-SUFFIX: %s\n", sv("driver", "suffix", w, d->suffix));
    lay_printf(o, "BIRTH-DATE: %s\n", dv(lay, "driver", "dob", w, d->dob, b1, sizeof b1));
    lay_printf(o, "SEX: %s\n", hidden("driver", "sex", w) ? WITHHELD
                                  : d->sex ? (char[]){d->sex, 0} : "NONE");
    lay_printf(o, "ADDRESS-STREET: %s\n", sv("driver", "street", w, d->street));
    lay_printf(o, "ADDRESS-CITY: %s\n", sv("driver", "city", w, d->city));
    lay_printf(o, "ADDRESS-STATE: %s\n", sv("driver", "state", w, d->state));
    lay_printf(o, "ADDRESS-ZIP: %s\n", sv("driver", "zip", w, d->zip));
    lay_printf(o, "HEIGHT: %s\n", sv("driver", "height_in", w, hgt));
    lay_printf(o, "WEIGHT: %s\n", sv("driver", "weight_lb", w, wgt));
    lay_printf(o, "EYE-COLOR: %s\n", sv("driver", "eyes", w, d->eyes));
    lay_printf(o, "HAIR-COLOR: %s\n", sv("driver", "hair", w, d->hair));
    lay_printf(o, "LICENSE-CLASS: %s\n", sv("driver", "lic_class", w, d->lic_class));
    lay_printf(o, "ENDORSEMENTS: %s\n", sv("driver", "endorsements", w, d->endorsements));
    lay_printf(o, "RESTRICTIONS: %s\n", sv("driver", "restrictions", w, d->restrictions));
    lay_printf(o, "LICENSE-STATUS: %s\n", sv("driver", "status", w, d->status));
    lay_printf(o, "ISSUE-DATE: %s\n", dv(lay, "driver", "issued", w, d->issued, b2, sizeof b2));
    lay_printf(o, "EXPIRATION-DATE: %s\n",
                  dv(lay, "driver", "expires", w, d->expires, b3, sizeof b3));
    lay_printf(o, "SSN: %s\n", sv("driver", "ssn", w, d->ssn));
}

void sl_gw_format_history(struct sl_buf *o, enum sl_gw_layout lay, const struct sl_history *h,
                          int n, int total, unsigned withheld)
{
    char b1[32], b2[32], b3[32];
    const unsigned w = withheld;
    int hide = hidden("history", "kind", w);
    if (lay == SL_GW_LAYOUT_TEXT) {
        if (hide) {
            lay_printf(o, "HISTORY: %s\n", WITHHELD);
            return;
        }
        if (total == 0) {
            sl_buf_append_str(o, "HISTORY: NONE ON FILE\n");
            return;
        }
        lay_printf(o, "HISTORY: %d EVENT%s%s\n", total, total == 1 ? "" : "S",
                      n < total ? " (FIRST ONES LISTED)" : "");
        for (int i = 0; i < n; i++) {
            const struct sl_history *e = &h[i];
            if (e->kind == SL_HIST_WITHDRAWAL)
                lay_printf(o, "%02d WITHDRAWAL %s FROM %s TO %s  %s\n", i + 1, e->code,
                              date_text(e->date, b1, sizeof b1),
                              e->ends ? date_text(e->ends, b2, sizeof b2) : "INDEFINITE",
                              e->text);
            else
                lay_printf(o, "%02d VIOLATION %s ON %s  %s  CONVICTED %s\n", i + 1,
                              e->code, date_text(e->date, b1, sizeof b1), e->text,
                              date_text(e->conviction, b3, sizeof b3));
        }
        return;
    }
    if (hide) {
        lay_printf(o, "HISTORY-COUNT: %s\n", WITHHELD);
        return;
    }
    lay_printf(o, "HISTORY-COUNT: %d\n", total);
    for (int i = 0; i < n; i++) {
        const struct sl_history *e = &h[i];
        lay_printf(o, "EVENT: %d\nEVENT-TYPE: %s\nEVENT-DATE: %s\nEVENT-CODE: %s\n"
                      "EVENT-TEXT: %s\nCONVICTION-DATE: %s\nEND-DATE: %s\n", i + 1,
                      e->kind == SL_HIST_WITHDRAWAL ? "WITHDRAWAL" : "VIOLATION",
                      date_std(e->date, b1, sizeof b1), e->code[0] ? e->code : "NONE",
                      e->text[0] ? e->text : "NONE", date_std(e->conviction, b2, sizeof b2),
                      date_std(e->ends, b3, sizeof b3));
    }
}

static void owner_text(struct sl_buf *o, const struct sl_owner *ow, int seq, unsigned w)
{
    char line[200], b1[32];
    const char *what = seq == 0 ? "OWNER" : "CO-OWNER";
    if (hidden("owner", "last", w)) {
        lay_printf(o, "%s: %s\n", what, WITHHELD);
    } else {
        full_name(line, sizeof line, ow->last, ow->first, ow->middle, ow->suffix);
        lay_printf(o, "%s: %s   DOB: %s   OLN: %s\n", what, line,
                      date_text(ow->dob, b1, sizeof b1), ow->oln[0] ? ow->oln : "NONE");
    }
    if (hidden("owner", "street", w)) {
        lay_printf(o, "%s ADDRESS: %s\n", what, WITHHELD);
    } else {
        address(line, sizeof line, ow->street, ow->city, ow->state, ow->zip);
        lay_printf(o, "%s ADDRESS: %s\n", what, line);
    }
}

static void owner_std(struct sl_buf *o, const struct sl_owner *ow, int seq, unsigned w)
{
    char b1[32];
    lay_printf(o, "OWNER: %d\n", seq + 1);
    lay_printf(o, "OWNER-NAME-LAST: %s\n", sv("owner", "last", w, ow->last));
    lay_printf(o, "OWNER-NAME-FIRST: %s\n", sv("owner", "first", w, ow->first));
    lay_printf(o, "OWNER-NAME-MIDDLE: %s\n", sv("owner", "middle", w, ow->middle));
    lay_printf(o, "OWNER-NAME-SUFFIX: %s\n", sv("owner", "suffix", w, ow->suffix));
    lay_printf(o, "OWNER-BIRTH-DATE: %s\n",
                  dv(SL_GW_LAYOUT_STANDARD, "owner", "dob", w, ow->dob, b1, sizeof b1));
    lay_printf(o, "OWNER-DL-NUMBER: %s\n", sv("owner", "oln", w, ow->oln));
    lay_printf(o, "OWNER-ADDRESS-STREET: %s\n", sv("owner", "street", w, ow->street));
    lay_printf(o, "OWNER-ADDRESS-CITY: %s\n", sv("owner", "city", w, ow->city));
    lay_printf(o, "OWNER-ADDRESS-STATE: %s\n", sv("owner", "state", w, ow->state));
    lay_printf(o, "OWNER-ADDRESS-ZIP: %s\n", sv("owner", "zip", w, ow->zip));
}

void sl_gw_format_vehicle(struct sl_buf *o, enum sl_gw_layout lay, const char *state,
                          const char *state_name, const struct sl_vehicle *v,
                          unsigned withheld)
{
    char b1[32], num[16];
    const unsigned w = withheld;
    int n_owners = v->n_owners < 0 ? 0 : v->n_owners > 2 ? 2 : v->n_owners;
    if (lay == SL_GW_LAYOUT_TEXT) {
        lay_printf(o, "%s VEHICLE REGISTRATION\n", state_name);
        if (hidden("vehicle", "plate", w)) {
            lay_printf(o, "VEHICLE: %s\n", WITHHELD);
        } else {
            lay_printf(o, "LIC: %s   LIY: %d   LIT: %s   REG EXPIRES: %s\n", v->plate,
                          v->plate_year, v->plate_type[0] ? v->plate_type : "NONE",
                          date_text(v->reg_expires, b1, sizeof b1));
            lay_printf(o, "VIN: %s\n", v->vin[0] ? v->vin : "NONE");
            lay_printf(o, "VYR: %d   VMA: %s   VMO: %s   VST: %s   VCO: %s\n", v->year,
                          v->make, v->model, v->style, v->colour);
        }
        for (int i = 0; i < n_owners; i++)
            owner_text(o, &v->owner[i], i, w);
        return;
    }
    lay_printf(o, "RESPONSE: REGISTRATION\nJURISDICTION: %s\n", state);
    lay_printf(o, "PLATE-NUMBER: %s\n", sv("vehicle", "plate", w, v->plate));
    lay_snprintf(num, sizeof num, "%d", v->plate_year);
    lay_printf(o, "PLATE-YEAR: %s\n", sv("vehicle", "plate_year", w, v->plate_year ? num : ""));
    lay_printf(o, "PLATE-TYPE: %s\n", sv("vehicle", "plate_type", w, v->plate_type));
    lay_printf(o, "REGISTRATION-EXPIRATION-DATE: %s\n",
                  dv(lay, "vehicle", "reg_expires", w, v->reg_expires, b1, sizeof b1));
    lay_printf(o, "VIN: %s\n", sv("vehicle", "vin", w, v->vin));
    lay_snprintf(num, sizeof num, "%d", v->year);
    lay_printf(o, "VEHICLE-YEAR: %s\n", sv("vehicle", "year", w, v->year ? num : ""));
    lay_printf(o, "VEHICLE-MAKE: %s\n", sv("vehicle", "make", w, v->make));
    lay_printf(o, "VEHICLE-MODEL: %s\n", sv("vehicle", "model", w, v->model));
    lay_printf(o, "VEHICLE-STYLE: %s\n", sv("vehicle", "style", w, v->style));
    lay_printf(o, "VEHICLE-COLOR: %s\n", sv("vehicle", "colour", w, v->colour));
    lay_printf(o, "OWNER-COUNT: %d\n", n_owners);
    for (int i = 0; i < n_owners; i++)
        owner_std(o, &v->owner[i], i, w);
}

void sl_gw_format_driver_item(struct sl_buf *o, enum sl_gw_layout lay, int n,
                              const struct sl_driver *d, unsigned withheld)
{
    char b1[32], name[160];
    const unsigned w = withheld;
    if (lay == SL_GW_LAYOUT_TEXT) {
        if (hidden("driver", "last", w))
            sl_strlcpy(name, WITHHELD, sizeof name);
        else
            full_name(name, sizeof name, d->last, d->first, d->middle, d->suffix);
        lay_printf(o, "%02d %s   DOB: %s   SEX: %s   OLN: %s   STATUS: %s\n", n, name,
                      dv(lay, "driver", "dob", w, d->dob, b1, sizeof b1),
                      hidden("driver", "sex", w) ? WITHHELD : (char[]){d->sex, 0},
                      sv("driver", "oln", w, d->oln), sv("driver", "status", w, d->status));
        return;
    }
    lay_printf(o, "REC: %d\n", n);
    lay_printf(o, "DL-NUMBER: %s\n", sv("driver", "oln", w, d->oln));
    lay_printf(o, "NAME-LAST: %s\n", sv("driver", "last", w, d->last));
    lay_printf(o, "NAME-FIRST: %s\n", sv("driver", "first", w, d->first));
    lay_printf(o, "NAME-MIDDLE: %s\n", sv("driver", "middle", w, d->middle));
    lay_printf(o, "BIRTH-DATE: %s\n", dv(lay, "driver", "dob", w, d->dob, b1, sizeof b1));
    lay_printf(o, "SEX: %s\n", hidden("driver", "sex", w) ? WITHHELD
                                  : d->sex ? (char[]){d->sex, 0} : "NONE");
    lay_printf(o, "LICENSE-STATUS: %s\n", sv("driver", "status", w, d->status));
}

void sl_gw_format_vehicle_item(struct sl_buf *o, enum sl_gw_layout lay, int n,
                               const struct sl_vehicle *v, unsigned withheld)
{
    char name[160], num[16];
    const unsigned w = withheld;
    const struct sl_owner *ow = &v->owner[0];
    if (hidden("owner", "last", w) || v->n_owners < 1)
        sl_strlcpy(name, v->n_owners < 1 ? "NONE" : WITHHELD, sizeof name);
    else
        full_name(name, sizeof name, ow->last, ow->first, ow->middle, ow->suffix);
    if (lay == SL_GW_LAYOUT_TEXT) {
        if (hidden("vehicle", "plate", w))
            lay_printf(o, "%02d VEHICLE: %s   OWNER: %s\n", n, WITHHELD, name);
        else
            lay_printf(o, "%02d LIC: %s %d %s   %d %s %s %s   VIN: %s   OWNER: %s\n", n,
                          v->plate, v->plate_year, v->plate_type, v->year, v->make, v->model,
                          v->colour, v->vin, name);
        return;
    }
    lay_printf(o, "REC: %d\n", n);
    lay_printf(o, "PLATE-NUMBER: %s\n", sv("vehicle", "plate", w, v->plate));
    lay_snprintf(num, sizeof num, "%d", v->plate_year);
    lay_printf(o, "PLATE-YEAR: %s\n", sv("vehicle", "plate_year", w, num));
    lay_printf(o, "PLATE-TYPE: %s\n", sv("vehicle", "plate_type", w, v->plate_type));
    lay_printf(o, "VIN: %s\n", sv("vehicle", "vin", w, v->vin));
    lay_snprintf(num, sizeof num, "%d", v->year);
    lay_printf(o, "VEHICLE-YEAR: %s\n", sv("vehicle", "year", w, num));
    lay_printf(o, "VEHICLE-MAKE: %s\n", sv("vehicle", "make", w, v->make));
    lay_printf(o, "VEHICLE-MODEL: %s\n", sv("vehicle", "model", w, v->model));
    lay_printf(o, "OWNER-NAME: %s\n", name);
}
