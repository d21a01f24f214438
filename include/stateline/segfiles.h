/*
 * segfiles.h - the numbered segment files of an append-only log: DIR/seg-NNNNNNNN.log,
 * eight decimal digits from 1.  The audit log (docs/audit-format.md) and the gateway's
 * inbox log (docs/gateway.md §5.1) name their segments so; each reads what is in them.
 */
#ifndef STATELINE_SEGFILES_H
#define STATELINE_SEGFILES_H

#include <stdint.h>

/* The segment numbers in dir, ascending, into *nums (sl_xmalloc'd; the caller frees it,
 * also when there are none); names of any other shape are left out.  The count, or -1 if
 * dir cannot be read (errno set, *nums untouched). */
int sl_seg_list(const char *dir, uint32_t **nums);

#endif
