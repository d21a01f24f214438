/*
 * cmd_query.c - `stateline query`: an agency terminal on a member line (docs/query.md).
 *
 * It composes a query from options (or takes raw text), sends it as one frame, and waits
 * for the answers: the reply of each destination, or an ER/SM from the switch.  `listen`
 * is the other side: a member's answering line that prints what arrives and, with
 * --reply, answers every query with its reply key, addressed to the requester ORI with
 * the control field echoed (a scripted responder for tours and tests).
 *
 * Exit status: 0 every destination replied (listen: stopped as asked), 1 an ER or SM, a
 * timeout, or a failed line, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ctype.h>

#include "stateline/cli.h"
#include "stateline/conn.h"
#include "stateline/core.h"
#include "stateline/frame.h"
#include "stateline/msg.h"
#include "stateline/term.h"

static const char usage[] =
    "usage: stateline query [line options] <what> [options]\n"
    "\n"
    "An agency terminal: send one query to the switch and print the answer.\n"
    "\n"
    "The line:\n"
    "  --hub HOST:PORT       the switch (required)\n"
    "  --certs DIR           credentials written by `stateline gen certs`, with\n"
    "  --line MEMBER[:ROLE]  the line: DIR/MEMBER-ROLE.crt/.key and DIR/ca.crt\n"
    "                        (role terminal or answer; listen defaults to answer)\n"
    "  --cert F --key F --ca F   explicit PEM files instead of --certs\n"
    "  --plain               plain TCP (loopback hubs with plain = yes): the line\n"
    "                        authenticates with its token from --tokens F\n"
    "                        (default DIR/tokens)\n"
    "\n"
    "What to send (--as ORI, your agency's ORI, is required; --ctl X adds a\n"
    "control field of up to 10 characters that comes back in the reply):\n"
    "  dq  --to CA[,NV..] (--oln X | --name \"LAST,FIRST\" --dob YYYYMMDD --sex M)\n"
    "      [--rsn C] [--pur C] [--imq Y] [--atn NAME] [--cas X] [--lgp X]\n"
    "  dnq --to CA --name \"LAST,FIRST\" [--dob D] [--sex S] [...]   name only\n"
    "  kq  --to CA (--oln X | --name N --dob D --sex S) [...]   history, 1 state\n"
    "  rq  --to CA (--lic X --liy YYYY --lit PC | --vin X [--vma M --vyr Y])\n"
    "  rnq --to CA --name \"LAST,FIRST\" [...]          registration by owner name\n"
    "  rpq --to CA --lic PATTERN [...]                 partial plate, 1 state\n"
    "  am  --to CA[,..] --text \"...\" [--aml]           administrative message\n"
    "  nlq --typ DQ,RQ|ALL --beg D --end D (--fnd TEXT | --name N)\n"
    "      [--src X] [--dst X] [--and T] [--orr T]    archive search (to NL)\n"
    "  nfq --seq N                                     archived message (NL)\n"
    "  raw \"DQ.WASP00000.CA.TXT OLN/A1234567\"   or   raw -   (text from stdin)\n"
    "\n"
    "  --wait S              seconds to wait for the answers (default 30)\n"
    "  --json                one JSON object per message, not text for a person\n"
    "\n"
    "The answering side:\n"
    "  listen [--reply TEXT | --reply-file F] [--as ORI] [--count N] [--wait S]\n"
    "      print every message that arrives; with --reply, answer each query\n"
    "      with its reply key (DR for DQ, KR, RR, DNR, RNR, RPR), addressed to\n"
    "      the requester, from --as (default: the ORI the query was addressed\n"
    "      to, else the member's Nlets generic ORI: MEMBER+OLN0000, the licence\n"
    "      bureau, for DR KR DNR; MEMBER+LIC0000, the registration agency, for\n"
    "      RR RNR RPR); stop after N messages, or after S seconds of silence.\n"
    "\n"
    "Exit status: 0 every destination replied, 1 an ER or SM, a timeout or a\n"
    "failed line, 2 usage.  Example:\n"
    "  stateline query --hub 127.0.0.1:5151 --certs certs --line WA \\\n"
    "      --as WASP00000 dq --to CA --oln A1234567 --ctl TOUR1\n";

#define RECV_MAX (1024u * 1024u)

static int usage_error(const char *msg)
{
    fprintf(stderr, "stateline query: %s\n(see stateline query --help)\n", msg);
    return SL_EXIT_USAGE;
}

static int file_readable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Dial the line the options describe.  *out and *tls_out (NULL on plain lines) are owned
 * by the caller, who frees the conn first. */
static int open_line(const struct sl_term_opts *o, struct sl_conn **out, struct sl_tls **tls_out,
                     int *usage_err)
{
    *tls_out = NULL;
    char err[256];
    *usage_err = 1;
    if (!o->hub) {
        fprintf(stderr, "stateline query: say where the switch is: --hub HOST:PORT\n");
        return -1;
    }
    const char *role = o->line_role;
    if (!o->role_given && o->cmd && strcmp(o->cmd, "listen") == 0)
        role = "answer";
    if (o->plain) {
        if (!o->member) {
            fprintf(stderr, "stateline query: --plain needs --line MEMBER[:ROLE]\n");
            return -1;
        }
        char tokpath[1024];
        if (o->tokens)
            snprintf(tokpath, sizeof tokpath, "%s", o->tokens);
        else if (o->certs)
            snprintf(tokpath, sizeof tokpath, "%s/tokens", o->certs);
        else {
            fprintf(stderr, "stateline query: --plain needs --tokens FILE (or --certs DIR)\n");
            return -1;
        }
        char token[256];
        if (sl_tokens_lookup(tokpath, o->member, role, token, sizeof token) != 0) {
            fprintf(stderr, "stateline query: no token for line %s %s in %s\n", o->member,
                    role, tokpath);
            return -1;
        }
        *usage_err = 0;
        if (sl_conn_dial(o->hub, NULL, o->member, role, token, 10000, out, err, sizeof err)) {
            fprintf(stderr, "stateline query: cannot open line %s %s to %s: %s\n", o->member,
                    role, o->hub, err);
            return -1;
        }
        return 0;
    }
    char cert[1024], key[1024], ca[1024];
    if (o->cert || o->key || o->ca) {
        if (!o->cert || !o->key || !o->ca) {
            fprintf(stderr, "stateline query: give all three of --cert, --key and --ca\n");
            return -1;
        }
        snprintf(cert, sizeof cert, "%s", o->cert);
        snprintf(key, sizeof key, "%s", o->key);
        snprintf(ca, sizeof ca, "%s", o->ca);
    } else if (o->certs && o->member) {
        snprintf(cert, sizeof cert, "%s/%s-%s.crt", o->certs, o->member, role);
        snprintf(key, sizeof key, "%s/%s-%s.key", o->certs, o->member, role);
        snprintf(ca, sizeof ca, "%s/ca.crt", o->certs);
    } else {
        fprintf(stderr, "stateline query: say which line to use: --certs DIR --line MEMBER "
                        "(or --cert/--key/--ca, or --plain)\n");
        return -1;
    }
    const char *files[] = {cert, key, ca};
    for (int i = 0; i < 3; i++)
        if (!file_readable(files[i])) {
            fprintf(stderr, "stateline query: cannot read %s: %s%s\n", files[i],
                    strerror(errno ? errno : ENOENT),
                    o->certs ? " (make it with `stateline gen certs`)" : "");
            return -1;
        }
    *usage_err = 0;
    struct sl_tls *tls = NULL;
    if (sl_tls_new_client(cert, key, ca, &tls, err, sizeof err) != 0) {
        fprintf(stderr, "stateline query: TLS: %s\n", err);
        return -1;
    }
    int rc = sl_conn_dial(o->hub, tls, o->member, role, NULL, 10000, out, err, sizeof err);
    if (rc != 0) {
        sl_tls_free(tls);
        fprintf(stderr, "stateline query: cannot open a TLS line to %s: %s\n", o->hub, err);
        return -1;
    }
    *tls_out = tls;
    return 0;
}

/* Print one delivered message.  Returns 0, or -1 when it is not in the output form (it is
 * then printed raw). hdr/body out-params valid when 0. */
static int show(const struct sl_term_opts *o, const uint8_t *p, uint32_t len,
                struct sl_outhdr *h, const char **body, size_t *blen)
{
    struct sl_msg_err e;
    memset(h, 0, sizeof *h);
    if (sl_msg_parse_output((const char *)p, len, h, body, blen, &e) != 0) {
        if (o->json) {
            /* Still one JSON object per message: the bytes as text, and why. */
            struct sl_buf b = SL_BUF_INIT;
            sl_term_json_unparsed((const char *)p, len, e.detail, &b);
            fwrite(sl_buf_head(&b), 1, sl_buf_used(&b), stdout);
            fputc('\n', stdout);
            sl_buf_free(&b);
        } else
            fprintf(stdout, "(a message that is not in the switch's output form: %s)\n%.*s\n\n",
                    e.detail, (int)len, (const char *)p);
        fflush(stdout);
        return -1;
    }
    if (o->json) {
        struct sl_buf b = SL_BUF_INIT;
        sl_term_json(h, *body, *blen, &b);
        fwrite(sl_buf_head(&b), 1, sl_buf_used(&b), stdout);
        fputc('\n', stdout);
        sl_buf_free(&b);
    } else {
        sl_term_print_human(stdout, h, *body, *blen);
    }
    fflush(stdout);
    return 0;
}

static char *read_all(FILE *f, size_t *n)
{
    struct sl_buf b = SL_BUF_INIT;
    for (;;) {
        uint8_t *p = sl_buf_reserve(&b, 4096);
        size_t r = fread(p, 1, 4096, f);
        sl_buf_commit(&b, r);
        if (r == 0)
            break;
    }
    sl_buf_append(&b, "", 1);
    *n = sl_buf_used(&b) - 1;
    return (char *)b.data; /* owned by the caller */
}

static int run_send(const struct sl_term_opts *o)
{
    char err[256];
    struct sl_buf msg = SL_BUF_INIT;
    char *stdin_text = NULL;
    if (strcmp(o->cmd, "raw") == 0) {
        if (strcmp(o->raw, "-") == 0) {
            size_t n;
            stdin_text = read_all(stdin, &n);
            /* A trailing newline from the shell or an editor is not part of the message. */
            while (n > 0 && (stdin_text[n - 1] == '\n' || stdin_text[n - 1] == '\r'))
                n--;
            sl_buf_append(&msg, stdin_text, n);
        } else {
            sl_buf_append_str(&msg, o->raw);
        }
        if (sl_buf_used(&msg) == 0) {
            free(stdin_text);
            return usage_error("raw: the message is empty");
        }
    } else if (sl_term_compose(o, &msg, err, sizeof err) != 0) {
        sl_buf_free(&msg);
        return usage_error(err);
    }

    /* What to wait for: the key, the control field and the number of destinations, read
     * back from what we send (for raw, as far as it parses: the switch has the last word). */
    char qkey[4] = "", ctl[SL_MSG_CTL_MAX + 1] = "";
    int ndest = 1, has_reply = 1;
    struct sl_msg m;
    memset(&m, 0, sizeof m);
    struct sl_msg_err pe;
    if (sl_msg_parse((const char *)sl_buf_head(&msg), sl_buf_used(&msg), &m, &pe) == 0) {
        sl_strlcpy(qkey, m.key, sizeof qkey);
        sl_strlcpy(ctl, m.ctl, sizeof ctl);
        ndest = m.ndest > 0 ? m.ndest : 1;
        for (int i = 0; i < m.ndest; i++) /* the switch answers a repeated one once */
            for (int j = 0; j < i; j++)
                if (strcmp(m.dest[i], m.dest[j]) == 0) {
                    ndest--;
                    break;
                }
        const struct sl_key_info *ki = sl_key_lookup(m.key);
        has_reply = ki && ki->reply;
    } else if (strcmp(o->cmd, "raw") != 0) {
        /* We composed it: the codec must agree, or the composition is wrong. */
        fprintf(stderr, "stateline query: warning: the codec reads the composed message "
                        "differently (%s); sending it anyway\n", pe.detail);
    }
    sl_msg_clear(&m);

    struct sl_conn *c = NULL;
    struct sl_tls *tls = NULL;
    int usage_err;
    if (open_line(o, &c, &tls, &usage_err) != 0) {
        sl_buf_free(&msg);
        free(stdin_text);
        return usage_err ? SL_EXIT_USAGE : SL_EXIT_FAIL;
    }
    if (sl_conn_send(c, sl_buf_head(&msg), (uint32_t)sl_buf_used(&msg)) != 0) {
        fprintf(stderr, "stateline query: sending failed: %s\n", c->err);
        sl_conn_free(c);
        sl_tls_free(tls);
        sl_buf_free(&msg);
        free(stdin_text);
        return SL_EXIT_FAIL;
    }
    if (!o->json) {
        /* What went out, on one line: control characters (the LF after TXT) as spaces. */
        fputs("sent ", stderr);
        const uint8_t *t = sl_buf_head(&msg);
        for (size_t i = 0; i < sl_buf_used(&msg); i++)
            fputc(t[i] < 0x20 || t[i] == 0x7f ? ' ' : t[i], stderr);
        fputc('\n', stderr);
    }
    sl_buf_free(&msg);
    free(stdin_text);

    /* A message without a reply key (AM) has no answer: wait a short while for a refusal
     * only, so a mistyped AM still shows its ER. */
    int64_t wait_ms = (int64_t)o->wait_s * 1000;
    if (!has_reply && wait_ms > 2000)
        wait_ms = 2000;
    int64_t deadline = sl_now_ms() + wait_ms;
    int replies = 0, errors = 0, er = 0, rc = SL_EXIT_FAIL;
    for (;;) {
        if (replies + errors >= ndest && has_reply)
            break;
        int64_t left = deadline - sl_now_ms();
        if (left <= 0)
            break;
        uint8_t *p = NULL;
        uint32_t len = 0;
        int r = sl_conn_recv(c, RECV_MAX, (int)left, &p, &len);
        if (r == 1)
            break;
        if (r < 0) {
            fprintf(stderr, "stateline query: the line closed: %s\n", c->err[0] ? c->err : "");
            er = 1;
            break;
        }
        if (len == 0) { /* keep-alive */
            free(p);
            continue;
        }
        struct sl_outhdr h;
        const char *body;
        size_t blen;
        if (show(o, p, len, &h, &body, &blen) == 0) {
            enum sl_term_answer a = qkey[0] ? sl_term_classify(&h, qkey, ctl) : SL_TERM_OTHER;
            if (!qkey[0] && strcmp(h.key, "ER") == 0)
                a = SL_TERM_ERROR;
            if (a == SL_TERM_REPLY)
                replies++;
            else if (a == SL_TERM_ERROR) {
                errors++;
                if (strcmp(h.key, "ER") == 0)
                    er = 1; /* an ER refuses the whole message: nothing else will come */
            }
        }
        free(p);
        if (er)
            break;
    }
    if (er || errors)
        rc = SL_EXIT_FAIL;
    else if (!has_reply)
        rc = SL_EXIT_OK;
    else if (replies >= ndest)
        rc = SL_EXIT_OK;
    else {
        fprintf(stderr, "stateline query: %d of %d answers after %d s (--wait)\n",
                replies + errors, ndest, o->wait_s);
        rc = SL_EXIT_FAIL;
    }
    sl_conn_free(c);
    sl_tls_free(tls);
    return rc;
}

static int run_listen(const struct sl_term_opts *o)
{
    char *reply_text = NULL;
    size_t reply_len = 0;
    if (o->reply) {
        reply_text = sl_xstrdup(o->reply);
        reply_len = strlen(reply_text);
    } else if (o->reply_file) {
        FILE *f = fopen(o->reply_file, "rb");
        if (!f) {
            fprintf(stderr, "stateline query: cannot read --reply-file %s: %s\n", o->reply_file,
                    strerror(errno));
            return SL_EXIT_USAGE;
        }
        reply_text = read_all(f, &reply_len);
        fclose(f);
    }
    if (o->as && strlen(o->as) != SL_ORI_LEN)
        return usage_error("--as is a 9-character ORI");

    struct sl_conn *c = NULL;
    struct sl_tls *tls = NULL;
    int usage_err;
    if (open_line(o, &c, &tls, &usage_err) != 0) {
        free(reply_text);
        return usage_err ? SL_EXIT_USAGE : SL_EXIT_FAIL;
    }
    /* On stderr even with --json: scripts wait for this line before sending. */
    fprintf(stderr, "listening on line %s %s at %s\n", o->member ? o->member : "?",
                o->role_given ? o->line_role : "answer", o->hub);
    long seen = 0;
    int rc = SL_EXIT_OK;
    struct sl_buf out = SL_BUF_INIT;
    for (;;) {
        uint8_t *p = NULL;
        uint32_t len = 0;
        int timeout = o->wait_given ? o->wait_s * 1000 : 3600 * 1000;
        int r = sl_conn_recv(c, RECV_MAX, timeout, &p, &len);
        if (r == 1) {
            if (o->wait_given) {
                if (!o->json)
                    fprintf(stderr, "no message for %d s: stopping\n", o->wait_s);
                rc = o->count ? SL_EXIT_FAIL : SL_EXIT_OK;
                break;
            }
            continue;
        }
        if (r < 0) {
            fprintf(stderr, "stateline query: the line closed: %s\n", c->err[0] ? c->err : "");
            rc = SL_EXIT_FAIL;
            break;
        }
        if (len == 0) {
            free(p);
            continue;
        }
        struct sl_outhdr h;
        const char *body;
        size_t blen;
        int ok = show(o, p, len, &h, &body, &blen) == 0;
        const struct sl_key_info *ki = ok ? sl_key_lookup(h.key) : NULL;
        if (ok && reply_text && ki && ki->reply) {
            char from[SL_ORI_LEN + 1];
            if (o->as)
                sl_strlcpy(from, o->as, sizeof from);
            else if (strlen(h.dest) == SL_ORI_LEN)
                sl_strlcpy(from, h.dest, sizeof from);
            else /* Nlets generic ORIs (reference §3): the bureau that owns the record */
                snprintf(from, sizeof from, "%.2s%s", o->member ? o->member : h.dest,
                         ki->reply[0] == 'R' ? "LIC0000" : "OLN0000");
            for (char *q = from; *q; q++)
                *q = (char)toupper((unsigned char)*q);
            sl_buf_reset(&out);
            sl_term_compose_reply(ki->reply, from, h.ori, h.ctl, reply_text, reply_len, &out);
            if (sl_conn_send(c, sl_buf_head(&out), (uint32_t)sl_buf_used(&out)) != 0) {
                fprintf(stderr, "stateline query: sending the reply failed: %s\n", c->err);
                free(p);
                rc = SL_EXIT_FAIL;
                break;
            }
            if (!o->json)
                fprintf(stdout, "-> replied %s from %s to %s%s%s\n\n", ki->reply, from, h.ori,
                        h.ctl[0] ? " control " : "", h.ctl);
            fflush(stdout);
        }
        free(p);
        if (o->count && ++seen >= o->count)
            break;
    }
    sl_buf_free(&out);
    free(reply_text);
    sl_conn_free(c);
    sl_tls_free(tls);
    return rc;
}

static int run(int argc, char **argv)
{
    struct sl_term_opts o;
    char err[256];
    if (sl_term_parse_args(argc, argv, &o, err, sizeof err) != 0)
        return usage_error(err);
    if (strcmp(o.cmd, "listen") == 0)
        return run_listen(&o);
    return run_send(&o);
}

const struct sl_cli_cmd sl_cmd_query = {
    "query", "an agency terminal: send a query and print the answer, or listen",
    run, usage};
