/*
 * fuzz_archive_query.c - libFuzzer target for the NLQ search parsing of the message
 * archive (src/archive/query.c) and its text helpers.
 *
 * The input is the body of an NLQ ("NLQ.WASP00000.NL.TXT\n" + input).  For any input:
 *   1. when sl_msg_parse accepts it, sl_archive_query_parse either refuses it with a
 *      non-empty printable reason, or gives an FTS5 expression in which every quoted term
 *      holds only [a-z0-9 ] and the only text outside quotes is "AND", "OR", "(", ")",
 *      spaces and a '*' right after a closing quote; BEG <= END;
 *   2. that expression runs as an FTS5 MATCH without an error (so no user text can be
 *      FTS5 syntax), against a small in-memory index;
 *   3. authorisation leaves only keys the requester may see and never NLQ/NFQ/NLR/NFR;
 *   4. sl_archive_strip_images on the raw input writes only printable ASCII, TAB, CR, LF
 *      and leaves no run of 200 base64 characters (an image that could be decoded), also
 *      when run again on its own output; sl_archive_norm never grows the text.
 * A broken invariant is __builtin_trap().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "stateline/archive.h"
#include "stateline/buf.h"
#include "stateline/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                          \
    do {                                                                                  \
        if (!(c))                                                                         \
            __builtin_trap();                                                             \
    } while (0)

static void check_expr(const char *e)
{
    int inq = 0;
    for (const char *p = e; *p; p++) {
        char c = *p;
        if (c == '"') {
            inq = !inq;
            continue;
        }
        if (inq) {
            CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ');
            continue;
        }
        if (c == ' ' || c == '(' || c == ')')
            continue;
        if (c == '*') {
            CHECK(p > e && p[-1] == '"');
            continue;
        }
        if (strncmp(p, "AND", 3) == 0) {
            p += 2;
            continue;
        }
        if (strncmp(p, "OR", 2) == 0) {
            p += 1;
            continue;
        }
        CHECK(0);
    }
    CHECK(!inq);
}

static void run_match(const char *expr)
{
    sqlite3 *db;
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE VIRTUAL TABLE f USING fts5(body);"
                       "INSERT INTO f VALUES('NAM/SMITH,JOHN.DOB/19800101 MAIN ST'),"
                       "('OR AND NOT NEAR BODY'),('LIC/ABC123 OBRIEN MARY KATE');",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_stmt *s;
    CHECK(sqlite3_prepare_v2(db, "SELECT rowid FROM f WHERE f MATCH ?1", -1, &s, NULL) ==
          SQLITE_OK);
    sqlite3_bind_text(s, 1, expr, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        ;
    CHECK(rc == SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void check_text(const struct sl_buf *b)
{
    size_t run = 0;
    for (size_t i = 0; i < b->len; i++) {
        uint8_t c = b->data[i];
        CHECK((c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r');
        int b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || c == '=';
        run = b64 ? run + 1 : 0;
        CHECK(run < 200);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    /* the text helpers, on the raw bytes */
    struct sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT, n = SL_BUF_INIT;
    sl_archive_strip_images((const char *)data, size, &a);
    check_text(&a);
    sl_archive_strip_images(a.data ? (const char *)a.data : "", a.len, &b);
    check_text(&b);
    sl_archive_norm((const char *)data, size, &n);
    CHECK(n.len <= size);
    sl_buf_free(&a);
    sl_buf_free(&b);
    sl_buf_free(&n);

    /* the query */
    static const char hdr[] = "NLQ.WASP00000.NL.TXT\n";
    char *in = malloc(sizeof hdr - 1 + size);
    memcpy(in, hdr, sizeof hdr - 1);
    memcpy(in + sizeof hdr - 1, data, size);
    struct sl_msg m;
    memset(&m, 0, sizeof m);
    struct sl_msg_err me;
    if (sl_msg_parse(in, sizeof hdr - 1 + size, &m, &me) == 0) {
        struct sl_archive_query q;
        char err[160];
        if (sl_archive_query_parse(&m, &q, err, sizeof err) < 0) {
            CHECK(err[0] != '\0');
            for (const char *p = err; *p; p++)
                CHECK(*p >= 0x20 && *p < 0x7f);
        } else {
            CHECK(q.beg <= q.end);
            CHECK(q.mode == SL_ARCHIVE_FND || q.mode == SL_ARCHIVE_NAM);
            check_expr(q.fts);
            run_match(q.fts);
            struct sl_ori who;
            memset(&who, 0, sizeof who);
            strcpy(who.ori, "WASP00000");
            strcpy(who.cats, size & 1 ? "AZ" : "ACDZ");
            who.status = 'A';
            who.rand = 1;
            struct sl_buf w = SL_BUF_INIT;
            if (sl_archive_authorise(&who, &q, &w) == 0) {
                CHECK(q.nkeys > 0);
                for (int i = 0; i < q.nkeys; i++) {
                    const struct sl_key_info *k = sl_key_lookup(q.keys[i]);
                    CHECK(k && strchr(who.cats, k->category));
                    CHECK(strcmp(q.keys[i], "NLQ") && strcmp(q.keys[i], "NFQ") &&
                          strcmp(q.keys[i], "NLR") && strcmp(q.keys[i], "NFR"));
                }
            }
            check_text(&w);
            sl_buf_free(&w);
        }
    }
    sl_msg_clear(&m);
    free(in);
    return 0;
}
