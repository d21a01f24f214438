/*
 * valid.c - the field rules of an ORI record and the network's standard member lines.
 *
 * The rules are written out in include/stateline/dir.h and docs/directory.md.  Every
 * function here is pure (no database), so the policy checker and the CSV fuzz target can
 * call them on anything.
 */
#include "dir_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stateline/core.h"

/* In code order, so that a new database lists them sorted. */
static const struct sl_member std_members[] = {
    {"AK", "Alaska", 'S'},
    {"AL", "Alabama", 'S'},
    {"AR", "Arkansas", 'S'},
    {"AZ", "Arizona", 'S'},
    {"CA", "California", 'S'},
    {"CN", "Canada (CPIC)", 'I'},
    {"CO", "Colorado", 'S'},
    {"CT", "Connecticut", 'S'},
    {"DC", "District of Columbia", 'S'},
    {"DD", "Department of Defense", 'F'},
    {"DE", "Delaware", 'S'},
    {"DH", "Department of Homeland Security", 'F'},
    {"DI", "Department of the Interior", 'F'},
    {"DJ", "Department of Justice", 'F'},
    {"FL", "Florida", 'S'},
    {"GA", "Georgia", 'S'},
    {"GU", "Guam", 'S'},
    {"HI", "Hawaii", 'S'},
    {"IA", "Iowa", 'S'},
    {"ID", "Idaho", 'S'},
    {"IL", "Illinois", 'S'},
    {"IN", "Indiana", 'S'},
    {"KS", "Kansas", 'S'},
    {"KY", "Kentucky", 'S'},
    {"LA", "Louisiana", 'S'},
    {"MA", "Massachusetts", 'S'},
    {"MD", "Maryland", 'S'},
    {"ME", "Maine", 'S'},
    {"MI", "Michigan", 'S'},
    {"MN", "Minnesota", 'S'},
    {"MO", "Missouri", 'S'},
    {"MS", "Mississippi", 'S'},
    {"MT", "Montana", 'S'},
    {"NC", "North Carolina", 'S'},
    {"ND", "North Dakota", 'S'},
    {"NE", "Nebraska", 'S'},
    {"NH", "New Hampshire", 'S'},
    {"NJ", "New Jersey", 'S'},
    {"NL", "stateline switch", 'N'},
    {"NM", "New Mexico", 'S'},
    {"NV", "Nevada", 'S'},
    {"NY", "New York", 'S'},
    {"OH", "Ohio", 'S'},
    {"OK", "Oklahoma", 'S'},
    {"OR", "Oregon", 'S'},
    {"PA", "Pennsylvania", 'S'},
    {"PR", "Puerto Rico", 'S'},
    {"RI", "Rhode Island", 'S'},
    {"SC", "South Carolina", 'S'},
    {"SD", "South Dakota", 'S'},
    {"TN", "Tennessee", 'S'},
    {"TR", "Department of the Treasury", 'F'},
    {"TX", "Texas", 'S'},
    {"UT", "Utah", 'S'},
    {"VA", "Virginia", 'S'},
    {"VI", "U.S. Virgin Islands", 'S'},
    {"VT", "Vermont", 'S'},
    {"WA", "Washington", 'S'},
    {"WI", "Wisconsin", 'S'},
    {"WV", "West Virginia", 'S'},
    {"WY", "Wyoming", 'S'},
};

/* Canadian provinces and territories as Nlets writes them (NF, PQ: the older codes, which
 * keep NL free for the switch). */
static const char provinces[][3] = {"AB", "BC", "MB", "NB", "NF", "NS", "NT",
                                    "NU", "ON", "PE", "PQ", "SK", "YT"};

static const char types[][3] = {"PD", "SO", "SA", "LE", "FE", "JA",
                                "JC", "JG", "JJ", "JF", "CJ", "NJ"};

const struct sl_member *sl_dir_std_members(size_t *n)
{
    *n = sizeof std_members / sizeof std_members[0];
    return std_members;
}

int sl_dir_is_state_code(const char *code)
{
    for (size_t i = 0; i < sizeof std_members / sizeof std_members[0]; i++)
        if (std_members[i].kind == 'S' && strcmp(std_members[i].code, code) == 0)
            return 1;
    return 0;
}

int sl_dir_is_province_code(const char *code)
{
    for (size_t i = 0; i < sizeof provinces / sizeof provinces[0]; i++)
        if (strcmp(provinces[i], code) == 0)
            return 1;
    return 0;
}

static int is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static int is_lower(int c) { return c >= 'a' && c <= 'z'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

int sl_ori_valid(const char *ori)
{
    size_t i;
    for (i = 0; ori[i]; i++)
        if (i >= SL_ORI_LEN || !(is_upper(ori[i]) || is_digit(ori[i])))
            return 0;
    return i == SL_ORI_LEN;
}

int sl_dir_valid_type(const char *type)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i], type) == 0)
            return 1;
    return 0;
}

int sl_dir_valid_cats(const char *cats)
{
    unsigned seen = 0;
    for (const char *p = cats; *p; p++) {
        const char *at = strchr("ACDZ", *p);
        if (!at || *p == '\0')
            return 0;
        unsigned bit = 1u << (at - "ACDZ");
        if (seen & bit)
            return 0;
        seen |= bit;
    }
    return 1;
}

void sl_dir_canon_cats(char *cats)
{
    char out[5];
    size_t n = 0;
    for (const char *c = "ACDZ"; *c; c++)
        if (strchr(cats, *c))
            out[n++] = *c;
    out[n] = '\0';
    memcpy(cats, out, n + 1);
}

int sl_dir_valid_parent(const char *parent)
{
    size_t len = strlen(parent);
    if (len == 0)
        return 1;
    if (len > 47)
        return 0;
    size_t seg = 0;
    for (size_t i = 0; i <= len; i++) {
        int c = (unsigned char)parent[i];
        if (c == '/' || c == '\0') {
            if (seg == 0)
                return 0; /* empty segment: leading, trailing or doubled '/' */
            seg = 0;
            continue;
        }
        if (is_upper(c) || is_digit(c) || (c == '-' && seg > 0))
            seg++;
        else
            return 0;
    }
    return 1;
}

static int tag_ok(const char *t, size_t n)
{
    if (n == 0 || n > 40 || t[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(is_lower(t[i]) || is_digit(t[i]) || t[i] == '-'))
            return 0;
    return 1;
}

int sl_dir_valid_tag(const char *tag) { return tag_ok(tag, strlen(tag)); }

int sl_dir_valid_tags(const char *tags)
{
    size_t len = strlen(tags);
    if (len == 0)
        return 1;
    if (len > 159)
        return 0;
    const char *p = tags;
    for (;;) {
        const char *sp = strchr(p, ' ');
        size_t n = sp ? (size_t)(sp - p) : strlen(p);
        if (!tag_ok(p, n))
            return 0;
        if (!sp)
            return 1;
        p = sp + 1;
    }
}

int sl_dir_valid_member_code(const char *code)
{
    return is_upper(code[0]) && is_upper(code[1]) && code[2] == '\0';
}

/* Printable UTF-8, no control characters, no leading or trailing space. */
static int name_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 95 || s[0] == ' ' || s[len - 1] == ' ')
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return 0;
            p++;
            continue;
        }
        int more;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        p++;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (*p & 0x3f);
        }
        if ((more == 2 && cp < 0x800) || (more == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
            return 0; /* overlong, out of range, surrogate, C1 control */
    }
    return 1;
}

int sl_dir_check(const struct sl_ori *o, char member_kind, char *err, size_t errlen)
{
    /* Every array is checked for its terminator first: a struct filled by hand or by a
     * fuzzer must not make us read past it. */
    if (!memchr(o->ori, '\0', sizeof o->ori) || !sl_ori_valid(o->ori))
        return sl_dir__fail(err, errlen, "ori: must be 9 characters A-Z 0-9");
    if (!memchr(o->member, '\0', sizeof o->member) || !sl_dir_valid_member_code(o->member))
        return sl_dir__fail(err, errlen, "member: must be a 2-letter member code");
    if (!memchr(o->name, '\0', sizeof o->name) || !name_ok(o->name))
        return sl_dir__fail(err, errlen,
                            "name: must be 1-95 bytes of printable text without leading or "
                            "trailing space");
    if (!memchr(o->type, '\0', sizeof o->type) || !sl_dir_valid_type(o->type))
        return sl_dir__fail(err, errlen,
                            "type: must be one of PD SO SA LE FE JA JC JG JJ JF CJ NJ");
    if (!memchr(o->cats, '\0', sizeof o->cats) || !sl_dir_valid_cats(o->cats))
        return sl_dir__fail(err, errlen,
                            "categories: must be letters of ACDZ, each at most once");
    if (o->status != 'A' && o->status != 'I')
        return sl_dir__fail(err, errlen, "status: must be A (active) or I (inactive)");
    if (!memchr(o->parent, '\0', sizeof o->parent) || !sl_dir_valid_parent(o->parent))
        return sl_dir__fail(err, errlen,
                            "parent: must be empty or upper-case segments [A-Z0-9-] joined by '/' "
                            "(e.g. DHS/ICE/ERO), at most 47 characters");
    if (!memchr(o->tags, '\0', sizeof o->tags) || !sl_dir_valid_tags(o->tags))
        return sl_dir__fail(err, errlen,
                            "tags: must be lower-case words [a-z0-9-] separated by single spaces, "
                            "at most 159 characters");
    if (o->rand != 0 && o->rand != 1)
        return sl_dir__fail(err, errlen, "rand: must be 0 or 1");

    char pfx[3] = {o->ori[0], o->ori[1], '\0'};
    switch (member_kind) {
    case 0:
        break;
    case 'F':
        if (strcmp(pfx, o->member) != 0 && !sl_dir_is_state_code(pfx))
            return sl_dir__fail(err, errlen,
                                "ori: a federal ORI starts with the state or territory where the "
                                "office sits (or the member code %s), not %s",
                                o->member, pfx);
        break;
    case 'I':
        if (strcmp(pfx, o->member) != 0 && !sl_dir_is_province_code(pfx))
            return sl_dir__fail(err, errlen,
                                "ori: a Canadian ORI starts with a province code "
                                "(AB BC MB NB NF NS NT NU ON PE PQ SK YT) or %s, not %s",
                                o->member, pfx);
        break;
    default:
        if (strcmp(pfx, o->member) != 0)
            return sl_dir__fail(err, errlen, "ori: an ORI of member %s must start with %s, not %s",
                                o->member, o->member, pfx);
        break;
    }
    return 0;
}
