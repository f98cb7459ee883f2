/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention in the history service (hist_retention.c, hist_delete.c) over a real SQLite store
 * and a namespace registry: a run closed in a namespace with a short retention gets its
 * DELETE_HISTORY timer written with the close, and once due its row, current pointer, history
 * and visibility record are gone while a running workflow of the same namespace stays; the id
 * can be started again. The timer survives a restart of the history role (a new instance on the
 * same store deletes the run). td_hist__delete_run in retention mode leaves a running run alone
 * and finishes a deletion that was cut short after the row went.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "hist_fixture.h"
#include "roles/history/hist_int.h"

/* Outcome of the last namespace creation / run deletion. */
static int rx_cb_done, rx_cb_rc;

static void rx_ns_created(int rc, const char *msg, void *arg)
{
    (void)msg;
    (void)arg;
    rx_cb_done = 1;
    rx_cb_rc = rc;
}

/* A store and history with the namespace "rt" of retention `secs` seconds (no jitter). */
static void rx_init(hf_t *x, int64_t secs)
{
    Temporald__Namespace__NamespaceRecord rec = TEMPORALD__NAMESPACE__NAMESPACE_RECORD__INIT;
    Temporal__Api__Namespace__V1__NamespaceInfo info =
            TEMPORAL__API__NAMESPACE__V1__NAMESPACE_INFO__INIT;
    Temporal__Api__Namespace__V1__NamespaceConfig nc =
            TEMPORAL__API__NAMESPACE__V1__NAMESPACE_CONFIG__INIT;
    Google__Protobuf__Duration ttl = GOOGLE__PROTOBUF__DURATION__INIT;

    hf_open(x, NULL, 2, "history.retentionTimerJitterDuration=\"0s\"");
    x->nsreg = td_nsreg_new(x->store);
    info.name = (char *)"rt";
    info.id = (char *)"00000000-0000-0000-0000-000000000000";
    ttl.seconds = secs;
    nc.workflow_execution_retention_ttl = &ttl;
    rec.info = &info;
    rec.config = &nc;
    rx_cb_done = 0;
    td_nsreg_create(x->nsreg, &rec, rx_ns_created, x);
    hf_run(x, &rx_cb_done, 5000);
    TD_CHECK_INT(rx_cb_rc, ==, TD_OK);
    snprintf(x->ns, sizeof(x->ns), "%s", td_nsreg_by_name(x->nsreg, "rt")->id);
    hf_server_start(x);
}

/* Timer tasks stored for every shard due in [from, to] (ns). */
static int rx_timers_due(hf_t *x, int64_t from, int64_t to)
{
    int n = 0;

    for (int32_t shard = 0; shard <= x->cfg.num_history_shards; shard++) {
        td_store_req_t *req = td_store_req_new(TD_STORE_OP_TASKS_READ);
        req->in.tasks_read.shard_id = shard;
        req->in.tasks_read.category = TD_STORE_TASK_TIMER;
        TD_CHECK_INT(td_store_call(x->store, req), ==, TD_OK);
        for (int i = 0; i < req->out.tasks_read.n_tasks; i++) {
            int64_t f = req->out.tasks_read.tasks[i].fire_time_ns;
            n += f >= from && f <= to;
        }
        td_store_req_free(req);
    }
    return n;
}

static const char *rx_wf, *rx_run;

static int rx_row_gone(hf_t *x)
{
    return hf_store_exec(x, rx_wf, rx_run) == TD_ENOTFOUND;
}

static int rx_vis_gone(hf_t *x)
{
    return td_hist_idle(x->hist) && hf_store_vis(x, rx_run) == 0;
}

static int rx_vis_there(hf_t *x)
{
    return td_hist_idle(x->hist) && hf_store_vis(x, rx_run) == 1;
}

TD_TEST_T(hist_retention_deletes_closed_run, 60)
{
    hf_t xx, *x = &xx;
    char a[40], b[40], a2[40];
    int64_t t0, t1;

    rx_init(x, 1);
    hf_start_ok(x, "wf-a", a);
    hf_start_ok(x, "wf-b", b);
    t0 = td_now_wall_ns();
    TD_CHECK_INT(hf_terminate(x, "wf-a", a), ==, 0);
    t1 = td_now_wall_ns();
    /* the deletion is scheduled with the close, in the store: due at close + 1 s */
    TD_CHECK_INT(rx_timers_due(x, t0 + TD_MS_SECOND, t1 + TD_MS_SECOND), ==, 1);
    TD_CHECK_INT(hf_store_exec(x, "wf-a", a), ==, TD_OK);
    rx_wf = "wf-a";
    rx_run = a;
    hf_run_until(x, rx_vis_there, 5000);
    TD_CHECK_INT(hf_store_batches(x, a), >, 0);

    /* past retention: row, current pointer, history and visibility go */
    hf_run_until(x, rx_row_gone, 10000);
    TD_CHECK(td_now_wall_ns() >= t0 + TD_MS_SECOND);
    TD_CHECK_INT(hf_store_exec(x, "wf-a", NULL), ==, TD_ENOTFOUND);
    hf_run_until(x, rx_vis_gone, 5000);
    TD_CHECK_INT(hf_store_batches(x, a), ==, 0);
    /* the timer was acknowledged: nothing due any more for the run */
    hf_run_until(x, hf_idle, 5000);

    /* the running workflow of the namespace stays */
    TD_CHECK_INT(hf_store_exec(x, "wf-b", b), ==, TD_OK);
    TD_CHECK_INT(hf_store_exec(x, "wf-b", NULL), ==, TD_OK);
    TD_CHECK_INT(hf_store_vis(x, b), ==, 1);
    TD_CHECK_INT(hf_store_batches(x, b), >, 0);

    /* the id is free again */
    hf_start_ok(x, "wf-a", a2);
    TD_CHECK(strcmp(a, a2) != 0);
    TD_CHECK_INT(hf_store_exec(x, "wf-a", NULL), ==, TD_OK);
    hf_free(x);
}

TD_TEST_T(hist_retention_survives_restart, 60)
{
    hf_t xx, *x = &xx;
    char c[40];

    rx_init(x, 2);
    hf_start_ok(x, "wf-c", c);
    TD_CHECK_INT(hf_terminate(x, "wf-c", c), ==, 0);
    /* a new history instance on the same store: the timer is read back and fires */
    hf_server_stop(x);
    hf_server_start(x);
    TD_CHECK_INT(hf_store_exec(x, "wf-c", c), ==, TD_OK);
    rx_wf = "wf-c";
    rx_run = c;
    hf_run_until(x, rx_row_gone, 10000);
    hf_run_until(x, rx_vis_gone, 5000);
    TD_CHECK_INT(hf_store_batches(x, c), ==, 0);
    hf_free(x);
}

static void rx_deleted(void *arg, int rc, const char *msg)
{
    (void)arg;
    (void)msg;
    rx_cb_done = 1;
    rx_cb_rc = rc;
}

static int rx_delete_closed(hf_t *x, const char *wf, const char *run)
{
    rx_cb_done = 0;
    td_hist__delete_run(x->hist, x->ns, wf, run, TD_HIST_DELETE_CLOSED, rx_deleted, x);
    hf_run(x, &rx_cb_done, 10000);
    return rx_cb_rc;
}

TD_TEST_T(hist_retention_running_kept_cut_short_finished, 60)
{
    hf_t xx, *x = &xx;
    char d[40], e[40];
    td_store_req_t *req;

    rx_init(x, 3600);
    /* a running run is left alone */
    hf_start_ok(x, "wf-d", d);
    TD_CHECK_INT(rx_delete_closed(x, "wf-d", d), ==, TD_OK);
    TD_CHECK_INT(hf_store_exec(x, "wf-d", d), ==, TD_OK);
    TD_CHECK_INT(hf_store_exec(x, "wf-d", NULL), ==, TD_OK);
    TD_CHECK_INT(hf_store_batches(x, d), >, 0);

    /* a closed run whose row is already gone: history and visibility are deleted too */
    hf_start_ok(x, "wf-e", e);
    TD_CHECK_INT(hf_terminate(x, "wf-e", e), ==, 0);
    rx_wf = "wf-e";
    rx_run = e;
    hf_run_until(x, rx_vis_there, 5000);
    req = td_store_req_new(TD_STORE_OP_EXEC_DELETE);
    req->in.exec_del.namespace_id = x->ns;
    req->in.exec_del.workflow_id = "wf-e";
    req->in.exec_del.run_id = e;
    TD_CHECK_INT(td_store_call(x->store, req), ==, TD_OK);
    td_store_req_free(req);
    TD_CHECK_INT(hf_store_batches(x, e), >, 0);
    TD_CHECK_INT(rx_delete_closed(x, "wf-e", e), ==, TD_OK);
    TD_CHECK_INT(hf_store_batches(x, e), ==, 0);
    TD_CHECK_INT(hf_store_vis(x, e), ==, 0);
    /* and again: nothing left, still fine */
    TD_CHECK_INT(rx_delete_closed(x, "wf-e", e), ==, TD_OK);
    hf_free(x);
}
