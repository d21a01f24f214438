/*
 * hub_route.c - what the hub does with one message: the S-4 checks, in the order of
 * docs/protocol.md §2, and routing to the destinations' lines (§3).
 *
 * Nothing here touches SQLite or allocates per message beyond what the codec does: the
 * directory is an in-memory snapshot, members and requesters are hash tables, and output
 * is formatted straight into the receiving line's output buffer (flushed in batches by
 * hub.c's before_sleep hook).  The exceptions are off the normal path: a destination that
 * is down (hub_sf.c keeps the message), a region (the frame is copied and routed at the end
 * of the iteration, §6), NL (hub_msq.c; NLQ/NFQ go to the archive's search thread), AML.
 * Every message written to a line is handed to the archive (a copy into its queue).
 *
 * Every refusal is answered on the line the message came from: ER from the switch's ORI
 * for a message that is wrong, SM for one that is right but cannot be delivered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub_int.h"
#include "stateline/core.h"
#include "stateline/archive.h"
#include "stateline/frame.h"

/* ---- keys ---------------------------------------------------------------------------- */

void hub_keys_init(struct sl_hub *hub)
{
    hub->nkeys = 0;
    for (int i = 0; i < HUB_MAX_KEYS; i++) {
        const struct sl_key_info *ki = sl_key_at(i);
        if (!ki)
            break;
        hub->keys[hub->nkeys++] = ki;
    }
    memset(hub->always, 0, sizeof hub->always);
    /* Replies (and SM) answer traffic the receiving line itself sent: no answering line can
     * refuse them, so they are not listed in `takes`.  The key table marks them with
     * priority 0 (SM) or 1 (ER and replies); ER and the archive replies are switch-only. */
    for (int i = 0; i < hub->nkeys; i++) {
        const struct sl_key_info *ki = hub->keys[i];
        if (ki->priority <= 1 && !ki->switch_only)
            hub->always[i / 64] |= 1ull << (i % 64);
    }
}

int hub_key_index(const struct sl_hub *hub, const struct sl_key_info *ki)
{
    if (!ki)
        return -1;
    for (int i = 0; i < hub->nkeys; i++)
        if (hub->keys[i] == ki)
            return i;
    return -1;
}

static int bit_set(const uint64_t *bits, int i) { return i >= 0 && (bits[i / 64] >> (i % 64)) & 1; }

/* ---- members ------------------------------------------------------------------------- */

static uint32_t hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n && s[i]; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

struct hub_member *hub_member_find(const struct hub_members *m, const char *code)
{
    if (!m->tab)
        return NULL;
    uint32_t i = hash_str(code, SL_MEMBER_MAX) & m->mask;
    for (;;) {
        struct hub_member *e = &m->tab[i];
        if (!e->code[0])
            return NULL;
        if (!strcmp(e->code, code))
            return e;
        i = (i + 1) & m->mask;
    }
}

static struct hub_member *member_insert(struct hub_members *m, const char *code)
{
    uint32_t i = hash_str(code, SL_MEMBER_MAX) & m->mask;
    while (m->tab[i].code[0]) {
        if (!strcmp(m->tab[i].code, code))
            return &m->tab[i];
        i = (i + 1) & m->mask;
    }
    sl_strlcpy(m->tab[i].code, code, sizeof m->tab[i].code);
    m->n++;
    return &m->tab[i];
}

static void set_takes(struct sl_hub *hub, struct hub_member *e, const char *list)
{
    char tmp[256];
    sl_strlcpy(tmp, list, sizeof tmp);
    memset(e->takes, 0, sizeof e->takes);
    for (char *save = NULL, *t = strtok_r(tmp, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
        int k = hub_key_index(hub, sl_key_lookup(t));
        if (k >= 0)
            e->takes[k / 64] |= 1ull << (k % 64);
    }
}

/* Build the routing table from the directory's members and the [member] sections.
 * out->tab is heap-owned by out (hub_members_free). */
int hub_members_build(struct sl_hub *hub, const struct sl_hub_config *cfg,
                      const struct sl_dir_snap *snap, struct hub_members *out)
{
    int n = sl_dir_snap_nmembers(snap);
    uint32_t cap = 16;
    while (cap < (uint32_t)(n + cfg->nmembers) * 2u)
        cap <<= 1;
    out->tab = sl_xcalloc(cap, sizeof *out->tab);
    out->mask = cap - 1;
    out->n = 0;
    for (int i = 0; i < n; i++) {
        const struct sl_member *sm = sl_dir_snap_member_at(snap, i);
        struct hub_member *e = member_insert(out, sm->code);
        e->kind = sm->kind;
        set_takes(hub, e, sl_hub_default_takes(sm->kind));
    }
    for (int i = 0; i < cfg->nmembers; i++) {
        const struct sl_hub_member_conf *mc = &cfg->members[i];
        struct hub_member *e = hub_member_find(out, mc->code);
        if (!e) {
            SL_WARN("hub", "config [member %s]: no such member in the directory; ignored",
                    mc->code);
            continue;
        }
        memset(e->takes, 0, sizeof e->takes);
        for (int k = 0; k < mc->ntakes; k++) {
            int idx = hub_key_index(hub, sl_key_lookup(mc->takes[k]));
            if (idx >= 0)
                e->takes[idx / 64] |= 1ull << (idx % 64);
        }
    }
    for (int r = 0; r < cfg->nregions; r++)
        for (int k = 0; k < cfg->regions[r].nstates; k++) {
            struct hub_member *e = hub_member_find(out, cfg->regions[r].states[k]);
            if (e)
                sl_strlcpy(e->region, cfg->regions[r].code, sizeof e->region);
            else
                SL_DEBUG("hub", "region %s: %s is not a member in the directory",
                         cfg->regions[r].code, cfg->regions[r].states[k]);
        }
    return 0;
}

void hub_members_free(struct hub_members *m)
{
    for (uint32_t i = 0; m->tab && i <= m->mask; i++) {
        free(m->tab[i].flight);
        hub_out_free(&m->tab[i]);
    }
    free(m->tab);
    m->tab = NULL;
    m->n = 0;
}

/* ---- requester map ------------------------------------------------------------------- */

/* 4-way set-associative: an ORI lives in one bucket of 4 entries; a full bucket evicts
 * its least recently used entry.  Bounded memory whatever the traffic. */
static struct hub_req_entry *req_bucket(const struct sl_hub *hub, const char *ori)
{
    uint32_t h = hash_str(ori, SL_ORI_LEN);
    return &hub->reqmap[(h & hub->reqmap_mask) & ~3u];
}

/* a and b: ORI fields (SL_ORI_LEN + 1 bytes, NUL-terminated): one fixed-size compare the
 * compiler inlines, rather than a call to strcmp per entry */
static int ori_eq(const char *a, const char *b)
{
    return memcmp(a, b, SL_ORI_LEN + 1) == 0;
}

/* ori: an ORI field of SL_ORI_LEN + 1 bytes (every caller's is one). */
static void req_note(struct sl_hub *hub, const char *ori, const struct hub_line *line)
{
    struct hub_req_entry *b = req_bucket(hub, ori), *victim = &b[0];
    for (int i = 0; i < 4; i++) {
        if (ori_eq(b[i].ori, ori)) {
            victim = &b[i];
            break;
        }
        if (b[i].stamp < victim->stamp)
            victim = &b[i];
    }
    memcpy(victim->ori, ori, SL_ORI_LEN + 1);
    victim->slot = line->slot;
    victim->gen = line->gen;
    victim->stamp = ++hub->req_stamp;
}

/* ori: as req_note. */
static struct hub_line *req_line(const struct sl_hub *hub, const char *ori)
{
    struct hub_req_entry *b = req_bucket(hub, ori);
    for (int i = 0; i < 4; i++)
        if (b[i].ori[0] && ori_eq(b[i].ori, ori))
            return hub_line_get(hub, b[i].slot, b[i].gen);
    return NULL;
}

/* ---- output -------------------------------------------------------------------------- */

/* S-9: a copy of r into the archive's bounded queue (no SQLite here).  A full queue loses
 * the record, never the message: counted, and recorded by the archive as a gap, so that it
 * says where it is incomplete (docs/archive.md §2). */
static void archive_put(struct sl_hub *hub, const struct sl_archive_rec *r)
{
    if (sl_archive_put(hub->archive, r, NULL) != 0) {
        hub->t_archive_lost++;
        sl_archive_lost(hub->archive, r);
    }
}

void hub_emit(struct sl_hub *hub, struct hub_line *to, struct sl_outhdr *h, const char *body,
              size_t body_len, const char *src_mbr)
{
    struct sl_buf *out = &to->c->out;
    to->out_count++;
    h->tx_time = hub->now_s;
    h->tx_seq = (unsigned)(to->out_count % HUB_SEQ_MOD);
    size_t before = sl_buf_used(out);
    size_t off = sl_frame_begin(out);
    if (sl_msg_format_output(h, body, body_len, out) != 0) {
        /* cannot happen for what passed the checks; never send half a frame */
        out->len = out->off + before;
        to->out_count--;
        SL_ERROR("hub", "cannot format %s.%s for %s (dest %s, ctl %s): not sent", h->key,
                 h->ori, to->addr, h->dest, h->ctl);
        return;
    }
    sl_frame_end(out, off);
    size_t n = sl_buf_used(out) - before;
    to->app_total += n;
    to->frames_out++;
    to->bytes_out += n;
    hub->t_frames_out++;
    hub_line_mark_pending(hub, to);
    if (hub->audit)
        hub_audit_emit(hub, to, h, src_mbr); /* its entry, and the hold until durable */
    if (hub->archive) {
        /* S-9: every message the switch sends, as it leaves (archive_put) */
        struct sl_archive_rec r;
        r.time = h->tx_time;
        r.key = h->key;
        r.src = h->ori;
        r.src_mbr = src_mbr;
        r.dst = h->dest;
        r.dst_mbr = to->c->peer.member;
        r.ctl = h->ctl;
        r.text = body;
        r.text_len = body_len;
        archive_put(hub, &r);
    }
}

void hub_switch_header(struct sl_hub *hub, struct sl_outhdr *h, const char *key,
                       const char *dest, const char *ctl, unsigned rx_seq)
{
    memset(h, 0, sizeof *h);
    sl_strlcpy(h->key, key, sizeof h->key);
    sl_strlcpy(h->ori, hub->cfg.ori, sizeof h->ori);
    h->rx_time = hub->now_s;
    h->rx_seq = rx_seq;
    sl_strlcpy(h->dest, dest, sizeof h->dest);
    if (ctl)
        sl_strlcpy(h->ctl, ctl, sizeof h->ctl);
}

void hub_send_er(struct sl_hub *hub, struct hub_line *line, enum sl_er code, const char *detail,
                 const char *dest, const char *ctl, const char *key_for_sets,
                 const uint8_t *orig, size_t orig_len, unsigned rx_seq)
{
    struct sl_msg_err e;
    e.code = code;
    sl_strlcpy(e.detail, detail ? detail : "", sizeof e.detail);
    struct sl_outhdr h;
    if (hub->audit)
        hub_audit_msg_er(hub, (int)code);
    hub_switch_header(hub, &h, "ER", dest, ctl, rx_seq);
    sl_buf_reset(&hub->scratch);
    sl_msg_format_er_body(&e, key_for_sets, (const char *)orig, orig_len, &hub->scratch);
    hub_emit(hub, line, &h, (const char *)sl_buf_head(&hub->scratch),
             sl_buf_used(&hub->scratch), NULL);
    line->errors++;
    hub->t_er++;
    if (sl_log_enabled(SL_LOG_DEBUG))
        SL_DEBUG("hub", "ER to %s %s (%s): .%02d. %s %s", line->c->peer.member,
                 sl_role_name(line->c->peer.role), line->addr, (int)code, sl_er_text(code),
                 e.detail);
}

static const char *const sm_text[] = {
    [1] = ".01. USER DOES NOT RESPOND TO MSG TYPE, NLETS WILL NOT FORWARD",
    [2] = ".02. USER OUT OF SERVICE FOR MSG TYPE, NLETS WILL FORWARD",
    [4] = ".04. USER OUT OF SERVICE FOR MSG TYPE, NLETS WILL NOT FORWARD",
};

/* SM .01./.02./.04.: the message is right but this destination cannot take it now (.02.:
 * it is kept and will be delivered). */
void hub_send_sm(struct sl_hub *hub, struct hub_line *line, const struct sl_msg *m, int num,
                 const char *dest, const char *why, const uint8_t *orig, size_t orig_len,
                 unsigned rx_seq)
{
    struct sl_outhdr h;
    if (hub->audit)
        hub_audit_msg_leg(hub, dest, num == 2 ? "queued" : num == 4 ? "refused" : "not-taken");
    hub_switch_header(hub, &h, "SM", m->ori, m->ctl, rx_seq);
    struct sl_buf *b = &hub->scratch;
    sl_buf_reset(b);
    sl_buf_printf(b, "%s\nDESTINATION %s MSG TYPE %s: %s\nORIGINAL MESSAGE\n", sm_text[num],
                  dest, m->key, why);
    /* the same echo as an ER's: first 100 bytes, control runs as one space */
    size_t n = orig_len < 100 ? orig_len : 100;
    int in_ctl = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = orig[i];
        if (ch < 0x20 || ch == 0x7f) {
            if (!in_ctl)
                sl_buf_append(b, " ", 1);
            in_ctl = 1;
            continue;
        }
        in_ctl = 0;
        sl_buf_append(b, ch >= 0x80 ? "?" : (const char *)&ch, 1);
    }
    hub_emit(hub, line, &h, (const char *)sl_buf_head(b), sl_buf_used(b), NULL);
    if (num != 2)
        line->refused++;
    hub->t_sm++;
    if (sl_log_enabled(SL_LOG_DEBUG))
        SL_DEBUG("hub", "SM .%02d. to %s %s: %s %s to %s: %s", num, line->c->peer.member,
                 sl_role_name(line->c->peer.role), m->key, m->ori, dest, why);
}

/* The switch's status text to every open line (an operator changed a line's state). */
void hub_broadcast_sm(struct sl_hub *hub, const char *text)
{
    hub->now_s = time(NULL);
    for (uint32_t s = 0; s < hub->nslots; s++) {
        struct hub_line *l = hub->slots[s];
        if (!l || !l->open || l->closing)
            continue;
        struct sl_outhdr h;
        hub_switch_header(hub, &h, "SM", l->c->peer.member, NULL, 0);
        hub_emit(hub, l, &h, text, strlen(text), NULL);
        hub->t_sm++;
    }
}

void hub_fill_requester(struct sl_outhdr *h, const struct sl_ori *so)
{
    struct sl_requester *r = &h->req;
    h->has_req = 1;
    memcpy(r->ori, so->ori, sizeof r->ori);
    sl_strlcpy(r->member, so->member, sizeof r->member);
    sl_strlcpy(r->type, so->type, sizeof r->type);
    sl_strlcpy(r->cats, so->cats, sizeof r->cats);
    r->state[0] = so->ori[0];
    r->state[1] = so->ori[1];
    r->state[2] = '\0';
    sl_strlcpy(r->parent, so->parent, sizeof r->parent);
    sl_strlcpy(r->tags, so->tags, sizeof r->tags);
}

/* ---- delivery ------------------------------------------------------------------------ */

static int line_usable(const struct hub_line *l)
{
    return l && l->open && !l->closing;
}

/* "CA", "WATEST000", or "OR VIA H1" when the member was reached through a region */
static const char *dest_name(const struct hub_member *dm, const struct sl_outhdr *h, char *buf,
                             size_t len)
{
    if (strlen(h->dest) == SL_ORI_LEN || !strcmp(h->dest, dm->code))
        sl_strlcpy(buf, h->dest, len);
    else
        snprintf(buf, len, "%s VIA %s", dm->code, h->dest);
    return buf;
}

int hub_deliver(struct sl_hub *hub, struct hub_member *dm, struct hub_line *to,
                struct sl_outhdr *h, const char *body, size_t body_len,
                const struct hub_delivery *dv)
{
    const char *why = NULL;
    char dname[32]; /* the destination as an SM names it (set when one is sent) */
    int sm_pri = h->key[0] == 'S' && h->key[1] == 'M' && !h->key[2];
    if (!line_usable(to))
        to = NULL;
    if (sm_pri) {
        /* Status messages jump every queue: straight into the line's output, whatever its
         * state, its kept messages or its output cap.  Nowhere to go: not kept (a status
         * is stale by the time a line returns), and the sender is told. */
        if (!to)
            to = line_usable(dm->answer) ? dm->answer : NULL;
        if (to) {
            hub_emit(hub, to, h, body, body_len, dv ? dv->src_mbr : NULL);
            hub->t_routed++;
            return 0;
        }
        why = "NO ANSWERING LINE CONNECTED (STATUS MESSAGES ARE NOT KEPT)";
        goto refuse;
    }
    if (dm->svc == HUB_REMOVED) {
        why = "REMOVED FROM SERVICE BY THE NETWORK OPERATOR";
        goto refuse;
    }
    /* A reply or AM to an ORI whose own terminal line is connected goes to that line while
     * the member is down: the service state is its answering line's (§7). */
    /* A query to an answering line is remembered until it is answered and carries a
     * message id (hub_outstanding.c). */
    int query = h->has_req && to && to == dm->answer;
    if (to && (to != dm->answer ? dm->svc != HUB_REMOVED
                                : dm->svc == HUB_UP && dm->sf_count == 0)) {
        if (sl_buf_used(&to->c->out) >= hub->cfg.out_cap) {
            why = "NOT ACCEPTING TRAFFIC (ITS OUTPUT QUEUE IS FULL)";
            goto refuse;
        }
        /* a member that leaves too many queries unanswered gets backpressure, as one
         * that does not read: its senders are told, nothing is held for it */
        if (query && !hub_out_room(hub, dm, body_len)) {
            why = "NOT ACCEPTING TRAFFIC (TOO MANY QUERIES WAITING FOR ITS ANSWER)";
            goto refuse;
        }
        if (query) {
            hub_out_emit(hub, dm, to, h, body, body_len, dv ? dv->src_mbr : NULL, 0);
        } else {
            hub_emit(hub, to, h, body, body_len, dv ? dv->src_mbr : NULL);
            hub->routed = 1;
            hub->routed_slot = to->slot;
            hub->routed_gen = to->gen;
            hub->routed_end = to->app_total;
        }
        hub->t_routed++;
        return 0;
    }
    /* down (by the operator, or no answering line), or messages already kept: keep it */
    if (dm->sf_count >= (int64_t)hub->cfg.queue_cap) {
        why = "QUEUE FULL, SEND IT AGAIN LATER";
        goto refuse;
    }
    if (hub_sf_put(hub, dm, h, body, body_len, dv ? dv->src_mbr : NULL) != 0) {
        why = "CANNOT BE KEPT (THE SWITCH'S QUEUE FAILED)";
        goto refuse;
    }
    if (dv && dv->from && dv->m)
        hub_send_sm(hub, dv->from, dv->m, 2, dest_name(dm, h, dname, sizeof dname),
                    dm->svc == HUB_DOWN ? "SET OUT OF SERVICE BY THE NETWORK OPERATOR"
                    : dm->answer ? "MESSAGES WAITING FOR IT ARE DELIVERED FIRST"
                                 : "NO ANSWERING LINE CONNECTED",
                    dv->orig, dv->orig_len, h->rx_seq);
    hub_sf_pump(hub, dm);
    return 0;
refuse:
    if (dv && dv->from && dv->m)
        hub_send_sm(hub, dv->from, dv->m, 4, dest_name(dm, h, dname, sizeof dname), why,
                    dv->orig, dv->orig_len, h->rx_seq);
    else
        SL_WARN("hub", "%s.%s for %s not delivered: %s", h->key, h->ori, dm->code, why);
    return -1;
}

int hub_deliver_ori(struct sl_hub *hub, const char *ori, struct sl_outhdr *h, const char *body,
                    size_t body_len, const char *src_mbr)
{
    const struct sl_ori *o = sl_dir_snap_find(hub->snap, ori);
    struct hub_member *dm = o ? hub_member_find(&hub->members, o->member) : NULL;
    if (!dm) {
        SL_WARN("hub", "%s.%s for %s not delivered: the ORI left the directory", h->key,
                h->ori, ori);
        return -1;
    }
    struct hub_delivery dv = {NULL, NULL, NULL, 0, src_mbr};
    struct hub_line *to = req_line(hub, ori);
    return hub_deliver(hub, dm, to ? to : dm->answer, h, body, body_len, &dv);
}

/* ---- archive searches (NLQ, NFQ to NL) ------------------------------------------------- */

static void nlq_unlink(struct sl_hub *hub, struct hub_nlq *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        hub->nlq = q->next;
    if (q->next)
        q->next->prev = q->prev;
    free(q);
}

static void nlq_send(struct sl_hub *hub, struct hub_nlq *q, const char *key, const char *body,
                     size_t len)
{
    struct sl_outhdr h;
    hub_switch_header(hub, &h, key, q->ori, q->ctl, q->rx_seq);
    h.rx_time = q->rx_time;
    struct hub_line *l = hub_line_get(hub, q->slot, q->gen);
    if (line_usable(l)) {
        hub_emit(hub, l, &h, body, len, NULL);
        return;
    }
    hub_deliver_ori(hub, q->ori, &h, body, len, NULL);
}

static void on_archive_done(void *ctx, struct sl_archive_done *d)
{
    struct sl_hub *hub = ctx;
    struct hub_nlq *q = d->tag;
    hub->now_s = time(NULL);
    if (d->rc == 0) {
        size_t n = sl_buf_used(&d->body);
        nlq_send(hub, q, d->reply_key, n ? (const char *)sl_buf_head(&d->body) : "", n);
    } else {
        struct sl_msg_err e;
        e.code = d->rc == -1 ? d->er : SL_ER_FORMAT;
        sl_strlcpy(e.detail, d->rc == -1 ? d->err : "THE ARCHIVE FAILED, SEND IT AGAIN LATER",
                   sizeof e.detail);
        struct sl_buf b = SL_BUF_INIT;
        sl_msg_format_er_body(&e, NULL, "", 0, &b);
        struct sl_outhdr h;
        hub_switch_header(hub, &h, "ER", q->ori, q->ctl, q->rx_seq);
        struct hub_line *l = hub_line_get(hub, q->slot, q->gen);
        if (line_usable(l))
            hub_emit(hub, l, &h, (const char *)sl_buf_head(&b), sl_buf_used(&b), NULL);
        sl_buf_free(&b);
        hub->t_er++;
    }
    nlq_unlink(hub, q);
}

void hub_archive_drain(struct sl_hub *hub)
{
    if (hub->archive)
        sl_archive_drain(hub->archive, on_archive_done, hub);
}

void hub_nlq_free_all(struct sl_hub *hub)
{
    while (hub->nlq)
        nlq_unlink(hub, hub->nlq);
}

/* NLQ/NFQ to NL, checked: archived on arrival (Nlets logs traffic addressed to itself as
 * it arrives), then the acknowledgement at once and the answer from the search thread. */
static void archive_request(struct sl_hub *hub, struct hub_line *line, const struct sl_msg *m,
                            const struct sl_ori *so, const char *reply_key, unsigned rx_seq)
{
    struct sl_buf *b = &hub->scratch;
    struct sl_outhdr h;
    hub_switch_header(hub, &h, reply_key, m->ori, m->ctl, rx_seq);
    if (!hub->archive) {
        sl_buf_reset(b);
        sl_buf_printf(b, "%s NOT QUEUED - THIS SWITCH KEEPS NO ARCHIVE", m->key);
        hub_emit(hub, line, &h, (const char *)sl_buf_head(b), sl_buf_used(b), NULL);
        return;
    }
    struct sl_archive_rec r;
    memset(&r, 0, sizeof r);
    r.time = hub->now_s;
    r.key = m->key;
    r.src = m->ori;
    r.src_mbr = so->member;
    r.dst = "NL";
    r.dst_mbr = "NL";
    r.ctl = m->ctl;
    r.text = m->text ? m->text : "";
    r.text_len = m->text ? m->text_len : 0;
    archive_put(hub, &r);
    struct hub_nlq *q = sl_xcalloc(1, sizeof *q);
    q->slot = line->slot;
    q->gen = line->gen;
    memcpy(q->ori, m->ori, sizeof q->ori);
    sl_strlcpy(q->member, so->member, sizeof q->member);
    sl_strlcpy(q->ctl, m->ctl, sizeof q->ctl);
    q->rx_seq = rx_seq;
    q->rx_time = hub->now_s;
    sl_buf_reset(b);
    if (sl_archive_submit(hub->archive, m, so, 0, q) == 0) {
        q->next = hub->nlq;
        if (q->next)
            q->next->prev = q;
        hub->nlq = q;
        sl_archive_reply_ack(m->key, b);
    } else {
        free(q);
        sl_archive_reply_busy(m->key, b);
    }
    hub_emit(hub, line, &h, (const char *)sl_buf_head(b), sl_buf_used(b), NULL);
}

/* ---- one message --------------------------------------------------------------------- */

struct route {
    const char *dest;          /* as addressed: member code, region code or ORI */
    struct hub_member *dm;
    struct hub_line *to;       /* a particular line (reply to the ORI's line), or NULL */
};

/* DQ/RQ/DQG/RQG with a region code (letter + digit) among the header's tokens, token by
 * token up to the first that begins with TXT.  A false positive only delays a message to the
 * end of the iteration, a false negative (a region after an ORI that begins with TXT) only
 * routes it at normal priority: the parser and process() decide everything else. */
static int maybe_regional(const uint8_t *p, uint32_t len)
{
    if (len < 8 || (p[0] != 'D' && p[0] != 'R') || p[1] != 'Q')
        return 0;
    uint32_t i = p[2] == '.' ? 3 : p[2] == 'G' && p[3] == '.' ? 4 : 0;
    if (!i)
        return 0;
    uint32_t lim = len < 96 ? len : 96;
    while (i + 3 <= lim) {
        if (p[i] == 'T' && p[i + 1] == 'X' && p[i + 2] == 'T')
            return 0;
        const uint8_t *dot = memchr(p + i, '.', lim - i);
        if (!dot)
            return 0;
        uint32_t n = (uint32_t)(dot - (p + i));
        if (n == 2 && sl_msg_dest_kind((const char *)p + i, 2) == SL_DEST_REGION)
            return 1;
        i += n + 1;
    }
    return 0;
}

static void defer(struct sl_hub *hub, struct hub_line *line, const uint8_t *p, uint32_t len,
                  unsigned rx_seq)
{
    if (!hub->deferred)
        hub->deferred = sl_xmalloc(HUB_DEFER_MAX * sizeof *hub->deferred);
    struct hub_deferred *d = &hub->deferred[hub->ndeferred++];
    d->slot = line->slot;
    d->gen = line->gen;
    d->rx_seq = rx_seq;
    d->len = len;
    d->p = sl_xmalloc(len ? len : 1);
    memcpy(d->p, p, len);
}

static void process(struct sl_hub *hub, struct hub_line *line, const uint8_t *p, uint32_t len,
                    unsigned rx_seq);

/* Regional queries run after everything else the iteration read (lower priority, §2.5). */
void hub_process_deferred(struct sl_hub *hub)
{
    hub->in_deferred = 1;
    for (uint32_t i = 0; i < hub->ndeferred; i++) {
        struct hub_deferred *d = &hub->deferred[i];
        struct hub_line *l = hub_line_get(hub, d->slot, d->gen);
        if (line_usable(l))
            process(hub, l, d->p, d->len, d->rx_seq);
        free(d->p);
    }
    hub->ndeferred = 0;
    hub->in_deferred = 0;
}

void hub_process_frame(struct sl_hub *hub, struct hub_line *line, const uint8_t *p, uint32_t len)
{
    line->frames_in++;
    line->bytes_in += SL_FRAME_HDR + (uint64_t)len;
    hub->t_frames_in++;
    if (len == 0)
        return; /* keep-alive */
    line->in_count++;
    unsigned rx_seq = (unsigned)(line->in_count % HUB_SEQ_MOD);
    /* A cheap look at the header before parsing: only DQ/RQ/DQG/RQG can be regional. */
    if (!hub->in_deferred && hub->ndeferred < HUB_DEFER_MAX && maybe_regional(p, len)) {
        defer(hub, line, p, len, rx_seq);
        return;
    }
    process(hub, line, p, len, rx_seq);
}

static void process_one(struct sl_hub *hub, struct hub_line *line, const uint8_t *p,
                        uint32_t len, unsigned rx_seq);

/* With the audit log on, a message's hub-route entry is built around its handling. */
static void process(struct sl_hub *hub, struct hub_line *line, const uint8_t *p, uint32_t len,
                    unsigned rx_seq)
{
    if (!hub->audit) {
        process_one(hub, line, p, len, rx_seq);
        return;
    }
    hub_audit_msg_begin(hub, line, rx_seq);
    process_one(hub, line, p, len, rx_seq);
    hub_audit_msg_end(hub);
}

static void process_one(struct sl_hub *hub, struct hub_line *line, const uint8_t *p,
                        uint32_t len, unsigned rx_seq)
{
    struct sl_msg *m = &hub->msg;
    struct sl_msg_err e;
    char detail[160];
    memset(&e, 0, sizeof e);
    e.code = SL_ER_NONE;
    m->key[0] = '\0';

    /* 1. structure: header shape, known key, destination count, TXT */
    if (sl_msg_parse((const char *)p, len, m, &e) != 0) {
        hub_send_er(hub, line, e.code == SL_ER_NONE ? SL_ER_FORMAT : e.code, e.detail,
                    line->c->peer.member, NULL, m->key[0] ? m->key : NULL, p, len, rx_seq);
        sl_msg_clear(m);
        return;
    }
    if (hub->audit)
        hub_audit_msg_header(hub, m);
    const struct sl_key_info *ki = sl_key_lookup(m->key);
    const char *ctl = m->ctl;
    enum sl_er code = SL_ER_NONE;
    const char *sets = NULL;
    const struct sl_ori *so = NULL;

    /* 2. keys only the switch originates (ER) */
    if (!ki || ki->switch_only) {
        code = SL_ER_HEADER;
        snprintf(detail, sizeof detail, "MSG TYPE %s IS SENT ONLY BY THE SWITCH", m->key);
        goto refuse;
    }
    /* 3. sender ORI: known, owned by the line's member, active, allowed the key */
    so = sl_dir_snap_find(hub->snap, m->ori);
    if (!so) {
        code = SL_ER_HEADER;
        snprintf(detail, sizeof detail, "SENDER ORI %s NOT IN DIRECTORY", m->ori);
        goto refuse;
    }
    if (strcmp(so->member, line->c->peer.member) != 0) {
        code = SL_ER_HEADER;
        snprintf(detail, sizeof detail,
                 "SENDER ORI %s DOES NOT BELONG TO LINE %s: A MEMBER MAY SEND ONLY ITS OWN ORIS",
                 m->ori, line->c->peer.member);
        goto refuse;
    }
    if (so->status != 'A') {
        code = SL_ER_HEADER;
        snprintf(detail, sizeof detail, "SENDER ORI %s INACTIVE", m->ori);
        goto refuse;
    }
    if (!strchr(so->cats, ki->category)) {
        code = SL_ER_HEADER;
        snprintf(detail, sizeof detail,
                 "ORI NOT AUTHORIZED FOR MSG TYPE %s (NEEDS ACCESS CATEGORY %c, ORI HAS %s)",
                 m->key, ki->category, so->cats[0] ? so->cats : "NONE");
        goto refuse;
    }
    if (hub->audit)
        hub_audit_msg_requester(hub, so);

    /* 4. destinations: each exists and its member takes the key; regions expand to their
     *    members (de-duplicated, first mention wins); NL is the switch's own services. */
    struct route routes[SL_HUB_MAX_REGIONS * SL_HUB_REGION_STATES + SL_MSG_MAX_DEST];
    int nroutes = 0;
    int regional = 0, to_nl = 0;
    int kidx = hub_key_index(hub, ki);
    int always = bit_set(hub->always, kidx);
    /* DQ/RQ to a region are DQG/RQG (checked as such), delivered as DQ/RQ */
    char dkey[4];
    memcpy(dkey, m->key, sizeof dkey);
    const struct sl_key_info *dki = ki;
    int dkidx = kidx;
    if (dkey[2] == 'G' && dkey[1] == 'Q' && (dkey[0] == 'D' || dkey[0] == 'R')) {
        dkey[2] = '\0';
        dki = sl_key_lookup(dkey);
        dkidx = hub_key_index(hub, dki);
    }
    for (int i = 0; i < m->ndest; i++) {
        const char *d = m->dest[i]; /* the codec refuses a repeated destination */
        struct hub_member *dm;
        struct hub_line *to = NULL;
        size_t dl = strlen(d);
        unsigned kind = sl_msg_dest_kind(d, dl);
        if (dl == SL_ORI_LEN) {
            const struct sl_ori *dori = sl_dir_snap_find(hub->snap, d);
            if (!dori) {
                code = SL_ER_DEST;
                snprintf(detail, sizeof detail, "DESTINATION ORI %s NOT IN DIRECTORY", d);
                goto refuse;
            }
            if (dori->status != 'A') {
                code = SL_ER_DEST;
                snprintf(detail, sizeof detail, "DESTINATION ORI %s INACTIVE", d);
                goto refuse;
            }
            dm = hub_member_find(&hub->members, dori->member);
            if (!dm || dm->kind == 'N') {
                code = SL_ER_DEST;
                snprintf(detail, sizeof detail, "DESTINATION ORI %s HAS NO MEMBER LINE", d);
                goto refuse;
            }
            /* A query to an agency is answered by its member; anything else addressed to
             * an ORI (replies, AM) goes to the line that ORI last sent from, when that line
             * is still up, else to its member's answering line. */
            if (!ki->reply)
                to = req_line(hub, d);
            if (!to)
                to = dm->answer;
        } else if (kind == SL_DEST_NL) {
            to_nl = 1;
            continue; /* the codec allows NL only alone */
        } else if (kind == SL_DEST_REGION) {
            const struct sl_hub_region_conf *rg = NULL;
            for (int r = 0; r < hub->cfg.nregions; r++)
                if (!strcmp(hub->cfg.regions[r].code, d))
                    rg = &hub->cfg.regions[r];
            if (!rg) {
                code = SL_ER_DEST;
                snprintf(detail, sizeof detail, "DESTINATION %s IS NOT A REGION", d);
                goto refuse;
            }
            regional = 1;
            for (int s = 0; s < rg->nstates; s++) {
                struct hub_member *sm = hub_member_find(&hub->members, rg->states[s]);
                if (!sm || sm->kind == 'N')
                    continue; /* in the table, not in the directory: nothing to reach */
                int dup = 0;
                for (int r = 0; r < nroutes; r++)
                    dup |= routes[r].dm == sm;
                if (dup)
                    continue;
                routes[nroutes].dest = d;
                routes[nroutes].dm = sm;
                routes[nroutes].to = NULL;
                nroutes++;
            }
            continue;
        } else {
            dm = hub_member_find(&hub->members, d);
            if (!dm || dm->kind == 'N') {
                code = SL_ER_DEST;
                snprintf(detail, sizeof detail, "DESTINATION %s IS NOT A MEMBER LINE", d);
                goto refuse;
            }
        }
        if (!always && !bit_set(dm->takes, dkidx)) {
            code = SL_ER_NOT_ALLOWED;
            snprintf(detail, sizeof detail, "DESTINATION %s DOES NOT TAKE %s", d, dkey);
            goto refuse;
        }
        int dup = 0;
        for (int r = 0; r < nroutes; r++)
            dup |= routes[r].dm == dm && routes[r].to == to;
        if (dup)
            continue;
        routes[nroutes].dest = d;
        routes[nroutes].dm = dm;
        routes[nroutes].to = to;
        nroutes++;
    }

    /* 5. field rules of the key: .05. .10. .14. .16. .22.  A query to a region is checked
     *    as DQG/RQG (an OLN to a region gets .22. REFER TO DQG). */
    int retyped = regional && m->key[1] == 'Q' && !m->key[2] &&
                  (m->key[0] == 'D' || m->key[0] == 'R');
    if (retyped)
        m->key[2] = 'G';
    if (sl_msg_check(m, &e) != 0) {
        code = e.code == SL_ER_NONE ? SL_ER_FORMAT22 : e.code;
        sl_strlcpy(detail, e.detail, sizeof detail);
        sets = m->key;
        goto refuse;
    }
    if (retyped)
        m->key[2] = '\0';

    /* 6. the switch's own services: archive searches, multi-state queries */
    if (to_nl) {
        req_note(hub, m->ori, line);
        if (!strcmp(m->key, "NLQ") || !strcmp(m->key, "NFQ")) {
            archive_request(hub, line, m, so, ki->reply, rx_seq);
        } else if (!strcmp(dkey, "DQ") || !strcmp(dkey, "RQ") || !strcmp(dkey, "KQ")) {
            hub->t_msq++;
            hub_msq_start(hub, line, m, so, dkidx, p, len, rx_seq);
        } else {
            code = SL_ER_DEST;
            snprintf(detail, sizeof detail, "MSG TYPE %s CANNOT BE SENT TO NL", m->key);
            goto refuse;
        }
        sl_msg_clear(m);
        return;
    }
    /* a state's answer to one copy of a multi-state query is the switch's to merge */
    if (hub->msq_active && !ki->reply && hub_msq_reply(hub, line, m)) {
        if (hub->audit)
            hub_audit_msg_leg(hub, "NL", "collected");
        sl_msg_clear(m);
        return;
    }

    /* an answer to a query the switch delivered: forgotten; a second one is dropped */
    if (line->bound && sl_key_is_reply(ki) && hub_out_answer(hub, line, m)) {
        if (hub->audit)
            hub_audit_msg_leg(hub, m->dest[0], "duplicate");
        sl_msg_clear(m);
        return;
    }

    /* 7. deliver */
    req_note(hub, m->ori, line);
    if (regional)
        hub->t_regional++;
    struct sl_outhdr h;
    memset(&h, 0, sizeof h);
    sl_strlcpy(h.key, dkey, sizeof h.key);
    memcpy(h.ori, m->ori, sizeof h.ori);
    h.rx_time = hub->now_s;
    h.rx_seq = rx_seq;
    sl_strlcpy(h.ctl, m->ctl, sizeof h.ctl);
    const char *body = m->text;
    size_t blen = m->text_len;
    struct sl_buf aml = SL_BUF_INIT;
    if (m->key[0] == 'A' && m->key[1] == 'M' && m->key[2] == 'L') {
        /* Nlets inserts the line; the sender cannot leave it out */
        sl_buf_append_str(&aml, "FOR LAW ENFORCEMENT DISSEMINATION ONLY\n");
        sl_buf_append(&aml, m->text, m->text_len);
        body = (const char *)sl_buf_head(&aml);
        blen = sl_buf_used(&aml);
    }
    struct hub_delivery dv = {line, m, p, len, so->member};
    hub->routed = 0;
    for (int i = 0; i < nroutes; i++) {
        struct route *rt = &routes[i];
        struct hub_line *to = rt->to ? rt->to : rt->dm->answer;
        if (!always && !bit_set(rt->dm->takes, dkidx)) {
            /* a region's member that does not take the key (direct ones got ER .02.) */
            char dname[32];
            snprintf(dname, sizeof dname, "%s VIA %s", rt->dm->code, rt->dest);
            hub_send_sm(hub, line, m, 1, dname, "NOT TAKEN BY THIS MEMBER", p, len, rx_seq);
            continue;
        }
        sl_strlcpy(h.dest, rt->dest, sizeof h.dest);
        h.has_req = 0;
        if (ki->reply && (!to || to->c->peer.role == SL_ROLE_ANSWER))
            hub_fill_requester(&h, so);
        hub_deliver(hub, rt->dm, to, &h, body, blen, &dv);
    }
    if (hub->forget_id)
        hub_out_routed(hub);
    if (aml.data)
        sl_buf_free(&aml);
    sl_msg_clear(m);
    return;

refuse:
    hub_send_er(hub, line, code, detail, m->ori, ctl, sets, p, len, rx_seq);
    sl_msg_clear(m);
}
