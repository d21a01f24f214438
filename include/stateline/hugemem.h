/*
 * hugemem.h - large tables that are read at random on every message (the directory
 * snapshot, the hub's requester map) in memory advised for transparent huge pages.
 *
 * Why: on a VM every TLB miss is a two-dimensional page walk (guest and host tables), and a
 * table of a few MB read at random misses the TLB about as often as it misses the cache.
 * With 2 MiB pages a 6 MB table needs three TLB entries.  The advice is only a hint
 * (MADV_HUGEPAGE; the kernel's `transparent_hugepage` setting decides): without it the
 * memory is ordinary, and everything works the same.
 */
#ifndef STATELINE_HUGEMEM_H
#define STATELINE_HUGEMEM_H

#include <stddef.h>

/* At least n bytes, zeroed; 2 MiB-aligned and advised for huge pages when n is 1 MiB or
 * more (rounded up to whole 2 MiB pages), else ordinary heap memory aligned to 64 bytes
 * (a cache line).  Aborts on out-of-memory, as sl_xmalloc.  Owned by the caller: free(). */
void *sl_huge_zalloc(size_t n);

#endif
