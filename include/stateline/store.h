/*
 * store.h - a state's driver and vehicle records: the embedded SQLite store a gateway
 * answers DQ, DNQ, KQ, RQ, RNQ and RPQ from (REQUIREMENTS G-1, G-2; docs/records.md).
 *
 * The file is an SQLite 3 database written by `stateline gen population` (population.h)
 * or by a state's own loader following the schema in docs/records.md.  Tables:
 *
 *   meta(key, value)            state, seed, as_of, counts, schema version
 *   driver(id, oln, last, first, middle, suffix, pair_key, dob, sex, street, city,
 *          state, zip, height, weight, eyes, hair, class, endorsements, restrictions,
 *          status, issued, expires, ssn)
 *   history(driver_id, seq, kind, date, code, text, conviction, ends)
 *   vehicle(id, plate, plate_year, plate_type, vin, make, model, year, colour, style,
 *           reg_expires)
 *   owner(vehicle_id, seq, driver_id)   seq 0 = primary owner, 1 = co-owner
 *   plate_fts                            FTS5 trigram index over vehicle.plate (RPQ;
 *                                        optional, see sl_store_has_partial_plate)
 *
 * Dates are integers yyyymmdd; heights inches; weights pounds.  Strings are upper-case
 * ASCII.  `pair_key` is the two name parts LAST and FIRST, each reduced to [A-Z0-9],
 * in byte order and joined by one space: the order-free name key every name look-up
 * goes through (see sl_store_name_parse and docs/records.md "Name matching").
 *
 * Ownership: an sl_store handle owns its SQLite connection and its prepared statements.
 * Every look-up writes into structs the caller provides (fixed-size arrays inside them,
 * no pointers into SQLite memory), so results stay valid after the next call.  A handle
 * is used by one thread at a time; open one per thread (SQLite WAL allows many readers).
 */
#ifndef STATELINE_STORE_H
#define STATELINE_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stateline/policy.h" /* enum sl_policy_dc: the data classes */

/* ---- data classes: what a policy's `redact` names (docs/records.md table) -------- */
/* The classes are the policy's (enum sl_policy_dc in policy.h: SL_DC_IDENTITY ..
 * SL_DC_OWNER_ADDRESS, names from sl_policy_dc_name); a set of classes is the mask
 * SL_DC_BIT(SL_DC_x) that struct sl_policy_decision.redact carries (SL_DC_ALL: all). */

/* One field of a returned record and the class it belongs to. */
struct sl_field_class {
    const char *record; /* "driver", "history", "vehicle", "owner" */
    const char *field;  /* struct member name, e.g. "oln", "street" */
    int dc;             /* SL_DC_* */
};
/* The whole mapping, a static const table; *n receives its length. */
const struct sl_field_class *sl_store_field_classes(size_t *n);
/* The class (SL_DC_*) of one field, -1 if the field is unknown. */
int sl_store_field_class(const char *record, const char *field);

/* ---- records ---------------------------------------------------------------------- */
struct sl_driver {
    int64_t id;
    char oln[24];          /* canonical licence number, no separators */
    char last[32], first[24], middle[24], suffix[8];
    int32_t dob;           /* yyyymmdd */
    char sex;              /* 'M', 'F' */
    char street[48], city[32], state[4], zip[12];
    int height_in, weight_lb;
    char eyes[4], hair[4]; /* NCIC colour codes: BRO BLU HAZ GRN GRY / BLK BRO BLN RED ... */
    char lic_class[4];     /* A, B, C or M */
    char endorsements[12]; /* letters from H N P S T X M, "" when none */
    char restrictions[12]; /* letters, B = corrective lenses, "" when none */
    char status[12];       /* VALID SUSPENDED REVOKED EXPIRED CANCELLED */
    int32_t issued, expires;
    char ssn[12];          /* 9 digits, synthetic (9xx or 666 areas, never issued) */
};

enum sl_history_kind { SL_HIST_VIOLATION = 'V', SL_HIST_WITHDRAWAL = 'W' };

struct sl_history {
    char kind;           /* 'V' violation (with conviction), 'W' withdrawal */
    int32_t date;        /* violation date / withdrawal start, yyyymmdd */
    char code[8];        /* violation code (ACD-style) or withdrawal type SUS REV CAN */
    char text[48];       /* description */
    int32_t conviction;  /* conviction date (violations), 0 if none */
    int32_t ends;        /* withdrawal end / reinstatement date, 0 = indefinite */
};

/* A registered owner: the driver record's identity and address, as RR carries them. */
struct sl_owner {
    int64_t driver_id;
    char oln[24];
    char last[32], first[24], middle[24], suffix[8];
    int32_t dob;
    char street[48], city[32], state[4], zip[12];
};

/* Bits of sl_vehicle.match for plate look-ups (see sl_store_vehicle_by_plate). */
enum { SL_MATCH_YEAR = 1, SL_MATCH_TYPE = 2 };

struct sl_vehicle {
    int64_t id;
    char plate[12];
    int plate_year;      /* LIY: year the registration expires */
    char plate_type[4];  /* NCIC LIT: PC TK MC TL CO AP */
    char vin[20];
    char make[8];        /* NCIC VMA code: TOYT FORD CHEV ... */
    char model[24];
    int year;            /* model year */
    char colour[4];      /* NCIC VCO: BLK WHI GRY SIL ... */
    char style[4];       /* NCIC VST: 4D 2D PK UT VN HB MC TL TT */
    int32_t reg_expires; /* yyyymmdd */
    unsigned match;      /* SL_MATCH_* for plate look-ups, else 0 */
    int n_owners;        /* 1 or 2 */
    struct sl_owner owner[2];
};

/* ---- names ------------------------------------------------------------------------ */
/* A parsed name (NCIC `LAST,FIRST MIDDLE SUFFIX`, or parts in any order without a
 * comma).  Parts are reduced to [A-Z0-9]; see docs/records.md for the rules. */
#define SL_NAME_MAX_PARTS 8
struct sl_name {
    int has_comma;                      /* the NCIC form LAST,FIRST ... */
    int n;                              /* parts other than the suffix, in input order */
    char part[SL_NAME_MAX_PARTS][32];
    char suffix[8];                     /* JR SR II III IV V, "" if none */
};
/* Parse `s` (any case, punctuation, spacing).  Returns 0, or -1 with a reason in err
 * when fewer than two name parts remain or a part is too long. */
int sl_store_name_parse(const char *s, struct sl_name *out, char *err, size_t errlen);
/* Reduce one name part to [A-Z0-9] in out (size outlen).  Returns the length. */
size_t sl_store_name_norm(const char *s, char *out, size_t outlen);
/* The order-free key of a (last, first) pair, as stored in driver.pair_key. */
void sl_store_pair_key(const char *last, const char *first, char *out, size_t outlen);

/* Parse NCIC DOB `mmddyy` or `ccyymmdd` (separators / and - ignored).  For mmddyy both
 * 19yy and 20yy are candidates; out[] receives one or two yyyymmdd values, *n their
 * count.  Returns 0, or -1 when the text is not a complete valid date. */
int sl_store_dob_parse(const char *s, int32_t out[2], int *n);

/* Canonical licence number / plate: upper-case, spaces, hyphens and the other
 * separators a dispatcher types dropped.  Returns the length; -1 if too long. */
int sl_store_canon(const char *s, char *out, size_t outlen);

/* ---- the store -------------------------------------------------------------------- */
#define SL_STORE_SCHEMA_VERSION 1
/* The schema (tables only) and the indexes, as SQL scripts, for loaders: create the
 * tables, load the rows in primary-key order, then run the index script, and the
 * partial-plate index script if the state answers RPQ. */
const char *sl_store_schema_sql(void);
const char *sl_store_index_sql(void);
const char *sl_store_plate_index_sql(void);

/* Blank (zero) every field of a record whose class is in mask (1u << SL_DC_x, as in
 * sl_policy_decision.redact), so a policy's `redact` applies field by field with the
 * table above. */
void sl_store_driver_redact(struct sl_driver *d, uint32_t mask);
void sl_store_vehicle_redact(struct sl_vehicle *v, uint32_t mask);
void sl_store_history_redact(struct sl_history *h, int n, uint32_t mask);

struct sl_store;

/* Open a population file.  readonly: open read-only (a gateway).  Returns NULL with a
 * reason in err when the file cannot be opened or is not a stateline store.  The
 * handle is the caller's; close it with sl_store_close.  Same as sl_store_open_opts with
 * the default options. */
struct sl_store *sl_store_open(const char *path, int readonly, char *err, size_t errlen);
void sl_store_close(struct sl_store *st);

/* How a handle uses memory (docs/records.md §3 "Memory and warm-up"; the gateway's
 * store_mmap and store_cache keys).  The defaults suit a gateway: the whole file mapped
 * (as far as SQLite allows, see sl_store_mmap_limit) and a 64 MiB page cache. */
#define SL_STORE_MMAP_AUTO (-1)           /* map the whole file */
#define SL_STORE_CACHE_DEFAULT_KIB 65536  /* 64 MiB */
struct sl_store_opts {
    int64_t mmap_bytes; /* SL_STORE_MMAP_AUTO, 0 (no mmap: read() only) or a byte count */
    int64_t cache_kib;  /* SQLite page cache per handle, KiB; 0 = the default */
};
/* A byte count as configured: digits with an optional suffix k, M, G, T (powers of
 * 1024), any case.  0, or -1 when it is not that. */
int sl_store_size_parse(const char *s, int64_t *out);
/* Fill o with the defaults. */
void sl_store_opts_default(struct sl_store_opts *o);
/* sl_store_open with options (o NULL: the defaults). */
struct sl_store *sl_store_open_opts(const char *path, int readonly, const struct sl_store_opts *o,
                                    char *err, size_t errlen);
/* The mmap window in force on the handle, in bytes (after SQLite's cap). */
int64_t sl_store_mmap_size(const struct sl_store *st);
/* The largest mmap window this SQLite library allows (its SQLITE_MAX_MMAP_SIZE: 2 GiB
 * on Debian); pages beyond it are read with pread from the OS page cache. */
int64_t sl_store_mmap_limit(void);
/* The page cache size in force on the handle, KiB. */
int64_t sl_store_cache_kib(const struct sl_store *st);
/* The file's size in bytes, -1 if it cannot be read. */
int64_t sl_store_file_size(const struct sl_store *st);

/* ---- warm-up: read the file into the OS page cache before the look-ups need it ---- */
enum sl_store_warm {
    SL_STORE_WARM_NO = 0,
    SL_STORE_WARM_INDEXES = 1, /* every index b-tree (and the RPQ index), in key order */
    SL_STORE_WARM_ALL = 2,     /* the whole file, sequentially */
};
/* "no" / "indexes" / "all" -> SL_STORE_WARM_*, -1 for anything else. */
int sl_store_warm_parse(const char *s);
const char *sl_store_warm_name(int what);
struct sl_store_warm_stats {
    int64_t bytes;  /* bytes read */
    int64_t pages;  /* b-tree pages visited (indexes) or file pages read (all) */
    int n_btrees;   /* indexes walked (0 for all) */
    double seconds; /* wall time */
    int fallback;   /* 1: indexes asked but this SQLite has no dbstat, so all was read */
};
/* Called about every 5% (all) or after each index (indexes): what was just read
 * ("file", or an index name), bytes read so far, and the total (-1 when not known
 * ahead, as for indexes). */
typedef void (*sl_store_warm_fn)(void *ctx, const char *what, int64_t done, int64_t total);
/* Warm the store file at path: read it (all) or its indexes through a connection of
 * its own, so this may run on a thread other than the handle's.  *stop (may be NULL) is
 * polled between reads; when it becomes non-zero the warm-up ends early and returns 1.
 * Returns 0 done, 1 stopped, -1 error with a reason in err.  Allocates nothing that
 * outlives the call. */
int sl_store_warm_file(const char *path, int what, const atomic_int *stop,
                       sl_store_warm_fn fn, void *ctx, struct sl_store_warm_stats *out,
                       char *err, size_t errlen);
/* Drop the file's pages from the OS page cache (posix_fadvise DONTNEED, no privilege
 * needed) and the handle's own cache, by closing and reopening its connection with the
 * same options: what `store bench --cold` measures from.  0, or -1 with a reason (the
 * handle is then good only for sl_store_close). */
int sl_store_drop_cache(struct sl_store *st, char *err, size_t errlen);

/* The store's state code ("WA") and the seed and as-of date it was generated with
 * (0 when loaded by other means). */
const char *sl_store_state(const struct sl_store *st);
/* The path the store was opened with (the handle's copy). */
const char *sl_store_path(const struct sl_store *st);
uint64_t sl_store_seed(const struct sl_store *st);
int32_t sl_store_as_of(const struct sl_store *st);
int64_t sl_store_count_drivers(struct sl_store *st);
int64_t sl_store_count_vehicles(struct sl_store *st);
/* One read transaction (one snapshot) around the look-ups that follow, until
 * sl_store_read_end: saves a lock round per look-up.  Hold it briefly (a writer's
 * checkpoint cannot pass it).  0, or -1 (look-ups then run on their own). */
int sl_store_read_begin(struct sl_store *st);
void sl_store_read_end(struct sl_store *st);

/*
 * Look-ups.  Returns: 1 found (out filled), 0 not on file, -1 error (logged; the
 * gateway answers TEMPORARILY UNAVAILABLE), -2 the query itself is unusable (a name
 * without two parts, an impossible DOB, a bad plate pattern; the gateway answers with
 * the reason, see sl_store_name_parse / sl_store_dob_parse / ..._partial_plate_check).
 * List look-ups return the number of records written to out (at most cap) and set
 * *total to the number on file (so *total - n is the "more" count).  cap 0 counts
 * only.  Text arguments are as typed: case, spaces and hyphens do not matter.
 */
int sl_store_driver_by_id(struct sl_store *st, int64_t id, struct sl_driver *out);
int sl_store_vehicle_by_id(struct sl_store *st, int64_t id, struct sl_vehicle *out);
int sl_store_driver_by_oln(struct sl_store *st, const char *oln, struct sl_driver *out);
/* NAM + DOB + SEX (DQ, KQ).  dob as typed (mmddyy or ccyymmdd); sex 'M'/'F', or 0 for
 * any.  Several people can share name, DOB and sex: they are listed (cap). */
int sl_store_driver_by_name_dob_sex(struct sl_store *st, const char *name, const char *dob,
                                    char sex, struct sl_driver *out, int cap, int *total);
/* Name only (DNQ): a list ordered by DOB; SL_STORE_LIST_CAP is the usual cap. */
#define SL_STORE_LIST_CAP 20
int sl_store_driver_by_name(struct sl_store *st, const char *name, struct sl_driver *out,
                            int cap, int *total);
/* A driver's history (KQ), oldest first. */
int sl_store_history(struct sl_store *st, int64_t driver_id, struct sl_history *out, int cap,
                     int *total);
/* Plate (RQ LIC/LIY/LIT).  year 0 and type NULL/"" mean not given.  Every vehicle with
 * the plate is a candidate; when some candidates match the given year and type, only
 * those with the most matches are returned; when none do, all are returned with their
 * match bits clear so the reply can say which element differed (docs/records.md). */
int sl_store_vehicle_by_plate(struct sl_store *st, const char *plate, int year,
                              const char *type, struct sl_vehicle *out, int cap, int *total);
/* VIN (RQ VIN/): 17 characters exact, or the last 8 (a list).  *check_ok (may be NULL)
 * is set to 1 when a 17-character VIN's check digit (ISO 3779 / 49 CFR 565) is right.
 * -2 for any other length, or a last 8 with I, O or Q (never used in VINs). */
int sl_store_vehicle_by_vin(struct sl_store *st, const char *vin, struct sl_vehicle *out,
                            int cap, int *total, int *check_ok);
/* Registered owner name (RNQ): vehicles of every driver whose name matches. */
int sl_store_vehicle_by_owner(struct sl_store *st, const char *name, struct sl_vehicle *out,
                              int cap, int *total);
/* 1 when the file has the partial-plate index (generated without
 * --no-partial-plate-index); without it RPQ look-ups return -1. */
int sl_store_has_partial_plate(const struct sl_store *st);
/* Partial plate (RPQ): `*` any run, `?` one character, at least three consecutive
 * literal characters.  Returns -2 with a reason in err for a pattern that breaks that. */
int sl_store_vehicle_by_partial_plate(struct sl_store *st, const char *pattern,
                                      struct sl_vehicle *out, int cap, int *total, char *err,
                                      size_t errlen);
/* Check a partial-plate pattern without a store: 0 valid, -1 with reason. */
int sl_store_partial_plate_check(const char *pattern, char *err, size_t errlen);

/* The driver's photo: a 64x80 8-bit grey PGM (P5) derived on demand from the driver's
 * id, the store's seed and the recorded hair and eye colours; nothing is stored.
 * Writes at most cap bytes into buf and returns the image's full length (so a caller
 * can size buf with SL_STORE_PHOTO_MAX), 0 when the driver is not on file, -1 error. */
#define SL_STORE_PHOTO_W 64
#define SL_STORE_PHOTO_H 80
#define SL_STORE_PHOTO_MAX (16 + SL_STORE_PHOTO_W * SL_STORE_PHOTO_H)
int sl_store_photo(struct sl_store *st, int64_t driver_id, unsigned char *buf, size_t cap);

/* `stateline store bench`: time n look-ups of every query form against drivers and
 * vehicles sampled with seed; print a table (or JSON when json) to out.  0 or -1. */
int sl_store_bench(struct sl_store *st, int n, uint64_t seed, FILE *out, int json);
/* The same with the page cache state chosen after the sample is drawn (the sample's own
 * reads would otherwise warm what they touch): cold drops the file's pages
 * (sl_store_drop_cache) before timing, warm (SL_STORE_WARM_*) warms it.  Both are
 * reported in the output (`cold`, `warm`, `warm_s`, `mmap_bytes`, `cache_kib`). */
struct sl_store_bench_cfg {
    int n;
    uint64_t seed;
    int json;
    int cold;
    int warm;
};
int sl_store_bench_run(struct sl_store *st, const struct sl_store_bench_cfg *c, FILE *out);

/* ISO 3779 VIN check digit of a 17-character VIN: '0'..'9' or 'X'; 0 when the VIN has
 * a character outside the VIN alphabet (I, O, Q are not used). */
char sl_store_vin_check_digit(const char *vin17);
/* 1 if vin is 17 valid characters with the right check digit in position 9. */
int sl_store_vin_valid(const char *vin);

#endif
