/*
 * cmd_bench.c - `stateline bench [scenario]`: load tests with honest latency figures
 * (stateline/bench.h; results and method in docs/performance.md).
 *
 * Scenarios: switch, e2e and disk are measured here (src/bench); policy, audit and
 * lookup are the parts' own benchmarks (`stateline policy bench`, `stateline audit bench`,
 * `stateline store bench`), run under this name so that every figure of
 * docs/performance.md comes from `stateline bench`.  `stateline bench` alone (or `all`)
 * runs each scenario briefly, each as a child process of this binary with --json, and
 * with --json prints one object: {"scenarios": {"switch": {...}, "e2e": {...}, ...},
 * "exit": {"switch": 0, ...}}; a scenario that failed has {"error": "..."}.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "bench/bench_int.h"
#include "stateline/bench.h"
#include "stateline/cli.h"
#include "stateline/core.h"
#include "stateline/population.h"

extern const struct sl_cli_cmd sl_cmd_policy; /* src/cli/cmd_policy.c */
extern const struct sl_cli_cmd sl_cmd_audit;  /* src/cli/cmd_audit.c */
extern const struct sl_cli_cmd sl_cmd_store;  /* src/cli/cmd_store.c */

static const char usage[] =
    "usage: stateline bench [all] [--quick] [--json]\n"
    "       stateline bench switch [options]\n"
    "       stateline bench e2e [options]\n"
    "       stateline bench policy [FILE] [--rules N] [--json]   (= stateline policy bench)\n"
    "       stateline bench audit [DIR] [--entries N] [--personal] [--json]\n"
    "                                                  (= stateline audit bench)\n"
    "       stateline bench lookup [--db FILE | --drivers N] [--n N] [--json]\n"
    "                                                  (= stateline store bench)\n"
    "       stateline bench disk [DIR] [--duration S] [--period-ms P] [--json]\n"
    "\n"
    "switch: a hub on loopback (TLS, fresh credentials in a temporary directory)\n"
    "between K Washington terminal lines and a minimal California responder that\n"
    "answers every DQ with a DR; the same traffic sent directly to the responder,\n"
    "and through nats-server when it is installed (the peer).\n"
    "\n"
    "e2e: the whole way of a query (F-1, F-2): terminal lines of several members\n"
    "(WA, OR, DH, ...) -> hub (TLS) -> Washington's gateway (examples/policies/\n"
    "wa.policy, look-ups in a generated population, durable audit) -> hub -> terminal.\n"
    "A mix of DQ, KQ, RQ and DNQ from real ORIs of the directory, keyed on records\n"
    "that exist (and 10% that do not); every reply is checked against its query.\n"
    "\n"
    "Both are open loop: queries are sent at a fixed rate and latency is measured\n"
    "from each query's intended send time to its reply.  Without --rate they search\n"
    "the sustained rate (the highest whose p99 stays under the bound), then measure\n"
    "at half of it.  e2e searches twice: the highest rate whose p99 stays under the\n"
    "bound, then the capacity (F-1: p99 under --capacity-bound, queues not growing),\n"
    "and measures at the capacity and at half of it (F-2).  Everything they start\n"
    "they stop.\n"
    "\n"
    "  --rate R          one fixed-rate run at R queries/s (default: search)\n"
    "  --duration S      length of the fixed-rate run, or of each measurement after\n"
    "                    a search (default 5; e2e 4)\n"
    "  --connections K   generator lines (default 4, at most 64)\n"
    "  --p99-bound MS    search: the highest rate whose p99 stays under MS ms\n"
    "                    (default 2)\n"
    "  --max-seconds N   search: total time budget (default 60, without\n"
    "                    the set-up)\n"
    "  --step S          search: length of one trial (default 2)\n"
    "  --start-rate R    search: the first trial's rate (default 5000)\n"
    "  --hub-audit       the hub keeps its own audit log (audit_dir in the temporary\n"
    "                    directory): every message waits for its entry's fdatasync\n"
    "  --keep            keep the temporary directory (logs, configuration)\n"
    "  --json            the report as one JSON object\n"
    "  --no-direct       skip the direct (no hub) baseline; in e2e the measurement's\n"
    "                    slices then run back to back: one continuous load\n"
    "switch only:\n"
    "  --reply-size N    bytes of DR text (default 256)\n"
    "  --no-peer         skip the peer (nats-server)\n"
    "  --peer-search     search nats-server's sustained rate too, for the ratio\n"
    "e2e only:\n"
    "  --drivers N       drivers in each gateway's state (default 100000)\n"
    "  --gateways N      gateways, one state each: WA, NY, IL, CA, AZ, TX (default 1)\n"
    "  --no-sustained    after the searches, measure at half the capacity only\n"
    "  --no-archive      the hub without its message archive (archive = none): what\n"
    "                    the archive costs, by difference; not the network as deployed\n"
    "  --capacity-bound MS  the capacity search's p99 bound (default 250): the\n"
    "                    highest rate answered in full with queues that do not grow\n"
    "\n"
    "disk: what a flush costs on DIR's file system (default $TMPDIR or /tmp) with\n"
    "nothing else of ours running: 200 bytes appended and fdatasync'd every P ms\n"
    "(default 5) for S seconds (default 20), in a temporary directory inside DIR,\n"
    "removed after.  Every reply of the e2e path waits for one flush of the audit\n"
    "log: on that log's disk, this p99 is a floor under F-2's.\n"
    "\n"
    "all:\n"
    "  --quick           the shortest settings (a smoke test, not a measurement)\n"
    "\n"
    "The report ends with the machine (CPU, kernel, OpenSSL, load average) and the\n"
    "CPU time of each process: on a busy machine the tail latencies are others' too.\n"
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

static int self_exe(char *out, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    if (n <= 0) {
        fprintf(stderr, "stateline bench: cannot find my own executable (/proc/self/exe)\n");
        return -1;
    }
    out[n] = '\0';
    return 0;
}

/* Run another command's `bench` with argv[first..] after `cmd bench` (and extra, when
 * not NULL, before them). */
static int delegate(const struct sl_cli_cmd *cmd, const char *name, const char *extra,
                    int argc, char **argv, int first)
{
    char **pargv = sl_xcalloc((size_t)argc + 4, sizeof *pargv);
    int n = 0;
    pargv[n++] = (char *)name;
    pargv[n++] = (char *)"bench";
    if (extra)
        pargv[n++] = (char *)extra;
    for (int i = first; i < argc; i++)
        pargv[n++] = argv[i];
    int rc = cmd->run(n, pargv);
    free(pargv);
    return rc;
}

static int make_tmp(char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/stateline-bench-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "stateline bench: cannot make a temporary directory: %s\n",
                strerror(errno));
        return -1;
    }
    return 0;
}

/* `bench audit [DIR] [args]`: audit bench; without DIR a temporary log, removed after,
 * and --entries 1000000 unless given. */
static int scenario_audit(int argc, char **argv)
{
    int has_dir = argc > 2 && argv[2][0] != '-';
    int has_entries = 0;
    for (int i = 2; i < argc; i++)
        has_entries |= !strcmp(argv[i], "--entries");
    char dir[512] = "";
    if (!has_dir && make_tmp(dir, sizeof dir) != 0)
        return SL_EXIT_FAIL;
    char logdir[600];
    snprintf(logdir, sizeof logdir, "%s/log", dir);
    char **v = sl_xcalloc((size_t)argc + 6, sizeof *v);
    int n = 0;
    v[n++] = (char *)"bench";
    v[n++] = (char *)"audit";
    if (!has_dir)
        v[n++] = logdir;
    for (int i = 2; i < argc; i++)
        v[n++] = argv[i];
    if (!has_entries) {
        v[n++] = (char *)"--entries";
        v[n++] = (char *)"1000000";
    }
    int rc = delegate(&sl_cmd_audit, "audit", NULL, n, v, 2);
    free(v);
    if (dir[0])
        bench_rm_tree(dir);
    return rc;
}

/* `bench lookup [--db FILE | --drivers N] [args]`: store bench on FILE, or on a
 * population of N drivers (default 100,000) generated into a temporary directory. */
static int scenario_lookup(int argc, char **argv)
{
    const char *db = NULL;
    double drivers = 100000;
    char **v = sl_xcalloc((size_t)argc + 6, sizeof *v);
    int n = 0;
    v[n++] = (char *)"bench";
    v[n++] = (char *)"lookup";
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc) {
            db = argv[i + 1];
        } else if (!strcmp(argv[i], "--drivers")) {
            if (num(i + 1 < argc ? argv[i + 1] : NULL, 100, 1e9, &drivers)) {
                free(v);
                return bad("--drivers", i + 1 < argc ? argv[i + 1] : NULL);
            }
            i++;
            continue;
        }
        v[n++] = argv[i];
    }
    char dir[512] = "", path[600];
    if (!db) {
        if (make_tmp(dir, sizeof dir) != 0) {
            free(v);
            return SL_EXIT_FAIL;
        }
        snprintf(path, sizeof path, "%s/WA.db", dir);
        struct sl_pop_opts po = {.state = "WA", .drivers = (uint64_t)drivers, .seed = 1,
                                 .as_of = sl_pop_date_today(), .progress = 0};
        struct sl_pop_stats st;
        char err[512];
        fprintf(stderr, "stateline bench lookup: generating %.0f WA drivers in %s...\n",
                drivers, dir);
        if (sl_pop_write(&po, path, 1, &st, err, sizeof err) != 0) {
            fprintf(stderr, "stateline bench lookup: %s\n", err);
            bench_rm_tree(dir);
            free(v);
            return SL_EXIT_FAIL;
        }
        v[n++] = (char *)"--db";
        v[n++] = path;
    }
    int rc = delegate(&sl_cmd_store, "store", NULL, n, v, 2);
    free(v);
    if (dir[0])
        bench_rm_tree(dir);
    return rc;
}

/* `bench disk [DIR] [--duration S] [--period-ms P] [--json]` */
static int scenario_disk(int argc, char **argv)
{
    const char *tmpdir = getenv("TMPDIR");
    struct sl_bench_disk_opts o = {.dir = tmpdir && *tmpdir ? tmpdir : "/tmp",
                                   .duration_s = 20, .period_ms = 5};
    int i = 2;
    if (i < argc && argv[i][0] != '-')
        o.dir = argv[i++];
    for (; i < argc; i++) {
        double v;
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--json")) {
            o.json = 1;
        } else if (!strcmp(argv[i], "--duration")) {
            if (num(val, 0.1, 86400, &v))
                return bad("--duration", val);
            o.duration_s = v;
            i++;
        } else if (!strcmp(argv[i], "--period-ms")) {
            if (num(val, 1, 60000, &v) || v != floor(v))
                return bad("--period-ms", val);
            o.period_ms = (int)v;
            i++;
        } else {
            fprintf(stderr, "stateline bench disk: unknown option '%s' (see stateline bench "
                            "--help)\n", argv[i]);
            return SL_EXIT_USAGE;
        }
    }
    return sl_bench_disk(&o);
}

/* ---- all: each scenario briefly, as a child with --json ---- */

/* Run self with argv and wait: stdout captured into *out (sl_xmalloc'd) when out is not
 * NULL, else passed through like stderr.  Returns the exit status. */
static int capture(const char *self, char *const argv[], char **out)
{
    int pfd[2];
    if (!out) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            execv(self, argv);
            _exit(127);
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    }
    *out = NULL;
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pfd[1], 1);
        execv(self, argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 65536, len = 0;
    char *buf = sl_xmalloc(cap);
    for (;;) {
        if (len + 4096 > cap) {
            cap *= 2;
            buf = sl_xrealloc(buf, cap);
        }
        ssize_t r = read(pfd[0], buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(pfd[0]);
    buf[len] = '\0';
    *out = buf;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int run_all(int argc, char **argv, int first)
{
    int json = 0, quick = 0;
    for (int i = first; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else {
            fprintf(stderr, "stateline bench: unknown option '%s' for all scenarios (see "
                            "stateline bench --help)\n", argv[i]);
            return SL_EXIT_USAGE;
        }
    }
    char self[PATH_MAX];
    if (self_exe(self, sizeof self) != 0)
        return SL_EXIT_FAIL;
    /* Brief settings: a short search for the two load tests, small sizes for the rest;
     * --quick only checks that each runs and answers correctly. */
    static const char *const brief[][16] = {
        {"switch", "--max-seconds", "32", "--duration", "2", "--step", "1.5", NULL},
        {"e2e", "--drivers", "20000", "--max-seconds", "25", "--duration", "2", "--step",
         "1.5", "--no-sustained", NULL},
        {"policy", NULL},
        {"audit", "--entries", "300000", NULL},
        {"lookup", "--drivers", "20000", "--n", "2000", NULL},
        {"disk", "--duration", "10", NULL},
    };
    static const char *const fast[][16] = {
        {"switch", "--rate", "1000", "--duration", "1", "--no-peer", NULL},
        {"e2e", "--rate", "300", "--duration", "1", "--drivers", "2000", NULL},
        {"policy", "--rules", "100", "--decisions", "20000", NULL},
        {"audit", "--entries", "20000", NULL},
        {"lookup", "--drivers", "2000", "--n", "200", NULL},
        {"disk", "--duration", "1", NULL},
    };
    enum { NSCEN = sizeof brief / sizeof brief[0] };
    _Static_assert(sizeof brief == sizeof fast, "one fast setting per scenario");
    const char *const(*set)[16] = quick ? fast : brief;
    json_t *all = json_object(), *sc = json_object(), *ex = json_object();
    int worst = 0;
    for (int s = 0; s < NSCEN; s++) {
        char *argv2[24];
        int n = 0;
        argv2[n++] = (char *)"stateline";
        argv2[n++] = (char *)"bench";
        for (int i = 0; set[s][i]; i++)
            argv2[n++] = (char *)set[s][i];
        if (json)
            argv2[n++] = (char *)"--json";
        argv2[n] = NULL;
        if (!json) {
            /* for a person: each scenario's own table, as it goes */
            printf("%s== stateline bench", s ? "\n" : "");
            for (int i = 2; i < n; i++)
                printf(" %s", argv2[i]);
            printf("\n\n");
        }
        char *out = NULL;
        int rc = capture(self, argv2, json ? &out : NULL);
        json_error_t je;
        json_t *r = out ? json_loads(out, 0, &je) : NULL;
        if (!r) {
            r = json_object();
            json_object_set_new(r, "error", json_string(!json        ? "not asked (no --json)"
                                                        : rc == 0   ? "the report is not JSON"
                                                                    : "the scenario failed"));
        }
        free(out);
        json_object_set_new(sc, set[s][0], r);
        json_object_set_new(ex, set[s][0], json_integer(rc));
        if (rc != 0 && worst == 0)
            worst = rc == 130 ? 130 : SL_EXIT_FAIL;
        if (rc == 130)
            break;
    }
    json_object_set_new(all, "scenarios", sc);
    json_object_set_new(all, "exit", ex);
    if (json) {
        char *t = json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(t);
        free(t);
    } else {
        printf("\n== exit status:");
        for (int k = 0; k < NSCEN; k++)
            printf(" %s %lld", set[k][0],
                   (long long)json_integer_value(json_object_get(ex, set[k][0])));
        printf("\n");
    }
    json_decref(all);
    return worst;
}

static int run(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-')
        return run_all(argc, argv, 1);
    if (!strcmp(argv[1], "all"))
        return run_all(argc, argv, 2);
    if (strcmp(argv[1], "responder") == 0) /* internal: the children the scenario starts */
        return sl_bench_responder_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "nats-responder") == 0)
        return sl_bench_nats_responder_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "policy") == 0)
        return delegate(&sl_cmd_policy, "policy", NULL, argc, argv, 2);
    if (strcmp(argv[1], "audit") == 0)
        return scenario_audit(argc, argv);
    if (strcmp(argv[1], "lookup") == 0)
        return scenario_lookup(argc, argv);
    if (strcmp(argv[1], "disk") == 0)
        return scenario_disk(argc, argv);
    int e2e = strcmp(argv[1], "e2e") == 0;
    if (!e2e && strcmp(argv[1], "switch") != 0) {
        fprintf(stderr, "stateline bench: no scenario '%s' (there are: switch, e2e, policy, "
                        "audit, lookup, disk, all)\n", argv[1]);
        return SL_EXIT_USAGE;
    }
    struct sl_bench_opts o;
    memset(&o, 0, sizeof o);
    o.duration_s = e2e ? 4 : 5;
    o.conns = 4;
    o.p99_bound_ms = 2;
    o.max_seconds = 60;
    o.step_s = 2;
    o.reply_size = 256;
    o.drivers = 100000;
    o.gateways = 1;
    o.at_sustained = 1;
    o.capacity_bound_ms = 250;
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
        if (!e2e && !strcmp(a, "--no-peer")) {
            o.no_peer = 1;
            continue;
        }
        if (!e2e && !strcmp(a, "--peer-search")) {
            o.peer_search = 1;
            continue;
        }
        if (e2e && !strcmp(a, "--no-sustained")) {
            o.at_sustained = 0;
            continue;
        }
        if (!strcmp(a, "--hub-audit")) {
            o.hub_audit = 1;
            continue;
        }
        if (e2e && !strcmp(a, "--no-archive")) {
            o.no_archive = 1;
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
        } else if (!strcmp(a, "--start-rate")) {
            if (num(v, 100, 10e6, &o.start_rate))
                return bad(a, v);
        } else if (!e2e && !strcmp(a, "--reply-size")) {
            if (num(v, 1, 65536, &d) || d != (int)d)
                return bad(a, v);
            o.reply_size = (int)d;
        } else if (e2e && !strcmp(a, "--drivers")) {
            if (num(v, 100, 100e6, &d) || d != (uint64_t)d)
                return bad(a, v);
            o.drivers = (uint64_t)d;
        } else if (e2e && !strcmp(a, "--capacity-bound")) {
            if (num(v, 1, 60000, &o.capacity_bound_ms))
                return bad(a, v);
        } else if (e2e && !strcmp(a, "--gateways")) {
            if (num(v, 1, 6, &d) || d != (int)d)
                return bad(a, v);
            o.gateways = (int)d;
        } else {
            fprintf(stderr, "stateline bench: unknown option '%s' for %s (see stateline bench "
                            "--help)\n", a, argv[1]);
            return SL_EXIT_USAGE;
        }
    }
    if (o.rate <= 0 && o.max_seconds < sl_bench_min_max_seconds(&o, e2e)) {
        /* Said before anything starts: a search with no time for a trial would only report
         * that no rate passed. */
        fprintf(stderr, "stateline bench %s: --max-seconds %g leaves no time for the search: "
                        "the measurements after it take up to %.1f s with --duration %g, "
                        "and its trials %.1f s each with --step %g; give --max-seconds %.0f "
                        "or more, a shorter --duration, or --rate R for one fixed-rate run\n",
                argv[1], o.max_seconds, bench_reserve_ms(&o, e2e) / 1000, o.duration_s,
                bench_trial_ms(&o) / 1000, o.step_s,
                ceil(sl_bench_min_max_seconds(&o, e2e)));
        return SL_EXIT_USAGE;
    }
    char self[PATH_MAX];
    if (self_exe(self, sizeof self) != 0)
        return SL_EXIT_FAIL;
    return e2e ? sl_bench_e2e(&o, self) : sl_bench_switch(&o, self);
}

const struct sl_cli_cmd sl_cmd_bench = {
    "bench", "load tests, open loop: switch, e2e (F-1, F-2), policy, audit, lookup",
    run, usage};
