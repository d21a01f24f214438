/*
 * verify.c - reading a log directory without the appender: every entry in order, their
 * leaf hashes, and full verification against the signed checkpoints.
 *
 * What verification checks, and how each kind of tampering shows:
 *   - record checksum (CRC32C): a changed byte that did not also fix the checksum;
 *     reported at its index;
 *   - sequence numbers: every entry carries its index; a removed, inserted or reordered
 *     entry breaks the sequence at its index;
 *   - strict decoding: a non-canonical entry;
 *   - the RFC 6962 root at every checkpoint's size against the signed root: any change at
 *     all, even one that fixed checksum and sequence numbers, shows as the first
 *     checkpoint that does not match, which bounds the change to the entries between the
 *     last matching checkpoint and that one;
 *   - checkpoints: parse, signature (with --key), origin, non-decreasing sizes, and a size
 *     larger than the log (entries removed from the end).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "stateline/audit.h"
#include "stateline/core.h"
#include "audit/internal.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- plain reading -------------------------------------------------------------------- */

struct rd {
    const struct sl_audit_reader_cb *cb;
    uint64_t index;
    int stop;
};

static int rd_rec(uint64_t off, const uint8_t *e, size_t len, int crc_ok, void *arg)
{
    struct rd *r = arg;
    uint64_t i = r->index++;
    if (!crc_ok) {
        if (r->cb->bad)
            r->cb->bad(i, "record checksum mismatch", r->cb->arg);
        return 0;
    }
    if (r->cb->entry(i, e, len, r->cb->arg) != 0) {
        r->stop = 1;
        return 1;
    }
    return 0;
}

int sl_audit_read_dir(const char *dir, const struct sl_audit_reader_cb *cb, char *err,
                      size_t errlen)
{
    uint32_t *nums;
    int n = sl__audit_list_segments(dir, &nums);
    if (n < 0) {
        seterr(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    struct rd r = {cb, 0, 0};
    for (int i = 0; i < n && !r.stop; i++) {
        char path[4096];
        sl__audit_seg_path(dir, nums[i], path, sizeof path);
        const uint8_t *img;
        size_t len;
        if (sl__audit_map(path, &img, &len) < 0) {
            seterr(err, errlen, "%s: %s", path, strerror(errno));
            free(nums);
            return -1;
        }
        uint64_t tail;
        int s = sl__audit_scan(img, len, rd_rec, &r, &tail);
        sl__audit_unmap(img, len);
        if (s == 1 && !r.stop && cb->bad) {
            char what[200];
            snprintf(what, sizeof what, "segment %u byte %llu: broken record framing", nums[i],
                     (unsigned long long)tail);
            cb->bad(r.index, what, cb->arg);
        }
    }
    free(nums);
    return 0;
}

struct leaves {
    struct sl_audit_hasher *h;
    uint8_t (*v)[32];
    uint64_t n, cap, want;
};

static int leaf_cb(uint64_t index, const uint8_t *e, size_t len, void *arg)
{
    struct leaves *l = arg;
    if (l->want && l->n >= l->want)
        return 1;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->v = sl_xrealloc(l->v, l->cap * 32);
    }
    sl_audit_leaf_hash(l->h, e, len, l->v[l->n++]);
    return 0;
}

int64_t sl_audit_load_leaves(const char *dir, uint64_t n, uint8_t (**out)[32], char *err,
                             size_t errlen)
{
    struct leaves l = {sl_audit_hasher_new(), NULL, 0, 0, n};
    struct sl_audit_reader_cb cb = {leaf_cb, NULL, &l};
    int r = sl_audit_read_dir(dir, &cb, err, errlen);
    sl_audit_hasher_free(l.h);
    if (r < 0) {
        free(l.v);
        return -1;
    }
    *out = l.v;
    return (int64_t)l.n;
}

/* ---- verification ----------------------------------------------------------------------- */

struct cpinfo {
    uint64_t size;
    uint8_t root[32];
    int k; /* position in the history, from 0 */
};

struct vstate {
    struct sl_audit_hasher *h;
    struct sl_audit_range range;
    uint64_t index;
    int64_t prev_seq; /* sequence number of the previous entry, -1 before the first */
    struct cpinfo *cps;
    size_t ncp, next_cp;
    uint64_t last_good_size;
    uint64_t problems;
    void (*report)(int64_t, const char *, void *);
    void *arg;
};

static void problem(struct vstate *v, int64_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(struct vstate *v, int64_t index, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    v->problems++;
    if (v->report)
        v->report(index, text, v->arg);
}

static void check_cps_at_size(struct vstate *v)
{
    uint8_t root[32];
    int have = 0;
    while (v->next_cp < v->ncp && v->cps[v->next_cp].size == v->range.size) {
        struct cpinfo *c = &v->cps[v->next_cp++];
        if (!have) {
            sl_audit_range_root(&v->range, v->h, root);
            have = 1;
        }
        if (memcmp(root, c->root, 32) != 0)
            problem(v, -1,
                    "checkpoint %d (size %llu): root does not match the entries: an entry in "
                    "[%llu, %llu) was changed, removed, inserted or reordered",
                    c->k, (unsigned long long)c->size, (unsigned long long)v->last_good_size,
                    (unsigned long long)c->size);
        else
            v->last_good_size = c->size;
    }
}

static int v_rec(uint64_t off, const uint8_t *e, size_t len, int crc_ok, void *arg)
{
    struct vstate *v = arg;
    uint64_t i = v->index;
    (void)off;
    if (!crc_ok)
        problem(v, (int64_t)i, "entry %llu: record checksum mismatch (the entry was altered)",
                (unsigned long long)i);
    int64_t seq = (int64_t)sl__audit_entry_seq(e);
    if (seq != v->prev_seq + 1 || (v->prev_seq < 0 && (uint64_t)seq != i))
        problem(v, (int64_t)i,
                "entry %llu: carries sequence number %llu after %lld (an entry was removed, "
                "inserted or moved here)",
                (unsigned long long)i, (unsigned long long)seq, (long long)v->prev_seq);
    v->prev_seq = seq;
    if (crc_ok) {
        struct sl_audit_entry ent;
        char why[160];
        if (sl_audit_decode(e, len, &ent, why, sizeof why) < 0)
            problem(v, (int64_t)i, "entry %llu: not a valid entry: %s", (unsigned long long)i,
                    why);
    }
    uint8_t leaf[32];
    sl_audit_leaf_hash(v->h, e, len, leaf);
    sl_audit_range_append(&v->range, v->h, leaf);
    v->index++;
    if (v->next_cp < v->ncp && v->cps[v->next_cp].size == v->range.size)
        check_cps_at_size(v);
    return 0;
}

struct cpload {
    struct vstate *v;
    const struct sl_audit_verifier *key;
    int k;
    uint64_t prev_size;
    size_t cap;
    const char *base;
};

static int cp_note(const char *note, size_t len, void *arg)
{
    struct cpload *c = arg;
    struct vstate *v = c->v;
    int k = c->k++;
    struct sl_audit_checkpoint cp;
    char why[200];
    if (sl_audit_checkpoint_parse(note, len, &cp, why, sizeof why) < 0) {
        problem(v, -1, "checkpoint %d (byte %zu of checkpoints): %s", k,
                (size_t)(note - c->base), why);
        return 0;
    }
    if (c->key) {
        if (strcmp(cp.origin, c->key->name) != 0)
            problem(v, -1, "checkpoint %d (size %llu): origin '%s' is not the key's '%s'", k,
                    (unsigned long long)cp.size, cp.origin, c->key->name);
        else if (sl_audit_checkpoint_verify(note, &cp, c->key) < 0)
            problem(v, -1, "checkpoint %d (size %llu): no valid signature by %s+%08x", k,
                    (unsigned long long)cp.size, c->key->name, c->key->key_id);
    }
    if (k > 0 && cp.size < c->prev_size)
        problem(v, -1, "checkpoint %d: size %llu is smaller than the previous %llu", k,
                (unsigned long long)cp.size, (unsigned long long)c->prev_size);
    c->prev_size = cp.size;
    if (v->ncp == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        v->cps = sl_xrealloc(v->cps, c->cap * sizeof *v->cps);
    }
    v->cps[v->ncp].size = cp.size;
    memcpy(v->cps[v->ncp].root, cp.root, 32);
    v->cps[v->ncp].k = k;
    v->ncp++;
    return 0;
}

static int cmp_cp(const void *a, const void *b)
{
    const struct cpinfo *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return x->k - y->k;
}

int64_t sl_audit_verify_dir(const char *dir, const struct sl_audit_verifier *key,
                            void (*report)(int64_t index, const char *text, void *arg),
                            void *arg, struct sl_audit_verify_result *res, char *err,
                            size_t errlen)
{
    memset(res, 0, sizeof *res);
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        seterr(err, errlen, "%s: %s", dir, errno ? strerror(errno) : "not a directory");
        return -1;
    }
    int64_t t0 = sl_now_ns();
    struct vstate v;
    memset(&v, 0, sizeof v);
    v.h = sl_audit_hasher_new();
    sl_audit_range_init(&v.range);
    v.prev_seq = -1;
    v.report = report;
    v.arg = arg;

    char path[4096], *text = NULL;
    size_t tlen = 0;
    snprintf(path, sizeof path, "%s/checkpoints", dir);
    if (sl__audit_slurp(path, &text, &tlen) < 0) {
        if (errno != ENOENT) {
            seterr(err, errlen, "%s: %s", path, strerror(errno));
            sl_audit_hasher_free(v.h);
            return -1;
        }
        problem(&v, -1, "no checkpoints file: nothing vouches for this log");
    } else {
        struct cpload c = {&v, key, 0, 0, 0, text};
        size_t bad = 0;
        char why[200];
        if (sl_audit_checkpoints_split(text, tlen, cp_note, &c, &bad, why, sizeof why) < 0)
            problem(&v, -1, "checkpoints: %s", why);
        free(text);
        if (v.ncp == 0)
            problem(&v, -1, "no checkpoint in %s", path);
        qsort(v.cps, v.ncp, sizeof *v.cps, cmp_cp);
    }
    check_cps_at_size(&v); /* size-0 checkpoints */

    uint32_t *nums;
    int n = sl__audit_list_segments(dir, &nums);
    if (n < 0) {
        seterr(err, errlen, "%s: %s", dir, strerror(errno));
        sl_audit_hasher_free(v.h);
        free(v.cps);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (nums[i] != (uint32_t)i + 1)
            problem(&v, (int64_t)v.index, "segment %u is missing (before entry %llu)",
                    (unsigned)i + 1, (unsigned long long)v.index);
        sl__audit_seg_path(dir, nums[i], path, sizeof path);
        const uint8_t *img;
        size_t len;
        if (sl__audit_map(path, &img, &len) < 0) {
            problem(&v, (int64_t)v.index, "%s: %s", path, strerror(errno));
            continue;
        }
        uint64_t tail;
        if (sl__audit_scan(img, len, v_rec, &v, &tail) == 1)
            problem(&v, (int64_t)v.index,
                    "entry %llu: broken record framing at byte %llu of segment %u (%llu bytes "
                    "unreadable)",
                    (unsigned long long)v.index, (unsigned long long)tail, nums[i],
                    (unsigned long long)(len - tail));
        sl__audit_unmap(img, len);
    }
    free(nums);
    for (size_t k = v.next_cp; k < v.ncp; k++)
        problem(&v, -1,
                "checkpoint %d claims size %llu but the log has %llu entries: entries were "
                "removed",
                v.cps[k].k, (unsigned long long)v.cps[k].size, (unsigned long long)v.index);
    sl_audit_range_root(&v.range, v.h, res->root);
    res->entries = v.index;
    res->checkpoints = v.ncp;
    res->problems = v.problems;
    res->seconds = (double)(sl_now_ns() - t0) / 1e9;
    sl_audit_hasher_free(v.h);
    free(v.cps);
    return (int64_t)v.problems;
}
