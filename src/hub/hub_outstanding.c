/*
 * hub_outstanding.c - queries delivered to an answering line and not yet answered, so that
 * none is lost when the line drops and none is answered twice (docs/protocol.md Part III
 * §7, docs/gateway.md §6).
 *
 * Every query the hub writes to an answering line carries a switch message id, the header
 * line "MID/<id>" (msg.h).  id = epoch << 40 | sequence: the epoch is persisted in the
 * queue database and advanced at every start (and when a sequence runs out), so an id is
 * never given twice, across restarts.  A query kept for store-and-forward gets its id when
 * it is kept and keeps it in the queue: every delivery of it, after any crash, carries the
 * same id, which is what lets the receiving gateway recognise a repeat.
 *
 * Per member, while its answering line is up, a table of what it was given and has not
 * answered, in delivery order:
 *
 *     ent[]              in delivery order: id, queue row (0 = none), requester ORI,
 *                        control field, the reply key it waits for, where its copy is;
 *                        at most out_cap / 128 entries (32,768 for the default 4 MiB)
 *     arena              the frames as written (header + body), at most out_cap bytes
 *     done[HUB_OUT_DONE] ring of the ids answered last (they survive the line: a gateway
 *                        restarted after a crash may answer again what the hub has seen)
 *
 * A reply from the line with an echoed id removes its entry (a linear search from the
 * oldest: answers come nearly in order, so the match is within the first few).  A line
 * that has never echoed an id is matched by requester ORI + control field + reply key,
 * oldest first (software that does not echo).  A reply whose id is not outstanding but was
 * answered lately is a repeat: dropped, counted (`dup_answers`).
 *
 * When the line drops, every outstanding query goes back into the store-and-forward queue
 * before what is kept there (ids below the lowest in use), in delivery order, with its id,
 * and its requester gets SM .02.; it is delivered when the line returns.  A query that
 * came from the queue still has its row there (deleted only when answered): that row is
 * replaced by the one at the front, in the same transaction.
 *
 * Answering software that never answers some query would otherwise keep it here for as long
 * as its line stays up, and enough of them would end in backpressure for every sender.  So
 * an entry older than answer_wait (default 900 s) is dropped, oldest first, once a tick:
 * logged, counted (`unanswered`), its queue row deleted if it came from the queue; its id
 * is not remembered as answered, so an answer that comes later is routed as usual.
 *
 * Bounds: a member whose unanswered queries fill either bound gets backpressure as one
 * whose output buffer is full: further queries for it are refused with SM .04. NOT
 * ACCEPTING TRAFFIC (TOO MANY QUERIES WAITING FOR ITS ANSWER), and kept messages wait in
 * the queue until answers free room.  Answered entries are squeezed out (compaction) when
 * the arrays are full.  The hot path costs one copy of each query's frame into the arena;
 * nothing is allocated per message (both arrays grow by doubling to their bounds and are
 * given back when the line drops).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub_int.h"
#include "stateline/core.h"
#include "stateline/frame.h"

struct hub_out_ent {
    uint64_t mid;
    int64_t sf_id;                 /* queue row it was delivered from, 0 = none */
    uint32_t off, len;             /* its frame in the arena */
    char ori[SL_ORI_LEN + 1];      /* the requester */
    char ctl[SL_MSG_CTL_MAX + 1];
    char rkey[4];                  /* the reply it waits for */
    int64_t at_s;                  /* when it was delivered (hub->now_s) */
    uint8_t live;
};

struct hub_out {
    struct hub_out_ent *ent;       /* [head, n): in delivery order; grows to ent_max */
    uint32_t head, n, cap, live;   /* live: not answered */
    uint8_t *arena;                /* their frames, in the same order; grows to arena_max */
    size_t acap, tail, live_bytes;
    uint64_t done[HUB_OUT_DONE];   /* ids answered lately, a ring */
    uint32_t done_next;
};

/* The bounds follow out_cap: the copies take at most out_cap bytes, as the output buffer
 * does, and a query frame is rarely under 128 bytes. */
static uint32_t ent_max(const struct sl_hub *hub)
{
    size_t n = hub->cfg.out_cap / 128;
    return n < 1024 ? 1024 : n > (1u << 24) ? 1u << 24 : (uint32_t)n;
}

static size_t arena_max(const struct sl_hub *hub)
{
    return hub->cfg.out_cap < 256 * 1024 ? 256 * 1024 : hub->cfg.out_cap;
}

#define MID_SEQ_MAX ((1ull << HUB_MID_SEQ_BITS) - 1)

uint64_t hub_mid_next(struct sl_hub *hub)
{
    if (hub->mid_seq >= MID_SEQ_MAX) {
        /* 2^40 ids in one epoch: take the next epoch (persisted before any id of it) */
        if (hub->sf)
            hub_sf_next_epoch(hub);
        else
            hub->mid_epoch++;
        hub->mid_seq = 0;
    }
    return hub->mid_epoch << HUB_MID_SEQ_BITS | ++hub->mid_seq;
}

/* Move the live entries and their frames to the front, dropping answered ones. */
static void compact(struct hub_out *o)
{
    uint32_t w = 0;
    size_t tail = 0;
    for (uint32_t i = o->head; i < o->n; i++) {
        struct hub_out_ent *e = &o->ent[i];
        if (!e->live)
            continue;
        if (e->off != tail)
            memmove(o->arena + tail, o->arena + e->off, e->len);
        e->off = (uint32_t)tail;
        tail += e->len;
        if (w != i)
            o->ent[w] = *e;
        w++;
    }
    o->head = 0;
    o->n = w;
    o->tail = tail;
}

int hub_out_room(const struct sl_hub *hub, const struct hub_member *dm, size_t body_len)
{
    const struct hub_out *o = dm->out;
    /* compaction (at the next query) makes the live count and bytes what counts */
    return !o || (o->live < ent_max(hub) &&
                  o->live_bytes + body_len + HUB_OUT_HDR_MAX <= arena_max(hub));
}

uint32_t hub_out_count(const struct hub_member *dm)
{
    return dm->out ? dm->out->live : 0;
}

void hub_out_emit(struct sl_hub *hub, struct hub_member *dm, struct hub_line *to,
                  struct sl_outhdr *h, const char *body, size_t body_len, const char *src_mbr,
                  int64_t sf_id)
{
    if (!h->mid)
        h->mid = hub_mid_next(hub);
    struct sl_buf *out = &to->c->out;
    size_t before = sl_buf_used(out);
    hub_emit(hub, to, h, body, body_len, src_mbr);
    size_t after = sl_buf_used(out);
    if (after <= before + SL_FRAME_HDR)
        return; /* not formatted (logged by hub_emit): nothing to wait for */
    if (!dm->out)
        dm->out = sl_xcalloc(1, sizeof *dm->out);
    struct hub_out *o = dm->out;
    size_t len = after - before - SL_FRAME_HDR;
    uint32_t emax = ent_max(hub);
    size_t amax = arena_max(hub);
    if (o->n == o->cap || o->tail + len > o->acap) {
        /* first squeeze out what was answered, then grow (doubling, to the bounds) */
        if (o->head || o->live < o->n)
            compact(o);
        if (o->n == o->cap && o->cap < emax) {
            o->cap = o->cap ? (o->cap * 2 > emax ? emax : o->cap * 2) : 256;
            o->ent = sl_xrealloc(o->ent, o->cap * sizeof *o->ent);
        }
        if (o->tail + len > o->acap && o->tail + len <= amax) {
            size_t cap = o->acap ? o->acap : 64 * 1024;
            while (cap < o->tail + len)
                cap *= 2;
            o->acap = cap > amax ? amax : cap;
            o->arena = sl_xrealloc(o->arena, o->acap);
        }
    }
    if (o->n == o->cap || o->tail + len > o->acap) {
        /* hub_out_room said yes: cannot happen, but never write past the bounds */
        SL_ERROR("hub", "outstanding table of %s full: %s.%s (MID %llu) not tracked",
                 dm->code, h->key, h->ori, (unsigned long long)h->mid);
        return;
    }
    memcpy(o->arena + o->tail, sl_buf_head(out) + before + SL_FRAME_HDR, len);
    struct hub_out_ent *e = &o->ent[o->n++];
    e->mid = h->mid;
    e->sf_id = sf_id;
    e->off = (uint32_t)o->tail;
    e->len = (uint32_t)len;
    memcpy(e->ori, h->ori, sizeof e->ori);
    memcpy(e->ctl, h->ctl, sizeof e->ctl);
    const struct sl_key_info *ki = sl_key_lookup(h->key);
    sl_strlcpy(e->rkey, ki && ki->reply ? ki->reply : "", sizeof e->rkey);
    e->at_s = hub->now_s;
    e->live = 1;
    o->tail += len;
    o->live++;
    o->live_bytes += len;
}

static void forget(struct hub_out *o, struct hub_out_ent *e)
{
    e->live = 0;
    o->live--;
    o->live_bytes -= e->len;
    o->done[o->done_next] = e->mid;
    o->done_next = (o->done_next + 1) % HUB_OUT_DONE;
    while (o->head < o->n && !o->ent[o->head].live)
        o->head++;
    if (o->head == o->n)
        o->head = o->n = 0, o->tail = 0;
}

void hub_out_expire(struct sl_hub *hub)
{
    int wait = hub->cfg.answer_wait_s;
    if (wait <= 0 || !hub->members.tab)
        return;
    for (uint32_t i = 0; i <= hub->members.mask; i++) {
        struct hub_member *dm = &hub->members.tab[i];
        struct hub_out *o = dm->code[0] ? dm->out : NULL;
        if (!o)
            continue;
        while (o->head < o->n) {
            struct hub_out_ent *e = &o->ent[o->head];
            if (e->live) {
                if (hub->now_s - e->at_s < wait)
                    break;
                SL_WARN("hub", "%s has not answered MID %llu (for %s, control field '%s') in "
                        "%d s: no longer waited for", dm->code, (unsigned long long)e->mid,
                        e->ori, e->ctl, wait);
                if (e->sf_id)
                    hub_sf_forget(hub, e->sf_id);
                e->live = 0;
                o->live--;
                o->live_bytes -= e->len;
                hub->t_unanswered++;
            }
            o->head++;
        }
        if (o->head == o->n)
            o->head = o->n = 0, o->tail = 0;
    }
}

static int answered_lately(const struct hub_out *o, uint64_t mid)
{
    for (uint32_t i = 0; i < HUB_OUT_DONE; i++)
        if (o->done[i] == mid)
            return 1;
    return 0;
}

int hub_out_answer(struct sl_hub *hub, struct hub_line *line, const struct sl_msg *m)
{
    if (!line->bound)
        return 0;
    struct hub_member *dm = hub_member_find(&hub->members, line->c->peer.member);
    if (!dm || dm->answer != line || !dm->out)
        return 0;
    struct hub_out *o = dm->out;
    struct hub_out_ent *hit = NULL;
    if (m->mid) {
        line->mid_echo = 1;
        for (uint32_t i = o->head; i < o->n && !hit; i++) {
            struct hub_out_ent *e = &o->ent[i];
            if (e->live && e->mid == m->mid)
                hit = e;
        }
        if (!hit) {
            if (answered_lately(o, m->mid)) {
                hub->t_dup_answers++;
                SL_INFO("hub", "%s.%s to %s answers MID %llu a second time: dropped", m->key,
                        m->ori, m->dest[0], (unsigned long long)m->mid);
                return 1;
            }
            /* answered before its redelivery from the queue (a recovered reply) */
            if (dm->sf_count > dm->nflight && hub_sf_take(hub, dm, m->mid))
                SL_INFO("hub", "%s.%s answers MID %llu, still kept for %s: taken out of the "
                        "queue", m->key, m->ori, (unsigned long long)m->mid, dm->code);
            return 0;
        }
    } else if (!line->mid_echo) {
        int drg = !strcmp(m->key, "DRG");
        for (uint32_t i = o->head; i < o->n && !hit; i++) {
            struct hub_out_ent *e = &o->ent[i];
            if (e->live && !strcmp(e->ori, m->dest[0]) && !strcmp(e->ctl, m->ctl) &&
                (!strcmp(e->rkey, m->key) || (drg && !strcmp(e->rkey, "DR"))))
                hit = e;
        }
    }
    if (hit) {
        /* a query from the queue: its row goes once this answer has left (hub_out_routed) */
        if (hit->sf_id)
            hub->forget_id = hit->sf_id;
        forget(o, hit);
        /* room again: what waits in the queue may go */
        if (dm->sf_count > dm->nflight)
            hub_sf_pump(hub, dm);
    }
    return 0;
}

#define HUB_FORGET_MAX 65536

void hub_out_routed(struct sl_hub *hub)
{
    int64_t id = hub->forget_id;
    hub->forget_id = 0;
    if (!id)
        return;
    if (!hub->routed || hub->nforgets == HUB_FORGET_MAX) {
        /* kept for the requester (the same transaction makes that atomic), refused (its
         * sender was told), or too many waiting: now */
        hub_sf_forget(hub, id);
        return;
    }
    if (!hub->forgets)
        hub->forgets = sl_xmalloc(HUB_FORGET_MAX * sizeof *hub->forgets);
    struct hub_forget *f = &hub->forgets[hub->nforgets++];
    f->id = id;
    f->slot = hub->routed_slot;
    f->gen = hub->routed_gen;
    f->end = hub->routed_end;
}

void hub_out_written(struct sl_hub *hub, struct hub_line *l)
{
    if (!hub->nforgets)
        return;
    size_t used = sl_buf_used(&l->c->out);
    uint64_t written = l->app_total > used ? l->app_total - used : 0;
    uint32_t w = 0, done = 0;
    for (uint32_t i = 0; i < hub->nforgets; i++) {
        struct hub_forget *f = &hub->forgets[i];
        if (f->slot == l->slot && f->gen == l->gen && f->end <= written) {
            hub_sf_forget(hub, f->id);
            done++;
            continue;
        }
        /* a line that went before writing it: the row stays, and the query is written to
         * its state again after the next restart (its reply then sent again) */
        if (!hub_line_get(hub, f->slot, f->gen))
            continue;
        hub->forgets[w++] = *f;
    }
    hub->nforgets = w;
    /* Committed at once: between the answer's bytes reaching the kernel and this commit
     * (the WAL write; a killed process loses nothing the kernel has) lies the only moment
     * where a crash makes the query go to its state again, and its answer come twice. */
    if (done)
        hub_sf_commit(hub);
}

static int in_flight(const struct hub_member *dm, int64_t sf_id)
{
    for (int i = 0; i < dm->nflight; i++)
        if (dm->flight[i].id == sf_id)
            return 1;
    return 0;
}

/* SM .02. to the requester of a query that goes back into the queue. */
static void tell_requester(struct sl_hub *hub, struct hub_member *dm, const struct sl_outhdr *q,
                           const char *body, size_t blen)
{
    struct sl_outhdr h;
    hub_switch_header(hub, &h, "SM", q->ori, q->ctl, q->rx_seq);
    h.rx_time = q->rx_time;
    struct sl_buf *b = &hub->scratch;
    sl_buf_reset(b);
    sl_buf_printf(b, ".02. USER OUT OF SERVICE FOR MSG TYPE, NLETS WILL FORWARD\n"
                     "DESTINATION ");
    if (strlen(q->dest) == SL_ORI_LEN || !strcmp(q->dest, dm->code))
        sl_buf_append_str(b, q->dest);
    else
        sl_buf_printf(b, "%s VIA %s", dm->code, q->dest);
    sl_buf_printf(b, " MSG TYPE %s: ITS ANSWERING LINE DROPPED BEFORE IT ANSWERED\n"
                     "ORIGINAL MESSAGE\n", q->key);
    /* the copy as delivered, in the input form: KEY.ORI.DEST[.CTL].TXT + body */
    size_t start = sl_buf_used(b);
    sl_buf_printf(b, "%s.%s.%s%s%s.TXT", q->key, q->ori, q->dest, q->ctl[0] ? "." : "",
                  q->ctl);
    size_t room = 100 > sl_buf_used(b) - start ? 100 - (sl_buf_used(b) - start) : 0;
    for (size_t i = 0; i < blen && i < room; i++) {
        char ch = body[i];
        sl_buf_append(b, ch == '\n' || ch == '\r' ? " " : &ch, 1);
    }
    hub_deliver_ori(hub, q->ori, &h, (const char *)sl_buf_head(b), sl_buf_used(b), NULL);
    hub->t_sm++;
}

void hub_out_line_down(struct sl_hub *hub, struct hub_member *dm, int tell)
{
    struct hub_out *o = dm->out;
    if (!o || !o->live) {
        if (o)
            o->head = o->n = o->live = 0, o->tail = o->live_bytes = 0;
        return;
    }
    int64_t k = o->live;
    int64_t id = k && hub->sf ? hub_sf_front(hub) - k : 0;
    int64_t first = id;
    int64_t requeued = 0, lost = 0;
    for (uint32_t i = o->head; i < o->n; i++) {
        struct hub_out_ent *e = &o->ent[i];
        if (!e->live)
            continue;
        struct sl_outhdr h;
        const char *body;
        size_t blen;
        struct sl_msg_err err;
        if (sl_msg_parse_output((const char *)o->arena + e->off, e->len, &h, &body, &blen,
                                &err) != 0) {
            SL_ERROR("hub", "outstanding MID %llu for %s unreadable (%s): not requeued",
                     (unsigned long long)e->mid, dm->code, err.detail);
            lost++;
            continue;
        }
        /* the member of the requester is in its verified-requester line */
        char src_mbr[SL_MEMBER_MAX];
        sl_strlcpy(src_mbr, h.has_req ? h.req.member : "", sizeof src_mbr);
        if (!hub->sf || hub_sf_put_id(hub, dm, &h, body, blen, src_mbr, id++) != 0) {
            lost++;
            continue;
        }
        /* delivered from the queue: its old row goes (same transaction), the new one at
         * the front takes its place; a row still in flight was counted as waiting */
        if (e->sf_id) {
            hub_sf_forget(hub, e->sf_id);
            if (in_flight(dm, e->sf_id))
                dm->sf_count--;
        }
        requeued++;
        if (tell)
            tell_requester(hub, dm, &h, body, blen);
    }
    if (requeued) {
        /* the requeued ids are below every id in the queue: the next pump starts there */
        dm->sf_last = first - 1;
        hub->t_requeued += (uint64_t)requeued;
        SL_INFO("hub", "%s: %lld queries it had not answered are kept again for it%s",
                dm->code, (long long)requeued, tell ? " (SM .02. to their senders)" : "");
    }
    if (lost)
        SL_ERROR("hub", "%s: %lld outstanding queries could not be kept again (see above)",
                 dm->code, (long long)lost);
    o->head = o->n = o->live = 0;
    o->tail = o->live_bytes = 0;
    /* give the memory back: a line that returns grows it again */
    free(o->arena);
    o->arena = NULL;
    o->acap = 0;
    free(o->ent);
    o->ent = NULL;
    o->cap = 0;
}

void hub_out_free(struct hub_member *dm)
{
    if (!dm->out)
        return;
    free(dm->out->ent);
    free(dm->out->arena);
    free(dm->out);
    dm->out = NULL;
}
