/*
 * cmd_bench.c - `stateline bench <scenario>`: load tests with honest latency figures
 * (stateline/bench.h; results and method in docs/performance.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>

#include "bench/bench_int.h"
#include "stateline/bench.h"
#include "stateline/cli.h"
#include "stateline/core.h"

extern const struct sl_cli_cmd sl_cmd_policy; /* src/cli/cmd_policy.c */

static const char usage[] =
    "usage: stateline bench switch [options]\n"
    "       stateline bench policy [FILE] [--rules N]   (= stateline policy bench)\n"
    "\n"
    "Measure the switch: a hub on loopback (TLS, fresh credentials in a temporary\n"
    "directory) between K Washington terminal lines and a minimal California\n"
    "responder that answers every DQ with a DR.  Open loop: queries are sent at a\n"
    "fixed rate and latency is measured from each query's intended send time to\n"
    "its reply.  The same traffic is then sent directly to the responder (no hub):\n"
    "the difference is what the hub adds.  Everything it starts it stops.\n"
    "\n"
    "  --rate R          one fixed-rate run at R queries/s (default: search the\n"
    "                    sustained rate)\n"
    "  --duration S      length of the fixed-rate run, or of the measurement at\n"
    "                    half the sustained rate after a search (default 5)\n"
    "  --connections K   generator lines (default 4, at most 64)\n"
    "  --p99-bound MS    search: the highest rate whose p99 stays under MS ms\n"
    "                    (default 2)\n"
    "  --max-seconds N   search: total time budget (default 60)\n"
    "  --step S          search: length of one trial (default 2)\n"
    "  --reply-size N    bytes of DR text (default 256)\n"
    "  --no-direct       skip the direct (no hub) baseline\n"
    "  --no-peer         skip the peer: the same traffic through nats-server, run\n"
    "                    when the nats-server program is installed\n"
    "  --peer-search     search nats-server's sustained rate too, for the ratio\n"
    "                    (the time budget is shared: raise --max-seconds)\n"
    "  --keep            keep the temporary directory (logs, configuration)\n"
    "  --json            the report as one JSON object\n"
    "\n"
    "The report ends with the machine (CPU, kernel, OpenSSL) and how much CPU\n"
    "other processes used meanwhile: on a busy machine the tail latencies are\n"
    "theirs too.\n"
    "\n"
    "Exit status: 0 measured, 1 the benchmark could not run (why on stderr) or no\n"
    "search trial met the bound (the report still shows the trials), 2 usage,\n"
    "130 interrupted.\n";

static int bad(const char *opt, const char *v)
{
    fprintf(stderr, "stateline bench: %s: '%s' is not a valid value (see stateline bench --help)\n",
            opt, v ? v : "");
    return SL_EXIT_USAGE;
}

static int num(const char *s, double lo, double hi, double *out)
{
    char *end;
    if (!s)
        return -1;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return SL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "responder") == 0) /* internal: the children the scenario starts */
        return sl_bench_responder_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "nats-responder") == 0)
        return sl_bench_nats_responder_main(argc - 1, argv + 1);
    /* The policy scenario is the policy engine's own benchmark (F-3: 100 and 10,000
     * generated rules, or a file), run under this name so every figure of
     * docs/performance.md comes from `stateline bench`; its Cedar peer is
     * bench/compare-policy. */
    if (strcmp(argv[1], "policy") == 0) {
        char **pargv = sl_xcalloc((size_t)argc + 1, sizeof *pargv);
        pargv[0] = (char *)"policy";
        pargv[1] = (char *)"bench";
        for (int i = 2; i < argc; i++)
            pargv[i] = argv[i];
        int rc = sl_cmd_policy.run(argc, pargv);
        free(pargv);
        return rc;
    }
    if (strcmp(argv[1], "switch") != 0) {
        fprintf(stderr, "stateline bench: no scenario '%s' (there are: switch, policy)\n",
                argv[1]);
        return SL_EXIT_USAGE;
    }
    struct sl_bench_opts o = {0, 5, 4, 2, 60, 2, 256, 0, 0, 0, 0, 0, 0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        if (!strcmp(a, "--json")) {
            o.json = 1;
            continue;
        }
        if (!strcmp(a, "--keep")) {
            o.keep = 1;
            continue;
        }
        if (!strcmp(a, "--no-direct")) {
            o.no_direct = 1;
            continue;
        }
        if (!strcmp(a, "--no-peer")) {
            o.no_peer = 1;
            continue;
        }
        if (!strcmp(a, "--peer-search")) {
            o.peer_search = 1;
            continue;
        }
        i++;
        if (!strcmp(a, "--rate")) {
            if (num(v, 1, 10e6, &o.rate))
                return bad(a, v);
        } else if (!strcmp(a, "--duration")) {
            if (num(v, 0.5, 3600, &o.duration_s))
                return bad(a, v);
        } else if (!strcmp(a, "--connections")) {
            if (num(v, 1, 64, &d) || d != (int)d)
                return bad(a, v);
            o.conns = (int)d;
        } else if (!strcmp(a, "--p99-bound")) {
            if (num(v, 0.01, 60000, &o.p99_bound_ms))
                return bad(a, v);
        } else if (!strcmp(a, "--max-seconds")) {
            if (num(v, 5, 86400, &o.max_seconds))
                return bad(a, v);
        } else if (!strcmp(a, "--step")) {
            if (num(v, 0.5, 600, &o.step_s))
                return bad(a, v);
        } else if (!strcmp(a, "--reply-size")) {
            if (num(v, 1, 65536, &d) || d != (int)d)
                return bad(a, v);
            o.reply_size = (int)d;
        } else {
            fprintf(stderr, "stateline bench: unknown option '%s' (see stateline bench --help)\n",
                    a);
            return SL_EXIT_USAGE;
        }
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "stateline bench: cannot find my own executable (/proc/self/exe)\n");
        return SL_EXIT_FAIL;
    }
    self[n] = '\0';
    return sl_bench_switch(&o, self);
}

const struct sl_cli_cmd sl_cmd_bench = {
    "bench", "load tests, open loop: `bench switch` measures the hub",
    run, usage};
