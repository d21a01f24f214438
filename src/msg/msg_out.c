/*
 * msg_out.c - the output header the switch puts on what it delivers, and ER bodies.
 *
 * Output form (docs/protocol.md §5), lines end in LF (CR LF is accepted):
 *
 *     DQ.WASP00000                       key "." originating ORI
 *     14:25 11/26/2026 01239             receive stamp HH:MM MM/DD/CCYY (UTC), input number
 *     14:25 11/26/2026 01233 CA          send stamp, output number, addressee (2-9 chars)
 *     CTL/LTN2000157                     only when the sender gave a control field
 *     MID/1099511627777                  switch message id: only on a query the hub hands
 *                                        to an answering line (echoed in the reply)
 *     VRQ/ORI=WASP00000;MBR=WA;TYP=SA;CAT=ACDZ;PAR=;TAG=task-force
 *                                        only on what the hub hands to an answering line
 *     TXT
 *     OLN/A1234567                       the body, to the end of the frame
 *
 * Numbers are 5 digits, the counter modulo 100000.  Times are UTC: the network spans
 * eleven time zones, and local (or Nlets' MST) stamps repeat or skip an hour at DST
 * changes, which would defeat the gap detection the per-line numbers exist for.
 *
 * VRQ is the requester as the hub verified it.  Its values are percent-encoded (%XX) for
 * every byte outside [A-Za-z0-9 /_.:-], so ';' '=' '%' and line breaks cannot appear raw,
 * and the parser rejects any raw byte outside that set.  Only lines before the first line
 * that is exactly TXT are header: nothing a sender writes in a body can become a VRQ line.
 */
#include "msg_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_TIME 253402300799LL /* 9999-12-31 23:59:59 UTC */

static int set_err(struct sl_msg_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int set_err(struct sl_msg_err *err, const char *fmt, ...)
{
    va_list ap;
    err->code = SL_ER_HEADER;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
    return -1;
}

int64_t sl_msg_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void sl_msg_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Two decimal digits at a time: the stamps are on every message the switch writes, and
 * digit-by-digit division was most of their cost (perf/icount). */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

static char *put2(char *p, unsigned v)
{
    memcpy(p, digit_pairs + 2 * (v % 100), 2);
    return p + 2;
}

static int64_t clamp_time(int64_t t)
{
    return t < 0 ? 0 : t > MAX_TIME ? MAX_TIME : t;
}

/* "HH:MM MM/DD/CCYY" into p (16 bytes); t already clamped. */
static char *put_minute(char *p, int64_t t)
{
    int y, mo, d;
    sl_msg_civil_from_days(t / 86400, &y, &mo, &d);
    unsigned sec = (unsigned)(t % 86400);
    p = put2(p, sec / 3600);
    *p++ = ':';
    p = put2(p, sec / 60 % 60);
    *p++ = ' ';
    p = put2(p, (unsigned)mo);
    *p++ = '/';
    p = put2(p, (unsigned)d);
    *p++ = '/';
    p = put2(p, (unsigned)y / 100);
    return put2(p, (unsigned)y);
}

/* " NNNNN" into p (6 bytes). */
static char *put_seq(char *p, unsigned seq)
{
    seq %= 100000u;
    *p++ = ' ';
    *p++ = (char)('0' + seq / 10000);
    p = put2(p, seq / 100);
    return put2(p, seq);
}

static int vrq_safe(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == ' ' || c == '/' || c == '_' || c == '.' || c == ':' || c == '-';
}

/* Append "NAME=value" percent-encoded (at most 3 bytes per value byte). */
static char *put_vrq(char *p, const char *name, const char *v, size_t cap, int last)
{
    static const char hex[] = "0123456789ABCDEF";
    memcpy(p, name, 3);
    p[3] = '=';
    p += 4;
    size_t n = strnlen(v, cap);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (vrq_safe(c)) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    if (!last)
        *p++ = ';';
    return p;
}

static int code_ok(const char *s, size_t cap, size_t lo, size_t hi)
{
    size_t n = strnlen(s, cap);
    return n >= lo && n <= hi && sl_msg_all_alnum(s, n);
}

int sl_msg_format_output(const struct sl_outhdr *h, const char *body, size_t body_len,
                         struct sl_buf *out)
{
    size_t kl = strnlen(h->key, sizeof h->key);
    if (kl < 2 || kl > 3 || !sl_msg_is_upper((unsigned char)h->key[0]) ||
        !sl_msg_is_upper((unsigned char)h->key[1]) ||
        (kl == 3 && !sl_msg_is_upper((unsigned char)h->key[2])))
        return -1;
    if (!code_ok(h->ori, sizeof h->ori, SL_ORI_LEN, SL_ORI_LEN) ||
        !code_ok(h->dest, sizeof h->dest, 2, SL_ORI_LEN))
        return -1;
    size_t cl = strnlen(h->ctl, sizeof h->ctl);
    if (cl && !sl_msg_ctl_valid(h->ctl, cl))
        return -1;

    /* Every piece has a bound, so the header is written in one reservation. */
    const struct sl_requester *r = &h->req;
    size_t max = 4 + 1 + SL_ORI_LEN + 1 + 23 + 23 + SL_ORI_LEN + 1 + 4 + SL_MSG_CTL_MAX + 1 +
                 4 + SL_MID_DIGITS + 1 +
                 4 + 6 * 5 + 3 * (sizeof r->ori + sizeof r->member + sizeof r->type +
                                  sizeof r->cats + sizeof r->parent + sizeof r->tags) +
                 1 + 4;
    char *start = (char *)sl_buf_reserve(out, max + body_len), *p = start;
    memcpy(p, h->key, kl);
    p += kl;
    *p++ = '.';
    memcpy(p, h->ori, SL_ORI_LEN);
    p += SL_ORI_LEN;
    *p++ = '\n';
    /* "HH:MM MM/DD/CCYY NNNNN" twice; the send stamp is nearly always in the receive
     * stamp's minute, so its date and time are copied rather than computed again. */
    int64_t rx = clamp_time(h->rx_time), tx = clamp_time(h->tx_time);
    char *rx_minute = p;
    p = put_minute(p, rx);
    p = put_seq(p, h->rx_seq);
    *p++ = '\n';
    if (rx / 60 == tx / 60) {
        memcpy(p, rx_minute, 16);
        p += 16;
    } else {
        p = put_minute(p, tx);
    }
    p = put_seq(p, h->tx_seq);
    *p++ = ' ';
    size_t dl = strnlen(h->dest, sizeof h->dest);
    memcpy(p, h->dest, dl);
    p += dl;
    *p++ = '\n';
    if (cl) {
        memcpy(p, "CTL/", 4);
        memcpy(p + 4, h->ctl, cl);
        p += 4 + cl;
        *p++ = '\n';
    }
    if (h->mid) {
        char digits[SL_MID_DIGITS];
        int nd = 0;
        for (uint64_t v = h->mid; v; v /= 10)
            digits[nd++] = (char)('0' + v % 10);
        memcpy(p, SL_MID_PREFIX, 4);
        p += 4;
        while (nd)
            *p++ = digits[--nd];
        *p++ = '\n';
    }
    if (h->has_req) {
        memcpy(p, "VRQ/", 4);
        p += 4;
        p = put_vrq(p, "ORI", r->ori, sizeof r->ori, 0);
        p = put_vrq(p, "MBR", r->member, sizeof r->member, 0);
        p = put_vrq(p, "TYP", r->type, sizeof r->type, 0);
        p = put_vrq(p, "CAT", r->cats, sizeof r->cats, 0);
        p = put_vrq(p, "PAR", r->parent, sizeof r->parent, 0);
        p = put_vrq(p, "TAG", r->tags, sizeof r->tags, 1);
        *p++ = '\n';
    }
    memcpy(p, "TXT\n", 4);
    p += 4;
    if (body_len) {
        memcpy(p, body, body_len);
        p += body_len;
    }
    sl_buf_commit(out, (size_t)(p - start));
    return 0;
}

/* ---- parsing ---- */

struct cursor {
    const char *s;
    size_t n;
    size_t p;
    int line;
};

/* Next line without its LF (and a CR before it); -1 at the end of input. */
static int next_line(struct cursor *c, const char **l, size_t *ln)
{
    if (c->p >= c->n)
        return -1;
    const char *start = c->s + c->p;
    const char *nl = memchr(start, '\n', c->n - c->p);
    size_t len = nl ? (size_t)(nl - start) : c->n - c->p;
    c->p += len + (nl ? 1 : 0);
    if (len && start[len - 1] == '\r')
        len--;
    *l = start;
    *ln = len;
    c->line++;
    return 0;
}

static int num(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sl_msg_is_digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "HH:MM MM/DD/CCYY NNNNN" (22 bytes) */
static int parse_stamp(const char *l, int64_t *t, unsigned *seq)
{
    int hh, mi, mo, d, y, n;
    if (l[2] != ':' || l[5] != ' ' || l[8] != '/' || l[11] != '/' || l[16] != ' ')
        return -1;
    if (num(l, 2, &hh) || num(l + 3, 2, &mi) || num(l + 6, 2, &mo) || num(l + 9, 2, &d) ||
        num(l + 12, 4, &y) || num(l + 17, 5, &n))
        return -1;
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (hh > 23 || mi > 59 || mo < 1 || mo > 12 || d < 1 ||
        d > dim[mo - 1] + (mo == 2 && leap) || y < 1970)
        return -1;
    *t = sl_msg_days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60;
    *seq = (unsigned)n;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode "NAME=value" from l at *p into dst (cap bytes incl. NUL); advances past ';'. */
static int get_vrq(const char *l, size_t n, size_t *p, const char *name, char *dst, size_t cap,
                   int last)
{
    size_t q = *p;
    if (n - q < 4 || memcmp(l + q, name, 3) != 0 || l[q + 3] != '=')
        return -1;
    q += 4;
    size_t o = 0;
    while (q < n && l[q] != ';') {
        int c = (unsigned char)l[q];
        if (c == '%') {
            if (n - q < 3 || hexval((unsigned char)l[q + 1]) < 0 ||
                hexval((unsigned char)l[q + 2]) < 0)
                return -1;
            c = hexval((unsigned char)l[q + 1]) * 16 + hexval((unsigned char)l[q + 2]);
            if (c == 0)
                return -1;
            q += 3;
        } else if (vrq_safe(c)) {
            q++;
        } else {
            return -1;
        }
        if (o + 1 >= cap)
            return -1;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    if (last) {
        if (q != n)
            return -1;
    } else {
        if (q >= n)
            return -1;
        q++;
    }
    *p = q;
    return 0;
}

int sl_msg_parse_output(const char *in, size_t len, struct sl_outhdr *h, const char **body,
                        size_t *body_len, struct sl_msg_err *err)
{
    struct cursor c = {in, len, 0, 0};
    const char *l;
    size_t n;
    memset(h, 0, sizeof *h);
    *body = NULL;
    *body_len = 0;
    err->code = SL_ER_NONE;
    err->detail[0] = '\0';

    /* Line 1: KEY.ORI */
    if (next_line(&c, &l, &n) < 0)
        return set_err(err, "EMPTY MESSAGE");
    size_t kl = 0;
    while (kl < n && kl < 4 && sl_msg_is_upper((unsigned char)l[kl]))
        kl++;
    if (kl < 2 || kl > 3 || n != kl + 1 + SL_ORI_LEN || l[kl] != '.' ||
        !sl_msg_all_alnum(l + kl + 1, SL_ORI_LEN))
        return set_err(err, "LINE 1 MUST BE KEY.ORI");
    memcpy(h->key, l, kl);
    memcpy(h->ori, l + kl + 1, SL_ORI_LEN);

    /* Line 2: receive stamp */
    if (next_line(&c, &l, &n) < 0 || n != 22 || parse_stamp(l, &h->rx_time, &h->rx_seq) < 0)
        return set_err(err, "LINE 2 MUST BE HH:MM MM/DD/CCYY NNNNN");

    /* Line 3: send stamp and addressee */
    if (next_line(&c, &l, &n) < 0 || n < 25 || n > 32 || l[22] != ' ' ||
        parse_stamp(l, &h->tx_time, &h->tx_seq) < 0 || !sl_msg_all_alnum(l + 23, n - 23))
        return set_err(err, "LINE 3 MUST BE HH:MM MM/DD/CCYY NNNNN DEST");
    memcpy(h->dest, l + 23, n - 23);

    /* Optional CTL/ and VRQ/ lines, then TXT. */
    int seen_ctl = 0;
    for (;;) {
        if (next_line(&c, &l, &n) < 0)
            return set_err(err, "TXT LINE MISSING AFTER LINE %d", c.line);
        if (n == 3 && memcmp(l, "TXT", 3) == 0)
            break;
        if (n >= 4 && memcmp(l, "CTL/", 4) == 0 && !seen_ctl && !h->mid && !h->has_req) {
            if (!sl_msg_ctl_valid(l + 4, n - 4))
                return set_err(err, "LINE %d: CONTROL FIELD MUST BE 1-10 OF A-Z 0-9 -", c.line);
            memcpy(h->ctl, l + 4, n - 4);
            seen_ctl = 1;
            continue;
        }
        if (n >= 4 && memcmp(l, SL_MID_PREFIX, 4) == 0 && !h->mid && !h->has_req) {
            h->mid = sl_msg_mid_parse(l, n);
            if (!h->mid)
                return set_err(err, "LINE %d: MID MUST BE 1-20 DIGITS WITHOUT A LEADING ZERO",
                               c.line);
            continue;
        }
        if (n >= 4 && memcmp(l, "VRQ/", 4) == 0 && !h->has_req) {
            struct sl_requester *r = &h->req;
            size_t p = 4;
            if (get_vrq(l, n, &p, "ORI", r->ori, sizeof r->ori, 0) ||
                get_vrq(l, n, &p, "MBR", r->member, sizeof r->member, 0) ||
                get_vrq(l, n, &p, "TYP", r->type, sizeof r->type, 0) ||
                get_vrq(l, n, &p, "CAT", r->cats, sizeof r->cats, 0) ||
                get_vrq(l, n, &p, "PAR", r->parent, sizeof r->parent, 0) ||
                get_vrq(l, n, &p, "TAG", r->tags, sizeof r->tags, 1))
                return set_err(err, "LINE %d: MALFORMED VRQ LINE", c.line);
            if (strlen(r->ori) != SL_ORI_LEN || !sl_msg_all_alnum(r->ori, SL_ORI_LEN))
                return set_err(err, "LINE %d: VRQ ORI MUST BE 9 LETTERS OR DIGITS", c.line);
            memcpy(r->state, r->ori, 2);
            r->state[2] = '\0';
            h->has_req = 1;
            continue;
        }
        return set_err(err, "LINE %d: UNEXPECTED HEADER LINE (CTL/, MID/, VRQ/ OR TXT EXPECTED)",
                       c.line);
    }
    *body = in + c.p;
    *body_len = len - c.p;
    return 0;
}

int sl_msg_parse_delivered(const char *in, size_t len, struct sl_outhdr *h, struct sl_msg *m,
                           struct sl_msg_err *err)
{
    const char *body;
    size_t blen;
    m->key[0] = m->ori[0] = m->ctl[0] = '\0';
    m->ndest = 0;
    m->text = NULL;
    m->text_len = 0;
    m->nfields = 0;
    m->mid = 0;
    if (sl_msg_parse_output(in, len, h, &body, &blen, err) < 0)
        return -1;
    const struct sl_key_info *k = sl_key_lookup(h->key);
    if (!k)
        return set_err(err, "UNKNOWN MESSAGE KEY %s", h->key);
    memcpy(m->key, h->key, sizeof m->key);
    memcpy(m->ori, h->ori, sizeof m->ori);
    memcpy(m->dest[0], h->dest, sizeof m->dest[0]);
    m->ndest = 1;
    memcpy(m->ctl, h->ctl, sizeof m->ctl);
    m->mid = h->mid;
    return sl_msg_take_body(k, body, blen, (size_t)(body - in), m, err);
}

/* ---- ER body ---- */

void sl_msg_format_er_body(const struct sl_msg_err *err, const char *key_for_sets,
                           const char *orig, size_t orig_len, struct sl_buf *out)
{
    const struct sl_key_info *k = key_for_sets ? sl_key_lookup(key_for_sets) : NULL;
    int code = err->code == SL_ER_NONE ? SL_ER_FORMAT : err->code;
    sl_buf_printf(out, ".%02d. %s", code, sl_er_text((enum sl_er)code));
    if (code == SL_ER_FORMAT22 && k && k->nsets > 0) {
        sl_buf_printf(out, " - REFER TO %s MKE OPTIONS BELOW\n", k->key);
        for (int s = 0; s < k->nsets; s++) {
            sl_buf_printf(out, "%d. ", s + 1);
            for (int i = 0; i < SL_KEY_SET_FIELDS && k->sets[s][i]; i++)
                sl_buf_printf(out, "%s%s", i ? ", " : "", k->sets[s][i]);
            sl_buf_append(out, "\n", 1);
        }
        if (err->detail[0]) {
            sl_buf_append_str(out, err->detail);
            sl_buf_append(out, "\n", 1);
        }
    } else {
        if (err->detail[0]) {
            sl_buf_append(out, " - ", 3);
            sl_buf_append_str(out, err->detail);
        }
        sl_buf_append(out, "\n", 1);
    }
    sl_buf_append_str(out, "ORIGINAL MESSAGE\n");
    size_t n = orig_len < 100 ? orig_len : 100;
    int in_ctl = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)orig[i];
        if (sl_msg_is_ctl(c)) {
            if (!in_ctl)
                sl_buf_append(out, " ", 1);
            in_ctl = 1;
            continue;
        }
        in_ctl = 0;
        char ch = c >= 0x80 ? '?' : (char)c;
        sl_buf_append(out, &ch, 1);
    }
}
