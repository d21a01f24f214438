/*
 * cmd_archive.c - `stateline archive search|fetch|expire|bench`: the message archive for
 * operators, and its benchmark (stateline/archive.h, docs/archive.md,
 * docs/performance.md).
 *
 * The benchmark writes N messages of mixed traffic through the writer thread exactly as
 * the hub does (sl_archive_put, backpressure answered by retrying), then times every
 * search form on the result.  Traffic: DQ (by OLN or NAM/DOB/SEX) and its DR, RQ
 * (LIC/LIY/LIT) and its RR, and AMs, from about 1,000 agency ORIs of every state to ten
 * states, over drivers and vehicles of the synthetic population generator (population.h),
 * so names, plates, VINs and addresses are realistic and each driver appears several
 * times.  Times are spread evenly over --days days ending now.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "stateline/archive.h"
#include "stateline/cli.h"
#include "stateline/core.h"
#include "stateline/sqlcfg.h"
#include "stateline/dir.h"
#include "stateline/hist.h"
#include "stateline/msg.h"
#include "stateline/population.h"

static const char usage[] =
    "usage: stateline archive <command> [options]\n"
    "\n"
    "The switch's message archive (RAND-style, docs/archive.md).  Times are UTC.\n"
    "\n"
    "  search --db FILE [--dir DIR.db --as ORI] \"NLQ\"\n"
    "      Run one NLQ and print the NLR body.  NLQ is a whole message\n"
    "      (NLQ.ORI.NL.TXT then the fields) or only its fields, e.g.\n"
    "      \"TYP/DQ,DR.BEG/20261101.END/20261126@1200.NAM/SMITH,JOHN\".\n"
    "      Without --as the search runs with an operator's rights (every key but the\n"
    "      archive's own); with --as, as that ORI of the directory DIR.db would.\n"
    "  fetch --db FILE [--dir DIR.db --as ORI] SEQ\n"
    "      Print one message (the NFR body).\n"
    "  gaps --db FILE [--limit N]\n"
    "      List the gaps, newest first (at most N, default 100): messages the switch\n"
    "      sent that the archive never got because its queue was full (the writer a\n"
    "      whole queue behind).  Every NLR of such a time warns of them.\n"
    "  expire --db FILE [--retention-days N]\n"
    "      Delete every message older than the retention (default 365 days) now.\n"
    "  bench --db FILE --messages N [--days D] [--searches K] [--seed S] [--search-only]\n"
    "      Write N messages of mixed traffic (DQ/DR/RQ/RR/AM, synthetic names and\n"
    "      plates) spread over D days (default 30) through the writer thread, report\n"
    "      the insert rate, then run K (default 200) searches of each form and report\n"
    "      p50/p99/max.  FILE must not exist, unless --search-only (searches only, on a\n"
    "      database an earlier bench run wrote with the same --seed and --days).\n"
    "  bench --db FILE --from SRC.db [--messages N] [--batch B [--index-batch I]]\n"
    "      The write path alone, on real traffic: replay the messages of an existing\n"
    "      archive SRC.db (e.g. the archive.db `stateline bench e2e --keep` leaves), in\n"
    "      order, N of them (default all; cycled, times shifted, when N is larger),\n"
    "      through the writer thread; with --batch, exactly B messages per transaction\n"
    "      and the full-text index every 16,384 (or I) rows (as under load), so the work\n"
    "      is the same from run to run (callgrind).  No expiry steps, no searches.\n"
    "\n"
    "Exit status: 0 done, 1 failed (why on stderr), 2 usage.\n";

static int usage_err(const char *what)
{
    fprintf(stderr, "stateline archive: %s (see stateline archive --help)\n", what);
    return SL_EXIT_USAGE;
}

static int open_archive(const char *db, int readonly, struct sl_archive **a)
{
    struct sl_archive_conf c;
    sl_archive_conf_default(&c);
    c.path = db;
    c.readonly = readonly;
    c.search_queue = 0;
    char err[512];
    if (sl_archive_open(&c, a, err, sizeof err) < 0) {
        fprintf(stderr, "stateline archive: %s\n", err);
        return -1;
    }
    return 0;
}

/* The requester: an ORI from a directory, or the operator (everything but withheld). */
static int requester(const char *dir, const char *as, struct sl_ori *o)
{
    memset(o, 0, sizeof *o);
    if (!as) {
        strcpy(o->ori, SL_SWITCH_ORI);
        strcpy(o->cats, "ACDZ");
        o->status = 'A';
        o->rand = 1;
        return 0;
    }
    if (!dir) {
        fprintf(stderr, "stateline archive: --as needs --dir\n");
        return -1;
    }
    struct sl_dir *d;
    char err[512];
    if (sl_dir_open(dir, 0, &d, err, sizeof err) < 0) {
        fprintf(stderr, "stateline archive: %s\n", err);
        return -1;
    }
    int rc = sl_dir_get(d, as, o);
    sl_dir_close(d);
    if (rc != 0) {
        fprintf(stderr, "stateline archive: %s is not in %s\n", as, dir);
        return -1;
    }
    return 0;
}

static int cmd_query(int argc, char **argv, int fetch)
{
    const char *db = NULL, *dir = NULL, *as = NULL, *arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[++i];
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--as") && i + 1 < argc)
            as = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1])
            return usage_err("unknown option");
        else if (!arg)
            arg = argv[i];
        else
            return usage_err("one query at a time");
    }
    if (!db || !arg)
        return usage_err(fetch ? "fetch needs --db and a sequence number"
                               : "search needs --db and an NLQ");
    struct sl_ori who;
    if (requester(dir, as, &who) < 0)
        return SL_EXIT_FAIL;
    struct sl_buf in = SL_BUF_INIT;
    const char *key = fetch ? "NFQ" : "NLQ";
    if (strncmp(arg, key, 3) == 0 && arg[3] == '.')
        sl_buf_append_str(&in, arg);
    else
        sl_buf_printf(&in, "%s.%s.NL.TXT\n%s%s", key, who.ori, fetch ? "SEQ/" : "", arg);
    struct sl_msg m;
    memset(&m, 0, sizeof m);
    struct sl_msg_err me;
    int rc = SL_EXIT_FAIL;
    struct sl_archive *a = NULL;
    if (sl_msg_parse((const char *)in.data, in.len, &m, &me) < 0 || sl_msg_check(&m, &me) < 0) {
        fprintf(stderr, "stateline archive: ER .%02d. %s - %s\n", me.code, sl_er_text(me.code),
                me.detail);
        goto out;
    }
    if (open_archive(db, 1, &a) < 0)
        goto out;
    struct sl_buf body = SL_BUF_INIT;
    char rk[4], err[160];
    enum sl_er er;
    int r = sl_archive_answer(a, &m, &who, 0, &body, rk, &er, err, sizeof err);
    if (r == -1)
        fprintf(stderr, "stateline archive: ER .%02d. %s - %s\n", er, sl_er_text(er), err);
    else if (r == 0) {
        fwrite(body.data, 1, body.len, stdout);
        rc = SL_EXIT_OK;
    }
    sl_buf_free(&body);
out:
    sl_archive_close(a);
    sl_msg_clear(&m);
    sl_buf_free(&in);
    return rc;
}

static int cmd_gaps(int argc, char **argv)
{
    const char *db = NULL;
    long limit = 100;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[++i];
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            char *end;
            limit = strtol(argv[++i], &end, 10);
            if (*end || limit < 1 || limit > 1000000)
                return usage_err("--limit must be 1..1000000");
        } else
            return usage_err("unknown option");
    }
    if (!db)
        return usage_err("gaps needs --db");
    struct sl_archive *a;
    if (open_archive(db, 1, &a) < 0)
        return SL_EXIT_FAIL;
    struct sl_archive_gap *g = sl_xcalloc((size_t)limit, sizeof *g);
    int n = sl_archive_gaps(a, g, (int)limit);
    sl_archive_close(a);
    if (n < 0) {
        free(g);
        fprintf(stderr, "stateline archive: cannot read the gaps of %s\n", db);
        return SL_EXIT_FAIL;
    }
    if (n == 0)
        printf("no gaps recorded in %s: every message the switch gave it was archived\n", db);
    else
        printf("%-19s  %-19s  %10s  %s\n", "FROM (UTC)", "TO (UTC)", "MESSAGES",
               "BETWEEN SEQUENCE NUMBERS");
    for (int i = 0; i < n; i++) {
        char t1[24], t2[24];
        sl_archive_fmt_time(g[i].t_first, t1);
        sl_archive_fmt_time(g[i].t_last, t2);
        printf("%-19s  %-19s  %10llu  %llu and %llu\n", t1, t2, (unsigned long long)g[i].n,
               (unsigned long long)g[i].after_seq, (unsigned long long)g[i].before_seq);
    }
    free(g);
    return SL_EXIT_OK;
}

static int cmd_expire(int argc, char **argv)
{
    const char *db = NULL;
    long days = 365;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[++i];
        else if (!strcmp(argv[i], "--retention-days") && i + 1 < argc) {
            char *end;
            days = strtol(argv[++i], &end, 10);
            if (*end || days < 1 || days > 36500)
                return usage_err("--retention-days must be 1..36500");
        } else
            return usage_err("unknown option");
    }
    if (!db)
        return usage_err("expire needs --db");
    struct sl_archive_conf c;
    sl_archive_conf_default(&c);
    c.path = db;
    c.retention_days = (int)days;
    c.expire_every_ms = 0;
    c.search_queue = 0;
    struct sl_archive *a;
    char err[512];
    struct stat st;
    if (stat(db, &st) < 0) {
        fprintf(stderr, "stateline archive: %s: %s\n", db, strerror(errno));
        return SL_EXIT_FAIL;
    }
    if (sl_archive_open(&c, &a, err, sizeof err) < 0) {
        fprintf(stderr, "stateline archive: %s\n", err);
        return SL_EXIT_FAIL;
    }
    int64_t n = sl_archive_expire(a, 0);
    int64_t left = sl_archive_count(a);
    sl_archive_close(a);
    if (n < 0)
        return SL_EXIT_FAIL;
    printf("deleted %lld messages older than %ld days; %lld remain\n", (long long)n, days,
           (long long)left);
    return SL_EXIT_OK;
}

/* ---- bench ---- */

struct person {
    char last[32], first[24], oln[24], street[48], city[32], state[4];
    int32_t dob;
    char sex;
    char plate[12], lit[4], vin[20], make[8], model[24];
    int liy, year;
};

#define POOL_STATES 10
static const char *const pool_states[POOL_STATES] = {"WA", "CA", "OR", "TX", "NY",
                                                     "FL", "AZ", "IL", "GA", "VA"};

static struct person *make_pool(uint64_t seed, size_t per_state, size_t *n)
{
    struct person *p = sl_xcalloc(POOL_STATES * per_state, sizeof *p);
    size_t k = 0;
    struct sl_pop_rec *r = sl_xmalloc(sizeof *r);
    for (int s = 0; s < POOL_STATES; s++) {
        struct sl_pop_opts o;
        memset(&o, 0, sizeof o);
        o.state = pool_states[s];
        o.drivers = per_state;
        o.seed = seed + (uint64_t)s;
        o.as_of = 20261126;
        char err[256];
        struct sl_pop *g = sl_pop_new(&o, err, sizeof err);
        if (!g) {
            fprintf(stderr, "stateline archive: %s\n", err);
            continue;
        }
        while (sl_pop_next(g, r, err, sizeof err) == 1) {
            struct person *x = &p[k++];
            sl_strlcpy(x->last, r->d.last, sizeof x->last);
            sl_strlcpy(x->first, r->d.first, sizeof x->first);
            sl_strlcpy(x->oln, r->d.oln, sizeof x->oln);
            sl_strlcpy(x->street, r->d.street, sizeof x->street);
            sl_strlcpy(x->city, r->d.city, sizeof x->city);
            sl_strlcpy(x->state, pool_states[s], sizeof x->state);
            x->dob = r->d.dob;
            x->sex = r->d.sex;
            if (r->n_veh > 0) {
                const struct sl_vehicle *v = &r->veh[0];
                sl_strlcpy(x->plate, v->plate, sizeof x->plate);
                sl_strlcpy(x->lit, v->plate_type, sizeof x->lit);
                sl_strlcpy(x->vin, v->vin, sizeof x->vin);
                sl_strlcpy(x->make, v->make, sizeof x->make);
                sl_strlcpy(x->model, v->model, sizeof x->model);
                x->liy = v->plate_year;
                x->year = v->year;
            }
        }
        sl_pop_free(g);
    }
    free(r);
    *n = k;
    return p;
}

/* An agency ORI: state + 7 characters, stable per (state, i). */
static void agency(char out[10], int state_idx, int i)
{
    size_t n;
    const struct sl_member *m = sl_dir_std_members(&n);
    int tries = 0;
    while (!sl_dir_is_state_code(m[(size_t)state_idx % n].code) && tries++ < 80)
        state_idx++;
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%.2s%05u00", m[(size_t)state_idx % n].code,
             (unsigned)(i % 100000));
    memcpy(out, tmp, 9);
    out[9] = '\0';
}

/* The traffic's own generator (splitmix64): the benchmark depends on the population
 * module only for its records. */
struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (Lemire's multiply-shift). */
static uint64_t rng_below(struct rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

struct gen {
    struct rng rng;
    struct person *pool;
    size_t npool;
    int64_t t0, span;
    uint64_t n;
};

/* Message i of the traffic into rec (text in buf). */
static void gen_msg(struct gen *g, uint64_t i, struct sl_archive_rec *r, char *buf, size_t cap,
                    char src[10], char dst[10])
{
    const struct person *p = &g->pool[rng_below(&g->rng, g->npool)];
    char agency_ori[10], dmv[10];
    agency(agency_ori, (int)rng_below(&g->rng, 60), (int)rng_below(&g->rng, 20) * 100 + 10);
    snprintf(dmv, sizeof dmv, "%.2sDMV0000", p->state);
    unsigned pick = (unsigned)rng_below(&g->rng, 100);
    r->time = g->t0 + (int64_t)((double)g->span * (double)i / (double)g->n);
    r->src_mbr = NULL;
    r->dst_mbr = NULL;
    r->ctl = NULL;
    const char *purpose = "CFEDJS";
    char pur = purpose[rng_below(&g->rng, 6)];
    int n;
    if (pick < 35) { /* DQ */
        r->key = "DQ";
        strcpy(src, agency_ori);
        strcpy(dst, p->state);
        if (pick < 15)
            n = snprintf(buf, cap, "OLN/%s.PUR/%c.ATN/OFFICER %u", p->oln, pur,
                         (unsigned)rng_below(&g->rng, 9000) + 1000);
        else
            n = snprintf(buf, cap, "NAM/%s,%s.DOB/%08d.SEX/%c.PUR/%c", p->last, p->first,
                         (int)p->dob, p->sex, pur);
    } else if (pick < 70) { /* DR */
        r->key = "DR";
        strcpy(src, dmv);
        strcpy(dst, agency_ori);
        n = snprintf(buf, cap,
                     "NAM/%s,%s.DOB/%08d.SEX/%c\nOLN/%s OLS/%s CLASS/C STATUS/VALID\n"
                     "ADR/%s, %s %s\nHGT/5%02u WGT/%u EYE/BRO HAI/BRO\nEXP/20290101 ISS/20210101",
                     p->last, p->first, (int)p->dob, p->sex, p->oln, p->state, p->street, p->city,
                     p->state, (unsigned)rng_below(&g->rng, 12),
                     (unsigned)rng_below(&g->rng, 150) + 110);
    } else if (pick < 83) { /* RQ */
        r->key = "RQ";
        strcpy(src, agency_ori);
        strcpy(dst, p->state);
        n = snprintf(buf, cap, "LIC/%s.LIY/%d.LIT/%s.PUR/%c", p->plate[0] ? p->plate : "ABC123",
                     p->liy ? p->liy : 2026, p->lit[0] ? p->lit : "PC", pur);
    } else if (pick < 96) { /* RR */
        r->key = "RR";
        strcpy(src, dmv);
        strcpy(dst, agency_ori);
        n = snprintf(buf, cap,
                     "LIC/%s LIY/%d LIT/%s\nVIN/%s VYR/%d VMA/%s VMO/%s\n"
                     "OWNER/%s,%s\nADR/%s, %s %s\nREG EXP/20270630",
                     p->plate, p->liy, p->lit, p->vin, p->year, p->make, p->model, p->last,
                     p->first, p->street, p->city, p->state);
    } else { /* AM */
        r->key = "AM";
        strcpy(src, agency_ori);
        strcpy(dst, p->state);
        n = snprintf(buf, cap,
                     "ATTN RECORDS UNIT. PLEASE CONFIRM STATUS OF %s %s DOB %08d, SUBJECT OF "
                     "CASE %u. CONTACT DISPATCH %u.",
                     p->first, p->last, (int)p->dob, (unsigned)rng_below(&g->rng, 900000),
                     (unsigned)rng_below(&g->rng, 9000));
    }
    r->src = src;
    r->dst = dst;
    r->text = buf;
    r->text_len = n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

static void ymd(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, 32, "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

enum { F_NAM, F_NAM_WILD, F_NAM_SRC_DAY, F_FND_PLATE, F_FND_AND, F_FND_ORR, F_FND_COMMON,
       F_FND_COMMON_DAY, F_FETCH, F_N };
static const char *const form_name[F_N] = {
    "NAM/LAST,FIRST, TYP/ALL, all days",        "NAM/LAS*,FIRST (wildcard), TYP/ALL",
    "NAM + SRC/member, TYP/DR, 1 day",         "FND/plate, TYP/RQ,RR",
    "FND/last name.AND/city, TYP/ALL",          "FND/plate.ORR/plate, TYP/RQ,RR",
    "FND/common word (count capped), TYP/ALL",  "FND/common word, TYP/DR, 1 hour",
    "NFQ fetch by sequence number",
};

/* A random driver who has a vehicle (every search form may use the plate). */
static const struct person *pick(struct gen *g)
{
    for (;;) {
        const struct person *p = &g->pool[rng_below(&g->rng, g->npool)];
        if (p->plate[0])
            return p;
    }
}

static int run_searches(struct sl_archive *a, struct gen *g, int k, uint64_t nrows)
{
    struct sl_ori who;
    requester(NULL, NULL, &who);
    char beg[32], end[32];
    ymd(g->t0, beg);
    ymd(g->t0 + g->span, end);
    struct sl_hist *h = sl_xmalloc(sizeof *h);
    printf("\n%-42s %8s %8s %8s %8s %9s\n", "search form", "p50 ms", "p99 ms", "max ms",
           "mean ms", "hits avg");
    for (int f = 0; f < F_N; f++) {
        sl_hist_init(h);
        double hits = 0;
        for (int i = 0; i < k; i++) {
            const struct person *p = pick(g), *p2 = pick(g);
            char q[512];
            switch (f) {
            case F_NAM:
                snprintf(q, sizeof q, "TYP/ALL.BEG/%s.END/%s.NAM/%s,%s", beg, end, p->last,
                         p->first);
                break;
            case F_NAM_WILD:
                snprintf(q, sizeof q, "TYP/ALL.BEG/%s.END/%s.NAM/%.3s*,%s", beg, end, p->last,
                         p->first);
                break;
            case F_NAM_SRC_DAY: {
                char day[32];
                ymd(g->t0 + (int64_t)rng_below(&g->rng, (uint64_t)g->span), day);
                snprintf(q, sizeof q, "TYP/DR.SRC/%s.BEG/%s.END/%s.NAM/%s,%s", p->state, day,
                         day, p->last, p->first);
                break;
            }
            case F_FND_PLATE:
                snprintf(q, sizeof q, "TYP/RQ,RR.BEG/%s.END/%s.FND/%s", beg, end, p->plate);
                break;
            case F_FND_AND:
                snprintf(q, sizeof q, "TYP/ALL.BEG/%s.END/%s.FND/%s.AND/%s", beg, end, p->last,
                         p->city);
                break;
            case F_FND_ORR:
                snprintf(q, sizeof q, "TYP/RQ,RR.BEG/%s.END/%s.FND/%s.ORR/%s", beg, end,
                         p->plate, p2->plate);
                break;
            case F_FND_COMMON:
                snprintf(q, sizeof q, "TYP/ALL.BEG/%s.END/%s.FND/%s", beg, end,
                         i % 2 ? "VALID" : p->city);
                break;
            case F_FND_COMMON_DAY: {
                char day[32];
                int64_t t = g->t0 + (int64_t)rng_below(&g->rng, (uint64_t)g->span - 3600);
                ymd(t, day);
                int hh = (int)((t % 86400) / 3600);
                snprintf(q, sizeof q, "TYP/DR.BEG/%s@%02d00.END/%s@%02d59.FND/VALID", day, hh,
                         day, hh);
                break;
            }
            default:
                snprintf(q, sizeof q, "%llu",
                         (unsigned long long)(rng_below(&g->rng, nrows ? nrows : 1) + 1));
            }
            struct sl_buf in = SL_BUF_INIT;
            sl_buf_printf(&in, "%s.%s.NL.TXT\n%s%s", f == F_FETCH ? "NFQ" : "NLQ", who.ori,
                          f == F_FETCH ? "SEQ/" : "", q);
            struct sl_msg m;
            memset(&m, 0, sizeof m);
            struct sl_msg_err me;
            if (sl_msg_parse((const char *)in.data, in.len, &m, &me) < 0) {
                fprintf(stderr, "stateline archive: bench query refused: %s: %s\n", q,
                        me.detail);
                sl_buf_free(&in);
                continue;
            }
            struct sl_buf body = SL_BUF_INIT;
            char rk[4], err[160];
            enum sl_er er;
            int64_t t1 = sl_now_us();
            int rc = sl_archive_answer(a, &m, &who, 0, &body, rk, &er, err, sizeof err);
            int64_t us = sl_now_us() - t1;
            if (rc == -1)
                fprintf(stderr, "stateline archive: bench query %s: %s\n", q, err);
            sl_hist_record(h, (uint64_t)us);
            /* hits: the count line says "N HIT(S)" or "N OF M HITS" */
            sl_buf_append(&body, "", 1); /* a C string from here on */
            const char *b = (const char *)body.data;
            const char *l = strstr(b, "\n");
            if (f != F_FETCH && l && !strstr(b, "NOT ON FILE"))
                hits += strtod(l + 1, NULL);
            else if (f == F_FETCH && !strstr(b, "NOT ON FILE"))
                hits += 1;
            sl_buf_free(&body);
            sl_msg_clear(&m);
            sl_buf_free(&in);
        }
        printf("%-42s %8.2f %8.2f %8.2f %8.2f %9.1f\n", form_name[f],
               (double)sl_hist_percentile(h, 50) / 1000, (double)sl_hist_percentile(h, 99) / 1000,
               (double)h->max / 1000, sl_hist_mean(h) / 1000, hits / k);
        fflush(stdout);
    }
    free(h);
    return 0;
}

/* ---- bench --from: replay an archive's messages (the write path alone) ---- */

struct replay_msg {
    int64_t t;
    char key[4], src[10], src_mbr[3], dst[10], dst_mbr[3], ctl[SL_MSG_CTL_MAX + 1];
    char *text;
    size_t len;
};

/* Every message of the archive at path, in sequence order.  Returns the array (owned by
 * the caller: free each text, then the array) and its length in *n; NULL on error. */
static struct replay_msg *replay_load(const char *path, size_t *n)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    struct replay_msg *m = NULL;
    size_t k = 0, cap = 0;
    *n = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT t, key, src, src_mbr, dst, dst_mbr, ctl, body FROM msg"
                           " ORDER BY seq",
                           -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "stateline archive: %s: %s\n", path,
                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (k == cap) {
            cap = cap ? cap * 2 : 4096;
            m = sl_xrealloc(m, cap * sizeof *m);
        }
        struct replay_msg *x = &m[k++];
        x->t = sqlite3_column_int64(s, 0);
        sl_sqlite_text(s, 1, x->key, sizeof x->key);
        sl_sqlite_text(s, 2, x->src, sizeof x->src);
        sl_sqlite_text(s, 3, x->src_mbr, sizeof x->src_mbr);
        sl_sqlite_text(s, 4, x->dst, sizeof x->dst);
        sl_sqlite_text(s, 5, x->dst_mbr, sizeof x->dst_mbr);
        sl_sqlite_text(s, 6, x->ctl, sizeof x->ctl);
        const void *body = sqlite3_column_blob(s, 7);
        x->len = (size_t)sqlite3_column_bytes(s, 7);
        x->text = sl_xmalloc(x->len + 1);
        if (x->len)
            memcpy(x->text, body, x->len);
        x->text[x->len] = '\0';
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "stateline archive: %s: %s\n", path, sqlite3_errmsg(db));
        for (size_t i = 0; i < k; i++)
            free(m[i].text);
        free(m);
        m = NULL;
        k = 0;
    } else if (k == 0) {
        fprintf(stderr, "stateline archive: %s holds no messages\n", path);
        free(m);
        m = NULL;
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    *n = k;
    return m;
}

static int replay(const char *db, const char *from, uint64_t n, long batch, long index_batch)
{
    size_t nsrc;
    struct replay_msg *src = replay_load(from, &nsrc);
    if (!src)
        return SL_EXIT_FAIL;
    if (n == 0)
        n = nsrc;
    int64_t span = src[nsrc - 1].t - src[0].t + 1;
    struct sl_archive_conf c;
    sl_archive_conf_default(&c);
    c.path = db;
    c.search_queue = 0;
    c.expire_every_ms = 0; /* the write path only: the same work whatever the timing */
    if (batch > 0) {
        /* exactly `batch` rows per transaction, and the index every index_batch rows, as
         * the writer does under load (where the clock never says "due" first) */
        c.batch_max = (int)batch;
        c.queue_max = (size_t)batch * 4; /* a producer that keeps the writer busy */
        c.commit_every_ms = 3600 * 1000;
        c.index_every_ms = 3600 * 1000;
        if (index_batch > 0)
            c.index_batch = (int)index_batch;
    }
    struct sl_archive *a;
    char err[512];
    int ret = SL_EXIT_OK;
    if (sl_archive_open(&c, &a, err, sizeof err) < 0) {
        fprintf(stderr, "stateline archive: %s\n", err);
        ret = SL_EXIT_FAIL;
        goto out;
    }
    uint64_t bytes = 0, full = 0;
    int64_t t1 = sl_now_us();
    for (uint64_t i = 0; i < n; i++) {
        const struct replay_msg *x = &src[i % nsrc];
        struct sl_archive_rec r = {x->t + (int64_t)(i / nsrc) * span,
                                   x->key, x->src, x->src_mbr, x->dst, x->dst_mbr, x->ctl,
                                   x->text, x->len};
        bytes += x->len;
        int rc;
        while ((rc = sl_archive_put(a, &r, NULL)) == -1) {
            full++;
            struct timespec pause = {0, 200000};
            nanosleep(&pause, NULL);
        }
        if (rc != 0) {
            fprintf(stderr, "stateline archive: put refused\n");
            ret = SL_EXIT_FAIL;
            break;
        }
    }
    /* with --batch, the last flush (which indexes at once) starts when only the last
     * partial batch waits: the same point in every run */
    for (size_t q = (size_t)batch; batch > 0 && q >= (size_t)batch;) {
        sl_archive_queued(a, &q, NULL);
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    if (sl_archive_flush(a) < 0)
        fprintf(stderr, "stateline archive: some commits failed (see the log)\n");
    int64_t t2 = sl_now_us();
    struct sl_archive_stats ast;
    sl_archive_stats(a, &ast);
    uint64_t rows = (uint64_t)sl_archive_count(a);
    sl_archive_close(a); /* the WAL is checkpointed: the size below is the database's */
    struct stat st;
    stat(db, &st);
    printf("replayed %llu messages of %s (%.1f MB of text, %.0f bytes each) in %.2f s\n",
           (unsigned long long)n, from, (double)bytes / 1e6, (double)bytes / (double)n,
           (double)(t2 - t1) / 1e6);
    printf("  writer thread CPU: %.2f us per message, %llu transactions, %.0f messages per "
           "transaction, %llu queue-full answers\n",
           (double)ast.writer_cpu_ns / 1e3 / (double)n, (unsigned long long)ast.batches,
           (double)ast.committed / (double)(ast.batches ? ast.batches : 1),
           (unsigned long long)full);
    printf("  database %.1f MB, %llu rows, %.0f bytes/message\n", (double)st.st_size / 1e6,
           (unsigned long long)rows, (double)st.st_size / (double)(rows ? rows : 1));
    if (ast.committed != n)
        ret = SL_EXIT_FAIL;
out:
    for (size_t i = 0; i < nsrc; i++)
        free(src[i].text);
    free(src);
    return ret;
}

static int cmd_bench(int argc, char **argv)
{
    const char *db = NULL;
    uint64_t n = 0, seed = 1;
    long days = 30, k = 200, batch = 0, index_batch = 0;
    int search_only = 0;
    const char *from = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(argv[i], "--search-only")) {
            search_only = 1;
            continue;
        }
        if (!v)
            return usage_err("an option lacks its value");
        if (!strcmp(argv[i], "--db"))
            db = v;
        else if (!strcmp(argv[i], "--from"))
            from = v;
        else if (!strcmp(argv[i], "--index-batch")) {
            index_batch = strtol(v, &end, 10);
            if (*end || index_batch < 1 || index_batch > 10000000)
                return usage_err("--index-batch must be 1..10000000");
        } else if (!strcmp(argv[i], "--batch")) {
            batch = strtol(v, &end, 10);
            if (*end || batch < 1 || batch > 1000000)
                return usage_err("--batch must be 1..1000000");
        } else if (!strcmp(argv[i], "--messages")) {
            n = strtoull(v, &end, 10);
            if (*end || n < 1 || n > 1000000000ull)
                return usage_err("--messages must be 1..1000000000");
        } else if (!strcmp(argv[i], "--days")) {
            days = strtol(v, &end, 10);
            if (*end || days < 1 || days > 365)
                return usage_err("--days must be 1..365");
        } else if (!strcmp(argv[i], "--searches")) {
            k = strtol(v, &end, 10);
            if (*end || k < 1 || k > 100000)
                return usage_err("--searches must be 1..100000");
        } else if (!strcmp(argv[i], "--seed")) {
            seed = strtoull(v, &end, 10);
            if (*end)
                return usage_err("--seed must be a number");
        } else
            return usage_err("unknown option");
        i++;
    }
    struct stat st;
    if (from && db && !search_only) {
        if (stat(db, &st) == 0) {
            fprintf(stderr, "stateline archive: %s exists: remove it\n", db);
            return SL_EXIT_FAIL;
        }
        return replay(db, from, n, batch, index_batch);
    }
    if (from || batch)
        return usage_err("--from (with --db, without --search-only) goes with --batch");
    if (!db || !n)
        return usage_err("bench needs --db and --messages");
    if (!search_only && stat(db, &st) == 0) {
        fprintf(stderr, "stateline archive: %s exists: remove it, or use --search-only\n", db);
        return SL_EXIT_FAIL;
    }
    if (search_only && stat(db, &st) < 0) {
        fprintf(stderr, "stateline archive: %s: %s\n", db, strerror(errno));
        return SL_EXIT_FAIL;
    }
    struct gen g;
    memset(&g, 0, sizeof g);
    fprintf(stderr, "generating the population pool (%d states x 10,000 drivers)...\n",
            POOL_STATES);
    g.pool = make_pool(seed, 10000, &g.npool);
    if (g.npool == 0) {
        free(g.pool);
        return SL_EXIT_FAIL;
    }
    g.rng.s = seed;
    g.n = n;
    g.span = days * 86400;
    /* whole days, so --search-only runs later on the same seed see the same range */
    int64_t now = sl_wall_us() / 1000000;
    g.t0 = (now / 86400) * 86400 - g.span + 3600;
    struct sl_archive_conf c;
    sl_archive_conf_default(&c);
    c.path = db;
    c.search_queue = 0;
    struct sl_archive *a;
    char err[512];
    if (sl_archive_open(&c, &a, err, sizeof err) < 0) {
        fprintf(stderr, "stateline archive: %s\n", err);
        free(g.pool);
        return SL_EXIT_FAIL;
    }
    uint64_t rows = (uint64_t)sl_archive_count(a);
    if (!search_only) {
        char buf[1024], src[10], dst[10];
        uint64_t full = 0, bytes = 0;
        int64_t put_ns = 0;
        int64_t t1 = sl_now_us(), last = t1;
        for (uint64_t i = 0; i < n; i++) {
            struct sl_archive_rec r;
            gen_msg(&g, i, &r, buf, sizeof buf, src, dst);
            bytes += r.text_len;
            for (;;) {
                int64_t p0 = sl_now_ns();
                int rc = sl_archive_put(a, &r, NULL);
                put_ns += sl_now_ns() - p0;
                if (rc == 0)
                    break;
                if (rc != -1) {
                    fprintf(stderr, "stateline archive: put refused\n");
                    sl_archive_close(a);
                    free(g.pool);
                    return SL_EXIT_FAIL;
                }
                full++;
                struct timespec pause = {0, 200000}; /* the writer needs the core more */
                nanosleep(&pause, NULL);
            }
            if ((i & 0xffff) == 0 && sl_now_us() - last > 10000000) {
                last = sl_now_us();
                fprintf(stderr, "  %llu messages, %.0f/s\n", (unsigned long long)i,
                        (double)i * 1e6 / (double)(last - t1));
            }
        }
        int64_t t_put = sl_now_us();
        if (sl_archive_flush(a) < 0)
            fprintf(stderr, "stateline archive: some commits failed (see the log)\n");
        int64_t t2 = sl_now_us();
        struct sl_archive_stats ast;
        sl_archive_stats(a, &ast);
        double secs = (double)(t2 - t1) / 1e6;
        rows = (uint64_t)sl_archive_count(a);
        stat(db, &st);
        struct stat wst;
        char wal[1024];
        snprintf(wal, sizeof wal, "%s-wal", db);
        off_t walsz = stat(wal, &wst) == 0 ? wst.st_size : 0;
        printf("inserted %llu messages (%.1f MB of text) in %.1f s: %.0f messages/s through "
               "the writer thread\n",
               (unsigned long long)n, (double)bytes / 1e6, secs, (double)n / secs);
        printf("  writer thread CPU: %.1f us per message (%.0f messages/s on one free core), "
               "%llu transactions, %.0f messages per transaction\n",
               (double)ast.writer_cpu_ns / 1e3 / (double)n,
               (double)n * 1e9 / (double)(ast.writer_cpu_ns ? ast.writer_cpu_ns : 1),
               (unsigned long long)ast.batches,
               (double)ast.committed / (double)(ast.batches ? ast.batches : 1));
        printf("  caller side: %.2f us per sl_archive_put (mean, incl. retries), %llu "
               "queue-full answers, last put at %.1f s, flush took %.1f s\n",
               (double)put_ns / 1e3 / (double)(n + full), (unsigned long long)full,
               (double)(t_put - t1) / 1e6, (double)(t2 - t_put) / 1e6);
        printf("  database %.1f MB (+ WAL %.1f MB), %llu rows, %.0f bytes/message\n",
               (double)st.st_size / 1e6, (double)walsz / 1e6, (unsigned long long)rows,
               (double)(st.st_size + walsz) / (double)(rows ? rows : 1));
        fflush(stdout);
    }
    run_searches(a, &g, (int)k, rows);
    sl_archive_close(a);
    free(g.pool);
    return SL_EXIT_OK;
}

static int run(int argc, char **argv)
{
    if (argc < 2)
        return usage_err("which command: search, fetch, gaps, expire or bench");
    if (!strcmp(argv[1], "search"))
        return cmd_query(argc - 1, argv + 1, 0);
    if (!strcmp(argv[1], "fetch"))
        return cmd_query(argc - 1, argv + 1, 1);
    if (!strcmp(argv[1], "expire"))
        return cmd_expire(argc - 1, argv + 1);
    if (!strcmp(argv[1], "gaps"))
        return cmd_gaps(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench"))
        return cmd_bench(argc - 1, argv + 1);
    return usage_err("unknown command (search, fetch, gaps, expire, bench)");
}

const struct sl_cli_cmd sl_cmd_archive = {"archive",
                                          "search and fetch from the message archive; its "
                                          "benchmark",
                                          run, usage};
