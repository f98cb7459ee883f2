/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The matching engine (src/roles/matching/engine.c) on a real loop with short timers, over
 * the in-memory backlog and a fake history whose record_started answers are scripted per
 * task: sync match, backlog order and reload, cancellation, long-poll expiry, stale and
 * failing record_started, insert failures, sticky queues, queries, many pollers.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "loop.h"
#include "mem.h"
#include "config.h"
#include "roles/matching/engine.h"

#define FX_MAX_TASKS 2048

/* The response the fake history builds: enough to identify the task. */
typedef struct {
    char workflow_id[64];
    char query_id[64];
    int64_t task_id;
} fx_resp_t;

typedef struct fx_s fx_t;

/* A record_started call the fake history holds until released. */
typedef struct fx_pending_s {
    struct fx_pending_s *next;
    fx_t *f;
    int err;
    fx_resp_t *resp;
    td_match_started_cb cb;
    void *arg;
    td_timer_t *timer; /* delayed completion */
} fx_pending_t;

struct fx_s {
    td_loop_t *loop;
    td_timer_t *tick;
    td_match_membacklog_t *mb;
    td_matching_engine_t *e;
    td_matching_config_t cfg;
    td_matching_ops_t ops;
    td_match_key_t key;
    /* fake history */
    int (*decide)(fx_t *f, const td_match_task_t *t, int attempt);
    int hold;     /* keep completions until fx_release() */
    int delay_ms; /* complete after 0..delay_ms - 1 ms (0: next loop pass) */
    fx_pending_t *held;
    int record_calls;
    int freed_responses;
    int attempts[FX_MAX_TASKS];   /* record_started calls per workflow index */
    int started_ok[FX_MAX_TASKS]; /* successful record_started per workflow index */
    char last_identity[64];
    /* loop control */
    int (*cond)(fx_t *f);
    int64_t until_ms;
    int closed;
    int counter;
};

/* ---- fake history ---- */

static int fx_wf_index(const td_match_task_t *t)
{
    if (t->workflow_id == NULL || strncmp(t->workflow_id, "wf-", 3) != 0) {
        return -1;
    }
    return atoi(t->workflow_id + 3);
}

static void fx_deliver(void *arg)
{
    fx_pending_t *p = arg;
    td_timer_free(p->timer);
    p->cb(p->arg, p->err, p->err == TD_OK ? p->resp : NULL);
    if (p->err != TD_OK) {
        td_free(p->resp);
    }
    td_free(p);
}

static void fx_record_started(void *ctx, const td_match_key_t *key, const td_match_task_t *task,
                              const td_match_poller_t *poller, td_match_started_cb cb, void *arg)
{
    fx_t *f = ctx;
    fx_pending_t *p = td_calloc(1, sizeof(*p));
    int idx = fx_wf_index(task);
    int attempt = 0;

    TD_CHECK(poller->request_id != NULL && poller->request_id[0] != '\0');
    snprintf(f->last_identity, sizeof(f->last_identity), "%s", poller->identity);
    f->record_calls++;
    if (idx >= 0 && idx < FX_MAX_TASKS) {
        attempt = f->attempts[idx]++;
    }
    p->f = f;
    p->err = f->decide != NULL ? f->decide(f, task, attempt) : TD_OK;
    p->resp = td_calloc(1, sizeof(*p->resp));
    snprintf(p->resp->workflow_id, sizeof(p->resp->workflow_id), "%s",
             task->workflow_id ? task->workflow_id : "");
    snprintf(p->resp->query_id, sizeof(p->resp->query_id), "%s",
             task->query_id ? task->query_id : "");
    p->resp->task_id = task->task_id;
    if (p->err == TD_OK && idx >= 0 && idx < FX_MAX_TASKS) {
        f->started_ok[idx]++;
    }
    p->cb = cb;
    p->arg = arg;
    if (f->hold) {
        p->next = f->held;
        f->held = p;
    } else if (f->delay_ms > 0) {
        p->timer = td_timer_new(f->loop, fx_deliver, p);
        td_timer_start(p->timer, rand() % f->delay_ms);
    } else {
        td_loop_post(f->loop, fx_deliver, p);
    }
}

static void fx_response_free(void *ctx, void *response)
{
    fx_t *f = ctx;
    f->freed_responses++;
    td_free(response);
}

static const td_match_history_ops_t fx_history_ops = {
    .record_started = fx_record_started,
    .response_free = fx_response_free,
};

static void fx_release(fx_t *f)
{
    while (f->held != NULL) {
        fx_pending_t *p = f->held;
        f->held = p->next;
        fx_deliver(p);
    }
}

/* ---- fixture ---- */

static void fx_on_tick(void *arg)
{
    fx_t *f = arg;
    if ((f->cond != NULL && f->cond(f)) || td_now_mono_ms() >= f->until_ms) {
        td_loop_stop(f->loop);
        return;
    }
    td_timer_start(f->tick, 1);
}

/* Runs the loop until cond(f) holds or max_ms passed; returns whether cond held. */
static int fx_run(fx_t *f, int (*cond)(fx_t *), int64_t max_ms)
{
    f->cond = cond;
    f->until_ms = td_now_mono_ms() + max_ms;
    td_timer_start(f->tick, 0);
    td_loop_run(f->loop);
    f->cond = NULL;
    return cond != NULL ? cond(f) : 1;
}

static void fx_init(fx_t *f, const td_matching_config_t *cfg)
{
    memset(f, 0, sizeof(*f));
    f->loop = td_loop_new();
    TD_CHECK(f->loop != NULL);
    f->tick = td_timer_new(f->loop, fx_on_tick, f);
    f->mb = td_match_membacklog_new(f->loop);
    if (cfg != NULL) {
        f->cfg = *cfg;
    } else {
        td_matching_config_init(&f->cfg);
        f->cfg.gc_interval_ms = 10;
        f->cfg.retry_initial_ms = 5;
        f->cfg.retry_max_ms = 50;
    }
    f->ops.backlog = &td_match_membacklog_ops;
    f->ops.backlog_ctx = f->mb;
    f->ops.history = &fx_history_ops;
    f->ops.history_ctx = f;
    f->e = td_matching_engine_new(f->loop, &f->cfg, &f->ops);
    f->key.namespace_id = "ns-1";
    f->key.name = "tq";
    f->key.type = TD_MATCH_WORKFLOW;
    f->key.kind = TD_MATCH_NORMAL;
}

static void fx_on_closed(void *arg)
{
    ((fx_t *)arg)->closed = 1;
}

static int fx_is_closed(fx_t *f)
{
    return f->closed;
}

static void fx_close_engine(fx_t *f)
{
    f->closed = 0;
    td_matching_engine_close(f->e, fx_on_closed, f);
    TD_CHECK(fx_run(f, fx_is_closed, 2000));
    f->e = NULL;
}

static void fx_destroy(fx_t *f)
{
    if (f->e != NULL) {
        fx_close_engine(f);
    }
    td_match_membacklog_free(f->mb);
    td_timer_free(f->tick);
    td_loop_free(f->loop);
}

/* ---- adds and polls ---- */

typedef struct {
    int done;
    int err;
} fx_add_t;

static void fx_on_add(void *arg, int err)
{
    fx_add_t *a = arg;
    a->done++;
    a->err = err;
}

static int fx_add(fx_t *f, const td_match_key_t *key, int wf, int64_t expiry_ns, fx_add_t *a)
{
    char wid[32];
    td_match_task_t t;
    memset(&t, 0, sizeof(t));
    snprintf(wid, sizeof(wid), "wf-%d", wf);
    t.workflow_id = wid;
    t.run_id = "run";
    t.scheduled_event_id = 2;
    t.expiry_time_ns = expiry_ns;
    t.data = (const uint8_t *)"xyz";
    t.data_len = 3;
    return td_matching_add_task(f->e, key, &t, fx_on_add, a);
}

typedef struct {
    fx_t *f;
    int done;
    int err;
    fx_resp_t *resp;
    int64_t started_ms, done_ms;
    td_matching_poll_t *h;
} fx_poll_t;

static void fx_on_poll(void *arg, int err, void *response)
{
    fx_poll_t *p = arg;
    p->done++;
    p->err = err;
    p->resp = response;
    p->done_ms = td_now_mono_ms();
    p->h = NULL;
}

static int fx_poll(fx_t *f, const td_match_key_t *key, const char *identity, int64_t deadline_ms,
                   fx_poll_t *p)
{
    td_match_poll_req_t req;
    int rc;
    memset(&req, 0, sizeof(req));
    memset(p, 0, sizeof(*p));
    req.identity = identity;
    req.deadline_ms = deadline_ms;
    req.rate_per_second = 0;
    p->f = f;
    p->started_ms = td_now_mono_ms();
    rc = td_matching_poll(f->e, key, &req, fx_on_poll, p, &p->h);
    return rc;
}

static void fx_poll_clear(fx_poll_t *p)
{
    td_free(p->resp);
    p->resp = NULL;
}

static fx_add_t *g_adds;
static int g_nadds;
static fx_poll_t *g_polls;
static int g_npolls;

static int fx_all_added(fx_t *f)
{
    (void)f;
    for (int i = 0; i < g_nadds; i++) {
        if (!g_adds[i].done) {
            return 0;
        }
    }
    return 1;
}

static int fx_all_polled(fx_t *f)
{
    (void)f;
    for (int i = 0; i < g_npolls; i++) {
        if (!g_polls[i].done) {
            return 0;
        }
    }
    return fx_all_added(f);
}

static int fx_leased(fx_t *f)
{
    td_match_stats_t st;
    td_matching_stats(f->e, &f->key, &st);
    return st.leased;
}

/* ---- tests ---- */

TD_TEST(matching_sync_match)
{
    fx_t f;
    fx_poll_t p;
    fx_add_t a = { 0, 0 };
    td_match_stats_t st;

    fx_init(&f, NULL);
    TD_CHECK_INT(fx_poll(&f, &f.key, "worker-1", 0, &p), ==, TD_OK);
    TD_CHECK(fx_run(&f, fx_leased, 1000));
    TD_CHECK_INT(p.done, ==, 0);
    TD_CHECK_INT(fx_add(&f, &f.key, 7, 0, &a), ==, TD_OK);
    TD_CHECK_INT(a.done, ==, 0); /* never before returning */
    g_adds = &a;
    g_nadds = 1;
    g_polls = &p;
    g_npolls = 1;
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK_INT(a.err, ==, TD_OK);
    TD_CHECK_INT(p.err, ==, TD_OK);
    TD_CHECK(p.resp != NULL);
    TD_CHECK_STR(p.resp->workflow_id, "wf-7");
    TD_CHECK_INT(p.resp->task_id, ==, 0); /* never persisted */
    TD_CHECK_STR(f.last_identity, "worker-1");
    TD_CHECK_INT(td_match_membacklog_calls(f.mb, "insert"), ==, 0);
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK_INT(st.sync_matched, ==, 1);
    TD_CHECK_INT(st.persisted, ==, 0);
    TD_CHECK_INT(st.waiting_polls, ==, 0);
    fx_poll_clear(&p);
    fx_destroy(&f);
}

static int fx_backlog_empty(fx_t *f)
{
    return td_match_membacklog_count(f->mb, &f->key) == 0;
}

TD_TEST(matching_backlog_in_order)
{
    fx_t f;
    fx_add_t a[5];
    fx_poll_t p;
    td_match_stats_t st;

    fx_init(&f, NULL);
    memset(a, 0, sizeof(a));
    for (int i = 0; i < 5; i++) {
        TD_CHECK_INT(fx_add(&f, &f.key, i, 0, &a[i]), ==, TD_OK);
    }
    g_adds = a;
    g_nadds = 5;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    for (int i = 0; i < 5; i++) {
        TD_CHECK_INT(a[i].err, ==, TD_OK);
    }
    TD_CHECK_INT(td_match_membacklog_count(f.mb, &f.key), ==, 5);
    TD_CHECK_INT(f.record_calls, ==, 0);
    for (int i = 0; i < 5; i++) {
        char want[16];
        TD_CHECK_INT(fx_poll(&f, &f.key, "w", 0, &p), ==, TD_OK);
        g_polls = &p;
        g_npolls = 1;
        TD_CHECK(fx_run(&f, fx_all_polled, 2000));
        snprintf(want, sizeof(want), "wf-%d", i);
        TD_CHECK(p.resp != NULL);
        TD_CHECK_STR(p.resp->workflow_id, want);
        TD_CHECK_INT(p.resp->task_id, ==, i + 1); /* range 1: ids 1.. */
        fx_poll_clear(&p);
    }
    /* the ack level reaches the last id and the backlog is deleted below it */
    TD_CHECK(fx_run(&f, fx_backlog_empty, 2000));
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK_INT(st.ack_level, ==, 5);
    TD_CHECK_INT(td_match_membacklog_ack_level(f.mb, &f.key), ==, 5);
    TD_CHECK_INT(st.persisted, ==, 5);
    TD_CHECK_INT(st.tasks_dispatched, ==, 5);
    fx_destroy(&f);
}

TD_TEST(matching_backlog_reload_in_batches)
{
    fx_t f;
    fx_add_t a[12];
    fx_poll_t p;
    td_match_stats_t st;
    td_matching_config_t cfg;

    td_matching_config_init(&cfg);
    cfg.read_batch = 3;
    cfg.buffer_max = 4;
    cfg.write_batch = 5;
    cfg.gc_interval_ms = 10;
    cfg.range_size = 10; /* 12 tasks need a second lease */
    fx_init(&f, &cfg);
    memset(a, 0, sizeof(a));
    for (int i = 0; i < 12; i++) {
        TD_CHECK_INT(fx_add(&f, &f.key, i, 0, &a[i]), ==, TD_OK);
    }
    g_adds = a;
    g_nadds = 12;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    TD_CHECK_INT(td_match_membacklog_count(f.mb, &f.key), ==, 12);
    TD_CHECK_INT(td_match_membacklog_range_id(f.mb, &f.key), ==, 2);
    /* a new owner (restart): the backlog is read back from the store above the ack level */
    fx_close_engine(&f);
    f.e = td_matching_engine_new(f.loop, &cfg, &f.ops);
    for (int i = 0; i < 12; i++) {
        char want[16];
        TD_CHECK_INT(fx_poll(&f, &f.key, "w", 0, &p), ==, TD_OK);
        g_polls = &p;
        g_npolls = 1;
        g_nadds = 0;
        TD_CHECK(fx_run(&f, fx_all_polled, 2000));
        snprintf(want, sizeof(want), "wf-%d", i);
        TD_CHECK(p.resp != NULL);
        TD_CHECK_STR(p.resp->workflow_id, want);
        fx_poll_clear(&p);
    }
    TD_CHECK_INT(td_match_membacklog_calls(f.mb, "read"), >=, 4);
    TD_CHECK(fx_run(&f, fx_backlog_empty, 2000));
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK_INT(st.range_id, ==, 3);
    TD_CHECK_INT(st.ack_level, ==, td_match_membacklog_ack_level(f.mb, &f.key));
    TD_CHECK_INT(st.ack_level, >=, 12);
    fx_destroy(&f);
}

static int fx_one_record(fx_t *f)
{
    return f->record_calls >= 1;
}

TD_TEST(matching_cancel_releases_waiter)
{
    fx_t f;
    fx_poll_t pa, pb;
    fx_add_t a = { 0, 0 };
    td_match_stats_t st;

    fx_init(&f, NULL);
    TD_CHECK_INT(fx_poll(&f, &f.key, "a", 0, &pa), ==, TD_OK);
    TD_CHECK(fx_run(&f, fx_leased, 1000));
    TD_CHECK_INT(fx_poll(&f, &f.key, "b", 0, &pb), ==, TD_OK);
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK_INT(st.waiting_polls, ==, 2);
    td_matching_poll_cancel(pa.h);
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK_INT(st.waiting_polls, ==, 1); /* released at once */
    TD_CHECK_INT(fx_add(&f, &f.key, 1, 0, &a), ==, TD_OK);
    g_adds = &a;
    g_nadds = 1;
    g_polls = &pb;
    g_npolls = 1;
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK_INT(pa.done, ==, 0);
    TD_CHECK(pb.resp != NULL);
    TD_CHECK_STR(pb.resp->workflow_id, "wf-1");
    TD_CHECK_STR(f.last_identity, "b");
    fx_poll_clear(&pb);
    fx_destroy(&f);
}

static int fx_fail_first(fx_t *f, const td_match_task_t *t, int attempt)
{
    (void)f;
    (void)t;
    return attempt == 0 ? TD_EUNAVAIL : TD_OK;
}

static int fx_one_freed(fx_t *f)
{
    return f->freed_responses == 1;
}

TD_TEST(matching_cancel_while_recording_keeps_task)
{
    fx_t f;
    fx_poll_t pa, pb;
    fx_add_t a = { 0, 0 };
    td_match_stats_t st;
    td_matching_config_t cfg;

    fx_init(&f, NULL);
    f.hold = 1;
    f.decide = fx_fail_first;
    TD_CHECK_INT(fx_add(&f, &f.key, 3, 0, &a), ==, TD_OK);
    g_adds = &a;
    g_nadds = 1;
    TD_CHECK(fx_run(&f, fx_all_added, 2000)); /* persisted: no poller */
    TD_CHECK_INT(fx_poll(&f, &f.key, "a", 0, &pa), ==, TD_OK);
    TD_CHECK(fx_run(&f, fx_one_record, 2000));
    /* the caller goes away while history records the task; the record fails */
    td_matching_poll_cancel(pa.h);
    fx_release(&f);
    f.hold = 0;
    TD_CHECK_INT(fx_poll(&f, &f.key, "b", 0, &pb), ==, TD_OK);
    g_polls = &pb;
    g_npolls = 1;
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK_INT(pa.done, ==, 0);
    TD_CHECK(pb.resp != NULL);
    TD_CHECK_STR(pb.resp->workflow_id, "wf-3");
    TD_CHECK_INT(f.record_calls, ==, 2);
    fx_poll_clear(&pb);

    /* cancelled while a successful record is in flight: the next poll gets the response */
    f.hold = 1;
    f.decide = NULL;
    TD_CHECK_INT(fx_poll(&f, &f.key, "c", 0, &pa), ==, TD_OK);
    TD_CHECK_INT(fx_add(&f, &f.key, 4, 0, &a), ==, TD_OK);
    a.done = 0;
    f.record_calls = 0;
    TD_CHECK(fx_run(&f, fx_one_record, 2000));
    td_matching_poll_cancel(pa.h);
    fx_release(&f);
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    TD_CHECK_INT(a.err, ==, TD_OK);
    TD_CHECK_INT(pa.done, ==, 0);
    f.hold = 0;
    TD_CHECK_INT(fx_poll(&f, &f.key, "d", 0, &pb), ==, TD_OK);
    g_polls = &pb;
    g_npolls = 1;
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK(pb.resp != NULL);
    TD_CHECK_STR(pb.resp->workflow_id, "wf-4");
    TD_CHECK_INT(f.record_calls, ==, 1); /* not recorded twice */
    TD_CHECK_INT(f.freed_responses, ==, 0);
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK_INT(st.redelivered, ==, 1);
    fx_poll_clear(&pb);
    fx_destroy(&f);

    /* ... unless no poll comes within orphan_hold_ms: then it is freed, not leaked */
    td_matching_config_init(&cfg);
    cfg.orphan_hold_ms = 30;
    cfg.gc_interval_ms = 5;
    fx_init(&f, &cfg);
    f.hold = 1;
    TD_CHECK_INT(fx_poll(&f, &f.key, "c", 0, &pa), ==, TD_OK);
    TD_CHECK_INT(fx_add(&f, &f.key, 4, 0, &a), ==, TD_OK);
    TD_CHECK(fx_run(&f, fx_one_record, 2000));
    td_matching_poll_cancel(pa.h);
    fx_release(&f);
    TD_CHECK(fx_run(&f, fx_one_freed, 2000));
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK_INT(st.orphans_lost, ==, 1);
    TD_CHECK_INT(st.redelivered, ==, 0);
    fx_destroy(&f);
}

TD_TEST(matching_empty_poll_at_expiry)
{
    fx_t f;
    fx_poll_t p;
    td_matching_config_t cfg;
    const char *msg = NULL;
    int64_t now = td_now_mono_ms(), took;

    /* Temporal's frontend checks */
    TD_CHECK_INT(td_matching_check_deadline(now, 0, 2000, &msg), ==, TD_EINVAL);
    TD_CHECK_STR(msg, "Context timeout is not set.");
    TD_CHECK_INT(td_matching_check_deadline(now, now + 1999, 2000, &msg), ==, TD_EPRECOND);
    TD_CHECK_STR(msg, "Context timeout is too short.");
    TD_CHECK_INT(td_matching_check_deadline(now, now + 70000, 2000, &msg), ==, TD_OK);
    TD_CHECK(msg == NULL);

    /* matching.longPollExpirationInterval bounds the wait */
    td_matching_config_init(&cfg);
    cfg.long_poll_ms = 150;
    fx_init(&f, &cfg);
    TD_CHECK_INT(fx_poll(&f, &f.key, "w", td_now_mono_ms() + 70000, &p), ==, TD_OK);
    g_nadds = 0;
    g_polls = &p;
    g_npolls = 1;
    TD_CHECK(fx_run(&f, fx_all_polled, 3000));
    took = p.done_ms - p.started_ms;
    TD_CHECK_INT(p.err, ==, TD_OK);
    TD_CHECK(p.resp == NULL);
    TD_CHECK_INT(took, >=, 145);
    TD_CHECK_INT(took, <, 1000);
    fx_destroy(&f);

    /* ... and so does the caller's deadline minus one second */
    td_matching_config_init(&cfg);
    fx_init(&f, &cfg);
    TD_CHECK_INT(fx_poll(&f, &f.key, "w", td_now_mono_ms() + 1500, &p), ==, TD_EPRECOND);
    TD_CHECK(p.h == NULL);
    TD_CHECK_INT(fx_poll(&f, &f.key, "w", td_now_mono_ms() + 2300, &p), ==, TD_OK);
    g_polls = &p;
    TD_CHECK(fx_run(&f, fx_all_polled, 5000));
    took = p.done_ms - p.started_ms;
    TD_CHECK(p.resp == NULL);
    TD_CHECK_INT(took, >=, 1250);
    TD_CHECK_INT(took, <, 2000);
    fx_destroy(&f);
}

static int fx_stale_even(fx_t *f, const td_match_task_t *t, int attempt)
{
    (void)f;
    (void)attempt;
    return fx_wf_index(t) % 2 == 0 ? TD_ENOTFOUND : TD_OK;
}

static int fx_acked_to_4(fx_t *f)
{
    return td_match_membacklog_ack_level(f->mb, &f->key) == 4;
}

TD_TEST(matching_stale_record_drops_task)
{
    fx_t f;
    fx_add_t a[4];
    fx_poll_t p;
    td_match_stats_t st;

    fx_init(&f, NULL);
    f.decide = fx_stale_even;
    memset(a, 0, sizeof(a));
    for (int i = 0; i < 4; i++) {
        TD_CHECK_INT(fx_add(&f, &f.key, i, 0, &a[i]), ==, TD_OK);
    }
    g_adds = a;
    g_nadds = 4;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    /* one poll: wf-0 is stale, dropped, and the same poll goes on to wf-1 */
    TD_CHECK_INT(fx_poll(&f, &f.key, "w", 0, &p), ==, TD_OK);
    g_polls = &p;
    g_npolls = 1;
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK(p.resp != NULL);
    TD_CHECK_STR(p.resp->workflow_id, "wf-1");
    fx_poll_clear(&p);
    TD_CHECK_INT(fx_poll(&f, &f.key, "w", 0, &p), ==, TD_OK);
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK(p.resp != NULL);
    TD_CHECK_STR(p.resp->workflow_id, "wf-3");
    fx_poll_clear(&p);
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK_INT(st.dropped, ==, 2);
    TD_CHECK_INT(st.tasks_dispatched, ==, 2);
    TD_CHECK_INT(f.attempts[0], ==, 1); /* never retried */
    TD_CHECK(fx_run(&f, fx_acked_to_4, 2000));

    /* stale on a sync match: the adder is answered OK (history may ack) */
    TD_CHECK_INT(fx_poll(&f, &f.key, "w", 0, &p), ==, TD_OK);
    TD_CHECK_INT(fx_add(&f, &f.key, 10, 0, &a[0]), ==, TD_OK);
    a[0].done = 0;
    g_nadds = 1;
    g_npolls = 0;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    TD_CHECK_INT(a[0].err, ==, TD_OK);
    TD_CHECK_INT(p.done, ==, 0); /* still waiting */
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK_INT(st.waiting_polls, ==, 1);
    fx_destroy(&f);
    TD_CHECK_INT(p.err, ==, TD_ECLOSED);
}

TD_TEST(matching_transient_record_error_requeues)
{
    fx_t f;
    fx_add_t a = { 0, 0 };
    fx_poll_t p;

    fx_init(&f, NULL);
    f.decide = fx_fail_first;
    /* sync match whose record fails: persisted, then served again */
    TD_CHECK_INT(fx_poll(&f, &f.key, "w", 0, &p), ==, TD_OK);
    TD_CHECK(fx_run(&f, fx_leased, 1000));
    TD_CHECK_INT(fx_add(&f, &f.key, 5, 0, &a), ==, TD_OK);
    g_adds = &a;
    g_nadds = 1;
    g_polls = &p;
    g_npolls = 1;
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK_INT(a.err, ==, TD_OK);
    TD_CHECK(p.resp != NULL);
    TD_CHECK_STR(p.resp->workflow_id, "wf-5");
    TD_CHECK_INT(p.resp->task_id, >, 0); /* it went through the backlog */
    TD_CHECK_INT(f.attempts[5], ==, 2);
    TD_CHECK_INT(f.started_ok[5], ==, 1);
    fx_poll_clear(&p);
    fx_destroy(&f);
}

TD_TEST(matching_insert_failure_reaches_adder)
{
    fx_t f;
    fx_add_t a = { 0, 0 }, b = { 0, 0 };
    td_match_stats_t st;

    fx_init(&f, NULL);
    td_match_membacklog_fail(f.mb, "insert", TD_EIO, 1);
    TD_CHECK_INT(fx_add(&f, &f.key, 1, 0, &a), ==, TD_OK);
    g_adds = &a;
    g_nadds = 1;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    TD_CHECK_INT(a.err, ==, TD_EIO);
    TD_CHECK_INT(td_match_membacklog_count(f.mb, &f.key), ==, 0);
    /* the next add works */
    TD_CHECK_INT(fx_add(&f, &f.key, 2, 0, &b), ==, TD_OK);
    g_adds = &b;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    TD_CHECK_INT(b.err, ==, TD_OK);
    TD_CHECK_INT(td_match_membacklog_count(f.mb, &f.key), ==, 1);

    /* fenced by another owner: the adder sees ECONDITION, the partition leases again */
    td_match_membacklog_fail(f.mb, "insert", TD_ECONDITION, 1);
    memset(&a, 0, sizeof(a));
    TD_CHECK_INT(fx_add(&f, &f.key, 3, 0, &a), ==, TD_OK);
    g_adds = &a;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    TD_CHECK_INT(a.err, ==, TD_ECONDITION);
    memset(&b, 0, sizeof(b));
    TD_CHECK_INT(fx_add(&f, &f.key, 4, 0, &b), ==, TD_OK);
    g_adds = &b;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    TD_CHECK_INT(b.err, ==, TD_OK);
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK_INT(st.range_id, ==, 2);
    TD_CHECK_INT(td_match_membacklog_count(f.mb, &f.key), ==, 2);

    /* a lease failure answers the waiting adds with it */
    fx_destroy(&f);
    fx_init(&f, NULL);
    td_match_membacklog_fail(f.mb, "lease", TD_EUNAVAIL, 1);
    memset(&a, 0, sizeof(a));
    TD_CHECK_INT(fx_add(&f, &f.key, 1, 0, &a), ==, TD_OK);
    g_adds = &a;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    TD_CHECK_INT(a.err, ==, TD_EUNAVAIL);
    fx_destroy(&f);
}

/* ---- many pollers and tasks ---- */

#define MANY_TASKS   400
#define MANY_POLLERS 12

typedef struct {
    fx_t *f;
    td_matching_poll_t *h;
    int active;
    int got;
} fx_worker_t;

static fx_worker_t g_workers[MANY_POLLERS];
static int g_received[MANY_TASKS];
static int g_received_total;
static int g_cancelled;

static void fx_worker_poll(fx_worker_t *w);

static void fx_worker_on_poll(void *arg, int err, void *response)
{
    fx_worker_t *w = arg;
    fx_resp_t *r = response;
    w->h = NULL;
    w->active = 0;
    if (err != TD_OK) {
        return;
    }
    if (r != NULL) {
        int idx = atoi(r->workflow_id + 3);
        if (idx >= 0 && idx < MANY_TASKS) {
            g_received[idx]++;
        }
        g_received_total++;
        w->got++;
        td_free(r);
    }
    fx_worker_poll(w);
}

static void fx_worker_poll(fx_worker_t *w)
{
    td_match_poll_req_t req;
    char id[32];
    memset(&req, 0, sizeof(req));
    snprintf(id, sizeof(id), "worker-%d", (int)(w - g_workers));
    req.identity = id;
    req.rate_per_second = 100;
    if (td_matching_poll(w->f->e, &w->f->key, &req, fx_worker_on_poll, w, &w->h) == TD_OK) {
        w->active = 1;
    }
}

/* stale: index % 17 == 5; transient failure on the first attempt: index % 7 == 3 */
static int fx_many_decide(fx_t *f, const td_match_task_t *t, int attempt)
{
    int idx = fx_wf_index(t);
    (void)f;
    if (idx % 17 == 5) {
        return TD_EEXIST;
    }
    if (idx % 7 == 3 && attempt == 0) {
        return TD_EUNAVAIL;
    }
    return TD_OK;
}

static fx_add_t g_many_adds[MANY_TASKS];
static int g_many_next;

static void fx_many_step(void *arg)
{
    fx_t *f = arg;
    /* a burst of adds, a cancel, a replacement poller */
    int burst = 1 + rand() % 9;
    for (int i = 0; i < burst && g_many_next < MANY_TASKS; i++, g_many_next++) {
        TD_CHECK_INT(fx_add(f, &f->key, g_many_next, 0, &g_many_adds[g_many_next]), ==, TD_OK);
    }
    if (rand() % 3 == 0) {
        fx_worker_t *w = &g_workers[rand() % MANY_POLLERS];
        if (w->active && w->h != NULL) {
            td_matching_poll_cancel(w->h);
            w->h = NULL;
            w->active = 0;
            g_cancelled++;
        }
    }
    for (int i = 0; i < MANY_POLLERS; i++) {
        if (!g_workers[i].active && rand() % 2 == 0) {
            fx_worker_poll(&g_workers[i]);
        }
    }
}

static int fx_many_done(fx_t *f)
{
    int expect = 0;
    if (g_many_next < MANY_TASKS) {
        fx_many_step(f);
        return 0;
    }
    for (int i = 0; i < MANY_POLLERS; i++) {
        if (!g_workers[i].active) {
            fx_worker_poll(&g_workers[i]);
        }
    }
    for (int i = 0; i < MANY_TASKS; i++) {
        if (!g_many_adds[i].done) {
            return 0;
        }
        expect += i % 17 != 5;
    }
    return g_received_total + f->freed_responses >= expect;
}

TD_TEST(matching_many_pollers_interleaved)
{
    fx_t f;
    td_matching_config_t cfg;
    td_match_stats_t st;
    td_match_poller_info_t info[MANY_POLLERS + 2];
    int n;

    td_matching_config_init(&cfg);
    cfg.write_batch = 4;
    cfg.read_batch = 3;
    cfg.buffer_max = 8;
    cfg.gc_batch = 10;
    cfg.gc_interval_ms = 5;
    cfg.retry_initial_ms = 2;
    cfg.retry_max_ms = 20;
    cfg.range_size = 50;
    fx_init(&f, &cfg);
    f.decide = fx_many_decide;
    f.delay_ms = 4; /* records overlap cancels and new adds */
    srand(getenv("TD_MATCH_SEED") ? (unsigned)atoi(getenv("TD_MATCH_SEED")) : 42);
    memset(g_workers, 0, sizeof(g_workers));
    memset(g_received, 0, sizeof(g_received));
    memset(g_many_adds, 0, sizeof(g_many_adds));
    g_received_total = g_cancelled = g_many_next = 0;
    for (int i = 0; i < MANY_POLLERS; i++) {
        g_workers[i].f = &f;
    }
    TD_CHECK(fx_run(&f, fx_many_done, 20000));
    for (int i = 0; i < MANY_TASKS; i++) {
        TD_CHECK_INT(g_many_adds[i].err, ==, TD_OK);
        TD_CHECK_INT(g_many_adds[i].done, ==, 1);
        if (i % 17 == 5) {
            TD_CHECK_INT(f.started_ok[i], ==, 0);
            TD_CHECK_INT(g_received[i], ==, 0);
        } else {
            /* started exactly once: never lost, never handed out twice */
            TD_CHECK_INT(f.started_ok[i], ==, 1);
            TD_CHECK_INT(g_received[i], <=, 1);
        }
    }
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK_INT(st.inflight, ==, 0);
    TD_CHECK_INT(st.tasks_dispatched, ==, g_received_total + f.freed_responses);
    TD_CHECK(st.persisted > 0);
    TD_CHECK(st.sync_matched > 0);
    TD_CHECK(g_cancelled > 0);
    n = td_matching_pollers(f.e, &f.key, info, MANY_POLLERS + 2);
    TD_CHECK_INT(n, ==, MANY_POLLERS);
    TD_CHECK(info[0].rate_per_second == 100);
    TD_CHECK(info[0].last_access_ns >= info[n - 1].last_access_ns);
    printf("# many: %d tasks, %d received (%lld recorded for a cancelled poll and handed to "
           "the next), %d lost to cancelled polls, %lld sync, %lld persisted, %d cancels\n",
           MANY_TASKS, g_received_total, (long long)st.redelivered, f.freed_responses,
           (long long)st.sync_matched, (long long)st.persisted, g_cancelled);
    for (int i = 0; i < MANY_POLLERS; i++) {
        if (g_workers[i].active && g_workers[i].h != NULL) {
            td_matching_poll_cancel(g_workers[i].h);
        }
    }
    fx_destroy(&f);
}

/* ---- sticky queues ---- */

static int fx_dropped_one(fx_t *f)
{
    td_match_stats_t st;
    td_match_key_t k = f->key;
    k.name = "sticky-1";
    k.kind = TD_MATCH_STICKY;
    td_matching_stats(f->e, &k, &st);
    return st.dropped == 1 && td_match_membacklog_count(f->mb, &k) == 0;
}

TD_TEST(matching_sticky_unavailable_and_expiry)
{
    fx_t f;
    td_match_key_t k;
    fx_add_t a = { 0, 0 };
    fx_poll_t p;
    td_matching_config_t cfg;

    td_matching_config_init(&cfg);
    cfg.long_poll_ms = 30;
    cfg.gc_interval_ms = 5;
    fx_init(&f, &cfg);
    k = f.key;
    k.name = "sticky-1";
    k.kind = TD_MATCH_STICKY;
    /* no poller ever seen: history must fall back to the normal queue */
    TD_CHECK_INT(fx_add(&f, &k, 1, 0, &a), ==, TD_EUNAVAIL);
    /* a poller was just there (its poll expired): the task is kept until it expires */
    TD_CHECK_INT(fx_poll(&f, &k, "w", 0, &p), ==, TD_OK);
    g_polls = &p;
    g_npolls = 1;
    g_nadds = 0;
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK(p.resp == NULL);
    TD_CHECK_INT(fx_add(&f, &k, 1, td_now_wall_ns() + 60 * 1000000LL, &a), ==, TD_OK);
    g_adds = &a;
    g_nadds = 1;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    TD_CHECK_INT(a.err, ==, TD_OK);
    TD_CHECK_INT(td_match_membacklog_count(f.mb, &k), ==, 1);
    TD_CHECK(fx_run(&f, fx_dropped_one, 2000));
    TD_CHECK_INT(f.record_calls, ==, 0);
    fx_destroy(&f);
}

/* ---- queries ---- */

typedef struct {
    int done;
    int err;
    char data[64];
} fx_query_t;

static void fx_on_query(void *arg, int err, const uint8_t *data, size_t len)
{
    fx_query_t *q = arg;
    q->done++;
    q->err = err;
    if (data != NULL && len < sizeof(q->data)) {
        memcpy(q->data, data, len);
        q->data[len] = '\0';
    }
}

static fx_query_t *g_query;

static int fx_query_done(fx_t *f)
{
    (void)f;
    return g_query->done > 0;
}

TD_TEST(matching_query_routing)
{
    fx_t f;
    fx_poll_t p;
    fx_add_t a = { 0, 0 };
    fx_query_t q1, q2, q3;
    td_matching_query_t *h1, *h2, *h3;
    td_match_task_t qt;
    char id1[64];

    fx_init(&f, NULL);
    memset(&qt, 0, sizeof(qt));
    qt.workflow_id = "wf-100";
    qt.run_id = "run";
    qt.data = (const uint8_t *)"query-args";
    qt.data_len = 10;
    memset(&q1, 0, sizeof(q1));
    memset(&q2, 0, sizeof(q2));
    memset(&q3, 0, sizeof(q3));

    /* a backlog task and a query wait: the poll gets the query first */
    TD_CHECK_INT(fx_add(&f, &f.key, 1, 0, &a), ==, TD_OK);
    g_adds = &a;
    g_nadds = 1;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    TD_CHECK_INT(td_matching_query(f.e, &f.key, &qt, 5000, fx_on_query, &q1, &h1), ==, TD_OK);
    snprintf(id1, sizeof(id1), "%s", td_matching_query_id(h1));
    TD_CHECK(strlen(id1) > 0);
    TD_CHECK_INT(fx_poll(&f, &f.key, "w", 0, &p), ==, TD_OK);
    g_polls = &p;
    g_npolls = 1;
    g_nadds = 0;
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK(p.resp != NULL);
    TD_CHECK_STR(p.resp->query_id, id1);
    TD_CHECK_STR(p.resp->workflow_id, "wf-100");
    fx_poll_clear(&p);
    TD_CHECK_INT(q1.done, ==, 0);
    /* the worker answers: RespondQueryTaskCompleted routes it to the waiting query */
    TD_CHECK_INT(td_matching_respond_query(f.e, id1, TD_OK, (const uint8_t *)"answer", 6), ==,
                 TD_OK);
    TD_CHECK_INT(q1.done, ==, 1);
    TD_CHECK_INT(q1.err, ==, TD_OK);
    TD_CHECK_STR(q1.data, "answer");
    TD_CHECK_INT(td_matching_respond_query(f.e, id1, TD_OK, NULL, 0), ==, TD_ENOTFOUND);
    /* the backlog task is still there for the next poll */
    TD_CHECK_INT(fx_poll(&f, &f.key, "w", 0, &p), ==, TD_OK);
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK(p.resp != NULL);
    TD_CHECK_STR(p.resp->workflow_id, "wf-1");
    fx_poll_clear(&p);

    /* no poller: the query times out, a late answer finds nothing */
    TD_CHECK_INT(td_matching_query(f.e, &f.key, &qt, 60, fx_on_query, &q2, &h2), ==, TD_OK);
    snprintf(id1, sizeof(id1), "%s", td_matching_query_id(h2));
    g_query = &q2;
    TD_CHECK(fx_run(&f, fx_query_done, 2000));
    TD_CHECK_INT(q2.err, ==, TD_ETIMEDOUT);
    TD_CHECK_INT(td_matching_respond_query(f.e, id1, TD_OK, NULL, 0), ==, TD_ENOTFOUND);
    TD_CHECK_INT(f.record_calls, ==, 2);

    /* delivered but never answered: times out too */
    TD_CHECK_INT(td_matching_query(f.e, &f.key, &qt, 100, fx_on_query, &q3, &h3), ==, TD_OK);
    TD_CHECK_INT(fx_poll(&f, &f.key, "w", 0, &p), ==, TD_OK);
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK(p.resp != NULL);
    TD_CHECK_STR(p.resp->query_id, td_matching_query_id(h3));
    snprintf(id1, sizeof(id1), "%s", p.resp->query_id);
    fx_poll_clear(&p);
    g_query = &q3;
    TD_CHECK(fx_run(&f, fx_query_done, 2000));
    TD_CHECK_INT(q3.err, ==, TD_ETIMEDOUT);
    TD_CHECK_INT(td_matching_respond_query(f.e, id1, TD_OK, NULL, 0), ==, TD_ENOTFOUND);

    /* a stale answer from history (workflow gone) fails the query at once */
    f.decide = fx_stale_even; /* wf-100 is even */
    memset(&q1, 0, sizeof(q1));
    TD_CHECK_INT(td_matching_query(f.e, &f.key, &qt, 5000, fx_on_query, &q1, &h1), ==, TD_OK);
    TD_CHECK_INT(fx_poll(&f, &f.key, "w", 0, &p), ==, TD_OK);
    g_query = &q1;
    TD_CHECK(fx_run(&f, fx_query_done, 2000));
    TD_CHECK_INT(q1.err, ==, TD_ENOTFOUND);
    TD_CHECK_INT(p.done, ==, 0); /* the poll keeps waiting */

    /* activity queues take no queries; close answers what waits */
    {
        td_match_key_t ak = f.key;
        ak.type = TD_MATCH_ACTIVITY;
        TD_CHECK_INT(td_matching_query(f.e, &ak, &qt, 5000, fx_on_query, &q2, &h2), ==, TD_EINVAL);
    }
    memset(&q2, 0, sizeof(q2));
    f.decide = NULL;
    td_matching_poll_cancel(p.h);
    TD_CHECK_INT(td_matching_query(f.e, &f.key, &qt, 5000, fx_on_query, &q2, &h2), ==, TD_OK);
    fx_destroy(&f);
    TD_CHECK_INT(q2.done, ==, 1);
    TD_CHECK_INT(q2.err, ==, TD_ECLOSED);
}

TD_TEST(matching_close_answers_waiters)
{
    fx_t f;
    fx_poll_t p;
    fx_add_t a = { 0, 0 };

    fx_init(&f, NULL);
    f.hold = 1;
    TD_CHECK_INT(fx_poll(&f, &f.key, "w", 0, &p), ==, TD_OK);
    TD_CHECK_INT(fx_add(&f, &f.key, 1, 0, &a), ==, TD_OK);
    TD_CHECK(fx_run(&f, fx_one_record, 2000));
    /* close with a record in flight: it waits for it and the poll still gets its task */
    f.closed = 0;
    td_matching_engine_close(f.e, fx_on_closed, &f);
    TD_CHECK_INT(fx_add(&f, &f.key, 2, 0, &a), ==, TD_ECLOSED);
    fx_run(&f, NULL, 30);
    TD_CHECK_INT(f.closed, ==, 0);
    fx_release(&f);
    TD_CHECK(fx_run(&f, fx_is_closed, 2000));
    f.e = NULL;
    TD_CHECK_INT(p.done, ==, 1);
    TD_CHECK(p.resp != NULL);
    TD_CHECK_INT(a.done, ==, 1);
    TD_CHECK_INT(a.err, ==, TD_OK);
    fx_poll_clear(&p);
    fx_destroy(&f);
}

static int fx_unloaded(fx_t *f)
{
    td_match_stats_t st;
    td_matching_stats(f->e, &f->key, &st);
    return !st.exists;
}

TD_TEST(matching_idle_partition_unloaded)
{
    fx_t f;
    fx_poll_t p;
    fx_add_t a = { 0, 0 };
    td_matching_config_t cfg;
    td_match_stats_t st;

    td_matching_config_init(&cfg);
    cfg.idle_unload_ms = 40;
    cfg.gc_interval_ms = 5;
    fx_init(&f, &cfg);
    /* a persisted task keeps the partition loaded until it is handed out and acked */
    TD_CHECK_INT(fx_add(&f, &f.key, 1, 0, &a), ==, TD_OK);
    g_adds = &a;
    g_nadds = 1;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    fx_run(&f, NULL, 100);
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK(st.exists);
    TD_CHECK_INT(fx_poll(&f, &f.key, "w", 0, &p), ==, TD_OK);
    g_polls = &p;
    g_npolls = 1;
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK(p.resp != NULL);
    fx_poll_clear(&p);
    TD_CHECK(fx_run(&f, fx_unloaded, 2000));
    TD_CHECK_INT(td_match_membacklog_count(f.mb, &f.key), ==, 0);
    /* used again: leased anew (ids move to the next range) */
    TD_CHECK_INT(fx_add(&f, &f.key, 2, 0, &a), ==, TD_OK);
    a.done = 0;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK_INT(st.range_id, ==, 2);
    TD_CHECK_INT(st.written_level, ==, cfg.range_size + 1);
    fx_destroy(&f);
}

TD_TEST(matching_unload_sticky)
{
    fx_t f;
    fx_poll_t p;
    fx_add_t a = { 0, 0 };
    td_match_key_t k;

    fx_init(&f, NULL);
    k = f.key;
    k.name = "sticky-2";
    k.kind = TD_MATCH_STICKY;
    TD_CHECK_INT(fx_poll(&f, &k, "w", 0, &p), ==, TD_OK);
    fx_run(&f, NULL, 20);
    TD_CHECK_INT(p.done, ==, 0);
    td_matching_unload_sticky(f.e, &k);
    TD_CHECK_INT(p.done, ==, 1);
    TD_CHECK(p.resp == NULL);
    TD_CHECK_INT(fx_add(&f, &k, 1, 0, &a), ==, TD_EUNAVAIL);
    /* the worker polls again: the queue is usable again */
    TD_CHECK_INT(fx_poll(&f, &k, "w", 0, &p), ==, TD_OK);
    TD_CHECK_INT(fx_add(&f, &k, 1, 0, &a), ==, TD_OK);
    g_adds = &a;
    g_nadds = 1;
    g_polls = &p;
    g_npolls = 1;
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK(p.resp != NULL);
    fx_poll_clear(&p);
    fx_destroy(&f);
}

/* ---- throughput (figures printed, correctness checked) ---- */

#define TP_POLLERS 10

static int g_tp_received;
static int g_tp_target;
static int g_tp_keep; /* re-poll regardless of the target */
static fx_t *g_tp_fx; /* closed loop: add the next task on each delivery */
static fx_add_t *g_tp_adds;
static int g_tp_added, g_tp_n;

static void fx_tp_on_poll(void *arg, int err, void *response);

static void fx_tp_poll(fx_worker_t *w)
{
    td_match_poll_req_t req;
    memset(&req, 0, sizeof(req));
    req.identity = "tp";
    TD_CHECK_INT(td_matching_poll(w->f->e, &w->f->key, &req, fx_tp_on_poll, w, &w->h), ==, TD_OK);
}

static void fx_tp_on_poll(void *arg, int err, void *response)
{
    fx_worker_t *w = arg;
    w->h = NULL;
    if (response != NULL) {
        g_tp_received++;
        td_free(response);
    }
    if (err == TD_OK && (g_tp_keep || g_tp_received < g_tp_target || response == NULL)) {
        fx_tp_poll(w);
    }
    if (g_tp_fx != NULL && response != NULL && g_tp_added < g_tp_n) {
        TD_CHECK_INT(fx_add(g_tp_fx, &g_tp_fx->key, g_tp_added % FX_MAX_TASKS, 0,
                            &g_tp_adds[g_tp_added]),
                     ==, TD_OK);
        g_tp_added++;
    }
}

static int fx_tp_done(fx_t *f)
{
    (void)f;
    return g_tp_received >= g_tp_target && fx_all_added(f);
}

TD_TEST_T(matching_throughput, 60)
{
    fx_t f;
    int n = 20000;
    fx_add_t *adds = td_calloc((size_t)n, sizeof(*adds));
    int64_t t0, t1, t2;
    td_match_stats_t st;
    td_matching_config_t cfg;

    td_matching_config_init(&cfg);
    cfg.gc_interval_ms = 5;
    fx_init(&f, &cfg);
    g_adds = adds;
    g_nadds = n;
    /* backlog: n adds with no poller, then drained by TP_POLLERS pollers */
    t0 = td_now_mono_ms();
    for (int i = 0; i < n; i++) {
        TD_CHECK_INT(fx_add(&f, &f.key, i % FX_MAX_TASKS, 0, &adds[i]), ==, TD_OK);
    }
    TD_CHECK(fx_run(&f, fx_all_added, 30000));
    t1 = td_now_mono_ms();
    g_tp_received = 0;
    g_tp_target = n;
    memset(g_workers, 0, sizeof(g_workers));
    for (int i = 0; i < TP_POLLERS; i++) {
        g_workers[i].f = &f;
        fx_tp_poll(&g_workers[i]);
    }
    TD_CHECK(fx_run(&f, fx_tp_done, 30000));
    t2 = td_now_mono_ms();
    td_matching_stats(f.e, &f.key, &st);
    TD_CHECK_INT(st.persisted, ==, n);
    printf("# backlog: %d tasks persisted in %lld ms (%.0f/s), drained in %lld ms (%.0f/s)\n", n,
           (long long)(t1 - t0), n * 1000.0 / (double)(t1 - t0 + 1), (long long)(t2 - t1),
           n * 1000.0 / (double)(t2 - t1 + 1));

    /* sync match, closed loop: every poller waits; each delivered task re-polls and adds the
     * next task, so TP_POLLERS tasks are in flight and each finds a waiting poll */
    memset(adds, 0, (size_t)n * sizeof(*adds));
    g_tp_received = 0;
    g_tp_keep = 1;
    g_tp_fx = &f;
    g_tp_adds = adds;
    g_tp_n = n;
    for (int i = 0; i < TP_POLLERS; i++) {
        if (g_workers[i].h == NULL) {
            fx_tp_poll(&g_workers[i]);
        }
    }
    fx_run(&f, NULL, 20);
    t0 = td_now_mono_ms();
    for (g_tp_added = 0; g_tp_added < TP_POLLERS; g_tp_added++) {
        TD_CHECK_INT(fx_add(&f, &f.key, g_tp_added, 0, &adds[g_tp_added]), ==, TD_OK);
    }
    g_tp_target = n;
    TD_CHECK(fx_run(&f, fx_tp_done, 30000));
    t1 = td_now_mono_ms();
    g_tp_keep = 0;
    g_tp_fx = NULL;
    td_matching_stats(f.e, &f.key, &st);
    printf("# sync: %d tasks in %lld ms (%.0f/s), %lld sync-matched, %lld persisted\n", n,
           (long long)(t1 - t0), n * 1000.0 / (double)(t1 - t0 + 1), (long long)st.sync_matched,
           (long long)st.persisted - n);
    TD_CHECK_INT(st.sync_matched, ==, n);
    TD_CHECK_INT(st.persisted, ==, n); /* only the first phase's */
    for (int i = 0; i < TP_POLLERS; i++) {
        if (g_workers[i].h != NULL) {
            td_matching_poll_cancel(g_workers[i].h);
        }
    }
    td_free(adds);
    fx_destroy(&f);
}

TD_TEST(matching_config_from_dynamic_config)
{
    td_config_t c;
    td_matching_config_t m;

    td_config_init(&c);
    td_matching_config_from(&m, &c);
    TD_CHECK_INT(m.long_poll_ms, ==, 60000);
    TD_CHECK_INT(m.empty_budget_ms, ==, 1000);
    TD_CHECK_INT(m.min_poll_timeout_ms, ==, 2000);
    td_strlist_add(&c.dynamic_config, "matching.longPollExpirationInterval=\"5s\"");
    td_matching_config_from(&m, &c);
    TD_CHECK_INT(m.long_poll_ms, ==, 5000);
    td_config_destroy(&c);
}

static fx_t *g_close_fx;

static void fx_on_add_close(void *arg, int err)
{
    fx_on_add(arg, err);
    if (g_close_fx->e != NULL && !g_close_fx->closed) {
        td_matching_engine_close(g_close_fx->e, fx_on_closed, g_close_fx);
    }
}

static void fx_on_poll_close(void *arg, int err, void *response)
{
    fx_on_poll(arg, err, response);
    if (!g_close_fx->closed) {
        td_matching_engine_close(g_close_fx->e, fx_on_closed, g_close_fx);
    }
}

TD_TEST(matching_close_from_callbacks)
{
    fx_t f;
    fx_add_t a[6];
    fx_poll_t p;
    td_match_poll_req_t req;
    td_match_task_t t;

    /* an adder closes the engine while the rest of its insert batch is answered */
    fx_init(&f, NULL);
    g_close_fx = &f;
    memset(a, 0, sizeof(a));
    memset(&t, 0, sizeof(t));
    t.workflow_id = "wf-1";
    for (int i = 0; i < 6; i++) {
        TD_CHECK_INT(td_matching_add_task(f.e, &f.key, &t, fx_on_add_close, &a[i]), ==, TD_OK);
    }
    TD_CHECK(fx_run(&f, fx_is_closed, 2000));
    for (int i = 0; i < 6; i++) {
        TD_CHECK_INT(a[i].done, ==, 1);
        TD_CHECK_INT(a[i].err, ==, TD_OK);
    }
    f.e = NULL;
    fx_destroy(&f);

    /* a poller closes the engine from its callback, with more tasks buffered */
    fx_init(&f, NULL);
    g_close_fx = &f;
    memset(a, 0, sizeof(a));
    for (int i = 0; i < 6; i++) {
        TD_CHECK_INT(fx_add(&f, &f.key, i, 0, &a[i]), ==, TD_OK);
    }
    g_adds = a;
    g_nadds = 6;
    TD_CHECK(fx_run(&f, fx_all_added, 2000));
    memset(&req, 0, sizeof(req));
    memset(&p, 0, sizeof(p));
    req.identity = "w";
    TD_CHECK_INT(td_matching_poll(f.e, &f.key, &req, fx_on_poll_close, &p, &p.h), ==, TD_OK);
    TD_CHECK(fx_run(&f, fx_is_closed, 2000));
    TD_CHECK_INT(p.done, ==, 1);
    TD_CHECK(p.resp != NULL);
    fx_poll_clear(&p);
    f.e = NULL;
    fx_destroy(&f);
}

TD_TEST(matching_query_sticky_unavailable)
{
    fx_t f;
    td_match_key_t k;
    td_match_task_t qt;
    fx_query_t q;
    fx_poll_t p;
    td_matching_query_t *h = NULL;

    fx_init(&f, NULL);
    k = f.key;
    k.name = "sticky-q";
    k.kind = TD_MATCH_STICKY;
    memset(&qt, 0, sizeof(qt));
    memset(&q, 0, sizeof(q));
    qt.workflow_id = "wf-9";
    TD_CHECK_INT(td_matching_query(f.e, &k, &qt, 1000, fx_on_query, &q, &h), ==, TD_EUNAVAIL);
    TD_CHECK(h == NULL);
    /* with the sticky worker polling, the query goes to it */
    TD_CHECK_INT(fx_poll(&f, &k, "w", 0, &p), ==, TD_OK);
    TD_CHECK_INT(td_matching_query(f.e, &k, &qt, 1000, fx_on_query, &q, &h), ==, TD_OK);
    g_polls = &p;
    g_npolls = 1;
    g_nadds = 0;
    TD_CHECK(fx_run(&f, fx_all_polled, 2000));
    TD_CHECK(p.resp != NULL);
    TD_CHECK_STR(p.resp->query_id, td_matching_query_id(h));
    fx_poll_clear(&p);
    td_matching_query_cancel(h);
    fx_destroy(&f);
    TD_CHECK_INT(q.done, ==, 0);
}
