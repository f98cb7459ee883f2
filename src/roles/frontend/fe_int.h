/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the public API handler files of the frontend (fe_*.c) share: the per-call context,
 * namespace resolution with Temporal's NOT_FOUND detail, the request checks whose messages
 * name the field and the rule, and the forwarding of a call to the history or matching role
 * through the internal services (roles/svc.h) with cancellation passed on. Not for other
 * roles: they see the internal services only. Loop thread only.
 */
#ifndef TD_FE_INT_H
#define TD_FE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "net/rpc.h"
#include "roles/nsreg.h"
#include "roles/svc.h"
#include "server.h"
#include "temporal/api/common/v1/message.pb-c.h"
#include "temporal/api/taskqueue/v1/message.pb-c.h"

/* Longest workflow id, run id, task queue, identity, signal name ... (Temporal's 1000). */
#define TD_FE_MAX_ID_LEN 1000
/* limit.blobSize.error default: 2 MiB. */
#define TD_FE_BLOB_LIMIT_DEFAULT (2 * 1024 * 1024)
/* Shortest deadline accepted on a long poll (Temporal's MinLongPollTimeout). */
#define TD_FE_MIN_LONG_POLL_MS 2000
/* A long poll is forwarded with this much less time than the caller gave, so that matching
 * answers "no task" before the caller's own deadline fires (Temporal's longPollTailRoom). */
#define TD_FE_LONG_POLL_TAIL_MS 1000

/* Route flags. */
enum {
    TD_FE_LONG_POLL = 1 << 0,    /* deadline rules of long polls; DEADLINE_EXCEEDED -> empty */
    TD_FE_REPLY_EMPTY = 1 << 1,  /* success answers an empty public response (resp type) */
    TD_FE_NS_OPTIONAL = 1 << 2,  /* task-token calls: an empty namespace is forwarded as
                                  * namespace_id "" and the callee (history, or matching for
                                  * query tasks) uses the token's namespace id */
    TD_FE_UNIMPLEMENTED = 1 << 3 /* checked and resolved, then UNIMPLEMENTED (see note) */
};

typedef struct td_fe_call_s td_fe_call_t;
typedef struct td_fe_route_s td_fe_route_t;

/* Checks a request. Returns TD_GRPC_OK or a gRPC status with x->msg set (arena text). */
typedef int (*td_fe_check_fn)(td_fe_call_t *x, const ProtobufCMessage *req);
/* Builds the internal request into the call arena. Returns NULL with x->msg set to fail the
 * call (x->status, INTERNAL if unset), or NULL with no message to answer an empty success
 * without forwarding. May redirect the call (x->target, x->reply). A NULL build in a
 * route = the generic {namespace_id, request[, poller_id]} wrapper. */
typedef ProtobufCMessage *(*td_fe_build_fn)(td_fe_call_t *x, const ProtobufCMessage *req);

/* One public method served by forwarding to an internal one. */
struct td_fe_route_s {
    const char *path;                        /* public gRPC path */
    const ProtobufCMessageDescriptor *req;   /* public request */
    const ProtobufCMessageDescriptor *resp;  /* public response */
    const char *target;                      /* internal path (TD_SVC_*), NULL if none */
    const ProtobufCMessageDescriptor *inner; /* internal request type */
    td_fe_check_fn check;                    /* NULL: namespace checks only */
    td_fe_build_fn build;                    /* NULL: generic wrapper */
    int flags;                               /* TD_FE_* */
    const char *note;                        /* TD_FE_UNIMPLEMENTED: why */
    td_rpc_handler_fn fn;                    /* a handler of its own (ctx = the server);
                                              * the fields above from target on unused */
};

/* The route tables (one per file) and their lengths. */
extern const td_fe_route_t td_fe__workflow_routes[];
extern const int td_fe__workflow_routes_n;
extern const td_fe_route_t td_fe__task_routes[];
extern const int td_fe__task_routes_n;
extern const td_fe_route_t td_fe__namespace_routes[];
extern const int td_fe__namespace_routes_n;
extern const td_fe_route_t td_fe__operator_routes[];
extern const int td_fe__operator_routes_n;
extern const td_fe_route_t td_fe__visibility_routes[];
extern const int td_fe__visibility_routes_n;
extern const td_fe_route_t td_fe__update_routes[];
extern const int td_fe__update_routes_n;

/* The frontend's state of one public call, in the call arena. Valid until the public call
 * ends; a callback that ends the call must not touch it afterwards. */
struct td_fe_call_s {
    td_rpc_call_t *call;
    td_server_t *srv;
    const td_fe_route_t *route;
    const td_ns_t *ns;       /* resolved namespace, or NULL (optional namespace left empty) */
    td_rpc_call_t *inner;    /* the internal call while it runs */
    const char *path;        /* the internal path called */
    int *ended;              /* set while td_svc_call runs: done ran synchronously */
    const char *target;      /* internal path when a build redirects the call, else NULL */
    ProtobufCMessage *reply; /* answered on success instead of the internal response (a
                              * build's choice, in the call arena), or NULL */
    int status;              /* check/build failure status */
    const char *msg;         /* check/build failure message */
};

/* ---- fe_common.c ---- */

/* The arena text of a printf, as the message of a failure. */
#define td_fe__msg(x, ...) ((x)->msg = td_arena_printf(td_rpc_arena((x)->call), __VA_ARGS__))

/* Ends call with NOT_FOUND "Namespace <name> is not found." and a NamespaceNotFoundFailure
 * detail naming it. */
void td_fe__fail_ns_not_found(td_rpc_call_t *call, const char *name);
/* Resolves a namespace name for call: returns it, or ends the call (INVALID_ARGUMENT when
 * the name is empty or too long, NOT_FOUND with the detail when unknown, UNAVAILABLE when
 * this process has no namespace registry) and returns NULL. */
const td_ns_t *td_fe__ns_resolve(td_rpc_call_t *call, td_server_t *srv, const char *name);
/* The string field `name` of m ("" when unset or absent from the type). */
const char *td_fe__str_field(const ProtobufCMessage *m, const char *name);
/* An empty message of type d in the call's arena. */
ProtobufCMessage *td_fe__new_msg(td_rpc_call_t *call, const ProtobufCMessageDescriptor *d);
/* The generic internal request: a message of type d whose "namespace_id" and "request"
 * fields (and "poller_id" when it has one: a fresh UUID) are set. */
ProtobufCMessage *td_fe__wrap(td_fe_call_t *x, const ProtobufCMessageDescriptor *d,
                              const ProtobufCMessage *req);
/* Calls path with the internal request ireq and ends the public call with its outcome:
 * the response as is (or an empty x->route->resp with TD_FE_REPLY_EMPTY), or the error's
 * status, message and detail. The public call's cancellation cancels the internal call.
 * May end the call before returning. */
void td_fe__forward(td_fe_call_t *x, const char *path, const ProtobufCMessage *ireq);
/* Registers every route of every table on rpc (ctx = srv), then answers every other method
 * of WorkflowService and OperatorService with UNIMPLEMENTED "<Method> is not implemented by
 * temporald yet". Methods registered before (GetSystemInfo) are kept. TD_OK or the first
 * td_rpc_server_add error. */
int td_fe__register_all(td_rpc_server_t *rpc, td_server_t *srv);
/* The method served for a public path, as registered (for in-process calls and tests):
 * a route, or the UNIMPLEMENTED answer of a WorkflowService/OperatorService method not
 * served (its out->path borrows path). GetSystemInfo is not known here. TD_OK or
 * TD_ENOTFOUND. */
int td_fe__method(td_server_t *srv, const char *path, td_rpc_method_t *out);
/* limit.blobSize.error in bytes (dynamic config; default 2 MiB). */
int64_t td_fe__blob_limit(const td_server_t *srv);
/* frontend.enableCancelWorkerPollsOnShutdown (dynamic config; default true in temporald):
 * ShutdownWorker completes the worker's outstanding polls, and namespaces advertise the
 * worker_poll_complete_on_shutdown capability. */
int td_fe__polls_complete_on_shutdown(const td_server_t *srv);

/* ---- fe_satype.c ---- */

/* Adds the `type` metadata SDKs decode by to every search attribute payload of req (at any
 * depth) that has none, from x->ns's custom attributes and the system ones; req is changed
 * in place (its arrays are replaced from the call arena). No-op without a namespace. */
void td_fe__sa_apply_types(td_fe_call_t *x, const ProtobufCMessage *req);

/* ---- fe_validate.c: each returns NULL when fine, else an arena message (INVALID_ARGUMENT)
 * naming the field ("WorkflowId is not set on request.", "... length exceeds limit.") ---- */

/* limit.maxIDLength (dynamic config; default TD_FE_MAX_ID_LEN, Temporal's 1000). */
size_t td_fe__max_id_len(const td_server_t *srv);
/* Every id and name field of a public request, at any depth of its own nested messages
 * (multi-operations included): namespace, workflow / run / request / activity / update /
 * schedule ids, identity, signal and query names, task queue, workflow, activity type and
 * update names. "<Field> length exceeds limit." for the first one over td_fe__max_id_len. */
const char *td_fe__check_id_lengths(td_fe_call_t *x, const ProtobufCMessage *req);
const char *td_fe__check_required_id(td_fe_call_t *x, const char *field, const char *v);
const char *td_fe__check_optional_id(td_fe_call_t *x, const char *field, const char *v);
const char *td_fe__check_run_id(td_fe_call_t *x, const char *v);
const char *td_fe__check_execution(td_fe_call_t *x,
                                   const Temporal__Api__Common__V1__WorkflowExecution *e,
                                   int run_id_required);
const char *td_fe__check_task_queue(td_fe_call_t *x,
                                    const Temporal__Api__Taskqueue__V1__TaskQueue *tq);
const char *td_fe__check_duration(td_fe_call_t *x, const char *field,
                                  const Google__Protobuf__Duration *d);
/* Total serialized size of the payloads. */
size_t td_fe__payloads_size(const Temporal__Api__Common__V1__Payloads *p);
/* "Blob data size exceeds limit." when size > limit.blobSize.error. */
const char *td_fe__check_blob(td_fe_call_t *x, size_t size);
/* Deadline rules of a long poll: returns TD_GRPC_OK or the status with x->msg set. */
int td_fe__check_long_poll(td_fe_call_t *x);

#endif
