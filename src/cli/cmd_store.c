/*
 * cmd_store.c - `stateline store`: look records up in a state's store file by hand,
 * and time every query form (docs/records.md, docs/performance.md).
 *
 * Output of `store get` is one JSON object per record on stdout (jansson), so that
 * scripts and the black-box tests can read it; `--photo` writes the PGM bytes instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stateline/cli.h"
#include "stateline/core.h"
#include "stateline/store.h"

static const char usage[] =
    "usage: stateline store get --db FILE QUERY [--cap N]\n"
    "       stateline store bench --db FILE [--n N] [--seed S] [--json]\n"
    "                             [--cold] [--warm no|indexes|all]\n"
    "       (both: [--mmap auto|BYTES] [--cache-mib N], as the gateway's store_mmap and\n"
    "        store_cache)\n"
    "\n"
    "get: one look-up, each record printed as a JSON line.  QUERY is one of\n"
    "  --oln OLN                          DQ by licence number\n"
    "  --name 'LAST,FIRST MIDDLE' --dob D [--sex M|F]\n"
    "                                     DQ/KQ by name, DOB (mmddyy or ccyymmdd), sex\n"
    "  --name NAME                        DNQ: drivers of that name (list, --cap, default 20)\n"
    "  --history OLN                      KQ: the driver and his or her history\n"
    "  --plate LIC [--year LIY] [--type LIT]   RQ by plate\n"
    "  --vin VIN                          RQ by VIN (17 characters, or the last 8)\n"
    "  --owner NAME                       RNQ: vehicles registered to that name\n"
    "  --partial PATTERN                  RPQ: * any run, ? one character, 3 known in a row\n"
    "  --photo OLN                        the driver's derived photo (PGM) to stdout\n"
    "Exit status 0 found, 1 not on file (or store error), 2 usage or invalid query.\n"
    "\n"
    "bench: times N (default 10000) look-ups of every query form on records sampled\n"
    "with the seed; prints p50/p90/p99/max per form (--json: one object, docs/records.md).\n"
    "--cold drops the file's pages from the OS page cache before timing (no privilege\n"
    "needed); --warm reads the indexes or the whole file into it first.\n";

static json_t *driver_json(const struct sl_driver *d)
{
    char sex[2] = {d->sex, 0};
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:s,s:s,s:s,s:s,"
                     "s:s,s:s,s:i,s:i,s:s}",
                     "id", (json_int_t)d->id, "oln", d->oln, "last", d->last, "first", d->first,
                     "middle", d->middle, "suffix", d->suffix, "dob", d->dob, "sex", sex,
                     "street", d->street, "city", d->city, "state", d->state, "zip", d->zip,
                     "height_in", d->height_in, "weight_lb", d->weight_lb, "eyes", d->eyes,
                     "hair", d->hair, "class", d->lic_class, "endorsements", d->endorsements,
                     "restrictions", d->restrictions, "status", d->status, "issued", d->issued,
                     "expires", d->expires, "ssn", d->ssn);
}

static json_t *vehicle_json(const struct sl_vehicle *v)
{
    json_t *o = json_pack("{s:I,s:s,s:i,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:i,s:i}", "id",
                          (json_int_t)v->id, "plate", v->plate, "plate_year", v->plate_year,
                          "plate_type", v->plate_type, "vin", v->vin, "make", v->make, "model",
                          v->model, "year", v->year, "colour", v->colour, "style", v->style,
                          "reg_expires", v->reg_expires, "match", (int)v->match);
    json_t *owners = json_array();
    for (int i = 0; i < v->n_owners; i++) {
        const struct sl_owner *w = &v->owner[i];
        json_array_append_new(owners,
                              json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s}",
                                        "driver_id", (json_int_t)w->driver_id, "oln", w->oln,
                                        "last", w->last, "first", w->first, "middle", w->middle,
                                        "suffix", w->suffix, "dob", w->dob, "street", w->street,
                                        "city", w->city, "state", w->state, "zip", w->zip));
    }
    json_object_set_new(o, "owners", owners);
    return o;
}

static void emit(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    puts(s);
    free(s);
    json_decref(o);
}

struct args {
    const char *db, *oln, *name, *dob, *sex, *history, *plate, *year, *type, *vin, *owner,
        *partial, *photo;
    int cap, n, json, cold, warm;
    uint64_t seed;
    struct sl_store_opts opts;
};

static int parse(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->cap = SL_STORE_LIST_CAP;
    a->n = 10000;
    a->seed = 1;
    sl_store_opts_default(&a->opts);
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--json")) {
            a->json = 1;
            continue;
        }
        if (!strcmp(k, "--cold")) {
            a->cold = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "stateline store: %s needs a value\n", k);
            return -1;
        }
        const char *v = argv[++i];
        const char **slot = !strcmp(k, "--db")        ? &a->db
                            : !strcmp(k, "--oln")     ? &a->oln
                            : !strcmp(k, "--name")    ? &a->name
                            : !strcmp(k, "--dob")     ? &a->dob
                            : !strcmp(k, "--sex")     ? &a->sex
                            : !strcmp(k, "--history") ? &a->history
                            : !strcmp(k, "--plate")   ? &a->plate
                            : !strcmp(k, "--year")    ? &a->year
                            : !strcmp(k, "--type")    ? &a->type
                            : !strcmp(k, "--vin")     ? &a->vin
                            : !strcmp(k, "--owner")   ? &a->owner
                            : !strcmp(k, "--partial") ? &a->partial
                            : !strcmp(k, "--photo")   ? &a->photo
                                                      : NULL;
        if (slot) {
            *slot = v;
            continue;
        }
        if (!strcmp(k, "--warm")) {
            if ((a->warm = sl_store_warm_parse(v)) < 0) {
                fprintf(stderr, "stateline store: --warm is no, indexes or all, not %s\n", v);
                return -1;
            }
            continue;
        }
        if (!strcmp(k, "--mmap")) {
            if (!strcmp(v, "auto")) {
                a->opts.mmap_bytes = SL_STORE_MMAP_AUTO;
            } else if (sl_store_size_parse(v, &a->opts.mmap_bytes) < 0) {
                fprintf(stderr, "stateline store: --mmap is auto or a size (4G, 512M, 0), "
                                "not %s\n", v);
                return -1;
            }
            continue;
        }
        char *end;
        long n = strtol(v, &end, 10);
        if (!strcmp(k, "--cap") && !*end && n >= 0 && n <= 10000)
            a->cap = (int)n;
        else if (!strcmp(k, "--n") && !*end && n > 0 && n <= 10000000)
            a->n = (int)n;
        else if (!strcmp(k, "--seed") && !*end && n >= 0)
            a->seed = (uint64_t)n;
        else if (!strcmp(k, "--cache-mib") && !*end && n >= 1 && n <= 1048576)
            a->opts.cache_kib = (int64_t)n * 1024;
        else {
            fprintf(stderr, "stateline store: bad option %s %s\n", k, v);
            return -1;
        }
    }
    if (!a->db) {
        fprintf(stderr, "stateline store: --db FILE is required\n");
        return -1;
    }
    return 0;
}

static int get(struct sl_store *st, const struct args *a)
{
    int cap = a->cap ? a->cap : 1;
    struct sl_driver *dl = sl_xcalloc((size_t)cap, sizeof *dl);
    struct sl_vehicle *vl = sl_xcalloc((size_t)cap, sizeof *vl);
    int n = -3, total = 0;
    char err[160] = "";
    if (a->oln || a->history || a->photo) {
        n = sl_store_driver_by_oln(st, a->oln ? a->oln : a->history ? a->history : a->photo, dl);
        total = n > 0;
        if (n == 1 && a->photo) {
            unsigned char *buf = sl_xmalloc(SL_STORE_PHOTO_MAX);
            int len = sl_store_photo(st, dl[0].id, buf, SL_STORE_PHOTO_MAX);
            if (len > 0)
                fwrite(buf, 1, (size_t)len, stdout);
            free(buf);
            n = len > 0 ? 1 : -1;
            goto out;
        }
        if (n == 1) {
            json_t *o = driver_json(&dl[0]);
            if (a->history) {
                struct sl_history h[64];
                int ht = 0, hn = sl_store_history(st, dl[0].id, h, 64, &ht);
                json_t *arr = json_array();
                for (int i = 0; i < hn; i++) {
                    char kind[2] = {h[i].kind, 0};
                    json_array_append_new(arr, json_pack("{s:s,s:i,s:s,s:s,s:i,s:i}", "kind",
                                                         kind, "date", h[i].date, "code",
                                                         h[i].code, "text", h[i].text,
                                                         "conviction", h[i].conviction, "ends",
                                                         h[i].ends));
                }
                json_object_set_new(o, "history", arr);
            }
            emit(o);
        }
    } else if (a->name && a->dob) {
        n = sl_store_driver_by_name_dob_sex(st, a->name, a->dob, a->sex ? a->sex[0] : 0, dl, cap,
                                            &total);
        for (int i = 0; i < n; i++)
            emit(driver_json(&dl[i]));
    } else if (a->name) {
        n = sl_store_driver_by_name(st, a->name, dl, a->cap, &total);
        for (int i = 0; i < n; i++)
            emit(driver_json(&dl[i]));
    } else if (a->plate) {
        n = sl_store_vehicle_by_plate(st, a->plate, a->year ? atoi(a->year) : 0, a->type, vl, cap,
                                      &total);
        for (int i = 0; i < n; i++)
            emit(vehicle_json(&vl[i]));
    } else if (a->vin) {
        int ok = 0;
        n = sl_store_vehicle_by_vin(st, a->vin, vl, cap, &total, &ok);
        if (n == -2)
            snprintf(err, sizeof err, "a VIN has 17 characters: give all 17, or the last 8 "
                                      "(no I, O or Q)");
        if (strlen(a->vin) == 17 && !ok)
            fprintf(stderr, "note: VIN check digit (position 9) is not valid\n");
        for (int i = 0; i < n; i++)
            emit(vehicle_json(&vl[i]));
    } else if (a->owner) {
        n = sl_store_vehicle_by_owner(st, a->owner, vl, a->cap, &total);
        for (int i = 0; i < n; i++)
            emit(vehicle_json(&vl[i]));
    } else if (a->partial) {
        n = sl_store_vehicle_by_partial_plate(st, a->partial, vl, a->cap, &total, err, sizeof err);
        for (int i = 0; i < n; i++)
            emit(vehicle_json(&vl[i]));
    }
    if (n == -3) {
        fprintf(stderr, "stateline store get: no query given\n%s", usage);
        n = -2;
    } else if (n == -2) {
        fprintf(stderr, "stateline store get: invalid query%s%s\n", err[0] ? ": " : "", err);
    } else if (n >= 0 && total > n) {
        fprintf(stderr, "%d more on file\n", total - n);
    } else if (n == 0 && total == 0) {
        fprintf(stderr, "NOT ON FILE\n");
    }
out:
    free(dl);
    free(vl);
    return n == -2 ? SL_EXIT_USAGE : (n > 0 || total > 0) ? SL_EXIT_OK : SL_EXIT_FAIL;
}

static int run(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "get") && strcmp(argv[1], "bench"))) {
        fputs(usage, stderr);
        return SL_EXIT_USAGE;
    }
    struct args a;
    if (parse(argc, argv, &a) < 0)
        return SL_EXIT_USAGE;
    char err[256];
    struct sl_store *st = sl_store_open_opts(a.db, 1, &a.opts, err, sizeof err);
    if (!st) {
        fprintf(stderr, "stateline store: %s\n", err);
        return SL_EXIT_FAIL;
    }
    int rc;
    if (!strcmp(argv[1], "bench")) {
        struct sl_store_bench_cfg c = {
            .n = a.n, .seed = a.seed, .json = a.json, .cold = a.cold, .warm = a.warm};
        rc = sl_store_bench_run(st, &c, stdout) == 0 ? SL_EXIT_OK : SL_EXIT_FAIL;
    } else {
        rc = get(st, &a);
    }
    sl_store_close(st);
    return rc;
}

const struct sl_cli_cmd sl_cmd_store = {
    "store", "look up a state's driver and vehicle records by hand; time the look-ups", run,
    usage};
