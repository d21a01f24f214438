/*
 * hub_ctl.c - the hub's control socket (docs/operations.md, "Control socket").
 *
 * A Unix stream socket (mode 0600, the hub's user only).  A client sends one command
 * line, "stats", "lines" or "reload", ending in a newline (or half-closes); the hub
 * answers one JSON object and closes:
 *
 *   stats   {"lines": N, "lines_open": N, "uptime_s": N, "frames_in": N, "frames_out": N,
 *            "routed": N, "er": N, "sm": N, "accepted": N, "refused_lines": N,
 *            "reloads": N, "members": N, "draining": false, ..., "outstanding": N (queries
 *            delivered to answering lines, not answered), "archive_behind": N (with the
 *            archive: messages not yet searchable), "requeued": N (kept again when
 *            their line dropped), "dup_answers": N (second answers dropped),
 *            "unanswered": N (no longer waited for after answer_wait); with the
 *            audit log on "audit": {"entries", "durable", "batches", "checkpoints",
 *            "queue_full_waits", "lines_held", "bytes_held"}}
 *   lines   {"lines": [{"slot": N, "member": "WA", "role": "answer", "addr": "ip:port",
 *            "transport": "tls", "open": true, "answering": true, "age_s": N,
 *            "frames_in": N, "bytes_in": N, "frames_out": N, "bytes_out": N,
 *            "errors": N, "refused": N, "in_seq": N, "out_seq": N, "out_pending": N,
 *            "paused": false}, ...]}
 *   reload  {"ok": true} or {"ok": false, "error": "why"}
 *   line WA up|down|removed
 *           {"ok": true, "member": "WA", "state": "down", "kept": N}: the member's service
 *           state, persisted in the queue database; every open line gets an SM
 *           ("WA OUT OF SERVICE FOR ALL MSG TYPES, NLETS WILL FORWARD" / "... WILL NOT
 *           FORWARD" / "WA IN SERVICE")
 *   queue   {"members": [{"member": "WA", "state": "down", "kept": N, "connected": false},
 *           ...]}: members that are not up or have kept messages
 *   other   {"error": "unknown command ..."}
 *
 * Control clients are few and short-lived; each is served on the loop without blocking.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hub/hub_int.h"
#include "stateline/archive.h"
#include "stateline/core.h"

#define CTL_MAX_CMD 256

struct ctl_client {
    struct ctl_client *next, *prev;
    struct sl_hub *hub;
    int fd;
    char cmd[CTL_MAX_CMD];
    size_t cmdlen;
    struct sl_buf out;
    int replying;
};

static void ctl_client_free(struct sl_hub *hub, struct ctl_client *cc)
{
    if (cc->prev)
        cc->prev->next = cc->next;
    else
        hub->ctl_clients = cc->next;
    if (cc->next)
        cc->next->prev = cc->prev;
    sl_loop_del(hub->loop, cc->fd, SL_EV_READ | SL_EV_WRITE);
    close(cc->fd);
    sl_buf_free(&cc->out);
    free(cc);
}

static json_t *stats_json(struct sl_hub *hub)
{
    int open = 0;
    for (uint32_t s = 0; s < hub->nslots; s++)
        if (hub->slots[s] && hub->slots[s]->open)
            open++;
    json_t *o = json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:b, s:I, s:I, s:I, "
                     "s:I, s:I, s:i}",
                     "lines", hub->nlines, "lines_open", open, "uptime_s",
                     (json_int_t)((sl_now_ms() - hub->started_ms) / 1000), "frames_in",
                     (json_int_t)hub->t_frames_in, "frames_out", (json_int_t)hub->t_frames_out,
                     "routed", (json_int_t)hub->t_routed, "er", (json_int_t)hub->t_er, "sm",
                     (json_int_t)hub->t_sm, "accepted", (json_int_t)hub->t_accepted,
                     "refused_lines", (json_int_t)hub->t_refused_lines, "reloads",
                     (json_int_t)hub->t_reloads, "members", hub->members.n, "draining",
                     hub->draining, "kept", (json_int_t)hub->t_queued, "forwarded",
                     (json_int_t)hub->t_forwarded, "archive_lost",
                     (json_int_t)hub->t_archive_lost, "msq", (json_int_t)hub->t_msq,
                     "regional", (json_int_t)hub->t_regional, "msq_active",
                     (int)hub->msq_active);
    if (hub->audit) {
        struct hub_audit_stats st;
        hub_audit_stats(hub, &st);
        json_object_set_new(
            o, "audit",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "entries", (json_int_t)st.entries,
                      "durable", (json_int_t)st.durable, "batches", (json_int_t)st.batches,
                      "checkpoints", (json_int_t)st.checkpoints, "queue_full_waits",
                      (json_int_t)st.queue_full_waits, "lines_held", (json_int_t)st.lines_held,
                      "bytes_held", (json_int_t)st.bytes_held));
    }
    if (hub->archive) {
        /* messages not yet searchable: the writer's backlog (benchmarks, monitoring) */
        struct sl_archive_stats as;
        sl_archive_stats(hub->archive, &as);
        json_object_set_new(o, "archive_behind", json_integer((json_int_t)as.behind));
    }
    /* queries kept again when their answering line dropped; repeated answers dropped */
    uint64_t outstanding = 0;
    for (uint32_t i = 0; i <= hub->members.mask && hub->members.tab; i++)
        outstanding += hub_out_count(&hub->members.tab[i]);
    json_object_set_new(o, "outstanding", json_integer((json_int_t)outstanding));
    json_object_set_new(o, "requeued", json_integer((json_int_t)hub->t_requeued));
    json_object_set_new(o, "dup_answers", json_integer((json_int_t)hub->t_dup_answers));
    json_object_set_new(o, "unanswered", json_integer((json_int_t)hub->t_unanswered));
    return o;
}

static json_t *lines_json(struct sl_hub *hub)
{
    json_t *arr = json_array();
    int64_t now = sl_now_ms();
    for (uint32_t s = 0; s < hub->nslots; s++) {
        struct hub_line *l = hub->slots[s];
        if (!l)
            continue;
        json_t *o = json_pack(
            "{s:i, s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, "
            "s:I, s:b}",
            "slot", (int)l->slot, "member", l->c->peer.member, "role",
            sl_role_name(l->c->peer.role), "addr", l->addr, "transport",
            l->c->ssl ? "tls" : "plain", "open", l->open, "answering", l->bound, "age_s",
            (json_int_t)((now - l->since_ms) / 1000), "frames_in", (json_int_t)l->frames_in,
            "bytes_in", (json_int_t)l->bytes_in, "frames_out", (json_int_t)l->frames_out,
            "bytes_out", (json_int_t)l->bytes_out, "errors", (json_int_t)l->errors,
            "refused", (json_int_t)l->refused, "in_seq", (int)(l->in_count % HUB_SEQ_MOD),
            "out_seq", (int)(l->out_count % HUB_SEQ_MOD), "out_pending",
            (json_int_t)sl_buf_used(&l->c->out), "paused", l->paused);
        json_array_append_new(arr, o);
    }
    return json_pack("{s:o}", "lines", arr);
}

static const char *svc_name(int svc)
{
    return svc == HUB_DOWN ? "down" : svc == HUB_REMOVED ? "removed" : "up";
}

static json_t *queue_json(struct sl_hub *hub)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; i <= hub->members.mask && hub->members.tab; i++) {
        struct hub_member *m = &hub->members.tab[i];
        if (!m->code[0] || (m->svc == HUB_UP && !m->sf_count))
            continue;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:b}", "member", m->code,
                                             "state", svc_name(m->svc), "kept",
                                             (json_int_t)m->sf_count, "connected",
                                             m->answer != NULL));
    }
    return json_pack("{s:o}", "members", arr);
}

/* "line WA down": set, persist, tell every line, deliver what waits when it is up. */
static json_t *line_cmd(struct sl_hub *hub, char *args)
{
    char member[SL_MEMBER_MAX + 1] = "", state[16] = "";
    if (sscanf(args, "%8s %15s", member, state) != 2)
        return json_pack("{s:s}", "error", "usage: line MEMBER up|down|removed");
    struct hub_member *m = hub_member_find(&hub->members, member);
    if (!m || m->kind == 'N') {
        char msg[96];
        snprintf(msg, sizeof msg, "%s is not a member line of this directory", member);
        return json_pack("{s:s}", "error", msg);
    }
    int svc = !strcmp(state, "up") ? HUB_UP : !strcmp(state, "down") ? HUB_DOWN
              : !strcmp(state, "removed") ? HUB_REMOVED : -1;
    if (svc < 0)
        return json_pack("{s:s}", "error", "state must be up, down or removed");
    char err[256];
    if (hub_sf_set_svc(hub, m->code, svc, err, sizeof err) != 0)
        return json_pack("{s:s}", "error", err);
    int was = m->svc;
    m->svc = svc;
    SL_INFO("hub", "operator: %s set %s (was %s); %lld kept messages", m->code, svc_name(svc),
            svc_name(was), (long long)m->sf_count);
    char text[160];
    if (svc == HUB_UP)
        snprintf(text, sizeof text, "%s IN SERVICE", m->code);
    else
        snprintf(text, sizeof text, "%s OUT OF SERVICE FOR ALL MSG TYPES, NLETS WILL %s",
                 m->code, svc == HUB_DOWN ? "FORWARD" : "NOT FORWARD");
    hub_broadcast_sm(hub, text);
    if (svc == HUB_UP)
        hub_sf_pump(hub, m);
    return json_pack("{s:b, s:s, s:s, s:I}", "ok", 1, "member", m->code, "state",
                     svc_name(svc), "kept", (json_int_t)m->sf_count);
}

static void ctl_answer(struct sl_hub *hub, struct ctl_client *cc)
{
    char *cmd = cc->cmd;
    cmd[cc->cmdlen] = '\0';
    while (*cmd == ' ')
        cmd++;
    size_t n = strcspn(cmd, "\r\n ");
    char *args = cmd + n + (cmd[n] == ' ');
    args[strcspn(args, "\r\n")] = '\0';
    cmd[n] = '\0';
    json_t *reply;
    if (!strcmp(cmd, "line")) {
        if (hub->audit)
            hub_audit_ctl_begin(hub, cc->fd, cmd, args);
        reply = line_cmd(hub, args);
        if (hub->audit) {
            const char *e = json_string_value(json_object_get(reply, "error"));
            hub_audit_ctl_end(hub, e == NULL, e);
        }
    } else if (!strcmp(cmd, "queue")) {
        reply = queue_json(hub);
    } else if (!strcmp(cmd, "stats")) {
        reply = stats_json(hub);
    } else if (!strcmp(cmd, "lines")) {
        reply = lines_json(hub);
    } else if (!strcmp(cmd, "reload")) {
        char err[512] = "";
        if (hub->audit)
            hub_audit_ctl_begin(hub, cc->fd, cmd, NULL);
        int rc = hub_reload(hub, err, sizeof err);
        if (rc == 0) {
            reply = json_pack("{s:b}", "ok", 1);
        } else {
            SL_ERROR("hub", "reload refused, the running configuration stays: %s", err);
            reply = json_pack("{s:b, s:s}", "ok", 0, "error", err);
        }
        if (hub->audit)
            hub_audit_ctl_end(hub, rc == 0, err);
    } else {
        char msg[CTL_MAX_CMD + 64];
        snprintf(msg, sizeof msg, "unknown command '%s' (stats, lines, reload, line, queue)", cmd);
        reply = json_pack("{s:s}", "error", msg);
    }
    char *text = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    sl_buf_append_str(&cc->out, text ? text : "{}");
    sl_buf_append(&cc->out, "\n", 1);
    free(text);
    cc->replying = 1;
}

static void on_ctl_client(struct sl_loop *loop, int fd, void *cd, int mask)
{
    struct ctl_client *cc = cd;
    struct sl_hub *hub = cc->hub;
    if (!cc->replying && (mask & SL_EV_READ)) {
        ssize_t r = read(fd, cc->cmd + cc->cmdlen, CTL_MAX_CMD - 1 - cc->cmdlen);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r < 0) {
            ctl_client_free(hub, cc);
            return;
        }
        cc->cmdlen += (size_t)r;
        if (r > 0 && !memchr(cc->cmd, '\n', cc->cmdlen) && cc->cmdlen < CTL_MAX_CMD - 1)
            return;
        ctl_answer(hub, cc);
        sl_loop_del(loop, fd, SL_EV_READ);
        sl_loop_add(loop, fd, SL_EV_WRITE, on_ctl_client, cc);
    }
    if (cc->replying) {
        while (sl_buf_used(&cc->out)) {
            ssize_t w = write(fd, sl_buf_head(&cc->out), sl_buf_used(&cc->out));
            if (w < 0 && errno == EAGAIN)
                return;
            if (w <= 0)
                break;
            sl_buf_consume(&cc->out, (size_t)w);
        }
        ctl_client_free(hub, cc);
    }
}

static void on_ctl_accept(struct sl_loop *loop, int fd, void *cd, int mask)
{
    struct sl_hub *hub = cd;
    (void)mask;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;
        struct ctl_client *cc = sl_xcalloc(1, sizeof *cc);
        cc->hub = hub;
        cc->fd = cfd;
        sl_buf_init(&cc->out);
        if (sl_loop_add(loop, cfd, SL_EV_READ, on_ctl_client, cc) != 0) {
            close(cfd);
            free(cc);
            continue;
        }
        cc->next = hub->ctl_clients;
        if (cc->next)
            cc->next->prev = cc;
        hub->ctl_clients = cc;
    }
}

int hub_ctl_listen(struct sl_hub *hub, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(hub->cfg.ctl) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "ctl = %s: path longer than %zu characters", hub->cfg.ctl,
                 sizeof sa.sun_path - 1);
        return -1;
    }
    sl_strlcpy(sa.sun_path, hub->cfg.ctl, sizeof sa.sun_path);
    struct stat st;
    /* a socket left by a hub that died; anything else at that path is not ours to remove */
    if (lstat(hub->cfg.ctl, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "ctl = %s: exists and is not a socket", hub->cfg.ctl);
            return -1;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (probe >= 0)
            close(probe);
        if (live) {
            snprintf(err, errlen, "ctl = %s: another hub is running with this control socket",
                     hub->cfg.ctl);
            return -1;
        }
        unlink(hub->cfg.ctl);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "ctl socket: %s", strerror(errno));
        return -1;
    }
    mode_t old = umask(077);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc != 0 || listen(fd, 16) != 0) {
        snprintf(err, errlen, "ctl = %s: %s", hub->cfg.ctl, strerror(errno));
        close(fd);
        return -1;
    }
    if (sl_loop_add(hub->loop, fd, SL_EV_READ, on_ctl_accept, hub) != 0) {
        snprintf(err, errlen, "ctl: cannot watch the socket");
        close(fd);
        return -1;
    }
    hub->ctl_fd = fd;
    return 0;
}

void hub_ctl_close(struct sl_hub *hub)
{
    while (hub->ctl_clients)
        ctl_client_free(hub, hub->ctl_clients);
    if (hub->ctl_fd < 0)
        return;
    if (hub->loop)
        sl_loop_del(hub->loop, hub->ctl_fd, SL_EV_READ);
    close(hub->ctl_fd);
    hub->ctl_fd = -1;
    unlink(hub->cfg.ctl);
}

int sl_hub_ctl_request(const char *socket_path, const char *command, struct sl_buf *out,
                       int timeout_ms, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(socket_path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "%s: path too long", socket_path);
        return -1;
    }
    sl_strlcpy(sa.sun_path, socket_path, sizeof sa.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(err, errlen, "%s: %s", socket_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char line[CTL_MAX_CMD];
    int n = snprintf(line, sizeof line, "%s\n", command);
    if (n < 0 || (size_t)n >= sizeof line || write(fd, line, (size_t)n) != n) {
        snprintf(err, errlen, "%s: cannot send the command", socket_path);
        close(fd);
        return -1;
    }
    int64_t deadline = sl_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - sl_now_ms();
        struct pollfd pfd = {fd, POLLIN, 0};
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            snprintf(err, errlen, "%s: no answer in %d ms", socket_path, timeout_ms);
            close(fd);
            return -1;
        }
        uint8_t *p = sl_buf_reserve(out, 65536);
        ssize_t r = read(fd, p, 65536);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: %s", socket_path, strerror(errno));
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        sl_buf_commit(out, (size_t)r);
    }
    close(fd);
    return 0;
}
