/*
 * term.h - an agency terminal: composing Nlets queries from command-line options, and
 * rendering what the switch delivers for a person or as JSON (docs/query.md).
 *
 * Composition is pure text work (no codec, no socket), so it is unit-tested on its own:
 * the options of `stateline query` are parsed into struct sl_term_opts, and
 * sl_term_compose writes the input form of docs/protocol.md §3:
 *
 *     KEY.SENDERORI.DEST1[.DEST2..DEST5][.CONTROL].TXT LF PFX/value.PFX/value
 *
 * The body follows TXT after one LF (a control character, which the switch ignores, as
 * Nlets receivers do; it keeps the text readable in logs).  Field values are upper-cased
 * (Nlets legacy text is upper-case ASCII); a value may not contain '.', which separates
 * fields, nor control characters.  Free text (AM, replies) is sent as given.
 *
 * Rendering (term_render.c) decodes the output header with the codec (stateline/msg.h)
 * and prints it in words, or as one JSON object per message:
 *
 *     {"key":"DR","from":"CADMV0000","to":"WASP00000","control":"A1",
 *      "received":"2026-11-26T14:25:55Z","received_seq":1239,
 *      "sent":"2026-11-26T14:25:55Z","sent_seq":1233,
 *      "requester":{...only when the switch attached one...},"text":"..."}
 */
#ifndef STATELINE_TERM_H
#define STATELINE_TERM_H

#include <stddef.h>
#include <stdio.h>
#include "stateline/buf.h"

/* Body-field options, in the order they are written into a message body. */
enum sl_term_field {
    SL_TF_OLN, SL_TF_NAM, SL_TF_DOB, SL_TF_SEX,        /* person */
    SL_TF_LIC, SL_TF_LIY, SL_TF_LIT, SL_TF_VIN, SL_TF_VMA, SL_TF_VYR, /* vehicle */
    SL_TF_TYP, SL_TF_SRC, SL_TF_DST, SL_TF_BEG, SL_TF_END, SL_TF_FND, SL_TF_AND, SL_TF_ORR,
    SL_TF_SEQ,                                          /* archive search (NLQ/NFQ) */
    SL_TF_RSN, SL_TF_PUR, SL_TF_IMQ, SL_TF_ATN, SL_TF_CAS, SL_TF_LGP, /* optional */
    SL_TF_COUNT
};

/* What `stateline query` was asked to do.  All strings point into argv (not owned). */
struct sl_term_opts {
    /* the line */
    const char *hub;      /* HOST:PORT */
    const char *certs;    /* directory written by `stateline gen certs` */
    const char *member;   /* from --line MEMBER[:ROLE] (copied into line_member) */
    char line_member[8];
    char line_role[16];   /* "terminal" unless --line says otherwise */
    int role_given;       /* --line named the role (listen defaults to answer) */
    const char *cert, *key, *ca;
    const char *tokens;   /* plain lines: tokens file (default CERTS/tokens) */
    int plain;
    /* the message */
    const char *cmd;      /* dq dnq kq rq rnq rpq am nlq nfq raw listen */
    const char *as;       /* sender ORI */
    const char *to;       /* comma-separated destinations */
    const char *ctl;      /* control field */
    const char *text;     /* AM text */
    int aml;              /* am --aml: the law-enforcement-only AML key */
    const char *field[SL_TF_COUNT];
    const char *raw;      /* raw TEXT, or "-" for stdin */
    /* waiting and printing */
    int wait_s;           /* default 30 */
    int wait_given;       /* --wait was given (listen then stops after that much silence) */
    int json;
    /* listen */
    const char *reply;
    const char *reply_file;
    long count;           /* 0 = forever */
};

/* Parse argv (argv[0] = "query"); options may come before or after the subcommand.
 * Returns 0, or -1 with a usage message in err. */
int sl_term_parse_args(int argc, char **argv, struct sl_term_opts *o, char *err, size_t errlen);

/* Write the input form of the message the options describe (every subcommand but raw and
 * listen) to out.  Checks what a terminal can check without the switch: required options
 * present, options that do not apply to the key, ORI and destination shapes, values
 * without '.'.  Returns 0, or -1 with a message in err (a usage error). */
int sl_term_compose(const struct sl_term_opts *o, struct sl_buf *out, char *err,
                    size_t errlen);

/* The message key a subcommand sends ("dq" -> "DQ", "am" --aml -> "AML"); NULL for raw
 * and listen. */
const char *sl_term_cmd_key(const struct sl_term_opts *o);

/* Write a reply in input form: RKEY.FROM.TO[.CTL].TXT LF text.  to is the requester ORI. */
void sl_term_compose_reply(const char *rkey, const char *from_ori, const char *to,
                           const char *ctl, const char *text, size_t text_len,
                           struct sl_buf *out);

/* ---- what arrives (term_render.c; uses the codec) ---- */

struct sl_outhdr;

/* How a delivered message relates to a query we sent with key qkey and control ctl
 * (ctl "" = none): */
enum sl_term_answer {
    SL_TERM_OTHER = 0, /* unrelated traffic (an AM to this line, another reply) */
    SL_TERM_REPLY = 1, /* the query's reply key (DR for DQ ...), control field matching */
    SL_TERM_ERROR = 2, /* ER from the switch, or SM (destination out of service) */
};
enum sl_term_answer sl_term_classify(const struct sl_outhdr *h, const char *qkey,
                                     const char *ctl);

/* Print one delivered message for a person (header in words, then the text). */
void sl_term_print_human(FILE *f, const struct sl_outhdr *h, const char *body, size_t len);
/* Append one JSON object (no newline) for a delivered message to out. */
void sl_term_json(const struct sl_outhdr *h, const char *body, size_t len, struct sl_buf *out);
/* For a frame that is not in the output form: {"unparsed":true,"error":why,"text":...}. */
void sl_term_json_unparsed(const char *bytes, size_t len, const char *why, struct sl_buf *out);

#endif
