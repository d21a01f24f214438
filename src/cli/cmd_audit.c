/*
 * cmd_audit.c - `stateline audit ...`: keys, verification, proofs, reading and
 * benchmarking the audit log (docs/audit-format.md).
 *
 * Proof files (printed by prove/consistency, read by check-proof): lines of 64 hex digits,
 * one hash per line, in proof order; lines starting with '#' are comments that describe
 * the proof (leaf hash, index, size, roots) and are ignored when reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "stateline/audit.h"
#include "stateline/cli.h"
#include "stateline/core.h"
#include "stateline/gateway.h"
#include "stateline/hist.h"

/* ---- small argument helpers ------------------------------------------------------------ */

struct args {
    int argc;
    char **argv;
    const char *pos[4]; /* positional arguments */
    int npos;
};

static const char *opt(struct args *a, const char *name)
{
    for (int i = 1; i + 1 < a->argc; i++)
        if (strcmp(a->argv[i], name) == 0)
            return a->argv[i + 1];
    return NULL;
}

static int flag(struct args *a, const char *name)
{
    for (int i = 1; i < a->argc; i++)
        if (strcmp(a->argv[i], name) == 0)
            return 1;
    return 0;
}

/* Positional arguments are those not starting with "--" and not the value of an option.
 * valued: the options that take a value. */
static int parse_args(struct args *a, int argc, char **argv, const char *const *valued,
                      const char *const *flags)
{
    a->argc = argc;
    a->argv = argv;
    a->npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0) {
            int known = 0;
            for (const char *const *v = valued; v && *v; v++)
                if (strcmp(argv[i], *v) == 0) {
                    if (i + 1 >= argc) {
                        fprintf(stderr, "stateline audit: %s needs a value\n", argv[i]);
                        return -1;
                    }
                    i++;
                    known = 1;
                }
            for (const char *const *f = flags; f && *f; f++)
                if (strcmp(argv[i], *f) == 0)
                    known = 1;
            if (!known) {
                fprintf(stderr, "stateline audit %s: unknown option %s\n", argv[0], argv[i]);
                return -1;
            }
            continue;
        }
        if (a->npos == 4) {
            fprintf(stderr, "stateline audit %s: too many arguments\n", argv[0]);
            return -1;
        }
        a->pos[a->npos++] = argv[i];
    }
    return 0;
}

static int parse_u64(const char *s, const char *what, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-') {
        fprintf(stderr, "stateline audit: %s must be a non-negative number\n", what);
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) {
        fprintf(stderr, "stateline audit: %s: '%s' is not a number\n", what, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_hash(const char *s, const char *what, uint8_t out[32])
{
    if (!s || strlen(s) != 64 || sl_audit_unhex(s, 64, out) < 0) {
        fprintf(stderr, "stateline audit: %s must be 64 hex digits\n", what);
        return -1;
    }
    return 0;
}

static int load_verifier(const char *path, struct sl_audit_verifier *v)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "stateline audit: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[512];
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        fprintf(stderr, "stateline audit: %s: empty\n", path);
        return -1;
    }
    fclose(f);
    char err[200];
    if (sl_audit_verifier_parse(v, line, err, sizeof err) < 0) {
        fprintf(stderr, "stateline audit: %s: %s\n", path, err);
        return -1;
    }
    return 0;
}

/* ---- keygen ------------------------------------------------------------------------------ */

static int write_new_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf(stderr, "stateline audit keygen: %s: %s%s\n", path, strerror(errno),
                errno == EEXIST ? " (will not overwrite a key)" : "");
        return -1;
    }
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
        fprintf(stderr, "stateline audit keygen: %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int cmd_keygen(int argc, char **argv)
{
    static const char *const valued[] = {"--name", "--out", NULL};
    struct args a;
    if (parse_args(&a, argc, argv, valued, NULL) < 0)
        return SL_EXIT_USAGE;
    const char *name = opt(&a, "--name"), *out = opt(&a, "--out");
    if (!name || !out || a.npos) {
        fprintf(stderr, "usage: stateline audit keygen --name ORIGIN --out PREFIX\n");
        return SL_EXIT_USAGE;
    }
    char skey[256], vkey[256], err[200], path[4096];
    if (sl_audit_keygen(name, skey, sizeof skey, vkey, sizeof vkey, err, sizeof err) < 0) {
        fprintf(stderr, "stateline audit keygen: %s\n", err);
        return SL_EXIT_USAGE;
    }
    snprintf(path, sizeof path, "%s.key", out);
    if (write_new_file(path, skey, 0600) < 0)
        return SL_EXIT_FAIL;
    snprintf(path, sizeof path, "%s.pub", out);
    if (write_new_file(path, vkey, 0644) < 0)
        return SL_EXIT_FAIL;
    printf("signer key   %s.key (keep secret; the log's appender reads it)\n", out);
    printf("verifier key %s.pub: %s\n", out, vkey);
    return SL_EXIT_OK;
}

/* ---- verify -------------------------------------------------------------------------------- */

struct vprint {
    uint64_t shown;
    json_t *json; /* --json: problems collected here */
};

static void print_problem(int64_t index, const char *text, void *arg)
{
    struct vprint *p = arg;
    if (p->json) {
        if (json_array_size(p->json) < 10000) {
            json_t *o = json_object();
            json_object_set_new(o, "index", index >= 0 ? json_integer(index) : json_null());
            json_object_set_new(o, "problem", json_string(text));
            json_array_append_new(p->json, o);
        }
        return;
    }
    if (p->shown++ < 200)
        printf("FAIL %s\n", text);
    else if (p->shown == 201)
        printf("FAIL ... (further problems not shown)\n");
}

static int cmd_verify(int argc, char **argv)
{
    static const char *const valued[] = {"--key", NULL};
    static const char *const flags[] = {"--json", NULL};
    struct args a;
    if (parse_args(&a, argc, argv, valued, flags) < 0 || a.npos != 1) {
        fprintf(stderr, "usage: stateline audit verify DIR [--key PUB] [--json]\n");
        return SL_EXIT_USAGE;
    }
    struct sl_audit_verifier v;
    const char *kp = opt(&a, "--key");
    if (kp && load_verifier(kp, &v) < 0)
        return SL_EXIT_USAGE;
    struct vprint p = {0, flag(&a, "--json") ? json_array() : NULL};
    struct sl_audit_verify_result res;
    char err[300];
    int64_t n = sl_audit_verify_dir(a.pos[0], kp ? &v : NULL, print_problem, &p, &res, err,
                                    sizeof err);
    if (kp)
        sl_audit_verifier_free(&v);
    if (n < 0) {
        fprintf(stderr, "stateline audit verify: %s\n", err);
        json_decref(p.json);
        return SL_EXIT_FAIL;
    }
    char root[65];
    sl_audit_hex(res.root, 32, root);
    double rate = res.seconds > 0 ? (double)res.entries / res.seconds : 0;
    if (p.json) {
        json_t *o = json_object();
        json_object_set_new(o, "dir", json_string(a.pos[0]));
        json_object_set_new(o, "ok", json_boolean(n == 0));
        json_object_set_new(o, "entries", json_integer((json_int_t)res.entries));
        json_object_set_new(o, "checkpoints", json_integer((json_int_t)res.checkpoints));
        json_object_set_new(o, "root", json_string(root));
        json_object_set_new(o, "signatures_checked", json_boolean(kp != NULL));
        json_object_set_new(o, "seconds", json_real(res.seconds));
        json_object_set_new(o, "entries_per_second", json_real(rate));
        json_object_set_new(o, "problems", p.json);
        char *txt = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(txt);
        free(txt);
        json_decref(o);
        return n > 0 ? SL_EXIT_FAIL : SL_EXIT_OK;
    }
    printf("%s: %" PRIu64 " entries, %" PRIu64 " checkpoints, root %s\n", a.pos[0], res.entries,
           res.checkpoints, root);
    printf("verified in %.3f s (%.0f entries/s)%s\n", res.seconds, rate,
           kp ? "" : "; signatures NOT checked (no --key)");
    if (n > 0) {
        printf("FAILED: %" PRId64 " problem(s)\n", n);
        return SL_EXIT_FAIL;
    }
    printf("OK\n");
    return SL_EXIT_OK;
}

/* ---- prove / consistency ------------------------------------------------------------------ */

static int load_for_proof(const char *dir, uint64_t size, uint8_t (**leaves)[32])
{
    char err[300];
    int64_t n = sl_audit_load_leaves(dir, size, leaves, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "stateline audit: %s\n", err);
        return -1;
    }
    if ((uint64_t)n < size) {
        fprintf(stderr, "stateline audit: the log has %" PRId64 " entries, fewer than %" PRIu64 "\n",
                n, size);
        free(*leaves);
        return -1;
    }
    return 0;
}

static void print_hash_line(const char *prefix, const uint8_t h[32])
{
    char s[65];
    sl_audit_hex(h, 32, s);
    printf("%s%s\n", prefix, s);
}

/* `prove --tlog-proof`: an offline receipt for one entry against the latest checkpoint, in the
 * c2sp.org/tlog-proof@v1 form (engineering.md §3.3):
 *     c2sp.org/tlog-proof@v1 \n index <I> \n <base64 hash>... \n \n <signed checkpoint> */
static int prove_tlog(const char *dir, uint64_t index)
{
    char path[4096], *cp = NULL;
    size_t cplen;
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "stateline audit prove: %s: %s\n", path, strerror(errno));
        return SL_EXIT_FAIL;
    }
    cp = sl_xmalloc(4096);
    cplen = fread(cp, 1, 4095, f);
    fclose(f);
    cp[cplen] = 0;
    struct sl_audit_checkpoint c;
    char err[300];
    if (sl_audit_checkpoint_parse(cp, cplen, &c, err, sizeof err) < 0) {
        fprintf(stderr, "stateline audit prove: %s: %s\n", path, err);
        free(cp);
        return SL_EXIT_FAIL;
    }
    if (index >= c.size) {
        fprintf(stderr, "stateline audit prove: entry %" PRIu64 " is not in the latest "
                        "checkpoint (size %" PRIu64 ") yet\n", index, c.size);
        free(cp);
        return SL_EXIT_FAIL;
    }
    uint8_t(*leaves)[32] = NULL;
    if (load_for_proof(dir, c.size, &leaves) < 0) {
        free(cp);
        return SL_EXIT_FAIL;
    }
    struct sl_audit_hasher *h = sl_audit_hasher_new();
    uint8_t proof[128][32], root[32];
    int n = sl_audit_inclusion(h, (const uint8_t(*)[32])leaves, index, c.size, proof);
    sl_audit_mth(h, (const uint8_t(*)[32])leaves, 0, c.size, root);
    int rc = SL_EXIT_OK;
    if (memcmp(root, c.root, 32) != 0) {
        fprintf(stderr, "stateline audit prove: the entries do not match the latest checkpoint; "
                        "run `stateline audit verify %s`\n", dir);
        rc = SL_EXIT_FAIL;
    } else {
        printf("c2sp.org/tlog-proof@v1\nindex %" PRIu64 "\n", index);
        for (int i = 0; i < n; i++) {
            char b[48];
            sl_audit_b64_encode(proof[i], 32, b);
            printf("%s\n", b);
        }
        printf("\n%s", cp);
    }
    sl_audit_hasher_free(h);
    free(leaves);
    free(cp);
    return rc;
}

static int cmd_prove(int argc, char **argv)
{
    static const char *const valued[] = {"--index", "--size", NULL};
    static const char *const flags[] = {"--tlog-proof", NULL};
    struct args a;
    uint64_t index = 0, size = 0; /* (gcc -O3 cannot see --size is read whenever it is used) */
    if (parse_args(&a, argc, argv, valued, flags) < 0 || a.npos != 1 ||
        parse_u64(opt(&a, "--index"), "--index", &index) < 0 ||
        (!flag(&a, "--tlog-proof") && parse_u64(opt(&a, "--size"), "--size", &size) < 0)) {
        fprintf(stderr, "usage: stateline audit prove DIR --index I --size N\n"
                        "       stateline audit prove DIR --index I --tlog-proof\n");
        return SL_EXIT_USAGE;
    }
    if (flag(&a, "--tlog-proof"))
        return prove_tlog(a.pos[0], index);
    if (index >= size) {
        fprintf(stderr, "stateline audit prove: --index must be below --size\n");
        return SL_EXIT_USAGE;
    }
    uint8_t(*leaves)[32] = NULL;
    if (load_for_proof(a.pos[0], size, &leaves) < 0)
        return SL_EXIT_FAIL;
    struct sl_audit_hasher *h = sl_audit_hasher_new();
    uint8_t proof[128][32], root[32];
    int n = sl_audit_inclusion(h, (const uint8_t(*)[32])leaves, index, size, proof);
    sl_audit_mth(h, (const uint8_t(*)[32])leaves, 0, size, root);
    printf("# inclusion proof: index %" PRIu64 " size %" PRIu64 "\n", index, size);
    print_hash_line("# leaf ", leaves[index]);
    print_hash_line("# root ", root);
    for (int i = 0; i < n; i++)
        print_hash_line("", proof[i]);
    sl_audit_hasher_free(h);
    free(leaves);
    return SL_EXIT_OK;
}

static int cmd_consistency(int argc, char **argv)
{
    static const char *const valued[] = {"--from", "--to", NULL};
    struct args a;
    uint64_t m, n;
    if (parse_args(&a, argc, argv, valued, NULL) < 0 || a.npos != 1 ||
        parse_u64(opt(&a, "--from"), "--from", &m) < 0 ||
        parse_u64(opt(&a, "--to"), "--to", &n) < 0) {
        fprintf(stderr, "usage: stateline audit consistency DIR --from M --to N\n");
        return SL_EXIT_USAGE;
    }
    if (m == 0 || m > n) {
        fprintf(stderr, "stateline audit consistency: need 0 < M <= N\n");
        return SL_EXIT_USAGE;
    }
    uint8_t(*leaves)[32] = NULL;
    if (load_for_proof(a.pos[0], n, &leaves) < 0)
        return SL_EXIT_FAIL;
    struct sl_audit_hasher *h = sl_audit_hasher_new();
    uint8_t proof[128][32], r1[32], r2[32];
    int k = sl_audit_consistency(h, (const uint8_t(*)[32])leaves, m, n, proof);
    sl_audit_mth(h, (const uint8_t(*)[32])leaves, 0, m, r1);
    sl_audit_mth(h, (const uint8_t(*)[32])leaves, 0, n, r2);
    printf("# consistency proof: from %" PRIu64 " to %" PRIu64 "\n", m, n);
    print_hash_line("# old-root ", r1);
    print_hash_line("# root ", r2);
    for (int i = 0; i < k; i++)
        print_hash_line("", proof[i]);
    sl_audit_hasher_free(h);
    free(leaves);
    return SL_EXIT_OK;
}

/* ---- check-proof ------------------------------------------------------------------------ */

static int read_proof(const char *path, uint8_t proof[128][32])
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "stateline audit check-proof: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[256];
    int n = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t l = strcspn(line, "\r\n");
        line[l] = 0;
        if (l == 0 || line[0] == '#')
            continue;
        if (n == 128 || l != 64 || sl_audit_unhex(line, 64, proof[n]) < 0) {
            fprintf(stderr, "stateline audit check-proof: %s line %d: %s\n", path, lineno,
                    n == 128 ? "too many hashes" : "expected 64 hex digits");
            if (f != stdin)
                fclose(f);
            return -1;
        }
        n++;
    }
    if (f != stdin)
        fclose(f);
    return n;
}

static int cmd_check_proof(int argc, char **argv)
{
    static const char *const valued[] = {"--leaf-hash", "--index", "--size", "--root",
                                         "--proof", "--from", "--to", "--old-root", NULL};
    static const char *const flags[] = {"--consistency", NULL};
    struct args a;
    if (parse_args(&a, argc, argv, valued, flags) < 0 || a.npos)
        goto usage;
    uint8_t proof[128][32], root[32];
    const char *pf = opt(&a, "--proof");
    if (!pf || parse_hash(opt(&a, "--root"), "--root", root) < 0)
        goto usage;
    int n = read_proof(pf, proof);
    if (n < 0)
        return SL_EXIT_USAGE;
    struct sl_audit_hasher *h = sl_audit_hasher_new();
    int ok;
    if (flag(&a, "--consistency")) {
        uint64_t m, sz;
        uint8_t old[32];
        if (parse_u64(opt(&a, "--from"), "--from", &m) < 0 ||
            parse_u64(opt(&a, "--to"), "--to", &sz) < 0 ||
            parse_hash(opt(&a, "--old-root"), "--old-root", old) < 0) {
            sl_audit_hasher_free(h);
            goto usage;
        }
        ok = sl_audit_verify_consistency(h, m, sz, old, root, (const uint8_t(*)[32])proof, n) == 0;
        printf("consistency %" PRIu64 " -> %" PRIu64 ": %s\n", m, sz, ok ? "OK" : "FAILED");
    } else {
        uint64_t index, sz;
        uint8_t leaf[32];
        if (parse_u64(opt(&a, "--index"), "--index", &index) < 0 ||
            parse_u64(opt(&a, "--size"), "--size", &sz) < 0 ||
            parse_hash(opt(&a, "--leaf-hash"), "--leaf-hash", leaf) < 0) {
            sl_audit_hasher_free(h);
            goto usage;
        }
        ok = sl_audit_verify_inclusion(h, index, sz, leaf, (const uint8_t(*)[32])proof, n, root) == 0;
        printf("inclusion of %" PRIu64 " in %" PRIu64 ": %s\n", index, sz, ok ? "OK" : "FAILED");
    }
    sl_audit_hasher_free(h);
    return ok ? SL_EXIT_OK : SL_EXIT_FAIL;
usage:
    fprintf(stderr, "usage: stateline audit check-proof --leaf-hash H --index I --size N "
                    "--root R --proof FILE\n"
                    "       stateline audit check-proof --consistency --from M --to N "
                    "--old-root R1 --root R2 --proof FILE\n");
    return SL_EXIT_USAGE;
}

/* ---- show ------------------------------------------------------------------------------------ */

struct show {
    uint64_t from, count, shown;
    int json;
    int bad;
};

static void show_text(const struct sl_audit_entry *e)
{
    json_t *o = sl_audit_entry_json(e);
    char ts[32];
    time_t t = (time_t)(e->time_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    printf("%" PRIu64 " %s.%06dZ %s", e->seq, ts, (int)(e->time_us % 1000000),
           sl_audit_type_name(e->type));
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (!strcmp(k, "index") || !strcmp(k, "type") || !strcmp(k, "time_us"))
            continue;
        if (json_is_string(v)) {
            printf(" %s=%s", k, json_string_value(v));
        } else if (json_is_integer(v)) {
            printf(" %s=%" JSON_INTEGER_FORMAT, k, json_integer_value(v));
        } else if (json_is_array(v)) {
            printf(" %s=", k);
            size_t i;
            json_t *it;
            json_array_foreach(v, i, it) printf("%s%s", i ? "," : "", json_string_value(it));
        }
    }
    printf("\n");
    json_decref(o);
}

static int show_entry(uint64_t index, const uint8_t *buf, size_t len, void *arg)
{
    struct show *s = arg;
    if (index < s->from)
        return 0;
    if (s->count && s->shown >= s->count)
        return 1;
    s->shown++;
    struct sl_audit_entry e;
    char err[200];
    if (sl_audit_decode(buf, len, &e, err, sizeof err) < 0) {
        fprintf(stderr, "entry %" PRIu64 ": %s\n", index, err);
        s->bad = 1;
        return 0;
    }
    if (s->json) {
        json_t *o = sl_audit_entry_json(&e);
        json_object_set_new(o, "index", json_integer((json_int_t)index));
        char *txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        puts(txt);
        free(txt);
        json_decref(o);
    } else {
        show_text(&e);
    }
    return 0;
}

static void show_bad(uint64_t index, const char *what, void *arg)
{
    struct show *s = arg;
    fprintf(stderr, "entry %" PRIu64 ": %s\n", index, what);
    s->bad = 1;
}

static int cmd_show(int argc, char **argv)
{
    static const char *const valued[] = {"--from", "--count", NULL};
    static const char *const flags[] = {"--json", NULL};
    struct args a;
    struct show s = {0, 0, 0, 0, 0};
    if (parse_args(&a, argc, argv, valued, flags) < 0 || a.npos != 1 ||
        (opt(&a, "--from") && parse_u64(opt(&a, "--from"), "--from", &s.from) < 0) ||
        (opt(&a, "--count") && parse_u64(opt(&a, "--count"), "--count", &s.count) < 0)) {
        fprintf(stderr, "usage: stateline audit show DIR [--from I] [--count N] [--json]\n");
        return SL_EXIT_USAGE;
    }
    s.json = flag(&a, "--json");
    struct sl_audit_reader_cb cb = {show_entry, show_bad, &s};
    char err[300];
    if (sl_audit_read_dir(a.pos[0], &cb, err, sizeof err) < 0) {
        fprintf(stderr, "stateline audit show: %s\n", err);
        return SL_EXIT_FAIL;
    }
    return s.bad ? SL_EXIT_FAIL : SL_EXIT_OK;
}

/* ---- shred / personal ------------------------------------------------------------------- */

static int cmd_shred(int argc, char **argv)
{
    static const char *const valued[] = {"--period", NULL};
    struct args a;
    if (parse_args(&a, argc, argv, valued, NULL) < 0 || a.npos != 1 || !opt(&a, "--period")) {
        fprintf(stderr, "usage: stateline audit shred DIR --period YYYY-MM\n");
        return SL_EXIT_USAGE;
    }
    char err[300];
    int r = sl_audit_shred(a.pos[0], opt(&a, "--period"), err, sizeof err);
    if (r < 0) {
        fprintf(stderr, "stateline audit shred: %s\n", err);
        return SL_EXIT_FAIL;
    }
    if (r == 1)
        printf("%s\n", err);
    else
        printf("period %s shredded: its personal data can no longer be read; the log still "
               "verifies\n", opt(&a, "--period"));
    return SL_EXIT_OK;
}

/* Record a read of personal data for the log's gateway to write as an admin entry (P-18:
 * every access to the log's personal data is itself in the log), before anything is
 * decrypted.  DIR must be the log of the gateway in `config`.  0, or an exit status. */
static int record_personal_read(const char *dir, const char *config, const char *reader,
                                const char *reason, uint64_t index)
{
    struct sl_gw_config *cfg = sl_xcalloc(1, sizeof *cfg);
    char err[SL_GW_PATH_MAX + 400];
    int rc = SL_EXIT_FAIL;
    char a[PATH_MAX], b[PATH_MAX];
    if (sl_gw_config_load(config, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "stateline audit personal: %s\n", err);
    } else if (!realpath(dir, a) || !realpath(cfg->audit_dir, b) || strcmp(a, b) != 0) {
        fprintf(stderr, "stateline audit personal: %s is not the audit log of the gateway in "
                "%s (%s): the read would be recorded in the wrong log\n", dir, config,
                cfg->audit_dir);
    } else {
        char text[400];
        snprintf(text, sizeof text, "personal data of entry %" PRIu64 " read: %.300s", index,
                 reason);
        if (sl_gw_admin_event(cfg, reader, "personal-read", text, 0, err, sizeof err) != 0)
            fprintf(stderr, "stateline audit personal: the read cannot be recorded (%s): "
                    "nothing decrypted\n", err);
        else
            rc = 0;
    }
    free(cfg);
    return rc;
}

static int cmd_personal(int argc, char **argv)
{
    static const char *const valued[] = {"--index", "--config", "--reader", "--reason", NULL};
    static const char *const flags[] = {"--unrecorded", NULL};
    struct args a;
    uint64_t index;
    if (parse_args(&a, argc, argv, valued, flags) < 0 || a.npos != 1 ||
        parse_u64(opt(&a, "--index"), "--index", &index) < 0) {
        fprintf(stderr, "usage: stateline audit personal DIR --index I --config GATEWAY.conf "
                        "--reason TEXT [--reader NAME]\n"
                        "       stateline audit personal DIR --index I --unrecorded\n");
        return SL_EXIT_USAGE;
    }
    const char *config = opt(&a, "--config"), *reason = opt(&a, "--reason");
    if (config && flag(&a, "--unrecorded")) {
        fprintf(stderr, "stateline audit personal: --config records the read, --unrecorded "
                        "says it is not recorded: give one\n");
        return SL_EXIT_USAGE;
    }
    if (config) {
        if (!reason || !reason[0]) {
            fprintf(stderr, "stateline audit personal: a written reason is required "
                            "(--reason): it goes into the log with the read\n");
            return SL_EXIT_USAGE;
        }
        const char *reader = opt(&a, "--reader");
        if (!reader || !reader[0])
            reader = getenv("USER");
        char who[64];
        snprintf(who, sizeof who, "%s", reader && reader[0] ? reader : "unknown");
        int rc = record_personal_read(a.pos[0], config, who, reason, index);
        if (rc != 0)
            return rc;
    } else if (flag(&a, "--unrecorded")) {
        fprintf(stderr, "stateline audit personal: this read is recorded nowhere "
                        "(--unrecorded: a copy of the log away from its gateway)\n");
    } else {
        fprintf(stderr, "stateline audit personal: give --config GATEWAY.conf and --reason, "
                        "so that the read is written to the log (P-18); --unrecorded only for "
                        "a copy of the log away from its gateway\n");
        return SL_EXIT_USAGE;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    char err[300];
    int r = sl_audit_personal_read(a.pos[0], index, &data, &len, err, sizeof err);
    if (r < 0) {
        fprintf(stderr, "stateline audit personal: %s\n", err);
        return SL_EXIT_FAIL;
    }
    if (r == 1) {
        printf("entry %" PRIu64 " has no personal data\n", index);
        return SL_EXIT_OK;
    }
    if (r == 2) {
        printf("entry %" PRIu64 ": personal data destroyed (its period was shredded)\n", index);
        return SL_EXIT_FAIL;
    }
    fwrite(data, 1, len, stdout);
    printf("\n");
    free(data);
    return SL_EXIT_OK;
}

/* ---- bench ------------------------------------------------------------------------------- */

/* Synthetic traffic: query, decision, reply triples as a gateway writes them; the reply
 * entry (type release) carries the outcome, denied or redacted, so each query has exactly
 * one outcome-bearing entry (the convention of docs/audit-format.md §9). */
static void synth(struct sl_audit_entry *e, uint64_t i, char *ref, size_t refsz,
                  const uint8_t policy[32])
{
    static const char *const oris[] = {"WASP00000", "ORPD01200", "DCICE0100", "CAHSI0000",
                                       "NYCBP0300", "TXDPS0000"};
    static const char *const parents[] = {"WA/WSP", "OR/PORTLAND", "DHS/ICE/ERO", "DHS/ICE/HSI",
                                          "DHS/CBP", "TX/DPS"};
    static const char *const types[] = {"SA", "PD", "FE", "FE", "FE", "SA"};
    static const char *const states[] = {"WA", "OR", "DC", "CA", "NY", "TX"};
    static const char *const keys[] = {"DQ", "RQ", "KQ", "DNQ"};
    int q = (int)((i / 3) % 6);
    snprintf(ref, refsz, "WA-%012" PRIu64, i / 3);
    int kind = (int)(i % 3);
    sl_audit_entry_init(e, kind == 0 ? SL_AUDIT_QUERY : kind == 1 ? SL_AUDIT_DECISION
                                                                 : SL_AUDIT_RELEASE,
                        sl_wall_us());
    sl_audit_set_str(e, SL_AF_REF, ref);
    sl_audit_set_str(e, SL_AF_ORI, oris[q]);
    sl_audit_set_str(e, SL_AF_PARENT, parents[q]);
    sl_audit_set_str(e, SL_AF_AGENCY_TYPE, types[q]);
    sl_audit_set_str(e, SL_AF_REQ_STATE, states[q]);
    sl_audit_set_str(e, SL_AF_KEY, keys[(i / 3) % 4]);
    sl_audit_set_str(e, SL_AF_REASON, "C");
    sl_audit_set_str(e, SL_AF_CASE, "2026-004411");
    if (kind == 1) {
        int deny = q == 2;
        sl_audit_set_int(e, SL_AF_EFFECT, deny ? SL_AUDIT_EFF_FORBID : SL_AUDIT_EFF_PERMIT);
        sl_audit_add_item(e, SL_AF_RULES, deny ? "no-civil-immigration" : "photos-stay-home");
        sl_audit_set_hash(e, SL_AF_POLICY_HASH, policy);
    } else if (kind == 2) {
        sl_audit_set_int(e, SL_AF_OUTCOME, q == 2 ? SL_AUDIT_OUT_DENIED : SL_AUDIT_OUT_REDACTED);
        if (q != 2) {
            sl_audit_set_int(e, SL_AF_RELEASED, SL_AUDIT_CLASS_IDENTITY | SL_AUDIT_CLASS_LICENSE | SL_AUDIT_CLASS_DOB);
            sl_audit_set_int(e, SL_AF_WITHHELD, SL_AUDIT_CLASS_PHOTO | SL_AUDIT_CLASS_SSN);
        }
    }
}

/* --rate Q: open loop, the gateway's pattern at a fixed rate.  Query i (three entries:
 * query, decision, release; with --personal the query and the release carry personal data,
 * as the gateway's do) is due at t0 + i/Q; it is appended corked, as the gateway appends
 * the entries of one read, and its latency runs from the due time to the moment the
 * eventfd says its last entry is durable.  What a reply waits for in the gateway, without
 * the network.  Prints the percentiles (µs) of that latency. */
static int bench_rate(struct sl_audit_log *log, double rate, uint64_t queries, int personal,
                      const uint8_t policy[32], int json)
{
    struct sl_hist *hist = sl_xmalloc(sizeof *hist);
    sl_hist_init(hist);
    uint64_t base = sl_audit_size(log), sent = 0, done = 0;
    uint64_t *last = sl_xmalloc((size_t)queries * sizeof *last); /* index of each query's last entry */
    struct pollfd pfd = {sl_audit_durable_fd(log), POLLIN, 0};
    char ref[32], pii[64];
    struct sl_audit_entry e;
    int64_t t0 = sl_now_ns() + 1000000;
    while (done < queries) {
        int64_t now = sl_now_ns();
        if (sent < queries) {
            int64_t due = t0 + (int64_t)((double)sent * 1e9 / rate);
            if (due <= now) {
                sl_audit_cork(log);
                for (int k = 0; k < 3; k++) {
                    uint64_t i = base + sent * 3 + (uint64_t)k;
                    synth(&e, i, ref, sizeof ref, policy);
                    int pl = personal && k != 1
                                 ? snprintf(pii, sizeof pii, "NAM/DOE, JANE %" PRIu64 ".DOB/19800101", i)
                                 : 0;
                    int64_t idx = sl_audit_append(log, &e, pl ? pii : NULL, (size_t)pl);
                    if (idx < 0) {
                        fprintf(stderr, "stateline audit bench: append failed\n");
                        free(last);
                        free(hist);
                        return -1;
                    }
                    last[sent] = (uint64_t)idx;
                }
                sl_audit_uncork(log);
                sent++;
                continue;
            }
        }
        int timeout = 1000;
        if (sent < queries) {
            int64_t due = t0 + (int64_t)((double)sent * 1e9 / rate);
            timeout = (int)((due - now) / 1000000);
        }
        if (timeout > 0 && poll(&pfd, 1, timeout) < 0 && errno != EINTR)
            break;
        uint64_t d = sl_audit_durable_upto(log);
        now = sl_now_ns();
        while (done < sent && last[done] < d) {
            int64_t due = t0 + (int64_t)((double)done * 1e9 / rate);
            sl_hist_record(hist, (uint64_t)((now - due) / 1000));
            done++;
        }
    }
    struct sl_audit_stats st;
    sl_audit_get_stats(log, &st);
    if (json)
        printf("{\n  \"scenario\": \"audit-rate\",\n  \"rate\": %.0f,\n  \"queries\": %" PRIu64
               ",\n  \"personal\": %s,\n  \"batches\": %" PRIu64 ",\n  \"checkpoints\": %" PRIu64
               ",\n  \"latency_us\": {\"p50\": %" PRIu64 ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64
               ", \"p99.9\": %" PRIu64 ", \"max\": %" PRIu64 ", \"mean\": %.1f}\n}\n",
               rate, queries, personal ? "true" : "false", st.batches, st.checkpoints,
               sl_hist_percentile(hist, 50), sl_hist_percentile(hist, 90),
               sl_hist_percentile(hist, 99), sl_hist_percentile(hist, 99.9), hist->max,
               sl_hist_mean(hist));
    else
        printf("%" PRIu64 " queries (3 entries each%s) at %.0f/s: %" PRIu64 " batches, %" PRIu64
               " checkpoints; due -> durable µs: p50 %" PRIu64 " p90 %" PRIu64 " p99 %" PRIu64
               " p99.9 %" PRIu64 " max %" PRIu64 "\n",
               queries, personal ? ", personal data on two" : "", rate, st.batches,
               st.checkpoints, sl_hist_percentile(hist, 50), sl_hist_percentile(hist, 90),
               sl_hist_percentile(hist, 99), sl_hist_percentile(hist, 99.9), hist->max);
    free(last);
    free(hist);
    return 0;
}

static int cmd_bench(int argc, char **argv)
{
    static const char *const valued[] = {"--entries", "--key", "--checkpoint-every",
                                         "--segment-bytes", "--rate", "--checkpoint-ms", NULL};
    static const char *const flags[] = {"--personal", "--no-verify", "--json", NULL};
    struct args a;
    uint64_t count = 0, every = 0, segbytes = 0, rate = 0, cpms = 0;
    if (parse_args(&a, argc, argv, valued, flags) < 0 || a.npos != 1 ||
        (opt(&a, "--rate") && parse_u64(opt(&a, "--rate"), "--rate", &rate) < 0) ||
        (opt(&a, "--checkpoint-ms") &&
         parse_u64(opt(&a, "--checkpoint-ms"), "--checkpoint-ms", &cpms) < 0) ||
        parse_u64(opt(&a, "--entries"), "--entries", &count) < 0 ||
        (opt(&a, "--checkpoint-every") &&
         parse_u64(opt(&a, "--checkpoint-every"), "--checkpoint-every", &every) < 0) ||
        (opt(&a, "--segment-bytes") &&
         parse_u64(opt(&a, "--segment-bytes"), "--segment-bytes", &segbytes) < 0)) {
        fprintf(stderr, "usage: stateline audit bench DIR --entries N [--key SIGNER] "
                        "[--checkpoint-every N] [--checkpoint-ms MS] [--rate Q] [--personal] "
                        "[--no-verify] [--json]\n");
        return SL_EXIT_USAGE;
    }
    const char *dir = a.pos[0];
    /* --json: one object at the end instead of the progress lines and sentences. */
    int json = flag(&a, "--json");
    char keypath[4096], err[400];
    if (opt(&a, "--key")) {
        snprintf(keypath, sizeof keypath, "%s", opt(&a, "--key"));
    } else {
        /* A key beside the log, made on first use (benchmarks only). */
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
            fprintf(stderr, "stateline audit bench: %s: %s\n", dir, strerror(errno));
            return SL_EXIT_FAIL;
        }
        snprintf(keypath, sizeof keypath, "%s/bench.key", dir);
        if (access(keypath, F_OK) != 0) {
            char sk[256], vk[256], pub[4096];
            if (sl_audit_keygen("bench.stateline.test/audit", sk, sizeof sk, vk, sizeof vk, err,
                                sizeof err) < 0 ||
                write_new_file(keypath, sk, 0600) < 0)
                return SL_EXIT_FAIL;
            snprintf(pub, sizeof pub, "%s/bench.pub", dir);
            if (write_new_file(pub, vk, 0644) < 0)
                return SL_EXIT_FAIL;
        }
    }
    struct sl_audit_opts o = {.dir = dir, .signer_key = keypath, .checkpoint_every = every,
                              .segment_bytes = segbytes, .nonblocking = !rate,
                              .checkpoint_ms = (int64_t)cpms};
    struct sl_audit_log *log;
    if (sl_audit_open(&log, &o, err, sizeof err) < 0) {
        fprintf(stderr, "stateline audit bench: %s\n", err);
        return SL_EXIT_FAIL;
    }
    int personal = flag(&a, "--personal");
    uint8_t policy[32];
    struct sl_audit_hasher *h = sl_audit_hasher_new();
    sl_audit_sha256(h, "bench policy", 12, policy);
    sl_audit_hasher_free(h);
    if (rate) {
        int r = bench_rate(log, (double)rate, count, personal, policy, json);
        if (sl_audit_close(log) < 0 || r < 0) {
            fprintf(stderr, "stateline audit bench: the log failed\n");
            return SL_EXIT_FAIL;
        }
        return SL_EXIT_OK;
    }
    uint64_t start = sl_audit_size(log), target = start + count, durable = start;
    if (!json) {
        printf("start %" PRIu64 "\n", start);
        fflush(stdout);
    }
    struct pollfd pfd = {sl_audit_durable_fd(log), POLLIN, 0};
    int64_t t0 = sl_now_ns();
    uint64_t i = start;
    char ref[32], pii[64];
    struct sl_audit_entry e;
    /* The loop a gateway runs: append while the queue takes entries, and learn through the
     * eventfd what became durable.  When the queue is full, wait for the eventfd. */
    while (durable < target) {
        while (i < target) {
            synth(&e, i, ref, sizeof ref, policy);
            int pl = personal ? snprintf(pii, sizeof pii, "NAM/DOE, JANE %" PRIu64 ".DOB/19800101", i) : 0;
            if (sl_audit_append(log, &e, personal ? pii : NULL, (size_t)pl) < 0) {
                if (errno == EAGAIN)
                    break;
                fprintf(stderr, "stateline audit bench: append failed\n");
                sl_audit_close(log);
                return SL_EXIT_FAIL;
            }
            i++;
        }
        int timeout = i < target ? 1 : 1000;
        if (poll(&pfd, 1, timeout) < 0 && errno != EINTR)
            break;
        uint64_t d = sl_audit_durable_upto(log);
        if (d > durable) {
            durable = d;
            if (!json) {
                printf("durable %" PRIu64 "\n", durable);
                fflush(stdout);
            }
        }
    }
    int64_t t1 = sl_now_ns();
    struct sl_audit_stats st;
    sl_audit_get_stats(log, &st);
    if (sl_audit_close(log) < 0) {
        fprintf(stderr, "stateline audit bench: the log failed\n");
        return SL_EXIT_FAIL;
    }
    double secs = (double)(t1 - t0) / 1e9;
    if (json) {
        printf("{\n  \"scenario\": \"audit\",\n  \"entries\": %" PRIu64 ",\n  \"bytes_avg\": %.1f,\n"
               "  \"seconds\": %.3f,\n  \"durable_entries_per_s\": %.0f,\n  \"batches\": %" PRIu64
               ",\n  \"entries_per_batch\": %.1f,\n  \"checkpoints\": %" PRIu64 ",\n"
               "  \"personal\": %s",
               count, st.entries ? (double)st.bytes / (double)st.entries : 0.0, secs,
               secs > 0 ? (double)count / secs : 0.0, st.batches,
               st.batches ? (double)st.entries / (double)st.batches : 0.0, st.checkpoints,
               personal ? "true" : "false");
    } else {
    printf("appended %" PRIu64 " entries (%.0f bytes avg) in %.3f s: %.0f durable entries/s; "
           "%" PRIu64 " batches (%.1f entries and one fdatasync each), %" PRIu64
           " checkpoints%s\n",
           count, st.entries ? (double)st.bytes / (double)st.entries : 0.0, secs,
           secs > 0 ? (double)count / secs : 0.0, st.batches,
           st.batches ? (double)st.entries / (double)st.batches : 0.0, st.checkpoints,
           personal ? " (with encrypted personal data)" : "");
    }
    if (flag(&a, "--no-verify")) {
        if (json)
            printf(",\n  \"verify\": null\n}\n");
        return SL_EXIT_OK;
    }
    struct sl_audit_verify_result res;
    struct vprint p = {0, json ? json_array() : NULL}; /* --json: problems not printed */
    int64_t n = sl_audit_verify_dir(dir, NULL, print_problem, &p, &res, err, sizeof err);
    json_decref(p.json);
    if (n < 0) {
        fprintf(stderr, "stateline audit bench: %s\n", err);
        return SL_EXIT_FAIL;
    }
    if (json)
        printf(",\n  \"verify\": {\"entries\": %" PRIu64 ", \"seconds\": %.3f, "
               "\"entries_per_s\": %.0f, \"ok\": %s}\n}\n",
               res.entries, res.seconds,
               res.seconds > 0 ? (double)res.entries / res.seconds : 0.0, n ? "false" : "true");
    else
        printf("verified %" PRIu64 " entries in %.3f s: %.0f entries/s%s\n", res.entries,
               res.seconds, res.seconds > 0 ? (double)res.entries / res.seconds : 0.0,
               n ? " -- FAILED" : "");
    return n ? SL_EXIT_FAIL : SL_EXIT_OK;
}

/* ---- tiles --------------------------------------------------------------------------------- */

static int cmd_tiles(int argc, char **argv)
{
    static const char *const valued[] = {"--out", NULL};
    struct args a;
    if (parse_args(&a, argc, argv, valued, NULL) < 0 || a.npos != 1 || !opt(&a, "--out")) {
        fprintf(stderr, "usage: stateline audit tiles DIR --out WWW\n");
        return SL_EXIT_USAGE;
    }
    uint64_t size = 0;
    char err[400];
    if (sl_audit_tiles(a.pos[0], opt(&a, "--out"), &size, err, sizeof err) < 0) {
        fprintf(stderr, "stateline audit tiles: %s\n", err);
        return SL_EXIT_FAIL;
    }
    printf("%s: tiles and entry bundles for the checkpoint of size %" PRIu64 "\n",
           opt(&a, "--out"), size);
    return SL_EXIT_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    int (*run)(int, char **);
} subs[] = {
    {"keygen", cmd_keygen},           {"verify", cmd_verify},   {"prove", cmd_prove},
    {"consistency", cmd_consistency}, {"check-proof", cmd_check_proof},
    {"show", cmd_show},               {"bench", cmd_bench},     {"shred", cmd_shred},
    {"personal", cmd_personal},       {"tiles", cmd_tiles},
};

static const char usage[] =
    "usage: stateline audit <command> ...\n"
    "\n"
    "  keygen --name ORIGIN --out PREFIX   make the checkpoint signing key PREFIX.key and the\n"
    "                                      verifier key PREFIX.pub (C2SP note key format)\n"
    "  verify DIR [--key PUB] [--json]     recompute the tree from the files, check every\n"
    "                                      entry and checkpoint; exit 1 naming each problem\n"
    "  prove DIR --index I --size N        inclusion proof of entry I in the tree of size N\n"
    "  prove DIR --index I --tlog-proof    the same against the latest checkpoint, as a\n"
    "                                      c2sp.org/tlog-proof@v1 receipt\n"
    "  consistency DIR --from M --to N     consistency proof between sizes M and N\n"
    "  check-proof --leaf-hash H --index I --size N --root R --proof FILE\n"
    "  check-proof --consistency --from M --to N --old-root R1 --root R2 --proof FILE\n"
    "                                      check a proof without the log\n"
    "  show DIR [--from I] [--count N] [--json]   decode entries (JSON: one object a line)\n"
    "  bench DIR --entries N [--key SIGNER] [--checkpoint-every N] [--checkpoint-ms MS]\n"
    "        [--personal] [--no-verify] [--json]\n"
    "                                      append N synthetic entries through the durability\n"
    "                                      thread, then verify; prints `durable N` lines\n"
    "  bench DIR --rate Q --entries N [--personal] [--checkpoint-ms MS] [--json]\n"
    "                                      N queries of 3 entries at Q/s, open loop: latency\n"
    "                                      percentiles from due time to durable\n"
    "  shred DIR --period YYYY-MM          destroy a past month's personal-data key\n"
    "  personal DIR --index I --config GATEWAY.conf --reason TEXT [--reader NAME]\n"
    "                                      decrypt the personal data of one entry; the read\n"
    "                                      is recorded first, for the gateway to write to\n"
    "                                      its log (--unrecorded: a copy away from it)\n"
    "  tiles DIR --out WWW                 the log as static C2SP tlog-tiles files\n"
    "\n"
    "Formats and the auditor's procedure: docs/audit-format.md.\n";

static int run(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return SL_EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "stateline audit: no command '%s'\n", argv[1]);
    fputs(usage, stderr);
    return SL_EXIT_USAGE;
}

const struct sl_cli_cmd sl_cmd_audit = {
    "audit", "verify the audit log, prove entries, make keys, benchmark", run, usage};
