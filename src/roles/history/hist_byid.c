/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Two groups of HistoryService methods that name a workflow run rather than carry a task
 * token. The *ById activity answers (async activity completion: RecordActivityTaskHeartbeatById,
 * RespondActivityTaskCompleted/Failed/CanceledById) resolve the activity by id on the named
 * run, or on the current run when the run id is empty, then run the very transition the token
 * methods run (hist_api.c, through hist_byid.h); completion by id also finishes an activity no
 * worker has started yet. DeleteWorkflowExecution terminates a running
 * run and then removes its row, current pointer, history and visibility record (the deletion
 * is hist_delete.c's, shared with retention); the reply goes out only after every record is
 * gone. Callers: other roles through td_svc_call (the frontend), tests through td_svc_call.
 * Loop thread only.
 */
#define TD_LOG_COMPONENT "history"

#include <string.h>

#include "error.h"
#include "historyservice.pb-c.h"
#include "log.h"
#include "roles/history/hist_byid.h"
#include "roles/history/hist_int.h"
#include "roles/svc.h"

#define WSV1(x) temporal__api__workflowservice__v1__##x##__descriptor
#define HS(x)   temporald__historyservice__##x##__descriptor

static int td_hist_blank(const char *s)
{
    return s == NULL || s[0] == 0;
}

/* ---- activity answers by id ---- */

typedef struct {
    td_hist_actr_t a; /* first: op->u points here */
    Temporald__Token__Task tok;
} td_hist_byid_t;

/* Resolves the activity on the loaded run into the token, then runs the token transition. An
 * unknown or unstarted activity keeps scheduled_event_id 0: the transition looks the id up
 * itself and answers NOT_FOUND (or that the run is closed) in Temporal's words. */
static int td_hist_byid_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_byid_t *b = op->u;
    const td_ms_activity_t *ai = td_ms_activity_find_by_id(ms, b->tok.activity_id);
    int rc = TD_OK;

    b->tok.run_id = td_arena_strdup(op->arena, ms->run_id);
    b->tok.scheduled_event_id = ai != NULL ? ai->scheduled_id : 0;
    b->tok.attempt = ai != NULL ? ai->attempt : 0;
    if (ai != NULL && !ai->started && b->a.kind == TD_HIST_ACT_COMPLETE) {
        /* Completion by id may finish an activity no worker picked up (Temporal's force
         * completion); failure, cancellation and heartbeat by id need a started one. */
        const Temporal__Api__Workflowservice__V1__RespondActivityTaskCompletedRequest *q = b->a.req;
        rc = td_ms_activity_force_start(ms, t, ai->scheduled_id, q->identity);
    }
    return rc == TD_OK ? td_hist__act_apply(op, ms, t) : rc;
}

static void td_hist_byid(td_rpc_call_t *call, td_hist_t *h, int kind, const char *ns,
                         const char *wf, const char *run, const char *activity_id, const void *req,
                         const ProtobufCMessageDescriptor *resp)
{
    td_hist_byid_t *b;
    td_hist_op_t *op;

    if (td_hist_blank(ns) || td_hist_blank(wf) || td_hist_blank(activity_id)) {
        td_rpc_fail_err(call, TD_EINVAL,
                        "namespace_id, request.workflow_id and request.activity_id are required");
        return;
    }
    b = td_arena_calloc(td_rpc_arena(call), sizeof(*b));
    temporald__token__task__init(&b->tok);
    b->tok.namespace_id = (char *)ns;
    b->tok.workflow_id = (char *)wf;
    b->tok.run_id = (char *)(run != NULL ? run : "");
    b->tok.activity_id = (char *)activity_id;
    b->a.tok = &b->tok;
    b->a.req = req;
    b->a.kind = kind;
    op = td_hist__op_call(h, call, ns, wf, b->tok.run_id, TD_HIST_LOAD_REQUIRED, td_hist_byid_apply,
                          td_hist__act_done);
    op->u = &b->a;
    op->u2 = (void *)resp;
    td_hist__op_submit(op);
}

/* The token-style public request of a by-id request, in the call arena. */
static void *td_hist_byid_pb(td_rpc_call_t *call, const ProtobufCMessageDescriptor *d)
{
    void *m = td_arena_calloc(td_rpc_arena(call), d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

static void td_hist_heartbeat_by_id(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__RecordActivityTaskHeartbeatByIdRequest *in =
            (const void *)td_rpc_request(call);
    const Temporal__Api__Workflowservice__V1__RecordActivityTaskHeartbeatByIdRequest *r =
            in->request;
    Temporal__Api__Workflowservice__V1__RecordActivityTaskHeartbeatRequest *q;

    if (r == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "request is required");
        return;
    }
    q = td_hist_byid_pb(call, &WSV1(record_activity_task_heartbeat_request));
    q->namespace_ = r->namespace_;
    q->details = r->details;
    q->identity = r->identity;
    td_hist_byid(call, ctx, TD_HIST_ACT_HEARTBEAT, in->namespace_id, r->workflow_id, r->run_id,
                 r->activity_id, q, &WSV1(record_activity_task_heartbeat_by_id_response));
}

static void td_hist_completed_by_id(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__RespondActivityTaskCompletedByIdRequest *in =
            (const void *)td_rpc_request(call);
    const Temporal__Api__Workflowservice__V1__RespondActivityTaskCompletedByIdRequest *r =
            in->request;
    Temporal__Api__Workflowservice__V1__RespondActivityTaskCompletedRequest *q;

    if (r == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "request is required");
        return;
    }
    q = td_hist_byid_pb(call, &WSV1(respond_activity_task_completed_request));
    q->namespace_ = r->namespace_;
    q->result = r->result;
    q->identity = r->identity;
    td_hist_byid(call, ctx, TD_HIST_ACT_COMPLETE, in->namespace_id, r->workflow_id, r->run_id,
                 r->activity_id, q, &WSV1(respond_activity_task_completed_by_id_response));
}

static void td_hist_failed_by_id(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__RespondActivityTaskFailedByIdRequest *in =
            (const void *)td_rpc_request(call);
    const Temporal__Api__Workflowservice__V1__RespondActivityTaskFailedByIdRequest *r = in->request;
    Temporal__Api__Workflowservice__V1__RespondActivityTaskFailedRequest *q;

    if (r == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "request is required");
        return;
    }
    q = td_hist_byid_pb(call, &WSV1(respond_activity_task_failed_request));
    q->namespace_ = r->namespace_;
    q->failure = r->failure;
    q->identity = r->identity;
    q->last_heartbeat_details = r->last_heartbeat_details;
    td_hist_byid(call, ctx, TD_HIST_ACT_FAIL, in->namespace_id, r->workflow_id, r->run_id,
                 r->activity_id, q, &WSV1(respond_activity_task_failed_by_id_response));
}

static void td_hist_canceled_by_id(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__RespondActivityTaskCanceledByIdRequest *in =
            (const void *)td_rpc_request(call);
    const Temporal__Api__Workflowservice__V1__RespondActivityTaskCanceledByIdRequest *r =
            in->request;
    Temporal__Api__Workflowservice__V1__RespondActivityTaskCanceledRequest *q;

    if (r == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "request is required");
        return;
    }
    q = td_hist_byid_pb(call, &WSV1(respond_activity_task_canceled_request));
    q->namespace_ = r->namespace_;
    q->details = r->details;
    q->identity = r->identity;
    td_hist_byid(call, ctx, TD_HIST_ACT_CANCEL, in->namespace_id, r->workflow_id, r->run_id,
                 r->activity_id, q, &WSV1(respond_activity_task_canceled_by_id_response));
}

/* ---- DeleteWorkflowExecution (the deletion itself: hist_delete.c) ---- */

static void td_hist_deleted(void *arg, int rc, const char *msg)
{
    td_rpc_call_t *call = arg;

    if (rc != TD_OK) {
        td_hist__fail(call, rc, msg);
        return;
    }
    td_rpc_reply(call, td_hist__pb(td_rpc_arena(call), &WSV1(delete_workflow_execution_response)));
}

static void td_hist_delete(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__DeleteWorkflowExecutionRequest *in =
            (const void *)td_rpc_request(call);
    const Temporal__Api__Common__V1__WorkflowExecution *ex =
            in->request != NULL ? in->request->workflow_execution : NULL;

    if (td_hist_blank(in->namespace_id) || ex == NULL || td_hist_blank(ex->workflow_id)) {
        td_rpc_fail_err(call, TD_EINVAL,
                        "namespace_id and request.workflow_execution.workflow_id are required");
        return;
    }
    td_hist__delete_run(ctx, in->namespace_id, ex->workflow_id, ex->run_id,
                        TD_HIST_DELETE_TERMINATE, td_hist_deleted, call);
}

int td_hist__register_byid(td_hist_t *h)
{
    const td_rpc_method_t m[] = {
        { TD_SVC_HISTORY "RecordActivityTaskHeartbeatById",
          &HS(record_activity_task_heartbeat_by_id_request), td_hist_heartbeat_by_id, h },
        { TD_SVC_HISTORY "RespondActivityTaskCompletedById",
          &HS(respond_activity_task_completed_by_id_request), td_hist_completed_by_id, h },
        { TD_SVC_HISTORY "RespondActivityTaskFailedById",
          &HS(respond_activity_task_failed_by_id_request), td_hist_failed_by_id, h },
        { TD_SVC_HISTORY "RespondActivityTaskCanceledById",
          &HS(respond_activity_task_canceled_by_id_request), td_hist_canceled_by_id, h },
        { TD_SVC_HISTORY "DeleteWorkflowExecution", &HS(delete_workflow_execution_request),
          td_hist_delete, h },
    };
    return td_svc_register_all(h->srv, m, (int)(sizeof(m) / sizeof(m[0])));
}
