/*
 * http_parse.c - parsers of what a browser sends: form bodies and query strings
 * (application/x-www-form-urlencoded), the Cookie header, dates and months in filters.
 *
 * They are our own (libmicrohttpd hands over raw bodies and headers) so that their
 * rules are strict and written down: a name given twice is refused (which copy would a
 * proxy or a later reader see?), a value with a control character or a NUL is refused,
 * nothing is silently truncated.  tests/fuzz/fuzz_http_input.c runs them on any input.
 */
#include <string.h>
#include <time.h>

#include "stateline/http.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sl_http_urldecode(const char *in, size_t len, char *out, size_t cap, int plus)
{
    size_t o = 0;
    if (!cap)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = (unsigned char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (c == 0 || c == 0x7f || (c < 0x20 && c != '\t' && c != '\r' && c != '\n'))
            return -1;
        if (o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return (int)o;
}

/* Find name in s[0, len) split by sep; leading spaces of a pair are skipped when
 * skipsp.  decode: 1 form (percent, plus), 0 raw. */
static int find_pair(const char *s, size_t len, char sep, int skipsp, const char *name,
                     char *out, size_t cap, int decode)
{
    size_t nl = strlen(name);
    int found = -1;
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && s[j] != sep)
            j++;
        size_t a = i;
        while (skipsp && a < j && (s[a] == ' ' || s[a] == '\t'))
            a++;
        const char *eq = memchr(s + a, '=', j - a);
        size_t klen = eq ? (size_t)(eq - (s + a)) : j - a;
        if (klen == nl && memcmp(s + a, name, nl) == 0) {
            if (found != -1)
                return -3;
            const char *v = eq ? eq + 1 : s + j;
            size_t vl = (size_t)(s + j - v);
            if (decode) {
                found = sl_http_urldecode(v, vl, out, cap, 1);
                if (found < 0)
                    found = -2;
            } else {
                if (vl + 1 > cap)
                    found = -2;
                else {
                    for (size_t k = 0; k < vl; k++)
                        if ((unsigned char)v[k] < 0x21 || v[k] == 0x7f || v[k] == ';' ||
                            v[k] == ',')
                            found = -2;
                    if (found != -2) {
                        memcpy(out, v, vl);
                        out[vl] = 0;
                        found = (int)vl;
                    }
                }
            }
            if (found == -2)
                return -2;
        }
        i = j + 1;
    }
    return found;
}

int sl_http_form_get(const char *body, size_t len, const char *name, char *out, size_t cap)
{
    if (!body || !cap)
        return -1;
    return find_pair(body, len, '&', 0, name, out, cap, 1);
}

int sl_http_cookie_get(const char *hdr, size_t len, const char *name, char *out, size_t cap)
{
    if (!hdr || !cap)
        return -1;
    return find_pair(hdr, len, ';', 1, name, out, cap, 0);
}

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

static int64_t days_from_civil(int y, int m, int d)
{
    /* H. Hinnant's algorithm: days since 1970-01-01 (proleptic Gregorian). */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
    static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return md[m - 1];
}

int sl_http_parse_date(const char *s, int64_t *us)
{
    int y, m, d;
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) ||
        digits(s + 5, 2, &m) || digits(s + 8, 2, &d))
        return -1;
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return -1;
    *us = days_from_civil(y, m, d) * 86400 * INT64_C(1000000);
    return 0;
}

int sl_http_parse_month(const char *s, int64_t *from_us, int64_t *to_us)
{
    int y, m;
    if (!s || strlen(s) != 7 || s[4] != '-' || digits(s, 4, &y) || digits(s + 5, 2, &m) ||
        y < 1970 || m < 1 || m > 12)
        return -1;
    *from_us = days_from_civil(y, m, 1) * 86400 * INT64_C(1000000);
    *to_us = days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * 86400 *
             INT64_C(1000000);
    return 0;
}
