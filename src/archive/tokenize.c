/*
 * tokenize.c - the archive's FTS5 tokenizer "stateline" (schema 3; docs/archive.md §2).
 *
 * It cuts exactly the terms that FTS5's unicode61 tokenizer (its defaults) cuts from
 * sl_archive_norm(text), which is what schema 2 indexed through the view's sl_norm():
 *   - a term is a maximal run of ASCII letters and digits, folded to lower case;
 *   - an apostrophe between two letters/digits joins them (O'BRIEN -> obrien), as
 *     sl_archive_norm removes it;
 *   - every other ASCII byte separates terms.
 * A text holding any byte above 0x7f (never, after image stripping: those bytes are
 * dropped before a body is stored; but a body written by hand with SQL might) is handed
 * to unicode61 itself after sl_archive_norm, so the equality holds for every text.
 * tests/unit/test_archive_tokenize.c checks the equality on real end-to-end traffic and
 * on odd bytes; tests/fuzz/fuzz_archive_tokenize.c on arbitrary input.
 *
 * Why: the writer tokenises every message it archives.  unicode61 decodes UTF-8 and
 * looks up Unicode tables for every character, and the view had to call sl_norm() on
 * every row; this is a table look-up per byte.  The offsets given to FTS5 (used only
 * by its highlight() and snippet(), which the archive does not use) are those of the
 * text as given, but for the unicode61 fallback, where they are those of the
 * normalised text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch_int.h"
#include "stateline/core.h"

/* One tokenizer instance (FTS5 creates one per table and connection, and calls it from
 * that connection's thread only): unicode61 for the texts with bytes above 0x7f, and
 * the buffer the terms are folded into (grown to the longest text seen, plus a word). */
struct sl_tok {
    fts5_tokenizer uni;
    Fts5Tokenizer *uni_tok;
    unsigned char *term;
    size_t cap;
};

static int tok_create(void *ctx, const char **argv, int argc, Fts5Tokenizer **out)
{
    fts5_api *api = ctx;
    (void)argv;
    *out = NULL;
    if (argc != 0) /* no options: the terms are fixed (docs/archive.md §2) */
        return SQLITE_ERROR;
    struct sl_tok *t = sqlite3_malloc(sizeof *t);
    if (!t)
        return SQLITE_NOMEM;
    memset(t, 0, sizeof *t);
    void *uctx = NULL;
    int rc = api->xFindTokenizer(api, "unicode61", &uctx, &t->uni);
    if (rc == SQLITE_OK)
        rc = t->uni.xCreate(uctx, NULL, 0, &t->uni_tok);
    if (rc != SQLITE_OK) {
        sqlite3_free(t);
        return rc;
    }
    *out = (Fts5Tokenizer *)t;
    return SQLITE_OK;
}

static void tok_delete(Fts5Tokenizer *p)
{
    struct sl_tok *t = (struct sl_tok *)p;
    if (t) {
        t->uni.xDelete(t->uni_tok);
        sqlite3_free(t->term);
        sqlite3_free(t);
    }
}

/* The terms are found eight bytes at a time (the text is ASCII here): a byte is a letter
 * or digit when it lies in '0'..'9', or, with 0x20 set (which folds A-Z onto a-z and maps
 * nothing else there), in 'a'..'z'.  For 7-bit bytes, (b | 0x80) - lo has its top bit set
 * exactly when b >= lo, and (hi | 0x80) - b when b <= hi, with no borrow between bytes. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tokenize.c finds the first byte of a word with ctz: it needs a little-endian CPU"
#endif
#define ONES 0x0101010101010101ull
#define HIGH 0x8080808080808080ull
#define FOLD 0x2020202020202020ull

/* Top bit of each byte of w that is a letter or digit. */
static inline uint64_t alnum_bits(uint64_t w)
{
    uint64_t digit = ((w | HIGH) - '0' * ONES) & ((HIGH | '9' * ONES) - w);
    uint64_t x = w | FOLD;
    uint64_t letter = ((x | HIGH) - 'a' * ONES) & ((HIGH | 'z' * ONES) - x);
    return (digit | letter) & HIGH;
}

/* Eight bytes from s[i]; past n, zero bytes (not letters: they end a term). */
static inline uint64_t word_at(const unsigned char *s, size_t i, size_t n)
{
    uint64_t w = 0;
    if (n - i >= 8) {
        memcpy(&w, s + i, 8); /* one load */
    } else {
        for (size_t k = 0; i + k < n; k++)
            w |= (uint64_t)s[i + k] << (8 * k);
    }
    return w;
}

/* Any byte above 0x7f in s[0, n)?  Eight at a time. */
static int has_high(const unsigned char *s, size_t n)
{
    size_t i = 0;
    uint64_t acc = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= s[i];
    return (acc & HIGH) != 0;
}

static int is_term_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

typedef int (*tok_fn)(void *, int, const char *, int, int, int);

static int tok_tokenize(Fts5Tokenizer *p, void *ctx, int flags, const char *text, int ntext,
                        tok_fn emit)
{
    struct sl_tok *t = (struct sl_tok *)p;
    const unsigned char *s = (const unsigned char *)text;
    size_t n = ntext > 0 ? (size_t)ntext : 0;
    if (has_high(s, n)) {
        struct sl_buf b = SL_BUF_INIT;
        sl_archive_norm(text, n, &b);
        int rc = t->uni.xTokenize(t->uni_tok, ctx, flags, b.data ? (const char *)b.data : "",
                                  (int)b.len, emit);
        sl_buf_free(&b);
        return rc;
    }
    /* a term is at most the text; each step stores a whole word */
    if (t->cap < n + 8) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < n + 8)
            cap *= 2;
        unsigned char *term = sqlite3_realloc64(t->term, cap);
        if (!term)
            return SQLITE_NOMEM;
        t->term = term;
        t->cap = cap;
    }
    unsigned char *term = t->term;
    size_t i = 0;
    uint64_t next = 0; /* letters/digits at i and on, as the last word loaded showed them */
    for (;;) {
        uint64_t m = next;
        while (!m) { /* to the next letter or digit */
            if (i >= n)
                return SQLITE_OK;
            m = alnum_bits(word_at(s, i, n));
            if (!m)
                i += 8;
        }
        i += (size_t)__builtin_ctzll(m) >> 3;
        size_t start = i, len = 0;
        for (;;) {
            uint64_t w = word_at(s, i, n);
            uint64_t in = alnum_bits(w), end = ~in & HIGH;
            w |= FOLD; /* lower case, for the letters and digits it keeps */
            memcpy(term + len, &w, 8);
            if (!end) {
                len += 8;
                i += 8;
                continue;
            }
            size_t k = (size_t)__builtin_ctzll(end) >> 3;
            len += k;
            i += k;
            /* O'BRIEN: the apostrophe goes, the term goes on (sl_archive_norm) */
            if (i + 1 < n && s[i] == '\'' && is_term_char(s[i + 1])) {
                i++;
                continue;
            }
            /* s[i] ends the term; the rest of this word tells where the next one starts */
            next = k < 7 ? in >> (8 * (k + 1)) : 0;
            break;
        }
        int rc = emit(ctx, 0, (const char *)term, (int)len, (int)start, (int)i);
        if (rc != SQLITE_OK)
            return rc;
        if (i >= n)
            return SQLITE_OK;
        i++;
    }
}

/* fts5_api of a connection (SQLite's documented way: SELECT fts5(?) with a pointer). */
static fts5_api *fts5_of(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &s, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(s);
    sqlite3_finalize(s);
    return api;
}

int sl_arch_tokenizer_register(sqlite3 *db)
{
    fts5_api *api = fts5_of(db);
    if (!api)
        return SQLITE_ERROR;
    fts5_tokenizer tok = {tok_create, tok_delete, tok_tokenize};
    return api->xCreateTokenizer(api, SL_ARCHIVE_TOKENIZER, api, &tok, NULL);
}
