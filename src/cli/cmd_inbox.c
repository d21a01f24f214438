/*
 * cmd_inbox.c - `stateline inbox DATA [--records]`: what a gateway's inbox log holds, read
 * as the gateway reads it at start, without writing anything (docs/gateway.md §5.1).
 *
 * Prints one line per segment file (its sequence numbers, bytes, and what the scan made
 * of it: ok, a tail written over at the next start, damage, no header), then the rows
 * open (reads whose queries are not all answered: the gateway answers them at start) and
 * the answered ids kept.  --records adds one line per record.  Only counts and message
 * ids are printed, never the frames or replies (they hold personal data).
 * Exit status: 0, or 1 when a segment other than the last is damaged or missing, or the
 * folder cannot be read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway/gw_int.h"
#include "stateline/cli.h"
#include "stateline/core.h"

struct row {
    int64_t id;
    uint32_t seg;
    int done;
    uint32_t frames;
    uint64_t *mids;    /* the frames' ids (0: none) */
};
_Static_assert(offsetof(struct row, id) == 0, "gw_ilog_lower_bound reads the id first");

struct insp {
    int records;       /* --records */
    struct row *rows;  /* by id, ascending (the READ records come in order) */
    size_t nrows, cap;
    uint64_t *answered;
    size_t nans, anscap;
    int64_t batches, bad;
};

static void rows_put(struct insp *in, const struct gw_ilog_rec *r, int64_t id)
{
    for (size_t i = in->nrows; i-- > 0;) {
        if (in->rows[i].id == id) { /* a copy written forward: the latest counts */
            free(in->rows[i].mids);
            in->rows[i].mids = NULL;
            in->rows[i].frames = 0;
            in->rows[i].seg = r->seg;
            return;
        }
    }
    if (in->nrows == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 64;
        in->rows = sl_xrealloc(in->rows, in->cap * sizeof *in->rows);
    }
    size_t at = in->nrows;
    while (at > 0 && in->rows[at - 1].id > id)
        at--;
    memmove(in->rows + at + 1, in->rows + at, (in->nrows - at) * sizeof *in->rows);
    in->rows[at] = (struct row){id, r->seg, 0, 0, NULL};
    in->nrows++;
}

static struct row *rows_find(struct insp *in, int64_t id)
{
    size_t lo = gw_ilog_lower_bound(in->rows, sizeof *in->rows, 0, in->nrows, id);
    return lo < in->nrows && in->rows[lo].id == id ? &in->rows[lo] : NULL;
}

static void on_rec(const struct gw_ilog_rec *r, void *arg)
{
    struct insp *in = arg;
    if (r->type == GW_ILOG_READ) {
        if (r->len < 8) {
            printf("  seq %lld READ without a row id (damaged)\n", (long long)r->seq);
            in->bad++;
            return;
        }
        int64_t id = (int64_t)gw_ilog_u64(r->payload, 0);
        if (!id)
            id = r->seq;
        rows_put(in, r, id);
        struct row *w = rows_find(in, id);
        size_t off = 8;
        uint64_t mid;
        const uint8_t *f;
        uint32_t len;
        int rc;
        while ((rc = gw_inbox_blob_next(r->payload, r->len, &off, &mid, &f, &len)) == 1) {
            w->mids = sl_xrealloc(w->mids, (w->frames + 1) * sizeof *w->mids);
            w->mids[w->frames++] = mid;
        }
        if (in->records)
            printf("  seq %lld READ row %lld: %u frames, %zu bytes%s%s\n", (long long)r->seq,
                   (long long)id, w->frames, r->len, id != r->seq ? " (written forward)" : "",
                   rc < 0 ? " (frames damaged after the first ones)" : "");
        return;
    }
    struct gw_ilog_batch b;
    if (gw_ilog_batch_parse(r->payload, r->len, &b) != 0) {
        printf("  seq %lld BATCH with counts past its end (damaged)\n", (long long)r->seq);
        in->bad++;
        return;
    }
    for (uint32_t i = 0; i < b.n; i++) {
        if (in->nans == in->anscap) {
            in->anscap = in->anscap ? in->anscap * 2 : 1024;
            in->answered = sl_xrealloc(in->answered, in->anscap * sizeof *in->answered);
        }
        in->answered[in->nans++] = gw_ilog_u64(b.mids, i);
    }
    if (b.n)
        in->batches++;
    for (uint32_t i = 0; i < b.ndone; i++) {
        struct row *w = rows_find(in, (int64_t)gw_ilog_u64(b.done, i));
        if (w)
            w->done = 1;
    }
    if (in->records)
        printf("  seq %lld BATCH: %u replies, %u rows done, %zu bytes\n", (long long)r->seq,
               b.n, b.ndone, r->len);
}

static const char *const status_text[] = {
    "ok",
    ("bytes after the last record (a write cut short, or a recycled file's old contents): "
     "written over at the next start"),
    "DAMAGED: a record that does not hold; the records after it in this file are lost",
    "no valid header (a recycled file not yet started, or damage): taken as empty",
};

static void on_seg(const struct gw_ilog_seg_report *s, void *arg)
{
    struct insp *in = arg;
    if (s->status == GW_ILOG_SEG_NO_HEADER)
        printf("seg-%08u.log  %llu bytes  %s\n", s->num, (unsigned long long)s->size,
               status_text[s->status]);
    else if (s->records)
        printf("seg-%08u.log  seq %lld-%lld (%lld records)  %llu of %llu bytes  %s\n",
               s->num, (long long)s->first_seq, (long long)(s->first_seq + s->records - 1),
               (long long)s->records, (unsigned long long)s->valid,
               (unsigned long long)s->size, status_text[s->status]);
    else
        printf("seg-%08u.log  no records (next seq %lld)  %llu of %llu bytes  %s\n", s->num,
               (long long)s->first_seq, (unsigned long long)s->valid,
               (unsigned long long)s->size, status_text[s->status]);
    if (s->gap) {
        printf("  MISSING before it: %lld records (a segment lost)\n", (long long)s->gap);
        in->bad++;
    }
    if (s->status == GW_ILOG_SEG_DAMAGED)
        in->bad++;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int run(int argc, char **argv)
{
    const char *data = NULL;
    struct insp in = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--records"))
            in.records = 1;
        else if (argv[i][0] != '-' && !data)
            data = argv[i];
        else {
            fprintf(stderr, "inbox: unknown argument %s (see stateline inbox --help)\n",
                    argv[i]);
            return SL_EXIT_USAGE;
        }
    }
    if (!data) {
        fprintf(stderr, "inbox: which folder? (the gateway's data folder, or its inbox/)\n");
        return SL_EXIT_USAGE;
    }
    char dir[SL_GW_PATH_MAX + 16], err[400];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/inbox", data);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        snprintf(dir, sizeof dir, "%s", data);
    printf("inbox: %s\n", dir);
    if (gw_ilog_inspect(dir, on_rec, on_seg, &in, err, sizeof err) != 0) {
        fprintf(stderr, "inbox: %s\n", err);
        return SL_EXIT_FAIL;
    }
    qsort(in.answered, in.nans, sizeof *in.answered, cmp_u64);
    size_t open = 0;
    for (size_t i = 0; i < in.nrows; i++)
        open += !in.rows[i].done;
    printf("rows open (read, not all answered; the gateway answers them at start): %zu\n",
           open);
    for (size_t i = 0; i < in.nrows; i++) {
        struct row *w = &in.rows[i];
        if (w->done)
            continue;
        uint32_t answered = 0;
        for (uint32_t k = 0; k < w->frames; k++)
            answered += w->mids[k] && bsearch(&w->mids[k], in.answered, in.nans,
                                              sizeof *in.answered, cmp_u64) != NULL;
        printf("  row %lld (seg-%08u.log): %u frames, %u of them answered already, ids",
               (long long)w->id, w->seg, w->frames, answered);
        for (uint32_t k = 0; k < w->frames && k < 8; k++)
            printf(" %llu", (unsigned long long)w->mids[k]);
        printf("%s\n", w->frames > 8 ? " ..." : "");
    }
    printf("answered ids in the log: %zu in %lld batches (the gateway keeps at least the "
           "last %d)\n", in.nans, (long long)in.batches, GW_ANSWERED_KEEP);
    printf("%s\n", in.bad ? "DAMAGED: see the lines above (docs/gateway.md §5.1)" : "ok");
    for (size_t i = 0; i < in.nrows; i++)
        free(in.rows[i].mids);
    free(in.rows);
    free(in.answered);
    return in.bad ? SL_EXIT_FAIL : SL_EXIT_OK;
}

static const char usage[] =
    "usage: stateline inbox DATA [--records]\n"
    "\n"
    "What a gateway's inbox log holds (DATA/inbox/, docs/gateway.md 5.1), read as the\n"
    "gateway reads it at start, writing nothing (it may run beside the gateway).  DATA is\n"
    "the gateway's data folder (`data` in its configuration) or the inbox folder itself.\n"
    "\n"
    "Prints each segment file with its sequence numbers and what the scan made of it (ok;\n"
    "bytes after the last record, written over at the next start; DAMAGED; no header),\n"
    "the rows open (queries read whose replies the hub had not acknowledged: the gateway\n"
    "answers them at start, except those whose ids are answered already) and the answered\n"
    "ids kept for repeats.  Only counts and switch message ids are printed, never a frame\n"
    "or a reply: they hold personal data.\n"
    "\n"
    "  --records   one line per record as well (sequence number, type, counts, bytes)\n"
    "\n"
    "Exit status: 0; 1 when a segment other than the last is damaged or one is missing.\n";

const struct sl_cli_cmd sl_cmd_inbox = {"inbox", "what a gateway's inbox log holds, after a "
                                        "crash or any time (read only)", run, usage};
