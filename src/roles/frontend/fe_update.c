/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The WorkflowService methods of workflow updates: UpdateWorkflowExecution,
 * PollWorkflowExecutionUpdate and ExecuteMultiOperation (update-with-start, the only
 * multi-operation Temporal defines: exactly [StartWorkflow, UpdateWorkflow]). Each is a route
 * (fe_int.h): the request shape is checked here, then the call goes to the history role with
 * the resolved namespace id and the caller's deadline; the update registry, the lifecycle
 * stages and the waiting are the history role's (src/roles/history/hist_update.c).
 */
#include <string.h>

#include "error.h"
#include "historyservice.pb-c.h"
#include "roles/frontend/fe_int.h"
#include "roles/frontend/frontend.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

typedef Temporal__Api__Workflowservice__V1__UpdateWorkflowExecutionRequest td_upd_req_t;
typedef Temporal__Api__Workflowservice__V1__PollWorkflowExecutionUpdateRequest td_poll_upd_req_t;
typedef Temporal__Api__Workflowservice__V1__ExecuteMultiOperationRequest td_multi_req_t;

#define TD_CONFLICT(x) \
    TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_CONFLICT_POLICY__WORKFLOW_ID_CONFLICT_POLICY_##x

static int td_fe_upd_verdict(td_fe_call_t *x, const char *err)
{
    x->msg = err;
    return err == NULL ? TD_GRPC_OK : TD_GRPC_INVALID_ARGUMENT;
}

/* The update request proper (meta and input), shared by the update and update-with-start. */
static const char *td_fe_check_update_request(td_fe_call_t *x, const td_upd_req_t *r)
{
    const Temporal__Api__Update__V1__Request *u = r->request;
    const char *err = NULL;

    if (u == NULL || u->meta == NULL) {
        return td_fe__msg(x, "Update meta is not set on request.");
    }
    if (u->input == NULL) {
        return td_fe__msg(x, "Update input is not set on request.");
    }
    err = td_fe__check_required_id(x, "UpdateId", u->meta->update_id);
    if (err == NULL && (u->input->name == NULL || u->input->name[0] == '\0')) {
        err = td_fe__msg(x, "Update name is not set on request.");
    }
    if (err == NULL) {
        err = td_fe__check_required_id(x, "UpdateName", u->input->name);
    }
    if (err == NULL) {
        err = td_fe__check_optional_id(x, "Identity", u->meta->identity);
    }
    if (err == NULL) {
        err = td_fe__check_blob(x, td_fe__payloads_size(u->input->args));
    }
    return err;
}

#define TD_STAGE_ADMITTED \
    TEMPORAL__API__ENUMS__V1__UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE__UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED

/* Waiting only for ADMITTED is refused, as Temporal does (PollWorkflowExecutionUpdate may). */
static int td_fe_check_wait_policy(td_fe_call_t *x, const td_upd_req_t *r)
{
    if (r->wait_policy != NULL && (int)r->wait_policy->lifecycle_stage == TD_STAGE_ADMITTED) {
        x->msg = "UpdateWorkflowExecution issued asynchronously and waiting on update admitted "
                 "is not supported.";
        return TD_GRPC_PERMISSION_DENIED;
    }
    return TD_GRPC_OK;
}

static int td_fe_check_update(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_upd_req_t *r = (const td_upd_req_t *)m;
    const char *err = td_fe__check_execution(x, r->workflow_execution, 0);

    if (td_fe_check_wait_policy(x, r) != TD_GRPC_OK) {
        return TD_GRPC_PERMISSION_DENIED;
    }
    if (err == NULL) {
        err = td_fe__check_run_id(x, r->first_execution_run_id);
    }
    if (err == NULL) {
        err = td_fe_check_update_request(x, r);
    }
    return td_fe_upd_verdict(x, err);
}

static int td_fe_check_poll_update(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_poll_upd_req_t *r = (const td_poll_upd_req_t *)m;
    const char *err = NULL;

    if (r->update_ref == NULL) {
        err = td_fe__msg(x, "UpdateRef is not set on request.");
    }
    if (err == NULL) {
        err = td_fe__check_execution(x, r->update_ref->workflow_execution, 0);
    }
    if (err == NULL) {
        err = td_fe__check_required_id(x, "UpdateId", r->update_ref->update_id);
    }
    return td_fe_upd_verdict(x, err);
}

/* Update-with-start: [start_workflow, update_workflow] on one workflow id, with the
 * restrictions the API states for each operation. */
static int td_fe_check_multi(td_fe_call_t *x, const ProtobufCMessage *m)
{
    const td_multi_req_t *r = (const td_multi_req_t *)m;
    const Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *s;
    const td_upd_req_t *u;
    const char *err = NULL;

    if (r->n_operations == 0) {
        return td_fe_upd_verdict(x, td_fe__msg(x, "Operations have to be defined."));
    }
    if (r->n_operations != 2 ||
        r->operations[0]->operation_case !=
                TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_REQUEST__OPERATION__OPERATION_START_WORKFLOW ||
        r->operations[1]->operation_case !=
                TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_REQUEST__OPERATION__OPERATION_UPDATE_WORKFLOW) {
        return td_fe_upd_verdict(x,
                                 td_fe__msg(x, "Operations have to be exactly [Start, Update]."));
    }
    s = r->operations[0]->start_workflow;
    u = r->operations[1]->update_workflow;
    if (s == NULL || u == NULL) {
        return td_fe_upd_verdict(x,
                                 td_fe__msg(x, "Operations have to be exactly [Start, Update]."));
    }
    err = td_fe__check_required_id(x, "WorkflowId", s->workflow_id);
    if (err == NULL && (s->workflow_type == NULL || s->workflow_type->name == NULL ||
                        s->workflow_type->name[0] == '\0')) {
        err = td_fe__msg(x, "WorkflowType is not set on request.");
    }
    if (err == NULL) {
        err = td_fe__check_task_queue(x, s->task_queue);
    }
    if (err == NULL && s->cron_schedule != NULL && s->cron_schedule[0] != '\0') {
        err = td_fe__msg(x, "CronSchedule is not allowed.");
    }
    if (err == NULL && s->workflow_start_delay != NULL) {
        err = td_fe__msg(x, "WorkflowStartDelay is not supported.");
    }
    if (err == NULL && s->request_eager_execution) {
        err = td_fe__msg(x, "RequestEagerExecution is not supported.");
    }
    if (err == NULL && (int)s->workflow_id_conflict_policy == TD_CONFLICT(UNSPECIFIED)) {
        err = td_fe__msg(x, "WorkflowIDConflictPolicy must be set.");
    }
    if (err == NULL && (int)s->workflow_id_conflict_policy == TD_CONFLICT(TERMINATE_EXISTING)) {
        err = td_fe__msg(x, "WorkflowIDConflictPolicy TERMINATE_EXISTING is not supported "
                            "with update-with-start.");
    }
    if (err == NULL &&
        (u->workflow_execution == NULL ||
         strcmp(u->workflow_execution->workflow_id ? u->workflow_execution->workflow_id : "",
                s->workflow_id) != 0)) {
        err = td_fe__msg(x, "WorkflowId is not consistent with previous operation(s).");
    }
    if (err == NULL && u->workflow_execution->run_id != NULL &&
        u->workflow_execution->run_id[0] != '\0') {
        err = td_fe__msg(x, "RunId is not allowed.");
    }
    if (err == NULL && u->first_execution_run_id != NULL && u->first_execution_run_id[0] != '\0') {
        err = td_fe__msg(x, "FirstExecutionRunId is not allowed.");
    }
    if (err == NULL) {
        err = td_fe__check_blob(x, td_fe__payloads_size(s->input));
    }
    if (err == NULL) {
        err = td_fe_check_update_request(x, u);
    }
    if (err == NULL && td_fe_check_wait_policy(x, u) != TD_GRPC_OK) {
        return TD_GRPC_PERMISSION_DENIED;
    }
    return td_fe_upd_verdict(x, err);
}

#define TD_WS_REQ(n)  &temporal__api__workflowservice__v1__##n##_request__descriptor
#define TD_WS_RESP(n) &temporal__api__workflowservice__v1__##n##_response__descriptor
#define TD_HS_REQ(n)  &temporald__historyservice__##n##_request__descriptor

#define TD_FE_UPDATE_ROUTE(Name, snake, check)                                                \
    {                                                                                         \
        TD_WORKFLOW_SERVICE #Name, TD_WS_REQ(snake), TD_WS_RESP(snake), TD_SVC_HISTORY #Name, \
                TD_HS_REQ(snake), check, NULL, 0, NULL, NULL                                  \
    }

const td_fe_route_t td_fe__update_routes[] = {
    TD_FE_UPDATE_ROUTE(UpdateWorkflowExecution, update_workflow_execution, td_fe_check_update),
    TD_FE_UPDATE_ROUTE(PollWorkflowExecutionUpdate, poll_workflow_execution_update,
                       td_fe_check_poll_update),
    TD_FE_UPDATE_ROUTE(ExecuteMultiOperation, execute_multi_operation, td_fe_check_multi),
};
const int td_fe__update_routes_n =
        (int)(sizeof(td_fe__update_routes) / sizeof(td_fe__update_routes[0]));
