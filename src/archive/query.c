/*
 * query.c - NLQ fields to a search (archive.h, docs/archive.md §4), authorisation, and
 * the text helpers the writer uses (image stripping, the indexed form).
 *
 * Safety of the FTS5 expression: the user's text never reaches FTS5 as syntax.  Every
 * value is cut into terms of [a-z0-9] here (the same cut the index's tokenizer makes of
 * the indexed text: tokenize.c, equal to unicode61 after sl_archive_norm), and each term
 * is written inside double quotes; the only syntax in the expression is what this file
 * writes: AND, OR, parentheses and a '*' after a closing quote.
 * tests/fuzz/fuzz_archive_query.c checks it.
 */
#include <stdio.h>
#include <string.h>

#include "arch_int.h"
#include "stateline/core.h"

static int is_alnum(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

void sl_archive_norm(const char *t, size_t len, struct sl_buf *out)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '\'' && i > 0 && i + 1 < len && is_alnum((unsigned char)t[i - 1]) &&
            is_alnum((unsigned char)t[i + 1])) {
            sl_buf_append(out, t + start, i - start);
            start = i + 1;
        }
    }
    sl_buf_append(out, t + start, len - start);
}

/* ---- image stripping ---- */

/* Byte classes of ASCII, by table (the writer looks at every byte it archives): the
 * base64 alphabet (letters, digits, + / =); bytes that are neither text nor a line break
 * (below 0x20 except TAB, LF, CR; 0x7f; and everything above, not in the table); '<'. */
#define C_B64 1
#define C_BIN 2
#define C_LT 4
static const unsigned char ascii_class[128] = {
    2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 2, 2, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    ['+'] = 1, ['/'] = 1, ['='] = 1, ['<'] = 4,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    [0x7f] = 2,
};

static int byte_class(unsigned char c) { return c < 128 ? ascii_class[c] : C_BIN; }
static int is_b64(int c) { return byte_class((unsigned char)c) & C_B64; }
static int is_bin(int c) { return byte_class((unsigned char)c) & C_BIN; }

#define B64_BLOCK_MIN 200 /* base64 characters in a block that is an image */
#define B64_LINE_MIN 60   /* a wrapped block's lines (MIME 76, PEM 64) are at least this */
#define BIN_RUN_MIN 16

static const char b64_tag[] = "BinaryBase64Object";

/* At t[i] == '<': when it opens an element whose local name is BinaryBase64Object, return
 * the index just past the '>' of the start tag and set *name_len to the qualified name's
 * length (name starts at i+1); else 0. */
static size_t b64_open(const char *t, size_t len, size_t i, size_t *name_len)
{
    size_t j = i + 1;
    while (j < len && (is_alnum((unsigned char)t[j]) || t[j] == ':' || t[j] == '_' ||
                       t[j] == '-' || t[j] == '.'))
        j++;
    size_t n = j - (i + 1), tl = sizeof b64_tag - 1;
    if (n < tl || memcmp(t + j - tl, b64_tag, tl) != 0 ||
        (n > tl && t[j - tl - 1] != ':'))
        return 0;
    size_t lim = i + 128 < len ? i + 128 : len; /* a start tag is short: never an image */
    while (j < lim && t[j] != '>' && t[j] != '<')
        j++;
    if (j >= lim || t[j] != '>' || t[j - 1] == '/') /* unterminated, or an empty element */
        return 0;
    *name_len = n;
    return j + 1;
}

/* Length of a binary run at t[i]. */
static size_t bin_run(const char *t, size_t len, size_t i)
{
    size_t j = i;
    while (j < len && is_bin((unsigned char)t[j]))
        j++;
    return j - i;
}

/* One base64 line from t[i].  Returns its end; *cnt gets its length. */
static size_t b64_seg(const char *t, size_t len, size_t i, size_t *cnt)
{
    size_t j = i;
    while (j < len && is_b64((unsigned char)t[j]))
        j++;
    *cnt = j - i;
    return j;
}

/* A base64 block from t[i]: lines of B64_LINE_MIN+ characters joined by CRLF or LF, the
 * last one of any length.  Returns its end and *cnt the base64 characters in it; *first
 * gets the end of its first line. */
static size_t b64_block(const char *t, size_t len, size_t i, size_t *cnt, size_t *first)
{
    size_t j = i, total = 0, end = i;
    *first = 0;
    for (;;) {
        size_t n;
        size_t k = b64_seg(t, len, j, &n);
        if (!*first)
            *first = k;
        total += n;
        end = k;
        if (n < B64_LINE_MIN)
            break;
        size_t m = k;
        if (m < len && t[m] == '\r')
            m++;
        if (m >= len || t[m] != '\n')
            break;
        m++;
        if (m >= len || !is_b64((unsigned char)t[m]))
            break;
        j = m;
    }
    *cnt = total;
    return end;
}

/* Is the last character written (the pending verbatim run t[keep, i), else what out
 * holds) one of set?  Nothing written yet counts as yes. */
static int last_is(const struct sl_buf *out, const char *t, size_t keep, size_t i,
                   const char *set)
{
    char c;
    if (i > keep)
        c = t[i - 1];
    else if (out->len == out->off)
        return 1;
    else
        c = (char)out->data[out->len - 1];
    return c && strchr(set, c) != NULL;
}

/* Image elements, IMG/ values and base64 blocks of t (which holds no binary bytes).
 * Text is copied lazily: t[keep, i) is known to be kept verbatim and is appended in one
 * piece only when a mark follows or the text ends, so a message without images (nearly
 * all of them) costs one scan and one copy. */
static int strip_text(const char *t, size_t len, struct sl_buf *out)
{
    int marks = 0;
    size_t i = 0, keep = 0;
    while (i < len) {
        unsigned char c = (unsigned char)t[i];
        size_t nl, body;
        if (c == '<' && (body = b64_open(t, len, i, &nl)) != 0) {
            sl_buf_append(out, t + keep, body - keep);
            sl_buf_append_str(out, SL_ARCHIVE_IMAGE_MARK);
            marks++;
            /* find "</" + name + ">" */
            size_t k = body;
            for (; k + 3 + nl <= len; k++)
                if (t[k] == '<' && t[k + 1] == '/' && memcmp(t + k + 2, t + i + 1, nl) == 0 &&
                    t[k + 2 + nl] == '>')
                    break;
            if (k + 3 + nl > len) /* no end tag: the rest is the image */
                return marks;
            i = keep = k;
            continue;
        }
        if (c == 'I' && i + 4 <= len && memcmp(t + i, "IMG/", 4) == 0 &&
            last_is(out, t, keep, i, ".\n\r ")) {
            sl_buf_append(out, t + keep, i - keep);
            sl_buf_append(out, "IMG/" SL_ARCHIVE_IMAGE_MARK,
                          4 + sizeof SL_ARCHIVE_IMAGE_MARK - 1);
            marks++;
            i += 4;
            while (i < len && t[i] != '.' && t[i] != '\n' && t[i] != '\r')
                i++;
            keep = i;
            continue;
        }
        if (is_b64(c)) {
            size_t cnt, first;
            size_t end = b64_block(t, len, i, &cnt, &first);
            if (cnt >= B64_BLOCK_MIN) {
                sl_buf_append(out, t + keep, i - keep);
                sl_buf_append_str(out, SL_ARCHIVE_IMAGE_MARK);
                marks++;
                i = keep = end;
            } else {
                i = first;
            }
            continue;
        }
        i++;
    }
    sl_buf_append(out, t + keep, len - keep);
    return marks;
}

/* For sl_arch_plain, by table over all 256 byte values: P_B64 the base64 alphabet but
 * '/', P_SLASH '/', P_BAD a binary byte (ascii_class C_BIN, and every byte above 0x7f)
 * or '<', 0 the rest (text that ends a base64 run). */
#define P_B64 1
#define P_SLASH 2
#define P_BAD 4
#define P_BIN_ROW P_BAD, P_BAD, P_BAD, P_BAD, P_BAD, P_BAD, P_BAD, P_BAD
#define P_BIN_16 P_BIN_ROW, P_BIN_ROW
static const unsigned char plain_class[256] = {
    P_BAD, P_BAD, P_BAD, P_BAD, P_BAD, P_BAD, P_BAD, P_BAD, P_BAD, 0, 0, P_BAD, P_BAD, 0,
    P_BAD, P_BAD, P_BIN_16,
    ['+'] = P_B64, ['/'] = P_SLASH, ['='] = P_B64, ['<'] = P_BAD,
    ['0'] = P_B64, ['1'] = P_B64, ['2'] = P_B64, ['3'] = P_B64, ['4'] = P_B64,
    ['5'] = P_B64, ['6'] = P_B64, ['7'] = P_B64, ['8'] = P_B64, ['9'] = P_B64,
    ['A'] = P_B64, ['B'] = P_B64, ['C'] = P_B64, ['D'] = P_B64, ['E'] = P_B64, ['F'] = P_B64,
    ['G'] = P_B64, ['H'] = P_B64, ['I'] = P_B64, ['J'] = P_B64, ['K'] = P_B64, ['L'] = P_B64,
    ['M'] = P_B64, ['N'] = P_B64, ['O'] = P_B64, ['P'] = P_B64, ['Q'] = P_B64, ['R'] = P_B64,
    ['S'] = P_B64, ['T'] = P_B64, ['U'] = P_B64, ['V'] = P_B64, ['W'] = P_B64, ['X'] = P_B64,
    ['Y'] = P_B64, ['Z'] = P_B64,
    ['a'] = P_B64, ['b'] = P_B64, ['c'] = P_B64, ['d'] = P_B64, ['e'] = P_B64, ['f'] = P_B64,
    ['g'] = P_B64, ['h'] = P_B64, ['i'] = P_B64, ['j'] = P_B64, ['k'] = P_B64, ['l'] = P_B64,
    ['m'] = P_B64, ['n'] = P_B64, ['o'] = P_B64, ['p'] = P_B64, ['q'] = P_B64, ['r'] = P_B64,
    ['s'] = P_B64, ['t'] = P_B64, ['u'] = P_B64, ['v'] = P_B64, ['w'] = P_B64, ['x'] = P_B64,
    ['y'] = P_B64, ['z'] = P_B64,
    [0x7f] = P_BAD,
    [0x80] = P_BIN_16, P_BIN_16, P_BIN_16, P_BIN_16, P_BIN_16, P_BIN_16, P_BIN_16, P_BIN_16,
};

/* sl_arch_plain's answer a byte at a time: letters and digits cost a table look-up each,
 * a run is measured when it ends, and "IMG/" is looked for only at a '/'. */
static int plain_bytes(const unsigned char *p, size_t len)
{
    size_t i = 0, run = 0; /* the current base64 run starts at run */
    for (;;) {
        while (i < len && plain_class[p[i]] == P_B64)
            i++;
        if (i >= len)
            break;
        unsigned k = plain_class[p[i]];
        if (k == 0) {
            if (i - run >= B64_LINE_MIN)
                return 0;
            run = i + 1;
        } else if (k == P_SLASH) {
            if (i >= 3 && p[i - 3] == 'I' && p[i - 2] == 'M' && p[i - 1] == 'G')
                return 0;
        } else {
            return 0;
        }
        i++;
    }
    return len - run < B64_LINE_MIN;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define W_ONES 0x0101010101010101ull
#define W_HIGH 0x8080808080808080ull
/* Nonzero when a byte of w is zero (exact as a yes/no, not as to which byte). */
#define W_ZERO(w) (((w) - W_ONES) & ~(w) & W_HIGH)
/* Nonzero when a byte of w equals c. */
#define W_HAS(w, c) W_ZERO((w) ^ ((c) * W_ONES))
#endif

/* Nothing to strip: no binary byte, no '<', no "IMG/", and no base64 run of
 * B64_LINE_MIN characters (every block of B64_BLOCK_MIN starts with one).  Then
 * strip_text would copy t unchanged.  Every message the switch sends passes here, so it
 * reads eight bytes at a time: a byte above 0x7e or a '<' answers no at once; a word
 * with a byte below 0x20 or a '/' is looked at byte by byte (TAB, CR, LF are text;
 * "IMG/"); and a run of base64 characters is bounded by words: a run of 60 spans at
 * least five whole words (seven bytes may stand before the first, seven after the
 * last), so while no five words in a row lack a space and a byte below 0x20, there is
 * none, and when five do, plain_bytes decides. */
int sl_arch_plain(const char *t, size_t len)
{
    const unsigned char *p = (const unsigned char *)t;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (len < 8)
        return plain_bytes(p, len);
    unsigned dense = 0; /* words in a row with neither a space nor a byte below 0x20 */
    for (size_t i = 0;; i += 8) {
        if (i + 8 > len)
            i = len - 8; /* the last word: overlaps the one before, judged again alike */
        uint64_t w;
        memcpy(&w, p + i, 8);
        if ((w & W_HIGH) || W_HAS(w, 0x7f) || W_HAS(w, '<'))
            return 0;
        uint64_t ctl = (w - 0x20 * W_ONES) & ~w & W_HIGH; /* a byte below 0x20 */
        if (ctl || W_HAS(w, '/')) {
            for (size_t j = i; j < i + 8; j++) {
                unsigned char c = p[j];
                if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                    return 0;
                if (c == '/' && j >= 3 && p[j - 3] == 'I' && p[j - 2] == 'M' &&
                    p[j - 1] == 'G')
                    return 0;
            }
        }
        if (ctl || W_HAS(w, ' '))
            dense = 0;
        else if (++dense >= 5)
            return plain_bytes(p, len);
        if (i + 8 >= len)
            return 1;
    }
#else
    return plain_bytes(p, len);
#endif
}

/* Binary bytes go first (short runs dropped, long ones a mark), so that what is left is
 * judged as the text it will be stored as: this is what makes stripping idempotent. */
int sl_archive_strip_images(const char *t, size_t len, struct sl_buf *out)
{
    if (sl_arch_plain(t, len)) {
        sl_buf_append(out, t, len);
        return 0;
    }
    struct sl_buf clean = SL_BUF_INIT;
    int marks = 0;
    size_t i = 0, start = 0;
    while (i < len) {
        if (!is_bin((unsigned char)t[i])) {
            i++;
            continue;
        }
        sl_buf_append(&clean, t + start, i - start);
        size_t b = bin_run(t, len, i);
        if (b >= BIN_RUN_MIN) {
            sl_buf_append_str(&clean, SL_ARCHIVE_IMAGE_MARK);
            marks++;
        }
        i += b;
        start = i;
    }
    if (start == 0)
        return strip_text(t, len, out);
    sl_buf_append(&clean, t + start, len - start);
    marks += strip_text(clean.data ? (const char *)clean.data : "", clean.len, out);
    sl_buf_free(&clean);
    return marks;
}

/* ---- time ---- */

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int num(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int sl_archive_parse_time(const char *s, size_t len, int end_of, int64_t *out)
{
    int y, mo, d, hh = 0, mm = 0;
    if ((len != 8 && len != 13) || num(s, 4, &y) < 0 || num(s + 4, 2, &mo) < 0 ||
        num(s + 6, 2, &d) < 0)
        return -1;
    if (len == 13 && (s[8] != '@' || num(s + 9, 2, &hh) < 0 || num(s + 11, 2, &mm) < 0 ||
                      hh > 23 || mm > 59))
        return -1;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap))
        return -1;
    int64_t t = days_from_civil(y, mo, d) * 86400 + hh * 3600 + mm * 60;
    if (end_of)
        t += len == 8 ? 86399 : 59;
    *out = t;
    return 0;
}

/* ---- the FTS5 expression ---- */

struct expr {
    char *p;
    size_t len, cap;
    int overflow;
};

static void put(struct expr *e, const char *s, size_t n)
{
    if (e->len + n + 1 > e->cap) {
        e->overflow = 1;
        return;
    }
    memcpy(e->p + e->len, s, n);
    e->len += n;
    e->p[e->len] = '\0';
}

static void puts_(struct expr *e, const char *s) { put(e, s, strlen(s)); }

/* Cut v into terms of letters/digits (apostrophes between two of them ignored, as in the
 * index).  mode 0: a phrase "w1 w2 ..." (FND/AND/ORR); mode 1: name parts "p1" AND
 * "p2"* ...  Returns the number of terms, or -1 with err. */
static int terms(const char *pfx, const char *v, size_t n, int name, struct expr *e,
                 char *err, size_t errlen)
{
    int nt = 0;
    size_t i = 0;
    if (!name)
        puts_(e, "\"");
    while (i < n) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c > 0x7e) {
            snprintf(err, errlen, "%s MUST BE PRINTABLE CHARACTERS", pfx);
            return -1;
        }
        if (!is_alnum(c)) {
            if (name && c == '*') {
                snprintf(err, errlen,
                         "NAM: A '*' WILDCARD MUST FOLLOW A LETTER OR DIGIT OF A NAME PART");
                return -1;
            }
            i++;
            continue;
        }
        char term[128];
        size_t tl = 0;
        while (i < n) {
            c = (unsigned char)v[i];
            if (is_alnum(c)) {
                if (tl < sizeof term - 1)
                    term[tl++] = (char)lower(c);
                i++;
            } else if (c == '\'' && i + 1 < n && is_alnum((unsigned char)v[i + 1])) {
                i++;
            } else {
                break;
            }
        }
        int prefix = 0;
        if (name && i < n && v[i] == '*') {
            prefix = 1;
            i++;
            if (i < n && (is_alnum((unsigned char)v[i]) || v[i] == '*')) {
                snprintf(err, errlen, "NAM: A '*' WILDCARD MUST END A NAME PART");
                return -1;
            }
        }
        if (name) {
            if (nt)
                puts_(e, " AND ");
            puts_(e, "\"");
            put(e, term, tl);
            puts_(e, prefix ? "\"*" : "\"");
        } else {
            if (nt)
                puts_(e, " ");
            put(e, term, tl);
        }
        nt++;
    }
    if (!name)
        puts_(e, "\"");
    if (nt == 0) {
        snprintf(err, errlen, "%s HAS NO LETTERS OR DIGITS TO SEARCH FOR", pfx);
        return -1;
    }
    if (nt > (name ? SL_ARCHIVE_MAX_TERMS : 64)) {
        snprintf(err, errlen, "%s HAS TOO MANY %s", pfx, name ? "NAME PARTS" : "WORDS");
        return -1;
    }
    return nt;
}

/* ---- NLQ fields ---- */

static int addr_ok(const struct sl_field *f)
{
    if (f->len != 2 && f->len != SL_ORI_LEN)
        return 0;
    for (uint32_t i = 0; i < f->len; i++) {
        char c = f->val[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

static int parse_typ(const struct sl_field *f, struct sl_archive_query *q, char *err,
                     size_t errlen)
{
    const char *v = f->val;
    size_t n = f->len;
    if (n < 1 || n > 100) {
        snprintf(err, errlen, "TYP MUST BE ALL OR MESSAGE KEYS SEPARATED BY ',', AT MOST 100 "
                              "CHARACTERS");
        return -1;
    }
    if (n == 3 && memcmp(v, "ALL", 3) == 0) {
        q->all = 1;
        return 0;
    }
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && v[a] == ' ')
            a++;
        while (b > a && v[b - 1] == ' ')
            b--;
        size_t kl = b - a;
        int ok = kl >= 2 && kl <= 3;
        for (size_t k = a; ok && k < b; k++)
            ok = v[k] >= 'A' && v[k] <= 'Z';
        if (!ok) {
            snprintf(err, errlen, "TYP: '%.*s' IS NOT A MESSAGE KEY (2-3 LETTERS)",
                     (int)(kl > 10 ? 10 : kl), v + a);
            return -1;
        }
        char key[4] = {0};
        memcpy(key, v + a, kl);
        int dup = 0;
        for (int k = 0; k < q->nkeys; k++)
            dup |= strcmp(q->keys[k], key) == 0;
        if (!dup) {
            if (q->nkeys == SL_ARCHIVE_MAX_KEYS) {
                snprintf(err, errlen, "TYP: AT MOST %d KEYS", SL_ARCHIVE_MAX_KEYS);
                return -1;
            }
            memcpy(q->keys[q->nkeys++], key, 4);
        }
        i = j + 1;
    }
    return 0;
}

static void echo(struct sl_archive_query *q, const struct sl_field *f)
{
    size_t l = strlen(q->what);
    if (l + 8 >= sizeof q->what)
        return;
    int n = snprintf(q->what + l, sizeof q->what - l, "%s%s/", l ? "." : "", f->pfx);
    l += (size_t)n;
    for (uint32_t i = 0; i < f->len && l + 1 < sizeof q->what; i++) {
        unsigned char c = (unsigned char)f->val[i];
        q->what[l++] = c >= 0x20 && c <= 0x7e ? (char)c : ' ';
    }
    q->what[l] = '\0';
}

int sl_archive_query_parse(const struct sl_msg *m, struct sl_archive_query *q, char *err,
                           size_t errlen)
{
    memset(q, 0, sizeof *q);
    err[0] = '\0';
    static const char *const known[] = {"TYP", "SRC", "DST", "BEG", "END",
                                        "FND", "AND", "ORR", "NAM"};
    for (int i = 0; i < m->nfields; i++) {
        int k = 0, seen = 0;
        while (k < 9 && strcmp(m->fields[i].pfx, known[k]) != 0)
            k++;
        if (k == 9) {
            snprintf(err, errlen, "FIELD %.3s NOT VALID FOR NLQ", m->fields[i].pfx);
            return -1;
        }
        for (int j = 0; j < i; j++)
            seen |= strcmp(m->fields[j].pfx, m->fields[i].pfx) == 0;
        if (seen) {
            snprintf(err, errlen, "FIELD %.3s GIVEN TWICE", m->fields[i].pfx);
            return -1;
        }
        echo(q, &m->fields[i]);
    }
    const struct sl_field *typ = sl_msg_field(m, "TYP"), *src = sl_msg_field(m, "SRC"),
                          *dst = sl_msg_field(m, "DST"), *beg = sl_msg_field(m, "BEG"),
                          *end = sl_msg_field(m, "END"), *fnd = sl_msg_field(m, "FND"),
                          *and_ = sl_msg_field(m, "AND"), *orr = sl_msg_field(m, "ORR"),
                          *nam = sl_msg_field(m, "NAM");
    if (!typ || !beg || !end) {
        snprintf(err, errlen, "%s MISSING", !typ ? "TYP" : !beg ? "BEG" : "END");
        return -1;
    }
    if (!fnd == !nam) {
        snprintf(err, errlen, fnd ? "FND AND NAM CANNOT BOTH BE GIVEN" : "FND OR NAM MISSING");
        return -1;
    }
    if ((and_ || orr) && !fnd) {
        snprintf(err, errlen, "AND AND ORR ARE ALLOWED ONLY WITH FND");
        return -1;
    }
    if (parse_typ(typ, q, err, errlen) < 0)
        return -1;
    const struct sl_field *ad[2] = {src, dst};
    char *to[2] = {q->src, q->dst};
    for (int i = 0; i < 2; i++) {
        if (!ad[i])
            continue;
        if (!addr_ok(ad[i])) {
            snprintf(err, errlen, "%s MUST BE A 2-CHARACTER MEMBER CODE OR A 9-CHARACTER ORI",
                     i ? "DST" : "SRC");
            return -1;
        }
        memcpy(to[i], ad[i]->val, ad[i]->len);
        to[i][ad[i]->len] = '\0';
    }
    if (sl_archive_parse_time(beg->val, beg->len, 0, &q->beg) < 0 ||
        sl_archive_parse_time(end->val, end->len, 1, &q->end) < 0) {
        snprintf(err, errlen, "%s MUST BE CCYYMMDD OR CCYYMMDD@HHMM (UTC), A REAL DATE FROM 1970",
                 sl_archive_parse_time(beg->val, beg->len, 0, &q->beg) < 0 ? "BEG" : "END");
        return -1;
    }
    if (q->beg > q->end) {
        snprintf(err, errlen, "BEG IS AFTER END");
        return -1;
    }
    struct expr e = {q->fts, 0, sizeof q->fts, 0};
    q->fts[0] = '\0';
    if (nam) {
        q->mode = SL_ARCHIVE_NAM;
        if (nam->len < 1 || nam->len > 30) {
            snprintf(err, errlen, "NAM MUST BE 1-30 CHARACTERS");
            return -1;
        }
        if (terms("NAM", nam->val, nam->len, 1, &e, err, errlen) < 0)
            return -1;
    } else {
        q->mode = SL_ARCHIVE_FND;
        const struct sl_field *tf[3] = {fnd, and_, orr};
        for (int i = 0; i < 3; i++)
            if (tf[i] && (tf[i]->len < 1 || tf[i]->len > 100)) {
                snprintf(err, errlen, "%s MUST BE 1-100 CHARACTERS", tf[i]->pfx);
                return -1;
            }
        /* (FND AND AND) OR ORR */
        if (orr)
            puts_(&e, "(");
        if (terms("FND", fnd->val, fnd->len, 0, &e, err, errlen) < 0)
            return -1;
        if (and_) {
            puts_(&e, " AND ");
            if (terms("AND", and_->val, and_->len, 0, &e, err, errlen) < 0)
                return -1;
        }
        if (orr) {
            puts_(&e, ") OR ");
            if (terms("ORR", orr->val, orr->len, 0, &e, err, errlen) < 0)
                return -1;
        }
    }
    if (e.overflow) {
        snprintf(err, errlen, "SEARCH TEXT TOO LONG");
        return -1;
    }
    return 0;
}

/* ---- authorisation ---- */

int sl_arch_withheld(const char *key)
{
    return strcmp(key, "NLQ") == 0 || strcmp(key, "NFQ") == 0 || strcmp(key, "NLR") == 0 ||
           strcmp(key, "NFR") == 0;
}

int sl_arch_key_visible(const struct sl_ori *who, const char *key)
{
    if (!who)
        return !sl_arch_withheld(key);
    const struct sl_key_info *k = sl_key_lookup(key);
    return k && !sl_arch_withheld(key) && strchr(who->cats, k->category) != NULL &&
           k->category != '\0';
}

int sl_archive_authorise(const struct sl_ori *who, struct sl_archive_query *q,
                         struct sl_buf *out)
{
    if (!who) {
        sl_buf_append_str(out, "SEARCH REFUSED - THE REQUESTER IS NOT IN THE DIRECTORY\n");
        return -1;
    }
    if (who->status != 'A') {
        sl_buf_printf(out, "SEARCH REFUSED - ORI %s IS NOT ACTIVE\n", who->ori);
        return -1;
    }
    if (!who->rand) {
        sl_buf_printf(out, "SEARCH REFUSED - ORI %s IS NOT AUTHORIZED TO SEARCH THE ARCHIVE\n",
                      who->ori);
        return -1;
    }
    if (q->all) {
        int hidden = 0;
        q->nkeys = 0;
        for (int i = 0; sl_key_at(i); i++) {
            const char *k = sl_key_at(i)->key;
            if (sl_arch_withheld(k))
                continue;
            if (!sl_arch_key_visible(who, k)) {
                hidden++;
                continue;
            }
            if (q->nkeys < SL_ARCHIVE_MAX_KEYS)
                memcpy(q->keys[q->nkeys++], k, strlen(k) + 1);
        }
        if (hidden)
            sl_buf_printf(out,
                          "WARNING - TYP/ALL COVERS ONLY THE KEYS OF ACCESS CATEGORIES %s: %d "
                          "KEYS DROPPED\n",
                          who->cats[0] ? who->cats : "(NONE)", hidden);
    } else {
        int kept = 0;
        for (int i = 0; i < q->nkeys; i++) {
            const char *k = q->keys[i];
            const struct sl_key_info *ki = sl_key_lookup(k);
            if (!ki)
                sl_buf_printf(out, "WARNING - %s IS NOT A MESSAGE KEY - DROPPED\n", k);
            else if (sl_arch_withheld(k))
                sl_buf_printf(out, "WARNING - %s - SEARCHES OF THE ARCHIVE ARE WITHHELD - "
                                   "DROPPED\n", k);
            else if (!sl_arch_key_visible(who, k))
                sl_buf_printf(out, "WARNING - %s NEEDS ACCESS CATEGORY %c - NOT AUTHORIZED - "
                                   "DROPPED\n", k, ki->category);
            else {
                memmove(q->keys[kept++], k, 4);
                continue;
            }
        }
        q->nkeys = kept;
    }
    if (q->nkeys == 0) {
        sl_buf_printf(out, "SEARCH REFUSED - NO REQUESTED MESSAGE TYPE IS AUTHORIZED FOR ORI %s\n",
                      who->ori);
        return -1;
    }
    return 0;
}
