/*
 * log.c - the appending audit log: a bounded queue filled by the event loop, a durability
 * thread doing group commit (one write + one fdatasync per batch), the RFC 6962 compact
 * range, signed checkpoints, and recovery of a torn tail at open.
 *
 * Queue: a ring of slots (batches), each up to 256 KiB of ready-made segment records.  The
 * producer (one thread, the loop) encodes the entry into its scratch buffer, then under the
 * mutex copies the record into the slot being filled.  A slot is sealed when it reaches
 * 256 KiB or when the durability thread takes it; the thread takes the oldest slot as soon
 * as it is idle, so a batch is "whatever arrived while the previous fdatasync ran" (the
 * PostgreSQL/Redis group commit).  batch_wait_us > 0 lets a small batch wait that long for
 * company (commit_delay); the default 0 is best for latency.  When every slot is taken the
 * producer waits for the thread (or gets -1/EAGAIN in nonblocking mode): memory stays
 * bounded at queue_bytes and back-pressure reaches the sender.
 *
 * A batch: the personal records encrypted and appended to their month's data file
 * (personal.c), the entries write(2)n to the current segment, then both synced at once:
 * the data file's fdatasync started through Linux AIO, the segment's fdatasync here, and
 * the AIO waited for; then the leaves hashed into the compact range, the durable count
 * published (atomic + eventfd), and, if a checkpoint is due (checkpoint_ms after the first
 * unsigned entry, or checkpoint_every entries), a snapshot of the tree (size, root, compact
 * range, segment position) queued for the checkpoint thread, which signs and writes it
 * (DIR/checkpoints + fdatasync, DIR/checkpoint and DIR/tree-state renamed) while the next
 * batches go on: the durability thread never waits for a checkpoint.  Snapshots are written
 * in order, one checkpoint each; at most CPQ_LEN wait, beyond that the newest is replaced
 * (docs/audit-format.md §5).  Locks: mu (slots, stats) and cpmu (the checkpoint queue)
 * are never held at the same time, so they have no order.  A crash between the two syncs can
 * leave an entry on disk without its personal record: it was never called durable, and
 * open removes it like a torn record (recover_rec).  A failed write or fdatasync is fatal for the log (as in
 * Redis and PostgreSQL): after an fsync error the kernel may have dropped the dirty pages,
 * so nothing later could be trusted to be durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "stateline/audit.h"
#include "stateline/core.h"
#include "audit/internal.h"
#include "stateline/buf.h"

#define BATCH_BYTES (256 * 1024)
#define SLOT_CAP (BATCH_BYTES + SL_AUDIT_REC_HDR + SL_AUDIT_MAX_ENTRY)

enum { SLOT_FREE, SLOT_FILLING, SLOT_QUEUED, SLOT_WRITING };

/* What a checkpoint needs, taken by the durability thread after the batch that made it due
 * (its entries are durable): the tree's size and root for the note, and the compact range
 * with the segment position of the tree's end for DIR/tree-state.  About 2.1 KiB. */
struct cp_snap {
    uint64_t size;
    uint8_t root[32];
    struct sl_audit_range range;
    uint32_t segno;
    uint64_t segsize;
};

/* Snapshots waiting for the checkpoint thread; when all are taken, the newest is replaced
 * (docs/audit-format.md §5 "The checkpoint thread"). */
#define CPQ_LEN 64

struct slot {
    uint8_t *buf;
    size_t len;
    uint64_t first; /* index of the first entry */
    uint32_t count;
    int state;
    uint8_t *pii; /* personal records: u64 index | i64 time | u32 len | data */
    size_t pii_len, pii_cap;
};

struct sl_audit_log {
    char *dir;
    int dirfd, lockfd, efd;
    struct sl_audit_opts o;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;  /* the thread waits here for work */
    pthread_cond_t freed; /* producers and sl_audit_wait wait here */
    struct slot *slots;
    int nslots, r, w; /* r: oldest slot for the thread; w: slot being filled */
    int thread_waiting, stop, failed;
    int corked;            /* sl_audit_cork: appends do not wake the thread */
    atomic_uint_fast64_t durable;

    /* producer side */
    uint64_t next;
    uint8_t *scratch;

    /* durability thread side */
    int segfd;
    uint32_t segno;
    uint64_t segsize;
    int cpfd;
    struct sl_audit_range range;
    struct sl_audit_hasher *hasher;
    uint64_t snap_size;    /* size of the last checkpoint snapshot taken (or on disk at open) */
    int64_t cp_pending_ms; /* when the first entry not in a snapshot became durable */

    /* checkpoint thread: signs and writes the snapshots the durability thread queues */
    pthread_t cpthread;
    int cpthread_started;
    pthread_mutex_t cpmu;
    pthread_cond_t cpwake;
    struct cp_snap *cpq; /* ring of CPQ_LEN snapshots, oldest at cpq_r */
    int cpq_r, cpq_n, cp_stop;
    struct sl_audit_signer signer; /* used by the checkpoint thread only (and open) */
    int have_cp;        /* a checkpoint exists (set at open) */

    struct sl__audit_personal *personal;
    struct sl_audit_stats stats;
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

static void write_state(const struct sl_audit_log *log, const struct cp_snap *sn);

/* ---- checkpoints --------------------------------------------------------------------- */

/* Sign and write the checkpoint of snapshot sn: appended (then fdatasync) to
 * DIR/checkpoints, written alone to DIR/checkpoint (tmp + rename), then DIR/tree-state.
 * Runs on the checkpoint thread (or at open, before the threads start): it touches only
 * the signer and cpfd, which nothing else uses while the threads run. */
static int write_checkpoint(struct sl_audit_log *log, const struct cp_snap *sn)
{
    char note[1024];
    int n = sl_audit_checkpoint_sign(&log->signer, sn->size, sn->root, note, sizeof note - 1);
    if (n < 0)
        return -1;
    note[n] = '\n'; /* the blank line that separates notes in the history */
    if (sl_write_all(log->cpfd, (const uint8_t *)note, (size_t)n + 1) < 0 || fdatasync(log->cpfd) < 0) {
        SL_ERROR("audit", "%s/checkpoints: %s", log->dir, strerror(errno));
        return -1;
    }
    /* The latest checkpoint alone, replaced atomically, for serving. */
    char tmp[4096], dst[4096];
    snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", log->dir);
    snprintf(dst, sizeof dst, "%s/checkpoint", log->dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || sl_write_all(fd, (const uint8_t *)note, (size_t)n) < 0 || close(fd) < 0 ||
        rename(tmp, dst) < 0) {
        SL_ERROR("audit", "%s: %s", dst, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    write_state(log, sn);
    pthread_mutex_lock(&log->mu);
    log->stats.checkpoints++;
    pthread_mutex_unlock(&log->mu);
    return 0;
}

/* The snapshot of the tree as it is now (durability thread, or open). */
static void take_snapshot(struct sl_audit_log *log, struct cp_snap *sn)
{
    sn->size = log->range.size;
    sl_audit_range_root(&log->range, log->hasher, sn->root);
    sn->range = log->range;
    sn->segno = log->segno;
    sn->segsize = log->segsize;
}

/* Durability thread: queue a checkpoint of the tree as it is now; never waits for the
 * checkpoint thread.  Snapshots are taken with growing sizes, and the checkpoint thread
 * writes them in queue order, so checkpoints never go backwards.  When CPQ_LEN are already
 * waiting (the disk is far behind), the newest waiting one is replaced: it covered fewer
 * entries, and signing the newest state sooner is what a backlog needs. */
static void queue_checkpoint(struct sl_audit_log *log)
{
    pthread_mutex_lock(&log->cpmu);
    int i, coalesced = log->cpq_n == CPQ_LEN;
    if (!coalesced)
        i = (log->cpq_r + log->cpq_n++) % CPQ_LEN;
    else
        i = (log->cpq_r + CPQ_LEN - 1) % CPQ_LEN;
    take_snapshot(log, &log->cpq[i]);
    pthread_cond_signal(&log->cpwake);
    pthread_mutex_unlock(&log->cpmu);
    if (coalesced) {
        pthread_mutex_lock(&log->mu);
        log->stats.checkpoints_coalesced++;
        pthread_mutex_unlock(&log->mu);
    }
    log->snap_size = log->range.size;
    log->cp_pending_ms = 0;
}

/* The checkpoint thread: writes the queued snapshots in order.  A failed write is retried
 * every checkpoint_ms until it succeeds or a newer snapshot (which covers more) is queued.
 * At stop it writes what is queued (the final checkpoint among it), then returns. */
static void *checkpoint_thread(void *arg)
{
    struct sl_audit_log *log = arg;
    sl_thread_name("sl-audit-ckpt");
    struct cp_snap *sn = sl_xmalloc(sizeof *sn);
    pthread_mutex_lock(&log->cpmu);
    for (;;) {
        while (!log->cpq_n && !log->cp_stop)
            pthread_cond_wait(&log->cpwake, &log->cpmu);
        if (!log->cpq_n)
            break;
        *sn = log->cpq[log->cpq_r];
        int stopping = log->cp_stop;
        pthread_mutex_unlock(&log->cpmu);
        int rc = write_checkpoint(log, sn);
        pthread_mutex_lock(&log->cpmu);
        if (rc == 0 || log->cpq_n > 1 || stopping) {
            if (rc < 0)
                SL_ERROR("audit", "checkpoint of size %llu failed; %s",
                         (unsigned long long)sn->size,
                         stopping && log->cpq_n == 1 ? "the log closes without it"
                                                     : "the next one covers its entries");
            log->cpq_r = (log->cpq_r + 1) % CPQ_LEN;
            log->cpq_n--;
            continue;
        }
        SL_ERROR("audit", "checkpoint of size %llu failed; retrying in %lld ms",
                 (unsigned long long)sn->size, (long long)log->o.checkpoint_ms);
        struct timespec ts;
        sl_deadline_after_ms(&ts, log->o.checkpoint_ms);
        while (log->cpq_n == 1 && !log->cp_stop)
            if (pthread_cond_timedwait(&log->cpwake, &log->cpmu, &ts) != 0)
                break;
    }
    pthread_mutex_unlock(&log->cpmu);
    free(sn);
    return NULL;
}

/* ---- the tree state, so that open need not rescan the whole log ----------------------- */

/* DIR/tree-state, replaced (tmp + rename) after each checkpoint:
 *     "SLTREE01" | u64 size | u32 segment | u64 offset (end of entry size-1 in it) |
 *     u32 n | n x 32-byte compact-range hashes | u32 CRC32C of everything before
 * Not fsynced: if it is lost or stale, open falls back to a full scan.  It is used only when
 * its size is the last checkpoint's and its root is that checkpoint's root, so a bad state
 * file can cost time, never correctness. */
#define STATE_MAGIC "SLTREE01"

static void write_state(const struct sl_audit_log *log, const struct cp_snap *sn)
{
    uint8_t buf[8 + 8 + 4 + 8 + 4 + 64 * 32 + 4];
    size_t n = 0;
    memcpy(buf, STATE_MAGIC, 8);
    n = 8;
    put64(buf + n, sn->range.size);
    put32(buf + n + 8, sn->segno);
    put64(buf + n + 12, sn->segsize);
    put32(buf + n + 20, (uint32_t)sn->range.n);
    n += 24;
    memcpy(buf + n, sn->range.h, (size_t)sn->range.n * 32);
    n += (size_t)sn->range.n * 32;
    put32(buf + n, sl_audit_crc32c(0, buf, n));
    n += 4;
    char tmp[4096], dst[4096];
    snprintf(tmp, sizeof tmp, "%s/tree-state.tmp", log->dir);
    snprintf(dst, sizeof dst, "%s/tree-state", log->dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || sl_write_all(fd, buf, n) < 0 || close(fd) < 0 || rename(tmp, dst) < 0) {
        SL_WARN("audit", "%s: %s (the next open will scan the whole log)", dst, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
}

static uint32_t be32p(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Load DIR/tree-state into r; 0 if valid, -1 if missing or damaged. */
static int read_state(const char *dir, struct sl_audit_range *r, uint32_t *segno, uint64_t *off)
{
    char path[4096], *b;
    size_t len;
    snprintf(path, sizeof path, "%s/tree-state", dir);
    if (sl__audit_slurp(path, &b, &len) < 0)
        return -1;
    const uint8_t *u = (const uint8_t *)b;
    int ok = len >= 36 && memcmp(u, STATE_MAGIC, 8) == 0;
    uint32_t n = ok ? be32p(u + 28) : 0;
    ok = ok && n <= 64 && len == 36 + (size_t)n * 32 &&
         sl_audit_crc32c(0, u, len - 4) == be32p(u + len - 4);
    if (ok) {
        r->size = (uint64_t)be32p(u + 8) << 32 | be32p(u + 12);
        *segno = be32p(u + 16);
        *off = (uint64_t)be32p(u + 20) << 32 | be32p(u + 24);
        r->n = (int)n;
        memcpy(r->h, u + 32, (size_t)n * 32);
        /* the range's shape must be that of its size */
        ok = __builtin_popcountll(r->size) == (int)n;
    }
    free(b);
    return ok ? 0 : -1;
}

static int checkpoint_due(const struct sl_audit_log *log, int64_t now_ms)
{
    if (log->range.size == log->snap_size)
        return 0;
    if (log->o.checkpoint_every && log->range.size - log->snap_size >= log->o.checkpoint_every)
        return 1;
    return now_ms - log->cp_pending_ms >= log->o.checkpoint_ms;
}

/* ---- the durability thread ------------------------------------------------------------- */

static int open_segment(struct sl_audit_log *log, uint32_t num)
{
    char path[4096];
    sl__audit_seg_path(log->dir, num, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        SL_ERROR("audit", "%s: %s", path, strerror(errno));
        return -1;
    }
    /* The new name must be durable before anything in it is called durable. */
    if (fsync(log->dirfd) < 0) {
        SL_ERROR("audit", "fsync %s: %s", log->dir, strerror(errno));
        close(fd);
        return -1;
    }
    struct stat st;
    fstat(fd, &st);
    if (log->segfd >= 0)
        close(log->segfd);
    log->segfd = fd;
    log->segno = num;
    log->segsize = (uint64_t)st.st_size;
    return 0;
}

/* Write slots first..first+n-1 (ring order) as one batch: personal records appended to
 * their data file, the entries with write(2), the two files synced together (one sync's
 * wait), then the leaves into the range. */
static int write_batch(struct sl_audit_log *log, int first, int n)
{
    if (log->segsize >= log->o.segment_bytes && open_segment(log, log->segno + 1) < 0)
        return -1;
    /* Personal data first: if we crash after it, the records of entries that never became
     * durable are trimmed at the next open. */
    const uint8_t *pv[64];
    size_t pl[64];
    int np = 0;
    for (int k = 0; k < n; k++) {
        struct slot *s = &log->slots[(first + k) % log->nslots];
        if (s->pii_len) {
            pv[np] = s->pii;
            pl[np++] = s->pii_len;
        }
    }
    if (np && sl__audit_personal_write(log->personal, pv, pl, np) < 0)
        return -1;
    for (int k = 0; k < n; k++) {
        struct slot *s = &log->slots[(first + k) % log->nslots];
        if (sl_write_all(log->segfd, s->buf, s->len) < 0) {
            SL_ERROR("audit", "write to segment %u: %s", log->segno, strerror(errno));
            return -1;
        }
        log->segsize += s->len;
    }
    if (np && sl__audit_personal_sync_start(log->personal) < 0)
        return -1;
    int segsync = fdatasync(log->segfd);
    if (segsync < 0)
        SL_ERROR("audit", "fdatasync of segment %u: %s", log->segno, strerror(errno));
    if ((np && sl__audit_personal_sync_wait(log->personal) < 0) || segsync < 0)
        return -1;
    /* Integrate the leaves. */
    for (int k = 0; k < n; k++) {
        struct slot *s = &log->slots[(first + k) % log->nslots];
        size_t o = 0;
        while (o < s->len) {
            uint32_t el = (uint32_t)s->buf[o] << 24 | (uint32_t)s->buf[o + 1] << 16 |
                          (uint32_t)s->buf[o + 2] << 8 | s->buf[o + 3];
            uint8_t leaf[32];
            sl_audit_leaf_hash(log->hasher, s->buf + o + SL_AUDIT_REC_HDR, el, leaf);
            sl_audit_range_append(&log->range, log->hasher, leaf);
            o += SL_AUDIT_REC_HDR + el;
        }
    }
    return 0;
}

static int slot_has_work(const struct sl_audit_log *log)
{
    const struct slot *s = &log->slots[log->r];
    return s->state == SLOT_QUEUED || (s->state == SLOT_FILLING && s->len > 0);
}

static void *durability_thread(void *arg)
{
    struct sl_audit_log *log = arg;
    sl_thread_name("sl-audit-sync");
    pthread_mutex_lock(&log->mu);
    for (;;) {
        while (!slot_has_work(log) && !log->stop) {
            /* Wake for a due checkpoint even when no entries come. */
            if (log->range.size > log->snap_size && !log->failed) {
                int64_t wait = log->cp_pending_ms + log->o.checkpoint_ms - sl_now_ms();
                if (wait <= 0) {
                    /* queue_checkpoint takes cpmu then mu: not under mu */
                    pthread_mutex_unlock(&log->mu);
                    queue_checkpoint(log);
                    pthread_mutex_lock(&log->mu);
                    continue;
                }
                struct timespec ts;
                sl_deadline_after_ms(&ts, wait);
                log->thread_waiting = 1;
                pthread_cond_timedwait(&log->wake, &log->mu, &ts);
                log->thread_waiting = 0;
            } else {
                log->thread_waiting = 1;
                pthread_cond_wait(&log->wake, &log->mu);
                log->thread_waiting = 0;
            }
        }
        if (!slot_has_work(log) && log->stop)
            break;
        struct slot *s = &log->slots[log->r];
        if (s->state == SLOT_FILLING && log->o.batch_wait_us > 0 && s->len < BATCH_BYTES &&
            !log->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += log->o.batch_wait_us * 1000;
            ts.tv_sec += ts.tv_nsec / 1000000000;
            ts.tv_nsec %= 1000000000;
            log->thread_waiting = 1;
            pthread_cond_timedwait(&log->wake, &log->mu, &ts);
            log->thread_waiting = 0;
        }
        /* Take every sealed slot and the one being filled: the whole queue is one batch
         * (each slot closed at 256 KiB), so a slow fdatasync makes batches larger rather
         * than the queue longer. */
        int first = log->r, n = 0;
        uint64_t upto = 0, entries = 0, bytes = 0;
        for (;;) {
            struct slot *t = &log->slots[(first + n) % log->nslots];
            if (t->state == SLOT_QUEUED) {
                t->state = SLOT_WRITING;
            } else if (t->state == SLOT_FILLING && t->len > 0 &&
                       log->slots[(first + n + 1) % log->nslots].state == SLOT_FREE) {
                /* Seal the slot being filled; the producer moves on to the next (free)
                 * one.  When every other slot is in this batch, it stays for the next. */
                int next = (first + n + 1) % log->nslots;
                log->w = next;
                log->slots[next].state = SLOT_FILLING;
                log->slots[next].len = 0;
                log->slots[next].count = 0;
                log->slots[next].pii_len = 0;
                log->slots[next].first = t->first + t->count;
                t->state = SLOT_WRITING;
            } else {
                break;
            }
            upto = t->first + t->count;
            entries += t->count;
            bytes += t->len;
            n++;
            if (n == log->nslots || n == 64)
                break;
        }
        int failed = log->failed;
        pthread_mutex_unlock(&log->mu);

        int rc = failed ? -1 : write_batch(log, first, n);
        int64_t now = sl_now_ms();
        if (rc == 0 && log->cp_pending_ms == 0 && log->range.size > log->snap_size)
            log->cp_pending_ms = now;

        pthread_mutex_lock(&log->mu);
        if (rc == 0) {
            log->stats.batches++;
            log->stats.bytes += bytes;
            log->stats.entries += entries;
            atomic_store_explicit(&log->durable, upto, memory_order_release);
        } else if (!log->failed) {
            log->failed = 1;
            SL_ERROR("audit", "the audit log has failed: no entry after %llu is durable",
                     (unsigned long long)atomic_load(&log->durable));
        }
        for (int k = 0; k < n; k++) {
            struct slot *t = &log->slots[(first + k) % log->nslots];
            t->state = SLOT_FREE;
            t->len = 0;
            t->count = 0;
            t->pii_len = 0;
        }
        log->r = (first + n) % log->nslots;
        pthread_cond_broadcast(&log->freed);
        pthread_mutex_unlock(&log->mu);

        uint64_t one = 1;
        if (write(log->efd, &one, sizeof one) < 0 && errno != EAGAIN)
            SL_ERROR("audit", "eventfd: %s", strerror(errno));
        if (rc == 0 && checkpoint_due(log, now))
            queue_checkpoint(log);
        pthread_mutex_lock(&log->mu);
    }
    pthread_mutex_unlock(&log->mu);
    /* The final checkpoint; sl_audit_close then lets the checkpoint thread drain and joins it. */
    if (!log->failed && log->range.size > log->snap_size)
        queue_checkpoint(log);
    return NULL;
}

/* ---- recovery at open ------------------------------------------------------------------- */

struct recover {
    struct sl_audit_log *log;
    uint64_t pcheck_from; /* entries from here on must have their personal record */
    uint64_t index;
    uint64_t base; /* offset in the segment where the scan started */
    uint64_t bad_off; /* first bad record (checksum or sequence) */
    int bad;
    const char *what;
    const struct sl_audit_checkpoint *cp; /* the last checkpoint, to check on the way */
    int cp_checked;
};

/* Whether an entry carries a personal hash (tag 23): a walk over its fields. */
static int has_personal(const uint8_t *e, size_t len)
{
    size_t o = SL_AUDIT_ENTRY_MIN;
    while (o + 3 <= len) {
        if (e[o] == SL_AF_PERSONAL_HASH)
            return 1;
        if (e[o] > SL_AF_PERSONAL_HASH)
            return 0;
        o += 3 + ((size_t)e[o + 1] << 8 | e[o + 2]);
    }
    return 0;
}

#define PERSONAL_MISSING "personal data missing"

static int recover_rec(uint64_t off, const uint8_t *e, size_t len, int crc_ok, void *arg)
{
    struct recover *rc = arg;
    if (!crc_ok || sl__audit_entry_seq(e) != rc->index) {
        rc->bad = 1;
        rc->bad_off = rc->base + off;
        rc->what = crc_ok ? "wrong sequence number" : "checksum mismatch";
        return 1;
    }
    /* An entry no checkpoint covers may come from the last batch before a crash, whose
     * segment reached the disk and whose personal records did not (the two syncs run
     * together): it was never durable, and goes like a torn record.  A checkpoint is
     * signed only after both syncs, so older entries need no look-up. */
    if (rc->index >= rc->pcheck_from && has_personal(e, len) &&
        !sl__audit_personal_has(rc->log->personal, rc->index, sl__audit_entry_time(e))) {
        rc->bad = 1;
        rc->bad_off = rc->base + off;
        rc->what = PERSONAL_MISSING;
        return 1;
    }
    uint8_t leaf[32];
    sl_audit_leaf_hash(rc->log->hasher, e, len, leaf);
    sl_audit_range_append(&rc->log->range, rc->log->hasher, leaf);
    rc->index++;
    if (rc->cp && rc->cp->size == rc->index) {
        uint8_t root[32];
        sl_audit_range_root(&rc->log->range, rc->log->hasher, root);
        rc->cp_checked = memcmp(root, rc->cp->root, 32) == 0 ? 1 : -1;
    }
    return 0;
}

struct last_note {
    const char *note;
    size_t len;
};

static int keep_last(const char *note, size_t len, void *arg)
{
    struct last_note *l = arg;
    l->note = note;
    l->len = len;
    return 0;
}

/* Load DIR/checkpoints, truncating a torn last note; parse the last one into cp.
 * Returns 1 if there is one, 0 if none, -1 on error. */
static int load_last_checkpoint(struct sl_audit_log *log, struct sl_audit_checkpoint *cp,
                                char *err, size_t errlen)
{
    char path[4096], *text = NULL;
    size_t len = 0, bad = 0;
    snprintf(path, sizeof path, "%s/checkpoints", log->dir);
    if (sl__audit_slurp(path, &text, &len) < 0) {
        if (errno == ENOENT)
            return 0;
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct last_note last = {NULL, 0};
    char e2[200];
    int n = sl_audit_checkpoints_split(text, len, keep_last, &last, &bad, e2, sizeof e2);
    if (n < 0) {
        /* Only an incomplete last note is a torn write; anything else is damage. */
        struct last_note probe = {NULL, 0};
        size_t bad2;
        char e3[200];
        if (len - bad < 4096 &&
            sl_audit_checkpoints_split(text + bad, len - bad, keep_last, &probe, &bad2, e3,
                                       sizeof e3) < 0 && bad2 == 0 && probe.note == NULL) {
            SL_WARN("audit", "%s: removing a torn last checkpoint (%zu bytes at %zu)", path,
                    len - bad, bad);
            if (truncate(path, (off_t)bad) < 0) {
                seterr(err, errlen, "truncate %s: %s", path, strerror(errno));
                free(text);
                return -1;
            }
        } else {
            seterr(err, errlen, "%s: %s", path, e2);
            free(text);
            return -1;
        }
    }
    int have = 0;
    if (last.note) {
        if (sl_audit_checkpoint_parse(last.note, last.len, cp, e2, sizeof e2) < 0) {
            seterr(err, errlen, "%s: last checkpoint: %s", path, e2);
            free(text);
            return -1;
        }
        have = 1;
    }
    free(text);
    return have;
}

static int recover(struct sl_audit_log *log, uint64_t *truncated, int *missing, char *err,
                   size_t errlen)
{
    uint32_t *nums = NULL;
    int nseg = sl__audit_list_segments(log->dir, &nums);
    if (nseg < 0) {
        seterr(err, errlen, "%s: %s", log->dir, strerror(errno));
        return -1;
    }
    struct sl_audit_checkpoint cp;
    int have_cp = load_last_checkpoint(log, &cp, err, errlen);
    if (have_cp < 0) {
        free(nums);
        return -1;
    }
    if (have_cp && strcmp(cp.origin, log->signer.name) != 0) {
        seterr(err, errlen, "the log's checkpoints are for origin '%s', the key is for '%s'",
               cp.origin, log->signer.name);
        free(nums);
        return -1;
    }
    struct recover rc = {log, have_cp ? cp.size : 0, 0, 0, 0, 0, NULL, have_cp ? &cp : NULL,
                         have_cp && cp.size == 0};
    *missing = 0;
    *truncated = 0;
    for (int i = 0; i < nseg; i++)
        if (nums[i] != (uint32_t)i + 1) {
            seterr(err, errlen, "segment %u is missing", (unsigned)i + 1);
            free(nums);
            return -1;
        }
    /* Start from the saved tree state when it matches the last checkpoint. */
    int first = 0;
    uint64_t start_off = 0;
    {
        uint32_t sseg;
        uint64_t soff;
        struct sl_audit_range sr;
        uint8_t root[32];
        char path[4096];
        struct stat st;
        if (!log->o.scan_all && have_cp && cp.size > 0 && read_state(log->dir, &sr, &sseg, &soff) == 0 &&
            sr.size == cp.size && sseg >= 1 && (int)sseg <= nseg) {
            sl_audit_range_root(&sr, log->hasher, root);
            sl__audit_seg_path(log->dir, sseg, path, sizeof path);
            if (memcmp(root, cp.root, 32) == 0 && stat(path, &st) == 0 &&
                (uint64_t)st.st_size >= soff) {
                log->range = sr;
                rc.index = sr.size;
                rc.cp_checked = 1;
                first = (int)sseg - 1;
                start_off = soff;
                SL_DEBUG("audit", "%s: tree state at %llu entries; scanning from segment %u byte %llu",
                         log->dir, (unsigned long long)sr.size, sseg, (unsigned long long)soff);
            }
        }
    }
    for (int i = first; i < nseg; i++) {
        char path[4096];
        sl__audit_seg_path(log->dir, nums[i], path, sizeof path);
        const uint8_t *img;
        size_t len;
        if (sl__audit_map(path, &img, &len) < 0) {
            seterr(err, errlen, "%s: %s", path, strerror(errno));
            free(nums);
            return -1;
        }
        uint64_t tail = 0;
        rc.bad = 0;
        rc.base = i == first ? start_off : 0;
        int r = sl__audit_scan(img ? img + rc.base : img, len - rc.base, recover_rec, &rc, &tail);
        tail += rc.base;
        sl__audit_unmap(img, len);
        int last = i == nseg - 1;
        if (r == 1 && rc.bad) {
            /* A bad record is a torn write only if it is the very last thing in the log. */
            tail = rc.bad_off;
            uint64_t reclen = 0;
            if (sl__audit_map(path, &img, &len) == 0) {
                reclen = SL_AUDIT_REC_HDR + ((uint64_t)img[tail] << 24 | (uint64_t)img[tail + 1] << 16 |
                                             (uint64_t)img[tail + 2] << 8 | img[tail + 3]);
                sl__audit_unmap(img, len);
            }
            if (last && strcmp(rc.what, PERSONAL_MISSING) == 0) {
                *missing = 1; /* cut here: this entry and any after it */
            } else if (!last || tail + reclen != len || strcmp(rc.what, "checksum mismatch") != 0) {
                seterr(err, errlen,
                       "%s: entry %llu at byte %llu: %s; the log is damaged, run "
                       "`stateline audit verify %s`",
                       path, (unsigned long long)rc.index, (unsigned long long)tail, rc.what,
                       log->dir);
                free(nums);
                return -1;
            }
        } else if (r == 1 && !last) {
            seterr(err, errlen, "%s: broken record at byte %llu (not the last segment)", path,
                   (unsigned long long)tail);
            free(nums);
            return -1;
        }
        if (r == 1) {
            if (*missing)
                SL_WARN("audit", "%s: removing entries %llu.. (%llu bytes at byte %llu): their "
                        "personal data did not reach the disk before a crash",
                        path, (unsigned long long)rc.index, (unsigned long long)(len - tail),
                        (unsigned long long)tail);
            else
                SL_WARN("audit", "%s: removing a torn last record (%llu bytes at byte %llu)", path,
                        (unsigned long long)(len - tail), (unsigned long long)tail);
            int fd = open(path, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || ftruncate(fd, (off_t)tail) < 0 || fsync(fd) < 0) {
                seterr(err, errlen, "truncate %s: %s", path, strerror(errno));
                if (fd >= 0)
                    close(fd);
                free(nums);
                return -1;
            }
            close(fd);
            *truncated = len - tail;
        }
    }
    if (have_cp) {
        if (cp.size > rc.index) {
            seterr(err, errlen,
                   "the log has %llu entries but its last checkpoint covers %llu: entries "
                   "were lost or removed; run `stateline audit verify %s`",
                   (unsigned long long)rc.index, (unsigned long long)cp.size, log->dir);
            free(nums);
            return -1;
        }
        if (cp.size == 0) {
            uint8_t empty[32];
            sl_audit_sha256(log->hasher, "", 0, empty);
            rc.cp_checked = memcmp(empty, cp.root, 32) == 0 ? 1 : -1;
        }
        if (rc.cp_checked != 1) {
            seterr(err, errlen,
                   "the entries do not match the last checkpoint (size %llu): the log was "
                   "altered; run `stateline audit verify %s`",
                   (unsigned long long)cp.size, log->dir);
            free(nums);
            return -1;
        }
        log->snap_size = cp.size;
        log->have_cp = 1;
    }
    log->next = rc.index;
    atomic_store(&log->durable, rc.index);
    log->segno = nseg ? nums[nseg - 1] : 0;
    free(nums);
    return 0;
}

/* Let the checkpoint thread write what is queued, and join it. */
static void stop_checkpoint_thread(struct sl_audit_log *log)
{
    if (!log->cpthread_started)
        return;
    pthread_mutex_lock(&log->cpmu);
    log->cp_stop = 1;
    pthread_cond_signal(&log->cpwake);
    pthread_mutex_unlock(&log->cpmu);
    pthread_join(log->cpthread, NULL);
    log->cpthread_started = 0;
}

/* ---- open / append / close -------------------------------------------------------------- */

static int read_key_file(const char *path, struct sl_audit_signer *s, char *err, size_t errlen)
{
    char *text;
    size_t len;
    if (sl__audit_slurp(path, &text, &len) < 0) {
        seterr(err, errlen, "signer key %s: %s", path, strerror(errno));
        return -1;
    }
    char e2[200];
    int r = sl_audit_signer_parse(s, text, e2, sizeof e2);
    OPENSSL_cleanse(text, len);
    free(text);
    if (r < 0)
        seterr(err, errlen, "%s: %s", path, e2);
    return r;
}

int sl_audit_open(struct sl_audit_log **out, const struct sl_audit_opts *o, char *err,
                  size_t errlen)
{
    *out = NULL;
    if (!o->dir || !o->signer_key) {
        seterr(err, errlen, "audit log: dir and signer_key are required");
        return -1;
    }
    struct sl_audit_log *log = sl_xcalloc(1, sizeof *log);
    log->o = *o;
    if (!log->o.segment_bytes)
        log->o.segment_bytes = 64ull << 20;
    if (!log->o.queue_bytes)
        log->o.queue_bytes = 4u << 20;
    if (log->o.checkpoint_ms <= 0)
        log->o.checkpoint_ms = 1000;
    log->dir = sl_xstrdup(o->dir);
    log->dirfd = log->lockfd = log->efd = log->segfd = log->cpfd = -1;
    log->hasher = sl_audit_hasher_new();
    sl_audit_range_init(&log->range);
    pthread_mutex_init(&log->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&log->wake, &ca);
    pthread_cond_init(&log->freed, &ca);
    pthread_cond_init(&log->cpwake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&log->cpmu, NULL);
    char path[4096];
    uint64_t truncated = 0;
    int missing = 0;

    if (read_key_file(o->signer_key, &log->signer, err, errlen) < 0)
        goto fail;
    if (mkdir(log->dir, 0755) < 0 && errno != EEXIST) {
        seterr(err, errlen, "mkdir %s: %s", log->dir, strerror(errno));
        goto fail;
    }
    log->dirfd = open(log->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    snprintf(path, sizeof path, "%s/lock", log->dir);
    log->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (log->dirfd < 0 || log->lockfd < 0) {
        seterr(err, errlen, "%s: %s", log->dir, strerror(errno));
        goto fail;
    }
    if (flock(log->lockfd, LOCK_EX | LOCK_NB) < 0) {
        seterr(err, errlen, "%s is in use by another process", log->dir);
        goto fail;
    }
    log->personal = sl__audit_personal_open(log->dir, 1, err, errlen);
    if (!log->personal)
        goto fail;
    if (sl__audit_personal_repair(log->personal, err, errlen) < 0 ||
        recover(log, &truncated, &missing, err, errlen) < 0)
        goto fail;
    if (sl__audit_personal_trim(log->personal, log->next) < 0) {
        seterr(err, errlen, "%s/personal: cannot trim records beyond the log", log->dir);
        goto fail;
    }
    if (open_segment(log, log->segno ? log->segno : 1) < 0) {
        seterr(err, errlen, "cannot open the current segment of %s", log->dir);
        goto fail;
    }
    snprintf(path, sizeof path, "%s/checkpoints", log->dir);
    log->cpfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    log->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (log->cpfd < 0 || log->efd < 0) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    /* A new, empty log gets its checkpoint of size 0 at once, so that it verifies. */
    if (!log->have_cp && log->next == 0) {
        struct cp_snap *sn = sl_xmalloc(sizeof *sn);
        take_snapshot(log, sn);
        int r = write_checkpoint(log, sn);
        free(sn);
        if (r < 0) {
            seterr(err, errlen, "cannot write the first checkpoint of %s", log->dir);
            goto fail;
        }
    }
    log->nslots = (int)(log->o.queue_bytes / BATCH_BYTES);
    if (log->nslots < 2)
        log->nslots = 2;
    log->slots = sl_xcalloc((size_t)log->nslots, sizeof *log->slots);
    for (int i = 0; i < log->nslots; i++)
        log->slots[i].buf = sl_xmalloc(SLOT_CAP);
    log->slots[0].state = SLOT_FILLING;
    log->slots[0].first = log->next;
    log->scratch = sl_xmalloc(SL_AUDIT_REC_HDR + SL_AUDIT_MAX_ENTRY);
    log->cpq = sl_xcalloc(CPQ_LEN, sizeof *log->cpq);
    if (pthread_create(&log->cpthread, NULL, checkpoint_thread, log) != 0) {
        seterr(err, errlen, "cannot start the checkpoint thread");
        goto fail;
    }
    log->cpthread_started = 1;
    if (pthread_create(&log->thread, NULL, durability_thread, log) != 0) {
        seterr(err, errlen, "cannot start the durability thread");
        goto fail;
    }
    *out = log;
    SL_INFO("audit", "%s: %llu entries, log origin %s", log->dir, (unsigned long long)log->next,
            log->signer.name);
    if (truncated) {
        char text[128];
        if (missing)
            snprintf(text, sizeof text, "recovery: removed the last %llu bytes of entries "
                     "whose personal data was not on disk", (unsigned long long)truncated);
        else
            snprintf(text, sizeof text, "recovery: removed a torn last record of %llu bytes",
                     (unsigned long long)truncated);
        struct sl_audit_entry e;
        sl_audit_entry_init(&e, SL_AUDIT_SYSTEM, sl_wall_us());
        sl_audit_set_str(&e, SL_AF_TEXT, text);
        if (sl_audit_append(log, &e, NULL, 0) < 0)
            SL_WARN("audit", "could not log the recovery");
    }
    return 0;
fail:
    stop_checkpoint_thread(log);
    free(log->cpq);
    if (log->slots) {
        for (int i = 0; i < log->nslots; i++)
            free(log->slots[i].buf);
        free(log->slots);
    }
    free(log->scratch);
    if (log->personal)
        sl__audit_personal_close(log->personal);
    sl_audit_signer_free(&log->signer);
    sl_audit_hasher_free(log->hasher);
    if (log->dirfd >= 0)
        close(log->dirfd);
    if (log->lockfd >= 0)
        close(log->lockfd);
    if (log->efd >= 0)
        close(log->efd);
    if (log->segfd >= 0)
        close(log->segfd);
    if (log->cpfd >= 0)
        close(log->cpfd);
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->wake);
    pthread_cond_destroy(&log->freed);
    pthread_cond_destroy(&log->cpwake);
    pthread_mutex_destroy(&log->cpmu);
    free(log->dir);
    free(log);
    return -1;
}

int64_t sl_audit_append(struct sl_audit_log *log, struct sl_audit_entry *e, const void *personal,
                        size_t plen)
{
    char err[200];
    e->seq = log->next;
    if (personal && plen) {
        uint8_t mac[32];
        sl__audit_personal_mac(log->personal, personal, plen, mac);
        sl_audit_set_hash(e, SL_AF_PERSONAL_HASH, mac);
    }
    int n = sl_audit_encode(e, log->scratch + SL_AUDIT_REC_HDR, SL_AUDIT_MAX_ENTRY, err, sizeof err);
    if (n < 0) {
        SL_ERROR("audit", "entry refused: %s", err);
        errno = EINVAL;
        return -1;
    }
    put32(log->scratch, (uint32_t)n);
    put32(log->scratch + 4, sl_audit_crc32c(0, log->scratch + SL_AUDIT_REC_HDR, (size_t)n));
    size_t rl = SL_AUDIT_REC_HDR + (size_t)n;
    size_t pl = personal && plen ? 20 + plen : 0;
    if (plen > SL_AUDIT_MAX_PERSONAL) {
        SL_ERROR("audit", "entry refused: %zu bytes of personal data (at most %u)", plen,
                 SL_AUDIT_MAX_PERSONAL);
        errno = EINVAL;
        return -1;
    }

    pthread_mutex_lock(&log->mu);
    for (;;) {
        if (log->failed) {
            pthread_mutex_unlock(&log->mu);
            errno = EIO;
            return -1;
        }
        struct slot *s = &log->slots[log->w];
        if (s->len < BATCH_BYTES)
            break;
        int next = (log->w + 1) % log->nslots;
        if (log->slots[next].state == SLOT_FREE) {
            s->state = SLOT_QUEUED;
            log->w = next;
            log->slots[next].state = SLOT_FILLING;
            log->slots[next].len = 0;
            log->slots[next].count = 0;
            log->slots[next].pii_len = 0;
            log->slots[next].first = s->first + s->count;
            if (log->thread_waiting)
                pthread_cond_signal(&log->wake);
            break;
        }
        if (log->o.nonblocking) {
            pthread_mutex_unlock(&log->mu);
            errno = EAGAIN;
            return -1;
        }
        log->stats.queue_full_waits++;
        if (log->thread_waiting)
            pthread_cond_signal(&log->wake);
        pthread_cond_wait(&log->freed, &log->mu);
    }
    struct slot *s = &log->slots[log->w];
    memcpy(s->buf + s->len, log->scratch, rl);
    s->len += rl;
    s->count++;
    if (pl) {
        if (s->pii_cap - s->pii_len < pl) {
            s->pii_cap = (s->pii_len + pl) * 2;
            s->pii = sl_xrealloc(s->pii, s->pii_cap);
        }
        uint8_t *p = s->pii + s->pii_len;
        put64(p, e->seq);
        put64(p + 8, (uint64_t)e->time_us);
        put32(p + 16, (uint32_t)plen);
        memcpy(p + 20, personal, plen);
        s->pii_len += pl;
    }
    log->next++;
    if (log->thread_waiting && !log->corked)
        pthread_cond_signal(&log->wake);
    pthread_mutex_unlock(&log->mu);
    return (int64_t)e->seq;
}

void sl_audit_cork(struct sl_audit_log *log)
{
    pthread_mutex_lock(&log->mu);
    log->corked = 1;
    pthread_mutex_unlock(&log->mu);
}

void sl_audit_uncork(struct sl_audit_log *log)
{
    pthread_mutex_lock(&log->mu);
    log->corked = 0;
    if (log->thread_waiting && slot_has_work(log))
        pthread_cond_signal(&log->wake);
    pthread_mutex_unlock(&log->mu);
}

int sl_audit_durable_fd(const struct sl_audit_log *log) { return log->efd; }

uint64_t sl_audit_durable_upto(struct sl_audit_log *log)
{
    uint64_t v;
    while (read(log->efd, &v, sizeof v) > 0)
        ;
    return atomic_load_explicit(&log->durable, memory_order_acquire);
}

int sl_audit_wait(struct sl_audit_log *log, uint64_t n)
{
    pthread_mutex_lock(&log->mu);
    /* a corked producer that waits must not wait for a thread nobody woke */
    log->corked = 0;
    if (log->thread_waiting && slot_has_work(log))
        pthread_cond_signal(&log->wake);
    while (atomic_load(&log->durable) < n && !log->failed)
        pthread_cond_wait(&log->freed, &log->mu);
    int rc = atomic_load(&log->durable) >= n ? 0 : -1;
    pthread_mutex_unlock(&log->mu);
    return rc;
}

uint64_t sl_audit_size(const struct sl_audit_log *log) { return log->next; }

void sl_audit_get_stats(struct sl_audit_log *log, struct sl_audit_stats *st)
{
    pthread_mutex_lock(&log->mu);
    *st = log->stats;
    pthread_mutex_unlock(&log->mu);
}

int sl_audit_close(struct sl_audit_log *log)
{
    if (!log)
        return 0;
    pthread_mutex_lock(&log->mu);
    log->stop = 1;
    pthread_cond_signal(&log->wake);
    pthread_mutex_unlock(&log->mu);
    pthread_join(log->thread, NULL);
    /* after the durability thread, which queued the final checkpoint */
    stop_checkpoint_thread(log);
    free(log->cpq);
    int rc = log->failed ? -1 : 0;
    for (int i = 0; i < log->nslots; i++) {
        free(log->slots[i].buf);
        free(log->slots[i].pii);
    }
    free(log->slots);
    free(log->scratch);
    sl__audit_personal_close(log->personal);
    sl_audit_signer_free(&log->signer);
    sl_audit_hasher_free(log->hasher);
    close(log->segfd);
    close(log->cpfd);
    close(log->efd);
    close(log->lockfd);
    close(log->dirfd);
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->wake);
    pthread_cond_destroy(&log->freed);
    pthread_cond_destroy(&log->cpwake);
    pthread_mutex_destroy(&log->cpmu);
    free(log->dir);
    free(log);
    return rc;
}
