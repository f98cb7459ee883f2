/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The history queue processors: what happens to a task once the transition that created it
 * committed (or, after a restart, once the shard read it back). Transfer tasks go to matching
 * (AddWorkflowTask / AddActivityTask, retried with backoff while matching is unavailable);
 * timer tasks wait on the shard's in-memory heap and, when due, run their transition through
 * the workflow's context (td_ms_timer_task_apply validates and applies; DELETE_HISTORY goes to
 * hist_retention.c); visibility tasks write the run's visibility record from its current
 * state. A task is acknowledged only after its effect happened. Loop thread only; called by
 * hist_shard.c and hist_ctx.c.
 */
#define TD_LOG_COMPONENT "history"

#include <string.h>

#include "backoff.h"
#include "error.h"
#include "log.h"
#include "matchingservice.pb-c.h"
#include "mem.h"
#include "roles/history/hist_int.h"
#include "roles/svc.h"
#include "server.h"

#define TD_HIST_BACKOFF_MIN_MS 100
#define TD_HIST_BACKOFF_MAX_MS 5000

td_hist_task_t *td_hist__heap_pop_due(td_hist_shard_t *s, int64_t now_ns, int64_t *next_ns);
void td_hist__heap_push(td_hist_shard_t *s, td_hist_task_t *task);

static void td_hist_task_redo(void *arg)
{
    td_hist__task_dispatch(arg);
}

/* Runs the task again later (backoff.h: exponential from 100 ms to 5 s, jittered). */
void td_hist__task_retry(td_hist_task_t *task)
{
    int64_t ms = td_backoff_delay(TD_HIST_BACKOFF_MIN_MS, TD_HIST_BACKOFF_MAX_MS, task->retries);

    task->retries++;
    task->state = TD_HIST_TASK_READY;
    if (task->retry_timer == NULL) {
        task->retry_timer = td_timer_new(task->shard->h->loop, td_hist_task_redo, task);
    }
    td_timer_start(task->retry_timer, ms);
}

int td_hist__task_retry_logged(const td_hist_task_t *task)
{
    return (task->retries & (task->retries - 1)) == 0; /* 0, 1, 2, 4, 8, ... */
}

static int td_hist_retryable(int status)
{
    return status == TD_GRPC_UNAVAILABLE || status == TD_GRPC_RESOURCE_EXHAUSTED ||
           status == TD_GRPC_DEADLINE_EXCEEDED || status == TD_GRPC_INTERNAL ||
           status == TD_GRPC_UNKNOWN || status == TD_GRPC_CANCELLED || status == TD_GRPC_ABORTED;
}

/* ---- transfer ---- */

typedef struct {
    td_hist_task_t *task;
    td_arena_t arena;
} td_hist_xfer_t;

static void td_hist_xfer_done(const ProtobufCMessage *resp, int status, const char *message,
                              const ProtobufCMessage *detail, void *arg)
{
    td_hist_xfer_t *x = arg;
    td_hist_task_t *task = x->task;
    td_hist_t *h = task->shard->h;

    (void)resp;
    (void)detail;
    h->inflight--;
    td_arena_destroy(&x->arena);
    td_free(x);
    if (status == TD_GRPC_OK) {
        td_hist__task_ack(task);
    } else if (td_hist_retryable(status) && h->running) {
        if (td_hist__task_retry_logged(task)) {
            td_log_warn("dispatch of %s task for %s/%s failed (will retry): %s",
                        task->t.type == TD_MS_TASK_WORKFLOW_TASK ? "workflow" : "activity",
                        task->workflow_id, task->run_id, message ? message : "");
        }
        td_hist__task_retry(task);
    } else if (!h->running) {
        task->state = TD_HIST_TASK_READY; /* left for the next owner */
    } else {
        td_log_warn("matching rejected a task of %s/%s (dropped): status %d %s", task->workflow_id,
                    task->run_id, status, message ? message : "");
        td_hist__task_ack(task);
    }
}

static Google__Protobuf__Duration *td_hist_dur(td_arena_t *a, int64_t ns)
{
    Google__Protobuf__Duration *d = td_arena_calloc(a, sizeof(*d));
    google__protobuf__duration__init(d);
    d->seconds = ns / 1000000000;
    d->nanos = (int32_t)(ns % 1000000000);
    return d;
}

static void td_hist_transfer(td_hist_task_t *task)
{
    td_hist_t *h = task->shard->h;
    td_hist_xfer_t *x;
    Temporal__Api__Common__V1__WorkflowExecution *we;
    Temporal__Api__Taskqueue__V1__TaskQueue *tq;
    const ProtobufCMessage *req;
    const char *path;

    if (task->t.type >= TD_MS_TASK_START_CHILD && task->t.type <= TD_MS_TASK_PARENT_CLOSE_POLICY) {
        task->state = TD_HIST_TASK_RUNNING;
        td_hist__xfer_cross(task); /* hist_xfer.c */
        return;
    }
    if (task->t.type != TD_MS_TASK_WORKFLOW_TASK && task->t.type != TD_MS_TASK_ACTIVITY_TASK) {
        /* CLOSE_EXECUTION: the tasks above cover everything a close sets off. */
        td_hist__task_ack(task);
        return;
    }
    x = td_calloc(1, sizeof(*x));
    x->task = task;
    td_arena_init(&x->arena, 1024);
    we = td_arena_calloc(&x->arena, sizeof(*we));
    temporal__api__common__v1__workflow_execution__init(we);
    we->workflow_id = task->workflow_id;
    we->run_id = task->run_id;
    tq = td_arena_calloc(&x->arena, sizeof(*tq));
    temporal__api__taskqueue__v1__task_queue__init(tq);
    tq->name = (char *)(task->t.task_queue ? task->t.task_queue : "");
    tq->kind = task->t.task_queue_kind
                       ? task->t.task_queue_kind
                       : TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL;
    if (tq->kind == TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_STICKY) {
        /* matching falls back to the normal queue when the sticky worker is gone */
        tq->normal_name = task->normal_tq;
    }
    if (task->t.type == TD_MS_TASK_WORKFLOW_TASK) {
        Temporald__Matchingservice__AddWorkflowTaskRequest *r =
                td_arena_calloc(&x->arena, sizeof(*r));
        temporald__matchingservice__add_workflow_task_request__init(r);
        r->namespace_id = task->namespace_id;
        r->execution = we;
        r->task_queue = tq;
        r->scheduled_event_id = task->t.event_id;
        if (task->t.schedule_to_start > 0) {
            r->schedule_to_start_timeout = td_hist_dur(&x->arena, task->t.schedule_to_start);
        }
        req = &r->base;
        path = TD_SVC_MATCHING "AddWorkflowTask";
    } else {
        Temporald__Matchingservice__AddActivityTaskRequest *r =
                td_arena_calloc(&x->arena, sizeof(*r));
        temporald__matchingservice__add_activity_task_request__init(r);
        r->namespace_id = task->namespace_id;
        r->execution = we;
        r->task_queue = tq;
        r->scheduled_event_id = task->t.event_id;
        r->attempt = task->t.attempt;
        if (task->t.schedule_to_start > 0) {
            r->schedule_to_start_timeout = td_hist_dur(&x->arena, task->t.schedule_to_start);
        }
        req = &r->base;
        path = TD_SVC_MATCHING "AddActivityTask";
    }
    task->state = TD_HIST_TASK_RUNNING;
    h->inflight++;
    td_svc_call(h->srv, path, req, td_now_mono_ms() + 10000, td_hist_xfer_done, x);
}

/* ---- timers ---- */

static int td_hist_timer_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_task_t *task = op->u;
    return td_ms_timer_task_apply(ms, t, &task->t);
}

static int td_hist_timer_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_task_t *task = op->u;

    if (rc == TD_EUNAVAIL || rc == TD_EIO || rc == TD_EFULL || rc == TD_ECONDITION ||
        rc == TD_EBUSY) {
        if (td_hist__task_retry_logged(task)) {
            td_log_warn("timer task of %s/%s failed (will retry): %s", task->workflow_id,
                        task->run_id, msg ? msg : td_strerror(rc));
        }
        td_hist__task_retry(task);
    } else {
        /* Applied, stale (TD_ENOTFOUND) or refused: either way it is done. */
        td_hist__task_ack(task);
    }
    td_hist__op_free_internal(op);
    return 0;
}

static void td_hist_timer_run(td_hist_task_t *task)
{
    td_hist_op_t *op;

    task->state = TD_HIST_TASK_RUNNING;
    if (task->t.type == TD_MS_TASK_DELETE_HISTORY) {
        td_hist__retention_fire(task); /* hist_retention.c */
        return;
    }
    op = td_hist__op_new_internal(task->shard->h, task->namespace_id, task->workflow_id,
                                  task->run_id);
    op->load = TD_HIST_LOAD_REQUIRED;
    op->apply = td_hist_timer_apply;
    op->dirty = 1;
    op->done = td_hist_timer_done;
    op->u = task;
    td_hist__op_submit(op);
}

static void td_hist_timer_fire(void *arg)
{
    td_hist_shard_t *s = arg;
    int64_t now = td_now_wall_ns(), next = 0;
    td_hist_task_t *t;

    if (!s->h->running || (s->state != TD_HIST_SHARD_OWNED && s->state != TD_HIST_SHARD_RENEWING)) {
        return;
    }
    while ((t = td_hist__heap_pop_due(s, now, &next)) != NULL) {
        td_hist_timer_run(t);
    }
    td_hist__timer_arm(s);
}

void td_hist__timer_arm(td_hist_shard_t *s)
{
    int64_t next;
    int64_t delay_ms;

    if (s->fire_timer == NULL) {
        s->fire_timer = td_timer_new(s->h->loop, td_hist_timer_fire, s);
    }
    if (s->n_heap == 0) {
        td_timer_stop(s->fire_timer);
        return;
    }
    next = s->heap[0]->fire_ns;
    delay_ms = (next - td_now_wall_ns() + 999999) / 1000000;
    if (delay_ms < 0) {
        delay_ms = 0;
    }
    td_timer_start(s->fire_timer, delay_ms);
}

/* ---- visibility ---- */

static void td_hist_vis_fill(td_hist_t *h, td_store_visibility_t *v, const td_ms_t *ms,
                             td_arena_t *a)
{
    v->namespace_id = td_arena_strdup(a, ms->namespace_id);
    v->workflow_id = td_arena_strdup(a, ms->workflow_id);
    v->run_id = td_arena_strdup(a, ms->run_id);
    v->workflow_type = td_arena_strdup(a, ms->workflow_type ? ms->workflow_type : "");
    v->task_queue = td_arena_strdup(a, ms->task_queue ? ms->task_queue : "");
    v->start_time_ns = ms->start_time;
    v->execution_time_ns = ms->start_time + ms->first_workflow_task_backoff;
    v->close_time_ns = ms->state == TD_MS_STATE_COMPLETED ? ms->close_time : 0;
    v->status = ms->status;
    v->history_length = ms->next_event_id - 1;
    v->history_size_bytes = ms->history_size_bytes;
    v->first_run_id = td_arena_strdup(a, ms->first_execution_run_id && ms->first_execution_run_id[0]
                                                 ? ms->first_execution_run_id
                                                 : ms->run_id);
    v->state_transition_count = ms->db_record_version;
    if (ms->parent_workflow_id != NULL && ms->parent_workflow_id[0] != '\0') {
        v->parent_workflow_id = td_arena_strdup(a, ms->parent_workflow_id);
        v->parent_run_id = td_arena_strdup(a, ms->parent_run_id ? ms->parent_run_id : "");
    }
    /* the root of the tree; a top-level run is its own root (as DescribeWorkflowExecution) */
    if (ms->root_workflow_id != NULL && ms->root_workflow_id[0] != '\0') {
        v->root_workflow_id = td_arena_strdup(a, ms->root_workflow_id);
        v->root_run_id = td_arena_strdup(a, ms->root_run_id ? ms->root_run_id : "");
    } else {
        v->root_workflow_id = v->workflow_id;
        v->root_run_id = v->run_id;
    }
    if (ms->memo.len > 0) {
        v->memo.data = td_arena_memdup(a, ms->memo.data, ms->memo.len);
        v->memo.len = ms->memo.len;
        v->memo.encoding = TD_STORE_ENC_PROTO3;
    }
    if (ms->search_attributes.len > 0) {
        v->search_attributes.data =
                td_arena_memdup(a, ms->search_attributes.data, ms->search_attributes.len);
        v->search_attributes.len = ms->search_attributes.len;
        v->search_attributes.encoding = TD_STORE_ENC_PROTO3;
    }
    /* typed copies for filtering */
    td_hist__vis_sas(h, ms->namespace_id, v->search_attributes.data, v->search_attributes.len, a,
                     &v->sas, &v->n_sas);
}

static void td_hist_vis_written(td_store_req_t *req, void *arg)
{
    td_hist_task_t *task = arg;
    td_hist_t *h = task->shard->h;

    h->inflight--;
    if (req->rc == TD_ENOTFOUND && req->op == TD_STORE_OP_VIS_CLOSE) {
        /* No open record (its start task not written yet): the retry upserts the closed
         * form (td_hist_vis_apply looks at retries). */
        td_store_req_free(req);
        td_hist__task_retry(task);
        return;
    }
    if (req->rc != TD_OK && h->running) {
        if (td_hist__task_retry_logged(task)) {
            td_log_warn("visibility write for %s/%s failed (will retry): %s", task->workflow_id,
                        task->run_id, req->err);
        }
        td_store_req_free(req);
        td_hist__task_retry(task);
        return;
    }
    td_store_req_free(req);
    if (h->running) {
        td_hist__task_ack(task);
    }
}

static int td_hist_vis_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_task_t *task = op->u;
    td_store_req_t *req;
    int close;

    (void)t;
    if (ms == NULL) {
        return TD_ENOTFOUND;
    }
    /* The record always reflects the run's current state, so re-driven or reordered
     * visibility tasks converge. A closed run whose open record was never written gets an
     * upsert (VIS_CLOSE needs an existing record) on the retry of its close task. */
    close = ms->state == TD_MS_STATE_COMPLETED && task->retries == 0;
    req = td_store_req_new(close ? TD_STORE_OP_VIS_CLOSE : TD_STORE_OP_VIS_UPSERT);
    td_hist_vis_fill(task->shard->h, &req->in.vis, ms, &req->arena);
    op->u2 = req; /* submitted by td_hist_vis_done */
    return TD_OK;
}

static int td_hist_vis_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_task_t *task = op->u;
    td_hist_t *h = task->shard->h;
    td_store_req_t *req = op->u2;

    if (rc == TD_OK && req != NULL) {
        req->cb = td_hist_vis_written;
        req->arg = task;
        h->inflight++;
        td_store_submit(h->store, req);
    } else {
        td_store_req_free(req);
        if (rc == TD_ENOTFOUND) {
            td_hist__task_ack(task); /* the run is gone */
        } else {
            if (td_hist__task_retry_logged(task)) {
                td_log_warn("visibility task of %s/%s: %s", task->workflow_id, task->run_id,
                            msg ? msg : td_strerror(rc));
            }
            td_hist__task_retry(task);
        }
    }
    td_hist__op_free_internal(op);
    return 0;
}

static void td_hist_visibility(td_hist_task_t *task)
{
    td_hist_op_t *op = td_hist__op_new_internal(task->shard->h, task->namespace_id,
                                                task->workflow_id, task->run_id);
    task->state = TD_HIST_TASK_RUNNING;
    op->load = TD_HIST_LOAD_OPTIONAL;
    op->apply = td_hist_vis_apply;
    op->done = td_hist_vis_done;
    op->u = task;
    td_hist__op_submit(op);
}

void td_hist__task_dispatch(td_hist_task_t *task)
{
    td_hist_shard_t *s = task->shard;

    if (!s->h->running || s->state == TD_HIST_SHARD_LOST || s->state == TD_HIST_SHARD_RELEASED) {
        return; /* left READY: dispatched when the shard is acquired again */
    }
    if (s->state == TD_HIST_SHARD_NEW || s->state == TD_HIST_SHARD_ACQUIRING) {
        return; /* td_hist_shard_ready dispatches everything pending */
    }
    switch (task->category) {
    case TD_STORE_TASK_TRANSFER:
        td_hist_transfer(task);
        break;
    case TD_STORE_TASK_TIMER:
        if (!task->on_heap) {
            td_hist__heap_push(s, task);
            td_hist__timer_arm(s);
        }
        break;
    case TD_STORE_TASK_VISIBILITY:
        td_hist_visibility(task);
        break;
    default:
        td_hist__task_ack(task);
        break;
    }
}
