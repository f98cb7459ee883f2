/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HistoryService.ResetWorkflowExecution: a new run of the workflow id whose history is the base
 * run's history up to the reset point, then the reset's own events (ms_reset.c says which).
 * The running current run is terminated (reason = the reset reason, identity
 * history-resetter) and the new run becomes current, in one store write. Signals the base run
 * received after the reset point, and those of the runs it continued as new into, are
 * reapplied (reset_reapply_type NONE or exclude type SIGNAL skip them). Updates past the reset
 * point are not reapplied as events (Temporal re-admits them; temporald keeps admitted updates
 * in memory only: their callers are aborted when the base run is succeeded, and retry against
 * the new run). The base run records the new run as its reset_run_id (describe's extended
 * info) in the same write when it is the current run; a base that is an older run of a
 * continue-as-new chain keeps none (closed runs that are not current take no writes). Child
 * workflows pending at the reset point stay with the new run when the base is the running
 * current run: its termination leaves their parent close policy unapplied, and their closes,
 * addressed to the base, are passed on through reset_run_id (hist_xfer.c); a closed base, or one
 * that continued as new, already applied the policy, and such a reset is UNIMPLEMENTED. Callers:
 * the frontend through td_svc_call.
 *
 * Design note: the new run's history is a copy of the base run's prefix, written by the
 * ordinary execution write as the new run's first batch (see ms_reset.c): no store operation
 * of its own, and whatever caches or reads events sees a run created like any other. The cost
 * is one full read of the base run's history and the prefix stored a second time.
 *
 * The steps, one operation on the workflow's context at a time (no context is held across the
 * read):
 *
 *   RESOLVE  load the base run (the named one, or the current run): its id, next_event_id;
 *            finish id out of (1, next_event_id) -> INVALID_ARGUMENT
 *   READ     its events [1, next_event_id), then those of each run it continued as new into
 *            (the chain, at most 64 runs; a missing run ends it)
 *   RESET    load the current run; same request id as the run's start -> that run (dedup);
 *            the last run read is current and moved on since READ -> back to RESOLVE (at most
 *            3 times); else td_ms_reset, terminate the current run if running, write both
 */
#define TD_LOG_COMPONENT "history"

#include <string.h>

#include "error.h"
#include "historyservice.pb-c.h"
#include "log.h"
#include "mem.h"
#include "roles/history/hist_int.h"
#include "roles/history/ms/ms_reset.h"
#include "roles/svc.h"
#include "temporal/api/enums/v1/event_type.pb-c.h"
#include "temporal/api/enums/v1/reset.pb-c.h"
#include "uuid.h"

#define HS(x)  temporald__historyservice__##x##__descriptor
#define RRT(x) TEMPORAL__API__ENUMS__V1__RESET_REAPPLY_TYPE__RESET_REAPPLY_TYPE_##x
#define RRX(x) TEMPORAL__API__ENUMS__V1__RESET_REAPPLY_EXCLUDE_TYPE__RESET_REAPPLY_EXCLUDE_TYPE_##x
#define TRIES  3
/* Continue-as-new runs followed past the base for signals to reapply. */
#define MAX_HOPS 64
#define ET_CONTINUED_AS_NEW \
    TEMPORAL__API__ENUMS__V1__EVENT_TYPE__EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW

typedef Temporal__Api__Workflowservice__V1__ResetWorkflowExecutionRequest td_reset_req_t;

typedef struct {
    td_hist_t *h;
    td_rpc_call_t *call;
    const char *namespace_id;
    const td_reset_req_t *req;
    const char *base_run_id; /* resolved */
    int64_t base_next;       /* the base run's next_event_id at RESOLVE */
    td_ms_event_t **ev;      /* its events [1, base_next) */
    size_t n;
    /* The runs the base continued as new into, followed to the last one (as Temporal does):
     * all their events (signals among them are reapplied too), and the last run's id and
     * next_event_id as read (the base's when it did not continue). */
    td_ms_event_t **chain;
    size_t n_chain, cap_chain;
    const char *last_run_id;
    int64_t last_next;
    int hops;
    const char *run_id; /* the answer */
    int tries;
} td_hist_reset_t;

static void td_hist_reset_resolve(td_hist_reset_t *r);

static td_hist_op_t *td_hist_reset_op(td_hist_reset_t *r, const char *run_id,
                                      td_hist_apply_fn apply, td_hist_done_fn done)
{
    td_hist_op_t *op = td_arena_calloc(td_rpc_arena(r->call), sizeof(*op));

    op->ctx = td_hist__ctx_get(r->h, r->namespace_id, r->req->workflow_execution->workflow_id);
    op->call = r->call;
    op->arena = td_rpc_arena(r->call);
    op->run_id = run_id;
    op->load = TD_HIST_LOAD_REQUIRED;
    op->apply = apply;
    op->done = done;
    op->u = r;
    return op;
}

/* Whether signals are left out (the deprecated reset_reapply_type, then the exclude list). */
static int td_hist_reset_exclude_signals(const td_reset_req_t *q)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    int exclude = q->reset_reapply_type == RRT(NONE);
#pragma GCC diagnostic pop
    for (size_t i = 0; i < q->n_reset_reapply_exclude_types; i++) {
        exclude |= q->reset_reapply_exclude_types[i] == RRX(SIGNAL);
    }
    return exclude;
}

/* ---- RESET ---- */

/* The base run's events past the reset point, those of the runs it continued as new into, and
 * (when the last of them is the current run) those waiting in its buffer, which its
 * termination would flush. */
static void td_hist_reset_tail(td_hist_reset_t *r, const td_ms_t *cur, td_arena_t *a,
                               td_ms_reset_t *in)
{
    size_t from = (size_t)(r->req->workflow_task_finish_event_id - 1);
    size_t n = r->n > from ? r->n - from : 0;
    size_t own = n;
    td_ms_event_t **v = td_arena_alloc(a, (n + r->n_chain + cur->n_buffered + 1) * sizeof(*v));

    if (n > 0) {
        memcpy(v, r->ev + from, n * sizeof(*v));
    }
    if (r->n_chain > 0) {
        memcpy(v + n, r->chain, r->n_chain * sizeof(*v));
        n += r->n_chain;
    }
    if (strcmp(cur->run_id, r->last_run_id) == 0) {
        for (size_t i = 0; i < cur->n_buffered; i++) {
            td_ms_event_t *e =
                    td_hist__unblob(a, cur->buffered[i].data, cur->buffered[i].len,
                                    &temporal__api__history__v1__history_event__descriptor);
            if (e != NULL) {
                v[n++] = e;
            }
        }
    }
    in->reapply = v;
    in->n_reapply = n;
    in->n_base_tail = r->n_chain == 0 ? n : own; /* the buffer is the base's without a chain */
}

static int td_hist_reset_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_reset_t *r = op->u;
    const td_reset_req_t *q = r->req;
    int running = ms->state == TD_MS_STATE_RUNNING, base;
    td_ms_reset_t in = { 0 };
    td_ms_txn_t *nt = t;
    char *run_id;
    int64_t tid = 0;
    int rc;

    op->dirty = 0;
    if (ms->start_request_id != NULL && strcmp(ms->start_request_id, q->request_id) == 0) {
        r->run_id = td_arena_strdup(op->arena, ms->run_id); /* the same reset again */
        return TD_OK;
    }
    if (strcmp(ms->run_id, r->last_run_id) == 0 && ms->next_event_id != r->last_next) {
        return TD_EAGAIN; /* events were added since READ: read again */
    }
    run_id = td_arena_alloc(op->arena, TD_UUID_LEN + 1);
    td_uuid_v4(run_id);
    in.namespace_id = r->namespace_id;
    in.workflow_id = ms->workflow_id;
    in.base_run_id = r->base_run_id;
    in.new_run_id = run_id;
    in.events = r->ev;
    in.n_events = r->n;
    in.finish_id = q->workflow_task_finish_event_id;
    in.reason = q->reason;
    in.request_id = q->request_id;
    in.exclude_signals = td_hist_reset_exclude_signals(q);
    td_hist_reset_tail(r, ms, op->arena, &in);
    /* The current run is written too when it is terminated or is the base (reset_run_id). */
    base = strcmp(ms->run_id, r->base_run_id) == 0;
    if (running || base) {
        rc = td_hist__task_id(op->ctx->shard, &tid);
        if (rc != TD_OK) {
            t->msg = "the shard's task id range is exhausted";
            return rc;
        }
        td_ms_txn_init(&op->txn2, op->arena, t->now);
        op->txn2.task_id = tid;
        op->txn2.caps = t->caps;
        nt = &op->txn2;
    }
    rc = td_ms_reset(nt, &in, &op->created);
    if (rc == TD_OK && op->created->n_children > 0 && !(running && base)) {
        /* Only a running base hands its children over (its termination skips their parent
         * close policy); a closed one applied the policy when it closed. */
        td_ms_free(op->created);
        op->created = NULL;
        nt->msg = "resetting a closed run, or a run that continued as new, to a point with "
                  "pending child workflows is not implemented by temporald yet";
        rc = TD_EUNIMPL;
    }
    if (rc != TD_OK) {
        t->msg = nt->msg;
        t->n_events = t->n_tasks = 0;
        return rc;
    }
    if (running) {
        rc = td_ms_terminate(ms, t, q->reason, NULL, TD_MS_IDENTITY_RESETTER);
        if (rc != TD_OK) { /* cannot happen for a running run; keep the cache honest */
            td_ms_free(op->created);
            op->created = NULL;
            op->txn.n_events = op->txn.n_tasks = 0;
            op->ctx->ms = NULL;
            op->ms = NULL;
            td_ms_free(ms);
            return rc;
        }
    }
    if (base) {
        /* the children the new run keeps are not the base's to close */
        td_ms_reset_keep_children(t, op->created);
        td_ms_reset_mark_base(ms, run_id);
    }
    op->terminate_prev = running || base; /* write both runs */
    op->create_mode = TD_STORE_EXEC_CREATE_REPLACE_CURRENT;
    op->prev_run_id = td_arena_strdup(op->arena, ms->run_id);
    r->run_id = run_id;
    return TD_OK;
}

static int td_hist_reset_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_reset_t *r = op->u;
    Temporal__Api__Workflowservice__V1__ResetWorkflowExecutionResponse *resp;

    if ((rc == TD_EAGAIN || rc == TD_EEXIST) && ++r->tries < TRIES) {
        /* The base run moved on, or the current pointer changed under the write. */
        td_hist_reset_resolve(r);
        return 0;
    }
    if (rc == TD_EAGAIN || rc == TD_EEXIST) {
        td_hist__fail(op->call, TD_EUNAVAIL, "the workflow kept changing during the reset");
        return 0;
    }
    if (rc != TD_OK) {
        td_hist__fail(op->call, rc, msg);
        return 0;
    }
    td_log_info("%s reset from run %s to run %s at event %lld",
                r->req->workflow_execution->workflow_id, r->base_run_id, r->run_id,
                (long long)r->req->workflow_task_finish_event_id);
    resp = td_hist__pb(
            op->arena,
            &temporal__api__workflowservice__v1__reset_workflow_execution_response__descriptor);
    resp->run_id = (char *)r->run_id;
    td_rpc_reply(op->call, &resp->base);
    return 0;
}

/* ---- READ ---- */

static void td_hist_reset_follow(td_hist_reset_t *r, const td_ms_event_t *last);

/* Events of one run the chain continued into (all of them: no upper bound). */
static void td_hist_reset_chain_events(void *arg, int rc, const char *msg, td_ms_event_t **ev,
                                       size_t n, int64_t next_min)
{
    td_hist_reset_t *r = arg;

    (void)next_min;
    if (rc != TD_OK) {
        td_hist__fail(r->call, rc, msg);
        return;
    }
    if (n == 0) { /* the run is gone (deleted): the chain ends at the run before */
        td_hist_reset_follow(r, NULL);
        return;
    }
    if (r->n_chain + n > r->cap_chain) {
        size_t cap = (r->n_chain + n) * 2;
        td_ms_event_t **v = td_arena_alloc(td_rpc_arena(r->call), cap * sizeof(*v));
        if (r->n_chain > 0) {
            memcpy(v, r->chain, r->n_chain * sizeof(*v));
        }
        r->chain = v;
        r->cap_chain = cap;
    }
    memcpy(r->chain + r->n_chain, ev, n * sizeof(*ev));
    r->n_chain += n;
    r->last_next = ev[n - 1]->event_id + 1;
    td_hist_reset_follow(r, ev[n - 1]);
}

/* After a run's events: read the run it continued as new into, if any (at most MAX_HOPS of
 * them), else go on to RESET. */
static void td_hist_reset_follow(td_hist_reset_t *r, const td_ms_event_t *last)
{
    const char *next = NULL;
    td_hist_op_t *op;

    if (last != NULL && last->event_type == ET_CONTINUED_AS_NEW &&
        last->workflow_execution_continued_as_new_event_attributes != NULL) {
        next = last->workflow_execution_continued_as_new_event_attributes->new_execution_run_id;
    }
    if (next != NULL && next[0] != 0 && r->hops < MAX_HOPS) {
        r->hops++;
        r->last_run_id = td_arena_strdup(td_rpc_arena(r->call), next);
        r->last_next = 1;
        td_hist__read_events(r->h, td_rpc_arena(r->call), next, 1, 0, 0, td_hist_reset_chain_events,
                             r);
        return;
    }
    op = td_hist_reset_op(r, "", td_hist_reset_apply, td_hist_reset_done);
    td_hist__op_submit(op);
}

static void td_hist_reset_events(void *arg, int rc, const char *msg, td_ms_event_t **ev, size_t n,
                                 int64_t next_min)
{
    td_hist_reset_t *r = arg;

    (void)next_min;
    if (rc != TD_OK) {
        td_hist__fail(r->call, rc, msg);
        return;
    }
    if ((int64_t)n != r->base_next - 1) {
        td_hist__fail(r->call, TD_EINTERNAL,
                      td_arena_printf(td_rpc_arena(r->call),
                                      "history of run %s has %zu events, expected %lld",
                                      r->base_run_id, n, (long long)(r->base_next - 1)));
        return;
    }
    r->ev = ev;
    r->n = n;
    r->n_chain = 0;
    r->hops = 0;
    r->last_run_id = r->base_run_id;
    r->last_next = r->base_next;
    td_hist_reset_follow(r, n > 0 ? ev[n - 1] : NULL);
}

/* ---- RESOLVE ---- */

static int td_hist_reset_resolve_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_reset_t *r = op->u;
    int64_t finish = r->req->workflow_task_finish_event_id;

    op->dirty = 0;
    if (finish <= 1 || finish >= ms->next_event_id) {
        t->msg = "Workflow task finish ID must be > 1 && <= workflow last event ID.";
        return TD_EINVAL;
    }
    r->base_run_id = td_arena_strdup(op->arena, ms->run_id);
    r->base_next = ms->next_event_id;
    return TD_OK;
}

static int td_hist_reset_resolve_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_reset_t *r = op->u;

    if (rc != TD_OK) {
        td_hist__fail(op->call, rc, msg);
        return 0;
    }
    td_hist__read_events(r->h, op->arena, r->base_run_id, 1, r->base_next, 0, td_hist_reset_events,
                         r);
    return 0;
}

static void td_hist_reset_resolve(td_hist_reset_t *r)
{
    const char *run = r->req->workflow_execution->run_id;
    td_hist_op_t *op = td_hist_reset_op(r, run ? run : "", td_hist_reset_resolve_apply,
                                        td_hist_reset_resolve_done);
    td_hist__op_submit(op);
}

static void td_hist_reset(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__ResetWorkflowExecutionRequest *in =
            (const void *)td_rpc_request(call);
    const td_reset_req_t *q = in->request;
    td_hist_reset_t *r;

    if (q == NULL || in->namespace_id == NULL || in->namespace_id[0] == 0 ||
        q->workflow_execution == NULL || q->workflow_execution->workflow_id == NULL ||
        q->workflow_execution->workflow_id[0] == 0) {
        td_rpc_fail_err(call, TD_EINVAL,
                        "namespace_id and request.workflow_execution.workflow_id are required");
        return;
    }
    if (q->request_id == NULL || q->request_id[0] == 0) {
        td_rpc_fail_err(call, TD_EINVAL, "RequestId is not set on request.");
        return;
    }
    if (q->n_post_reset_operations > 0) {
        td_rpc_fail_err(call, TD_EUNIMPL,
                        "ResetWorkflowExecution post_reset_operations are not implemented by "
                        "temporald yet");
        return;
    }
    r = td_arena_calloc(td_rpc_arena(call), sizeof(*r));
    r->h = ctx;
    r->call = call;
    r->namespace_id = in->namespace_id;
    r->req = q;
    td_hist_reset_resolve(r);
}

int td_hist__register_reset(td_hist_t *h)
{
    const td_rpc_method_t m[] = {
        { TD_SVC_HISTORY "ResetWorkflowExecution", &HS(reset_workflow_execution_request),
          td_hist_reset, h },
    };
    return td_svc_register_all(h->srv, m, (int)(sizeof(m) / sizeof(m[0])));
}
