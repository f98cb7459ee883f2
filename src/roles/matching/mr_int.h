/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the matching role's files share (matching.c, mr_record.c, mr_service.c): the role
 * state around the engine, the poll response objects handed between the engine and the
 * handlers, and the history ops the engine calls to record a task as started. Not for other
 * roles: they call the MatchingService methods through roles/svc.h. Loop thread only.
 */
#ifndef TD_MR_INT_H
#define TD_MR_INT_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "arena.h"
#include "net/rpc.h"
#include "roles/matching/engine.h"
#include "server.h"

/* A long poll shorter than this (after the frontend took its 1 s tail room off the caller's
 * deadline, which it checked against Temporal's 2 s minimum) is refused. */
#define TD_MR_MIN_POLL_MS 1000
/* Deadline given to history's Record*TaskStarted. */
#define TD_MR_RECORD_TIMEOUT_MS 10000
/* A QueryWorkflow call without a deadline waits at most this long for the worker. */
#define TD_MR_QUERY_TIMEOUT_MS 60000

typedef struct td_mr_s {
    td_server_t *srv;
    td_matching_config_t cfg;
    td_matching_ops_t ops;
    td_matching_engine_t *engine; /* NULL once closed */
    int running;                  /* between start and drain */
    int closing;                  /* td_matching_engine_close called, done not yet run */
    td_loop_fn drain_done;
    void *drain_arg;
    void *ring_listen;        /* matching ring listener (cluster routing), or NULL */
    td_timer_t *unload_timer; /* membershipUnloadDelay after a ring change */
} td_mr_t;

/* A poll response that outlives the history call that produced it: a copy in its own
 * arena, kept packed (net/pb_raw.h: its fields read as absent; packing it gives the bytes
 * history answered). The engine owns it between record_started and the poll callback (or
 * response_free); then the poll handler replies with msg and frees it. */
typedef struct {
    td_arena_t arena;
    ProtobufCMessage *msg; /* PollWorkflowTaskQueueResponse or PollActivityTaskQueueResponse */
} td_mr_resp_t;

/* The poll_ctx the handlers give the engine with each poll: the public poll request (in the
 * poll call's arena, valid while the poll waits, which is when record_started reads it). */
typedef struct {
    td_mr_t *r;
    td_rpc_call_t *call;
    td_matching_poll_t *handle;  /* NULL once the engine answered */
    const ProtobufCMessage *req; /* the public Poll*TaskQueueRequest */
} td_mr_poll_t;

/* record_started/response_free for td_matching_ops_t; ctx is the td_mr_t. */
extern const td_match_history_ops_t td_mr__history_ops;

/* Copies m (packed) into a new response object. Never NULL. */
td_mr_resp_t *td_mr__resp_copy(const ProtobufCMessage *m);
/* NULL is allowed. */
void td_mr__resp_free(td_mr_resp_t *resp);

/* Registers the MatchingService methods (ctx = r) with the server's internal services.
 * TD_OK or the error of td_svc_register_all (TD_EEXIST). */
int td_mr__register(td_mr_t *r);

/* Task data of activity tasks: a packed AddActivityTaskRequest carrying only attempt (the
 * fields td_match_task_t has no slot for). Workflow tasks carry no data. */
int32_t td_mr__task_attempt(const td_match_task_t *task);

#endif
