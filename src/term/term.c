/*
 * term.c - `stateline query` options, and composing a query's input form from them
 * (formats in stateline/term.h; the field rules each key follows are those of
 * reference Nlets §4.2, §5.1 and §7 as docs/query.md lists them).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stateline/term.h"
#include "stateline/core.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- options ---------------------------------------------------------------------- */

enum opt_kind { O_STR, O_FLAG, O_INT, O_LONG, O_FIELD, O_LINE };

struct opt {
    const char *name;
    enum opt_kind kind;
    size_t off;   /* into struct sl_term_opts */
    int field;    /* O_FIELD: enum sl_term_field */
    const char *pfx;
};

#define S(n, m) {n, O_STR, offsetof(struct sl_term_opts, m), 0, NULL}
#define F(n, f, p) {n, O_FIELD, 0, f, p}
static const struct opt opts[] = {
    S("--hub", hub), S("--certs", certs), {"--line", O_LINE, 0, 0, NULL},
    S("--cert", cert), S("--key", key), S("--ca", ca), S("--tokens", tokens),
    {"--plain", O_FLAG, offsetof(struct sl_term_opts, plain), 0, NULL},
    S("--as", as), S("--to", to), S("--ctl", ctl), S("--text", text),
    {"--aml", O_FLAG, offsetof(struct sl_term_opts, aml), 0, NULL},
    {"--wait", O_INT, offsetof(struct sl_term_opts, wait_s), 0, NULL},
    {"--json", O_FLAG, offsetof(struct sl_term_opts, json), 0, NULL},
    S("--reply", reply), S("--reply-file", reply_file),
    {"--count", O_LONG, offsetof(struct sl_term_opts, count), 0, NULL},
    F("--oln", SL_TF_OLN, "OLN"), F("--name", SL_TF_NAM, "NAM"), F("--dob", SL_TF_DOB, "DOB"),
    F("--sex", SL_TF_SEX, "SEX"), F("--lic", SL_TF_LIC, "LIC"), F("--liy", SL_TF_LIY, "LIY"),
    F("--lit", SL_TF_LIT, "LIT"), F("--vin", SL_TF_VIN, "VIN"), F("--vma", SL_TF_VMA, "VMA"),
    F("--vyr", SL_TF_VYR, "VYR"), F("--typ", SL_TF_TYP, "TYP"), F("--src", SL_TF_SRC, "SRC"),
    F("--dst", SL_TF_DST, "DST"), F("--beg", SL_TF_BEG, "BEG"), F("--end", SL_TF_END, "END"),
    F("--fnd", SL_TF_FND, "FND"), F("--and", SL_TF_AND, "AND"), F("--orr", SL_TF_ORR, "ORR"),
    F("--seq", SL_TF_SEQ, "SEQ"), F("--rsn", SL_TF_RSN, "RSN"), F("--pur", SL_TF_PUR, "PUR"),
    F("--imq", SL_TF_IMQ, "IMQ"), F("--atn", SL_TF_ATN, "ATN"), F("--cas", SL_TF_CAS, "CAS"),
    F("--lgp", SL_TF_LGP, "LGP"),
};
#undef S
#undef F

static const char *field_pfx(int f)
{
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (opts[i].kind == O_FIELD && opts[i].field == f)
            return opts[i].pfx;
    return "???";
}

static const char *field_opt(int f)
{
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (opts[i].kind == O_FIELD && opts[i].field == f)
            return opts[i].name;
    return "?";
}

static const char *const commands[] = {"dq", "dnq", "kq", "rq", "rnq", "rpq", "am",
                                       "nlq", "nfq", "raw", "listen", NULL};

static int parse_num(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int sl_term_parse_args(int argc, char **argv, struct sl_term_opts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->wait_s = 30;
    sl_strlcpy(o->line_role, "terminal", sizeof o->line_role);
    int nargs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] == '-' && a[2] != '\0') {
            /* --name=value or --name value */
            const char *eq = strchr(a, '=');
            size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
            const struct opt *op = NULL;
            for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
                if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, a, nlen) == 0)
                    op = &opts[k];
            if (!op) {
                seterr(err, errlen, "unknown option '%.*s'", (int)nlen, a);
                return -1;
            }
            const char *val = NULL;
            if (op->kind == O_FLAG) {
                if (eq) {
                    seterr(err, errlen, "%s takes no value", op->name);
                    return -1;
                }
                *(int *)((char *)o + op->off) = 1;
                continue;
            }
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                seterr(err, errlen, "%s needs a value", op->name);
                return -1;
            }
            long n;
            switch (op->kind) {
            case O_STR:
                *(const char **)((char *)o + op->off) = val;
                break;
            case O_INT:
                if (parse_num(val, 0, 86400, &n) < 0) {
                    seterr(err, errlen, "%s: '%s' is not a number of seconds (0..86400)",
                           op->name, val);
                    return -1;
                }
                *(int *)((char *)o + op->off) = (int)n;
                if (op->off == offsetof(struct sl_term_opts, wait_s))
                    o->wait_given = 1;
                break;
            case O_LONG:
                if (parse_num(val, 1, 2000000000L, &n) < 0) {
                    seterr(err, errlen, "%s: '%s' is not a positive number", op->name, val);
                    return -1;
                }
                *(long *)((char *)o + op->off) = n;
                break;
            case O_FIELD:
                o->field[op->field] = val;
                break;
            case O_LINE: {
                const char *colon = strchr(val, ':');
                size_t mlen = colon ? (size_t)(colon - val) : strlen(val);
                if (mlen == 0 || mlen >= sizeof o->line_member) {
                    seterr(err, errlen, "--line: '%s' is not MEMBER or MEMBER:ROLE", val);
                    return -1;
                }
                memcpy(o->line_member, val, mlen);
                o->line_member[mlen] = '\0';
                for (char *p = o->line_member; *p; p++)
                    *p = (char)toupper((unsigned char)*p);
                o->member = o->line_member;
                if (colon) {
                    if (strcmp(colon + 1, "terminal") != 0 && strcmp(colon + 1, "answer") != 0) {
                        seterr(err, errlen, "--line: role '%s' is neither terminal nor answer",
                               colon + 1);
                        return -1;
                    }
                    sl_strlcpy(o->line_role, colon + 1, sizeof o->line_role);
                    o->role_given = 1;
                }
                break;
            }
            case O_FLAG:
                break;
            }
            continue;
        }
        /* a positional argument: the subcommand, then raw's text */
        if (nargs == 0) {
            int known = 0;
            for (size_t k = 0; commands[k]; k++)
                if (strcmp(commands[k], a) == 0)
                    known = 1;
            if (!known) {
                seterr(err, errlen, "unknown subcommand '%s' (dq dnq kq rq rnq rpq am nlq nfq "
                                    "raw listen)", a);
                return -1;
            }
            o->cmd = a;
        } else if (nargs == 1 && strcmp(o->cmd, "raw") == 0) {
            o->raw = a;
        } else {
            seterr(err, errlen, "unexpected argument '%s'%s", a,
                   strcmp(o->cmd, "raw") == 0 ? "" : " (quote values that contain spaces)");
            return -1;
        }
        nargs++;
    }
    if (!o->cmd) {
        seterr(err, errlen, "say what to send: dq dnq kq rq rnq rpq am nlq nfq raw, or listen");
        return -1;
    }
    if (strcmp(o->cmd, "raw") == 0 && !o->raw) {
        seterr(err, errlen, "raw needs the message text, or - to read it from stdin");
        return -1;
    }
    if (o->reply && o->reply_file) {
        seterr(err, errlen, "give --reply or --reply-file, not both");
        return -1;
    }
    if ((o->reply || o->reply_file || o->count) && strcmp(o->cmd, "listen") != 0) {
        seterr(err, errlen, "--reply, --reply-file and --count belong to listen");
        return -1;
    }
    return 0;
}

/* ---- composing ---------------------------------------------------------------------- */

/* What each subcommand sends.  ids: alternative sets of required fields (the first whose
 * fields are all given wins; a partly given set is reported); opt: fields also allowed. */
#define END_ (-1)
struct key_rule {
    const char *cmd;
    const char *key;
    int max_dest;       /* destinations allowed */
    const char *dflt;   /* default destination, or NULL = --to required */
    int text;           /* free-text body (--text) */
    int nids;
    int ids[3][4];
    int opt[12];
};

static const struct key_rule rules[] = {
    {"dq", "DQ", 5, NULL, 0, 2, {{SL_TF_OLN, END_}, {SL_TF_NAM, SL_TF_DOB, SL_TF_SEX, END_}},
     {SL_TF_RSN, SL_TF_PUR, SL_TF_IMQ, SL_TF_ATN, SL_TF_CAS, SL_TF_LGP, END_}},
    {"dnq", "DNQ", 5, NULL, 0, 1, {{SL_TF_NAM, END_}},
     {SL_TF_DOB, SL_TF_SEX, SL_TF_RSN, SL_TF_PUR, SL_TF_ATN, SL_TF_CAS, SL_TF_LGP, END_}},
    {"kq", "KQ", 1, NULL, 0, 2, {{SL_TF_OLN, END_}, {SL_TF_NAM, SL_TF_DOB, SL_TF_SEX, END_}},
     {SL_TF_RSN, SL_TF_PUR, SL_TF_IMQ, SL_TF_ATN, SL_TF_CAS, SL_TF_LGP, END_}},
    {"rq", "RQ", 5, NULL, 0, 2, {{SL_TF_LIC, SL_TF_LIY, SL_TF_LIT, END_}, {SL_TF_VIN, END_}},
     {SL_TF_VMA, SL_TF_VYR, SL_TF_RSN, SL_TF_PUR, SL_TF_ATN, SL_TF_CAS, SL_TF_LGP, END_}},
    {"rnq", "RNQ", 5, NULL, 0, 1, {{SL_TF_NAM, END_}},
     {SL_TF_DOB, SL_TF_RSN, SL_TF_PUR, SL_TF_ATN, SL_TF_CAS, SL_TF_LGP, END_}},
    {"rpq", "RPQ", 1, NULL, 0, 1, {{SL_TF_LIC, END_}},
     {SL_TF_LIY, SL_TF_LIT, SL_TF_RSN, SL_TF_PUR, SL_TF_ATN, SL_TF_CAS, SL_TF_LGP, END_}},
    {"am", "AM", 5, NULL, 1, 0, {{END_}}, {END_}},
    {"nlq", "NLQ", 1, "NL", 0, 2,
     {{SL_TF_TYP, SL_TF_BEG, SL_TF_END, SL_TF_FND}, {SL_TF_TYP, SL_TF_BEG, SL_TF_END, SL_TF_NAM}},
     {SL_TF_SRC, SL_TF_DST, SL_TF_AND, SL_TF_ORR, END_}},
    {"nfq", "NFQ", 1, "NL", 0, 1, {{SL_TF_SEQ, END_}}, {END_}},
};

static const struct key_rule *rule_for(const char *cmd)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (cmd && strcmp(rules[i].cmd, cmd) == 0)
            return &rules[i];
    return NULL;
}

const char *sl_term_cmd_key(const struct sl_term_opts *o)
{
    const struct key_rule *r = rule_for(o->cmd);
    if (!r)
        return NULL;
    if (r->text && o->aml)
        return "AML";
    return r->key;
}

static int set_has(const int *set, int n, int f)
{
    for (int i = 0; i < n && set[i] != END_; i++)
        if (set[i] == f)
            return 1;
    return 0;
}

/* A 9-character ORI or a 2-character code: letters and digits only. */
static int valid_code(const char *s, size_t len)
{
    if (len != 2 && len != 9)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]))
            return 0;
    return 1;
}

static void append_upper(struct sl_buf *out, const char *s, size_t n)
{
    uint8_t *p = sl_buf_reserve(out, n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)toupper((unsigned char)s[i]);
    sl_buf_commit(out, n);
}

/* Header up to and including "TXT\n". */
static int write_header(const char *key, const char *ori, const char *to, const char *ctl,
                        int max_dest, struct sl_buf *out, char *err, size_t errlen)
{
    size_t olen = strlen(ori);
    if (olen != 9 || !valid_code(ori, olen)) {
        seterr(err, errlen, "--as '%s' is not an ORI (9 letters and digits, e.g. WASP00000)",
               ori);
        return -1;
    }
    sl_buf_append_str(out, key);
    sl_buf_append(out, ".", 1);
    append_upper(out, ori, olen);
    int n = 0;
    for (const char *p = to; *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (!valid_code(p, len)) {
            seterr(err, errlen, "--to: '%.*s' is neither a 2-character member or region code "
                                "nor a 9-character ORI", (int)len, p);
            return -1;
        }
        if (++n > max_dest) {
            if (max_dest == 1)
                seterr(err, errlen, "%s goes to exactly one destination", key);
            else
                seterr(err, errlen, "%s takes at most %d destinations", key, max_dest);
            return -1;
        }
        sl_buf_append(out, ".", 1);
        append_upper(out, p, len);
        p += len;
        if (*p == ',')
            p++;
    }
    if (n == 0) {
        seterr(err, errlen, "--to is empty");
        return -1;
    }
    if (ctl) {
        size_t clen = strlen(ctl);
        if (clen < 1 || clen > 10) {
            seterr(err, errlen, "--ctl: the control field is 1 to 10 characters");
            return -1;
        }
        for (size_t i = 0; i < clen; i++)
            if (!isalnum((unsigned char)ctl[i]) && ctl[i] != '-') {
                seterr(err, errlen, "--ctl: use letters, digits and '-' only");
                return -1;
            }
        /* The switch reads the token before TXT as a destination when it can be one
         * (docs/protocol.md): a control field of 2 or 9 letters and digits on a key that
         * takes several destinations would silently become one. */
        int alnum = 1;
        for (size_t i = 0; i < clen; i++)
            if (!isalnum((unsigned char)ctl[i]))
                alnum = 0;
        if (max_dest > 1 && alnum && (clen == 2 || clen == 9)) {
            seterr(err, errlen, "--ctl '%s' would read as a destination: use 1, 3-8 or 10 "
                                "characters, or include a '-'", ctl);
            return -1;
        }
        if (strncasecmp(ctl, "TXT", 3) == 0) {
            seterr(err, errlen, "--ctl may not begin with TXT (it would end the header)");
            return -1;
        }
        sl_buf_append(out, ".", 1);
        append_upper(out, ctl, clen);
    }
    sl_buf_append_str(out, ".TXT\n");
    return 0;
}

static int check_value(int f, const char *v, char *err, size_t errlen)
{
    if (*v == '\0') {
        seterr(err, errlen, "%s is empty", field_opt(f));
        return -1;
    }
    for (const char *p = v; *p; p++) {
        if (*p == '.') {
            seterr(err, errlen, "%s '%s': a value cannot contain '.', which separates fields",
                   field_opt(f), v);
            return -1;
        }
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
            seterr(err, errlen, "%s: only printable ASCII characters", field_opt(f));
            return -1;
        }
    }
    return 0;
}

int sl_term_compose(const struct sl_term_opts *o, struct sl_buf *out, char *err, size_t errlen)
{
    const struct key_rule *r = rule_for(o->cmd);
    if (!r) {
        seterr(err, errlen, "'%s' is not a query to compose", o->cmd ? o->cmd : "");
        return -1;
    }
    if (!o->as) {
        seterr(err, errlen, "say which ORI sends the %s: --as ORI (one of your member's ORIs, "
                            "e.g. --as WASP00000)", sl_term_cmd_key(o));
        return -1;
    }
    const char *to = o->to ? o->to : r->dflt;
    if (!to) {
        seterr(err, errlen, "%s needs --to: 1 to %d destinations, e.g. --to CA or --to CA,NV",
               o->cmd, r->max_dest);
        return -1;
    }
    if (o->aml && !r->text) {
        seterr(err, errlen, "--aml belongs to am");
        return -1;
    }
    if (o->text && !r->text) {
        seterr(err, errlen, "--text belongs to am");
        return -1;
    }

    /* Which identity set: the first fully given; otherwise say what is missing. */
    int chosen = -1;
    for (int s = 0; s < r->nids && chosen < 0; s++) {
        int all = 1;
        for (int k = 0; k < 4 && r->ids[s][k] != END_; k++)
            if (!o->field[r->ids[s][k]])
                all = 0;
        if (all)
            chosen = s;
    }
    if (r->nids > 0 && chosen < 0) {
        char want[160] = "";
        size_t wl = 0;
        for (int s = 0; s < r->nids; s++) {
            wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s", s ? ", or " : "");
            for (int k = 0; k < 4 && r->ids[s][k] != END_ && wl < sizeof want; k++)
                wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s%s", k ? " " : "",
                                       field_opt(r->ids[s][k]));
        }
        seterr(err, errlen, "%s needs %s", o->cmd, want);
        return -1;
    }
    /* Every given field must belong to the chosen set or the optional ones. */
    for (int f = 0; f < SL_TF_COUNT; f++) {
        if (!o->field[f])
            continue;
        int ok = set_has(r->opt, 12, f) || (chosen >= 0 && set_has(r->ids[chosen], 4, f));
        if (!ok) {
            int other = 0;
            for (int s = 0; s < r->nids; s++)
                if (set_has(r->ids[s], 4, f))
                    other = 1;
            if (other)
                seterr(err, errlen, "%s: %s cannot be combined with the fields already given "
                                    "(see stateline query --help)", o->cmd, field_opt(f));
            else
                seterr(err, errlen, "%s does not apply to %s", field_opt(f), o->cmd);
            return -1;
        }
        if (check_value(f, o->field[f], err, errlen) < 0)
            return -1;
    }

    size_t start = out->len;
    if (write_header(sl_term_cmd_key(o), o->as, to, o->ctl, r->max_dest, out, err, errlen) < 0) {
        out->len = start;
        return -1;
    }
    if (r->text) {
        if (!o->text || !*o->text) {
            out->len = start;
            seterr(err, errlen, "%s needs --text \"...\"", o->cmd);
            return -1;
        }
        sl_buf_append_str(out, o->text);
        return 0;
    }
    /* Fields in one fixed order (enum sl_term_field): person, vehicle, search, optional. */
    int first = 1;
    for (int f = 0; f < SL_TF_COUNT; f++) {
        const char *v = o->field[f];
        if (!v)
            continue;
        if (!first)
            sl_buf_append(out, ".", 1);
        first = 0;
        sl_buf_append_str(out, field_pfx(f));
        sl_buf_append(out, "/", 1);
        if (f == SL_TF_DOB && strlen(v) == 10 && v[4] == '-' && v[7] == '-') {
            /* accept YYYY-MM-DD as people type it, send ccyymmdd */
            sl_buf_append(out, v, 4);
            sl_buf_append(out, v + 5, 2);
            sl_buf_append(out, v + 8, 2);
        } else {
            append_upper(out, v, strlen(v));
        }
    }
    return 0;
}

void sl_term_compose_reply(const char *rkey, const char *from_ori, const char *to,
                           const char *ctl, const char *text, size_t text_len,
                           struct sl_buf *out)
{
    sl_buf_printf(out, "%s.%s.%s", rkey, from_ori, to);
    if (ctl && *ctl)
        sl_buf_printf(out, ".%s", ctl);
    sl_buf_append_str(out, ".TXT\n");
    sl_buf_append(out, text, text_len);
}
