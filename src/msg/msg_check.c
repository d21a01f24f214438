/*
 * msg_check.c - field rules of the body (sl_msg_check) and DOB parsing.
 *
 * Order of checks, so that one message always gets the same ER:
 *   1. a switch-only key (ER, NLR, NFR) from any ORI but NL0000000      -> .01.
 *   2. (field keys) a prefix the key does not take, or one given twice -> .22.
 *   3. a field every valid set needs (NLQ: TYP BEG END) is absent      -> .14. (.10. when
 *      all of the absent ones are year fields, BEG/END)
 *   4. none of the identifying fields of any set is present            -> .14. naming the
 *      alternatives ("OLN OR NAM, DOB, SEX")
 *   5. the identifying fields present are not exactly one valid set    -> .22. listing the
 *      sets (the Nlets example RQ with LIC and LIT but no LIY is .22.)
 *   6. conditions: RQ/RQG by VIN to MO needs VMA and VYR (.14.); NLQ AND/ORR only with
 *      FND (.22.)
 *   7. each value, in message order: DOB -> .05., LIY/VYR/BEG/END -> .10., ATN -> .16.,
 *      any other value -> .22. with the rule in the detail.
 * Value rules are in docs/protocol.md §4.
 */
#include "msg_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int set_err(struct sl_msg_err *err, enum sl_er code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_err(struct sl_msg_err *err, enum sl_er code, const char *fmt, ...)
{
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- dates ---- */

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

static int valid_date(int y, int m, int d)
{
    return m >= 1 && m <= 12 && d >= 1 && d <= days_in(y, m);
}

/* n <= 9 digits to an int; -1 when not all digits or too long to fit. */
static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    if (n > 9)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!sl_msg_is_digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Today, UTC, as ccyymmdd. */
static long today_ymd(void)
{
    int y, m, d;
    sl_msg_civil_from_days((int64_t)time(NULL) / 86400, &y, &m, &d);
    return (long)y * 10000 + m * 100 + d;
}

static int parse_dob_at(const char *s, size_t len, long today, int *year, int *month, int *day)
{
    int y, m, d;
    if (len == 8) {
        if (digits(s, 4, &y) || digits(s + 4, 2, &m) || digits(s + 6, 2, &d))
            return -1;
    } else if (len == 6) {
        int yy;
        if (digits(s, 2, &m) || digits(s + 2, 2, &d) || digits(s + 4, 2, &yy))
            return -1;
        /* Pivot: this century unless that puts the date in the future. */
        y = (int)(today / 1000000) * 100 + yy;
        if ((long)y * 10000 + m * 100 + d > today)
            y -= 100;
    } else {
        return -1;
    }
    if (!valid_date(y, m, d) || y < 1900 || (long)y * 10000 + m * 100 + d > today)
        return -1;
    *year = y;
    *month = m;
    *day = d;
    return 0;
}

int sl_msg_parse_dob(const char *s, size_t len, int *year, int *month, int *day)
{
    return parse_dob_at(s, len, today_ymd(), year, month, day);
}

/* ccyymmdd or ccyymmdd@hhmm -> sortable number ccyymmddhhmm; -1 when malformed. */
static long long parse_stamp(const char *s, size_t n)
{
    int y, m, d, hh = 0, mm = 0;
    if (n != 8 && n != 13)
        return -1;
    if (digits(s, 4, &y) || digits(s + 4, 2, &m) || digits(s + 6, 2, &d))
        return -1;
    if (!valid_date(y, m, d) || y < 1970)
        return -1;
    if (n == 13) {
        if (s[8] != '@' || digits(s + 9, 2, &hh) || digits(s + 11, 2, &mm) || hh > 23 ||
            mm > 59)
            return -1;
    }
    return (((long long)y * 10000 + m * 100 + d) * 100 + hh) * 100 + mm;
}

/* ---- value rules ---- */

static int chars_in(const struct sl_field *f, const char *extra)
{
    for (uint32_t i = 0; i < f->len; i++) {
        int c = (unsigned char)f->val[i];
        if (!sl_msg_is_alnum(c) && !(c && strchr(extra, c)))
            return 0;
    }
    return 1;
}

static int printable(const struct sl_field *f)
{
    for (uint32_t i = 0; i < f->len; i++) {
        int c = (unsigned char)f->val[i];
        if (c < 0x20 || c >= 0x7f)
            return 0;
    }
    return 1;
}

static int one_of(const struct sl_field *f, const char *set)
{
    return f->len == 1 && f->val[0] && strchr(set, f->val[0]) != NULL;
}

/* NAM/ for person and owner names: LAST,FIRST MIDDLE SUFFIX, one comma. */
static int name_ok(const struct sl_field *f)
{
    if (f->len < 3 || f->len > 30 || !sl_msg_is_upper((unsigned char)f->val[0]))
        return 0;
    int commas = 0;
    for (uint32_t i = 0; i < f->len; i++) {
        int c = (unsigned char)f->val[i];
        if (c == ',')
            commas++;
        else if (!sl_msg_is_upper(c) && c != ' ' && c != '-' && c != '\'')
            return 0;
    }
    if (commas != 1)
        return 0;
    const char *comma = memchr(f->val, ',', f->len);
    size_t after = f->len - (size_t)(comma - f->val) - 1;
    size_t first = 0;
    while (first < after && comma[1 + first] == ' ')
        first++;
    return after > first; /* a first name after the comma */
}

static int check_value(const struct sl_key_info *k, int id, const struct sl_field *f,
                       long today, struct sl_msg_err *err)
{
    const char *p = f->pfx;
    int y, mo, d;
    switch (id) {
    case SL_P_OLN:
        if (f->len < 1 || f->len > 20 || !chars_in(f, "*-"))
            return set_err(err, SL_ER_FORMAT22, "OLN MUST BE 1-20 LETTERS, DIGITS, '*' OR '-'");
        return 0;
    case SL_P_NAM:
        if (strcmp(k->key, "NLQ") == 0) {
            if (f->len < 1 || f->len > 30 || f->val[0] == '*' || !chars_in(f, " ,'*-"))
                return set_err(err, SL_ER_FORMAT22,
                               "NAM MUST BE 1-30 LETTERS, DIGITS, SPACES, ',', ''', '-' OR "
                               "A '*' WILDCARD AFTER THE FIRST CHARACTER");
            return 0;
        }
        if (strcmp(k->key, "RNQ") == 0) {
            /* a registered owner may be a business: ACME RENTAL & LEASING 2 */
            const char *c1 = memchr(f->val, ',', f->len);
            if (f->len < 1 || f->len > 30 || !sl_msg_is_alnum((unsigned char)f->val[0]) ||
                !chars_in(f, " ,'&-") ||
                (c1 && memchr(c1 + 1, ',', f->len - (size_t)(c1 + 1 - f->val))))
                return set_err(err, SL_ER_FORMAT22,
                               "NAM MUST BE LAST,FIRST MIDDLE OR A BUSINESS NAME: 1-30 LETTERS, "
                               "DIGITS, SPACES, '&', '-', ''' AND AT MOST ONE COMMA");
            return 0;
        }
        if (!name_ok(f))
            return set_err(err, SL_ER_FORMAT22,
                           "NAM MUST BE LAST,FIRST MIDDLE: 3-30 LETTERS, SPACES, '-' OR ''' "
                           "WITH ONE COMMA");
        return 0;
    case SL_P_DOB:
        if (parse_dob_at(f->val, f->len, today, &y, &mo, &d) < 0)
            return set_err(err, SL_ER_DOB,
                           "DOB MUST BE MMDDYY OR CCYYMMDD, A REAL DATE AFTER 1900 AND NOT IN "
                           "THE FUTURE");
        return 0;
    case SL_P_SEX:
        if (!one_of(f, "MFXU"))
            return set_err(err, SL_ER_FORMAT22, "SEX MUST BE M, F, X OR U");
        return 0;
    case SL_P_RSN:
        if (!one_of(f, "NFVTSHI"))
            return set_err(err, SL_ER_FORMAT22, "RSN MUST BE ONE OF N F V T S H I");
        return 0;
    case SL_P_PUR:
        if (!one_of(f, "CFEDJS"))
            return set_err(err, SL_ER_FORMAT22, "PUR MUST BE ONE OF C F E D J S");
        return 0;
    case SL_P_ATN:
        if (f->len < 1 || f->len > 30 || !printable(f))
            return set_err(err, SL_ER_ATN, "ATN MUST BE 1-30 PRINTABLE CHARACTERS");
        return 0;
    case SL_P_IMQ:
        if (!one_of(f, "YN"))
            return set_err(err, SL_ER_FORMAT22, "IMQ MUST BE Y OR N");
        return 0;
    case SL_P_CAS:
    case SL_P_LGP:
        if (f->len < 1 || f->len > 30 || !printable(f))
            return set_err(err, SL_ER_FORMAT22, "%s MUST BE 1-30 PRINTABLE CHARACTERS", p);
        return 0;
    case SL_P_LIC:
        if (strcmp(k->key, "RPQ") == 0) {
            uint32_t lit = 0;
            for (uint32_t i = 0; i < f->len; i++)
                lit += f->val[i] != '*' && f->val[i] != '?';
            if (f->len < 1 || f->len > 10 || !chars_in(f, "*?") || lit < 3)
                return set_err(err, SL_ER_FORMAT22,
                               "LIC MUST BE 1-10 LETTERS, DIGITS OR WILDCARDS ('?' ONE, '*' ANY) "
                               "WITH AT LEAST 3 LETTERS OR DIGITS");
            return 0;
        }
        if (f->len < 1 || f->len > 10 || !chars_in(f, ""))
            return set_err(err, SL_ER_FORMAT22, "LIC MUST BE 1-10 LETTERS OR DIGITS");
        return 0;
    case SL_P_LIY:
        if (!((f->len == 2 && f->val[0] == 'N' && f->val[1] == 'X') ||
              ((f->len == 2 || f->len == 4) && digits(f->val, f->len, &y) == 0)))
            return set_err(err, SL_ER_YEAR, "LIY MUST BE 2 OR 4 DIGITS OR NX");
        return 0;
    case SL_P_LIT:
        if (f->len != 2 || !sl_msg_is_upper((unsigned char)f->val[0]) ||
            !sl_msg_is_upper((unsigned char)f->val[1]))
            return set_err(err, SL_ER_FORMAT22, "LIT MUST BE 2 LETTERS (NCIC PLATE TYPE)");
        return 0;
    case SL_P_VIN:
        if (f->len < 1 || f->len > 17 || !chars_in(f, ""))
            return set_err(err, SL_ER_FORMAT22, "VIN MUST BE 1-17 LETTERS OR DIGITS");
        return 0;
    case SL_P_VMA:
        if (f->len < 2 || f->len > 4 || !chars_in(f, ""))
            return set_err(err, SL_ER_FORMAT22, "VMA MUST BE 2-4 LETTERS OR DIGITS (NCIC MAKE)");
        return 0;
    case SL_P_VYR:
        if (f->len != 4 || digits(f->val, 4, &y) || y < 1900)
            return set_err(err, SL_ER_YEAR, "VYR MUST BE 4 DIGITS, 1900 OR LATER");
        return 0;
    case SL_P_TYP: {
        if (f->len == 3 && memcmp(f->val, "ALL", 3) == 0)
            return 0;
        int ok = f->len >= 2 && f->len <= 100;
        uint32_t run = 0;
        for (uint32_t i = 0; ok && i <= f->len; i++) {
            if (i == f->len || f->val[i] == ',') {
                ok = run >= 2 && run <= 3;
                run = 0;
            } else if (sl_msg_is_upper((unsigned char)f->val[i])) {
                run++;
            } else {
                ok = 0;
            }
        }
        if (!ok)
            return set_err(err, SL_ER_FORMAT22,
                           "TYP MUST BE ALL OR MESSAGE KEYS SEPARATED BY COMMAS, AT MOST 100 "
                           "CHARACTERS");
        return 0;
    }
    case SL_P_SRC:
    case SL_P_DST:
        if (!sl_msg_dest_kind(f->val, f->len))
            return set_err(err, SL_ER_FORMAT22, "%s MUST BE A 2-CHARACTER CODE OR A 9-CHARACTER ORI",
                           p);
        return 0;
    case SL_P_BEG:
    case SL_P_END:
        if (parse_stamp(f->val, f->len) < 0)
            return set_err(err, SL_ER_YEAR, "%s MUST BE CCYYMMDD OR CCYYMMDD@HHMM", p);
        return 0;
    case SL_P_FND:
    case SL_P_AND:
    case SL_P_ORR:
        if (f->len < 1 || f->len > 100 || !printable(f))
            return set_err(err, SL_ER_FORMAT22, "%s MUST BE 1-100 PRINTABLE CHARACTERS", p);
        return 0;
    case SL_P_SEQ: {
        uint32_t n = f->len;
        if (n >= 2 && f->val[n - 1] == 'X')
            n--;
        int alld = 1;
        for (uint32_t i = 0; i < n; i++)
            alld &= sl_msg_is_digit((unsigned char)f->val[i]);
        if (n < 1 || n > 10 || !alld)
            return set_err(err, SL_ER_FORMAT22,
                           "SEQ MUST BE 1-10 DIGITS, OPTIONALLY FOLLOWED BY X");
        return 0;
    }
    }
    return set_err(err, SL_ER_FORMAT22, "FIELD %s NOT VALID FOR %s", p, k->key);
}

/* "LIC, LIY, LIT" of a mask, in prefix order of the set strings when given. */
static void mask_text(uint32_t mask, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < SL_P_COUNT && o + 6 < outlen; i++)
        if (mask & (1u << i))
            o += (size_t)snprintf(out + o, outlen - o, "%s%s", o ? ", " : "",
                                  sl_msg_pfx_name(i));
}

int sl_msg_check(const struct sl_msg *m, struct sl_msg_err *err)
{
    err->code = SL_ER_NONE;
    err->detail[0] = '\0';
    const struct sl_key_info *k = sl_key_lookup(m->key);
    if (!k)
        return set_err(err, SL_ER_HEADER, "UNKNOWN MESSAGE KEY %.3s", m->key);
    if (k->switch_only && strcmp(m->ori, SL_SWITCH_ORI) != 0)
        return set_err(err, SL_ER_HEADER, "ONLY THE SWITCH (%s) MAY SEND %s", SL_SWITCH_ORI,
                       k->key);
    if (k->body == SL_BODY_TEXT)
        return 0;
    if (m->nfields < 0 || m->nfields > SL_MSG_MAX_FIELDS)
        return set_err(err, SL_ER_FORMAT22, "MORE THAN %d FIELDS", SL_MSG_MAX_FIELDS);

    /* 2. prefixes */
    uint32_t set[SL_KEY_MAX_SETS];
    uint32_t any = 0, common = ~0u;
    for (int s = 0; s < k->nsets; s++) {
        set[s] = sl_msg_pfx_mask_list(k->sets[s], SL_KEY_SET_FIELDS);
        any |= set[s];
        common &= set[s];
    }
    if (k->nsets == 0)
        common = 0;
    uint32_t allowed = any | sl_msg_pfx_mask_str(k->optional);
    uint32_t present = 0;
    int ids[SL_MSG_MAX_FIELDS];
    for (int i = 0; i < m->nfields; i++) {
        int id = sl_msg_pfx_id(m->fields[i].pfx);
        ids[i] = id;
        if (id < 0 || !(allowed & (1u << id)))
            return set_err(err, SL_ER_FORMAT22, "FIELD %.3s NOT VALID FOR %s", m->fields[i].pfx,
                           k->key);
        if (present & (1u << id))
            return set_err(err, SL_ER_FORMAT22, "FIELD %.3s GIVEN TWICE", m->fields[i].pfx);
        present |= 1u << id;
    }

    /* 3. fields every set needs */
    char a[96], b[96];
    uint32_t miss = common & ~present;
    if (miss) {
        mask_text(miss, a, sizeof a);
        uint32_t years = (1u << SL_P_BEG) | (1u << SL_P_END);
        return set_err(err, (miss & ~years) ? SL_ER_MISSING : SL_ER_YEAR, "%s MISSING", a);
    }

    /* 4. nothing that identifies the subject */
    uint32_t ident = present & any & ~common;
    if (ident == 0 && (any & ~common)) {
        size_t o = 0;
        a[0] = '\0';
        for (int s = 0; s < k->nsets && o < sizeof a; s++) {
            mask_text(set[s] & ~common, b, sizeof b);
            o += (size_t)snprintf(a + o, sizeof a - o, "%s%s", s ? " OR " : "", b);
        }
        return set_err(err, SL_ER_MISSING, "%s", a);
    }

    /* 5. exactly one valid set */
    uint32_t used = present & any;
    int match = -1;
    for (int s = 0; s < k->nsets; s++)
        if (set[s] == used)
            match = s;
    if (match < 0) {
        int best = -1, best_miss = 99;
        for (int s = 0; s < k->nsets; s++) {
            if ((used & ~set[s]) == 0) {
                int n = __builtin_popcount(set[s] & ~used);
                if (n < best_miss) {
                    best_miss = n;
                    best = s;
                }
            }
        }
        if (best >= 0) {
            mask_text(set[best] & ~used, a, sizeof a);
            return set_err(err, SL_ER_FORMAT22, "%s MISSING", a);
        }
        mask_text(ident, a, sizeof a);
        return set_err(err, SL_ER_FORMAT22, "%s DO NOT FORM ONE OPTION", a);
    }

    /* 6. conditions */
    if ((strcmp(k->key, "RQ") == 0 || strcmp(k->key, "RQG") == 0) &&
        (present & (1u << SL_P_VIN))) {
        uint32_t need = (1u << SL_P_VMA) | (1u << SL_P_VYR);
        for (int i = 0; i < m->ndest; i++) {
            if (strcmp(m->dest[i], "MO") == 0 && (present & need) != need) {
                mask_text(need & ~present, a, sizeof a);
                return set_err(err, SL_ER_MISSING, "%s MISSING (A VIN QUERY TO MO NEEDS VMA AND VYR)",
                               a);
            }
        }
    }
    if ((present & ((1u << SL_P_AND) | (1u << SL_P_ORR))) && !(present & (1u << SL_P_FND)))
        return set_err(err, SL_ER_FORMAT22, "AND AND ORR ARE ALLOWED ONLY WITH FND");

    /* 7. values */
    long today = 0;
    if (present & (1u << SL_P_DOB))
        today = today_ymd();
    for (int i = 0; i < m->nfields; i++)
        if (check_value(k, ids[i], &m->fields[i], today, err) < 0)
            return -1;
    if ((present & (1u << SL_P_BEG)) && (present & (1u << SL_P_END))) {
        const struct sl_field *bf = sl_msg_field(m, "BEG"), *ef = sl_msg_field(m, "END");
        if (parse_stamp(bf->val, bf->len) > parse_stamp(ef->val, ef->len))
            return set_err(err, SL_ER_YEAR, "END IS BEFORE BEG");
    }
    return 0;
}
