/*
 * hist.h - a log-linear latency histogram in the style of HdrHistogram, fixed memory.
 *
 * Values are non-negative integers in a unit chosen by the caller (the benchmark records
 * microseconds).  Every value from 0 to SL_HIST_MAX (about 66.8 million: more than 60 s
 * in microseconds) is counted in a bucket whose width is at most 1/128 of the values it
 * holds, so any reported percentile is within 0.79% of the exact one: two significant
 * decimal digits, as HdrHistogram's "2 significant digits" setting gives.  Values above
 * SL_HIST_MAX are counted in the top bucket (and `max` keeps the exact largest value).
 *
 * Layout (HdrHistogram's, unit magnitude 0, sub-bucket count 256): values below 256 each
 * have their own slot; above, bucket b (1..18) covers [128 << b, 256 << b) in 128 slots of
 * width 1 << b.  2,560 counters of 8 bytes: 20 KiB, whatever the number of values.
 *
 * The struct owns no heap memory; it can live on the stack or inside another struct.
 */
#ifndef STATELINE_HIST_H
#define STATELINE_HIST_H

#include <stdint.h>

#define SL_HIST_SUB_BITS 8                            /* 256 sub-buckets */
#define SL_HIST_HALF (1 << (SL_HIST_SUB_BITS - 1))     /* 128 */
#define SL_HIST_BUCKETS 19
#define SL_HIST_SLOTS ((SL_HIST_BUCKETS + 1) * SL_HIST_HALF)
#define SL_HIST_MAX ((((uint64_t)1 << SL_HIST_SUB_BITS) << (SL_HIST_BUCKETS - 1)) - 1)

struct sl_hist {
    uint64_t count;
    uint64_t min;     /* exact; UINT64_MAX when empty */
    uint64_t max;     /* exact */
    double sum;       /* for the mean */
    uint64_t slots[SL_HIST_SLOTS];
};

void sl_hist_init(struct sl_hist *h);
void sl_hist_record(struct sl_hist *h, uint64_t v);
/* Add every value of src into dst. */
void sl_hist_merge(struct sl_hist *dst, const struct sl_hist *src);
/* The value at percentile p (0 < p <= 100): the smallest recorded value v such that at
 * least p% of the values are <= v, reported as the largest value equivalent to it (the top
 * of its slot, capped at the exact max).  0 for an empty histogram. */
uint64_t sl_hist_percentile(const struct sl_hist *h, double p);
double sl_hist_mean(const struct sl_hist *h);
/* Largest value counted in the same slot as v (exposed for tests). */
uint64_t sl_hist_highest_equivalent(uint64_t v);

#endif
