/*
 * entry.c - the canonical binary encoding of an audit entry, and its strict decoder.
 *
 * Format (all integers big-endian; docs/audit-format.md §2 has an example):
 *
 *     u8  version      1, or 2 when the entry has a type (16) or a field (tags 36..38)
 *                      that version 1 does not know: the lowest version that can carry it
 *     u8  type         enum sl_audit_type, 1..16
 *     u64 seq          the entry's index in the log
 *     i64 time         microseconds since 1970-01-01T00:00:00Z, >= 0
 *     then fields, each   u8 tag | u16 length | value,   tags strictly ascending
 *
 * Field values by kind (see the table below for each tag's kind and bound):
 *     str    1..max bytes; printable ASCII (0x20..0x7e); "text" kinds: UTF-8 without
 *            control characters
 *     list   1..32 items, each  u8 length (1..max) | bytes (as str)
 *     u8/u16/u32/u64/i64   exactly 1/2/4/8/8 bytes; never zero for enums and masks
 *     hash   exactly 32 bytes
 *
 * Canonical means: one byte string per entry.  Absent fields are omitted (never empty),
 * enum and mask values are never zero, widths are fixed, tags ascend, nothing follows the
 * last field, and the total is at most 65,535 bytes.  The decoder refuses anything else, so
 * the leaf hash of an entry is a function of its content only.
 *
 * Why not JSON: a JSON library is free to reorder keys, escape characters differently and
 * print numbers in several ways, so two honest writers could hash the same event to
 * different leaves, and a verifier could never be sure that what it parsed is exactly what
 * was hashed.  A fixed binary layout has one form, is ~5x smaller, and decodes without
 * allocation.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdarg.h>

#include <jansson.h>

#include "stateline/audit.h"

enum kind { K_STR, K_TEXT, K_LIST, K_U8, K_U16, K_U32, K_U64, K_I64, K_HASH };

struct field_desc {
    const char *name;
    enum kind kind;
    uint16_t max; /* strings: max bytes; lists: max bytes per item; u8: max value */
    size_t off;
};

#define F(n, k, m, member) {n, k, m, offsetof(struct sl_audit_entry, member)}
static const struct field_desc fields[SL_AF_MAX + 1] = {
    [SL_AF_REF] = F("ref", K_STR, 64, ref),
    [SL_AF_ORI] = F("ori", K_STR, 16, ori),
    [SL_AF_MEMBER] = F("member", K_STR, 16, member),
    [SL_AF_PARENT] = F("parent", K_STR, 64, parent),
    [SL_AF_AGENCY_TYPE] = F("agency_type", K_STR, 4, agency_type),
    [SL_AF_REQ_STATE] = F("requester_state", K_STR, 4, req_state),
    [SL_AF_USER] = F("user", K_STR, 64, user),
    [SL_AF_TERMINAL] = F("terminal", K_STR, 64, terminal),
    [SL_AF_KEY] = F("key", K_STR, 8, key),
    [SL_AF_DEST] = F("destinations", K_LIST, 16, dest),
    [SL_AF_CONTROL] = F("control", K_STR, 32, control),
    [SL_AF_SEARCH] = F("search_fields", K_LIST, 8, search),
    [SL_AF_REASON] = F("reason", K_STR, 32, reason),
    [SL_AF_PURPOSE] = F("purpose", K_STR, 32, purpose),
    [SL_AF_CASE] = F("case", K_STR, 64, case_ref),
    [SL_AF_LEGAL] = F("legal_process", K_STR, 128, legal),
    [SL_AF_EFFECT] = F("effect", K_U8, SL_AUDIT_EFF_HOLD, effect),
    [SL_AF_OUTCOME] = F("outcome", K_U8, SL_AUDIT_OUT_MAX, outcome),
    [SL_AF_RULES] = F("rules", K_LIST, 64, rules),
    [SL_AF_POLICY_HASH] = F("policy_hash", K_HASH, 32, policy_hash),
    [SL_AF_RELEASED] = F("released", K_U32, 0, released),
    [SL_AF_WITHHELD] = F("withheld", K_U32, 0, withheld),
    [SL_AF_PERSONAL_HASH] = F("personal_hash", K_HASH, 32, personal_hash),
    [SL_AF_ACTOR] = F("actor", K_STR, 64, actor),
    [SL_AF_ACTION] = F("action", K_STR, 32, action),
    [SL_AF_TEXT] = F("text", K_TEXT, 1024, text),
    [SL_AF_APPROVER] = F("approver", K_STR, 64, approver),
    [SL_AF_POLICY_BEFORE] = F("policy_before", K_HASH, 32, policy_before),
    [SL_AF_POLICY_AFTER] = F("policy_after", K_HASH, 32, policy_after),
    [SL_AF_NOTICE_ID] = F("notice_id", K_STR, 64, notice_id),
    [SL_AF_DUE] = F("due", K_I64, 0, due_us),
    [SL_AF_ERROR] = F("error", K_U16, 0, error),
    [SL_AF_LINE_SEQ] = F("line_seq", K_U64, 0, line_seq),
    [SL_AF_REMOTE] = F("remote", K_STR, 64, remote),
    [SL_AF_BASIS] = F("legal_basis", K_TEXT, 256, basis),
    [SL_AF_LINE] = F("line", K_STR, 16, line),
    [SL_AF_LEGS] = F("legs", K_LIST, 64, legs),
    [SL_AF_MID] = F("mid", K_U64, 0, mid),
};
#undef F

#define B(f) SL_AF_BIT(SL_AF_##f)
/* Fields every entry of a type must carry: what makes the entry mean anything. */
static const uint64_t required[SL_AUDIT_TYPE_MAX + 1] = {
    [SL_AUDIT_QUERY] = B(REF) | B(ORI) | B(KEY),
    [SL_AUDIT_DECISION] = B(REF) | B(EFFECT) | B(POLICY_HASH),
    [SL_AUDIT_RELEASE] = B(REF) | B(OUTCOME),
    [SL_AUDIT_HOLD] = B(REF) | B(OUTCOME),
    [SL_AUDIT_REVIEW] = B(REF) | B(ACTOR) | B(ACTION) | B(OUTCOME),
    [SL_AUDIT_NOTICE_CREATED] = B(NOTICE_ID) | B(DUE),
    [SL_AUDIT_NOTICE_SENT] = B(NOTICE_ID) | B(OUTCOME),
    [SL_AUDIT_POLICY_CHANGE] = B(ACTOR) | B(POLICY_AFTER),
    [SL_AUDIT_LOGON] = B(ACTOR),
    [SL_AUDIT_LOGON_FAILED] = B(ACTOR),
    [SL_AUDIT_LOG_READ] = B(ACTOR),
    [SL_AUDIT_ADMIN] = B(ACTOR) | B(ACTION),
    [SL_AUDIT_SYSTEM] = B(TEXT),
    /* a message the hub could not parse has no ORI or key: the line it came on and what
     * was done (an ER) are what is known */
    [SL_AUDIT_HUB_ROUTE] = B(MEMBER) | B(OUTCOME),
    [SL_AUDIT_HUB_DELIVER] = B(KEY) | B(LINE_SEQ),
    [SL_AUDIT_HUB_LINE] = B(ACTION),
};

/* Field bits version 1 cannot carry. */
#define V2_FIELDS (~((UINT64_C(1) << SL_AF_MAX_V1) - 1))

/* The one version an entry is written with: the lowest that knows its type and fields. */
static int entry_version(uint8_t type, uint64_t present)
{
    return type > SL_AUDIT_TYPE_MAX_V1 || (present & V2_FIELDS) ? 2 : 1;
}
#undef B

static const char *const type_names[SL_AUDIT_TYPE_MAX + 1] = {
    NULL, "query", "decision", "release", "hold", "review", "notice-created", "notice-sent",
    "policy-change", "logon", "logon-failed", "log-read", "admin", "system", "hub-route",
    "hub-deliver", "hub-line"};
static const char *const outcome_names[SL_AUDIT_OUT_MAX + 1] = {
    "none", "released", "denied", "held", "redacted", "noticed", "timed-out", "routed",
    "rejected", "queued", "not-queued", "ok", "failed"};
static const char *const effect_names[] = {"none", "permit", "forbid", "hold"};
static const char *const class_names[SL_AUDIT_CLASS_COUNT] = {
    "identity", "photo",   "ssn",     "address", "dob",          "description",
    "license",  "history", "vehicle", "owner",   "owner-address"};

const char *sl_audit_type_name(int t)
{
    return t >= 1 && t <= SL_AUDIT_TYPE_MAX ? type_names[t] : NULL;
}
const char *sl_audit_outcome_name(int o)
{
    return o >= 0 && o <= SL_AUDIT_OUT_MAX ? outcome_names[o] : NULL;
}
const char *sl_audit_effect_name(int e) { return e >= 0 && e <= SL_AUDIT_EFF_HOLD ? effect_names[e] : NULL; }
const char *sl_audit_class_name(int bit)
{
    return bit >= 0 && bit < SL_AUDIT_CLASS_COUNT ? class_names[bit] : NULL;
}
const char *sl_audit_field_name(int f) { return f >= 1 && f <= SL_AF_MAX ? fields[f].name : NULL; }
int sl_audit_type_parse(const char *s)
{
    for (int t = 1; t <= SL_AUDIT_TYPE_MAX; t++)
        if (strcmp(s, type_names[t]) == 0)
            return t;
    return -1;
}
int sl_audit_outcome_parse(const char *s)
{
    for (int o = 1; o <= SL_AUDIT_OUT_MAX; o++)
        if (strcmp(s, outcome_names[o]) == 0)
            return o;
    return -1;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- building an entry ------------------------------------------------------------- */

void sl_audit_entry_init(struct sl_audit_entry *e, enum sl_audit_type type, int64_t time_us)
{
    memset(e, 0, sizeof *e);
    e->type = (uint8_t)type;
    e->time_us = time_us;
}

int sl_audit_set_str(struct sl_audit_entry *e, enum sl_audit_field f, const char *s)
{
    if (f < 1 || f > SL_AF_MAX || (fields[f].kind != K_STR && fields[f].kind != K_TEXT))
        return -1;
    struct sl_audit_str *dst = (struct sl_audit_str *)((char *)e + fields[f].off);
    size_t n = s ? strlen(s) : 0;
    if (n == 0) {
        e->present &= ~SL_AF_BIT(f);
        dst->p = NULL;
        dst->len = 0;
        return 0;
    }
    if (n > UINT16_MAX)
        return -1;
    dst->p = s;
    dst->len = (uint16_t)n;
    e->present |= SL_AF_BIT(f);
    return 0;
}

int sl_audit_add_item(struct sl_audit_entry *e, enum sl_audit_field f, const char *s)
{
    if (f < 1 || f > SL_AF_MAX || fields[f].kind != K_LIST || !s)
        return -1;
    struct sl_audit_list *l = (struct sl_audit_list *)((char *)e + fields[f].off);
    size_t n = strlen(s);
    if (l->n >= SL_AUDIT_MAX_LIST || n == 0 || n > 255)
        return -1;
    l->item[l->n].p = s;
    l->item[l->n].len = (uint16_t)n;
    l->n++;
    e->present |= SL_AF_BIT(f);
    return 0;
}

int sl_audit_set_int(struct sl_audit_entry *e, enum sl_audit_field f, int64_t v)
{
    if (f < 1 || f > SL_AF_MAX)
        return -1;
    void *dst = (char *)e + fields[f].off;
    switch (fields[f].kind) {
    case K_U8: *(uint8_t *)dst = (uint8_t)v; break;
    case K_U16: *(uint16_t *)dst = (uint16_t)v; break;
    case K_U32: *(uint32_t *)dst = (uint32_t)v; break;
    case K_U64: *(uint64_t *)dst = (uint64_t)v; break;
    case K_I64: *(int64_t *)dst = v; break;
    default: return -1;
    }
    e->present |= SL_AF_BIT(f);
    return 0;
}

int sl_audit_set_hash(struct sl_audit_entry *e, enum sl_audit_field f, const uint8_t h[32])
{
    if (f < 1 || f > SL_AF_MAX || fields[f].kind != K_HASH)
        return -1;
    memcpy((char *)e + fields[f].off, h, 32);
    e->present |= SL_AF_BIT(f);
    return 0;
}

/* ---- validation shared by the encoder and the decoder ------------------------------ */

static int ascii_ok(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e)
            return 0;
    return 1;
}

/* UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF) without C0/C1 controls or DEL. */
static int text_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; }
        else return 0;
        if (n - i <= need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
            return 0;
        i += need + 1;
    }
    return 1;
}

static int str_ok(enum kind k, const uint8_t *p, size_t n)
{
    return k == K_TEXT ? text_ok(p, n) : ascii_ok(p, n);
}

/* ---- encoder ----------------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

#define HDR_LEN 18

int sl_audit_encode(const struct sl_audit_entry *e, uint8_t *out, size_t cap, char *err,
                    size_t errlen)
{
    if (e->type < 1 || e->type > SL_AUDIT_TYPE_MAX) {
        seterr(err, errlen, "unknown entry type %u", e->type);
        return -1;
    }
    if (e->time_us < 0) {
        seterr(err, errlen, "negative time");
        return -1;
    }
    if ((e->present & required[e->type]) != required[e->type]) {
        for (int f = 1; f <= SL_AF_MAX; f++)
            if ((required[e->type] & SL_AF_BIT(f)) && !(e->present & SL_AF_BIT(f))) {
                seterr(err, errlen, "%s entry without %s", type_names[e->type], fields[f].name);
                break;
            }
        return -1;
    }
    if (e->present >> SL_AF_MAX) {
        seterr(err, errlen, "unknown field bits set");
        return -1;
    }
    size_t cap16 = cap < SL_AUDIT_MAX_ENTRY ? cap : SL_AUDIT_MAX_ENTRY;
    if (cap16 < HDR_LEN)
        goto toolong;
    out[0] = (uint8_t)entry_version(e->type, e->present);
    out[1] = e->type;
    put64(out + 2, e->seq);
    put64(out + 10, (uint64_t)e->time_us);
    size_t n = HDR_LEN;
    for (int f = 1; f <= SL_AF_MAX; f++) {
        if (!(e->present & SL_AF_BIT(f)))
            continue;
        const struct field_desc *d = &fields[f];
        const void *src = (const char *)e + d->off;
        size_t vlen;
        if (cap16 - n < 3)
            goto toolong;
        uint8_t *v = out + n + 3;
        size_t room = cap16 - n - 3;
        switch (d->kind) {
        case K_STR:
        case K_TEXT: {
            const struct sl_audit_str *s = src;
            if (s->len == 0 || s->len > d->max || !str_ok(d->kind, (const uint8_t *)s->p, s->len)) {
                seterr(err, errlen, "field %s: %s", d->name,
                       s->len == 0 ? "empty" : s->len > d->max ? "too long" : "bad characters");
                return -1;
            }
            if (room < s->len)
                goto toolong;
            memcpy(v, s->p, s->len);
            vlen = s->len;
            break;
        }
        case K_LIST: {
            const struct sl_audit_list *l = src;
            if (l->n == 0 || l->n > SL_AUDIT_MAX_LIST) {
                seterr(err, errlen, "field %s: %u items", d->name, l->n);
                return -1;
            }
            vlen = 0;
            for (int i = 0; i < l->n; i++) {
                const struct sl_audit_str *s = &l->item[i];
                if (s->len == 0 || s->len > d->max || !ascii_ok((const uint8_t *)s->p, s->len)) {
                    seterr(err, errlen, "field %s item %d: bad", d->name, i);
                    return -1;
                }
                if (room - vlen < 1u + s->len)
                    goto toolong;
                v[vlen] = (uint8_t)s->len;
                memcpy(v + vlen + 1, s->p, s->len);
                vlen += 1u + s->len;
            }
            break;
        }
        case K_U8: {
            uint8_t x = *(const uint8_t *)src;
            if (x == 0 || x > d->max) {
                seterr(err, errlen, "field %s: value %u out of range", d->name, x);
                return -1;
            }
            if (room < 1)
                goto toolong;
            v[0] = x;
            vlen = 1;
            break;
        }
        case K_U16: {
            uint16_t x = *(const uint16_t *)src;
            if (x == 0) {
                seterr(err, errlen, "field %s: zero", d->name);
                return -1;
            }
            if (room < 2)
                goto toolong;
            put16(v, x);
            vlen = 2;
            break;
        }
        case K_U32: {
            uint32_t x = *(const uint32_t *)src;
            if (x == 0 || (x & ~SL_AUDIT_CLASS_ALL)) {
                seterr(err, errlen, "field %s: bad class mask %#x", d->name, x);
                return -1;
            }
            if (room < 4)
                goto toolong;
            put32(v, x);
            vlen = 4;
            break;
        }
        case K_U64:
        case K_I64:
            if (d->kind == K_I64 && *(const int64_t *)src < 0) {
                seterr(err, errlen, "field %s: negative", d->name);
                return -1;
            }
            if (room < 8)
                goto toolong;
            put64(v, *(const uint64_t *)src);
            vlen = 8;
            break;
        case K_HASH:
            if (room < 32)
                goto toolong;
            memcpy(v, src, 32);
            vlen = 32;
            break;
        default:
            return -1;
        }
        out[n] = (uint8_t)f;
        put16(out + n + 1, (uint16_t)vlen);
        n += 3 + vlen;
    }
    return (int)n;
toolong:
    seterr(err, errlen, "entry longer than %zu bytes", cap16);
    return -1;
}

/* ---- decoder ----------------------------------------------------------------------- */

int sl_audit_decode(const uint8_t *buf, size_t len, struct sl_audit_entry *e, char *err,
                    size_t errlen)
{
    /* Zero everything but the list item arrays (1.5 KiB that only n items of are read):
     * verification decodes every entry, and this memset was a fifth of its time. */
    memset(e, 0, offsetof(struct sl_audit_entry, dest));
    e->dest.n = e->search.n = e->rules.n = e->legs.n = 0;
    memset(&e->effect, 0, sizeof *e - offsetof(struct sl_audit_entry, effect));
    if (len < HDR_LEN) {
        seterr(err, errlen, "entry of %zu bytes is shorter than its header", len);
        return -1;
    }
    if (len > SL_AUDIT_MAX_ENTRY) {
        seterr(err, errlen, "entry of %zu bytes is longer than %d", len, SL_AUDIT_MAX_ENTRY);
        return -1;
    }
    int version = buf[0];
    if (version < SL_AUDIT_VERSION || version > SL_AUDIT_VERSION_MAX) {
        seterr(err, errlen, "unsupported entry version %u", buf[0]);
        return -1;
    }
    if (buf[1] < 1 || buf[1] > (version == 1 ? SL_AUDIT_TYPE_MAX_V1 : SL_AUDIT_TYPE_MAX)) {
        seterr(err, errlen, "unknown entry type %u in a version %d entry", buf[1], version);
        return -1;
    }
    int maxtag = version == 1 ? SL_AF_MAX_V1 : SL_AF_MAX;
    e->type = buf[1];
    e->seq = get64(buf + 2);
    uint64_t t = get64(buf + 10);
    if (t > INT64_MAX) {
        seterr(err, errlen, "negative time");
        return -1;
    }
    e->time_us = (int64_t)t;
    size_t i = HDR_LEN;
    int last = 0;
    while (i < len) {
        if (len - i < 3) {
            seterr(err, errlen, "truncated field header at byte %zu", i);
            return -1;
        }
        int tag = buf[i];
        size_t vlen = get16(buf + i + 1);
        const uint8_t *v = buf + i + 3;
        if (tag < 1 || tag > maxtag) {
            seterr(err, errlen, "unknown field tag %d at byte %zu in a version %d entry", tag,
                   i, version);
            return -1;
        }
        if (tag <= last) {
            seterr(err, errlen, "field tag %d at byte %zu out of order", tag, i);
            return -1;
        }
        if (vlen > len - i - 3) {
            seterr(err, errlen, "field %s at byte %zu runs past the end", fields[tag].name, i);
            return -1;
        }
        const struct field_desc *d = &fields[tag];
        void *dst = (char *)e + d->off;
        int ok = 1;
        switch (d->kind) {
        case K_STR:
        case K_TEXT:
            ok = vlen >= 1 && vlen <= d->max && str_ok(d->kind, v, vlen);
            if (ok) {
                ((struct sl_audit_str *)dst)->p = (const char *)v;
                ((struct sl_audit_str *)dst)->len = (uint16_t)vlen;
            }
            break;
        case K_LIST: {
            struct sl_audit_list *l = dst;
            l->n = 0;
            size_t j = 0;
            ok = vlen >= 2;
            while (ok && j < vlen) {
                size_t il = v[j];
                if (il == 0 || il > d->max || il > vlen - j - 1 || l->n >= SL_AUDIT_MAX_LIST ||
                    !ascii_ok(v + j + 1, il)) {
                    ok = 0;
                    break;
                }
                l->item[l->n].p = (const char *)v + j + 1;
                l->item[l->n].len = (uint16_t)il;
                l->n++;
                j += 1 + il;
            }
            break;
        }
        case K_U8:
            ok = vlen == 1 && v[0] >= 1 && v[0] <= d->max;
            if (ok)
                *(uint8_t *)dst = v[0];
            break;
        case K_U16:
            ok = vlen == 2 && get16(v) != 0;
            if (ok)
                *(uint16_t *)dst = get16(v);
            break;
        case K_U32:
            ok = vlen == 4 && get32(v) != 0 && !(get32(v) & ~SL_AUDIT_CLASS_ALL);
            if (ok)
                *(uint32_t *)dst = get32(v);
            break;
        case K_U64:
            ok = vlen == 8;
            if (ok)
                *(uint64_t *)dst = get64(v);
            break;
        case K_I64:
            ok = vlen == 8 && get64(v) <= INT64_MAX;
            if (ok)
                *(int64_t *)dst = (int64_t)get64(v);
            break;
        case K_HASH:
            ok = vlen == 32;
            if (ok)
                memcpy(dst, v, 32);
            break;
        }
        if (!ok) {
            seterr(err, errlen, "field %s at byte %zu: bad value", d->name, i);
            return -1;
        }
        e->present |= SL_AF_BIT(tag);
        last = tag;
        i += 3 + vlen;
    }
    if ((e->present & required[e->type]) != required[e->type]) {
        for (int f = 1; f <= SL_AF_MAX; f++)
            if ((required[e->type] & SL_AF_BIT(f)) && !(e->present & SL_AF_BIT(f))) {
                seterr(err, errlen, "%s entry without %s", type_names[e->type], fields[f].name);
                break;
            }
        return -1;
    }
    if (version != entry_version(e->type, e->present)) {
        /* canonical: a version-2 entry must need version 2 */
        seterr(err, errlen, "version %d entry carries nothing of version %d (must be version 1)",
               version, version);
        return -1;
    }
    return 0;
}

/* ---- JSON view (for `stateline audit show --json`; never hashed) ------------------- */

json_t *sl_audit_entry_json(const struct sl_audit_entry *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer((json_int_t)e->seq));
    json_object_set_new(o, "type", json_string(sl_audit_type_name(e->type)));
    json_object_set_new(o, "time_us", json_integer(e->time_us));
    for (int f = 1; f <= SL_AF_MAX; f++) {
        if (!(e->present & SL_AF_BIT(f)))
            continue;
        const struct field_desc *d = &fields[f];
        const void *src = (const char *)e + d->off;
        json_t *v = NULL;
        char hex[65];
        switch (d->kind) {
        case K_STR:
        case K_TEXT: {
            const struct sl_audit_str *s = src;
            v = json_stringn(s->p, s->len);
            break;
        }
        case K_LIST: {
            const struct sl_audit_list *l = src;
            v = json_array();
            for (int i = 0; i < l->n; i++)
                json_array_append_new(v, json_stringn(l->item[i].p, l->item[i].len));
            break;
        }
        case K_U8:
            v = json_string(f == SL_AF_EFFECT ? sl_audit_effect_name(e->effect)
                                              : sl_audit_outcome_name(e->outcome));
            break;
        case K_U16: v = json_integer(*(const uint16_t *)src); break;
        case K_U32: {
            uint32_t m = *(const uint32_t *)src;
            v = json_array();
            for (int b = 0; b < SL_AUDIT_CLASS_COUNT; b++)
                if (m & (1u << b))
                    json_array_append_new(v, json_string(class_names[b]));
            break;
        }
        case K_U64: v = json_integer((json_int_t)*(const uint64_t *)src); break;
        case K_I64: v = json_integer(*(const int64_t *)src); break;
        case K_HASH:
            sl_audit_hex(src, 32, hex);
            v = json_string(hex);
            break;
        }
        if (v)
            json_object_set_new(o, d->name, v);
    }
    return o;
}
