/*
 * gen_directory.c - `stateline gen directory`: a realistic national ORI directory for
 * tests, demos and benchmarks (docs/directory.md "The generator").
 *
 * Writes a new SQLite directory (refuses to touch an existing file unless --force), and
 * optionally the same rows as CSV.  Progress and a summary go to stderr / stdout.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stateline/cli.h"
#include "stateline/core.h"
#include "stateline/dir.h"

static const char usage[] =
    "usage: stateline gen directory --seed N --out dir.db [--count 18000] [--csv FILE]\n"
    "                               [--force] [--quiet]\n"
    "\n"
    "Make a realistic national ORI directory: every state, DC, PR, GU, VI, the Canada\n"
    "line, the federal members DJ DH TR DI DD with their components' offices in the\n"
    "states where they sit, and the switch NL0000000.  The same seed gives the same\n"
    "directory.\n"
    "\n"
    "  --seed N      seed of the generator (any 64-bit number)\n"
    "  --out PATH    the SQLite directory to create\n"
    "  --count N     number of ORIs, 3000 to 2000000 (default 18000)\n"
    "  --csv FILE    also write the directory as CSV ('-' = standard output)\n"
    "  --force       replace PATH if it exists\n"
    "  --quiet       no progress or summary\n";

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

struct summary {
    FILE *out;
    int64_t total;
};

static int print_count(void *ctx, const char *key, int64_t n)
{
    struct summary *s = ctx;
    fprintf(s->out, "    %-14s %7" PRId64 "  %5.1f%%\n", key[0] ? key : "(none)", n,
            s->total ? 100.0 * (double)n / (double)s->total : 0.0);
    return 0;
}

static int run(int argc, char **argv)
{
    uint64_t seed = 0, count = 18000;
    const char *out = NULL, *csv = NULL;
    int have_seed = 0, force = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--seed") == 0 && v) {
            if (parse_u64(v, &seed) < 0) {
                fprintf(stderr, "gen directory: --seed wants a number, not '%s'\n", v);
                return SL_EXIT_USAGE;
            }
            have_seed = 1;
            i++;
        } else if (strcmp(a, "--count") == 0 && v) {
            if (parse_u64(v, &count) < 0 || count < SL_DIR_GEN_MIN || count > SL_DIR_GEN_MAX) {
                fprintf(stderr, "gen directory: --count wants %d to %d, not '%s'\n",
                        SL_DIR_GEN_MIN, SL_DIR_GEN_MAX, v);
                return SL_EXIT_USAGE;
            }
            i++;
        } else if (strcmp(a, "--out") == 0 && v) {
            out = v;
            i++;
        } else if (strcmp(a, "--csv") == 0 && v) {
            csv = v;
            i++;
        } else if (strcmp(a, "--force") == 0) {
            force = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else {
            fprintf(stderr, "gen directory: unknown or incomplete option '%s'\n%s", a, usage);
            return SL_EXIT_USAGE;
        }
    }
    if (!have_seed || !out) {
        fprintf(stderr, "gen directory: --seed and --out are required\n%s", usage);
        return SL_EXIT_USAGE;
    }
    if (access(out, F_OK) == 0) {
        if (!force) {
            fprintf(stderr, "gen directory: %s exists (use --force to replace it)\n", out);
            return SL_EXIT_FAIL;
        }
        char side[600];
        unlink(out);
        snprintf(side, sizeof side, "%s-wal", out);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", out);
        unlink(side);
    }

    char err[512];
    struct sl_dir *d;
    if (sl_dir_open(out, 1, &d, err, sizeof err) < 0) {
        fprintf(stderr, "gen directory: %s\n", err);
        return SL_EXIT_FAIL;
    }
    if (!quiet)
        fprintf(stderr, "generating %" PRIu64 " ORIs, seed %" PRIu64 " ...\n", count, seed);
    int64_t t0 = sl_now_ms();
    if (sl_dir_generate_ex(d, seed, (int64_t)count, quiet ? NULL : stderr, err, sizeof err) < 0) {
        fprintf(stderr, "gen directory: %s\n", err);
        sl_dir_close(d);
        return SL_EXIT_FAIL;
    }
    int64_t t1 = sl_now_ms();

    if (csv) {
        FILE *f = strcmp(csv, "-") == 0 ? stdout : fopen(csv, "w");
        if (!f) {
            fprintf(stderr, "gen directory: %s: %s\n", csv, strerror(errno));
            sl_dir_close(d);
            return SL_EXIT_FAIL;
        }
        int rc = sl_dir_export_csv(d, NULL, f);
        if (f != stdout && fclose(f) != 0)
            rc = -1;
        if (rc < 0) {
            fprintf(stderr, "gen directory: writing %s failed\n", csv);
            sl_dir_close(d);
            return SL_EXIT_FAIL;
        }
    }

    if (!quiet) {
        /* The summary goes to stderr when the CSV is on stdout. */
        struct summary s = {csv && strcmp(csv, "-") == 0 ? stderr : stdout, sl_dir_count(d)};
        fprintf(s.out, "%s: %" PRId64 " ORIs in %.2f s\n", out, s.total, (t1 - t0) / 1000.0);
        fprintf(s.out, "  by member kind (S state/territory, F federal, I Canada, N switch):\n");
        sl_dir_count_by(d, SL_DIR_BY_KIND, 0, print_count, &s);
        fprintf(s.out, "  by type:\n");
        sl_dir_count_by(d, SL_DIR_BY_TYPE, 0, print_count, &s);
        fprintf(s.out, "  by status:\n");
        sl_dir_count_by(d, SL_DIR_BY_STATUS, 0, print_count, &s);
        fprintf(s.out, "  by parent agency:\n");
        sl_dir_count_by(d, SL_DIR_BY_PARENT, 0, print_count, &s);
    }
    sl_dir_close(d);
    return SL_EXIT_OK;
}

const struct sl_cli_cmd sl_gen_directory = {
    "directory", "a realistic national ORI directory (about 18,000 ORIs) from a seed", run,
    usage};
