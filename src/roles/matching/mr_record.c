/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The matching role's history ops: what the engine calls when it hands a task to a poll.
 * Workflow and activity tasks become history's RecordWorkflowTaskStarted /
 * RecordActivityTaskStarted calls (td_svc_call), whose poll response is copied, packed, for
 * the engine; a legacy query task is answered here without history: the poll response history
 * prepared travels in the task's data, and this file only adds the query task token. Not the
 * RPC handlers (mr_service.c). Called by the engine only, on the loop thread; the engine's
 * callback always runs later, never inside record_started.
 */
#define TD_LOG_COMPONENT "matching"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "historyservice.pb-c.h"
#include "log.h"
#include "matchingservice.pb-c.h"
#include "mem.h"
#include "net/pb_raw.h"
#include "roles/history/ms/ms_token.h"
#include "roles/matching/mr_int.h"
#include "roles/svc.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

typedef Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse td_mr_wft_resp_t;

/* One record_started in flight. */
typedef struct {
    td_arena_t arena; /* the history request */
    td_loop_t *loop;
    td_match_started_cb cb;
    void *arg;
    int err;
    td_mr_resp_t *resp;
    int in_call; /* td_svc_call has not returned yet */
    int ended;   /* the outcome is known */
} td_mr_rec_t;

td_mr_resp_t *td_mr__resp_copy(const ProtobufCMessage *m)
{
    td_mr_resp_t *r = td_calloc(1, sizeof(*r));
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf;

    td_arena_init(&r->arena, n + 1024);
    buf = td_arena_alloc(&r->arena, n + 1);
    protobuf_c_message_pack(m, buf);
    /* Kept packed: the copy is only ever written out again (mr_int.h). */
    r->msg = td_pb_raw_wrap(&r->arena, m->descriptor, buf, n);
    if (r->msg == NULL) {
        /* packed by protobuf-c a moment ago: cannot fail but for a library bug */
        td_log_error("cannot copy a %s", m->descriptor->name);
        abort();
    }
    return r;
}

void td_mr__resp_free(td_mr_resp_t *resp)
{
    if (resp != NULL) {
        td_arena_destroy(&resp->arena);
        td_free(resp);
    }
}

int32_t td_mr__task_attempt(const td_match_task_t *task)
{
    Temporald__Matchingservice__AddActivityTaskRequest *m = NULL;
    int32_t attempt = 0;

    if (task->data == NULL || task->data_len == 0) {
        goto out;
    }
    m = temporald__matchingservice__add_activity_task_request__unpack(NULL, task->data_len,
                                                                      task->data);
    if (m == NULL) {
        td_log_warn("activity task %s: undecodable task data", task->workflow_id);
        goto out;
    }
    attempt = m->attempt;
out:
    if (m != NULL) {
        temporald__matchingservice__add_activity_task_request__free_unpacked(m, NULL);
    }
    return attempt;
}

/* Deep copy of a message into an arena (NULL stays NULL). */
static void *td_mr_clone(td_arena_t *a, const ProtobufCMessage *m)
{
    size_t n;
    uint8_t *buf;

    if (m == NULL) {
        return NULL;
    }
    n = protobuf_c_message_get_packed_size(m);
    buf = td_arena_alloc(a, n + 1);
    protobuf_c_message_pack(m, buf);
    return protobuf_c_message_unpack(m->descriptor, td_arena_pb(a), n, buf);
}

static void td_mr_rec_deliver(void *arg)
{
    td_mr_rec_t *x = arg;
    td_match_started_cb cb = x->cb;
    void *cb_arg = x->arg;
    int err = x->err;
    td_mr_resp_t *resp = x->resp;

    td_arena_destroy(&x->arena);
    td_free(x);
    cb(cb_arg, err, resp);
}

/* Ends a record: the engine hears of it from the loop, never inside record_started. */
static void td_mr_rec_end(td_mr_rec_t *x, int err, td_mr_resp_t *resp)
{
    x->err = err;
    x->resp = resp;
    x->ended = 1;
    if (!x->in_call) {
        td_mr_rec_deliver(x);
    }
}

/* History's verdict as the engine's error: NOT_FOUND (task gone, workflow closed, already
 * started for history) and ALREADY_EXISTS are stale: dropped. INVALID_ARGUMENT is dropped too:
 * history refuses the task itself, so a retry could never succeed. Anything else (history
 * busy, shard moving, deadline) re-queues the task with backoff. */
static int td_mr_history_err(int status)
{
    switch (status) {
    case TD_GRPC_OK:
        return TD_OK;
    case TD_GRPC_NOT_FOUND:
        return TD_ENOTFOUND;
    case TD_GRPC_ALREADY_EXISTS:
        return TD_EEXIST;
    case TD_GRPC_INVALID_ARGUMENT:
        return TD_ENOTFOUND;
    default:
        return TD_EUNAVAIL;
    }
}

static void td_mr_rec_done(const ProtobufCMessage *resp, int status, const char *message,
                           const ProtobufCMessage *detail, void *arg)
{
    td_mr_rec_t *x = arg;
    int err = td_mr_history_err(status);

    (void)detail;
    if (err == TD_OK && resp == NULL) {
        err = TD_EINTERNAL;
    }
    if (err != TD_OK) {
        td_log_debug("record started: status %d %s", status, message != NULL ? message : "");
        td_mr_rec_end(x, err, NULL);
    } else {
        td_mr_rec_end(x, TD_OK, td_mr__resp_copy(resp));
    }
}

static Temporal__Api__Common__V1__WorkflowExecution *td_mr_execution(td_arena_t *a,
                                                                     const td_match_task_t *task)
{
    Temporal__Api__Common__V1__WorkflowExecution *we = td_arena_calloc(a, sizeof(*we));

    temporal__api__common__v1__workflow_execution__init(we);
    we->workflow_id = td_arena_strdup(a, task->workflow_id != NULL ? task->workflow_id : "");
    we->run_id = td_arena_strdup(a, task->run_id != NULL ? task->run_id : "");
    return we;
}

/* A legacy query: history's prepared response plus the query task token. */
static void td_mr_record_query(td_mr_rec_t *x, const td_match_key_t *key,
                               const td_match_task_t *task)
{
    Temporald__Token__QueryTask tok = TEMPORALD__TOKEN__QUERY_TASK__INIT;
    td_mr_wft_resp_t *m = NULL;
    td_mr_resp_t *resp = NULL;
    int rc;

    m = temporal__api__workflowservice__v1__poll_workflow_task_queue_response__unpack(
            td_arena_pb(&x->arena), task->data_len, task->data);
    if (m == NULL) {
        /* built by our QueryWorkflow handler: cannot happen; the query times out */
        td_log_error("query %s: undecodable query task", task->query_id);
        td_mr_rec_end(x, TD_EINTERNAL, NULL);
        goto out;
    }
    tok.namespace_id = (char *)key->namespace_id;
    tok.task_queue = (char *)key->name;
    tok.task_id = (char *)task->query_id;
    rc = td_ms_query_token_encode(&tok, &x->arena, &m->task_token);
    if (rc == TD_OK) {
        resp = td_mr__resp_copy(&m->base);
    }
    td_mr_rec_end(x, rc, resp);
out:
    return;
}

static void td_mr_record_started(void *ctx, const td_match_key_t *key, const td_match_task_t *task,
                                 const td_match_poller_t *poller, td_match_started_cb cb, void *arg)
{
    td_mr_t *r = ctx;
    const td_mr_poll_t *poll = poller->poll_ctx;
    td_mr_rec_t *x = td_calloc(1, sizeof(*x));
    td_arena_t *a = &x->arena;
    const ProtobufCMessage *req = NULL;
    const char *path = NULL;
    Temporal__Api__Taskqueue__V1__TaskQueue *tq;

    td_arena_init(a, 2048);
    x->loop = r->srv->loop;
    x->cb = cb;
    x->arg = arg;
    x->in_call = 1;
    if (task->query_id != NULL) {
        td_mr_record_query(x, key, task);
        goto out;
    }
    if (key->type == TD_MATCH_WORKFLOW) {
        Temporald__Historyservice__RecordWorkflowTaskStartedRequest *m =
                td_arena_calloc(a, sizeof(*m));
        temporald__historyservice__record_workflow_task_started_request__init(m);
        tq = td_arena_calloc(a, sizeof(*tq));
        temporal__api__taskqueue__v1__task_queue__init(tq);
        tq->name = td_arena_strdup(a, key->name);
        tq->kind = key->kind == TD_MATCH_STICKY
                           ? TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_STICKY
                           : TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL;
        m->namespace_id = td_arena_strdup(a, key->namespace_id);
        m->execution = td_mr_execution(a, task);
        m->scheduled_event_id = task->scheduled_event_id;
        m->task_id = task->task_id;
        m->request_id = td_arena_strdup(a, poller->request_id);
        m->poll_request = td_mr_clone(a, poll != NULL ? poll->req : NULL);
        m->task_queue = tq;
        req = &m->base;
        path = TD_SVC_HISTORY "RecordWorkflowTaskStarted";
    } else {
        Temporald__Historyservice__RecordActivityTaskStartedRequest *m =
                td_arena_calloc(a, sizeof(*m));
        temporald__historyservice__record_activity_task_started_request__init(m);
        m->namespace_id = td_arena_strdup(a, key->namespace_id);
        m->execution = td_mr_execution(a, task);
        m->scheduled_event_id = task->scheduled_event_id;
        m->task_id = task->task_id;
        m->request_id = td_arena_strdup(a, poller->request_id);
        m->poll_request = td_mr_clone(a, poll != NULL ? poll->req : NULL);
        m->attempt = td_mr__task_attempt(task);
        req = &m->base;
        path = TD_SVC_HISTORY "RecordActivityTaskStarted";
    }
    td_svc_call(r->srv, path, req, td_now_mono_ms() + TD_MR_RECORD_TIMEOUT_MS, td_mr_rec_done, x);
out:
    x->in_call = 0;
    if (x->ended) {
        /* answered inside the call: tell the engine from the loop */
        td_loop_post(x->loop, td_mr_rec_deliver, x);
    }
}

static void td_mr_response_free(void *ctx, void *response)
{
    (void)ctx;
    td_mr__resp_free(response);
}

const td_match_history_ops_t td_mr__history_ops = {
    .record_started = td_mr_record_started,
    .response_free = td_mr_response_free,
};
