/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workflow task transitions: schedule, record started (poll), complete (with every command),
 * fail, and the tokens. The workflow-task state machine and its invariants are described in
 * ms.h; timeouts are applied in ms_exec.c through td_ms_timer_task_apply.
 */
#include "ms_int.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mem.h"
#include "ms_token.h"

/* binary_checksum, worker_version(_stamp) and deployment are deprecated in the API but SDKs
 * still send them and read them back from history: they are copied on purpose. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

typedef Temporal__Api__Command__V1__Command cmd_t;
typedef Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest complete_req_t;

/* ---- scheduling ---- */

void td_ms__wft_clear(td_ms_t *ms)
{
    td_free(ms->wft.request_id);
    td_free(ms->wft.identity);
    td_free(ms->wft.task_queue);
    memset(&ms->wft, 0, sizeof(ms->wft));
}

/* Start-to-close timeout of an attempt: from the 4th attempt on, a workflow that keeps
 * failing gets 5 s, 10 s, 20 s ... (at most 10 min) more each time, to slow the retries down
 * (Temporal's workflowTaskRetry* settings, without their jitter). */
static int64_t wft_timeout_for(const td_ms_t *ms, int32_t attempt)
{
    int64_t extra = 0;
    if (attempt > TD_MS_WFT_BACKOFF_MIN_ATTEMPTS) {
        int n = attempt - TD_MS_WFT_BACKOFF_MIN_ATTEMPTS - 1;
        extra = TD_MS_WFT_BACKOFF_INITIAL;
        while (n-- > 0 && extra < TD_MS_WFT_BACKOFF_MAX) {
            extra *= 2;
        }
        if (extra > TD_MS_WFT_BACKOFF_MAX) {
            extra = TD_MS_WFT_BACKOFF_MAX;
        }
    }
    return ms->task_timeout + extra;
}

void td_ms__wft_schedule(td_ms_t *ms, td_ms_txn_t *t, int32_t attempt, int dispatch)
{
    int sticky = ms->sticky_task_queue != NULL;
    const char *tq = sticky ? ms->sticky_task_queue : ms->task_queue;
    int64_t id;
    td_ms_task_t task = { 0 };

    td_ms__wft_clear(ms);
    if (attempt > 1) {
        id = ms->next_event_id; /* transient: reserved, not written */
    } else {
        td_ms_event_t *e = td_ms__event_new(t);
        Temporal__Api__History__V1__WorkflowTaskScheduledEventAttributes *a =
                TD_MS_EV(e, t, WORKFLOW_TASK_SCHEDULED, workflow_task_scheduled);
        a->task_queue =
                td_ms__pb_new(t->arena, &temporal__api__taskqueue__v1__task_queue__descriptor);
        a->task_queue->name = (char *)td_ms__astr(t->arena, tq);
        a->task_queue->kind = sticky ? TD_MS_TQ_STICKY : TD_MS_TQ_NORMAL;
        if (sticky) {
            a->task_queue->normal_name = (char *)td_ms__astr(t->arena, ms->task_queue);
        }
        a->start_to_close_timeout = td_ms__dur(t->arena, wft_timeout_for(ms, attempt));
        a->attempt = attempt;
        id = td_ms__event_commit(ms, t, e, 0);
    }
    ms->wft.scheduled_id = id;
    ms->wft.attempt = attempt;
    ms->wft.transient = attempt > 1;
    ms->wft.task_queue = td_ms__strdup(tq);
    ms->wft.task_queue_kind = sticky ? TD_MS_TQ_STICKY : TD_MS_TQ_NORMAL;
    ms->wft.start_to_close = wft_timeout_for(ms, attempt);
    ms->wft.sticky_schedule_to_start = sticky ? ms->sticky_schedule_to_start : 0;
    ms->wft.scheduled_time = t->now;
    ms->wft.original_scheduled_time = t->now;
    if (dispatch) {
        task.type = TD_MS_TASK_WORKFLOW_TASK;
        task.event_id = id;
        task.attempt = attempt;
        task.task_queue = tq;
        task.task_queue_kind = ms->wft.task_queue_kind;
        task.schedule_to_start = ms->wft.sticky_schedule_to_start;
        td_ms__task_add(t, &task);
        if (sticky && ms->sticky_schedule_to_start > 0) {
            td_ms__timer_add(t, TD_MS_TASK_WFT_TIMEOUT, t->now + ms->sticky_schedule_to_start, id,
                             attempt, TD_MS_TO(SCHEDULE_TO_START));
        }
    }
}

/* A cron, retry or continued run waiting for its first workflow task: events arriving in the
 * meantime wait too (the WORKFLOW_BACKOFF timer schedules the task). A first run's start delay
 * does not hold them: a signal dispatches the task early, as Temporal documents. */
static int wft_held_by_backoff(const td_ms_t *ms, const td_ms_txn_t *t)
{
    return ms->first_workflow_task_backoff > 0 && ms->previous_started_event_id == 0 &&
           t->now < ms->start_time + ms->first_workflow_task_backoff &&
           ((ms->cron_schedule != NULL && ms->cron_schedule[0] != '\0') || ms->attempt > 1 ||
            (ms->first_execution_run_id != NULL &&
             strcmp(ms->first_execution_run_id, ms->run_id) != 0));
}

void td_ms__wft_need(td_ms_t *ms, td_ms_txn_t *t)
{
    if (ms->wft.scheduled_id == 0 && ms->state == TD_MS_STATE_RUNNING &&
        !wft_held_by_backoff(ms, t)) {
        td_ms__wft_schedule(ms, t, 1, 1);
    }
}

void td_ms_reset_sticky(td_ms_t *ms)
{
    td_free(ms->sticky_task_queue);
    ms->sticky_task_queue = NULL;
    ms->sticky_schedule_to_start = 0;
}

/* ---- tokens ---- */

int td_ms_wft_token(const td_ms_t *ms, td_arena_t *arena, ProtobufCBinaryData *out)
{
    Temporald__Token__Task tok = TEMPORALD__TOKEN__TASK__INIT;
    tok.namespace_id = ms->namespace_id;
    tok.workflow_id = ms->workflow_id;
    tok.run_id = ms->run_id;
    tok.workflow_type = ms->workflow_type;
    tok.scheduled_event_id = ms->wft.scheduled_id;
    tok.started_event_id = ms->wft.started_id;
    tok.attempt = ms->wft.attempt;
    tok.started_time = td_ms__ts(arena, ms->wft.started_time);
    return td_ms_token_encode(&tok, arena, out);
}

/* The token must name the started workflow task exactly. */
static int wft_check_token(const td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok)
{
    int rc = td_ms__check_open(ms, t);
    if (rc != TD_OK) {
        return rc;
    }
    if (ms->wft.scheduled_id == 0 || ms->wft.started_id == 0 ||
        tok->scheduled_event_id != ms->wft.scheduled_id || tok->attempt != ms->wft.attempt ||
        (tok->started_event_id != 0 && tok->started_event_id != ms->wft.started_id) ||
        (tok->started_time != NULL && td_ms__ts_ns(tok->started_time) != ms->wft.started_time) ||
        strcmp(tok->run_id, ms->run_id) != 0) {
        return td_ms__fail(t, TD_ENOTFOUND, TD_MS_NOT_FOUND_WFT);
    }
    return TD_OK;
}

/* ---- started ---- */

static td_ms_event_t *wft_started_event(const td_ms_t *ms, td_ms_txn_t *t)
{
    td_ms_event_t *e = td_ms__event_new(t);
    Temporal__Api__History__V1__WorkflowTaskStartedEventAttributes *a =
            TD_MS_EV(e, t, WORKFLOW_TASK_STARTED, workflow_task_started);
    a->scheduled_event_id = ms->wft.scheduled_id;
    a->identity = (char *)td_ms__astr(t->arena, ms->wft.identity);
    a->request_id = (char *)td_ms__astr(t->arena, ms->wft.request_id);
    a->history_size_bytes = ms->history_size_bytes;
    const td_ms_limits_t *lim = td_ms__limits(t);
    int too_big = lim->suggest_can_size > 0 && ms->history_size_bytes > lim->suggest_can_size;
    int too_long = lim->suggest_can_count > 0 && ms->next_event_id > lim->suggest_can_count;

    if (too_big || too_long) {
        a->suggest_continue_as_new = 1;
        a->suggest_continue_as_new_reasons =
                td_arena_alloc(t->arena, 2 * sizeof(*a->suggest_continue_as_new_reasons));
        if (too_big) {
            a->suggest_continue_as_new_reasons[a->n_suggest_continue_as_new_reasons++] =
                    TEMPORAL__API__ENUMS__V1__SUGGEST_CONTINUE_AS_NEW_REASON__SUGGEST_CONTINUE_AS_NEW_REASON_HISTORY_SIZE_TOO_LARGE;
        }
        if (too_long) {
            a->suggest_continue_as_new_reasons[a->n_suggest_continue_as_new_reasons++] =
                    TEMPORAL__API__ENUMS__V1__SUGGEST_CONTINUE_AS_NEW_REASON__SUGGEST_CONTINUE_AS_NEW_REASON_TOO_MANY_HISTORY_EVENTS;
        }
    }
    e->event_time = td_ms__ts(t->arena, ms->wft.started_time);
    return e;
}

static td_ms_event_t *wft_scheduled_event_copy(const td_ms_t *ms, td_ms_txn_t *t)
{
    td_ms_event_t *e = td_ms__event_new(t);
    Temporal__Api__History__V1__WorkflowTaskScheduledEventAttributes *a =
            TD_MS_EV(e, t, WORKFLOW_TASK_SCHEDULED, workflow_task_scheduled);
    a->task_queue = td_ms__pb_new(t->arena, &temporal__api__taskqueue__v1__task_queue__descriptor);
    a->task_queue->name = (char *)td_ms__astr(t->arena, ms->wft.task_queue);
    a->task_queue->kind = ms->wft.task_queue_kind;
    if (ms->wft.task_queue_kind == TD_MS_TQ_STICKY) {
        a->task_queue->normal_name = (char *)td_ms__astr(t->arena, ms->task_queue);
    }
    a->start_to_close_timeout = td_ms__dur(t->arena, ms->wft.start_to_close);
    a->attempt = ms->wft.attempt;
    e->event_time = td_ms__ts(t->arena, ms->wft.scheduled_time);
    e->event_id = ms->wft.scheduled_id;
    return e;
}

static void started_info(const td_ms_t *ms, td_ms_txn_t *t, td_ms_wft_started_t *out)
{
    memset(out, 0, sizeof(*out));
    out->scheduled_id = ms->wft.scheduled_id;
    out->started_id = ms->wft.started_id;
    out->previous_started_event_id = ms->previous_started_event_id;
    out->attempt = ms->wft.attempt;
    out->scheduled_time = ms->wft.scheduled_time;
    out->started_time = ms->wft.started_time;
    out->sticky = ms->wft.task_queue_kind == TD_MS_TQ_STICKY;
    if (ms->wft.transient) {
        td_ms_event_t *s = wft_scheduled_event_copy(ms, t);
        td_ms_event_t *st = wft_started_event(ms, t);
        st->event_id = ms->wft.started_id;
        out->transient_events = td_arena_alloc(t->arena, 2 * sizeof(td_ms_event_t *));
        out->transient_events[0] = s;
        out->transient_events[1] = st;
        out->n_transient_events = 2;
    }
    td_ms_wft_token(ms, t->arena, &out->token);
}

void td_ms__wft_start(td_ms_t *ms, td_ms_txn_t *t, const char *request_id, const char *identity,
                      td_ms_wft_started_t *out)
{
    td_ms__str_set(&ms->wft.request_id, request_id);
    td_ms__str_set(&ms->wft.identity, identity);
    ms->wft.started_time = t->now;
    if (ms->wft.transient) {
        ms->wft.started_id = ms->wft.scheduled_id + 1;
    } else {
        ms->wft.started_id = td_ms__event_commit(ms, t, wft_started_event(ms, t), 0);
    }
    if (ms->wft.start_to_close > 0) {
        td_ms__timer_add(t, TD_MS_TASK_WFT_TIMEOUT, t->now + ms->wft.start_to_close,
                         ms->wft.scheduled_id, ms->wft.attempt, TD_MS_TO(START_TO_CLOSE));
    }
    if (out != NULL) {
        started_info(ms, t, out);
    }
}

int td_ms_wft_record_started(td_ms_t *ms, td_ms_txn_t *t, int64_t scheduled_id,
                             const char *request_id, const char *identity, int poll_kind,
                             td_ms_wft_started_t *out)
{
    int rc = td_ms__check_open(ms, t);

    if (rc != TD_OK) {
        return rc;
    }
    if (ms->wft.scheduled_id == 0 || ms->wft.scheduled_id != scheduled_id) {
        return td_ms__fail(t, TD_ENOTFOUND, TD_MS_NOT_FOUND_WFT);
    }
    if (ms->wft.started_id != 0) {
        if (request_id && request_id[0] && strcmp(request_id, ms->wft.request_id) == 0) {
            started_info(ms, t, out);
            return TD_OK;
        }
        return td_ms__fail(t, TD_EEXIST, "Workflow task already started.");
    }
    if (poll_kind == TD_MS_TQ_STICKY && ms->wft.task_queue_kind != TD_MS_TQ_STICKY) {
        /* The run left the sticky queue after this task was queued there. */
        return td_ms__fail(t, TD_ENOTFOUND, TD_MS_NOT_FOUND_WFT);
    }
    if (poll_kind != TD_MS_TQ_STICKY && ms->wft.task_queue_kind == TD_MS_TQ_STICKY) {
        /* The sticky worker is gone and the task fell back to the normal queue. */
        td_ms_reset_sticky(ms);
        ms->wft.task_queue_kind = TD_MS_TQ_NORMAL;
        td_ms__str_set(&ms->wft.task_queue, ms->task_queue);
    }
    td_ms__wft_start(ms, t, request_id, identity, out);
    return TD_OK;
}

/* ---- failure ---- */

void td_ms__wft_failed_event(td_ms_t *ms, td_ms_txn_t *t, int cause,
                             const Temporal__Api__Failure__V1__Failure *failure,
                             const char *identity, const char *binary_checksum)
{
    td_ms_event_t *e = td_ms__event_new(t);
    Temporal__Api__History__V1__WorkflowTaskFailedEventAttributes *a =
            TD_MS_EV(e, t, WORKFLOW_TASK_FAILED, workflow_task_failed);
    a->scheduled_event_id = ms->wft.scheduled_id;
    a->started_event_id = ms->wft.started_id;
    a->cause = cause;
    a->failure = (Temporal__Api__Failure__V1__Failure *)failure;
    a->identity = (char *)td_ms__astr(t->arena, identity);
    a->binary_checksum = (char *)td_ms__astr(t->arena, binary_checksum);
    td_ms__event_commit(ms, t, e, 0);
}

/* Ends the started (or, for timeouts, scheduled) task as failed and schedules the next
 * attempt: sticky tasks clear stickiness and keep the attempt; buffered events reset it
 * to 1. */
static void wft_retry(td_ms_t *ms, td_ms_txn_t *t, int increment)
{
    int32_t attempt = ms->wft.attempt;
    int sticky = ms->wft.task_queue_kind == TD_MS_TQ_STICKY;

    td_ms__wft_clear(ms);
    if (sticky) {
        td_ms_reset_sticky(ms);
    } else if (increment) {
        attempt++;
    }
    if (ms->n_buffered > 0) {
        attempt = 1; /* new events arrived: a fresh, ordinary attempt (as Temporal does) */
    }
    td_ms__flush_buffer(ms, t);
    td_ms__wft_schedule(ms, t, attempt, 1);
}

int td_ms_wft_fail(td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok,
                   const Temporal__Api__Workflowservice__V1__RespondWorkflowTaskFailedRequest *req)
{
    int rc = wft_check_token(ms, t, tok);

    if (rc != TD_OK) {
        return rc;
    }
    if (!ms->wft.transient) {
        td_ms__wft_failed_event(ms, t, req->cause, req->failure, req->identity,
                                req->binary_checksum);
    }
    wft_retry(ms, t, 1);
    return TD_OK;
}

int td_ms__wft_timeout(td_ms_t *ms, td_ms_txn_t *t, int timeout_type)
{
    if (!ms->wft.transient) {
        td_ms_event_t *e = td_ms__event_new(t);
        Temporal__Api__History__V1__WorkflowTaskTimedOutEventAttributes *a =
                TD_MS_EV(e, t, WORKFLOW_TASK_TIMED_OUT, workflow_task_timed_out);
        a->scheduled_event_id = ms->wft.scheduled_id;
        a->started_event_id = ms->wft.started_id;
        a->timeout_type = timeout_type;
        td_ms__event_commit(ms, t, e, 0);
    }
    /* A sticky schedule-to-start timeout is not the worker's fault: same attempt, normal
     * queue. A start-to-close timeout counts as a failed attempt. */
    wft_retry(ms, t, timeout_type == TD_MS_TO(START_TO_CLOSE));
    return TD_OK;
}

/* ---- completion: commands ---- */

typedef struct {
    const complete_req_t *req;
    int64_t completed_id;    /* WorkflowTaskCompleted event id */
    int had_buffered;        /* external events arrived while the task ran */
    int closed;              /* a close command was processed */
    int unhandled;           /* close command refused because of buffered events */
    int need_new_wft;        /* e.g. an activity canceled before it started */
    unsigned char *msg_done; /* per request message: processed (ms_update.c) */
} cctx_t;

static int bad(td_ms_txn_t *t, int cause, const char *msg)
{
    t->cause = cause;
    return td_ms__fail(t, TD_EINVAL, msg);
}

static void set_user_metadata(td_ms_event_t *e, const cmd_t *c)
{
    e->user_metadata = c->user_metadata;
}

static int normalise_retry(td_ms_retry_policy_t *p, const Temporal__Api__Common__V1__RetryPolicy *r)
{
    memset(p, 0, sizeof(*p));
    if (r != NULL) {
        p->initial_interval = td_ms__dur_ns(r->initial_interval);
        p->backoff_coefficient = r->backoff_coefficient;
        p->maximum_interval = td_ms__dur_ns(r->maximum_interval);
        p->maximum_attempts = r->maximum_attempts;
        if (p->initial_interval < 0 || p->maximum_interval < 0 || p->maximum_attempts < 0 ||
            (p->backoff_coefficient != 0 && p->backoff_coefficient < 1)) {
            return TD_EINVAL;
        }
    }
    if (p->initial_interval == 0) {
        p->initial_interval = TD_MS_SECOND;
    }
    if (p->backoff_coefficient == 0) {
        p->backoff_coefficient = 2.0;
    }
    if (p->maximum_interval == 0) {
        p->maximum_interval = 100 * p->initial_interval;
    }
    if (p->maximum_interval < p->initial_interval) {
        return TD_EINVAL;
    }
    if (r != NULL && r->n_non_retryable_error_types > 0) {
        p->n_non_retryable_error_types = r->n_non_retryable_error_types;
        p->non_retryable_error_types = td_calloc(r->n_non_retryable_error_types, sizeof(char *));
        for (size_t i = 0; i < r->n_non_retryable_error_types; i++) {
            p->non_retryable_error_types[i] = td_ms__strdup(r->non_retryable_error_types[i]);
        }
    }
    return TD_OK;
}

static int64_t min_nonzero(int64_t a, int64_t b)
{
    if (a == 0) {
        return b;
    }
    if (b == 0) {
        return a;
    }
    return a < b ? a : b;
}

static int cmd_schedule_activity(td_ms_t *ms, td_ms_txn_t *t, const cmd_t *c, cctx_t *cx)
{
    const Temporal__Api__Command__V1__ScheduleActivityTaskCommandAttributes *ca =
            c->schedule_activity_task_command_attributes;
    int cause = TD_MS_CAUSE(BAD_SCHEDULE_ACTIVITY_ATTRIBUTES);
    int64_t s2c, s2s, st2c, hb, run = ms->run_timeout;
    td_ms_retry_policy_t rp;
    const char *tq;
    td_ms_event_t *e;
    Temporal__Api__History__V1__ActivityTaskScheduledEventAttributes *a;
    td_ms_activity_t *ai;
    td_ms_task_t task = { 0 };

    if (ca == NULL) {
        return bad(
                t, cause,
                "ScheduleActivityTaskCommandAttributes is not set on ScheduleActivityTaskCommand.");
    }
    if (ca->activity_id == NULL || ca->activity_id[0] == '\0') {
        return bad(t, cause, "ActivityId is not set on ScheduleActivityTaskCommand.");
    }
    if (ca->activity_type == NULL || ca->activity_type->name == NULL ||
        ca->activity_type->name[0] == '\0') {
        return bad(t, cause, "ActivityType is not set on ScheduleActivityTaskCommand.");
    }
    if (td_ms_activity_find_by_id(ms, ca->activity_id) != NULL) {
        return bad(t, TD_MS_CAUSE(SCHEDULE_ACTIVITY_DUPLICATE_ID), "Activity ID already in use.");
    }
    s2c = td_ms__dur_ns(ca->schedule_to_close_timeout);
    s2s = td_ms__dur_ns(ca->schedule_to_start_timeout);
    st2c = td_ms__dur_ns(ca->start_to_close_timeout);
    hb = td_ms__dur_ns(ca->heartbeat_timeout);
    if (s2c < 0 || s2s < 0 || st2c < 0 || hb < 0) {
        return bad(t, cause, "An invalid timeout is set on ScheduleActivityTaskCommand.");
    }
    if (s2c > 0) {
        s2s = min_nonzero(s2s, s2c);
        st2c = min_nonzero(st2c, s2c);
    } else if (st2c > 0) {
        s2c = run;
        s2s = s2s > 0 ? s2s : run;
    } else {
        return bad(t, cause,
                   "A valid StartToClose or ScheduleToCloseTimeout is not set on "
                   "ScheduleActivityTaskCommand.");
    }
    if (run > 0) {
        s2c = min_nonzero(s2c, run);
        s2s = min_nonzero(s2s, run);
        st2c = min_nonzero(st2c, run);
    }
    if (hb > st2c && st2c > 0) {
        hb = st2c;
    }
    if (normalise_retry(&rp, ca->retry_policy) != TD_OK) {
        return bad(t, cause, "Invalid RetryPolicy on ScheduleActivityTaskCommand.");
    }
    if (td_ms__blob_check(t, (const ProtobufCMessage *)ca->input, cause,
                          "ScheduleActivityTaskCommandAttributes.Input exceeds size limit.") !=
        TD_OK) {
        return TD_EINVAL;
    }
    if (td_ms__pending_check(t, TD_MS_CAUSE(PENDING_ACTIVITIES_LIMIT_EXCEEDED), ms->n_activities,
                             td_ms__limits(t)->pending_activities, "pending activities") != TD_OK) {
        return TD_EINVAL;
    }
    tq = (ca->task_queue && ca->task_queue->name && ca->task_queue->name[0]) ? ca->task_queue->name
                                                                             : ms->task_queue;

    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, ACTIVITY_TASK_SCHEDULED, activity_task_scheduled);
    set_user_metadata(e, c);
    a->activity_id = ca->activity_id;
    a->activity_type = ca->activity_type;
    a->task_queue = td_ms__pb_new(t->arena, &temporal__api__taskqueue__v1__task_queue__descriptor);
    a->task_queue->name = (char *)td_ms__astr(t->arena, tq);
    a->task_queue->kind = TD_MS_TQ_NORMAL;
    a->header = ca->header;
    a->input = ca->input;
    a->schedule_to_close_timeout = td_ms__dur(t->arena, s2c);
    a->schedule_to_start_timeout = td_ms__dur(t->arena, s2s);
    a->start_to_close_timeout = td_ms__dur(t->arena, st2c);
    a->heartbeat_timeout = td_ms__dur(t->arena, hb);
    a->workflow_task_completed_event_id = cx->completed_id;
    a->retry_policy = td_ms__retry_pb(t->arena, &rp);
    a->priority = ca->priority;
    td_ms__event_commit(ms, t, e, 0);

    ms->activities = td_realloc(ms->activities, (ms->n_activities + 1) * sizeof(*ms->activities));
    ai = &ms->activities[ms->n_activities++];
    memset(ai, 0, sizeof(*ai));
    ai->scheduled_id = e->event_id;
    ai->activity_id = td_ms__strdup(ca->activity_id);
    ai->activity_type = td_ms__strdup(ca->activity_type->name);
    ai->task_queue = td_ms__strdup(tq);
    ai->scheduled_time = ai->current_attempt_scheduled_time = t->now;
    ai->schedule_to_close = s2c;
    ai->schedule_to_start = s2s;
    ai->start_to_close = st2c;
    ai->heartbeat = hb;
    ai->retry = rp;
    ai->attempt = 1;

    task.type = TD_MS_TASK_ACTIVITY_TASK;
    task.event_id = ai->scheduled_id;
    task.attempt = 1;
    task.task_queue = tq;
    task.task_queue_kind = TD_MS_TQ_NORMAL;
    task.schedule_to_start = s2s;
    td_ms__task_add(t, &task);
    if (s2s > 0) { /* also when equal to s2c: it fires first (SCHEDULE_TO_START) */
        td_ms__timer_add(t, TD_MS_TASK_ACTIVITY_TIMEOUT, t->now + s2s, ai->scheduled_id, 1,
                         TD_MS_TO(SCHEDULE_TO_START));
    }
    if (s2c > 0) {
        td_ms__timer_add(t, TD_MS_TASK_ACTIVITY_TIMEOUT, t->now + s2c, ai->scheduled_id, 1,
                         TD_MS_TO(SCHEDULE_TO_CLOSE));
    }
    return TD_OK;
}

/* Temporal's details for an activity canceled before it started: the JSON string
 * "ACTIVITY_ID_NOT_STARTED". */
static Temporal__Api__Common__V1__Payloads *not_started_details(td_ms_txn_t *t)
{
    static const char data[] = "\"ACTIVITY_ID_NOT_STARTED\"";
    Temporal__Api__Common__V1__Payloads *ps =
            td_ms__pb_new(t->arena, &temporal__api__common__v1__payloads__descriptor);
    Temporal__Api__Common__V1__Payload *p =
            td_ms__pb_new(t->arena, &temporal__api__common__v1__payload__descriptor);
    Temporal__Api__Common__V1__Payload__MetadataEntry *m = td_ms__pb_new(
            t->arena, &temporal__api__common__v1__payload__metadata_entry__descriptor);
    m->key = (char *)"encoding";
    m->value.data = (uint8_t *)"json/plain";
    m->value.len = 10;
    p->n_metadata = 1;
    p->metadata = td_arena_alloc(t->arena, sizeof(*p->metadata));
    p->metadata[0] = m;
    p->data.data = (uint8_t *)data;
    p->data.len = sizeof(data) - 1;
    ps->n_payloads = 1;
    ps->payloads = td_arena_alloc(t->arena, sizeof(*ps->payloads));
    ps->payloads[0] = p;
    return ps;
}

static int cmd_cancel_activity(td_ms_t *ms, td_ms_txn_t *t, const cmd_t *c, cctx_t *cx)
{
    const Temporal__Api__Command__V1__RequestCancelActivityTaskCommandAttributes *ca =
            c->request_cancel_activity_task_command_attributes;
    int cause = TD_MS_CAUSE(BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES);
    td_ms_activity_t *ai;
    td_ms_event_t *e;
    Temporal__Api__History__V1__ActivityTaskCancelRequestedEventAttributes *a;
    int64_t req_id;

    if (ca == NULL || ca->scheduled_event_id <= 0 || ca->scheduled_event_id >= cx->completed_id) {
        return bad(t, cause, "ScheduledEventId is not set or invalid on request.");
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, ACTIVITY_TASK_CANCEL_REQUESTED, activity_task_cancel_requested);
    set_user_metadata(e, c);
    a->scheduled_event_id = ca->scheduled_event_id;
    a->workflow_task_completed_event_id = cx->completed_id;
    req_id = td_ms__event_commit(ms, t, e, 0);
    ai = td_ms_activity_find(ms, ca->scheduled_event_id);
    if (ai == NULL) {
        /* Already completed, failed, timed out or canceled (its result may sit in the buffer):
         * as in Temporal the request is recorded and nothing else happens. */
        return TD_OK;
    }
    if (!ai->started) {
        Temporal__Api__History__V1__ActivityTaskCanceledEventAttributes *ce;
        e = td_ms__event_new(t);
        ce = TD_MS_EV(e, t, ACTIVITY_TASK_CANCELED, activity_task_canceled);
        ce->scheduled_event_id = ai->scheduled_id;
        ce->latest_cancel_requested_event_id = req_id;
        ce->details = not_started_details(t);
        ce->identity = (char *)td_ms__astr(t->arena, cx->req->identity);
        td_ms__event_commit(ms, t, e, 0);
        td_ms__activity_remove(ms, ca->scheduled_event_id);
        cx->need_new_wft = 1;
    } else {
        ai->cancel_requested = 1;
        ai->cancel_requested_event_id = req_id;
    }
    return TD_OK;
}

static int cmd_start_timer(td_ms_t *ms, td_ms_txn_t *t, const cmd_t *c, cctx_t *cx)
{
    const Temporal__Api__Command__V1__StartTimerCommandAttributes *ca =
            c->start_timer_command_attributes;
    int cause = TD_MS_CAUSE(BAD_START_TIMER_ATTRIBUTES);
    int64_t d;
    td_ms_event_t *e;
    Temporal__Api__History__V1__TimerStartedEventAttributes *a;
    td_ms_timer_t *ti;
    td_ms_task_t task = { 0 };

    if (ca == NULL || ca->timer_id == NULL || ca->timer_id[0] == '\0') {
        return bad(t, cause, "TimerId is not set on StartTimerCommand.");
    }
    d = td_ms__dur_ns(ca->start_to_fire_timeout);
    if (d <= 0) {
        return bad(t, cause, "A valid StartToFireTimeout is not set on StartTimerCommand.");
    }
    if (td_ms_timer_find(ms, ca->timer_id) != NULL) {
        return bad(t, TD_MS_CAUSE(START_TIMER_DUPLICATE_ID), "Timer ID already in use.");
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, TIMER_STARTED, timer_started);
    set_user_metadata(e, c);
    a->timer_id = ca->timer_id;
    a->start_to_fire_timeout = ca->start_to_fire_timeout;
    a->workflow_task_completed_event_id = cx->completed_id;
    td_ms__event_commit(ms, t, e, 0);
    ms->timers = td_realloc(ms->timers, (ms->n_timers + 1) * sizeof(*ms->timers));
    ti = &ms->timers[ms->n_timers++];
    ti->timer_id = td_ms__strdup(ca->timer_id);
    ti->started_id = e->event_id;
    ti->expiry_time = t->now + d;
    task.type = TD_MS_TASK_USER_TIMER;
    task.fire_time = ti->expiry_time;
    task.event_id = ti->started_id;
    task.timer_id = ti->timer_id;
    td_ms__task_add(t, &task);
    return TD_OK;
}

/* Removes a buffered TimerFired for `timer_id`; returns its started event id or 0. */
static int64_t unbuffer_timer_fired(td_ms_t *ms, td_ms_txn_t *t, const char *timer_id)
{
    for (size_t i = 0; i < ms->n_buffered; i++) {
        td_ms_event_t *e = td_ms__blob_get(
                &ms->buffered[i], &temporal__api__history__v1__history_event__descriptor, t->arena);
        if (e != NULL && e->event_type == TD_MS_ET(TIMER_FIRED) &&
            strcmp(e->timer_fired_event_attributes->timer_id, timer_id) == 0) {
            int64_t id = e->timer_fired_event_attributes->started_event_id;
            td_ms__blob_free(&ms->buffered[i]);
            memmove(&ms->buffered[i], &ms->buffered[i + 1],
                    (ms->n_buffered - i - 1) * sizeof(td_ms_blob_t));
            ms->n_buffered--;
            return id;
        }
    }
    return 0;
}

static int cmd_cancel_timer(td_ms_t *ms, td_ms_txn_t *t, const cmd_t *c, cctx_t *cx)
{
    const Temporal__Api__Command__V1__CancelTimerCommandAttributes *ca =
            c->cancel_timer_command_attributes;
    td_ms_timer_t *ti;
    const char *timer_id;
    int64_t started_id;
    td_ms_event_t *e;
    Temporal__Api__History__V1__TimerCanceledEventAttributes *a;

    if (ca == NULL || ca->timer_id == NULL || ca->timer_id[0] == '\0') {
        return bad(t, TD_MS_CAUSE(BAD_CANCEL_TIMER_ATTRIBUTES),
                   "TimerId is not set on CancelTimerCommand.");
    }
    timer_id = td_ms__astr(t->arena, ca->timer_id); /* outlives the timer record */
    ti = td_ms_timer_find(ms, timer_id);
    if (ti != NULL) {
        started_id = ti->started_id;
        td_ms__timer_remove(ms, timer_id);
    } else {
        /* Fired while this task ran: the workflow wins, the buffered TimerFired goes. */
        started_id = unbuffer_timer_fired(ms, t, timer_id);
        if (started_id == 0) {
            return bad(t, TD_MS_CAUSE(BAD_CANCEL_TIMER_ATTRIBUTES), "Timer not found.");
        }
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, TIMER_CANCELED, timer_canceled);
    set_user_metadata(e, c);
    a->timer_id = (char *)timer_id;
    a->started_event_id = started_id;
    a->workflow_task_completed_event_id = cx->completed_id;
    a->identity = (char *)td_ms__astr(t->arena, cx->req->identity);
    td_ms__event_commit(ms, t, e, 0);
    return TD_OK;
}

static int cmd_record_marker(td_ms_t *ms, td_ms_txn_t *t, const cmd_t *c, cctx_t *cx)
{
    const Temporal__Api__Command__V1__RecordMarkerCommandAttributes *ca =
            c->record_marker_command_attributes;
    td_ms_event_t *e;
    Temporal__Api__History__V1__MarkerRecordedEventAttributes *a;

    if (ca == NULL || ca->marker_name == NULL || ca->marker_name[0] == '\0') {
        return bad(t, TD_MS_CAUSE(BAD_RECORD_MARKER_ATTRIBUTES),
                   "MarkerName is not set on RecordMarkerCommand.");
    }
    {
        size_t size = 0;
        for (size_t i = 0; i < ca->n_details; i++) {
            if (ca->details[i]->value != NULL) {
                size += protobuf_c_message_get_packed_size(&ca->details[i]->value->base);
            }
        }
        if (td_ms__limits(t)->blob_error > 0 && (int64_t)size > td_ms__limits(t)->blob_error) {
            t->terminate = 1;
            return bad(t, TD_MS_CAUSE(BAD_RECORD_MARKER_ATTRIBUTES),
                       "RecordMarkerCommandAttributes.Details exceeds size limit.");
        }
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, MARKER_RECORDED, marker_recorded);
    set_user_metadata(e, c);
    a->marker_name = ca->marker_name;
    a->n_details = ca->n_details;
    a->details = td_arena_alloc(t->arena, (ca->n_details + 1) * sizeof(*a->details));
    for (size_t i = 0; i < ca->n_details; i++) {
        Temporal__Api__History__V1__MarkerRecordedEventAttributes__DetailsEntry *d = td_ms__pb_new(
                t->arena,
                &temporal__api__history__v1__marker_recorded_event_attributes__details_entry__descriptor);
        d->key = ca->details[i]->key;
        d->value = ca->details[i]->value;
        a->details[i] = d;
    }
    a->workflow_task_completed_event_id = cx->completed_id;
    a->header = ca->header;
    a->failure = ca->failure;
    td_ms__event_commit(ms, t, e, 0);
    return TD_OK;
}

/* Merges `upd` (Payload map entries, an empty payload deletes) into the packed map in `b`. */
static void merge_payload_map(td_ms_blob_t *b, const ProtobufCMessageDescriptor *d, size_t n_upd,
                              Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry **upd,
                              td_arena_t *arena)
{
    /* Memo and SearchAttributes both are { map<string, Payload> field 1 }: same layout. */
    Temporal__Api__Common__V1__SearchAttributes *cur = td_ms__blob_get(b, d, arena);
    Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry **out;
    size_t n = 0, n_cur = cur ? cur->n_indexed_fields : 0;

    out = td_arena_alloc(arena, (n_cur + n_upd + 1) * sizeof(*out));
    for (size_t i = 0; i < n_cur; i++) {
        int replaced = 0;
        for (size_t j = 0; j < n_upd; j++) {
            replaced |= strcmp(cur->indexed_fields[i]->key, upd[j]->key) == 0;
        }
        if (!replaced) {
            out[n++] = cur->indexed_fields[i];
        }
    }
    for (size_t j = 0; j < n_upd; j++) {
        if (upd[j]->value != NULL && upd[j]->value->data.len > 0) {
            out[n++] = upd[j];
        }
    }
    if (cur == NULL) {
        cur = td_ms__pb_new(arena, d);
    }
    cur->n_indexed_fields = n;
    cur->indexed_fields = out;
    td_ms__blob_set(b, &cur->base);
}

static int cmd_upsert_sa(td_ms_t *ms, td_ms_txn_t *t, const cmd_t *c, cctx_t *cx)
{
    const Temporal__Api__Command__V1__UpsertWorkflowSearchAttributesCommandAttributes *ca =
            c->upsert_workflow_search_attributes_command_attributes;
    td_ms_event_t *e;
    Temporal__Api__History__V1__UpsertWorkflowSearchAttributesEventAttributes *a;
    td_ms_task_t task = { .type = TD_MS_TASK_VIS_UPSERT };

    if (ca == NULL || ca->search_attributes == NULL) {
        return bad(t, TD_MS_CAUSE(BAD_SEARCH_ATTRIBUTES),
                   "SearchAttributes is not set on request.");
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, upsert_workflow_search_attributes);
    set_user_metadata(e, c);
    a->workflow_task_completed_event_id = cx->completed_id;
    a->search_attributes = ca->search_attributes;
    td_ms__event_commit(ms, t, e, 0);
    merge_payload_map(&ms->search_attributes,
                      &temporal__api__common__v1__search_attributes__descriptor,
                      ca->search_attributes->n_indexed_fields,
                      ca->search_attributes->indexed_fields, t->arena);
    td_ms__task_add(t, &task);
    return TD_OK;
}

static int cmd_modify_properties(td_ms_t *ms, td_ms_txn_t *t, const cmd_t *c, cctx_t *cx)
{
    const Temporal__Api__Command__V1__ModifyWorkflowPropertiesCommandAttributes *ca =
            c->modify_workflow_properties_command_attributes;
    td_ms_event_t *e;
    Temporal__Api__History__V1__WorkflowPropertiesModifiedEventAttributes *a;
    td_ms_task_t task = { .type = TD_MS_TASK_VIS_UPSERT };

    if (ca == NULL || ca->upserted_memo == NULL) {
        return bad(t, TD_MS_CAUSE(BAD_MODIFY_WORKFLOW_PROPERTIES_ATTRIBUTES),
                   "UpsertedMemo is not set on request.");
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, WORKFLOW_PROPERTIES_MODIFIED, workflow_properties_modified);
    set_user_metadata(e, c);
    a->workflow_task_completed_event_id = cx->completed_id;
    a->upserted_memo = ca->upserted_memo;
    td_ms__event_commit(ms, t, e, 0);
    merge_payload_map(&ms->memo, &temporal__api__common__v1__memo__descriptor,
                      ca->upserted_memo->n_fields,
                      (Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry **)
                              ca->upserted_memo->fields,
                      t->arena);
    td_ms__task_add(t, &task);
    return TD_OK;
}

static int cmd_close(td_ms_t *ms, td_ms_txn_t *t, const cmd_t *c, cctx_t *cx)
{
    td_ms_event_t *e;
    int status;

    if (ms->n_buffered > 0) {
        cx->unhandled = 1;
        return bad(t, TD_MS_CAUSE(UNHANDLED_COMMAND), "UnhandledCommand");
    }
    if (t->updates_unsent > 0) {
        /* Updates arrived while the task ran: the workflow sees them before it may close. */
        cx->unhandled = 1;
        return bad(t, TD_MS_CAUSE(UNHANDLED_UPDATE), "UnhandledUpdate");
    }
    e = td_ms__event_new(t);
    set_user_metadata(e, c);
    switch (c->command_type) {
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: {
        Temporal__Api__History__V1__WorkflowExecutionCompletedEventAttributes *a =
                TD_MS_EV(e, t, WORKFLOW_EXECUTION_COMPLETED, workflow_execution_completed);
        if (c->complete_workflow_execution_command_attributes == NULL) {
            return bad(t, TD_MS_CAUSE(BAD_COMPLETE_WORKFLOW_EXECUTION_ATTRIBUTES),
                       "CompleteWorkflowExecutionCommandAttributes is not set on command.");
        }
        /* (Temporal reports this one with the schedule-activity cause) */
        if (td_ms__blob_check(
                    t,
                    (const ProtobufCMessage *)
                            c->complete_workflow_execution_command_attributes->result,
                    TD_MS_CAUSE(BAD_SCHEDULE_ACTIVITY_ATTRIBUTES),
                    "CompleteWorkflowExecutionCommandAttributes.Result exceeds size limit.") !=
            TD_OK) {
            return TD_EINVAL;
        }
        a->result = c->complete_workflow_execution_command_attributes->result;
        a->workflow_task_completed_event_id = cx->completed_id;
        status = TD_MS_WS(COMPLETED);
        td_ms__close_with(ms, t, e, status, NULL, a->result); /* cron: a new run */
        cx->closed = 1;
        return TD_OK;
    }
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: {
        Temporal__Api__History__V1__WorkflowExecutionFailedEventAttributes *a =
                TD_MS_EV(e, t, WORKFLOW_EXECUTION_FAILED, workflow_execution_failed);
        if (c->fail_workflow_execution_command_attributes == NULL ||
            c->fail_workflow_execution_command_attributes->failure == NULL) {
            return bad(t, TD_MS_CAUSE(BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES),
                       "Failure is not set on command.");
        }
        if (td_ms__blob_check(
                    t,
                    (const ProtobufCMessage *)
                            c->fail_workflow_execution_command_attributes->failure,
                    TD_MS_CAUSE(BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES),
                    "FailWorkflowExecutionCommandAttributes.Failure exceeds size limit.") !=
            TD_OK) {
            return TD_EINVAL;
        }
        a->failure = c->fail_workflow_execution_command_attributes->failure;
        a->workflow_task_completed_event_id = cx->completed_id;
        status = TD_MS_WS(FAILED);
        /* retry_state and new_execution_run_id: td_ms__close_with (retry, cron) */
        td_ms__close_with(ms, t, e, status, a->failure, NULL);
        cx->closed = 1;
        return TD_OK;
    }
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: {
        const Temporal__Api__Command__V1__ContinueAsNewWorkflowExecutionCommandAttributes *ca =
                c->continue_as_new_workflow_execution_command_attributes;
        Temporal__Api__History__V1__WorkflowExecutionContinuedAsNewEventAttributes *a = TD_MS_EV(
                e, t, WORKFLOW_EXECUTION_CONTINUED_AS_NEW, workflow_execution_continued_as_new);
        int64_t backoff;
        if (ca == NULL) {
            return bad(t, TD_MS_CAUSE(BAD_CONTINUE_AS_NEW_ATTRIBUTES),
                       "ContinueAsNewWorkflowExecutionCommandAttributes is not set on command.");
        }
        backoff = td_ms__dur_ns(ca->backoff_start_interval);
        if (backoff < 0 || td_ms__dur_ns(ca->workflow_run_timeout) < 0 ||
            td_ms__dur_ns(ca->workflow_task_timeout) < 0) {
            return bad(t, TD_MS_CAUSE(BAD_CONTINUE_AS_NEW_ATTRIBUTES),
                       "An invalid timeout is set on ContinueAsNewWorkflowExecutionCommand.");
        }
        if (td_ms__blob_check(t, (const ProtobufCMessage *)ca->input,
                              TD_MS_CAUSE(BAD_CONTINUE_AS_NEW_ATTRIBUTES),
                              "ContinueAsNewWorkflowExecutionCommandAttributes. Input exceeds size "
                              "limit.") != TD_OK) {
            return TD_EINVAL;
        }
        a->new_execution_run_id = (char *)td_ms__astr(t->arena, t->new_run_id);
        a->workflow_type = ca->workflow_type;
        if (a->workflow_type == NULL || a->workflow_type->name == NULL ||
            a->workflow_type->name[0] == '\0') {
            a->workflow_type =
                    td_ms__pb_new(t->arena, &temporal__api__common__v1__workflow_type__descriptor);
            a->workflow_type->name = (char *)td_ms__astr(t->arena, ms->workflow_type);
        }
        a->task_queue =
                td_ms__pb_new(t->arena, &temporal__api__taskqueue__v1__task_queue__descriptor);
        a->task_queue->name = (char *)td_ms__astr(
                t->arena, (ca->task_queue && ca->task_queue->name && ca->task_queue->name[0])
                                  ? ca->task_queue->name
                                  : ms->task_queue);
        a->task_queue->kind = TD_MS_TQ_NORMAL;
        a->header = ca->header;
        a->input = ca->input;
        a->workflow_run_timeout = ca->workflow_run_timeout;
        a->workflow_task_timeout = ca->workflow_task_timeout;
        a->backoff_start_interval = ca->backoff_start_interval;
        a->initiator = ca->initiator ? ca->initiator : TD_MS_INIT(WORKFLOW);
        a->failure = ca->failure;
        a->last_completion_result = ca->last_completion_result;
        a->memo = ca->memo;
        a->search_attributes = ca->search_attributes;
        a->workflow_task_completed_event_id = cx->completed_id;
        memset(&t->next, 0, sizeof(t->next));
        t->next.initiator = a->initiator;
        t->next.run_id = a->new_execution_run_id;
        t->next.backoff = td_ms__chain_backoff(ms, t->now, backoff);
        t->next.can = ca;
        t->next.last_completion_result = ca->last_completion_result;
        t->next.continued_failure = ca->failure;
        td_ms__close(ms, t, TD_MS_WS(CONTINUED_AS_NEW), td_ms__event_commit(ms, t, e, 0));
        cx->closed = 1;
        return TD_OK;
    }
    default: {
        Temporal__Api__History__V1__WorkflowExecutionCanceledEventAttributes *a =
                TD_MS_EV(e, t, WORKFLOW_EXECUTION_CANCELED, workflow_execution_canceled);
        a->details = c->cancel_workflow_execution_command_attributes
                             ? c->cancel_workflow_execution_command_attributes->details
                             : NULL;
        a->workflow_task_completed_event_id = cx->completed_id;
        status = TD_MS_WS(CANCELED);
        break;
    }
    }
    td_ms__close(ms, t, status, td_ms__event_commit(ms, t, e, 0));
    cx->closed = 1;
    return TD_OK;
}

static int cmd_supported(const td_ms_txn_t *t, int type)
{
    switch (type) {
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
        return t->new_run_id != NULL && t->new_run_id[0] != '\0';
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        return (t->caps & TD_MS_CAP_CHILD) != 0;
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION:
        return (t->caps & TD_MS_CAP_EXTERNAL) != 0;
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_START_TIMER:
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_CANCEL_TIMER:
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_RECORD_MARKER:
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES:
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_PROTOCOL_MESSAGE:
        return 1;
    default:
        return 0;
    }
}

static int run_command(td_ms_t *ms, td_ms_txn_t *t, const cmd_t *c, cctx_t *cx)
{
    switch (c->command_type) {
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        return cmd_schedule_activity(ms, t, c, cx);
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
        return cmd_cancel_activity(ms, t, c, cx);
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_START_TIMER:
        return cmd_start_timer(ms, t, c, cx);
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_CANCEL_TIMER:
        return cmd_cancel_timer(ms, t, c, cx);
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_RECORD_MARKER:
        return cmd_record_marker(ms, t, c, cx);
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        return cmd_upsert_sa(ms, t, c, cx);
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES:
        return cmd_modify_properties(ms, t, c, cx);
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        return td_ms__cmd_start_child(ms, t, c, cx->completed_id);
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
        return td_ms__cmd_signal_external(ms, t, c, cx->completed_id);
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION:
        return td_ms__cmd_cancel_external(ms, t, c, cx->completed_id);
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_PROTOCOL_MESSAGE:
        return td_ms__cmd_protocol_message(ms, t, c, cx->req, cx->msg_done);
    default:
        return cmd_close(ms, t, c, cx);
    }
}

/* ---- completion ---- */

/* Writes the transient task's Scheduled and Started events, with their original times. */
static void wft_persist_transient(td_ms_t *ms, td_ms_txn_t *t)
{
    td_ms_event_t *s, *st;

    if (!ms->wft.transient) {
        return;
    }
    s = wft_scheduled_event_copy(ms, t);
    st = wft_started_event(ms, t);
    ms->wft.transient = 0;
    td_ms__event_commit(ms, t, s, 0);
    td_ms__event_commit(ms, t, st, 0);
}

static int apply_completion(td_ms_t *ms, td_ms_txn_t *t, const complete_req_t *req, cctx_t *cx,
                            td_ms_wft_completed_t *out)
{
    td_ms_event_t *e;
    Temporal__Api__History__V1__WorkflowTaskCompletedEventAttributes *a;
    int rc = TD_OK;
    int heartbeat =
            req->force_create_new_workflow_task && req->n_commands == 0 && req->n_messages == 0;
    int64_t original = ms->wft.original_scheduled_time;

    wft_persist_transient(ms, t);
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, WORKFLOW_TASK_COMPLETED, workflow_task_completed);
    a->scheduled_event_id = ms->wft.scheduled_id;
    a->started_event_id = ms->wft.started_id;
    a->identity = req->identity;
    a->binary_checksum = req->binary_checksum;
    a->worker_version = req->worker_version_stamp;
    a->sdk_metadata = req->sdk_metadata;
    a->metering_metadata = req->metering_metadata;
    a->deployment = req->deployment;
    a->versioning_behavior = req->versioning_behavior;
    cx->completed_id = td_ms__event_commit(ms, t, e, 0);
    td_ms__build_ids_note(ms, t, req->worker_version_stamp);
    ms->previous_started_event_id = ms->wft.started_id;
    td_ms__wft_clear(ms);

    if (req->sticky_attributes != NULL && req->sticky_attributes->worker_task_queue != NULL &&
        req->sticky_attributes->worker_task_queue->name != NULL &&
        req->sticky_attributes->worker_task_queue->name[0] != '\0') {
        int64_t s2s = td_ms__dur_ns(req->sticky_attributes->schedule_to_start_timeout);
        td_ms__str_set(&ms->sticky_task_queue, req->sticky_attributes->worker_task_queue->name);
        ms->sticky_schedule_to_start = s2s > 0 ? s2s : 0;
    } else {
        td_ms_reset_sticky(ms);
    }

    cx->msg_done = td_arena_calloc(t->arena, req->n_messages + 1);
    for (size_t i = 0; i < req->n_commands && rc == TD_OK; i++) {
        rc = run_command(ms, t, req->commands[i], cx);
    }
    if (rc == TD_OK) {
        /* Protocol messages no command placed (update rejections): after the commands. */
        rc = td_ms__update_messages(ms, t, req, cx->msg_done, cx->closed);
    }
    if (rc != TD_OK || cx->closed) {
        return rc;
    }
    /* Checked after the commands: a CancelTimer may have taken a buffered TimerFired. */
    cx->had_buffered = ms->n_buffered > 0;
    td_ms__flush_buffer(ms, t);
    if (req->force_create_new_workflow_task || cx->had_buffered || cx->need_new_wft ||
        t->updates_unsent > 0) {
        int start_now = req->return_new_workflow_task != 0;
        td_ms__wft_schedule(ms, t, 1, !start_now);
        if (heartbeat) {
            ms->wft.original_scheduled_time = original; /* the chain keeps its start */
        }
        if (start_now) {
            td_ms__wft_start(ms, t, "", req->identity, &out->started);
            out->new_task_started = 1;
        }
    }
    return TD_OK;
}

/* Puts the state back to `snap` (td_ms_encode output) and empties the txn. */
static void restore(td_ms_t *ms, td_ms_txn_t *t, const uint8_t *snap, size_t len)
{
    td_ms_t *old = NULL;
    if (td_ms_decode(snap, len, &old) != TD_OK) {
        abort(); /* our own encoding: cannot fail */
    }
    td_ms__reset(ms);
    *ms = *old;
    td_free(old);
    t->n_events = 0;
    t->n_tasks = 0;
    t->n_update_effects = 0;
    memset(&t->next, 0, sizeof(t->next));
}

int td_ms_wft_complete(td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok,
                       const complete_req_t *req, td_ms_wft_completed_t *out)
{
    int rc = wft_check_token(ms, t, tok);
    uint8_t *snap = NULL;
    size_t snap_len = 0;
    cctx_t cx = { .req = req };
    int transient;

    memset(out, 0, sizeof(*out));
    if (rc != TD_OK) {
        return rc;
    }
    for (size_t i = 0; i < req->n_commands; i++) {
        int type = req->commands[i] ? (int)req->commands[i]->command_type : 0;
        if ((type == TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION ||
             type == TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION ||
             type == TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION ||
             type == TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION) &&
            i + 1 < req->n_commands) {
            /* As Temporal's command-sequence check: refused outright, the task stays started. */
            t->msg = td_arena_printf(
                    t->arena, "invalid command sequence: command type %d must be the last command",
                    type);
            return TD_EINVAL;
        }
    }
    for (size_t i = 0; i < req->n_commands; i++) {
        if (req->commands[i] == NULL || !cmd_supported(t, req->commands[i]->command_type)) {
            t->msg = td_arena_printf(t->arena, "command type %d is not implemented yet",
                                     req->commands[i] ? (int)req->commands[i]->command_type : 0);
            return TD_EUNIMPL;
        }
    }
    if (req->force_create_new_workflow_task && req->n_commands == 0 && req->n_messages == 0 &&
        t->now - ms->wft.original_scheduled_time >= TD_MS_WFT_HEARTBEAT_TIMEOUT) {
        /* Heartbeating for too long (a local activity that never ends): time the task out. */
        td_ms__wft_timeout(ms, t, TD_MS_TO(START_TO_CLOSE));
        return td_ms__fail(t, TD_ENOTFOUND, "workflow task heartbeat timeout");
    }
    transient = ms->wft.transient;
    td_ms_encode(ms, t->arena, &snap, &snap_len);
    rc = apply_completion(ms, t, req, &cx, out);
    if (rc == TD_OK) {
        return TD_OK;
    }
    /* Discard what the commands did; fail the task instead. */
    {
        int cause = t->cause;
        const char *msg = t->msg;
        Temporal__Api__Failure__V1__Failure *f =
                td_ms__pb_new(t->arena, &temporal__api__failure__v1__failure__descriptor);
        restore(ms, t, snap, snap_len);
        memset(out, 0, sizeof(*out));
        t->cause = cause;
        t->msg = msg;
        if (transient && !cx.unhandled) {
            /* Repeated bad commands: report, write nothing, let the task time out. */
            return rc;
        }
        f->message = (char *)msg;
        wft_persist_transient(ms, t);
        td_ms__wft_failed_event(ms, t, cause, f, req->identity, req->binary_checksum);
        /* UnhandledCommand is not the worker's fault: the next task is an ordinary attempt 1
         * that carries the new events. */
        if (cx.unhandled) {
            int sticky = ms->wft.task_queue_kind == TD_MS_TQ_STICKY;
            td_ms__wft_clear(ms);
            if (sticky) {
                td_ms_reset_sticky(ms);
            }
            td_ms__flush_buffer(ms, t);
            td_ms__wft_schedule(ms, t, 1, 1);
        } else if (t->terminate) {
            /* a payload past limit.blobSize.error: the run ends here, as Temporal's does */
            const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
                    &temporal__api__enums__v1__workflow_task_failed_cause__descriptor, cause);
            const char *reason =
                    td_arena_printf(t->arena, "%s: %s", v != NULL ? v->name : "UNKNOWN", msg);
            td_ms__flush_buffer(ms, t);
            td_ms_terminate(ms, t, reason, NULL, TD_MS_IDENTITY_HISTORY);
            t->cause = cause;
            t->msg = msg;
        } else {
            wft_retry(ms, t, 1);
        }
    }
    return rc;
}

/* ---- shared with ms_reset.c (replay of the events these commands wrote) ---- */

int td_ms__retry_normalise(td_ms_retry_policy_t *p, const Temporal__Api__Common__V1__RetryPolicy *r)
{
    return normalise_retry(p, r);
}

void td_ms__merge_payload_map(td_ms_blob_t *b, const ProtobufCMessageDescriptor *d, size_t n_upd,
                              Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry **upd,
                              td_arena_t *arena)
{
    merge_payload_map(b, d, n_upd, upd, arena);
}
