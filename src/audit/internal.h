/*
 * internal.h - what the files of src/audit share and nothing else uses.
 *
 * Segment files: DIR/seg-NNNNNNNN.log (8 decimal digits, from 00000001), each a sequence of
 * records
 *     u32 length (big-endian, 18..65535)   of the entry
 *     u32 CRC32C (big-endian)              of the entry bytes
 *     entry (length bytes)                 the canonical encoding (entry.c)
 * A record never spans two segments.  The first entry of segment k+1 follows the last of
 * segment k in index order.
 */
#ifndef STATELINE_AUDIT_INTERNAL_H
#define STATELINE_AUDIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define SL_AUDIT_REC_HDR 8
#define SL_AUDIT_ENTRY_MIN 18

/* Segment numbers present in dir, ascending; *nums malloc'd (caller frees).  Returns the
 * count, or -1 (errno) if the directory cannot be read. */
int sl__audit_list_segments(const char *dir, uint32_t **nums);
void sl__audit_seg_path(const char *dir, uint32_t num, char *out, size_t cap);

/* Scan one segment image (mapped file).  For each record calls rec(off, entry, len, crc_ok,
 * arg) (non-zero return stops the scan, returned as is).  When the framing breaks (a length
 * out of range or past the end of the image), *tail_off is set to the offset of the broken
 * record and 1 is returned; a clean end returns 0 with *tail_off = len. */
int sl__audit_scan(const uint8_t *img, size_t len,
                   int (*rec)(uint64_t off, const uint8_t *e, size_t elen, int crc_ok, void *arg),
                   void *arg, uint64_t *tail_off);

/* Map a whole file read-only (*len = 0 and NULL for an empty file).  0 or -1 (errno). */
int sl__audit_map(const char *path, const uint8_t **img, size_t *len);
void sl__audit_unmap(const uint8_t *img, size_t len);

/* Read a whole small file (NUL-terminated).  *out malloc'd.  0 or -1 (errno). */
int sl__audit_slurp(const char *path, char **out, size_t *len);

/* The sequence number in an entry header (entry at least SL_AUDIT_ENTRY_MIN bytes). */
uint64_t sl__audit_entry_seq(const uint8_t *e);
int64_t sl__audit_entry_time(const uint8_t *e);

/* Personal store (personal.c says the formats): open/create DIR/personal (0700) with
 * hmac.key and keys/; create = the appender (it also sets up Linux AIO). */
struct sl__audit_personal;
struct sl__audit_personal *sl__audit_personal_open(const char *dir, int create, char *err,
                                                   size_t errlen);
void sl__audit_personal_close(struct sl__audit_personal *p);
/* HMAC-SHA-256 under the log secret. */
void sl__audit_personal_mac(struct sl__audit_personal *p, const void *data, size_t len,
                            uint8_t out[32]);
/* Encrypt a batch of personal records and append them to the months' data files (written,
 * not synced): each buf[i] holds records  u64 index | i64 time_us | u32 len | data  back
 * to back.  0 or -1 (fatal for the log). */
int sl__audit_personal_write(struct sl__audit_personal *p, const uint8_t *const *buf,
                             const size_t *len, int n);
/* Start the fdatasync of every data file written since the last call (AIO: it runs while
 * the caller syncs the segment), then wait for it.  0 or -1 (fatal for the log). */
int sl__audit_personal_sync_start(struct sl__audit_personal *p);
int sl__audit_personal_sync_wait(struct sl__audit_personal *p);
/* At open, before the entries are read: check every data file and its sidecar, rebuild
 * what is missing, truncate a torn tail.  0 or -1 (err). */
int sl__audit_personal_repair(struct sl__audit_personal *p, char *err, size_t errlen);
/* Whether the entry index (of time time_us, which names its month) has its personal
 * record: 1 yes (or its month was shredded: nothing to have), 0 no.  After repair. */
int sl__audit_personal_has(struct sl__audit_personal *p, uint64_t index, int64_t time_us);
/* Remove the records of indexes >= n (entries that never became durable).  0 or -1. */
int sl__audit_personal_trim(struct sl__audit_personal *p, uint64_t n);

/* The data file format, as pure functions over a file image (fuzzed). */
#define SL_AUDIT_PDATA_HDR 16          /* "SLPDATA1" "YYYY-MM" "\n" */
#define SL_AUDIT_PREC_MIN 36           /* u64 index, 12-byte nonce, 16-byte tag */
#define SL_AUDIT_MAX_PERSONAL (1u << 20) /* personal data of one entry, bytes */
struct sl__audit_prec {
    uint64_t index;
    const uint8_t *nonce, *ct, *tag; /* point into the image */
    uint32_t ctlen;
    uint64_t total; /* bytes of the whole record, header included */
};
void sl__audit_pdata_header(const char period[8], uint8_t out[SL_AUDIT_PDATA_HDR]);
/* 0 when img starts with a data file header (of period, unless NULL). */
int sl__audit_pdata_check_header(const uint8_t *img, size_t len, const char *period);
/* The record at off: 0 and *r when whole with a good CRC32C, else -1. */
int sl__audit_pdata_record(const uint8_t *img, size_t len, uint64_t off,
                           struct sl__audit_prec *r);
/* Walk records from off while they are whole, good and ascending (after: the index before
 * them, UINT64_MAX for none), calling fn (non-zero stops there).  Returns the offset where
 * the walk stopped: len at a clean end. */
uint64_t sl__audit_pdata_scan(const uint8_t *img, size_t len, uint64_t off, uint64_t after,
                              int (*fn)(const struct sl__audit_prec *r, uint64_t off, void *arg),
                              void *arg);
/* Binary search of a sidecar (16-byte entries u64 index | u64 offset, ascending) of len
 * bytes: the entry's position and *off, or -1. */
int64_t sl__audit_pindex_find(const uint8_t *x, size_t len, uint64_t index, uint64_t *off);

/* UTC "YYYY-MM" of a time in µs; out >= 8 bytes. */
void sl__audit_period(int64_t time_us, char out[8]);

#endif
