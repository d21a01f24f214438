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

struct child {
    pid_t pid;
    const char *name;
    char log[1100];
    double cpu_s;      /* user + system CPU seconds, known once it has been reaped */
    int status;        /* wait status, once reaped */
    int reaped;
};

/* Reap c if it has exited (or wait for it: flags 0); keeps its CPU time. */
static int reap(struct child *c, int flags)
{
    struct rusage ru;
    if (wait4(c->pid, &c->status, flags, &ru) != c->pid)
        return 0;
    c->reaped = 1;
    c->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    c->pid = 0;
    return 1;
}

struct bench {
    const struct sl_bench_opts *o;
    const char *self;
    char dir[256];
    char certs[300];
    int sfd;                 /* SIGINT/SIGTERM */
    sigset_t oldmask;
    struct child hub, resp;
    struct child nats, nresp;   /* the peer: nats-server and its responder */
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
static int spawn(struct bench *b, struct child *c, const char *prog, char *const argv[],
                 int *out_fd)
{
    int pfd[2] = {-1, -1};
    if (out_fd && pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    int logfd = open(c->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (logfd < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(logfd);
        return -1;
    }
    if (pid == 0) {
        /* If the benchmark dies, so do its children. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        sigprocmask(SIG_SETMASK, &b->oldmask, NULL);
        dup2(logfd, 2);
        if (out_fd)
            dup2(pfd[1], 1);
        else
            dup2(logfd, 1);
        execv(prog, argv);
        _exit(127);
    }
    close(logfd);
    if (out_fd) {
        close(pfd[1]);
        *out_fd = pfd[0];
    }
    c->pid = pid;
    return 0;
}

/* SIGTERM, wait up to 5 s, then SIGKILL. */
static void stop(struct child *c)
{
    if (c->pid <= 0)
        return;
    kill(c->pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (reap(c, WNOHANG))
            return;
        usleep(10000);
    }
    kill(c->pid, SIGKILL);
    reap(c, 0);
}

/* A child that was started and did not end with exit status 0 (after our SIGTERM): a
 * crash, a sanitizer report, or a refusal to stop.  Says so on stderr. */
static int ended_badly(const struct child *c)
{
    if (!c->reaped || (WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0))
        return 0;
    if (WIFEXITED(c->status))
        fprintf(stderr, "stateline bench: the %s exited with status %d\n", c->name,
                WEXITSTATUS(c->status));
    else if (WIFSIGNALED(c->status))
        fprintf(stderr, "stateline bench: the %s was ended by signal %d%s\n", c->name,
                WTERMSIG(c->status),
                WTERMSIG(c->status) == SIGKILL ? " (it did not stop within 5 s of SIGTERM)" : "");
    return 1;
}

static void print_log_tail(const struct child *c)
{
    FILE *f = fopen(c->log, "r");
    if (!f)
        return;
    char line[512];
    char *lines[20] = {0};
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        free(lines[n % 20]);
        lines[n % 20] = sl_xstrdup(line);
        n++;
    }
    fclose(f);
    fprintf(stderr, "--- last lines of the %s's log (%s):\n", c->name, c->log);
    for (int i = n > 20 ? n - 20 : 0; i < n; i++) {
        fputs(lines[i % 20], stderr);
        free(lines[i % 20]);
        lines[i % 20] = NULL;
    }
    for (int i = 0; i < 20; i++)
        free(lines[i]);
}

/* Is a child still running? (reaps it when not) */
static int alive(struct child *c)
{
    if (c->pid <= 0)
        return 0;
    return !reap(c, WNOHANG);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* A free loopback port: bind port 0, read it, close.  (The hub binds it a moment later;
 * on a loopback with nothing else starting, nobody takes it in between.) */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* ---- set-up ------------------------------------------------------------------------ */

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

    b->hub_port = free_port();
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
static int wait_ready(struct bench *b, int rfd, struct child *server, struct child *c,
                      char *line, size_t cap, char *err, size_t errlen)
{
    size_t got = 0;
    line[0] = '\0';
    int64_t until = sl_now_ms() + 15000;
    while (got < cap - 1 && !memchr(line, '\n', got)) {
        struct pollfd p[2] = {{rfd, POLLIN, 0}, {b->sfd, POLLIN, 0}};
        int64_t left = until - sl_now_ms();
        if (!alive(server)) {
            snprintf(err, errlen, "the %s stopped as it started", server->name);
            close(rfd);
            return -1;
        }
        if (left <= 0) {
            snprintf(err, errlen, "the %s did not come up within 15 s", c->name);
            close(rfd);
            return -1;
        }
        if (poll(p, 2, left > 200 ? 200 : (int)left) <= 0)
            continue;
        if (p[1].revents) {
            snprintf(err, errlen, "interrupted");
            close(rfd);
            return -1;
        }
        ssize_t r = read(rfd, line + got, cap - 1 - got);
        if (r <= 0) {
            snprintf(err, errlen, "the %s stopped before it was ready", c->name);
            close(rfd);
            return -1;
        }
        got += (size_t)r;
        line[got] = '\0';
    }
    close(rfd);
    return 0;
}

static int start_children(struct bench *b, char *err, size_t errlen)
{
    char conf[512], hubaddr[64], size[32];
    snprintf(conf, sizeof conf, "%s/hub.conf", b->dir);
    snprintf(hubaddr, sizeof hubaddr, "127.0.0.1:%d", b->hub_port);
    snprintf(size, sizeof size, "%d", b->o->reply_size);
    b->hub.name = "hub";
    snprintf(b->hub.log, sizeof b->hub.log, "%s/hub.log", b->dir);
    char *hargv[] = {"stateline", "hub", "--config", conf, NULL};
    if (spawn(b, &b->hub, b->self, hargv, NULL) != 0) {
        snprintf(err, errlen, "cannot start the hub: %s", strerror(errno));
        return -1;
    }
    b->resp.name = "responder";
    snprintf(b->resp.log, sizeof b->resp.log, "%s/responder.log", b->dir);
    char *rargv[] = {"stateline", "bench", "responder", "--hub", hubaddr, "--certs", b->certs,
                     "--as", RESPONDER_ORI, "--reply-size", size, NULL};
    int rfd = -1;
    if (spawn(b, &b->resp, b->self, rargv, &rfd) != 0) {
        snprintf(err, errlen, "cannot start the responder: %s", strerror(errno));
        return -1;
    }
    /* The responder says READY <port> once its answering line is open (so the hub is up). */
    char line[64];
    if (wait_ready(b, rfd, &b->hub, &b->resp, line, sizeof line, err, errlen) != 0)
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
    b->nats_port = free_port();
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
    if (spawn(b, &b->nats, b->nats_path, nargv, NULL) != 0) {
        snprintf(err, errlen, "cannot start nats-server: %s", strerror(errno));
        return -1;
    }
    b->nresp.name = "nats responder";
    snprintf(b->nresp.log, sizeof b->nresp.log, "%s/nats-responder.log", b->dir);
    char *rargv[] = {"stateline", "bench", "nats-responder", "--port", port, "--certs",
                     b->certs, "--as", RESPONDER_ORI, "--reply-size", size, NULL};
    int rfd = -1;
    if (spawn(b, &b->nresp, b->self, rargv, &rfd) != 0) {
        snprintf(err, errlen, "cannot start the nats responder: %s", strerror(errno));
        return -1;
    }
    char line[64];
    if (wait_ready(b, rfd, &b->nats, &b->nresp, line, sizeof line, err, errlen) != 0)
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

static int passes(const struct sl_bench_run *r, double bound_us)
{
    return !r->overload && r->errors == 0 && r->lost == 0 && r->achieved >= 0.99 * r->rate &&
           (double)sl_hist_percentile(&r->hist, 99) <= bound_us;
}

/* One run on the hub's lines (direct 0), the responder's (1) or nats-server's (2).
 * warmup_s < 0: the default, the first 10% of the run and at most 0.5 s. */
static int one_run(struct bench *b, int direct, double rate, double secs, double warmup_s,
                   struct sl_bench_run *res)
{
    b->run_id = (b->run_id < 'A' || b->run_id >= 'Z') ? 'A' : (char)(b->run_id + 1);
    if (warmup_s < 0)
        warmup_s = secs * 0.1 > 0.5 ? 0.5 : secs * 0.1;
    struct bench_gen *g = direct == 2 ? &b->gnats : direct ? &b->gdir : &b->gen;
    int rc = bench_gen_run(g, b->run_id, rate, secs, warmup_s, b->sfd, res);
    b->answered[direct] += res->received;
    if (rc == 1)
        return 1;
    if (rc < 0) {
        fprintf(stderr, "stateline bench: %s\n", res->first_error);
        return -1;
    }
    return 0;
}

static json_t *lat_json(const struct sl_hist *h)
{
    json_t *o = json_object();
    json_object_set_new(o, "p50", json_integer((json_int_t)sl_hist_percentile(h, 50)));
    json_object_set_new(o, "p90", json_integer((json_int_t)sl_hist_percentile(h, 90)));
    json_object_set_new(o, "p99", json_integer((json_int_t)sl_hist_percentile(h, 99)));
    json_object_set_new(o, "p99.9", json_integer((json_int_t)sl_hist_percentile(h, 99.9)));
    json_object_set_new(o, "max", json_integer((json_int_t)h->max));
    json_object_set_new(o, "mean", json_real(round(sl_hist_mean(h) * 10) / 10));
    json_object_set_new(o, "count", json_integer((json_int_t)h->count));
    return o;
}

static json_t *run_json(const struct sl_bench_run *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "rate", json_real(r->rate));
    json_object_set_new(o, "duration_s", json_real(r->duration_s));
    json_object_set_new(o, "sent", json_integer((json_int_t)r->sent));
    json_object_set_new(o, "received", json_integer((json_int_t)r->received));
    json_object_set_new(o, "errors", json_integer((json_int_t)r->errors));
    json_object_set_new(o, "lost", json_integer((json_int_t)r->lost));
    json_object_set_new(o, "achieved_rate", json_real(round(r->achieved)));
    json_object_set_new(o, "overload", json_boolean(r->overload));
    json_object_set_new(o, "warmup_s", json_real(r->warmup_s));
    json_object_set_new(o, "sent_late_over_1ms", json_integer((json_int_t)r->sent_late));
    json_object_set_new(o, "max_send_lag_us", json_integer((json_int_t)r->max_send_lag_us));
    json_object_set_new(o, "latency_us", lat_json(&r->hist));
    if (r->first_error[0])
        json_object_set_new(o, "first_error", json_string(r->first_error));
    return o;
}

static const double pct[] = {50, 90, 99, 99.9};
static const char *const pct_name[] = {"p50", "p90", "p99", "p99.9"};

static void print_lat_row(const char *label, const struct sl_hist *h)
{
    printf("  %-18s", label);
    for (int i = 0; i < 4; i++)
        printf(" %9.3f", (double)sl_hist_percentile(h, pct[i]) / 1000.0);
    printf(" %9.3f\n", (double)h->max / 1000.0);
}

static void print_added_row(const struct sl_hist *hub, const struct sl_hist *dir)
{
    printf("  %-18s", "added by the hub");
    for (int i = 0; i < 4; i++)
        printf(" %9.3f", ((double)sl_hist_percentile(hub, pct[i]) -
                          (double)sl_hist_percentile(dir, pct[i])) / 1000.0);
    printf(" %9s\n", "-");
}

static void print_counts(const char *label, const struct sl_bench_run *r)
{
    printf("  %-18s sent %llu, answered %llu, errors %llu, lost %llu, achieved %.0f/s%s\n",
           label, (unsigned long long)r->sent, (unsigned long long)r->received,
           (unsigned long long)r->errors, (unsigned long long)r->lost, r->achieved,
           r->overload ? " (OVERLOADED)" : "");
    if (r->sent_late)
        printf("  %-18s the generator sent %llu queries more than 1 ms late (at most %.1f ms):"
               " it was busy or not scheduled\n", "", (unsigned long long)r->sent_late,
               (double)r->max_send_lag_us / 1000.0);
    if (r->first_error[0])
        printf("  %-18s first problem: %s\n", "", r->first_error);
}

/* ---- the machine ---------------------------------------------------------------------- */

/* CPU ticks of the whole machine: busy (everything but idle and iowait) and steal. */
struct cpu_ticks {
    unsigned long long busy, steal;
};

static void read_ticks(struct cpu_ticks *t)
{
    unsigned long long v[10] = {0};
    memset(t, 0, sizeof *t);
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) == 8) {
        t->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        t->steal = v[7];
    }
    fclose(f);
}

static double rusage_s(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* What the figures were measured on: CPU model and count, kernel, OpenSSL, and the load
 * average when the run started. */
static json_t *machine_json(void)
{
    json_t *m = json_object();
    char model[160] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    c++;
                    while (*c == ' ')
                        c++;
                    c[strcspn(c, "\n")] = '\0';
                    sl_strlcpy(model, c, sizeof model);
                }
                break;
            }
        fclose(f);
    }
    struct utsname u;
    double load[1] = {0};
    json_object_set_new(m, "cpu", json_string(model));
    json_object_set_new(m, "cpus", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    json_object_set_new(m, "kernel", json_string(uname(&u) == 0 ? u.release : "unknown"));
    json_object_set_new(m, "openssl", json_string(OpenSSL_version(OPENSSL_VERSION)));
    if (getloadavg(load, 1) == 1)
        json_object_set_new(m, "loadavg_1min_at_start", json_real(round(load[0] * 100) / 100));
    return m;
}

/* ---- the scenario ---------------------------------------------------------------------- */

/* Add run r to the total acc (first: acc is still empty). */
static void add_run(struct sl_bench_run *acc, const struct sl_bench_run *r, int first)
{
    if (first) {
        *acc = *r;
        return;
    }
    acc->sent += r->sent;
    acc->received += r->received;
    acc->errors += r->errors;
    acc->lost += r->lost;
    acc->sent_late += r->sent_late;
    if (r->max_send_lag_us > acc->max_send_lag_us)
        acc->max_send_lag_us = r->max_send_lag_us;
    acc->overload |= r->overload;
    if (!acc->first_error[0])
        memcpy(acc->first_error, r->first_error, sizeof acc->first_error);
    acc->span_s += r->span_s;
    acc->achieved = acc->span_s > 0 ? (double)acc->received / acc->span_s : 0;
    sl_hist_merge(&acc->hist, &r->hist);
}

/* Search the sustained rate on path (0 the hub, 2 nats-server) until `until_ms` after
 * `start`.  Climb: double the rate until two trials in a row miss the bound, or one fails
 * hard (errors, loss, under 99% answered: the server is saturated).  Then bisect between
 * the highest passing rate and the lowest failing rate above it.  Latency on a shared VM
 * is noisy (an idle CPU wakes slowly), so one trial missing the bound at a low rate does
 * not end the climb; every trial is reported.  *lo: the sustained rate (0 = none passed),
 * *hi: the lowest failing rate above it.  0, 1 interrupted, -1 failed. */
static int search(struct bench *b, int path, int64_t start, double until_ms, json_t *trials,
                  struct sl_bench_run *r, double *lo_out, double *hi_out)
{
    const struct sl_bench_opts *o = b->o;
    double bound_us = o->p99_bound_ms * 1000.0;
    double lo = 0, hi = 0, rate = 5000;
    int climbing = 1, misses = 0;
    char err[256];
    if (!o->json)
        printf("search (trials of %.1f s; pass = p99 <= %.2f ms, >= 99%% of the offered "
               "rate answered, no error or loss)\n"
               "  %10s %12s %9s %9s  %s\n", o->step_s, o->p99_bound_ms, "offered/s",
               "achieved/s", "p50 ms", "p99 ms", "result");
    for (;;) {
        double used = (double)(sl_now_ms() - start);
        if (used + (o->step_s + 2.5) * 1000 > until_ms)
            break;
        int k = one_run(b, path, rate, o->step_s, -1, r);
        if (k != 0)
            return k;
        int ok = passes(r, bound_us);
        int hard = r->overload || r->errors || r->lost || r->achieved < 0.99 * r->rate;
        json_t *t = run_json(r);
        json_object_set_new(t, "pass", json_boolean(ok));
        json_array_append_new(trials, t);
        if (!o->json) {
            printf("  %10.0f %12.0f %9.3f %9.3f  %s\n", rate, r->achieved,
                   (double)sl_hist_percentile(&r->hist, 50) / 1000.0,
                   (double)sl_hist_percentile(&r->hist, 99) / 1000.0,
                   ok ? "pass" : hard ? "fail: saturated" : "fail: p99 over the bound");
            fflush(stdout);
        }
        if (ok && rate > lo)
            lo = rate;
        if (!ok && rate > lo && (hi == 0 || rate < hi))
            hi = rate;
        if (climbing) {
            misses = ok ? 0 : misses + 1;
            if (hard || misses >= 2)
                climbing = 0;
            else
                rate *= 2;
        }
        if (!climbing) {
            if (hi > 0 && hi <= lo) /* a noisy miss below a pass: look above the pass */
                hi = 0;
            if (lo == 0 && hi == 0)
                break;
            if (hi == 0)
                hi = lo * 2;
            if (lo > 0 && (hi - lo) / hi < 0.05)
                break;
            rate = lo > 0 ? (lo + hi) / 2 : hi / 2;
            if (rate < 100)
                break;
        }
        /* Reconnect after a saturated trial: its backlog must not poison the next. */
        if (hard && reconnect(b, path, err, sizeof err) != 0) {
            fprintf(stderr, "stateline bench: reconnecting: %s\n", err);
            return -1;
        }
    }
    *lo_out = lo;
    *hi_out = hi;
    return 0;
}

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
        double reserve_ms = 3 * (o->duration_s + 2.5) * 1000 + 3000;
        double budget_ms = o->max_seconds * 1000 - reserve_ms;
        int peer_search = o->peer_search && b->nats_path[0];
        double until_ms = peer_search ? budget_ms / 2 : budget_ms;
        int k = search(b, 0, start, until_ms, trials, r, &lo, &hi);
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
            k = search(b, 2, start, budget_ms, ptrials, r, &plo, &phi);
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
        add_run(hub, r, i == 0);
        if (o->no_direct)
            continue;
        k = one_run(b, 1, measure_rate, slice_s, warm, r);
        if (k != 0) {
            rc = k;
            goto out;
        }
        add_run(dir, r, i == 0);
        have_dir = 1;
        if (!b->nats_path[0])
            continue;
        k = one_run(b, 2, measure_rate, slice_s, warm, r);
        if (k != 0) {
            rc = k;
            goto out;
        }
        add_run(peer, r, i == 0);
        have_peer = 1;
    }
    hub->duration_s = dir->duration_s = peer->duration_s = o->duration_s;
    json_object_set_new(report, "measure_rate", json_real(measure_rate));
    json_object_set_new(report, "slices", json_integer(slices));
    json_object_set_new(report, "hub", run_json(hub));
    if (have_dir) {
        json_object_set_new(report, "direct", run_json(dir));
        json_t *add = json_object();
        for (int i = 0; i < 4; i++)
            json_object_set_new(add, pct_name[i],
                                json_integer((json_int_t)sl_hist_percentile(&hub->hist, pct[i]) -
                                             (json_int_t)sl_hist_percentile(&dir->hist, pct[i])));
        json_object_set_new(report, "hub_added_us", add);
    }
    if (have_peer) {
        /* The same request/reply through nats-server: its latency over the hub's at each
         * percentile (> 1: nats-server slower). */
        json_t *pj = run_json(peer);
        json_object_set_new(pj, "server", json_string("nats-server"));
        json_t *ratio = json_object();
        for (int i = 0; i < 4; i++) {
            double h = (double)sl_hist_percentile(&hub->hist, pct[i]);
            double n = (double)sl_hist_percentile(&peer->hist, pct[i]);
            json_object_set_new(ratio, pct_name[i],
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
        print_lat_row("through the hub", &hub->hist);
        if (have_dir) {
            print_lat_row("direct (no hub)", &dir->hist);
            print_added_row(&hub->hist, &dir->hist);
        }
        if (have_peer) {
            print_lat_row("nats-server (peer)", &peer->hist);
            printf("  %-18s", "peer / hub");
            for (int i = 0; i < 4; i++) {
                double h = (double)sl_hist_percentile(&hub->hist, pct[i]);
                double n = (double)sl_hist_percentile(&peer->hist, pct[i]);
                printf(" %8.2fx", h > 0 ? n / h : 0.0);
            }
            printf(" %9s\n", "-");
        }
        printf("\n");
        print_counts("through the hub", hub);
        if (have_dir)
            print_counts("direct (no hub)", dir);
        if (have_peer)
            print_counts("nats-server", peer);
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

/* Ctrl-C (or SIGTERM) at any point: everything started is stopped on the way out. */
static int say_interrupted(void)
{
    fprintf(stderr, "stateline bench: interrupted; stopping what it started\n");
    return 130;
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
    json_object_set_new(report, "machine", machine_json());
    struct cpu_ticks t_start, t_end;
    read_ticks(&t_start);
    double self0 = rusage_s(RUSAGE_SELF);
    double cpu0 = self0 + rusage_s(RUSAGE_CHILDREN);
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
            rc = say_interrupted();
            goto out;
        }
        fprintf(stderr, "stateline bench: %s\n", err);
        print_log_tail(&b->hub);
        print_log_tail(&b->resp);
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
            rc = say_interrupted();
            goto out;
        }
        fprintf(stderr, "stateline bench: the peer (nats-server): %s\n", err);
        print_log_tail(&b->nats);
        print_log_tail(&b->nresp);
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
        rc = say_interrupted();
    } else if (k < 0) {
        if (!alive(&b->hub))
            print_log_tail(&b->hub);
        if (!alive(&b->resp))
            print_log_tail(&b->resp);
        rc = 1;
    } else {
        rc = 0;
    }
out:
    bench_gen_close(&b->gen);
    bench_gen_close(&b->gdir);
    bench_gen_close(&b->gnats);
    SSL_CTX_free(b->nctx);
    stop(&b->nresp);
    stop(&b->nats);
    sl_tls_free(b->tls);
    stop(&b->resp);
    stop(&b->hub);
    /* Our children that ended badly make the run fail (a sanitizer build reports through
     * the exit status, and a figure from a crashing process is no figure).  nats-server is
     * not judged by its status: it exits 1 after a clean shutdown on SIGTERM. */
    struct child *kids[] = {&b->hub, &b->resp, &b->nresp};
    for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++)
        if (ended_badly(kids[i])) {
            print_log_tail(kids[i]);
            if (rc == 0)
                rc = 1;
        }
    if (print) {
        /* How busy the machine was with other work while we measured: its busy CPU time
         * minus ours (this process, the hub and the responder, all reaped by now). */
        read_ticks(&t_end);
        double hz = (double)sysconf(_SC_CLK_TCK);
        double wall = (double)(sl_now_ms() - wall0) / 1000.0;
        double ours = rusage_s(RUSAGE_SELF) + rusage_s(RUSAGE_CHILDREN) - cpu0;
        double busy = (double)(t_end.busy - t_start.busy) / hz;
        double others = busy - ours > 0 ? busy - ours : 0;
        json_t *m = json_object_get(report, "machine");
        json_object_set_new(m, "wall_s", json_real(round(wall * 10) / 10));
        json_object_set_new(m, "cpu_s_benchmark", json_real(round(ours * 100) / 100));
        json_object_set_new(m, "cpu_s_other_processes", json_real(round(others * 100) / 100));
        double gen_s = rusage_s(RUSAGE_SELF) - self0;
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
    if (b->dir[0]) {
        if (o->keep)
            fprintf(stderr, "stateline bench: kept %s\n", b->dir);
        else
            nftw(b->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (b->sfd >= 0) {
        /* Take the pending SIGINT/SIGTERM out, or unblocking would deliver it now. */
        struct signalfd_siginfo si;
        while (read(b->sfd, &si, sizeof si) == (ssize_t)sizeof si)
            ;
        close(b->sfd);
    }
    sigprocmask(SIG_SETMASK, &b->oldmask, NULL);
    json_decref(report);
    free(b);
    return rc;
}
