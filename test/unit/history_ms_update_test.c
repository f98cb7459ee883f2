/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutable state, workflow updates (ms_update.c): admission (a workflow task is scheduled when
 * none is pending; closed run, failing task, in-flight and total limits), the worker's
 * Acceptance / Response / Rejection messages in a completion (events in the order of the
 * PROTOCOL_MESSAGE commands, effects for the service, durable records across encode/decode),
 * malformed or unknown messages (BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE, state unchanged),
 * updates waiting for the next task (a new task; a close command is UnhandledUpdate).
 */
#include "history_ms_fixture.h"

#include "roles/history/ms/ms_reset.h"

#include <string.h>

#include "error.h"
#include "mem.h"

#define EV_ATTR(e, lower) ((e)->lower##_event_attributes)

typedef Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest complete_req_t;
typedef Temporal__Api__Protocol__V1__Message msg_t;

static void *unew(fx_t *f, const ProtobufCMessageDescriptor *d)
{
    void *m = td_arena_alloc(&f->arena, d->sizeof_message);
    d->message_init(m);
    return m;
}

static Temporal__Api__Update__V1__Request *req_of(fx_t *f, const char *id, const char *arg)
{
    Temporal__Api__Update__V1__Request *r =
            unew(f, &temporal__api__update__v1__request__descriptor);
    r->meta = unew(f, &temporal__api__update__v1__meta__descriptor);
    r->meta->update_id = (char *)id;
    r->meta->identity = (char *)"client";
    r->input = unew(f, &temporal__api__update__v1__input__descriptor);
    r->input->name = (char *)"setValue";
    r->input->args = fx_payloads(f, arg);
    return r;
}

/* A protocol message `id` of update `uid` whose body is `body` packed into an Any. */
static msg_t *msg_of(fx_t *f, const char *id, const char *uid, const ProtobufCMessage *body)
{
    msg_t *m = unew(f, &temporal__api__protocol__v1__message__descriptor);
    Google__Protobuf__Any *any = unew(f, &google__protobuf__any__descriptor);
    size_t n = protobuf_c_message_get_packed_size(body);

    any->type_url = td_arena_printf(&f->arena, "type.googleapis.com/%s", body->descriptor->name);
    any->value.data = td_arena_alloc(&f->arena, n + 1);
    any->value.len = protobuf_c_message_pack(body, any->value.data);
    m->id = (char *)id;
    m->protocol_instance_id = (char *)uid;
    m->body = any;
    return m;
}

static msg_t *accept_msg(fx_t *f, const char *uid, int64_t seq)
{
    Temporal__Api__Update__V1__Acceptance *a =
            unew(f, &temporal__api__update__v1__acceptance__descriptor);
    a->accepted_request_message_id = td_arena_printf(&f->arena, "%s/request", uid);
    a->accepted_request_sequencing_event_id = seq;
    return msg_of(f, td_arena_printf(&f->arena, "%s/accept", uid), uid, &a->base);
}

static msg_t *reject_msg(fx_t *f, const char *uid, const char *why)
{
    Temporal__Api__Update__V1__Rejection *r =
            unew(f, &temporal__api__update__v1__rejection__descriptor);
    r->failure = unew(f, &temporal__api__failure__v1__failure__descriptor);
    r->failure->message = (char *)why;
    return msg_of(f, td_arena_printf(&f->arena, "%s/reject", uid), uid, &r->base);
}

static msg_t *complete_msg(fx_t *f, const char *uid, const char *result)
{
    Temporal__Api__Update__V1__Response *r =
            unew(f, &temporal__api__update__v1__response__descriptor);
    r->meta = unew(f, &temporal__api__update__v1__meta__descriptor);
    r->meta->update_id = (char *)uid;
    r->outcome = unew(f, &temporal__api__update__v1__outcome__descriptor);
    r->outcome->value_case = TEMPORAL__API__UPDATE__V1__OUTCOME__VALUE_SUCCESS;
    r->outcome->success = fx_payloads(f, result);
    return msg_of(f, td_arena_printf(&f->arena, "%s/complete", uid), uid, &r->base);
}

static fx_cmd_t *cmd_msg(fx_t *f, const char *message_id)
{
    fx_cmd_t *c = unew(f, &temporal__api__command__v1__command__descriptor);
    Temporal__Api__Command__V1__ProtocolMessageCommandAttributes *a =
            unew(f, &temporal__api__command__v1__protocol_message_command_attributes__descriptor);
    c->command_type = CT(PROTOCOL_MESSAGE);
    c->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_PROTOCOL_MESSAGE_COMMAND_ATTRIBUTES;
    c->protocol_message_command_attributes = a;
    a->message_id = (char *)message_id;
    return c;
}

static void add_msgs(fx_t *f, complete_req_t *r, size_t n, msg_t **v)
{
    r->n_messages = n;
    r->messages = td_arena_alloc(&f->arena, (n + 1) * sizeof(*r->messages));
    memcpy(r->messages, v, n * sizeof(*v));
}

/* The service's view for the next completion: these requests are held for the run. */
static td_ms_update_req_t *held(fx_t *f, size_t n, td_ms_update_req_t *v, int unsent)
{
    f->t.update_reqs = v;
    f->t.n_update_reqs = n;
    f->t.updates_unsent = unsent;
    return v;
}

/* Started run "wf-1" whose first task completed with no command (events 1..4), no task. */
static void idle_run(fx_t *f)
{
    fx_start(f);
    fx_txn(f, SEC(1));
    fx_poll(f);
    fx_txn(f, SEC(1));
    TD_CHECK_INT(fx_complete(f, fx_complete_req(f, 0), NULL), ==, TD_OK);
    TD_CHECK_INT(f->ms->wft.scheduled_id, ==, 0);
}

TD_TEST(history_ms_update_accept_and_complete_in_one_task)
{
    fx_t f;
    complete_req_t *r;
    td_ms_update_req_t reqs[1];
    const Temporal__Api__History__V1__WorkflowExecutionUpdateAcceptedEventAttributes *acc;
    const Temporal__Api__History__V1__WorkflowExecutionUpdateCompletedEventAttributes *comp;
    uint8_t *blob = NULL;
    size_t len = 0;
    td_ms_t *copy = NULL;

    fx_init(&f);
    idle_run(&f);
    /* No task pending: admission schedules one (a normal task: event 5). */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_update_admit(f.ms, &f.t, 0), ==, TD_OK);
    fx_check_events(&f, 5, 1, ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_WORKFLOW_TASK) >= 0);
    /* A second admission while the task is pending adds nothing. */
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_update_admit(f.ms, &f.t, 1), ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 0);

    fx_txn(&f, SEC(1));
    fx_poll(&f); /* started: 6 */
    fx_txn(&f, SEC(1));
    reqs[0] = (td_ms_update_req_t){ "u1", req_of(&f, "u1", "a") };
    held(&f, 1, reqs, 0);
    r = fx_complete_req(&f, 3, cmd_msg(&f, "u1/accept"), fx_cmd_marker(&f, "between"),
                        cmd_msg(&f, "u1/complete"));
    add_msgs(&f, r, 2, (msg_t *[]){ complete_msg(&f, "u1", "old"), accept_msg(&f, "u1", 5) });
    TD_CHECK_INT(fx_complete(&f, r, NULL), ==, TD_OK);
    /* In command order, whatever the message order. */
    fx_check_events(&f, 7, 4, ET(WORKFLOW_TASK_COMPLETED), ET(WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
                    ET(MARKER_RECORDED), ET(WORKFLOW_EXECUTION_UPDATE_COMPLETED));
    acc = EV_ATTR(f.t.events[1], workflow_execution_update_accepted);
    TD_CHECK_STR(acc->protocol_instance_id, "u1");
    TD_CHECK_STR(acc->accepted_request_message_id, "u1/request");
    TD_CHECK_INT(acc->accepted_request_sequencing_event_id, ==, 5);
    TD_CHECK(acc->accepted_request != NULL);
    TD_CHECK_STR(acc->accepted_request->input->name, "setValue");
    comp = EV_ATTR(f.t.events[3], workflow_execution_update_completed);
    TD_CHECK_INT(comp->accepted_event_id, ==, 8);
    TD_CHECK_STR(comp->meta->update_id, "u1");
    TD_CHECK_INT(comp->outcome->value_case, ==, TEMPORAL__API__UPDATE__V1__OUTCOME__VALUE_SUCCESS);
    /* Effects for the service. */
    TD_CHECK_INT(f.t.n_update_effects, ==, 2);
    TD_CHECK_INT(f.t.update_effects[0].kind, ==, TD_MS_UPDATE_ACCEPTED);
    TD_CHECK_INT(f.t.update_effects[0].event_id, ==, 8);
    TD_CHECK_INT(f.t.update_effects[1].kind, ==, TD_MS_UPDATE_COMPLETED);
    TD_CHECK_INT(f.t.update_effects[1].event_id, ==, 10);
    TD_CHECK(f.t.update_effects[1].outcome != NULL);
    /* Durable: the record survives encode/decode. */
    TD_CHECK_INT(td_ms_update_find(f.ms, "u1")->accepted_id, ==, 8);
    TD_CHECK_INT(td_ms_update_find(f.ms, "u1")->completed_id, ==, 10);
    TD_CHECK_INT((int)td_ms_update_inflight(f.ms), ==, 0);
    TD_CHECK_INT(td_ms_encode(f.ms, &f.arena, &blob, &len), ==, TD_OK);
    TD_CHECK_INT(td_ms_decode(blob, len, &copy), ==, TD_OK);
    TD_CHECK_INT((int)copy->n_updates, ==, 1);
    TD_CHECK_STR(copy->updates[0].update_id, "u1");
    TD_CHECK_INT(copy->updates[0].accepted_id, ==, 8);
    TD_CHECK_INT(copy->updates[0].completed_id, ==, 10);
    td_ms_free(copy);
    fx_free(&f);
}

TD_TEST(history_ms_update_reject_and_later_response)
{
    fx_t f;
    complete_req_t *r;
    td_ms_update_req_t reqs[2];

    fx_init(&f);
    idle_run(&f);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_update_admit(f.ms, &f.t, 0), ==, TD_OK);
    fx_txn(&f, SEC(1));
    fx_poll(&f); /* 5, 6 */
    fx_txn(&f, SEC(1));
    reqs[0] = (td_ms_update_req_t){ "good", req_of(&f, "good", "1") };
    reqs[1] = (td_ms_update_req_t){ "bad", req_of(&f, "bad", "2") };
    held(&f, 2, reqs, 0);
    r = fx_complete_req(&f, 1, cmd_msg(&f, "good/accept"));
    /* The rejection has no command: processed after the commands, no event. */
    add_msgs(&f, r, 2, (msg_t *[]){ reject_msg(&f, "bad", "invalid"), accept_msg(&f, "good", 5) });
    TD_CHECK_INT(fx_complete(&f, r, NULL), ==, TD_OK);
    fx_check_events(&f, 7, 2, ET(WORKFLOW_TASK_COMPLETED), ET(WORKFLOW_EXECUTION_UPDATE_ACCEPTED));
    TD_CHECK_INT(f.t.n_update_effects, ==, 2);
    TD_CHECK_INT(f.t.update_effects[0].kind, ==, TD_MS_UPDATE_ACCEPTED);
    TD_CHECK_INT(f.t.update_effects[1].kind, ==, TD_MS_UPDATE_REJECTED);
    TD_CHECK_STR(f.t.update_effects[1].update_id, "bad");
    TD_CHECK_STR(f.t.update_effects[1].failure->message, "invalid");
    TD_CHECK(td_ms_update_find(f.ms, "bad") == NULL);
    TD_CHECK_INT((int)td_ms_update_inflight(f.ms), ==, 1);

    /* A later task completes it (a signal woke the workflow). */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_signal(f.ms, &f.t, "release", NULL, "client", NULL, "s1"), ==, TD_OK);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    r = fx_complete_req(&f, 1, cmd_msg(&f, "good/complete"));
    add_msgs(&f, r, 1, (msg_t *[]){ complete_msg(&f, "good", "done") });
    TD_CHECK_INT(fx_complete(&f, r, NULL), ==, TD_OK);
    TD_CHECK_INT(f.t.n_events, ==, 2);
    TD_CHECK_INT(f.t.events[1]->event_type, ==, ET(WORKFLOW_EXECUTION_UPDATE_COMPLETED));
    TD_CHECK_INT(EV_ATTR(f.t.events[1], workflow_execution_update_completed)->accepted_event_id, ==,
                 8);
    TD_CHECK_INT((int)td_ms_update_inflight(f.ms), ==, 0);
    fx_free(&f);
}

TD_TEST(history_ms_update_bad_messages_fail_the_task)
{
    fx_t f;
    complete_req_t *r;
    td_ms_update_req_t reqs[1];
    int64_t next;

    fx_init(&f);
    idle_run(&f);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_update_admit(f.ms, &f.t, 0), ==, TD_OK);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    next = f.ms->next_event_id;

    /* Acceptance of an update the service does not hold (e.g. lost in a restart). */
    fx_txn(&f, SEC(1));
    held(&f, 0, NULL, 0);
    r = fx_complete_req(&f, 1, cmd_msg(&f, "ghost/accept"));
    add_msgs(&f, r, 1, (msg_t *[]){ accept_msg(&f, "ghost", 5) });
    TD_CHECK_INT(fx_complete(&f, r, NULL), ==, TD_EINVAL);
    TD_CHECK_INT(f.t.cause, ==, CAUSE(BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE));
    TD_CHECK_INT(f.t.n_update_effects, ==, 0);
    /* The task failed (WorkflowTaskFailed + a new task); no update record. */
    TD_CHECK_INT(f.t.events[0]->event_type, ==, ET(WORKFLOW_TASK_FAILED));
    TD_CHECK(td_ms_update_find(f.ms, "ghost") == NULL);
    TD_CHECK(f.ms->next_event_id > next);

    /* A Response for an update that was never accepted (transient attempt: nothing written). */
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    reqs[0] = (td_ms_update_req_t){ "u2", req_of(&f, "u2", "x") };
    held(&f, 1, reqs, 0);
    r = fx_complete_req(&f, 1, cmd_msg(&f, "u2/complete"));
    add_msgs(&f, r, 1, (msg_t *[]){ complete_msg(&f, "u2", "r") });
    TD_CHECK_INT(fx_complete(&f, r, NULL), ==, TD_EINVAL);
    TD_CHECK_INT(f.t.cause, ==, CAUSE(BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE));
    TD_CHECK(td_ms_update_find(f.ms, "u2") == NULL);

    /* A command naming a message that is not there. */
    fx_txn(&f, SEC(1));
    held(&f, 1, reqs, 0);
    r = fx_complete_req(&f, 1, cmd_msg(&f, "u2/accept"));
    TD_CHECK_INT(fx_complete(&f, r, NULL), ==, TD_EINVAL);
    TD_CHECK_INT(f.t.cause, ==, CAUSE(BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE));
    fx_free(&f);
}

TD_TEST(history_ms_update_unsent_requests_need_a_task)
{
    fx_t f;
    complete_req_t *r;
    td_ms_update_req_t reqs[1];

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, SEC(1));
    fx_poll(&f); /* 3 */
    /* An update arrived while the task ran: the completion schedules the next task. */
    fx_txn(&f, SEC(1));
    reqs[0] = (td_ms_update_req_t){ "late", req_of(&f, "late", "1") };
    held(&f, 1, reqs, 1);
    TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 0), NULL), ==, TD_OK);
    fx_check_events(&f, 4, 2, ET(WORKFLOW_TASK_COMPLETED), ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK(fx_find_task(&f, TD_MS_TASK_WORKFLOW_TASK) >= 0);

    /* The workflow may not close while the update waits for it: UnhandledUpdate. */
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    held(&f, 1, reqs, 1);
    r = fx_complete_req(&f, 1, fx_cmd_complete(&f, "done"));
    TD_CHECK_INT(fx_complete(&f, r, NULL), ==, TD_EINVAL);
    TD_CHECK_INT(f.t.cause, ==, CAUSE(UNHANDLED_UPDATE));
    TD_CHECK_INT(f.ms->state, ==, TD_MS_STATE_RUNNING);
    TD_CHECK_INT(f.ms->wft.attempt, ==, 1); /* not the worker's fault: a fresh attempt */
    TD_CHECK(f.ms->wft.scheduled_id != 0);
    fx_free(&f);
}

TD_TEST(history_ms_update_admission_checks)
{
    fx_t f;
    complete_req_t *r;
    td_ms_update_req_t reqs[10];
    msg_t *msgs[10];
    fx_cmd_t *cmds[10];

    fx_init(&f);
    idle_run(&f);
    /* In-flight limit: held requests and accepted updates count together. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_update_admit(f.ms, &f.t, TD_MS_UPDATE_MAX_INFLIGHT), ==, TD_ELIMIT);
    TD_CHECK(strstr(f.t.msg, "in-flight updates") != NULL);
    TD_CHECK_INT(f.t.n_events, ==, 0);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_update_admit(f.ms, &f.t, 0), ==, TD_OK);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    fx_txn(&f, SEC(1));
    for (int i = 0; i < 10; i++) {
        const char *id = td_arena_printf(&f.arena, "a%d", i);
        reqs[i] = (td_ms_update_req_t){ id, req_of(&f, id, "v") };
        msgs[i] = accept_msg(&f, id, 5);
        cmds[i] = cmd_msg(&f, msgs[i]->id);
    }
    held(&f, 10, reqs, 0);
    r = fx_complete_req(&f, 0);
    r->n_commands = 10;
    r->commands = cmds;
    add_msgs(&f, r, 10, msgs);
    TD_CHECK_INT(fx_complete(&f, r, NULL), ==, TD_OK);
    TD_CHECK_INT((int)td_ms_update_inflight(f.ms), ==, 10);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_update_admit(f.ms, &f.t, 0), ==, TD_ELIMIT);
    /* The total limit counts every accepted update, completed or not. */
    {
        size_t n0 = f.ms->n_updates;
        f.ms->updates = td_realloc(f.ms->updates, TD_MS_UPDATE_MAX_TOTAL * sizeof(*f.ms->updates));
        for (size_t i = n0; i < TD_MS_UPDATE_MAX_TOTAL; i++) {
            f.ms->updates[i].update_id = td_strdup(td_arena_printf(&f.arena, "old-%zu", i));
            f.ms->updates[i].accepted_id = 1000 + (int64_t)i;
            f.ms->updates[i].completed_id = 5000 + (int64_t)i;
        }
        f.ms->n_updates = TD_MS_UPDATE_MAX_TOTAL;
        for (size_t i = 0; i < n0; i++) {
            f.ms->updates[i].completed_id = 4000 + (int64_t)i; /* none in flight now */
        }
        fx_txn(&f, SEC(1));
        TD_CHECK_INT(td_ms_update_admit(f.ms, &f.t, 0), ==, TD_EPRECOND);
        TD_CHECK(strstr(f.t.msg, "total updates has been reached (2000)") != NULL);
    }
    /* A closed run refuses with Temporal's wording. */
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_terminate(f.ms, &f.t, "stop", NULL, "op"), ==, TD_OK);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_update_admit(f.ms, &f.t, 0), ==, TD_ENOTFOUND);
    TD_CHECK_STR(f.t.msg, "workflow execution already completed");
    /* The records stay for deduplication after the close. */
    TD_CHECK(td_ms_update_find(f.ms, "a3") != NULL);
    fx_free(&f);
}

TD_TEST(history_ms_update_failing_task_refuses_updates)
{
    fx_t f;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskFailedRequest *fr;

    fx_init(&f);
    fx_start(&f);
    fr = unew(
            &f,
            &temporal__api__workflowservice__v1__respond_workflow_task_failed_request__descriptor);
    for (int i = 0; i < 2; i++) {
        fx_txn(&f, SEC(1));
        fx_poll(&f);
        fx_txn(&f, SEC(1));
        TD_CHECK_INT(td_ms_wft_fail(f.ms, &f.t, f.wft_tok, fr), ==, TD_OK);
    }
    TD_CHECK_INT(f.ms->wft.attempt, ==, 3);
    fx_txn(&f, SEC(1));
    TD_CHECK_INT(td_ms_update_admit(f.ms, &f.t, 0), ==, TD_EPRECOND);
    TD_CHECK(strstr(f.t.msg, "Workflow Task in failed state") != NULL);
    fx_free(&f);
}

/* Appends the current txn's events to v (they live in f->arena until fx_free). */
static void keep(fx_t *f, td_ms_event_t **v, size_t *n)
{
    for (size_t i = 0; i < f->t.n_events; i++) {
        v[(*n)++] = f->t.events[i];
    }
}

TD_TEST(history_ms_update_replay_rebuilds_records)
{
    fx_t f;
    complete_req_t *r;
    td_ms_update_req_t reqs[2];
    td_ms_event_t *ev[32];
    size_t n = 0;
    td_ms_t *copy = NULL;
    td_ms_txn_t t2;

    fx_init(&f);
    fx_start(&f);
    keep(&f, ev, &n);
    fx_txn(&f, SEC(1));
    fx_poll(&f);
    keep(&f, ev, &n);
    fx_txn(&f, SEC(1));
    reqs[0] = (td_ms_update_req_t){ "done", req_of(&f, "done", "1") };
    reqs[1] = (td_ms_update_req_t){ "open", req_of(&f, "open", "2") };
    held(&f, 2, reqs, 0);
    r = fx_complete_req(&f, 3, cmd_msg(&f, "done/accept"), cmd_msg(&f, "done/complete"),
                        cmd_msg(&f, "open/accept"));
    add_msgs(&f, r, 3,
             (msg_t *[]){ accept_msg(&f, "done", 2), complete_msg(&f, "done", "x"),
                          accept_msg(&f, "open", 2) });
    TD_CHECK_INT(fx_complete(&f, r, NULL), ==, TD_OK);
    keep(&f, ev, &n);
    TD_CHECK_INT((int)n, ==, 7);

    td_ms_txn_init(&t2, &f.arena, f.now);
    TD_CHECK_INT(
            td_ms_replay(&t2, ev, n, NS, "wf-1", "4d6f1b4c-0000-4000-8000-0000000000bb", &copy), ==,
            TD_OK);
    TD_CHECK_INT((int)copy->n_updates, ==, 2);
    TD_CHECK_INT(td_ms_update_find(copy, "done")->accepted_id, ==, 5);
    TD_CHECK_INT(td_ms_update_find(copy, "done")->completed_id, ==, 6);
    TD_CHECK_INT(td_ms_update_find(copy, "open")->accepted_id, ==, 7);
    TD_CHECK_INT(td_ms_update_find(copy, "open")->completed_id, ==, 0);
    td_ms_free(copy);

    /* A completed event for an update never accepted is refused. */
    td_ms_txn_init(&t2, &f.arena, f.now);
    {
        td_ms_event_t *c = td_arena_alloc(&f.arena, sizeof(*c));
        *c = *ev[5];
        c->event_id = 5;
        ev[4] = c;
    }
    TD_CHECK_INT(
            td_ms_replay(&t2, ev, 5, NS, "wf-1", "4d6f1b4c-0000-4000-8000-0000000000bb", &copy), !=,
            TD_OK);
    td_ms_free(copy);
    fx_free(&f);
}
