/* SPDX-License-Identifier: Apache-2.0 */
/* Routing keys of internal calls (src/roles/svc_route.c): every history request names the
 * shard of its workflow (from the request or its task token), every matching request its
 * task queue, so a caller and the owner agree on the ring key. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "historyservice.pb-c.h"
#include "matchingservice.pb-c.h"
#include "roles/history/hist.h"
#include "roles/history/ms/ms_token.h"
#include "roles/svc.h"
#include "test.h"

#define NS     "5b7c3a2e-0000-4000-8000-000000000001"
#define SHARDS 512

static const char *shard_key(const char *wf, char *buf, size_t n)
{
    snprintf(buf, n, "%d", td_hist_shard_of(NS, wf, SHARDS));
    return buf;
}

TD_TEST(svc_route_history_keys)
{
    td_arena_t a;
    char key[128], want[32];

    td_arena_init(&a, 1024);

    /* request.workflow_id */
    {
        Temporald__Historyservice__StartWorkflowExecutionRequest in =
                TEMPORALD__HISTORYSERVICE__START_WORKFLOW_EXECUTION_REQUEST__INIT;
        Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest r =
                TEMPORAL__API__WORKFLOWSERVICE__V1__START_WORKFLOW_EXECUTION_REQUEST__INIT;
        in.namespace_id = NS;
        in.request = &r;
        r.workflow_id = "order-17";
        TD_CHECK_INT(td_svc_route_key(TD_SVC_HISTORY "StartWorkflowExecution", &in.base, SHARDS, &a,
                                      key, sizeof(key)),
                     ==, TD_ROLE_HISTORY);
        TD_CHECK_STR(key, shard_key("order-17", want, sizeof(want)));
    }
    /* request.workflow_execution.workflow_id */
    {
        Temporald__Historyservice__SignalWorkflowExecutionRequest in =
                TEMPORALD__HISTORYSERVICE__SIGNAL_WORKFLOW_EXECUTION_REQUEST__INIT;
        Temporal__Api__Workflowservice__V1__SignalWorkflowExecutionRequest r =
                TEMPORAL__API__WORKFLOWSERVICE__V1__SIGNAL_WORKFLOW_EXECUTION_REQUEST__INIT;
        Temporal__Api__Common__V1__WorkflowExecution ex =
                TEMPORAL__API__COMMON__V1__WORKFLOW_EXECUTION__INIT;
        in.namespace_id = NS;
        in.request = &r;
        r.workflow_execution = &ex;
        ex.workflow_id = "payment-9";
        td_svc_route_key(TD_SVC_HISTORY "SignalWorkflowExecution", &in.base, SHARDS, &a, key,
                         sizeof(key));
        TD_CHECK_STR(key, shard_key("payment-9", want, sizeof(want)));
    }
    /* a task token names the run: namespace and workflow from the token */
    {
        Temporald__Historyservice__RespondWorkflowTaskCompletedRequest in =
                TEMPORALD__HISTORYSERVICE__RESPOND_WORKFLOW_TASK_COMPLETED_REQUEST__INIT;
        Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest r =
                TEMPORAL__API__WORKFLOWSERVICE__V1__RESPOND_WORKFLOW_TASK_COMPLETED_REQUEST__INIT;
        Temporald__Token__Task tok = TEMPORALD__TOKEN__TASK__INIT;
        tok.namespace_id = NS;
        tok.workflow_id = "from-token";
        tok.run_id = "7e0f7c1a-0000-4000-8000-000000000002";
        tok.scheduled_event_id = 2;
        TD_CHECK_INT(td_ms_token_encode(&tok, &a, &r.task_token), ==, 0);
        in.namespace_id = "";
        in.request = &r;
        td_svc_route_key(TD_SVC_HISTORY "RespondWorkflowTaskCompleted", &in.base, SHARDS, &a, key,
                         sizeof(key));
        TD_CHECK_STR(key, shard_key("from-token", want, sizeof(want)));
    }
    /* update-with-start: the first operation's start request */
    {
        Temporald__Historyservice__ExecuteMultiOperationRequest in =
                TEMPORALD__HISTORYSERVICE__EXECUTE_MULTI_OPERATION_REQUEST__INIT;
        Temporal__Api__Workflowservice__V1__ExecuteMultiOperationRequest r =
                TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_REQUEST__INIT;
        Temporal__Api__Workflowservice__V1__ExecuteMultiOperationRequest__Operation op =
                TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_REQUEST__OPERATION__INIT;
        Temporal__Api__Workflowservice__V1__ExecuteMultiOperationRequest__Operation *ops[1] = {
            &op
        };
        Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest st =
                TEMPORAL__API__WORKFLOWSERVICE__V1__START_WORKFLOW_EXECUTION_REQUEST__INIT;
        st.workflow_id = "uws-3";
        op.operation_case =
                TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_REQUEST__OPERATION__OPERATION_START_WORKFLOW;
        op.start_workflow = &st;
        r.n_operations = 1;
        r.operations = ops;
        in.namespace_id = NS;
        in.request = &r;
        td_svc_route_key(TD_SVC_HISTORY "ExecuteMultiOperation", &in.base, SHARDS, &a, key,
                         sizeof(key));
        TD_CHECK_STR(key, shard_key("uws-3", want, sizeof(want)));
    }
    td_arena_destroy(&a);
}

TD_TEST(svc_route_matching_keys)
{
    td_arena_t a;
    char key[256], want[256];

    td_arena_init(&a, 1024);
    td_svc_matching_key(NS, "orders", want, sizeof(want));
    /* a poll: request.task_queue.name */
    {
        Temporald__Matchingservice__PollWorkflowTaskQueueRequest in =
                TEMPORALD__MATCHINGSERVICE__POLL_WORKFLOW_TASK_QUEUE_REQUEST__INIT;
        Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueRequest r =
                TEMPORAL__API__WORKFLOWSERVICE__V1__POLL_WORKFLOW_TASK_QUEUE_REQUEST__INIT;
        Temporal__Api__Taskqueue__V1__TaskQueue tq = TEMPORAL__API__TASKQUEUE__V1__TASK_QUEUE__INIT;
        tq.name = "orders";
        r.task_queue = &tq;
        in.namespace_id = NS;
        in.request = &r;
        TD_CHECK_INT(td_svc_route_key(TD_SVC_MATCHING "PollWorkflowTaskQueue", &in.base, SHARDS, &a,
                                      key, sizeof(key)),
                     ==, TD_ROLE_MATCHING);
        TD_CHECK_STR(key, want);
    }
    /* an add: task_queue at the top */
    {
        Temporald__Matchingservice__AddActivityTaskRequest in =
                TEMPORALD__MATCHINGSERVICE__ADD_ACTIVITY_TASK_REQUEST__INIT;
        Temporal__Api__Taskqueue__V1__TaskQueue tq = TEMPORAL__API__TASKQUEUE__V1__TASK_QUEUE__INIT;
        tq.name = "orders";
        in.namespace_id = NS;
        in.task_queue = &tq;
        td_svc_route_key(TD_SVC_MATCHING "AddActivityTask", &in.base, SHARDS, &a, key, sizeof(key));
        TD_CHECK_STR(key, want);
    }
    /* a query answer: its query token names the queue the query went to */
    {
        Temporald__Matchingservice__RespondQueryTaskCompletedRequest in =
                TEMPORALD__MATCHINGSERVICE__RESPOND_QUERY_TASK_COMPLETED_REQUEST__INIT;
        Temporal__Api__Workflowservice__V1__RespondQueryTaskCompletedRequest r =
                TEMPORAL__API__WORKFLOWSERVICE__V1__RESPOND_QUERY_TASK_COMPLETED_REQUEST__INIT;
        Temporald__Token__QueryTask q = TEMPORALD__TOKEN__QUERY_TASK__INIT;
        q.namespace_id = NS;
        q.task_queue = "orders";
        q.task_id = "q-1";
        TD_CHECK_INT(td_ms_query_token_encode(&q, &a, &r.task_token), ==, 0);
        in.namespace_id = NS;
        in.request = &r;
        td_svc_route_key(TD_SVC_MATCHING "RespondQueryTaskCompleted", &in.base, SHARDS, &a, key,
                         sizeof(key));
        TD_CHECK_STR(key, want);
    }
    /* a sticky queue unload */
    {
        Temporald__Matchingservice__UnloadStickyTaskQueueRequest in =
                TEMPORALD__MATCHINGSERVICE__UNLOAD_STICKY_TASK_QUEUE_REQUEST__INIT;
        in.namespace_id = NS;
        in.sticky_task_queue = "orders";
        td_svc_route_key(TD_SVC_MATCHING "UnloadStickyTaskQueue", &in.base, SHARDS, &a, key,
                         sizeof(key));
        TD_CHECK_STR(key, want);
    }
    TD_CHECK_INT(td_svc_route_role("/temporal.api.workflowservice.v1.WorkflowService/X"), ==, 0);
    td_arena_destroy(&a);
}
