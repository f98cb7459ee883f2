/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Execution-level transitions: start, signal, cancel request, terminate, and the timer-task
 * entry point (workflow task, activity and user timers, retry backoff, run timeout, start
 * delay) with the staleness checks for transfer and timer tasks. The execution state
 * machine is described in ms.h.
 */
#include "ms_int.h"

#include <string.h>

#include "error.h"
#include "mem.h"

typedef Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest start_req_t;

static int nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

int td_ms__start(td_ms_txn_t *t, const start_req_t *req, const char *namespace_id,
                 const char *run_id, const td_ms_start_opts_t *o, td_ms_t **out)
{
    int64_t exec, run, task, delay;
    td_ms_t *ms;
    td_ms_event_t *e;
    Temporal__Api__History__V1__WorkflowExecutionStartedEventAttributes *a;
    td_ms_task_t vis = { .type = TD_MS_TASK_VIS_START };
    const td_ms_parent_t *parent = o->parent;
    td_ms_cron_t cron;
    int rc;

    *out = NULL;
    if (!nonempty(req->workflow_id) || req->workflow_type == NULL ||
        !nonempty(req->workflow_type->name) || req->task_queue == NULL ||
        !nonempty(req->task_queue->name) || !nonempty(namespace_id) || !nonempty(run_id)) {
        return td_ms__fail(t, TD_EINVAL, "workflow id, workflow type and task queue are required");
    }
    exec = td_ms__dur_ns(req->workflow_execution_timeout);
    run = td_ms__dur_ns(req->workflow_run_timeout);
    task = td_ms__dur_ns(req->workflow_task_timeout);
    delay = td_ms__dur_ns(req->workflow_start_delay);
    if (exec < 0 || run < 0 || task < 0 || delay < 0) {
        return td_ms__fail(t, TD_EINVAL, "invalid timeout");
    }
    if (nonempty(req->cron_schedule)) {
        if (delay > 0) {
            return td_ms__fail(t, TD_EINVAL,
                               "CronSchedule and WorkflowStartDelay may not be used together.");
        }
        rc = td_ms_cron_parse(req->cron_schedule, &cron);
        if (rc != TD_OK) {
            return td_ms__fail(t, rc,
                               rc == TD_EUNIMPL ? "cron schedules are evaluated in UTC only"
                                                : "invalid CronSchedule.");
        }
        /* The first run waits for the first schedule time. */
        delay = td_ms_cron_backoff(req->cron_schedule, t->now, t->now);
        if (delay < 0) {
            delay = 0;
        }
    }
    if (o->has_backoff) {
        delay = o->backoff;
    }
    if (exec > 0 && (run == 0 || run > exec)) {
        run = exec;
    }
    if (task == 0) {
        task = TD_MS_DEFAULT_WFT_TIMEOUT;
    }
    if (task > TD_MS_MAX_WFT_TIMEOUT) {
        task = TD_MS_MAX_WFT_TIMEOUT;
    }
    if (run > 0 && task > run) {
        task = run;
    }

    ms = td_calloc(1, sizeof(*ms));
    ms->namespace_id = td_ms__strdup(namespace_id);
    ms->workflow_id = td_ms__strdup(req->workflow_id);
    ms->run_id = td_ms__strdup(run_id);
    ms->first_execution_run_id = td_ms__strdup(run_id);
    ms->workflow_type = td_ms__strdup(req->workflow_type->name);
    ms->task_queue = td_ms__strdup(req->task_queue->name);
    ms->execution_timeout = exec;
    ms->run_timeout = run;
    ms->task_timeout = task;
    if (req->retry_policy != NULL) {
        ms->has_retry_policy = 1;
        ms->retry_policy.initial_interval = td_ms__dur_ns(req->retry_policy->initial_interval);
        ms->retry_policy.backoff_coefficient = req->retry_policy->backoff_coefficient;
        ms->retry_policy.maximum_interval = td_ms__dur_ns(req->retry_policy->maximum_interval);
        ms->retry_policy.maximum_attempts = req->retry_policy->maximum_attempts;
        if (req->retry_policy->n_non_retryable_error_types > 0) {
            size_t n = req->retry_policy->n_non_retryable_error_types;
            ms->retry_policy.non_retryable_error_types = td_calloc(n, sizeof(char *));
            for (size_t i = 0; i < n; i++) {
                ms->retry_policy.non_retryable_error_types[i] =
                        td_ms__strdup(req->retry_policy->non_retryable_error_types[i]);
            }
            ms->retry_policy.n_non_retryable_error_types = n;
        }
    }
    ms->status = TD_MS_WS(RUNNING);
    ms->state = TD_MS_STATE_RUNNING;
    ms->start_time = t->now;
    ms->execution_expiration = exec > 0 ? t->now + exec : 0;
    if (o->execution_expiration > 0) {
        ms->execution_expiration = o->execution_expiration; /* a chain shares one deadline */
    }
    ms->run_expiration = run > 0 ? t->now + delay + run : 0;
    if (ms->execution_expiration > 0 &&
        (ms->run_expiration == 0 || ms->run_expiration > ms->execution_expiration)) {
        ms->run_expiration = ms->execution_expiration; /* the delay counts against it */
    }
    ms->attempt = o->attempt > 0 ? o->attempt : 1;
    if (o->first_run_id != NULL) {
        td_ms__str_set(&ms->first_execution_run_id, o->first_run_id);
    }
    if (parent != NULL) {
        ms->parent_namespace = td_ms__strdup(parent->namespace_name);
        ms->parent_namespace_id = td_ms__strdup(parent->namespace_id);
        ms->parent_workflow_id = td_ms__strdup(parent->workflow_id);
        ms->parent_run_id = td_ms__strdup(parent->run_id);
        ms->parent_initiated_id = parent->initiated_id;
        ms->root_workflow_id = td_ms__strdup(parent->root_workflow_id ? parent->root_workflow_id
                                                                      : parent->workflow_id);
        ms->root_run_id =
                td_ms__strdup(parent->root_workflow_id ? parent->root_run_id : parent->run_id);
    }
    td_ms__blob_set(&ms->memo, req->memo ? &req->memo->base : NULL);
    td_ms__blob_set(&ms->search_attributes,
                    req->search_attributes ? &req->search_attributes->base : NULL);
    td_ms__blob_set(&ms->user_metadata, req->user_metadata ? &req->user_metadata->base : NULL);
    ms->start_request_id = td_ms__strdup(req->request_id);
    ms->cancel_request_id = td_ms__strdup("");
    ms->cron_schedule = td_ms__strdup(req->cron_schedule);
    ms->first_workflow_task_backoff = delay;
    ms->next_event_id = 1;

    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, WORKFLOW_EXECUTION_STARTED, workflow_execution_started);
    e->user_metadata = req->user_metadata;
    a->workflow_type = req->workflow_type;
    a->task_queue = td_ms__pb_new(t->arena, &temporal__api__taskqueue__v1__task_queue__descriptor);
    a->task_queue->name = (char *)td_ms__astr(t->arena, req->task_queue->name);
    a->task_queue->kind = TD_MS_TQ_NORMAL;
    a->header = req->header;
    a->input = req->input;
    /* Unset (0) execution and run timeouts stay absent, as Temporal leaves them. */
    a->workflow_execution_timeout = exec > 0 ? td_ms__dur(t->arena, exec) : NULL;
    a->workflow_run_timeout = run > 0 ? td_ms__dur(t->arena, run) : NULL;
    a->workflow_task_timeout = td_ms__dur(t->arena, task);
    a->continued_failure = o->continued_failure
                                   ? (Temporal__Api__Failure__V1__Failure *)o->continued_failure
                                   : req->continued_failure;
    a->last_completion_result =
            o->last_completion_result
                    ? (Temporal__Api__Common__V1__Payloads *)o->last_completion_result
                    : req->last_completion_result;
    a->original_execution_run_id = (char *)td_ms__astr(t->arena, run_id);
    a->identity = req->identity;
    a->first_execution_run_id = (char *)td_ms__astr(t->arena, ms->first_execution_run_id);
    a->retry_policy = req->retry_policy;
    a->attempt = ms->attempt;
    a->cron_schedule = req->cron_schedule;
    if (o->initiator != 0) {
        a->initiator = o->initiator;
        a->continued_execution_run_id = (char *)td_ms__astr(t->arena, o->continued_run_id);
    }
    if (parent != NULL) {
        Temporal__Api__Common__V1__WorkflowExecution *pe =
                td_ms__pb_new(t->arena, &temporal__api__common__v1__workflow_execution__descriptor);
        Temporal__Api__Common__V1__WorkflowExecution *re =
                td_ms__pb_new(t->arena, &temporal__api__common__v1__workflow_execution__descriptor);
        pe->workflow_id = (char *)td_ms__astr(t->arena, ms->parent_workflow_id);
        pe->run_id = (char *)td_ms__astr(t->arena, ms->parent_run_id);
        re->workflow_id = (char *)td_ms__astr(t->arena, ms->root_workflow_id);
        re->run_id = (char *)td_ms__astr(t->arena, ms->root_run_id);
        a->parent_workflow_namespace = (char *)td_ms__astr(t->arena, ms->parent_namespace);
        a->parent_workflow_namespace_id = (char *)td_ms__astr(t->arena, ms->parent_namespace_id);
        a->parent_workflow_execution = pe;
        a->parent_initiated_event_id = ms->parent_initiated_id;
        a->root_workflow_execution = re;
    }
    if (ms->execution_expiration > 0) {
        a->workflow_execution_expiration_time = td_ms__ts(t->arena, ms->execution_expiration);
    }
    if (delay > 0) {
        a->first_workflow_task_backoff = td_ms__dur(t->arena, delay);
    }
    a->memo = req->memo;
    a->search_attributes = req->search_attributes;
    a->workflow_id = req->workflow_id;
    a->priority = req->priority;
    a->n_completion_callbacks = req->n_completion_callbacks;
    a->completion_callbacks = req->completion_callbacks;
    td_ms__event_commit(ms, t, e, 0);
    if (ms->has_retry_policy || nonempty(ms->cron_schedule)) {
        td_ms__blob_set(&ms->start_attrs, &a->base); /* what a retry or cron run starts with */
    }

    if (delay > 0) {
        td_ms__timer_add(t, TD_MS_TASK_WORKFLOW_BACKOFF, t->now + delay, 0, 0, 0);
    } else if (o->schedule) {
        td_ms__wft_schedule(ms, t, 1, 1);
    }
    td_ms__task_add(t, &vis);
    if (ms->run_expiration > 0) {
        td_ms__timer_add(t, TD_MS_TASK_RUN_TIMEOUT, ms->run_expiration, 0, 0, 0);
    }
    *out = ms;
    return TD_OK;
}

int td_ms_start(td_ms_txn_t *t, const start_req_t *req, const char *namespace_id,
                const char *run_id, td_ms_t **out)
{
    td_ms_start_opts_t o = { .schedule = 1 };
    return td_ms__start(t, req, namespace_id, run_id, &o, out);
}

int td_ms_signal_with_start(td_ms_txn_t *t, const start_req_t *req, const char *namespace_id,
                            const char *run_id, const char *signal_name,
                            const Temporal__Api__Common__V1__Payloads *input, const char *identity,
                            const Temporal__Api__Common__V1__Header *header, const char *request_id,
                            td_ms_t **out)
{
    td_ms_start_opts_t o = { .schedule = 0 };
    int rc = td_ms__start(t, req, namespace_id, run_id, &o, out);

    if (rc == TD_OK) {
        /* Signaled, then (td_ms__wft_need) WorkflowTaskScheduled */
        rc = td_ms_signal(*out, t, signal_name, input, identity, header, request_id);
    }
    if (rc != TD_OK) {
        td_ms_free(*out);
        *out = NULL;
    }
    return rc;
}

int td_ms_signal(td_ms_t *ms, td_ms_txn_t *t, const char *signal_name,
                 const Temporal__Api__Common__V1__Payloads *input, const char *identity,
                 const Temporal__Api__Common__V1__Header *header, const char *request_id)
{
    return td_ms_signal_from(ms, t, signal_name, input, identity, header, request_id, NULL, NULL);
}

int td_ms_signal_from(td_ms_t *ms, td_ms_txn_t *t, const char *signal_name,
                      const Temporal__Api__Common__V1__Payloads *input, const char *identity,
                      const Temporal__Api__Common__V1__Header *header, const char *request_id,
                      const char *from_workflow_id, const char *from_run_id)
{
    int rc = td_ms__check_open(ms, t);
    td_ms_event_t *e;
    Temporal__Api__History__V1__WorkflowExecutionSignaledEventAttributes *a;
    int64_t max;

    if (rc != TD_OK) {
        return rc;
    }
    if (!nonempty(signal_name)) {
        return td_ms__fail(t, TD_EINVAL, "SignalName is not set on request.");
    }
    if (nonempty(request_id)) {
        for (size_t i = 0; i < ms->n_signal_request_ids; i++) {
            if (strcmp(ms->signal_request_ids[i], request_id) == 0) {
                return TD_OK; /* duplicate delivery of the same signal */
            }
        }
    }
    max = td_ms__limits(t)->max_signals;
    if (max > 0 && ms->signal_count >= max) {
        return td_ms__fail(t, TD_EINVAL, TD_MS_SIGNALS_EXCEEDED);
    }
    ms->signal_count++;
    if (nonempty(request_id)) {
        ms->signal_request_ids =
                td_realloc(ms->signal_request_ids, (ms->n_signal_request_ids + 1) * sizeof(char *));
        ms->signal_request_ids[ms->n_signal_request_ids++] = td_strdup(request_id);
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, WORKFLOW_EXECUTION_SIGNALED, workflow_execution_signaled);
    a->signal_name = (char *)signal_name;
    a->input = (Temporal__Api__Common__V1__Payloads *)input;
    a->identity = (char *)td_ms__astr(t->arena, identity);
    a->header = (Temporal__Api__Common__V1__Header *)header;
    a->request_id = (char *)td_ms__astr(t->arena, request_id);
    if (nonempty(from_workflow_id)) {
        a->external_workflow_execution =
                td_ms__pb_new(t->arena, &temporal__api__common__v1__workflow_execution__descriptor);
        a->external_workflow_execution->workflow_id =
                (char *)td_ms__astr(t->arena, from_workflow_id);
        a->external_workflow_execution->run_id = (char *)td_ms__astr(t->arena, from_run_id);
    }
    td_ms__event_commit(ms, t, e, 1);
    td_ms__wft_need(ms, t);
    return TD_OK;
}

int td_ms_request_cancel(td_ms_t *ms, td_ms_txn_t *t, const char *reason, const char *identity,
                         const char *request_id)
{
    return td_ms_request_cancel_from(ms, t, reason, identity, request_id, NULL, NULL, 0);
}

int td_ms_request_cancel_from(td_ms_t *ms, td_ms_txn_t *t, const char *reason, const char *identity,
                              const char *request_id, const char *from_workflow_id,
                              const char *from_run_id, int64_t from_initiated_id)
{
    int rc = td_ms__check_open(ms, t);
    td_ms_event_t *e;
    Temporal__Api__History__V1__WorkflowExecutionCancelRequestedEventAttributes *a;

    if (rc != TD_OK) {
        return rc;
    }
    if (ms->cancel_requested) {
        return TD_OK;
    }
    ms->cancel_requested = 1;
    td_ms__str_set(&ms->cancel_request_id, request_id);
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, WORKFLOW_EXECUTION_CANCEL_REQUESTED, workflow_execution_cancel_requested);
    a->cause = (char *)td_ms__astr(t->arena, reason);
    a->identity = (char *)td_ms__astr(t->arena, identity);
    if (nonempty(from_workflow_id)) {
        a->external_initiated_event_id = from_initiated_id;
        a->external_workflow_execution =
                td_ms__pb_new(t->arena, &temporal__api__common__v1__workflow_execution__descriptor);
        a->external_workflow_execution->workflow_id =
                (char *)td_ms__astr(t->arena, from_workflow_id);
        a->external_workflow_execution->run_id = (char *)td_ms__astr(t->arena, from_run_id);
    }
    td_ms__event_commit(ms, t, e, 1);
    td_ms__wft_need(ms, t);
    return TD_OK;
}

/* A run closed from outside ends its workflow task first, so history stays well-formed. */
static void force_close_wft(td_ms_t *ms, td_ms_txn_t *t)
{
    if (ms->wft.started_id != 0 && !ms->wft.transient) {
        td_ms__wft_failed_event(ms, t, TD_MS_CAUSE(FORCE_CLOSE_COMMAND), NULL, "history-service",
                                "");
    }
    td_ms__wft_clear(ms);
    td_ms__flush_buffer(ms, t);
}

int td_ms_terminate(td_ms_t *ms, td_ms_txn_t *t, const char *reason,
                    const Temporal__Api__Common__V1__Payloads *details, const char *identity)
{
    int rc = td_ms__check_open(ms, t);
    td_ms_event_t *e;
    Temporal__Api__History__V1__WorkflowExecutionTerminatedEventAttributes *a;

    if (rc != TD_OK) {
        return rc;
    }
    force_close_wft(ms, t);
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, WORKFLOW_EXECUTION_TERMINATED, workflow_execution_terminated);
    a->reason = (char *)td_ms__astr(t->arena, reason);
    a->details = (Temporal__Api__Common__V1__Payloads *)details;
    a->identity = (char *)td_ms__astr(t->arena, identity);
    td_ms__close(ms, t, TD_MS_WS(TERMINATED), td_ms__event_commit(ms, t, e, 0));
    return TD_OK;
}

static int run_timeout(td_ms_t *ms, td_ms_txn_t *t)
{
    td_ms_event_t *e;
    Temporal__Api__Failure__V1__Failure *f =
            td_ms__pb_new(t->arena, &temporal__api__failure__v1__failure__descriptor);
    Temporal__Api__Failure__V1__TimeoutFailureInfo *ti =
            td_ms__pb_new(t->arena, &temporal__api__failure__v1__timeout_failure_info__descriptor);

    force_close_wft(ms, t);
    e = td_ms__event_new(t);
    TD_MS_EV(e, t, WORKFLOW_EXECUTION_TIMED_OUT, workflow_execution_timed_out);
    /* The failure a retry judges, and the next run's continued_failure (as Temporal). */
    f->message = (char *)"workflow timeout";
    f->source = (char *)"Server";
    f->failure_info_case = TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_TIMEOUT_FAILURE_INFO;
    f->timeout_failure_info = ti;
    ti->timeout_type = TD_MS_TO(START_TO_CLOSE);
    td_ms__close_with(ms, t, e, TD_MS_WS(TIMED_OUT), f, NULL);
    return TD_OK;
}

/* ---- task validation and timers ---- */

int td_ms_task_valid(const td_ms_t *ms, const td_ms_task_t *task)
{
    const td_ms_activity_t *ai;
    const td_ms_timer_t *ti;
    int open = ms->state == TD_MS_STATE_RUNNING;

    switch (task->type) {
    case TD_MS_TASK_WORKFLOW_TASK:
        return (open && ms->wft.scheduled_id == task->event_id &&
                ms->wft.attempt == task->attempt && ms->wft.started_id == 0)
                       ? TD_OK
                       : TD_ENOTFOUND;
    case TD_MS_TASK_ACTIVITY_TASK:
    case TD_MS_TASK_ACTIVITY_RETRY:
        ai = td_ms_activity_find(ms, task->event_id);
        return (open && ai && ai->attempt == task->attempt && !ai->started) ? TD_OK : TD_ENOTFOUND;
    case TD_MS_TASK_CLOSE_EXECUTION:
    case TD_MS_TASK_DELETE_HISTORY:
    case TD_MS_TASK_NOTIFY_PARENT:
    case TD_MS_TASK_PARENT_CLOSE_POLICY:
        return open ? TD_ENOTFOUND : TD_OK;
    case TD_MS_TASK_START_CHILD: {
        const td_ms_child_t *ci = td_ms_child_find(ms, task->event_id);
        return (open && ci && !ci->started) ? TD_OK : TD_ENOTFOUND;
    }
    case TD_MS_TASK_SIGNAL_EXTERNAL:
    case TD_MS_TASK_CANCEL_EXTERNAL:
        return (open && td_ms_external_find(ms, task->event_id)) ? TD_OK : TD_ENOTFOUND;
    case TD_MS_TASK_WFT_TIMEOUT:
        if (!open || ms->wft.scheduled_id != task->event_id || ms->wft.attempt != task->attempt) {
            return TD_ENOTFOUND;
        }
        if (task->timeout_type == TD_MS_TO(SCHEDULE_TO_START)) {
            return (ms->wft.started_id == 0 && ms->wft.task_queue_kind == TD_MS_TQ_STICKY)
                           ? TD_OK
                           : TD_ENOTFOUND;
        }
        return ms->wft.started_id != 0 ? TD_OK : TD_ENOTFOUND;
    case TD_MS_TASK_ACTIVITY_TIMEOUT:
        ai = td_ms_activity_find(ms, task->event_id);
        if (!open || ai == NULL) {
            return TD_ENOTFOUND;
        }
        switch (task->timeout_type) {
        case TD_MS_TO(SCHEDULE_TO_CLOSE):
            return TD_OK;
        case TD_MS_TO(SCHEDULE_TO_START):
            return (ai->attempt == task->attempt && !ai->started) ? TD_OK : TD_ENOTFOUND;
        default:
            return (ai->attempt == task->attempt && ai->started) ? TD_OK : TD_ENOTFOUND;
        }
    case TD_MS_TASK_USER_TIMER:
        ti = td_ms_timer_find(ms, task->timer_id);
        return (open && ti && ti->started_id == task->event_id) ? TD_OK : TD_ENOTFOUND;
    case TD_MS_TASK_RUN_TIMEOUT:
        return open ? TD_OK : TD_ENOTFOUND;
    case TD_MS_TASK_WORKFLOW_BACKOFF:
        /* no workflow task yet: events may have arrived during a cron / retry backoff */
        return (open && ms->wft.scheduled_id == 0 && ms->previous_started_event_id == 0)
                       ? TD_OK
                       : TD_ENOTFOUND;
    case TD_MS_TASK_VIS_START:
    case TD_MS_TASK_VIS_UPSERT:
    case TD_MS_TASK_VIS_CLOSE:
        return TD_OK;
    }
    return TD_ENOTFOUND;
}

static int timer_fired(td_ms_t *ms, td_ms_txn_t *t, const td_ms_task_t *task)
{
    td_ms_event_t *e = td_ms__event_new(t);
    Temporal__Api__History__V1__TimerFiredEventAttributes *a =
            TD_MS_EV(e, t, TIMER_FIRED, timer_fired);
    a->timer_id = (char *)td_ms__astr(t->arena, task->timer_id);
    a->started_event_id = task->event_id;
    td_ms__timer_remove(ms, task->timer_id);
    td_ms__event_commit(ms, t, e, 1);
    td_ms__wft_need(ms, t);
    return TD_OK;
}

int td_ms_timer_task_apply(td_ms_t *ms, td_ms_txn_t *t, const td_ms_task_t *task)
{
    if (td_ms_task_category(task->type) != TD_MS_CAT_TIMER) {
        return td_ms__fail(t, TD_EINVAL, "not a timer task");
    }
    if (td_ms_task_valid(ms, task) != TD_OK) {
        return td_ms__fail(t, TD_ENOTFOUND, "timer task is stale");
    }
    switch (task->type) {
    case TD_MS_TASK_WFT_TIMEOUT:
        return td_ms__wft_timeout(ms, t, task->timeout_type);
    case TD_MS_TASK_ACTIVITY_TIMEOUT:
        return td_ms__activity_timeout(ms, t, td_ms_activity_find(ms, task->event_id),
                                       task->timeout_type);
    case TD_MS_TASK_ACTIVITY_RETRY:
        return td_ms__activity_retry_fired(ms, t, td_ms_activity_find(ms, task->event_id));
    case TD_MS_TASK_USER_TIMER:
        return timer_fired(ms, t, task);
    case TD_MS_TASK_RUN_TIMEOUT:
        return run_timeout(ms, t);
    case TD_MS_TASK_WORKFLOW_BACKOFF:
        td_ms__wft_schedule(ms, t, 1, 1);
        return TD_OK;
    default:
        return td_ms__fail(t, TD_EINVAL, "not a timer task");
    }
}
