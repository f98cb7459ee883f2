/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The history service's by-id activity answers and DeleteWorkflowExecution (hist_byid.c) over
 * a real SQLite store: a workflow schedules an activity, matching (faked) hands it out, and
 * the test answers it by workflow id and activity id (current run and named run), checks
 * NOT_FOUND for unknown activities, then deletes runs (running and closed) and checks that
 * the row, the current pointer, the history and the visibility record are gone.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "hist_fixture.h"

#define BNS "5b0e7c22-2222-4333-8444-555566667777"

/* Starts wf, runs its first workflow task (scheduling activity `act_id`) and, when `started`,
 * hands the activity out. */
static void bx_start_with_activity(hf_t *x, const char *wf, const char *act_id, int started,
                                   char run[40])
{
    poll_wft_t *p = NULL;

    x->n_act = 0;
    hf_start_ok(x, wf, run);
    TD_CHECK_INT(hf_wft_started(x, wf, run, 2, "poll-1", TQK(NORMAL), &p), ==, 0);
    TD_CHECK_INT(
            hf_wft_complete(x, p->task_token,
                            fx_complete_req(&x->fx, 1, fx_cmd_activity(&x->fx, act_id, SEC(30), 0)),
                            NULL),
            ==, 0);
    hf_run_until(x, hf_has_act, 5000);
    if (started) {
        TD_CHECK_INT(hf_act_started(x, wf, run, x->act[(x->n_act - 1) % 64].scheduled_id, 1, NULL),
                     ==, 0);
    }
}

static Temporal__Api__History__V1__History *bx_history(hf_t *x, const char *wf, const char *run,
                                                       int *status)
{
    ProtobufCBinaryData none = { 0, NULL };
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *resp =
            hf_history_st(x, wf, run, 0, 0, none, 0, status);

    return resp != NULL ? resp->history : NULL;
}

static int bx_last_event(hf_t *x, const char *wf, const char *run)
{
    int st = 0;
    Temporal__Api__History__V1__History *h = bx_history(x, wf, run, &st);

    TD_CHECK_INT(st, ==, 0);
    TD_CHECK(h != NULL && h->n_events > 0);
    return (int)h->events[h->n_events - 1]->event_type;
}

static int bx_has_event(hf_t *x, const char *wf, const char *run, int type)
{
    int st = 0;
    Temporal__Api__History__V1__History *h = bx_history(x, wf, run, &st);

    TD_CHECK_INT(st, ==, 0);
    for (size_t i = 0; h != NULL && i < h->n_events; i++) {
        if ((int)h->events[i]->event_type == type) {
            return 1;
        }
    }
    return 0;
}

static int bx_complete_by_id(hf_t *x, const char *wf, const char *run, const char *act_id)
{
    Temporald__Historyservice__RespondActivityTaskCompletedByIdRequest *r =
            hf_pb(x, &HSD(respond_activity_task_completed_by_id_request));
    r->namespace_id = x->ns;
    r->request = hf_pb(x, &WSD(respond_activity_task_completed_by_id_request));
    r->request->namespace_ = (char *)"default";
    r->request->workflow_id = (char *)wf;
    r->request->run_id = (char *)(run ? run : "");
    r->request->activity_id = (char *)act_id;
    r->request->result = fx_payloads(&x->fx, "\"async\"");
    r->request->identity = (char *)"async-client";
    return hf_call(x, "RespondActivityTaskCompletedById", &r->base,
                   &WSD(respond_activity_task_completed_by_id_response), NULL);
}

TD_TEST_T(hist_byid_complete_heartbeat_fail_cancel, 60)
{
    hf_t xx, *x = &xx;
    char run[40], run2[40], run3[40];
    Temporald__Historyservice__RecordActivityTaskHeartbeatByIdRequest *hb;
    Temporal__Api__Workflowservice__V1__RecordActivityTaskHeartbeatByIdResponse *hr = NULL;

    hf_init(x, BNS, 2, NULL);

    /* an activity scheduled but not started yet is completed by id all the same (Temporal's
     * force completion); then it is gone */
    bx_start_with_activity(x, "wf-a", "act-1", 0, run);
    TD_CHECK_INT(bx_complete_by_id(x, "wf-a", "", "act-1"), ==, TD_GRPC_OK);
    TD_CHECK_INT(bx_complete_by_id(x, "wf-a", "", "act-1"), ==, TD_GRPC_NOT_FOUND);
    TD_CHECK_CONTAINS(x->call.msg, "activity");

    /* unknown workflow and unknown activity id: NOT_FOUND */
    TD_CHECK_INT(bx_complete_by_id(x, "wf-none", "", "act-1"), ==, TD_GRPC_NOT_FOUND);

    /* started: a heartbeat by id on the current run, then completion by id */
    bx_start_with_activity(x, "wf-b", "act-1", 1, run);
    TD_CHECK_INT(bx_complete_by_id(x, "wf-b", "", "act-nope"), ==, TD_GRPC_NOT_FOUND);
    hb = hf_pb(x, &HSD(record_activity_task_heartbeat_by_id_request));
    hb->namespace_id = x->ns;
    hb->request = hf_pb(x, &WSD(record_activity_task_heartbeat_by_id_request));
    hb->request->workflow_id = (char *)"wf-b";
    hb->request->activity_id = (char *)"act-1";
    hb->request->details = fx_payloads(&x->fx, "\"half\"");
    TD_CHECK_INT(hf_call(x, "RecordActivityTaskHeartbeatById", &hb->base,
                         &WSD(record_activity_task_heartbeat_by_id_response), (void **)&hr),
                 ==, 0);
    TD_CHECK(!hr->cancel_requested);
    TD_CHECK_INT(bx_complete_by_id(x, "wf-b", run, "act-1"), ==, 0);
    TD_CHECK_INT(bx_last_event(x, "wf-b", run), ==, ET(WORKFLOW_TASK_SCHEDULED));
    TD_CHECK(bx_has_event(x, "wf-b", run, ET(ACTIVITY_TASK_COMPLETED)));
    /* the same completion again: the activity is gone */
    TD_CHECK_INT(bx_complete_by_id(x, "wf-b", run, "act-1"), ==, TD_GRPC_NOT_FOUND);
    /* a wrong run id: NOT_FOUND */
    TD_CHECK_INT(bx_complete_by_id(x, "wf-b", "00000000-0000-4000-8000-000000000000", "act-1"), ==,
                 TD_GRPC_NOT_FOUND);

    /* failure by id: the retry policy allows more attempts, so the activity backs off */
    bx_start_with_activity(x, "wf-c", "act-1", 1, run2);
    {
        Temporald__Historyservice__RespondActivityTaskFailedByIdRequest *r =
                hf_pb(x, &HSD(respond_activity_task_failed_by_id_request));
        Temporal__Api__Failure__V1__Failure *f =
                hf_pb(x, &temporal__api__failure__v1__failure__descriptor);
        f->message = (char *)"boom";
        r->namespace_id = x->ns;
        r->request = hf_pb(x, &WSD(respond_activity_task_failed_by_id_request));
        r->request->workflow_id = (char *)"wf-c";
        r->request->activity_id = (char *)"act-1";
        r->request->failure = f;
        TD_CHECK_INT(hf_call(x, "RespondActivityTaskFailedById", &r->base, NULL, NULL), ==, 0);
        /* the activity went back to its retry backoff: not started, so not found now */
        TD_CHECK_INT(hf_call(x, "RespondActivityTaskFailedById", &r->base, NULL, NULL), ==,
                     TD_GRPC_NOT_FOUND);
    }

    /* cancel by id without a cancel request from the workflow: rejected by the transition */
    bx_start_with_activity(x, "wf-d", "act-1", 1, run3);
    {
        Temporald__Historyservice__RespondActivityTaskCanceledByIdRequest *r =
                hf_pb(x, &HSD(respond_activity_task_canceled_by_id_request));
        r->namespace_id = x->ns;
        r->request = hf_pb(x, &WSD(respond_activity_task_canceled_by_id_request));
        r->request->workflow_id = (char *)"wf-d";
        r->request->activity_id = (char *)"act-1";
        TD_CHECK_INT(hf_call(x, "RespondActivityTaskCanceledById", &r->base, NULL, NULL), !=, 0);
        /* the activity is still there: completing it by id works */
        TD_CHECK_INT(bx_complete_by_id(x, "wf-d", run3, "act-1"), ==, 0);
    }

    /* requests missing ids are invalid */
    TD_CHECK_INT(bx_complete_by_id(x, "wf-d", "", ""), ==, TD_GRPC_INVALID_ARGUMENT);
    hf_free(x);
}

static int bx_delete(hf_t *x, const char *wf, const char *run)
{
    Temporald__Historyservice__DeleteWorkflowExecutionRequest *r =
            hf_pb(x, &HSD(delete_workflow_execution_request));
    r->namespace_id = x->ns;
    r->request = hf_pb(x, &WSD(delete_workflow_execution_request));
    r->request->workflow_execution = hf_we(x, wf, run);
    return hf_call(x, "DeleteWorkflowExecution", &r->base, &WSD(delete_workflow_execution_response),
                   NULL);
}

TD_TEST_T(hist_byid_delete_running_and_closed, 60)
{
    hf_t xx, *x = &xx;
    char run[40], run2[40], run3[40];
    int st = 0;

    hf_init(x, BNS, 2, NULL);

    /* a running run with a started activity: terminated, then everything goes */
    bx_start_with_activity(x, "wf-del", "act-1", 1, run);
    hf_run_until(x, hf_idle, 5000);
    TD_CHECK_INT(hf_store_exec(x, "wf-del", run), ==, TD_OK);
    TD_CHECK_INT(hf_store_batches(x, run), >, 0);
    TD_CHECK_INT(hf_store_vis(x, run), ==, 1);
    TD_CHECK_INT(bx_delete(x, "wf-del", ""), ==, 0);
    TD_CHECK_INT(hf_store_exec(x, "wf-del", run), ==, TD_ENOTFOUND);
    TD_CHECK_INT(hf_store_exec(x, "wf-del", NULL), ==, TD_ENOTFOUND); /* no current pointer */
    TD_CHECK_INT(hf_store_batches(x, run), ==, 0);
    TD_CHECK_INT(hf_store_vis(x, run), ==, 0);
    bx_history(x, "wf-del", run, &st);
    TD_CHECK_INT(st, ==, TD_GRPC_NOT_FOUND);
    TD_CHECK_INT(bx_complete_by_id(x, "wf-del", "", "act-1"), ==, TD_GRPC_NOT_FOUND);
    /* the termination's visibility task finds no run: the record stays gone */
    hf_run_until(x, hf_idle, 5000);
    TD_CHECK_INT(hf_store_vis(x, run), ==, 0);
    /* deleting again: NOT_FOUND */
    TD_CHECK_INT(bx_delete(x, "wf-del", run), ==, TD_GRPC_NOT_FOUND);

    /* the id can be started again afterwards (no current run left behind) */
    hf_start_ok(x, "wf-del", run2);
    TD_CHECK(strcmp(run, run2) != 0);

    /* a closed older run named by id is deleted; the current run stays */
    TD_CHECK_INT(hf_terminate(x, "wf-del", run2), ==, 0);
    hf_start_ok(x, "wf-del", run3);
    TD_CHECK(strcmp(run2, run3) != 0);
    hf_run_until(x, hf_idle, 5000);
    TD_CHECK_INT(bx_delete(x, "wf-del", run2), ==, 0);
    TD_CHECK_INT(hf_store_exec(x, "wf-del", run2), ==, TD_ENOTFOUND);
    TD_CHECK_INT(hf_store_batches(x, run2), ==, 0);
    TD_CHECK_INT(hf_store_vis(x, run2), ==, 0);
    TD_CHECK_INT(hf_store_exec(x, "wf-del", NULL), ==, TD_OK); /* run3 still current */
    TD_CHECK_INT(hf_store_vis(x, run3), ==, 1);
    TD_CHECK_INT(bx_last_event(x, "wf-del", run3), ==, ET(WORKFLOW_TASK_SCHEDULED));

    /* bad requests */
    TD_CHECK_INT(bx_delete(x, "", ""), ==, TD_GRPC_INVALID_ARGUMENT);
    hf_free(x);
}
