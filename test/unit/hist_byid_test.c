/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The history service's by-id activity answers and DeleteWorkflowExecution (hist_byid.c) over
 * a real SQLite store: a workflow schedules an activity, matching (faked) hands it out, and
 * the test answers it by workflow id and activity id (current run and named run), checks
 * NOT_FOUND for unknown activities, then deletes runs (running and closed) and checks that
 * the row, the current pointer, the history and the visibility record are gone.
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
#include "roles/role.h"
#include "roles/svc.h"
#include "server.h"
#include "store/store.h"

#define BNS    "5b0e7c22-2222-4333-8444-555566667777"
#define WSD(x) temporal__api__workflowservice__v1__##x##__descriptor
#define HSD(x) temporald__historyservice__##x##__descriptor

typedef struct {
    td_loop_t *loop;
    td_store_t *store;
    td_config_t cfg;
    td_server_t srv;
    void *hist;
    char dbpath[64];
    int n_wft, n_act, n_starts;
    int64_t act_sid;
    int done, status;
    char msg[256];
    uint8_t *resp;
    size_t resp_len;
    fx_t fx;
} bx_t;

static void bx_add_wft(td_rpc_call_t *c, void *ctx)
{
    bx_t *x = ctx;
    Temporald__Matchingservice__AddWorkflowTaskResponse resp =
            TEMPORALD__MATCHINGSERVICE__ADD_WORKFLOW_TASK_RESPONSE__INIT;
    x->n_wft++;
    td_rpc_reply(c, &resp.base);
}

static void bx_add_act(td_rpc_call_t *c, void *ctx)
{
    bx_t *x = ctx;
    const Temporald__Matchingservice__AddActivityTaskRequest *r = (const void *)td_rpc_request(c);
    Temporald__Matchingservice__AddActivityTaskResponse resp =
            TEMPORALD__MATCHINGSERVICE__ADD_ACTIVITY_TASK_RESPONSE__INIT;
    x->n_act++;
    x->act_sid = r->scheduled_event_id;
    td_rpc_reply(c, &resp.base);
}

static void bx_tick(void *arg)
{
    td_loop_stop(((bx_t *)arg)->loop);
}

typedef int (*bx_pred)(bx_t *x);

static void bx_run_until(bx_t *x, bx_pred pred, int timeout_ms)
{
    td_timer_t *t = td_timer_new(x->loop, bx_tick, x);
    int64_t end = td_now_mono_ms() + timeout_ms;

    while (!pred(x)) {
        if (td_now_mono_ms() > end) {
            td_timer_free(t);
            td_test_fail(__FILE__, __LINE__, "timed out waiting");
        }
        td_timer_start(t, 2);
        td_loop_run(x->loop);
    }
    td_timer_free(t);
}

static int bx_ready(bx_t *x)
{
    return td_hist_ready(x->hist);
}

static int bx_done(bx_t *x)
{
    return x->done;
}

static int bx_idle(bx_t *x)
{
    return td_hist_idle(x->hist);
}

static int bx_has_act(bx_t *x)
{
    return x->n_act > 0;
}

static void bx_init(bx_t *x)
{
    td_store_options_t opt = { 0 };
    td_rpc_method_t mw = { TD_SVC_MATCHING "AddWorkflowTask",
                           &temporald__matchingservice__add_workflow_task_request__descriptor,
                           bx_add_wft, x };
    td_rpc_method_t ma = { TD_SVC_MATCHING "AddActivityTask",
                           &temporald__matchingservice__add_activity_task_request__descriptor,
                           bx_add_act, x };
    char err[256], url[128];
    int fd;

    memset(x, 0, sizeof(*x));
    fx_init(&x->fx);
    x->loop = td_loop_new();
    td_config_init(&x->cfg);
    x->cfg.num_history_shards = 2;
    snprintf(x->dbpath, sizeof(x->dbpath), "/tmp/hist_byid_XXXXXX");
    fd = mkstemp(x->dbpath);
    TD_CHECK(fd >= 0);
    close(fd);
    unlink(x->dbpath);
    opt.loop = x->loop;
    opt.schema = TD_STORE_SCHEMA_AUTO;
    opt.sqlite_synchronous = "OFF";
    snprintf(url, sizeof(url), "sqlite://%s", x->dbpath);
    TD_CHECK_INT(td_store_open(url, &opt, &x->store, err, sizeof(err)), ==, TD_OK);
    x->srv.config = &x->cfg;
    x->srv.loop = x->loop;
    x->srv.store = x->store;
    TD_CHECK_INT(td_svc_register(&x->srv, &mw), ==, TD_OK);
    TD_CHECK_INT(td_svc_register(&x->srv, &ma), ==, TD_OK);
    TD_CHECK_INT(td_role_history.init(&x->srv, &x->hist), ==, TD_OK);
    TD_CHECK_INT(td_role_history.start(x->hist), ==, TD_OK);
    bx_run_until(x, bx_ready, 5000);
}

static void bx_drained(void *arg)
{
    (void)arg;
}

static void bx_free(bx_t *x)
{
    char p[96];

    bx_run_until(x, bx_idle, 5000);
    td_role_history.drain(x->hist, bx_drained, NULL);
    td_role_history.stop(x->hist);
    td_svc_free(&x->srv);
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

static void bx_call_done(const ProtobufCMessage *resp, int status, const char *message,
                         const ProtobufCMessage *detail, void *arg)
{
    bx_t *x = arg;

    (void)detail;
    x->done = 1;
    x->status = status;
    snprintf(x->msg, sizeof(x->msg), "%s", message ? message : "");
    free(x->resp);
    x->resp = NULL;
    x->resp_len = 0;
    if (resp != NULL) {
        x->resp_len = protobuf_c_message_get_packed_size(resp);
        x->resp = malloc(x->resp_len + 1);
        protobuf_c_message_pack(resp, x->resp);
    }
}

static int bx_call(bx_t *x, const char *method, const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *rd, void **out)
{
    char path[160];

    snprintf(path, sizeof(path), "%s%s", TD_SVC_HISTORY, method);
    x->done = 0;
    td_svc_call(&x->srv, path, req, 0, bx_call_done, x);
    bx_run_until(x, bx_done, 10000);
    if (out != NULL) {
        *out = NULL;
        if (x->status == 0 && rd != NULL) {
            *out = protobuf_c_message_unpack(rd, td_arena_pb(&x->fx.arena), x->resp_len, x->resp);
            TD_CHECK(*out != NULL);
        }
    }
    return x->status;
}

static void *bx_pb(bx_t *x, const ProtobufCMessageDescriptor *d)
{
    void *m = td_arena_calloc(&x->fx.arena, d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

static Temporal__Api__Common__V1__WorkflowExecution *bx_we(bx_t *x, const char *wf, const char *run)
{
    Temporal__Api__Common__V1__WorkflowExecution *we =
            bx_pb(x, &temporal__api__common__v1__workflow_execution__descriptor);
    we->workflow_id = td_arena_strdup(&x->fx.arena, wf);
    we->run_id = td_arena_strdup(&x->fx.arena, run ? run : "");
    return we;
}

static void bx_start(bx_t *x, const char *wf, char run[40])
{
    Temporald__Historyservice__StartWorkflowExecutionRequest *r =
            bx_pb(x, &HSD(start_workflow_execution_request));
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionResponse *resp = NULL;

    r->namespace_id = (char *)BNS;
    r->request = fx_start_req(&x->fx);
    r->request->workflow_id = td_arena_strdup(&x->fx.arena, wf);
    r->request->request_id = td_arena_printf(&x->fx.arena, "%s-%d", wf, ++x->n_starts);
    TD_CHECK_INT(bx_call(x, "StartWorkflowExecution", &r->base,
                         &WSD(start_workflow_execution_response), (void **)&resp),
                 ==, 0);
    snprintf(run, 40, "%s", resp->run_id);
}

/* Starts wf, runs its first workflow task (scheduling activity `act_id`) and, when `started`,
 * hands the activity out. */
static void bx_start_with_activity(bx_t *x, const char *wf, const char *act_id, int started,
                                   char run[40])
{
    Temporald__Historyservice__RecordWorkflowTaskStartedRequest *ws =
            bx_pb(x, &HSD(record_workflow_task_started_request));
    Temporald__Historyservice__RespondWorkflowTaskCompletedRequest *wc =
            bx_pb(x, &HSD(respond_workflow_task_completed_request));
    Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse *p = NULL;

    x->n_act = 0;
    bx_start(x, wf, run);
    ws->namespace_id = (char *)BNS;
    ws->execution = bx_we(x, wf, run);
    ws->scheduled_event_id = 2;
    ws->request_id = (char *)"poll-1";
    ws->poll_request = bx_pb(x, &WSD(poll_workflow_task_queue_request));
    ws->task_queue = bx_pb(x, &temporal__api__taskqueue__v1__task_queue__descriptor);
    ws->task_queue->name = (char *)"tq";
    ws->task_queue->kind = TQK(NORMAL);
    TD_CHECK_INT(bx_call(x, "RecordWorkflowTaskStarted", &ws->base,
                         &WSD(poll_workflow_task_queue_response), (void **)&p),
                 ==, 0);
    wc->namespace_id = (char *)BNS;
    wc->request = fx_complete_req(&x->fx, 1, fx_cmd_activity(&x->fx, act_id, SEC(30), 0));
    wc->request->task_token = p->task_token;
    TD_CHECK_INT(bx_call(x, "RespondWorkflowTaskCompleted", &wc->base, NULL, NULL), ==, 0);
    bx_run_until(x, bx_has_act, 5000);
    if (started) {
        Temporald__Historyservice__RecordActivityTaskStartedRequest *as =
                bx_pb(x, &HSD(record_activity_task_started_request));
        as->namespace_id = (char *)BNS;
        as->execution = bx_we(x, wf, run);
        as->scheduled_event_id = x->act_sid;
        as->attempt = 1;
        as->request_id = (char *)"act-poll-1";
        as->poll_request = bx_pb(x, &WSD(poll_activity_task_queue_request));
        TD_CHECK_INT(bx_call(x, "RecordActivityTaskStarted", &as->base, NULL, NULL), ==, 0);
    }
}

static Temporal__Api__History__V1__History *bx_history(bx_t *x, const char *wf, const char *run,
                                                       int *status)
{
    Temporald__Historyservice__GetWorkflowExecutionHistoryRequest *r =
            bx_pb(x, &HSD(get_workflow_execution_history_request));
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *resp = NULL;

    r->namespace_id = (char *)BNS;
    r->request = bx_pb(x, &WSD(get_workflow_execution_history_request));
    r->request->execution = bx_we(x, wf, run);
    *status = bx_call(x, "GetWorkflowExecutionHistory", &r->base,
                      &WSD(get_workflow_execution_history_response), (void **)&resp);
    return resp != NULL ? resp->history : NULL;
}

static int bx_last_event(bx_t *x, const char *wf, const char *run)
{
    int st = 0;
    Temporal__Api__History__V1__History *h = bx_history(x, wf, run, &st);

    TD_CHECK_INT(st, ==, 0);
    TD_CHECK(h != NULL && h->n_events > 0);
    return (int)h->events[h->n_events - 1]->event_type;
}

static int bx_has_event(bx_t *x, const char *wf, const char *run, int type)
{
    int st = 0;
    Temporal__Api__History__V1__History *h = bx_history(x, wf, run, &st);

    TD_CHECK_INT(st, ==, 0);
    for (size_t i = 0; h != NULL && i < h->n_events; i++) {
        if ((int)h->events[i]->event_type == type) {
            return 1;
        }
    }
    return 0;
}

static int bx_complete_by_id(bx_t *x, const char *wf, const char *run, const char *act_id)
{
    Temporald__Historyservice__RespondActivityTaskCompletedByIdRequest *r =
            bx_pb(x, &HSD(respond_activity_task_completed_by_id_request));
    r->namespace_id = (char *)BNS;
    r->request = bx_pb(x, &WSD(respond_activity_task_completed_by_id_request));
    r->request->namespace_ = (char *)"default";
    r->request->workflow_id = (char *)wf;
    r->request->run_id = (char *)(run ? run : "");
    r->request->activity_id = (char *)act_id;
    r->request->result = fx_payloads(&x->fx, "\"async\"");
    r->request->identity = (char *)"async-client";
    return bx_call(x, "RespondActivityTaskCompletedById", &r->base,
                   &WSD(respond_activity_task_completed_by_id_response), NULL);
}

TD_TEST_T(hist_byid_complete_heartbeat_fail_cancel, 60)
{
    bx_t xx, *x = &xx;
    char run[40], run2[40], run3[40];
    Temporald__Historyservice__RecordActivityTaskHeartbeatByIdRequest *hb;
    Temporal__Api__Workflowservice__V1__RecordActivityTaskHeartbeatByIdResponse *hr = NULL;

    bx_init(x);

    /* an activity scheduled but not started yet is not found by id */
    bx_start_with_activity(x, "wf-a", "act-1", 0, run);
    TD_CHECK_INT(bx_complete_by_id(x, "wf-a", "", "act-1"), ==, TD_GRPC_NOT_FOUND);
    TD_CHECK_CONTAINS(x->msg, "activity");

    /* unknown workflow and unknown activity id: NOT_FOUND */
    TD_CHECK_INT(bx_complete_by_id(x, "wf-none", "", "act-1"), ==, TD_GRPC_NOT_FOUND);

    /* started: a heartbeat by id on the current run, then completion by id */
    bx_start_with_activity(x, "wf-b", "act-1", 1, run);
    TD_CHECK_INT(bx_complete_by_id(x, "wf-b", "", "act-nope"), ==, TD_GRPC_NOT_FOUND);
    hb = bx_pb(x, &HSD(record_activity_task_heartbeat_by_id_request));
    hb->namespace_id = (char *)BNS;
    hb->request = bx_pb(x, &WSD(record_activity_task_heartbeat_by_id_request));
    hb->request->workflow_id = (char *)"wf-b";
    hb->request->activity_id = (char *)"act-1";
    hb->request->details = fx_payloads(&x->fx, "\"half\"");
    TD_CHECK_INT(bx_call(x, "RecordActivityTaskHeartbeatById", &hb->base,
                         &WSD(record_activity_task_heartbeat_by_id_response), (void **)&hr),
                 ==, 0);
    TD_CHECK(!hr->cancel_requested);
    TD_CHECK_INT(bx_complete_by_id(x, "wf-b", run, "act-1"), ==, 0);
    TD_CHECK_INT(bx_last_event(x, "wf-b", run), ==, ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK(bx_has_event(x, "wf-b", run, ET(ACTIVITY_TASK_COMPLETED)));
    /* the same completion again: the activity is gone */
    TD_CHECK_INT(bx_complete_by_id(x, "wf-b", run, "act-1"), ==, TD_GRPC_NOT_FOUND);
    /* a wrong run id: NOT_FOUND */
    TD_CHECK_INT(bx_complete_by_id(x, "wf-b", "00000000-0000-4000-8000-000000000000", "act-1"), ==,
                 TD_GRPC_NOT_FOUND);

    /* failure by id: the retry policy allows more attempts, so the activity backs off */
    bx_start_with_activity(x, "wf-c", "act-1", 1, run2);
    {
        Temporald__Historyservice__RespondActivityTaskFailedByIdRequest *r =
                bx_pb(x, &HSD(respond_activity_task_failed_by_id_request));
        Temporal__Api__Failure__V1__Failure *f =
                bx_pb(x, &temporal__api__failure__v1__failure__descriptor);
        f->message = (char *)"boom";
        r->namespace_id = (char *)BNS;
        r->request = bx_pb(x, &WSD(respond_activity_task_failed_by_id_request));
        r->request->workflow_id = (char *)"wf-c";
        r->request->activity_id = (char *)"act-1";
        r->request->failure = f;
        TD_CHECK_INT(bx_call(x, "RespondActivityTaskFailedById", &r->base, NULL, NULL), ==, 0);
        /* the activity went back to its retry backoff: not started, so not found now */
        TD_CHECK_INT(bx_call(x, "RespondActivityTaskFailedById", &r->base, NULL, NULL), ==,
                     TD_GRPC_NOT_FOUND);
    }

    /* cancel by id without a cancel request from the workflow: rejected by the transition */
    bx_start_with_activity(x, "wf-d", "act-1", 1, run3);
    {
        Temporald__Historyservice__RespondActivityTaskCanceledByIdRequest *r =
                bx_pb(x, &HSD(respond_activity_task_canceled_by_id_request));
        r->namespace_id = (char *)BNS;
        r->request = bx_pb(x, &WSD(respond_activity_task_canceled_by_id_request));
        r->request->workflow_id = (char *)"wf-d";
        r->request->activity_id = (char *)"act-1";
        TD_CHECK_INT(bx_call(x, "RespondActivityTaskCanceledById", &r->base, NULL, NULL), !=, 0);
        /* the activity is still there: completing it by id works */
        TD_CHECK_INT(bx_complete_by_id(x, "wf-d", run3, "act-1"), ==, 0);
    }

    /* requests missing ids are invalid */
    TD_CHECK_INT(bx_complete_by_id(x, "wf-d", "", ""), ==, TD_GRPC_INVALID_ARGUMENT);
    bx_free(x);
}

static int bx_delete(bx_t *x, const char *wf, const char *run)
{
    Temporald__Historyservice__DeleteWorkflowExecutionRequest *r =
            bx_pb(x, &HSD(delete_workflow_execution_request));
    r->namespace_id = (char *)BNS;
    r->request = bx_pb(x, &WSD(delete_workflow_execution_request));
    r->request->workflow_execution = bx_we(x, wf, run);
    return bx_call(x, "DeleteWorkflowExecution", &r->base, &WSD(delete_workflow_execution_response),
                   NULL);
}

/* Store look-ups: the row, the history batches and the visibility record of a run. */
static int bx_store_exec(bx_t *x, const char *wf, const char *run)
{
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_EXEC_GET);
    int rc;

    req->in.exec_get.namespace_id = BNS;
    req->in.exec_get.workflow_id = wf;
    req->in.exec_get.run_id = run;
    rc = td_store_call(x->store, req);
    td_store_req_free(req);
    return rc;
}

static int bx_store_batches(bx_t *x, const char *run)
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

static int bx_store_vis(bx_t *x, const char *run)
{
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_VIS_LIST);
    int n = 0;

    req->in.vis_query.namespace_id = BNS;
    TD_CHECK_INT(td_store_call(x->store, req), ==, TD_OK);
    for (int i = 0; i < req->out.vis_list.n_recs; i++) {
        n += strcmp(req->out.vis_list.recs[i].run_id, run) == 0;
    }
    td_store_req_free(req);
    return n;
}

TD_TEST_T(hist_byid_delete_running_and_closed, 60)
{
    bx_t xx, *x = &xx;
    char run[40], run2[40], run3[40];
    int st = 0;

    bx_init(x);

    /* a running run with a started activity: terminated, then everything goes */
    bx_start_with_activity(x, "wf-del", "act-1", 1, run);
    bx_run_until(x, bx_idle, 5000);
    TD_CHECK_INT(bx_store_exec(x, "wf-del", run), ==, TD_OK);
    TD_CHECK_INT(bx_store_batches(x, run), >, 0);
    TD_CHECK_INT(bx_store_vis(x, run), ==, 1);
    TD_CHECK_INT(bx_delete(x, "wf-del", ""), ==, 0);
    TD_CHECK_INT(bx_store_exec(x, "wf-del", run), ==, TD_ENOTFOUND);
    TD_CHECK_INT(bx_store_exec(x, "wf-del", NULL), ==, TD_ENOTFOUND); /* no current pointer */
    TD_CHECK_INT(bx_store_batches(x, run), ==, 0);
    TD_CHECK_INT(bx_store_vis(x, run), ==, 0);
    bx_history(x, "wf-del", run, &st);
    TD_CHECK_INT(st, ==, TD_GRPC_NOT_FOUND);
    TD_CHECK_INT(bx_complete_by_id(x, "wf-del", "", "act-1"), ==, TD_GRPC_NOT_FOUND);
    /* the termination's visibility task finds no run: the record stays gone */
    bx_run_until(x, bx_idle, 5000);
    TD_CHECK_INT(bx_store_vis(x, run), ==, 0);
    /* deleting again: NOT_FOUND */
    TD_CHECK_INT(bx_delete(x, "wf-del", run), ==, TD_GRPC_NOT_FOUND);

    /* the id can be started again afterwards (no current run left behind) */
    bx_start(x, "wf-del", run2);
    TD_CHECK(strcmp(run, run2) != 0);

    /* a closed older run named by id is deleted; the current run stays */
    {
        Temporald__Historyservice__TerminateWorkflowExecutionRequest *t =
                bx_pb(x, &HSD(terminate_workflow_execution_request));
        t->namespace_id = (char *)BNS;
        t->request = bx_pb(x, &WSD(terminate_workflow_execution_request));
        t->request->workflow_execution = bx_we(x, "wf-del", run2);
        TD_CHECK_INT(bx_call(x, "TerminateWorkflowExecution", &t->base, NULL, NULL), ==, 0);
    }
    bx_start(x, "wf-del", run3);
    TD_CHECK(strcmp(run2, run3) != 0);
    bx_run_until(x, bx_idle, 5000);
    TD_CHECK_INT(bx_delete(x, "wf-del", run2), ==, 0);
    TD_CHECK_INT(bx_store_exec(x, "wf-del", run2), ==, TD_ENOTFOUND);
    TD_CHECK_INT(bx_store_batches(x, run2), ==, 0);
    TD_CHECK_INT(bx_store_vis(x, run2), ==, 0);
    TD_CHECK_INT(bx_store_exec(x, "wf-del", NULL), ==, TD_OK); /* run3 still current */
    TD_CHECK_INT(bx_store_vis(x, run3), ==, 1);
    TD_CHECK_INT(bx_last_event(x, "wf-del", run3), ==, ET(WORKFLOW_TASK_SCHEDULED));

    /* bad requests */
    TD_CHECK_INT(bx_delete(x, "", ""), ==, TD_GRPC_INVALID_ARGUMENT);
    bx_free(x);
}
