/*
 * csv.c - the directory's CSV form (import and export).
 *
 * Format (RFC 4180), UTF-8, one header line then one ORI per record:
 *
 *     ori,member,name,type,categories,status,parent,tags,rand
 *     WASP00000,WA,Washington State Patrol,SA,ACDZ,A,,,1
 *     WAICE0100,DH,"ICE ERO Seattle Field Office",FE,ACDZ,A,DHS/ICE/ERO,immigration-enforcement,0
 *
 * - Fields are separated by ','; a field may be enclosed in '"', and must be when it holds
 *   ',' '"' or a line break; a '"' inside a quoted field is written '""'.
 * - Records end with LF or CRLF; a line break inside quotes belongs to the field (and is
 *   then refused by the field rules: no ORI field may hold one).
 * - The header line is required and must name the nine columns in this order (case is
 *   ignored; a UTF-8 byte-order mark before it is skipped).  Blank lines are skipped.
 * - categories in any order (stored as ACDZ); status A or I; rand 0 or 1; tags separated
 *   by single spaces.
 *
 * Export writes exactly this form, quoting only fields that need it, in ORI order, so an
 * export imported into an empty directory and exported again gives the same bytes.
 */
#include "dir_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stateline/core.h"

#define MAX_RECORD 65536

static const char *const colnames[SL_DIR_CSV_NFIELDS] = {
    "ori", "member", "name", "type", "categories", "status", "parent", "tags", "rand"};

int sl_dir_csv_split(const char *rec, size_t len, char *buf, size_t bufsz,
                     const char **fields, int maxfields, char *err, size_t errlen)
{
    if (maxfields < 1 || bufsz < len + (size_t)maxfields)
        return sl_dir__fail(err, errlen, "internal: CSV buffer too small");
    size_t i = 0, o = 0;
    int nf = 0;
    for (;;) {
        if (nf == maxfields)
            return sl_dir__fail(err, errlen, "more than %d fields", maxfields);
        fields[nf++] = buf + o;
        if (i < len && rec[i] == '"') {
            i++;
            for (;;) {
                if (i >= len)
                    return sl_dir__fail(err, errlen,
                                        "field %d: quoted field has no closing quote", nf);
                char c = rec[i++];
                if (c == '"') {
                    if (i < len && rec[i] == '"') {
                        buf[o++] = '"';
                        i++;
                        continue;
                    }
                    break;
                }
                if (c == '\0')
                    return sl_dir__fail(err, errlen, "field %d: NUL byte", nf);
                buf[o++] = c;
            }
            if (i < len && rec[i] != ',')
                return sl_dir__fail(err, errlen,
                                    "field %d: characters after the closing quote (a quote "
                                    "inside a quoted field is written \"\")",
                                    nf);
        } else {
            while (i < len && rec[i] != ',') {
                char c = rec[i++];
                if (c == '"')
                    return sl_dir__fail(err, errlen,
                                        "field %d: quote inside an unquoted field (enclose "
                                        "the field in quotes and double the quote)",
                                        nf);
                if (c == '\n' || c == '\r')
                    return sl_dir__fail(err, errlen,
                                        "field %d: line break outside quotes", nf);
                if (c == '\0')
                    return sl_dir__fail(err, errlen, "field %d: NUL byte", nf);
                buf[o++] = c;
            }
        }
        buf[o++] = '\0';
        if (i >= len)
            return nf;
        i++; /* the ',' */
    }
}

/* Copy a field into a fixed array, refusing (not truncating) what does not fit. */
static int take(char *dst, size_t dstsize, const char *src, int col, char *err, size_t errlen)
{
    size_t n = strlen(src);
    if (n >= dstsize)
        return sl_dir__fail(err, errlen, "%s: longer than %zu characters", colnames[col],
                            dstsize - 1);
    memcpy(dst, src, n + 1);
    return 0;
}

int sl_dir_csv_fields(const char *const *f, int nfields, struct sl_ori *o, char *err,
                      size_t errlen)
{
    if (nfields != SL_DIR_CSV_NFIELDS)
        return sl_dir__fail(err, errlen, "%d fields, expected %d (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                            nfields, SL_DIR_CSV_NFIELDS, colnames[0], colnames[1],
                            colnames[2], colnames[3], colnames[4], colnames[5], colnames[6],
                            colnames[7], colnames[8]);
    memset(o, 0, sizeof *o);
    if (take(o->ori, sizeof o->ori, f[0], 0, err, errlen) < 0 ||
        take(o->member, sizeof o->member, f[1], 1, err, errlen) < 0 ||
        take(o->name, sizeof o->name, f[2], 2, err, errlen) < 0 ||
        take(o->type, sizeof o->type, f[3], 3, err, errlen) < 0 ||
        take(o->cats, sizeof o->cats, f[4], 4, err, errlen) < 0 ||
        take(o->parent, sizeof o->parent, f[6], 6, err, errlen) < 0 ||
        take(o->tags, sizeof o->tags, f[7], 7, err, errlen) < 0)
        return -1;
    if (strlen(f[5]) != 1 || (f[5][0] != 'A' && f[5][0] != 'I'))
        return sl_dir__fail(err, errlen, "status: must be A (active) or I (inactive)");
    o->status = f[5][0];
    if (strcmp(f[8], "0") == 0)
        o->rand = 0;
    else if (strcmp(f[8], "1") == 0)
        o->rand = 1;
    else
        return sl_dir__fail(err, errlen, "rand: must be 0 or 1");
    if (!sl_dir_valid_cats(o->cats))
        return sl_dir__fail(err, errlen, "categories: must be letters of ACDZ, each at most once");
    sl_dir_canon_cats(o->cats);
    return sl_dir_check(o, 0, err, errlen);
}

/* ---- writing ----------------------------------------------------------------------- */

static void put_field(FILE *out, const char *s)
{
    size_t n = strlen(s);
    if (strpbrk(s, ",\"\r\n") == NULL && !(n && (s[0] == ' ' || s[n - 1] == ' '))) {
        fputs(s, out);
        return;
    }
    putc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            putc('"', out);
        putc(*s, out);
    }
    putc('"', out);
}

void sl_dir_csv_write_header(FILE *out)
{
    for (int i = 0; i < SL_DIR_CSV_NFIELDS; i++)
        fprintf(out, "%s%s", i ? "," : "", colnames[i]);
    putc('\n', out);
}

void sl_dir_csv_write_row(FILE *out, const struct sl_ori *o)
{
    put_field(out, o->ori);
    putc(',', out);
    put_field(out, o->member);
    putc(',', out);
    put_field(out, o->name);
    putc(',', out);
    put_field(out, o->type);
    putc(',', out);
    put_field(out, o->cats);
    fprintf(out, ",%c,", o->status);
    put_field(out, o->parent);
    putc(',', out);
    put_field(out, o->tags);
    fprintf(out, ",%d\n", o->rand ? 1 : 0);
}

static int export_row(void *ctx, const struct sl_ori *o)
{
    sl_dir_csv_write_row(ctx, o);
    return 0;
}

int sl_dir_export_csv(struct sl_dir *d, const char *member_filter, FILE *out)
{
    sl_dir_csv_write_header(out);
    if (sl_dir_foreach(d, member_filter, export_row, out) != 0)
        return -1;
    if (fflush(out) != 0 || ferror(out)) {
        SL_ERROR("dir", "export: write error");
        return -1;
    }
    return 0;
}

/* ---- reading ----------------------------------------------------------------------- */

/* One record: physical lines joined while a quote is open.  *startline gets the line
 * number of its first line.  Returns 1 with a record, 0 at end of input, -1 on error. */
struct reader {
    FILE *in;
    char *line;
    size_t linecap;
    char *rec;
    size_t reclen, reccap;
    int64_t lineno;
};

static int read_record(struct reader *r, int64_t *startline, char *err, size_t errlen)
{
    r->reclen = 0;
    int quotes = 0, have = 0;
    for (;;) {
        ssize_t n = getline(&r->line, &r->linecap, r->in);
        if (n < 0) {
            if (ferror(r->in))
                return sl_dir__fail(err, errlen, "line %lld: read error",
                                    (long long)r->lineno + 1);
            break;
        }
        r->lineno++;
        if (!have)
            *startline = r->lineno;
        have = 1;
        if (r->reclen + (size_t)n > MAX_RECORD)
            return sl_dir__fail(err, errlen, "line %lld: record longer than %d bytes",
                                (long long)*startline, MAX_RECORD);
        if (r->reclen + (size_t)n + 1 > r->reccap) {
            r->reccap = (r->reclen + (size_t)n + 1) * 2;
            r->rec = sl_xrealloc(r->rec, r->reccap);
        }
        memcpy(r->rec + r->reclen, r->line, (size_t)n);
        r->reclen += (size_t)n;
        for (ssize_t i = 0; i < n; i++)
            quotes ^= r->line[i] == '"';
        if (!quotes)
            break;
    }
    if (!have)
        return 0;
    /* The record's own line end is not part of it. */
    if (r->reclen && r->rec[r->reclen - 1] == '\n')
        r->reclen--;
    if (r->reclen && r->rec[r->reclen - 1] == '\r')
        r->reclen--;
    r->rec[r->reclen] = '\0';
    return 1;
}

/* Which line each ORI of the file came from, to refuse a file that names one twice. */
struct seen {
    struct {
        char ori[SL_ORI_LEN + 1];
        int64_t line;
    } *v;
    size_t mask, n;
};

static size_t seen_hash(const char *ori)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < SL_ORI_LEN; i++)
        h = (h ^ (unsigned char)ori[i]) * 0x100000001b3ULL;
    return (size_t)(h ^ (h >> 29));
}

/* Returns the earlier line of ori, or 0 after recording it at line. */
static int64_t seen_add(struct seen *s, const char *ori, int64_t line)
{
    if (2 * (s->n + 1) > s->mask + 1) {
        struct seen old = *s;
        size_t cap = old.v ? (old.mask + 1) * 2 : 1024;
        s->v = sl_xcalloc(cap, sizeof *s->v);
        s->mask = cap - 1;
        s->n = 0;
        for (size_t i = 0; old.v && i <= old.mask; i++)
            if (old.v[i].ori[0])
                seen_add(s, old.v[i].ori, old.v[i].line);
        free(old.v);
    }
    size_t at = seen_hash(ori) & s->mask;
    while (s->v[at].ori[0]) {
        if (memcmp(s->v[at].ori, ori, SL_ORI_LEN) == 0)
            return s->v[at].line;
        at = (at + 1) & s->mask;
    }
    memcpy(s->v[at].ori, ori, SL_ORI_LEN + 1);
    s->v[at].line = line;
    s->n++;
    return 0;
}

static int check_header(const char *rec, size_t len, char *err, size_t errlen)
{
    if (len >= 3 && memcmp(rec, "\xEF\xBB\xBF", 3) == 0) {
        rec += 3;
        len -= 3;
    }
    char buf[256];
    const char *f[SL_DIR_CSV_NFIELDS + 1];
    char e[128];
    int nf = len + SL_DIR_CSV_NFIELDS + 1 <= sizeof buf
                 ? sl_dir_csv_split(rec, len, buf, sizeof buf, f, SL_DIR_CSV_NFIELDS + 1, e,
                                    sizeof e)
                 : -1;
    int ok = nf == SL_DIR_CSV_NFIELDS;
    for (int i = 0; ok && i < SL_DIR_CSV_NFIELDS; i++)
        ok = strcasecmp(f[i], colnames[i]) == 0;
    if (!ok)
        return sl_dir__fail(err, errlen,
                            "line 1: the header line must be "
                            "ori,member,name,type,categories,status,parent,tags,rand");
    return 0;
}

int sl_dir_import_csv(struct sl_dir *d, const char *as_member, FILE *in, int64_t *nrows,
                      char *err, size_t errlen)
{
    *nrows = 0;
    struct reader r = {in, NULL, 0, NULL, 0, 0, 0};
    struct seen seen = {NULL, 0, 0};
    char *buf = NULL;
    int ret = -1, began = 0;
    int64_t line = 0;
    char e[256];

    int rc = read_record(&r, &line, err, errlen);
    if (rc < 0)
        goto out;
    if (rc == 0) {
        sl_dir__fail(err, errlen, "line 1: empty file; the header line is required");
        goto out;
    }
    if (check_header(r.rec, r.reclen, err, errlen) < 0)
        goto out;
    if (sl_dir_begin(d) < 0) {
        sl_dir__fail(err, errlen, "cannot start a transaction (is the database busy?)");
        goto out;
    }
    began = 1;
    buf = sl_xmalloc(MAX_RECORD + SL_DIR_CSV_NFIELDS + 16);
    int64_t n = 0;
    while ((rc = read_record(&r, &line, err, errlen)) > 0) {
        if (r.reclen == 0)
            continue;
        const char *f[SL_DIR_CSV_NFIELDS];
        struct sl_ori o;
        int nf = sl_dir_csv_split(r.rec, r.reclen, buf, MAX_RECORD + SL_DIR_CSV_NFIELDS + 16, f,
                                  SL_DIR_CSV_NFIELDS, e, sizeof e);
        if (nf < 0 || sl_dir_csv_fields(f, nf, &o, e, sizeof e) < 0 ||
            sl_dir_put(d, as_member, &o, e, sizeof e) < 0) {
            sl_dir__fail(err, errlen, "line %lld: %s", (long long)line, e);
            goto out;
        }
        int64_t first = seen_add(&seen, o.ori, line);
        if (first) {
            sl_dir__fail(err, errlen, "line %lld: ORI %s appears already on line %lld",
                         (long long)line, o.ori, (long long)first);
            goto out;
        }
        n++;
    }
    if (rc < 0)
        goto out;
    if (sl_dir_commit(d) < 0) {
        sl_dir__fail(err, errlen, "commit failed: nothing imported");
        goto out;
    }
    began = 0;
    *nrows = n;
    ret = 0;
out:
    if (began)
        sl_dir_rollback(d);
    free(buf);
    free(seen.v);
    free(r.line);
    free(r.rec);
    return ret;
}
