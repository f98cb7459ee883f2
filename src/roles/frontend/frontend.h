/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the files of the frontend role share: the registration function of each group of
 * public API handlers. frontend.c creates the RPC server and calls every function listed
 * here from its init hook, before the server listens; a new handler file adds its
 * declaration here and one line to td_frontend_register_all() in frontend.c.
 */
#ifndef TD_FRONTEND_H
#define TD_FRONTEND_H

#include "net/rpc.h"
#include "server.h"

#define TD_WORKFLOW_SERVICE "/temporal.api.workflowservice.v1.WorkflowService/"
#define TD_OPERATOR_SERVICE "/temporal.api.operatorservice.v1.OperatorService/"

/* GetSystemInfo (system_info.c). TD_OK or the td_rpc_server_add error. */
int td_frontend_system_info_register(td_rpc_server_t *rpc, td_server_t *srv);
/* Every other public method (fe_*.c): the namespace, workflow, task and operator handlers,
 * and an UNIMPLEMENTED answer naming the method for each WorkflowService and
 * OperatorService method not served yet. Register after GetSystemInfo. TD_OK or the
 * td_rpc_server_add error. */
int td_frontend_api_register(td_rpc_server_t *rpc, td_server_t *srv);

#endif
