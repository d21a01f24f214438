/*
 * cmd_demo.c - `stateline demo`: a whole national network on one machine in one command
 * (docs/demo.md), and `stateline demo stop` for a network left running by --stay.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stateline/cli.h"
#include "stateline/demo.h"

static const char usage[] =
    "usage: stateline demo [--dir DIR] [--drivers N] [--queries N | --duration S] [--rate R]\n"
    "                      [--seed S] [--min-per-class N] [--policies DIR] [--json] [--stay]\n"
    "       stateline demo stop [--dir DIR]\n"
    "\n"
    "From nothing to a running national network on this machine: certificates for every\n"
    "member line, the national ORI directory, a hub (mutual TLS on a free loopback port),\n"
    "gateways for WA NY IL CA AZ TX with their example policies, populations and audit logs,\n"
    "all as child processes of this binary.  Then traffic drawn from the directory in the\n"
    "mix of the Nlets figures (mostly out-of-state police; ICE ERO and HSI in their published\n"
    "shares), and per state a table of queries by requester class and outcome, computed from\n"
    "the state's audit log and checked against the replies received, then every log\n"
    "verified.  A second run in the same folder reuses what it holds.\n"
    "\n"
    "  --dir DIR           the folder for everything (default ./stateline-demo)\n"
    "  --drivers N         drivers per state (default 100000)\n"
    "  --queries N         queries to send (default 3000; 0 with --stay: none)\n"
    "  --duration S        send for S seconds at --rate instead\n"
    "  --rate R            queries per second (default 200)\n"
    "  --seed S            directory, populations and traffic (default 1)\n"
    "  --min-per-class N   at least N queries per state and requester class (default 3;\n"
    "                      0 = the pure shares, where ICE ERO is 1 query in 1,000)\n"
    "  --policies DIR      where wa.policy ... tx.policy are copied from the first time\n"
    "                      (default: examples/policies near the binary)\n"
    "  --json              the tables as one JSON object on stdout (progress on stderr)\n"
    "  --stay              keep the network up and print how to query it by hand\n"
    "\n"
    "Without --stay everything started is stopped at the end, on Ctrl-C and on error.\n"
    "Exit status 0 when every total adds up and every log verifies, 1 otherwise.\n";

static int num(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "stateline demo: %s '%s' must be a number from %g to %g\n", opt, v, lo,
                hi);
        return -1;
    }
    *out = d;
    return 0;
}

static int run(int argc, char **argv)
{
    struct sl_demo_opts o = {.dir = "stateline-demo", .drivers = 100000, .rate = 200,
                             .seed = 1, .min_per_cell = 3};
    int stop = 0, have_q = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "stop") && i == 1) {
            stop = 1;
            continue;
        }
        if (!strcmp(a, "--json")) {
            o.json = 1;
            continue;
        }
        if (!strcmp(a, "--stay")) {
            o.stay = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "stateline demo: unknown option or missing value: '%s'\n%s", a,
                    usage);
            return SL_EXIT_USAGE;
        }
        const char *v = argv[++i];
        double d;
        if (!strcmp(a, "--dir"))
            o.dir = v;
        else if (!strcmp(a, "--policies"))
            o.policies = v;
        else if (!strcmp(a, "--drivers")) {
            if (num(a, v, 100, 50e6, &d))
                return SL_EXIT_USAGE;
            o.drivers = (uint64_t)d;
        } else if (!strcmp(a, "--queries")) {
            if (num(a, v, 0, 1e9, &d))
                return SL_EXIT_USAGE;
            o.queries = (uint64_t)d;
            have_q = 1;
        } else if (!strcmp(a, "--duration")) {
            if (num(a, v, 0.1, 86400, &d))
                return SL_EXIT_USAGE;
            o.duration_s = d;
        } else if (!strcmp(a, "--rate")) {
            if (num(a, v, 1, 100000, &d))
                return SL_EXIT_USAGE;
            o.rate = d;
        } else if (!strcmp(a, "--seed")) {
            if (num(a, v, 0, 1e18, &d))
                return SL_EXIT_USAGE;
            o.seed = (uint64_t)d;
        } else if (!strcmp(a, "--min-per-class")) {
            if (num(a, v, 0, 1000, &d))
                return SL_EXIT_USAGE;
            o.min_per_cell = (int)d;
        } else {
            fprintf(stderr, "stateline demo: unknown option '%s'\n%s", a, usage);
            return SL_EXIT_USAGE;
        }
    }
    if (stop)
        return sl_demo_stop(o.dir);
    if (have_q && o.duration_s > 0) {
        fprintf(stderr, "stateline demo: --queries and --duration exclude each other\n");
        return SL_EXIT_USAGE;
    }
    if (!have_q && o.duration_s <= 0)
        o.queries = 3000;
    /* progress lines must reach a pipe as they happen (a test, `| tee`) */
    setvbuf(stdout, NULL, _IOLBF, 0);
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "stateline demo: cannot find my own executable (/proc/self/exe)\n");
        return SL_EXIT_FAIL;
    }
    self[n] = 0;
    return sl_demo_run(&o, self);
}

const struct sl_cli_cmd sl_cmd_demo = {"demo", "a whole national network on this machine, "
                                       "with traffic and per-state tables",
                                       run, usage};
