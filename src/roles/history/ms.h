/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mutable state of one workflow run and every transition on it: pure functions over
 * in-memory state, no I/O, no clock, no locks. A transition takes the current state, the
 * request and `now`, validates, mutates the state and records what it produced (history
 * events, transfer/timer/visibility tasks) in a td_ms_txn_t; the history service persists
 * the new state, the events and the tasks in one store transaction, then dispatches the
 * tasks. This module is not the service: it knows nothing of shards, caches, the store or
 * matching. Callers: the history role (service, queue processors) and the unit tests, on the
 * one thread that owns the run.
 *
 * Design notes
 * ============
 *
 * Execution state (td_ms_t.state, td_ms_t.status)
 *
 *   Invariants: a RUNNING run has exactly one WorkflowExecutionStarted event (id 1); a
 *   COMPLETED run has no pending workflow task, activity, timer or buffered event, and its
 *   last event is the close event (completion_event_id). next_event_id is one past the last
 *   event written to history; events are dense from 1.
 *
 *        td_ms_start            close command / terminate / run timeout
 *     ----------------> RUNNING -------------------------------------> COMPLETED
 *
 *   FROM      -> TO         [function]
 *   (none)    -> RUNNING    [td_ms_start]
 *   RUNNING   -> COMPLETED  [td_ms_wft_complete (Complete/Fail/CancelWorkflowExecution),
 *                            td_ms_terminate, td_ms_timer_task_apply (RUN_TIMEOUT)]
 *
 * Workflow task (td_ms_t.wft)
 *
 *   Invariants: at most one workflow task exists. scheduled_id == 0 <=> none pending.
 *   started_id != 0 => scheduled_id != 0. While a task is started, external events go to the
 *   buffer, never to history. A transient task (attempt > 1 after a failure or timeout on the
 *   normal queue) has no events in history: its scheduled_id == next_event_id and its
 *   started_id == scheduled_id + 1; its Scheduled/Started events are written only when it
 *   completes. When an event must be written while it is merely scheduled, it is replaced by
 *   an ordinary attempt 1 first (new information deserves a fresh attempt, as in Temporal).
 *   A task on the sticky queue that fails or times out clears stickiness and keeps its
 *   attempt. The buffer is non-empty only while a task is started.
 *
 *                   schedule                    record_started
 *     NONE -------------------------> SCHEDULED ---------------> STARTED
 *      ^  ^                           |   |  ^                     |  |
 *      |  |  sticky schedule-to-start |   |  | fail/timeout/       |  | complete
 *      |  |  timeout: re-schedule on  +---+  | unhandled command   |  |
 *      |  |  the normal queue                +---------------------+  |
 *      |  +-----------------------------------------------------------+ (no new task needed)
 *      +-- workflow closes (any state)
 *
 *   FROM      -> TO         [function]
 *   NONE      -> SCHEDULED  [td_ms_start, any event needing a task (signal, activity result,
 *                            timer fired, cancel request), td_ms_wft_complete (new task)]
 *   SCHEDULED -> STARTED    [td_ms_wft_record_started]
 *   SCHEDULED -> SCHEDULED  [td_ms_timer_task_apply (WFT_TIMEOUT schedule-to-start, sticky);
 *                            any event written while a transient task waits (-> attempt 1)]
 *   STARTED   -> NONE       [td_ms_wft_complete]
 *   STARTED   -> SCHEDULED  [td_ms_wft_complete (new task needed, or UnhandledCommand / bad
 *                            command), td_ms_wft_fail, td_ms_timer_task_apply (WFT_TIMEOUT
 *                            start-to-close)]
 *   any       -> NONE       [workflow close]
 *
 * Activity (td_ms_activity_t, keyed by scheduled event id)
 *
 *   Invariants: an activity always carries a normalised retry policy, so its
 *   ActivityTaskStarted event is never written at start; it is written together with the
 *   terminal event (Completed/Failed/TimedOut/Canceled) and only for the final attempt.
 *   Retries write no event. A timer or transfer task for an activity names its attempt; a task
 *   whose attempt or state no longer matches is stale and dropped.
 *
 *               record_started             fail / timeout, retry allowed
 *   SCHEDULED ------------------> STARTED ------------------------------> BACKOFF
 *     |   ^                        |                                        |
 *     |   +------------------------|---------- ACTIVITY_RETRY timer --------+
 *     |                            |
 *     | cancel cmd / S2S, S2C      | complete / fail final / timeout final / canceled
 *     +----------------------------+---------------------------------> (removed)
 *
 *   FROM      -> TO         [function]
 *   (none)    -> SCHEDULED  [td_ms_wft_complete (ScheduleActivityTask)]
 *   SCHEDULED -> STARTED    [td_ms_activity_record_started]
 *   STARTED   -> BACKOFF    [td_ms_activity_fail, td_ms_timer_task_apply (START_TO_CLOSE,
 *                            HEARTBEAT)]
 *   BACKOFF   -> SCHEDULED  [td_ms_timer_task_apply (ACTIVITY_RETRY)]
 *   STARTED   -> removed    [td_ms_activity_complete, td_ms_activity_fail (final),
 *                            td_ms_activity_cancel, td_ms_timer_task_apply (final timeout)]
 *   SCHEDULED -> removed    [td_ms_wft_complete (RequestCancelActivityTask),
 *                            td_ms_timer_task_apply (SCHEDULE_TO_START, SCHEDULE_TO_CLOSE)]
 *   BACKOFF is SCHEDULED with current_attempt_scheduled_time in the future.
 *
 * Not here (yet): child workflows, continue-as-new, cron and workflow retries, external
 * signals/cancels, Nexus, updates (PROTOCOL_MESSAGE commands return TD_EUNIMPL, messages are
 * ignored) and queries (buffered queries live in the service's memory, as in Temporal, not in
 * the persisted state).
 *
 * Errors: every transition returns TD_OK or a negative TD_E* code and, on error, sets
 * txn->msg (Temporal's wording where the SDK looks at it). TD_ENOTFOUND: closed run ("workflow
 * execution already completed") or stale task/token ("Workflow task not found.", "invalid
 * activityID or activity already timed out or invoking workflow is completed"). TD_EINVAL:
 * malformed request or bad command attributes (txn->cause). Whatever the return code, the caller
 * persists the state, events and tasks when the txn holds any (a rejected completion still writes
 * WorkflowTaskFailed; a heartbeat timeout writes WorkflowTaskTimedOut); an empty txn after an error
 * means the state is unchanged.
 */
#ifndef TD_MS_H
#define TD_MS_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "temporal/api/history/v1/message.pb-c.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"
#include "token.pb-c.h"

#define TD_MS_SECOND INT64_C(1000000000)
/* Workflow task timeout when the start request has none, and its cap. */
#define TD_MS_DEFAULT_WFT_TIMEOUT (10 * TD_MS_SECOND)
#define TD_MS_MAX_WFT_TIMEOUT     (120 * TD_MS_SECOND)
/* A chain of workflow tasks kept alive with force_create_new_workflow_task and no commands
 * (long local activities) may last this long (Temporal's history.workflowTaskHeartbeatTimeout). */
#define TD_MS_WFT_HEARTBEAT_TIMEOUT (30 * 60 * TD_MS_SECOND)
/* WorkflowTaskStarted suggests continue-as-new past these (Temporal's
 * limit.historyCount/historySize.suggestContinueAsNew defaults). */
/* Workflow task retries slow down after this many attempts (see wft_timeout_for). */
#define TD_MS_WFT_BACKOFF_MIN_ATTEMPTS 3
#define TD_MS_WFT_BACKOFF_INITIAL      (5 * TD_MS_SECOND)
#define TD_MS_WFT_BACKOFF_MAX          (10 * 60 * TD_MS_SECOND)
#define TD_MS_SUGGEST_CAN_EVENTS       4096
#define TD_MS_SUGGEST_CAN_BYTES        (4 * 1024 * 1024)

typedef Temporal__Api__History__V1__HistoryEvent td_ms_event_t;

typedef enum {
    TD_MS_STATE_RUNNING = 1,
    TD_MS_STATE_COMPLETED = 2,
} td_ms_state_t;

typedef struct {
    int64_t initial_interval; /* ns */
    double backoff_coefficient;
    int64_t maximum_interval; /* ns */
    int32_t maximum_attempts; /* 0 = unlimited */
    char **non_retryable_error_types;
    size_t n_non_retryable_error_types;
} td_ms_retry_policy_t;

typedef struct {
    uint8_t *data; /* td_malloc'd; NULL when empty */
    size_t len;
} td_ms_blob_t;

typedef struct {
    int64_t scheduled_id; /* 0: no workflow task */
    int64_t started_id;   /* 0: not started */
    int32_t attempt;
    int transient; /* Scheduled/Started events not in history */
    char *request_id;
    char *identity;
    char *task_queue; /* queue the task was scheduled on */
    int task_queue_kind;
    int64_t start_to_close; /* ns */
    int64_t sticky_schedule_to_start;
    int64_t scheduled_time;
    int64_t started_time;
    int64_t original_scheduled_time; /* first task of a chain of heartbeat tasks */
} td_ms_wft_t;

typedef struct {
    int64_t scheduled_id;
    char *activity_id;
    char *activity_type;
    char *task_queue;
    int64_t scheduled_time;                 /* first attempt */
    int64_t current_attempt_scheduled_time; /* this attempt (after backoff) */
    int64_t schedule_to_close, schedule_to_start, start_to_close, heartbeat; /* ns, 0 = none */
    td_ms_retry_policy_t retry;
    int32_t attempt;
    int started;
    int64_t started_time;
    char *started_identity;
    char *started_request_id;
    td_ms_blob_t heartbeat_details; /* packed Payloads */
    int64_t last_heartbeat_time;
    int cancel_requested;
    int64_t cancel_requested_event_id;
    td_ms_blob_t last_failure; /* packed Failure */
    char *last_worker_identity;
} td_ms_activity_t;

typedef struct {
    char *timer_id;
    int64_t started_id;
    int64_t expiry_time;
} td_ms_timer_t;

/* Everything below is owned by the td_ms_t (td_malloc'd); callers read, never write. */
typedef struct td_ms_s {
    char *namespace_id, *workflow_id, *run_id, *first_execution_run_id;
    char *workflow_type, *task_queue;
    int64_t execution_timeout, run_timeout, task_timeout; /* ns, normalised */
    int has_retry_policy;
    td_ms_retry_policy_t retry_policy;
    int status; /* temporal.api.enums.v1.WorkflowExecutionStatus */
    td_ms_state_t state;
    int64_t start_time, execution_expiration, run_expiration, close_time; /* ns, 0 = none */
    int32_t attempt;
    td_ms_blob_t memo, search_attributes; /* packed Memo / SearchAttributes */
    char *start_request_id;
    int cancel_requested;
    char *cancel_request_id;
    int64_t completion_event_id;
    char *sticky_task_queue; /* NULL: not sticky */
    int64_t sticky_schedule_to_start;
    int64_t first_workflow_task_backoff;
    char *cron_schedule;

    int64_t next_event_id;
    int64_t previous_started_event_id; /* started id of the last completed workflow task */
    int64_t db_record_version;         /* the service bumps it on each successful write */
    int64_t last_event_task_id;
    int64_t history_size_bytes; /* serialised size of the events written so far */

    td_ms_wft_t wft;
    td_ms_activity_t *activities;
    size_t n_activities;
    td_ms_timer_t *timers;
    size_t n_timers;
    td_ms_blob_t *buffered; /* packed HistoryEvents without ids */
    size_t n_buffered;
    char **signal_request_ids;
    size_t n_signal_request_ids;
} td_ms_t;

typedef enum {
    /* transfer */
    TD_MS_TASK_WORKFLOW_TASK = 1, /* push workflow task (event_id, task_queue) to matching */
    TD_MS_TASK_ACTIVITY_TASK = 2, /* push activity (event_id, attempt, task_queue) to matching */
    TD_MS_TASK_CLOSE_EXECUTION = 3,
    /* timer */
    TD_MS_TASK_WFT_TIMEOUT = 10,      /* timeout_type START_TO_CLOSE or SCHEDULE_TO_START */
    TD_MS_TASK_ACTIVITY_TIMEOUT = 11, /* timeout_type any of the four */
    TD_MS_TASK_USER_TIMER = 12,       /* timer_id, event_id = TimerStarted id */
    TD_MS_TASK_ACTIVITY_RETRY = 13,   /* backoff over: dispatch the next attempt */
    TD_MS_TASK_RUN_TIMEOUT = 14,
    TD_MS_TASK_WORKFLOW_BACKOFF = 15, /* start delay over: schedule the first workflow task */
    /* visibility */
    TD_MS_TASK_VIS_START = 20,
    TD_MS_TASK_VIS_UPSERT = 21,
    TD_MS_TASK_VIS_CLOSE = 22,
} td_ms_task_type_t;

typedef enum {
    TD_MS_CAT_TRANSFER = 1,
    TD_MS_CAT_TIMER = 2,
    TD_MS_CAT_VISIBILITY = 3,
} td_ms_task_category_t;

/* A task created by a transition: plain ids, checked again against the state when it runs. */
typedef struct {
    td_ms_task_type_t type;
    int64_t fire_time; /* timer tasks: ns since epoch */
    int64_t event_id;
    int32_t attempt;
    int timeout_type;       /* temporal.api.enums.v1.TimeoutType */
    const char *task_queue; /* arena copy */
    int task_queue_kind;
    int64_t schedule_to_start; /* ns: sticky WFT / activity schedule-to-start, for matching */
    const char *timer_id;      /* arena copy */
} td_ms_task_t;

/* The outputs of one transition; everything lives in `arena`. Events may point into the
 * request the transition was given (payloads, headers, failures are not copied): keep the
 * request alive until the events are serialised. */
typedef struct {
    td_arena_t *arena;
    int64_t now;            /* ns since epoch; stamped on every new event */
    int64_t task_id;        /* copied into HistoryEvent.task_id of every event */
    td_ms_event_t **events; /* appended to history, ids dense from the old next_event_id */
    size_t n_events, cap_events;
    td_ms_task_t *tasks;
    size_t n_tasks, cap_tasks;
    int cause;       /* WorkflowTaskFailedCause when a completion was rejected, else 0 */
    const char *msg; /* error text when a transition fails */
} td_ms_txn_t;

/* What a poll response needs about a started workflow task. */
typedef struct {
    int64_t scheduled_id, started_id, previous_started_event_id;
    int32_t attempt;
    int64_t scheduled_time, started_time;
    int sticky; /* delivered on the sticky queue: send history from previous_started + 1 */
    /* Transient attempt: its Scheduled and Started events, to append to the poll's history
     * (never persisted by this call); NULL/0 otherwise. */
    td_ms_event_t **transient_events;
    size_t n_transient_events;
    ProtobufCBinaryData token; /* encoded temporald.token.Task, in the txn arena */
} td_ms_wft_started_t;

typedef struct {
    int new_task_started; /* return_new_workflow_task honoured: `started` is filled */
    td_ms_wft_started_t started;
} td_ms_wft_completed_t;

/* What an activity poll response needs (header/input come from the scheduled event). */
typedef struct {
    int64_t scheduled_id;
    int32_t attempt;
    int64_t scheduled_time, current_attempt_scheduled_time, started_time;
    int64_t schedule_to_close, start_to_close, heartbeat; /* ns */
    const td_ms_activity_t *activity; /* valid until the next transition on the state */
    ProtobufCBinaryData token;
} td_ms_activity_started_t;

void td_ms_txn_init(td_ms_txn_t *t, td_arena_t *arena, int64_t now);
td_ms_task_category_t td_ms_task_category(td_ms_task_type_t type);

/* Frees the state and everything it owns; NULL is fine. */
void td_ms_free(td_ms_t *ms);
/* Serialises to a temporald.history.MutableState in `arena`. */
int td_ms_encode(const td_ms_t *ms, td_arena_t *arena, uint8_t **out, size_t *out_len);
/* Rebuilds a state from td_ms_encode output: TD_OK, or TD_EINVAL for malformed input. */
int td_ms_decode(const uint8_t *buf, size_t len, td_ms_t **out);
/* Serialises/parses one task as a temporald.history.Task. */
int td_ms_task_encode(const td_ms_task_t *task, td_arena_t *arena, uint8_t **out, size_t *len);
int td_ms_task_decode(const uint8_t *buf, size_t len, td_arena_t *arena, td_ms_task_t *out);

/* Looks up a pending activity / timer; NULL if none. */
td_ms_activity_t *td_ms_activity_find(const td_ms_t *ms, int64_t scheduled_id);
td_ms_activity_t *td_ms_activity_find_by_id(const td_ms_t *ms, const char *activity_id);
td_ms_timer_t *td_ms_timer_find(const td_ms_t *ms, const char *timer_id);

/*
 * Starts a run. Emits [WorkflowExecutionStarted, WorkflowTaskScheduled] (only the first with a
 * workflow_start_delay, plus a WORKFLOW_BACKOFF timer) and tasks WORKFLOW_TASK, VIS_START and
 * RUN_TIMEOUT (when a run timeout is set). Timeouts are normalised (run = min(run, execution),
 * task default 10 s, capped at 120 s and at the run timeout). *out is a new state owned by the
 * caller. TD_EINVAL for a malformed request, TD_EUNIMPL for cron schedules.
 */
int td_ms_start(td_ms_txn_t *t,
                const Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *req,
                const char *namespace_id, const char *run_id, td_ms_t **out);

/*
 * A poller took the workflow task `scheduled_id` from `poll_kind` (TaskQueueKind). Emits
 * WorkflowTaskStarted (nothing for a transient attempt: its events are returned in *out) and a
 * WFT_TIMEOUT start-to-close timer. A normal-queue poll of a sticky run clears stickiness.
 * Same request_id again: idempotent success, no events. TD_ENOTFOUND when the task is stale,
 * TD_EEXIST when another poller started it.
 */
int td_ms_wft_record_started(td_ms_t *ms, td_ms_txn_t *t, int64_t scheduled_id,
                             const char *request_id, const char *identity, int poll_kind,
                             td_ms_wft_started_t *out);

/*
 * RespondWorkflowTaskCompleted. `tok` is the decoded task token. Emits (transient Scheduled +
 * Started,) WorkflowTaskCompleted, one or two events per command in order, the flushed
 * buffer (completion events last) and a new WorkflowTaskScheduled (+Started when
 * return_new_workflow_task) when needed, with the matching tasks. A close command with
 * buffered events: WorkflowTaskFailed(UNHANDLED_COMMAND) + flush + new task, returns
 * TD_EINVAL with msg "UnhandledCommand". Bad command attributes: the commands are discarded,
 * WorkflowTaskFailed(BAD_*) + new task (nothing on a transient attempt), TD_EINVAL with
 * txn->cause. TD_EUNIMPL (state unchanged) for commands not implemented yet; TD_EINVAL
 * (state unchanged, task stays started) when a close command is not the last command. A heartbeat
 * (force_create_new_workflow_task, no commands) after 30 min of heartbeats: the task times
 * out (WorkflowTaskTimedOut written) and TD_ENOTFOUND "workflow task heartbeat timeout".
 */
int td_ms_wft_complete(
        td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok,
        const Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req,
        td_ms_wft_completed_t *out);

/*
 * RespondWorkflowTaskFailed. Emits WorkflowTaskFailed, the flushed buffer and a new
 * WorkflowTaskScheduled (attempt + 1 and transient unless the task was sticky); on a transient
 * attempt nothing but the new attempt's WORKFLOW_TASK task.
 */
int td_ms_wft_fail(td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok,
                   const Temporal__Api__Workflowservice__V1__RespondWorkflowTaskFailedRequest *req);

/* Clears stickiness (ResetStickyTaskQueue). No events. */
void td_ms_reset_sticky(td_ms_t *ms);

/*
 * Matching handed out activity `scheduled_id` attempt `attempt`. No event (ActivityTaskStarted
 * is written with the terminal event); START_TO_CLOSE and HEARTBEAT timers. Idempotent for the
 * same request_id; TD_ENOTFOUND when stale, TD_EEXIST when started by another poll.
 */
int td_ms_activity_record_started(td_ms_t *ms, td_ms_txn_t *t, int64_t scheduled_id,
                                  int32_t attempt, const char *request_id, const char *identity,
                                  td_ms_activity_started_t *out);
/* Emits ActivityTaskStarted + ActivityTaskCompleted (buffered while a WFT runs) + WFT. */
int td_ms_activity_complete(td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok,
                            const Temporal__Api__Common__V1__Payloads *result,
                            const char *identity);
/* Retries (no event, ACTIVITY_RETRY timer) or emits Started + Failed(retry_state) + WFT. */
int td_ms_activity_fail(td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok,
                        const Temporal__Api__Failure__V1__Failure *failure,
                        const Temporal__Api__Common__V1__Payloads *last_heartbeat_details,
                        const char *identity);
/* Emits ActivityTaskStarted + ActivityTaskCanceled + WFT. TD_EINVAL unless the workflow
 * asked for the cancellation. */
int td_ms_activity_cancel(td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok,
                          const Temporal__Api__Common__V1__Payloads *details, const char *identity);
/* Records details and time; *cancel_requested tells the worker to stop. No event. */
int td_ms_activity_heartbeat(td_ms_t *ms, td_ms_txn_t *t, const Temporald__Token__Task *tok,
                             const Temporal__Api__Common__V1__Payloads *details,
                             int *cancel_requested);

/*
 * Signal-with-start of a new run: td_ms_start then td_ms_signal, but the events come in
 * Temporal's order [WorkflowExecutionStarted, WorkflowExecutionSignaled,
 * WorkflowTaskScheduled]. *out as for td_ms_start (NULL on error).
 */
int td_ms_signal_with_start(td_ms_txn_t *t, const Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *req,
                            const char *namespace_id, const char *run_id, const char *signal_name,
                            const Temporal__Api__Common__V1__Payloads *input, const char *identity,
                            const Temporal__Api__Common__V1__Header *header, const char *request_id, td_ms_t **out);
/* WorkflowExecutionSignaled (+WFT). A request_id seen before: TD_OK, nothing emitted. */
int td_ms_signal(td_ms_t *ms, td_ms_txn_t *t, const char *signal_name,
                 const Temporal__Api__Common__V1__Payloads *input, const char *identity,
                 const Temporal__Api__Common__V1__Header *header, const char *request_id);
/* WorkflowExecutionCancelRequested (+WFT); a second request is a no-op success. */
int td_ms_request_cancel(td_ms_t *ms, td_ms_txn_t *t, const char *reason, const char *identity,
                         const char *request_id);
/* (WorkflowTaskFailed FORCE_CLOSE_COMMAND if one is started,) flush, WorkflowExecutionTerminated.
 */
int td_ms_terminate(td_ms_t *ms, td_ms_txn_t *t, const char *reason,
                    const Temporal__Api__Common__V1__Payloads *details, const char *identity);

/* TD_OK when a transfer or timer task still applies to the state, TD_ENOTFOUND when stale. */
int td_ms_task_valid(const td_ms_t *ms, const td_ms_task_t *task);
/* Runs a fired timer task (td_ms_task_valid first: stale -> TD_ENOTFOUND, nothing emitted). */
int td_ms_timer_task_apply(td_ms_t *ms, td_ms_txn_t *t, const td_ms_task_t *task);

/* Builds and encodes the task token for the current workflow task / an activity. */
int td_ms_wft_token(const td_ms_t *ms, td_arena_t *arena, ProtobufCBinaryData *out);
int td_ms_activity_token(const td_ms_t *ms, const td_ms_activity_t *ai, td_arena_t *arena,
                         ProtobufCBinaryData *out);

#endif
