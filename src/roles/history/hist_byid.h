/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What hist_api.c shares with hist_byid.c: the worker's answers to an activity task
 * (heartbeat, completed, failed, canceled) as one operation shape, so that the *ById methods
 * (which name the activity by workflow id, run id and activity id instead of a task token)
 * run exactly the transition the token methods run, and the constructor of a call's
 * operation. Not for use outside src/roles/history/. Loop thread only.
 */
#ifndef TD_HIST_BYID_H
#define TD_HIST_BYID_H

#include "roles/history/hist_int.h"
#include "token.pb-c.h"

/* Which answer an activity operation carries. */
enum {
    TD_HIST_ACT_HEARTBEAT = 1, /* req: RecordActivityTaskHeartbeatRequest */
    TD_HIST_ACT_COMPLETE,      /* req: RespondActivityTaskCompletedRequest */
    TD_HIST_ACT_FAIL,          /* req: RespondActivityTaskFailedRequest */
    TD_HIST_ACT_CANCEL,        /* req: RespondActivityTaskCanceledRequest */
};

/* op->u of an activity answer. req is always the token-style public request (by-id callers
 * build one from their own request). */
typedef struct {
    const Temporald__Token__Task *tok;
    const void *req;
    int cancel_requested; /* heartbeat outcome */
    int kind;             /* TD_HIST_ACT_*; the token methods of hist_api.c leave it 0 */
} td_hist_actr_t;

/* A new operation for call, in the call's arena, on the run `run` ("" or NULL = the
 * current run) of (ns, wf). dirty is set; the caller submits it with td_hist__op_submit. */
td_hist_op_t *td_hist__op_call(td_hist_t *h, td_rpc_call_t *call, const char *ns, const char *wf,
                               const char *run, int load, td_hist_apply_fn apply,
                               td_hist_done_fn done);
/* The transition of answer x->kind (op->u = x) with token x->tok: td_ms_activity_heartbeat,
 * _complete, _fail or _cancel. TD_EINVAL for an unknown kind. */
int td_hist__act_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t);
/* Replies to an activity answer: the error, or the response of type op->u2 (a heartbeat
 * response, token or by-id, carries cancel_requested). */
int td_hist__act_done(td_hist_op_t *op, int rc, const char *msg);

/* hist_byid.c: registers the *ById activity methods and DeleteWorkflowExecution. */
int td_hist__register_byid(td_hist_t *h);

#endif
