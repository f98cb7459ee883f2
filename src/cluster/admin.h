/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin service (proto/adminservice.proto): cluster members for operators, served on the
 * frontend's gRPC server of a process hosting one. Registered by server.c after the roles
 * were created.
 */
#ifndef TD_CLUSTER_ADMIN_H
#define TD_CLUSTER_ADMIN_H

typedef struct td_server_s td_server_t;

#define TD_ADMIN_LIST_MEMBERS_PATH "/temporald.adminservice.AdminService/ListClusterMembers"

/* Adds the admin methods to srv->rpc (nothing without a frontend). TD_OK or an error. */
int td_cluster_admin_register(td_server_t *srv);

#endif
