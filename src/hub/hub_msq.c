/*
 * hub_msq.c - multi-state queries: a DQ, RQ or KQ addressed to NL goes to every state that
 * takes the key, and the requester gets one merged reply (docs/protocol.md §5).
 *
 * A collection lives in a fixed table of cfg.msq_max slots (no allocation per query beyond
 * the merged body).  Each copy carries the control field "NL" + 8 digits, the collection's
 * id: every state echoes the control field (G-2), so its answer finds the collection in one
 * array look-up, and the requester's own control field comes back on the merged reply.
 * The collection ends when every state has answered, or at its timer (msq_timeout).
 *
 * A state's answer is a NO HIT when its body (leading blanks skipped) starts with
 * "NOT ON FILE", "NO HIT" or "NO RECORD": counted, left out of the body.  "FILE NOT
 * AVAILABLE" and "TEMPORARILY UNAVAILABLE" are shown and counted as NO ANSWER (the state
 * could not search).  Anything else is a HIT and shown.
 *
 * Each copy carries a switch message id (MID/) like every query to an answering line, but
 * is not in the line's outstanding table: the collection itself waits for it.  A copy whose
 * line drops counts as NO ANSWER (OUT OF SERVICE) at once; nothing is kept for a
 * multi-state query (the requester wants the answer now).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub_int.h"
#include "stateline/core.h"

enum { ST_PENDING = 0, ST_HIT, ST_NOHIT, ST_NOANSWER, ST_DOWN };

struct hub_msq {
    uint32_t id;               /* 0 = free */
    uint32_t slot, gen;        /* the requester's line */
    char ori[SL_ORI_LEN + 1];
    char member[SL_MEMBER_MAX];
    char ctl[SL_MSG_CTL_MAX + 1];
    char key[4], reply_key[4];
    unsigned rx_seq;
    int64_t rx_time;
    int n, pending;
    char st[HUB_MSQ_STATES][3];
    uint8_t status[HUB_MSQ_STATES];
    struct sl_buf body;        /* the states' hits, in the order they came */
    int truncated;
    int64_t timer;
    struct sl_hub *hub;
};

int hub_msq_init(struct sl_hub *hub)
{
    hub->msq = sl_xcalloc(hub->cfg.msq_max, sizeof *hub->msq);
    hub->msq_next = 1;
    return 0;
}

void hub_msq_free(struct sl_hub *hub)
{
    if (!hub->msq)
        return;
    for (uint32_t i = 0; i < hub->cfg.msq_max; i++)
        sl_buf_free(&hub->msq[i].body);
    free(hub->msq);
    hub->msq = NULL;
}

static void list(struct sl_buf *b, const char *what, const struct hub_msq *q, int want)
{
    int any = 0;
    sl_buf_printf(b, "%s:", what);
    for (int i = 0; i < q->n; i++) {
        int s = q->status[i];
        int match = want < 0 ? 1 : want == ST_NOANSWER ? (s == ST_NOANSWER || s == ST_DOWN ||
                                                          s == ST_PENDING)
                                                       : s == want;
        if (match) {
            sl_buf_printf(b, " %s%s", q->st[i], s == ST_DOWN ? "(OUT OF SERVICE)" : "");
            any = 1;
        }
    }
    if (!any)
        sl_buf_append_str(b, " NONE");
    sl_buf_append(b, "\n", 1);
}

static void finish(struct sl_hub *hub, struct hub_msq *q)
{
    int hit = 0, nohit = 0, noans = 0;
    for (int i = 0; i < q->n; i++) {
        if (q->status[i] == ST_HIT)
            hit++;
        else if (q->status[i] == ST_NOHIT)
            nohit++;
        else
            noans++;
    }
    struct sl_buf b = SL_BUF_INIT;
    sl_buf_printf(&b, "MULTI-STATE QUERY %s - %d STATES QUERIED, %d HIT, %d NO HIT, "
                      "%d NO ANSWER\n", q->key, q->n, hit, nohit, noans);
    if (sl_buf_used(&q->body))
        sl_buf_append(&b, sl_buf_head(&q->body), sl_buf_used(&q->body));
    if (q->truncated)
        sl_buf_append_str(&b, "MORE RESPONSES NOT SHOWN: THE REPLY REACHED ITS SIZE LIMIT\n");
    sl_buf_append_str(&b, "SUMMARY\n");
    list(&b, "QUERIED", q, -1);
    list(&b, "HIT", q, ST_HIT);
    list(&b, "NO HIT", q, ST_NOHIT);
    list(&b, "NO ANSWER", q, ST_NOANSWER);
    struct sl_outhdr h;
    hub_switch_header(hub, &h, q->reply_key, q->ori, q->ctl, q->rx_seq);
    h.rx_time = q->rx_time;
    hub->now_s = time(NULL);
    struct hub_line *l = hub_line_get(hub, q->slot, q->gen);
    if (l && l->open && !l->closing)
        hub_emit(hub, l, &h, (const char *)sl_buf_head(&b), sl_buf_used(&b), NULL);
    else
        hub_deliver_ori(hub, q->ori, &h, (const char *)sl_buf_head(&b), sl_buf_used(&b), NULL);
    SL_DEBUG("hub", "multi-state %s from %s: %d queried, %d hit, %d no hit, %d no answer",
             q->key, q->ori, q->n, hit, nohit, noans);
    sl_buf_free(&b);
    sl_buf_free(&q->body); /* a slot keeps no memory between queries */
    if (q->timer)
        sl_loop_del_timer(hub->loop, q->timer);
    q->timer = 0;
    q->id = 0;
    hub->msq_active--;
}

static int64_t on_timeout(struct sl_loop *loop, int64_t id, void *cd)
{
    struct hub_msq *q = cd;
    (void)loop;
    (void)id;
    q->timer = 0;
    if (q->id)
        finish(q->hub, q);
    return SL_TIMER_NOMORE;
}

int hub_msq_start(struct sl_hub *hub, struct hub_line *line, const struct sl_msg *m,
                  const struct sl_ori *so, int kidx, const uint8_t *orig, size_t orig_len,
                  unsigned rx_seq)
{
    const struct sl_key_info *ki = sl_key_lookup(m->key);
    struct hub_msq *q = NULL;
    for (uint32_t tries = 0; tries < hub->cfg.msq_max; tries++) {
        uint32_t id = hub->msq_next++;
        if (hub->msq_next > 99999999u)
            hub->msq_next = 1;
        struct hub_msq *c = &hub->msq[id % hub->cfg.msq_max];
        if (!c->id) {
            q = c;
            q->id = id;
            break;
        }
    }
    if (!q) {
        hub_send_sm(hub, line, m, 4, "NL",
                    "TOO MANY MULTI-STATE QUERIES IN PROGRESS, SEND IT AGAIN LATER", orig,
                    orig_len, rx_seq);
        return 0;
    }
    hub->msq_active++;
    q->hub = hub;
    q->slot = line->slot;
    q->gen = line->gen;
    memcpy(q->ori, m->ori, sizeof q->ori);
    sl_strlcpy(q->member, so->member, sizeof q->member);
    sl_strlcpy(q->ctl, m->ctl, sizeof q->ctl);
    sl_strlcpy(q->key, m->key, sizeof q->key);
    sl_strlcpy(q->reply_key, ki->reply, sizeof q->reply_key);
    q->rx_seq = rx_seq;
    q->rx_time = hub->now_s;
    q->n = q->pending = 0;
    q->truncated = 0;

    struct sl_outhdr h;
    memset(&h, 0, sizeof h);
    sl_strlcpy(h.key, m->key, sizeof h.key);
    memcpy(h.ori, m->ori, sizeof h.ori);
    h.rx_time = hub->now_s;
    h.rx_seq = rx_seq;
    snprintf(h.ctl, sizeof h.ctl, "NL%08u", q->id);
    sl_strlcpy(h.dest, "NL", sizeof h.dest); /* the state sees how it was asked */
    hub_fill_requester(&h, so);
    /* states in code order: a stable, readable summary */
    for (uint32_t i = 0; i <= hub->members.mask && q->n < HUB_MSQ_STATES; i++) {
        struct hub_member *dm = &hub->members.tab[i];
        if (!dm->code[0] || dm->kind != 'S' || !((dm->takes[kidx / 64] >> (kidx % 64)) & 1))
            continue;
        int at = q->n;
        while (at > 0 && strcmp(q->st[at - 1], dm->code) > 0) {
            memcpy(q->st[at], q->st[at - 1], 3);
            at--;
        }
        sl_strlcpy(q->st[at], dm->code, 3);
        q->n++;
    }
    for (int i = 0; i < q->n; i++) {
        struct hub_member *dm = hub_member_find(&hub->members, q->st[i]);
        struct hub_line *to = dm ? dm->answer : NULL;
        /* no store-and-forward for a copy: the requester wants an answer now */
        if (!dm || dm->svc != HUB_UP || !to || !to->open || to->closing ||
            sl_buf_used(&to->c->out) >= hub->cfg.out_cap) {
            q->status[i] = ST_DOWN;
            continue;
        }
        q->status[i] = ST_PENDING;
        q->pending++;
        /* a message id like every query to an answering line; a copy is not kept again
         * when the line drops (hub_msq_line_down: NO ANSWER), so it is not tracked */
        h.mid = hub_mid_next(hub);
        hub_emit(hub, to, &h, m->text, m->text_len, so->member);
        hub->t_routed++;
    }
    if (!q->pending) {
        finish(hub, q);
        return 0;
    }
    q->timer = sl_loop_add_timer(hub->loop, (int64_t)hub->cfg.msq_timeout_s * 1000, on_timeout,
                                 q);
    return 0;
}

static int no_hit(const char *b, size_t n, int *unavailable)
{
    size_t i = 0;
    while (i < n && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
        i++;
    b += i;
    n -= i;
    *unavailable = 0;
    static const char *const nh[] = {"NOT ON FILE", "NO HIT", "NO RECORD"};
    static const char *const un[] = {"FILE NOT AVAILABLE", "TEMPORARILY UNAVAILABLE"};
    for (size_t k = 0; k < sizeof nh / sizeof nh[0]; k++)
        if (n >= strlen(nh[k]) && !memcmp(b, nh[k], strlen(nh[k])))
            return 1;
    for (size_t k = 0; k < sizeof un / sizeof un[0]; k++)
        if (n >= strlen(un[k]) && !memcmp(b, un[k], strlen(un[k]))) {
            *unavailable = 1;
            return 0;
        }
    return 0;
}

int hub_msq_reply(struct sl_hub *hub, struct hub_line *line, const struct sl_msg *m)
{
    const char *c = m->ctl;
    if (c[0] != 'N' || c[1] != 'L' || strlen(c) != 10)
        return 0;
    uint32_t id = 0;
    for (int i = 2; i < 10; i++) {
        if (c[i] < '0' || c[i] > '9')
            return 0;
        id = id * 10 + (uint32_t)(c[i] - '0');
    }
    struct hub_msq *q = &hub->msq[id % hub->cfg.msq_max];
    int key_ok = !strcmp(m->key, q->reply_key) ||
                 (!strcmp(q->reply_key, "DR") && !strcmp(m->key, "DRG"));
    if (q->id != id || !key_ok || m->ndest != 1 || strcmp(m->dest[0], q->ori))
        return 0;
    int at = -1;
    for (int i = 0; i < q->n; i++)
        if (!strcmp(q->st[i], line->c->peer.member) && q->status[i] == ST_PENDING)
            at = i;
    if (at < 0)
        return 0; /* not a state of this collection, or a second answer: route it */
    int unavailable;
    if (no_hit(m->text, m->text_len, &unavailable)) {
        q->status[at] = ST_NOHIT;
    } else {
        q->status[at] = unavailable ? ST_NOANSWER : ST_HIT;
        size_t room = hub->cfg.max_frame > 8192 ? hub->cfg.max_frame - 8192 : 0;
        if (sl_buf_used(&q->body) + m->text_len + 64 > room) {
            q->truncated = 1;
        } else {
            sl_buf_printf(&q->body, "RESPONSE FROM %s (%s.%s)\n", q->st[at], m->key, m->ori);
            sl_buf_append(&q->body, m->text, m->text_len);
            if (!m->text_len || m->text[m->text_len - 1] != '\n')
                sl_buf_append(&q->body, "\n", 1);
        }
    }
    if (--q->pending == 0)
        finish(hub, q);
    return 1;
}

void hub_msq_line_down(struct sl_hub *hub, const char *member)
{
    /* A copy whose line dropped will not be answered in time: it is NO ANSWER (OUT OF
     * SERVICE) now, and a collection waiting only for it ends at once.  (Its answer, if the
     * gateway recovers it, comes after the merged reply and is routed as any reply.) */
    for (uint32_t k = 0; hub->msq_active && k < hub->cfg.msq_max; k++) {
        struct hub_msq *q = &hub->msq[k];
        if (!q->id)
            continue;
        for (int i = 0; i < q->n; i++) {
            if (q->status[i] != ST_PENDING || strcmp(q->st[i], member) != 0)
                continue;
            q->status[i] = ST_DOWN;
            if (--q->pending == 0)
                finish(hub, q);
            break;
        }
    }
}
