/*
 * bench.c - look-up latency of every query form (store.h sl_store_bench).
 *
 * Samples n drivers and n vehicles uniformly (seeded), builds each query form's input
 * from the sampled record as a dispatcher would type it, then times each call with the
 * monotonic clock.  Reports p50, p99 and max per form, and the share of queries that
 * found the record they were built from (it must be 100%; anything else is a bug that
 * the benchmark surfaces rather than hides).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/core.h"
#include "stateline/population.h"
#include "stateline/store.h"

enum { F_OLN, F_NDS, F_NAME, F_HIST, F_PLATE3, F_PLATE, F_VIN, F_VIN8, F_OWNER, F_PARTIAL,
       F_PHOTO, F_N };
static const char *const form_name[F_N] = {
    "DQ OLN", "DQ NAM+DOB+SEX", "DNQ NAM (list 20)", "KQ history", "RQ LIC+LIY+LIT",
    "RQ LIC only", "RQ VIN", "RQ VIN last 8", "RNQ owner (list 20)", "RPQ partial plate",
    "photo (derived)"};

/* A JSON string: the path is the only text here that is not a fixed ASCII name. */
static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int sl_store_bench(struct sl_store *st, int n, uint64_t seed, FILE *out, int json)
{
    int64_t nd = sl_store_count_drivers(st), nv = sl_store_count_vehicles(st);
    if (nd <= 0 || nv <= 0 || n <= 0) {
        SL_ERROR("store", "bench: empty store");
        return -1;
    }
    struct sl_driver *d = sl_xcalloc((size_t)n, sizeof *d);
    struct sl_vehicle *v = sl_xcalloc((size_t)n, sizeof *v);
    int64_t *lat = sl_xcalloc((size_t)n, sizeof *lat);
    struct sl_driver *dl = sl_xcalloc(SL_STORE_LIST_CAP, sizeof *dl);
    struct sl_vehicle *vl = sl_xcalloc(SL_STORE_LIST_CAP, sizeof *vl);
    struct sl_history h[16];
    unsigned char *photo = sl_xmalloc(SL_STORE_PHOTO_MAX);
    struct sl_pop_rng r;
    sl_pop_rng_seed(&r, seed ^ 0xbe4c4ULL);
    int rc = -1;
    for (int i = 0; i < n; i++) {
        if (sl_store_driver_by_id(st, 1 + (int64_t)sl_pop_rng_below(&r, (uint64_t)nd), &d[i]) != 1 ||
            sl_store_vehicle_by_id(st, 1 + (int64_t)sl_pop_rng_below(&r, (uint64_t)nv), &v[i]) != 1) {
            SL_ERROR("store", "bench: sample %d not found (ids not dense?)", i);
            goto done;
        }
    }
    if (json) {
        fputs("{\"db\":", out);
        json_str(out, sl_store_path(st));
        fprintf(out, ",\"drivers\":%lld,\"vehicles\":%lld,\"samples\":%d,\"forms\":[",
                (long long)nd, (long long)nv, n);
    }
    else
        fprintf(out, "look-ups on %lld drivers, %lld vehicles; %d queries per form\n"
                     "%-22s %10s %10s %10s %10s %8s\n",
                (long long)nd, (long long)nv, n, "form", "p50 us", "p90 us", "p99 us", "max us", "found");
    for (int f = 0; f < F_N; f++) {
        if (f == F_PARTIAL && !sl_store_has_partial_plate(st))
            continue;
        int found = 0;
        for (int i = 0; i < n; i++) {
            const struct sl_driver *x = &d[i];
            const struct sl_vehicle *y = &v[i];
            char name[96], dob[16], pat[16];
            snprintf(name, sizeof name, "%s,%s %s", x->last, x->first, x->middle);
            snprintf(dob, sizeof dob, "%08d", x->dob);
            int total = 0, k = 0, ok = 0;
            int64_t t0 = sl_now_ns();
            switch (f) {
            case F_OLN: {
                struct sl_driver o;
                ok = sl_store_driver_by_oln(st, x->oln, &o) == 1 && o.id == x->id;
                break;
            }
            case F_NDS:
                k = sl_store_driver_by_name_dob_sex(st, name, dob, x->sex, dl, SL_STORE_LIST_CAP,
                                                    &total);
                for (int j = 0; j < k; j++)
                    ok |= dl[j].id == x->id;
                break;
            case F_NAME:
                k = sl_store_driver_by_name(st, name, dl, SL_STORE_LIST_CAP, &total);
                ok = k > 0;
                break;
            case F_HIST:
                k = sl_store_history(st, x->id, h, 16, &total);
                ok = k >= 0;
                break;
            case F_PLATE3:
            case F_PLATE:
                k = sl_store_vehicle_by_plate(st, y->plate, f == F_PLATE3 ? y->plate_year : 0,
                                              f == F_PLATE3 ? y->plate_type : NULL, vl,
                                              SL_STORE_LIST_CAP, &total);
                for (int j = 0; j < k; j++)
                    ok |= vl[j].id == y->id;
                break;
            case F_VIN:
            case F_VIN8:
                k = sl_store_vehicle_by_vin(st, f == F_VIN ? y->vin : y->vin + 9, vl,
                                            SL_STORE_LIST_CAP, &total, NULL);
                for (int j = 0; j < k; j++)
                    ok |= vl[j].id == y->id;
                break;
            case F_OWNER: {
                char on[96];
                snprintf(on, sizeof on, "%s,%s %s", y->owner[0].last, y->owner[0].first,
                         y->owner[0].middle);
                k = sl_store_vehicle_by_owner(st, on, vl, SL_STORE_LIST_CAP, &total);
                ok = k > 0;
                break;
            }
            case F_PARTIAL: {
                /* A dispatcher who saw the first four characters. */
                snprintf(pat, sizeof pat, "%.4s*", y->plate);
                char err[128];
                k = sl_store_vehicle_by_partial_plate(st, pat, vl, SL_STORE_LIST_CAP, &total, err,
                                                      sizeof err);
                ok = k > 0;
                break;
            }
            case F_PHOTO:
                ok = sl_store_photo(st, x->id, photo, SL_STORE_PHOTO_MAX) > 0;
                break;
            }
            lat[i] = sl_now_ns() - t0;
            found += ok;
        }
        qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
        double p50 = (double)lat[n / 2] / 1e3, p90 = (double)lat[(size_t)n * 90 / 100] / 1e3,
               p99 = (double)lat[(size_t)n * 99 / 100] / 1e3, mx = (double)lat[n - 1] / 1e3;
        if (json)
            fprintf(out, "%s{\"form\":\"%s\",\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
                         "\"max_us\":%.1f,\"found\":%d,\"n\":%d}",
                    f ? "," : "", form_name[f], p50, p90, p99, mx, found, n);
        else
            fprintf(out, "%-22s %10.1f %10.1f %10.1f %10.1f %7.1f%%\n", form_name[f], p50, p90, p99, mx,
                    100.0 * found / n);
    }
    if (json)
        fprintf(out, "]}\n");
    rc = 0;
done:
    free(d);
    free(v);
    free(lat);
    free(dl);
    free(vl);
    free(photo);
    return rc;
}
