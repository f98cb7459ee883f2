/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deleting a workflow run: its execution row, the current pointer when it names the run, its
 * history branch and its visibility record, in that order, each an existing store operation
 * (EXEC_DELETE, HISTORY_DELETE, VIS_DELETE). One mechanism for both callers:
 * DeleteWorkflowExecution (hist_byid.c: a running run is terminated first) and retention
 * (hist_retention.c: only a closed run is deleted; a running one is left alone). It is not a
 * transition: no event is written. Loop thread only.
 *
 * Design notes: deleting a run (td_hist_del_t.step)
 *
 *   Invariants: cb runs exactly once, after every record is gone or with the error of the
 *   step that failed; every step is idempotent (a record already gone counts as deleted), so
 *   the caller may simply run the whole deletion again (retention: the timer task is retried,
 *   and after a crash re-read from the store). The visibility record is deleted last, from an
 *   operation queued on the workflow's context after the row is gone: every visibility task
 *   of the run queued before it has submitted its write by then (the store applies writes in
 *   order), and every later one finds no run and is dropped, so no visibility write can bring
 *   the record back. The same operation drops the run from the context cache (and from any
 *   cache keyed by run: td_hist__run_deleted).
 *
 *           loaded (terminated or       row + current gone     history gone
 *           closed; retention: closed)
 *     LOAD -------------------------> EXEC ---------------> HISTORY ----------> VIS -> cb(OK)
 *      | running (retention): cb(OK), nothing deleted
 *      | not found (retention, run id known): straight to HISTORY (a deletion cut short)
 *      | not found (delete API) / error: cb(error)   any store error: cb(error)
 *
 *   FROM    -> TO       [function]
 *   LOAD    -> EXEC     [td_hist_del_loaded (td_ms_terminate committed, or already closed)]
 *   LOAD    -> HISTORY  [td_hist_del_loaded (retention: the row is gone already)]
 *   EXEC    -> HISTORY  [td_hist_del_stored (TD_STORE_OP_EXEC_DELETE done)]
 *   HISTORY -> VIS      [td_hist_del_stored (TD_STORE_OP_HISTORY_DELETE done): queues the
 *                        context operation td_hist_del_forget_apply/_done]
 *   VIS     -> cb       [td_hist_del_stored (TD_STORE_OP_VIS_DELETE done)]
 */
#define TD_LOG_COMPONENT "history"

#include <string.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "roles/history/hist_int.h"

enum { TD_HIST_DEL_EXEC = 1, TD_HIST_DEL_HISTORY, TD_HIST_DEL_VIS };

typedef struct {
    td_hist_t *h;
    td_hist_shard_t *shard;
    td_arena_t arena;
    char *namespace_id, *workflow_id;
    char *run_id; /* the run deleted: as named, or once loaded */
    int mode;     /* TD_HIST_DELETE_* */
    int step;     /* TD_HIST_DEL_*: the store delete in flight */
    td_hist_delete_cb cb;
    void *arg;
} td_hist_del_t;

static void td_hist_del_submit(td_hist_del_t *d, int step);

static void td_hist_del_end(td_hist_del_t *d, int rc, const char *msg)
{
    d->cb(d->arg, rc, msg);
    td_arena_destroy(&d->arena);
    td_free(d);
}

/* LOAD: the run as loaded (the named one, or the current one). */
static int td_hist_del_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_del_t *d = op->u;

    op->dirty = 0; /* a closed run is left as it is */
    if (ms == NULL) {
        return TD_ENOTFOUND; /* LOAD_OPTIONAL (retention) */
    }
    d->run_id = td_arena_strdup(&d->arena, ms->run_id);
    if (ms->state == TD_MS_STATE_RUNNING) {
        if (d->mode == TD_HIST_DELETE_CLOSED) {
            op->i64 = 1; /* left alone */
            return TD_OK;
        }
        return td_ms_terminate(ms, t, "Delete workflow execution", NULL, "history-service");
    }
    return TD_OK;
}

static int td_hist_del_loaded(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_del_t *d = op->u;
    int running = op->i64 == 1;

    if (rc == TD_ENOTFOUND && d->mode == TD_HIST_DELETE_CLOSED && d->run_id[0] != 0) {
        /* The row is gone: a deletion was cut short (crash, store error) after EXEC. */
        td_hist__op_free_internal(op);
        td_hist_del_submit(d, TD_HIST_DEL_HISTORY);
        return 0;
    }
    if (rc != TD_OK || running) {
        if (running) {
            td_log_debug("%s/%s is running: not deleted", d->workflow_id, d->run_id);
        }
        msg = msg != NULL ? td_arena_strdup(&d->arena, msg) : NULL;
        td_hist__op_free_internal(op);
        td_hist_del_end(d, rc, msg);
        return 0;
    }
    td_hist__op_free_internal(op);
    td_hist_del_submit(d, TD_HIST_DEL_EXEC);
    return 0;
}

/* VIS, on the context: forgets a cached state of the deleted run, then deletes the record. */
static int td_hist_del_forget_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_del_t *d = op->u;

    (void)t;
    op->dirty = 0;
    if (ms != NULL && op->ctx->ms == ms && op->private_ms != ms) {
        op->ctx->ms = NULL;
        op->ms = NULL;
        td_ms_free(ms);
    }
    td_hist__run_deleted(op->ctx, d->run_id);
    return TD_OK;
}

static int td_hist_del_forget_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_del_t *d = op->u;

    (void)rc;
    (void)msg;
    td_hist__op_free_internal(op);
    td_hist_del_submit(d, TD_HIST_DEL_VIS);
    return 0;
}

static void td_hist_del_stored(td_store_req_t *req, void *arg)
{
    td_hist_del_t *d = arg;
    int rc = req->rc, step = d->step;
    td_hist_op_t *op;

    d->h->inflight--;
    if (step == TD_HIST_DEL_EXEC) {
        td_hist__shard_write_done(d->shard); /* TD_ESHARDLOST: the next write notices too */
    }
    if (rc == TD_ENOTFOUND) {
        rc = TD_OK; /* already gone */
    }
    if (rc != TD_OK) {
        const char *msg =
                td_arena_printf(&d->arena, "deleting %s of %s/%s: %s", td_store_op_name(req->op),
                                d->workflow_id, d->run_id, req->err ? req->err : "");
        td_log_warn("%s", msg);
        td_store_req_free(req);
        td_hist_del_end(d, td_err_grpc_status(rc) == TD_GRPC_UNAVAILABLE ? rc : TD_EUNAVAIL, msg);
        return;
    }
    td_store_req_free(req);
    switch (step) {
    case TD_HIST_DEL_EXEC:
        td_hist_del_submit(d, TD_HIST_DEL_HISTORY);
        break;
    case TD_HIST_DEL_HISTORY:
        op = td_hist__op_new_internal(d->h, d->namespace_id, d->workflow_id, d->run_id);
        op->load = TD_HIST_LOAD_OPTIONAL;
        op->apply = td_hist_del_forget_apply;
        op->done = td_hist_del_forget_done;
        op->u = d;
        td_hist__op_submit(op);
        break;
    default:
        td_hist_del_end(d, TD_OK, NULL);
        break;
    }
}

static void td_hist_del_submit(td_hist_del_t *d, int step)
{
    td_store_req_t *req = NULL;

    switch (step) {
    case TD_HIST_DEL_EXEC:
        req = td_store_req_new(TD_STORE_OP_EXEC_DELETE);
        req->in.exec_del.shard_id = d->shard->id;
        req->in.exec_del.expected_range_id = d->shard->range_id;
        req->in.exec_del.namespace_id = td_arena_strdup(&req->arena, d->namespace_id);
        req->in.exec_del.workflow_id = td_arena_strdup(&req->arena, d->workflow_id);
        req->in.exec_del.run_id = td_arena_strdup(&req->arena, d->run_id);
        d->shard->writes_inflight++;
        break;
    case TD_HIST_DEL_HISTORY:
        td_hist__evc_forget(d->h, d->run_id); /* no read may serve the events from memory */
        req = td_store_req_new(TD_STORE_OP_HISTORY_DELETE);
        req->in.hist_del.tree_id = td_arena_strdup(&req->arena, d->run_id);
        req->in.hist_del.branch_id = req->in.hist_del.tree_id;
        break;
    default:
        req = td_store_req_new(TD_STORE_OP_VIS_DELETE);
        req->in.vis.namespace_id = td_arena_strdup(&req->arena, d->namespace_id);
        req->in.vis.workflow_id = td_arena_strdup(&req->arena, d->workflow_id);
        req->in.vis.run_id = td_arena_strdup(&req->arena, d->run_id);
        break;
    }
    d->step = step;
    req->cb = td_hist_del_stored;
    req->arg = d;
    d->h->inflight++;
    td_store_submit(d->h->store, req);
}

void td_hist__delete_run(td_hist_t *h, const char *namespace_id, const char *workflow_id,
                         const char *run_id, int mode, td_hist_delete_cb cb, void *arg)
{
    td_hist_del_t *d = td_calloc(1, sizeof(*d));
    td_hist_op_t *op;

    td_arena_init(&d->arena, 512);
    d->h = h;
    d->namespace_id = td_arena_strdup(&d->arena, namespace_id);
    d->workflow_id = td_arena_strdup(&d->arena, workflow_id);
    d->run_id = td_arena_strdup(&d->arena, run_id != NULL ? run_id : "");
    d->mode = mode;
    d->cb = cb;
    d->arg = arg;
    op = td_hist__op_new_internal(h, namespace_id, workflow_id, d->run_id);
    d->shard = op->ctx->shard;
    op->load = mode == TD_HIST_DELETE_CLOSED && d->run_id[0] != 0 ? TD_HIST_LOAD_OPTIONAL
                                                                  : TD_HIST_LOAD_REQUIRED;
    op->apply = td_hist_del_apply;
    op->done = td_hist_del_loaded;
    op->u = d;
    td_hist__op_submit(op);
}

void td_hist__run_deleted(td_hist_ctx_t *ctx, const char *run_id)
{
    td_hist__evc_forget(ctx->shard->h, run_id); /* the events cache (hist_evc.c) */
    if (ctx->queries != NULL) {
        td_hist__query_unblock_run(ctx, run_id); /* their legacy query tasks find no run */
    }
}
