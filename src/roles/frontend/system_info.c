/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WorkflowService/GetSystemInfo: the server version and the capabilities temporald supports,
 * which the SDKs read at connect time (see temporal-api-notes.md §1.2). It is a pure answer
 * from constants: no store, no other role. Registered by frontend.c.
 */
#include "roles/frontend/frontend.h"

#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

typedef Temporal__Api__Workflowservice__V1__GetSystemInfoResponse td_sysinfo_resp_t;
typedef Temporal__Api__Workflowservice__V1__GetSystemInfoResponse__Capabilities td_sysinfo_caps_t;

#ifndef TD_VERSION
#define TD_VERSION "0.0.0"
#endif

static void td_frontend_get_system_info(td_rpc_call_t *call, void *ctx)
{
    td_sysinfo_resp_t resp = TEMPORAL__API__WORKFLOWSERVICE__V1__GET_SYSTEM_INFO_RESPONSE__INIT;
    td_sysinfo_caps_t caps =
            TEMPORAL__API__WORKFLOWSERVICE__V1__GET_SYSTEM_INFO_RESPONSE__CAPABILITIES__INIT;
    (void)ctx;

    caps.signal_and_query_header = 1;
    caps.internal_error_differentiation = 1;
    caps.activity_failure_include_heartbeat = 1;
    caps.supports_schedules = 0; /* not yet: the worker role's schedules come later */
    caps.encoded_failure_attributes = 1;
    caps.build_id_based_versioning = 1;
    caps.upsert_memo = 1;
    caps.eager_workflow_start = 0; /* not yet */
    caps.sdk_metadata = 1;
    caps.count_group_by_execution_status = 1;
    caps.nexus = 0;
    resp.server_version = (char *)TD_VERSION;
    resp.capabilities = &caps;
    td_rpc_reply(call, &resp.base);
}

int td_frontend_system_info_register(td_rpc_server_t *rpc, td_server_t *srv)
{
    td_rpc_method_t m = {
        TD_WORKFLOW_SERVICE "GetSystemInfo",
        &temporal__api__workflowservice__v1__get_system_info_request__descriptor,
        td_frontend_get_system_info,
        srv,
    };
    return td_rpc_server_add(rpc, &m);
}
