/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal services: how roles call each other. A role registers the methods of its
 * internal service (proto/historyservice.proto, proto/matchingservice.proto) with the
 * server under their gRPC paths; another role calls them by path with td_svc_call. When the
 * callee role is hosted in this process the call is a direct function call of its handler
 * (td_rpc_local_call). In cluster mode (`temporald start`, svc_net.c) every call names a key
 * of its role's consistent-hash ring (svc_route.c: the history shard of the workflow, the
 * task queue for matching); when the ring's owner of the key is this process the call is
 * still a direct function call, otherwise a gRPC call to the owner's internal listener over
 * one multiplexed connection per peer. A history host that does not own the shard answers
 * UNAVAILABLE with a ShardOwnershipLost detail naming the owner; the call is retried once
 * there. Without cluster routing (start-dev, tests) a call whose role is not hosted here
 * fails with UNAVAILABLE and says so. Role code never knows which one it got. Loop thread
 * only.
 */
#ifndef TD_SVC_H
#define TD_SVC_H

#include "net/rpc.h"

typedef struct td_server_s td_server_t;
typedef struct td_ring_s td_ring_t;

#define TD_SVC_HISTORY  "/temporald.historyservice.HistoryService/"
#define TD_SVC_MATCHING "/temporald.matchingservice.MatchingService/"

/* Matching's FAILED_PRECONDITION message for a task or query offered to a sticky queue nobody
 * polls (Temporal's StickyWorkerUnavailable): history then uses the normal queue. */
#define TD_SVC_STICKY_UNAVAILABLE "sticky worker unavailable, please use original task queue."

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

/* ---- cluster routing (svc_net.c) ---- */

/* Turns routing on: one ring per routed role (history, matching) following the process's
 * membership. Before the roles start, so that they see their rings. */
int td_svc_route_open(td_server_t *srv);
/* Serves the internal methods of the hosted history and matching roles to other processes on
 * their gRPC ports (after the roles registered them). TD_OK or TD_EIO. */
int td_svc_listen(td_server_t *srv);
/* The internal listeners report NOT_SERVING on gRPC health (draining). */
void td_svc_set_serving(td_server_t *srv, int serving);
/* Closes the listeners (incoming calls cancelled) and peer connections (outgoing calls end
 * CANCELLED) while the roles still live; later remote calls fail at once. */
void td_svc_route_close(td_server_t *srv);
/* Frees the rest (rings), after the roles stopped. */
void td_svc_route_free(td_server_t *srv);
/* The ring of a role (TD_ROLE_* bit), or NULL when the process routes nothing: it then owns
 * every key of the roles it hosts. */
td_ring_t *td_svc_ring(td_server_t *srv, int role);
/* Counters of routed calls (benchmarks and tests). */
typedef struct {
    uint64_t local, remote, redirected, no_owner;
} td_svc_stats_t;
void td_svc_stats(td_server_t *srv, td_svc_stats_t *out);

/* ---- routing keys (svc_route.c) ---- */

/* The matching ring key of a task queue (every partition and type of it: one owner). */
void td_svc_matching_key(const char *namespace_id, const char *task_queue, char *key,
                         size_t keylen);
/* The role serving an internal path (TD_ROLE_HISTORY, TD_ROLE_MATCHING) or 0. */
int td_svc_route_role(const char *path);
/* Writes the ring key req names into key (see svc_route.c) and returns the role, or 0 for a
 * path of no routed role. arena holds decoded task tokens. */
int td_svc_route_key(const char *path, const ProtobufCMessage *req, int num_shards,
                     td_arena_t *arena, char *key, size_t keylen);

#endif
