/*
 * inbox_cost.c - the gateway inbox's cost on a fixed workload (docs/performance.md, "End
 * to end", item 2 of what remains; docs/gateway.md §5.1).
 *
 *   stateline-inbox-cost [--queries N] [--read K] [--ack A] [--dir DIR]
 *
 * Drives src/gateway/gw_inbox.c and gw_ilog.c (a real inbox log DATA/inbox/ and
 * gateway.db in DIR, default a new temporary folder, removed afterwards) the way the
 * gateway's loop does: reads of K frames of 300 bytes, each taken with its switch message
 * id and written as the read's row (one READ record); every A queries an acknowledgement
 * pass: each reply (1,024 bytes) done, the pass flushed (one BATCH record).  The
 * gw_queue_commit calls are the loop's (gateway.db's transaction of the pass: nothing to
 * commit here since the inbox left gateway.db).  Prints the CPU time (user + system) per query: the cost of keeping a
 * query durable from its read to its acknowledged reply, without the rest of the gateway.
 * Defaults: 40,000 queries, K = 8, A = 8.  `bench e2e` at 10,000 queries/s reads about 4
 * queries per read and acknowledges about 80 per pass (counted with uprobes).
 *
 * The same workload against the per-query tables of the version before (one INSERT and two
 * look-ups per frame, a DELETE and an INSERT per reply, commits as above) is how the
 * "before" figures of the first pass were taken (commit 01280fc, its gw_queue_inbox_add,
 * _mid_seen, _inbox_done, _answered); this very file built at f5f16ce (gateway.db's
 * inbox_read and answered_batch rows) is the "before" of the log (docs/performance.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gateway/gw_int.h"
#include "stateline/core.h"

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
    long n = 40000, k = 8, a = 8;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--queries"))
            n = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--read"))
            k = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--ack"))
            a = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--dir"))
            dir = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--queries N] [--read K] [--ack A] [--dir DIR]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n < 1 || k < 1 || a < 1) {
        fprintf(stderr, "inbox_cost: --queries, --read and --ack must be at least 1\n");
        return 2;
    }
    char tmp[] = "/tmp/sl-inbox-cost-XXXXXX";
    if (!dir && !(dir = mkdtemp(tmp))) {
        perror("inbox_cost: mkdtemp");
        return 1;
    }
    char err[512];
    struct gw_queue *q = gw_queue_open(dir, err, sizeof err);
    struct gw_inbox *ib = q ? gw_inbox_open(q) : NULL;
    if (!ib) {
        fprintf(stderr, "inbox_cost: %s\n", q ? "cannot read the inbox" : err);
        gw_queue_close(q);
        return 1;
    }
    static uint8_t frame[300], reply[1024];
    memset(frame, 'F', sizeof frame);
    memset(reply, 'R', sizeof reply);
    int64_t *rows = sl_xmalloc((size_t)n * sizeof *rows);
    const uint64_t base = 1ull << 40;
    long acked = 0;
    double t0 = cpu_s();
    for (long i = 0; i < n; i += k) {
        long end = i + k < n ? i + k : n;
        uint8_t *r;
        size_t rl;
        for (long j = i; j < end; j++)
            if (gw_inbox_take(ib, frame, sizeof frame, base + (uint64_t)j, &r, &rl) !=
                GW_INBOX_SHARED) {
                fprintf(stderr, "inbox_cost: query %ld not new\n", j);
                return 1;
            }
        int64_t row = gw_inbox_read_end(ib);
        gw_queue_commit(q);
        for (long j = i; j < end; j++)
            rows[j] = row;
        if (end - acked >= a || end == n) {
            for (; acked < end; acked++)
                gw_inbox_done(ib, rows[acked], base + (uint64_t)acked, reply, sizeof reply);
            gw_inbox_flush(ib);
            gw_queue_commit(q);
        }
    }
    double t = cpu_s() - t0;
    printf("inbox: %ld queries, reads of %ld, acknowledgement passes of %ld: %.2f us CPU "
           "per query\n", n, k, a, t * 1e6 / (double)n);
    free(rows);
    gw_inbox_free(ib);
    gw_queue_close(q);
    if (dir == tmp) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "inbox_cost: could not remove %s\n", tmp);
    }
    return 0;
}
