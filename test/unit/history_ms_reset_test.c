/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutable state, reset (ms_reset.c): a run driven through the real transitions, its history
 * collected, then td_ms_reset at a workflow task's finish event: the copied prefix, the
 * WorkflowTaskFailed RESET_WORKFLOW, the reapplied signals, the new workflow task, the tasks
 * for pending activities and timers, the rebuilt state; reset to a WorkflowTaskStarted id;
 * Temporal's rejections (finish id range, no pending task), the children the new run keeps, and
 * events that cannot be replayed.
 */
#include "history_ms_fixture.h"

#include "error.h"
#include "mem.h"
#include "roles/history/ms/ms_reset.h"

#define NEWRUN "6f8b3d6e-0000-4000-8000-0000000000dd"

typedef struct {
    td_ms_event_t **v;
    size_t n, cap;
} hist_t;

/* Appends the events of the last transition (f->t) to h. */
static void collect(fx_t *f, hist_t *h)
{
    for (size_t i = 0; i < f->t.n_events; i++) {
        if (h->n == h->cap) {
            h->cap = h->cap ? h->cap * 2 : 32;
            h->v = td_realloc(h->v, h->cap * sizeof(*h->v));
        }
        TD_CHECK_INT(f->t.events[i]->event_id, ==, (int64_t)h->n + 1);
        h->v[h->n++] = f->t.events[i];
    }
}

static void send_signal(fx_t *f, hist_t *h, const char *name, const char *request_id)
{
    fx_txn(f, SEC(1));
    TD_CHECK_INT(td_ms_signal(f->ms, &f->t, name, fx_payloads(f, name), "client", NULL, request_id),
                 ==, TD_OK);
    collect(f, h);
}

/*
 *  1 Started  2 WFTScheduled  3 WFTStarted  4 WFTCompleted  5 ActivityScheduled(a1)
 *  6 TimerStarted(t1, 60 s)  7 Signaled(s1)  8 WFTScheduled  9 WFTStarted  10 WFTCompleted
 *  11 Signaled(s2, request r2)  12 WFTScheduled
 */
static void base_history(fx_t *f, hist_t *h)
{
    fx_start(f);
    collect(f, h);
    fx_txn(f, SEC(1));
    fx_poll(f);
    collect(f, h);
    fx_txn(f, SEC(1));
    TD_CHECK_INT(fx_complete(f,
                             fx_complete_req(f, 2, fx_cmd_activity(f, "a1", SEC(10), 3),
                                             fx_cmd_timer(f, "t1", SEC(60))),
                             NULL),
                 ==, TD_OK);
    collect(f, h);
    send_signal(f, h, "s1", "r1");
    fx_txn(f, SEC(1));
    fx_poll(f);
    collect(f, h);
    fx_txn(f, SEC(1));
    TD_CHECK_INT(fx_complete(f, fx_complete_req(f, 0), NULL), ==, TD_OK);
    collect(f, h);
    send_signal(f, h, "s2", "r2");
    TD_CHECK_INT(h->n, ==, 12);
}

static td_ms_reset_t reset_in(const hist_t *h, int64_t finish)
{
    td_ms_reset_t r = { 0 };
    r.namespace_id = NS;
    r.workflow_id = "wf-1";
    r.base_run_id = RUN;
    r.new_run_id = NEWRUN;
    r.events = h->v;
    r.n_events = h->n;
    r.finish_id = finish;
    r.reason = "operator reset";
    r.request_id = "reset-req-1";
    if ((size_t)finish - 1 < h->n) {
        r.reapply = h->v + finish - 1;
        r.n_reapply = h->n - (size_t)(finish - 1);
    }
    return r;
}

static int count_tasks(const fx_t *f, td_ms_task_type_t type)
{
    int n = 0;
    for (size_t i = 0; i < f->t.n_tasks; i++) {
        n += f->t.tasks[i].type == type;
    }
    return n;
}

TD_TEST(history_ms_reset_to_completed_task)
{
    fx_t f;
    hist_t h = { 0 };
    td_ms_reset_t r;
    td_ms_t *ms = NULL;
    const Temporal__Api__History__V1__WorkflowTaskFailedEventAttributes *fa;
    const td_ms_task_t *task;
    uint8_t *buf = NULL;
    size_t len = 0;
    td_ms_t *back = NULL;

    fx_init(&f);
    base_history(&f, &h);
    r = reset_in(&h, 10);
    fx_txn(&f, SEC(30));
    TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms), ==, TD_OK);
    fx_check_events(&f, 1, 12, ET(WORKFLOW_EXECUTION_STARTED), ET(WORKFLOW_TASK_SCHEDULED),
                    ET(WORKFLOW_TASK_STARTED), ET(WORKFLOW_TASK_COMPLETED),
                    ET(ACTIVITY_TASK_SCHEDULED), ET(TIMER_STARTED), ET(WORKFLOW_EXECUTION_SIGNALED),
                    ET(WORKFLOW_TASK_SCHEDULED), ET(WORKFLOW_TASK_STARTED),
                    ET(WORKFLOW_TASK_FAILED), ET(WORKFLOW_EXECUTION_SIGNALED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    /* The prefix is the base run's events, with their times. */
    for (int i = 0; i < 9; i++) {
        TD_CHECK(f.t.events[i] != h.v[i]);
        TD_CHECK_INT(f.t.events[i]->event_time->seconds, ==, h.v[i]->event_time->seconds);
        TD_CHECK(f.t.events[i]->attributes_case == h.v[i]->attributes_case);
    }
    fa = f.t.events[9]->workflow_task_failed_event_attributes;
    TD_CHECK_INT(fa->cause, ==, CAUSE(RESET_WORKFLOW));
    TD_CHECK_INT(fa->scheduled_event_id, ==, 8);
    TD_CHECK_INT(fa->started_event_id, ==, 9);
    TD_CHECK_STR(fa->base_run_id, RUN);
    TD_CHECK_STR(fa->new_run_id, NEWRUN);
    TD_CHECK_STR(fa->identity, "history-service");
    TD_CHECK_STR(fa->failure->message, "operator reset");
    TD_CHECK(fa->failure->reset_workflow_failure_info != NULL);
    TD_CHECK_STR(f.t.events[10]->workflow_execution_signaled_event_attributes->signal_name, "s2");
    TD_CHECK_INT(f.t.events[11]->workflow_task_scheduled_event_attributes->attempt, ==, 1);
    TD_CHECK_INT(f.t.events[9]->event_time->seconds, ==, f.now / TD_MS_SECOND);

    /* The rebuilt state. */
    TD_CHECK_STR(ms->run_id, NEWRUN);
    TD_CHECK_STR(ms->workflow_id, "wf-1");
    TD_CHECK_STR(ms->first_execution_run_id, RUN);
    TD_CHECK_STR(ms->start_request_id, "reset-req-1");
    TD_CHECK_INT(ms->state, ==, TD_MS_STATE_RUNNING);
    TD_CHECK_INT(ms->next_event_id, ==, 13);
    TD_CHECK_INT(ms->start_time, ==, f.now);
    TD_CHECK(ms->run_expiration == 0 || ms->run_expiration >= f.now);
    TD_CHECK_INT(ms->previous_started_event_id, ==, 3);
    TD_CHECK_INT(ms->wft.scheduled_id, ==, 12);
    TD_CHECK_INT(ms->wft.started_id, ==, 0);
    TD_CHECK(ms->sticky_task_queue == NULL);
    TD_CHECK_INT(ms->n_activities, ==, 1);
    TD_CHECK_STR(ms->activities[0].activity_id, "a1");
    TD_CHECK_INT(ms->activities[0].scheduled_id, ==, 5);
    TD_CHECK_INT(ms->activities[0].attempt, ==, 1);
    TD_CHECK_INT(ms->activities[0].start_to_close, ==, SEC(10));
    TD_CHECK_INT(ms->activities[0].retry.maximum_attempts, ==, 3);
    TD_CHECK_INT(ms->activities[0].scheduled_time, ==, f.now);
    TD_CHECK_INT(ms->n_timers, ==, 1);
    TD_CHECK_STR(ms->timers[0].timer_id, "t1");
    TD_CHECK_INT(ms->timers[0].started_id, ==, 6);
    TD_CHECK_INT(ms->timers[0].expiry_time, ==,
                 h.v[5]->event_time->seconds * TD_MS_SECOND + SEC(60));
    TD_CHECK_INT(ms->history_size_bytes, >, 0);
    TD_CHECK_INT(ms->original_start_time, ==, T0);
    TD_CHECK_INT(ms->last_reset_time, ==, f.now);
    TD_CHECK(ms->reset_run_id == NULL);

    /* Tasks: the activity again, the timer, the new workflow task, visibility. */
    task = fx_task(&f, TD_MS_TASK_ACTIVITY_TASK);
    TD_CHECK(task != NULL);
    TD_CHECK_INT(task->event_id, ==, 5);
    TD_CHECK_STR(task->task_queue, "tq");
    task = fx_task(&f, TD_MS_TASK_USER_TIMER);
    TD_CHECK(task != NULL);
    TD_CHECK_INT(task->event_id, ==, 6);
    TD_CHECK_INT(task->fire_time, ==, ms->timers[0].expiry_time);
    task = fx_task(&f, TD_MS_TASK_WORKFLOW_TASK);
    TD_CHECK(task != NULL);
    TD_CHECK_INT(task->event_id, ==, 12);
    TD_CHECK_INT(count_tasks(&f, TD_MS_TASK_VIS_START), ==, 1);
    TD_CHECK_INT(count_tasks(&f, TD_MS_TASK_WFT_TIMEOUT), ==, 0);

    /* The reapplied signal's request id is known: the same signal again is a duplicate. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_signal(ms, &f.t, "s2", NULL, "client", NULL, "r2"), ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK_INT(td_ms_signal(ms, &f.t, "s1", NULL, "client", NULL, "r1"), ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);

    /* The state persists like any other. */
    TD_CHECK_INT(td_ms_encode(ms, &f.arena, &buf, &len), ==, TD_OK);
    TD_CHECK_INT(td_ms_decode(buf, len, &back), ==, TD_OK);
    TD_CHECK_INT(back->n_activities, ==, 1);
    TD_CHECK_INT(back->wft.scheduled_id, ==, 12);
    TD_CHECK_INT(back->original_start_time, ==, T0);
    TD_CHECK_INT(back->last_reset_time, ==, ms->last_reset_time);
    TD_CHECK(back->reset_run_id == NULL);
    td_ms_free(back);
    td_ms_free(ms);
    td_free(h.v);
    fx_free(&f);
}

/* The base run records the newest run a reset created, durably; a reset of the reset run keeps
 * the first start time as original_start_time and has its own reset time. */
TD_TEST(history_ms_reset_base_link_and_original_start)
{
    fx_t f;
    hist_t h = { 0 }, h2 = { 0 };
    td_ms_reset_t r;
    td_ms_t *ms = NULL, *ms2 = NULL, *back = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;

    fx_init(&f);
    base_history(&f, &h);
    TD_CHECK_INT(f.ms->original_start_time, ==, 0); /* never reset: describe uses start_time */
    TD_CHECK_INT(f.ms->last_reset_time, ==, 0);
    TD_CHECK(f.ms->reset_run_id == NULL);
    td_ms_reset_mark_base(f.ms, "11111111-0000-4000-8000-000000000001");
    td_ms_reset_mark_base(f.ms, NEWRUN);
    TD_CHECK_STR(f.ms->reset_run_id, NEWRUN);
    TD_CHECK_INT(td_ms_encode(f.ms, &f.arena, &buf, &len), ==, TD_OK);
    TD_CHECK_INT(td_ms_decode(buf, len, &back), ==, TD_OK);
    TD_CHECK_STR(back->reset_run_id, NEWRUN);
    td_ms_free(back);

    r = reset_in(&h, 4);
    fx_txn(&f, SEC(30));
    TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms), ==, TD_OK);
    TD_CHECK_INT(ms->last_reset_time, ==, f.now);
    collect(&f, &h2); /* the reset run's history: 1 2 3 WFTFailed Signaled Signaled WFTScheduled */
    TD_CHECK_INT(h2.n, ==, 7);

    r = reset_in(&h2, 4);
    r.base_run_id = NEWRUN;
    r.new_run_id = "22222222-0000-4000-8000-000000000002";
    r.request_id = "reset-req-2";
    fx_txn(&f, SEC(60));
    TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms2), ==, TD_OK);
    TD_CHECK_INT(ms2->start_time, ==, f.now);
    TD_CHECK_INT(ms2->original_start_time, ==, T0);
    TD_CHECK_INT(ms2->last_reset_time, ==, f.now);
    TD_CHECK_INT(ms2->last_reset_time, >, ms->last_reset_time);
    td_ms_free(ms2);
    td_ms_free(ms);
    td_free(h2.v);
    td_free(h.v);
    fx_free(&f);
}

TD_TEST(history_ms_reset_to_started_event_and_no_reapply)
{
    fx_t f;
    hist_t h = { 0 };
    td_ms_reset_t r;
    td_ms_t *ms = NULL;

    fx_init(&f);
    base_history(&f, &h);
    r = reset_in(&h, 3);
    r.exclude_signals = 1;
    fx_txn(&f, SEC(5));
    TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms), ==, TD_OK);
    fx_check_events(&f, 1, 5, ET(WORKFLOW_EXECUTION_STARTED), ET(WORKFLOW_TASK_SCHEDULED),
                    ET(WORKFLOW_TASK_STARTED), ET(WORKFLOW_TASK_FAILED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_STR(f.t.events[2]->workflow_task_started_event_attributes->identity,
                 "history-service");
    TD_CHECK_INT(f.t.events[2]->workflow_task_started_event_attributes->scheduled_event_id, ==, 2);
    TD_CHECK_INT(f.t.events[3]->workflow_task_failed_event_attributes->started_event_id, ==, 3);
    TD_CHECK_INT(ms->n_activities, ==, 0);
    TD_CHECK_INT(ms->n_timers, ==, 0);
    TD_CHECK_INT(ms->previous_started_event_id, ==, 0);
    TD_CHECK_INT(ms->wft.scheduled_id, ==, 5);
    td_ms_free(ms);

    /* Reapply on: all signals past event 2 come back, in order. */
    r = reset_in(&h, 3);
    fx_txn(&f, SEC(5));
    TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms), ==, TD_OK);
    fx_check_events(&f, 1, 7, ET(WORKFLOW_EXECUTION_STARTED), ET(WORKFLOW_TASK_SCHEDULED),
                    ET(WORKFLOW_TASK_STARTED), ET(WORKFLOW_TASK_FAILED),
                    ET(WORKFLOW_EXECUTION_SIGNALED), ET(WORKFLOW_EXECUTION_SIGNALED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_STR(f.t.events[4]->workflow_execution_signaled_event_attributes->signal_name, "s1");
    TD_CHECK_STR(f.t.events[5]->workflow_execution_signaled_event_attributes->signal_name, "s2");
    td_ms_free(ms);
    td_free(h.v);
    fx_free(&f);
}

TD_TEST(history_ms_reset_rejections)
{
    fx_t f;
    hist_t h = { 0 };
    td_ms_reset_t r;
    td_ms_t *ms = NULL;
    td_ms_event_t odd;

    fx_init(&f);
    base_history(&f, &h);
    for (int64_t bad = -1; bad <= 13; bad++) {
        if (bad >= 2 && bad <= 12) {
            continue;
        }
        r = reset_in(&h, bad);
        fx_txn(&f, 0);
        TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms), ==, TD_EINVAL);
        TD_CHECK(ms == NULL);
        TD_CHECK_CONTAINS(f.t.msg, "finish ID must be > 1");
    }
    /* 6: event 5 (ActivityTaskScheduled) leaves no workflow task pending; 5, 7, 8 neither. */
    for (int64_t bad = 5; bad <= 8; bad++) {
        r = reset_in(&h, bad);
        fx_txn(&f, 0);
        TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms), ==, TD_EINVAL);
        TD_CHECK_CONTAINS(f.t.msg, "Can only reset workflow to event ID in range");
        TD_CHECK_INT(f.t.n_tasks, ==, 0);
    }
    /* Accepted: the finish of a task (4, 10) or its Started event id (3, 9): Temporal's range
     * [WorkflowTaskScheduled + 1, WorkflowTaskStarted + 1]. */
    for (int64_t id = 2; id <= 12; id++) {
        int ok = id == 3 || id == 4 || id == 9 || id == 10;
        r = reset_in(&h, id);
        fx_txn(&f, 0);
        TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms), ==, ok ? TD_OK : TD_EINVAL);
        td_ms_free(ms);
        ms = NULL;
    }
    /* An event temporald cannot replay (an update) inside the prefix. */
    odd = *h.v[6];
    odd.event_type = ET(WORKFLOW_EXECUTION_UPDATE_ADMITTED);
    h.v[6] = &odd;
    r = reset_in(&h, 10);
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms), ==, TD_EUNIMPL);
    TD_CHECK_CONTAINS(f.t.msg, "cannot be replayed");
    TD_CHECK(ms == NULL);
    td_free(h.v);
    fx_free(&f);
}

/* The new run keeps the children pending at the reset point: their starts and outcomes past
 * it are written again; one never started is refused; the base's termination leaves the kept
 * children alone (no PARENT_CLOSE_POLICY task for them). */
TD_TEST(history_ms_reset_pending_children)
{
    fx_t f;
    hist_t h = { 0 };
    td_ms_reset_t r;
    td_ms_t *ms = NULL;
    td_ms_event_t ce = TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__INIT;
    Temporal__Api__History__V1__WorkflowExecutionCompletedEventAttributes ca =
            TEMPORAL__API__HISTORY__V1__WORKFLOW_EXECUTION_COMPLETED_EVENT_ATTRIBUTES__INIT;
    const td_ms_child_t *ci;

    fx_init(&f);
    fx_start(&f);
    collect(&f, &h);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    collect(&f, &h);
    fx_txn(&f, SEC(1));
    f.t.caps = TD_MS_CAP_CHILD;
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_child(&f, "kid-1", 0)), NULL), ==,
                 TD_OK);
    collect(&f, &h);
    send_signal(&f, &h, "s1", "r1");
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    collect(&f, &h);
    /* 1 Started 2 Sched 3 Started 4 Completed 5 ChildInitiated 6 Signaled 7 Sched 8 Started */
    TD_CHECK_INT(h.n, ==, 8);
    r = reset_in(&h, 8);
    r.n_base_tail = r.n_reapply;
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms), ==, TD_EUNIMPL);
    TD_CHECK(ms == NULL);
    TD_CHECK_CONTAINS(f.t.msg, "kid-1 (initiated by event 5) is not started");
    /* Before the child was initiated: no child. */
    r = reset_in(&h, 4);
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms), ==, TD_OK);
    TD_CHECK_INT(ms->n_children, ==, 0);
    td_ms_free(ms);
    ms = NULL;

    /* 9 Completed, 10 ChildStarted, 11 Sched, 12 Started, 13 Completed, 14 Signaled s2,
     * 15 Sched */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 0), NULL), ==, TD_OK);
    collect(&f, &h);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_child_started(f.ms, &f.t, 5, "kid-run-1", NULL), ==, TD_OK);
    collect(&f, &h);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    collect(&f, &h);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 0), NULL), ==, TD_OK);
    collect(&f, &h);
    send_signal(&f, &h, "s2", "r2");
    TD_CHECK_INT(h.n, ==, 15);
    TD_CHECK_INT(h.v[9]->event_type, ==, ET(CHILD_WORKFLOW_EXECUTION_STARTED));

    /* Reset to the task that was running when the child was initiated: its start is reapplied
     * (in order with the signal), the child is the new run's, started. */
    r = reset_in(&h, 9);
    r.n_base_tail = r.n_reapply;
    fx_txn(&f, SEC(10));
    TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms), ==, TD_OK);
    fx_check_events(&f, 1, 12, ET(WORKFLOW_EXECUTION_STARTED), ET(WORKFLOW_TASK_SCHEDULED),
                    ET(WORKFLOW_TASK_STARTED), ET(WORKFLOW_TASK_COMPLETED),
                    ET(START_CHILD_WORKFLOW_EXECUTION_INITIATED), ET(WORKFLOW_EXECUTION_SIGNALED),
                    ET(WORKFLOW_TASK_SCHEDULED), ET(WORKFLOW_TASK_STARTED),
                    ET(WORKFLOW_TASK_FAILED), ET(CHILD_WORKFLOW_EXECUTION_STARTED),
                    ET(WORKFLOW_EXECUTION_SIGNALED), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(
            f.t.events[9]->child_workflow_execution_started_event_attributes->initiated_event_id,
            ==, 5);
    TD_CHECK_INT(ms->n_children, ==, 1);
    ci = td_ms_child_find(ms, 5);
    TD_CHECK(ci != NULL && ci->started);
    TD_CHECK_INT(ci->started_id, ==, 10);
    TD_CHECK_STR(ci->run_id, "kid-run-1");
    TD_CHECK_INT(count_tasks(&f, TD_MS_TASK_START_CHILD), ==, 0);
    /* Without the base's own events (n_base_tail 0: they came from a later run) the start is
     * not reapplied and the reset is refused. */
    r.n_base_tail = 0;
    {
        td_ms_t *no = NULL;
        fx_txn(&f, 0);
        TD_CHECK_INT(td_ms_reset(&f.t, &r, &no), ==, TD_EUNIMPL);
        TD_CHECK(no == NULL);
    }

    /* The base run terminated by the reset: its PARENT_CLOSE_POLICY task for kid-1 is dropped,
     * since the new run keeps the child. */
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_terminate(f.ms, &f.t, "reset", NULL, "history-resetter"), ==, TD_OK);
    TD_CHECK_INT(count_tasks(&f, TD_MS_TASK_PARENT_CLOSE_POLICY), ==, 1);
    td_ms_reset_keep_children(&f.t, ms);
    TD_CHECK_INT(count_tasks(&f, TD_MS_TASK_PARENT_CLOSE_POLICY), ==, 0);
    TD_CHECK_INT(count_tasks(&f, TD_MS_TASK_VIS_CLOSE), ==, 1);
    td_ms_free(ms);
    ms = NULL;
    td_free(h.v);
    fx_free(&f);

    /* A child that completed past the reset point: its outcome is reapplied, naming the new
     * run's Started event, and the new run no longer waits for it. */
    fx_init(&f);
    memset(&h, 0, sizeof(h));
    fx_start(&f);
    collect(&f, &h);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    collect(&f, &h);
    fx_txn(&f, SEC(1));
    f.t.caps = TD_MS_CAP_CHILD;
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_child(&f, "kid-2", 0)), NULL), ==,
                 TD_OK);
    collect(&f, &h); /* 1..5: ChildInitiated 5 */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_child_started(f.ms, &f.t, 5, "kid-run-2", NULL), ==, TD_OK);
    collect(&f, &h); /* 6 ChildStarted, 7 Sched */
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    collect(&f, &h); /* 8 Started */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 0), NULL), ==, TD_OK);
    collect(&f, &h); /* 9 Completed */
    ce.event_id = 3;
    ce.event_type = ET(WORKFLOW_EXECUTION_COMPLETED);
    ce.attributes_case =
            TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_WORKFLOW_EXECUTION_COMPLETED_EVENT_ATTRIBUTES;
    ce.workflow_execution_completed_event_attributes = &ca;
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_child_closed(f.ms, &f.t, 5, "kid-run-2", &ce), ==, TD_OK);
    collect(&f, &h); /* 10 ChildCompleted, 11 Sched */
    TD_CHECK_INT(h.n, ==, 11);
    TD_CHECK_INT(h.v[9]->event_type, ==, ET(CHILD_WORKFLOW_EXECUTION_COMPLETED));
    /* Reset to 9 (the task after the start): prefix 1..8 has the child started (6). */
    r = reset_in(&h, 9);
    r.n_base_tail = r.n_reapply;
    fx_txn(&f, SEC(10));
    TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms), ==, TD_OK);
    fx_check_events(&f, 1, 11, ET(WORKFLOW_EXECUTION_STARTED), ET(WORKFLOW_TASK_SCHEDULED),
                    ET(WORKFLOW_TASK_STARTED), ET(WORKFLOW_TASK_COMPLETED),
                    ET(START_CHILD_WORKFLOW_EXECUTION_INITIATED),
                    ET(CHILD_WORKFLOW_EXECUTION_STARTED), ET(WORKFLOW_TASK_SCHEDULED),
                    ET(WORKFLOW_TASK_STARTED), ET(WORKFLOW_TASK_FAILED),
                    ET(CHILD_WORKFLOW_EXECUTION_COMPLETED), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(
            f.t.events[9]->child_workflow_execution_completed_event_attributes->started_event_id,
            ==, 6);
    TD_CHECK_INT(ms->n_children, ==, 0);
    td_ms_free(ms);
    td_free(h.v);
    fx_free(&f);
}

/* A synthetic event `id` of `type` at f->now (attributes set by the caller). */
static td_ms_event_t *synth(fx_t *f, hist_t *h, int64_t id)
{
    td_ms_event_t *e = td_arena_alloc(&f->arena, sizeof(*e));
    temporal__api__history__v1__history_event__init(e);
    e->event_id = id;
    e->event_time = td_arena_alloc(&f->arena, sizeof(*e->event_time));
    google__protobuf__timestamp__init(e->event_time);
    e->event_time->seconds = f->now / TD_MS_SECOND;
    TD_CHECK_INT(id, ==, (int64_t)h->n + 1);
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 32;
        h->v = td_realloc(h->v, h->cap * sizeof(*h->v));
    }
    h->v[h->n++] = e;
    return e;
}

TD_TEST(history_ms_reset_replays_accepted_updates)
{
    fx_t f;
    hist_t h = { 0 };
    td_ms_reset_t r;
    td_ms_t *ms = NULL;
    td_ms_event_t *e;
    Temporal__Api__History__V1__WorkflowExecutionUpdateAcceptedEventAttributes *acc;
    Temporal__Api__History__V1__WorkflowExecutionUpdateCompletedEventAttributes *done;
    Temporal__Api__History__V1__WorkflowTaskScheduledEventAttributes *ws;
    Temporal__Api__History__V1__WorkflowTaskStartedEventAttributes *wst;

    fx_init(&f);
    fx_start(&f);
    collect(&f, &h);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    collect(&f, &h);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 0), NULL), ==, TD_OK);
    collect(&f, &h);
    /* 5 Accepted(u1) 6 Completed(u1) 7 Accepted(u2) 8 WFTScheduled 9 WFTStarted */
    for (int i = 0; i < 2; i++) {
        e = synth(&f, &h, i == 0 ? 5 : 7);
        e->event_type = ET(WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
        e->attributes_case =
                TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_WORKFLOW_EXECUTION_UPDATE_ACCEPTED_EVENT_ATTRIBUTES;
        acc = td_arena_alloc(&f.arena, sizeof(*acc));
        temporal__api__history__v1__workflow_execution_update_accepted_event_attributes__init(acc);
        acc->protocol_instance_id = (char *)(i == 0 ? "u1" : "u2");
        e->workflow_execution_update_accepted_event_attributes = acc;
        if (i == 0) {
            e = synth(&f, &h, 6);
            e->event_type = ET(WORKFLOW_EXECUTION_UPDATE_COMPLETED);
            e->attributes_case =
                    TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_WORKFLOW_EXECUTION_UPDATE_COMPLETED_EVENT_ATTRIBUTES;
            done = td_arena_alloc(&f.arena, sizeof(*done));
            temporal__api__history__v1__workflow_execution_update_completed_event_attributes__init(
                    done);
            done->accepted_event_id = 5;
            done->meta = td_arena_alloc(&f.arena, sizeof(*done->meta));
            temporal__api__update__v1__meta__init(done->meta);
            done->meta->update_id = (char *)"u1";
            e->workflow_execution_update_completed_event_attributes = done;
        }
    }
    e = synth(&f, &h, 8);
    e->event_type = ET(WORKFLOW_TASK_SCHEDULED);
    e->attributes_case =
            TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_WORKFLOW_TASK_SCHEDULED_EVENT_ATTRIBUTES;
    ws = td_arena_alloc(&f.arena, sizeof(*ws));
    temporal__api__history__v1__workflow_task_scheduled_event_attributes__init(ws);
    ws->attempt = 1;
    e->workflow_task_scheduled_event_attributes = ws;
    e = synth(&f, &h, 9);
    e->event_type = ET(WORKFLOW_TASK_STARTED);
    e->attributes_case =
            TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_WORKFLOW_TASK_STARTED_EVENT_ATTRIBUTES;
    wst = td_arena_alloc(&f.arena, sizeof(*wst));
    temporal__api__history__v1__workflow_task_started_event_attributes__init(wst);
    wst->scheduled_event_id = 8;
    e->workflow_task_started_event_attributes = wst;

    r = reset_in(&h, 9);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_reset(&f.t, &r, &ms), ==, TD_OK);
    TD_CHECK_INT(ms->n_updates, ==, 2);
    TD_CHECK(td_ms_update_find(ms, "u1") != NULL);
    TD_CHECK_INT(td_ms_update_find(ms, "u1")->accepted_id, ==, 5);
    TD_CHECK_INT(td_ms_update_find(ms, "u1")->completed_id, ==, 6);
    TD_CHECK_INT(td_ms_update_find(ms, "u2")->completed_id, ==, 0);
    TD_CHECK_INT(td_ms_update_inflight(ms), ==, 1);
    /* 1..8 copied, WorkflowTaskStarted (history-service), WorkflowTaskFailed, Scheduled */
    TD_CHECK_INT(f.t.n_events, ==, 11);
    TD_CHECK_INT(f.t.events[9]->event_type, ==, ET(WORKFLOW_TASK_FAILED));
    td_ms_free(ms);
    td_free(h.v);
    fx_free(&f);
}
