/*
 * hub_route.c - what the hub does with one message: the S-4 checks, in the order of
 * docs/protocol-hub.md §2, and routing to the destinations' lines (§3).
 *
 * Nothing here touches SQLite or allocates per message beyond what the codec does: the
 * directory is an in-memory snapshot, members and requesters are hash tables, and output
 * is formatted straight into the receiving line's output buffer (flushed in batches by
 * hub.c's before_sleep hook).
 *
 * Every refusal is answered on the line the message came from: ER from the switch's ORI
 * for a message that is wrong, SM for one that is right but cannot be delivered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub_int.h"
#include "stateline/core.h"
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
    return 0;
}

void hub_members_free(struct hub_members *m)
{
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

static void req_note(struct sl_hub *hub, const char *ori, const struct hub_line *line)
{
    struct hub_req_entry *b = req_bucket(hub, ori), *victim = &b[0];
    for (int i = 0; i < 4; i++) {
        if (!strcmp(b[i].ori, ori)) {
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

static struct hub_line *req_line(const struct sl_hub *hub, const char *ori)
{
    struct hub_req_entry *b = req_bucket(hub, ori);
    for (int i = 0; i < 4; i++)
        if (b[i].ori[0] && !strcmp(b[i].ori, ori))
            return hub_line_get(hub, b[i].slot, b[i].gen);
    return NULL;
}

/* ---- output -------------------------------------------------------------------------- */

static void emit(struct sl_hub *hub, struct hub_line *to, struct sl_outhdr *h, const char *body,
                 size_t body_len)
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
    to->frames_out++;
    to->bytes_out += sl_buf_used(out) - before;
    hub->t_frames_out++;
    hub_line_mark_pending(hub, to);
}

static void switch_header(struct sl_hub *hub, struct sl_outhdr *h, const char *key,
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
    switch_header(hub, &h, "ER", dest, ctl, rx_seq);
    sl_buf_reset(&hub->scratch);
    sl_msg_format_er_body(&e, key_for_sets, (const char *)orig, orig_len, &hub->scratch);
    emit(hub, line, &h, (const char *)sl_buf_head(&hub->scratch), sl_buf_used(&hub->scratch));
    line->errors++;
    hub->t_er++;
    if (sl_log_enabled(SL_LOG_DEBUG))
        SL_DEBUG("hub", "ER to %s %s (%s): .%02d. %s %s", line->c->peer.member,
                 sl_role_name(line->c->peer.role), line->addr, (int)code, sl_er_text(code),
                 e.detail);
}

/* SM .04.: the message is right but this destination cannot take it now. */
static void send_sm_04(struct sl_hub *hub, struct hub_line *line, const struct sl_msg *m,
                       const char *dest, const char *why, const uint8_t *orig, size_t orig_len,
                       unsigned rx_seq)
{
    struct sl_outhdr h;
    switch_header(hub, &h, "SM", m->ori, m->ctl, rx_seq);
    struct sl_buf *b = &hub->scratch;
    sl_buf_reset(b);
    sl_buf_printf(b, ".04. USER OUT OF SERVICE FOR MSG TYPE, NLETS WILL NOT FORWARD\n"
                     "DESTINATION %s MSG TYPE %s: %s\nORIGINAL MESSAGE\n",
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
    emit(hub, line, &h, (const char *)sl_buf_head(b), sl_buf_used(b));
    line->refused++;
    hub->t_sm++;
    if (sl_log_enabled(SL_LOG_DEBUG))
        SL_DEBUG("hub", "SM .04. to %s %s: %s %s to %s: %s", line->c->peer.member,
                 sl_role_name(line->c->peer.role), m->key, m->ori, dest, why);
}

/* ---- one message --------------------------------------------------------------------- */

struct route {
    const char *dest;
    struct hub_line *to;
};

void hub_process_frame(struct sl_hub *hub, struct hub_line *line, const uint8_t *p, uint32_t len)
{
    line->frames_in++;
    line->bytes_in += SL_FRAME_HDR + (uint64_t)len;
    hub->t_frames_in++;
    if (len == 0)
        return; /* keep-alive */
    line->in_count++;
    unsigned rx_seq = (unsigned)(line->in_count % HUB_SEQ_MOD);

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

    /* 4. destinations: each exists and its member takes the key */
    struct route routes[SL_MSG_MAX_DEST];
    int nroutes = 0;
    int kidx = hub_key_index(hub, ki);
    int always = bit_set(hub->always, kidx);
    for (int i = 0; i < m->ndest; i++) {
        const char *d = m->dest[i]; /* the codec refuses a repeated destination */
        struct hub_member *dm;
        struct hub_line *to = NULL;
        if (strlen(d) == SL_ORI_LEN) {
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
        } else {
            unsigned kind = sl_msg_dest_kind(d, strlen(d));
            if (kind == SL_DEST_NL || kind == SL_DEST_REGION) {
                code = SL_ER_DEST;
                snprintf(detail, sizeof detail,
                         "DESTINATION %s: REGIONAL AND MULTI-STATE ROUTING NOT IN SERVICE", d);
                goto refuse;
            }
            dm = hub_member_find(&hub->members, d);
            if (!dm || dm->kind == 'N') {
                code = SL_ER_DEST;
                snprintf(detail, sizeof detail, "DESTINATION %s IS NOT A MEMBER LINE", d);
                goto refuse;
            }
            to = dm->answer;
        }
        if (!always && !bit_set(dm->takes, kidx)) {
            code = SL_ER_NOT_ALLOWED;
            snprintf(detail, sizeof detail, "DESTINATION %s DOES NOT TAKE %s", d, m->key);
            goto refuse;
        }
        if (to && (to->closing || !to->open))
            to = NULL;
        routes[nroutes].dest = d;
        routes[nroutes].to = to;
        nroutes++;
    }

    /* 5. field rules of the key: .05. .10. .14. .16. .22. */
    if (sl_msg_check(m, &e) != 0) {
        code = e.code == SL_ER_NONE ? SL_ER_FORMAT22 : e.code;
        sl_strlcpy(detail, e.detail, sizeof detail);
        sets = m->key;
        goto refuse;
    }

    /* 6. deliver */
    req_note(hub, m->ori, line);
    struct sl_outhdr h;
    memset(&h, 0, sizeof h);
    sl_strlcpy(h.key, m->key, sizeof h.key);
    memcpy(h.ori, m->ori, sizeof h.ori);
    h.rx_time = hub->now_s;
    h.rx_seq = rx_seq;
    sl_strlcpy(h.ctl, m->ctl, sizeof h.ctl);
    for (int i = 0; i < nroutes; i++) {
        struct hub_line *to = routes[i].to;
        if (!to) {
            send_sm_04(hub, line, m, routes[i].dest, "NO ANSWERING LINE CONNECTED", p, len,
                       rx_seq);
            continue;
        }
        if (sl_buf_used(&to->c->out) >= hub->cfg.out_cap) {
            send_sm_04(hub, line, m, routes[i].dest,
                       "NOT ACCEPTING TRAFFIC (ITS OUTPUT QUEUE IS FULL)", p, len, rx_seq);
            continue;
        }
        sl_strlcpy(h.dest, routes[i].dest, sizeof h.dest);
        h.has_req = ki->reply && to->c->peer.role == SL_ROLE_ANSWER;
        if (h.has_req) {
            struct sl_requester *r = &h.req;
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
        emit(hub, to, &h, m->text, m->text_len);
        hub->t_routed++;
    }
    sl_msg_clear(m);
    return;

refuse:
    hub_send_er(hub, line, code, detail, m->ori, ctl, sets, p, len, rx_seq);
    sl_msg_clear(m);
}
