/*
 * population.c - the synthetic population generator (population.h).
 *
 * The model, with the source or assumption behind each share, is in docs/records.md
 * "Generator model"; the constants below carry the same numbers.  Identifier formats
 * are patterns over the letters a (A-Z), s (surname initial), d (0-9), x (A-Z0-9),
 * p (plate letter, A-Z without I O Q); any other character is literal; '|' separates
 * alternatives, whose number spaces are concatenated.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen/tables.h"
#include "stateline/core.h"
#include "stateline/population.h"

/* ---- PRNG: splitmix64 and xoshiro256** (public domain reference algorithms) -------- */
uint64_t sl_pop_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sl_pop_rng_seed(struct sl_pop_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = sl_pop_splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sl_pop_rng_next(struct sl_pop_rng *r)
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

uint64_t sl_pop_rng_below(struct sl_pop_rng *r, uint64_t n)
{
    if (n <= 0xffffffffULL)
        return ((sl_pop_rng_next(r) >> 32) * n) >> 32;
    return sl_pop_rng_next(r) % n; /* only for huge spaces, where the bias is negligible */
}

double sl_pop_rng_unit(struct sl_pop_rng *r) { return (double)(sl_pop_rng_next(r) >> 11) * 0x1.0p-53; }

static double rng_normal(struct sl_pop_rng *r)
{
    /* Box-Muller; one value per call keeps the stream simple. */
    double u1 = sl_pop_rng_unit(r), u2 = sl_pop_rng_unit(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int chance(struct sl_pop_rng *r, double p) { return sl_pop_rng_unit(r) < p; }

/* ---- dates (Howard Hinnant's days_from_civil) --------------------------------------- */
int64_t sl_pop_date_days(int32_t ymd)
{
    int64_t y = ymd / 10000, m = ymd / 100 % 100, d = ymd % 100;
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int32_t sl_pop_date_ymd(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    return (int32_t)(y * 10000 + m * 100 + d);
}

int32_t sl_pop_date_today(void)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    return (int32_t)((tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday);
}

/* Same month and day in another year (29 Feb becomes 28 Feb). */
static int32_t date_add_years(int32_t ymd, int years)
{
    int32_t y = ymd / 10000 + years, md = ymd % 10000;
    if (md == 229 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        md = 228;
    return y * 10000 + md;
}

static int32_t date_add_days(int32_t ymd, int64_t days)
{
    return sl_pop_date_ymd(sl_pop_date_days(ymd) + days);
}

/* ---- weighted tables ---------------------------------------------------------------- */
struct wtab {
    const struct sl_wname *v;
    uint64_t *cum; /* cum[i] = sum of weights 0..i */
    size_t n;
};

static void wtab_init(struct wtab *t, const struct sl_wlist *l)
{
    t->v = l->v;
    t->n = l->n;
    t->cum = sl_xmalloc(l->n * sizeof(uint64_t));
    uint64_t s = 0;
    for (size_t i = 0; i < l->n; i++)
        t->cum[i] = (s += l->v[i].w);
}

static const char *wtab_pick(const struct wtab *t, struct sl_pop_rng *r)
{
    uint64_t x = sl_pop_rng_below(r, t->cum[t->n - 1]);
    size_t lo = 0, hi = t->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return t->v[lo].s;
}

/* Pick an index from a small array of weights. */
static size_t pick_w(struct sl_pop_rng *r, const double *w, size_t n)
{
    double tot = 0;
    for (size_t i = 0; i < n; i++)
        tot += w[i];
    double x = sl_pop_rng_unit(r) * tot;
    for (size_t i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* ---- identifier spaces: patterns and a keyed permutation ---------------------------- */
#define MAX_ALTS 4
struct idfmt {
    int n;
    char alt[MAX_ALTS][24];
    uint64_t size[MAX_ALTS];
    uint64_t total;
};

static int radix(char c)
{
    switch (c) {
    case 'a': return 26;
    case 'd': return 10;
    case 'x': return 36;
    case 'p': return 23;
    default: return 1; /* literal, or 's' (fixed by the surname) */
    }
}

static void idfmt_init(struct idfmt *f, const char *pat)
{
    memset(f, 0, sizeof *f);
    const char *p = pat;
    while (*p && f->n < MAX_ALTS) {
        size_t len = strcspn(p, "|");
        if (len >= sizeof f->alt[0])
            len = sizeof f->alt[0] - 1;
        memcpy(f->alt[f->n], p, len);
        uint64_t sz = 1;
        for (size_t i = 0; i < len; i++)
            sz *= (uint64_t)radix(p[i]);
        f->size[f->n] = sz;
        f->total += sz;
        f->n++;
        p += len;
        if (*p == '|')
            p++;
    }
}

static const char plate_letters[] = "ABCDEFGHJKLMNPRSTUVWXYZ";
static const char alnum36[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* Write the v-th identifier (v < f->total) of the format into out. */
static void idfmt_render(const struct idfmt *f, uint64_t v, char initial, char *out)
{
    int a = 0;
    while (a < f->n - 1 && v >= f->size[a])
        v -= f->size[a++];
    const char *pat = f->alt[a];
    size_t len = strlen(pat);
    out[len] = 0;
    for (size_t i = len; i-- > 0;) {
        char c = pat[i];
        int rx = radix(c);
        unsigned digit = rx > 1 ? (unsigned)(v % (uint64_t)rx) : 0;
        v /= (uint64_t)rx;
        switch (c) {
        case 'a': out[i] = (char)('A' + digit); break;
        case 'd': out[i] = (char)('0' + digit); break;
        case 'x': out[i] = alnum36[digit]; break;
        case 'p': out[i] = plate_letters[digit]; break;
        case 's': out[i] = initial; break;
        default: out[i] = c;
        }
    }
}

/* A Feistel network over 2^(2h) values, cycle-walked into [0, m): a bijection of
 * [0, m) keyed by k.  Four rounds of a splitmix-style mix are plenty for "looks
 * random"; nothing here needs cryptographic strength. */
struct perm {
    uint64_t m;
    int h;
    uint64_t mask;
    uint64_t k[4];
};

static void perm_init(struct perm *p, uint64_t m, uint64_t key)
{
    p->m = m;
    int bits = 1;
    while (bits < 64 && (1ULL << bits) < m)
        bits++;
    p->h = (bits + 1) / 2;
    if (p->h < 1)
        p->h = 1;
    p->mask = (1ULL << p->h) - 1;
    uint64_t x = key;
    for (int i = 0; i < 4; i++)
        p->k[i] = sl_pop_splitmix64(&x);
}

static uint64_t perm_apply(const struct perm *p, uint64_t v)
{
    do {
        uint64_t l = v >> p->h, r = v & p->mask;
        for (int i = 0; i < 4; i++) {
            uint64_t z = (r ^ p->k[i]) * 0xbf58476d1ce4e5b9ULL;
            z ^= z >> 31;
            uint64_t nl = r;
            r = (l ^ z) & p->mask;
            l = nl;
        }
        v = (l << p->h) | r;
    } while (v >= p->m);
    return v;
}

/* ---- VIN ------------------------------------------------------------------------------ */
static int vin_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    static const char *letters = "ABCDEFGHJKLMNPRSTUVWXYZ";
    static const int values[] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5,
                                 7, 9, 2, 3, 4, 5, 6, 7, 8, 9};
    const char *q = c ? strchr(letters, c) : NULL;
    return q ? values[q - letters] : -1;
}

char sl_store_vin_check_digit(const char *vin)
{
    static const int weight[17] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        int v = vin_value(vin[i]);
        if (v < 0)
            return 0;
        sum += v * weight[i];
    }
    int r = sum % 11;
    return r == 10 ? 'X' : (char)('0' + r);
}

int sl_store_vin_valid(const char *vin)
{
    if (!vin || strlen(vin) != 17)
        return 0;
    char c = sl_store_vin_check_digit(vin);
    return c && vin[8] == c;
}

/* Model-year code, position 10 (30-year cycle; letters skip I O Q U Z and 0). */
static char vin_year_code(int year)
{
    static const char codes[] = "ABCDEFGHJKLMNPRSTVWXY123456789";
    int i = (year - 1980) % 30;
    if (i < 0)
        i += 30;
    return codes[i];
}

static const char vin_chars[] = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"; /* 33 */

/* ---- states ----------------------------------------------------------------------------- */
int sl_pop_state_info(size_t i, struct sl_pop_state_info *out)
{
    if (i >= sl_tab_n_states)
        return -1;
    const struct sl_state *s = &sl_tab_states[i];
    out->code = s->code;
    out->name = s->name;
    out->oln_fmt = s->oln_fmt;
    out->oln_re = s->oln_re;
    out->plate_fmt = s->plate_fmt;
    out->plate_re = s->plate_re;
    return 0;
}

static const struct sl_state *state_find(const char *code)
{
    if (!code || strlen(code) != 2)
        return NULL;
    char c[3] = {(char)toupper((unsigned char)code[0]), (char)toupper((unsigned char)code[1]), 0};
    for (size_t i = 0; i < sl_tab_n_states; i++)
        if (strcmp(sl_tab_states[i].code, c) == 0)
            return &sl_tab_states[i];
    return NULL;
}

int sl_pop_state_find(const char *code, struct sl_pop_state_info *out)
{
    const struct sl_state *s = state_find(code);
    if (!s)
        return -1;
    return sl_pop_state_info((size_t)(s - sl_tab_states), out);
}

/* ---- the generator -------------------------------------------------------------------- */
enum { PT_PC, PT_TK, PT_MC, PT_TL, PT_CO, PT_AP, PT_N };
static const char *const pt_code[PT_N] = {"PC", "TK", "MC", "TL", "CO", "AP"};

struct sl_pop {
    struct sl_pop_opts o;
    char state[4];
    const struct sl_state *st;
    int as_of_year;
    uint64_t next_id;
    uint64_t next_vehicle;
    uint64_t plate_next[PT_N];
    struct idfmt oln, plate[PT_N], ssn_fmt;
    struct perm oln_perm, plate_perm[PT_N], ssn_perm, vin_perm;
    struct wtab surnames[SL_ORIGIN_N], more[SL_ORIGIN_N], tail_pre, tail_suf, given[2][3], given_h[2],
        given_a[2], streets, street_types, vcolours, wreasons;
    uint64_t *city_cum;
    uint64_t *veh_cum;
    uint64_t viol_tot;
};

static uint64_t key_for(const struct sl_pop *g, const char *what)
{
    uint64_t h = g->o.seed ^ 0x5ca1ab1e5eedULL;
    for (const char *p = g->state; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    for (const char *p = what; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    return sl_pop_splitmix64(&h);
}

struct sl_pop *sl_pop_new(const struct sl_pop_opts *opts, char *err, size_t errlen)
{
    const struct sl_state *st = state_find(opts->state);
    if (!st) {
        snprintf(err, errlen, "unknown state '%s' (two-letter code of a state, DC or territory)",
                 opts->state ? opts->state : "");
        return NULL;
    }
    if (opts->drivers == 0) {
        snprintf(err, errlen, "--drivers must be at least 1");
        return NULL;
    }
    if (opts->as_of < 19000101 || opts->as_of > 21991231 ||
        sl_pop_date_ymd(sl_pop_date_days(opts->as_of)) != opts->as_of) {
        snprintf(err, errlen, "as-of date %d is not a valid yyyymmdd date", opts->as_of);
        return NULL;
    }
    struct sl_pop *g = sl_xcalloc(1, sizeof *g);
    g->o = *opts;
    memcpy(g->state, st->code, 3);
    g->o.state = g->state;
    g->st = st;
    g->as_of_year = opts->as_of / 10000;
    g->next_id = 1;
    idfmt_init(&g->oln, st->oln_fmt);
    if (g->oln.total < opts->drivers) {
        snprintf(err, errlen,
                 "%s licence numbers (%s) hold %llu numbers, fewer than %llu drivers", st->code,
                 st->oln_fmt, (unsigned long long)g->oln.total,
                 (unsigned long long)opts->drivers);
        free(g);
        return NULL;
    }
    perm_init(&g->oln_perm, g->oln.total, key_for(g, "oln"));
    for (int t = 0; t < PT_N; t++) {
        idfmt_init(&g->plate[t], t == PT_MC ? SL_POP_PLATE_MC
                                 : t == PT_TL ? SL_POP_PLATE_TL
                                              : st->plate_fmt);
        perm_init(&g->plate_perm[t], g->plate[t].total, key_for(g, pt_code[t]));
    }
    /* SSN: areas 900-999 and 666 (never issued by SSA), group 01-99, serial 0001-9999. */
    g->ssn_fmt.total = 101ULL * 99 * 9999;
    perm_init(&g->ssn_perm, g->ssn_fmt.total, key_for(g, "ssn"));
    /* VIN: position 8, plant (11) and serial (12-17) from one counter: 33*33*1e6. */
    perm_init(&g->vin_perm, 33ULL * 33 * 1000000, key_for(g, "vin"));

    for (int o = 0; o < SL_ORIGIN_N; o++) {
        wtab_init(&g->surnames[o], &sl_tab_surnames[o]);
        if (o != SL_ORIGIN_GENERAL)
            wtab_init(&g->more[o], &sl_tab_surnames_more[o]);
    }
    wtab_init(&g->tail_pre, &sl_tab_tail_prefix);
    wtab_init(&g->tail_suf, &sl_tab_tail_suffix);
    for (int s = 0; s < 2; s++) {
        for (int c = 0; c < 3; c++)
            wtab_init(&g->given[s][c], &sl_tab_given[s][c]);
        wtab_init(&g->given_h[s], &sl_tab_given_hispanic[s]);
        wtab_init(&g->given_a[s], &sl_tab_given_asian[s]);
    }
    wtab_init(&g->streets, &sl_tab_streets);
    wtab_init(&g->street_types, &sl_tab_street_types);
    wtab_init(&g->vcolours, &sl_tab_vcolours);
    wtab_init(&g->wreasons, &sl_tab_withdrawal_reasons);
    g->city_cum = sl_xmalloc(st->n_cities * sizeof(uint64_t));
    uint64_t s = 0;
    for (size_t i = 0; i < st->n_cities; i++)
        g->city_cum[i] = (s += st->cities[i].w);
    g->veh_cum = sl_xmalloc(sl_tab_n_vehicles * sizeof(uint64_t));
    s = 0;
    for (size_t i = 0; i < sl_tab_n_vehicles; i++)
        g->veh_cum[i] = (s += sl_tab_vehicles[i].w);
    for (size_t i = 0; i < sl_tab_n_violations; i++)
        g->viol_tot += sl_tab_violations[i].w;
    return g;
}

void sl_pop_free(struct sl_pop *g)
{
    if (!g)
        return;
    for (int o = 0; o < SL_ORIGIN_N; o++) {
        free(g->surnames[o].cum);
        free(g->more[o].cum);
    }
    free(g->tail_pre.cum);
    free(g->tail_suf.cum);
    for (int s = 0; s < 2; s++) {
        for (int c = 0; c < 3; c++)
            free(g->given[s][c].cum);
        free(g->given_h[s].cum);
        free(g->given_a[s].cum);
    }
    free(g->streets.cum);
    free(g->street_types.cum);
    free(g->vcolours.cum);
    free(g->wreasons.cum);
    free(g->city_cum);
    free(g->veh_cum);
    free(g);
}

static size_t pick_cum(struct sl_pop_rng *r, const uint64_t *cum, size_t n)
{
    uint64_t x = sl_pop_rng_below(r, cum[n - 1]);
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/*
 * Licensed drivers by age, FHWA Highway Statistics table DL-20 (2022), millions, by
 * band; the generator spreads a band's share evenly over its years.
 */
static const struct {
    int lo, hi;
    double m;
} age_bands[] = {
    {16, 16, 1.3}, {17, 17, 2.3}, {18, 18, 3.0}, {19, 19, 3.3}, {20, 24, 17.6},
    {25, 29, 20.1}, {30, 34, 21.0}, {35, 39, 20.7}, {40, 44, 19.9}, {45, 49, 18.7},
    {50, 54, 19.6}, {55, 59, 20.0}, {60, 64, 19.9}, {65, 69, 17.3}, {70, 74, 14.0},
    {75, 79, 9.5}, {80, 84, 5.6}, {85, 95, 4.3},
};

static int pick_age(struct sl_pop_rng *r)
{
    double w[sizeof age_bands / sizeof age_bands[0]];
    size_t n = sizeof age_bands / sizeof age_bands[0];
    for (size_t i = 0; i < n; i++)
        w[i] = age_bands[i].m;
    size_t b = pick_w(r, w, n);
    return age_bands[b].lo + (int)sl_pop_rng_below(r, (uint64_t)(age_bands[b].hi - age_bands[b].lo + 1));
}

static void put(char *dst, size_t cap, const char *s) { sl_strlcpy(dst, s, cap); }

static void gen_surname(struct sl_pop *g, struct sl_pop_rng *r, int origin, char *out, size_t cap)
{
    /* 70% of general-origin surnames come from the synthetic tail (see wtab comment). */
    if (origin == SL_ORIGIN_GENERAL && chance(r, 0.70)) {
        const char *a = wtab_pick(&g->tail_pre, r), *b = wtab_pick(&g->tail_suf, r);
        snprintf(out, cap, "%s%s", a, b);
        return;
    }
    /* The less common names: 55% of Hispanic and 60% of Asian surnames. */
    if ((origin == SL_ORIGIN_HISPANIC && chance(r, 0.55)) ||
        (origin == SL_ORIGIN_ASIAN && chance(r, 0.60))) {
        put(out, cap, wtab_pick(&g->more[origin], r));
        return;
    }
    put(out, cap, wtab_pick(&g->surnames[origin], r));
}

static const char *gen_given(struct sl_pop *g, struct sl_pop_rng *r, int origin, int sexi, int cohort)
{
    if (origin == SL_ORIGIN_HISPANIC && chance(r, 0.55))
        return wtab_pick(&g->given_h[sexi], r);
    if (origin == SL_ORIGIN_ASIAN && chance(r, 0.30))
        return wtab_pick(&g->given_a[sexi], r);
    return wtab_pick(&g->given[sexi][cohort], r);
}

static void gen_description(struct sl_pop_rng *r, struct sl_driver *d, int origin, int age)
{
    int male = d->sex == 'M';
    /* Heights: CDC NHANES adult means (M 69.1 in, F 63.7 in, sd ~2.9); Hispanic and
     * Asian means about 1.5-2 in lower.  Weights from a BMI around 27-28 (NHANES). */
    double mean = male ? 69.3 : 63.8;
    if (origin == SL_ORIGIN_HISPANIC)
        mean -= 1.5;
    else if (origin == SL_ORIGIN_ASIAN)
        mean -= 2.0;
    double h = mean + rng_normal(r) * (male ? 2.9 : 2.7);
    if (h < 56)
        h = 56;
    if (h > 84)
        h = 84;
    d->height_in = (int)lround(h);
    double bmi = (male ? 27.8 : 27.5) + rng_normal(r) * (male ? 4.8 : 6.0);
    if (age < 20)
        bmi -= 2.5;
    if (bmi < 16.5)
        bmi = 16.5;
    int w = (int)lround(bmi * d->height_in * d->height_in / 703.0);
    d->weight_lb = w < 90 ? 90 : w > 450 ? 450 : w;

    /* Eyes (NCIC EYE codes): US estimates (brown ~45%, blue ~27%, hazel ~18%, green
     * ~9%), brown dominant among Hispanic and Asian origins. */
    static const char *eyes[] = {"BRO", "BLU", "HAZ", "GRN", "GRY", "BLK"};
    double we_g[] = {38, 32, 17, 11, 2, 0}, we_o[] = {88, 1, 7, 2, 0, 2};
    size_t e = pick_w(r, origin == SL_ORIGIN_GENERAL ? we_g : we_o, 6);
    put(d->eyes, sizeof d->eyes, eyes[e]);

    /* Hair (NCIC HAI codes), correlated with eyes and origin; grey, white and bald
     * with age. */
    static const char *hair[] = {"BRO", "BLK", "BLN", "RED", "SDY"};
    double wh[5];
    if (origin == SL_ORIGIN_GENERAL) {
        int light = e == 1 || e == 3 || e == 4;
        wh[0] = 50, wh[1] = light ? 6 : 22, wh[2] = light ? 28 : 8, wh[3] = e == 3 ? 8 : 2,
        wh[4] = light ? 6 : 2;
    } else {
        wh[0] = 22, wh[1] = 76, wh[2] = 1, wh[3] = 0.3, wh[4] = 0.7;
    }
    const char *hc = hair[pick_w(r, wh, 5)];
    double p_grey = age > 40 ? (age - 40) * 0.018 : 0;
    double p_bald = male && age > 35 ? (age - 35) * 0.006 : 0;
    if (chance(r, p_bald))
        hc = "BAL";
    else if (chance(r, p_grey))
        hc = age > 70 && chance(r, 0.5) ? "WHI" : "GRY";
    put(d->hair, sizeof d->hair, hc);
}

/* Licence class, endorsements, restrictions (AAMVA D20 codes).  Shares: ~3% CDL
 * (FMCSA ~7.5 M CDL holders of ~235 M drivers, ~90% men), motorcycle endorsement
 * ~5% of men and ~1.5% of women, class M only 0.3%; corrective lenses (B) rising with
 * age from ~35% to ~70% (our assumption from vision-correction prevalence). */
static void gen_licence(struct sl_pop_rng *r, struct sl_driver *d, int age)
{
    int male = d->sex == 'M';
    char end[12] = "", res[12] = "";
    size_t ne = 0, nr = 0;
    put(d->lic_class, sizeof d->lic_class, "C");
    if (age >= 21 && age <= 75 && chance(r, male ? 0.052 : 0.005)) {
        int a = chance(r, 0.70);
        put(d->lic_class, sizeof d->lic_class, a ? "A" : "B");
        int h = chance(r, a ? 0.25 : 0.05), n = chance(r, a ? 0.30 : 0.10);
        if (h && n)
            end[ne++] = 'X';
        else if (h)
            end[ne++] = 'H';
        else if (n)
            end[ne++] = 'N';
        if (chance(r, a ? 0.05 : 0.50)) {
            end[ne++] = 'P';
            if (!a && chance(r, 0.55))
                end[ne++] = 'S';
        }
        if (a && chance(r, 0.25))
            end[ne++] = 'T';
        if (chance(r, 0.08))
            res[nr++] = 'E'; /* no manual transmission */
        if (!a && chance(r, 0.15))
            res[nr++] = 'L'; /* no air brakes */
    } else if (age >= 18 && chance(r, 0.003)) {
        put(d->lic_class, sizeof d->lic_class, "M");
    }
    if (d->lic_class[0] != 'M' && age >= 16 && chance(r, male ? 0.05 : 0.015))
        end[ne++] = 'M';
    double p_b = 0.35 + (age > 20 ? (age - 20) * 0.0055 : 0);
    if (chance(r, p_b))
        res[nr++] = 'B';
    if (age >= 80 && chance(r, 0.08))
        res[nr++] = 'G'; /* daylight only */
    end[ne] = 0;
    res[nr] = 0;
    /* Keep the letters in a canonical order so equal sets print alike. */
    put(d->endorsements, sizeof d->endorsements, end);
    put(d->restrictions, sizeof d->restrictions, res);
}

static void add_hist(struct sl_pop_rec *rec, char kind, int32_t date, const char *code,
                     const char *text, int32_t conv, int32_t ends)
{
    if (rec->n_hist >= SL_POP_MAX_HIST)
        return;
    struct sl_history *h = &rec->hist[rec->n_hist++];
    memset(h, 0, sizeof *h);
    h->kind = kind;
    h->date = date;
    put(h->code, sizeof h->code, code);
    put(h->text, sizeof h->text, text);
    h->conviction = conv;
    h->ends = ends;
}

static const struct sl_violation *pick_violation(struct sl_pop *g, struct sl_pop_rng *r)
{
    uint64_t x = sl_pop_rng_below(r, g->viol_tot);
    for (size_t i = 0; i < sl_tab_n_violations; i++) {
        if (x < sl_tab_violations[i].w)
            return &sl_tab_violations[i];
        x -= sl_tab_violations[i].w;
    }
    return &sl_tab_violations[0];
}

static int hist_cmp(const void *a, const void *b)
{
    const struct sl_history *x = a, *y = b;
    return (x->date > y->date) - (x->date < y->date);
}

/* Status and history.  Status shares (our assumption, docs/records.md): valid 88%,
 * suspended 6%, expired 4%, revoked 1%, cancelled 1%.  About 20% of drivers have a
 * conviction in the last five years (insurers' figures run 15-25%). */
static void gen_status_history(struct sl_pop *g, struct sl_pop_rng *r, struct sl_pop_rec *rec, int age)
{
    struct sl_driver *d = &rec->d;
    int32_t today = g->o.as_of;
    int64_t tdays = sl_pop_date_days(today);
    int64_t lic16 = sl_pop_date_days(date_add_years(d->dob, 16));
    double ws[] = {88.0, 6.0, 4.0, 1.0, 1.0};
    static const char *names[] = {"VALID", "SUSPENDED", "EXPIRED", "REVOKED", "CANCELLED"};
    size_t s = pick_w(r, ws, 5);
    /* A licence that ran out needs a licence first: under 19 there is no room for a
     * lapsed 8-year licence, so those few stay valid (docs/records.md). */
    if (s == 2 && age < 19)
        s = 0;
    put(d->status, sizeof d->status, names[s]);

    /* Licences run 8 years to the birthday (most states issue 4-8 years). */
    int32_t bday_this = date_add_years(d->dob, age + 1); /* next birthday */
    int32_t expires;
    if (s == 2) {
        int back = 1 + (int)sl_pop_rng_below(r, 3);
        expires = date_add_years(bday_this, -back);
        if (sl_pop_date_days(expires) >= tdays)
            expires = date_add_years(expires, -1);
    } else {
        expires = date_add_years(bday_this, (int)sl_pop_rng_below(r, 8));
    }
    int32_t issued = date_add_days(date_add_years(expires, -8), -(int64_t)sl_pop_rng_below(r, 60));
    if (sl_pop_date_days(issued) < lic16)
        issued = sl_pop_date_ymd(lic16 + (int64_t)sl_pop_rng_below(r, 90));
    if (sl_pop_date_days(issued) > tdays)
        issued = date_add_days(today, -(int64_t)sl_pop_rng_below(r, 30));
    if (sl_pop_date_days(issued) >= sl_pop_date_days(expires)) /* licensed late in a short cycle */
        issued = date_add_years(expires, -1);
    d->issued = issued;
    d->expires = expires;

    int64_t since = tdays - 5 * 365;
    if (since < lic16)
        since = lic16;
    int nviol = 0;
    double p = s == 1 || s == 3 ? 0.85 : 0.20;
    if (chance(r, p)) {
        nviol = 1;
        while (nviol < 6 && chance(r, 0.35))
            nviol++;
    }
    for (int i = 0; i < nviol && since < tdays; i++) {
        const struct sl_violation *v = pick_violation(g, r);
        int64_t vd = since + (int64_t)sl_pop_rng_below(r, (uint64_t)(tdays - since));
        int64_t cd = vd + 20 + (int64_t)sl_pop_rng_below(r, 70);
        int32_t conv = cd < tdays && !chance(r, 0.05) ? sl_pop_date_ymd(cd) : 0;
        add_hist(rec, 'V', sl_pop_date_ymd(vd), v->code, v->text, conv, 0);
    }
    /* Withdrawals: the one behind a suspended/revoked/cancelled status, and an ended
     * one for ~3% of valid drivers. */
    if (s == 1 || s == 3 || s == 4 || (s == 0 && chance(r, 0.03))) {
        int64_t start = tdays - 1 - (int64_t)sl_pop_rng_below(r, 700);
        if (start < lic16)
            start = lic16;
        const char *reason = wtab_pick(&g->wreasons, r);
        const char *code = s == 3 ? "REV" : s == 4 ? "CAN" : "SUS";
        if (s == 3)
            reason = chance(r, 0.6) ? "DUI IMPLIED CONSENT" : "HABITUAL OFFENDER";
        if (s == 4)
            reason = chance(r, 0.6) ? "MEDICAL" : "FRAUDULENT APPLICATION";
        int32_t ends = 0;
        if (s == 0)
            ends = sl_pop_date_ymd(start + 30 + (int64_t)sl_pop_rng_below(r, 180)),
            start -= 200; /* a past withdrawal, reinstated */
        else if (s == 1 && strcmp(reason, "FAILURE TO APPEAR OR PAY") != 0 &&
                 strcmp(reason, "CHILD SUPPORT") != 0)
            ends = sl_pop_date_ymd(tdays + 1 + (int64_t)sl_pop_rng_below(r, 365));
        if (s == 0 && sl_pop_date_days(ends) >= tdays)
            ends = date_add_days(today, -1);
        add_hist(rec, 'W', sl_pop_date_ymd(start), code, reason, 0, ends);
    }
    qsort(rec->hist, (size_t)rec->n_hist, sizeof rec->hist[0], hist_cmp);
}

static int plate_type_index(const char *lit)
{
    for (int t = 0; t < PT_N; t++)
        if (strcmp(pt_code[t], lit) == 0)
            return t;
    return PT_PC;
}

static int gen_vehicle(struct sl_pop *g, struct sl_pop_rng *r, struct sl_pop_rec *rec,
                       struct sl_vehicle *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    const struct sl_make_model *mm =
        &sl_tab_vehicles[pick_cum(r, g->veh_cum, sl_tab_n_vehicles)];
    v->id = (int64_t)++g->next_vehicle;
    put(v->make, sizeof v->make, mm->make);
    put(v->model, sizeof v->model, mm->model);
    put(v->style, sizeof v->style, mm->style);
    /* Vehicle age: mean ~12 years (S&P Global Mobility 2023: 12.5), a geometric-like
     * spread over 0-30 years; next year's models from the autumn. */
    int age = 0;
    while (age < 30 && chance(r, 0.92))
        age++;
    if (age > 0 && chance(r, 0.5))
        age = (int)sl_pop_rng_below(r, (uint64_t)age + 1);
    int year = g->as_of_year - age + ((g->o.as_of % 10000) >= 901 && chance(r, 0.3) ? 1 : 0);
    if (strcmp(mm->make, "TESL") == 0 && year < 2017 + (mm->model[6] == 'Y' ? 3 : 0))
        year = 2017 + (mm->model[6] == 'Y' ? 3 : 0) + (int)sl_pop_rng_below(r, 4);
    if (year > g->as_of_year + 1)
        year = g->as_of_year + 1;
    v->year = year;
    put(v->colour, sizeof v->colour, wtab_pick(&g->vcolours, r));

    int t = plate_type_index(mm->lit);
    uint64_t idx = g->plate_next[t]++;
    if (idx >= g->plate[t].total) {
        snprintf(err, errlen, "%s %s plates (%s) are exhausted after %llu vehicles", g->state,
                 pt_code[t], t == PT_MC ? SL_POP_PLATE_MC : t == PT_TL ? SL_POP_PLATE_TL : g->st->plate_fmt,
                 (unsigned long long)idx);
        return -1;
    }
    idfmt_render(&g->plate[t], perm_apply(&g->plate_perm[t], idx), 0, v->plate);
    put(v->plate_type, sizeof v->plate_type, pt_code[t]);
    /* Registration: 92% current (expiring within the year), 8% lapsed up to 2 years. */
    int64_t tdays = sl_pop_date_days(g->o.as_of);
    v->reg_expires = chance(r, 0.92) ? sl_pop_date_ymd(tdays + 1 + (int64_t)sl_pop_rng_below(r, 365))
                                     : sl_pop_date_ymd(tdays - 1 - (int64_t)sl_pop_rng_below(r, 730));
    v->plate_year = v->reg_expires / 10000;

    /* VIN: real WMI, random VDS, check digit, model-year code, plant and serial from a
     * permuted counter (unique for 1.08e9 vehicles). */
    uint64_t u = perm_apply(&g->vin_perm, (uint64_t)(v->id - 1) % (33ULL * 33 * 1000000));
    char vin[18];
    memcpy(vin, mm->wmi, 3);
    for (int i = 3; i < 7; i++)
        vin[i] = vin_chars[sl_pop_rng_below(r, 33)];
    vin[7] = vin_chars[u / (33ULL * 1000000)];
    vin[9] = vin_year_code(year);
    vin[10] = vin_chars[(u / 1000000) % 33];
    snprintf(vin + 11, 7, "%06llu", (unsigned long long)(u % 1000000));
    vin[8] = '0';
    vin[17] = 0;
    vin[8] = sl_store_vin_check_digit(vin);
    put(v->vin, sizeof v->vin, vin);

    v->n_owners = 1;
    v->owner[0].driver_id = rec->d.id;
    /* Co-owned: 18% (our assumption: spouses and parent-child registrations). */
    if (g->o.drivers > 1 && chance(r, 0.18)) {
        uint64_t j = 1 + sl_pop_rng_below(r, g->o.drivers);
        if ((int64_t)j == rec->d.id)
            j = j % g->o.drivers + 1;
        v->n_owners = 2;
        v->owner[1].driver_id = (int64_t)j;
    }
    return 0;
}

int sl_pop_next(struct sl_pop *g, struct sl_pop_rec *rec, char *err, size_t errlen)
{
    if (g->next_id > g->o.drivers)
        return 0;
    uint64_t id = g->next_id++;
    struct sl_pop_rng r;
    sl_pop_rng_seed(&r, key_for(g, "driver") ^ (id * 0x9e3779b97f4a7c15ULL));
    memset(rec, 0, sizeof *rec);
    struct sl_driver *d = &rec->d;
    d->id = (int64_t)id;

    /* Sex: FHWA DL-20 2022, women 50.6% of licensed drivers. */
    d->sex = chance(&r, 0.506) ? 'F' : 'M';
    int sexi = d->sex == 'F';
    int age = pick_age(&r);
    /* A birthday uniformly in the year that gives this age today. */
    int64_t latest = sl_pop_date_days(date_add_years(g->o.as_of, -age));
    d->dob = sl_pop_date_ymd(latest - (int64_t)sl_pop_rng_below(&r, 365));
    int byear = d->dob / 10000;
    int cohort = byear < 1970 ? 0 : byear < 1995 ? 1 : 2;

    double pw[3] = {100.0 - g->st->hispanic_pct - g->st->asian_pct, g->st->hispanic_pct,
                    g->st->asian_pct};
    if (pw[0] < 0)
        pw[0] = 0;
    int origin = (int)pick_w(&r, pw, 3);
    gen_surname(g, &r, origin, d->last, sizeof d->last);
    put(d->first, sizeof d->first, gen_given(g, &r, origin, sexi, cohort));
    /* Middle: 70% a full name, 15% an initial, 15% none (our assumption). */
    double u = sl_pop_rng_unit(&r);
    if (u < 0.85) {
        const char *m;
        int tries = 0;
        do
            m = gen_given(g, &r, origin, sexi, (int)sl_pop_rng_below(&r, 3));
        while (strcmp(m, d->first) == 0 && ++tries < 4);
        if (u < 0.70)
            put(d->middle, sizeof d->middle, m);
        else
            d->middle[0] = m[0], d->middle[1] = 0;
    }
    if (!sexi) {
        /* Suffixes: ~5% of men (our assumption from NCIC name-file practice). */
        double ws[] = {95.0, 3.2, 0.5, 0.7, 0.5, 0.1};
        static const char *sfx[] = {"", "JR", "SR", "II", "III", "IV"};
        put(d->suffix, sizeof d->suffix, sfx[pick_w(&r, ws, 6)]);
    }

    /* Address. */
    const struct sl_city *c = &g->st->cities[pick_cum(&r, g->city_cum, g->st->n_cities)];
    int house = (int)exp(sl_pop_rng_unit(&r) * log(29999.0)) + (int)sl_pop_rng_below(&r, 9);
    static const char *dirs[] = {"N ", "S ", "E ", "W ", "NE ", "NW ", "SE ", "SW "};
    const char *dir = chance(&r, 0.15) ? dirs[sl_pop_rng_below(&r, 8)] : "";
    const char *street = wtab_pick(&g->streets, &r);
    const char *stype = wtab_pick(&g->street_types, &r);
    if (chance(&r, 0.18))
        snprintf(d->street, sizeof d->street, "%d %s%s %s APT %d", house, dir, street, stype,
                 1 + (int)sl_pop_rng_below(&r, 400));
    else
        snprintf(d->street, sizeof d->street, "%d %s%s %s", house, dir, street, stype);
    put(d->city, sizeof d->city, c->name);
    put(d->state, sizeof d->state, g->state);
    snprintf(d->zip, sizeof d->zip, "%s%02u", c->zip3, (unsigned)(1 + sl_pop_rng_below(&r, 99)));

    gen_description(&r, d, origin, age);
    gen_licence(&r, d, age);
    gen_status_history(g, &r, rec, age);

    /* Identifiers, unique by construction. */
    char initial = d->last[0];
    idfmt_render(&g->oln, perm_apply(&g->oln_perm, id - 1), initial, d->oln);
    uint64_t sv = perm_apply(&g->ssn_perm, (id - 1) % g->ssn_fmt.total);
    unsigned area = (unsigned)(sv / (99 * 9999)), grp = (unsigned)(sv / 9999 % 99) + 1,
             ser = (unsigned)(sv % 9999) + 1;
    area = area == 100 ? 666 : 900 + area;
    snprintf(d->ssn, sizeof d->ssn, "%03u%02u%04u", area, grp, ser);

    /* Vehicles: 0-4 per driver, mean ~1.04 (FHWA: ~283 M registered vehicles for ~235 M
     * drivers, less fleet and commercial registrations). */
    double wv[] = {30, 45, 18, 5, 2};
    int nv = (int)pick_w(&r, wv, 5);
    if (age < 18 && nv > 1)
        nv = 1;
    for (int i = 0; i < nv; i++) {
        if (gen_vehicle(g, &r, rec, &rec->veh[i], err, errlen) < 0)
            return -1;
        rec->n_veh++;
    }
    return 1;
}
