/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared fixture for the mutable-state tests (test/unit/history_*.c): builds requests and
 * commands in an arena, drives a run through its transitions with an explicit clock, and
 * checks the events and tasks a transition produced. Test code only.
 */
#ifndef TD_HISTORY_MS_FIXTURE_H
#define TD_HISTORY_MS_FIXTURE_H

#include "test.h"

#include "error.h"

#include "roles/history/ms/ms.h"
#include "roles/history/ms/ms_token.h"
#include "temporal/api/enums/v1/event_type.pb-c.h"
#include "temporal/api/enums/v1/failed_cause.pb-c.h"

#define NS     "9a1f1c53-0000-4000-8000-000000000001"
#define RUN    "3c5e0a3b-0000-4000-8000-0000000000aa"
#define T0     (INT64_C(1700000000) * TD_MS_SECOND)
#define SEC(n) ((int64_t)(n)*TD_MS_SECOND)
#define ET(x)  TEMPORAL__API__ENUMS__V1__EVENT_TYPE__EVENT_TYPE_##x
#define CT(x)  TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_##x
#define CAUSE(x) \
    TEMPORAL__API__ENUMS__V1__WORKFLOW_TASK_FAILED_CAUSE__WORKFLOW_TASK_FAILED_CAUSE_##x
#define RS(x)  TEMPORAL__API__ENUMS__V1__RETRY_STATE__RETRY_STATE_##x
#define TO(x)  TEMPORAL__API__ENUMS__V1__TIMEOUT_TYPE__TIMEOUT_TYPE_##x
#define TQK(x) TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_##x

typedef Temporal__Api__Command__V1__Command fx_cmd_t;

typedef struct {
    td_arena_t arena;
    td_ms_txn_t t;
    td_ms_t *ms;
    int64_t now;
    Temporald__Token__Task *wft_tok; /* token of the last started workflow task */
    td_ms_wft_started_t started;
} fx_t;

void fx_init(fx_t *f);
void fx_free(fx_t *f);
/* New transaction at f->now + advance. */
td_ms_txn_t *fx_txn(fx_t *f, int64_t advance);
Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *fx_start_req(fx_t *f);
/* Starts the run "wf-1" (type "Greet", queue "tq") with the default request. */
void fx_start(fx_t *f);
/* Polls the scheduled workflow task from the normal queue; checks TD_OK. */
void fx_poll(fx_t *f);
void fx_poll_kind(fx_t *f, int kind);
Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *
fx_complete_req(fx_t *f, size_t n, ...);
int fx_complete(fx_t *f,
                Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req,
                td_ms_wft_completed_t *out);
fx_cmd_t *fx_cmd_activity(fx_t *f, const char *id, int64_t start_to_close, int32_t max_attempts);
fx_cmd_t *fx_cmd_timer(fx_t *f, const char *id, int64_t d);
fx_cmd_t *fx_cmd_cancel_timer(fx_t *f, const char *id);
fx_cmd_t *fx_cmd_cancel_activity(fx_t *f, int64_t scheduled_id);
fx_cmd_t *fx_cmd_complete(fx_t *f, const char *result);
fx_cmd_t *fx_cmd_marker(fx_t *f, const char *name);
/* StartChildWorkflowExecution of type "Kid" (policy 0 = unspecified). */
fx_cmd_t *fx_cmd_child(fx_t *f, const char *workflow_id, int policy);
fx_cmd_t *fx_cmd_signal_external(fx_t *f, const char *workflow_id, const char *signal);
fx_cmd_t *fx_cmd_cancel_external(fx_t *f, const char *workflow_id);
fx_cmd_t *fx_cmd_fail(fx_t *f, Temporal__Api__Failure__V1__Failure *failure);
fx_cmd_t *fx_cmd_continue_as_new(fx_t *f, const char *input);
Temporal__Api__Common__V1__Payloads *fx_payloads(fx_t *f, const char *data);
/* A token for activity `scheduled_id` at `attempt`. */
Temporald__Token__Task *fx_act_tok(fx_t *f, int64_t scheduled_id, int32_t attempt);
/* Starts activity `scheduled_id` at attempt `attempt`; checks TD_OK. */
void fx_act_start(fx_t *f, int64_t scheduled_id, int32_t attempt);
/* Checks the txn's events: count, dense ids from `first`, types, event_time and task_id set. */
void fx_check_events(fx_t *f, int64_t first, size_t n, ...);
/* Index of the first task of `type` in the txn, or -1. */
int fx_find_task(const fx_t *f, td_ms_task_type_t type);
const td_ms_task_t *fx_task(const fx_t *f, td_ms_task_type_t type);

#endif
