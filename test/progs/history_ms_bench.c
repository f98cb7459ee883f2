/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark of the history mutable state (src/roles/history/ms/ms.h): the CPU cost of the
 * transitions of a simple workflow (start, poll, complete with an activity, activity
 * started/completed, poll, complete the workflow), each followed by what the service would
 * do before its store write (encode the state, serialise the events). Prints figures; it
 * does not pass or fail. Usage: history_ms_bench [workflows]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "roles/history/ms/ms.h"
#include "roles/history/ms/ms_token.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t persist(const td_ms_t *ms, td_ms_txn_t *t)
{
    uint8_t *buf;
    size_t len, total = 0;
    td_ms_encode(ms, t->arena, &buf, &len);
    total += len;
    for (size_t i = 0; i < t->n_events; i++) {
        size_t n = protobuf_c_message_get_packed_size(&t->events[i]->base);
        uint8_t *b = td_arena_alloc(t->arena, n);
        total += protobuf_c_message_pack(&t->events[i]->base, b);
    }
    return total;
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "%s failed: %d\n", what, rc);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    int64_t t0, elapsed, transitions = 0, bytes = 0, clock_ns = INT64_C(1700000000000000000);
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest req =
            TEMPORAL__API__WORKFLOWSERVICE__V1__START_WORKFLOW_EXECUTION_REQUEST__INIT;
    Temporal__Api__Common__V1__WorkflowType wt = TEMPORAL__API__COMMON__V1__WORKFLOW_TYPE__INIT;
    Temporal__Api__Taskqueue__V1__TaskQueue tq = TEMPORAL__API__TASKQUEUE__V1__TASK_QUEUE__INIT;
    Temporal__Api__Common__V1__ActivityType at = TEMPORAL__API__COMMON__V1__ACTIVITY_TYPE__INIT;
    Google__Protobuf__Duration st2c = GOOGLE__PROTOBUF__DURATION__INIT;
    Temporal__Api__Command__V1__ScheduleActivityTaskCommandAttributes sa =
            TEMPORAL__API__COMMAND__V1__SCHEDULE_ACTIVITY_TASK_COMMAND_ATTRIBUTES__INIT;
    Temporal__Api__Command__V1__CompleteWorkflowExecutionCommandAttributes ca =
            TEMPORAL__API__COMMAND__V1__COMPLETE_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES__INIT;
    Temporal__Api__Command__V1__Command c1 = TEMPORAL__API__COMMAND__V1__COMMAND__INIT,
                                        c2 = TEMPORAL__API__COMMAND__V1__COMMAND__INIT;
    Temporal__Api__Command__V1__Command *cmds1[] = { &c1 }, *cmds2[] = { &c2 };
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest
            r1 = TEMPORAL__API__WORKFLOWSERVICE__V1__RESPOND_WORKFLOW_TASK_COMPLETED_REQUEST__INIT,
            r2;

    wt.name = (char *)"Greet";
    tq.name = (char *)"tq";
    req.workflow_id = (char *)"wf";
    req.workflow_type = &wt;
    req.task_queue = &tq;
    at.name = (char *)"SayHello";
    st2c.seconds = 30;
    sa.activity_id = (char *)"1";
    sa.activity_type = &at;
    sa.start_to_close_timeout = &st2c;
    c1.command_type = TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK;
    c1.attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_SCHEDULE_ACTIVITY_TASK_COMMAND_ATTRIBUTES;
    c1.schedule_activity_task_command_attributes = &sa;
    c2.command_type =
            TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION;
    c2.attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_COMPLETE_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES;
    c2.complete_workflow_execution_command_attributes = &ca;
    r1.identity = (char *)"w";
    r2 = r1;
    r1.n_commands = 1;
    r1.commands = cmds1;
    r2.n_commands = 1;
    r2.commands = cmds2;

    t0 = now_ns();
    for (int i = 0; i < n; i++) {
        td_arena_t a;
        td_ms_txn_t t;
        td_ms_t *ms = NULL;
        td_ms_wft_started_t ws;
        td_ms_wft_completed_t wc;
        td_ms_activity_started_t as;
        Temporald__Token__Task *tok;

        td_arena_init(&a, 16384);
#define STEP(expr)                                \
    do {                                          \
        td_ms_txn_init(&t, &a, clock_ns += 1000); \
        check(expr, #expr);                       \
        bytes += (int64_t)persist(ms, &t);        \
        transitions++;                            \
    } while (0)
        td_ms_txn_init(&t, &a, clock_ns);
        check(td_ms_start(&t, &req, "ns", "run", &ms), "start");
        bytes += (int64_t)persist(ms, &t);
        transitions++;
        STEP(td_ms_wft_record_started(ms, &t, ms->wft.scheduled_id, "p", "w", 1, &ws));
        check(td_ms_token_decode(ws.token.data, ws.token.len, &a, &tok), "token");
        STEP(td_ms_wft_complete(ms, &t, tok, &r1, &wc));
        STEP(td_ms_activity_record_started(ms, &t, 5, 1, "ap", "w", &as));
        check(td_ms_token_decode(as.token.data, as.token.len, &a, &tok), "token");
        STEP(td_ms_activity_complete(ms, &t, tok, NULL, "w"));
        STEP(td_ms_wft_record_started(ms, &t, ms->wft.scheduled_id, "p", "w", 1, &ws));
        check(td_ms_token_decode(ws.token.data, ws.token.len, &a, &tok), "token");
        STEP(td_ms_wft_complete(ms, &t, tok, &r2, &wc));
        td_ms_free(ms);
        td_arena_destroy(&a);
    }
    elapsed = now_ns() - t0;
    printf("history_ms: %d workflows, %lld transitions in %.3f s\n", n, (long long)transitions,
           elapsed / 1e9);
    printf("  %.0f transitions/s on one core, %.2f us per transition (incl. state encode + event "
           "serialisation)\n",
           transitions / (elapsed / 1e9), elapsed / 1e3 / (double)transitions);
    printf("  %.1f us per 7-transition workflow, %.0f bytes written per workflow\n",
           elapsed / 1e3 / n, (double)bytes / n);
    return 0;
}
