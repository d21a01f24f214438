/*
 * test_archive_tokenize.c - the archive's FTS5 tokenizer (src/archive/tokenize.c,
 * schema 3) cuts exactly the terms that FTS5's unicode61 cut from sl_archive_norm(text)
 * (schema 2): the same terms, in the same order (so the same positions, and phrases match
 * alike), on real end-to-end traffic (tests/data/archive_e2e_bodies.txt), on that traffic
 * with odd bytes, apostrophes and long terms mixed in, and on edge cases.  Then the same
 * at the level of a whole index: the terms and positions FTS5 holds (fts5vocab) for one
 * table of each kind over the same rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "stateline/archive.h"
#include "stateline/buf.h"

/* Terms as one text: each term, then '\n'. */
static int collect(void *ctx, int flags, const char *tok, int n, int start, int end)
{
    (void)flags;
    (void)start;
    (void)end;
    struct sl_buf *b = ctx;
    sl_buf_append(b, tok, (size_t)n);
    sl_buf_append(b, "\n", 1);
    return SQLITE_OK;
}

struct tk {
    sqlite3 *db;
    fts5_tokenizer ours, uni;
    Fts5Tokenizer *ours_t, *uni_t;
};

static fts5_api *fts5_of(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &s, NULL), SQLITE_OK);
    sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(s);
    sqlite3_finalize(s);
    assert_non_null(api);
    return api;
}

static void tk_open(struct tk *k)
{
    memset(k, 0, sizeof *k);
    assert_int_equal(sqlite3_open(":memory:", &k->db), SQLITE_OK);
    assert_int_equal(sl_archive_sql_functions(k->db), SQLITE_OK);
    fts5_api *api = fts5_of(k->db);
    void *c1 = NULL, *c2 = NULL;
    assert_int_equal(api->xFindTokenizer(api, "stateline", &c1, &k->ours), SQLITE_OK);
    assert_int_equal(api->xFindTokenizer(api, "unicode61", &c2, &k->uni), SQLITE_OK);
    assert_int_equal(k->ours.xCreate(c1, NULL, 0, &k->ours_t), SQLITE_OK);
    assert_int_equal(k->uni.xCreate(c2, NULL, 0, &k->uni_t), SQLITE_OK);
    /* it takes no options: the terms are fixed */
    const char *opt[] = {"remove_diacritics", "0"};
    Fts5Tokenizer *bad = NULL;
    assert_int_not_equal(k->ours.xCreate(c1, opt, 2, &bad), SQLITE_OK);
}

static void tk_close(struct tk *k)
{
    k->ours.xDelete(k->ours_t);
    k->uni.xDelete(k->uni_t);
    sqlite3_close(k->db);
}

/* Both tokenizers on t[0, n) (unicode61 after sl_archive_norm); fails with the text
 * when they differ.  Returns the number of terms. */
static int same_terms(struct tk *k, const char *t, size_t n)
{
    struct sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT, norm = SL_BUF_INIT;
    assert_int_equal(k->ours.xTokenize(k->ours_t, &a, FTS5_TOKENIZE_DOCUMENT, t, (int)n, collect),
                     SQLITE_OK);
    sl_archive_norm(t, n, &norm);
    assert_int_equal(k->uni.xTokenize(k->uni_t, &b, FTS5_TOKENIZE_DOCUMENT,
                                      norm.data ? (const char *)norm.data : "", (int)norm.len,
                                      collect),
                     SQLITE_OK);
    int terms = 0;
    for (size_t i = 0; i < b.len; i++)
        terms += b.data[i] == '\n';
    if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0)) {
        print_error("terms differ for %zu bytes: %.*s\n--- ours:\n%.*s--- unicode61:\n%.*s",
                    n, (int)(n > 300 ? 300 : n), t, (int)a.len, a.data ? (char *)a.data : "",
                    (int)b.len, b.data ? (char *)b.data : "");
        fail();
    }
    sl_buf_free(&a);
    sl_buf_free(&b);
    sl_buf_free(&norm);
    return terms;
}

/* The bodies of tests/data/archive_e2e_bodies.txt (escaped lines, '#' comments). */
static int load_bodies(struct sl_buf *bodies, size_t **ends)
{
    const char *dir = getenv("SL_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/archive_e2e_bodies.txt", dir ? dir : "tests/data");
    FILE *f = fopen(path, "r");
    if (!f)
        print_error("cannot open %s\n", path);
    assert_non_null(f);
    char line[1 << 16];
    int n = 0;
    *ends = NULL;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        for (char *p = line; *p && *p != '\n'; p++) {
            char c = *p;
            if (c == '\\' && p[1] == 'n') {
                c = '\n';
                p++;
            } else if (c == '\\' && p[1] == '\\') {
                p++;
            } else if (c == '\\' && p[1] == 'x') {
                unsigned v;
                assert_int_equal(sscanf(p + 2, "%2x", &v), 1);
                c = (char)v;
                p += 3;
            }
            sl_buf_append(bodies, &c, 1);
        }
        *ends = realloc(*ends, (size_t)(n + 1) * sizeof **ends);
        (*ends)[n++] = bodies->len;
    }
    fclose(f);
    return n;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Real traffic, then the same with odd things mixed in. */
static void t_real_traffic(void **state)
{
    (void)state;
    struct tk k;
    tk_open(&k);
    struct sl_buf all = SL_BUF_INIT;
    size_t *ends;
    int n = load_bodies(&all, &ends);
    assert_true(n >= 300);
    long terms = 0;
    static const char *const odd[] = {
        "'", "''", "O'", "'S", "\x01", "\x7f", "\t", "\r\n", "\xc3\x89", /* É */
        "\xe2\x80\x99",                                                  /* ’ */
        "\xff", "\x80", "\xc3", "_", "-", "@", "[", "`", "{", "~", "0", "9", "Z", "z",
    };
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < n; i++) {
        size_t b = i ? ends[i - 1] : 0, len = ends[i] - b;
        const char *t = (const char *)all.data + b;
        terms += same_terms(&k, t, len);
        /* 20 variants: a few odd strings put in at random places */
        for (int v = 0; v < 20; v++) {
            struct sl_buf m = SL_BUF_INIT;
            sl_buf_append(&m, t, len);
            int edits = 1 + (int)(rnd(&seed) % 6);
            for (int e = 0; e < edits; e++) {
                const char *o = odd[rnd(&seed) % (sizeof odd / sizeof odd[0])];
                /* ASCII-only variants most of the time: they take the fast path */
                if (v < 14 && (unsigned char)o[0] >= 0x80)
                    o = "'";
                size_t at = m.len ? rnd(&seed) % (m.len + 1) : 0;
                size_t ol = strlen(o);
                sl_buf_append(&m, o, ol); /* grow, then move the tail */
                memmove(m.data + at + ol, m.data + at, m.len - ol - at);
                memcpy(m.data + at, o, ol);
            }
            same_terms(&k, (const char *)m.data, m.len);
            sl_buf_free(&m);
        }
    }
    print_message("%d bodies, %ld terms, and %d variants: the same terms\n", n, terms, n * 20);
    assert_true(terms > 5000);
    free(ends);
    sl_buf_free(&all);
    tk_close(&k);
}

static void t_edges(void **state)
{
    (void)state;
    struct tk k;
    tk_open(&k);
    static const char *const cases[] = {
        "", " ", "'", "A", "a", "AB'", "'AB", "O'BRIEN", "O''BRIEN", "A'B'C", "D'ANGELO-SMITH",
        "X'1", "1'X", "' '", "A' B", "A 'B", "12345678", "ABCDEFGH", "ABCDEFG", "ABCDEFGHI",
        "ABCDEFGH IJKLMNOP", "ABCDEFGH'IJKLMNOP", "A.B,C;D:E/F", "NAM/SMITH,JOHN.DOB/19800101",
        "@[`{/:", "\x10\x19\060\071", "P\x10Q", "MIXED case Text", "tab\tsep\rcr\nlf",
        "CAF\xc3\x89 NO\xc3\x8bL", "IT\xe2\x80\x99S", "bad \xff\xfe utf8", "O'\xc3\x89TIENNE",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        same_terms(&k, cases[i], strlen(cases[i]));
    /* long terms: past the first buffer, and at every length near a word's end */
    struct sl_buf big = SL_BUF_INIT;
    for (int i = 0; i < 5000; i++)
        sl_buf_append(&big, i % 7 == 6 ? "'" : "Q", 1);
    assert_int_equal(same_terms(&k, (const char *)big.data, big.len), 1);
    for (size_t n = 1; n < 40; n++) {
        sl_buf_reset(&big);
        for (size_t i = 0; i < n; i++)
            sl_buf_append(&big, i % 9 == 8 ? " " : "k", 1);
        same_terms(&k, (const char *)big.data, big.len);
    }
    sl_buf_free(&big);
    tk_close(&k);
}

/* The index as a whole: two FTS5 tables over the same rows, one as schema 2 built it
 * (unicode61 over sl_norm), one as schema 3 does, hold the same terms at the same
 * positions of the same rows. */
static void t_same_index(void **state)
{
    (void)state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sl_archive_sql_functions(db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE msg(seq INTEGER PRIMARY KEY, body TEXT);"
                                  "CREATE VIRTUAL TABLE f2 USING fts5(body, columnsize=0);"
                                  "CREATE VIRTUAL TABLE f3 USING fts5(body, columnsize=0,"
                                  " tokenize='stateline');"
                                  "CREATE VIRTUAL TABLE temp.v2 USING fts5vocab(main, f2,"
                                  " instance);"
                                  "CREATE VIRTUAL TABLE temp.v3 USING fts5vocab(main, f3,"
                                  " instance);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    struct sl_buf all = SL_BUF_INIT;
    size_t *ends;
    int n = load_bodies(&all, &ends);
    sqlite3_stmt *ins;
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO msg VALUES(?1, ?2)", -1, &ins, NULL),
                     SQLITE_OK);
    for (int i = 0; i < n; i++) {
        size_t b = i ? ends[i - 1] : 0;
        sqlite3_bind_int(ins, 1, i + 1);
        sqlite3_bind_text(ins, 2, (const char *)all.data + b, (int)(ends[i] - b), SQLITE_STATIC);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO msg VALUES(100000, 'O''BRIEN, MARY-KATE D''ANGELO');"
                                  "INSERT INTO f2(rowid, body) SELECT seq, sl_norm(body) FROM msg;"
                                  "INSERT INTO f3(rowid, body) SELECT seq, body FROM msg;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT count(*) FROM temp.v2),"
                                        " (SELECT count(*) FROM (SELECT term, doc, offset FROM"
                                        " temp.v2 EXCEPT SELECT term, doc, offset FROM temp.v3)),"
                                        " (SELECT count(*) FROM (SELECT term, doc, offset FROM"
                                        " temp.v3 EXCEPT SELECT term, doc, offset FROM temp.v2)),"
                                        " (SELECT count(*) FROM temp.v3),"
                                        " (SELECT count(*) FROM f3 WHERE f3 MATCH '\"obrien\"')",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int64_t total = sqlite3_column_int64(q, 0);
    assert_true(total > 5000);
    assert_int_equal(sqlite3_column_int64(q, 1), 0);
    assert_int_equal(sqlite3_column_int64(q, 2), 0);
    assert_int_equal(sqlite3_column_int64(q, 3), total);
    assert_int_equal(sqlite3_column_int64(q, 4), 1);
    sqlite3_finalize(q);
    free(ends);
    sl_buf_free(&all);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_real_traffic),
        cmocka_unit_test(t_edges),
        cmocka_unit_test(t_same_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
