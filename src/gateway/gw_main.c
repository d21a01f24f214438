/*
 * gw_main.c - the gateway's event loop: the answering line, the decision, the audit
 * barrier and the reply FIFO (docs/gateway.md §4-5).
 *
 * A query's way through (one loop iteration unless noted):
 *   1. a frame from the hub (output form, VRQ/ line) goes into the inbox (gateway.db)
 *      so that a crash before its reply leaves does not lose it;
 *   2. parsed; the QUERY audit entry (personal values only as the keyed hash);
 *   3. the one decision (gw_policy_decide) before any record is read; DECISION entry;
 *   4. forbid -> denial text; hold -> review queue (durable) + HOLD entry + "held" text;
 *      permit -> look-up, redaction, reply text, RELEASE entry;
 *   5. the reply waits in the FIFO with the index its last entry needs;
 *   6. (later iteration) the durability thread's eventfd says entries [0, n) are on disk;
 *      before_sleep moves every reply whose entries are durable into the line's output
 *      and flushes; once the line has taken it, its inbox row is deleted.
 * If the line is down, replies wait in the FIFO and leave when the line is back (G-4).
 * The line is redialled with exponential back-off (100 ms doubling to reconnect_max_ms).
 *
 * Reply frames are the input form: RK.<our ORI>.<requester ORI>[.CTL].TXT LF body.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "gw_int.h"
#include "gw_text.h"
#include "stateline/audit.h"
#include "stateline/conn.h"
#include "stateline/core.h"
#include "stateline/frame.h"
#include "stateline/http.h"
#include "stateline/loop.h"
#include "stateline/policy.h"
#include "stateline/sqlcfg.h"

struct gw_item {
    uint64_t need;     /* audit entries [0, need) must be durable before it leaves */
    int64_t inbox_id;  /* inbox row of the query (gw_inbox_done once the hub has it) */
    int64_t review_id; /* review whose reply this is: marked sent once acknowledged */
    uint64_t mid;      /* switch message id of the query it answers (kept once acked) */
    uint8_t *frame;    /* reply payload (sl_xmalloc'd, owned by the item) */
    uint32_t len;
    uint64_t mark;     /* bytes of the connection the peer must have acked for this reply
                          to be in the hub's hands; 0 until it is all in the kernel */
};

struct gw {
    const struct sl_gw_config *cfg;
    struct sl_loop *loop;
    struct sl_tls *tls;
    struct sl_conn *c;
    char token[128];
    int backoff_ms;
    int64_t dial_timer;
    struct gw_policy *pol;
    struct gw_records *rec;
    struct gw_queue *q;
    struct gw_inbox *ib;   /* the inbox in memory (gw_inbox.c) */
    struct sl_audit_log *audit;
    uint64_t durable;
    /* reply FIFO: items[head, head + nsent) are written to the line (in c->out or in the
     * kernel) and not yet acknowledged by the hub's TCP; [head + nsent, n) wait for the
     * audit log */
    struct gw_item *items;
    size_t head, n, cap, nsent;
    int stopping;
    int failed;
    int64_t stop_deadline_ms;
    uint64_t counter;
    int64_t run;       /* this run's id (start time): reviews queued by it carry it */
    int64_t *ids;      /* inbox rows of the frames of one read (or GW_REPEAT) */
    struct gw_pre *pre; /* those frames parsed (ids_cap of them) */
    size_t ids_cap;
    uint64_t n_queries, n_released, n_denied, n_held, n_notfound;
    struct sl_buf body, frame;
    struct sl_http *http;  /* the oversight desk, when http_listen is set */
    /* the policy hash of the last verdict, as text and as bytes: every query's decision
     * and release entries carry it, and it changes only with the policy */
    char hash_hex[65];
    uint8_t hash_bin[32];
    int64_t next_retention_ms; /* when the next retention pass is due (0: the first tick) */
    int64_t ret_reviews, ret_notices; /* deleted by the passes of this round so far */
};

/* The unread bytes of b, NULL for a buffer that never held any (sl_buf_head would do
 * arithmetic on a null pointer). */
static const uint8_t *bytes_of(const struct sl_buf *b)
{
    return b->data ? sl_buf_head(b) : NULL;
}

/* ---- audit helpers ---- */

static void fill_requester(struct sl_audit_entry *e, const struct sl_outhdr *h)
{
    sl_audit_set_str(e, SL_AF_ORI, h->ori);
    if (h->has_req) {
        sl_audit_set_str(e, SL_AF_MEMBER, h->req.member);
        sl_audit_set_str(e, SL_AF_PARENT, h->req.parent);
        sl_audit_set_str(e, SL_AF_AGENCY_TYPE, h->req.type);
        sl_audit_set_str(e, SL_AF_REQ_STATE, h->req.state);
    }
    sl_audit_set_str(e, SL_AF_KEY, h->key);
}

static int64_t append(struct gw *g, struct sl_audit_entry *e, const void *pers, size_t plen)
{
    int64_t idx = sl_audit_append(g->audit, e, pers, plen);
    if (idx < 0 && errno == EINVAL) {
        /* An entry the encoder refuses (logged by the audit module) is a defect, not a
         * reason to stop answering: a SYSTEM entry records that it happened, and it is the
         * barrier the reply waits for. */
        struct sl_audit_entry s;
        char t[128];
        snprintf(t, sizeof t, "a %s entry was refused by the encoder (see the gateway log)",
                 sl_audit_type_name(e->type) ? sl_audit_type_name(e->type) : "?");
        sl_audit_entry_init(&s, SL_AUDIT_SYSTEM, e->time_us);
        sl_audit_set_str(&s, SL_AF_TEXT, t);
        idx = sl_audit_append(g->audit, &s, NULL, 0);
    }
    if (idx < 0) {
        /* Nothing after this can be made durable: no reply may leave.  Stop; the
         * inbox keeps the queries for the next start. */
        SL_ERROR("gateway", "audit log append failed (%s): stopping, no reply can be "
                 "made durable", strerror(errno));
        g->failed = 1;
        sl_loop_stop(g->loop);
    }
    return idx;
}

static void hex_to_hash(const char *hex, uint8_t out[32])
{
    if (strlen(hex) != 64 || sl_audit_unhex(hex, 64, out) != 0)
        memset(out, 0, 32);
}

/* hex_to_hash of a verdict's policy hash, converted once per policy in force. */
static void verdict_hash(struct gw *g, const char *hex, uint8_t out[32])
{
    if (strcmp(hex, g->hash_hex) != 0) {
        hex_to_hash(hex, g->hash_bin);
        sl_strlcpy(g->hash_hex, hex, sizeof g->hash_hex);
    }
    memcpy(out, g->hash_bin, 32);
}

/* "policy-file:wa.policy": who changed the policy, as far as the gateway knows (the file;
 * `stateline policy apply` will name the author). */
static void policy_actor(struct gw *g, char *out, size_t len)
{
    const char *b = strrchr(g->cfg->policy, '/');
    snprintf(out, len, "policy-file:%.40s", b ? b + 1 : g->cfg->policy);
}

static void set_policy_hash(struct gw *g, struct sl_audit_entry *e, enum sl_audit_field f)
{
    char hex[65];
    uint8_t h[32];
    gw_policy_hash(g->pol, hex);
    hex_to_hash(hex, h);
    sl_audit_set_hash(e, f, h);
}

/* ---- the reply FIFO ---- */

static void push_reply(struct gw *g, uint64_t need, int64_t inbox_id, int64_t review_id,
                       uint64_t mid, const struct sl_buf *f)
{
    if (g->head > 0 && g->n == g->cap) {
        memmove(g->items, g->items + g->head, (g->n - g->head) * sizeof *g->items);
        g->n -= g->head;
        g->head = 0;
    }
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 256;
        g->items = sl_xrealloc(g->items, g->cap * sizeof *g->items);
    }
    struct gw_item *it = &g->items[g->n++];
    it->need = need;
    it->inbox_id = inbox_id;
    it->review_id = review_id;
    it->mid = mid;
    it->mark = 0;
    it->len = (uint32_t)sl_buf_used(f);
    it->frame = sl_xmalloc(it->len ? it->len : 1);
    if (it->len)
        memcpy(it->frame, bytes_of(f), it->len);
}

/*
 * When is a reply delivered?  Not when write() took it: a process killed with unread input
 * on its socket makes the kernel reset the connection and throw away what it had not sent
 * yet.  A reply counts as delivered when the hub's TCP has acknowledged its last byte
 * (tcp_info.tcpi_bytes_acked, cumulative and still readable after a reset); only then is
 * its inbox row deleted.  Until then a restart answers the query again, and a new line
 * resends it: a lost answer is not possible, and a repeat carries the query's switch
 * message id (MID/ echo), which the hub drops when it has seen that id answered.
 *
 * mark_flushed: c->out is empty, so everything written so far is in the kernel.  The
 * replies sent and not yet marked are delivered once the hub has acknowledged that much
 * (sl_conn_ack_mark: an exact mark, or one that can only be late).
 */
static void mark_flushed(struct gw *g)
{
    uint64_t total;
    if (sl_conn_ack_mark(g->c, &total) < 0)
        return; /* no marks: rows stay in the inbox, the replies are resent if need be */
    for (size_t i = 0; i < g->nsent; i++) {
        struct gw_item *it = &g->items[g->head + i];
        if (!it->mark)
            it->mark = total ? total : 1;
    }
}

/* Replies the hub's TCP has acknowledged are done: their queries leave the inbox, the
 * replies are kept under their ids (a repeat of the query, after a crash of either side,
 * gets this very reply again), memory freed.  What the whole pass writes is one
 * gw_inbox_flush: one BATCH record of the inbox's log (the ids, the rows now done, the
 * replies; docs/gateway.md §5.1). */
static void ack_check(struct gw *g)
{
    uint64_t acked;
    /* all: nothing unacknowledged at all, so every reply sent is delivered, whatever its
     * mark (a late mark would otherwise wait for the next reply on a quiet line) */
    int all;
    if (!g->c || !g->nsent || sl_conn_acked(g->c, &acked, &all) != 0) {
        gw_inbox_flush(g->ib); /* rows finished without a reply (not queries) */
        return;
    }
    size_t k = 0;
    while (k < g->nsent) {
        struct gw_item *it = &g->items[g->head + k];
        if (!all && (!it->mark || it->mark > acked))
            break;
        gw_inbox_done(g->ib, it->inbox_id, it->mid, it->frame, it->len);
        if (it->review_id > 0 && gw_queue_begin(g->q) == 0)
            gw_queue_review_sent(g->q, it->review_id);
        free(it->frame);
        k++;
    }
    g->head += k;
    g->nsent -= k;
    if (g->head == g->n)
        g->head = g->n = 0;
    gw_inbox_flush(g->ib);
}

/* ---- building replies ---- */

static const char *reply_key(const char *key)
{
    const struct sl_key_info *ki = sl_key_lookup(key);
    return ki && ki->reply ? ki->reply : "AM";
}

/* The reply's header; echo: the first answer to a delivered query echoes its switch
 * message id (MID/ as the first body line), which is how the hub knows it is answered
 * (docs/protocol.md Part III §7).  A later reply to the same query (after review) does not:
 * the hub would take it for a repeat. */
static void start_reply(struct gw *g, const struct sl_outhdr *h, int echo)
{
    struct sl_buf *f = &g->frame;
    sl_buf_reset(f);
    /* "%s.%s.%s%s%s.TXT\n" and SL_MID_PREFIX "%llu\n", without printf (gw_text.h) */
    gw_cat(f, reply_key(h->key));
    gw_cat_c(f, '.');
    gw_cat(f, g->cfg->ori);
    gw_cat_c(f, '.');
    gw_cat(f, h->ori);
    if (h->ctl[0]) {
        gw_cat_c(f, '.');
        gw_cat(f, h->ctl);
    }
    gw_cat_n(f, ".TXT\n", 5);
    if (echo && h->mid) {
        gw_cat_n(f, SL_MID_PREFIX, sizeof SL_MID_PREFIX - 1);
        gw_cat_u64(f, h->mid);
        gw_cat_c(f, '\n');
    }
}

static void utc_text(int64_t us, char *out, size_t len)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%d %H:%M UTC", &tm);
}

static unsigned key_bit(const char *key)
{
    if (!strcmp(key, "DQ") || !strcmp(key, "DQG"))
        return SL_GW_KEY_DQ;
    if (!strcmp(key, "DNQ"))
        return SL_GW_KEY_DNQ;
    if (!strcmp(key, "KQ"))
        return SL_GW_KEY_KQ;
    if (!strcmp(key, "RQ") || !strcmp(key, "RQG"))
        return SL_GW_KEY_RQ;
    if (!strcmp(key, "RNQ"))
        return SL_GW_KEY_RNQ;
    if (!strcmp(key, "RPQ"))
        return SL_GW_KEY_RPQ;
    return 0;
}

static void copy_field(const struct sl_msg *m, const char *pfx, char *out, size_t len)
{
    const struct sl_field *f = sl_msg_field(m, pfx);
    out[0] = 0;
    if (f) {
        size_t n = f->len < len - 1 ? f->len : len - 1;
        memcpy(out, f->val, n);
        out[n] = 0;
    }
}

/* Does a hold by these rules need two reviewers (config two_person)? */
static int needs_two(const struct sl_gw_config *cfg, const struct gw_verdict *v)
{
    char buf[sizeof cfg->two_person];
    sl_strlcpy(buf, cfg->two_person, sizeof buf);
    for (char *save = NULL, *t = strtok_r(buf, " ,\t", &save); t;
         t = strtok_r(NULL, " ,\t", &save)) {
        if (!strcmp(t, "all"))
            return 1;
        for (int i = 0; i < v->nrules; i++)
            if (!strcmp(t, v->rules[i]))
                return 1;
    }
    return 0;
}

/* What the reviewer needs, as JSON for the review table's detail column (docs/review.md
 * §1).  Returns a malloc'd string (caller frees). */
static char *hold_detail(struct gw *g, const struct sl_outhdr *h, const struct sl_msg *m,
                         const struct gw_verdict *v, const char *rsn, const char *pur,
                         const char *cas, const char *lgp, const char *atn, const char *imq)
{
    json_t *o = json_object();
    json_object_set_new(o, "member", json_string(h->has_req ? h->req.member : ""));
    json_object_set_new(o, "type", json_string(h->has_req ? h->req.type : ""));
    json_object_set_new(o, "parent", json_string(h->has_req ? h->req.parent : ""));
    json_object_set_new(o, "state", json_string(h->has_req ? h->req.state : ""));
    json_object_set_new(o, "categories", json_string(h->has_req ? h->req.cats : ""));
    json_object_set_new(o, "tags", json_string(h->has_req ? h->req.tags : ""));
    json_object_set_new(o, "RSN", json_string(rsn));
    json_object_set_new(o, "PUR", json_string(pur));
    json_object_set_new(o, "CAS", json_string(cas));
    json_object_set_new(o, "LGP", json_string(lgp));
    json_object_set_new(o, "ATN", json_string(atn));
    json_object_set_new(o, "IMQ", json_string(imq));
    /* search fields by prefix only: the values are in the frame, shown by `show` */
    json_t *sf = json_array();
    for (int i = 0; i < m->nfields; i++)
        json_array_append_new(sf, json_string(m->fields[i].pfx));
    json_object_set_new(o, "fields", sf);
    uint32_t carried = sl_policy_dc_for_key(h->key);
    json_object_set_new(o, "carried", json_integer(carried));
    json_object_set_new(o, "redact", json_integer(v->withheld));
    json_object_set_new(o, "withheld_by", json_string(v->withheld_by));
    json_t *rules = json_array();
    for (int i = 0; i < v->nrules; i++)
        json_array_append_new(rules, json_string(v->rules[i]));
    json_object_set_new(o, "rules", rules);
    json_object_set_new(o, "why", json_string(v->why));
    json_t *marks = json_array();
    for (int i = 0; i < v->nmarks; i++)
        json_array_append_new(marks, json_string(v->marks[i]));
    json_object_set_new(o, "marks", marks);
    json_t *nts = json_array();
    for (int i = 0; i < v->nnotices; i++)
        json_array_append_new(nts, json_pack("{s:i,s:b,s:s}", "days", v->notices[i].days,
                                             "business", v->notices[i].business, "rule",
                                             v->notices[i].rule));
    json_object_set_new(o, "notices", nts);
    json_object_set_new(o, "two_person", json_boolean(needs_two(g->cfg, v)));
    char *txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    char *out = sl_xstrdup(txt ? txt : "{}");
    free(txt);
    return out;
}

/* Notices to the person (policy `notify`), one per person whose record left (the
 * licence numbers in rel->personal), with the earliest due date of the obligations; a
 * NOTICE_CREATED entry each.  Returns the index of the last entry. */
static int64_t create_notices(struct gw *g, const char *ref, const struct sl_outhdr *h,
                              const struct gw_verdict *v, const struct gw_release *rel,
                              const char *review, int64_t last)
{
    int64_t now_us = sl_wall_us();
    int best = 0;
    int32_t due = 0;
    for (int i = 0; i < v->nnotices; i++) {
        int32_t d = sl_gw_notice_due(g->cfg, now_us / 1000000, v->notices[i].days,
                                     v->notices[i].business);
        if (!due || d < due) {
            due = d;
            best = i;
        }
    }
    /* The end of the due day, local time. */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = due / 10000 - 1900;
    tm.tm_mon = due / 100 % 100 - 1;
    tm.tm_mday = due % 100;
    tm.tm_hour = 23;
    tm.tm_min = 59;
    tm.tm_sec = 59;
    tm.tm_isdst = -1;
    int64_t due_us = (int64_t)mktime(&tm) * 1000000;

    char *pers = sl_xstrndup(rel->personal.data ? (const char *)sl_buf_head(&rel->personal)
                                                : "",
                             sl_buf_used(&rel->personal));
    char seen[64][24];
    int nseen = 0;
    for (char *save = NULL, *t = strtok_r(pers, ";|", &save); t;
         t = strtok_r(NULL, ";|", &save)) {
        if (strncmp(t, "OLN=", 4) != 0 || !t[4])
            continue;
        int dup = 0;
        for (int k = 0; k < nseen; k++)
            dup |= !strcmp(seen[k], t + 4);
        if (dup || nseen == 64)
            continue;
        sl_strlcpy(seen[nseen++], t + 4, sizeof seen[0]);
        struct gw_notice n = {now_us, due, v->notices[best].days, v->notices[best].business,
                              v->notices[best].rule, ref, review ? review : "", h->ori,
                              h->has_req ? h->req.member : "", h->has_req ? h->req.type : "",
                              h->has_req ? h->req.parent : "", h->has_req ? h->req.state : "",
                              h->key, gw_audit_classes(rel->released), t + 4};
        int64_t id = gw_queue_notice_add(g->q, &n);
        struct sl_audit_entry e;
        char nid[32], text[200];
        sl_audit_entry_init(&e, SL_AUDIT_NOTICE_CREATED, now_us);
        sl_audit_set_str(&e, SL_AF_REF, ref);
        fill_requester(&e, h);
        sl_audit_add_item(&e, SL_AF_RULES, v->notices[best].rule);
        if (gw_audit_classes(rel->released))
            sl_audit_set_int(&e, SL_AF_RELEASED, gw_audit_classes(rel->released));
        sl_audit_set_int(&e, SL_AF_DUE, due_us);
        if (id < 0) {
            snprintf(nid, sizeof nid, "%s-N?", g->cfg->state);
            snprintf(text, sizeof text, "notice could not be stored in gateway.db (see the "
                     "gateway log): it must be made by hand");
            sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_FAILED);
        } else {
            snprintf(nid, sizeof nid, "%s-N%lld", g->cfg->state, (long long)id);
            snprintf(text, sizeof text, "notice to the person within %d %sdays",
                     v->notices[best].days, v->notices[best].business ? "business " : "");
            /* no outcome: "noticed" goes on the notice-sent entry (audit-format §9) */
        }
        sl_audit_set_str(&e, SL_AF_NOTICE_ID, nid);
        sl_audit_set_str(&e, SL_AF_TEXT, text);
        int64_t idx = append(g, &e, NULL, 0);
        if (idx < 0)
            break;
        last = idx;
    }
    free(pers);
    return last;
}

/* Look up, redact and answer a released query (a permit, an approval after review, a
 * hold whose deadline releases): appends the records to g->frame and writes the RELEASE
 * entry, then the notices.  review: "WA-R3" for a reviewed request, else NULL.  Returns
 * the index of the last entry (-1: the log failed). */
static int64_t do_release(struct gw *g, const char *ref, const struct sl_outhdr *h,
                          const struct sl_msg *m, const struct gw_verdict *v, int key_refused,
                          const char *review)
{
    const struct sl_gw_config *cfg = g->cfg;
    struct sl_audit_entry e;
    char t[200];
    uint8_t hash[32];
    verdict_hash(g, v->hash, hash);
    struct gw_release rel;
    memset(&rel, 0, sizeof rel);
    sl_buf_init(&rel.personal);
    enum sl_gw_layout lay = sl_gw_layout_for(cfg, h->ori, h->has_req ? h->req.member : "");
    sl_audit_entry_init(&e, SL_AUDIT_RELEASE, sl_wall_us());
    sl_audit_set_str(&e, SL_AF_REF, ref);
    fill_requester(&e, h);
    for (int i = 0; i < v->nrules; i++)
        sl_audit_add_item(&e, SL_AF_RULES, v->rules[i]);
    sl_audit_set_hash(&e, SL_AF_POLICY_HASH, hash);
    if (review)
        sl_audit_set_str(&e, SL_AF_NOTICE_ID, review);
    if (key_refused) {
        sl_buf_printf(&g->frame, "%s DOES NOT ANSWER %s ON THIS SYSTEM\n", cfg->state, h->key);
        sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_DENIED);
        sl_audit_set_str(&e, SL_AF_TEXT, "key not answered here");
        g->n_denied++;
    } else if (v->unmapped) {
        /* A redaction we cannot apply: no release (issue 5 item 4). */
        sl_buf_printf(&g->frame, "DENIED BY %s: THE POLICY WITHHOLDS %s, WHICH THIS "
                      "GATEWAY CANNOT APPLY; NOTHING IS RELEASED\n", cfg->state,
                      v->unmapped_names);
        snprintf(t, sizeof t, "redaction not applicable (%s): no release", v->unmapped_names);
        sl_audit_set_str(&e, SL_AF_TEXT, t);
        sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_DENIED);
        SL_ERROR("gateway", "%s from %s denied: policy class(es) %s cannot be redacted here",
                 h->key, h->ori, v->unmapped_names);
        g->n_denied++;
    } else {
        gw_records_answer(g->rec, cfg, m, v, lay, &g->body, &rel);
        if (sl_buf_used(&g->body))
            sl_buf_append(&g->frame, bytes_of(&g->body), sl_buf_used(&g->body));
        /* (a zero mask is refused by the encoder: absent means none) */
        if (gw_audit_classes(rel.released))
            sl_audit_set_int(&e, SL_AF_RELEASED, gw_audit_classes(rel.released));
        if (gw_audit_classes(rel.withheld))
            sl_audit_set_int(&e, SL_AF_WITHHELD, gw_audit_classes(rel.withheld));
        static const char *const outcome_text[] = {"found", "not on file", "query not usable",
                                                   "file not available",
                                                   "temporarily unavailable", "not answered"};
        sl_audit_set_str(&e, SL_AF_TEXT, outcome_text[rel.outcome]);
        if (rel.outcome == GW_OUT_FOUND) {
            sl_audit_set_int(&e, SL_AF_OUTCOME, rel.withheld ? SL_AUDIT_OUT_REDACTED
                                                             : SL_AUDIT_OUT_RELEASED);
            g->n_released++;
        } else {
            /* Nothing left: NOT ON FILE is an answer (released, no classes); a query that
             * could not be searched or a store that failed is "failed"; a key the gateway
             * does not answer is "denied". */
            sl_audit_set_int(&e, SL_AF_OUTCOME,
                             rel.outcome == GW_OUT_NOT_ON_FILE     ? SL_AUDIT_OUT_RELEASED
                             : rel.outcome == GW_OUT_NOT_ANSWERED ? SL_AUDIT_OUT_DENIED
                                                                  : SL_AUDIT_OUT_FAILED);
            g->n_notfound++;
        }
    }
    if (review) {
        /* After review the query's outcome is on the review entry (docs/audit-format.md
         * §9: one counted outcome per thing that happened); this entry records the reply
         * and the classes that left. */
        sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_OK);
    }
    int64_t last = append(g, &e, bytes_of(&rel.personal), sl_buf_used(&rel.personal));
    if (last >= 0 && rel.outcome == GW_OUT_FOUND && !key_refused && !v->unmapped &&
        v->nnotices)
        last = create_notices(g, ref, h, v, &rel, review, last);
    sl_buf_free(&rel.personal);
    return last;
}

/* A frame of one read, parsed once (on_line): for the inbox's look-up of its switch
 * message id and for handle_frame.  Before, the header was parsed three times and the
 * body once per query (inbox_take, handle_frame, sl_msg_parse_delivered), 6,000
 * instructions of the gateway loop's ~80,000 per query (docs/performance.md). */
struct gw_pre {
    int hdr_ok;             /* h is the frame's header (else err says why not) */
    int parsed;             /* m is the frame's message (else err says why not) */
    struct sl_outhdr h;
    struct sl_msg m;        /* owns m.text (also when not parsed): sl_msg_clear */
    struct sl_msg_err err;
};

static void pre_parse(struct gw_pre *pp, const uint8_t *p, uint32_t len)
{
    memset(&pp->m, 0, sizeof pp->m);
    pp->parsed = sl_msg_parse_delivered((const char *)p, len, &pp->h, &pp->m, &pp->err) == 0;
    pp->hdr_ok = pp->parsed;
    if (!pp->parsed) {
        /* Which failed, the header or the body?  (rare: the hub checked the query) */
        const char *body;
        size_t blen;
        struct sl_msg_err herr;
        pp->hdr_ok = sl_msg_parse_output((const char *)p, len, &pp->h, &body, &blen,
                                         &herr) == 0;
        if (!pp->hdr_ok)
            pp->err = herr;
    }
}

/* One delivered frame.  recovered: it comes from the inbox of an earlier run.  pp: the
 * frame parsed by on_line (its m is cleared by the caller), or NULL: parsed here. */
static void handle_frame(struct gw *g, int64_t inbox_id, const uint8_t *p, uint32_t len,
                         int recovered, struct gw_pre *pp)
{
    const struct sl_gw_config *cfg = g->cfg;
    struct gw_pre local;
    int own = !pp;
    if (own) {
        pp = &local;
        pre_parse(pp, p, len);
    }
    struct sl_msg *mp = &pp->m;
    if (!pp->hdr_ok) {
        SL_ERROR("gateway", "unreadable frame from the hub (%u bytes): %s; dropped", len,
                 pp->err.detail);
        gw_inbox_done(g->ib, inbox_id, 0, NULL, 0);
        goto out;
    }
    const struct sl_outhdr h = pp->h;
    unsigned kb = key_bit(h.key);
    const struct sl_key_info *ki = sl_key_lookup(h.key);
    if (!ki || !ki->reply) {
        /* AM, SM, ER and replies: messages to the state, not queries. */
        const char *body = "";
        size_t blen = 0, first = 0;
        struct sl_outhdr h2;
        struct sl_msg_err perr;
        if (sl_msg_parse_output((const char *)p, len, &h2, &body, &blen, &perr) != 0)
            blen = 0;
        while (first < blen && first < 200 && body[first] != '\n')
            first++;
        SL_WARN("gateway", "%s from %s (not a query; logged only): %.*s", h.key, h.ori,
                (int)first, body);
        gw_inbox_done(g->ib, inbox_id, h.mid, NULL, 0);
        goto out;
    }
    g->n_queries++;
    int64_t now_us = sl_wall_us();
    /* "%s-%lld-%llu": state, time, counter (gw_text.h: no printf) */
    char ref[64];
    {
        size_t n = strlen(cfg->state);
        memcpy(ref, cfg->state, n);
        ref[n++] = '-';
        n += gw_i64_dec(ref + n, now_us);
        ref[n++] = '-';
        gw_u64_dec(ref + n, ++g->counter);
    }

    int parsed = pp->parsed;
    const struct sl_msg_err *merr = &pp->err; /* when !parsed */

    /* 1. query received */
    struct sl_audit_entry e;
    char rsn[8], pur[8], cas[40], lgp[80], atn[40];
    struct sl_buf pers = SL_BUF_INIT;
    sl_audit_entry_init(&e, SL_AUDIT_QUERY, now_us);
    sl_audit_set_str(&e, SL_AF_REF, ref);
    fill_requester(&e, &h);
    sl_audit_add_item(&e, SL_AF_DEST, h.dest);
    sl_audit_set_str(&e, SL_AF_CONTROL, h.ctl);
    /* the switch message id: the key to the switch's own log of this delivery
     * (docs/audit-format.md §11) */
    if (h.mid)
        sl_audit_set_int(&e, SL_AF_MID, (int64_t)h.mid);
    if (parsed) {
        copy_field(mp, "RSN", rsn, sizeof rsn);
        copy_field(mp, "PUR", pur, sizeof pur);
        copy_field(mp, "CAS", cas, sizeof cas);
        copy_field(mp, "LGP", lgp, sizeof lgp);
        copy_field(mp, "ATN", atn, sizeof atn);
        sl_audit_set_str(&e, SL_AF_REASON, rsn);
        sl_audit_set_str(&e, SL_AF_PURPOSE, pur);
        sl_audit_set_str(&e, SL_AF_CASE, cas);
        sl_audit_set_str(&e, SL_AF_LEGAL, lgp);
        sl_audit_set_str(&e, SL_AF_USER, atn);
        for (int i = 0; i < mp->nfields; i++) {
            static const char *const personal[] = {"OLN", "NAM", "DOB", "SEX", "LIC", "LIY",
                                                   "LIT", "VIN", "VMA", "VYR", "SOC", NULL};
            int is_personal = 0;
            for (int k = 0; personal[k]; k++)
                is_personal |= !strcmp(mp->fields[i].pfx, personal[k]);
            if (!is_personal) {
                /* IMQ (image requested) is no personal data, but a policy may test it:
                 * its presence is kept with the search fields (policy simulate). */
                if (!strcmp(mp->fields[i].pfx, "IMQ"))
                    sl_audit_add_item(&e, SL_AF_SEARCH, "IMQ");
                continue;
            }
            sl_audit_add_item(&e, SL_AF_SEARCH, mp->fields[i].pfx);
            if (sl_buf_used(&pers))
                gw_cat_c(&pers, '.');
            gw_cat(&pers, mp->fields[i].pfx);
            gw_cat_c(&pers, '/');
            gw_cat_prec(&pers, mp->fields[i].val, mp->fields[i].len);
        }
    }
    if (recovered)
        sl_audit_set_str(&e, SL_AF_TEXT, "recovered from the inbox after a restart");
    int64_t last = append(g, &e, bytes_of(&pers), sl_buf_used(&pers));
    sl_buf_free(&pers);
    if (last < 0)
        goto out;

    sl_buf_reset(&g->body);
    start_reply(g, &h, 1);
    if (!parsed) {
        /* The hub checked it; a body the codec still refuses gets its reason. */
        sl_buf_printf(&g->frame, "QUERY NOT USABLE: %s %s\n", sl_er_text(merr->code),
                      merr->detail);
        sl_audit_entry_init(&e, SL_AUDIT_DECISION, sl_wall_us());
        sl_audit_set_str(&e, SL_AF_REF, ref);
        fill_requester(&e, &h);
        sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_DENIED);
        sl_audit_set_int(&e, SL_AF_EFFECT, SL_AUDIT_EFF_FORBID);
        set_policy_hash(g, &e, SL_AF_POLICY_HASH);
        sl_audit_set_str(&e, SL_AF_TEXT, "query body not readable");
        last = append(g, &e, NULL, 0);
        g->n_denied++;
        goto queue;
    }

    /* 2. the one decision, before any record is read */
    struct gw_verdict v;
    gw_policy_decide(g->pol, &h, mp, (time_t)(now_us / 1000000), &v);
    int key_refused = !(cfg->keys & kb);

    sl_audit_entry_init(&e, SL_AUDIT_DECISION, sl_wall_us());
    sl_audit_set_str(&e, SL_AF_REF, ref);
    fill_requester(&e, &h);
    sl_audit_set_int(&e, SL_AF_EFFECT, v.effect == GW_FORBID ? SL_AUDIT_EFF_FORBID
                                       : v.effect == GW_HOLD ? SL_AUDIT_EFF_HOLD
                                                             : SL_AUDIT_EFF_PERMIT);
    for (int i = 0; i < v.nrules; i++)
        sl_audit_add_item(&e, SL_AF_RULES, v.rules[i]);
    /* No policy in force: the all-zero hash says so (docs/gateway.md §4). */
    uint8_t hash[32];
    verdict_hash(g, v.hash, hash);
    sl_audit_set_hash(&e, SL_AF_POLICY_HASH, hash);
    /* Strings set into an entry must live until it is appended. */
    char text[300] = "", idtxt[32];
    if (v.no_policy)
        snprintf(text, sizeof text, "no policy in force (fail closed, R-5)");
    else if (v.fail_closed)
        snprintf(text, sizeof text, "policy could not be evaluated: fail closed");
    else if (v.is_default)
        snprintf(text, sizeof text, "the policy's default decided");
    if (key_refused && v.effect == GW_PERMIT)
        snprintf(text, sizeof text, "%s is not answered by this gateway (config answer =)",
                 h.key);
    sl_audit_set_str(&e, SL_AF_TEXT, text);
    if (v.effect == GW_FORBID || (key_refused && v.effect == GW_PERMIT))
        sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_DENIED);
    last = append(g, &e, NULL, 0);
    if (last < 0)
        goto out;
    if (v.no_policy) {
        sl_audit_entry_init(&e, SL_AUDIT_SYSTEM, sl_wall_us());
        sl_audit_set_str(&e, SL_AF_REF, ref);
        sl_audit_set_str(&e, SL_AF_ACTION, "fail-closed");
        sl_audit_set_str(&e, SL_AF_TEXT, "no policy in force: query decided by the outage "
                                         "rule (R-5)");
        last = append(g, &e, NULL, 0);
        if (last < 0)
            goto out;
        if (v.effect == GW_FORBID)
            SL_ERROR("gateway", "no policy in force: %s from %s denied (fail closed)", h.key,
                     h.ori);
    }

    if (v.effect == GW_FORBID) {
        if (v.no_policy)
            sl_buf_printf(&g->frame, "DENIED BY %s: %s\n", cfg->state, v.why);
        else
            sl_buf_printf(&g->frame, "DENIED BY %s POLICY %s\n", cfg->state, v.why);
        g->n_denied++;
        goto queue;
    }
    if (v.effect == GW_HOLD) {
        char rules[GW_MAX_RULES * 65] = "";
        for (int i = 0; i < v.nrules; i++) {
            size_t l = strlen(rules);
            snprintf(rules + l, sizeof rules - l, "%s%s", i ? " " : "", v.rules[i]);
        }
        int64_t deadline_us = now_us + v.hold_deadline_s * 1000000;
        char imq[8];
        copy_field(mp, "IMQ", imq, sizeof imq);
        char *detail = hold_detail(g, &h, mp, &v, rsn, pur, cas, lgp, atn, imq);
        struct gw_hold hold = {now_us, deadline_us, h.ori, h.key, h.ctl, rules, v.why,
                               v.hash, v.hold_then == GW_PERMIT ? "permit" : "forbid",
                               ref, detail, p, len, (uint64_t)last};
        int64_t rid = gw_queue_hold(g->q, &hold);
        free(detail);
        sl_audit_entry_init(&e, SL_AUDIT_HOLD, sl_wall_us());
        sl_audit_set_str(&e, SL_AF_REF, ref);
        fill_requester(&e, &h);
        for (int i = 0; i < v.nrules; i++)
            sl_audit_add_item(&e, SL_AF_RULES, v.rules[i]);
        sl_audit_set_hash(&e, SL_AF_POLICY_HASH, hash);
        char when[40];
        utc_text(deadline_us, when, sizeof when);
        if (rid < 0) {
            /* The request cannot be kept for a reviewer: it is not released either. */
            sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_DENIED);
            sl_audit_set_str(&e, SL_AF_TEXT, "review queue not writable: denied");
            sl_buf_printf(&g->frame, "DENIED BY %s: HELD FOR REVIEW BY POLICY %s, BUT THE "
                          "REVIEW QUEUE IS NOT AVAILABLE; ASK AGAIN LATER\n", cfg->state,
                          v.why);
            g->n_denied++;
        } else {
            snprintf(idtxt, sizeof idtxt, "%s-R%lld", cfg->state, (long long)rid);
            sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_HELD);
            sl_audit_set_int(&e, SL_AF_DUE, deadline_us);
            sl_audit_set_str(&e, SL_AF_NOTICE_ID, idtxt);
            sl_buf_printf(&g->frame, "HELD FOR REVIEW BY %s POLICY %s\nA %s REVIEWER WILL "
                          "ANSWER BY %s (THEN: %s). REVIEW NO. %s\n", cfg->state, v.why,
                          cfg->state, when, v.hold_then == GW_PERMIT ? "RELEASED" : "DENIED",
                          idtxt);
            g->n_held++;
        }
        last = append(g, &e, NULL, 0);
        goto queue;
    }

    /* 3. permit */
    last = do_release(g, ref, &h, mp, &v, key_refused, NULL);

queue:
    if (last >= 0)
        push_reply(g, (uint64_t)last + 1, inbox_id, 0, h.mid, &g->frame);
out:
    if (own)
        sl_msg_clear(mp);
}

/* ---- the line ---- */

static void line_down(struct gw *g, const char *why);
static int64_t dial_timer(struct sl_loop *loop, int64_t id, void *arg);

static void schedule_dial(struct gw *g)
{
    if (g->dial_timer || g->stopping)
        return;
    g->dial_timer = sl_loop_add_timer(g->loop, g->backoff_ms, dial_timer, g);
    g->backoff_ms = g->backoff_ms * 2 > g->cfg->reconnect_max_ms ? g->cfg->reconnect_max_ms
                                                                  : g->backoff_ms * 2;
}

#define GW_REPEAT GW_INBOX_INFLIGHT /* an inbox id that says: a repeat, handled, no work */

/*
 * A frame read from the line goes into the inbox (this read's row, gw_inbox_read_end),
 * unless it is a query the switch has delivered before (the same switch message id): its
 * line dropped, or the hub restarted, before the hub saw the answer (docs/gateway.md §5).
 * Then, known from the inbox's memory without an SQL look-up:
 *   - still in the inbox: its reply is made or on its way (a new line resends what the hub
 *     did not acknowledge): nothing to do;
 *   - answered: the reply made then goes again, as it was (no second decision, no second
 *     set of audit entries; the hub routes it, or drops it if it had it already).
 * Returns GW_INBOX_SHARED, an inbox row id (a frame without an id), GW_REPEAT, or -1 (not
 * stored: the work is still done).
 */
static int64_t inbox_take(struct gw *g, const uint8_t *p, uint32_t len,
                          const struct gw_pre *pp)
{
    const struct sl_outhdr *hp = &pp->h;
    uint64_t mid = pp->hdr_ok ? hp->mid : 0;
    uint8_t *reply;
    size_t rlen;
    int64_t id = gw_inbox_take(g->ib, p, len, mid, &reply, &rlen);
    if (id == GW_INBOX_INFLIGHT) {
        SL_INFO("gateway", "%s.%s MID %llu delivered again: read before, its reply is on "
                "its way", hp->key, hp->ori, (unsigned long long)mid);
        return GW_REPEAT;
    }
    if (id == GW_INBOX_ANSWERED) {
        SL_INFO("gateway", "%s.%s MID %llu delivered again: answered before, the same "
                "reply sent again", hp->key, hp->ori, (unsigned long long)mid);
        struct sl_buf f = {.data = reply, .off = 0, .len = rlen, .cap = rlen};
        push_reply(g, 0, -1, 0, 0, &f);
        free(reply);
        return GW_REPEAT;
    }
    return id;
}

static void on_line(struct sl_loop *loop, int fd, void *arg, int mask)
{
    struct gw *g = arg;
    (void)loop;
    (void)fd;
    if (!g->c)
        return;
    if (mask & SL_EV_WRITE) {
        int r = sl_conn_flush(g->c);
        if (r < 0) {
            line_down(g, g->c->err);
            return;
        }
        if (r == 0)
            mark_flushed(g);
        if (!(r == 1 && g->c->want_write))
            sl_loop_del(g->loop, g->c->fd, SL_EV_WRITE);
    }
    if (!(mask & SL_EV_READ) || g->stopping)
        return;
    int r = sl_conn_read(g->c);
    if (r < 0 || g->c->state == SL_CONN_CLOSED) {
        line_down(g, g->c->err[0] ? g->c->err : "closed by the hub");
        return;
    }
    /* The audit entries of every query of this read go to disk in one batch: the
     * durability thread is woken once, in before_sleep (sl_audit_cork). */
    sl_audit_cork(g->audit);
    /* First every whole frame into the inbox, committed, then the work: a kill between
     * reading and answering leaves the queries in the inbox for the next start. */
    size_t nids = 0;
    {
        const uint8_t *base = bytes_of(&g->c->in);
        size_t avail = sl_buf_used(&g->c->in), off = 0;
        while (avail - off >= SL_FRAME_HDR) {
            uint32_t len = (uint32_t)base[off] << 24 | (uint32_t)base[off + 1] << 16 |
                           (uint32_t)base[off + 2] << 8 | base[off + 3];
            if (len > SL_FRAME_DEFAULT_MAX || avail - off - SL_FRAME_HDR < len)
                break;
            if (nids == g->ids_cap) {
                g->ids_cap = g->ids_cap ? g->ids_cap * 2 : 64;
                g->ids = sl_xrealloc(g->ids, g->ids_cap * sizeof *g->ids);
                g->pre = sl_xrealloc(g->pre, g->ids_cap * sizeof *g->pre);
            }
            struct gw_pre *pp = &g->pre[nids];
            if (len) {
                pre_parse(pp, base + off + SL_FRAME_HDR, len);
                g->ids[nids++] = inbox_take(g, base + off + SL_FRAME_HDR, len, pp);
            } else {
                memset(&pp->m, 0, sizeof pp->m);
                pp->hdr_ok = pp->parsed = 0;
                g->ids[nids++] = -1;
            }
            off += SL_FRAME_HDR + len;
        }
        /* one row for the read's frames (one INSERT), committed before any work */
        int64_t row = gw_inbox_read_end(g->ib);
        for (size_t i = 0; i < nids; i++)
            if (g->ids[i] == GW_INBOX_SHARED)
                g->ids[i] = row > 0 ? row : -1;
        gw_queue_commit(g->q);
    }
    for (size_t i = 0;; i++) {
        const uint8_t *p;
        uint32_t len;
        enum sl_frame_status st = sl_frame_peek(&g->c->in, SL_FRAME_DEFAULT_MAX, &p, &len);
        if (st == SL_FRAME_AGAIN)
            break;
        if (st == SL_FRAME_TOO_BIG) {
            line_down(g, "the hub announced a frame over 1 MiB");
            break;
        }
        if (len > 0 && (i >= nids || g->ids[i] != GW_REPEAT))
            handle_frame(g, i < nids ? g->ids[i] : -1, p, len, 0, i < nids ? &g->pre[i] : NULL);
        sl_buf_consume(&g->c->in, SL_FRAME_HDR + len);
        if (g->failed || !g->c)
            break;
    }
    for (size_t i = 0; i < nids; i++)
        sl_msg_clear(&g->pre[i].m);
}

static void line_down(struct gw *g, const char *why)
{
    if (!g->c)
        return;
    SL_WARN("gateway", "answering line down: %s (redialling)", why && why[0] ? why : "?");
    ack_check(g);
    for (size_t i = 0; i < g->nsent; i++)
        g->items[g->head + i].mark = 0;
    sl_loop_del(g->loop, g->c->fd, SL_EV_READ | SL_EV_WRITE);
    sl_conn_free(g->c);
    g->c = NULL;
    /* What the hub had not acknowledged goes again on the next line. */
    g->nsent = 0;
    g->backoff_ms = g->cfg->reconnect_min_ms;
    schedule_dial(g);
}

static int64_t dial_timer(struct sl_loop *loop, int64_t id, void *arg)
{
    struct gw *g = arg;
    (void)loop;
    (void)id;
    g->dial_timer = 0;
    if (g->c || g->stopping)
        return SL_TIMER_NOMORE;
    char err[256];
    struct sl_conn *c = NULL;
    const struct sl_gw_config *cfg = g->cfg;
    if (sl_conn_dial(cfg->hub, g->tls, cfg->state, "answer", cfg->tls ? NULL : g->token, 3000,
                     &c, err, sizeof err) != 0) {
        SL_WARN("gateway", "hub %s: %s (next try in %d ms)", cfg->hub, err, g->backoff_ms);
        schedule_dial(g);
        return SL_TIMER_NOMORE;
    }
    sl_conn_set_nonblocking(c);
    g->c = c;
    if (sl_loop_add(g->loop, c->fd, SL_EV_READ, on_line, g) != 0) {
        line_down(g, "cannot watch the line");
        return SL_TIMER_NOMORE;
    }
    g->backoff_ms = cfg->reconnect_min_ms;
    SL_INFO("gateway", "answering line for %s up: hub %s (%s); %zu replies waiting",
            cfg->state, cfg->hub, cfg->tls ? "TLS" : "plain", g->n - g->head);
    /* The hub writes what it kept for us right behind "AUTH OK" (or the handshake):
     * frames the dial read with it are in c->in, or inside OpenSSL, and epoll will not say
     * so.  Read now (a read that finds nothing costs one EAGAIN). */
    on_line(g->loop, c->fd, g, SL_EV_READ);
    return SL_TIMER_NOMORE;
}

/* ---- the loop's hooks ---- */

static void on_durable(struct sl_loop *loop, int fd, void *arg, int mask)
{
    struct gw *g = arg;
    (void)loop;
    (void)fd;
    (void)mask;
    g->durable = sl_audit_durable_upto(g->audit);
}

static void before_sleep(struct sl_loop *loop, void *arg)
{
    struct gw *g = arg;
    (void)loop;
    gw_records_idle(g->rec);
    sl_audit_uncork(g->audit);
    /* The inbox rows of this iteration are committed before any reply can leave. */
    gw_queue_commit(g->q);
    g->durable = sl_audit_durable_upto(g->audit);
    if (!g->c || g->c->state != SL_CONN_OPEN)
        return;
    ack_check(g);
    size_t had = sl_buf_used(&g->c->out), moved = 0;
    while (g->head + g->nsent < g->n) {
        struct gw_item *it = &g->items[g->head + g->nsent];
        if (it->need > g->durable)
            break;
        sl_frame_write(&g->c->out, it->frame, it->len);
        g->nsent++;
        moved++;
    }
    if (!moved && !had)
        return;
    int r = sl_conn_flush(g->c);
    if (r < 0) {
        line_down(g, g->c->err);
        return;
    }
    if (r == 0)
        mark_flushed(g);
    else if (g->c->want_write)
        sl_loop_add(g->loop, g->c->fd, SL_EV_WRITE, on_line, g);
    gw_queue_commit(g->q);
}

/* Acknowledgements arrive without any event of ours: look every 10 ms while replies are
 * unacknowledged, so inbox rows do not pile up. */
static int64_t ack_timer(struct sl_loop *loop, int64_t id, void *arg)
{
    struct gw *g = arg;
    (void)loop;
    (void)id;
    ack_check(g);
    gw_queue_commit(g->q);
    return 10;
}

static int64_t policy_timer(struct sl_loop *loop, int64_t id, void *arg)
{
    struct gw *g = arg;
    (void)loop;
    (void)id;
    char before[65], after[65];
    int refused = 0;
    if (gw_policy_poll(g->pol, before, after, &refused) == 1) {
        struct sl_audit_entry e;
        uint8_t hb[32], ha[32];
        sl_audit_entry_init(&e, SL_AUDIT_POLICY_CHANGE, sl_wall_us());
        char actor[64];
        struct gw_applied ap;
        int applied = gw_queue_policy_author(g->q, after, &ap);
        if (applied)
            sl_strlcpy(actor, ap.author, sizeof actor);
        else
            policy_actor(g, actor, sizeof actor);
        sl_audit_set_str(&e, SL_AF_ACTOR, actor);
        if (applied && ap.approver[0])
            sl_audit_set_str(&e, SL_AF_APPROVER, ap.approver);
        if (applied && ap.basis[0])
            sl_audit_set_str(&e, SL_AF_BASIS, ap.basis);
        if (before[0]) {
            hex_to_hash(before, hb);
            sl_audit_set_hash(&e, SL_AF_POLICY_BEFORE, hb);
        }
        hex_to_hash(after, ha);
        sl_audit_set_hash(&e, SL_AF_POLICY_AFTER, ha);
        sl_audit_set_str(&e, SL_AF_TEXT, applied && ap.note[0] ? ap.note
                                         : applied ? "applied with `stateline policy apply`; "
                                                     "compiled and put in force"
                                                   : "policy file changed; compiled and put "
                                                     "in force");
        append(g, &e, NULL, 0);
    } else if (refused) {
        struct sl_audit_entry e;
        sl_audit_entry_init(&e, SL_AUDIT_ADMIN, sl_wall_us());
        char actor[64];
        policy_actor(g, actor, sizeof actor);
        sl_audit_set_str(&e, SL_AF_ACTOR, actor);
        sl_audit_set_str(&e, SL_AF_ACTION, "policy-refused");
        sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_FAILED);
        sl_audit_set_str(&e, SL_AF_TEXT, "changed policy file does not check; the policy in "
                                         "force stays");
        append(g, &e, NULL, 0);
    }
    return g->cfg->policy_poll_ms;
}

static void on_http_audit(struct sl_loop *loop, int fd, void *arg, int mask)
{
    struct gw *g = arg;
    (void)loop;
    (void)fd;
    (void)mask;
    if (sl_http_audit_drain(g->http, g->audit) < 0) {
        SL_ERROR("gateway", "audit log append failed (%s): stopping", strerror(errno));
        g->failed = 1;
        sl_loop_stop(g->loop);
    }
}

/* ---- the review desk: decisions recorded in gateway.db (docs/review.md §2) ---- */

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* Send the reply of a decided review: approved (the policy's and the reviewers'
 * redactions), denied, or timed out (the policy's `then` outcome, "timeout"). */
static void answer_review(struct gw *g, struct gw_decided *d)
{
    const struct sl_gw_config *cfg = g->cfg;
    struct sl_outhdr h;
    struct sl_msg m;
    struct sl_msg_err merr;
    memset(&m, 0, sizeof m);
    char idtxt[32];
    snprintf(idtxt, sizeof idtxt, "%s-R%lld", cfg->state, (long long)d->id);
    if (sl_msg_parse_delivered((const char *)d->frame, d->frame_len, &h, &m, &merr) != 0) {
        /* It was parsed when it was held: only a damaged gateway.db gets here. */
        SL_ERROR("gateway", "review %s: the held request cannot be read again (%s): no "
                 "reply; marked done", idtxt, merr.detail);
        gw_queue_review_sent(g->q, d->id);
        sl_msg_clear(&m);
        return;
    }
    json_error_t jerr;
    json_t *det = json_loads(d->detail, 0, &jerr);
    if (!det)
        det = json_object();
    int timed_out = !strcmp(d->status, "timed-out");
    int release = !strcmp(d->status, "approved") || (timed_out && !strcmp(d->then, "permit"));
    int64_t last;
    start_reply(g, &h, 0);
    if (!release) {
        struct sl_audit_entry e;
        char text[300];
        if (timed_out) {
            sl_buf_printf(&g->frame, "REVIEW NO. %s TIMED OUT: DENIED BY %s POLICY (TIMEOUT: "
                          "NO REVIEWER DECIDED BEFORE THE DEADLINE)\n", idtxt, cfg->state);
            snprintf(text, sizeof text, "timeout: the policy's outcome forbid applied (%s)",
                     idtxt);
        } else {
            sl_buf_printf(&g->frame, "DENIED AFTER REVIEW BY %s: REVIEW NO. %s\nREASON: %s\n",
                          cfg->state, idtxt, d->reason);
            snprintf(text, sizeof text, "denied after review %s", idtxt);
        }
        sl_audit_entry_init(&e, SL_AUDIT_RELEASE, sl_wall_us());
        sl_audit_set_str(&e, SL_AF_REF, d->ref[0] ? d->ref : idtxt);
        fill_requester(&e, &h);
        sl_audit_set_str(&e, SL_AF_NOTICE_ID, idtxt);
        /* The query's outcome is on the review entry (audit-format §9: one entry per
         * thing that happened); this entry records the reply.  The release entry
         * requires an outcome field: "none" is not counted by the report. */
        sl_audit_set_str(&e, SL_AF_TEXT, text);
        sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_OK);
        last = append(g, &e, NULL, 0);
        g->n_denied++;
    } else {
        struct gw_verdict v;
        memset(&v, 0, sizeof v);
        v.effect = GW_PERMIT;
        json_t *a = json_object_get(det, "rules");
        for (size_t i = 0; i < json_array_size(a) && v.nrules < GW_MAX_RULES; i++)
            sl_strlcpy(v.rules[v.nrules++], json_string_value(json_array_get(a, i))
                                                ? json_string_value(json_array_get(a, i))
                                                : "?",
                       sizeof v.rules[0]);
        uint32_t pol = (uint32_t)json_integer_value(json_object_get(det, "redact"));
        v.withheld = gw_policy_store_mask(pol | d->extra, &v.unmapped, v.unmapped_names,
                                          sizeof v.unmapped_names);
        size_t l = (size_t)snprintf(v.withheld_by, sizeof v.withheld_by, "%s",
                                    jstr(det, "withheld_by"));
        uint32_t extra = d->extra & ~pol;
        if (extra && l < sizeof v.withheld_by) {
            char names[200];
            gw_class_names(extra, names, sizeof names);
            snprintf(v.withheld_by + l, sizeof v.withheld_by - l, "%s%s (review %s)",
                     l ? "; " : "", names, idtxt);
        }
        a = json_object_get(det, "marks");
        for (size_t i = 0; i < json_array_size(a) && v.nmarks < GW_MAX_MARKS; i++)
            sl_strlcpy(v.marks[v.nmarks++], json_string_value(json_array_get(a, i))
                                                ? json_string_value(json_array_get(a, i))
                                                : "",
                       sizeof v.marks[0]);
        a = json_object_get(det, "notices");
        for (size_t i = 0; i < json_array_size(a) && v.nnotices < 4; i++) {
            json_t *n = json_array_get(a, i);
            v.notices[v.nnotices].days = (int)json_integer_value(json_object_get(n, "days"));
            v.notices[v.nnotices].business = json_is_true(json_object_get(n, "business"));
            sl_strlcpy(v.notices[v.nnotices].rule, jstr(n, "rule"),
                       sizeof v.notices[0].rule);
            v.nnotices++;
        }
        /* The decision was the held-time policy's: its hash, not the one in force now. */
        sl_strlcpy(v.hash, d->policy_hash, sizeof v.hash);
        if (timed_out)
            sl_buf_printf(&g->frame, "REVIEW NO. %s TIMED OUT: RELEASED BY %s POLICY (TIMEOUT: "
                          "NO REVIEWER DECIDED BEFORE THE DEADLINE)\n", idtxt, cfg->state);
        else
            sl_buf_printf(&g->frame, "RELEASED AFTER REVIEW BY %s: REVIEW NO. %s\n",
                          cfg->state, idtxt);
        sl_buf_reset(&g->body);
        last = do_release(g, d->ref[0] ? d->ref : idtxt, &h, &m, &v,
                          !(cfg->keys & key_bit(h.key)), idtxt);
        g->n_released++;
    }
    json_decref(det);
    if (last >= 0) {
        push_reply(g, (uint64_t)last + 1, 0, d->id, 0, &g->frame);
        gw_queue_review_queued(g->q, d->id, g->run);
        SL_INFO("gateway", "review %s: %s; reply queued", idtxt,
                release ? (timed_out ? "timed out, released" : "approved")
                        : (timed_out ? "timed out, denied" : "denied"));
    }
    sl_msg_clear(&m);
}

static void audit_actions(struct gw *g)
{
    struct gw_action acts[32];
    int n = gw_queue_actions(g->q, acts, 32);
    for (int i = 0; i < n && !g->failed; i++) {
        struct gw_action *a = &acts[i];
        struct sl_audit_entry e;
        char idtxt[32];
        snprintf(idtxt, sizeof idtxt, "%s-R%lld", g->cfg->state, (long long)a->review_id);
        sl_audit_entry_init(&e, SL_AUDIT_REVIEW, a->at_us);
        sl_audit_set_str(&e, SL_AF_REF, a->ref[0] ? a->ref : idtxt);
        sl_audit_set_str(&e, SL_AF_ORI, a->ori);
        sl_audit_set_str(&e, SL_AF_KEY, a->key);
        sl_audit_set_str(&e, SL_AF_NOTICE_ID, idtxt);
        sl_audit_set_str(&e, SL_AF_ACTOR, a->reviewer);
        sl_audit_set_str(&e, SL_AF_ACTION, a->action);
        sl_audit_set_str(&e, SL_AF_TEXT, a->reason);
        char buf[400];
        sl_strlcpy(buf, a->rules, sizeof buf);
        for (char *save = NULL, *t = strtok_r(buf, " ", &save); t;
             t = strtok_r(NULL, " ", &save))
            sl_audit_add_item(&e, SL_AF_RULES, t);
        if (a->redact & SL_AUDIT_CLASS_ALL)
            sl_audit_set_int(&e, SL_AF_WITHHELD, a->redact & SL_AUDIT_CLASS_ALL);
        /* The review's result is the query's counted outcome (audit-format §9); a first
         * of two approvals decides nothing yet ("ok", not counted). */
        int out = !strcmp(a->action, "deny")                    ? SL_AUDIT_OUT_DENIED
                  : !strcmp(a->action, "timeout")               ? SL_AUDIT_OUT_TIMED_OUT
                  : !strcmp(a->action, "approve-1of2")          ? SL_AUDIT_OUT_OK
                  : (a->redact | a->policy_redact) ? SL_AUDIT_OUT_REDACTED
                                                                : SL_AUDIT_OUT_RELEASED;
        sl_audit_set_int(&e, SL_AF_OUTCOME, out);
        if (append(g, &e, NULL, 0) < 0)
            return;
        gw_queue_action_audited(g->q, a->id);
    }
}

static void audit_sent_notices(struct gw *g)
{
    struct gw_sent v[32];
    int n = gw_queue_sent_unaudited(g->q, v, 32);
    for (int i = 0; i < n && !g->failed; i++) {
        struct sl_audit_entry e;
        char nid[32];
        snprintf(nid, sizeof nid, "%s-N%lld", g->cfg->state, (long long)v[i].id);
        sl_audit_entry_init(&e, SL_AUDIT_NOTICE_SENT, v[i].sent_us);
        sl_audit_set_str(&e, SL_AF_NOTICE_ID, nid);
        sl_audit_set_str(&e, SL_AF_REF, v[i].ref);
        sl_audit_set_str(&e, SL_AF_ORI, v[i].ori);
        sl_audit_set_str(&e, SL_AF_KEY, v[i].key);
        sl_audit_set_str(&e, SL_AF_ACTOR, v[i].by);
        sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_NOTICED);
        sl_audit_set_str(&e, SL_AF_TEXT, "letter to the person written to the outbox");
        if (append(g, &e, NULL, 0) < 0)
            return;
        gw_queue_sent_audited(g->q, v[i].id);
    }
}

/* What tools did or were refused that the log must show (admin_event: a refused policy
 * apply, P-33; a read of personal data, P-18): one admin entry each. */
static void audit_admin_events(struct gw *g)
{
    struct gw_admin_event v[16];
    int n = gw_queue_admin_unaudited(g->q, v, 16);
    for (int i = 0; i < n && !g->failed; i++) {
        struct sl_audit_entry e;
        sl_audit_entry_init(&e, SL_AUDIT_ADMIN, v[i].at_us);
        sl_audit_set_str(&e, SL_AF_ACTOR, v[i].actor);
        sl_audit_set_str(&e, SL_AF_ACTION, v[i].action);
        sl_audit_set_str(&e, SL_AF_TEXT, v[i].text);
        sl_audit_set_int(&e, SL_AF_OUTCOME, v[i].failed ? SL_AUDIT_OUT_FAILED : SL_AUDIT_OUT_OK);
        if (append(g, &e, NULL, 0) < 0)
            return;
        gw_queue_admin_audited(g->q, v[i].id);
    }
}

/* Rows one retention pass deletes at most of each table: a pass holds the loop (and the
 * file's write lock) for a few milliseconds, not for the whole backlog of a first run. */
#define GW_RETENTION_BATCH 500

/* Retention (A-3, P-19), at the first review tick and then once an hour: what
 * gateway.db holds of requests and people goes when its time is up (gw_queue_retention).
 * A round of passes, one a tick while a pass finds a full batch, ends with one log line
 * and one system entry saying how much went. */
static void retention(struct gw *g)
{
    int64_t now = sl_now_ms();
    if (!g->cfg->retention_days || now < g->next_retention_ms)
        return;
    int64_t cut = sl_wall_us() - (int64_t)g->cfg->retention_days * 86400 * 1000000;
    int64_t nr, nn;
    int rc = gw_queue_retention(g->q, cut, GW_RETENTION_BATCH, &nr, &nn);
    g->ret_reviews += nr;
    g->ret_notices += nn;
    if (rc == 0 && (nr == GW_RETENTION_BATCH || nn == GW_RETENTION_BATCH))
        return; /* more to delete: the next tick goes on */
    g->next_retention_ms = now + 3600 * 1000;
    nr = g->ret_reviews;
    nn = g->ret_notices;
    g->ret_reviews = g->ret_notices = 0;
    if (nr == 0 && nn == 0)
        return;
    char text[200];
    snprintf(text, sizeof text, "retention: %lld review%s and %lld notice%s done more than "
             "%d days ago deleted from gateway.db", (long long)nr, nr == 1 ? "" : "s",
             (long long)nn, nn == 1 ? "" : "s", g->cfg->retention_days);
    SL_INFO("gateway", "%s", text);
    struct sl_audit_entry e;
    sl_audit_entry_init(&e, SL_AUDIT_SYSTEM, sl_wall_us());
    sl_audit_set_str(&e, SL_AF_ACTION, "retention");
    sl_audit_set_str(&e, SL_AF_TEXT, text);
    append(g, &e, NULL, 0);
}

static int64_t review_timer(struct sl_loop *loop, int64_t id, void *arg)
{
    struct gw *g = arg;
    (void)loop;
    (void)id;
    if (g->failed || g->stopping)
        return g->cfg->review_poll_ms;
    gw_queue_commit(g->q);
    gw_queue_expire(g->q, sl_wall_us());
    /* Review entries first: a reply after review follows its reviewer's entry. */
    audit_actions(g);
    struct gw_decided d[16];
    int n = gw_queue_decided(g->q, g->run, d, 16);
    for (int i = 0; i < n; i++) {
        if (!g->failed)
            answer_review(g, &d[i]);
        free(d[i].detail);
        free(d[i].frame);
    }
    audit_sent_notices(g);
    audit_admin_events(g);
    gw_queue_commit(g->q);
    if (!g->failed)
        retention(g);
    return g->cfg->review_poll_ms;
}

static int64_t stop_timer(struct sl_loop *loop, int64_t id, void *arg)
{
    struct gw *g = arg;
    (void)id;
    if (g->head == g->n || !g->c || sl_now_ms() >= g->stop_deadline_ms) {
        sl_loop_stop(loop);
        return SL_TIMER_NOMORE;
    }
    return 20;
}

static void on_signal(struct sl_loop *loop, int signo, void *arg)
{
    struct gw *g = arg;
    if (g->stopping)
        return;
    SL_INFO("gateway", "signal %d: answering what is in hand, then stopping", signo);
    g->stopping = 1;
    if (g->c)
        sl_loop_del(loop, g->c->fd, SL_EV_READ);
    g->stop_deadline_ms = sl_now_ms() + 5000;
    sl_loop_add_timer(loop, 0, stop_timer, g);
}

/* ---- recovery ---- */

static void recover_one(int64_t id, const uint8_t *frame, uint32_t len, uint64_t mid,
                        void *arg)
{
    struct gw *g = arg;
    (void)mid;
    if (!g->failed)
        handle_frame(g, id, frame, len, 1, NULL);
}

/* Every query of the inbox whose reply the hub had not acknowledged when an earlier run
 * stopped is answered now, before the line is dialled (docs/gateway.md §5). */
static void recover_inbox(struct gw *g)
{
    int n = gw_inbox_recover(g->ib, recover_one, g);
    if (n > 0)
        SL_WARN("gateway", "%d queries read before a stop were not answered: answered "
                "now", n);
}

/* ---- run ---- */

int sl_gw_run(const struct sl_gw_config *cfg)
{
    struct gw g;
    char err[512];
    int rc = 1;
    if (sl_sqlite_setup() != 0) /* before the first connection (sqlcfg.h) */
        SL_DEBUG("gateway", "SQLite already initialised: its settings stay as set "
                 "(stateline's main sets them first)");
    memset(&g, 0, sizeof g);
    g.cfg = cfg;
    sl_buf_init(&g.body);
    sl_buf_init(&g.frame);
    g.backoff_ms = cfg->reconnect_min_ms;
    g.run = sl_wall_us();

    g.loop = sl_loop_create(64);
    if (!g.loop)
        return 1;
    const int sigs[] = {SIGTERM, SIGINT};
    if (sl_loop_watch_signals(g.loop, sigs, 2, on_signal, &g) != 0) {
        SL_ERROR("gateway", "cannot watch signals");
        goto done;
    }
    if (cfg->tls) {
        if (sl_tls_new_client(cfg->cert, cfg->key, cfg->ca, &g.tls, err, sizeof err) != 0) {
            SL_ERROR("gateway", "TLS: %s", err);
            goto done;
        }
    } else if (sl_tokens_lookup(cfg->tokens, cfg->state, "answer", g.token, sizeof g.token)) {
        SL_ERROR("gateway", "tokens %s: no token for %s answer", cfg->tokens, cfg->state);
        goto done;
    }
    struct sl_audit_opts ao;
    memset(&ao, 0, sizeof ao);
    ao.dir = cfg->audit_dir;
    ao.signer_key = cfg->audit_key;
    if (sl_audit_open(&g.audit, &ao, err, sizeof err) != 0) {
        SL_ERROR("gateway", "audit log %s: %s", cfg->audit_dir, err);
        goto done;
    }
    g.q = gw_queue_open(cfg->data_dir, err, sizeof err);
    if (!g.q) {
        SL_ERROR("gateway", "%s", err);
        goto done;
    }
    g.ib = gw_inbox_open(g.q);
    if (!g.ib)
        goto done;
    g.pol = gw_policy_new(cfg);
    g.rec = gw_records_open(cfg);

    char desc[400];
    gw_policy_describe(g.pol, desc, sizeof desc);
    printf("stateline gateway %s (%s): %s\n", cfg->state, cfg->ori, desc);
    fflush(stdout);
    SL_INFO("gateway", "%s", desc);
    {
        struct sl_audit_entry e;
        char ph[65];
        uint8_t hh[32];
        gw_policy_hash(g.pol, ph);
        sl_audit_entry_init(&e, SL_AUDIT_SYSTEM, sl_wall_us());
        sl_audit_set_str(&e, SL_AF_ACTION, "start");
        sl_audit_set_str(&e, SL_AF_TEXT, desc);
        if (ph[0]) {
            hex_to_hash(ph, hh);
            sl_audit_set_hash(&e, SL_AF_POLICY_HASH, hh);
        }
        if (append(&g, &e, NULL, 0) < 0)
            goto done;
    }

    if (sl_loop_add(g.loop, sl_audit_durable_fd(g.audit), SL_EV_READ, on_durable, &g) != 0) {
        SL_ERROR("gateway", "cannot watch the audit log's eventfd");
        goto done;
    }
    if (cfg->http_listen[0]) {
        if (sl_http_start(cfg, gw_policy_slot(g.pol), &g.http, err, sizeof err) != 0 ||
            sl_loop_add(g.loop, sl_http_audit_fd(g.http), SL_EV_READ, on_http_audit, &g)) {
            SL_ERROR("gateway", "oversight desk: %s", err);
            goto done;
        }
    }
    sl_loop_set_before_sleep(g.loop, before_sleep, &g);
    sl_loop_add_timer(g.loop, cfg->policy_poll_ms, policy_timer, &g);
    sl_loop_add_timer(g.loop, 10, ack_timer, &g);
    sl_loop_add_timer(g.loop, 0, review_timer, &g);
    recover_inbox(&g);
    gw_queue_commit(g.q);
    schedule_dial(&g);
    g.backoff_ms = cfg->reconnect_min_ms;
    if (!g.failed)
        sl_loop_run(g.loop);
    rc = g.failed ? 1 : 0;
    SL_INFO("gateway", "stopping: %llu queries (%llu released, %llu not on file or "
            "unavailable, %llu denied, %llu held); %zu replies not sent",
            (unsigned long long)g.n_queries, (unsigned long long)g.n_released,
            (unsigned long long)g.n_notfound, (unsigned long long)g.n_denied,
            (unsigned long long)g.n_held, g.n - g.head);
done:
    if (g.http) {
        sl_http_stop(g.http);      /* threads stopped: nothing more is queued */
        if (g.audit)
            sl_http_audit_drain(g.http, g.audit);
        sl_http_free(g.http);
    }
    if (g.c)
        sl_conn_free(g.c);
    for (size_t i = g.head; i < g.n; i++)
        free(g.items[i].frame);
    free(g.items);
    free(g.ids);
    free(g.pre);
    if (g.ib)
        gw_inbox_flush(g.ib);
    gw_inbox_free(g.ib);
    if (g.q)
        gw_queue_commit(g.q);
    gw_queue_close(g.q);
    gw_records_close(g.rec);
    gw_policy_free(g.pol);
    if (g.audit && sl_audit_close(g.audit) != 0)
        rc = 1;
    if (g.tls)
        sl_tls_free(g.tls);
    sl_buf_free(&g.body);
    sl_buf_free(&g.frame);
    sl_loop_free(g.loop);
    return rc;
}
