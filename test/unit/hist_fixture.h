/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared fixture for the history service tests (test/unit/hist_*_test.c): the history role
 * over a real SQLite store in a temporary file, on a test server whose MatchingService
 * methods are a fake matching that records what history hands it, plus the loop helpers,
 * the synchronous and asynchronous history calls, and the worker-side request builders
 * (start, workflow task started / completed, activity started, history, terminate) and store
 * look-ups the suites share. Every helper sends x->ns as the namespace id. Test code only.
 */
#ifndef TD_HIST_FIXTURE_H
#define TD_HIST_FIXTURE_H

#include "test.h"

#include "config.h"
#include "history_ms_fixture.h"
#include "historyservice.pb-c.h"
#include "loop.h"
#include "matchingservice.pb-c.h"
#include "roles/history/hist.h"
#include "net/rpc.h"
#include "roles/nsreg.h"
#include "server.h"
#include "store/store.h"

#define WSD(x) temporal__api__workflowservice__v1__##x##__descriptor
#define HSD(x) temporald__historyservice__##x##__descriptor
/* A zeroed message of type T with descriptor d in the fixture arena (needs `x`). */
#define PB(T, d) ((T *)hf_pb(x, &(d)))

typedef Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse poll_wft_t;
typedef Temporal__Api__Workflowservice__V1__PollActivityTaskQueueResponse poll_act_t;
typedef Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest complete_t;

/* A task the fake matching was handed (AddWorkflowTask / AddActivityTask). */
typedef struct {
    char wf[64], run[40], tq[64], normal[64];
    int64_t scheduled_id;
    int32_t attempt;
    int kind;
} hf_added_t;

/* One history call's outcome (several may be outstanding). */
typedef struct {
    int done, status;
    char msg[256];
    uint8_t *resp, *detail;
    size_t resp_len, detail_len;
} hf_res_t;

typedef struct hf_s {
    td_loop_t *loop;
    td_store_t *store;
    td_config_t cfg;
    td_server_t srv;
    td_nsreg_t *nsreg; /* optional: set before hf_server_start, freed by hf_free */
    void *hist;
    char dbpath[64];
    char ns[40];  /* the namespace id every helper sends */
    char run[40]; /* the run id of the last workflow hf_start started */
    int n_starts;
    /* fake matching: the last 64 tasks of each kind, counted from the start */
    hf_added_t wft[64], act[64];
    int n_wft, n_act;
    int64_t last_sid;  /* scheduled_event_id of the last AddWorkflowTask */
    int check_ns;      /* AddWorkflowTask must carry x->ns */
    int matching_down; /* answer AddWorkflowTask / AddActivityTask with UNAVAILABLE */
    int n_query;       /* legacy query tasks: answered "<prefix><type>:<history length>" */
    int query_history_len, query_kind;
    const char *query_prefix;
    hf_res_t call; /* the last synchronous call */
    fx_t fx;       /* request builders and their arena */
} hf_t;

typedef int (*hf_pred)(hf_t *x);

/* Store in a new temporary SQLite file with `shards` history shards and, when not NULL, one
 * --dynamic-config-value `dyn`; namespace id `ns` (NULL: set x->ns later). */
void hf_open(hf_t *x, const char *ns, int shards, const char *dyn);
/* Registers the fake matching on a fresh test server and starts the history role. */
void hf_server_start(hf_t *x);
/* Stops the role (after its in-flight work) and forgets all in-memory state. */
void hf_server_stop(hf_t *x);
/* The fake matching's AddWorkflowTask (ctx: the fixture), for a second test server. */
void hf_add_wft(td_rpc_call_t *c, void *ctx);
/* A drain callback that does nothing. */
void hf_drained(void *arg);
/* hf_open + hf_server_start. */
void hf_init(hf_t *x, const char *ns, int shards, const char *dyn);
void hf_free(hf_t *x);

/* Runs the loop until pred holds (checked every 2 ms); returns 0 after timeout_ms. */
int hf_wait(hf_t *x, hf_pred pred, int timeout_ms);
/* hf_wait that fails the test on timeout. */
void hf_run_until(hf_t *x, hf_pred pred, int timeout_ms);
/* Runs the loop until *flag != 0 (fails the test after ms), or for ms when flag is NULL. */
void hf_run(hf_t *x, const int *flag, int ms);
int hf_ready(hf_t *x);
int hf_idle(hf_t *x);
int hf_has_wft(hf_t *x);
int hf_has_act(hf_t *x);

void hf_res_clear(hf_res_t *r);
/* Starts a history call (`method` of TD_SVC_HISTORY); res gets the outcome. */
void hf_call_async(hf_t *x, const char *method, const ProtobufCMessage *req, int64_t deadline,
                   hf_res_t *res);
/* Calls a history method and waits; returns the gRPC status; the response is unpacked into
 * the fixture arena with `rd` (NULL: not wanted). */
int hf_call(hf_t *x, const char *method, const ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *rd, void **out);
void *hf_pb(hf_t *x, const ProtobufCMessageDescriptor *d);
Temporal__Api__Common__V1__WorkflowExecution *hf_we(hf_t *x, const char *wf, const char *run);

/* The default StartWorkflowExecution request for wf (request_id NULL: fx_start_req's). */
Temporald__Historyservice__StartWorkflowExecutionRequest *hf_start_req(hf_t *x, const char *wf,
                                                                       const char *request_id);
/* StartWorkflowExecution with the default request: 0 when started, 100 when an existing run
 * was returned, else the gRPC status. */
int hf_start(hf_t *x, const char *wf, const char *request_id, int reuse, int conflict,
             char run_out[40]);
/* Starts wf (request id "<wf>-<n>"); checks it started. */
void hf_start_ok(hf_t *x, const char *wf, char run_out[40]);
int hf_wft_started(hf_t *x, const char *wf, const char *run, int64_t sid, const char *req_id,
                   int kind, poll_wft_t **out);
int hf_wft_complete(hf_t *x, ProtobufCBinaryData token, complete_t *req,
                    Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedResponse **out);
int hf_act_started(hf_t *x, const char *wf, const char *run, int64_t sid, int32_t attempt,
                   poll_act_t **out);
/* GetWorkflowExecutionHistory; *status gets the gRPC status. */
Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *
hf_history_st(hf_t *x, const char *wf, const char *run, int close_only, int wait,
              ProtobufCBinaryData token, int page, int *status);
/* hf_history_st that checks the call succeeded. */
Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *
hf_history(hf_t *x, const char *wf, const char *run, int close_only, int wait,
           ProtobufCBinaryData token, int page);
/* TerminateWorkflowExecution (reason "test"); returns the gRPC status. */
int hf_terminate(hf_t *x, const char *wf, const char *run);
/* SignalWorkflowExecution with `input` as its one JSON payload (NULL: none). */
int hf_signal(hf_t *x, const char *wf, const char *run, const char *name, const char *req_id,
              const char *input);
/* RespondActivityTaskCompleted with the JSON result `result` (identity "worker-1"). */
int hf_act_complete(hf_t *x, ProtobufCBinaryData token, const char *result);
/* DescribeWorkflowExecution; checks the call succeeded. */
Temporal__Api__Workflowservice__V1__DescribeWorkflowExecutionResponse *
hf_describe(hf_t *x, const char *wf, const char *run);

/* Store look-ups: the row (run NULL: the current one), the history batches and the
 * visibility records of a run. */
int hf_store_exec(hf_t *x, const char *wf, const char *run);
int hf_store_batches(hf_t *x, const char *run);
int hf_store_vis(hf_t *x, const char *run);

#endif
