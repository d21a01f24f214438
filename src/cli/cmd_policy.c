/*
 * cmd_policy.c - `stateline policy check | explain | test | bench`: the tools of the
 * people who write a state's rules (docs/policy-language.md, "Tools").
 *
 * Directory (--directory FILE): the ORI directory database (src/dir, read with
 * sl_dir_foreach), or its CSV export in the exchange format of include/stateline/dir.h
 * (header line, then ori,member,name,type,categories,status,parent,tags,rand).  check uses it to warn about parent agencies and tags no ORI has;
 * explain uses it to look the requester up by ORI.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <unistd.h>

#include "stateline/audit.h"
#include "stateline/buf.h"
#include "stateline/cli.h"
#include "stateline/core.h"
#include "stateline/dir.h"
#include "stateline/gateway.h"
#include "stateline/msg.h"
#include "stateline/policy.h"

/* ---- small helpers ---- */

static char *read_all(const char *path, size_t *len, char *err, size_t errlen)
{
    char *text = sl_read_file(path, len);
    if (!text)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return text;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- directory (CSV) ---- */

struct dir_row {
    char ori[10], member[8], type[3], cats[5], parent[48], tags[160];
};

struct dir_csv {
    struct dir_row *rows;
    size_t n, cap;
};

/* Split one CSV line (RFC 4180 quoting, no embedded newlines) into up to max fields. */
static int csv_split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        char *out = p;
        f[n++] = out;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0')
                    break;
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            while (*p && *p != ',')
                p++;
        } else {
            while (*p && *p != ',')
                *out++ = *p++;
        }
        int more = *p == ',';
        if (*p)
            p++;
        *out = '\0';
        if (!more)
            break;
    }
    return n;
}

static int dir_row_add(void *ctx, const struct sl_ori *o)
{
    struct dir_csv *d = ctx;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 1024;
        d->rows = sl_xrealloc(d->rows, d->cap * sizeof(*d->rows));
    }
    struct dir_row *r = &d->rows[d->n++];
    sl_strlcpy(r->ori, o->ori, sizeof(r->ori));
    sl_strlcpy(r->member, o->member, sizeof(r->member));
    sl_strlcpy(r->type, o->type, sizeof(r->type));
    sl_strlcpy(r->cats, o->cats, sizeof(r->cats));
    sl_strlcpy(r->parent, o->parent, sizeof(r->parent));
    sl_strlcpy(r->tags, o->tags, sizeof(r->tags));
    return 0;
}

/* The directory database (src/dir): every ORI, read once. */
static int dir_load_db(const char *path, struct dir_csv *d, char *err, size_t errlen)
{
    struct sl_dir *db = NULL;
    if (sl_dir_open(path, 0, &db, err, errlen) < 0)
        return -1;
    int rc = sl_dir_foreach(db, NULL, dir_row_add, d);
    sl_dir_close(db);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot read the directory", path);
        free(d->rows);
        d->rows = NULL;
        return -1;
    }
    return 0;
}

static int dir_load(const char *path, struct dir_csv *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof(*d));
    size_t len;
    char *text = read_all(path, &len, err, errlen);
    if (!text)
        return -1;
    if (len >= 16 && memcmp(text, "SQLite format 3", 15) == 0) {
        free(text);
        return dir_load_db(path, d, err, errlen);
    }
    char *save = NULL;
    int lineno = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[l - 1] = '\0';
        if (lineno == 1 && strncmp(line, "ori,", 4) == 0)
            continue;
        if (!*line)
            continue;
        char *f[9];
        int nf = csv_split(line, f, 9);
        if (nf < 8) {
            snprintf(err, errlen, "%s:%d: expected ori,member,name,type,categories,status,parent,tags[,rand]",
                     path, lineno);
            free(text);
            free(d->rows);
            return -1;
        }
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 1024;
            d->rows = sl_xrealloc(d->rows, d->cap * sizeof(*d->rows));
        }
        struct dir_row *r = &d->rows[d->n++];
        sl_strlcpy(r->ori, f[0], sizeof(r->ori));
        sl_strlcpy(r->member, f[1], sizeof(r->member));
        sl_strlcpy(r->type, f[3], sizeof(r->type));
        sl_strlcpy(r->cats, f[4], sizeof(r->cats));
        sl_strlcpy(r->parent, f[6], sizeof(r->parent));
        sl_strlcpy(r->tags, f[7], sizeof(r->tags));
    }
    free(text);
    return 0;
}

static int dir_known_parent(void *ctx, const char *p, int under)
{
    const struct dir_csv *d = ctx;
    size_t l = strlen(p);
    for (size_t i = 0; i < d->n; i++) {
        const char *q = d->rows[i].parent;
        if (strcmp(q, p) == 0)
            return 1;
        if (under && strncmp(q, p, l) == 0 && q[l] == '/')
            return 1;
    }
    return 0;
}

static int dir_known_tag(void *ctx, const char *t)
{
    const struct dir_csv *d = ctx;
    size_t l = strlen(t);
    for (size_t i = 0; i < d->n; i++) {
        const char *s = d->rows[i].tags;
        while (*s) {
            while (*s == ' ')
                s++;
            const char *e = s;
            while (*e && *e != ' ')
                e++;
            if ((size_t)(e - s) == l && memcmp(s, t, l) == 0)
                return 1;
            s = e;
        }
    }
    return 0;
}

static const struct dir_row *dir_find(const struct dir_csv *d, const char *ori)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->rows[i].ori, ori) == 0)
            return &d->rows[i];
    return NULL;
}

/* ---- diagnostics output ---- */

static void print_diags(const struct sl_policy_diags *dg, const char *name, const char *text,
                        size_t len, FILE *out)
{
    for (int i = 0; i < dg->n; i++) {
        char buf[512];
        sl_policy_diag_format(&dg->v[i], name, buf, sizeof(buf));
        fprintf(out, "%s\n", buf);
        int line = dg->v[i].line, col = dg->v[i].col;
        if (line <= 0 || !text)
            continue;
        /* Show the line and a caret under the column. */
        const char *s = text, *end = text + len;
        for (int l = 1; l < line && s < end; l++) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            s = nl ? nl + 1 : end;
        }
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e)
            e = end;
        if (e - s > 200)
            e = s + 200;
        fprintf(out, "  %.*s\n  ", (int)(e - s), s);
        int c = 1;
        for (const char *q = s; q < e && c < col; q++) {
            if (((unsigned char)*q & 0xC0) == 0x80)
                continue;
            fputc(*q == '\t' ? '\t' : ' ', out);
            c++;
        }
        fputs("^\n", out);
    }
}

/* Compile a file; prints diagnostics to stderr.  Returns the policy or NULL. */
static struct sl_policy *load_policy(const char *path, const struct sl_policy_opts *opts,
                                     int quiet_warnings, struct sl_policy_diags *dg)
{
    char err[300];
    size_t len;
    char *text = read_all(path, &len, err, sizeof(err));
    if (!text) {
        fprintf(stderr, "stateline policy: %s\n", err);
        return NULL;
    }
    struct sl_policy *p = NULL;
    sl_policy_compile(text, len, base_name(path), opts, &p, dg);
    if (dg->nerrors || !quiet_warnings)
        print_diags(dg, path, text, len, stderr);
    free(text);
    return p;
}

/* ---- check ---- */

static int cmd_check(int argc, char **argv)
{
    const char *file = NULL, *dirpath = NULL;
    int strict = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--directory") == 0 && i + 1 < argc)
            dirpath = argv[++i];
        else if (strcmp(argv[i], "--strict") == 0)
            strict = 1;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "stateline policy check: unknown option %s\n", argv[i]);
            return SL_EXIT_USAGE;
        } else if (!file)
            file = argv[i];
        else {
            fprintf(stderr, "stateline policy check: one FILE\n");
            return SL_EXIT_USAGE;
        }
    }
    if (!file) {
        fprintf(stderr, "usage: stateline policy check FILE [--directory DIR] [--strict]\n");
        return SL_EXIT_USAGE;
    }
    struct dir_csv dir = {0};
    struct sl_policy_opts opts = {0};
    char err[300];
    if (dirpath) {
        if (dir_load(dirpath, &dir, err, sizeof(err)) < 0) {
            fprintf(stderr, "stateline policy check: %s\n", err);
            return SL_EXIT_FAIL;
        }
        opts.known_parent = dir_known_parent;
        opts.known_tag = dir_known_tag;
        opts.ctx = &dir;
    }
    struct sl_policy_diags dg = {0};
    struct sl_policy *p = load_policy(file, &opts, 0, &dg);
    int rc;
    if (!p) {
        printf("%s: %d error%s, %d warning%s - not usable; the policy in force stays\n", file,
               dg.nerrors, dg.nerrors == 1 ? "" : "s", dg.nwarnings, dg.nwarnings == 1 ? "" : "s");
        rc = SL_EXIT_FAIL;
    } else {
        printf("%s: state %s, %d rule%s, default %s, %d warning%s, sha256 %s\n", file,
               sl_policy_state(p), sl_policy_nrules(p), sl_policy_nrules(p) == 1 ? "" : "s",
               sl_policy_effect_name(sl_policy_default(p)), dg.nwarnings,
               dg.nwarnings == 1 ? "" : "s", sl_policy_hash(p));
        rc = strict && dg.nwarnings ? SL_EXIT_FAIL : SL_EXIT_OK;
        sl_policy_unref(p);
    }
    sl_policy_diags_free(&dg);
    free(dir.rows);
    return rc;
}

/* ---- explain ---- */

static int cmd_explain(int argc, char **argv)
{
    const char *file = NULL, *request = NULL, *requester = NULL, *dirpath = NULL, *when = NULL;
    const char *queries = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--request") == 0 && i + 1 < argc)
            request = argv[++i];
        else if (strcmp(argv[i], "--requester") == 0 && i + 1 < argc)
            requester = argv[++i];
        else if (strcmp(argv[i], "--directory") == 0 && i + 1 < argc)
            dirpath = argv[++i];
        else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc)
            when = argv[++i];
        else if (strcmp(argv[i], "--queries") == 0 && i + 1 < argc)
            queries = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "stateline policy explain: unknown option %s\n", argv[i]);
            return SL_EXIT_USAGE;
        } else if (!file)
            file = argv[i];
        else
            return SL_EXIT_USAGE;
    }
    if (!file || !request) {
        fprintf(stderr, "usage: stateline policy explain FILE --request \"DQ.ORI.WA.TXT OLN/...\" "
                        "[--requester ORI=...,TYPE=..] [--directory DIR] [--time \"YYYY-MM-DD HH:MM\"] "
                        "[--queries hour=N,user-day=N]\n");
        return SL_EXIT_USAGE;
    }
    char err[300];
    struct sl_policy_request r;
    memset(&r, 0, sizeof(r));
    /* The request through the real codec, as the gateway will see it. */
    struct sl_msg m;
    memset(&m, 0, sizeof(m));
    struct sl_msg_err merr;
    memset(&merr, 0, sizeof(merr));
    if (sl_msg_parse(request, strlen(request), &m, &merr) < 0) {
        fprintf(stderr, "stateline policy explain: the request is not a valid message: .%02d. %s %s\n",
                (int)merr.code, sl_er_text(merr.code), merr.detail);
        sl_msg_clear(&m);
        return SL_EXIT_USAGE;
    }
    sl_policy_request_from_msg(&r, &m);
    if (sl_policy_parse_counts(queries, &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "stateline policy explain: --%s\n", err);
        sl_msg_clear(&m);
        return SL_EXIT_USAGE;
    }
    /* The requester: from --requester, else the request's ORI, completed from the
     * directory when one is given. */
    struct sl_requester q;
    int known = 0;
    char rq[400];
    if (requester) {
        snprintf(rq, sizeof(rq), "%s", requester);
    } else {
        snprintf(rq, sizeof(rq), "ORI=%s", m.ori);
    }
    if (sl_policy_parse_requester(rq, &q, &known, err, sizeof(err)) < 0) {
        fprintf(stderr, "stateline policy explain: %s\n", err);
        sl_msg_clear(&m);
        return SL_EXIT_USAGE;
    }
    struct dir_csv dir = {0};
    struct sl_policy_opts opts = {0};
    if (dirpath) {
        if (dir_load(dirpath, &dir, err, sizeof(err)) < 0) {
            fprintf(stderr, "stateline policy explain: %s\n", err);
            sl_msg_clear(&m);
            return SL_EXIT_FAIL;
        }
        opts.known_parent = dir_known_parent;
        opts.known_tag = dir_known_tag;
        opts.ctx = &dir;
        const struct dir_row *row = dir_find(&dir, q.ori);
        if (row && !known) {
            sl_strlcpy(q.member, row->member, sizeof(q.member));
            sl_strlcpy(q.type, row->type, sizeof(q.type));
            sl_strlcpy(q.cats, row->cats, sizeof(q.cats));
            sl_strlcpy(q.parent, row->parent, sizeof(q.parent));
            sl_strlcpy(q.tags, row->tags, sizeof(q.tags));
            known = 1;
        }
    }
    r.requester = &q;
    r.requester_known = known;
    if (when) {
        if (sl_policy_parse_time(when, &r.local) < 0) {
            fprintf(stderr, "stateline policy explain: --time is \"YYYY-MM-DD HH:MM\"\n");
            free(dir.rows);
            sl_msg_clear(&m);
            return SL_EXIT_USAGE;
        }
        r.has_time = 1;
    } else {
        sl_policy_request_set_time(&r, time(NULL));
    }
    struct sl_policy_diags dg = {0};
    struct sl_policy *p = load_policy(file, &opts, 1, &dg);
    sl_policy_diags_free(&dg);
    free(dir.rows);
    if (!p) {
        sl_msg_clear(&m);
        return SL_EXIT_FAIL;
    }
    if (json) {
        struct sl_policy_decision dj;
        sl_policy_decide(p, &r, &dj);
        struct sl_buf jb = SL_BUF_INIT;
        sl_policy_decision_json(&dj, &jb);
        printf("%.*s\n", (int)sl_buf_used(&jb), (const char *)sl_buf_head(&jb));
        sl_buf_free(&jb);
        sl_policy_unref(p);
        sl_msg_clear(&m);
        return SL_EXIT_OK;
    }
    static const char *const vianame[] = {"directly", "through a region", "nationwide (NL)"};
    printf("request: %s %s to %s, from %s (%s%s%s%s%s)\n", r.key, vianame[r.via], sl_policy_state(p),
           q.ori, known ? "type " : "not in the directory", known ? q.type : "",
           q.parent[0] ? ", parent " : "", q.parent, q.tags[0] ? ", tagged" : "");
    if (q.tags[0])
        printf("  tags: %s\n", q.tags);
    printf("  at %04d-%02d-%02d %02d:%02d local time\n", r.local.year, r.local.month, r.local.day,
           r.local.hour, r.local.minute);
    if (sl_policy_count_uses(p)) {
        printf("  queries from %s in the last minute, hour, day: %u, %u, %u", q.ori,
               r.ori_queries[0], r.ori_queries[1], r.ori_queries[2]);
        if (r.has_user_counts)
            printf("; from this user: %u, %u, %u", r.user_queries[0], r.user_queries[1],
                   r.user_queries[2]);
        printf("%s\n", queries ? "" : " (this query alone: give --queries hour=N to change)");
    }
    struct sl_policy_decision d;
    sl_policy_decide(p, &r, &d);
    struct sl_buf out = SL_BUF_INIT;
    sl_policy_decision_describe(p, &d, &out);
    /* Rules that matched but did not decide, in words. */
    int header = 0;
    for (int i = 0; i < sl_policy_nrules(p); i++) {
        struct sl_policy_rule_info ri;
        sl_policy_rule_info(p, i, &ri);
        enum sl_policy_eval_err why;
        int v = sl_policy_rule_eval(p, i, &r, &why);
        int decided = 0;
        for (int k = 0; k < d.nrules; k++)
            decided |= strcmp(d.rules[k], ri.id) == 0;
        if (v == 0 || decided)
            continue;
        if (!header) {
            sl_buf_append_str(&out, "other rules that matched but did not decide:\n");
            header = 1;
        }
        sl_buf_printf(&out, "    %s (line %d, %s)%s: %s\n", ri.id, ri.line,
                      sl_policy_effect_name(ri.effect),
                      v < 0 ? " [could not be evaluated]" : "", ri.reason);
    }
    fwrite(sl_buf_head(&out), 1, sl_buf_used(&out), stdout);
    sl_buf_free(&out);
    sl_policy_unref(p);
    sl_msg_clear(&m);
    return SL_EXIT_OK;
}

/* ---- test ---- */

static int cmd_test(int argc, char **argv)
{
    const char *file = NULL, *cases = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            fprintf(stderr, "stateline policy test: unknown option %s\n", argv[i]);
            return SL_EXIT_USAGE;
        }
        if (!file)
            file = argv[i];
        else if (!cases)
            cases = argv[i];
        else
            return SL_EXIT_USAGE;
    }
    if (!file || !cases) {
        fprintf(stderr, "usage: stateline policy test FILE CASES\n");
        return SL_EXIT_USAGE;
    }
    struct sl_policy_diags dg = {0};
    struct sl_policy *p = load_policy(file, NULL, 1, &dg);
    sl_policy_diags_free(&dg);
    if (!p)
        return SL_EXIT_FAIL;
    char err[300];
    size_t len;
    char *text = read_all(cases, &len, err, sizeof(err));
    if (!text) {
        fprintf(stderr, "stateline policy test: %s\n", err);
        sl_policy_unref(p);
        return SL_EXIT_FAIL;
    }
    struct sl_buf out = SL_BUF_INIT;
    struct sl_policy_cases_result res;
    int rc = sl_policy_run_cases(p, text, len, cases, &out, &res);
    fwrite(sl_buf_head(&out), 1, sl_buf_used(&out), stdout);
    sl_buf_free(&out);
    free(text);
    sl_policy_unref(p);
    return rc == 0 ? SL_EXIT_OK : SL_EXIT_FAIL;
}

/* ---- bench ---- */

/* splitmix64: reproducible requests without global state. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static const char *const bench_states[] = {"WA", "OR", "CA", "ID", "NV", "AZ", "TX", "NY", "IL", "MN"};
static const char *const bench_types[] = {"PD", "SO", "SA", "LE", "FE", "JA", "JC", "JG", "JJ", "JF", "CJ", "NJ"};
static const char *const bench_keys[] = {"DQ", "DNQ", "KQ", "RQ", "RNQ", "RPQ"};

/* A generated policy of n rules: 80% tied to one ORI, 15% to a parent agency, 5% by
 * type, key and fields (the mix of a state that lists agencies one by one). */
static char *gen_policy(int n, size_t *len)
{
    struct sl_buf b = SL_BUF_INIT;
    sl_buf_append_str(&b, "state WA\ndefault permit\n");
    for (int i = 0; i < n; i++) {
        int k = i % 20;
        if (k < 16) {
            const char *eff = i % 3 == 0 ? "forbid" : "permit";
            sl_buf_printf(&b, "rule r%d \"generated\" %s when requester.ori = %s%07d and key in (DQ, KQ, RQ)\n",
                          i, eff, bench_states[i % 10], i);
            if (eff[0] == 'p')
                sl_buf_append_str(&b, "  redact photo\n");
        } else if (k < 19) {
            sl_buf_printf(&b, "rule r%d \"generated\" hold when requester.parent under \"FED/AG%d\" and RSN absent\n"
                              "  deadline 72h, then forbid\n", i, i);
        } else {
            sl_buf_printf(&b, "rule r%d \"generated\" permit when requester.type = %s and key = %s "
                              "and PUR in (C, F) and not in-state\n  redact ssn\n",
                          i, bench_types[(i / 20) % 12], bench_keys[(i / 240) % 6]);
        }
    }
    *len = sl_buf_used(&b);
    sl_buf_append(&b, "", 1);
    return (char *)b.data;
}

struct bench_req {
    struct sl_requester q;
    struct sl_policy_request r;
};

static void gen_requests(struct bench_req *v, int n, int nrules, uint64_t seed)
{
    uint64_t s = seed;
    for (int i = 0; i < n; i++) {
        struct bench_req *b = &v[i];
        memset(b, 0, sizeof(*b));
        int rule = nrules ? (int)(rnd(&s) % (uint64_t)nrules) : 0;
        int kind = (int)(rnd(&s) % 10);
        if (kind < 5 && nrules)
            snprintf(b->q.ori, sizeof(b->q.ori), "%s%07d", bench_states[rule % 10], rule % 10000000);
        else
            snprintf(b->q.ori, sizeof(b->q.ori), "%s%07d", bench_states[rnd(&s) % 10],
                     (int)(rnd(&s) % 10000000));
        memcpy(b->q.state, b->q.ori, 2);
        memcpy(b->q.member, b->q.ori, 2);
        memcpy(b->q.type, bench_types[rnd(&s) % 12], 3);
        memcpy(b->q.cats, "DZ", 3);
        if (kind >= 5 && kind < 8)
            snprintf(b->q.parent, sizeof(b->q.parent), "FED/AG%d/UNIT", rule);
        if (kind == 9)
            snprintf(b->q.tags, sizeof(b->q.tags), "task-force immigration-enforcement");
        b->r.requester = &b->q;
        b->r.requester_known = 1;
        sl_strlcpy(b->r.key, bench_keys[rnd(&s) % 6], sizeof(b->r.key));
        b->r.via = SL_VIA_DIRECT;
        static const char *const vals[] = {"C", "F", "E", "N"};
        b->r.nfields = 2;
        memcpy(b->r.fields[0].pfx, "OLN", 4);
        b->r.fields[0].val = "WDL12345678";
        b->r.fields[0].len = 11;
        memcpy(b->r.fields[1].pfx, (rnd(&s) & 1) ? "PUR" : "RSN", 4);
        b->r.fields[1].val = vals[rnd(&s) % 4];
        b->r.fields[1].len = 1;
        b->r.has_time = 1;
        b->r.local = (struct sl_policy_time){2026, 11, 26, (int)(rnd(&s) % 24), 0, 4};
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* One decision as the gateway makes it: with rate rules, the query is counted first (a
 * clock that moves 50,000 queries a second; the request's ORI). */
static void bench_decide(struct sl_policy *p, struct sl_policy_counts *cnt, uint32_t uses,
                         long i, struct bench_req *b, struct sl_policy_decision *d)
{
    if (cnt)
        sl_policy_counts_add(cnt, uses, 1795000000 + i / 50000, b->q.ori, NULL, 0, &b->r);
    sl_policy_decide(p, &b->r, d);
}

/* One policy's figures: a line of text, or (out not NULL) an object appended to out. */
static void bench_one(struct sl_policy *p, const char *label, long iters, json_t *out)
{
    enum { NREQ = 4096 };
    struct bench_req *reqs = sl_xmalloc(NREQ * sizeof(*reqs));
    gen_requests(reqs, NREQ, sl_policy_nrules(p), 42);
    uint32_t uses = sl_policy_count_uses(p);
    struct sl_policy_counts *cnt = uses ? sl_policy_counts_new(1u << 18) : NULL;
    struct sl_policy_decision d;
    long counts[3] = {0, 0, 0};
    /* Warm up, and count outcomes so the work cannot be optimised away. */
    for (int i = 0; i < NREQ; i++) {
        bench_decide(p, cnt, uses, i, &reqs[i], &d);
        counts[d.effect]++;
    }
    /* Throughput: no clock inside the loop. */
    int64_t t0 = sl_now_ns();
    for (long i = 0; i < iters; i++) {
        bench_decide(p, cnt, uses, NREQ + i, &reqs[i % NREQ], &d);
        counts[d.effect]++;
    }
    int64_t t1 = sl_now_ns();
    /* Latency: each decision timed on its own (includes ~20 ns of clock reading). */
    long nlat = iters < 200000 ? iters : 200000;
    int64_t *lat = sl_xmalloc((size_t)nlat * sizeof(int64_t));
    for (long i = 0; i < nlat; i++) {
        int64_t a = sl_now_ns();
        bench_decide(p, cnt, uses, NREQ + iters + i, &reqs[i % NREQ], &d);
        lat[i] = sl_now_ns() - a;
        counts[d.effect]++;
    }
    sl_policy_counts_free(cnt);
    qsort(lat, (size_t)nlat, sizeof(int64_t), cmp_i64);
    double secs = (double)(t1 - t0) / 1e9;
    if (out) {
        json_t *o = json_object();
        json_object_set_new(o, "policy", json_string(label));
        json_object_set_new(o, "rules", json_integer(sl_policy_nrules(p)));
        json_object_set_new(o, "decisions_per_s", json_integer((json_int_t)((double)iters / secs)));
        json_object_set_new(o, "median_ns", json_integer(lat[nlat / 2]));
        json_object_set_new(o, "p99_ns", json_integer(lat[(long)(nlat * 0.99)]));
        json_object_set_new(o, "permit", json_integer(counts[0]));
        json_object_set_new(o, "hold", json_integer(counts[1]));
        json_object_set_new(o, "forbid", json_integer(counts[2]));
        json_array_append_new(out, o);
        free(lat);
        free(reqs);
        return;
    }
    printf("%-28s %8d rules  %10.0f decisions/s  median %6lld ns  p99 %6lld ns  "
           "(permit %ld, hold %ld, forbid %ld)\n",
           label, sl_policy_nrules(p), (double)iters / secs, (long long)lat[nlat / 2],
           (long long)lat[(long)(nlat * 0.99)], counts[0], counts[1], counts[2]);
    free(lat);
    free(reqs);
}

static int cmd_bench(int argc, char **argv)
{
    const char *file = NULL;
    int nrules[4], nn = 0;
    long iters = 2000000;
    json_t *json = NULL; /* --json: the figures of each policy, printed as one object */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc) {
            int n = atoi(argv[++i]);
            if (n < 1 || n > 1000000 || nn == 4) {
                fprintf(stderr, "stateline policy bench: --rules takes 1..1000000 (up to 4 times)\n");
                json_decref(json);
                return SL_EXIT_USAGE;
            }
            nrules[nn++] = n;
        } else if (strcmp(argv[i], "--decisions") == 0 && i + 1 < argc) {
            iters = atol(argv[++i]);
            if (iters < 1000)
                iters = 1000;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = json_array();
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "stateline policy bench: unknown option %s\n", argv[i]);
            json_decref(json);
            return SL_EXIT_USAGE;
        } else {
            file = argv[i];
        }
    }
    if (file) {
        struct sl_policy_diags dg = {0};
        struct sl_policy *p = load_policy(file, NULL, 1, &dg);
        sl_policy_diags_free(&dg);
        if (!p) {
            json_decref(json);
            return SL_EXIT_FAIL;
        }
        bench_one(p, base_name(file), iters, json);
        sl_policy_unref(p);
    }
    if (!file && nn == 0) {
        nrules[nn++] = 100;
        nrules[nn++] = 10000;
    }
    for (int k = 0; k < nn; k++) {
        size_t len;
        char *text = gen_policy(nrules[k], &len);
        struct sl_policy_diags dg = {0};
        struct sl_policy *p = NULL;
        struct sl_policy_opts opts = {0};
        opts.no_analysis = 1;
        int64_t c0 = sl_now_ns();
        int rc = sl_policy_compile(text, len, "generated", &opts, &p, &dg);
        int64_t c1 = sl_now_ns();
        free(text);
        sl_policy_diags_free(&dg);
        if (rc < 0) {
            fprintf(stderr, "stateline policy bench: generated policy did not compile\n");
            json_decref(json);
            return SL_EXIT_FAIL;
        }
        char label[64];
        snprintf(label, sizeof(label), "generated (compiled %.1f ms)", (double)(c1 - c0) / 1e6);
        bench_one(p, label, iters, json);
        sl_policy_unref(p);
    }
    if (json) {
        json_t *r = json_object();
        json_object_set_new(r, "scenario", json_string("policy"));
        json_object_set_new(r, "policies", json);
        char *t = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(t);
        free(t);
        json_decref(r);
    }
    return SL_EXIT_OK;
}

/* ---- show ---- */

static void dc_words(uint32_t mask, FILE *out)
{
    int k = 0;
    for (int i = 0; i < SL_DC_COUNT; i++)
        if (mask >> i & 1)
            fprintf(out, "%s%s", k++ ? ", " : "", sl_policy_dc_name(i));
}

/* The policy as an official reads it: what happens by default, then each rule. */
static int cmd_show(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: stateline policy show FILE\n");
        return SL_EXIT_USAGE;
    }
    struct sl_policy_diags dg = {0};
    struct sl_policy *p = load_policy(argv[1], NULL, 1, &dg);
    sl_policy_diags_free(&dg);
    if (!p)
        return SL_EXIT_FAIL;
    static const char *const verb[] = {"RELEASE", "HOLD FOR REVIEW", "DENY"};
    const char *title = sl_policy_title(p);
    printf("%s%sRules of %s for its driver and vehicle records (%d rule%s)\n", title,
           title[0] ? "\n" : "", sl_policy_state(p), sl_policy_nrules(p),
           sl_policy_nrules(p) == 1 ? "" : "s");
    printf("Order does not matter: any matching DENY wins, then HOLD, then RELEASE; when no rule\n"
           "matches, the request is %s.  When a condition cannot be evaluated, the system denies.\n",
           sl_policy_default(p) == SL_POLICY_PERMIT ? "released" : "denied");
    printf("Fingerprint (SHA-256) of this text: %s\n", sl_policy_hash(p));
    struct sl_buf b = SL_BUF_INIT;
    for (int i = 0; i < sl_policy_nrules(p); i++) {
        struct sl_policy_rule_info ri;
        sl_policy_rule_info(p, i, &ri);
        sl_buf_reset(&b);
        sl_policy_rule_condition(p, i, &b);
        printf("\n%d. %s (line %d)\n   Why: %s\n   %s when: %.*s\n", i + 1, ri.id, ri.line, ri.reason,
               verb[ri.effect], (int)sl_buf_used(&b), (const char *)sl_buf_head(&b));
        if (ri.effect == SL_POLICY_HOLD)
            printf("   If no reviewer decides within %lld hours: %s\n", (long long)(ri.deadline_s / 3600),
                   ri.then == SL_POLICY_FORBID ? "DENY" : "RELEASE");
        const char *pre = ri.effect == SL_POLICY_HOLD ? "If released, w" : "W";
        if (ri.redact) {
            printf("   %sithheld: ", pre);
            dc_words(ri.redact, stdout);
            printf("\n");
        }
        if (ri.notify_days)
            printf("   The person is notified within %d %sday%s\n", ri.notify_days,
                   ri.notify_business ? "business " : "", ri.notify_days == 1 ? "" : "s");
        if (ri.mark)
            printf("   The reply is marked: \"%s\"\n", ri.mark);
    }
    sl_buf_free(&b);
    sl_policy_unref(p);
    return SL_EXIT_OK;
}

/* ---- apply (the path itself is sl_gw_policy_apply, gw_apply.c) ---- */

static int cmd_apply(int argc, char **argv)
{
    const char *file = NULL, *config = NULL, *author = NULL, *dirpath = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--author") == 0 && i + 1 < argc)
            author = argv[++i];
        else if (strcmp(argv[i], "--directory") == 0 && i + 1 < argc)
            dirpath = argv[++i];
        else if (argv[i][0] == '-' || file) {
            fprintf(stderr, "stateline policy apply: unexpected '%s'\n", argv[i]);
            return SL_EXIT_USAGE;
        } else
            file = argv[i];
    }
    if (!file || !config) {
        fprintf(stderr, "usage: stateline policy apply FILE --config GATEWAY.CONF "
                        "[--author NAME] [--directory DIR]\n");
        return SL_EXIT_USAGE;
    }
    char err[2600];
    struct sl_gw_config *cfg = sl_xmalloc(sizeof *cfg);
    if (sl_gw_config_load(config, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "stateline policy apply: %s\n", err);
        free(cfg);
        return SL_EXIT_FAIL;
    }
    int rc = SL_EXIT_FAIL;
    struct dir_csv dir = {0};
    struct sl_policy_opts opts = {0};
    struct sl_policy *p = NULL;
    char *text = NULL;
    struct sl_policy_diags dg = {0};
    if (!cfg->policy[0]) {
        fprintf(stderr, "stateline policy apply: %s has no policy file (it runs on `default "
                "=`): set `policy = FILE` there and restart the gateway once\n", config);
        goto out;
    }
    if (dirpath) {
        if (dir_load(dirpath, &dir, err, sizeof err) < 0) {
            fprintf(stderr, "stateline policy apply: %s\n", err);
            goto out;
        }
        opts.known_parent = dir_known_parent;
        opts.known_tag = dir_known_tag;
        opts.ctx = &dir;
    }
    size_t len;
    text = read_all(file, &len, err, sizeof err);
    if (!text) {
        fprintf(stderr, "stateline policy apply: %s\n", err);
        goto out;
    }
    /* Who applied it: the gateway names the author in its policy-change entry. */
    char who[80];
    snprintf(who, sizeof who, "%s", author ? author : "");
    if (!who[0]) {
        const char *u = getenv("USER");
        snprintf(who, sizeof who, "%s", u && u[0] ? u : "unknown");
    }
    struct sl_gw_change ch = {who, NULL, NULL, NULL, file, 0};
    char hash[65];
    int arc = sl_gw_policy_apply(cfg, text, len, &ch, &opts, &dg, hash, err, sizeof err);
    print_diags(&dg, file, text, len, stderr);
    if (arc != 0) {
        fprintf(stderr, "stateline policy apply: %s: %s\n", file, err);
        goto out;
    }
    printf("%s applied as %s: state %s, sha256 %s, author %s\n"
           "the running gateway puts it in force within %d ms\n",
           file, cfg->policy, cfg->state, hash, who, cfg->policy_poll_ms + 50);
    rc = SL_EXIT_OK;
out:
    sl_policy_diags_free(&dg);
    if (p)
        sl_policy_unref(p);
    free(text);
    free(dir.rows);
    free(cfg);
    return rc;
}

/* ---- simulate (the replay itself is sl_policy_simulate, policy_sim.c) ---- */

/* The directory's tags and categories for the replay (the log does not keep them). */
static int sim_lookup(void *ctx, const char *ori, struct sl_requester *out)
{
    const struct dir_row *row = dir_find(ctx, ori);
    if (!row)
        return 0;
    sl_strlcpy(out->tags, row->tags, sizeof out->tags);
    sl_strlcpy(out->cats, row->cats, sizeof out->cats);
    sl_strlcpy(out->type, row->type, sizeof out->type);
    return 1;
}

static int parse_day(const char *s, int64_t *us)
{
    int y, m, d, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || s[n] || y < 1970 || m < 1 ||
        m > 12 || d < 1 || d > 31)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    *us = (int64_t)timegm(&tm) * 1000000;
    return 0;
}

static void sim_row_text(const char *label, const uint64_t n[2][SL_SIM_N])
{
    printf("  %-22.22s", label);
    for (int i = 0; i < SL_SIM_N; i++)
        printf(" %7llu %7llu", (unsigned long long)n[0][i], (unsigned long long)n[1][i]);
    printf("\n");
}

static int cmd_simulate(int argc, char **argv)
{
    const char *file = NULL, *against = NULL, *from = NULL, *to = NULL, *config = NULL;
    const char *current = NULL, *dirpath = NULL;
    double minutes = 15;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--against") == 0 && i + 1 < argc)
            against = argv[++i];
        else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
            from = argv[++i];
        else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
            to = argv[++i];
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--current") == 0 && i + 1 < argc)
            current = argv[++i];
        else if (strcmp(argv[i], "--directory") == 0 && i + 1 < argc)
            dirpath = argv[++i];
        else if (strcmp(argv[i], "--minutes-per-review") == 0 && i + 1 < argc) {
            char *end;
            minutes = strtod(argv[++i], &end);
            if (*end || minutes <= 0 || minutes > 10000) {
                fprintf(stderr, "stateline policy simulate: --minutes-per-review: a number "
                        "of minutes, e.g. 15\n");
                return SL_EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (argv[i][0] == '-' || file) {
            fprintf(stderr, "stateline policy simulate: unexpected '%s'\n", argv[i]);
            return SL_EXIT_USAGE;
        } else
            file = argv[i];
    }
    int64_t from_us, to_us;
    if (!file || !against || !from || !to || (!config && !current)) {
        fprintf(stderr, "usage: stateline policy simulate DRAFT --against AUDITDIR --from "
                "YYYY-MM-DD --to YYYY-MM-DD (--config GATEWAY.CONF | --current FILE) "
                "[--directory DIR] [--minutes-per-review N] [--json]\n");
        return SL_EXIT_USAGE;
    }
    if (parse_day(from, &from_us) || parse_day(to, &to_us) || to_us < from_us) {
        fprintf(stderr, "stateline policy simulate: --from and --to are dates YYYY-MM-DD, "
                "from <= to\n");
        return SL_EXIT_USAGE;
    }
    to_us += 86400LL * 1000000; /* --to is inclusive */
    char err[1024];
    int rc = SL_EXIT_FAIL;
    struct sl_policy_sim s;
    memset(&s, 0, sizeof s);
    struct sl_policy *pol[2] = {NULL, NULL};
    struct dir_csv dir = {0};
    char curpath[1100];
    if (config) {
        struct sl_gw_config *cfg = sl_xmalloc(sizeof *cfg);
        if (sl_gw_config_load(config, cfg, err, sizeof err) != 0 || !cfg->policy[0]) {
            fprintf(stderr, "stateline policy simulate: %s\n",
                    cfg->policy[0] ? err : "the gateway has no policy file (--current FILE)");
            free(cfg);
            return SL_EXIT_FAIL;
        }
        sl_strlcpy(curpath, current ? current : cfg->policy, sizeof curpath);
        free(cfg);
    } else {
        sl_strlcpy(curpath, current, sizeof curpath);
    }
    struct sl_policy_diags d0 = {0}, d1 = {0};
    struct sl_policy_opts nopts = {0};
    nopts.no_analysis = 1;
    pol[0] = load_policy(curpath, &nopts, 1, &d0);
    pol[1] = load_policy(file, &nopts, 1, &d1);
    sl_policy_diags_free(&d0);
    sl_policy_diags_free(&d1);
    if (!pol[0] || !pol[1]) {
        fprintf(stderr, "stateline policy simulate: %s does not check\n",
                pol[0] ? file : curpath);
        goto out;
    }
    if (dirpath && dir_load(dirpath, &dir, err, sizeof err) < 0) {
        fprintf(stderr, "stateline policy simulate: %s\n", err);
        goto out;
    }
    if (sl_policy_simulate(pol[0], pol[1], against, from_us, to_us, minutes,
                           dirpath ? sim_lookup : NULL, &dir, &s, err, sizeof err) != 0) {
        fprintf(stderr, "stateline policy simulate: %s: %s\n", against, err);
        goto out;
    }
    const char *kinds[3] = {"parent", "type", "place"};
    if (json) {
        json_t *o = sl_policy_sim_json(&s);
        json_object_set_new(o, "draft", json_pack("{s:s,s:s}", "file", file, "sha256",
                                                  sl_policy_hash(pol[1])));
        json_object_set_new(o, "in_force", json_pack("{s:s,s:s}", "file", curpath, "sha256",
                                                     sl_policy_hash(pol[0])));
        json_object_set_new(o, "from", json_string(from));
        json_object_set_new(o, "to", json_string(to));
        char *t = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", t ? t : "{}");
        free(t);
        json_decref(o);
    } else {
        printf("Draft %s (sha256 %.12s...) beside the policy in force %s (sha256 %.12s...)\n",
               file, sl_policy_hash(pol[1]), curpath, sl_policy_hash(pol[0]));
        printf("Traffic: %llu queries from %s to %s in %s (%.1f weeks); %llu would be "
               "decided differently, %llu more openly\n\n",
               (unsigned long long)s.total, from, to, against, s.weeks,
               (unsigned long long)s.changed, (unsigned long long)s.loosened);
        printf("  %-22s", "");
        for (int i = 0; i < SL_SIM_N; i++)
            printf(" %15s", sl_policy_sim_names[i]);
        printf("\n  %-22s", "requester");
        for (int i = 0; i < SL_SIM_N; i++)
            printf(" %7s %7s", "now", "draft");
        printf("\n");
        sim_row_text("all", s.all);
        const char *titles[3] = {"by parent agency", "by agency type", "in or out of state"};
        for (int k = 0; k < 3; k++) {
            printf(" %s\n", titles[k]);
            for (size_t i = 0; i < s.ncls; i++)
                if (!strcmp(s.cls[i].kind, kinds[k]))
                    sim_row_text(s.cls[i].name, s.cls[i].n);
        }
        printf("\n(redacted and noticed are parts of released.)\n");
        printf("Review desk: %.1f hours a week now, %.1f with the draft (%g minutes per "
               "review)\n", s.hours_per_week[0], s.hours_per_week[1], minutes);
    }
    if (s.bad)
        fprintf(stderr, "stateline policy simulate: %llu entries could not be decoded "
                "(`stateline audit verify`)\n", (unsigned long long)s.bad);
    rc = SL_EXIT_OK;
out:
    for (int k = 0; k < 2; k++)
        if (pol[k])
            sl_policy_unref(pol[k]);
    sl_policy_sim_free(&s);
    free(dir.rows);
    return rc;
}

/* ---- dispatch ---- */

static int run(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: stateline policy check|show|explain|test|bench|apply|simulate ... (--help)\n");
        return SL_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(sub, "explain") == 0)
        return cmd_explain(argc - 1, argv + 1);
    if (strcmp(sub, "test") == 0)
        return cmd_test(argc - 1, argv + 1);
    if (strcmp(sub, "bench") == 0)
        return cmd_bench(argc - 1, argv + 1);
    if (strcmp(sub, "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    if (strcmp(sub, "apply") == 0)
        return cmd_apply(argc - 1, argv + 1);
    if (strcmp(sub, "simulate") == 0)
        return cmd_simulate(argc - 1, argv + 1);
    fprintf(stderr, "stateline policy: no subcommand '%s' (check, show, explain, test, bench, apply, simulate)\n", sub);
    return SL_EXIT_USAGE;
}

const struct sl_cli_cmd sl_cmd_policy = {
    "policy",
    "check, show, explain, test, benchmark, apply and simulate a state's release rules",
    run,
    "usage: stateline policy <subcommand> ...\n"
    "\n"
    "  check FILE [--directory DIR] [--strict]\n"
    "      Parse and check a policy.  Errors (file:line:col with a hint) make it unusable:\n"
    "      exit 1.  Warnings: rules that can never match or never take effect, data\n"
    "      classes the rule's keys never carry, and with a directory, parent agencies and\n"
    "      tags no ORI has.  DIR is the directory database (dir.db) or its CSV export.\n"
    "      --strict: warnings also exit 1.\n"
    "\n"
    "  show FILE\n"
    "      The policy in words, rule by rule, for the official who signs it.\n"
    "\n"
    "  explain FILE --request \"DQ.DCICE0100.WA.TXT OLN/WDL123\"\n"
    "          [--requester ORI=..,TYPE=FE,MEMBER=DH,PARENT=DHS/ICE/ERO,TAGS=a b,CATS=DZ]\n"
    "          [--directory DIR] [--time \"2026-11-26 14:05\"] [--queries hour=51,user-day=3]\n"
    "          [--json]\n"
    "      The decision for one request and which rules made it, in words.  Without TYPE\n"
    "      (and not found in --directory) the requester counts as unknown.  --queries: how\n"
    "      many queries the ORI (minute hour day) and the user named in ATN/ (user-minute\n"
    "      user-hour user-day) sent in each window, this one included (default 1).  --json:\n"
    "      the decision as one JSON object (docs/policy-language.md).\n"
    "\n"
    "  test FILE CASES\n"
    "      Run a table of requests and expected decisions; report failures and rule\n"
    "      coverage.  Exit 1 if a case fails or a rule decides no case.\n"
    "\n"
    "  bench [FILE] [--rules N]... [--decisions N] [--json]\n"
    "      Decisions per second, median and p99 ns, for FILE and/or generated policies\n"
    "      (default: 100 and 10,000 rules).\n"
    "\n"
    "  apply FILE --config GATEWAY.CONF [--author NAME] [--directory DIR]\n"
    "      Check FILE; only if it has no error, put it in place of the gateway's policy\n"
    "      file atomically (temporary file + rename): the running gateway puts it in\n"
    "      force within a second, and its policy-change audit entry names the author\n"
    "      (--author, else $USER).  A file with errors is refused; the old one stays.\n"
    "\n"
    "  simulate DRAFT --against AUDITDIR --from YYYY-MM-DD --to YYYY-MM-DD\n"
    "           (--config GATEWAY.CONF | --current FILE) [--directory DIR]\n"
    "           [--minutes-per-review N] [--json]\n"
    "      Replay the queries of an audit log (dates inclusive, UTC) against the draft\n"
    "      and the policy in force: released, denied, held, redacted and noticed, by\n"
    "      parent agency, agency type and in/out of state, and the review desk's load\n"
    "      in hours per week (default 15 minutes per review).  Tags come from\n"
    "      --directory (the log does not keep them).  docs/review.md.\n"
    "\n"
    "The language, the CASES format and the data classes: docs/policy-language.md.\n",
};
