/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workflow reset, the pure part: rebuilding a run's mutable state from its history events
 * (td_ms_replay) and building the run a ResetWorkflowExecution creates (td_ms_reset). The
 * history service reads the base run's events, calls these and writes the result in one store
 * write (hist_reset.c); nothing here does I/O.
 *
 * Design note: history is copied, not forked. Temporal forks the base run's history branch at
 * the reset point, so the two runs share the prefix in storage. temporald stores one branch per
 * run (tree id = branch id = run id) and the new run's history starts as a copy of the base
 * run's events 1 .. finish_id-1, written with the new run's first store write. Cost: the
 * prefix is read once and stored twice (time and space linear in its size, once per reset);
 * in exchange every history reader, cache and retention path sees ordinary runs only.
 *
 * Children pending at the reset point are kept, not restarted (as Temporal does): a child is
 * a running workflow of its own, so the new run adopts it, and the starts and outcomes the
 * base recorded for it past the reset point are written again. A child still only initiated
 * would need its start dispatched again (and deduplicated against a start already under way):
 * not done, TD_EUNIMPL.
 *
 * Replay applies each event's effect on the state directly (the inverse of the transitions in
 * ms_wft.c / ms_activity.c / ms_child.c / ms_exec.c that wrote them):
 *
 *   event                                  effect on the rebuilt state
 *   WorkflowExecutionStarted               td_ms__start from its attributes (no task)
 *   WorkflowTaskScheduled / Started        the pending workflow task (normal queue)
 *   WorkflowTaskCompleted                  previous_started_event_id; no task pending
 *   WorkflowTaskFailed / TimedOut          no task pending
 *   ActivityTaskScheduled                  a pending activity, attempt 1
 *   ActivityTaskStarted                    none (written together with the outcome)
 *   ActivityTask{Completed,Failed,TimedOut,Canceled}   the activity is gone
 *   ActivityTaskCancelRequested            the activity's cancel_requested
 *   TimerStarted / Fired / Canceled        a pending timer / gone
 *   StartChildWorkflowExecutionInitiated, ChildWorkflowExecutionStarted, child outcomes
 *                                          the pending child record
 *   {Signal,RequestCancel}External...Initiated and their outcomes   the pending request
 *   WorkflowExecutionSignaled              its request id (deduplication)
 *   WorkflowExecutionCancelRequested       cancel_requested
 *   UpsertWorkflowSearchAttributes, WorkflowPropertiesModified   search attributes / memo
 *   MarkerRecorded                         none
 *   WorkflowExecutionUpdate{Accepted,Completed}  the update record (ms_update.c)
 *   anything else                          TD_EUNIMPL
 */
#include "ms_int.h"
#include "ms_reset.h"

#include <string.h>

#include "error.h"
#include "mem.h"
#include "temporal/api/failure/v1/message.pb-c.h"

typedef Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest start_req_t;

static int nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static int64_t ev_time(const td_ms_event_t *e)
{
    return td_ms__ts_ns(e->event_time);
}

/* Records a signal request id; returns 1 if it was seen before. */
static int signal_seen(td_ms_t *ms, const char *request_id)
{
    if (!nonempty(request_id)) {
        return 0;
    }
    for (size_t i = 0; i < ms->n_signal_request_ids; i++) {
        if (strcmp(ms->signal_request_ids[i], request_id) == 0) {
            return 1;
        }
    }
    ms->signal_request_ids =
            td_realloc(ms->signal_request_ids, (ms->n_signal_request_ids + 1) * sizeof(char *));
    ms->signal_request_ids[ms->n_signal_request_ids++] = td_strdup(request_id);
    return 0;
}

/* ---- replay ---- */

/* The state a WorkflowExecutionStarted event describes, through td_ms__start (its own events
 * and tasks go to a scratch txn and are dropped). */
static int replay_started(td_ms_txn_t *t, const td_ms_event_t *e, const char *namespace_id,
                          const char *workflow_id, const char *run_id, td_ms_t **out)
{
    const Temporal__Api__History__V1__WorkflowExecutionStartedEventAttributes *a =
            e->workflow_execution_started_event_attributes;
    start_req_t req = TEMPORAL__API__WORKFLOWSERVICE__V1__START_WORKFLOW_EXECUTION_REQUEST__INIT;
    td_ms_start_opts_t o = { .schedule = 0, .has_backoff = 1, .backoff = 0 };
    td_ms_parent_t parent = { 0 };
    td_ms_txn_t scratch;
    int rc;

    if (a == NULL) {
        return td_ms__fail(t, TD_EINVAL, "WorkflowExecutionStarted has no attributes");
    }
    req.workflow_id = (char *)workflow_id;
    req.workflow_type = a->workflow_type;
    req.task_queue = a->task_queue;
    req.input = a->input;
    req.workflow_execution_timeout = a->workflow_execution_timeout;
    req.workflow_run_timeout = a->workflow_run_timeout;
    req.workflow_task_timeout = a->workflow_task_timeout;
    req.identity = a->identity;
    req.retry_policy = a->retry_policy;
    req.cron_schedule = a->cron_schedule;
    req.memo = a->memo;
    req.search_attributes = a->search_attributes;
    req.user_metadata = e->user_metadata;
    req.header = a->header;
    req.priority = a->priority;
    if (a->parent_workflow_execution != NULL &&
        nonempty(a->parent_workflow_execution->workflow_id)) {
        parent.namespace_name = a->parent_workflow_namespace;
        parent.namespace_id = a->parent_workflow_namespace_id;
        parent.workflow_id = a->parent_workflow_execution->workflow_id;
        parent.run_id = a->parent_workflow_execution->run_id;
        parent.initiated_id = a->parent_initiated_event_id;
        if (a->root_workflow_execution != NULL &&
            nonempty(a->root_workflow_execution->workflow_id)) {
            parent.root_workflow_id = a->root_workflow_execution->workflow_id;
            parent.root_run_id = a->root_workflow_execution->run_id;
        }
        o.parent = &parent;
    }
    if (a->initiator != 0) {
        o.initiator = a->initiator;
        o.continued_run_id = a->continued_execution_run_id;
    }
    if (nonempty(a->first_execution_run_id)) {
        o.first_run_id = a->first_execution_run_id;
    }
    o.attempt = a->attempt;
    o.last_completion_result = a->last_completion_result;
    o.continued_failure = a->continued_failure;

    td_ms_txn_init(&scratch, t->arena, t->now);
    rc = td_ms__start(&scratch, &req, namespace_id, run_id, &o, out);
    if (rc != TD_OK) {
        return td_ms__fail(t, rc, scratch.msg);
    }
    (*out)->next_event_id = 1;
    (*out)->history_size_bytes = 0;
    if ((*out)->has_retry_policy || nonempty((*out)->cron_schedule)) {
        td_ms__blob_set(&(*out)->start_attrs, &a->base);
    }
    return TD_OK;
}

static void replay_activity_scheduled(td_ms_t *ms, const td_ms_event_t *e)
{
    const Temporal__Api__History__V1__ActivityTaskScheduledEventAttributes *a =
            e->activity_task_scheduled_event_attributes;
    td_ms_activity_t *ai;

    ms->activities = td_realloc(ms->activities, (ms->n_activities + 1) * sizeof(*ms->activities));
    ai = &ms->activities[ms->n_activities++];
    memset(ai, 0, sizeof(*ai));
    ai->scheduled_id = e->event_id;
    ai->activity_id = td_ms__strdup(a->activity_id);
    ai->activity_type = td_ms__strdup(a->activity_type ? a->activity_type->name : "");
    ai->task_queue = td_ms__strdup(
            a->task_queue && nonempty(a->task_queue->name) ? a->task_queue->name : ms->task_queue);
    ai->scheduled_time = ai->current_attempt_scheduled_time = ev_time(e);
    ai->schedule_to_close = td_ms__dur_ns(a->schedule_to_close_timeout);
    ai->schedule_to_start = td_ms__dur_ns(a->schedule_to_start_timeout);
    ai->start_to_close = td_ms__dur_ns(a->start_to_close_timeout);
    ai->heartbeat = td_ms__dur_ns(a->heartbeat_timeout);
    if (td_ms__retry_normalise(&ai->retry, a->retry_policy) != TD_OK) {
        td_ms__retry_free(&ai->retry);
        td_ms__retry_normalise(&ai->retry, NULL);
    }
    ai->attempt = 1;
}

static void replay_child_initiated(td_ms_t *ms, const td_ms_event_t *e)
{
    const Temporal__Api__History__V1__StartChildWorkflowExecutionInitiatedEventAttributes *a =
            e->start_child_workflow_execution_initiated_event_attributes;
    td_ms_child_t *ci;

    ms->children = td_realloc(ms->children, (ms->n_children + 1) * sizeof(*ms->children));
    ci = &ms->children[ms->n_children++];
    memset(ci, 0, sizeof(*ci));
    ci->initiated_id = e->event_id;
    ci->namespace_name = td_ms__strdup(a->namespace_);
    ci->workflow_id = td_ms__strdup(a->workflow_id);
    ci->workflow_type = td_ms__strdup(a->workflow_type ? a->workflow_type->name : "");
    ci->run_id = td_ms__strdup("");
    ci->parent_close_policy =
            a->parent_close_policy != 0 ? (int)a->parent_close_policy : TD_MS_PCP(TERMINATE);
}

static void replay_external(td_ms_t *ms, const td_ms_event_t *e, td_ms_external_kind_t kind,
                            const char *ns, const Temporal__Api__Common__V1__WorkflowExecution *we,
                            const char *control)
{
    td_ms_external_t *x;

    ms->externals = td_realloc(ms->externals, (ms->n_externals + 1) * sizeof(*ms->externals));
    x = &ms->externals[ms->n_externals++];
    memset(x, 0, sizeof(*x));
    x->initiated_id = e->event_id;
    x->kind = kind;
    x->namespace_name = td_ms__strdup(ns);
    x->workflow_id = td_ms__strdup(we ? we->workflow_id : "");
    x->run_id = td_ms__strdup(we ? we->run_id : "");
    x->control = td_ms__strdup(control);
}

/* The child a close / start-failed event names (initiated_event_id is field-compatible). */
#define CHILD_DONE(ms, e, lower) \
    td_ms__child_remove((ms), (e)->lower##_event_attributes->initiated_event_id)
#define EXTERNAL_DONE(ms, e, lower) \
    td_ms__external_remove((ms), (e)->lower##_event_attributes->initiated_event_id)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
/* Applies one event (already in history) to the state. */
static int replay_event(td_ms_t *ms, td_ms_txn_t *t, const td_ms_event_t *e)
{
    switch (e->event_type) {
    case TD_MS_ET(WORKFLOW_TASK_SCHEDULED): {
        const Temporal__Api__History__V1__WorkflowTaskScheduledEventAttributes *a =
                e->workflow_task_scheduled_event_attributes;
        td_ms__wft_clear(ms);
        ms->wft.scheduled_id = e->event_id;
        ms->wft.attempt = a->attempt > 0 ? a->attempt : 1;
        ms->wft.task_queue = td_ms__strdup(ms->task_queue);
        ms->wft.task_queue_kind = TD_MS_TQ_NORMAL;
        ms->wft.start_to_close = td_ms__dur_ns(a->start_to_close_timeout);
        if (ms->wft.start_to_close <= 0) {
            ms->wft.start_to_close = ms->task_timeout;
        }
        ms->wft.scheduled_time = ms->wft.original_scheduled_time = ev_time(e);
        return TD_OK;
    }
    case TD_MS_ET(WORKFLOW_TASK_STARTED): {
        const Temporal__Api__History__V1__WorkflowTaskStartedEventAttributes *a =
                e->workflow_task_started_event_attributes;
        ms->wft.started_id = e->event_id;
        td_ms__str_set(&ms->wft.request_id, a->request_id);
        td_ms__str_set(&ms->wft.identity, a->identity);
        ms->wft.started_time = ev_time(e);
        return TD_OK;
    }
    case TD_MS_ET(WORKFLOW_TASK_COMPLETED):
        ms->previous_started_event_id = ms->wft.started_id;
        td_ms__wft_clear(ms);
        return TD_OK;
    case TD_MS_ET(WORKFLOW_TASK_FAILED):
    case TD_MS_ET(WORKFLOW_TASK_TIMED_OUT):
        td_ms__wft_clear(ms);
        return TD_OK;
    case TD_MS_ET(ACTIVITY_TASK_SCHEDULED):
        replay_activity_scheduled(ms, e);
        return TD_OK;
    case TD_MS_ET(ACTIVITY_TASK_STARTED):
        return TD_OK;
    case TD_MS_ET(ACTIVITY_TASK_COMPLETED):
        td_ms__activity_remove(ms, e->activity_task_completed_event_attributes->scheduled_event_id);
        return TD_OK;
    case TD_MS_ET(ACTIVITY_TASK_FAILED):
        td_ms__activity_remove(ms, e->activity_task_failed_event_attributes->scheduled_event_id);
        return TD_OK;
    case TD_MS_ET(ACTIVITY_TASK_TIMED_OUT):
        td_ms__activity_remove(ms, e->activity_task_timed_out_event_attributes->scheduled_event_id);
        return TD_OK;
    case TD_MS_ET(ACTIVITY_TASK_CANCELED):
        td_ms__activity_remove(ms, e->activity_task_canceled_event_attributes->scheduled_event_id);
        return TD_OK;
    case TD_MS_ET(ACTIVITY_TASK_CANCEL_REQUESTED): {
        td_ms_activity_t *ai = td_ms_activity_find(
                ms, e->activity_task_cancel_requested_event_attributes->scheduled_event_id);
        if (ai != NULL) {
            ai->cancel_requested = 1;
            ai->cancel_requested_event_id = e->event_id;
        }
        return TD_OK;
    }
    case TD_MS_ET(TIMER_STARTED): {
        const Temporal__Api__History__V1__TimerStartedEventAttributes *a =
                e->timer_started_event_attributes;
        td_ms_timer_t *ti;
        ms->timers = td_realloc(ms->timers, (ms->n_timers + 1) * sizeof(*ms->timers));
        ti = &ms->timers[ms->n_timers++];
        ti->timer_id = td_ms__strdup(a->timer_id);
        ti->started_id = e->event_id;
        ti->expiry_time = ev_time(e) + td_ms__dur_ns(a->start_to_fire_timeout);
        return TD_OK;
    }
    case TD_MS_ET(TIMER_FIRED):
        td_ms__timer_remove(ms, e->timer_fired_event_attributes->timer_id);
        return TD_OK;
    case TD_MS_ET(TIMER_CANCELED):
        td_ms__timer_remove(ms, e->timer_canceled_event_attributes->timer_id);
        return TD_OK;
    case TD_MS_ET(START_CHILD_WORKFLOW_EXECUTION_INITIATED):
        replay_child_initiated(ms, e);
        return TD_OK;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_STARTED): {
        const Temporal__Api__History__V1__ChildWorkflowExecutionStartedEventAttributes *a =
                e->child_workflow_execution_started_event_attributes;
        td_ms_child_t *ci = td_ms_child_find(ms, a->initiated_event_id);
        if (ci != NULL) {
            ci->started = 1;
            ci->started_id = e->event_id;
            td_ms__str_set(&ci->run_id, a->workflow_execution ? a->workflow_execution->run_id : "");
        }
        return TD_OK;
    }
    case TD_MS_ET(START_CHILD_WORKFLOW_EXECUTION_FAILED):
        CHILD_DONE(ms, e, start_child_workflow_execution_failed);
        return TD_OK;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_COMPLETED):
        CHILD_DONE(ms, e, child_workflow_execution_completed);
        return TD_OK;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_FAILED):
        CHILD_DONE(ms, e, child_workflow_execution_failed);
        return TD_OK;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_CANCELED):
        CHILD_DONE(ms, e, child_workflow_execution_canceled);
        return TD_OK;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_TIMED_OUT):
        CHILD_DONE(ms, e, child_workflow_execution_timed_out);
        return TD_OK;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_TERMINATED):
        CHILD_DONE(ms, e, child_workflow_execution_terminated);
        return TD_OK;
    case TD_MS_ET(SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED): {
        const Temporal__Api__History__V1__SignalExternalWorkflowExecutionInitiatedEventAttributes
                *a = e->signal_external_workflow_execution_initiated_event_attributes;
        replay_external(ms, e, TD_MS_EXTERNAL_SIGNAL, a->namespace_, a->workflow_execution,
                        a->control);
        return TD_OK;
    }
    case TD_MS_ET(REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED): {
        const Temporal__Api__History__V1__RequestCancelExternalWorkflowExecutionInitiatedEventAttributes
                *a = e->request_cancel_external_workflow_execution_initiated_event_attributes;
        replay_external(ms, e, TD_MS_EXTERNAL_CANCEL, a->namespace_, a->workflow_execution,
                        a->control);
        return TD_OK;
    }
    case TD_MS_ET(EXTERNAL_WORKFLOW_EXECUTION_SIGNALED):
        EXTERNAL_DONE(ms, e, external_workflow_execution_signaled);
        return TD_OK;
    case TD_MS_ET(SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED):
        EXTERNAL_DONE(ms, e, signal_external_workflow_execution_failed);
        return TD_OK;
    case TD_MS_ET(EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED):
        EXTERNAL_DONE(ms, e, external_workflow_execution_cancel_requested);
        return TD_OK;
    case TD_MS_ET(REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED):
        EXTERNAL_DONE(ms, e, request_cancel_external_workflow_execution_failed);
        return TD_OK;
    case TD_MS_ET(WORKFLOW_EXECUTION_SIGNALED):
        signal_seen(ms, e->workflow_execution_signaled_event_attributes->request_id);
        return TD_OK;
    case TD_MS_ET(WORKFLOW_EXECUTION_CANCEL_REQUESTED):
        ms->cancel_requested = 1;
        return TD_OK;
    case TD_MS_ET(MARKER_RECORDED):
        return TD_OK;
    case TD_MS_ET(WORKFLOW_EXECUTION_UPDATE_ACCEPTED):
    case TD_MS_ET(WORKFLOW_EXECUTION_UPDATE_COMPLETED):
        return td_ms__update_replay(ms, t, e);
    case TD_MS_ET(UPSERT_WORKFLOW_SEARCH_ATTRIBUTES): {
        const Temporal__Api__Common__V1__SearchAttributes *sa =
                e->upsert_workflow_search_attributes_event_attributes->search_attributes;
        if (sa != NULL) {
            td_ms__merge_payload_map(&ms->search_attributes,
                                     &temporal__api__common__v1__search_attributes__descriptor,
                                     sa->n_indexed_fields, sa->indexed_fields, t->arena);
        }
        return TD_OK;
    }
    case TD_MS_ET(WORKFLOW_PROPERTIES_MODIFIED): {
        const Temporal__Api__Common__V1__Memo *m =
                e->workflow_properties_modified_event_attributes->upserted_memo;
        if (m != NULL) {
            td_ms__merge_payload_map(
                    &ms->memo, &temporal__api__common__v1__memo__descriptor, m->n_fields,
                    (Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry **)m->fields,
                    t->arena);
        }
        return TD_OK;
    }
    default:
        t->msg = td_arena_printf(t->arena,
                                 "history event %lld of type %d cannot be replayed by temporald",
                                 (long long)e->event_id, (int)e->event_type);
        return TD_EUNIMPL;
    }
}
#pragma GCC diagnostic pop

/* Whether the event's attributes are set (every case of replay_event reads them). */
static int has_attributes(const td_ms_event_t *e)
{
    return e->attributes_case != TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES__NOT_SET;
}

int td_ms_replay(td_ms_txn_t *t, td_ms_event_t *const *ev, size_t n, const char *namespace_id,
                 const char *workflow_id, const char *run_id, td_ms_t **out)
{
    td_ms_t *ms = NULL;
    int rc = TD_OK;

    *out = NULL;
    if (n == 0 || ev[0]->event_id != 1 ||
        ev[0]->event_type != TD_MS_ET(WORKFLOW_EXECUTION_STARTED)) {
        return td_ms__fail(t, TD_EINVAL, "a history must start with WorkflowExecutionStarted");
    }
    rc = replay_started(t, ev[0], namespace_id, workflow_id, run_id, &ms);
    for (size_t i = 0; rc == TD_OK && i < n; i++) {
        td_ms_event_t *copy;

        if (ev[i]->event_id != (int64_t)i + 1 || !has_attributes(ev[i])) {
            rc = td_ms__fail(t, TD_EINVAL, "history events are not dense from 1");
            break;
        }
        copy = td_arena_memdup(t->arena, ev[i], sizeof(*ev[i]));
        td_ms__event_commit(ms, t, copy, 0);
        if (i > 0) {
            rc = replay_event(ms, t, copy);
        }
    }
    if (rc != TD_OK) {
        td_ms_free(ms);
        return rc;
    }
    *out = ms;
    return TD_OK;
}

/* ---- reset ---- */

/* A fresh attempt of a pending activity, scheduled now (what cmd_schedule_activity
 * dispatches). */
static void reschedule_activity(td_ms_txn_t *t, td_ms_activity_t *ai)
{
    td_ms_task_t task = { 0 };

    ai->scheduled_time = ai->current_attempt_scheduled_time = t->now;
    ai->started = 0;
    task.type = TD_MS_TASK_ACTIVITY_TASK;
    task.event_id = ai->scheduled_id;
    task.attempt = ai->attempt;
    task.task_queue = ai->task_queue;
    task.task_queue_kind = TD_MS_TQ_NORMAL;
    task.schedule_to_start = ai->schedule_to_start;
    td_ms__task_add(t, &task);
    if (ai->schedule_to_start > 0) {
        td_ms__timer_add(t, TD_MS_TASK_ACTIVITY_TIMEOUT, t->now + ai->schedule_to_start,
                         ai->scheduled_id, ai->attempt, TD_MS_TO(SCHEDULE_TO_START));
    }
    if (ai->schedule_to_close > 0) {
        td_ms__timer_add(t, TD_MS_TASK_ACTIVITY_TIMEOUT, t->now + ai->schedule_to_close,
                         ai->scheduled_id, ai->attempt, TD_MS_TO(SCHEDULE_TO_CLOSE));
    }
}

/* Tasks for everything pending at the reset point (Temporal regenerates them the same way). */
static void pending_tasks(td_ms_t *ms, td_ms_txn_t *t)
{
    for (size_t i = 0; i < ms->n_activities; i++) {
        reschedule_activity(t, &ms->activities[i]);
    }
    for (size_t i = 0; i < ms->n_timers; i++) {
        td_ms_task_t task = { .type = TD_MS_TASK_USER_TIMER };
        task.fire_time = ms->timers[i].expiry_time;
        task.event_id = ms->timers[i].started_id;
        task.timer_id = ms->timers[i].timer_id;
        td_ms__task_add(t, &task);
    }
    for (size_t i = 0; i < ms->n_externals; i++) {
        const td_ms_external_t *x = &ms->externals[i];
        td_ms_task_t task = { 0 };
        task.type = x->kind == TD_MS_EXTERNAL_SIGNAL ? TD_MS_TASK_SIGNAL_EXTERNAL
                                                     : TD_MS_TASK_CANCEL_EXTERNAL;
        task.event_id = x->initiated_id;
        task.target_namespace_id = ms->namespace_id;
        task.target_workflow_id = x->workflow_id;
        task.target_run_id = x->run_id;
        td_ms__task_add(t, &task);
    }
}

/* WorkflowTaskStarted (if needed) + WorkflowTaskFailed RESET_WORKFLOW for the pending task. */
static void fail_pending_wft(td_ms_t *ms, td_ms_txn_t *t, const td_ms_reset_t *r)
{
    td_ms_event_t *e;
    Temporal__Api__History__V1__WorkflowTaskFailedEventAttributes *a;
    Temporal__Api__Failure__V1__Failure *f;

    if (ms->wft.started_id == 0) {
        Temporal__Api__History__V1__WorkflowTaskStartedEventAttributes *s;
        e = td_ms__event_new(t);
        s = TD_MS_EV(e, t, WORKFLOW_TASK_STARTED, workflow_task_started);
        s->scheduled_event_id = ms->wft.scheduled_id;
        s->identity = TD_MS_IDENTITY_HISTORY;
        s->request_id = (char *)td_ms__astr(t->arena, ms->wft.request_id);
        s->history_size_bytes = ms->history_size_bytes;
        ms->wft.started_id = td_ms__event_commit(ms, t, e, 0);
        ms->wft.started_time = t->now;
    }
    f = td_ms__pb_new(t->arena, &temporal__api__failure__v1__failure__descriptor);
    f->message = (char *)td_ms__astr(t->arena, r->reason);
    f->failure_info_case =
            TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_RESET_WORKFLOW_FAILURE_INFO;
    f->reset_workflow_failure_info = td_ms__pb_new(
            t->arena, &temporal__api__failure__v1__reset_workflow_failure_info__descriptor);
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, WORKFLOW_TASK_FAILED, workflow_task_failed);
    a->scheduled_event_id = ms->wft.scheduled_id;
    a->started_event_id = ms->wft.started_id;
    a->cause = TD_MS_CAUSE(RESET_WORKFLOW);
    a->failure = f;
    a->identity = TD_MS_IDENTITY_HISTORY;
    a->base_run_id = (char *)td_ms__astr(t->arena, r->base_run_id);
    a->new_run_id = (char *)td_ms__astr(t->arena, r->new_run_id);
    a->fork_event_version = 0;
    td_ms__event_commit(ms, t, e, 0);
    td_ms__wft_clear(ms);
}

/* A copy of a child close event's attributes naming the new run's Started event. */
#define CHILD_CLOSE(e, old, lower, ci)                                                             \
    do {                                                                                           \
        (e)->lower##_event_attributes = td_arena_memdup(t->arena, (old)->lower##_event_attributes, \
                                                        sizeof(*(old)->lower##_event_attributes)); \
        (e)->lower##_event_attributes->started_event_id = (ci)->started_id;                        \
    } while (0)

/* A child event of the base run past the reset point, for a child pending in the new run: its
 * start or outcome is written again (Temporal reapplies them for the children it keeps).
 * Returns 1 if the event was a child event (written or not). */
static int reapply_child(td_ms_t *ms, td_ms_txn_t *t, const td_ms_event_t *old)
{
    td_ms_child_t *ci;
    td_ms_event_t *e;
    int64_t initiated;

    switch (old->event_type) {
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_STARTED):
        initiated = old->child_workflow_execution_started_event_attributes->initiated_event_id;
        break;
    case TD_MS_ET(START_CHILD_WORKFLOW_EXECUTION_FAILED):
        initiated = old->start_child_workflow_execution_failed_event_attributes->initiated_event_id;
        break;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_COMPLETED):
        initiated = old->child_workflow_execution_completed_event_attributes->initiated_event_id;
        break;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_FAILED):
        initiated = old->child_workflow_execution_failed_event_attributes->initiated_event_id;
        break;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_CANCELED):
        initiated = old->child_workflow_execution_canceled_event_attributes->initiated_event_id;
        break;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_TIMED_OUT):
        initiated = old->child_workflow_execution_timed_out_event_attributes->initiated_event_id;
        break;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_TERMINATED):
        initiated = old->child_workflow_execution_terminated_event_attributes->initiated_event_id;
        break;
    default:
        return 0;
    }
    ci = td_ms_child_find(ms, initiated);
    if (ci == NULL) {
        return 1; /* initiated past the reset point: not the new run's child */
    }
    if (old->event_type == TD_MS_ET(CHILD_WORKFLOW_EXECUTION_STARTED)) {
        const Temporal__Api__Common__V1__WorkflowExecution *we =
                old->child_workflow_execution_started_event_attributes->workflow_execution;
        if (ci->started) {
            return 1;
        }
        e = td_ms__event_new(t);
        TD_MS_EV(e, t, CHILD_WORKFLOW_EXECUTION_STARTED, child_workflow_execution_started);
        e->child_workflow_execution_started_event_attributes =
                old->child_workflow_execution_started_event_attributes;
        ci->started = 1;
        ci->started_id = td_ms__event_commit(ms, t, e, 0);
        td_ms__str_set(&ci->run_id, we ? we->run_id : "");
        return 1;
    }
    if ((old->event_type == TD_MS_ET(START_CHILD_WORKFLOW_EXECUTION_FAILED)) == ci->started) {
        return 1; /* a start failure of a started child, or an outcome of an unstarted one */
    }
    e = td_ms__event_new(t);
    switch (old->event_type) {
    case TD_MS_ET(START_CHILD_WORKFLOW_EXECUTION_FAILED):
        TD_MS_EV(e, t, START_CHILD_WORKFLOW_EXECUTION_FAILED,
                 start_child_workflow_execution_failed);
        e->start_child_workflow_execution_failed_event_attributes =
                old->start_child_workflow_execution_failed_event_attributes;
        break;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_COMPLETED):
        TD_MS_EV(e, t, CHILD_WORKFLOW_EXECUTION_COMPLETED, child_workflow_execution_completed);
        CHILD_CLOSE(e, old, child_workflow_execution_completed, ci);
        break;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_FAILED):
        TD_MS_EV(e, t, CHILD_WORKFLOW_EXECUTION_FAILED, child_workflow_execution_failed);
        CHILD_CLOSE(e, old, child_workflow_execution_failed, ci);
        break;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_CANCELED):
        TD_MS_EV(e, t, CHILD_WORKFLOW_EXECUTION_CANCELED, child_workflow_execution_canceled);
        CHILD_CLOSE(e, old, child_workflow_execution_canceled, ci);
        break;
    case TD_MS_ET(CHILD_WORKFLOW_EXECUTION_TIMED_OUT):
        TD_MS_EV(e, t, CHILD_WORKFLOW_EXECUTION_TIMED_OUT, child_workflow_execution_timed_out);
        CHILD_CLOSE(e, old, child_workflow_execution_timed_out, ci);
        break;
    default:
        TD_MS_EV(e, t, CHILD_WORKFLOW_EXECUTION_TERMINATED, child_workflow_execution_terminated);
        CHILD_CLOSE(e, old, child_workflow_execution_terminated, ci);
        break;
    }
    td_ms__event_commit(ms, t, e, 0);
    td_ms__child_remove(ms, initiated);
    return 1;
}

/* The signals past the reset point, as new WorkflowExecutionSignaled events, and the starts and
 * outcomes of the children the new run keeps (those of the base run's own events only: the
 * runs it continued into have children of their own). */
static void reapply(td_ms_t *ms, td_ms_txn_t *t, const td_ms_reset_t *r)
{
    for (size_t i = 0; i < r->n_reapply; i++) {
        const td_ms_event_t *old = r->reapply[i];
        const Temporal__Api__History__V1__WorkflowExecutionSignaledEventAttributes *oa;
        td_ms_event_t *e;

        if (i < r->n_base_tail && ms->n_children > 0 && reapply_child(ms, t, old)) {
            continue;
        }
        if (r->exclude_signals || old->event_type != TD_MS_ET(WORKFLOW_EXECUTION_SIGNALED) ||
            old->workflow_execution_signaled_event_attributes == NULL) {
            continue;
        }
        oa = old->workflow_execution_signaled_event_attributes;
        if (signal_seen(ms, oa->request_id)) {
            continue;
        }
        e = td_ms__event_new(t);
        TD_MS_EV(e, t, WORKFLOW_EXECUTION_SIGNALED, workflow_execution_signaled);
        e->workflow_execution_signaled_event_attributes =
                (Temporal__Api__History__V1__WorkflowExecutionSignaledEventAttributes *)oa;
        td_ms__event_commit(ms, t, e, 0);
    }
}

int td_ms_reset(td_ms_txn_t *t, const td_ms_reset_t *r, td_ms_t **out)
{
    td_ms_task_t vis = { .type = TD_MS_TASK_VIS_START };
    int64_t last = r->n_events > 0 ? r->events[r->n_events - 1]->event_id : 0;
    td_ms_t *ms = NULL;
    int rc;

    *out = NULL;
    if (r->finish_id <= 1 || r->finish_id > last || (int64_t)r->n_events != last) {
        return td_ms__fail(t, TD_EINVAL,
                           "Workflow task finish ID must be > 1 && <= workflow last event ID.");
    }
    rc = td_ms_replay(t, r->events, (size_t)(r->finish_id - 1), r->namespace_id, r->workflow_id,
                      r->new_run_id, &ms);
    if (rc != TD_OK) {
        return rc;
    }
    if (ms->wft.scheduled_id == 0) {
        td_ms_free(ms);
        t->msg = td_arena_printf(t->arena,
                                 "Can only reset workflow to event ID in range "
                                 "[WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: %lld",
                                 (long long)r->finish_id);
        return TD_EINVAL;
    }
    td_ms__str_set(&ms->start_request_id, r->request_id);
    /* The copied WorkflowExecutionStarted carries the first start's time through every reset. */
    ms->original_start_time = ev_time(r->events[0]);
    ms->last_reset_time = t->now;
    fail_pending_wft(ms, t, r);
    reapply(ms, t, r);
    for (size_t i = 0; i < ms->n_children; i++) {
        if (!ms->children[i].started) {
            t->msg = td_arena_printf(t->arena,
                                     "child workflow %s (initiated by event %lld) is not started "
                                     "at the reset point: resetting there is not implemented by "
                                     "temporald yet",
                                     ms->children[i].workflow_id,
                                     (long long)ms->children[i].initiated_id);
            td_ms_free(ms);
            return TD_EUNIMPL;
        }
    }
    pending_tasks(ms, t);
    td_ms__wft_schedule(ms, t, 1, 1);
    td_ms__task_add(t, &vis);
    if (ms->run_expiration > 0) {
        td_ms__timer_add(t, TD_MS_TASK_RUN_TIMEOUT, ms->run_expiration, 0, 0, 0);
    }
    *out = ms;
    return TD_OK;
}

void td_ms_reset_mark_base(td_ms_t *base, const char *new_run_id)
{
    td_ms__str_set(&base->reset_run_id, new_run_id);
}

void td_ms_reset_keep_children(td_ms_txn_t *t, const td_ms_t *created)
{
    size_t n = 0;

    for (size_t i = 0; i < t->n_tasks; i++) {
        const td_ms_task_t *k = &t->tasks[i];
        const td_ms_child_t *ci = k->type == TD_MS_TASK_PARENT_CLOSE_POLICY
                                          ? td_ms_child_find(created, k->event_id)
                                          : NULL;
        if (ci != NULL && ci->started && k->target_run_id != NULL &&
            strcmp(k->target_run_id, ci->run_id) == 0) {
            continue; /* the child belongs to the new run now */
        }
        t->tasks[n++] = t->tasks[i];
    }
    t->n_tasks = n;
}
