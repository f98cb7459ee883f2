/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutable state: activities (retries until success and until exhaustion, non-retryable
 * failures, heartbeats and their timeout, schedule-to-start / schedule-to-close timeouts,
 * cancellation before and after start) and user timers (fire, cancel, stale tasks).
 */
#include "history_ms_fixture.h"

#include <string.h>

#define EV_ATTR(e, lower) ((e)->lower##_event_attributes)

/* Start, poll, complete the first task with `c` (built after fx_init); the run then waits
 * for events. */
static void setup(fx_t *f, fx_cmd_t *c)
{
    fx_start(f);
    fx_txn(f, 0);
    fx_poll(f);
    fx_txn(f, 0);
    TD_CHECK_INT(fx_complete(f, fx_complete_req(f, 1, c), NULL), ==, TD_OK);
    /* 4 WorkflowTaskCompleted, 5 the command's event */
}

static Temporal__Api__Failure__V1__Failure *app_failure(fx_t *f, const char *type,
                                                        int non_retryable)
{
    Temporal__Api__Failure__V1__Failure *fl = td_arena_alloc(&f->arena, sizeof(*fl));
    Temporal__Api__Failure__V1__ApplicationFailureInfo *ai = td_arena_alloc(&f->arena, sizeof(*ai));
    temporal__api__failure__v1__failure__init(fl);
    temporal__api__failure__v1__application_failure_info__init(ai);
    fl->message = (char *)"boom";
    fl->failure_info_case =
            TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_APPLICATION_FAILURE_INFO;
    fl->application_failure_info = ai;
    ai->type = (char *)type;
    ai->non_retryable = non_retryable;
    return fl;
}

TD_TEST(history_ms_activity_retries_until_success)
{
    fx_t f;
    td_ms_task_t retry;
    const td_ms_task_t *dispatch;
    const Temporal__Api__History__V1__ActivityTaskStartedEventAttributes *st;

    fx_init(&f);
    setup(&f, fx_cmd_activity(&f, "a", SEC(10), 0));
    fx_txn(&f, SEC(1));
    fx_act_start(&f, 5, 1);

    /* Attempt 1 fails: no event, retry after the initial interval (1 s). */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_activity_fail(f.ms, &f.t, fx_act_tok(&f, 5, 1), app_failure(&f, "Oops", 0),
                                     NULL, "w"),
                 ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    retry = *fx_task(&f, TD_MS_TASK_ACTIVITY_RETRY);
    TD_CHECK_INT(retry.fire_time, ==, f.now + SEC(1));
    TD_CHECK_INT(retry.attempt, ==, 2);
    TD_CHECK_INT(td_ms_activity_find(f.ms, 5)->attempt, ==, 2);
    TD_CHECK(!td_ms_activity_find(f.ms, 5)->started);
    /* The old attempt's token is stale now. */
    TD_CHECK_INT(td_ms_activity_complete(f.ms, &f.t, fx_act_tok(&f, 5, 1), NULL, "w"), ==,
                 TD_ENOTFOUND);

    /* Backoff over: dispatch attempt 2. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &retry), ==, TD_OK);
    dispatch = fx_task(&f, TD_MS_TASK_ACTIVITY_TASK);
    TD_CHECK_INT(dispatch->attempt, ==, 2);
    TD_CHECK_INT(dispatch->event_id, ==, 5);
    TD_CHECK_INT(td_ms_task_valid(f.ms, dispatch), ==, TD_OK);
    /* A dispatch for attempt 1 is stale. */
    {
        td_ms_task_t old = *dispatch;
        old.attempt = 1;
        TD_CHECK_INT(td_ms_task_valid(f.ms, &old), ==, TD_ENOTFOUND);
    }
    fx_act_start(&f, 5, 2);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_activity_fail(f.ms, &f.t, fx_act_tok(&f, 5, 2), app_failure(&f, "Oops", 0),
                                     NULL, "w"),
                 ==, TD_OK);
    /* Second backoff: 1 s * 2. */
    TD_CHECK_INT(fx_task(&f, TD_MS_TASK_ACTIVITY_RETRY)->fire_time, ==, f.now + SEC(2));
    retry = *fx_task(&f, TD_MS_TASK_ACTIVITY_RETRY);
    fx_txn(&f, SEC(2));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &retry), ==, TD_OK);
    fx_act_start(&f, 5, 3);

    /* Attempt 3 succeeds: only the final attempt's Started appears, with the last failure. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(
            td_ms_activity_complete(f.ms, &f.t, fx_act_tok(&f, 5, 3), fx_payloads(&f, "ok"), "w"),
            ==, TD_OK);
    fx_check_events(&f, 6, 3, ET(ACTIVITY_TASK_STARTED), ET(ACTIVITY_TASK_COMPLETED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    st = EV_ATTR(f.t.events[0], activity_task_started);
    TD_CHECK_INT(st->attempt, ==, 3);
    TD_CHECK(st->last_failure != NULL);
    TD_CHECK_STR(st->last_failure->message, "boom");
    TD_CHECK_INT(EV_ATTR(f.t.events[1], activity_task_completed)->started_event_id, ==, 6);
    fx_free(&f);
}

TD_TEST(history_ms_activity_retries_exhausted)
{
    fx_t f;
    td_ms_task_t retry;
    const Temporal__Api__History__V1__ActivityTaskFailedEventAttributes *fa;

    fx_init(&f);
    setup(&f, fx_cmd_activity(&f, "a", SEC(10), 2));
    fx_txn(&f, SEC(1));
    fx_act_start(&f, 5, 1);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_activity_fail(f.ms, &f.t, fx_act_tok(&f, 5, 1), app_failure(&f, "Oops", 0),
                                     NULL, "w"),
                 ==, TD_OK);
    retry = *fx_task(&f, TD_MS_TASK_ACTIVITY_RETRY);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &retry), ==, TD_OK);
    fx_act_start(&f, 5, 2);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_activity_fail(f.ms, &f.t, fx_act_tok(&f, 5, 2), app_failure(&f, "Oops", 0),
                                     NULL, "w"),
                 ==, TD_OK);
    fx_check_events(&f, 6, 3, ET(ACTIVITY_TASK_STARTED), ET(ACTIVITY_TASK_FAILED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    fa = EV_ATTR(f.t.events[1], activity_task_failed);
    TD_CHECK_INT(fa->retry_state, ==, RS(MAXIMUM_ATTEMPTS_REACHED));
    TD_CHECK_INT(fa->started_event_id, ==, 6);
    TD_CHECK_INT(fa->scheduled_event_id, ==, 5);
    TD_CHECK_STR(fa->failure->message, "boom");
    TD_CHECK(td_ms_activity_find(f.ms, 5) == NULL);
    fx_free(&f);
}

TD_TEST(history_ms_activity_non_retryable)
{
    fx_t f;
    fx_cmd_t *c;

    /* ApplicationFailure.non_retryable. */
    fx_init(&f);
    setup(&f, fx_cmd_activity(&f, "a", SEC(10), 0));
    fx_txn(&f, SEC(1));
    fx_act_start(&f, 5, 1);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_activity_fail(f.ms, &f.t, fx_act_tok(&f, 5, 1), app_failure(&f, "X", 1),
                                     NULL, "w"),
                 ==, TD_OK);
    fx_check_events(&f, 6, 3, ET(ACTIVITY_TASK_STARTED), ET(ACTIVITY_TASK_FAILED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(EV_ATTR(f.t.events[1], activity_task_failed)->retry_state, ==,
                 RS(NON_RETRYABLE_FAILURE));
    fx_free(&f);

    /* Type listed in non_retryable_error_types. */
    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    c = fx_cmd_activity(&f, "a", SEC(10), 0);
    {
        Temporal__Api__Common__V1__RetryPolicy *rp = td_arena_alloc(&f.arena, sizeof(*rp));
        char **types = td_arena_alloc(&f.arena, sizeof(char *));
        temporal__api__common__v1__retry_policy__init(rp);
        types[0] = (char *)"Fatal";
        rp->n_non_retryable_error_types = 1;
        rp->non_retryable_error_types = types;
        c->schedule_activity_task_command_attributes->retry_policy = rp;
    }
    fx_txn(&f, 0);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, c), NULL), ==, TD_OK);
    TD_CHECK_INT(EV_ATTR(f.t.events[1], activity_task_scheduled)
                         ->retry_policy->n_non_retryable_error_types,
                 ==, 1);
    fx_txn(&f, SEC(1));
    fx_act_start(&f, 5, 1);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_activity_fail(f.ms, &f.t, fx_act_tok(&f, 5, 1), app_failure(&f, "Fatal", 0),
                                     NULL, "w"),
                 ==, TD_OK);
    TD_CHECK_INT(EV_ATTR(f.t.events[1], activity_task_failed)->retry_state, ==,
                 RS(NON_RETRYABLE_FAILURE));
    fx_free(&f);
}

TD_TEST(history_ms_activity_heartbeat_timeout)
{
    fx_t f;
    fx_cmd_t *c;
    Google__Protobuf__Duration hb = GOOGLE__PROTOBUF__DURATION__INIT;
    td_ms_task_t hbt;
    int cancel = -1;
    const Temporal__Api__History__V1__ActivityTaskTimedOutEventAttributes *to;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    c = fx_cmd_activity(&f, "a", SEC(60), 1);
    hb.seconds = 5;
    c->schedule_activity_task_command_attributes->heartbeat_timeout = &hb;
    fx_txn(&f, 0);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, c), NULL), ==, TD_OK);

    fx_txn(&f, SEC(1));
    fx_act_start(&f, 5, 1);
    hbt = f.t.tasks[fx_find_task(&f, TD_MS_TASK_ACTIVITY_TIMEOUT) + 1];
    TD_CHECK_INT(hbt.timeout_type, ==, TO(HEARTBEAT));
    TD_CHECK_INT(hbt.fire_time, ==, f.now + SEC(5));

    /* Heartbeat at +3 s records details; no cancel requested. */
    fx_txn(&f, SEC(3));
    TD_CHECK_INT(td_ms_activity_heartbeat(f.ms, &f.t, fx_act_tok(&f, 5, 1),
                                          fx_payloads(&f, "progress-1"), &cancel),
                 ==, TD_OK);
    TD_CHECK_INT(cancel, ==, 0);
    TD_CHECK_INT(f.t.n_events, ==, 0);

    /* The timer at +5 s finds a recent heartbeat: re-armed at heartbeat + 5 s. */
    fx_txn(&f, SEC(2));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &hbt), ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    hbt = *fx_task(&f, TD_MS_TASK_ACTIVITY_TIMEOUT);
    TD_CHECK_INT(hbt.fire_time, ==, f.now + SEC(3));

    /* Silence: timed out; maximum_attempts 1 means no retry. */
    fx_txn(&f, SEC(3));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &hbt), ==, TD_OK);
    fx_check_events(&f, 6, 3, ET(ACTIVITY_TASK_STARTED), ET(ACTIVITY_TASK_TIMED_OUT),
                    ET(WORKFLOW_TASK_SCHEDULED));
    to = EV_ATTR(f.t.events[1], activity_task_timed_out);
    TD_CHECK_INT(to->retry_state, ==, RS(MAXIMUM_ATTEMPTS_REACHED));
    TD_CHECK_INT(to->started_event_id, ==, 6);
    TD_CHECK_INT(to->failure->failure_info_case, ==,
                 TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_TIMEOUT_FAILURE_INFO);
    TD_CHECK_INT(to->failure->timeout_failure_info->timeout_type, ==, TO(HEARTBEAT));
    TD_CHECK(to->failure->timeout_failure_info->last_heartbeat_details != NULL);
    TD_CHECK_INT(to->failure->timeout_failure_info->last_heartbeat_details->payloads[0]->data.len,
                 ==, 10);
    fx_free(&f);
}

TD_TEST(history_ms_activity_start_to_close_retry_and_s2c)
{
    fx_t f;
    fx_cmd_t *c;
    Google__Protobuf__Duration s2c = GOOGLE__PROTOBUF__DURATION__INIT;
    td_ms_task_t st2c, s2ct, retry;
    const Temporal__Api__History__V1__ActivityTaskScheduledEventAttributes *sa;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    c = fx_cmd_activity(&f, "a", SEC(10), 0);
    s2c.seconds = 25;
    c->schedule_activity_task_command_attributes->schedule_to_close_timeout = &s2c;
    fx_txn(&f, 0);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, c), NULL), ==, TD_OK);
    sa = EV_ATTR(f.t.events[1], activity_task_scheduled);
    TD_CHECK_INT(sa->schedule_to_close_timeout->seconds, ==, 25);
    TD_CHECK_INT(sa->schedule_to_start_timeout->seconds, ==, 25);
    TD_CHECK_INT(sa->start_to_close_timeout->seconds, ==, 10);
    /* schedule-to-start (defaulted to schedule-to-close) is armed too, ahead of it */
    s2ct = *fx_task(&f, TD_MS_TASK_ACTIVITY_TIMEOUT);
    TD_CHECK_INT(s2ct.timeout_type, ==, TO(SCHEDULE_TO_START));
    TD_CHECK_INT(s2ct.fire_time, ==, f.now + SEC(25));
    for (size_t i = 0; i < f.t.n_tasks; i++) {
        if (f.t.tasks[i].type == TD_MS_TASK_ACTIVITY_TIMEOUT &&
            f.t.tasks[i].timeout_type == TO(SCHEDULE_TO_CLOSE)) {
            s2ct = f.t.tasks[i];
        }
    }
    TD_CHECK_INT(s2ct.timeout_type, ==, TO(SCHEDULE_TO_CLOSE));
    TD_CHECK_INT(s2ct.fire_time, ==, f.now + SEC(25));

    /* Start-to-close timeout is retryable. */
    fx_txn(&f, SEC(1));
    fx_act_start(&f, 5, 1);
    st2c = *fx_task(&f, TD_MS_TASK_ACTIVITY_TIMEOUT);
    TD_CHECK_INT(st2c.timeout_type, ==, TO(START_TO_CLOSE));
    fx_txn(&f, SEC(10));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &st2c), ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    retry = *fx_task(&f, TD_MS_TASK_ACTIVITY_RETRY);
    TD_CHECK_INT(retry.attempt, ==, 2);
    /* The same timer again is stale (attempt moved on). */
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &st2c), ==, TD_ENOTFOUND);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &retry), ==, TD_OK);
    fx_act_start(&f, 5, 2);

    /* Schedule-to-close fires while attempt 2 runs: final. */
    fx_txn(&f, SEC(13));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &s2ct), ==, TD_OK);
    fx_check_events(&f, 6, 3, ET(ACTIVITY_TASK_STARTED), ET(ACTIVITY_TASK_TIMED_OUT),
                    ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(EV_ATTR(f.t.events[1], activity_task_timed_out)->retry_state, ==, RS(TIMEOUT));
    TD_CHECK_INT(EV_ATTR(f.t.events[1], activity_task_timed_out)
                         ->failure->timeout_failure_info->timeout_type,
                 ==, TO(SCHEDULE_TO_CLOSE));
    /* The previous attempt's timeout travels as the cause. */
    TD_CHECK(EV_ATTR(f.t.events[1], activity_task_timed_out)->failure->cause != NULL);
    TD_CHECK_INT(EV_ATTR(f.t.events[0], activity_task_started)->attempt, ==, 2);
    fx_free(&f);
}

TD_TEST(history_ms_activity_schedule_to_start_timeout)
{
    fx_t f;
    fx_cmd_t *c;
    Google__Protobuf__Duration s2s = GOOGLE__PROTOBUF__DURATION__INIT;
    td_ms_task_t t;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    c = fx_cmd_activity(&f, "a", SEC(10), 0);
    s2s.seconds = 4;
    c->schedule_activity_task_command_attributes->schedule_to_start_timeout = &s2s;
    fx_txn(&f, 0);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, c), NULL), ==, TD_OK);
    t = *fx_task(&f, TD_MS_TASK_ACTIVITY_TIMEOUT);
    TD_CHECK_INT(t.timeout_type, ==, TO(SCHEDULE_TO_START));
    fx_txn(&f, SEC(4));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &t), ==, TD_OK);
    fx_check_events(&f, 6, 2, ET(ACTIVITY_TASK_TIMED_OUT), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(EV_ATTR(f.t.events[0], activity_task_timed_out)->started_event_id, ==, 0);
    /* a server deadline, not a failure of the activity: TIMEOUT, as Temporal */
    TD_CHECK_INT(EV_ATTR(f.t.events[0], activity_task_timed_out)->retry_state, ==, RS(TIMEOUT));
    /* A late poll for it finds nothing. */
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_activity_record_started(f.ms, &f.t, 5, 1, "r", "w",
                                               &(td_ms_activity_started_t){ 0 }),
                 ==, TD_ENOTFOUND);
    fx_free(&f);
}

TD_TEST(history_ms_activity_cancel_before_start)
{
    fx_t f;
    const Temporal__Api__History__V1__ActivityTaskCanceledEventAttributes *ce;

    fx_init(&f);
    setup(&f, fx_cmd_activity(&f, "a", SEC(10), 0));
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "go", NULL, "c", NULL, ""), ==,
                 TD_OK); /* 6 signal, 7 WFT */
    fx_txn(&f, 0);
    fx_poll(&f); /* 8 */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_cancel_activity(&f, 5)), NULL), ==,
                 TD_OK);
    fx_check_events(&f, 9, 4, ET(WORKFLOW_TASK_COMPLETED), ET(ACTIVITY_TASK_CANCEL_REQUESTED),
                    ET(ACTIVITY_TASK_CANCELED), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(EV_ATTR(f.t.events[1], activity_task_cancel_requested)->scheduled_event_id, ==, 5);
    TD_CHECK_INT(EV_ATTR(f.t.events[1], activity_task_cancel_requested)
                         ->workflow_task_completed_event_id,
                 ==, 9);
    ce = EV_ATTR(f.t.events[2], activity_task_canceled);
    TD_CHECK_INT(ce->scheduled_event_id, ==, 5);
    TD_CHECK_INT(ce->started_event_id, ==, 0);
    TD_CHECK_INT(ce->latest_cancel_requested_event_id, ==, 10);
    TD_CHECK(ce->details != NULL && ce->details->n_payloads == 1);
    TD_CHECK_INT(ce->details->payloads[0]->data.len, ==, 25);
    TD_CHECK(memcmp(ce->details->payloads[0]->data.data, "\"ACTIVITY_ID_NOT_STARTED\"", 25) == 0);
    TD_CHECK(td_ms_activity_find(f.ms, 5) == NULL);
    /* The queued dispatch of the activity is now stale. */
    {
        td_ms_task_t d = { .type = TD_MS_TASK_ACTIVITY_TASK, .event_id = 5, .attempt = 1 };
        TD_CHECK_INT(td_ms_task_valid(f.ms, &d), ==, TD_ENOTFOUND);
    }
    fx_free(&f);
}

TD_TEST(history_ms_activity_cancel_after_start)
{
    fx_t f;
    int cancel = 0;
    const Temporal__Api__History__V1__ActivityTaskCanceledEventAttributes *ce;

    fx_init(&f);
    setup(&f, fx_cmd_activity(&f, "a", SEC(10), 0));
    fx_txn(&f, SEC(1));
    fx_act_start(&f, 5, 1);
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "stop", NULL, "c", NULL, ""), ==, TD_OK); /* 6, 7 */
    fx_txn(&f, 0);
    fx_poll(&f); /* 8 */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_cancel_activity(&f, 5)), NULL), ==,
                 TD_OK);
    fx_check_events(&f, 9, 2, ET(WORKFLOW_TASK_COMPLETED), ET(ACTIVITY_TASK_CANCEL_REQUESTED));
    TD_CHECK(td_ms_activity_find(f.ms, 5)->cancel_requested);

    /* The worker learns of it through its heartbeat, then reports the cancellation. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_activity_heartbeat(f.ms, &f.t, fx_act_tok(&f, 5, 1), NULL, &cancel), ==,
                 TD_OK);
    TD_CHECK_INT(cancel, ==, 1);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(
            td_ms_activity_cancel(f.ms, &f.t, fx_act_tok(&f, 5, 1), fx_payloads(&f, "bye"), "w"),
            ==, TD_OK);
    fx_check_events(&f, 11, 3, ET(ACTIVITY_TASK_STARTED), ET(ACTIVITY_TASK_CANCELED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    ce = EV_ATTR(f.t.events[1], activity_task_canceled);
    TD_CHECK_INT(ce->started_event_id, ==, 11);
    TD_CHECK_INT(ce->latest_cancel_requested_event_id, ==, 10);
    TD_CHECK(ce->details != NULL);
    /* Reported twice: the second is stale. */
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_activity_cancel(f.ms, &f.t, fx_act_tok(&f, 5, 1), NULL, "w"), ==,
                 TD_ENOTFOUND);
    TD_CHECK_INT(td_ms_activity_heartbeat(f.ms, &f.t, fx_act_tok(&f, 5, 1), NULL, &cancel), ==,
                 TD_ENOTFOUND);
    fx_free(&f);
}

TD_TEST(history_ms_activity_duplicate_and_by_id)
{
    fx_t f;
    Temporald__Token__Task *tok;

    fx_init(&f);
    setup(&f, fx_cmd_activity(&f, "a", SEC(10), 0));
    fx_txn(&f, SEC(1));
    fx_act_start(&f, 5, 1);
    /* Another poller for the same attempt, and the same poll again. */
    TD_CHECK_INT(td_ms_activity_record_started(f.ms, &f.t, 5, 1, "other", "w2",
                                               &(td_ms_activity_started_t){ 0 }),
                 ==, TD_EEXIST);
    fx_txn(&f, 0);
    fx_act_start(&f, 5, 1);
    TD_CHECK_INT(f.t.n_tasks, ==, 0);
    /* A cancellation nobody asked for is refused. */
    TD_CHECK_INT(td_ms_activity_cancel(f.ms, &f.t, fx_act_tok(&f, 5, 1), NULL, "w"), ==, TD_EINVAL);
    TD_CHECK_CONTAINS(f.t.msg, "without activity being request canceled");
    TD_CHECK_INT(f.t.n_events, ==, 0);
    /* Completion by activity id (scheduled id unknown to the caller). */
    tok = fx_act_tok(&f, 0, 0);
    tok->activity_id = (char *)"a";
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_activity_complete(f.ms, &f.t, tok, NULL, "async"), ==, TD_OK);
    fx_check_events(&f, 6, 3, ET(ACTIVITY_TASK_STARTED), ET(ACTIVITY_TASK_COMPLETED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_STR(EV_ATTR(f.t.events[1], activity_task_completed)->identity, "async");
    fx_free(&f);
}

TD_TEST(history_ms_timers)
{
    fx_t f;
    td_ms_task_t t1, t2;
    const Temporal__Api__History__V1__TimerStartedEventAttributes *ts;

    fx_init(&f);
    setup(&f, fx_cmd_timer(&f, "t1", SEC(5)));
    ts = EV_ATTR(f.t.events[1], timer_started);
    TD_CHECK_STR(ts->timer_id, "t1");
    TD_CHECK_INT(ts->start_to_fire_timeout->seconds, ==, 5);
    TD_CHECK_INT(ts->workflow_task_completed_event_id, ==, 4);
    t1 = *fx_task(&f, TD_MS_TASK_USER_TIMER);
    TD_CHECK_INT(t1.fire_time, ==, f.now + SEC(5));
    TD_CHECK_INT(t1.event_id, ==, 5);
    TD_CHECK_STR(t1.timer_id, "t1");

    /* Fires: TimerFired + a new workflow task. */
    fx_txn(&f, SEC(5));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &t1), ==, TD_OK);
    fx_check_events(&f, 6, 2, ET(TIMER_FIRED), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_STR(EV_ATTR(f.t.events[0], timer_fired)->timer_id, "t1");
    TD_CHECK_INT(EV_ATTR(f.t.events[0], timer_fired)->started_event_id, ==, 5);
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &t1), ==, TD_ENOTFOUND);

    /* Start t2 and cancel it in the next task: its timer task goes stale. */
    fx_txn(&f, 0);
    fx_poll(&f); /* 8 */
    fx_txn(&f, 0);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_timer(&f, "t2", SEC(60))), NULL), ==,
                 TD_OK);
    t2 = *fx_task(&f, TD_MS_TASK_USER_TIMER); /* 9 completed, 10 started */
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "s", NULL, "c", NULL, ""), ==, TD_OK); /* 11, 12 */
    fx_txn(&f, 0);
    fx_poll(&f); /* 13 */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_cancel_timer(&f, "t2")), NULL), ==,
                 TD_OK);
    fx_check_events(&f, 14, 2, ET(WORKFLOW_TASK_COMPLETED), ET(TIMER_CANCELED));
    TD_CHECK_INT(EV_ATTR(f.t.events[1], timer_canceled)->started_event_id, ==, 10);
    TD_CHECK_INT(EV_ATTR(f.t.events[1], timer_canceled)->workflow_task_completed_event_id, ==, 14);
    TD_CHECK_INT(td_ms_task_valid(f.ms, &t2), ==, TD_ENOTFOUND);
    fx_txn(&f, SEC(60));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &t2), ==, TD_ENOTFOUND);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    fx_free(&f);
}

TD_TEST(history_ms_timer_fired_during_task_then_canceled)
{
    fx_t f;
    td_ms_task_t t1;

    fx_init(&f);
    setup(&f, fx_cmd_timer(&f, "t1", SEC(5)));
    t1 = *fx_task(&f, TD_MS_TASK_USER_TIMER);
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "s", NULL, "c", NULL, ""), ==, TD_OK); /* 6, 7 */
    fx_txn(&f, 0);
    fx_poll(&f); /* 8 */
    /* The timer fires while the task runs (buffered), and the task cancels it. */
    fx_txn(&f, SEC(5));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &t1), ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK_INT(f.ms->n_buffered, ==, 1);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_cancel_timer(&f, "t1")), NULL), ==,
                 TD_OK);
    /* The fired event is dropped; no new task is needed for it. */
    fx_check_events(&f, 9, 2, ET(WORKFLOW_TASK_COMPLETED), ET(TIMER_CANCELED));
    TD_CHECK_INT(EV_ATTR(f.t.events[1], timer_canceled)->started_event_id, ==, 5);
    TD_CHECK_INT(f.ms->n_buffered, ==, 0);
    fx_free(&f);
}

TD_TEST(history_ms_activity_no_retry_after_cancel_request)
{
    fx_t f;

    fx_init(&f);
    setup(&f, fx_cmd_activity(&f, "a", SEC(10), 0));
    fx_txn(&f, SEC(1));
    fx_act_start(&f, 5, 1);
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "stop", NULL, "c", NULL, ""), ==, TD_OK); /* 6, 7 */
    fx_txn(&f, 0);
    fx_poll(&f); /* 8 */
    fx_txn(&f, 0);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_cancel_activity(&f, 5)), NULL), ==,
                 TD_OK);
    /* The worker fails instead of reporting the cancellation: no retry. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_activity_fail(f.ms, &f.t, fx_act_tok(&f, 5, 1), app_failure(&f, "Oops", 0),
                                     NULL, "w"),
                 ==, TD_OK);
    fx_check_events(&f, 11, 3, ET(ACTIVITY_TASK_STARTED), ET(ACTIVITY_TASK_FAILED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(EV_ATTR(f.t.events[1], activity_task_failed)->retry_state, ==,
                 RS(CANCEL_REQUESTED));
    fx_free(&f);
}

TD_TEST(history_ms_activity_cancel_after_completion)
{
    fx_t f;

    fx_init(&f);
    setup(&f, fx_cmd_activity(&f, "a", SEC(10), 0));
    fx_txn(&f, SEC(1));
    fx_act_start(&f, 5, 1);
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "stop", NULL, "c", NULL, ""), ==, TD_OK); /* 6, 7 */
    fx_txn(&f, 0);
    fx_poll(&f); /* 8 */
    /* The activity completes while the task runs (buffered); the task cancels it anyway. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_activity_complete(f.ms, &f.t, fx_act_tok(&f, 5, 1), NULL, "w"), ==, TD_OK);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_cancel_activity(&f, 5)), NULL), ==,
                 TD_OK);
    /* The request is recorded; the buffered result follows and wakes the workflow. */
    fx_check_events(&f, 9, 5, ET(WORKFLOW_TASK_COMPLETED), ET(ACTIVITY_TASK_CANCEL_REQUESTED),
                    ET(ACTIVITY_TASK_STARTED), ET(ACTIVITY_TASK_COMPLETED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(EV_ATTR(f.t.events[3], activity_task_completed)->started_event_id, ==, 11);
    /* A scheduled id that cannot exist is a bad command. */
    fx_txn(&f, 0);
    fx_poll(&f); /* 14 */
    fx_txn(&f, 0);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_cancel_activity(&f, 99)), NULL), ==,
                 TD_EINVAL);
    TD_CHECK_INT(f.t.cause, ==, CAUSE(BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES));
    fx_free(&f);
}
