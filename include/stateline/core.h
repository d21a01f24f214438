/*
 * core.h - allocation, logging, time and small string helpers used everywhere.
 *
 * Allocation: sl_xmalloc and friends abort the process with a message on out-of-memory
 * (as Redis' zmalloc does): a switch that cannot allocate a few bytes cannot do anything
 * useful, and checking every small allocation hides the real error paths.
 *
 * Logging: one line per event on stderr, "2026-11-26T14:25:55.123Z LEVEL [part] text".
 * The level threshold comes from the environment (STATELINE_LOG=debug|info|warn|error,
 * default info), read once per call site group; there is no mutable global.
 */
#ifndef STATELINE_CORE_H
#define STATELINE_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

void *sl_xmalloc(size_t n);
void *sl_xcalloc(size_t count, size_t size);
void *sl_xrealloc(void *p, size_t n);
char *sl_xstrdup(const char *s);
char *sl_xstrndup(const char *s, size_t n);

enum sl_log_level { SL_LOG_DEBUG = 0, SL_LOG_INFO = 1, SL_LOG_WARN = 2, SL_LOG_ERROR = 3 };

/* part: short name of the module logging ("hub", "tls", ...). */
void sl_log(enum sl_log_level level, const char *part, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sl_vlog(enum sl_log_level level, const char *part, const char *fmt, va_list ap);
int sl_log_enabled(enum sl_log_level level);

#define SL_DEBUG(part, ...) sl_log(SL_LOG_DEBUG, part, __VA_ARGS__)
#define SL_INFO(part, ...) sl_log(SL_LOG_INFO, part, __VA_ARGS__)
#define SL_WARN(part, ...) sl_log(SL_LOG_WARN, part, __VA_ARGS__)
#define SL_ERROR(part, ...) sl_log(SL_LOG_ERROR, part, __VA_ARGS__)

/* Monotonic clock in milliseconds / microseconds / nanoseconds (CLOCK_MONOTONIC). */
int64_t sl_now_ms(void);
int64_t sl_now_us(void);
int64_t sl_now_ns(void);
/* Wall clock, microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t sl_wall_us(void);
/* *ts = CLOCK_MONOTONIC now + ms: the deadline of a pthread_cond_timedwait on a
 * condition variable whose clock was set to CLOCK_MONOTONIC. */
struct timespec;
void sl_deadline_after_ms(struct timespec *ts, int64_t ms);

/* Name the calling thread (at most 15 characters are kept), so that `top -H`, `ps -L`,
 * perf and gdb tell the loop from the durability, archive and checkpoint threads.  A
 * failure is ignored: a name is help, not function.  (Every thread keeps the process's
 * priority: docs/operations.md, "Threads", says why none is lowered.) */
void sl_thread_name(const char *name);

/* Copy at most dstsize-1 bytes and NUL-terminate; returns strlen(src) (BSD strlcpy). */
size_t sl_strlcpy(char *dst, const char *src, size_t dstsize);

/* Configuration values shared by the hub's and the gateway's INI files.
 * sl_conf_yesno: yes/true/on/1 -> 1, no/false/off/0 -> 0 (case-insensitive); 0, or -1
 * when the value is none of these.
 * sl_conf_path: a path relative to the configuration file's folder `dir` ("" = as given);
 * an absolute path, or one too long to resolve within cap, is copied as given (opening it
 * then says what is wrong). */
int sl_conf_yesno(const char *v, int *out);
void sl_conf_path(char *dst, size_t cap, const char *dir, const char *v);

/* Parse "host:port" (IPv4, [IPv6] or a name) into a connected/bound socket address. */
struct sockaddr_storage;
int sl_parse_hostport(const char *s, struct sockaddr_storage *out, unsigned *len_out);
/* Nonzero when the address is in 127.0.0.0/8 or ::1. */
int sl_addr_is_loopback(const struct sockaddr_storage *ss);

#endif
