/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Relations with other workflows, on the side of the run that issued the command: child
 * workflows (StartChildWorkflowExecution and the outcomes the service reports back) and
 * signal / cancel requests to other workflows. The state machines and the wiring contract are
 * in ms.h. Callers: ms_wft.c (commands), the history service (outcomes), the unit tests.
 */
#include "ms_int.h"

#include <string.h>

#include "error.h"
#include "mem.h"

/* control is deprecated in the API but SDKs may still send it and read it back. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

typedef Temporal__Api__Common__V1__WorkflowExecution wexec_t;

static int bad(td_ms_txn_t *t, int cause, const char *msg)
{
    t->cause = cause;
    return td_ms__fail(t, TD_EINVAL, msg);
}

static int nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static wexec_t *wexec(td_arena_t *a, const char *workflow_id, const char *run_id)
{
    wexec_t *w = td_ms__pb_new(a, &temporal__api__common__v1__workflow_execution__descriptor);
    w->workflow_id = (char *)td_ms__astr(a, workflow_id);
    w->run_id = (char *)td_ms__astr(a, run_id);
    return w;
}

static Temporal__Api__Common__V1__WorkflowType *wtype(td_arena_t *a, const char *name)
{
    Temporal__Api__Common__V1__WorkflowType *w =
            td_ms__pb_new(a, &temporal__api__common__v1__workflow_type__descriptor);
    w->name = (char *)td_ms__astr(a, name);
    return w;
}

/* ---- child workflows ---- */

int td_ms__cmd_start_child(td_ms_t *ms, td_ms_txn_t *t, const td_ms_cmd_t *c, int64_t completed_id)
{
    const Temporal__Api__Command__V1__StartChildWorkflowExecutionCommandAttributes *ca =
            c->start_child_workflow_execution_command_attributes;
    int cause = TD_MS_CAUSE(BAD_START_CHILD_EXECUTION_ATTRIBUTES);
    td_ms_event_t *e;
    Temporal__Api__History__V1__StartChildWorkflowExecutionInitiatedEventAttributes *a;
    td_ms_child_t *ci;
    td_ms_task_t task = { 0 };
    const char *tq;
    int policy;

    if (ca == NULL) {
        return bad(t, cause, "StartChildWorkflowExecutionCommandAttributes is not set on command.");
    }
    if (!nonempty(ca->workflow_id)) {
        return bad(t, cause, "Required field WorkflowId is not set on command.");
    }
    if (ca->workflow_type == NULL || !nonempty(ca->workflow_type->name)) {
        return bad(t, cause, "Required field WorkflowType is not set on command.");
    }
    if (td_ms__dur_ns(ca->workflow_execution_timeout) < 0 ||
        td_ms__dur_ns(ca->workflow_run_timeout) < 0 ||
        td_ms__dur_ns(ca->workflow_task_timeout) < 0) {
        return bad(t, cause, "An invalid timeout is set on StartChildWorkflowExecutionCommand.");
    }
    policy = ca->parent_close_policy ? (int)ca->parent_close_policy : TD_MS_PCP(TERMINATE);
    if (policy != TD_MS_PCP(TERMINATE) && policy != TD_MS_PCP(ABANDON) &&
        policy != TD_MS_PCP(REQUEST_CANCEL)) {
        return bad(t, cause, "Invalid ParentClosePolicy on StartChildWorkflowExecutionCommand.");
    }
    if (td_ms__blob_check(t, (const ProtobufCMessage *)ca->input, cause,
                          "StartChildWorkflowExecutionCommandAttributes. Input exceeds size "
                          "limit.") != TD_OK) {
        return TD_EINVAL;
    }
    if (td_ms__pending_check(t, TD_MS_CAUSE(PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED), ms->n_children,
                             td_ms__limits(t)->pending_children,
                             "pending child workflow executions") != TD_OK) {
        return TD_EINVAL;
    }
    tq = (ca->task_queue && nonempty(ca->task_queue->name)) ? ca->task_queue->name : ms->task_queue;
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, START_CHILD_WORKFLOW_EXECUTION_INITIATED,
                 start_child_workflow_execution_initiated);
    e->user_metadata = c->user_metadata;
    a->namespace_ = (char *)td_ms__astr(t->arena, ca->namespace_);
    a->namespace_id = (char *)td_ms__astr(t->arena, ms->namespace_id);
    a->workflow_id = ca->workflow_id;
    a->workflow_type = ca->workflow_type;
    a->task_queue = td_ms__pb_new(t->arena, &temporal__api__taskqueue__v1__task_queue__descriptor);
    a->task_queue->name = (char *)td_ms__astr(t->arena, tq);
    a->task_queue->kind = TD_MS_TQ_NORMAL;
    a->input = ca->input;
    a->workflow_execution_timeout = ca->workflow_execution_timeout;
    a->workflow_run_timeout = ca->workflow_run_timeout;
    a->workflow_task_timeout = ca->workflow_task_timeout;
    a->parent_close_policy = policy;
    a->control = ca->control;
    a->workflow_task_completed_event_id = completed_id;
    a->workflow_id_reuse_policy = ca->workflow_id_reuse_policy;
    a->retry_policy = ca->retry_policy;
    a->cron_schedule = ca->cron_schedule;
    a->header = ca->header;
    a->memo = ca->memo;
    a->search_attributes = ca->search_attributes;
    a->priority = ca->priority;
    td_ms__event_commit(ms, t, e, 0);

    ms->children = td_realloc(ms->children, (ms->n_children + 1) * sizeof(*ms->children));
    ci = &ms->children[ms->n_children++];
    memset(ci, 0, sizeof(*ci));
    ci->initiated_id = e->event_id;
    ci->namespace_name = td_ms__strdup(ca->namespace_);
    ci->workflow_id = td_ms__strdup(ca->workflow_id);
    ci->workflow_type = td_ms__strdup(ca->workflow_type->name);
    ci->run_id = td_ms__strdup("");
    ci->parent_close_policy = policy;

    task.type = TD_MS_TASK_START_CHILD;
    task.event_id = ci->initiated_id;
    task.target_namespace_id = ms->namespace_id;
    task.target_workflow_id = ci->workflow_id;
    td_ms__task_add(t, &task);
    return TD_OK;
}

int td_ms_child_request(const td_ms_t *parent, const td_ms_event_t *initiated, td_arena_t *arena,
                        Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest **req,
                        td_ms_parent_t *p)
{
    const Temporal__Api__History__V1__StartChildWorkflowExecutionInitiatedEventAttributes *a;
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *r;

    *req = NULL;
    if (initiated == NULL ||
        initiated->event_type != TD_MS_ET(START_CHILD_WORKFLOW_EXECUTION_INITIATED) ||
        initiated->start_child_workflow_execution_initiated_event_attributes == NULL) {
        return TD_EINVAL;
    }
    a = initiated->start_child_workflow_execution_initiated_event_attributes;
    r = td_ms__pb_new(
            arena,
            &temporal__api__workflowservice__v1__start_workflow_execution_request__descriptor);
    r->namespace_ = a->namespace_;
    r->workflow_id = a->workflow_id;
    r->workflow_type = a->workflow_type;
    r->task_queue = a->task_queue;
    r->input = a->input;
    r->workflow_execution_timeout = a->workflow_execution_timeout;
    r->workflow_run_timeout = a->workflow_run_timeout;
    r->workflow_task_timeout = a->workflow_task_timeout;
    r->identity = (char *)"history-service";
    r->request_id =
            td_arena_printf(arena, "%s/child/%lld", parent->run_id, (long long)initiated->event_id);
    r->workflow_id_reuse_policy = a->workflow_id_reuse_policy;
    r->retry_policy = a->retry_policy;
    r->cron_schedule = a->cron_schedule;
    r->memo = a->memo;
    r->search_attributes = a->search_attributes;
    r->user_metadata = initiated->user_metadata;
    r->header = a->header;
    r->priority = a->priority;
    *req = r;

    memset(p, 0, sizeof(*p));
    p->namespace_name = a->namespace_; /* same namespace: the service may put the resolved name */
    p->namespace_id = parent->namespace_id;
    p->workflow_id = parent->workflow_id;
    p->run_id = parent->run_id;
    p->initiated_id = initiated->event_id;
    p->root_workflow_id = parent->root_workflow_id;
    p->root_run_id = parent->root_run_id;
    return TD_OK;
}

int td_ms_child_started(td_ms_t *ms, td_ms_txn_t *t, int64_t initiated_id, const char *run_id,
                        const Temporal__Api__Common__V1__Header *header)
{
    int rc = td_ms__check_open(ms, t);
    td_ms_child_t *ci;
    td_ms_event_t *e;
    Temporal__Api__History__V1__ChildWorkflowExecutionStartedEventAttributes *a;

    if (rc != TD_OK) {
        return rc;
    }
    ci = td_ms_child_find(ms, initiated_id);
    if (ci == NULL || ci->started) {
        return td_ms__fail(t, TD_ENOTFOUND, "child workflow is not pending start");
    }
    if (!nonempty(run_id)) {
        return td_ms__fail(t, TD_EINVAL, "child run id is required");
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, CHILD_WORKFLOW_EXECUTION_STARTED, child_workflow_execution_started);
    a->namespace_ = (char *)td_ms__astr(t->arena, ci->namespace_name);
    a->namespace_id = (char *)td_ms__astr(t->arena, ms->namespace_id);
    a->initiated_event_id = initiated_id;
    a->workflow_execution = wexec(t->arena, ci->workflow_id, run_id);
    a->workflow_type = wtype(t->arena, ci->workflow_type);
    a->header = (Temporal__Api__Common__V1__Header *)header;
    ci->started = 1;
    td_ms__str_set(&ci->run_id, run_id);
    /* 0 while buffered: the flush fills it in (ms_state.c, wire_child_started) */
    ci->started_id = td_ms__event_commit(ms, t, e, 1);
    td_ms__wft_need(ms, t);
    return TD_OK;
}

int td_ms_child_start_failed(td_ms_t *ms, td_ms_txn_t *t, int64_t initiated_id, int cause)
{
    int rc = td_ms__check_open(ms, t);
    td_ms_child_t *ci;
    td_ms_event_t *e;
    Temporal__Api__History__V1__StartChildWorkflowExecutionFailedEventAttributes *a;

    if (rc != TD_OK) {
        return rc;
    }
    ci = td_ms_child_find(ms, initiated_id);
    if (ci == NULL || ci->started) {
        return td_ms__fail(t, TD_ENOTFOUND, "child workflow is not pending start");
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, START_CHILD_WORKFLOW_EXECUTION_FAILED,
                 start_child_workflow_execution_failed);
    a->namespace_ = (char *)td_ms__astr(t->arena, ci->namespace_name);
    a->namespace_id = (char *)td_ms__astr(t->arena, ms->namespace_id);
    a->workflow_id = (char *)td_ms__astr(t->arena, ci->workflow_id);
    a->workflow_type = wtype(t->arena, ci->workflow_type);
    a->cause = cause;
    a->initiated_event_id = initiated_id;
    td_ms__event_commit(ms, t, e, 1);
    td_ms__child_remove(ms, initiated_id);
    td_ms__wft_need(ms, t);
    return TD_OK;
}

static int is_final_close(int type)
{
    return type == TD_MS_ET(WORKFLOW_EXECUTION_COMPLETED) ||
           type == TD_MS_ET(WORKFLOW_EXECUTION_FAILED) ||
           type == TD_MS_ET(WORKFLOW_EXECUTION_CANCELED) ||
           type == TD_MS_ET(WORKFLOW_EXECUTION_TERMINATED) ||
           type == TD_MS_ET(WORKFLOW_EXECUTION_TIMED_OUT);
}

int td_ms_child_closed(td_ms_t *ms, td_ms_txn_t *t, int64_t initiated_id, const char *run_id,
                       const td_ms_event_t *close)
{
    int rc = td_ms__check_open(ms, t);
    td_ms_child_t *ci;
    td_ms_event_t *e;
    const char *ns, *ns_id;
    wexec_t *we;
    Temporal__Api__Common__V1__WorkflowType *wt;
    int64_t started;

    if (rc != TD_OK) {
        return rc;
    }
    ci = td_ms_child_find(ms, initiated_id);
    if (ci == NULL) {
        return td_ms__fail(t, TD_ENOTFOUND, "child workflow is not pending completion");
    }
    if (close == NULL || !is_final_close(close->event_type)) {
        return td_ms__fail(t, TD_EINVAL, "not a final close event of a workflow run");
    }
    if (!ci->started) {
        /* The child ended before its start was recorded here (the START_CHILD task's last
         * step lost the race): record the start first, as Temporal does. */
        rc = td_ms_child_started(ms, t, initiated_id, run_id, NULL);
        if (rc != TD_OK) {
            return rc;
        }
        ci = td_ms_child_find(ms, initiated_id);
    }
    ns = td_ms__astr(t->arena, ci->namespace_name);
    ns_id = td_ms__astr(t->arena, ms->namespace_id);
    we = wexec(t->arena, ci->workflow_id, nonempty(run_id) ? run_id : ci->run_id);
    wt = wtype(t->arena, ci->workflow_type);
    started = ci->started_id;
    e = td_ms__event_new(t);
    switch (close->event_type) {
    case TD_MS_ET(WORKFLOW_EXECUTION_COMPLETED): {
        Temporal__Api__History__V1__ChildWorkflowExecutionCompletedEventAttributes *a = TD_MS_EV(
                e, t, CHILD_WORKFLOW_EXECUTION_COMPLETED, child_workflow_execution_completed);
        a->result = close->workflow_execution_completed_event_attributes
                            ? close->workflow_execution_completed_event_attributes->result
                            : NULL;
        a->namespace_ = (char *)ns;
        a->namespace_id = (char *)ns_id;
        a->workflow_execution = we;
        a->workflow_type = wt;
        a->initiated_event_id = initiated_id;
        a->started_event_id = started;
        break;
    }
    case TD_MS_ET(WORKFLOW_EXECUTION_FAILED): {
        const Temporal__Api__History__V1__WorkflowExecutionFailedEventAttributes *c =
                close->workflow_execution_failed_event_attributes;
        Temporal__Api__History__V1__ChildWorkflowExecutionFailedEventAttributes *a =
                TD_MS_EV(e, t, CHILD_WORKFLOW_EXECUTION_FAILED, child_workflow_execution_failed);
        a->failure = c ? c->failure : NULL;
        a->retry_state = c ? c->retry_state : 0;
        a->namespace_ = (char *)ns;
        a->namespace_id = (char *)ns_id;
        a->workflow_execution = we;
        a->workflow_type = wt;
        a->initiated_event_id = initiated_id;
        a->started_event_id = started;
        break;
    }
    case TD_MS_ET(WORKFLOW_EXECUTION_CANCELED): {
        Temporal__Api__History__V1__ChildWorkflowExecutionCanceledEventAttributes *a = TD_MS_EV(
                e, t, CHILD_WORKFLOW_EXECUTION_CANCELED, child_workflow_execution_canceled);
        a->details = close->workflow_execution_canceled_event_attributes
                             ? close->workflow_execution_canceled_event_attributes->details
                             : NULL;
        a->namespace_ = (char *)ns;
        a->namespace_id = (char *)ns_id;
        a->workflow_execution = we;
        a->workflow_type = wt;
        a->initiated_event_id = initiated_id;
        a->started_event_id = started;
        break;
    }
    case TD_MS_ET(WORKFLOW_EXECUTION_TERMINATED): {
        Temporal__Api__History__V1__ChildWorkflowExecutionTerminatedEventAttributes *a = TD_MS_EV(
                e, t, CHILD_WORKFLOW_EXECUTION_TERMINATED, child_workflow_execution_terminated);
        a->namespace_ = (char *)ns;
        a->namespace_id = (char *)ns_id;
        a->workflow_execution = we;
        a->workflow_type = wt;
        a->initiated_event_id = initiated_id;
        a->started_event_id = started;
        break;
    }
    case TD_MS_ET(WORKFLOW_EXECUTION_TIMED_OUT): {
        Temporal__Api__History__V1__ChildWorkflowExecutionTimedOutEventAttributes *a = TD_MS_EV(
                e, t, CHILD_WORKFLOW_EXECUTION_TIMED_OUT, child_workflow_execution_timed_out);
        a->retry_state = close->workflow_execution_timed_out_event_attributes
                                 ? close->workflow_execution_timed_out_event_attributes->retry_state
                                 : 0;
        a->namespace_ = (char *)ns;
        a->namespace_id = (char *)ns_id;
        a->workflow_execution = we;
        a->workflow_type = wt;
        a->initiated_event_id = initiated_id;
        a->started_event_id = started;
        break;
    }
    default:
        return td_ms__fail(t, TD_EINVAL, "not a final close event of a workflow run");
    }
    td_ms__event_commit(ms, t, e, 1);
    td_ms__child_remove(ms, initiated_id);
    td_ms__wft_need(ms, t);
    return TD_OK;
}

/* ---- signal / cancel other workflows ---- */

static size_t externals_of(const td_ms_t *ms, td_ms_external_kind_t kind)
{
    size_t n = 0;
    for (size_t i = 0; i < ms->n_externals; i++) {
        n += ms->externals[i].kind == kind;
    }
    return n;
}

static td_ms_external_t *external_add(td_ms_t *ms, int64_t id, td_ms_external_kind_t kind,
                                      const char *ns, const char *wid, const char *rid,
                                      const char *control)
{
    td_ms_external_t *x;
    ms->externals = td_realloc(ms->externals, (ms->n_externals + 1) * sizeof(*ms->externals));
    x = &ms->externals[ms->n_externals++];
    memset(x, 0, sizeof(*x));
    x->initiated_id = id;
    x->kind = kind;
    x->namespace_name = td_ms__strdup(ns);
    x->workflow_id = td_ms__strdup(wid);
    x->run_id = td_ms__strdup(rid);
    x->control = td_ms__strdup(control);
    return x;
}

static void external_task(td_ms_t *ms, td_ms_txn_t *t, td_ms_task_type_t type,
                          const td_ms_external_t *x)
{
    td_ms_task_t task = { 0 };
    task.type = type;
    task.event_id = x->initiated_id;
    task.target_namespace_id = ms->namespace_id;
    task.target_workflow_id = x->workflow_id;
    task.target_run_id = x->run_id;
    td_ms__task_add(t, &task);
}

int td_ms__cmd_signal_external(td_ms_t *ms, td_ms_txn_t *t, const td_ms_cmd_t *c,
                               int64_t completed_id)
{
    const Temporal__Api__Command__V1__SignalExternalWorkflowExecutionCommandAttributes *ca =
            c->signal_external_workflow_execution_command_attributes;
    int cause = TD_MS_CAUSE(BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES);
    td_ms_event_t *e;
    Temporal__Api__History__V1__SignalExternalWorkflowExecutionInitiatedEventAttributes *a;
    const td_ms_external_t *x;

    if (ca == NULL || ca->execution == NULL || !nonempty(ca->execution->workflow_id)) {
        return bad(t, cause, "Execution is not set on SignalExternalWorkflowExecutionCommand.");
    }
    if (!nonempty(ca->signal_name)) {
        return bad(t, cause, "SignalName is not set on SignalExternalWorkflowExecutionCommand.");
    }
    if (td_ms__pending_check(t, TD_MS_CAUSE(PENDING_SIGNALS_LIMIT_EXCEEDED),
                             externals_of(ms, TD_MS_EXTERNAL_SIGNAL),
                             td_ms__limits(t)->pending_signals,
                             "pending signals to external workflows") != TD_OK) {
        return TD_EINVAL;
    }
    if (td_ms__blob_check(t, (const ProtobufCMessage *)ca->input, cause,
                          "SignalExternalWorkflowExecutionCommandAttributes.Input exceeds size "
                          "limit.") != TD_OK) {
        return TD_EINVAL;
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
                 signal_external_workflow_execution_initiated);
    e->user_metadata = c->user_metadata;
    a->workflow_task_completed_event_id = completed_id;
    a->namespace_ = (char *)td_ms__astr(t->arena, ca->namespace_);
    a->namespace_id = (char *)td_ms__astr(t->arena, ms->namespace_id);
    a->workflow_execution = wexec(t->arena, ca->execution->workflow_id, ca->execution->run_id);
    a->signal_name = ca->signal_name;
    a->input = ca->input;
    a->control = ca->control;
    a->child_workflow_only = ca->child_workflow_only;
    a->header = ca->header;
    td_ms__event_commit(ms, t, e, 0);
    x = external_add(ms, e->event_id, TD_MS_EXTERNAL_SIGNAL, ca->namespace_,
                     ca->execution->workflow_id, ca->execution->run_id, ca->control);
    external_task(ms, t, TD_MS_TASK_SIGNAL_EXTERNAL, x);
    return TD_OK;
}

int td_ms__cmd_cancel_external(td_ms_t *ms, td_ms_txn_t *t, const td_ms_cmd_t *c,
                               int64_t completed_id)
{
    const Temporal__Api__Command__V1__RequestCancelExternalWorkflowExecutionCommandAttributes *ca =
            c->request_cancel_external_workflow_execution_command_attributes;
    td_ms_event_t *e;
    Temporal__Api__History__V1__RequestCancelExternalWorkflowExecutionInitiatedEventAttributes *a;
    const td_ms_external_t *x;

    if (ca == NULL || !nonempty(ca->workflow_id)) {
        return bad(t, TD_MS_CAUSE(BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES),
                   "WorkflowId is not set on RequestCancelExternalWorkflowExecutionCommand.");
    }
    if (td_ms__pending_check(t, TD_MS_CAUSE(PENDING_REQUEST_CANCEL_LIMIT_EXCEEDED),
                             externals_of(ms, TD_MS_EXTERNAL_CANCEL),
                             td_ms__limits(t)->pending_cancels,
                             "pending requests to cancel external workflows") != TD_OK) {
        return TD_EINVAL;
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
                 request_cancel_external_workflow_execution_initiated);
    e->user_metadata = c->user_metadata;
    a->workflow_task_completed_event_id = completed_id;
    a->namespace_ = (char *)td_ms__astr(t->arena, ca->namespace_);
    a->namespace_id = (char *)td_ms__astr(t->arena, ms->namespace_id);
    a->workflow_execution = wexec(t->arena, ca->workflow_id, ca->run_id);
    a->control = ca->control;
    a->child_workflow_only = ca->child_workflow_only;
    a->reason = ca->reason;
    td_ms__event_commit(ms, t, e, 0);
    x = external_add(ms, e->event_id, TD_MS_EXTERNAL_CANCEL, ca->namespace_, ca->workflow_id,
                     ca->run_id, ca->control);
    external_task(ms, t, TD_MS_TASK_CANCEL_EXTERNAL, x);
    return TD_OK;
}

const char *td_ms_external_request_id(const td_ms_t *ms, int64_t initiated_id, td_arena_t *arena)
{
    return td_arena_printf(arena, "%s/external/%lld", ms->run_id, (long long)initiated_id);
}

static int external_outcome(td_ms_t *ms, td_ms_txn_t *t, int64_t initiated_id, int failed,
                            int cause)
{
    int rc = td_ms__check_open(ms, t);
    td_ms_external_t *x;
    td_ms_event_t *e;
    const char *ns, *ns_id, *control;
    wexec_t *we;

    if (rc != TD_OK) {
        return rc;
    }
    x = td_ms_external_find(ms, initiated_id);
    if (x == NULL) {
        return td_ms__fail(t, TD_ENOTFOUND, "no pending external request");
    }
    ns = td_ms__astr(t->arena, x->namespace_name);
    ns_id = td_ms__astr(t->arena, ms->namespace_id);
    control = td_ms__astr(t->arena, x->control);
    we = wexec(t->arena, x->workflow_id, x->run_id);
    e = td_ms__event_new(t);
    if (x->kind == TD_MS_EXTERNAL_SIGNAL && !failed) {
        Temporal__Api__History__V1__ExternalWorkflowExecutionSignaledEventAttributes *a = TD_MS_EV(
                e, t, EXTERNAL_WORKFLOW_EXECUTION_SIGNALED, external_workflow_execution_signaled);
        a->initiated_event_id = initiated_id;
        a->namespace_ = (char *)ns;
        a->namespace_id = (char *)ns_id;
        a->workflow_execution = we;
        a->control = (char *)control;
    } else if (x->kind == TD_MS_EXTERNAL_SIGNAL) {
        Temporal__Api__History__V1__SignalExternalWorkflowExecutionFailedEventAttributes *a =
                TD_MS_EV(e, t, SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                         signal_external_workflow_execution_failed);
        a->cause = cause;
        a->namespace_ = (char *)ns;
        a->namespace_id = (char *)ns_id;
        a->workflow_execution = we;
        a->initiated_event_id = initiated_id;
        a->control = (char *)control;
    } else if (!failed) {
        Temporal__Api__History__V1__ExternalWorkflowExecutionCancelRequestedEventAttributes *a =
                TD_MS_EV(e, t, EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                         external_workflow_execution_cancel_requested);
        a->initiated_event_id = initiated_id;
        a->namespace_ = (char *)ns;
        a->namespace_id = (char *)ns_id;
        a->workflow_execution = we;
    } else {
        Temporal__Api__History__V1__RequestCancelExternalWorkflowExecutionFailedEventAttributes *a =
                TD_MS_EV(e, t, REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                         request_cancel_external_workflow_execution_failed);
        a->cause = cause;
        a->namespace_ = (char *)ns;
        a->namespace_id = (char *)ns_id;
        a->workflow_execution = we;
        a->initiated_event_id = initiated_id;
        a->control = (char *)control;
    }
    td_ms__event_commit(ms, t, e, 1);
    td_ms__external_remove(ms, initiated_id);
    td_ms__wft_need(ms, t);
    return TD_OK;
}

int td_ms_external_done(td_ms_t *ms, td_ms_txn_t *t, int64_t initiated_id)
{
    return external_outcome(ms, t, initiated_id, 0, 0);
}

int td_ms_external_failed(td_ms_t *ms, td_ms_txn_t *t, int64_t initiated_id, int cause)
{
    return external_outcome(ms, t, initiated_id, 1, cause);
}
