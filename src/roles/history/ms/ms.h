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
 *   COMPLETED run has no pending workflow task, activity, timer, child, external request or
 *   buffered event, and its last event is the close event (completion_event_id). A cron, retry
 *   or continued run has no workflow task before its first backoff ends (events wait).
 * next_event_id is one past the last event written to history; events are dense from 1.
 *
 *        td_ms_start            close command / terminate / run timeout
 *     ----------------> RUNNING -------------------------------------> COMPLETED
 *
 *   FROM      -> TO         [function]
 *   (none)    -> RUNNING    [td_ms_start]
 *   RUNNING   -> COMPLETED  [td_ms_wft_complete (Complete/Fail/Cancel/ContinueAsNew),
 *                            td_ms_terminate, td_ms_timer_task_apply (RUN_TIMEOUT)]
 *   (none)    -> RUNNING    [td_ms_start_child, td_ms_start_next (continue-as-new, retry, cron)]
 *   (none)    -> RUNNING    [td_ms_reset (ms_reset.h: a new run rebuilt from another run's
 *                            history up to a workflow task, that task failed RESET_WORKFLOW)]
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
 *   SCHEDULED -> STARTED    [td_ms_activity_record_started, td_ms_activity_force_start
 *                            (completion by id of an activity no worker started)]
 *   STARTED   -> BACKOFF    [td_ms_activity_fail, td_ms_timer_task_apply (START_TO_CLOSE,
 *                            HEARTBEAT)]
 *   BACKOFF   -> SCHEDULED  [td_ms_timer_task_apply (ACTIVITY_RETRY)]
 *   STARTED   -> removed    [td_ms_activity_complete, td_ms_activity_fail (final),
 *                            td_ms_activity_cancel, td_ms_timer_task_apply (final timeout)]
 *   SCHEDULED -> removed    [td_ms_wft_complete (RequestCancelActivityTask),
 *                            td_ms_timer_task_apply (SCHEDULE_TO_START, SCHEDULE_TO_CLOSE)]
 *   BACKOFF is SCHEDULED with current_attempt_scheduled_time in the future.
 *
 * Run chains (continue-as-new, workflow retry, cron)
 *
 *   A run closes "into" a new run of the same workflow id: its close event names the new run
 *   (new_execution_run_id) and the transition fills t->next; the new run is created by
 *   td_ms_start_next from the closed state and written in the same store write. Precedence at
 *   close: ContinueAsNew command > retry (FailWorkflowExecution or run timeout, retry policy
 *   says IN_PROGRESS) > cron (Complete/Fail/run timeout with a cron schedule) > final close.
 *   Cancel and terminate never continue. A new run's first task waits at least until
 *   TD_MS_CHAIN_MIN_INTERVAL after the previous run's first task (Temporal's tight-loop guard).
 *   Retry: attempt + 1, initiator RETRY, backoff from
 *   td_ms_retry_backoff, continued_failure. Cron: attempt 1, initiator CRON_SCHEDULE, backoff
 *   td_ms_cron_backoff from this run's execution time (start + first backoff),
 *   last_completion_result (the result, or the previous one after a failure).
 *
 *   closing run:  RUNNING --close event{new_execution_run_id}--> COMPLETED (status as the event)
 *   new run:      (none) --td_ms_start_next--> RUNNING (WFT scheduled, or WORKFLOW_BACKOFF)
 *
 * Child workflow (td_ms_child_t in the parent, keyed by initiated event id)
 *
 *   Invariants: a child record exists from StartChildWorkflowExecutionInitiated until its
 *   outcome event; parent_close_policy is never UNSPECIFIED (TERMINATE). Outcome events are
 *   external events (buffered while a WFT runs); close outcomes are flushed after the others.
 *
 *                    child_started                child_closed
 *     INITIATED ---------------------> STARTED ---------------------> (removed)
 *         |  child_start_failed                      ^ parent closes: PARENT_CLOSE_POLICY
 *         +-------------------> (removed)            | task for non-ABANDON children
 *
 *   FROM      -> TO         [function]
 *   (none)    -> INITIATED  [td_ms_wft_complete (StartChildWorkflowExecution)]
 *   INITIATED -> STARTED    [td_ms_child_started]
 *   INITIATED -> removed    [td_ms_child_start_failed, parent close, td_ms_child_closed
 *                            (ChildWorkflowExecutionStarted written first)]
 *   STARTED   -> removed    [td_ms_child_closed, parent close (+PARENT_CLOSE_POLICY task)]
 *
 * External signal / cancel (td_ms_external_t, keyed by initiated event id)
 *
 *   INITIATED --td_ms_external_done / td_ms_external_failed--> (removed); dropped at close.
 *   FROM      -> TO         [function]
 *   (none)    -> INITIATED  [td_ms_wft_complete (SignalExternal / RequestCancelExternal)]
 *   INITIATED -> removed    [td_ms_external_done, td_ms_external_failed, workflow close]
 *
 * Wiring contract (what the history service does with each new task and output)
 *
 *   t->new_run_id  Set a fresh UUID before td_ms_wft_complete and td_ms_timer_task_apply.
 *                  If afterwards t->next.initiator != 0: td_ms_start_next(ms, &t->next, &t2,
 *                  &created) into a second txn and write both runs in one store write, the
 *                  current pointer moving to the new run (as TERMINATE_EXISTING does).
 *   t->caps        TD_MS_CAP_CHILD / TD_MS_CAP_EXTERNAL once the tasks below are handled.
 *   t->retention   The namespace's retention (plus jitter) read when the transition runs: a
 *                  run closing in it gets a DELETE_HISTORY timer at close time + retention.
 *   START_CHILD    Load the parent; skip if td_ms_task_valid fails. Read event `event_id`
 *                  from its history, td_ms_child_request (set p.namespace_name to the
 *                  namespace's name if the command left it empty), then start the child like a
 *                  StartWorkflowExecution but with td_ms_start_child (same request id =>
 *                  same run). Then on the parent: td_ms_child_started(initiated, run id), or
 *                  td_ms_child_start_failed(WORKFLOW_ALREADY_EXISTS) if the id is taken by
 *                  another run that the reuse policy does not let it replace.
 *   SIGNAL_EXTERNAL  Load the initiator; skip if stale. Read the Initiated event (signal name,
 *                  input, header, target); td_ms_signal_from (the initiator's workflow id and
 *                  run id as the sender) on the target's current run (or the named run) with
 *                  request id td_ms_external_request_id; then
 *                  td_ms_external_done on the initiator, or td_ms_external_failed
 *                  (EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND) if the target is missing or closed.
 *                  A target that is a child_workflow_only mismatch also fails.
 *   CANCEL_EXTERNAL  Same with td_ms_request_cancel_from on the target (request id as above,
 *                  the initiator and the Initiated event id as the requester).
 *   NOTIFY_PARENT  Written at a child run's final close (not when it continues into a new run).
 *                  Read this run's close event (ref_event_id); load the parent
 *                  target_workflow_id / target_run_id; td_ms_child_closed(parent, event_id,
 *                  this run id, close event). TD_ENOTFOUND there = stale: drop.
 *   PARENT_CLOSE_POLICY  Written at a parent's close for each started child whose policy is
 *                  not ABANDON: TERMINATE -> td_ms_terminate, REQUEST_CANCEL ->
 *                  td_ms_request_cancel_from (the parent as requester, initiated id 0) on the
 *                  current run of target_workflow_id if its first_execution_run_id is
 *                  target_run_id; a closed or missing child: drop.
 *   CLOSE_EXECUTION  Unchanged (nothing to do beyond what the tasks above cover).
 *   DELETE_HISTORY  Load the run; valid only while it is closed (td_ms_task_valid): delete its
 *                  row, the current pointer if it names the run, its history and its
 *                  visibility record. A missing run: finish the history and visibility deletes.
 *
 * Workflow updates: ms_update.c (accepted updates are durable here; admitted requests live
 * in the service's memory and reach td_ms_wft_complete through td_ms_txn_t.update_reqs).
 *
 * Not here (yet): cross-namespace children (the child is started in the parent's namespace;
 * the command's namespace name is only echoed), Nexus, and queries (buffered queries live in
 * the service's memory, as in Temporal, not in the persisted state).
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
#include "temporal/api/update/v1/message.pb-c.h"
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
/* Runs of one chain (continue-as-new, retry, cron) start at least this far apart. */
#define TD_MS_CHAIN_MIN_INTERVAL TD_MS_SECOND
#define TD_MS_SUGGEST_CAN_EVENTS 4096
#define TD_MS_SUGGEST_CAN_BYTES  (4 * 1024 * 1024)

/* Per-run limits, with Temporal's dynamic config names; td_ms_limits_default() gives Temporal's
 * defaults. A value <= 0 turns that limit off. The service reads them from dynamic config and
 * hands them to transitions through td_ms_txn_t.limits (NULL: the defaults). */
typedef struct {
    int64_t history_count_warn;  /* limit.historyCount.warn: 10,240 events (logged) */
    int64_t history_count_error; /* limit.historyCount.error: 51,200 (run terminated) */
    int64_t history_size_warn;   /* limit.historySize.warn: 10 MiB */
    int64_t history_size_error;  /* limit.historySize.error: 50 MiB */
    int64_t suggest_can_count;   /* limit.historyCount.suggestContinueAsNew: 4,096 */
    int64_t suggest_can_size;    /* limit.historySize.suggestContinueAsNew: 4 MiB */
    int64_t pending_activities;  /* limit.numPendingActivities.error: 2,000 */
    int64_t pending_children;    /* limit.numPendingChildExecutions.error: 2,000 */
    int64_t pending_signals;     /* limit.numPendingSignals.error: 2,000 */
    int64_t pending_cancels;     /* limit.numPendingCancelRequests.error: 2,000 */
    int64_t max_signals;         /* history.maximumSignalsPerExecution: 10,000 */
    int64_t blob_warn;           /* limit.blobSize.warn: 512 KiB (logged) */
    int64_t blob_error;          /* limit.blobSize.error: 2 MiB */
} td_ms_limits_t;

const td_ms_limits_t *td_ms_limits_default(void);
/* Temporal's termination reasons when a run's history passes limit.historyCount.error or
 * limit.historySize.error, and the InvalidArgument message of a signal past
 * history.maximumSignalsPerExecution. */
#define TD_MS_HISTORY_COUNT_EXCEEDED "Workflow history count exceeds limit."
#define TD_MS_HISTORY_SIZE_EXCEEDED  "Workflow history size exceeds limit."
#define TD_MS_SIGNALS_EXCEEDED       "exceeded workflow execution limit for signal events"
/* The identity Temporal's history service signs its own terminations with. */
#define TD_MS_IDENTITY_HISTORY "history-service"

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

/* A child workflow the run started (StartChildWorkflowExecutionInitiated id `initiated_id`). */
typedef struct {
    int64_t initiated_id;
    int64_t started_id; /* ChildWorkflowExecutionStarted id; 0 until written (or buffered) */
    int started;        /* the child run exists */
    char *namespace_name;
    char *workflow_id, *workflow_type;
    char *run_id;            /* first run of the child, once started */
    int parent_close_policy; /* temporal.api.enums.v1.ParentClosePolicy, never UNSPECIFIED */
} td_ms_child_t;

typedef enum {
    TD_MS_EXTERNAL_SIGNAL = 1,
    TD_MS_EXTERNAL_CANCEL = 2,
} td_ms_external_kind_t;

/* A pending SignalExternal / RequestCancelExternal (Initiated event id `initiated_id`). */
typedef struct {
    int64_t initiated_id;
    td_ms_external_kind_t kind;
    char *namespace_name;
    char *workflow_id, *run_id; /* run_id "" = the current run */
    char *control;              /* the command's (deprecated) control string, echoed back */
} td_ms_external_t;

/* A parsed cron schedule (td_ms_cron_parse): bit sets per field, or a fixed interval. */
typedef struct {
    uint64_t minutes;
    uint32_t hours, doms; /* doms: bit 1..31 */
    uint16_t months;      /* bit 1..12 */
    uint8_t dows;         /* bit 0 (Sunday)..6 */
    int dom_star, dow_star;
    int64_t every; /* ns, > 0 for "@every <duration>" */
} td_ms_cron_t;

/* A workflow update that the workflow accepted (ms_update.c): durable, unlike the admitted
 * requests, which the service keeps in memory. completed_id == 0 while it runs. */
typedef struct {
    char *update_id;
    int64_t accepted_id;  /* WorkflowExecutionUpdateAccepted event id */
    int64_t completed_id; /* WorkflowExecutionUpdateCompleted event id, 0 = in flight */
} td_ms_update_t;

/* An update request the service holds for a run (admitted or sent to the worker), handed to
 * td_ms_wft_complete through td_ms_txn_t.update_reqs: what an Acceptance refers to. */
typedef struct {
    const char *update_id;
    const Temporal__Api__Update__V1__Request *request;
} td_ms_update_req_t;

/* What a workflow task completion did to an update (td_ms_txn_t.update_effects). */
typedef enum {
    TD_MS_UPDATE_ACCEPTED = 1, /* event_id = UpdateAccepted */
    TD_MS_UPDATE_REJECTED = 2, /* failure = the rejection; no event */
    TD_MS_UPDATE_COMPLETED = 3 /* event_id = UpdateCompleted, outcome */
} td_ms_update_effect_kind_t;

typedef struct {
    td_ms_update_effect_kind_t kind;
    const char *update_id;
    int64_t event_id;
    const Temporal__Api__Failure__V1__Failure *failure;
    const Temporal__Api__Update__V1__Outcome *outcome;
} td_ms_update_effect_t;

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
    int64_t signal_count;       /* signals accepted (history.maximumSignalsPerExecution) */

    td_ms_wft_t wft;
    td_ms_activity_t *activities;
    size_t n_activities;
    td_ms_timer_t *timers;
    size_t n_timers;
    td_ms_blob_t *buffered; /* packed HistoryEvents without ids */
    size_t n_buffered;
    char **signal_request_ids;
    size_t n_signal_request_ids;

    /* Set when a parent workflow started this run (td_ms_start_child), carried over to the
     * runs that continue it; NULL otherwise. root_* name the first workflow of the tree. */
    char *parent_namespace, *parent_namespace_id, *parent_workflow_id, *parent_run_id;
    int64_t parent_initiated_id;
    char *root_workflow_id, *root_run_id;
    /* Reset: on a run a reset created, the start time of the first run of its copied history
     * (0: start_time) and the reset's time (0: never reset); on a reset's base run, the newest
     * run a reset of it created (NULL: none). */
    int64_t original_start_time, last_reset_time;
    char *reset_run_id;
    /* Packed WorkflowExecutionStartedEventAttributes: the input, header, memo, search attributes
     * a retry or cron run starts again with. Kept only when the run has a retry policy or a
     * cron schedule. */
    td_ms_blob_t start_attrs;
    /* Packed UserMetadata (summary, details) the run was started with, for Describe. */
    td_ms_blob_t user_metadata;
    td_ms_child_t *children; /* pending child workflows (initiated, maybe started) */
    size_t n_children;
    td_ms_external_t *externals; /* pending signal / cancel requests to other workflows */
    size_t n_externals;
    td_ms_update_t *updates; /* accepted updates (ms_update.c), kept after they complete */
    size_t n_updates;
} td_ms_t;

typedef enum {
    /* transfer */
    TD_MS_TASK_WORKFLOW_TASK = 1, /* push workflow task (event_id, task_queue) to matching */
    TD_MS_TASK_ACTIVITY_TASK = 2, /* push activity (event_id, attempt, task_queue) to matching */
    TD_MS_TASK_CLOSE_EXECUTION = 3,
    TD_MS_TASK_START_CHILD = 4,         /* event_id = StartChildWorkflowExecutionInitiated id */
    TD_MS_TASK_SIGNAL_EXTERNAL = 5,     /* event_id = SignalExternalWorkflowExecutionInitiated id */
    TD_MS_TASK_CANCEL_EXTERNAL = 6,     /* event_id = RequestCancelExternal...Initiated id */
    TD_MS_TASK_NOTIFY_PARENT = 7,       /* target = parent, event_id = parent's initiated id,
                                           ref_event_id = this run's close event */
    TD_MS_TASK_PARENT_CLOSE_POLICY = 8, /* target = child, policy = TERMINATE / REQUEST_CANCEL */
    /* timer */
    TD_MS_TASK_WFT_TIMEOUT = 10,      /* timeout_type START_TO_CLOSE or SCHEDULE_TO_START */
    TD_MS_TASK_ACTIVITY_TIMEOUT = 11, /* timeout_type any of the four */
    TD_MS_TASK_USER_TIMER = 12,       /* timer_id, event_id = TimerStarted id */
    TD_MS_TASK_ACTIVITY_RETRY = 13,   /* backoff over: dispatch the next attempt */
    TD_MS_TASK_RUN_TIMEOUT = 14,
    TD_MS_TASK_WORKFLOW_BACKOFF = 15, /* start delay / cron / retry backoff over: schedule the
                                         first workflow task */
    TD_MS_TASK_DELETE_HISTORY = 16,   /* retention over: delete the closed run (the service
                                         runs it, hist_retention.c; never td_ms_timer_task_apply) */
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
    /* START_CHILD .. PARENT_CLOSE_POLICY: the other workflow (arena copies). */
    const char *target_namespace_id, *target_workflow_id, *target_run_id;
    int policy;           /* PARENT_CLOSE_POLICY: temporal.api.enums.v1.ParentClosePolicy */
    int64_t ref_event_id; /* NOTIFY_PARENT: the child's close event id */
} td_ms_task_t;

/* A run that closes into a new run of the same workflow id (continue-as-new, workflow retry,
 * cron): filled by the closing transition, consumed by td_ms_start_next. Everything points into
 * the txn arena or the request the transition was given. */
typedef struct {
    int initiator;      /* temporal.api.enums.v1.ContinueAsNewInitiator; 0 = no new run */
    const char *run_id; /* the new run's id (td_ms_txn_t.new_run_id) */
    int64_t backoff;    /* ns: the new run's first_workflow_task_backoff */
    const Temporal__Api__Command__V1__ContinueAsNewWorkflowExecutionCommandAttributes *can;
    const Temporal__Api__Common__V1__Payloads *last_completion_result;
    const Temporal__Api__Failure__V1__Failure *continued_failure;
} td_ms_next_run_t;

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
    /* Inputs the caller may set after td_ms_txn_init (see "Wiring contract" above):
     * new_run_id: a fresh run id the transition may give to a follow-up run; NULL = the service
     *   cannot create follow-up runs: continue-as-new is TD_EUNIMPL, retries and cron stop.
     * caps: TD_MS_CAP_* the service handles; commands needing one it lacks are TD_EUNIMPL. */
    const char *new_run_id;
    unsigned caps;
    /* limits: the per-run limits in force (NULL: td_ms_limits_default()). */
    const td_ms_limits_t *limits;
    /* Output with cause: the rejected command carried a payload past limit.blobSize.error, so
     * the run is terminated after the failed workflow task (Temporal's rule). */
    int terminate;
    /* retention: ns after its close at which a run closed by this transition is deleted (a
     * DELETE_HISTORY timer task at now + retention); 0 = never (no task). */
    int64_t retention;
    /* Output: set when the transition closed the run into a new one (initiator != 0). */
    td_ms_next_run_t next;
    /* Workflow updates (ms_update.c). Inputs to td_ms_wft_complete: the requests the service
     * holds for this run (admitted or sent), and how many of them the worker has not seen yet
     * (> 0: the completion schedules a new workflow task to carry them). Output: what the
     * completion did to updates, for the service to answer their callers after the commit. */
    const td_ms_update_req_t *update_reqs;
    size_t n_update_reqs;
    int updates_unsent;
    td_ms_update_effect_t *update_effects;
    size_t n_update_effects, cap_update_effects;
} td_ms_txn_t;

#define TD_MS_CAP_CHILD    1u /* START_CHILD, NOTIFY_PARENT, PARENT_CLOSE_POLICY tasks */
#define TD_MS_CAP_EXTERNAL 2u /* SIGNAL_EXTERNAL, CANCEL_EXTERNAL tasks */

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
 * task default 10 s, capped at 120 s and at the run timeout). A cron schedule delays the first
 * workflow task to the next schedule time (first_workflow_task_backoff, WORKFLOW_BACKOFF timer).
 * *out is a new state owned by the caller. TD_EINVAL for a malformed request or cron schedule
 * (or cron together with a start delay), TD_EUNIMPL for a cron time zone other than UTC.
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
 * txn->cause. TD_EUNIMPL (state unchanged) for commands not implemented yet or not wired
 * (ContinueAsNew without t->new_run_id, children / external requests without t->caps); TD_EINVAL
 * (state unchanged, task stays started) when a close command is not the last command. A heartbeat
 * (force_create_new_workflow_task, no commands) after 30 min of heartbeats: the task times
 * out (WorkflowTaskTimedOut written) and TD_ENOTFOUND "workflow task heartbeat timeout".
 * ContinueAsNew, and Complete/Fail when cron or the retry policy continue the run (only with
 * t->new_run_id), set t->next: the caller then creates the new run (td_ms_start_next).
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
/* RespondActivityTaskCompletedById may complete an activity no worker has started (as
 * Temporal, which fabricates its ActivityTaskStarted): marks pending activity `scheduled_id`
 * started by `identity` now, with no timers, for td_ms_activity_complete in the same
 * transaction. No event. TD_OK also when it is started already; TD_ENOTFOUND when unknown. */
int td_ms_activity_force_start(td_ms_t *ms, td_ms_txn_t *t, int64_t scheduled_id,
                               const char *identity);
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
int td_ms_signal_with_start(
        td_ms_txn_t *t,
        const Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *req,
        const char *namespace_id, const char *run_id, const char *signal_name,
        const Temporal__Api__Common__V1__Payloads *input, const char *identity,
        const Temporal__Api__Common__V1__Header *header, const char *request_id, td_ms_t **out);
/* WorkflowExecutionSignaled (+WFT). A request_id seen before: TD_OK, nothing emitted. */
int td_ms_signal(td_ms_t *ms, td_ms_txn_t *t, const char *signal_name,
                 const Temporal__Api__Common__V1__Payloads *input, const char *identity,
                 const Temporal__Api__Common__V1__Header *header, const char *request_id);
/* td_ms_signal for a signal sent by another workflow (SignalExternalWorkflowExecution): the
 * event names the sender in external_workflow_execution. */
int td_ms_signal_from(td_ms_t *ms, td_ms_txn_t *t, const char *signal_name,
                      const Temporal__Api__Common__V1__Payloads *input, const char *identity,
                      const Temporal__Api__Common__V1__Header *header, const char *request_id,
                      const char *from_workflow_id, const char *from_run_id);
/* WorkflowExecutionCancelRequested (+WFT); a second request is a no-op success. */
int td_ms_request_cancel(td_ms_t *ms, td_ms_txn_t *t, const char *reason, const char *identity,
                         const char *request_id);
/* td_ms_request_cancel asked by another workflow (RequestCancelExternal, or a parent close
 * policy with from_initiated_id 0): the event names the requester. */
int td_ms_request_cancel_from(td_ms_t *ms, td_ms_txn_t *t, const char *reason, const char *identity,
                              const char *request_id, const char *from_workflow_id,
                              const char *from_run_id, int64_t from_initiated_id);
/* (WorkflowTaskFailed FORCE_CLOSE_COMMAND if one is started,) flush, WorkflowExecutionTerminated.
 */
int td_ms_terminate(td_ms_t *ms, td_ms_txn_t *t, const char *reason,
                    const Temporal__Api__Common__V1__Payloads *details, const char *identity);

/* TD_OK when a transfer or timer task still applies to the state, TD_ENOTFOUND when stale. */
int td_ms_task_valid(const td_ms_t *ms, const td_ms_task_t *task);
/* Runs a fired timer task (td_ms_task_valid first: stale -> TD_ENOTFOUND, nothing emitted).
 * RUN_TIMEOUT may continue the run (retry, cron) through t->next, as td_ms_wft_complete. */
int td_ms_timer_task_apply(td_ms_t *ms, td_ms_txn_t *t, const td_ms_task_t *task);

/* ---- run chains: continue-as-new, workflow retry, cron ---- */

/* Where a child run comes from (td_ms_start_child); strings are copied. */
typedef struct {
    const char *namespace_name, *namespace_id, *workflow_id, *run_id;
    int64_t initiated_id;                       /* StartChildWorkflowExecutionInitiated id */
    const char *root_workflow_id, *root_run_id; /* NULL: the parent is the root */
} td_ms_parent_t;

/*
 * td_ms_start for a child run: the same events and tasks, and WorkflowExecutionStarted carries
 * parent_workflow_namespace(_id), parent_workflow_execution, parent_initiated_event_id and
 * root_workflow_execution; the run remembers its parent (NOTIFY_PARENT task at its final
 * close). `parent` NULL is td_ms_start.
 */
int td_ms_start_child(td_ms_txn_t *t,
                      const Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *req,
                      const char *namespace_id, const char *run_id, const td_ms_parent_t *parent,
                      td_ms_t **out);

/*
 * Creates the run that continues `prev` after a transition set t_prev->next (initiator != 0):
 * emits, in `t` (a second txn: the new run's history), WorkflowExecutionStarted
 * {continued_execution_run_id = prev run, initiator, first_execution_run_id carried over,
 * attempt (prev + 1 for RETRY, else 1), first_workflow_task_backoff, last_completion_result,
 * continued_failure, parent and root carried over, execution expiration carried over} and either
 * WorkflowTaskScheduled or (backoff > 0) a WORKFLOW_BACKOFF timer, plus VIS_START and
 * RUN_TIMEOUT. Continue-as-new takes type, queue, input, header, timeouts, retry policy, cron,
 * memo and search attributes from the command (type, queue, task timeout default to prev's);
 * retry and cron start again with prev's start attributes. *out: the new state (caller owns).
 */
int td_ms_start_next(const td_ms_t *prev, const td_ms_next_run_t *next, td_ms_txn_t *t,
                     td_ms_t **out);

/*
 * Workflow retry decision for `ms` failing with `failure` (NULL: a run timeout) at `now`:
 * returns the RetryState (IN_PROGRESS: retry after *backoff ns). RETRY_POLICY_NOT_SET without
 * a policy; NON_RETRYABLE_FAILURE for a non-retryable application failure or a listed type;
 * MAXIMUM_ATTEMPTS_REACHED; TIMEOUT when the retry would start past the execution expiration.
 * Backoff: next_retry_delay if the failure sets one, else initial * coefficient^(attempt-1)
 * capped at the maximum interval (defaults 1 s, 2.0, 100 x initial).
 */
int td_ms_retry_backoff(const td_ms_t *ms, const Temporal__Api__Failure__V1__Failure *failure,
                        int64_t now, int64_t *backoff);

/* Parses a cron schedule (ms_cron.c): TD_OK, TD_EINVAL (malformed or never fires), TD_EUNIMPL
 * (a time zone other than UTC). */
int td_ms_cron_parse(const char *spec, td_ms_cron_t *out);
/* First matching time strictly after `after` (ns, UTC); 0 when none within 5 years. */
int64_t td_ms_cron_next(const td_ms_cron_t *c, int64_t after);
/* Temporal's cron backoff: time from `now` to the first schedule time after `scheduled` (this
 * run's execution time) that is not before `now`, rounded up to whole seconds; `scheduled`
 * itself when still in the future. -1 when the spec is empty, invalid or never fires. */
int64_t td_ms_cron_backoff(const char *spec, int64_t scheduled, int64_t now);

/* ---- child workflows (transitions on the parent) ---- */

td_ms_child_t *td_ms_child_find(const td_ms_t *ms, int64_t initiated_id);
/*
 * For a START_CHILD task: builds, in `arena`, the child's start request from the parent's
 * StartChildWorkflowExecutionInitiated event (read from history) and the parent description
 * for td_ms_start_child. The request id is derived from the parent run and initiated id, so a
 * repeated task finds the child it already started. TD_EINVAL if `initiated` is not that event.
 */
int td_ms_child_request(const td_ms_t *parent, const td_ms_event_t *initiated, td_arena_t *arena,
                        Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest **req,
                        td_ms_parent_t *p);
/* The child started (run `run_id`): ChildWorkflowExecutionStarted (buffered while a WFT runs)
 * + WFT. TD_ENOTFOUND when no such pending child or it was already recorded started. */
int td_ms_child_started(td_ms_t *ms, td_ms_txn_t *t, int64_t initiated_id, const char *run_id,
                        const Temporal__Api__Common__V1__Header *header);
/* The child could not start (cause: StartChildWorkflowExecutionFailedCause, normally
 * WORKFLOW_ALREADY_EXISTS): StartChildWorkflowExecutionFailed + WFT; the child is forgotten. */
int td_ms_child_start_failed(td_ms_t *ms, td_ms_txn_t *t, int64_t initiated_id, int cause);
/* The child's chain closed with `close_event` (its last run `run_id`): ChildWorkflowExecution
 * Completed / Failed / Canceled / Terminated / TimedOut + WFT; the child is forgotten. A child
 * whose start was not recorded yet gets ChildWorkflowExecutionStarted (run `run_id`) first.
 * TD_ENOTFOUND when unknown (stale or duplicate), TD_EINVAL for a non-final close event. */
int td_ms_child_closed(td_ms_t *ms, td_ms_txn_t *t, int64_t initiated_id, const char *run_id,
                       const td_ms_event_t *close_event);

/* ---- signal / cancel of other workflows (transitions on the initiator) ---- */

td_ms_external_t *td_ms_external_find(const td_ms_t *ms, int64_t initiated_id);
/* The request id to deliver a SIGNAL_EXTERNAL with (td_ms_signal deduplicates on it) or to
 * cancel with: stable across repeated tasks. In `arena`. */
const char *td_ms_external_request_id(const td_ms_t *ms, int64_t initiated_id, td_arena_t *arena);
/* Delivered: ExternalWorkflowExecutionSignaled or ExternalWorkflowExecutionCancelRequested
 * (buffered while a WFT runs) + WFT. TD_ENOTFOUND when no such pending request. */
int td_ms_external_done(td_ms_t *ms, td_ms_txn_t *t, int64_t initiated_id);
/* Not delivered (cause: Signal/CancelExternalWorkflowExecutionFailedCause, normally
 * EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND): SignalExternalWorkflowExecutionFailed or
 * RequestCancelExternalWorkflowExecutionFailed + WFT. TD_ENOTFOUND when stale. */
int td_ms_external_failed(td_ms_t *ms, td_ms_txn_t *t, int64_t initiated_id, int cause);

/* ---- workflow updates (ms_update.c) ---- */

/* Temporal's history.maxInFlightUpdates and history.maxTotalUpdates defaults. */
#define TD_MS_UPDATE_MAX_INFLIGHT 10
#define TD_MS_UPDATE_MAX_TOTAL    2000

/* The accepted (maybe completed) update `update_id`, or NULL. */
td_ms_update_t *td_ms_update_find(const td_ms_t *ms, const char *update_id);
/* Accepted updates not completed yet. */
size_t td_ms_update_inflight(const td_ms_t *ms);
/*
 * An update request was admitted for the run (the service keeps the request in memory):
 * `held` is how many requests the service already holds for it (admitted or sent). Checks that
 * the run is open (TD_ENOTFOUND "workflow execution already completed"), that its workflow
 * task is not failing (TD_EPRECOND, attempt >= 3: "Unable to perform workflow execution update
 * due to Workflow Task in failed state."), the in-flight limit (TD_ELIMIT, held + accepted
 * not completed >= TD_MS_UPDATE_MAX_INFLIGHT) and the total limit (TD_EPRECOND, held + every
 * accepted update >= TD_MS_UPDATE_MAX_TOTAL). Then makes sure a workflow task will carry it:
 * schedules one (WorkflowTaskScheduled, a normal task) when none is pending.
 */
int td_ms_update_admit(td_ms_t *ms, td_ms_txn_t *t, size_t held);

/* Builds and encodes the task token for the current workflow task / an activity. */
int td_ms_wft_token(const td_ms_t *ms, td_arena_t *arena, ProtobufCBinaryData *out);
int td_ms_activity_token(const td_ms_t *ms, const td_ms_activity_t *ai, td_arena_t *arena,
                         ProtobufCBinaryData *out);

#endif
