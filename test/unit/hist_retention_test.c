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

#include "config.h"
#include "error.h"
#include "history_ms_fixture.h"
#include "historyservice.pb-c.h"
#include "loop.h"
#include "matchingservice.pb-c.h"
#include "roles/history/hist.h"
#include "roles/history/hist_int.h"
#include "roles/nsreg.h"
#include "roles/role.h"
#include "roles/svc.h"
#include "server.h"
#include "store/store.h"

#define WSD(x) temporal__api__workflowservice__v1__##x##__descriptor
#define HSD(x) temporald__historyservice__##x##__descriptor

typedef struct {
    td_loop_t *loop;
    td_store_t *store;
    td_config_t cfg;
    td_server_t srv;
    td_nsreg_t *nsreg;
    void *hist;
    char dbpath[64];
    char ns[40]; /* the namespace id */
    int n_starts;
    int done, status, del_done, del_rc;
    uint8_t *resp;
    size_t resp_len;
    fx_t fx;
} rx_t;

static void rx_add_task(td_rpc_call_t *c, void *ctx)
{
    Temporald__Matchingservice__AddWorkflowTaskResponse resp =
            TEMPORALD__MATCHINGSERVICE__ADD_WORKFLOW_TASK_RESPONSE__INIT;
    (void)ctx;
    td_rpc_reply(c, &resp.base);
}

static void rx_tick(void *arg)
{
    td_loop_stop(((rx_t *)arg)->loop);
}

typedef int (*rx_pred)(rx_t *x);

static int rx_run_until(rx_t *x, rx_pred pred, int timeout_ms)
{
    td_timer_t *t = td_timer_new(x->loop, rx_tick, x);
    int64_t end = td_now_mono_ms() + timeout_ms;
    int ok;

    while (!(ok = pred(x)) && td_now_mono_ms() <= end) {
        td_timer_start(t, 2);
        td_loop_run(x->loop);
    }
    td_timer_free(t);
    return ok;
}

static int rx_ready(rx_t *x)
{
    return td_hist_ready(x->hist);
}

static int rx_done(rx_t *x)
{
    return x->done;
}

static int rx_idle(rx_t *x)
{
    return td_hist_idle(x->hist);
}

static void rx_hist_start(rx_t *x)
{
    td_rpc_method_t mw = { TD_SVC_MATCHING "AddWorkflowTask",
                           &temporald__matchingservice__add_workflow_task_request__descriptor,
                           rx_add_task, x };
    td_rpc_method_t ma = { TD_SVC_MATCHING "AddActivityTask",
                           &temporald__matchingservice__add_activity_task_request__descriptor,
                           rx_add_task, x };

    TD_CHECK_INT(td_svc_register(&x->srv, &mw), ==, TD_OK);
    TD_CHECK_INT(td_svc_register(&x->srv, &ma), ==, TD_OK);
    TD_CHECK_INT(td_role_history.init(&x->srv, &x->hist), ==, TD_OK);
    TD_CHECK_INT(td_role_history.start(x->hist), ==, TD_OK);
    TD_CHECK(rx_run_until(x, rx_ready, 5000));
}

static void rx_drained(void *arg)
{
    (void)arg;
}

static void rx_hist_stop(rx_t *x)
{
    TD_CHECK(rx_run_until(x, rx_idle, 5000));
    td_role_history.drain(x->hist, rx_drained, NULL);
    td_role_history.stop(x->hist);
    x->hist = NULL;
    td_svc_free(&x->srv);
}

static void rx_ns_created(int rc, const char *msg, void *arg)
{
    rx_t *x = arg;
    (void)msg;
    x->done = 1;
    x->status = rc;
}

/* A store and history with the namespace "rt" of retention `secs` seconds (no jitter). */
static void rx_init(rx_t *x, int64_t secs)
{
    td_store_options_t opt = { 0 };
    char err[256], url[128];
    Temporald__Namespace__NamespaceRecord rec = TEMPORALD__NAMESPACE__NAMESPACE_RECORD__INIT;
    Temporal__Api__Namespace__V1__NamespaceInfo info =
            TEMPORAL__API__NAMESPACE__V1__NAMESPACE_INFO__INIT;
    Temporal__Api__Namespace__V1__NamespaceConfig nc =
            TEMPORAL__API__NAMESPACE__V1__NAMESPACE_CONFIG__INIT;
    Google__Protobuf__Duration ttl = GOOGLE__PROTOBUF__DURATION__INIT;
    int fd;

    memset(x, 0, sizeof(*x));
    fx_init(&x->fx);
    x->loop = td_loop_new();
    td_config_init(&x->cfg);
    x->cfg.num_history_shards = 2;
    td_strlist_add(&x->cfg.dynamic_config, "history.retentionTimerJitterDuration=\"0s\"");
    snprintf(x->dbpath, sizeof(x->dbpath), "/tmp/hist_ret_XXXXXX");
    fd = mkstemp(x->dbpath);
    TD_CHECK(fd >= 0);
    close(fd);
    unlink(x->dbpath);
    opt.loop = x->loop;
    opt.schema = TD_STORE_SCHEMA_AUTO;
    opt.sqlite_synchronous = "OFF";
    snprintf(url, sizeof(url), "sqlite://%s", x->dbpath);
    TD_CHECK_INT(td_store_open(url, &opt, &x->store, err, sizeof(err)), ==, TD_OK);
    x->nsreg = td_nsreg_new(x->store);
    info.name = (char *)"rt";
    info.id = (char *)"00000000-0000-0000-0000-000000000000";
    ttl.seconds = secs;
    nc.workflow_execution_retention_ttl = &ttl;
    rec.info = &info;
    rec.config = &nc;
    td_nsreg_create(x->nsreg, &rec, rx_ns_created, x);
    TD_CHECK(rx_run_until(x, rx_done, 5000));
    TD_CHECK_INT(x->status, ==, TD_OK);
    snprintf(x->ns, sizeof(x->ns), "%s", td_nsreg_by_name(x->nsreg, "rt")->id);
    x->srv.config = &x->cfg;
    x->srv.loop = x->loop;
    x->srv.store = x->store;
    x->srv.nsreg = x->nsreg;
    rx_hist_start(x);
}

static void rx_free(rx_t *x)
{
    char p[96];

    rx_hist_stop(x);
    td_nsreg_free(x->nsreg);
    td_store_close(x->store);
    td_config_destroy(&x->cfg);
    td_loop_free(x->loop);
    fx_free(&x->fx);
    free(x->resp);
    unlink(x->dbpath);
    snprintf(p, sizeof(p), "%s-wal", x->dbpath);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", x->dbpath);
    unlink(p);
}

static void rx_call_done(const ProtobufCMessage *resp, int status, const char *message,
                         const ProtobufCMessage *detail, void *arg)
{
    rx_t *x = arg;

    (void)detail;
    (void)message;
    x->done = 1;
    x->status = status;
    free(x->resp);
    x->resp = NULL;
    x->resp_len = 0;
    if (resp != NULL) {
        x->resp_len = protobuf_c_message_get_packed_size(resp);
        x->resp = malloc(x->resp_len + 1);
        protobuf_c_message_pack(resp, x->resp);
    }
}

static int rx_call(rx_t *x, const char *method, const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *rd, void **out)
{
    char path[160];

    snprintf(path, sizeof(path), "%s%s", TD_SVC_HISTORY, method);
    x->done = 0;
    td_svc_call(&x->srv, path, req, 0, rx_call_done, x);
    TD_CHECK(rx_run_until(x, rx_done, 10000));
    if (out != NULL) {
        *out = NULL;
        if (x->status == 0 && rd != NULL) {
            *out = protobuf_c_message_unpack(rd, td_arena_pb(&x->fx.arena), x->resp_len, x->resp);
            TD_CHECK(*out != NULL);
        }
    }
    return x->status;
}

static void *rx_pb(rx_t *x, const ProtobufCMessageDescriptor *d)
{
    void *m = td_arena_calloc(&x->fx.arena, d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

static void rx_start(rx_t *x, const char *wf, char run[40])
{
    Temporald__Historyservice__StartWorkflowExecutionRequest *r =
            rx_pb(x, &HSD(start_workflow_execution_request));
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionResponse *resp = NULL;

    r->namespace_id = x->ns;
    r->request = fx_start_req(&x->fx);
    r->request->workflow_id = td_arena_strdup(&x->fx.arena, wf);
    r->request->request_id = td_arena_printf(&x->fx.arena, "%s-%d", wf, ++x->n_starts);
    TD_CHECK_INT(rx_call(x, "StartWorkflowExecution", &r->base,
                         &WSD(start_workflow_execution_response), (void **)&resp),
                 ==, 0);
    snprintf(run, 40, "%s", resp->run_id);
}

static void rx_terminate(rx_t *x, const char *wf, const char *run)
{
    Temporald__Historyservice__TerminateWorkflowExecutionRequest *t =
            rx_pb(x, &HSD(terminate_workflow_execution_request));
    t->namespace_id = x->ns;
    t->request = rx_pb(x, &WSD(terminate_workflow_execution_request));
    t->request->workflow_execution =
            rx_pb(x, &temporal__api__common__v1__workflow_execution__descriptor);
    t->request->workflow_execution->workflow_id = (char *)wf;
    t->request->workflow_execution->run_id = (char *)run;
    TD_CHECK_INT(rx_call(x, "TerminateWorkflowExecution", &t->base, NULL, NULL), ==, 0);
}

/* Store look-ups: the row (run NULL: the current one), history batches, visibility. */
static int rx_exec(rx_t *x, const char *wf, const char *run)
{
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_EXEC_GET);
    int rc;

    req->in.exec_get.namespace_id = x->ns;
    req->in.exec_get.workflow_id = wf;
    req->in.exec_get.run_id = run;
    rc = td_store_call(x->store, req);
    td_store_req_free(req);
    return rc;
}

static int rx_batches(rx_t *x, const char *run)
{
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_HISTORY_READ);
    int n;

    req->in.hist_read.tree_id = run;
    req->in.hist_read.branch_id = run;
    req->in.hist_read.min_event_id = 1;
    TD_CHECK_INT(td_store_call(x->store, req), ==, TD_OK);
    n = req->out.hist_read.n_batches;
    td_store_req_free(req);
    return n;
}

static int rx_vis(rx_t *x, const char *run)
{
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_VIS_LIST);
    int n = 0;

    req->in.vis_query.namespace_id = x->ns;
    TD_CHECK_INT(td_store_call(x->store, req), ==, TD_OK);
    for (int i = 0; i < req->out.vis_list.n_recs; i++) {
        n += strcmp(req->out.vis_list.recs[i].run_id, run) == 0;
    }
    td_store_req_free(req);
    return n;
}

/* Timer tasks stored for every shard due in [from, to] (ns). */
static int rx_timers_due(rx_t *x, int64_t from, int64_t to)
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

static int rx_row_gone(rx_t *x)
{
    return rx_exec(x, rx_wf, rx_run) == TD_ENOTFOUND;
}

static int rx_vis_gone(rx_t *x)
{
    return td_hist_idle(x->hist) && rx_vis(x, rx_run) == 0;
}

static int rx_vis_there(rx_t *x)
{
    return td_hist_idle(x->hist) && rx_vis(x, rx_run) == 1;
}

TD_TEST_T(hist_retention_deletes_closed_run, 60)
{
    rx_t xx, *x = &xx;
    char a[40], b[40], a2[40];
    int64_t t0, t1;

    rx_init(x, 1);
    rx_start(x, "wf-a", a);
    rx_start(x, "wf-b", b);
    t0 = td_now_wall_ns();
    rx_terminate(x, "wf-a", a);
    t1 = td_now_wall_ns();
    /* the deletion is scheduled with the close, in the store: due at close + 1 s */
    TD_CHECK_INT(rx_timers_due(x, t0 + TD_MS_SECOND, t1 + TD_MS_SECOND), ==, 1);
    TD_CHECK_INT(rx_exec(x, "wf-a", a), ==, TD_OK);
    rx_wf = "wf-a";
    rx_run = a;
    TD_CHECK(rx_run_until(x, rx_vis_there, 5000));
    TD_CHECK_INT(rx_batches(x, a), >, 0);

    /* past retention: row, current pointer, history and visibility go */
    TD_CHECK(rx_run_until(x, rx_row_gone, 10000));
    TD_CHECK(td_now_wall_ns() >= t0 + TD_MS_SECOND);
    TD_CHECK_INT(rx_exec(x, "wf-a", NULL), ==, TD_ENOTFOUND);
    TD_CHECK(rx_run_until(x, rx_vis_gone, 5000));
    TD_CHECK_INT(rx_batches(x, a), ==, 0);
    /* the timer was acknowledged: nothing due any more for the run */
    TD_CHECK(rx_run_until(x, rx_idle, 5000));

    /* the running workflow of the namespace stays */
    TD_CHECK_INT(rx_exec(x, "wf-b", b), ==, TD_OK);
    TD_CHECK_INT(rx_exec(x, "wf-b", NULL), ==, TD_OK);
    TD_CHECK_INT(rx_vis(x, b), ==, 1);
    TD_CHECK_INT(rx_batches(x, b), >, 0);

    /* the id is free again */
    rx_start(x, "wf-a", a2);
    TD_CHECK(strcmp(a, a2) != 0);
    TD_CHECK_INT(rx_exec(x, "wf-a", NULL), ==, TD_OK);
    rx_free(x);
}

TD_TEST_T(hist_retention_survives_restart, 60)
{
    rx_t xx, *x = &xx;
    char c[40];

    rx_init(x, 2);
    rx_start(x, "wf-c", c);
    rx_terminate(x, "wf-c", c);
    /* a new history instance on the same store: the timer is read back and fires */
    rx_hist_stop(x);
    rx_hist_start(x);
    TD_CHECK_INT(rx_exec(x, "wf-c", c), ==, TD_OK);
    rx_wf = "wf-c";
    rx_run = c;
    TD_CHECK(rx_run_until(x, rx_row_gone, 10000));
    TD_CHECK(rx_run_until(x, rx_vis_gone, 5000));
    TD_CHECK_INT(rx_batches(x, c), ==, 0);
    rx_free(x);
}

static void rx_deleted(void *arg, int rc, const char *msg)
{
    rx_t *x = arg;
    (void)msg;
    x->del_done = 1;
    x->del_rc = rc;
}

static int rx_del_done(rx_t *x)
{
    return x->del_done;
}

static int rx_delete_closed(rx_t *x, const char *wf, const char *run)
{
    x->del_done = 0;
    td_hist__delete_run(x->hist, x->ns, wf, run, TD_HIST_DELETE_CLOSED, rx_deleted, x);
    TD_CHECK(rx_run_until(x, rx_del_done, 10000));
    return x->del_rc;
}

TD_TEST_T(hist_retention_running_kept_cut_short_finished, 60)
{
    rx_t xx, *x = &xx;
    char d[40], e[40];
    td_store_req_t *req;

    rx_init(x, 3600);
    /* a running run is left alone */
    rx_start(x, "wf-d", d);
    TD_CHECK_INT(rx_delete_closed(x, "wf-d", d), ==, TD_OK);
    TD_CHECK_INT(rx_exec(x, "wf-d", d), ==, TD_OK);
    TD_CHECK_INT(rx_exec(x, "wf-d", NULL), ==, TD_OK);
    TD_CHECK_INT(rx_batches(x, d), >, 0);

    /* a closed run whose row is already gone: history and visibility are deleted too */
    rx_start(x, "wf-e", e);
    rx_terminate(x, "wf-e", e);
    rx_wf = "wf-e";
    rx_run = e;
    TD_CHECK(rx_run_until(x, rx_vis_there, 5000));
    req = td_store_req_new(TD_STORE_OP_EXEC_DELETE);
    req->in.exec_del.namespace_id = x->ns;
    req->in.exec_del.workflow_id = "wf-e";
    req->in.exec_del.run_id = e;
    TD_CHECK_INT(td_store_call(x->store, req), ==, TD_OK);
    td_store_req_free(req);
    TD_CHECK_INT(rx_batches(x, e), >, 0);
    TD_CHECK_INT(rx_delete_closed(x, "wf-e", e), ==, TD_OK);
    TD_CHECK_INT(rx_batches(x, e), ==, 0);
    TD_CHECK_INT(rx_vis(x, e), ==, 0);
    /* and again: nothing left, still fine */
    TD_CHECK_INT(rx_delete_closed(x, "wf-e", e), ==, TD_OK);
    rx_free(x);
}
