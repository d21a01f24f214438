/*
 * gen.c - a realistic national ORI directory for tests, demos and benchmarks
 * (`stateline gen directory`, docs/directory.md "The generator").
 *
 * The model, in the order the rows are made:
 *   1. NL0000000, the switch.
 *   2. Per state/territory: the Nlets generic ORIs (xxLIC0000 xxOLN0000 xxVIN0000 for the
 *      DMV, xxSIR0000 the identification bureau, xxNLETREP the Nlets representative), the
 *      DMV, the state-wide police and its district offices, the bureau of investigation,
 *      the fusion centre(s), other state-wide agencies; a sheriff per county; tribal,
 *      campus, transit, airport, port and school police; HIDTA and county drug task
 *      forces; courts, prosecutors, corrections and probation.
 *   3. The federal components: each field office in its state, task forces at field
 *      offices, sub-offices spread by population (CBP ports weighted to border and port
 *      states, Border Patrol stations to the land borders).
 *   4. Canada: RCMP divisions and detachments, provincial and municipal services, CBSA.
 *   5. Municipal police: whatever the target leaves, by state population, each city's
 *      department first, then divisions and precincts of the larger ones (Zipf by rank).
 * Then ~1.5% of the ordinary rows are made inactive, ~1% lose D (besides the units and
 * offices that have no D by their nature: records, courts, corrections).
 *
 * Counts that are not fixed facts (district offices, sub-offices, optional agencies)
 * scale with target/18000; the municipal police take the rest, so the directory has
 * exactly `target` rows.  Everything random comes from one xoshiro256** stream seeded
 * with splitmix64(seed), drawn in a fixed order: same seed, same directory.
 *
 * ORI numbers (not real NCIC numbers; the form follows reference/nlets.md §3):
 *   local agencies   SS CCC AA UU  state, county index (001-), agency in county (base 36,
 *                                  00 = the sheriff), unit (base 36, 00 = the agency)
 *   state-wide       SS + letters + digits   WASP00000, WASP00010, TXDPS0000, WAFC00000
 *   federal          SS + 3 letters + 4 digits, SS = state of the office: WAFBI0000
 *   Canada           province + RCM/CBS + digits, or province + 3-digit service + 0000
 */
#include "dir_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gen_data.h"
#include "stateline/core.h"

#define BASE_SCALE 18000.0
#define MAX_LIST 400

/* ---- PRNG: xoshiro256** (Blackman & Vigna), seeded by splitmix64 -------------------- */

struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
/* Uniform in [0, n), n > 0 (the modulo bias is far below anything a test could see). */
static uint32_t rng_below(struct rng *r, uint32_t n) { return (uint32_t)(rng_next(r) % n); }

/* ---- lists ------------------------------------------------------------------------- */

/* Split a '|' list into a malloc'd copy; v[] points into it.  Returns the count. */
struct list {
    char *buf;
    const char *v[MAX_LIST];
    int n;
};

static void list_split(struct list *l, const char *s)
{
    l->buf = sl_xstrdup(s);
    l->n = 0;
    if (!*s)
        return;
    char *p = l->buf;
    for (;;) {
        char *bar = strchr(p, '|');
        if (l->n < MAX_LIST)
            l->v[l->n++] = p;
        if (!bar)
            break;
        *bar = '\0';
        p = bar + 1;
    }
}

static void list_free(struct list *l)
{
    free(l->buf);
    l->buf = NULL;
    l->n = 0;
}

/* ---- the generator's state --------------------------------------------------------- */

struct gstate {
    const struct gen_state *st;
    struct list counties, cities, places, ports, tribes, usms;
    const char *poe[MAX_LIST], *bp[MAX_LIST]; /* ports of entry, Border Patrol stations */
    int npoe, nbp;
    int *county_next; /* next agency number per county (index 0 = county 1) */
    int nplaces;      /* how many cities are place names (not full agency names) */
    int64_t nrows;    /* rows of this state (for progress) */
};

struct gen {
    struct rng rng;
    double f; /* target / 18000 */
    int64_t target;
    struct sl_ori *rows;
    int64_t n, cap;
    unsigned char *fixed; /* 1: never made inactive nor stripped of D (generics, HQs) */
    struct gstate *gs;
    int ngs;
};

/* Places to name offices after where the "cities" are agency names. */
static const char *const place_override[][2] = {
    {"DC", "Washington"}, {"GU", "Hagåtña"}, {"VI", "St. Thomas|St. Croix"}};

static int scaled(const struct gen *g, double n)
{
    long v = lround(n * g->f);
    return v < 0 ? 0 : (int)v;
}

static struct sl_ori *add(struct gen *g, const char *ori, const char *member, const char *type,
                          const char *cats, int fixed)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 4096;
        g->rows = sl_xrealloc(g->rows, (size_t)g->cap * sizeof *g->rows);
        g->fixed = sl_xrealloc(g->fixed, (size_t)g->cap);
    }
    struct sl_ori *o = &g->rows[g->n];
    g->fixed[g->n] = (unsigned char)fixed;
    g->n++;
    memset(o, 0, sizeof *o);
    sl_strlcpy(o->ori, ori, sizeof o->ori);
    sl_strlcpy(o->member, member, sizeof o->member);
    sl_strlcpy(o->type, type, sizeof o->type);
    sl_strlcpy(o->cats, cats, sizeof o->cats);
    o->status = 'A';
    return o;
}

/* Set the name; a name longer than the field is cut at a word boundary. */
static void setname(struct sl_ori *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void setname(struct sl_ori *o, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (strlen(buf) >= sizeof o->name) {
        buf[sizeof o->name - 1] = '\0';
        char *sp = strrchr(buf, ' ');
        if (sp)
            *sp = '\0';
        size_t n = strlen(buf);
        while (n && (buf[n - 1] == '-' || buf[n - 1] == ' ' || buf[n - 1] == ','))
            buf[--n] = '\0';
    }
    sl_strlcpy(o->name, buf, sizeof o->name);
}

static void addtag(struct sl_ori *o, const char *tag)
{
    if (strstr(o->tags, tag))
        return;
    if (strlen(o->tags) + strlen(tag) + 2 > sizeof o->tags)
        return;
    if (o->tags[0])
        strcat(o->tags, " ");
    strcat(o->tags, tag);
}

static char b36(int v) { return (char)(v < 10 ? '0' + v : 'A' + v - 10); }

/* Local ORI: state, county (1-based), agency, unit. */
static void local_ori(char *out, const char *st, int county, int agency, int unit)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.2s%03u%c%c%c%c", st, (unsigned)county % 1000u,
             b36(agency / 36 % 36), b36(agency % 36), b36(unit / 36 % 36), b36(unit % 36));
    memcpy(out, buf, SL_ORI_LEN);
    out[SL_ORI_LEN] = '\0';
}

/* State-wide or federal ORI: state + letters + zero-padded number to 9 characters. */
static void coded_ori(char *out, const char *st, const char *mnem, int num)
{
    /* 2 + strlen(mnem) letters, then the number right-aligned in the remaining digits. */
    char buf[48];
    size_t ml = strlen(mnem);
    snprintf(buf, sizeof buf, "%.2s%.5s%010u", st, mnem, (unsigned)num);
    memmove(buf + 2 + ml, buf + 2 + ml + 10 - (SL_ORI_LEN - 2 - ml), SL_ORI_LEN - 2 - ml);
    memcpy(out, buf, SL_ORI_LEN);
    out[SL_ORI_LEN] = '\0';
}

/* FNV-1a: a city's county does not depend on the seed. */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int county_of(const struct gstate *gs, const char *name)
{
    return gs->counties.n ? (int)(name_hash(name) % (uint32_t)gs->counties.n) + 1 : 1;
}

/* Next free agency number in a county (00 is the sheriff's). */
static int next_agency(struct gstate *gs, int county)
{
    return ++gs->county_next[county - 1];
}

/* "King County", "Orleans Parish", "Baltimore City", "New York City" */
static void county_label(char *out, size_t outlen, const struct gstate *gs, int i)
{
    const char *c = gs->counties.v[i];
    size_t n = strlen(c);
    if (!gs->st->county_word[0] || (n > 5 && strcmp(c + n - 5, " City") == 0))
        snprintf(out, outlen, "%s", c);
    else
        snprintf(out, outlen, "%s %s", c, gs->st->county_word);
}

/* A place name for office names: a city of the state, or the override places. */
static const char *place(const struct gstate *gs, int i)
{
    return gs->places.v[i % gs->places.n];
}

/* "the District of Columbia", "the U.S. Virgin Islands", else the name. */
static const char *the(const struct gen_state *st, char *buf, size_t len)
{
    if (strncmp(st->name, "District", 8) == 0 || strncmp(st->name, "U.S.", 4) == 0)
        snprintf(buf, len, "the %s", st->name);
    else
        snprintf(buf, len, "%s", st->name);
    return buf;
}

static struct gstate *find_state(struct gen *g, const char *code)
{
    for (int i = 0; i < g->ngs; i++)
        if (strcmp(g->gs[i].st->code, code) == 0)
            return &g->gs[i];
    return NULL;
}

/* Spread n over k bins by weight (largest remainder); out[] gets the counts. */
static void apportion(int n, const double *w, int k, int *out)
{
    double total = 0;
    for (int i = 0; i < k; i++)
        total += w[i];
    int given = 0;
    double *rem = sl_xmalloc((size_t)k * sizeof *rem);
    for (int i = 0; i < k; i++) {
        double share = total > 0 ? n * w[i] / total : 0;
        out[i] = (int)floor(share);
        rem[i] = share - out[i];
        given += out[i];
    }
    while (given < n && total > 0) {
        int best = 0;
        for (int i = 1; i < k; i++)
            if (rem[i] > rem[best])
                best = i;
        out[best]++;
        rem[best] = -1;
        given++;
    }
    free(rem);
}

static const char *pick_cats(struct gen *g, const char *a, double pa, const char *b)
{
    return rng_unit(&g->rng) < pa ? a : b;
}

/* ---- per state ----------------------------------------------------------------------- */

static void gen_state_agencies(struct gen *g, struct gstate *gs)
{
    const struct gen_state *st = gs->st;
    const char *S = st->code;
    char ori[SL_ORI_LEN + 1], label[128];
    struct sl_ori *o;
    int is_state = strcmp(S, "DC") && strcmp(S, "PR") && strcmp(S, "GU") && strcmp(S, "VI");

    /* Nlets generic ORIs and the DMV. */
    static const char *const generic[][3] = {{"LIC", "Vehicle Registration", "AD"},
                                             {"OLN", "Driver Licensing", "AD"},
                                             {"VIN", "Vehicle Identification", "AD"}};
    for (int i = 0; i < 3; i++) {
        coded_ori(ori, S, generic[i][0], 0);
        o = add(g, ori, S, "NJ", generic[i][2], 1);
        setname(o, "%s - %s", st->dmv, generic[i][1]);
    }
    coded_ori(ori, S, "DMV", 0);
    o = add(g, ori, S, "NJ", "AD", 1);
    setname(o, "%s", st->dmv);
    int ndmv = scaled(g, st->pop_k / 8000.0);
    for (int i = 0; i < ndmv && gs->nplaces; i++) {
        coded_ori(ori, S, "DMV", i + 1);
        o = add(g, ori, S, "NJ", "AD", 0);
        setname(o, "%s - %s Investigations Unit", st->dmv, place(gs, i));
    }
    coded_ori(ori, S, "SIR", 0);
    o = add(g, ori, S, "SA", "AC", 1);
    setname(o, "%s State Identification Bureau", st->name);
    snprintf(ori, sizeof ori, "%sNLETREP", S);
    o = add(g, ori, S, "SA", "ACDZ", 1);
    setname(o, "%s Nlets Representative", st->name);
    o->rand = 1;

    /* The state-wide police: headquarters (the control terminal) and district offices. */
    coded_ori(ori, S, st->sp_mnem, 0);
    o = add(g, ori, S, "SA", "ACDZ", 1);
    setname(o, "%s", st->sp_name);
    o->rand = 1;
    int ndist = scaled(g, st->pop_k / 2000.0);
    if (ndist < 2)
        ndist = 2;
    if (ndist > gs->nplaces)
        ndist = gs->nplaces;
    for (int i = 0; i < ndist; i++) {
        coded_ori(ori, S, st->sp_mnem, (i + 1) * 10);
        o = add(g, ori, S, "SA", "ACDZ", 0);
        setname(o, "%s - %s District Office", st->sp_name, place(gs, i));
    }
    if (st->sbi[0]) {
        coded_ori(ori, S, "SBI", 0);
        o = add(g, ori, S, "SA", "ACDZ", 1);
        setname(o, "%s", st->sbi);
        o->rand = 1;
    }
    coded_ori(ori, S, "FC", 0);
    o = add(g, ori, S, "SA", "ACDZ", 1);
    setname(o, is_state ? "%s State Fusion Center" : "%s Fusion Center", st->name);
    addtag(o, "fusion-center");
    struct list extra;
    list_split(&extra, gen_fusion_extra);
    for (int i = 0, k = 1; i + 1 < extra.n; i += 2) {
        if (strcmp(extra.v[i + 1], S) != 0)
            continue;
        coded_ori(ori, S, "FC", k++);
        o = add(g, ori, S, "SA", "ACDZ", 0);
        setname(o, "%s", extra.v[i]);
        addtag(o, "fusion-center");
    }
    list_free(&extra);

    if (is_state) {
        static const char *const other[][3] = {
            {"FW", "%s Department of Fish and Wildlife Enforcement Division", "ACDZ"},
            {"PK", "%s State Parks Law Enforcement", "ACDZ"},
            {"AG", "%s Attorney General's Office Criminal Investigations Division", "ACDZ"},
            {"AB", "%s Alcohol Beverage Control Enforcement", "ACDZ"},
            {"CP", "%s Capitol Police", "ACDZ"},
            {"RV", "%s Department of Revenue Criminal Investigations", "ACD"},
            {"FM", "%s State Fire Marshal", "ACD"},
            {"MF", "%s Medicaid Fraud Control Unit", "AC"},
            {"IF", "%s Insurance Fraud Bureau", "ACD"},
        };
        for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
            /* Most states have each; which ones is the seed's choice. */
            if (i > 1 && rng_unit(&g->rng) > 0.3 * (g->f > 1 ? 1 : g->f))
                continue;
            coded_ori(ori, S, other[i][0], 0);
            o = add(g, ori, S, "SA", other[i][2], i < 2);
            setname(o, other[i][1], st->name);
        }
    }

    /* Sheriffs: one per county where counties have them. */
    if (st->sheriffs) {
        int nso = gs->counties.n;
        if (g->f < 1)
            nso = (int)lround(nso * g->f);
        for (int i = 0; i < nso; i++) {
            const char *c = gs->counties.v[i];
            county_label(label, sizeof label, gs, i);
            local_ori(ori, S, i + 1, 0, 0);
            o = add(g, ori, S, "SO", "ACDZ", 0);
            size_t n = strlen(c);
            if (strcmp(S, "FL") == 0 && strcmp(c, "Duval") == 0)
                setname(o, "Jacksonville Sheriff's Office"); /* consolidated city-county */
            else if (n > 5 && strcmp(c + n - 5, " City") == 0 && strcmp(S, "NV") &&
                     strcmp(S, "NY"))
                setname(o, "City of %.*s Sheriff's Office", (int)(n - 5), c);
            else
                setname(o, "%s Sheriff's Office", label);
        }
        /* 287(g) agreements: a few sheriffs per state (mostly the South). */
        int n287 = st->n287g < nso ? st->n287g : nso;
        for (int k = 0; k < n287; k++) {
            for (int tries = 0; tries < 20; tries++) {
                int i = (int)rng_below(&g->rng, (uint32_t)nso);
                local_ori(ori, S, i + 1, 0, 0);
                struct sl_ori *so = NULL;
                for (int64_t j = g->n - 1; j >= 0; j--)
                    if (strcmp(g->rows[j].ori, ori) == 0) {
                        so = &g->rows[j];
                        break;
                    }
                if (so && !strstr(so->tags, "287g")) {
                    addtag(so, "287g");
                    addtag(so, "immigration-enforcement");
                    break;
                }
            }
        }
    }

    /* Tribal police. */
    for (int i = 0; i < gs->tribes.n; i++) {
        int c = county_of(gs, gs->tribes.v[i]);
        local_ori(ori, S, c, next_agency(gs, c), 0);
        o = add(g, ori, S, "LE", "ACDZ", 0);
        setname(o, "%s", gs->tribes.v[i]);
        addtag(o, "tribal");
    }
    /* Campus police. */
    int ncampus = scaled(g, st->pop_k / 2500.0);
    if (ncampus < 1)
        ncampus = 1;
    for (int i = 0; i < ncampus && gs->nplaces; i++) {
        const char *city = place(gs, i / 2);
        int c = county_of(gs, city);
        local_ori(ori, S, c, next_agency(gs, c), 0);
        o = add(g, ori, S, "LE", "ACDZ", 0);
        if (i == 0)
            setname(o, "University of %s Police Department", the(st, label, sizeof label));
        else if (i == 1 && is_state)
            setname(o, "%s State University Police Department", st->name);
        else if (i % 2 == 0 && i / 2 < gs->nplaces)
            setname(o, "%s Community College Police Department", city);
        else if (i / 2 < gs->nplaces)
            setname(o, "University of %s %s Campus Police Department",
                    the(st, label, sizeof label), city);
        else
            setname(o, "%s College Police Department %d", st->name, i);
        addtag(o, "campus");
    }
    /* Transit, airport, port, housing and school police in the larger places. */
    int nbig = scaled(g, st->pop_k / 6000.0);
    if (nbig > gs->nplaces)
        nbig = gs->nplaces;
    static const char *const big[] = {"%s Transit Police Department",
                                      "%s International Airport Police Department",
                                      "%s Housing Authority Police Department"};
    for (int i = 0; i < nbig; i++) {
        for (size_t k = 0; k < sizeof big / sizeof big[0]; k++) {
            if (k > 0 && rng_unit(&g->rng) < 0.5)
                continue;
            int c = county_of(gs, place(gs, i));
            local_ori(ori, S, c, next_agency(gs, c), 0);
            o = add(g, ori, S, "LE", "ACDZ", 0);
            setname(o, big[k], place(gs, i));
        }
    }
    struct list pp;
    list_split(&pp, gen_port_police);
    for (int i = 0; i + 1 < pp.n && g->f >= 0.5; i += 2) {
        if (strcmp(pp.v[i + 1], S) != 0)
            continue;
        int c = county_of(gs, pp.v[i]);
        local_ori(ori, S, c, next_agency(gs, c), 0);
        o = add(g, ori, S, "LE", "ACDZ", 0);
        setname(o, "%s", pp.v[i]);
    }
    list_free(&pp);
    int nschool = scaled(g, st->pop_k / (strcmp(S, "TX") == 0 ? 1000.0 : 6000.0));
    for (int i = 0; i < nschool && i < gs->nplaces; i++) {
        int c = county_of(gs, place(gs, i));
        local_ori(ori, S, c, next_agency(gs, c), 0);
        o = add(g, ori, S, "LE", "ACDZ", 0);
        setname(o, strcmp(S, "TX") == 0 ? "%s Independent School District Police Department"
                                        : "%s Public Schools Police Department",
                place(gs, i));
    }
    /* County drug task forces. */
    int ntf = scaled(g, st->pop_k / 5000.0);
    for (int i = 0; i < ntf && gs->counties.n; i++) {
        int ci = (int)rng_below(&g->rng, (uint32_t)gs->counties.n);
        county_label(label, sizeof label, gs, ci);
        local_ori(ori, S, ci + 1, next_agency(gs, ci + 1), 0);
        o = add(g, ori, S, "LE", "ACDZ", 0);
        setname(o, "%s Narcotics Task Force", label);
        addtag(o, "task-force");
    }

    /* Courts, prosecutors, corrections, probation. */
    coded_ori(ori, S, "SC", 0);
    o = add(g, ori, S, "JJ", "AC", 1);
    if (strcmp(S, "DC") == 0)
        setname(o, "District of Columbia Court of Appeals");
    else
        setname(o, "%s Supreme Court", st->name);
    coded_ori(ori, S, "AOC", 0);
    o = add(g, ori, S, "JJ", "ACD", 1);
    setname(o, "%s Administrative Office of the Courts", st->name);
    coded_ori(ori, S, "AG", 1);
    o = add(g, ori, S, "JA", "ACD", 1);
    setname(o, "%s Attorney General's Office", st->name);
    coded_ori(ori, S, "DOC", 0);
    o = add(g, ori, S, "JC", "ACD", 1);
    setname(o, "%s Department of Corrections", st->name);
    coded_ori(ori, S, "PB", 0);
    o = add(g, ori, S, "JG", "ACD", 1);
    setname(o, "%s Board of Pardons and Parole", st->name);
    int nprison = scaled(g, st->pop_k / 2500.0);
    for (int i = 0; i < nprison && i < gs->nplaces; i++) {
        coded_ori(ori, S, "DOC", i + 1);
        o = add(g, ori, S, "JC", pick_cats(g, "AC", 0.6, "ACZ"), 0);
        setname(o, "%s Correctional Facility", place(gs, gs->nplaces - 1 - i));
    }
    int nsup = scaled(g, st->pop_k / 3000.0);
    for (int i = 0; i < nsup && i < gs->nplaces; i++) {
        coded_ori(ori, S, "PB", i + 1);
        o = add(g, ori, S, "JG", pick_cats(g, "ACD", 0.6, "AC"), 0);
        setname(o, "%s Department of Corrections - %s Community Supervision Office", st->name,
                place(gs, i));
    }
    int nmuni = scaled(g, st->pop_k / 3000.0);
    for (int i = 0; i < nmuni && i < gs->nplaces; i++) {
        int c = county_of(gs, place(gs, i));
        local_ori(ori, S, c, next_agency(gs, c), 0);
        o = add(g, ori, S, "JJ", pick_cats(g, "AC", 0.6, "ACD"), 0);
        setname(o, "%s Municipal Court", place(gs, i));
    }
    double pf = g->f > 1 ? 1 : g->f;
    for (int i = 0; i < gs->counties.n; i++) {
        county_label(label, sizeof label, gs, i);
        if (rng_unit(&g->rng) < 0.07 * pf) {
            local_ori(ori, S, i + 1, next_agency(gs, i + 1), 0);
            o = add(g, ori, S, "JJ", pick_cats(g, "AC", 0.6, "ACD"), 0);
            setname(o, "%s %s", label, st->court);
        }
        if (rng_unit(&g->rng) < 0.07 * pf) {
            local_ori(ori, S, i + 1, next_agency(gs, i + 1), 0);
            o = add(g, ori, S, "JA", pick_cats(g, "ACD", 0.6, "AC"), 0);
            setname(o, "%s %s", label, st->pros);
        }
        if (st->sheriffs && rng_unit(&g->rng) < 0.03 * pf) {
            local_ori(ori, S, i + 1, next_agency(gs, i + 1), 0);
            o = add(g, ori, S, "JC", pick_cats(g, "AC", 0.5, "ACZ"), 0);
            setname(o, "%s %s", label, rng_unit(&g->rng) < 0.5 ? "Jail" : "Detention Center");
        }
        if (rng_unit(&g->rng) < 0.02 * pf) {
            local_ori(ori, S, i + 1, next_agency(gs, i + 1), 0);
            o = add(g, ori, S, "JG", pick_cats(g, "ACD", 0.6, "AC"), 0);
            setname(o, "%s Probation Department", label);
        }
    }
}

/* ---- federal ----------------------------------------------------------------------- */

struct fedseq {
    int next[64]; /* next ORI number per state index */
};

static struct sl_ori *fed_add(struct gen *g, const struct gen_fed *fd, struct fedseq *seq,
                              int si, int fixed)
{
    char ori[SL_ORI_LEN + 1];
    coded_ori(ori, g->gs[si].st->code, fd->mnem, seq->next[si]++);
    struct sl_ori *o = add(g, ori, fd->member, fd->type, fd->cats, fixed);
    sl_strlcpy(o->parent, fd->parent, sizeof o->parent);
    if (fd->tags[0])
        sl_strlcpy(o->tags, fd->tags, sizeof o->tags);
    return o;
}

/* Is name already an office name of this component in this state? */
static int fed_has(const struct gen *g, int64_t from, const char *member, const char *ori_pfx,
                   const char *name)
{
    for (int64_t i = from; i < g->n; i++)
        if (strcmp(g->rows[i].member, member) == 0 && strncmp(g->rows[i].ori, ori_pfx, 5) == 0 &&
            strcmp(g->rows[i].name, name) == 0)
            return 1;
    return 0;
}

static void gen_federal(struct gen *g, const struct gen_fed *fd)
{
    struct fedseq seq;
    memset(&seq, 0, sizeof seq);
    int64_t first = g->n;
    struct list offices;
    list_split(&offices, fd->offices);
    struct sl_ori *o;

    if (strcmp(fd->parent, "DOJ/USMS") == 0) {
        /* One office per federal judicial district. */
        for (int si = 0; si < g->ngs; si++) {
            const struct gstate *gs = &g->gs[si];
            if (gs->usms.n == 0) {
                o = fed_add(g, fd, &seq, si, 1);
                char nm[80];
                setname(o, "U.S. Marshals Service District of %s",
                        strcmp(gs->st->code, "DC") == 0 ? "Columbia"
                                                       : the(gs->st, nm, sizeof nm));
            }
            for (int k = 0; k < gs->usms.n; k++) {
                o = fed_add(g, fd, &seq, si, 1);
                setname(o, "U.S. Marshals Service %s District of %s", gs->usms.v[k],
                        gs->st->name);
            }
        }
    }
    for (int i = 0; i + 1 < offices.n; i += 2) {
        struct gstate *gs = find_state(g, offices.v[i + 1]);
        if (!gs)
            continue;
        int si = (int)(gs - g->gs);
        o = fed_add(g, fd, &seq, si, 1);
        setname(o, fd->fo_fmt, offices.v[i]);
        if (fd->tf_fmt) {
            o = fed_add(g, fd, &seq, si, 0);
            setname(o, fd->tf_fmt, offices.v[i]);
            addtag(o, "task-force");
        }
    }

    int nsub = scaled(g, fd->nsub);
    if (nsub > 0 && fd->sub_where) {
        double w[64] = {0};
        int cnt[64] = {0};
        int base = 0;
        for (int si = 0; si < g->ngs; si++) {
            const struct gstate *gs = &g->gs[si];
            double pop = gs->st->pop_k;
            switch (fd->sub_where) {
            case 'B': {
                static const double mult[] = {['S'] = 6.0, ['N'] = 4.0, ['C'] = 2.0};
                double m = gs->st->border ? mult[(unsigned char)gs->st->border] : 0.25;
                w[si] = gs->npoe ? pop * m : 0;
                break;
            }
            case 'L':
                w[si] = gs->st->border == 'S' ? 3.0 * gs->nbp
                        : gs->st->border == 'N' ? gs->nbp
                                                : 0;
                break;
            default:
                w[si] = pop;
                break;
            }
        }
        if (fd->sub_where == 'P' && nsub >= 2 * g->ngs)
            base = 1; /* every state has at least one office */
        apportion(nsub - base * g->ngs, w, g->ngs, cnt);
        for (int si = 0; si < g->ngs; si++) {
            struct gstate *gs = &g->gs[si];
            int want = cnt[si] + base;
            const char *const *names = fd->sub_where == 'B'   ? gs->poe
                                       : fd->sub_where == 'L' ? gs->bp
                                                              : NULL;
            int navail = fd->sub_where == 'B'   ? gs->npoe
                         : fd->sub_where == 'L' ? gs->nbp
                                                : gs->nplaces;
            char pfx[6];
            snprintf(pfx, sizeof pfx, "%s%s", gs->st->code, fd->mnem);
            for (int k = 0; k < navail && want > 0; k++) {
                const char *where = names ? names[k] : place(gs, k);
                char name[sizeof o->name];
                snprintf(name, sizeof name, fd->fo_fmt, where);
                if (fed_has(g, first, fd->member, pfx, name))
                    continue; /* the field office's own city */
                snprintf(name, sizeof name, fd->sub_fmt, where);
                if (fed_has(g, first, fd->member, pfx, name))
                    continue;
                o = fed_add(g, fd, &seq, si, 0);
                setname(o, fd->sub_fmt, where);
                want--;
            }
        }
    }
    list_free(&offices);
}

/* ---- Canada ------------------------------------------------------------------------ */

static void gen_canada(struct gen *g)
{
    struct list prov, svc, det;
    list_split(&prov, gen_ca_provinces);
    list_split(&svc, gen_ca_services);
    list_split(&det, gen_ca_detachments);
    char ori[SL_ORI_LEN + 1];
    struct sl_ori *o;

    o = add(g, "ONRCMHQ00", "CN", "SA", "ACDZ", 1);
    setname(o, "Royal Canadian Mounted Police National Headquarters");
    o = add(g, "ONCPIC000", "CN", "SA", "ACDZ", 1);
    setname(o, "Canadian Police Information Centre");
    for (int i = 0; i + 2 < prov.n; i += 3) {
        coded_ori(ori, prov.v[i], "RCM", 0);
        o = add(g, ori, "CN", "SA", "ACDZ", 1);
        setname(o, "RCMP %s (%s Division)", prov.v[i + 1], prov.v[i + 2]);
    }
    int seq[16] = {0};
    for (int i = 0; i + 1 < det.n; i += 2) {
        int p = 0;
        for (int k = 0; k + 2 < prov.n; k += 3)
            if (strcmp(prov.v[k], det.v[i + 1]) == 0)
                p = k / 3;
        coded_ori(ori, det.v[i + 1], "RCM", ++seq[p]);
        o = add(g, ori, "CN", "LE", "ACDZ", 0);
        setname(o, "RCMP %s Detachment", det.v[i]);
    }
    for (int i = 0; i + 1 < svc.n; i += 2) {
        snprintf(ori, sizeof ori, "%s%03d0000", svc.v[i + 1], i / 2 + 1);
        int provincial = strstr(svc.v[i], "Provincial") || strstr(svc.v[i], "Sûreté") ||
                         strstr(svc.v[i], "Constabulary");
        o = add(g, ori, "CN", provincial ? "SA" : "PD", "ACDZ", 0);
        setname(o, "%s", svc.v[i]);
    }
    static const char *const cbsa[][2] = {
        {"BC", "Pacific Region"}, {"AB", "Prairie Region"},
        {"ON", "Greater Toronto Area Region"}, {"ON", "Southern Ontario Region"},
        {"ON", "Northern Ontario Region"}, {"PQ", "Quebec Region"}, {"NS", "Atlantic Region"}};
    for (size_t i = 0; i < sizeof cbsa / sizeof cbsa[0]; i++) {
        coded_ori(ori, cbsa[i][0], "CBS", (int)i);
        o = add(g, ori, "CN", "LE", "ACDZ", 0);
        setname(o, "Canada Border Services Agency - %s", cbsa[i][1]);
        addtag(o, "border");
    }
    list_free(&prov);
    list_free(&svc);
    list_free(&det);
}

/* ---- municipal police ------------------------------------------------------------ */

static const char *const units[] = {
    "Patrol Division", "Investigations Division", "Records Unit", "Communications Center",
    "Traffic Division", "Narcotics Unit", "Special Victims Unit", "Gang Unit",
    "Property Crimes Unit", "Auto Theft Unit", "Warrants Unit", "Training Division",
    "Internal Affairs", "Crime Analysis Unit", "Homeland Security Bureau", "K-9 Unit",
    "Domestic Violence Unit", "Fugitive Unit", "Crime Laboratory", "Jail Division",
    "Professional Standards", "Emergency Operations", "Airport Division", "Transit Division",
    "Harbor Unit", "Major Crimes Unit"};

/* Units that have no business with DMV records. */
static int unit_without_d(const char *u)
{
    return strcmp(u, "Records Unit") == 0 || strcmp(u, "Internal Affairs") == 0 ||
           strcmp(u, "Crime Laboratory") == 0 || strcmp(u, "Training Division") == 0 ||
           strcmp(u, "Professional Standards") == 0;
}

/* Cities whose police is not "<City> Police Department". */
static const char *const pd_alias[][3] = {
    {"NV", "Las Vegas", "Las Vegas Metropolitan Police Department"},
    {"IN", "Indianapolis", "Indianapolis Metropolitan Police Department"},
    {"KY", "Louisville", "Louisville Metro Police Department"},
    {"TN", "Nashville", "Metropolitan Nashville Police Department"},
    {"NC", "Charlotte", "Charlotte-Mecklenburg Police Department"},
    {"OR", "Portland", "Portland Police Bureau"},
    {"GA", "Athens", "Athens-Clarke County Police Department"},
    {"KS", "Kansas City", "Kansas City Kansas Police Department"},
};

static void pd_name(struct sl_ori *o, const struct gstate *gs, const char *city)
{
    for (size_t i = 0; i < sizeof pd_alias / sizeof pd_alias[0]; i++)
        if (strcmp(pd_alias[i][0], gs->st->code) == 0 && strcmp(pd_alias[i][1], city) == 0) {
            setname(o, "%s", pd_alias[i][2]);
            return;
        }
    if (strstr(city, "Police") || strstr(city, "Department"))
        setname(o, "%s", city);
    else if (strcmp(gs->st->code, "PR") == 0)
        setname(o, "Policía Municipal de %s", city);
    else
        setname(o, "%s Police Department", city);
}

static void gen_police(struct gen *g, struct gstate *gs, int n)
{
    const char *S = gs->st->code;
    int m = gs->cities.n;
    if (m == 0 || n <= 0)
        return;
    int nmain = n < m ? n : m;
    int *agency = sl_xcalloc((size_t)nmain, sizeof *agency);
    int *county = sl_xcalloc((size_t)nmain, sizeof *county);
    char ori[SL_ORI_LEN + 1];
    struct sl_ori *o;
    for (int i = 0; i < nmain; i++) {
        const char *city = gs->cities.v[i];
        county[i] = county_of(gs, city);
        agency[i] = next_agency(gs, county[i]);
        local_ori(ori, S, county[i], agency[i], 0);
        o = add(g, ori, S, "PD", "ACDZ", 0);
        pd_name(o, gs, city);
    }
    int extra = n - nmain;
    if (extra > 0) {
        double *w = sl_xmalloc((size_t)nmain * sizeof *w);
        int *cnt = sl_xmalloc((size_t)nmain * sizeof *cnt);
        for (int i = 0; i < nmain; i++)
            w[i] = 1.0 / pow(i + 1, 0.9); /* Zipf: city sizes fall off with rank */
        apportion(extra, w, nmain, cnt);
        for (int i = 0; i < nmain; i++) {
            char base[sizeof o->name];
            struct sl_ori tmp;
            pd_name(&tmp, gs, gs->cities.v[i]);
            sl_strlcpy(base, tmp.name, sizeof base);
            for (int k = 0; k < cnt[i] && k < 36 * 36 - 1; k++) {
                local_ori(ori, S, county[i], agency[i], k + 1);
                o = add(g, ori, S, "PD", "ACDZ", 0);
                int nu = (int)(sizeof units / sizeof units[0]);
                if (k < nu) {
                    setname(o, "%s - %s", base, units[k]);
                    if (unit_without_d(units[k]))
                        sl_strlcpy(o->cats, strcmp(units[k], "Training Division") ? "AC" : "AZ",
                                   sizeof o->cats);
                } else {
                    setname(o, "%s - District %d", base, k - nu + 1);
                }
            }
        }
        free(w);
        free(cnt);
    }
    free(agency);
    free(county);
}

/* ---- driver ------------------------------------------------------------------------- */

static void gen_free(struct gen *g)
{
    for (int i = 0; i < g->ngs; i++) {
        list_free(&g->gs[i].counties);
        list_free(&g->gs[i].cities);
        list_free(&g->gs[i].places);
        list_free(&g->gs[i].ports);
        list_free(&g->gs[i].tribes);
        list_free(&g->gs[i].usms);
        free(g->gs[i].county_next);
    }
    free(g->gs);
    free(g->rows);
    free(g->fixed);
}

int sl_dir_generate_ex(struct sl_dir *d, uint64_t seed, int64_t target, FILE *progress,
                       char *err, size_t errlen)
{
    if (target < SL_DIR_GEN_MIN || target > SL_DIR_GEN_MAX)
        return sl_dir__fail(err, errlen, "target %lld out of range (%d to %d ORIs)",
                            (long long)target, SL_DIR_GEN_MIN, SL_DIR_GEN_MAX);
    int64_t existing = sl_dir_count(d);
    if (existing != 0)
        return sl_dir__fail(err, errlen,
                            "the directory is not empty (%lld ORIs): generate into a new "
                            "database",
                            (long long)existing);

    struct gen g;
    memset(&g, 0, sizeof g);
    rng_seed(&g.rng, seed);
    g.target = target;
    g.f = (double)target / BASE_SCALE;
    g.ngs = gen_nstates;
    g.gs = sl_xcalloc((size_t)g.ngs, sizeof *g.gs);
    for (int i = 0; i < g.ngs; i++) {
        struct gstate *gs = &g.gs[i];
        gs->st = &gen_states[i];
        list_split(&gs->counties, gs->st->counties);
        list_split(&gs->ports, gs->st->ports);
        for (int k = 0; k < gs->ports.n; k++) {
            const char *p = gs->ports.v[k];
            if (p[0] != '*')
                gs->poe[gs->npoe++] = p[0] == '+' ? p + 1 : p;
            if (p[0] == '*' || p[0] == '+')
                gs->bp[gs->nbp++] = p + 1;
        }
        list_split(&gs->tribes, gs->st->tribes);
        list_split(&gs->usms, gs->st->usms);
        const char *places = gs->st->cities;
        for (size_t k = 0; k < sizeof place_override / sizeof place_override[0]; k++)
            if (strcmp(place_override[k][0], gs->st->code) == 0)
                places = place_override[k][1];
        /* cities: the municipal police; places: names for offices (they differ where
         * the police list holds agency names, as in DC) */
        list_split(&gs->cities, gs->st->cities);
        list_split(&gs->places, places);
        /* Agency names in a city list ("Suffolk County Police Department") are no places. */
        int np = 0;
        for (int k = 0; k < gs->places.n; k++)
            if (!strstr(gs->places.v[k], "Police"))
                gs->places.v[np++] = gs->places.v[k];
        gs->places.n = np;
        gs->nplaces = gs->places.n;
        gs->county_next = sl_xcalloc((size_t)(gs->counties.n ? gs->counties.n : 1), sizeof(int));
    }

    /* 1-4: everything but municipal police. */
    struct sl_ori *o = add(&g, SL_SWITCH_ORI, "NL", "NJ", "AZ", 1);
    setname(o, "stateline switch");
    for (int i = 0; i < g.ngs; i++) {
        int64_t before = g.n;
        gen_state_agencies(&g, &g.gs[i]);
        g.gs[i].nrows = g.n - before;
    }
    for (int i = 0; i < gen_nfeds; i++)
        gen_federal(&g, &gen_feds[i]);
    gen_canada(&g);

    /* 5: municipal police fill the rest, by population. */
    int64_t pd_total = target - g.n;
    if (pd_total < 0) {
        gen_free(&g);
        return sl_dir__fail(err, errlen, "target %lld is too small for the fixed agencies (%lld)",
                            (long long)target, (long long)(target - pd_total));
    }
    double w[64] = {0};
    int cnt[64] = {0};
    for (int i = 0; i < g.ngs; i++)
        w[i] = g.gs[i].st->pop_k;
    apportion((int)pd_total, w, g.ngs, cnt);
    for (int i = 0; i < g.ngs; i++) {
        struct gstate *gs = &g.gs[i];
        int64_t before = g.n;
        gen_police(&g, gs, cnt[i]);
        gs->nrows += g.n - before;
    }

    /* Status and categories: ~1.5% inactive, ~2% of the rest without D. */
    for (int64_t i = 0; i < g.n; i++) {
        if (g.fixed[i])
            continue;
        double u = rng_unit(&g.rng);
        if (u < 0.015)
            g.rows[i].status = 'I';
        else if (u < 0.025 && strchr(g.rows[i].cats, 'D'))
            sl_strlcpy(g.rows[i].cats, rng_unit(&g.rng) < 0.5 ? "AC" : "ACZ",
                       sizeof g.rows[i].cats);
    }

    if (g.n != target) {
        int64_t n = g.n;
        gen_free(&g);
        return sl_dir__fail(err, errlen, "internal: generated %lld ORIs for a target of %lld",
                            (long long)n, (long long)target);
    }

    /* Write, in one transaction. */
    if (sl_dir_begin(d) < 0) {
        gen_free(&g);
        return sl_dir__fail(err, errlen, "cannot start a transaction");
    }
    char e[256];
    for (int64_t i = 0; i < g.n; i++) {
        if (sl_dir_put(d, NULL, &g.rows[i], e, sizeof e) < 0) {
            sl_dir_rollback(d);
            sl_dir__fail(err, errlen, "generated row %s (%s) refused: %s", g.rows[i].ori,
                         g.rows[i].name, e);
            gen_free(&g);
            return -1;
        }
    }
    if (sl_dir_commit(d) < 0) {
        sl_dir_rollback(d);
        gen_free(&g);
        return sl_dir__fail(err, errlen, "commit failed");
    }
    int64_t count = sl_dir_count(d);
    if (count != target) {
        gen_free(&g);
        return sl_dir__fail(err, errlen,
                            "internal: %lld rows stored for %lld generated (duplicate ORI?)",
                            (long long)count, (long long)target);
    }
    if (progress)
        for (int i = 0; i < g.ngs; i++)
            fprintf(progress, "  %s %-22s %6lld ORIs\n", g.gs[i].st->code, g.gs[i].st->name,
                    (long long)g.gs[i].nrows);
    gen_free(&g);
    return 0;
}

int sl_dir_generate(struct sl_dir *d, uint64_t seed, int64_t target, char *err, size_t errlen)
{
    return sl_dir_generate_ex(d, seed, target, NULL, err, errlen);
}
