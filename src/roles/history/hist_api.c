/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HistoryService handlers that change workflows: start (request-id dedup, id reuse and
 * conflict policies), signal-with-start, signal, cancel request, terminate, sticky reset,
 * the workflow-task and activity-task hand-offs from matching (RecordWorkflowTaskStarted /
 * RecordActivityTaskStarted, which return the complete poll responses) and the worker's
 * answers (RespondWorkflowTask*, RespondActivityTask*, heartbeats). Each handler turns its
 * request into one operation on the workflow's context (hist_ctx.c) whose apply calls the
 * td_ms_* transition; the reply goes out after the commit. Also registers every method.
 * Callers: other roles through td_svc_call (roles/svc.h), tests through td_rpc_local_call.
 */
#define TD_LOG_COMPONENT "history"

#include <string.h>

#include "error.h"
#include "historyservice.pb-c.h"
#include "log.h"
#include "mem.h"
#include "roles/history/hist_byid.h"
#include "roles/history/hist_int.h"
#include "roles/history/ms/ms_token.h"
#include "roles/nsreg.h"
#include "roles/svc.h"
#include "server.h"
#include "temporal/api/enums/v1/workflow.pb-c.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"
#include "uuid.h"

#define WS(x)    TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_##x
#define REUSE(x) TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_REUSE_POLICY__WORKFLOW_ID_REUSE_POLICY_##x
#define CONFL(x) \
    TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_CONFLICT_POLICY__WORKFLOW_ID_CONFLICT_POLICY_##x
#define WSV1(x) temporal__api__workflowservice__v1__##x##__descriptor

typedef Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest td_start_req_t;

/* A new operation for a call, in the call's arena. */
static td_hist_op_t *td_hist_op_call(td_hist_t *h, td_rpc_call_t *call, const char *ns,
                                     const char *wf, const char *run, int load,
                                     td_hist_apply_fn apply, td_hist_done_fn done)
{
    td_hist_op_t *op = td_arena_calloc(td_rpc_arena(call), sizeof(*op));

    op->ctx = td_hist__ctx_get(h, ns, wf);
    op->call = call;
    op->arena = td_rpc_arena(call);
    op->run_id = run ? run : "";
    op->load = load;
    op->apply = apply;
    op->done = done;
    op->dirty = 1; /* transitions may change only the state (buffered events, heartbeats) */
    return op;
}

/* done for operations whose success reply is an empty message (descriptor in op->u2). */
static int td_hist_done_empty(td_hist_op_t *op, int rc, const char *msg)
{
    if (rc != TD_OK) {
        td_hist__fail(op->call, rc, msg);
    } else {
        td_rpc_reply(op->call, td_hist__pb(op->arena, op->u2));
    }
    return 0;
}

static int td_hist_is_blank(const char *s)
{
    return s == NULL || s[0] == 0;
}

/* ---- start and signal-with-start ---- */

/* Whether a closed run with `status` lets policy start a new run with the same id. */
static int td_hist_reuse_allowed(int policy, int status)
{
    if (policy == REUSE(REJECT_DUPLICATE)) {
        return 0;
    }
    if (policy == REUSE(ALLOW_DUPLICATE_FAILED_ONLY)) {
        return status != WS(COMPLETED);
    }
    return 1;
}

static int td_hist_start_exists(td_hist_op_t *op, td_hist_start_t *s, const td_ms_t *ms,
                                const char *why)
{
    s->exist_request_id =
            td_arena_strdup(op->arena, ms->start_request_id ? ms->start_request_id : "");
    s->exist_run_id = td_arena_strdup(op->arena, ms->run_id);
    s->exist_first_run_id = td_arena_strdup(
            op->arena, ms->first_execution_run_id ? ms->first_execution_run_id : ms->run_id);
    op->txn.msg = td_arena_printf(op->arena, "%s WorkflowId: %s, RunId: %s.", why, ms->workflow_id,
                                  ms->run_id);
    return TD_ESTARTED;
}

/* Terminates the running run `ms` (in t) and creates its replacement (in op->txn2): both
 * rows are written together, the current pointer moving to the new run. */
static int td_hist_start_replace(td_hist_op_t *op, td_hist_start_t *s, td_ms_t *ms, td_ms_txn_t *t)
{
    char run_id[TD_UUID_LEN + 1];
    int64_t tid = 0;
    int rc;

    rc = td_ms_terminate(ms, t,
                         "terminated by a new start of the same workflow id (TERMINATE_EXISTING)",
                         NULL, s->req->identity);
    if (rc != TD_OK) {
        return rc;
    }
    rc = td_hist__task_id(op->ctx->shard, &tid);
    if (rc != TD_OK) {
        return rc;
    }
    td_ms_txn_init(&op->txn2, op->arena, t->now);
    op->txn2.task_id = tid;
    td_uuid_v4(run_id);
    if (s->sws != NULL) {
        rc = td_ms_signal_with_start(&op->txn2, s->req, s->namespace_id, run_id,
                                     s->sws->signal_name, s->sws->signal_input, s->sws->identity,
                                     s->sws->header, s->sws->request_id, &op->created);
    } else {
        rc = td_ms_start(&op->txn2, s->req, s->namespace_id, run_id, &op->created);
    }
    if (rc != TD_OK) {
        /* ms was terminated in memory: the write must not happen, and the cache must forget it */
        td_ms_free(op->created);
        op->created = NULL;
        t->msg = op->txn2.msg;
        op->txn.n_events = op->txn.n_tasks = 0;
        op->dirty = 0;
        op->ctx->ms = NULL;
        op->ms = NULL;
        td_ms_free(ms);
        return rc;
    }
    op->terminate_prev = 1;
    op->create_mode = TD_STORE_EXEC_CREATE_REPLACE_CURRENT;
    op->prev_run_id = td_arena_strdup(op->arena, ms->run_id);
    s->run_id = td_arena_strdup(op->arena, run_id);
    s->started = 1;
    s->status = WS(RUNNING);
    return TD_OK;
}

/*
 * Decides what a start does given the current run (NULL = none): TD_OK with op->created set
 * (a new run), TD_OK with s->started = 0 (dedup / USE_EXISTING / signal delivered to the
 * running run), or TD_ESTARTED.
 */
int td_hist__start_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_start_t *s = op->u;
    const char *request_id = s->req->request_id;
    int reuse = s->req->workflow_id_reuse_policy, conflict = s->req->workflow_id_conflict_policy;
    char run_id[TD_UUID_LEN + 1];
    int rc;

    if (s->sws != NULL && conflict == CONFL(UNSPECIFIED)) {
        conflict = CONFL(USE_EXISTING); /* signal-with-start signals the running run */
    }
    op->create_mode = TD_STORE_EXEC_CREATE_BRAND_NEW;
    op->prev_run_id = NULL;
    op->dirty = s->sws != NULL; /* only a signal to the running run changes it */
    if (ms != NULL) {
        if (!td_hist_is_blank(request_id) && ms->start_request_id != NULL &&
            strcmp(ms->start_request_id, request_id) == 0 && s->sws == NULL) {
            /* The same start again: the run it created. */
            s->run_id = td_arena_strdup(op->arena, ms->run_id);
            s->started = 1;
            s->status = ms->status;
            return TD_OK;
        }
        if (ms->state == TD_MS_STATE_RUNNING) {
            if (conflict == CONFL(USE_EXISTING)) {
                s->run_id = td_arena_strdup(op->arena, ms->run_id);
                s->started = 0;
                s->status = ms->status;
                if (s->sws != NULL) {
                    return td_ms_signal(ms, t, s->sws->signal_name, s->sws->signal_input,
                                        s->sws->identity, s->sws->header, s->sws->request_id);
                }
                return TD_OK;
            }
            if (conflict == CONFL(TERMINATE_EXISTING) || reuse == REUSE(TERMINATE_IF_RUNNING)) {
                return td_hist_start_replace(op, s, ms, t);
            }
            return td_hist_start_exists(op, s, ms, "Workflow execution is already running.");
        }
        if (!td_hist_reuse_allowed(reuse, ms->status)) {
            return td_hist_start_exists(
                    op, s, ms,
                    "Workflow execution already finished and its ID reuse policy does not "
                    "allow a new run.");
        }
        op->create_mode = TD_STORE_EXEC_CREATE_REPLACE_CURRENT;
        op->prev_run_id = td_arena_strdup(op->arena, ms->run_id);
    }
    td_uuid_v4(run_id);
    if (s->sws != NULL) {
        rc = td_ms_signal_with_start(t, s->req, s->namespace_id, run_id, s->sws->signal_name,
                                     s->sws->signal_input, s->sws->identity, s->sws->header,
                                     s->sws->request_id, &op->created);
    } else {
        rc = td_ms_start(t, s->req, s->namespace_id, run_id, &op->created);
    }
    if (rc != TD_OK) {
        td_ms_free(op->created);
        op->created = NULL;
        return rc;
    }
    s->run_id = td_arena_strdup(op->arena, run_id);
    s->started = 1;
    s->status = WS(RUNNING);
    return TD_OK;
}

static int td_hist_start_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_start_t *s = op->u;

    if (rc == TD_EEXIST) {
        /* The id has a current run we did not have in memory (or another start won the race
         * for the current pointer): read it and decide again, once. */
        if (op->runs < 1) {
            op->load = TD_HIST_LOAD_OPTIONAL;
            return 1;
        }
        rc = TD_EUNAVAIL;
    }
    if (rc == TD_ESTARTED) {
        Temporal__Api__Errordetails__V1__WorkflowExecutionAlreadyStartedFailure *d = td_hist__pb(
                op->arena,
                &temporal__api__errordetails__v1__workflow_execution_already_started_failure__descriptor);
        d->start_request_id = (char *)s->exist_request_id;
        d->run_id = (char *)s->exist_run_id;
        d->first_execution_run_id = (char *)s->exist_first_run_id;
        td_rpc_fail(op->call, td_err_grpc_status(rc), msg, &d->base);
        return 0;
    }
    if (rc != TD_OK) {
        td_hist__fail(op->call, rc, msg);
        return 0;
    }
    if (s->sws != NULL) {
        Temporal__Api__Workflowservice__V1__SignalWithStartWorkflowExecutionResponse *r =
                td_hist__pb(op->arena, &WSV1(signal_with_start_workflow_execution_response));
        r->run_id = (char *)s->run_id;
        r->started = s->started;
        td_rpc_reply(op->call, &r->base);
    } else {
        Temporal__Api__Workflowservice__V1__StartWorkflowExecutionResponse *r =
                td_hist__pb(op->arena, &WSV1(start_workflow_execution_response));
        r->run_id = (char *)s->run_id;
        r->started = s->started;
        r->status = s->status;
        td_rpc_reply(op->call, &r->base);
    }
    return 0;
}

static void td_hist_start(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__StartWorkflowExecutionRequest *in =
            (const void *)td_rpc_request(call);
    td_hist_start_t *s;
    td_hist_op_t *op;

    if (in->request == NULL || td_hist_is_blank(in->namespace_id) ||
        td_hist_is_blank(in->request->workflow_id)) {
        td_rpc_fail_err(call, TD_EINVAL, "namespace_id and request.workflow_id are required");
        return;
    }
    s = td_arena_calloc(td_rpc_arena(call), sizeof(*s));
    s->req = in->request;
    s->namespace_id = in->namespace_id;
    op = td_hist_op_call(ctx, call, in->namespace_id, in->request->workflow_id, "",
                         TD_HIST_LOAD_CACHED, td_hist__start_apply, td_hist_start_done);
    op->u = s;
    td_hist__op_submit(op);
}

static void td_hist_signal_with_start(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__SignalWithStartWorkflowExecutionRequest *in =
            (const void *)td_rpc_request(call);
    const Temporal__Api__Workflowservice__V1__SignalWithStartWorkflowExecutionRequest *r =
            in->request;
    td_arena_t *a = td_rpc_arena(call);
    td_start_req_t *sr;
    td_hist_start_t *s;
    td_hist_op_t *op;

    if (r == NULL || td_hist_is_blank(in->namespace_id) || td_hist_is_blank(r->workflow_id)) {
        td_rpc_fail_err(call, TD_EINVAL, "namespace_id and request.workflow_id are required");
        return;
    }
    sr = td_hist__pb(a, &WSV1(start_workflow_execution_request));
    sr->namespace_ = r->namespace_;
    sr->workflow_id = r->workflow_id;
    sr->workflow_type = r->workflow_type;
    sr->task_queue = r->task_queue;
    sr->input = r->input;
    sr->workflow_execution_timeout = r->workflow_execution_timeout;
    sr->workflow_run_timeout = r->workflow_run_timeout;
    sr->workflow_task_timeout = r->workflow_task_timeout;
    sr->identity = r->identity;
    sr->request_id = r->request_id;
    sr->workflow_id_reuse_policy = r->workflow_id_reuse_policy;
    sr->workflow_id_conflict_policy = r->workflow_id_conflict_policy;
    sr->retry_policy = r->retry_policy;
    sr->cron_schedule = r->cron_schedule;
    sr->memo = r->memo;
    sr->search_attributes = r->search_attributes;
    sr->header = r->header;
    sr->workflow_start_delay = r->workflow_start_delay;
    sr->user_metadata = r->user_metadata;
    sr->priority = r->priority;
    s = td_arena_calloc(a, sizeof(*s));
    s->req = sr;
    s->sws = r;
    s->namespace_id = in->namespace_id;
    op = td_hist_op_call(ctx, call, in->namespace_id, r->workflow_id, "", TD_HIST_LOAD_OPTIONAL,
                         td_hist__start_apply, td_hist_start_done);
    op->u = s;
    td_hist__op_submit(op);
}

/* ---- signal, cancel, terminate, sticky reset ---- */

static int td_hist_signal_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    const Temporal__Api__Workflowservice__V1__SignalWorkflowExecutionRequest *r = op->u;
    return td_ms_signal(ms, t, r->signal_name, r->input, r->identity, r->header, r->request_id);
}

static int td_hist_cancel_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    const Temporal__Api__Workflowservice__V1__RequestCancelWorkflowExecutionRequest *r = op->u;
    return td_ms_request_cancel(ms, t, r->reason, r->identity, r->request_id);
}

static int td_hist_terminate_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    const Temporal__Api__Workflowservice__V1__TerminateWorkflowExecutionRequest *r = op->u;
    return td_ms_terminate(ms, t, r->reason, r->details, r->identity);
}

static int td_hist_reset_sticky_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    (void)t;
    op->dirty = ms->sticky_task_queue != NULL && ms->sticky_task_queue[0] != 0;
    td_ms_reset_sticky(ms);
    return TD_OK;
}

/* Submits an operation on the run named by `ex` whose done replies an empty `resp_desc`. */
static void td_hist_simple(td_rpc_call_t *call, void *ctx, const char *ns,
                           const Temporal__Api__Common__V1__WorkflowExecution *ex,
                           td_hist_apply_fn apply, const void *u,
                           const ProtobufCMessageDescriptor *resp_desc)
{
    td_hist_op_t *op;

    if (td_hist_is_blank(ns) || ex == NULL || td_hist_is_blank(ex->workflow_id)) {
        td_rpc_fail_err(call, TD_EINVAL,
                        "namespace_id and workflow_execution.workflow_id are required");
        return;
    }
    op = td_hist_op_call(ctx, call, ns, ex->workflow_id, ex->run_id, TD_HIST_LOAD_REQUIRED, apply,
                         td_hist_done_empty);
    op->u = (void *)u;
    op->u2 = (void *)resp_desc;
    td_hist__op_submit(op);
}

static void td_hist_signal(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__SignalWorkflowExecutionRequest *in =
            (const void *)td_rpc_request(call);
    if (in->request == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "request is required");
        return;
    }
    td_hist_simple(call, ctx, in->namespace_id, in->request->workflow_execution,
                   td_hist_signal_apply, in->request, &WSV1(signal_workflow_execution_response));
}

static void td_hist_request_cancel(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__RequestCancelWorkflowExecutionRequest *in =
            (const void *)td_rpc_request(call);
    if (in->request == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "request is required");
        return;
    }
    td_hist_simple(call, ctx, in->namespace_id, in->request->workflow_execution,
                   td_hist_cancel_apply, in->request,
                   &WSV1(request_cancel_workflow_execution_response));
}

static void td_hist_terminate(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__TerminateWorkflowExecutionRequest *in =
            (const void *)td_rpc_request(call);
    if (in->request == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "request is required");
        return;
    }
    td_hist_simple(call, ctx, in->namespace_id, in->request->workflow_execution,
                   td_hist_terminate_apply, in->request,
                   &WSV1(terminate_workflow_execution_response));
}

static void td_hist_reset_sticky(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__ResetStickyTaskQueueRequest *in =
            (const void *)td_rpc_request(call);
    td_hist_simple(call, ctx, in->namespace_id, in->execution, td_hist_reset_sticky_apply, NULL,
                   &WSV1(reset_sticky_task_queue_response));
}

/* ---- workflow tasks ---- */

typedef struct {
    const Temporald__Historyservice__RecordWorkflowTaskStartedRequest *in;
    td_ms_wft_started_t st;
    td_ms_wft_completed_t done;
    const Temporald__Token__Task *tok;
    const void *req;
    td_rpc_call_t *call;
    td_hist_query_batch_t queries;  /* buffered queries the started task carries */
    td_hist_update_batch_t updates; /* update requests the started task carries */
} td_hist_wft_t;

static int td_hist_wft_started_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_wft_t *w = op->u;
    const Temporald__Historyservice__RecordWorkflowTaskStartedRequest *in = w->in;
    int kind = in->task_queue != NULL && in->task_queue->kind
                       ? (int)in->task_queue->kind
                       : TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL;
    const char *identity = in->poll_request != NULL ? in->poll_request->identity : NULL;

    return td_ms_wft_record_started(ms, t, in->scheduled_event_id, in->request_id, identity, kind,
                                    &w->st);
}

static void
td_hist_poll_reply(void *arg, int rc, const char *msg,
                   Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse *resp)
{
    td_hist_wft_t *w = arg;
    if (rc != TD_OK) {
        /* Buffered queries stay buffered: they ride in the task's next attempt. */
        td_hist__fail(w->call, rc, msg);
    } else {
        td_hist__query_set(resp, &w->queries);
        td_hist__update_set(resp, &w->updates);
        td_rpc_reply(w->call, &resp->base);
    }
}

static int td_hist_wft_started_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_wft_t *w = op->u;

    if (rc == TD_EEXIST) {
        /* Another poller has it: for matching this is a stale task. */
        td_rpc_fail_err(op->call, TD_ENOTFOUND, "Workflow task already started.");
        return 0;
    }
    if (rc != TD_OK) {
        td_hist__fail(op->call, rc, msg);
        return 0;
    }
    /* Snapshot now: a query buffered after this task started waits for the next one. */
    td_hist__query_attach(op->ctx, op->ms->run_id, op->arena, &w->queries);
    td_hist__update_attach(op->ctx, op->ms->run_id, w->st.started_id, op->arena, &w->updates);
    w->call = op->call;
    td_hist__build_wft_response(op->ctx->shard->h, op->arena, op->ms, &w->st, td_hist_poll_reply,
                                w);
    return 0;
}

static void td_hist_record_wft_started(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__RecordWorkflowTaskStartedRequest *in =
            (const void *)td_rpc_request(call);
    td_hist_wft_t *w;
    td_hist_op_t *op;

    if (td_hist_is_blank(in->namespace_id) || in->execution == NULL ||
        td_hist_is_blank(in->execution->workflow_id) || td_hist_is_blank(in->execution->run_id)) {
        td_rpc_fail_err(call, TD_EINVAL, "namespace_id and execution are required");
        return;
    }
    w = td_arena_calloc(td_rpc_arena(call), sizeof(*w));
    w->in = in;
    op = td_hist_op_call(ctx, call, in->namespace_id, in->execution->workflow_id,
                         in->execution->run_id, TD_HIST_LOAD_REQUIRED, td_hist_wft_started_apply,
                         td_hist_wft_started_done);
    op->u = w;
    td_hist__op_submit(op);
}

/* Decodes a task token and queues op on the run it names. */
static td_hist_op_t *td_hist_op_token(td_rpc_call_t *call, void *ctx, ProtobufCBinaryData token,
                                      td_hist_apply_fn apply, td_hist_done_fn done,
                                      const Temporald__Token__Task **tok)
{
    Temporald__Token__Task *t = NULL;

    if (td_ms_token_decode(token.data, token.len, td_rpc_arena(call), &t) != TD_OK) {
        td_rpc_fail_err(call, TD_EINVAL, "invalid task token");
        return NULL;
    }
    *tok = t;
    return td_hist_op_call(ctx, call, t->namespace_id, t->workflow_id, t->run_id,
                           TD_HIST_LOAD_REQUIRED, apply, done);
}

static int td_hist_wft_complete_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_wft_t *w = op->u;
    td_hist__update_prepare(op->ctx, ms->run_id, t);
    return td_ms_wft_complete(ms, t, w->tok, w->req, &w->done);
}

static void
td_hist_wft_complete_reply(void *arg, int rc, const char *msg,
                           Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse *resp)
{
    td_hist_op_t *op = arg;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedResponse *r;

    if (rc != TD_OK) {
        /* The completion committed; only the inline next task is lost: the worker gets it
         * again through a poll after its timeout. Answer success without it. */
        td_log_warn("inline workflow task response failed: %s", msg ? msg : "");
        resp = NULL;
    }
    if (resp != NULL) {
        td_hist__query_set(resp, &((td_hist_wft_t *)op->u)->queries);
        td_hist__update_set(resp, &((td_hist_wft_t *)op->u)->updates);
    }
    r = td_hist__pb(op->arena, &WSV1(respond_workflow_task_completed_response));
    r->workflow_task = resp;
    td_rpc_reply(op->call, &r->base);
}

static int td_hist_wft_complete_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_wft_t *w = op->u;

    if (rc != TD_OK) {
        td_hist__fail(op->call, rc, msg);
        return 0;
    }
    /* Buffered queries: answers first; with no new workflow task the rest fall back to legacy
     * query tasks; otherwise they ride in the next task (the inline one, if any). */
    {
        /* op->ms is gone when the completion created a run (continue-as-new, retry, cron):
         * then the context holds the new run and this one is closed. */
        const Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req = w->req;
        const td_ms_t *ms = op->ctx->ms;
        const char *run = w->tok->run_id;
        int new_task = ms != NULL && strcmp(ms->run_id, run) == 0 &&
                       ms->state == TD_MS_STATE_RUNNING && ms->wft.scheduled_id != 0;
        td_hist__query_results(op->ctx, run, req->query_results, req->n_query_results, new_task);
        td_hist__update_completed(op->ctx, run, &op->txn);
        if (w->done.new_task_started) {
            td_hist__query_attach(op->ctx, run, op->arena, &w->queries);
            td_hist__update_attach(op->ctx, run, w->done.started.started_id, op->arena,
                                   &w->updates);
        }
    }
    if (w->done.new_task_started) {
        td_hist__build_wft_response(op->ctx->shard->h, op->arena, op->ms, &w->done.started,
                                    td_hist_wft_complete_reply, op);
    } else {
        td_hist_wft_complete_reply(op, TD_OK, NULL, NULL);
    }
    return 0;
}

static void td_hist_wft_completed(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__RespondWorkflowTaskCompletedRequest *in =
            (const void *)td_rpc_request(call);
    td_hist_wft_t *w = td_arena_calloc(td_rpc_arena(call), sizeof(*w));
    td_hist_op_t *op;

    if (in->request == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "request is required");
        return;
    }
    w->req = in->request;
    op = td_hist_op_token(call, ctx, in->request->task_token, td_hist_wft_complete_apply,
                          td_hist_wft_complete_done, &w->tok);
    if (op != NULL) {
        op->u = w;
        td_hist__op_submit(op);
    }
}

static int td_hist_wft_fail_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_wft_t *w = op->u;
    return td_ms_wft_fail(ms, t, w->tok, w->req);
}

static void td_hist_wft_failed(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__RespondWorkflowTaskFailedRequest *in =
            (const void *)td_rpc_request(call);
    td_hist_wft_t *w = td_arena_calloc(td_rpc_arena(call), sizeof(*w));
    td_hist_op_t *op;

    if (in->request == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "request is required");
        return;
    }
    w->req = in->request;
    op = td_hist_op_token(call, ctx, in->request->task_token, td_hist_wft_fail_apply,
                          td_hist_done_empty, &w->tok);
    if (op != NULL) {
        op->u = w;
        op->u2 = (void *)&WSV1(respond_workflow_task_failed_response);
        td_hist__op_submit(op);
    }
}

/* ---- activity tasks ---- */

typedef struct {
    const Temporald__Historyservice__RecordActivityTaskStartedRequest *in;
    td_ms_activity_started_t st;
    Temporal__Api__Workflowservice__V1__PollActivityTaskQueueResponse *resp;
} td_hist_act_t;

static int td_hist_act_started_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_act_t *x = op->u;
    const char *identity = x->in->poll_request != NULL ? x->in->poll_request->identity : NULL;
    return td_ms_activity_record_started(ms, t, x->in->scheduled_event_id, x->in->attempt,
                                         x->in->request_id, identity, &x->st);
}

static void td_hist_act_event(void *arg, int rc, const char *msg, td_ms_event_t **ev, size_t n,
                              int64_t next)
{
    td_hist_op_t *op = arg;
    td_hist_act_t *x = op->u;
    Temporal__Api__Workflowservice__V1__PollActivityTaskQueueResponse *r = x->resp;

    (void)next;
    if (rc != TD_OK) {
        td_hist__fail(op->call, rc, msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const Temporal__Api__History__V1__ActivityTaskScheduledEventAttributes *sa =
                ev[i]->activity_task_scheduled_event_attributes;
        if (ev[i]->event_id != x->st.scheduled_id || sa == NULL) {
            continue;
        }
        r->header = sa->header;
        r->input = sa->input;
        r->priority = sa->priority;
        if (r->retry_policy == NULL) {
            r->retry_policy = sa->retry_policy;
        }
    }
    td_rpc_reply(op->call, &r->base);
}

static int td_hist_act_started_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_act_t *x = op->u;
    td_arena_t *a = op->arena;
    const td_ms_activity_t *ai = x->st.activity;
    const td_ms_t *ms = op->ms;
    Temporal__Api__Workflowservice__V1__PollActivityTaskQueueResponse *r;
    const char *ns_name = NULL;
    td_hist_t *h = op->ctx->shard->h;

    if (rc == TD_EEXIST) {
        td_rpc_fail_err(op->call, TD_ENOTFOUND, "Activity task already started.");
        return 0;
    }
    if (rc != TD_OK) {
        td_hist__fail(op->call, rc, msg);
        return 0;
    }
    /* Copy everything from the state now: the next operation may change it. */
    r = td_hist__pb(a, &WSV1(poll_activity_task_queue_response));
    r->task_token = x->st.token;
    if (x->in->poll_request != NULL && !td_hist_is_blank(x->in->poll_request->namespace_)) {
        ns_name = x->in->poll_request->namespace_;
    } else if (h->srv != NULL && h->srv->nsreg != NULL) {
        const td_ns_t *ns = td_nsreg_by_id(h->srv->nsreg, ms->namespace_id);
        ns_name = ns != NULL ? ns->name : NULL;
    }
    r->workflow_namespace = td_arena_strdup(a, ns_name ? ns_name : ms->namespace_id);
    r->workflow_type = td_hist__pb(a, &temporal__api__common__v1__workflow_type__descriptor);
    r->workflow_type->name = td_arena_strdup(a, ms->workflow_type ? ms->workflow_type : "");
    r->workflow_execution =
            td_hist__pb(a, &temporal__api__common__v1__workflow_execution__descriptor);
    r->workflow_execution->workflow_id = td_arena_strdup(a, ms->workflow_id);
    r->workflow_execution->run_id = td_arena_strdup(a, ms->run_id);
    r->activity_type = td_hist__pb(a, &temporal__api__common__v1__activity_type__descriptor);
    r->activity_type->name = td_arena_strdup(a, ai->activity_type ? ai->activity_type : "");
    r->activity_id = td_arena_strdup(a, ai->activity_id ? ai->activity_id : "");
    r->heartbeat_details = td_hist__unblob(a, ai->heartbeat_details.data, ai->heartbeat_details.len,
                                           &temporal__api__common__v1__payloads__descriptor);
    r->scheduled_time = td_hist__ts(a, x->st.scheduled_time);
    r->current_attempt_scheduled_time = td_hist__ts(a, x->st.current_attempt_scheduled_time);
    r->started_time = td_hist__ts(a, x->st.started_time);
    r->attempt = x->st.attempt;
    /* The TypeScript worker requires both timeouts to be present (zero = unlimited). */
    r->schedule_to_close_timeout = td_hist__dur(a, x->st.schedule_to_close);
    r->start_to_close_timeout = td_hist__dur(a, x->st.start_to_close);
    r->heartbeat_timeout = td_hist__dur(a, x->st.heartbeat);
    {
        Temporal__Api__Common__V1__RetryPolicy *rp =
                td_hist__pb(a, &temporal__api__common__v1__retry_policy__descriptor);
        rp->initial_interval = td_hist__dur(a, ai->retry.initial_interval);
        rp->backoff_coefficient = ai->retry.backoff_coefficient;
        rp->maximum_interval = td_hist__dur(a, ai->retry.maximum_interval);
        rp->maximum_attempts = ai->retry.maximum_attempts;
        rp->n_non_retryable_error_types = ai->retry.n_non_retryable_error_types;
        if (rp->n_non_retryable_error_types > 0) {
            rp->non_retryable_error_types =
                    td_arena_alloc(a, sizeof(char *) * rp->n_non_retryable_error_types);
            for (size_t i = 0; i < rp->n_non_retryable_error_types; i++) {
                rp->non_retryable_error_types[i] =
                        td_arena_strdup(a, ai->retry.non_retryable_error_types[i]);
            }
        }
        r->retry_policy = rp;
    }
    x->resp = r;
    /* header and input live in the ActivityTaskScheduled event. */
    td_hist__read_events(h, a, ms->run_id, x->st.scheduled_id, x->st.scheduled_id + 1, 0,
                         td_hist_act_event, op);
    return 0;
}

static void td_hist_record_act_started(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__RecordActivityTaskStartedRequest *in =
            (const void *)td_rpc_request(call);
    td_hist_act_t *x;
    td_hist_op_t *op;

    if (td_hist_is_blank(in->namespace_id) || in->execution == NULL ||
        td_hist_is_blank(in->execution->workflow_id) || td_hist_is_blank(in->execution->run_id)) {
        td_rpc_fail_err(call, TD_EINVAL, "namespace_id and execution are required");
        return;
    }
    x = td_arena_calloc(td_rpc_arena(call), sizeof(*x));
    x->in = in;
    op = td_hist_op_call(ctx, call, in->namespace_id, in->execution->workflow_id,
                         in->execution->run_id, TD_HIST_LOAD_REQUIRED, td_hist_act_started_apply,
                         td_hist_act_started_done);
    op->u = x;
    td_hist__op_submit(op);
}

static int td_hist_act_complete_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_actr_t *x = op->u;
    const Temporal__Api__Workflowservice__V1__RespondActivityTaskCompletedRequest *r = x->req;
    return td_ms_activity_complete(ms, t, x->tok, r->result, r->identity);
}

static int td_hist_act_fail_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_actr_t *x = op->u;
    const Temporal__Api__Workflowservice__V1__RespondActivityTaskFailedRequest *r = x->req;
    return td_ms_activity_fail(ms, t, x->tok, r->failure, r->last_heartbeat_details, r->identity);
}

static int td_hist_act_cancel_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_actr_t *x = op->u;
    const Temporal__Api__Workflowservice__V1__RespondActivityTaskCanceledRequest *r = x->req;
    return td_ms_activity_cancel(ms, t, x->tok, r->details, r->identity);
}

static int td_hist_act_heartbeat_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_actr_t *x = op->u;
    const Temporal__Api__Workflowservice__V1__RecordActivityTaskHeartbeatRequest *r = x->req;
    return td_ms_activity_heartbeat(ms, t, x->tok, r->details, &x->cancel_requested);
}

static int td_hist_act_heartbeat_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_actr_t *x = op->u;
    Temporal__Api__Workflowservice__V1__RecordActivityTaskHeartbeatResponse *r;

    if (rc != TD_OK) {
        td_hist__fail(op->call, rc, msg);
        return 0;
    }
    if (op->u2 == &WSV1(record_activity_task_heartbeat_by_id_response)) {
        Temporal__Api__Workflowservice__V1__RecordActivityTaskHeartbeatByIdResponse *b =
                td_hist__pb(op->arena, op->u2);
        b->cancel_requested = x->cancel_requested;
        td_rpc_reply(op->call, &b->base);
        return 0;
    }
    r = td_hist__pb(op->arena, &WSV1(record_activity_task_heartbeat_response));
    r->cancel_requested = x->cancel_requested;
    td_rpc_reply(op->call, &r->base);
    return 0;
}

/* ---- shared with hist_byid.c (hist_byid.h) ---- */

td_hist_op_t *td_hist__op_call(td_hist_t *h, td_rpc_call_t *call, const char *ns, const char *wf,
                               const char *run, int load, td_hist_apply_fn apply,
                               td_hist_done_fn done)
{
    return td_hist_op_call(h, call, ns, wf, run, load, apply, done);
}

int td_hist__act_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_actr_t *x = op->u;

    switch (x->kind) {
    case TD_HIST_ACT_HEARTBEAT:
        return td_hist_act_heartbeat_apply(op, ms, t);
    case TD_HIST_ACT_COMPLETE:
        return td_hist_act_complete_apply(op, ms, t);
    case TD_HIST_ACT_FAIL:
        return td_hist_act_fail_apply(op, ms, t);
    case TD_HIST_ACT_CANCEL:
        return td_hist_act_cancel_apply(op, ms, t);
    default:
        t->msg = "unknown activity answer";
        return TD_EINVAL;
    }
}

int td_hist__act_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_actr_t *x = op->u;

    if (x->kind == TD_HIST_ACT_HEARTBEAT) {
        return td_hist_act_heartbeat_done(op, rc, msg);
    }
    return td_hist_done_empty(op, rc, msg);
}

static void td_hist_act_respond(td_rpc_call_t *call, void *ctx, const void *req,
                                ProtobufCBinaryData token, td_hist_apply_fn apply,
                                td_hist_done_fn done, const ProtobufCMessageDescriptor *resp)
{
    td_hist_actr_t *x = td_arena_calloc(td_rpc_arena(call), sizeof(*x));
    td_hist_op_t *op;

    if (req == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "request is required");
        return;
    }
    x->req = req;
    op = td_hist_op_token(call, ctx, token, apply, done, &x->tok);
    if (op != NULL) {
        op->u = x;
        op->u2 = (void *)resp;
        td_hist__op_submit(op);
    }
}

static void td_hist_act_completed(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__RespondActivityTaskCompletedRequest *in =
            (const void *)td_rpc_request(call);
    ProtobufCBinaryData tok =
            in->request ? in->request->task_token : (ProtobufCBinaryData){ 0, NULL };
    td_hist_act_respond(call, ctx, in->request, tok, td_hist_act_complete_apply, td_hist_done_empty,
                        &WSV1(respond_activity_task_completed_response));
}

static void td_hist_act_failed(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__RespondActivityTaskFailedRequest *in =
            (const void *)td_rpc_request(call);
    ProtobufCBinaryData tok =
            in->request ? in->request->task_token : (ProtobufCBinaryData){ 0, NULL };
    td_hist_act_respond(call, ctx, in->request, tok, td_hist_act_fail_apply, td_hist_done_empty,
                        &WSV1(respond_activity_task_failed_response));
}

static void td_hist_act_canceled(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__RespondActivityTaskCanceledRequest *in =
            (const void *)td_rpc_request(call);
    ProtobufCBinaryData tok =
            in->request ? in->request->task_token : (ProtobufCBinaryData){ 0, NULL };
    td_hist_act_respond(call, ctx, in->request, tok, td_hist_act_cancel_apply, td_hist_done_empty,
                        &WSV1(respond_activity_task_canceled_response));
}

static void td_hist_act_heartbeat(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__RecordActivityTaskHeartbeatRequest *in =
            (const void *)td_rpc_request(call);
    ProtobufCBinaryData tok =
            in->request ? in->request->task_token : (ProtobufCBinaryData){ 0, NULL };
    td_hist_act_respond(call, ctx, in->request, tok, td_hist_act_heartbeat_apply,
                        td_hist_act_heartbeat_done, &WSV1(record_activity_task_heartbeat_response));
}

/* ---- registration ---- */

#define HS(x) temporald__historyservice__##x##__descriptor

int td_hist__register(td_hist_t *h)
{
    const td_rpc_method_t m[] = {
        { TD_SVC_HISTORY "StartWorkflowExecution", &HS(start_workflow_execution_request),
          td_hist_start, h },
        { TD_SVC_HISTORY "SignalWithStartWorkflowExecution",
          &HS(signal_with_start_workflow_execution_request), td_hist_signal_with_start, h },
        { TD_SVC_HISTORY "SignalWorkflowExecution", &HS(signal_workflow_execution_request),
          td_hist_signal, h },
        { TD_SVC_HISTORY "RequestCancelWorkflowExecution",
          &HS(request_cancel_workflow_execution_request), td_hist_request_cancel, h },
        { TD_SVC_HISTORY "TerminateWorkflowExecution", &HS(terminate_workflow_execution_request),
          td_hist_terminate, h },
        { TD_SVC_HISTORY "DescribeWorkflowExecution", &HS(describe_workflow_execution_request),
          td_hist__describe, h },
        { TD_SVC_HISTORY "GetWorkflowExecutionHistory", &HS(get_workflow_execution_history_request),
          td_hist__get_history, h },
        { TD_SVC_HISTORY "GetWorkflowExecutionHistoryReverse",
          &HS(get_workflow_execution_history_reverse_request), td_hist__get_history_reverse, h },
        { TD_SVC_HISTORY "QueryWorkflow", &HS(query_workflow_request), td_hist__query, h },
        { TD_SVC_HISTORY "ResetStickyTaskQueue", &HS(reset_sticky_task_queue_request),
          td_hist_reset_sticky, h },
        { TD_SVC_HISTORY "RecordWorkflowTaskStarted", &HS(record_workflow_task_started_request),
          td_hist_record_wft_started, h },
        { TD_SVC_HISTORY "RecordActivityTaskStarted", &HS(record_activity_task_started_request),
          td_hist_record_act_started, h },
        { TD_SVC_HISTORY "RespondWorkflowTaskCompleted",
          &HS(respond_workflow_task_completed_request), td_hist_wft_completed, h },
        { TD_SVC_HISTORY "RespondWorkflowTaskFailed", &HS(respond_workflow_task_failed_request),
          td_hist_wft_failed, h },
        { TD_SVC_HISTORY "RecordActivityTaskHeartbeat", &HS(record_activity_task_heartbeat_request),
          td_hist_act_heartbeat, h },
        { TD_SVC_HISTORY "RespondActivityTaskCompleted",
          &HS(respond_activity_task_completed_request), td_hist_act_completed, h },
        { TD_SVC_HISTORY "RespondActivityTaskFailed", &HS(respond_activity_task_failed_request),
          td_hist_act_failed, h },
        { TD_SVC_HISTORY "RespondActivityTaskCanceled", &HS(respond_activity_task_canceled_request),
          td_hist_act_canceled, h },
    };
    int rc = td_svc_register_all(h->srv, m, (int)(sizeof(m) / sizeof(m[0])));

    if (rc == TD_OK) {
        rc = td_hist__register_byid(h);
    }
    if (rc == TD_OK) {
        rc = td_hist__register_update(h);
    }
    return rc == TD_OK ? td_hist__register_reset(h) : rc;
}
