/*
 * traffic.c - the demo's agencies: queries drawn from the directory and the populations,
 * sent on the members' terminal lines at a bounded rate, each answer matched by its
 * control field and counted by (destination, requester class, outcome).
 *
 * Requesters: for each slot of the schedule (model.c) a real ORI of the generated
 * directory, active and with the D category: out-of-state police are PD/SO/SA of another
 * state (any of the 50 states, DC and the territories), in-state ones of the destination
 * state; federal classes by parent agency on their department's line (DH, DJ, TR, DI, DD).
 * Each query goes out on the requester's member's terminal line (certificate
 * certs/<MEMBER>-terminal.crt), as an agency's terminal would; the hub routes the reply
 * back to the line the ORI sent from.
 *
 * Queries (docs/demo.md §3): DQ by OLN 30%, DQ by NAM+DOB+SEX 15%, KQ 8%, RQ by plate 25%,
 * RQ by VIN 10%, DNQ 6%, RNQ 6%; values from a random driver or vehicle of the destination's
 * records, changed in one character for 12% of queries (a miss, as a typo makes one).
 * RSN/ on 85% of police and 60% of federal queries, PUR/C on 20%, CAS/ on 75% of federal
 * and 15% of police queries, LGP/ (a warrant) on 25% of federal queries.
 *
 * Control field: "Q" and nine digits, the query's number; an answer whose control field
 * names no query of this run is counted as unmatched.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "demo/demo_int.h"
#include "stateline/conn.h"
#include "stateline/core.h"
#include "stateline/dir.h"
#include "stateline/frame.h"
#include "stateline/msg.h"
#include "stateline/population.h"
#include "stateline/store.h"
#include "stateline/term.h"

#define MAX_LINES 64
#define MAX_INFLIGHT 400
#define DRAIN_MS 20000

enum qkind { K_DQ_OLN, K_DQ_NAME, K_KQ, K_RQ_PLATE, K_RQ_VIN, K_DNQ, K_RNQ, K_N };
static const char *const qkind_key[K_N] = {"DQ", "DQ", "KQ", "RQ", "RQ", "DNQ", "RNQ"};
static const int qkind_pct[K_N] = {30, 15, 8, 25, 10, 6, 6};

struct pools {
    /* indexes into the snapshot */
    int64_t *police;        /* PD SO SA of state/territory members */
    size_t npolice;
    int64_t *fed[SL_DEMO_NCLASS];
    size_t nfed[SL_DEMO_NCLASS];
};

struct line {
    char member[8];
    struct sl_tls *tls;
    struct sl_conn *c;
};

struct qstate {
    uint8_t dest, cls, kind, answered; /* answered: 0, 1 + outcome */
};

struct gen {
    struct demo *dm;
    struct sl_dir_snap *snap;
    struct pools p;
    struct sl_store *st[SL_DEMO_NSTATES];
    int64_t ndrv[SL_DEMO_NSTATES], nveh[SL_DEMO_NSTATES];
    struct line lines[MAX_LINES];
    int nlines;
    struct sl_pop_rng rng;
    struct sl_buf msg;
};

static int type_police(const char *t)
{
    return !strcmp(t, "PD") || !strcmp(t, "SO") || !strcmp(t, "SA");
}

static void push(int64_t **a, size_t *n, int64_t v)
{
    /* capacity: 64, then doubling at each power of two from 64 on */
    if (*n == 0)
        *a = sl_xrealloc(*a, 64 * sizeof **a);
    else if (*n >= 64 && (*n & (*n - 1)) == 0)
        *a = sl_xrealloc(*a, *n * 2 * sizeof **a);
    (*a)[(*n)++] = v;
}

static void build_pools(struct gen *g)
{
    int64_t n = sl_dir_snap_count(g->snap);
    for (int64_t i = 0; i < n; i++) {
        const struct sl_ori *o = sl_dir_snap_at(g->snap, i);
        if (o->status != 'A' || !strchr(o->cats, 'D'))
            continue;
        const struct sl_member *m = sl_dir_snap_member(g->snap, o->member);
        if (!m)
            continue;
        int fed = m->kind == 'F';
        if (m->kind == 'S' && type_police(o->type) && !o->parent[0]) {
            push(&g->p.police, &g->p.npolice, i);
        } else if (fed) {
            int c = sl_demo_classify("", "", o->parent, 1);
            push(&g->p.fed[c], &g->p.nfed[c], i);
        }
    }
}

/* A requester ORI for (dest, cls); NULL when the directory has none of that class. */
static const struct sl_ori *pick(struct gen *g, int dest, int cls)
{
    const char *code = sl_demo_states()[dest].code;
    if (cls == SL_DEMO_IN_STATE || cls == SL_DEMO_OUT_POLICE) {
        if (!g->p.npolice)
            return NULL;
        for (int tries = 0; tries < 100000; tries++) {
            const struct sl_ori *o = sl_dir_snap_at(
                g->snap, g->p.police[sl_pop_rng_below(&g->rng, g->p.npolice)]);
            int same = strcmp(o->member, code) == 0;
            if (same == (cls == SL_DEMO_IN_STATE))
                return o;
        }
        return NULL;
    }
    if (!g->p.nfed[cls])
        return NULL;
    return sl_dir_snap_at(g->snap, g->p.fed[cls][sl_pop_rng_below(&g->rng, g->p.nfed[cls])]);
}

static struct line *line_for(struct gen *g, const char *member, char *err, size_t errlen)
{
    for (int i = 0; i < g->nlines; i++)
        if (strcmp(g->lines[i].member, member) == 0)
            return &g->lines[i];
    if (g->nlines == MAX_LINES) {
        demo_fmt(err, errlen, "more than %d member lines", MAX_LINES);
        return NULL;
    }
    struct line *l = &g->lines[g->nlines];
    memset(l, 0, sizeof *l);
    demo_fmt(l->member, sizeof l->member, "%s", member);
    char cert[DEMO_PATH + 64], key[DEMO_PATH + 64], ca[DEMO_PATH + 64], addr[64];
    demo_fmt(cert, sizeof cert, "%s/certs/%s-terminal.crt", g->dm->dir, member);
    demo_fmt(key, sizeof key, "%s/certs/%s-terminal.key", g->dm->dir, member);
    demo_fmt(ca, sizeof ca, "%s/certs/ca.crt", g->dm->dir);
    demo_fmt(addr, sizeof addr, "127.0.0.1:%d", g->dm->hub_port);
    if (sl_tls_new_client(cert, key, ca, &l->tls, err, errlen) != 0)
        return NULL;
    if (sl_conn_dial(addr, l->tls, member, "terminal", NULL, 10000, &l->c, err, errlen) != 0 ||
        sl_conn_set_nonblocking(l->c) != 0) {
        if (l->c)
            sl_conn_free(l->c);
        sl_tls_free(l->tls);
        return NULL;
    }
    int one = 1;
    setsockopt(l->c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    g->nlines++;
    return l;
}

/* Change one character of s the way a typo would (digit -> digit, letter -> letter,
 * never into I, O or Q, which VINs and many plates do not use). */
void demo_typo(struct sl_pop_rng *r, char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return;
    size_t i = n - 1 - (size_t)sl_pop_rng_below(r, n < 3 ? n : 3);
    char c = s[i];
    if (c >= '0' && c <= '9')
        s[i] = (char)('0' + (c - '0' + 1 + (int)sl_pop_rng_below(r, 8)) % 10);
    else if (c >= 'A' && c <= 'Z') {
        do
            c = (char)('A' + (c - 'A' + 1 + (int)sl_pop_rng_below(r, 24)) % 26);
        while (c == 'I' || c == 'O' || c == 'Q');
        s[i] = c;
    }
}

/* "LAST,FIRST" when it passes the codec's NAM rule (letters, space, - '; 3-30), else "". */
void demo_ncic_name(const char *last, const char *first, char *out, size_t cap)
{
    demo_fmt(out, cap, "%s,%s", last, first);
    size_t n = strlen(out);
    int ok = n >= 3 && n <= 30 && last[0] && first[0];
    for (size_t i = 0; ok && i < n; i++) {
        char c = out[i];
        ok = (c >= 'A' && c <= 'Z') || c == ' ' || c == '-' || c == '\'' || c == ',';
    }
    if (!ok)
        out[0] = 0;
}

int demo_chance(struct sl_pop_rng *r, int pct) { return (int)sl_pop_rng_below(r, 100) < pct; }

/* Compose query number seq into g->msg (input form); returns its kind, or -1. */
static int compose(struct gen *g, uint64_t seq, const struct sl_demo_slot *s,
                   const struct sl_ori *req, char *err, size_t errlen)
{
    struct sl_pop_rng *r = &g->rng;
    int d = s->dest;
    struct sl_term_opts o;
    memset(&o, 0, sizeof o);
    char ctl[16], oln[32], name[40], dob[16], sex[2] = {0, 0}, lic[16], liy[8], lit[4],
        vin[24], cas[32], lgp[32], rsn[2] = {0, 0};
    demo_fmt(ctl, sizeof ctl, "Q%09llu", (unsigned long long)(seq % 1000000000ULL));
    o.as = req->ori;
    o.to = sl_demo_states()[d].code;
    o.ctl = ctl;
    int pick_k = (int)sl_pop_rng_below(r, 100), kind = 0;
    for (int acc = 0; kind < K_N; kind++) {
        acc += qkind_pct[kind];
        if (pick_k < acc)
            break;
    }
    if (kind >= K_N)
        kind = K_DQ_OLN;
    int miss = demo_chance(r, 12);
    struct sl_driver drv;
    struct sl_vehicle veh;
    int is_vehicle = kind == K_RQ_PLATE || kind == K_RQ_VIN || kind == K_RNQ;
    if (is_vehicle) {
        if (g->nveh[d] <= 0 ||
            sl_store_vehicle_by_id(g->st[d], 1 + (int64_t)sl_pop_rng_below(r, (uint64_t)g->nveh[d]),
                                   &veh) != 1)
            kind = K_DQ_OLN, is_vehicle = 0;
    }
    if (!is_vehicle &&
        sl_store_driver_by_id(g->st[d], 1 + (int64_t)sl_pop_rng_below(r, (uint64_t)g->ndrv[d]),
                              &drv) != 1) {
        demo_fmt(err, errlen, "%s records: a driver id in 1..%lld is not on file",
                 o.to, (long long)g->ndrv[d]);
        return -1;
    }
    if (kind == K_DQ_NAME || kind == K_DNQ) {
        demo_ncic_name(drv.last, drv.first, name, sizeof name);
        if (!name[0])
            kind = K_DQ_OLN;
    }
    if (kind == K_RNQ) {
        demo_ncic_name(veh.owner[0].last, veh.owner[0].first, name, sizeof name);
        if (!name[0])
            kind = K_RQ_PLATE;
    }
    switch (kind) {
    case K_DQ_OLN:
    case K_KQ:
        o.cmd = kind == K_KQ ? "kq" : "dq";
        demo_fmt(oln, sizeof oln, "%s", drv.oln);
        if (miss)
            demo_typo(r, oln);
        o.field[SL_TF_OLN] = oln;
        break;
    case K_DQ_NAME: {
        o.cmd = "dq";
        int32_t b = drv.dob - (miss ? 10000 : 0); /* a year off: a different person */
        demo_fmt(dob, sizeof dob, "%08d", (int)b);
        sex[0] = drv.sex;
        o.field[SL_TF_NAM] = name;
        o.field[SL_TF_DOB] = dob;
        o.field[SL_TF_SEX] = sex;
        break;
    }
    case K_DNQ:
    case K_RNQ:
        o.cmd = kind == K_DNQ ? "dnq" : "rnq";
        if (miss) {
            /* a misspelt first name */
            char *comma = strchr(name, ',');
            if (comma && strlen(comma) > 2)
                demo_typo(r, comma + 1);
        }
        o.field[SL_TF_NAM] = name;
        break;
    case K_RQ_PLATE:
        o.cmd = "rq";
        demo_fmt(lic, sizeof lic, "%s", veh.plate);
        if (miss)
            demo_typo(r, lic);
        demo_fmt(liy, sizeof liy, "%04d", veh.plate_year);
        demo_fmt(lit, sizeof lit, "%s", veh.plate_type);
        o.field[SL_TF_LIC] = lic;
        o.field[SL_TF_LIY] = liy;
        o.field[SL_TF_LIT] = lit;
        break;
    case K_RQ_VIN:
        o.cmd = "rq";
        demo_fmt(vin, sizeof vin, "%s", veh.vin);
        if (miss)
            demo_typo(r, vin);
        o.field[SL_TF_VIN] = vin;
        break;
    }
    int fed = s->cls >= SL_DEMO_FBI;
    if (demo_chance(r, fed ? 60 : 85)) {
        rsn[0] = "NFVTSHI"[sl_pop_rng_below(r, 7)];
        o.field[SL_TF_RSN] = rsn;
        g->dm->tr.with_rsn++;
    }
    if (demo_chance(r, 20)) {
        o.field[SL_TF_PUR] = "C";
        g->dm->tr.with_pur++;
    }
    if (demo_chance(r, fed ? 75 : 15)) {
        demo_fmt(cas, sizeof cas, "2026-%06llu", (unsigned long long)sl_pop_rng_below(r, 1000000));
        o.field[SL_TF_CAS] = cas;
        g->dm->tr.with_cas++;
    }
    if (fed && demo_chance(r, 25)) {
        demo_fmt(lgp, sizeof lgp, "WARRANT 26-MJ-%05llu",
                 (unsigned long long)sl_pop_rng_below(r, 100000));
        o.field[SL_TF_LGP] = lgp;
        g->dm->tr.with_lgp++;
    }
    if (miss)
        g->dm->tr.meant_to_miss++;
    sl_buf_reset(&g->msg);
    if (sl_term_compose(&o, &g->msg, err, errlen) != 0)
        return -1;
    g->dm->tr.by_key[kind]++;
    return kind;
}

/* An answer arrived on some line. */
static void take(struct gen *g, struct qstate *qs, uint64_t n, const uint8_t *p, uint32_t len)
{
    struct demo_traffic *t = &g->dm->tr;
    struct sl_outhdr h;
    const char *body;
    size_t blen;
    struct sl_msg_err e;
    if (sl_msg_parse_output((const char *)p, len, &h, &body, &blen, &e) != 0) {
        t->unmatched++;
        return;
    }
    if (h.ctl[0] != 'Q' || strlen(h.ctl) != 10) {
        t->unmatched++;
        return;
    }
    uint64_t seq = strtoull(h.ctl + 1, NULL, 10);
    if (seq >= n) {
        t->unmatched++;
        return;
    }
    struct qstate *q = &qs[seq];
    enum sl_term_answer a = sl_term_classify(&h, qkind_key[q->kind], h.ctl);
    if (a == SL_TERM_OTHER) {
        t->unmatched++;
        return;
    }
    int out = a == SL_TERM_ERROR ? SL_DEMO_ERROR : sl_demo_reply_outcome(h.key, body, blen);
    if (q->answered) {
        /* a reply after an SM (the query was stored and delivered later) replaces it */
        if (q->answered - 1 == SL_DEMO_ERROR && out != SL_DEMO_ERROR) {
            t->cell[q->dest][q->cls][SL_DEMO_ERROR]--;
            t->cell[q->dest][q->cls][out]++;
            q->answered = (uint8_t)(1 + out);
        }
        t->late_replies++;
        return;
    }
    q->answered = (uint8_t)(1 + out);
    t->cell[q->dest][q->cls][out]++;
    t->answered++;
}

static void progress(struct demo *dm, uint64_t sent, uint64_t total, int64_t t0, int final)
{
    int tty = isatty(fileno(dm->say));
    double s = (double)(sl_now_ms() - t0) / 1000.0;
    fprintf(dm->say, "%straffic %5.1f s: %llu/%llu sent, %llu answered, %llu in flight, %.0f/s%s",
            tty ? "\r" : "", s, (unsigned long long)sent, (unsigned long long)total,
            (unsigned long long)dm->tr.answered,
            (unsigned long long)(sent - dm->tr.answered), s > 0 ? (double)sent / s : 0.0,
            tty && !final ? "" : "\n");
    fflush(dm->say);
}

int demo_traffic(struct demo *dm, char *err, size_t errlen)
{
    struct demo_traffic *t = &dm->tr;
    const struct sl_demo_opts *o = dm->o;
    uint64_t n = o->queries;
    if (o->duration_s > 0)
        n = (uint64_t)(o->duration_s * o->rate + 0.5);
    t->planned = n;
    struct gen g;
    memset(&g, 0, sizeof g);
    g.dm = dm;
    sl_buf_init(&g.msg);
    sl_pop_rng_seed(&g.rng, o->seed ^ 0x7472616666696321ULL);
    int rc = -1;
    struct sl_demo_slot *plan = sl_xcalloc(n + 1, sizeof *plan);
    const struct sl_ori **req = sl_xcalloc(n + 1, sizeof *req);
    struct qstate *qs = sl_xcalloc(n + 1, sizeof *qs);
    char path[DEMO_PATH + 32];
    demo_fmt(path, sizeof path, "%s/directory.db", dm->dir);
    if (sl_dir_snapshot_file(path, &g.snap, err, errlen) != 0)
        goto out;
    build_pools(&g);
    for (int d = 0; d < SL_DEMO_NSTATES; d++) {
        demo_fmt(path, sizeof path, "%s/%s/records.db", dm->dir, sl_demo_states()[d].code);
        g.st[d] = sl_store_open(path, 1, err, errlen);
        if (!g.st[d])
            goto out;
        g.ndrv[d] = sl_store_count_drivers(g.st[d]);
        g.nveh[d] = sl_store_count_vehicles(g.st[d]);
        if (g.ndrv[d] <= 0) {
            demo_fmt(err, errlen, "%s holds no drivers", path);
            goto out;
        }
        struct sl_driver drv;
        if (sl_store_driver_by_id(g.st[d], 1, &drv) == 1)
            demo_fmt(t->example_oln[d], sizeof t->example_oln[d], "%s", drv.oln);
    }
    /* examples for the commands printed by --stay */
    for (int d = 0; d < SL_DEMO_NSTATES; d++) {
        const struct sl_ori *ex = pick(&g, d, SL_DEMO_IN_STATE);
        if (ex)
            demo_fmt(t->example_ori[d], sizeof t->example_ori[d], "%s", ex->ori);
    }
    if (g.p.nfed[SL_DEMO_ICE_ERO])
        demo_fmt(t->example_ero, sizeof t->example_ero, "%s",
                 sl_dir_snap_at(g.snap, g.p.fed[SL_DEMO_ICE_ERO][0])->ori);
    if (n == 0) {
        t->from_us = t->to_us = sl_wall_us();
        rc = 0;
        goto out;
    }
    sl_demo_plan(n, o->seed, o->min_per_cell, plan, NULL);
    /* requesters first, so every line is open before the clock starts */
    for (uint64_t i = 0; i < n; i++) {
        req[i] = pick(&g, plan[i].dest, plan[i].cls);
        if (!req[i]) {
            demo_fmt(err, errlen, "the directory has no %s ORI for %s",
                     sl_demo_class_info(plan[i].cls)->name,
                     sl_demo_states()[plan[i].dest].code);
            goto out;
        }
        if (!line_for(&g, req[i]->member, err, errlen))
            goto out;
        qs[i].dest = plan[i].dest;
        qs[i].cls = plan[i].cls;
    }
    t->lines = g.nlines;
    fprintf(dm->say, "traffic: %llu queries at %.0f/s from %d member terminal lines "
            "(seed %llu)\n", (unsigned long long)n, o->rate, g.nlines,
            (unsigned long long)o->seed);

    t->from_us = sl_wall_us();
    int64_t t0 = sl_now_ns(), last_print = sl_now_ms(), t0ms = sl_now_ms();
    int64_t drain_until = 0;
    uint64_t next = 0;
    struct pollfd pfd[MAX_LINES + 1];
    for (;;) {
        int64_t now = sl_now_ns();
        /* 1. whatever is due, within the in-flight bound */
        uint64_t due = now < t0 ? 0 : (uint64_t)((double)(now - t0) * o->rate / 1e9) + 1;
        if (due > n)
            due = n;
        while (next < due && next - t->answered < MAX_INFLIGHT) {
            int kind = compose(&g, next, &plan[next], req[next], err, errlen);
            if (kind < 0)
                goto out;
            qs[next].kind = (uint8_t)kind;
            struct line *l = line_for(&g, req[next]->member, err, errlen);
            if (!l)
                goto out;
            sl_frame_write(&l->c->out, sl_buf_head(&g.msg), (uint32_t)sl_buf_used(&g.msg));
            t->sent_cell[plan[next].dest][plan[next].cls]++;
            t->sent++;
            next++;
        }
        for (int k = 0; k < g.nlines; k++)
            if (sl_buf_used(&g.lines[k].c->out) && sl_conn_flush(g.lines[k].c) < 0) {
                demo_fmt(err, errlen, "the %s terminal line failed: %s", g.lines[k].member,
                         g.lines[k].c->err);
                goto out;
            }
        if (sl_now_ms() - last_print >= 1000) {
            last_print = sl_now_ms();
            progress(dm, t->sent, n, t0ms, 0);
        }
        /* 2. done? */
        if (next >= n) {
            if (!drain_until)
                drain_until = sl_now_ms() + DRAIN_MS;
            if (t->answered >= t->sent || sl_now_ms() >= drain_until)
                break;
        }
        /* 3. wait for the next due time or an answer */
        int64_t wake_ms = 100;
        if (next < n && next - t->answered < MAX_INFLIGHT) {
            int64_t at = t0 + (int64_t)((double)next * 1e9 / o->rate);
            wake_ms = (at - sl_now_ns()) / 1000000;
            if (wake_ms < 0)
                wake_ms = 0;
            if (wake_ms > 100)
                wake_ms = 100;
        }
        int np = 0;
        pfd[np++] = (struct pollfd){dm->sfd, POLLIN, 0};
        for (int k = 0; k < g.nlines; k++)
            pfd[np++] = (struct pollfd){
                g.lines[k].c->fd,
                (short)(POLLIN | (sl_buf_used(&g.lines[k].c->out) || g.lines[k].c->want_write
                                      ? POLLOUT
                                      : 0)),
                0};
        int pr = poll(pfd, (nfds_t)np, (int)wake_ms);
        if (pr < 0 && errno != EINTR) {
            demo_fmt(err, errlen, "poll: %s", strerror(errno));
            goto out;
        }
        if (pr <= 0)
            continue;
        if (pfd[0].revents) {
            dm->interrupted = 1;
            demo_fmt(err, errlen, "interrupted");
            goto out;
        }
        for (int k = 0; k < g.nlines; k++) {
            if (!pfd[1 + k].revents)
                continue;
            struct sl_conn *c = g.lines[k].c;
            int r = sl_conn_read(c);
            for (;;) {
                const uint8_t *p;
                uint32_t len;
                if (sl_frame_peek(&c->in, SL_FRAME_DEFAULT_MAX, &p, &len) != SL_FRAME_OK)
                    break;
                if (len > 0)
                    take(&g, qs, n, p, len);
                sl_buf_consume(&c->in, SL_FRAME_HDR + len);
            }
            if (r < 0) {
                demo_fmt(err, errlen, "the hub closed the %s terminal line: %s",
                         g.lines[k].member, c->err);
                goto out;
            }
        }
    }
    progress(dm, t->sent, n, t0ms, 1);
    /* what never got an answer */
    for (uint64_t i = 0; i < next; i++)
        if (!qs[i].answered)
            t->cell[qs[i].dest][qs[i].cls][SL_DEMO_ERROR]++;
    t->seconds = (double)(sl_now_ms() - t0ms) / 1000.0;
    t->to_us = sl_wall_us() + 1;
    rc = 0;
out:
    for (int k = 0; k < g.nlines; k++) {
        sl_conn_free(g.lines[k].c);
        sl_tls_free(g.lines[k].tls);
    }
    for (int d = 0; d < SL_DEMO_NSTATES; d++)
        if (g.st[d])
            sl_store_close(g.st[d]);
    if (g.snap)
        sl_dir_snap_free(g.snap);
    for (int c = 0; c < SL_DEMO_NCLASS; c++)
        free(g.p.fed[c]);
    free(g.p.police);
    free(plan);
    free(req);
    free(qs);
    sl_buf_free(&g.msg);
    return rc;
}
