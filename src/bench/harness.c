/*
 * harness.c - what the scenarios of `stateline bench` share: their child processes, the
 * temporary directory, the JSON and text of a run, the machine, and the sustained-rate
 * search (see stateline/bench.h for what is measured, docs/performance.md for figures).
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
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <openssl/crypto.h>

#include "bench/bench_int.h"
#include "stateline/core.h"


/* Reap c if it has exited (or wait for it: flags 0); keeps its CPU time. */
static int reap(struct bench_child *c, int flags)
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

int bench_spawn(const sigset_t *oldmask, struct bench_child *c, const char *prog, char *const argv[],
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
        sigprocmask(SIG_SETMASK, oldmask, NULL);
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
void bench_stop(struct bench_child *c)
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
int bench_ended_badly(const struct bench_child *c)
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

void bench_print_log_tail(const struct bench_child *c)
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
int bench_alive(struct bench_child *c)
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
int bench_free_port(void)
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

int bench_wait_ready(int sfd, int rfd, struct bench_child *server, struct bench_child *c,
                      char *line, size_t cap, char *err, size_t errlen)
{
    size_t got = 0;
    line[0] = '\0';
    int64_t until = sl_now_ms() + 15000;
    while (got < cap - 1 && !memchr(line, '\n', got)) {
        struct pollfd p[2] = {{rfd, POLLIN, 0}, {sfd, POLLIN, 0}};
        int64_t left = until - sl_now_ms();
        if (!bench_alive(server)) {
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

int bench_passes(const struct sl_bench_run *r, double bound_us)
{
    return !r->overload && r->errors == 0 && r->lost == 0 && r->achieved >= 0.99 * r->rate &&
           (double)sl_hist_percentile(&r->hist, 99) <= bound_us;
}


json_t *bench_lat_json(const struct sl_hist *h)
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

json_t *bench_run_json(const struct sl_bench_run *r)
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
    json_object_set_new(o, "latency_us", bench_lat_json(&r->hist));
    if (r->first_error[0])
        json_object_set_new(o, "first_error", json_string(r->first_error));
    return o;
}

const double bench_pct[] = {50, 90, 99, 99.9};
const char *const bench_pct_name[] = {"p50", "p90", "p99", "p99.9"};

void bench_print_lat_row(const char *label, const struct sl_hist *h)
{
    printf("  %-18s", label);
    for (int i = 0; i < 4; i++)
        printf(" %9.3f", (double)sl_hist_percentile(h, bench_pct[i]) / 1000.0);
    printf(" %9.3f\n", (double)h->max / 1000.0);
}

void bench_print_added_row(const char *label, const struct sl_hist *hub,
                            const struct sl_hist *dir)
{
    int negative = 0;
    printf("  %-18s", label);
    for (int i = 0; i < 4; i++) {
        double d = ((double)sl_hist_percentile(hub, bench_pct[i]) -
                    (double)sl_hist_percentile(dir, bench_pct[i])) / 1000.0;
        negative |= d < 0;
        printf(" %9.3f", d);
    }
    printf(" %9s\n", "-");
    /* A difference of two percentiles is not a percentile of differences: when the
     * direct slices met a worse stall than the others, it goes below zero. */
    if (negative)
        printf("  %-18s below zero: the direct run's tail was the longer one there (the "
               "machine's stalls, not a gain)\n", "");
}

void bench_print_counts(const char *label, const struct sl_bench_run *r)
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

void bench_read_ticks(struct bench_ticks *t)
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

double bench_rusage_s(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* What the figures were measured on: CPU model and count, kernel, OpenSSL, and the load
 * average when the run started. */
json_t *bench_machine_json(void)
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



/* Add run r to the total acc (first: acc is still empty). */
void bench_add_run(struct sl_bench_run *acc, const struct sl_bench_run *r, int first)
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

double bench_reserve_ms(const struct sl_bench_opts *o, int e2e)
{
    /* switch: the hub, the direct baseline and the peer; e2e: at the capacity and, unless
     * --no-sustained, at half of it.  Each its duration plus the drain and a reconnection,
     * and a margin for the report. */
    if (e2e)
        return (o->at_sustained ? 2 : 1) * (o->duration_s + 2.5) * 1000 + 2000;
    return 3 * (o->duration_s + 2.5) * 1000 + 3000;
}

double bench_trial_ms(const struct sl_bench_opts *o) { return (o->step_s + 2.5) * 1000; }

double sl_bench_min_max_seconds(const struct sl_bench_opts *o, int e2e)
{
    /* bench_search starts a trial only while one more fits before its `until`: the switch's
     * search has the whole budget, or half of it with the peer's search after it; e2e's
     * latency-bound search has BENCH_E2E_LAT_SHARE of it and the capacity search what is
     * left, so both get a trial when the budget holds 1 / BENCH_E2E_LAT_SHARE trials. */
    double trials = e2e ? 1 / BENCH_E2E_LAT_SHARE : o->peer_search ? 2 : 1;
    return (bench_reserve_ms(o, e2e) + trials * bench_trial_ms(o)) / 1000;
}

/* Search the sustained rate on path until `until_ms` after
 * `start`.  Climb: double the rate until two trials in a row miss the bound, or one fails
 * hard (errors, loss, under 99% answered: the server is saturated).  Then bisect between
 * the highest passing rate and the lowest failing rate above it.  Latency on a shared VM
 * is noisy (an idle CPU wakes slowly), so one trial missing the bound at a low rate does
 * not end the climb, nor does a first trial that fell short without an error or a loss (it
 * is tried again once); every trial is reported.  *lo: the sustained rate (0 = none passed),
 * *hi: the lowest failing rate above it.  0, 1 interrupted, -1 failed. */
int bench_search(const struct sl_bench_opts *o, const struct bench_path *path, int64_t start,
                 double until_ms, json_t *trials, struct sl_bench_run *r, double *lo_out,
                 double *hi_out)
{
    double bound_us = o->p99_bound_ms * 1000.0;
    double lo = 0, hi = 0, rate = o->start_rate > 0 ? o->start_rate : 5000;
    int climbing = 1, misses = 0, ntrials = 0;
    char err[256];
    if (!o->json)
        printf("search (trials of %.1f s; pass = p99 <= %.2f ms, >= 99%% of the offered "
               "rate answered, no error or loss)\n"
               "  %10s %12s %9s %9s  %s\n", o->step_s, o->p99_bound_ms, "offered/s",
               "achieved/s", "p50 ms", "p99 ms", "result");
    for (;;) {
        double used = (double)(sl_now_ms() - start);
        if (used + bench_trial_ms(o) > until_ms)
            break;
        int k = path->run(path->arg, rate, o->step_s, -1, r);
        if (k != 0)
            return k;
        int ok = bench_passes(r, bound_us);
        int hard = r->overload || r->errors || r->lost || r->achieved < 0.99 * r->rate;
        json_t *t = bench_run_json(r);
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
        ntrials++;
        if (climbing && ntrials == 1 && hard && !r->errors && !r->lost) {
            /* The first trial fell short without an error or a loss: on a shared VM that is
             * as often a stall of the disk or the host as saturation, and ending the climb
             * on it would cap the whole search below the first rate (it happened: a 819 ms
             * stall made a build's capacity 4,844/s).  Try the same rate once more. */
            if (path->reconnect(path->arg, err, sizeof err) != 0) {
                fprintf(stderr, "stateline bench: reconnecting: %s\n", err);
                return -1;
            }
            if (!ok && rate == hi)
                hi = 0;
            continue;
        }
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
        if (hard && path->reconnect(path->arg, err, sizeof err) != 0) {
            fprintf(stderr, "stateline bench: reconnecting: %s\n", err);
            return -1;
        }
    }
    *lo_out = lo;
    *hi_out = hi;
    return 0;
}

/* Remove the directory tree at path (the benchmark's temporary directory). */
void bench_rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* User + system CPU seconds of a running process so far (/proc/PID/stat), -1 if gone. */
double bench_proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime (fields 3..15) */
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                     &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int bench_gen_trial(struct bench_gen *g, char *run_id, uint64_t *answered, double rate,
                    double secs, double warmup_s, int sfd, struct sl_bench_run *res)
{
    *run_id = (*run_id < 'A' || *run_id >= 'Z') ? 'A' : (char)(*run_id + 1);
    if (warmup_s < 0)
        warmup_s = secs * 0.1 > 0.5 ? 0.5 : secs * 0.1;
    int rc = bench_gen_run(g, *run_id, rate, secs, warmup_s, sfd, res);
    *answered += res->received;
    if (rc < 0) {
        fprintf(stderr, "stateline bench: %s\n", res->first_error);
        return -1;
    }
    return rc;
}

int bench_say_interrupted(void)
{
    fprintf(stderr, "stateline bench: interrupted; stopping what it started\n");
    return 130;
}

void bench_finish(const char *dir, int keep, int sfd, const sigset_t *oldmask)
{
    if (dir[0]) {
        if (keep)
            fprintf(stderr, "stateline bench: kept %s\n", dir);
        else
            bench_rm_tree(dir);
    }
    if (sfd >= 0) {
        /* Take the pending SIGINT/SIGTERM out, or unblocking would deliver it now. */
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
            ;
        close(sfd);
    }
    sigprocmask(SIG_SETMASK, oldmask, NULL);
}
