/*
 * gw_ilog.c - the gateway inbox's log: DATA/inbox/, segment files written append-only
 * (docs/gateway.md §5.1).  gw_inbox.c decides what goes in; this file writes records,
 * reads them back, scans them at open and recycles segments nobody needs any more.
 *
 * Files: DATA/inbox/seg-NNNNNNNN.log (8 decimal digits, from 1), oldest first; the
 * highest is the one written.  Each starts with a 32-byte header, all numbers big-endian:
 *
 *   0  8  magic "SLINBOX1"
 *   8  4  CRC-32C of bytes 0-7 and 12-31
 *   12 4  format version (1)
 *   16 8  seq of the segment's first record
 *   24 8  salt: random, new each time the file starts a segment
 *
 * then records, each a 24-byte header and a payload:
 *
 *   0  4  payload length L (at most GW_ILOG_REC_MAX)
 *   4  4  CRC-32C of the segment's salt (8 bytes), then bytes 8 .. 24 + L of the record
 *   8  8  seq: the segment's first seq for its first record, then + 1 each
 *   16 4  type: 1 READ, 2 BATCH
 *   20 4  zero
 *   24 L  payload
 *
 *   READ   u64 row id (the seq of the row's first READ; a row copied forward keeps it),
 *          then the frames: records of a 4-byte length, the 8-byte switch message id
 *          (0 none) and the frame as read (gw_inbox_blob_next).
 *   BATCH  u32 n, u32 d, n u64 message ids, d u64 row ids (rows whose every frame is
 *          now done), then n replies each a 4-byte length and the reply as sent, in the
 *          order of the ids (gw_answered_blob_get).
 *
 * A record is there when its length, CRC and seq all hold; the scan of a segment stops
 * at the first that does not.  In the last segment that is the end of what was written
 * (a write cut short by a kill or a power loss, or the old contents of a recycled file:
 * another salt, lower seqs): the next record is written there.  In an older segment it
 * is damage, logged; the scan goes on with the next segment.  A segment whose header does
 * not hold, or whose first seq is below the previous segment's end (a recycled file whose
 * new header was not written yet), is taken as empty.
 *
 * A segment is retired by gw_ilog_rotate when gw_inbox.c says nothing in it is needed:
 * the oldest retired file becomes the next segment (renamed, new header and salt,
 * overwritten from its start, so what it held is overwritten, not left in free disk
 * blocks); any other retired file is overwritten with zeros and removed.  A finished
 * segment is cut to its end, so that only the last one can have bytes past its records.
 *
 * No write here is followed by fsync: a record in the kernel's page cache survives the
 * process being killed, which is what R-1 asks; the cost of a power cut is in
 * docs/gateway.md §5.1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gw_int.h"
#include "stateline/audit.h"
#include "stateline/be.h"
#include "stateline/core.h"
#include "stateline/segfiles.h"

#define SEG_HDR 32
#define MAGIC "SLINBOX1"

struct seg {
    uint32_t num;
    uint64_t size;     /* bytes of header and whole records */
};

struct gw_ilog {
    char dir[SL_GW_PATH_MAX + 16];
    struct seg *segs;  /* oldest first; the last is written */
    size_t nseg, segcap;
    int fd;            /* the last segment, -1 if none could be opened */
    uint64_t salt;     /* the last segment's */
    int64_t next_seq;
    uint64_t seg_max;
    int rfd;           /* a segment open for reading back (rseg), -1 none */
    uint32_t rseg;
};

static uint32_t hdr_crc(const uint8_t *h)
{
    uint32_t c = sl_audit_crc32c(0, h, 8);
    return sl_audit_crc32c(c, h + 12, SEG_HDR - 12);
}

static void seg_path(const struct gw_ilog *lg, uint32_t num, char *out, size_t cap)
{
    snprintf(out, cap, "%s/seg-%08u.log", lg->dir, num);
}

/* ---- records ---- */

int gw_ilog_rec_parse(const uint8_t *b, size_t n, uint64_t salt, int64_t want_seq,
                      uint32_t *type, const uint8_t **payload, size_t *len)
{
    if (n < GW_ILOG_REC_HDR)
        return -1;
    uint32_t l = sl_be_get32(b);
    if (l > GW_ILOG_REC_MAX || n - GW_ILOG_REC_HDR < l)
        return -1;
    if ((int64_t)sl_be_get64(b + 8) != want_seq || sl_be_get32(b + 20) != 0)
        return -1;
    uint8_t s[8];
    sl_be_put64(s, salt);
    uint32_t c = sl_audit_crc32c(0, s, 8);
    c = sl_audit_crc32c(c, b + 8, GW_ILOG_REC_HDR - 8 + (size_t)l);
    if (c != sl_be_get32(b + 4))
        return -1;
    uint32_t t = sl_be_get32(b + 16);
    if (t != GW_ILOG_READ && t != GW_ILOG_BATCH)
        return -1;
    *type = t;
    *payload = b + GW_ILOG_REC_HDR;
    *len = l;
    return 0;
}

void gw_ilog_rec_header(uint8_t h[GW_ILOG_REC_HDR], uint64_t salt, int64_t seq, uint32_t type,
                        const struct iovec *iov, int niov)
{
    size_t l = 0;
    for (int i = 0; i < niov; i++)
        l += iov[i].iov_len;
    sl_be_put32(h, (uint32_t)l);
    sl_be_put64(h + 8, (uint64_t)seq);
    sl_be_put32(h + 16, type);
    sl_be_put32(h + 20, 0);
    uint8_t s[8];
    sl_be_put64(s, salt);
    uint32_t c = sl_audit_crc32c(0, s, 8);
    c = sl_audit_crc32c(c, h + 8, GW_ILOG_REC_HDR - 8);
    for (int i = 0; i < niov; i++)
        c = sl_audit_crc32c(c, iov[i].iov_base, iov[i].iov_len);
    sl_be_put32(h + 4, c);
}

int gw_ilog_seg_header_parse(const uint8_t *b, size_t n, int64_t *first_seq, uint64_t *salt)
{
    if (n < SEG_HDR || memcmp(b, MAGIC, 8) != 0 || sl_be_get32(b + 8) != hdr_crc(b) ||
        sl_be_get32(b + 12) != 1)
        return -1;
    int64_t f = (int64_t)sl_be_get64(b + 16);
    if (f < 1)
        return -1;
    *first_seq = f;
    *salt = sl_be_get64(b + 24);
    return 0;
}

static void seg_header(uint8_t h[SEG_HDR], int64_t first_seq, uint64_t salt)
{
    memcpy(h, MAGIC, 8);
    sl_be_put32(h + 12, 1);
    sl_be_put64(h + 16, (uint64_t)first_seq);
    sl_be_put64(h + 24, salt);
    sl_be_put32(h + 8, hdr_crc(h));
}

static uint64_t new_salt(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
        s = (uint64_t)sl_wall_us() * 0x9E3779B97F4A7C15ull; /* still differs per segment */
    return s;
}

/* ---- listing (sl_seg_list, segfiles.h) ---- */

static void seg_push(struct gw_ilog *lg, uint32_t num, uint64_t size)
{
    if (lg->nseg == lg->segcap) {
        lg->segcap = lg->segcap ? lg->segcap * 2 : 16;
        lg->segs = sl_xrealloc(lg->segs, lg->segcap * sizeof *lg->segs);
    }
    lg->segs[lg->nseg].num = num;
    lg->segs[lg->nseg].size = size;
    lg->nseg++;
}

/* The whole file (sl_xmalloc'd into *out, *len), 0; -1 (errno) if it cannot be read. */
static int slurp(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *b = sl_xmalloc(n ? n : 1);
    while (got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *out = b;
    *len = got;
    return 0;
}

/* ---- open ---- */

static void scrub(const char *path, uint64_t size);

/* Start segment num (from the file recycle, of recycle_size bytes, if not NULL). */
static int start_segment(struct gw_ilog *lg, uint32_t num, const char *recycle,
                         uint64_t recycle_size)
{
    char path[sizeof lg->dir + 32];
    seg_path(lg, num, path, sizeof path);
    if (recycle && rename(recycle, path) != 0) {
        /* it must not stay under its old number: a scan would take its records as live */
        SL_ERROR("gateway", "inbox: rename %s %s: %s", recycle, path, strerror(errno));
        scrub(recycle, recycle_size);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        SL_ERROR("gateway", "inbox: %s: %s", path, strerror(errno));
        return -1;
    }
    uint64_t salt = new_salt();
    uint8_t h[SEG_HDR];
    seg_header(h, lg->next_seq, salt);
    if (pwrite(fd, h, SEG_HDR, 0) != SEG_HDR) {
        SL_ERROR("gateway", "inbox: %s: writing its header: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (lg->fd >= 0)
        close(lg->fd);
    lg->fd = fd;
    lg->salt = salt;
    seg_push(lg, num, SEG_HDR);
    return 0;
}

/* Read every segment of lg->dir in order: fn for each record, lg->segs filled (a segment
 * taken as empty has size 0), lg->next_seq set; *last_salt the last valid segment's;
 * seg(report, arg) for each file after its records, when given; what is not in order is
 * logged unless quiet.  Writes nothing.  0, or -1 with err. */
static int scan(struct gw_ilog *lg, void (*fn)(const struct gw_ilog_rec *r, void *arg),
                void *arg, void (*seg)(const struct gw_ilog_seg_report *s, void *arg),
                int quiet, uint64_t *last_salt, char *err, size_t errlen)
{
    uint32_t *nums;
    int n = sl_seg_list(lg->dir, &nums);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s", lg->dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[sizeof lg->dir + 32];
        seg_path(lg, nums[i], path, sizeof path);
        uint8_t *b;
        size_t len;
        if (slurp(path, &b, &len) != 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            free(nums);
            return -1;
        }
        struct gw_ilog_seg_report rep = {nums[i], 0, 0, 0, 0, len, GW_ILOG_SEG_OK};
        int64_t first;
        uint64_t salt;
        if (gw_ilog_seg_header_parse(b, len, &first, &salt) != 0 ||
            (lg->nseg && first < lg->next_seq)) {
            /* not a segment (yet): a recycled file whose header was not written, or a
             * header damaged.  Its records cannot be told from old ones. */
            if (!quiet && (i + 1 < n || len > SEG_HDR))
                SL_ERROR("gateway", "inbox: %s has no valid header for seq %lld: taken as "
                         "empty", path, (long long)lg->next_seq);
            rep.status = GW_ILOG_SEG_NO_HEADER;
            if (seg)
                seg(&rep, arg);
            seg_push(lg, nums[i], 0);
            free(b);
            continue;
        }
        rep.first_seq = first;
        if (lg->nseg && first > lg->next_seq) {
            if (!quiet)
                SL_ERROR("gateway", "inbox: records %lld to %lld are missing before %s",
                         (long long)lg->next_seq, (long long)first - 1, path);
            rep.gap = first - lg->next_seq;
        }
        size_t off = SEG_HDR;
        int64_t seq = first;
        for (;;) {
            uint32_t type;
            const uint8_t *p;
            size_t l;
            if (gw_ilog_rec_parse(b + off, len - off, salt, seq, &type, &p, &l) != 0)
                break;
            struct gw_ilog_rec r = {nums[i], off, seq, type, p, l};
            fn(&r, arg);
            off += GW_ILOG_REC_HDR + l;
            seq++;
        }
        rep.records = seq - first;
        rep.valid = off;
        if (off < len && i + 1 < n) {
            rep.status = GW_ILOG_SEG_DAMAGED;
            if (!quiet)
                SL_ERROR("gateway", "inbox: %s is damaged at byte %zu (of %zu): the records "
                         "after it are lost", path, off, len);
        } else if (off < len) {
            rep.status = GW_ILOG_SEG_TAIL;
            if (!quiet)
                SL_INFO("gateway", "inbox: %s ends at byte %zu; the %zu bytes after it (a "
                        "write cut short, or a recycled file's old contents) are written "
                        "over", path, off, len - off);
        }
        if (seg)
            seg(&rep, arg);
        seg_push(lg, nums[i], off);
        lg->next_seq = seq;
        *last_salt = salt;
        free(b);
    }
    free(nums);
    return 0;
}

int gw_ilog_inspect(const char *dir, void (*fn)(const struct gw_ilog_rec *r, void *arg),
                    void (*seg)(const struct gw_ilog_seg_report *s, void *arg), void *arg,
                    char *err, size_t errlen)
{
    struct gw_ilog *lg = sl_xcalloc(1, sizeof *lg);
    snprintf(lg->dir, sizeof lg->dir, "%s", dir);
    lg->fd = lg->rfd = -1;
    lg->next_seq = 1;
    uint64_t salt = 0;
    int rc = scan(lg, fn, arg, seg, 1, &salt, err, errlen);
    gw_ilog_close(lg);
    return rc;
}

struct gw_ilog *gw_ilog_open(const char *dir, void (*fn)(const struct gw_ilog_rec *r, void *arg),
                             void *arg, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return NULL;
    }
    struct gw_ilog *lg = sl_xcalloc(1, sizeof *lg);
    snprintf(lg->dir, sizeof lg->dir, "%s", dir);
    lg->fd = lg->rfd = -1;
    lg->seg_max = GW_ILOG_SEG_MAX;
    lg->next_seq = 1;
    uint64_t last_salt = 0;
    if (scan(lg, fn, arg, NULL, 0, &last_salt, err, errlen) != 0) {
        gw_ilog_close(lg);
        return NULL;
    }
    if (lg->nseg && lg->segs[lg->nseg - 1].size >= SEG_HDR) {
        struct seg *s = &lg->segs[lg->nseg - 1];
        char path[sizeof lg->dir + 32];
        seg_path(lg, s->num, path, sizeof path);
        lg->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (lg->fd < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            gw_ilog_close(lg);
            return NULL;
        }
        lg->salt = last_salt;
    } else {
        /* none, or the last is taken as empty: it starts again with a new header */
        uint32_t num = 1;
        char old[sizeof lg->dir + 32];
        const char *recycle = NULL;
        if (lg->nseg) {
            num = lg->segs[lg->nseg - 1].num;
            seg_path(lg, num, old, sizeof old);
            recycle = old;
            lg->nseg--;
        }
        if (start_segment(lg, num, recycle, 0) != 0) {
            snprintf(err, errlen, "%s: cannot start a segment", dir);
            gw_ilog_close(lg);
            return NULL;
        }
    }
    return lg;
}

void gw_ilog_close(struct gw_ilog *lg)
{
    if (!lg)
        return;
    if (lg->fd >= 0)
        close(lg->fd);
    if (lg->rfd >= 0)
        close(lg->rfd);
    free(lg->segs);
    free(lg);
}

/* ---- writing ---- */

int64_t gw_ilog_append(struct gw_ilog *lg, uint32_t type, const struct iovec *iov, int niov,
                       uint32_t *seg, uint64_t *off)
{
    if (lg->fd < 0 || !lg->nseg) {
        SL_ERROR("gateway", "inbox: no segment open for writing");
        return -1;
    }
    struct seg *s = &lg->segs[lg->nseg - 1];
    struct iovec v[8];
    uint8_t h[GW_ILOG_REC_HDR];
    size_t total = GW_ILOG_REC_HDR;
    if (niov > 7)
        return -1;
    for (int i = 0; i < niov; i++)
        total += iov[i].iov_len;
    if (total - GW_ILOG_REC_HDR > GW_ILOG_REC_MAX) {
        SL_ERROR("gateway", "inbox: a record of %zu bytes is over the maximum", total);
        return -1;
    }
    gw_ilog_rec_header(h, lg->salt, lg->next_seq, type, iov, niov);
    v[0].iov_base = h;
    v[0].iov_len = sizeof h;
    memcpy(v + 1, iov, (size_t)niov * sizeof *iov);
    size_t done = 0;
    while (done < total) {
        /* the usual case is one call; a short write goes on where it stopped */
        int k = 0;
        size_t skip = done;
        while (skip >= v[k].iov_len) {
            skip -= v[k].iov_len;
            k++;
        }
        v[k].iov_base = (uint8_t *)v[k].iov_base + skip;
        v[k].iov_len -= skip;
        ssize_t w = pwritev(lg->fd, v + k, niov + 1 - k, (off_t)(s->size + done));
        v[k].iov_base = (uint8_t *)v[k].iov_base - skip;
        v[k].iov_len += skip;
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            /* what was written of it fails its CRC: the next record goes in its place */
            SL_ERROR("gateway", "inbox: writing seg-%08u.log: %s", s->num,
                     w < 0 ? strerror(errno) : "nothing written");
            return -1;
        }
        done += (size_t)w;
    }
    *seg = s->num;
    *off = s->size;
    s->size += total;
    return lg->next_seq++;
}

int gw_ilog_full(const struct gw_ilog *lg)
{
    return lg->nseg && lg->segs[lg->nseg - 1].size >= lg->seg_max;
}

uint32_t gw_ilog_current(const struct gw_ilog *lg)
{
    return lg->nseg ? lg->segs[lg->nseg - 1].num : 0;
}

void gw_ilog_set_seg_max(struct gw_ilog *lg, uint64_t bytes)
{
    lg->seg_max = bytes < 4096 ? 4096 : bytes;
}

size_t gw_ilog_segments(const struct gw_ilog *lg)
{
    return lg->nseg;
}

/* Overwrite path's first size bytes with zeros and remove it (what it held should not
 * stay in free blocks of the disk: names, dates of birth, records). */
static void scrub(const char *path, uint64_t size)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        static const uint8_t zero[65536];
        for (uint64_t o = 0; o < size;) {
            size_t k = size - o < sizeof zero ? (size_t)(size - o) : sizeof zero;
            ssize_t w = pwrite(fd, zero, k, (off_t)o);
            if (w <= 0)
                break;
            o += (uint64_t)w;
        }
        close(fd);
    }
    if (unlink(path) != 0)
        SL_ERROR("gateway", "inbox: removing %s: %s", path, strerror(errno));
}

int gw_ilog_rotate(struct gw_ilog *lg, uint32_t keep_from)
{
    if (!lg->nseg || lg->fd < 0)
        return -1;
    struct seg *cur = &lg->segs[lg->nseg - 1];
    /* the finished segment ends at its last record (a recycled file's old tail goes) */
    if (ftruncate(lg->fd, (off_t)cur->size) != 0)
        SL_ERROR("gateway", "inbox: cutting seg-%08u.log to its end: %s", cur->num,
                 strerror(errno));
    uint32_t num = cur->num + 1;
    size_t retire = 0;
    while (retire + 1 < lg->nseg && lg->segs[retire].num < keep_from)
        retire++;
    char recycle[sizeof lg->dir + 32];
    uint64_t recycle_size = 0;
    if (retire) {
        seg_path(lg, lg->segs[0].num, recycle, sizeof recycle);
        recycle_size = lg->segs[0].size;
        for (size_t i = 1; i < retire; i++) {
            char path[sizeof lg->dir + 32];
            seg_path(lg, lg->segs[i].num, path, sizeof path);
            scrub(path, lg->segs[i].size);
        }
        if (lg->rfd >= 0 && lg->rseg < keep_from) {
            close(lg->rfd);
            lg->rfd = -1;
        }
        memmove(lg->segs, lg->segs + retire, (lg->nseg - retire) * sizeof *lg->segs);
        lg->nseg -= retire;
    }
    return start_segment(lg, num, retire ? recycle : NULL, recycle_size);
}

/* ---- reading back ---- */

int gw_ilog_read(struct gw_ilog *lg, uint32_t seg, uint64_t off, int64_t seq,
                 struct sl_buf *buf, uint32_t *type, const uint8_t **payload, size_t *len)
{
    if (lg->rfd < 0 || lg->rseg != seg) {
        if (lg->rfd >= 0)
            close(lg->rfd);
        char path[sizeof lg->dir + 32];
        seg_path(lg, seg, path, sizeof path);
        lg->rfd = open(path, O_RDONLY | O_CLOEXEC);
        lg->rseg = seg;
        if (lg->rfd < 0) {
            SL_ERROR("gateway", "inbox: %s: %s", path, strerror(errno));
            return -1;
        }
    }
    uint8_t h[SEG_HDR];
    int64_t first;
    uint64_t salt;
    if (pread(lg->rfd, h, SEG_HDR, 0) != SEG_HDR ||
        gw_ilog_seg_header_parse(h, SEG_HDR, &first, &salt) != 0)
        goto bad;
    uint8_t rh[GW_ILOG_REC_HDR];
    if (pread(lg->rfd, rh, sizeof rh, (off_t)off) != (ssize_t)sizeof rh)
        goto bad;
    size_t l = sl_be_get32(rh);
    if (l > GW_ILOG_REC_MAX)
        goto bad;
    sl_buf_reset(buf);
    uint8_t *p = sl_buf_reserve(buf, GW_ILOG_REC_HDR + l);
    if (pread(lg->rfd, p, GW_ILOG_REC_HDR + l, (off_t)off) != (ssize_t)(GW_ILOG_REC_HDR + l))
        goto bad;
    sl_buf_commit(buf, GW_ILOG_REC_HDR + l);
    if (gw_ilog_rec_parse(p, GW_ILOG_REC_HDR + l, salt, seq, type, payload, len) != 0)
        goto bad;
    return 0;
bad:
    SL_ERROR("gateway", "inbox: seg-%08u.log: no record %lld at byte %llu (damaged)", seg,
             (long long)seq, (unsigned long long)off);
    return -1;
}

/* ---- payloads ---- */

int gw_ilog_batch_parse(const uint8_t *p, size_t len, struct gw_ilog_batch *b)
{
    if (len < 8)
        return -1;
    uint32_t n = sl_be_get32(p), d = sl_be_get32(p + 4);
    if ((len - 8) / 8 < (uint64_t)n + d)
        return -1;
    b->n = n;
    b->ndone = d;
    b->mids = p + 8;
    b->done = p + 8 + (size_t)n * 8;
    b->replies = b->done + (size_t)d * 8;
    b->rlen = len - 8 - ((size_t)n + d) * 8;
    return 0;
}

uint64_t gw_ilog_u64(const uint8_t *p, uint32_t i)
{
    return sl_be_get64(p + (size_t)i * 8);
}
