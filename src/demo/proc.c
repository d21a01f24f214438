/*
 * proc.c - the demo's child processes: the hub and six gateways, each the same binary
 * (`stateline hub --config DIR/hub.conf`, `stateline gateway --config DIR/XX/gateway.conf`)
 * in its own session (so a Ctrl-C reaches only the demo, which stops them in order:
 * gateways first so their replies leave, then the hub), stderr into DIR/hub.log and
 * DIR/XX/gateway.log.
 *
 * DIR/demo.pids lists the running children, one "NAME PID" line each ("hub 1234",
 * "gateway-WA 1240"), so that `stateline demo stop` can end a network left by --stay and a
 * second demo in the same folder refuses to start beside a running one.  A pid is only
 * trusted when /proc/PID/cmdline still names this folder's configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <jansson.h>

#include "demo/demo_int.h"
#include "stateline/buf.h"
#include "stateline/core.h"
#include "stateline/hub.h"

void prctl_pdeathsig(void) { prctl(PR_SET_PDEATHSIG, SIGTERM); }

/* Does /proc/pid/cmdline contain needle (in one of its arguments)? */
static int cmdline_has(pid_t pid, const char *needle)
{
    char path[64], buf[4096];
    demo_fmt(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
        if (strstr(buf + i, needle))
            return 1;
    return 0;
}

/* Read DIR/demo.pids: calls fn for each listed pid that still runs this folder's
 * configuration.  Returns how many. */
static int each_live_pid(const char *dir, void (*fn)(const char *name, pid_t pid, void *),
                         void *arg)
{
    char path[DEMO_PATH + 16];
    demo_fmt(path, sizeof path, "%s/demo.pids", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char name[32];
    int pid, n = 0;
    while (fscanf(f, "%31s %d", name, &pid) == 2) {
        if (pid <= 1 || kill(pid, 0) != 0 || !cmdline_has(pid, dir))
            continue;
        n++;
        if (fn)
            fn(name, pid, arg);
    }
    fclose(f);
    return n;
}

int demo_check_not_running(struct demo *dm, char *err, size_t errlen)
{
    if (each_live_pid(dm->dir, NULL, NULL) > 0) {
        demo_fmt(err, errlen, "a demo network is already running from %s (see %s/demo.pids); "
                 "stop it first: stateline demo stop --dir %s", dm->dir, dm->dir, dm->dir);
        return -1;
    }
    char path[DEMO_PATH + 16];
    demo_fmt(path, sizeof path, "%s/demo.pids", dm->dir);
    unlink(path); /* stale */
    return 0;
}

int demo_write_pids(struct demo *dm)
{
    char path[DEMO_PATH + 16], tmp[DEMO_PATH + 24];
    demo_fmt(path, sizeof path, "%s/demo.pids", dm->dir);
    demo_fmt(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    if (dm->hub.pid > 0)
        fprintf(f, "hub %d\n", (int)dm->hub.pid);
    for (int i = 0; i < SL_DEMO_NSTATES; i++)
        if (dm->gw[i].pid > 0)
            fprintf(f, "gateway-%s %d\n", sl_demo_states()[i].code, (int)dm->gw[i].pid);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

static int spawn(struct demo *dm, struct demo_child *c, char *const argv[])
{
    int logfd = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(logfd);
        return -1;
    }
    if (pid == 0) {
        /* Its own session: a terminal's Ctrl-C goes to the demo, which stops the network
         * in order.  Without --stay the network also dies with the demo. */
        setsid();
        if (!dm->o->stay)
            prctl_pdeathsig();
        sigprocmask(SIG_SETMASK, &dm->oldmask, NULL);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
        }
        dup2(logfd, 2);
        if (chdir(dm->dir) != 0)
            _exit(127);
        execv(dm->self, argv);
        _exit(127);
    }
    close(logfd);
    c->pid = pid;
    return 0;
}

static int alive(struct demo_child *c)
{
    if (c->pid <= 0)
        return 0;
    pid_t r = waitpid(c->pid, NULL, WNOHANG);
    if (r == c->pid || (r < 0 && errno == ECHILD && kill(c->pid, 0) != 0)) {
        c->pid = 0;
        return 0;
    }
    return 1;
}

void demo_print_log_tail(FILE *f, const struct demo_child *c)
{
    FILE *in = fopen(c->log, "r");
    if (!in)
        return;
    char line[512];
    char ring[12][512];
    int n = 0;
    while (fgets(line, sizeof line, in))
        demo_fmt(ring[n++ % 12], sizeof ring[0], "%s", line);
    fclose(in);
    fprintf(f, "--- last lines of %s (%s):\n", c->log, c->name);
    for (int i = n > 12 ? n - 12 : 0; i < n; i++)
        fputs(ring[i % 12], f);
}

/* The hub's log line "listening on 127.0.0.1:PORT": the port it bound (listen = ...:0). */
static int hub_port_from_log(const char *log, long start)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return -1;
    fseek(f, start, SEEK_SET);
    char line[512];
    int port = -1;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "listening on 127.0.0.1:");
        if (p)
            port = atoi(p + strlen("listening on 127.0.0.1:"));
    }
    fclose(f);
    return port;
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* Sleep up to ms, returning 1 at once if SIGINT/SIGTERM came. */
static int nap(struct demo *dm, int ms)
{
    struct pollfd p = {dm->sfd, POLLIN, 0};
    if (poll(&p, 1, ms) > 0) {
        dm->interrupted = 1;
        return 1;
    }
    return 0;
}

/* How many answering lines of the demo states the hub has open. */
static int answer_lines(struct demo *dm)
{
    char sock[DEMO_PATH + 16], err[256];
    demo_fmt(sock, sizeof sock, "%s/hub.sock", dm->dir);
    struct sl_buf out;
    sl_buf_init(&out);
    int n = -1;
    if (sl_hub_ctl_request(sock, "lines", &out, 2000, err, sizeof err) == 0 &&
        sl_buf_used(&out) > 0) {
        json_t *j = json_loadb((const char *)sl_buf_head(&out), sl_buf_used(&out), 0, NULL);
        json_t *lines = j ? json_object_get(j, "lines") : NULL;
        size_t i;
        json_t *l;
        n = 0;
        json_array_foreach(lines, i, l) {
            const char *m = json_string_value(json_object_get(l, "member"));
            const char *r = json_string_value(json_object_get(l, "role"));
            if (m && r && strcmp(r, "answer") == 0 && sl_demo_state_index(m) >= 0)
                n++;
        }
        json_decref(j);
    }
    sl_buf_free(&out);
    return n;
}

int demo_start(struct demo *dm, char *err, size_t errlen)
{
    /* the hub, on a port the kernel picks */
    dm->hub_port = 0;
    if (demo_write_configs(dm, err, errlen) != 0)
        return -1;
    demo_fmt(dm->hub.name, sizeof dm->hub.name, "hub");
    demo_fmt(dm->hub.log, sizeof dm->hub.log, "%s/hub.log", dm->dir);
    long start = file_size(dm->hub.log);
    char conf[DEMO_PATH + 16];
    demo_fmt(conf, sizeof conf, "%s/hub.conf", dm->dir);
    char *hargv[] = {"stateline", "hub", "--config", conf, NULL};
    if (spawn(dm, &dm->hub, hargv) != 0) {
        demo_fmt(err, errlen, "cannot start the hub: %s", strerror(errno));
        return -1;
    }
    demo_write_pids(dm);
    for (int waited = 0; dm->hub_port <= 0; waited += 50) {
        int p = hub_port_from_log(dm->hub.log, start);
        if (p > 0) {
            dm->hub_port = p;
            break;
        }
        if (!alive(&dm->hub) || waited > 15000) {
            demo_fmt(err, errlen, "the hub did not start (see %s)", dm->hub.log);
            demo_print_log_tail(stderr, &dm->hub);
            return -1;
        }
        if (nap(dm, 50)) {
            demo_fmt(err, errlen, "interrupted");
            return -1;
        }
    }
    fprintf(dm->say, "hub: pid %d, mutual TLS on 127.0.0.1:%d (log %s)\n", (int)dm->hub.pid,
            dm->hub_port, dm->hub.log);
    /* the gateways need the port in their configuration */
    if (demo_write_configs(dm, err, errlen) != 0)
        return -1;
    for (int i = 0; i < SL_DEMO_NSTATES; i++) {
        const char *code = sl_demo_states()[i].code;
        struct demo_child *c = &dm->gw[i];
        demo_fmt(c->name, sizeof c->name, "gateway %s", code);
        demo_fmt(c->log, sizeof c->log, "%s/%s/gateway.log", dm->dir, code);
        char gconf[DEMO_PATH + 32];
        demo_fmt(gconf, sizeof gconf, "%s/%s/gateway.conf", dm->dir, code);
        char *gargv[] = {"stateline", "gateway", "--config", gconf, NULL};
        if (spawn(dm, c, gargv) != 0) {
            demo_fmt(err, errlen, "cannot start the %s gateway: %s", code, strerror(errno));
            return -1;
        }
    }
    demo_write_pids(dm);
    /* ready when the hub has all six answering lines */
    int64_t until = sl_now_ms() + 30000;
    int n = 0;
    while ((n = answer_lines(dm)) < SL_DEMO_NSTATES) {
        for (int i = 0; i < SL_DEMO_NSTATES; i++)
            if (!alive(&dm->gw[i])) {
                demo_fmt(err, errlen, "the %s stopped as it started (see %s)", dm->gw[i].name,
                         dm->gw[i].log);
                demo_print_log_tail(stderr, &dm->gw[i]);
                return -1;
            }
        if (!alive(&dm->hub)) {
            demo_fmt(err, errlen, "the hub stopped (see %s)", dm->hub.log);
            demo_print_log_tail(stderr, &dm->hub);
            return -1;
        }
        if (sl_now_ms() > until) {
            demo_fmt(err, errlen, "only %d of the %d gateways connected to the hub within 30 s "
                     "(see XX/gateway.log)", n < 0 ? 0 : n, SL_DEMO_NSTATES);
            return -1;
        }
        if (nap(dm, 100)) {
            demo_fmt(err, errlen, "interrupted");
            return -1;
        }
    }
    fprintf(dm->say, "gateways: WA NY IL CA AZ TX connected (pids");
    for (int i = 0; i < SL_DEMO_NSTATES; i++)
        fprintf(dm->say, " %d", (int)dm->gw[i].pid);
    fprintf(dm->say, "; logs in XX/gateway.log)\n");
    return 0;
}

/* SIGTERM, wait up to 10 s, then SIGKILL; reaps. */
static void stop_child(struct demo_child *c)
{
    if (c->pid <= 0)
        return;
    kill(c->pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (!alive(c))
            return;
        usleep(10000);
    }
    SL_WARN("demo", "%s (pid %d) did not stop within 10 s: killed", c->name, (int)c->pid);
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    c->pid = 0;
}

void demo_stop_all(struct demo *dm)
{
    int had = dm->hub.pid > 0;
    for (int i = 0; i < SL_DEMO_NSTATES; i++)
        had |= dm->gw[i].pid > 0;
    if (!had)
        return;
    /* gateways first, together (each sends the replies in hand), then the hub */
    for (int i = 0; i < SL_DEMO_NSTATES; i++)
        if (dm->gw[i].pid > 0)
            kill(dm->gw[i].pid, SIGTERM);
    for (int i = 0; i < SL_DEMO_NSTATES; i++)
        stop_child(&dm->gw[i]);
    stop_child(&dm->hub);
    char path[DEMO_PATH + 16];
    demo_fmt(path, sizeof path, "%s/demo.pids", dm->dir);
    unlink(path);
}

/* ---- `stateline demo stop` ---- */

struct stop_ctx {
    pid_t pids[16];
    char names[16][32];
    int n;
};

static void note_pid(const char *name, pid_t pid, void *arg)
{
    struct stop_ctx *s = arg;
    if (s->n < 16) {
        s->pids[s->n] = pid;
        demo_fmt(s->names[s->n], sizeof s->names[0], "%s", name);
        s->n++;
    }
}

int sl_demo_stop(const char *dir_arg)
{
    char dir[DEMO_PATH];
    if (!realpath(dir_arg, dir)) {
        fprintf(stderr, "stateline demo stop: %s: %s\n", dir_arg, strerror(errno));
        return 1;
    }
    struct stop_ctx s = {.n = 0};
    each_live_pid(dir, note_pid, &s);
    if (s.n == 0) {
        printf("no demo network is running from %s\n", dir);
        char path[DEMO_PATH + 16];
        demo_fmt(path, sizeof path, "%s/demo.pids", dir);
        unlink(path);
        return 0;
    }
    /* gateways first, then the hub */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < s.n; i++)
            if ((strcmp(s.names[i], "hub") == 0) == (pass == 1))
                kill(s.pids[i], SIGTERM);
        for (int i = 0; i < s.n; i++) {
            if ((strcmp(s.names[i], "hub") == 0) != (pass == 1))
                continue;
            int t = 0;
            while (kill(s.pids[i], 0) == 0 && cmdline_has(s.pids[i], dir) && t < 1000) {
                usleep(10000);
                t++;
            }
            if (t >= 1000) {
                kill(s.pids[i], SIGKILL);
                fprintf(stderr, "%s (pid %d) did not stop within 10 s: killed\n", s.names[i],
                        (int)s.pids[i]);
            }
            printf("stopped %s (pid %d)\n", s.names[i], (int)s.pids[i]);
        }
    }
    char path[DEMO_PATH + 16];
    demo_fmt(path, sizeof path, "%s/demo.pids", dir);
    unlink(path);
    return 0;
}
