/*
 * hist.c - the log-linear latency histogram (see stateline/hist.h for the layout).
 */
#include <string.h>
#include <math.h>

#include "stateline/hist.h"

/* Bucket of v: 0 for v < 256, else the number of bits above the top 8. */
static unsigned bucket_of(uint64_t v)
{
    uint64_t x = v | ((1u << SL_HIST_SUB_BITS) - 1);
    return (unsigned)(64 - __builtin_clzll(x) - SL_HIST_SUB_BITS);
}

static size_t slot_of(uint64_t v)
{
    if (v > SL_HIST_MAX)
        v = SL_HIST_MAX;
    unsigned b = bucket_of(v);
    uint64_t sub = v >> b; /* 128..255, or 0..255 in bucket 0 */
    return ((size_t)(b + 1) << (SL_HIST_SUB_BITS - 1)) + (size_t)(sub - SL_HIST_HALF);
}

/* Lowest value of a slot and the slot's width. */
static void slot_range(size_t i, uint64_t *lo, uint64_t *width)
{
    if (i < 2 * SL_HIST_HALF) { /* bucket 0: one slot per value 0..255 */
        *lo = i;
        *width = 1;
        return;
    }
    unsigned b = (unsigned)(i >> (SL_HIST_SUB_BITS - 1)) - 1;
    uint64_t sub = (i & (SL_HIST_HALF - 1)) + SL_HIST_HALF;
    *lo = sub << b;
    *width = (uint64_t)1 << b;
}

void sl_hist_init(struct sl_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void sl_hist_record(struct sl_hist *h, uint64_t v)
{
    h->slots[slot_of(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void sl_hist_merge(struct sl_hist *dst, const struct sl_hist *src)
{
    for (size_t i = 0; i < SL_HIST_SLOTS; i++)
        dst->slots[i] += src->slots[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t sl_hist_highest_equivalent(uint64_t v)
{
    uint64_t lo, width;
    slot_range(slot_of(v), &lo, &width);
    return lo + width - 1;
}

uint64_t sl_hist_percentile(const struct sl_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p > 100.0)
        p = 100.0;
    /* Rank of the wanted value, 1-based: ceil(p/100 * count), at least 1. */
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (size_t i = 0; i < SL_HIST_SLOTS; i++) {
        seen += h->slots[i];
        if (seen >= rank) {
            uint64_t lo, width;
            slot_range(i, &lo, &width);
            uint64_t v = lo + width - 1;
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

double sl_hist_mean(const struct sl_hist *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}
