/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutable state, relations with other workflows: the child workflow lifecycle in the parent
 * (initiated, started, start failed, closed; buffering and id wiring), the child's own start
 * (parent and root fields) and its NOTIFY_PARENT task, parent close policy tasks, signal and
 * cancel of external workflows, stale and duplicate outcomes, and the persisted form.
 */
#include "history_ms_fixture.h"

#include "error.h"

#define EV_ATTR(e, lower) ((e)->lower##_event_attributes)
#define PCP(x)            TEMPORAL__API__ENUMS__V1__PARENT_CLOSE_POLICY__PARENT_CLOSE_POLICY_##x
#define CHILD_RUN         "7a8b9c0d-0000-4000-8000-0000000000dd"
#define CHILD_RUN2        "8b9c0d1e-0000-4000-8000-0000000000ee"

static void *tnew(fx_t *f, const ProtobufCMessageDescriptor *d)
{
    void *m = td_arena_alloc(&f->arena, d->sizeof_message);
    d->message_init(m);
    return m;
}


/* Starts the parent, polls, completes the first task with `c` (caps on). */
static void parent_with(fx_t *f, fx_cmd_t *c)
{
    fx_start(f);
    fx_txn(f, 0);
    fx_poll(f);
    fx_txn(f, TD_MS_SECOND);
    f->t.caps = TD_MS_CAP_CHILD | TD_MS_CAP_EXTERNAL;
    TD_CHECK_INT(fx_complete(f, fx_complete_req(f, 1, c), NULL), ==, TD_OK);
}

/* A close event as the child's history would hold it. */
static td_ms_event_t *close_event(fx_t *f, int type)
{
    td_ms_event_t *e = tnew(f, &temporal__api__history__v1__history_event__descriptor);
    e->event_id = 5;
    e->event_type = type;
    if (type == ET(WORKFLOW_EXECUTION_COMPLETED)) {
        e->attributes_case =
                TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_WORKFLOW_EXECUTION_COMPLETED_EVENT_ATTRIBUTES;
        e->workflow_execution_completed_event_attributes = tnew(
                f,
                &temporal__api__history__v1__workflow_execution_completed_event_attributes__descriptor);
        e->workflow_execution_completed_event_attributes->result = fx_payloads(f, "\"done\"");
    } else if (type == ET(WORKFLOW_EXECUTION_FAILED)) {
        e->attributes_case =
                TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_WORKFLOW_EXECUTION_FAILED_EVENT_ATTRIBUTES;
        e->workflow_execution_failed_event_attributes = tnew(
                f,
                &temporal__api__history__v1__workflow_execution_failed_event_attributes__descriptor);
        e->workflow_execution_failed_event_attributes->failure =
                tnew(f, &temporal__api__failure__v1__failure__descriptor);
        e->workflow_execution_failed_event_attributes->retry_state = RS(MAXIMUM_ATTEMPTS_REACHED);
    }
    return e;
}

TD_TEST(history_ms_child_not_wired)
{
    fx_t f;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_child(&f, "kid", 0)), NULL), ==,
                 TD_EUNIMPL);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    f.t.caps = TD_MS_CAP_CHILD; /* children, not external requests */
    TD_CHECK_INT(
            fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_signal_external(&f, "x", "s")), NULL), ==,
            TD_EUNIMPL);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_cancel_external(&f, "x")), NULL), ==,
                 TD_EUNIMPL);
    TD_CHECK_INT(f.ms->wft.started_id, ==, 3);
    fx_free(&f);
}

TD_TEST(history_ms_child_lifecycle)
{
    fx_t f;
    td_ms_txn_t t2;
    td_ms_t *child = NULL;
    const Temporal__Api__History__V1__StartChildWorkflowExecutionInitiatedEventAttributes *ia;
    const Temporal__Api__History__V1__ChildWorkflowExecutionStartedEventAttributes *sa;
    const Temporal__Api__History__V1__WorkflowExecutionStartedEventAttributes *ws;
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *req;
    td_ms_parent_t p;
    td_ms_task_t start_task;
    const td_ms_task_t *np;

    fx_init(&f);
    parent_with(&f, fx_cmd_child(&f, "kid", 0));
    fx_check_events(&f, 4, 2, ET(WORKFLOW_TASK_COMPLETED),
                    ET(START_CHILD_WORKFLOW_EXECUTION_INITIATED));
    ia = EV_ATTR(f.t.events[1], start_child_workflow_execution_initiated);
    TD_CHECK_STR(ia->workflow_id, "kid");
    TD_CHECK_STR(ia->workflow_type->name, "Kid");
    TD_CHECK_STR(ia->task_queue->name, "tq"); /* the parent's queue by default */
    TD_CHECK_STR(ia->namespace_id, NS);
    TD_CHECK_INT(ia->parent_close_policy, ==, PCP(TERMINATE));
    TD_CHECK_INT(ia->workflow_task_completed_event_id, ==, 4);
    start_task = *fx_task(&f, TD_MS_TASK_START_CHILD);
    TD_CHECK_INT(start_task.event_id, ==, 5);
    TD_CHECK_STR(start_task.target_workflow_id, "kid");
    TD_CHECK_INT(td_ms_task_category(start_task.type), ==, TD_MS_CAT_TRANSFER);
    TD_CHECK_INT(td_ms_task_valid(f.ms, &start_task), ==, TD_OK);
    TD_CHECK_INT(f.ms->n_children, ==, 1);
    TD_CHECK(f.ms->wft.scheduled_id == 0); /* nothing else to do until the child starts */

    /* The service builds the child's start from the Initiated event. */
    TD_CHECK_INT(td_ms_child_request(f.ms, f.t.events[1], &f.arena, &req, &p), ==, TD_OK);
    TD_CHECK_INT(td_ms_child_request(f.ms, f.t.events[0], &f.arena, &req, &p), ==, TD_EINVAL);
    TD_CHECK_INT(td_ms_child_request(f.ms, f.t.events[1], &f.arena, &req, &p), ==, TD_OK);
    TD_CHECK_STR(req->workflow_id, "kid");
    TD_CHECK_STR(req->workflow_type->name, "Kid");
    TD_CHECK_STR(req->task_queue->name, "tq");
    TD_CHECK_CONTAINS(req->request_id, RUN);
    TD_CHECK_STR(p.workflow_id, "wf-1");
    TD_CHECK_STR(p.run_id, RUN);
    TD_CHECK_INT(p.initiated_id, ==, 5);
    td_ms_txn_init(&t2, &f.arena, f.now);
    TD_CHECK_INT(td_ms_start_child(&t2, req, NS, CHILD_RUN, &p, &child), ==, TD_OK);
    ws = EV_ATTR(t2.events[0], workflow_execution_started);
    TD_CHECK_STR(ws->parent_workflow_execution->workflow_id, "wf-1");
    TD_CHECK_STR(ws->parent_workflow_execution->run_id, RUN);
    TD_CHECK_INT(ws->parent_initiated_event_id, ==, 5);
    TD_CHECK_STR(ws->parent_workflow_namespace_id, NS);
    TD_CHECK_STR(ws->parent_workflow_namespace, "default");
    TD_CHECK_STR(ws->root_workflow_execution->workflow_id, "wf-1");
    TD_CHECK_STR(ws->root_workflow_execution->run_id, RUN);
    TD_CHECK_STR(child->parent_workflow_id, "wf-1");

    /* Parent learns the child started: event + a new workflow task. */
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(td_ms_child_started(f.ms, &f.t, 5, CHILD_RUN, NULL), ==, TD_OK);
    fx_check_events(&f, 6, 2, ET(CHILD_WORKFLOW_EXECUTION_STARTED), ET(WORKFLOW_TASK_SCHEDULED));
    sa = EV_ATTR(f.t.events[0], child_workflow_execution_started);
    TD_CHECK_INT(sa->initiated_event_id, ==, 5);
    TD_CHECK_STR(sa->workflow_execution->workflow_id, "kid");
    TD_CHECK_STR(sa->workflow_execution->run_id, CHILD_RUN);
    TD_CHECK_STR(sa->workflow_type->name, "Kid");
    /* duplicate report, stale start task */
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_child_started(f.ms, &f.t, 5, CHILD_RUN, NULL), ==, TD_ENOTFOUND);
    TD_CHECK_INT(td_ms_child_start_failed(f.ms, &f.t, 5, 1), ==, TD_ENOTFOUND);
    TD_CHECK_INT(td_ms_child_started(f.ms, &f.t, 99, CHILD_RUN, NULL), ==, TD_ENOTFOUND);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK_INT(td_ms_task_valid(f.ms, &start_task), ==, TD_ENOTFOUND);

    /* The child completes: its close produces NOTIFY_PARENT. */
    td_ms_free(f.ms);
    f.ms = child;
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_complete(&f, "\"done\"")), NULL), ==,
                 TD_OK);
    np = fx_task(&f, TD_MS_TASK_NOTIFY_PARENT);
    TD_CHECK_STR(np->target_workflow_id, "wf-1");
    TD_CHECK_STR(np->target_run_id, RUN);
    TD_CHECK_STR(np->target_namespace_id, NS);
    TD_CHECK_INT(np->event_id, ==, 5);
    TD_CHECK_INT(np->ref_event_id, ==, 5); /* the child's WorkflowExecutionCompleted */
    TD_CHECK_INT(td_ms_task_valid(f.ms, np), ==, TD_OK);
    fx_free(&f);
}

TD_TEST(history_ms_child_outcomes_buffered_and_wired)
{
    fx_t f;
    td_ms_wft_completed_t out;
    const Temporal__Api__History__V1__ChildWorkflowExecutionCompletedEventAttributes *ca;
    const Temporal__Api__History__V1__ChildWorkflowExecutionFailedEventAttributes *fa;

    fx_init(&f);
    parent_with(&f, fx_cmd_child(&f, "kid", PCP(ABANDON)));
    /* a signal makes a task; the child starts and completes while it runs */
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "go", NULL, "c", NULL, "s-1"), ==, TD_OK);
    fx_txn(&f, 0);
    fx_poll(&f); /* Signaled 6, WorkflowTaskScheduled 7, Started 8 */
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(td_ms_child_started(f.ms, &f.t, 5, CHILD_RUN, NULL), ==, TD_OK);
    TD_CHECK_INT(td_ms_child_closed(f.ms, &f.t, 5, CHILD_RUN,
                                    close_event(&f, ET(WORKFLOW_EXECUTION_COMPLETED))),
                 ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    TD_CHECK_INT(f.ms->n_buffered, ==, 2);
    TD_CHECK_INT(f.ms->n_children, ==, 0);
    /* duplicate close: stale */
    TD_CHECK_INT(td_ms_child_closed(f.ms, &f.t, 5, CHILD_RUN,
                                    close_event(&f, ET(WORKFLOW_EXECUTION_COMPLETED))),
                 ==, TD_ENOTFOUND);
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 0), &out), ==, TD_OK);
    fx_check_events(&f, 9, 4, ET(WORKFLOW_TASK_COMPLETED), ET(CHILD_WORKFLOW_EXECUTION_STARTED),
                    ET(CHILD_WORKFLOW_EXECUTION_COMPLETED), ET(WORKFLOW_TASK_SCHEDULED));
    ca = EV_ATTR(f.t.events[2], child_workflow_execution_completed);
    TD_CHECK_INT(ca->initiated_event_id, ==, 5);
    TD_CHECK_INT(ca->started_event_id, ==, 10); /* wired to the Started flushed with it */
    TD_CHECK_STR(ca->workflow_execution->run_id, CHILD_RUN);
    TD_CHECK(ca->result != NULL);
    fx_free(&f);

    /* Failed child, started earlier; a close that is not final is refused. */
    fx_init(&f);
    parent_with(&f, fx_cmd_child(&f, "kid", 0));
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(td_ms_child_started(f.ms, &f.t, 5, CHILD_RUN, NULL), ==, TD_OK);
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_child_closed(f.ms, &f.t, 5, CHILD_RUN2,
                                    close_event(&f, ET(WORKFLOW_EXECUTION_CONTINUED_AS_NEW))),
                 ==, TD_EINVAL);
    TD_CHECK_INT(f.ms->n_children, ==, 1);
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(td_ms_child_closed(f.ms, &f.t, 5, CHILD_RUN2,
                                    close_event(&f, ET(WORKFLOW_EXECUTION_FAILED))),
                 ==, TD_OK);
    /* the workflow task from ChildWorkflowExecutionStarted is still pending: no new one */
    fx_check_events(&f, 8, 1, ET(CHILD_WORKFLOW_EXECUTION_FAILED));
    fa = EV_ATTR(f.t.events[0], child_workflow_execution_failed);
    TD_CHECK_INT(fa->started_event_id, ==, 6);
    TD_CHECK_INT(fa->retry_state, ==, RS(MAXIMUM_ATTEMPTS_REACHED));
    TD_CHECK_STR(fa->workflow_execution->run_id, CHILD_RUN2); /* the chain's last run */
    fx_free(&f);
}

TD_TEST(history_ms_child_start_failed)
{
    fx_t f;
    const Temporal__Api__History__V1__StartChildWorkflowExecutionFailedEventAttributes *a;

    fx_init(&f);
    parent_with(&f, fx_cmd_child(&f, "kid", 0));
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(
            td_ms_child_start_failed(
                    f.ms, &f.t, 5,
                    TEMPORAL__API__ENUMS__V1__START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE__START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS),
            ==, TD_OK);
    fx_check_events(&f, 6, 2, ET(START_CHILD_WORKFLOW_EXECUTION_FAILED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    a = EV_ATTR(f.t.events[0], start_child_workflow_execution_failed);
    TD_CHECK_INT(a->initiated_event_id, ==, 5);
    TD_CHECK_STR(a->workflow_id, "kid");
    TD_CHECK_INT(
            a->cause, ==,
            TEMPORAL__API__ENUMS__V1__START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE__START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS);
    TD_CHECK_INT(f.ms->n_children, ==, 0);
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_child_started(f.ms, &f.t, 5, CHILD_RUN, NULL), ==, TD_ENOTFOUND);
    fx_free(&f);
}

TD_TEST(history_ms_parent_close_policy_tasks)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req;
    int seen_terminate = 0, seen_cancel = 0;
    uint8_t *buf;
    size_t len;
    td_ms_t *copy;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, TD_MS_SECOND);
    f.t.caps = TD_MS_CAP_CHILD | TD_MS_CAP_EXTERNAL;
    req = fx_complete_req(&f, 5, fx_cmd_child(&f, "a", 0), fx_cmd_child(&f, "b", PCP(ABANDON)),
                          fx_cmd_child(&f, "c", PCP(REQUEST_CANCEL)), fx_cmd_child(&f, "d", 0),
                          fx_cmd_signal_external(&f, "e", "sig"));
    TD_CHECK_INT(fx_complete(&f, req, NULL), ==, TD_OK);
    fx_check_events(&f, 4, 6, ET(WORKFLOW_TASK_COMPLETED),
                    ET(START_CHILD_WORKFLOW_EXECUTION_INITIATED),
                    ET(START_CHILD_WORKFLOW_EXECUTION_INITIATED),
                    ET(START_CHILD_WORKFLOW_EXECUTION_INITIATED),
                    ET(START_CHILD_WORKFLOW_EXECUTION_INITIATED),
                    ET(SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED));
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(td_ms_child_started(f.ms, &f.t, 5, "run-a", NULL), ==, TD_OK);
    TD_CHECK_INT(td_ms_child_started(f.ms, &f.t, 6, "run-b", NULL), ==, TD_OK);
    TD_CHECK_INT(td_ms_child_started(f.ms, &f.t, 7, "run-c", NULL), ==, TD_OK);
    /* "d" never starts */

    /* The pending relations survive a store round trip. */
    TD_CHECK_INT(td_ms_encode(f.ms, &f.arena, &buf, &len), ==, TD_OK);
    TD_CHECK_INT(td_ms_decode(buf, len, &copy), ==, TD_OK);
    TD_CHECK_INT(copy->n_children, ==, 4);
    TD_CHECK_INT(copy->n_externals, ==, 1);
    TD_CHECK_STR(td_ms_child_find(copy, 7)->run_id, "run-c");
    TD_CHECK_INT(td_ms_child_find(copy, 7)->parent_close_policy, ==, PCP(REQUEST_CANCEL));
    TD_CHECK_INT(td_ms_child_find(copy, 7)->started_id, ==, td_ms_child_find(f.ms, 7)->started_id);
    TD_CHECK_INT(td_ms_child_find(copy, 8)->started, ==, 0);
    TD_CHECK_STR(td_ms_external_find(copy, 9)->workflow_id, "e");
    td_ms_free(f.ms);
    f.ms = copy;

    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_complete(&f, "1")), NULL), ==,
                 TD_OK);
    for (size_t i = 0; i < f.t.n_tasks; i++) {
        const td_ms_task_t *tk = &f.t.tasks[i];
        if (tk->type != TD_MS_TASK_PARENT_CLOSE_POLICY) {
            continue;
        }
        TD_CHECK_STR(tk->target_namespace_id, NS);
        TD_CHECK_INT(td_ms_task_valid(f.ms, tk), ==, TD_OK);
        if (tk->policy == PCP(TERMINATE)) {
            TD_CHECK_STR(tk->target_workflow_id, "a");
            TD_CHECK_STR(tk->target_run_id, "run-a");
            seen_terminate++;
        } else {
            TD_CHECK_INT(tk->policy, ==, PCP(REQUEST_CANCEL));
            TD_CHECK_STR(tk->target_workflow_id, "c");
            seen_cancel++;
        }
    }
    TD_CHECK_INT(seen_terminate, ==, 1);
    TD_CHECK_INT(seen_cancel, ==, 1);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_NOTIFY_PARENT) < 0); /* no parent */
    TD_CHECK_INT(f.ms->n_children, ==, 0);
    TD_CHECK_INT(f.ms->n_externals, ==, 0);
    fx_free(&f);
}

TD_TEST(history_ms_child_continue_as_new_keeps_parent)
{
    fx_t f;
    td_ms_txn_t t2;
    td_ms_t *child = NULL, *next = NULL;
    td_ms_parent_t p = { "default", NS, "wf-1", RUN, 5, NULL, NULL };
    fx_cmd_t *c;
    const Temporal__Api__History__V1__WorkflowExecutionStartedEventAttributes *ws;

    fx_init(&f);
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_start_child(&f.t, fx_start_req(&f), NS, CHILD_RUN, &p, &child), ==, TD_OK);
    f.ms = child;
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, TD_MS_SECOND);
    f.t.new_run_id = CHILD_RUN2;
    c = tnew(&f, &temporal__api__command__v1__command__descriptor);
    c->command_type = CT(CONTINUE_AS_NEW_WORKFLOW_EXECUTION);
    c->continue_as_new_workflow_execution_command_attributes = tnew(
            &f,
            &temporal__api__command__v1__continue_as_new_workflow_execution_command_attributes__descriptor);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 1, c), NULL), ==, TD_OK);
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_NOTIFY_PARENT) < 0); /* the chain goes on */
    td_ms_txn_init(&t2, &f.arena, f.now);
    TD_CHECK_INT(td_ms_start_next(f.ms, &f.t.next, &t2, &next), ==, TD_OK);
    ws = EV_ATTR(t2.events[0], workflow_execution_started);
    TD_CHECK_STR(ws->parent_workflow_execution->workflow_id, "wf-1");
    TD_CHECK_INT(ws->parent_initiated_event_id, ==, 5);
    TD_CHECK_STR(next->parent_run_id, RUN);
    td_ms_free(f.ms);
    f.ms = next;
    /* the last run of the chain is terminated: the parent hears of it */
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(td_ms_terminate(f.ms, &f.t, "r", NULL, "op"), ==, TD_OK);
    TD_CHECK_INT(fx_task(&f, TD_MS_TASK_NOTIFY_PARENT)->event_id, ==, 5);
    TD_CHECK_INT(fx_task(&f, TD_MS_TASK_NOTIFY_PARENT)->ref_event_id, ==,
                 f.ms->completion_event_id);
    fx_free(&f);
}

TD_TEST(history_ms_external_signal_and_cancel)
{
    fx_t f;
    const Temporal__Api__History__V1__SignalExternalWorkflowExecutionInitiatedEventAttributes *si;
    const Temporal__Api__History__V1__RequestCancelExternalWorkflowExecutionInitiatedEventAttributes
            *ci;
    const Temporal__Api__History__V1__ExternalWorkflowExecutionSignaledEventAttributes *sd;
    const Temporal__Api__History__V1__RequestCancelExternalWorkflowExecutionFailedEventAttributes
            *cf;
    td_ms_task_t sig_task, cancel_task;
    const char *rid;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, TD_MS_SECOND);
    f.t.caps = TD_MS_CAP_EXTERNAL;
    TD_CHECK_INT(fx_complete(&f,
                             fx_complete_req(&f, 2, fx_cmd_signal_external(&f, "other", "ping"),
                                             fx_cmd_cancel_external(&f, "victim")),
                             NULL),
                 ==, TD_OK);
    fx_check_events(&f, 4, 3, ET(WORKFLOW_TASK_COMPLETED),
                    ET(SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED),
                    ET(REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED));
    si = EV_ATTR(f.t.events[1], signal_external_workflow_execution_initiated);
    TD_CHECK_STR(si->signal_name, "ping");
    TD_CHECK_STR(si->workflow_execution->workflow_id, "other");
    TD_CHECK_INT(si->workflow_task_completed_event_id, ==, 4);
    ci = EV_ATTR(f.t.events[2], request_cancel_external_workflow_execution_initiated);
    TD_CHECK_STR(ci->workflow_execution->workflow_id, "victim");
    TD_CHECK_STR(ci->reason, "because");
    sig_task = *fx_task(&f, TD_MS_TASK_SIGNAL_EXTERNAL);
    cancel_task = *fx_task(&f, TD_MS_TASK_CANCEL_EXTERNAL);
    TD_CHECK_INT(sig_task.event_id, ==, 5);
    TD_CHECK_STR(sig_task.target_workflow_id, "other");
    TD_CHECK_INT(cancel_task.event_id, ==, 6);
    TD_CHECK_INT(td_ms_task_valid(f.ms, &sig_task), ==, TD_OK);
    TD_CHECK_INT(td_ms_task_valid(f.ms, &cancel_task), ==, TD_OK);
    /* request ids: stable per initiated event, distinct between events */
    rid = td_ms_external_request_id(f.ms, 5, &f.arena);
    TD_CHECK_STR(rid, td_ms_external_request_id(f.ms, 5, &f.arena));
    TD_CHECK(strcmp(rid, td_ms_external_request_id(f.ms, 6, &f.arena)) != 0);

    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(td_ms_external_done(f.ms, &f.t, 5), ==, TD_OK);
    fx_check_events(&f, 7, 2, ET(EXTERNAL_WORKFLOW_EXECUTION_SIGNALED),
                    ET(WORKFLOW_TASK_SCHEDULED));
    sd = EV_ATTR(f.t.events[0], external_workflow_execution_signaled);
    TD_CHECK_INT(sd->initiated_event_id, ==, 5);
    TD_CHECK_STR(sd->workflow_execution->workflow_id, "other");
    TD_CHECK_INT(td_ms_task_valid(f.ms, &sig_task), ==, TD_ENOTFOUND);
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_external_done(f.ms, &f.t, 5), ==, TD_ENOTFOUND); /* duplicate */
    TD_CHECK_INT(td_ms_external_failed(f.ms, &f.t, 5, 1), ==, TD_ENOTFOUND);
    TD_CHECK_INT(f.t.n_events, ==, 0);

    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(
            td_ms_external_failed(
                    f.ms, &f.t, 6,
                    TEMPORAL__API__ENUMS__V1__CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE__CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND),
            ==, TD_OK);
    fx_check_events(&f, 9, 1, ET(REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED));
    cf = EV_ATTR(f.t.events[0], request_cancel_external_workflow_execution_failed);
    TD_CHECK_INT(cf->initiated_event_id, ==, 6);
    TD_CHECK_INT(
            cf->cause, ==,
            TEMPORAL__API__ENUMS__V1__CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE__CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND);
    TD_CHECK_INT(f.ms->n_externals, ==, 0);

    /* Bad attributes fail the workflow task with the matching cause. */
    fx_txn(&f, 0);
    fx_poll(&f);
    fx_txn(&f, TD_MS_SECOND);
    f.t.caps = TD_MS_CAP_EXTERNAL;
    TD_CHECK_INT(
            fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_signal_external(&f, "other", "")), NULL),
            ==, TD_EINVAL);
    TD_CHECK_INT(f.t.cause, ==, CAUSE(BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES));
    fx_free(&f);
}

TD_TEST(history_ms_child_close_mapping)
{
    static const struct {
        int close, child;
    } map[] = {
        { ET(WORKFLOW_EXECUTION_COMPLETED), ET(CHILD_WORKFLOW_EXECUTION_COMPLETED) },
        { ET(WORKFLOW_EXECUTION_FAILED), ET(CHILD_WORKFLOW_EXECUTION_FAILED) },
        { ET(WORKFLOW_EXECUTION_CANCELED), ET(CHILD_WORKFLOW_EXECUTION_CANCELED) },
        { ET(WORKFLOW_EXECUTION_TERMINATED), ET(CHILD_WORKFLOW_EXECUTION_TERMINATED) },
        { ET(WORKFLOW_EXECUTION_TIMED_OUT), ET(CHILD_WORKFLOW_EXECUTION_TIMED_OUT) },
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        fx_t f;
        td_ms_event_t *e;
        fx_init(&f);
        parent_with(&f, fx_cmd_child(&f, "kid", 0));
        fx_txn(&f, TD_MS_SECOND);
        TD_CHECK_INT(td_ms_child_started(f.ms, &f.t, 5, CHILD_RUN, NULL), ==, TD_OK);
        fx_txn(&f, TD_MS_SECOND);
        e = close_event(&f, map[i].close);
        TD_CHECK_INT(td_ms_child_closed(f.ms, &f.t, 5, CHILD_RUN, e), ==, TD_OK);
        fx_check_events(&f, 8, 1, map[i].child);
        TD_CHECK_INT(f.ms->n_children, ==, 0);
        /* the close outcomes share one layout: initiated, started, execution, type */
        switch (map[i].child) {
        case ET(CHILD_WORKFLOW_EXECUTION_CANCELED):
            TD_CHECK_INT(
                    f.t.events[0]
                            ->child_workflow_execution_canceled_event_attributes->started_event_id,
                    ==, 6);
            break;
        case ET(CHILD_WORKFLOW_EXECUTION_TERMINATED):
            TD_CHECK_STR(f.t.events[0]
                                 ->child_workflow_execution_terminated_event_attributes
                                 ->workflow_execution->run_id,
                         CHILD_RUN);
            break;
        case ET(CHILD_WORKFLOW_EXECUTION_TIMED_OUT):
            TD_CHECK_INT(f.t.events[0]
                                 ->child_workflow_execution_timed_out_event_attributes
                                 ->initiated_event_id,
                         ==, 5);
            TD_CHECK_STR(f.t.events[0]
                                 ->child_workflow_execution_timed_out_event_attributes
                                 ->workflow_type->name,
                         "Kid");
            break;
        default:
            break;
        }
        fx_free(&f);
    }
}

TD_TEST(history_ms_signal_and_cancel_from_another_workflow)
{
    fx_t f;
    const Temporal__Api__History__V1__WorkflowExecutionSignaledEventAttributes *s;
    const Temporal__Api__History__V1__WorkflowExecutionCancelRequestedEventAttributes *c;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(td_ms_signal_from(f.ms, &f.t, "hi", NULL, "history-service", NULL, "rid-1",
                                   "sender", "sender-run"),
                 ==, TD_OK);
    fx_check_events(&f, 3, 1, ET(WORKFLOW_EXECUTION_SIGNALED));
    s = EV_ATTR(f.t.events[0], workflow_execution_signaled);
    TD_CHECK(s->external_workflow_execution != NULL);
    TD_CHECK_STR(s->external_workflow_execution->workflow_id, "sender");
    TD_CHECK_STR(s->external_workflow_execution->run_id, "sender-run");
    /* the same request again (a repeated SIGNAL_EXTERNAL task): nothing */
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_signal_from(f.ms, &f.t, "hi", NULL, "history-service", NULL, "rid-1",
                                   "sender", "sender-run"),
                 ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    /* a client's signal names no workflow */
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "hi", NULL, "client", NULL, "rid-2"), ==, TD_OK);
    TD_CHECK(EV_ATTR(f.t.events[0], workflow_execution_signaled)->external_workflow_execution ==
             NULL);

    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(td_ms_request_cancel_from(f.ms, &f.t, "stop", "history-service", "rid-3", "boss",
                                           "boss-run", 12),
                 ==, TD_OK);
    fx_check_events(&f, 5, 1, ET(WORKFLOW_EXECUTION_CANCEL_REQUESTED));
    c = EV_ATTR(f.t.events[0], workflow_execution_cancel_requested);
    TD_CHECK_STR(c->external_workflow_execution->workflow_id, "boss");
    TD_CHECK_INT(c->external_initiated_event_id, ==, 12);
    TD_CHECK_STR(c->cause, "stop");
    fx_free(&f);
}

TD_TEST(history_ms_child_closed_before_start_recorded)
{
    fx_t f;
    const Temporal__Api__History__V1__ChildWorkflowExecutionCompletedEventAttributes *ca;

    /* A fast child notifies its parent before the START_CHILD task recorded the start. */
    fx_init(&f);
    parent_with(&f, fx_cmd_child(&f, "kid", 0));
    fx_txn(&f, TD_MS_SECOND);
    TD_CHECK_INT(td_ms_child_closed(f.ms, &f.t, 5, CHILD_RUN,
                                    close_event(&f, ET(WORKFLOW_EXECUTION_COMPLETED))),
                 ==, TD_OK);
    fx_check_events(&f, 6, 3, ET(CHILD_WORKFLOW_EXECUTION_STARTED), ET(WORKFLOW_TASK_SCHEDULED),
                    ET(CHILD_WORKFLOW_EXECUTION_COMPLETED));
    TD_CHECK_STR(
            f.t.events[0]
                    ->child_workflow_execution_started_event_attributes->workflow_execution->run_id,
            CHILD_RUN);
    ca = f.t.events[2]->child_workflow_execution_completed_event_attributes;
    TD_CHECK_INT(ca->started_event_id, ==, 6);
    /* the START_CHILD task's late report is stale */
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_child_started(f.ms, &f.t, 5, CHILD_RUN, NULL), ==, TD_ENOTFOUND);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    fx_free(&f);
}
