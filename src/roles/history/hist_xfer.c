/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transfer tasks that reach another workflow (ms.h "Wiring contract"): START_CHILD (start the
 * child run, then record ChildWorkflowExecutionStarted or StartChildWorkflowExecutionFailed on
 * the parent), SIGNAL_EXTERNAL / CANCEL_EXTERNAL (deliver to the target, then record the
 * outcome on the initiator), NOTIFY_PARENT (a child's final close reaches its parent) and
 * PARENT_CLOSE_POLICY (terminate or cancel a child when its parent closes); a parent run a
 * reset replaced passes the close on to the run the reset created (its reset_run_id), which
 * kept the child. Each is a short
 * chain of operations, one workflow at a time, through the workflows' contexts (hist_ctx.c),
 * so no two workflows are ever held together. Every step is idempotent (request ids derived
 * from the initiating event), so a task re-driven after a crash repeats safely. A stale task
 * (td_ms_task_valid) or a missing target ends the chain; store trouble retries the task.
 * Loop thread only; called by hist_queue.c.
 */
#define TD_LOG_COMPONENT "history"

#include <string.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "roles/history/hist_int.h"
#include "roles/nsreg.h"
#include "server.h"
#include "temporal/api/enums/v1/failed_cause.pb-c.h"
#include "temporal/api/enums/v1/workflow.pb-c.h"
#include "uuid.h"

#define PCP(x) TEMPORAL__API__ENUMS__V1__PARENT_CLOSE_POLICY__PARENT_CLOSE_POLICY_##x
#define WSX(x) TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_##x

typedef Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest td_xstart_req_t;

/* One cross-workflow task in progress. */
typedef struct {
    td_hist_task_t *task;
    td_hist_t *h;
    td_arena_t arena;
    td_ms_event_t *ev; /* the event the task refers to (initiated / close event) */
    /* START_CHILD */
    td_xstart_req_t *req;
    td_ms_parent_t parent;
    const char *child_ns;
    const char *child_run_id;
    int child_failed;
    /* SIGNAL/CANCEL_EXTERNAL */
    const char *request_id;
    int delivered;
    int refused_cause; /* a SignalExternal...FailedCause the target gave, 0 = not found */
    /* NOTIFY_PARENT: the run a reset of the parent created, when the parent run is closed */
    const char *reset_run_id;
    int hops;
} td_hist_xt_t;

static int td_hist_retryable_rc(int rc)
{
    return rc == TD_EUNAVAIL || rc == TD_EIO || rc == TD_EFULL || rc == TD_EBUSY ||
           rc == TD_ECONDITION || rc == TD_ESHARDLOST || rc == TD_EINTERNAL || rc == TD_ECLOSED;
}

/* The chain is over: acknowledge, or retry the whole task later on store trouble. */
static void td_hist_xt_finish(td_hist_xt_t *x, int rc, const char *msg)
{
    td_hist_task_t *task = x->task;

    if (td_hist_retryable_rc(rc) && x->h->running) {
        if (td_hist__task_retry_logged(task)) {
            td_log_warn("%s/%s: cross-workflow task %d failed (will retry): %s", task->workflow_id,
                        task->run_id, task->t.type, msg ? msg : td_strerror(rc));
        }
        td_hist__task_retry(task);
    } else if (x->h->running) {
        if (rc != TD_OK && rc != TD_ENOTFOUND) {
            td_log_warn("%s/%s: cross-workflow task %d dropped: %s", task->workflow_id,
                        task->run_id, task->t.type, msg ? msg : td_strerror(rc));
        }
        td_hist__task_ack(task);
    }
    td_arena_destroy(&x->arena);
    td_free(x);
}

/* An internal operation of the chain on (ns, wf, run); op->u = x. */
static void td_hist_xt_op(td_hist_xt_t *x, const char *ns, const char *wf, const char *run,
                          int load, td_hist_apply_fn apply, td_hist_done_fn done, int dirty)
{
    td_hist_op_t *op = td_hist__op_new_internal(x->h, ns, wf, run);

    op->load = load;
    op->apply = apply;
    op->done = done;
    op->dirty = dirty;
    op->u = x;
    td_hist__op_submit(op);
}

/* done of the last step: the outcome ends the chain (stale = done). */
static int td_hist_xt_last_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_xt_t *x = op->u;
    td_hist__op_free_internal(op);
    td_hist_xt_finish(x, rc == TD_ENOTFOUND ? TD_OK : rc, msg);
    return 0;
}

/* Reads event `id` of run `run` into x->ev, then calls next(x) (or finishes on error). */
typedef void (*td_hist_xt_next_fn)(td_hist_xt_t *x);

typedef struct {
    td_hist_xt_t *x;
    int64_t id;
    td_hist_xt_next_fn next;
} td_hist_xt_rd_t;

static void td_hist_xt_event_read(void *arg, int rc, const char *msg, td_ms_event_t **ev, size_t n,
                                  int64_t nx)
{
    td_hist_xt_rd_t *r = arg;
    td_hist_xt_t *x = r->x;

    (void)nx;
    if (rc != TD_OK) {
        td_hist_xt_finish(x, rc, msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (ev[i]->event_id == r->id) {
            x->ev = ev[i];
        }
    }
    if (x->ev == NULL) {
        td_hist_xt_finish(x, TD_ENOTFOUND, "event not in history");
        return;
    }
    r->next(x);
}

static void td_hist_xt_read(td_hist_xt_t *x, const char *run, int64_t id, td_hist_xt_next_fn next)
{
    td_hist_xt_rd_t *r = td_arena_calloc(&x->arena, sizeof(*r));

    r->x = x;
    r->id = id;
    r->next = next;
    td_hist__read_events(x->h, &x->arena, run, id, id + 1, 0, td_hist_xt_event_read, r);
}

/* ---- START_CHILD ---- */

static int td_hist_child_record_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_xt_t *x = op->u;

    if (x->child_failed) {
        return td_ms_child_start_failed(
                ms, t, x->task->t.event_id,
                TEMPORAL__API__ENUMS__V1__START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE__START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS);
    }
    return td_ms_child_started(ms, t, x->task->t.event_id, x->child_run_id, NULL);
}

static int td_hist_child_start_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_xt_t *x = op->u;
    char run_id[TD_UUID_LEN + 1];
    int rc, reuse = x->req->workflow_id_reuse_policy;

    op->create_mode = TD_STORE_EXEC_CREATE_BRAND_NEW;
    op->prev_run_id = NULL;
    if (ms != NULL) {
        if (ms->start_request_id != NULL && strcmp(ms->start_request_id, x->req->request_id) == 0) {
            x->child_run_id = td_arena_strdup(&x->arena, ms->run_id); /* started before */
            return TD_OK;
        }
        if (ms->state == TD_MS_STATE_RUNNING ||
            reuse ==
                    TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_REUSE_POLICY__WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE ||
            (reuse ==
                     TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_REUSE_POLICY__WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY &&
             ms->status == WSX(COMPLETED))) {
            x->child_failed = 1;
            return TD_OK;
        }
        op->create_mode = TD_STORE_EXEC_CREATE_REPLACE_CURRENT;
        op->prev_run_id = td_arena_strdup(op->arena, ms->run_id);
    }
    td_uuid_v4(run_id);
    rc = td_ms_start_child(t, x->req, x->child_ns, run_id, &x->parent, &op->created);
    if (rc != TD_OK) {
        td_ms_free(op->created);
        op->created = NULL;
        return rc;
    }
    x->child_run_id = td_arena_strdup(&x->arena, run_id);
    return TD_OK;
}

static int td_hist_child_start_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_xt_t *x = op->u;
    td_hist_task_t *task = x->task;

    if (rc == TD_EEXIST && op->runs < 1) {
        return 1; /* another start won the current pointer: look again */
    }
    td_hist__op_free_internal(op);
    if (rc != TD_OK) {
        td_hist_xt_finish(x, rc == TD_EEXIST ? TD_EUNAVAIL : rc, msg);
        return 0;
    }
    td_hist_xt_op(x, task->namespace_id, task->workflow_id, task->run_id, TD_HIST_LOAD_REQUIRED,
                  td_hist_child_record_apply, td_hist_xt_last_done, 1);
    return 0;
}

static char *td_hist_xdup(td_arena_t *a, const char *s)
{
    return s != NULL ? td_arena_strdup(a, s) : NULL;
}

static int td_hist_child_parent_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_xt_t *x = op->u;
    int rc;

    (void)t;
    if (td_ms_task_valid(ms, &x->task->t) != TD_OK) {
        return TD_ENOTFOUND;
    }
    rc = td_ms_child_request(ms, x->ev, &x->arena, &x->req, &x->parent);
    if (rc != TD_OK) {
        return rc;
    }
    if (x->parent.namespace_name == NULL || x->parent.namespace_name[0] == 0) {
        /* the command left the namespace empty: the parent's namespace by name */
        const td_ns_t *ns = x->h->srv != NULL && x->h->srv->nsreg != NULL
                                    ? td_nsreg_by_id(x->h->srv->nsreg, ms->namespace_id)
                                    : NULL;
        x->parent.namespace_name = ns != NULL ? ns->name : NULL;
    }
    /* the parent description may point into the state: copy it now */
    x->parent.namespace_name = td_hist_xdup(&x->arena, x->parent.namespace_name);
    x->parent.namespace_id = td_hist_xdup(&x->arena, x->parent.namespace_id);
    x->parent.workflow_id = td_hist_xdup(&x->arena, x->parent.workflow_id);
    x->parent.run_id = td_hist_xdup(&x->arena, x->parent.run_id);
    x->parent.root_workflow_id = td_hist_xdup(&x->arena, x->parent.root_workflow_id);
    x->parent.root_run_id = td_hist_xdup(&x->arena, x->parent.root_run_id);
    return TD_OK;
}

static int td_hist_child_parent_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_xt_t *x = op->u;

    td_hist__op_free_internal(op);
    if (rc != TD_OK) {
        td_hist_xt_finish(x, rc, msg);
        return 0;
    }
    /* children live in the parent's namespace (cross-namespace children: not built) */
    x->child_ns = x->task->namespace_id;
    td_hist_xt_op(x, x->child_ns, x->req->workflow_id, "", TD_HIST_LOAD_OPTIONAL,
                  td_hist_child_start_apply, td_hist_child_start_done, 0);
    return 0;
}

static void td_hist_child_go(td_hist_xt_t *x)
{
    td_hist_task_t *task = x->task;
    td_hist_xt_op(x, task->namespace_id, task->workflow_id, task->run_id, TD_HIST_LOAD_REQUIRED,
                  td_hist_child_parent_apply, td_hist_child_parent_done, 0);
}

/* ---- SIGNAL_EXTERNAL / CANCEL_EXTERNAL ---- */

static int td_hist_ext_record_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_xt_t *x = op->u;
    /* EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND (same number for signal and cancel) unless the
     * target gave a reason */
    int cause = x->refused_cause ? x->refused_cause : 1;

    if (x->delivered) {
        return td_ms_external_done(ms, t, x->task->t.event_id);
    }
    return td_ms_external_failed(ms, t, x->task->t.event_id, cause);
}

static int td_hist_ext_target_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_xt_t *x = op->u;
    td_hist_task_t *task = x->task;
    int signal = task->t.type == TD_MS_TASK_SIGNAL_EXTERNAL, child_only, rc;

    x->delivered = 0;
    if (ms == NULL || ms->state != TD_MS_STATE_RUNNING) {
        return TD_OK; /* not delivered */
    }
    child_only =
            signal ? x->ev->signal_external_workflow_execution_initiated_event_attributes
                             ->child_workflow_only
                   : x->ev->request_cancel_external_workflow_execution_initiated_event_attributes
                             ->child_workflow_only;
    if (child_only &&
        (ms->parent_workflow_id == NULL || strcmp(ms->parent_workflow_id, task->workflow_id) != 0 ||
         ms->parent_run_id == NULL || strcmp(ms->parent_run_id, task->run_id) != 0)) {
        return TD_OK;
    }
    if (signal) {
        const Temporal__Api__History__V1__SignalExternalWorkflowExecutionInitiatedEventAttributes
                *a = x->ev->signal_external_workflow_execution_initiated_event_attributes;
        rc = td_ms_signal_from(ms, t, a->signal_name, a->input, "", a->header, x->request_id,
                               task->workflow_id, task->run_id);
    } else {
        const Temporal__Api__History__V1__RequestCancelExternalWorkflowExecutionInitiatedEventAttributes
                *a = x->ev->request_cancel_external_workflow_execution_initiated_event_attributes;
        rc = td_ms_request_cancel_from(ms, t, a->reason, "", x->request_id, task->workflow_id,
                                       task->run_id, task->t.event_id);
    }
    if (rc == TD_OK) {
        x->delivered = 1;
    } else if (signal && rc == TD_EINVAL && t->msg != NULL &&
               strcmp(t->msg, TD_MS_SIGNALS_EXCEEDED) == 0) {
        /* history.maximumSignalsPerExecution: Temporal's SIGNAL_COUNT_LIMIT_EXCEEDED */
        x->refused_cause =
                TEMPORAL__API__ENUMS__V1__SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE__SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_SIGNAL_COUNT_LIMIT_EXCEEDED;
    }
    return rc == TD_ENOTFOUND ? TD_OK : rc;
}

static int td_hist_ext_target_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_xt_t *x = op->u;
    td_hist_task_t *task = x->task;

    td_hist__op_free_internal(op);
    if (td_hist_retryable_rc(rc)) {
        td_hist_xt_finish(x, rc, msg);
        return 0;
    }
    if (rc != TD_OK) {
        x->delivered = 0; /* refused (e.g. bad request): reported as not delivered */
    }
    td_hist_xt_op(x, task->namespace_id, task->workflow_id, task->run_id, TD_HIST_LOAD_REQUIRED,
                  td_hist_ext_record_apply, td_hist_xt_last_done, 1);
    return 0;
}

static int td_hist_ext_init_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_xt_t *x = op->u;

    (void)t;
    if (td_ms_task_valid(ms, &x->task->t) != TD_OK) {
        return TD_ENOTFOUND;
    }
    x->request_id = td_ms_external_request_id(ms, x->task->t.event_id, &x->arena);
    return TD_OK;
}

static int td_hist_ext_init_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_xt_t *x = op->u;
    td_hist_task_t *task = x->task;
    const char *ns = task->t.target_namespace_id && task->t.target_namespace_id[0]
                             ? task->t.target_namespace_id
                             : task->namespace_id;

    td_hist__op_free_internal(op);
    if (rc != TD_OK) {
        td_hist_xt_finish(x, rc, msg);
        return 0;
    }
    td_hist_xt_op(x, ns, task->t.target_workflow_id ? task->t.target_workflow_id : "",
                  task->t.target_run_id ? task->t.target_run_id : "", TD_HIST_LOAD_OPTIONAL,
                  td_hist_ext_target_apply, td_hist_ext_target_done, 1);
    return 0;
}

static void td_hist_ext_go(td_hist_xt_t *x)
{
    td_hist_task_t *task = x->task;
    int ok =
            task->t.type == TD_MS_TASK_SIGNAL_EXTERNAL
                    ? x->ev->signal_external_workflow_execution_initiated_event_attributes != NULL
                    : x->ev->request_cancel_external_workflow_execution_initiated_event_attributes !=
                              NULL;

    if (!ok || task->t.target_workflow_id == NULL) {
        td_hist_xt_finish(x, TD_EINVAL, "the initiated event does not match the task");
        return;
    }
    td_hist_xt_op(x, task->namespace_id, task->workflow_id, task->run_id, TD_HIST_LOAD_REQUIRED,
                  td_hist_ext_init_apply, td_hist_ext_init_done, 0);
}

/* ---- NOTIFY_PARENT ---- */

/* A parent that a reset replaced (closed, with reset_run_id) hands its children to the new
 * run: the close goes on there (Temporal does the same), through at most MAX_RESET_HOPS
 * resets. */
#define MAX_RESET_HOPS 16

static int td_hist_notify_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_xt_t *x = op->u;

    x->reset_run_id = NULL;
    if (ms != NULL && ms->state != TD_MS_STATE_RUNNING && ms->reset_run_id != NULL &&
        x->hops < MAX_RESET_HOPS) {
        x->reset_run_id = td_arena_strdup(&x->arena, ms->reset_run_id);
        t->msg = "the parent was reset";
        return TD_EAGAIN;
    }
    if (x->hops > 0 && ms != NULL) {
        /* the new run keeps only the children initiated before the reset point */
        const td_ms_child_t *ci = td_ms_child_find(ms, x->task->t.event_id);
        if (ci == NULL || ci->workflow_id == NULL ||
            strcmp(ci->workflow_id, x->task->workflow_id) != 0) {
            return TD_ENOTFOUND;
        }
    }
    return td_ms_child_closed(ms, t, x->task->t.event_id, x->task->run_id, x->ev);
}

static void td_hist_notify_run(td_hist_xt_t *x, const char *run);

static int td_hist_notify_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_xt_t *x = op->u;

    if (rc == TD_EAGAIN && x->reset_run_id != NULL) {
        td_hist__op_free_internal(op);
        x->hops++;
        td_hist_notify_run(x, x->reset_run_id);
        return 0;
    }
    return td_hist_xt_last_done(op, rc, msg);
}

static void td_hist_notify_run(td_hist_xt_t *x, const char *run)
{
    td_hist_task_t *task = x->task;
    const char *ns = task->t.target_namespace_id && task->t.target_namespace_id[0]
                             ? task->t.target_namespace_id
                             : task->namespace_id;

    td_hist_xt_op(x, ns, task->t.target_workflow_id ? task->t.target_workflow_id : "", run,
                  TD_HIST_LOAD_REQUIRED, td_hist_notify_apply, td_hist_notify_done, 1);
}

static void td_hist_notify_go(td_hist_xt_t *x)
{
    td_hist_notify_run(x, x->task->t.target_run_id ? x->task->t.target_run_id : "");
}

/* ---- PARENT_CLOSE_POLICY ---- */

static int td_hist_pcp_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_xt_t *x = op->u;
    td_hist_task_t *task = x->task;
    const char *rid;

    if (ms == NULL || ms->state != TD_MS_STATE_RUNNING || task->t.target_run_id == NULL ||
        ms->first_execution_run_id == NULL ||
        strcmp(ms->first_execution_run_id, task->t.target_run_id) != 0) {
        return TD_ENOTFOUND; /* closed, gone or another chain: nothing to do */
    }
    if (task->t.policy == PCP(TERMINATE)) {
        return td_ms_terminate(ms, t, "by parent close policy", NULL, "history-service");
    }
    if (task->t.policy == PCP(REQUEST_CANCEL)) {
        rid = td_arena_printf(&x->arena, "parent-close-%s-%s", task->run_id, task->t.target_run_id);
        return td_ms_request_cancel_from(ms, t, "by parent close policy", "history-service", rid,
                                         task->workflow_id, task->run_id, 0);
    }
    return TD_ENOTFOUND;
}

/* ---- entry ---- */

void td_hist__xfer_cross(td_hist_task_t *task)
{
    td_hist_xt_t *x = td_calloc(1, sizeof(*x));
    const char *ns;

    x->task = task;
    x->h = task->shard->h;
    td_arena_init(&x->arena, 4096);
    switch (task->t.type) {
    case TD_MS_TASK_START_CHILD:
        td_hist_xt_read(x, task->run_id, task->t.event_id, td_hist_child_go);
        break;
    case TD_MS_TASK_SIGNAL_EXTERNAL:
    case TD_MS_TASK_CANCEL_EXTERNAL:
        td_hist_xt_read(x, task->run_id, task->t.event_id, td_hist_ext_go);
        break;
    case TD_MS_TASK_NOTIFY_PARENT:
        td_hist_xt_read(x, task->run_id, task->t.ref_event_id, td_hist_notify_go);
        break;
    case TD_MS_TASK_PARENT_CLOSE_POLICY:
        ns = task->t.target_namespace_id && task->t.target_namespace_id[0]
                     ? task->t.target_namespace_id
                     : task->namespace_id;
        td_hist_xt_op(x, ns, task->t.target_workflow_id ? task->t.target_workflow_id : "", "",
                      TD_HIST_LOAD_OPTIONAL, td_hist_pcp_apply, td_hist_xt_last_done, 1);
        break;
    default:
        td_hist_xt_finish(x, TD_OK, NULL);
        break;
    }
}
