/*
 * diskwatch.c - the disk's flush time *during* a measurement, for `stateline bench e2e`
 * (and on its own, for `stateline bench disk`: disk.c).
 *
 * Every reply of the end-to-end path waits for the gateway's audit batch to be made durable
 * (one fdatasync of the segment, beside the personal data's). A slow flush therefore shows
 * in the p99 of every query in flight at that moment, and on a virtio disk a flush is a
 * barrier for the whole device: it waits for what every process on the machine has written.
 * The set-up's probe (e2e.c, fsync_probe) says what a flush costs on an idle disk; this one
 * says what it cost while the measurement ran, so that a tail made by the disk can be told
 * from a tail made by our code in the same report.
 *
 * A thread appends 200 bytes to DIR/disk-watch and fdatasyncs it every `period_ms` (50 ms
 * by default in e2e: 20 syncs a second, beside the thousands the gateway makes, so it adds
 * nothing the disk would notice). Each sync's time goes into a histogram (µs). A stall of
 * the device longer than the period is seen by at least one sync; a shorter one may fall
 * between two. The file is removed at the stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench_int.h"
#include "stateline/core.h"

struct bench_diskwatch {
    pthread_t thread;
    int64_t t0_ns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int fd;
    int period_ms;
    char path[600];
    struct bench_disk_stats st; /* written by the thread, read after the join */
};

static void *watch(void *arg)
{
    struct bench_diskwatch *w = arg;
    sl_thread_name("sl-diskwatch");
    char rec[200];
    memset(rec, 'w', sizeof rec);
    rec[sizeof rec - 1] = '\n';
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        pthread_mutex_unlock(&w->mu);
        int64_t a = sl_now_ns();
        int ok = sl_write_all(w->fd, rec, sizeof rec) == 0 && fdatasync(w->fd) == 0;
        int64_t us = (sl_now_ns() - a) / 1000;
        if (!ok) {
            w->st.errors++;
        } else {
            sl_hist_record(&w->st.hist, (uint64_t)us);
            w->st.syncs++;
            if (us > 2000) {
                w->st.over_2ms++;
                w->st.beyond_2ms_us += (uint64_t)(us - 2000);
            }
            if (us > 20000)
                w->st.over_20ms++;
        }
        struct timespec dl;
        sl_deadline_after_ms(&dl, w->period_ms);
        pthread_mutex_lock(&w->mu);
        while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &dl) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int bench_diskwatch_start(const char *dir, int period_ms, struct bench_diskwatch **out)
{
    *out = NULL;
    struct bench_diskwatch *w = sl_xcalloc(1, sizeof *w);
    snprintf(w->path, sizeof w->path, "%s/disk-watch", dir);
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        free(w);
        return -1;
    }
    w->period_ms = period_ms > 0 ? period_ms : 50;
    w->t0_ns = sl_now_ns();
    sl_hist_init(&w->st.hist);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* sl_deadline_after_ms's clock */
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, watch, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        close(w->fd);
        unlink(w->path);
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

void bench_diskwatch_stop(struct bench_diskwatch *w, struct bench_disk_stats *st)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->st.span_us = (sl_now_ns() - w->t0_ns) / 1000;
    if (st)
        *st = w->st;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    close(w->fd);
    unlink(w->path);
    free(w);
}

double bench_disk_stalled_pct(const struct bench_disk_stats *st)
{
    return st->span_us > 0 ? 100.0 * (double)st->beyond_2ms_us / (double)st->span_us : 0;
}

json_t *bench_disk_stats_json(const struct bench_disk_stats *st)
{
    json_t *j = json_object();
    json_object_set_new(j, "syncs", json_integer((json_int_t)st->syncs));
    if (st->syncs) {
        json_object_set_new(j, "p50_ms",
                            json_real((double)sl_hist_percentile(&st->hist, 50) / 1000));
        json_object_set_new(j, "p90_ms",
                            json_real((double)sl_hist_percentile(&st->hist, 90) / 1000));
        json_object_set_new(j, "p99_ms",
                            json_real((double)sl_hist_percentile(&st->hist, 99) / 1000));
        json_object_set_new(j, "p99_9_ms",
                            json_real((double)sl_hist_percentile(&st->hist, 99.9) / 1000));
        json_object_set_new(j, "max_ms",
                            json_real((double)sl_hist_percentile(&st->hist, 100) / 1000));
    }
    json_object_set_new(j, "over_2ms", json_integer((json_int_t)st->over_2ms));
    json_object_set_new(j, "over_20ms", json_integer((json_int_t)st->over_20ms));
    json_object_set_new(j, "stalled_over_2ms_pct",
                        json_real(round(bench_disk_stalled_pct(st) * 1e6) / 1e6));
    if (st->errors)
        json_object_set_new(j, "errors", json_integer((json_int_t)st->errors));
    return j;
}
