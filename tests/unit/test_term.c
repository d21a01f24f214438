/*
 * test_term.c - `stateline query` composition: the options of every subcommand against
 * the exact wire text, the usage errors a terminal reports before sending, and the JSON
 * rendering of a delivered message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "stateline/term.h"
#include "stateline/msg.h"

/* Compose from a NULL-terminated argument list (after "query"); returns the text or NULL
 * with the error in err. Caller frees. */
static char *compose(char *err, size_t errlen, ...)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "query";
    va_list ap;
    va_start(ap, errlen);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    struct sl_term_opts o;
    err[0] = '\0';
    if (sl_term_parse_args(argc, argv, &o, err, errlen) < 0)
        return NULL;
    struct sl_buf b = SL_BUF_INIT;
    if (sl_term_compose(&o, &b, err, errlen) < 0) {
        sl_buf_free(&b);
        return NULL;
    }
    char *s = strndup((const char *)sl_buf_head(&b), sl_buf_used(&b));
    sl_buf_free(&b);
    return s;
}

/* The codec must read what the terminal composed as the same message, and find its
 * fields valid for the key (sl_msg_check: the .05. .10. .14. .16. .22. rules). */
static void codec_agrees(const char *text)
{
    struct sl_msg m;
    struct sl_msg_err e;
    memset(&m, 0, sizeof m);
    if (sl_msg_parse(text, strlen(text), &m, &e) != 0 || sl_msg_check(&m, &e) != 0) {
        print_error("codec refuses '%s': .%02d. %s\n", text, (int)e.code, e.detail);
        sl_msg_clear(&m);
        fail();
    }
    struct sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_msg_format(&m, &b), 0);
    assert_int_equal(sl_buf_used(&b), strlen(text));
    assert_memory_equal(sl_buf_head(&b), text, strlen(text));
    sl_buf_free(&b);
    sl_msg_clear(&m);
}

#define EXPECT(want, ...)                                                                    \
    do {                                                                                     \
        char err_[256];                                                                      \
        char *got_ = compose(err_, sizeof err_, __VA_ARGS__, (char *)NULL);                  \
        if (!got_)                                                                           \
            print_error("compose failed: %s\n", err_);                                       \
        assert_non_null(got_);                                                               \
        assert_string_equal(got_, want);                                                     \
        codec_agrees(got_);                                                                  \
        free(got_);                                                                          \
    } while (0)

#define REFUSE(needle, ...)                                                                  \
    do {                                                                                     \
        char err_[256];                                                                      \
        char *got_ = compose(err_, sizeof err_, __VA_ARGS__, (char *)NULL);                  \
        if (got_)                                                                            \
            print_error("composed '%s' but expected a refusal\n", got_);                     \
        assert_null(got_);                                                                   \
        if (!strstr(err_, needle))                                                           \
            print_error("error '%s' lacks '%s'\n", err_, needle);                            \
        assert_non_null(strstr(err_, needle));                                               \
    } while (0)

static void test_dq(void **state)
{
    (void)state;
    EXPECT("DQ.WASP00000.CA.TXT\nOLN/A1234567", "--as", "WASP00000", "dq", "--to", "CA",
           "--oln", "A1234567");
    /* options after the subcommand, several destinations, control field, lower case in */
    EXPECT("DQ.WASP00000.CA.NV.OR.A17.TXT\nNAM/SMITH,JOHN.DOB/19800102.SEX/M.RSN/N.IMQ/Y",
           "dq", "--as", "wasp00000", "--to", "ca,NV,OR", "--ctl", "a17", "--name",
           "Smith,John", "--dob", "1980-01-02", "--sex", "m", "--rsn", "N", "--imq", "Y");
    EXPECT("DQ.WASP00000.CA.TXT\nOLN/WA*SMITH*123.PUR/C.ATN/DET JONES.CAS/2026-1234.LGP/W-55",
           "--as=WASP00000", "dq", "--to=CA", "--oln", "WA*SMITH*123", "--pur", "C",
           "--atn", "det jones", "--cas", "2026-1234", "--lgp", "w-55");
    EXPECT("DQ.WASP00000.NL.TXT\nOLN/X1", "--as", "WASP00000", "dq", "--to", "NL", "--oln",
           "X1");
}

static void test_other_keys(void **state)
{
    (void)state;
    EXPECT("DNQ.WASP00000.CA.TXT\nNAM/DOE,JANE", "--as", "WASP00000", "dnq", "--to", "CA",
           "--name", "DOE,JANE");
    EXPECT("KQ.AZNLETS20.AZ.TXT\nNAM/SMITH,JOHN.DOB/19500101.SEX/M", "--as", "AZNLETS20",
           "kq", "--to", "AZ", "--name", "SMITH,JOHN", "--dob", "19500101", "--sex", "M");
    EXPECT("KQ.WASP00000.OR.TXT\nOLN/B7.PUR/C.ATN/SGT LEE", "--as", "WASP00000", "kq", "--to",
           "OR", "--oln", "B7", "--pur", "C", "--atn", "Sgt Lee");
    /* one destination only: a 2-character control field cannot be mistaken */
    EXPECT("KQ.WASP00000.OR.K1.TXT\nOLN/B7", "--as", "WASP00000", "kq", "--to", "OR", "--oln",
           "B7", "--ctl", "k1");
    EXPECT("RQ.AZNLETS20.AZ.TXT\nLIC/123456.LIY/2026.LIT/PC", "--as", "AZNLETS20", "rq",
           "--to", "AZ", "--lic", "123456", "--liy", "2026", "--lit", "PC");
    EXPECT("RQ.WASP00000.MO.TXT\nVIN/1HGCM82633A004352.VMA/HOND.VYR/2003", "--as",
           "WASP00000", "rq", "--to", "MO", "--vin", "1HGCM82633A004352", "--vma", "HOND",
           "--vyr", "2003");
    EXPECT("RNQ.WASP00000.ID.TXT\nNAM/DOE,JOHN", "--as", "WASP00000", "rnq", "--to", "ID",
           "--name", "DOE,JOHN");
    EXPECT("RPQ.WASP00000.OR.TXT\nLIC/ABC*", "--as", "WASP00000", "rpq", "--to", "OR", "--lic",
           "abc*");
    EXPECT("AM.WASP00000.OR.ID.TXT\nAttention: stolen truck, plate ABC123", "--as",
           "WASP00000", "am", "--to", "OR,ID", "--text", "Attention: stolen truck, plate ABC123");
    EXPECT("AML.WASP00000.OR.TXT\nBOLO", "--as", "WASP00000", "am", "--aml", "--to", "OR",
           "--text", "BOLO");
    EXPECT("NLQ.WASP00000.NL.TXT\nTYP/DQ,RQ.SRC/WA.BEG/20260101.END/20260201.FND/SMITH",
           "--as", "WASP00000", "nlq", "--typ", "DQ,RQ", "--src", "WA", "--beg", "20260101",
           "--end", "20260201", "--fnd", "smith");
    EXPECT("NLQ.WASP00000.NL.TXT\nNAM/SMITH*.TYP/ALL.BEG/20260101.END/20260201@1200", "--as",
           "WASP00000", "nlq", "--typ", "ALL", "--beg", "20260101", "--end", "20260201@1200",
           "--name", "SMITH*");
    EXPECT("NFQ.WASP00000.NL.TXT\nSEQ/12345X", "--as", "WASP00000", "nfq", "--seq", "12345x");
}

static void test_refusals(void **state)
{
    (void)state;
    REFUSE("--as ORI", "dq", "--to", "CA", "--oln", "A1");
    REFUSE("needs --to", "--as", "WASP00000", "dq", "--oln", "A1");
    REFUSE("needs --oln, or --name --dob --sex", "--as", "WASP00000", "dq", "--to", "CA",
           "--name", "X,Y");
    REFUSE("cannot be combined", "--as", "WASP00000", "dq", "--to", "CA", "--oln", "A1",
           "--name", "X,Y", "--dob", "19800101", "--sex", "M");
    REFUSE("--lic does not apply to dq", "--as", "WASP00000", "dq", "--to", "CA", "--oln",
           "A1", "--lic", "X");
    REFUSE("exactly one destination", "--as", "WASP00000", "kq", "--to", "CA,NV", "--oln", "A");
    REFUSE("at most 5", "--as", "WASP00000", "dq", "--to", "CA,NV,OR,ID,AZ,UT", "--oln", "A");
    REFUSE("neither a 2-character", "--as", "WASP00000", "dq", "--to", "CAL", "--oln", "A");
    REFUSE("not an ORI", "--as", "WASP0000", "dq", "--to", "CA", "--oln", "A");
    REFUSE("cannot contain '.'", "--as", "WASP00000", "dq", "--to", "CA", "--oln", "A.B");
    REFUSE("1 to 10", "--as", "WASP00000", "dq", "--to", "CA", "--oln", "A", "--ctl",
           "ABCDEFGHIJK");
    REFUSE("would read as a destination", "--as", "WASP00000", "dq", "--to", "CA", "--oln",
           "A", "--ctl", "T1");
    REFUSE("would read as a destination", "--as", "WASP00000", "am", "--to", "CA", "--text",
           "x", "--ctl", "ABCDE1234");
    REFUSE("begin with TXT", "--as", "WASP00000", "dq", "--to", "CA", "--oln", "A", "--ctl",
           "TXT1");
    REFUSE("needs --text", "--as", "WASP00000", "am", "--to", "CA");
    REFUSE("--text belongs to am", "--as", "WASP00000", "dq", "--to", "CA", "--oln", "A",
           "--text", "x");
    REFUSE("needs --typ --beg --end --fnd", "--as", "WASP00000", "nlq", "--typ", "ALL");
    REFUSE("unknown option '--olm'", "--as", "WASP00000", "dq", "--olm", "A");
    REFUSE("unknown subcommand 'dx'", "dx");
    REFUSE("say what to send", "--as", "WASP00000");
    REFUSE("--oln needs a value", "--as", "WASP00000", "dq", "--oln");
    REFUSE("raw needs", "raw");
    REFUSE("belong to listen", "dq", "--count", "3");
    REFUSE("not a number", "listen", "--wait", "soon");
}

static void test_parse_connection(void **state)
{
    (void)state;
    char *argv[] = {"query", "--hub", "127.0.0.1:7000", "--certs", "/tmp/c", "--line",
                    "ca:answer", "listen", "--reply", "NOT ON FILE", "--count", "2", "--json",
                    NULL};
    struct sl_term_opts o;
    char err[128];
    assert_int_equal(sl_term_parse_args(13, argv, &o, err, sizeof err), 0);
    assert_string_equal(o.hub, "127.0.0.1:7000");
    assert_string_equal(o.member, "CA");
    assert_string_equal(o.line_role, "answer");
    assert_string_equal(o.cmd, "listen");
    assert_string_equal(o.reply, "NOT ON FILE");
    assert_int_equal(o.count, 2);
    assert_int_equal(o.json, 1);
    assert_int_equal(o.wait_s, 30);

    char *argv2[] = {"query", "--line", "WA", "raw", "DQ.WASP00000.CA.TXT OLN/A1", NULL};
    assert_int_equal(sl_term_parse_args(5, argv2, &o, err, sizeof err), 0);
    assert_string_equal(o.line_role, "terminal");
    assert_string_equal(o.raw, "DQ.WASP00000.CA.TXT OLN/A1");
    assert_null(sl_term_cmd_key(&o));

    char *argv3[] = {"query", "--line", "WA:boss", "listen", NULL};
    assert_int_equal(sl_term_parse_args(4, argv3, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "neither terminal nor answer"));
}

static void test_reply(void **state)
{
    (void)state;
    struct sl_buf b = SL_BUF_INIT;
    sl_term_compose_reply("DR", "CADMV0000", "WASP00000", "A17", "NOT ON FILE", 11, &b);
    assert_int_equal(sl_buf_used(&b), strlen("DR.CADMV0000.WASP00000.A17.TXT\nNOT ON FILE"));
    assert_memory_equal(sl_buf_head(&b), "DR.CADMV0000.WASP00000.A17.TXT\nNOT ON FILE",
                        sl_buf_used(&b));
    sl_buf_reset(&b);
    sl_term_compose_reply("KR", "CADMV0000", "WASP00000", "", "X", 1, &b);
    assert_memory_equal(sl_buf_head(&b), "KR.CADMV0000.WASP00000.TXT\nX", sl_buf_used(&b));
    sl_buf_free(&b);
}

static void test_json(void **state)
{
    (void)state;
    struct sl_outhdr h;
    memset(&h, 0, sizeof h);
    strcpy(h.key, "DR");
    strcpy(h.ori, "CADMV0000");
    strcpy(h.dest, "WASP00000");
    strcpy(h.ctl, "A17");
    h.rx_time = 1764167155; /* 2025-11-26T14:25:55Z */
    h.rx_seq = 1239;
    h.tx_time = 1764167156;
    h.tx_seq = 1233;
    const char body[] = "NAM/DOE,JANE \"Q\"\r\n\x7fSTATUS VALID\xff";
    struct sl_buf b = SL_BUF_INIT;
    sl_term_json(&h, body, sizeof body - 1, &b);
    json_error_t je;
    json_t *o = json_loadb((const char *)sl_buf_head(&b), sl_buf_used(&b), 0, &je);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "key")), "DR");
    assert_string_equal(json_string_value(json_object_get(o, "from")), "CADMV0000");
    assert_string_equal(json_string_value(json_object_get(o, "to")), "WASP00000");
    assert_string_equal(json_string_value(json_object_get(o, "control")), "A17");
    assert_string_equal(json_string_value(json_object_get(o, "received")), "2025-11-26T14:25:55Z");
    assert_string_equal(json_string_value(json_object_get(o, "sent")), "2025-11-26T14:25:56Z");
    assert_int_equal(json_integer_value(json_object_get(o, "received_seq")), 1239);
    assert_int_equal(json_integer_value(json_object_get(o, "sent_seq")), 1233);
    assert_null(json_object_get(o, "requester"));
    assert_string_equal(json_string_value(json_object_get(o, "text")),
                        "NAM/DOE,JANE \"Q\"\r\n\x7fSTATUS VALID\xEF\xBF\xBD");
    json_decref(o);

    /* with the verified requester, no control field */
    h.ctl[0] = '\0';
    h.has_req = 1;
    strcpy(h.req.ori, "WASP00000");
    strcpy(h.req.member, "WA");
    strcpy(h.req.type, "PD");
    strcpy(h.req.cats, "ACD");
    strcpy(h.req.state, "WA");
    strcpy(h.req.parent, "");
    strcpy(h.req.tags, "patrol  task-force");
    sl_buf_reset(&b);
    sl_term_json(&h, "X", 1, &b);
    o = json_loadb((const char *)sl_buf_head(&b), sl_buf_used(&b), 0, &je);
    assert_non_null(o);
    assert_true(json_is_null(json_object_get(o, "control")));
    json_t *r = json_object_get(o, "requester");
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "ori")), "WASP00000");
    assert_string_equal(json_string_value(json_object_get(r, "categories")), "ACD");
    assert_true(json_is_null(json_object_get(r, "parent")));
    json_t *tags = json_object_get(r, "tags");
    assert_int_equal(json_array_size(tags), 2);
    assert_string_equal(json_string_value(json_array_get(tags, 1)), "task-force");
    json_decref(o);

    /* an empty text */
    sl_buf_reset(&b);
    sl_term_json(&h, "", 0, &b);
    o = json_loadb((const char *)sl_buf_head(&b), sl_buf_used(&b), 0, &je);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "text")), "");
    json_decref(o);

    /* something that is not in the output form */
    sl_buf_reset(&b);
    sl_term_json_unparsed("GARBAGE\x01\x80", 9, "NO HEADER", &b);
    o = json_loadb((const char *)sl_buf_head(&b), sl_buf_used(&b), 0, &je);
    assert_non_null(o);
    assert_true(json_is_true(json_object_get(o, "unparsed")));
    assert_string_equal(json_string_value(json_object_get(o, "error")), "NO HEADER");
    assert_string_equal(json_string_value(json_object_get(o, "text")), "GARBAGE\x01\xEF\xBF\xBD");
    json_decref(o);
    sl_buf_free(&b);
}

static void test_classify(void **state)
{
    (void)state;
    struct sl_outhdr h;
    memset(&h, 0, sizeof h);
    strcpy(h.key, "DR");
    strcpy(h.ctl, "A17");
    assert_int_equal(sl_term_classify(&h, "DQ", "A17"), SL_TERM_REPLY);
    assert_int_equal(sl_term_classify(&h, "DQ", ""), SL_TERM_REPLY);
    assert_int_equal(sl_term_classify(&h, "DQ", "B2"), SL_TERM_OTHER); /* someone else's */
    assert_int_equal(sl_term_classify(&h, "KQ", "A17"), SL_TERM_OTHER); /* KQ wants KR */
    strcpy(h.key, "KR");
    assert_int_equal(sl_term_classify(&h, "KQ", "A17"), SL_TERM_REPLY);
    strcpy(h.key, "RR");
    assert_int_equal(sl_term_classify(&h, "RQ", NULL), SL_TERM_REPLY);
    strcpy(h.key, "ER");
    assert_int_equal(sl_term_classify(&h, "DQ", "A17"), SL_TERM_ERROR);
    strcpy(h.key, "SM");
    assert_int_equal(sl_term_classify(&h, "DQ", "A17"), SL_TERM_ERROR);
    strcpy(h.key, "AM");
    assert_int_equal(sl_term_classify(&h, "DQ", "A17"), SL_TERM_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dq),
        cmocka_unit_test(test_other_keys),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_parse_connection),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
