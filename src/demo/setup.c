/*
 * setup.c - the demo's folder: certificates, directory (with the demo's tags), policies,
 * populations (two at a time, one per core), audit keys, and the configuration files of
 * the hub and the gateways (layout in stateline/demo.h).  Everything that exists and is
 * usable is kept; each step says whether it made or reused its files.
 *
 * Formats written here:
 *   hub.conf / XX/gateway.conf   INI as in examples/hub.conf and examples/gateway.conf
 *   XX/audit.key, XX/audit.pub   one line each: the note signer and verifier keys of
 *                                `stateline audit keygen` (docs/audit-format.md §5)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "demo/demo_int.h"
#include "stateline/audit.h"
#include "stateline/certs.h"
#include "stateline/core.h"
#include "stateline/dir.h"
#include "stateline/population.h"
#include "stateline/store.h"

int demo_fmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int mkdir_p(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    demo_fmt(err, errlen, "cannot create %s: %s", path, strerror(errno));
    return -1;
}

static int copy_file(const char *from, const char *to, char *err, size_t errlen)
{
    FILE *in = fopen(from, "rb");
    if (!in) {
        demo_fmt(err, errlen, "cannot read %s: %s", from, strerror(errno));
        return -1;
    }
    char tmp[DEMO_PATH + 8];
    demo_fmt(tmp, sizeof tmp, "%s.tmp", to);
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        demo_fmt(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        fclose(in);
        return -1;
    }
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    int bad = ferror(in) || ferror(out);
    fclose(in);
    if (fclose(out) != 0 || bad || rename(tmp, to) != 0) {
        demo_fmt(err, errlen, "cannot write %s", to);
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- the folder where the example policies are ---- */

int demo_find_policies(const char *given, const char *self, char *out, size_t outlen)
{
    char cand[4][DEMO_PATH];
    int n = 0;
    if (given) {
        demo_fmt(out, outlen, "%s", given);
        return 0;
    }
    const char *env = getenv("STATELINE_POLICIES");
    if (env && *env)
        demo_fmt(cand[n++], DEMO_PATH, "%s", env);
    char dir[DEMO_PATH];
    demo_fmt(dir, sizeof dir, "%s", self);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        /* a build tree inside the source tree (build/stateline) */
        demo_fmt(cand[n++], DEMO_PATH, "%s/../examples/policies", dir);
        /* an installed binary (PREFIX/bin/stateline) */
        demo_fmt(cand[n++], DEMO_PATH, "%s/../share/stateline/policies", dir);
    }
    demo_fmt(cand[n++], DEMO_PATH, "examples/policies");
    for (int i = 0; i < n; i++) {
        char p[DEMO_PATH + 16];
        demo_fmt(p, sizeof p, "%s/wa.policy", cand[i]);
        if (exists(p)) {
            demo_fmt(out, outlen, "%s", cand[i]);
            return 0;
        }
    }
    return -1;
}

/* ---- the directory and its demo tags ---- */

/* A deterministic coin for ORI o and purpose salt: share in [0, 1]. */
static int coin(uint64_t seed, const char *ori, const char *salt, double share)
{
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (const char *p = ori; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    for (const char *p = salt; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    uint64_t s = h;
    return (double)(sl_pop_splitmix64(&s) >> 11) / 9007199254740992.0 < share;
}

static void add_tag(struct sl_ori *o, const char *tag)
{
    size_t l = strlen(o->tags);
    if (l + strlen(tag) + 2 > sizeof o->tags)
        return;
    demo_fmt(o->tags + l, sizeof o->tags - l, "%s%s", l ? " " : "", tag);
}

struct tag_ctx {
    uint64_t seed;
    struct sl_ori *rows;
    size_t n, cap;
};

static int collect(void *arg, const struct sl_ori *o)
{
    struct tag_ctx *c = arg;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4096;
        c->rows = sl_xrealloc(c->rows, c->cap * sizeof *c->rows);
    }
    c->rows[c->n++] = *o;
    return 0;
}

/* The certifications the example policies ask about (docs/demo.md §2). */
static int tag_row(uint64_t seed, struct sl_ori *o)
{
    char before[sizeof o->tags];
    memcpy(before, o->tags, sizeof before);
    int police = !strcmp(o->type, "PD") || !strcmp(o->type, "SO") || !strcmp(o->type, "SA") ||
                 !strcmp(o->type, "LE");
    int fed = sl_demo_is_federal(o->member, o->type);
    int ice = demo_parent_under(o->parent, "DHS/ICE");
    int cbp = demo_parent_under(o->parent, "DHS/CBP");
    int immig = ice || strstr(o->tags, "immigration-enforcement") != NULL;
    /* New York: in-state police that signed the DCJS certification (most have). */
    if (!strcmp(o->member, "NY") && police && coin(seed, o->ori, "ny-dcjs", 0.9))
        add_tag(o, "ny-dcjs-certified");
    /* Illinois: agencies outside Illinois that certified non-use for civil immigration. */
    if (strcmp(o->member, "IL") != 0 && !immig && !cbp && (police || fed) &&
        coin(seed, o->ori, "il-sos", 0.75))
        add_tag(o, "il-sos-certified");
    /* California: federal agencies that signed the CLETS non-use agreement. */
    if (fed && !ice && coin(seed, o->ori, "ca-clets", cbp ? 0.5 : 0.9))
        add_tag(o, "ca-non-use-agreement");
    /* CBP offices doing Trusted Traveler vetting or vehicle export (New York's exceptions). */
    if (cbp && !strcmp(o->parent, "DHS/CBP/OFO")) {
        if (coin(seed, o->ori, "ttp", 0.3))
            add_tag(o, "trusted-traveler-vetting");
        if (coin(seed, o->ori, "export", 0.3))
            add_tag(o, "vehicle-export");
    }
    return strcmp(before, o->tags) != 0;
}

int demo_make_directory(const char *dir, uint64_t seed, FILE *say, char *err, size_t errlen)
{
    char path[DEMO_PATH], tmp[DEMO_PATH + 8];
    demo_fmt(path, sizeof path, "%s/directory.db", dir);
    if (exists(path)) {
        struct sl_dir *d = NULL;
        if (sl_dir_open(path, 0, &d, err, errlen) == 0) {
            int64_t n = sl_dir_count(d);
            sl_dir_close(d);
            if (n > 0) {
                fprintf(say, "directory: reusing %s (%lld ORIs)\n", path, (long long)n);
                return 0;
            }
        }
    }
    demo_fmt(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    fprintf(say, "directory: generating the national directory (18,000 ORIs, seed %llu)...\n",
            (unsigned long long)seed);
    struct sl_dir *d = NULL;
    if (sl_dir_open(tmp, 1, &d, err, errlen) != 0)
        return -1;
    if (sl_dir_generate_ex(d, seed, 18000, NULL, err, errlen) != 0) {
        sl_dir_close(d);
        return -1;
    }
    struct tag_ctx c = {seed, NULL, 0, 0};
    int rc = sl_dir_foreach(d, NULL, collect, &c) < 0 ? -1 : 0;
    size_t tagged = 0;
    if (rc == 0 && sl_dir_begin(d) == 0) {
        for (size_t i = 0; i < c.n && rc == 0; i++) {
            if (!tag_row(seed, &c.rows[i]))
                continue;
            tagged++;
            rc = sl_dir_put(d, NULL, &c.rows[i], err, errlen);
        }
        if (rc == 0)
            rc = sl_dir_commit(d);
        else
            sl_dir_rollback(d);
    }
    free(c.rows);
    sl_dir_close(d);
    if (rc != 0 || rename(tmp, path) != 0) {
        if (!err[0])
            demo_fmt(err, errlen, "cannot write %s", path);
        return -1;
    }
    fprintf(say, "directory: %zu ORIs, %zu given the demo's certification tags -> %s\n", c.n,
            tagged, path);
    return 0;
}

/* ---- populations, two at a time ---- */

struct popjob {
    int state;
    pid_t pid;
    int fd;           /* the child's stderr */
    char line[256];
    size_t used;
    int pct;
    int indexing;     /* rows written, indexes being built */
    int done, failed;
    char last[256];
};

static void pop_child(const char *path, const char *state, uint64_t drivers, uint64_t seed)
{
    /* The demo's gateways do not answer RPQ: no partial-plate index to build. */
    struct sl_pop_opts po = {.state = state, .drivers = drivers, .seed = seed,
                             .as_of = sl_pop_date_today(), .progress = 1,
                             .no_plate_index = 1};
    struct sl_pop_stats st;
    char err[512] = "";
    if (sl_pop_write(&po, path, 1, &st, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        _exit(1);
    }
    _exit(0);
}

static void pop_read(struct popjob *j)
{
    char buf[512];
    ssize_t r = read(j->fd, buf, sizeof buf);
    if (r <= 0) {
        close(j->fd);
        j->fd = -1;
        return;
    }
    for (ssize_t i = 0; i < r; i++) {
        char ch = buf[i];
        if (ch == '\n' || ch == '\r') {
            j->line[j->used] = 0;
            if (j->used) {
                demo_fmt(j->last, sizeof j->last, "%s", j->line);
                const char *p = strchr(j->line, '(');
                if (strstr(j->line, "building indexes"))
                    j->indexing = 1;
                else if (p)
                    j->pct = atoi(p + 1);
            }
            j->used = 0;
        } else if (j->used < sizeof j->line - 1) {
            j->line[j->used++] = ch;
        }
    }
}

static int populations(struct demo *dm, char *err, size_t errlen)
{
    const struct sl_demo_state *S = sl_demo_states();
    struct popjob jobs[SL_DEMO_NSTATES];
    int todo[SL_DEMO_NSTATES], ntodo = 0;
    for (int i = 0; i < SL_DEMO_NSTATES; i++) {
        char path[DEMO_PATH];
        demo_fmt(path, sizeof path, "%s/%s/records.db", dm->dir, S[i].code);
        if (exists(path)) {
            char e2[256];
            struct sl_store *st = sl_store_open(path, 1, e2, sizeof e2);
            int64_t n = st ? sl_store_count_drivers(st) : -1;
            if (st)
                sl_store_close(st);
            if (n == (int64_t)dm->o->drivers) {
                fprintf(dm->say, "population %s: reusing %s (%lld drivers)\n", S[i].code, path,
                        (long long)n);
                continue;
            }
            if (n > 0)
                fprintf(dm->say, "population %s: %s has %lld drivers, %llu asked: generating "
                        "it again\n", S[i].code, path, (long long)n,
                        (unsigned long long)dm->o->drivers);
        }
        todo[ntodo++] = i;
    }
    if (ntodo == 0)
        return 0;
    fprintf(dm->say, "populations: generating %d state(s), %llu drivers each, two at a "
            "time...\n", ntodo, (unsigned long long)dm->o->drivers);
    int next = 0, running = 0, failed = 0;
    memset(jobs, 0, sizeof jobs);
    int64_t t0 = sl_now_ms(), last_print = 0;
    int tty = isatty(fileno(dm->say));
    while ((next < ntodo || running > 0)) {
        while (running < 2 && next < ntodo && !failed) {
            struct popjob *j = &jobs[next];
            j->state = todo[next++];
            int pfd[2];
            if (pipe2(pfd, O_CLOEXEC) != 0) {
                demo_fmt(err, errlen, "pipe: %s", strerror(errno));
                return -1;
            }
            char path[DEMO_PATH];
            demo_fmt(path, sizeof path, "%s/%s/records.db", dm->dir, S[j->state].code);
            fflush(NULL);
            pid_t pid = fork();
            if (pid < 0) {
                demo_fmt(err, errlen, "fork: %s", strerror(errno));
                return -1;
            }
            if (pid == 0) {
                prctl_pdeathsig();
                sigprocmask(SIG_SETMASK, &dm->oldmask, NULL);
                dup2(pfd[1], 2);
                pop_child(path, S[j->state].code, dm->o->drivers, dm->o->seed);
            }
            close(pfd[1]);
            j->pid = pid;
            j->fd = pfd[0];
            running++;
        }
        struct pollfd p[SL_DEMO_NSTATES + 1];
        int map[SL_DEMO_NSTATES + 1], np = 0;
        p[np] = (struct pollfd){dm->sfd, POLLIN, 0};
        map[np++] = -1;
        for (int k = 0; k < next; k++)
            if (jobs[k].fd >= 0 && jobs[k].pid > 0) {
                p[np] = (struct pollfd){jobs[k].fd, POLLIN, 0};
                map[np++] = k;
            }
        poll(p, (nfds_t)np, 500);
        if (p[0].revents) {
            for (int k = 0; k < next; k++)
                if (jobs[k].pid > 0) {
                    kill(jobs[k].pid, SIGTERM);
                    waitpid(jobs[k].pid, NULL, 0);
                }
            demo_fmt(err, errlen, "interrupted");
            dm->interrupted = 1;
            return -1;
        }
        for (int i = 1; i < np; i++)
            if (p[i].revents)
                pop_read(&jobs[map[i]]);
        for (int k = 0; k < next; k++) {
            struct popjob *j = &jobs[k];
            if (j->pid <= 0 || j->fd >= 0)
                continue;
            int status = 0;
            waitpid(j->pid, &status, 0);
            j->pid = 0;
            running--;
            j->done = 1;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                j->failed = failed = 1;
                demo_fmt(err, errlen, "population %s failed: %s", S[j->state].code, j->last);
            } else {
                j->pct = 100;
            }
        }
        int64_t now = sl_now_ms();
        if (now - last_print >= (tty ? 250 : 2000) || (next == ntodo && running == 0)) {
            last_print = now;
            char line[256];
            size_t l = 0;
            l += (size_t)demo_fmt(line + l, sizeof line - l, "populations %5.1f s:",
                                  (double)(now - t0) / 1000.0);
            for (int k = 0; k < ntodo && l < sizeof line; k++) {
                char pct[16];
                demo_fmt(pct, sizeof pct, "%d%%", jobs[k].pct);
                l += (size_t)demo_fmt(line + l, sizeof line - l, " %s %s", S[todo[k]].code,
                                      k >= next         ? "waiting"
                                      : jobs[k].failed ? "FAILED"
                                      : jobs[k].done   ? "done"
                                      : jobs[k].indexing ? "indexing"
                                                       : pct);
            }
            if (tty)
                fprintf(dm->say, "\r%s", line);
            else
                fprintf(dm->say, "%s\n", line);
            fflush(dm->say);
        }
    }
    if (tty)
        fputc('\n', dm->say);
    return failed ? -1 : 0;
}

/* ---- keys and configuration files ---- */

int demo_audit_keypair(const char *kpath, const char *ppath, const char *origin, char *err,
                       size_t errlen)
{
    if (exists(kpath) && exists(ppath))
        return 1;
    char name[64], sk[512], vk[512];
    demo_fmt(name, sizeof name, "%s", origin);
    for (char *p = name; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (sl_audit_keygen(name, sk, sizeof sk, vk, sizeof vk, err, errlen) != 0)
        return -1;
    int fd = open(kpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    FILE *g = fopen(ppath, "w");
    if (!f || !g) {
        demo_fmt(err, errlen, "cannot write %s", kpath);
        if (f)
            fclose(f);
        else if (fd >= 0)
            close(fd);
        if (g)
            fclose(g);
        return -1;
    }
    fprintf(f, "%s\n", sk);
    fprintf(g, "%s\n", vk);
    fclose(f);
    fclose(g);
    return 0;
}

/* i < 0: the hub's key, DIR/hub-audit.key and .pub (origin stateline-demo/hub) */
static int audit_keys(struct demo *dm, int i, char *err, size_t errlen)
{
    const char *code = i < 0 ? "hub" : sl_demo_states()[i].code;
    char kpath[DEMO_PATH], ppath[DEMO_PATH], origin[64];
    if (i < 0) {
        demo_fmt(kpath, sizeof kpath, "%s/hub-audit.key", dm->dir);
        demo_fmt(ppath, sizeof ppath, "%s/hub-audit.pub", dm->dir);
    } else {
        demo_fmt(kpath, sizeof kpath, "%s/%s/audit.key", dm->dir, code);
        demo_fmt(ppath, sizeof ppath, "%s/%s/audit.pub", dm->dir, code);
    }
    demo_fmt(origin, sizeof origin, i < 0 ? "stateline-demo/%s" : "stateline-demo/%s-gateway",
             code);
    return demo_audit_keypair(kpath, ppath, origin, err, errlen);
}

int demo_write_hub_conf(const char *path, int port, int hub_audit, const char *by, char *err,
                        size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        demo_fmt(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "# written by %s\n"
            "[hub]\n"
            "listen = 127.0.0.1:%d\n"
            "tls = yes\n"
            "cert = certs/hub.crt\n"
            "key = certs/hub.key\n"
            "ca = certs/ca.crt\n"
            "directory = directory.db\n"
            "ctl = hub.sock\n"
            "%s",
            by, port,
            hub_audit ? "# the switch's own audit log: headers and routing decisions, no bodies\n"
                        "audit_dir = hub-audit\n"
                        "audit_key = hub-audit.key\n"
                      : "");
    return fclose(f) == 0 ? 0 : -1;
}

int demo_write_gateway_conf(const char *path, const char *code, int hub_port,
                            const char *policy, int desk, const char *by, char *err,
                            size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        demo_fmt(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "# written by %s; keys in\n"
            "# examples/gateway.conf and docs/gateway.md\n"
            "[gateway]\n"
            "state = %s\n"
            "ori = %sOLN0000\n"
            "hub = 127.0.0.1:%d\n"
            "tls = yes\n"
            "cert = ../certs/%s-answer.crt\n"
            "key = ../certs/%s-answer.key\n"
            "ca = ../certs/ca.crt\n"
            "records = records.db\n"
            "policy = %s\n"
            "outage = deny-external\n"
            "audit = audit\n"
            "audit_key = audit.key\n"
            "data = data\n"
            "answer = DQ DNQ KQ RQ RNQ\n"
            "layout = text\n",
            by, code, code, hub_port, code, code, policy);
    if (desk)
        fprintf(f,
                "# the oversight desk (docs/http-api.md): HTTPS on a port the kernel picks\n"
                "http_listen = 127.0.0.1:0\n"
                "http_cert = ../certs/%s-desk.crt\n"
                "http_key = ../certs/%s-desk.key\n",
                code, code);
    return fclose(f) == 0 ? 0 : -1;
}

int demo_write_configs(struct demo *dm, char *err, size_t errlen)
{
    char path[DEMO_PATH];
    demo_fmt(path, sizeof path, "%s/hub.conf", dm->dir);
    if (demo_write_hub_conf(path, dm->hub_port, 1, "stateline demo (rewritten at each start)",
                            err, errlen) != 0)
        return -1;
    for (int i = 0; i < SL_DEMO_NSTATES; i++) {
        const struct sl_demo_state *s = &sl_demo_states()[i];
        char lower[3] = {(char)(s->code[0] - 'A' + 'a'), (char)(s->code[1] - 'A' + 'a'), 0};
        char pol[64];
        demo_fmt(path, sizeof path, "%s/%s/gateway.conf", dm->dir, s->code);
        demo_fmt(pol, sizeof pol, "../policies/%s.policy", lower);
        if (demo_write_gateway_conf(path, s->code, dm->hub_port, pol, 1,
                                    "stateline demo (rewritten at each start)", err,
                                    errlen) != 0)
            return -1;
    }
    return 0;
}

int demo_setup(struct demo *dm, char *err, size_t errlen)
{
    if (mkdir_p(dm->dir, err, errlen) != 0)
        return -1;
    /* certificates for every member line */
    char certs[DEMO_PATH], p[DEMO_PATH + 32];
    demo_fmt(certs, sizeof certs, "%s/certs", dm->dir);
    demo_fmt(p, sizeof p, "%s/ca.crt", certs);
    int had = exists(p);
    size_t nm = 0;
    const char *const *members = sl_certs_all_members(&nm);
    struct sl_certs_opts co = {certs, members, nm, NULL, 365, 0};
    if (sl_certs_generate(&co, NULL, err, errlen) != 0)
        return -1;
    fprintf(dm->say, "certificates: %s %s (CA, hub, and an answering line, a terminal line and "
            "a desk (HTTPS) certificate for each of %zu members)\n",
            had ? "checked and reused" : "made in", certs, nm);

    if (demo_make_directory(dm->dir, dm->o->seed, dm->say, err, errlen) != 0)
        return -1;

    /* policies */
    char pol[DEMO_PATH];
    demo_fmt(pol, sizeof pol, "%s/policies", dm->dir);
    if (mkdir_p(pol, err, errlen) != 0)
        return -1;
    int copied = 0;
    for (int i = 0; i < SL_DEMO_NSTATES; i++) {
        const char *c = sl_demo_states()[i].code;
        char lower[3] = {(char)(c[0] - 'A' + 'a'), (char)(c[1] - 'A' + 'a'), 0};
        char to[DEMO_PATH + 16], from[DEMO_PATH + 16];
        demo_fmt(to, sizeof to, "%s/%s.policy", pol, lower);
        if (exists(to))
            continue;
        if (!dm->policies_src[0]) {
            demo_fmt(err, errlen, "cannot find the example policies (examples/policies/wa.policy "
                     "near the binary); say where with --policies DIR");
            return -1;
        }
        demo_fmt(from, sizeof from, "%s/%s.policy", dm->policies_src, lower);
        if (copy_file(from, to, err, errlen) != 0)
            return -1;
        copied++;
    }
    fprintf(dm->say, "policies: %s %s/{wa,ny,il,ca,az,tx}.policy (edit one while the network "
            "runs: it is in force within a second)\n", copied ? "copied to" : "reusing", pol);

    /* per state folders and audit keys */
    int made = 0;
    for (int i = 0; i < SL_DEMO_NSTATES; i++) {
        demo_fmt(p, sizeof p, "%s/%s", dm->dir, sl_demo_states()[i].code);
        if (mkdir_p(p, err, errlen) != 0)
            return -1;
        int r = audit_keys(dm, i, err, errlen);
        if (r < 0)
            return -1;
        made += r == 0;
    }
    int r = audit_keys(dm, -1, err, errlen);
    if (r < 0)
        return -1;
    made += r == 0;
    fprintf(dm->say, "audit keys: %s (XX/audit.key signs, XX/audit.pub verifies; the hub's: "
            "hub-audit.key, hub-audit.pub)\n", made ? "made" : "reusing");
    return populations(dm, err, errlen);
}
