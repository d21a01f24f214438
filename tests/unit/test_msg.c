/*
 * test_msg.c - the Nlets legacy text codec (src/msg): every example message of the Nlets
 * reference, every ER path, DOB forms, control characters, the control-field rule,
 * destination limits, round trips of the input and output forms, VRQ forgery, truncation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stateline/buf.h"
#include "stateline/msg.h"

/* parse + check; returns the ER code (SL_ER_NONE when valid). */
static int run(const char *in, size_t len, struct sl_msg *m, struct sl_msg_err *e)
{
    memset(m, 0, sizeof *m);
    if (sl_msg_parse(in, len, m, e) < 0)
        return e->code;
    if (sl_msg_check(m, e) < 0)
        return e->code;
    return SL_ER_NONE;
}

static void expect(const char *in, int code, const char *detail_part)
{
    struct sl_msg m;
    struct sl_msg_err e;
    int got = run(in, strlen(in), &m, &e);
    if (got != code || (detail_part && !strstr(e.detail, detail_part)))
        print_error("input   %s\nexpected %d '%s'\ngot      %d '%s'\n", in, code,
                    detail_part ? detail_part : "", got, e.detail);
    assert_int_equal(got, code);
    if (detail_part)
        assert_non_null(strstr(e.detail, detail_part));
    sl_msg_clear(&m);
}

static void ok(const char *in) { expect(in, SL_ER_NONE, NULL); }

static void field_is(const struct sl_msg *m, const char *pfx, const char *val)
{
    const struct sl_field *f = sl_msg_field(m, pfx);
    assert_non_null(f);
    assert_int_equal(f->len, strlen(val));
    assert_memory_equal(f->val, val, f->len);
}

/* ---- the examples of reference/nlets.md ---- */

static void test_example_kq(void **state)
{
    (void)state;
    const char *in = "KQ.AZNLETS20.AZ.TXT\r\nNAM/SMITH,JOHN.DOB/19500101.SEX/M";
    struct sl_msg m;
    struct sl_msg_err e;
    assert_int_equal(run(in, strlen(in), &m, &e), SL_ER_NONE);
    assert_string_equal(m.key, "KQ");
    assert_string_equal(m.ori, "AZNLETS20");
    assert_int_equal(m.ndest, 1);
    assert_string_equal(m.dest[0], "AZ");
    assert_string_equal(m.ctl, "");
    assert_int_equal(m.nfields, 3);
    field_is(&m, "NAM", "SMITH,JOHN");
    field_is(&m, "DOB", "19500101");
    field_is(&m, "SEX", "M");
    assert_string_equal(m.text, "NAM/SMITH,JOHN.DOB/19500101.SEX/M");
    sl_msg_clear(&m);
}

static void test_example_rq_error(void **state)
{
    (void)state;
    const char *in = "RQ.AZNLETS20.AZ.TXT\r\nLIC/123456.LIT/PC";
    struct sl_msg m;
    struct sl_msg_err e;
    assert_int_equal(run(in, strlen(in), &m, &e), SL_ER_FORMAT22);
    assert_string_equal(e.detail, "LIY MISSING");
    struct sl_buf b = SL_BUF_INIT;
    sl_msg_format_er_body(&e, m.key, in, strlen(in), &b);
    sl_buf_append(&b, "", 1);
    assert_string_equal((char *)b.data,
                        ".22. INVALID MESSAGE FORMAT - REFER TO RQ MKE OPTIONS BELOW\n"
                        "1. LIC, LIY, LIT\n"
                        "2. VIN\n"
                        "LIY MISSING\n"
                        "ORIGINAL MESSAGE\n"
                        "RQ.AZNLETS20.AZ.TXT LIC/123456.LIT/PC");
    sl_buf_free(&b);
    sl_msg_clear(&m);
    /* the same message written on one line, as the issue quotes it */
    expect("RQ.AZNLETS20.AZ.TXT LIC/123456.LIT/PC", SL_ER_FORMAT22, "LIY MISSING");
}

static void test_example_help_update(void **state)
{
    (void)state;
    const char *in = "AM.AZNLETS20.NLNLEUPDT.TXT";
    struct sl_msg m;
    struct sl_msg_err e;
    assert_int_equal(run(in, strlen(in), &m, &e), SL_ER_NONE);
    assert_int_equal(m.ndest, 1);
    assert_string_equal(m.dest[0], "NLNLEUPDT");
    assert_int_equal(m.text_len, 0);
    assert_int_equal(m.nfields, 0);
    sl_msg_clear(&m);
    ok("AM.AZNLETS20.NLNLEUPDT.TXT\r\nAZ HELP FILE\r\nLINE TWO");
}

static void test_example_lpq_unknown(void **state)
{
    (void)state;
    /* LPQ (LPR list query) is not a key stateline takes: an unknown key is .01. */
    expect("LPQ.AZNLETS20.NL.TXT\nLIC/ABC123", SL_ER_HEADER, "UNKNOWN MESSAGE KEY LPQ");
}

static void test_example_er_output_header(void **state)
{
    (void)state;
    const char *in = "ER.NL0000000\n"
                     "08:00 01/01/2010 01239\n"
                     "08:00 01/01/2011 01233 AZNLETS20\n"
                     "TXT\n"
                     ".01. INVALID HEADER INFORMATION";
    struct sl_outhdr h;
    const char *body;
    size_t blen;
    struct sl_msg_err e;
    assert_int_equal(sl_msg_parse_output(in, strlen(in), &h, &body, &blen, &e), 0);
    assert_string_equal(h.key, "ER");
    assert_string_equal(h.ori, "NL0000000");
    assert_int_equal(h.rx_time, 1262332800); /* 2010-01-01 08:00 UTC */
    assert_int_equal(h.rx_seq, 1239);
    assert_int_equal(h.tx_time, 1293868800); /* 2011-01-01 08:00 UTC */
    assert_int_equal(h.tx_seq, 1233);
    assert_string_equal(h.dest, "AZNLETS20");
    assert_int_equal(h.has_req, 0);
    assert_int_equal(blen, strlen(".01. INVALID HEADER INFORMATION"));
    assert_memory_equal(body, ".01. INVALID HEADER INFORMATION", blen);
}

static void test_example_help_output_header(void **state)
{
    (void)state;
    /* A HELP reply as Nlets delivers it (CR LF line ends), counters as in nlets.md §2.3. */
    const char *in = "AM.NLNLEHELP\r\n";
    struct sl_outhdr h;
    const char *body;
    size_t blen;
    struct sl_msg_err e;
    /* NLNLEHELP is 9 characters: AM.NLNLEHELP is key + ORI */
    assert_int_equal(sl_msg_parse_output(in, strlen(in), &h, &body, &blen, &e), -1);
    const char *full = "AM.NLNLEHELP\r\n"
                       "09:12 03/04/2021 35048\r\n"
                       "09:12 03/04/2021 08374 AZNLETS20\r\n"
                       "TXT\r\n"
                       "NO LIC HELP INFORMATION AVAILABLE FOR THIS USER";
    assert_int_equal(sl_msg_parse_output(full, strlen(full), &h, &body, &blen, &e), 0);
    assert_string_equal(h.ori, "NLNLEHELP");
    assert_int_equal(h.rx_seq, 35048);
    assert_int_equal(h.tx_seq, 8374);
    assert_memory_equal(body, "NO LIC HELP", 11);
}

static void test_example_nlq_forms(void **state)
{
    (void)state;
    ok("NLQ.AZNLETS20.NL.TXT\nTYP/DQ,RQ.BEG/20260101.END/20260131@2359.FND/A1234567");
    ok("NLQ.AZNLETS20.NL.TXT\nTYP/ALL.SRC/WA.DST/CASP00000.BEG/20260101@0000.END/20260102."
       "NAM/SMITH,JO*");
    ok("NLQ.AZNLETS20.NL.TXT\nTYP/DQ.BEG/20260101.END/20260102.FND/SMITH.AND/JOHN.ORR/JON");
    expect("NLQ.AZNLETS20.NL.TXT\nTYP/DQ.END/20260102.FND/X", SL_ER_YEAR, "BEG MISSING");
    expect("NLQ.AZNLETS20.NL.TXT\nBEG/20260101.END/20260102.FND/X", SL_ER_MISSING,
           "TYP MISSING");
    expect("NLQ.AZNLETS20.NL.TXT\nTYP/DQ.BEG/20260101.END/20260102", SL_ER_MISSING,
           "FND OR NAM");
    expect("NLQ.AZNLETS20.NL.TXT\nTYP/DQ.BEG/20260101.END/20260102.FND/X.NAM/SMITH",
           SL_ER_FORMAT22, "DO NOT FORM ONE OPTION");
    expect("NLQ.AZNLETS20.NL.TXT\nTYP/DQ.BEG/20260101.END/20260102.NAM/SMITH.AND/X",
           SL_ER_FORMAT22, "ONLY WITH FND");
    expect("NLQ.AZNLETS20.NL.TXT\nTYP/DQ.BEG/20260131.END/20260101.FND/X", SL_ER_YEAR,
           "END IS BEFORE BEG");
    expect("NLQ.AZNLETS20.NL.TXT\nTYP/DQ.BEG/2026013.END/20260131.FND/X", SL_ER_YEAR, "BEG");
    expect("NLQ.AZNLETS20.NL.TXT\nTYP/DQ.BEG/20260101@2460.END/20260131.FND/X", SL_ER_YEAR,
           "BEG");
    expect("NLQ.AZNLETS20.NL.TXT\nTYP/DQ,R.BEG/20260101.END/20260131.FND/X", SL_ER_FORMAT22,
           "TYP");
    expect("NLQ.AZNLETS20.NL.TXT\nTYP/DQ.BEG/20260101.END/20260131.NAM/*SMITH", SL_ER_FORMAT22,
           "NAM");
    expect("NLQ.AZNLETS20.NL.TXT\nTYP/DQ.SRC/WAS.BEG/20260101.END/20260131.FND/X",
           SL_ER_FORMAT22, "SRC");
    expect("NLQ.AZNLETS20.WA.TXT\nTYP/DQ.BEG/20260101.END/20260131.FND/X", SL_ER_DEST, "NL");
    ok("NFQ.AZNLETS20.NL.TXT\nSEQ/1234567890");
    ok("NFQ.AZNLETS20.NL.TXT\nSEQ/42X");
    ok("NFQ.AZNLETS20.NL.TXT\nSEQ/9999999999X");
    expect("NFQ.AZNLETS20.NL.TXT\nSEQ/99999999A9", SL_ER_FORMAT22, "SEQ");
    expect("NFQ.AZNLETS20.NL.TXT\nSEQ/12345678901", SL_ER_FORMAT22, "SEQ");
    expect("NFQ.AZNLETS20.NL.TXT\n", SL_ER_MISSING, "SEQ");
}

/* ---- valid messages of every query key ---- */

static void test_valid_keys(void **state)
{
    (void)state;
    ok("DQ.WASP00000.CA.TXT\nOLN/A1234567");
    ok("DQ.WASP00000.CA.OR.TXTNAM/SMITH,JOHN Q.DOB/010150.SEX/M.RSN/N.IMQ/Y.PUR/C."
       "ATN/TROOPER JONES.CAS/2026-000123.LGP/WARRANT 26-1-00042-7");
    ok("DQ.WASP00000.E1.TXT\nOLN/WDL*AB-123CD");
    ok("DQ.WASP00000.NL.TXT\nOLN/A1234567.");
    ok("DQG.WASP00000.E1.TXT\nNAM/SMITH,JOHN.DOB/19500101.SEX/F");
    expect("DQG.WASP00000.E1.TXT\nOLN/A1234567", SL_ER_FORMAT22, "NOT VALID FOR DQG");
    expect("DQG.WASP00000.E1.TXT\nNAM/SMITH,JOHN.DOB/19500101.SEX/F.IMQ/Y", SL_ER_FORMAT22,
           "IMQ NOT VALID FOR DQG");
    ok("DNQ.WASP00000.CA.TXT\nNAM/SMITH,JOHN");
    ok("KQ.WASP00000.NL.TXT\nOLN/A1234567.PUR/C.ATN/J DOE");
    ok("RQ.WASP00000.CA.TXT\nLIC/ABC123.LIY/2026.LIT/PC");
    ok("RQ.WASP00000.CA.TXT\nLIC/ABC123.LIY/26.LIT/PC");
    ok("RQ.WASP00000.CA.TXT\nLIC/ABC123.LIY/NX.LIT/PC");
    ok("RQ.WASP00000.CA.TXT\nVIN/1HGCM82633A004352");
    ok("RQ.WASP00000.MO.TXT\nVIN/1HGCM82633A004352.VMA/HOND.VYR/2003");
    expect("RQ.WASP00000.MO.TXT\nVIN/1HGCM82633A004352", SL_ER_MISSING, "VMA, VYR MISSING");
    expect("RQ.WASP00000.CA.MO.TXT\nVIN/1HGCM82633A004352.VYR/2003", SL_ER_MISSING,
           "VMA MISSING");
    ok("RQG.WASP00000.E1.TXT\nVIN/1HGCM82633A004352");
    ok("RNQ.WASP00000.CA.TXT\nNAM/DOE,JANE");
    ok("RNQ.WASP00000.CA.TXT\nNAM/ACME RENTAL & LEASING 2");
    expect("RNQ.WASP00000.CA.TXT\nNAM/DOE,JANE,X", SL_ER_FORMAT22, "BUSINESS NAME");
    expect("RNQ.WASP00000.CA.TXT\nNAM/&CO", SL_ER_FORMAT22, "BUSINESS NAME");
    expect("DNQ.WASP00000.CA.TXT\nNAM/ACME RENTAL", SL_ER_FORMAT22, "LAST,FIRST");
    ok("RPQ.WASP00000.CA.TXT\nLIC/AB?12*");
    expect("RPQ.WASP00000.CA.TXT\nLIC/A*", SL_ER_FORMAT22, "AT LEAST 3");
    expect("RPQ.WASP00000.E1.TXT\nLIC/ABC*", SL_ER_DEST, "E1 IS A REGION CODE");
    expect("RPQ.WASP00000.NL.TXT\nLIC/ABC*", SL_ER_DEST, "NL IS NL");
    ok("AML.WASP00000.CA.OR.E1.CASP00000.TXT\nBOLO: BLUE SEDAN, PLATE ABC123.");
    ok("SM.WASP00000.CA.TXT\nWA DOL TEMPORARILY OUT OF SERVICE UNTIL 0600 UTC");
    ok("DR.WAOLN0000.WASP00000.TXT\nNAM/SMITH,JOHN\nLIC STATUS: VALID");
    ok("DR.WAOLN0000.WASP00000.LTN2000157.TXT\nNOT ON FILE");
    ok("ER.NL0000000.WASP00000.TXT\n.19. INVALID DESTINATION ORIs");
    expect("ER.WASP00000.CASP00000.TXT\nFORGED", SL_ER_HEADER, "ONLY THE SWITCH");
    expect("NLR.WASP00000.CASP00000.TXT\nFORGED", SL_ER_HEADER, "ONLY THE SWITCH");
    ok("NLR.NL0000000.WASP00000.TXT\nNOT ON FILE");
    expect("DR.WAOLN0000.CA.TXT\nNOT ON FILE", SL_ER_DEST, "DR TAKES ONE DESTINATION");
}

/* ---- header ER paths ---- */

static void test_header_errors(void **state)
{
    (void)state;
    expect("", SL_ER_FORMAT, "EMPTY MESSAGE");
    expect("hello world", SL_ER_FORMAT, "DOES NOT BEGIN");
    expect(".WASP00000.CA.TXT", SL_ER_FORMAT, NULL);
    expect("D.WASP00000.CA.TXT", SL_ER_HEADER, "2 OR 3 LETTERS");
    expect("DQXQ.WASP00000.CA.TXT", SL_ER_HEADER, "2 OR 3 LETTERS");
    expect("DQ", SL_ER_HEADER, "2 OR 3 LETTERS");
    expect("DQ WASP00000.CA.TXT", SL_ER_HEADER, "2 OR 3 LETTERS");
    expect("XQ.WASP00000.CA.TXT", SL_ER_HEADER, "UNKNOWN MESSAGE KEY XQ");
    expect("DQ.WASP0000.CA.TXT", SL_ER_HEADER, "SENDER ORI 'WASP0000'");
    expect("DQ.wasp00000.CA.TXT", SL_ER_HEADER, "SENDER ORI");
    expect("DQ.WASP000000.CA.TXT", SL_ER_HEADER, "SENDER ORI");
    expect("DQ.WASP00000", SL_ER_HEADER, "SENDER ORI");
    expect("DQ.WASP00000.", SL_ER_TXT, NULL);
    expect("DQ.WASP00000.CA", SL_ER_TXT, NULL);
    expect("DQ.WASP00000.CA.", SL_ER_TXT, NULL);
    expect("DQ.WASP00000.CA.TX", SL_ER_TXT, NULL);
    expect("DQ.WASP00000.CA.OLN/A1234567", SL_ER_TXT, "EXPECTED TXT BEFORE 'OLN/A1234567'");
    expect("DQ.WASP00000.CA.OLNA12345678901234", SL_ER_TXT, NULL);
    expect("DQ.WASP00000.TXT\nOLN/A1", SL_ER_DEST, "NO DESTINATION");
    expect("DQ.WASP00000..CA.TXT\nOLN/A1", SL_ER_HEADER, "EMPTY HEADER FIELD");
    expect("DQ.WASP00000.CA..TXT\nOLN/A1", SL_ER_HEADER, "EMPTY HEADER FIELD");
    expect("DQ.WASP00000.C@.TXT\nOLN/A1", SL_ER_HEADER, "INVALID CHARACTER");
    expect("DQ.WASP00000.ca.TXT\nOLN/A1", SL_ER_HEADER, "INVALID CHARACTER");
    expect("DQ.WASP00000.CAL.TXT\nOLN/A1", SL_ER_DEST, "NOT A 2-CHARACTER CODE");
    expect("DQ.WASP00000.1A.TXT\nOLN/A1", SL_ER_DEST, "NOT A 2-CHARACTER CODE");
    expect("DQ.WASP00000.CASP00000.TXT\nOLN/A1", SL_ER_DEST, "IS AN ORI");
    expect("KQ.WASP00000.E1.TXT\nOLN/A1", SL_ER_DEST, "E1 IS A REGION CODE");
    expect("DQ.WASP00000.CA.OR.CA.TXT\nOLN/A1", SL_ER_DEST, "CA REPEATED");
    expect("DQ.WASP00000.CA.NL.TXT\nOLN/A1", SL_ER_DEST, "NL MUST BE THE ONLY DESTINATION");
    expect("RQ.WASP00000.NL.E1.TXT\nVIN/1HG", SL_ER_DEST, "NL MUST BE THE ONLY DESTINATION");
    expect("KQ.WASP00000.CA.OR.CTL1.TXT\nOLN/A1", SL_ER_DEST, "2 DESTINATIONS; KQ TAKES AT MOST 1");
    expect("DQ.WASP00000.CA.TXT\nOLN/A1\xc3\xa9", SL_ER_FORMAT, "NON-ASCII BYTE 0XC3");
}

static void test_destination_limits(void **state)
{
    (void)state;
    ok("DQ.WASP00000.CA.OR.ID.NV.MT.TXT\nOLN/A1234567");
    ok("DQ.WASP00000.CA.OR.ID.NV.MT.REF-1.TXT\nOLN/A1234567");
    expect("DQ.WASP00000.CA.OR.ID.NV.MT.UT.TXT\nOLN/A1234567", SL_ER_DEST,
           "6 DESTINATIONS; DQ TAKES AT MOST 5");
    expect("DQ.WASP00000.CA.OR.ID.NV.MT.UT.REF-1.TXT\nOLN/A1234567", SL_ER_DEST,
           "6 DESTINATIONS; DQ TAKES AT MOST 5");
    expect("DQ.WASP00000.CA.OR.ID.NV.MT.UT.AZ.TXT\nOLN/A1234567", SL_ER_DEST, "7 DESTINATIONS");
    expect("DQ.WASP00000.CA.OR.ID.NV.MT.UT.AZ.CO.NM.TX.OK.TXT\nOLN/A1234567", SL_ER_DEST,
           "TOO MANY");
    ok("AM.WASP00000.CA.OR.E1.CASP00000.ORSP00000.TXT\nHELLO");
    expect("AM.WASP00000.CA.OR.E1.CASP00000.ORSP00000.IDSP00000.TXT\nHELLO", SL_ER_DEST,
           "6 DESTINATIONS");
}

/* ---- control field ---- */

static void test_control_field(void **state)
{
    (void)state;
    struct sl_msg m;
    struct sl_msg_err e;
    const char *a = "DQ.WASP00000.CA.LTN2000157.TXT\nOLN/A1";
    assert_int_equal(run(a, strlen(a), &m, &e), SL_ER_NONE);
    assert_int_equal(m.ndest, 1);
    assert_string_equal(m.ctl, "LTN2000157");
    sl_msg_clear(&m);
    /* 9 letters/digits: an ORI for AM, the control field for DQ (which takes no ORI) */
    const char *b = "DQ.WASP00000.CA.CASE12345.TXT\nOLN/A1";
    assert_int_equal(run(b, strlen(b), &m, &e), SL_ER_NONE);
    assert_string_equal(m.ctl, "CASE12345");
    assert_int_equal(m.ndest, 1);
    sl_msg_clear(&m);
    const char *c = "AM.WASP00000.CA.CASE12345.TXT\nHI";
    assert_int_equal(run(c, strlen(c), &m, &e), SL_ER_NONE);
    assert_int_equal(m.ndest, 2);
    assert_string_equal(m.ctl, "");
    sl_msg_clear(&m);
    /* 2 characters: a destination for DQ, the control field for a one-destination key */
    const char *d = "DQ.WASP00000.CA.OR.TXT\nOLN/A1";
    assert_int_equal(run(d, strlen(d), &m, &e), SL_ER_NONE);
    assert_int_equal(m.ndest, 2);
    sl_msg_clear(&m);
    const char *f = "KQ.WASP00000.CA.OR.TXT\nOLN/A1";
    assert_int_equal(run(f, strlen(f), &m, &e), SL_ER_NONE);
    assert_int_equal(m.ndest, 1);
    assert_string_equal(m.ctl, "OR");
    sl_msg_clear(&m);
    /* a reply echoes any control field, even one shaped like an ORI */
    const char *g = "DR.WAOLN0000.WASP00000.CASE12345.TXT\nNOT ON FILE";
    assert_int_equal(run(g, strlen(g), &m, &e), SL_ER_NONE);
    assert_string_equal(m.ctl, "CASE12345");
    sl_msg_clear(&m);
    /* a single token is always a destination */
    expect("DQ.WASP00000.REF1.TXT\nOLN/A1", SL_ER_DEST, "REF1");
    /* one character, ten characters, eleven */
    ok("DQ.WASP00000.CA.X.TXT\nOLN/A1");
    ok("DQ.WASP00000.CA.ABCDEFGHIJ.TXT\nOLN/A1");
    expect("DQ.WASP00000.CA.ABCDEFGHIJK.TXT\nOLN/A1", SL_ER_TXT, NULL);
    expect("DQ.WASP00000.CA.A_B.TXT\nOLN/A1", SL_ER_HEADER, "INVALID CHARACTER");
    /* a token beginning with TXT ends the header ... */
    expect("DQ.WASP00000.CA.TXT12.TXT\nOLN/A1", SL_ER_FORMAT22, "IS NOT PFX/VALUE");
    /* ... unless it is 9 letters/digits and a period: an ORI like TXTCJ0000 */
    ok("AM.WASP00000.TXTCJ0000.TXT\nHELLO");
    /* body directly after TXT */
    const char *h = "AM.WASP00000.TX.TXTHELLO TEXAS";
    assert_int_equal(run(h, strlen(h), &m, &e), SL_ER_NONE);
    assert_string_equal(m.dest[0], "TX");
    assert_string_equal(m.text, "HELLO TEXAS");
    sl_msg_clear(&m);
}

/* ---- body ---- */

static void test_body_control_chars(void **state)
{
    (void)state;
    static const char in[] = "DQ.WASP00000.CA.TXT\r\n\x7fNA\x01M/SMI\0TH,JO\x1fHN.\r\nDOB/19500101"
                             ".SEX/M\r\n\x7f";
    struct sl_msg m;
    struct sl_msg_err e;
    assert_int_equal(run(in, sizeof in - 1, &m, &e), SL_ER_NONE);
    field_is(&m, "NAM", "SMITH,JOHN");
    field_is(&m, "DOB", "19500101");
    field_is(&m, "SEX", "M");
    assert_int_equal(strlen(m.text), m.text_len);
    sl_msg_clear(&m);
    /* free text keeps its lines, drops CR, DEL, NUL and leading line breaks */
    static const char am[] = "AM.WASP00000.CA.TXT\r\n\x7fLINE ONE\r\nLINE\0 TWO\r\n";
    assert_int_equal(run(am, sizeof am - 1, &m, &e), SL_ER_NONE);
    assert_string_equal(m.text, "LINE ONE\nLINE TWO\n");
    sl_msg_clear(&m);
    /* control bytes in the header are not ignored */
    expect("DQ.WASP00000.C\nA.TXT\nOLN/A1", SL_ER_TXT, NULL);
}

static void test_body_fields(void **state)
{
    (void)state;
    struct sl_msg m;
    struct sl_msg_err e;
    const char *a = "DQ.WASP00000.CA.TXT  NAM/ SMITH,JOHN  . DOB/19500101 .SEX/M. ";
    assert_int_equal(run(a, strlen(a), &m, &e), SL_ER_NONE);
    field_is(&m, "NAM", "SMITH,JOHN");
    field_is(&m, "DOB", "19500101");
    assert_int_equal(m.nfields, 3);
    sl_msg_clear(&m);
    const char *b = "RQ.WASP00000.CA.TXT\nVIN/1HGCM82633A004352.";
    assert_int_equal(run(b, strlen(b), &m, &e), SL_ER_NONE);
    assert_int_equal(m.nfields, 1);
    sl_msg_clear(&m);
    const char *c = "DQ.WASP00000.CA.TXT\nOLN/A1.LGP/ORDER 2026/114";
    assert_int_equal(run(c, strlen(c), &m, &e), SL_ER_NONE);
    field_is(&m, "LGP", "ORDER 2026/114");
    sl_msg_clear(&m);
    expect("DQ.WASP00000.CA.TXT\nOLN/A1..SEX/M", SL_ER_FORMAT22, "EMPTY FIELD 2");
    expect("DQ.WASP00000.CA.TXT\n.OLN/A1", SL_ER_FORMAT22, "EMPTY FIELD 1");
    expect("DQ.WASP00000.CA.TXT\nOLN=A1", SL_ER_FORMAT22, "IS NOT PFX/VALUE");
    expect("DQ.WASP00000.CA.TXT\nOLN/A1.ol/x", SL_ER_FORMAT22, "FIELD 2");
    expect("DQ.WASP00000.CA.TXT\nOLN/", SL_ER_FORMAT22, "OLN MUST BE");
    expect("DQ.WASP00000.CA.TXT\nOL/A", SL_ER_FORMAT22, "IS NOT PFX/VALUE");
    expect("DQ.WASP00000.CA.TXT\nOLN/ ", SL_ER_FORMAT22, "OLN MUST BE");
    /* 48 fields fit, 49 do not */
    char q[2048] = "DQ.WASP00000.CA.TXT\nOLN/A1";
    for (int i = 1; i < SL_MSG_MAX_FIELDS; i++)
        strcat(q, ".RSN/N");
    assert_int_equal(sl_msg_parse(q, strlen(q), (memset(&m, 0, sizeof m), &m), &e), 0);
    assert_int_equal(m.nfields, SL_MSG_MAX_FIELDS);
    sl_msg_clear(&m);
    strcat(q, ".RSN/N");
    expect(q, SL_ER_FORMAT22, "MORE THAN 48 FIELDS");
}

/* ---- field rules ---- */

static void test_field_sets(void **state)
{
    (void)state;
    expect("DQ.WASP00000.CA.TXT", SL_ER_MISSING, "OLN OR NAM, DOB, SEX");
    expect("DQ.WASP00000.CA.TXT\nRSN/N", SL_ER_MISSING, "OLN OR NAM, DOB, SEX");
    expect("DQ.WASP00000.CA.TXT\nNAM/SMITH,JOHN.DOB/19500101", SL_ER_FORMAT22, "SEX MISSING");
    expect("DQ.WASP00000.CA.TXT\nNAM/SMITH,JOHN.SEX/M", SL_ER_FORMAT22, "DOB MISSING");
    expect("DQ.WASP00000.CA.TXT\nOLN/A1.NAM/SMITH,JOHN.DOB/19500101.SEX/M", SL_ER_FORMAT22,
           "OLN, NAM, DOB, SEX DO NOT FORM ONE OPTION");
    expect("DQ.WASP00000.CA.TXT\nOLN/A1.VIN/123", SL_ER_FORMAT22, "FIELD VIN NOT VALID FOR DQ");
    expect("DQ.WASP00000.CA.TXT\nOLN/A1.XYZ/123", SL_ER_FORMAT22, "FIELD XYZ NOT VALID FOR DQ");
    expect("DQ.WASP00000.CA.TXT\nOLN/A1.OLN/B2", SL_ER_FORMAT22, "OLN GIVEN TWICE");
    expect("RQ.WASP00000.CA.TXT\nLIC/ABC.LIY/2026.LIT/PC.VIN/1HG", SL_ER_FORMAT22,
           "DO NOT FORM ONE OPTION");
    expect("RQ.WASP00000.CA.TXT\nLIY/2026", SL_ER_FORMAT22, "LIC, LIT MISSING");

    /* the .22. text for DQ lists its sets from the table */
    struct sl_msg_err e = {SL_ER_FORMAT22, "SEX MISSING"};
    struct sl_buf b = SL_BUF_INIT;
    sl_msg_format_er_body(&e, "DQ", "DQ.X", 4, &b);
    sl_buf_append(&b, "", 1);
    assert_string_equal((char *)b.data,
                        ".22. INVALID MESSAGE FORMAT - REFER TO DQ MKE OPTIONS BELOW\n"
                        "1. OLN\n"
                        "2. NAM, DOB, SEX\n"
                        "SEX MISSING\n"
                        "ORIGINAL MESSAGE\n"
                        "DQ.X");
    sl_buf_free(&b);
}

static void test_field_values(void **state)
{
    (void)state;
    ok("DQ.WASP00000.CA.TXT\nNAM/O'BRIEN-SMITH,MARY ANN JR.DOB/19800229.SEX/X");
    ok("DQ.WASP00000.CA.TXT\nNAM/SMITH, JOHN.DOB/19800229.SEX/U");
    expect("DQ.WASP00000.CA.TXT\nNAM/SMITH JOHN.DOB/19500101.SEX/M", SL_ER_FORMAT22, "NAM");
    expect("DQ.WASP00000.CA.TXT\nNAM/SMITH,.DOB/19500101.SEX/M", SL_ER_FORMAT22, "NAM");
    expect("DQ.WASP00000.CA.TXT\nNAM/SMITH,JOHN,Q.DOB/19500101.SEX/M", SL_ER_FORMAT22, "NAM");
    expect("DQ.WASP00000.CA.TXT\nNAM/SMITH2,JOHN.DOB/19500101.SEX/M", SL_ER_FORMAT22, "NAM");
    expect("DQ.WASP00000.CA.TXT\nNAM/ABCDEFGHIJKLMNOPQRSTUVWXYZ,ABCDE.DOB/19500101.SEX/M",
           SL_ER_FORMAT22, "NAM");
    expect("DQ.WASP00000.CA.TXT\nNAM/SMITH,JOHN.DOB/19500101.SEX/Q", SL_ER_FORMAT22,
           "SEX MUST BE M, F, X OR U");
    expect("DQ.WASP00000.CA.TXT\nNAM/SMITH,JOHN.DOB/19500101.SEX/MF", SL_ER_FORMAT22, "SEX");
    ok("DQ.WASP00000.CA.TXT\nOLN/A1.RSN/I.PUR/S.IMQ/N");
    expect("DQ.WASP00000.CA.TXT\nOLN/A1.RSN/X", SL_ER_FORMAT22, "RSN MUST BE ONE OF");
    expect("DQ.WASP00000.CA.TXT\nOLN/A1.PUR/X", SL_ER_FORMAT22, "PUR MUST BE ONE OF");
    expect("DQ.WASP00000.CA.TXT\nOLN/A1.IMQ/YES", SL_ER_FORMAT22, "IMQ MUST BE Y OR N");
    expect("DQ.WASP00000.CA.TXT\nOLN/A1.ATN/ABCDEFGHIJKLMNOPQRSTUVWXYZABCDE", SL_ER_ATN,
           "ATN MUST BE");
    ok("DQ.WASP00000.CA.TXT\nOLN/A1.ATN/ABCDEFGHIJKLMNOPQRSTUVWXYZABCD");
    expect("DQ.WASP00000.CA.TXT\nOLN/A1.CAS/1234567890123456789012345678901", SL_ER_FORMAT22,
           "CAS MUST BE");
    expect("DQ.WASP00000.CA.TXT\nOLN/A1.LGP/1234567890123456789012345678901", SL_ER_FORMAT22,
           "LGP MUST BE");
    ok("DQ.WASP00000.CA.TXT\nOLN/ABCDEFGHIJ0123456789");
    expect("DQ.WASP00000.CA.TXT\nOLN/ABCDEFGHIJ01234567890", SL_ER_FORMAT22, "OLN MUST BE");
    expect("DQ.WASP00000.CA.TXT\nOLN/A 1", SL_ER_FORMAT22, "OLN MUST BE");
    expect("DQ.WASP00000.CA.TXT\nOLN/a1", SL_ER_FORMAT22, "OLN MUST BE");
    expect("RQ.WASP00000.CA.TXT\nLIC/ABC.LIY/202.LIT/PC", SL_ER_YEAR, "LIY");
    expect("RQ.WASP00000.CA.TXT\nLIC/ABC.LIY/XX.LIT/PC", SL_ER_YEAR, "LIY");
    expect("RQ.WASP00000.CA.TXT\nLIC/ABC.LIY/2026.LIT/P1", SL_ER_FORMAT22, "LIT");
    expect("RQ.WASP00000.CA.TXT\nLIC/ABC-1.LIY/2026.LIT/PC", SL_ER_FORMAT22, "LIC");
    expect("RQ.WASP00000.CA.TXT\nLIC/ABCDEFGHIJK.LIY/2026.LIT/PC", SL_ER_FORMAT22, "LIC");
    expect("RQ.WASP00000.CA.TXT\nVIN/1HGCM82633A0043521", SL_ER_FORMAT22, "VIN");
    expect("RQ.WASP00000.CA.TXT\nVIN/1HGCM82633A004352.VYR/03", SL_ER_YEAR, "VYR");
    expect("RQ.WASP00000.CA.TXT\nVIN/1HGCM82633A004352.VYR/1899", SL_ER_YEAR, "VYR");
    expect("RQ.WASP00000.CA.TXT\nVIN/1HGCM82633A004352.VMA/H", SL_ER_FORMAT22, "VMA");
}

static void test_dob(void **state)
{
    (void)state;
    int y, m, d;
    assert_int_equal(sl_msg_parse_dob("19500101", 8, &y, &m, &d), 0);
    assert_int_equal(y, 1950);
    assert_int_equal(m, 1);
    assert_int_equal(d, 1);
    assert_int_equal(sl_msg_parse_dob("010150", 6, &y, &m, &d), 0);
    assert_int_equal(y, 1950);
    assert_int_equal(sl_msg_parse_dob("022900", 6, &y, &m, &d), 0); /* 2000 was leap */
    assert_int_equal(y, 2000);
    assert_int_equal(sl_msg_parse_dob("010101", 6, &y, &m, &d), 0);
    assert_int_equal(y, 2001);
    /* two-digit years pivot into the past: one year after this year's is last century */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char s[8];
    snprintf(s, sizeof s, "0101%02d", (tm.tm_year + 1901) % 100);
    assert_int_equal(sl_msg_parse_dob(s, 6, &y, &m, &d), 0);
    assert_int_equal(y, tm.tm_year + 1901 - 100);
    assert_int_equal(sl_msg_parse_dob("19000101", 8, &y, &m, &d), 0);
    assert_int_equal(sl_msg_parse_dob("18991231", 8, &y, &m, &d), -1);
    assert_int_equal(sl_msg_parse_dob("20230229", 8, &y, &m, &d), -1);
    assert_int_equal(sl_msg_parse_dob("19000229", 8, &y, &m, &d), -1);
    assert_int_equal(sl_msg_parse_dob("19501301", 8, &y, &m, &d), -1);
    assert_int_equal(sl_msg_parse_dob("19500132", 8, &y, &m, &d), -1);
    assert_int_equal(sl_msg_parse_dob("19500431", 8, &y, &m, &d), -1);
    assert_int_equal(sl_msg_parse_dob("19500001", 8, &y, &m, &d), -1);
    assert_int_equal(sl_msg_parse_dob("000000", 6, &y, &m, &d), -1);
    assert_int_equal(sl_msg_parse_dob("1950011", 7, &y, &m, &d), -1);
    assert_int_equal(sl_msg_parse_dob("195001011", 9, &y, &m, &d), -1);
    assert_int_equal(sl_msg_parse_dob("1950O101", 8, &y, &m, &d), -1);
    assert_int_equal(sl_msg_parse_dob("-1500101", 8, &y, &m, &d), -1);
    assert_int_equal(sl_msg_parse_dob("20991231", 8, &y, &m, &d), -1); /* future */
    assert_int_equal(sl_msg_parse_dob("", 0, &y, &m, &d), -1);
    expect("DQ.WASP00000.CA.TXT\nNAM/SMITH,JOHN.DOB/20991231.SEX/M", SL_ER_DOB, "DOB MUST BE");
    expect("DQ.WASP00000.CA.TXT\nNAM/SMITH,JOHN.DOB/5001.SEX/M", SL_ER_DOB, NULL);
    ok("DQ.WASP00000.CA.TXT\nNAM/SMITH,JOHN.DOB/123150.SEX/M");
}

/* ---- round trips ---- */

static void roundtrip_input(const char *in)
{
    struct sl_msg m, m2;
    struct sl_msg_err e;
    memset(&m, 0, sizeof m);
    memset(&m2, 0, sizeof m2);
    assert_int_equal(sl_msg_parse(in, strlen(in), &m, &e), 0);
    struct sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_msg_format(&m, &b), 0);
    assert_int_equal(sl_msg_parse((char *)sl_buf_head(&b), sl_buf_used(&b), &m2, &e), 0);
    assert_string_equal(m.key, m2.key);
    assert_string_equal(m.ori, m2.ori);
    assert_int_equal(m.ndest, m2.ndest);
    for (int i = 0; i < m.ndest; i++)
        assert_string_equal(m.dest[i], m2.dest[i]);
    assert_string_equal(m.ctl, m2.ctl);
    assert_int_equal(m.text_len, m2.text_len);
    assert_memory_equal(m.text, m2.text, m.text_len);
    assert_int_equal(m.nfields, m2.nfields);
    sl_buf_free(&b);
    sl_msg_clear(&m);
    sl_msg_clear(&m2);
}

static void test_roundtrip_input(void **state)
{
    (void)state;
    roundtrip_input("KQ.AZNLETS20.AZ.TXT\r\nNAM/SMITH,JOHN.DOB/19500101.SEX/M");
    roundtrip_input("DQ.WASP00000.CA.OR.ID.NV.MT.LTN2000157.TXT\nOLN/A1234567");
    roundtrip_input("AM.WASP00000.TXTCJ0000.TXTHELLO\n\nWORLD\n");
    roundtrip_input("DR.WAOLN0000.WASP00000.CASE12345.TXT\nLINE 1\nLINE 2");
    roundtrip_input("AM.AZNLETS20.NLNLEUPDT.TXT");

    /* a message composed from fields (as `stateline query` does), text NULL */
    struct sl_msg m;
    memset(&m, 0, sizeof m);
    strcpy(m.key, "DQ");
    strcpy(m.ori, "WASP00000");
    m.ndest = 2;
    strcpy(m.dest[0], "CA");
    strcpy(m.dest[1], "E1");
    strcpy(m.ctl, "REF-7");
    m.nfields = 2;
    strcpy(m.fields[0].pfx, "OLN");
    m.fields[0].val = "A1234567";
    m.fields[0].len = 8;
    strcpy(m.fields[1].pfx, "CAS");
    m.fields[1].val = "2026-114";
    m.fields[1].len = 8;
    struct sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_msg_format(&m, &b), 0);
    sl_buf_append(&b, "", 1);
    assert_string_equal((char *)b.data, "DQ.WASP00000.CA.E1.REF-7.TXT\nOLN/A1234567.CAS/2026-114");
    sl_buf_reset(&b);
    /* a 2-character control field on a DQ would read back as a destination: refused */
    strcpy(m.ctl, "OR");
    assert_int_equal(sl_msg_format(&m, &b), -1);
    assert_int_equal(sl_buf_used(&b), 0);
    strcpy(m.ctl, "TXTX");
    assert_int_equal(sl_msg_format(&m, &b), -1);
    strcpy(m.ctl, "");
    strcpy(m.dest[1], "CASP00000");
    assert_int_equal(sl_msg_format(&m, &b), -1);
    strcpy(m.dest[1], "CA");
    assert_int_equal(sl_msg_format(&m, &b), -1); /* repeated */
    m.ndest = 1;
    m.fields[1].val = "2026.114";
    assert_int_equal(sl_msg_format(&m, &b), -1); /* a period in a value */
    strcpy(m.key, "LPQ");
    assert_int_equal(sl_msg_format(&m, &b), -1);
    sl_buf_free(&b);
}

static void fill_hdr(struct sl_outhdr *h)
{
    memset(h, 0, sizeof *h);
    strcpy(h->key, "DQ");
    strcpy(h->ori, "WASP00000");
    h->rx_time = 1795703100; /* 2026-11-26 14:25 UTC */
    h->rx_seq = 101239;
    h->tx_time = 1795703100 + 59;
    h->tx_seq = 1233;
    strcpy(h->dest, "CA");
    strcpy(h->ctl, "LTN2000157");
    h->has_req = 1;
    strcpy(h->req.ori, "WASP00000");
    strcpy(h->req.member, "WA");
    strcpy(h->req.type, "SA");
    strcpy(h->req.cats, "ACDZ");
    strcpy(h->req.parent, "");
    strcpy(h->req.tags, "task-force");
}

static void test_output_format(void **state)
{
    (void)state;
    struct sl_outhdr h;
    fill_hdr(&h);
    struct sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_msg_format_output(&h, "OLN/A1234567", 12, &b), 0);
    sl_buf_append(&b, "", 1);
    assert_string_equal((char *)b.data,
                        "DQ.WASP00000\n"
                        "14:25 11/26/2026 01239\n"
                        "14:25 11/26/2026 01233 CA\n"
                        "CTL/LTN2000157\n"
                        "VRQ/ORI=WASP00000;MBR=WA;TYP=SA;CAT=ACDZ;PAR=;TAG=task-force\n"
                        "TXT\n"
                        "OLN/A1234567");
    sl_buf_free(&b);
}

/* The two stamps: the send stamp in another minute, day and year than the receive stamp;
 * sequence numbers of every width (mod 100000); times clamped to 1970..9999. */
static void test_output_stamps(void **state)
{
    (void)state;
    static const struct {
        int64_t rx, tx;
        unsigned rx_seq, tx_seq;
        const char *want;
    } cases[] = {
        {1293839999, 1293840000, 0, 7, "23:59 12/31/2010 00000\n00:00 01/01/2011 00007 CA\n"},
        {1764166800, 1764166859, 123456, 99999,
         "14:20 11/26/2025 23456\n14:20 11/26/2025 99999 CA\n"},
        {-5, 253402300799LL + 100, 42, 100000,
         "00:00 01/01/1970 00042\n23:59 12/31/9999 00000 CA\n"},
        {951782400, 951868799, 5, 10, "00:00 02/29/2000 00005\n23:59 02/29/2000 00010 CA\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sl_outhdr h;
        fill_hdr(&h);
        h.rx_time = cases[i].rx;
        h.tx_time = cases[i].tx;
        h.rx_seq = cases[i].rx_seq;
        h.tx_seq = cases[i].tx_seq;
        struct sl_buf b = SL_BUF_INIT;
        assert_int_equal(sl_msg_format_output(&h, "", 0, &b), 0);
        sl_buf_append(&b, "", 1);
        const char *got = strchr((char *)b.data, '\n') + 1;
        assert_memory_equal(got, cases[i].want, strlen(cases[i].want));
        sl_buf_free(&b);
    }
}

/* The body copy takes eight bytes at a time when they are all printable ASCII: against
 * the byte-by-byte rule (control bytes dropped, a line break kept in text after the
 * first character, a byte above 0x7f refused with its offset) on random bodies made of
 * the bytes at every boundary, at every length and alignment. */
static void test_body_copy_matches_bytewise(void **state)
{
    (void)state;
    static const unsigned char pool[] = {'A', 'z', ' ', '~', '/', '.', '\n', '\r', 0x00, 0x1f,
                                         0x20, 0x7e, 0x7f, 0x80, 0xff, '\t'};
    static const char head[] = "AM.AZNLETS20.NLNLEUPDT.TXT\n";
    uint64_t r = 0x9e3779b97f4a7c15ull;
    char in[sizeof head + 80], want[80];
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 70);
        memcpy(in, head, sizeof head - 1);
        char *b = in + sizeof head - 1;
        int rare = round % 3; /* mostly printable bodies, so the fast path runs too */
        for (size_t i = 0; i < n; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            b[i] = (char)(rare && r % 9 == 0 ? pool[(r >> 8) % sizeof pool]
                                             : pool[(r >> 8) % 6]);
        }
        /* the rule, byte by byte */
        size_t o = 0, bad = (size_t)-1;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)b[i];
            if (c >= 0x80) {
                bad = i;
                break;
            }
            if (c < 0x20 || c == 0x7f) {
                if (c == '\n' && o > 0)
                    want[o++] = '\n';
                continue;
            }
            want[o++] = (char)c;
        }
        struct sl_msg m;
        struct sl_msg_err e;
        memset(&m, 0, sizeof m);
        int rc = sl_msg_parse(in, sizeof head - 1 + n, &m, &e);
        if (bad != (size_t)-1) {
            assert_int_equal(rc, -1);
            assert_int_equal(e.code, SL_ER_FORMAT);
            char off[40];
            snprintf(off, sizeof off, "AT OFFSET %zu", sizeof head - 1 + bad);
            assert_non_null(strstr(e.detail, off));
        } else if (rc == 0) {
            assert_int_equal(m.text_len, o);
            assert_memory_equal(m.text, want, o);
        } else {
            /* refused for another reason (e.g. an empty AM body): not the copy's business,
             * but never for a byte the rule keeps */
            assert_int_not_equal(e.code, SL_ER_FORMAT);
        }
        sl_msg_clear(&m);
    }
}

static void test_output_roundtrip(void **state)
{
    (void)state;
    struct sl_outhdr h, h2;
    fill_hdr(&h);
    strcpy(h.req.parent, "DHS/ICE/ERO");
    /* hostile directory values: escaped, not smuggled */
    strcpy(h.req.tags, "a;TAG=x\nTXT\nVRQ/ORI=CASP00000 100%");
    strcpy(h.req.type, "=;");
    const char *body = "TXT\nVRQ/ORI=EVIL00000;MBR=XX;TYP=FE;CAT=D;PAR=;TAG=\n";
    struct sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_msg_format_output(&h, body, strlen(body), &b), 0);
    const char *bp;
    size_t bl;
    struct sl_msg_err e;
    assert_int_equal(sl_msg_parse_output((char *)sl_buf_head(&b), sl_buf_used(&b), &h2, &bp, &bl,
                                         &e), 0);
    assert_string_equal(h2.key, "DQ");
    assert_int_equal(h2.rx_time, 1795703100);
    assert_int_equal(h2.tx_time, 1795703100); /* minutes only */
    assert_int_equal(h2.rx_seq, 1239);
    assert_int_equal(h2.tx_seq, 1233);
    assert_string_equal(h2.ctl, "LTN2000157");
    assert_int_equal(h2.has_req, 1);
    assert_string_equal(h2.req.ori, "WASP00000");
    assert_string_equal(h2.req.state, "WA");
    assert_string_equal(h2.req.parent, "DHS/ICE/ERO");
    assert_string_equal(h2.req.tags, h.req.tags);
    assert_string_equal(h2.req.type, "=;");
    assert_int_equal(bl, strlen(body));
    assert_memory_equal(bp, body, bl);
    sl_buf_free(&b);

    /* no control field, no requester, empty body */
    fill_hdr(&h);
    h.ctl[0] = '\0';
    h.has_req = 0;
    strcpy(h.dest, "AZNLETS20");
    struct sl_buf c = SL_BUF_INIT;
    assert_int_equal(sl_msg_format_output(&h, NULL, 0, &c), 0);
    assert_int_equal(sl_msg_parse_output((char *)sl_buf_head(&c), sl_buf_used(&c), &h2, &bp, &bl,
                                         &e), 0);
    assert_int_equal(h2.has_req, 0);
    assert_string_equal(h2.ctl, "");
    assert_string_equal(h2.dest, "AZNLETS20");
    assert_int_equal(bl, 0);
    sl_buf_free(&c);

    /* bad shapes are refused by the formatter */
    fill_hdr(&h);
    strcpy(h.dest, "C\nA");
    assert_int_equal(sl_msg_format_output(&h, NULL, 0, &c), -1);
    fill_hdr(&h);
    strcpy(h.ctl, "A\nVRQ/");
    assert_int_equal(sl_msg_format_output(&h, NULL, 0, &c), -1);
    assert_int_equal(sl_buf_used(&c), 0);
    sl_buf_free(&c);
}

static void test_vrq_forgery_in_body(void **state)
{
    (void)state;
    /* A sender writes a VRQ line into its body; the hub formats the output with the real
     * requester; the receiver sees the real one, and the forged line stays body. */
    const char *in = "DQ.WASP00000.CA.TXT\nOLN/A1\nTXT\nVRQ/ORI=CASP00000;MBR=CA;TYP=SA;"
                     "CAT=ACDZ;PAR=;TAG=";
    struct sl_msg m;
    struct sl_msg_err e;
    memset(&m, 0, sizeof m);
    assert_int_equal(sl_msg_parse(in, strlen(in), &m, &e), 0);
    struct sl_outhdr h, h2;
    fill_hdr(&h);
    struct sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_msg_format_output(&h, m.text, m.text_len, &b), 0);
    const char *bp;
    size_t bl;
    assert_int_equal(sl_msg_parse_output((char *)sl_buf_head(&b), sl_buf_used(&b), &h2, &bp, &bl,
                                         &e), 0);
    assert_string_equal(h2.req.ori, "WASP00000");
    assert_non_null(memmem(bp, bl, "VRQ/ORI=CASP00000", 17));
    sl_buf_free(&b);
    sl_msg_clear(&m);

    /* A body with a raw line break (free text) cannot do it either. */
    const char *raw = "AM.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\nTXT\n"
                      "VRQ/ORI=CASP00000;MBR=CA;TYP=SA;CAT=ACDZ;PAR=;TAG=\nTXT\nHI";
    assert_int_equal(sl_msg_parse_output(raw, strlen(raw), &h2, &bp, &bl, &e), 0);
    assert_int_equal(h2.has_req, 0);
    assert_memory_equal(bp, "VRQ/", 4);
}

static void test_parse_delivered(void **state)
{
    (void)state;
    /* what a state's gateway receives: a DQ with the verified requester */
    const char *in = "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\n"
                     "CTL/LTN2000157\n"
                     "VRQ/ORI=WASP00000;MBR=WA;TYP=SA;CAT=ACDZ;PAR=;TAG=task-force\n"
                     "TXT\nNAM/SMITH,JOHN.DOB/19500101.SEX/M.PUR/C";
    struct sl_outhdr h;
    struct sl_msg m;
    struct sl_msg_err e;
    memset(&m, 0, sizeof m);
    assert_int_equal(sl_msg_parse_delivered(in, strlen(in), &h, &m, &e), 0);
    assert_string_equal(h.req.tags, "task-force");
    assert_string_equal(m.key, "DQ");
    assert_string_equal(m.ori, "WASP00000");
    assert_int_equal(m.ndest, 1);
    assert_string_equal(m.dest[0], "CA");
    assert_string_equal(m.ctl, "LTN2000157");
    assert_int_equal(m.nfields, 4);
    field_is(&m, "PUR", "C");
    assert_int_equal(sl_msg_check(&m, &e), 0);
    sl_msg_clear(&m);
    /* a reply keeps its lines */
    const char *dr = "DR.WAOLN0000\n14:25 11/26/2026 01240\n14:26 11/26/2026 00007 WASP00000\n"
                     "TXT\nNOT ON FILE\r\nSEARCHED: OLN";
    assert_int_equal(sl_msg_parse_delivered(dr, strlen(dr), &h, &m, &e), 0);
    assert_string_equal(m.text, "NOT ON FILE\nSEARCHED: OLN");
    sl_msg_clear(&m);
    /* unknown key, bad body: refused, nothing leaks */
    const char *lpq = "LPQ.AZNLETS20\n14:25 11/26/2026 01240\n14:26 11/26/2026 00007 NL\nTXT\n";
    assert_int_equal(sl_msg_parse_delivered(lpq, strlen(lpq), &h, &m, &e), -1);
    assert_int_equal(e.code, SL_ER_HEADER);
    sl_msg_clear(&m);
    const char *bad = "DQ.WASP00000\n14:25 11/26/2026 01240\n14:26 11/26/2026 00007 CA\nTXT\n"
                      "OLN/A1..SEX/M";
    assert_int_equal(sl_msg_parse_delivered(bad, strlen(bad), &h, &m, &e), -1);
    assert_int_equal(e.code, SL_ER_FORMAT22);
    sl_msg_clear(&m);
}

static void test_output_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "DQ.WASP00000",
        "DQ.WASP00000\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\nTX",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\nCTL/A\n",
        "DQ.WASP0000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\nTXT\n",
        "DQ.WASP00000X\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\nTXT\n",
        "D.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\nTXT\n",
        "DQ.WASP00000\n24:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\nTXT\n",
        "DQ.WASP00000\n14:25 02/30/2026 01239\n14:25 11/26/2026 01233 CA\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 1239\n14:25 11/26/2026 01233 CA\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 012390\n14:25 11/26/2026 01233 CA\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 C\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CASP000001\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233  CA\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\nCTL/\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\nCTL/A\nCTL/B\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\nXYZ/A\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\n\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\n"
        "VRQ/ORI=WASP00000;MBR=WA;TYP=SA;CAT=ACDZ;PAR=;TAG=a;b\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\n"
        "VRQ/ORI=WASP00000;MBR=WA;TYP=SA;CAT=ACDZ;PAR=\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\n"
        "VRQ/ORI=WASP0000;MBR=WA;TYP=SA;CAT=ACDZ;PAR=;TAG=\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\n"
        "VRQ/ORI=WASP00000;MBR=WA;TYP=SAX;CAT=ACDZ;PAR=;TAG=\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\n"
        "VRQ/ORI=WASP00000;MBR=WA;TYP=S%3;CAT=ACDZ;PAR=;TAG=\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\n"
        "VRQ/ORI=WASP00000;MBR=WA;TYP=S%00;CAT=ACDZ;PAR=;TAG=\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\n"
        "VRQ/ORI=WASP00000;MBR=WA;TYP=SA;CAT=ACDZ;PAR=;TAG=\n"
        "VRQ/ORI=WASP00000;MBR=WA;TYP=SA;CAT=ACDZ;PAR=;TAG=\nTXT\n",
        "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\n"
        "VRQ/ORI=WASP00000;MBR=WA;TYP=SA;CAT=ACDZ;PAR=;TAG=\nCTL/A\nTXT\n",
    };
    struct sl_outhdr h;
    const char *bp;
    size_t bl;
    struct sl_msg_err e;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* copy into an exact-size heap buffer so ASan sees any read past the end */
        size_t n = strlen(bad[i]);
        char *p = malloc(n ? n : 1);
        memcpy(p, bad[i], n);
        int r = sl_msg_parse_output(p, n, &h, &bp, &bl, &e);
        if (r != -1)
            print_error("accepted bad header %zu: %s\n", i, bad[i]);
        assert_int_equal(r, -1);
        assert_int_equal(e.code, SL_ER_HEADER);
        free(p);
    }
}

static void test_truncated_inputs(void **state)
{
    (void)state;
    /* every prefix of a valid message, in an exact-size heap buffer: no crash, no read past
     * the end, and the message is valid only when complete enough */
    const char *full = "DQ.WASP00000.CA.OR.LTN2000157.TXT\r\nNAM/SMITH,JOHN.DOB/19500101.SEX/M";
    size_t n = strlen(full);
    for (size_t i = 0; i <= n; i++) {
        char *p = malloc(i ? i : 1);
        memcpy(p, full, i);
        struct sl_msg m;
        struct sl_msg_err e;
        memset(&m, 0, sizeof m);
        int r = sl_msg_parse(p, i, &m, &e);
        if (r == 0)
            r = sl_msg_check(&m, &e);
        if (i < strlen("DQ.WASP00000.CA.OR.LTN2000157.TXT"))
            assert_int_equal(r, -1);
        sl_msg_clear(&m);
        free(p);
    }
}

static void test_long_values(void **state)
{
    (void)state;
    size_t n = 200000;
    char *p = malloc(n + 64);
    int o = sprintf(p, "DQ.WASP00000.CA.TXT\nOLN/");
    memset(p + o, 'A', n);
    struct sl_msg m;
    struct sl_msg_err e;
    assert_int_equal(run(p, (size_t)o + n, &m, &e), SL_ER_FORMAT22);
    assert_non_null(strstr(e.detail, "OLN MUST BE"));
    sl_msg_clear(&m);
    o = sprintf(p, "AM.WASP00000.CA.TXT\n");
    memset(p + o, 'X', n);
    assert_int_equal(run(p, (size_t)o + n, &m, &e), SL_ER_NONE);
    assert_int_equal(m.text_len, n);
    /* the ER echo stops at 100 characters */
    struct sl_buf b = SL_BUF_INIT;
    struct sl_msg_err er = {SL_ER_HEADER, "X"};
    sl_msg_format_er_body(&er, NULL, p, (size_t)o + n, &b);
    const char *orig = memmem(b.data, b.len, "ORIGINAL MESSAGE\n", 17);
    assert_non_null(orig);
    assert_int_equal((size_t)((const char *)b.data + b.len - orig) - 17, 100);
    sl_buf_free(&b);
    sl_msg_clear(&m);
    /* a long header token */
    o = sprintf(p, "DQ.WASP00000.");
    memset(p + o, 'C', n);
    assert_int_equal(run(p, (size_t)o + n, &m, &e), SL_ER_TXT);
    sl_msg_clear(&m);
    free(p);
}

static void test_er_body(void **state)
{
    (void)state;
    struct sl_msg_err e = {SL_ER_DEST, "6 DESTINATIONS; DQ TAKES AT MOST 5"};
    struct sl_buf b = SL_BUF_INIT;
    const char in[] = "DQ.WASP00000.A.B\r\n\x7f\x01\xff";
    sl_msg_format_er_body(&e, "DQ", in, sizeof in - 1, &b);
    sl_buf_append(&b, "", 1);
    assert_string_equal((char *)b.data, ".19. INVALID DESTINATION ORIs - 6 DESTINATIONS; DQ TAKES "
                                        "AT MOST 5\nORIGINAL MESSAGE\nDQ.WASP00000.A.B ?");
    sl_buf_reset(&b);
    struct sl_msg_err z = {SL_ER_FORMAT, ""};
    sl_msg_format_er_body(&z, NULL, "x", 1, &b);
    sl_buf_append(&b, "", 1);
    assert_string_equal((char *)b.data, ".00. MESSAGE FORMAT/STRUCTURE ERROR - THE RECEIVED "
                                        "MESSAGE IS INCORRECTLY FORMATTED\nORIGINAL MESSAGE\nx");
    sl_buf_reset(&b);
    /* .22. for a free-text key: no sets to list */
    struct sl_msg_err f = {SL_ER_FORMAT22, "FIELD 1 'X' IS NOT PFX/VALUE"};
    sl_msg_format_er_body(&f, "AM", "", 0, &b);
    sl_buf_append(&b, "", 1);
    assert_string_equal((char *)b.data, ".22. INVALID MESSAGE FORMAT - FIELD 1 'X' IS NOT "
                                        "PFX/VALUE\nORIGINAL MESSAGE\n");
    sl_buf_free(&b);
    assert_string_equal(sl_er_text(SL_ER_DOB), "DOB INVALID or MISSING");
    assert_string_equal(sl_er_text(SL_ER_TXT), "TXT NOT FOUND OR IMPROPERLY FORMED XML");
    assert_string_equal(sl_er_text(SL_ER_NOT_ALLOWED), "MESSAGE TYPE NOT ALLOWED TO DESTINATION");
    assert_string_equal(sl_er_text(SL_ER_MISSING), "FIELDS MISSING");
    assert_string_equal(sl_er_text(SL_ER_ATN), "ATN FIELD INVALID");
    assert_string_equal(sl_er_text(SL_ER_YEAR), "A YEAR FIELD IS INVALID or MISSING");
}

static void test_key_table(void **state)
{
    (void)state;
    static const char *const want[] = {"DQ", "DQG", "DNQ", "KQ", "RQ", "RQG", "RNQ", "RPQ",
                                       "AM", "AML", "NLQ", "NFQ", "SM", "ER", "DR", "DRG",
                                       "DNR", "KR", "RR", "RNR", "RPR", "NLR", "NFR"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct sl_key_info *k = sl_key_lookup(want[i]);
        assert_non_null(k);
        assert_string_equal(k->key, want[i]);
        assert_true(k->max_dest >= 1 && k->max_dest <= SL_MSG_MAX_DEST);
        assert_true(k->dest_kinds != 0);
        if (k->reply)
            assert_non_null(sl_key_lookup(k->reply));
        assert_true(k->body == SL_BODY_TEXT || k->nsets > 0);
    }
    int n = 0;
    while (sl_key_at(n))
        n++;
    assert_int_equal(n, (int)(sizeof want / sizeof want[0]));
    assert_null(sl_key_lookup("D"));
    assert_null(sl_key_lookup("DQX"));
    assert_null(sl_key_lookup("LPQ"));
    assert_null(sl_key_lookup(""));
    assert_int_equal(sl_key_lookup("SM")->priority, 0);
    assert_true(sl_key_lookup("DQG")->priority > sl_key_lookup("DQ")->priority);
    assert_int_equal(sl_key_lookup("ER")->switch_only, 1);
    assert_int_equal(sl_key_lookup("DQ")->category, 'D');
    assert_int_equal(sl_key_lookup("AM")->category, 'A');
    assert_int_equal(sl_key_lookup("NLQ")->category, 'Z');
    assert_string_equal(sl_key_lookup("DQG")->reply, "DR");
    assert_int_equal(sl_msg_dest_kind("NL", 2), SL_DEST_NL);
    assert_int_equal(sl_msg_dest_kind("WA", 2), SL_DEST_STATE);
    assert_int_equal(sl_msg_dest_kind("E1", 2), SL_DEST_REGION);
    assert_int_equal(sl_msg_dest_kind("WASP00000", 9), SL_DEST_ORI);
    assert_int_equal(sl_msg_dest_kind("1E", 2), 0);
    assert_int_equal(sl_msg_dest_kind("WASP0000", 8), 0);
}

/* ---- switch message ids (MID/) ---- */

/* 1 when the buffer's bytes hold needle (a buffer is not NUL-terminated). */
static int buf_has(const struct sl_buf *b, const char *needle)
{
    size_t n = strlen(needle), used = sl_buf_used(b);
    const uint8_t *p = sl_buf_head(b);
    for (size_t i = 0; i + n <= used; i++)
        if (memcmp(p + i, needle, n) == 0)
            return 1;
    return 0;
}

static void test_mid_output_header(void **state)
{
    (void)state;
    struct sl_outhdr h, h2;
    memset(&h, 0, sizeof h);
    memcpy(h.key, "DQ", 3);
    memcpy(h.ori, "WASP00000", 10);
    memcpy(h.dest, "CA", 3);
    memcpy(h.ctl, "LTN2000157", 11);
    h.rx_time = h.tx_time = 1764168300;
    h.mid = UINT64_MAX;
    h.has_req = 1;
    memcpy(h.req.ori, "WASP00000", 10);
    memcpy(h.req.member, "WA", 3);
    struct sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_msg_format_output(&h, "OLN/A1", 6, &b), 0);
    /* a NUL-terminated copy for strstr (a buffer holds no NUL) */
    char *text = calloc(1, sl_buf_used(&b) + 1);
    assert_non_null(text);
    memcpy(text, sl_buf_head(&b), sl_buf_used(&b));
    /* CTL, then MID, then VRQ */
    const char *ctl = strstr(text, "\nCTL/LTN2000157\n");
    const char *mid = strstr(text, "\nMID/18446744073709551615\n");
    const char *vrq = strstr(text, "\nVRQ/");
    assert_non_null(ctl);
    assert_non_null(mid);
    assert_non_null(vrq);
    assert_true(ctl < mid && mid < vrq);
    const char *body;
    size_t blen;
    struct sl_msg_err e;
    assert_int_equal(sl_msg_parse_output(text, strlen(text), &h2, &body, &blen, &e), 0);
    assert_true(h2.mid == UINT64_MAX);
    /* the receiver's view carries it into the message */
    struct sl_msg m;
    memset(&m, 0, sizeof m);
    assert_int_equal(sl_msg_parse_delivered(text, strlen(text), &h2, &m, &e), 0);
    assert_true(m.mid == UINT64_MAX);
    field_is(&m, "OLN", "A1");
    sl_msg_clear(&m);
    assert_true(m.mid == 0);
    /* no id: no line */
    sl_buf_reset(&b);
    h.mid = 0;
    assert_int_equal(sl_msg_format_output(&h, "OLN/A1", 6, &b), 0);
    assert_false(buf_has(&b, "MID/"));
    sl_buf_free(&b);
    free(text);
}

static void mid_refused(const char *in, const char *detail)
{
    struct sl_outhdr h;
    const char *body;
    size_t blen;
    struct sl_msg_err e;
    assert_int_equal(sl_msg_parse_output(in, strlen(in), &h, &body, &blen, &e), -1);
    if (!strstr(e.detail, detail))
        print_error("expected '%s', got '%s'\n", detail, e.detail);
    assert_non_null(strstr(e.detail, detail));
}

static void test_mid_output_malformed(void **state)
{
    (void)state;
#define HDR "DQ.WASP00000\n14:25 11/26/2026 01239\n14:25 11/26/2026 01233 CA\n"
    mid_refused(HDR "MID/0\nTXT\nOLN/A1", "MID MUST BE");
    mid_refused(HDR "MID/012\nTXT\nOLN/A1", "MID MUST BE");
    mid_refused(HDR "MID/\nTXT\nOLN/A1", "MID MUST BE");
    mid_refused(HDR "MID/12A\nTXT\nOLN/A1", "MID MUST BE");
    mid_refused(HDR "MID/18446744073709551616\nTXT\nOLN/A1", "MID MUST BE"); /* 2^64 */
    mid_refused(HDR "MID/123456789012345678901\nTXT\nOLN/A1", "MID MUST BE");
    /* once, and before VRQ, after CTL */
    mid_refused(HDR "MID/1\nMID/2\nTXT\nOLN/A1", "UNEXPECTED HEADER LINE");
    mid_refused(HDR "MID/1\nCTL/X1\nTXT\nOLN/A1", "UNEXPECTED HEADER LINE");
    mid_refused(HDR "VRQ/ORI=WASP00000;MBR=WA;TYP=PD;CAT=D;PAR=;TAG=\nMID/1\nTXT\nOLN/A1",
                "UNEXPECTED HEADER LINE");
    /* a sender's body cannot make one: after TXT it is body */
    const char *in = HDR "TXT\nMID/77\nOLN/A1";
    struct sl_outhdr h;
    const char *body;
    size_t blen;
    struct sl_msg_err e;
    assert_int_equal(sl_msg_parse_output(in, strlen(in), &h, &body, &blen, &e), 0);
    assert_true(h.mid == 0);
#undef HDR
}

static void test_mid_echo_in_reply(void **state)
{
    (void)state;
    struct sl_msg m;
    struct sl_msg_err e;
    memset(&m, 0, sizeof m);
    const char *in = "DR.CAOLN0000.WASP00000.LTN2000157.TXT\r\nMID/1099511627777\r\n"
                     "NOT ON FILE\nSEARCHED: OLN/A1";
    assert_int_equal(run(in, strlen(in), &m, &e), SL_ER_NONE);
    assert_true(m.mid == 1099511627777ull);
    assert_string_equal(m.text, "NOT ON FILE\nSEARCHED: OLN/A1");
    assert_string_equal(m.ctl, "LTN2000157");
    /* format writes it back as the first body line; reads back the same */
    struct sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_msg_format(&m, &b), 0);
    assert_true(buf_has(&b, ".TXT\nMID/1099511627777\nNOT ON"));
    struct sl_msg m2;
    memset(&m2, 0, sizeof m2);
    assert_int_equal(sl_msg_parse((const char *)sl_buf_head(&b), sl_buf_used(&b), &m2, &e), 0);
    assert_true(m2.mid == m.mid);
    assert_string_equal(m2.text, m.text);
    sl_msg_clear(&m2);
    sl_buf_free(&b);
    sl_msg_clear(&m);
    /* only the echo line, nothing else: an empty reply body */
    ok("DR.CAOLN0000.WASP00000.TXTMID/5");
    /* a second MID/ line stays text */
    in = "KR.CAOLN0000.WASP00000.TXT\nMID/5\nMID/6";
    assert_int_equal(run(in, strlen(in), &m, &e), SL_ER_NONE);
    assert_true(m.mid == 5);
    assert_string_equal(m.text, "MID/6");
    /* and a message without mid cannot carry text that would read as one */
    struct sl_msg f = m;
    f.mid = 0;
    sl_buf_init(&b);
    assert_int_equal(sl_msg_format(&f, &b), -1);
    sl_buf_free(&b);
    sl_msg_clear(&m);
    /* malformed echoes and MID/ anywhere but a reply: refused (.01.) */
    expect("DR.CAOLN0000.WASP00000.TXT\nMID/0\nX", SL_ER_HEADER, "MID/ ECHO 'MID/0'");
    expect("DR.CAOLN0000.WASP00000.TXT\nMID/1A\nX", SL_ER_HEADER, "MUST BE 1-20 DIGITS");
    expect("DR.CAOLN0000.WASP00000.TXT\nMID/99999999999999999999\nX", SL_ER_HEADER,
           "MUST BE 1-20 DIGITS");
    expect("AM.WASP00000.CA.TXTMID/12\nHELLO", SL_ER_HEADER,
           "MID/ IS WRITTEN BY THE SWITCH");
    expect("SM.WASP00000.CA.TXT\r\nMID/12", SL_ER_HEADER, "MID/ IS WRITTEN BY THE SWITCH");
    /* a field key: MID is no prefix of DQ (.22. at the check) */
    memset(&m, 0, sizeof m);
    in = "DQ.WASP00000.CA.TXTMID/12.OLN/A1";
    assert_int_equal(sl_msg_parse(in, strlen(in), &m, &e), 0);
    assert_true(m.mid == 0);
    assert_int_equal(sl_msg_check(&m, &e), -1);
    assert_int_equal(e.code, SL_ER_FORMAT22);
    sl_msg_clear(&m);
    /* which keys are replies */
    assert_true(sl_key_is_reply(sl_key_lookup("DR")));
    assert_true(sl_key_is_reply(sl_key_lookup("DRG")));
    assert_true(sl_key_is_reply(sl_key_lookup("RPR")));
    assert_false(sl_key_is_reply(sl_key_lookup("ER")));
    assert_false(sl_key_is_reply(sl_key_lookup("NLR")));
    assert_false(sl_key_is_reply(sl_key_lookup("AM")));
    assert_false(sl_key_is_reply(sl_key_lookup("DQ")));
    assert_false(sl_key_is_reply(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_kq),
        cmocka_unit_test(test_example_rq_error),
        cmocka_unit_test(test_example_help_update),
        cmocka_unit_test(test_example_lpq_unknown),
        cmocka_unit_test(test_example_er_output_header),
        cmocka_unit_test(test_output_stamps),
        cmocka_unit_test(test_body_copy_matches_bytewise),
        cmocka_unit_test(test_example_help_output_header),
        cmocka_unit_test(test_example_nlq_forms),
        cmocka_unit_test(test_valid_keys),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_destination_limits),
        cmocka_unit_test(test_control_field),
        cmocka_unit_test(test_body_control_chars),
        cmocka_unit_test(test_body_fields),
        cmocka_unit_test(test_field_sets),
        cmocka_unit_test(test_field_values),
        cmocka_unit_test(test_dob),
        cmocka_unit_test(test_roundtrip_input),
        cmocka_unit_test(test_output_format),
        cmocka_unit_test(test_output_roundtrip),
        cmocka_unit_test(test_vrq_forgery_in_body),
        cmocka_unit_test(test_parse_delivered),
        cmocka_unit_test(test_output_malformed),
        cmocka_unit_test(test_truncated_inputs),
        cmocka_unit_test(test_long_values),
        cmocka_unit_test(test_er_body),
        cmocka_unit_test(test_key_table),
        cmocka_unit_test(test_mid_output_header),
        cmocka_unit_test(test_mid_output_malformed),
        cmocka_unit_test(test_mid_echo_in_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
