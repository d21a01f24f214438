/*
 * segment.c - listing, mapping and scanning segment files (format in internal.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "stateline/audit.h"
#include "stateline/core.h"
#include "stateline/segfiles.h"
#include "audit/internal.h"

int sl__audit_list_segments(const char *dir, uint32_t **nums)
{
    return sl_seg_list(dir, nums);
}

void sl__audit_seg_path(const char *dir, uint32_t num, char *out, size_t cap)
{
    snprintf(out, cap, "%s/seg-%08u.log", dir, num);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t sl__audit_entry_seq(const uint8_t *e)
{
    return (uint64_t)be32(e + 2) << 32 | be32(e + 6);
}

int64_t sl__audit_entry_time(const uint8_t *e)
{
    return (int64_t)((uint64_t)be32(e + 10) << 32 | be32(e + 14));
}

int sl__audit_scan(const uint8_t *img, size_t len,
                   int (*rec)(uint64_t off, const uint8_t *e, size_t elen, int crc_ok, void *arg),
                   void *arg, uint64_t *tail_off)
{
    size_t o = 0;
    while (o < len) {
        if (len - o < SL_AUDIT_REC_HDR) {
            *tail_off = o;
            return 1;
        }
        uint32_t el = be32(img + o);
        if (el < SL_AUDIT_ENTRY_MIN || el > SL_AUDIT_MAX_ENTRY || el > len - o - SL_AUDIT_REC_HDR) {
            *tail_off = o;
            return 1;
        }
        const uint8_t *e = img + o + SL_AUDIT_REC_HDR;
        int ok = sl_audit_crc32c(0, e, el) == be32(img + o + 4);
        int r = rec(o, e, el, ok, arg);
        if (r)
            return r;
        o += SL_AUDIT_REC_HDR + el;
    }
    *tail_off = o;
    return 0;
}

int sl__audit_map(const char *path, const uint8_t **img, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *len = (size_t)st.st_size;
    *img = NULL;
    if (st.st_size == 0) {
        close(fd);
        return 0;
    }
    void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) {
        errno = e;
        return -1;
    }
    madvise(p, *len, MADV_SEQUENTIAL);
    *img = p;
    return 0;
}

void sl__audit_unmap(const uint8_t *img, size_t len)
{
    if (img)
        munmap((void *)img, len);
}

int sl__audit_slurp(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    char *b = sl_xmalloc(cap);
    size_t r;
    while ((r = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0)
            b = sl_xrealloc(b, cap *= 2);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        errno = EIO;
        return -1;
    }
    b[n] = 0;
    *out = b;
    *len = n;
    return 0;
}

void sl__audit_period(int64_t time_us, char out[8])
{
    time_t t = (time_t)(time_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 8, "%04u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u);
}
