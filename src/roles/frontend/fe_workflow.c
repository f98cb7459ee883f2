/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The WorkflowService methods that act on one workflow execution on behalf of clients:
 * start, signal, signal-with-start, cancel, terminate, describe, history, query, sticky
 * reset, workflow reset and delete. Each is a route (fe_int.h): checked here, then forwarded
 * to the history role with the resolved namespace id. Workflow state and its rules (id reuse,
 * closed runs) are the history role's; this file knows only the request shapes.
 */
#include <string.h>

#include "error.h"
#include "historyservice.pb-c.h"
#include "roles/frontend/fe_int.h"
#include "roles/frontend/frontend.h"
#include "temporal/api/query/v1/message.pb-c.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"
#include "uuid.h"

typedef Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest td_start_req_t;
typedef Temporal__Api__Workflowservice__V1__SignalWorkflowExecutionRequest td_signal_req_t;
typedef Temporal__Api__Workflowservice__V1__SignalWithStartWorkflowExecutionRequest td_sws_req_t;
typedef Temporal__Api__Workflowservice__V1__RequestCancelWorkflowExecutionRequest td_cancel_req_t;
typedef Temporal__Api__Workflowservice__V1__TerminateWorkflowExecutionRequest td_term_req_t;
typedef Temporal__Api__Workflowservice__V1__DescribeWorkflowExecutionRequest td_describe_req_t;
typedef Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryRequest td_hist_req_t;
typedef Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryReverseRequest
        td_hist_rev_req_t;
typedef Temporal__Api__Workflowservice__V1__QueryWorkflowRequest td_query_req_t;
typedef Temporal__Api__Workflowservice__V1__ResetStickyTaskQueueRequest td_reset_sticky_req_t;

#define TD_REUSE_TERMINATE_IF_RUNNING \
    TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_REUSE_POLICY__WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING
#define TD_REUSE_REJECT_DUPLICATE \
    TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_REUSE_POLICY__WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
#define TD_CONFLICT_UNSPECIFIED \
    TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_CONFLICT_POLICY__WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED
#define TD_CONFLICT_TERMINATE_EXISTING \
    TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_CONFLICT_POLICY__WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING

/* Ends a check: INVALID_ARGUMENT when err is set. */
static int td_fe_verdict(td_fe_call_t *x, const char *err)
{
    x->msg = err;
    return err == NULL ? TD_GRPC_OK : TD_GRPC_INVALID_ARGUMENT;
}

/* The fields that StartWorkflowExecution and SignalWithStartWorkflowExecution share. */
typedef struct {
    const char *workflow_id;
    const Temporal__Api__Common__V1__WorkflowType *type;
    const Temporal__Api__Taskqueue__V1__TaskQueue *tq;
    const Google__Protobuf__Duration *exec_timeout, *run_timeout, *task_timeout, *start_delay;
    const char *request_id, *identity, *cron;
    int reuse, conflict;
    const Temporal__Api__Common__V1__Payloads *input;
} td_fe_start_fields_t;

static const char *td_fe_check_start_fields(td_fe_call_t *x, const td_fe_start_fields_t *f)
{
    const char *err = td_fe__check_required_id(x, "WorkflowId", f->workflow_id);

    if (err == NULL) {
        err = td_fe__check_required_id(x, "WorkflowType", f->type ? f->type->name : NULL);
    }
    if (err == NULL) {
        err = td_fe__check_task_queue(x, f->tq);
    }
    if (err == NULL) {
        err = td_fe__check_optional_id(x, "RequestId", f->request_id);
    }
    if (err == NULL) {
        err = td_fe__check_optional_id(x, "Identity", f->identity);
    }
    if (err == NULL) {
        err = td_fe__check_duration(x, "WorkflowExecutionTimeout", f->exec_timeout);
    }
    if (err == NULL) {
        err = td_fe__check_duration(x, "WorkflowRunTimeout", f->run_timeout);
    }
    if (err == NULL) {
        err = td_fe__check_duration(x, "WorkflowTaskTimeout", f->task_timeout);
    }
    if (err == NULL) {
        err = td_fe__check_duration(x, "WorkflowStartDelay", f->start_delay);
    }
    if (err == NULL && f->cron != NULL && f->cron[0] != '\0' && f->start_delay != NULL &&
        (f->start_delay->seconds > 0 || f->start_delay->nanos > 0)) {
        err = td_fe__msg(x, "CronSchedule and WorkflowStartDelay may not be used together.");
    }
    if (err == NULL && f->reuse == TD_REUSE_TERMINATE_IF_RUNNING &&
        f->conflict != TD_CONFLICT_UNSPECIFIED) {
        err = td_fe__msg(x, "Invalid WorkflowIDReusePolicy: "
                            "WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING cannot be used "
                            "together with a WorkflowIDConflictPolicy.");
    }
    if (err == NULL && f->reuse == TD_REUSE_REJECT_DUPLICATE &&
        f->conflict == TD_CONFLICT_TERMINATE_EXISTING) {
        err = td_fe__msg(x, "Invalid WorkflowIDReusePolicy: "
                            "WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE cannot be used together "
                            "with WorkflowIdConflictPolicy "
                            "WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING.");
    }
    if (err == NULL) {
        err = td_fe__check_blob(x, td_fe__payloads_size(f->input));
    }
    return err;
}

static int td_fe_check_start(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_start_req_t *r = (const td_start_req_t *)m;
    td_fe_start_fields_t f = {
        r->workflow_id,
        r->workflow_type,
        r->task_queue,
        r->workflow_execution_timeout,
        r->workflow_run_timeout,
        r->workflow_task_timeout,
        r->workflow_start_delay,
        r->request_id,
        r->identity,
        r->cron_schedule,
        (int)r->workflow_id_reuse_policy,
        (int)r->workflow_id_conflict_policy,
        r->input,
    };
    return td_fe_verdict(x, td_fe_check_start_fields(x, &f));
}

static int td_fe_check_signal_with_start(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_sws_req_t *r = (const td_sws_req_t *)m;
    td_fe_start_fields_t f = {
        r->workflow_id,
        r->workflow_type,
        r->task_queue,
        r->workflow_execution_timeout,
        r->workflow_run_timeout,
        r->workflow_task_timeout,
        r->workflow_start_delay,
        r->request_id,
        r->identity,
        r->cron_schedule,
        (int)r->workflow_id_reuse_policy,
        (int)r->workflow_id_conflict_policy,
        r->input,
    };
    const char *err = td_fe_check_start_fields(x, &f);

    if (err == NULL) {
        err = td_fe__check_required_id(x, "SignalName", r->signal_name);
    }
    if (err == NULL) {
        err = td_fe__check_blob(x, td_fe__payloads_size(r->signal_input));
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_signal(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_signal_req_t *r = (const td_signal_req_t *)m;
    const char *err = td_fe__check_execution(x, r->workflow_execution, 0);

    if (err == NULL) {
        err = td_fe__check_required_id(x, "SignalName", r->signal_name);
    }
    if (err == NULL) {
        err = td_fe__check_optional_id(x, "RequestId", r->request_id);
    }
    if (err == NULL) {
        err = td_fe__check_optional_id(x, "Identity", r->identity);
    }
    if (err == NULL) {
        err = td_fe__check_blob(x, td_fe__payloads_size(r->input));
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_cancel(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_cancel_req_t *r = (const td_cancel_req_t *)m;
    const char *err = td_fe__check_execution(x, r->workflow_execution, 0);

    if (err == NULL) {
        err = td_fe__check_optional_id(x, "RequestId", r->request_id);
    }
    if (err == NULL) {
        err = td_fe__check_optional_id(x, "Identity", r->identity);
    }
    if (err == NULL) {
        err = td_fe__check_run_id(x, r->first_execution_run_id);
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_terminate(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_term_req_t *r = (const td_term_req_t *)m;
    const char *err = td_fe__check_execution(x, r->workflow_execution, 0);

    if (err == NULL) {
        err = td_fe__check_optional_id(x, "Identity", r->identity);
    }
    if (err == NULL) {
        err = td_fe__check_run_id(x, r->first_execution_run_id);
    }
    if (err == NULL) {
        err = td_fe__check_blob(x, td_fe__payloads_size(r->details));
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_describe(td_fe_call_t *x, const ProtobufCMessage *m)
{
    return td_fe_verdict(x,
                         td_fe__check_execution(x, ((const td_describe_req_t *)m)->execution, 0));
}

static int td_fe_check_history(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_hist_req_t *r = (const td_hist_req_t *)m;
    const char *err = td_fe__check_execution(x, r->execution, 0);

    if (err == NULL && r->maximum_page_size < 0) {
        err = td_fe__msg(x, "MaximumPageSize must not be negative.");
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_history_reverse(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_hist_rev_req_t *r = (const td_hist_rev_req_t *)m;
    const char *err = td_fe__check_execution(x, r->execution, 0);

    if (err == NULL && r->maximum_page_size < 0) {
        err = td_fe__msg(x, "MaximumPageSize must not be negative.");
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_query(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_query_req_t *r = (const td_query_req_t *)m;
    const char *err = td_fe__check_execution(x, r->execution, 0);

    if (err == NULL && r->query == NULL) {
        err = td_fe__msg(x, "WorkflowQuery is not set on request.");
    }
    if (err == NULL && (r->query->query_type == NULL || r->query->query_type[0] == '\0')) {
        err = td_fe__msg(x, "QueryType is not set on request.");
    }
    if (err == NULL) {
        err = td_fe__check_blob(x, td_fe__payloads_size(r->query->query_args));
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_reset_sticky(td_fe_call_t *x, const ProtobufCMessage *m)
{
    return td_fe_verdict(
            x, td_fe__check_execution(x, ((const td_reset_sticky_req_t *)m)->execution, 0));
}

static int td_fe_check_reset(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const Temporal__Api__Workflowservice__V1__ResetWorkflowExecutionRequest *r = (const void *)m;
    const char *err = td_fe__check_execution(x, r->workflow_execution, 0);

    if (err == NULL && (r->request_id == NULL || r->request_id[0] == '\0')) {
        err = td_fe__msg(x, "RequestId is not set on request.");
    }
    if (err == NULL) {
        err = td_fe__check_optional_id(x, "RequestId", r->request_id);
    }
    if (err == NULL && r->n_post_reset_operations > 0) {
        x->msg = "ResetWorkflowExecution post_reset_operations are not implemented by temporald "
                 "yet";
        return TD_GRPC_UNIMPLEMENTED;
    }
    return td_fe_verdict(x, err);
}

static int td_fe_check_delete(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const Temporal__Api__Workflowservice__V1__DeleteWorkflowExecutionRequest *r = (const void *)m;
    return td_fe_verdict(x, td_fe__check_execution(x, r->workflow_execution, 0));
}

/* A fresh request id for a start without one (history deduplicates retries by it): the
 * public request is copied shallowly into the call arena first, as it may be borrowed. */
static char *td_fe_new_request_id(td_fe_call_t *x)
{
    char *id = td_arena_alloc(td_rpc_arena(x->call), TD_UUID_LEN + 1);
    td_uuid_v4(id);
    return id;
}

static ProtobufCMessage *td_fe_build_start(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_start_req_t *r = (const td_start_req_t *)m;
    td_start_req_t *copy = NULL;

    if (r->request_id == NULL || r->request_id[0] == '\0') {
        copy = td_arena_memdup(td_rpc_arena(x->call), r, sizeof(*r));
        copy->request_id = td_fe_new_request_id(x);
    }
    return td_fe__wrap(x, x->route->inner, copy != NULL ? &copy->base : m);
}

static ProtobufCMessage *td_fe_build_signal_with_start(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_sws_req_t *r = (const td_sws_req_t *)m;
    td_sws_req_t *copy = NULL;

    if (r->request_id == NULL || r->request_id[0] == '\0') {
        copy = td_arena_memdup(td_rpc_arena(x->call), r, sizeof(*r));
        copy->request_id = td_fe_new_request_id(x);
    }
    return td_fe__wrap(x, x->route->inner, copy != NULL ? &copy->base : m);
}

/* ResetStickyTaskQueue's internal request carries the execution, not the public request. */
static ProtobufCMessage *td_fe_build_reset_sticky(td_fe_call_t *x, const ProtobufCMessage *m)
{
    Temporald__Historyservice__ResetStickyTaskQueueRequest *r = (void *)td_fe__new_msg(
            x->call, &temporald__historyservice__reset_sticky_task_queue_request__descriptor);

    r->namespace_id = x->ns->id;
    r->execution = ((const td_reset_sticky_req_t *)m)->execution;
    return &r->base;
}

#define TD_WS_REQ(n)  &temporal__api__workflowservice__v1__##n##_request__descriptor
#define TD_WS_RESP(n) &temporal__api__workflowservice__v1__##n##_response__descriptor
#define TD_HS_REQ(n)  &temporald__historyservice__##n##_request__descriptor

/* One forwarded route to the history method of the same name. */
#define TD_FE_HISTORY(Name, snake, check, build, flags)                                       \
    {                                                                                         \
        TD_WORKFLOW_SERVICE #Name, TD_WS_REQ(snake), TD_WS_RESP(snake), TD_SVC_HISTORY #Name, \
                TD_HS_REQ(snake), check, build, flags, NULL, NULL                             \
    }

const td_fe_route_t td_fe__workflow_routes[] = {
    TD_FE_HISTORY(StartWorkflowExecution, start_workflow_execution, td_fe_check_start,
                  td_fe_build_start, 0),
    TD_FE_HISTORY(SignalWorkflowExecution, signal_workflow_execution, td_fe_check_signal, NULL, 0),
    TD_FE_HISTORY(SignalWithStartWorkflowExecution, signal_with_start_workflow_execution,
                  td_fe_check_signal_with_start, td_fe_build_signal_with_start, 0),
    TD_FE_HISTORY(RequestCancelWorkflowExecution, request_cancel_workflow_execution,
                  td_fe_check_cancel, NULL, 0),
    TD_FE_HISTORY(TerminateWorkflowExecution, terminate_workflow_execution, td_fe_check_terminate,
                  NULL, 0),
    TD_FE_HISTORY(DescribeWorkflowExecution, describe_workflow_execution, td_fe_check_describe,
                  NULL, 0),
    TD_FE_HISTORY(GetWorkflowExecutionHistory, get_workflow_execution_history, td_fe_check_history,
                  NULL, 0),
    TD_FE_HISTORY(GetWorkflowExecutionHistoryReverse, get_workflow_execution_history_reverse,
                  td_fe_check_history_reverse, NULL, 0),
    TD_FE_HISTORY(QueryWorkflow, query_workflow, td_fe_check_query, NULL, 0),
    TD_FE_HISTORY(ResetStickyTaskQueue, reset_sticky_task_queue, td_fe_check_reset_sticky,
                  td_fe_build_reset_sticky, 0),
    TD_FE_HISTORY(ResetWorkflowExecution, reset_workflow_execution, td_fe_check_reset, NULL, 0),
    TD_FE_HISTORY(DeleteWorkflowExecution, delete_workflow_execution, td_fe_check_delete, NULL, 0),
};
const int td_fe__workflow_routes_n =
        (int)(sizeof(td_fe__workflow_routes) / sizeof(td_fe__workflow_routes[0]));
