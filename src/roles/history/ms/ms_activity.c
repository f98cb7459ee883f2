/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Activity transitions: started, completed, failed (with the retry policy), canceled,
 * heartbeat, and the activity timeouts and retry timer run by td_ms_timer_task_apply. The
 * activity state machine is described in ms.h. ActivityTaskStarted is written only with the
 * terminal event of the final attempt.
 */
#include "ms_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "mem.h"
#include "ms_token.h"

typedef Temporal__Api__Failure__V1__Failure failure_t;

int td_ms_activity_token(const td_ms_t *ms, const td_ms_activity_t *ai, td_arena_t *arena,
                         ProtobufCBinaryData *out)
{
    Temporald__Token__Task tok = TEMPORALD__TOKEN__TASK__INIT;
    tok.namespace_id = ms->namespace_id;
    tok.workflow_id = ms->workflow_id;
    tok.run_id = ms->run_id;
    tok.workflow_type = ms->workflow_type;
    tok.scheduled_event_id = ai->scheduled_id;
    tok.attempt = ai->attempt;
    tok.activity_id = ai->activity_id;
    tok.activity_type = ai->activity_type;
    if (ai->started) {
        tok.started_time = td_ms__ts(arena, ai->started_time);
    }
    return td_ms_token_encode(&tok, arena, out);
}

static void started_out(const td_ms_t *ms, td_ms_txn_t *t, const td_ms_activity_t *ai,
                        td_ms_activity_started_t *out)
{
    memset(out, 0, sizeof(*out));
    out->scheduled_id = ai->scheduled_id;
    out->attempt = ai->attempt;
    out->scheduled_time = ai->scheduled_time;
    out->current_attempt_scheduled_time = ai->current_attempt_scheduled_time;
    out->started_time = ai->started_time;
    out->schedule_to_close = ai->schedule_to_close;
    out->start_to_close = ai->start_to_close;
    out->heartbeat = ai->heartbeat;
    out->activity = ai;
    td_ms_activity_token(ms, ai, t->arena, &out->token);
}

int td_ms_activity_record_started(td_ms_t *ms, td_ms_txn_t *t, int64_t scheduled_id,
                                  int32_t attempt, const char *request_id, const char *identity,
                                  td_ms_activity_started_t *out)
{
    int rc = td_ms__check_open(ms, t);
    td_ms_activity_t *ai;

    if (rc != TD_OK) {
        return rc;
    }
    ai = td_ms_activity_find(ms, scheduled_id);
    if (ai == NULL || ai->attempt != attempt) {
        return td_ms__fail(t, TD_ENOTFOUND, TD_MS_NOT_FOUND_ACT);
    }
    if (ai->started) {
        if (request_id && request_id[0] && strcmp(request_id, ai->started_request_id) == 0) {
            started_out(ms, t, ai, out);
            return TD_OK;
        }
        return td_ms__fail(t, TD_EEXIST, "Activity task already started.");
    }
    ai->started = 1;
    ai->started_time = t->now;
    ai->last_heartbeat_time = 0;
    td_ms__str_set(&ai->started_identity, identity);
    td_ms__str_set(&ai->started_request_id, request_id);
    if (ai->start_to_close > 0) {
        td_ms__timer_add(t, TD_MS_TASK_ACTIVITY_TIMEOUT, t->now + ai->start_to_close,
                         ai->scheduled_id, ai->attempt, TD_MS_TO(START_TO_CLOSE));
    }
    if (ai->heartbeat > 0) {
        td_ms__timer_add(t, TD_MS_TASK_ACTIVITY_TIMEOUT, t->now + ai->heartbeat, ai->scheduled_id,
                         ai->attempt, TD_MS_TO(HEARTBEAT));
    }
    started_out(ms, t, ai, out);
    return TD_OK;
}

int td_ms_activity_force_start(td_ms_t *ms, td_ms_txn_t *t, int64_t scheduled_id,
                               const char *identity)
{
    int rc = td_ms__check_open(ms, t);
    td_ms_activity_t *ai;

    if (rc != TD_OK) {
        return rc;
    }
    ai = td_ms_activity_find(ms, scheduled_id);
    if (ai == NULL) {
        return td_ms__fail(t, TD_ENOTFOUND, TD_MS_NOT_FOUND_ACT);
    }
    if (!ai->started) {
        ai->started = 1;
        ai->started_time = t->now;
        ai->last_heartbeat_time = 0;
        td_ms__str_set(&ai->started_identity, identity);
        td_ms__str_set(&ai->started_request_id, "");
    }
    return TD_OK;
}

/* The token must name a started attempt of a pending activity. */
static int find_started(td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok,
                        td_ms_activity_t **out)
{
    int rc = td_ms__check_open(ms, t);
    td_ms_activity_t *ai;

    *out = NULL;
    if (rc != TD_OK) {
        return rc;
    }
    if (strcmp(tok->run_id, ms->run_id) != 0) {
        return td_ms__fail(t, TD_ENOTFOUND, TD_MS_NOT_FOUND_ACT);
    }
    ai = tok->scheduled_event_id ? td_ms_activity_find(ms, tok->scheduled_event_id)
                                 : td_ms_activity_find_by_id(ms, tok->activity_id);
    if (ai == NULL || !ai->started || (tok->attempt != 0 && tok->attempt != ai->attempt)) {
        return td_ms__fail(t, TD_ENOTFOUND, TD_MS_NOT_FOUND_ACT);
    }
    *out = ai;
    return TD_OK;
}

/* Writes ActivityTaskStarted for the final attempt; its id, or 0 when buffered. */
static int64_t started_event(td_ms_t *ms, td_ms_txn_t *t, const td_ms_activity_t *ai)
{
    td_ms_event_t *e = td_ms__event_new(t);
    Temporal__Api__History__V1__ActivityTaskStartedEventAttributes *a =
            TD_MS_EV(e, t, ACTIVITY_TASK_STARTED, activity_task_started);
    a->scheduled_event_id = ai->scheduled_id;
    a->identity = (char *)td_ms__astr(t->arena, ai->started_identity);
    a->request_id = (char *)td_ms__astr(t->arena, ai->started_request_id);
    a->attempt = ai->attempt;
    a->last_failure = td_ms__blob_get(&ai->last_failure,
                                      &temporal__api__failure__v1__failure__descriptor, t->arena);
    e->event_time = td_ms__ts(t->arena, ai->started_time);
    return td_ms__event_commit(ms, t, e, 1);
}

/* Ends the activity: event `e` (a terminal activity event) is committed, the activity is
 * removed and a workflow task is scheduled if none is pending. */
static void finish(td_ms_t *ms, td_ms_txn_t *t, td_ms_activity_t *ai, td_ms_event_t *e)
{
    td_ms__event_commit(ms, t, e, 1);
    td_ms__activity_remove(ms, ai->scheduled_id);
    td_ms__wft_need(ms, t);
}

int td_ms_activity_complete(td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok,
                            const Temporal__Api__Common__V1__Payloads *result, const char *identity)
{
    td_ms_activity_t *ai;
    int rc = find_started(ms, t, tok, &ai);
    td_ms_event_t *e;
    Temporal__Api__History__V1__ActivityTaskCompletedEventAttributes *a;

    if (rc != TD_OK) {
        return rc;
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, ACTIVITY_TASK_COMPLETED, activity_task_completed);
    a->started_event_id = started_event(ms, t, ai);
    a->result = (Temporal__Api__Common__V1__Payloads *)result;
    a->scheduled_event_id = ai->scheduled_id;
    a->identity = (char *)td_ms__astr(t->arena, identity);
    finish(ms, t, ai, e);
    return TD_OK;
}

/* Decides whether attempt ai->attempt may be retried after `failure`; returns the RetryState
 * and, for IN_PROGRESS, the backoff in *delay. Temporal's order (RetryActivity, then
 * nextBackoffInterval): a cancel request, a schedule-to-start / schedule-to-close timeout
 * (TIMEOUT: the server's deadline, not a failure of the activity), a failure that may not be
 * retried (NON_RETRYABLE_FAILURE, before the attempt count), the attempts used up
 * (MAXIMUM_ATTEMPTS_REACHED), no time left for the backoff before schedule-to-close (TIMEOUT).
 * Activities always carry a retry policy (defaults filled at scheduling), so
 * RETRY_POLICY_NOT_SET never applies to them. */
static int retry_decision(const td_ms_activity_t *ai, const failure_t *failure, int64_t now,
                          int64_t *delay)
{
    const td_ms_retry_policy_t *p = &ai->retry;
    int64_t next_delay = 0;
    double d;

    *delay = 0;
    if (ai->cancel_requested) {
        return TD_MS_RS(CANCEL_REQUESTED); /* the workflow no longer wants it */
    }
    if (failure != NULL &&
        failure->failure_info_case ==
                TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_TIMEOUT_FAILURE_INFO &&
        failure->timeout_failure_info != NULL &&
        (failure->timeout_failure_info->timeout_type == TD_MS_TO(SCHEDULE_TO_START) ||
         failure->timeout_failure_info->timeout_type == TD_MS_TO(SCHEDULE_TO_CLOSE))) {
        return TD_MS_RS(TIMEOUT);
    }
    if (!td_ms__failure_retryable(p, failure)) {
        return TD_MS_RS(NON_RETRYABLE_FAILURE);
    }
    if (p->maximum_attempts > 0 && ai->attempt >= p->maximum_attempts) {
        return TD_MS_RS(MAXIMUM_ATTEMPTS_REACHED);
    }
    if (failure != NULL &&
        failure->failure_info_case ==
                TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_APPLICATION_FAILURE_INFO &&
        failure->application_failure_info != NULL) {
        next_delay = td_ms__dur_ns(failure->application_failure_info->next_retry_delay);
    }
    if (next_delay > 0) {
        *delay = next_delay;
    } else {
        d = (double)p->initial_interval * pow(p->backoff_coefficient, ai->attempt - 1);
        if (p->maximum_interval > 0 && d > (double)p->maximum_interval) {
            d = (double)p->maximum_interval;
        }
        *delay = d > 9.2e18 ? INT64_MAX / 4 : (int64_t)d;
    }
    if (ai->schedule_to_close > 0 && now + *delay > ai->scheduled_time + ai->schedule_to_close) {
        *delay = 0;
        return TD_MS_RS(TIMEOUT);
    }
    return TD_MS_RS(IN_PROGRESS);
}

/* Moves the activity to its next attempt after `delay`; no event. */
static void schedule_retry(td_ms_t *ms, td_ms_txn_t *t, td_ms_activity_t *ai,
                           const failure_t *failure, int64_t delay)
{
    td_ms__str_set(&ai->last_worker_identity, ai->started_identity);
    td_ms__blob_set(&ai->last_failure, failure ? &failure->base : NULL);
    ai->attempt++;
    ai->started = 0;
    ai->started_time = 0;
    td_free(ai->started_identity);
    td_free(ai->started_request_id);
    ai->started_identity = ai->started_request_id = NULL;
    ai->current_attempt_scheduled_time = t->now + delay;
    td_ms__timer_add(t, TD_MS_TASK_ACTIVITY_RETRY, t->now + delay, ai->scheduled_id, ai->attempt,
                     0);
}

int td_ms_activity_fail(td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok,
                        const failure_t *failure,
                        const Temporal__Api__Common__V1__Payloads *last_heartbeat_details,
                        const char *identity)
{
    td_ms_activity_t *ai;
    int rc = find_started(ms, t, tok, &ai);
    int state;
    int64_t delay;
    td_ms_event_t *e;
    Temporal__Api__History__V1__ActivityTaskFailedEventAttributes *a;

    if (rc != TD_OK) {
        return rc;
    }
    if (last_heartbeat_details != NULL) {
        td_ms__blob_set(&ai->heartbeat_details, &last_heartbeat_details->base);
    }
    state = retry_decision(ai, failure, t->now, &delay);
    if (state == TD_MS_RS(IN_PROGRESS)) {
        schedule_retry(ms, t, ai, failure, delay);
        return TD_OK;
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, ACTIVITY_TASK_FAILED, activity_task_failed);
    a->started_event_id = started_event(ms, t, ai);
    a->failure = (failure_t *)failure;
    a->scheduled_event_id = ai->scheduled_id;
    a->identity = (char *)td_ms__astr(t->arena, identity);
    a->retry_state = state;
    finish(ms, t, ai, e);
    return TD_OK;
}

int td_ms_activity_cancel(td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok,
                          const Temporal__Api__Common__V1__Payloads *details, const char *identity)
{
    td_ms_activity_t *ai;
    int rc = find_started(ms, t, tok, &ai);
    td_ms_event_t *e;
    Temporal__Api__History__V1__ActivityTaskCanceledEventAttributes *a;

    if (rc != TD_OK) {
        return rc;
    }
    if (!ai->cancel_requested) {
        return td_ms__fail(t, TD_EINVAL,
                           "unable to mark activity as canceled without activity being request "
                           "canceled first");
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, ACTIVITY_TASK_CANCELED, activity_task_canceled);
    a->started_event_id = started_event(ms, t, ai);
    a->details = (Temporal__Api__Common__V1__Payloads *)details;
    a->latest_cancel_requested_event_id = ai->cancel_requested_event_id;
    a->scheduled_event_id = ai->scheduled_id;
    a->identity = (char *)td_ms__astr(t->arena, identity);
    finish(ms, t, ai, e);
    return TD_OK;
}

int td_ms_activity_heartbeat(td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok,
                             const Temporal__Api__Common__V1__Payloads *details,
                             int *cancel_requested)
{
    td_ms_activity_t *ai;
    int rc = find_started(ms, t, tok, &ai);

    *cancel_requested = 0;
    if (rc != TD_OK) {
        return rc;
    }
    if (details != NULL) {
        td_ms__blob_set(&ai->heartbeat_details, &details->base);
    }
    ai->last_heartbeat_time = t->now;
    *cancel_requested = ai->cancel_requested;
    return TD_OK;
}

/* ---- timers (called through td_ms_timer_task_apply after validation) ---- */

static const char *timeout_name(int tt)
{
    switch (tt) {
    case TD_MS_TO(SCHEDULE_TO_START):
        return "ScheduleToStart";
    case TD_MS_TO(SCHEDULE_TO_CLOSE):
        return "ScheduleToClose";
    case TD_MS_TO(HEARTBEAT):
        return "Heartbeat";
    default:
        return "StartToClose";
    }
}

static failure_t *timeout_failure(td_ms_txn_t *t, const td_ms_activity_t *ai, int tt)
{
    failure_t *f = td_ms__pb_new(t->arena, &temporal__api__failure__v1__failure__descriptor);
    Temporal__Api__Failure__V1__TimeoutFailureInfo *ti =
            td_ms__pb_new(t->arena, &temporal__api__failure__v1__timeout_failure_info__descriptor);
    f->message = td_arena_printf(t->arena, "activity %s timeout", timeout_name(tt));
    f->source = (char *)"Server";
    f->failure_info_case = TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_TIMEOUT_FAILURE_INFO;
    f->timeout_failure_info = ti;
    ti->timeout_type = tt;
    if (tt == TD_MS_TO(HEARTBEAT)) {
        ti->last_heartbeat_details = td_ms__blob_get(
                &ai->heartbeat_details, &temporal__api__common__v1__payloads__descriptor, t->arena);
    }
    return f;
}

int td_ms__activity_timeout(td_ms_t *ms, td_ms_txn_t *t, td_ms_activity_t *ai, int tt)
{
    failure_t *f = timeout_failure(t, ai, tt);
    int state;
    int64_t delay;
    td_ms_event_t *e;
    Temporal__Api__History__V1__ActivityTaskTimedOutEventAttributes *a;

    if (tt == TD_MS_TO(HEARTBEAT)) {
        int64_t last = ai->last_heartbeat_time > ai->started_time ? ai->last_heartbeat_time
                                                                  : ai->started_time;
        if (last + ai->heartbeat > t->now) {
            /* A heartbeat came in since this timer was set: wait for the next deadline. */
            td_ms__timer_add(t, TD_MS_TASK_ACTIVITY_TIMEOUT, last + ai->heartbeat, ai->scheduled_id,
                             ai->attempt, TD_MS_TO(HEARTBEAT));
            return TD_OK;
        }
    }
    state = retry_decision(ai, f, t->now, &delay);
    if (state == TD_MS_RS(IN_PROGRESS)) {
        schedule_retry(ms, t, ai, f, delay);
        return TD_OK;
    }
    if (state == TD_MS_RS(TIMEOUT) && tt != TD_MS_TO(SCHEDULE_TO_START)) {
        /* As Temporal: no time left for another attempt reads as schedule-to-close. */
        f->message = (char *)"Not enough time to schedule next retry before activity "
                             "ScheduleToClose timeout, giving up retrying";
        f->timeout_failure_info->timeout_type = TD_MS_TO(SCHEDULE_TO_CLOSE);
    }
    f->timeout_failure_info->last_heartbeat_details = td_ms__blob_get(
            &ai->heartbeat_details, &temporal__api__common__v1__payloads__descriptor, t->arena);
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, ACTIVITY_TASK_TIMED_OUT, activity_task_timed_out);
    a->started_event_id = ai->started ? started_event(ms, t, ai) : 0;
    a->failure = f;
    /* The last attempt's failure travels as the cause, as in Temporal. */
    if (ai->last_failure.data != NULL) {
        f->cause = td_ms__blob_get(&ai->last_failure,
                                   &temporal__api__failure__v1__failure__descriptor, t->arena);
    }
    a->scheduled_event_id = ai->scheduled_id;
    a->retry_state = state;
    finish(ms, t, ai, e);
    return TD_OK;
}

int td_ms__activity_retry_fired(td_ms_t *ms, td_ms_txn_t *t, td_ms_activity_t *ai)
{
    td_ms_task_t task = { 0 };

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
    (void)ms;
    return TD_OK;
}
