/*
 * policy_parse.c - the policy language: lexer and recursive-descent parser.
 *
 * Reads the text format of docs/policy-language.md ("Grammar") into the flat arrays of
 * struct sl_policy.  Every error names line and column and, where a near word exists,
 * suggests it ("did you mean ..."); after an error the parser skips to the next `rule`
 * so that one run reports every broken rule.
 *
 * Tokens: words are runs of letters, digits and  _ . : / * ? + -  ; strings are "..."
 * with \" and \\ escapes and no newline; punctuation ( ) , = != ; `#` starts a comment
 * that runs to the end of the line.
 */
#include "policy/policy_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stateline/core.h"

#define MAX_DEPTH 48
#define MAX_TERMS 1000 /* and/or per rule: evaluation and analysis recurse over the tree */
#define MAX_TEXT (16u << 20)

const char *const sl_policy_types[12] = {"PD", "SO", "SA", "LE", "FE", "JA",
                                         "JC", "JG", "JJ", "JF", "CJ", "NJ"};
const char *const sl_policy_keys[PK_COUNT - 1] = {"DQ", "DNQ", "KQ", "RQ", "RNQ", "RPQ"};

const struct pfield_info sl_policy_fields[] = {
    {"RSN", "NFVTSHI", "reason code"},
    {"PUR", "CFEDJS", "purpose code"},
    {"CAS", NULL, "case number"},
    {"LGP", NULL, "legal process (warrant or court order) reference"},
    {"ATN", NULL, "name of the person asking"},
    {"IMQ", "YN", "photo requested"},
    {"OLN", NULL, "licence number"},
    {"NAM", NULL, "name"},
    {"DOB", NULL, "date of birth"},
    {"SEX", NULL, "sex"},
    {"LIC", NULL, "plate"},
    {"LIY", NULL, "plate year"},
    {"LIT", NULL, "plate type"},
    {"VIN", NULL, "VIN"},
    {NULL, NULL, NULL},
};

int sl_policy_field_lookup(const char *pfx)
{
    for (int i = 0; sl_policy_fields[i].pfx; i++)
        if (strcmp(sl_policy_fields[i].pfx, pfx) == 0)
            return i;
    return -1;
}

int sl_policy_key_slot(const char *key, int *via_region)
{
    if (via_region)
        *via_region = 0;
    if (strcmp(key, "DQG") == 0 || strcmp(key, "RQG") == 0) {
        if (via_region)
            *via_region = 1;
        return key[0] == 'D' ? PK_DQ : PK_RQ;
    }
    for (int i = 0; i < PK_COUNT - 1; i++)
        if (strcmp(sl_policy_keys[i], key) == 0)
            return i;
    return PK_OTHER;
}

int sl_policy_type_slot(const char *type)
{
    for (int i = 0; i < 12; i++)
        if (strcmp(sl_policy_types[i], type) == 0)
            return i;
    return PT_OTHER;
}

int32_t sl_policy_days(int y, int m, int d)
{
    /* Howard Hinnant's days_from_civil. */
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153u * (unsigned)(m + (m > 2 ? -3 : 9)) + 2) / 5 + (unsigned)d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int32_t)doe - 719468;
}

/* ---- diagnostics ---- */

void sl_policy_diag_add(struct sl_policy_diags *d, enum sl_policy_diag_level lvl, int line,
                        int col, const char *fmt, ...)
{
    if (!d)
        return;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->v = sl_xrealloc(d->v, (size_t)d->cap * sizeof(*d->v));
    }
    struct sl_policy_diag *g = &d->v[d->n++];
    g->level = lvl;
    g->line = line;
    g->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->msg, sizeof(g->msg), fmt, ap);
    va_end(ap);
    if (lvl == SL_PDIAG_ERROR)
        d->nerrors++;
    else
        d->nwarnings++;
}

void sl_policy_diags_free(struct sl_policy_diags *d)
{
    if (!d)
        return;
    free(d->v);
    memset(d, 0, sizeof(*d));
}

void sl_policy_diag_format(const struct sl_policy_diag *d, const char *name, char *buf,
                           size_t len)
{
    const char *lvl = d->level == SL_PDIAG_ERROR ? "error" : "warning";
    if (d->line > 0)
        snprintf(buf, len, "%s:%d:%d: %s: %s", name, d->line, d->col, lvl, d->msg);
    else
        snprintf(buf, len, "%s: %s: %s", name, lvl, d->msg);
}

/* ---- lexer ---- */

enum tk { T_EOF, T_WORD, T_STRING, T_LP, T_RP, T_COMMA, T_EQ, T_NE, T_GT, T_BAD };

struct tok {
    enum tk kind;
    int line, col;
    const char *s; /* word text / string contents (copied to sbuf for strings) */
    size_t len;
};

struct parser {
    struct sl_policy *p;
    struct sl_policy_diags *diags;
    const char *text;
    size_t len, pos;
    int line, col;
    struct tok t;          /* current token */
    char sbuf[1024];       /* unescaped string of the current token */
    int errors;
    int depth;
    int terms;             /* and/or operators in the current rule (bounds recursion later) */
    int in_rule_error;     /* an error in this rule: stop reporting until the next rule */
};

static int is_word_char(int c)
{
    return isalnum(c) || c == '_' || c == '.' || c == ':' || c == '/' || c == '*' ||
           c == '?' || c == '+' || c == '-';
}

static void perr(struct parser *ps, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void perr(struct parser *ps, int line, int col, const char *fmt, ...)
{
    ps->errors++;
    if (ps->in_rule_error)
        return;
    ps->in_rule_error = 1;
    char msg[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sl_policy_diag_add(ps->diags, SL_PDIAG_ERROR, line, col, "%s", msg);
}

static void advance_char(struct parser *ps)
{
    if (ps->text[ps->pos] == '\n') {
        ps->line++;
        ps->col = 1;
    } else if (((unsigned char)ps->text[ps->pos] & 0xC0) != 0x80) {
        ps->col++; /* count UTF-8 characters, not bytes */
    }
    ps->pos++;
}

static void next(struct parser *ps)
{
    for (;;) {
        while (ps->pos < ps->len && isspace((unsigned char)ps->text[ps->pos]))
            advance_char(ps);
        if (ps->pos < ps->len && ps->text[ps->pos] == '#') {
            while (ps->pos < ps->len && ps->text[ps->pos] != '\n')
                advance_char(ps);
            continue;
        }
        break;
    }
    struct tok *t = &ps->t;
    t->line = ps->line;
    t->col = ps->col;
    t->s = ps->text + ps->pos;
    t->len = 0;
    if (ps->pos >= ps->len) {
        t->kind = T_EOF;
        return;
    }
    char c = ps->text[ps->pos];
    if (c == '(' || c == ')' || c == ',' || c == '=' || c == '>') {
        t->kind = c == '(' ? T_LP : c == ')' ? T_RP : c == ',' ? T_COMMA : c == '>' ? T_GT : T_EQ;
        t->len = 1;
        advance_char(ps);
        return;
    }
    if (c == '!' && ps->pos + 1 < ps->len && ps->text[ps->pos + 1] == '=') {
        t->kind = T_NE;
        t->len = 2;
        advance_char(ps);
        advance_char(ps);
        return;
    }
    if (c == '"') {
        advance_char(ps);
        size_t n = 0;
        for (;;) {
            if (ps->pos >= ps->len || ps->text[ps->pos] == '\n') {
                t->kind = T_BAD;
                perr(ps, t->line, t->col, "unterminated string - close it with \" on the same line");
                return;
            }
            char ch = ps->text[ps->pos];
            if (ch == '"') {
                advance_char(ps);
                break;
            }
            if (ch == '\\' && ps->pos + 1 < ps->len &&
                (ps->text[ps->pos + 1] == '"' || ps->text[ps->pos + 1] == '\\')) {
                advance_char(ps);
                ch = ps->text[ps->pos];
            }
            if ((unsigned char)ch < 0x20 && ch != '\t') {
                t->kind = T_BAD;
                perr(ps, ps->line, ps->col, "control character in a string");
                return;
            }
            if (n + 1 >= sizeof(ps->sbuf)) {
                t->kind = T_BAD;
                perr(ps, t->line, t->col, "string longer than %zu characters", sizeof(ps->sbuf) - 1);
                return;
            }
            ps->sbuf[n++] = ch;
            advance_char(ps);
        }
        ps->sbuf[n] = '\0';
        t->kind = T_STRING;
        t->s = ps->sbuf;
        t->len = n;
        return;
    }
    if (is_word_char((unsigned char)c)) {
        while (ps->pos < ps->len && is_word_char((unsigned char)ps->text[ps->pos]))
            advance_char(ps);
        t->kind = T_WORD;
        t->len = (size_t)(ps->text + ps->pos - t->s);
        return;
    }
    t->kind = T_BAD;
    t->len = 1;
    if (c == '<' || c == '>')
        perr(ps, t->line, t->col,
             "unexpected '%c' - compare with =, != or in (...); for time use 'time between HH:MM and HH:MM'",
             c);
    else if ((unsigned char)c >= 0x80)
        perr(ps, t->line, t->col, "unexpected non-ASCII character outside a quoted string");
    else
        perr(ps, t->line, t->col, "unexpected character '%c'", c);
    advance_char(ps);
}

static int tok_is(const struct parser *ps, const char *w)
{
    return ps->t.kind == T_WORD && ps->t.len == strlen(w) && strncmp(ps->t.s, w, ps->t.len) == 0;
}

/* Current word or string as a C string (truncated to cap). */
static const char *tok_text(const struct parser *ps, char *buf, size_t cap)
{
    size_t n = ps->t.len < cap - 1 ? ps->t.len : cap - 1;
    memcpy(buf, ps->t.s, n);
    buf[n] = '\0';
    return buf;
}

static const char *tok_desc(const struct parser *ps, char *buf, size_t cap)
{
    switch (ps->t.kind) {
    case T_EOF: return "end of file";
    case T_STRING: snprintf(buf, cap, "\"%.60s\"", ps->sbuf); return buf;
    case T_WORD: {
        char w[64];
        snprintf(buf, cap, "'%s'", tok_text(ps, w, sizeof(w)));
        return buf;
    }
    case T_LP: return "'('";
    case T_RP: return "')'";
    case T_COMMA: return "','";
    case T_EQ: return "'='";
    case T_NE: return "'!='";
    case T_GT: return "'>'";
    default: return "a bad character";
    }
}

/* ---- suggestions ---- */

static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    int d[41][41];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int m = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < m)
                m = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < m)
                m = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < m)
                m = d[i - 2][j - 2] + 1;
            d[i][j] = m;
        }
    return d[la][lb];
}

/* The closest candidate within a small distance, or NULL. */
static const char *suggest(const char *w, const char *const *cands, size_t n)
{
    const char *best = NULL;
    int bd = 99;
    size_t wl = strlen(w);
    for (size_t i = 0; i < n; i++) {
        if (!cands[i])
            continue;
        int d = edit_distance(w, cands[i]);
        if (d < bd) {
            bd = d;
            best = cands[i];
        }
    }
    int limit = wl <= 3 ? 1 : wl <= 6 ? 2 : 3;
    return bd <= limit ? best : NULL;
}

static void hint(char *buf, size_t cap, const char *w, const char *const *cands, size_t n)
{
    const char *s = suggest(w, cands, n);
    if (s)
        snprintf(buf, cap, " \xE2\x80\x94 did you mean '%s'?", s);
    else
        buf[0] = '\0';
}

/* ---- building the arrays ---- */

static uint32_t pool_add(struct sl_policy *p, const char *s, size_t n)
{
    if (p->poollen + n + 1 > p->poolcap) {
        while (p->poollen + n + 1 > p->poolcap)
            p->poolcap = p->poolcap ? p->poolcap * 2 : 4096;
        p->pool = sl_xrealloc(p->pool, p->poolcap);
    }
    uint32_t off = (uint32_t)p->poollen;
    memcpy(p->pool + off, s, n);
    p->pool[off + n] = '\0';
    p->poollen += n + 1;
    return off;
}

static uint32_t val_add(struct sl_policy *p, uint32_t off)
{
    if (p->nvals == p->valscap) {
        p->valscap = p->valscap ? p->valscap * 2 : 256;
        p->vals = sl_xrealloc(p->vals, p->valscap * sizeof(*p->vals));
    }
    p->vals[p->nvals] = off;
    return p->nvals++;
}

static uint32_t node_add(struct sl_policy *p, int op, int attr, uint32_t a, uint32_t b, int line,
                         int col)
{
    if (p->nnodes == p->nodescap) {
        p->nodescap = p->nodescap ? p->nodescap * 2 : 256;
        p->nodes = sl_xrealloc(p->nodes, p->nodescap * sizeof(*p->nodes));
    }
    struct pnode *n = &p->nodes[p->nnodes];
    memset(n, 0, sizeof(*n));
    n->op = (uint8_t)op;
    n->attr = (uint8_t)attr;
    n->a = a;
    n->b = b;
    n->line = line;
    n->col = col;
    return p->nnodes++;
}

/* ---- values ---- */

struct vlist {
    int n;
    char v[64][64];
    int line[64], col[64];
};

/* One value: a word or a string.  Returns 0, or -1 after reporting. */
static int parse_value(struct parser *ps, char *out, size_t cap, const char *what)
{
    char d[80];
    if (ps->t.kind != T_WORD && ps->t.kind != T_STRING) {
        perr(ps, ps->t.line, ps->t.col, "expected %s, found %s", what, tok_desc(ps, d, sizeof(d)));
        return -1;
    }
    if (ps->t.len >= cap) {
        perr(ps, ps->t.line, ps->t.col, "%s is longer than %zu characters", what, cap - 1);
        return -1;
    }
    tok_text(ps, out, cap);
    next(ps);
    return 0;
}

/* A value, or "(" value { "," value } ")". */
static int parse_values(struct parser *ps, struct vlist *vl, int allow_list, const char *what)
{
    vl->n = 0;
    char d[80];
    if (ps->t.kind == T_LP) {
        if (!allow_list) {
            perr(ps, ps->t.line, ps->t.col, "a list is not allowed here; give one %s", what);
            return -1;
        }
        next(ps);
        for (;;) {
            if (vl->n == 64) {
                perr(ps, ps->t.line, ps->t.col, "more than 64 values in one list; split the rule");
                return -1;
            }
            vl->line[vl->n] = ps->t.line;
            vl->col[vl->n] = ps->t.col;
            if (parse_value(ps, vl->v[vl->n], sizeof(vl->v[0]), what) < 0)
                return -1;
            vl->n++;
            if (ps->t.kind == T_COMMA) {
                next(ps);
                continue;
            }
            if (ps->t.kind == T_RP) {
                next(ps);
                return 0;
            }
            perr(ps, ps->t.line, ps->t.col, "expected ',' or ')' in the list, found %s",
                 tok_desc(ps, d, sizeof(d)));
            return -1;
        }
    }
    vl->line[0] = ps->t.line;
    vl->col[0] = ps->t.col;
    if (parse_value(ps, vl->v[0], sizeof(vl->v[0]), what) < 0)
        return -1;
    vl->n = 1;
    return 0;
}

static uint32_t vlist_store(struct sl_policy *p, const struct vlist *vl)
{
    uint32_t start = p->nvals;
    for (int i = 0; i < vl->n; i++)
        val_add(p, pool_add(p, vl->v[i], strlen(vl->v[i])));
    return start;
}

static void upcase(char *s)
{
    for (; *s; s++)
        *s = (char)toupper((unsigned char)*s);
}

/* ---- conditions ---- */

static uint32_t parse_or(struct parser *ps);

static const char *const attr_words[] = {
    "requester.ori", "requester.member", "requester.type", "requester.state",
    "requester.parent", "requester.tags", "requester.categories", "in-state", "key", "via",
    "time", "weekday", "date", "RSN", "PUR", "CAS", "LGP", "ATN", "IMQ", "OLN", "NAM", "DOB",
    "SEX", "LIC", "LIY", "LIT", "VIN", "not", "(", "requester.queries", "user.queries",
};
static const char *const req_attrs[] = {"ori", "member", "type", "state", "parent", "tags",
                                        "categories", "queries"};
static const char *const heads[] = {"requester", "key", "via", "time", "weekday", "date",
                                    "in-state", "user"};
static const char *const weekdays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
static const char *const weekdays_long[] = {"sunday",   "monday", "tuesday", "wednesday",
                                            "thursday", "friday", "saturday"};

/* Comparison after an attribute: = v | != v | in (..) | not in (..) | matches (..).
 * *neg set for != and not in.  Returns 0 with op in *op, -1 on error. */
static int parse_cmp(struct parser *ps, struct vlist *vl, int *op, int *neg, int allow_match,
                     const char *attrname, const char *what)
{
    char d[80];
    *neg = 0;
    if (ps->t.kind == T_EQ || ps->t.kind == T_NE) {
        *neg = ps->t.kind == T_NE;
        next(ps);
        *op = PO_IN;
        return parse_values(ps, vl, 0, what);
    }
    if (tok_is(ps, "not")) {
        next(ps);
        if (!tok_is(ps, "in")) {
            perr(ps, ps->t.line, ps->t.col, "expected 'in' after 'not' (%s not in (...))", attrname);
            return -1;
        }
        *neg = 1;
    }
    if (tok_is(ps, "in")) {
        next(ps);
        if (ps->t.kind != T_LP) {
            perr(ps, ps->t.line, ps->t.col, "expected '(' after 'in': %s in (A, B)", attrname);
            return -1;
        }
        *op = PO_IN;
        return parse_values(ps, vl, 1, what);
    }
    if (allow_match && tok_is(ps, "matches")) {
        next(ps);
        *op = PO_MATCH;
        return parse_values(ps, vl, 1, "a pattern");
    }
    if (tok_is(ps, "is") || tok_is(ps, "==")) {
        perr(ps, ps->t.line, ps->t.col, "write '=' to compare (%s = ...)", attrname);
        return -1;
    }
    int is_field = strlen(attrname) == 3 && isupper((unsigned char)attrname[0]);
    perr(ps, ps->t.line, ps->t.col, "expected %s=, !=, in (...)%s after %s, found %s",
         is_field ? "present, absent, " : "", allow_match ? " or matches" : "", attrname,
         tok_desc(ps, d, sizeof(d)));
    return -1;
}

static uint32_t wrap_not(struct parser *ps, uint32_t n, int neg, int line, int col)
{
    return neg ? node_add(ps->p, PO_NOT, PA_NONE, n, P_NONE, line, col) : n;
}

static int parse_hhmm(const char *s, int *min)
{
    int h, m;
    char extra;
    if (sscanf(s, "%d:%d%c", &h, &m, &extra) != 2 || strlen(s) != 5 || h < 0 || h > 24 || m < 0 ||
        m > 59 || (h == 24 && m != 0))
        return -1;
    *min = h * 60 + m;
    return 0;
}

static int parse_date(const char *s, int32_t *days)
{
    int y, mo, d;
    char extra;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &mo, &d, &extra) != 3 || y < 1970 ||
        y > 9999 || mo < 1 || mo > 12 || d < 1)
        return -1;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return -1;
    *days = sl_policy_days(y, mo, d);
    return 0;
}

static uint32_t parse_key_atom(struct parser *ps, int line, int col)
{
    struct vlist vl;
    int op, neg;
    if (parse_cmp(ps, &vl, &op, &neg, 0, "key", "a message key") < 0)
        return P_NONE;
    uint32_t mask = 0, gmask = 0;
    for (int i = 0; i < vl.n; i++) {
        upcase(vl.v[i]);
        int reg;
        int s = sl_policy_key_slot(vl.v[i], &reg);
        if (s == PK_OTHER) {
            char h[80];
            const char *cands[] = {"DQ", "DNQ", "DQG", "KQ", "RQ", "RQG", "RNQ", "RPQ"};
            hint(h, sizeof(h), vl.v[i], cands, 8);
            perr(ps, vl.line[i], vl.col[i],
                 "unknown message key '%s'%s (keys: DQ DNQ DQG KQ RQ RQG RNQ RPQ)", vl.v[i], h);
            return P_NONE;
        }
        if (reg)
            gmask |= 1u << s;
        else
            mask |= 1u << s;
    }
    gmask &= ~mask; /* DQ already covers DQG */
    uint32_t n = P_NONE;
    if (mask)
        n = node_add(ps->p, PO_MASK, PA_KEY, mask, 0, line, col);
    if (gmask) {
        /* DQG means DQ arriving through a region: key in (DQ) and via region. */
        uint32_t k = node_add(ps->p, PO_MASK, PA_KEY, gmask, 0, line, col);
        uint32_t v = node_add(ps->p, PO_MASK, PA_VIA, 1u << SL_VIA_REGION, 0, line, col);
        uint32_t g = node_add(ps->p, PO_AND, PA_NONE, k, v, line, col);
        n = n == P_NONE ? g : node_add(ps->p, PO_OR, PA_NONE, n, g, line, col);
        ps->p->nodes[n].paren = 1;
    }
    return wrap_not(ps, n, neg, line, col);
}

/* requester.queries per WINDOW > N | user.queries per WINDOW > N (P-22): node PO_COUNT,
 * attr PA_COUNT_ORI or PA_COUNT_USER, a = the window, b = N. */
static uint32_t parse_count_atom(struct parser *ps, int user, int line, int col)
{
    const char *name = user ? "user.queries" : "requester.queries";
    char w[32], d[80];
    if (!tok_is(ps, "per")) {
        perr(ps, ps->t.line, ps->t.col, "expected 'per' after %s (%s per hour > 50), found %s",
             name, name, tok_desc(ps, d, sizeof(d)));
        return P_NONE;
    }
    next(ps);
    int lw = ps->t.line, cw = ps->t.col;
    if (parse_value(ps, w, sizeof(w), "minute, hour or day") < 0)
        return P_NONE;
    int win = -1;
    for (int i = 0; i < SL_WIN_COUNT; i++)
        if (strcmp(w, sl_policy_window_name(i)) == 0)
            win = i;
    if (win < 0) {
        perr(ps, lw, cw, "'%s' is not a window: write minute, hour or day (%s per hour > 50)",
             w, name);
        return P_NONE;
    }
    if (ps->t.kind != T_GT) {
        perr(ps, ps->t.line, ps->t.col,
             "expected '>' and a number (%s per %s > 50: more than 50), found %s", name, w,
             tok_desc(ps, d, sizeof(d)));
        return P_NONE;
    }
    next(ps);
    if (ps->t.kind == T_EQ) {
        perr(ps, ps->t.line, ps->t.col, "only '>' (more than) is written here: for 'at least "
             "N' write > N-1");
        return P_NONE;
    }
    int ln = ps->t.line, cn = ps->t.col;
    char num[32];
    if (parse_value(ps, num, sizeof(num), "a number") < 0)
        return P_NONE;
    char *end;
    long n = strtol(num, &end, 10);
    if (*end || !isdigit((unsigned char)num[0]) || n < 0 || n > 1000000) {
        perr(ps, ln, cn, "'%s' is not a number of queries from 0 to 1000000", num);
        return P_NONE;
    }
    ps->p->count_uses |= user ? SL_POLICY_USES_USER(win) : SL_POLICY_USES_ORI(win);
    return node_add(ps->p, PO_COUNT, user ? PA_COUNT_USER : PA_COUNT_ORI, (uint32_t)win,
                    (uint32_t)n, line, col);
}

static uint32_t parse_requester_atom(struct parser *ps, const char *attr, int line, int col,
                                     int acol)
{
    struct sl_policy *p = ps->p;
    struct vlist vl;
    int op, neg;
    char h[96], full[64];
    snprintf(full, sizeof(full), "requester.%s", attr);
    if (strcmp(attr, "queries") == 0)
        return parse_count_atom(ps, 0, line, col);
    if (strcmp(attr, "parent") == 0) {
        if (tok_is(ps, "under") || (tok_is(ps, "not") && 0)) {
            next(ps);
            if (parse_values(ps, &vl, 1, "a parent agency") < 0)
                return P_NONE;
            op = PO_UNDER;
            neg = 0;
        } else if (tok_is(ps, "not")) {
            /* not under / not in */
            next(ps);
            if (tok_is(ps, "under")) {
                next(ps);
                if (parse_values(ps, &vl, 1, "a parent agency") < 0)
                    return P_NONE;
                op = PO_UNDER;
                neg = 1;
            } else if (tok_is(ps, "in")) {
                next(ps);
                if (ps->t.kind != T_LP) {
                    perr(ps, ps->t.line, ps->t.col, "expected '(' after 'in'");
                    return P_NONE;
                }
                if (parse_values(ps, &vl, 1, "a parent agency") < 0)
                    return P_NONE;
                op = PO_IN;
                neg = 1;
            } else {
                perr(ps, ps->t.line, ps->t.col, "expected 'under' or 'in' after 'not'");
                return P_NONE;
            }
        } else if (parse_cmp(ps, &vl, &op, &neg, 1, full, "a parent agency") < 0) {
            return P_NONE;
        }
        for (int i = 0; i < vl.n; i++) {
            upcase(vl.v[i]);
            size_t l = strlen(vl.v[i]);
            if (op != PO_MATCH && (l == 0 || vl.v[i][0] == '/' || vl.v[i][l - 1] == '/' ||
                                   strstr(vl.v[i], "//"))) {
                perr(ps, vl.line[i], vl.col[i],
                     "parent agency '%s' is not a path like DHS/ICE/ERO", vl.v[i]);
                return P_NONE;
            }
        }
        uint32_t n = node_add(p, op, PA_PARENT, vlist_store(p, &vl), (uint32_t)vl.n, line, col);
        return wrap_not(ps, n, neg, line, col);
    }
    if (strcmp(attr, "tags") == 0 || strcmp(attr, "categories") == 0) {
        int tags = attr[0] == 't';
        if (!tok_is(ps, "has")) {
            perr(ps, ps->t.line, ps->t.col, "expected 'has' after %s (%s has %s)", full, full,
                 tags ? "immigration-enforcement" : "D");
            return P_NONE;
        }
        next(ps);
        if (parse_values(ps, &vl, 1, tags ? "a tag" : "an access category") < 0)
            return P_NONE;
        for (int i = 0; i < vl.n; i++) {
            if (!tags) {
                upcase(vl.v[i]);
                if (strlen(vl.v[i]) != 1 || !strchr("ACDZ", vl.v[i][0])) {
                    perr(ps, vl.line[i], vl.col[i],
                         "unknown access category '%s' (categories: A C D Z)", vl.v[i]);
                    return P_NONE;
                }
            } else if (strchr(vl.v[i], ' ') || !vl.v[i][0]) {
                perr(ps, vl.line[i], vl.col[i], "a tag is one word without spaces");
                return P_NONE;
            }
        }
        return node_add(p, PO_HAS, tags ? PA_TAGS : PA_CATS, vlist_store(p, &vl), (uint32_t)vl.n,
                        line, col);
    }
    int a;
    if (strcmp(attr, "ori") == 0)
        a = PA_ORI;
    else if (strcmp(attr, "member") == 0)
        a = PA_MEMBER;
    else if (strcmp(attr, "type") == 0)
        a = PA_TYPE;
    else if (strcmp(attr, "state") == 0)
        a = PA_STATE;
    else {
        hint(h, sizeof(h), attr, req_attrs, sizeof(req_attrs) / sizeof(req_attrs[0]));
        perr(ps, line, acol, "unknown requester attribute '%s'%s", attr, h);
        return P_NONE;
    }
    const char *what = a == PA_ORI ? "an ORI" : a == PA_TYPE ? "an ORION type" : a == PA_STATE ? "a state code" : "a member code";
    if (parse_cmp(ps, &vl, &op, &neg, a == PA_ORI || a == PA_MEMBER, full, what) < 0)
        return P_NONE;
    for (int i = 0; i < vl.n; i++) {
        upcase(vl.v[i]);
        if (op == PO_MATCH)
            continue;
        const char *v = vl.v[i];
        if (a == PA_TYPE && sl_policy_type_slot(v) == PT_OTHER) {
            hint(h, sizeof(h), v, sl_policy_types, 12);
            perr(ps, vl.line[i], vl.col[i],
                 "unknown agency type '%s'%s (ORION types: PD SO SA LE FE JA JC JG JJ JF CJ NJ)", v, h);
            return P_NONE;
        }
        if (a == PA_ORI && (strlen(v) != 9 || strchr(v, '*') || strchr(v, '?'))) {
            if (strchr(v, '*') || strchr(v, '?'))
                perr(ps, vl.line[i], vl.col[i],
                     "'%s' is a pattern: write requester.ori matches \"%s\"", v, v);
            else
                perr(ps, vl.line[i], vl.col[i], "an ORI has 9 characters; '%s' has %zu", v,
                     strlen(v));
            return P_NONE;
        }
        if (a == PA_STATE && strlen(v) != 2) {
            perr(ps, vl.line[i], vl.col[i], "a state code has 2 letters, like WA; found '%s'", v);
            return P_NONE;
        }
    }
    if (a == PA_TYPE) {
        uint32_t mask = 0;
        for (int i = 0; i < vl.n; i++)
            mask |= 1u << sl_policy_type_slot(vl.v[i]);
        return wrap_not(ps, node_add(p, PO_MASK, PA_TYPE, mask, 0, line, col), neg, line, col);
    }
    return wrap_not(ps, node_add(p, op, a, vlist_store(p, &vl), (uint32_t)vl.n, line, col), neg,
                    line, col);
}

static uint32_t parse_field_atom(struct parser *ps, int f, int line, int col)
{
    struct sl_policy *p = ps->p;
    const char *pfx = sl_policy_fields[f].pfx;
    if (tok_is(ps, "present") || tok_is(ps, "absent")) {
        int neg = tok_is(ps, "absent");
        next(ps);
        uint32_t n = node_add(p, PO_PRESENT, PA_FIELD, 0, 0, line, col);
        p->nodes[n].field = (uint8_t)f;
        return wrap_not(ps, n, neg, line, col);
    }
    struct vlist vl;
    int op, neg;
    if (parse_cmp(ps, &vl, &op, &neg, 1, pfx, "a value") < 0)
        return P_NONE;
    const char *allowed = sl_policy_fields[f].values;
    for (int i = 0; i < vl.n && op == PO_IN; i++) {
        if (allowed) {
            upcase(vl.v[i]);
            if (strlen(vl.v[i]) != 1 || !strchr(allowed, vl.v[i][0])) {
                char codes[32];
                size_t k = 0;
                for (const char *c = allowed; *c && k + 2 < sizeof(codes); c++) {
                    codes[k++] = *c;
                    codes[k++] = ' ';
                }
                codes[k ? k - 1 : 0] = '\0';
                perr(ps, vl.line[i], vl.col[i], "%s (%s) has no code '%s' (codes: %s)", pfx,
                     sl_policy_fields[f].what, vl.v[i], codes);
                return P_NONE;
            }
        }
    }
    uint32_t n = node_add(p, op, PA_FIELD, vlist_store(p, &vl), (uint32_t)vl.n, line, col);
    p->nodes[n].field = (uint8_t)f;
    return wrap_not(ps, n, neg, line, col);
}

static uint32_t parse_time_atom(struct parser *ps, const char *what, int line, int col)
{
    struct sl_policy *p = ps->p;
    char a[64], b[64];
    char d[80];
    if (strcmp(what, "time") == 0) {
        if (!tok_is(ps, "between")) {
            perr(ps, ps->t.line, ps->t.col, "expected 'between' (time between 08:00 and 18:00)");
            return P_NONE;
        }
        next(ps);
        int la = ps->t.line, ca = ps->t.col;
        if (parse_value(ps, a, sizeof(a), "a time HH:MM") < 0)
            return P_NONE;
        int ma, mb;
        if (parse_hhmm(a, &ma) < 0) {
            perr(ps, la, ca, "'%s' is not a time of day; write HH:MM, like 08:00", a);
            return P_NONE;
        }
        if (!tok_is(ps, "and")) {
            perr(ps, ps->t.line, ps->t.col, "expected 'and' (time between 08:00 and 18:00), found %s",
                 tok_desc(ps, d, sizeof(d)));
            return P_NONE;
        }
        next(ps);
        int lb = ps->t.line, cb = ps->t.col;
        if (parse_value(ps, b, sizeof(b), "a time HH:MM") < 0)
            return P_NONE;
        if (parse_hhmm(b, &mb) < 0) {
            perr(ps, lb, cb, "'%s' is not a time of day; write HH:MM, like 18:00", b);
            return P_NONE;
        }
        if (ma == mb) {
            perr(ps, lb, cb, "the time range %s to %s is empty", a, b);
            return P_NONE;
        }
        return node_add(p, PO_RANGE, PA_TIME, (uint32_t)ma, (uint32_t)(mb % 1440 == 0 && mb ? 1440 : mb),
                        line, col);
    }
    if (strcmp(what, "weekday") == 0) {
        struct vlist vl;
        int op, neg;
        if (parse_cmp(ps, &vl, &op, &neg, 0, "weekday", "a weekday") < 0)
            return P_NONE;
        uint32_t mask = 0;
        for (int i = 0; i < vl.n; i++) {
            int k = -1;
            for (int j = 0; j < 7; j++)
                if (strcasecmp(vl.v[i], weekdays[j]) == 0 || strcasecmp(vl.v[i], weekdays_long[j]) == 0)
                    k = j;
            if (k < 0) {
                char h[80];
                hint(h, sizeof(h), vl.v[i], weekdays, 7);
                perr(ps, vl.line[i], vl.col[i], "unknown weekday '%s'%s (mon tue wed thu fri sat sun)",
                     vl.v[i], h);
                return P_NONE;
            }
            mask |= 1u << k;
        }
        return wrap_not(ps, node_add(p, PO_MASK, PA_WEEKDAY, mask, 0, line, col), neg, line, col);
    }
    /* date from D | date until D | date between D and D | date = D */
    int32_t lo = INT32_MIN, hi = INT32_MAX;
    int kind;
    if (tok_is(ps, "from"))
        kind = 0;
    else if (tok_is(ps, "until"))
        kind = 1;
    else if (tok_is(ps, "between"))
        kind = 2;
    else if (ps->t.kind == T_EQ)
        kind = 3;
    else {
        perr(ps, ps->t.line, ps->t.col,
             "expected from, until, between or = after 'date' (date from 2026-11-19), found %s",
             tok_desc(ps, d, sizeof(d)));
        return P_NONE;
    }
    next(ps);
    int la = ps->t.line, ca = ps->t.col;
    int32_t da, db;
    if (parse_value(ps, a, sizeof(a), "a date YYYY-MM-DD") < 0)
        return P_NONE;
    if (parse_date(a, &da) < 0) {
        perr(ps, la, ca, "'%s' is not a date; write YYYY-MM-DD, like 2026-11-19", a);
        return P_NONE;
    }
    if (kind == 0)
        lo = da;
    else if (kind == 1)
        hi = da;
    else if (kind == 3)
        lo = hi = da;
    else {
        if (!tok_is(ps, "and")) {
            perr(ps, ps->t.line, ps->t.col, "expected 'and' (date between 2026-01-01 and 2026-12-31)");
            return P_NONE;
        }
        next(ps);
        int lb = ps->t.line, cb = ps->t.col;
        if (parse_value(ps, b, sizeof(b), "a date YYYY-MM-DD") < 0)
            return P_NONE;
        if (parse_date(b, &db) < 0) {
            perr(ps, lb, cb, "'%s' is not a date; write YYYY-MM-DD, like 2026-12-31", b);
            return P_NONE;
        }
        if (db < da) {
            perr(ps, lb, cb, "the date range ends (%s) before it starts (%s)", b, a);
            return P_NONE;
        }
        lo = da;
        hi = db;
    }
    return node_add(p, PO_RANGE, PA_DATE, (uint32_t)lo, (uint32_t)hi, line, col);
}

static uint32_t parse_atom(struct parser *ps)
{
    char w[80], h[96], d[80];
    int line = ps->t.line, col = ps->t.col;
    if (ps->t.kind == T_LP) {
        next(ps);
        uint32_t n = parse_or(ps);
        if (n == P_NONE)
            return P_NONE;
        if (ps->t.kind != T_RP) {
            perr(ps, ps->t.line, ps->t.col, "expected ')' to close the '(' at line %d column %d, found %s",
                 line, col, tok_desc(ps, d, sizeof(d)));
            return P_NONE;
        }
        next(ps);
        ps->p->nodes[n].paren = 1;
        return n;
    }
    if (ps->t.kind != T_WORD) {
        perr(ps, line, col, "expected a condition, found %s", tok_desc(ps, d, sizeof(d)));
        return P_NONE;
    }
    tok_text(ps, w, sizeof(w));
    if (strcmp(w, "not") == 0) {
        next(ps);
        if (++ps->depth > MAX_DEPTH) {
            perr(ps, line, col, "conditions nested more than %d deep", MAX_DEPTH);
            return P_NONE;
        }
        uint32_t c = parse_atom(ps);
        ps->depth--;
        if (c == P_NONE)
            return P_NONE;
        return node_add(ps->p, PO_NOT, PA_NONE, c, P_NONE, line, col);
    }
    next(ps);
    if (strcmp(w, "in-state") == 0)
        return node_add(ps->p, PO_INSTATE, PA_INSTATE, 0, 0, line, col);
    if (strcmp(w, "key") == 0)
        return parse_key_atom(ps, line, col);
    if (strcmp(w, "via") == 0) {
        struct vlist vl;
        int neg = 0;
        if (tok_is(ps, "not")) {
            neg = 1;
            next(ps);
        }
        if (parse_values(ps, &vl, 1, "direct, region or nationwide") < 0)
            return P_NONE;
        uint32_t mask = 0;
        for (int i = 0; i < vl.n; i++) {
            if (strcmp(vl.v[i], "direct") == 0)
                mask |= 1u << SL_VIA_DIRECT;
            else if (strcmp(vl.v[i], "region") == 0)
                mask |= 1u << SL_VIA_REGION;
            else if (strcmp(vl.v[i], "nationwide") == 0)
                mask |= 1u << SL_VIA_NATIONWIDE;
            else if (strcmp(vl.v[i], "fan-out") == 0)
                mask |= (1u << SL_VIA_REGION) | (1u << SL_VIA_NATIONWIDE);
            else {
                const char *c[] = {"direct", "region", "nationwide", "fan-out"};
                hint(h, sizeof(h), vl.v[i], c, 4);
                perr(ps, vl.line[i], vl.col[i],
                     "unknown route '%s'%s (via direct, region, nationwide or fan-out)", vl.v[i], h);
                return P_NONE;
            }
        }
        return wrap_not(ps, node_add(ps->p, PO_MASK, PA_VIA, mask, 0, line, col), neg, line, col);
    }
    if (strcmp(w, "time") == 0 || strcmp(w, "weekday") == 0 || strcmp(w, "date") == 0)
        return parse_time_atom(ps, w, line, col);
    char *dot = strchr(w, '.');
    if (dot) {
        *dot = '\0';
        if (strcmp(w, "requester") == 0)
            return parse_requester_atom(ps, dot + 1, line, col, col + (int)(dot - w) + 1);
        if (strcmp(w, "user") == 0) {
            if (strcmp(dot + 1, "queries") == 0)
                return parse_count_atom(ps, 1, line, col);
            perr(ps, line, col, "unknown field 'user.%s': the person asking has only "
                                "user.queries (user.queries per hour > 20)", dot + 1);
            return P_NONE;
        }
        hint(h, sizeof(h), w, heads, sizeof(heads) / sizeof(heads[0]));
        perr(ps, line, col, "unknown field '%s'%s", w, h);
        return P_NONE;
    }
    /* A message field, "LGP" or "LGP/". */
    size_t wl = strlen(w);
    if (wl == 4 && w[3] == '/')
        w[3] = '\0';
    char up[80];
    snprintf(up, sizeof(up), "%s", w);
    upcase(up);
    int f = sl_policy_field_lookup(up);
    if (f >= 0 && strcmp(up, w) == 0)
        return parse_field_atom(ps, f, line, col);
    if (strcmp(w, "requester") == 0) {
        perr(ps, line, col, "say which requester attribute: requester.ori, .member, .type, .state, .queries, "
                            ".parent, .tags or .categories");
        return P_NONE;
    }
    if (f >= 0) {
        perr(ps, line, col, "message fields are written in capitals: '%s'", up);
        return P_NONE;
    }
    hint(h, sizeof(h), w, attr_words, sizeof(attr_words) / sizeof(attr_words[0]));
    if (!h[0]) {
        const char *fl[16];
        int k = 0;
        for (int i = 0; sl_policy_fields[i].pfx; i++)
            fl[k++] = sl_policy_fields[i].pfx;
        hint(h, sizeof(h), up, fl, (size_t)k);
    }
    perr(ps, line, col, "unknown field '%s'%s", w, h);
    return P_NONE;
}

static int count_term(struct parser *ps, int line, int col)
{
    if (++ps->terms > MAX_TERMS) {
        perr(ps, line, col, "a condition with more than %d 'and'/'or' is too long to read; split the rule",
             MAX_TERMS);
        return -1;
    }
    return 0;
}

static uint32_t parse_and(struct parser *ps)
{
    uint32_t l = parse_atom(ps);
    while (l != P_NONE && tok_is(ps, "and")) {
        int line = ps->t.line, col = ps->t.col;
        if (count_term(ps, line, col) < 0)
            return P_NONE;
        next(ps);
        uint32_t r = parse_atom(ps);
        if (r == P_NONE)
            return P_NONE;
        l = node_add(ps->p, PO_AND, PA_NONE, l, r, line, col);
    }
    return l;
}

static uint32_t parse_or(struct parser *ps)
{
    if (++ps->depth > MAX_DEPTH) {
        perr(ps, ps->t.line, ps->t.col, "conditions nested more than %d deep", MAX_DEPTH);
        return P_NONE;
    }
    uint32_t l = parse_and(ps);
    int mixed_warned = 0;
    while (l != P_NONE && tok_is(ps, "or")) {
        int line = ps->t.line, col = ps->t.col;
        if (count_term(ps, line, col) < 0) {
            l = P_NONE;
            break;
        }
        next(ps);
        uint32_t r = parse_and(ps);
        if (r == P_NONE) {
            l = P_NONE;
            break;
        }
        const struct pnode *ln = &ps->p->nodes[l], *rn = &ps->p->nodes[r];
        if (!mixed_warned && ((ln->op == PO_AND && !ln->paren) || (rn->op == PO_AND && !rn->paren))) {
            sl_policy_diag_add(ps->diags, SL_PDIAG_WARNING, line, col,
                               "'and' and 'or' mixed without parentheses: 'and' binds first; "
                               "add parentheses so a reader sees the same");
            mixed_warned = 1;
        }
        l = node_add(ps->p, PO_OR, PA_NONE, l, r, line, col);
    }
    ps->depth--;
    return l;
}

/* ---- rules ---- */

static int is_id(const char *s)
{
    if (!isalnum((unsigned char)s[0]))
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return 0;
    return 1;
}

static const char *const rule_words[] = {"rule", "redact", "notify", "mark", "deadline",
                                         "state", "default", "title"};

/* Skip to the next `rule` at the start of a statement. */
static void recover(struct parser *ps)
{
    while (ps->t.kind != T_EOF && !tok_is(ps, "rule"))
        next(ps);
}

static int parse_duration(const char *s, int64_t *secs)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v <= 0 || v > 24 * 365)
        return -1;
    if (strcmp(end, "h") == 0)
        *secs = (int64_t)v * 3600;
    else if (strcmp(end, "d") == 0)
        *secs = (int64_t)v * 86400;
    else if (strcmp(end, "m") == 0)
        *secs = (int64_t)v * 60;
    else
        return -1;
    return 0;
}

static void parse_rule(struct parser *ps)
{
    struct sl_policy *p = ps->p;
    char w[80], d[80], h[96];
    int rline = ps->t.line, rcol = ps->t.col;
    next(ps); /* rule */
    if (ps->t.kind != T_WORD) {
        perr(ps, ps->t.line, ps->t.col, "expected a rule id after 'rule', found %s",
             tok_desc(ps, d, sizeof(d)));
        return;
    }
    tok_text(ps, w, sizeof(w));
    if (ps->t.len > 63 || !is_id(w)) {
        perr(ps, ps->t.line, ps->t.col,
             "rule id '%s' must be letters, digits, '-', '_' or '.' (at most 63), like no-civil-immigration", w);
        return;
    }
    int idline = ps->t.line, idcol = ps->t.col;
    next(ps);
    if (ps->t.kind != T_STRING) {
        perr(ps, ps->t.line, ps->t.col,
             "rule '%s' needs its reason in quotes: rule %s \"why this rule exists\"", w, w);
        return;
    }
    if (ps->t.len == 0) {
        perr(ps, ps->t.line, ps->t.col, "the reason of rule '%s' is empty; say why the rule exists", w);
        return;
    }
    struct prule r;
    memset(&r, 0, sizeof(r));
    r.id = pool_add(p, w, strlen(w));
    r.id_line = idline;
    r.id_col = idcol;
    r.reason = pool_add(p, ps->t.s, ps->t.len);
    r.line = rline;
    r.col = rcol;
    r.cond = P_NONE;
    r.mark = P_NONE;
    r.then = SL_POLICY_FORBID;
    ps->terms = 0;
    next(ps);
    if (tok_is(ps, "permit"))
        r.effect = SL_POLICY_PERMIT;
    else if (tok_is(ps, "forbid"))
        r.effect = SL_POLICY_FORBID;
    else if (tok_is(ps, "hold"))
        r.effect = SL_POLICY_HOLD;
    else {
        const char *eff[] = {"permit", "forbid", "hold"};
        if (ps->t.kind == T_WORD) {
            tok_text(ps, w, sizeof(w));
            hint(h, sizeof(h), w, eff, 3);
        } else {
            h[0] = '\0';
        }
        perr(ps, ps->t.line, ps->t.col, "expected permit, forbid or hold, found %s%s",
             tok_desc(ps, d, sizeof(d)), h);
        return;
    }
    next(ps);
    if (tok_is(ps, "when")) {
        next(ps);
        ps->depth = 0;
        r.cond = parse_or(ps);
        if (r.cond == P_NONE)
            return;
    }
    if (tok_is(ps, "unless")) {
        int line = ps->t.line, col = ps->t.col;
        next(ps);
        ps->depth = 0;
        uint32_t u = parse_or(ps);
        if (u == P_NONE)
            return;
        uint32_t nu = node_add(p, PO_NOT, PA_NONE, u, P_NONE, line, col);
        p->nodes[u].paren = 1;
        r.cond = r.cond == P_NONE ? nu : node_add(p, PO_AND, PA_NONE, r.cond, nu, line, col);
    }
    int have_deadline = 0;
    for (;;) {
        if (ps->t.kind == T_EOF || tok_is(ps, "rule"))
            break;
        int line = ps->t.line, col = ps->t.col;
        if (ps->t.kind != T_WORD) {
            perr(ps, line, col, "expected redact, notify, mark%s or the next rule, found %s",
                 r.effect == SL_POLICY_HOLD ? ", deadline" : "", tok_desc(ps, d, sizeof(d)));
            return;
        }
        tok_text(ps, w, sizeof(w));
        int is_obl = strcmp(w, "redact") == 0 || strcmp(w, "notify") == 0 || strcmp(w, "mark") == 0;
        if (is_obl && r.effect == SL_POLICY_FORBID) {
            perr(ps, line, col,
                 "a forbid rule releases nothing, so '%s' has no meaning here; put it on a permit or hold rule",
                 w);
            return;
        }
        if (strcmp(w, "redact") == 0) {
            next(ps);
            r.redact_line = line;
            r.redact_col = col;
            for (;;) {
                char c[64];
                int cl = ps->t.line, cc = ps->t.col;
                if (parse_value(ps, c, sizeof(c), "a data class") < 0)
                    return;
                int dc = sl_policy_dc_lookup(c);
                if (dc < 0) {
                    const char *names[SL_DC_COUNT];
                    for (int i = 0; i < SL_DC_COUNT; i++)
                        names[i] = sl_policy_dc_name(i);
                    hint(h, sizeof(h), c, names, SL_DC_COUNT);
                    perr(ps, cl, cc,
                         "unknown data class '%s'%s (identity photo ssn address dob description "
                         "license history vehicle owner owner-address)", c, h);
                    return;
                }
                r.redact |= 1u << dc;
                if (ps->t.kind != T_COMMA)
                    break;
                next(ps);
            }
        } else if (strcmp(w, "notify") == 0) {
            next(ps);
            if (r.notify_days) {
                perr(ps, line, col, "rule '%s' already has a notify", pstr(p, r.id));
                return;
            }
            if (!tok_is(ps, "subject")) {
                perr(ps, ps->t.line, ps->t.col,
                     "expected 'subject' (notify subject within 3 business days), found %s",
                     tok_desc(ps, d, sizeof(d)));
                return;
            }
            next(ps);
            if (!tok_is(ps, "within")) {
                perr(ps, ps->t.line, ps->t.col, "expected 'within' (notify subject within 3 business days)");
                return;
            }
            next(ps);
            char num[32];
            int nl = ps->t.line, nc = ps->t.col;
            if (parse_value(ps, num, sizeof(num), "a number of days") < 0)
                return;
            char *end;
            long days = strtol(num, &end, 10);
            if (*end || days < 1 || days > 365) {
                perr(ps, nl, nc, "'%s' is not a number of days from 1 to 365", num);
                return;
            }
            int business = 0;
            if (tok_is(ps, "business")) {
                business = 1;
                next(ps);
            }
            if (!tok_is(ps, "days") && !tok_is(ps, "day")) {
                perr(ps, ps->t.line, ps->t.col, "expected 'days' or 'business days' after %ld", days);
                return;
            }
            next(ps);
            r.notify_days = (int)days;
            r.notify_business = business;
        } else if (strcmp(w, "mark") == 0) {
            next(ps);
            if (r.mark != P_NONE) {
                perr(ps, line, col, "rule '%s' already has a mark; one mark per rule", pstr(p, r.id));
                return;
            }
            if (ps->t.kind != T_STRING || ps->t.len == 0) {
                perr(ps, ps->t.line, ps->t.col,
                     "expected the marking text in quotes (mark \"NOT FOR CIVIL IMMIGRATION ENFORCEMENT\")");
                return;
            }
            if (ps->t.len > 200) {
                perr(ps, ps->t.line, ps->t.col, "a mark is at most 200 characters");
                return;
            }
            r.mark = pool_add(p, ps->t.s, ps->t.len);
            r.mark_line = line;
            next(ps);
        } else if (strcmp(w, "deadline") == 0) {
            if (r.effect != SL_POLICY_HOLD) {
                perr(ps, line, col, "only a hold rule has a deadline");
                return;
            }
            if (have_deadline) {
                perr(ps, line, col, "rule '%s' already has a deadline", pstr(p, r.id));
                return;
            }
            next(ps);
            char dur[32];
            int dl = ps->t.line, dc = ps->t.col;
            if (parse_value(ps, dur, sizeof(dur), "a duration like 72h") < 0)
                return;
            if (parse_duration(dur, &r.deadline_s) < 0) {
                perr(ps, dl, dc, "'%s' is not a duration; write hours or days, like 72h or 3d", dur);
                return;
            }
            if (ps->t.kind != T_COMMA) {
                perr(ps, ps->t.line, ps->t.col, "expected ', then forbid' or ', then permit' after the deadline");
                return;
            }
            next(ps);
            if (!tok_is(ps, "then")) {
                perr(ps, ps->t.line, ps->t.col, "expected 'then' (deadline 72h, then forbid)");
                return;
            }
            next(ps);
            if (tok_is(ps, "forbid"))
                r.then = SL_POLICY_FORBID;
            else if (tok_is(ps, "permit"))
                r.then = SL_POLICY_PERMIT;
            else {
                perr(ps, ps->t.line, ps->t.col, "after the deadline the outcome is forbid or permit, found %s",
                     tok_desc(ps, d, sizeof(d)));
                return;
            }
            next(ps);
            have_deadline = 1;
        } else if (strcmp(w, "when") == 0 || strcmp(w, "unless") == 0) {
            perr(ps, line, col, "'%s' comes right after permit, forbid or hold", w);
            return;
        } else if (strcmp(w, "and") == 0 || strcmp(w, "or") == 0) {
            perr(ps, line, col, "'%s' continues a condition; the condition before it ended early", w);
            return;
        } else {
            hint(h, sizeof(h), w, rule_words, sizeof(rule_words) / sizeof(rule_words[0]));
            perr(ps, line, col, "unexpected '%s' in rule '%s'%s", w, pstr(p, r.id), h);
            return;
        }
    }
    if (r.effect == SL_POLICY_HOLD && !have_deadline) {
        perr(ps, rline, rcol,
             "hold rule '%s' needs a deadline and what happens then: deadline 72h, then forbid",
             pstr(p, r.id));
        return;
    }
    if (p->nrules == p->rulescap) {
        p->rulescap = p->rulescap ? p->rulescap * 2 : 64;
        p->rules = sl_xrealloc(p->rules, p->rulescap * sizeof(*p->rules));
    }
    p->rules[p->nrules++] = r;
}

/* Sort rule indexes by id, then by position (a stable order for the duplicate report). */
static int id_less(const struct sl_policy *p, uint32_t a, uint32_t b)
{
    int c = strcmp(p->pool + p->rules[a].id, p->pool + p->rules[b].id);
    return c < 0 || (c == 0 && a < b);
}

static void ids_sort(const struct sl_policy *p, uint32_t *ix, uint32_t n)
{
    /* Heap sort: no comparator context in qsort, and no global to hold the policy. */
    for (uint32_t start = n / 2; start-- > 0;) {
        uint32_t root = start;
        for (;;) {
            uint32_t child = 2 * root + 1;
            if (child >= n)
                break;
            if (child + 1 < n && id_less(p, ix[child], ix[child + 1]))
                child++;
            if (!id_less(p, ix[root], ix[child]))
                break;
            uint32_t t = ix[root];
            ix[root] = ix[child];
            ix[child] = t;
            root = child;
        }
    }
    for (uint32_t end = n; end-- > 1;) {
        uint32_t t = ix[0];
        ix[0] = ix[end];
        ix[end] = t;
        uint32_t root = 0;
        for (;;) {
            uint32_t child = 2 * root + 1;
            if (child >= end)
                break;
            if (child + 1 < end && id_less(p, ix[child], ix[child + 1]))
                child++;
            if (!id_less(p, ix[root], ix[child]))
                break;
            uint32_t t2 = ix[root];
            ix[root] = ix[child];
            ix[child] = t2;
            root = child;
        }
    }
}

int sl_policy_parse(struct sl_policy *p, const char *text, size_t len,
                    struct sl_policy_diags *diags)
{
    struct parser ps;
    memset(&ps, 0, sizeof(ps));
    ps.p = p;
    ps.diags = diags;
    ps.text = text;
    ps.len = len;
    ps.line = 1;
    ps.col = 1;
    p->title = P_NONE;
    char d[80], w[80], h[96];
    if (len > MAX_TEXT) {
        perr(&ps, 0, 0, "policy text larger than %u bytes", MAX_TEXT);
        return ps.errors;
    }
    if (memchr(text, '\0', len)) {
        perr(&ps, 0, 0, "policy text contains a NUL byte; it must be plain text");
        return ps.errors;
    }
    /* A UTF-8 byte-order mark is harmless. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        ps.pos = 3;
    next(&ps);
    int have_state = 0, have_default = 0;
    while (ps.t.kind != T_EOF && !tok_is(&ps, "rule")) {
        int line = ps.t.line, col = ps.t.col;
        if (tok_is(&ps, "state")) {
            next(&ps);
            if (ps.t.kind != T_WORD || ps.t.len != 2 || !isupper((unsigned char)ps.t.s[0]) ||
                !isupper((unsigned char)ps.t.s[1])) {
                perr(&ps, ps.t.line, ps.t.col, "expected a 2-letter state code in capitals (state WA), found %s",
                     tok_desc(&ps, d, sizeof(d)));
                ps.in_rule_error = 0;
                next(&ps);
                continue;
            }
            if (have_state) {
                perr(&ps, line, col, "'state' is given twice; a file holds one state's rules");
                ps.in_rule_error = 0;
            }
            memcpy(p->state, ps.t.s, 2);
            p->state[2] = '\0';
            have_state = 1;
            next(&ps);
        } else if (tok_is(&ps, "default")) {
            next(&ps);
            if (tok_is(&ps, "permit"))
                p->deflt = SL_POLICY_PERMIT;
            else if (tok_is(&ps, "forbid"))
                p->deflt = SL_POLICY_FORBID;
            else {
                perr(&ps, ps.t.line, ps.t.col, "the default is permit or forbid, found %s%s",
                     tok_desc(&ps, d, sizeof(d)),
                     tok_is(&ps, "hold") ? " (a hold needs a rule with a deadline)" : "");
                ps.in_rule_error = 0;
                next(&ps);
                continue;
            }
            if (have_default) {
                perr(&ps, line, col, "'default' is given twice");
                ps.in_rule_error = 0;
            }
            have_default = 1;
            next(&ps);
        } else if (tok_is(&ps, "title")) {
            next(&ps);
            if (ps.t.kind != T_STRING) {
                perr(&ps, ps.t.line, ps.t.col, "expected the title in quotes");
                ps.in_rule_error = 0;
                continue;
            }
            p->title = pool_add(p, ps.t.s, ps.t.len);
            next(&ps);
        } else {
            if (ps.t.kind == T_WORD) {
                tok_text(&ps, w, sizeof(w));
                hint(h, sizeof(h), w, rule_words, sizeof(rule_words) / sizeof(rule_words[0]));
            } else {
                h[0] = '\0';
            }
            perr(&ps, line, col, "expected state, default, title or rule, found %s%s",
                 tok_desc(&ps, d, sizeof(d)), h);
            ps.in_rule_error = 0;
            recover(&ps);
        }
    }
    if (!have_state) {
        perr(&ps, 1, 1, "the file must say whose rules these are: 'state WA' first");
        ps.in_rule_error = 0;
    }
    if (!have_default) {
        perr(&ps, 1, 1, "the file must say what happens when no rule matches: 'default permit' or 'default forbid'");
        ps.in_rule_error = 0;
    }
    while (ps.t.kind != T_EOF) {
        ps.in_rule_error = 0;
        if (!tok_is(&ps, "rule")) {
            perr(&ps, ps.t.line, ps.t.col, "expected 'rule', found %s", tok_desc(&ps, d, sizeof(d)));
            ps.in_rule_error = 0;
            next(&ps);
            recover(&ps);
            continue;
        }
        int before = ps.errors;
        parse_rule(&ps);
        if (ps.errors != before) {
            ps.in_rule_error = 0;
            if (!tok_is(&ps, "rule"))
                next(&ps);
            recover(&ps);
        }
    }
    /* Duplicate ids: sort rule indexes by id (O(n log n) for large generated policies). */
    if (p->nrules > 1) {
        uint32_t *ix = sl_xmalloc(p->nrules * sizeof(uint32_t));
        for (uint32_t i = 0; i < p->nrules; i++)
            ix[i] = i;
        ids_sort(p, ix, p->nrules);
        for (uint32_t i = 1; i < p->nrules; i++) {
            const struct prule *a = &p->rules[ix[i - 1]], *b = &p->rules[ix[i]];
            if (strcmp(p->pool + a->id, p->pool + b->id) == 0) {
                ps.in_rule_error = 0;
                perr(&ps, b->id_line, b->id_col, "rule id '%s' is already used at line %d; ids must be unique",
                     p->pool + b->id, a->line);
            }
        }
        free(ix);
    }
    return ps.errors;
}
