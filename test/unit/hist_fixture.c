/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The history service test fixture (see hist_fixture.h).
 */
#include "hist_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "roles/role.h"
#include "roles/svc.h"

/* ---- fake matching ---- */

static void hf_copy_added(hf_added_t *a, const Temporal__Api__Common__V1__WorkflowExecution *we,
                          const Temporal__Api__Taskqueue__V1__TaskQueue *tq, int64_t sid,
                          int32_t attempt)
{
    snprintf(a->wf, sizeof(a->wf), "%s", we ? we->workflow_id : "");
    snprintf(a->run, sizeof(a->run), "%s", we ? we->run_id : "");
    snprintf(a->tq, sizeof(a->tq), "%s", tq ? tq->name : "");
    snprintf(a->normal, sizeof(a->normal), "%s", tq && tq->normal_name ? tq->normal_name : "");
    a->kind = tq ? tq->kind : 0;
    a->scheduled_id = sid;
    a->attempt = attempt;
}

/* Records a task handed to the fake matching in `ring` (count *n) and replies `resp`, or
 * fails the call while matching is down. */
static void hf_added(hf_t *x, td_rpc_call_t *c, hf_added_t *ring, int *n,
                     const Temporal__Api__Common__V1__WorkflowExecution *we,
                     const Temporal__Api__Taskqueue__V1__TaskQueue *tq, int64_t sid,
                     int32_t attempt, const ProtobufCMessage *resp)
{
    if (x->matching_down) {
        td_rpc_fail_err(c, TD_EUNAVAIL, "matching down (test)");
        return;
    }
    hf_copy_added(&ring[(*n)++ % 64], we, tq, sid, attempt);
    td_rpc_reply(c, resp);
}

void hf_add_wft(td_rpc_call_t *c, void *ctx)
{
    hf_t *x = ctx;
    const Temporald__Matchingservice__AddWorkflowTaskRequest *r = (const void *)td_rpc_request(c);
    Temporald__Matchingservice__AddWorkflowTaskResponse resp =
            TEMPORALD__MATCHINGSERVICE__ADD_WORKFLOW_TASK_RESPONSE__INIT;

    if (!x->matching_down) {
        if (x->check_ns) {
            TD_CHECK_STR(r->namespace_id, x->ns);
        }
        x->last_sid = r->scheduled_event_id;
    }
    hf_added(x, c, x->wft, &x->n_wft, r->execution, r->task_queue, r->scheduled_event_id, 0,
             &resp.base);
}

static void hf_add_act(td_rpc_call_t *c, void *ctx)
{
    hf_t *x = ctx;
    const Temporald__Matchingservice__AddActivityTaskRequest *r = (const void *)td_rpc_request(c);
    Temporald__Matchingservice__AddActivityTaskResponse resp =
            TEMPORALD__MATCHINGSERVICE__ADD_ACTIVITY_TASK_RESPONSE__INIT;

    hf_added(x, c, x->act, &x->n_act, r->execution, r->task_queue, r->scheduled_event_id,
             r->attempt, &resp.base);
}

static void hf_query(td_rpc_call_t *c, void *ctx)
{
    hf_t *x = ctx;
    const Temporald__Matchingservice__QueryWorkflowRequest *r = (const void *)td_rpc_request(c);
    Temporal__Api__Workflowservice__V1__QueryWorkflowResponse resp =
            TEMPORAL__API__WORKFLOWSERVICE__V1__QUERY_WORKFLOW_RESPONSE__INIT;
    char buf[96];

    x->n_query++;
    x->query_history_len = r->task && r->task->history ? (int)r->task->history->n_events : -1;
    x->query_kind = r->task_queue ? (int)r->task_queue->kind : -1;
    snprintf(buf, sizeof(buf), "%s%s:%d", x->query_prefix ? x->query_prefix : "",
             r->request->query->query_type, x->query_history_len);
    resp.query_result = fx_payloads(&x->fx, buf);
    td_rpc_reply(c, &resp.base);
}

/* ---- loop helpers ---- */

static void hf_tick(void *arg)
{
    td_loop_stop(((hf_t *)arg)->loop);
}

/* Runs the loop in 2 ms steps until pred (or *flag) holds or ms passed; returns whether it
 * holds. With neither, runs for ms. */
static int hf_loop(hf_t *x, hf_pred pred, const int *flag, int ms)
{
    td_timer_t *t = td_timer_new(x->loop, hf_tick, x);
    int64_t end = td_now_mono_ms() + ms;
    int ok = 0;

    for (;;) {
        ok = pred != NULL ? pred(x) : flag != NULL ? *flag != 0 : 0;
        if (ok || td_now_mono_ms() > end) {
            break;
        }
        td_timer_start(t, 2);
        td_loop_run(x->loop);
    }
    td_timer_free(t);
    return ok;
}

int hf_wait(hf_t *x, hf_pred pred, int timeout_ms)
{
    return hf_loop(x, pred, NULL, timeout_ms);
}

void hf_run_until(hf_t *x, hf_pred pred, int timeout_ms)
{
    if (!hf_loop(x, pred, NULL, timeout_ms)) {
        td_test_fail(__FILE__, __LINE__, "timed out waiting");
    }
}

void hf_run(hf_t *x, const int *flag, int ms)
{
    if (!hf_loop(x, NULL, flag, ms) && flag != NULL) {
        td_test_fail(__FILE__, __LINE__, "timed out waiting");
    }
}

int hf_ready(hf_t *x)
{
    return td_hist_ready(x->hist);
}

int hf_idle(hf_t *x)
{
    return td_hist_idle(x->hist);
}

int hf_has_wft(hf_t *x)
{
    return x->n_wft > 0;
}

int hf_has_act(hf_t *x)
{
    return x->n_act > 0;
}

/* ---- set-up ---- */

void hf_open(hf_t *x, const char *ns, int shards, const char *dyn)
{
    td_store_options_t opt = { 0 };
    char err[256], url[128];
    int fd;

    memset(x, 0, sizeof(*x));
    snprintf(x->ns, sizeof(x->ns), "%s", ns ? ns : "");
    fx_init(&x->fx);
    x->loop = td_loop_new();
    td_config_init(&x->cfg);
    x->cfg.num_history_shards = shards;
    if (dyn != NULL) {
        td_strlist_add(&x->cfg.dynamic_config, dyn);
    }
    snprintf(x->dbpath, sizeof(x->dbpath), "/tmp/hist_test_XXXXXX");
    fd = mkstemp(x->dbpath);
    TD_CHECK(fd >= 0);
    close(fd);
    unlink(x->dbpath);
    opt.loop = x->loop;
    opt.schema = TD_STORE_SCHEMA_AUTO;
    opt.sqlite_synchronous = "OFF";
    snprintf(url, sizeof(url), "sqlite://%s", x->dbpath);
    TD_CHECK_INT(td_store_open(url, &opt, &x->store, err, sizeof(err)), ==, TD_OK);
}

void hf_server_start(hf_t *x)
{
    td_rpc_method_t mw = { TD_SVC_MATCHING "AddWorkflowTask",
                           &temporald__matchingservice__add_workflow_task_request__descriptor,
                           hf_add_wft, x };
    td_rpc_method_t ma = { TD_SVC_MATCHING "AddActivityTask",
                           &temporald__matchingservice__add_activity_task_request__descriptor,
                           hf_add_act, x };
    td_rpc_method_t mq = { TD_SVC_MATCHING "QueryWorkflow",
                           &temporald__matchingservice__query_workflow_request__descriptor,
                           hf_query, x };

    memset(&x->srv, 0, sizeof(x->srv));
    x->srv.config = &x->cfg;
    x->srv.loop = x->loop;
    x->srv.store = x->store;
    x->srv.nsreg = x->nsreg;
    TD_CHECK_INT(td_svc_register(&x->srv, &mw), ==, TD_OK);
    TD_CHECK_INT(td_svc_register(&x->srv, &ma), ==, TD_OK);
    TD_CHECK_INT(td_svc_register(&x->srv, &mq), ==, TD_OK);
    TD_CHECK_INT(td_role_history.init(&x->srv, &x->hist), ==, TD_OK);
    TD_CHECK_INT(td_role_history.start(x->hist), ==, TD_OK);
    hf_run_until(x, hf_ready, 5000);
}

void hf_drained(void *arg)
{
    (void)arg;
}

void hf_server_stop(hf_t *x)
{
    hf_run_until(x, hf_idle, 5000);
    td_role_history.drain(x->hist, hf_drained, NULL);
    td_role_history.stop(x->hist);
    x->hist = NULL;
    td_svc_free(&x->srv);
}

void hf_init(hf_t *x, const char *ns, int shards, const char *dyn)
{
    hf_open(x, ns, shards, dyn);
    hf_server_start(x);
}

void hf_free(hf_t *x)
{
    char p[96];

    if (x->hist != NULL) {
        hf_server_stop(x);
    }
    td_nsreg_free(x->nsreg);
    td_store_close(x->store);
    td_config_destroy(&x->cfg);
    td_loop_free(x->loop);
    fx_free(&x->fx);
    hf_res_clear(&x->call);
    unlink(x->dbpath);
    snprintf(p, sizeof(p), "%s-wal", x->dbpath);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", x->dbpath);
    unlink(p);
}

/* ---- calls ---- */

void hf_res_clear(hf_res_t *r)
{
    free(r->resp);
    free(r->detail);
    memset(r, 0, sizeof(*r));
}

static void hf_done(const ProtobufCMessage *resp, int status, const char *message,
                    const ProtobufCMessage *detail, void *arg)
{
    hf_res_t *r = arg;

    hf_res_clear(r);
    r->done = 1;
    r->status = status;
    snprintf(r->msg, sizeof(r->msg), "%s", message ? message : "");
    if (resp != NULL) {
        r->resp_len = protobuf_c_message_get_packed_size(resp);
        r->resp = malloc(r->resp_len + 1);
        protobuf_c_message_pack(resp, r->resp);
    }
    if (detail != NULL) {
        r->detail_len = protobuf_c_message_get_packed_size(detail);
        r->detail = malloc(r->detail_len + 1);
        protobuf_c_message_pack(detail, r->detail);
    }
}

void hf_call_async(hf_t *x, const char *method, const ProtobufCMessage *req, int64_t deadline,
                   hf_res_t *res)
{
    char path[160];

    snprintf(path, sizeof(path), "%s%s", TD_SVC_HISTORY, method);
    hf_res_clear(res);
    td_svc_call(&x->srv, path, req, deadline, hf_done, res);
}

int hf_call(hf_t *x, const char *method, const ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *rd, void **out)
{
    hf_call_async(x, method, req, 0, &x->call);
    hf_run(x, &x->call.done, 10000);
    if (out != NULL) {
        *out = NULL;
        if (x->call.status == 0 && rd != NULL) {
            *out = protobuf_c_message_unpack(rd, td_arena_pb(&x->fx.arena), x->call.resp_len,
                                             x->call.resp);
            TD_CHECK(*out != NULL);
        }
    }
    return x->call.status;
}

void *hf_pb(hf_t *x, const ProtobufCMessageDescriptor *d)
{
    void *m = td_arena_calloc(&x->fx.arena, d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

Temporal__Api__Common__V1__WorkflowExecution *hf_we(hf_t *x, const char *wf, const char *run)
{
    Temporal__Api__Common__V1__WorkflowExecution *we =
            hf_pb(x, &temporal__api__common__v1__workflow_execution__descriptor);
    we->workflow_id = td_arena_strdup(&x->fx.arena, wf);
    we->run_id = td_arena_strdup(&x->fx.arena, run ? run : "");
    return we;
}

/* ---- worker-side requests ---- */

Temporald__Historyservice__StartWorkflowExecutionRequest *hf_start_req(hf_t *x, const char *wf,
                                                                       const char *request_id)
{
    Temporald__Historyservice__StartWorkflowExecutionRequest *r =
            hf_pb(x, &HSD(start_workflow_execution_request));

    r->namespace_id = x->ns;
    r->request = fx_start_req(&x->fx);
    r->request->workflow_id = td_arena_strdup(&x->fx.arena, wf);
    if (request_id != NULL) {
        r->request->request_id = td_arena_strdup(&x->fx.arena, request_id);
    }
    return r;
}

int hf_start(hf_t *x, const char *wf, const char *request_id, int reuse, int conflict,
             char run_out[40])
{
    Temporald__Historyservice__StartWorkflowExecutionRequest *r = hf_start_req(x, wf, request_id);
    Temporal__Api__Workflowservice__V1__StartWorkflowExecutionResponse *resp = NULL;
    int st;

    r->request->workflow_id_reuse_policy = reuse;
    r->request->workflow_id_conflict_policy = conflict;
    st = hf_call(x, "StartWorkflowExecution", &r->base, &WSD(start_workflow_execution_response),
                 (void **)&resp);
    if (st != 0 && st != TD_GRPC_ALREADY_EXISTS) {
        fprintf(stderr, "# start %s: status %d: %s\n", wf, st, x->call.msg);
    }
    if (st == 0) {
        TD_CHECK_INT(strlen(resp->run_id), ==, 36);
        snprintf(x->run, sizeof(x->run), "%s", resp->run_id);
        if (run_out != NULL) {
            snprintf(run_out, 40, "%s", resp->run_id);
        }
        x->call.status = resp->started ? 0 : 100; /* 100: not started (existing run) */
        return x->call.status;
    }
    return st;
}

void hf_start_ok(hf_t *x, const char *wf, char run_out[40])
{
    char req_id[96];

    snprintf(req_id, sizeof(req_id), "%s-%d", wf, ++x->n_starts);
    TD_CHECK_INT(hf_start(x, wf, req_id, 0, 0, run_out), ==, 0);
}

int hf_wft_started(hf_t *x, const char *wf, const char *run, int64_t sid, const char *req_id,
                   int kind, poll_wft_t **out)
{
    Temporald__Historyservice__RecordWorkflowTaskStartedRequest *r =
            hf_pb(x, &HSD(record_workflow_task_started_request));

    r->namespace_id = x->ns;
    r->execution = hf_we(x, wf, run);
    r->scheduled_event_id = sid;
    r->request_id = (char *)req_id;
    r->poll_request = hf_pb(x, &WSD(poll_workflow_task_queue_request));
    r->poll_request->identity = (char *)"worker-1";
    r->task_queue = hf_pb(x, &temporal__api__taskqueue__v1__task_queue__descriptor);
    r->task_queue->name = (char *)"tq";
    r->task_queue->kind = kind;
    return hf_call(x, "RecordWorkflowTaskStarted", &r->base,
                   &WSD(poll_workflow_task_queue_response), (void **)out);
}

int hf_wft_complete(hf_t *x, ProtobufCBinaryData token, complete_t *req,
                    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedResponse **out)
{
    Temporald__Historyservice__RespondWorkflowTaskCompletedRequest *r =
            hf_pb(x, &HSD(respond_workflow_task_completed_request));
    void *dummy;

    r->namespace_id = x->ns;
    r->request = req;
    req->task_token = token;
    return hf_call(x, "RespondWorkflowTaskCompleted", &r->base,
                   &WSD(respond_workflow_task_completed_response), out ? (void **)out : &dummy);
}

int hf_act_started(hf_t *x, const char *wf, const char *run, int64_t sid, int32_t attempt,
                   poll_act_t **out)
{
    Temporald__Historyservice__RecordActivityTaskStartedRequest *r =
            hf_pb(x, &HSD(record_activity_task_started_request));

    r->namespace_id = x->ns;
    r->execution = hf_we(x, wf, run);
    r->scheduled_event_id = sid;
    r->attempt = attempt;
    r->request_id = (char *)"act-poll-1";
    r->poll_request = hf_pb(x, &WSD(poll_activity_task_queue_request));
    r->poll_request->identity = (char *)"worker-1";
    r->poll_request->namespace_ = (char *)"default";
    return hf_call(x, "RecordActivityTaskStarted", &r->base,
                   &WSD(poll_activity_task_queue_response), (void **)out);
}

Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *
hf_history_st(hf_t *x, const char *wf, const char *run, int close_only, int wait,
              ProtobufCBinaryData token, int page, int *status)
{
    Temporald__Historyservice__GetWorkflowExecutionHistoryRequest *r =
            hf_pb(x, &HSD(get_workflow_execution_history_request));
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *resp = NULL;

    r->namespace_id = x->ns;
    r->request = hf_pb(x, &WSD(get_workflow_execution_history_request));
    r->request->namespace_ = (char *)"default";
    r->request->execution = hf_we(x, wf, run);
    r->request->wait_new_event = wait;
    r->request->maximum_page_size = page;
    r->request->next_page_token = token;
    if (close_only) {
        r->request->history_event_filter_type =
                TEMPORAL__API__ENUMS__V1__HISTORY_EVENT_FILTER_TYPE__HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT;
    }
    *status = hf_call(x, "GetWorkflowExecutionHistory", &r->base,
                      &WSD(get_workflow_execution_history_response), (void **)&resp);
    return resp;
}

Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *
hf_history(hf_t *x, const char *wf, const char *run, int close_only, int wait,
           ProtobufCBinaryData token, int page)
{
    int st = -1;
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *resp =
            hf_history_st(x, wf, run, close_only, wait, token, page, &st);

    TD_CHECK_INT(st, ==, 0);
    return resp;
}

int hf_terminate(hf_t *x, const char *wf, const char *run)
{
    Temporald__Historyservice__TerminateWorkflowExecutionRequest *r =
            hf_pb(x, &HSD(terminate_workflow_execution_request));

    r->namespace_id = x->ns;
    r->request = hf_pb(x, &WSD(terminate_workflow_execution_request));
    r->request->workflow_execution = hf_we(x, wf, run);
    r->request->reason = (char *)"test";
    return hf_call(x, "TerminateWorkflowExecution", &r->base, NULL, NULL);
}

int hf_signal(hf_t *x, const char *wf, const char *run, const char *name, const char *req_id,
              const char *input)
{
    Temporald__Historyservice__SignalWorkflowExecutionRequest *r =
            hf_pb(x, &HSD(signal_workflow_execution_request));

    r->namespace_id = x->ns;
    r->request = hf_pb(x, &WSD(signal_workflow_execution_request));
    r->request->workflow_execution = hf_we(x, wf, run);
    r->request->signal_name = td_arena_strdup(&x->fx.arena, name);
    r->request->input = input ? fx_payloads(&x->fx, input) : NULL;
    r->request->request_id = td_arena_strdup(&x->fx.arena, req_id);
    return hf_call(x, "SignalWorkflowExecution", &r->base, NULL, NULL);
}

int hf_act_complete(hf_t *x, ProtobufCBinaryData token, const char *result)
{
    Temporald__Historyservice__RespondActivityTaskCompletedRequest *r =
            hf_pb(x, &HSD(respond_activity_task_completed_request));

    r->namespace_id = x->ns;
    r->request = hf_pb(x, &WSD(respond_activity_task_completed_request));
    r->request->task_token = token;
    r->request->result = fx_payloads(&x->fx, result);
    r->request->identity = (char *)"worker-1";
    return hf_call(x, "RespondActivityTaskCompleted", &r->base, NULL, NULL);
}

Temporal__Api__Workflowservice__V1__DescribeWorkflowExecutionResponse *
hf_describe(hf_t *x, const char *wf, const char *run)
{
    Temporald__Historyservice__DescribeWorkflowExecutionRequest *r =
            hf_pb(x, &HSD(describe_workflow_execution_request));
    Temporal__Api__Workflowservice__V1__DescribeWorkflowExecutionResponse *d = NULL;

    r->namespace_id = x->ns;
    r->request = hf_pb(x, &WSD(describe_workflow_execution_request));
    r->request->execution = hf_we(x, wf, run);
    TD_CHECK_INT(hf_call(x, "DescribeWorkflowExecution", &r->base,
                         &WSD(describe_workflow_execution_response), (void **)&d),
                 ==, 0);
    return d;
}

/* ---- store look-ups ---- */

int hf_store_exec(hf_t *x, const char *wf, const char *run)
{
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_EXEC_GET);
    int rc;

    req->in.exec_get.namespace_id = x->ns;
    req->in.exec_get.workflow_id = wf;
    req->in.exec_get.run_id = run;
    rc = td_store_call(x->store, req);
    td_store_req_free(req);
    return rc;
}

int hf_store_batches(hf_t *x, const char *run)
{
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_HISTORY_READ);
    int n;

    req->in.hist_read.tree_id = run;
    req->in.hist_read.branch_id = run;
    req->in.hist_read.min_event_id = 1;
    TD_CHECK_INT(td_store_call(x->store, req), ==, TD_OK);
    n = req->out.hist_read.n_batches;
    td_store_req_free(req);
    return n;
}

int hf_store_vis(hf_t *x, const char *run)
{
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_VIS_LIST);
    int n = 0;

    req->in.vis_query.namespace_id = x->ns;
    TD_CHECK_INT(td_store_call(x->store, req), ==, TD_OK);
    for (int i = 0; i < req->out.vis_list.n_recs; i++) {
        n += strcmp(req->out.vis_list.recs[i].run_id, run) == 0;
    }
    td_store_req_free(req);
    return n;
}
