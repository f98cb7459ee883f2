/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the mutable-state files (ms_state.c, ms_wft.c, ms_activity.c,
 * ms_exec.c): event construction and commit (history or buffer), task recording, workflow
 * task scheduling, buffer flush and close. Not for use outside src/roles/history/ms/ms_*.c.
 */
#ifndef TD_MS_INT_H
#define TD_MS_INT_H

#include "ms.h"

#include "history.pb-c.h"

#include "temporal/api/enums/v1/event_type.pb-c.h"
#include "temporal/api/enums/v1/failed_cause.pb-c.h"
#include "temporal/api/enums/v1/workflow.pb-c.h"

/* Short names for the generated enums used throughout. */
#define TD_MS_TQ_NORMAL TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL
#define TD_MS_TQ_STICKY TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_STICKY
#define TD_MS_TO(x)     TEMPORAL__API__ENUMS__V1__TIMEOUT_TYPE__TIMEOUT_TYPE_##x
#define TD_MS_RS(x)     TEMPORAL__API__ENUMS__V1__RETRY_STATE__RETRY_STATE_##x
#define TD_MS_WS(x) \
    TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_##x
#define TD_MS_INIT(x) \
    TEMPORAL__API__ENUMS__V1__CONTINUE_AS_NEW_INITIATOR__CONTINUE_AS_NEW_INITIATOR_##x
#define TD_MS_PCP(x) TEMPORAL__API__ENUMS__V1__PARENT_CLOSE_POLICY__PARENT_CLOSE_POLICY_##x
#define TD_MS_CAUSE(x) \
    TEMPORAL__API__ENUMS__V1__WORKFLOW_TASK_FAILED_CAUSE__WORKFLOW_TASK_FAILED_CAUSE_##x
#define TD_MS_ET(x) TEMPORAL__API__ENUMS__V1__EVENT_TYPE__EVENT_TYPE_##x

/* Sets the event type and a fresh attributes message of that type on event `e`; evaluates to
 * the typed attributes pointer. */
#define TD_MS_EV(e, t, UPPER, lower)                                                           \
    ((e)->event_type = TD_MS_ET(UPPER),                                                        \
     (e)->attributes_case =                                                                    \
             TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_##UPPER##_EVENT_ATTRIBUTES, \
     (e)->lower##_event_attributes = td_ms__pb_new(                                            \
             (t)->arena, &temporal__api__history__v1__##lower##_event_attributes__descriptor))

#define TD_MS_NOT_FOUND_WFT "Workflow task not found."
#define TD_MS_NOT_FOUND_ACT \
    "invalid activityID or activity already timed out or invoking workflow is completed"
#define TD_MS_CLOSED "workflow execution already completed"

/* td_ms_start and its variants (ms_exec.c). schedule = 0 leaves the first workflow task to the
 * caller (signal-with-start writes its Signaled event first, as Temporal does). */
typedef struct {
    int schedule;
    const td_ms_parent_t *parent;
    int initiator; /* ContinueAsNewInitiator of a chained run, else 0 */
    const char *continued_run_id, *first_run_id;
    int32_t attempt;              /* 0 = 1 */
    int has_backoff;              /* backoff overrides start delay and cron */
    int64_t backoff;              /* ns */
    int64_t execution_expiration; /* carried over in a chain; 0 = from the request */
    const Temporal__Api__Common__V1__Payloads *last_completion_result;
    const Temporal__Api__Failure__V1__Failure *continued_failure;
} td_ms_start_opts_t;
int td_ms__start(td_ms_txn_t *t,
                 const Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *req,
                 const char *namespace_id, const char *run_id, const td_ms_start_opts_t *o,
                 td_ms_t **out);

void *td_ms__pb_new(td_arena_t *a, const ProtobufCMessageDescriptor *d);
Google__Protobuf__Timestamp *td_ms__ts(td_arena_t *a, int64_t ns);
Google__Protobuf__Duration *td_ms__dur(td_arena_t *a, int64_t ns);
int64_t td_ms__ts_ns(const Google__Protobuf__Timestamp *ts);
/* Duration in ns; 0 for NULL; -1 for a negative or out-of-range duration. */
int64_t td_ms__dur_ns(const Google__Protobuf__Duration *d);
char *td_ms__strdup(const char *s); /* td_strdup(s ? s : "") */
void td_ms__str_set(char **dst, const char *s);
const char *td_ms__astr(td_arena_t *a, const char *s);            /* arena copy, "" for NULL */
void td_ms__blob_set(td_ms_blob_t *b, const ProtobufCMessage *m); /* NULL m clears */
void td_ms__blob_free(td_ms_blob_t *b);
/* Unpacks a blob into the arena; NULL when empty. */
void *td_ms__blob_get(const td_ms_blob_t *b, const ProtobufCMessageDescriptor *d, td_arena_t *a);

/* Whether a failure `f` may be retried under policy `p` at all (Temporal's rules: terminated
 * and canceled failures never, timeouts only start-to-close and heartbeat unless listed as
 * "TemporalTimeout:<Type>", server and application failures unless non_retryable or, for an
 * application failure, its type is in non_retryable_error_types). NULL f: retryable. */
int td_ms__failure_retryable(const td_ms_retry_policy_t *p,
                             const Temporal__Api__Failure__V1__Failure *f);
void td_ms__retry_free(td_ms_retry_policy_t *p);
void td_ms__retry_copy(td_ms_retry_policy_t *dst, const td_ms_retry_policy_t *src);
Temporal__Api__Common__V1__RetryPolicy *td_ms__retry_pb(td_arena_t *a,
                                                        const td_ms_retry_policy_t *p);

int td_ms__fail(td_ms_txn_t *t, int rc, const char *msg);
/* The limits in force for t (never NULL). */
const td_ms_limits_t *td_ms__limits(const td_ms_txn_t *t);
/* A command payload of m's packed size past limit.blobSize.error: fails the command with cause
 * and msg and marks the run for termination (t->terminate); TD_OK when within (m NULL ok). */
int td_ms__blob_check(td_ms_txn_t *t, const ProtobufCMessage *m, int cause, const char *msg);
/* Fails a command for a pending-count limit (Temporal's message) with cause; returns TD_OK when
 * n is under limit (or limit <= 0). */
int td_ms__pending_check(td_ms_txn_t *t, int cause, size_t n, int64_t limit, const char *what);
int td_ms__check_open(const td_ms_t *ms, td_ms_txn_t *t);

/* A new event with event_time = t->now (type and attributes set by TD_MS_EV). */
td_ms_event_t *td_ms__event_new(td_ms_txn_t *t);
/* Appends `e` to history with the next id (returned), or, when `bufferable` and a workflow
 * task is started, to the buffer (returns 0). A merely scheduled transient workflow task is
 * first replaced by an ordinary attempt 1 (Scheduled event written), so ids stay dense. */
int64_t td_ms__event_commit(td_ms_t *ms, td_ms_txn_t *t, td_ms_event_t *e, int bufferable);
void td_ms__task_add(td_ms_txn_t *t, const td_ms_task_t *task);
void td_ms__timer_add(td_ms_txn_t *t, td_ms_task_type_t type, int64_t fire, int64_t event_id,
                      int32_t attempt, int timeout_type);

/* Schedules a workflow task of `attempt` (transient when > 1) on the sticky queue if set;
 * `dispatch` = emit the WORKFLOW_TASK transfer task (0 when started at once). */
void td_ms__wft_schedule(td_ms_t *ms, td_ms_txn_t *t, int32_t attempt, int dispatch);
/* Schedules attempt 1 unless a workflow task is pending. */
void td_ms__wft_need(td_ms_t *ms, td_ms_txn_t *t);
void td_ms__wft_clear(td_ms_t *ms);
/* Starts the scheduled workflow task (shared by poll and return_new_workflow_task). */
void td_ms__wft_start(td_ms_t *ms, td_ms_txn_t *t, const char *request_id, const char *identity,
                      td_ms_wft_started_t *out);
/* Writes the buffered events to history, completion events last. */
void td_ms__flush_buffer(td_ms_t *ms, td_ms_txn_t *t);
/* Writes WorkflowTaskFailed for the started, non-transient workflow task. */
void td_ms__wft_failed_event(td_ms_t *ms, td_ms_txn_t *t, int cause,
                             const Temporal__Api__Failure__V1__Failure *failure,
                             const char *identity, const char *binary_checksum);
/* Applies a workflow task timeout of `timeout_type` (already validated). */
int td_ms__wft_timeout(td_ms_t *ms, td_ms_txn_t *t, int timeout_type);
/* Applies activity timeout `tt` (validated): retry, re-arm (heartbeat) or final TimedOut. */
int td_ms__activity_timeout(td_ms_t *ms, td_ms_txn_t *t, td_ms_activity_t *ai, int tt);
/* The retry backoff of `ai` is over: dispatch its current attempt. */
int td_ms__activity_retry_fired(td_ms_t *ms, td_ms_txn_t *t, td_ms_activity_t *ai);
/* Marks the run closed by event `event_id` with `status`; drops everything pending. */
void td_ms__close(td_ms_t *ms, td_ms_txn_t *t, int status, int64_t event_id);

void td_ms__activity_remove(td_ms_t *ms, int64_t scheduled_id);
void td_ms__child_clear(td_ms_child_t *ci);
void td_ms__child_remove(td_ms_t *ms, int64_t initiated_id);
void td_ms__external_clear(td_ms_external_t *x);
void td_ms__external_remove(td_ms_t *ms, int64_t initiated_id);

/* ms_buildids.c: records the completing worker's build in the run's BuildIds search
 * attribute (stamp may be NULL); adds a visibility upsert task and returns 1 when it changed. */
int td_ms__build_ids_note(td_ms_t *ms, td_ms_txn_t *t,
                          const Temporal__Api__Common__V1__WorkerVersionStamp *stamp);

/* Commands of ms_child.c / ms_chain.c, run by td_ms_wft_complete: TD_OK, or TD_EINVAL with
 * t->cause set (BAD_*_ATTRIBUTES). `completed_id` is the WorkflowTaskCompleted event id. */
typedef Temporal__Api__Command__V1__Command td_ms_cmd_t;
int td_ms__cmd_start_child(td_ms_t *ms, td_ms_txn_t *t, const td_ms_cmd_t *c, int64_t completed_id);
int td_ms__cmd_signal_external(td_ms_t *ms, td_ms_txn_t *t, const td_ms_cmd_t *c,
                               int64_t completed_id);
int td_ms__cmd_cancel_external(td_ms_t *ms, td_ms_txn_t *t, const td_ms_cmd_t *c,
                               int64_t completed_id);
/* The first-task backoff of a run continuing `ms` closed at `now`: at least what makes the
 * chain's runs start TD_MS_CHAIN_MIN_INTERVAL apart (Temporal's guard against tight
 * continue-as-new / retry loops, history.workflowIdReuseMinimalInterval). */
int64_t td_ms__chain_backoff(const td_ms_t *ms, int64_t now, int64_t backoff);
/* Closes the run with `e` (a Completed/Failed/TimedOut/ContinuedAsNew event whose type and
 * attributes are set; `failure` / `result` as the event carries them): decides retry / cron,
 * sets new_execution_run_id / retry_state on the event and t->next, commits it and closes. */
void td_ms__close_with(td_ms_t *ms, td_ms_txn_t *t, td_ms_event_t *e, int status,
                       const Temporal__Api__Failure__V1__Failure *failure,
                       const Temporal__Api__Common__V1__Payloads *result);
void td_ms__activity_clear(td_ms_activity_t *ai);
void td_ms__timer_remove(td_ms_t *ms, const char *timer_id);
void td_ms__buffer_clear(td_ms_t *ms);
/* ms_wft.c, for ms_reset.c: a command's retry policy with defaults filled (TD_EINVAL when
 * malformed), and a Memo / SearchAttributes map update (an empty payload deletes a key). */
int td_ms__retry_normalise(td_ms_retry_policy_t *p,
                           const Temporal__Api__Common__V1__RetryPolicy *r);
void td_ms__merge_payload_map(td_ms_blob_t *b, const ProtobufCMessageDescriptor *d, size_t n_upd,
                              Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry **upd,
                              td_arena_t *arena);
/* Resets the state's content to empty (frees everything it owns). */
void td_ms__reset(td_ms_t *ms);

/* ms_update.c: the accepted updates, their persisted form, and the protocol messages of a
 * completion. `done` flags the messages already processed (one per request message). */
void td_ms__update_free_all(td_ms_t *ms);
void td_ms__update_encode(const td_ms_t *ms, td_arena_t *a, Temporald__History__MutableState *m);
void td_ms__update_decode(td_ms_t *ms, const Temporald__History__MutableState *m);
/* A PROTOCOL_MESSAGE command: processes the message it names. */
int td_ms__cmd_protocol_message(
        td_ms_t *ms, td_ms_txn_t *t, const td_ms_cmd_t *c,
        const Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req,
        unsigned char *done);
/* Rebuilds the update record of an UpdateAccepted / UpdateCompleted event (reset). */
int td_ms__update_replay(td_ms_t *ms, td_ms_txn_t *t, const td_ms_event_t *e);
/* After the commands: the messages no command named, in order (`closed`: the run closed). */
int td_ms__update_messages(
        td_ms_t *ms, td_ms_txn_t *t,
        const Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req,
        unsigned char *done, int closed);

#endif
