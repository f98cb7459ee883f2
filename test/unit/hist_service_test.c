/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The history service end to end over a real SQLite store: the role's internal methods are
 * called with td_svc_call on a test server, a fake matching (registered under the
 * MatchingService paths) records AddWorkflowTask / AddActivityTask, and the test plays the
 * worker: record-started, respond, read the history back. Also: id-reuse and conflict
 * policies, signals/cancel/terminate/describe, history long polls, and a restart that drops
 * every in-memory state and checks the pending tasks are re-driven from the store.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "hist_fixture.h"
#include "roles/history/hist_int.h"
#include "roles/role.h"
#include "roles/svc.h"
#include "temporal/api/enums/v1/workflow.pb-c.h"
#include "temporal/api/enums/v1/query.pb-c.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"

#define HNS "7d3c9a10-1111-4222-8333-444455556666"

static const char *hx_dyn; /* one --dynamic-config-value for the next hx_init */

/* The fixture on namespace HNS; the fake matching checks every workflow task is of HNS. */
static void hx_init(hf_t *x, int shards)
{
    hf_init(x, HNS, shards, hx_dyn);
    x->check_ns = 1;
}

static void hx_check_types(Temporal__Api__History__V1__History *h, int64_t first, size_t n,
                           const int *types)
{
    TD_CHECK(h != NULL);
    TD_CHECK_INT(h->n_events, ==, n);
    for (size_t i = 0; i < n; i++) {
        TD_CHECK_INT(h->events[i]->event_id, ==, first + (int64_t)i);
        TD_CHECK_INT(h->events[i]->event_type, ==, types[i]);
        TD_CHECK(h->events[i]->event_time != NULL);
    }
}

typedef struct {
    int done, status, n_events, first_type, has_token;
} hx_lp_t;

static void hx_lp_done(const ProtobufCMessage *resp, int status, const char *message,
                       const ProtobufCMessage *detail, void *arg)
{
    hx_lp_t *lp = arg;
    (void)message;
    (void)detail;
    lp->done++;
    lp->status = status;
    if (resp != NULL) {
        const Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *r =
                (const void *)resp;
        lp->n_events = r->history ? (int)r->history->n_events : 0;
        lp->first_type = lp->n_events > 0 ? (int)r->history->events[0]->event_type : 0;
        lp->has_token = r->next_page_token.len > 0;
    }
}

static int hx_has_wft8(hf_t *x)
{
    for (int i = 0; i < x->n_wft && i < 64; i++) {
        if (x->wft[i].scheduled_id == 8) {
            return 1;
        }
    }
    return 0;
}

static int hx_has_three_wft(hf_t *x)
{
    return x->n_wft > 2;
}

static int hx_has_two_wft(hf_t *x)
{
    return x->n_wft > 1;
}

/* Starts wf (request id "r1") and hands out its first workflow task. */
static void hx_first_task(hf_t *x, const char *wf, char run[40], poll_wft_t **p)
{
    TD_CHECK_INT(hf_start(x, wf, "r1", 0, 0, run), ==, 0);
    hf_run_until(x, hf_has_wft, 5000);
    TD_CHECK_INT(hf_wft_started(x, wf, run, 2, "poll-1", TQK(NORMAL), p), ==, 0);
}

/* An empty command of `type` with attributes `attrs` (a COMMAND__ATTRIBUTES_* case). */
static fx_cmd_t *hx_cmd(hf_t *x, int type, int attrs)
{
    fx_cmd_t *cmd = PB(fx_cmd_t, temporal__api__command__v1__command__descriptor);

    cmd->command_type = type;
    cmd->attributes_case = attrs;
    return cmd;
}

/* The worker answers task `token` by scheduling activity "a1"; waits until matching has it. */
static void hx_schedule_a1(hf_t *x, ProtobufCBinaryData token)
{
    TD_CHECK_INT(
            hf_wft_complete(x, token,
                            fx_complete_req(&x->fx, 1, fx_cmd_activity(&x->fx, "a1", SEC(10), 0)),
                            NULL),
            ==, 0);
    hf_run_until(x, hf_has_act, 5000);
}

/* The only event of run's CLOSE_EVENT history is WorkflowExecutionTerminated. */
static void hx_check_terminated(hf_t *x, const char *wf, const char *run)
{
    ProtobufCBinaryData none = { 0, NULL };
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *gh =
            hf_history(x, wf, run, 1, 0, none, 0);

    TD_CHECK_INT(gh->history->n_events, ==, 1);
    TD_CHECK_INT(gh->history->events[0]->event_type, ==, ET(WORKFLOW_EXECUTION_TERMINATED));
}

/* ---- tests ---- */

TD_TEST_T(hist_tier0_start_activity_complete_result, 60)
{
    hf_t xx, *x = &xx;
    char run[40];
    poll_wft_t *p = NULL;
    poll_act_t *pa = NULL;
    static const int t1[] = { ET(WORKFLOW_EXECUTION_STARTED), ET(WORKFLOW_TASK_SCHEDULED),
                              ET(WORKFLOW_TASK_STARTED) };
    static const int t2[] = { ET(WORKFLOW_EXECUTION_STARTED),  ET(WORKFLOW_TASK_SCHEDULED),
                              ET(WORKFLOW_TASK_STARTED),       ET(WORKFLOW_TASK_COMPLETED),
                              ET(ACTIVITY_TASK_SCHEDULED),     ET(ACTIVITY_TASK_STARTED),
                              ET(ACTIVITY_TASK_COMPLETED),     ET(WORKFLOW_TASK_SCHEDULED),
                              ET(WORKFLOW_TASK_STARTED),       ET(WORKFLOW_TASK_COMPLETED),
                              ET(WORKFLOW_EXECUTION_COMPLETED) };
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *gh;
    ProtobufCBinaryData none = { 0, NULL };

    hx_init(x, 1);
    TD_CHECK_INT(hf_start(x, "wf-1", "req-1", 0, 0, run), ==, 0);

    /* the first workflow task reaches matching */
    hf_run_until(x, hf_has_wft, 5000);
    TD_CHECK_STR(x->wft[0].wf, "wf-1");
    TD_CHECK_STR(x->wft[0].run, run);
    TD_CHECK_STR(x->wft[0].tq, "tq");
    TD_CHECK_INT(x->wft[0].scheduled_id, ==, 2);

    /* matching hands it to a poller */
    TD_CHECK_INT(hf_wft_started(x, "wf-1", run, 2, "poll-1", TQK(NORMAL), &p), ==, 0);
    TD_CHECK(p->task_token.len > 0);
    TD_CHECK_INT(p->started_event_id, ==, 3);
    TD_CHECK_INT(p->previous_started_event_id, ==, 0);
    TD_CHECK_INT(p->attempt, ==, 1);
    TD_CHECK_STR(p->workflow_execution->run_id, run);
    TD_CHECK_STR(p->workflow_type->name, "Greet");
    TD_CHECK_STR(p->workflow_execution_task_queue->name, "tq");
    TD_CHECK_INT(p->workflow_execution_task_queue->kind, ==, TQK(NORMAL));
    TD_CHECK(p->scheduled_time != NULL && p->started_time != NULL);
    hx_check_types(p->history, 1, 3, t1);

    /* a second hand-off of the same task with another request id is stale */
    TD_CHECK_INT(hf_wft_started(x, "wf-1", run, 2, "poll-2", TQK(NORMAL), NULL), ==,
                 TD_GRPC_NOT_FOUND);

    /* the worker schedules an activity */
    hx_schedule_a1(x, p->task_token);
    TD_CHECK_INT(x->act[0].scheduled_id, ==, 5);
    TD_CHECK_INT(x->act[0].attempt, ==, 1);
    TD_CHECK_STR(x->act[0].tq, "tq");

    TD_CHECK_INT(hf_act_started(x, "wf-1", run, 5, 1, &pa), ==, 0);
    TD_CHECK(pa->task_token.len > 0);
    TD_CHECK_STR(pa->activity_id, "a1");
    TD_CHECK_STR(pa->activity_type->name, "SayHello");
    TD_CHECK_STR(pa->workflow_namespace, "default");
    TD_CHECK_STR(pa->workflow_type->name, "Greet");
    TD_CHECK(pa->schedule_to_close_timeout != NULL);
    TD_CHECK(pa->start_to_close_timeout != NULL);
    TD_CHECK_INT(pa->start_to_close_timeout->seconds, ==, 10);
    TD_CHECK_INT(pa->attempt, ==, 1);
    TD_CHECK(pa->input != NULL && pa->input->n_payloads == 1);
    TD_CHECK_INT(pa->input->payloads[0]->data.len, ==, 4);
    TD_CHECK(memcmp(pa->input->payloads[0]->data.data, "\"in\"", 4) == 0);
    TD_CHECK(pa->retry_policy != NULL);

    /* a heartbeat with the token: recorded, not cancelled */
    {
        Temporald__Historyservice__RecordActivityTaskHeartbeatRequest *hb =
                hf_pb(x, &HSD(record_activity_task_heartbeat_request));
        Temporal__Api__Workflowservice__V1__RecordActivityTaskHeartbeatResponse *hr = NULL;
        hb->namespace_id = (char *)HNS;
        hb->request = hf_pb(x, &WSD(record_activity_task_heartbeat_request));
        hb->request->task_token = pa->task_token;
        hb->request->details = fx_payloads(&x->fx, "\"half\"");
        TD_CHECK_INT(hf_call(x, "RecordActivityTaskHeartbeat", &hb->base,
                             &WSD(record_activity_task_heartbeat_response), (void **)&hr),
                     ==, 0);
        TD_CHECK(!hr->cancel_requested);
    }
    TD_CHECK_INT(hf_act_complete(x, pa->task_token, "\"hello\""), ==, 0);
    /* the same completion again: the activity is gone */
    TD_CHECK_INT(hf_act_complete(x, pa->task_token, "\"hello\""), ==, TD_GRPC_NOT_FOUND);

    /* the activity result schedules the next workflow task */
    hf_run_until(x, hx_has_two_wft, 5000);
    TD_CHECK_INT(x->wft[1].scheduled_id, ==, 8);
    TD_CHECK_INT(hf_wft_started(x, "wf-1", run, 8, "poll-3", TQK(NORMAL), &p), ==, 0);
    TD_CHECK_INT(p->started_event_id, ==, 9);
    TD_CHECK_INT(p->previous_started_event_id, ==, 3);
    hx_check_types(p->history, 1, 9, t2);

    /* before the workflow completes, a CLOSE_EVENT read without wait is empty */
    gh = hf_history(x, "wf-1", "", 1, 0, none, 0);
    TD_CHECK_INT(gh->history->n_events, ==, 0);

    TD_CHECK_INT(hf_wft_complete(x, p->task_token,
                                 fx_complete_req(&x->fx, 1, fx_cmd_complete(&x->fx, "\"done\"")),
                                 NULL),
                 ==, 0);

    /* handle.result(): CLOSE_EVENT with wait on the current run */
    gh = hf_history(x, "wf-1", "", 1, 1, none, 0);
    TD_CHECK_INT(gh->history->n_events, ==, 1);
    TD_CHECK_INT(gh->history->events[0]->event_id, ==, 11);
    TD_CHECK_INT(gh->history->events[0]->event_type, ==, ET(WORKFLOW_EXECUTION_COMPLETED));
    TD_CHECK(gh->history->events[0]->workflow_execution_completed_event_attributes->result != NULL);
    TD_CHECK_INT(gh->next_page_token.len, ==, 0);

    /* the whole history, from the store, in pages of 4 */
    {
        int64_t next = 1;
        ProtobufCBinaryData tok = none;
        int pages = 0;
        do {
            gh = hf_history(x, "wf-1", run, 0, 0, tok, 4);
            for (size_t i = 0; i < gh->history->n_events; i++) {
                TD_CHECK_INT(gh->history->events[i]->event_id, ==, next);
                TD_CHECK_INT(gh->history->events[i]->event_type, ==, t2[next - 1]);
                next++;
            }
            tok = gh->next_page_token;
            pages++;
        } while (tok.len > 0 && pages < 20);
        TD_CHECK_INT(next, ==, 12);
        TD_CHECK_INT(pages, >=, 2);
    }

    /* the whole history backwards, in pages of 4 */
    {
        Temporald__Historyservice__GetWorkflowExecutionHistoryReverseRequest *rv =
                hf_pb(x, &HSD(get_workflow_execution_history_reverse_request));
        Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryReverseResponse *rr = NULL;
        int64_t want = 11;
        int pages = 0;
        rv->namespace_id = (char *)HNS;
        rv->request = hf_pb(x, &WSD(get_workflow_execution_history_reverse_request));
        rv->request->execution = hf_we(x, "wf-1", "");
        rv->request->maximum_page_size = 4;
        do {
            TD_CHECK_INT(hf_call(x, "GetWorkflowExecutionHistoryReverse", &rv->base,
                                 &WSD(get_workflow_execution_history_reverse_response),
                                 (void **)&rr),
                         ==, 0);
            for (size_t i = 0; i < rr->history->n_events; i++) {
                TD_CHECK_INT(rr->history->events[i]->event_id, ==, want);
                want--;
            }
            rv->request->next_page_token = rr->next_page_token;
            pages++;
        } while (rr->next_page_token.len > 0 && pages < 10);
        TD_CHECK_INT(want, ==, 0);
        TD_CHECK_INT(pages, ==, 3);
    }

    /* a query on the closed run goes to a worker with the full history; NOT_OPEN rejects */
    {
        Temporald__Historyservice__QueryWorkflowRequest *r = hf_pb(x, &HSD(query_workflow_request));
        Temporal__Api__Workflowservice__V1__QueryWorkflowResponse *qr = NULL;
        r->namespace_id = (char *)HNS;
        r->request = hf_pb(x, &WSD(query_workflow_request));
        r->request->execution = hf_we(x, "wf-1", "");
        r->request->query = PB(Temporal__Api__Query__V1__WorkflowQuery,
                               temporal__api__query__v1__workflow_query__descriptor);
        r->request->query->query_type = (char *)"state";
        TD_CHECK_INT(
                hf_call(x, "QueryWorkflow", &r->base, &WSD(query_workflow_response), (void **)&qr),
                ==, 0);
        TD_CHECK_INT(x->n_query, ==, 1);
        TD_CHECK_INT(x->query_kind, ==, TQK(NORMAL));
        TD_CHECK(qr->query_result != NULL && qr->query_result->n_payloads == 1);
        TD_CHECK_INT(qr->query_result->payloads[0]->data.len, ==, 8);
        TD_CHECK(memcmp(qr->query_result->payloads[0]->data.data, "state:11", 8) == 0);
        r->request->query_reject_condition =
                TEMPORAL__API__ENUMS__V1__QUERY_REJECT_CONDITION__QUERY_REJECT_CONDITION_NOT_OPEN;
        TD_CHECK_INT(
                hf_call(x, "QueryWorkflow", &r->base, &WSD(query_workflow_response), (void **)&qr),
                ==, 0);
        TD_CHECK_INT(x->n_query, ==, 1);
        TD_CHECK(qr->query_rejected != NULL);
        TD_CHECK_INT(
                qr->query_rejected->status, ==,
                TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_COMPLETED);
    }

    /* describe */
    {
        Temporal__Api__Workflowservice__V1__DescribeWorkflowExecutionResponse *d =
                hf_describe(x, "wf-1", "");
        TD_CHECK_INT(
                d->workflow_execution_info->status, ==,
                TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_COMPLETED);
        TD_CHECK_INT(d->workflow_execution_info->history_length, ==, 11);
        TD_CHECK_STR(d->workflow_execution_info->type->name, "Greet");
        TD_CHECK_STR(d->workflow_execution_info->task_queue, "tq");
        TD_CHECK(d->workflow_execution_info->start_time != NULL);
        TD_CHECK(d->workflow_execution_info->close_time != NULL);
    }
    hf_free(x);
}

TD_TEST_T(hist_start_dedup_and_id_policies, 60)
{
    hf_t xx, *x = &xx;
    char run1[40], run2[40], run3[40];

    hx_init(x, 4);
    TD_CHECK_INT(hf_start(x, "wf-p", "r1", 0, 0, run1), ==, 0);
    /* same request id: the same run */
    TD_CHECK_INT(hf_start(x, "wf-p", "r1", 0, 0, run2), ==, 0);
    TD_CHECK_STR(run1, run2);
    /* another start while running: ALREADY_EXISTS with the running run in the detail */
    TD_CHECK_INT(hf_start(x, "wf-p", "r2", 0, 0, NULL), ==, TD_GRPC_ALREADY_EXISTS);
    TD_CHECK(x->call.detail != NULL);
    {
        Temporal__Api__Errordetails__V1__WorkflowExecutionAlreadyStartedFailure *d =
                temporal__api__errordetails__v1__workflow_execution_already_started_failure__unpack(
                        td_arena_pb(&x->fx.arena), x->call.detail_len, x->call.detail);
        TD_CHECK(d != NULL);
        TD_CHECK_STR(d->run_id, run1);
        TD_CHECK_STR(d->start_request_id, "r1");
    }
    /* USE_EXISTING: the running run, not started */
    TD_CHECK_INT(
            hf_start(
                    x, "wf-p", "r3", 0,
                    TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_CONFLICT_POLICY__WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
                    run2),
            ==, 100);
    TD_CHECK_STR(run1, run2);
    /* TERMINATE_EXISTING: run1 is terminated and replaced in one write */
    TD_CHECK_INT(
            hf_start(
                    x, "wf-p", "r3b", 0,
                    TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_CONFLICT_POLICY__WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING,
                    run2),
            ==, 0);
    TD_CHECK(strcmp(run1, run2) != 0);
    hx_check_terminated(x, "wf-p", run1);
    td_hist_drop_cache(x->hist); /* the current pointer moved in the store too */
    TD_CHECK_INT(hf_start(x, "wf-p", "r3b", 0, 0, run3), ==, 0);
    TD_CHECK_STR(run3, run2);

    /* terminate it, then the reuse policies decide */
    TD_CHECK_INT(hf_terminate(x, "wf-p", ""), ==, 0);
    /* terminating a closed run: NOT_FOUND */
    TD_CHECK_INT(hf_terminate(x, "wf-p", ""), ==, TD_GRPC_NOT_FOUND);
    TD_CHECK_INT(
            hf_start(
                    x, "wf-p", "r4",
                    TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_REUSE_POLICY__WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
                    0, NULL),
            ==, TD_GRPC_ALREADY_EXISTS);
    /* terminated counts as failed for ALLOW_DUPLICATE_FAILED_ONLY */
    TD_CHECK_INT(
            hf_start(
                    x, "wf-p", "r5",
                    TEMPORAL__API__ENUMS__V1__WORKFLOW_ID_REUSE_POLICY__WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
                    0, run3),
            ==, 0);
    TD_CHECK(strcmp(run3, run1) != 0);
    /* the old run is still readable by id, the new one is current */
    hx_check_terminated(x, "wf-p", run1);
    {
        ProtobufCBinaryData none = { 0, NULL };
        Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *gh =
                hf_history(x, "wf-p", "", 0, 0, none, 0);
        TD_CHECK_INT(gh->history->n_events, ==, 2);
    }
    hf_free(x);
}

TD_TEST_T(hist_signal_cancel_and_long_poll, 60)
{
    hf_t xx, *x = &xx;
    char run[40];
    poll_wft_t *p = NULL;
    ProtobufCBinaryData none = { 0, NULL };
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *gh;

    hx_init(x, 1);
    TD_CHECK_INT(hf_start(x, "wf-s", "r1", 0, 0, run), ==, 0);
    TD_CHECK_INT(hf_signal(x, "wf-s", "", "go", "sig-1", "1"), ==, 0);
    /* the same signal request again is deduplicated */
    TD_CHECK_INT(hf_signal(x, "wf-s", "", "go", "sig-1", "1"), ==, 0);
    TD_CHECK_INT(hf_signal(x, "nope", "", "go", "sig-1", "1"), ==, TD_GRPC_NOT_FOUND);
    hf_run_until(x, hf_has_wft, 5000);
    TD_CHECK_INT(hf_wft_started(x, "wf-s", run, 2, "poll-1", TQK(NORMAL), &p), ==, 0);
    /* Started, WFTScheduled, Signaled (written while the task was merely scheduled), Started */
    TD_CHECK_INT(p->history->n_events, ==, 4);
    TD_CHECK_INT(p->history->events[2]->event_type, ==, ET(WORKFLOW_EXECUTION_SIGNALED));
    TD_CHECK_INT(p->history->events[3]->event_type, ==, ET(WORKFLOW_TASK_STARTED));

    /* a long poll for events after 4 is parked, not woken by the cancel request (buffered
     * while the task is started: nothing written to history), and woken by the completion
     * that flushes it */
    {
        Temporald__Historyservice__GetWorkflowExecutionHistoryRequest *r =
                hf_pb(x, &HSD(get_workflow_execution_history_request));
        Temporald__Historyservice__RequestCancelWorkflowExecutionRequest *c =
                hf_pb(x, &HSD(request_cancel_workflow_execution_request));
        ProtobufCBinaryData tok;
        char tokbuf[80];
        hx_lp_t lp = { 0 };

        snprintf(tokbuf, sizeof(tokbuf), "%s:5", run);
        tok.data = (uint8_t *)tokbuf;
        tok.len = strlen(tokbuf);
        r->namespace_id = (char *)HNS;
        r->request = hf_pb(x, &WSD(get_workflow_execution_history_request));
        r->request->execution = hf_we(x, "wf-s", run);
        r->request->wait_new_event = 1;
        r->request->next_page_token = tok;
        td_svc_call(&x->srv, TD_SVC_HISTORY "GetWorkflowExecutionHistory", &r->base, 0, hx_lp_done,
                    &lp);
        hf_run_until(x, hf_idle, 5000);
        TD_CHECK_INT(lp.done, ==, 0);

        c->namespace_id = (char *)HNS;
        c->request = hf_pb(x, &WSD(request_cancel_workflow_execution_request));
        c->request->workflow_execution = hf_we(x, "wf-s", "");
        c->request->request_id = (char *)"cancel-1";
        c->request->reason = (char *)"because";
        TD_CHECK_INT(hf_call(x, "RequestCancelWorkflowExecution", &c->base, NULL, NULL), ==, 0);
        hf_run_until(x, hf_idle, 5000);
        TD_CHECK_INT(lp.done, ==, 0);

        /* drop the cache: the buffered request must have been persisted */
        td_hist_drop_cache(x->hist);
        TD_CHECK_INT(hf_wft_complete(x, p->task_token, fx_complete_req(&x->fx, 0), NULL), ==, 0);
        hf_run_until(x, hf_idle, 5000);
        TD_CHECK_INT(lp.done, ==, 1);
        TD_CHECK_INT(lp.status, ==, 0);
        /* WFTCompleted 5, CancelRequested 6, WFTScheduled 7 */
        TD_CHECK_INT(lp.n_events, ==, 3);
        TD_CHECK_INT(lp.first_type, ==, ET(WORKFLOW_TASK_COMPLETED));
        TD_CHECK_INT(lp.has_token, ==, 1);
    }
    gh = hf_history(x, "wf-s", run, 0, 0, none, 0);
    {
        int found = 0;
        for (size_t i = 0; i < gh->history->n_events; i++) {
            found |= gh->history->events[i]->event_type == ET(WORKFLOW_EXECUTION_CANCEL_REQUESTED);
        }
        TD_CHECK(found);
    }
    hf_free(x);
}

TD_TEST_T(hist_restart_redrives_tasks, 60)
{
    hf_t xx, *x = &xx;
    char run[40];
    poll_wft_t *p = NULL;

    hx_init(x, 1);
    hx_first_task(x, "wf-r", run, &p);

    /* matching goes away; the worker schedules an activity and a 400 ms timer */
    x->matching_down = 1;
    TD_CHECK_INT(
            hf_wft_complete(x, p->task_token,
                            fx_complete_req(&x->fx, 2, fx_cmd_activity(&x->fx, "a1", SEC(30), 0),
                                            fx_cmd_timer(&x->fx, "t1", SEC(1) / 5 * 2)),
                            NULL),
            ==, 0);
    TD_CHECK_INT(x->n_act, ==, 0);

    /* "kill -9": drop everything in memory, keep the store */
    hf_server_stop(x);
    x->matching_down = 0;
    x->n_act = x->n_wft = 0;
    hf_server_start(x);

    /* the activity task is re-driven to matching */
    hf_run_until(x, hf_has_act, 5000);
    TD_CHECK_STR(x->act[0].run, run);
    TD_CHECK_INT(x->act[0].scheduled_id, ==, 5);
    TD_CHECK_INT(x->act[0].attempt, ==, 1);

    /* the timer fires after the restart and schedules a workflow task (the first task,
     * scheduled 2, may be re-driven too when its ack had not been flushed: it is stale) */
    hf_run_until(x, hx_has_wft8, 5000);
    TD_CHECK_INT(hf_wft_started(x, "wf-r", run, 2, "poll-x", TQK(NORMAL), NULL), ==,
                 TD_GRPC_NOT_FOUND);
    TD_CHECK_INT(hf_wft_started(x, "wf-r", run, 8, "poll-2", TQK(NORMAL), &p), ==, 0);
    TD_CHECK_INT(p->history->n_events, ==, 9);
    TD_CHECK_INT(p->history->events[6]->event_type, ==, ET(TIMER_FIRED));

    /* the activity still completes with its pre-restart hand-off */
    {
        poll_act_t *pa = NULL;
        TD_CHECK_INT(hf_act_started(x, "wf-r", run, 5, 1, &pa), ==, 0);
        TD_CHECK_STR(pa->activity_id, "a1");
    }
    hf_free(x);
}

static int hx_has_two_act(hf_t *x)
{
    return x->n_act > 1;
}

TD_TEST_T(hist_timers_wft_timeout_and_activity_retry, 60)
{
    hf_t xx, *x = &xx;
    char run[40];
    poll_wft_t *p = NULL;
    poll_act_t *pa = NULL;
    Temporald__Historyservice__StartWorkflowExecutionRequest *r;
    fx_cmd_t *cmd;
    int64_t t0;
    ProtobufCBinaryData old_token;

    hx_init(x, 1);
    /* a run with a 1 s workflow task timeout */
    r = hf_start_req(x, "wf-t", NULL);
    r->request->workflow_task_timeout =
            PB(Google__Protobuf__Duration, google__protobuf__duration__descriptor);
    r->request->workflow_task_timeout->seconds = 1;
    TD_CHECK_INT(hf_call(x, "StartWorkflowExecution", &r->base, NULL, NULL), ==, 0);
    hf_run_until(x, hf_has_wft, 5000);
    memcpy(run, x->wft[0].run, sizeof(run));
    TD_CHECK_INT(hf_wft_started(x, "wf-t", run, 2, "poll-1", TQK(NORMAL), &p), ==, 0);
    old_token = p->task_token;

    /* nobody answers: the start-to-close timer times the task out and schedules attempt 2 */
    t0 = td_now_mono_ms();
    hf_run_until(x, hx_has_two_wft, 5000);
    TD_CHECK_INT(td_now_mono_ms() - t0, >=, 800);
    TD_CHECK_INT(x->wft[1].scheduled_id, ==, 5); /* 4 = WorkflowTaskTimedOut */
    TD_CHECK_INT(hf_wft_started(x, "wf-t", run, 5, "poll-2", TQK(NORMAL), &p), ==, 0);
    TD_CHECK_INT(p->attempt, ==, 2);
    TD_CHECK_INT(p->history->n_events, ==, 6);
    TD_CHECK_INT(p->history->events[3]->event_type, ==, ET(WORKFLOW_TASK_TIMED_OUT));
    /* the timed-out attempt's token is stale */
    TD_CHECK_INT(hf_wft_complete(x, old_token, fx_complete_req(&x->fx, 0), NULL), ==,
                 TD_GRPC_NOT_FOUND);

    /* an activity with a 100 ms retry interval fails once and is dispatched again */
    cmd = fx_cmd_activity(&x->fx, "a1", SEC(10), 3);
    cmd->schedule_activity_task_command_attributes->retry_policy->initial_interval =
            PB(Google__Protobuf__Duration, google__protobuf__duration__descriptor);
    cmd->schedule_activity_task_command_attributes->retry_policy->initial_interval->nanos =
            100000000;
    TD_CHECK_INT(hf_wft_complete(x, p->task_token, fx_complete_req(&x->fx, 1, cmd), NULL), ==, 0);
    hf_run_until(x, hf_has_act, 5000);
    TD_CHECK_INT(hf_act_started(x, "wf-t", run, x->act[0].scheduled_id, 1, &pa), ==, 0);
    {
        Temporald__Historyservice__RespondActivityTaskFailedRequest *f =
                hf_pb(x, &HSD(respond_activity_task_failed_request));
        f->namespace_id = (char *)HNS;
        f->request = hf_pb(x, &WSD(respond_activity_task_failed_request));
        f->request->task_token = pa->task_token;
        f->request->failure = PB(Temporal__Api__Failure__V1__Failure,
                                 temporal__api__failure__v1__failure__descriptor);
        f->request->failure->message = (char *)"boom";
        TD_CHECK_INT(hf_call(x, "RespondActivityTaskFailed", &f->base, NULL, NULL), ==, 0);
    }
    t0 = td_now_mono_ms();
    hf_run_until(x, hx_has_two_act, 5000);
    TD_CHECK_INT(td_now_mono_ms() - t0, >=, 50);
    TD_CHECK_INT(x->act[1].scheduled_id, ==, x->act[0].scheduled_id);
    TD_CHECK_INT(x->act[1].attempt, ==, 2);
    /* describe shows attempt 2 with the last failure */
    {
        Temporal__Api__Workflowservice__V1__DescribeWorkflowExecutionResponse *dr =
                hf_describe(x, "wf-t", run);
        TD_CHECK_INT(dr->n_pending_activities, ==, 1);
        TD_CHECK_INT(dr->pending_activities[0]->attempt, ==, 2);
        TD_CHECK(dr->pending_activities[0]->last_failure != NULL);
        TD_CHECK_STR(dr->pending_activities[0]->last_failure->message, "boom");
        TD_CHECK_INT(
                dr->workflow_execution_info->status, ==,
                TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_RUNNING);
    }
    hf_free(x);
}

static Temporal__Api__Common__V1__Payload *hx_sa(hf_t *x, const char *type, const char *json)
{
    Temporal__Api__Common__V1__Payload *p =
            PB(Temporal__Api__Common__V1__Payload, temporal__api__common__v1__payload__descriptor);
    Temporal__Api__Common__V1__Payload__MetadataEntry *m =
            PB(Temporal__Api__Common__V1__Payload__MetadataEntry,
               temporal__api__common__v1__payload__metadata_entry__descriptor);
    m->key = (char *)"type";
    m->value.data = (uint8_t *)type;
    m->value.len = strlen(type);
    p->n_metadata = 1;
    p->metadata = td_arena_alloc(&x->fx.arena, sizeof(*p->metadata));
    p->metadata[0] = m;
    p->data.data = (uint8_t *)json;
    p->data.len = strlen(json);
    return p;
}

/* Lists the namespace's visibility records matching field == keyword value (blocking). */
static int hx_vis_list(hf_t *x, const char *field, int type, const char *s, int64_t i,
                       td_store_visibility_t *out)
{
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_VIS_LIST);
    td_store_vfilter_t f = { 0 };
    int n;

    f.kind = TD_STORE_VF_CMP;
    f.field = field;
    f.op = TD_STORE_VF_EQ;
    f.value.type = type;
    f.value.s = s;
    f.value.i = i;
    req->in.vis_query.namespace_id = HNS;
    req->in.vis_query.filter = &f;
    TD_CHECK_INT(td_store_call(x->store, req), ==, TD_OK);
    n = req->out.vis_list.n_recs;
    if (n > 0 && out != NULL) {
        *out = req->out.vis_list.recs[0];
        out->workflow_id = td_arena_strdup(&x->fx.arena, out->workflow_id);
        out->run_id = td_arena_strdup(&x->fx.arena, out->run_id);
        out->workflow_type = td_arena_strdup(&x->fx.arena, out->workflow_type);
        out->task_queue = td_arena_strdup(&x->fx.arena, out->task_queue);
    }
    td_store_req_free(req);
    return n;
}

TD_TEST_T(hist_visibility_records_follow_the_run, 60)
{
    hf_t xx, *x = &xx;
    Temporald__Historyservice__StartWorkflowExecutionRequest *r;
    Temporal__Api__Common__V1__SearchAttributes *sa;
    td_store_visibility_t v;

    hx_init(x, 1);
    r = hf_start_req(x, "wf-v", NULL);
    sa = PB(Temporal__Api__Common__V1__SearchAttributes,
            temporal__api__common__v1__search_attributes__descriptor);
    sa->n_indexed_fields = 3;
    sa->indexed_fields = td_arena_alloc(&x->fx.arena, 3 * sizeof(*sa->indexed_fields));
    for (int i = 0; i < 3; i++) {
        sa->indexed_fields[i] =
                PB(Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry,
                   temporal__api__common__v1__search_attributes__indexed_fields_entry__descriptor);
    }
    sa->indexed_fields[0]->key = (char *)"CustomKeywordField";
    sa->indexed_fields[0]->value = hx_sa(x, "Keyword", "\"k\\u00e9y\"");
    sa->indexed_fields[1]->key = (char *)"CustomIntField";
    sa->indexed_fields[1]->value = hx_sa(x, "Int", "42");
    sa->indexed_fields[2]->key = (char *)"CustomKeywordListField";
    sa->indexed_fields[2]->value = hx_sa(x, "KeywordList", "[\"a\", \"b\"]");
    r->request->search_attributes = sa;
    TD_CHECK_INT(hf_call(x, "StartWorkflowExecution", &r->base, NULL, NULL), ==, 0);
    hf_run_until(x, hf_idle, 5000);

    TD_CHECK_INT(hx_vis_list(x, "CustomKeywordField", TD_STORE_SA_KEYWORD, "k\xc3\xa9y", 0, &v), ==,
                 1);
    TD_CHECK_STR(v.workflow_id, "wf-v");
    TD_CHECK_STR(v.workflow_type, "Greet");
    TD_CHECK_STR(v.task_queue, "tq");
    TD_CHECK_INT(v.close_time_ns, ==, 0);
    TD_CHECK_INT(
            v.status, ==,
            TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_RUNNING);
    TD_CHECK(v.start_time_ns > 0);
    TD_CHECK(v.search_attributes.len > 0);
    TD_CHECK_INT(hx_vis_list(x, "CustomIntField", TD_STORE_SA_INT, NULL, 42, NULL), ==, 1);
    TD_CHECK_INT(hx_vis_list(x, "CustomIntField", TD_STORE_SA_INT, NULL, 41, NULL), ==, 0);
    TD_CHECK_INT(hx_vis_list(x, "CustomKeywordListField", TD_STORE_SA_KEYWORD_LIST, "b", 0, NULL),
                 ==, 1);

    TD_CHECK_INT(hf_terminate(x, "wf-v", ""), ==, 0);
    hf_run_until(x, hf_idle, 5000);
    TD_CHECK_INT(hx_vis_list(x, "WorkflowId", TD_STORE_SA_KEYWORD, "wf-v", 0, &v), ==, 1);
    TD_CHECK(v.close_time_ns > 0);
    TD_CHECK_INT(
            v.status, ==,
            TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_TERMINATED);
    TD_CHECK_INT(v.history_length, ==, 3);
    hf_free(x);
}

TD_TEST_T(hist_sticky_queue_partial_history, 60)
{
    hf_t xx, *x = &xx;
    char run[40];
    poll_wft_t *p = NULL;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *cr;
    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedResponse *resp = NULL;

    hx_init(x, 1);
    hx_first_task(x, "wf-k", run, &p);

    /* the worker caches the run: sticky queue "sticky-1", and a timer so the run goes on */
    cr = fx_complete_req(&x->fx, 1, fx_cmd_timer(&x->fx, "t1", SEC(1) / 10));
    cr->sticky_attributes =
            PB(Temporal__Api__Taskqueue__V1__StickyExecutionAttributes,
               temporal__api__taskqueue__v1__sticky_execution_attributes__descriptor);
    cr->sticky_attributes->worker_task_queue =
            PB(Temporal__Api__Taskqueue__V1__TaskQueue,
               temporal__api__taskqueue__v1__task_queue__descriptor);
    cr->sticky_attributes->worker_task_queue->name = (char *)"sticky-1";
    cr->sticky_attributes->worker_task_queue->kind = TQK(STICKY);
    cr->sticky_attributes->schedule_to_start_timeout =
            PB(Google__Protobuf__Duration, google__protobuf__duration__descriptor);
    cr->sticky_attributes->schedule_to_start_timeout->seconds = 5;
    cr->return_new_workflow_task = 1;
    TD_CHECK_INT(hf_wft_complete(x, p->task_token, cr, &resp), ==, 0);
    TD_CHECK(resp->workflow_task == NULL); /* no new task was needed */

    /* the timer fires: the task goes to the sticky queue, with the normal queue beside it */
    hf_run_until(x, hx_has_two_wft, 5000);
    TD_CHECK_STR(x->wft[1].tq, "sticky-1");
    TD_CHECK_INT(x->wft[1].kind, ==, TQK(STICKY));
    TD_CHECK_STR(x->wft[1].normal, "tq");
    TD_CHECK_INT(x->wft[1].scheduled_id, ==, 7);

    /* a sticky poll gets the history since the last completed task only */
    TD_CHECK_INT(hf_wft_started(x, "wf-k", run, 7, "poll-2", TQK(STICKY), &p), ==, 0);
    TD_CHECK_INT(p->previous_started_event_id, ==, 3);
    TD_CHECK_INT(p->started_event_id, ==, 8);
    TD_CHECK_INT(p->history->n_events, ==, 5);
    TD_CHECK_INT(p->history->events[0]->event_id, ==, 4);
    TD_CHECK_INT(p->history->events[0]->event_type, ==, ET(WORKFLOW_TASK_COMPLETED));
    TD_CHECK_INT(p->history->events[4]->event_type, ==, ET(WORKFLOW_TASK_STARTED));
    TD_CHECK_STR(p->workflow_execution_task_queue->name, "tq");
    TD_CHECK_INT(p->workflow_execution_task_queue->kind, ==, TQK(NORMAL));

    /* ResetStickyTaskQueue clears it: the next task goes to the normal queue */
    {
        Temporald__Historyservice__ResetStickyTaskQueueRequest *r =
                hf_pb(x, &HSD(reset_sticky_task_queue_request));
        r->namespace_id = (char *)HNS;
        r->execution = hf_we(x, "wf-k", run);
        TD_CHECK_INT(hf_call(x, "ResetStickyTaskQueue", &r->base, NULL, NULL), ==, 0);
    }
    cr = fx_complete_req(&x->fx, 1, fx_cmd_timer(&x->fx, "t2", SEC(1) / 10));
    TD_CHECK_INT(hf_wft_complete(x, p->task_token, cr, NULL), ==, 0);
    hf_run_until(x, hx_has_three_wft, 5000);
    TD_CHECK_STR(x->wft[2].tq, "tq");
    TD_CHECK_INT(x->wft[2].kind, ==, TQK(NORMAL));
    hf_free(x);
}

TD_TEST_T(hist_shard_fencing_second_owner_wins, 60)
{
    hf_t xx, *x = &xx;
    char run[40];
    td_server_t srv_b;
    void *hist_b = NULL;
    td_rpc_method_t mw = { TD_SVC_MATCHING "AddWorkflowTask",
                           &temporald__matchingservice__add_workflow_task_request__descriptor,
                           hf_add_wft, NULL };
    hf_added_t saved;

    hx_init(x, 1);
    mw.ctx = x;
    TD_CHECK_INT(hf_start(x, "wf-f", "r1", 0, 0, run), ==, 0);
    hf_run_until(x, hf_has_wft, 5000);
    hf_run_until(x, hf_idle, 5000);

    /* a second history instance takes the shard (range_id 2) */
    memset(&srv_b, 0, sizeof(srv_b));
    srv_b.config = &x->cfg;
    srv_b.loop = x->loop;
    srv_b.store = x->store;
    TD_CHECK_INT(td_svc_register(&srv_b, &mw), ==, TD_OK);
    TD_CHECK_INT(td_role_history.init(&srv_b, &hist_b), ==, TD_OK);
    TD_CHECK_INT(td_role_history.start(hist_b), ==, TD_OK);
    {
        void *a = x->hist;
        x->hist = hist_b;
        hf_run_until(x, hf_ready, 5000);
        x->hist = a;
    }

    /* the first owner's next write is fenced: UNAVAILABLE, and the shard stays lost */
    TD_CHECK_INT(hf_signal(x, "wf-f", "", "s", "sig-a", NULL), ==, TD_GRPC_UNAVAILABLE);
    TD_CHECK_INT(td_hist_ready(x->hist), ==, 0);
    TD_CHECK_INT(hf_signal(x, "wf-f", "", "s", "sig-a", NULL), ==, TD_GRPC_UNAVAILABLE);

    /* the new owner serves the run from the store */
    saved = x->wft[0];
    {
        td_server_t tmp = x->srv;
        void *a = x->hist;
        x->srv = srv_b;
        x->hist = hist_b;
        TD_CHECK_INT(hf_signal(x, "wf-f", "", "s", "sig-b", NULL), ==, 0);
        hf_run_until(x, hf_idle, 5000);
        td_role_history.drain(hist_b, hf_drained, NULL);
        td_role_history.stop(hist_b);
        td_svc_free(&x->srv);
        x->srv = tmp;
        x->hist = a;
    }
    TD_CHECK_STR(saved.run, run);
    hf_free(x);
}

TD_TEST_T(hist_task_id_range_renewal, 60)
{
    hf_t xx, *x = &xx;
    char run[40];
    int st, tries = 0;
    poll_wft_t *p = NULL;

    hx_init(x, 1);
    /* a workflow whose first task is pending when the ids run out */
    TD_CHECK_INT(hf_start(x, "wf-a", "r1", 0, 0, run), ==, 0);
    hf_run_until(x, hf_has_wft, 5000);
    td_hist_test_exhaust_ids(x->hist, 2);
    /* a start needs 4 ids: UNAVAILABLE while the shard takes a new range, then it works */
    while ((st = hf_start(x, "wf-b", "r2", 0, 0, NULL)) == TD_GRPC_UNAVAILABLE && tries++ < 100) {
        hf_run_until(x, hf_idle, 5000);
    }
    TD_CHECK_INT(st, ==, 0);
    TD_CHECK_INT(tries, >=, 1);
    /* ids of the old range still resolve: the first workflow goes on */
    TD_CHECK_INT(hf_wft_started(x, "wf-a", run, 2, "poll-1", TQK(NORMAL), &p), ==, 0);
    TD_CHECK_INT(hf_wft_complete(x, p->task_token,
                                 fx_complete_req(&x->fx, 1, fx_cmd_complete(&x->fx, "1")), NULL),
                 ==, 0);
    hf_run_until(x, hx_has_two_wft, 5000);
    TD_CHECK_STR(x->wft[1].wf, "wf-b");
    hf_free(x);
}

TD_TEST_T(hist_signal_with_start_event_order, 60)
{
    hf_t xx, *x = &xx;
    Temporald__Historyservice__SignalWithStartWorkflowExecutionRequest *r;
    Temporal__Api__Workflowservice__V1__SignalWithStartWorkflowExecutionResponse *resp = NULL;
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *gh;
    ProtobufCBinaryData none = { 0, NULL };
    static const int order[] = { ET(WORKFLOW_EXECUTION_STARTED), ET(WORKFLOW_EXECUTION_SIGNALED),
                                 ET(WORKFLOW_TASK_SCHEDULED), ET(WORKFLOW_EXECUTION_SIGNALED) };

    hx_init(x, 1);
    r = hf_pb(x, &HSD(signal_with_start_workflow_execution_request));
    r->namespace_id = (char *)HNS;
    r->request = hf_pb(x, &WSD(signal_with_start_workflow_execution_request));
    r->request->workflow_id = (char *)"wf-sws";
    r->request->workflow_type = fx_start_req(&x->fx)->workflow_type;
    r->request->task_queue = fx_start_req(&x->fx)->task_queue;
    r->request->request_id = (char *)"sws-1";
    r->request->signal_name = (char *)"hello";
    TD_CHECK_INT(hf_call(x, "SignalWithStartWorkflowExecution", &r->base,
                         &WSD(signal_with_start_workflow_execution_response), (void **)&resp),
                 ==, 0);
    TD_CHECK(resp->started);
    /* again: the running run is signalled, not started */
    r->request->request_id = (char *)"sws-2";
    TD_CHECK_INT(hf_call(x, "SignalWithStartWorkflowExecution", &r->base,
                         &WSD(signal_with_start_workflow_execution_response), (void **)&resp),
                 ==, 0);
    TD_CHECK(!resp->started);
    gh = hf_history(x, "wf-sws", "", 0, 0, none, 0);
    hx_check_types(gh->history, 1, 4, order);
    hf_free(x);
}

TD_TEST_T(hist_drain_answers_parked_long_polls, 30)
{
    hf_t xx, *x = &xx;
    char run[40];
    hx_lp_t lp = { 0 };
    Temporald__Historyservice__GetWorkflowExecutionHistoryRequest *r;

    hx_init(x, 1);
    TD_CHECK_INT(hf_start(x, "wf-d", "r1", 0, 0, run), ==, 0);
    r = hf_pb(x, &HSD(get_workflow_execution_history_request));
    r->namespace_id = (char *)HNS;
    r->request = hf_pb(x, &WSD(get_workflow_execution_history_request));
    r->request->execution = hf_we(x, "wf-d", "");
    r->request->wait_new_event = 1;
    r->request->history_event_filter_type =
            TEMPORAL__API__ENUMS__V1__HISTORY_EVENT_FILTER_TYPE__HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT;
    td_svc_call(&x->srv, TD_SVC_HISTORY "GetWorkflowExecutionHistory", &r->base, 0, hx_lp_done,
                &lp);
    hf_run_until(x, hf_idle, 5000);
    TD_CHECK_INT(lp.done, ==, 0);
    td_role_history.drain(x->hist, hf_drained, NULL);
    TD_CHECK_INT(lp.done, ==, 1);
    TD_CHECK_INT(lp.status, ==, 0);
    TD_CHECK_INT(lp.n_events, ==, 0);
    TD_CHECK_INT(lp.has_token, ==, 1);
    hf_free(x);
}

/* Typed values: Int, Double, an RFC 3339 datetime with an offset. (Payload bytes are not
 * NUL-terminated; the parser reads bounded copies. Unpacked copies usually end before a
 * digit, so this cannot show the unbounded read deterministically; the SDK visibility test
 * caught it with recycled arena memory.) */
TD_TEST(hist_vis_typed_values_are_bounded)
{
    td_arena_t a;
    td_hist_t h;
    Temporal__Api__Common__V1__SearchAttributes sa =
            TEMPORAL__API__COMMON__V1__SEARCH_ATTRIBUTES__INIT;
    Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry e[3], *ev[3];
    Temporal__Api__Common__V1__Payload p[3];
    Temporal__Api__Common__V1__Payload__MetadataEntry m[3], *mv[3];
    const char *types[3] = { "Int", "Double", "Datetime" };
    const char *vals[3] = { "42", "2.5", "\"2024-01-02T03:04:05.5+01:00\"" };
    const char *keys[3] = { "I", "D", "T" };
    uint8_t *buf, *blob;
    size_t n;
    const td_store_sa_t *out = NULL;
    int n_out = 0;

    memset(&h, 0, sizeof(h));
    for (int i = 0; i < 3; i++) {
        temporal__api__common__v1__search_attributes__indexed_fields_entry__init(&e[i]);
        temporal__api__common__v1__payload__init(&p[i]);
        temporal__api__common__v1__payload__metadata_entry__init(&m[i]);
        m[i].key = (char *)"type";
        m[i].value.data = (uint8_t *)types[i];
        m[i].value.len = strlen(types[i]);
        mv[i] = &m[i];
        p[i].n_metadata = 1;
        p[i].metadata = &mv[i];
        p[i].data.data = (uint8_t *)vals[i];
        p[i].data.len = strlen(vals[i]);
        e[i].key = (char *)keys[i];
        e[i].value = &p[i];
        ev[i] = &e[i];
    }
    sa.n_indexed_fields = 3;
    sa.indexed_fields = ev;
    n = temporal__api__common__v1__search_attributes__get_packed_size(&sa);
    buf = malloc(n);
    temporal__api__common__v1__search_attributes__pack(&sa, buf);
    /* the packed bytes sit in a buffer followed by digits */
    blob = malloc(n + 64);
    memcpy(blob, buf, n);
    memset(blob + n, '7', 64);
    td_arena_init(&a, 1 << 12);
    td_hist__vis_sas(&h, "ns", blob, n, &a, &out, &n_out);
    TD_CHECK_INT(n_out, ==, 3);
    TD_CHECK_INT(out[0].type, ==, TD_STORE_SA_INT);
    TD_CHECK_INT(out[0].i, ==, 42);
    TD_CHECK(out[1].d == 2.5);
    TD_CHECK_INT(out[2].i, ==, INT64_C(1704161045) * 1000000000 + 500000000);
    td_arena_destroy(&a);
    free(buf);
    free(blob);
}

TD_TEST_T(hist_continue_as_new_creates_the_next_run, 60)
{
    hf_t xx, *x = &xx;
    char run[40];
    poll_wft_t *p = NULL;
    fx_cmd_t *cmd;
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *gh;
    ProtobufCBinaryData none = { 0, NULL };
    const char *next;

    hx_init(x, 1);
    hx_first_task(x, "wf-can", run, &p);
    cmd = hx_cmd(
            x, CT(CONTINUE_AS_NEW_WORKFLOW_EXECUTION),
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_CONTINUE_AS_NEW_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES);
    cmd->continue_as_new_workflow_execution_command_attributes = PB(
            Temporal__Api__Command__V1__ContinueAsNewWorkflowExecutionCommandAttributes,
            temporal__api__command__v1__continue_as_new_workflow_execution_command_attributes__descriptor);
    cmd->continue_as_new_workflow_execution_command_attributes->input = fx_payloads(&x->fx, "2");
    TD_CHECK_INT(hf_wft_complete(x, p->task_token, fx_complete_req(&x->fx, 1, cmd), NULL), ==, 0);

    /* the first run closed into the second */
    gh = hf_history(x, "wf-can", run, 1, 0, none, 0);
    TD_CHECK_INT(gh->history->n_events, ==, 1);
    TD_CHECK_INT(gh->history->events[0]->event_type, ==, ET(WORKFLOW_EXECUTION_CONTINUED_AS_NEW));
    next = gh->history->events[0]
                   ->workflow_execution_continued_as_new_event_attributes->new_execution_run_id;
    TD_CHECK_INT(strlen(next), ==, 36);
    TD_CHECK(strcmp(next, run) != 0);

    /* the second run is current, started with the new input, and its task goes to matching */
    hf_run_until(x, hx_has_two_wft, 5000);
    TD_CHECK_STR(x->wft[1].run, next);
    TD_CHECK_INT(x->wft[1].scheduled_id, ==, 2);
    gh = hf_history(x, "wf-can", "", 0, 0, none, 0);
    TD_CHECK_INT(gh->history->n_events, ==, 2);
    TD_CHECK_STR(gh->history->events[0]
                         ->workflow_execution_started_event_attributes->continued_execution_run_id,
                 run);
    TD_CHECK_STR(gh->history->events[0]
                         ->workflow_execution_started_event_attributes->first_execution_run_id,
                 run);
    hf_free(x);
}

static int hx_count_wft_of(hf_t *x, const char *wf)
{
    int n = 0;
    for (int i = 0; i < x->n_wft && i < 64; i++) {
        n += strcmp(x->wft[i].wf, wf) == 0;
    }
    return n;
}

static int hx_child_wft(hf_t *x)
{
    return hx_count_wft_of(x, "child-1") >= 1;
}

static int hx_parent_second_wft(hf_t *x)
{
    return hx_count_wft_of(x, "wf-parent") >= 2;
}

static int hx_parent_third_wft(hf_t *x)
{
    return hx_count_wft_of(x, "wf-parent") >= 3;
}

static const hf_added_t *hx_last_wft_of(hf_t *x, const char *wf)
{
    const hf_added_t *a = NULL;
    for (int i = 0; i < x->n_wft && i < 64; i++) {
        if (strcmp(x->wft[i].wf, wf) == 0) {
            a = &x->wft[i];
        }
    }
    return a;
}

TD_TEST_T(hist_child_workflow_started_and_result_delivered, 60)
{
    hf_t xx, *x = &xx;
    char prun[40], crun[40];
    poll_wft_t *p = NULL;
    fx_cmd_t *cmd;
    Temporal__Api__Command__V1__StartChildWorkflowExecutionCommandAttributes *ca;
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *gh;
    ProtobufCBinaryData none = { 0, NULL };
    const hf_added_t *a;
    int started = 0, completed = 0;

    hx_init(x, 4);
    hx_first_task(x, "wf-parent", prun, &p);
    cmd = hx_cmd(
            x, CT(START_CHILD_WORKFLOW_EXECUTION),
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_START_CHILD_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES);
    ca = PB(Temporal__Api__Command__V1__StartChildWorkflowExecutionCommandAttributes,
            temporal__api__command__v1__start_child_workflow_execution_command_attributes__descriptor);
    ca->workflow_id = (char *)"child-1";
    ca->workflow_type = fx_start_req(&x->fx)->workflow_type;
    ca->task_queue = fx_start_req(&x->fx)->task_queue;
    cmd->start_child_workflow_execution_command_attributes = ca;
    TD_CHECK_INT(hf_wft_complete(x, p->task_token, fx_complete_req(&x->fx, 1, cmd), NULL), ==, 0);

    /* the child starts (its first task reaches matching), the parent hears of it */
    hf_run_until(x, hx_child_wft, 5000);
    memcpy(crun, hx_last_wft_of(x, "child-1")->run, sizeof(crun));
    hf_run_until(x, hx_parent_second_wft, 5000);

    /* describe: the parent lists its pending child, the child names its parent */
    {
        Temporal__Api__Workflowservice__V1__DescribeWorkflowExecutionResponse *dr =
                hf_describe(x, "wf-parent", "");
        TD_CHECK_INT(dr->n_pending_children, ==, 1);
        TD_CHECK_STR(dr->pending_children[0]->workflow_id, "child-1");
        dr = hf_describe(x, "child-1", "");
        TD_CHECK(dr->workflow_execution_info->parent_execution != NULL);
        TD_CHECK_STR(dr->workflow_execution_info->parent_execution->workflow_id, "wf-parent");
        TD_CHECK_STR(dr->workflow_execution_info->root_execution->workflow_id, "wf-parent");
    }

    /* the child completes; the parent gets ChildWorkflowExecutionCompleted */
    TD_CHECK_INT(hf_wft_started(x, "child-1", crun, 2, "poll-c", TQK(NORMAL), &p), ==, 0);
    TD_CHECK_STR(p->history->events[0]
                         ->workflow_execution_started_event_attributes->parent_workflow_execution
                         ->workflow_id,
                 "wf-parent");
    TD_CHECK_INT(hf_wft_complete(x, p->task_token,
                                 fx_complete_req(&x->fx, 1, fx_cmd_complete(&x->fx, "\"kid\"")),
                                 NULL),
                 ==, 0);
    a = hx_last_wft_of(x, "wf-parent");
    TD_CHECK_INT(hf_wft_started(x, "wf-parent", prun, a->scheduled_id, "poll-2", TQK(NORMAL), &p),
                 ==, 0);
    TD_CHECK_INT(hf_wft_complete(x, p->task_token, fx_complete_req(&x->fx, 0), NULL), ==, 0);
    hf_run_until(x, hf_idle, 5000);
    gh = hf_history(x, "wf-parent", prun, 0, 0, none, 0);
    for (size_t i = 0; i < gh->history->n_events; i++) {
        started += gh->history->events[i]->event_type == ET(CHILD_WORKFLOW_EXECUTION_STARTED);
        completed += gh->history->events[i]->event_type == ET(CHILD_WORKFLOW_EXECUTION_COMPLETED);
    }
    TD_CHECK_INT(started, ==, 1);
    if (completed == 0) {
        /* the completion may have arrived after the task above: one more task */
        hf_run_until(x, hx_parent_third_wft, 5000);
        gh = hf_history(x, "wf-parent", prun, 0, 0, none, 0);
        for (size_t i = 0; i < gh->history->n_events; i++) {
            completed +=
                    gh->history->events[i]->event_type == ET(CHILD_WORKFLOW_EXECUTION_COMPLETED);
        }
    }
    TD_CHECK_INT(completed, ==, 1);
    hf_free(x);
}

static int hx_has_ten_wft(hf_t *x)
{
    return x->n_wft >= 10;
}

TD_TEST_T(hist_small_cache_evicts_and_reloads, 60)
{
    hf_t xx, *x = &xx;
    char wf[16], req[16];
    poll_wft_t *p = NULL;
    ProtobufCBinaryData none = { 0, NULL };
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *gh;

    hx_dyn = "history.cacheMaxSize=2";
    hx_init(x, 1);
    hx_dyn = NULL;
    for (int i = 0; i < 10; i++) {
        snprintf(wf, sizeof(wf), "wf-c%d", i);
        snprintf(req, sizeof(req), "r%d", i);
        TD_CHECK_INT(hf_start(x, wf, req, 0, 0, NULL), ==, 0);
    }
    hf_run_until(x, hx_has_ten_wft, 5000);
    /* every run is served from the store after its context was evicted */
    for (int i = 0; i < 10; i++) {
        hf_added_t a = x->wft[i];
        TD_CHECK_INT(hf_wft_started(x, a.wf, a.run, a.scheduled_id, "poll", TQK(NORMAL), &p), ==,
                     0);
        TD_CHECK_INT(hf_wft_complete(x, p->task_token,
                                     fx_complete_req(&x->fx, 1, fx_cmd_complete(&x->fx, "1")),
                                     NULL),
                     ==, 0);
    }
    for (int i = 0; i < 10; i++) {
        snprintf(wf, sizeof(wf), "wf-c%d", i);
        gh = hf_history(x, wf, "", 1, 0, none, 0);
        TD_CHECK_INT(gh->history->n_events, ==, 1);
        TD_CHECK_INT(gh->history->events[0]->event_type, ==, ET(WORKFLOW_EXECUTION_COMPLETED));
    }
    hf_free(x);
}

static fx_cmd_t *hx_cmd_signal_ext(hf_t *x, const char *target, const char *name)
{
    fx_cmd_t *cmd = PB(fx_cmd_t, temporal__api__command__v1__command__descriptor);
    Temporal__Api__Command__V1__SignalExternalWorkflowExecutionCommandAttributes *a = PB(
            Temporal__Api__Command__V1__SignalExternalWorkflowExecutionCommandAttributes,
            temporal__api__command__v1__signal_external_workflow_execution_command_attributes__descriptor);

    cmd->command_type =
            TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION;
    cmd->attributes_case =
            TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES;
    a->execution = hf_we(x, target, "");
    a->signal_name = (char *)name;
    a->input = fx_payloads(&x->fx, "\"hi\"");
    cmd->signal_external_workflow_execution_command_attributes = a;
    return cmd;
}

static int hx_count_type(Temporal__Api__History__V1__History *h, int type)
{
    int n = 0;
    for (size_t i = 0; i < h->n_events; i++) {
        n += (int)h->events[i]->event_type == type;
    }
    return n;
}

static int hx_sender_second_wft(hf_t *x)
{
    return hx_count_wft_of(x, "wf-sender") >= 2;
}

TD_TEST_T(hist_signal_external_delivered_or_failed, 60)
{
    hf_t xx, *x = &xx;
    char srun[40], trun[40];
    poll_wft_t *p = NULL;
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *gh;
    ProtobufCBinaryData none = { 0, NULL };
    const Temporal__Api__History__V1__HistoryEvent *sig = NULL;

    hx_init(x, 4);
    TD_CHECK_INT(hf_start(x, "wf-target", "t1", 0, 0, trun), ==, 0);
    TD_CHECK_INT(hf_start(x, "wf-sender", "s1", 0, 0, srun), ==, 0);
    hf_run_until(x, hx_has_two_wft, 5000);
    TD_CHECK_INT(hf_wft_started(x, "wf-sender", srun, 2, "poll-1", TQK(NORMAL), &p), ==, 0);
    /* one signal to a running workflow, one to a workflow that does not exist */
    TD_CHECK_INT(
            hf_wft_complete(x, p->task_token,
                            fx_complete_req(&x->fx, 2, hx_cmd_signal_ext(x, "wf-target", "ping"),
                                            hx_cmd_signal_ext(x, "wf-nobody", "ping")),
                            NULL),
            ==, 0);
    hf_run_until(x, hx_sender_second_wft, 5000);
    hf_run_until(x, hf_idle, 5000);

    gh = hf_history(x, "wf-target", trun, 0, 0, none, 0);
    for (size_t i = 0; i < gh->history->n_events; i++) {
        if (gh->history->events[i]->event_type == ET(WORKFLOW_EXECUTION_SIGNALED)) {
            sig = gh->history->events[i];
        }
    }
    TD_CHECK(sig != NULL);
    TD_CHECK_STR(sig->workflow_execution_signaled_event_attributes->signal_name, "ping");
    TD_CHECK(sig->workflow_execution_signaled_event_attributes->external_workflow_execution !=
             NULL);
    TD_CHECK_STR(sig->workflow_execution_signaled_event_attributes->external_workflow_execution
                         ->workflow_id,
                 "wf-sender");

    gh = hf_history(x, "wf-sender", srun, 0, 0, none, 0);
    TD_CHECK_INT(hx_count_type(gh->history, ET(SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED)), ==,
                 2);
    TD_CHECK_INT(hx_count_type(gh->history, ET(EXTERNAL_WORKFLOW_EXECUTION_SIGNALED)), ==, 1);
    TD_CHECK_INT(hx_count_type(gh->history, ET(SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED)), ==, 1);
    hf_free(x);
}

/* ---- the events cache (hist_evc.c) against the store ---- */

/* Every page of a run's history, packed back to back (page 0: one read). */
static size_t hx_history_bytes(hf_t *x, const char *wf, const char *run, int page, uint8_t *out,
                               size_t cap)
{
    ProtobufCBinaryData tok = { 0, NULL };
    size_t len = 0;

    do {
        Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *gh =
                hf_history(x, wf, run, 0, 0, tok, page);
        size_t n = temporal__api__history__v1__history__get_packed_size(gh->history);
        TD_CHECK(len + n <= cap);
        temporal__api__history__v1__history__pack(gh->history, out + len);
        len += n;
        tok = gh->next_page_token;
    } while (tok.len > 0);
    return len;
}

TD_TEST_T(hist_events_cache_serves_what_the_store_holds, 60)
{
    hf_t xx, *x = &xx;
    td_hist_t *h;
    char run[40];
    poll_wft_t *p = NULL;
    poll_act_t *pa = NULL;
    int64_t hits, misses;
    static uint8_t a[16384], b[16384], c[4096];
    size_t na, nb, nc;

    hx_init(x, 1);
    h = x->hist;
    TD_CHECK(h->evc.budget > 0); /* on by default */
    TD_CHECK_INT(hf_start(x, "wf-evc", "r1", 0, 0, run), ==, 0);
    hf_run_until(x, hf_has_wft, 5000);

    /* the task's history, the activity's input and the next task come from memory */
    hits = h->evc.hits;
    misses = h->evc.misses;
    TD_CHECK_INT(hf_wft_started(x, "wf-evc", run, 2, "poll-1", TQK(NORMAL), &p), ==, 0);
    TD_CHECK_INT(p->history->n_events, ==, 3);
    hx_schedule_a1(x, p->task_token);
    TD_CHECK_INT(hf_act_started(x, "wf-evc", run, 5, 1, &pa), ==, 0);
    TD_CHECK(pa->input != NULL && pa->input->n_payloads == 1);
    TD_CHECK_INT(h->evc.hits - hits, ==, 2);
    TD_CHECK_INT(h->evc.misses, ==, misses);

    /* the whole history and its pages: the same bytes from the cache as from the store */
    na = hx_history_bytes(x, "wf-evc", run, 0, a, sizeof(a));
    TD_CHECK_INT(h->evc.hits - hits, ==, 3);
    td_hist__ctx_drop_states(h); /* forgets every state and cached event */
    TD_CHECK_INT(h->evc.n_runs, ==, 0);
    nb = hx_history_bytes(x, "wf-evc", run, 0, b, sizeof(b));
    TD_CHECK_INT(h->evc.misses - misses, ==, 1);
    TD_CHECK_INT(na, ==, nb);
    TD_CHECK(memcmp(a, b, na) == 0);

    /* a run whose cache was dropped stays on the store for the rest of its life (a later
     * write cannot tell what came before it) and is served right */
    TD_CHECK_INT(hf_act_complete(x, pa->task_token, "\"hello\""), ==, 0);
    hf_run_until(x, hx_has_two_wft, 5000);
    TD_CHECK_INT(hf_wft_started(x, "wf-evc", run, 8, "poll-2", TQK(NORMAL), &p), ==, 0);
    TD_CHECK_INT(p->history->n_events, ==, 9);
    TD_CHECK_INT(p->history->events[8]->event_id, ==, 9);
    TD_CHECK_INT(h->evc.n_runs, ==, 0);

    /* a new run is cached from its first write: pages of 2 agree with the store's pages */
    TD_CHECK_INT(hf_start(x, "wf-evc2", "r2", 0, 0, run), ==, 0);
    hf_run_until(x, hx_has_three_wft, 5000);
    hits = h->evc.hits;
    TD_CHECK_INT(hf_wft_started(x, "wf-evc2", run, 2, "poll-3", TQK(NORMAL), &p), ==, 0);
    TD_CHECK_INT(h->evc.hits - hits, ==, 1); /* passed through packed (td_hist__evc_raw) */
    TD_CHECK_INT(p->history->n_events, ==, 3);
    nc = temporal__api__history__v1__history__get_packed_size(p->history);
    TD_CHECK(nc <= sizeof(c));
    temporal__api__history__v1__history__pack(p->history, c);
    TD_CHECK_INT(hf_wft_complete(x, p->task_token,
                                 fx_complete_req(&x->fx, 1, fx_cmd_complete(&x->fx, "\"ok\"")),
                                 NULL),
                 ==, 0);
    hits = h->evc.hits;
    na = hx_history_bytes(x, "wf-evc2", run, 2, a, sizeof(a));
    TD_CHECK(h->evc.hits - hits >= 2); /* at least two pages */
    {
        ProtobufCBinaryData none = { 0, NULL };
        Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *gh =
                hf_history(x, "wf-evc2", run, 1, 0, none, 0); /* result(): the close event */
        TD_CHECK_INT(gh->history->n_events, ==, 1);
        TD_CHECK_INT(gh->history->events[0]->event_type, ==, ET(WORKFLOW_EXECUTION_COMPLETED));
    }
    td_hist__ctx_drop_states(h);
    nb = hx_history_bytes(x, "wf-evc2", run, 2, b, sizeof(b));
    TD_CHECK_INT(na, ==, nb);
    TD_CHECK(memcmp(a, b, na) == 0);
    /* the task's packed history is the store's first three events */
    {
        ProtobufCBinaryData none = { 0, NULL };
        Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *gh =
                hf_history(x, "wf-evc2", run, 0, 0, none, 0);
        TD_CHECK(gh->history->n_events > 3);
        gh->history->n_events = 3;
        TD_CHECK_INT(temporal__api__history__v1__history__get_packed_size(gh->history), ==, nc);
        temporal__api__history__v1__history__pack(gh->history, b);
        TD_CHECK(memcmp(b, c, nc) == 0);
    }
    hf_free(x);
}
