/*
 * test_archive.c - the message archive (src/archive): put and search by every NLQ field,
 * the name rules, fetch, NOT ON FILE, retention, authorisation, withheld archive searches,
 * image stripping, the bounded queue, restart, hit caps, and FTS5 syntax that must stay
 * text.  Each test uses its own database in a fresh temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "archive/arch_int.h"
#include "stateline/archive.h"
#include "stateline/buf.h"
#include "stateline/dir.h"
#include "stateline/msg.h"
#include "stateline/walckpt.h"

struct fx {
    char dir[64];
    char path[96];
    struct sl_archive *a;
    int64_t now;         /* the tests' "now": 2026-11-26 12:00 UTC */
    uint64_t seq[16];    /* sequence numbers of the standard messages */
};

static int64_t T(const char *s)
{
    int64_t t;
    assert_int_equal(sl_archive_parse_time(s, strlen(s), 0, &t), 0);
    return t;
}

static struct sl_ori ori(const char *id, const char *cats, int rand)
{
    struct sl_ori o;
    memset(&o, 0, sizeof o);
    strcpy(o.ori, id);
    memcpy(o.member, id, 2);
    strcpy(o.cats, cats);
    strcpy(o.type, "PD");
    o.status = 'A';
    o.rand = rand;
    return o;
}

static void open_fx(struct fx *f, size_t queue_max, size_t bytes_max)
{
    struct sl_archive_conf c;
    sl_archive_conf_default(&c);
    c.path = f->path;
    c.expire_every_ms = 0;
    if (queue_max)
        c.queue_max = queue_max;
    if (bytes_max)
        c.queue_bytes_max = bytes_max;
    char err[256];
    int rc = sl_archive_open(&c, &f->a, err, sizeof err);
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
}

static uint64_t put_full(struct fx *f, int64_t t, const char *key, const char *src,
                         const char *src_mbr, const char *dst, const char *text)
{
    struct sl_archive_rec r = {t, key, src, src_mbr, dst, NULL, "CTL1", text, strlen(text)};
    uint64_t seq = 0;
    assert_int_equal(sl_archive_put(f->a, &r, &seq), 0);
    assert_true(seq > 0);
    return seq;
}

static uint64_t put(struct fx *f, const char *when, const char *key, const char *src,
                    const char *dst, const char *text)
{
    return put_full(f, T(when), key, src, NULL, dst, text);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/sl-archive-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/archive.db", f->dir);
    f->now = T("20261126@1200");
    open_fx(f, 0, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sl_archive_close(f->a);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* The standard traffic.  seq[i] for message i. */
static void load(struct fx *f)
{
    f->seq[1] = put(f, "20261120@0800", "DQ", "WASP00000", "CA", "OLN/WDL123456789.PUR/C");
    f->seq[2] = put(f, "20261120@0930", "DR", "CADMV0000", "WASP00000",
                    "NAM/SMITH,JOHN ALLEN.DOB/19800101.SEX/M\n"
                    "ADDR/123 MAIN ST SACRAMENTO CA\nLIC/7ABC123");
    f->seq[3] = put(f, "20261121@1000", "RQ", "ORSP00000", "WA", "LIC/ABC123.LIY/2025.LIT/PC");
    f->seq[4] = put(f, "20261121@1015", "RR", "WADOL0000", "ORSP00000",
                    "OWNER/O'BRIEN,MARY-KATE 44 ELM ST SEATTLE\nLIC/ABC123 VIN/1HGCM82633A004352");
    f->seq[5] = put(f, "20261122@0000", "AM", "TXDPS0000", "WA",
                    "MEETING OF CONTROL TERMINAL OFFICERS AT 10 AM, 9 MAIN ST AUSTIN");
    f->seq[6] = put(f, "20261123@1200", "NLQ", "WASP00000", "NL",
                    "TYP/ALL.BEG/20261101.END/20261126.NAM/SMITH");
    f->seq[7] = put(f, "20261123@1201", "NLR", "NL0000000", "WASP00000",
                    "1 HIT\n2 20261120 0930 DR CADMV0000 WASP00000 NAM/SMITH,JOHN");
    f->seq[8] = put_full(f, T("20261124@0800"), "DQ", "VAICE0000", "DH", "WA",
                         "NAM/JOHNSON,JOHN.DOB/19750505.SEX/M");
    assert_int_equal(sl_archive_flush(f->a), 0);
}

/* Run one NLQ/NFQ body as `who`; returns the reply body (static per call site: caller frees). */
static char *ask(struct fx *f, const char *key, const char *fields, const struct sl_ori *who,
                 int *rc_out, enum sl_er *er_out)
{
    char in[512];
    snprintf(in, sizeof in, "%s.WASP00000.NL.TXT\n%s", key, fields);
    struct sl_msg m;
    memset(&m, 0, sizeof m);
    struct sl_msg_err me;
    int prc = sl_msg_parse(in, strlen(in), &m, &me);
    if (prc != 0)
        print_error("parse %s: %s\n", in, me.detail);
    assert_int_equal(prc, 0);
    struct sl_buf b = SL_BUF_INIT;
    char rk[4] = "", err[160];
    enum sl_er er;
    int rc = sl_archive_answer(f->a, &m, who, f->now, &b, rk, &er, err, sizeof err);
    sl_msg_clear(&m);
    if (rc_out)
        *rc_out = rc;
    if (er_out)
        *er_out = er;
    if (rc == -1) {
        sl_buf_free(&b);
        return strdup(err);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(rk, strcmp(key, "NFQ") == 0 ? "NFR" : "NLR");
    sl_buf_append(&b, "", 1);
    char *s = strdup((char *)b.data);
    sl_buf_free(&b);
    return s;
}

/* Sequence numbers of the hits for an NLQ body as a full-rights searcher, "8,2" newest first. */
static void expect_hits(struct fx *f, const char *fields, const char *want)
{
    struct sl_ori w = ori("WASP00000", "ACDZ", 1);
    char in[512];
    snprintf(in, sizeof in, "NLQ.WASP00000.NL.TXT\n%s", fields);
    struct sl_msg m;
    memset(&m, 0, sizeof m);
    struct sl_msg_err me;
    assert_int_equal(sl_msg_parse(in, strlen(in), &m, &me), 0);
    struct sl_archive_query q;
    char err[160];
    int rc = sl_archive_query_parse(&m, &q, err, sizeof err);
    if (rc != 0)
        print_error("%s: %s\n", fields, err);
    assert_int_equal(rc, 0);
    struct sl_buf warn = SL_BUF_INIT;
    assert_int_equal(sl_archive_authorise(&w, &q, &warn), 0);
    sl_buf_free(&warn);
    struct sl_archive_hits *h = malloc(sizeof *h);
    assert_int_equal(sl_archive_search(f->a, &q, f->now, h), 0);
    char got[256] = "";
    for (int i = 0; i < h->n; i++) {
        /* name the message by its index in f->seq */
        int idx = -1;
        for (int k = 0; k < 16; k++)
            if (f->seq[k] == h->hit[i].seq)
                idx = k;
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d", i ? "," : "", idx);
    }
    if (strcmp(got, want) != 0)
        print_error("%s\n  fts  %s\n  want %s\n  got  %s\n", fields, q.fts, want, got);
    assert_string_equal(got, want);
    assert_int_equal(h->total, h->n);
    free(h);
    sl_msg_clear(&m);
}

#define RANGE "BEG/20261101.END/20261126"

static void t_by_key(void **state)
{
    struct fx *f = *state;
    load(f);
    expect_hits(f, "TYP/DQ." RANGE ".FND/WA", "");
    expect_hits(f, "TYP/DQ,DR." RANGE ".NAM/JOHN", "8,2");
    expect_hits(f, "TYP/DR." RANGE ".NAM/JOHN", "2");
    expect_hits(f, "TYP/ ALL ." RANGE ".NAM/JOHN", "8,2");
    expect_hits(f, "TYP/ALL." RANGE ".FND/ABC123", "4,3");
    expect_hits(f, "TYP/RR, RQ." RANGE ".FND/ABC123", "4,3");
    expect_hits(f, "TYP/AM." RANGE ".FND/ABC123", "");
}

static void t_by_address(void **state)
{
    struct fx *f = *state;
    load(f);
    expect_hits(f, "TYP/ALL.SRC/WA." RANGE ".FND/ABC123", "4");        /* member WA */
    expect_hits(f, "TYP/ALL.SRC/ORSP00000." RANGE ".FND/ABC123", "3"); /* an ORI */
    expect_hits(f, "TYP/ALL.DST/WA." RANGE ".FND/ABC123", "3");        /* member code */
    expect_hits(f, "TYP/ALL.DST/ORSP00000." RANGE ".FND/ABC123", "4");
    expect_hits(f, "TYP/ALL.DST/WA." RANGE ".NAM/JOHN", "8,2"); /* DR to WASP00000 is WA's */
    expect_hits(f, "TYP/ALL.SRC/DH." RANGE ".NAM/JOHN", "8");   /* federal line, VA ORI */
    expect_hits(f, "TYP/ALL.SRC/VA." RANGE ".NAM/JOHN", "");
    expect_hits(f, "TYP/ALL.SRC/VAICE0000.DST/WA." RANGE ".NAM/JOHN", "8");
}

static void t_by_time(void **state)
{
    struct fx *f = *state;
    load(f);
    expect_hits(f, "TYP/ALL.BEG/20261121.END/20261121.FND/ABC123", "4,3");
    expect_hits(f, "TYP/ALL.BEG/20261121@1001.END/20261126.FND/ABC123", "4");
    expect_hits(f, "TYP/ALL.BEG/20261121@1000.END/20261121@1014.FND/ABC123", "3");
    /* END@hhmm covers its whole minute: the RR was sent at 10:15:00 */
    expect_hits(f, "TYP/ALL.BEG/20261121@1015.END/20261121@1015.FND/ABC123", "4");
    expect_hits(f, "TYP/ALL.BEG/20261122.END/20261126.FND/ABC123", "");
    expect_hits(f, "TYP/ALL.BEG/20261120@0930.END/20261120@0930.NAM/SMITH", "2");
}

/* Searches narrow the sequence range by time; a send time that goes backwards (a clock
 * stepped back) must still be found. */
static void t_clock_back(void **state)
{
    struct fx *f = *state;
    f->seq[1] = put(f, "20261121@1000", "AM", "TXDPS0000", "WA", "ALPHA ONE");
    f->seq[2] = put(f, "20261120@0900", "AM", "TXDPS0000", "WA", "ALPHA TWO");
    f->seq[3] = put(f, "20261122@0000", "AM", "TXDPS0000", "WA", "ALPHA THREE");
    for (int i = 0; i < 50; i++)
        put(f, "20261123@0000", "AM", "TXDPS0000", "WA", "BETA");
    f->seq[4] = put(f, "20261124@0000", "AM", "TXDPS0000", "WA", "ALPHA FOUR");
    assert_int_equal(sl_archive_flush(f->a), 0);
    expect_hits(f, "TYP/AM.BEG/20261120.END/20261120.FND/ALPHA", "2");
    expect_hits(f, "TYP/AM.BEG/20261121.END/20261121.FND/ALPHA", "1");
    expect_hits(f, "TYP/AM.BEG/20261122.END/20261122.FND/ALPHA", "3");
    expect_hits(f, "TYP/AM.BEG/20261124.END/20261126.FND/ALPHA", "4");
    expect_hits(f, "TYP/AM.BEG/20261120.END/20261123.FND/ALPHA", "3,2,1");
    /* and after a restart, which reloads what the writer knows */
    sl_archive_close(f->a);
    open_fx(f, 0, 0);
    f->seq[5] = put(f, "20261119@0000", "AM", "TXDPS0000", "WA", "ALPHA FIVE");
    assert_int_equal(sl_archive_flush(f->a), 0);
    expect_hits(f, "TYP/AM.BEG/20261119.END/20261120.FND/ALPHA", "5,2");
}

/* Without a clock step the bounds come from the sequence numbers: gaps left by expiry. */
static void t_bounds_with_gaps(void **state)
{
    struct fx *f = *state;
    int64_t day = 86400;
    for (int i = 0; i < 40; i++)
        put_full(f, f->now - 380 * day + i * day, "AM", "TXDPS0000", NULL, "WA", "GAMMA");
    f->seq[1] = put_full(f, f->now - 2 * day, "AM", "TXDPS0000", NULL, "WA", "GAMMA ONE");
    f->seq[2] = put_full(f, f->now - 1 * day, "AM", "TXDPS0000", NULL, "WA", "GAMMA TWO");
    assert_int_equal(sl_archive_flush(f->a), 0);
    assert_int_equal(sl_archive_expire(f->a, f->now), 15);
    expect_hits(f, "TYP/AM.BEG/20261124.END/20261124.FND/GAMMA", "1");
    expect_hits(f, "TYP/AM.BEG/20261125.END/20261126.FND/GAMMA", "2");
    expect_hits(f, "TYP/AM.BEG/20261126.END/20261126.FND/GAMMA", "");
    expect_hits(f, "TYP/AM.BEG/20250101.END/20251205.FND/GAMMA ONE", "");
}

static void t_free_text(void **state)
{
    struct fx *f = *state;
    load(f);
    expect_hits(f, "TYP/ALL." RANGE ".FND/MAIN ST", "5,2");
    expect_hits(f, "TYP/ALL." RANGE ".FND/ST MAIN", "");          /* a phrase, in order */
    expect_hits(f, "TYP/ALL." RANGE ".FND/main st", "5,2");       /* case does not matter */
    expect_hits(f, "TYP/ALL." RANGE ".FND/MAIN-ST", "5,2");       /* punctuation separates */
    expect_hits(f, "TYP/ALL." RANGE ".FND/MAIN ST.AND/SACRAMENTO", "2");
    expect_hits(f, "TYP/ALL." RANGE ".FND/MAIN ST.AND/ELM", "");
    expect_hits(f, "TYP/ALL." RANGE ".FND/SACRAMENTO.ORR/SEATTLE", "4,2");
    expect_hits(f, "TYP/ALL." RANGE ".FND/AUSTIN.AND/MAIN.ORR/SEATTLE", "5,4");
    expect_hits(f, "TYP/ALL." RANGE ".FND/1HGCM82633A004352", "4");
}

static void t_name(void **state)
{
    struct fx *f = *state;
    load(f);
    expect_hits(f, "TYP/ALL." RANGE ".NAM/SMITH,JOHN", "2");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/JOHN SMITH", "2");       /* order */
    expect_hits(f, "TYP/ALL." RANGE ".NAM/ALLEN-SMITH,JOHN", "2"); /* hyphen separates */
    expect_hits(f, "TYP/ALL." RANGE ".NAM/SMI*,JO*", "2");         /* wildcards */
    expect_hits(f, "TYP/ALL." RANGE ".NAM/J*", "8,2");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/JOHNS*", "8");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/O'BRIEN,MARY", "4");     /* apostrophe ignored */
    expect_hits(f, "TYP/ALL." RANGE ".NAM/OBRIEN", "4");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/MARY-KATE O'BRIEN", "4");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/KATE,MARY,OBRIEN", "4");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/SMITH,MARY", "");        /* every part must appear */
}

static void t_reply_layouts(void **state)
{
    struct fx *f = *state;
    load(f);
    struct sl_ori w = ori("WASP00000", "ACDZ", 1);
    char *r = ask(f, "NLQ", "TYP/DR." RANGE ".NAM/SMITH", &w, NULL, NULL);
    assert_non_null(strstr(r, "SEARCH OF ARCHIVE (TIMES UTC): TYP/DR.BEG/20261101.END/20261126."
                              "NAM/SMITH\n1 HIT\n"
                              "SEQUENCE   DATE     TIME KEY SOURCE    DEST      TEXT\n"));
    char line[200];
    snprintf(line, sizeof line,
             "%-10llu 20261120 0930 DR  CADMV0000 WASP00000 NAM/SMITH,JOHN ALLEN.DOB/19800101."
             "SEX/M ADDR/123 MAIN ST SACRAMENTO CA LIC/7ABC1\n",
             (unsigned long long)f->seq[2]);
    assert_non_null(strstr(r, line));
    free(r);

    r = ask(f, "NLQ", "TYP/ALL." RANGE ".NAM/ZZYZX", &w, NULL, NULL);
    assert_non_null(strstr(r, "\nNOT ON FILE\n"));
    free(r);

    struct sl_buf b = SL_BUF_INIT;
    sl_archive_reply_ack("NLQ", &b);
    sl_buf_append(&b, "", 1);
    assert_string_equal((char *)b.data, "NLQ RECEIVED AND QUEUED FOR PROCESSING\n");
    sl_buf_free(&b);
    sl_archive_reply_ack("NFQ", &b);
    sl_archive_reply_busy("NLQ", &b);
    sl_buf_append(&b, "", 1);
    assert_string_equal((char *)b.data, "NFQ RECEIVED AND QUEUED FOR PROCESSING\n"
                                        "NLQ NOT QUEUED - THE ARCHIVE IS BUSY, SEND IT AGAIN "
                                        "LATER\n");
    sl_buf_free(&b);
}

static void t_fetch(void **state)
{
    struct fx *f = *state;
    load(f);
    struct sl_ori w = ori("WASP00000", "ACDZ", 1);
    char fields[32];
    snprintf(fields, sizeof fields, "SEQ/%llu", (unsigned long long)f->seq[4]);
    char *r = ask(f, "NFQ", fields, &w, NULL, NULL);
    char want[300];
    snprintf(want, sizeof want,
             "SEQ/%llu\nDATE/20261121@1015 UTC\nKEY/RR\nSRC/WADOL0000\nDST/ORSP00000\n"
             "CTL/CTL1\nTXT\nOWNER/O'BRIEN,MARY-KATE 44 ELM ST SEATTLE\n"
             "LIC/ABC123 VIN/1HGCM82633A004352\n",
             (unsigned long long)f->seq[4]);
    assert_string_equal(r, want);
    free(r);
    /* X asks for the XML form: we say there is none and give the text */
    snprintf(fields, sizeof fields, "SEQ/%lluX", (unsigned long long)f->seq[4]);
    r = ask(f, "NFQ", fields, &w, NULL, NULL);
    assert_non_null(strstr(r, "NO XML FORM"));
    assert_non_null(strstr(r, "OWNER/O'BRIEN"));
    free(r);
    r = ask(f, "NFQ", "SEQ/9999999", &w, NULL, NULL);
    assert_string_equal(r, "NOT ON FILE\n");
    free(r);
    int rc;
    enum sl_er er;
    r = ask(f, "NFQ", "SEQ/12A", &w, &rc, &er);
    assert_int_equal(rc, -1);
    assert_int_equal(er, SL_ER_FORMAT22);
    free(r);
    /* a DR needs category D */
    struct sl_ori noD = ori("WASP00000", "AZ", 1);
    snprintf(fields, sizeof fields, "SEQ/%llu", (unsigned long long)f->seq[2]);
    r = ask(f, "NFQ", fields, &noD, NULL, NULL);
    assert_string_equal(r, "NOT ON FILE\n");
    free(r);
    struct sl_ori norand = ori("WASP00000", "ACDZ", 0);
    r = ask(f, "NFQ", fields, &norand, NULL, NULL);
    assert_non_null(strstr(r, "FETCH REFUSED"));
    free(r);
}

static void t_authorisation(void **state)
{
    struct fx *f = *state;
    load(f);
    struct sl_ori norand = ori("WASP00000", "ACDZ", 0);
    char *r = ask(f, "NLQ", "TYP/ALL." RANGE ".NAM/SMITH", &norand, NULL, NULL);
    assert_string_equal(r, "SEARCH REFUSED - ORI WASP00000 IS NOT AUTHORIZED TO SEARCH THE "
                           "ARCHIVE\n");
    free(r);
    struct sl_ori inactive = ori("WASP00000", "ACDZ", 1);
    inactive.status = 'I';
    r = ask(f, "NLQ", "TYP/ALL." RANGE ".NAM/SMITH", &inactive, NULL, NULL);
    assert_non_null(strstr(r, "IS NOT ACTIVE"));
    assert_null(strstr(r, "HIT"));
    free(r);
    r = ask(f, "NLQ", "TYP/ALL." RANGE ".NAM/SMITH", NULL, NULL, NULL);
    assert_non_null(strstr(r, "SEARCH REFUSED"));
    free(r);

    /* partly authorised: no D, so DQ and DR are dropped with a warning, AM stays */
    struct sl_ori noD = ori("TXDPS0001", "AZ", 1);
    r = ask(f, "NLQ", "TYP/DQ,DR,AM." RANGE ".FND/MAIN ST", &noD, NULL, NULL);
    assert_non_null(strstr(r, "WARNING - DQ NEEDS ACCESS CATEGORY D - NOT AUTHORIZED - "
                              "DROPPED\n"));
    assert_non_null(strstr(r, "WARNING - DR NEEDS ACCESS CATEGORY D"));
    assert_non_null(strstr(r, "1 HIT\n"));
    assert_non_null(strstr(r, " AM  TXDPS0000 WA        MEETING"));
    assert_null(strstr(r, "SACRAMENTO"));
    free(r);
    /* ALL without D: only what it may see, with a warning */
    r = ask(f, "NLQ", "TYP/ALL." RANGE ".FND/MAIN ST", &noD, NULL, NULL);
    assert_non_null(strstr(r, "WARNING - TYP/ALL COVERS ONLY THE KEYS OF ACCESS CATEGORIES AZ"));
    assert_non_null(strstr(r, "1 HIT\n"));
    free(r);
    /* nothing left: refused */
    r = ask(f, "NLQ", "TYP/DQ,DR." RANGE ".FND/MAIN ST", &noD, NULL, NULL);
    assert_non_null(strstr(r, "SEARCH REFUSED - NO REQUESTED MESSAGE TYPE IS AUTHORIZED"));
    assert_null(strstr(r, "HIT"));
    free(r);
    /* unknown key */
    struct sl_ori w = ori("WASP00000", "ACDZ", 1);
    r = ask(f, "NLQ", "TYP/ZZ,DR." RANGE ".NAM/SMITH", &w, NULL, NULL);
    assert_non_null(strstr(r, "WARNING - ZZ IS NOT A MESSAGE KEY - DROPPED\n"));
    assert_non_null(strstr(r, "1 HIT\n"));
    free(r);
}

static void t_withheld(void **state)
{
    struct fx *f = *state;
    load(f);
    /* NLQ (6) and NLR (7) mention SMITH but are never found */
    expect_hits(f, "TYP/ALL." RANGE ".NAM/SMITH", "2");
    struct sl_ori w = ori("WASP00000", "ACDZ", 1);
    char *r = ask(f, "NLQ", "TYP/NLR,NLQ,DR." RANGE ".NAM/SMITH", &w, NULL, NULL);
    assert_non_null(strstr(r, "WARNING - NLR - SEARCHES OF THE ARCHIVE ARE WITHHELD - DROPPED"));
    assert_non_null(strstr(r, "WARNING - NLQ - SEARCHES OF THE ARCHIVE ARE WITHHELD"));
    assert_non_null(strstr(r, "1 HIT\n"));
    free(r);
    r = ask(f, "NLQ", "TYP/NLR." RANGE ".NAM/SMITH", &w, NULL, NULL);
    assert_non_null(strstr(r, "SEARCH REFUSED"));
    free(r);
    char fields[32];
    snprintf(fields, sizeof fields, "SEQ/%llu", (unsigned long long)f->seq[7]);
    r = ask(f, "NFQ", fields, &w, NULL, NULL);
    assert_string_equal(r, "NOT ON FILE\n");
    free(r);
}

static void t_bad_queries(void **state)
{
    struct fx *f = *state;
    load(f);
    struct sl_ori w = ori("WASP00000", "ACDZ", 1);
    struct {
        const char *fields;
        enum sl_er er;
        const char *part;
    } bad[] = {
        {"TYP/ALL." RANGE ".FND/X.NAM/SMITH", SL_ER_FORMAT22, "BOTH"},
        {"TYP/ALL." RANGE, SL_ER_MISSING, "FND OR NAM MISSING"},
        {"TYP/ALL.BEG/20261101.NAM/X", SL_ER_YEAR, "END"},
        {"TYP/ALL.BEG/20261301.END/20261126.NAM/X", SL_ER_YEAR, "BEG MUST BE"},
        {"TYP/ALL.BEG/20261101@2460.END/20261126.NAM/X", SL_ER_YEAR, "BEG"},
        {"TYP/ALL.BEG/20261127.END/20261126.NAM/X", SL_ER_YEAR, "BEG IS AFTER END"},
        {"TYP/ALL." RANGE ".NAM/*SMITH", SL_ER_FORMAT22, "WILDCARD"},
        {"TYP/ALL." RANGE ".NAM/SM*TH", SL_ER_FORMAT22, "MUST END"},
        {"TYP/ALL." RANGE ".NAM/SMITH,*", SL_ER_FORMAT22, "WILDCARD"},
        {"TYP/ALL." RANGE ".FND/--- ,,,", SL_ER_FORMAT22, "NO LETTERS"},
        {"TYP/D." RANGE ".NAM/X", SL_ER_FORMAT22, "TYP"},
        {"TYP/DQ,,RQ." RANGE ".NAM/X", SL_ER_FORMAT22, "TYP"},
        {"TYP/ALL.SRC/WAS." RANGE ".NAM/X", SL_ER_FORMAT22, "SRC"},
        {"TYP/ALL." RANGE ".NAM/X.OLN/1", SL_ER_FORMAT22, "OLN NOT VALID"},
        {"TYP/ALL." RANGE ".NAM/SMITH.AND/X", SL_ER_FORMAT22, "ONLY WITH FND"},
        {"TYP/ALL." RANGE ".NAM/X.NAM/Y", SL_ER_FORMAT22, "TWICE"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc;
        enum sl_er er;
        char *r = ask(f, "NLQ", bad[i].fields, &w, &rc, &er);
        if (rc != -1 || er != bad[i].er || !strstr(r, bad[i].part))
            print_error("%s -> rc %d er %d '%s'\n", bad[i].fields, rc, er, r);
        assert_int_equal(rc, -1);
        assert_int_equal(er, bad[i].er);
        assert_non_null(strstr(r, bad[i].part));
        free(r);
    }
}

/* FTS5 syntax in user text is only text: quotes, NEAR, column filters, '^', '+', '*',
 * parentheses, AND/OR/NOT words.  Nothing errors, and each matches as plain words would. */
static void t_no_injection(void **state)
{
    struct fx *f = *state;
    load(f);
    put(f, "20261125@0000", "AM", "TXDPS0000", "WA", "NOT OR AND NEAR BODY");
    f->seq[9] = f->seq[8] + 1;
    assert_int_equal(sl_archive_flush(f->a), 0);
    const char *texts[] = {
        "FND/NOT OR AND",  "FND/AND NEAR(BODY", "FND/OR : AND",       "FND/\"NOT\" OR *",
        "FND/{NEAR} BODY", "FND/^NOT + OR",     "FND/NOT\" OR \"AND", "FND/(AND) NEAR (BODY)",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char fields[200];
        snprintf(fields, sizeof fields, "TYP/ALL." RANGE ".%s", texts[i]);
        expect_hits(f, fields, "9");
    }
    expect_hits(f, "TYP/ALL." RANGE ".FND/X.ORR/NEAR\" \"BODY", "9");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/NOT\",OR*", "9");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/NEAR(BODY)", "9");
}

static void t_retention(void **state)
{
    struct fx *f = *state;
    int64_t day = 86400;
    f->seq[1] = put_full(f, f->now - 400 * day, "DQ", "WASP00000", NULL, "CA",
                         "NAM/OLDSMITH,JOHN.DOB/19800101.SEX/M");
    f->seq[2] = put_full(f, f->now - 366 * day, "DQ", "WASP00000", NULL, "CA",
                         "NAM/O'LDER,JOHN.DOB/19800101.SEX/M");
    f->seq[3] = put_full(f, f->now - 10 * day, "DQ", "WASP00000", NULL, "CA",
                         "NAM/NEWSMITH,JOHN.DOB/19800101.SEX/M");
    assert_int_equal(sl_archive_flush(f->a), 0);
    assert_int_equal(sl_archive_count(f->a), 3);
    /* past retention, not found even before expiry runs */
    expect_hits(f, "TYP/ALL.BEG/20240101.END/20261126.NAM/JOHN", "3");
    assert_int_equal(sl_archive_expire(f->a, f->now), 2);
    assert_int_equal(sl_archive_count(f->a), 1);
    assert_int_equal(sl_archive_expire(f->a, f->now), 0);
    expect_hits(f, "TYP/ALL.BEG/20240101.END/20261126.NAM/JOHN", "3");
    struct sl_archive_msg m;
    assert_int_equal(sl_archive_fetch(f->a, f->seq[1], NULL, f->now, &m), 1);
    assert_int_equal(sl_archive_fetch(f->a, f->seq[3], NULL, f->now, &m), 0);
    sl_buf_free(&m.body);
    /* the index holds exactly the remaining row (the deletes matched what was indexed) */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sl_archive_sql_functions(db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, "INSERT INTO msg_fts(msg_fts) VALUES('integrity-check')", NULL,
                          NULL, &msg);
    if (rc != SQLITE_OK)
        print_error("%s\n", msg);
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM msg_fts WHERE msg_fts MATCH "
                                            "'john'", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    sqlite3_close(db);
    /* a later put does not reuse an expired sequence number */
    uint64_t n = put(f, "20261126@1100", "DQ", "WASP00000", "CA", "OLN/1");
    assert_true(n > f->seq[3]);
}

/* The writer expires by itself (expire_every_ms), in steps of expire_batch rows. */
static void t_retention_automatic(void **state)
{
    struct fx *f = *state;
    sl_archive_close(f->a);
    struct sl_archive_conf c;
    sl_archive_conf_default(&c);
    c.path = f->path;
    c.expire_every_ms = 20;
    c.expire_batch = 7;
    char err[200];
    assert_int_equal(sl_archive_open(&c, &f->a, err, sizeof err), 0);
    int64_t now = time(NULL);
    for (int i = 0; i < 30; i++)
        put_full(f, now - 400 * 86400 + i, "DQ", "WASP00000", NULL, "CA", "OLN/OLD");
    uint64_t recent = put_full(f, now - 86400, "DQ", "WASP00000", NULL, "CA", "OLN/NEW");
    assert_int_equal(sl_archive_flush(f->a), 0);
    /* bounded wait: 30 rows in steps of 7 every 20 ms take about 100 ms */
    for (int i = 0; i < 1000 && sl_archive_count(f->a) > 1; i++)
        usleep(10000);
    assert_int_equal(sl_archive_count(f->a), 1);
    struct sl_archive_msg m;
    assert_int_equal(sl_archive_fetch(f->a, recent, NULL, 0, &m), 0);
    sl_buf_free(&m.body);
    struct sl_archive_stats st;
    sl_archive_stats(f->a, &st);
    assert_int_equal(st.committed, 31);
    assert_int_equal(st.expired, 30);
    assert_int_equal(st.lost, 0);
    assert_true(st.batches >= 1);
    assert_true(st.writer_cpu_ns > 0);
}

static void t_images(void **state)
{
    struct fx *f = *state;
    char b64[401];
    for (int i = 0; i < 400; i++)
        b64[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i * 7 % 64];
    b64[400] = '\0';
    char text[2048];
    snprintf(text, sizeof text,
             "NAM/SMITH,JOHN.DOB/19800101\nIMG/%.120s\n<nc:Image><nc:BinaryBase64Object>%s"
             "</nc:BinaryBase64Object></nc:Image>\nPHOTO %s END\n\x01\x02\x03\x04\x05\x06\x07"
             "\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14 TAIL\x01",
             b64, b64, b64);
    uint64_t seq = put(f, "20261120@0930", "DR", "CADMV0000", "WASP00000", text);
    assert_int_equal(sl_archive_flush(f->a), 0);
    struct sl_archive_msg m;
    assert_int_equal(sl_archive_fetch(f->a, seq, NULL, f->now, &m), 0);
    sl_buf_append(&m.body, "", 1);
    const char *b = (const char *)m.body.data;
    assert_string_equal(b, "NAM/SMITH,JOHN.DOB/19800101\nIMG/" SL_ARCHIVE_IMAGE_MARK "\n"
                           "<nc:Image><nc:BinaryBase64Object>" SL_ARCHIVE_IMAGE_MARK
                           "</nc:BinaryBase64Object></nc:Image>\nPHOTO " SL_ARCHIVE_IMAGE_MARK
                           " END\n" SL_ARCHIVE_IMAGE_MARK " TAIL");
    sl_buf_free(&m.body);
    /* the image text was never indexed either */
    char fields[200];
    snprintf(fields, sizeof fields, "TYP/ALL." RANGE ".FND/%.40s", b64);
    f->seq[1] = seq;
    expect_hits(f, fields, "");
    expect_hits(f, "TYP/ALL." RANGE ".NAM/SMITH", "1");
    /* a MIME-wrapped block (76-character lines) is an image; ordinary lines are text */
    struct sl_buf w = SL_BUF_INIT;
    sl_buf_append_str(&w, "DOB/19800101\n");
    for (int i = 0; i < 4; i++) {
        sl_buf_append(&w, b64 + i * 76, 76);
        sl_buf_append_str(&w, "\r\n");
    }
    sl_buf_append_str(&w, "Zm9v\nEND");
    struct sl_buf o2 = SL_BUF_INIT;
    assert_int_equal(sl_archive_strip_images((char *)w.data, w.len, &o2), 1);
    sl_buf_append(&o2, "", 1);
    assert_string_equal((char *)o2.data, "DOB/19800101\n" SL_ARCHIVE_IMAGE_MARK "\nEND");
    sl_buf_free(&o2);
    sl_buf_free(&w);
    const char *lines = "NAM/SMITH,JOHN\nLIC/ABC123\nVIN/1HGCM82633A004352\nOLN/WDL1234567"
                        "\nADDR/123/MAIN/ST/SACRAMENTO/CA/95814/USA/NORTH/AMERICA/EARTH/X\n";
    assert_int_equal(sl_archive_strip_images(lines, strlen(lines), &o2), 0);
    assert_int_equal(o2.len, strlen(lines));
    sl_buf_free(&o2);
    /* short base64-looking words are text */
    struct sl_buf o = SL_BUF_INIT;
    assert_int_equal(sl_archive_strip_images("VIN/1HGCM82633A004352", 21, &o), 0);
    assert_int_equal(o.len, 21);
    sl_buf_free(&o);
}

/* The writer is held up by another connection's write lock; the queue fills and put says
 * -1; once released every accepted message is written. */
static void t_queue_full(void **state)
{
    struct fx *f = *state;
    sl_archive_close(f->a);
    open_fx(f, 4, 1000);
    sqlite3 *blocker;
    assert_int_equal(sl_archive_flush(f->a), 0);
    assert_int_equal(sqlite3_open(f->path, &blocker), SQLITE_OK);
    sqlite3_busy_timeout(blocker, 5000);
    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 4; i++)
        put(f, "20261120@0800", "DQ", "WASP00000", "CA", "OLN/WDL123456789");
    struct sl_archive_rec r = {T("20261120@0800"), "DQ", "WASP00000", NULL, "CA", NULL, NULL,
                               "OLN/X", 5};
    assert_int_equal(sl_archive_put(f->a, &r, NULL), -1);
    size_t n, bytes;
    sl_archive_queued(f->a, &n, &bytes);
    assert_int_equal(n, 4);
    assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);
    assert_int_equal(sl_archive_flush(f->a), 0);
    assert_int_equal(sl_archive_count(f->a), 4);
    assert_int_equal(sl_archive_put(f->a, &r, NULL), 0);
    /* the byte bound */
    char big[700];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 699; i += 10)
        big[i] = ' ';
    assert_int_equal(sl_archive_flush(f->a), 0);
    assert_int_equal(sqlite3_open(f->path, &blocker), SQLITE_OK);
    sqlite3_busy_timeout(blocker, 5000);
    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    struct sl_archive_rec rb = {T("20261120@0800"), "AM", "WASP00000", NULL, "CA", NULL, NULL,
                                big, strlen(big)};
    assert_int_equal(sl_archive_put(f->a, &rb, NULL), 0);
    assert_int_equal(sl_archive_put(f->a, &rb, NULL), -1);
    assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);
    assert_int_equal(sl_archive_flush(f->a), 0);
    assert_int_equal(sl_archive_count(f->a), 6);
}

/* Messages the caller gave up on (sl_archive_lost after a full queue) are a recorded gap:
 * one row per run of losses, listed newest first, a warning in every NLR of that time
 * (and only of that time), expired with the rows of its time. */
static void t_gaps(void **state)
{
    struct fx *f = *state;
    sl_archive_close(f->a);
    open_fx(f, 4, 0);
    struct sl_archive_gap g[4];
    assert_int_equal(sl_archive_gaps(f->a, g, 4), 0);
    sqlite3 *blocker;
    assert_int_equal(sqlite3_open(f->path, &blocker), SQLITE_OK);
    sqlite3_busy_timeout(blocker, 5000);
    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 1; i <= 4; i++)
        f->seq[i] = put(f, "20261120@0800", "DQ", "WASP00000", "CA", "OLN/WDL123456789");
    struct sl_archive_rec r = {T("20261120@0800"), "DQ", "WASP00000", NULL, "CA", NULL, NULL,
                               "OLN/LOST1", 9};
    assert_int_equal(sl_archive_put(f->a, &r, NULL), -1);
    sl_archive_lost(f->a, &r);
    r.time += 1; /* the next second: the same run of losses */
    assert_int_equal(sl_archive_put(f->a, &r, NULL), -1);
    sl_archive_lost(f->a, &r);
    assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sl_archive_flush(f->a), 0);
    /* a message archived after the run, then a loss an hour later: a second gap */
    f->seq[5] = put(f, "20261120@0900", "DQ", "WASP00000", "CA", "OLN/WDL123456789");
    struct sl_archive_rec late = {T("20261120@0900"), "DR", "CADMV0000", NULL, "WASP00000",
                                  NULL, NULL, "NAM/X", 5};
    sl_archive_lost(f->a, &late);
    assert_int_equal(sl_archive_flush(f->a), 0);
    assert_int_equal(sl_archive_count(f->a), 5);

    assert_int_equal(sl_archive_gaps(f->a, g, 4), 2);
    assert_int_equal(g[0].n, 1); /* newest first */
    assert_int_equal(g[0].t_first, T("20261120@0900"));
    assert_int_equal(g[0].after_seq, f->seq[5]);
    assert_int_equal(g[0].before_seq, f->seq[5] + 1);
    assert_int_equal(g[1].n, 2);
    assert_int_equal(g[1].t_first, T("20261120@0800"));
    assert_int_equal(g[1].t_last, T("20261120@0800") + 1);
    assert_int_equal(g[1].after_seq, f->seq[4]);
    assert_int_equal(g[1].before_seq, f->seq[4] + 1);
    assert_int_equal(sl_archive_gaps(f->a, g, 1), 1);

    /* the NLR says so for the period, whatever it finds; not for another period */
    struct sl_ori w = ori("WASP00000", "ACDZ", 1);
    char *b = ask(f, "NLQ", "TYP/DQ.BEG/20261120.END/20261120.FND/WDL123456789", &w, NULL, NULL);
    assert_non_null(strstr(b, "WARNING - 3 MESSAGES OF THIS PERIOD (ANY TYPE) WERE NOT ARCHIVED\n"
                              "SEARCH OF ARCHIVE"));
    assert_non_null(strstr(b, "5 HITS"));
    free(b);
    b = ask(f, "NLQ", "TYP/ALL.BEG/20261120@0850.END/20261120@0910.FND/NOTHERE", &w, NULL, NULL);
    assert_non_null(strstr(b, "WARNING - 1 MESSAGE OF THIS PERIOD (ANY TYPE) WAS NOT ARCHIVED\n"));
    assert_non_null(strstr(b, "NOT ON FILE"));
    free(b);
    b = ask(f, "NLQ", "TYP/DQ.BEG/20261121.END/20261126.FND/WDL123456789", &w, NULL, NULL);
    assert_null(strstr(b, "WARNING"));
    free(b);

    /* expiry takes the gaps of its time with the rows */
    assert_int_equal(sl_archive_expire(f->a, T("20261120@0830") + 365 * 86400), 4);
    assert_int_equal(sl_archive_gaps(f->a, g, 4), 1);
    assert_int_equal(g[0].t_first, T("20261120@0900"));
    /* the row a new gap would extend expired meanwhile: a new row */
    assert_int_equal(sl_archive_expire(f->a, T("20261120@0930") + 365 * 86400), 1);
    assert_int_equal(sl_archive_gaps(f->a, g, 4), 0);
    sl_archive_lost(f->a, &late);
    assert_int_equal(sl_archive_flush(f->a), 0);
    assert_int_equal(sl_archive_gaps(f->a, g, 4), 1);
    assert_int_equal(g[0].n, 1);
    sqlite3_close(blocker);
}

/* The WAL's checkpoints run on their own thread (walckpt.h), not on the writer: once the
 * WAL passes the soft mark the thread copies it, and every message is still there after
 * a reopen.  (The module itself: test_gateway_ckpt.) */
static void t_checkpoint_thread(void **state)
{
    struct fx *f = *state;
    assert_non_null(f->a->ck);
    const struct sl_walckpt_limits lim = {64, 100000, 200000};
    sl_walckpt_set_limits(f->a->ck, &lim);
    char text[2048];
    for (int i = 0; i < 400; i++) {
        snprintf(text, sizeof text, "NAM/CHECKPOINT,NUMBER %d ", i);
        size_t l = strlen(text);
        for (size_t k = l; k < sizeof text - 1; k++)
            text[k] = (char)('A' + (k * 7 + (size_t)i) % 26) ;
        for (size_t k = l + 9; k < sizeof text - 1; k += 10)
            text[k] = ' ';
        text[sizeof text - 1] = '\0';
        put(f, "20261120@0800", "AM", "WASP00000", "CA", text);
        if (i % 50 == 49)
            assert_int_equal(sl_archive_flush(f->a), 0);
    }
    assert_int_equal(sl_archive_flush(f->a), 0);
    sl_walckpt_wait_idle(f->a->ck);
    struct sl_walckpt_stats st;
    sl_walckpt_get_stats(f->a->ck, &st);
    if (st.runs == 0 || st.pages == 0 || st.loop_runs != 0)
        print_error("runs %llu pages %llu loop_runs %llu\n", (unsigned long long)st.runs,
                    (unsigned long long)st.pages, (unsigned long long)st.loop_runs);
    assert_true(st.runs > 0 && st.pages > 0);
    assert_int_equal(st.loop_runs, 0);
    sl_archive_close(f->a);
    open_fx(f, 0, 0);
    assert_int_equal(sl_archive_count(f->a), 400);
    struct sl_ori w = ori("WASP00000", "ACDZ", 1);
    char *b = ask(f, "NLQ", "TYP/AM." RANGE ".NAM/CHECKPOINT", &w, NULL, NULL);
    assert_non_null(strstr(b, "100 OF 400 HITS"));
    free(b);
}

/* Under load the writer gathers: it commits when batch_max rows are queued or
 * commit_every_ms after its last commit, whichever comes first.  The first batch too:
 * its window starts at the open (it started at the machine's boot, so a writer woken by
 * the first put committed that one message alone). */
static void t_first_batch_gathers(void **state)
{
    struct fx *f = *state;
    sl_archive_close(f->a);
    struct sl_archive_conf c;
    sl_archive_conf_default(&c);
    c.path = f->path;
    c.expire_every_ms = 0;
    c.batch_max = 50;
    c.commit_every_ms = 5000;
    char err[256];
    assert_int_equal(sl_archive_open(&c, &f->a, err, sizeof err), 0);
    put(f, "20261120@0800", "DQ", "WASP00000", "CA", "NAM/GATHER,FIRST");
    usleep(100 * 1000); /* the writer wakes, sees one message, and must wait */
    struct sl_archive_stats st;
    sl_archive_stats(f->a, &st);
    assert_int_equal(st.batches, 0);
    for (int i = 1; i < 50; i++)
        put(f, "20261120@0800", "DQ", "WASP00000", "CA", "NAM/GATHER,REST");
    /* the 50th put wakes it: one transaction of 50 */
    for (int i = 0; i < 500 && st.committed < 50; i++) {
        usleep(10 * 1000);
        sl_archive_stats(f->a, &st);
    }
    assert_int_equal(st.committed, 50);
    assert_int_equal(st.batches, 1);
}

static void t_malformed_put(void **state)
{
    struct fx *f = *state;
    struct sl_archive_rec r = {T("20261120@0800"), "dq", "WASP00000", NULL, "CA", NULL, NULL,
                               "X", 1};
    assert_int_equal(sl_archive_put(f->a, &r, NULL), -2);
    r.key = "DQ";
    r.src = "WASP";
    assert_int_equal(sl_archive_put(f->a, &r, NULL), -2);
    r.src = "WASP00000";
    r.dst = "CAL";
    assert_int_equal(sl_archive_put(f->a, &r, NULL), -2);
    r.dst = "CA";
    r.ctl = "ELEVENCHARS";
    assert_int_equal(sl_archive_put(f->a, &r, NULL), -2);
    r.ctl = NULL;
    assert_int_equal(sl_archive_put(f->a, &r, NULL), 0);
}

static void t_restart(void **state)
{
    struct fx *f = *state;
    load(f);
    sl_archive_close(f->a);
    struct sl_archive_conf c;
    sl_archive_conf_default(&c);
    c.path = f->path;
    c.sync_full = 1;
    char err[200];
    assert_int_equal(sl_archive_open(&c, &f->a, err, sizeof err), 0);
    assert_int_equal(sl_archive_count(f->a), 8);
    expect_hits(f, "TYP/ALL." RANGE ".NAM/JOHN", "8,2");
    uint64_t n = put(f, "20261125@0000", "AM", "TXDPS0000", "WA", "AFTER RESTART");
    assert_int_equal(n, f->seq[8] + 1);
    /* close flushes what is queued */
    sl_archive_close(f->a);
    open_fx(f, 0, 0);
    assert_int_equal(sl_archive_count(f->a), 9);
    f->seq[9] = n;
    expect_hits(f, "TYP/AM." RANGE ".FND/RESTART", "9");
}

static void t_hit_cap(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 150; i++) {
        char text[64];
        snprintf(text, sizeof text, "NAM/ROE,JANE.DOB/19900101.SEX/F.CAS/%d", i);
        put_full(f, T("20261120@0800") + i, "DQ", "WASP00000", NULL, "CA", text);
    }
    assert_int_equal(sl_archive_flush(f->a), 0);
    struct sl_ori w = ori("WASP00000", "ACDZ", 1);
    char *r = ask(f, "NLQ", "TYP/DQ." RANGE ".NAM/ROE JANE", &w, NULL, NULL);
    assert_non_null(strstr(r, "100 OF 150 HITS, NARROW THE SEARCH\n"));
    /* newest first: CAS/149 is the first hit line */
    char *first = strstr(r, "TEXT\n");
    assert_non_null(first);
    assert_non_null(strstr(first, "CAS/149\n"));
    assert_true(strstr(first, "CAS/149") < strstr(first, "CAS/148"));
    assert_null(strstr(first, "CAS/49\n"));
    int lines = 0;
    for (char *p = first; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 101);
    free(r);

    sl_archive_close(f->a);
    struct sl_archive_conf c;
    sl_archive_conf_default(&c);
    c.path = f->path;
    c.count_max = 120;
    char err[200];
    assert_int_equal(sl_archive_open(&c, &f->a, err, sizeof err), 0);
    r = ask(f, "NLQ", "TYP/DQ." RANGE ".NAM/ROE JANE", &w, NULL, NULL);
    assert_non_null(strstr(r, "100 OF MORE THAN 120 HITS, NARROW THE SEARCH\n"));
    free(r);
}

static void t_readonly(void **state)
{
    struct fx *f = *state;
    load(f);
    struct sl_archive_conf c;
    sl_archive_conf_default(&c);
    c.path = f->path;
    c.readonly = 1;
    struct sl_archive *ro;
    char err[200];
    assert_int_equal(sl_archive_open(&c, &ro, err, sizeof err), 0);
    struct sl_archive_rec r = {T("20261120@0800"), "DQ", "WASP00000", NULL, "CA", NULL, NULL,
                               "X", 1};
    assert_int_equal(sl_archive_put(ro, &r, NULL), -2);
    assert_int_equal(sl_archive_count(ro), 8);
    sl_archive_close(ro);
    c.path = "/nonexistent/dir/archive.db";
    assert_int_equal(sl_archive_open(&c, &ro, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
}

static void t_times(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(sl_archive_parse_time("19700101", 8, 0, &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(sl_archive_parse_time("19700101", 8, 1, &t), 0);
    assert_int_equal(t, 86399);
    assert_int_equal(sl_archive_parse_time("20240229@2359", 13, 1, &t), 0);
    assert_int_equal(t, 1709251199);
    assert_int_equal(sl_archive_parse_time("20230229", 8, 0, &t), -1);
    assert_int_equal(sl_archive_parse_time("19691231", 8, 0, &t), -1);
    assert_int_equal(sl_archive_parse_time("20240101 1200", 13, 0, &t), -1);
    assert_int_equal(sl_archive_parse_time("2024010", 7, 0, &t), -1);
}

struct got {
    int n;
    char body[3][2048];
    char key[3][4];
    void *tag[3];
    int rc[3];
};

static void on_done(void *ctx, struct sl_archive_done *d)
{
    struct got *g = ctx;
    assert_true(g->n < 3);
    snprintf(g->body[g->n], sizeof g->body[0], "%.*s", (int)d->body.len,
             d->body.data ? (const char *)d->body.data : "");
    memcpy(g->key[g->n], d->reply_key, 4);
    g->tag[g->n] = d->tag;
    g->rc[g->n] = d->rc;
    g->n++;
}

static void parse_into(struct sl_msg *m, const char *in)
{
    memset(m, 0, sizeof *m);
    struct sl_msg_err me;
    assert_int_equal(sl_msg_parse(in, strlen(in), m, &me), 0);
}

/* The hub's way: submit, then drain when the eventfd is readable. */
static void t_async(void **state)
{
    struct fx *f = *state;
    sl_archive_close(f->a);
    struct sl_archive_conf c;
    sl_archive_conf_default(&c);
    c.path = f->path;
    c.search_queue = 2;
    char err[200];
    assert_int_equal(sl_archive_open(&c, &f->a, err, sizeof err), 0);
    load(f);
    struct sl_ori w = ori("WASP00000", "ACDZ", 1);
    struct sl_msg q1, q2;
    parse_into(&q1, "NLQ.WASP00000.NL.TXT\nTYP/ALL." RANGE ".NAM/SMITH,JOHN");
    char nfq[64];
    snprintf(nfq, sizeof nfq, "NFQ.WASP00000.NL.TXT\nSEQ/%llu", (unsigned long long)f->seq[3]);
    parse_into(&q2, nfq);
    int tag1 = 1, tag2 = 2;
    assert_int_equal(sl_archive_submit(f->a, &q1, &w, f->now, &tag1), 0);
    sl_msg_clear(&q1); /* the archive has its own copy */
    assert_int_equal(sl_archive_submit(f->a, &q2, &w, f->now, &tag2), 0);
    assert_int_equal(sl_archive_submit(f->a, &q2, &w, f->now, &tag2), -1); /* queue of 2 */
    sl_msg_clear(&q2);
    struct got g;
    memset(&g, 0, sizeof g);
    int fd = sl_archive_event_fd(f->a);
    assert_true(fd >= 0);
    for (int spins = 0; g.n < 2 && spins < 200; spins++) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0)
            sl_archive_drain(f->a, on_done, &g);
    }
    assert_int_equal(g.n, 2);
    assert_ptr_equal(g.tag[0], &tag1);
    assert_string_equal(g.key[0], "NLR");
    assert_int_equal(g.rc[0], 0);
    assert_non_null(strstr(g.body[0], "1 HIT\n"));
    assert_non_null(strstr(g.body[0], "NAM/SMITH,JOHN ALLEN"));
    assert_ptr_equal(g.tag[1], &tag2);
    assert_string_equal(g.key[1], "NFR");
    assert_non_null(strstr(g.body[1], "TXT\nLIC/ABC123.LIY/2025.LIT/PC\n"));
    /* room again after the drain */
    parse_into(&q2, nfq);
    assert_int_equal(sl_archive_submit(f->a, &q2, NULL, f->now, &tag2), 0);
    sl_msg_clear(&q2);
    /* closing with an answer not drained drops it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_by_key, setup, teardown),
        cmocka_unit_test_setup_teardown(t_by_address, setup, teardown),
        cmocka_unit_test_setup_teardown(t_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(t_clock_back, setup, teardown),
        cmocka_unit_test_setup_teardown(t_bounds_with_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(t_free_text, setup, teardown),
        cmocka_unit_test_setup_teardown(t_name, setup, teardown),
        cmocka_unit_test_setup_teardown(t_reply_layouts, setup, teardown),
        cmocka_unit_test_setup_teardown(t_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(t_authorisation, setup, teardown),
        cmocka_unit_test_setup_teardown(t_withheld, setup, teardown),
        cmocka_unit_test_setup_teardown(t_bad_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(t_no_injection, setup, teardown),
        cmocka_unit_test_setup_teardown(t_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(t_retention_automatic, setup, teardown),
        cmocka_unit_test_setup_teardown(t_images, setup, teardown),
        cmocka_unit_test_setup_teardown(t_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(t_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(t_checkpoint_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(t_first_batch_gathers, setup, teardown),
        cmocka_unit_test_setup_teardown(t_malformed_put, setup, teardown),
        cmocka_unit_test_setup_teardown(t_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(t_hit_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(t_readonly, setup, teardown),
        cmocka_unit_test_setup_teardown(t_async, setup, teardown),
        cmocka_unit_test(t_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
