/*
 * merkle.c - RFC 6962 Merkle tree hashing, the compact range, inclusion and consistency
 * proofs and their verification (RFC 6962 §2.1, RFC 9162 §2.1.3.2 and §2.1.4.2).
 *
 *     leaf hash  = SHA-256(0x00 || entry)
 *     node hash  = SHA-256(0x01 || left || right)
 *     MTH({})    = SHA-256("")
 *     MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
 *
 * Proof construction works from an array of leaf hashes (the tools load them from the
 * segments); it costs O(n) hashes, which is what an offline tool can afford.  Verification
 * needs only the proof.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "stateline/audit.h"
#include "stateline/core.h"

struct sl_audit_hasher {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};

struct sl_audit_hasher *sl_audit_hasher_new(void)
{
    struct sl_audit_hasher *h = sl_xcalloc(1, sizeof *h);
    /* Fetch once: an implicit fetch on every EVP_DigestInit costs a lock and a lookup. */
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    if (!h->md || !h->ctx) {
        SL_ERROR("audit", "OpenSSL has no SHA-256");
        abort();
    }
    return h;
}

void sl_audit_hasher_free(struct sl_audit_hasher *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    free(h);
}

static void hash3(struct sl_audit_hasher *h, const void *a, size_t al, const void *b, size_t bl,
                  const void *c, size_t cl, uint8_t out[32])
{
    unsigned int n = 32;
    if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1 || EVP_DigestUpdate(h->ctx, a, al) != 1 ||
        (bl && EVP_DigestUpdate(h->ctx, b, bl) != 1) ||
        (cl && EVP_DigestUpdate(h->ctx, c, cl) != 1) || EVP_DigestFinal_ex(h->ctx, out, &n) != 1) {
        SL_ERROR("audit", "SHA-256 failed");
        abort();
    }
}

void sl_audit_sha256(struct sl_audit_hasher *h, const void *p, size_t len, uint8_t out[32])
{
    hash3(h, p, len, NULL, 0, NULL, 0, out);
}

void sl_audit_leaf_hash(struct sl_audit_hasher *h, const uint8_t *entry, size_t len,
                        uint8_t out[32])
{
    static const uint8_t zero = 0x00;
    hash3(h, &zero, 1, entry, len, NULL, 0, out);
}

void sl_audit_node_hash(struct sl_audit_hasher *h, const uint8_t l[32], const uint8_t r[32],
                        uint8_t out[32])
{
    uint8_t buf[65];
    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    hash3(h, buf, sizeof buf, NULL, 0, NULL, 0, out);
}

/* ---- compact range ----------------------------------------------------------------- */

void sl_audit_range_init(struct sl_audit_range *r)
{
    r->size = 0;
    r->n = 0;
}

void sl_audit_range_append(struct sl_audit_range *r, struct sl_audit_hasher *h,
                           const uint8_t leaf[32])
{
    uint8_t cur[32];
    memcpy(cur, leaf, 32);
    /* Each trailing one bit of size is a perfect subtree that the new leaf completes. */
    for (uint64_t s = r->size; s & 1; s >>= 1)
        sl_audit_node_hash(h, r->h[--r->n], cur, cur);
    memcpy(r->h[r->n++], cur, 32);
    r->size++;
}

void sl_audit_range_root(const struct sl_audit_range *r, struct sl_audit_hasher *h,
                         uint8_t out[32])
{
    if (r->n == 0) {
        sl_audit_sha256(h, "", 0, out);
        return;
    }
    uint8_t cur[32];
    memcpy(cur, r->h[r->n - 1], 32);
    for (int i = r->n - 2; i >= 0; i--)
        sl_audit_node_hash(h, r->h[i], cur, cur);
    memcpy(out, cur, 32);
}

/* ---- MTH and proofs from leaf hashes ------------------------------------------------ */

static uint64_t split(uint64_t n) /* largest power of two strictly less than n (n > 1) */
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

void sl_audit_mth(struct sl_audit_hasher *h, const uint8_t (*leaves)[32], uint64_t lo,
                  uint64_t hi, uint8_t out[32])
{
    if (hi == lo) {
        sl_audit_sha256(h, "", 0, out);
        return;
    }
    if (hi - lo == 1) {
        memcpy(out, leaves[lo], 32);
        return;
    }
    /* Iterate as a compact range: O(n) hashes, O(log n) memory, no recursion depth. */
    struct sl_audit_range r;
    sl_audit_range_init(&r);
    for (uint64_t i = lo; i < hi; i++)
        sl_audit_range_append(&r, h, leaves[i]);
    sl_audit_range_root(&r, h, out);
}

static int path(struct sl_audit_hasher *h, const uint8_t (*leaves)[32], uint64_t m, uint64_t lo,
                uint64_t hi, uint8_t proof[][32], int n)
{
    if (hi - lo <= 1)
        return n;
    uint64_t k = split(hi - lo);
    if (m < k) {
        n = path(h, leaves, m, lo, lo + k, proof, n);
        sl_audit_mth(h, leaves, lo + k, hi, proof[n]);
    } else {
        n = path(h, leaves, m - k, lo + k, hi, proof, n);
        sl_audit_mth(h, leaves, lo, lo + k, proof[n]);
    }
    return n + 1;
}

int sl_audit_inclusion(struct sl_audit_hasher *h, const uint8_t (*leaves)[32], uint64_t index,
                       uint64_t size, uint8_t proof[][32])
{
    if (index >= size)
        return -1;
    return path(h, leaves, index, 0, size, proof, 0);
}

static int subproof(struct sl_audit_hasher *h, const uint8_t (*leaves)[32], uint64_t m,
                    uint64_t lo, uint64_t hi, int b, uint8_t proof[][32], int n)
{
    uint64_t sz = hi - lo;
    if (m == sz) {
        if (b)
            return n;
        sl_audit_mth(h, leaves, lo, hi, proof[n]);
        return n + 1;
    }
    uint64_t k = split(sz);
    if (m <= k) {
        n = subproof(h, leaves, m, lo, lo + k, b, proof, n);
        sl_audit_mth(h, leaves, lo + k, hi, proof[n]);
    } else {
        n = subproof(h, leaves, m - k, lo + k, hi, 0, proof, n);
        sl_audit_mth(h, leaves, lo, lo + k, proof[n]);
    }
    return n + 1;
}

int sl_audit_consistency(struct sl_audit_hasher *h, const uint8_t (*leaves)[32], uint64_t m,
                         uint64_t n, uint8_t proof[][32])
{
    if (m == 0 || m > n)
        return -1;
    return subproof(h, leaves, m, 0, n, 1, proof, 0);
}

/* ---- verification (RFC 9162) ------------------------------------------------------- */

int sl_audit_verify_inclusion(struct sl_audit_hasher *h, uint64_t index, uint64_t size,
                              const uint8_t leaf[32], const uint8_t (*proof)[32], int nproof,
                              const uint8_t root[32])
{
    if (index >= size || nproof < 0)
        return -1;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[32];
    memcpy(r, leaf, 32);
    for (int i = 0; i < nproof; i++) {
        if (sn == 0)
            return -1;
        if ((fn & 1) || fn == sn) {
            sl_audit_node_hash(h, proof[i], r, r);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            sl_audit_node_hash(h, r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, 32) == 0 ? 0 : -1;
}

int sl_audit_verify_consistency(struct sl_audit_hasher *h, uint64_t m, uint64_t n,
                                const uint8_t root_m[32], const uint8_t root_n[32],
                                const uint8_t (*proof)[32], int nproof)
{
    if (m == n)
        return nproof == 0 && memcmp(root_m, root_n, 32) == 0 ? 0 : -1;
    if (m == 0 || m > n || nproof <= 0)
        return -1;
    int start = 0;
    uint8_t fr[32], sr[32];
    if ((m & (m - 1)) == 0) { /* m is a power of two: the proof omits root_m */
        memcpy(fr, root_m, 32);
    } else {
        memcpy(fr, proof[0], 32);
        start = 1;
    }
    memcpy(sr, fr, 32);
    uint64_t fn = m - 1, sn = n - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    for (int i = start; i < nproof; i++) {
        if (sn == 0)
            return -1;
        if ((fn & 1) || fn == sn) {
            sl_audit_node_hash(h, proof[i], fr, fr);
            sl_audit_node_hash(h, proof[i], sr, sr);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            sl_audit_node_hash(h, sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return memcmp(fr, root_m, 32) == 0 && memcmp(sr, root_n, 32) == 0 && sn == 0 ? 0 : -1;
}
