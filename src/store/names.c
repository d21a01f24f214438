/*
 * names.c - the parts of the store that need no database: name, DOB, licence-number
 * and plate canonical forms, partial-plate pattern checks, the data-class table and
 * redaction, and the schema text (store.h; rules in docs/records.md).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "stateline/core.h"
#include "stateline/store.h"

/* ---- schema --------------------------------------------------------------------------- */
static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;\n"
    "CREATE TABLE driver(\n"
    "  id INTEGER PRIMARY KEY, oln TEXT NOT NULL,\n"
    "  last TEXT NOT NULL, first TEXT NOT NULL, middle TEXT NOT NULL, suffix TEXT NOT NULL,\n"
    "  pair_key TEXT NOT NULL, dob INTEGER NOT NULL, sex TEXT NOT NULL,\n"
    "  street TEXT, city TEXT, state TEXT, zip TEXT,\n"
    "  height INTEGER, weight INTEGER, eyes TEXT, hair TEXT,\n"
    "  class TEXT, endorsements TEXT, restrictions TEXT, status TEXT,\n"
    "  issued INTEGER, expires INTEGER, ssn TEXT);\n"
    "CREATE TABLE history(driver_id INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,\n"
    "  date INTEGER, code TEXT, text TEXT, conviction INTEGER, ends INTEGER,\n"
    "  PRIMARY KEY(driver_id, seq)) WITHOUT ROWID;\n"
    "CREATE TABLE vehicle(id INTEGER PRIMARY KEY, plate TEXT NOT NULL, plate_year INTEGER,\n"
    "  plate_type TEXT, vin TEXT NOT NULL, make TEXT, model TEXT, year INTEGER, colour TEXT,\n"
    "  style TEXT, reg_expires INTEGER);\n"
    "CREATE TABLE owner(vehicle_id INTEGER NOT NULL, seq INTEGER NOT NULL,\n"
    "  driver_id INTEGER NOT NULL, PRIMARY KEY(vehicle_id, seq)) WITHOUT ROWID;\n";

static const char index_sql[] =
    "CREATE UNIQUE INDEX driver_oln ON driver(oln);\n"
    /* covering for name look-ups: the middle/suffix filter needs no table read */
    "CREATE INDEX driver_name ON driver(pair_key, dob, sex, middle, suffix);\n"
    "CREATE INDEX vehicle_plate ON vehicle(plate, plate_type, plate_year);\n"
    "CREATE UNIQUE INDEX vehicle_vin ON vehicle(vin);\n"
    "CREATE INDEX vehicle_vin8 ON vehicle(substr(vin, 10));\n"
    "CREATE INDEX owner_driver ON owner(driver_id);\n";

/* The partial-plate (RPQ) index: optional, because RPQ is opt-in per state and this
 * index is most of the build time (docs/performance.md). */
static const char plate_index_sql[] =
    "CREATE VIRTUAL TABLE plate_fts USING fts5(plate, tokenize='trigram', detail='none', columnsize=0,\n"
    "  content='vehicle', content_rowid='id');\n"
    "INSERT INTO plate_fts(plate_fts) VALUES('rebuild');\n";

const char *sl_store_schema_sql(void) { return schema_sql; }
const char *sl_store_index_sql(void) { return index_sql; }
const char *sl_store_plate_index_sql(void) { return plate_index_sql; }

/* ---- names ------------------------------------------------------------------------------ */
size_t sl_store_name_norm(const char *s, char *out, size_t outlen)
{
    size_t n = 0;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) && c < 0x80 && n + 1 < outlen)
            out[n++] = (char)toupper(c);
    }
    if (outlen)
        out[n] = 0;
    return n;
}

void sl_store_pair_key(const char *last, const char *first, char *out, size_t outlen)
{
    char a[40], b[40];
    sl_store_name_norm(last, a, sizeof a);
    sl_store_name_norm(first, b, sizeof b);
    if (strcmp(a, b) > 0)
        snprintf(out, outlen, "%s %s", b, a);
    else
        snprintf(out, outlen, "%s %s", a, b);
}

static int is_suffix(const char *t)
{
    static const char *const s[] = {"JR", "SR", "II", "III", "IV", "V", "2ND", "3RD", NULL};
    for (int i = 0; s[i]; i++)
        if (strcmp(t, s[i]) == 0)
            return 1;
    return 0;
}

static int is_title(const char *t)
{
    static const char *const s[] = {"MR", "MRS", "MS", "MISS", "DR", "REV", "PHD", "MD",
                                    "ESQ", "DDS", NULL};
    for (int i = 0; s[i]; i++)
        if (strcmp(t, s[i]) == 0)
            return 1;
    return 0;
}

/* Split s into normalised tokens at spaces, periods and commas; tokens that normalise
 * to nothing are skipped.  Returns the count, -1 if a token is too long or too many. */
static int tokens(const char *s, char tok[][32], int max)
{
    int n = 0;
    while (*s) {
        while (*s && (isspace((unsigned char)*s) || *s == '.' || *s == ','))
            s++;
        if (!*s)
            break;
        const char *b = s;
        while (*s && !(isspace((unsigned char)*s) || *s == '.' || *s == ','))
            s++;
        char raw[128];
        size_t len = (size_t)(s - b);
        if (len >= sizeof raw)
            return -1;
        memcpy(raw, b, len);
        raw[len] = 0;
        char t[64];
        size_t tl = sl_store_name_norm(raw, t, sizeof t);
        if (tl == 0)
            continue;
        if (tl >= 32 || n >= max)
            return -1;
        memcpy(tok[n++], t, tl + 1);
    }
    return n;
}

int sl_store_name_parse(const char *s, struct sl_name *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!s) {
        snprintf(err, errlen, "no name");
        return -1;
    }
    char tok[SL_NAME_MAX_PARTS + 4][32];
    int n;
    const char *comma = strchr(s, ',');
    if (comma) {
        /* NCIC: LAST,FIRST MIDDLE SUFFIX.  The surname is everything before the comma,
         * its spaces and punctuation dropped (DE LA CRUZ = DELACRUZ); a suffix typed
         * after the surname (SMITH JR,JOHN) is accepted too. */
        out->has_comma = 1;
        char lastbuf[128];
        size_t ll = (size_t)(comma - s);
        if (ll >= sizeof lastbuf) {
            snprintf(err, errlen, "surname too long");
            return -1;
        }
        memcpy(lastbuf, s, ll);
        lastbuf[ll] = 0;
        char lt[SL_NAME_MAX_PARTS][32];
        int nl = tokens(lastbuf, lt, SL_NAME_MAX_PARTS);
        if (nl < 0) {
            snprintf(err, errlen, "surname too long");
            return -1;
        }
        if (nl >= 2 && is_suffix(lt[nl - 1]))
            sl_strlcpy(out->suffix, lt[--nl], sizeof out->suffix);
        char joined[64] = "";
        for (int i = 0; i < nl; i++)
            if (strlen(joined) + strlen(lt[i]) < 32)
                strcat(joined, lt[i]);
            else {
                snprintf(err, errlen, "surname too long");
                return -1;
            }
        n = tokens(comma + 1, tok, SL_NAME_MAX_PARTS + 3);
        if (n < 0) {
            snprintf(err, errlen, "too many or too long name parts");
            return -1;
        }
        if (!joined[0] || n < 1) {
            snprintf(err, errlen, "need LAST,FIRST: %s is missing",
                     !joined[0] ? "the surname" : "the given name");
            return -1;
        }
        while (n > 1 && is_title(tok[0]))
            memmove(tok[0], tok[1], sizeof tok[0] * (size_t)--n);
        if (n >= 2 && is_suffix(tok[n - 1]) && !out->suffix[0])
            sl_strlcpy(out->suffix, tok[--n], sizeof out->suffix);
        while (n > 1 && is_title(tok[n - 1]))
            n--;
        if (n + 1 > SL_NAME_MAX_PARTS) {
            snprintf(err, errlen, "too many name parts");
            return -1;
        }
        sl_strlcpy(out->part[0], joined, sizeof out->part[0]);
        for (int i = 0; i < n; i++)
            memcpy(out->part[i + 1], tok[i], sizeof tok[i]);
        out->n = n + 1;
        return 0;
    }
    n = tokens(s, tok, SL_NAME_MAX_PARTS + 3);
    if (n < 0) {
        snprintf(err, errlen, "too many or too long name parts");
        return -1;
    }
    while (n > 2 && is_title(tok[0]))
        memmove(tok[0], tok[1], sizeof tok[0] * (size_t)--n);
    if (n >= 3 && is_suffix(tok[n - 1]))
        sl_strlcpy(out->suffix, tok[--n], sizeof out->suffix);
    while (n > 2 && is_title(tok[n - 1]))
        n--;
    if (n < 2) {
        snprintf(err, errlen, "need at least a surname and a given name");
        return -1;
    }
    if (n > SL_NAME_MAX_PARTS) {
        snprintf(err, errlen, "too many name parts");
        return -1;
    }
    for (int i = 0; i < n; i++)
        memcpy(out->part[i], tok[i], sizeof tok[i]);
    out->n = n;
    return 0;
}

/* ---- DOB ---------------------------------------------------------------------------------- */
static int valid_ymd(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1850 || y > 2199 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

int sl_store_dob_parse(const char *s, int32_t out[2], int *n)
{
    char dig[16];
    size_t k = 0;
    *n = 0;
    if (!s)
        return -1;
    for (; *s; s++) {
        if (*s == '/' || *s == '-' || *s == ' ')
            continue;
        if (!isdigit((unsigned char)*s) || k >= 8)
            return -1;
        dig[k++] = *s;
    }
    dig[k] = 0;
    int m, d, y;
    if (k == 8) {
        y = (dig[0] - '0') * 1000 + (dig[1] - '0') * 100 + (dig[2] - '0') * 10 + (dig[3] - '0');
        m = (dig[4] - '0') * 10 + (dig[5] - '0');
        d = (dig[6] - '0') * 10 + (dig[7] - '0');
        if (!valid_ymd(y, m, d)) {
            /* Not ccyymmdd: a dispatcher's mm/dd/ccyy is accepted too (no 8-digit
             * string is a valid date both ways with a year in range). */
            m = (dig[0] - '0') * 10 + (dig[1] - '0');
            d = (dig[2] - '0') * 10 + (dig[3] - '0');
            y = (dig[4] - '0') * 1000 + (dig[5] - '0') * 100 + (dig[6] - '0') * 10 +
                (dig[7] - '0');
            if (!valid_ymd(y, m, d))
                return -1;
        }
        out[(*n)++] = y * 10000 + m * 100 + d;
        return 0;
    }
    if (k != 6)
        return -1;
    m = (dig[0] - '0') * 10 + (dig[1] - '0');
    d = (dig[2] - '0') * 10 + (dig[3] - '0');
    y = (dig[4] - '0') * 10 + (dig[5] - '0');
    /* mmddyy: the century is unknown, so both are searched (a 05 could be 1905 or
     * 2005); the DOB+name+sex combination makes a wrong-century hit practically
     * impossible, and guessing would silently miss the 100-year-olds. */
    for (int c = 19; c <= 20; c++)
        if (valid_ymd(c * 100 + y, m, d))
            out[(*n)++] = (c * 100 + y) * 10000 + m * 100 + d;
    return *n ? 0 : -1;
}

int sl_store_canon(const char *s, char *out, size_t outlen)
{
    size_t n = 0;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) && c < 0x80) {
            if (n + 1 >= outlen)
                return -1;
            out[n++] = (char)toupper(c);
        }
    }
    if (outlen)
        out[n] = 0;
    return (int)n;
}

int sl_store_partial_plate_check(const char *pattern, char *err, size_t errlen)
{
    int run = 0, best = 0, len = 0;
    if (!pattern || !*pattern) {
        snprintf(err, errlen, "empty plate pattern");
        return -1;
    }
    for (const char *p = pattern; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c == '-')
            continue;
        if (++len > 10) {
            snprintf(err, errlen, "plate pattern longer than 10 characters");
            return -1;
        }
        if (c == '*' || c == '?') {
            run = 0;
            continue;
        }
        if (!isalnum(c) || c >= 0x80) {
            snprintf(err, errlen, "character '%c' not allowed in a plate pattern (letters, digits, * and ?)",
                     isprint(c) ? c : '?');
            return -1;
        }
        if (++run > best)
            best = run;
    }
    if (best < 3) {
        snprintf(err, errlen, "a plate pattern needs at least 3 consecutive known characters");
        return -1;
    }
    return 0;
}

/* ---- data classes ----------------------------------------------------------------------
 * Every field of every returned struct, in exactly one of the policy's classes
 * (policy.h): identity is the name; description is sex and the physical description;
 * license is the licence number and everything about the licence. */
#define M(x) SL_DC_BIT(SL_DC_##x)

static const struct sl_field_class field_classes[] = {
    {"driver", "last", SL_DC_IDENTITY}, {"driver", "first", SL_DC_IDENTITY},
    {"driver", "middle", SL_DC_IDENTITY}, {"driver", "suffix", SL_DC_IDENTITY},
    {"driver", "dob", SL_DC_DOB},
    {"driver", "street", SL_DC_ADDRESS}, {"driver", "city", SL_DC_ADDRESS},
    {"driver", "state", SL_DC_ADDRESS}, {"driver", "zip", SL_DC_ADDRESS},
    {"driver", "sex", SL_DC_DESCRIPTION},
    {"driver", "height_in", SL_DC_DESCRIPTION}, {"driver", "weight_lb", SL_DC_DESCRIPTION},
    {"driver", "eyes", SL_DC_DESCRIPTION}, {"driver", "hair", SL_DC_DESCRIPTION},
    {"driver", "oln", SL_DC_LICENSE},
    {"driver", "lic_class", SL_DC_LICENSE}, {"driver", "endorsements", SL_DC_LICENSE},
    {"driver", "restrictions", SL_DC_LICENSE}, {"driver", "status", SL_DC_LICENSE},
    {"driver", "issued", SL_DC_LICENSE}, {"driver", "expires", SL_DC_LICENSE},
    {"driver", "ssn", SL_DC_SSN}, {"driver", "photo", SL_DC_PHOTO},
    {"history", "kind", SL_DC_HISTORY}, {"history", "date", SL_DC_HISTORY},
    {"history", "code", SL_DC_HISTORY}, {"history", "text", SL_DC_HISTORY},
    {"history", "conviction", SL_DC_HISTORY}, {"history", "ends", SL_DC_HISTORY},
    {"vehicle", "plate", SL_DC_VEHICLE}, {"vehicle", "plate_year", SL_DC_VEHICLE},
    {"vehicle", "plate_type", SL_DC_VEHICLE}, {"vehicle", "vin", SL_DC_VEHICLE},
    {"vehicle", "make", SL_DC_VEHICLE}, {"vehicle", "model", SL_DC_VEHICLE},
    {"vehicle", "year", SL_DC_VEHICLE}, {"vehicle", "colour", SL_DC_VEHICLE},
    {"vehicle", "style", SL_DC_VEHICLE}, {"vehicle", "reg_expires", SL_DC_VEHICLE},
    {"owner", "oln", SL_DC_OWNER}, {"owner", "last", SL_DC_OWNER},
    {"owner", "first", SL_DC_OWNER}, {"owner", "middle", SL_DC_OWNER},
    {"owner", "suffix", SL_DC_OWNER}, {"owner", "dob", SL_DC_OWNER},
    {"owner", "street", SL_DC_OWNER_ADDRESS}, {"owner", "city", SL_DC_OWNER_ADDRESS},
    {"owner", "state", SL_DC_OWNER_ADDRESS}, {"owner", "zip", SL_DC_OWNER_ADDRESS},
};

const struct sl_field_class *sl_store_field_classes(size_t *n)
{
    *n = sizeof field_classes / sizeof field_classes[0];
    return field_classes;
}

int sl_store_field_class(const char *record, const char *field)
{
    /* The first characters decide most comparisons without a call: the gateway's
     * layouts ask this for every field of a reply that withholds something. */
    for (size_t i = 0; i < sizeof field_classes / sizeof field_classes[0]; i++)
        if (field_classes[i].field[0] == field[0] && field_classes[i].record[0] == record[0] &&
            strcmp(field_classes[i].record, record) == 0 &&
            strcmp(field_classes[i].field, field) == 0)
            return field_classes[i].dc;
    return -1;
}

/* Whole fields are zeroed, not just their first byte: a redacted struct carries no
 * trace of the value, whatever a later formatter or memcpy does with it. */
#define Z(f) memset(&(f), 0, sizeof(f))

void sl_store_driver_redact(struct sl_driver *d, uint32_t mask)
{
    if (mask & M(IDENTITY)) {
        Z(d->last), Z(d->first), Z(d->middle), Z(d->suffix);
    }
    if (mask & M(DOB))
        Z(d->dob);
    if (mask & M(ADDRESS)) {
        Z(d->street), Z(d->city), Z(d->state), Z(d->zip);
    }
    if (mask & M(DESCRIPTION)) {
        Z(d->sex), Z(d->height_in), Z(d->weight_lb), Z(d->eyes), Z(d->hair);
    }
    if (mask & M(LICENSE)) {
        Z(d->oln), Z(d->lic_class), Z(d->endorsements), Z(d->restrictions), Z(d->status);
        Z(d->issued), Z(d->expires);
    }
    if (mask & M(SSN))
        Z(d->ssn);
}

void sl_store_history_redact(struct sl_history *h, int n, uint32_t mask)
{
    if ((mask & M(HISTORY)) && n > 0)
        memset(h, 0, sizeof *h * (size_t)n);
}

void sl_store_vehicle_redact(struct sl_vehicle *v, uint32_t mask)
{
    if (mask & M(VEHICLE)) {
        Z(v->plate), Z(v->plate_year), Z(v->plate_type), Z(v->vin), Z(v->make), Z(v->model);
        Z(v->year), Z(v->colour), Z(v->style), Z(v->reg_expires);
    }
    for (int i = 0; i < v->n_owners && i < 2; i++) {
        struct sl_owner *o = &v->owner[i];
        if (mask & M(OWNER)) {
            Z(o->oln), Z(o->last), Z(o->first), Z(o->middle), Z(o->suffix), Z(o->dob);
        }
        if (mask & M(OWNER_ADDRESS)) {
            Z(o->street), Z(o->city), Z(o->state), Z(o->zip);
        }
    }
}
