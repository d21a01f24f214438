/*
 * search.c - NLQ search, NFQ fetch and the bodies of the switch's answers (archive.h;
 * layouts in docs/archive.md §5).
 *
 * Both run on the archive's read-only connection under one lock (a search never waits
 * for the writer: WAL readers see the last commit).  A search walks the FTS5 matches
 * newest first and checks each against time, key and addresses by primary key; it stops
 * counting at count_max, so its cost is bounded by count_max row probes plus the FTS5
 * doclist reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch_int.h"
#include "stateline/core.h"
#include "stateline/sqlcfg.h"

/* The first seq whose tw is >= t, in [lo, hi] (hi + 1 when none): tw never decreases
 * along seq, so a binary search over the primary key (gaps allowed) finds it in about 35
 * index probes. */
static int64_t first_tw_at_least(struct sl_archive *a, int64_t t, int64_t lo, int64_t hi)
{
    int64_t end = hi + 1;
    hi = end;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        sqlite3_bind_int64(a->next_row, 1, mid);
        int64_t s = end, tw = INT64_MAX;
        if (sqlite3_step(a->next_row) == SQLITE_ROW) {
            s = sqlite3_column_int64(a->next_row, 0);
            tw = sqlite3_column_int64(a->next_row, 1);
        }
        sqlite3_reset(a->next_row);
        if (s >= hi || tw >= t)
            hi = s < hi ? s : mid;
        else
            lo = s + 1;
    }
    return lo;
}

/* The range of seq that can hold a row with t in [beg, end].  Every row has tw >= t, so
 * rows with t >= beg lie at or after the first with tw >= beg.  Rows after the last with
 * tw <= end have tw > end; their t is > end too unless a send time once went backwards
 * (meta clock_back), in which case there is no upper bound. */
static void seq_bounds(struct sl_archive *a, int64_t beg, int64_t end, int64_t *lo, int64_t *hi)
{
    *lo = 0;
    *hi = INT64_MAX;
    int64_t mn = 0, mx = -1;
    if (sqlite3_step(a->seq_span) == SQLITE_ROW &&
        sqlite3_column_type(a->seq_span, 0) != SQLITE_NULL) {
        mn = sqlite3_column_int64(a->seq_span, 0);
        mx = sqlite3_column_int64(a->seq_span, 1);
    }
    sqlite3_reset(a->seq_span);
    if (mx < mn)
        return;
    int back = sqlite3_step(a->get_back) == SQLITE_ROW;
    sqlite3_reset(a->get_back);
    *lo = first_tw_at_least(a, beg, mn, mx);
    if (!back && end < INT64_MAX)
        *hi = first_tw_at_least(a, end + 1, mn, mx) - 1;
}

int sl_archive_search(struct sl_archive *a, const struct sl_archive_query *q, int64_t now,
                      struct sl_archive_hits *out)
{
    out->n = 0;
    out->total = 0;
    out->more = 0;
    out->lost = 0;
    if (now <= 0)
        now = sl_wall_us() / 1000000;
    int64_t cutoff = now - (int64_t)a->conf.retention_days * 86400;
    int64_t beg = q->beg > cutoff ? q->beg : cutoff;
    char keys[SL_ARCHIVE_MAX_KEYS * 4 + 2];
    size_t kl = 0;
    keys[kl++] = ' ';
    for (int i = 0; i < q->nkeys; i++) {
        if (sl_arch_withheld(q->keys[i])) /* never, whatever the caller built */
            continue;
        size_t l = strlen(q->keys[i]);
        memcpy(keys + kl, q->keys[i], l);
        kl += l;
        keys[kl++] = ' ';
    }
    keys[kl] = '\0';
    if (kl == 1 || !q->fts[0] || beg > q->end)
        return 0;

    pthread_mutex_lock(&a->rmu);
    /* one read transaction: the bounds and the search see the same snapshot */
    if (sqlite3_exec(a->rdb, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        SL_ERROR("archive", "search: BEGIN: %s", sqlite3_errmsg(a->rdb));
        pthread_mutex_unlock(&a->rmu);
        return -1;
    }
    int64_t lo, hi;
    seq_bounds(a, beg, q->end, &lo, &hi);
    sqlite3_stmt *s = a->search;
    sqlite3_bind_int64(s, 9, lo);
    sqlite3_bind_int64(s, 10, hi);
    sqlite3_bind_text(s, 1, q->fts, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, beg);
    sqlite3_bind_int64(s, 3, q->end);
    sqlite3_bind_text(s, 4, keys, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, strlen(q->src) == SL_ORI_LEN ? q->src : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, strlen(q->src) == 2 ? q->src : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, strlen(q->dst) == SL_ORI_LEN ? q->dst : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, strlen(q->dst) == 2 ? q->dst : "", -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (out->total >= a->conf.count_max) {
            out->more = 1;
            break;
        }
        out->total++;
        if (out->n == SL_ARCHIVE_MAX_HITS)
            continue;
        struct sl_archive_hit *h = &out->hit[out->n++];
        h->seq = (uint64_t)sqlite3_column_int64(s, 0);
        h->time = sqlite3_column_int64(s, 1);
        sl_sqlite_text(s, 2, h->key, sizeof h->key);
        sl_sqlite_text(s, 3, h->src, sizeof h->src);
        sl_sqlite_text(s, 4, h->dst, sizeof h->dst);
        const unsigned char *b = sqlite3_column_text(s, 5);
        size_t bl = (size_t)sqlite3_column_bytes(s, 5), o = 0;
        /* the first 80 characters, line breaks and tabs shown as one space each */
        for (size_t i = 0; b && i < bl && o < SL_ARCHIVE_HIT_TEXT; i++) {
            char c = (char)b[i];
            if (c == '\r' && i + 1 < bl && b[i + 1] == '\n')
                continue;
            h->text[o++] = (c >= 0x20 && c < 0x7f) ? c : ' ';
        }
        while (o > 0 && h->text[o - 1] == ' ')
            o--;
        h->text[o] = '\0';
    }
    int fail = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (fail)
        SL_ERROR("archive", "search '%s' failed: %s", q->fts, sqlite3_errmsg(a->rdb));
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    /* Messages of the period the archive never got (sl_archive_lost), whatever their
     * keys and addresses: the table does not know them. */
    if (!fail && a->lost_in) {
        sqlite3_bind_int64(a->lost_in, 1, beg);
        sqlite3_bind_int64(a->lost_in, 2, q->end);
        if (sqlite3_step(a->lost_in) == SQLITE_ROW)
            out->lost = sqlite3_column_int64(a->lost_in, 0);
        sqlite3_reset(a->lost_in);
    }
    sqlite3_exec(a->rdb, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&a->rmu);
    return fail ? -1 : 0;
}

int sl_archive_fetch(struct sl_archive *a, uint64_t seq, const struct sl_ori *who, int64_t now,
                     struct sl_archive_msg *out)
{
    memset(out, 0, sizeof *out);
    if (now <= 0)
        now = sl_wall_us() / 1000000;
    int64_t cutoff = now - (int64_t)a->conf.retention_days * 86400;
    if (seq == 0 || seq > (uint64_t)INT64_MAX)
        return 1;
    pthread_mutex_lock(&a->rmu);
    sqlite3_stmt *s = a->fetch;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
    int rc = sqlite3_step(s), res = 1;
    if (rc == SQLITE_ROW) {
        out->seq = seq;
        out->time = sqlite3_column_int64(s, 1);
        sl_sqlite_text(s, 2, out->key, sizeof out->key);
        sl_sqlite_text(s, 3, out->src, sizeof out->src);
        sl_sqlite_text(s, 4, out->src_mbr, sizeof out->src_mbr);
        sl_sqlite_text(s, 5, out->dst, sizeof out->dst);
        sl_sqlite_text(s, 6, out->dst_mbr, sizeof out->dst_mbr);
        sl_sqlite_text(s, 7, out->ctl, sizeof out->ctl);
        if (out->time >= cutoff && (who ? sl_arch_key_visible(who, out->key) : 1)) {
            const void *b = sqlite3_column_text(s, 8);
            sl_buf_append(&out->body, b ? b : "", (size_t)sqlite3_column_bytes(s, 8));
            res = 0;
        }
    } else if (rc != SQLITE_DONE) {
        SL_ERROR("archive", "fetch %llu failed: %s", (unsigned long long)seq,
                 sqlite3_errmsg(a->rdb));
        res = -1;
    }
    sqlite3_reset(s);
    pthread_mutex_unlock(&a->rmu);
    if (res != 0) {
        sl_buf_free(&out->body);
        memset(out, 0, sizeof *out);
    }
    return res;
}

int sl_archive_gaps(struct sl_archive *a, struct sl_archive_gap *out, int cap)
{
    pthread_mutex_lock(&a->rmu);
    sqlite3_stmt *s = NULL;
    int n = 0;
    if (a->lost_in && sqlite3_prepare_v2(a->rdb,
                                         "SELECT t_first, t_last, after_seq, before_seq, n"
                                         " FROM lost ORDER BY id DESC LIMIT ?1",
                                         -1, &s, NULL) != SQLITE_OK) {
        SL_ERROR("archive", "gaps: %s", sqlite3_errmsg(a->rdb));
        n = -1;
    }
    if (s) {
        sqlite3_bind_int(s, 1, cap);
        int rc = SQLITE_DONE;
        while (n < cap && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            struct sl_archive_gap *g = &out[n++];
            g->t_first = sqlite3_column_int64(s, 0);
            g->t_last = sqlite3_column_int64(s, 1);
            g->after_seq = (uint64_t)sqlite3_column_int64(s, 2);
            g->before_seq = (uint64_t)sqlite3_column_int64(s, 3);
            g->n = (uint64_t)sqlite3_column_int64(s, 4);
        }
        if (n < cap && rc != SQLITE_DONE) {
            SL_ERROR("archive", "gaps: %s", sqlite3_errmsg(a->rdb));
            n = -1;
        }
        sqlite3_finalize(s);
    }
    pthread_mutex_unlock(&a->rmu);
    return n;
}

/* ---- reply bodies ---- */

static void stamp(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, 32, "%04d%02d%02d@%02d%02d", (tm.tm_year + 1900) % 10000, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min);
}

void sl_archive_reply_ack(const char *key, struct sl_buf *out)
{
    sl_buf_printf(out, "%s RECEIVED AND QUEUED FOR PROCESSING\n",
                  key && strcmp(key, "NFQ") == 0 ? "NFQ" : "NLQ");
}

void sl_archive_reply_busy(const char *key, struct sl_buf *out)
{
    sl_buf_printf(out, "%s NOT QUEUED - THE ARCHIVE IS BUSY, SEND IT AGAIN LATER\n",
                  key && strcmp(key, "NFQ") == 0 ? "NFQ" : "NLQ");
}

void sl_archive_reply_nlr(const struct sl_archive_query *q, const char *warnings,
                          const struct sl_archive_hits *h, struct sl_buf *out)
{
    if (warnings)
        sl_buf_append_str(out, warnings);
    if (h && h->lost > 0)
        sl_buf_printf(out, "WARNING - %lld MESSAGE%s OF THIS PERIOD (ANY TYPE) %s NOT ARCHIVED\n",
                      (long long)h->lost, h->lost == 1 ? "" : "S",
                      h->lost == 1 ? "WAS" : "WERE");
    sl_buf_printf(out, "SEARCH OF ARCHIVE (TIMES UTC): %s\n", q->what);
    if (!h || h->n == 0) {
        sl_buf_append_str(out, "NOT ON FILE\n");
        return;
    }
    if (h->more)
        sl_buf_printf(out, "%d OF MORE THAN %lld HITS, NARROW THE SEARCH\n", h->n,
                      (long long)h->total);
    else if (h->total > h->n)
        sl_buf_printf(out, "%d OF %lld HITS, NARROW THE SEARCH\n", h->n, (long long)h->total);
    else
        sl_buf_printf(out, "%d HIT%s\n", h->n, h->n == 1 ? "" : "S");
    sl_buf_append_str(out, "SEQUENCE   DATE     TIME KEY SOURCE    DEST      TEXT\n");
    for (int i = 0; i < h->n; i++) {
        const struct sl_archive_hit *x = &h->hit[i];
        char ts[32];
        stamp(x->time, ts);
        ts[8] = ' ';
        sl_buf_printf(out, "%-10llu %s %-3s %-9s %-9s %s\n", (unsigned long long)x->seq, ts,
                      x->key, x->src, x->dst, x->text);
    }
}

void sl_archive_reply_nfr(const struct sl_archive_msg *m, int xml, struct sl_buf *out)
{
    if (!m) {
        sl_buf_append_str(out, "NOT ON FILE\n");
        return;
    }
    char ts[32];
    stamp(m->time, ts);
    if (xml)
        sl_buf_append_str(out, "NO XML FORM - THE MESSAGE WAS ARCHIVED AS TEXT\n");
    sl_buf_printf(out, "SEQ/%llu\nDATE/%s UTC\nKEY/%s\nSRC/%s\nDST/%s\n",
                  (unsigned long long)m->seq, ts, m->key, m->src, m->dst);
    if (m->ctl[0])
        sl_buf_printf(out, "CTL/%s\n", m->ctl);
    sl_buf_append_str(out, "TXT\n");
    sl_buf_append(out, m->body.data ? m->body.data : (const uint8_t *)"", m->body.len);
    if (m->body.len && m->body.data[m->body.len - 1] != '\n')
        sl_buf_append_str(out, "\n");
}

/* ER number for a parse error text (same numbering as sl_msg_check). */
static enum sl_er er_for(const char *err)
{
    if (strncmp(err, "BEG", 3) == 0 || strncmp(err, "END", 3) == 0)
        return SL_ER_YEAR;
    if (strstr(err, " MISSING"))
        return SL_ER_MISSING;
    return SL_ER_FORMAT22;
}

static int answer_nfq(struct sl_archive *a, const struct sl_msg *m, const struct sl_ori *who,
                      int64_t now, struct sl_buf *body, enum sl_er *er, char *err,
                      size_t errlen)
{
    const struct sl_field *f = sl_msg_field(m, "SEQ");
    if (!f || m->nfields != 1) {
        *er = f ? SL_ER_FORMAT22 : SL_ER_MISSING;
        snprintf(err, errlen, f ? "NFQ TAKES ONLY SEQ" : "SEQ MISSING");
        return -1;
    }
    uint32_t n = f->len;
    int xml = n > 1 && f->val[n - 1] == 'X';
    if (xml)
        n--;
    uint64_t seq = 0;
    int ok = n >= 1 && n <= 10;
    for (uint32_t i = 0; ok && i < n; i++) {
        ok = f->val[i] >= '0' && f->val[i] <= '9';
        seq = seq * 10 + (uint64_t)(f->val[i] - '0');
    }
    if (!ok) {
        *er = SL_ER_FORMAT22;
        snprintf(err, errlen, "SEQ MUST BE 1-10 DIGITS, OPTIONALLY FOLLOWED BY X");
        return -1;
    }
    if (!who || who->status != 'A' || !who->rand) {
        if (!who)
            sl_buf_append_str(body, "FETCH REFUSED - THE REQUESTER IS NOT IN THE DIRECTORY\n");
        else
            sl_buf_printf(body, "FETCH REFUSED - ORI %s IS NOT %s\n", who->ori,
                          who->status != 'A' ? "ACTIVE"
                                             : "AUTHORIZED TO SEARCH THE ARCHIVE");
        return 0;
    }
    struct sl_archive_msg msg;
    int rc = sl_archive_fetch(a, seq, who, now, &msg);
    if (rc < 0)
        return -2;
    sl_archive_reply_nfr(rc == 0 ? &msg : NULL, xml, body);
    sl_buf_free(&msg.body);
    return 0;
}

int sl_archive_answer(struct sl_archive *a, const struct sl_msg *m, const struct sl_ori *who,
                      int64_t now, struct sl_buf *body, char reply_key[4], enum sl_er *er,
                      char *err, size_t errlen)
{
    *er = SL_ER_NONE;
    err[0] = '\0';
    if (strcmp(m->key, "NFQ") == 0) {
        memcpy(reply_key, "NFR", 4);
        return answer_nfq(a, m, who, now, body, er, err, errlen);
    }
    if (strcmp(m->key, "NLQ") != 0) {
        *er = SL_ER_HEADER;
        snprintf(err, errlen, "THE ARCHIVE ANSWERS ONLY NLQ AND NFQ");
        return -1;
    }
    memcpy(reply_key, "NLR", 4);
    struct sl_archive_query q;
    if (sl_archive_query_parse(m, &q, err, errlen) < 0) {
        *er = er_for(err);
        return -1;
    }
    struct sl_buf warn = SL_BUF_INIT;
    if (sl_archive_authorise(who, &q, &warn) < 0) {
        sl_buf_append(body, warn.data, warn.len);
        sl_buf_free(&warn);
        return 0;
    }
    sl_buf_append(&warn, "", 1); /* a C string for sl_archive_reply_nlr */
    struct sl_archive_hits *h = sl_xmalloc(sizeof *h);
    int rc = sl_archive_search(a, &q, now, h);
    if (rc == 0)
        sl_archive_reply_nlr(&q, (const char *)warn.data, h, body);
    free(h);
    sl_buf_free(&warn);
    return rc < 0 ? -2 : 0;
}
