/*
 * test_audit_merkle.c - RFC 6962 hashing: the known-answer vectors of engineering.md §3.2,
 * the compact range against MTH, and inclusion and consistency proofs for every
 * (m, n) <= 64 verified, with every mutated proof rejected.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stateline/audit.h"

static const char *const leaves_hex[8] = {"", "00", "10", "2021", "3031", "40414243",
                                          "5051525354555657",
                                          "606162636465666768696a6b6c6d6e6f"};
static const char *const roots_hex[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

static void kat_leaves(struct sl_audit_hasher *h, uint8_t out[8][32])
{
    for (int i = 0; i < 8; i++) {
        uint8_t d[16];
        size_t n = strlen(leaves_hex[i]) / 2;
        assert_int_equal(sl_audit_unhex(leaves_hex[i], 2 * n, d), 0);
        sl_audit_leaf_hash(h, d, n, out[i]);
    }
}

static void hexeq(const uint8_t h[32], const char *hex)
{
    char s[65];
    sl_audit_hex(h, 32, s);
    assert_string_equal(s, hex);
}

static void test_known_roots(void **state)
{
    (void)state;
    struct sl_audit_hasher *h = sl_audit_hasher_new();
    uint8_t lv[8][32], root[32];
    kat_leaves(h, lv);
    struct sl_audit_range r;
    sl_audit_range_init(&r);
    for (int n = 0; n <= 8; n++) {
        sl_audit_mth(h, (const uint8_t(*)[32])lv, 0, (uint64_t)n, root);
        hexeq(root, roots_hex[n]);
        sl_audit_range_root(&r, h, root);
        hexeq(root, roots_hex[n]);
        if (n < 8)
            sl_audit_range_append(&r, h, lv[n]);
    }
    sl_audit_hasher_free(h);
}

static void test_known_proofs(void **state)
{
    (void)state;
    struct sl_audit_hasher *h = sl_audit_hasher_new();
    uint8_t lv[8][32], p[128][32], root[32];
    char s[65];
    kat_leaves(h, lv);
    sl_audit_hex(lv[5], 32, s);
    assert_memory_equal(s, "4271a26b", 8);
    assert_memory_equal(s + 58, "dab658", 6);
    int n = sl_audit_inclusion(h, (const uint8_t(*)[32])lv, 5, 8, p);
    assert_int_equal(n, 3);
    hexeq(p[0], "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b");
    hexeq(p[1], "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0");
    hexeq(p[2], "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7");
    sl_audit_unhex(roots_hex[8], 64, root);
    assert_int_equal(sl_audit_verify_inclusion(h, 5, 8, lv[5], (const uint8_t(*)[32])p, n, root), 0);

    n = sl_audit_consistency(h, (const uint8_t(*)[32])lv, 3, 7, p);
    assert_int_equal(n, 4);
    const char *pre[4] = {"0298d122", "07506a85", "fac54203", "837dbb15"};
    const char *suf[4] = {"7a7fe7", "4487e7", "e3c125", "f22d0e"};
    for (int i = 0; i < 4; i++) {
        sl_audit_hex(p[i], 32, s);
        assert_memory_equal(s, pre[i], 8);
        assert_memory_equal(s + 58, suf[i], 6);
    }
    n = sl_audit_consistency(h, (const uint8_t(*)[32])lv, 4, 8, p);
    assert_int_equal(n, 1);
    hexeq(p[0], "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4");
    sl_audit_hasher_free(h);
}

/* Every (m, n) up to 64: proofs verify; every one-bit change, truncation, extension and a
 * wrong index/size are refused. */
static void test_all_proofs(void **state)
{
    (void)state;
    enum { N = 64 };
    struct sl_audit_hasher *h = sl_audit_hasher_new();
    uint8_t lv[N][32], roots[N + 1][32], p[128][32], q[128][32];
    for (int i = 0; i < N; i++) {
        uint8_t d[4] = {(uint8_t)i, (uint8_t)(i * 7), 0xa5, (uint8_t)(i >> 3)};
        sl_audit_leaf_hash(h, d, sizeof d, lv[i]);
    }
    for (int n = 0; n <= N; n++)
        sl_audit_mth(h, (const uint8_t(*)[32])lv, 0, (uint64_t)n, roots[n]);
    for (int n = 1; n <= N; n++) {
        for (int m = 0; m < n; m++) {
            int k = sl_audit_inclusion(h, (const uint8_t(*)[32])lv, (uint64_t)m, (uint64_t)n, p);
            assert_true(k >= 0);
            assert_int_equal(sl_audit_verify_inclusion(h, (uint64_t)m, (uint64_t)n, lv[m],
                                                       (const uint8_t(*)[32])p, k, roots[n]), 0);
            /* wrong leaf, wrong index, wrong size */
            assert_int_not_equal(sl_audit_verify_inclusion(h, (uint64_t)m, (uint64_t)n,
                                                           lv[(m + 1) % N], (const uint8_t(*)[32])p, k,
                                                           roots[n]), 0);
            if (n > 1)
                assert_int_not_equal(sl_audit_verify_inclusion(h, (uint64_t)((m + 1) % n), (uint64_t)n,
                                                               lv[m], (const uint8_t(*)[32])p, k,
                                                               roots[n]), 0);
            /* the root of another size (the shape alone cannot tell a size; the root does) */
            assert_int_not_equal(sl_audit_verify_inclusion(h, (uint64_t)m, (uint64_t)n, lv[m],
                                                           (const uint8_t(*)[32])p, k,
                                                           roots[n == N ? n - 1 : n + 1]), 0);
            for (int i = 0; i < k; i++) {
                memcpy(q, p, sizeof q);
                q[i][i % 32] ^= 0x01;
                assert_int_not_equal(sl_audit_verify_inclusion(h, (uint64_t)m, (uint64_t)n, lv[m],
                                                               (const uint8_t(*)[32])q, k, roots[n]), 0);
            }
            if (k > 0)
                assert_int_not_equal(sl_audit_verify_inclusion(h, (uint64_t)m, (uint64_t)n, lv[m],
                                                               (const uint8_t(*)[32])p, k - 1, roots[n]), 0);
            memcpy(p[k], lv[0], 32);
            assert_int_not_equal(sl_audit_verify_inclusion(h, (uint64_t)m, (uint64_t)n, lv[m],
                                                           (const uint8_t(*)[32])p, k + 1, roots[n]), 0);
        }
        for (int m = 1; m <= n; m++) {
            int k = sl_audit_consistency(h, (const uint8_t(*)[32])lv, (uint64_t)m, (uint64_t)n, p);
            assert_true(k >= 0);
            assert_int_equal(sl_audit_verify_consistency(h, (uint64_t)m, (uint64_t)n, roots[m],
                                                         roots[n], (const uint8_t(*)[32])p, k), 0);
            if (m < n) {
                assert_int_not_equal(sl_audit_verify_consistency(h, (uint64_t)m, (uint64_t)n,
                                                                 roots[m - 1], roots[n],
                                                                 (const uint8_t(*)[32])p, k), 0);
                assert_int_not_equal(sl_audit_verify_consistency(h, (uint64_t)m, (uint64_t)n,
                                                                 roots[m], roots[n - 1],
                                                                 (const uint8_t(*)[32])p, k), 0);
                for (int i = 0; i < k; i++) {
                    memcpy(q, p, sizeof q);
                    q[i][(i * 5) % 32] ^= 0x80;
                    assert_int_not_equal(sl_audit_verify_consistency(h, (uint64_t)m, (uint64_t)n,
                                                                     roots[m], roots[n],
                                                                     (const uint8_t(*)[32])q, k), 0);
                }
                assert_int_not_equal(sl_audit_verify_consistency(h, (uint64_t)m, (uint64_t)n,
                                                                 roots[m], roots[n],
                                                                 (const uint8_t(*)[32])p, k - 1), 0);
                memcpy(p[k], lv[1], 32);
                assert_int_not_equal(sl_audit_verify_consistency(h, (uint64_t)m, (uint64_t)n,
                                                                 roots[m], roots[n],
                                                                 (const uint8_t(*)[32])p, k + 1), 0);
            } else {
                assert_int_equal(k, 0);
            }
        }
    }
    sl_audit_hasher_free(h);
}

/* Random larger trees (up to 5,000 leaves): proofs verify against MTH, and a proof for one
 * size never verifies against the root of another. */
static void test_random_large(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct sl_audit_hasher *h = sl_audit_hasher_new();
    uint8_t(*lv)[32] = malloc(N * 32);
    uint8_t p[128][32], r1[32], r2[32];
    for (int i = 0; i < N; i++) {
        uint8_t d[8] = {(uint8_t)i, (uint8_t)(i >> 8), 1, 2, 3, 4, 5, 6};
        sl_audit_leaf_hash(h, d, sizeof d, lv[i]);
    }
    uint64_t x = 88172645463325252ULL; /* xorshift: reproducible */
    for (int t = 0; t < 150; t++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint64_t n = 1 + x % N;
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint64_t m = x % n;
        sl_audit_mth(h, (const uint8_t(*)[32])lv, 0, n, r2);
        int k = sl_audit_inclusion(h, (const uint8_t(*)[32])lv, m, n, p);
        assert_int_equal(sl_audit_verify_inclusion(h, m, n, lv[m], (const uint8_t(*)[32])p, k, r2), 0);
        if (k > 0) {
            p[k / 2][7] ^= 4;
            assert_int_not_equal(sl_audit_verify_inclusion(h, m, n, lv[m], (const uint8_t(*)[32])p, k, r2), 0);
        }
        uint64_t a = m + 1; /* 1 <= a <= n */
        sl_audit_mth(h, (const uint8_t(*)[32])lv, 0, a, r1);
        k = sl_audit_consistency(h, (const uint8_t(*)[32])lv, a, n, p);
        assert_int_equal(sl_audit_verify_consistency(h, a, n, r1, r2, (const uint8_t(*)[32])p, k), 0);
        if (k > 0) {
            p[k - 1][0] ^= 1;
            assert_int_not_equal(sl_audit_verify_consistency(h, a, n, r1, r2, (const uint8_t(*)[32])p, k), 0);
        }
    }
    free(lv);
    sl_audit_hasher_free(h);
}

static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(sl_audit_crc32c(0, "123456789", 9), 0xE3069283u);
    /* split computation equals one shot */
    uint32_t c = sl_audit_crc32c(0, "1234", 4);
    assert_int_equal(sl_audit_crc32c(c, "56789", 5), 0xE3069283u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_roots),
        cmocka_unit_test(test_known_proofs),
        cmocka_unit_test(test_all_proofs),
        cmocka_unit_test(test_random_large),
        cmocka_unit_test(test_crc32c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
