/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event loop: one thread owns all network I/O and all role state. Other threads (the
 * store's) hand work back with td_loop_post(), the only thread-safe call here. Roles use the
 * timers below and never include libevent themselves.
 */
#ifndef TD_LOOP_H
#define TD_LOOP_H

#include <stdint.h>

struct event_base;
typedef struct td_loop_s td_loop_t;
typedef struct td_timer_s td_timer_t;
typedef void (*td_loop_fn)(void *arg);

/* Creates the loop (enables libevent's pthread support on first use). NULL on failure. */
td_loop_t *td_loop_new(void);
void td_loop_free(td_loop_t *loop);
/* Runs until td_loop_stop(); returns TD_OK or TD_EINTERNAL. */
int td_loop_run(td_loop_t *loop);
/* Asks td_loop_run() to return after the current callbacks. Loop thread only. */
void td_loop_stop(td_loop_t *loop);
/* Runs fn(arg) on the loop thread soon, in posting order. Callable from any thread. */
void td_loop_post(td_loop_t *loop, td_loop_fn fn, void *arg);
/* Calls fn(arg) on the loop thread whenever signal signo arrives. */
int td_loop_on_signal(td_loop_t *loop, int signo, td_loop_fn fn, void *arg);
struct event_base *td_loop_base(td_loop_t *loop);

/* One-shot timers, re-armable. Callbacks run on the loop thread. */
td_timer_t *td_timer_new(td_loop_t *loop, td_loop_fn fn, void *arg);
void td_timer_start(td_timer_t *t, int64_t after_ms);
void td_timer_stop(td_timer_t *t);
int td_timer_pending(const td_timer_t *t);
void td_timer_free(td_timer_t *t);

/* Monotonic milliseconds, for deadlines. */
int64_t td_now_mono_ms(void);
/* Wall-clock nanoseconds since the Unix epoch, for event times. */
int64_t td_now_wall_ns(void);

#endif
