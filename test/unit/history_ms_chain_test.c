/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutable state, run chains: continue-as-new, workflow retry (FailWorkflowExecution and run
 * timeout) and cron, each as the closing run's events plus td_ms_start_next's new run; the
 * retry backoff computation; the behaviour without txn->new_run_id (no follow-up runs).
 */
#include "history_ms_fixture.h"

#include "error.h"
#include "mem.h"

#define EV_ATTR(e, lower) ((e)->lower##_event_attributes)
#define INIT(x)           TEMPORAL__API__ENUMS__V1__CONTINUE_AS_NEW_INITIATOR__CONTINUE_AS_NEW_INITIATOR_##x
#define WS(x)             TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_##x
#define RUN2              "4d6f1b4c-0000-4000-8000-0000000000bb"
#define RUN3              "5e7a2c5d-0000-4000-8000-0000000000cc"

typedef Temporal__Api__History__V1__WorkflowExecutionStartedEventAttributes started_t;
typedef Temporal__Api__Failure__V1__Failure failure_t;

static void *tnew(fx_t *f, const ProtobufCMessageDescriptor *d)
{
    void *m = td_arena_alloc(&f->arena, d->sizeof_message);
    d->message_init(m);
    return m;
}

static Google__Protobuf__Duration *tdur(fx_t *f, int64_t ns)
{
    Google__Protobuf__Duration *d = tnew(f, &google__protobuf__duration__descriptor);
    d->seconds = ns / TD_MS_SECOND;
    d->nanos = (int32_t)(ns % TD_MS_SECOND);
    return d;
}

static int64_t dur_ns(const Google__Protobuf__Duration *d)
{
    return d ? d->seconds * TD_MS_SECOND + d->nanos : 0;
}

static Temporal__Api__Common__V1__RetryPolicy *policy(fx_t *f, int64_t initial, double coeff,
                                                      int64_t max, int32_t attempts)
{
    Temporal__Api__Common__V1__RetryPolicy *p =
            tnew(f, &temporal__api__common__v1__retry_policy__descriptor);
    p->initial_interval = initial ? tdur(f, initial) : NULL;
    p->backoff_coefficient = coeff;
    p->maximum_interval = max ? tdur(f, max) : NULL;
    p->maximum_attempts = attempts;
    return p;
}

static failure_t *app_failure(fx_t *f, const char *type, int non_retryable)
{
    failure_t *x = tnew(f, &temporal__api__failure__v1__failure__descriptor);
    x->message = (char *)"boom";
    x->failure_info_case =
            TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_APPLICATION_FAILURE_INFO;
    x->application_failure_info =
            tnew(f, &temporal__api__failure__v1__application_failure_info__descriptor);
    x->application_failure_info->type = (char *)type;
    x->application_failure_info->non_retryable = non_retryable;
    return x;
}


/* Starts run RUN with `req` (retry policy / cron set by the caller) and runs its first task. */
static void start_with(fx_t *f,
                       Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *r)
{
    fx_txn(f, 0);
    TD_CHECK_INT(td_ms_start(&f->t, r, NS, RUN, &f->ms), ==, TD_OK);
    if (f->ms->wft.scheduled_id != 0) {
        fx_txn(f, 0);
        fx_poll(f);
    }
}

/* Builds the run continuing f->ms (in txn t2) and checks it was created. */
static td_ms_t *next_run(fx_t *f, td_ms_txn_t *t2)
{
    td_ms_t *n = NULL;
    td_ms_txn_init(t2, &f->arena, f->now);
    t2->task_id = 99;
    TD_CHECK_INT(td_ms_start_next(f->ms, &f->t.next, t2, &n), ==, TD_OK);
    TD_CHECK(n != NULL);
    return n;
}

TD_TEST(history_ms_retry_backoff_computation)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *r;
    failure_t *tf;
    int64_t b;

    fx_init(&f);
    fx_start(&f);
    TD_CHECK_INT(td_ms_retry_backoff(f.ms, NULL, f.now, &b), ==, RS(RETRY_POLICY_NOT_SET));
    td_ms_free(f.ms);

    /* initial 1 s, coefficient 2, max 10 s, 5 attempts, execution timeout 1 h */
    r = fx_start_req(&f);
    r->retry_policy = policy(&f, SEC(1), 2.0, SEC(10), 5);
    r->retry_policy->n_non_retryable_error_types = 1;
    r->retry_policy->non_retryable_error_types = td_arena_alloc(&f.arena, sizeof(char *));
    r->retry_policy->non_retryable_error_types[0] = (char *)"Fatal";
    r->workflow_execution_timeout = tdur(&f, SEC(3600));
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_start(&f.t, r, NS, RUN, &f.ms), ==, TD_OK);
    for (int32_t attempt = 1; attempt <= 4; attempt++) {
        static const int64_t want[] = { 1, 2, 4, 8 };
        f.ms->attempt = attempt;
        TD_CHECK_INT(td_ms_retry_backoff(f.ms, app_failure(&f, "Oops", 0), f.now, &b), ==,
                     RS(IN_PROGRESS));
        TD_CHECK_INT(b, ==, SEC(want[attempt - 1]));
    }
    f.ms->attempt = 5;
    TD_CHECK_INT(td_ms_retry_backoff(f.ms, app_failure(&f, "Oops", 0), f.now, &b), ==,
                 RS(MAXIMUM_ATTEMPTS_REACHED));
    TD_CHECK_INT(b, ==, 0);
    /* capped at the maximum interval once attempts are unlimited */
    f.ms->retry_policy.maximum_attempts = 0;
    TD_CHECK_INT(td_ms_retry_backoff(f.ms, app_failure(&f, "Oops", 0), f.now, &b), ==,
                 RS(IN_PROGRESS));
    TD_CHECK_INT(b, ==, SEC(10));
    f.ms->attempt = 1;
    /* non-retryable: the flag, a listed type, canceled */
    TD_CHECK_INT(td_ms_retry_backoff(f.ms, app_failure(&f, "Oops", 1), f.now, &b), ==,
                 RS(NON_RETRYABLE_FAILURE));
    TD_CHECK_INT(td_ms_retry_backoff(f.ms, app_failure(&f, "Fatal", 0), f.now, &b), ==,
                 RS(NON_RETRYABLE_FAILURE));
    tf = tnew(&f, &temporal__api__failure__v1__failure__descriptor);
    tf->failure_info_case = TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_CANCELED_FAILURE_INFO;
    TD_CHECK_INT(td_ms_retry_backoff(f.ms, tf, f.now, &b), ==, RS(NON_RETRYABLE_FAILURE));
    /* next_retry_delay wins over the policy */
    tf = app_failure(&f, "Oops", 0);
    tf->application_failure_info->next_retry_delay = tdur(&f, SEC(7));
    TD_CHECK_INT(td_ms_retry_backoff(f.ms, tf, f.now, &b), ==, RS(IN_PROGRESS));
    TD_CHECK_INT(b, ==, SEC(7));
    /* a run timeout is retryable unless listed */
    tf = tnew(&f, &temporal__api__failure__v1__failure__descriptor);
    tf->failure_info_case = TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_TIMEOUT_FAILURE_INFO;
    tf->timeout_failure_info =
            tnew(&f, &temporal__api__failure__v1__timeout_failure_info__descriptor);
    tf->timeout_failure_info->timeout_type = TO(START_TO_CLOSE);
    TD_CHECK_INT(td_ms_retry_backoff(f.ms, tf, f.now, &b), ==, RS(IN_PROGRESS));
    td_free(f.ms->retry_policy.non_retryable_error_types[0]);
    f.ms->retry_policy.non_retryable_error_types[0] = td_strdup("TemporalTimeout:StartToClose");
    TD_CHECK_INT(td_ms_retry_backoff(f.ms, tf, f.now, &b), ==, RS(NON_RETRYABLE_FAILURE));
    /* a retry that would start after the execution expiration: TIMEOUT */
    TD_CHECK_INT(td_ms_retry_backoff(f.ms, NULL, f.ms->execution_expiration - SEC(1) + 1, &b), ==,
                 RS(TIMEOUT));
    /* defaults when the policy leaves values unset: 1 s, x2, 100 x initial */
    f.ms->retry_policy.initial_interval = 0;
    f.ms->retry_policy.backoff_coefficient = 0;
    f.ms->retry_policy.maximum_interval = 0;
    f.ms->attempt = 3;
    TD_CHECK_INT(td_ms_retry_backoff(f.ms, NULL, f.now, &b), ==, RS(IN_PROGRESS));
    TD_CHECK_INT(b, ==, SEC(4));
    f.ms->attempt = 20;
    TD_CHECK_INT(td_ms_retry_backoff(f.ms, NULL, f.now, &b), ==, RS(IN_PROGRESS));
    TD_CHECK_INT(b, ==, SEC(100));
    fx_free(&f);
}

TD_TEST(history_ms_continue_as_new)
{
    fx_t f;
    td_ms_txn_t t2;
    td_ms_t *n;
    const Temporal__Api__History__V1__WorkflowExecutionContinuedAsNewEventAttributes *c;
    const started_t *s;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req;

    fx_init(&f);
    start_with(&f, fx_start_req(&f));
    /* Without new_run_id the service cannot create the run: refused, state unchanged. */
    fx_txn(&f, SEC(1));
    req = fx_complete_req(&f, 1, fx_cmd_continue_as_new(&f, "\"next\""));
    TD_CHECK_INT(fx_complete(&f, req, NULL), ==, TD_EUNIMPL);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK_INT(f.ms->state, ==, TD_MS_STATE_RUNNING);

    fx_txn(&f, SEC(1));
    f.t.new_run_id = RUN2;
    TD_CHECK_INT(fx_complete(&f, req, NULL), ==, TD_OK);
    fx_check_events(&f, 4, 2, ET(WORKFLOW_TASK_COMPLETED), ET(WORKFLOW_EXECUTION_CONTINUED_AS_NEW));
    c = EV_ATTR(f.t.events[1], workflow_execution_continued_as_new);
    TD_CHECK_STR(c->new_execution_run_id, RUN2);
    TD_CHECK_STR(c->workflow_type->name, "Greet");
    TD_CHECK_STR(c->task_queue->name, "tq");
    TD_CHECK_INT(c->initiator, ==, INIT(WORKFLOW));
    TD_CHECK_INT(c->workflow_task_completed_event_id, ==, 4);
    TD_CHECK(c->input != NULL && c->input->n_payloads == 1);
    TD_CHECK_INT(f.ms->state, ==, TD_MS_STATE_COMPLETED);
    TD_CHECK_INT(f.ms->status, ==, WS(CONTINUED_AS_NEW));
    TD_CHECK_INT(f.ms->completion_event_id, ==, 5);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_CLOSE_EXECUTION) >= 0);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_NOTIFY_PARENT) < 0);
    TD_CHECK_INT(f.t.next.initiator, ==, INIT(WORKFLOW));
    TD_CHECK_STR(f.t.next.run_id, RUN2);

    n = next_run(&f, &t2);
    TD_CHECK_INT(t2.n_events, ==, 2);
    TD_CHECK_INT(t2.events[0]->event_id, ==, 1);
    TD_CHECK_INT(t2.events[0]->event_type, ==, ET(WORKFLOW_EXECUTION_STARTED));
    TD_CHECK_INT(t2.events[1]->event_type, ==, ET(WORKFLOW_TASK_SCHEDULED));
    s = EV_ATTR(t2.events[0], workflow_execution_started);
    TD_CHECK_STR(s->continued_execution_run_id, RUN);
    TD_CHECK_STR(s->original_execution_run_id, RUN2);
    TD_CHECK_STR(s->first_execution_run_id, RUN);
    TD_CHECK_INT(s->initiator, ==, INIT(WORKFLOW));
    TD_CHECK_INT(s->attempt, ==, 1);
    TD_CHECK_STR(s->workflow_type->name, "Greet");
    TD_CHECK_STR(s->task_queue->name, "tq");
    TD_CHECK_INT(s->input->payloads[0]->data.len, ==, 6); /* "next" */
    TD_CHECK(s->first_workflow_task_backoff == NULL);
    TD_CHECK_STR(n->run_id, RUN2);
    TD_CHECK_STR(n->workflow_id, "wf-1");
    TD_CHECK_STR(n->first_execution_run_id, RUN);
    TD_CHECK_INT(n->state, ==, TD_MS_STATE_RUNNING);
    TD_CHECK_INT(n->wft.scheduled_id, ==, 2);
    TD_CHECK_INT(t2.tasks[0].type, ==, TD_MS_TASK_WORKFLOW_TASK);
    td_ms_free(n);
    fx_free(&f);
}

TD_TEST(history_ms_continue_as_new_backoff_and_unhandled)
{
    fx_t f;
    td_ms_txn_t t2;
    td_ms_t *n;
    fx_cmd_t *c;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req;

    fx_init(&f);
    start_with(&f, fx_start_req(&f));
    /* a signal while the task runs: continue-as-new is an UnhandledCommand */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "sig", NULL, "c", NULL, "s-1"), ==, TD_OK);
    fx_txn(&f, SEC(1));
    f.t.new_run_id = RUN2;
    c = fx_cmd_continue_as_new(&f, "\"x\"");
    c->continue_as_new_workflow_execution_command_attributes->backoff_start_interval =
            tdur(&f, SEC(30));
    c->continue_as_new_workflow_execution_command_attributes->task_queue =
            tnew(&f, &temporal__api__taskqueue__v1__task_queue__descriptor);
    c->continue_as_new_workflow_execution_command_attributes->task_queue->name = (char *)"tq2";
    req = fx_complete_req(&f, 1, c);
    TD_CHECK_INT(fx_complete(&f, req, NULL), ==, TD_EINVAL);
    TD_CHECK_INT(f.t.cause, ==, CAUSE(UNHANDLED_COMMAND));
    TD_CHECK_INT(f.t.next.initiator, ==, 0);
    TD_CHECK_INT(f.ms->state, ==, TD_MS_STATE_RUNNING);
    /* next task: the command goes through, with a start backoff and another queue */
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    f.t.new_run_id = RUN2;
    TD_CHECK_INT(fx_complete(&f, req, NULL), ==, TD_OK);
    TD_CHECK_INT(f.t.next.backoff, ==, SEC(30));
    n = next_run(&f, &t2);
    TD_CHECK_INT(t2.n_events, ==, 1); /* first task after the backoff */
    TD_CHECK_INT(dur_ns(t2.events[0]
                                ->workflow_execution_started_event_attributes
                                ->first_workflow_task_backoff),
                 ==, SEC(30));
    TD_CHECK_STR(n->task_queue, "tq2");
    TD_CHECK_INT(t2.tasks[0].type, ==, TD_MS_TASK_WORKFLOW_BACKOFF);
    TD_CHECK_INT(t2.tasks[0].fire_time, ==, f.now + SEC(30));
    td_ms_free(n);
    fx_free(&f);
}

TD_TEST(history_ms_retry_on_fail_chain)
{
    fx_t f;
    td_ms_txn_t t2;
    td_ms_t *n, *n2;
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *r;
    const Temporal__Api__History__V1__WorkflowExecutionFailedEventAttributes *fa;
    const started_t *s;
    uint8_t *buf;
    size_t len;

    fx_init(&f);
    r = fx_start_req(&f);
    r->retry_policy = policy(&f, SEC(2), 3.0, 0, 3);
    start_with(&f, r);
    TD_CHECK(f.ms->start_attrs.data != NULL);
    fx_txn(&f, SEC(1));
    f.t.new_run_id = RUN2;
    TD_CHECK_INT(fx_complete(&f,
                             fx_complete_req(&f, 1, fx_cmd_fail(&f, app_failure(&f, "Oops", 0))),
                             NULL),
                 ==, TD_OK);
    fx_check_events(&f, 4, 2, ET(WORKFLOW_TASK_COMPLETED), ET(WORKFLOW_EXECUTION_FAILED));
    fa = EV_ATTR(f.t.events[1], workflow_execution_failed);
    TD_CHECK_INT(fa->retry_state, ==, RS(IN_PROGRESS));
    TD_CHECK_STR(fa->new_execution_run_id, RUN2);
    TD_CHECK_INT(f.ms->status, ==, WS(FAILED));
    TD_CHECK_INT(f.t.next.initiator, ==, INIT(RETRY));
    TD_CHECK_INT(f.t.next.backoff, ==, SEC(2));

    n = next_run(&f, &t2);
    TD_CHECK_INT(t2.n_events, ==, 1);
    s = EV_ATTR(t2.events[0], workflow_execution_started);
    TD_CHECK_INT(s->attempt, ==, 2);
    TD_CHECK_INT(s->initiator, ==, INIT(RETRY));
    TD_CHECK_STR(s->continued_execution_run_id, RUN);
    TD_CHECK_STR(s->first_execution_run_id, RUN);
    TD_CHECK(s->continued_failure != NULL);
    TD_CHECK_STR(s->continued_failure->message, "boom");
    TD_CHECK_INT(dur_ns(s->first_workflow_task_backoff), ==, SEC(2));
    TD_CHECK(s->input != NULL && s->input->n_payloads == 1); /* the first run's input again */
    TD_CHECK_INT(s->input->payloads[0]->data.len, ==, 7);    /* "world" */
    TD_CHECK(s->retry_policy != NULL);
    TD_CHECK_INT(s->retry_policy->maximum_attempts, ==, 3);
    TD_CHECK_INT(n->attempt, ==, 2);
    TD_CHECK_INT(t2.tasks[0].type, ==, TD_MS_TASK_WORKFLOW_BACKOFF);

    /* The new run survives a store round trip and fails again: attempt 3, then the end. */
    TD_CHECK_INT(td_ms_encode(n, &f.arena, &buf, &len), ==, TD_OK);
    td_ms_free(n);
    TD_CHECK_INT(td_ms_decode(buf, len, &n), ==, TD_OK);
    td_ms_free(f.ms);
    f.ms = n;
    fx_txn(&f, SEC(2));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &t2.tasks[0]), ==, TD_OK);
    fx_check_events(&f, 2, 1, ET(WORKFLOW_TASK_SCHEDULED));
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    f.t.new_run_id = RUN3;
    TD_CHECK_INT(fx_complete(&f,
                             fx_complete_req(&f, 1, fx_cmd_fail(&f, app_failure(&f, "Oops", 0))),
                             NULL),
                 ==, TD_OK);
    TD_CHECK_INT(f.t.next.backoff, ==, SEC(6)); /* 2 s x 3 */
    n2 = next_run(&f, &t2);
    TD_CHECK_INT(n2->attempt, ==, 3);
    TD_CHECK_STR(n2->first_execution_run_id, RUN);
    td_ms_free(f.ms);
    f.ms = n2;
    fx_txn(&f, SEC(6));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &t2.tasks[0]), ==, TD_OK);
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    f.t.new_run_id = "unused";
    TD_CHECK_INT(fx_complete(&f,
                             fx_complete_req(&f, 1, fx_cmd_fail(&f, app_failure(&f, "Oops", 0))),
                             NULL),
                 ==, TD_OK);
    fa = EV_ATTR(f.t.events[1], workflow_execution_failed);
    TD_CHECK_INT(fa->retry_state, ==, RS(MAXIMUM_ATTEMPTS_REACHED));
    TD_CHECK(fa->new_execution_run_id == NULL || fa->new_execution_run_id[0] == '\0');
    TD_CHECK_INT(f.t.next.initiator, ==, 0);
    fx_free(&f);
}

TD_TEST(history_ms_retry_not_wired_or_not_retryable)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *r;
    const Temporal__Api__History__V1__WorkflowExecutionFailedEventAttributes *fa;

    /* The service gives no new run id: the run fails for good, as before retries existed. */
    fx_init(&f);
    r = fx_start_req(&f);
    r->retry_policy = policy(&f, SEC(1), 2.0, 0, 0);
    start_with(&f, r);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(fx_complete(&f,
                             fx_complete_req(&f, 1, fx_cmd_fail(&f, app_failure(&f, "Oops", 0))),
                             NULL),
                 ==, TD_OK);
    fa = EV_ATTR(f.t.events[1], workflow_execution_failed);
    TD_CHECK_INT(fa->retry_state, ==, RS(RETRY_POLICY_NOT_SET));
    TD_CHECK_INT(f.t.next.initiator, ==, 0);
    fx_free(&f);

    /* A non-retryable failure ends the chain even when the service could continue it. */
    fx_init(&f);
    r = fx_start_req(&f);
    r->retry_policy = policy(&f, SEC(1), 2.0, 0, 0);
    start_with(&f, r);
    fx_txn(&f, SEC(1));
    f.t.new_run_id = RUN2;
    TD_CHECK_INT(fx_complete(&f,
                             fx_complete_req(&f, 1, fx_cmd_fail(&f, app_failure(&f, "Oops", 1))),
                             NULL),
                 ==, TD_OK);
    fa = EV_ATTR(f.t.events[1], workflow_execution_failed);
    TD_CHECK_INT(fa->retry_state, ==, RS(NON_RETRYABLE_FAILURE));
    TD_CHECK_INT(f.t.next.initiator, ==, 0);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_CLOSE_EXECUTION) >= 0);
    fx_free(&f);
}

TD_TEST(history_ms_retry_on_run_timeout)
{
    fx_t f;
    td_ms_txn_t t2;
    td_ms_t *n;
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *r;
    const Temporal__Api__History__V1__WorkflowExecutionTimedOutEventAttributes *ta;
    const started_t *s;
    td_ms_task_t rt;

    fx_init(&f);
    r = fx_start_req(&f);
    r->retry_policy = policy(&f, SEC(5), 2.0, 0, 2);
    r->workflow_run_timeout = tdur(&f, SEC(60));
    start_with(&f, r);
    rt = *fx_task(&f, TD_MS_TASK_WFT_TIMEOUT);
    rt.type = TD_MS_TASK_RUN_TIMEOUT;
    fx_txn(&f, SEC(60));
    f.t.new_run_id = RUN2;
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &rt), ==, TD_OK);
    /* the started task is failed first, then the run times out */
    fx_check_events(&f, 4, 2, ET(WORKFLOW_TASK_FAILED), ET(WORKFLOW_EXECUTION_TIMED_OUT));
    ta = EV_ATTR(f.t.events[1], workflow_execution_timed_out);
    TD_CHECK_INT(ta->retry_state, ==, RS(IN_PROGRESS));
    TD_CHECK_STR(ta->new_execution_run_id, RUN2);
    TD_CHECK_INT(f.ms->status, ==, WS(TIMED_OUT));
    n = next_run(&f, &t2);
    s = EV_ATTR(t2.events[0], workflow_execution_started);
    TD_CHECK_INT(s->attempt, ==, 2);
    TD_CHECK(s->continued_failure != NULL);
    TD_CHECK_INT(s->continued_failure->failure_info_case, ==,
                 TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_TIMEOUT_FAILURE_INFO);
    TD_CHECK_INT(dur_ns(s->workflow_run_timeout), ==, SEC(60));
    TD_CHECK_INT(n->run_expiration, ==, f.now + SEC(5) + SEC(60));
    td_ms_free(n);

    /* Without a new run id: final, retry_state TIMEOUT as before. */
    fx_free(&f);
    fx_init(&f);
    r = fx_start_req(&f);
    r->retry_policy = policy(&f, SEC(5), 2.0, 0, 2);
    r->workflow_run_timeout = tdur(&f, SEC(60));
    start_with(&f, r);
    fx_txn(&f, SEC(60));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &rt), ==, TD_OK);
    ta = EV_ATTR(f.t.events[1], workflow_execution_timed_out);
    TD_CHECK_INT(ta->retry_state, ==, RS(TIMEOUT));
    TD_CHECK_INT(f.t.next.initiator, ==, 0);
    fx_free(&f);
}

TD_TEST(history_ms_cron_chain)
{
    fx_t f;
    td_ms_txn_t t2;
    td_ms_t *n, *n2;
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *r;
    const started_t *s;
    const Temporal__Api__History__V1__WorkflowExecutionCompletedEventAttributes *ca;
    const Temporal__Api__History__V1__WorkflowExecutionFailedEventAttributes *fa;
    td_ms_task_t backoff;

    /* T0 is 2023-11-14 22:13:20 UTC: "*\/5" fires first at 22:15:00, 100 s later. */
    fx_init(&f);
    r = fx_start_req(&f);
    r->cron_schedule = (char *)"*/5 * * * *";
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_start(&f.t, r, NS, RUN, &f.ms), ==, TD_OK);
    fx_check_events(&f, 1, 1, ET(WORKFLOW_EXECUTION_STARTED));
    s = EV_ATTR(f.t.events[0], workflow_execution_started);
    TD_CHECK_STR(s->cron_schedule, "*/5 * * * *");
    TD_CHECK_INT(dur_ns(s->first_workflow_task_backoff), ==, SEC(100));
    backoff = *fx_task(&f, TD_MS_TASK_WORKFLOW_BACKOFF);
    TD_CHECK_INT(backoff.fire_time, ==, T0 + SEC(100));
    TD_CHECK_STR(f.ms->cron_schedule, "*/5 * * * *");

    fx_txn(&f, SEC(100));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &backoff), ==, TD_OK);
    fx_check_events(&f, 2, 1, ET(WORKFLOW_TASK_SCHEDULED));
    fx_txn(&f, 0);
    fx_poll(&f);
    /* completes at 22:16:00: the next run waits for 22:20:00 */
    fx_txn(&f, SEC(60));
    f.t.new_run_id = RUN2;
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_complete(&f, "\"r1\"")), NULL), ==,
                 TD_OK);
    ca = EV_ATTR(f.t.events[1], workflow_execution_completed);
    TD_CHECK_STR(ca->new_execution_run_id, RUN2);
    TD_CHECK_INT(f.ms->status, ==, WS(COMPLETED));
    TD_CHECK_INT(f.t.next.initiator, ==, INIT(CRON_SCHEDULE));
    TD_CHECK_INT(f.t.next.backoff, ==, SEC(240));
    n = next_run(&f, &t2);
    s = EV_ATTR(t2.events[0], workflow_execution_started);
    TD_CHECK_INT(s->initiator, ==, INIT(CRON_SCHEDULE));
    TD_CHECK_INT(s->attempt, ==, 1);
    TD_CHECK_STR(s->cron_schedule, "*/5 * * * *");
    TD_CHECK_INT(dur_ns(s->first_workflow_task_backoff), ==, SEC(240));
    TD_CHECK(s->last_completion_result != NULL);
    TD_CHECK_INT(s->last_completion_result->payloads[0]->data.len, ==, 4); /* "r1" */
    TD_CHECK_STR(s->continued_execution_run_id, RUN);

    /* The second run fails (no retry policy): cron goes on, with the last good result. */
    td_ms_free(f.ms);
    f.ms = n;
    backoff = t2.tasks[0];
    TD_CHECK_INT(backoff.type, ==, TD_MS_TASK_WORKFLOW_BACKOFF);
    fx_txn(&f, SEC(240));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &backoff), ==, TD_OK);
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, SEC(10));
    f.t.new_run_id = RUN3;
    TD_CHECK_INT(
            fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_fail(&f, app_failure(&f, "E", 0))), NULL),
            ==, TD_OK);
    fa = EV_ATTR(f.t.events[1], workflow_execution_failed);
    TD_CHECK_INT(fa->retry_state, ==, RS(RETRY_POLICY_NOT_SET));
    TD_CHECK_STR(fa->new_execution_run_id, RUN3);
    TD_CHECK_INT(f.t.next.initiator, ==, INIT(CRON_SCHEDULE));
    TD_CHECK_INT(f.t.next.backoff, ==, SEC(290)); /* 22:20:10 -> 22:25:00 */
    n2 = next_run(&f, &t2);
    s = EV_ATTR(t2.events[0], workflow_execution_started);
    TD_CHECK(s->last_completion_result != NULL);
    TD_CHECK_INT(s->last_completion_result->payloads[0]->data.len, ==, 4);
    TD_CHECK(s->continued_failure != NULL);
    TD_CHECK_STR(s->first_execution_run_id, RUN);
    td_ms_free(n2);

    /* Cancel ends a cron chain. */
    fx_free(&f);
    fx_init(&f);
    r = fx_start_req(&f);
    r->cron_schedule = (char *)"@every 10s";
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_start(&f.t, r, NS, RUN, &f.ms), ==, TD_OK);
    backoff = *fx_task(&f, TD_MS_TASK_WORKFLOW_BACKOFF);
    TD_CHECK_INT(backoff.fire_time, ==, T0 + SEC(10));
    fx_txn(&f, SEC(10));
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &backoff), ==, TD_OK);
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    f.t.new_run_id = RUN2;
    {
        fx_cmd_t *c = tnew(&f, &temporal__api__command__v1__command__descriptor);
        c->command_type = CT(CANCEL_WORKFLOW_EXECUTION);
        TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, c), NULL), ==, TD_OK);
    }
    TD_CHECK_INT(f.ms->status, ==, WS(CANCELED));
    TD_CHECK_INT(f.t.next.initiator, ==, 0);
    fx_free(&f);
}

TD_TEST(history_ms_cron_backoff_holds_signals)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *r;
    td_ms_task_t backoff;

    fx_init(&f);
    r = fx_start_req(&f);
    r->cron_schedule = (char *)"@hourly";
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_start(&f.t, r, NS, RUN, &f.ms), ==, TD_OK);
    backoff = *fx_task(&f, TD_MS_TASK_WORKFLOW_BACKOFF);
    /* a signal while the cron run waits for its time: recorded, no workflow task yet */
    fx_txn(&f, SEC(60));
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "early", NULL, "c", NULL, "s-1"), ==, TD_OK);
    fx_check_events(&f, 2, 1, ET(WORKFLOW_EXECUTION_SIGNALED));
    TD_CHECK_INT(f.ms->wft.scheduled_id, ==, 0);
    TD_CHECK_INT(td_ms_task_valid(f.ms, &backoff), ==, TD_OK);
    /* the schedule time comes: the first task, which sees the signal */
    fx_txn(&f, backoff.fire_time - f.now);
    TD_CHECK_INT(td_ms_timer_task_apply(f.ms, &f.t, &backoff), ==, TD_OK);
    fx_check_events(&f, 3, 1, ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(td_ms_task_valid(f.ms, &backoff), ==, TD_ENOTFOUND);
    fx_free(&f);

    /* A plain start delay does not hold a signal: the task is dispatched early. */
    fx_init(&f);
    r = fx_start_req(&f);
    r->workflow_start_delay = tdur(&f, SEC(600));
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_start(&f.t, r, NS, RUN, &f.ms), ==, TD_OK);
    backoff = *fx_task(&f, TD_MS_TASK_WORKFLOW_BACKOFF);
    fx_txn(&f, SEC(60));
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "early", NULL, "c", NULL, "s-1"), ==, TD_OK);
    fx_check_events(&f, 2, 2, ET(WORKFLOW_EXECUTION_SIGNALED), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK_INT(td_ms_task_valid(f.ms, &backoff), ==, TD_ENOTFOUND);
    fx_free(&f);
}

TD_TEST(history_ms_chain_min_interval)
{
    fx_t f;
    td_ms_txn_t t2;
    td_ms_t *n;

    /* A run continuing as new 200 ms after it started: its successor waits the rest of 1 s. */
    fx_init(&f);
    start_with(&f, fx_start_req(&f));
    fx_txn(&f, 200 * 1000 * 1000);
    f.t.new_run_id = RUN2;
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_continue_as_new(&f, "1")), NULL), ==,
                 TD_OK);
    TD_CHECK_INT(f.t.next.backoff, ==, 800 * 1000 * 1000);
    n = next_run(&f, &t2);
    TD_CHECK_INT(t2.n_events, ==, 1);
    TD_CHECK_INT(t2.tasks[0].type, ==, TD_MS_TASK_WORKFLOW_BACKOFF);
    TD_CHECK_INT(t2.tasks[0].fire_time, ==, T0 + SEC(1));
    td_ms_free(n);
    fx_free(&f);
}
