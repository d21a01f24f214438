/*
 * cmd_dir.c - `stateline dir`: look at and change the ORI directory (docs/directory.md).
 *
 *   stateline dir import FILE [--as MEMBER]     CSV in (FILE '-' = standard input)
 *   stateline dir export [--member M] [--out FILE]
 *   stateline dir show ORI [--json]
 *   stateline dir put --ori ORI [--member M] [--name ...] [--type T] [--cats C]
 *                     [--status A|I] [--parent P] [--tags "a b"] [--rand 0|1] [--as MEMBER]
 *   stateline dir delete ORI [--as MEMBER]
 *   stateline dir stats [--json]
 *   stateline dir members [--json]
 *   stateline dir check [--json]        load the hub's snapshot, check every row, time it
 * Every subcommand takes --db PATH (default dir.db).  import and put create the database
 * when it does not exist; the others want it to exist.
 *
 * --as MEMBER acts as that member line (it may change only its own ORIs); without it the
 * command acts as the network's operator.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "stateline/cli.h"
#include "stateline/core.h"
#include "stateline/dir.h"

static const char usage[] =
    "usage: stateline dir <subcommand> [options]\n"
    "\n"
    "  import FILE [--as MEMBER]   import CSV (one transaction: a bad line imports nothing);\n"
    "                              FILE '-' reads standard input\n"
    "  export [--member M] [--out FILE]\n"
    "                              write CSV (all ORIs, or one member's), in ORI order\n"
    "  show ORI [--json]           one ORI\n"
    "  put --ori ORI [--member M] [--name NAME] [--type T] [--cats ACDZ] [--status A|I]\n"
    "      [--parent P] [--tags \"t1 t2\"] [--rand 0|1] [--as MEMBER]\n"
    "                              add an ORI, or change the given fields of one\n"
    "  delete ORI [--as MEMBER]    remove an ORI\n"
    "  stats [--json]              counts by member kind, member, type, status, parent agency\n"
    "  members [--json]            the member lines\n"
    "  check [--json]              load the snapshot the hub uses, check every row against\n"
    "                              the field and prefix rules, time the load and lookups\n"
    "\n"
    "  --db PATH     the directory database (default dir.db)\n"
    "  --as MEMBER   act as that member line: it may change only its own ORIs\n"
    "                (without --as you act as the network's operator)\n"
    "\n"
    "CSV columns: ori,member,name,type,categories,status,parent,tags,rand (header required).\n"
    "Exit status: 0 done, 1 refused or failed (the reason is printed), 2 usage.\n";

struct opts {
    const char *db, *as, *member, *out;
    const char *ori, *name, *type, *cats, *status, *parent, *tags, *rand;
    const char *pos[4];
    int npos, json;
};

static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->db = "dir.db";
    struct {
        const char *flag;
        const char **dst;
    } const flags[] = {
        {"--db", &o->db},         {"--as", &o->as},         {"--member", &o->member},
        {"--out", &o->out},       {"--ori", &o->ori},       {"--name", &o->name},
        {"--type", &o->type},     {"--cats", &o->cats},     {"--categories", &o->cats},
        {"--status", &o->status}, {"--parent", &o->parent}, {"--tags", &o->tags},
        {"--rand", &o->rand},
    };
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            size_t k;
            for (k = 0; k < sizeof flags / sizeof flags[0]; k++)
                if (strcmp(a, flags[k].flag) == 0)
                    break;
            if (k == sizeof flags / sizeof flags[0]) {
                fprintf(stderr, "stateline dir: unknown option %s\n", a);
                return -1;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "stateline dir: %s needs a value\n", a);
                return -1;
            }
            *flags[k].dst = argv[++i];
            continue;
        }
        if (o->npos == (int)(sizeof o->pos / sizeof o->pos[0])) {
            fprintf(stderr, "stateline dir: too many arguments\n");
            return -1;
        }
        o->pos[o->npos++] = a;
    }
    if (o->as && !sl_dir_valid_member_code(o->as)) {
        fprintf(stderr, "stateline dir: --as wants a 2-letter member code, not '%s'\n", o->as);
        return -1;
    }
    return 0;
}

static struct sl_dir *open_db(const struct opts *o, int create)
{
    char err[512];
    struct sl_dir *d;
    if (sl_dir_open(o->db, create, &d, err, sizeof err) < 0) {
        fprintf(stderr, "stateline dir: %s\n", err);
        return NULL;
    }
    return d;
}

static json_t *ori_json(const struct sl_ori *r)
{
    char status[2] = {r->status, '\0'};
    json_t *tags = json_array();
    char buf[sizeof r->tags];
    sl_strlcpy(buf, r->tags, sizeof buf);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
        json_array_append_new(tags, json_string(t));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b}", "ori", r->ori, "member",
                     r->member, "name", r->name, "type", r->type, "categories", r->cats,
                     "status", status, "parent", r->parent, "tags", tags, "rand", r->rand);
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(j);
}

static int cmd_import(const struct opts *o)
{
    if (o->npos != 1) {
        fprintf(stderr, "usage: stateline dir import FILE [--as MEMBER] [--db PATH]\n");
        return SL_EXIT_USAGE;
    }
    FILE *in = strcmp(o->pos[0], "-") == 0 ? stdin : fopen(o->pos[0], "r");
    if (!in) {
        fprintf(stderr, "stateline dir import: %s: %s\n", o->pos[0], strerror(errno));
        return SL_EXIT_FAIL;
    }
    struct sl_dir *d = open_db(o, 1);
    if (!d) {
        if (in != stdin)
            fclose(in);
        return SL_EXIT_FAIL;
    }
    char err[512];
    int64_t n;
    int rc = sl_dir_import_csv(d, o->as, in, &n, err, sizeof err);
    if (in != stdin)
        fclose(in);
    sl_dir_close(d);
    if (rc < 0) {
        fprintf(stderr, "stateline dir import: %s: %s (nothing imported)\n",
                strcmp(o->pos[0], "-") == 0 ? "<stdin>" : o->pos[0], err);
        return SL_EXIT_FAIL;
    }
    printf("imported %" PRId64 " ORIs into %s\n", n, o->db);
    return SL_EXIT_OK;
}

static int cmd_export(const struct opts *o)
{
    if (o->npos != 0) {
        fprintf(stderr, "usage: stateline dir export [--member M] [--out FILE] [--db PATH]\n");
        return SL_EXIT_USAGE;
    }
    struct sl_dir *d = open_db(o, 0);
    if (!d)
        return SL_EXIT_FAIL;
    FILE *out = o->out ? fopen(o->out, "w") : stdout;
    if (!out) {
        fprintf(stderr, "stateline dir export: %s: %s\n", o->out, strerror(errno));
        sl_dir_close(d);
        return SL_EXIT_FAIL;
    }
    int rc = sl_dir_export_csv(d, o->member, out);
    if (out != stdout && fclose(out) != 0)
        rc = -1;
    sl_dir_close(d);
    if (rc < 0) {
        fprintf(stderr, "stateline dir export: write failed\n");
        return SL_EXIT_FAIL;
    }
    return SL_EXIT_OK;
}

static int cmd_show(const struct opts *o)
{
    if (o->npos != 1) {
        fprintf(stderr, "usage: stateline dir show ORI [--json] [--db PATH]\n");
        return SL_EXIT_USAGE;
    }
    struct sl_dir *d = open_db(o, 0);
    if (!d)
        return SL_EXIT_FAIL;
    struct sl_ori r;
    struct sl_member m;
    int rc = sl_dir_get(d, o->pos[0], &r);
    if (rc == 0 && sl_dir_get_member(d, r.member, &m) != 0)
        memset(&m, 0, sizeof m);
    sl_dir_close(d);
    if (rc != 0) {
        fprintf(stderr, "stateline dir show: %s is not in %s\n", o->pos[0], o->db);
        return SL_EXIT_FAIL;
    }
    if (o->json) {
        print_json(ori_json(&r));
        return SL_EXIT_OK;
    }
    printf("ori         %s\n", r.ori);
    printf("member      %s%s%s%s\n", r.member, m.name[0] ? " (" : "", m.name, m.name[0] ? ")" : "");
    printf("name        %s\n", r.name);
    printf("type        %s\n", r.type);
    printf("categories  %s\n", r.cats[0] ? r.cats : "(none)");
    printf("status      %s\n", r.status == 'A' ? "A (active)" : "I (inactive)");
    printf("parent      %s\n", r.parent[0] ? r.parent : "(none)");
    printf("tags        %s\n", r.tags[0] ? r.tags : "(none)");
    printf("rand        %d\n", r.rand);
    return SL_EXIT_OK;
}

static int cmd_put(const struct opts *o)
{
    if (o->npos != 0 || !o->ori) {
        fprintf(stderr, "usage: stateline dir put --ori ORI [--member M] [--name NAME] "
                        "[--type T] [--cats C] [--status A|I] [--parent P] [--tags T] "
                        "[--rand 0|1] [--as MEMBER] [--db PATH]\n");
        return SL_EXIT_USAGE;
    }
    struct sl_dir *d = open_db(o, 1);
    if (!d)
        return SL_EXIT_FAIL;
    struct sl_ori r;
    int exists = sl_dir_get(d, o->ori, &r);
    if (exists < 0) {
        sl_dir_close(d);
        return SL_EXIT_FAIL;
    }
    if (exists == 1) {
        /* A new ORI: the fields without a sensible default must be given. */
        if (!o->name || !o->type || !(o->member || o->as)) {
            fprintf(stderr, "stateline dir put: %s is new: give --name, --type and --member\n",
                    o->ori);
            sl_dir_close(d);
            return SL_EXIT_USAGE;
        }
        memset(&r, 0, sizeof r);
        r.status = 'A';
        strcpy(r.cats, "ACDZ");
        sl_strlcpy(r.member, o->member ? o->member : o->as, sizeof r.member);
    }
    /* Copy each given field, refusing (not truncating) what does not fit. */
    struct {
        const char *val, *name;
        char *dst;
        size_t size;
    } const f[] = {
        {o->ori, "ori", r.ori, sizeof r.ori},
        {o->member, "member", r.member, sizeof r.member},
        {o->name, "name", r.name, sizeof r.name},
        {o->type, "type", r.type, sizeof r.type},
        {o->cats, "categories", r.cats, sizeof r.cats},
        {o->parent, "parent", r.parent, sizeof r.parent},
        {o->tags, "tags", r.tags, sizeof r.tags},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!f[i].val)
            continue;
        if (strlen(f[i].val) >= f[i].size) {
            fprintf(stderr, "stateline dir put: %s: longer than %zu characters\n", f[i].name,
                    f[i].size - 1);
            sl_dir_close(d);
            return SL_EXIT_FAIL;
        }
        strcpy(f[i].dst, f[i].val);
    }
    if (o->status) {
        if (strcmp(o->status, "A") && strcmp(o->status, "I")) {
            fprintf(stderr, "stateline dir put: status: must be A (active) or I (inactive)\n");
            sl_dir_close(d);
            return SL_EXIT_FAIL;
        }
        r.status = o->status[0];
    }
    if (o->rand) {
        if (strcmp(o->rand, "0") && strcmp(o->rand, "1")) {
            fprintf(stderr, "stateline dir put: rand: must be 0 or 1\n");
            sl_dir_close(d);
            return SL_EXIT_FAIL;
        }
        r.rand = o->rand[0] == '1';
    }
    char err[512];
    int rc = sl_dir_put(d, o->as, &r, err, sizeof err);
    sl_dir_close(d);
    if (rc < 0) {
        fprintf(stderr, "stateline dir put: %s\n", err);
        return SL_EXIT_FAIL;
    }
    printf("%s %s\n", exists == 1 ? "added" : "changed", r.ori);
    return SL_EXIT_OK;
}

static int cmd_delete(const struct opts *o)
{
    if (o->npos != 1) {
        fprintf(stderr, "usage: stateline dir delete ORI [--as MEMBER] [--db PATH]\n");
        return SL_EXIT_USAGE;
    }
    struct sl_dir *d = open_db(o, 0);
    if (!d)
        return SL_EXIT_FAIL;
    char err[512];
    int rc = sl_dir_delete(d, o->as, o->pos[0], err, sizeof err);
    sl_dir_close(d);
    if (rc != 0) {
        fprintf(stderr, "stateline dir delete: %s\n", err);
        return SL_EXIT_FAIL;
    }
    printf("deleted %s\n", o->pos[0]);
    return SL_EXIT_OK;
}

struct counts {
    json_t *obj; /* JSON: key -> count, in order */
    int64_t total;
};

static int add_count(void *ctx, const char *key, int64_t n)
{
    struct counts *c = ctx;
    if (c->obj)
        json_object_set_new(c->obj, key[0] ? key : "(none)", json_integer(n));
    else
        printf("    %-16s %8" PRId64 "  %5.1f%%\n", key[0] ? key : "(none)", n,
               c->total ? 100.0 * (double)n / (double)c->total : 0.0);
    return 0;
}

static int cmd_stats(const struct opts *o)
{
    if (o->npos != 0) {
        fprintf(stderr, "usage: stateline dir stats [--json] [--db PATH]\n");
        return SL_EXIT_USAGE;
    }
    struct sl_dir *d = open_db(o, 0);
    if (!d)
        return SL_EXIT_FAIL;
    static const struct {
        enum sl_dir_by by;
        int top;
        const char *key, *title;
    } groups[] = {
        {SL_DIR_BY_KIND, 0, "by_kind", "by member kind (S state/territory, F federal, "
                                        "I international, N switch)"},
        {SL_DIR_BY_TYPE, 0, "by_type", "by ORION type"},
        {SL_DIR_BY_STATUS, 0, "by_status", "by status"},
        {SL_DIR_BY_PARENT, 1, "by_department", "by parent department"},
        {SL_DIR_BY_PARENT, 0, "by_parent", "by parent agency"},
        {SL_DIR_BY_MEMBER, 0, "by_member", "by member"},
    };
    int64_t total = sl_dir_count(d);
    json_t *root = o->json ? json_object() : NULL;
    if (root)
        json_object_set_new(root, "total", json_integer(total));
    else
        printf("%s: %" PRId64 " ORIs\n", o->db, total);
    int rc = 0;
    for (size_t i = 0; i < sizeof groups / sizeof groups[0] && rc == 0; i++) {
        struct counts c = {root ? json_object() : NULL, total};
        if (!root)
            printf("  %s:\n", groups[i].title);
        rc = sl_dir_count_by(d, groups[i].by, groups[i].top, add_count, &c);
        if (root)
            json_object_set_new(root, groups[i].key, c.obj);
    }
    sl_dir_close(d);
    if (root)
        print_json(root);
    return rc == 0 ? SL_EXIT_OK : SL_EXIT_FAIL;
}

struct members_out {
    json_t *arr;
};

static int print_member(void *ctx, const struct sl_member *m)
{
    struct members_out *mo = ctx;
    char kind[2] = {m->kind, '\0'};
    if (mo->arr)
        json_array_append_new(mo->arr, json_pack("{s:s, s:s, s:s}", "code", m->code, "name",
                                                 m->name, "kind", kind));
    else
        printf("%-3s %s  %s\n", m->code, kind, m->name);
    return 0;
}

static int cmd_members(const struct opts *o)
{
    struct sl_dir *d = open_db(o, 0);
    if (!d)
        return SL_EXIT_FAIL;
    struct members_out mo = {o->json ? json_array() : NULL};
    int rc = sl_dir_foreach_member(d, print_member, &mo);
    sl_dir_close(d);
    if (mo.arr)
        print_json(mo.arr);
    return rc == 0 ? SL_EXIT_OK : SL_EXIT_FAIL;
}

struct check_ctx {
    const struct sl_dir_snap *snap;
    char (*oris)[SL_ORI_LEN + 1];
    int64_t n, cap, bad, missing;
};

static int check_row(void *ctx, const struct sl_ori *r)
{
    struct check_ctx *c = ctx;
    const struct sl_member *m = sl_dir_snap_member(c->snap, r->member);
    char err[256];
    if (!m || sl_dir_check(r, m->kind, err, sizeof err) != 0) {
        if (c->bad++ < 20)
            fprintf(stderr, "%s: %s\n", r->ori, m ? err : "member is not a member line");
    }
    if (!sl_dir_snap_find(c->snap, r->ori))
        c->missing++;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->oris = sl_xrealloc(c->oris, (size_t)c->cap * sizeof *c->oris);
    }
    memcpy(c->oris[c->n++], r->ori, SL_ORI_LEN + 1);
    return 0;
}

static int cmd_check(const struct opts *o)
{
    struct sl_dir *d = open_db(o, 0);
    if (!d)
        return SL_EXIT_FAIL;
    struct sl_dir_snap *snap;
    /* CPU time besides wall time: on a busy machine the wall clock mostly measures the
     * other processes. */
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    int64_t t0 = sl_now_ns();
    if (sl_dir_snapshot(d, &snap) < 0) {
        sl_dir_close(d);
        return SL_EXIT_FAIL;
    }
    int64_t t1 = sl_now_ns();
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double cpu_ms = (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
    struct check_ctx c = {snap, NULL, 0, 0, 0, 0};
    int rc = sl_dir_foreach(d, NULL, check_row, &c);
    sl_dir_close(d);
    /* Lookups as the hub makes them: hits over every ORI, then as many misses. */
    int64_t hits = 0, rounds = c.n ? (2000000 + c.n - 1) / c.n : 0;
    int64_t t2 = sl_now_ns();
    for (int64_t k = 0; k < rounds; k++)
        for (int64_t i = 0; i < c.n; i++)
            hits += sl_dir_snap_find_n(snap, c.oris[i], SL_ORI_LEN) != NULL;
    int64_t t3 = sl_now_ns();
    double load_ms = (double)(t1 - t0) / 1e6;
    int64_t nlook = rounds * c.n;
    double ns_per = nlook > 0 ? (double)(t3 - t2) / (double)nlook : 0;
    int ok = rc == 0 && c.bad == 0 && c.missing == 0 && hits == rounds * c.n;
    if (o->json) {
        print_json(json_pack("{s:I, s:I, s:I, s:f, s:f, s:f, s:b}", "oris", (json_int_t)c.n,
                             "invalid", (json_int_t)c.bad, "missing_from_snapshot",
                             (json_int_t)c.missing, "snapshot_load_ms", load_ms,
                             "snapshot_load_cpu_ms", cpu_ms, "lookup_ns", ns_per, "ok", ok));
    } else {
        printf("%s: %" PRId64 " ORIs, %d members; %" PRId64 " invalid, %" PRId64
               " missing from the snapshot\n",
               o->db, c.n, sl_dir_snap_nmembers(snap), c.bad, c.missing);
        printf("snapshot loaded in %.1f ms (%.1f ms CPU); lookup %.0f ns (%" PRId64
               " lookups)\n",
               load_ms, cpu_ms, ns_per, nlook);
    }
    free(c.oris);
    sl_dir_snap_free(snap);
    return ok ? SL_EXIT_OK : SL_EXIT_FAIL;
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return SL_EXIT_USAGE;
    }
    struct opts o;
    if (parse(argc, argv, &o) < 0)
        return SL_EXIT_USAGE;
    const char *sub = argv[1];
    if (strcmp(sub, "import") == 0)
        return cmd_import(&o);
    if (strcmp(sub, "export") == 0)
        return cmd_export(&o);
    if (strcmp(sub, "show") == 0)
        return cmd_show(&o);
    if (strcmp(sub, "put") == 0)
        return cmd_put(&o);
    if (strcmp(sub, "delete") == 0)
        return cmd_delete(&o);
    if (strcmp(sub, "stats") == 0)
        return cmd_stats(&o);
    if (strcmp(sub, "members") == 0)
        return cmd_members(&o);
    if (strcmp(sub, "check") == 0)
        return cmd_check(&o);
    fprintf(stderr, "stateline dir: no subcommand '%s'\n\n%s", sub, usage);
    return SL_EXIT_USAGE;
}

const struct sl_cli_cmd sl_cmd_dir = {
    "dir", "the ORI directory: import, export, show, put, delete, stats, check", run, usage};
