/*
 * policy_rate.c - query counts for the rate conditions of a policy (P-22):
 * `requester.queries per hour > 50`, `user.queries per day > 200`.
 *
 * The policy itself stays a pure function of the request (policy.c); what it reads here
 * is counted by the caller (the gateway, the simulator) with these counters and handed
 * over in the request (has_counts, ori_queries[], user_queries[]).
 *
 * One table per (dimension, window) a policy uses: ORI or user (ORI + "/" + ATN text),
 * and minute, hour or day.  An entry keeps its window in 60 steps (1 s, 60 s, 1,440 s)
 * as a ring of step counts and their sum: adding a query first clears the steps that
 * have passed since the entry's last one, so a count is always "this step and the 59
 * before it".  Exact for a fixed-step window; a query stops counting 59 to 60 steps after
 * it arrived.  Open addressing, linear probing, keys copied into the entries (48 bytes:
 * an ORI is 9, a user key is cut at 47).  Why not a timestamp per query: an hour of a
 * busy federal ORI is tens of thousands of queries; a ring is 240 bytes whatever the load.
 *
 * Bounds: a table grows by doubling up to max_keys entries at three quarters full; a
 * full table first drops every entry whose count has gone back to zero (the window has
 * passed since its last query), then grows, and a key that still finds no room is not
 * counted (-1: the caller's conditions fail closed).
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"
#include "stateline/core.h"

#define STEPS 60
#define KEYLEN 48
#define MIN_CAP 256

static const int64_t win_seconds[SL_WIN_COUNT] = {60, 3600, 86400};

const char *sl_policy_window_name(int w)
{
    static const char *const names[SL_WIN_COUNT] = {"minute", "hour", "day"};
    return w >= 0 && w < SL_WIN_COUNT ? names[w] : NULL;
}

struct rent {
    char key[KEYLEN];  /* "" = empty slot */
    int64_t step;      /* the newest step counted (Unix time / step length) */
    uint32_t total;    /* sum of b[] */
    uint32_t b[STEPS]; /* step counts, b[step % STEPS] */
};

struct rtable {
    struct rent *e;
    size_t cap, n;     /* cap a power of two (0 before the first use) */
    int64_t swept;     /* the step of the last drop pass at full size (one per step) */
};

struct sl_policy_counts {
    size_t max_keys;
    struct rtable t[2][SL_WIN_COUNT]; /* [0 ORI, 1 user][window] */
};

struct sl_policy_counts *sl_policy_counts_new(size_t max_keys)
{
    struct sl_policy_counts *c = sl_xcalloc(1, sizeof *c);
    c->max_keys = max_keys < MIN_CAP ? MIN_CAP : max_keys;
    return c;
}

void sl_policy_counts_free(struct sl_policy_counts *c)
{
    if (!c)
        return;
    for (int d = 0; d < 2; d++)
        for (int w = 0; w < SL_WIN_COUNT; w++)
            free(c->t[d][w].e);
    free(c);
}

size_t sl_policy_counts_keys(const struct sl_policy_counts *c)
{
    size_t n = 0;
    for (int d = 0; d < 2; d++)
        for (int w = 0; w < SL_WIN_COUNT; w++)
            n += c->t[d][w].n;
    return n;
}

static uint64_t hash_key(const char *k)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *k; k++) {
        h ^= (unsigned char)*k;
        h *= 1099511628211ull;
    }
    return h;
}

/* Bring an entry's ring up to `step`: the steps that passed since its newest are
 * emptied (all of them when a whole window passed). */
static void advance(struct rent *e, int64_t step)
{
    if (step <= e->step)
        return;
    if (step - e->step >= STEPS) {
        memset(e->b, 0, sizeof e->b);
        e->total = 0;
    } else {
        for (int64_t s = e->step + 1; s <= step; s++) {
            uint32_t *x = &e->b[s % STEPS];
            e->total -= *x;
            *x = 0;
        }
    }
    e->step = step;
}

static struct rent *slot_of(struct rent *tab, size_t cap, const char *key)
{
    size_t i = (size_t)hash_key(key) & (cap - 1);
    while (tab[i].key[0] && strcmp(tab[i].key, key) != 0)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

/* Rebuild t with capacity cap, keeping the entries whose count at `step` is not zero. */
static void rebuild(struct rtable *t, size_t cap, int64_t step)
{
    struct rent *old = t->e;
    size_t ocap = t->cap;
    t->e = sl_xcalloc(cap, sizeof *t->e);
    t->cap = cap;
    t->n = 0;
    for (size_t i = 0; i < ocap; i++) {
        struct rent *e = &old[i];
        if (!e->key[0])
            continue;
        advance(e, step);
        if (e->total == 0)
            continue;
        *slot_of(t->e, cap, e->key) = *e;
        t->n++;
    }
    free(old);
}

/* The entry for key, made if need be; NULL when the table has no room. */
static struct rent *find_or_add(struct rtable *t, size_t max_keys, const char *key,
                                int64_t step)
{
    if (t->cap) {
        struct rent *e = slot_of(t->e, t->cap, key);
        if (e->key[0])
            return e;
    }
    if (!t->cap || (t->n + 1) * 4 > t->cap * 3) {
        size_t cap = t->cap ? t->cap : MIN_CAP;
        /* the entries gone quiet go first (at full size, once a step: a table of keys
         * all still counting is not rebuilt for every new one); then double, while that
         * keeps to max_keys */
        int full = cap * 3 / 4 >= max_keys;
        if (t->cap && (!full || t->swept != step)) {
            rebuild(t, cap, step);
            t->swept = step;
        }
        while ((t->n + 1) * 4 > cap * 3 && cap * 3 / 4 < max_keys)
            cap *= 2;
        if (cap != t->cap)
            rebuild(t, cap, step);
        if ((t->n + 1) * 4 > t->cap * 3)
            return NULL;
    }
    struct rent *e = slot_of(t->e, t->cap, key);
    memset(e, 0, sizeof *e);
    sl_strlcpy(e->key, key, sizeof e->key);
    e->step = step;
    t->n++;
    return e;
}

/* Count one query in table t; *out gets the window's count.  -1 when no room. */
static int count_one(struct sl_policy_counts *c, int d, int w, const char *key, int64_t now_s,
                     uint32_t *out)
{
    int64_t step = now_s / (win_seconds[w] / STEPS);
    struct rtable *t = &c->t[d][w];
    struct rent *e = find_or_add(t, c->max_keys, key, step);
    if (!e)
        return -1;
    advance(e, step); /* a time before e->step counts in the newest step */
    e->b[e->step % STEPS]++;
    e->total++;
    *out = e->total;
    return 0;
}

int sl_policy_counts_add(struct sl_policy_counts *c, uint32_t uses, int64_t now_s,
                         const char *ori, const char *user, size_t ulen,
                         struct sl_policy_request *r)
{
    const uint32_t ori_bits = (1u << SL_WIN_COUNT) - 1, user_bits = ori_bits << SL_WIN_COUNT;
    int rc = 0, ori_ok = (uses & ori_bits) != 0, user_ok = ulen > 0 && (uses & user_bits);
    char ukey[KEYLEN];
    r->has_counts = r->has_user_counts = 0;
    if (!ori || !ori[0] || strlen(ori) > SL_ORI_LEN)
        return 0; /* no requester: its conditions fail on that already */
    if (user_ok) {
        /* ORI + "/" + the ATN text as given (cut to fit) */
        size_t ol = strlen(ori);
        size_t room = sizeof ukey - ol - 2;
        size_t ul = ulen < room ? ulen : room;
        memcpy(ukey, ori, ol);
        ukey[ol] = '/';
        memcpy(ukey + ol + 1, user, ul);
        ukey[ol + 1 + ul] = '\0';
    }
    for (int w = 0; w < SL_WIN_COUNT; w++) {
        if (uses & SL_POLICY_USES_ORI(w)) {
            if (count_one(c, 0, w, ori, now_s, &r->ori_queries[w]) != 0) {
                ori_ok = 0;
                rc = -1;
            }
        }
        if ((uses & SL_POLICY_USES_USER(w)) && ulen) {
            if (count_one(c, 1, w, ukey, now_s, &r->user_queries[w]) != 0) {
                user_ok = 0;
                rc = -1;
            }
        }
    }
    r->has_counts = ori_ok;
    r->has_user_counts = user_ok;
    return rc;
}
