/*
 * warm.c - read a store file into the OS page cache before the look-ups need it
 * (store.h sl_store_warm_file; the gateway's store_warm key; docs/records.md §3).
 *
 * A look-up at 30 million drivers touches 6-10 pages of a 12.5 GB file.  From memory
 * that is microseconds; from disk each page is a 0.1-10 ms read.  Warming makes the
 * first queries after a start as fast as the millionth:
 *
 *   all      the whole file, read sequentially in 1 MiB preads (the fastest way to get
 *            every page in: the disk streams, the kernel reads ahead).
 *   indexes  every index b-tree and the RPQ index, walked in key order through SQLite's
 *            dbstat virtual table, which reads each page of the named b-tree once.
 *            The generator builds each index after the load, so an index's pages are
 *            one run of the file and this walk is close to sequential too.  The tables
 *            (driver, vehicle, history, owner rows) stay cold: each look-up then costs
 *            one or two disk reads instead of six to ten.  A SQLite built without
 *            dbstat falls back to all (stats.fallback).
 *
 * It opens its own file descriptor or connection, so it can run on a thread beside the
 * handle that answers queries; it holds no lock and writes nothing.
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
#include "stateline/store.h"

int sl_store_warm_parse(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "no"))
        return SL_STORE_WARM_NO;
    if (!strcmp(s, "indexes"))
        return SL_STORE_WARM_INDEXES;
    if (!strcmp(s, "all"))
        return SL_STORE_WARM_ALL;
    return -1;
}

const char *sl_store_warm_name(int what)
{
    switch (what) {
    case SL_STORE_WARM_NO:
        return "no";
    case SL_STORE_WARM_INDEXES:
        return "indexes";
    case SL_STORE_WARM_ALL:
        return "all";
    default:
        return "?";
    }
}

int sl_store_size_parse(const char *s, int64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    int shift = 0;
    switch (*end) {
    case 0:
        break;
    case 'k': case 'K':
        shift = 10;
        break;
    case 'm': case 'M':
        shift = 20;
        break;
    case 'g': case 'G':
        shift = 30;
        break;
    case 't': case 'T':
        shift = 40;
        break;
    default:
        return -1;
    }
    if (*end && end[1])
        return -1;
    if (v > (unsigned long long)INT64_MAX >> shift)
        return -1;
    *out = (int64_t)(v << shift);
    return 0;
}

static double secs_since(int64_t t0) { return (double)(sl_now_ns() - t0) / 1e9; }

static int warm_all(const char *path, const atomic_int *stop, sl_store_warm_fn fn, void *ctx,
                    struct sl_store_warm_stats *out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    int64_t total = (int64_t)sb.st_size;
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* a hint; failure is harmless */
    enum { CHUNK = 1 << 20 };
    char *buf = sl_xmalloc(CHUNK);
    int64_t done = 0, next_report = total / 20;
    int rc = 0;
    while (done < total) {
        if (stop && atomic_load(stop)) {
            rc = 1;
            break;
        }
        ssize_t r = pread(fd, buf, CHUNK, (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: read at %lld: %s", path, (long long)done, strerror(errno));
            rc = -1;
            break;
        }
        if (r == 0)
            break; /* the file shrank under us: what is there is read */
        done += r;
        if (fn && done >= next_report) {
            fn(ctx, "file", done, total);
            next_report = done + total / 20;
        }
    }
    free(buf);
    close(fd);
    out->bytes = done;
    out->pages = done / 4096;
    return rc;
}

static int warm_indexes(const char *path, const atomic_int *stop, sl_store_warm_fn fn,
                        void *ctx, struct sl_store_warm_stats *out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *names = NULL, *walk = NULL;
    int rc = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
        goto done;
    }
    /* No mmap and a small cache: the point is the OS page cache, which the gateway's
     * own connection reads from; this connection's copies would only be thrown away. */
    sqlite3_exec(db, "PRAGMA mmap_size=0; PRAGMA cache_size=-2048", NULL, NULL, NULL);
    if (sqlite3_prepare_v2(db,
                           "SELECT name FROM sqlite_schema WHERE type='index' OR name IN"
                           " ('plate_fts_data', 'plate_fts_idx') ORDER BY rootpage",
                           -1, &names, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        goto done;
    }
    if (sqlite3_prepare_v2(db, "SELECT count(*), total(pgsize) FROM dbstat WHERE name=?1", -1,
                           &walk, NULL) != SQLITE_OK) {
        rc = 2; /* no dbstat in this SQLite: the caller reads everything instead */
        goto done;
    }
    int r;
    while ((r = sqlite3_step(names)) == SQLITE_ROW) {
        if (stop && atomic_load(stop)) {
            rc = 1;
            goto done;
        }
        char name[128];
        const unsigned char *t = sqlite3_column_text(names, 0);
        sl_strlcpy(name, t ? (const char *)t : "", sizeof name);
        sqlite3_bind_text(walk, 1, name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(walk) == SQLITE_ROW) {
            out->pages += sqlite3_column_int64(walk, 0);
            out->bytes += (int64_t)sqlite3_column_double(walk, 1);
            out->n_btrees++;
        } else {
            snprintf(err, errlen, "%s: reading index %s: %s", path, name, sqlite3_errmsg(db));
            goto done;
        }
        sqlite3_reset(walk);
        if (fn)
            fn(ctx, name, out->bytes, -1);
    }
    if (r != SQLITE_DONE) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(walk);
    sqlite3_finalize(names);
    sqlite3_close(db);
    return rc;
}

int sl_store_warm_file(const char *path, int what, const atomic_int *stop,
                       sl_store_warm_fn fn, void *ctx, struct sl_store_warm_stats *out,
                       char *err, size_t errlen)
{
    struct sl_store_warm_stats st;
    memset(&st, 0, sizeof st);
    int64_t t0 = sl_now_ns();
    int rc;
    switch (what) {
    case SL_STORE_WARM_NO:
        rc = 0;
        break;
    case SL_STORE_WARM_INDEXES:
        rc = warm_indexes(path, stop, fn, ctx, &st, err, errlen);
        if (rc == 2) {
            memset(&st, 0, sizeof st);
            st.fallback = 1;
            rc = warm_all(path, stop, fn, ctx, &st, err, errlen);
        }
        break;
    case SL_STORE_WARM_ALL:
        rc = warm_all(path, stop, fn, ctx, &st, err, errlen);
        break;
    default:
        snprintf(err, errlen, "warm-up must be no, indexes or all");
        rc = -1;
    }
    st.seconds = secs_since(t0);
    if (out)
        *out = st;
    return rc;
}
