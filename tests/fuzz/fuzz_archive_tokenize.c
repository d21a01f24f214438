/*
 * fuzz_archive_tokenize.c - libFuzzer target for the archive's FTS5 tokenizer
 * (src/archive/tokenize.c, schema 3).
 *
 * For any input (a message body, as it could reach the index): the tokenizer "stateline"
 * gives exactly the terms, in the same order, that FTS5's unicode61 gives for
 * sl_archive_norm(input) - what schema 2 indexed - so every search finds what it found.
 * Each term is non-empty and, for an ASCII input, only [a-z0-9].  A broken invariant is
 * __builtin_trap().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "stateline/archive.h"
#include "stateline/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                          \
    do {                                                                                  \
        if (!(c))                                                                         \
            __builtin_trap();                                                             \
    } while (0)

static int collect(void *ctx, int flags, const char *tok, int n, int start, int end)
{
    (void)flags;
    (void)start;
    (void)end;
    struct sl_buf *b = ctx;
    CHECK(n > 0);
    sl_buf_append(b, tok, (size_t)n);
    sl_buf_append(b, "\n", 1);
    return SQLITE_OK;
}

/* One connection for the whole run: the tokenizers live as long as the process. */
struct fz {
    sqlite3 *db;
    fts5_tokenizer ours, uni;
    Fts5Tokenizer *ours_t, *uni_t;
};

static struct fz *fz_get(void)
{
    static struct fz z; /* libFuzzer calls from one thread; set up once */
    if (z.db)
        return &z;
    CHECK(sqlite3_open(":memory:", &z.db) == SQLITE_OK);
    CHECK(sl_archive_sql_functions(z.db) == SQLITE_OK);
    fts5_api *api = NULL;
    sqlite3_stmt *s;
    CHECK(sqlite3_prepare_v2(z.db, "SELECT fts5(?1)", -1, &s, NULL) == SQLITE_OK);
    sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(s);
    sqlite3_finalize(s);
    CHECK(api != NULL);
    void *c1 = NULL, *c2 = NULL;
    CHECK(api->xFindTokenizer(api, "stateline", &c1, &z.ours) == SQLITE_OK);
    CHECK(api->xFindTokenizer(api, "unicode61", &c2, &z.uni) == SQLITE_OK);
    CHECK(z.ours.xCreate(c1, NULL, 0, &z.ours_t) == SQLITE_OK);
    CHECK(z.uni.xCreate(c2, NULL, 0, &z.uni_t) == SQLITE_OK);
    return &z;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    struct fz *z = fz_get();
    struct sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT, norm = SL_BUF_INIT;
    CHECK(z->ours.xTokenize(z->ours_t, &a, FTS5_TOKENIZE_DOCUMENT, (const char *)data,
                            (int)size, collect) == SQLITE_OK);
    sl_archive_norm((const char *)data, size, &norm);
    CHECK(z->uni.xTokenize(z->uni_t, &b, FTS5_TOKENIZE_DOCUMENT,
                           norm.data ? (const char *)norm.data : "", (int)norm.len,
                           collect) == SQLITE_OK);
    CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
    int ascii = 1;
    for (size_t i = 0; i < size; i++)
        ascii &= data[i] < 0x80;
    for (size_t i = 0; ascii && i < a.len; i++) {
        uint8_t c = a.data[i];
        CHECK(c == '\n' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
    }
    sl_buf_free(&a);
    sl_buf_free(&b);
    sl_buf_free(&norm);
    return 0;
}
