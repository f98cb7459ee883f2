/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-workflow context cache and the transition pipeline. A context holds the mutable
 * state last loaded (or created) for one (namespace_id, workflow_id) and a FIFO of
 * operations; exactly one runs at a time: load the run if needed (TD_STORE_OP_EXEC_GET),
 * apply the td_ms_* transition, write the new row + the events as one history batch + the
 * tasks in ONE TD_STORE_OP_WRITE (conditional on db_record_version, fenced by the shard's
 * range_id), then call the operation's done (the reply goes out only after the commit).
 * Any write error drops the cached state so the next operation reloads it. It does not know
 * what the operations mean (hist_api.c) nor what tasks do (hist_queue.c). Loop thread only.
 */
#define TD_LOG_COMPONENT "history"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "roles/nsreg.h"
#include "server.h"
#include "roles/history/hist_int.h"
#include "uuid.h"

#define TD_HIST_NBUCKETS 4096

static size_t td_hist_bucket(const td_hist_t *h, const char *ns, const char *wf)
{
    return td_hist__hash(ns, wf) % h->nbuckets;
}

static void td_hist_ctx_free(td_hist_ctx_t *c)
{
    td_hist__evc_drop(c);
    td_hist__query_free_all(c);
    td_hist__update_free_all(c);
    td_ms_free(c->ms);
    td_free(c->namespace_id);
    td_free(c->workflow_id);
    td_free(c);
}

/* Frees contexts with nothing queued, running or waiting. */
static void td_hist_ctx_evict(td_hist_t *h)
{
    for (size_t b = 0; b < h->nbuckets; b++) {
        td_hist_ctx_t **pp = &h->buckets[b];
        while (*pp != NULL) {
            td_hist_ctx_t *c = *pp;
            if (c->head == NULL && !c->running && c->waiters == NULL && c->queries == NULL &&
                c->updates == NULL && !c->kick_posted) {
                *pp = c->hnext;
                td_hist_ctx_free(c);
                h->nctx--;
            } else {
                pp = &c->hnext;
            }
        }
    }
}

td_hist_ctx_t *td_hist__ctx_get(td_hist_t *h, const char *ns, const char *wf)
{
    size_t b;
    td_hist_ctx_t *c;

    if (h->buckets == NULL) {
        h->nbuckets = TD_HIST_NBUCKETS;
        h->buckets = td_calloc(h->nbuckets, sizeof(*h->buckets));
    }
    b = td_hist_bucket(h, ns, wf);
    for (c = h->buckets[b]; c != NULL; c = c->hnext) {
        if (strcmp(c->workflow_id, wf) == 0 && strcmp(c->namespace_id, ns) == 0) {
            c->last_used_ms = td_now_mono_ms();
            return c;
        }
    }
    if (h->nctx >= (size_t)h->cache_max) {
        td_hist_ctx_evict(h);
    }
    c = td_calloc(1, sizeof(*c));
    c->namespace_id = td_strdup(ns);
    c->workflow_id = td_strdup(wf);
    c->shard = td_hist__shard_for(h, ns, wf);
    c->gen = c->shard->gen;
    c->last_used_ms = td_now_mono_ms();
    c->hnext = h->buckets[b];
    h->buckets[b] = c;
    h->nctx++;
    return c;
}

void td_hist__ctx_drop_states(td_hist_t *h)
{
    for (size_t b = 0; b < h->nbuckets; b++) {
        for (td_hist_ctx_t *c = h->buckets[b]; c != NULL; c = c->hnext) {
            if (!c->running) {
                td_ms_free(c->ms);
                c->ms = NULL;
                td_hist__evc_drop(c);
            }
        }
    }
}

void td_hist__ctx_free_all(td_hist_t *h)
{
    for (size_t b = 0; b < h->nbuckets; b++) {
        while (h->buckets[b] != NULL) {
            td_hist_ctx_t *c = h->buckets[b];
            h->buckets[b] = c->hnext;
            while (c->waiters != NULL) {
                td_hist_waiter_t *w = c->waiters;
                c->waiters = w->next;
                td_timer_free(w->timer);
                td_free(w);
            }
            td_hist_ctx_free(c);
        }
    }
    td_free(h->buckets);
    h->buckets = NULL;
    h->nctx = 0;
    td_hist__evc_free_all(h);
}

void td_hist__fail(td_rpc_call_t *call, int rc, const char *msg)
{
    if (call != NULL) {
        td_rpc_fail_err(call, rc, msg);
    }
}

td_hist_op_t *td_hist__op_new_internal(td_hist_t *h, const char *ns, const char *wf,
                                       const char *run)
{
    td_hist_op_t *op = td_calloc(1, sizeof(*op));

    op->arena = td_malloc(sizeof(*op->arena));
    td_arena_init(op->arena, 4096);
    op->ctx = td_hist__ctx_get(h, ns, wf);
    op->run_id = td_arena_strdup(op->arena, run ? run : "");
    return op;
}

void td_hist__op_free_internal(td_hist_op_t *op)
{
    td_arena_destroy(op->arena);
    td_free(op->arena);
    td_free(op);
}

/* ---- the pipeline ---- */

static void td_hist_op_run(td_hist_op_t *op);

static void td_hist_ctx_kick(void *arg)
{
    td_hist_ctx_t *c = arg;
    c->kick_posted = 0;
    if (!c->running && c->head != NULL) {
        c->running = 1;
        td_hist_op_run(c->head);
    }
}

void td_hist__op_submit(td_hist_op_t *op)
{
    td_hist_ctx_t *c = op->ctx;

    op->next = NULL;
    if (c->tail != NULL) {
        c->tail->next = op;
    } else {
        c->head = op;
    }
    c->tail = op;
    td_hist_ctx_kick(c);
}

/* The head operation is over: tell it, then start the next one (posted, so long chains of
 * cached operations do not recurse). */
static void td_hist_op_finish(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_ctx_t *c = op->ctx;
    td_hist_t *h = c->shard->h;

    c->head = op->next;
    if (c->head == NULL) {
        c->tail = NULL;
    }
    if (op->private_ms != NULL) {
        /* done never needs the state: applies copy what replies need */
        if (op->ms == op->private_ms) {
            op->ms = NULL;
        }
        td_ms_free(op->private_ms);
        op->private_ms = NULL;
    }
    if (op->done(op, rc, msg)) {
        op->runs++;
        op->next = c->head;
        c->head = op;
        if (c->tail == NULL) {
            c->tail = op;
        }
    }
    if (c->queries != NULL) {
        /* Buffered queries of a run that closed: legacy tasks (queued, as c is running). */
        td_hist__query_sweep(c);
    }
    if (c->updates != NULL) {
        td_hist__update_sweep(c); /* callers of updates of a run that closed */
    }
    c->running = 0;
    if (c->head != NULL && !c->kick_posted) {
        c->kick_posted = 1; /* keeps the context from eviction until the kick ran */
        td_loop_post(h->loop, td_hist_ctx_kick, c);
    }
}

static int td_hist_row_state(const td_ms_t *ms)
{
    return ms->state == TD_MS_STATE_COMPLETED ? TD_STORE_EXEC_STATE_COMPLETED
                                              : TD_STORE_EXEC_STATE_RUNNING;
}

/* Drops the states a failed (or unwritable) transition touched: the next operation reloads. */
static void td_hist_drop_states(td_hist_op_t *op)
{
    td_hist_ctx_t *c = op->ctx;

    if (op->created != NULL) {
        td_ms_free(op->created);
        op->created = NULL;
    }
    if (c->ms == op->ms) {
        c->ms = NULL;
    }
    if (op->private_ms == op->ms) {
        op->private_ms = NULL;
    }
    td_ms_free(op->ms);
    op->ms = NULL;
    td_hist__evc_drop(c); /* the write's outcome is unknown: so are the run's events */
}

/* workflow_success / _failed / ... (metrics.h): the close events this committed transition
 * wrote, counted once each, by the run's namespace name. */
static void td_hist_count_closes(td_hist_ctx_t *c, const td_ms_txn_t *t)
{
    td_hist_t *h = c->shard->h;
    for (size_t i = 0; i < t->n_events; i++) {
        int status;
        switch (t->events[i]->event_type) {
        case TEMPORAL__API__ENUMS__V1__EVENT_TYPE__EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            status = 2;
            break;
        case TEMPORAL__API__ENUMS__V1__EVENT_TYPE__EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            status = 3;
            break;
        case TEMPORAL__API__ENUMS__V1__EVENT_TYPE__EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
            status = 4;
            break;
        case TEMPORAL__API__ENUMS__V1__EVENT_TYPE__EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
            status = 5;
            break;
        case TEMPORAL__API__ENUMS__V1__EVENT_TYPE__EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            status = 6;
            break;
        case TEMPORAL__API__ENUMS__V1__EVENT_TYPE__EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
            status = 7;
            break;
        default:
            continue;
        }
        {
            const td_ns_t *ns = h->srv != NULL && h->srv->nsreg != NULL
                                        ? td_nsreg_by_id(h->srv->nsreg, c->namespace_id)
                                        : NULL;
            td_metrics_workflow_closed(ns != NULL ? ns->name : c->namespace_id, status);
        }
    }
}

static void td_hist_write_done(td_store_req_t *req, void *arg)
{
    td_hist_op_t *op = arg;
    td_hist_ctx_t *c = op->ctx;
    td_hist_t *h = c->shard->h;
    int rc = req->rc, again = 0;
    const char *msg = NULL;

    h->inflight--;
    td_hist__shard_write_done(c->shard);
    if (rc == TD_OK) {
        if (op->created != NULL) {
            if (c->ms != op->created) {
                td_ms_free(c->ms);
            }
            c->ms = op->created;
            c->ms_current = 1;
            op->created = NULL;
        }
        /* Cache the events before anything (a task dispatched below) may read them. */
        td_hist__evc_committed(c, req->in.write.batches, req->in.write.n_batches);
        td_hist__tasks_committed(op->tasks, op->n_tasks);
        td_hist_count_closes(c, &op->txn);
        td_store_req_free(req);
        if (op->txn.n_events > 0) {
            td_hist__ctx_notify(c);
        }
        td_hist_op_finish(op, op->rc_apply, op->txn.msg);
        return;
    }

    /* Nothing was written: forget the transition (tasks, state) and reload next time. */
    td_hist__tasks_abort(op->tasks, op->n_tasks);
    op->n_tasks = 0;
    td_hist_drop_states(op);
    op->wout = req->out.write;
    op->wout.current.run_id = td_arena_strdup(
            op->arena, req->out.write.current.run_id ? req->out.write.current.run_id : "");
    op->wout.current.create_request_id =
            td_arena_strdup(op->arena, req->out.write.current.create_request_id
                                               ? req->out.write.current.create_request_id
                                               : "");
    msg = td_arena_strdup(op->arena, req->err ? req->err : "");
    switch (rc) {
    case TD_ESHARDLOST:
        td_hist__shard_lost(c->shard, req->out.write.cur_range_id);
        rc = TD_EUNAVAIL;
        msg = "shard ownership lost";
        break;
    case TD_ECONDITION:
        /* Someone else changed the run (or the current pointer): reload and retry once. */
        if (op->runs < 1) {
            again = 1;
        } else {
            rc = TD_EUNAVAIL;
        }
        break;
    case TD_EEXIST:
        break; /* creations decide (hist_api.c) */
    default:
        if (td_err_grpc_status(rc) != TD_GRPC_UNAVAILABLE) {
            rc = TD_EUNAVAIL;
        }
        break;
    }
    td_log_debug("write for %s/%s failed: %s (%s)", c->workflow_id, op->run_id,
                 td_err_name(req->rc), msg);
    td_store_req_free(req);
    if (again) {
        c->head = op; /* still the head: run it again */
        op->runs++;
        td_hist_op_run(op);
        return;
    }
    td_hist_op_finish(op, rc, msg);
}

/* One run's share of a write: its row, its batch, its tasks. */
typedef struct {
    td_ms_t *ms;
    td_ms_txn_t *t;
    int mode;
    const char *prev_run_id;
} td_hist_part_t;

static int td_hist_write_part(td_hist_op_t *op, td_store_req_t *req, const td_hist_part_t *pt,
                              td_store_exec_write_t *ew, td_store_history_batch_t *batches,
                              int *n_batches, td_store_task_t *st, int *n_st)
{
    td_hist_shard_t *s = op->ctx->shard;
    td_ms_t *ms = pt->ms;
    td_ms_txn_t *t = pt->t;
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    int64_t old_version = pt->mode == TD_STORE_EXEC_UPDATE ? ms->db_record_version : 0;

    ms->db_record_version = old_version + 1;
    if (td_ms_encode(ms, &req->arena, &blob, &blob_len) != TD_OK) {
        return TD_EINTERNAL;
    }
    for (size_t i = 0; i < t->n_tasks; i++) {
        int64_t id = 0;
        td_hist_task_t *task;
        td_store_task_t *x = &st[*n_st];

        if (td_hist__task_id(s, &id) != TD_OK) {
            return TD_EUNAVAIL;
        }
        task = td_hist__task_alloc(s, &t->tasks[i], id, ms->namespace_id, ms->workflow_id,
                                   ms->run_id, ms->task_queue);
        op->tasks[op->n_tasks++] = task;
        x->category = task->category;
        x->task_id = id;
        x->fire_time_ns = task->fire_ns;
        td_hist__task_blob(task, &req->arena, &x->blob);
        (*n_st)++;
    }
    if (t->n_events > 0) {
        Temporal__Api__History__V1__History hist = TEMPORAL__API__HISTORY__V1__HISTORY__INIT;
        td_store_history_batch_t *b = &batches[(*n_batches)++];
        uint8_t *buf;
        size_t n;

        hist.n_events = t->n_events;
        hist.events = t->events;
        n = temporal__api__history__v1__history__get_packed_size(&hist);
        buf = td_arena_alloc(&req->arena, n ? n : 1);
        temporal__api__history__v1__history__pack(&hist, buf);
        b->tree_id = b->branch_id = td_arena_strdup(&req->arena, ms->run_id);
        b->first_event_id = t->events[0]->event_id;
        b->event_count = (int32_t)t->n_events;
        b->events.data = buf;
        b->events.len = n;
        b->events.encoding = TD_STORE_ENC_PROTO3;
    }
    ew->mode = pt->mode;
    ew->expected_prev_run_id = pt->prev_run_id;
    ew->expected_db_record_version = old_version;
    ew->row.namespace_id = td_arena_strdup(&req->arena, ms->namespace_id);
    ew->row.workflow_id = td_arena_strdup(&req->arena, ms->workflow_id);
    ew->row.run_id = td_arena_strdup(&req->arena, ms->run_id);
    ew->row.state = td_hist_row_state(ms);
    ew->row.status = ms->status;
    ew->row.next_event_id = ms->next_event_id;
    ew->row.db_record_version = ms->db_record_version;
    ew->row.last_write_ns = td_now_wall_ns();
    ew->row.state_blob.data = blob;
    ew->row.state_blob.len = blob_len;
    ew->row.state_blob.encoding = TD_STORE_ENC_PROTO3;
    return TD_OK;
}

/*
 * Builds the one TD_STORE_OP_WRITE of a transition: an update of the loaded run, a creation,
 * or both (terminate the running run and create its replacement: execs [old, new], the
 * current pointer moving to the new run), fenced by the shard's range_id.
 */
static void td_hist_write(td_hist_op_t *op)
{
    td_hist_ctx_t *c = op->ctx;
    td_hist_shard_t *s = c->shard;
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_WRITE);
    td_store_write_in_t *w = &req->in.write;
    td_hist_part_t parts[2];
    int np = 0, nb = 0, nst = 0, rc = TD_OK;
    size_t ntasks = 0;
    td_store_exec_write_t *ew;
    td_store_history_batch_t *batches;
    td_store_task_t *st;
    const td_ms_t *cur;

    if (op->created == NULL || op->terminate_prev) {
        parts[np++] = (td_hist_part_t){ op->ms, &op->txn, TD_STORE_EXEC_UPDATE, NULL };
    }
    if (op->created != NULL) {
        parts[np++] = (td_hist_part_t){ op->created, op->terminate_prev ? &op->txn2 : &op->txn,
                                        op->create_mode, op->prev_run_id };
    }
    for (int i = 0; i < np; i++) {
        ntasks += parts[i].t->n_tasks;
    }
    ew = td_arena_calloc(&req->arena, sizeof(*ew) * (size_t)np);
    batches = td_arena_calloc(&req->arena, sizeof(*batches) * (size_t)np);
    st = ntasks > 0 ? td_arena_calloc(&req->arena, sizeof(*st) * ntasks) : NULL;
    op->tasks = ntasks > 0 ? td_arena_calloc(op->arena, sizeof(*op->tasks) * ntasks) : NULL;
    op->n_tasks = 0;
    for (int i = 0; i < np && rc == TD_OK; i++) {
        rc = td_hist_write_part(op, req, &parts[i], &ew[i], batches, &nb, st, &nst);
    }
    if (rc != TD_OK) {
        td_hist__tasks_abort(op->tasks, op->n_tasks);
        op->n_tasks = 0;
        td_store_req_free(req);
        td_hist_drop_states(op);
        td_hist_op_finish(op, rc,
                          rc == TD_EUNAVAIL ? "the shard's task id range is exhausted"
                                            : "encoding the mutable state failed");
        return;
    }

    cur = parts[np - 1].ms; /* the run the current pointer names after the write */
    w->shard_id = s->id;
    w->expected_range_id = s->range_id;
    w->execs = ew;
    w->n_execs = np;
    w->current_exec = np - 1;
    w->current.run_id = ew[np - 1].row.run_id;
    w->current.create_request_id =
            td_arena_strdup(&req->arena, cur->start_request_id ? cur->start_request_id : "");
    w->current.state = ew[np - 1].row.state;
    w->current.status = ew[np - 1].row.status;
    w->batches = nb > 0 ? batches : NULL;
    w->n_batches = nb;
    w->tasks = st;
    w->n_tasks = nst;

    req->cb = td_hist_write_done;
    req->arg = op;
    s->h->inflight++;
    s->writes_inflight++;
    td_store_submit(s->h->store, req);
}

static void td_hist_op_apply(td_hist_op_t *op, td_ms_t *ms)
{
    td_hist_shard_t *s = op->ctx->shard;
    int64_t tid = 0;

    td_ms_txn_init(&op->txn, op->arena, td_now_wall_ns());
    if (op->read_only) {
        /* no task ids (the shard may not be owned); whatever apply did is not written */
        op->ms = ms;
        op->created = NULL;
        op->rc_apply = op->apply(op, ms, &op->txn);
        td_hist_op_finish(op, op->rc_apply, op->txn.msg);
        return;
    }
    if (td_hist__task_id(s, &tid) != TD_OK) {
        td_hist_op_finish(op, TD_EUNAVAIL, "the shard's task id range is exhausted");
        return;
    }
    op->txn.task_id = tid;
    /* What this service can do for the transition (ms.h "Wiring contract"): give a closing
     * run a successor (continue-as-new, retry, cron) and run the child / external tasks. */
    td_uuid_v4(op->new_run_id);
    op->txn.new_run_id = op->new_run_id;
    op->txn.caps = TD_MS_CAP_CHILD | TD_MS_CAP_EXTERNAL;
    op->txn.retention = ms != NULL ? td_hist__retention(s->h, ms) : 0; /* if it closes */
    op->ms = ms;
    op->created = NULL;
    op->terminate_prev = 0;
    op->tasks = NULL;
    op->n_tasks = 0;
    op->txn.limits = &s->h->limits;
    if (op->limit_reason != NULL) {
        /* the run passed a history limit: it is terminated instead (td_hist__limit_check) */
        op->rc_apply = td_hist__limit_terminate(op, ms);
    } else {
        int64_t count0 = ms != NULL ? ms->next_event_id - 1 : 0;
        int64_t size0 = ms != NULL ? ms->history_size_bytes : 0;
        op->rc_apply = op->apply(op, ms, &op->txn);
        /* op->ms is NULL when apply freed the state (a deleted run is forgotten) */
        if (ms != NULL && op->ms == ms && op->created == NULL && op->txn.next.initiator == 0 &&
            td_hist__limit_check(op, ms, count0, size0)) {
            /* Temporal's order: the transition is dropped, the run reloaded and terminated,
             * and the caller told why (InvalidArgument with the termination reason). */
            td_hist_drop_states(op);
            td_hist_op_run(op);
            return;
        }
    }
    if (ms != NULL && op->created == NULL && op->txn.next.initiator != 0) {
        /* The run closed into a new one: both are written together, the current pointer
         * moving to the new run. */
        int rc;
        if (td_hist__task_id(s, &tid) != TD_OK) {
            td_hist_op_finish(op, TD_EUNAVAIL, "the shard's task id range is exhausted");
            return;
        }
        td_ms_txn_init(&op->txn2, op->arena, op->txn.now);
        op->txn2.task_id = tid;
        op->txn2.caps = op->txn.caps;
        rc = td_ms_start_next(ms, &op->txn.next, &op->txn2, &op->created);
        if (rc != TD_OK) {
            /* ms already closed in memory: forget it, write nothing */
            td_log_error("%s/%s: creating the next run failed: %s", ms->workflow_id, ms->run_id,
                         op->txn2.msg ? op->txn2.msg : td_strerror(rc));
            if (op->ctx->ms == ms) {
                op->ctx->ms = NULL;
            }
            td_ms_free(ms);
            op->ms = NULL;
            td_hist_op_finish(op, TD_EINTERNAL, "creating the next run failed");
            return;
        }
        op->terminate_prev = 1;
        op->create_mode = TD_STORE_EXEC_CREATE_REPLACE_CURRENT;
        op->prev_run_id = td_arena_strdup(op->arena, ms->run_id);
    }
    /* Write when the transition produced something, or changed the state (dirty: e.g. an
     * event went to the buffer) without failing. */
    if (op->created == NULL && (ms == NULL || (op->txn.n_events == 0 && op->txn.n_tasks == 0 &&
                                               !(op->dirty && op->rc_apply == TD_OK)))) {
        td_hist_op_finish(op, op->rc_apply, op->txn.msg);
        return;
    }
    td_hist_write(op);
}

static void td_hist_load_done(td_store_req_t *req, void *arg)
{
    td_hist_op_t *op = arg;
    td_hist_ctx_t *c = op->ctx;
    td_ms_t *ms = NULL;
    int rc = req->rc, current;

    c->shard->h->inflight--;
    if (rc == TD_OK) {
        const td_store_execution_t *row = &req->out.exec_get.row;
        rc = td_ms_decode(row->state_blob.data, row->state_blob.len, &ms);
        if (rc != TD_OK) {
            td_log_error("mutable state of %s/%s does not decode", c->workflow_id, row->run_id);
            td_store_req_free(req);
            td_hist_op_finish(op, TD_EINTERNAL, "stored mutable state is corrupt");
            return;
        }
        current = req->out.exec_get.has_current && req->out.exec_get.current.run_id != NULL &&
                  strcmp(req->out.exec_get.current.run_id, row->run_id) == 0;
        td_store_req_free(req);
        if (op->read_only && c->shard->state != TD_HIST_SHARD_OWNED) {
            /* a read while the shard is not owned: what the store holds, never cached */
            op->private_ms = ms;
            td_hist_op_apply(op, ms);
            return;
        }
        if (!current && ms->state == TD_MS_STATE_COMPLETED && c->ms != NULL && c->ms_current) {
            /* A closed older run (history reads, its visibility task): serve it without
             * evicting the current run from the cache. Closed runs take no writes. */
            op->private_ms = ms;
            td_hist_op_apply(op, ms);
            return;
        }
        td_ms_free(c->ms); /* another run of the same workflow id */
        c->ms = ms;
        c->ms_current = current;
        td_hist_op_apply(op, ms);
        return;
    }
    if (rc == TD_ENOTFOUND && op->load == TD_HIST_LOAD_OPTIONAL) {
        td_store_req_free(req);
        td_hist_op_apply(op, NULL);
        return;
    }
    if (rc == TD_ENOTFOUND) {
        const char *msg = td_arena_printf(
                op->arena, "workflow execution not found for workflow ID \"%s\"%s%s",
                c->workflow_id, op->run_id[0] ? " and run ID " : "", op->run_id);
        td_store_req_free(req);
        td_hist_op_finish(op, TD_ENOTFOUND, msg);
        return;
    }
    {
        const char *msg = td_arena_strdup(op->arena, req->err ? req->err : "");
        td_store_req_free(req);
        td_hist_op_finish(op, TD_EUNAVAIL, msg);
    }
}

static void td_hist_op_run(td_hist_op_t *op)
{
    td_hist_ctx_t *c = op->ctx;
    td_hist_shard_t *s = c->shard;
    td_store_req_t *req;

    if (op->private_ms != NULL) { /* a re-run loads afresh */
        td_ms_free(op->private_ms);
        op->private_ms = NULL;
        op->ms = NULL;
    }
    if (s->state != TD_HIST_SHARD_OWNED &&
        !(op->read_only && s->state != TD_HIST_SHARD_LOST && s->state != TD_HIST_SHARD_RELEASED)) {
        td_hist_op_finish(
                op, TD_EUNAVAIL,
                s->state == TD_HIST_SHARD_LOST       ? "history shard ownership lost"
                : s->state == TD_HIST_SHARD_RELEASED ? "history shard moved to another host"
                : s->state == TD_HIST_SHARD_RENEWING ? "history shard is taking a new task id range"
                                                     : "history shard not acquired yet");
        return;
    }
    if (c->gen != s->gen) { /* cached under an earlier ownership of the shard */
        td_ms_free(c->ms);
        c->ms = NULL;
        td_hist__evc_drop(c);
        c->gen = s->gen;
    }
    if (op->load == TD_HIST_LOAD_NONE) {
        td_hist_op_apply(op, NULL);
        return;
    }
    if (op->load == TD_HIST_LOAD_CACHED) {
        td_hist_op_apply(op, c->ms != NULL && c->ms_current ? c->ms : NULL);
        return;
    }
    if (c->ms != NULL &&
        ((op->run_id[0] == 0 && c->ms_current) || strcmp(c->ms->run_id, op->run_id) == 0)) {
        td_hist_op_apply(op, c->ms);
        return;
    }
    req = td_store_req_new(TD_STORE_OP_EXEC_GET);
    req->in.exec_get.namespace_id = td_arena_strdup(&req->arena, c->namespace_id);
    req->in.exec_get.workflow_id = td_arena_strdup(&req->arena, c->workflow_id);
    req->in.exec_get.run_id = op->run_id[0] ? td_arena_strdup(&req->arena, op->run_id) : NULL;
    req->cb = td_hist_load_done;
    req->arg = op;
    s->h->inflight++;
    td_store_submit(s->h->store, req);
}

void td_hist__ctx_expire_waiters(td_hist_t *h)
{
    for (size_t b = 0; b < h->nbuckets; b++) {
        for (td_hist_ctx_t *c = h->buckets[b]; c != NULL; c = c->hnext) {
            while (c->waiters != NULL) {
                c->waiters->expire(c->waiters); /* removes it from the list */
            }
            td_hist__update_expire(c);
        }
    }
}

void td_hist__ctx_notify(td_hist_ctx_t *c)
{
    td_hist_waiter_t *w = c->waiters, *next;

    c->waiters = NULL;
    for (; w != NULL; w = next) {
        next = w->next;
        w->next = NULL;
        w->wake(w);
    }
}
