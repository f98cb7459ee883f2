/* SPDX-License-Identifier: Apache-2.0 */
/*
 * td_match_store_ops (see match_store.h): each backlog operation is one store request (two
 * for complete: persist the ack level, then delete below it), built in the request's arena
 * and answered from its callback on the loop. Pure translation; no state of its own.
 */
#define TD_LOG_COMPONENT "matching"

#include "roles/matching/match_store.h"

#include <string.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "store/store.h"

#include "matching_backlog.pb-c.h"

typedef Temporald__Matching__BacklogTask td_pb_backlog_task_t;

/* One backlog call in flight. */
typedef struct {
    td_store_t *store;
    union {
        td_match_lease_cb lease;
        td_match_done_cb done;
        td_match_read_cb read;
    } cb;
    void *arg;
    int64_t ack_level; /* complete: the engine's level */
} td_ms_call_t;

static td_ms_call_t *td_ms_call_new(void *ctx, void *arg)
{
    td_ms_call_t *c = td_calloc(1, sizeof(*c));
    c->store = ctx;
    c->arg = arg;
    return c;
}

/* Fills a task queue key in the request's arena. */
static void td_ms_key(td_store_req_t *req, const td_match_key_t *key, const char **ns,
                      const char **name, int32_t *type)
{
    *ns = td_arena_strdup(&req->arena, key->namespace_id);
    *name = td_arena_strdup(&req->arena, key->name);
    *type = key->type == TD_MATCH_ACTIVITY ? TD_STORE_TQ_TYPE_ACTIVITY : TD_STORE_TQ_TYPE_WORKFLOW;
}

/* Logs a failed backlog operation: the 1st, 2nd, 4th, 8th ... of a run of failures, so a
 * store that stays down (full disk) does not flood the log. Loop thread. */
static void td_ms_log(td_store_req_t *req)
{
    static _Thread_local int failures;

    if (req->rc == TD_OK) {
        failures = 0;
    } else if (req->rc != TD_ECONDITION) {
        int n = failures++;
        if ((n & (n - 1)) == 0) {
            td_log_warn("backlog %s: %s", td_store_op_name(req->op), req->err ? req->err : "");
        }
    }
}

/* ---- lease ---- */

static void td_ms_on_acquired(td_store_req_t *req, void *arg)
{
    td_ms_call_t *c = arg;
    int64_t range = 0, ack = 0;

    td_ms_log(req);
    if (req->rc == TD_OK) {
        range = req->out.tq.rec.range_id;
        /* the store keeps the lowest id not done; the engine the highest id done */
        ack = req->out.tq.rec.ack_level > 0 ? req->out.tq.rec.ack_level - 1 : 0;
    }
    c->cb.lease(c->arg, req->rc, range, ack);
    td_store_req_free(req);
    td_free(c);
}

static void td_ms_lease(void *ctx, const td_match_key_t *key, td_match_lease_cb cb, void *arg)
{
    td_ms_call_t *c = td_ms_call_new(ctx, arg);
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_TQ_ACQUIRE);
    td_store_task_queue_t *rec = &req->in.tq.rec;

    c->cb.lease = cb;
    td_ms_key(req, key, &rec->namespace_id, &rec->name, &rec->type);
    rec->kind = key->kind == TD_MATCH_STICKY ? TD_STORE_TQ_KIND_STICKY : TD_STORE_TQ_KIND_NORMAL;
    req->cb = td_ms_on_acquired;
    req->arg = c;
    td_store_submit(c->store, req);
}

/* ---- insert ---- */

static void td_ms_on_done(td_store_req_t *req, void *arg)
{
    td_ms_call_t *c = arg;
    td_ms_log(req);
    c->cb.done(c->arg, req->rc);
    td_store_req_free(req);
    td_free(c);
}

static void td_ms_insert(void *ctx, const td_match_key_t *key, int64_t range_id,
                         const td_match_task_t *tasks, int n, td_match_done_cb cb, void *arg)
{
    td_ms_call_t *c = td_ms_call_new(ctx, arg);
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_BACKLOG_INSERT);
    td_store_backlog_ins_in_t *in = &req->in.backlog_ins;
    td_store_backlog_task_t *out = td_arena_calloc(&req->arena, (size_t)n * sizeof(*out) + 1);

    c->cb.done = cb;
    td_ms_key(req, key, &in->namespace_id, &in->name, &in->type);
    in->range_id = range_id;
    for (int i = 0; i < n; i++) {
        td_pb_backlog_task_t m = TEMPORALD__MATCHING__BACKLOG_TASK__INIT;
        size_t len;
        uint8_t *buf;

        m.workflow_id = (char *)(tasks[i].workflow_id ? tasks[i].workflow_id : "");
        m.run_id = (char *)(tasks[i].run_id ? tasks[i].run_id : "");
        m.scheduled_event_id = tasks[i].scheduled_event_id;
        m.create_time_ns = tasks[i].create_time_ns;
        m.expiry_time_ns = tasks[i].expiry_time_ns;
        m.data.data = (uint8_t *)tasks[i].data;
        m.data.len = tasks[i].data_len;
        len = temporald__matching__backlog_task__get_packed_size(&m);
        buf = td_arena_alloc(&req->arena, len + 1);
        temporald__matching__backlog_task__pack(&m, buf);
        out[i].task_id = tasks[i].task_id;
        out[i].expiry_ns = tasks[i].expiry_time_ns;
        out[i].blob.data = buf;
        out[i].blob.len = len;
        out[i].blob.encoding = TD_STORE_ENC_PROTO3;
    }
    in->tasks = out;
    in->n_tasks = n;
    req->cb = td_ms_on_done;
    req->arg = c;
    td_store_submit(c->store, req);
}

/* ---- read ---- */

static void td_ms_on_read(td_store_req_t *req, void *arg)
{
    td_ms_call_t *c = arg;
    const td_store_backlog_read_out_t *o = &req->out.backlog_read;
    td_match_task_t *views = NULL;
    int n = 0, rc = req->rc;

    td_ms_log(req);
    if (rc == TD_OK && o->n_tasks > 0) {
        views = td_arena_calloc(&req->arena, (size_t)o->n_tasks * sizeof(*views));
        for (int i = 0; i < o->n_tasks; i++) {
            const td_store_backlog_task_t *bt = &o->tasks[i];
            td_pb_backlog_task_t *m = temporald__matching__backlog_task__unpack(
                    td_arena_pb(&req->arena), bt->blob.len, bt->blob.data);
            td_match_task_t *v = &views[n];
            if (m == NULL) {
                /* a record we cannot read: skip it rather than wedge the queue */
                td_log_error("backlog task %lld: undecodable blob of %zu bytes, skipped",
                             (long long)bt->task_id, bt->blob.len);
                continue;
            }
            v->task_id = bt->task_id;
            v->workflow_id = m->workflow_id;
            v->run_id = m->run_id;
            v->scheduled_event_id = m->scheduled_event_id;
            v->create_time_ns = m->create_time_ns;
            v->expiry_time_ns = m->expiry_time_ns ? m->expiry_time_ns : bt->expiry_ns;
            v->data = m->data.data;
            v->data_len = m->data.len;
            n++;
        }
    }
    c->cb.read(c->arg, rc, views, n);
    td_store_req_free(req);
    td_free(c);
}

static void td_ms_read(void *ctx, const td_match_key_t *key, int64_t min_id, int64_t max_id,
                       int limit, td_match_read_cb cb, void *arg)
{
    td_ms_call_t *c = td_ms_call_new(ctx, arg);
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_BACKLOG_READ);
    td_store_backlog_read_in_t *in = &req->in.backlog_read;

    c->cb.read = cb;
    td_ms_key(req, key, &in->namespace_id, &in->name, &in->type);
    in->min_task_id = min_id + 1; /* store: inclusive */
    in->max_task_id = max_id + 1; /* store: exclusive */
    in->limit = limit;
    req->cb = td_ms_on_read;
    req->arg = c;
    td_store_submit(c->store, req);
}

/* ---- complete: persist the ack level, then delete below it ---- */

static void td_ms_on_deleted(td_store_req_t *req, void *arg)
{
    td_ms_on_done(req, arg);
}

static void td_ms_on_acked(td_store_req_t *req, void *arg)
{
    td_ms_call_t *c = arg;
    td_store_backlog_del_in_t *in;
    td_store_req_t *del;

    td_ms_log(req);
    if (req->rc != TD_OK) {
        td_ms_on_done(req, arg);
        return;
    }
    del = td_store_req_new(TD_STORE_OP_BACKLOG_DELETE);
    in = &del->in.backlog_del;
    in->namespace_id = td_arena_strdup(&del->arena, req->in.tq.rec.namespace_id);
    in->name = td_arena_strdup(&del->arena, req->in.tq.rec.name);
    in->type = req->in.tq.rec.type;
    in->ack_level = c->ack_level + 1;
    td_store_req_free(req);
    del->cb = td_ms_on_deleted;
    del->arg = c;
    td_store_submit(c->store, del);
}

static void td_ms_complete(void *ctx, const td_match_key_t *key, int64_t range_id,
                           int64_t ack_level, td_match_done_cb cb, void *arg)
{
    td_ms_call_t *c = td_ms_call_new(ctx, arg);
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_TQ_UPDATE);
    td_store_task_queue_t *rec = &req->in.tq.rec;

    c->cb.done = cb;
    c->ack_level = ack_level;
    td_ms_key(req, key, &rec->namespace_id, &rec->name, &rec->type);
    rec->kind = key->kind == TD_MATCH_STICKY ? TD_STORE_TQ_KIND_STICKY : TD_STORE_TQ_KIND_NORMAL;
    rec->range_id = range_id;
    rec->ack_level = ack_level + 1;
    req->cb = td_ms_on_acked;
    req->arg = c;
    td_store_submit(c->store, req);
}

const td_match_backlog_ops_t td_match_store_ops = {
    .lease = td_ms_lease,
    .insert = td_ms_insert,
    .read = td_ms_read,
    .complete = td_ms_complete,
};
