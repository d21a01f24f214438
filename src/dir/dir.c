/*
 * dir.c - the ORI directory in SQLite, and the in-memory snapshot the hub reads.
 *
 * Schema (PRAGMA user_version = 1), in WAL mode so that a gateway or `stateline dir stats`
 * can read while the operator imports:
 *
 *   member(code TEXT PRIMARY KEY, name TEXT, kind TEXT 'S'|'F'|'I'|'N')
 *   ori(ori TEXT PRIMARY KEY, member TEXT -> member(code), name, type, cats, status,
 *       parent, tags, rand INTEGER 0|1)          WITHOUT ROWID
 *   index ori_member(member, ori), index ori_parent(parent)
 *
 * A new database is filled with the standard member lines (valid.c).  The rules of each
 * field are in dir.h; sl_dir_put checks them all, so the database never holds a row that
 * the snapshot or the CSV export would have to refuse.
 *
 * The snapshot is one array of rows plus an open-addressing table (linear probing, load
 * <= 1/2) of 8-byte slots, each a row index and 32 more bits of the ORI's 64-bit hash:
 * one lookup is a hash, usually one probe, and a 9-byte compare in the one row whose tag
 * matched — no allocation, and no row touched in vain along a probe chain.  The switch
 * looks up two or three ORIs per message at random over the national directory (18,000
 * rows, 6 MB), so the rows and the table live in memory advised for transparent huge
 * pages (hugemem.h): on a VM a TLB miss under nested paging costs as much as the cache
 * miss itself (before this, the look-up was 7% of the switch's CPU at 15,000
 * queries/s, docs/performance.md).
 */
#include "dir_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stateline/core.h"
#include "stateline/hugemem.h"

#define SCHEMA_VERSION 1

static const char *const schema_sql =
    "CREATE TABLE member("
    "  code TEXT PRIMARY KEY NOT NULL,"
    "  name TEXT NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('S','F','I','N'))"
    ") WITHOUT ROWID;"
    "CREATE TABLE ori("
    "  ori TEXT PRIMARY KEY NOT NULL CHECK (length(ori) = 9),"
    "  member TEXT NOT NULL REFERENCES member(code),"
    "  name TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  cats TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('A','I')),"
    "  parent TEXT NOT NULL DEFAULT '',"
    "  tags TEXT NOT NULL DEFAULT '',"
    "  rand INTEGER NOT NULL DEFAULT 0 CHECK (rand IN (0,1))"
    ") WITHOUT ROWID;"
    "CREATE INDEX ori_member ON ori(member, ori);"
    "CREATE INDEX ori_parent ON ori(parent);";

static const char *const stmt_sql[ST__N] = {
    [ST_GET] = "SELECT ori, member, name, type, cats, status, parent, tags, rand "
               "FROM ori WHERE ori = ?1",
    [ST_PUT] = "INSERT OR REPLACE INTO ori(ori, member, name, type, cats, status, parent, "
               "tags, rand) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_DEL] = "DELETE FROM ori WHERE ori = ?1",
    [ST_MEMBER_GET] = "SELECT code, name, kind FROM member WHERE code = ?1",
    [ST_MEMBER_PUT] = "INSERT OR REPLACE INTO member(code, name, kind) VALUES (?1, ?2, ?3)",
    [ST_COUNT] = "SELECT count(*) FROM ori",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

#define ORI_COLS "ori, member, name, type, cats, status, parent, tags, rand"

int sl_dir__fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Copy a text column, cut to the field (the rules keep every stored value within it). */
static void col_text(sqlite3_stmt *st, int i, char *dst, size_t dstsize)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
    if (n >= dstsize)
        n = dstsize - 1;
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

/* Read the row the statement is on (columns in ORI_COLS order). */
static void row_to_ori(sqlite3_stmt *st, struct sl_ori *o)
{
    col_text(st, 0, o->ori, sizeof o->ori);
    col_text(st, 1, o->member, sizeof o->member);
    col_text(st, 2, o->name, sizeof o->name);
    col_text(st, 3, o->type, sizeof o->type);
    col_text(st, 4, o->cats, sizeof o->cats);
    const unsigned char *s = sqlite3_column_text(st, 5);
    o->status = s && s[0] ? (char)s[0] : 'I';
    col_text(st, 6, o->parent, sizeof o->parent);
    col_text(st, 7, o->tags, sizeof o->tags);
    o->rand = sqlite3_column_int(st, 8) ? 1 : 0;
}

static void row_to_member(sqlite3_stmt *st, struct sl_member *m)
{
    memset(m, 0, sizeof *m);
    col_text(st, 0, m->code, sizeof m->code);
    col_text(st, 1, m->name, sizeof m->name);
    const unsigned char *k = sqlite3_column_text(st, 2);
    m->kind = k && k[0] ? (char)k[0] : '?';
}

static int exec(struct sl_dir *d, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sl_dir__fail(err, errlen, "%s: %s", d->path, msg ? msg : sqlite3_errmsg(d->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int pragma_int(struct sl_dir *d, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int create_schema(struct sl_dir *d, char *err, size_t errlen)
{
    if (exec(d, "BEGIN IMMEDIATE", err, errlen) < 0)
        return -1;
    if (exec(d, schema_sql, err, errlen) < 0)
        goto fail;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, stmt_sql[ST_MEMBER_PUT], -1, &st, NULL) != SQLITE_OK) {
        sl_dir__fail(err, errlen, "%s: %s", d->path, sqlite3_errmsg(d->db));
        goto fail;
    }
    size_t n;
    const struct sl_member *m = sl_dir_std_members(&n);
    for (size_t i = 0; i < n; i++) {
        char kind[2] = {m[i].kind, '\0'};
        sqlite3_bind_text(st, 1, m[i].code, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, m[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, kind, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sl_dir__fail(err, errlen, "%s: %s", d->path, sqlite3_errmsg(d->db));
            sqlite3_finalize(st);
            goto fail;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", SCHEMA_VERSION);
    if (exec(d, sql, err, errlen) < 0 || exec(d, "COMMIT", err, errlen) < 0)
        goto fail;
    return 0;
fail:
    exec(d, "ROLLBACK", NULL, 0);
    return -1;
}

int sl_dir_open(const char *path, int create_ok, struct sl_dir **out, char *err, size_t errlen)
{
    *out = NULL;
    struct stat sb;
    if (!create_ok && strcmp(path, ":memory:") != 0 && stat(path, &sb) != 0)
        return sl_dir__fail(err, errlen, "%s: no such directory database", path);

    struct sl_dir *d = sl_xcalloc(1, sizeof *d);
    sl_strlcpy(d->path, path, sizeof d->path);
    int flags = SQLITE_OPEN_READWRITE | (create_ok ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &d->db, flags, NULL) != SQLITE_OK) {
        sl_dir__fail(err, errlen, "%s: %s", path, d->db ? sqlite3_errmsg(d->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(d->db, 5000);
    /* WAL: readers (gateway sync, stats) never block the operator's import.  NORMAL sync
     * is durable across a process crash; the directory is re-importable from CSV. */
    if (exec(d, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                "PRAGMA foreign_keys = ON; PRAGMA mmap_size = 268435456",
             err, errlen) < 0)
        goto fail;

    int64_t version = 0, ntables = 0;
    if (pragma_int(d, "PRAGMA user_version", &version) < 0 ||
        pragma_int(d, "SELECT count(*) FROM sqlite_schema", &ntables) < 0) {
        sl_dir__fail(err, errlen, "%s: not a database: %s", path, sqlite3_errmsg(d->db));
        goto fail;
    }
    if (version == 0 && ntables == 0) {
        if (!create_ok) {
            sl_dir__fail(err, errlen, "%s: empty file, not a directory database", path);
            goto fail;
        }
        if (create_schema(d, err, errlen) < 0)
            goto fail;
    } else if (version != SCHEMA_VERSION) {
        sl_dir__fail(err, errlen,
                     "%s: directory schema version %lld, this program knows version %d%s",
                     path, (long long)version, SCHEMA_VERSION,
                     version == 0 ? " (is it a directory database?)" : "");
        goto fail;
    }

    for (int i = 0; i < ST__N; i++) {
        if (sqlite3_prepare_v3(d->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &d->st[i],
                               NULL) != SQLITE_OK) {
            sl_dir__fail(err, errlen, "%s: %s", path, sqlite3_errmsg(d->db));
            goto fail;
        }
    }
    *out = d;
    return 0;
fail:
    sl_dir_close(d);
    return -1;
}

void sl_dir_close(struct sl_dir *d)
{
    if (!d)
        return;
    for (int i = 0; i < ST__N; i++)
        sqlite3_finalize(d->st[i]);
    if (d->db)
        sqlite3_close(d->db);
    free(d);
}

/* Run a statement that returns no rows; reset it afterwards. */
static int step_done(struct sl_dir *d, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        SL_ERROR("dir", "%s: %s", d->path, sqlite3_errmsg(d->db));
        return -1;
    }
    return 0;
}

int sl_dir_begin(struct sl_dir *d) { return step_done(d, d->st[ST_BEGIN]); }
int sl_dir_commit(struct sl_dir *d) { return step_done(d, d->st[ST_COMMIT]); }
void sl_dir_rollback(struct sl_dir *d)
{
    if (!sqlite3_get_autocommit(d->db))
        step_done(d, d->st[ST_ROLLBACK]);
}

int sl_dir_get(struct sl_dir *d, const char *ori, struct sl_ori *out)
{
    sqlite3_stmt *st = d->st[ST_GET];
    sqlite3_bind_text(st, 1, ori, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        row_to_ori(st, out);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return 1;
    SL_ERROR("dir", "%s: get %s: %s", d->path, ori, sqlite3_errmsg(d->db));
    return -1;
}

int sl_dir_get_member(struct sl_dir *d, const char *code, struct sl_member *out)
{
    sqlite3_stmt *st = d->st[ST_MEMBER_GET];
    sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        row_to_member(st, out);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return 1;
    SL_ERROR("dir", "%s: get member %s: %s", d->path, code, sqlite3_errmsg(d->db));
    return -1;
}

int sl_dir_put(struct sl_dir *d, const char *as_member, const struct sl_ori *o, char *err,
               size_t errlen)
{
    if (sl_dir_check(o, 0, err, errlen) < 0)
        return -1;
    struct sl_member m;
    int rc = sl_dir_get_member(d, o->member, &m);
    if (rc < 0)
        return sl_dir__fail(err, errlen, "database error reading member %s", o->member);
    if (rc == 1)
        return sl_dir__fail(err, errlen, "member: %s is not a member line of this network",
                            o->member);
    if (sl_dir_check(o, m.kind, err, errlen) < 0)
        return -1;
    if (as_member) {
        /* Owned before (if it exists) and after. */
        struct sl_ori old;
        rc = sl_dir_get(d, o->ori, &old);
        if (rc < 0)
            return sl_dir__fail(err, errlen, "database error reading %s", o->ori);
        if (rc == 0 && strcmp(old.member, as_member) != 0)
            return sl_dir__fail(err, errlen,
                                "ORI %s belongs to member %s; member %s may change only its "
                                "own ORIs",
                                o->ori, old.member, as_member);
        if (strcmp(as_member, o->member) != 0)
            return sl_dir__fail(err, errlen,
                                "member %s may not give ORI %s to member %s: a member "
                                "changes only its own ORIs",
                                as_member, o->ori, o->member);
    }
    char cats[sizeof o->cats];
    memcpy(cats, o->cats, sizeof cats);
    sl_dir_canon_cats(cats);
    char status[2] = {o->status, '\0'};

    sqlite3_stmt *st = d->st[ST_PUT];
    sqlite3_bind_text(st, 1, o->ori, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, o->member, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, o->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, o->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, cats, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, o->parent, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, o->tags, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 9, o->rand);
    if (step_done(d, st) < 0)
        return sl_dir__fail(err, errlen, "database error writing %s: %s", o->ori,
                            sqlite3_errmsg(d->db));
    return 0;
}

int sl_dir_delete(struct sl_dir *d, const char *as_member, const char *ori, char *err,
                  size_t errlen)
{
    struct sl_ori old;
    int rc = sl_dir_get(d, ori, &old);
    if (rc < 0)
        return sl_dir__fail(err, errlen, "database error reading %s", ori);
    if (rc == 1) {
        sl_dir__fail(err, errlen, "ORI %s is not in the directory", ori);
        return 1;
    }
    if (as_member && strcmp(old.member, as_member) != 0)
        return sl_dir__fail(err, errlen,
                            "ORI %s belongs to member %s; member %s may delete only its own "
                            "ORIs",
                            ori, old.member, as_member);
    sqlite3_stmt *st = d->st[ST_DEL];
    sqlite3_bind_text(st, 1, ori, -1, SQLITE_STATIC);
    if (step_done(d, st) < 0)
        return sl_dir__fail(err, errlen, "database error deleting %s", ori);
    return 0;
}

int sl_dir_put_member(struct sl_dir *d, const struct sl_member *m)
{
    if (!memchr(m->code, '\0', sizeof m->code) || !sl_dir_valid_member_code(m->code) ||
        !memchr(m->name, '\0', sizeof m->name) || m->name[0] == '\0' ||
        !strchr("SFIN", m->kind) || m->kind == '\0') {
        SL_ERROR("dir", "%s: invalid member (code 2 letters A-Z, a name, kind S F I or N)",
                 d->path);
        return -1;
    }
    char kind[2] = {m->kind, '\0'};
    sqlite3_stmt *st = d->st[ST_MEMBER_PUT];
    sqlite3_bind_text(st, 1, m->code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    return step_done(d, st);
}

int64_t sl_dir_count(struct sl_dir *d)
{
    sqlite3_stmt *st = d->st[ST_COUNT];
    int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        SL_ERROR("dir", "%s: count: %s", d->path, sqlite3_errmsg(d->db));
    sqlite3_reset(st);
    return n;
}

int sl_dir_foreach(struct sl_dir *d, const char *member_filter, sl_dir_ori_fn fn, void *ctx)
{
    /* Prepared per walk: a walk reads the whole table, the statement is noise beside it. */
    sqlite3_stmt *st;
    const char *sql = member_filter
                          ? "SELECT " ORI_COLS " FROM ori WHERE member = ?1 ORDER BY ori"
                          : "SELECT " ORI_COLS " FROM ori ORDER BY ori";
    if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK) {
        SL_ERROR("dir", "%s: %s", d->path, sqlite3_errmsg(d->db));
        return -1;
    }
    if (member_filter)
        sqlite3_bind_text(st, 1, member_filter, -1, SQLITE_STATIC);
    int rc, ret = 0;
    struct sl_ori o;
    memset(&o, 0, sizeof o);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_to_ori(st, &o);
        if ((ret = fn(ctx, &o)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        SL_ERROR("dir", "%s: %s", d->path, sqlite3_errmsg(d->db));
        ret = -1;
    }
    sqlite3_finalize(st);
    return ret;
}

int sl_dir_foreach_member(struct sl_dir *d, sl_dir_member_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, "SELECT code, name, kind FROM member ORDER BY code", -1, &st,
                           NULL) != SQLITE_OK) {
        SL_ERROR("dir", "%s: %s", d->path, sqlite3_errmsg(d->db));
        return -1;
    }
    int rc, ret = 0;
    struct sl_member m;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_to_member(st, &m);
        if ((ret = fn(ctx, &m)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        SL_ERROR("dir", "%s: %s", d->path, sqlite3_errmsg(d->db));
        ret = -1;
    }
    sqlite3_finalize(st);
    return ret;
}

int sl_dir_count_by(struct sl_dir *d, enum sl_dir_by by, int top_only, sl_dir_count_fn fn,
                    void *ctx)
{
    const char *key;
    switch (by) {
    case SL_DIR_BY_MEMBER: key = "o.member"; break;
    case SL_DIR_BY_TYPE: key = "o.type"; break;
    case SL_DIR_BY_STATUS: key = "o.status"; break;
    case SL_DIR_BY_KIND: key = "m.kind"; break;
    case SL_DIR_BY_PARENT:
        key = top_only ? "CASE WHEN instr(o.parent, '/') > 0 "
                         "THEN substr(o.parent, 1, instr(o.parent, '/') - 1) ELSE o.parent END"
                       : "o.parent";
        break;
    default: return -1;
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT %s AS k, count(*) AS n FROM ori o JOIN member m ON m.code = o.member "
             "GROUP BY k ORDER BY n DESC, k",
             key);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK) {
        SL_ERROR("dir", "%s: %s", d->path, sqlite3_errmsg(d->db));
        return -1;
    }
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *k = sqlite3_column_text(st, 0);
        if ((ret = fn(ctx, k ? (const char *)k : "", sqlite3_column_int64(st, 1))) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        SL_ERROR("dir", "%s: %s", d->path, sqlite3_errmsg(d->db));
        ret = -1;
    }
    sqlite3_finalize(st);
    return ret;
}

/* ---- the snapshot ------------------------------------------------------------------ */

struct snap_slot {
    uint32_t row; /* row index + 1; 0 = empty */
    uint32_t tag; /* the hash's high 32 bits */
};

struct sl_dir_snap {
    struct sl_ori *rows;
    int64_t nrows;
    struct snap_slot *slots;
    uint32_t mask;   /* number of slots - 1 (a power of two) */
    struct sl_member *members;
    int nmembers;
};

/* 64-bit FNV-1a of the ORI bytes, finished with a multiply-xorshift so that the low bits
 * (the slot) depend on every character. */
static uint64_t ori_hash(const char *ori, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)ori[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h;
}

static int cmp_member(const void *a, const void *b)
{
    return strcmp(((const struct sl_member *)a)->code, ((const struct sl_member *)b)->code);
}

struct members_acc {
    struct sl_member *v;
    int n, cap;
};

static int add_member(void *ctx, const struct sl_member *m)
{
    struct members_acc *a = ctx;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = sl_xrealloc(a->v, (size_t)a->cap * sizeof *a->v);
    }
    a->v[a->n++] = *m;
    return 0;
}

int sl_dir_snapshot(struct sl_dir *d, struct sl_dir_snap **out)
{
    *out = NULL;
    struct sl_dir_snap *s = sl_xcalloc(1, sizeof *s);
    int64_t cap = 16384;
    s->rows = sl_xmalloc((size_t)cap * sizeof *s->rows);

    /* One SELECT is one consistent read (WAL), whatever another connection commits. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, "SELECT " ORI_COLS " FROM ori", -1, &st, NULL) != SQLITE_OK) {
        SL_ERROR("dir", "%s: %s", d->path, sqlite3_errmsg(d->db));
        goto fail;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (s->nrows == (int64_t)(UINT32_MAX / 4)) {
            SL_ERROR("dir", "%s: more ORIs than a snapshot holds", d->path);
            sqlite3_finalize(st);
            goto fail;
        }
        if (s->nrows == cap) {
            cap *= 2;
            s->rows = sl_xrealloc(s->rows, (size_t)cap * sizeof *s->rows);
        }
        row_to_ori(st, &s->rows[s->nrows++]);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        SL_ERROR("dir", "%s: snapshot: %s", d->path, sqlite3_errmsg(d->db));
        goto fail;
    }

    /* the rows into their final (huge-page) place */
    struct sl_ori *rows = sl_huge_zalloc((size_t)(s->nrows ? s->nrows : 1) * sizeof *rows);
    if (s->nrows)
        memcpy(rows, s->rows, (size_t)s->nrows * sizeof *rows);
    free(s->rows);
    s->rows = rows;

    uint32_t nslots = 16;
    while ((int64_t)nslots < s->nrows * 2)
        nslots <<= 1;
    s->slots = sl_huge_zalloc(nslots * sizeof *s->slots);
    s->mask = nslots - 1;
    for (int64_t i = 0; i < s->nrows; i++) {
        uint64_t h = ori_hash(s->rows[i].ori, SL_ORI_LEN);
        uint32_t at = (uint32_t)h & s->mask;
        while (s->slots[at].row)
            at = (at + 1) & s->mask;
        s->slots[at].row = (uint32_t)i + 1;
        s->slots[at].tag = (uint32_t)(h >> 32);
    }

    struct members_acc acc = {NULL, 0, 0};
    if (sl_dir_foreach_member(d, add_member, &acc) < 0) {
        free(acc.v);
        goto fail;
    }
    qsort(acc.v, (size_t)acc.n, sizeof *acc.v, cmp_member);
    s->members = acc.v;
    s->nmembers = acc.n;
    *out = s;
    return 0;
fail:
    sl_dir_snap_free(s);
    return -1;
}

void sl_dir_snap_free(struct sl_dir_snap *s)
{
    if (!s)
        return;
    free(s->rows);
    free(s->slots);
    free(s->members);
    free(s);
}

const struct sl_ori *sl_dir_snap_find_n(const struct sl_dir_snap *s, const char *ori,
                                        size_t len)
{
    if (len != SL_ORI_LEN)
        return NULL;
    uint64_t h = ori_hash(ori, len);
    uint32_t at = (uint32_t)h & s->mask, tag = (uint32_t)(h >> 32);
    for (;;) {
        const struct snap_slot *sl = &s->slots[at];
        if (!sl->row)
            return NULL;
        if (sl->tag == tag) {
            const struct sl_ori *o = &s->rows[sl->row - 1];
            if (memcmp(o->ori, ori, SL_ORI_LEN) == 0)
                return o;
        }
        at = (at + 1) & s->mask;
    }
}

const struct sl_ori *sl_dir_snap_find(const struct sl_dir_snap *s, const char *ori)
{
    size_t len = strnlen(ori, SL_ORI_LEN + 1);
    return sl_dir_snap_find_n(s, ori, len);
}

int64_t sl_dir_snap_count(const struct sl_dir_snap *s) { return s->nrows; }

const struct sl_ori *sl_dir_snap_at(const struct sl_dir_snap *s, int64_t i)
{
    return i >= 0 && i < s->nrows ? &s->rows[i] : NULL;
}

int sl_dir_snap_has_parent(const struct sl_dir_snap *s, const char *parent, int under)
{
    size_t l = strlen(parent);
    if (l == 0)
        return 0;
    for (int64_t i = 0; i < s->nrows; i++) {
        const char *q = s->rows[i].parent;
        if (strncmp(q, parent, l) == 0 && (q[l] == '\0' || (under && q[l] == '/')))
            return 1;
    }
    return 0;
}

int sl_dir_snap_has_tag(const struct sl_dir_snap *s, const char *tag)
{
    size_t l = strlen(tag);
    if (l == 0)
        return 0;
    for (int64_t i = 0; i < s->nrows; i++) {
        for (const char *t = s->rows[i].tags; (t = strstr(t, tag)) != NULL; t += l) {
            int starts = t == s->rows[i].tags || t[-1] == ' ';
            if (starts && (t[l] == '\0' || t[l] == ' '))
                return 1;
        }
    }
    return 0;
}

int sl_dir_snapshot_file(const char *path, struct sl_dir_snap **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sl_dir__fail(err, errlen, "%s: %s", path, strerror(errno));
    char hdr[16];
    size_t n = fread(hdr, 1, sizeof hdr, f);
    struct sl_dir *d = NULL;
    char e[512];
    int rc = -1;
    if (n == sizeof hdr && memcmp(hdr, "SQLite format 3", 16) == 0) {
        fclose(f);
        if (sl_dir_open(path, 0, &d, e, sizeof e) < 0)
            return sl_dir__fail(err, errlen, "%s", e);
    } else {
        /* A CSV export: the same rules as an import, into a private in-memory database. */
        rewind(f);
        if (sl_dir_open(":memory:", 1, &d, e, sizeof e) < 0) {
            fclose(f);
            return sl_dir__fail(err, errlen, "%s", e);
        }
        int64_t nrows;
        rc = sl_dir_import_csv(d, NULL, f, &nrows, e, sizeof e);
        fclose(f);
        if (rc < 0) {
            sl_dir_close(d);
            return sl_dir__fail(err, errlen, "%s: %s", path, e);
        }
    }
    rc = sl_dir_snapshot(d, out);
    sl_dir_close(d);
    if (rc < 0)
        return sl_dir__fail(err, errlen, "%s: cannot read the directory", path);
    return 0;
}

const struct sl_member *sl_dir_snap_member(const struct sl_dir_snap *s, const char *code)
{
    struct sl_member key;
    memset(&key, 0, sizeof key);
    if (strlen(code) >= sizeof key.code)
        return NULL;
    strcpy(key.code, code);
    return bsearch(&key, s->members, (size_t)s->nmembers, sizeof *s->members, cmp_member);
}

int sl_dir_snap_nmembers(const struct sl_dir_snap *s) { return s->nmembers; }

const struct sl_member *sl_dir_snap_member_at(const struct sl_dir_snap *s, int i)
{
    return i >= 0 && i < s->nmembers ? &s->members[i] : NULL;
}
