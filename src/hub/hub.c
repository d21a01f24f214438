/*
 * hub.c - the switch's loop: listener, member lines, batching, signals, reload.
 *
 * One thread.  Each readiness event reads a line once (up to 256 KiB, nothing left inside
 * TLS: level-triggered epoll comes back when there is more); every whole frame is then
 * processed at once (hub_route.c), which appends the outputs to the receiving lines'
 * `out` buffers.  The before_sleep hook then flushes every line with
 * pending output once: one SSL_write / write per line per iteration carries everything
 * the iteration produced for it.
 *
 * Bounded memory: a line's output buffer stops taking messages at `out_cap` (senders get
 * an SM), and a line whose *own* output is over the cap is not read until it drains (its
 * answers could not be delivered otherwise).
 *
 * Part 2 hooks: before_sleep first routes the regional queries the iteration set aside
 * (lower priority), and every flush first commits what the iteration kept for down
 * destinations (hub_sf.c: durable before the SM .02. leaves), then, after the write,
 * deletes the kept messages the socket has taken.  An answering line that opens gets its
 * member's kept messages.  The archive's search thread signals an eventfd; its answers
 * are sent from the loop.
 *
 * Plain lines (tests, demo; loopback only) authenticate with their first frame
 *     AUTH <member> <role> <token>
 * answered "AUTH OK", or "AUTH ERR <reason>" and the line closed (sl_conn_plain_auth).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "hub/hub_int.h"
#include "stateline/archive.h"
#include "stateline/core.h"
#include "stateline/frame.h"
#include "stateline/hugemem.h"
#include "stateline/sqlcfg.h"

#define HUB_TICK_MS 250
#define HUB_CLOSE_GRACE_MS 2000
#define HUB_ACCEPT_BATCH 256
#define HUB_BUF_KEEP (256 * 1024)

static void on_line_event(struct sl_loop *loop, int fd, void *cd, int mask);
static void line_close(struct sl_hub *hub, struct hub_line *line, const char *why);

/* ---- lines --------------------------------------------------------------------------- */

struct hub_line *hub_line_get(const struct sl_hub *hub, uint32_t slot, uint32_t gen)
{
    if (slot >= hub->nslots)
        return NULL;
    struct hub_line *l = hub->slots[slot];
    return l && l->gen == gen ? l : NULL;
}

void hub_line_mark_pending(struct sl_hub *hub, struct hub_line *line)
{
    if (line->pending)
        return;
    if (hub->npending == hub->cap_pending) {
        hub->cap_pending = hub->cap_pending ? hub->cap_pending * 2 : 64;
        hub->pending = sl_xrealloc(hub->pending, hub->cap_pending * sizeof *hub->pending);
    }
    hub->pending[hub->npending++] = line->slot;
    line->pending = 1;
}

static struct hub_line *line_new(struct sl_hub *hub, struct sl_conn *c, const char *addr)
{
    struct hub_line *l = sl_xcalloc(1, sizeof *l);
    l->hub = hub;
    l->c = c;
    sl_strlcpy(l->addr, addr, sizeof l->addr);
    l->since_ms = sl_now_ms();
    l->deadline_ms = l->since_ms + (int64_t)hub->cfg.handshake_timeout_s * 1000;
    l->gen = ++hub->gen_counter;
    if (hub->nfree) {
        l->slot = hub->free_slots[--hub->nfree];
    } else {
        if (hub->nslots == hub->cap_slots) {
            hub->cap_slots = hub->cap_slots ? hub->cap_slots * 2 : 256;
            hub->slots = sl_xrealloc(hub->slots, hub->cap_slots * sizeof *hub->slots);
            hub->free_slots = sl_xrealloc(hub->free_slots, hub->cap_slots * sizeof(uint32_t));
        }
        l->slot = hub->nslots++;
    }
    hub->slots[l->slot] = l;
    hub->nlines++;
    return l;
}

static void line_watch_write(struct sl_hub *hub, struct hub_line *l, int on)
{
    if (on && !l->watching_write) {
        sl_loop_add(hub->loop, l->c->fd, SL_EV_WRITE, on_line_event, l);
        l->watching_write = 1;
    } else if (!on && l->watching_write) {
        sl_loop_del(hub->loop, l->c->fd, SL_EV_WRITE);
        l->watching_write = 0;
    }
}

static void line_close(struct sl_hub *hub, struct hub_line *l, const char *why)
{
    struct sl_peer *p = &l->c->peer;
    if (l->open)
        SL_INFO("hub", "line down: %s %s from %s: %s (in %llu frames, out %llu frames)",
                p->member, sl_role_name(p->role), l->addr, why,
                (unsigned long long)l->frames_in, (unsigned long long)l->frames_out);
    else
        SL_INFO("hub", "line refused: %s: %s", l->addr, why);
    if (!l->open)
        hub->t_refused_lines++;
    if (hub->audit) {
        hub_audit_line(hub, l, l->open ? "down" : "refused", why);
        hub_audit_line_free(hub, l);
    }
    if (l->bound) {
        struct hub_member *m = hub_member_find(&hub->members, p->member);
        if (m && m->answer == l) {
            m->answer = NULL;
            /* kept messages in its output buffer that were not written out stay kept:
             * they go again, from the first one not deleted, when the line returns */
            if (m->nflight)
                m->sf_last = m->flight[0].id - 1;
            /* and what it was given and did not answer is kept again, before them */
            hub_out_line_down(hub, m, 1);
            hub_msq_line_down(hub, m->code);
            m->nflight = 0;
        }
    }
    sl_loop_del(hub->loop, l->c->fd, SL_EV_READ | SL_EV_WRITE);
    sl_conn_free(l->c);
    hub->slots[l->slot] = NULL;
    hub->free_slots[hub->nfree++] = l->slot;
    hub->nlines--;
    free(l);
}

/* Finish with a line once what is queued for it has gone (an ER explaining why). */
static void line_close_after_flush(struct sl_hub *hub, struct hub_line *l, const char *why)
{
    if (l->closing)
        return;
    l->closing = 1;
    sl_strlcpy(l->close_why, why, sizeof l->close_why);
    l->deadline_ms = sl_now_ms() + HUB_CLOSE_GRACE_MS;
    sl_loop_del(hub->loop, l->c->fd, SL_EV_READ);
    hub_line_mark_pending(hub, l);
}

/* The line has an identity (TLS certificate or AUTH): check it may be a member line. */
static int line_opened(struct sl_hub *hub, struct hub_line *l)
{
    struct sl_peer *p = &l->c->peer;
    struct hub_member *m = hub_member_find(&hub->members, p->member);
    const char *why = NULL;
    if (p->role != SL_ROLE_ANSWER && p->role != SL_ROLE_TERMINAL)
        why = "role is neither answer nor terminal";
    else if (!m)
        why = "member is not in the directory";
    else if (m->kind == 'N')
        why = "the switch's own identity cannot be a member line";
    if (why) {
        char tmp[200];
        snprintf(tmp, sizeof tmp, "%s (%s %s)", why, p->member[0] ? p->member : "-",
                 sl_role_name(p->role));
        line_close(hub, l, tmp);
        return -1;
    }
    l->open = 1;
    if (hub->audit)
        hub_audit_line(hub, l, "up", NULL);
    if (p->role == SL_ROLE_ANSWER) {
        if (m->answer) {
            /* A gateway that reconnects after a network failure must not wait for the old,
             * maybe half-open, TCP connection to time out: the newest answering line wins.
             * What was already queued for the old one still gets its chance to leave. */
            struct hub_line *old = m->answer;
            old->bound = 0;
            m->answer = NULL;
            /* kept messages in the old line's buffer are not known to have arrived: they
             * go again on the new line (at worst twice, docs/protocol.md §7) */
            if (m->nflight)
                m->sf_last = m->flight[0].id - 1;
            hub_out_line_down(hub, m, 0);
            m->nflight = 0;
            SL_INFO("hub", "answering line of %s from %s replaces the one from %s", p->member,
                    l->addr, old->addr);
            line_close_after_flush(hub, old, "replaced by a new answering line");
        }
        m->answer = l;
        l->bound = 1;
        if (m->sf_count)
            SL_INFO("hub", "%s is back: delivering %lld kept messages", p->member,
                    (long long)m->sf_count);
        hub_sf_pump(hub, m);
    }
    SL_INFO("hub", "line up: %s %s from %s (%s)", p->member, sl_role_name(p->role), l->addr,
            l->c->ssl ? "tls" : "plain");
    return 0;
}

/* Plain lines: the first frame is "AUTH <member> <role> <token>" (conn.h).  0 when the
 * line is open or still waiting for the frame, -1 when it was refused. */
static int line_auth(struct sl_hub *hub, struct hub_line *l)
{
    int r = sl_conn_plain_auth(l->c, hub->cfg.tokens);
    if (r == 1)
        return 0;
    if (r < 0) {
        /* "AUTH ERR <reason>" is queued: let it go, then close */
        line_close_after_flush(hub, l, l->c->err);
        return -1;
    }
    if (line_opened(hub, l))
        return -1;
    hub_line_mark_pending(hub, l); /* "AUTH OK" */
    return 0;
}

/* Process every whole frame in the line's input.  -1 when the line went away. */
static int line_process(struct sl_hub *hub, struct hub_line *l)
{
    if (l->c->state == SL_CONN_AUTH && line_auth(hub, l))
        return -1;
    while (l->open && !l->closing && !l->paused) {
        const uint8_t *p;
        uint32_t len;
        enum sl_frame_status st = sl_frame_peek(&l->c->in, hub->cfg.max_frame, &p, &len);
        if (st == SL_FRAME_AGAIN)
            break;
        if (st == SL_FRAME_TOO_BIG) {
            char detail[120];
            snprintf(detail, sizeof detail, "FRAME OF %u BYTES EXCEEDS THE MAXIMUM OF %u", len,
                     hub->cfg.max_frame);
            size_t have = sl_buf_used(&l->c->in) - SL_FRAME_HDR;
            l->in_count++;
            if (hub->audit)
                hub_audit_msg_begin(hub, l, (unsigned)(l->in_count % HUB_SEQ_MOD));
            hub_send_er(hub, l, SL_ER_FORMAT, detail, l->c->peer.member, NULL, NULL,
                        sl_buf_head(&l->c->in) + SL_FRAME_HDR, have < 100 ? have : 100,
                        (unsigned)(l->in_count % HUB_SEQ_MOD));
            if (hub->audit)
                hub_audit_msg_end(hub);
            snprintf(detail, sizeof detail, "frame of %u bytes over max_frame %u", len,
                     hub->cfg.max_frame);
            sl_buf_reset(&l->c->in);
            line_close_after_flush(hub, l, detail);
            return 0;
        }
        hub_process_frame(hub, l, p, len);
        sl_buf_consume(&l->c->in, SL_FRAME_HDR + len);
        if (sl_buf_used(&l->c->out) > hub->cfg.out_cap) {
            /* Its own answers pile up unread: stop reading it until they drain. */
            l->paused = 1;
            sl_loop_del(hub->loop, l->c->fd, SL_EV_READ);
        }
    }
    return 0;
}

/* One read per readiness event: sl_conn_read takes up to 256 KiB and leaves nothing
 * inside TLS, so level-triggered epoll calls again when there is more, and a busy line
 * cannot starve the others. */
static void line_readable(struct sl_hub *hub, struct hub_line *l)
{
    hub->now_s = time(NULL);
    int was_open = l->c->state == SL_CONN_OPEN;
    int r = sl_conn_read(l->c);
    if (r < 0) {
        char why[200];
        size_t left = sl_buf_used(&l->c->in);
        const char *e = l->c->err[0] ? l->c->err : "closed by peer";
        if (l->open && left)
            snprintf(why, sizeof why, "%s; line closed inside a frame (%zu bytes of it)", e,
                     left);
        else
            snprintf(why, sizeof why, "%s", e);
        line_close(hub, l, why);
        return;
    }
    if (l->c->state == SL_CONN_HANDSHAKE) {
        line_watch_write(hub, l, l->c->want_write);
        return;
    }
    if (!was_open && l->c->state == SL_CONN_OPEN && !l->open) {
        line_watch_write(hub, l, 0);
        if (line_opened(hub, l))
            return;
    }
    if (line_process(hub, l))
        return;
    /* a TLS write that waited for the peer to speak can go on now */
    if (sl_buf_used(&l->c->out))
        hub_line_mark_pending(hub, l);
}

static void line_flush(struct sl_hub *hub, struct hub_line *l)
{
    /* what this iteration kept is on disk before any SM .02. about it leaves */
    hub_sf_commit(hub);
    /* with the audit log on, only what its entries made durable leaves (hub_audit.c) */
    int r = hub->audit ? hub_audit_flush(hub, l) : sl_conn_flush(l->c);
    if (r < 0) {
        line_close(hub, l, l->c->err[0] ? l->c->err : "write failed");
        return;
    }
    hub_out_written(hub, l); /* first: its commit is the next thing after the write */
    hub_sf_written(hub, l);
    line_watch_write(hub, l, r == 1 && l->c->want_write);
    /* give back what a burst made the buffers grow to: memory follows the load */
    if (!sl_buf_used(&l->c->out) && l->c->out.cap > HUB_BUF_KEEP)
        sl_buf_free(&l->c->out);
    if (!sl_buf_used(&l->c->in) && l->c->in.cap > HUB_BUF_KEEP)
        sl_buf_free(&l->c->in);
    if (r == 0 && l->closing) {
        line_close(hub, l, l->close_why);
        return;
    }
    if (l->paused && !l->closing && !hub->draining &&
        sl_buf_used(&l->c->out) < hub->cfg.out_cap / 2) {
        l->paused = 0;
        sl_loop_add(hub->loop, l->c->fd, SL_EV_READ, on_line_event, l);
        /* whole frames may wait in `in`; epoll only knows about the socket */
        line_process(hub, l);
    }
}

static void on_line_event(struct sl_loop *loop, int fd, void *cd, int mask)
{
    struct hub_line *l = cd;
    struct sl_hub *hub = l->hub;
    (void)loop;
    (void)fd;
    if (l->c->state == SL_CONN_HANDSHAKE) {
        /* the handshake may need either direction */
        line_readable(hub, l);
        return;
    }
    if ((mask & SL_EV_WRITE) && l->watching_write) {
        uint32_t slot = l->slot, gen = l->gen;
        line_flush(hub, l);
        if (!hub_line_get(hub, slot, gen))
            return;
    }
    if ((mask & SL_EV_READ) && !l->closing && !l->paused)
        line_readable(hub, l);
}

/* ---- accept ------------------------------------------------------------------------- */

static void fmt_addr(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, outlen, "%s:%u", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(out, outlen, "[%s]:%u", host, port);
    } else {
        snprintf(out, outlen, "?");
    }
}

static void accept_resume(struct sl_hub *hub);

static int64_t on_accept_pause_end(struct sl_loop *loop, int64_t id, void *cd)
{
    struct sl_hub *hub = cd;
    (void)loop;
    (void)id;
    hub->accept_pause_timer = 0;
    accept_resume(hub);
    return SL_TIMER_NOMORE;
}

static void on_accept(struct sl_loop *loop, int fd, void *cd, int mask)
{
    struct sl_hub *hub = cd;
    (void)mask;
    for (int i = 0; i < HUB_ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof ss;
        int cfd = accept4(fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                errno == ECONNABORTED)
                return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Level-triggered: without a pause the loop would spin on the listener. */
                SL_WARN("hub", "accept: %s (%d lines open); not accepting for 100 ms",
                        strerror(errno), hub->nlines);
                sl_loop_del(loop, fd, SL_EV_READ);
                hub->accept_pause_timer = sl_loop_add_timer(loop, 100, on_accept_pause_end, hub);
                return;
            }
            SL_ERROR("hub", "accept: %s", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char addr[64];
        fmt_addr(&ss, addr, sizeof addr);
        struct sl_conn *c = NULL;
        if (sl_conn_accept(hub->tls, cfd, &c) != 0) {
            SL_WARN("hub", "line refused: %s: could not set up the connection", addr);
            close(cfd);
            continue;
        }
        struct hub_line *l = line_new(hub, c, addr);
        hub->t_accepted++;
        if (sl_loop_add(loop, cfd, SL_EV_READ, on_line_event, l) != 0) {
            line_close(hub, l, "cannot watch the socket");
            continue;
        }
        SL_DEBUG("hub", "connection from %s (slot %u)", addr, l->slot);
    }
}

static void accept_resume(struct sl_hub *hub)
{
    if (hub->lfd >= 0 && !hub->draining)
        sl_loop_add(hub->loop, hub->lfd, SL_EV_READ, on_accept, hub);
}

static int listen_on(struct sl_hub *hub, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    unsigned sslen;
    if (sl_parse_hostport(hub->cfg.listen, &ss, &sslen)) {
        snprintf(err, errlen, "listen = %s: not a host:port", hub->cfg.listen);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 4096) != 0) {
        snprintf(err, errlen, "listen on %s: %s", hub->cfg.listen, strerror(errno));
        close(fd);
        return -1;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    char addr[64] = "?";
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
        fmt_addr(&bound, addr, sizeof addr);
    hub->lfd = fd;
    SL_INFO("hub", "listening on %s (%s)", addr, hub->cfg.tls ? "tls" : "plain, loopback only");
    return 0;
}

/* ---- the loop hooks ------------------------------------------------------------------ */

static void before_sleep(struct sl_loop *loop, void *cd)
{
    struct sl_hub *hub = cd;
    (void)loop;
    hub->iter++;
    /* regional queries last (lower priority): after everything this iteration read */
    if (hub->ndeferred)
        hub_process_deferred(hub);
    /* One flush per line per iteration: everything this iteration produced for a line
     * leaves in one write.  The list can grow while we walk it (a resumed line reads). */
    for (uint32_t i = 0; i < hub->npending; i++) {
        struct hub_line *l = hub->slots[hub->pending[i]];
        if (!l || !l->pending)
            continue;
        l->pending = 0;
        line_flush(hub, l);
    }
    hub->npending = 0;
    /* deletions of what was written out */
    hub_sf_commit(hub);
}

static void stop_now(struct sl_hub *hub)
{
    for (uint32_t s = 0; s < hub->nslots; s++)
        if (hub->slots[s])
            line_close(hub, hub->slots[s], "hub shutting down");
    sl_loop_stop(hub->loop);
}

static int64_t on_tick(struct sl_loop *loop, int64_t id, void *cd)
{
    struct sl_hub *hub = cd;
    (void)loop;
    (void)id;
    int64_t now = sl_now_ms();
    hub->now_s = time(NULL);
    hub_out_expire(hub);
    for (uint32_t s = 0; s < hub->nslots; s++) {
        struct hub_line *l = hub->slots[s];
        if (!l)
            continue;
        if (!l->open && !l->closing && now > l->deadline_ms)
            line_close(hub, l, "did not authenticate in time");
        else if (l->closing && now > l->deadline_ms)
            line_close(hub, l, l->close_why);
    }
    if (hub->draining) {
        int left = 0;
        for (uint32_t s = 0; s < hub->nslots; s++)
            if (hub->slots[s] && hub->slots[s]->open && sl_buf_used(&hub->slots[s]->c->out))
                left++;
        if (!left || now >= hub->drain_deadline_ms) {
            if (left)
                SL_WARN("hub", "shutdown: %d lines still had output after %d s", left,
                        hub->cfg.shutdown_timeout_s);
            stop_now(hub);
            return SL_TIMER_NOMORE;
        }
    }
    return HUB_TICK_MS;
}

static void start_drain(struct sl_hub *hub)
{
    if (hub->draining) {
        SL_INFO("hub", "second stop signal: stopping now");
        stop_now(hub);
        return;
    }
    hub->draining = 1;
    hub->drain_deadline_ms = sl_now_ms() + (int64_t)hub->cfg.shutdown_timeout_s * 1000;
    SL_INFO("hub", "stopping: no new lines, flushing queued output (at most %d s)",
            hub->cfg.shutdown_timeout_s);
    if (hub->lfd >= 0) {
        sl_loop_del(hub->loop, hub->lfd, SL_EV_READ);
        close(hub->lfd);
        hub->lfd = -1;
    }
    if (hub->accept_pause_timer) {
        sl_loop_del_timer(hub->loop, hub->accept_pause_timer);
        hub->accept_pause_timer = 0;
    }
    hub_ctl_close(hub);
    for (uint32_t s = 0; s < hub->nslots; s++) {
        struct hub_line *l = hub->slots[s];
        if (!l)
            continue;
        if (!l->open) {
            line_close(hub, l, "hub shutting down");
            continue;
        }
        sl_loop_del(hub->loop, l->c->fd, SL_EV_READ);
        l->paused = 1;
        hub_line_mark_pending(hub, l);
    }
    /* check at once, then every tick */
    sl_loop_del_timer(hub->loop, hub->timer_id);
    hub->timer_id = sl_loop_add_timer(hub->loop, 1, on_tick, hub);
}

static void on_signal(struct sl_loop *loop, int signo, void *cd)
{
    struct sl_hub *hub = cd;
    (void)loop;
    if (signo == SIGHUP) {
        char err[512] = "";
        if (hub->audit)
            hub_audit_ctl_begin(hub, -1, "SIGHUP", NULL);
        int rc = hub_reload(hub, err, sizeof err);
        if (rc != 0)
            SL_ERROR("hub", "reload refused, the running configuration stays: %s", err);
        if (hub->audit)
            hub_audit_ctl_end(hub, rc == 0, err);
        return;
    }
    start_drain(hub);
}

/* ---- configuration and directory ----------------------------------------------------- */

static int load_snapshot(const char *path, struct sl_dir_snap **out, char *err, size_t errlen)
{
    struct sl_dir *d = NULL;
    char derr[256] = "";
    if (sl_dir_open(path, 0, &d, derr, sizeof derr) != 0) {
        snprintf(err, errlen, "directory %s: %s", path, derr);
        return -1;
    }
    int rc = sl_dir_snapshot(d, out);
    sl_dir_close(d);
    if (rc != 0) {
        snprintf(err, errlen, "directory %s: could not load a snapshot", path);
        return -1;
    }
    return 0;
}

int hub_reload(struct sl_hub *hub, char *err, size_t errlen)
{
    struct sl_hub_config *cfg = sl_xmalloc(sizeof *cfg);
    struct sl_dir_snap *snap = NULL;
    struct hub_members members;
    int64_t t0 = sl_now_ms();
    if (sl_hub_config_load(hub->cfg.path, cfg, err, errlen) != 0) {
        free(cfg);
        return -1;
    }
    if (load_snapshot(cfg->directory, &snap, err, errlen) != 0) {
        free(cfg);
        return -1;
    }
    /* What a running listener cannot change without dropping lines needs a restart. */
    const char *fixed = NULL;
    if (strcmp(cfg->listen, hub->cfg.listen))
        fixed = "listen";
    else if (cfg->tls != hub->cfg.tls || cfg->plain != hub->cfg.plain)
        fixed = "tls/plain";
    else if (strcmp(cfg->cert, hub->cfg.cert) || strcmp(cfg->key, hub->cfg.key) ||
             strcmp(cfg->ca, hub->cfg.ca))
        fixed = "cert/key/ca";
    else if (strcmp(cfg->ctl, hub->cfg.ctl))
        fixed = "ctl";
    else if (cfg->requester_map != hub->cfg.requester_map)
        fixed = "requester_map";
    else if (strcmp(cfg->queue, hub->cfg.queue) || strcmp(cfg->archive, hub->cfg.archive) ||
             cfg->archive_retention_days != hub->cfg.archive_retention_days ||
             cfg->archive_queue != hub->cfg.archive_queue ||
             cfg->archive_sync_full != hub->cfg.archive_sync_full)
        fixed = "queue/archive";
    else if (cfg->msq_max != hub->cfg.msq_max)
        fixed = "msq_max";
    else if (strcmp(cfg->audit_dir, hub->cfg.audit_dir) ||
             strcmp(cfg->audit_key, hub->cfg.audit_key) ||
             cfg->audit_checkpoint_ms != hub->cfg.audit_checkpoint_ms ||
             cfg->audit_checkpoint_every != hub->cfg.audit_checkpoint_every)
        fixed = "audit_dir/audit_key/audit_checkpoint_*";
    if (fixed)
        SL_WARN("hub", "reload: a change of %s takes effect at the next restart", fixed);
    sl_strlcpy(cfg->listen, hub->cfg.listen, sizeof cfg->listen);
    cfg->tls = hub->cfg.tls;
    cfg->plain = hub->cfg.plain;
    sl_strlcpy(cfg->cert, hub->cfg.cert, sizeof cfg->cert);
    sl_strlcpy(cfg->key, hub->cfg.key, sizeof cfg->key);
    sl_strlcpy(cfg->ca, hub->cfg.ca, sizeof cfg->ca);
    sl_strlcpy(cfg->ctl, hub->cfg.ctl, sizeof cfg->ctl);
    cfg->requester_map = hub->cfg.requester_map;
    sl_strlcpy(cfg->queue, hub->cfg.queue, sizeof cfg->queue);
    sl_strlcpy(cfg->archive, hub->cfg.archive, sizeof cfg->archive);
    cfg->archive_retention_days = hub->cfg.archive_retention_days;
    cfg->archive_queue = hub->cfg.archive_queue;
    cfg->archive_sync_full = hub->cfg.archive_sync_full;
    cfg->msq_max = hub->cfg.msq_max;
    sl_strlcpy(cfg->audit_dir, hub->cfg.audit_dir, sizeof cfg->audit_dir);
    sl_strlcpy(cfg->audit_key, hub->cfg.audit_key, sizeof cfg->audit_key);
    cfg->audit_checkpoint_ms = hub->cfg.audit_checkpoint_ms;
    cfg->audit_checkpoint_every = hub->cfg.audit_checkpoint_every;

    hub_members_build(hub, cfg, snap, &members);
    /* carry the answering lines over; a line whose member left the directory stays up
     * (its messages are refused: its ORIs are gone), but nothing is routed to it */
    for (uint32_t i = 0; i <= hub->members.mask && hub->members.tab; i++) {
        struct hub_member *old = &hub->members.tab[i];
        if (!old->code[0] || !old->answer)
            continue;
        struct hub_member *nm = hub_member_find(&members, old->code);
        if (nm)
            nm->answer = old->answer;
        else
            old->answer->bound = 0;
    }
    /* the service states and the store-and-forward positions stay */
    for (uint32_t i = 0; i <= hub->members.mask && hub->members.tab; i++) {
        struct hub_member *old = &hub->members.tab[i];
        struct hub_member *nm = old->code[0] ? hub_member_find(&members, old->code) : NULL;
        if (!nm)
            continue;
        nm->svc = old->svc;
        nm->sf_count = old->sf_count;
        nm->sf_last = old->sf_last;
        nm->nflight = old->nflight;
        nm->flight = old->flight;
        old->flight = NULL;
        nm->out = old->out;
        old->out = NULL;
    }
    hub_members_free(&hub->members);
    hub->members = members;
    sl_dir_snap_free(hub->snap);
    hub->snap = snap;
    hub->cfg = *cfg;
    free(cfg);
    hub->t_reloads++;
    /* The snapshot loads on the loop thread: traffic waits meanwhile (tens of ms for a
     * national directory), which the log shows so an operator can see it grow. */
    SL_INFO("hub", "reloaded %s: %d members, %lld ORIs from %s in %lld ms", hub->cfg.path,
            hub->members.n, (long long)sl_dir_snap_count(hub->snap), hub->cfg.directory,
            (long long)(sl_now_ms() - t0));
    return 0;
}

/* ---- life cycle ---------------------------------------------------------------------- */

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            SL_WARN("hub", "cannot raise the open-files limit: %s", strerror(errno));
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        SL_DEBUG("hub", "open-files limit %llu", (unsigned long long)rl.rlim_cur);
}

static void on_archive_event(struct sl_loop *loop, int fd, void *cd, int mask)
{
    (void)loop;
    (void)fd;
    (void)mask;
    hub_archive_drain(cd);
}

int sl_hub_new(const char *config_path, struct sl_hub **out, char *err, size_t errlen)
{
    if (sl_sqlite_setup() != 0) /* before the first connection (sqlcfg.h) */
        SL_DEBUG("hub", "SQLite already initialised: its settings stay as set "
                 "(stateline's main sets them first)");
    struct sl_hub *hub = sl_xcalloc(1, sizeof *hub);
    hub->lfd = -1;
    hub->ctl_fd = -1;
    sl_buf_init(&hub->scratch);
    hub_keys_init(hub);
    *out = NULL;
    if (sl_hub_config_load(config_path, &hub->cfg, err, errlen) != 0)
        goto fail;
    if (load_snapshot(hub->cfg.directory, &hub->snap, err, errlen) != 0)
        goto fail;
    hub_members_build(hub, &hub->cfg, hub->snap, &hub->members);
    /* 2 MB by default, one bucket read at random per message: huge pages (hugemem.h) */
    hub->reqmap = sl_huge_zalloc(hub->cfg.requester_map * sizeof *hub->reqmap);
    hub->reqmap_mask = hub->cfg.requester_map - 1;
    if (!hub->cfg.tls && access(hub->cfg.tokens, R_OK) != 0) {
        snprintf(err, errlen, "tokens = %s: %s (plain lines authenticate with it)",
                 hub->cfg.tokens, strerror(errno));
        goto fail;
    }
    if (hub->cfg.tls) {
        char terr[256] = "";
        if (sl_tls_new_server(hub->cfg.cert, hub->cfg.key, hub->cfg.ca, &hub->tls, terr,
                              sizeof terr) != 0) {
            snprintf(err, errlen, "TLS: %s", terr);
            goto fail;
        }
    }
    raise_nofile();
    /* the loop's descriptor table doubles on demand: start small, not at the limit */
    hub->loop = sl_loop_create(1024);
    if (!hub->loop) {
        snprintf(err, errlen, "cannot create the event loop: %s", strerror(errno));
        goto fail;
    }
    if (hub_sf_open(hub, err, errlen) != 0)
        goto fail;
    hub_sf_load(hub);
    hub_msq_init(hub);
    if (hub->cfg.audit_dir[0] && hub_audit_open(hub, err, errlen) != 0)
        goto fail;
    if (hub->cfg.archive[0]) {
        /* The archive's threads inherit this mask: the stop and reload signals must reach
         * the loop's signal descriptor, never a worker thread (default action: exit). */
        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &ss, NULL);
        struct sl_archive_conf ac;
        sl_archive_conf_default(&ac);
        ac.path = hub->cfg.archive;
        ac.retention_days = hub->cfg.archive_retention_days;
        ac.queue_max = hub->cfg.archive_queue;
        ac.sync_full = hub->cfg.archive_sync_full;
        char aerr[256] = "";
        if (sl_archive_open(&ac, &hub->archive, aerr, sizeof aerr) != 0) {
            snprintf(err, errlen, "archive = %s: %s", hub->cfg.archive, aerr);
            goto fail;
        }
        int efd = sl_archive_event_fd(hub->archive);
        if (efd >= 0 && sl_loop_add(hub->loop, efd, SL_EV_READ, on_archive_event, hub) != 0) {
            snprintf(err, errlen, "archive: cannot watch its event descriptor");
            goto fail;
        }
    }
    if (listen_on(hub, err, errlen) != 0)
        goto fail;
    if (hub->cfg.ctl[0] && hub_ctl_listen(hub, err, errlen) != 0)
        goto fail;
    SL_INFO("hub", "directory %s: %d members, %lld ORIs; switch ORI %s; max_frame %u; "
            "out_cap %zu", hub->cfg.directory, hub->members.n,
            (long long)sl_dir_snap_count(hub->snap), hub->cfg.ori, hub->cfg.max_frame,
            hub->cfg.out_cap);
    *out = hub;
    return 0;
fail:
    sl_hub_free(hub);
    return -1;
}

int sl_hub_run(struct sl_hub *hub)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    signal(SIGPIPE, SIG_IGN);
    if (sl_loop_watch_signals(hub->loop, sigs, 3, on_signal, hub) != 0) {
        SL_ERROR("hub", "cannot watch signals: %s", strerror(errno));
        return 1;
    }
    sl_loop_set_before_sleep(hub->loop, before_sleep, hub);
    hub->timer_id = sl_loop_add_timer(hub->loop, HUB_TICK_MS, on_tick, hub);
    hub->started_ms = sl_now_ms();
    accept_resume(hub);
    sl_loop_run(hub->loop);
    SL_INFO("hub", "stopped: %llu frames in, %llu out, %llu routed, %llu ER, %llu SM",
            (unsigned long long)hub->t_frames_in, (unsigned long long)hub->t_frames_out,
            (unsigned long long)hub->t_routed, (unsigned long long)hub->t_er,
            (unsigned long long)hub->t_sm);
    return hub->exit_code;
}

void sl_hub_free(struct sl_hub *hub)
{
    if (!hub)
        return;
    for (uint32_t s = 0; s < hub->nslots; s++)
        if (hub->slots[s]) {
            sl_conn_free(hub->slots[s]->c);
            free(hub->slots[s]->aud);
            free(hub->slots[s]);
        }
    hub_audit_close(hub); /* flush, sign the last checkpoint */
    free(hub->slots);
    free(hub->free_slots);
    free(hub->pending);
    hub_ctl_close(hub);
    if (hub->archive) {
        if (hub->loop)
            sl_loop_del(hub->loop, sl_archive_event_fd(hub->archive), SL_EV_READ);
        sl_archive_close(hub->archive);
    }
    hub_nlq_free_all(hub);
    for (uint32_t i = 0; i < hub->ndeferred; i++)
        free(hub->deferred[i].p);
    free(hub->deferred);
    hub_msq_free(hub);
    free(hub->forgets);
    hub_sf_close(hub);
    if (hub->lfd >= 0)
        close(hub->lfd);
    if (hub->loop)
        sl_loop_free(hub->loop);
    if (hub->tls)
        sl_tls_free(hub->tls);
    if (hub->snap)
        sl_dir_snap_free(hub->snap);
    hub_members_free(&hub->members);
    free(hub->reqmap);
    sl_buf_free(&hub->scratch);
    free(hub);
}
