/*
 * loop.c - the event loop (see loop.h): level-triggered epoll, a binary min-heap of
 * timers, a before_sleep hook and signals through a signalfd, after Redis' ae.c.
 *
 * File events.  events[fd] holds the watched mask, the proc and its clientdata; the table
 * grows (doubling) when a larger fd is added, so the setsize given to sl_loop_create is
 * only a first guess.  Level-triggered: a handler that leaves bytes unread is simply
 * called again on the next iteration, which keeps the TLS code honest (see conn.c for how
 * nothing is left inside the SSL object where epoll cannot see it).  EPOLLERR/EPOLLHUP
 * are reported as whatever directions the fd is watched for, so the handler's own read
 * or write sees the error.  Before each callback the watched mask is read again, so a
 * handler that unregisters another fd in the same batch is safe (as in ae).
 *
 * Timers.  Each timer lives in a slot of `timers` (slots are recycled through a free
 * list) and a binary min-heap `heap` orders slot numbers by deadline (ties by sequence
 * number, so timers due at the same ms fire in the order they were armed).  A timer id
 * is (generation << 32) | (slot + 1): deleting a stale id whose slot has been reused
 * finds a different generation and fails cleanly.  During one pass only timers armed
 * before the pass began fire, so a periodic timer returning 0 fires once per iteration
 * instead of spinning forever, and a timer may delete itself or any other timer from
 * inside its proc.
 *
 * epoll_wait sleeps until the nearest deadline (rounded up to the next whole ms, so a
 * timer never fires early), or forever when there are no timers.
 */
#include "stateline/loop.h"
#include "stateline/core.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct file_event {
    int mask;
    sl_file_proc *proc;
    void *clientdata;
};

struct timer {
    int64_t id;        /* 0 while the slot is free */
    int64_t when_ns;   /* deadline, monotonic */
    uint64_t seq;      /* arming order, to break ties */
    uint64_t pass;     /* timer pass in which it was (re)armed */
    size_t heap_idx;   /* position in heap */
    sl_timer_proc *proc;
    void *clientdata;
    int deleted;       /* deleted from inside its own proc */
    uint32_t gen;      /* generation of the slot */
    uint32_t next_free;
};

struct sl_loop {
    int epfd;
    int stop;
    int setsize;
    struct file_event *events;      /* setsize entries */
    struct epoll_event *fired;      /* nfired_cap entries */
    int nfired_cap;

    struct timer *timers; /* slots */
    uint32_t ntimers_cap;
    uint32_t free_head;   /* slot + 1 of the first free slot, 0 = none */
    uint32_t *heap;       /* slot numbers */
    size_t heap_len;
    uint64_t timer_seq;
    uint64_t timer_pass;
    uint32_t running;     /* slot + 1 of the timer whose proc is running, 0 = none */

    sl_before_sleep_proc *before_sleep;
    void *before_sleep_data;

    int sigfd;
    sigset_t sigset;
    sl_signal_proc *sigproc;
    void *sigdata;
};

struct sl_loop *sl_loop_create(int setsize)
{
    if (setsize < 16)
        setsize = 16;
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        SL_ERROR("loop", "epoll_create1: %s", strerror(errno));
        return NULL;
    }
    struct sl_loop *l = sl_xcalloc(1, sizeof *l);
    l->epfd = epfd;
    l->setsize = setsize;
    l->events = sl_xcalloc((size_t)setsize, sizeof *l->events);
    l->nfired_cap = setsize < 1024 ? setsize : 1024;
    l->fired = sl_xcalloc((size_t)l->nfired_cap, sizeof *l->fired);
    l->sigfd = -1;
    sigemptyset(&l->sigset);
    return l;
}

void sl_loop_free(struct sl_loop *l)
{
    if (!l)
        return;
    if (l->sigfd >= 0)
        close(l->sigfd);
    close(l->epfd);
    free(l->events);
    free(l->fired);
    free(l->timers);
    free(l->heap);
    free(l);
}

/* ---- file events ------------------------------------------------------------------ */

static int grow_events(struct sl_loop *l, int fd)
{
    int size = l->setsize;
    while (size <= fd)
        size *= 2;
    l->events = sl_xrealloc(l->events, (size_t)size * sizeof *l->events);
    memset(l->events + l->setsize, 0, (size_t)(size - l->setsize) * sizeof *l->events);
    l->setsize = size;
    return 0;
}

static uint32_t epoll_bits(int mask)
{
    uint32_t ev = 0;
    if (mask & SL_EV_READ)
        ev |= EPOLLIN;
    if (mask & SL_EV_WRITE)
        ev |= EPOLLOUT;
    return ev;
}

int sl_loop_add(struct sl_loop *l, int fd, int mask, sl_file_proc *proc, void *clientdata)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (fd >= l->setsize)
        grow_events(l, fd);
    struct file_event *fe = &l->events[fd];
    int newmask = fe->mask | mask;
    struct epoll_event ee;
    memset(&ee, 0, sizeof ee);
    ee.events = epoll_bits(newmask);
    ee.data.fd = fd;
    int op = fe->mask == SL_EV_NONE ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(l->epfd, op, fd, &ee) < 0) {
        int e = errno;
        SL_ERROR("loop", "epoll_ctl(fd %d): %s", fd, strerror(e));
        errno = e;
        return -1;
    }
    fe->mask = newmask;
    fe->proc = proc;
    fe->clientdata = clientdata;
    return 0;
}

void sl_loop_del(struct sl_loop *l, int fd, int mask)
{
    if (fd < 0 || fd >= l->setsize)
        return;
    struct file_event *fe = &l->events[fd];
    if (fe->mask == SL_EV_NONE)
        return;
    int newmask = fe->mask & ~mask;
    struct epoll_event ee;
    memset(&ee, 0, sizeof ee);
    ee.events = epoll_bits(newmask);
    ee.data.fd = fd;
    /* The fd may already be closed (the kernel then dropped it from the set): ignore
     * errors, the table entry is what matters. */
    if (newmask == SL_EV_NONE)
        (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, &ee);
    else
        (void)epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ee);
    fe->mask = newmask;
    if (newmask == SL_EV_NONE) {
        fe->proc = NULL;
        fe->clientdata = NULL;
    }
}

int sl_loop_get_mask(struct sl_loop *l, int fd)
{
    if (fd < 0 || fd >= l->setsize)
        return SL_EV_NONE;
    return l->events[fd].mask;
}

/* ---- timers ---------------------------------------------------------------------- */

static int timer_less(const struct sl_loop *l, uint32_t a, uint32_t b)
{
    const struct timer *ta = &l->timers[a], *tb = &l->timers[b];
    if (ta->when_ns != tb->when_ns)
        return ta->when_ns < tb->when_ns;
    return ta->seq < tb->seq;
}

static void heap_set(struct sl_loop *l, size_t i, uint32_t slot)
{
    l->heap[i] = slot;
    l->timers[slot].heap_idx = i;
}

static void sift_up(struct sl_loop *l, size_t i)
{
    uint32_t slot = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_less(l, slot, l->heap[parent]))
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, slot);
}

static void sift_down(struct sl_loop *l, size_t i)
{
    uint32_t slot = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->heap_len)
            break;
        if (c + 1 < l->heap_len && timer_less(l, l->heap[c + 1], l->heap[c]))
            c++;
        if (!timer_less(l, l->heap[c], slot))
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, slot);
}

static void heap_remove(struct sl_loop *l, size_t i)
{
    size_t last = --l->heap_len;
    if (i == last)
        return;
    heap_set(l, i, l->heap[last]);
    if (i > 0 && timer_less(l, l->heap[i], l->heap[(i - 1) / 2]))
        sift_up(l, i);
    else
        sift_down(l, i);
}

static void slot_release(struct sl_loop *l, uint32_t slot)
{
    struct timer *t = &l->timers[slot];
    t->id = 0;
    t->proc = NULL;
    t->clientdata = NULL;
    t->next_free = l->free_head;
    l->free_head = slot + 1;
}

static int64_t ms_to_deadline(int64_t ms)
{
    if (ms < 0)
        ms = 0;
    if (ms > INT64_C(1000000000000)) /* ~31 years: keeps ms * 1e6 from overflowing */
        ms = INT64_C(1000000000000);
    return sl_now_ns() + ms * 1000000;
}

int64_t sl_loop_add_timer(struct sl_loop *l, int64_t ms, sl_timer_proc *proc, void *clientdata)
{
    if (!l->free_head) {
        uint32_t old = l->ntimers_cap;
        uint32_t cap = old ? old * 2 : 16;
        l->timers = sl_xrealloc(l->timers, (size_t)cap * sizeof *l->timers);
        l->heap = sl_xrealloc(l->heap, (size_t)cap * sizeof *l->heap);
        memset(l->timers + old, 0, (size_t)(cap - old) * sizeof *l->timers);
        /* Chain the new slots, lowest first. */
        for (uint32_t i = cap; i > old; i--) {
            l->timers[i - 1].next_free = l->free_head;
            l->free_head = i;
        }
        l->ntimers_cap = cap;
    }
    uint32_t slot = l->free_head - 1;
    struct timer *t = &l->timers[slot];
    l->free_head = t->next_free;
    t->gen++;
    if (t->gen == 0 || t->gen > 0x7fffffffu)
        t->gen = 1;
    t->id = ((int64_t)t->gen << 32) | (int64_t)(slot + 1);
    t->when_ns = ms_to_deadline(ms);
    t->seq = ++l->timer_seq;
    t->pass = l->timer_pass;
    t->proc = proc;
    t->clientdata = clientdata;
    t->deleted = 0;
    l->heap[l->heap_len++] = slot;
    sift_up(l, l->heap_len - 1);
    return t->id;
}

static struct timer *timer_by_id(struct sl_loop *l, int64_t id, uint32_t *slot_out)
{
    if (id <= 0)
        return NULL;
    uint64_t low = (uint64_t)id & 0xffffffffu;
    if (low == 0 || low > l->ntimers_cap)
        return NULL;
    uint32_t slot = (uint32_t)(low - 1);
    struct timer *t = &l->timers[slot];
    if (t->id != id || t->deleted)
        return NULL;
    *slot_out = slot;
    return t;
}

int sl_loop_del_timer(struct sl_loop *l, int64_t id)
{
    uint32_t slot;
    struct timer *t = timer_by_id(l, id, &slot);
    if (!t)
        return -1;
    if (l->running == slot + 1) {
        /* Its proc is on the stack: process_timers removes it when the proc returns. */
        t->deleted = 1;
        return 0;
    }
    heap_remove(l, t->heap_idx);
    slot_release(l, slot);
    return 0;
}

static void process_timers(struct sl_loop *l)
{
    uint64_t pass = ++l->timer_pass;
    while (l->heap_len > 0) {
        uint32_t slot = l->heap[0];
        struct timer *t = &l->timers[slot];
        int64_t now = sl_now_ns();
        if (t->when_ns > now || t->pass == pass)
            break;
        l->running = slot + 1;
        int64_t again = t->proc(l, t->id, t->clientdata);
        l->running = 0;
        /* The proc may have added timers: the arrays may have moved. */
        t = &l->timers[slot];
        if (t->deleted || again < 0) {
            heap_remove(l, t->heap_idx);
            slot_release(l, slot);
        } else {
            t->when_ns = ms_to_deadline(again);
            t->seq = ++l->timer_seq;
            t->pass = pass;
            size_t i = t->heap_idx;
            if (i > 0 && timer_less(l, slot, l->heap[(i - 1) / 2]))
                sift_up(l, i);
            else
                sift_down(l, i);
        }
        if (l->stop)
            break;
    }
}

/* Milliseconds epoll_wait may sleep: -1 = no timer. */
static int wait_timeout(const struct sl_loop *l)
{
    if (l->heap_len == 0)
        return -1;
    const struct timer *t = &l->timers[l->heap[0]];
    int64_t delta = t->when_ns - sl_now_ns();
    if (delta <= 0)
        return 0;
    int64_t ms = (delta + 999999) / 1000000; /* round up: never fire early */
    return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* ---- running ------------------------------------------------------------------- */

void sl_loop_set_before_sleep(struct sl_loop *l, sl_before_sleep_proc *proc, void *clientdata)
{
    l->before_sleep = proc;
    l->before_sleep_data = clientdata;
}

static void process_files(struct sl_loop *l, int n)
{
    for (int i = 0; i < n; i++) {
        int fd = l->fired[i].data.fd;
        uint32_t ev = l->fired[i].events;
        if (fd < 0 || fd >= l->setsize)
            continue;
        struct file_event *fe = &l->events[fd];
        int ready = 0;
        if (ev & EPOLLIN)
            ready |= SL_EV_READ;
        if (ev & EPOLLOUT)
            ready |= SL_EV_WRITE;
        if (ev & (EPOLLERR | EPOLLHUP))
            ready |= SL_EV_READ | SL_EV_WRITE;
        ready &= fe->mask; /* an earlier handler in this batch may have changed it */
        if (ready && fe->proc)
            fe->proc(l, fd, fe->clientdata, ready);
        if (l->stop)
            return;
    }
}

int sl_loop_run(struct sl_loop *l)
{
    l->stop = 0;
    while (!l->stop) {
        if (l->before_sleep) {
            l->before_sleep(l, l->before_sleep_data);
            if (l->stop)
                break;
        }
        int timeout = wait_timeout(l);
        int n = epoll_wait(l->epfd, l->fired, l->nfired_cap, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            SL_ERROR("loop", "epoll_wait: %s", strerror(errno));
            return -1;
        }
        process_files(l, n);
        if (l->stop)
            break;
        process_timers(l);
        /* A full batch suggests more fds are ready than we could take at once. */
        if (n == l->nfired_cap && l->nfired_cap < l->setsize && l->nfired_cap < 65536) {
            l->nfired_cap *= 2;
            l->fired = sl_xrealloc(l->fired, (size_t)l->nfired_cap * sizeof *l->fired);
        }
    }
    return 0;
}

void sl_loop_stop(struct sl_loop *l)
{
    l->stop = 1;
}

/* ---- signals -------------------------------------------------------------------- */

static void on_signalfd(struct sl_loop *l, int fd, void *clientdata, int mask)
{
    (void)clientdata;
    (void)mask;
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(fd, &si, sizeof si);
        if (n != (ssize_t)sizeof si) {
            if (n < 0 && errno == EINTR)
                continue;
            return; /* EAGAIN: drained */
        }
        if (l->sigproc)
            l->sigproc(l, (int)si.ssi_signo, l->sigdata);
        if (l->stop)
            return;
    }
}

int sl_loop_watch_signals(struct sl_loop *l, const int *signals, int n, sl_signal_proc *proc,
                          void *clientdata)
{
    sigset_t set = l->sigset;
    for (int i = 0; i < n; i++)
        if (sigaddset(&set, signals[i]) < 0) {
            SL_ERROR("loop", "signal %d: %s", signals[i], strerror(errno));
            return -1;
        }
    /* Block first: a signal arriving between here and signalfd() then waits in the
     * pending set and is read from the fd, instead of running the default action. */
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0) {
        SL_ERROR("loop", "pthread_sigmask: %s", strerror(rc));
        return -1;
    }
    int fd = signalfd(l->sigfd, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        SL_ERROR("loop", "signalfd: %s", strerror(errno));
        return -1;
    }
    if (l->sigfd < 0 && sl_loop_add(l, fd, SL_EV_READ, on_signalfd, NULL) < 0) {
        close(fd);
        return -1;
    }
    l->sigfd = fd;
    l->sigset = set;
    l->sigproc = proc;
    l->sigdata = clientdata;
    return 0;
}
