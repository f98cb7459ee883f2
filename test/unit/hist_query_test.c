/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Consistent (buffered) queries in the history service, over a real SQLite store and a fake
 * matching (the set-up follows hist_service_test.c): a query arriving while a workflow task
 * is scheduled or started rides in the next task's `queries` map and is answered from the
 * completion's query_results (ANSWERED, FAILED), falls back to a legacy query task when the
 * completion schedules no new task, is bounded per workflow (RESOURCE_EXHAUSTED), and is
 * released by its caller's deadline. Queries with no task in flight stay legacy.
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
#include "roles/role.h"
#include "roles/svc.h"
#include "server.h"
#include "store/store.h"
#include "temporal/api/enums/v1/query.pb-c.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"

#define QNS "7d3c9a10-1111-4222-8333-444455556677"

/* One call's outcome, owned by the test (several may be outstanding). */
typedef struct {
    int done, status;
    char msg[256];
    uint8_t *resp, *detail;
    size_t resp_len, detail_len;
} qx_res_t;

typedef struct {
    td_loop_t *loop;
    td_store_t *store;
    td_config_t cfg;
    td_server_t srv;
    void *hist;
    char dbpath[64];
    int n_wft;        /* AddWorkflowTask calls seen by the fake matching */
    int64_t last_sid; /* their last scheduled_event_id */
    int n_query;      /* legacy query tasks seen by the fake matching */
    char run[40];     /* run id of the last started workflow */
    qx_res_t call;    /* the last synchronous call */
    fx_t fx;
} qx_t;

static void qx_add_wft(td_rpc_call_t *c, void *ctx)
{
    qx_t *x = ctx;
    const Temporald__Matchingservice__AddWorkflowTaskRequest *r = (const void *)td_rpc_request(c);
    Temporald__Matchingservice__AddWorkflowTaskResponse resp =
            TEMPORALD__MATCHINGSERVICE__ADD_WORKFLOW_TASK_RESPONSE__INIT;

    x->n_wft++;
    x->last_sid = r->scheduled_event_id;
    td_rpc_reply(c, &resp.base);
}

static void qx_add_act(td_rpc_call_t *c, void *ctx)
{
    Temporald__Matchingservice__AddActivityTaskResponse resp =
            TEMPORALD__MATCHINGSERVICE__ADD_ACTIVITY_TASK_RESPONSE__INIT;
    (void)ctx;
    td_rpc_reply(c, &resp.base);
}

/* Legacy query task: answers "legacy:<type>:<history length>". */
static void qx_query(td_rpc_call_t *c, void *ctx)
{
    qx_t *x = ctx;
    const Temporald__Matchingservice__QueryWorkflowRequest *r = (const void *)td_rpc_request(c);
    Temporal__Api__Workflowservice__V1__QueryWorkflowResponse resp =
            TEMPORAL__API__WORKFLOWSERVICE__V1__QUERY_WORKFLOW_RESPONSE__INIT;
    Temporal__Api__Common__V1__Payloads pl = TEMPORAL__API__COMMON__V1__PAYLOADS__INIT;
    Temporal__Api__Common__V1__Payload one = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    Temporal__Api__Common__V1__Payload *v[1] = { &one };
    char buf[96];

    x->n_query++;
    snprintf(buf, sizeof(buf), "legacy:%s:%d", r->request->query->query_type,
             r->task && r->task->history ? (int)r->task->history->n_events : -1);
    one.data.data = (uint8_t *)buf;
    one.data.len = strlen(buf);
    pl.n_payloads = 1;
    pl.payloads = v;
    resp.query_result = &pl;
    td_rpc_reply(c, &resp.base);
}

static void qx_tick(void *arg)
{
    td_loop_stop(((qx_t *)arg)->loop);
}

/* Runs the loop until *flag != 0 (or for ms milliseconds when flag is NULL). */
static void qx_run(qx_t *x, const int *flag, int ms)
{
    td_timer_t *t = td_timer_new(x->loop, qx_tick, x);
    int64_t end = td_now_mono_ms() + ms;

    while (flag == NULL || !*flag) {
        if (td_now_mono_ms() > end) {
            td_timer_free(t);
            if (flag == NULL) {
                return;
            }
            td_test_fail(__FILE__, __LINE__, "timed out waiting");
        }
        td_timer_start(t, 2);
        td_loop_run(x->loop);
    }
    td_timer_free(t);
}

static void qx_wait_ready(qx_t *x)
{
    int64_t end = td_now_mono_ms() + 5000;
    while (!td_hist_ready(x->hist)) {
        TD_CHECK(td_now_mono_ms() < end);
        qx_run(x, NULL, 2);
    }
}

static void qx_init(qx_t *x)
{
    td_store_options_t opt = { 0 };
    char err[256], url[128];
    int fd;
    td_rpc_method_t mw = { TD_SVC_MATCHING "AddWorkflowTask",
                           &temporald__matchingservice__add_workflow_task_request__descriptor,
                           qx_add_wft, x };
    td_rpc_method_t ma = { TD_SVC_MATCHING "AddActivityTask",
                           &temporald__matchingservice__add_activity_task_request__descriptor,
                           qx_add_act, x };
    td_rpc_method_t mq = { TD_SVC_MATCHING "QueryWorkflow",
                           &temporald__matchingservice__query_workflow_request__descriptor,
                           qx_query, x };

    memset(x, 0, sizeof(*x));
    fx_init(&x->fx);
    x->loop = td_loop_new();
    td_config_init(&x->cfg);
    x->cfg.num_history_shards = 1;
    snprintf(x->dbpath, sizeof(x->dbpath), "/tmp/hist_query_XXXXXX");
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
    TD_CHECK_INT(td_svc_register(&x->srv, &mq), ==, TD_OK);
    TD_CHECK_INT(td_role_history.init(&x->srv, &x->hist), ==, TD_OK);
    TD_CHECK_INT(td_role_history.start(x->hist), ==, TD_OK);
    qx_wait_ready(x);
}

static void qx_drained(void *arg)
{
    (void)arg;
}

static void qx_res_clear(qx_res_t *r)
{
    free(r->resp);
    free(r->detail);
    memset(r, 0, sizeof(*r));
}

static void qx_free(qx_t *x)
{
    char p[96];
    int64_t end = td_now_mono_ms() + 5000;

    while (!td_hist_idle(x->hist) && td_now_mono_ms() < end) {
        qx_run(x, NULL, 2);
    }
    td_role_history.drain(x->hist, qx_drained, NULL);
    td_role_history.stop(x->hist);
    td_svc_free(&x->srv);
    td_store_close(x->store);
    td_config_destroy(&x->cfg);
    td_loop_free(x->loop);
    fx_free(&x->fx);
    qx_res_clear(&x->call);
    unlink(x->dbpath);
    snprintf(p, sizeof(p), "%s-wal", x->dbpath);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", x->dbpath);
    unlink(p);
}

static void qx_done(const ProtobufCMessage *resp, int status, const char *message,
                    const ProtobufCMessage *detail, void *arg)
{
    qx_res_t *r = arg;

    qx_res_clear(r);
    r->done = 1;
    r->status = status;
    snprintf(r->msg, sizeof(r->msg), "%s", message ? message : "");
    if (resp != NULL) {
        r->resp_len = protobuf_c_message_get_packed_size(resp);
        r->resp = malloc(r->resp_len + 1);
        protobuf_c_message_pack(resp, r->resp);
    }
    if (detail != NULL) {
        r->detail_len = protobuf_c_message_get_packed_size(detail);
        r->detail = malloc(r->detail_len + 1);
        protobuf_c_message_pack(detail, r->detail);
    }
}

static void qx_call_async(qx_t *x, const char *method, const ProtobufCMessage *req,
                          int64_t deadline, qx_res_t *res)
{
    char path[160];

    snprintf(path, sizeof(path), "%s%s", TD_SVC_HISTORY, method);
    qx_res_clear(res);
    td_svc_call(&x->srv, path, req, deadline, qx_done, res);
}

static int qx_call(qx_t *x, const char *method, const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *rd, void **out)
{
    qx_call_async(x, method, req, 0, &x->call);
    qx_run(x, &x->call.done, 10000);
    if (out != NULL) {
        *out = NULL;
        if (x->call.status == 0 && rd != NULL) {
            *out = protobuf_c_message_unpack(rd, td_arena_pb(&x->fx.arena), x->call.resp_len,
                                             x->call.resp);
            TD_CHECK(*out != NULL);
        }
    }
    return x->call.status;
}

#define PB(T, d) ((T *)qx_pb(x, &d))
static void *qx_pb(qx_t *x, const ProtobufCMessageDescriptor *d)
{
    void *m = td_arena_calloc(&x->fx.arena, d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

typedef Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse poll_wft_t;
typedef Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest complete_t;

static Temporal__Api__Common__V1__WorkflowExecution *qx_we(qx_t *x, const char *wf)
{
    Temporal__Api__Common__V1__WorkflowExecution *we =
            PB(Temporal__Api__Common__V1__WorkflowExecution,
               temporal__api__common__v1__workflow_execution__descriptor);
    we->workflow_id = td_arena_strdup(&x->fx.arena, wf);
    we->run_id = (char *)"";
    return we;
}

static void qx_start(qx_t *x, const char *wf)
{
    Temporald__Historyservice__StartWorkflowExecutionRequest *r =
            PB(Temporald__Historyservice__StartWorkflowExecutionRequest,
               temporald__historyservice__start_workflow_execution_request__descriptor);
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionResponse *resp = NULL;

    r->namespace_id = (char *)QNS;
    r->request = fx_start_req(&x->fx);
    r->request->workflow_id = td_arena_strdup(&x->fx.arena, wf);
    r->request->request_id = td_arena_strdup(&x->fx.arena, wf);
    TD_CHECK_INT(
            qx_call(x, "StartWorkflowExecution", &r->base,
                    &temporal__api__workflowservice__v1__start_workflow_execution_response__descriptor,
                    (void **)&resp),
            ==, 0);
    snprintf(x->run, sizeof(x->run), "%s", resp->run_id);
}

static poll_wft_t *qx_wft_started(qx_t *x, const char *wf, int64_t sid, const char *req_id)
{
    Temporald__Historyservice__RecordWorkflowTaskStartedRequest *r =
            PB(Temporald__Historyservice__RecordWorkflowTaskStartedRequest,
               temporald__historyservice__record_workflow_task_started_request__descriptor);
    poll_wft_t *out = NULL;
    Temporal__Api__Common__V1__WorkflowExecution *we = qx_we(x, wf);

    r->namespace_id = (char *)QNS;
    we->run_id = x->run; /* the test starts one workflow at a time */
    r->execution = we;
    r->scheduled_event_id = sid;
    r->request_id = (char *)req_id;
    r->poll_request =
            PB(Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueRequest,
               temporal__api__workflowservice__v1__poll_workflow_task_queue_request__descriptor);
    r->poll_request->identity = (char *)"worker-1";
    r->task_queue = PB(Temporal__Api__Taskqueue__V1__TaskQueue,
                       temporal__api__taskqueue__v1__task_queue__descriptor);
    r->task_queue->name = (char *)"tq";
    r->task_queue->kind = TQK(NORMAL);
    TD_CHECK_INT(
            qx_call(x, "RecordWorkflowTaskStarted", &r->base,
                    &temporal__api__workflowservice__v1__poll_workflow_task_queue_response__descriptor,
                    (void **)&out),
            ==, 0);
    return out;
}

static void qx_complete(qx_t *x, ProtobufCBinaryData token, complete_t *req)
{
    Temporald__Historyservice__RespondWorkflowTaskCompletedRequest *r =
            PB(Temporald__Historyservice__RespondWorkflowTaskCompletedRequest,
               temporald__historyservice__respond_workflow_task_completed_request__descriptor);
    r->namespace_id = (char *)QNS;
    r->request = req;
    req->task_token = token;
    TD_CHECK_INT(qx_call(x, "RespondWorkflowTaskCompleted", &r->base, NULL, NULL), ==, 0);
}

static void qx_signal(qx_t *x, const char *wf, const char *req_id)
{
    Temporald__Historyservice__SignalWorkflowExecutionRequest *r =
            PB(Temporald__Historyservice__SignalWorkflowExecutionRequest,
               temporald__historyservice__signal_workflow_execution_request__descriptor);
    r->namespace_id = (char *)QNS;
    r->request =
            PB(Temporal__Api__Workflowservice__V1__SignalWorkflowExecutionRequest,
               temporal__api__workflowservice__v1__signal_workflow_execution_request__descriptor);
    r->request->workflow_execution = qx_we(x, wf);
    r->request->signal_name = (char *)"go";
    r->request->input = fx_payloads(&x->fx, "1");
    r->request->request_id = (char *)req_id;
    TD_CHECK_INT(qx_call(x, "SignalWorkflowExecution", &r->base, NULL, NULL), ==, 0);
}

/* Starts QueryWorkflow(type) on wf without waiting. */
static void qx_query_async(qx_t *x, const char *wf, const char *type, int64_t deadline,
                           qx_res_t *res)
{
    Temporald__Historyservice__QueryWorkflowRequest *r =
            PB(Temporald__Historyservice__QueryWorkflowRequest,
               temporald__historyservice__query_workflow_request__descriptor);
    r->namespace_id = (char *)QNS;
    r->request = PB(Temporal__Api__Workflowservice__V1__QueryWorkflowRequest,
                    temporal__api__workflowservice__v1__query_workflow_request__descriptor);
    r->request->execution = qx_we(x, wf);
    r->request->query = PB(Temporal__Api__Query__V1__WorkflowQuery,
                           temporal__api__query__v1__workflow_query__descriptor);
    r->request->query->query_type = td_arena_strdup(&x->fx.arena, type);
    r->request->query->query_args = fx_payloads(&x->fx, "arg");
    qx_call_async(x, "QueryWorkflow", &r->base, deadline, res);
}

/* The answer payload of a finished QueryWorkflow, as a string in the fixture arena. */
static const char *qx_answer(qx_t *x, const qx_res_t *res)
{
    Temporal__Api__Workflowservice__V1__QueryWorkflowResponse *qr;

    TD_CHECK(res->done);
    TD_CHECK_INT(res->status, ==, 0);
    qr = temporal__api__workflowservice__v1__query_workflow_response__unpack(
            td_arena_pb(&x->fx.arena), res->resp_len, res->resp);
    TD_CHECK(qr != NULL && qr->query_result != NULL && qr->query_result->n_payloads == 1);
    return td_arena_strndup(&x->fx.arena, (const char *)qr->query_result->payloads[0]->data.data,
                            qr->query_result->payloads[0]->data.len);
}

static complete_t *qx_req_timer(qx_t *x, const char *timer_id)
{
    return fx_complete_req(&x->fx, 1, fx_cmd_timer(&x->fx, timer_id, 3600 * TD_MS_SECOND));
}

/* Adds query_results[id] = ANSWERED(answer) or FAILED(message) to req. */
static void qx_req_result(qx_t *x, complete_t *req, const char *id, int answered, const char *text)
{
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest__QueryResultsEntry *e = PB(
            Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest__QueryResultsEntry,
            temporal__api__workflowservice__v1__respond_workflow_task_completed_request__query_results_entry__descriptor);
    Temporal__Api__Query__V1__WorkflowQueryResult *res =
            PB(Temporal__Api__Query__V1__WorkflowQueryResult,
               temporal__api__query__v1__workflow_query_result__descriptor);
    void **v = td_arena_calloc(&x->fx.arena, (req->n_query_results + 1) * sizeof(*v));

    e->key = td_arena_strdup(&x->fx.arena, id);
    e->value = res;
    if (answered) {
        res->result_type = TEMPORAL__API__ENUMS__V1__QUERY_RESULT_TYPE__QUERY_RESULT_TYPE_ANSWERED;
        res->answer = fx_payloads(&x->fx, text);
    } else {
        res->result_type = TEMPORAL__API__ENUMS__V1__QUERY_RESULT_TYPE__QUERY_RESULT_TYPE_FAILED;
        res->error_message = td_arena_strdup(&x->fx.arena, text);
        res->failure = PB(Temporal__Api__Failure__V1__Failure,
                          temporal__api__failure__v1__failure__descriptor);
        res->failure->message = res->error_message;
    }
    if (req->n_query_results > 0) {
        memcpy(v, req->query_results, req->n_query_results * sizeof(*v));
    }
    v[req->n_query_results++] = e;
    req->query_results = (void *)v;
}

TD_TEST_T(hist_query_buffered_rides_in_next_task_and_is_answered, 60)
{
    qx_t xx, *x = &xx;
    qx_res_t q1 = { 0 };
    poll_wft_t *p;
    complete_t *req;

    qx_init(x);
    qx_start(x, "wf-q1");
    TD_CHECK_INT(x->n_wft, ==, 1);

    /* a workflow task is scheduled (not started): the query waits for it, no legacy task */
    qx_query_async(x, "wf-q1", "state", 0, &q1);
    qx_run(x, NULL, 50);
    TD_CHECK(!q1.done);
    TD_CHECK_INT(x->n_query, ==, 0);

    /* the task handed out carries it */
    p = qx_wft_started(x, "wf-q1", x->last_sid, "poll-1");
    TD_CHECK_INT(p->n_queries, ==, 1);
    TD_CHECK(p->queries[0]->key != NULL && strlen(p->queries[0]->key) == 36);
    TD_CHECK_STR(p->queries[0]->value->query_type, "state");
    TD_CHECK(p->queries[0]->value->query_args != NULL &&
             p->queries[0]->value->query_args->n_payloads == 1);
    TD_CHECK(!q1.done);

    /* the completion answers it */
    req = qx_req_timer(x, "t1");
    qx_req_result(x, req, p->queries[0]->key, 1, "answer-1");
    qx_complete(x, p->task_token, req);
    qx_run(x, &q1.done, 5000);
    TD_CHECK_STR(qx_answer(x, &q1), "answer-1");
    TD_CHECK_INT(x->n_query, ==, 0);

    /* no task in flight now: a query goes straight to a legacy query task (5 events:
     * started, task scheduled/started/completed, timer started) */
    qx_query_async(x, "wf-q1", "state", 0, &q1);
    qx_run(x, &q1.done, 5000);
    TD_CHECK_STR(qx_answer(x, &q1), "legacy:state:5");
    TD_CHECK_INT(x->n_query, ==, 1);
    qx_res_clear(&q1);
    qx_free(x);
}

TD_TEST_T(hist_query_unanswered_without_new_task_falls_back_to_legacy, 60)
{
    qx_t xx, *x = &xx;
    qx_res_t q1 = { 0 };
    poll_wft_t *p;

    qx_init(x);
    qx_start(x, "wf-q2");
    p = qx_wft_started(x, "wf-q2", x->last_sid, "poll-1");
    TD_CHECK_INT(p->n_queries, ==, 0);

    /* arrives while the task is started: not in that task */
    qx_query_async(x, "wf-q2", "count", 0, &q1);
    qx_run(x, NULL, 50);
    TD_CHECK(!q1.done);

    /* the completion schedules no new task and has no answer: a legacy query task answers,
     * with the history including the completion (5 events) */
    qx_complete(x, p->task_token, qx_req_timer(x, "t1"));
    qx_run(x, &q1.done, 5000);
    TD_CHECK_STR(qx_answer(x, &q1), "legacy:count:5");
    TD_CHECK_INT(x->n_query, ==, 1);
    qx_res_clear(&q1);
    qx_free(x);
}

TD_TEST_T(hist_query_waits_across_tasks_failed_answer_and_limit, 60)
{
    qx_t xx, *x = &xx;
    qx_res_t q1 = { 0 }, q2 = { 0 };
    poll_wft_t *p;
    complete_t *req;
    int n_wft;

    qx_init(x);
    qx_start(x, "wf-q3");
    p = qx_wft_started(x, "wf-q3", x->last_sid, "poll-1");
    qx_query_async(x, "wf-q3", "state", 0, &q1);
    qx_run(x, NULL, 50);
    TD_CHECK(!q1.done);

    /* history.MaxBufferedQueryCount = 1: a second one is refused */
    qx_query_async(x, "wf-q3", "other", 0, &q2);
    qx_run(x, &q2.done, 5000);
    TD_CHECK_INT(q2.status, ==, TD_GRPC_RESOURCE_EXHAUSTED);

    /* a signal during the task: its completion schedules a new task; the query (unanswered)
     * stays buffered and rides in that one */
    qx_signal(x, "wf-q3", "sig-1");
    n_wft = x->n_wft;
    qx_complete(x, p->task_token, qx_req_timer(x, "t1"));
    TD_CHECK_INT(x->n_wft, ==, n_wft + 1);
    qx_run(x, NULL, 50);
    TD_CHECK(!q1.done);
    TD_CHECK_INT(x->n_query, ==, 0);
    p = qx_wft_started(x, "wf-q3", x->last_sid, "poll-2");
    TD_CHECK_INT(p->n_queries, ==, 1);
    TD_CHECK_STR(p->queries[0]->value->query_type, "state");

    /* FAILED: INVALID_ARGUMENT with the worker's message and a QueryFailedFailure detail */
    req = fx_complete_req(&x->fx, 0);
    qx_req_result(x, req, p->queries[0]->key, 0, "no such query");
    qx_complete(x, p->task_token, req);
    qx_run(x, &q1.done, 5000);
    TD_CHECK_INT(q1.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(q1.msg, "no such query");
    {
        Temporal__Api__Errordetails__V1__QueryFailedFailure *d =
                temporal__api__errordetails__v1__query_failed_failure__unpack(
                        td_arena_pb(&x->fx.arena), q1.detail_len, q1.detail);
        TD_CHECK(d != NULL && d->failure != NULL);
        TD_CHECK_STR(d->failure->message, "no such query");
    }
    TD_CHECK_INT(x->n_query, ==, 0);
    qx_res_clear(&q1);
    qx_res_clear(&q2);
    qx_free(x);
}

TD_TEST_T(hist_query_deadline_releases_the_buffer_slot, 60)
{
    qx_t xx, *x = &xx;
    qx_res_t q1 = { 0 }, q2 = { 0 };
    poll_wft_t *p;
    complete_t *req;

    qx_init(x);
    qx_start(x, "wf-q4");
    p = qx_wft_started(x, "wf-q4", x->last_sid, "poll-1");

    /* the caller's deadline passes while the query is buffered */
    qx_query_async(x, "wf-q4", "state", td_now_mono_ms() + 100, &q1);
    qx_run(x, &q1.done, 5000);
    TD_CHECK(q1.status == TD_GRPC_CANCELLED || q1.status == TD_GRPC_DEADLINE_EXCEEDED);

    /* the slot is free again: a new query buffers (not RESOURCE_EXHAUSTED) */
    qx_query_async(x, "wf-q4", "again", 0, &q2);
    qx_run(x, NULL, 50);
    TD_CHECK(!q2.done);

    /* the released query's id is unknown to the completion: ignored; no new task, so the
     * buffered one falls back to a legacy task */
    req = qx_req_timer(x, "t1");
    qx_req_result(x, req, "00000000-0000-4000-8000-000000000000", 1, "stale");
    qx_complete(x, p->task_token, req);
    qx_run(x, &q2.done, 5000);
    TD_CHECK_STR(qx_answer(x, &q2), "legacy:again:5");
    qx_res_clear(&q1);
    qx_res_clear(&q2);
    qx_free(x);
}

static void qx_terminate(qx_t *x, const char *wf)
{
    Temporald__Historyservice__TerminateWorkflowExecutionRequest *r =
            PB(Temporald__Historyservice__TerminateWorkflowExecutionRequest,
               temporald__historyservice__terminate_workflow_execution_request__descriptor);
    r->namespace_id = (char *)QNS;
    r->request = PB(
            Temporal__Api__Workflowservice__V1__TerminateWorkflowExecutionRequest,
            temporal__api__workflowservice__v1__terminate_workflow_execution_request__descriptor);
    r->request->workflow_execution = qx_we(x, wf);
    r->request->reason = (char *)"test";
    TD_CHECK_INT(qx_call(x, "TerminateWorkflowExecution", &r->base, NULL, NULL), ==, 0);
}

static void qx_wft_fail(qx_t *x, ProtobufCBinaryData token)
{
    Temporald__Historyservice__RespondWorkflowTaskFailedRequest *r =
            PB(Temporald__Historyservice__RespondWorkflowTaskFailedRequest,
               temporald__historyservice__respond_workflow_task_failed_request__descriptor);
    r->namespace_id = (char *)QNS;
    r->request = PB(
            Temporal__Api__Workflowservice__V1__RespondWorkflowTaskFailedRequest,
            temporal__api__workflowservice__v1__respond_workflow_task_failed_request__descriptor);
    r->request->task_token = token;
    r->request->cause = CAUSE(WORKFLOW_WORKER_UNHANDLED_FAILURE);
    TD_CHECK_INT(qx_call(x, "RespondWorkflowTaskFailed", &r->base, NULL, NULL), ==, 0);
}

TD_TEST_T(hist_query_run_closed_while_buffered_goes_legacy, 60)
{
    qx_t xx, *x = &xx;
    qx_res_t q1 = { 0 };

    qx_init(x);
    qx_start(x, "wf-q5");
    (void)qx_wft_started(x, "wf-q5", x->last_sid, "poll-1");
    qx_query_async(x, "wf-q5", "state", 0, &q1);
    qx_run(x, NULL, 50);
    TD_CHECK(!q1.done);

    /* terminated while the task runs: the buffered query is released to a legacy task on the
     * closed run (history: started, task scheduled, started, failed (force close),
     * terminated) */
    qx_terminate(x, "wf-q5");
    qx_run(x, &q1.done, 5000);
    TD_CHECK_STR(qx_answer(x, &q1), "legacy:state:5");
    TD_CHECK_INT(x->n_query, ==, 1);
    qx_res_clear(&q1);
    qx_free(x);
}

TD_TEST_T(hist_query_failing_workflow_task_is_not_ready, 60)
{
    qx_t xx, *x = &xx;
    qx_res_t q1 = { 0 };
    poll_wft_t *p;

    qx_init(x);
    qx_start(x, "wf-q6");
    /* attempts 1 and 2 fail; attempt 3 is scheduled */
    p = qx_wft_started(x, "wf-q6", x->last_sid, "poll-1");
    TD_CHECK_INT(p->attempt, ==, 1);
    qx_wft_fail(x, p->task_token);
    p = qx_wft_started(x, "wf-q6", x->last_sid, "poll-2");
    TD_CHECK_INT(p->attempt, ==, 2);
    qx_wft_fail(x, p->task_token);

    qx_query_async(x, "wf-q6", "state", 0, &q1);
    qx_run(x, &q1.done, 5000);
    TD_CHECK_INT(q1.status, ==, TD_GRPC_FAILED_PRECONDITION);
    TD_CHECK_STR(q1.msg, "Unable to query workflow due to Workflow Task in failed state.");
    TD_CHECK(q1.detail != NULL);
    TD_CHECK_INT(x->n_query, ==, 0);
    qx_res_clear(&q1);
    qx_free(x);
}

TD_TEST_T(hist_query_buffered_on_a_run_that_continues_as_new, 60)
{
    qx_t xx, *x = &xx;
    qx_res_t q1 = { 0 };
    poll_wft_t *p;

    qx_init(x);
    qx_start(x, "wf-q7");
    p = qx_wft_started(x, "wf-q7", x->last_sid, "poll-1");
    qx_query_async(x, "wf-q7", "state", 0, &q1);
    qx_run(x, NULL, 50);
    TD_CHECK(!q1.done);

    /* the run continues as new: the query stays on the run it was buffered on, now closed,
     * and a legacy task answers it from that run's history (started, task scheduled, started,
     * completed, continued-as-new), not from the new run with its task in flight */
    qx_complete(x, p->task_token,
                fx_complete_req(&x->fx, 1, fx_cmd_continue_as_new(&x->fx, "next")));
    qx_run(x, &q1.done, 5000);
    TD_CHECK_STR(qx_answer(x, &q1), "legacy:state:5");
    TD_CHECK_INT(x->n_query, ==, 1);
    qx_res_clear(&q1);
    qx_free(x);
}
