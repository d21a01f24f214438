/*
 * msg.h - the Nlets legacy text codec (docs/protocol.md, part of docs/protocol.md).
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
 *
 * Control field rule (the token right before TXT, when there are at least two tokens
 * between the sender ORI and TXT): it is the control field when the key takes exactly one
 * destination, or when it cannot be a destination of this key (not 2 or 9 letters/digits,
 * or 9 characters for a key that takes no ORI, or 2 for a key that takes only ORIs).
 * Otherwise it is a destination.  So a DQ to six 2-character codes is refused (.19.),
 * never silently cut to five plus a control field.  The header ends at the first token
 * that begins with TXT, unless that token is 9 letters/digits followed by '.' (an ORI such
 * as TXTCJ0000).  Header tokens are upper-case letters and digits; the control field may
 * also hold '-', must not begin with TXT.
 *
 * Body text (sl_msg.text): field bodies lose every control character (< 0x20, 0x7F);
 * free-text bodies lose leading control characters and every control character except
 * LF, so a reply keeps its lines.  Bytes >= 0x80 are refused (7-bit ASCII).  Field
 * values are trimmed of spaces at both ends and are not NUL-terminated (use len).
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
    char *text;       /* cleaned body (see above: free text keeps inner LF), NUL-terminated */
    size_t text_len;
    int nfields;      /* 0 for free-text bodies */
    struct sl_field fields[SL_MSG_MAX_FIELDS];
    /* The switch message id.  In a reply read by sl_msg_parse: the id the answering line
     * echoed as the first body line "MID/<id>" (taken out of text); in a query read by
     * sl_msg_parse_delivered: the id of the hub's MID/ header line.  0 = none. */
    uint64_t mid;
};

/* The switch message id line (docs/protocol.md §5 and Part III §7): the hub writes
 * "MID/<id>" in the output header of every query it delivers to an answering line; an
 * answering line echoes it as the first line of its reply body.  <id> is 1-20 decimal
 * digits, no leading zero, 1 .. 2^64-1. */
#define SL_MID_PREFIX "MID/"
#define SL_MID_DIGITS 20

/* Parse the input form.  `in` need not be NUL-terminated.  On error returns -1 and fills
 * err (code + detail); the message may be partly filled and must still be cleared.
 * Checks structure only: header shape, known key, destinations (shape, kind and count for
 * the key), TXT, and splits a field body into PFX/value.  Field rules are sl_msg_check.
 * m must be zeroed or cleared before (its old text is not freed here).  Allocates
 * m->text (the only allocation), owned by m. */
int sl_msg_parse(const char *in, size_t len, struct sl_msg *m, struct sl_msg_err *err);
/* A free-text body that begins (after its leading control bytes) with a "MID/" line is
 * the echo of the switch message id when the key is a reply (m->mid, the line is not part
 * of m->text) and refused with .01. for every other key: only the switch writes MID/. */
/* Free m->text and reset m to empty. */
void sl_msg_clear(struct sl_msg *m);
/* Check the body against the key's field sets: .14., .05., .10., .16., .22. */
int sl_msg_check(const struct sl_msg *m, struct sl_msg_err *err);
/* First field with this prefix, or NULL. */
const struct sl_field *sl_msg_field(const struct sl_msg *m, const char *pfx);
/* Append the input form of m to out: "KEY.ORI.D1[..D5][.CTL].TXT\n" + body, where body is
 * m->text, or (text NULL) the fields joined with '.'.  Returns -1 and writes nothing when
 * the header would not read back as the same header (unknown key, bad ORI, a destination
 * the key does not take, repeated, NL with others, a control field that would read as a
 * destination) or the body holds bytes the parser would drop or refuse (control bytes
 * other than inner LF in free text, bytes >= 0x80, '.' or edge spaces in a value).
 * Whether the fields are valid for the key is sl_msg_check's business, not format's. */
int sl_msg_format(const struct sl_msg *m, struct sl_buf *out);

/* Kind of one destination token: SL_DEST_NL for "NL", SL_DEST_STATE for two letters
 * (states, territories, line and special codes: WA, FB, OD, AX, CN), SL_DEST_REGION for
 * letter+digit (E1), SL_DEST_ORI for 9 upper-case letters/digits, 0 for anything else. */
unsigned sl_msg_dest_kind(const char *tok, size_t len);

/* DOB: mmddyy or ccyymmdd -> year/month/day.  Two-digit years pivot so the date is not in
 * the future (a DOB is always in the past).  0 or -1 (not digits, not a calendar date,
 * before 1900, or in the future, UTC). */
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
/* 1 for the keys that answer a query (DR, DRG, DNR, KR, RR, RNR, RPR): priority 1 and not
 * switch-only.  These may echo a MID/ line. */
int sl_key_is_reply(const struct sl_key_info *k);
/* Iterate the table: i from 0 until NULL. */
const struct sl_key_info *sl_key_at(int i);

/* Standard text of an ER number ("INVALID HEADER INFORMATION"); for .22. it is
 * "INVALID MESSAGE FORMAT" (the ER body adds " - REFER TO <MKE> MKE OPTIONS BELOW"). */
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
    uint64_t mid;              /* switch message id (MID/ line), 0 = none */
};

/* Append header + "TXT\n" + body (layout in docs/protocol.md §5):
 *     KEY.ORI
 *     HH:MM MM/DD/CCYY NNNNN             receive stamp (UTC), rx_seq % 100000
 *     HH:MM MM/DD/CCYY NNNNN DEST        send stamp (UTC), tx_seq % 100000, addressee
 *     CTL/<control field>                only when ctl is not empty
 *     MID/<switch message id>            only when mid is not 0
 *     VRQ/ORI=..;MBR=..;TYP=..;CAT=..;PAR=..;TAG=..   only when has_req
 *     TXT
 *     <body>
 * VRQ values are percent-encoded outside [A-Za-z0-9 /_.:-] so no ';' '=' or line break
 * survives raw.  Times outside years 1970..9999 are clamped.  Returns -1 and writes
 * nothing when key, ORI, DEST or CTL are not of their documented shapes. */
int sl_msg_format_output(const struct sl_outhdr *h, const char *body, size_t body_len,
                         struct sl_buf *out);
/* Parse what sl_msg_format_output wrote; *body points into in.  Only lines before the
 * first line that is exactly "TXT" are header, so a body cannot forge a VRQ or MID line.
 * CTL/, MID/, VRQ/ each at most once and in that order.
 * Times come back truncated to the minute; req.state is the ORI's first two characters.
 * 0 or -1 with err (SL_ER_HEADER, detail names the line). */
int sl_msg_parse_output(const char *in, size_t len, struct sl_outhdr *h, const char **body,
                        size_t *body_len, struct sl_msg_err *err);

/* For a receiver (a state's gateway, a terminal): parse the output form into h and into a
 * message m as sl_msg_parse would give it — key, originating ORI, one destination (the
 * addressee of line 3), control field, and the body cleaned and, for query keys, split
 * into fields — ready for sl_msg_check and sl_msg_field.  The key must be in the table.
 * m must be zeroed or cleared before; allocates m->text (owned by m, sl_msg_clear),
 * also on error.  0 or -1 with err. */
int sl_msg_parse_delivered(const char *in, size_t len, struct sl_outhdr *h, struct sl_msg *m,
                           struct sl_msg_err *err);

/* Append the body of an ER:
 *     .NN. TEXT - DETAIL                      (every number but .22.)
 *     .22. INVALID MESSAGE FORMAT - REFER TO RQ MKE OPTIONS BELOW
 *     1. LIC, LIY, LIT                        (the key's valid sets, from the table)
 *     2. VIN
 *     DETAIL
 *     ORIGINAL MESSAGE
 *     <first 100 bytes of orig; runs of control bytes as one space, bytes >= 0x80 as '?'>
 * key_for_sets may be NULL or unknown (no set lines then). */
void sl_msg_format_er_body(const struct sl_msg_err *err, const char *key_for_sets,
                           const char *orig, size_t orig_len, struct sl_buf *out);

#endif
