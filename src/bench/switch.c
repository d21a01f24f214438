/*
 * switch.c - `stateline bench switch`: set up a loopback network, run the generator
 * against the hub, directly against the responder, and through nats-server (the peer, when
 * installed), search the sustained rate, report (see stateline/bench.h for what is
 * measured and docs/performance.md for the figures).
 *
 * Temporary directory (removed at the end unless --keep):
 *     certs/         `stateline gen certs` material for WA and CA (sl_certs_generate)
 *     directory.db   WA terminal ORIs WABEN0001.. (one per connection), CA's CADMV0000
 *     hub.conf       the hub's configuration
 *     nats.conf      the peer's: loopback, the hub's certificate, client certificates
 *     *.log          the children's stderr (printed when something fails)
 *
 * The JSON report (--json): scenario, mode, connections, tls, query_bytes,
 * reply_text_bytes, p99_bound_ms, machine {cpu, cpus, kernel, openssl, loadavg, CPU
 * seconds per process and of other processes, cpu_us_per_query}, search [trials] and
 * sustained_rate (search mode), measure_rate, slices, hub / direct / peer {rate, sent,
 * received, errors, lost, achieved_rate, overload, sent_late_over_1ms, max_send_lag_us,
 * latency_us {p50 p90 p99 p99.9 max mean count}}, hub_added_us, peer.latency_vs_hub.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "bench/bench_int.h"
#include "stateline/audit.h"
#include "stateline/certs.h"
#include "stateline/core.h"
#include "stateline/dir.h"

#define RESPONDER_ORI "CADMV0000"


struct bench {
    const struct sl_bench_opts *o;
    const char *self;
    char dir[256];
    char certs[300];
    int sfd;                 /* SIGINT/SIGTERM */
    sigset_t oldmask;
    struct bench_child hub, resp;
    struct bench_child nats, nresp;   /* the peer: nats-server and its responder */
    char nats_path[512];        /* "" = no peer */
    int nats_port;
    struct ssl_ctx_st *nctx;    /* WA terminal client context for nats lines */
    int hub_port, resp_port;
    struct sl_tls *tls;      /* WA terminal client context */
    struct bench_gen gen;    /* lines to the hub */
    struct bench_gen gdir;   /* lines straight to the responder (the baseline) */
    struct bench_gen gnats;  /* lines to nats-server (the peer) */
    uint64_t answered[3];    /* queries answered per path (hub, direct, nats), all runs */
    char run_id;
};

/* ---- processes --------------------------------------------------------------------- */

/* Start self with argv; stderr into c->log; stdout into *out_fd (a pipe) when asked. */

static int make_network(struct bench *b, char *err, size_t errlen)
{
    snprintf(b->certs, sizeof b->certs, "%s/certs", b->dir);
    const char *members[] = {"WA", "CA"};
    struct sl_certs_opts co = {b->certs, members, 2, NULL, 30, 0};
    if (sl_certs_generate(&co, NULL, err, errlen) != 0)
        return -1;

    char path[512];
    snprintf(path, sizeof path, "%s/directory.db", b->dir);
    struct sl_dir *d = NULL;
    if (sl_dir_open(path, 1, &d, err, errlen) != 0)
        return -1;
    int rc = 0;
    for (int i = 0; i <= b->o->conns && rc == 0; i++) {
        struct sl_ori o;
        memset(&o, 0, sizeof o);
        if (i < b->o->conns) {
            snprintf(o.ori, sizeof o.ori, "WABEN%04u", (unsigned)(i + 1) % 10000u);
            sl_strlcpy(o.member, "WA", sizeof o.member);
            snprintf(o.name, sizeof o.name, "Benchmark terminal %d", i + 1);
            sl_strlcpy(o.type, "PD", sizeof o.type);
            memcpy(b->gen.ori[i], o.ori, sizeof o.ori);
            memcpy(b->gdir.ori[i], o.ori, sizeof o.ori);
            memcpy(b->gnats.ori[i], o.ori, sizeof o.ori);
        } else {
            sl_strlcpy(o.ori, RESPONDER_ORI, sizeof o.ori);
            sl_strlcpy(o.member, "CA", sizeof o.member);
            sl_strlcpy(o.name, "Benchmark DMV responder", sizeof o.name);
            sl_strlcpy(o.type, "JA", sizeof o.type);
        }
        sl_strlcpy(o.cats, "ACD", sizeof o.cats);
        o.status = 'A';
        rc = sl_dir_put(d, NULL, &o, err, errlen);
    }
    sl_dir_close(d);
    if (rc != 0)
        return -1;

    b->hub_port = bench_free_port();
    snprintf(path, sizeof path, "%s/hub.conf", b->dir);
    FILE *f = fopen(path, "w");
    if (!f || b->hub_port <= 0) {
        snprintf(err, errlen, "cannot write %.200s", path);
        if (f)
            fclose(f);
        return -1;
    }
    fprintf(f,
            "# written by stateline bench switch\n"
            "[hub]\n"
            "listen = 127.0.0.1:%d\n"
            "tls = yes\n"
            "cert = certs/hub.crt\n"
            "key = certs/hub.key\n"
            "ca = certs/ca.crt\n"
            "directory = directory.db\n"
            "ctl = hub.sock\n"
            "%s"
            "[member CA]\n"
            "takes = DQ\n",
            b->hub_port, b->o->hub_audit ? "audit_dir = audit\naudit_key = audit.key\n" : "");
    fclose(f);
    if (b->o->hub_audit) {
        /* --hub-audit: the hub's own log in the temporary directory */
        char sk[512], vk[512];
        if (sl_audit_keygen("bench.stateline.test/hub", sk, sizeof sk, vk, sizeof vk, err,
                            errlen) != 0)
            return -1;
        snprintf(path, sizeof path, "%s/audit.key", b->dir);
        f = fopen(path, "w");
        if (!f) {
            snprintf(err, errlen, "cannot write %.200s", path);
            return -1;
        }
        fprintf(f, "%s\n", sk);
        fclose(f);
    }
    return 0;
}

/* Read the child's first line from rfd (closed here) while `server` stays up; 15 s. */

static int start_children(struct bench *b, char *err, size_t errlen)
{
    char conf[512], hubaddr[64], size[32];
    snprintf(conf, sizeof conf, "%s/hub.conf", b->dir);
    snprintf(hubaddr, sizeof hubaddr, "127.0.0.1:%d", b->hub_port);
    snprintf(size, sizeof size, "%d", b->o->reply_size);
    b->hub.name = "hub";
    snprintf(b->hub.log, sizeof b->hub.log, "%s/hub.log", b->dir);
    char *hargv[] = {"stateline", "hub", "--config", conf, NULL};
    if (bench_spawn(&b->oldmask, &b->hub, b->self, hargv, NULL) != 0) {
        snprintf(err, errlen, "cannot start the hub: %s", strerror(errno));
        return -1;
    }
    b->resp.name = "responder";
    snprintf(b->resp.log, sizeof b->resp.log, "%s/responder.log", b->dir);
    char *rargv[] = {"stateline", "bench", "responder", "--hub", hubaddr, "--certs", b->certs,
                     "--as", RESPONDER_ORI, "--reply-size", size, NULL};
    int rfd = -1;
    if (bench_spawn(&b->oldmask, &b->resp, b->self, rargv, &rfd) != 0) {
        snprintf(err, errlen, "cannot start the responder: %s", strerror(errno));
        return -1;
    }
    /* The responder says READY <port> once its answering line is open (so the hub is up). */
    char line[64];
    if (bench_wait_ready(b->sfd, rfd, &b->hub, &b->resp, line, sizeof line, err, errlen) != 0)
        return -1;
    if (sscanf(line, "READY %d", &b->resp_port) != 1) {
        snprintf(err, errlen, "the responder said '%s'", line);
        return -1;
    }
    return 0;
}

/* ---- the peer: nats-server ------------------------------------------------------------ */

/* Find nats-server on PATH (and in the sbin folders, where Debian puts it). */
static int find_nats(char *out, size_t cap)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/usr/local/sbin:/usr/bin", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(out, cap, "%s/nats-server", d);
        if (access(out, X_OK) == 0)
            return 0;
    }
    out[0] = '\0';
    return -1;
}

/* nats-server on loopback with the hub's certificate, requiring client certificates
 * from the same CA (as the hub does), and its responder on CA's answering certificate. */
static int start_peer(struct bench *b, char *err, size_t errlen)
{
    char conf[512], port[16], size[32];
    b->nats_port = bench_free_port();
    snprintf(conf, sizeof conf, "%s/nats.conf", b->dir);
    FILE *f = fopen(conf, "w");
    if (!f || b->nats_port <= 0) {
        snprintf(err, errlen, "cannot write the nats-server configuration");
        if (f)
            fclose(f);
        return -1;
    }
    fprintf(f,
            "# written by stateline bench switch: the peer, on loopback, mutual TLS\n"
            "listen: 127.0.0.1:%d\n"
            "tls {\n"
            "  cert_file: \"%s/hub.crt\"\n"
            "  key_file: \"%s/hub.key\"\n"
            "  ca_file: \"%s/ca.crt\"\n"
            "  verify: true\n"
            "  timeout: 5\n"
            "}\n",
            b->nats_port, b->certs, b->certs, b->certs);
    fclose(f);
    snprintf(port, sizeof port, "%d", b->nats_port);
    snprintf(size, sizeof size, "%d", b->o->reply_size);
    b->nats.name = "nats-server";
    snprintf(b->nats.log, sizeof b->nats.log, "%s/nats-server.log", b->dir);
    char *nargv[] = {"nats-server", "-c", conf, NULL};
    if (bench_spawn(&b->oldmask, &b->nats, b->nats_path, nargv, NULL) != 0) {
        snprintf(err, errlen, "cannot start nats-server: %s", strerror(errno));
        return -1;
    }
    b->nresp.name = "nats responder";
    snprintf(b->nresp.log, sizeof b->nresp.log, "%s/nats-responder.log", b->dir);
    char *rargv[] = {"stateline", "bench", "nats-responder", "--port", port, "--certs",
                     b->certs, "--as", RESPONDER_ORI, "--reply-size", size, NULL};
    int rfd = -1;
    if (bench_spawn(&b->oldmask, &b->nresp, b->self, rargv, &rfd) != 0) {
        snprintf(err, errlen, "cannot start the nats responder: %s", strerror(errno));
        return -1;
    }
    char line[64];
    if (bench_wait_ready(b->sfd, rfd, &b->nats, &b->nresp, line, sizeof line, err, errlen) != 0)
        return -1;
    if (strncmp(line, "READY", 5) != 0) {
        snprintf(err, errlen, "the nats responder said '%s'", line);
        return -1;
    }
    char cert[400], key[400], ca[400], addr[64];
    snprintf(cert, sizeof cert, "%s/WA-terminal.crt", b->certs);
    snprintf(key, sizeof key, "%s/WA-terminal.key", b->certs);
    snprintf(ca, sizeof ca, "%s/ca.crt", b->certs);
    b->nctx = bench_nats_ctx(cert, key, ca, err, errlen);
    if (!b->nctx)
        return -1;
    snprintf(addr, sizeof addr, "127.0.0.1:%d", b->nats_port);
    return bench_gen_connect_nats(&b->gnats, addr, b->nctx, b->o->conns, err, errlen);
}

/* ---- runs and the search ------------------------------------------------------------ */

static int connect_gen(struct bench *b, int direct, char *err, size_t errlen)
{
    char addr[64];
    struct bench_gen *g = direct ? &b->gdir : &b->gen;
    snprintf(addr, sizeof addr, "127.0.0.1:%d", direct ? b->resp_port : b->hub_port);
    bench_gen_close(g);
    return bench_gen_connect(g, addr, b->tls, "WA", b->o->conns, err, errlen);
}

/* Fresh lines for path 0 (hub), 1 (direct) or 2 (nats-server). */
static int reconnect(struct bench *b, int path, char *err, size_t errlen)
{
    if (path < 2)
        return connect_gen(b, path, err, errlen);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", b->nats_port);
    bench_gen_close(&b->gnats);
    return bench_gen_connect_nats(&b->gnats, addr, b->nctx, b->o->conns, err, errlen);
}

/* One run on the hub's lines (direct 0), the responder's (1) or nats-server's (2).
 * warmup_s < 0: the default, the first 10% of the run and at most 0.5 s. */
static int one_run(struct bench *b, int direct, double rate, double secs, double warmup_s,
                   struct sl_bench_run *res)
{
    struct bench_gen *g = direct == 2 ? &b->gnats : direct ? &b->gdir : &b->gen;
    return bench_gen_trial(g, &b->run_id, &b->answered[direct], rate, secs, warmup_s, b->sfd,
                           res);
}


/* The search's view of the hub path and the peer path. */
static int run_hub(void *arg, double rate, double secs, double warmup_s, struct sl_bench_run *r)
{
    return one_run(arg, 0, rate, secs, warmup_s, r);
}

static int run_peer(void *arg, double rate, double secs, double warmup_s,
                    struct sl_bench_run *r)
{
    return one_run(arg, 2, rate, secs, warmup_s, r);
}

static int reconnect_hub(void *arg, char *err, size_t errlen)
{
    return reconnect(arg, 0, err, errlen);
}

static int reconnect_peer(void *arg, char *err, size_t errlen)
{
    return reconnect(arg, 2, err, errlen);
}

/* ---- the scenario ---------------------------------------------------------------------- */
/* 0 measured, 2 measured but no search trial passed, 1 interrupted, -1 failed. */
static int scenario(struct bench *b, json_t *report)
{
    const struct sl_bench_opts *o = b->o;
    char err[256];
    int64_t start = sl_now_ms();
    struct sl_bench_run *r = sl_xmalloc(sizeof *r);
    struct sl_bench_run *hub = sl_xmalloc(sizeof *hub);
    struct sl_bench_run *dir = sl_xmalloc(sizeof *dir);
    struct sl_bench_run *peer = sl_xmalloc(sizeof *peer);
    int have_peer = 0;
    int rc = 0, have_dir = 0;
    double measure_rate = o->rate;

    if (connect_gen(b, 0, err, sizeof err) != 0) {
        fprintf(stderr, "stateline bench: cannot open the generator's lines to the hub: %s\n", err);
        rc = -1;
        goto out;
    }
    if (!o->json)
        printf("stateline bench switch: %d terminal lines -> hub (TLS%s) -> CA answering line; "
               "DQ %zu bytes, DR text %d bytes\n\n",
               o->conns, o->hub_audit ? ", audit log on" : "", bench_query_bytes(),
               o->reply_size);

    if (o->rate <= 0) {
        /* The hub's search; then, with --peer-search, nats-server's, each with its share of
         * the time left before the measurements. */
        json_t *trials = json_array();
        json_object_set_new(report, "search", trials);
        double lo = 0, hi = 0;
        double budget_ms = o->max_seconds * 1000 - bench_reserve_ms(o, 0);
        int peer_search = o->peer_search && b->nats_path[0];
        double until_ms = peer_search ? budget_ms / 2 : budget_ms;
        struct bench_path hp = {run_hub, reconnect_hub, b};
        int k = bench_search(o, &hp, start, until_ms, trials, r, &lo, &hi);
        if (k != 0) {
            rc = k;
            goto out;
        }
        json_object_set_new(report, "sustained_rate", json_real(round(lo)));
        json_object_set_new(report, "sustained_routed_messages", json_real(round(2 * lo)));
        if (lo <= 0) {
            /* Measured, and the answer is "none": report the trials, exit 1. */
            if (!o->json)
                printf("\nno trial passed: no rate down to %.0f/s kept p99 under %.2f ms\n",
                       hi, o->p99_bound_ms);
            rc = 2;
            goto out;
        }
        if (!o->json)
            printf("\nsustained: %.0f queries/s answered through the hub "
                   "(%.0f routed messages/s: each query and its reply)\n\n", lo, 2 * lo);
        if (peer_search) {
            json_t *ptrials = json_array();
            json_object_set_new(report, "peer_search", ptrials);
            double plo = 0, phi = 0;
            if (!o->json)
                printf("the peer, nats-server:\n");
            struct bench_path pp = {run_peer, reconnect_peer, b};
            k = bench_search(o, &pp, start, budget_ms, ptrials, r, &plo, &phi);
            if (k != 0) {
                rc = k;
                goto out;
            }
            json_object_set_new(report, "peer_sustained_rate", json_real(round(plo)));
            if (plo > 0 && lo > 0)
                json_object_set_new(report, "sustained_hub_over_peer",
                                    json_real(round(lo / plo * 100) / 100));
            if (!o->json)
                printf("\nnats-server sustained: %.0f queries/s%s\n", plo,
                       plo > 0 && lo > 0 ? "" : " (no trial passed)");
            if (!o->json && plo > 0 && lo > 0)
                printf("the hub sustains %.2fx the rate of nats-server\n", lo / plo);
        }

        measure_rate = lo / 2;
        if (connect_gen(b, 0, err, sizeof err) != 0) {
            fprintf(stderr, "stateline bench: reconnecting: %s\n", err);
            rc = -1;
            goto out;
        }
    }

    /* The measurement, through the hub and directly at the same rate, interleaved in
     * slices of about a second (hub, direct, hub, direct ...), so that a change in what
     * else the machine is doing weighs on both alike.  The lines stay open throughout;
     * only the first slice of each has a warm-up. */
    if (!o->no_direct && connect_gen(b, 1, err, sizeof err) != 0) {
        fprintf(stderr, "stateline bench: cannot open lines to the responder: %s\n", err);
        rc = -1;
        goto out;
    }
    int slices = (int)floor(o->duration_s + 0.5);
    if (slices < 1)
        slices = 1;
    double slice_s = o->duration_s / slices;
    for (int i = 0; i < slices; i++) {
        double warm = i == 0 ? (slice_s * 0.1 > 0.5 ? 0.5 : slice_s * 0.1) : 0;
        int k = one_run(b, 0, measure_rate, slice_s, warm, r);
        if (k != 0) {
            rc = k;
            goto out;
        }
        bench_add_run(hub, r, i == 0);
        if (o->no_direct)
            continue;
        k = one_run(b, 1, measure_rate, slice_s, warm, r);
        if (k != 0) {
            rc = k;
            goto out;
        }
        bench_add_run(dir, r, i == 0);
        have_dir = 1;
        if (!b->nats_path[0])
            continue;
        k = one_run(b, 2, measure_rate, slice_s, warm, r);
        if (k != 0) {
            rc = k;
            goto out;
        }
        bench_add_run(peer, r, i == 0);
        have_peer = 1;
    }
    hub->duration_s = dir->duration_s = peer->duration_s = o->duration_s;
    json_object_set_new(report, "measure_rate", json_real(measure_rate));
    json_object_set_new(report, "slices", json_integer(slices));
    json_object_set_new(report, "hub", bench_run_json(hub));
    if (have_dir) {
        json_object_set_new(report, "direct", bench_run_json(dir));
        json_t *add = json_object();
        for (int i = 0; i < 4; i++)
            json_object_set_new(add, bench_pct_name[i],
                                json_integer((json_int_t)sl_hist_percentile(&hub->hist, bench_pct[i]) -
                                             (json_int_t)sl_hist_percentile(&dir->hist, bench_pct[i])));
        json_object_set_new(report, "hub_added_us", add);
    }
    if (have_peer) {
        /* The same request/reply through nats-server: its latency over the hub's at each
         * percentile (> 1: nats-server slower). */
        json_t *pj = bench_run_json(peer);
        json_object_set_new(pj, "server", json_string("nats-server"));
        json_t *ratio = json_object();
        for (int i = 0; i < 4; i++) {
            double h = (double)sl_hist_percentile(&hub->hist, bench_pct[i]);
            double n = (double)sl_hist_percentile(&peer->hist, bench_pct[i]);
            json_object_set_new(ratio, bench_pct_name[i],
                                h > 0 ? json_real(round(n / h * 100) / 100) : json_null());
        }
        json_object_set_new(pj, "latency_vs_hub", ratio);
        json_object_set_new(report, "peer", pj);
    } else {
        json_object_set_new(report, "peer", json_null());
    }
    if (!o->json) {
        printf("at %.0f queries/s for %.1f s each way, in %d interleaved slices (latency "
               "from the intended send time to the reply, ms):\n", measure_rate,
               o->duration_s, slices);
        printf("  %-18s %9s %9s %9s %9s %9s\n", "", "p50", "p90", "p99", "p99.9", "max");
        bench_print_lat_row("through the hub", &hub->hist);
        if (have_dir) {
            bench_print_lat_row("direct (no hub)", &dir->hist);
            bench_print_added_row("added by the hub", &hub->hist, &dir->hist);
        }
        if (have_peer) {
            bench_print_lat_row("nats-server (peer)", &peer->hist);
            printf("  %-18s", "peer / hub");
            for (int i = 0; i < 4; i++) {
                double h = (double)sl_hist_percentile(&hub->hist, bench_pct[i]);
                double n = (double)sl_hist_percentile(&peer->hist, bench_pct[i]);
                printf(" %8.2fx", h > 0 ? n / h : 0.0);
            }
            printf(" %9s\n", "-");
        }
        printf("\n");
        bench_print_counts("through the hub", hub);
        if (have_dir)
            bench_print_counts("direct (no hub)", dir);
        if (have_peer)
            bench_print_counts("nats-server", peer);
        else
            printf("\n  no peer: nats-server is not installed (Debian package nats-server)%s\n",
                   o->no_peer ? " or --no-peer" : "");
    }
out:
    free(r);
    free(hub);
    free(dir);
    free(peer);
    return rc;
}

int sl_bench_switch(const struct sl_bench_opts *o, const char *self_exe)
{
    struct bench *b = sl_xcalloc(1, sizeof *b);
    b->o = o;
    b->self = self_exe;
    b->sfd = -1;
    char err[256];
    int rc = 1, print = 0;
    json_t *report = json_object();
    json_object_set_new(report, "machine", bench_machine_json());
    struct bench_ticks t_start, t_end;
    bench_read_ticks(&t_start);
    double self0 = bench_rusage_s(RUSAGE_SELF);
    double cpu0 = self0 + bench_rusage_s(RUSAGE_CHILDREN);
    int64_t wall0 = sl_now_ms();

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, &b->oldmask);
    b->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    snprintf(b->dir, sizeof b->dir, "%s/stateline-bench-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(b->dir)) {
        fprintf(stderr, "stateline bench: cannot make a temporary directory: %s\n",
                strerror(errno));
        b->dir[0] = '\0';
        goto out;
    }
    if (make_network(b, err, sizeof err) != 0) {
        fprintf(stderr, "stateline bench: setting up the network: %s\n", err);
        goto out;
    }
    if (start_children(b, err, sizeof err) != 0) {
        if (strcmp(err, "interrupted") == 0) { /* Ctrl-C while a child was starting */
            rc = bench_say_interrupted();
            goto out;
        }
        fprintf(stderr, "stateline bench: %s\n", err);
        bench_print_log_tail(&b->hub);
        bench_print_log_tail(&b->resp);
        goto out;
    }
    char cert[400], key[400], ca[400];
    snprintf(cert, sizeof cert, "%s/WA-terminal.crt", b->certs);
    snprintf(key, sizeof key, "%s/WA-terminal.key", b->certs);
    snprintf(ca, sizeof ca, "%s/ca.crt", b->certs);
    if (sl_tls_new_client(cert, key, ca, &b->tls, err, sizeof err) != 0) {
        fprintf(stderr, "stateline bench: TLS: %s\n", err);
        goto out;
    }

    if (!o->no_peer && find_nats(b->nats_path, sizeof b->nats_path) == 0 &&
        start_peer(b, err, sizeof err) != 0) {
        if (strcmp(err, "interrupted") == 0) {
            rc = bench_say_interrupted();
            goto out;
        }
        fprintf(stderr, "stateline bench: the peer (nats-server): %s\n", err);
        bench_print_log_tail(&b->nats);
        bench_print_log_tail(&b->nresp);
        goto out;
    }
    if (o->no_peer)
        b->nats_path[0] = '\0';

    json_object_set_new(report, "scenario", json_string("switch"));
    json_object_set_new(report, "mode", json_string(o->rate > 0 ? "fixed" : "search"));
    json_object_set_new(report, "connections", json_integer(o->conns));
    json_object_set_new(report, "tls", json_true());
    json_object_set_new(report, "hub_audit", json_boolean(o->hub_audit));
    json_object_set_new(report, "query_bytes", json_integer((json_int_t)bench_query_bytes()));
    json_object_set_new(report, "reply_text_bytes", json_integer(o->reply_size));
    json_object_set_new(report, "p99_bound_ms", json_real(o->p99_bound_ms));

    int k = scenario(b, report);
    print = k == 0 || k == 2;
    if (k == 2) {
        rc = 1;
    } else if (k == 1) {
        rc = bench_say_interrupted();
    } else if (k < 0) {
        if (!bench_alive(&b->hub))
            bench_print_log_tail(&b->hub);
        if (!bench_alive(&b->resp))
            bench_print_log_tail(&b->resp);
        rc = 1;
    } else {
        rc = 0;
    }
out:
    bench_gen_close(&b->gen);
    bench_gen_close(&b->gdir);
    bench_gen_close(&b->gnats);
    SSL_CTX_free(b->nctx);
    bench_stop(&b->nresp);
    bench_stop(&b->nats);
    sl_tls_free(b->tls);
    bench_stop(&b->resp);
    bench_stop(&b->hub);
    /* Our children that ended badly make the run fail (a sanitizer build reports through
     * the exit status, and a figure from a crashing process is no figure).  nats-server is
     * not judged by its status: it exits 1 after a clean shutdown on SIGTERM. */
    struct bench_child *kids[] = {&b->hub, &b->resp, &b->nresp};
    for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++)
        if (bench_ended_badly(kids[i])) {
            bench_print_log_tail(kids[i]);
            if (rc == 0)
                rc = 1;
        }
    if (print) {
        /* How busy the machine was with other work while we measured: its busy CPU time
         * minus ours (this process, the hub and the responder, all reaped by now). */
        bench_read_ticks(&t_end);
        double hz = (double)sysconf(_SC_CLK_TCK);
        double wall = (double)(sl_now_ms() - wall0) / 1000.0;
        double ours = bench_rusage_s(RUSAGE_SELF) + bench_rusage_s(RUSAGE_CHILDREN) - cpu0;
        double busy = (double)(t_end.busy - t_start.busy) / hz;
        double others = busy - ours > 0 ? busy - ours : 0;
        json_t *m = json_object_get(report, "machine");
        json_object_set_new(m, "wall_s", json_real(round(wall * 10) / 10));
        json_object_set_new(m, "cpu_s_benchmark", json_real(round(ours * 100) / 100));
        json_object_set_new(m, "cpu_s_other_processes", json_real(round(others * 100) / 100));
        double gen_s = bench_rusage_s(RUSAGE_SELF) - self0;
        json_object_set_new(m, "cpu_s_generator", json_real(round(gen_s * 100) / 100));
        json_object_set_new(m, "cpu_s_hub", json_real(round(b->hub.cpu_s * 100) / 100));
        json_object_set_new(m, "cpu_s_responder", json_real(round(b->resp.cpu_s * 100) / 100));
        /* CPU per answered query over the whole run (the hub also served the search) */
        json_t *per = json_object();
        if (b->answered[0])
            json_object_set_new(per, "hub", json_real(round(b->hub.cpu_s * 1e7 /
                                                             (double)b->answered[0]) / 10));
        if (b->answered[2])
            json_object_set_new(per, "nats_server", json_real(round(b->nats.cpu_s * 1e7 /
                                                                     (double)b->answered[2]) / 10));
        json_object_set_new(m, "cpu_us_per_query", per);
        if (b->nats_path[0]) {
            json_object_set_new(m, "cpu_s_nats_server",
                                json_real(round(b->nats.cpu_s * 100) / 100));
            json_object_set_new(m, "cpu_s_nats_responder",
                                json_real(round(b->nresp.cpu_s * 100) / 100));
        }
        double steal = (double)(t_end.steal - t_start.steal) / hz;
        json_object_set_new(m, "cpu_s_steal", json_real(round(steal * 100) / 100));
        if (o->json) {
            char *s = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            puts(s);
            free(s);
        } else {
            printf("\nmachine: %s, %lld CPUs, Linux %s, %s\n",
                   json_string_value(json_object_get(m, "cpu")),
                   (long long)json_integer_value(json_object_get(m, "cpus")),
                   json_string_value(json_object_get(m, "kernel")),
                   json_string_value(json_object_get(m, "openssl")));
            double cap = wall * (double)sysconf(_SC_NPROCESSORS_ONLN);
            printf("  during the %.0f s: the benchmark's processes used %.1f CPU-s (generator "
                   "%.1f, hub %.1f, responder %.1f", wall, ours, gen_s, b->hub.cpu_s,
                   b->resp.cpu_s);
            if (b->nats_path[0])
                printf(", nats-server %.1f, its responder %.1f", b->nats.cpu_s, b->nresp.cpu_s);
            printf("), other processes %.1f CPU-s (%.0f%% of the machine)%s\n", others,
                   cap > 0 ? 100.0 * others / cap : 0,
                   others > 0.1 * wall ? ": figures are noisier than on an idle machine" : "");
            if (b->answered[0])
                printf("  CPU per answered query: hub %.1f us", b->hub.cpu_s * 1e6 /
                                                               (double)b->answered[0]);
            if (b->answered[0] && b->answered[2])
                printf(", nats-server %.1f us", b->nats.cpu_s * 1e6 / (double)b->answered[2]);
            if (b->answered[0])
                printf(" (each query is two messages through the server)\n");
        }
    }
    bench_finish(b->dir, o->keep, b->sfd, &b->oldmask);
    json_decref(report);
    free(b);
    return rc;
}
