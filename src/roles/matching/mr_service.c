/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MatchingService handlers (proto/matchingservice.proto): each turns one internal call
 * from history or the frontend into matching engine calls and answers it when the engine
 * does. Methods served under TD_SVC_MATCHING: AddWorkflowTask, AddActivityTask,
 * PollWorkflowTaskQueue, PollActivityTaskQueue, QueryWorkflow, RespondQueryTaskCompleted,
 * DescribeTaskQueue, UnloadStickyTaskQueue. Not the engine (engine.h) and not the recording
 * of started tasks (mr_record.c). Callers: td_svc_call from other roles, never direct.
 *
 * Errors history and the frontend can act on:
 *   - AddWorkflowTask/AddActivityTask answer only after the engine accepted the task (handed
 *     to a poll and started, dropped as stale, or persisted); an error (UNAVAILABLE) means
 *     nothing was accepted and history should retry.
 *   - A sticky AddWorkflowTask whose sticky queue had no poll within
 *     sticky_unavailable_ms (10 s) goes to task_queue.normal_name when the request names it;
 *     without a normal_name it fails FAILED_PRECONDITION "sticky worker unavailable, please
 *     use original task queue." (Temporal's StickyWorkerUnavailable): history should clear
 *     the run's stickiness and add the task to the normal queue. FAILED_PRECONDITION is not
 *     retryable, so the task must not be retried on the sticky queue.
 *   - QueryWorkflow: DEADLINE_EXCEEDED when no worker answered in time; INVALID_ARGUMENT with
 *     a QueryFailedFailure detail when the worker reported the query as failed; on a sticky
 *     queue without a recent poll and without normal_name, the same FAILED_PRECONDITION
 *     "sticky worker unavailable, ..." as adds (history retries on the normal queue).
 */
#define TD_LOG_COMPONENT "matching"

#include <string.h>

#include "error.h"
#include "log.h"
#include "matchingservice.pb-c.h"
#include "roles/history/ms/ms_token.h"
#include "roles/matching/mr_int.h"
#include "roles/svc.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

typedef Temporald__Matchingservice__AddWorkflowTaskRequest td_mr_add_wft_req_t;
typedef Temporald__Matchingservice__AddActivityTaskRequest td_mr_add_act_req_t;
typedef Temporald__Matchingservice__PollWorkflowTaskQueueRequest td_mr_poll_wft_req_t;
typedef Temporald__Matchingservice__PollActivityTaskQueueRequest td_mr_poll_act_req_t;
typedef Temporald__Matchingservice__QueryWorkflowRequest td_mr_query_req_t;
typedef Temporald__Matchingservice__RespondQueryTaskCompletedRequest td_mr_query_done_req_t;
typedef Temporald__Matchingservice__DescribeTaskQueueRequest td_mr_describe_req_t;
typedef Temporald__Matchingservice__UnloadStickyTaskQueueRequest td_mr_unload_req_t;
typedef Temporal__Api__Workflowservice__V1__RespondQueryTaskCompletedRequest td_mr_pub_query_done_t;
typedef Temporal__Api__Taskqueue__V1__TaskQueue td_mr_tq_t;

/* DescribeTaskQueue's include_task_queue_status / task_queue_status are deprecated in the API
 * but the CLI and older SDKs still ask for them: served on purpose. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define TD_MR_MAX_POLLERS 64

/* ---- helpers ---- */

static ProtobufCMessage *td_mr_new_msg(td_rpc_call_t *call, const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = td_arena_calloc(td_rpc_arena(call), d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

static void td_mr_reply_empty(td_rpc_call_t *call, const ProtobufCMessageDescriptor *d)
{
    td_rpc_reply(call, td_mr_new_msg(call, d));
}

static int td_mr_blank(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static int td_mr_is_sticky(const td_mr_tq_t *tq)
{
    return tq != NULL &&
           tq->kind == TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_STICKY;
}

/* The engine, or NULL after failing the call because the role is stopping. */
static td_matching_engine_t *td_mr_engine(td_mr_t *r, td_rpc_call_t *call)
{
    if (r->engine == NULL || r->closing) {
        td_rpc_fail_err(call, TD_ECLOSED, "matching: the role is shutting down");
        return NULL;
    }
    return r->engine;
}

static int64_t td_mr_dur_ns(const Google__Protobuf__Duration *d)
{
    return d != NULL ? d->seconds * 1000000000LL + d->nanos : 0;
}

/* ---- AddWorkflowTask / AddActivityTask ---- */

typedef struct {
    td_rpc_call_t *call;
    const ProtobufCMessageDescriptor *resp;
} td_mr_add_t;

static void td_mr_add_done(void *arg, int err)
{
    td_mr_add_t *x = arg;

    if (err == TD_OK) {
        td_mr_reply_empty(x->call, x->resp);
    } else {
        td_rpc_fail_err(x->call, err, NULL);
    }
}

static void td_mr_add(td_rpc_call_t *call, td_mr_t *r, td_match_type_t type, const char *ns,
                      const Temporal__Api__Common__V1__WorkflowExecution *we, const td_mr_tq_t *tq,
                      int64_t scheduled_event_id, int64_t schedule_to_start_ns,
                      ProtobufCBinaryData data, const ProtobufCMessageDescriptor *resp)
{
    td_matching_engine_t *e = td_mr_engine(r, call);
    td_match_key_t key = { ns, NULL, type, TD_MATCH_NORMAL };
    td_match_task_t task;
    td_mr_add_t *x;
    int rc;

    if (e == NULL) {
        goto out;
    }
    if (td_mr_blank(ns) || we == NULL || td_mr_blank(we->workflow_id) || tq == NULL ||
        td_mr_blank(tq->name) || scheduled_event_id <= 0) {
        td_rpc_fail_err(call, TD_EINVAL,
                        "namespace_id, execution, task_queue and scheduled_event_id are required");
        goto out;
    }
    memset(&task, 0, sizeof(task));
    task.workflow_id = we->workflow_id;
    task.run_id = we->run_id;
    task.scheduled_event_id = scheduled_event_id;
    task.create_time_ns = td_now_wall_ns();
    task.expiry_time_ns = schedule_to_start_ns > 0 ? task.create_time_ns + schedule_to_start_ns : 0;
    task.data = data.data;
    task.data_len = data.len;
    key.name = tq->name;
    key.kind = type == TD_MATCH_WORKFLOW && td_mr_is_sticky(tq) ? TD_MATCH_STICKY : TD_MATCH_NORMAL;
    x = td_arena_calloc(td_rpc_arena(call), sizeof(*x));
    x->call = call;
    x->resp = resp;
    rc = td_matching_add_task(e, &key, &task, td_mr_add_done, x);
    if (rc == TD_EUNAVAIL && key.kind == TD_MATCH_STICKY && !td_mr_blank(tq->normal_name)) {
        /* the sticky worker is gone: its normal queue takes the task (history's record
         * started sees a normal-queue poll and clears the run's stickiness) */
        td_log_debug("sticky queue %s has no poller: task of %s goes to %s", tq->name,
                     we->workflow_id, tq->normal_name);
        key.name = tq->normal_name;
        key.kind = TD_MATCH_NORMAL;
        task.expiry_time_ns = 0;
        rc = td_matching_add_task(e, &key, &task, td_mr_add_done, x);
    }
    if (rc == TD_EUNAVAIL) {
        td_rpc_fail(call, TD_GRPC_FAILED_PRECONDITION, TD_SVC_STICKY_UNAVAILABLE, NULL);
    } else if (rc != TD_OK) {
        td_rpc_fail_err(call, rc, NULL);
    }
out:
    return;
}

static void td_mr_add_wft(td_rpc_call_t *call, void *ctx)
{
    const td_mr_add_wft_req_t *in = (const void *)td_rpc_request(call);
    ProtobufCBinaryData none = { 0, NULL };

    td_mr_add(call, ctx, TD_MATCH_WORKFLOW, in->namespace_id, in->execution, in->task_queue,
              in->scheduled_event_id, td_mr_dur_ns(in->schedule_to_start_timeout), none,
              &temporald__matchingservice__add_workflow_task_response__descriptor);
}

static void td_mr_add_act(td_rpc_call_t *call, void *ctx)
{
    const td_mr_add_act_req_t *in = (const void *)td_rpc_request(call);
    td_mr_add_act_req_t carry = TEMPORALD__MATCHINGSERVICE__ADD_ACTIVITY_TASK_REQUEST__INIT;
    ProtobufCBinaryData data = { 0, NULL };

    /* the attempt rides in the task data (see td_mr__task_attempt) */
    carry.attempt = in->attempt;
    data.len = protobuf_c_message_get_packed_size(&carry.base);
    data.data = td_arena_alloc(td_rpc_arena(call), data.len + 1);
    protobuf_c_message_pack(&carry.base, data.data);
    td_mr_add(call, ctx, TD_MATCH_ACTIVITY, in->namespace_id, in->execution, in->task_queue,
              in->scheduled_event_id, td_mr_dur_ns(in->schedule_to_start_timeout), data,
              &temporald__matchingservice__add_activity_task_response__descriptor);
}

/* ---- PollWorkflowTaskQueue / PollActivityTaskQueue ---- */

typedef struct {
    td_mr_poll_t p; /* first: the engine's poll_ctx */
    const ProtobufCMessageDescriptor *resp;
} td_mr_pollx_t;

static void td_mr_poll_done(void *arg, int err, void *response)
{
    td_mr_pollx_t *x = arg;
    td_mr_resp_t *resp = response;

    x->p.handle = NULL;
    if (err != TD_OK) {
        td_rpc_fail_err(x->p.call, err, NULL);
    } else if (resp == NULL) {
        td_mr_reply_empty(x->p.call, x->resp); /* long poll expired: no task */
    } else {
        td_rpc_reply(x->p.call, resp->msg); /* packed here: resp may go */
    }
    td_mr__resp_free(resp);
}

static void td_mr_poll_cancelled(void *arg)
{
    td_mr_pollx_t *x = arg;

    if (x->p.handle != NULL) {
        td_matching_poll_cancel(x->p.handle);
        x->p.handle = NULL;
        td_rpc_fail(x->p.call, TD_GRPC_CANCELLED, "poll cancelled", NULL);
    }
}

static void td_mr_poll(td_rpc_call_t *call, td_mr_t *r, td_match_type_t type, const char *ns,
                       const ProtobufCMessage *pub, const td_mr_tq_t *tq, const char *identity,
                       const char *worker_key, double rate, const ProtobufCMessageDescriptor *resp)
{
    td_matching_engine_t *e = td_mr_engine(r, call);
    td_match_key_t key = { ns, NULL, type, TD_MATCH_NORMAL };
    td_match_poll_req_t preq;
    td_mr_pollx_t *x;
    const char *msg = NULL;
    int rc;

    if (e == NULL) {
        goto out;
    }
    if (td_mr_blank(ns) || pub == NULL || tq == NULL || td_mr_blank(tq->name)) {
        td_rpc_fail_err(call, TD_EINVAL, "namespace_id and request.task_queue are required");
        goto out;
    }
    rc = td_matching_check_deadline(td_now_mono_ms(), td_rpc_deadline(call), TD_MR_MIN_POLL_MS,
                                    &msg);
    if (rc != TD_OK) {
        td_rpc_fail_err(call, rc, msg);
        goto out;
    }
    if (td_rpc_cancelled(call)) {
        td_rpc_fail(call, TD_GRPC_CANCELLED, "poll cancelled", NULL);
        goto out;
    }
    key.name = tq->name;
    /* sticky polls name the worker's own queue; activity queues are never sticky */
    key.kind = type == TD_MATCH_WORKFLOW && td_mr_is_sticky(tq) ? TD_MATCH_STICKY : TD_MATCH_NORMAL;
    x = td_arena_calloc(td_rpc_arena(call), sizeof(*x));
    x->p.r = r;
    x->p.call = call;
    x->p.req = pub;
    x->resp = resp;
    memset(&preq, 0, sizeof(preq));
    preq.identity = identity;
    preq.worker_key = worker_key;
    preq.rate_per_second = rate;
    preq.deadline_ms = td_rpc_deadline(call);
    preq.ctx = &x->p;
    rc = td_matching_poll(e, &key, &preq, td_mr_poll_done, x, &x->p.handle);
    if (rc == TD_ECANCELED) {
        td_mr_reply_empty(call, resp); /* its worker called ShutdownWorker */
        goto out;
    }
    if (rc != TD_OK) {
        td_rpc_fail_err(call, rc, rc == TD_EPRECOND ? "Context timeout is too short." : NULL);
        goto out;
    }
    td_rpc_on_cancel(call, td_mr_poll_cancelled, x);
out:
    return;
}

static void td_mr_poll_wft(td_rpc_call_t *call, void *ctx)
{
    const td_mr_poll_wft_req_t *in = (const void *)td_rpc_request(call);
    const Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueRequest *pub = in->request;

    td_mr_poll(call, ctx, TD_MATCH_WORKFLOW, in->namespace_id, (const ProtobufCMessage *)pub,
               pub != NULL ? pub->task_queue : NULL, pub != NULL ? pub->identity : NULL,
               pub != NULL ? pub->worker_instance_key : NULL, 0,
               &temporal__api__workflowservice__v1__poll_workflow_task_queue_response__descriptor);
}

static void td_mr_poll_act(td_rpc_call_t *call, void *ctx)
{
    const td_mr_poll_act_req_t *in = (const void *)td_rpc_request(call);
    const Temporal__Api__Workflowservice__V1__PollActivityTaskQueueRequest *pub = in->request;
    double rate = 0;

    if (pub != NULL && pub->task_queue_metadata != NULL &&
        pub->task_queue_metadata->max_tasks_per_second != NULL) {
        rate = pub->task_queue_metadata->max_tasks_per_second->value;
    }
    td_mr_poll(call, ctx, TD_MATCH_ACTIVITY, in->namespace_id, (const ProtobufCMessage *)pub,
               pub != NULL ? pub->task_queue : NULL, pub != NULL ? pub->identity : NULL,
               pub != NULL ? pub->worker_instance_key : NULL, rate,
               &temporal__api__workflowservice__v1__poll_activity_task_queue_response__descriptor);
}

/* ---- QueryWorkflow / RespondQueryTaskCompleted ---- */

typedef struct {
    td_rpc_call_t *call;
    td_matching_query_t *q; /* NULL once answered */
} td_mr_queryx_t;

/* The worker's answer (a packed public RespondQueryTaskCompletedRequest) as the reply. */
static void td_mr_query_done(void *arg, int err, const uint8_t *data, size_t len)
{
    td_mr_queryx_t *x = arg;
    td_rpc_call_t *call = x->call;
    td_mr_pub_query_done_t *ans = NULL;

    x->q = NULL;
    if (err == TD_ETIMEDOUT) {
        td_rpc_fail(call, TD_GRPC_DEADLINE_EXCEEDED,
                    "query timed out: no worker answered the query task in time", NULL);
        return;
    }
    if (err != TD_OK && err != TD_EINVAL) {
        td_rpc_fail_err(call, err, NULL);
        return;
    }
    ans = temporal__api__workflowservice__v1__respond_query_task_completed_request__unpack(
            td_arena_pb(td_rpc_arena(call)), len, data);
    if (ans == NULL) {
        td_rpc_fail_err(call, TD_EINTERNAL, "matching: undecodable query answer");
        return;
    }
    if (err == TD_OK) {
        Temporal__Api__Workflowservice__V1__QueryWorkflowResponse *resp = (void *)td_mr_new_msg(
                call, &temporal__api__workflowservice__v1__query_workflow_response__descriptor);
        resp->query_result = ans->query_result;
        td_rpc_reply(call, &resp->base);
    } else {
        Temporal__Api__Errordetails__V1__QueryFailedFailure *d = (void *)td_mr_new_msg(
                call, &temporal__api__errordetails__v1__query_failed_failure__descriptor);
        d->failure = ans->failure;
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT,
                    !td_mr_blank(ans->error_message) ? ans->error_message : "query failed",
                    &d->base);
    }
}

static void td_mr_query_cancelled(void *arg)
{
    td_mr_queryx_t *x = arg;

    if (x->q != NULL) {
        td_matching_query_cancel(x->q);
        x->q = NULL;
        td_rpc_fail(x->call, TD_GRPC_CANCELLED, "query cancelled", NULL);
    }
}

/* A sticky task_queue sends the query task to the worker's sticky queue. When that queue had
 * no poll within sticky_unavailable_ms, the query goes to task_queue.normal_name if the
 * request names one (history then promises the task suits a worker without the run cached:
 * full history), else the call fails FAILED_PRECONDITION "sticky worker unavailable, ..." and
 * history may retry on the normal queue with the full history, as Temporal's does. */
static void td_mr_query(td_rpc_call_t *call, void *ctx)
{
    td_mr_t *r = ctx;
    const td_mr_query_req_t *in = (const void *)td_rpc_request(call);
    td_matching_engine_t *e = td_mr_engine(r, call);
    Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse task_msg;
    td_match_key_t key = { in->namespace_id, NULL, TD_MATCH_WORKFLOW, TD_MATCH_NORMAL };
    td_match_task_t task;
    int64_t deadline = td_rpc_deadline(call), timeout_ms;
    td_mr_queryx_t *x;
    int rc;

    if (e == NULL) {
        goto out;
    }
    if (td_mr_blank(in->namespace_id) || in->task_queue == NULL ||
        td_mr_blank(in->task_queue->name) || in->request == NULL || in->request->query == NULL ||
        in->task == NULL) {
        td_rpc_fail_err(call, TD_EINVAL,
                        "namespace_id, task_queue, request.query and task are required");
        goto out;
    }
    timeout_ms = deadline > 0 ? deadline - td_now_mono_ms() : TD_MR_QUERY_TIMEOUT_MS;
    if (timeout_ms <= 0) {
        td_rpc_fail(call, TD_GRPC_DEADLINE_EXCEEDED, "query deadline already passed", NULL);
        goto out;
    }
    /* the task handed to the poller: history's response with the query (the token is set when
     * it is delivered: it names the queue and the query id) */
    task_msg = *in->task;
    task_msg.query = in->request->query;
    memset(&task, 0, sizeof(task));
    task.data_len = protobuf_c_message_get_packed_size(&task_msg.base);
    task.data = td_arena_alloc(td_rpc_arena(call), task.data_len + 1);
    protobuf_c_message_pack(&task_msg.base, (uint8_t *)task.data);
    if (in->request->execution != NULL) {
        task.workflow_id = in->request->execution->workflow_id;
        task.run_id = in->request->execution->run_id;
    }
    x = td_arena_calloc(td_rpc_arena(call), sizeof(*x));
    x->call = call;
    if (td_mr_is_sticky(in->task_queue)) {
        key.name = in->task_queue->name;
        key.kind = TD_MATCH_STICKY;
        rc = td_matching_query(e, &key, &task, timeout_ms, td_mr_query_done, x, &x->q);
        if (rc == TD_EUNAVAIL && !td_mr_blank(in->task_queue->normal_name)) {
            key.name = in->task_queue->normal_name;
            key.kind = TD_MATCH_NORMAL;
            rc = td_matching_query(e, &key, &task, timeout_ms, td_mr_query_done, x, &x->q);
        }
    } else {
        key.name = in->task_queue->name;
        rc = td_matching_query(e, &key, &task, timeout_ms, td_mr_query_done, x, &x->q);
    }
    if (rc == TD_EUNAVAIL) {
        td_rpc_fail(call, TD_GRPC_FAILED_PRECONDITION, TD_SVC_STICKY_UNAVAILABLE, NULL);
    } else if (rc != TD_OK) {
        td_rpc_fail_err(call, rc, NULL);
    } else {
        td_rpc_on_cancel(call, td_mr_query_cancelled, x);
    }
out:
    return;
}

static void td_mr_query_done_call(td_rpc_call_t *call, void *ctx)
{
    td_mr_t *r = ctx;
    const td_mr_query_done_req_t *in = (const void *)td_rpc_request(call);
    td_matching_engine_t *e = td_mr_engine(r, call);
    Temporald__Token__QueryTask *tok = NULL;
    td_mr_pub_query_done_t ans;
    uint8_t *data;
    size_t len;
    int err;

    if (e == NULL) {
        goto out;
    }
    if (in->request == NULL ||
        td_ms_query_token_decode(in->request->task_token.data, in->request->task_token.len,
                                 td_rpc_arena(call), &tok) != TD_OK) {
        td_rpc_fail_err(call, TD_EINVAL, "invalid query task token");
        goto out;
    }
    if (!td_mr_blank(in->namespace_id) && strcmp(in->namespace_id, tok->namespace_id) != 0) {
        td_rpc_fail_err(call, TD_EINVAL, "the query task token belongs to another namespace");
        goto out;
    }
    switch (in->request->completed_type) {
    case TEMPORAL__API__ENUMS__V1__QUERY_RESULT_TYPE__QUERY_RESULT_TYPE_ANSWERED:
        err = TD_OK;
        break;
    case TEMPORAL__API__ENUMS__V1__QUERY_RESULT_TYPE__QUERY_RESULT_TYPE_FAILED:
        err = TD_EINVAL;
        break;
    default:
        td_rpc_fail_err(call, TD_EINVAL, "Invalid query result type.");
        goto out;
    }
    /* what the waiting QueryWorkflow needs: the answer without the token */
    ans = *in->request;
    ans.task_token.data = NULL;
    ans.task_token.len = 0;
    len = protobuf_c_message_get_packed_size(&ans.base);
    data = td_arena_alloc(td_rpc_arena(call), len + 1);
    protobuf_c_message_pack(&ans.base, data);
    if (td_matching_respond_query(e, tok->task_id, err, data, len) != TD_OK) {
        td_rpc_fail_err(call, TD_ENOTFOUND, "query task not found, or already expired");
        goto out;
    }
    td_mr_reply_empty(
            call,
            &temporal__api__workflowservice__v1__respond_query_task_completed_response__descriptor);
out:
    return;
}

/* ---- DescribeTaskQueue / UnloadStickyTaskQueue ---- */

static Google__Protobuf__Timestamp *td_mr_ts(td_rpc_call_t *call, int64_t ns)
{
    Google__Protobuf__Timestamp *t =
            (void *)td_mr_new_msg(call, &google__protobuf__timestamp__descriptor);
    t->seconds = ns / 1000000000;
    t->nanos = (int32_t)(ns % 1000000000);
    return t;
}

static void td_mr_describe(td_rpc_call_t *call, void *ctx)
{
    td_mr_t *r = ctx;
    const td_mr_describe_req_t *in = (const void *)td_rpc_request(call);
    const Temporal__Api__Workflowservice__V1__DescribeTaskQueueRequest *pub = in->request;
    td_matching_engine_t *e = td_mr_engine(r, call);
    td_arena_t *a = td_rpc_arena(call);
    Temporal__Api__Workflowservice__V1__DescribeTaskQueueResponse *resp;
    td_match_key_t key = { in->namespace_id, NULL, TD_MATCH_WORKFLOW, TD_MATCH_NORMAL };
    td_match_poller_info_t *pi;
    td_match_stats_t st;
    int n;

    if (e == NULL) {
        goto out;
    }
    if (td_mr_blank(in->namespace_id) || pub == NULL || pub->task_queue == NULL ||
        td_mr_blank(pub->task_queue->name)) {
        td_rpc_fail_err(call, TD_EINVAL, "namespace_id and request.task_queue are required");
        goto out;
    }
    key.name = pub->task_queue->name;
    if (pub->task_queue_type ==
        TEMPORAL__API__ENUMS__V1__TASK_QUEUE_TYPE__TASK_QUEUE_TYPE_ACTIVITY) {
        key.type = TD_MATCH_ACTIVITY;
    }
    if (key.type == TD_MATCH_WORKFLOW && td_mr_is_sticky(pub->task_queue)) {
        key.kind = TD_MATCH_STICKY;
    }
    resp = (void *)td_mr_new_msg(
            call, &temporal__api__workflowservice__v1__describe_task_queue_response__descriptor);
    pi = td_arena_alloc(a, sizeof(*pi) * TD_MR_MAX_POLLERS);
    n = td_matching_pollers(e, &key, pi, TD_MR_MAX_POLLERS);
    resp->n_pollers = (size_t)n;
    resp->pollers = td_arena_alloc(a, sizeof(*resp->pollers) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        Temporal__Api__Taskqueue__V1__PollerInfo *p =
                (void *)td_mr_new_msg(call, &temporal__api__taskqueue__v1__poller_info__descriptor);
        p->identity = td_arena_strdup(a, pi[i].identity);
        p->last_access_time = td_mr_ts(call, pi[i].last_access_ns);
        p->rate_per_second = pi[i].rate_per_second;
        resp->pollers[i] = p;
    }
    td_matching_stats(e, &key, &st);
    if (pub->include_task_queue_status) {
        Temporal__Api__Taskqueue__V1__TaskQueueStatus *s = (void *)td_mr_new_msg(
                call, &temporal__api__taskqueue__v1__task_queue_status__descriptor);
        s->backlog_count_hint = st.backlog_hint;
        s->read_level = st.read_level;
        s->ack_level = st.ack_level;
        if (st.range_id > 0) {
            s->task_id_block = (void *)td_mr_new_msg(
                    call, &temporal__api__taskqueue__v1__task_id_block__descriptor);
            s->task_id_block->start_id = (st.range_id - 1) * r->cfg.range_size + 1;
            s->task_id_block->end_id = st.range_id * r->cfg.range_size;
        }
        resp->task_queue_status = s;
    }
    if (pub->report_stats) {
        resp->stats = (void *)td_mr_new_msg(
                call, &temporal__api__taskqueue__v1__task_queue_stats__descriptor);
        resp->stats->approximate_backlog_count = st.backlog_hint;
    }
    td_rpc_reply(call, &resp->base);
out:
    return;
}

static void td_mr_unload(td_rpc_call_t *call, void *ctx)
{
    td_mr_t *r = ctx;
    const td_mr_unload_req_t *in = (const void *)td_rpc_request(call);
    td_matching_engine_t *e = td_mr_engine(r, call);
    td_match_key_t key = { in->namespace_id, in->sticky_task_queue, TD_MATCH_WORKFLOW,
                           TD_MATCH_STICKY };

    if (e == NULL) {
        goto out;
    }
    if (td_mr_blank(in->namespace_id) ||
        (td_mr_blank(in->sticky_task_queue) && td_mr_blank(in->worker_instance_key))) {
        td_rpc_fail_err(call, TD_EINVAL,
                        "namespace_id and sticky_task_queue or worker_instance_key are required");
        goto out;
    }
    /* the worker's polls first: none of them may take a task from here on */
    if (!td_mr_blank(in->worker_instance_key)) {
        int n = td_matching_cancel_worker_polls(e, in->worker_instance_key);
        td_log_debug("ShutdownWorker %s: %d poll(s) answered empty", in->worker_instance_key, n);
    }
    if (!td_mr_blank(in->sticky_task_queue)) {
        td_matching_unload_sticky(e, &key);
    }
    td_mr_reply_empty(call,
                      &temporald__matchingservice__unload_sticky_task_queue_response__descriptor);
out:
    return;
}

/* ---- registration ---- */

#define TD_MR_REQ(n) &temporald__matchingservice__##n##_request__descriptor

int td_mr__register(td_mr_t *r)
{
    const td_rpc_method_t m[] = {
        { TD_SVC_MATCHING "AddWorkflowTask", TD_MR_REQ(add_workflow_task), td_mr_add_wft, r },
        { TD_SVC_MATCHING "AddActivityTask", TD_MR_REQ(add_activity_task), td_mr_add_act, r },
        { TD_SVC_MATCHING "PollWorkflowTaskQueue", TD_MR_REQ(poll_workflow_task_queue),
          td_mr_poll_wft, r },
        { TD_SVC_MATCHING "PollActivityTaskQueue", TD_MR_REQ(poll_activity_task_queue),
          td_mr_poll_act, r },
        { TD_SVC_MATCHING "QueryWorkflow", TD_MR_REQ(query_workflow), td_mr_query, r },
        { TD_SVC_MATCHING "RespondQueryTaskCompleted", TD_MR_REQ(respond_query_task_completed),
          td_mr_query_done_call, r },
        { TD_SVC_MATCHING "DescribeTaskQueue", TD_MR_REQ(describe_task_queue), td_mr_describe, r },
        { TD_SVC_MATCHING "UnloadStickyTaskQueue", TD_MR_REQ(unload_sticky_task_queue),
          td_mr_unload, r },
    };
    return td_svc_register_all(r->srv, m, (int)(sizeof(m) / sizeof(m[0])));
}
