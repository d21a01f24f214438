/*
 * note.c - checkpoints as C2SP signed notes (c2sp.org/signed-note, c2sp.org/tlog-checkpoint)
 * signed with Ed25519, and the note key formats of golang.org/x/mod/sumdb/note.
 *
 * A checkpoint:
 *
 *     <origin>\n                      the log's name, e.g. wa.example.gov/audit
 *     <size>\n                        decimal, no leading zeros
 *     <base64 root>\n                 RFC 4648 base64 of the 32-byte RFC 6962 root
 *     \n
 *     — <key name> <base64(key id (4 bytes, big-endian) || Ed25519 signature (64))>\n
 *
 * The signature covers the text from the origin to the newline after the root (not the
 * blank line).  key id = first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key).
 *
 * Keys (text, one line):
 *     signer    PRIVATE+KEY+<name>+<key id, 8 hex>+<base64(0x01 || 32-byte Ed25519 seed)>
 *     verifier  <name>+<key id, 8 hex>+<base64(0x01 || 32-byte Ed25519 public key)>
 * These are exactly the formats Go's note package reads and writes, so the log can be
 * checked with off-the-shelf tools (e.g. the sumdb or litetlog verifiers).
 *
 * A checkpoints history file is the notes one after another, each followed by one blank
 * line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "stateline/audit.h"
#include "stateline/core.h"

#define EMDASH "\xe2\x80\x94"

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

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > SL_AUDIT_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '+')
            return 0;
    return 1;
}

static uint32_t key_id(const char *name, const uint8_t pub[32])
{
    uint8_t buf[SL_AUDIT_MAX_NAME + 2 + 32], h[32];
    size_t n = strlen(name);
    memcpy(buf, name, n);
    buf[n] = '\n';
    buf[n + 1] = 0x01;
    memcpy(buf + n + 2, pub, 32);
    unsigned int hl = 32;
    EVP_Digest(buf, n + 34, h, &hl, EVP_sha256(), NULL);
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

int sl_audit_keygen(const char *name, char *skey, size_t skeylen, char *vkey, size_t vkeylen,
                    char *err, size_t errlen)
{
    if (!name_ok(name, strlen(name))) {
        seterr(err, errlen, "key name '%s': 1..%d printable characters, no spaces or '+'", name,
               SL_AUDIT_MAX_NAME);
        return -1;
    }
    uint8_t seed[33], pub[33];
    size_t pl = 32;
    seed[0] = pub[0] = 0x01;
    if (RAND_bytes(seed + 1, 32) != 1) {
        seterr(err, errlen, "no randomness");
        return -1;
    }
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed + 1, 32);
    if (!pk || EVP_PKEY_get_raw_public_key(pk, pub + 1, &pl) != 1) {
        EVP_PKEY_free(pk);
        seterr(err, errlen, "Ed25519 key generation failed");
        return -1;
    }
    EVP_PKEY_free(pk);
    uint32_t id = key_id(name, pub + 1);
    char sb[64], pb[64];
    sl_audit_b64_encode(seed, 33, sb);
    sl_audit_b64_encode(pub, 33, pb);
    OPENSSL_cleanse(seed, sizeof seed);
    int a = snprintf(skey, skeylen, "PRIVATE+KEY+%s+%08x+%s", name, id, sb);
    int b = snprintf(vkey, vkeylen, "%s+%08x+%s", name, id, pb);
    OPENSSL_cleanse(sb, sizeof sb);
    if (a < 0 || (size_t)a >= skeylen || b < 0 || (size_t)b >= vkeylen) {
        seterr(err, errlen, "key buffers too small");
        return -1;
    }
    return 0;
}

/* Parse "<name>+<hex8>+<b64>" (after any PRIVATE+KEY+ prefix). */
static int parse_key(const char *text, char *name, uint32_t *id, uint8_t raw[32], char *err,
                     size_t errlen)
{
    size_t len = strlen(text);
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    const char *p1 = memchr(text, '+', len);
    if (!p1) {
        seterr(err, errlen, "key: expected <name>+<id>+<key>");
        return -1;
    }
    const char *p2 = memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - text));
    if (!p2 || p2 - p1 != 9) {
        seterr(err, errlen, "key: expected <name>+<8 hex digits>+<key>");
        return -1;
    }
    size_t nl = (size_t)(p1 - text);
    if (!name_ok(text, nl)) {
        seterr(err, errlen, "key: bad name");
        return -1;
    }
    memcpy(name, text, nl);
    name[nl] = 0;
    uint8_t idb[4], buf[40];
    if (sl_audit_unhex(p1 + 1, 8, idb) < 0) {
        seterr(err, errlen, "key: bad key id");
        return -1;
    }
    *id = (uint32_t)idb[0] << 24 | (uint32_t)idb[1] << 16 | (uint32_t)idb[2] << 8 | idb[3];
    int n = sl_audit_b64_decode(p2 + 1, len - (size_t)(p2 + 1 - text), buf, sizeof buf);
    if (n != 33 || buf[0] != 0x01) {
        seterr(err, errlen, "key: not an Ed25519 note key (algorithm 1, 32 bytes)");
        return -1;
    }
    memcpy(raw, buf + 1, 32);
    OPENSSL_cleanse(buf, sizeof buf);
    return 0;
}

int sl_audit_signer_parse(struct sl_audit_signer *s, const char *text, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (strncmp(text, "PRIVATE+KEY+", 12) != 0) {
        seterr(err, errlen, "signer key must start with PRIVATE+KEY+");
        return -1;
    }
    uint8_t seed[32], pub[32];
    size_t pl = 32;
    if (parse_key(text + 12, s->name, &s->key_id, seed, err, errlen) < 0)
        return -1;
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    OPENSSL_cleanse(seed, sizeof seed);
    if (!pk || EVP_PKEY_get_raw_public_key(pk, pub, &pl) != 1) {
        EVP_PKEY_free(pk);
        seterr(err, errlen, "signer key: not a valid Ed25519 key");
        return -1;
    }
    if (key_id(s->name, pub) != s->key_id) {
        EVP_PKEY_free(pk);
        seterr(err, errlen, "signer key: key id does not match the key");
        return -1;
    }
    s->pkey = pk;
    return 0;
}

int sl_audit_verifier_parse(struct sl_audit_verifier *v, const char *text, char *err,
                            size_t errlen)
{
    memset(v, 0, sizeof *v);
    uint8_t pub[32];
    if (parse_key(text, v->name, &v->key_id, pub, err, errlen) < 0)
        return -1;
    if (key_id(v->name, pub) != v->key_id) {
        seterr(err, errlen, "verifier key: key id does not match the key");
        return -1;
    }
    v->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    if (!v->pkey) {
        seterr(err, errlen, "verifier key: not a valid Ed25519 key");
        return -1;
    }
    return 0;
}

void sl_audit_signer_free(struct sl_audit_signer *s)
{
    EVP_PKEY_free(s->pkey);
    s->pkey = NULL;
}

void sl_audit_verifier_free(struct sl_audit_verifier *v)
{
    EVP_PKEY_free(v->pkey);
    v->pkey = NULL;
}

int sl_audit_checkpoint_sign(const struct sl_audit_signer *s, uint64_t size,
                             const uint8_t root[32], char *out, size_t cap)
{
    char rb[48];
    sl_audit_b64_encode(root, 32, rb);
    int tl = snprintf(out, cap, "%s\n%llu\n%s\n", s->name, (unsigned long long)size, rb);
    if (tl < 0 || (size_t)tl >= cap)
        return -1;
    uint8_t sig[4 + 64];
    size_t sl = 64;
    sig[0] = (uint8_t)(s->key_id >> 24);
    sig[1] = (uint8_t)(s->key_id >> 16);
    sig[2] = (uint8_t)(s->key_id >> 8);
    sig[3] = (uint8_t)s->key_id;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->pkey) == 1 &&
             EVP_DigestSign(ctx, sig + 4, &sl, (const uint8_t *)out, (size_t)tl) == 1 && sl == 64;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        SL_ERROR("audit", "Ed25519 signing failed");
        return -1;
    }
    char sb[100];
    sl_audit_b64_encode(sig, sizeof sig, sb);
    int n = snprintf(out + tl, cap - (size_t)tl, "\n" EMDASH " %s %s\n", s->name, sb);
    if (n < 0 || (size_t)n >= cap - (size_t)tl)
        return -1;
    return tl + n;
}

static int line_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return 0;
    return 1;
}

int sl_audit_checkpoint_parse(const char *note, size_t len, struct sl_audit_checkpoint *c,
                              char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    /* The text: lines up to the first empty line. */
    size_t i = 0;
    int line = 0;
    for (;;) {
        const char *nl = memchr(note + i, '\n', len - i);
        if (!nl) {
            seterr(err, errlen, "line %d: no newline", line + 1);
            return -1;
        }
        size_t ll = (size_t)(nl - (note + i));
        const char *l = note + i;
        if (ll == 0) {
            if (line < 3) {
                seterr(err, errlen, "line %d: empty; a checkpoint has origin, size and root",
                       line + 1);
                return -1;
            }
            i++;
            break;
        }
        if (!line_ok(l, ll)) {
            seterr(err, errlen, "line %d: control characters", line + 1);
            return -1;
        }
        if (line == 0) {
            if (ll > SL_AUDIT_MAX_NAME) {
                seterr(err, errlen, "line 1: origin too long");
                return -1;
            }
            memcpy(c->origin, l, ll);
        } else if (line == 1) {
            if (ll > 20 || (l[0] == '0' && ll > 1)) {
                seterr(err, errlen, "line 2: size must be decimal without leading zeros");
                return -1;
            }
            uint64_t v = 0;
            for (size_t k = 0; k < ll; k++) {
                if (l[k] < '0' || l[k] > '9' || v > (UINT64_MAX - (uint64_t)(l[k] - '0')) / 10) {
                    seterr(err, errlen, "line 2: size must be a decimal number");
                    return -1;
                }
                v = v * 10 + (uint64_t)(l[k] - '0');
            }
            c->size = v;
        } else if (line == 2) {
            uint8_t r[48];
            if (ll != 44 || sl_audit_b64_decode(l, ll, r, sizeof r) != 32) {
                seterr(err, errlen, "line 3: root must be base64 of 32 bytes");
                return -1;
            }
            memcpy(c->root, r, 32);
        }
        /* further lines are extension lines: signed, kept, not interpreted */
        i += ll + 1;
        line++;
    }
    c->text_len = i - 1;
    /* Signature lines, to the end. */
    if (i >= len) {
        seterr(err, errlen, "no signature");
        return -1;
    }
    while (i < len) {
        const char *nl = memchr(note + i, '\n', len - i);
        if (!nl) {
            seterr(err, errlen, "signature line without newline");
            return -1;
        }
        const char *l = note + i;
        size_t ll = (size_t)(nl - l);
        if (ll < 4 || memcmp(l, EMDASH " ", 4) != 0) {
            seterr(err, errlen, "signature line must start with an em dash and a space");
            return -1;
        }
        const char *name = l + 4;
        const char *sp = memchr(name, ' ', ll - 4);
        if (!sp || !name_ok(name, (size_t)(sp - name))) {
            seterr(err, errlen, "signature line: bad key name");
            return -1;
        }
        if (c->nsig == 16) {
            seterr(err, errlen, "more than 16 signatures");
            return -1;
        }
        uint8_t sb[80];
        const char *b = sp + 1;
        size_t bl = (size_t)(nl - b);
        int n = bl <= 108 ? sl_audit_b64_decode(b, bl, sb, sizeof sb) : -1;
        if (n < 5) {
            seterr(err, errlen, "signature line: bad base64 signature");
            return -1;
        }
        memcpy(c->sig[c->nsig].name, name, (size_t)(sp - name));
        c->sig[c->nsig].key_id = (uint32_t)sb[0] << 24 | (uint32_t)sb[1] << 16 | (uint32_t)sb[2] << 8 | sb[3];
        c->sig[c->nsig].siglen = n - 4;
        memcpy(c->sig[c->nsig].sig, sb + 4, (size_t)(n - 4) > 64 ? 64 : (size_t)(n - 4));
        c->nsig++;
        i += ll + 1;
    }
    return 0;
}

int sl_audit_checkpoint_verify(const char *note, const struct sl_audit_checkpoint *c,
                               const struct sl_audit_verifier *v)
{
    for (int k = 0; k < c->nsig; k++) {
        if (strcmp(c->sig[k].name, v->name) != 0 || c->sig[k].key_id != v->key_id ||
            c->sig[k].siglen != 64)
            continue;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, v->pkey) == 1 &&
                 EVP_DigestVerify(ctx, c->sig[k].sig, 64, (const uint8_t *)note, c->text_len) == 1;
        EVP_MD_CTX_free(ctx);
        if (ok)
            return 0;
    }
    return -1;
}

int sl_audit_checkpoints_split(const char *text, size_t len,
                               int (*fn)(const char *note, size_t len, void *arg), void *arg,
                               size_t *bad_offset, char *err, size_t errlen)
{
    size_t i = 0;
    int count = 0;
    while (i < len) {
        size_t start = i;
        /* text lines up to the blank line */
        const char *p = text + i;
        const char *end = NULL;
        for (size_t k = i; k + 1 < len; k++)
            if (text[k] == '\n' && text[k + 1] == '\n') {
                end = text + k + 2;
                break;
            }
        if (!end) {
            *bad_offset = start;
            seterr(err, errlen, "checkpoint at byte %zu: no blank line after its text", start);
            return -1;
        }
        size_t j = (size_t)(end - text);
        /* signature lines */
        int nsig = 0;
        while (j + 4 <= len && memcmp(text + j, EMDASH " ", 4) == 0) {
            const char *nl = memchr(text + j, '\n', len - j);
            if (!nl)
                break;
            j = (size_t)(nl - text) + 1;
            nsig++;
        }
        if (nsig == 0 || j >= len || text[j] != '\n') {
            *bad_offset = start;
            seterr(err, errlen, "checkpoint at byte %zu: incomplete (no signature or separator)",
                   start);
            return -1;
        }
        if (fn && fn(p, j - start, arg) != 0) {
            *bad_offset = start;
            seterr(err, errlen, "checkpoint at byte %zu refused", start);
            return -1;
        }
        count++;
        i = j + 1;
    }
    return count;
}
