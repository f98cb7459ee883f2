/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutable state persistence (td_ms_encode/td_ms_decode, task records) and task tokens
 * (Temporal-compatible field numbers, strict decoding).
 */
#include "history_ms_fixture.h"

#include <string.h>

/* A run with a bit of everything: activity in flight with heartbeat details and a retry
 * policy, a timer, a started workflow task with a buffered signal, stickiness, memo. */
static void busy_run(fx_t *f)
{
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req;
    Temporal__Api__Taskqueue__V1__StickyExecutionAttributes *sticky;
    Temporal__Api__Taskqueue__V1__TaskQueue *stq;
    int cancel;

    fx_init(f);
    fx_start(f);
    fx_txn(f, 0);
    fx_poll(f);
    sticky = td_arena_calloc(&f->arena, sizeof(*sticky));
    temporal__api__taskqueue__v1__sticky_execution_attributes__init(sticky);
    stq = td_arena_calloc(&f->arena, sizeof(*stq));
    temporal__api__taskqueue__v1__task_queue__init(stq);
    stq->name = (char *)"sticky-1";
    sticky->worker_task_queue = stq;
    req = fx_complete_req(f, 2, fx_cmd_activity(f, "a", SEC(30), 5),
                          fx_cmd_timer(f, "t", SEC(100)));
    req->sticky_attributes = sticky;
    fx_txn(f, SEC(1));
    TD_CHECK_INT(fx_complete(f, req, NULL), ==, TD_OK);
    fx_txn(f, SEC(1));
    fx_act_start(f, 5, 1);
    TD_CHECK_INT(td_ms_activity_heartbeat(f->ms, &f->t, fx_act_tok(f, 5, 1), fx_payloads(f, "hb"),
                                          &cancel),
                 ==, TD_OK);
    TD_CHECK_INT(td_ms_signal(f->ms, &f->t, "s1", NULL, "c", NULL, "sig-req-1"), ==, TD_OK);
    fx_txn(f, SEC(1));
    fx_poll_kind(f, TQK(STICKY));
    TD_CHECK_INT(td_ms_signal(f->ms, &f->t, "s2", fx_payloads(f, "x"), "c", NULL, "sig-req-2"), ==,
                 TD_OK);
    f->ms->db_record_version = 7;
}

TD_TEST(history_ms_encode_decode_round_trip)
{
    fx_t f;
    uint8_t *b1, *b2;
    size_t n1, n2;
    td_ms_t *back = NULL;
    const td_ms_activity_t *ai;

    busy_run(&f);
    TD_CHECK_INT(td_ms_encode(f.ms, &f.arena, &b1, &n1), ==, TD_OK);
    TD_CHECK_INT(td_ms_decode(b1, n1, &back), ==, TD_OK);
    TD_CHECK_INT(td_ms_encode(back, &f.arena, &b2, &n2), ==, TD_OK);
    TD_CHECK_INT(n1, ==, n2);
    TD_CHECK(memcmp(b1, b2, n1) == 0);

    TD_CHECK_STR(back->namespace_id, NS);
    TD_CHECK_STR(back->workflow_id, "wf-1");
    TD_CHECK_STR(back->run_id, RUN);
    TD_CHECK_STR(back->workflow_type, "Greet");
    TD_CHECK_STR(back->task_queue, "tq");
    TD_CHECK_STR(back->sticky_task_queue, "sticky-1");
    TD_CHECK_INT(back->next_event_id, ==, f.ms->next_event_id);
    TD_CHECK_INT(back->previous_started_event_id, ==, 3);
    TD_CHECK_INT(back->db_record_version, ==, 7);
    TD_CHECK_INT(back->task_timeout, ==, SEC(10));
    TD_CHECK_INT(back->wft.scheduled_id, ==, f.ms->wft.scheduled_id);
    TD_CHECK_INT(back->wft.started_id, ==, f.ms->wft.started_id);
    TD_CHECK_INT(back->wft.task_queue_kind, ==, TQK(STICKY));
    TD_CHECK_STR(back->wft.request_id, "poll-req");
    TD_CHECK_INT(back->n_buffered, ==, 1);
    TD_CHECK_INT(back->n_signal_request_ids, ==, 2);
    TD_CHECK_INT(back->n_timers, ==, 1);
    TD_CHECK_STR(back->timers[0].timer_id, "t");
    TD_CHECK_INT(back->n_activities, ==, 1);
    ai = td_ms_activity_find(back, 5);
    TD_CHECK(ai != NULL);
    TD_CHECK_STR(ai->activity_id, "a");
    TD_CHECK(ai->started);
    TD_CHECK_INT(ai->retry.maximum_attempts, ==, 5);
    TD_CHECK_INT(ai->retry.initial_interval, ==, SEC(1));
    TD_CHECK(ai->heartbeat_details.len > 0);
    TD_CHECK_INT(ai->start_to_close, ==, SEC(30));

    /* The decoded state behaves like the original: the buffered signal is flushed. */
    {
        td_ms_t *orig = f.ms;
        f.ms = back;
        f.wft_tok->attempt = back->wft.attempt;
        fx_txn(&f, SEC(1));
        TD_CHECK_INT(fx_complete(&f, fx_complete_req(&f, 0), NULL), ==, TD_OK);
        TD_CHECK_INT(f.t.n_events, ==, 3);
        TD_CHECK_INT(f.t.events[1]->event_type, ==, ET(WORKFLOW_EXECUTION_SIGNALED));
        TD_CHECK_STR(f.t.events[1]->workflow_execution_signaled_event_attributes->signal_name,
                     "s2");
        f.ms = orig;
    }
    td_ms_free(back);

    /* Garbage and truncation are rejected. */
    TD_CHECK_INT(td_ms_decode((const uint8_t *)"\xff\xff\xff", 3, &back), ==, TD_EINVAL);
    TD_CHECK(back == NULL);
    TD_CHECK_INT(td_ms_decode(b1, n1 / 2, &back), ==, TD_EINVAL);
    TD_CHECK_INT(td_ms_decode(b1, 0, &back), ==, TD_EINVAL);
    fx_free(&f);
}

TD_TEST(history_ms_task_record_round_trip)
{
    fx_t f;
    uint8_t *b;
    size_t n;
    td_ms_task_t in = { .type = TD_MS_TASK_USER_TIMER,
                        .fire_time = T0 + 5,
                        .event_id = 9,
                        .attempt = 3,
                        .timeout_type = TO(HEARTBEAT),
                        .task_queue = "q",
                        .task_queue_kind = TQK(STICKY),
                        .schedule_to_start = SEC(2),
                        .timer_id = "timer-9" };
    td_ms_task_t out;

    fx_init(&f);
    TD_CHECK_INT(td_ms_task_encode(&in, &f.arena, &b, &n), ==, TD_OK);
    TD_CHECK_INT(td_ms_task_decode(b, n, &f.arena, &out), ==, TD_OK);
    TD_CHECK_INT(out.type, ==, in.type);
    TD_CHECK_INT(out.fire_time, ==, in.fire_time);
    TD_CHECK_INT(out.event_id, ==, 9);
    TD_CHECK_INT(out.attempt, ==, 3);
    TD_CHECK_INT(out.timeout_type, ==, TO(HEARTBEAT));
    TD_CHECK_STR(out.task_queue, "q");
    TD_CHECK_INT(out.task_queue_kind, ==, TQK(STICKY));
    TD_CHECK_INT(out.schedule_to_start, ==, SEC(2));
    TD_CHECK_STR(out.timer_id, "timer-9");
    TD_CHECK_INT(td_ms_task_category(out.type), ==, TD_MS_CAT_TIMER);
    TD_CHECK_INT(td_ms_task_category(TD_MS_TASK_VIS_CLOSE), ==, TD_MS_CAT_VISIBILITY);
    TD_CHECK_INT(td_ms_task_decode((const uint8_t *)"\x08\x63", 2, &f.arena, &out), ==,
                 TD_EINVAL); /* type 99 */
    fx_free(&f);
}

TD_TEST(history_ms_relation_records_round_trip)
{
    fx_t f;
    uint8_t *b;
    size_t n;
    td_ms_task_t in = { .type = TD_MS_TASK_NOTIFY_PARENT,
                        .event_id = 5,
                        .target_namespace_id = NS,
                        .target_workflow_id = "parent",
                        .target_run_id = RUN,
                        .policy = 3,
                        .ref_event_id = 12 };
    td_ms_task_t out;
    td_ms_parent_t p = { "default", NS, "parent", RUN, 5, "root", "root-run" };
    td_ms_t *copy = NULL;
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *r;

    fx_init(&f);
    TD_CHECK_INT(td_ms_task_encode(&in, &f.arena, &b, &n), ==, TD_OK);
    TD_CHECK_INT(td_ms_task_decode(b, n, &f.arena, &out), ==, TD_OK);
    TD_CHECK_INT(out.type, ==, TD_MS_TASK_NOTIFY_PARENT);
    TD_CHECK_STR(out.target_namespace_id, NS);
    TD_CHECK_STR(out.target_workflow_id, "parent");
    TD_CHECK_STR(out.target_run_id, RUN);
    TD_CHECK_INT(out.policy, ==, 3);
    TD_CHECK_INT(out.ref_event_id, ==, 12);
    TD_CHECK_INT(td_ms_task_category(TD_MS_TASK_PARENT_CLOSE_POLICY), ==, TD_MS_CAT_TRANSFER);

    /* a child run with a retry policy and a cron schedule: parent, root, start attributes */
    r = fx_start_req(&f);
    r->cron_schedule = (char *)"@daily";
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_start_child(&f.t, r, NS, "child-run", &p, &f.ms), ==, TD_OK);
    TD_CHECK_STR(f.t.events[0]
                         ->workflow_execution_started_event_attributes->root_workflow_execution
                         ->workflow_id,
                 "root");
    TD_CHECK_INT(td_ms_encode(f.ms, &f.arena, &b, &n), ==, TD_OK);
    TD_CHECK_INT(td_ms_decode(b, n, &copy), ==, TD_OK);
    TD_CHECK_STR(copy->parent_namespace, "default");
    TD_CHECK_STR(copy->parent_namespace_id, NS);
    TD_CHECK_STR(copy->parent_workflow_id, "parent");
    TD_CHECK_STR(copy->parent_run_id, RUN);
    TD_CHECK_INT(copy->parent_initiated_id, ==, 5);
    TD_CHECK_STR(copy->root_workflow_id, "root");
    TD_CHECK_STR(copy->root_run_id, "root-run");
    TD_CHECK_STR(copy->cron_schedule, "@daily");
    TD_CHECK_INT(copy->start_attrs.len, ==, f.ms->start_attrs.len);
    TD_CHECK(copy->start_attrs.len > 0);
    TD_CHECK(memcmp(copy->start_attrs.data, f.ms->start_attrs.data, copy->start_attrs.len) == 0);
    td_ms_free(copy);
    fx_free(&f);
}

TD_TEST(history_ms_token_round_trip_and_strictness)
{
    fx_t f;
    Temporald__Token__Task tok = TEMPORALD__TOKEN__TASK__INIT, *back;
    Temporald__Token__QueryTask q = TEMPORALD__TOKEN__QUERY_TASK__INIT, *qback;
    ProtobufCBinaryData b;
    /* A token built by hand in Temporal's format: 1 namespace_id, 2 workflow_id, 3 run_id,
     * 4 scheduled_event_id = 5, 5 attempt = 1, 6 activity_id, 9 clock (a message). */
    static const uint8_t foreign[] = { 0x0a, 0x02, 'n', 's',  0x12, 0x02, 'w',  'f',
                                       0x1a, 0x02, 'r', 'n',  0x20, 0x05, 0x28, 0x01,
                                       0x32, 0x01, 'a', 0x4a, 0x02, 0x08, 0x01 };

    fx_init(&f);
    tok.namespace_id = (char *)NS;
    tok.workflow_id = (char *)"wf";
    tok.run_id = (char *)RUN;
    tok.scheduled_event_id = 12;
    tok.attempt = 2;
    tok.started_event_id = 13;
    tok.activity_attempt_stamp = 4;
    TD_CHECK_INT(td_ms_token_encode(&tok, &f.arena, &b), ==, TD_OK);
    TD_CHECK_INT(td_ms_token_decode(b.data, b.len, &f.arena, &back), ==, TD_OK);
    TD_CHECK_STR(back->namespace_id, NS);
    TD_CHECK_INT(back->scheduled_event_id, ==, 12);
    TD_CHECK_INT(back->attempt, ==, 2);
    TD_CHECK_INT(back->started_event_id, ==, 13);
    TD_CHECK_INT(back->activity_attempt_stamp, ==, 4);

    TD_CHECK_INT(td_ms_token_decode(foreign, sizeof(foreign), &f.arena, &back), ==, TD_OK);
    TD_CHECK_STR(back->workflow_id, "wf");
    TD_CHECK_INT(back->scheduled_event_id, ==, 5);
    TD_CHECK_STR(back->activity_id, "a");
    TD_CHECK_INT(back->clock.len, ==, 2);

    /* Malformed: empty, garbage, missing ids, negative attempt, oversized. */
    TD_CHECK_INT(td_ms_token_decode(NULL, 0, &f.arena, &back), ==, TD_EINVAL);
    TD_CHECK_INT(td_ms_token_decode((const uint8_t *)"\xff\x01", 2, &f.arena, &back), ==,
                 TD_EINVAL);
    TD_CHECK(back == NULL);
    tok.run_id = (char *)"";
    TD_CHECK_INT(td_ms_token_encode(&tok, &f.arena, &b), ==, TD_OK);
    TD_CHECK_INT(td_ms_token_decode(b.data, b.len, &f.arena, &back), ==, TD_EINVAL);
    tok.run_id = (char *)RUN;
    tok.attempt = -1;
    TD_CHECK_INT(td_ms_token_encode(&tok, &f.arena, &b), ==, TD_OK);
    TD_CHECK_INT(td_ms_token_decode(b.data, b.len, &f.arena, &back), ==, TD_EINVAL);
    tok.attempt = 1;
    tok.scheduled_event_id = 0; /* and no activity id */
    TD_CHECK_INT(td_ms_token_encode(&tok, &f.arena, &b), ==, TD_OK);
    TD_CHECK_INT(td_ms_token_decode(b.data, b.len, &f.arena, &back), ==, TD_EINVAL);
    TD_CHECK_INT(td_ms_token_decode(b.data, TD_MS_TOKEN_MAX + 1, &f.arena, &back), ==, TD_EINVAL);
    /* A string with a NUL inside would be cut short: rejected. */
    {
        static const uint8_t nul[] = { 0x0a, 0x02, 'n',  's', 0x12, 0x03, 'w', 0x00,
                                       'x',  0x1a, 0x02, 'r', 'n',  0x20, 0x05 };
        TD_CHECK_INT(td_ms_token_decode(nul, sizeof(nul), &f.arena, &back), ==, TD_EINVAL);
        TD_CHECK_INT(td_ms_token_decode(nul, 6, &f.arena, &back), ==, TD_EINVAL); /* truncated */
    }

    q.namespace_id = (char *)NS;
    q.task_queue = (char *)"tq";
    q.task_id = (char *)"q-1";
    TD_CHECK_INT(td_ms_query_token_encode(&q, &f.arena, &b), ==, TD_OK);
    TD_CHECK_INT(td_ms_query_token_decode(b.data, b.len, &f.arena, &qback), ==, TD_OK);
    TD_CHECK_STR(qback->task_id, "q-1");
    q.task_id = (char *)"";
    TD_CHECK_INT(td_ms_query_token_encode(&q, &f.arena, &b), ==, TD_OK);
    TD_CHECK_INT(td_ms_query_token_decode(b.data, b.len, &f.arena, &qback), ==, TD_EINVAL);
    fx_free(&f);
}

TD_TEST(history_ms_tokens_from_transitions)
{
    fx_t f;
    td_ms_activity_started_t as;
    Temporald__Token__Task *tok;

    fx_init(&f);
    fx_start(&f);
    fx_txn(&f, 0);
    fx_poll(&f);
    TD_CHECK_STR(f.wft_tok->namespace_id, NS);
    TD_CHECK_STR(f.wft_tok->workflow_id, "wf-1");
    TD_CHECK_STR(f.wft_tok->workflow_type, "Greet");
    TD_CHECK(f.wft_tok->started_time != NULL);
    fx_txn(&f, 0);
    TD_CHECK_INT(
            fx_complete(&f, fx_complete_req(&f, 1, fx_cmd_activity(&f, "act", SEC(5), 0)), NULL),
            ==, TD_OK);
    fx_txn(&f, 0);
    TD_CHECK_INT(td_ms_activity_record_started(f.ms, &f.t, 5, 1, "r", "w", &as), ==, TD_OK);
    TD_CHECK_INT(td_ms_token_decode(as.token.data, as.token.len, &f.arena, &tok), ==, TD_OK);
    TD_CHECK_INT(tok->scheduled_event_id, ==, 5);
    TD_CHECK_INT(tok->attempt, ==, 1);
    TD_CHECK_STR(tok->activity_id, "act");
    TD_CHECK_STR(tok->activity_type, "SayHello");
    /* The activity token completes the activity. */
    TD_CHECK_INT(td_ms_activity_complete(f.ms, &f.t, tok, NULL, "w"), ==, TD_OK);
    /* A token for another run of the same workflow id is stale. */
    tok->run_id = (char *)"other-run";
    TD_CHECK_INT(td_ms_activity_complete(f.ms, &f.t, tok, NULL, "w"), ==, TD_ENOTFOUND);
    fx_free(&f);
}
