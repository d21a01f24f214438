/*
 * policy.c - compiling a policy into its matcher, deciding, and swapping policies.
 *
 * Decide (F-3) touches only rules that can match the request: the unanchored rules of
 * the request's (key, ORION type) bucket, the rules tied to the requester's ORI, and the
 * rules tied to its parent agency or any ancestor of it (DHS, DHS/ICE, DHS/ICE/ERO).  A
 * rule is "tied" to ORIs or parents when its condition is a conjunction one of whose
 * parts is `requester.ori = / in` or `requester.parent = / in / under`; that part is
 * necessary, so a rule not found through the index cannot match.  Each candidate's
 * condition is then evaluated over the flat node array in three-valued logic
 * (true / false / cannot evaluate).  When the requester is not in the directory or the
 * key is missing, every rule that could match the key is evaluated, so that an error is
 * never hidden by the index.
 */
#include "policy/policy_int.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/buf.h"
#include "stateline/core.h"

/* ---- data classes ---- */

static const char *const dc_names[SL_DC_COUNT] = {
    "identity", "photo",   "ssn",     "address", "dob",          "description",
    "license",  "history", "vehicle", "owner",   "owner-address",
};

const char *sl_policy_dc_name(int dc)
{
    return dc >= 0 && dc < SL_DC_COUNT ? dc_names[dc] : NULL;
}

int sl_policy_dc_lookup(const char *name)
{
    for (int i = 0; i < SL_DC_COUNT; i++)
        if (strcmp(dc_names[i], name) == 0)
            return i;
    return -1;
}

#define DC(x) (1u << SL_DC_##x)
static const uint32_t dc_by_slot[PK_COUNT] = {
    /* DQ  */ DC(IDENTITY) | DC(PHOTO) | DC(SSN) | DC(ADDRESS) | DC(DOB) | DC(DESCRIPTION) | DC(LICENSE),
    /* DNQ */ DC(IDENTITY) | DC(ADDRESS) | DC(DOB) | DC(DESCRIPTION) | DC(LICENSE),
    /* KQ  */ DC(IDENTITY) | DC(PHOTO) | DC(SSN) | DC(ADDRESS) | DC(DOB) | DC(DESCRIPTION) |
              DC(LICENSE) | DC(HISTORY),
    /* RQ  */ DC(VEHICLE) | DC(OWNER) | DC(OWNER_ADDRESS),
    /* RNQ */ DC(VEHICLE) | DC(OWNER) | DC(OWNER_ADDRESS),
    /* RPQ */ DC(VEHICLE) | DC(OWNER) | DC(OWNER_ADDRESS),
    /* other */ 0,
};

uint32_t sl_policy_dc_for_key(const char *key)
{
    return dc_by_slot[sl_policy_key_slot(key, NULL)];
}

const char *sl_policy_effect_name(enum sl_policy_effect e)
{
    switch (e) {
    case SL_POLICY_PERMIT: return "permit";
    case SL_POLICY_HOLD: return "hold";
    case SL_POLICY_FORBID: return "forbid";
    }
    return "?";
}

const char *sl_policy_eval_err_text(enum sl_policy_eval_err e)
{
    switch (e) {
    case SL_PEVAL_OK: return "no error";
    case SL_PEVAL_NO_REQUESTER: return "no verified requester";
    case SL_PEVAL_UNKNOWN_REQUESTER:
        return "the requester is not in the directory, so its type, parent agency, tags and categories are unknown";
    case SL_PEVAL_NO_MESSAGE: return "the message key or fields are missing";
    case SL_PEVAL_NO_TIME: return "the time of the request is unknown";
    case SL_PEVAL_NO_COUNT: return "the requester's query count is not known";
    case SL_PEVAL_NO_USER:
        return "the request names no user (ATN/), so the user's query count is not known";
    }
    return "?";
}

/* ---- glob ---- */

int sl_policy_glob(const char *pat, const char *s, size_t slen)
{
    /* Iterative with one backtrack point: linear enough for ORIs and short values. */
    size_t si = 0;
    const char *star = NULL;
    size_t star_si = 0;
    while (si < slen) {
        if (*pat == '?' || (*pat && *pat != '*' && *pat == s[si])) {
            pat++;
            si++;
        } else if (*pat == '*') {
            star = pat++;
            star_si = si;
        } else if (star) {
            pat = star + 1;
            si = ++star_si;
        } else {
            return 0;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

/* ---- masks of a rule (used by the index and the checker) ---- */

static void masks_of(const struct sl_policy *p, uint32_t n, uint32_t *keys, uint32_t *types)
{
    if (n == P_NONE)
        return;
    const struct pnode *x = &p->nodes[n];
    if (x->op == PO_AND) {
        masks_of(p, x->a, keys, types);
        masks_of(p, x->b, keys, types);
    } else if (x->op == PO_MASK && x->attr == PA_KEY) {
        *keys &= x->a;
    } else if (x->op == PO_MASK && x->attr == PA_TYPE) {
        *types &= x->a;
    } else if (x->op == PO_OR) {
        uint32_t ka = P_ALLKEYS, ta = P_ALLTYPES, kb = P_ALLKEYS, tb = P_ALLTYPES;
        masks_of(p, x->a, &ka, &ta);
        masks_of(p, x->b, &kb, &tb);
        *keys &= ka | kb;
        *types &= ta | tb;
    }
}

void sl_policy_rule_masks(const struct sl_policy *p, uint32_t cond, uint32_t *keys,
                          uint32_t *types)
{
    *keys = P_ALLKEYS;
    *types = P_ALLTYPES;
    masks_of(p, cond, keys, types);
}

/* ---- anchors ---- */

/* The first conjunct `requester.ori = / in`, else the first parent conjunct; NULL. */
static const struct pnode *anchor_of(const struct sl_policy *p, uint32_t n, int want)
{
    if (n == P_NONE)
        return NULL;
    const struct pnode *x = &p->nodes[n];
    if (x->op == PO_AND) {
        const struct pnode *a = anchor_of(p, x->a, want);
        return a ? a : anchor_of(p, x->b, want);
    }
    if (want == PA_ORI && x->op == PO_IN && x->attr == PA_ORI)
        return x;
    if (want == PA_PARENT && (x->op == PO_IN || x->op == PO_UNDER) && x->attr == PA_PARENT)
        return x;
    return NULL;
}

static uint32_t hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

struct anchor_pair {
    const char *s;
    uint32_t rule;
};

static int cmp_pair(const void *a, const void *b)
{
    const struct anchor_pair *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    if (c)
        return c;
    return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static void build_hash(struct phash *h, struct anchor_pair *pairs, size_t n)
{
    memset(h, 0, sizeof(*h));
    if (!n)
        return;
    qsort(pairs, n, sizeof(*pairs), cmp_pair);
    /* The same rule listed twice under one value ("in (A, A)") is found once. */
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (w == 0 || pairs[i].rule != pairs[w - 1].rule || strcmp(pairs[i].s, pairs[w - 1].s))
            pairs[w++] = pairs[i];
    n = w;
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(pairs[i].s, pairs[i - 1].s))
            distinct++;
    uint32_t cap = 8;
    while (cap < distinct * 2)
        cap <<= 1;
    h->mask = cap - 1;
    h->ents = sl_xcalloc(cap, sizeof(*h->ents));
    h->list = sl_xmalloc(n * sizeof(uint32_t));
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(pairs[j].s, pairs[i].s) == 0) {
            h->list[j] = pairs[j].rule;
            j++;
        }
        size_t len = strlen(pairs[i].s);
        uint32_t hv = hash_str(pairs[i].s, len);
        uint32_t k = hv & h->mask;
        while (h->ents[k].s)
            k = (k + 1) & h->mask;
        h->ents[k] = (struct phash_ent){pairs[i].s, (uint32_t)len, hv, (uint32_t)i, (uint32_t)(j - i)};
        i = j;
    }
}

static const struct phash_ent *hash_find(const struct phash *h, const char *s, size_t len)
{
    if (!h->ents)
        return NULL;
    uint32_t hv = hash_str(s, len);
    for (uint32_t k = hv & h->mask;; k = (k + 1) & h->mask) {
        const struct phash_ent *e = &h->ents[k];
        if (!e->s)
            return NULL;
        if (e->hash == hv && e->len == len && memcmp(e->s, s, len) == 0)
            return e;
    }
}

static int is_under(const char *parent, size_t plen, const char *p)
{
    size_t l = strlen(p);
    return plen >= l && memcmp(parent, p, l) == 0 && (plen == l || parent[l] == '/');
}

static void build_index(struct sl_policy *p)
{
    uint32_t nr = p->nrules;
    struct anchor_pair *oris = NULL, *pars = NULL;
    size_t no = 0, npar = 0, co = 0, cp = 0;
    /* 0 = unanchored, 1 = ORI, 2 = parent */
    uint8_t *kind = sl_xcalloc(nr ? nr : 1, 1);
    for (uint32_t i = 0; i < nr; i++) {
        struct prule *r = &p->rules[i];
        sl_policy_rule_masks(p, r->cond, &r->keymask, &r->typemask);
        const struct pnode *a = anchor_of(p, r->cond, PA_ORI);
        if (a) {
            kind[i] = 1;
            for (uint32_t v = 0; v < a->b; v++) {
                if (no == co) {
                    co = co ? co * 2 : 64;
                    oris = sl_xrealloc(oris, co * sizeof(*oris));
                }
                oris[no++] = (struct anchor_pair){pstr(p, p->vals[a->a + v]), i};
            }
            continue;
        }
        a = anchor_of(p, r->cond, PA_PARENT);
        if (a) {
            kind[i] = 2;
            for (uint32_t v = 0; v < a->b; v++) {
                const char *s = pstr(p, p->vals[a->a + v]);
                /* Drop values that lie under another value of the same list, so that
                 * the ancestor walk at decide time finds the rule once. */
                int dup = 0;
                for (uint32_t u = 0; u < a->b && !dup; u++) {
                    const char *t = pstr(p, p->vals[a->a + u]);
                    if (u != v && is_under(s, strlen(s), t) && (strcmp(s, t) != 0 || u < v))
                        dup = 1;
                }
                if (dup)
                    continue;
                if (npar == cp) {
                    cp = cp ? cp * 2 : 64;
                    pars = sl_xrealloc(pars, cp * sizeof(*pars));
                }
                pars[npar++] = (struct anchor_pair){s, i};
            }
        }
    }
    build_hash(&p->ori_idx, oris, no);
    build_hash(&p->parent_idx, pars, npar);
    free(oris);
    free(pars);

    /* Unanchored rules by (key, type), CSR. */
    uint32_t counts[PK_COUNT * PT_COUNT];
    memset(counts, 0, sizeof(counts));
    for (uint32_t i = 0; i < nr; i++) {
        if (kind[i])
            continue;
        for (int k = 0; k < PK_COUNT; k++)
            for (int t = 0; t < PT_COUNT; t++)
                if ((p->rules[i].keymask >> k & 1) && (p->rules[i].typemask >> t & 1))
                    counts[k * PT_COUNT + t]++;
    }
    p->ua_off[0] = 0;
    for (int b = 0; b < PK_COUNT * PT_COUNT; b++)
        p->ua_off[b + 1] = p->ua_off[b] + counts[b];
    p->ua_list = sl_xmalloc((p->ua_off[PK_COUNT * PT_COUNT] + 1) * sizeof(uint32_t));
    uint32_t fill[PK_COUNT * PT_COUNT];
    memcpy(fill, p->ua_off, sizeof(fill));
    for (uint32_t i = 0; i < nr; i++) {
        if (kind[i])
            continue;
        for (int k = 0; k < PK_COUNT; k++)
            for (int t = 0; t < PT_COUNT; t++)
                if ((p->rules[i].keymask >> k & 1) && (p->rules[i].typemask >> t & 1))
                    p->ua_list[fill[k * PT_COUNT + t]++] = i;
    }
    /* Every rule by key (slow path). */
    uint32_t kc[PK_COUNT] = {0};
    for (uint32_t i = 0; i < nr; i++)
        for (int k = 0; k < PK_COUNT; k++)
            if (p->rules[i].keymask >> k & 1)
                kc[k]++;
    p->bykey_off[0] = 0;
    for (int k = 0; k < PK_COUNT; k++)
        p->bykey_off[k + 1] = p->bykey_off[k] + kc[k];
    p->bykey_list = sl_xmalloc((p->bykey_off[PK_COUNT] + 1) * sizeof(uint32_t));
    uint32_t kf[PK_COUNT];
    memcpy(kf, p->bykey_off, sizeof(kf));
    for (uint32_t i = 0; i < nr; i++)
        for (int k = 0; k < PK_COUNT; k++)
            if (p->rules[i].keymask >> k & 1)
                p->bykey_list[kf[k]++] = i;
    free(kind);
}

/* ---- compile ---- */

static void policy_free(struct sl_policy *p)
{
    if (!p)
        return;
    free(p->pool);
    free(p->vals);
    free(p->nodes);
    free(p->rules);
    free(p->ua_list);
    free(p->bykey_list);
    free(p->ori_idx.ents);
    free(p->ori_idx.list);
    free(p->parent_idx.ents);
    free(p->parent_idx.list);
    free(p);
}

static void sha256_hex(const char *text, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        /* Cannot happen with a working libcrypto; never leave a hash that looks valid. */
        SL_ERROR("policy", "SHA-256 failed");
        memset(out, '0', 64);
        out[64] = '\0';
        return;
    }
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
    out[64] = '\0';
}

int sl_policy_compile(const char *text, size_t len, const char *name,
                      const struct sl_policy_opts *opts, struct sl_policy **out,
                      struct sl_policy_diags *diags)
{
    (void)name;
    *out = NULL;
    struct sl_policy_diags local = {0};
    struct sl_policy_diags *dg = diags ? diags : &local;
    int before = dg->nerrors;
    struct sl_policy *p = sl_xcalloc(1, sizeof(*p));
    atomic_init(&p->refs, 1);
    sl_policy_parse(p, text, len, dg);
    if (dg->nerrors == before)
        sl_policy_analyse(p, opts, dg);
    int failed = dg->nerrors != before;
    sl_policy_diags_free(&local);
    if (failed) {
        policy_free(p);
        return -1;
    }
    sha256_hex(text, len, p->hash);
    build_index(p);
    *out = p;
    return 0;
}

int sl_policy_load_file(const char *path, const struct sl_policy_opts *opts,
                        struct sl_policy **out, struct sl_policy_diags *diags)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        sl_policy_diag_add(diags, SL_PDIAG_ERROR, 0, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = sl_xmalloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            if (cap >= (64u << 20)) {
                sl_policy_diag_add(diags, SL_PDIAG_ERROR, 0, 0, "file larger than 64 MiB");
                free(buf);
                fclose(f);
                return -1;
            }
            cap *= 2;
            buf = sl_xrealloc(buf, cap);
        }
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        sl_policy_diag_add(diags, SL_PDIAG_ERROR, 0, 0, "read error");
        free(buf);
        return -1;
    }
    const char *base = strrchr(path, '/');
    int rc = sl_policy_compile(buf, len, base ? base + 1 : path, opts, out, diags);
    free(buf);
    return rc;
}

struct sl_policy *sl_policy_ref(struct sl_policy *p)
{
    if (p)
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void sl_policy_unref(struct sl_policy *p)
{
    if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        policy_free(p);
}

/* ---- evaluation ---- */

struct ectx {
    const struct sl_policy *p;
    const struct sl_policy_request *r;
    const struct sl_requester *q;  /* NULL when none */
    int key_slot, type_slot;       /* -1 when unknown */
    int32_t day;
    int minute;
    enum sl_policy_eval_err why;
};

#define E_ERR (-1)

static int err(struct ectx *c, enum sl_policy_eval_err why)
{
    if (c->why == SL_PEVAL_OK)
        c->why = why;
    return E_ERR;
}

const struct sl_policy_field *sl_policy_request_field(const struct sl_policy_request *r,
                                                     const char *pfx)
{
    for (int i = 0; i < r->nfields; i++)
        if (memcmp(r->fields[i].pfx, pfx, 4) == 0)
            return &r->fields[i];
    return NULL;
}

const struct sl_policy_field *sl_policy_request_user(const struct sl_policy_request *r)
{
    const struct sl_policy_field *f = sl_policy_request_field(r, "ATN");
    return f && f->len ? f : NULL;
}

static int has_token(const char *list, const char *tok)
{
    size_t tl = strlen(tok);
    const char *s = list;
    while (*s) {
        while (*s == ' ')
            s++;
        const char *e = s;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - s) == tl && memcmp(s, tok, tl) == 0)
            return 1;
        s = e;
    }
    return 0;
}

/* Requester string attribute, or NULL with the error set. */
static const char *req_str(struct ectx *c, int attr, int *errout)
{
    *errout = 0;
    if (!c->q) {
        *errout = err(c, SL_PEVAL_NO_REQUESTER);
        return NULL;
    }
    switch (attr) {
    case PA_ORI: return c->q->ori;
    case PA_MEMBER: return c->q->member;
    case PA_STATE: return c->q->state;
    default: break;
    }
    if (!c->r->requester_known) {
        *errout = err(c, SL_PEVAL_UNKNOWN_REQUESTER);
        return NULL;
    }
    switch (attr) {
    case PA_PARENT: return c->q->parent;
    case PA_TAGS: return c->q->tags;
    case PA_CATS: return c->q->cats;
    default: return NULL;
    }
}

static int eval(struct ectx *c, uint32_t n)
{
    const struct sl_policy *p = c->p;
    const struct pnode *x = &p->nodes[n];
    int e;
    switch (x->op) {
    case PO_TRUE: return 1;
    case PO_AND: {
        int a = eval(c, x->a);
        if (a == 0)
            return 0;
        int b = eval(c, x->b);
        if (b == 0)
            return 0;
        return a == E_ERR || b == E_ERR ? E_ERR : 1;
    }
    case PO_OR: {
        int a = eval(c, x->a);
        if (a == 1)
            return 1;
        int b = eval(c, x->b);
        if (b == 1)
            return 1;
        return a == E_ERR || b == E_ERR ? E_ERR : 0;
    }
    case PO_NOT: {
        int a = eval(c, x->a);
        return a == E_ERR ? E_ERR : !a;
    }
    case PO_INSTATE: {
        if (!c->q)
            return err(c, SL_PEVAL_NO_REQUESTER);
        return strcmp(c->q->state, p->state) == 0;
    }
    case PO_MASK:
        switch (x->attr) {
        case PA_KEY:
            if (c->key_slot < 0)
                return err(c, SL_PEVAL_NO_MESSAGE);
            return (int)(x->a >> c->key_slot & 1);
        case PA_VIA:
            if (c->key_slot < 0)
                return err(c, SL_PEVAL_NO_MESSAGE);
            return (int)(x->a >> c->r->via & 1);
        case PA_TYPE:
            if (!c->q)
                return err(c, SL_PEVAL_NO_REQUESTER);
            if (c->type_slot < 0)
                return err(c, SL_PEVAL_UNKNOWN_REQUESTER);
            return (int)(x->a >> c->type_slot & 1);
        case PA_WEEKDAY:
            if (!c->r->has_time)
                return err(c, SL_PEVAL_NO_TIME);
            return (int)(x->a >> c->r->local.wday & 1);
        default: return err(c, SL_PEVAL_NO_MESSAGE);
        }
    case PO_RANGE:
        if (!c->r->has_time)
            return err(c, SL_PEVAL_NO_TIME);
        if (x->attr == PA_TIME) {
            int m = c->minute, lo = (int)x->a, hi = (int)x->b;
            return lo < hi ? (m >= lo && m < hi) : (m >= lo || m < hi);
        }
        return c->day >= (int32_t)x->a && c->day <= (int32_t)x->b;
    case PO_PRESENT: {
        if (c->key_slot < 0)
            return err(c, SL_PEVAL_NO_MESSAGE);
        const struct sl_policy_field *f = sl_policy_request_field(c->r, sl_policy_fields[x->field].pfx);
        return f && f->len > 0;
    }
    case PO_IN:
    case PO_MATCH: {
        const char *s;
        size_t slen;
        if (x->attr == PA_FIELD) {
            if (c->key_slot < 0)
                return err(c, SL_PEVAL_NO_MESSAGE);
            const struct sl_policy_field *f = sl_policy_request_field(c->r, sl_policy_fields[x->field].pfx);
            if (!f || !f->len)
                return 0;
            s = f->val;
            slen = f->len;
        } else {
            s = req_str(c, x->attr, &e);
            if (!s)
                return e;
            slen = strlen(s);
        }
        for (uint32_t i = 0; i < x->b; i++) {
            const char *v = p->pool + p->vals[x->a + i];
            if (x->op == PO_MATCH) {
                if (sl_policy_glob(v, s, slen))
                    return 1;
            } else if (strlen(v) == slen && memcmp(v, s, slen) == 0) {
                return 1;
            }
        }
        return 0;
    }
    case PO_UNDER: {
        const char *s = req_str(c, PA_PARENT, &e);
        if (!s)
            return e;
        size_t sl = strlen(s);
        for (uint32_t i = 0; i < x->b; i++)
            if (is_under(s, sl, p->pool + p->vals[x->a + i]))
                return 1;
        return 0;
    }
    case PO_HAS: {
        const char *s = req_str(c, x->attr, &e);
        if (!s)
            return e;
        for (uint32_t i = 0; i < x->b; i++) {
            const char *v = p->pool + p->vals[x->a + i];
            if (x->attr == PA_CATS ? strchr(s, v[0]) != NULL : has_token(s, v))
                return 1;
        }
        return 0;
    }
    case PO_COUNT:
        if (!c->q)
            return err(c, SL_PEVAL_NO_REQUESTER);
        if (x->a >= SL_WIN_COUNT)
            return err(c, SL_PEVAL_NO_COUNT);
        if (x->attr == PA_COUNT_ORI)
            return c->r->has_counts ? c->r->ori_queries[x->a] > x->b
                                    : err(c, SL_PEVAL_NO_COUNT);
        if (c->r->has_user_counts)
            return c->r->user_queries[x->a] > x->b;
        /* no count for the person: because nobody is named, or because none was kept */
        return err(c, sl_policy_request_user(c->r) ? SL_PEVAL_NO_COUNT : SL_PEVAL_NO_USER);
    }
    return err(c, SL_PEVAL_NO_MESSAGE);
}

static void ectx_init(struct ectx *c, const struct sl_policy *p, const struct sl_policy_request *r)
{
    c->p = p;
    c->r = r;
    c->q = r->requester;
    c->why = SL_PEVAL_OK;
    c->key_slot = r->key[0] ? sl_policy_key_slot(r->key, NULL) : -1;
    c->type_slot = c->q && r->requester_known ? sl_policy_type_slot(c->q->type) : -1;
    c->minute = r->local.hour * 60 + r->local.minute;
    c->day = r->has_time ? sl_policy_days(r->local.year, r->local.month, r->local.day) : 0;
}

/* 1 match, 0 no, -1 error. */
static int rule_eval(struct ectx *c, const struct prule *rl)
{
    c->why = SL_PEVAL_OK;
    if (c->key_slot >= 0 && !(rl->keymask >> c->key_slot & 1))
        return 0;
    if (c->type_slot >= 0 && !(rl->typemask >> c->type_slot & 1))
        return 0;
    if (rl->cond == P_NONE)
        return 1;
    return eval(c, rl->cond);
}

int sl_policy_rule_eval(const struct sl_policy *p, int i, const struct sl_policy_request *r,
                        enum sl_policy_eval_err *why)
{
    struct ectx c;
    ectx_init(&c, p, r);
    if (i < 0 || (uint32_t)i >= p->nrules)
        return 0;
    int v = rule_eval(&c, &p->rules[i]);
    if (why)
        *why = v == E_ERR ? c.why : SL_PEVAL_OK;
    return v;
}

/* What decide accumulates while visiting candidates. */
struct acc {
    uint32_t ids[3][SL_POLICY_MAX_IDS]; /* per effect, rule indexes */
    int nids[3], total[3], clean[3];
    uint32_t redact[2];                 /* permits, holds */
    struct sl_policy_notice notices[2][SL_POLICY_MAX_NOTICES];
    int nnotices[2];
    const char *marks[2][SL_POLICY_MAX_MARKS];
    int nmarks[2];
    int64_t deadline;
    int then_forbid;
    uint32_t bad_permits[SL_POLICY_MAX_IDS];
    int nbad_permits, total_bad_permits;
};

static void add_obligations(const struct sl_policy *p, struct acc *a, int w, const struct prule *rl)
{
    a->redact[w] |= rl->redact;
    if (rl->notify_days) {
        int dup = 0;
        for (int i = 0; i < a->nnotices[w]; i++)
            if (a->notices[w][i].days == rl->notify_days &&
                a->notices[w][i].business == rl->notify_business)
                dup = 1;
        if (!dup && a->nnotices[w] < SL_POLICY_MAX_NOTICES)
            a->notices[w][a->nnotices[w]++] = (struct sl_policy_notice){
                (uint16_t)rl->notify_days, (uint8_t)rl->notify_business, p->pool + rl->id};
    }
    if (rl->mark != P_NONE) {
        const char *m = p->pool + rl->mark;
        int dup = 0;
        for (int i = 0; i < a->nmarks[w]; i++)
            if (strcmp(a->marks[w][i], m) == 0)
                dup = 1;
        if (!dup && a->nmarks[w] < SL_POLICY_MAX_MARKS)
            a->marks[w][a->nmarks[w]++] = m;
    }
}

static void visit(struct ectx *c, struct acc *a, struct sl_policy_decision *d, uint32_t i)
{
    const struct prule *rl = &c->p->rules[i];
    int v = rule_eval(c, rl);
    if (v == 0)
        return;
    if (v == E_ERR) {
        if (d->nerrors < SL_POLICY_MAX_ERRS) {
            d->error_rules[d->nerrors] = c->p->pool + rl->id;
            d->error_kinds[d->nerrors] = c->why;
        }
        d->nerrors++;
        if (rl->effect == SL_POLICY_PERMIT) {
            /* Skipped - but if it carried obligations we cannot know they were owed. */
            if (rl->redact || rl->notify_days || rl->mark != P_NONE) {
                if (a->nbad_permits < SL_POLICY_MAX_IDS)
                    a->bad_permits[a->nbad_permits++] = i;
                a->total_bad_permits++;
            }
            return;
        }
    }
    int e = rl->effect;
    if (a->nids[e] < SL_POLICY_MAX_IDS)
        a->ids[e][a->nids[e]++] = i;
    a->total[e]++;
    if (v == 1)
        a->clean[e]++;
    if (e == SL_POLICY_PERMIT) {
        add_obligations(c->p, a, 0, rl);
    } else if (e == SL_POLICY_HOLD) {
        add_obligations(c->p, a, 1, rl);
        if (a->deadline == 0 || rl->deadline_s < a->deadline)
            a->deadline = rl->deadline_s;
        if (rl->then == SL_POLICY_FORBID)
            a->then_forbid = 1;
    }
}

static void sort_ids(uint32_t *v, int n)
{
    for (int i = 1; i < n; i++) {
        uint32_t x = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

static void set_ids(const struct sl_policy *p, struct sl_policy_decision *d, uint32_t *ids, int n,
                    int total)
{
    sort_ids(ids, n);
    for (int i = 0; i < n; i++)
        d->rules[i] = p->pool + p->rules[ids[i]].id;
    d->nrules = n;
    d->nrules_total = total;
}

void sl_policy_decide(const struct sl_policy *p, const struct sl_policy_request *r,
                      struct sl_policy_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->effect = SL_POLICY_FORBID;
    if (!p) {
        d->fail_closed = 1;
        d->nerrors = 1;
        d->error_kinds[0] = SL_PEVAL_OK;
        memcpy(d->hash, "none", 5);
        return;
    }
    memcpy(d->hash, p->hash, sizeof(d->hash));
    struct ectx c;
    ectx_init(&c, p, r);
    struct acc a;
    a.nids[0] = a.nids[1] = a.nids[2] = 0;
    a.total[0] = a.total[1] = a.total[2] = 0;
    a.clean[0] = a.clean[1] = a.clean[2] = 0;
    a.redact[0] = a.redact[1] = 0;
    a.nnotices[0] = a.nnotices[1] = 0;
    a.nmarks[0] = a.nmarks[1] = 0;
    a.deadline = 0;
    a.then_forbid = 0;
    a.nbad_permits = a.total_bad_permits = 0;

    if (c.key_slot < 0) {
        for (uint32_t i = 0; i < p->nrules; i++)
            visit(&c, &a, d, i);
    } else if (c.type_slot < 0) {
        /* Unknown requester: evaluate every rule for the key so no error hides. */
        for (uint32_t k = p->bykey_off[c.key_slot]; k < p->bykey_off[c.key_slot + 1]; k++)
            visit(&c, &a, d, p->bykey_list[k]);
    } else {
        uint32_t b = (uint32_t)(c.key_slot * PT_COUNT + c.type_slot);
        for (uint32_t k = p->ua_off[b]; k < p->ua_off[b + 1]; k++)
            visit(&c, &a, d, p->ua_list[k]);
        const struct phash_ent *e = hash_find(&p->ori_idx, c.q->ori, strlen(c.q->ori));
        if (e)
            for (uint32_t k = 0; k < e->count; k++)
                visit(&c, &a, d, p->ori_idx.list[e->start + k]);
        const char *par = c.q->parent;
        size_t pl = strlen(par);
        for (size_t i = 1; i <= pl && p->parent_idx.ents; i++) {
            if (i < pl && par[i] != '/')
                continue;
            e = hash_find(&p->parent_idx, par, i);
            if (e)
                for (uint32_t k = 0; k < e->count; k++)
                    visit(&c, &a, d, p->parent_idx.list[e->start + k]);
        }
    }

    if (a.total[SL_POLICY_FORBID]) {
        d->effect = SL_POLICY_FORBID;
        d->fail_closed = a.clean[SL_POLICY_FORBID] == 0;
        set_ids(p, d, a.ids[SL_POLICY_FORBID], a.nids[SL_POLICY_FORBID], a.total[SL_POLICY_FORBID]);
        return;
    }
    if (a.total_bad_permits) {
        d->effect = SL_POLICY_FORBID;
        d->fail_closed = 1;
        set_ids(p, d, a.bad_permits, a.nbad_permits, a.total_bad_permits);
        return;
    }
    int w;
    if (a.total[SL_POLICY_HOLD]) {
        d->effect = SL_POLICY_HOLD;
        d->fail_closed = a.clean[SL_POLICY_HOLD] == 0;
        d->hold_deadline_s = a.deadline;
        d->hold_then = a.then_forbid ? SL_POLICY_FORBID : SL_POLICY_PERMIT;
        set_ids(p, d, a.ids[SL_POLICY_HOLD], a.nids[SL_POLICY_HOLD], a.total[SL_POLICY_HOLD]);
        w = 1;
    } else if (a.total[SL_POLICY_PERMIT]) {
        d->effect = SL_POLICY_PERMIT;
        set_ids(p, d, a.ids[SL_POLICY_PERMIT], a.nids[SL_POLICY_PERMIT], a.total[SL_POLICY_PERMIT]);
        w = 0;
    } else {
        d->effect = p->deflt;
        d->is_default = 1;
        return;
    }
    /* Obligations: every matching permit; for a hold, the holds' own as well. */
    d->redact = a.redact[0] | (w ? a.redact[1] : 0);
    for (int k = 0; k <= w; k++) {
        for (int i = 0; i < a.nnotices[k]; i++) {
            int dup = 0;
            for (int j = 0; j < d->nnotices; j++)
                if (d->notices[j].days == a.notices[k][i].days &&
                    d->notices[j].business == a.notices[k][i].business)
                    dup = 1;
            if (!dup && d->nnotices < SL_POLICY_MAX_NOTICES)
                d->notices[d->nnotices++] = a.notices[k][i];
        }
        for (int i = 0; i < a.nmarks[k]; i++) {
            int dup = 0;
            for (int j = 0; j < d->nmarks; j++)
                if (strcmp(d->marks[j], a.marks[k][i]) == 0)
                    dup = 1;
            if (!dup && d->nmarks < SL_POLICY_MAX_MARKS)
                d->marks[d->nmarks++] = a.marks[k][i];
        }
    }
}

/* ---- accessors ---- */

const char *sl_policy_state(const struct sl_policy *p) { return p->state; }
const char *sl_policy_title(const struct sl_policy *p)
{
    return p->title == P_NONE ? "" : p->pool + p->title;
}
const char *sl_policy_hash(const struct sl_policy *p) { return p->hash; }
enum sl_policy_effect sl_policy_default(const struct sl_policy *p) { return p->deflt; }
int sl_policy_nrules(const struct sl_policy *p) { return (int)p->nrules; }

int sl_policy_rule_info(const struct sl_policy *p, int i, struct sl_policy_rule_info *o)
{
    if (i < 0 || (uint32_t)i >= p->nrules)
        return -1;
    const struct prule *r = &p->rules[i];
    o->id = p->pool + r->id;
    o->reason = p->pool + r->reason;
    o->effect = r->effect;
    o->line = r->line;
    o->redact = r->redact;
    o->notify_days = r->notify_days;
    o->notify_business = r->notify_business;
    o->mark = pstr(p, r->mark);
    o->deadline_s = r->deadline_s;
    o->then = r->then;
    return 0;
}

int sl_policy_rule_find(const struct sl_policy *p, const char *id)
{
    for (uint32_t i = 0; i < p->nrules; i++)
        if (strcmp(p->pool + p->rules[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* ---- condition as text ---- */

static const char *attr_name(const struct pnode *x)
{
    switch (x->attr) {
    case PA_ORI: return "requester.ori";
    case PA_MEMBER: return "requester.member";
    case PA_TYPE: return "requester.type";
    case PA_STATE: return "requester.state";
    case PA_PARENT: return "requester.parent";
    case PA_TAGS: return "requester.tags";
    case PA_CATS: return "requester.categories";
    case PA_KEY: return "key";
    case PA_VIA: return "via";
    case PA_FIELD: return sl_policy_fields[x->field].pfx;
    case PA_WEEKDAY: return "weekday";
    case PA_COUNT_ORI: return "requester.queries";
    case PA_COUNT_USER: return "user.queries";
    default: return "?";
    }
}

static void list_text(const struct sl_policy *p, const struct pnode *x, struct sl_buf *out)
{
    if (x->b == 1) {
        sl_buf_printf(out, "\"%s\"", p->pool + p->vals[x->a]);
        return;
    }
    sl_buf_append_str(out, "(");
    for (uint32_t i = 0; i < x->b; i++)
        sl_buf_printf(out, "%s\"%s\"", i ? ", " : "", p->pool + p->vals[x->a + i]);
    sl_buf_append_str(out, ")");
}

static void mask_text(const struct pnode *x, struct sl_buf *out)
{
    static const char *const wd[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    static const char *const via[] = {"direct", "region", "nationwide"};
    int n = 0, total = x->attr == PA_KEY ? PK_COUNT - 1 : x->attr == PA_TYPE ? 12 : x->attr == PA_VIA ? 3 : 7;
    for (int i = 0; i < total; i++)
        n += (int)(x->a >> i & 1);
    if (x->attr == PA_VIA) {
        sl_buf_append_str(out, "via ");
    } else {
        sl_buf_append_str(out, attr_name(x));
        sl_buf_append_str(out, n == 1 ? " = " : " in ");
    }
    if (n != 1 && x->attr != PA_VIA)
        sl_buf_append_str(out, "(");
    int k = 0;
    for (int i = 0; i < total; i++) {
        if (!(x->a >> i & 1))
            continue;
        const char *s = x->attr == PA_KEY ? sl_policy_keys[i] : x->attr == PA_TYPE ? sl_policy_types[i]
                        : x->attr == PA_VIA ? via[i] : wd[i];
        sl_buf_printf(out, "%s%s", k++ ? (x->attr == PA_VIA ? " or via " : ", ") : "", s);
    }
    if (n != 1 && x->attr != PA_VIA)
        sl_buf_append_str(out, ")");
}

static void date_text(int32_t days, struct sl_buf *out)
{
    time_t t = (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    sl_buf_printf(out, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

void sl_policy_cond_text(const struct sl_policy *p, uint32_t n, struct sl_buf *out)
{
    if (n == P_NONE) {
        sl_buf_append_str(out, "always");
        return;
    }
    const struct pnode *x = &p->nodes[n];
    switch (x->op) {
    case PO_TRUE: sl_buf_append_str(out, "always"); break;
    case PO_AND:
    case PO_OR: {
        const struct pnode *l = &p->nodes[x->a], *r = &p->nodes[x->b];
        int pl = l->op != x->op && (l->op == PO_AND || l->op == PO_OR);
        int pr = r->op == PO_AND || r->op == PO_OR;
        if (pl) sl_buf_append_str(out, "(");
        sl_policy_cond_text(p, x->a, out);
        if (pl) sl_buf_append_str(out, ")");
        sl_buf_append_str(out, x->op == PO_AND ? " and " : " or ");
        if (pr) sl_buf_append_str(out, "(");
        sl_policy_cond_text(p, x->b, out);
        if (pr) sl_buf_append_str(out, ")");
        break;
    }
    case PO_NOT: {
        const struct pnode *c = &p->nodes[x->a];
        /* The forms a reader wrote: "LGP absent", "x != v", "not under". */
        if (c->op == PO_PRESENT) {
            sl_buf_printf(out, "%s absent", attr_name(c));
            break;
        }
        if (c->op == PO_IN && c->b == 1) {
            sl_buf_printf(out, "%s != ", attr_name(c));
            list_text(p, c, out);
            break;
        }
        if (c->op == PO_UNDER) {
            sl_buf_append_str(out, "requester.parent not under ");
            list_text(p, c, out);
            break;
        }
        int par = c->op == PO_AND || c->op == PO_OR;
        sl_buf_append_str(out, par ? "not (" : "not ");
        sl_policy_cond_text(p, x->a, out);
        if (par) sl_buf_append_str(out, ")");
        break;
    }
    case PO_INSTATE: sl_buf_append_str(out, "in-state"); break;
    case PO_MASK: mask_text(x, out); break;
    case PO_PRESENT: sl_buf_printf(out, "%s present", attr_name(x)); break;
    case PO_IN:
        sl_buf_printf(out, "%s %s ", attr_name(x), x->b == 1 ? "=" : "in");
        list_text(p, x, out);
        break;
    case PO_MATCH:
        sl_buf_printf(out, "%s matches ", attr_name(x));
        list_text(p, x, out);
        break;
    case PO_UNDER:
        sl_buf_append_str(out, "requester.parent under ");
        list_text(p, x, out);
        break;
    case PO_HAS:
        sl_buf_printf(out, "%s has ", attr_name(x));
        list_text(p, x, out);
        break;
    case PO_COUNT:
        sl_buf_printf(out, "%s per %s > %u", attr_name(x), sl_policy_window_name((int)x->a),
                      x->b);
        break;
    case PO_RANGE:
        if (x->attr == PA_TIME) {
            sl_buf_printf(out, "time between %02u:%02u and %02u:%02u", x->a / 60, x->a % 60,
                          x->b / 60, x->b % 60);
        } else if ((int32_t)x->a == INT32_MIN) {
            sl_buf_append_str(out, "date until ");
            date_text((int32_t)x->b, out);
        } else if ((int32_t)x->b == INT32_MAX) {
            sl_buf_append_str(out, "date from ");
            date_text((int32_t)x->a, out);
        } else {
            sl_buf_append_str(out, "date between ");
            date_text((int32_t)x->a, out);
            sl_buf_append_str(out, " and ");
            date_text((int32_t)x->b, out);
        }
        break;
    }
}

uint32_t sl_policy_count_uses(const struct sl_policy *p)
{
    return p ? p->count_uses : 0;
}

void sl_policy_rule_condition(const struct sl_policy *p, int i, struct sl_buf *out)
{
    if (i < 0 || (uint32_t)i >= p->nrules)
        return;
    sl_policy_cond_text(p, p->rules[i].cond, out);
}

/* ---- the slot ---- */

struct sl_policy_slot {
    pthread_mutex_t mu; /* held for a pointer load and a refcount increment only */
    struct sl_policy *cur;
};

struct sl_policy_slot *sl_policy_slot_new(void)
{
    struct sl_policy_slot *s = sl_xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void sl_policy_slot_free(struct sl_policy_slot *s)
{
    if (!s)
        return;
    sl_policy_unref(s->cur);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

struct sl_policy *sl_policy_slot_acquire(struct sl_policy_slot *s)
{
    pthread_mutex_lock(&s->mu);
    struct sl_policy *p = sl_policy_ref(s->cur);
    pthread_mutex_unlock(&s->mu);
    return p;
}

void sl_policy_slot_swap(struct sl_policy_slot *s, struct sl_policy *p)
{
    pthread_mutex_lock(&s->mu);
    struct sl_policy *old = s->cur;
    s->cur = p;
    pthread_mutex_unlock(&s->mu);
    sl_policy_unref(old);
}
