/*
 * test_audit_log.c - the appending log on disk: group commit and the durable count, reopen,
 * torn-tail recovery, damage found and located by index, checkpoints checked against a key
 * (and a forged one refused), segment rolling, crypto-shredding of personal data, and the
 * checkpoint thread (checkpoints written while batches flow, in order, the last at close;
 * and far behind them: 64 snapshots wait, newer ones replace the newest waiting).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <poll.h>
#include <errno.h>
#include <cmocka.h>

#include "stateline/audit.h"
#include "stateline/core.h"

struct fx {
    char dir[256], logdir[300], key[300];
    struct sl_audit_verifier v;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sl-audit-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->logdir, sizeof f->logdir, "%s/log", f->dir);
    snprintf(f->key, sizeof f->key, "%s/k.key", f->dir);
    char sk[256], vk[256], err[200];
    if (sl_audit_keygen("test.example/audit", sk, sizeof sk, vk, sizeof vk, err, sizeof err) < 0)
        return -1;
    FILE *fp = fopen(f->key, "w");
    fprintf(fp, "%s\n", sk);
    fclose(fp);
    if (sl_audit_verifier_parse(&f->v, vk, err, sizeof err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[400];
    sl_audit_verifier_free(&f->v);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static struct sl_audit_log *open_log_opts(struct fx *f, uint64_t every, uint64_t segbytes,
                                          int scan_all)
{
    struct sl_audit_opts o = {.dir = f->logdir, .signer_key = f->key, .checkpoint_every = every,
                              .segment_bytes = segbytes, .scan_all = scan_all};
    struct sl_audit_log *log = NULL;
    char err[300];
    if (sl_audit_open(&log, &o, err, sizeof err) < 0) {
        fprintf(stderr, "open: %s\n", err);
        return NULL;
    }
    return log;
}

static struct sl_audit_log *open_log(struct fx *f, uint64_t every, uint64_t segbytes)
{
    return open_log_opts(f, every, segbytes, 0);
}

static void append_n(struct sl_audit_log *log, uint64_t n, int64_t t0)
{
    char ref[32];
    for (uint64_t i = 0; i < n; i++) {
        struct sl_audit_entry e;
        snprintf(ref, sizeof ref, "R%llu", (unsigned long long)i);
        sl_audit_entry_init(&e, SL_AUDIT_QUERY, t0 + (int64_t)i);
        sl_audit_set_str(&e, SL_AF_REF, ref);
        sl_audit_set_str(&e, SL_AF_ORI, "WASP00000");
        sl_audit_set_str(&e, SL_AF_KEY, "DQ");
        assert_true(sl_audit_append(log, &e, NULL, 0) >= 0);
    }
}

struct problems {
    int n;
    int64_t first_index;
    char first[512];
};

static void collect(int64_t index, const char *text, void *arg)
{
    struct problems *p = arg;
    if (p->n++ == 0) {
        p->first_index = index;
        snprintf(p->first, sizeof p->first, "%s", text);
    }
}

static int64_t verify(struct fx *f, struct problems *p, uint64_t *entries)
{
    struct sl_audit_verify_result res;
    char err[300];
    memset(p, 0, sizeof *p);
    p->first_index = -2;
    int64_t r = sl_audit_verify_dir(f->logdir, &f->v, collect, p, &res, err, sizeof err);
    if (entries)
        *entries = res.entries;
    return r;
}

static off_t seg_size(struct fx *f, int num)
{
    char path[400];
    snprintf(path, sizeof path, "%s/seg-%08d.log", f->logdir, num);
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Offset of record `index` in segment 1 (walks the length prefixes). */
static off_t record_off(struct fx *f, uint64_t index)
{
    char path[400];
    snprintf(path, sizeof path, "%s/seg-00000001.log", f->logdir);
    int fd = open(path, O_RDONLY);
    off_t o = 0;
    for (uint64_t i = 0; i < index; i++) {
        uint8_t h[4];
        assert_int_equal(pread(fd, h, 4, o), 4);
        o += 8 + ((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3]);
    }
    close(fd);
    return o;
}

static void poke(struct fx *f, off_t off, const void *b, size_t n)
{
    char path[400];
    snprintf(path, sizeof path, "%s/seg-00000001.log", f->logdir);
    int fd = open(path, O_WRONLY);
    assert_int_equal(pwrite(fd, b, n, off), (ssize_t)n);
    close(fd);
}

static void test_append_reopen(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f, 100, 0);
    assert_non_null(log);
    assert_true(sl_audit_durable_fd(log) >= 0);
    append_n(log, 1000, 1795704025000000LL);
    assert_int_equal(sl_audit_size(log), 1000);
    /* the loop learns of durability through the eventfd */
    uint64_t seen = 0;
    while (seen < 1000) {
        struct pollfd pfd = {sl_audit_durable_fd(log), POLLIN, 0};
        assert_int_equal(poll(&pfd, 1, 10000), 1);
        uint64_t d = sl_audit_durable_upto(log);
        assert_true(d >= seen && d <= 1000);
        seen = d;
    }
    assert_int_equal(sl_audit_wait(log, 1000), 0);
    assert_true(sl_audit_durable_upto(log) >= 1000);
    assert_int_equal(sl_audit_close(log), 0);
    struct problems p;
    uint64_t n;
    assert_int_equal(verify(f, &p, &n), 0);
    assert_int_equal(n, 1000);
    log = open_log(f, 100, 0);
    assert_non_null(log);
    assert_int_equal(sl_audit_size(log), 1000);
    append_n(log, 10, 1795704026000000LL);
    assert_int_equal(sl_audit_close(log), 0);
    assert_int_equal(verify(f, &p, &n), 0);
    assert_int_equal(n, 1010);
    /* A second appender is refused while one holds the log. */
    log = open_log(f, 0, 0);
    assert_non_null(log);
    assert_null(open_log(f, 0, 0));
    sl_audit_close(log);
}

/* sl_audit_cork: the entries appended while corked go to disk in one batch, woken by
 * uncork; a corked producer that waits (sl_audit_wait) is not left waiting. */
static void test_cork(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f, 0, 0);
    assert_non_null(log);
    struct sl_audit_stats st;
    sl_audit_cork(log);
    append_n(log, 3, 1795704025000000LL);
    sl_audit_uncork(log);
    assert_int_equal(sl_audit_wait(log, 3), 0);
    sl_audit_get_stats(log, &st);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.entries, 3);
    sl_audit_cork(log);
    append_n(log, 2, 1795704026000000LL);
    assert_int_equal(sl_audit_wait(log, 5), 0); /* no uncork: wait wakes the thread */
    sl_audit_uncork(log);
    assert_int_equal(sl_audit_close(log), 0);
    struct problems p;
    uint64_t n;
    assert_int_equal(verify(f, &p, &n), 0);
    assert_int_equal(n, 5);
}

/* The saved tree state: used when it matches the last checkpoint, ignored when damaged or
 * stale, and either way the log reopens at the right size and verifies. */
static void test_tree_state(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f, 0, 0);
    append_n(log, 500, 1795704025000000LL);
    assert_int_equal(sl_audit_close(log), 0);
    char path[400];
    snprintf(path, sizeof path, "%s/tree-state", f->logdir);
    assert_int_equal(access(path, F_OK), 0);
    log = open_log(f, 0, 0); /* from the state */
    assert_int_equal(sl_audit_size(log), 500);
    append_n(log, 7, 1795704026000000LL);
    assert_int_equal(sl_audit_close(log), 0);
    FILE *fp = fopen(path, "r+b"); /* damage it */
    fseek(fp, 40, SEEK_SET);
    fputc(0x55, fp);
    fclose(fp);
    log = open_log(f, 0, 0); /* full scan */
    assert_non_null(log);
    assert_int_equal(sl_audit_size(log), 507);
    assert_int_equal(sl_audit_close(log), 0);
    struct problems p;
    uint64_t n;
    assert_int_equal(verify(f, &p, &n), 0);
    assert_int_equal(n, 507);
    /* a torn tail after the state point is still repaired */
    snprintf(path, sizeof path, "%s/seg-00000001.log", f->logdir);
    int fd = open(path, O_WRONLY | O_APPEND);
    uint8_t torn[5] = {0, 0, 1, 0, 9};
    assert_int_equal(write(fd, torn, 5), 5);
    close(fd);
    log = open_log(f, 0, 0);
    assert_non_null(log);
    assert_int_equal(sl_audit_size(log), 508); /* + the SYSTEM entry */
    assert_int_equal(sl_audit_close(log), 0);
    assert_int_equal(verify(f, &p, &n), 0);
}

/* A full queue in nonblocking mode says EAGAIN and loses nothing. */
static void test_queue_full(void **state)
{
    struct fx *f = *state;
    struct sl_audit_opts o = {.dir = f->logdir, .signer_key = f->key, .queue_bytes = 1,
                              .nonblocking = 1};
    struct sl_audit_log *log = NULL;
    char err[300];
    assert_int_equal(sl_audit_open(&log, &o, err, sizeof err), 0);
    char text[1000];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = 0;
    uint64_t ok = 0, full = 0;
    for (int i = 0; i < 20000; i++) {
        struct sl_audit_entry e;
        sl_audit_entry_init(&e, SL_AUDIT_SYSTEM, 1795704025000000LL);
        sl_audit_set_str(&e, SL_AF_TEXT, text);
        if (sl_audit_append(log, &e, NULL, 0) < 0) {
            assert_int_equal(errno, EAGAIN);
            full++;
            struct pollfd pfd = {sl_audit_durable_fd(log), POLLIN, 0};
            poll(&pfd, 1, 1000);
            sl_audit_durable_upto(log);
            continue;
        }
        ok++;
    }
    assert_true(full > 0); /* 20 MB through a 512 KiB queue must fill it */
    assert_int_equal(sl_audit_size(log), ok);
    assert_int_equal(sl_audit_close(log), 0);
    struct problems p;
    uint64_t n;
    assert_int_equal(verify(f, &p, &n), 0);
    assert_int_equal(n, ok);
}

static void test_torn_tail(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f, 50, 0);
    append_n(log, 200, 1795704025000000LL);
    assert_int_equal(sl_audit_close(log), 0);
    off_t full = seg_size(f, 1);
    /* half a record at the end, as a crash in write(2) leaves it */
    char path[400];
    snprintf(path, sizeof path, "%s/seg-00000001.log", f->logdir);
    int fd = open(path, O_WRONLY | O_APPEND);
    uint8_t torn[20] = {0, 0, 0, 60, 1, 2, 3, 4, 1, 1};
    assert_int_equal(write(fd, torn, sizeof torn), (ssize_t)sizeof torn);
    close(fd);
    struct problems p;
    assert_true(verify(f, &p, NULL) > 0); /* verify sees it ... */
    assert_non_null(strstr(p.first, "entry 200"));
    log = open_log(f, 0, 0); /* ... open repairs it */
    assert_non_null(log);
    assert_int_equal(sl_audit_size(log), 201); /* 200 + the SYSTEM entry about the repair */
    assert_int_equal(sl_audit_close(log), 0);
    assert_true(seg_size(f, 1) > full); /* torn bytes gone, the SYSTEM entry added */
    uint64_t n;
    assert_int_equal(verify(f, &p, &n), 0);
    assert_int_equal(n, 201);

    /* a complete last record with a bad checksum (not yet in any checkpoint) is a torn
     * write too */
    uint8_t rec[8 + 30] = {0, 0, 0, 30, 0xde, 0xad, 0xbe, 0xef, 1, SL_AUDIT_SYSTEM};
    fd = open(path, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, rec, sizeof rec), (ssize_t)sizeof rec);
    close(fd);
    log = open_log(f, 0, 0);
    assert_non_null(log);
    assert_int_equal(sl_audit_size(log), 202); /* 201 + a new SYSTEM entry */
    assert_int_equal(sl_audit_close(log), 0);
    assert_int_equal(verify(f, &p, &n), 0);
}

static void test_damage_located(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f, 10, 0);
    for (int i = 0; i < 10; i++) { /* checkpoints are signed at batch ends: one per 10 */
        append_n(log, 10, 1795704025000000LL);
        assert_int_equal(sl_audit_wait(log, sl_audit_size(log)), 0);
    }
    assert_int_equal(sl_audit_close(log), 0);
    struct problems p;
    /* one byte changed in entry 37 */
    off_t o = record_off(f, 37);
    uint8_t orig, x;
    char path[400];
    snprintf(path, sizeof path, "%s/seg-00000001.log", f->logdir);
    int fd = open(path, O_RDONLY);
    assert_int_equal(pread(fd, &orig, 1, o + 8 + 22), 1);
    close(fd);
    x = orig ^ 0x01;
    poke(f, o + 8 + 22, &x, 1);
    assert_true(verify(f, &p, NULL) > 0);
    assert_int_equal(p.first_index, 37);
    assert_non_null(strstr(p.first, "entry 37: record checksum mismatch"));
    /* the appender refuses to open a damaged log when it rescans it (by default it trusts the
     * tree state saved after the last checkpoint and checks only the entries after it) */
    assert_null(open_log_opts(f, 0, 0, 1));
    char st[400];
    snprintf(st, sizeof st, "%s/tree-state", f->logdir);
    assert_int_equal(unlink(st), 0);
    assert_null(open_log(f, 0, 0));

    /* the same change with the checksum fixed: the checkpoints catch it, bounded to the
     * entries between the last good checkpoint (30) and the first bad one (40) */
    uint8_t ent[256], hdr[8];
    fd = open(path, O_RDONLY);
    assert_int_equal(pread(fd, hdr, 8, o), 8);
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    assert_int_equal(pread(fd, ent, len, o + 8), (ssize_t)len);
    close(fd);
    uint32_t crc = sl_audit_crc32c(0, ent, len);
    uint8_t c[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
    poke(f, o + 4, c, 4);
    assert_true(verify(f, &p, NULL) > 0);
    if (!strstr(p.first, "[30, 40)"))
        fprintf(stderr, "got: %s\n", p.first);
    assert_non_null(strstr(p.first, "[30, 40)"));
    poke(f, o + 8 + 22, &orig, 1); /* restore */
    crc = sl_audit_crc32c(0, ent, len);
    ent[22] = orig;
    crc = sl_audit_crc32c(0, ent, len);
    uint8_t c2[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
    poke(f, o + 4, c2, 4);
    assert_int_equal(verify(f, &p, NULL), 0);
}

static void test_forged_checkpoint(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f, 10, 0);
    append_n(log, 30, 1795704025000000LL);
    assert_int_equal(sl_audit_close(log), 0);
    struct problems p;
    assert_int_equal(verify(f, &p, NULL), 0);
    /* a checkpoint by another key, appended to the history */
    char sk[256], vk[256], err[200], note[1024], path[400];
    struct sl_audit_signer s;
    assert_int_equal(sl_audit_keygen("test.example/audit", sk, sizeof sk, vk, sizeof vk, err, sizeof err), 0);
    assert_int_equal(sl_audit_signer_parse(&s, sk, err, sizeof err), 0);
    struct sl_audit_verify_result res;
    assert_int_equal(sl_audit_verify_dir(f->logdir, NULL, NULL, NULL, &res, err, sizeof err), 0);
    int n = sl_audit_checkpoint_sign(&s, 30, res.root, note, sizeof note);
    sl_audit_signer_free(&s);
    snprintf(path, sizeof path, "%s/checkpoints", f->logdir);
    FILE *fp = fopen(path, "a");
    fwrite(note, 1, (size_t)n, fp);
    fputc('\n', fp);
    fclose(fp);
    assert_int_equal(verify(f, &p, NULL), 1);
    assert_non_null(strstr(p.first, "no valid signature"));
}

static void test_segments_roll(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f, 0, 4096);
    for (int i = 0; i < 20; i++) {
        append_n(log, 50, 1795704025000000LL);
        assert_int_equal(sl_audit_wait(log, sl_audit_size(log)), 0);
    }
    assert_int_equal(sl_audit_close(log), 0);
    assert_true(seg_size(f, 3) > 0);
    struct problems p;
    uint64_t n;
    assert_int_equal(verify(f, &p, &n), 0);
    assert_int_equal(n, 1000);
    log = open_log(f, 0, 4096);
    assert_non_null(log);
    assert_int_equal(sl_audit_size(log), 1000);
    sl_audit_close(log);
    /* a missing middle segment is found */
    char path[400];
    snprintf(path, sizeof path, "%s/seg-00000002.log", f->logdir);
    assert_int_equal(unlink(path), 0);
    assert_true(verify(f, &p, NULL) > 0);
    assert_null(open_log(f, 0, 4096));
}

static void test_shred(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f, 0, 0);
    /* January and February 2025 */
    const int64_t jan = 1736899200000000LL, feb = 1739577600000000LL;
    const char *people[4] = {"NAM/DOE, JANE.DOB/19800101", "NAM/ROE, RICHARD.DOB/19751212",
                             "NAM/POE, ANN.ADR/1 MAIN ST", "NAM/LOE, AL.OLN/WDL123456789"};
    for (int i = 0; i < 4; i++) {
        struct sl_audit_entry e;
        sl_audit_entry_init(&e, SL_AUDIT_QUERY, i < 2 ? jan + i : feb + i);
        sl_audit_set_str(&e, SL_AF_REF, "R");
        sl_audit_set_str(&e, SL_AF_ORI, "WASP00000");
        sl_audit_set_str(&e, SL_AF_KEY, "DQ");
        assert_int_equal(sl_audit_append(log, &e, people[i], strlen(people[i])), i);
    }
    assert_int_equal(sl_audit_close(log), 0);
    char err[300];
    uint8_t *data;
    size_t len;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sl_audit_personal_read(f->logdir, (uint64_t)i, &data, &len, err, sizeof err), 0);
        assert_int_equal(len, strlen(people[i]));
        assert_memory_equal(data, people[i], len);
        free(data);
    }
    /* the entries carry the keyed hash, never the data */
    uint8_t seg[4096];
    char path[400];
    snprintf(path, sizeof path, "%s/seg-00000001.log", f->logdir);
    int fd = open(path, O_RDONLY);
    ssize_t sn = read(fd, seg, sizeof seg);
    close(fd);
    assert_true(sn > 0);
    assert_null(memmem(seg, (size_t)sn, "DOE", 3));
    uint8_t h[32];
    assert_int_equal(sl_audit_personal_hash(f->logdir, people[0], strlen(people[0]), h, err, sizeof err), 0);
    assert_non_null(memmem(seg, (size_t)sn, h, 32));

    assert_int_equal(sl_audit_shred(f->logdir, "2025-01", err, sizeof err), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(sl_audit_personal_read(f->logdir, (uint64_t)i, &data, &len, err, sizeof err), 2);
    assert_int_equal(sl_audit_personal_read(f->logdir, 2, &data, &len, err, sizeof err), 0);
    free(data);
    snprintf(path, sizeof path, "%s/personal/keys/2025-01.key", f->logdir);
    assert_int_equal(access(path, F_OK), -1);
    /* nothing of January's data is left in the store in the clear or decryptable */
    struct problems p;
    assert_int_equal(verify(f, &p, NULL), 0);
    assert_int_equal(sl_audit_shred(f->logdir, "2025-01", err, sizeof err), 1); /* again */
    assert_int_equal(sl_audit_shred(f->logdir, "2999-01", err, sizeof err), -1); /* not ended */
    assert_int_equal(sl_audit_shred(f->logdir, "2025-1", err, sizeof err), -1);
    /* the appender never re-creates a shredded month's key */
    log = open_log(f, 0, 0);
    struct sl_audit_entry e;
    sl_audit_entry_init(&e, SL_AUDIT_QUERY, jan + 100);
    sl_audit_set_str(&e, SL_AF_REF, "R");
    sl_audit_set_str(&e, SL_AF_ORI, "WASP00000");
    sl_audit_set_str(&e, SL_AF_KEY, "DQ");
    assert_int_equal(sl_audit_append(log, &e, "NAM/X", 5), 4);
    assert_int_equal(sl_audit_close(log), 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(sl_audit_personal_read(f->logdir, 4, &data, &len, err, sizeof err), 1);
    struct stat st;
    snprintf(path, sizeof path, "%s/personal/2025-02.data", f->logdir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/personal/2025-01.data", f->logdir); /* shredded */
    assert_int_equal(access(path, F_OK), -1);
}

/* Size of the checkpoint in DIR/checkpoint (the latest alone), or -1 if unreadable. */
static int64_t latest_checkpoint(struct fx *f)
{
    char path[400], buf[1024], err[200];
    snprintf(path, sizeof path, "%s/checkpoint", f->logdir);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    struct sl_audit_checkpoint c;
    if (sl_audit_checkpoint_parse(buf, n, &c, err, sizeof err) < 0) {
        fprintf(stderr, "checkpoint: %s\n", err);
        return -1;
    }
    return (int64_t)c.size;
}

struct cp_sizes {
    int n;
    uint64_t size[128];
};

static int cp_size_of(const char *note, size_t len, void *arg)
{
    struct cp_sizes *s = arg;
    struct sl_audit_checkpoint c;
    char err[200];
    if (sl_audit_checkpoint_parse(note, len, &c, err, sizeof err) < 0 || s->n == 128)
        return -1;
    s->size[s->n++] = c.size;
    return 0;
}

static void history(struct fx *f, struct cp_sizes *s)
{
    char path[400], err[200];
    snprintf(path, sizeof path, "%s/checkpoints", f->logdir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static const size_t cap = 128 * 1024;
    char *text = malloc(cap);
    size_t len = fread(text, 1, cap, fp);
    fclose(fp);
    size_t bad = 0;
    memset(s, 0, sizeof *s);
    assert_true(sl_audit_checkpoints_split(text, len, cp_size_of, s, &bad, err, sizeof err) >= 0);
    free(text);
}

/* The checkpoint thread: while batches flow, one checkpoint per due snapshot is written
 * (checkpoint_every keeps its sizes: one at every 10th entry here, each batch being 10),
 * the latest never goes back and never covers an entry that is not durable yet, and close
 * writes the final one (7 entries after the last due one) before it returns. */
static void test_checkpoint_thread(void **state)
{
    struct fx *f = *state;
    struct sl_audit_opts o = {.dir = f->logdir, .signer_key = f->key, .checkpoint_every = 10,
                              .checkpoint_ms = 3600 * 1000};
    struct sl_audit_log *log = NULL;
    char err[300];
    assert_int_equal(sl_audit_open(&log, &o, err, sizeof err), 0);
    int64_t seen = 0;
    for (int i = 0; i < 50; i++) {
        append_n(log, 10, 1795704025000000LL + i * 10);
        assert_int_equal(sl_audit_wait(log, sl_audit_size(log)), 0);
        int64_t cp = latest_checkpoint(f);
        uint64_t durable = sl_audit_durable_upto(log);
        assert_true(cp >= seen);             /* never backwards */
        assert_true((uint64_t)cp <= durable); /* only durable entries */
        seen = cp;
    }
    /* they are written while the log stays open: all 50 due ones and the first (size 0) */
    struct sl_audit_stats st;
    for (int tries = 0; tries < 3000; tries++) { /* a bound on a hung thread, not a timing */
        sl_audit_get_stats(log, &st);
        if (st.checkpoints == 51)
            break;
        usleep(10 * 1000);
    }
    assert_int_equal(st.checkpoints, 51);
    assert_int_equal(st.checkpoints_coalesced, 0);
    assert_int_equal(latest_checkpoint(f), 500);
    append_n(log, 7, 1795704026000000LL);
    assert_int_equal(sl_audit_close(log), 0);
    assert_int_equal(latest_checkpoint(f), 507);
    struct cp_sizes s;
    history(f, &s);
    assert_int_equal(s.n, 52);
    for (int i = 0; i <= 50; i++)
        assert_int_equal(s.size[i], (uint64_t)i * 10);
    assert_int_equal(s.size[51], 507);
    struct problems p;
    uint64_t n;
    assert_int_equal(verify(f, &p, &n), 0);
    assert_int_equal(n, 507);
    /* the tree state written beside the final checkpoint matches it: reopen from it */
    log = open_log(f, 0, 0);
    assert_non_null(log);
    assert_int_equal(sl_audit_size(log), 507);
    assert_int_equal(sl_audit_close(log), 0);
}

/* A checkpoint thread far behind the batches (the disk slow for the checkpoint files):
 * DIR/checkpoint.tmp is made a FIFO, so the thread's next checkpoint blocks in open()
 * until the test reads it.  Meanwhile 100 batches of one entry each become durable (a
 * slow checkpoint never holds a batch back), each queueing a snapshot (checkpoint_every 1:
 * one per batch, whatever the timing): 64 wait, the one being written among them, and the
 * 36 beyond replace the newest waiting one (checkpoints_coalesced).  Once unblocked, the
 * thread writes what waits, in order: sizes 1 to 63, then 100, never backwards. */
static void test_checkpoint_backlog(void **state)
{
    struct fx *f = *state;
    struct sl_audit_opts o = {.dir = f->logdir, .signer_key = f->key, .checkpoint_every = 1,
                              .checkpoint_ms = 3600 * 1000};
    struct sl_audit_log *log = NULL;
    char err[300], fifo[400];
    assert_int_equal(sl_audit_open(&log, &o, err, sizeof err), 0);
    struct sl_audit_stats st;
    for (int tries = 0; tries < 3000; tries++) { /* the first checkpoint (size 0) */
        sl_audit_get_stats(log, &st);
        if (st.checkpoints == 1)
            break;
        usleep(10 * 1000);
    }
    assert_int_equal(st.checkpoints, 1);
    snprintf(fifo, sizeof fifo, "%s/checkpoint.tmp", f->logdir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    for (int i = 0; i < 100; i++) {
        append_n(log, 1, 1795704025000000LL + i);
        assert_int_equal(sl_audit_wait(log, sl_audit_size(log)), 0);
    }
    assert_int_equal(sl_audit_durable_upto(log), 100);
    /* the last batch's snapshot is queued just after its waiters are woken */
    for (int tries = 0; tries < 3000; tries++) {
        sl_audit_get_stats(log, &st);
        if (st.checkpoints_coalesced == 36)
            break;
        usleep(1000);
    }
    assert_int_equal(st.checkpoints, 1);
    assert_int_equal(st.checkpoints_coalesced, 36);
    assert_int_equal(latest_checkpoint(f), 0); /* still the regular file of size 0 */
    /* Unblock: read the FIFO until its writer closes it (EOF after data). */
    int rfd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rfd >= 0);
    char buf[2048];
    size_t got = 0;
    for (int tries = 0; tries < 30000; tries++) { /* a bound on a hung thread */
        ssize_t r = read(rfd, buf + got, sizeof buf - got);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0 && got > 0)
            break; /* the writer wrote its note and closed */
        else
            usleep(1000); /* not opened by the writer yet (0), or nothing yet (EAGAIN) */
    }
    close(rfd);
    struct sl_audit_checkpoint c;
    assert_true(got > 0);
    assert_int_equal(sl_audit_checkpoint_parse(buf, got, &c, err, sizeof err), 0);
    assert_int_equal(c.size, 1);
    for (int tries = 0; tries < 3000; tries++) {
        sl_audit_get_stats(log, &st);
        if (st.checkpoints == 65)
            break;
        usleep(10 * 1000);
    }
    assert_int_equal(st.checkpoints, 65); /* size 0, then the 64 that waited */
    struct stat sb;
    char path[400];
    snprintf(path, sizeof path, "%s/checkpoint", f->logdir); /* the FIFO replaced since */
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(latest_checkpoint(f), 100);
    assert_int_equal(sl_audit_close(log), 0);
    struct cp_sizes s;
    history(f, &s);
    assert_true(s.n >= 65);
    for (int i = 0; i <= 63; i++)
        assert_int_equal(s.size[i], (uint64_t)i);
    for (int i = 64; i < s.n; i++) /* 100, and again at close if it signs once more */
        assert_int_equal(s.size[i], 100);
    struct problems p;
    uint64_t n;
    assert_int_equal(verify(f, &p, &n), 0);
    assert_int_equal(n, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cork, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tree_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_located, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segments_roll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_backlog, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
