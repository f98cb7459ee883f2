/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The frontend's public API handlers (src/roles/frontend/fe_*.c), called in process with
 * td_rpc_local_call against a fake history and matching registered through td_svc_register
 * and a real namespace registry over an in-memory SQLite store: routing, validation
 * messages, NamespaceNotFoundFailure, error pass-through, cancellation, namespaces and
 * search attributes.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "historyservice.pb-c.h"
#include "loop.h"
#include "mem.h"
#include "matchingservice.pb-c.h"
#include "roles/frontend/fe_int.h"
#include "roles/frontend/frontend.h"
#include "roles/nsreg.h"
#include "roles/svc.h"
#include "server.h"
#include "store/store.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"
#include "temporal/api/failure/v1/message.pb-c.h"
#include "temporal/api/operatorservice/v1/request_response.pb-c.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

/* ---- fixture: a server with a store, a namespace registry and fake roles ---- */

typedef struct {
    td_server_t srv;
    td_config_t cfg;
    td_store_t *store;
    td_timer_t *guard;
    /* what the fakes saw */
    int inner_calls;
    char inner_ns_id[64];
    char inner_path[128];
    char poller_id[64];
    char sticky[64];
    char fail_msg[256];
    int64_t inner_deadline;
    td_rpc_call_t *parked;
    int inner_cancels;
    int fake_mode; /* 0 reply, 1 fail ALREADY_EXISTS with detail, 2 DEADLINE_EXCEEDED, 3 park */
    /* what the public caller got */
    int done;
    int status;
    char message[512];
    char detail_type[128];
    char detail_ns[128];
    ProtobufCBinaryData resp; /* packed response */
} fx_t;

static fx_t *g_fx;

static void fx_guard(void *arg)
{
    (void)arg;
    td_test_fail(__FILE__, __LINE__, "loop guard fired: a call never ended");
}

static void fx_init(fx_t *f)
{
    td_store_options_t opt;
    char err[256];

    memset(f, 0, sizeof(*f));
    g_fx = f;
    td_config_init(&f->cfg);
    td_config_dev_defaults(&f->cfg);
    f->srv.config = &f->cfg;
    f->srv.loop = td_loop_new();
    memset(&opt, 0, sizeof(opt));
    opt.loop = f->srv.loop;
    opt.schema = TD_STORE_SCHEMA_AUTO;
    TD_CHECK_INT(td_store_open("sqlite://:memory:", &opt, &f->store, err, sizeof(err)), ==, TD_OK);
    f->srv.store = f->store;
    f->srv.nsreg = td_nsreg_new(f->store);
    TD_CHECK_INT(td_nsreg_load(f->srv.nsreg, err, sizeof(err)), ==, TD_OK);
    TD_CHECK_INT(td_nsreg_ensure(f->srv.nsreg, "default", 24, NULL, err, sizeof(err)), ==, TD_OK);
    f->guard = td_timer_new(f->srv.loop, fx_guard, f);
}

static void fx_destroy(fx_t *f)
{
    td_timer_free(f->guard);
    td_svc_free(&f->srv);
    td_nsreg_free(f->srv.nsreg);
    td_store_close(f->store);
    td_loop_free(f->srv.loop);
    td_config_destroy(&f->cfg);
    free(f->resp.data);
}

static void fx_done(const ProtobufCMessage *resp, int status, const char *message,
                    const ProtobufCMessage *detail, void *arg)
{
    fx_t *f = arg;

    f->done++;
    f->status = status;
    snprintf(f->message, sizeof(f->message), "%s", message != NULL ? message : "");
    f->detail_type[0] = f->detail_ns[0] = '\0';
    if (detail != NULL) {
        snprintf(f->detail_type, sizeof(f->detail_type), "%s", detail->descriptor->short_name);
        if (detail->descriptor ==
            &temporal__api__errordetails__v1__namespace_not_found_failure__descriptor) {
            snprintf(f->detail_ns, sizeof(f->detail_ns), "%s",
                     ((const Temporal__Api__Errordetails__V1__NamespaceNotFoundFailure *)detail)
                             ->namespace_);
        }
    }
    free(f->resp.data);
    f->resp.data = NULL;
    f->resp.len = 0;
    if (resp != NULL) {
        f->resp.len = protobuf_c_message_get_packed_size(resp);
        f->resp.data = malloc(f->resp.len + 1);
        protobuf_c_message_pack(resp, f->resp.data);
    }
    td_loop_stop(f->srv.loop);
}

/* Calls the public method at path; runs the loop until it ends when it does not end at
 * once (unless park is set: then returns the call, still running). */
static td_rpc_call_t *fx_call_ex(fx_t *f, const char *path, const ProtobufCMessage *req,
                                 int64_t deadline, int park)
{
    td_rpc_method_t m;
    td_rpc_call_t *c;
    int before = f->done;

    TD_CHECK_INT(td_fe__method(&f->srv, path, &m), ==, TD_OK);
    c = td_rpc_local_call(f->srv.loop, &m, req, deadline, fx_done, f);
    if (f->done == before && !park) {
        td_timer_start(f->guard, 10000);
        td_loop_run(f->srv.loop);
        td_timer_stop(f->guard);
    }
    if (!park) {
        TD_CHECK_INT(f->done, ==, before + 1);
    }
    return c;
}

static void fx_call(fx_t *f, const char *path, const ProtobufCMessage *req)
{
    fx_call_ex(f, path, req, 0, 0);
}

/* ---- fakes ---- */

static void fake_on_cancel(void *arg)
{
    fx_t *f = arg;
    f->inner_cancels++;
    td_rpc_fail(f->parked, TD_GRPC_CANCELLED, "canceled by the caller", NULL);
    f->parked = NULL;
}

/* The common end of a fake: records the call, then answers as f->fake_mode says. */
static void fake_end(td_rpc_call_t *c, const char *ns_id, const ProtobufCMessage *resp)
{
    fx_t *f = g_fx;

    f->inner_calls++;
    snprintf(f->inner_ns_id, sizeof(f->inner_ns_id), "%s", ns_id ? ns_id : "");
    snprintf(f->inner_path, sizeof(f->inner_path), "%s", td_rpc_method(c));
    f->inner_deadline = td_rpc_deadline(c);
    if (f->fake_mode == 1) {
        Temporal__Api__Errordetails__V1__WorkflowExecutionAlreadyStartedFailure *d =
                td_arena_calloc(td_rpc_arena(c), sizeof(*d));
        temporal__api__errordetails__v1__workflow_execution_already_started_failure__init(d);
        d->run_id = "run-1";
        td_rpc_fail(c, TD_GRPC_ALREADY_EXISTS, "Workflow execution is already running.", &d->base);
    } else if (f->fake_mode == 2) {
        td_rpc_fail(c, TD_GRPC_DEADLINE_EXCEEDED, "deadline exceeded", NULL);
    } else if (f->fake_mode == 3) {
        f->parked = c;
        td_rpc_on_cancel(c, fake_on_cancel, f);
    } else {
        td_rpc_reply(c, resp);
    }
}

static void fake_start(td_rpc_call_t *c, void *ctx)
{
    const Temporald__Historyservice__StartWorkflowExecutionRequest *r =
            (const void *)td_rpc_request(c);
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionResponse *resp =
            td_arena_calloc(td_rpc_arena(c), sizeof(*resp));
    (void)ctx;
    TD_CHECK(r->request != NULL);
    TD_CHECK_STR(r->request->workflow_id, "wf-1");
    TD_CHECK_INT(strlen(r->request->request_id), ==, 36); /* filled in when absent */
    temporal__api__workflowservice__v1__start_workflow_execution_response__init(resp);
    resp->run_id = "3f1c6a54-0c1e-4c55-9b6a-2a8f4b4d7e11";
    fake_end(c, r->namespace_id, &resp->base);
}

static void fake_poll(td_rpc_call_t *c, void *ctx)
{
    const Temporald__Matchingservice__PollWorkflowTaskQueueRequest *r =
            (const void *)td_rpc_request(c);
    Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse *resp =
            td_arena_calloc(td_rpc_arena(c), sizeof(*resp));
    (void)ctx;
    snprintf(g_fx->poller_id, sizeof(g_fx->poller_id), "%s", r->poller_id);
    temporal__api__workflowservice__v1__poll_workflow_task_queue_response__init(resp);
    resp->task_token.data = (uint8_t *)"tok";
    resp->task_token.len = 3;
    fake_end(c, r->namespace_id, &resp->base);
}

static void fake_unload(td_rpc_call_t *c, void *ctx)
{
    const Temporald__Matchingservice__UnloadStickyTaskQueueRequest *r =
            (const void *)td_rpc_request(c);
    Temporald__Matchingservice__UnloadStickyTaskQueueResponse *resp =
            td_arena_calloc(td_rpc_arena(c), sizeof(*resp));
    (void)ctx;
    snprintf(g_fx->sticky, sizeof(g_fx->sticky), "%s", r->sticky_task_queue);
    temporald__matchingservice__unload_sticky_task_queue_response__init(resp);
    fake_end(c, r->namespace_id, &resp->base);
}

static void fake_act_failed(td_rpc_call_t *c, void *ctx)
{
    const Temporald__Historyservice__RespondActivityTaskFailedRequest *r =
            (const void *)td_rpc_request(c);
    Temporal__Api__Workflowservice__V1__RespondActivityTaskFailedResponse *resp =
            td_arena_calloc(td_rpc_arena(c), sizeof(*resp));
    (void)ctx;
    snprintf(g_fx->fail_msg, sizeof(g_fx->fail_msg), "%s",
             r->request && r->request->failure ? r->request->failure->message : "");
    temporal__api__workflowservice__v1__respond_activity_task_failed_response__init(resp);
    fake_end(c, r->namespace_id, &resp->base);
}

static void fx_fakes(fx_t *f)
{
    td_rpc_method_t m[] = {
        { TD_SVC_HISTORY "StartWorkflowExecution",
          &temporald__historyservice__start_workflow_execution_request__descriptor, fake_start,
          NULL },
        { TD_SVC_HISTORY "RespondActivityTaskFailed",
          &temporald__historyservice__respond_activity_task_failed_request__descriptor,
          fake_act_failed, NULL },
        { TD_SVC_MATCHING "PollWorkflowTaskQueue",
          &temporald__matchingservice__poll_workflow_task_queue_request__descriptor, fake_poll,
          NULL },
        { TD_SVC_MATCHING "UnloadStickyTaskQueue",
          &temporald__matchingservice__unload_sticky_task_queue_request__descriptor, fake_unload,
          NULL },
    };
    TD_CHECK_INT(td_svc_register_all(&f->srv, m, (int)TD_ARRAY_LEN(m)), ==, TD_OK);
}

/* A valid StartWorkflowExecution request (strings are literals). */
typedef struct {
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest req;
    Temporal__Api__Common__V1__WorkflowType type;
    Temporal__Api__Taskqueue__V1__TaskQueue tq;
} fx_start_t;

static void fx_start_init(fx_start_t *s)
{
    temporal__api__workflowservice__v1__start_workflow_execution_request__init(&s->req);
    temporal__api__common__v1__workflow_type__init(&s->type);
    temporal__api__taskqueue__v1__task_queue__init(&s->tq);
    s->type.name = "greet";
    s->tq.name = "tq";
    s->req.namespace_ = "default";
    s->req.workflow_id = "wf-1";
    s->req.workflow_type = &s->type;
    s->req.task_queue = &s->tq;
}

#define WS(m) TD_WORKFLOW_SERVICE m
#define OS(m) TD_OPERATOR_SERVICE m

/* ---- routing ---- */

TD_TEST(fe_start_routes_to_history_with_namespace_id)
{
    fx_t f;
    fx_start_t s;
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionResponse *resp;
    const td_ns_t *ns;

    fx_init(&f);
    fx_fakes(&f);
    ns = td_nsreg_by_name(f.srv.nsreg, "default");
    TD_CHECK(ns != NULL);
    TD_CHECK_INT(strlen(ns->id), ==, 36);
    fx_start_init(&s);
    fx_call(&f, WS("StartWorkflowExecution"), &s.req.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    TD_CHECK_INT(f.inner_calls, ==, 1);
    TD_CHECK_STR(f.inner_ns_id, ns->id);
    TD_CHECK_STR(f.inner_path, TD_SVC_HISTORY "StartWorkflowExecution");
    resp = temporal__api__workflowservice__v1__start_workflow_execution_response__unpack(
            NULL, f.resp.len, f.resp.data);
    TD_CHECK(resp != NULL);
    TD_CHECK_STR(resp->run_id, "3f1c6a54-0c1e-4c55-9b6a-2a8f4b4d7e11");
    temporal__api__workflowservice__v1__start_workflow_execution_response__free_unpacked(resp,
                                                                                         NULL);
    fx_destroy(&f);
}

TD_TEST(fe_error_passes_through_with_detail)
{
    fx_t f;
    fx_start_t s;

    fx_init(&f);
    fx_fakes(&f);
    f.fake_mode = 1;
    fx_start_init(&s);
    fx_call(&f, WS("StartWorkflowExecution"), &s.req.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_ALREADY_EXISTS);
    TD_CHECK_STR(f.message, "Workflow execution is already running.");
    TD_CHECK_STR(f.detail_type, "WorkflowExecutionAlreadyStartedFailure");
    fx_destroy(&f);
}

TD_TEST(fe_role_not_hosted_is_unavailable)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__SignalWorkflowExecutionRequest r =
            TEMPORAL__API__WORKFLOWSERVICE__V1__SIGNAL_WORKFLOW_EXECUTION_REQUEST__INIT;
    Temporal__Api__Common__V1__WorkflowExecution e =
            TEMPORAL__API__COMMON__V1__WORKFLOW_EXECUTION__INIT;

    fx_init(&f);
    fx_fakes(&f); /* no SignalWorkflowExecution among them */
    e.workflow_id = "wf-1";
    r.namespace_ = "default";
    r.workflow_execution = &e;
    r.signal_name = "sig";
    /* history hosted here but not serving the method: UNIMPLEMENTED naming it */
    f.cfg.services = TD_ROLE_ALL;
    fx_call(&f, WS("SignalWorkflowExecution"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_UNIMPLEMENTED);
    TD_CHECK_CONTAINS(f.message, "SignalWorkflowExecution is not implemented by temporald yet");
    /* history hosted elsewhere: the svc layer's UNAVAILABLE passes through */
    f.cfg.services = TD_ROLE_FRONTEND;
    fx_call(&f, WS("SignalWorkflowExecution"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_UNAVAILABLE);
    TD_CHECK_CONTAINS(f.message, "SignalWorkflowExecution");
    fx_destroy(&f);
}

/* ---- validation ---- */

TD_TEST(fe_start_validation_names_the_field)
{
    fx_t f;
    fx_start_t s;
    char long_id[1100];

    fx_init(&f);
    fx_fakes(&f);

    fx_start_init(&s);
    s.req.workflow_id = "";
    fx_call(&f, WS("StartWorkflowExecution"), &s.req.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(f.message, "WorkflowId is not set on request.");

    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    fx_start_init(&s);
    s.req.workflow_id = long_id;
    fx_call(&f, WS("StartWorkflowExecution"), &s.req.base);
    TD_CHECK_STR(f.message, "WorkflowId length exceeds limit.");

    fx_start_init(&s);
    s.req.task_queue = NULL;
    fx_call(&f, WS("StartWorkflowExecution"), &s.req.base);
    TD_CHECK_STR(f.message, "TaskQueue is not set on request.");

    fx_start_init(&s);
    s.req.workflow_type = NULL;
    fx_call(&f, WS("StartWorkflowExecution"), &s.req.base);
    TD_CHECK_STR(f.message, "WorkflowType is not set on request.");

    fx_start_init(&s);
    s.req.namespace_ = "";
    fx_call(&f, WS("StartWorkflowExecution"), &s.req.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(f.message, "Namespace is not set on request.");

    TD_CHECK_INT(f.inner_calls, ==, 0);
    fx_destroy(&f);
}

TD_TEST(fe_blob_limit_from_dynamic_config)
{
    fx_t f;
    fx_start_t s;
    Temporal__Api__Common__V1__Payloads ps = TEMPORAL__API__COMMON__V1__PAYLOADS__INIT;
    Temporal__Api__Common__V1__Payload p = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    Temporal__Api__Common__V1__Payload *pv[1] = { &p };
    uint8_t data[200];

    fx_init(&f);
    fx_fakes(&f);
    td_strlist_add(&f.cfg.dynamic_config, "limit.blobSize.error=100");
    memset(data, 'a', sizeof(data));
    p.data.data = data;
    p.data.len = sizeof(data);
    ps.n_payloads = 1;
    ps.payloads = pv;
    fx_start_init(&s);
    s.req.input = &ps;
    fx_call(&f, WS("StartWorkflowExecution"), &s.req.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(f.message, "Blob data size exceeds limit.");
    p.data.len = 50;
    fx_call(&f, WS("StartWorkflowExecution"), &s.req.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    fx_destroy(&f);
}

TD_TEST(fe_unknown_namespace_is_not_found_with_detail)
{
    fx_t f;
    fx_start_t s;
    Temporal__Api__Workflowservice__V1__DescribeNamespaceRequest d =
            TEMPORAL__API__WORKFLOWSERVICE__V1__DESCRIBE_NAMESPACE_REQUEST__INIT;

    fx_init(&f);
    fx_fakes(&f);
    fx_start_init(&s);
    s.req.namespace_ = "nope";
    fx_call(&f, WS("StartWorkflowExecution"), &s.req.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_NOT_FOUND);
    TD_CHECK_STR(f.message, "Namespace nope is not found.");
    TD_CHECK_STR(f.detail_type, "NamespaceNotFoundFailure");
    TD_CHECK_STR(f.detail_ns, "nope");
    TD_CHECK_INT(f.inner_calls, ==, 0);

    d.namespace_ = "nope2";
    fx_call(&f, WS("DescribeNamespace"), &d.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_NOT_FOUND);
    TD_CHECK_STR(f.detail_ns, "nope2");
    fx_destroy(&f);
}

/* ---- long polls ---- */

static void fx_poll_init(Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueRequest *r,
                         Temporal__Api__Taskqueue__V1__TaskQueue *tq)
{
    temporal__api__workflowservice__v1__poll_workflow_task_queue_request__init(r);
    temporal__api__taskqueue__v1__task_queue__init(tq);
    tq->name = "tq";
    r->namespace_ = "default";
    r->task_queue = tq;
}

TD_TEST(fe_poll_deadline_rules)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueRequest r;
    Temporal__Api__Taskqueue__V1__TaskQueue tq;

    fx_init(&f);
    fx_fakes(&f);
    fx_poll_init(&r, &tq);
    fx_call_ex(&f, WS("PollWorkflowTaskQueue"), &r.base, 0, 0);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(f.message, "Context timeout is not set.");
    fx_call_ex(&f, WS("PollWorkflowTaskQueue"), &r.base, td_now_mono_ms() + 1000, 0);
    TD_CHECK_INT(f.status, ==, TD_GRPC_FAILED_PRECONDITION);
    TD_CHECK_STR(f.message, "Context timeout is too short.");
    TD_CHECK_INT(f.inner_calls, ==, 0);

    /* a good poll: a fresh poller id, the deadline shortened by the tail room */
    {
        int64_t dl = td_now_mono_ms() + 60000;
        char first[64];
        fx_call_ex(&f, WS("PollWorkflowTaskQueue"), &r.base, dl, 0);
        TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
        TD_CHECK_INT(f.inner_deadline, ==, dl - TD_FE_LONG_POLL_TAIL_MS);
        TD_CHECK_INT(strlen(f.poller_id), ==, 36);
        snprintf(first, sizeof(first), "%s", f.poller_id);
        fx_call_ex(&f, WS("PollWorkflowTaskQueue"), &r.base, dl, 0);
        TD_CHECK(strcmp(first, f.poller_id) != 0);
    }

    /* matching's expiry becomes an empty success */
    f.fake_mode = 2;
    fx_call_ex(&f, WS("PollWorkflowTaskQueue"), &r.base, td_now_mono_ms() + 60000, 0);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    TD_CHECK_INT(f.resp.len, ==, 0);
    fx_destroy(&f);
}

TD_TEST(fe_poll_cancel_reaches_matching)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueRequest r;
    Temporal__Api__Taskqueue__V1__TaskQueue tq;
    td_rpc_call_t *c;

    fx_init(&f);
    fx_fakes(&f);
    f.fake_mode = 3;
    fx_poll_init(&r, &tq);
    c = fx_call_ex(&f, WS("PollWorkflowTaskQueue"), &r.base, td_now_mono_ms() + 60000, 1);
    TD_CHECK(c != NULL);
    TD_CHECK(f.parked != NULL);
    TD_CHECK_INT(f.done, ==, 0);
    td_rpc_local_cancel(c);
    TD_CHECK_INT(f.inner_cancels, ==, 1);
    TD_CHECK_INT(f.done, ==, 1);
    TD_CHECK_INT(f.status, ==, TD_GRPC_CANCELLED);
    fx_destroy(&f);
}

/* ---- worker calls ---- */

TD_TEST(fe_shutdown_worker_unloads_sticky_queue)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__ShutdownWorkerRequest r =
            TEMPORAL__API__WORKFLOWSERVICE__V1__SHUTDOWN_WORKER_REQUEST__INIT;

    fx_init(&f);
    fx_fakes(&f);
    r.namespace_ = "default";
    fx_call(&f, WS("ShutdownWorker"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    TD_CHECK_INT(f.inner_calls, ==, 0); /* no sticky queue: nothing to unload */
    r.sticky_task_queue = "sticky-1";
    fx_call(&f, WS("ShutdownWorker"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    TD_CHECK_INT(f.inner_calls, ==, 1);
    TD_CHECK_STR(f.sticky, "sticky-1");
    TD_CHECK_STR(f.inner_path, TD_SVC_MATCHING "UnloadStickyTaskQueue");
    fx_destroy(&f);
}

TD_TEST(fe_activity_result_too_large_fails_the_activity)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__RespondActivityTaskCompletedRequest r =
            TEMPORAL__API__WORKFLOWSERVICE__V1__RESPOND_ACTIVITY_TASK_COMPLETED_REQUEST__INIT;
    Temporal__Api__Common__V1__Payloads ps = TEMPORAL__API__COMMON__V1__PAYLOADS__INIT;
    Temporal__Api__Common__V1__Payload p = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    Temporal__Api__Common__V1__Payload *pv[1] = { &p };
    uint8_t data[300];

    fx_init(&f);
    fx_fakes(&f);
    td_strlist_add(&f.cfg.dynamic_config, "limit.blobSize.error=100");
    r.namespace_ = "default";
    fx_call(&f, WS("RespondActivityTaskCompleted"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(f.message, "Task token not set on request.");

    memset(data, 'a', sizeof(data));
    p.data.data = data;
    p.data.len = sizeof(data);
    ps.n_payloads = 1;
    ps.payloads = pv;
    r.task_token.data = (uint8_t *)"token";
    r.task_token.len = 5;
    r.result = &ps;
    fx_call(&f, WS("RespondActivityTaskCompleted"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    TD_CHECK_STR(f.inner_path, TD_SVC_HISTORY "RespondActivityTaskFailed");
    TD_CHECK_STR(f.fail_msg, "Complete result exceeds size limit.");

    /* an oversized heartbeat fails the activity too, and tells the worker to cancel it */
    {
        Temporal__Api__Workflowservice__V1__RecordActivityTaskHeartbeatRequest hb =
                TEMPORAL__API__WORKFLOWSERVICE__V1__RECORD_ACTIVITY_TASK_HEARTBEAT_REQUEST__INIT;
        Temporal__Api__Workflowservice__V1__RecordActivityTaskHeartbeatResponse *hr;
        hb.namespace_ = "default";
        hb.task_token = r.task_token;
        hb.details = &ps;
        f.fail_msg[0] = '\0';
        fx_call(&f, WS("RecordActivityTaskHeartbeat"), &hb.base);
        TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
        TD_CHECK_STR(f.fail_msg, "Heartbeat details exceed size limit.");
        hr = temporal__api__workflowservice__v1__record_activity_task_heartbeat_response__unpack(
                NULL, f.resp.len, f.resp.data);
        TD_CHECK(hr != NULL && hr->cancel_requested);
        temporal__api__workflowservice__v1__record_activity_task_heartbeat_response__free_unpacked(
                hr, NULL);
    }
    fx_destroy(&f);
}

static void fake_done_by_id(td_rpc_call_t *c, void *ctx)
{
    const Temporald__Historyservice__RespondActivityTaskCompletedByIdRequest *r =
            (const void *)td_rpc_request(c);
    Temporal__Api__Workflowservice__V1__RespondActivityTaskCompletedByIdResponse *resp =
            td_arena_calloc(td_rpc_arena(c), sizeof(*resp));
    (void)ctx;
    TD_CHECK(r->request != NULL);
    TD_CHECK_STR(r->request->workflow_id, "wf");
    TD_CHECK_STR(r->request->activity_id, "1");
    temporal__api__workflowservice__v1__respond_activity_task_completed_by_id_response__init(resp);
    fake_end(c, r->namespace_id, &resp->base);
}

/* The ById methods are checked, then forwarded to history's method of the same name. */
TD_TEST(fe_by_id_methods_check_then_forward)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__RespondActivityTaskCompletedByIdRequest r =
            TEMPORAL__API__WORKFLOWSERVICE__V1__RESPOND_ACTIVITY_TASK_COMPLETED_BY_ID_REQUEST__INIT;
    td_rpc_method_t m = {
        TD_SVC_HISTORY "RespondActivityTaskCompletedById",
        &temporald__historyservice__respond_activity_task_completed_by_id_request__descriptor,
        fake_done_by_id, NULL
    };

    fx_init(&f);
    TD_CHECK_INT(td_svc_register(&f.srv, &m), ==, TD_OK);
    r.namespace_ = "default";
    r.workflow_id = "wf";
    fx_call(&f, WS("RespondActivityTaskCompletedById"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(f.message, "ActivityId is not set on request.");
    r.activity_id = "1";
    r.namespace_ = "nope";
    fx_call(&f, WS("RespondActivityTaskCompletedById"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_NOT_FOUND);
    TD_CHECK_INT(f.inner_calls, ==, 0);
    r.namespace_ = "default";
    fx_call(&f, WS("RespondActivityTaskCompletedById"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    TD_CHECK_INT(f.inner_calls, ==, 1);
    TD_CHECK_STR(f.inner_path, TD_SVC_HISTORY "RespondActivityTaskCompletedById");
    TD_CHECK(f.inner_ns_id[0] != '\0');
    fx_destroy(&f);
}

static void fx_never(td_rpc_call_t *c, void *ctx)
{
    (void)c;
    (void)ctx;
    td_test_fail(__FILE__, __LINE__, "never called");
}

/* The answer of a method not served: NOT_FOUND for an unknown namespace, else UNIMPLEMENTED
 * naming the method. */
TD_TEST(fe_unserved_method_answers_unimplemented)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__ListSchedulesRequest r =
            TEMPORAL__API__WORKFLOWSERVICE__V1__LIST_SCHEDULES_REQUEST__INIT;
    td_rpc_method_t m;

    fx_init(&f);
    TD_CHECK_INT(td_fe__method(&f.srv, WS("NoSuchMethod"), &m), ==, TD_ENOTFOUND);
    TD_CHECK_INT(td_fe__method(&f.srv, "/other.Svc/ListSchedules", &m), ==, TD_ENOTFOUND);
    r.namespace_ = "nope";
    fx_call(&f, WS("ListSchedules"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_NOT_FOUND);
    TD_CHECK_STR(f.detail_ns, "nope");
    r.namespace_ = "default";
    fx_call(&f, WS("ListSchedules"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_UNIMPLEMENTED);
    TD_CHECK_STR(f.message, "ListSchedules is not implemented by temporald yet (unknown method)");
    fx_destroy(&f);
}

TD_TEST(fe_registers_every_public_method)
{
    fx_t f;
    td_rpc_server_t *rpc;
    td_rpc_method_t m = { WS("ListSchedules"),
                          &temporal__api__workflowservice__v1__list_schedules_request__descriptor,
                          NULL, NULL };

    fx_init(&f);
    rpc = td_rpc_server_new(f.srv.loop, NULL);
    TD_CHECK_INT(td_frontend_system_info_register(rpc, &f.srv), ==, TD_OK);
    TD_CHECK_INT(td_frontend_api_register(rpc, &f.srv), ==, TD_OK);
    m.fn = fx_never; /* only registration is checked */
    TD_CHECK_INT(td_rpc_server_add(rpc, &m), ==, TD_EEXIST);
    m.path = OS("ListClusters");
    TD_CHECK_INT(td_rpc_server_add(rpc, &m), ==, TD_EEXIST);
    m.path = WS("GetSystemInfo");
    TD_CHECK_INT(td_rpc_server_add(rpc, &m), ==, TD_EEXIST);
    td_rpc_server_free(rpc);
    fx_destroy(&f);
}

/* ---- namespaces over the store ---- */

TD_TEST(fe_namespace_describe_register_list_update)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__DescribeNamespaceRequest d =
            TEMPORAL__API__WORKFLOWSERVICE__V1__DESCRIBE_NAMESPACE_REQUEST__INIT;
    Temporal__Api__Workflowservice__V1__RegisterNamespaceRequest reg =
            TEMPORAL__API__WORKFLOWSERVICE__V1__REGISTER_NAMESPACE_REQUEST__INIT;
    Temporal__Api__Workflowservice__V1__ListNamespacesRequest list =
            TEMPORAL__API__WORKFLOWSERVICE__V1__LIST_NAMESPACES_REQUEST__INIT;
    Temporal__Api__Workflowservice__V1__UpdateNamespaceRequest upd =
            TEMPORAL__API__WORKFLOWSERVICE__V1__UPDATE_NAMESPACE_REQUEST__INIT;
    Temporal__Api__Namespace__V1__NamespaceConfig cfg =
            TEMPORAL__API__NAMESPACE__V1__NAMESPACE_CONFIG__INIT;
    Google__Protobuf__Duration ttl = GOOGLE__PROTOBUF__DURATION__INIT;
    Temporal__Api__Workflowservice__V1__DescribeNamespaceResponse *dr;
    Temporal__Api__Workflowservice__V1__ListNamespacesResponse *lr;
    Temporal__Api__Workflowservice__V1__UpdateNamespaceResponse *ur;
    char id[64];

    fx_init(&f);
    d.namespace_ = "default";
    fx_call(&f, WS("DescribeNamespace"), &d.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    dr = temporal__api__workflowservice__v1__describe_namespace_response__unpack(NULL, f.resp.len,
                                                                                 f.resp.data);
    TD_CHECK(dr != NULL && dr->namespace_info != NULL);
    TD_CHECK_STR(dr->namespace_info->name, "default");
    TD_CHECK_INT(strlen(dr->namespace_info->id), ==, 36);
    TD_CHECK(dr->namespace_info->capabilities != NULL);
    TD_CHECK(dr->namespace_info->capabilities->sync_update);
    TD_CHECK(dr->namespace_info->capabilities->async_update);
    TD_CHECK(!dr->namespace_info->capabilities->worker_heartbeats);
    TD_CHECK(!dr->namespace_info->capabilities->eager_workflow_start);
    TD_CHECK_INT(dr->namespace_info->limits->blob_size_limit_error, ==, 2 * 1024 * 1024);
    TD_CHECK_INT(dr->config->workflow_execution_retention_ttl->seconds, ==, 24 * 3600);
    TD_CHECK_STR(dr->replication_config->active_cluster_name, "active");
    snprintf(id, sizeof(id), "%s", dr->namespace_info->id);
    temporal__api__workflowservice__v1__describe_namespace_response__free_unpacked(dr, NULL);

    /* by id */
    d.namespace_ = "";
    d.id = id;
    fx_call(&f, WS("DescribeNamespace"), &d.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);

    /* register: too short a retention, then fine, then again */
    reg.namespace_ = "ns-b";
    ttl.seconds = 60;
    reg.workflow_execution_retention_period = &ttl;
    fx_call(&f, WS("RegisterNamespace"), &reg.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_CONTAINS(f.message, "WorkflowExecutionRetentionPeriod");
    ttl.seconds = 3 * 24 * 3600;
    fx_call(&f, WS("RegisterNamespace"), &reg.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    fx_call(&f, WS("RegisterNamespace"), &reg.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_ALREADY_EXISTS);
    TD_CHECK_STR(f.detail_type, "NamespaceAlreadyExistsFailure");

    /* list, one per page */
    list.page_size = 1;
    fx_call(&f, WS("ListNamespaces"), &list.base);
    lr = temporal__api__workflowservice__v1__list_namespaces_response__unpack(NULL, f.resp.len,
                                                                              f.resp.data);
    TD_CHECK(lr != NULL);
    TD_CHECK_INT(lr->n_namespaces, ==, 1);
    TD_CHECK_STR(lr->namespaces[0]->namespace_info->name, "default");
    TD_CHECK(lr->next_page_token.len > 0);
    list.next_page_token.data = malloc(lr->next_page_token.len);
    memcpy(list.next_page_token.data, lr->next_page_token.data, lr->next_page_token.len);
    list.next_page_token.len = lr->next_page_token.len;
    temporal__api__workflowservice__v1__list_namespaces_response__free_unpacked(lr, NULL);
    fx_call(&f, WS("ListNamespaces"), &list.base);
    lr = temporal__api__workflowservice__v1__list_namespaces_response__unpack(NULL, f.resp.len,
                                                                              f.resp.data);
    TD_CHECK(lr != NULL);
    TD_CHECK_INT(lr->n_namespaces, ==, 1);
    TD_CHECK_STR(lr->namespaces[0]->namespace_info->name, "ns-b");
    TD_CHECK_INT(lr->namespaces[0]->config->workflow_execution_retention_ttl->seconds, ==,
                 3 * 24 * 3600);
    TD_CHECK_INT(lr->next_page_token.len, ==, 0);
    temporal__api__workflowservice__v1__list_namespaces_response__free_unpacked(lr, NULL);
    free(list.next_page_token.data);

    /* update the retention */
    ttl.seconds = 5 * 24 * 3600;
    cfg.workflow_execution_retention_ttl = &ttl;
    upd.namespace_ = "ns-b";
    upd.config = &cfg;
    fx_call(&f, WS("UpdateNamespace"), &upd.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    ur = temporal__api__workflowservice__v1__update_namespace_response__unpack(NULL, f.resp.len,
                                                                               f.resp.data);
    TD_CHECK(ur != NULL);
    TD_CHECK_INT(ur->config->workflow_execution_retention_ttl->seconds, ==, 5 * 24 * 3600);
    TD_CHECK_STR(ur->namespace_info->name, "ns-b");
    temporal__api__workflowservice__v1__update_namespace_response__free_unpacked(ur, NULL);
    TD_CHECK_INT(td_nsreg_by_name(f.srv.nsreg, "ns-b")->retention_ns, ==,
                 5LL * 24 * 3600 * 1000000000LL);
    fx_destroy(&f);
}

/* ---- search attributes ---- */

TD_TEST(fe_search_attributes_add_list_remove)
{
    fx_t f;
    Temporal__Api__Operatorservice__V1__AddSearchAttributesRequest add =
            TEMPORAL__API__OPERATORSERVICE__V1__ADD_SEARCH_ATTRIBUTES_REQUEST__INIT;
    Temporal__Api__Operatorservice__V1__AddSearchAttributesRequest__SearchAttributesEntry e1 =
            TEMPORAL__API__OPERATORSERVICE__V1__ADD_SEARCH_ATTRIBUTES_REQUEST__SEARCH_ATTRIBUTES_ENTRY__INIT;
    Temporal__Api__Operatorservice__V1__AddSearchAttributesRequest__SearchAttributesEntry e2 =
            TEMPORAL__API__OPERATORSERVICE__V1__ADD_SEARCH_ATTRIBUTES_REQUEST__SEARCH_ATTRIBUTES_ENTRY__INIT;
    Temporal__Api__Operatorservice__V1__AddSearchAttributesRequest__SearchAttributesEntry *ev[2] = {
        &e1, &e2
    };
    Temporal__Api__Operatorservice__V1__ListSearchAttributesRequest list =
            TEMPORAL__API__OPERATORSERVICE__V1__LIST_SEARCH_ATTRIBUTES_REQUEST__INIT;
    Temporal__Api__Operatorservice__V1__RemoveSearchAttributesRequest rm =
            TEMPORAL__API__OPERATORSERVICE__V1__REMOVE_SEARCH_ATTRIBUTES_REQUEST__INIT;
    Temporal__Api__Operatorservice__V1__ListSearchAttributesResponse *lr;
    char *rm_names[1] = { "CustomIntField" };
    const td_ns_t *ns;

    fx_init(&f);
    e1.key = "CustomIntField";
    e1.value = TEMPORAL__API__ENUMS__V1__INDEXED_VALUE_TYPE__INDEXED_VALUE_TYPE_INT;
    e2.key = "CustomKeywordField";
    e2.value = TEMPORAL__API__ENUMS__V1__INDEXED_VALUE_TYPE__INDEXED_VALUE_TYPE_KEYWORD;
    add.namespace_ = "default";
    add.n_search_attributes = 2;
    add.search_attributes = ev;
    fx_call(&f, OS("AddSearchAttributes"), &add.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    ns = td_nsreg_by_name(f.srv.nsreg, "default");
    TD_CHECK_INT(ns->rec->n_custom_search_attributes, ==, 2);
    /* again: already there, still fine, nothing added */
    fx_call(&f, OS("AddSearchAttributes"), &add.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    TD_CHECK_INT(td_nsreg_by_name(f.srv.nsreg, "default")->rec->n_custom_search_attributes, ==, 2);
    /* a system name */
    e1.key = "WorkflowId";
    fx_call(&f, OS("AddSearchAttributes"), &add.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(f.message, "Search attribute WorkflowId is reserved by system.");
    e1.key = "CustomIntField";

    list.namespace_ = "default";
    fx_call(&f, OS("ListSearchAttributes"), &list.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    lr = temporal__api__operatorservice__v1__list_search_attributes_response__unpack(
            NULL, f.resp.len, f.resp.data);
    TD_CHECK(lr != NULL);
    TD_CHECK_INT(lr->n_custom_attributes, ==, 2);
    TD_CHECK(lr->n_system_attributes > 20);
    temporal__api__operatorservice__v1__list_search_attributes_response__free_unpacked(lr, NULL);

    rm.namespace_ = "default";
    rm.n_search_attributes = 1;
    rm.search_attributes = rm_names;
    fx_call(&f, OS("RemoveSearchAttributes"), &rm.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    ns = td_nsreg_by_name(f.srv.nsreg, "default");
    TD_CHECK_INT(ns->rec->n_custom_search_attributes, ==, 1);
    TD_CHECK_STR(ns->rec->custom_search_attributes[0]->key, "CustomKeywordField");
    fx_destroy(&f);
}

/* ---- workflow updates (fe_update.c) ---- */

static void fake_update(td_rpc_call_t *c, void *ctx)
{
    const Temporald__Historyservice__UpdateWorkflowExecutionRequest *r =
            (const void *)td_rpc_request(c);
    Temporal__Api__Workflowservice__V1__UpdateWorkflowExecutionResponse *resp =
            td_arena_calloc(td_rpc_arena(c), sizeof(*resp));
    (void)ctx;
    TD_CHECK(r->request != NULL && r->request->request != NULL);
    TD_CHECK_STR(r->request->request->meta->update_id, "u-1");
    temporal__api__workflowservice__v1__update_workflow_execution_response__init(resp);
    resp->stage =
            TEMPORAL__API__ENUMS__V1__UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE__UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED;
    fake_end(c, r->namespace_id, &resp->base);
}

static void fake_multi(td_rpc_call_t *c, void *ctx)
{
    const Temporald__Historyservice__ExecuteMultiOperationRequest *r =
            (const void *)td_rpc_request(c);
    Temporal__Api__Workflowservice__V1__ExecuteMultiOperationResponse *resp =
            td_arena_calloc(td_rpc_arena(c), sizeof(*resp));
    (void)ctx;
    TD_CHECK_INT((int)r->request->n_operations, ==, 2);
    temporal__api__workflowservice__v1__execute_multi_operation_response__init(resp);
    fake_end(c, r->namespace_id, &resp->base);
}

TD_TEST(fe_update_routes_check_then_forward)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__UpdateWorkflowExecutionRequest u =
            TEMPORAL__API__WORKFLOWSERVICE__V1__UPDATE_WORKFLOW_EXECUTION_REQUEST__INIT;
    Temporal__Api__Common__V1__WorkflowExecution ex =
            TEMPORAL__API__COMMON__V1__WORKFLOW_EXECUTION__INIT;
    Temporal__Api__Update__V1__Request ur = TEMPORAL__API__UPDATE__V1__REQUEST__INIT;
    Temporal__Api__Update__V1__Meta meta = TEMPORAL__API__UPDATE__V1__META__INIT;
    Temporal__Api__Update__V1__Input in = TEMPORAL__API__UPDATE__V1__INPUT__INIT;
    Temporal__Api__Update__V1__WaitPolicy wp = TEMPORAL__API__UPDATE__V1__WAIT_POLICY__INIT;
    Temporal__Api__Workflowservice__V1__PollWorkflowExecutionUpdateRequest p =
            TEMPORAL__API__WORKFLOWSERVICE__V1__POLL_WORKFLOW_EXECUTION_UPDATE_REQUEST__INIT;
    Temporal__Api__Workflowservice__V1__ExecuteMultiOperationRequest m =
            TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_REQUEST__INIT;
    Temporal__Api__Workflowservice__V1__ExecuteMultiOperationRequest__Operation o[2] = {
        TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_REQUEST__OPERATION__INIT,
        TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_REQUEST__OPERATION__INIT
    };
    Temporal__Api__Workflowservice__V1__ExecuteMultiOperationRequest__Operation *ops[2] = { &o[0],
                                                                                            &o[1] };
    Temporal__Api__Common__V1__WorkflowExecution ex2 =
            TEMPORAL__API__COMMON__V1__WORKFLOW_EXECUTION__INIT;
    fx_start_t s;
    td_rpc_method_t fk[] = {
        { TD_SVC_HISTORY "UpdateWorkflowExecution",
          &temporald__historyservice__update_workflow_execution_request__descriptor, fake_update,
          NULL },
        { TD_SVC_HISTORY "ExecuteMultiOperation",
          &temporald__historyservice__execute_multi_operation_request__descriptor, fake_multi,
          NULL },
    };

    fx_init(&f);
    TD_CHECK_INT(td_svc_register_all(&f.srv, fk, (int)TD_ARRAY_LEN(fk)), ==, TD_OK);
    ex.workflow_id = "wf-1";
    u.namespace_ = "default";
    u.workflow_execution = &ex;
    fx_call(&f, WS("UpdateWorkflowExecution"), &u.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(f.message, "Update meta is not set on request.");
    u.request = &ur;
    ur.meta = &meta;
    ur.input = &in;
    fx_call(&f, WS("UpdateWorkflowExecution"), &u.base);
    TD_CHECK_STR(f.message, "UpdateId is not set on request.");
    meta.update_id = "u-1";
    fx_call(&f, WS("UpdateWorkflowExecution"), &u.base);
    TD_CHECK_STR(f.message, "Update name is not set on request.");
    in.name = "setValue";
    u.wait_policy = &wp;
    wp.lifecycle_stage =
            TEMPORAL__API__ENUMS__V1__UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE__UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED;
    fx_call(&f, WS("UpdateWorkflowExecution"), &u.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_PERMISSION_DENIED);
    TD_CHECK_INT(f.inner_calls, ==, 0);
    /* A valid request goes to history with the namespace id and the caller's deadline. */
    wp.lifecycle_stage =
            TEMPORAL__API__ENUMS__V1__UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE__UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED;
    fx_call_ex(&f, WS("UpdateWorkflowExecution"), &u.base, td_now_mono_ms() + 5000, 0);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    TD_CHECK_INT(f.inner_calls, ==, 1);
    TD_CHECK_STR(f.inner_path, TD_SVC_HISTORY "UpdateWorkflowExecution");
    TD_CHECK_INT(strlen(f.inner_ns_id), ==, 36);
    TD_CHECK(f.inner_deadline > 0);

    p.namespace_ = "default";
    fx_call(&f, WS("PollWorkflowExecutionUpdate"), &p.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(f.message, "UpdateRef is not set on request.");

    /* Update-with-start: exactly [start, update] on one workflow id. */
    m.namespace_ = "default";
    fx_call(&f, WS("ExecuteMultiOperation"), &m.base);
    TD_CHECK_STR(f.message, "Operations have to be defined.");
    fx_start_init(&s);
    o[0].operation_case =
            TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_REQUEST__OPERATION__OPERATION_START_WORKFLOW;
    o[0].start_workflow = &s.req;
    m.n_operations = 1;
    m.operations = ops;
    fx_call(&f, WS("ExecuteMultiOperation"), &m.base);
    TD_CHECK_STR(f.message, "Operations have to be exactly [Start, Update].");
    o[1].operation_case =
            TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_REQUEST__OPERATION__OPERATION_UPDATE_WORKFLOW;
    o[1].update_workflow = &u;
    m.n_operations = 2;
    fx_call(&f, WS("ExecuteMultiOperation"), &m.base);
    TD_CHECK_STR(f.message, "WorkflowIDConflictPolicy must be set.");
    s.req.workflow_id_conflict_policy =
            TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_CONFLICT_POLICY__WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING;
    ex2.workflow_id = "wf-other";
    u.workflow_execution = &ex2;
    fx_call(&f, WS("ExecuteMultiOperation"), &m.base);
    TD_CHECK_STR(f.message, "WorkflowId is not consistent with previous operation(s).");
    u.workflow_execution = &ex;
    ex.run_id = "3f1c6a54-0c1e-4c55-9b6a-2a8f4b4d7e11";
    fx_call(&f, WS("ExecuteMultiOperation"), &m.base);
    TD_CHECK_STR(f.message, "RunId is not allowed.");
    ex.run_id = "";
    TD_CHECK_INT(f.inner_calls, ==, 1);
    fx_call(&f, WS("ExecuteMultiOperation"), &m.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    TD_CHECK_INT(f.inner_calls, ==, 2);
    TD_CHECK_STR(f.inner_path, TD_SVC_HISTORY "ExecuteMultiOperation");
    fx_destroy(&f);
}
