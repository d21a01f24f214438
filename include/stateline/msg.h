/*
 * msg.h - the Nlets legacy text codec (docs/protocol.md §3-5).
 *
 * Input form (what a line sends into the switch):
 *
 *     MKE.SENDERORI.DEST1[.DEST2 ... .DEST5][.CONTROL].TXT[CR LF DEL]PFX/value.PFX/value
 *
 * MKE 2-3 letters; sender ORI 9 characters; 1-5 destinations of 2 (state, region,
 * special code) or 9 (ORI) characters; optional control field of 1-10 characters; the
 * literal TXT.  The body is either fields "PFX/value" separated by '.', no period after the
 * last one (query keys), or free text (AM, SM, replies).  Control characters anywhere in
 * the body are ignored (Nlets: "the receiving state should ignore them").
 *
 * Output form (what the switch delivers): see sl_outhdr below and docs/protocol.md §4.
 *
 * Which fields each key takes, and in which combinations, is one table (msg_keys.c) that
 * both validation and the `.22.` error text read.
 */
#ifndef STATELINE_MSG_H
#define STATELINE_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "stateline/buf.h"

#define SL_ORI_LEN 9
#define SL_MSG_MAX_DEST 5
#define SL_MSG_CTL_MAX 10
#define SL_MSG_MAX_FIELDS 48
#define SL_SWITCH_ORI "NL0000000" /* the only legal originator of ER */

/* Nlets error numbers (ER messages), reference/nlets.md §4.3. */
enum sl_er {
    SL_ER_NONE = -1,
    SL_ER_FORMAT = 0,       /* MESSAGE FORMAT/STRUCTURE ERROR */
    SL_ER_HEADER = 1,       /* .01. INVALID HEADER INFORMATION */
    SL_ER_NOT_ALLOWED = 2,  /* .02. MESSAGE TYPE NOT ALLOWED TO DESTINATION */
    SL_ER_TXT = 3,          /* .03. TXT NOT FOUND */
    SL_ER_DOB = 5,          /* .05. DOB INVALID or MISSING */
    SL_ER_YEAR = 10,        /* .10. A YEAR FIELD IS INVALID or MISSING */
    SL_ER_MISSING = 14,     /* .14. FIELDS MISSING */
    SL_ER_ATN = 16,         /* .16. ATN FIELD INVALID */
    SL_ER_DEST = 19,        /* .19. INVALID DESTINATION ORIs */
    SL_ER_FORMAT22 = 22,    /* .22. INVALID MESSAGE FORMAT - REFER TO <MKE> MKE OPTIONS BELOW */
};

struct sl_msg_err {
    enum sl_er code;
    char detail[160]; /* what exactly was wrong, appended after the standard text */
};

/* One body field.  pfx is the 3-letter prefix; val points into sl_msg.text. */
struct sl_field {
    char pfx[4];
    const char *val;
    uint32_t len;
};

/* A parsed input message.  All strings are NUL-terminated copies; val pointers point
 * into `text`, a cleaned copy of the body owned by the message (sl_msg_clear frees it). */
struct sl_msg {
    char key[4];
    char ori[SL_ORI_LEN + 1];
    int ndest;
    char dest[SL_MSG_MAX_DEST][SL_ORI_LEN + 1];
    char ctl[SL_MSG_CTL_MAX + 1];
    char *text;       /* body with control characters removed, NUL-terminated */
    size_t text_len;
    int nfields;      /* 0 for free-text bodies */
    struct sl_field fields[SL_MSG_MAX_FIELDS];
};

/* Parse the input form.  On error returns -1 and fills err (code + detail); the message
 * may be partly filled and must still be cleared.  Checks structure only: header shape,
 * known key, destination count for the key, TXT.  Field rules are sl_msg_check. */
int sl_msg_parse(const char *in, size_t len, struct sl_msg *m, struct sl_msg_err *err);
void sl_msg_clear(struct sl_msg *m);
/* Check the body against the key's field sets: .14., .05., .10., .16., .22. */
int sl_msg_check(const struct sl_msg *m, struct sl_msg_err *err);
/* First field with this prefix, or NULL. */
const struct sl_field *sl_msg_field(const struct sl_msg *m, const char *pfx);
/* Write the input form of m to out. */
void sl_msg_format(const struct sl_msg *m, struct sl_buf *out);

/* DOB: mmddyy or ccyymmdd -> year/month/day.  Two-digit years pivot so the date is not in
 * the future (a DOB is always in the past).  0 or -1. */
int sl_msg_parse_dob(const char *s, size_t len, int *year, int *month, int *day);

/* ---- the key table ---- */

enum sl_body_kind { SL_BODY_FIELDS = 0, SL_BODY_TEXT = 1 };

/* Destination kinds a key accepts (bit set). */
enum {
    SL_DEST_STATE = 1,  /* 2-character member code of a state/territory/country */
    SL_DEST_REGION = 2, /* 2-character region code */
    SL_DEST_NL = 4,     /* NL: multi-state / switch services */
    SL_DEST_ORI = 8,    /* 9-character ORI */
};

#define SL_KEY_MAX_SETS 6
#define SL_KEY_SET_FIELDS 5

struct sl_key_info {
    const char *key;          /* "DQ" */
    const char *name;         /* "Driver license query" */
    char category;            /* access category the sender ORI needs: 'A','C','D','Z' */
    int max_dest;             /* 1..5 */
    unsigned dest_kinds;      /* SL_DEST_* */
    enum sl_body_kind body;
    const char *reply;        /* key of the answer ("DR"), or NULL */
    int nsets;                /* number of valid field combinations */
    const char *sets[SL_KEY_MAX_SETS][SL_KEY_SET_FIELDS]; /* each NULL-terminated */
    const char *optional;     /* space-separated optional prefixes ("RSN IMQ PUR ...") */
    int priority;             /* 0 highest (SM) .. 3 lowest (regional) */
    int switch_only;          /* 1: only NL0000000 may originate (ER) */
};

const struct sl_key_info *sl_key_lookup(const char *key);
/* Iterate the table: i from 0 until NULL. */
const struct sl_key_info *sl_key_at(int i);

/* Standard text of an ER number ("INVALID HEADER INFORMATION"). */
const char *sl_er_text(enum sl_er code);

/* ---- the output header (what the switch delivers) ---- */

/* The requester as the switch verified it: only the switch writes this, on lines it
 * authenticated, and it strips nothing from senders because a sender cannot put a header
 * line before TXT (docs/protocol.md §4.2). */
struct sl_requester {
    char ori[SL_ORI_LEN + 1];
    char member[8];      /* member line the message came from */
    char type[3];        /* ORION type */
    char cats[5];        /* access categories */
    char state[3];       /* first two characters of the ORI */
    char parent[48];     /* parent agency, "" when none */
    char tags[160];      /* space-separated tags */
};

struct sl_outhdr {
    char key[4];
    char ori[SL_ORI_LEN + 1];  /* originating ORI */
    int64_t rx_time;           /* receive stamp, seconds since epoch, UTC */
    unsigned rx_seq;           /* input sequence number on the sender's line (mod 100000) */
    int64_t tx_time;           /* send stamp */
    unsigned tx_seq;           /* output sequence number on the receiving line (mod 100000) */
    char dest[SL_ORI_LEN + 1]; /* addressee: member code or ORI */
    char ctl[SL_MSG_CTL_MAX + 1];
    int has_req;
    struct sl_requester req;
};

/* Write header + "TXT\n" + body. */
void sl_msg_format_output(const struct sl_outhdr *h, const char *body, size_t body_len,
                          struct sl_buf *out);
/* Parse what sl_msg_format_output wrote; *body points into in. 0 or -1 with err. */
int sl_msg_parse_output(const char *in, size_t len, struct sl_outhdr *h, const char **body,
                        size_t *body_len, struct sl_msg_err *err);

/* Build the body of an ER: ".NN. TEXT detail", valid field sets for .22., then
 * "ORIGINAL MESSAGE" and the first 100 characters of the offending input. */
void sl_msg_format_er_body(const struct sl_msg_err *err, const char *key_for_sets,
                           const char *orig, size_t orig_len, struct sl_buf *out);

#endif
