/*
 * msg.c - parse and format the Nlets legacy input form (msg.h).
 *
 * Reads and writes
 *
 *     MKE.SENDERORI.DEST1[.DEST2 .. .DEST5][.CONTROL].TXT[CR LF DEL]PFX/value.PFX/value
 *
 * MKE is 2-3 upper-case letters and must be in the key table; the sender ORI is 9
 * upper-case letters/digits; destinations are 2 or 9 of them (kinds in msg.h); the
 * control field is 1-10 of [A-Z0-9-] and is told from a destination by the rule in msg.h;
 * then TXT.  Every header byte is checked, so nothing but these characters can reach an
 * output header.  The body is cleaned of control bytes into one allocation (m->text) and,
 * for field keys, split into PFX/value fields pointing into it.
 *
 * Cost: one pass over the header (at most 6 tokens of at most 10 bytes), one pass over
 * the body to copy it, one pass to split it.  No allocation besides m->text.
 */
#include "msg_int.h"
#include "stateline/core.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most 5 destinations + 1 control field between the sender ORI and TXT; one more token
 * is enough to know there are too many. */
#define MAX_TOKENS (SL_MSG_MAX_DEST + 2)
#define TOKEN_MAX 10

int sl_msg_all_alnum(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!sl_msg_is_alnum((unsigned char)s[i]))
            return 0;
    return 1;
}

void sl_msg_show(char *dst, size_t dstsize, const char *s, size_t n, size_t max)
{
    size_t o = 0;
    if (dstsize == 0)
        return;
    for (size_t i = 0; i < n && i < max && o + 1 < dstsize; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > max)
        for (int k = 0; k < 3 && o + 1 < dstsize; k++)
            dst[o++] = '.';
    dst[o] = '\0';
}

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

unsigned sl_msg_dest_kind(const char *t, size_t n)
{
    if (n == 2) {
        int a = (unsigned char)t[0], b = (unsigned char)t[1];
        if (a == 'N' && b == 'L')
            return SL_DEST_NL;
        if (sl_msg_is_upper(a) && sl_msg_is_upper(b))
            return SL_DEST_STATE;
        if (sl_msg_is_upper(a) && sl_msg_is_digit(b))
            return SL_DEST_REGION;
        return 0;
    }
    if (n == SL_ORI_LEN && sl_msg_all_alnum(t, n))
        return SL_DEST_ORI;
    return 0;
}

int sl_msg_ctl_valid(const char *s, size_t n)
{
    if (n < 1 || n > SL_MSG_CTL_MAX)
        return 0;
    if (n >= 3 && s[0] == 'T' && s[1] == 'X' && s[2] == 'T')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!sl_msg_is_alnum((unsigned char)s[i]) && s[i] != '-')
            return 0;
    return 1;
}

int sl_msg_last_is_ctl(const struct sl_key_info *k, const char *tok, size_t len)
{
    if (k->max_dest == 1)
        return 1;
    int shaped2 = len == 2 && sl_msg_all_alnum(tok, 2);
    int shaped9 = len == SL_ORI_LEN && sl_msg_all_alnum(tok, len);
    if (!shaped2 && !shaped9)
        return 1;
    if (shaped2 && !(k->dest_kinds & (SL_DEST_STATE | SL_DEST_REGION | SL_DEST_NL)))
        return 1;
    if (shaped9 && !(k->dest_kinds & SL_DEST_ORI))
        return 1;
    return 0;
}

/* "one state code or NL", for .19. details. */
static void kinds_text(unsigned kinds, int max, char *out, size_t outlen)
{
    const char *parts[4];
    int n = 0;
    if (kinds & SL_DEST_STATE)
        parts[n++] = max == 1 ? "A STATE CODE" : "STATE CODES";
    if (kinds & SL_DEST_REGION)
        parts[n++] = max == 1 ? "A REGION CODE" : "REGION CODES";
    if (kinds & SL_DEST_ORI)
        parts[n++] = max == 1 ? "A 9-CHARACTER ORI" : "9-CHARACTER ORIS";
    if (kinds & SL_DEST_NL)
        parts[n++] = "NL";
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n && o < outlen; i++) {
        int w = snprintf(out + o, outlen - o, "%s%s", i == 0 ? "" : (i == n - 1 ? " OR " : ", "),
                         parts[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

static const char *kind_name(unsigned kind)
{
    switch (kind) {
    case SL_DEST_STATE: return "A STATE CODE";
    case SL_DEST_REGION: return "A REGION CODE";
    case SL_DEST_NL: return "NL";
    case SL_DEST_ORI: return "AN ORI";
    }
    return "NOT A DESTINATION";
}

void sl_msg_clear(struct sl_msg *m)
{
    free(m->text);
    m->key[0] = '\0';
    m->ori[0] = '\0';
    m->ndest = 0;
    m->ctl[0] = '\0';
    m->text = NULL;
    m->text_len = 0;
    m->nfields = 0;
    m->mid = 0;
}

/* Copy the body without control bytes.  Free text keeps LF (not leading ones). */
static int copy_body(const char *b, size_t n, int keep_lf, struct sl_msg *m,
                     struct sl_msg_err *err, size_t body_off)
{
    char *t = sl_xmalloc(n + 1);
    size_t o = 0, i = 0;
    /* Eight bytes at a time when none of them is a control byte (below 0x20, or 0x7f) or
     * above 0x7f -- the bytes a message is made of -- copied without a test per byte; a
     * chunk with anything else (a line break, say) is done byte by byte.  The tests are
     * the exact "has a byte less than n" and "has a zero byte" word tricks. */
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t x, y;
            memcpy(&x, b + i, 8);
            y = x ^ (ones * 0x7f);
            if (!(((x - ones * 0x20) & ~x & highs) | ((y - ones) & ~y & highs) | (x & highs))) {
                memcpy(t + o, &x, 8);
                o += 8;
                i += 8;
                continue;
            }
        }
        for (size_t end = i + 8 < n ? i + 8 : n; i < end; i++) {
            unsigned char c = (unsigned char)b[i];
            if (c >= 0x80) {
                t[o] = '\0';
                m->text = t;
                m->text_len = o;
                return set_err(err, SL_ER_FORMAT, "NON-ASCII BYTE 0X%02X AT OFFSET %zu", c,
                               body_off + i);
            }
            if (sl_msg_is_ctl(c)) {
                if (keep_lf && c == '\n' && o > 0)
                    t[o++] = '\n';
                continue;
            }
            t[o++] = (char)c;
        }
    }
    t[o] = '\0';
    m->text = t;
    m->text_len = o;
    return 0;
}

/* Split m->text into PFX/value fields. */
static int split_fields(struct sl_msg *m, struct sl_msg_err *err)
{
    const char *t = m->text;
    size_t n = m->text_len, i = 0;
    int seg = 0;
    for (;;) {
        const char *dot = memchr(t + i, '.', n - i);
        size_t e = dot ? (size_t)(dot - t) : n;
        size_t s = i, z = e;
        while (s < z && t[s] == ' ')
            s++;
        while (z > s && t[z - 1] == ' ')
            z--;
        seg++;
        if (s == z) {
            if (e == n)
                break; /* empty body, or the tolerated period after the last field */
            return set_err(err, SL_ER_FORMAT22, "EMPTY FIELD %d (TWO PERIODS IN A ROW)", seg);
        }
        if (z - s < 4 || !sl_msg_is_upper((unsigned char)t[s]) ||
            !sl_msg_is_upper((unsigned char)t[s + 1]) ||
            !sl_msg_is_upper((unsigned char)t[s + 2]) || t[s + 3] != '/') {
            char show[40];
            sl_msg_show(show, sizeof show, t + s, z - s, 20);
            return set_err(err, SL_ER_FORMAT22, "FIELD %d '%s' IS NOT PFX/VALUE", seg, show);
        }
        if (m->nfields >= SL_MSG_MAX_FIELDS)
            return set_err(err, SL_ER_FORMAT22, "MORE THAN %d FIELDS", SL_MSG_MAX_FIELDS);
        struct sl_field *f = &m->fields[m->nfields++];
        memcpy(f->pfx, t + s, 3);
        f->pfx[3] = '\0';
        size_t vs = s + 4;
        while (vs < z && t[vs] == ' ')
            vs++;
        f->val = t + vs;
        f->len = (uint32_t)(z - vs);
        if (e == n)
            break;
        i = e + 1;
    }
    return 0;
}

static int take_mid_echo(const struct sl_key_info *k, struct sl_msg_err *err, struct sl_msg *m);

int sl_msg_parse(const char *in, size_t len, struct sl_msg *m, struct sl_msg_err *err)
{
    char show[40];
    m->key[0] = m->ori[0] = m->ctl[0] = '\0';
    m->ndest = 0;
    m->text = NULL;
    m->text_len = 0;
    m->nfields = 0;
    err->code = SL_ER_NONE;
    err->detail[0] = '\0';

    /* Message key. */
    size_t p = 0;
    while (p < len && p < 4 && sl_msg_is_upper((unsigned char)in[p]))
        p++;
    if (p == 0)
        return set_err(err, SL_ER_FORMAT, len ? "MESSAGE DOES NOT BEGIN WITH A MESSAGE KEY"
                                               : "EMPTY MESSAGE");
    if (p > 3 || p < 2 || p >= len || in[p] != '.') {
        sl_msg_show(show, sizeof show, in, len, 12);
        return set_err(err, SL_ER_HEADER,
                       "MESSAGE KEY MUST BE 2 OR 3 LETTERS AND A PERIOD, GOT '%s'", show);
    }
    memcpy(m->key, in, p);
    m->key[p] = '\0';
    const struct sl_key_info *k = sl_key_lookup(m->key);
    if (!k)
        return set_err(err, SL_ER_HEADER, "UNKNOWN MESSAGE KEY %s", m->key);
    p++;

    /* Sender ORI. */
    if (len - p < SL_ORI_LEN + 1 || !sl_msg_all_alnum(in + p, SL_ORI_LEN) ||
        in[p + SL_ORI_LEN] != '.') {
        const char *dot = memchr(in + p, '.', len - p);
        size_t n = dot ? (size_t)(dot - (in + p)) : len - p;
        sl_msg_show(show, sizeof show, in + p, n, 12);
        return set_err(err, SL_ER_HEADER, "SENDER ORI '%s' IS NOT 9 LETTERS OR DIGITS", show);
    }
    memcpy(m->ori, in + p, SL_ORI_LEN);
    m->ori[SL_ORI_LEN] = '\0';
    p += SL_ORI_LEN + 1;

    /* Destinations and control field, up to TXT. */
    size_t toff[MAX_TOKENS], tlen[MAX_TOKENS];
    int ntok = 0;
    for (;;) {
        size_t rest = len - p;
        if (rest >= 3 && in[p] == 'T' && in[p + 1] == 'X' && in[p + 2] == 'T' &&
            !(rest > SL_ORI_LEN && in[p + SL_ORI_LEN] == '.' &&
              sl_msg_all_alnum(in + p, SL_ORI_LEN)))
            break;
        size_t n = 0;
        while (n < rest && in[p + n] != '.' && n <= TOKEN_MAX) {
            unsigned char c = (unsigned char)in[p + n];
            if (c == '/' || c == ' ' || sl_msg_is_ctl(c)) {
                sl_msg_show(show, sizeof show, in + p, rest, 20);
                return set_err(err, SL_ER_TXT, "EXPECTED TXT BEFORE '%s'", show);
            }
            n++;
        }
        if (n == rest || n > TOKEN_MAX) {
            sl_msg_show(show, sizeof show, in + p, rest, 20);
            return set_err(err, SL_ER_TXT, "EXPECTED A DESTINATION, CONTROL FIELD OR TXT AT '%s'",
                           show);
        }
        if (n == 0)
            return set_err(err, SL_ER_HEADER, "EMPTY HEADER FIELD AFTER %s",
                           ntok ? "A DESTINATION" : "THE SENDER ORI");
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)in[p + i];
            if (!sl_msg_is_alnum(c) && c != '-') {
                sl_msg_show(show, sizeof show, in + p, n, 12);
                return set_err(err, SL_ER_HEADER, "INVALID CHARACTER IN HEADER FIELD '%s'",
                               show);
            }
        }
        if (ntok == MAX_TOKENS)
            return set_err(err, SL_ER_DEST, "TOO MANY DESTINATIONS; %s TAKES AT MOST %d",
                           k->key, k->max_dest);
        toff[ntok] = p;
        tlen[ntok] = n;
        ntok++;
        p += n + 1;
    }
    p += 3; /* TXT */
    if (ntok == 0)
        return set_err(err, SL_ER_DEST, "NO DESTINATION");

    int ndest = ntok;
    if (ntok >= 2 && sl_msg_last_is_ctl(k, in + toff[ntok - 1], tlen[ntok - 1])) {
        const char *c = in + toff[ntok - 1];
        size_t n = tlen[ntok - 1];
        if (!sl_msg_ctl_valid(c, n)) {
            sl_msg_show(show, sizeof show, c, n, 12);
            return set_err(err, SL_ER_HEADER,
                           "CONTROL FIELD '%s' MUST BE 1-10 LETTERS, DIGITS OR '-' AND NOT "
                           "BEGIN WITH TXT", show);
        }
        memcpy(m->ctl, c, n);
        m->ctl[n] = '\0';
        ndest--;
    }
    if (ndest > k->max_dest)
        return set_err(err, SL_ER_DEST, "%d DESTINATIONS; %s TAKES AT MOST %d", ndest, k->key,
                       k->max_dest);
    for (int i = 0; i < ndest; i++) {
        const char *d = in + toff[i];
        size_t n = tlen[i];
        unsigned kind = sl_msg_dest_kind(d, n);
        sl_msg_show(show, sizeof show, d, n, 12);
        if (!kind)
            return set_err(err, SL_ER_DEST,
                           "DESTINATION '%s' IS NOT A 2-CHARACTER CODE OR A 9-CHARACTER ORI",
                           show);
        if (!(kind & k->dest_kinds)) {
            char kt[96];
            kinds_text(k->dest_kinds, k->max_dest, kt, sizeof kt);
            return set_err(err, SL_ER_DEST, "%s TAKES %s%s; %s IS %s", k->key,
                           k->max_dest == 1 ? "ONE DESTINATION: " : "", kt, show,
                           kind_name(kind));
        }
        for (int j = 0; j < i; j++)
            if (tlen[j] == n && memcmp(in + toff[j], d, n) == 0)
                return set_err(err, SL_ER_DEST, "DESTINATION %s REPEATED", show);
        memcpy(m->dest[i], d, n);
        m->dest[i][n] = '\0';
    }
    m->ndest = ndest;
    /* NL already means every state that takes the key: with others it means nothing. */
    if (ndest > 1)
        for (int i = 0; i < ndest; i++)
            if (strcmp(m->dest[i], "NL") == 0)
                return set_err(err, SL_ER_DEST, "NL MUST BE THE ONLY DESTINATION");

    m->mid = 0;
    if (sl_msg_take_body(k, in + p, len - p, p, m, err) < 0)
        return -1;
    return k->body == SL_BODY_TEXT ? take_mid_echo(k, err, m) : 0;
}

/* "MID/<id>" at b[0..n), n the line's length without its end: the id, or 0 when the line
 * is not 1-20 digits without a leading zero that fit in 64 bits. */
static uint64_t mid_value(const char *b, size_t n)
{
    if (n < 5 || n > 4 + SL_MID_DIGITS || memcmp(b, SL_MID_PREFIX, 4) != 0 || b[4] == '0')
        return 0;
    uint64_t v = 0;
    for (size_t i = 4; i < n; i++) {
        if (!sl_msg_is_digit((unsigned char)b[i]))
            return 0;
        uint64_t d = (uint64_t)(b[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    return v;
}

uint64_t sl_msg_mid_parse(const char *s, size_t n)
{
    return mid_value(s, n);
}

/* A free-text body whose first line (once cleaned) is MID/...: the echo of a switch
 * message id on a reply, taken out of the text; refused on anything else. */
static int take_mid_echo(const struct sl_key_info *k, struct sl_msg_err *err, struct sl_msg *m)
{
    if (!m->text || m->text_len < 4 || memcmp(m->text, SL_MID_PREFIX, 4) != 0)
        return 0;
    if (!sl_key_is_reply(k))
        return set_err(err, SL_ER_HEADER,
                       "MID/ IS WRITTEN BY THE SWITCH; ONLY A REPLY MAY ECHO IT AS ITS FIRST "
                       "LINE");
    const char *nl = memchr(m->text, '\n', m->text_len);
    size_t n = nl ? (size_t)(nl - m->text) : m->text_len;
    uint64_t v = mid_value(m->text, n);
    if (!v) {
        char show[40];
        sl_msg_show(show, sizeof show, m->text, n, 24);
        return set_err(err, SL_ER_HEADER,
                       "MID/ ECHO '%s' MUST BE 1-20 DIGITS WITHOUT A LEADING ZERO", show);
    }
    m->mid = v;
    /* the rest, without the line breaks that followed (a cleaned text never starts with
     * a control byte) */
    size_t skip = n;
    while (skip < m->text_len && m->text[skip] == '\n')
        skip++;
    memmove(m->text, m->text + skip, m->text_len - skip + 1);
    m->text_len -= skip;
    return 0;
}

int sl_msg_take_body(const struct sl_key_info *k, const char *b, size_t n, size_t off,
                     struct sl_msg *m, struct sl_msg_err *err)
{
    if (copy_body(b, n, k->body == SL_BODY_TEXT, m, err, off) < 0)
        return -1;
    if (k->body == SL_BODY_FIELDS)
        return split_fields(m, err);
    return 0;
}

const struct sl_field *sl_msg_field(const struct sl_msg *m, const char *pfx)
{
    for (int i = 0; i < m->nfields; i++)
        if (memcmp(m->fields[i].pfx, pfx, 4) == 0)
            return &m->fields[i];
    return NULL;
}

int sl_msg_format(const struct sl_msg *m, struct sl_buf *out)
{
    const struct sl_key_info *k = sl_key_lookup(m->key);
    if (!k || strcmp(k->key, m->key) != 0)
        return -1;
    if (strlen(m->ori) != SL_ORI_LEN || !sl_msg_all_alnum(m->ori, SL_ORI_LEN))
        return -1;
    if (m->ndest < 1 || m->ndest > k->max_dest)
        return -1;
    for (int i = 0; i < m->ndest; i++) {
        size_t n = strnlen(m->dest[i], sizeof m->dest[i]);
        unsigned kind = sl_msg_dest_kind(m->dest[i], n);
        if (!(kind & k->dest_kinds))
            return -1;
        for (int j = 0; j < i; j++)
            if (strcmp(m->dest[i], m->dest[j]) == 0)
                return -1;
        if (m->ndest > 1 && kind == SL_DEST_NL)
            return -1;
    }
    size_t cl = strnlen(m->ctl, sizeof m->ctl);
    if (cl && (!sl_msg_ctl_valid(m->ctl, cl) || !sl_msg_last_is_ctl(k, m->ctl, cl)))
        return -1;
    /* The body must come back unchanged from the parser: a MID/ echo only on a reply, and
     * no text that would read as one. */
    int textmode = k->body == SL_BODY_TEXT;
    if (m->mid && !sl_key_is_reply(k))
        return -1;
    if (!m->mid && textmode && m->text && m->text_len >= 4 &&
        memcmp(m->text, SL_MID_PREFIX, 4) == 0)
        return -1;
    if (m->text) {
        for (size_t i = 0; i < m->text_len; i++) {
            unsigned char c = (unsigned char)m->text[i];
            if (c >= 0x80 || (sl_msg_is_ctl(c) && !(textmode && c == '\n' && i > 0)))
                return -1;
        }
    } else {
        for (int i = 0; i < m->nfields; i++) {
            const struct sl_field *f = &m->fields[i];
            if (!sl_msg_is_upper((unsigned char)f->pfx[0]) ||
                !sl_msg_is_upper((unsigned char)f->pfx[1]) ||
                !sl_msg_is_upper((unsigned char)f->pfx[2]) || (f->len && !f->val))
                return -1;
            for (uint32_t j = 0; j < f->len; j++) {
                unsigned char c = (unsigned char)f->val[j];
                if (c < 0x20 || c >= 0x7f || c == '.')
                    return -1;
            }
            if (f->len && (f->val[0] == ' ' || f->val[f->len - 1] == ' '))
                return -1;
        }
    }

    sl_buf_append_str(out, m->key);
    sl_buf_append(out, ".", 1);
    sl_buf_append(out, m->ori, SL_ORI_LEN);
    for (int i = 0; i < m->ndest; i++) {
        sl_buf_append(out, ".", 1);
        sl_buf_append_str(out, m->dest[i]);
    }
    if (cl) {
        sl_buf_append(out, ".", 1);
        sl_buf_append(out, m->ctl, cl);
    }
    sl_buf_append(out, ".TXT\n", 5);
    if (m->mid)
        sl_buf_printf(out, SL_MID_PREFIX "%llu\n", (unsigned long long)m->mid);
    if (m->text) {
        sl_buf_append(out, m->text, m->text_len);
    } else {
        for (int i = 0; i < m->nfields; i++) {
            const struct sl_field *f = &m->fields[i];
            if (i)
                sl_buf_append(out, ".", 1);
            sl_buf_append(out, f->pfx, 3);
            sl_buf_append(out, "/", 1);
            if (f->len)
                sl_buf_append(out, f->val, f->len);
        }
    }
    return 0;
}
