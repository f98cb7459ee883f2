/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libevent-backed loop (see loop.h). Cross-thread posts go through a mutex-protected FIFO
 * and one persistent user event that the posting thread activates; the loop thread drains
 * the whole FIFO each time it fires, so a burst of completions costs one wakeup.
 */
#include "loop.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "error.h"
#include "mem.h"

typedef struct td_post_s {
    struct td_post_s *next;
    td_loop_fn fn;
    void *arg;
} td_post_t;

typedef struct td_sig_s {
    struct td_sig_s *next;
    struct event *ev;
    td_loop_fn fn;
    void *arg;
} td_sig_t;

struct td_loop_s {
    struct event_base *base;
    struct event *wake;
    pthread_mutex_t mu;
    td_post_t *head, *tail;
    td_sig_t *sigs;
};

struct td_timer_s {
    struct event *ev;
    td_loop_fn fn;
    void *arg;
};

static pthread_once_t td_loop_once = PTHREAD_ONCE_INIT;

static void td_loop_threads_init(void)
{
    evthread_use_pthreads();
}

static void td_loop_on_wake(evutil_socket_t fd, short what, void *arg)
{
    td_loop_t *loop = arg;
    td_post_t *p;
    (void)fd;
    (void)what;

    pthread_mutex_lock(&loop->mu);
    p = loop->head;
    loop->head = loop->tail = NULL;
    pthread_mutex_unlock(&loop->mu);
    while (p != NULL) {
        td_post_t *next = p->next;
        p->fn(p->arg);
        td_free(p);
        p = next;
    }
}

td_loop_t *td_loop_new(void)
{
    td_loop_t *loop;

    pthread_once(&td_loop_once, td_loop_threads_init);
    loop = td_calloc(1, sizeof(*loop));
    loop->base = event_base_new();
    if (loop->base == NULL) {
        td_free(loop);
        return NULL;
    }
    pthread_mutex_init(&loop->mu, NULL);
    loop->wake = event_new(loop->base, -1, EV_PERSIST, td_loop_on_wake, loop);
    event_add(loop->wake, NULL);
    return loop;
}

void td_loop_free(td_loop_t *loop)
{
    td_sig_t *s;
    if (loop == NULL) {
        return;
    }
    td_loop_on_wake(-1, 0, loop);
    while ((s = loop->sigs) != NULL) {
        loop->sigs = s->next;
        event_free(s->ev);
        td_free(s);
    }
    event_free(loop->wake);
    event_base_free(loop->base);
    pthread_mutex_destroy(&loop->mu);
    td_free(loop);
}

int td_loop_run(td_loop_t *loop)
{
    return event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY) < 0 ? TD_EINTERNAL : TD_OK;
}

void td_loop_stop(td_loop_t *loop)
{
    event_base_loopbreak(loop->base);
}

void td_loop_post(td_loop_t *loop, td_loop_fn fn, void *arg)
{
    td_post_t *p = td_malloc(sizeof(*p));
    int was_empty;

    p->next = NULL;
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_lock(&loop->mu);
    was_empty = loop->head == NULL;
    if (loop->tail != NULL) {
        loop->tail->next = p;
    } else {
        loop->head = p;
    }
    loop->tail = p;
    pthread_mutex_unlock(&loop->mu);
    if (was_empty) {
        event_active(loop->wake, EV_READ, 0);
    }
}

static void td_loop_on_signal_ev(evutil_socket_t fd, short what, void *arg)
{
    td_sig_t *s = arg;
    (void)fd;
    (void)what;
    s->fn(s->arg);
}

int td_loop_on_signal(td_loop_t *loop, int signo, td_loop_fn fn, void *arg)
{
    td_sig_t *s = td_calloc(1, sizeof(*s));
    s->fn = fn;
    s->arg = arg;
    s->ev = evsignal_new(loop->base, signo, td_loop_on_signal_ev, s);
    if (s->ev == NULL || event_add(s->ev, NULL) != 0) {
        if (s->ev != NULL) {
            event_free(s->ev);
        }
        td_free(s);
        return TD_EINTERNAL;
    }
    s->next = loop->sigs;
    loop->sigs = s;
    return TD_OK;
}

struct event_base *td_loop_base(td_loop_t *loop)
{
    return loop->base;
}

static void td_timer_on_fire(evutil_socket_t fd, short what, void *arg)
{
    td_timer_t *t = arg;
    (void)fd;
    (void)what;
    t->fn(t->arg);
}

td_timer_t *td_timer_new(td_loop_t *loop, td_loop_fn fn, void *arg)
{
    td_timer_t *t = td_calloc(1, sizeof(*t));
    t->fn = fn;
    t->arg = arg;
    t->ev = evtimer_new(loop->base, td_timer_on_fire, t);
    return t;
}

void td_timer_start(td_timer_t *t, int64_t after_ms)
{
    struct timeval tv;
    if (after_ms < 0) {
        after_ms = 0;
    }
    tv.tv_sec = (time_t)(after_ms / 1000);
    tv.tv_usec = (suseconds_t)((after_ms % 1000) * 1000);
    evtimer_add(t->ev, &tv);
}

void td_timer_stop(td_timer_t *t)
{
    evtimer_del(t->ev);
}

int td_timer_pending(const td_timer_t *t)
{
    return evtimer_pending(t->ev, NULL) != 0;
}

void td_timer_free(td_timer_t *t)
{
    if (t == NULL) {
        return;
    }
    event_free(t->ev);
    td_free(t);
}

int64_t td_now_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t td_now_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
