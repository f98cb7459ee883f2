/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutable state: the start and workflow-task path end to end (start, poll, complete with an
 * activity, activity result, complete the workflow), buffering and UnhandledCommand, workflow
 * task failure, timeout, transient attempts and stickiness, stale tokens.
 */
#include "history_ms_fixture.h"

#include "error.h"

#define EV_ATTR(e, lower) ((e)->lower##_event_attributes)

static int64_t ts_ns(const Google__Protobuf__Timestamp *ts)
{
    return ts->seconds * TD_MS_SECOND + ts->nanos;
}

static int64_t dur_ns(const Google__Protobuf__Duration *d)
{
    return d ? d->seconds * TD_MS_SECOND + d->nanos : -1;
}

TD_TEST(history_ms_start_events_and_tasks)
{
    fx_t f;
    const Temporal__Api__History__V1__WorkflowExecutionStartedEventAttributes *a;
    const Temporal__Api__History__V1__WorkflowTaskScheduledEventAttributes *s;
    const td_ms_task_t *wt;

    fx_init(&f);
    fx_start(&f);
    fx_check_events(&f, 1, 2, ET(WORKFLOW_EXECUTION_STARTED), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(ts_ns(f.t.events[0]->event_time), ==, T0);
    TD_CHECK_INT(ts_ns(f.t.events[1]->event_time), ==, T0);
    a = EV_ATTR(f.t.events[0], workflow_execution_started);
    TD_CHECK_STR(a->workflow_type->name, "Greet");
    TD_CHECK_STR(a->task_queue->name, "tq");
    TD_CHECK_INT(a->task_queue->kind, ==, TQK(NORMAL));
    TD_CHECK_STR(a->original_execution_run_id, RUN);
    TD_CHECK_STR(a->first_execution_run_id, RUN);
    TD_CHECK_STR(a->workflow_id, "wf-1");
    TD_CHECK_STR(a->identity, "client@host");
    TD_CHECK_INT(a->attempt, ==, 1);
    TD_CHECK_INT(dur_ns(a->workflow_task_timeout), ==, SEC(10));
    /* unset execution and run timeouts stay absent (not a zero Duration) */
    TD_CHECK(a->workflow_run_timeout == NULL);
    TD_CHECK(a->workflow_execution_timeout == NULL);
    TD_CHECK(a->input != NULL && a->input->n_payloads == 1);
    s = EV_ATTR(f.t.events[1], workflow_task_scheduled);
    TD_CHECK_STR(s->task_queue->name, "tq");
    TD_CHECK_INT(s->attempt, ==, 1);
    TD_CHECK_INT(dur_ns(s->start_to_close_timeout), ==, SEC(10));

    wt = fx_task(&f, TD_MS_TASK_WORKFLOW_TASK);
    TD_CHECK_INT(wt->event_id, ==, 2);
    TD_CHECK_STR(wt->task_queue, "tq");
    TD_CHECK_INT(td_ms_task_category(wt->type), ==, TD_MS_CAT_TRANSFER);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_VIS_START) >= 0);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_RUN_TIMEOUT) < 0);
    TD_CHECK_INT(td_ms_task_valid(f.ms, wt), ==, TD_OK);
    TD_CHECK_INT(f.ms->next_event_id, ==, 3);
    TD_CHECK_INT(f.ms->wft.scheduled_id, ==, 2);
    TD_CHECK_INT(f.ms->state, ==, TD_MS_STATE_RUNNING);
    fx_free(&f);
}

TD_TEST(history_ms_start_timeout_normalisation)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *r;
    Google__Protobuf__Duration exec = GOOGLE__PROTOBUF__DURATION__INIT,
                               run = GOOGLE__PROTOBUF__DURATION__INIT,
                               task = GOOGLE__PROTOBUF__DURATION__INIT;
    const Temporal__Api__History__V1__WorkflowExecutionStartedEventAttributes *a;

    fx_init(&f);
    fx_txn(&f, 0);
    r = fx_start_req(&f);
    exec.seconds = 60;
    run.seconds = 600;   /* longer than the execution timeout: cut to 60 s */
    task.seconds = 3600; /* capped at 120 s, then at the run timeout (60 s) */
    r->workflow_execution_timeout = &exec;
    r->workflow_run_timeout = &run;
    r->workflow_task_timeout = &task;
    TD_CHECK_INT(td_ms_start(&f.t, r, NS, RUN, &f.ms), ==, TD_OK);
    a = EV_ATTR(f.t.events[0], workflow_execution_started);
    TD_CHECK_INT(dur_ns(a->workflow_run_timeout), ==, SEC(60));
    TD_CHECK_INT(dur_ns(a->workflow_execution_timeout), ==, SEC(60));
    TD_CHECK_INT(dur_ns(a->workflow_task_timeout), ==, SEC(60));
    TD_CHECK_INT(ts_ns(a->workflow_execution_expiration_time), ==, T0 + SEC(60));
    TD_CHECK_INT(fx_task(&f, TD_MS_TASK_RUN_TIMEOUT)->fire_time, ==, T0 + SEC(60));
    td_ms_free(f.ms);
    f.ms = NULL;

    /* Task timeout alone: capped at 120 s. */
    fx_txn(&f, 0);
    r = fx_start_req(&f);
    r->workflow_task_timeout = &task;
    TD_CHECK_INT(td_ms_start(&f.t, r, NS, RUN, &f.ms), ==, TD_OK);
    TD_CHECK_INT(f.ms->task_timeout, ==, SEC(120));
    td_ms_free(f.ms);
    f.ms = NULL;

    /* Malformed and unsupported requests. */
    fx_txn(&f, 0);
    r = fx_start_req(&f);
    r->workflow_id = (char *)"";
    TD_CHECK_INT(td_ms_start(&f.t, r, NS, RUN, &f.ms), ==, TD_EINVAL);
    TD_CHECK(f.ms == NULL);
    r = fx_start_req(&f);
    r->cron_schedule = (char *)"61 * * * *";
    TD_CHECK_INT(td_ms_start(&f.t, r, NS, RUN, &f.ms), ==, TD_EINVAL);
    TD_CHECK(f.ms == NULL);
    r->cron_schedule = (char *)"CRON_TZ=Europe/Paris * * * * *";
    TD_CHECK_INT(td_ms_start(&f.t, r, NS, RUN, &f.ms), ==, TD_EUNIMPL);
    fx_free(&f);
}

TD_TEST(history_ms_activity_workflow_end_to_end)
{
    fx_t f;
    td_ms_activity_started_t as;
    const Temporal__Api__History__V1__ActivityTaskScheduledEventAttributes *sa;
    const Temporal__Api__History__V1__WorkflowTaskCompletedEventAttributes *ca;
    const Temporal__Api__History__V1__WorkflowTaskStartedEventAttributes *st;
    const Temporal__Api__History__V1__ActivityTaskStartedEventAttributes *ast;
    const Temporal__Api__History__V1__ActivityTaskCompletedEventAttributes *acp;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req;
    Temporal__Api__Sdk__V1__WorkflowTaskCompletedMetadata md =
            TEMPORAL__API__SDK__V1__WORKFLOW_TASK_COMPLETED_METADATA__INIT;
    Temporal__Api__Common__V1__WorkerVersionStamp stamp =
            TEMPORAL__API__COMMON__V1__WORKER_VERSION_STAMP__INIT;
    uint32_t flags[] = { 1, 2 };
    const td_ms_task_t *task;

    fx_init(&f);
    fx_start(&f);

    /* Poll: WorkflowTaskStarted(3) and a start-to-close timer. */
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_check_events(&f, 3, 1, ET(WORKFLOW_TASK_STARTED));
    TD_CHECK_INT(ts_ns(f.t.events[0]->event_time), ==, T0 + SEC(1));
    st = EV_ATTR(f.t.events[0], workflow_task_started);
    TD_CHECK_INT(st->scheduled_event_id, ==, 2);
    TD_CHECK_STR(st->identity, "worker-1");
    TD_CHECK_STR(st->request_id, "poll-req");
    TD_CHECK_INT(f.started.started_id, ==, 3);
    TD_CHECK_INT(f.started.scheduled_id, ==, 2);
    TD_CHECK_INT(f.started.previous_started_event_id, ==, 0);
    TD_CHECK_INT(f.started.attempt, ==, 1);
    TD_CHECK_INT(f.started.n_transient_events, ==, 0);
    TD_CHECK_INT(f.started.started_time, ==, T0 + SEC(1));
    TD_CHECK_INT(f.started.scheduled_time, ==, T0);
    task = fx_task(&f, TD_MS_TASK_WFT_TIMEOUT);
    TD_CHECK_INT(task->fire_time, ==, T0 + SEC(11));
    TD_CHECK_INT(task->timeout_type, ==, TO(START_TO_CLOSE));
    TD_CHECK_STR(f.wft_tok->run_id, RUN);
    TD_CHECK_INT(f.wft_tok->scheduled_event_id, ==, 2);
    TD_CHECK_INT(f.wft_tok->started_event_id, ==, 3);

    /* Complete with ScheduleActivityTask: WFTCompleted(4), ActivityTaskScheduled(5). */
    fx_txn(&f, SEC(1));
    req = fx_complete_req(&f, 1, fx_cmd_activity(&f, "act-1", SEC(30), 0));
    md.n_lang_used_flags = 2;
    md.lang_used_flags = flags;
    req->sdk_metadata = &md;
    stamp.build_id = (char *)"build-7";
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    req->worker_version_stamp = &stamp;
#pragma GCC diagnostic pop
    TD_CHECK_INT(fx_complete(&f, req, NULL), ==, TD_OK);
    fx_check_events(&f, 4, 2, ET(WORKFLOW_TASK_COMPLETED), ET(ACTIVITY_TASK_SCHEDULED));
    ca = EV_ATTR(f.t.events[0], workflow_task_completed);
    TD_CHECK_INT(ca->scheduled_event_id, ==, 2);
    TD_CHECK_INT(ca->started_event_id, ==, 3);
    TD_CHECK_STR(ca->identity, "worker-1");
    TD_CHECK(ca->sdk_metadata != NULL && ca->sdk_metadata->n_lang_used_flags == 2);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    TD_CHECK(ca->worker_version != NULL);
    TD_CHECK_STR(ca->worker_version->build_id, "build-7");
#pragma GCC diagnostic pop
    sa = EV_ATTR(f.t.events[1], activity_task_scheduled);
    TD_CHECK_STR(sa->activity_id, "act-1");
    TD_CHECK_STR(sa->activity_type->name, "SayHello");
    TD_CHECK_STR(sa->task_queue->name, "tq");
    TD_CHECK_INT(sa->workflow_task_completed_event_id, ==, 4);
    TD_CHECK_INT(dur_ns(sa->start_to_close_timeout), ==, SEC(30));
    TD_CHECK_INT(dur_ns(sa->schedule_to_close_timeout), ==, 0); /* no run timeout: unlimited */
    TD_CHECK_INT(dur_ns(sa->schedule_to_start_timeout), ==, 0);
    TD_CHECK_INT(dur_ns(sa->heartbeat_timeout), ==, 0);
    TD_CHECK(sa->retry_policy != NULL);
    TD_CHECK_INT(dur_ns(sa->retry_policy->initial_interval), ==, SEC(1));
    TD_CHECK(sa->retry_policy->backoff_coefficient == 2.0);
    TD_CHECK_INT(dur_ns(sa->retry_policy->maximum_interval), ==, SEC(100));
    TD_CHECK_INT(sa->retry_policy->maximum_attempts, ==, 0);
    task = fx_task(&f, TD_MS_TASK_ACTIVITY_TASK);
    TD_CHECK_INT(task->event_id, ==, 5);
    TD_CHECK_INT(task->attempt, ==, 1);
    TD_CHECK_INT(f.ms->previous_started_event_id, ==, 3);
    TD_CHECK_INT(f.ms->wft.scheduled_id, ==, 0);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_WORKFLOW_TASK) < 0);

    /* Activity started: nothing in history yet. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_activity_record_started(f.ms, &f.t, 5, 1, "act-poll", "worker-1", &as), ==,
                 TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK_INT(as.start_to_close, ==, SEC(30));
    TD_CHECK_INT(fx_task(&f, TD_MS_TASK_ACTIVITY_TIMEOUT)->fire_time, ==, f.now + SEC(30));

    /* Activity completed: ActivityTaskStarted(6), Completed(7), WorkflowTaskScheduled(8). */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_activity_complete(f.ms, &f.t, fx_act_tok(&f, 5, 1),
                                         fx_payloads(&f, "\"hello\""), "worker-1"),
                 ==, TD_OK);
    fx_check_events(&f, 6, 3, ET(ACTIVITY_TASK_STARTED), ET(ACTIVITY_TASK_COMPLETED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    ast = EV_ATTR(f.t.events[0], activity_task_started);
    TD_CHECK_INT(ast->scheduled_event_id, ==, 5);
    TD_CHECK_INT(ast->attempt, ==, 1);
    TD_CHECK_STR(ast->request_id, "act-poll");
    TD_CHECK_INT(ts_ns(f.t.events[0]->event_time), ==, f.now - SEC(1)); /* when it started */
    acp = EV_ATTR(f.t.events[1], activity_task_completed);
    TD_CHECK_INT(acp->scheduled_event_id, ==, 5);
    TD_CHECK_INT(acp->started_event_id, ==, 6);
    TD_CHECK_INT(acp->result->payloads[0]->data.len, ==, 7);
    TD_CHECK(td_ms_activity_find(f.ms, 5) == NULL);
    TD_CHECK_INT(fx_task(&f, TD_MS_TASK_WORKFLOW_TASK)->event_id, ==, 8);

    /* Second workflow task, then complete the workflow. */
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_check_events(&f, 9, 1, ET(WORKFLOW_TASK_STARTED));
    TD_CHECK_INT(f.started.previous_started_event_id, ==, 3);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_complete(&f, "\"done\"")), NULL), ==,
                 TD_OK);
    fx_check_events(&f, 10, 2, ET(WORKFLOW_TASK_COMPLETED), ET(WORKFLOW_EXECUTION_COMPLETED));
    TD_CHECK_INT(
            EV_ATTR(f.t.events[1], workflow_execution_completed)->workflow_task_completed_event_id,
            ==, 10);
    TD_CHECK_INT(f.ms->state, ==, TD_MS_STATE_COMPLETED);
    TD_CHECK_INT(
            f.ms->status, ==,
            TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_COMPLETED);
    TD_CHECK_INT(f.ms->completion_event_id, ==, 11);
    TD_CHECK_INT(f.ms->next_event_id, ==, 12);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_CLOSE_EXECUTION) >= 0);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_VIS_CLOSE) >= 0);
    TD_CHECK_INT(td_ms_task_valid(f.ms, fx_task(&f, TD_MS_TASK_CLOSE_EXECUTION)), ==, TD_OK);

    /* Anything after close: not found, nothing written. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "sig", NULL, "me", NULL, "r1"), ==, TD_ENOTFOUND);
    TD_CHECK_STR(f.t.msg, "workflow execution already completed");
    TD_CHECK_INT(f.t.n_events, ==, 0);
    fx_free(&f);
}

TD_TEST(history_ms_double_completion_and_stale_tokens)
{
    fx_t f;
    Temporald__Token__Task *tok, bad;
    const td_ms_task_t *old;
    td_ms_wft_completed_t out;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    tok = f.wft_tok;

    /* Wrong attempt / scheduled id / started time: not found, nothing written. */
    bad = *tok;
    bad.attempt = 2;
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_wft_complete(f.ms, &f.t, &bad, fx_complete_req(&f, 0), &out), ==,
                 TD_ENOTFOUND);
    TD_CHECK_STR(f.t.msg, "Workflow task not found.");
    TD_CHECK_INT(f.t.n_events, ==, 0);
    bad = *tok;
    bad.scheduled_event_id = 7;
    TD_CHECK_INT(td_ms_wft_complete(f.ms, &f.t, &bad, fx_complete_req(&f, 0), &out), ==,
                 TD_ENOTFOUND);
    bad = *tok;
    bad.started_time = NULL;
    bad.started_event_id = 99;
    TD_CHECK_INT(td_ms_wft_complete(f.ms, &f.t, &bad, fx_complete_req(&f, 0), &out), ==,
                 TD_ENOTFOUND);
    TD_CHECK_INT(f.ms->next_event_id, ==, 4);

    /* A second poll for the same task from another poller. */
    TD_CHECK_INT(
            td_ms_wft_record_started(f.ms, &f.t, 2, "other-poll", "w2", TQK(NORMAL), &f.started),
            ==, TD_EEXIST);
    /* The same poll retried: same answer, no event. */
    TD_CHECK_INT(td_ms_wft_record_started(f.ms, &f.t, 2, "poll-req", "worker-1", TQK(NORMAL),
                                          &f.started),
                 ==, TD_OK);
    TD_CHECK_INT(f.started.started_id, ==, 3);
    TD_CHECK_INT(f.t.n_events, ==, 0);

    /* Complete once, then again with the same token. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_wft_complete(f.ms, &f.t, tok,
                                    fx_complete_req(&f, 1, fx_cmd_timer(&f, "t1", SEC(5))), &out),
                 ==, TD_OK);
    fx_check_events(&f, 4, 2, ET(WORKFLOW_TASK_COMPLETED), ET(TIMER_STARTED));
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_wft_complete(f.ms, &f.t, tok,
                                    fx_complete_req(&f, 1, fx_cmd_timer(&f, "t2", SEC(5))), &out),
                 ==, TD_ENOTFOUND);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK(td_ms_timer_find(f.ms, "t2") == NULL);

    /* Stale transfer task: poll for a workflow task that no longer exists. */
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_wft_record_started(f.ms, &f.t, 2, "p", "w", TQK(NORMAL), &f.started), ==,
                 TD_ENOTFOUND);

    /* Stale activity token. */
    TD_CHECK_INT(td_ms_activity_complete(f.ms, &f.t, fx_act_tok(&f, 5, 1), NULL, "w"), ==,
                 TD_ENOTFOUND);
    TD_CHECK_CONTAINS(f.t.msg, "invalid activityID");
    (void)old;
    fx_free(&f);
}

TD_TEST(history_ms_signal_before_and_during_wft)
{
    fx_t f;
    const Temporal__Api__History__V1__WorkflowExecutionSignaledEventAttributes *sa;

    fx_init(&f);
    fx_start(&f);

    /* Task scheduled, not started: the signal goes straight to history, no new task. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "hello", fx_payloads(&f, "1"), "client", NULL, "sig-1"),
                 ==, TD_OK);
    fx_check_events(&f, 3, 1, ET(WORKFLOW_EXECUTION_SIGNALED));
    sa = EV_ATTR(f.t.events[0], workflow_execution_signaled);
    TD_CHECK_STR(sa->signal_name, "hello");
    TD_CHECK_STR(sa->identity, "client");
    TD_CHECK_STR(sa->request_id, "sig-1");
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_WORKFLOW_TASK) < 0);
    /* Same request id again: deduplicated. */
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "hello", NULL, "client", NULL, "sig-1"), ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);

    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_check_events(&f, 4, 1, ET(WORKFLOW_TASK_STARTED));

    /* Task started: signals are buffered. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "second", NULL, "client", NULL, "sig-2"), ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK_INT(f.t.n_tasks, ==, 0);
    TD_CHECK_INT(f.ms->n_buffered, ==, 1);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "third", NULL, "client", NULL, "sig-3"), ==, TD_OK);

    /* Completion: command events, then the buffer, then a new task for it. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_marker(&f, "core_patch")), NULL), ==,
                 TD_OK);
    fx_check_events(&f, 5, 5, ET(WORKFLOW_TASK_COMPLETED), ET(MARKER_RECORDED),
                    ET(WORKFLOW_EXECUTION_SIGNALED), ET(WORKFLOW_EXECUTION_SIGNALED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_STR(EV_ATTR(f.t.events[1], marker_recorded)->marker_name, "core_patch");
    TD_CHECK_INT(EV_ATTR(f.t.events[1], marker_recorded)->n_details, ==, 1);
    TD_CHECK_STR(EV_ATTR(f.t.events[2], workflow_execution_signaled)->signal_name, "second");
    TD_CHECK_STR(EV_ATTR(f.t.events[3], workflow_execution_signaled)->signal_name, "third");
    /* Buffered events keep the time they arrived. */
    TD_CHECK_INT(ts_ns(f.t.events[2]->event_time), ==, f.now - SEC(2));
    TD_CHECK_INT(f.ms->n_buffered, ==, 0);
    TD_CHECK_INT(fx_task(&f, TD_MS_TASK_WORKFLOW_TASK)->event_id, ==, 9);
    fx_free(&f);
}

TD_TEST(history_ms_unhandled_command)
{
    fx_t f;
    int rc;
    const Temporal__Api__History__V1__WorkflowTaskFailedEventAttributes *fa;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "late", NULL, "client", NULL, ""), ==, TD_OK);

    /* The workflow tries to finish without seeing the signal. */
    fx_txn(&f, SEC(1));
    rc = fx_complete(
            &f, fx_complete_req(&f, 2, fx_cmd_timer(&f, "t", SEC(1)), fx_cmd_complete(&f, "x")),
            NULL);
    TD_CHECK_INT(rc, ==, TD_EINVAL);
    TD_CHECK_STR(f.t.msg, "UnhandledCommand");
    TD_CHECK_INT(f.t.cause, ==, CAUSE(UNHANDLED_COMMAND));
    fx_check_events(&f, 4, 3, ET(WORKFLOW_TASK_FAILED), ET(WORKFLOW_EXECUTION_SIGNALED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    fa = EV_ATTR(f.t.events[0], workflow_task_failed);
    TD_CHECK_INT(fa->cause, ==, CAUSE(UNHANDLED_COMMAND));
    TD_CHECK_INT(fa->scheduled_event_id, ==, 2);
    TD_CHECK_INT(fa->started_event_id, ==, 3);
    TD_CHECK_INT(EV_ATTR(f.t.events[2], workflow_task_scheduled)->attempt, ==, 1);
    /* The timer command was discarded with the rest. */
    TD_CHECK(td_ms_timer_find(f.ms, "t") == NULL);
    TD_CHECK_INT(f.ms->state, ==, TD_MS_STATE_RUNNING);
    TD_CHECK_INT(f.ms->wft.scheduled_id, ==, 6);

    /* Next attempt sees the signal and completes. */
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_complete(&f, "x")), NULL), ==,
                 TD_OK);
    fx_check_events(&f, 8, 2, ET(WORKFLOW_TASK_COMPLETED), ET(WORKFLOW_EXECUTION_COMPLETED));
    fx_free(&f);
}

TD_TEST(history_ms_buffer_order_completion_last)
{
    fx_t f;
    const Temporal__Api__History__V1__ActivityTaskCompletedEventAttributes *c;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, 0);
    TD_CHECK_INT(
            fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_activity(&f, "a", SEC(10), 0)), NULL), ==,
            TD_OK);
    /* 4 WFTCompleted, 5 ActivityTaskScheduled; then a signal makes a new task (6). */
    fx_txn(&f, SEC(1));
    fx_act_start(&f, 5, 1);
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "s0", NULL, "c", NULL, ""), ==, TD_OK);
    fx_check_events(&f, 6, 2, ET(WORKFLOW_EXECUTION_SIGNALED), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(f.ms->wft.scheduled_id, ==, 7);
    fx_txn(&f, SEC(1));
    fx_poll(&f); /* 8 */
    /* While the task runs: the activity completes, then a signal arrives. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_activity_complete(f.ms, &f.t, fx_act_tok(&f, 5, 1), NULL, "w"), ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "s1", NULL, "c", NULL, ""), ==, TD_OK);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 0), NULL), ==, TD_OK);
    /* Started and the signal keep their order; the completion moves last, wired to 10. */
    fx_check_events(&f, 9, 5, ET(WORKFLOW_TASK_COMPLETED), ET(ACTIVITY_TASK_STARTED),
                    ET(WORKFLOW_EXECUTION_SIGNALED), ET(ACTIVITY_TASK_COMPLETED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    c = EV_ATTR(f.t.events[3], activity_task_completed);
    TD_CHECK_INT(c->scheduled_event_id, ==, 5);
    TD_CHECK_INT(c->started_event_id, ==, 10);
    fx_free(&f);
}

TD_TEST(history_ms_wft_fail_transient_attempts)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskFailedRequest *fr;
    const td_ms_event_t *s, *st;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fr = td_arena_alloc(&f.arena, sizeof(*fr));
    temporal__api__workflowservice__v1__respond_workflow_task_failed_request__init(fr);
    fr->cause = CAUSE(NON_DETERMINISTIC_ERROR);
    fr->identity = (char *)"worker-1";

    /* Attempt 1 fails: WorkflowTaskFailed(4); attempt 2 is transient (no event). */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_wft_fail(f.ms, &f.t, f.wft_tok, fr), ==, TD_OK);
    fx_check_events(&f, 4, 1, ET(WORKFLOW_TASK_FAILED));
    TD_CHECK_INT(EV_ATTR(f.t.events[0], workflow_task_failed)->cause, ==,
                 CAUSE(NON_DETERMINISTIC_ERROR));
    TD_CHECK_INT(f.ms->wft.attempt, ==, 2);
    TD_CHECK(f.ms->wft.transient);
    TD_CHECK_INT(f.ms->wft.scheduled_id, ==, 5);
    TD_CHECK_INT(fx_task(&f, TD_MS_TASK_WORKFLOW_TASK)->attempt, ==, 2);

    /* Poll the transient attempt: nothing persisted, the events come back for the poll. */
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK_INT(f.started.n_transient_events, ==, 2);
    s = f.started.transient_events[0];
    st = f.started.transient_events[1];
    TD_CHECK_INT(s->event_id, ==, 5);
    TD_CHECK_INT(s->event_type, ==, ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(s->workflow_task_scheduled_event_attributes->attempt, ==, 2);
    TD_CHECK_INT(st->event_id, ==, 6);
    TD_CHECK_INT(st->event_type, ==, ET(WORKFLOW_TASK_STARTED));
    TD_CHECK_INT(f.started.started_id, ==, 6);
    TD_CHECK_INT(f.started.attempt, ==, 2);
    TD_CHECK_INT(f.ms->next_event_id, ==, 5);

    /* Fails again: still nothing written; attempt 3. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_wft_fail(f.ms, &f.t, f.wft_tok, fr), ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK_INT(f.ms->wft.attempt, ==, 3);

    /* Times out: nothing written; attempt 4. Old timer tasks are stale. */
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    {
        td_ms_task_t to = *fx_task(&f, TD_MS_TASK_WFT_TIMEOUT);
        fx_txn(&f, SEC(10));
        TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &to), ==, TD_OK);
        TD_CHECK_INT(f.t.n_events, ==, 0);
        TD_CHECK_INT(f.ms->wft.attempt, ==, 4);
        fx_txn(&f, 0);
        TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &to), ==, TD_ENOTFOUND);
    }

    /* Attempt 4 succeeds: Scheduled(5), Started(6), Completed(7) persisted, times kept. */
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_timer(&f, "t", SEC(3))), NULL), ==,
                 TD_OK);
    fx_check_events(&f, 5, 4, ET(WORKFLOW_TASK_SCHEDULED), ET(WORKFLOW_TASK_STARTED),
                    ET(WORKFLOW_TASK_COMPLETED), ET(TIMER_STARTED));
    TD_CHECK_INT(EV_ATTR(f.t.events[0], workflow_task_scheduled)->attempt, ==, 4);
    TD_CHECK_INT(ts_ns(f.t.events[1]->event_time), ==, f.now - SEC(1));
    TD_CHECK_INT(ts_ns(f.t.events[2]->event_time), ==, f.now);
    TD_CHECK_INT(EV_ATTR(f.t.events[2], workflow_task_completed)->started_event_id, ==, 6);
    TD_CHECK_INT(f.ms->previous_started_event_id, ==, 6);
    TD_CHECK_INT(f.ms->next_event_id, ==, 9);
    fx_free(&f);
}

TD_TEST(history_ms_transient_becomes_ordinary_on_new_event)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskFailedRequest fr =
            TEMPORAL__API__WORKFLOWSERVICE__V1__RESPOND_WORKFLOW_TASK_FAILED_REQUEST__INIT;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_wft_fail(f.ms, &f.t, f.wft_tok, &fr), ==,
                 TD_OK); /* 4 failed; attempt 2 transient at 5 */
    /* A signal while the transient task is only scheduled: it becomes an ordinary attempt 1,
     * written first so ids stay dense, and is dispatched again. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "s", NULL, "c", NULL, ""), ==, TD_OK);
    fx_check_events(&f, 5, 2, ET(WORKFLOW_TASK_SCHEDULED), ET(WORKFLOW_EXECUTION_SIGNALED));
    TD_CHECK_INT(EV_ATTR(f.t.events[0], workflow_task_scheduled)->attempt, ==, 1);
    TD_CHECK(!f.ms->wft.transient);
    TD_CHECK_INT(f.ms->wft.attempt, ==, 1);
    TD_CHECK_INT(fx_task(&f, TD_MS_TASK_WORKFLOW_TASK)->attempt, ==, 1);
    TD_CHECK_INT(fx_task(&f, TD_MS_TASK_WORKFLOW_TASK)->event_id, ==, 5);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_check_events(&f, 7, 1, ET(WORKFLOW_TASK_STARTED));
    TD_CHECK_INT(EV_ATTR(f.t.events[0], workflow_task_started)->scheduled_event_id, ==, 5);
    fx_free(&f);
}

TD_TEST(history_ms_wft_timeout_and_sticky)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req;
    Temporal__Api__Taskqueue__V1__StickyExecutionAttributes sticky =
            TEMPORAL__API__TASKQUEUE__V1__STICKY_EXECUTION_ATTRIBUTES__INIT;
    Temporal__Api__Taskqueue__V1__TaskQueue stq = TEMPORAL__API__TASKQUEUE__V1__TASK_QUEUE__INIT;
    Google__Protobuf__Duration s2s = GOOGLE__PROTOBUF__DURATION__INIT;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskFailedRequest fr =
            TEMPORAL__API__WORKFLOWSERVICE__V1__RESPOND_WORKFLOW_TASK_FAILED_REQUEST__INIT;
    td_ms_task_t timeout;
    const td_ms_task_t *wt;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, SEC(1));
    fx_poll(&f);

    /* Start-to-close timeout on attempt 1: WorkflowTaskTimedOut, attempt 2 transient. */
    timeout = *fx_task(&f, TD_MS_TASK_WFT_TIMEOUT);
    TD_CHECK_INT(td_ms_task_valid(f.ms, &timeout), ==, TD_OK);
    fx_txn(&f, SEC(10));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &timeout), ==, TD_OK);
    fx_check_events(&f, 4, 1, ET(WORKFLOW_TASK_TIMED_OUT));
    TD_CHECK_INT(EV_ATTR(f.t.events[0], workflow_task_timed_out)->timeout_type, ==,
                 TO(START_TO_CLOSE));
    TD_CHECK_INT(EV_ATTR(f.t.events[0], workflow_task_timed_out)->started_event_id, ==, 3);
    TD_CHECK_INT(f.ms->wft.attempt, ==, 2);
    TD_CHECK(f.ms->wft.transient);

    /* Attempt 2 completes and asks for stickiness plus a new task (heartbeat). */
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    stq.name = (char *)"worker-1-sticky";
    stq.kind = TQK(STICKY);
    s2s.seconds = 5;
    sticky.worker_task_queue = &stq;
    sticky.schedule_to_start_timeout = &s2s;
    req = fx_complete_req(&f, 0);
    req->sticky_attributes = &sticky;
    req->force_create_new_workflow_task = 1;
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, req, NULL), ==, TD_OK);
    fx_check_events(&f, 5, 4, ET(WORKFLOW_TASK_SCHEDULED), ET(WORKFLOW_TASK_STARTED),
                    ET(WORKFLOW_TASK_COMPLETED), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_STR(EV_ATTR(f.t.events[3], workflow_task_scheduled)->task_queue->name,
                 "worker-1-sticky");
    TD_CHECK_INT(EV_ATTR(f.t.events[3], workflow_task_scheduled)->task_queue->kind, ==,
                 TQK(STICKY));
    TD_CHECK_STR(EV_ATTR(f.t.events[3], workflow_task_scheduled)->task_queue->normal_name, "tq");
    wt = fx_task(&f, TD_MS_TASK_WORKFLOW_TASK);
    TD_CHECK_STR(wt->task_queue, "worker-1-sticky");
    TD_CHECK_INT(wt->task_queue_kind, ==, TQK(STICKY));
    TD_CHECK_INT(wt->schedule_to_start, ==, SEC(5));
    timeout = *fx_task(&f, TD_MS_TASK_WFT_TIMEOUT);
    TD_CHECK_INT(timeout.timeout_type, ==, TO(SCHEDULE_TO_START));
    TD_CHECK_INT(timeout.fire_time, ==, f.now + SEC(5));

    /* Nobody polls the sticky queue: timed out, back to the normal queue, same attempt. */
    fx_txn(&f, SEC(5));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &timeout), ==, TD_OK);
    fx_check_events(&f, 9, 2, ET(WORKFLOW_TASK_TIMED_OUT), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(EV_ATTR(f.t.events[0], workflow_task_timed_out)->timeout_type, ==,
                 TO(SCHEDULE_TO_START));
    TD_CHECK_INT(EV_ATTR(f.t.events[0], workflow_task_timed_out)->started_event_id, ==, 0);
    TD_CHECK_STR(EV_ATTR(f.t.events[1], workflow_task_scheduled)->task_queue->name, "tq");
    TD_CHECK_INT(EV_ATTR(f.t.events[1], workflow_task_scheduled)->attempt, ==, 1);
    TD_CHECK(f.ms->sticky_task_queue == NULL);

    /* Sticky again; a sticky poll; the task fails: stickiness cleared, attempt kept. */
    fx_txn(&f, SEC(1));
    fx_poll(&f); /* 11 */
    req = fx_complete_req(&f, 0);
    req->sticky_attributes = &sticky;
    req->force_create_new_workflow_task = 1;
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, req, NULL), ==, TD_OK); /* 12 completed, 13 scheduled (sticky) */
    fx_txn(&f, SEC(1));
    /* A normal-queue poll would not match a sticky-kind poll expectation, so poll sticky. */
    fx_poll_kind(&f, TQK(STICKY));
    fx_check_events(&f, 14, 1, ET(WORKFLOW_TASK_STARTED));
    TD_CHECK(f.started.sticky);
    TD_CHECK_INT(f.started.previous_started_event_id, ==, 11);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_wft_fail(f.ms, &f.t, f.wft_tok, &fr), ==, TD_OK);
    fx_check_events(&f, 15, 2, ET(WORKFLOW_TASK_FAILED), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(EV_ATTR(f.t.events[1], workflow_task_scheduled)->attempt, ==, 1);
    TD_CHECK_STR(EV_ATTR(f.t.events[1], workflow_task_scheduled)->task_queue->name, "tq");
    TD_CHECK(f.ms->sticky_task_queue == NULL);

    /* A sticky poll for a task now on the normal queue is stale. */
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_wft_record_started(f.ms, &f.t, 16, "p", "w", TQK(STICKY), &f.started), ==,
                 TD_ENOTFOUND);
    fx_free(&f);
}

TD_TEST(history_ms_normal_poll_clears_stickiness)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req;
    Temporal__Api__Taskqueue__V1__StickyExecutionAttributes sticky =
            TEMPORAL__API__TASKQUEUE__V1__STICKY_EXECUTION_ATTRIBUTES__INIT;
    Temporal__Api__Taskqueue__V1__TaskQueue stq = TEMPORAL__API__TASKQUEUE__V1__TASK_QUEUE__INIT;
    td_ms_task_t timer;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    stq.name = (char *)"sticky-q";
    sticky.worker_task_queue = &stq;
    req = fx_complete_req(&f, 1, fx_cmd_timer(&f, "t", SEC(1)));
    req->sticky_attributes = &sticky;
    fx_txn(&f, 0);
    TD_CHECK_INT(fx_complete(&f, req, NULL), ==, TD_OK);
    TD_CHECK_STR(f.ms->sticky_task_queue, "sticky-q");
    timer = *fx_task(&f, TD_MS_TASK_USER_TIMER);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &timer), ==, TD_OK);
    fx_check_events(&f, 6, 2, ET(TIMER_FIRED), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(f.ms->wft.task_queue_kind, ==, TQK(STICKY));
    /* No sticky schedule-to-start timeout given: no timer for it. */
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_WFT_TIMEOUT) < 0);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    TD_CHECK(!f.started.sticky);
    TD_CHECK(f.ms->sticky_task_queue == NULL);
    fx_free(&f);
}

TD_TEST(history_ms_return_new_workflow_task)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req;
    td_ms_wft_completed_t out;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    req = fx_complete_req(&f, 1, fx_cmd_marker(&f, "core_local_activity"));
    req->force_create_new_workflow_task = 1;
    req->return_new_workflow_task = 1;
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, req, &out), ==, TD_OK);
    fx_check_events(&f, 4, 4, ET(WORKFLOW_TASK_COMPLETED), ET(MARKER_RECORDED),
                    ET(WORKFLOW_TASK_SCHEDULED), ET(WORKFLOW_TASK_STARTED));
    TD_CHECK(out.new_task_started);
    TD_CHECK_INT(out.started.scheduled_id, ==, 6);
    TD_CHECK_INT(out.started.started_id, ==, 7);
    TD_CHECK_INT(out.started.previous_started_event_id, ==, 3);
    TD_CHECK(out.started.token.len > 0);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_WORKFLOW_TASK) < 0);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_WFT_TIMEOUT) >= 0);
    fx_free(&f);
}

TD_TEST(history_ms_bad_and_unimplemented_commands)
{
    fx_t f;
    Temporal__Api__Command__V1__Command *c;
    int rc;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);

    /* A command type not implemented yet: refused, nothing changes. */
    c = td_arena_alloc(&f.arena, sizeof(*c));
    temporal__api__command__v1__command__init(c);
    c->command_type = CT(START_CHILD_WORKFLOW_EXECUTION);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, c), NULL), ==, TD_EUNIMPL);
    TD_CHECK_CONTAINS(f.t.msg, "not implemented");
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK_INT(f.ms->wft.started_id, ==, 3);

    /* Activity without timeouts, after a valid timer: both discarded, task failed. */
    fx_txn(&f, SEC(1));
    rc = fx_complete(
            &f,
            fx_complete_req(&f, 2, fx_cmd_timer(&f, "t", SEC(1)), fx_cmd_activity(&f, "a", 0, 0)),
            NULL);
    TD_CHECK_INT(rc, ==, TD_EINVAL);
    TD_CHECK_INT(f.t.cause, ==, CAUSE(BAD_SCHEDULE_ACTIVITY_ATTRIBUTES));
    TD_CHECK_CONTAINS(f.t.msg, "StartToClose");
    fx_check_events(&f, 4, 1, ET(WORKFLOW_TASK_FAILED));
    TD_CHECK_INT(EV_ATTR(f.t.events[0], workflow_task_failed)->cause, ==,
                 CAUSE(BAD_SCHEDULE_ACTIVITY_ATTRIBUTES));
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_USER_TIMER) < 0);
    TD_CHECK(td_ms_timer_find(f.ms, "t") == NULL);
    TD_CHECK_INT(f.ms->wft.attempt, ==, 2);
    TD_CHECK(f.ms->wft.transient);

    /* On the transient attempt a bad command writes nothing; the task stays started. */
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    rc = fx_complete(
            &f,
            fx_complete_req(&f, 2, fx_cmd_timer(&f, "d", SEC(1)), fx_cmd_timer(&f, "d", SEC(1))),
            NULL);
    TD_CHECK_INT(rc, ==, TD_EINVAL);
    TD_CHECK_INT(f.t.cause, ==, CAUSE(START_TIMER_DUPLICATE_ID));
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK_INT(f.ms->wft.started_id, ==, 6);
    TD_CHECK_INT(f.ms->next_event_id, ==, 5);

    /* A command after the close command. */
    fx_txn(&f, SEC(1));
    rc = fx_complete(
            &f, fx_complete_req(&f, 2, fx_cmd_complete(&f, "r"), fx_cmd_timer(&f, "x", SEC(1))),
            NULL);
    TD_CHECK_INT(rc, ==, TD_EINVAL);
    TD_CHECK_CONTAINS(f.t.msg, "must be the last command");
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK_INT(f.ms->state, ==, TD_MS_STATE_RUNNING);
    TD_CHECK_INT(f.ms->wft.started_id, ==, 6);
    fx_free(&f);
}

TD_TEST(history_ms_terminate)
{
    fx_t f;
    const Temporal__Api__History__V1__WorkflowExecutionTerminatedEventAttributes *ta;
    Temporald__Token__Task *tok;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    tok = f.wft_tok;
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "buffered", NULL, "c", NULL, ""), ==, TD_OK);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_terminate(f.ms, &f.t, "enough", fx_payloads(&f, "d"), "admin"), ==, TD_OK);
    fx_check_events(&f, 4, 3, ET(WORKFLOW_TASK_FAILED), ET(WORKFLOW_EXECUTION_SIGNALED),
                    ET(WORKFLOW_EXECUTION_TERMINATED));
    TD_CHECK_INT(EV_ATTR(f.t.events[0], workflow_task_failed)->cause, ==,
                 CAUSE(FORCE_CLOSE_COMMAND));
    ta = EV_ATTR(f.t.events[2], workflow_execution_terminated);
    TD_CHECK_STR(ta->reason, "enough");
    TD_CHECK_STR(ta->identity, "admin");
    TD_CHECK_INT(
            f.ms->status, ==,
            TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_TERMINATED);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_CLOSE_EXECUTION) >= 0);

    /* The in-flight completion arrives late. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_wft_complete(f.ms, &f.t, tok, fx_complete_req(&f, 0),
                                    &(td_ms_wft_completed_t){ 0 }),
                 ==, TD_ENOTFOUND);
    TD_CHECK_STR(f.t.msg, "workflow execution already completed");
    TD_CHECK_INT(td_ms_terminate(f.ms, &f.t, "again", NULL, "admin"), ==, TD_ENOTFOUND);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    fx_free(&f);
}

TD_TEST(history_ms_cancel_request_and_run_timeout)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *r;
    Google__Protobuf__Duration run = GOOGLE__PROTOBUF__DURATION__INIT;
    td_ms_task_t rt;
    fx_cmd_t *c;
    Temporal__Api__Command__V1__CancelWorkflowExecutionCommandAttributes ca =
            TEMPORAL__API__COMMAND__V1__CANCEL_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES__INIT;

    /* Cancel request -> the workflow cancels itself. */
    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, 0);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 0), NULL), ==, TD_OK); /* 4 */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_request_cancel(f.ms, &f.t, "user asked", "cli", "c-1"), ==, TD_OK);
    fx_check_events(&f, 5, 2, ET(WORKFLOW_EXECUTION_CANCEL_REQUESTED), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_STR(EV_ATTR(f.t.events[0], workflow_execution_cancel_requested)->cause, "user asked");
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_request_cancel(f.ms, &f.t, "again", "cli", "c-2"), ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    fx_txn(&f, 0);
    fx_poll(&f);
    c = td_arena_alloc(&f.arena, sizeof(*c));
    temporal__api__command__v1__command__init(c);
    c->command_type = CT(CANCEL_WORKFLOW_EXECUTION);
    c->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_CANCEL_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES;
    c->cancel_workflow_execution_command_attributes = &ca;
    fx_txn(&f, 0);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, c), NULL), ==, TD_OK);
    fx_check_events(&f, 8, 2, ET(WORKFLOW_TASK_COMPLETED), ET(WORKFLOW_EXECUTION_CANCELED));
    TD_CHECK_INT(
            f.ms->status, ==,
            TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_CANCELED);
    fx_free(&f);

    /* Run timeout. */
    fx_init(&f);
    fx_txn(&f, 0);
    r = fx_start_req(&f);
    run.seconds = 30;
    r->workflow_run_timeout = &run;
    TD_CHECK_INT(td_ms_start(&f.t, r, NS, RUN, &f.ms), ==, TD_OK);
    rt = *fx_task(&f, TD_MS_TASK_RUN_TIMEOUT);
    TD_CHECK_INT(rt.fire_time, ==, T0 + SEC(30));
    fx_txn(&f, SEC(30));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &rt), ==, TD_OK);
    fx_check_events(&f, 3, 1, ET(WORKFLOW_EXECUTION_TIMED_OUT));
    TD_CHECK_INT(
            f.ms->status, ==,
            TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_TIMED_OUT);
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &rt), ==, TD_ENOTFOUND);
    fx_free(&f);
}

TD_TEST(history_ms_start_delay)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *r;
    Google__Protobuf__Duration delay = GOOGLE__PROTOBUF__DURATION__INIT;
    td_ms_task_t bt;

    fx_init(&f);
    fx_txn(&f, 0);
    r = fx_start_req(&f);
    delay.seconds = 5;
    r->workflow_start_delay = &delay;
    TD_CHECK_INT(td_ms_start(&f.t, r, NS, RUN, &f.ms), ==, TD_OK);
    fx_check_events(&f, 1, 1, ET(WORKFLOW_EXECUTION_STARTED));
    TD_CHECK_INT(
            dur_ns(EV_ATTR(f.t.events[0], workflow_execution_started)->first_workflow_task_backoff),
            ==, SEC(5));
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_WORKFLOW_TASK) < 0);
    bt = *fx_task(&f, TD_MS_TASK_WORKFLOW_BACKOFF);
    TD_CHECK_INT(bt.fire_time, ==, T0 + SEC(5));
    fx_txn(&f, SEC(5));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &bt), ==, TD_OK);
    fx_check_events(&f, 2, 1, ET(WORKFLOW_TASK_SCHEDULED));
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &bt), ==, TD_ENOTFOUND);
    fx_free(&f);
}

TD_TEST(history_ms_wft_fail_with_buffered_events)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskFailedRequest fr =
            TEMPORAL__API__WORKFLOWSERVICE__V1__RESPOND_WORKFLOW_TASK_FAILED_REQUEST__INIT;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "s", NULL, "c", NULL, ""), ==, TD_OK);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_wft_fail(f.ms, &f.t, f.wft_tok, &fr), ==, TD_OK);
    /* The failure, the flushed signal, and an ordinary attempt 1 (not a transient 2). */
    fx_check_events(&f, 4, 3, ET(WORKFLOW_TASK_FAILED), ET(WORKFLOW_EXECUTION_SIGNALED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(EV_ATTR(f.t.events[2], workflow_task_scheduled)->attempt, ==, 1);
    TD_CHECK(!f.ms->wft.transient);
    fx_free(&f);
}

TD_TEST(history_ms_wft_heartbeat_chain_times_out)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req;
    td_ms_wft_completed_t out;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    /* Heartbeat every 9 minutes: fine three times (27 min since the chain began)... */
    for (int i = 0; i < 3; i++) {
        req = fx_complete_req(&f, 0);
        req->force_create_new_workflow_task = 1;
        req->return_new_workflow_task = 1;
        fx_txn(&f, SEC(9 * 60));
        TD_CHECK_INT(fx_complete(&f, req, &out), ==, TD_OK);
        TD_CHECK(out.new_task_started);
        TD_CHECK_INT(td_ms_token_decode(out.started.token.data, out.started.token.len, &f.arena,
                                        &f.wft_tok),
                     ==, TD_OK);
    }
    /* ...the fourth (36 min) is refused and the task times out. */
    req = fx_complete_req(&f, 0);
    req->force_create_new_workflow_task = 1;
    fx_txn(&f, SEC(9 * 60));
    TD_CHECK_INT(fx_complete(&f, req, &out), ==, TD_ENOTFOUND);
    TD_CHECK_STR(f.t.msg, "workflow task heartbeat timeout");
    TD_CHECK_INT(f.t.n_events, ==, 1);
    TD_CHECK_INT(f.t.events[0]->event_type, ==, ET(WORKFLOW_TASK_TIMED_OUT));
    TD_CHECK_INT(f.ms->wft.attempt, ==, 2);
    /* A completion with commands is not a heartbeat: the chain resets. */
    fx_txn(&f, 0);
    fx_poll(&f);
    req = fx_complete_req(&f, 1, fx_cmd_marker(&f, "m"));
    req->force_create_new_workflow_task = 1;
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, req, &out), ==, TD_OK);
    TD_CHECK_INT(f.ms->wft.original_scheduled_time, ==, f.now);
    fx_free(&f);
}

TD_TEST(history_ms_history_size_and_continue_as_new_hint)
{
    fx_t f;
    const Temporal__Api__History__V1__WorkflowTaskStartedEventAttributes *st;
    int64_t size;

    fx_init(&f);
    fx_start(&f);
    size = f.ms->history_size_bytes;
    TD_CHECK(size > 20);
    TD_CHECK_INT(size, ==,
                 (int64_t)(protobuf_c_message_get_packed_size(&f.t.events[0]->base) +
                           protobuf_c_message_get_packed_size(&f.t.events[1]->base)));
    fx_txn(&f, 0);
    fx_poll(&f);
    st = f.t.events[0]->workflow_task_started_event_attributes;
    TD_CHECK_INT(st->history_size_bytes, ==, size);
    TD_CHECK(!st->suggest_continue_as_new);
    /* Pretend the history is long. */
    fx_txn(&f, 0);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 0), NULL), ==, TD_OK);
    f.ms->next_event_id += TD_MS_SUGGEST_CAN_EVENTS;
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "s", NULL, "c", NULL, ""), ==, TD_OK);
    fx_txn(&f, 0);
    fx_poll(&f);
    st = f.t.events[0]->workflow_task_started_event_attributes;
    TD_CHECK(st->suggest_continue_as_new);
    TD_CHECK_INT(st->n_suggest_continue_as_new_reasons, ==, 1);
    TD_CHECK_INT(
            st->suggest_continue_as_new_reasons[0], ==,
            TEMPORAL__API__ENUMS__V1__SUGGEST_CONTINUE_AS_NEW_REASON__SUGGEST_CONTINUE_AS_NEW_REASON_TOO_MANY_HISTORY_EVENTS);
    fx_free(&f);
}

static Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry *
sa_entry(fx_t *f, const char *key, const char *val)
{
    Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry *e =
            td_arena_alloc(&f->arena, sizeof(*e));
    temporal__api__common__v1__search_attributes__indexed_fields_entry__init(e);
    e->key = (char *)key;
    e->value = fx_payloads(f, val)->payloads[0];
    if (val[0] == '\0') {
        e->value->data.len = 0; /* an empty value removes the key */
    }
    return e;
}

TD_TEST(history_ms_search_attributes_and_memo)
{
    fx_t f;
    Temporal__Api__Command__V1__Command *c1, *c2, *c3;
    Temporal__Api__Command__V1__UpsertWorkflowSearchAttributesCommandAttributes
            u1 = TEMPORAL__API__COMMAND__V1__UPSERT_WORKFLOW_SEARCH_ATTRIBUTES_COMMAND_ATTRIBUTES__INIT,
            u2 = u1;
    Temporal__Api__Common__V1__SearchAttributes
            s1 = TEMPORAL__API__COMMON__V1__SEARCH_ATTRIBUTES__INIT,
            s2 = s1;
    Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry *e1[2], *e2[2];
    Temporal__Api__Command__V1__ModifyWorkflowPropertiesCommandAttributes m =
            TEMPORAL__API__COMMAND__V1__MODIFY_WORKFLOW_PROPERTIES_COMMAND_ATTRIBUTES__INIT;
    Temporal__Api__Common__V1__Memo memo = TEMPORAL__API__COMMON__V1__MEMO__INIT;
    Temporal__Api__Common__V1__Memo__FieldsEntry
            me = TEMPORAL__API__COMMON__V1__MEMO__FIELDS_ENTRY__INIT,
            *mes[1];
    Temporal__Api__Common__V1__SearchAttributes *cur;
    Temporal__Api__Common__V1__Memo *curm;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    e1[0] = sa_entry(&f, "CustomKeyword", "\"a\"");
    e1[1] = sa_entry(&f, "CustomInt", "1");
    s1.n_indexed_fields = 2;
    s1.indexed_fields = e1;
    u1.search_attributes = &s1;
    e2[0] = sa_entry(&f, "CustomInt", "2");
    e2[1] = sa_entry(&f, "CustomKeyword", "");
    s2.n_indexed_fields = 2;
    s2.indexed_fields = e2;
    u2.search_attributes = &s2;
    me.key = (char *)"note";
    me.value = fx_payloads(&f, "\"hi\"")->payloads[0];
    mes[0] = &me;
    memo.n_fields = 1;
    memo.fields = mes;
    m.upserted_memo = &memo;
    c1 = td_arena_calloc(&f.arena, sizeof(*c1));
    c2 = td_arena_calloc(&f.arena, sizeof(*c2));
    c3 = td_arena_calloc(&f.arena, sizeof(*c3));
    temporal__api__command__v1__command__init(c1);
    temporal__api__command__v1__command__init(c2);
    temporal__api__command__v1__command__init(c3);
    c1->command_type = c2->command_type = CT(UPSERT_WORKFLOW_SEARCH_ATTRIBUTES);
    c1->attributes_case = c2->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES_COMMAND_ATTRIBUTES;
    c1->upsert_workflow_search_attributes_command_attributes = &u1;
    c2->upsert_workflow_search_attributes_command_attributes = &u2;
    c3->command_type = CT(MODIFY_WORKFLOW_PROPERTIES);
    c3->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_MODIFY_WORKFLOW_PROPERTIES_COMMAND_ATTRIBUTES;
    c3->modify_workflow_properties_command_attributes = &m;

    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 3, c1, c2, c3), NULL), ==, TD_OK);
    fx_check_events(&f, 4, 4, ET(WORKFLOW_TASK_COMPLETED), ET(UPSERT_WORKFLOW_SEARCH_ATTRIBUTES),
                    ET(UPSERT_WORKFLOW_SEARCH_ATTRIBUTES), ET(WORKFLOW_PROPERTIES_MODIFIED));
    TD_CHECK_INT(EV_ATTR(f.t.events[1], upsert_workflow_search_attributes)
                         ->workflow_task_completed_event_id,
                 ==, 4);
    TD_CHECK_INT(EV_ATTR(f.t.events[3], workflow_properties_modified)->upserted_memo->n_fields, ==,
                 1);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_VIS_UPSERT) >= 0);
    /* Merged: CustomInt = 2, CustomKeyword removed; memo note = "hi". */
    cur = temporal__api__common__v1__search_attributes__unpack(
            td_arena_pb(&f.arena), f.ms->search_attributes.len, f.ms->search_attributes.data);
    TD_CHECK(cur != NULL);
    /* BuildIds: the completion (no version stamp) marked the run unversioned */
    TD_CHECK_INT(cur->n_indexed_fields, ==, 2);
    TD_CHECK_STR(cur->indexed_fields[0]->key, "BuildIds");
    TD_CHECK_INT((int)cur->indexed_fields[0]->value->data.len, ==, 15);
    TD_CHECK(memcmp(cur->indexed_fields[0]->value->data.data, "[\"unversioned\"]", 15) == 0);
    TD_CHECK_STR(cur->indexed_fields[1]->key, "CustomInt");
    TD_CHECK_INT(cur->indexed_fields[1]->value->data.data[0], ==, '2');
    curm = temporal__api__common__v1__memo__unpack(td_arena_pb(&f.arena), f.ms->memo.len,
                                                   f.ms->memo.data);
    TD_CHECK(curm != NULL);
    TD_CHECK_INT(curm->n_fields, ==, 1);
    TD_CHECK_STR(curm->fields[0]->key, "note");
    fx_free(&f);
}

TD_TEST(history_ms_wft_retry_slows_down)
{
    fx_t f;
    int64_t expect[] = { SEC(10), SEC(10), SEC(10), SEC(15), SEC(20), SEC(30), SEC(50) };
    td_ms_task_t to;

    fx_init(&f);
    fx_start(&f);
    /* Attempts 1..7 each time out; the start-to-close timeout grows from the 4th. */
    for (int attempt = 1; attempt <= 7; attempt++) {
        fx_txn(&f, 0);
        fx_poll(&f);
        TD_CHECK_INT(f.started.attempt, ==, attempt);
        to = *fx_task(&f, TD_MS_TASK_WFT_TIMEOUT);
        TD_CHECK_INT(to.fire_time - f.now, ==, expect[attempt - 1]);
        if (attempt > 1) {
            TD_CHECK_INT(dur_ns(f.started.transient_events[0]
                                        ->workflow_task_scheduled_event_attributes
                                        ->start_to_close_timeout),
                         ==, expect[attempt - 1]);
        }
        fx_txn(&f, expect[attempt - 1]);
        TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &to), ==, TD_OK);
    }
    fx_free(&f);
}
