/*
 * msg_int.h - internals shared by the files of src/msg (not a public header).
 */
#ifndef STATELINE_MSG_INT_H
#define STATELINE_MSG_INT_H

#include <stddef.h>
#include <stdint.h>
#include "stateline/msg.h"

static inline int sl_msg_is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static inline int sl_msg_is_digit(int c) { return c >= '0' && c <= '9'; }
static inline int sl_msg_is_alnum(int c) { return sl_msg_is_upper(c) || sl_msg_is_digit(c); }
/* Control bytes the codec ignores in bodies: C0 and DEL. */
static inline int sl_msg_is_ctl(int c) { return (c >= 0 && c < 0x20) || c == 0x7f; }

/* 1 when s[0..n) is n upper-case letters or digits. */
int sl_msg_all_alnum(const char *s, size_t n);

/* Every body prefix the codec knows, as a bit index (masks are uint32_t). */
enum sl_pfx {
    SL_P_OLN, SL_P_NAM, SL_P_DOB, SL_P_SEX, SL_P_RSN, SL_P_PUR, SL_P_ATN, SL_P_IMQ,
    SL_P_CAS, SL_P_LGP, SL_P_LIC, SL_P_LIY, SL_P_LIT, SL_P_VIN, SL_P_VMA, SL_P_VYR,
    SL_P_TYP, SL_P_SRC, SL_P_DST, SL_P_BEG, SL_P_END, SL_P_FND, SL_P_AND, SL_P_ORR,
    SL_P_SEQ, SL_P_COUNT
};
/* Index of a 3-letter prefix (p need not be NUL-terminated), or -1. */
int sl_msg_pfx_id(const char *p);
const char *sl_msg_pfx_name(int id);
/* Mask of the prefixes in a space- or NULL-separated list. */
uint32_t sl_msg_pfx_mask_list(const char *const *names, int n);
uint32_t sl_msg_pfx_mask_str(const char *spaced);

/* The control-field rule of msg.h: given the key and the last header token before TXT
 * (when there are at least two tokens), 1 when that token is the control field. */
int sl_msg_last_is_ctl(const struct sl_key_info *k, const char *tok, size_t len);
/* 1 when s[0..n) is a valid control field: 1..10 of [A-Z0-9-], not beginning with TXT. */
int sl_msg_ctl_valid(const char *s, size_t n);

/* Clean the body b[0..n) into m->text (allocated) and, for field keys, split it into
 * m->fields.  off is b's offset in the whole message, for error details. */
int sl_msg_take_body(const struct sl_key_info *k, const char *b, size_t n, size_t off,
                     struct sl_msg *m, struct sl_msg_err *err);

/* "MID/<id>" (the whole line, without its end) -> id, 0 when malformed. */
uint64_t sl_msg_mid_parse(const char *s, size_t n);

/* Days since 1970-01-01 <-> proleptic Gregorian date (H. Hinnant's algorithms).  Our own
 * because glibc's gmtime_r/timegm take the time zone lock on every call. */
int64_t sl_msg_days_from_civil(int y, int m, int d);
void sl_msg_civil_from_days(int64_t z, int *y, int *m, int *d);

/* Copy up to max bytes of s into dst (size dstsize) for an error detail: bytes outside
 * printable ASCII become '?', a longer token ends in "...". */
void sl_msg_show(char *dst, size_t dstsize, const char *s, size_t n, size_t max);

#endif
