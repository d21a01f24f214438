/*
 * policy_int.h - what the parser, the checker and the matcher share (not installed).
 *
 * A compiled policy is a handful of flat arrays that never change after compile:
 *   pool   all strings (ids, reasons, values, marks), NUL-terminated, addressed by offset
 *   vals   value lists: offsets into pool (a list is a start index and a count)
 *   nodes  condition trees as a flat node array; children by index
 *   rules  one struct prule per rule, in file order
 *   index  CSR lists of rule indexes by (key, ORION type), and two hash tables that find
 *          the rules tied to one ORI or to one parent agency, so that most rules of a
 *          large policy are never looked at (docs/policy-language.md, "Speed").
 */
#ifndef STATELINE_POLICY_INT_H
#define STATELINE_POLICY_INT_H

#include <stdatomic.h>
#include <stdint.h>
#include "stateline/policy.h"

#define P_NONE UINT32_MAX

/* Key slots: the six keys a gateway answers, and everything else. */
enum { PK_DQ, PK_DNQ, PK_KQ, PK_RQ, PK_RNQ, PK_RPQ, PK_OTHER, PK_COUNT };
/* ORION types in slots 0..11, slot 12 for an empty or unlisted type. */
#define PT_COUNT 13
#define PT_OTHER 12
#define P_ALLKEYS ((1u << PK_COUNT) - 1)
#define P_ALLTYPES ((1u << PT_COUNT) - 1)

enum pattr {
    PA_ORI, PA_MEMBER, PA_TYPE, PA_STATE, PA_PARENT, PA_TAGS, PA_CATS, PA_INSTATE,
    PA_KEY, PA_VIA, PA_FIELD, PA_TIME, PA_WEEKDAY, PA_DATE, PA_COUNT_ORI, PA_COUNT_USER,
    PA_NONE
};

enum pop {
    PO_TRUE,     /* always */
    PO_AND, PO_OR, PO_NOT,  /* a, b = children (NOT: a) */
    PO_IN,       /* attr equals one of vals[a .. a+b) */
    PO_MATCH,    /* attr matches one of the glob patterns vals[a .. a+b) */
    PO_UNDER,    /* parent is, or lies under, one of vals[a .. a+b) */
    PO_HAS,      /* tags / categories contain one of vals[a .. a+b) */
    PO_PRESENT,  /* field present */
    PO_INSTATE,  /* requester.state = the policy's state */
    PO_MASK,     /* key / type / via / weekday slot in mask a */
    PO_RANGE,    /* time: minute of day in [a, b) (wraps when a > b); date: day in [a, b] */
    PO_COUNT,    /* the ORI's / user's queries in window a (enum sl_policy_window) > b */
};

struct pnode {
    uint8_t op, attr, field, paren; /* field: index in the field table; paren: written in ( ) */
    uint32_t a, b;
    int line, col;
};

struct prule {
    uint32_t id, reason;        /* pool offsets */
    enum sl_policy_effect effect;
    int line, col;
    int id_line, id_col;
    uint32_t cond;              /* node index, P_NONE = always */
    uint32_t redact;
    int notify_days, notify_business;
    uint32_t mark;              /* pool offset or P_NONE */
    int mark_line;
    int64_t deadline_s;
    enum sl_policy_effect then;
    int redact_line, redact_col;
    /* filled by the indexer: */
    uint32_t keymask, typemask;
};

struct phash_ent {
    const char *s;     /* NULL: empty slot */
    uint32_t len, hash;
    uint32_t start, count; /* into the table's list */
};

struct phash {
    uint32_t mask;     /* capacity - 1, capacity a power of two; 0 when empty */
    struct phash_ent *ents;
    uint32_t *list;
};

struct sl_policy {
    atomic_int refs;
    char state[3];
    uint32_t title;                 /* pool offset, P_NONE */
    enum sl_policy_effect deflt;
    uint32_t count_uses;            /* sl_policy_count_uses: the counts its rules read */
    char hash[65];
    char *pool;
    size_t poollen, poolcap;
    uint32_t *vals;
    uint32_t nvals, valscap;
    struct pnode *nodes;
    uint32_t nnodes, nodescap;
    struct prule *rules;
    uint32_t nrules, rulescap;
    /* the index */
    uint32_t ua_off[PK_COUNT * PT_COUNT + 1]; /* unanchored rules by (key, type) */
    uint32_t *ua_list;
    uint32_t bykey_off[PK_COUNT + 1];         /* every rule that can match a key */
    uint32_t *bykey_list;
    struct phash ori_idx, parent_idx;
};

/* Field table: the prefixes a condition may name. */
struct pfield_info {
    const char *pfx;
    const char *values;  /* allowed one-character values, NULL = free text */
    const char *what;
};
extern const struct pfield_info sl_policy_fields[];
int sl_policy_field_lookup(const char *pfx);    /* -1 unknown */
extern const char *const sl_policy_types[12];   /* ORION types, slot order */
extern const char *const sl_policy_keys[PK_COUNT - 1];
int sl_policy_key_slot(const char *key, int *via_region); /* PK_OTHER when unknown */
int sl_policy_type_slot(const char *type);                /* PT_OTHER when unknown */

static inline const char *pstr(const struct sl_policy *p, uint32_t off)
{
    return off == P_NONE ? NULL : p->pool + off;
}

/* Parser: fills p (pool, nodes, rules, header) and diagnostics; returns error count. */
int sl_policy_parse(struct sl_policy *p, const char *text, size_t len,
                    struct sl_policy_diags *diags);
/* Checker: warnings about rules that never match, shadowed rules, unknown parents/tags,
 * data classes absent from the rule's keys. */
void sl_policy_analyse(const struct sl_policy *p, const struct sl_policy_opts *opts,
                       struct sl_policy_diags *diags);
/* Diagnostics helper. */
void sl_policy_diag_add(struct sl_policy_diags *d, enum sl_policy_diag_level lvl, int line,
                        int col, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The mask of keys / types a rule's top-level conjunction allows. */
void sl_policy_rule_masks(const struct sl_policy *p, uint32_t cond, uint32_t *keys,
                          uint32_t *types);
/* Write a condition as text. */
void sl_policy_cond_text(const struct sl_policy *p, uint32_t n, struct sl_buf *out);
/* Glob match: '*' any run, '?' one character. */
int sl_policy_glob(const char *pat, const char *s, size_t slen);
/* Days since 1970-01-01 for a civil date (proleptic Gregorian). */
int32_t sl_policy_days(int y, int m, int d);

#endif
