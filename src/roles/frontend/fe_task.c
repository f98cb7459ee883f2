/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The WorkflowService methods that workers call: task polls (forwarded to matching as long
 * polls), workflow and activity task completions and heartbeats (forwarded to history with
 * the task token untouched: history decodes it), legacy query answers and sticky-queue
 * unloading (matching), and task-queue descriptions. Task tokens are opaque here. The *ById
 * activity methods (async completion) go to history's methods of the same name, which look
 * the activity up by workflow id, run id and activity id.
 */
#include <string.h>

#include "error.h"
#include "historyservice.pb-c.h"
#include "matchingservice.pb-c.h"
#include "roles/frontend/fe_int.h"
#include "roles/frontend/frontend.h"
#include "temporal/api/failure/v1/message.pb-c.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

typedef Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueRequest td_poll_wft_req_t;
typedef Temporal__Api__Workflowservice__V1__PollActivityTaskQueueRequest td_poll_act_req_t;
typedef Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest td_wft_done_req_t;
typedef Temporal__Api__Workflowservice__V1__RespondWorkflowTaskFailedRequest td_wft_fail_req_t;
typedef Temporal__Api__Workflowservice__V1__RecordActivityTaskHeartbeatRequest td_hb_req_t;
typedef Temporal__Api__Workflowservice__V1__RespondActivityTaskCompletedRequest td_act_done_req_t;
typedef Temporal__Api__Workflowservice__V1__RespondActivityTaskFailedRequest td_act_fail_req_t;
typedef Temporal__Api__Workflowservice__V1__RespondActivityTaskCanceledRequest td_act_cancel_req_t;
typedef Temporal__Api__Workflowservice__V1__RespondQueryTaskCompletedRequest td_query_done_req_t;
typedef Temporal__Api__Workflowservice__V1__ShutdownWorkerRequest td_shutdown_req_t;
typedef Temporal__Api__Workflowservice__V1__DescribeTaskQueueRequest td_describe_tq_req_t;
typedef Temporal__Api__Workflowservice__V1__RecordActivityTaskHeartbeatByIdRequest td_hb_id_req_t;
typedef Temporal__Api__Workflowservice__V1__RespondActivityTaskCompletedByIdRequest
        td_done_id_req_t;
typedef Temporal__Api__Workflowservice__V1__RespondActivityTaskFailedByIdRequest td_fail_id_req_t;
typedef Temporal__Api__Workflowservice__V1__RespondActivityTaskCanceledByIdRequest
        td_cancel_id_req_t;
typedef Temporald__Historyservice__RespondActivityTaskFailedRequest td_h_act_fail_req_t;

static int td_fe_verdict(td_fe_call_t *x, const char *err)
{
    x->msg = err;
    return err == NULL ? TD_GRPC_OK : TD_GRPC_INVALID_ARGUMENT;
}

static const char *td_fe_check_token(td_fe_call_t *x, ProtobufCBinaryData token,
                                     const char *identity)
{
    const char *err = NULL;

    if (token.len == 0) {
        err = td_fe__msg(x, "Task token not set on request.");
    } else {
        err = td_fe__check_optional_id(x, "Identity", identity);
    }
    return err;
}

static int td_fe_check_poll_wft(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_poll_wft_req_t *r = (const td_poll_wft_req_t *)m;
    const char *err = td_fe__check_task_queue(x, r->task_queue);

    if (err == NULL) {
        err = td_fe__check_optional_id(x, "Identity", r->identity);
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_poll_act(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_poll_act_req_t *r = (const td_poll_act_req_t *)m;
    const char *err = td_fe__check_task_queue(x, r->task_queue);

    if (err == NULL) {
        err = td_fe__check_optional_id(x, "Identity", r->identity);
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_wft_done(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_wft_done_req_t *r = (const td_wft_done_req_t *)m;
    const char *err = td_fe_check_token(x, r->task_token, r->identity);

    if (err == NULL && r->sticky_attributes != NULL) {
        err = td_fe__check_task_queue(x, r->sticky_attributes->worker_task_queue);
        if (err == NULL) {
            err = td_fe__check_duration(x, "StickyAttributes.ScheduleToStartTimeout",
                                        r->sticky_attributes->schedule_to_start_timeout);
        }
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_wft_fail(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_wft_fail_req_t *r = (const td_wft_fail_req_t *)m;
    return td_fe_verdict(x, td_fe_check_token(x, r->task_token, r->identity));
}

static int td_fe_check_heartbeat(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_hb_req_t *r = (const td_hb_req_t *)m;
    return td_fe_verdict(x, td_fe_check_token(x, r->task_token, r->identity));
}

static int td_fe_check_act_done(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_act_done_req_t *r = (const td_act_done_req_t *)m;
    return td_fe_verdict(x, td_fe_check_token(x, r->task_token, r->identity));
}

static int td_fe_check_act_fail(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_act_fail_req_t *r = (const td_act_fail_req_t *)m;
    return td_fe_verdict(x, td_fe_check_token(x, r->task_token, r->identity));
}

static int td_fe_check_act_cancel(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_act_cancel_req_t *r = (const td_act_cancel_req_t *)m;
    return td_fe_verdict(x, td_fe_check_token(x, r->task_token, r->identity));
}

static int td_fe_check_query_done(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_query_done_req_t *r = (const td_query_done_req_t *)m;
    const char *err = td_fe_check_token(x, r->task_token, NULL);

    if (err == NULL) {
        err = td_fe__check_blob(x, td_fe__payloads_size(r->query_result));
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_shutdown(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_shutdown_req_t *r = (const td_shutdown_req_t *)m;
    const char *err = td_fe__check_optional_id(x, "StickyTaskQueue", r->sticky_task_queue);

    if (err == NULL) {
        err = td_fe__check_optional_id(x, "Identity", r->identity);
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_describe_tq(td_fe_call_t *x, const ProtobufCMessage *m)
{
    return td_fe_verdict(x,
                         td_fe__check_task_queue(x, ((const td_describe_tq_req_t *)m)->task_queue));
}

/* The ById methods: workflow id, activity id, run id form, identity, blob size. */
static const char *td_fe_check_by_id(td_fe_call_t *x, const char *wf_id, const char *run_id,
                                     const char *act_id, const char *identity)
{
    const char *err = td_fe__check_required_id(x, "WorkflowId", wf_id);

    if (err == NULL) {
        err = td_fe__check_run_id(x, run_id);
    }
    if (err == NULL) {
        err = td_fe__check_required_id(x, "ActivityId", act_id);
    }
    if (err == NULL) {
        err = td_fe__check_optional_id(x, "Identity", identity);
    }
    return err;
}

static int td_fe_check_hb_id(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_hb_id_req_t *r = (const td_hb_id_req_t *)m;
    const char *err = td_fe_check_by_id(x, r->workflow_id, r->run_id, r->activity_id, r->identity);

    if (err == NULL) {
        err = td_fe__check_blob(x, td_fe__payloads_size(r->details));
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_done_id(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_done_id_req_t *r = (const td_done_id_req_t *)m;
    const char *err = td_fe_check_by_id(x, r->workflow_id, r->run_id, r->activity_id, r->identity);

    if (err == NULL) {
        err = td_fe__check_blob(x, td_fe__payloads_size(r->result));
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_fail_id(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_fail_id_req_t *r = (const td_fail_id_req_t *)m;
    const char *err = td_fe_check_by_id(x, r->workflow_id, r->run_id, r->activity_id, r->identity);
    size_t n = td_fe__payloads_size(r->last_heartbeat_details);

    n += r->failure != NULL ? protobuf_c_message_get_packed_size(&r->failure->base) : 0;
    if (err == NULL) {
        err = td_fe__check_blob(x, n);
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_cancel_id(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_cancel_id_req_t *r = (const td_cancel_id_req_t *)m;
    const char *err = td_fe_check_by_id(x, r->workflow_id, r->run_id, r->activity_id, r->identity);

    if (err == NULL) {
        err = td_fe__check_blob(x, td_fe__payloads_size(r->details));
    }
    return td_fe_verdict(x, err);
}

/* An activity whose report is larger than limit.blobSize.error fails instead, with a
 * non-retryable server failure saying why, as Temporal's frontend does: the internal call
 * becomes history's RespondActivityTaskFailed and the public caller gets an empty success
 * (a heartbeat: cancel_requested, so that the worker stops the activity). */
static ProtobufCMessage *td_fe_fail_activity(td_fe_call_t *x, ProtobufCBinaryData token,
                                             const char *identity, const char *ns_name,
                                             const char *why)
{
    td_arena_t *a = td_rpc_arena(x->call);
    Temporal__Api__Workflowservice__V1__RespondActivityTaskFailedRequest *pub = (void *)td_fe__new_msg(
            x->call,
            &temporal__api__workflowservice__v1__respond_activity_task_failed_request__descriptor);
    Temporal__Api__Failure__V1__Failure *f =
            (void *)td_fe__new_msg(x->call, &temporal__api__failure__v1__failure__descriptor);
    Temporal__Api__Failure__V1__ServerFailureInfo *info = (void *)td_fe__new_msg(
            x->call, &temporal__api__failure__v1__server_failure_info__descriptor);
    td_h_act_fail_req_t *r = (void *)td_fe__new_msg(
            x->call, &temporald__historyservice__respond_activity_task_failed_request__descriptor);

    info->non_retryable = 1;
    f->message = td_arena_strdup(a, why);
    f->source = td_arena_strdup(a, "temporald");
    f->failure_info_case = TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_SERVER_FAILURE_INFO;
    f->server_failure_info = info;
    pub->task_token = token;
    pub->failure = f;
    pub->identity = (char *)(identity != NULL ? identity : "");
    pub->namespace_ = (char *)ns_name;
    r->namespace_id = x->ns != NULL ? x->ns->id : td_arena_strdup(a, "");
    r->request = pub;
    x->target = TD_SVC_HISTORY "RespondActivityTaskFailed";
    x->reply = td_fe__new_msg(x->call, x->route->resp);
    return &r->base;
}

static ProtobufCMessage *td_fe_build_act_done(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_act_done_req_t *r = (const td_act_done_req_t *)m;
    ProtobufCMessage *out;

    if (td_fe__check_blob(x, td_fe__payloads_size(r->result)) != NULL) {
        x->msg = NULL;
        out = td_fe_fail_activity(x, r->task_token, r->identity, r->namespace_,
                                  "Complete result exceeds size limit.");
    } else {
        out = td_fe__wrap(x, x->route->inner, m);
    }
    return out;
}

static ProtobufCMessage *td_fe_build_act_fail(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_act_fail_req_t *r = (const td_act_fail_req_t *)m;
    size_t n = td_fe__payloads_size(r->last_heartbeat_details);
    ProtobufCMessage *out;

    n += r->failure != NULL ? protobuf_c_message_get_packed_size(&r->failure->base) : 0;
    if (td_fe__check_blob(x, n) != NULL) {
        x->msg = NULL;
        out = td_fe_fail_activity(x, r->task_token, r->identity, r->namespace_,
                                  "Failure exceeds size limit.");
    } else {
        out = td_fe__wrap(x, x->route->inner, m);
    }
    return out;
}

static ProtobufCMessage *td_fe_build_act_cancel(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_act_cancel_req_t *r = (const td_act_cancel_req_t *)m;
    ProtobufCMessage *out;

    if (td_fe__check_blob(x, td_fe__payloads_size(r->details)) != NULL) {
        x->msg = NULL;
        out = td_fe_fail_activity(x, r->task_token, r->identity, r->namespace_,
                                  "Cancel details exceed size limit.");
    } else {
        out = td_fe__wrap(x, x->route->inner, m);
    }
    return out;
}

static ProtobufCMessage *td_fe_build_heartbeat(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_hb_req_t *r = (const td_hb_req_t *)m;
    ProtobufCMessage *out;

    if (td_fe__check_blob(x, td_fe__payloads_size(r->details)) != NULL) {
        x->msg = NULL;
        out = td_fe_fail_activity(x, r->task_token, r->identity, r->namespace_,
                                  "Heartbeat details exceed size limit.");
        ((Temporal__Api__Workflowservice__V1__RecordActivityTaskHeartbeatResponse *)x->reply)
                ->cancel_requested = 1;
    } else {
        out = td_fe__wrap(x, x->route->inner, m);
    }
    return out;
}

/* ShutdownWorker: matching drops the worker's sticky queue; no sticky queue, nothing to do. */
static ProtobufCMessage *td_fe_build_shutdown(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_shutdown_req_t *r = (const td_shutdown_req_t *)m;
    Temporald__Matchingservice__UnloadStickyTaskQueueRequest *u = NULL;

    /* Neither a sticky queue nor a worker key: NULL with status OK and no message, answered
     * empty. With a worker key, matching completes the worker's outstanding polls at once
     * (the namespace advertises worker_poll_complete_on_shutdown, so sdk-core lets its polls
     * run and waits for these answers). */
    if ((r->sticky_task_queue != NULL && r->sticky_task_queue[0] != '\0') ||
        (r->worker_instance_key != NULL && r->worker_instance_key[0] != '\0' &&
         td_fe__polls_complete_on_shutdown(x->srv))) {
        u = (void *)td_fe__new_msg(
                x->call, &temporald__matchingservice__unload_sticky_task_queue_request__descriptor);
        u->namespace_id = x->ns->id;
        u->sticky_task_queue = r->sticky_task_queue;
        if (td_fe__polls_complete_on_shutdown(x->srv)) {
            u->worker_instance_key = r->worker_instance_key;
            u->task_queue = r->task_queue;
        }
    }
    return u != NULL ? &u->base : NULL;
}

#define TD_WS_REQ(n)  &temporal__api__workflowservice__v1__##n##_request__descriptor
#define TD_WS_RESP(n) &temporal__api__workflowservice__v1__##n##_response__descriptor
#define TD_HS_REQ(n)  &temporald__historyservice__##n##_request__descriptor
#define TD_MS_REQ(n)  &temporald__matchingservice__##n##_request__descriptor

#define TD_FE_HISTORY(Name, snake, check, build, flags)                                       \
    {                                                                                         \
        TD_WORKFLOW_SERVICE #Name, TD_WS_REQ(snake), TD_WS_RESP(snake), TD_SVC_HISTORY #Name, \
                TD_HS_REQ(snake), check, build, flags, NULL, NULL                             \
    }
#define TD_FE_MATCHING(Name, snake, check, flags)                                              \
    {                                                                                          \
        TD_WORKFLOW_SERVICE #Name, TD_WS_REQ(snake), TD_WS_RESP(snake), TD_SVC_MATCHING #Name, \
                TD_MS_REQ(snake), check, NULL, flags, NULL, NULL                               \
    }
const td_fe_route_t td_fe__task_routes[] = {
    TD_FE_MATCHING(PollWorkflowTaskQueue, poll_workflow_task_queue, td_fe_check_poll_wft,
                   TD_FE_LONG_POLL),
    TD_FE_MATCHING(PollActivityTaskQueue, poll_activity_task_queue, td_fe_check_poll_act,
                   TD_FE_LONG_POLL),
    TD_FE_HISTORY(RespondWorkflowTaskCompleted, respond_workflow_task_completed,
                  td_fe_check_wft_done, NULL, TD_FE_NS_OPTIONAL),
    TD_FE_HISTORY(RespondWorkflowTaskFailed, respond_workflow_task_failed, td_fe_check_wft_fail,
                  NULL, TD_FE_NS_OPTIONAL),
    TD_FE_HISTORY(RecordActivityTaskHeartbeat, record_activity_task_heartbeat,
                  td_fe_check_heartbeat, td_fe_build_heartbeat, TD_FE_NS_OPTIONAL),
    TD_FE_HISTORY(RespondActivityTaskCompleted, respond_activity_task_completed,
                  td_fe_check_act_done, td_fe_build_act_done, TD_FE_NS_OPTIONAL),
    TD_FE_HISTORY(RespondActivityTaskFailed, respond_activity_task_failed, td_fe_check_act_fail,
                  td_fe_build_act_fail, TD_FE_NS_OPTIONAL),
    TD_FE_HISTORY(RespondActivityTaskCanceled, respond_activity_task_canceled,
                  td_fe_check_act_cancel, td_fe_build_act_cancel, TD_FE_NS_OPTIONAL),
    TD_FE_MATCHING(RespondQueryTaskCompleted, respond_query_task_completed, td_fe_check_query_done,
                   TD_FE_NS_OPTIONAL),
    TD_FE_MATCHING(DescribeTaskQueue, describe_task_queue, td_fe_check_describe_tq, 0),
    {
            TD_WORKFLOW_SERVICE "ShutdownWorker",
            TD_WS_REQ(shutdown_worker),
            TD_WS_RESP(shutdown_worker),
            TD_SVC_MATCHING "UnloadStickyTaskQueue",
            TD_MS_REQ(unload_sticky_task_queue),
            td_fe_check_shutdown,
            td_fe_build_shutdown,
            TD_FE_REPLY_EMPTY,
            NULL,
            NULL,
    },
    TD_FE_HISTORY(RecordActivityTaskHeartbeatById, record_activity_task_heartbeat_by_id,
                  td_fe_check_hb_id, NULL, 0),
    TD_FE_HISTORY(RespondActivityTaskCompletedById, respond_activity_task_completed_by_id,
                  td_fe_check_done_id, NULL, 0),
    TD_FE_HISTORY(RespondActivityTaskFailedById, respond_activity_task_failed_by_id,
                  td_fe_check_fail_id, NULL, 0),
    TD_FE_HISTORY(RespondActivityTaskCanceledById, respond_activity_task_canceled_by_id,
                  td_fe_check_cancel_id, NULL, 0),
};
const int td_fe__task_routes_n = (int)(sizeof(td_fe__task_routes) / sizeof(td_fe__task_routes[0]));
