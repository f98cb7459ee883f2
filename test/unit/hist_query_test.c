/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Consistent (buffered) queries in the history service, over a real SQLite store and a fake
 * matching (hist_fixture.h): a query arriving while a workflow task
 * is scheduled or started rides in the next task's `queries` map and is answered from the
 * completion's query_results (ANSWERED, FAILED), falls back to a legacy query task when the
 * completion schedules no new task, is bounded per workflow (RESOURCE_EXHAUSTED), and is
 * released by its caller's deadline. Queries with no task in flight stay legacy.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "hist_fixture.h"
#include "roles/history/hist_int.h"
#include "temporal/api/enums/v1/query.pb-c.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"

#define QNS "7d3c9a10-1111-4222-8333-444455556677"

/* The fixture with the legacy query answer "legacy:<type>:<history length>". */
static void qx_init(hf_t *x)
{
    hf_init(x, QNS, 1, NULL);
    x->query_prefix = "legacy:";
}

/* Starts wf (request id wf); the run id lands in x->run. */
static void qx_start(hf_t *x, const char *wf)
{
    TD_CHECK_INT(hf_start(x, wf, wf, 0, 0, NULL), ==, 0);
}

/* Hands out the workflow task `sid` of x->run (the test starts one workflow at a time). */
static poll_wft_t *qx_wft_started(hf_t *x, const char *wf, int64_t sid, const char *req_id)
{
    poll_wft_t *out = NULL;

    TD_CHECK_INT(hf_wft_started(x, wf, x->run, sid, req_id, TQK(NORMAL), &out), ==, 0);
    return out;
}

static void qx_complete(hf_t *x, ProtobufCBinaryData token, complete_t *req)
{
    TD_CHECK_INT(hf_wft_complete(x, token, req, NULL), ==, 0);
}

/* Starts QueryWorkflow(type) on wf without waiting. */
static void qx_query_async(hf_t *x, const char *wf, const char *type, int64_t deadline,
                           hf_res_t *res)
{
    Temporald__Historyservice__QueryWorkflowRequest *r = hf_pb(x, &HSD(query_workflow_request));
    r->namespace_id = x->ns;
    r->request = hf_pb(x, &WSD(query_workflow_request));
    r->request->execution = hf_we(x, wf, NULL);
    r->request->query = PB(Temporal__Api__Query__V1__WorkflowQuery,
                           temporal__api__query__v1__workflow_query__descriptor);
    r->request->query->query_type = td_arena_strdup(&x->fx.arena, type);
    r->request->query->query_args = fx_payloads(&x->fx, "arg");
    hf_call_async(x, "QueryWorkflow", &r->base, deadline, res);
}

/* The answer payload of a finished QueryWorkflow, as a string in the fixture arena. */
static const char *qx_answer(hf_t *x, const hf_res_t *res)
{
    Temporal__Api__Workflowservice__V1__QueryWorkflowResponse *qr;

    TD_CHECK(res->done);
    TD_CHECK_INT(res->status, ==, 0);
    qr = temporal__api__workflowservice__v1__query_workflow_response__unpack(
            td_arena_pb(&x->fx.arena), res->resp_len, res->resp);
    TD_CHECK(qr != NULL && qr->query_result != NULL && qr->query_result->n_payloads == 1);
    return td_arena_strndup(&x->fx.arena, (const char *)qr->query_result->payloads[0]->data.data,
                            qr->query_result->payloads[0]->data.len);
}

/* The fixture, wf started and its first workflow task handed out. */
static poll_wft_t *qx_begin(hf_t *x, const char *wf)
{
    qx_init(x);
    qx_start(x, wf);
    return qx_wft_started(x, wf, x->last_sid, "poll-1");
}

/* Starts QueryWorkflow(type) on wf and checks it is still waiting 50 ms later. */
static void qx_pending(hf_t *x, const char *wf, const char *type, hf_res_t *res)
{
    qx_query_async(x, wf, type, 0, res);
    hf_run(x, NULL, 50);
    TD_CHECK(!res->done);
}

/* Waits for the query `res` and checks its answer. */
static void qx_expect(hf_t *x, hf_res_t *res, const char *answer)
{
    hf_run(x, &res->done, 5000);
    TD_CHECK_STR(qx_answer(x, res), answer);
}

static complete_t *qx_req_timer(hf_t *x, const char *timer_id)
{
    return fx_complete_req(&x->fx, 1, fx_cmd_timer(&x->fx, timer_id, 3600 * TD_MS_SECOND));
}

/* Adds query_results[id] = ANSWERED(answer) or FAILED(message) to req. */
static void qx_req_result(hf_t *x, complete_t *req, const char *id, int answered, const char *text)
{
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest__QueryResultsEntry *e =
            hf_pb(x, &WSD(respond_workflow_task_completed_request__query_results_entry));
    Temporal__Api__Query__V1__WorkflowQueryResult *res =
            PB(Temporal__Api__Query__V1__WorkflowQueryResult,
               temporal__api__query__v1__workflow_query_result__descriptor);
    void **v = td_arena_calloc(&x->fx.arena, (req->n_query_results + 1) * sizeof(*v));

    e->key = td_arena_strdup(&x->fx.arena, id);
    e->value = res;
    if (answered) {
        res->result_type = TEMPORAL__API__ENUMS__V1__QUERY_RESULT_TYPE__QUERY_RESULT_TYPE_ANSWERED;
        res->answer = fx_payloads(&x->fx, text);
    } else {
        res->result_type = TEMPORAL__API__ENUMS__V1__QUERY_RESULT_TYPE__QUERY_RESULT_TYPE_FAILED;
        res->error_message = td_arena_strdup(&x->fx.arena, text);
        res->failure = PB(Temporal__Api__Failure__V1__Failure,
                          temporal__api__failure__v1__failure__descriptor);
        res->failure->message = res->error_message;
    }
    if (req->n_query_results > 0) {
        memcpy(v, req->query_results, req->n_query_results * sizeof(*v));
    }
    v[req->n_query_results++] = e;
    req->query_results = (void *)v;
}

TD_TEST_T(hist_query_buffered_rides_in_next_task_and_is_answered, 60)
{
    hf_t xx, *x = &xx;
    hf_res_t q1 = { 0 };
    poll_wft_t *p;
    complete_t *req;

    qx_init(x);
    qx_start(x, "wf-q1");
    TD_CHECK_INT(x->n_wft, ==, 1);

    /* a workflow task is scheduled (not started): the query waits for it, no legacy task */
    qx_pending(x, "wf-q1", "state", &q1);
    TD_CHECK_INT(x->n_query, ==, 0);

    /* the task handed out carries it */
    p = qx_wft_started(x, "wf-q1", x->last_sid, "poll-1");
    TD_CHECK_INT(p->n_queries, ==, 1);
    TD_CHECK(p->queries[0]->key != NULL && strlen(p->queries[0]->key) == 36);
    TD_CHECK_STR(p->queries[0]->value->query_type, "state");
    TD_CHECK(p->queries[0]->value->query_args != NULL &&
             p->queries[0]->value->query_args->n_payloads == 1);
    TD_CHECK(!q1.done);

    /* the completion answers it */
    req = qx_req_timer(x, "t1");
    qx_req_result(x, req, p->queries[0]->key, 1, "answer-1");
    qx_complete(x, p->task_token, req);
    qx_expect(x, &q1, "answer-1");
    TD_CHECK_INT(x->n_query, ==, 0);

    /* no task in flight now: a query goes straight to a legacy query task (5 events:
     * started, task scheduled/started/completed, timer started) */
    qx_query_async(x, "wf-q1", "state", 0, &q1);
    qx_expect(x, &q1, "legacy:state:5");
    TD_CHECK_INT(x->n_query, ==, 1);
    hf_res_clear(&q1);
    hf_free(x);
}

TD_TEST_T(hist_query_unanswered_without_new_task_falls_back_to_legacy, 60)
{
    hf_t xx, *x = &xx;
    hf_res_t q1 = { 0 };
    poll_wft_t *p;

    p = qx_begin(x, "wf-q2");
    TD_CHECK_INT(p->n_queries, ==, 0);

    /* arrives while the task is started: not in that task */
    qx_pending(x, "wf-q2", "count", &q1);

    /* the completion schedules no new task and has no answer: a legacy query task answers,
     * with the history including the completion (5 events) */
    qx_complete(x, p->task_token, qx_req_timer(x, "t1"));
    qx_expect(x, &q1, "legacy:count:5");
    TD_CHECK_INT(x->n_query, ==, 1);
    hf_res_clear(&q1);
    hf_free(x);
}

TD_TEST_T(hist_query_waits_across_tasks_failed_answer_and_limit, 60)
{
    hf_t xx, *x = &xx;
    hf_res_t q1 = { 0 }, q2 = { 0 };
    poll_wft_t *p;
    complete_t *req;
    int n_wft;

    p = qx_begin(x, "wf-q3");
    qx_pending(x, "wf-q3", "state", &q1);

    /* history.MaxBufferedQueryCount = 1: a second one is refused */
    qx_query_async(x, "wf-q3", "other", 0, &q2);
    hf_run(x, &q2.done, 5000);
    TD_CHECK_INT(q2.status, ==, TD_GRPC_RESOURCE_EXHAUSTED);

    /* a signal during the task: its completion schedules a new task; the query (unanswered)
     * stays buffered and rides in that one */
    TD_CHECK_INT(hf_signal(x, "wf-q3", NULL, "go", "sig-1", "1"), ==, 0);
    n_wft = x->n_wft;
    qx_complete(x, p->task_token, qx_req_timer(x, "t1"));
    TD_CHECK_INT(x->n_wft, ==, n_wft + 1);
    hf_run(x, NULL, 50);
    TD_CHECK(!q1.done);
    TD_CHECK_INT(x->n_query, ==, 0);
    p = qx_wft_started(x, "wf-q3", x->last_sid, "poll-2");
    TD_CHECK_INT(p->n_queries, ==, 1);
    TD_CHECK_STR(p->queries[0]->value->query_type, "state");

    /* FAILED: INVALID_ARGUMENT with the worker's message and a QueryFailedFailure detail */
    req = fx_complete_req(&x->fx, 0);
    qx_req_result(x, req, p->queries[0]->key, 0, "no such query");
    qx_complete(x, p->task_token, req);
    hf_run(x, &q1.done, 5000);
    TD_CHECK_INT(q1.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(q1.msg, "no such query");
    {
        Temporal__Api__Errordetails__V1__QueryFailedFailure *d =
                temporal__api__errordetails__v1__query_failed_failure__unpack(
                        td_arena_pb(&x->fx.arena), q1.detail_len, q1.detail);
        TD_CHECK(d != NULL && d->failure != NULL);
        TD_CHECK_STR(d->failure->message, "no such query");
    }
    TD_CHECK_INT(x->n_query, ==, 0);
    hf_res_clear(&q1);
    hf_res_clear(&q2);
    hf_free(x);
}

TD_TEST_T(hist_query_deadline_releases_the_buffer_slot, 60)
{
    hf_t xx, *x = &xx;
    hf_res_t q1 = { 0 }, q2 = { 0 };
    poll_wft_t *p;
    complete_t *req;

    p = qx_begin(x, "wf-q4");

    /* the caller's deadline passes while the query is buffered */
    qx_query_async(x, "wf-q4", "state", td_now_mono_ms() + 100, &q1);
    hf_run(x, &q1.done, 5000);
    TD_CHECK(q1.status == TD_GRPC_CANCELLED || q1.status == TD_GRPC_DEADLINE_EXCEEDED);

    /* the slot is free again: a new query buffers (not RESOURCE_EXHAUSTED) */
    qx_pending(x, "wf-q4", "again", &q2);

    /* the released query's id is unknown to the completion: ignored; no new task, so the
     * buffered one falls back to a legacy task */
    req = qx_req_timer(x, "t1");
    qx_req_result(x, req, "00000000-0000-4000-8000-000000000000", 1, "stale");
    qx_complete(x, p->task_token, req);
    qx_expect(x, &q2, "legacy:again:5");
    hf_res_clear(&q1);
    hf_res_clear(&q2);
    hf_free(x);
}

static void qx_wft_fail(hf_t *x, ProtobufCBinaryData token)
{
    Temporald__Historyservice__RespondWorkflowTaskFailedRequest *r =
            hf_pb(x, &HSD(respond_workflow_task_failed_request));
    r->namespace_id = x->ns;
    r->request = hf_pb(x, &WSD(respond_workflow_task_failed_request));
    r->request->task_token = token;
    r->request->cause = CAUSE(WORKFLOW_WORKER_UNHANDLED_FAILURE);
    TD_CHECK_INT(hf_call(x, "RespondWorkflowTaskFailed", &r->base, NULL, NULL), ==, 0);
}

TD_TEST_T(hist_query_run_closed_while_buffered_goes_legacy, 60)
{
    hf_t xx, *x = &xx;
    hf_res_t q1 = { 0 };

    (void)qx_begin(x, "wf-q5");
    qx_pending(x, "wf-q5", "state", &q1);

    /* terminated while the task runs: the buffered query is released to a legacy task on the
     * closed run (history: started, task scheduled, started, failed (force close),
     * terminated) */
    TD_CHECK_INT(hf_terminate(x, "wf-q5", NULL), ==, 0);
    qx_expect(x, &q1, "legacy:state:5");
    TD_CHECK_INT(x->n_query, ==, 1);
    hf_res_clear(&q1);
    hf_free(x);
}

TD_TEST_T(hist_query_failing_workflow_task_is_not_ready, 60)
{
    hf_t xx, *x = &xx;
    hf_res_t q1 = { 0 };
    poll_wft_t *p;

    qx_init(x);
    qx_start(x, "wf-q6");
    /* attempts 1 and 2 fail; attempt 3 is scheduled */
    p = qx_wft_started(x, "wf-q6", x->last_sid, "poll-1");
    TD_CHECK_INT(p->attempt, ==, 1);
    qx_wft_fail(x, p->task_token);
    p = qx_wft_started(x, "wf-q6", x->last_sid, "poll-2");
    TD_CHECK_INT(p->attempt, ==, 2);
    qx_wft_fail(x, p->task_token);

    qx_query_async(x, "wf-q6", "state", 0, &q1);
    hf_run(x, &q1.done, 5000);
    TD_CHECK_INT(q1.status, ==, TD_GRPC_FAILED_PRECONDITION);
    TD_CHECK_STR(q1.msg, "Unable to query workflow due to Workflow Task in failed state.");
    TD_CHECK(q1.detail != NULL);
    TD_CHECK_INT(x->n_query, ==, 0);
    hf_res_clear(&q1);
    hf_free(x);
}

TD_TEST_T(hist_query_buffered_on_a_run_that_continues_as_new, 60)
{
    hf_t xx, *x = &xx;
    hf_res_t q1 = { 0 };
    poll_wft_t *p;

    p = qx_begin(x, "wf-q7");
    qx_pending(x, "wf-q7", "state", &q1);

    /* the run continues as new: the query stays on the run it was buffered on, now closed,
     * and a legacy task answers it from that run's history (started, task scheduled, started,
     * completed, continued-as-new), not from the new run with its task in flight */
    qx_complete(x, p->task_token,
                fx_complete_req(&x->fx, 1, fx_cmd_continue_as_new(&x->fx, "next")));
    qx_expect(x, &q1, "legacy:state:5");
    TD_CHECK_INT(x->n_query, ==, 1);
    hf_res_clear(&q1);
    hf_free(x);
}
