/*
 * test_audit_personal.c - the personal store's data files (docs/audit-format.md §8): what
 * the appender writes, reads by entry index (through the sidecar, without it, with it
 * damaged), a torn tail, a crash between the data file's sync and the segment's (the entry
 * without its record goes), shredding, and logs whose older entries are in personal.db.
 * Also the format functions the fuzz target drives, on hand-made bytes, and the fallback
 * to plain fdatasyncs where the kernel has no AIO (a seccomp filter refuses io_setup, or
 * io_submit, in a child process: what a container's profile does).
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
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "stateline/audit.h"
#include "stateline/core.h"
#include "audit/internal.h"

/* 2025-01-15 and 2025-02-15, 00:00 UTC */
static const int64_t JAN = 1736899200000000LL, FEB = 1739577600000000LL;

struct fx {
    char dir[256], logdir[300], key[300];
    struct sl_audit_verifier v;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sl-apers-test-XXXXXX");
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

static struct sl_audit_log *open_log(struct fx *f)
{
    struct sl_audit_opts o = {.dir = f->logdir, .signer_key = f->key};
    struct sl_audit_log *log = NULL;
    char err[300];
    if (sl_audit_open(&log, &o, err, sizeof err) < 0) {
        fprintf(stderr, "open: %s\n", err);
        return NULL;
    }
    return log;
}

/* The personal data of entry i: on two entries of three, as a gateway's query and release. */
static int person(uint64_t i, char *out, size_t cap)
{
    if (i % 3 == 1)
        return 0;
    return snprintf(out, cap, "NAM/DOE, JANE %llu.DOB/19800101.OLN/WDL%09llu",
                    (unsigned long long)i, (unsigned long long)i * 7919);
}

/* Append entries [from, to) at time t0 + i µs; personal data as person(). */
static void append_range(struct sl_audit_log *log, uint64_t from, uint64_t to, int64_t t0)
{
    char pii[128];
    for (uint64_t i = from; i < to; i++) {
        struct sl_audit_entry e;
        sl_audit_entry_init(&e, SL_AUDIT_QUERY, t0 + (int64_t)i);
        sl_audit_set_str(&e, SL_AF_REF, "WA-1");
        sl_audit_set_str(&e, SL_AF_ORI, "WASP00000");
        sl_audit_set_str(&e, SL_AF_KEY, "DQ");
        int n = person(i, pii, sizeof pii);
        assert_int_equal(sl_audit_append(log, &e, n ? pii : NULL, (size_t)n), (int64_t)i);
    }
}

/* Every entry in [from, to) reads back as person() (or none). */
static void check_reads(struct fx *f, uint64_t from, uint64_t to)
{
    char pii[128], err[300];
    for (uint64_t i = from; i < to; i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        int n = person(i, pii, sizeof pii);
        int r = sl_audit_personal_read(f->logdir, i, &data, &len, err, sizeof err);
        if (r < 0)
            fprintf(stderr, "read %llu: %s\n", (unsigned long long)i, err);
        assert_int_equal(r, n ? 0 : 1);
        if (n) {
            assert_int_equal(len, (size_t)n);
            assert_memory_equal(data, pii, len);
            free(data);
        }
    }
}

static off_t fsize(struct fx *f, const char *name)
{
    char path[500];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", f->logdir, name);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void rm(struct fx *f, const char *name)
{
    char path[500];
    snprintf(path, sizeof path, "%s/%s", f->logdir, name);
    assert_int_equal(unlink(path), 0);
}

static void truncate_to(struct fx *f, const char *name, off_t len)
{
    char path[500];
    snprintf(path, sizeof path, "%s/%s", f->logdir, name);
    assert_int_equal(truncate(path, len), 0);
}

static void append_bytes(struct fx *f, const char *name, const void *b, size_t n)
{
    char path[500];
    snprintf(path, sizeof path, "%s/%s", f->logdir, name);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, n), (ssize_t)n);
    close(fd);
}

static void copy_file(struct fx *f, const char *from, const char *to)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp -p '%s/%s' '%s/%s'", f->logdir, from, f->logdir, to);
    assert_int_equal(system(cmd), 0);
}

static int verifies(struct fx *f, uint64_t *entries)
{
    struct sl_audit_verify_result res;
    char err[300];
    int64_t r = sl_audit_verify_dir(f->logdir, &f->v, NULL, NULL, &res, err, sizeof err);
    if (entries)
        *entries = res.entries;
    return r == 0;
}

/* Entries over two months: one data file and one sidecar a month, 0600, nothing in the
 * clear; every read by index right; no personal.db for a new log. */
static void test_write_read(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f);
    append_range(log, 0, 300, JAN);
    append_range(log, 300, 600, FEB);
    assert_int_equal(sl_audit_close(log), 0);
    check_reads(f, 0, 600);
    /* 200 records a month (two entries of three) */
    assert_int_equal(fsize(f, "personal/2025-01.index"), 200 * 16);
    assert_int_equal(fsize(f, "personal/2025-02.index"), 200 * 16);
    assert_int_equal(fsize(f, "personal/personal.db"), -1);
    char path[500];
    struct stat st;
    snprintf(path, sizeof path, "%s/personal/2025-01.data", f->logdir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    const uint8_t *img;
    size_t len;
    assert_int_equal(sl__audit_map(path, &img, &len), 0);
    assert_int_equal(sl__audit_pdata_check_header(img, len, "2025-01"), 0);
    assert_null(memmem(img, len, "DOE", 3));
    assert_int_equal(sl__audit_pdata_scan(img, len, SL_AUDIT_PDATA_HDR, UINT64_MAX, NULL, NULL), len);
    sl__audit_unmap(img, len);
    uint64_t n;
    assert_true(verifies(f, &n));
    assert_int_equal(n, 600);
    /* an index beyond the log has nothing */
    uint8_t *data;
    char err[300];
    assert_int_equal(sl_audit_personal_read(f->logdir, 600, &data, &len, err, sizeof err), 1);
    assert_int_equal(sl_audit_personal_read(f->logdir, 1u << 30, &data, &len, err, sizeof err), 1);
}

/* The sidecar is only a help: lost, short or wrong, reads still find every record (by
 * scanning the data file), and the next open rebuilds it. */
static void test_sidecar_lost(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f);
    append_range(log, 0, 150, JAN);
    assert_int_equal(sl_audit_close(log), 0);
    off_t full = fsize(f, "personal/2025-01.index");
    assert_int_equal(full, 100 * 16);
    rm(f, "personal/2025-01.index");
    check_reads(f, 0, 150);
    log = open_log(f);
    assert_non_null(log);
    assert_int_equal(sl_audit_close(log), 0);
    assert_int_equal(fsize(f, "personal/2025-01.index"), full);
    /* short: the records past its end are scanned for */
    truncate_to(f, "personal/2025-01.index", 40 * 16);
    check_reads(f, 0, 150);
    /* wrong: an entry that points at the wrong record */
    uint8_t junk[16] = {0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 20};
    append_bytes(f, "personal/2025-01.index", junk, sizeof junk);
    check_reads(f, 0, 150);
    log = open_log(f);
    assert_non_null(log);
    append_range(log, 150, 160, JAN);
    assert_int_equal(sl_audit_close(log), 0);
    assert_int_equal(fsize(f, "personal/2025-01.index"), (100 + 7) * 16);
    check_reads(f, 0, 160);
    assert_true(verifies(f, NULL));
}

/* Half a record at the end of a data file (a crash in write(2)) is cut at open; nothing
 * else changes. */
static void test_torn_data(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f);
    append_range(log, 0, 30, JAN);
    assert_int_equal(sl_audit_close(log), 0);
    off_t len = fsize(f, "personal/2025-01.data");
    uint8_t torn[30] = {0, 0, 0, 80, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 30};
    append_bytes(f, "personal/2025-01.data", torn, sizeof torn);
    check_reads(f, 0, 30); /* readers stop at it */
    log = open_log(f);
    assert_non_null(log);
    assert_int_equal(sl_audit_size(log), 30); /* no entry lost, so none added */
    assert_int_equal(fsize(f, "personal/2025-01.data"), len);
    append_range(log, 30, 40, JAN);
    assert_int_equal(sl_audit_close(log), 0);
    check_reads(f, 0, 40);
    assert_true(verifies(f, NULL));
}

/* A crash after the segment's fdatasync and before the data file's: the last entries are
 * on disk without their personal records.  They were never called durable (no reply, no
 * checkpoint), so open removes them like a torn record and says so in a SYSTEM entry. */
static void test_crash_between_syncs(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f);
    append_range(log, 0, 10, JAN);
    assert_int_equal(sl_audit_close(log), 0); /* checkpoint at 10 */
    copy_file(f, "checkpoints", "checkpoints.10");
    copy_file(f, "checkpoint", "checkpoint.10");
    copy_file(f, "tree-state", "tree-state.10");
    log = open_log(f);
    append_range(log, 10, 20, JAN);
    assert_int_equal(sl_audit_close(log), 0);
    /* the state of the crash: no checkpoint after 10; records of 17.. not on disk (the
     * sidecar, never synced, may still list them) */
    copy_file(f, "checkpoints.10", "checkpoints");
    copy_file(f, "checkpoint.10", "checkpoint");
    copy_file(f, "tree-state.10", "tree-state");
    rm(f, "checkpoints.10");
    rm(f, "checkpoint.10");
    rm(f, "tree-state.10");
    char path[500];
    snprintf(path, sizeof path, "%s/personal/2025-01.index", f->logdir);
    const uint8_t *x;
    size_t xl;
    assert_int_equal(sl__audit_map(path, &x, &xl), 0);
    uint64_t off;
    assert_true(sl__audit_pindex_find(x, xl, 17, &off) >= 0);
    sl__audit_unmap(x, xl);
    truncate_to(f, "personal/2025-01.data", (off_t)off);
    log = open_log(f);
    assert_non_null(log);
    assert_int_equal(sl_audit_size(log), 18); /* 0..16 and the SYSTEM entry */
    assert_int_equal(sl_audit_close(log), 0);
    check_reads(f, 0, 17);
    uint8_t *data;
    size_t len;
    char err[300];
    assert_int_equal(sl_audit_personal_read(f->logdir, 17, &data, &len, err, sizeof err), 1);
    uint64_t n;
    assert_true(verifies(f, &n));
    assert_int_equal(n, 18);
    assert_int_equal(fsize(f, "personal/2025-01.index"), 11 * 16); /* 0,2,3,5,...,14,15 */
}

/* Records of entries that never became durable (the segment lost them) are removed. */
static void test_records_beyond_log(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f);
    append_range(log, 0, 10, JAN);
    assert_int_equal(sl_audit_close(log), 0);
    off_t seg = fsize(f, "seg-00000001.log");
    off_t data = fsize(f, "personal/2025-01.data");
    copy_file(f, "checkpoints", "checkpoints.10");
    copy_file(f, "checkpoint", "checkpoint.10");
    log = open_log(f);
    append_range(log, 10, 20, JAN);
    assert_int_equal(sl_audit_close(log), 0);
    copy_file(f, "checkpoints.10", "checkpoints");
    copy_file(f, "checkpoint.10", "checkpoint");
    truncate_to(f, "seg-00000001.log", seg);
    log = open_log(f);
    assert_non_null(log);
    assert_int_equal(sl_audit_size(log), 10);
    assert_int_equal(fsize(f, "personal/2025-01.data"), data);
    append_range(log, 10, 14, FEB);
    assert_int_equal(sl_audit_close(log), 0);
    check_reads(f, 0, 14);
}

/* Shredding a month: its data file is gone, its key too; reads of its entries say
 * "destroyed" (2); the other month reads; the log verifies; the key is never re-created. */
static void test_shred_files(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f);
    append_range(log, 0, 30, JAN);
    append_range(log, 30, 60, FEB);
    assert_int_equal(sl_audit_close(log), 0);
    char err[300];
    assert_int_equal(sl_audit_shred(f->logdir, "2025-01", err, sizeof err), 0);
    assert_int_equal(fsize(f, "personal/2025-01.data"), -1);
    assert_int_equal(fsize(f, "personal/keys/2025-01.key"), -1);
    uint8_t *data;
    size_t len;
    for (uint64_t i = 0; i < 30; i++)
        assert_int_equal(sl_audit_personal_read(f->logdir, i, &data, &len, err, sizeof err),
                         i % 3 == 1 ? 1 : 2);
    check_reads(f, 30, 60);
    assert_true(verifies(f, NULL));
    log = open_log(f); /* open copes with a month that has only its sidecar */
    assert_non_null(log);
    append_range(log, 60, 63, JAN); /* clock stepped back into the shredded month */
    assert_int_equal(sl_audit_close(log), 0);
    assert_int_equal(fsize(f, "personal/keys/2025-01.key"), -1);
    assert_int_equal(fsize(f, "personal/2025-01.data"), -1);
    assert_int_equal(sl_audit_personal_read(f->logdir, 60, &data, &len, err, sizeof err), 1);
}

/* One batch with records of six months (more than the four data files kept open), the
 * months interleaved: every record lands in its month's file and reads back. */
static void test_many_months(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f);
    const int64_t month = 31LL * 86400 * 1000000;
    char pii[128];
    sl_audit_cork(log); /* one batch */
    for (uint64_t i = 0; i < 60; i++) {
        struct sl_audit_entry e;
        sl_audit_entry_init(&e, SL_AUDIT_QUERY, JAN + (int64_t)(i % 6) * month + (int64_t)i);
        sl_audit_set_str(&e, SL_AF_REF, "WA-1");
        sl_audit_set_str(&e, SL_AF_ORI, "WASP00000");
        sl_audit_set_str(&e, SL_AF_KEY, "DQ");
        int n = person(i, pii, sizeof pii);
        assert_int_equal(sl_audit_append(log, &e, n ? pii : NULL, (size_t)n), (int64_t)i);
    }
    sl_audit_uncork(log);
    assert_int_equal(sl_audit_wait(log, 60), 0);
    struct sl_audit_stats st;
    sl_audit_get_stats(log, &st);
    /* The cork keeps the 60 in one batch as a rule, but the durability thread may already
     * be awake when the cork is set (a loaded CI machine split it in two once).  What this
     * test needs is a batch holding more months than the files kept open: any 6
     * consecutive entries hold all six months, and 60 entries in at most 10 batches
     * always put 6 in one. */
    assert_true(st.batches >= 1 && st.batches <= 10);
    assert_int_equal(sl_audit_close(log), 0);
    check_reads(f, 0, 60);
    assert_true(fsize(f, "personal/2025-06.data") > SL_AUDIT_PDATA_HDR);
    assert_true(fsize(f, "personal/2025-01.data") > SL_AUDIT_PDATA_HDR);
    log = open_log(f); /* and the files check out at open */
    assert_non_null(log);
    assert_int_equal(sl_audit_size(log), 60);
    assert_int_equal(sl_audit_close(log), 0);
    assert_true(verifies(f, NULL));
}

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef TEST_AUDIT_ARCH
/* Make syscall nr fail with errno err in this process from now on (seccomp, as a
 * container's profile does); every other syscall as before.  0 or -1. */
static int refuse_syscall(int nr, int err)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof f / sizeof f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* In a child with syscall nr refused (errno err) and its stderr in DIR/stderr: open the
 * log, append 600 entries over two months (personal data on two of three), close.  The
 * child uses no cmocka assertion (they would jump into the parent's copy of the runner);
 * the parent checks what is on disk and what was logged.  Returns the child's exit status. */
static int run_without(struct fx *f, int nr, int err)
{
    char path[400];
    snprintf(path, sizeof path, "%s/stderr", f->dir);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 2) < 0 || refuse_syscall(nr, err) != 0)
            _exit(10);
        struct sl_audit_log *log = open_log(f);
        if (!log)
            _exit(11);
        char pii[128];
        for (uint64_t i = 0; i < 600; i++) {
            struct sl_audit_entry e;
            sl_audit_entry_init(&e, SL_AUDIT_QUERY, (i < 300 ? JAN : FEB) + (int64_t)i);
            sl_audit_set_str(&e, SL_AF_REF, "WA-1");
            sl_audit_set_str(&e, SL_AF_ORI, "WASP00000");
            sl_audit_set_str(&e, SL_AF_KEY, "DQ");
            int n = person(i, pii, sizeof pii);
            if (sl_audit_append(log, &e, n ? pii : NULL, (size_t)n) != (int64_t)i)
                _exit(12);
            if (i % 50 == 49 && sl_audit_wait(log, i + 1) != 0) /* many batches */
                _exit(13);
        }
        _exit(sl_audit_close(log) == 0 ? 0 : 14);
    }
    assert_true(pid > 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static int logged(struct fx *f, const char *what)
{
    char path[400], buf[8192];
    snprintf(path, sizeof path, "%s/stderr", f->dir);
    FILE *fp = fopen(path, "r");
    size_t n = fp ? fread(buf, 1, sizeof buf - 1, fp) : 0;
    if (fp)
        fclose(fp);
    buf[n] = 0;
    return strstr(buf, what) != NULL;
}
#endif

/* No Linux AIO at all (io_setup refused, as seccomp profiles that predate io_uring do):
 * the log says so once, syncs the data files with plain fdatasyncs before the segment's,
 * and everything is durable, readable and verifies as with AIO. */
static void test_no_aio(void **state)
{
#ifdef TEST_AUDIT_ARCH
    struct fx *f = *state;
    assert_int_equal(run_without(f, SYS_io_setup, ENOSYS), 0);
    assert_true(logged(f, "no Linux AIO"));
    check_reads(f, 0, 600);
    uint64_t n;
    assert_true(verifies(f, &n));
    assert_int_equal(n, 600);
#else
    skip();
#endif
}

/* AIO present but no AIO fsync on this file system (io_submit: EINVAL, as on file systems
 * without it): the first batch falls back and says so, the later ones sync in a row from
 * the start; nothing is lost. */
static void test_no_aio_fsync(void **state)
{
#ifdef TEST_AUDIT_ARCH
    struct fx *f = *state;
    assert_int_equal(run_without(f, SYS_io_submit, EINVAL), 0);
    assert_true(logged(f, "no AIO fdatasync here"));
    assert_false(logged(f, "no Linux AIO"));
    check_reads(f, 0, 600);
    uint64_t n;
    assert_true(verifies(f, &n));
    assert_int_equal(n, 600);
#else
    skip();
#endif
}

/* A data file removed by hand (not by shredding) is damage, and a read says so rather
 * than "destroyed". */
static void test_data_missing(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f);
    append_range(log, 0, 6, JAN);
    assert_int_equal(sl_audit_close(log), 0);
    rm(f, "personal/2025-01.data");
    char err[300] = "";
    uint8_t *data;
    size_t len;
    assert_int_equal(sl_audit_personal_read(f->logdir, 0, &data, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "was not shredded"));
}

/* ---- a log from before the data files: personal.db ------------------------------------- */

/* Write the rows personal.db held (the former format, docs/audit-format.md §8) for entries
 * [from, to) of period: AES-256-GCM under the month's key, AAD as for the data files. */
static void make_legacy_db(struct fx *f, const char *period, uint64_t from, uint64_t to)
{
    char path[500];
    uint8_t key[32];
    snprintf(path, sizeof path, "%s/personal/keys/%s.key", f->logdir, period);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(key, 1, 32, fp), 32);
    fclose(fp);
    snprintf(path, sizeof path, "%s/personal/personal.db", f->logdir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS "
                                  "personal(idx INTEGER PRIMARY KEY, period TEXT NOT NULL, "
                                  "nonce BLOB, ct BLOB, tag BLOB);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO personal VALUES (?,?,?,?,?)", -1, &st, NULL),
                     SQLITE_OK);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    for (uint64_t i = from; i < to; i++) {
        char pii[128];
        int n = person(i, pii, sizeof pii);
        if (!n)
            continue;
        uint8_t nonce[12], ct[128], tag[16], aad[64];
        size_t al = strlen("stateline-audit-personal-v1");
        memcpy(aad, "stateline-audit-personal-v1", al);
        for (int k = 0; k < 8; k++)
            aad[al + (size_t)k] = (uint8_t)(i >> (56 - 8 * k));
        memcpy(aad + al + 8, period, 7);
        int ol = 0, fl = 0;
        assert_int_equal(RAND_bytes(nonce, 12), 1);
        assert_int_equal(EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), key, nonce, NULL), 1);
        assert_int_equal(EVP_EncryptUpdate(c, NULL, &ol, aad, (int)al + 15), 1);
        assert_int_equal(EVP_EncryptUpdate(c, ct, &ol, (const uint8_t *)pii, n), 1);
        assert_int_equal(EVP_EncryptFinal_ex(c, ct + ol, &fl), 1);
        assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)i);
        sqlite3_bind_text(st, 2, period, 7, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, nonce, 12, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, ct, ol + fl, SQLITE_STATIC);
        sqlite3_bind_blob(st, 5, tag, 16, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    }
    EVP_CIPHER_CTX_free(c);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static int legacy_rows_from(struct fx *f, uint64_t from)
{
    char path[500];
    snprintf(path, sizeof path, "%s/personal/personal.db", f->logdir);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM personal WHERE idx >= ?", -1,
                                        &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* A log whose January entries have their personal data in personal.db (as the former
 * appender wrote it): read by index from it, appended to with data files, its rows past the
 * log trimmed at open, its entries' records found by open's check, shredded as before. */
static void test_legacy_db(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f);
    assert_int_equal(sl_audit_close(log), 0); /* the checkpoint of size 0 */
    copy_file(f, "checkpoints", "checkpoints.0");
    copy_file(f, "checkpoint", "checkpoint.0");
    log = open_log(f);
    append_range(log, 0, 30, JAN); /* creates the month key, the entries and data files */
    assert_int_equal(sl_audit_close(log), 0);
    /* turn it into a former log: the same records as rows, no data files, and the
     * checkpoint back at 0 so that open looks for every entry's personal part */
    copy_file(f, "checkpoints.0", "checkpoints");
    copy_file(f, "checkpoint.0", "checkpoint");
    make_legacy_db(f, "2025-01", 0, 30);
    rm(f, "personal/2025-01.data");
    rm(f, "personal/2025-01.index");
    check_reads(f, 0, 30);
    make_legacy_db(f, "2025-01", 35, 36); /* a row of an entry that never became durable */
    assert_int_equal(legacy_rows_from(f, 30), 1);
    log = open_log(f);
    assert_non_null(log);
    assert_int_equal(sl_audit_size(log), 30); /* every entry's record found in the db */
    assert_int_equal(legacy_rows_from(f, 30), 0);
    append_range(log, 30, 60, FEB);
    assert_int_equal(sl_audit_close(log), 0);
    check_reads(f, 0, 60);
    assert_int_equal(fsize(f, "personal/2025-01.data"), -1); /* the db is not migrated */
    char err[300];
    uint8_t *data;
    size_t len;
    assert_int_equal(sl_audit_shred(f->logdir, "2025-01", err, sizeof err), 0);
    for (uint64_t i = 0; i < 30; i++)
        assert_int_equal(sl_audit_personal_read(f->logdir, i, &data, &len, err, sizeof err),
                         i % 3 == 1 ? 1 : 2);
    check_reads(f, 30, 60);
    assert_true(verifies(f, NULL));
}

/* Personal data over the limit is refused with the entry, and the log goes on. */
static void test_too_large(void **state)
{
    struct fx *f = *state;
    struct sl_audit_log *log = open_log(f);
    size_t big = SL_AUDIT_MAX_PERSONAL + 1;
    char *p = calloc(1, big);
    struct sl_audit_entry e;
    sl_audit_entry_init(&e, SL_AUDIT_QUERY, JAN);
    sl_audit_set_str(&e, SL_AF_REF, "R");
    sl_audit_set_str(&e, SL_AF_ORI, "WASP00000");
    sl_audit_set_str(&e, SL_AF_KEY, "DQ");
    errno = 0;
    assert_int_equal(sl_audit_append(log, &e, p, big), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(sl_audit_append(log, &e, p, big - 1), 0);
    free(p);
    assert_int_equal(sl_audit_close(log), 0);
    char err[300];
    uint8_t *data;
    size_t len;
    assert_int_equal(sl_audit_personal_read(f->logdir, 0, &data, &len, err, sizeof err), 0);
    assert_int_equal(len, big - 1);
    free(data);
}

/* ---- the format functions, on hand-made bytes ------------------------------------------- */

static size_t put_rec(uint8_t *b, uint64_t index, uint32_t ctlen)
{
    uint32_t bl = SL_AUDIT_PREC_MIN + ctlen;
    memset(b + 8, 0xab, bl);
    for (int i = 0; i < 8; i++)
        b[8 + i] = (uint8_t)(index >> (56 - 8 * i));
    uint32_t crc = sl_audit_crc32c(0, b + 8, bl);
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(bl >> (24 - 8 * i));
        b[4 + i] = (uint8_t)(crc >> (24 - 8 * i));
    }
    return 8 + bl;
}

static int count_rec(const struct sl__audit_prec *r, uint64_t off, void *arg)
{
    (void)r;
    (void)off;
    ++*(int *)arg;
    return 0;
}

static void test_format(void **state)
{
    (void)state;
    uint8_t b[1024];
    sl__audit_pdata_header("2026-11", b);
    assert_memory_equal(b, "SLPDATA12026-11\n", 16);
    assert_int_equal(sl__audit_pdata_check_header(b, 16, "2026-11"), 0);
    assert_int_equal(sl__audit_pdata_check_header(b, 16, "2026-12"), -1);
    assert_int_equal(sl__audit_pdata_check_header(b, 15, NULL), -1);
    size_t n = 16;
    n += put_rec(b + n, 5, 10);
    n += put_rec(b + n, 9, 0);
    size_t good = n;
    n += put_rec(b + n, 9, 3); /* not ascending */
    struct sl__audit_prec r;
    assert_int_equal(sl__audit_pdata_record(b, n, 16, &r), 0);
    assert_int_equal(r.index, 5);
    assert_int_equal(r.ctlen, 10);
    assert_int_equal(r.total, 8 + SL_AUDIT_PREC_MIN + 10);
    assert_ptr_equal(r.tag, b + 16 + 8 + 20 + 10);
    int cnt = 0;
    assert_int_equal(sl__audit_pdata_scan(b, n, 16, UINT64_MAX, count_rec, &cnt), good);
    assert_int_equal(cnt, 2);
    assert_int_equal(sl__audit_pdata_scan(b, good - 1, 16, UINT64_MAX, NULL, NULL), 16 + r.total);
    b[20] ^= 1; /* CRC */
    assert_int_equal(sl__audit_pdata_record(b, n, 16, &r), -1);
    b[20] ^= 1;
    b[16] = 0xff; /* length out of range */
    assert_int_equal(sl__audit_pdata_record(b, n, 16, &r), -1);
    assert_int_equal(sl__audit_pdata_record(b, n, n + 5, &r), -1);
    uint8_t x[48] = {0};
    x[7] = 3, x[15] = 16, x[23] = 5, x[31] = 70, x[39] = 9, x[47] = 99;
    uint64_t off;
    assert_int_equal(sl__audit_pindex_find(x, 48, 5, &off), 1);
    assert_int_equal(off, 70);
    assert_int_equal(sl__audit_pindex_find(x, 48, 9, &off), 2);
    assert_int_equal(sl__audit_pindex_find(x, 48, 4, &off), -1);
    assert_int_equal(sl__audit_pindex_find(x, 0, 3, &off), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sidecar_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_between_syncs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_beyond_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shred_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_months, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_aio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_aio_fsync, setup, teardown),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
