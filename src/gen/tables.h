/*
 * tables.h - the constant tables the population generator draws from (tables.c).
 * Private to src/gen; docs/records.md gives the source of every table and share.
 */
#ifndef SL_GEN_TABLES_H
#define SL_GEN_TABLES_H

#include <stddef.h>
#include <stdint.h>

/* A weighted string; weights are relative (e.g. thousands of people). */
struct sl_wname {
    const char *s;
    uint32_t w;
};

/* Name origins: which surname table, and which given-name tables go with it. */
enum { SL_ORIGIN_GENERAL = 0, SL_ORIGIN_HISPANIC = 1, SL_ORIGIN_ASIAN = 2, SL_ORIGIN_N = 3 };

struct sl_wlist {
    const struct sl_wname *v;
    size_t n;
};

extern const struct sl_wlist sl_tab_surnames[SL_ORIGIN_N];
extern const struct sl_wlist sl_tab_surnames_more[SL_ORIGIN_N]; /* [GENERAL] is empty */
/* Synthetic tail of the general surnames: prefix + suffix compounds. */
extern const struct sl_wlist sl_tab_tail_prefix, sl_tab_tail_suffix;
/* Given names: [sex 0 = M, 1 = F][cohort 0 born <1970, 1 1970-1994, 2 1995+]. */
extern const struct sl_wlist sl_tab_given[2][3];
extern const struct sl_wlist sl_tab_given_hispanic[2];
extern const struct sl_wlist sl_tab_given_asian[2];
extern const struct sl_wlist sl_tab_streets, sl_tab_street_types;

struct sl_city {
    const char *name;
    const char *zip3; /* three-digit ZIP prefix */
    uint32_t w;       /* relative population, thousands */
};

/*
 * One state.  OLN and plate formats are lists of alternatives separated by '|', each a
 * pattern of: 'L' a letter, 'S' the first letter of the surname, '#' a digit, 'A' a
 * letter or digit, any other character literal.  The regexes are written separately
 * (POSIX ERE) so that the tests check the generator against them.
 */
struct sl_state {
    const char *code, *name;
    uint8_t hispanic_pct, asian_pct; /* Census 2020 shares of the population, rounded */
    const char *oln_fmt, *oln_re;
    const char *plate_fmt, *plate_re;
    const struct sl_city *cities;
    size_t n_cities;
};
extern const struct sl_state sl_tab_states[];
extern const size_t sl_tab_n_states;

/* Vehicles. */
struct sl_make_model {
    const char *make;   /* NCIC VMA */
    const char *model;
    const char *wmi;    /* real world manufacturer identifier for the make */
    const char *style;  /* NCIC VST */
    const char *lit;    /* usual plate type (NCIC LIT) */
    uint32_t w;         /* relative share of registrations */
};
extern const struct sl_make_model sl_tab_vehicles[];
extern const size_t sl_tab_n_vehicles;
extern const struct sl_wlist sl_tab_vcolours;

struct sl_violation {
    const char *code, *text;
    uint32_t w;
};
extern const struct sl_violation sl_tab_violations[];
extern const size_t sl_tab_n_violations;
extern const struct sl_wlist sl_tab_withdrawal_reasons;

#endif
