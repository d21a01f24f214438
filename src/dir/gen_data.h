/*
 * gen_data.h - the embedded facts the directory generator builds on (gen_data.c): the
 * states and territories with their 2020 census population, counties, cities, border,
 * state-level agencies; the field offices of the federal components; Canada.
 *
 * Lists are '|'-separated strings: compact to write and to review, split once at start.
 */
#ifndef STATELINE_GEN_DATA_H
#define STATELINE_GEN_DATA_H

struct gen_state {
    const char *code;
    const char *name;
    int pop_k;               /* 2020 census, thousands */
    char border;             /* 'S' Mexican land border, 'N' Canadian, 'C' sea coast, 0 inland */
    char sheriffs;           /* 1: each county (parish, independent city) has a sheriff */
    const char *county_word; /* "County", "Parish"; "" when the names stand alone */
    const char *counties;    /* '|'-separated, "" for none (DC, GU, VI) */
    const char *cities;      /* '|'-separated, largest first */
    const char *ports;       /* CBP ports of entry and Border Patrol stations, or "": a plain
                                name is a port of entry, "*Name" a Border Patrol station,
                                "+Name" both */
    const char *tribes;      /* tribal police agencies (full names), or "" */
    const char *sp_name;     /* the state-wide police */
    const char *sp_mnem;     /* its ORI letters after the state code: "SP" -> WASP00000 */
    const char *sbi;         /* state bureau of investigation, or "" */
    const char *dmv;         /* the motor vehicle agency */
    const char *pros;        /* local prosecutor: "Prosecuting Attorney's Office" */
    const char *court;       /* county trial court: "Superior Court" */
    const char *usms;        /* the federal judicial districts: "Eastern|Western", "" = one */
    int n287g;               /* local agencies with a 287(g) agreement */
};

extern const struct gen_state gen_states[];
extern const int gen_nstates;

/* A federal office: "City|ST" pairs, '|'-separated: "Seattle|WA|Portland|OR". */
struct gen_fed {
    const char *parent;   /* "DHS/ICE/ERO" */
    const char *member;   /* "DH" */
    const char *mnem;     /* ORI letters: "ERO" -> WAERO0100 */
    const char *type;     /* FE or JF */
    const char *cats;
    const char *tags;     /* on every ORI of the component */
    const char *fo_fmt;   /* field office name, %s = city */
    const char *sub_fmt;  /* sub-office name, %s = city */
    const char *tf_fmt;   /* a task force at each field office (tag task-force), or NULL */
    const char *offices;  /* field offices "City|ST|City|ST..." (fo_fmt gets the city) */
    int nsub;             /* sub-offices at the 18,000 scale */
    char sub_where;       /* where the sub-offices go: 'P' by population, every state at
                             least one; 'B' by population weighted to border and port states,
                             named after ports; 'L' land-border states only, named after
                             ports (Border Patrol stations); 0 none */
};

extern const struct gen_fed gen_feds[];
extern const int gen_nfeds;

/* Named places for components that are listed one by one: "Name|ST|Name|ST..." */
extern const char gen_fusion_extra[];
extern const char gen_port_police[];

/* Canada: provinces "CODE|Name|RCMP division letter", and police services "Name|PROV". */
extern const char gen_ca_provinces[];
extern const char gen_ca_services[];
extern const char gen_ca_detachments[];

#endif
