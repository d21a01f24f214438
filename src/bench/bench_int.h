/*
 * bench_int.h - what the parts of `stateline bench` share inside src/bench.
 */
#ifndef STATELINE_BENCH_INT_H
#define STATELINE_BENCH_INT_H

#include <stddef.h>
#include "stateline/bench.h"
#include "stateline/conn.h"
#include "stateline/msg.h"

#define BENCH_MAX_CONNS 64

/* The generator's lines: each a terminal line with its own sender ORI. */
struct bench_gen {
    int n;
    struct sl_conn *c[BENCH_MAX_CONNS];
    char ori[BENCH_MAX_CONNS][SL_ORI_LEN + 1];
};

/* Dial n terminal lines of `member` (blocking), then make them non-blocking. */
int bench_gen_connect(struct bench_gen *g, const char *hostport, struct sl_tls *tls,
                      const char *member, int n, char *err, size_t errlen);
void bench_gen_close(struct bench_gen *g);
/* One open-loop run at `rate` for `duration_s`; replies to queries due in the first
 * warmup_s seconds are counted but not timed; sfd: a signalfd that interrupts.
 * 0 done, 1 interrupted, -1 a line failed (res->first_error says why). */
int bench_gen_run(struct bench_gen *g, char run, double rate, double duration_s,
                  double warmup_s, int sfd, struct sl_bench_run *res);
/* Size of one DQ as the generator writes it (without the frame header). */
size_t bench_query_bytes(void);

#endif
