/*
 * population.h - synthetic driver and vehicle records for one state (G-3), and the
 * writer that loads them into a store file (store.h, docs/records.md).
 *
 * Every record is a function of (seed, state, as-of date, driver number, the running
 * vehicle counter): the same options give byte-identical rows on any machine.  The
 * generator streams: it holds the tables and a few counters, never the population, so
 * tens of millions of drivers need no more memory than ten.
 *
 * Randomness: xoshiro256** seeded by splitmix64 (Blackman & Vigna), one stream per
 * driver (seeded from seed ^ driver number), so that changing how many values one
 * driver consumes never shifts the others.  Unique identifiers (licence numbers,
 * plates, SSNs, VIN serials) are a keyed Feistel permutation of a counter over the
 * format's number space, so they are unique by construction and look random.
 */
#ifndef STATELINE_POPULATION_H
#define STATELINE_POPULATION_H

#include <stddef.h>
#include <stdint.h>

#include "stateline/store.h"

/* ---- PRNG ------------------------------------------------------------------------- */
struct sl_pop_rng {
    uint64_t s[4];
};
uint64_t sl_pop_splitmix64(uint64_t *state);
void sl_pop_rng_seed(struct sl_pop_rng *r, uint64_t seed);
uint64_t sl_pop_rng_next(struct sl_pop_rng *r);
/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias < 2^-32 for our n). */
uint64_t sl_pop_rng_below(struct sl_pop_rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double sl_pop_rng_unit(struct sl_pop_rng *r);

/* ---- states and formats ------------------------------------------------------------ */
struct sl_pop_state_info {
    const char *code, *name;
    const char *oln_fmt, *oln_re;     /* pattern (see docs/records.md) and POSIX ERE */
    const char *plate_fmt, *plate_re; /* standard passenger plate */
};
/* The i-th known state or territory (0-based); returns -1 past the end. */
int sl_pop_state_info(size_t i, struct sl_pop_state_info *out);
/* 0 and *out filled when code (any case) is known, else -1. */
int sl_pop_state_find(const char *code, struct sl_pop_state_info *out);

/* Generic plate patterns for the types that do not use the state's passenger style. */
#define SL_POP_PLATE_MC "pddddd"  /* motorcycle: A12345 */
#define SL_POP_PLATE_TL "dddddpp" /* trailer: 12345AB */

/* ---- the generator ----------------------------------------------------------------- */
struct sl_pop_opts {
    const char *state;  /* two-letter code */
    uint64_t drivers;   /* how many */
    uint64_t seed;
    int32_t as_of;      /* yyyymmdd: "today" for ages, expiries, histories */
    int progress;       /* print progress lines on stderr */
    int no_plate_index; /* skip the partial-plate (RPQ) index: a state without RPQ */
};

#define SL_POP_MAX_HIST 10
#define SL_POP_MAX_VEH 4

/* One driver with the history and the vehicles registered to him or her (the owner[]
 * of each vehicle carries only driver_id; names come from the driver rows). */
struct sl_pop_rec {
    struct sl_driver d;
    int n_hist;
    struct sl_history hist[SL_POP_MAX_HIST];
    int n_veh;
    struct sl_vehicle veh[SL_POP_MAX_VEH];
};

struct sl_pop;
/* A generator for opts (copied).  NULL with a reason in err for an unknown state, zero
 * drivers, or more drivers than the state's licence-number or plate space holds.
 * Free with sl_pop_free. */
struct sl_pop *sl_pop_new(const struct sl_pop_opts *opts, char *err, size_t errlen);
/* The next driver (ids 1, 2, ... drivers).  Returns 1 with *out filled, 0 when all
 * have been produced, -1 on an exhausted identifier space (err says which). */
int sl_pop_next(struct sl_pop *g, struct sl_pop_rec *out, char *err, size_t errlen);
void sl_pop_free(struct sl_pop *g);

struct sl_pop_stats {
    uint64_t drivers, vehicles, owners, history;
    double load_s, index_s; /* seconds: rows written; indexes built */
    int64_t bytes;          /* file size */
};
/* Generate opts into a new store file at path (written to path.tmp, renamed on
 * success; an existing path is replaced only when replace is set).  Bulk load with
 * journal off, indexes after the load, WAL for serving.  Returns 0, or -1 with err. */
int sl_pop_write(const struct sl_pop_opts *opts, const char *path, int replace,
                 struct sl_pop_stats *stats, char *err, size_t errlen);

/* ---- dates ------------------------------------------------------------------------- */
/* Days since 1970-01-01 of a yyyymmdd date and back (proleptic Gregorian). */
int64_t sl_pop_date_days(int32_t ymd);
int32_t sl_pop_date_ymd(int64_t days);
/* Today's UTC date as yyyymmdd. */
int32_t sl_pop_date_today(void);

/* ---- photo ------------------------------------------------------------------------- */
/* Render the derived portrait of one driver into pix (SL_STORE_PHOTO_W x _H bytes,
 * row-major, 0 black .. 255 white).  Deterministic in all its arguments. */
void sl_pop_photo(uint64_t seed, int64_t driver_id, char sex, const char *hair,
                  const char *eyes, unsigned char *pix);

#endif
