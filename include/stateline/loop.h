/*
 * loop.h - the event loop: level-triggered epoll with timers, in the style of Redis' ae.
 *
 * One loop per process, run by one thread.  File events call back when a descriptor is
 * readable or writable (level-triggered, so a handler that leaves data unread is called
 * again).  Timers are one-shot or periodic, kept in a binary min-heap by deadline.  The
 * before_sleep hook runs once per iteration, before epoll_wait: this is where output is
 * flushed in batches and where the audit barrier will release replies.
 *
 * Ownership: the loop never owns the clientdata pointers it is given.  sl_loop_free does
 * not close descriptors.
 */
#ifndef STATELINE_LOOP_H
#define STATELINE_LOOP_H

#include <stdint.h>

struct sl_loop;

enum { SL_EV_NONE = 0, SL_EV_READ = 1, SL_EV_WRITE = 2 };

typedef void sl_file_proc(struct sl_loop *loop, int fd, void *clientdata, int mask);
/* Return SL_TIMER_NOMORE to stop a timer, or the number of ms until it fires again. */
typedef int64_t sl_timer_proc(struct sl_loop *loop, int64_t id, void *clientdata);
typedef void sl_before_sleep_proc(struct sl_loop *loop, void *clientdata);

#define SL_TIMER_NOMORE (-1)

/* setsize: largest fd + 1 the loop can watch (it grows on demand). NULL on failure. */
struct sl_loop *sl_loop_create(int setsize);
void sl_loop_free(struct sl_loop *loop);

/* Watch fd for mask (added to what is already watched). The same proc serves both
 * directions; it receives the ready mask (an error or hangup on the fd is reported as
 * every direction watched, so the handler's own read/write sees it).  proc and
 * clientdata replace those of an earlier call for the fd.  0 or -1 (errno set). */
int sl_loop_add(struct sl_loop *loop, int fd, int mask, sl_file_proc *proc, void *clientdata);
/* Stop watching fd for mask; when nothing remains the fd leaves the epoll set. */
void sl_loop_del(struct sl_loop *loop, int fd, int mask);
int sl_loop_get_mask(struct sl_loop *loop, int fd);

/* Run proc after ms (>= 0) milliseconds; never early.  Returns the timer id (> 0).
 * Timers due together fire in deadline order, ties in the order they were added.  A timer
 * whose proc returns 0 runs again on the next loop iteration (not in the same one). */
int64_t sl_loop_add_timer(struct sl_loop *loop, int64_t ms, sl_timer_proc *proc, void *clientdata);
/* 0, or -1 when no such timer. Safe to call from inside the timer's own proc. */
int sl_loop_del_timer(struct sl_loop *loop, int64_t id);

void sl_loop_set_before_sleep(struct sl_loop *loop, sl_before_sleep_proc *proc, void *clientdata);

/* Run until sl_loop_stop. Returns 0, or -1 if epoll_wait itself fails (logged). */
int sl_loop_run(struct sl_loop *loop);
void sl_loop_stop(struct sl_loop *loop);

/* Watch a set of signals through a signalfd (the signals are blocked for the calling
 * thread: call this before creating other threads, which inherit the mask).  proc is
 * called on the loop with the signal number.  A second call adds signals and replaces
 * proc.  The loop owns the signalfd (closed by sl_loop_free). 0 or -1. */
typedef void sl_signal_proc(struct sl_loop *loop, int signo, void *clientdata);
int sl_loop_watch_signals(struct sl_loop *loop, const int *signals, int n, sl_signal_proc *proc,
                          void *clientdata);

#endif
