/*
 * hub_audit.c - the switch's own audit log (issue 6 item 5; docs/audit-format.md §11).
 *
 * With `audit_dir` set, the hub keeps the same kind of log as a state's gateway
 * (src/audit: canonical entries, group commit, RFC 6962 tree, signed checkpoints) for
 * what it routes: headers and routing decisions, never bodies.  What it writes:
 *
 *   hub-route    one per message read from a line (or per message the hub refused to
 *                read, e.g. a frame over max_frame): the line it came on (member, role,
 *                receive sequence), sender ORI, key, control field, destinations as
 *                addressed, the verified requester from the directory (parent agency,
 *                agency type, state), the outcome (routed, queued, not-queued, rejected +
 *                ER number) and its legs: every frame the switch wrote for it
 *                ("DQ>CA/a#1042": key > receiving member / a(nswering) or t(erminal) line
 *                # output sequence on that line, so ER, SM and acknowledgements too) and
 *                every destination that got no frame ("OR:queued", "NV:refused",
 *                "NV VIA H1:not-taken", "NL:collected").  A message with more than 32
 *                legs is split over several entries with the same ref; all but the last
 *                carry text "continued".
 *   hub-deliver  one per frame the switch writes outside a message it is handling: kept
 *                messages delivered when their member returns, archive answers, merged
 *                multi-state replies at their deadline, status messages to every line.
 *   hub-line     a line up, down or refused (member, role, remote address, reason).
 *   admin        an operator's control command that changes something ("line WA down",
 *                "reload", SIGHUP), with the frames it made as legs.
 *   system       start and stop.
 *
 * Durable before forward.  hub_emit formats every frame straight into the receiving
 * line's output buffer; here each line keeps a small ring of marks (byte position in its
 * output stream, entries that must be durable before those bytes leave).  line_flush writes
 * only the prefix whose entries are durable (sl_conn_flush_upto); the durability thread's
 * eventfd wakes the loop, which marks the held lines for the next flush.  Marks of one loop
 * iteration are merged (one per line per iteration), so the cost per frame is a few
 * stores; the entry itself is encoded by sl_audit_append (no allocation) and written,
 * hashed and fdatasync'ed by the durability thread, one fsync per batch.
 *
 * Nothing here allocates per message: the entry being built, its strings and legs live
 * in struct hub_audit; a line's marks are allocated once when it opens.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hub/hub_int.h"
#include "stateline/audit.h"
#include "stateline/core.h"

#define AUD_MARKS 16
#define LEG_MAX 64

struct hub_aud_line {
    uint64_t ok_end;  /* the line's emitted bytes [0, ok_end) may leave */
    uint32_t head, n; /* ring of marks */
    int in_held;      /* listed in hub_audit.held */
    struct {
        uint64_t end;  /* app_total after the frame(s) */
        uint64_t need; /* entries [0, need) must be durable first */
        uint64_t iter; /* loop iteration that made it (marks of one iteration merge) */
    } m[AUD_MARKS];
};

struct held_ref {
    uint32_t slot, gen;
};

struct hub_audit {
    struct sl_audit_log *log;
    uint64_t durable;
    int failed;

    /* the entry being built (hub-route for a message, admin for a control command) */
    int in_msg;
    uint8_t type;
    struct sl_audit_entry e;
    int64_t time_us;
    uint64_t rx_count;
    char member[SL_MEMBER_MAX];
    const char *role;
    char key[8], ori[SL_ORI_LEN + 1], ctl[SL_MSG_CTL_MAX + 1], ref[64];
    uint64_t mid; /* the switch message id a reply echoed (MID/), 0 = none */
    char dest[SL_MSG_MAX_DEST][SL_ORI_LEN + 1];
    int ndest;
    const struct sl_ori *so; /* verified requester (directory snapshot), or NULL */
    char req_state[3];
    char legs[SL_AUDIT_MAX_LIST][LEG_MAX];
    int nlegs, parts;
    int er, queued, refused;
    /* admin entries */
    char actor[32], action[33], ctl_text[300];

    struct held_ref *held;
    uint32_t nheld, cap_held;
};

/* ---- small formatting without printf (the per-frame path) --------------------------- */

static char *put_str(char *p, const char *end, const char *s)
{
    while (*s && p < end)
        *p++ = *s++;
    return p;
}

static char *put_u64(char *p, const char *end, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && p < end)
        *p++ = tmp[--n];
    return p;
}

static const char *role_of(const struct hub_line *l)
{
    return l->c->peer.role == SL_ROLE_ANSWER ? "answer" : "terminal";
}

/* ---- appending ---------------------------------------------------------------------- */

static void log_failed(struct sl_hub *hub)
{
    struct hub_audit *A = hub->audit;
    if (A->failed)
        return;
    A->failed = 1;
    /* Nothing appended from now on can become durable, so nothing may leave (the held
     * output stays held): stop, as the gateway does.  The log says why. */
    SL_ERROR("hub", "audit log append failed (%s): stopping, no message can be made durable",
             strerror(errno));
    hub->exit_code = 1;
    sl_loop_stop(hub->loop);
}

/* Append e; on an entry the encoder refuses (a defect, logged by the audit module) a
 * system entry saying so takes its place, so the barrier still has an index to wait for.
 * Returns the index, or -1 when the log has failed. */
static int64_t append(struct sl_hub *hub, struct sl_audit_entry *e)
{
    struct hub_audit *A = hub->audit;
    if (A->failed)
        return -1;
    int64_t idx = sl_audit_append(A->log, e, NULL, 0);
    if (idx < 0 && errno == EINVAL) {
        struct sl_audit_entry s;
        char t[128];
        snprintf(t, sizeof t, "a %s entry was refused by the encoder (see the hub's log)",
                 sl_audit_type_name(e->type) ? sl_audit_type_name(e->type) : "?");
        sl_audit_entry_init(&s, SL_AUDIT_SYSTEM, e->time_us);
        sl_audit_set_str(&s, SL_AF_TEXT, t);
        idx = sl_audit_append(A->log, &s, NULL, 0);
    }
    if (idx < 0)
        log_failed(hub);
    return idx;
}

/* The fields the encoder reads are those in `present`: resetting these is enough (the
 * 2 KiB of list items are not cleared per message). */
static void entry_reset(struct sl_audit_entry *e, uint8_t type, int64_t t)
{
    e->type = type;
    e->time_us = t;
    e->present = 0;
    e->dest.n = e->search.n = e->rules.n = e->legs.n = 0;
}

/* ---- the barrier ---------------------------------------------------------------------- */

static struct hub_aud_line *aud_line(struct hub_line *l)
{
    if (!l->aud)
        l->aud = sl_xcalloc(1, sizeof *l->aud); /* once per line; ok_end 0 holds all */
    return l->aud;
}

static void mark(struct sl_hub *hub, struct hub_line *to, uint64_t need)
{
    struct hub_aud_line *a = aud_line(to);
    if (a->n) {
        uint32_t last = (a->head + a->n - 1) % AUD_MARKS;
        if (a->m[last].iter == hub->iter || a->n == AUD_MARKS) {
            /* merge: the earlier bytes wait for the later entries too (at most one
             * iteration's worth, or while the ring is full) */
            a->m[last].end = to->app_total;
            if (need > a->m[last].need)
                a->m[last].need = need;
            a->m[last].iter = hub->iter;
            return;
        }
    }
    uint32_t i = (a->head + a->n) % AUD_MARKS;
    a->m[i].end = to->app_total;
    a->m[i].need = need;
    a->m[i].iter = hub->iter;
    a->n++;
}

static void hold(struct sl_hub *hub, struct hub_line *l)
{
    struct hub_audit *A = hub->audit;
    if (l->aud->in_held)
        return;
    if (A->nheld == A->cap_held) {
        A->cap_held = A->cap_held ? A->cap_held * 2 : 64;
        A->held = sl_xrealloc(A->held, A->cap_held * sizeof *A->held);
    }
    A->held[A->nheld].slot = l->slot;
    A->held[A->nheld].gen = l->gen;
    A->nheld++;
    l->aud->in_held = 1;
}

int hub_audit_flush(struct sl_hub *hub, struct hub_line *l)
{
    struct hub_audit *A = hub->audit;
    struct hub_aud_line *a = l->aud;
    if (!a)
        return sl_conn_flush(l->c);
    while (a->n && a->m[a->head].need <= A->durable) {
        a->ok_end = a->m[a->head].end;
        a->head = (a->head + 1) % AUD_MARKS;
        a->n--;
    }
    if (!a->n) {
        a->ok_end = l->app_total;
        return sl_conn_flush(l->c);
    }
    /* out holds [written .. app_total) of the emitted stream (plus, at the very start, the
     * "AUTH OK" of a plain line, which is ahead of everything) */
    size_t used = sl_buf_used(&l->c->out);
    uint64_t held = l->app_total - a->ok_end;
    size_t allowed = used > held ? used - (size_t)held : 0;
    int r = allowed ? sl_conn_flush_upto(l->c, allowed) : 0;
    if (r < 0)
        return r;
    hold(hub, l);
    return 1; /* bytes are left (held); want_write says whether the socket is full too */
}

static void on_durable(struct sl_loop *loop, int fd, void *cd, int mask)
{
    struct sl_hub *hub = cd;
    struct hub_audit *A = hub->audit;
    (void)loop;
    (void)fd;
    (void)mask;
    A->durable = sl_audit_durable_upto(A->log);
    uint32_t n = A->nheld;
    A->nheld = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct hub_line *l = hub_line_get(hub, A->held[i].slot, A->held[i].gen);
        if (!l || !l->aud)
            continue;
        l->aud->in_held = 0;
        hub_line_mark_pending(hub, l); /* flushed by before_sleep */
    }
}

/* ---- a message ------------------------------------------------------------------------ */

void hub_audit_msg_begin(struct sl_hub *hub, struct hub_line *line, unsigned rx_seq)
{
    struct hub_audit *A = hub->audit;
    A->in_msg = 1;
    A->type = SL_AUDIT_HUB_ROUTE;
    A->time_us = sl_wall_us();
    /* the full receive count; a regional query runs at the end of the iteration, when the
     * line may have read more: its count is the latest with this rx_seq */
    uint64_t c = line->in_count;
    A->rx_count = c - ((c % HUB_SEQ_MOD + HUB_SEQ_MOD - rx_seq) % HUB_SEQ_MOD);
    memcpy(A->member, line->c->peer.member, sizeof A->member);
    A->role = role_of(line);
    A->key[0] = A->ori[0] = A->ctl[0] = '\0';
    /* "<member>-<receive time, s>-<rx seq, 5 digits>", as the header stamps it */
    char *p = A->ref, *end = A->ref + sizeof A->ref - 1;
    p = put_str(p, end, A->member);
    p = put_str(p, end, "-");
    p = put_u64(p, end, hub->now_s > 0 ? (uint64_t)hub->now_s : 0);
    p = put_str(p, end, "-");
    for (unsigned d = 10000; d && p < end; d /= 10)
        *p++ = (char)('0' + rx_seq / d % 10);
    *p = '\0';
    A->ndest = 0;
    A->mid = 0;
    A->so = NULL;
    A->nlegs = A->parts = 0;
    A->er = A->queued = A->refused = 0;
}

void hub_audit_msg_header(struct sl_hub *hub, const struct sl_msg *m)
{
    struct hub_audit *A = hub->audit;
    if (!A->in_msg)
        return;
    memcpy(A->key, m->key, sizeof m->key);
    memcpy(A->ori, m->ori, sizeof A->ori);
    memcpy(A->ctl, m->ctl, sizeof A->ctl);
    A->mid = m->mid;
    A->ndest = m->ndest < SL_MSG_MAX_DEST ? m->ndest : SL_MSG_MAX_DEST;
    for (int i = 0; i < A->ndest; i++)
        memcpy(A->dest[i], m->dest[i], sizeof A->dest[i]);
}

void hub_audit_msg_requester(struct sl_hub *hub, const struct sl_ori *so)
{
    if (hub->audit->in_msg)
        hub->audit->so = so;
}

void hub_audit_msg_er(struct sl_hub *hub, int code)
{
    if (hub->audit->in_msg)
        hub->audit->er = code;
}

/* The entry of the message (or control command) with the legs so far.  final = 0: more
 * legs follow in another entry. */
static int64_t append_current(struct sl_hub *hub, int final)
{
    struct hub_audit *A = hub->audit;
    struct sl_audit_entry *e = &A->e;
    entry_reset(e, A->type, A->time_us);
    if (A->type == SL_AUDIT_ADMIN) {
        sl_audit_set_str(e, SL_AF_ACTOR, A->actor);
        sl_audit_set_str(e, SL_AF_ACTION, A->action);
        sl_audit_set_str(e, SL_AF_MEMBER, A->member);
        sl_audit_set_int(e, SL_AF_OUTCOME, A->er ? SL_AUDIT_OUT_FAILED : SL_AUDIT_OUT_OK);
        sl_audit_set_str(e, SL_AF_TEXT, A->ctl_text);
    } else {
        sl_audit_set_str(e, SL_AF_REF, A->ref);
        sl_audit_set_str(e, SL_AF_ORI, A->ori);
        sl_audit_set_str(e, SL_AF_MEMBER, A->member);
        if (A->so) {
            sl_audit_set_str(e, SL_AF_PARENT, A->so->parent);
            sl_audit_set_str(e, SL_AF_AGENCY_TYPE, A->so->type);
            A->req_state[0] = A->so->ori[0];
            A->req_state[1] = A->so->ori[1];
            A->req_state[2] = '\0';
            sl_audit_set_str(e, SL_AF_REQ_STATE, A->req_state); /* lives until encoded */
        }
        sl_audit_set_str(e, SL_AF_KEY, A->key);
        for (int i = 0; i < A->ndest; i++)
            sl_audit_add_item(e, SL_AF_DEST, A->dest[i]);
        sl_audit_set_str(e, SL_AF_CONTROL, A->ctl);
        sl_audit_set_int(e, SL_AF_OUTCOME, A->er        ? SL_AUDIT_OUT_REJECTED
                                           : A->refused ? SL_AUDIT_OUT_NOT_QUEUED
                                           : A->queued  ? SL_AUDIT_OUT_QUEUED
                                                        : SL_AUDIT_OUT_ROUTED);
        if (A->er)
            sl_audit_set_int(e, SL_AF_ERROR, A->er);
        sl_audit_set_int(e, SL_AF_LINE_SEQ, (int64_t)A->rx_count);
        if (A->mid)
            sl_audit_set_int(e, SL_AF_MID, (int64_t)A->mid);
        if (!final)
            sl_audit_set_str(e, SL_AF_TEXT, "continued");
    }
    sl_audit_set_str(e, SL_AF_LINE, A->role);
    for (int i = 0; i < A->nlegs; i++)
        sl_audit_add_item(e, SL_AF_LEGS, A->legs[i]);
    A->nlegs = 0;
    A->parts++;
    return append(hub, e);
}

static char *leg_slot(struct sl_hub *hub)
{
    struct hub_audit *A = hub->audit;
    if (A->nlegs == SL_AUDIT_MAX_LIST)
        append_current(hub, 0); /* a fan-out of more than 32: continue in a new entry */
    return A->legs[A->nlegs++];
}

void hub_audit_msg_leg(struct sl_hub *hub, const char *dest, const char *result)
{
    struct hub_audit *A = hub->audit;
    if (!A->in_msg)
        return;
    if (!strcmp(result, "queued"))
        A->queued = 1;
    else if (strcmp(result, "collected"))
        A->refused = 1;
    char *p = leg_slot(hub), *end = p + LEG_MAX - 1;
    p = put_str(p, end, dest);
    p = put_str(p, end, ":");
    p = put_str(p, end, result);
    *p = '\0';
}

void hub_audit_msg_end(struct sl_hub *hub)
{
    struct hub_audit *A = hub->audit;
    if (!A->in_msg)
        return;
    append_current(hub, 1);
    A->in_msg = 0;
}

/* ---- every frame the switch writes ---------------------------------------------------- */

void hub_audit_emit(struct sl_hub *hub, struct hub_line *to, const struct sl_outhdr *h,
                    const char *src_mbr)
{
    struct hub_audit *A = hub->audit;
    uint64_t need;
    if (A->in_msg) {
        char *p = leg_slot(hub), *end = p + LEG_MAX - 1;
        p = put_str(p, end, h->key);
        p = put_str(p, end, ">");
        p = put_str(p, end, to->c->peer.member);
        p = put_str(p, end, to->c->peer.role == SL_ROLE_ANSWER ? "/a#" : "/t#");
        p = put_u64(p, end, to->out_count);
        if (h->mid) { /* a query to an answering line carries the switch message id */
            p = put_str(p, end, " MID/");
            p = put_u64(p, end, h->mid);
        }
        *p = '\0';
        need = sl_audit_size(A->log) + 1; /* the entry now being built */
    } else {
        struct sl_audit_entry *e = &A->e;
        char ref[64];
        entry_reset(e, SL_AUDIT_HUB_DELIVER, sl_wall_us());
        if (src_mbr && src_mbr[0]) {
            /* the ref of the hub-route entry of the message (a kept message's header
             * keeps its receive time and sequence) */
            snprintf(ref, sizeof ref, "%s-%lld-%05u", src_mbr, (long long)h->rx_time,
                     h->rx_seq);
            sl_audit_set_str(e, SL_AF_REF, ref);
        }
        sl_audit_set_str(e, SL_AF_ORI, h->ori);
        sl_audit_set_str(e, SL_AF_MEMBER, to->c->peer.member);
        sl_audit_set_str(e, SL_AF_KEY, h->key);
        if (h->dest[0])
            sl_audit_add_item(e, SL_AF_DEST, h->dest);
        sl_audit_set_str(e, SL_AF_CONTROL, h->ctl);
        sl_audit_set_int(e, SL_AF_LINE_SEQ, (int64_t)to->out_count);
        if (h->mid)
            sl_audit_set_int(e, SL_AF_MID, (int64_t)h->mid);
        sl_audit_set_str(e, SL_AF_LINE, role_of(to));
        int64_t idx = append(hub, e);
        if (idx < 0)
            return; /* the log failed: nothing is released any more */
        need = (uint64_t)idx + 1;
    }
    mark(hub, to, need);
}

/* ---- lines, operators, life cycle ------------------------------------------------------- */

void hub_audit_line(struct sl_hub *hub, struct hub_line *l, const char *action,
                    const char *why)
{
    struct hub_audit *A = hub->audit;
    struct sl_audit_entry *e = &A->e;
    struct sl_peer *p = &l->c->peer;
    entry_reset(e, SL_AUDIT_HUB_LINE, sl_wall_us());
    sl_audit_set_str(e, SL_AF_ACTION, action);
    sl_audit_set_str(e, SL_AF_MEMBER, p->member);
    if (p->role == SL_ROLE_ANSWER || p->role == SL_ROLE_TERMINAL)
        sl_audit_set_str(e, SL_AF_LINE, role_of(l));
    sl_audit_set_str(e, SL_AF_REMOTE, l->addr);
    char t[256];
    if (why && why[0]) {
        /* reasons come from TLS and the OS: keep them printable */
        size_t n = 0;
        for (const char *s = why; *s && n < sizeof t - 1; s++)
            t[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
        t[n] = '\0';
        sl_audit_set_str(e, SL_AF_TEXT, t);
    }
    if (!strcmp(action, "up")) {
        sl_audit_set_int(e, SL_AF_OUTCOME, SL_AUDIT_OUT_OK);
        aud_line(l)->ok_end = l->app_total;
    } else if (!strcmp(action, "refused")) {
        sl_audit_set_int(e, SL_AF_OUTCOME, SL_AUDIT_OUT_FAILED);
    }
    append(hub, e);
}

void hub_audit_line_free(struct sl_hub *hub, struct hub_line *l)
{
    (void)hub;
    free(l->aud); /* a stale entry in the held list fails hub_line_get (generation) */
    l->aud = NULL;
}

void hub_audit_ctl_begin(struct sl_hub *hub, int fd, const char *cmd, const char *args)
{
    struct hub_audit *A = hub->audit;
    A->in_msg = 1;
    A->type = SL_AUDIT_ADMIN;
    A->time_us = sl_wall_us();
    A->role = NULL;
    A->nlegs = A->parts = 0;
    A->er = 0;
    A->member[0] = '\0';
    if (fd >= 0) {
        struct ucred uc;
        socklen_t ul = sizeof uc;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0)
            snprintf(A->actor, sizeof A->actor, "ctl uid %u pid %d", (unsigned)uc.uid,
                     (int)uc.pid);
        else
            snprintf(A->actor, sizeof A->actor, "ctl");
    } else {
        snprintf(A->actor, sizeof A->actor, "%s", cmd); /* "SIGHUP" */
        cmd = "reload";
    }
    snprintf(A->action, sizeof A->action, "%s", cmd);
    A->ctl_text[0] = '\0';
    if (args && args[0]) {
        size_t n = 0;
        for (const char *s = args; *s && n < 64; s++)
            A->ctl_text[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
        A->ctl_text[n] = '\0';
        char mb[SL_MEMBER_MAX] = "";
        if (sscanf(args, "%7s", mb) == 1 && !strcmp(cmd, "line"))
            memcpy(A->member, mb, sizeof mb);
    }
}

void hub_audit_ctl_end(struct sl_hub *hub, int ok, const char *error)
{
    struct hub_audit *A = hub->audit;
    if (!A->in_msg)
        return;
    A->er = !ok;
    if (!ok && error && error[0]) {
        size_t n = strlen(A->ctl_text);
        snprintf(A->ctl_text + n, sizeof A->ctl_text - n, "%s", n ? ": " : "");
        n = strlen(A->ctl_text);
        for (const char *s = error; *s && n < sizeof A->ctl_text - 1; s++)
            A->ctl_text[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
        A->ctl_text[n] = '\0';
    }
    /* an admin entry of a member that is not a code would be refused: keep it only when
     * it is one (line_cmd checked it against the directory when ok) */
    if (!ok)
        A->member[0] = '\0';
    append_current(hub, 1);
    A->in_msg = 0;
}

void hub_audit_system(struct sl_hub *hub, const char *action, const char *text)
{
    struct hub_audit *A = hub->audit;
    struct sl_audit_entry *e = &A->e;
    entry_reset(e, SL_AUDIT_SYSTEM, sl_wall_us());
    sl_audit_set_str(e, SL_AF_ACTION, action);
    sl_audit_set_str(e, SL_AF_TEXT, text);
    append(hub, e);
}

int hub_audit_open(struct sl_hub *hub, char *err, size_t errlen)
{
    struct sl_hub_config *c = &hub->cfg;
    struct hub_audit *A = sl_xcalloc(1, sizeof *A);
    struct sl_audit_opts o = {0};
    o.dir = c->audit_dir;
    o.signer_key = c->audit_key;
    o.checkpoint_ms = c->audit_checkpoint_ms;
    o.checkpoint_every = c->audit_checkpoint_every;
    char aerr[256] = "";
    /* The durability thread inherits this mask: the stop and reload signals must reach
     * the loop's signal descriptor, never that thread (default action: exit). */
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &ss, NULL);
    if (sl_audit_open(&A->log, &o, aerr, sizeof aerr) != 0) {
        snprintf(err, errlen, "audit_dir = %s: %s", c->audit_dir, aerr);
        free(A);
        return -1;
    }
    hub->audit = A;
    A->durable = sl_audit_durable_upto(A->log);
    if (sl_loop_add(hub->loop, sl_audit_durable_fd(A->log), SL_EV_READ, on_durable, hub) != 0) {
        snprintf(err, errlen, "audit: cannot watch the log's event descriptor");
        return -1;
    }
    char text[600];
    snprintf(text, sizeof text, "hub %s started: directory %s, %d members", c->ori,
             c->directory, hub->members.n);
    hub_audit_system(hub, "start", text);
    SL_INFO("hub", "audit log %s: %llu entries; output leaves only after its entries are "
            "durable", c->audit_dir, (unsigned long long)sl_audit_size(A->log));
    return A->failed ? -1 : 0;
}

void hub_audit_close(struct sl_hub *hub)
{
    struct hub_audit *A = hub->audit;
    if (!A)
        return;
    if (!A->failed)
        hub_audit_system(hub, "stop", "hub stopped");
    if (hub->loop)
        sl_loop_del(hub->loop, sl_audit_durable_fd(A->log), SL_EV_READ);
    if (sl_audit_close(A->log) != 0)
        SL_ERROR("hub", "audit log %s: closing failed", hub->cfg.audit_dir);
    free(A->held);
    free(A);
    hub->audit = NULL;
}
