/*
 * be.h - big-endian integers in byte buffers, for the on-disk formats that store their
 * numbers so (the gateway's inbox log and blobs, docs/gateway.md §5.1): one definition
 * instead of a copy per file.  Byte by byte, so alignment and the host's order never
 * matter; compilers turn each into a load and a byte swap.
 */
#ifndef STATELINE_BE_H
#define STATELINE_BE_H

#include <stdint.h>

static inline uint32_t sl_be_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t sl_be_get64(const uint8_t *p)
{
    return (uint64_t)sl_be_get32(p) << 32 | sl_be_get32(p + 4);
}

static inline void sl_be_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void sl_be_put64(uint8_t *p, uint64_t v)
{
    sl_be_put32(p, (uint32_t)(v >> 32));
    sl_be_put32(p + 4, (uint32_t)v);
}

#endif
