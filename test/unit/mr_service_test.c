/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The matching role through its MatchingService methods, the way history and the frontend
 * call it (td_svc_call on a test server), over a real in-memory SQLite store. A fake history,
 * registered under the HistoryService paths, answers RecordWorkflowTaskStarted /
 * RecordActivityTaskStarted (synchronously or from the loop, stale on request) and records
 * what it was asked. Covered: sync match, backlog, long-poll expiry and deadline checks,
 * cancelled polls, stale tasks, activity attempts, legacy queries (answered, failed, timed
 * out, unknown token), sticky queues (routing, fallback, unload) and DescribeTaskQueue.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "historyservice.pb-c.h"
#include "loop.h"
#include "matchingservice.pb-c.h"
#include "roles/history/ms/ms_token.h"
#include "roles/matching/mr_int.h"
#include "roles/role.h"
#include "roles/svc.h"
#include "server.h"
#include "store/store.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define NS "5b1f0c2e-aaaa-4bbb-8ccc-0123456789ab"

typedef Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse wft_resp_t;
typedef Temporal__Api__Workflowservice__V1__PollActivityTaskQueueResponse act_resp_t;

/* What the fake history was asked. */
typedef struct {
    char wf[64], request_id[64], identity[64], tq[64];
    int tq_kind;
    int64_t scheduled_id, task_id;
    int32_t attempt;
    int activity;
} rec_t;

/* The outcome of one call. */
typedef struct {
    td_rpc_call_t *handle;
    int done, status;
    char msg[256];
    uint8_t *resp;
    size_t resp_len;
    char detail_type[128];
    uint8_t *detail;
    size_t detail_len;
} res_t;

typedef struct {
    td_loop_t *loop;
    td_store_t *store;
    td_config_t cfg;
    td_server_t srv;
    td_mr_t *r;
    td_arena_t arena;
    /* fake history */
    rec_t rec[64];
    int nrec;
    int hist_async;    /* answer from the loop instead of inside the call */
    char stale_wf[64]; /* NOT_FOUND for this workflow id */
    int unavailable;   /* UNAVAILABLE for every call while set */
    int drained;
} mx_t;

/* ---- fake history ---- */

typedef struct {
    td_rpc_call_t *call;
    ProtobufCMessage *resp;
    int status;
} pend_t;

static void fh_answer(void *arg)
{
    pend_t *p = arg;
    if (p->status == TD_GRPC_OK) {
        td_rpc_reply(p->call, p->resp);
    } else {
        td_rpc_fail(p->call, p->status, "fake history says no", NULL);
    }
    free(p);
}

static void fh_finish(mx_t *x, td_rpc_call_t *call, ProtobufCMessage *resp, const char *wf)
{
    pend_t *p = calloc(1, sizeof(*p));
    p->call = call;
    p->resp = resp;
    p->status = TD_GRPC_OK;
    if (x->unavailable) {
        p->status = TD_GRPC_UNAVAILABLE;
    } else if (x->stale_wf[0] != '\0' && strcmp(wf, x->stale_wf) == 0) {
        p->status = TD_GRPC_NOT_FOUND;
    }
    if (x->hist_async) {
        td_loop_post(x->loop, fh_answer, p);
    } else {
        fh_answer(p);
    }
}

static char *fh_token(td_arena_t *a, const char *wf, int64_t sid, ProtobufCBinaryData *out)
{
    char *t = td_arena_printf(a, "tok-%s-%lld", wf, (long long)sid);
    out->data = (uint8_t *)t;
    out->len = strlen(t);
    return t;
}

static void fh_record_wft(td_rpc_call_t *call, void *ctx)
{
    mx_t *x = ctx;
    const Temporald__Historyservice__RecordWorkflowTaskStartedRequest *in =
            (const void *)td_rpc_request(call);
    td_arena_t *a = td_rpc_arena(call);
    rec_t *r = &x->rec[x->nrec++ % 64];
    wft_resp_t *resp = td_arena_calloc(a, sizeof(*resp));

    TD_CHECK_STR(in->namespace_id, NS);
    TD_CHECK(in->execution != NULL && in->task_queue != NULL && in->poll_request != NULL);
    memset(r, 0, sizeof(*r));
    snprintf(r->wf, sizeof(r->wf), "%s", in->execution->workflow_id);
    snprintf(r->request_id, sizeof(r->request_id), "%s", in->request_id);
    snprintf(r->identity, sizeof(r->identity), "%s", in->poll_request->identity);
    snprintf(r->tq, sizeof(r->tq), "%s", in->task_queue->name);
    r->tq_kind = in->task_queue->kind;
    r->scheduled_id = in->scheduled_event_id;
    r->task_id = in->task_id;
    temporal__api__workflowservice__v1__poll_workflow_task_queue_response__init(resp);
    fh_token(a, in->execution->workflow_id, in->scheduled_event_id, &resp->task_token);
    resp->workflow_execution = in->execution;
    resp->started_event_id = in->scheduled_event_id + 1;
    resp->attempt = 1;
    fh_finish(x, call, &resp->base, in->execution->workflow_id);
}

static void fh_record_act(td_rpc_call_t *call, void *ctx)
{
    mx_t *x = ctx;
    const Temporald__Historyservice__RecordActivityTaskStartedRequest *in =
            (const void *)td_rpc_request(call);
    td_arena_t *a = td_rpc_arena(call);
    rec_t *r = &x->rec[x->nrec++ % 64];
    act_resp_t *resp = td_arena_calloc(a, sizeof(*resp));

    TD_CHECK_STR(in->namespace_id, NS);
    TD_CHECK(in->execution != NULL && in->poll_request != NULL);
    memset(r, 0, sizeof(*r));
    r->activity = 1;
    snprintf(r->wf, sizeof(r->wf), "%s", in->execution->workflow_id);
    snprintf(r->request_id, sizeof(r->request_id), "%s", in->request_id);
    snprintf(r->identity, sizeof(r->identity), "%s", in->poll_request->identity);
    r->scheduled_id = in->scheduled_event_id;
    r->task_id = in->task_id;
    r->attempt = in->attempt;
    temporal__api__workflowservice__v1__poll_activity_task_queue_response__init(resp);
    fh_token(a, in->execution->workflow_id, in->scheduled_event_id, &resp->task_token);
    resp->attempt = in->attempt;
    resp->activity_id = td_arena_printf(a, "act-%lld", (long long)in->scheduled_event_id);
    fh_finish(x, call, &resp->base, in->execution->workflow_id);
}

/* ---- loop helpers ---- */

static void mx_tick(void *arg)
{
    td_loop_stop(((mx_t *)arg)->loop);
}

/* Runs the loop for ms milliseconds, or until *flag is set (flag may be NULL). */
static int mx_run(mx_t *x, const int *flag, int ms)
{
    td_timer_t *t = td_timer_new(x->loop, mx_tick, x);
    int64_t end = td_now_mono_ms() + ms;

    while ((flag == NULL || !*flag) && td_now_mono_ms() < end) {
        td_timer_start(t, 2);
        td_loop_run(x->loop);
    }
    td_timer_free(t);
    return flag != NULL ? *flag : 0;
}

#define MX_WAIT(x, res) TD_CHECK(mx_run((x), &(res)->done, 10000))

/* ---- setup ---- */

static void mx_init(mx_t *x)
{
    td_store_options_t opt;
    char err[256];
    td_rpc_method_t hw = {
        TD_SVC_HISTORY "RecordWorkflowTaskStarted",
        &temporald__historyservice__record_workflow_task_started_request__descriptor, fh_record_wft,
        x
    };
    td_rpc_method_t ha = {
        TD_SVC_HISTORY "RecordActivityTaskStarted",
        &temporald__historyservice__record_activity_task_started_request__descriptor, fh_record_act,
        x
    };
    void *state = NULL;

    memset(x, 0, sizeof(*x));
    td_arena_init(&x->arena, 4096);
    x->loop = td_loop_new();
    td_config_init(&x->cfg);
    memset(&opt, 0, sizeof(opt));
    opt.loop = x->loop;
    opt.schema = TD_STORE_SCHEMA_AUTO;
    TD_CHECK_INT(td_store_open("sqlite://:memory:", &opt, &x->store, err, sizeof(err)), ==, TD_OK);
    x->srv.config = &x->cfg;
    x->srv.loop = x->loop;
    x->srv.store = x->store;
    TD_CHECK_INT(td_svc_register(&x->srv, &hw), ==, TD_OK);
    TD_CHECK_INT(td_svc_register(&x->srv, &ha), ==, TD_OK);
    TD_CHECK_INT(td_role_matching.init(&x->srv, &state), ==, TD_OK);
    TD_CHECK_INT(td_role_matching.start(state), ==, TD_OK);
    x->r = state;
}

static void mx_drained(void *arg)
{
    ((mx_t *)arg)->drained = 1;
}

static void mx_free(mx_t *x)
{
    td_role_matching.drain(x->r, mx_drained, x);
    TD_CHECK(mx_run(x, &x->drained, 5000));
    TD_CHECK(x->r->engine == NULL);
    td_role_matching.stop(x->r);
    td_svc_free(&x->srv);
    td_store_close(x->store);
    mx_run(x, NULL, 5); /* store completions posted at close */
    td_config_destroy(&x->cfg);
    td_loop_free(x->loop);
    td_arena_destroy(&x->arena);
}

static void mx_res_free(res_t *r)
{
    free(r->resp);
    free(r->detail);
    memset(r, 0, sizeof(*r));
}

/* ---- calls ---- */

static void mx_done(const ProtobufCMessage *resp, int status, const char *message,
                    const ProtobufCMessage *detail, void *arg)
{
    res_t *r = arg;

    r->done = 1;
    r->handle = NULL;
    r->status = status;
    snprintf(r->msg, sizeof(r->msg), "%s", message != NULL ? message : "");
    if (resp != NULL) {
        r->resp_len = protobuf_c_message_get_packed_size(resp);
        r->resp = malloc(r->resp_len + 1);
        protobuf_c_message_pack(resp, r->resp);
    }
    if (detail != NULL) {
        snprintf(r->detail_type, sizeof(r->detail_type), "%s", detail->descriptor->name);
        r->detail_len = protobuf_c_message_get_packed_size(detail);
        r->detail = malloc(r->detail_len + 1);
        protobuf_c_message_pack(detail, r->detail);
    }
}

/* Starts a MatchingService call; deadline_ms relative (0 = none). */
static void mx_call(mx_t *x, const char *method, const ProtobufCMessage *req, int64_t deadline_ms,
                    res_t *r)
{
    char path[160];

    mx_res_free(r);
    snprintf(path, sizeof(path), "%s%s", TD_SVC_MATCHING, method);
    r->handle = td_svc_call(&x->srv, path, req,
                            deadline_ms > 0 ? td_now_mono_ms() + deadline_ms : 0, mx_done, r);
}

static void *mx_unpack(mx_t *x, const ProtobufCMessageDescriptor *d, const res_t *r)
{
    void *m;
    TD_CHECK_INT(r->status, ==, TD_GRPC_OK);
    m = protobuf_c_message_unpack(d, td_arena_pb(&x->arena), r->resp_len, r->resp);
    TD_CHECK(m != NULL);
    return m;
}

static Temporal__Api__Taskqueue__V1__TaskQueue *mx_tq(mx_t *x, const char *name, int sticky,
                                                      const char *normal)
{
    Temporal__Api__Taskqueue__V1__TaskQueue *tq = td_arena_calloc(&x->arena, sizeof(*tq));
    temporal__api__taskqueue__v1__task_queue__init(tq);
    tq->name = td_arena_strdup(&x->arena, name);
    tq->kind = sticky ? TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_STICKY
                      : TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL;
    if (normal != NULL) {
        tq->normal_name = td_arena_strdup(&x->arena, normal);
    }
    return tq;
}

static Temporal__Api__Common__V1__WorkflowExecution *mx_we(mx_t *x, const char *wf)
{
    Temporal__Api__Common__V1__WorkflowExecution *we = td_arena_calloc(&x->arena, sizeof(*we));
    temporal__api__common__v1__workflow_execution__init(we);
    we->workflow_id = td_arena_strdup(&x->arena, wf);
    we->run_id = td_arena_strdup(&x->arena, "0b7f6e6c-1d2e-4f3a-9b8c-7d6e5f4a3b2c");
    return we;
}

/* AddWorkflowTask; sticky: the queue is a sticky one (normal may be NULL). */
static void mx_add_wft(mx_t *x, const char *wf, int64_t sid, const char *tq, int sticky,
                       const char *normal, res_t *r)
{
    Temporald__Matchingservice__AddWorkflowTaskRequest *m = td_arena_calloc(&x->arena, sizeof(*m));
    temporald__matchingservice__add_workflow_task_request__init(m);
    m->namespace_id = (char *)NS;
    m->execution = mx_we(x, wf);
    m->task_queue = mx_tq(x, tq, sticky, normal);
    m->scheduled_event_id = sid;
    mx_call(x, "AddWorkflowTask", &m->base, 10000, r);
}

static void mx_add_act(mx_t *x, const char *wf, int64_t sid, int32_t attempt, const char *tq,
                       res_t *r)
{
    Temporald__Matchingservice__AddActivityTaskRequest *m = td_arena_calloc(&x->arena, sizeof(*m));
    temporald__matchingservice__add_activity_task_request__init(m);
    m->namespace_id = (char *)NS;
    m->execution = mx_we(x, wf);
    m->task_queue = mx_tq(x, tq, 0, NULL);
    m->scheduled_event_id = sid;
    m->attempt = attempt;
    mx_call(x, "AddActivityTask", &m->base, 10000, r);
}

static void mx_poll_wft(mx_t *x, const char *tq, int sticky, const char *identity,
                        int64_t deadline_ms, res_t *r)
{
    Temporald__Matchingservice__PollWorkflowTaskQueueRequest *m =
            td_arena_calloc(&x->arena, sizeof(*m));
    Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueRequest *p =
            td_arena_calloc(&x->arena, sizeof(*p));
    temporald__matchingservice__poll_workflow_task_queue_request__init(m);
    temporal__api__workflowservice__v1__poll_workflow_task_queue_request__init(p);
    p->namespace_ = (char *)"default";
    p->task_queue = mx_tq(x, tq, sticky, sticky ? "tq" : NULL);
    p->identity = td_arena_strdup(&x->arena, identity);
    m->namespace_id = (char *)NS;
    m->poller_id = (char *)"poller-1";
    m->request = p;
    mx_call(x, "PollWorkflowTaskQueue", &m->base, deadline_ms, r);
}

static void mx_poll_act(mx_t *x, const char *tq, const char *identity, int64_t deadline_ms,
                        res_t *r)
{
    Temporald__Matchingservice__PollActivityTaskQueueRequest *m =
            td_arena_calloc(&x->arena, sizeof(*m));
    Temporal__Api__Workflowservice__V1__PollActivityTaskQueueRequest *p =
            td_arena_calloc(&x->arena, sizeof(*p));
    temporald__matchingservice__poll_activity_task_queue_request__init(m);
    temporal__api__workflowservice__v1__poll_activity_task_queue_request__init(p);
    p->namespace_ = (char *)"default";
    p->task_queue = mx_tq(x, tq, 0, NULL);
    p->identity = td_arena_strdup(&x->arena, identity);
    m->namespace_id = (char *)NS;
    m->request = p;
    mx_call(x, "PollActivityTaskQueue", &m->base, deadline_ms, r);
}

/* The workflow id a poll response's fake token names ("" for an empty response). */
static const char *mx_wft_token(mx_t *x, const res_t *r)
{
    wft_resp_t *m = mx_unpack(
            x, &temporal__api__workflowservice__v1__poll_workflow_task_queue_response__descriptor,
            r);
    return td_arena_strndup(&x->arena, (const char *)m->task_token.data, m->task_token.len);
}

static td_match_stats_t mx_stats(mx_t *x, const char *tq, td_match_type_t type,
                                 td_match_kind_t kind)
{
    td_match_key_t key = { NS, tq, type, kind };
    td_match_stats_t st;
    td_matching_stats(x->r->engine, &key, &st);
    return st;
}

/* ---- tests ---- */

TD_TEST(mr_sync_match)
{
    mx_t x;
    res_t poll = { 0 }, add = { 0 };

    mx_init(&x);
    mx_poll_wft(&x, "tq", 0, "worker-1", 10000, &poll);
    TD_CHECK(!poll.done);
    mx_run(&x, NULL, 10);
    mx_add_wft(&x, "wf-1", 7, "tq", 0, NULL, &add);
    MX_WAIT(&x, &poll);
    MX_WAIT(&x, &add);
    TD_CHECK_INT(add.status, ==, TD_GRPC_OK);
    TD_CHECK_STR(mx_wft_token(&x, &poll), "tok-wf-1-7");
    TD_CHECK_INT(x.nrec, ==, 1);
    TD_CHECK_STR(x.rec[0].wf, "wf-1");
    TD_CHECK_STR(x.rec[0].identity, "worker-1");
    TD_CHECK_STR(x.rec[0].tq, "tq");
    TD_CHECK_INT(x.rec[0].tq_kind, ==,
                 TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL);
    TD_CHECK_INT(x.rec[0].scheduled_id, ==, 7);
    TD_CHECK(x.rec[0].request_id[0] != '\0');
    TD_CHECK_INT(mx_stats(&x, "tq", TD_MATCH_WORKFLOW, TD_MATCH_NORMAL).sync_matched, ==, 1);
    TD_CHECK_INT(mx_stats(&x, "tq", TD_MATCH_WORKFLOW, TD_MATCH_NORMAL).persisted, ==, 0);

    /* the same with history answering later, from the loop */
    x.hist_async = 1;
    mx_poll_wft(&x, "tq", 0, "worker-2", 10000, &poll);
    mx_add_wft(&x, "wf-2", 9, "tq", 0, NULL, &add);
    MX_WAIT(&x, &poll);
    MX_WAIT(&x, &add);
    TD_CHECK_STR(mx_wft_token(&x, &poll), "tok-wf-2-9");
    TD_CHECK_STR(x.rec[1].identity, "worker-2");
    mx_res_free(&poll);
    mx_res_free(&add);
    mx_free(&x);
}

TD_TEST(mr_backlog_in_order)
{
    mx_t x;
    res_t add[3] = { { 0 } }, poll = { 0 };
    char wf[16];

    mx_init(&x);
    for (int i = 0; i < 3; i++) {
        snprintf(wf, sizeof(wf), "wf-%d", i);
        mx_add_wft(&x, wf, 10 + i, "tq", 0, NULL, &add[i]);
    }
    for (int i = 0; i < 3; i++) {
        MX_WAIT(&x, &add[i]);
        TD_CHECK_INT(add[i].status, ==, TD_GRPC_OK);
    }
    TD_CHECK_INT(x.nrec, ==, 0);
    TD_CHECK_INT(mx_stats(&x, "tq", TD_MATCH_WORKFLOW, TD_MATCH_NORMAL).persisted, ==, 3);
    for (int i = 0; i < 3; i++) {
        char want[32];
        mx_poll_wft(&x, "tq", 0, "worker-1", 10000, &poll);
        MX_WAIT(&x, &poll);
        snprintf(want, sizeof(want), "tok-wf-%d-%d", i, 10 + i);
        TD_CHECK_STR(mx_wft_token(&x, &poll), want);
        TD_CHECK(x.rec[i].task_id > 0); /* a backlog id reached history */
    }
    for (int i = 0; i < 3; i++) {
        mx_res_free(&add[i]);
    }
    mx_res_free(&poll);
    mx_free(&x);
}

TD_TEST(mr_activity_attempt)
{
    mx_t x;
    res_t add = { 0 }, poll = { 0 };
    act_resp_t *m;

    mx_init(&x);
    x.hist_async = 1;
    mx_add_act(&x, "wf-a", 5, 3, "tq", &add);
    MX_WAIT(&x, &add);
    TD_CHECK_INT(add.status, ==, TD_GRPC_OK);
    /* a workflow poll on the same name does not see activity tasks */
    mx_poll_wft(&x, "tq", 0, "w", 2500, &poll);
    MX_WAIT(&x, &poll);
    TD_CHECK_INT(poll.status, ==, TD_GRPC_OK);
    TD_CHECK_INT(poll.resp_len, ==, 0);
    mx_poll_act(&x, "tq", "act-worker", 10000, &poll);
    MX_WAIT(&x, &poll);
    m = mx_unpack(
            &x, &temporal__api__workflowservice__v1__poll_activity_task_queue_response__descriptor,
            &poll);
    TD_CHECK_INT(m->attempt, ==, 3);
    TD_CHECK_STR(m->activity_id, "act-5");
    TD_CHECK_INT(x.nrec, ==, 1);
    TD_CHECK(x.rec[0].activity);
    TD_CHECK_INT(x.rec[0].attempt, ==, 3);
    TD_CHECK_STR(x.rec[0].identity, "act-worker");
    mx_res_free(&add);
    mx_res_free(&poll);
    mx_free(&x);
}

TD_TEST(mr_poll_expiry_and_deadlines)
{
    mx_t x;
    res_t poll = { 0 };
    int64_t t0;

    mx_init(&x);
    /* no deadline, too short a deadline */
    mx_poll_wft(&x, "tq", 0, "w", 0, &poll);
    TD_CHECK(poll.done);
    TD_CHECK_INT(poll.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(poll.msg, "Context timeout is not set.");
    mx_poll_wft(&x, "tq", 0, "w", 500, &poll);
    TD_CHECK(poll.done);
    TD_CHECK_INT(poll.status, ==, TD_GRPC_FAILED_PRECONDITION);
    TD_CHECK_STR(poll.msg, "Context timeout is too short.");
    /* 2.5 s: answered empty about 1 s before the deadline */
    t0 = td_now_mono_ms();
    mx_poll_wft(&x, "tq", 0, "w", 2500, &poll);
    MX_WAIT(&x, &poll);
    TD_CHECK_INT(poll.status, ==, TD_GRPC_OK);
    TD_CHECK_INT(poll.resp_len, ==, 0);
    TD_CHECK_INT(td_now_mono_ms() - t0, >=, 1400);
    TD_CHECK_INT(td_now_mono_ms() - t0, <, 2400);
    TD_CHECK_INT(x.nrec, ==, 0);
    mx_res_free(&poll);
    mx_free(&x);
}

TD_TEST(mr_poll_cancel)
{
    mx_t x;
    res_t poll = { 0 }, add = { 0 };

    mx_init(&x);
    mx_poll_wft(&x, "tq", 0, "w", 10000, &poll);
    TD_CHECK(!poll.done && poll.handle != NULL);
    mx_run(&x, NULL, 5);
    td_svc_cancel(poll.handle);
    TD_CHECK(poll.done);
    TD_CHECK_INT(poll.status, ==, TD_GRPC_CANCELLED);
    TD_CHECK_INT(mx_stats(&x, "tq", TD_MATCH_WORKFLOW, TD_MATCH_NORMAL).waiting_polls, ==, 0);
    /* the task is not handed to the cancelled poll: it is persisted */
    mx_add_wft(&x, "wf-1", 3, "tq", 0, NULL, &add);
    MX_WAIT(&x, &add);
    TD_CHECK_INT(add.status, ==, TD_GRPC_OK);
    TD_CHECK_INT(x.nrec, ==, 0);
    TD_CHECK_INT(mx_stats(&x, "tq", TD_MATCH_WORKFLOW, TD_MATCH_NORMAL).persisted, ==, 1);
    mx_poll_wft(&x, "tq", 0, "w2", 10000, &poll);
    MX_WAIT(&x, &poll);
    TD_CHECK_STR(mx_wft_token(&x, &poll), "tok-wf-1-3");
    mx_res_free(&poll);
    mx_res_free(&add);
    mx_free(&x);
}

TD_TEST(mr_stale_task_dropped)
{
    mx_t x;
    res_t poll = { 0 }, add = { 0 }, add2 = { 0 };

    mx_init(&x);
    snprintf(x.stale_wf, sizeof(x.stale_wf), "wf-gone");
    /* sync match: the stale task is accepted (history may ack), the poll keeps waiting */
    mx_poll_wft(&x, "tq", 0, "w", 10000, &poll);
    mx_add_wft(&x, "wf-gone", 4, "tq", 0, NULL, &add);
    MX_WAIT(&x, &add);
    TD_CHECK_INT(add.status, ==, TD_GRPC_OK);
    TD_CHECK_INT(x.nrec, ==, 1);
    TD_CHECK(!poll.done);
    mx_add_wft(&x, "wf-ok", 5, "tq", 0, NULL, &add2);
    MX_WAIT(&x, &poll);
    TD_CHECK_STR(mx_wft_token(&x, &poll), "tok-wf-ok-5");
    MX_WAIT(&x, &add2);
    /* from the backlog: stale first, then a good one; the stale one never comes back */
    x.hist_async = 1;
    mx_add_wft(&x, "wf-gone", 6, "tq", 0, NULL, &add);
    MX_WAIT(&x, &add);
    mx_add_wft(&x, "wf-ok", 7, "tq", 0, NULL, &add2);
    MX_WAIT(&x, &add2);
    mx_poll_wft(&x, "tq", 0, "w", 10000, &poll);
    MX_WAIT(&x, &poll);
    TD_CHECK_STR(mx_wft_token(&x, &poll), "tok-wf-ok-7");
    mx_poll_wft(&x, "tq", 0, "w", 2100, &poll);
    MX_WAIT(&x, &poll);
    TD_CHECK_INT(poll.resp_len, ==, 0);
    TD_CHECK_INT(mx_stats(&x, "tq", TD_MATCH_WORKFLOW, TD_MATCH_NORMAL).dropped, ==, 2);
    TD_CHECK_INT(x.nrec, ==, 4);
    mx_res_free(&poll);
    mx_res_free(&add);
    mx_res_free(&add2);
    mx_free(&x);
}

TD_TEST(mr_history_unavailable_retries)
{
    mx_t x;
    res_t poll = { 0 }, add = { 0 };

    mx_init(&x);
    x.unavailable = 1;
    mx_add_wft(&x, "wf-1", 3, "tq", 0, NULL, &add);
    MX_WAIT(&x, &add);
    mx_poll_wft(&x, "tq", 0, "w", 10000, &poll);
    mx_run(&x, NULL, 200);
    TD_CHECK(!poll.done);
    TD_CHECK_INT(x.nrec, >=, 2); /* retried with backoff */
    x.unavailable = 0;
    MX_WAIT(&x, &poll);
    TD_CHECK_STR(mx_wft_token(&x, &poll), "tok-wf-1-3");
    mx_res_free(&poll);
    mx_res_free(&add);
    mx_free(&x);
}

/* QueryWorkflow for wf with query type qt; prepared task carries started_event_id 42. */
static void mx_query(mx_t *x, const char *tq, int sticky, const char *normal, const char *qt,
                     int64_t deadline_ms, res_t *r)
{
    Temporald__Matchingservice__QueryWorkflowRequest *m = td_arena_calloc(&x->arena, sizeof(*m));
    Temporal__Api__Workflowservice__V1__QueryWorkflowRequest *q =
            td_arena_calloc(&x->arena, sizeof(*q));
    Temporal__Api__Query__V1__WorkflowQuery *wq = td_arena_calloc(&x->arena, sizeof(*wq));
    wft_resp_t *task = td_arena_calloc(&x->arena, sizeof(*task));

    temporald__matchingservice__query_workflow_request__init(m);
    temporal__api__workflowservice__v1__query_workflow_request__init(q);
    temporal__api__query__v1__workflow_query__init(wq);
    temporal__api__workflowservice__v1__poll_workflow_task_queue_response__init(task);
    wq->query_type = td_arena_strdup(&x->arena, qt);
    q->namespace_ = (char *)"default";
    q->execution = mx_we(x, "wf-q");
    q->query = wq;
    task->workflow_execution = q->execution;
    task->started_event_id = 42;
    m->namespace_id = (char *)NS;
    m->task_queue = mx_tq(x, tq, sticky, normal);
    m->request = q;
    m->task = task;
    mx_call(x, "QueryWorkflow", &m->base, deadline_ms, r);
}

static void mx_respond_query(mx_t *x, ProtobufCBinaryData token, int failed, const char *answer,
                             res_t *r)
{
    Temporald__Matchingservice__RespondQueryTaskCompletedRequest *m =
            td_arena_calloc(&x->arena, sizeof(*m));
    Temporal__Api__Workflowservice__V1__RespondQueryTaskCompletedRequest *q =
            td_arena_calloc(&x->arena, sizeof(*q));

    temporald__matchingservice__respond_query_task_completed_request__init(m);
    temporal__api__workflowservice__v1__respond_query_task_completed_request__init(q);
    q->task_token = token;
    q->namespace_ = (char *)"default";
    if (failed) {
        Temporal__Api__Failure__V1__Failure *f = td_arena_calloc(&x->arena, sizeof(*f));
        temporal__api__failure__v1__failure__init(f);
        f->message = td_arena_strdup(&x->arena, answer);
        q->completed_type = TEMPORAL__API__ENUMS__V1__QUERY_RESULT_TYPE__QUERY_RESULT_TYPE_FAILED;
        q->error_message = td_arena_strdup(&x->arena, answer);
        q->failure = f;
    } else {
        Temporal__Api__Common__V1__Payloads *ps = td_arena_calloc(&x->arena, sizeof(*ps));
        Temporal__Api__Common__V1__Payload *p = td_arena_calloc(&x->arena, sizeof(*p));
        temporal__api__common__v1__payloads__init(ps);
        temporal__api__common__v1__payload__init(p);
        p->data.data = (uint8_t *)td_arena_strdup(&x->arena, answer);
        p->data.len = strlen(answer);
        ps->n_payloads = 1;
        ps->payloads = td_arena_alloc(&x->arena, sizeof(*ps->payloads));
        ps->payloads[0] = p;
        q->completed_type = TEMPORAL__API__ENUMS__V1__QUERY_RESULT_TYPE__QUERY_RESULT_TYPE_ANSWERED;
        q->query_result = ps;
    }
    m->namespace_id = (char *)NS;
    m->request = q;
    mx_call(x, "RespondQueryTaskCompleted", &m->base, 10000, r);
}

/* Polls tq and returns the query task it gets (checked: query type, token). */
static wft_resp_t *mx_take_query(mx_t *x, const char *tq, int sticky, const char *qt)
{
    res_t poll = { 0 };
    wft_resp_t *m;
    Temporald__Token__QueryTask *tok = NULL;

    mx_poll_wft(x, tq, sticky, "query-worker", 10000, &poll);
    MX_WAIT(x, &poll);
    m = mx_unpack(
            x, &temporal__api__workflowservice__v1__poll_workflow_task_queue_response__descriptor,
            &poll);
    mx_res_free(&poll);
    TD_CHECK(m->query != NULL);
    TD_CHECK_STR(m->query->query_type, qt);
    TD_CHECK_INT(m->started_event_id, ==, 42); /* history's prepared task */
    TD_CHECK_INT(td_ms_query_token_decode(m->task_token.data, m->task_token.len, &x->arena, &tok),
                 ==, TD_OK);
    TD_CHECK_STR(tok->namespace_id, NS);
    TD_CHECK_STR(tok->task_queue, tq);
    TD_CHECK(tok->task_id[0] != '\0');
    return m;
}

TD_TEST(mr_query_round_trip)
{
    mx_t x;
    res_t q = { 0 }, done = { 0 };
    wft_resp_t *task;
    Temporal__Api__Workflowservice__V1__QueryWorkflowResponse *qr;
    Temporal__Api__Errordetails__V1__QueryFailedFailure *qf;

    mx_init(&x);
    /* answered */
    mx_query(&x, "tq", 0, NULL, "getState", 10000, &q);
    TD_CHECK(!q.done);
    task = mx_take_query(&x, "tq", 0, "getState");
    TD_CHECK_INT(x.nrec, ==, 0); /* queries never reach history's record-started */
    TD_CHECK(!q.done);
    mx_respond_query(&x, task->task_token, 0, "\"running\"", &done);
    TD_CHECK(done.done);
    TD_CHECK_INT(done.status, ==, TD_GRPC_OK);
    TD_CHECK(q.done);
    qr = mx_unpack(&x, &temporal__api__workflowservice__v1__query_workflow_response__descriptor,
                   &q);
    TD_CHECK(qr->query_result != NULL && qr->query_result->n_payloads == 1);
    TD_CHECK_INT(qr->query_result->payloads[0]->data.len, ==, 9);
    TD_CHECK(memcmp(qr->query_result->payloads[0]->data.data, "\"running\"", 9) == 0);
    /* the same token again: the query is gone */
    mx_respond_query(&x, task->task_token, 0, "late", &done);
    TD_CHECK_INT(done.status, ==, TD_GRPC_NOT_FOUND);

    /* failed by the worker: INVALID_ARGUMENT with QueryFailedFailure */
    mx_query(&x, "tq", 0, NULL, "broken", 10000, &q);
    task = mx_take_query(&x, "tq", 0, "broken");
    mx_respond_query(&x, task->task_token, 1, "no such query handler", &done);
    TD_CHECK_INT(done.status, ==, TD_GRPC_OK);
    TD_CHECK(q.done);
    TD_CHECK_INT(q.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(q.msg, "no such query handler");
    TD_CHECK_STR(q.detail_type, "temporal.api.errordetails.v1.QueryFailedFailure");
    qf = temporal__api__errordetails__v1__query_failed_failure__unpack(td_arena_pb(&x.arena),
                                                                       q.detail_len, q.detail);
    TD_CHECK(qf != NULL && qf->failure != NULL);
    TD_CHECK_STR(qf->failure->message, "no such query handler");

    /* garbage token */
    {
        ProtobufCBinaryData bad = { 3, (uint8_t *)"xyz" };
        mx_respond_query(&x, bad, 0, "x", &done);
        TD_CHECK_INT(done.status, ==, TD_GRPC_INVALID_ARGUMENT);
    }

    /* nobody polls: DEADLINE_EXCEEDED at the call's deadline */
    mx_query(&x, "tq", 0, NULL, "slow", 300, &q);
    MX_WAIT(&x, &q);
    TD_CHECK_INT(q.status, ==, TD_GRPC_DEADLINE_EXCEEDED);

    /* the caller goes away */
    mx_query(&x, "tq", 0, NULL, "gone", 10000, &q);
    TD_CHECK(q.handle != NULL);
    td_svc_cancel(q.handle);
    TD_CHECK(q.done);
    TD_CHECK_INT(q.status, ==, TD_GRPC_CANCELLED);
    mx_res_free(&q);
    mx_res_free(&done);
    mx_free(&x);
}

TD_TEST(mr_sticky_routing)
{
    mx_t x;
    res_t sp = { 0 }, np = { 0 }, add = { 0 }, q = { 0 }, done = { 0 }, un = { 0 };
    wft_resp_t *task;

    mx_init(&x);
    /* a sticky poll takes the sticky task; history hears the sticky queue */
    mx_poll_wft(&x, "sticky-1", 1, "worker-1", 10000, &sp);
    mx_poll_wft(&x, "tq", 0, "worker-1", 10000, &np);
    mx_add_wft(&x, "wf-s", 3, "sticky-1", 1, "tq", &add);
    MX_WAIT(&x, &sp);
    MX_WAIT(&x, &add);
    TD_CHECK_STR(mx_wft_token(&x, &sp), "tok-wf-s-3");
    TD_CHECK(!np.done);
    TD_CHECK_STR(x.rec[0].tq, "sticky-1");
    TD_CHECK_INT(x.rec[0].tq_kind, ==,
                 TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_STICKY);

    /* a sticky queue nobody polled: with normal_name the normal queue takes the task */
    mx_add_wft(&x, "wf-n", 4, "sticky-2", 1, "tq", &add);
    MX_WAIT(&x, &np);
    MX_WAIT(&x, &add);
    TD_CHECK_INT(add.status, ==, TD_GRPC_OK);
    TD_CHECK_STR(mx_wft_token(&x, &np), "tok-wf-n-4");
    TD_CHECK_STR(x.rec[1].tq, "tq");
    TD_CHECK_INT(x.rec[1].tq_kind, ==,
                 TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL);
    /* ... without it, an error history can act on */
    mx_add_wft(&x, "wf-n", 5, "sticky-2", 1, NULL, &add);
    TD_CHECK(add.done);
    TD_CHECK_INT(add.status, ==, TD_GRPC_FAILED_PRECONDITION);
    TD_CHECK_CONTAINS(add.msg, "sticky worker unavailable");

    /* queries prefer the sticky queue while its worker polls */
    mx_query(&x, "sticky-1", 1, "tq", "q1", 10000, &q);
    task = mx_take_query(&x, "sticky-1", 1, "q1");
    mx_respond_query(&x, task->task_token, 0, "1", &done);
    TD_CHECK(q.done);
    TD_CHECK_INT(q.status, ==, TD_GRPC_OK);
    /* ... and use the normal queue when the sticky one has no poller */
    mx_query(&x, "sticky-3", 1, "tq", "q2", 10000, &q);
    task = mx_take_query(&x, "tq", 0, "q2");
    mx_respond_query(&x, task->task_token, 0, "2", &done);
    TD_CHECK(q.done);
    TD_CHECK_INT(q.status, ==, TD_GRPC_OK);

    /* ... or fail for history to retry on the normal queue when there is no normal_name */
    mx_query(&x, "sticky-4", 1, NULL, "q3", 10000, &q);
    TD_CHECK(q.done);
    TD_CHECK_INT(q.status, ==, TD_GRPC_FAILED_PRECONDITION);
    TD_CHECK_CONTAINS(q.msg, "sticky worker unavailable");

    /* UnloadStickyTaskQueue: the waiting sticky poll is answered empty, adds fail at once */
    {
        Temporald__Matchingservice__UnloadStickyTaskQueueRequest *u =
                td_arena_calloc(&x.arena, sizeof(*u));
        temporald__matchingservice__unload_sticky_task_queue_request__init(u);
        u->namespace_id = (char *)NS;
        u->sticky_task_queue = (char *)"sticky-1";
        mx_poll_wft(&x, "sticky-1", 1, "worker-1", 10000, &sp);
        mx_run(&x, NULL, 5);
        TD_CHECK(!sp.done);
        mx_call(&x, "UnloadStickyTaskQueue", &u->base, 1000, &un);
        TD_CHECK(un.done);
        TD_CHECK_INT(un.status, ==, TD_GRPC_OK);
        MX_WAIT(&x, &sp);
        TD_CHECK_INT(sp.status, ==, TD_GRPC_OK);
        TD_CHECK_INT(sp.resp_len, ==, 0);
        mx_add_wft(&x, "wf-s", 9, "sticky-1", 1, NULL, &add);
        TD_CHECK(add.done);
        TD_CHECK_INT(add.status, ==, TD_GRPC_FAILED_PRECONDITION);
    }
    mx_res_free(&sp);
    mx_res_free(&np);
    mx_res_free(&add);
    mx_res_free(&q);
    mx_res_free(&done);
    mx_res_free(&un);
    mx_free(&x);
}

TD_TEST(mr_describe_task_queue)
{
    mx_t x;
    res_t p1 = { 0 }, p2 = { 0 }, d = { 0 }, add = { 0 };
    Temporald__Matchingservice__DescribeTaskQueueRequest *m;
    Temporal__Api__Workflowservice__V1__DescribeTaskQueueRequest *pub;
    Temporal__Api__Workflowservice__V1__DescribeTaskQueueResponse *resp;
    int64_t now_s = td_now_wall_ns() / 1000000000;

    mx_init(&x);
    mx_poll_wft(&x, "tq", 0, "alpha@host", 10000, &p1);
    mx_poll_act(&x, "tq", "beta@host", 10000, &p2);
    mx_run(&x, NULL, 5);
    m = td_arena_calloc(&x.arena, sizeof(*m));
    pub = td_arena_calloc(&x.arena, sizeof(*pub));
    temporald__matchingservice__describe_task_queue_request__init(m);
    temporal__api__workflowservice__v1__describe_task_queue_request__init(pub);
    pub->namespace_ = (char *)"default";
    pub->task_queue = mx_tq(&x, "tq", 0, NULL);
    pub->include_task_queue_status = 1;
    m->namespace_id = (char *)NS;
    m->request = pub;
    mx_call(&x, "DescribeTaskQueue", &m->base, 1000, &d);
    TD_CHECK(d.done);
    resp = mx_unpack(
            &x, &temporal__api__workflowservice__v1__describe_task_queue_response__descriptor, &d);
    TD_CHECK_INT(resp->n_pollers, ==, 1);
    TD_CHECK_STR(resp->pollers[0]->identity, "alpha@host");
    TD_CHECK(resp->pollers[0]->last_access_time != NULL);
    TD_CHECK_INT(resp->pollers[0]->last_access_time->seconds, >=, now_s - 1);
    TD_CHECK(resp->task_queue_status != NULL);
    /* the activity queue of the same name */
    pub->task_queue_type = TEMPORAL__API__ENUMS__V1__TASK_QUEUE_TYPE__TASK_QUEUE_TYPE_ACTIVITY;
    mx_call(&x, "DescribeTaskQueue", &m->base, 1000, &d);
    resp = mx_unpack(
            &x, &temporal__api__workflowservice__v1__describe_task_queue_response__descriptor, &d);
    TD_CHECK_INT(resp->n_pollers, ==, 1);
    TD_CHECK_STR(resp->pollers[0]->identity, "beta@host");
    /* an unknown queue: no pollers, no error */
    pub->task_queue = mx_tq(&x, "nobody", 0, NULL);
    mx_call(&x, "DescribeTaskQueue", &m->base, 1000, &d);
    resp = mx_unpack(
            &x, &temporal__api__workflowservice__v1__describe_task_queue_response__descriptor, &d);
    TD_CHECK_INT(resp->n_pollers, ==, 0);
    /* the waiting polls get tasks so the test ends without waiting for expiry */
    mx_add_wft(&x, "wf-1", 3, "tq", 0, NULL, &add);
    MX_WAIT(&x, &p1);
    mx_add_act(&x, "wf-1", 4, 1, "tq", &add);
    MX_WAIT(&x, &p2);
    mx_res_free(&p1);
    mx_res_free(&p2);
    mx_res_free(&d);
    mx_res_free(&add);
    mx_free(&x);
}

TD_TEST(mr_drain_answers_waiting_polls)
{
    mx_t x;
    res_t poll = { 0 }, add = { 0 };

    mx_init(&x);
    mx_poll_wft(&x, "tq", 0, "w", 10000, &poll);
    mx_run(&x, NULL, 5);
    td_role_matching.drain(x.r, mx_drained, &x);
    TD_CHECK(mx_run(&x, &x.drained, 5000));
    TD_CHECK(poll.done);
    TD_CHECK_INT(poll.status, ==, TD_GRPC_UNAVAILABLE);
    /* calls after the drain are refused, not lost */
    mx_add_wft(&x, "wf-1", 3, "tq", 0, NULL, &add);
    TD_CHECK(add.done);
    TD_CHECK_INT(add.status, ==, TD_GRPC_UNAVAILABLE);
    td_role_matching.stop(x.r);
    td_svc_free(&x.srv);
    td_store_close(x.store);
    mx_run(&x, NULL, 5);
    td_config_destroy(&x.cfg);
    td_loop_free(x.loop);
    td_arena_destroy(&x.arena);
    mx_res_free(&poll);
    mx_res_free(&add);
}

/* ---- throughput through the service layer ---- */

typedef struct {
    mx_t *x;
    int n, pollers;
    int added, add_failed, delivered, empty, polls_out;
    Temporald__Matchingservice__PollWorkflowTaskQueueRequest *poll_req;
} bench_t;

static void bench_poll(bench_t *b);

static void bench_poll_done(const ProtobufCMessage *resp, int status, const char *message,
                            const ProtobufCMessage *detail, void *arg)
{
    bench_t *b = arg;
    /* the response may hold its fields packed (net/pb_raw.h): read it as a client would */
    size_t len = protobuf_c_message_get_packed_size(resp);
    uint8_t *buf = malloc(len + 1);
    wft_resp_t *m;

    (void)message;
    (void)detail;
    b->polls_out--;
    TD_CHECK_INT(status, ==, TD_GRPC_OK);
    protobuf_c_message_pack(resp, buf);
    m = temporal__api__workflowservice__v1__poll_workflow_task_queue_response__unpack(NULL, len,
                                                                                      buf);
    TD_CHECK(m != NULL);
    if (m->task_token.len > 0) {
        b->delivered++;
    } else {
        b->empty++;
    }
    temporal__api__workflowservice__v1__poll_workflow_task_queue_response__free_unpacked(m, NULL);
    free(buf);
    if (b->delivered + b->polls_out < b->n) {
        bench_poll(b);
    }
}

static void bench_poll(bench_t *b)
{
    b->polls_out++;
    td_svc_call(&b->x->srv, TD_SVC_MATCHING "PollWorkflowTaskQueue", &b->poll_req->base,
                td_now_mono_ms() + 30000, bench_poll_done, b);
}

static void bench_add_done(const ProtobufCMessage *resp, int status, const char *message,
                           const ProtobufCMessage *detail, void *arg)
{
    bench_t *b = arg;

    (void)resp;
    (void)message;
    (void)detail;
    if (status == TD_GRPC_OK) {
        b->added++;
    } else {
        b->add_failed++;
    }
}

static int bench_all_delivered(const bench_t *b)
{
    return b->delivered >= b->n;
}

/* n tasks added at once (one AddWorkflowTask each) while `pollers` polls wait and re-poll. */
static void bench_run(mx_t *x, int n, int pollers, const char *label)
{
    bench_t b;
    int64_t t0, t1;
    int flag = 0;
    td_match_stats_t st;
    char tq[32];

    memset(&b, 0, sizeof(b));
    b.x = x;
    b.n = n;
    b.pollers = pollers;
    snprintf(tq, sizeof(tq), "bench-%d", pollers);
    {
        Temporald__Matchingservice__PollWorkflowTaskQueueRequest *m =
                td_arena_calloc(&x->arena, sizeof(*m));
        Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueRequest *p =
                td_arena_calloc(&x->arena, sizeof(*p));
        temporald__matchingservice__poll_workflow_task_queue_request__init(m);
        temporal__api__workflowservice__v1__poll_workflow_task_queue_request__init(p);
        p->task_queue = mx_tq(x, tq, 0, NULL);
        p->identity = (char *)"bench-worker";
        m->namespace_id = (char *)NS;
        m->request = p;
        b.poll_req = m;
    }
    t0 = td_now_mono_ms();
    for (int i = 0; i < pollers && i < n; i++) {
        bench_poll(&b);
    }
    for (int i = 0; i < n; i++) {
        Temporald__Matchingservice__AddWorkflowTaskRequest *m =
                td_arena_calloc(&x->arena, sizeof(*m));
        char wf[32];
        temporald__matchingservice__add_workflow_task_request__init(m);
        snprintf(wf, sizeof(wf), "bench-%d", i);
        m->namespace_id = (char *)NS;
        m->execution = mx_we(x, wf);
        m->task_queue = mx_tq(x, tq, 0, NULL);
        m->scheduled_event_id = 2;
        td_svc_call(&x->srv, TD_SVC_MATCHING "AddWorkflowTask", &m->base, td_now_mono_ms() + 30000,
                    bench_add_done, &b);
    }
    while (!bench_all_delivered(&b) && td_now_mono_ms() - t0 < 60000) {
        mx_run(x, &flag, 5);
    }
    t1 = td_now_mono_ms();
    TD_CHECK_INT(b.delivered, ==, n);
    while (b.added + b.add_failed < n && td_now_mono_ms() - t0 < 60000) {
        mx_run(x, &flag, 5);
    }
    TD_CHECK_INT(b.added, ==, n);
    TD_CHECK_INT(b.add_failed, ==, 0);
    td_matching_stats(x->r->engine, &(td_match_key_t){ NS, tq, TD_MATCH_WORKFLOW, TD_MATCH_NORMAL },
                      &st);
    printf("# %s: %d tasks, %d pollers: %lld ms (%.0f tasks/s), %lld sync-matched, %lld "
           "persisted, %d history calls\n",
           label, n, pollers, (long long)(t1 - t0), n * 1000.0 / (double)(t1 - t0 + 1),
           (long long)st.sync_matched, (long long)st.persisted, x->nrec);
}

TD_TEST_T(mr_throughput, 120)
{
    mx_t x;

    mx_init(&x);
    x.hist_async = 1;
    bench_run(&x, 20000, 64, "backlog+sync");
    x.nrec = 0;
    bench_run(&x, 20000, 20000, "all sync");
    mx_free(&x);
}
