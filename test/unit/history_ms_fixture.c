/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mutable-state test fixture (see history_ms_fixture.h).
 */
#include "history_ms_fixture.h"

#include <stdarg.h>
#include <string.h>


static void *pb_new(fx_t *f, const ProtobufCMessageDescriptor *d)
{
    void *m = td_arena_alloc(&f->arena, d->sizeof_message);
    d->message_init(m);
    return m;
}

static Google__Protobuf__Duration *dur(fx_t *f, int64_t ns)
{
    Google__Protobuf__Duration *d = pb_new(f, &google__protobuf__duration__descriptor);
    d->seconds = ns / TD_MS_SECOND;
    d->nanos = (int32_t)(ns % TD_MS_SECOND);
    return d;
}

void fx_init(fx_t *f)
{
    memset(f, 0, sizeof(*f));
    td_arena_init(&f->arena, 1 << 16);
    f->now = T0;
}

void fx_free(fx_t *f)
{
    td_ms_free(f->ms);
    td_arena_destroy(&f->arena);
}

td_ms_txn_t *fx_txn(fx_t *f, int64_t advance)
{
    f->now += advance;
    td_ms_txn_init(&f->t, &f->arena, f->now);
    f->t.task_id = f->now / TD_MS_SECOND;
    return &f->t;
}

Temporal__Api__Common__V1__Payloads *fx_payloads(fx_t *f, const char *data)
{
    Temporal__Api__Common__V1__Payloads *p =
            pb_new(f, &temporal__api__common__v1__payloads__descriptor);
    Temporal__Api__Common__V1__Payload *one =
            pb_new(f, &temporal__api__common__v1__payload__descriptor);
    one->data.data = (uint8_t *)td_arena_strdup(&f->arena, data);
    one->data.len = strlen(data);
    p->n_payloads = 1;
    p->payloads = td_arena_alloc(&f->arena, sizeof(*p->payloads));
    p->payloads[0] = one;
    return p;
}

Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *fx_start_req(fx_t *f)
{
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *r = pb_new(
            f, &temporal__api__workflowservice__v1__start_workflow_execution_request__descriptor);
    r->namespace_ = (char *)"default";
    r->workflow_id = (char *)"wf-1";
    r->workflow_type = pb_new(f, &temporal__api__common__v1__workflow_type__descriptor);
    r->workflow_type->name = (char *)"Greet";
    r->task_queue = pb_new(f, &temporal__api__taskqueue__v1__task_queue__descriptor);
    r->task_queue->name = (char *)"tq";
    r->input = fx_payloads(f, "\"world\"");
    r->identity = (char *)"client@host";
    r->request_id = (char *)"req-start-1";
    return r;
}

void fx_start(fx_t *f)
{
    fx_txn(f, 0);
    TD_CHECK_INT(td_ms_start(&f->t, fx_start_req(f), NS, RUN, &f->ms), ==, TD_OK);
}

void fx_poll_kind(fx_t *f, int kind)
{
    Temporald__Token__Task *tok = NULL;
    TD_CHECK_INT(td_ms_wft_record_started(f->ms, &f->t, f->ms->wft.scheduled_id, "poll-req",
                                          "worker-1", kind, &f->started),
                 ==, TD_OK);
    TD_CHECK_INT(td_ms_token_decode(f->started.token.data, f->started.token.len, &f->arena, &tok),
                 ==, TD_OK);
    f->wft_tok = tok;
}

void fx_poll(fx_t *f)
{
    fx_poll_kind(f, TQK(NORMAL));
}

Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *
fx_complete_req(fx_t *f, size_t n, ...)
{
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *r = pb_new(
            f,
            &temporal__api__workflowservice__v1__respond_workflow_task_completed_request__descriptor);
    va_list ap;
    r->identity = (char *)"worker-1";
    r->n_commands = n;
    r->commands = td_arena_alloc(&f->arena, (n + 1) * sizeof(fx_cmd_t *));
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        r->commands[i] = va_arg(ap, fx_cmd_t *);
    }
    va_end(ap);
    return r;
}

int fx_complete(fx_t *f,
                Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req,
                td_ms_wft_completed_t *out)
{
    td_ms_wft_completed_t tmp;
    return td_ms_wft_complete(f->ms, &f->t, f->wft_tok, req, out ? out : &tmp);
}

static fx_cmd_t *cmd(fx_t *f, int type)
{
    fx_cmd_t *c = pb_new(f, &temporal__api__command__v1__command__descriptor);
    c->command_type = type;
    return c;
}

fx_cmd_t *fx_cmd_activity(fx_t *f, const char *id, int64_t start_to_close, int32_t max_attempts)
{
    fx_cmd_t *c = cmd(f, CT(SCHEDULE_ACTIVITY_TASK));
    Temporal__Api__Command__V1__ScheduleActivityTaskCommandAttributes *a = pb_new(
            f, &temporal__api__command__v1__schedule_activity_task_command_attributes__descriptor);
    c->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_SCHEDULE_ACTIVITY_TASK_COMMAND_ATTRIBUTES;
    c->schedule_activity_task_command_attributes = a;
    a->activity_id = (char *)id;
    a->activity_type = pb_new(f, &temporal__api__common__v1__activity_type__descriptor);
    a->activity_type->name = (char *)"SayHello";
    a->task_queue = pb_new(f, &temporal__api__taskqueue__v1__task_queue__descriptor);
    a->task_queue->name = (char *)"tq";
    a->input = fx_payloads(f, "\"in\"");
    if (start_to_close > 0) {
        a->start_to_close_timeout = dur(f, start_to_close);
    }
    if (max_attempts > 0) {
        a->retry_policy = pb_new(f, &temporal__api__common__v1__retry_policy__descriptor);
        a->retry_policy->maximum_attempts = max_attempts;
    }
    return c;
}

fx_cmd_t *fx_cmd_timer(fx_t *f, const char *id, int64_t d)
{
    fx_cmd_t *c = cmd(f, CT(START_TIMER));
    Temporal__Api__Command__V1__StartTimerCommandAttributes *a =
            pb_new(f, &temporal__api__command__v1__start_timer_command_attributes__descriptor);
    c->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_START_TIMER_COMMAND_ATTRIBUTES;
    c->start_timer_command_attributes = a;
    a->timer_id = (char *)id;
    a->start_to_fire_timeout = dur(f, d);
    return c;
}

fx_cmd_t *fx_cmd_cancel_timer(fx_t *f, const char *id)
{
    fx_cmd_t *c = cmd(f, CT(CANCEL_TIMER));
    Temporal__Api__Command__V1__CancelTimerCommandAttributes *a =
            pb_new(f, &temporal__api__command__v1__cancel_timer_command_attributes__descriptor);
    c->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_CANCEL_TIMER_COMMAND_ATTRIBUTES;
    c->cancel_timer_command_attributes = a;
    a->timer_id = (char *)id;
    return c;
}

fx_cmd_t *fx_cmd_cancel_activity(fx_t *f, int64_t scheduled_id)
{
    fx_cmd_t *c = cmd(f, CT(REQUEST_CANCEL_ACTIVITY_TASK));
    Temporal__Api__Command__V1__RequestCancelActivityTaskCommandAttributes *a = pb_new(
            f,
            &temporal__api__command__v1__request_cancel_activity_task_command_attributes__descriptor);
    c->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_REQUEST_CANCEL_ACTIVITY_TASK_COMMAND_ATTRIBUTES;
    c->request_cancel_activity_task_command_attributes = a;
    a->scheduled_event_id = scheduled_id;
    return c;
}

fx_cmd_t *fx_cmd_complete(fx_t *f, const char *result)
{
    fx_cmd_t *c = cmd(f, CT(COMPLETE_WORKFLOW_EXECUTION));
    Temporal__Api__Command__V1__CompleteWorkflowExecutionCommandAttributes *a = pb_new(
            f,
            &temporal__api__command__v1__complete_workflow_execution_command_attributes__descriptor);
    c->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_COMPLETE_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES;
    c->complete_workflow_execution_command_attributes = a;
    a->result = fx_payloads(f, result);
    return c;
}

fx_cmd_t *fx_cmd_marker(fx_t *f, const char *name)
{
    fx_cmd_t *c = cmd(f, CT(RECORD_MARKER));
    Temporal__Api__Command__V1__RecordMarkerCommandAttributes *a =
            pb_new(f, &temporal__api__command__v1__record_marker_command_attributes__descriptor);
    Temporal__Api__Command__V1__RecordMarkerCommandAttributes__DetailsEntry *d = pb_new(
            f,
            &temporal__api__command__v1__record_marker_command_attributes__details_entry__descriptor);
    c->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_RECORD_MARKER_COMMAND_ATTRIBUTES;
    c->record_marker_command_attributes = a;
    a->marker_name = (char *)name;
    d->key = (char *)"data";
    d->value = fx_payloads(f, "42");
    a->n_details = 1;
    a->details = td_arena_alloc(&f->arena, sizeof(*a->details));
    a->details[0] = d;
    return c;
}

Temporald__Token__Task *fx_act_tok(fx_t *f, int64_t scheduled_id, int32_t attempt)
{
    Temporald__Token__Task *tok = pb_new(f, &temporald__token__task__descriptor);
    tok->namespace_id = (char *)NS;
    tok->workflow_id = (char *)"wf-1";
    tok->run_id = (char *)RUN;
    tok->scheduled_event_id = scheduled_id;
    tok->attempt = attempt;
    return tok;
}

void fx_act_start(fx_t *f, int64_t scheduled_id, int32_t attempt)
{
    td_ms_activity_started_t out;
    TD_CHECK_INT(td_ms_activity_record_started(f->ms, &f->t, scheduled_id, attempt, "act-poll",
                                               "worker-1", &out),
                 ==, TD_OK);
    TD_CHECK_INT(out.attempt, ==, attempt);
}

void fx_check_events(fx_t *f, int64_t first, size_t n, ...)
{
    va_list ap;
    if (f->t.n_events != n) {
        td_test_fail(__FILE__, __LINE__, "expected %zu events, got %zu (first type %d)", n,
                     f->t.n_events, f->t.n_events ? (int)f->t.events[0]->event_type : -1);
    }
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        int type = va_arg(ap, int);
        const td_ms_event_t *e = f->t.events[i];
        if (e->event_id != first + (int64_t)i || (int)e->event_type != type) {
            td_test_fail(__FILE__, __LINE__, "event %zu: id %lld type %d, expected id %lld type %d",
                         i, (long long)e->event_id, (int)e->event_type,
                         (long long)(first + (int64_t)i), type);
        }
        TD_CHECK(e->event_time != NULL);
        TD_CHECK(e->event_time->seconds > 0);
        TD_CHECK_INT(e->task_id, ==, f->t.task_id);
        TD_CHECK_INT(e->attributes_case, !=, 0);
    }
    va_end(ap);
}

int fx_find_task(const fx_t *f, td_ms_task_type_t type)
{
    for (size_t i = 0; i < f->t.n_tasks; i++) {
        if (f->t.tasks[i].type == type) {
            return (int)i;
        }
    }
    return -1;
}

const td_ms_task_t *fx_task(const fx_t *f, td_ms_task_type_t type)
{
    int i = fx_find_task(f, type);
    if (i < 0) {
        td_test_fail(__FILE__, __LINE__, "no task of type %d", (int)type);
    }
    return &f->t.tasks[i];
}

/* command namespaces are deprecated in the API; SDKs still send them */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

fx_cmd_t *fx_cmd_child(fx_t *f, const char *workflow_id, int policy)
{
    fx_cmd_t *c = pb_new(f, &temporal__api__command__v1__command__descriptor);
    Temporal__Api__Command__V1__StartChildWorkflowExecutionCommandAttributes *a = pb_new(
            f,
            &temporal__api__command__v1__start_child_workflow_execution_command_attributes__descriptor);
    c->command_type = CT(START_CHILD_WORKFLOW_EXECUTION);
    c->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_START_CHILD_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES;
    c->start_child_workflow_execution_command_attributes = a;
    a->namespace_ = (char *)"default";
    a->workflow_id = (char *)workflow_id;
    a->workflow_type = pb_new(f, &temporal__api__common__v1__workflow_type__descriptor);
    a->workflow_type->name = (char *)"Kid";
    a->input = fx_payloads(f, "\"kid-in\"");
    a->parent_close_policy = policy;
    return c;
}

fx_cmd_t *fx_cmd_signal_external(fx_t *f, const char *workflow_id, const char *signal)
{
    fx_cmd_t *c = pb_new(f, &temporal__api__command__v1__command__descriptor);
    Temporal__Api__Command__V1__SignalExternalWorkflowExecutionCommandAttributes *a = pb_new(
            f,
            &temporal__api__command__v1__signal_external_workflow_execution_command_attributes__descriptor);
    c->command_type = CT(SIGNAL_EXTERNAL_WORKFLOW_EXECUTION);
    c->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES;
    c->signal_external_workflow_execution_command_attributes = a;
    a->execution = pb_new(f, &temporal__api__common__v1__workflow_execution__descriptor);
    a->execution->workflow_id = (char *)workflow_id;
    a->signal_name = (char *)signal;
    a->input = fx_payloads(f, "1");
    return c;
}

fx_cmd_t *fx_cmd_cancel_external(fx_t *f, const char *workflow_id)
{
    fx_cmd_t *c = pb_new(f, &temporal__api__command__v1__command__descriptor);
    Temporal__Api__Command__V1__RequestCancelExternalWorkflowExecutionCommandAttributes *a = pb_new(
            f,
            &temporal__api__command__v1__request_cancel_external_workflow_execution_command_attributes__descriptor);
    c->command_type = CT(REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION);
    c->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES;
    c->request_cancel_external_workflow_execution_command_attributes = a;
    a->workflow_id = (char *)workflow_id;
    a->reason = (char *)"because";
    return c;
}

fx_cmd_t *fx_cmd_fail(fx_t *f, Temporal__Api__Failure__V1__Failure *failure)
{
    fx_cmd_t *c = pb_new(f, &temporal__api__command__v1__command__descriptor);
    c->command_type = CT(FAIL_WORKFLOW_EXECUTION);
    c->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_FAIL_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES;
    c->fail_workflow_execution_command_attributes = pb_new(
            f, &temporal__api__command__v1__fail_workflow_execution_command_attributes__descriptor);
    c->fail_workflow_execution_command_attributes->failure = failure;
    return c;
}

fx_cmd_t *fx_cmd_continue_as_new(fx_t *f, const char *input)
{
    fx_cmd_t *c = pb_new(f, &temporal__api__command__v1__command__descriptor);
    Temporal__Api__Command__V1__ContinueAsNewWorkflowExecutionCommandAttributes *a = pb_new(
            f,
            &temporal__api__command__v1__continue_as_new_workflow_execution_command_attributes__descriptor);
    c->command_type = CT(CONTINUE_AS_NEW_WORKFLOW_EXECUTION);
    c->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_CONTINUE_AS_NEW_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES;
    c->continue_as_new_workflow_execution_command_attributes = a;
    a->input = fx_payloads(f, input);
    return c;
}
