/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workflow reset as pure mutable-state functions (ms_reset.c): rebuilding a run's state from
 * its history events, and building the run that a ResetWorkflowExecution creates. No I/O, no
 * clock: the history service reads the base run's events and writes what these produce
 * (hist_reset.c). Callers: the history role and the unit tests.
 */
#ifndef TD_MS_RESET_H
#define TD_MS_RESET_H

#include "roles/history/ms/ms.h"

/* The identity Temporal's history service writes on the events it makes itself, and the one
 * it terminates a reset's base run with. */
#define TD_MS_IDENTITY_HISTORY  "history-service"
#define TD_MS_IDENTITY_RESETTER "history-resetter"

/*
 * Rebuilds the state of run `run_id` from history events `ev[0..n)` (ids dense from 1, the
 * first a WorkflowExecutionStarted) and writes a copy of each event into `t` (same ids, the
 * txn's task id): the history of a new run that starts as a copy. The state is what those
 * events leave behind: pending workflow task, activities (not started: their Started event is
 * written only with the outcome), timers, children, external requests, accepted updates,
 * cancel request, memo and search attributes. The run is never sticky; its start_time is
 * t->now and its execution and run timeouts count from there (as Temporal's reset refreshes
 * them). No tasks are produced. *out: the new state (caller owns). TD_EINVAL for events that
 * are not dense or do not start with WorkflowExecutionStarted, TD_EUNIMPL (msg names the type)
 * for an event temporald cannot replay (a close event, Nexus).
 */
int td_ms_replay(td_ms_txn_t *t, td_ms_event_t *const *ev, size_t n, const char *namespace_id,
                 const char *workflow_id, const char *run_id, td_ms_t **out);

/* What a reset needs; every pointer stays owned by the caller. */
typedef struct {
    const char *namespace_id, *workflow_id;
    const char *base_run_id, *new_run_id;
    td_ms_event_t *const *events; /* the base run's history, ids dense from 1 */
    size_t n_events;
    int64_t finish_id; /* ResetWorkflowExecutionRequest.workflow_task_finish_event_id */
    const char *reason, *request_id;
    /* Events of the base run past the reset point, in order (the unreplayed tail of `events`
     * and those its termination flushed): the signals among them are reapplied. */
    td_ms_event_t *const *reapply;
    size_t n_reapply;
    int exclude_signals; /* reset_reapply_type NONE, or EXCLUDE_TYPE_SIGNAL */
    /* reapply[0 .. n_base_tail) are the base run's own events (its tail and, when it is the
     * current run, its buffered ones): the child events among them are reapplied too. */
    size_t n_base_tail;
} td_ms_reset_t;

/*
 * Builds the run a reset creates (Temporal's workflow resetter), its whole history in `t`:
 * the base events 1 .. finish_id-1 copied (td_ms_replay), then for the workflow task pending
 * there WorkflowTaskStarted (only if it was merely scheduled; identity history-service) and
 * WorkflowTaskFailed {cause RESET_WORKFLOW, failure {message = reason,
 * reset_workflow_failure_info}, base_run_id, new_run_id, identity history-service}, the
 * reapplied WorkflowExecutionSignaled events, the reapplied starts and outcomes of the child
 * workflows pending at the reset point (ChildWorkflowExecutionStarted, StartChildWorkflow-
 * ExecutionFailed, ChildWorkflowExecution{Completed,...}, in order, from the base's own events
 * past it: a child that finished there is no longer pending), and a new WorkflowTaskScheduled.
 * Children still pending keep running and belong to the new run. Tasks: the
 * workflow task, every pending activity dispatched again as a fresh attempt scheduled now
 * (with its schedule-to-start / schedule-to-close timers), every pending timer, every pending
 * external signal / cancel request, VIS_START and RUN_TIMEOUT. The new run's start request id
 * is r->request_id, its original_start_time the time of the copied WorkflowExecutionStarted and
 * its last_reset_time t->now. *out: the new state (caller owns).
 * TD_EINVAL: finish_id out of (1, last event id], or no workflow task pending after event
 * finish_id-1 (Temporal's wording in t->msg). TD_EUNIMPL: a child workflow initiated but not
 * started (even after the reapplied events: its start would have to be dispatched again), or
 * an event td_ms_replay cannot replay.
 */
int td_ms_reset(td_ms_txn_t *t, const td_ms_reset_t *r, td_ms_t **out);

/* Records on a reset's base run the run the reset created (its reset_run_id, the newest one
 * when the run is reset again). No event, no task: the caller writes the state. */
void td_ms_reset_mark_base(td_ms_t *base, const char *new_run_id);

/*
 * Child workflows pending at the reset point stay with the new run (as Temporal does): the
 * base run's termination must leave them alone. Drops from `t` (the base run's termination)
 * the PARENT_CLOSE_POLICY tasks of the children `created` (the new run) keeps, started and
 * with the same run; those the base initiated past the reset point keep their policy. Their
 * closes reach the new run through the base's reset_run_id (hist_xfer.c).
 */
void td_ms_reset_keep_children(td_ms_txn_t *t, const td_ms_t *created);

#endif
