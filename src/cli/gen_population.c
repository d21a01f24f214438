/*
 * gen_population.c - `stateline gen population`: a state's synthetic driver and
 * vehicle records in a store file (population.h, docs/records.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/cli.h"
#include "stateline/core.h"
#include "stateline/population.h"
#include "stateline/store.h"

static const char usage[] =
    "usage: stateline gen population --state XX --drivers N [--seed S] --out FILE\n"
    "                                [--as-of YYYY-MM-DD] [--force] [--quiet]\n"
    "                                [--no-partial-plate-index] [--bench-lookups N]\n"
    "\n"
    "Writes a state's synthetic driver and vehicle records (names, addresses, licences in\n"
    "the state's number format, histories, vehicles with plates and valid VINs, owners)\n"
    "to an SQLite store file for `stateline gateway`.  See docs/records.md.\n"
    "\n"
    "  --state XX          two-letter state, DC or territory code (WA, CA, NY, PR ...)\n"
    "  --drivers N         how many drivers (1 .. tens of millions; suffixes k, M allowed)\n"
    "  --seed S            PRNG seed (default 1); same seed and as-of, same rows\n"
    "  --out FILE          the store file (written as FILE.tmp, renamed when complete)\n"
    "  --as-of DATE        the date ages, expiries and histories are measured from\n"
    "                      (default: today, UTC; give it to reproduce a file exactly)\n"
    "  --force             replace FILE if it exists\n"
    "  --quiet             no progress on stderr\n"
    "  --no-partial-plate-index\n"
    "                      skip the RPQ (partial plate) index, most of the build time,\n"
    "                      for a state that does not answer RPQ\n"
    "  --bench-lookups N   afterwards, time N look-ups of every query form (store bench)\n";

static int parse_count(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    if (*end == 'k' || *end == 'K')
        v *= 1e3, end++;
    else if (*end == 'm' || *end == 'M')
        v *= 1e6, end++;
    if (*end || v > 1e10 || v != (double)(uint64_t)v)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_date(const char *s, int32_t *out)
{
    int y, m, d;
    char tail;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1900 || y > 2199)
        return -1;
    int32_t ymd = y * 10000 + m * 100 + d;
    if (sl_pop_date_ymd(sl_pop_date_days(ymd)) != ymd)
        return -1;
    *out = ymd;
    return 0;
}

static int run(int argc, char **argv)
{
    struct sl_pop_opts o = {.seed = 1, .progress = 1};
    const char *out = NULL;
    int force = 0;
    uint64_t bench = 0;
    o.as_of = sl_pop_date_today();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--force")) {
            force = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            o.progress = 0;
            continue;
        }
        if (!strcmp(a, "--no-partial-plate-index")) {
            o.no_plate_index = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "gen population: %s needs a value\n%s", a, usage);
            return SL_EXIT_USAGE;
        }
        i++;
        if (!strcmp(a, "--state")) {
            o.state = v;
        } else if (!strcmp(a, "--drivers")) {
            if (parse_count(v, &o.drivers) < 0 || o.drivers == 0) {
                fprintf(stderr, "gen population: --drivers '%s' is not a positive count\n", v);
                return SL_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            o.seed = strtoull(v, &end, 0);
            if (errno || *end || v[0] == '-') {
                fprintf(stderr, "gen population: --seed '%s' is not an unsigned integer\n", v);
                return SL_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--out")) {
            out = v;
        } else if (!strcmp(a, "--as-of")) {
            if (parse_date(v, &o.as_of) < 0) {
                fprintf(stderr, "gen population: --as-of '%s' is not a date YYYY-MM-DD\n", v);
                return SL_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--bench-lookups")) {
            if (parse_count(v, &bench) < 0 || bench == 0 || bench > 10000000) {
                fprintf(stderr, "gen population: --bench-lookups '%s' is not a count\n", v);
                return SL_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "gen population: unknown option %s\n%s", a, usage);
            return SL_EXIT_USAGE;
        }
    }
    if (!o.state || !o.drivers || !out) {
        fprintf(stderr, "gen population: --state, --drivers and --out are required\n%s", usage);
        return SL_EXIT_USAGE;
    }
    struct sl_pop_state_info info;
    if (sl_pop_state_find(o.state, &info) < 0) {
        fprintf(stderr, "gen population: unknown state '%s'\n", o.state);
        return SL_EXIT_USAGE;
    }
    char err[256];
    struct sl_pop_stats st;
    int64_t t0 = sl_now_us();
    if (sl_pop_write(&o, out, force, &st, err, sizeof err) < 0) {
        fprintf(stderr, "gen population: %s\n", err);
        return SL_EXIT_FAIL;
    }
    double secs = (double)(sl_now_us() - t0) / 1e6;
    printf("%s: %s %" PRIu64 " drivers, %" PRIu64 " vehicles, %" PRIu64 " history entries, "
           "seed %" PRIu64 ", as of %04d-%02d-%02d\n",
           out, info.code, st.drivers, st.vehicles, st.history, o.seed, o.as_of / 10000,
           o.as_of / 100 % 100, o.as_of % 100);
    printf("generated in %.1f s (%.0f drivers/s; load %.1f s, indexes %.1f s), %.1f MB "
           "(%.0f MB per million drivers)\n",
           secs, (double)st.drivers / secs, st.load_s, st.index_s, (double)st.bytes / 1e6,
           (double)st.bytes / 1e6 / ((double)st.drivers / 1e6));
    if (bench) {
        struct sl_store *s = sl_store_open(out, 1, err, sizeof err);
        if (!s) {
            fprintf(stderr, "gen population: %s\n", err);
            return SL_EXIT_FAIL;
        }
        int r = sl_store_bench(s, (int)bench, o.seed, stdout, 0);
        sl_store_close(s);
        if (r < 0)
            return SL_EXIT_FAIL;
    }
    return SL_EXIT_OK;
}

const struct sl_cli_cmd sl_gen_population = {
    "population", "a state's synthetic driver and vehicle records (SQLite store)", run, usage};
