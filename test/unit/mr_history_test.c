/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The matching role against the real history role, both hosted on one test server over a
 * SQLite file, called the way the frontend calls them (td_svc_call): a workflow is started in
 * history, its workflow task reaches a matching poll through history's AddWorkflowTask and
 * matching's RecordWorkflowTaskStarted call, the worker's completion schedules an activity
 * that a matching activity poll gets, a legacy query goes history -> matching -> poller ->
 * RespondQueryTaskCompleted -> back to the caller, and the workflow completes.
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
#include "roles/matching/mr_int.h"
#include "roles/role.h"
#include "roles/svc.h"
#include "server.h"
#include "store/store.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

typedef Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse wft_resp_t;
typedef Temporal__Api__Workflowservice__V1__PollActivityTaskQueueResponse act_resp_t;

typedef struct {
    td_rpc_call_t *handle;
    int done, status;
    char msg[256];
    uint8_t *resp;
    size_t resp_len;
} hr_res_t;

typedef struct {
    td_loop_t *loop;
    td_store_t *store;
    td_config_t cfg;
    td_server_t srv;
    void *hist, *match;
    char dbpath[64];
    fx_t fx;
    int drained;
} hr_t;

static void hr_tick(void *arg)
{
    td_loop_stop(((hr_t *)arg)->loop);
}

/* Runs the loop until *flag (or fn(x)) holds or ms pass; returns whether it holds. */
static int hr_run(hr_t *x, const int *flag, int (*fn)(hr_t *), int ms)
{
    td_timer_t *t = td_timer_new(x->loop, hr_tick, x);
    int64_t end = td_now_mono_ms() + ms;
    int ok = 0;

    while (!(ok = (flag != NULL && *flag) || (fn != NULL && fn(x))) && td_now_mono_ms() < end) {
        td_timer_start(t, 2);
        td_loop_run(x->loop);
    }
    td_timer_free(t);
    return ok;
}

static int hr_ready(hr_t *x)
{
    return td_hist_ready(x->hist);
}

static int hr_idle(hr_t *x)
{
    return td_hist_idle(x->hist);
}

static void hr_done(const ProtobufCMessage *resp, int status, const char *message,
                    const ProtobufCMessage *detail, void *arg)
{
    hr_res_t *r = arg;

    (void)detail;
    r->done = 1;
    r->handle = NULL;
    r->status = status;
    snprintf(r->msg, sizeof(r->msg), "%s", message != NULL ? message : "");
    if (resp != NULL) {
        r->resp_len = protobuf_c_message_get_packed_size(resp);
        r->resp = malloc(r->resp_len + 1);
        protobuf_c_message_pack(resp, r->resp);
    }
}

static void hr_res_free(hr_res_t *r)
{
    free(r->resp);
    memset(r, 0, sizeof(*r));
}

static void hr_call(hr_t *x, const char *path, const ProtobufCMessage *req, int64_t deadline_ms,
                    hr_res_t *r)
{
    hr_res_free(r);
    r->handle = td_svc_call(&x->srv, path, req,
                            deadline_ms > 0 ? td_now_mono_ms() + deadline_ms : 0, hr_done, r);
}

/* Waits for r and unpacks its response (status must be OK). */
static void *hr_wait(hr_t *x, hr_res_t *r, const ProtobufCMessageDescriptor *d)
{
    void *m;

    TD_CHECK(hr_run(x, &r->done, NULL, 15000));
    if (r->status != TD_GRPC_OK) {
        fprintf(stderr, "# call failed: %d %s\n", r->status, r->msg);
    }
    TD_CHECK_INT(r->status, ==, TD_GRPC_OK);
    m = protobuf_c_message_unpack(d, td_arena_pb(&x->fx.arena), r->resp_len, r->resp);
    TD_CHECK(m != NULL);
    return m;
}

static void *hr_pb(hr_t *x, const ProtobufCMessageDescriptor *d)
{
    void *m = td_arena_calloc(&x->fx.arena, d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

static void hr_init(hr_t *x)
{
    td_store_options_t opt;
    char err[256], url[128];
    int fd;

    memset(x, 0, sizeof(*x));
    fx_init(&x->fx);
    x->loop = td_loop_new();
    td_config_init(&x->cfg);
    x->cfg.num_history_shards = 2;
    snprintf(x->dbpath, sizeof(x->dbpath), "/tmp/mr_hist_XXXXXX");
    fd = mkstemp(x->dbpath);
    TD_CHECK(fd >= 0);
    close(fd);
    unlink(x->dbpath);
    memset(&opt, 0, sizeof(opt));
    opt.loop = x->loop;
    opt.schema = TD_STORE_SCHEMA_AUTO;
    opt.sqlite_synchronous = "OFF";
    snprintf(url, sizeof(url), "sqlite://%s", x->dbpath);
    TD_CHECK_INT(td_store_open(url, &opt, &x->store, err, sizeof(err)), ==, TD_OK);
    x->srv.config = &x->cfg;
    x->srv.loop = x->loop;
    x->srv.store = x->store;
    TD_CHECK_INT(td_role_history.init(&x->srv, &x->hist), ==, TD_OK);
    TD_CHECK_INT(td_role_matching.init(&x->srv, &x->match), ==, TD_OK);
    TD_CHECK_INT(td_role_history.start(x->hist), ==, TD_OK);
    TD_CHECK_INT(td_role_matching.start(x->match), ==, TD_OK);
    TD_CHECK(hr_run(x, NULL, hr_ready, 5000));
}

static void hr_drained(void *arg)
{
    ((hr_t *)arg)->drained++;
}

static int hr_both_drained(hr_t *x)
{
    return x->drained >= 2;
}

static void hr_free(hr_t *x)
{
    char p[96];

    TD_CHECK(hr_run(x, NULL, hr_idle, 5000));
    td_role_matching.drain(x->match, hr_drained, x);
    td_role_history.drain(x->hist, hr_drained, x);
    TD_CHECK(hr_run(x, NULL, hr_both_drained, 5000));
    td_role_matching.stop(x->match);
    td_role_history.stop(x->hist);
    td_svc_free(&x->srv);
    td_store_close(x->store);
    hr_run(x, NULL, NULL, 5);
    td_config_destroy(&x->cfg);
    td_loop_free(x->loop);
    fx_free(&x->fx);
    unlink(x->dbpath);
    snprintf(p, sizeof(p), "%s-wal", x->dbpath);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", x->dbpath);
    unlink(p);
}

static void hr_poll_wft(hr_t *x, hr_res_t *r)
{
    Temporald__Matchingservice__PollWorkflowTaskQueueRequest *m =
            hr_pb(x, &temporald__matchingservice__poll_workflow_task_queue_request__descriptor);
    Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueRequest *p = hr_pb(
            x, &temporal__api__workflowservice__v1__poll_workflow_task_queue_request__descriptor);

    p->namespace_ = (char *)"default";
    p->task_queue = hr_pb(x, &temporal__api__taskqueue__v1__task_queue__descriptor);
    p->task_queue->name = (char *)"tq";
    p->task_queue->kind = TQK(NORMAL);
    p->identity = (char *)"worker-1@test";
    m->namespace_id = (char *)NS;
    m->poller_id = (char *)"p1";
    m->request = p;
    hr_call(x, TD_SVC_MATCHING "PollWorkflowTaskQueue", &m->base, 20000, r);
}

static void hr_poll_act(hr_t *x, hr_res_t *r)
{
    Temporald__Matchingservice__PollActivityTaskQueueRequest *m =
            hr_pb(x, &temporald__matchingservice__poll_activity_task_queue_request__descriptor);
    Temporal__Api__Workflowservice__V1__PollActivityTaskQueueRequest *p = hr_pb(
            x, &temporal__api__workflowservice__v1__poll_activity_task_queue_request__descriptor);

    p->namespace_ = (char *)"default";
    p->task_queue = hr_pb(x, &temporal__api__taskqueue__v1__task_queue__descriptor);
    p->task_queue->name = (char *)"tq";
    p->identity = (char *)"worker-1@test";
    m->namespace_id = (char *)NS;
    m->request = p;
    hr_call(x, TD_SVC_MATCHING "PollActivityTaskQueue", &m->base, 20000, r);
}

static void hr_complete_wft(hr_t *x, ProtobufCBinaryData token, fx_cmd_t *c)
{
    Temporald__Historyservice__RespondWorkflowTaskCompletedRequest *m = hr_pb(
            x, &temporald__historyservice__respond_workflow_task_completed_request__descriptor);
    hr_res_t r = { 0 };

    m->namespace_id = (char *)NS;
    m->request = fx_complete_req(&x->fx, 1, c);
    m->request->task_token = token;
    hr_call(x, TD_SVC_HISTORY "RespondWorkflowTaskCompleted", &m->base, 10000, &r);
    hr_wait(x, &r,
            &temporal__api__workflowservice__v1__respond_workflow_task_completed_response__descriptor);
    hr_res_free(&r);
}

TD_TEST(mr_history_workflow_end_to_end)
{
    hr_t x;
    hr_res_t r = { 0 }, poll = { 0 }, q = { 0 };
    wft_resp_t *wt;
    act_resp_t *at;
    Temporald__Historyservice__StartWorkflowExecutionRequest *start;

    hr_init(&x);
    /* a workflow task polled before the workflow exists: sync match */
    hr_poll_wft(&x, &poll);
    start = hr_pb(&x, &temporald__historyservice__start_workflow_execution_request__descriptor);
    start->namespace_id = (char *)NS;
    start->request = fx_start_req(&x.fx);
    hr_call(&x, TD_SVC_HISTORY "StartWorkflowExecution", &start->base, 10000, &r);
    hr_wait(&x, &r,
            &temporal__api__workflowservice__v1__start_workflow_execution_response__descriptor);
    wt = hr_wait(
            &x, &poll,
            &temporal__api__workflowservice__v1__poll_workflow_task_queue_response__descriptor);
    TD_CHECK(wt->task_token.len > 0);
    TD_CHECK_STR(wt->workflow_type->name, "Greet");
    TD_CHECK_STR(wt->workflow_execution->workflow_id, "wf-1");
    TD_CHECK(wt->history != NULL);
    TD_CHECK_INT(wt->history->n_events, ==, 3);
    TD_CHECK_INT(wt->history->events[2]->event_type, ==, ET(WORKFLOW_TASK_STARTED));
    TD_CHECK_STR(wt->history->events[2]->workflow_task_started_event_attributes->identity,
                 "worker-1@test");

    /* the worker schedules an activity; an activity poll (backlog or sync) gets it */
    hr_complete_wft(&x, wt->task_token, fx_cmd_activity(&x.fx, "a1", SEC(30), 1));
    hr_poll_act(&x, &poll);
    at = hr_wait(
            &x, &poll,
            &temporal__api__workflowservice__v1__poll_activity_task_queue_response__descriptor);
    TD_CHECK_STR(at->activity_id, "a1");
    TD_CHECK_STR(at->activity_type->name, "SayHello");
    TD_CHECK_INT(at->attempt, ==, 1);
    TD_CHECK(at->task_token.len > 0);
    TD_CHECK(at->input != NULL && at->input->n_payloads == 1);

    /* a legacy query while the run waits: history -> matching -> poller -> answer */
    {
        Temporald__Historyservice__QueryWorkflowRequest *qr =
                hr_pb(&x, &temporald__historyservice__query_workflow_request__descriptor);
        Temporal__Api__Query__V1__WorkflowQuery *wq =
                hr_pb(&x, &temporal__api__query__v1__workflow_query__descriptor);
        Temporald__Matchingservice__RespondQueryTaskCompletedRequest *ans = hr_pb(
                &x, &temporald__matchingservice__respond_query_task_completed_request__descriptor);
        Temporal__Api__Workflowservice__V1__QueryWorkflowResponse *qresp;
        hr_res_t a = { 0 };

        qr->namespace_id = (char *)NS;
        qr->request =
                hr_pb(&x, &temporal__api__workflowservice__v1__query_workflow_request__descriptor);
        qr->request->namespace_ = (char *)"default";
        qr->request->execution =
                hr_pb(&x, &temporal__api__common__v1__workflow_execution__descriptor);
        qr->request->execution->workflow_id = (char *)"wf-1";
        wq->query_type = (char *)"status";
        qr->request->query = wq;
        hr_call(&x, TD_SVC_HISTORY "QueryWorkflow", &qr->base, 10000, &q);
        hr_poll_wft(&x, &poll);
        wt = hr_wait(
                &x, &poll,
                &temporal__api__workflowservice__v1__poll_workflow_task_queue_response__descriptor);
        TD_CHECK(wt->query != NULL);
        TD_CHECK_STR(wt->query->query_type, "status");
        TD_CHECK(wt->history != NULL && wt->history->n_events > 0);
        TD_CHECK(!q.done);
        ans->namespace_id = (char *)NS;
        ans->request = hr_pb(
                &x,
                &temporal__api__workflowservice__v1__respond_query_task_completed_request__descriptor);
        ans->request->task_token = wt->task_token;
        ans->request->completed_type =
                TEMPORAL__API__ENUMS__V1__QUERY_RESULT_TYPE__QUERY_RESULT_TYPE_ANSWERED;
        ans->request->query_result = fx_payloads(&x.fx, "\"waiting\"");
        hr_call(&x, TD_SVC_MATCHING "RespondQueryTaskCompleted", &ans->base, 10000, &a);
        TD_CHECK(a.done);
        TD_CHECK_INT(a.status, ==, TD_GRPC_OK);
        qresp = hr_wait(&x, &q,
                        &temporal__api__workflowservice__v1__query_workflow_response__descriptor);
        TD_CHECK(qresp->query_result != NULL && qresp->query_result->n_payloads == 1);
        TD_CHECK_INT(qresp->query_result->payloads[0]->data.len, ==, 9);
        hr_res_free(&a);
    }

    /* the activity completes; the next workflow task reaches a poll and completes the run */
    {
        Temporald__Historyservice__RespondActivityTaskCompletedRequest *m = hr_pb(
                &x,
                &temporald__historyservice__respond_activity_task_completed_request__descriptor);
        m->namespace_id = (char *)NS;
        m->request = hr_pb(
                &x,
                &temporal__api__workflowservice__v1__respond_activity_task_completed_request__descriptor);
        m->request->task_token = at->task_token;
        m->request->result = fx_payloads(&x.fx, "\"hello\"");
        m->request->identity = (char *)"worker-1@test";
        hr_call(&x, TD_SVC_HISTORY "RespondActivityTaskCompleted", &m->base, 10000, &r);
        hr_wait(&x, &r,
                &temporal__api__workflowservice__v1__respond_activity_task_completed_response__descriptor);
    }
    hr_poll_wft(&x, &poll);
    wt = hr_wait(
            &x, &poll,
            &temporal__api__workflowservice__v1__poll_workflow_task_queue_response__descriptor);
    TD_CHECK(wt->query == NULL);
    TD_CHECK(wt->task_token.len > 0);
    hr_complete_wft(&x, wt->task_token, fx_cmd_complete(&x.fx, "\"done\""));
    {
        Temporald__Historyservice__DescribeWorkflowExecutionRequest *d = hr_pb(
                &x, &temporald__historyservice__describe_workflow_execution_request__descriptor);
        Temporal__Api__Workflowservice__V1__DescribeWorkflowExecutionResponse *dr;
        d->namespace_id = (char *)NS;
        d->request = hr_pb(
                &x,
                &temporal__api__workflowservice__v1__describe_workflow_execution_request__descriptor);
        d->request->namespace_ = (char *)"default";
        d->request->execution =
                hr_pb(&x, &temporal__api__common__v1__workflow_execution__descriptor);
        d->request->execution->workflow_id = (char *)"wf-1";
        hr_call(&x, TD_SVC_HISTORY "DescribeWorkflowExecution", &d->base, 10000, &r);
        dr = hr_wait(
                &x, &r,
                &temporal__api__workflowservice__v1__describe_workflow_execution_response__descriptor);
        TD_CHECK(dr->workflow_execution_info != NULL);
        TD_CHECK_INT(
                dr->workflow_execution_info->status, ==,
                TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_COMPLETED);
    }
    hr_res_free(&r);
    hr_res_free(&poll);
    hr_res_free(&q);
    hr_free(&x);
}
