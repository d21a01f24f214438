/*
 * popwrite.c - load a generated population into a store file (population.h
 * sl_pop_write).  Schema: store.h / docs/records.md.
 *
 * Bulk-load recipe: the file is built as path.tmp with journal_mode=OFF,
 * synchronous=OFF and an exclusive lock, every row in one transaction through
 * prepared statements, rows in primary-key order; indexes and the FTS5 plate index are
 * built after the load (one sort each instead of a B-tree insert per row); then the
 * file is switched to WAL for serving and renamed into place, so a reader never sees
 * a half-built store and a failed run leaves the old file untouched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "stateline/core.h"
#include "stateline/population.h"
#include "stateline/store.h"

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s (in: %.60s)", msg ? msg : "?", sql);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static int step_reset(sqlite3 *db, sqlite3_stmt *s, char *err, size_t errlen)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "sqlite insert: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* Run the index script one statement at a time, so that a long build (minutes at tens
 * of millions of drivers) shows what it is doing. */
static int build_indexes(sqlite3 *db, const char *sql, int show, char *err, size_t errlen)
{
    while (*sql) {
        sqlite3_stmt *s = NULL;
        const char *tail = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &s, &tail) != SQLITE_OK) {
            snprintf(err, errlen, "sqlite index: %s", sqlite3_errmsg(db));
            return -1;
        }
        if (!s)
            break; /* only whitespace left */
        int64_t t0 = sl_now_us();
        int rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE) {
            snprintf(err, errlen, "sqlite index: %s (in: %.60s)", sqlite3_errmsg(db), sql);
            return -1;
        }
        if (show) {
            size_t len = strcspn(sql, "(\n");
            fprintf(stderr, "gen:   %.*s  %.1f s\n", (int)(len > 70 ? 70 : len), sql,
                    (double)(sl_now_us() - t0) / 1e6);
        }
        sql = tail;
        while (*sql == '\n' || *sql == ' ')
            sql++;
    }
    return 0;
}

static void progress(const struct sl_pop_opts *o, uint64_t done, int64_t t0, int final)
{
    double s = (double)(sl_now_us() - t0) / 1e6;
    double rate = s > 0 ? (double)done / s : 0;
    int tty = isatty(2);
    fprintf(stderr, "%sgen: %s %llu/%llu drivers (%3.0f%%) %.0f/s%s", tty ? "\r" : "",
            o->state, (unsigned long long)done, (unsigned long long)o->drivers,
            100.0 * (double)done / (double)o->drivers, rate, (!tty || final) ? "\n" : "");
}

int sl_pop_write(const struct sl_pop_opts *opts, const char *path, int replace,
                 struct sl_pop_stats *stats, char *err, size_t errlen)
{
    struct sl_pop_stats st_local;
    struct sl_pop_stats *st = stats ? stats : &st_local;
    memset(st, 0, sizeof *st);
    struct stat sb;
    if (!replace && stat(path, &sb) == 0) {
        snprintf(err, errlen, "%s exists (use --force to replace it)", path);
        return -1;
    }
    struct sl_pop *g = sl_pop_new(opts, err, errlen);
    if (!g)
        return -1;
    struct sl_pop_state_info info;
    sl_pop_state_find(opts->state, &info);
    size_t plen = strlen(path);
    char *tmp = sl_xmalloc(plen + 16);
    char *aux = sl_xmalloc(plen + 32);
    snprintf(tmp, plen + 16, "%s.tmp", path);
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(aux, plen + 32, "%s%s", tmp, sfx[i]);
        unlink(aux);
    }

    sqlite3 *db = NULL;
    sqlite3_stmt *ins_d = NULL, *ins_h = NULL, *ins_v = NULL, *ins_o = NULL;
    int rc = -1;
    if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    if (exec(db,
             "PRAGMA page_size=4096; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
             "PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-262144; PRAGMA threads=2;",
             err, errlen) < 0 ||
        exec(db, sl_store_schema_sql(), err, errlen) < 0 || exec(db, "BEGIN", err, errlen) < 0)
        goto out;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO driver VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,"
                           "?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24)",
                           -1, &ins_d, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO history VALUES(?1,?2,?3,?4,?5,?6,?7,?8)", -1, &ins_h,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO vehicle VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                           -1, &ins_v, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO owner VALUES(?1,?2,?3)", -1, &ins_o, NULL) !=
            SQLITE_OK) {
        snprintf(err, errlen, "sqlite prepare: %s", sqlite3_errmsg(db));
        goto out;
    }

    int64_t t0 = sl_now_us(), last_report = t0;
    struct sl_pop_rec rec;
    char key[72];
    for (;;) {
        int n = sl_pop_next(g, &rec, err, errlen);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        const struct sl_driver *d = &rec.d;
        sl_store_pair_key(d->last, d->first, key, sizeof key);
        char sex[2] = {d->sex, 0};
        sqlite3_bind_int64(ins_d, 1, d->id);
        bind_text(ins_d, 2, d->oln);
        bind_text(ins_d, 3, d->last);
        bind_text(ins_d, 4, d->first);
        bind_text(ins_d, 5, d->middle);
        bind_text(ins_d, 6, d->suffix);
        bind_text(ins_d, 7, key);
        sqlite3_bind_int(ins_d, 8, d->dob);
        bind_text(ins_d, 9, sex);
        bind_text(ins_d, 10, d->street);
        bind_text(ins_d, 11, d->city);
        bind_text(ins_d, 12, d->state);
        bind_text(ins_d, 13, d->zip);
        sqlite3_bind_int(ins_d, 14, d->height_in);
        sqlite3_bind_int(ins_d, 15, d->weight_lb);
        bind_text(ins_d, 16, d->eyes);
        bind_text(ins_d, 17, d->hair);
        bind_text(ins_d, 18, d->lic_class);
        bind_text(ins_d, 19, d->endorsements);
        bind_text(ins_d, 20, d->restrictions);
        bind_text(ins_d, 21, d->status);
        sqlite3_bind_int(ins_d, 22, d->issued);
        sqlite3_bind_int(ins_d, 23, d->expires);
        bind_text(ins_d, 24, d->ssn);
        if (step_reset(db, ins_d, err, errlen) < 0)
            goto out;
        for (int i = 0; i < rec.n_hist; i++) {
            const struct sl_history *h = &rec.hist[i];
            char kind[2] = {h->kind, 0};
            sqlite3_bind_int64(ins_h, 1, d->id);
            sqlite3_bind_int(ins_h, 2, i);
            bind_text(ins_h, 3, kind);
            sqlite3_bind_int(ins_h, 4, h->date);
            bind_text(ins_h, 5, h->code);
            bind_text(ins_h, 6, h->text);
            sqlite3_bind_int(ins_h, 7, h->conviction);
            sqlite3_bind_int(ins_h, 8, h->ends);
            if (step_reset(db, ins_h, err, errlen) < 0)
                goto out;
        }
        st->history += (uint64_t)rec.n_hist;
        for (int i = 0; i < rec.n_veh; i++) {
            const struct sl_vehicle *v = &rec.veh[i];
            sqlite3_bind_int64(ins_v, 1, v->id);
            bind_text(ins_v, 2, v->plate);
            sqlite3_bind_int(ins_v, 3, v->plate_year);
            bind_text(ins_v, 4, v->plate_type);
            bind_text(ins_v, 5, v->vin);
            bind_text(ins_v, 6, v->make);
            bind_text(ins_v, 7, v->model);
            sqlite3_bind_int(ins_v, 8, v->year);
            bind_text(ins_v, 9, v->colour);
            bind_text(ins_v, 10, v->style);
            sqlite3_bind_int(ins_v, 11, v->reg_expires);
            if (step_reset(db, ins_v, err, errlen) < 0)
                goto out;
            for (int k = 0; k < v->n_owners; k++) {
                sqlite3_bind_int64(ins_o, 1, v->id);
                sqlite3_bind_int(ins_o, 2, k);
                sqlite3_bind_int64(ins_o, 3, v->owner[k].driver_id);
                if (step_reset(db, ins_o, err, errlen) < 0)
                    goto out;
                st->owners++;
            }
            st->vehicles++;
        }
        st->drivers++;
        if (opts->progress && (st->drivers & 0x3fff) == 0) {
            int64_t now = sl_now_us();
            if (now - last_report > 1000000) {
                progress(opts, st->drivers, t0, 0);
                last_report = now;
            }
        }
    }
    if (exec(db, "COMMIT", err, errlen) < 0)
        goto out;
    st->load_s = (double)(sl_now_us() - t0) / 1e6;
    if (opts->progress) {
        progress(opts, st->drivers, t0, 1);
        fprintf(stderr, "gen: %llu vehicles, %llu history entries; building indexes...\n",
                (unsigned long long)st->vehicles, (unsigned long long)st->history);
    }
    int64_t t1 = sl_now_us();
    if (build_indexes(db, sl_store_index_sql(), opts->progress, err, errlen) < 0 ||
        (!opts->no_plate_index &&
         build_indexes(db, sl_store_plate_index_sql(), opts->progress, err, errlen) < 0))
        goto out;
    char meta[512];
    snprintf(meta, sizeof meta,
             "INSERT INTO meta VALUES('schema','%d'),('state','%s'),('seed','%llu'),"
             "('as_of','%d'),('drivers','%llu'),('vehicles','%llu'),('generator','stateline')",
             SL_STORE_SCHEMA_VERSION, info.code, (unsigned long long)opts->seed, opts->as_of,
             (unsigned long long)st->drivers, (unsigned long long)st->vehicles);
    if (exec(db, meta, err, errlen) < 0 || exec(db, "PRAGMA journal_mode=WAL", err, errlen) < 0)
        goto out;
    st->index_s = (double)(sl_now_us() - t1) / 1e6;
    if (opts->progress)
        fprintf(stderr, "gen: indexes built in %.1f s\n", st->index_s);
    rc = 0;
out:
    sqlite3_finalize(ins_d);
    sqlite3_finalize(ins_h);
    sqlite3_finalize(ins_v);
    sqlite3_finalize(ins_o);
    if (db && sqlite3_close(db) != SQLITE_OK && rc == 0) {
        snprintf(err, errlen, "sqlite close: %s", sqlite3_errmsg(db));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        snprintf(err, errlen, "rename %s -> %s: %s", tmp, path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && stat(path, &sb) == 0)
        st->bytes = (int64_t)sb.st_size;
    if (rc != 0)
        for (size_t i = 0; i < 4; i++) {
            snprintf(aux, plen + 32, "%s%s", tmp, sfx[i]);
            unlink(aux);
        }
    free(tmp);
    free(aux);
    sl_pop_free(g);
    return rc;
}
