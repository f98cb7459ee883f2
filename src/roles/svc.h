/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal services: how roles call each other. A role registers the methods of its
 * internal service (proto/historyservice.proto, proto/matchingservice.proto) with the
 * server under their gRPC paths; another role calls them by path with td_svc_call. When the
 * callee role is hosted in this process the call is a direct function call of its handler
 * (td_rpc_local_call); otherwise it would be a gRPC call to the owning host, which needs
 * cluster membership (not built yet: such calls fail with UNAVAILABLE and say so). Role code
 * never knows which one it got. Loop thread only.
 */
#ifndef TD_SVC_H
#define TD_SVC_H

#include "net/rpc.h"

typedef struct td_server_s td_server_t;

#define TD_SVC_HISTORY  "/temporald.historyservice.HistoryService/"
#define TD_SVC_MATCHING "/temporald.matchingservice.MatchingService/"

/* Registers m (copied; m->path unique) as callable by the other roles of this process.
 * TD_OK or TD_EEXIST. */
int td_svc_register(td_server_t *srv, const td_rpc_method_t *m);
/* Registers n methods; stops at the first error. */
int td_svc_register_all(td_server_t *srv, const td_rpc_method_t *m, int n);

/* Calls the method at path with req (borrowed until done runs). deadline is an absolute
 * td_now_mono_ms() value or 0. done runs exactly once, possibly before td_svc_call returns.
 * Returns a handle for td_svc_cancel, valid until done has run, or NULL when done already
 * ran (as it does for an unknown path, which fails at once with UNAVAILABLE). */
td_rpc_call_t *td_svc_call(td_server_t *srv, const char *path, const ProtobufCMessage *req,
                           int64_t deadline, td_rpc_local_fn done, void *arg);
/* Cancels a call started by td_svc_call (its handler's on_cancel fires). */
void td_svc_cancel(td_rpc_call_t *c);
/* Frees the registry (server shutdown). */
void td_svc_free(td_server_t *srv);

#endif
