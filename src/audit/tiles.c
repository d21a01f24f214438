/*
 * tiles.c - the log as static files in the C2SP tlog-tiles layout (c2sp.org/tlog-tiles),
 * so that an auditor can fetch (or receive as a tarball) everything needed to compute any
 * proof, with no proof service to trust.
 *
 *     OUT/checkpoint                      the latest signed checkpoint (its size S is the
 *                                         tree the tiles describe)
 *     OUT/tile/<L>/<N>                    256 hashes of 32 bytes: level L node hashes
 *                                         [N*256, N*256+256); level 0 = leaf hashes, level
 *                                         L+1 = roots of full level-L tiles
 *     OUT/tile/<L>/<N>.p/<W>              the rightmost, partial tile: W (1..255) hashes
 *     OUT/tile/entries/<N>[.p/<W>]        entry bundles: entries [N*256, N*256+W), each as
 *                                         u16 length (big-endian) || entry
 * <N> is written in 3-digit groups, all but the last prefixed by "x": 1234067 ->
 * x001/x234/067.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "stateline/audit.h"
#include "stateline/core.h"
#include "audit/internal.h"

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

static void tile_index(uint64_t n, char *out, size_t cap)
{
    char groups[8][5];
    int g = 0;
    do {
        snprintf(groups[g++], sizeof groups[0], "%03u", (unsigned)(n % 1000));
        n /= 1000;
    } while (n > 0);
    size_t o = 0;
    out[0] = 0;
    for (int i = g - 1; i >= 0; i--)
        o += (size_t)snprintf(out + o, cap - o, "%s%s%s", i < g - 1 ? "/" : "", i > 0 ? "x" : "",
                              groups[i]);
}

/* mkdir -p of the directory part of path. */
static int mkparents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int r = mkdir(path, 0755);
        *p = '/';
        if (r < 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

static int write_file(const char *path0, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", path0);
    if (mkparents(path) < 0)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int tile_path(char *out, size_t cap, const char *base, const char *level, uint64_t n,
                     unsigned width)
{
    char idx[64];
    tile_index(n, idx, sizeof idx);
    int r = width == 256 ? snprintf(out, cap, "%s/tile/%s/%s", base, level, idx)
                         : snprintf(out, cap, "%s/tile/%s/%s.p/%u", base, level, idx, width);
    return r < 0 || (size_t)r >= cap ? -1 : 0;
}

struct bundles {
    const char *out;
    uint64_t size;
    uint8_t *buf;
    size_t len;
    uint64_t count; /* entries in buf */
    int failed;
};

static int flush_bundle(struct bundles *b, uint64_t first)
{
    char path[4096];
    if (tile_path(path, sizeof path, b->out, "entries", first / 256, (unsigned)b->count) < 0 ||
        write_file(path, b->buf, b->len) < 0)
        return -1;
    b->len = 0;
    b->count = 0;
    return 0;
}

static int bundle_entry(uint64_t index, const uint8_t *e, size_t len, void *arg)
{
    struct bundles *b = arg;
    if (index >= b->size)
        return 1;
    b->buf[b->len++] = (uint8_t)(len >> 8);
    b->buf[b->len++] = (uint8_t)len;
    memcpy(b->buf + b->len, e, len);
    b->len += len;
    b->count++;
    if ((b->count == 256 || index + 1 == b->size) && flush_bundle(b, index + 1 - b->count) < 0) {
        b->failed = 1;
        return 1;
    }
    return 0;
}

int sl_audit_tiles(const char *dir, const char *out, uint64_t *size_out, char *err,
                   size_t errlen)
{
    /* The tree the tiles describe is the latest checkpoint's. */
    char path[4096], *cp = NULL;
    size_t cplen;
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    if (sl__audit_slurp(path, &cp, &cplen) < 0) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct sl_audit_checkpoint c;
    char why[200];
    if (sl_audit_checkpoint_parse(cp, cplen, &c, why, sizeof why) < 0) {
        seterr(err, errlen, "%s: %s", path, why);
        free(cp);
        return -1;
    }
    uint8_t(*leaves)[32] = NULL;
    int64_t n = sl_audit_load_leaves(dir, c.size, &leaves, err, errlen);
    if (n < 0 || (uint64_t)n < c.size) {
        if (n >= 0)
            seterr(err, errlen, "the log has %lld entries, fewer than its checkpoint's %llu",
                   (long long)n, (unsigned long long)c.size);
        free(cp);
        free(leaves);
        return -1;
    }
    struct sl_audit_hasher *h = sl_audit_hasher_new();
    /* Check the tree against the checkpoint before publishing anything. */
    uint8_t root[32];
    sl_audit_mth(h, (const uint8_t(*)[32])leaves, 0, c.size, root);
    int rc = -1;
    if (memcmp(root, c.root, 32) != 0) {
        seterr(err, errlen, "the entries do not match the checkpoint; run `stateline audit verify`");
        goto done;
    }
    snprintf(path, sizeof path, "%s/checkpoint", out);
    if (write_file(path, cp, cplen) < 0)
        goto ioerr;
    /* Hash tiles, level by level: hashes[] holds the level's node hashes. */
    uint64_t count = c.size;
    uint8_t(*level)[32] = leaves;
    for (int L = 0; count > 0; L++) {
        char lv[16];
        snprintf(lv, sizeof lv, "%d", L);
        for (uint64_t t = 0; t * 256 < count; t++) {
            uint64_t w = count - t * 256 < 256 ? count - t * 256 : 256;
            if (tile_path(path, sizeof path, out, lv, t, (unsigned)w) < 0 ||
                write_file(path, level[t * 256], w * 32) < 0)
                goto ioerr;
        }
        /* next level: the root of each full tile (a perfect subtree of 256 nodes) */
        uint64_t next = count / 256;
        for (uint64_t t = 0; t < next; t++) {
            uint8_t tmp[128][32];
            for (int i = 0; i < 128; i++)
                sl_audit_node_hash(h, level[t * 256 + 2 * (uint64_t)i], level[t * 256 + 2 * (uint64_t)i + 1], tmp[i]);
            for (int width = 64; width >= 1; width /= 2)
                for (int i = 0; i < width; i++)
                    sl_audit_node_hash(h, tmp[2 * i], tmp[2 * i + 1], tmp[i]);
            memcpy(level[t], tmp[0], 32); /* in place: t < t*256 for t >= 1 */
        }
        count = next;
    }
    struct bundles b = {out, c.size, sl_xmalloc(256 * (2 + SL_AUDIT_MAX_ENTRY)), 0, 0, 0};
    struct sl_audit_reader_cb cb = {bundle_entry, NULL, &b};
    int r = c.size ? sl_audit_read_dir(dir, &cb, err, errlen) : 0;
    free(b.buf);
    if (r < 0)
        goto done;
    if (b.failed)
        goto ioerr;
    *size_out = c.size;
    rc = 0;
    goto done;
ioerr:
    seterr(err, errlen, "%s: %s", path, strerror(errno));
done:
    sl_audit_hasher_free(h);
    free(leaves);
    free(cp);
    return rc;
}
