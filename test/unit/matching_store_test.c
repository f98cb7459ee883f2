/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The matching engine over the real store (match_store.c on SQLite in memory): tasks
 * persisted by one engine are read back in order by the next owner with their payload,
 * the range_id lease fences ids, and the ack level and deletions reach the store.
 */
#include "test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "loop.h"
#include "mem.h"
#include "roles/matching/engine.h"
#include "roles/matching/match_store.h"
#include "store/store.h"

typedef struct {
    char workflow_id[32];
    char data[32];
    int64_t task_id;
} ms_resp_t;

typedef struct {
    td_loop_t *loop;
    td_timer_t *tick;
    int (*cond)(void *);
    void *cond_arg;
    int64_t until;
} ms_fx_t;

static void ms_on_tick(void *arg)
{
    ms_fx_t *f = arg;
    if (f->cond(f->cond_arg) || td_now_mono_ms() >= f->until) {
        td_loop_stop(f->loop);
        return;
    }
    td_timer_start(f->tick, 1);
}

static int ms_run(ms_fx_t *f, int (*cond)(void *), void *arg, int64_t max_ms)
{
    f->cond = cond;
    f->cond_arg = arg;
    f->until = td_now_mono_ms() + max_ms;
    td_timer_start(f->tick, 0);
    td_loop_run(f->loop);
    return cond(arg);
}

typedef struct {
    td_match_started_cb cb;
    void *arg;
    ms_resp_t *r;
} ms_pending_t;

static void ms_deliver(void *arg)
{
    ms_pending_t *p = arg;
    p->cb(p->arg, TD_OK, p->r);
    td_free(p);
}

static td_loop_t *g_loop;

static void ms_record_started(void *ctx, const td_match_key_t *key, const td_match_task_t *task,
                              const td_match_poller_t *poller, td_match_started_cb cb, void *arg)
{
    ms_pending_t *p = td_calloc(1, sizeof(*p));
    p->r = td_calloc(1, sizeof(*p->r));
    snprintf(p->r->workflow_id, sizeof(p->r->workflow_id), "%s", task->workflow_id);
    if (task->data_len > 0 && task->data_len < sizeof(p->r->data)) {
        memcpy(p->r->data, task->data, task->data_len);
    }
    p->r->task_id = task->task_id;
    p->cb = cb;
    p->arg = arg;
    td_loop_post(g_loop, ms_deliver, p);
}

static void ms_response_free(void *ctx, void *response)
{
    td_free(response);
}

static const td_match_history_ops_t ms_history = { ms_record_started, ms_response_free };

#define MS_N 30

static int g_added[MS_N], g_add_err[MS_N];

static void ms_on_add(void *arg, int err)
{
    int i = (int)(intptr_t)arg;
    g_added[i]++;
    g_add_err[i] = err;
}

static int ms_all_added(void *arg)
{
    (void)arg;
    for (int i = 0; i < MS_N; i++) {
        if (!g_added[i]) {
            return 0;
        }
    }
    return 1;
}

typedef struct {
    int done;
    ms_resp_t *r;
} ms_poll_t;

static void ms_on_poll(void *arg, int err, void *response)
{
    ms_poll_t *p = arg;
    p->done = 1;
    p->r = response;
}

static int ms_polled(void *arg)
{
    return ((ms_poll_t *)arg)->done;
}

static int g_closed;

static void ms_on_closed(void *arg)
{
    g_closed = 1;
}

static int ms_is_closed(void *arg)
{
    return g_closed;
}

typedef struct {
    td_store_t *store;
    td_store_req_t *req;
    int64_t want_ack;
} ms_tq_check_t;

/* Whether the store's queue row has reached the wanted ack level with an empty backlog. */
static int ms_store_acked(void *arg)
{
    ms_tq_check_t *c = arg;
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_TQ_GET);
    int ok;
    req->in.tq.rec.namespace_id = "ns-store";
    req->in.tq.rec.name = "tq-store";
    req->in.tq.rec.type = TD_STORE_TQ_TYPE_ACTIVITY;
    ok = td_store_call(c->store, req) == TD_OK && req->out.tq.rec.ack_level == c->want_ack;
    td_store_req_free(req);
    if (ok) {
        req = td_store_req_new(TD_STORE_OP_BACKLOG_READ);
        req->in.backlog_read.namespace_id = "ns-store";
        req->in.backlog_read.name = "tq-store";
        req->in.backlog_read.type = TD_STORE_TQ_TYPE_ACTIVITY;
        ok = td_store_call(c->store, req) == TD_OK && req->out.backlog_read.n_tasks == 0;
        td_store_req_free(req);
    }
    return ok;
}

TD_TEST(matching_store_backlog_roundtrip)
{
    ms_fx_t f;
    td_store_options_t opt;
    td_store_t *store = NULL;
    char err[256];
    td_matching_config_t cfg;
    td_matching_ops_t ops;
    td_matching_engine_t *e;
    td_match_key_t key = { "ns-store", "tq-store", TD_MATCH_ACTIVITY, TD_MATCH_NORMAL };
    ms_tq_check_t chk;
    td_store_req_t *req;

    memset(&f, 0, sizeof(f));
    f.loop = g_loop = td_loop_new();
    f.tick = td_timer_new(f.loop, ms_on_tick, &f);
    memset(&opt, 0, sizeof(opt));
    opt.loop = f.loop;
    opt.schema = TD_STORE_SCHEMA_AUTO;
    TD_CHECK_INT(td_store_open("sqlite://:memory:", &opt, &store, err, sizeof(err)), ==, TD_OK);

    td_matching_config_init(&cfg);
    cfg.write_batch = 8;
    cfg.read_batch = 7;
    cfg.buffer_max = 10;
    cfg.gc_batch = 5;
    cfg.gc_interval_ms = 5;
    memset(&ops, 0, sizeof(ops));
    ops.backlog = &td_match_store_ops;
    ops.backlog_ctx = store;
    ops.history = &ms_history;
    e = td_matching_engine_new(f.loop, &cfg, &ops);

    for (int i = 0; i < MS_N; i++) {
        char wid[32], data[32];
        td_match_task_t t;
        memset(&t, 0, sizeof(t));
        snprintf(wid, sizeof(wid), "wf-%d", i);
        snprintf(data, sizeof(data), "payload-%d", i);
        t.workflow_id = wid;
        t.run_id = "run";
        t.scheduled_event_id = 5;
        t.data = (const uint8_t *)data;
        t.data_len = strlen(data);
        TD_CHECK_INT(td_matching_add_task(e, &key, &t, ms_on_add, (void *)(intptr_t)i), ==, TD_OK);
    }
    TD_CHECK(ms_run(&f, ms_all_added, NULL, 5000));
    for (int i = 0; i < MS_N; i++) {
        TD_CHECK_INT(g_add_err[i], ==, TD_OK);
    }
    td_matching_engine_close(e, ms_on_closed, NULL);
    TD_CHECK(ms_run(&f, ms_is_closed, NULL, 5000));

    /* the next owner leases range 2 and reads range 1's tasks back in order */
    e = td_matching_engine_new(f.loop, &cfg, &ops);
    for (int i = 0; i < MS_N; i++) {
        ms_poll_t p = { 0, NULL };
        td_matching_poll_t *h;
        td_match_poll_req_t pr;
        char want[32];
        memset(&pr, 0, sizeof(pr));
        pr.identity = "w";
        TD_CHECK_INT(td_matching_poll(e, &key, &pr, ms_on_poll, &p, &h), ==, TD_OK);
        TD_CHECK(ms_run(&f, ms_polled, &p, 5000));
        TD_CHECK(p.r != NULL);
        snprintf(want, sizeof(want), "wf-%d", i);
        TD_CHECK_STR(p.r->workflow_id, want);
        snprintf(want, sizeof(want), "payload-%d", i);
        TD_CHECK_STR(p.r->data, want);
        TD_CHECK_INT(p.r->task_id, ==, i + 1);
        td_free(p.r);
    }
    /* store convention: the ack level is the lowest id not done. Everything below range 2's
     * first id is done (range 1 is fully consumed), so the level lands there. */
    chk.store = store;
    chk.want_ack = cfg.range_size + 1;
    TD_CHECK(ms_run(&f, ms_store_acked, &chk, 5000));
    req = td_store_req_new(TD_STORE_OP_TQ_GET);
    req->in.tq.rec.namespace_id = "ns-store";
    req->in.tq.rec.name = "tq-store";
    req->in.tq.rec.type = TD_STORE_TQ_TYPE_ACTIVITY;
    TD_CHECK_INT(td_store_call(store, req), ==, TD_OK);
    TD_CHECK_INT(req->out.tq.rec.range_id, ==, 2);
    td_store_req_free(req);

    g_closed = 0;
    td_matching_engine_close(e, ms_on_closed, NULL);
    TD_CHECK(ms_run(&f, ms_is_closed, NULL, 5000));
    td_store_close(store);
    td_timer_free(f.tick);
    td_loop_free(f.loop);
}

/* ---- figures: the backlog path through SQLite ---- */

#define MS_BIG 5000

static int g_big_added, g_big_received;
static td_matching_engine_t *g_big_e;
static td_match_key_t g_big_key = { "ns-big", "tq-big", TD_MATCH_WORKFLOW, TD_MATCH_NORMAL };

static void ms_big_on_add(void *arg, int err)
{
    TD_CHECK_INT(err, ==, TD_OK);
    g_big_added++;
}

static int ms_big_all_added(void *arg)
{
    return g_big_added == MS_BIG;
}

static void ms_big_poll(void);

static void ms_big_on_poll(void *arg, int err, void *response)
{
    ms_resp_t *r = response;
    char want[32];
    TD_CHECK_INT(err, ==, TD_OK);
    if (r != NULL) {
        snprintf(want, sizeof(want), "wf-%d", g_big_received);
        TD_CHECK_STR(r->workflow_id, want); /* one poller: strict order */
        g_big_received++;
        td_free(r);
    }
    if (g_big_received < MS_BIG) {
        ms_big_poll();
    }
}

static void ms_big_poll(void)
{
    td_matching_poll_t *h;
    td_match_poll_req_t pr;
    memset(&pr, 0, sizeof(pr));
    pr.identity = "w";
    TD_CHECK_INT(td_matching_poll(g_big_e, &g_big_key, &pr, ms_big_on_poll, NULL, &h), ==, TD_OK);
}

static int ms_big_all_received(void *arg)
{
    return g_big_received == MS_BIG;
}

TD_TEST(matching_store_backlog_figures)
{
    ms_fx_t f;
    td_store_options_t opt;
    td_store_t *store = NULL;
    char err[256], path[64];
    td_matching_ops_t ops;
    int64_t t0, t1, t2;

    memset(&f, 0, sizeof(f));
    f.loop = g_loop = td_loop_new();
    f.tick = td_timer_new(f.loop, ms_on_tick, &f);
    memset(&opt, 0, sizeof(opt));
    opt.loop = f.loop;
    opt.schema = TD_STORE_SCHEMA_AUTO;
    opt.sqlite_synchronous = "FULL";
    snprintf(path, sizeof(path), "sqlite:///tmp/td-matching-%d.db", (int)getpid());
    TD_CHECK_INT(td_store_open(path, &opt, &store, err, sizeof(err)), ==, TD_OK);
    memset(&ops, 0, sizeof(ops));
    ops.backlog = &td_match_store_ops;
    ops.backlog_ctx = store;
    ops.history = &ms_history;
    g_big_e = td_matching_engine_new(f.loop, NULL, &ops);

    t0 = td_now_mono_ms();
    for (int i = 0; i < MS_BIG; i++) {
        char wid[16];
        td_match_task_t t;
        memset(&t, 0, sizeof(t));
        snprintf(wid, sizeof(wid), "wf-%d", i);
        t.workflow_id = wid;
        t.run_id = "0f2a3c4e-1111-2222-3333-444455556666";
        t.scheduled_event_id = 2;
        TD_CHECK_INT(td_matching_add_task(g_big_e, &g_big_key, &t, ms_big_on_add, NULL), ==, TD_OK);
    }
    TD_CHECK(ms_run(&f, ms_big_all_added, NULL, 30000));
    t1 = td_now_mono_ms();
    ms_big_poll();
    TD_CHECK(ms_run(&f, ms_big_all_received, NULL, 30000));
    t2 = td_now_mono_ms();
    printf("# sqlite file (synchronous=FULL): %d adds persisted in %lld ms (%.0f/s); drained "
           "by one poller in %lld ms (%.0f/s)\n",
           MS_BIG, (long long)(t1 - t0), MS_BIG * 1000.0 / (double)(t1 - t0 + 1),
           (long long)(t2 - t1), MS_BIG * 1000.0 / (double)(t2 - t1 + 1));

    g_closed = 0;
    td_matching_engine_close(g_big_e, ms_on_closed, NULL);
    TD_CHECK(ms_run(&f, ms_is_closed, NULL, 5000));
    td_store_close(store);
    unlink(path + strlen("sqlite://"));
    {
        char side[80];
        snprintf(side, sizeof(side), "%s-wal", path + strlen("sqlite://"));
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", path + strlen("sqlite://"));
        unlink(side);
    }
    td_timer_free(f.tick);
    td_loop_free(f.loop);
}
