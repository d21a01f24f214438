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
 * tags are separated by spaces inside the field; rand is 1 when the ORI may search the
 * archive.
 */
#ifndef STATELINE_DIR_H
#define STATELINE_DIR_H

#include <stdio.h>
#include <stdint.h>
#include "stateline/msg.h"

struct sl_ori {
    char ori[SL_ORI_LEN + 1];
    char member[8];
    char name[96];
    char type[3];     /* PD SO SA LE FE JA JC JG JJ JF CJ NJ */
    char cats[5];     /* subset of "ACDZ", in that order */
    char status;      /* 'A' active, 'I' inactive */
    char parent[48];  /* "DHS/ICE/ERO", "" for none */
    char tags[160];   /* space-separated */
    int rand;         /* may search the message archive */
};

struct sl_member {
    char code[8];     /* "WA", "FB" */
    char name[64];
    char kind;        /* 'S' state/territory, 'F' federal, 'I' international, 'N' the switch */
};

struct sl_dir;       /* an open SQLite directory */
struct sl_dir_snap;  /* immutable in-memory index */

/* Open or create the directory database. create_ok 0 = it must exist. */
int sl_dir_open(const char *path, int create_ok, struct sl_dir **out, char *err, size_t errlen);
void sl_dir_close(struct sl_dir *d);

/* Insert or replace one ORI.  as_member non-NULL: refuse (-1, err says why) unless the
 * ORI belongs, and stays, with that member.  Validates every field. */
int sl_dir_put(struct sl_dir *d, const char *as_member, const struct sl_ori *o, char *err,
               size_t errlen);
int sl_dir_get(struct sl_dir *d, const char *ori, struct sl_ori *out); /* 0, 1 not found */
int sl_dir_delete(struct sl_dir *d, const char *as_member, const char *ori, char *err,
                  size_t errlen);
int sl_dir_put_member(struct sl_dir *d, const struct sl_member *m);
/* Count of ORIs. */
int64_t sl_dir_count(struct sl_dir *d);

/* CSV.  Import is one transaction: any bad line aborts the whole import and err names
 * the line.  *nrows gets the number of rows imported. */
int sl_dir_import_csv(struct sl_dir *d, const char *as_member, FILE *in, int64_t *nrows,
                      char *err, size_t errlen);
int sl_dir_export_csv(struct sl_dir *d, const char *member_filter, FILE *out);

/* Generate a realistic national directory (docs/directory.md says how). */
int sl_dir_generate(struct sl_dir *d, uint64_t seed, int64_t target, char *err, size_t errlen);

/* Snapshot for the hub.  NULL lookups when not found.  The snapshot owns its rows. */
int sl_dir_snapshot(struct sl_dir *d, struct sl_dir_snap **out);
void sl_dir_snap_free(struct sl_dir_snap *s);
const struct sl_ori *sl_dir_snap_find(const struct sl_dir_snap *s, const char *ori);
const struct sl_member *sl_dir_snap_member(const struct sl_dir_snap *s, const char *code);
int sl_dir_snap_nmembers(const struct sl_dir_snap *s);
const struct sl_member *sl_dir_snap_member_at(const struct sl_dir_snap *s, int i);

/* Validation helpers, shared with the policy checker. */
int sl_dir_valid_type(const char *type);
int sl_dir_valid_cats(const char *cats);
int sl_ori_valid(const char *ori); /* 9 characters, upper-case letters and digits */

#endif
