/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by svc.c (registry), svc_net.c (routing to other hosts) and
 * svc_route.c (routing keys). Not for use by roles. */
#ifndef TD_SVC_INT_H
#define TD_SVC_INT_H

#include "roles/svc.h"

const td_rpc_method_t *td_svc__find(const td_server_t *srv, const char *path);
int td_svc__count(const td_server_t *srv);
const td_rpc_method_t *td_svc__method(const td_server_t *srv, int i);
/* td_svc_call when srv->route is set and path belongs to a routed role; m is the method
 * registered here, or NULL. */
td_rpc_call_t *td_svc__routed_call(td_server_t *srv, const td_rpc_method_t *m, const char *path,
                                   const ProtobufCMessage *req, int64_t deadline,
                                   td_rpc_local_fn done, void *arg);

#endif
