/*
 * hugemem.c - zeroed memory for large random-access tables, advised for transparent huge
 * pages (see hugemem.h).
 */
#include "stateline/hugemem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

static void huge_oom(size_t n)
{
    fprintf(stderr, "stateline: out of memory allocating %zu bytes\n", n); /* as sl_xmalloc */
    abort();
}

void *sl_huge_zalloc(size_t n)
{
    size_t align = n >= HUGE_PAGE / 2 ? HUGE_PAGE : 64;
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - align)
        huge_oom(n);
    size_t rounded = (n + align - 1) & ~(align - 1);
    void *p = aligned_alloc(align, rounded);
    if (!p)
        huge_oom(rounded);
#ifdef MADV_HUGEPAGE
    if (align == HUGE_PAGE)
        (void)madvise(p, rounded, MADV_HUGEPAGE); /* a hint: ordinary pages otherwise */
#endif
    memset(p, 0, rounded);
    return p;
}
