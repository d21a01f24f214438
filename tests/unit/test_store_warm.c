/*
 * test_store_warm.c - the store's memory options and warm-up (store.h sl_store_opts,
 * sl_store_warm_file, sl_store_drop_cache) and the gateway keys that set them
 * (store_mmap, store_cache, store_warm, store_warm_wait; docs/gateway.md §1), on a
 * generated population of 2,000 drivers.  No timing is asserted: what the warm-up read
 * is checked against the file's own page counts (dbstat) and size.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gateway/gw_int.h"
#include "stateline/population.h"
#include "stateline/store.h"

struct fx {
    char dir[256], path[300], norpq[300];
};

static int make(const char *path, int partial)
{
    struct sl_pop_opts o = {.state = "WA", .drivers = 2000, .seed = 5, .as_of = 20261126};
    o.no_plate_index = !partial;
    char err[256];
    if (sl_pop_write(&o, path, 0, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "sl_pop_write: %s\n", err);
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/sl-warm-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/wa.db", f->dir);
    snprintf(f->norpq, sizeof f->norpq, "%s/norpq.db", f->dir);
    if (make(f->path, 1) < 0 || make(f->norpq, 0) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char p[320];
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
        unlink(p);
        snprintf(p, sizeof p, "%s%s", f->norpq, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* What dbstat says the indexes (and the RPQ index) hold: the warm-up must read exactly
 * these pages. */
static void index_pages(const char *path, int64_t *pages, int64_t *bytes, int *n)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*), total(pgsize), count(DISTINCT name)"
                                        " FROM dbstat WHERE name IN (SELECT name FROM"
                                        " sqlite_schema WHERE type='index' OR name IN"
                                        " ('plate_fts_data', 'plate_fts_idx'))",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    *pages = sqlite3_column_int64(s, 0);
    *bytes = (int64_t)sqlite3_column_double(s, 1);
    *n = sqlite3_column_int(s, 2);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void test_parsers(void **state)
{
    (void)state;
    int64_t v = -5;
    assert_int_equal(sl_store_size_parse("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(sl_store_size_parse("4096", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(sl_store_size_parse("512M", &v), 0);
    assert_int_equal(v, 512LL << 20);
    assert_int_equal(sl_store_size_parse("2g", &v), 0);
    assert_int_equal(v, 2LL << 30);
    assert_int_equal(sl_store_size_parse("16k", &v), 0);
    assert_int_equal(v, 16384);
    assert_int_equal(sl_store_size_parse("1T", &v), 0);
    assert_int_equal(v, 1LL << 40);
    static const char *const bad[] = {"", "-1", "G", "12X", "1GB", "1.5G", " 1G",
                                      "99999999999999999999", "9000000T", NULL};
    for (int i = 0; bad[i]; i++) {
        v = 7;
        if (sl_store_size_parse(bad[i], &v) != -1)
            fail_msg("size '%s' accepted", bad[i]);
        assert_int_equal(v, 7);
    }
    assert_int_equal(sl_store_warm_parse("no"), SL_STORE_WARM_NO);
    assert_int_equal(sl_store_warm_parse("indexes"), SL_STORE_WARM_INDEXES);
    assert_int_equal(sl_store_warm_parse("all"), SL_STORE_WARM_ALL);
    assert_int_equal(sl_store_warm_parse("ALL"), -1);
    assert_int_equal(sl_store_warm_parse("yes"), -1);
    assert_int_equal(sl_store_warm_parse(NULL), -1);
    assert_string_equal(sl_store_warm_name(SL_STORE_WARM_INDEXES), "indexes");
    assert_string_equal(sl_store_warm_name(SL_STORE_WARM_ALL), "all");
    assert_string_equal(sl_store_warm_name(SL_STORE_WARM_NO), "no");
}

static void test_open_opts(void **state)
{
    struct fx *f = *state;
    char err[256];
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    int64_t lim = sl_store_mmap_limit();
    assert_true(lim > 0);

    /* Defaults: the whole file mapped (it is far below SQLite's cap), 64 MiB cache. */
    struct sl_store *st = sl_store_open(f->path, 1, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(sl_store_file_size(st), (int64_t)sb.st_size);
    assert_int_equal(sl_store_mmap_size(st), (int64_t)sb.st_size);
    assert_int_equal(sl_store_cache_kib(st), SL_STORE_CACHE_DEFAULT_KIB);
    assert_string_equal(sl_store_path(st), f->path);
    sl_store_close(st);

    /* No mmap, a small cache: every look-up still answers. */
    struct sl_store_opts o;
    sl_store_opts_default(&o);
    assert_int_equal(o.mmap_bytes, SL_STORE_MMAP_AUTO);
    o.mmap_bytes = 0;
    o.cache_kib = 512;
    st = sl_store_open_opts(f->path, 1, &o, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(sl_store_mmap_size(st), 0);
    assert_int_equal(sl_store_cache_kib(st), 512);
    struct sl_driver d, e;
    assert_int_equal(sl_store_driver_by_id(st, 1234, &d), 1);
    assert_int_equal(sl_store_driver_by_oln(st, d.oln, &e), 1);
    assert_int_equal(e.id, 1234);
    sl_store_close(st);

    /* A window asked beyond SQLite's cap is cut to the cap, not refused. */
    o.mmap_bytes = lim + (1LL << 30);
    st = sl_store_open_opts(f->path, 1, &o, err, sizeof err);
    assert_non_null(st);
    assert_true(sl_store_mmap_size(st) <= lim);
    sl_store_close(st);

    /* Options do not change what a missing file says. */
    char missing[400];
    snprintf(missing, sizeof missing, "%s/none.db", f->dir);
    assert_null(sl_store_open_opts(missing, 1, &o, err, sizeof err));
    assert_non_null(strstr(err, "none.db"));
}

struct progress {
    int calls;
    int64_t last_done;
    int64_t total;
    int monotonic;
};

static void on_progress(void *ctx, const char *what, int64_t done, int64_t total)
{
    struct progress *p = ctx;
    assert_non_null(what);
    if (done < p->last_done)
        p->monotonic = 0;
    p->last_done = done;
    p->total = total;
    p->calls++;
}

static void test_warm(void **state)
{
    struct fx *f = *state;
    char err[256];
    struct sl_store_warm_stats ws;
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);

    /* all: every byte of the file, progress up to the total. */
    struct progress p = {.monotonic = 1};
    assert_int_equal(sl_store_warm_file(f->path, SL_STORE_WARM_ALL, NULL, on_progress, &p, &ws,
                                        err, sizeof err),
                     0);
    assert_int_equal(ws.bytes, (int64_t)sb.st_size);
    assert_int_equal(ws.n_btrees, 0);
    assert_int_equal(ws.fallback, 0);
    assert_true(p.calls >= 1);
    assert_true(p.monotonic);
    assert_int_equal(p.last_done, (int64_t)sb.st_size);
    assert_int_equal(p.total, (int64_t)sb.st_size);

    /* indexes: exactly the index pages dbstat counts, one progress call per index. */
    int64_t pages, bytes;
    int n;
    index_pages(f->path, &pages, &bytes, &n);
    assert_true(n >= 8); /* 6 indexes, meta's primary key, the FTS5 data and idx tables */
    memset(&p, 0, sizeof p);
    p.monotonic = 1;
    assert_int_equal(sl_store_warm_file(f->path, SL_STORE_WARM_INDEXES, NULL, on_progress, &p,
                                        &ws, err, sizeof err),
                     0);
    assert_int_equal(ws.fallback, 0);
    assert_int_equal(ws.n_btrees, n);
    assert_int_equal(ws.pages, pages);
    assert_int_equal(ws.bytes, bytes);
    assert_true(ws.bytes < (int64_t)sb.st_size);
    assert_int_equal(p.calls, n);
    assert_true(p.monotonic);
    assert_int_equal(p.total, -1);

    /* Without the RPQ index there are two b-trees fewer. */
    int64_t pages2, bytes2;
    int n2;
    index_pages(f->norpq, &pages2, &bytes2, &n2);
    assert_int_equal(n2, n - 2);
    assert_int_equal(sl_store_warm_file(f->norpq, SL_STORE_WARM_INDEXES, NULL, NULL, NULL, &ws,
                                        err, sizeof err),
                     0);
    assert_int_equal(ws.n_btrees, n2);
    assert_int_equal(ws.pages, pages2);

    /* no: nothing read. */
    assert_int_equal(sl_store_warm_file(f->path, SL_STORE_WARM_NO, NULL, NULL, NULL, &ws, err,
                                        sizeof err),
                     0);
    assert_int_equal(ws.bytes, 0);

    /* A stop already asked for: it ends before reading, and says so. */
    atomic_int stop = 1;
    assert_int_equal(sl_store_warm_file(f->path, SL_STORE_WARM_ALL, &stop, NULL, NULL, &ws, err,
                                        sizeof err),
                     1);
    assert_int_equal(ws.bytes, 0);
    assert_int_equal(sl_store_warm_file(f->path, SL_STORE_WARM_INDEXES, &stop, NULL, NULL, &ws,
                                        err, sizeof err),
                     1);
    assert_int_equal(ws.n_btrees, 0);

    /* Errors: a missing file, a file that is not a database, an unknown mode. */
    char bad[400];
    snprintf(bad, sizeof bad, "%s/none.db", f->dir);
    err[0] = 0;
    assert_int_equal(sl_store_warm_file(bad, SL_STORE_WARM_ALL, NULL, NULL, NULL, &ws, err,
                                        sizeof err),
                     -1);
    assert_non_null(strstr(err, "none.db"));
    assert_int_equal(sl_store_warm_file(bad, SL_STORE_WARM_INDEXES, NULL, NULL, NULL, &ws, err,
                                        sizeof err),
                     -1);
    snprintf(bad, sizeof bad, "%s/text.db", f->dir);
    FILE *fp = fopen(bad, "w");
    assert_non_null(fp);
    fputs("not a database at all, just text that is long enough to look like a header\n", fp);
    fclose(fp);
    assert_int_equal(sl_store_warm_file(bad, SL_STORE_WARM_INDEXES, NULL, NULL, NULL, &ws, err,
                                        sizeof err),
                     -1);
    unlink(bad);
    assert_int_equal(sl_store_warm_file(f->path, 7, NULL, NULL, NULL, &ws, err, sizeof err), -1);
    assert_non_null(strstr(err, "no, indexes or all"));
}

static void test_drop_cache(void **state)
{
    struct fx *f = *state;
    char err[256];
    struct sl_store_opts o;
    sl_store_opts_default(&o);
    o.cache_kib = 1024;
    struct sl_store *st = sl_store_open_opts(f->path, 1, &o, err, sizeof err);
    assert_non_null(st);
    struct sl_driver d, e;
    assert_int_equal(sl_store_driver_by_id(st, 77, &d), 1);
    int64_t mm = sl_store_mmap_size(st);
    /* The handle is reopened with the same options and answers as before. */
    assert_int_equal(sl_store_drop_cache(st, err, sizeof err), 0);
    assert_int_equal(sl_store_mmap_size(st), mm);
    assert_int_equal(sl_store_cache_kib(st), 1024);
    assert_int_equal(sl_store_driver_by_oln(st, d.oln, &e), 1);
    assert_int_equal(e.id, 77);
    int total = 0;
    struct sl_driver list[4];
    char name[96], dob[16];
    snprintf(name, sizeof name, "%s,%s", d.last, d.first);
    snprintf(dob, sizeof dob, "%08d", d.dob);
    assert_true(sl_store_driver_by_name_dob_sex(st, name, dob, d.sex, list, 4, &total) >= 1);
    sl_store_close(st);
}

/* The bench over a cold and a warmed store: the same answers (found = n) either way. */
static void test_bench_cold_warm(void **state)
{
    struct fx *f = *state;
    char err[256];
    struct sl_store *st = sl_store_open(f->path, 1, err, sizeof err);
    assert_non_null(st);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    struct sl_store_bench_cfg c = {.n = 50, .seed = 3, .json = 1, .cold = 1,
                                   .warm = SL_STORE_WARM_INDEXES};
    assert_int_equal(sl_store_bench_run(st, &c, out), 0);
    fclose(out);
    assert_non_null(strstr(buf, "\"cold\":true"));
    assert_non_null(strstr(buf, "\"warm\":\"indexes\""));
    assert_non_null(strstr(buf, "\"found\":50,\"n\":50"));
    assert_null(strstr(buf, "\"found\":49"));
    free(buf);
    sl_store_close(st);
}

/* RPQ: patterns that start with 3 known characters go through the plate index, the
 * others through the trigram index; both must give exactly what GLOB over every plate
 * gives (the ground truth here is a full scan), in id order, with the right total. */
static void test_partial_plate_paths(void **state)
{
    struct fx *f = *state;
    char err[256];
    struct sl_store *st = sl_store_open(f->path, 1, err, sizeof err);
    assert_non_null(st);
    sqlite3 *db;
    sqlite3_stmt *all, *truth;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT plate FROM vehicle WHERE id % 97 = 1",
                                        -1, &all, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT id FROM vehicle NOT INDEXED WHERE plate"
                                            " GLOB ?1 ORDER BY id",
                                        -1, &truth, NULL),
                     SQLITE_OK);
    struct sl_vehicle *out = calloc(64, sizeof *out);
    int checked = 0;
    while (sqlite3_step(all) == SQLITE_ROW) {
        char plate[16];
        snprintf(plate, sizeof plate, "%s", (const char *)sqlite3_column_text(all, 0));
        size_t n = strlen(plate);
        if (n < 5)
            continue;
        char pats[5][24];
        snprintf(pats[0], sizeof pats[0], "%.3s*", plate);            /* prefix 3 */
        snprintf(pats[1], sizeof pats[1], "%.4s*", plate);            /* prefix 4 */
        snprintf(pats[2], sizeof pats[2], "%.3s?%s", plate, plate + 4); /* one unknown */
        snprintf(pats[3], sizeof pats[3], "*%s", plate + n - 3);      /* suffix: trigram */
        snprintf(pats[4], sizeof pats[4], "?%.3s*", plate + 1);       /* leading ?: trigram */
        for (int p = 0; p < 5; p++) {
            int total = -1;
            int k = sl_store_vehicle_by_partial_plate(st, pats[p], out, 64, &total, err,
                                                      sizeof err);
            assert_true(k >= 1);
            sqlite3_bind_text(truth, 1, pats[p], -1, SQLITE_TRANSIENT);
            int want_total = 0;
            while (sqlite3_step(truth) == SQLITE_ROW) {
                if (want_total < k && out[want_total].id != sqlite3_column_int64(truth, 0))
                    fail_msg("%s: record %d is id %lld, GLOB says %lld", pats[p], want_total,
                             (long long)out[want_total].id,
                             (long long)sqlite3_column_int64(truth, 0));
                want_total++;
            }
            sqlite3_reset(truth);
            assert_int_equal(total, want_total);
            assert_int_equal(k, want_total < 64 ? want_total : 64);
            checked++;
        }
    }
    assert_true(checked >= 50);
    /* No wildcard: the characters anywhere in the plate (trigram). */
    int total = 0;
    assert_true(sl_store_vehicle_by_partial_plate(st, "123", out, 64, &total, err, sizeof err) >=
                0);
    free(out);
    sqlite3_finalize(all);
    sqlite3_finalize(truth);
    sqlite3_close(db);
    sl_store_close(st);
}

/* The gateway keys: defaults, each value, and a clear error for each bad one. */
static void test_gateway_keys(void **state)
{
    (void)state;
    static const char base[] =
        "[gateway]\nstate = WA\nori = WAOLN0000\nhub = 127.0.0.1:5151\n"
        "cert = c.crt\nkey = c.key\nca = ca.crt\nrecords = wa.db\naudit = audit\n"
        "audit_key = audit.key\ndefault = permit\n";
    struct sl_gw_config cfg;
    char err[700], text[1024];
    assert_int_equal(sl_gw_config_parse(base, strlen(base), "/etc/gw.conf", &cfg, err,
                                        sizeof err),
                     0);
    assert_int_equal(cfg.store_mmap, SL_STORE_MMAP_AUTO);
    assert_int_equal(cfg.store_cache_mib, 64);
    assert_int_equal(cfg.store_warm, SL_STORE_WARM_INDEXES);
    assert_int_equal(cfg.store_warm_wait, 0);

    snprintf(text, sizeof text, "%sstore_mmap = 3G\nstore_cache = 256\nstore_warm = all\n"
                                "store_warm_wait = yes\n", base);
    assert_int_equal(sl_gw_config_parse(text, strlen(text), "/etc/gw.conf", &cfg, err,
                                        sizeof err),
                     0);
    assert_int_equal(cfg.store_mmap, 3LL << 30);
    assert_int_equal(cfg.store_cache_mib, 256);
    assert_int_equal(cfg.store_warm, SL_STORE_WARM_ALL);
    assert_int_equal(cfg.store_warm_wait, 1);

    snprintf(text, sizeof text, "%sstore_mmap = 0\nstore_warm = no\n", base);
    assert_int_equal(sl_gw_config_parse(text, strlen(text), "/etc/gw.conf", &cfg, err,
                                        sizeof err),
                     0);
    assert_int_equal(cfg.store_mmap, 0);
    assert_int_equal(cfg.store_warm, SL_STORE_WARM_NO);
    snprintf(text, sizeof text, "%sstore_mmap = auto\n", base);
    assert_int_equal(sl_gw_config_parse(text, strlen(text), "/etc/gw.conf", &cfg, err,
                                        sizeof err),
                     0);
    assert_int_equal(cfg.store_mmap, SL_STORE_MMAP_AUTO);

    static const struct {
        const char *line, *needle;
    } bad[] = {
        {"store_mmap = lots\n", "auto, or a size"},
        {"store_mmap = -1\n", "auto, or a size"},
        {"store_cache = 0\n", "1 to 1048576"},
        {"store_cache = big\n", "1 to 1048576"},
        {"store_warm = yes\n", "indexes, all or no"},
        {"store_warm_wait = maybe\n", "yes or no"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%s", base, bad[i].line);
        assert_int_equal(sl_gw_config_parse(text, strlen(text), "/etc/gw.conf", &cfg, err,
                                            sizeof err),
                         -1);
        if (!strstr(err, bad[i].needle))
            fail_msg("'%s': error '%s' lacks '%s'", bad[i].line, err, bad[i].needle);
        char key[32];
        sscanf(bad[i].line, "%31s", key);
        if (!strstr(err, key))
            fail_msg("'%s': error '%s' does not name the key", bad[i].line, err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_gateway_keys),
        cmocka_unit_test_setup_teardown(test_open_opts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bench_cold_warm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_plate_paths, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
