/*
 * store.c - the record store handle and its look-ups (store.h; schema in names.c and
 * docs/records.md).
 *
 * Every look-up is one or a few index probes through statements prepared at open:
 * OLN (unique index), names through the covering index (pair_key, dob, sex, middle,
 * suffix), plates through (plate, plate_type, plate_year), VINs through the unique
 * index and an expression index on the last 8, partial plates through the FTS5
 * trigram index.  Nothing scans a table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "stateline/core.h"
#include "stateline/sqlcfg.h"
#include "stateline/population.h"
#include "stateline/store.h"

enum {
    Q_BEGIN, Q_COMMIT, Q_DRIVER, Q_OLN, Q_NAME_DOB, Q_NAME, Q_HIST, Q_PLATE, Q_VEHICLE, Q_OWNERS, Q_VIN,
    Q_VIN8, Q_OWNED, Q_PARTIAL, Q_PREFIX, Q_PHOTO, Q_N
};

#define DRIVER_COLS                                                                     \
    "id, oln, last, first, middle, suffix, dob, sex, street, city, state, zip, height, " \
    "weight, eyes, hair, class, endorsements, restrictions, status, issued, expires, ssn"

/* read_vehicle's columns, in its order */
#define VEHICLE_COLS                                                                    \
    "id, plate, plate_year, plate_type, vin, make, model, year, colour, style, reg_expires"

static const char *const q_sql[Q_N] = {
    [Q_BEGIN] = "BEGIN",
    [Q_COMMIT] = "COMMIT",
    [Q_DRIVER] = "SELECT " DRIVER_COLS " FROM driver WHERE id=?1",
    [Q_OLN] = "SELECT " DRIVER_COLS " FROM driver WHERE oln=?1",
    /* ordered by (dob, id) in name_ids: a sorter per probe cost more than the few rows */
    [Q_NAME_DOB] = "SELECT id, middle, suffix, dob FROM driver WHERE pair_key=?1 AND dob IN (?2, ?3)"
                   " AND (?4 IS NULL OR sex=?4)",
    [Q_NAME] = "SELECT id, middle, suffix FROM driver WHERE pair_key=?1 ORDER BY dob, id",
    [Q_HIST] = "SELECT kind, date, code, text, conviction, ends FROM history"
               " WHERE driver_id=?1 ORDER BY seq",
    /* the rows themselves, in the index's order (lk_vehicle_by_plate orders them by id):
     * one statement per plate instead of one for the ids and one per vehicle, and no
     * sorter (docs/records.md, "Look-up cost") */
    [Q_PLATE] = "SELECT " VEHICLE_COLS " FROM vehicle WHERE plate=?1",
    [Q_VEHICLE] = "SELECT " VEHICLE_COLS " FROM vehicle WHERE id=?1",
    [Q_OWNERS] = "SELECT o.driver_id, d.oln, d.last, d.first, d.middle, d.suffix, d.dob,"
                 " d.street, d.city, d.state, d.zip FROM owner o JOIN driver d"
                 " ON d.id=o.driver_id WHERE o.vehicle_id=?1 ORDER BY o.seq",
    [Q_VIN] = "SELECT " VEHICLE_COLS " FROM vehicle WHERE vin=?1",
    [Q_VIN8] = "SELECT id FROM vehicle WHERE substr(vin, 10)=?1 ORDER BY id",
    [Q_OWNED] = "SELECT vehicle_id FROM owner WHERE driver_id=?1 ORDER BY vehicle_id",
    [Q_PARTIAL] = "SELECT rowid FROM plate_fts WHERE plate GLOB ?1 ORDER BY rowid",
    /* A pattern that starts with 3 or more known characters: a range of the plate index,
     * which holds far fewer candidates than the trigram postings of those characters. */
    [Q_PREFIX] = "SELECT id FROM vehicle WHERE plate >= ?2 AND plate < ?3 AND plate GLOB ?1"
                 " ORDER BY id",
    [Q_PHOTO] = "SELECT sex, hair, eyes FROM driver WHERE id=?1",
};

#define SL_STORE_PATH_MAX 4096

struct sl_store {
    sqlite3 *db;
    char *path; /* as given to sl_store_open, owned */
    int readonly;
    struct sl_store_opts opts;
    int64_t mmap_bytes; /* the window SQLite granted */
    sqlite3_stmt *q[Q_N];
    char state[4];
    uint64_t seed;
    int32_t as_of;
    int64_t n_drivers, n_vehicles;
};

static int fail(struct sl_store *st, const char *what)
{
    SL_ERROR("store", "%s: %s", what, sqlite3_errmsg(st->db));
    return -1;
}

static int meta_get(sqlite3 *db, const char *key, char *out, size_t cap)
{
    sqlite3_stmt *s;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key=?1", -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        sl_sqlite_text(s, 0, out, cap);
        found = 1;
    }
    sqlite3_finalize(s);
    return found;
}

static int has_table(sqlite3 *db, const char *name)
{
    sqlite3_stmt *s;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE name=?1", -1, &s, NULL) !=
        SQLITE_OK)
        return 0;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return found;
}

int sl_store_has_partial_plate(const struct sl_store *st) { return st->q[Q_PARTIAL] != NULL; }

void sl_store_opts_default(struct sl_store_opts *o)
{
    o->mmap_bytes = SL_STORE_MMAP_AUTO;
    o->cache_kib = SL_STORE_CACHE_DEFAULT_KIB;
}

int64_t sl_store_mmap_limit(void)
{
    /* SQLite clamps every mmap_size to its compile-time SQLITE_MAX_MMAP_SIZE, which it
     * lists among its compile options when the build set it (Debian: 0x7fff0000);
     * otherwise it is SQLite's default for this platform, the same 0x7fff0000. */
    const char *o;
    for (int i = 0; (o = sqlite3_compileoption_get(i)) != NULL; i++)
        if (!strncmp(o, "MAX_MMAP_SIZE=", 14))
            return (int64_t)strtoll(o + 14, NULL, 0);
    return 0x7fff0000;
}

int64_t sl_store_file_size(const struct sl_store *st)
{
    struct stat sb;
    return stat(st->path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

static int pragma_i64(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *s;
    int rc = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        if (out)
            *out = sqlite3_column_int64(s, 0);
        rc = 0;
    } else if (r == SQLITE_DONE) {
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

/* Open the connection, set its memory, check the file and prepare the look-ups. */
static int connect_db(struct sl_store *st, char *err, size_t errlen)
{
    const char *path = st->path;
    int flags = st->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    char buf[64];
    if (sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path,
                 st->db ? sqlite3_errmsg(st->db) : "out of memory");
        return -1;
    }
    sqlite3_busy_timeout(st->db, 2000);
    /* The page cache and the mmap window are the gateway's only memory that grows with
     * the state (F-5).  The window is address space backed by the file, pages the kernel
     * can drop; mapping the whole file saves a pread and a copy per page read, but
     * SQLite caps it (sl_store_mmap_limit), and beyond the cap pages come through
     * pread into the page cache below. */
    int64_t want = st->opts.mmap_bytes;
    if (want == SL_STORE_MMAP_AUTO) {
        struct stat sb;
        want = stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
        if (sizeof(void *) < 8 && want > (int64_t)256 << 20)
            want = (int64_t)256 << 20; /* a 32-bit address space has no room for more */
    }
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA cache_size=-%lld",
             (long long)(st->opts.cache_kib > 0 ? st->opts.cache_kib
                                                 : SL_STORE_CACHE_DEFAULT_KIB));
    if (pragma_i64(st->db, sql, NULL) < 0) {
        snprintf(err, errlen, "%s: cannot set the page cache: %s", path, sqlite3_errmsg(st->db));
        return -1;
    }
    snprintf(sql, sizeof sql, "PRAGMA mmap_size=%lld", (long long)want);
    st->mmap_bytes = 0;
    if (pragma_i64(st->db, sql, &st->mmap_bytes) < 0) {
        snprintf(err, errlen, "%s: cannot set the mmap window: %s", path, sqlite3_errmsg(st->db));
        return -1;
    }
    int m = meta_get(st->db, "schema", buf, sizeof buf);
    if (m <= 0) {
        snprintf(err, errlen, "%s is not a stateline record store (%s)", path,
                 m < 0 ? sqlite3_errmsg(st->db) : "no schema version");
        return -1;
    }
    if (atoi(buf) != SL_STORE_SCHEMA_VERSION) {
        snprintf(err, errlen, "%s has store schema %s, this program reads %d", path, buf,
                 SL_STORE_SCHEMA_VERSION);
        return -1;
    }
    if (meta_get(st->db, "state", buf, sizeof buf) > 0)
        sl_strlcpy(st->state, buf, sizeof st->state);
    if (meta_get(st->db, "seed", buf, sizeof buf) > 0)
        st->seed = strtoull(buf, NULL, 10);
    if (meta_get(st->db, "as_of", buf, sizeof buf) > 0)
        st->as_of = (int32_t)atoi(buf);
    st->n_drivers = st->n_vehicles = -1;
    if (meta_get(st->db, "drivers", buf, sizeof buf) > 0)
        st->n_drivers = strtoll(buf, NULL, 10);
    if (meta_get(st->db, "vehicles", buf, sizeof buf) > 0)
        st->n_vehicles = strtoll(buf, NULL, 10);
    for (int i = 0; i < Q_N; i++) {
        if (i == Q_PARTIAL && !has_table(st->db, "plate_fts"))
            continue; /* a store built without the RPQ index */
        if (sqlite3_prepare_v3(st->db, q_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->q[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: cannot prepare look-up %d: %s", path, i,
                     sqlite3_errmsg(st->db));
            return -1;
        }
    }
    return 0;
}

static void disconnect_db(struct sl_store *st)
{
    for (int i = 0; i < Q_N; i++) {
        sqlite3_finalize(st->q[i]);
        st->q[i] = NULL;
    }
    sqlite3_close(st->db);
    st->db = NULL;
}

struct sl_store *sl_store_open_opts(const char *path, int readonly, const struct sl_store_opts *o,
                                    char *err, size_t errlen)
{
    struct sl_store *st = sl_xcalloc(1, sizeof *st);
    st->path = sl_xstrdup(path);
    st->readonly = readonly;
    if (o)
        st->opts = *o;
    else
        sl_store_opts_default(&st->opts);
    if (connect_db(st, err, errlen) < 0) {
        sl_store_close(st);
        return NULL;
    }
    return st;
}

struct sl_store *sl_store_open(const char *path, int readonly, char *err, size_t errlen)
{
    return sl_store_open_opts(path, readonly, NULL, err, errlen);
}

int64_t sl_store_mmap_size(const struct sl_store *st) { return st->mmap_bytes; }
int64_t sl_store_cache_kib(const struct sl_store *st)
{
    return st->opts.cache_kib > 0 ? st->opts.cache_kib : SL_STORE_CACHE_DEFAULT_KIB;
}

/* Drop one file's clean pages from the OS page cache; a missing file is fine (-wal). */
static int evict_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1);
    int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "%s: posix_fadvise: %s", path, strerror(rc));
        return -1;
    }
    return 0;
}

int sl_store_drop_cache(struct sl_store *st, char *err, size_t errlen)
{
    /* The connection's mapping pins the pages it touched: close it first. */
    disconnect_db(st);
    char wal[SL_STORE_PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", st->path);
    if (evict_file(st->path, err, errlen) < 0 || evict_file(wal, err, errlen) < 0)
        return -1;
    return connect_db(st, err, errlen);
}

void sl_store_close(struct sl_store *st)
{
    if (!st)
        return;
    disconnect_db(st);
    free(st->path);
    free(st);
}

const char *sl_store_state(const struct sl_store *st) { return st->state; }
const char *sl_store_path(const struct sl_store *st) { return st->path; }
uint64_t sl_store_seed(const struct sl_store *st) { return st->seed; }
int32_t sl_store_as_of(const struct sl_store *st) { return st->as_of; }

static int64_t count_rows(struct sl_store *st, const char *table)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3_stmt *s;
    int64_t n = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

int64_t sl_store_count_drivers(struct sl_store *st)
{
    if (st->n_drivers < 0)
        st->n_drivers = count_rows(st, "driver");
    return st->n_drivers;
}

int64_t sl_store_count_vehicles(struct sl_store *st)
{
    if (st->n_vehicles < 0)
        st->n_vehicles = count_rows(st, "vehicle");
    return st->n_vehicles;
}

/* ---- drivers ------------------------------------------------------------------------ */
static void read_driver(sqlite3_stmt *s, struct sl_driver *d)
{
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(s, 0);
    sl_sqlite_text(s, 1, d->oln, sizeof d->oln);
    sl_sqlite_text(s, 2, d->last, sizeof d->last);
    sl_sqlite_text(s, 3, d->first, sizeof d->first);
    sl_sqlite_text(s, 4, d->middle, sizeof d->middle);
    sl_sqlite_text(s, 5, d->suffix, sizeof d->suffix);
    d->dob = sqlite3_column_int(s, 6);
    const unsigned char *sx = sqlite3_column_text(s, 7);
    d->sex = sx ? (char)sx[0] : 0;
    sl_sqlite_text(s, 8, d->street, sizeof d->street);
    sl_sqlite_text(s, 9, d->city, sizeof d->city);
    sl_sqlite_text(s, 10, d->state, sizeof d->state);
    sl_sqlite_text(s, 11, d->zip, sizeof d->zip);
    d->height_in = sqlite3_column_int(s, 12);
    d->weight_lb = sqlite3_column_int(s, 13);
    sl_sqlite_text(s, 14, d->eyes, sizeof d->eyes);
    sl_sqlite_text(s, 15, d->hair, sizeof d->hair);
    sl_sqlite_text(s, 16, d->lic_class, sizeof d->lic_class);
    sl_sqlite_text(s, 17, d->endorsements, sizeof d->endorsements);
    sl_sqlite_text(s, 18, d->restrictions, sizeof d->restrictions);
    sl_sqlite_text(s, 19, d->status, sizeof d->status);
    d->issued = sqlite3_column_int(s, 20);
    d->expires = sqlite3_column_int(s, 21);
    sl_sqlite_text(s, 22, d->ssn, sizeof d->ssn);
}

/* Run a one-row driver statement already bound. */
static int one_driver(struct sl_store *st, sqlite3_stmt *s, struct sl_driver *out)
{
    int rc = sqlite3_step(s);
    int r = 0;
    if (rc == SQLITE_ROW) {
        read_driver(s, out);
        r = 1;
    } else if (rc != SQLITE_DONE) {
        r = fail(st, "driver look-up");
    }
    sqlite3_reset(s);
    return r;
}

int sl_store_driver_by_id(struct sl_store *st, int64_t id, struct sl_driver *out)
{
    sqlite3_stmt *s = st->q[Q_DRIVER];
    sqlite3_bind_int64(s, 1, id);
    return one_driver(st, s, out);
}

int sl_store_driver_by_oln(struct sl_store *st, const char *oln, struct sl_driver *out)
{
    char c[32];
    if (sl_store_canon(oln, c, sizeof c) <= 0)
        return 0;
    sqlite3_stmt *s = st->q[Q_OLN];
    sqlite3_bind_text(s, 1, c, -1, SQLITE_TRANSIENT);
    return one_driver(st, s, out);
}

/* One reading of a typed name: the pair key to probe and the middle-name parts the
 * record must then agree with. */
struct interp {
    char key[72];
    char mid[72]; /* the query's middle parts, joined; "" none */
};

static void join_parts(const struct sl_name *nm, int from, int to, char *out, size_t cap)
{
    out[0] = 0;
    for (int i = from; i < to; i++)
        if (strlen(out) + strlen(nm->part[i]) + 1 < cap)
            strcat(out, nm->part[i]);
}

/* All readings of the name: with a comma, LAST,FIRST MIDDLE; without one, either
 * FIRST [MIDDLE..] LAST-PARTS or LAST-PARTS FIRST [MIDDLE..], with the surname taking
 * any number of leading or trailing parts (DE LA CRUZ MARIA, MARIA DE LA CRUZ). */
static int interpretations(const struct sl_name *nm, struct interp *out, int max)
{
    int n = 0;
    char last[72], mid[72];
    if (nm->has_comma) {
        join_parts(nm, 2, nm->n, mid, sizeof mid);
        sl_store_pair_key(nm->part[0], nm->part[1], out[0].key, sizeof out[0].key);
        sl_strlcpy(out[0].mid, mid, sizeof out[0].mid);
        n = 1;
        /* A two-word given name on file as one (MARY ANN = MARYANN). */
        if (nm->n >= 3 && max > 1) {
            char first[72];
            join_parts(nm, 1, 3, first, sizeof first);
            join_parts(nm, 3, nm->n, mid, sizeof mid);
            sl_store_pair_key(nm->part[0], first, out[1].key, sizeof out[1].key);
            sl_strlcpy(out[1].mid, mid, sizeof out[1].mid);
            n = 2;
        }
        return n;
    }
    int k = nm->n;
    for (int form = 0; form < 2; form++)
        for (int i = 1; i < k && n < max; i++) {
            const char *first;
            if (form == 0) { /* FIRST MIDDLE.. LAST.. */
                join_parts(nm, i, k, last, sizeof last);
                join_parts(nm, 1, i, mid, sizeof mid);
                first = nm->part[0];
            } else { /* LAST.. FIRST MIDDLE.. */
                join_parts(nm, 0, i, last, sizeof last);
                first = nm->part[i];
                join_parts(nm, i + 1, k, mid, sizeof mid);
            }
            struct interp it;
            sl_store_pair_key(last, first, it.key, sizeof it.key);
            sl_strlcpy(it.mid, mid, sizeof it.mid);
            int dup = 0;
            for (int j = 0; j < n; j++)
                if (!strcmp(out[j].key, it.key) && !strcmp(out[j].mid, it.mid))
                    dup = 1;
            if (!dup)
                out[n++] = it;
        }
    return n;
}

static const char *suffix_canon(const char *s)
{
    if (!strcmp(s, "2ND"))
        return "II";
    if (!strcmp(s, "3RD"))
        return "III";
    return s;
}

/* Does a record's middle name and suffix agree with the query's?  Missing on either
 * side agrees; an initial agrees with any name of that letter. */
static int agrees(const char *qmid, const char *qsfx, const unsigned char *rmid_raw,
                  const unsigned char *rsfx_raw)
{
    char rmid[48], rsfx[16];
    sl_store_name_norm(rmid_raw ? (const char *)rmid_raw : "", rmid, sizeof rmid);
    sl_store_name_norm(rsfx_raw ? (const char *)rsfx_raw : "", rsfx, sizeof rsfx);
    if (qsfx[0] && rsfx[0] && strcmp(suffix_canon(qsfx), suffix_canon(rsfx)) != 0)
        return 0;
    if (!qmid[0] || !rmid[0])
        return 1;
    if (strlen(qmid) == 1 || strlen(rmid) == 1)
        return qmid[0] == rmid[0];
    return strcmp(qmid, rmid) == 0;
}

struct dob_id {
    int32_t dob;
    int64_t id;
};

static int by_dob_id(const void *a, const void *b)
{
    const struct dob_id *x = a, *y = b;
    if (x->dob != y->dob)
        return x->dob < y->dob ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* The name search under every look-up by name: ids of matching drivers, the first cap
 * into ids, the count into *total.  dobs NULL: any DOB. */
static int name_ids(struct sl_store *st, const struct sl_name *nm, const int32_t *dobs, int ndob,
                    char sex, int64_t *ids, int cap, int *total)
{
    struct interp it[2 * SL_NAME_MAX_PARTS];
    int ni = interpretations(nm, it, 2 * SL_NAME_MAX_PARTS);
    int n = 0;
    *total = 0;
    for (int i = 0; i < ni; i++) {
        /* Same key as an earlier reading: that probe already saw these rows. */
        int seen = 0;
        for (int j = 0; j < i; j++)
            if (!strcmp(it[j].key, it[i].key))
                seen = 1;
        if (seen)
            continue;
        sqlite3_stmt *s = dobs ? st->q[Q_NAME_DOB] : st->q[Q_NAME];
        sqlite3_bind_text(s, 1, it[i].key, -1, SQLITE_TRANSIENT);
        if (dobs) {
            sqlite3_bind_int(s, 2, dobs[0]);
            sqlite3_bind_int(s, 3, ndob > 1 ? dobs[1] : dobs[0]);
            if (sex) {
                char sx[2] = {sex, 0};
                sqlite3_bind_text(s, 4, sx, 1, SQLITE_TRANSIENT);
            } else {
                sqlite3_bind_null(s, 4);
            }
        }
        /* With no middle name and no suffix in any reading of this key, every row
         * agrees: the walk then only counts (a common name is thousands of rows at
         * 30 M drivers), without reading or normalising the middle and suffix. */
        int filter = nm->suffix[0] != 0;
        for (int j = i; j < ni && !filter; j++)
            if (!strcmp(it[j].key, it[i].key) && it[j].mid[0])
                filter = 1;
        int rc;
        /* With a DOB the probe has no ORDER BY: its rows (one or two DOBs of one name: a
         * handful) are gathered and put in (dob, id) order here. */
        struct dob_id rbuf[32], *rows = rbuf;
        int nr = 0, rcap = 32;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            if (filter) {
                const unsigned char *rm = sqlite3_column_text(s, 1),
                                    *rs = sqlite3_column_text(s, 2);
                int ok = 0;
                for (int j = i; j < ni && !ok; j++)
                    if (!strcmp(it[j].key, it[i].key))
                        ok = agrees(it[j].mid, nm->suffix, rm, rs);
                if (!ok)
                    continue;
            }
            if (dobs) {
                if (nr == rcap) {
                    rcap *= 2;
                    if (rows == rbuf) {
                        rows = sl_xmalloc(sizeof *rows * (size_t)rcap);
                        memcpy(rows, rbuf, sizeof rbuf);
                    } else {
                        rows = sl_xrealloc(rows, sizeof *rows * (size_t)rcap);
                    }
                }
                rows[nr].dob = sqlite3_column_int(s, 3);
                rows[nr++].id = sqlite3_column_int64(s, 0);
                continue;
            }
            if (n < cap)
                ids[n++] = sqlite3_column_int64(s, 0);
            (*total)++;
        }
        sqlite3_reset(s);
        if (rc == SQLITE_DONE && nr) {
            qsort(rows, (size_t)nr, sizeof *rows, by_dob_id);
            for (int k = 0; k < nr; k++) {
                if (n < cap)
                    ids[n++] = rows[k].id;
                (*total)++;
            }
        }
        if (rows != rbuf)
            free(rows);
        if (rc != SQLITE_DONE)
            return fail(st, "name look-up");
    }
    return n;
}

static int drivers_from_ids(struct sl_store *st, const int64_t *ids, int n, struct sl_driver *out)
{
    for (int i = 0; i < n; i++)
        if (sl_store_driver_by_id(st, ids[i], &out[i]) != 1)
            return fail(st, "driver row missing for a name index entry");
    return n;
}

static int lk_driver_by_name_dob_sex(struct sl_store *st, const char *name, const char *dob,
                                    char sex, struct sl_driver *out, int cap, int *total)
{
    struct sl_name nm;
    char err[128];
    int32_t dobs[2];
    int ndob;
    *total = 0;
    if (sl_store_name_parse(name, &nm, err, sizeof err) < 0 ||
        sl_store_dob_parse(dob, dobs, &ndob) < 0)
        return -2;
    if (sex >= 'a' && sex <= 'z')
        sex = (char)(sex - 'a' + 'A');
    if (sex != 'M' && sex != 'F')
        sex = 0; /* U, X or absent: any */
    int64_t idbuf[64];
    int64_t *ids = cap <= 64 ? idbuf : sl_xmalloc(sizeof(int64_t) * (size_t)cap);
    int n = name_ids(st, &nm, dobs, ndob, sex, ids, cap, total);
    if (n > 0)
        n = drivers_from_ids(st, ids, n, out);
    if (ids != idbuf)
        free(ids);
    return n;
}

static int lk_driver_by_name(struct sl_store *st, const char *name, struct sl_driver *out, int cap,
                            int *total)
{
    struct sl_name nm;
    char err[128];
    *total = 0;
    if (sl_store_name_parse(name, &nm, err, sizeof err) < 0)
        return -2;
    int64_t idbuf[64];
    int64_t *ids = cap <= 64 ? idbuf : sl_xmalloc(sizeof(int64_t) * (size_t)cap);
    int n = name_ids(st, &nm, NULL, 0, 0, ids, cap, total);
    if (n > 0)
        n = drivers_from_ids(st, ids, n, out);
    if (ids != idbuf)
        free(ids);
    return n;
}

int sl_store_history(struct sl_store *st, int64_t driver_id, struct sl_history *out, int cap,
                     int *total)
{
    sqlite3_stmt *s = st->q[Q_HIST];
    sqlite3_bind_int64(s, 1, driver_id);
    int n = 0, rc;
    *total = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n < cap) {
            struct sl_history *h = &out[n++];
            memset(h, 0, sizeof *h);
            const unsigned char *k = sqlite3_column_text(s, 0);
            h->kind = k ? (char)k[0] : 0;
            h->date = sqlite3_column_int(s, 1);
            sl_sqlite_text(s, 2, h->code, sizeof h->code);
            sl_sqlite_text(s, 3, h->text, sizeof h->text);
            h->conviction = sqlite3_column_int(s, 4);
            h->ends = sqlite3_column_int(s, 5);
        }
        (*total)++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail(st, "history look-up");
    return n;
}

/* ---- vehicles ------------------------------------------------------------------------- */
/* The row of a statement that selects VEHICLE_COLS; no owners yet (vehicle_owners). */
static void read_vehicle(sqlite3_stmt *s, struct sl_vehicle *v)
{
    memset(v, 0, sizeof *v);
    v->id = sqlite3_column_int64(s, 0);
    sl_sqlite_text(s, 1, v->plate, sizeof v->plate);
    v->plate_year = sqlite3_column_int(s, 2);
    sl_sqlite_text(s, 3, v->plate_type, sizeof v->plate_type);
    sl_sqlite_text(s, 4, v->vin, sizeof v->vin);
    sl_sqlite_text(s, 5, v->make, sizeof v->make);
    sl_sqlite_text(s, 6, v->model, sizeof v->model);
    v->year = sqlite3_column_int(s, 7);
    sl_sqlite_text(s, 8, v->colour, sizeof v->colour);
    sl_sqlite_text(s, 9, v->style, sizeof v->style);
    v->reg_expires = sqlite3_column_int(s, 10);
}

/* The first two owners of v (its row read): 1, or -1 on a store error. */
static int vehicle_owners(struct sl_store *st, struct sl_vehicle *v)
{
    sqlite3_stmt *s = st->q[Q_OWNERS];
    int rc;
    sqlite3_bind_int64(s, 1, v->id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (v->n_owners >= 2)
            continue;
        struct sl_owner *o = &v->owner[v->n_owners++];
        o->driver_id = sqlite3_column_int64(s, 0);
        sl_sqlite_text(s, 1, o->oln, sizeof o->oln);
        sl_sqlite_text(s, 2, o->last, sizeof o->last);
        sl_sqlite_text(s, 3, o->first, sizeof o->first);
        sl_sqlite_text(s, 4, o->middle, sizeof o->middle);
        sl_sqlite_text(s, 5, o->suffix, sizeof o->suffix);
        o->dob = sqlite3_column_int(s, 6);
        sl_sqlite_text(s, 7, o->street, sizeof o->street);
        sl_sqlite_text(s, 8, o->city, sizeof o->city);
        sl_sqlite_text(s, 9, o->state, sizeof o->state);
        sl_sqlite_text(s, 10, o->zip, sizeof o->zip);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail(st, "owner look-up");
    return 1;
}

static int lk_vehicle_by_id(struct sl_store *st, int64_t id, struct sl_vehicle *v)
{
    sqlite3_stmt *s = st->q[Q_VEHICLE];
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return rc == SQLITE_DONE ? 0 : fail(st, "vehicle look-up");
    }
    read_vehicle(s, v);
    sqlite3_reset(s);
    return vehicle_owners(st, v);
}

/* Normalise an LIY: 2-digit years are 20yy (plates expire in the near future or the
 * recent past); NX (non-expiring) and anything else unparseable count as not given. */
static int plate_year_norm(int y)
{
    if (y > 0 && y < 100)
        return 2000 + y;
    return y;
}

static int by_vehicle_id(const void *a, const void *b)
{
    int64_t x = ((const struct sl_vehicle *)a)->id, y = ((const struct sl_vehicle *)b)->id;
    return (x > y) - (x < y);
}

static int lk_vehicle_by_plate(struct sl_store *st, const char *plate, int year,
                              const char *type, struct sl_vehicle *out, int cap, int *total)
{
    char p[16], t[8] = "";
    *total = 0;
    if (sl_store_canon(plate, p, sizeof p) <= 0)
        return 0;
    if (type)
        sl_store_canon(type, t, sizeof t);
    year = plate_year_norm(year);
    /* Every vehicle with the plate, its row read at once (a plate is one vehicle as a
     * rule, a few at most; the heap only past four). */
    struct sl_vehicle cbuf[4], *c = cbuf;
    int nc = 0, ccap = 4, rc, r = 0;
    sqlite3_stmt *s = st->q[Q_PLATE];
    sqlite3_bind_text(s, 1, p, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (nc == ccap) {
            ccap *= 2;
            if (c == cbuf) {
                c = sl_xmalloc(sizeof *c * (size_t)ccap);
                memcpy(c, cbuf, sizeof cbuf);
            } else {
                c = sl_xrealloc(c, sizeof *c * (size_t)ccap);
            }
        }
        unsigned m = 0;
        if (year && sqlite3_column_int(s, 2) == year)
            m |= SL_MATCH_YEAR;
        const unsigned char *ty = sqlite3_column_text(s, 3);
        if (t[0] && ty && strcmp((const char *)ty, t) == 0)
            m |= SL_MATCH_TYPE;
        read_vehicle(s, &c[nc]);
        c[nc++].match = m;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        r = fail(st, "plate look-up");
        goto done;
    }
    /* The 32 lowest ids, in id order, as the look-up always answered. */
    qsort(c, (size_t)nc, sizeof *c, by_vehicle_id);
    if (nc > 32)
        nc = 32;
    /* Keep the candidates that match the most of the elements given (type counts
     * more than year: a dispatcher misreads a sticker year more often than a plate
     * type); with none matching, all stay, with their match bits clear. */
    int best = -1;
    for (int i = 0; i < nc; i++) {
        int score = (c[i].match & SL_MATCH_TYPE ? 2 : 0) + (c[i].match & SL_MATCH_YEAR ? 1 : 0);
        if (score > best)
            best = score;
    }
    for (int i = 0; i < nc; i++) {
        int score = (c[i].match & SL_MATCH_TYPE ? 2 : 0) + (c[i].match & SL_MATCH_YEAR ? 1 : 0);
        if (score != best)
            continue;
        (*total)++;
        if (r < cap) {
            out[r] = c[i];
            if (vehicle_owners(st, &out[r]) < 0) {
                r = -1;
                goto done;
            }
            r++;
        }
    }
done:
    if (c != cbuf)
        free(c);
    return r;
}

/* A statement that selects VEHICLE_COLS: the first cap rows into out with their owners,
 * the count of rows into *total. */
static int vehicle_rows_from_stmt(struct sl_store *st, sqlite3_stmt *s, struct sl_vehicle *out,
                                  int cap, int *total, const char *what)
{
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n < cap)
            read_vehicle(s, &out[n++]);
        (*total)++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail(st, what);
    for (int i = 0; i < n; i++)
        if (vehicle_owners(st, &out[i]) < 0)
            return -1;
    return n;
}

static int vehicles_from_stmt(struct sl_store *st, sqlite3_stmt *s, struct sl_vehicle *out,
                              int cap, int *total, const char *what)
{
    /* Collect ids first: vehicle_by_id uses other statements, and keeping this one
     * open under them is fine in SQLite but the ids also bound the work. */
    int64_t idbuf[64];
    int64_t *ids = cap <= 64 ? idbuf : sl_xmalloc(sizeof(int64_t) * (size_t)cap);
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n < cap)
            ids[n++] = sqlite3_column_int64(s, 0);
        (*total)++;
    }
    sqlite3_reset(s);
    int r = n;
    if (rc != SQLITE_DONE)
        r = fail(st, what);
    for (int i = 0; r >= 0 && i < n; i++)
        if (lk_vehicle_by_id(st, ids[i], &out[i]) != 1)
            r = fail(st, "vehicle row missing for an index entry");
    if (ids != idbuf)
        free(ids);
    return r;
}

static int lk_vehicle_by_vin(struct sl_store *st, const char *vin, struct sl_vehicle *out,
                            int cap, int *total, int *check_ok)
{
    char v[32];
    *total = 0;
    if (check_ok)
        *check_ok = 0;
    int len = sl_store_canon(vin, v, sizeof v);
    if (len == 17) {
        if (check_ok)
            *check_ok = sl_store_vin_valid(v);
        sqlite3_stmt *s = st->q[Q_VIN];
        sqlite3_bind_text(s, 1, v, -1, SQLITE_TRANSIENT);
        return vehicle_rows_from_stmt(st, s, out, cap, total, "VIN look-up");
    }
    if (len == 8) {
        /* The last 8 are model year, plant and serial: letters I, O and Q never occur
         * there, so such a fragment is a misreading, not a VIN not on file. */
        if (strpbrk(v, "IOQ"))
            return -2;
        sqlite3_stmt *s = st->q[Q_VIN8];
        sqlite3_bind_text(s, 1, v, -1, SQLITE_TRANSIENT);
        return vehicles_from_stmt(st, s, out, cap, total, "VIN look-up");
    }
    return -2; /* neither a VIN nor its last 8 */
}

static int lk_vehicle_by_owner(struct sl_store *st, const char *name, struct sl_vehicle *out,
                              int cap, int *total)
{
    struct sl_name nm;
    char err[128];
    *total = 0;
    if (sl_store_name_parse(name, &nm, err, sizeof err) < 0)
        return -2;
    /* Owners of a common name can be thousands; their ids are gathered in full (the
     * vehicle count must be right) from the covering name index: one pass into a
     * stack buffer, a second into a heap one only for the rare name that overflows it. */
    int64_t dbuf[256];
    int64_t *dids = dbuf;
    int dtotal = 0;
    int dn = name_ids(st, &nm, NULL, 0, 0, dids, 256, &dtotal);
    if (dn >= 0 && dtotal > 256) {
        dids = sl_xmalloc(sizeof(int64_t) * (size_t)dtotal);
        dn = name_ids(st, &nm, NULL, 0, 0, dids, dtotal, &dtotal);
    }
    if (dn < 0) {
        if (dids != dbuf)
            free(dids);
        return -1;
    }
    int n = 0, r = 0;
    for (int i = 0; i < dn && r == 0; i++) {
        sqlite3_stmt *s = st->q[Q_OWNED];
        sqlite3_bind_int64(s, 1, dids[i]);
        int rc;
        int64_t vids[16];
        int nv = 0;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            if (nv < 16)
                vids[nv++] = sqlite3_column_int64(s, 0);
            (*total)++;
        }
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) {
            r = fail(st, "owner look-up");
            break;
        }
        for (int k = 0; k < nv && n < cap; k++) {
            int got = lk_vehicle_by_id(st, vids[k], &out[n]);
            if (got < 0) {
                r = -1;
                break;
            }
            n += got;
        }
    }
    if (dids != dbuf)
        free(dids);
    return r < 0 ? -1 : n;
}

static int lk_vehicle_by_partial_plate(struct sl_store *st, const char *pattern,
                                      struct sl_vehicle *out, int cap, int *total, char *err,
                                      size_t errlen)
{
    *total = 0;
    if (sl_store_partial_plate_check(pattern, err, errlen) < 0)
        return -2;
    char g[32];
    size_t n = 0;
    int wild = 0;
    for (const char *p = pattern; *p; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (*p == '*' || *p == '?')
            wild = 1;
        g[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    }
    g[n] = 0;
    char glob[40];
    /* No wildcard at all: the characters can sit anywhere in the plate. */
    snprintf(glob, sizeof glob, wild ? "%s" : "*%s*", g);
    sqlite3_stmt *s = st->q[Q_PARTIAL];
    if (!s) {
        SL_ERROR("store", "partial plate look-up on a store built without the RPQ index");
        return -1;
    }
    /* The known characters before the first wildcard.  Three or more: the plate index's
     * range [prefix, prefix with its last character + 1) holds every plate that can
     * match, and GLOB on the index entry decides (the same test the trigram index ends
     * with), so the answer is the same set in the same order. */
    size_t pre = strcspn(glob, "*?[");
    if (pre >= 3 && pre < sizeof glob) {
        char lo[40], hi[40];
        memcpy(lo, glob, pre);
        lo[pre] = 0;
        memcpy(hi, lo, pre + 1);
        hi[pre - 1] = (char)(hi[pre - 1] + 1);
        s = st->q[Q_PREFIX];
        sqlite3_bind_text(s, 2, lo, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, hi, -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_text(s, 1, glob, -1, SQLITE_TRANSIENT);
    return vehicles_from_stmt(st, s, out, cap, total, "partial plate look-up");
}

int sl_store_photo(struct sl_store *st, int64_t driver_id, unsigned char *buf, size_t cap)
{
    sqlite3_stmt *s = st->q[Q_PHOTO];
    sqlite3_bind_int64(s, 1, driver_id);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return rc == SQLITE_DONE ? 0 : fail(st, "photo look-up");
    }
    const unsigned char *sx = sqlite3_column_text(s, 0);
    char sex = sx ? (char)sx[0] : 'U';
    char hair[8], eyes[8];
    sl_sqlite_text(s, 1, hair, sizeof hair);
    sl_sqlite_text(s, 2, eyes, sizeof eyes);
    sqlite3_reset(s);

    unsigned char pix[SL_STORE_PHOTO_W * SL_STORE_PHOTO_H];
    sl_pop_photo(st->seed, driver_id, sex, hair, eyes, pix);
    char hdr[32];
    int hl = snprintf(hdr, sizeof hdr, "P5\n%d %d\n255\n", SL_STORE_PHOTO_W, SL_STORE_PHOTO_H);
    size_t total = (size_t)hl + sizeof pix;
    if (buf && cap > 0) {
        size_t a = (size_t)hl < cap ? (size_t)hl : cap;
        memcpy(buf, hdr, a);
        if (cap > a)
            memcpy(buf + a, pix, cap - a < sizeof pix ? cap - a : sizeof pix);
    }
    return (int)total;
}

/* ---- one read transaction per look-up ---------------------------------------------------
 * Outside a transaction SQLite takes and drops the file's read locks (fcntl, and the WAL
 * index's read mark) around every statement; a look-up that runs several (a plate, its
 * vehicles, their owners; a name list and its 20 drivers) paid that each time.  Each
 * public look-up of more than one statement runs inside BEGIN ... COMMIT, so it pays it
 * once, and sees one consistent snapshot of the file besides.  Single-statement look-ups
 * are their own transaction already.  Inside a caller's read transaction
 * (sl_store_read_begin: the gateway keeps one per loop pass) they add nothing. */
static int read_begin(struct sl_store *st, int *began)
{
    *began = 0;
    if (!sqlite3_get_autocommit(st->db))
        return 0; /* inside the caller's read transaction (sl_store_read_begin) */
    *began = 1;
    sqlite3_stmt *s = st->q[Q_BEGIN];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : fail(st, "begin read");
}

static int read_end(struct sl_store *st, int r, int began)
{
    if (!began)
        return r;
    sqlite3_stmt *s = st->q[Q_COMMIT];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        fail(st, "end read");
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return r;
}

#define IN_READ(st, call)                                                                      \
    do {                                                                                       \
        int began_;                                                                            \
        if (read_begin(st, &began_) < 0)                                                       \
            return -1;                                                                         \
        return read_end(st, (call), began_);                                                   \
    } while (0)

int sl_store_driver_by_name_dob_sex(struct sl_store *st, const char *name, const char *dob,
                                    char sex, struct sl_driver *out, int cap, int *total)
{
    IN_READ(st, lk_driver_by_name_dob_sex(st, name, dob, sex, out, cap, total));
}

int sl_store_driver_by_name(struct sl_store *st, const char *name, struct sl_driver *out, int cap,
                            int *total)
{
    IN_READ(st, lk_driver_by_name(st, name, out, cap, total));
}

int sl_store_vehicle_by_id(struct sl_store *st, int64_t id, struct sl_vehicle *v)
{
    IN_READ(st, lk_vehicle_by_id(st, id, v));
}

int sl_store_vehicle_by_plate(struct sl_store *st, const char *plate, int year,
                              const char *type, struct sl_vehicle *out, int cap, int *total)
{
    IN_READ(st, lk_vehicle_by_plate(st, plate, year, type, out, cap, total));
}

int sl_store_vehicle_by_vin(struct sl_store *st, const char *vin, struct sl_vehicle *out,
                            int cap, int *total, int *check_ok)
{
    IN_READ(st, lk_vehicle_by_vin(st, vin, out, cap, total, check_ok));
}

int sl_store_vehicle_by_owner(struct sl_store *st, const char *name, struct sl_vehicle *out,
                              int cap, int *total)
{
    IN_READ(st, lk_vehicle_by_owner(st, name, out, cap, total));
}

int sl_store_vehicle_by_partial_plate(struct sl_store *st, const char *pattern,
                                      struct sl_vehicle *out, int cap, int *total, char *err,
                                      size_t errlen)
{
    IN_READ(st, lk_vehicle_by_partial_plate(st, pattern, out, cap, total, err, errlen));
}

/* A read transaction around several look-ups (the gateway holds one per loop pass):
 * without it each statement starts and ends its own, which in WAL mode is a shared-memory
 * lock, an fcntl and a read-mark per look-up -- a fifth of the gateway's time per query
 * before it was added (docs/performance.md, "End to end").  BEGIN is deferred: the first
 * look-up opens the snapshot and it lasts until sl_store_read_end. */
int sl_store_read_begin(struct sl_store *st)
{
    int began;
    /* The prepared BEGIN and COMMIT: sqlite3_exec would compile each again, once per
     * loop pass of the gateway (a pass per query at low rates). */
    return read_begin(st, &began) < 0 ? -1 : 0;
}

void sl_store_read_end(struct sl_store *st)
{
    if (st && !sqlite3_get_autocommit(st->db))
        (void)read_end(st, 0, 1);
}
