/*
 * personal.c - the personal part of audit entries, kept apart and encrypted, and
 * crypto-shredding (REQUIREMENTS A-3, P-19).
 *
 * Files (DIR/personal is 0700, every file 0600):
 *     hmac.key          32 random bytes: the per-log secret of the keyed hash that entries
 *                       carry (HMAC-SHA-256(secret, personal data)).  Kept for the life of
 *                       the log, so an authorised auditor holding a record can still find
 *                       and prove its entry after the period key is gone.
 *     keys/YYYY-MM.key  32 random bytes: the AES-256-GCM key of one UTC month.
 *     keys/YYYY-MM.shredded   tombstone: the month's key was destroyed; never re-created.
 *     personal.db       SQLite (WAL, synchronous=FULL), table
 *                           personal(idx INTEGER PRIMARY KEY, period TEXT, nonce BLOB,
 *                                    ct BLOB, tag BLOB)
 *                       ct = AES-256-GCM(key of period, nonce (12 random bytes), data,
 *                            aad = "stateline-audit-personal-v1" || u64 idx || period)
 *                       Binding the index and period in the AAD stops a row from being
 *                       moved to another entry.
 *
 * Shredding a month overwrites its key file with zeros, fsyncs it, unlinks it, fsyncs the
 * directory, writes the tombstone, and clears the month's ciphertext columns.  The audit
 * log itself is untouched: its leaves hold only the keyed hash, so it still verifies.
 * Note: on flash and on journaling or copy-on-write file systems an overwrite does not
 * reach the old blocks; the guarantee rests on the unlink plus whatever the device does
 * with discarded blocks (docs/audit-format.md §8 says what to do about it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "stateline/audit.h"
#include "stateline/core.h"
#include "audit/internal.h"

static const char AAD_TAG[] = "stateline-audit-personal-v1";

struct sl__audit_personal {
    char *pdir; /* DIR/personal */
    sqlite3 *db;
    sqlite3_stmt *ins;
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

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

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
    return fsync_dir(dir);
}

struct sl__audit_personal *sl__audit_personal_open(const char *dir, int create, char *err,
                                                   size_t errlen)
{
    struct sl__audit_personal *p = sl_xcalloc(1, sizeof *p);
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
    snprintf(path, sizeof path, "%s/personal.db", p->pdir);
    if (create) { /* SQLite would create it with the umask's mode; we want 0600 */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            seterr(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
        close(fd);
    }
    if (sqlite3_open_v2(path, &p->db, create ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READWRITE,
                        NULL) != SQLITE_OK) {
        seterr(err, errlen, "%s: %s", path, p->db ? sqlite3_errmsg(p->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(p->db, 5000);
    if (sqlite3_exec(p->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS personal(idx INTEGER PRIMARY KEY, period TEXT "
                     "NOT NULL, nonce BLOB, ct BLOB, tag BLOB);",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(p->db,
                           "INSERT INTO personal(idx, period, nonce, ct, tag) "
                           "VALUES (?,?,?,?,?)",
                           -1, &p->ins, NULL) != SQLITE_OK) {
        seterr(err, errlen, "%s: %s", path, sqlite3_errmsg(p->db));
        goto fail;
    }
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
    return p;
fail:
    sl__audit_personal_close(p);
    return NULL;
}

void sl__audit_personal_close(struct sl__audit_personal *p)
{
    if (!p)
        return;
    sqlite3_finalize(p->ins);
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

/* Load (or create) the key of period; 0, 1 if the period was shredded, -1 on error. */
static int period_key(struct sl__audit_personal *p, const char *period, int create)
{
    if (p->have_key && strcmp(p->period, period) == 0)
        return p->have_key < 0;
    char path[4300], kdir[4200];
    snprintf(kdir, sizeof kdir, "%s/keys", p->pdir);
    snprintf(path, sizeof path, "%s/%s.shredded", kdir, period);
    memcpy(p->period, period, 8);
    p->cctx_keyed = 0;
    if (access(path, F_OK) == 0) {
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

static uint64_t be64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
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

int sl__audit_personal_store(struct sl__audit_personal *p, const uint8_t *const *bufs,
                             const size_t *lens, int nbufs)
{
    if (sqlite3_exec(p->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        SL_ERROR("audit", "personal store: %s", sqlite3_errmsg(p->db));
        return -1;
    }
    uint8_t *ct = NULL;
    size_t ctcap = 0;
    for (int bi = 0; bi < nbufs; bi++) {
        const uint8_t *buf = bufs[bi];
        size_t len = lens[bi], o = 0;
        while (o + 20 <= len) {
            uint64_t idx = be64(buf + o);
            int64_t t = (int64_t)be64(buf + o + 8);
            uint32_t dl = (uint32_t)buf[o + 16] << 24 | (uint32_t)buf[o + 17] << 16 |
                          (uint32_t)buf[o + 18] << 8 | buf[o + 19];
            const uint8_t *data = buf + o + 20;
            o += 20 + dl;
            char period[8];
            month_of(p, t, period);
            int k = period_key(p, period, 1);
            if (k < 0)
                goto fail;
            if (k == 1) {
                SL_WARN("audit", "entry %llu: period %s was shredded; its personal data is not kept",
                        (unsigned long long)idx, period);
                continue;
            }
            uint8_t nonce[12], tag[16], aad[64];
            size_t aadl;
            int outl = 0, fl = 0;
            aad_for(idx, period, aad, &aadl);
            if (ctcap < dl + 16) {
                ctcap = dl + 16;
                ct = sl_xrealloc(ct, ctcap);
            }
            /* Expand the month's key once; per entry only the nonce changes. */
            if (!p->cctx_keyed) {
                if (EVP_EncryptInit_ex2(p->cctx, p->aes, p->key, NULL, NULL) != 1) {
                    SL_ERROR("audit", "AES-256-GCM key setup failed");
                    goto fail;
                }
                p->cctx_keyed = 1;
            }
            if (next_nonce(p, nonce) < 0 ||
                EVP_EncryptInit_ex2(p->cctx, NULL, NULL, nonce, NULL) != 1 ||
                EVP_EncryptUpdate(p->cctx, NULL, &outl, aad, (int)aadl) != 1 ||
                EVP_EncryptUpdate(p->cctx, ct, &outl, data, (int)dl) != 1 ||
                EVP_EncryptFinal_ex(p->cctx, ct + outl, &fl) != 1 ||
                EVP_CIPHER_CTX_ctrl(p->cctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1) {
                SL_ERROR("audit", "AES-256-GCM failed");
                goto fail;
            }
            sqlite3_reset(p->ins);
            sqlite3_bind_int64(p->ins, 1, (sqlite3_int64)idx);
            sqlite3_bind_text(p->ins, 2, period, 7, SQLITE_STATIC);
            sqlite3_bind_blob(p->ins, 3, nonce, 12, SQLITE_STATIC);
            sqlite3_bind_blob(p->ins, 4, ct, outl + fl, SQLITE_STATIC);
            sqlite3_bind_blob(p->ins, 5, tag, 16, SQLITE_STATIC);
            if (sqlite3_step(p->ins) != SQLITE_DONE) {
                SL_ERROR("audit", "personal store insert: %s", sqlite3_errmsg(p->db));
                goto fail;
            }
        }
    }
    free(ct);
    if (sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        SL_ERROR("audit", "personal store commit: %s", sqlite3_errmsg(p->db));
        sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
fail:
    free(ct);
    sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int sl__audit_personal_trim(struct sl__audit_personal *p, uint64_t n)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(p->db, "DELETE FROM personal WHERE idx >= ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

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

int sl_audit_personal_read(const char *dir, uint64_t index, uint8_t **out, size_t *outlen,
                           char *err, size_t errlen)
{
    struct sl__audit_personal *p = sl__audit_personal_open(dir, 0, err, errlen);
    if (!p)
        return -1;
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
    int k = period_key(p, per, 0);
    if (k == 1 || (k < 0 && errno == ENOENT)) {
        rc = 2;
        goto done;
    }
    if (k < 0) {
        seterr(err, errlen, "key of %s: %s", per, strerror(errno));
        goto done;
    }
    const uint8_t *nonce = sqlite3_column_blob(st, 1);
    const uint8_t *ct = sqlite3_column_blob(st, 2);
    const uint8_t *tag = sqlite3_column_blob(st, 3);
    int ctl = sqlite3_column_bytes(st, 2);
    if (!nonce || sqlite3_column_bytes(st, 1) != 12 || !tag || sqlite3_column_bytes(st, 3) != 16 ||
        ctl < 0) {
        seterr(err, errlen, "personal.db: damaged row %llu", (unsigned long long)index);
        goto done;
    }
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
               "altered row)", (unsigned long long)index);
        goto done;
    }
    *out = pt;
    *outlen = (size_t)(outl + fl);
    rc = 0;
done:
    sqlite3_finalize(st);
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
    if (fsync_dir(kdir) < 0) {
        seterr(err, errlen, "fsync %s: %s", kdir, strerror(errno));
        rc = -1;
    }
    sqlite3_stmt *st;
    if (rc == 0 && sqlite3_prepare_v2(p->db,
                                      "UPDATE personal SET nonce = NULL, ct = NULL, tag = NULL "
                                      "WHERE period = ?",
                                      -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, period, 7, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) {
            seterr(err, errlen, "personal.db: %s", sqlite3_errmsg(p->db));
            rc = -1;
        }
        sqlite3_finalize(st);
    } else if (rc == 0) {
        seterr(err, errlen, "personal.db: %s", sqlite3_errmsg(p->db));
        rc = -1;
    }
    sl__audit_personal_close(p);
    if (rc == 0 && !had) {
        seterr(err, errlen, "period %s had no key (already shredded or never used)", period);
        return 1;
    }
    return rc;
}
