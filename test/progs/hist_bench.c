/* SPDX-License-Identifier: Apache-2.0 */
/*
 * History service throughput: N workflows, C at a time, each started, its workflow task
 * handed out (RecordWorkflowTaskStarted, as matching would) and completed with
 * CompleteWorkflowExecution: three transitions (three store writes) plus two visibility
 * writes per workflow, on a SQLite file. A fake matching accepts AddWorkflowTask and
 * triggers the hand-off at once. Prints one line of figures. Not a test: a measuring tool.
 *
 *   build/release/progs/hist_bench [N] [C] [synchronous: FULL|NORMAL|OFF] [shards]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "historyservice.pb-c.h"
#include "log.h"
#include "loop.h"
#include "matchingservice.pb-c.h"
#include "roles/history/hist.h"
#include "roles/role.h"
#include "roles/svc.h"
#include "server.h"
#include "store/store.h"
#include "temporal/api/command/v1/message.pb-c.h"
#include "temporal/api/enums/v1/command_type.pb-c.h"

#define BNS "0b0b0b0b-1111-4222-8333-444455556666"

typedef struct bench_s bench_t;

typedef struct {
    bench_t *b;
    int idx;
    char wf[32], run[40];
    td_arena_t arena;
} slot_t;

struct bench_s {
    td_loop_t *loop;
    td_server_t srv;
    void *hist;
    int n, c, started, finished, failed;
    slot_t *slots;
    slot_t **slot_of; /* by workflow index */
    int64_t t0;
};

static void *pbn(td_arena_t *a, const ProtobufCMessageDescriptor *d)
{
    void *m = td_arena_calloc(a, d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

static void slot_launch(bench_t *b, slot_t *s);

static void slot_end(slot_t *s, int ok)
{
    bench_t *b = s->b;

    b->finished++;
    if (!ok) {
        b->failed++;
    }
    td_arena_destroy(&s->arena);
    if (b->started < b->n) {
        slot_launch(b, s);
    } else if (b->finished == b->n) {
        td_loop_stop(b->loop);
    }
}

static void completed_done(const ProtobufCMessage *resp, int status, const char *message,
                           const ProtobufCMessage *detail, void *arg)
{
    (void)resp;
    (void)detail;
    if (status != 0) {
        fprintf(stderr, "complete: %d %s\n", status, message);
    }
    slot_end(arg, status == 0);
}

static void record_done(const ProtobufCMessage *resp, int status, const char *message,
                        const ProtobufCMessage *detail, void *arg)
{
    slot_t *s = arg;
    const Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse *p = (const void *)resp;
    Temporald__Historyservice__RespondWorkflowTaskCompletedRequest *r;
    Temporal__Api__Command__V1__Command *cmd;

    (void)detail;
    if (status != 0) {
        fprintf(stderr, "record: %d %s\n", status, message);
        slot_end(s, 0);
        return;
    }
    r = pbn(&s->arena,
            &temporald__historyservice__respond_workflow_task_completed_request__descriptor);
    r->namespace_id = (char *)BNS;
    r->request = pbn(
            &s->arena,
            &temporal__api__workflowservice__v1__respond_workflow_task_completed_request__descriptor);
    r->request->task_token.data = td_arena_memdup(&s->arena, p->task_token.data, p->task_token.len);
    r->request->task_token.len = p->task_token.len;
    r->request->identity = (char *)"bench";
    cmd = pbn(&s->arena, &temporal__api__command__v1__command__descriptor);
    cmd->command_type =
            TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION;
    cmd->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_COMPLETE_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES;
    cmd->complete_workflow_execution_command_attributes = pbn(
            &s->arena,
            &temporal__api__command__v1__complete_workflow_execution_command_attributes__descriptor);
    r->request->n_commands = 1;
    r->request->commands = td_arena_alloc(&s->arena, sizeof(cmd));
    r->request->commands[0] = cmd;
    td_svc_call(&s->b->srv, TD_SVC_HISTORY "RespondWorkflowTaskCompleted", &r->base, 0,
                completed_done, s);
}

/* The fake matching: accept, then hand the task to "a poller" at once. */
static void add_wft(td_rpc_call_t *c, void *ctx)
{
    bench_t *b = ctx;
    const Temporald__Matchingservice__AddWorkflowTaskRequest *r = (const void *)td_rpc_request(c);
    Temporald__Matchingservice__AddWorkflowTaskResponse resp =
            TEMPORALD__MATCHINGSERVICE__ADD_WORKFLOW_TASK_RESPONSE__INIT;
    int idx = atoi(r->execution->workflow_id + 6);
    slot_t *s = b->slot_of[idx];
    Temporald__Historyservice__RecordWorkflowTaskStartedRequest *rq;

    snprintf(s->run, sizeof(s->run), "%s", r->execution->run_id);
    rq = pbn(&s->arena,
             &temporald__historyservice__record_workflow_task_started_request__descriptor);
    rq->namespace_id = (char *)BNS;
    rq->execution = pbn(&s->arena, &temporal__api__common__v1__workflow_execution__descriptor);
    rq->execution->workflow_id = s->wf;
    rq->execution->run_id = s->run;
    rq->scheduled_event_id = r->scheduled_event_id;
    rq->request_id = (char *)"bench-poll";
    rq->task_queue = pbn(&s->arena, &temporal__api__taskqueue__v1__task_queue__descriptor);
    rq->task_queue->name = (char *)"tq";
    rq->task_queue->kind = 1;
    td_rpc_reply(c, &resp.base);
    td_svc_call(&b->srv, TD_SVC_HISTORY "RecordWorkflowTaskStarted", &rq->base, 0, record_done, s);
}

static void start_done(const ProtobufCMessage *resp, int status, const char *message,
                       const ProtobufCMessage *detail, void *arg)
{
    (void)resp;
    (void)detail;
    if (status != 0) {
        fprintf(stderr, "start: %d %s\n", status, message);
        slot_end(arg, 0);
    }
}

static void slot_launch(bench_t *b, slot_t *s)
{
    Temporald__Historyservice__StartWorkflowExecutionRequest *r;

    s->idx = b->started++;
    b->slot_of[s->idx] = s;
    td_arena_init(&s->arena, 8192);
    snprintf(s->wf, sizeof(s->wf), "bench-%d", s->idx);
    r = pbn(&s->arena, &temporald__historyservice__start_workflow_execution_request__descriptor);
    r->namespace_id = (char *)BNS;
    r->request =
            pbn(&s->arena,
                &temporal__api__workflowservice__v1__start_workflow_execution_request__descriptor);
    r->request->workflow_id = s->wf;
    r->request->request_id = s->wf;
    r->request->workflow_type =
            pbn(&s->arena, &temporal__api__common__v1__workflow_type__descriptor);
    r->request->workflow_type->name = (char *)"Bench";
    r->request->task_queue = pbn(&s->arena, &temporal__api__taskqueue__v1__task_queue__descriptor);
    r->request->task_queue->name = (char *)"tq";
    td_svc_call(&b->srv, TD_SVC_HISTORY "StartWorkflowExecution", &r->base, 0, start_done, s);
}

/* One loop turn: the caller re-checks its condition and re-arms. */
static void tick(void *arg)
{
    bench_t *b = arg;
    td_loop_stop(b->loop);
}

int main(int argc, char **argv)
{
    bench_t b;
    td_config_t cfg;
    td_store_options_t opt = { 0 };
    td_store_t *store = NULL;
    char path[] = "/tmp/hist_bench_XXXXXX", url[96], err[256];
    const char *sync = argc > 3 ? argv[3] : "FULL";
    td_rpc_method_t mw = { TD_SVC_MATCHING "AddWorkflowTask",
                           &temporald__matchingservice__add_workflow_task_request__descriptor,
                           add_wft, &b };
    td_timer_t *t;
    int fd;
    double secs;

    memset(&b, 0, sizeof(b));
    b.n = argc > 1 ? atoi(argv[1]) : 2000;
    b.c = argc > 2 ? atoi(argv[2]) : 64;
    if (b.c > b.n) {
        b.c = b.n;
    }
    td_log_setup(TD_LOG_WARN, TD_LOG_TEXT);
    fd = mkstemp(path);
    close(fd);
    unlink(path);
    snprintf(url, sizeof(url), "sqlite://%s", path);
    b.loop = td_loop_new();
    opt.loop = b.loop;
    opt.schema = TD_STORE_SCHEMA_AUTO;
    opt.sqlite_synchronous = sync;
    if (td_store_open(url, &opt, &store, err, sizeof(err)) != TD_OK) {
        fprintf(stderr, "store: %s\n", err);
        return 1;
    }
    td_config_init(&cfg);
    cfg.num_history_shards = argc > 4 ? atoi(argv[4]) : 1;
    b.srv.config = &cfg;
    b.srv.loop = b.loop;
    b.srv.store = store;
    td_svc_register(&b.srv, &mw);
    td_role_history.init(&b.srv, &b.hist);
    td_role_history.start(b.hist);
    t = td_timer_new(b.loop, tick, &b);
    while (!td_hist_ready(b.hist)) {
        td_timer_start(t, 1);
        td_loop_run(b.loop);
    }
    td_timer_free(t);

    b.slots = calloc((size_t)b.c, sizeof(*b.slots));
    b.slot_of = calloc((size_t)b.n, sizeof(*b.slot_of));
    b.t0 = td_now_mono_ms();
    for (int i = 0; i < b.c; i++) {
        b.slots[i].b = &b;
        slot_launch(&b, &b.slots[i]);
    }
    td_loop_run(b.loop);
    secs = (double)(td_now_mono_ms() - b.t0) / 1000.0;
    printf("hist_bench: %d workflows (start + task started + completed), %d concurrent, "
           "synchronous=%s, %d shard(s): "
           "%.2f s, %.0f workflows/s, %.0f transitions/s, %d failed\n",
           b.n, b.c, sync, cfg.num_history_shards, secs, b.n / secs, 3 * b.n / secs, b.failed);

    /* let visibility and ack work settle, then stop */
    t = td_timer_new(b.loop, tick, &b);
    while (!td_hist_idle(b.hist)) {
        td_timer_start(t, 5);
        td_loop_run(b.loop);
    }
    td_timer_free(t);
    td_role_history.stop(b.hist);
    td_svc_free(&b.srv);
    td_store_close(store);
    td_loop_free(b.loop);
    td_config_destroy(&cfg);
    free(b.slots);
    free(b.slot_of);
    unlink(path);
    snprintf(url, sizeof(url), "%s-wal", path);
    unlink(url);
    snprintf(url, sizeof(url), "%s-shm", path);
    unlink(url);
    return b.failed ? 1 : 0;
}
