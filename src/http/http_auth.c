/*
 * http_auth.c - credentials of the oversight desk: password hashes, TOTP, base32.
 *
 * Password hash format (one text column of http_user):
 *     scrypt$<log2 N>$<r>$<p>$<salt, base64>$<hash, base64>
 * with N = 2^15, r = 8, p = 1 (32 MiB of memory, about 0.1 s on one core: RFC 7914's
 * interactive-log-on setting), a 16-byte random salt and a 32-byte output, computed by
 * OpenSSL 3's EVP_KDF "SCRYPT".  The parameters are stored with each hash so they can be
 * raised later without invalidating old accounts.
 *
 * TOTP (RFC 6238 over RFC 4226): HMAC-SHA1 of the big-endian 64-bit time step
 * (unix time / 30), dynamic truncation, 6 decimal digits.
 */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/audit.h"
#include "stateline/http.h"

#define SCRYPT_LOG2N 15
#define SCRYPT_R 8
#define SCRYPT_P 1
#define SALT_LEN 16
#define HASH_LEN 32

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int sl_http_base32_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            if (o + 1 >= cap)
                return -1;
            out[o++] = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) {
        if (o + 1 >= cap)
            return -1;
        out[o++] = b32[(acc << (5 - bits)) & 31];
    }
    if (o >= cap)
        return -1;
    out[o] = 0;
    return (int)o;
}

int sl_http_base32_decode(const char *in, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (; *in; in++) {
        char c = *in;
        if (c == ' ' || c == '=')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        const char *p = strchr(b32, c);
        if (!p || !c)
            return -1;
        acc = (acc << 5) | (uint32_t)(p - b32);
        bits += 5;
        if (bits >= 8) {
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    return (int)o;
}

uint32_t sl_http_totp(const uint8_t *key, size_t keylen, uint64_t step)
{
    uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(step & 0xff);
        step >>= 8;
    }
    if (!HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof msg, mac, &maclen) || maclen < 20)
        return 0xffffffffu; /* never a 6-digit code: nothing matches */
    int off = mac[maclen - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
    return bin % 1000000u;
}

static int scrypt(const char *pw, const uint8_t *salt, size_t saltlen, int log2n, int r, int p,
                  uint8_t *out, size_t outlen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    if (!kdf)
        return -1;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!ctx)
        return -1;
    uint64_t n = UINT64_C(1) << log2n;
    uint32_t rr = (uint32_t)r, pp = (uint32_t)p;
    uint64_t maxmem = (uint64_t)128 * rr * n * 2 + (UINT64_C(1) << 20);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pw, strlen(pw)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &rr),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &pp),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end(),
    };
    int rc = EVP_KDF_derive(ctx, out, outlen, params) == 1 ? 0 : -1;
    EVP_KDF_CTX_free(ctx);
    return rc;
}

int sl_http_password_hash(const char *pw, char *out, size_t cap)
{
    uint8_t salt[SALT_LEN], h[HASH_LEN];
    char s64[32], h64[64];
    if (RAND_bytes(salt, sizeof salt) != 1 ||
        scrypt(pw, salt, sizeof salt, SCRYPT_LOG2N, SCRYPT_R, SCRYPT_P, h, sizeof h) != 0)
        return -1;
    sl_audit_b64_encode(salt, sizeof salt, s64);
    sl_audit_b64_encode(h, sizeof h, h64);
    int n = snprintf(out, cap, "scrypt$%d$%d$%d$%s$%s", SCRYPT_LOG2N, SCRYPT_R, SCRYPT_P, s64,
                     h64);
    OPENSSL_cleanse(h, sizeof h);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int sl_http_password_check(const char *pw, const char *stored)
{
    int log2n, r, p;
    char s64[64], h64[96];
    if (sscanf(stored, "scrypt$%d$%d$%d$%63[^$]$%95s", &log2n, &r, &p, s64, h64) != 5)
        return 0;
    if (log2n < 10 || log2n > 22 || r < 1 || r > 32 || p < 1 || p > 16)
        return 0;
    uint8_t salt[48], want[72], got[72];
    int sl = sl_audit_b64_decode(s64, strlen(s64), salt, sizeof salt);
    int hl = sl_audit_b64_decode(h64, strlen(h64), want, sizeof want);
    if (sl <= 0 || hl < 16)
        return 0;
    if (scrypt(pw, salt, (size_t)sl, log2n, r, p, got, (size_t)hl) != 0)
        return 0;
    int ok = CRYPTO_memcmp(got, want, (size_t)hl) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return ok;
}
