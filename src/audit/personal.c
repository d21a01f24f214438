/*
 * personal.c - the personal part of audit entries, kept apart and encrypted, and
 * crypto-shredding (REQUIREMENTS A-3, P-19).  docs/audit-format.md §8.
 *
 * Files (DIR/personal is 0700, every file 0600):
 *     hmac.key          32 random bytes: the per-log secret of the keyed hash that entries
 *                       carry (HMAC-SHA-256(secret, personal data)).  Kept for the life of
 *                       the log, so an authorised auditor holding a record can still find
 *                       and prove its entry after the period key is gone.
 *     keys/YYYY-MM.key  32 random bytes: the AES-256-GCM key of one UTC month.
 *     keys/YYYY-MM.shredded   tombstone: the month's key was destroyed; never re-created.
 *     YYYY-MM.data      the month's personal records, append-only:
 *                           header  "SLPDATA1" | "YYYY-MM" | "\n"            (16 bytes)
 *                           records u32 length   of what follows the CRC (36 + n)
 *                                   u32 CRC32C   of what follows it
 *                                   u64 index    of the entry
 *                                   12 bytes     nonce (random)
 *                                   n bytes      AES-256-GCM ciphertext of the data
 *                                   16 bytes     GCM tag
 *                       all integers big-endian; records in ascending index order;
 *                       AAD = "stateline-audit-personal-v1" || u64 index || "YYYY-MM"
 *                       (binding the index and month: a record cannot be moved to another
 *                       entry; the AAD of the SQLite rows before, so both read alike).
 *     YYYY-MM.index     sidecar: u64 index | u64 offset of its record in .data, 16 bytes
 *                       per record, ascending.  Not fsynced: it is checked against .data and
 *                       rebuilt from it at open (and a reader scans .data past its end), so
 *                       losing it costs a scan, never a record.  Kept after shredding, so a
 *                       read can still say "this entry's data was destroyed".
 *     personal.db       logs written before the data files: SQLite, table
 *                           personal(idx INTEGER PRIMARY KEY, period TEXT, nonce BLOB,
 *                                    ct BLOB, tag BLOB)
 *                       same AAD.  Never created any more; read for the entries in it,
 *                       trimmed at open and cleared by shredding as before.
 *
 * Writing (the durability thread): sl__audit_personal_write encrypts a batch's records and
 * appends them to the month's .data with one write(2) (and the sidecar entries to .index);
 * sl__audit_personal_sync_start starts the fdatasync of each .data file written (Linux AIO,
 * IOCB_CMD_FDSYNC, so it runs while the caller fdatasyncs the segment: one sync's latency,
 * not two in a row; without AIO, a plain fdatasync); sl__audit_personal_sync_wait waits for
 * it.  Nothing is durable until both have finished; if a crash falls between them, open
 * finds the entry without its record and removes the entry as a torn write (log.c).
 *
 * Shredding a month: the tombstone first, the key overwritten with zeros, fsynced,
 * unlinked, the directory fsynced; then the month's .data is unlinked (its .index, which
 * holds no personal data, fsynced and kept) and its personal.db rows cleared.  The audit log
 * itself is untouched: its leaves hold only the keyed hash, so it still verifies.
 * Note: on flash and on journaling or copy-on-write file systems an overwrite does not
 * reach the old blocks; the guarantee rests on the unlink plus whatever the device does
 * with discarded blocks (docs/audit-format.md §8 says what to do about it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/aio_abi.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "stateline/audit.h"
#include "stateline/core.h"
#include "audit/internal.h"
#include "stateline/buf.h"

static const char AAD_TAG[] = "stateline-audit-personal-v1";
#define NFILES 4 /* data files kept open by the writer (the month, and a clock step) */

/* One month's data file, open for appending (writer only). */
struct pfile {
    char period[8];
    int fd, xfd;      /* .data, .index (xfd -1: sidecar given up until the next open) */
    uint64_t size;    /* of .data */
    int dirty;        /* written since the last sync */
    uint64_t used;    /* LRU stamp */
    uint8_t *d, *x;   /* this batch's records and sidecar entries */
    size_t dlen, dcap, xlen, xcap;
};

struct sl__audit_personal {
    char *pdir; /* DIR/personal */
    sqlite3 *db; /* legacy personal.db, or NULL */
    uint8_t secret[32];
    EVP_MAC *mac;
    EVP_MAC_CTX *macctx;
    EVP_CIPHER *aes;
    EVP_CIPHER_CTX *cctx;
    char period[8]; /* key cached for this period */
    uint8_t key[32];
    int have_key; /* 1 key cached, -1 period shredded */
    int cctx_keyed; /* cctx holds the expanded key of `period` for encryption */
    uint8_t nonces[12 * 256]; /* random nonces, drawn 256 at a time */
    int nonce_left;
    int64_t month_lo, month_hi; /* [lo, hi) µs of the month in `month` */
    char month[8];
    /* writer */
    struct pfile files[NFILES];
    uint64_t stamp;
    aio_context_t aio;
    int have_aio, inflight;
    struct iocb cbs[NFILES];
    /* lookups at open: one sidecar mapped */
    char xperiod[8];
    const uint8_t *xmap;
    size_t xlen;
};

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

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const uint8_t *b)
{
    return (uint64_t)be32(b) << 32 | be32(b + 4);
}

static void pfile_path(const char *pdir, const char *period, const char *ext, char *out,
                       size_t cap)
{
    snprintf(out, cap, "%s/%.7s.%s", pdir, period, ext);
}

/* ---- the data file format (pure functions: fuzzed) ------------------------------------- */

void sl__audit_pdata_header(const char period[8], uint8_t out[SL_AUDIT_PDATA_HDR])
{
    memcpy(out, "SLPDATA1", 8);
    memcpy(out + 8, period, 7);
    out[15] = '\n';
}

int sl__audit_pdata_check_header(const uint8_t *img, size_t len, const char *period)
{
    if (len < SL_AUDIT_PDATA_HDR || memcmp(img, "SLPDATA1", 8) != 0 || img[15] != '\n')
        return -1;
    if (period && memcmp(img + 8, period, 7) != 0)
        return -1;
    for (int i = 8; i < 15; i++)
        if (i == 12 ? img[i] != '-' : (img[i] < '0' || img[i] > '9'))
            return -1;
    return 0;
}

int sl__audit_pdata_record(const uint8_t *img, size_t len, uint64_t off,
                           struct sl__audit_prec *r)
{
    if (off > len || len - off < 8)
        return -1;
    uint32_t bl = be32(img + off);
    if (bl < SL_AUDIT_PREC_MIN || bl > SL_AUDIT_PREC_MIN + SL_AUDIT_MAX_PERSONAL ||
        bl > len - off - 8)
        return -1;
    const uint8_t *b = img + off + 8;
    if (sl_audit_crc32c(0, b, bl) != be32(img + off + 4))
        return -1;
    r->index = be64(b);
    r->nonce = b + 8;
    r->ct = b + 20;
    r->ctlen = bl - SL_AUDIT_PREC_MIN;
    r->tag = b + 20 + r->ctlen;
    r->total = 8 + (uint64_t)bl;
    return 0;
}

uint64_t sl__audit_pdata_scan(const uint8_t *img, size_t len, uint64_t off, uint64_t after,
                              int (*fn)(const struct sl__audit_prec *r, uint64_t off, void *arg),
                              void *arg)
{
    struct sl__audit_prec r;
    int first = after == UINT64_MAX;
    while (off < len && sl__audit_pdata_record(img, len, off, &r) == 0) {
        if (!first && r.index <= after)
            break; /* not ascending: damage, stop as for a torn record */
        first = 0;
        after = r.index;
        if (fn && fn(&r, off, arg))
            return off;
        off += r.total;
    }
    return off;
}

int64_t sl__audit_pindex_find(const uint8_t *x, size_t len, uint64_t index, uint64_t *off)
{
    size_t n = len / 16, lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t v = be64(x + mid * 16);
        if (v == index) {
            *off = be64(x + mid * 16 + 8);
            return (int64_t)mid;
        }
        if (v < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- keys ------------------------------------------------------------------------------ */

/* Read exactly 32 bytes from path: 0; -1 with errno (ENOENT if missing). */
static int read_key(const char *path, uint8_t key[32])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, key, 32);
    close(fd);
    if (n != 32) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* Create a new random key file atomically (tmp + fsync + rename + fsync dir). */
static int create_key(const char *dir, const char *path, uint8_t key[32])
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (RAND_bytes(key, 32) != 1) {
        errno = EIO;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (write(fd, key, 32) != 32 || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    close(fd);
    if (link(tmp, path) < 0) { /* link, not rename: never replace an existing key */
        int e = errno;
        unlink(tmp);
        if (e == EEXIST)
            return read_key(path, key);
        errno = e;
        return -1;
    }
    unlink(tmp);
    return sl_fsync_dir(dir);
}

static int is_shredded(const struct sl__audit_personal *p, const char *period)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/keys/%.7s.shredded", p->pdir, period);
    return access(path, F_OK) == 0;
}

/* Load (or create) the key of period; 0, 1 if the period was shredded, -1 on error. */
static int period_key(struct sl__audit_personal *p, const char *period, int create)
{
    if (p->have_key && strcmp(p->period, period) == 0)
        return p->have_key < 0;
    char path[4300], kdir[4200];
    snprintf(kdir, sizeof kdir, "%s/keys", p->pdir);
    memcpy(p->period, period, 8);
    p->cctx_keyed = 0;
    if (is_shredded(p, period)) {
        p->have_key = -1;
        return 1;
    }
    snprintf(path, sizeof path, "%s/%s.key", kdir, period);
    if (read_key(path, p->key) == 0) {
        p->have_key = 1;
        return 0;
    }
    p->have_key = 0;
    if (errno != ENOENT || !create || create_key(kdir, path, p->key) < 0) {
        if (create)
            SL_ERROR("audit", "personal key %s: %s", path, strerror(errno));
        return -1;
    }
    p->have_key = 1;
    return 0;
}

static void aad_for(uint64_t idx, const char *period, uint8_t aad[64], size_t *len)
{
    size_t n = sizeof AAD_TAG - 1;
    memcpy(aad, AAD_TAG, n);
    for (int i = 0; i < 8; i++)
        aad[n + (size_t)i] = (uint8_t)(idx >> (56 - 8 * i));
    memcpy(aad + n + 8, period, 7);
    *len = n + 15;
}

/* The UTC month of t, cached: gmtime and snprintf per entry showed in profiles. */
static void month_of(struct sl__audit_personal *p, int64_t t, char out[8])
{
    if (!(t >= p->month_lo && t < p->month_hi)) {
        sl__audit_period(t, p->month);
        time_t s = (time_t)(t / 1000000);
        struct tm tm;
        gmtime_r(&s, &tm);
        tm.tm_mday = 1;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        p->month_lo = (int64_t)timegm(&tm) * 1000000;
        tm.tm_mon++;
        p->month_hi = (int64_t)timegm(&tm) * 1000000;
    }
    memcpy(out, p->month, 8);
}

/* 12 fresh random bytes; RAND_bytes is called once per 256 nonces. */
static int next_nonce(struct sl__audit_personal *p, uint8_t out[12])
{
    if (p->nonce_left == 0) {
        if (RAND_bytes(p->nonces, sizeof p->nonces) != 1)
            return -1;
        p->nonce_left = 256;
    }
    p->nonce_left--;
    memcpy(out, p->nonces + 12 * p->nonce_left, 12);
    OPENSSL_cleanse(p->nonces + 12 * p->nonce_left, 12); /* never used twice */
    return 0;
}

/* ---- open / close ------------------------------------------------------------------------ */

static int legacy_open(struct sl__audit_personal *p, int writer, char *err, size_t errlen)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/personal.db", p->pdir);
    if (access(path, F_OK) != 0)
        return 0; /* a log begun with the data files: no legacy store */
    if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        seterr(err, errlen, "%s: %s", path, p->db ? sqlite3_errmsg(p->db) : "cannot open");
        return -1;
    }
    sqlite3_busy_timeout(p->db, 5000);
    (void)writer; /* the writer only trims it, at open */
    return 0;
}

struct sl__audit_personal *sl__audit_personal_open(const char *dir, int create, char *err,
                                                   size_t errlen)
{
    struct sl__audit_personal *p = sl_xcalloc(1, sizeof *p);
    for (int i = 0; i < NFILES; i++)
        p->files[i].fd = p->files[i].xfd = -1;
    size_t n = strlen(dir) + 16;
    p->pdir = sl_xmalloc(n);
    snprintf(p->pdir, n, "%s/personal", dir);
    char path[4300], kdir[4200];
    snprintf(kdir, sizeof kdir, "%s/keys", p->pdir);
    if (create && ((mkdir(p->pdir, 0700) < 0 && errno != EEXIST) ||
                   (mkdir(kdir, 0700) < 0 && errno != EEXIST))) {
        seterr(err, errlen, "mkdir %s: %s", kdir, strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof path, "%s/hmac.key", p->pdir);
    if (read_key(path, p->secret) < 0) {
        if (!(create && errno == ENOENT && create_key(p->pdir, path, p->secret) == 0)) {
            seterr(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
    }
    if (legacy_open(p, create, err, errlen) < 0)
        goto fail;
    p->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    p->macctx = p->mac ? EVP_MAC_CTX_new(p->mac) : NULL;
    p->aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    p->cctx = EVP_CIPHER_CTX_new();
    if (!p->macctx || !p->aes || !p->cctx) {
        seterr(err, errlen, "OpenSSL lacks HMAC or AES-256-GCM");
        goto fail;
    }
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(p->macctx, p->secret, 32, params) != 1) {
        seterr(err, errlen, "HMAC init failed");
        goto fail;
    }
    if (create) {
        /* Linux AIO for an fdatasync that overlaps the segment's; a plain fdatasync in a
         * row when the kernel refuses (ENOSYS, or aio-max-nr reached). */
        p->have_aio = syscall(SYS_io_setup, NFILES, &p->aio) == 0;
        if (!p->have_aio)
            SL_WARN("audit", "no Linux AIO (%s): personal data and entries synced in a row",
                    strerror(errno));
    }
    return p;
fail:
    sl__audit_personal_close(p);
    return NULL;
}

static void unmap_x(struct sl__audit_personal *p)
{
    sl__audit_unmap(p->xmap, p->xlen);
    p->xmap = NULL;
    p->xlen = 0;
    p->xperiod[0] = 0;
}

void sl__audit_personal_close(struct sl__audit_personal *p)
{
    if (!p)
        return;
    if (p->inflight)
        sl__audit_personal_sync_wait(p);
    if (p->aio)
        syscall(SYS_io_destroy, p->aio);
    for (int i = 0; i < NFILES; i++) {
        struct pfile *f = &p->files[i];
        if (f->fd >= 0)
            close(f->fd);
        if (f->xfd >= 0)
            close(f->xfd);
        free(f->d);
        free(f->x);
    }
    unmap_x(p);
    sqlite3_close(p->db);
    EVP_MAC_CTX_free(p->macctx);
    EVP_MAC_free(p->mac);
    EVP_CIPHER_CTX_free(p->cctx);
    EVP_CIPHER_free(p->aes);
    OPENSSL_cleanse(p->secret, sizeof p->secret);
    OPENSSL_cleanse(p->key, sizeof p->key);
    free(p->pdir);
    free(p);
}

void sl__audit_personal_mac(struct sl__audit_personal *p, const void *data, size_t len,
                            uint8_t out[32])
{
    size_t ol = 32;
    /* Re-init with the key set at open (NULL key keeps it). */
    if (EVP_MAC_init(p->macctx, NULL, 0, NULL) != 1 || EVP_MAC_update(p->macctx, data, len) != 1 ||
        EVP_MAC_final(p->macctx, out, &ol, 32) != 1) {
        SL_ERROR("audit", "HMAC failed");
        abort();
    }
}

/* ---- writing ------------------------------------------------------------------------------ */

/* Write the records (and sidecar entries) encrypted for f so far: 0 or -1. */
static int flush_file(struct sl__audit_personal *p, struct pfile *f)
{
    if (!f->dlen)
        return 0;
    if (sl_write_all(f->fd, f->d, f->dlen) < 0) {
        SL_ERROR("audit", "write to %s/%.7s.data: %s", p->pdir, f->period, strerror(errno));
        return -1;
    }
    f->size += f->dlen;
    f->dlen = 0;
    f->dirty = 1;
    /* The sidecar after the data it points into; a failure only costs reads a scan. */
    if (f->xfd >= 0 && sl_write_all(f->xfd, f->x, f->xlen) < 0) {
        char xpath[4300];
        pfile_path(p->pdir, f->period, "index", xpath, sizeof xpath);
        SL_WARN("audit", "%s: %s; removed, rebuilt at the next open", xpath, strerror(errno));
        close(f->xfd);
        f->xfd = -1;
        unlink(xpath);
    }
    f->xlen = 0;
    return 0;
}

/* The open data file of period, opened or created (header written, directory fsynced so
 * the name is durable before any record in it is called durable).  NULL on error. */
static struct pfile *pfile_get(struct sl__audit_personal *p, const char *period)
{
    struct pfile *f = NULL;
    for (int i = 0; i < NFILES; i++)
        if (p->files[i].fd >= 0 && memcmp(p->files[i].period, period, 8) == 0) {
            f = &p->files[i];
            f->used = ++p->stamp;
            return f;
        }
    for (int i = 0; i < NFILES && !f; i++) /* a free slot ... */
        if (p->files[i].fd < 0)
            f = &p->files[i];
    for (int i = 0; i < NFILES && !f; i++) /* ... else the least recently used idle one */
        if (!p->files[i].dirty && !p->files[i].dlen)
            f = &p->files[i];
    for (int i = 0; i < NFILES; i++)
        if (f && f->fd >= 0 && !p->files[i].dirty && !p->files[i].dlen &&
            p->files[i].used < f->used)
            f = &p->files[i];
    if (!f) {
        /* every file has records of this batch (months going back and forth within one
         * batch: a clock stepping): write the least recently used one out and sync it now,
         * since it is closed before the batch's sync */
        f = &p->files[0];
        for (int i = 1; i < NFILES; i++)
            if (p->files[i].used < f->used)
                f = &p->files[i];
        if (flush_file(p, f) < 0 || fdatasync(f->fd) < 0) {
            SL_ERROR("audit", "%s/%.7s.data: %s", p->pdir, f->period, strerror(errno));
            return NULL;
        }
        f->dirty = 0;
    }
    if (f->fd >= 0) {
        close(f->fd);
        if (f->xfd >= 0)
            close(f->xfd);
        f->fd = f->xfd = -1;
    }
    char path[4300], xpath[4300];
    pfile_path(p->pdir, period, "data", path, sizeof path);
    pfile_path(p->pdir, period, "index", xpath, sizeof xpath);
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        SL_ERROR("audit", "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    int fresh = st.st_size < SL_AUDIT_PDATA_HDR;
    if (fresh) {
        /* new (or torn at creation: nothing after a header can exist) */
        uint8_t h[SL_AUDIT_PDATA_HDR];
        sl__audit_pdata_header(period, h);
        if (ftruncate(fd, 0) < 0 || sl_write_all(fd, h, sizeof h) < 0 || fdatasync(fd) < 0 ||
            sl_fsync_dir(p->pdir) < 0) {
            SL_ERROR("audit", "%s: %s", path, strerror(errno));
            close(fd);
            return NULL;
        }
        st.st_size = SL_AUDIT_PDATA_HDR;
    }
    f->fd = fd;
    /* a fresh data file starts a fresh sidecar: entries left from one that was lost would
     * point into nothing */
    f->xfd = open(xpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (fresh ? O_TRUNC : 0), 0600);
    if (f->xfd < 0)
        SL_WARN("audit", "%s: %s (reads will scan %s)", xpath, strerror(errno), path);
    f->size = (uint64_t)st.st_size;
    memcpy(f->period, period, 8);
    f->used = ++p->stamp;
    f->dirty = 0;
    return f;
}

static uint8_t *grow(uint8_t **b, size_t *cap, size_t len, size_t more)
{
    if (*cap - len < more) {
        *cap = (len + more) * 2;
        *b = sl_xrealloc(*b, *cap);
    }
    return *b + len;
}

int sl__audit_personal_write(struct sl__audit_personal *p, const uint8_t *const *bufs,
                             const size_t *lens, int nbufs)
{
    for (int bi = 0; bi < nbufs; bi++) {
        const uint8_t *buf = bufs[bi];
        size_t len = lens[bi], o = 0;
        while (o + 20 <= len) {
            uint64_t idx = be64(buf + o);
            int64_t t = (int64_t)be64(buf + o + 8);
            uint32_t dl = be32(buf + o + 16);
            const uint8_t *data = buf + o + 20;
            o += 20 + dl;
            char period[8];
            month_of(p, t, period);
            int k = period_key(p, period, 1);
            if (k < 0)
                return -1;
            if (k == 1) {
                SL_WARN("audit", "entry %llu: period %s was shredded; its personal data is not kept",
                        (unsigned long long)idx, period);
                continue;
            }
            struct pfile *f = pfile_get(p, period);
            if (!f)
                return -1;
            /* Expand the month's key once; per entry only the nonce changes. */
            if (!p->cctx_keyed) {
                if (EVP_EncryptInit_ex2(p->cctx, p->aes, p->key, NULL, NULL) != 1) {
                    SL_ERROR("audit", "AES-256-GCM key setup failed");
                    return -1;
                }
                p->cctx_keyed = 1;
            }
            uint32_t bl = SL_AUDIT_PREC_MIN + dl;
            uint8_t *r = grow(&f->d, &f->dcap, f->dlen, 8 + (size_t)bl);
            uint8_t aad[64];
            size_t aadl;
            int outl = 0, fl = 0;
            aad_for(idx, period, aad, &aadl);
            put32(r, bl);
            put64(r + 8, idx);
            if (next_nonce(p, r + 16) < 0 ||
                EVP_EncryptInit_ex2(p->cctx, NULL, NULL, r + 16, NULL) != 1 ||
                EVP_EncryptUpdate(p->cctx, NULL, &outl, aad, (int)aadl) != 1 ||
                EVP_EncryptUpdate(p->cctx, r + 28, &outl, data, (int)dl) != 1 ||
                EVP_EncryptFinal_ex(p->cctx, r + 28 + outl, &fl) != 1 ||
                EVP_CIPHER_CTX_ctrl(p->cctx, EVP_CTRL_GCM_GET_TAG, 16, r + 28 + dl) != 1) {
                SL_ERROR("audit", "AES-256-GCM failed");
                return -1;
            }
            put32(r + 4, sl_audit_crc32c(0, r + 8, bl));
            uint8_t *x = grow(&f->x, &f->xcap, f->xlen, 16);
            put64(x, idx);
            put64(x + 8, f->size + f->dlen);
            f->dlen += 8 + (size_t)bl;
            f->xlen += 16;
        }
    }
    for (int i = 0; i < NFILES; i++)
        if (flush_file(p, &p->files[i]) < 0)
            return -1;
    return 0;
}

int sl__audit_personal_sync_start(struct sl__audit_personal *p)
{
    struct iocb *v[NFILES];
    int n = 0;
    for (int i = 0; i < NFILES; i++) {
        struct pfile *f = &p->files[i];
        if (!f->dirty)
            continue;
        f->dirty = 0;
        if (!p->have_aio) {
            if (fdatasync(f->fd) < 0) {
                SL_ERROR("audit", "fdatasync of %s/%.7s.data: %s", p->pdir, f->period,
                         strerror(errno));
                return -1;
            }
            continue;
        }
        memset(&p->cbs[n], 0, sizeof p->cbs[n]);
        p->cbs[n].aio_fildes = (uint32_t)f->fd;
        p->cbs[n].aio_lio_opcode = IOCB_CMD_FDSYNC;
        p->cbs[n].aio_data = (uint64_t)i;
        v[n] = &p->cbs[n];
        n++;
    }
    if (!n)
        return 0;
    long r = syscall(SYS_io_submit, p->aio, (long)n, v);
    if (r != n) {
        /* none or part submitted: sync the rest here; a file system without AIO fsync
         * (EINVAL) is not asked again */
        if (r < 0 && errno == EINVAL) {
            SL_WARN("audit", "%s: no AIO fdatasync here: personal data and entries synced in a row",
                    p->pdir);
            p->have_aio = 0;
        }
        int done = r > 0 ? (int)r : 0;
        p->inflight = done;
        for (int k = done; k < n; k++)
            if (fdatasync((int)p->cbs[k].aio_fildes) < 0) {
                SL_ERROR("audit", "fdatasync of personal data: %s", strerror(errno));
                return -1;
            }
        return 0;
    }
    p->inflight = n;
    return 0;
}

int sl__audit_personal_sync_wait(struct sl__audit_personal *p)
{
    int rc = 0;
    while (p->inflight > 0) {
        struct io_event ev[NFILES];
        long r = syscall(SYS_io_getevents, p->aio, 1L, (long)p->inflight, ev, NULL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            SL_ERROR("audit", "io_getevents: %s", strerror(errno));
            p->inflight = 0;
            return -1;
        }
        for (long k = 0; k < r; k++)
            if (ev[k].res != 0) {
                SL_ERROR("audit", "fdatasync of %s/%.7s.data: %s", p->pdir,
                         p->files[ev[k].data % NFILES].period, strerror((int)-ev[k].res));
                rc = -1;
            }
        p->inflight -= (int)r;
    }
    return rc;
}

/* ---- repair and lookups --------------------------------------------------------------------- */

/* Periods with a data or sidecar file in pdir, sorted; *out malloc'd (8 bytes each). */
static int list_periods(const char *pdir, char (**out)[8])
{
    DIR *d = opendir(pdir);
    if (!d)
        return -1;
    int n = 0, cap = 8;
    char(*v)[8] = sl_xmalloc((size_t)cap * 8);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *s = de->d_name;
        size_t l = strlen(s);
        if (!((l == 12 && strcmp(s + 7, ".data") == 0) || (l == 13 && strcmp(s + 7, ".index") == 0)))
            continue;
        uint8_t h[16];
        memcpy(h, "SLPDATA1", 8);
        memcpy(h + 8, s, 7);
        h[15] = '\n';
        if (sl__audit_pdata_check_header(h, 16, NULL) < 0)
            continue;
        int dup = 0;
        for (int i = 0; i < n; i++)
            dup |= memcmp(v[i], s, 7) == 0;
        if (dup)
            continue;
        if (n == cap)
            v = sl_xrealloc(v, (size_t)(cap *= 2) * 8);
        memcpy(v[n], s, 7);
        v[n][7] = 0;
        n++;
    }
    closedir(d);
    qsort(v, (size_t)n, 8, (int (*)(const void *, const void *))strcmp);
    *out = v;
    return n;
}

struct rebuild {
    uint8_t *x;
    size_t len, cap;
};

static int add_x(const struct sl__audit_prec *r, uint64_t off, void *arg)
{
    struct rebuild *b = arg;
    uint8_t *x = grow(&b->x, &b->cap, b->len, 16);
    put64(x, r->index);
    put64(x + 8, off);
    b->len += 16;
    return 0;
}

/* Check one month's data file and sidecar (writer, at open): the sidecar cut to the records
 * that exist and checked at its last entry (else rebuilt by a full scan), extended over the
 * records after it, and an invalid tail of .data (a torn write: not durable) truncated.
 * 0 or -1 (err). */
static int repair_period(struct sl__audit_personal *p, const char *period, char *err, size_t errlen)
{
    char path[4300], xpath[4300];
    pfile_path(p->pdir, period, "data", path, sizeof path);
    pfile_path(p->pdir, period, "index", xpath, sizeof xpath);
    const uint8_t *img = NULL, *xm = NULL;
    size_t len = 0, xl = 0;
    if (sl__audit_map(path, &img, &len) < 0) {
        if (errno == ENOENT)
            return 0; /* shredded: only the sidecar is left */
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (len < SL_AUDIT_PDATA_HDR) {
        /* torn at creation: pfile_get writes the header again, and no record of it was
         * ever durable, so the sidecar's entries (if any) point at nothing */
        sl__audit_unmap(img, len);
        if (unlink(xpath) < 0 && errno != ENOENT)
            SL_WARN("audit", "%s: %s", xpath, strerror(errno));
        return 0;
    }
    if (sl__audit_pdata_check_header(img, len, period) < 0) {
        sl__audit_unmap(img, len);
        seterr(err, errlen, "%s: not a personal data file of %s", path, period);
        return -1;
    }
    if (sl__audit_map(xpath, &xm, &xl) < 0 && errno != ENOENT) {
        sl__audit_unmap(img, len);
        seterr(err, errlen, "%s: %s", xpath, strerror(errno));
        return -1;
    }
    /* the sidecar entries that point inside .data and end on the last good one */
    size_t keep = xl - xl % 16;
    uint64_t from = SL_AUDIT_PDATA_HDR, last = UINT64_MAX;
    while (keep >= 16 && be64(xm + keep - 8) >= len)
        keep -= 16;
    if (keep >= 16) {
        struct sl__audit_prec r;
        uint64_t o = be64(xm + keep - 8);
        if (sl__audit_pdata_record(img, len, o, &r) == 0 && r.index == be64(xm + keep - 16)) {
            from = o + r.total;
            last = r.index;
        } else {
            keep = 0; /* not to be trusted: rebuild */
        }
    }
    struct rebuild b = {NULL, 0, 0};
    if (keep) {
        memcpy(grow(&b.x, &b.cap, 0, keep), xm, keep);
        b.len = keep;
    }
    uint64_t tail = sl__audit_pdata_scan(img, len, from, last, add_x, &b);
    sl__audit_unmap(xm, xl);
    sl__audit_unmap(img, len);
    int rc = 0;
    if (tail < len) {
        SL_WARN("audit", "%s: removing %llu bytes at byte %llu that are not whole records (a torn write)",
                path, (unsigned long long)(len - tail), (unsigned long long)tail);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)tail) < 0 || fsync(fd) < 0) {
            seterr(err, errlen, "truncate %s: %s", path, strerror(errno));
            rc = -1;
        }
        if (fd >= 0)
            close(fd);
    }
    if (rc == 0 && b.len != xl) {
        /* rewrite the sidecar (not fsynced: it is checked again at every open) */
        char tmp[4400];
        snprintf(tmp, sizeof tmp, "%s.tmp", xpath);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        /* it must be right: trimming at open relies on it */
        if (fd < 0 || sl_write_all(fd, b.x, b.len) < 0 || close(fd) < 0 || rename(tmp, xpath) < 0) {
            seterr(err, errlen, "%s: %s", xpath, strerror(errno));
            unlink(tmp);
            rc = -1;
        }
    }
    free(b.x);
    return rc;
}

int sl__audit_personal_repair(struct sl__audit_personal *p, char *err, size_t errlen)
{
    char(*per)[8];
    int n = list_periods(p->pdir, &per);
    if (n < 0) {
        seterr(err, errlen, "%s: %s", p->pdir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = repair_period(p, per[i], err, errlen);
    free(per);
    return rc;
}

static int legacy_has(struct sl__audit_personal *p, uint64_t index)
{
    if (!p->db)
        return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(p->db, "SELECT 1 FROM personal WHERE idx = ?", -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
    int r = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return r;
}

int sl__audit_personal_has(struct sl__audit_personal *p, uint64_t index, int64_t time_us)
{
    char period[8];
    month_of(p, time_us, period);
    if (strcmp(p->xperiod, period) != 0) {
        char xpath[4300];
        unmap_x(p);
        pfile_path(p->pdir, period, "index", xpath, sizeof xpath);
        if (sl__audit_map(xpath, &p->xmap, &p->xlen) < 0)
            p->xmap = NULL, p->xlen = 0;
        memcpy(p->xperiod, period, 8);
    }
    uint64_t off;
    if (p->xmap && sl__audit_pindex_find(p->xmap, p->xlen, index, &off) >= 0)
        return 1;
    /* dropped on purpose (the month was shredded), or in a log from before the data files */
    return is_shredded(p, period) || legacy_has(p, index);
}

/* Remove from .data and .index every record of index >= n (entries that never became
 * durable).  Runs after repair, so the sidecar is complete. */
static int trim_period(struct sl__audit_personal *p, const char *period, uint64_t n)
{
    char path[4300], xpath[4300];
    pfile_path(p->pdir, period, "data", path, sizeof path);
    pfile_path(p->pdir, period, "index", xpath, sizeof xpath);
    const uint8_t *xm;
    size_t xl;
    if (sl__audit_map(xpath, &xm, &xl) < 0)
        return errno == ENOENT ? 0 : -1;
    size_t cnt = xl / 16, lo = 0, hi = cnt;
    while (lo < hi) { /* first entry with index >= n */
        size_t mid = lo + (hi - lo) / 2;
        if (be64(xm + mid * 16) < n)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint64_t cut = lo < cnt ? be64(xm + lo * 16 + 8) : 0;
    sl__audit_unmap(xm, xl);
    if (lo == cnt)
        return 0;
    SL_WARN("audit", "%s: removing the personal data of %zu entries that never became durable",
            path, cnt - lo);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int rc = fd >= 0 && ftruncate(fd, (off_t)cut) == 0 && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    if (rc == 0 && truncate(xpath, (off_t)(lo * 16)) < 0)
        unlink(xpath); /* rebuilt at the next open */
    return rc;
}

int sl__audit_personal_trim(struct sl__audit_personal *p, uint64_t n)
{
    unmap_x(p);
    char(*per)[8];
    int np = list_periods(p->pdir, &per);
    if (np < 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < np && rc == 0; i++)
        rc = trim_period(p, per[i], n);
    free(per);
    if (rc == 0 && p->db) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(p->db, "DELETE FROM personal WHERE idx >= ?", -1, &st, NULL) != SQLITE_OK)
            return -1;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(st);
    }
    return rc;
}

/* ---- the tools' side ------------------------------------------------------------------------ */

int sl_audit_personal_hash(const char *dir, const void *data, size_t len, uint8_t out[32],
                           char *err, size_t errlen)
{
    struct sl__audit_personal *p = sl__audit_personal_open(dir, 0, err, errlen);
    if (!p)
        return -1;
    sl__audit_personal_mac(p, data, len, out);
    sl__audit_personal_close(p);
    return 0;
}

static int decrypt(struct sl__audit_personal *p, uint64_t index, const char *per,
                   const uint8_t *nonce, const uint8_t *ct, int ctl, const uint8_t *tag,
                   uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
    uint8_t aad[64], tagc[16];
    size_t aadl;
    aad_for(index, per, aad, &aadl);
    memcpy(tagc, tag, 16);
    uint8_t *pt = sl_xmalloc((size_t)ctl + 1);
    int outl = 0, fl = 0;
    p->cctx_keyed = 0;
    if (EVP_DecryptInit_ex2(p->cctx, p->aes, p->key, nonce, NULL) != 1 ||
        EVP_DecryptUpdate(p->cctx, NULL, &outl, aad, (int)aadl) != 1 ||
        (ctl && ct && EVP_DecryptUpdate(p->cctx, pt, &outl, ct, ctl) != 1) ||
        EVP_CIPHER_CTX_ctrl(p->cctx, EVP_CTRL_GCM_SET_TAG, 16, tagc) != 1 ||
        EVP_DecryptFinal_ex(p->cctx, pt + outl, &fl) != 1) {
        OPENSSL_cleanse(pt, (size_t)ctl);
        free(pt);
        seterr(err, errlen, "entry %llu: personal data does not authenticate (wrong key or "
               "altered record)", (unsigned long long)index);
        return -1;
    }
    *out = pt;
    *outlen = (size_t)(outl + fl);
    return 0;
}

/* Key of per for reading: 0, 2 when shredded or gone, -1 on error (err). */
static int read_key_of(struct sl__audit_personal *p, const char *per, char *err, size_t errlen)
{
    int k = period_key(p, per, 0);
    if (k == 1 || (k < 0 && errno == ENOENT))
        return 2;
    if (k < 0) {
        seterr(err, errlen, "key of %s: %s", per, strerror(errno));
        return -1;
    }
    return 0;
}

static int legacy_read(struct sl__audit_personal *p, uint64_t index, uint8_t **out,
                       size_t *outlen, char *err, size_t errlen)
{
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(p->db, "SELECT period, nonce, ct, tag FROM personal WHERE idx = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        seterr(err, errlen, "personal.db: %s", sqlite3_errmsg(p->db));
        goto done;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
    int s = sqlite3_step(st);
    if (s == SQLITE_DONE) {
        rc = 1;
        goto done;
    }
    if (s != SQLITE_ROW) {
        seterr(err, errlen, "personal.db: %s", sqlite3_errmsg(p->db));
        goto done;
    }
    const char *period = (const char *)sqlite3_column_text(st, 0);
    if (!period || strlen(period) != 7) {
        seterr(err, errlen, "personal.db: bad period for entry %llu", (unsigned long long)index);
        goto done;
    }
    char per[8];
    memcpy(per, period, 8);
    if (sqlite3_column_type(st, 2) == SQLITE_NULL) {
        rc = 2; /* shredded */
        goto done;
    }
    rc = read_key_of(p, per, err, errlen);
    if (rc != 0)
        goto done;
    const uint8_t *nonce = sqlite3_column_blob(st, 1);
    const uint8_t *ct = sqlite3_column_blob(st, 2);
    const uint8_t *tag = sqlite3_column_blob(st, 3);
    int ctl = sqlite3_column_bytes(st, 2);
    if (!nonce || sqlite3_column_bytes(st, 1) != 12 || !tag || sqlite3_column_bytes(st, 3) != 16 ||
        ctl < 0) {
        seterr(err, errlen, "personal.db: damaged row %llu", (unsigned long long)index);
        rc = -1;
        goto done;
    }
    rc = decrypt(p, index, per, nonce, ct, ctl, tag, out, outlen, err, errlen);
done:
    sqlite3_finalize(st);
    return rc;
}

struct want {
    uint64_t index, off;
    int found;
};

static int want_rec(const struct sl__audit_prec *r, uint64_t off, void *arg)
{
    struct want *w = arg;
    if (r->index < w->index)
        return 0;
    w->found = r->index == w->index;
    w->off = off;
    return 1;
}

/* Find index in period's files.  Returns 1 and its record (img mapped, caller unmaps) if
 * .data has it, 2 if only the sidecar has it (the data was shredded), 0 if absent, -1. */
static int find_in_period(struct sl__audit_personal *p, const char *per, uint64_t index,
                          const uint8_t **img, size_t *len, struct sl__audit_prec *r, char *err,
                          size_t errlen)
{
    char path[4300], xpath[4300];
    pfile_path(p->pdir, per, "data", path, sizeof path);
    pfile_path(p->pdir, per, "index", xpath, sizeof xpath);
    const uint8_t *xm = NULL;
    size_t xl = 0;
    uint64_t off = 0, from = SL_AUDIT_PDATA_HDR, last = UINT64_MAX;
    int in_x = 0;
    if (sl__audit_map(xpath, &xm, &xl) == 0) {
        in_x = sl__audit_pindex_find(xm, xl - xl % 16, index, &off) >= 0;
        if (!in_x && xl >= 16) {
            size_t e = xl - xl % 16;
            last = be64(xm + e - 16);
            from = be64(xm + e - 8);
        }
        sl__audit_unmap(xm, xl);
    }
    if (sl__audit_map(path, img, len) < 0) {
        if (errno == ENOENT && in_x && !is_shredded(p, per)) {
            seterr(err, errlen, "%s is missing but %s was not shredded", path, per);
            return -1;
        }
        if (errno == ENOENT)
            return in_x ? 2 : 0;
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (sl__audit_pdata_check_header(*img, *len, per) < 0) {
        sl__audit_unmap(*img, *len);
        if (*len < SL_AUDIT_PDATA_HDR)
            return 0;
        seterr(err, errlen, "%s: not a personal data file of %s", path, per);
        return -1;
    }
    if (in_x && sl__audit_pdata_record(*img, *len, off, r) == 0 && r->index == index)
        return 1;
    /* The sidecar is trusted where it checks out: its last entry must point at a record
     * of that index.  Then an index below it that it lacks is not in this month, and one
     * above it is looked for from there (the appender writes the sidecar after the data,
     * or crashed in between).  Otherwise .data is scanned from its start. */
    struct sl__audit_prec lr;
    if (in_x || last == UINT64_MAX || sl__audit_pdata_record(*img, *len, from, &lr) != 0 ||
        lr.index != last) {
        from = SL_AUDIT_PDATA_HDR;
    } else if (index < last) {
        sl__audit_unmap(*img, *len);
        return 0;
    }
    struct want w = {index, 0, 0};
    sl__audit_pdata_scan(*img, *len, from, UINT64_MAX, want_rec, &w);
    if (w.found && sl__audit_pdata_record(*img, *len, w.off, r) == 0)
        return 1;
    sl__audit_unmap(*img, *len);
    return 0;
}

int sl_audit_personal_read(const char *dir, uint64_t index, uint8_t **out, size_t *outlen,
                           char *err, size_t errlen)
{
    struct sl__audit_personal *p = sl__audit_personal_open(dir, 0, err, errlen);
    if (!p)
        return -1;
    char(*per)[8] = NULL;
    int n = list_periods(p->pdir, &per), rc = 1;
    if (n < 0) {
        seterr(err, errlen, "%s: %s", p->pdir, strerror(errno));
        rc = -1;
        n = 0;
    }
    for (int i = n - 1; i >= 0; i--) { /* the newest month first: reads are mostly recent */
        const uint8_t *img;
        size_t len;
        struct sl__audit_prec r;
        int f = find_in_period(p, per[i], index, &img, &len, &r, err, errlen);
        if (f == 0)
            continue;
        if (f == 1) {
            rc = read_key_of(p, per[i], err, errlen);
            if (rc == 0)
                rc = decrypt(p, index, per[i], r.nonce, r.ct, (int)r.ctlen, r.tag, out, outlen,
                             err, errlen);
            sl__audit_unmap(img, len);
        } else {
            rc = f; /* 2: shredded, or -1 */
        }
        break;
    }
    free(per);
    if (rc == 1 && p->db)
        rc = legacy_read(p, index, out, outlen, err, errlen);
    sl__audit_personal_close(p);
    return rc;
}

int sl_audit_shred(const char *dir, const char *period, char *err, size_t errlen)
{
    if (strlen(period) != 7 || period[4] != '-' || period[0] < '0' || period[0] > '9' ||
        period[5] < '0' || period[5] > '1' || period[6] < '0' || period[6] > '9') {
        seterr(err, errlen, "period must be YYYY-MM, not '%s'", period);
        return -1;
    }
    char now[8];
    sl__audit_period(sl_wall_us(), now);
    if (strcmp(period, now) >= 0) {
        seterr(err, errlen, "period %s has not ended (it is %s): only past months are shredded",
               period, now);
        return -1;
    }
    struct sl__audit_personal *p = sl__audit_personal_open(dir, 0, err, errlen);
    if (!p)
        return -1;
    char kdir[4200], path[4300], tomb[4300];
    snprintf(kdir, sizeof kdir, "%s/keys", p->pdir);
    snprintf(path, sizeof path, "%s/%s.key", kdir, period);
    snprintf(tomb, sizeof tomb, "%s/%s.shredded", kdir, period);
    int rc = 0, had = 1;
    /* The tombstone first: from now on nothing re-creates this month's key. */
    int tfd = open(tomb, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (tfd < 0 || fsync(tfd) < 0) {
        seterr(err, errlen, "%s: %s", tomb, strerror(errno));
        if (tfd >= 0)
            close(tfd);
        sl__audit_personal_close(p);
        return -1;
    }
    close(tfd);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) {
            seterr(err, errlen, "%s: %s", path, strerror(errno));
            sl__audit_personal_close(p);
            return -1;
        }
        had = 0;
    } else {
        uint8_t zero[32] = {0};
        if (pwrite(fd, zero, 32, 0) != 32 || fsync(fd) < 0) {
            seterr(err, errlen, "overwrite %s: %s", path, strerror(errno));
            close(fd);
            sl__audit_personal_close(p);
            return -1;
        }
        close(fd);
        if (unlink(path) < 0) {
            seterr(err, errlen, "unlink %s: %s", path, strerror(errno));
            sl__audit_personal_close(p);
            return -1;
        }
    }
    if (sl_fsync_dir(kdir) < 0) {
        seterr(err, errlen, "fsync %s: %s", kdir, strerror(errno));
        rc = -1;
    }
    /* The ciphertext itself: the month's data file goes; its sidecar (indexes and offsets,
     * no personal data) stays, durable, so a read says "destroyed" rather than "none". */
    char dpath[4300], xpath[4300];
    pfile_path(p->pdir, period, "data", dpath, sizeof dpath);
    pfile_path(p->pdir, period, "index", xpath, sizeof xpath);
    if (rc == 0) {
        int xfd = open(xpath, O_RDONLY | O_CLOEXEC);
        if (xfd >= 0) {
            if (fsync(xfd) < 0)
                SL_WARN("audit", "fsync %s: %s", xpath, strerror(errno));
            close(xfd);
        }
        if (unlink(dpath) < 0 && errno != ENOENT) {
            seterr(err, errlen, "unlink %s: %s", dpath, strerror(errno));
            rc = -1;
        } else if (sl_fsync_dir(p->pdir) < 0) {
            seterr(err, errlen, "fsync %s: %s", p->pdir, strerror(errno));
            rc = -1;
        }
    }
    sqlite3_stmt *st;
    if (rc == 0 && p->db) {
        if (sqlite3_prepare_v2(p->db,
                               "UPDATE personal SET nonce = NULL, ct = NULL, tag = NULL "
                               "WHERE period = ?",
                               -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, period, 7, SQLITE_TRANSIENT);
            if (sqlite3_step(st) != SQLITE_DONE) {
                seterr(err, errlen, "personal.db: %s", sqlite3_errmsg(p->db));
                rc = -1;
            }
            sqlite3_finalize(st);
        } else {
            seterr(err, errlen, "personal.db: %s", sqlite3_errmsg(p->db));
            rc = -1;
        }
    }
    sl__audit_personal_close(p);
    if (rc == 0 && !had) {
        seterr(err, errlen, "period %s had no key (already shredded or never used)", period);
        return 1;
    }
    return rc;
}
