/*
 * core.c - allocation that aborts on out-of-memory, one-line logging, clocks, and
 * host:port parsing.
 */
#include "stateline/core.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
    fprintf(stderr, "stateline: out of memory allocating %zu bytes\n", n);
    abort();
}

void *sl_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *sl_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *sl_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *sl_xstrdup(const char *s)
{
    return sl_xstrndup(s, strlen(s));
}

char *sl_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = sl_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* The threshold is read from the environment on each check; getenv is a few dozen ns
 * and logging below the threshold is never on a hot path at a rate where it matters. */
static enum sl_log_level threshold(void)
{
    const char *e = getenv("STATELINE_LOG");
    if (!e || !*e)
        return SL_LOG_INFO;
    if (strcasecmp(e, "debug") == 0)
        return SL_LOG_DEBUG;
    if (strcasecmp(e, "warn") == 0)
        return SL_LOG_WARN;
    if (strcasecmp(e, "error") == 0 || strcasecmp(e, "quiet") == 0)
        return SL_LOG_ERROR;
    return SL_LOG_INFO;
}

int sl_log_enabled(enum sl_log_level level)
{
    return level >= threshold();
}

void sl_vlog(enum sl_log_level level, const char *part, const char *fmt, va_list ap)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (!sl_log_enabled(level))
        return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, names[level], part);
    if (n < 0)
        return;
    if ((size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    /* One write per line so that lines from several processes do not interleave. */
    size_t len = strnlen(line, sizeof line - 2);
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void sl_log(enum sl_log_level level, const char *part, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_vlog(level, part, fmt, ap);
    va_end(ap);
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t sl_now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
int64_t sl_now_us(void) { return clock_ns(CLOCK_MONOTONIC) / 1000; }
int64_t sl_now_ms(void) { return clock_ns(CLOCK_MONOTONIC) / 1000000; }
int64_t sl_wall_us(void) { return clock_ns(CLOCK_REALTIME) / 1000; }

void sl_deadline_after_ms(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

void sl_thread_name(const char *name)
{
    char n[16];
    sl_strlcpy(n, name, sizeof n);
    (void)pthread_setname_np(pthread_self(), n);
}

size_t sl_strlcpy(char *dst, const char *src, size_t dstsize)
{
    size_t len = strlen(src);
    if (dstsize) {
        size_t n = len < dstsize - 1 ? len : dstsize - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

int sl_conf_yesno(const char *v, int *out)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") ||
        !strcmp(v, "1")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off") ||
        !strcmp(v, "0")) {
        *out = 0;
        return 0;
    }
    return -1;
}

void sl_conf_path(char *dst, size_t cap, const char *dir, const char *v)
{
    size_t dl = strlen(dir), vl = strlen(v);
    if (v[0] == '/' || !dl || dl + 1 + vl >= cap) {
        sl_strlcpy(dst, v, cap);
        return;
    }
    memcpy(dst, dir, dl);
    dst[dl] = '/';
    memcpy(dst + dl + 1, v, vl + 1);
}

int sl_parse_hostport(const char *s, struct sockaddr_storage *out, unsigned *len_out)
{
    char host[256];
    const char *port;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host)
            return -1;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host)
            return -1;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = colon + 1;
    }
    if (!*port)
        return -1;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0 || !res)
        return -1;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *len_out = (unsigned)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int sl_addr_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}
