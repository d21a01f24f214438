/*
 * dir.h - the ORI directory (ORION), kept in SQLite (docs/directory.md).
 *
 * Each ORI: its member line, name, ORION type, access categories, status, parent agency
 * and tags.  Members are the lines of the network: states, DC, territories, Canada, and
 * the federal members with their own line codes.  A member may change only its own
 * ORIs (sl_dir_put with as_member); the network's operator (as_member NULL) may change
 * any.
 *
 * The switch does not query SQLite per message: sl_dir_snapshot loads every row into an
 * immutable in-memory index (hash by ORI) that the hub swaps on SIGHUP.
 *
 * CSV (import/export), one header line then one ORI per line, RFC 4180 quoting:
 *     ori,member,name,type,categories,status,parent,tags,rand
 * tags are separated by single spaces inside the field; rand is 1 when the ORI may search
 * the archive.  Line ends LF or CRLF; a quoted field may hold commas, doubled quotes and
 * line breaks.
 *
 * Field rules (sl_dir_check):
 *   ori      9 characters [A-Z0-9]; the first two are the member's code (a state's ORIs
 *            start with its code), or for a federal member (kind 'F') the code of the
 *            state or territory where the office sits, or for Canada (kind 'I') a
 *            province code as Nlets writes it (AB BC MB NB NF NS NT NU ON PE PQ SK YT)
 *   member   a member code in the members table (2 characters [A-Z])
 *   name     1-95 bytes of printable text (UTF-8 allowed), no leading/trailing space
 *   type     PD SO SA LE FE JA JC JG JJ JF CJ NJ
 *   cats     a subset of ACDZ; stored in the order A C D Z; may be empty
 *   status   A active, I inactive
 *   parent   "" or upper-case segments [A-Z0-9-] joined by '/', e.g. DHS/ICE/ERO (max 47)
 *   tags     "" or lower-case words [a-z0-9-] separated by single spaces (max 159)
 *   rand     0 or 1
 */
#ifndef STATELINE_DIR_H
#define STATELINE_DIR_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include "stateline/msg.h"

/* The fields the switch checks on every message (ori, member, type, cats, status) come
 * first, so that a snapshot look-up touches one cache line of the row, usually. */
struct sl_ori {
    char ori[SL_ORI_LEN + 1];
    char member[8];
    char type[3];     /* PD SO SA LE FE JA JC JG JJ JF CJ NJ */
    char cats[5];     /* subset of "ACDZ", in that order */
    char status;      /* 'A' active, 'I' inactive */
    char name[96];
    char parent[48];  /* "DHS/ICE/ERO", "" for none */
    char tags[160];   /* space-separated */
    int rand;         /* may search the message archive */
};

struct sl_member {
    char code[8];     /* "WA", "DH" */
    char name[64];
    char kind;        /* 'S' state/territory, 'F' federal, 'I' international, 'N' the switch */
};

struct sl_dir;       /* an open SQLite directory */
struct sl_dir_snap;  /* immutable in-memory index */

/* Open or create the directory database (WAL).  create_ok 0 = it must exist.  A new
 * database gets the schema and the network's standard member lines (sl_dir_std_members).
 * *out is owned by the caller: sl_dir_close. */
int sl_dir_open(const char *path, int create_ok, struct sl_dir **out, char *err, size_t errlen);
void sl_dir_close(struct sl_dir *d);

/* Insert or replace one ORI.  as_member non-NULL: refuse (-1, err says why) unless the
 * ORI belongs, and stays, with that member.  Validates every field (sl_dir_check); the
 * categories are stored in canonical order.  0 OK, -1 refused or failed (err). */
int sl_dir_put(struct sl_dir *d, const char *as_member, const struct sl_ori *o, char *err,
               size_t errlen);
int sl_dir_get(struct sl_dir *d, const char *ori, struct sl_ori *out); /* 0, 1 not found, -1 */
/* 0 deleted, 1 not found, -1 refused or failed (err). */
int sl_dir_delete(struct sl_dir *d, const char *as_member, const char *ori, char *err,
                  size_t errlen);
/* Insert or replace a member line (operator only).  0 OK, -1 invalid or failed (logged). */
int sl_dir_put_member(struct sl_dir *d, const struct sl_member *m);
int sl_dir_get_member(struct sl_dir *d, const char *code, struct sl_member *out); /* 0, 1, -1 */
/* Count of ORIs, -1 on error. */
int64_t sl_dir_count(struct sl_dir *d);

/* Transactions, so that many puts cost one commit (import, generate).  0 / -1 (logged). */
int sl_dir_begin(struct sl_dir *d);
int sl_dir_commit(struct sl_dir *d);
void sl_dir_rollback(struct sl_dir *d);

/* Walk the ORIs in ORI order (member_filter NULL = all) / the members in code order.
 * The callback's pointer is valid during the call only; a non-zero return stops the walk
 * and is returned.  -1 on a database error. */
typedef int (*sl_dir_ori_fn)(void *ctx, const struct sl_ori *o);
typedef int (*sl_dir_member_fn)(void *ctx, const struct sl_member *m);
int sl_dir_foreach(struct sl_dir *d, const char *member_filter, sl_dir_ori_fn fn, void *ctx);
int sl_dir_foreach_member(struct sl_dir *d, sl_dir_member_fn fn, void *ctx);

/* Counts grouped by one column, largest first: SL_DIR_BY_PARENT groups by the first
 * segment of the parent ("DHS", "DOJ"; "" for none) when top_only, else the full path. */
enum sl_dir_by { SL_DIR_BY_MEMBER, SL_DIR_BY_TYPE, SL_DIR_BY_PARENT, SL_DIR_BY_STATUS,
                 SL_DIR_BY_KIND };
typedef int (*sl_dir_count_fn)(void *ctx, const char *key, int64_t n);
int sl_dir_count_by(struct sl_dir *d, enum sl_dir_by by, int top_only, sl_dir_count_fn fn,
                    void *ctx);

/* CSV.  Import is one transaction: any bad line aborts the whole import and err says
 * "line N: <what is wrong>" (N = the physical line where the record starts).  The header
 * line is required.  Rows not in the file are left alone.  *nrows gets the number of
 * rows imported. */
int sl_dir_import_csv(struct sl_dir *d, const char *as_member, FILE *in, int64_t *nrows,
                      char *err, size_t errlen);
/* Export in ORI order (member_filter NULL = all).  0 / -1. */
int sl_dir_export_csv(struct sl_dir *d, const char *member_filter, FILE *out);
/* Write one row / the header as CSV (quoting only where needed), LF line end. */
void sl_dir_csv_write_header(FILE *out);
void sl_dir_csv_write_row(FILE *out, const struct sl_ori *o);

#define SL_DIR_CSV_NFIELDS 9
/* Split one CSV record (RFC 4180) into fields.  rec[0..len) is the record without its
 * line end (it may hold line breaks inside quotes).  The unquoted fields are copied into
 * buf (NUL-terminated, one after the other); fields[i] point into buf.  Returns the
 * number of fields (<= maxfields), or -1 with err saying what is wrong (with the
 * 1-based column).  Needs bufsz >= len + maxfields. */
int sl_dir_csv_split(const char *rec, size_t len, char *buf, size_t bufsz,
                     const char **fields, int maxfields, char *err, size_t errlen);
/* Turn the 9 fields of a record into an ORI, checking the form of every field (not the
 * member's existence nor the prefix rule, which need the database).  0 / -1 with err. */
int sl_dir_csv_fields(const char *const *fields, int nfields, struct sl_ori *o, char *err,
                      size_t errlen);

/* Generate a realistic national directory (docs/directory.md says how) into d, in one
 * transaction; d must be empty.  target = number of ORIs, SL_DIR_GEN_MIN to
 * SL_DIR_GEN_MAX; the result has exactly target rows.  progress non-NULL gets a line per
 * state. */
#define SL_DIR_GEN_MIN 3000
#define SL_DIR_GEN_MAX 2000000
int sl_dir_generate(struct sl_dir *d, uint64_t seed, int64_t target, char *err, size_t errlen);
int sl_dir_generate_ex(struct sl_dir *d, uint64_t seed, int64_t target, FILE *progress,
                       char *err, size_t errlen);

/* Snapshot for the hub.  NULL lookups when not found.  The snapshot owns its rows; it is
 * immutable, so any number of threads may read it; sl_dir_snap_free when no reader is
 * left.  Lookups do not allocate. */
int sl_dir_snapshot(struct sl_dir *d, struct sl_dir_snap **out);
void sl_dir_snap_free(struct sl_dir_snap *s);
const struct sl_ori *sl_dir_snap_find(const struct sl_dir_snap *s, const char *ori);
/* Same, for an ORI that is not NUL-terminated (e.g. inside a message buffer). */
const struct sl_ori *sl_dir_snap_find_n(const struct sl_dir_snap *s, const char *ori,
                                        size_t len);
int64_t sl_dir_snap_count(const struct sl_dir_snap *s);
/* Row i, 0 <= i < count (NULL outside), in no particular order: for tools that walk. */
const struct sl_ori *sl_dir_snap_at(const struct sl_dir_snap *s, int64_t i);
/* 1 when some ORI has exactly this parent agency, or with under, one below it
 * ("DHS/ICE" is under-known when "DHS/ICE/ERO" exists); 1 when some ORI has this tag.
 * Linear scans: for checkers and tools, not for each message. */
int sl_dir_snap_has_parent(const struct sl_dir_snap *s, const char *parent, int under);
int sl_dir_snap_has_tag(const struct sl_dir_snap *s, const char *tag);
/* Snapshot straight from a file: an SQLite directory, or its CSV export (read with every
 * rule of an import, into memory).  err says "PATH: line N: ..." for a bad CSV.
 * *out is owned by the caller: sl_dir_snap_free. */
int sl_dir_snapshot_file(const char *path, struct sl_dir_snap **out, char *err, size_t errlen);
const struct sl_member *sl_dir_snap_member(const struct sl_dir_snap *s, const char *code);
int sl_dir_snap_nmembers(const struct sl_dir_snap *s);
const struct sl_member *sl_dir_snap_member_at(const struct sl_dir_snap *s, int i);

/* Validation helpers, shared with the policy checker.  1 valid, 0 not. */
int sl_dir_valid_type(const char *type);
int sl_dir_valid_cats(const char *cats);     /* subset of ACDZ, any order, no repeats */
int sl_ori_valid(const char *ori);           /* 9 characters, upper-case letters and digits */
int sl_dir_valid_parent(const char *parent); /* "" or DHS/ICE/ERO-like */
int sl_dir_valid_tag(const char *tag);       /* one tag: [a-z0-9-]+, starts alnum, <= 40 */
int sl_dir_valid_tags(const char *tags);     /* "" or tags separated by single spaces */
int sl_dir_valid_member_code(const char *code); /* 2 characters [A-Z] */
/* Every field of o, and the prefix rule for a member of kind member_kind (0 = unknown:
 * the prefix is not checked).  0 valid, -1 with err naming the field. */
int sl_dir_check(const struct sl_ori *o, char member_kind, char *err, size_t errlen);
/* Rewrite cats into canonical ACDZ order in place (after sl_dir_valid_cats). */
void sl_dir_canon_cats(char *cats);

/* The network's standard member lines (the 50 states, DC, PR, GU, VI, CN, the federal
 * lines DJ DH TR DI DD, and NL the switch), in code order; *n gets their number. */
const struct sl_member *sl_dir_std_members(size_t *n);
/* 1 when code is a US state, DC or territory code (the prefixes of federal ORIs). */
int sl_dir_is_state_code(const char *code);
/* 1 when code is a Canadian province/territory code as Nlets writes it. */
int sl_dir_is_province_code(const char *code);

#endif
