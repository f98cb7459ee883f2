/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-run limits in the mutable-state machine (td_ms_limits_t): a workflow task command whose
 * payload passes limit.blobSize.error fails the task with Temporal's cause and message and
 * terminates the run (the SDKs check the same limit before sending, so only this level can show
 * the server side); pending-count limits fail the task without terminating; signals stop at
 * history.maximumSignalsPerExecution, the count surviving an encode/decode.
 */
#include "history_ms_fixture.h"

#include <string.h>

static const td_ms_event_t *last_event(const fx_t *f)
{
    return f->t.n_events > 0 ? f->t.events[f->t.n_events - 1] : NULL;
}

static char *big(fx_t *f, size_t n)
{
    char *s = td_arena_alloc(&f->arena, n + 1);
    memset(s, 'x', n);
    s[n] = '\0';
    return s;
}

TD_TEST(history_ms_limits_blob_terminates)
{
    fx_t f;
    td_ms_limits_t lim = *td_ms_limits_default();
    fx_cmd_t *c;
    const td_ms_event_t *e;

    lim.blob_error = 1000;
    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    f.t.limits = &lim;
    c = fx_cmd_activity(&f, "a", SEC(10), 0);
    c->schedule_activity_task_command_attributes->input = fx_payloads(&f, big(&f, 2000));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, c), NULL), ==, TD_EINVAL);
    TD_CHECK_INT(f.t.cause, ==, CAUSE(BAD_SCHEDULE_ACTIVITY_ATTRIBUTES));
    TD_CHECK_STR(f.t.msg, "ScheduleActivityTaskCommandAttributes.Input exceeds size limit.");
    TD_CHECK_INT(f.t.events[0]->event_type, ==, ET(WORKFLOW_TASK_FAILED));
    e = last_event(&f);
    TD_CHECK_INT(e->event_type, ==, ET(WORKFLOW_EXECUTION_TERMINATED));
    TD_CHECK_STR(e->workflow_execution_terminated_event_attributes->reason,
                 "WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES: "
                 "ScheduleActivityTaskCommandAttributes.Input exceeds size limit.");
    TD_CHECK_STR(e->workflow_execution_terminated_event_attributes->identity, "history-service");
    TD_CHECK_INT(f.ms->state, ==, TD_MS_STATE_COMPLETED);
    TD_CHECK_INT(f.ms->n_activities, ==, 0);
    fx_free(&f);

    /* a result past the limit: Temporal names the schedule-activity cause for it too */
    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    f.t.limits = &lim;
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_complete(&f, big(&f, 2000))), NULL),
                 ==, TD_EINVAL);
    TD_CHECK_INT(f.t.cause, ==, CAUSE(BAD_SCHEDULE_ACTIVITY_ATTRIBUTES));
    TD_CHECK_STR(f.t.msg, "CompleteWorkflowExecutionCommandAttributes.Result exceeds size limit.");
    TD_CHECK_INT(last_event(&f)->event_type, ==, ET(WORKFLOW_EXECUTION_TERMINATED));
    fx_free(&f);

    /* within the limit: scheduled as usual */
    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    f.t.limits = &lim;
    c = fx_cmd_activity(&f, "a", SEC(10), 0);
    c->schedule_activity_task_command_attributes->input = fx_payloads(&f, big(&f, 500));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, c), NULL), ==, TD_OK);
    TD_CHECK_INT(f.ms->n_activities, ==, 1);
    TD_CHECK_INT(f.ms->state, ==, TD_MS_STATE_RUNNING);
    fx_free(&f);
}

TD_TEST(history_ms_limits_pending_and_signals)
{
    fx_t f;
    td_ms_limits_t lim = *td_ms_limits_default();
    uint8_t *blob = NULL;
    size_t len = 0;
    td_ms_t *copy = NULL;

    lim.pending_activities = 2;
    lim.max_signals = 3;
    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    f.t.limits = &lim;
    TD_CHECK_INT(fx_complete(&f,
                             fx_complete_req(&f, 3, fx_cmd_activity(&f, "a", SEC(10), 0),
                                             fx_cmd_activity(&f, "b", SEC(10), 0),
                                             fx_cmd_activity(&f, "c", SEC(10), 0)),
                             NULL),
                 ==, TD_EINVAL);
    TD_CHECK_INT(f.t.cause, ==, CAUSE(PENDING_ACTIVITIES_LIMIT_EXCEEDED));
    TD_CHECK_STR(f.t.msg, "the number of pending activities, 2, has reached the per-workflow "
                          "limit of 2");
    TD_CHECK_INT(f.ms->state, ==, TD_MS_STATE_RUNNING); /* not terminated */
    TD_CHECK_INT(f.ms->n_activities, ==, 0);

    for (int i = 0; i < 3; i++) {
        fx_txn(&f, SEC(1));
        f.t.limits = &lim;
        TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "s", NULL, "c", NULL, NULL), ==, TD_OK);
    }
    /* the count is part of the persisted state */
    td_ms_encode(f.ms, &f.arena, &blob, &len);
    TD_CHECK_INT(td_ms_decode(blob, len, &copy), ==, TD_OK);
    TD_CHECK_INT(copy->signal_count, ==, 3);
    fx_txn(&f, SEC(1));
    f.t.limits = &lim;
    TD_CHECK_INT(td_ms_signal(copy, &f.t, "s", NULL, "c", NULL, NULL), ==, TD_EINVAL);
    TD_CHECK_STR(f.t.msg, "exceeded workflow execution limit for signal events");
    TD_CHECK_INT(f.t.n_events, ==, 0);
    td_ms_free(copy);
    fx_free(&f);
}
