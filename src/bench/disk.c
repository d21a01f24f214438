/*
 * disk.c - `stateline bench disk`: what a flush costs on this file system, with nothing of
 * ours running.
 *
 * Every reply of the end-to-end path waits for an fdatasync (the durable audit barrier,
 * docs/audit-format.md), so the flush time of the audit log's disk is a floor under F-2's
 * p99: no code of ours can answer faster than the disk makes an entry durable. This
 * scenario measures that floor on its own, for as long as asked (a stall that comes once
 * a minute needs minutes to be seen), in a temporary directory made inside DIR (so that
 * DIR's file system is the one measured) and removed after. The measuring thread is
 * diskwatch.c's, the same one that reports `disk_during` beside every e2e measurement:
 * it appends 200 bytes and fdatasyncs them every period_ms.
 *
 * Report (--json): {"scenario": "disk", "dir", "fs", "duration_s", "period_ms",
 * "interrupted", "disk": {syncs, p50_ms, p90_ms, p99_ms, p99_9_ms, max_ms, over_2ms,
 * over_20ms, stalled_over_2ms_pct[, errors]}, "machine": {...}}.  stalled_over_2ms_pct is
 * the one to hold against F-2 (bench_int.h): the share of the time at which a flush in
 * flight still had more than 2 ms to go.  A stall stops every reply in flight, not one in
 * a thousand syncs, so it weighs by its length: 2.5 s of stalls in a minute are 4 % of
 * the queries of that minute, whatever the syncs' own p99 says.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "bench_int.h"
#include "stateline/bench.h"
#include "stateline/core.h"

/* The file system's name from statfs's magic number (linux/magic.h), for the report:
 * the same disk reads very differently through tmpfs, ext4 or an overlay. */
static const char *fs_name(const char *dir)
{
    struct statfs s;
    if (statfs(dir, &s) != 0)
        return "unknown";
    switch ((unsigned long)s.f_type) {
    case 0xEF53UL:
        return "ext4"; /* ext2/3/4 share the magic */
    case 0x58465342UL:
        return "xfs";
    case 0x9123683EUL:
        return "btrfs";
    case 0x01021994UL:
        return "tmpfs";
    case 0x794C7630UL:
        return "overlayfs";
    case 0x6969UL:
        return "nfs";
    case 0x2FC12FC1UL:
        return "zfs";
    case 0xF2F52010UL:
        return "f2fs";
    default:
        return "other";
    }
}

static double ms(const struct bench_disk_stats *st, double p)
{
    return (double)sl_hist_percentile(&st->hist, p) / 1000;
}

int sl_bench_disk(const struct sl_bench_disk_opts *o)
{
    struct stat sb;
    if (stat(o->dir, &sb) != 0) {
        fprintf(stderr, "stateline bench disk: %s: %s\n", o->dir, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "stateline bench disk: %s: not a directory\n", o->dir);
        return 1;
    }
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s/stateline-bench-XXXXXX", o->dir) >= (int)sizeof tmp) {
        fprintf(stderr, "stateline bench disk: %s: path too long\n", o->dir);
        return 1;
    }
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "stateline bench disk: cannot make a directory in %s: %s\n", o->dir,
                strerror(errno));
        return 1;
    }
    /* SIGINT/SIGTERM end the measurement early (the report says so): blocked before the
     * thread starts, so that it inherits the mask and only sigtimedwait below takes them. */
    sigset_t mask, old;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    struct bench_diskwatch *w = NULL;
    if (bench_diskwatch_start(tmp, o->period_ms, &w) != 0) {
        int e = errno;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        rmdir(tmp);
        fprintf(stderr, "stateline bench disk: cannot write in %s: %s\n", o->dir, strerror(e));
        return 1;
    }
    if (!o->json)
        printf("stateline bench disk: 200 bytes appended and fdatasync'd every %d ms for "
               "%.1f s in %s (%s)\n",
               o->period_ms, o->duration_s, o->dir, fs_name(tmp));
    int64_t start = sl_now_ns();
    int64_t end = start + (int64_t)(o->duration_s * 1e9);
    int interrupted = 0;
    for (;;) {
        int64_t left = end - sl_now_ns();
        if (left <= 0)
            break;
        struct timespec ts = {left / 1000000000, left % 1000000000};
        int sig = sigtimedwait(&mask, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            interrupted = 1;
            break;
        }
        /* EAGAIN: the time is up; EINTR: another signal, wait on */
    }
    struct bench_disk_stats st;
    bench_diskwatch_stop(w, &st);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    const char *fs = fs_name(tmp);
    rmdir(tmp);
    if (interrupted)
        fprintf(stderr, "stateline bench disk: interrupted after %.1f s: the figures are of "
                        "that time\n", (double)(sl_now_ns() - start) / 1e9);

    if (o->json) {
        json_t *r = json_object();
        json_object_set_new(r, "scenario", json_string("disk"));
        json_object_set_new(r, "dir", json_string(o->dir));
        json_object_set_new(r, "fs", json_string(fs));
        json_object_set_new(r, "duration_s", json_real(o->duration_s));
        json_object_set_new(r, "period_ms", json_integer(o->period_ms));
        json_object_set_new(r, "interrupted", json_boolean(interrupted));
        json_object_set_new(r, "disk", bench_disk_stats_json(&st));
        json_object_set_new(r, "machine", bench_machine_json());
        char *t = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(t);
        free(t);
        json_decref(r);
    } else if (st.syncs) {
        printf("\n%10s %9s %9s %9s %9s %9s %9s %9s %12s\n", "syncs", "p50 ms", "p90 ms",
               "p99 ms", "p99.9 ms", "max ms", ">2 ms", ">20 ms", "stalled >2ms");
        printf("%10llu %9.3f %9.3f %9.3f %9.3f %9.3f %9llu %9llu %11.3f%%\n",
               (unsigned long long)st.syncs, ms(&st, 50), ms(&st, 90), ms(&st, 99),
               ms(&st, 99.9), ms(&st, 100), (unsigned long long)st.over_2ms,
               (unsigned long long)st.over_20ms, bench_disk_stalled_pct(&st));
        printf("\nEvery reply of the end-to-end path waits for one such flush (the durable "
               "audit barrier).\nFor %.3f %% of the time a flush in flight still had more "
               "than 2 ms to go: a reply\narriving then waits longer than F-2's bound, so "
               "above 1 %% no code can have a p99\nunder 2 ms on this disk.\n",
               bench_disk_stalled_pct(&st));
    }
    if (st.errors) {
        fprintf(stderr, "stateline bench disk: %llu writes or fdatasyncs failed in %s\n",
                (unsigned long long)st.errors, o->dir);
        return 1;
    }
    if (!st.syncs) {
        fprintf(stderr, "stateline bench disk: no flush finished (interrupted at once?)\n");
        return interrupted ? 130 : 1;
    }
    return interrupted ? 130 : 0;
}
