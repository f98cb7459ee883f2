/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workflow updates in the history service: the per-workflow registry of update requests
 * (admitted, then sent in a workflow task) and of the callers waiting for an update's stage,
 * and the RPCs UpdateWorkflowExecution, PollWorkflowExecutionUpdate and ExecuteMultiOperation
 * (update-with-start). Requests live only in memory, on the workflow's context, as in
 * Temporal: a restart loses the ones not accepted yet (their callers retry and admit them
 * again); accepted and completed updates are durable in the mutable state and history
 * (ms_update.c) and are answered from there. Requests ride in ordinary (not speculative)
 * workflow tasks: an update arriving with no task pending schedules one. Loop thread only.
 *
 * Design notes
 * ============
 *
 * A registry entry (td_hist_update_t, keyed by run id and update id)
 *
 *   Invariants: an ADMITTED or SENT entry holds the request and no accepted record exists in
 *   the mutable state for its id; an ACCEPTED entry exists only while callers wait for the
 *   update to complete. SENT entries are exactly the requests carried by the workflow task
 *   that is started (or by a failed attempt of it: they ride again). Each waiting caller is on
 *   exactly one entry's list, with one timer: the caller's deadline (DEADLINE_EXCEEDED) or
 *   history.longPollExpirationInterval (the stage reached so far), whichever comes first.
 *
 *      admit            task starts (attach)    Acceptance committed
 *     ------> ADMITTED --------------------> SENT -----------------> ACCEPTED ----+
 *                                             |  ^ task failed:        | Response |
 *                                             |  | sent again          v          v
 *                                             |  +------------     (freed: callers answered
 *                                             | Rejection, or not answered by     COMPLETED)
 *                                             | the worker: rejected
 *                                             +------------------------> (freed, COMPLETED
 *                                                                         with the failure)
 *   Any state: the run closes -> callers of ADMITTED/SENT get NOT_FOUND "workflow execution
 *   already completed" (UNAVAILABLE "Workflow Update was aborted." when a newer run of the
 *   workflow runs: their retry reaches it), of ACCEPTED the AcceptedUpdateCompletedWorkflow
 *   failure (freed).
 *
 *   FROM      -> TO         [function]
 *   (none)    -> ADMITTED   [td_hist_uw_done (the admission committed)]
 *   ADMITTED  -> SENT       [td_hist__update_attach]
 *   SENT      -> SENT       [td_hist__update_attach (a new attempt)]
 *   SENT      -> ACCEPTED   [td_hist__update_completed (ACCEPTED effect)]
 *   SENT      -> freed      [td_hist__update_completed (REJECTED, COMPLETED, unprocessed)]
 *   ACCEPTED  -> freed      [td_hist__update_completed (COMPLETED), last waiter gone]
 *   (none)    -> ACCEPTED   [td_hist_uw_wait for a durable accepted update]
 *   any       -> freed      [td_hist__update_sweep (run closed), td_hist__update_free_all]
 */
#define TD_LOG_COMPONENT "history"

#include <string.h>

#include "error.h"
#include "google/protobuf/any.pb-c.h"
#include "historyservice.pb-c.h"
#include "log.h"
#include "mem.h"
#include "roles/history/hist_int.h"
#include "roles/svc.h"
#include "temporal/api/enums/v1/failed_cause.pb-c.h"
#include "temporal/api/enums/v1/update.pb-c.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"
#include "temporal/api/failure/v1/message.pb-c.h"

#define STAGE(x) \
    TEMPORAL__API__ENUMS__V1__UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE__UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_##x
#define WSV1(x) temporal__api__workflowservice__v1__##x##__descriptor
#define ANY_PFX "type.googleapis.com/"

enum { TD_HU_ADMITTED = 1, TD_HU_SENT, TD_HU_ACCEPTED };
enum { TD_HU_KIND_UPDATE = 1, TD_HU_KIND_POLL, TD_HU_KIND_MULTI };

typedef struct td_hist_uw_s td_hist_uw_t;
typedef Temporal__Api__Update__V1__Outcome td_outcome_t;

struct td_hist_update_s {
    char *run_id, *update_id;
    int state;       /* TD_HU_* */
    uint8_t *packed; /* the temporal.api.update.v1.Request while ADMITTED / SENT */
    size_t packed_len;
    td_hist_uw_t *waiters;
    td_hist_update_t *next;
};

/* One caller of UpdateWorkflowExecution / PollWorkflowExecutionUpdate / ExecuteMultiOperation,
 * in its call's arena. */
struct td_hist_uw_s {
    td_hist_t *h;
    td_rpc_call_t *call;
    td_arena_t *a;
    int kind;
    int stage; /* the stage waited for */
    const char *namespace_id, *workflow_id, *run_id, *update_id, *first_run_id;
    const Temporal__Api__Update__V1__Request *request; /* NULL for a poll */
    /* update-with-start */
    td_hist_start_t start;
    int start_failed;
    /* what apply found */
    const char *found_run;
    int closed;
    int64_t accepted_id, completed_id;
    int admit;
    /* waiting */
    td_hist_op_t op;
    td_hist_ctx_t *ctx;
    td_hist_update_t *entry;
    td_timer_t *timer;
    int hard; /* the timer is the caller's deadline */
    int cancelled;
    td_hist_uw_t *next;
};

/* ---- answers ---- */

static Temporal__Api__Update__V1__UpdateRef *td_hist_uw_ref(td_hist_uw_t *w)
{
    Temporal__Api__Update__V1__UpdateRef *r =
            td_hist__pb(w->a, &temporal__api__update__v1__update_ref__descriptor);
    r->workflow_execution =
            td_hist__pb(w->a, &temporal__api__common__v1__workflow_execution__descriptor);
    r->workflow_execution->workflow_id = (char *)w->workflow_id;
    r->workflow_execution->run_id = (char *)(w->found_run ? w->found_run : "");
    r->update_id = (char *)w->update_id;
    return r;
}

/* Ends the call with `stage` and `outcome` (may be NULL); outcome is packed at once. */
static void td_hist_uw_reply(td_hist_uw_t *w, int stage, const td_outcome_t *outcome)
{
    if (w->kind == TD_HU_KIND_POLL) {
        Temporal__Api__Workflowservice__V1__PollWorkflowExecutionUpdateResponse *r =
                td_hist__pb(w->a, &WSV1(poll_workflow_execution_update_response));
        r->outcome = (td_outcome_t *)outcome;
        r->stage = stage;
        r->update_ref = td_hist_uw_ref(w);
        td_rpc_reply(w->call, &r->base);
    } else {
        Temporal__Api__Workflowservice__V1__UpdateWorkflowExecutionResponse *r =
                td_hist__pb(w->a, &WSV1(update_workflow_execution_response));
        r->update_ref = td_hist_uw_ref(w);
        r->outcome = (td_outcome_t *)outcome;
        r->stage = stage;
        if (w->kind == TD_HU_KIND_UPDATE) {
            td_rpc_reply(w->call, &r->base);
        } else {
            Temporal__Api__Workflowservice__V1__ExecuteMultiOperationResponse *m =
                    td_hist__pb(w->a, &WSV1(execute_multi_operation_response));
            Temporal__Api__Workflowservice__V1__StartWorkflowExecutionResponse *s =
                    td_hist__pb(w->a, &WSV1(start_workflow_execution_response));
            s->run_id = (char *)w->start.run_id;
            s->started = w->start.started;
            s->status = w->start.status;
            m->n_responses = 2;
            m->responses = td_arena_alloc(w->a, 2 * sizeof(*m->responses));
            for (int i = 0; i < 2; i++) {
                m->responses[i] =
                        td_hist__pb(w->a, &WSV1(execute_multi_operation_response__response));
            }
            m->responses[0]->response_case =
                    TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_RESPONSE__RESPONSE__RESPONSE_START_WORKFLOW;
            m->responses[0]->start_workflow = s;
            m->responses[1]->response_case =
                    TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_RESPONSE__RESPONSE__RESPONSE_UPDATE_WORKFLOW;
            m->responses[1]->update_workflow = r;
            td_rpc_reply(w->call, &m->base);
        }
    }
}

static Google__Protobuf__Any *td_hist_uw_any(td_arena_t *a, const ProtobufCMessage *m)
{
    Google__Protobuf__Any *any = td_hist__pb(a, &google__protobuf__any__descriptor);
    size_t n = protobuf_c_message_get_packed_size(m);

    any->type_url = td_arena_printf(a, ANY_PFX "%s", m->descriptor->name);
    any->value.data = td_arena_alloc(a, n ? n : 1);
    any->value.len = protobuf_c_message_pack(m, any->value.data);
    return any;
}

/* The detail a failure of rc carries (NULL: none). */
static const ProtobufCMessage *td_hist_uw_detail(td_hist_uw_t *w, int rc, const char *msg)
{
    if (rc == TD_ESTARTED) {
        Temporal__Api__Errordetails__V1__WorkflowExecutionAlreadyStartedFailure *d = td_hist__pb(
                w->a,
                &temporal__api__errordetails__v1__workflow_execution_already_started_failure__descriptor);
        d->start_request_id = (char *)w->start.exist_request_id;
        d->run_id = (char *)w->start.exist_run_id;
        d->first_execution_run_id = (char *)w->start.exist_first_run_id;
        return &d->base;
    }
    if (rc == TD_ELIMIT) {
        Temporal__Api__Errordetails__V1__ResourceExhaustedFailure *d = td_hist__pb(
                w->a, &temporal__api__errordetails__v1__resource_exhausted_failure__descriptor);
        d->cause =
                TEMPORAL__API__ENUMS__V1__RESOURCE_EXHAUSTED_CAUSE__RESOURCE_EXHAUSTED_CAUSE_CONCURRENT_LIMIT;
        return &d->base;
    }
    if (rc == TD_EPRECOND && msg != NULL && strncmp(msg, "Unable to perform", 17) == 0) {
        return td_hist__pb(
                w->a, &temporal__api__errordetails__v1__workflow_not_ready_failure__descriptor);
    }
    if (rc == TD_ENOTFOUND) {
        return td_hist__pb(w->a, &temporal__api__errordetails__v1__not_found_failure__descriptor);
    }
    return NULL;
}

/* Ends the call with rc. Update-with-start wraps it in a MultiOperationExecutionFailure: the
 * failed operation's status and MultiOperationExecutionAborted for the other. */
static void td_hist_uw_fail(td_hist_uw_t *w, int rc, const char *msg)
{
    const ProtobufCMessage *detail;
    Temporal__Api__Errordetails__V1__MultiOperationExecutionFailure *mf;
    int failed;

    if (msg == NULL || msg[0] == '\0') {
        msg = td_strerror(rc);
    }
    detail = td_hist_uw_detail(w, rc, msg);
    if (w->kind != TD_HU_KIND_MULTI) {
        td_rpc_fail(w->call, td_err_grpc_status(rc), msg, detail);
        return;
    }
    mf = td_hist__pb(
            w->a, &temporal__api__errordetails__v1__multi_operation_execution_failure__descriptor);
    mf->n_statuses = 2;
    mf->statuses = td_arena_alloc(w->a, 2 * sizeof(*mf->statuses));
    failed = w->start_failed ? 0 : 1;
    for (int i = 0; i < 2; i++) {
        Temporal__Api__Errordetails__V1__MultiOperationExecutionFailure__OperationStatus *st = td_hist__pb(
                w->a,
                &temporal__api__errordetails__v1__multi_operation_execution_failure__operation_status__descriptor);
        st->details = td_arena_alloc(w->a, sizeof(*st->details));
        if (i == failed) {
            st->code = td_err_grpc_status(rc);
            st->message = (char *)msg;
            if (detail != NULL) {
                st->details[st->n_details++] = td_hist_uw_any(w->a, detail);
            }
        } else {
            st->code = TD_GRPC_ABORTED;
            st->message = "Operation was aborted.";
            st->details[st->n_details++] = td_hist_uw_any(
                    w->a,
                    td_hist__pb(
                            w->a,
                            &temporal__api__failure__v1__multi_operation_execution_aborted__descriptor));
        }
        mf->statuses[i] = st;
    }
    td_rpc_fail(w->call, td_err_grpc_status(rc), "Update-with-Start could not be executed.",
                &mf->base);
}

/* The outcome that fails an accepted update whose workflow closed (Temporal's wording). */
static td_outcome_t *td_hist_uw_closed_outcome(td_arena_t *a)
{
    td_outcome_t *o = td_hist__pb(a, &temporal__api__update__v1__outcome__descriptor);
    Temporal__Api__Failure__V1__Failure *f =
            td_hist__pb(a, &temporal__api__failure__v1__failure__descriptor);
    Temporal__Api__Failure__V1__ApplicationFailureInfo *ai =
            td_hist__pb(a, &temporal__api__failure__v1__application_failure_info__descriptor);

    f->message = "Workflow Update failed because the Workflow completed before the Update "
                 "completed.";
    f->source = "Server";
    ai->type = "AcceptedUpdateCompletedWorkflow";
    ai->non_retryable = 1;
    f->failure_info_case =
            TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_APPLICATION_FAILURE_INFO;
    f->application_failure_info = ai;
    o->value_case = TEMPORAL__API__UPDATE__V1__OUTCOME__VALUE_FAILURE;
    o->failure = f;
    return o;
}

/* ---- the registry ---- */

static td_hist_update_t *td_hist_update_find(td_hist_ctx_t *ctx, const char *run_id,
                                             const char *update_id)
{
    for (td_hist_update_t *e = ctx->updates; e != NULL; e = e->next) {
        if (strcmp(e->update_id, update_id) == 0 && strcmp(e->run_id, run_id) == 0) {
            return e;
        }
    }
    return NULL;
}

static td_hist_update_t *td_hist_update_new(td_hist_ctx_t *ctx, const char *run_id,
                                            const char *update_id, int state)
{
    td_hist_update_t *e = td_calloc(1, sizeof(*e));
    td_hist_update_t **tail = &ctx->updates;

    e->run_id = td_strdup(run_id);
    e->update_id = td_strdup(update_id);
    e->state = state;
    while (*tail != NULL) {
        tail = &(*tail)->next; /* arrival order: requests are delivered in it */
    }
    *tail = e;
    return e;
}

/* Requests held for run_id (ADMITTED or SENT). */
static size_t td_hist_update_held(td_hist_ctx_t *ctx, const char *run_id)
{
    size_t n = 0;
    for (td_hist_update_t *e = ctx->updates; e != NULL; e = e->next) {
        n += e->state != TD_HU_ACCEPTED && strcmp(e->run_id, run_id) == 0;
    }
    return n;
}

static void td_hist_update_drop_request(td_hist_update_t *e)
{
    td_free(e->packed);
    e->packed = NULL;
    e->packed_len = 0;
}

/* Unlinks and frees e (its waiters must be gone). */
static void td_hist_update_free(td_hist_ctx_t *ctx, td_hist_update_t *e)
{
    for (td_hist_update_t **pp = &ctx->updates; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    td_hist_update_drop_request(e);
    td_free(e->run_id);
    td_free(e->update_id);
    td_free(e);
}

/* Takes w off its entry and stops its timer; an ACCEPTED entry nobody waits on is freed. */
static void td_hist_uw_unwait(td_hist_uw_t *w)
{
    td_hist_update_t *e = w->entry;

    if (e != NULL) {
        for (td_hist_uw_t **pp = &e->waiters; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == w) {
                *pp = w->next;
                break;
            }
        }
        w->entry = NULL;
        if (e->state == TD_HU_ACCEPTED && e->waiters == NULL) {
            td_hist_update_free(w->ctx, e);
        }
    }
    if (w->timer != NULL) {
        td_timer_free(w->timer);
        w->timer = NULL;
    }
}

static int td_hist_uw_stage_of(const td_hist_update_t *e)
{
    return e->state == TD_HU_ACCEPTED ? STAGE(ACCEPTED) : STAGE(ADMITTED);
}

static void td_hist_uw_timer(void *arg)
{
    td_hist_uw_t *w = arg;
    int stage = w->entry != NULL ? td_hist_uw_stage_of(w->entry) : STAGE(ADMITTED);
    int hard = w->hard;

    td_hist_uw_unwait(w);
    if (hard) {
        td_hist_uw_fail(w, TD_ETIMEDOUT, "context deadline exceeded");
    } else {
        td_hist_uw_reply(w, stage, NULL); /* the long poll expired: the stage reached so far */
    }
}

/* Parks w on e until its stage, its deadline or the long-poll interval. */
static void td_hist_uw_wait(td_hist_uw_t *w, td_hist_update_t *e)
{
    int64_t soft = w->h->long_poll_ms > 0 ? w->h->long_poll_ms : 20000;
    int64_t deadline = td_rpc_deadline(w->call);
    int64_t left = deadline > 0 ? deadline - td_now_mono_ms() : -1;

    w->entry = e;
    w->next = e->waiters;
    e->waiters = w;
    w->hard = deadline > 0 && left <= soft;
    w->timer = td_timer_new(w->h->loop, td_hist_uw_timer, w);
    td_timer_start(w->timer, w->hard ? (left > 0 ? left : 0) : soft);
}

/* Answers every waiter of e reaching `stage` (COMPLETED: all of them) with outcome. */
static void td_hist_update_wake(td_hist_update_t *e, int stage, const td_outcome_t *outcome)
{
    td_hist_uw_t *w = e->waiters, *keep = NULL;

    e->waiters = NULL;
    while (w != NULL) {
        td_hist_uw_t *next = w->next;
        if (stage == STAGE(COMPLETED) || w->stage <= stage) {
            w->entry = NULL;
            td_timer_free(w->timer);
            w->timer = NULL;
            td_hist_uw_reply(w, stage, outcome);
        } else {
            w->next = keep;
            keep = w;
        }
        w = next;
    }
    e->waiters = keep;
}

/* Fails every waiter of e with rc. */
static void td_hist_update_wake_error(td_hist_update_t *e, int rc, const char *msg)
{
    while (e->waiters != NULL) {
        td_hist_uw_t *w = e->waiters;
        e->waiters = w->next;
        w->entry = NULL;
        td_timer_free(w->timer);
        w->timer = NULL;
        td_hist_uw_fail(w, rc, msg);
    }
}

void td_hist__update_prepare(td_hist_ctx_t *ctx, const char *run_id, td_ms_txn_t *t)
{
    size_t n = td_hist_update_held(ctx, run_id), i = 0;
    td_ms_update_req_t *v;

    t->update_reqs = NULL;
    t->n_update_reqs = 0;
    t->updates_unsent = 0;
    if (n == 0) {
        return;
    }
    v = td_arena_alloc(t->arena, n * sizeof(*v));
    for (td_hist_update_t *e = ctx->updates; e != NULL; e = e->next) {
        if (e->state == TD_HU_ACCEPTED || strcmp(e->run_id, run_id) != 0) {
            continue;
        }
        v[i].update_id = td_arena_strdup(t->arena, e->update_id);
        v[i].request = temporal__api__update__v1__request__unpack(td_arena_pb(t->arena),
                                                                  e->packed_len, e->packed);
        if (v[i].request == NULL) {
            continue; /* packed by us: cannot happen */
        }
        t->updates_unsent += e->state == TD_HU_ADMITTED;
        i++;
    }
    t->update_reqs = v;
    t->n_update_reqs = i;
}

/* Whether effects after index i complete update id (accepted and completed in one task). */
static int td_hist_update_completes_later(const td_ms_txn_t *t, size_t i, const char *id)
{
    for (size_t j = i + 1; j < t->n_update_effects; j++) {
        if (t->update_effects[j].kind == TD_MS_UPDATE_COMPLETED &&
            strcmp(t->update_effects[j].update_id, id) == 0) {
            return 1;
        }
    }
    return 0;
}

void td_hist__update_completed(td_hist_ctx_t *ctx, const char *run_id, const td_ms_txn_t *t)
{
    td_arena_t *a = t->arena;
    const td_ms_t *ms = ctx->ms;
    int open = ms != NULL && strcmp(ms->run_id, run_id) == 0 && ms->state == TD_MS_STATE_RUNNING;

    for (size_t i = 0; i < t->n_update_effects; i++) {
        const td_ms_update_effect_t *ef = &t->update_effects[i];
        td_hist_update_t *e = td_hist_update_find(ctx, run_id, ef->update_id);
        td_outcome_t *o;

        if (e == NULL) {
            continue; /* nobody waits (e.g. accepted before a restart) */
        }
        switch (ef->kind) {
        case TD_MS_UPDATE_ACCEPTED:
            e->state = TD_HU_ACCEPTED;
            td_hist_update_drop_request(e);
            if (!td_hist_update_completes_later(t, i, ef->update_id)) {
                td_hist_update_wake(e, STAGE(ACCEPTED), NULL);
            }
            if (e->waiters == NULL) {
                td_hist_update_free(ctx, e);
            }
            break;
        case TD_MS_UPDATE_REJECTED:
            o = td_hist__pb(a, &temporal__api__update__v1__outcome__descriptor);
            o->value_case = TEMPORAL__API__UPDATE__V1__OUTCOME__VALUE_FAILURE;
            o->failure = (Temporal__Api__Failure__V1__Failure *)ef->failure;
            td_hist_update_wake(e, STAGE(COMPLETED), o);
            td_hist_update_free(ctx, e);
            break;
        case TD_MS_UPDATE_COMPLETED:
            td_hist_update_wake(e, STAGE(COMPLETED), ef->outcome);
            td_hist_update_free(ctx, e);
            break;
        }
    }
    if (!open) {
        return; /* the run closed: td_hist__update_sweep answers the rest */
    }
    /* Requests the task carried that the worker neither accepted nor rejected. */
    for (td_hist_update_t *e = ctx->updates, *next; e != NULL; e = next) {
        next = e->next;
        if (e->state == TD_HU_SENT && strcmp(e->run_id, run_id) == 0) {
            td_outcome_t *o = td_hist_uw_closed_outcome(a);
            o->failure->message = "Workflow Update is rejected because it wasn't processed by "
                                  "worker. Probably, Workflow Update is not supported by the "
                                  "worker.";
            o->failure->application_failure_info->type = "UnprocessedUpdate";
            td_log_debug("update %s was not processed by the worker: rejected", e->update_id);
            td_hist_update_wake(e, STAGE(COMPLETED), o);
            td_hist_update_free(ctx, e);
        }
    }
}

void td_hist__update_attach(td_hist_ctx_t *ctx, const char *run_id, int64_t started_id,
                            td_arena_t *a, td_hist_update_batch_t *batch)
{
    size_t n = td_hist_update_held(ctx, run_id), i = 0;

    batch->v = NULL;
    batch->n = 0;
    if (n == 0) {
        return;
    }
    batch->v = td_arena_alloc(a, n * sizeof(*batch->v));
    for (td_hist_update_t *e = ctx->updates; e != NULL; e = e->next) {
        Temporal__Api__Protocol__V1__Message *m;
        Google__Protobuf__Any *body;

        if (e->state == TD_HU_ACCEPTED || strcmp(e->run_id, run_id) != 0) {
            continue;
        }
        m = td_hist__pb(a, &temporal__api__protocol__v1__message__descriptor);
        body = td_hist__pb(a, &google__protobuf__any__descriptor);
        m->id = td_arena_printf(a, "%s/request", e->update_id);
        m->protocol_instance_id = td_arena_strdup(a, e->update_id);
        /* Sequenced right before the task's WorkflowTaskStarted event. */
        m->sequencing_id_case = TEMPORAL__API__PROTOCOL__V1__MESSAGE__SEQUENCING_ID_EVENT_ID;
        m->event_id = started_id - 1;
        body->type_url = ANY_PFX "temporal.api.update.v1.Request";
        body->value.data = td_arena_alloc(a, e->packed_len ? e->packed_len : 1);
        memcpy(body->value.data, e->packed, e->packed_len);
        body->value.len = e->packed_len;
        m->body = body;
        batch->v[i++] = m;
        e->state = TD_HU_SENT;
        td_log_debug("update %s delivered in a workflow task (started %lld)", e->update_id,
                     (long long)started_id);
    }
    batch->n = i;
}

void td_hist__update_set(Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse *resp,
                         const td_hist_update_batch_t *batch)
{
    if (resp != NULL && batch != NULL && batch->n > 0) {
        resp->messages = batch->v;
        resp->n_messages = batch->n;
    }
}

/* The run of e closed: its callers get the answer Temporal gives. `succeeded`: a newer run
 * of the workflow is running (continue-as-new, retry, cron, reset): a request the old run never
 * accepted is aborted with a retryable error, so that the caller's retry reaches the new run. */
static void td_hist_update_abort(td_hist_ctx_t *ctx, td_hist_update_t *e, td_arena_t *a,
                                 int succeeded)
{
    if (e->state == TD_HU_ACCEPTED) {
        td_hist_update_wake(e, STAGE(COMPLETED), td_hist_uw_closed_outcome(a));
    } else if (succeeded) {
        td_hist_update_wake_error(e, TD_EUNAVAIL, "Workflow Update was aborted.");
    } else {
        td_hist_update_wake_error(e, TD_ENOTFOUND, "workflow execution already completed");
    }
    td_hist_update_free(ctx, e);
}

/* Called while ctx->running: callbacks only reply, so the list stays consistent. */
void td_hist__update_sweep(td_hist_ctx_t *ctx)
{
    const td_ms_t *ms = ctx->ms;
    td_arena_t a;

    if (ms == NULL) {
        return;
    }
    td_arena_init(&a, 1024);
    for (td_hist_update_t *e = ctx->updates, *next; e != NULL; e = next) {
        int same = strcmp(e->run_id, ms->run_id) == 0;
        next = e->next;
        if ((same && ms->state == TD_MS_STATE_COMPLETED) || (!same && ctx->ms_current)) {
            td_log_debug("update %s aborted: its run closed", e->update_id);
            td_hist_update_abort(ctx, e, &a, !same && ms->state == TD_MS_STATE_RUNNING);
        }
    }
    td_arena_destroy(&a);
}

void td_hist__update_expire(td_hist_ctx_t *ctx)
{
    td_hist_update_t *e = ctx->updates;

    while (e != NULL) {
        td_hist_update_t *next = e->next;
        /* As the long poll's own expiry; an ACCEPTED entry goes with its last waiter. */
        while (e->waiters != NULL) {
            td_hist_uw_t *w = e->waiters;
            int stage = td_hist_uw_stage_of(e);
            int last = w->next == NULL;
            td_hist_uw_unwait(w);
            td_hist_uw_reply(w, stage, NULL);
            if (last) {
                break; /* e may be freed */
            }
        }
        e = next;
    }
}

void td_hist__update_free_all(td_hist_ctx_t *ctx)
{
    while (ctx->updates != NULL) {
        td_hist_update_t *e = ctx->updates;
        td_hist_update_wake_error(e, TD_EUNAVAIL, "history is shutting down");
        td_hist_update_free(ctx, e);
    }
}

/* ---- the callers: evaluate, wait ---- */

static void td_hist_uw_event(void *arg, int rc, const char *msg, td_ms_event_t **ev, size_t n,
                             int64_t next)
{
    td_hist_uw_t *w = arg;

    (void)next;
    if (rc != TD_OK) {
        td_hist_uw_fail(w, rc, msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (ev[i]->event_id == w->completed_id &&
            ev[i]->workflow_execution_update_completed_event_attributes != NULL) {
            td_hist_uw_reply(w, STAGE(COMPLETED),
                             ev[i]->workflow_execution_update_completed_event_attributes->outcome);
            return;
        }
    }
    td_hist_uw_fail(w, TD_EINTERNAL, "the update's completed event is missing from history");
}

/* After the look at the workflow: answer now, or wait on the registry. */
static void td_hist_uw_evaluate(td_hist_uw_t *w)
{
    td_hist_update_t *e;

    if (w->completed_id != 0) {
        td_hist__read_events(w->h, w->a, w->found_run, w->completed_id, w->completed_id + 1, 0,
                             td_hist_uw_event, w);
        return;
    }
    if (w->accepted_id != 0) {
        if (w->closed) {
            td_hist_uw_reply(w, STAGE(COMPLETED), td_hist_uw_closed_outcome(w->a));
            return;
        }
        if (w->stage <= STAGE(ACCEPTED)) {
            td_hist_uw_reply(w, STAGE(ACCEPTED), NULL);
            return;
        }
        e = td_hist_update_find(w->ctx, w->found_run, w->update_id);
        if (e == NULL) {
            e = td_hist_update_new(w->ctx, w->found_run, w->update_id, TD_HU_ACCEPTED);
        }
        td_hist_uw_wait(w, e);
        return;
    }
    e = td_hist_update_find(w->ctx, w->found_run, w->update_id);
    if (e == NULL) {
        /* Poll of an update that is not (or no longer) known, e.g. rejected. */
        td_hist_uw_fail(w, TD_ENOTFOUND,
                        td_arena_printf(w->a, "update %s not found", w->update_id));
        return;
    }
    if (w->stage <= STAGE(ADMITTED)) {
        td_hist_uw_reply(w, td_hist_uw_stage_of(e), NULL);
        return;
    }
    td_hist_uw_wait(w, e);
}

/* The update part of an apply, on the run `ms`. */
static int td_hist_uw_look(td_hist_uw_t *w, td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    const td_ms_update_t *u;

    w->found_run = td_arena_strdup(w->a, ms->run_id);
    w->closed = ms->state != TD_MS_STATE_RUNNING;
    u = td_ms_update_find(ms, w->update_id);
    if (u != NULL) {
        w->accepted_id = u->accepted_id;
        w->completed_id = u->completed_id;
        return TD_OK;
    }
    if (td_hist_update_find(op->ctx, ms->run_id, w->update_id) != NULL) {
        return TD_OK; /* the same update again */
    }
    if (w->kind == TD_HU_KIND_POLL) {
        if (w->closed) {
            t->msg = "workflow execution already completed";
            return TD_ENOTFOUND;
        }
        return TD_OK; /* td_hist_uw_evaluate answers NOT_FOUND */
    }
    if (w->closed) {
        t->msg = "workflow execution already completed";
        return TD_ENOTFOUND;
    }
    w->admit = 1;
    return td_ms_update_admit(ms, t, td_hist_update_held(op->ctx, ms->run_id));
}

static int td_hist_uw_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_uw_t *w = op->u2;
    const char *first = ms->first_execution_run_id != NULL && ms->first_execution_run_id[0]
                                ? ms->first_execution_run_id
                                : ms->run_id;

    op->dirty = 0;
    w->admit = 0;
    w->accepted_id = w->completed_id = 0;
    if (w->first_run_id != NULL && w->first_run_id[0] != '\0' &&
        strcmp(w->first_run_id, first) != 0) {
        t->msg = "workflow execution not found";
        return TD_ENOTFOUND;
    }
    return td_hist_uw_look(w, op, ms, t);
}

/* Update-with-start: the start decision, then the update on the run it leaves. */
static int td_hist_uw_multi_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_uw_t *w = op->u2;
    int rc;

    w->admit = 0;
    w->start_failed = 0;
    w->accepted_id = w->completed_id = 0;
    rc = td_hist__start_apply(op, ms, t);
    if (rc != TD_OK) {
        w->start_failed = 1;
        return rc;
    }
    if (op->created != NULL) {
        /* A new run: its first workflow task is scheduled and will carry the request. */
        w->found_run = td_arena_strdup(w->a, op->created->run_id);
        w->closed = 0;
        w->admit = 1;
        return TD_OK;
    }
    return td_hist_uw_look(w, op, ms, t);
}

static int td_hist_uw_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_uw_t *w = op->u2;

    if (rc == TD_EEXIST && w->kind == TD_HU_KIND_MULTI && op->runs < 1) {
        op->load = TD_HIST_LOAD_OPTIONAL; /* a current run appeared: decide again */
        return 1;
    }
    if (rc != TD_OK) {
        td_hist_uw_fail(w, rc, msg);
        return 0;
    }
    w->ctx = op->ctx;
    if (w->admit && td_hist_update_find(op->ctx, w->found_run, w->update_id) == NULL) {
        td_hist_update_t *e =
                td_hist_update_new(op->ctx, w->found_run, w->update_id, TD_HU_ADMITTED);
        e->packed_len = temporal__api__update__v1__request__get_packed_size(w->request);
        e->packed = td_malloc(e->packed_len ? e->packed_len : 1);
        temporal__api__update__v1__request__pack(w->request, e->packed);
        td_log_debug("update %s admitted for %s/%s", w->update_id, w->workflow_id, w->found_run);
    }
    if (w->cancelled) {
        td_rpc_fail_err(w->call, TD_ECANCELED, NULL);
        return 0;
    }
    td_hist_uw_evaluate(w);
    return 0;
}

static void td_hist_uw_cancel(void *arg)
{
    td_hist_uw_t *w = arg;

    w->cancelled = 1;
    if (w->entry != NULL || w->timer != NULL) {
        td_hist_uw_unwait(w);
        td_rpc_fail_err(w->call, TD_ECANCELED, NULL);
    }
}

static td_hist_uw_t *td_hist_uw_new(td_hist_t *h, td_rpc_call_t *call, int kind,
                                    const char *namespace_id)
{
    td_hist_uw_t *w = td_arena_calloc(td_rpc_arena(call), sizeof(*w));

    w->h = h;
    w->call = call;
    w->a = td_rpc_arena(call);
    w->kind = kind;
    w->namespace_id = namespace_id;
    return w;
}

static void td_hist_uw_submit(td_hist_uw_t *w, const char *run_id, int load, td_hist_apply_fn apply)
{
    td_hist_op_t *op = &w->op;

    op->ctx = td_hist__ctx_get(w->h, w->namespace_id, w->workflow_id);
    op->call = w->call;
    op->arena = w->a;
    op->run_id = run_id != NULL ? run_id : "";
    op->load = load;
    op->apply = apply;
    op->done = td_hist_uw_done;
    op->u2 = w;
    td_rpc_on_cancel(w->call, td_hist_uw_cancel, w);
    td_hist__op_submit(op);
}

static int td_hist_is_blank(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* ---- RPCs ---- */

static void td_hist_update(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__UpdateWorkflowExecutionRequest *in =
            (const void *)td_rpc_request(call);
    const Temporal__Api__Workflowservice__V1__UpdateWorkflowExecutionRequest *r = in->request;
    td_hist_uw_t *w;

    if (r == NULL || td_hist_is_blank(in->namespace_id) || r->workflow_execution == NULL ||
        td_hist_is_blank(r->workflow_execution->workflow_id) || r->request == NULL ||
        r->request->meta == NULL || td_hist_is_blank(r->request->meta->update_id)) {
        td_rpc_fail_err(call, TD_EINVAL,
                        "namespace_id, workflow_execution.workflow_id and request.meta.update_id "
                        "are required");
        return;
    }
    w = td_hist_uw_new(ctx, call, TD_HU_KIND_UPDATE, in->namespace_id);
    w->workflow_id = r->workflow_execution->workflow_id;
    w->run_id = r->workflow_execution->run_id;
    w->update_id = r->request->meta->update_id;
    w->first_run_id = r->first_execution_run_id;
    w->request = r->request;
    w->stage = r->wait_policy != NULL ? (int)r->wait_policy->lifecycle_stage : 0;
    td_hist_uw_submit(w, w->run_id, TD_HIST_LOAD_REQUIRED, td_hist_uw_apply);
}

static void td_hist_poll_update(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__PollWorkflowExecutionUpdateRequest *in =
            (const void *)td_rpc_request(call);
    const Temporal__Api__Workflowservice__V1__PollWorkflowExecutionUpdateRequest *r = in->request;
    td_hist_uw_t *w;

    if (r == NULL || td_hist_is_blank(in->namespace_id) || r->update_ref == NULL ||
        r->update_ref->workflow_execution == NULL ||
        td_hist_is_blank(r->update_ref->workflow_execution->workflow_id) ||
        td_hist_is_blank(r->update_ref->update_id)) {
        td_rpc_fail_err(call, TD_EINVAL,
                        "namespace_id, update_ref.workflow_execution.workflow_id and "
                        "update_ref.update_id are required");
        return;
    }
    w = td_hist_uw_new(ctx, call, TD_HU_KIND_POLL, in->namespace_id);
    w->workflow_id = r->update_ref->workflow_execution->workflow_id;
    w->run_id = r->update_ref->workflow_execution->run_id;
    w->update_id = r->update_ref->update_id;
    w->stage = r->wait_policy != NULL ? (int)r->wait_policy->lifecycle_stage : 0;
    td_hist_uw_submit(w, w->run_id, TD_HIST_LOAD_REQUIRED, td_hist_uw_apply);
}

static void td_hist_multi(td_rpc_call_t *call, void *ctx)
{
    const Temporald__Historyservice__ExecuteMultiOperationRequest *in =
            (const void *)td_rpc_request(call);
    const Temporal__Api__Workflowservice__V1__ExecuteMultiOperationRequest *r = in->request;
    const Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *s;
    const Temporal__Api__Workflowservice__V1__UpdateWorkflowExecutionRequest *u;
    td_hist_uw_t *w;

    if (r == NULL || td_hist_is_blank(in->namespace_id) || r->n_operations != 2 ||
        r->operations[0]->operation_case !=
                TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_REQUEST__OPERATION__OPERATION_START_WORKFLOW ||
        r->operations[1]->operation_case !=
                TEMPORAL__API__WORKFLOWSERVICE__V1__EXECUTE_MULTI_OPERATION_REQUEST__OPERATION__OPERATION_UPDATE_WORKFLOW) {
        td_rpc_fail_err(call, TD_EINVAL, "operations must be [start_workflow, update_workflow]");
        return;
    }
    s = r->operations[0]->start_workflow;
    u = r->operations[1]->update_workflow;
    if (s == NULL || u == NULL || td_hist_is_blank(s->workflow_id) || u->request == NULL ||
        u->request->meta == NULL || td_hist_is_blank(u->request->meta->update_id)) {
        td_rpc_fail_err(call, TD_EINVAL, "start_workflow.workflow_id and update id are required");
        return;
    }
    w = td_hist_uw_new(ctx, call, TD_HU_KIND_MULTI, in->namespace_id);
    w->workflow_id = s->workflow_id;
    w->update_id = u->request->meta->update_id;
    w->request = u->request;
    w->stage = u->wait_policy != NULL ? (int)u->wait_policy->lifecycle_stage : 0;
    w->start.req = s;
    w->start.namespace_id = in->namespace_id;
    w->op.u = &w->start;
    td_hist_uw_submit(w, "", TD_HIST_LOAD_OPTIONAL, td_hist_uw_multi_apply);
}

#define HS(x) temporald__historyservice__##x##__descriptor

int td_hist__register_update(td_hist_t *h)
{
    const td_rpc_method_t m[] = {
        { TD_SVC_HISTORY "UpdateWorkflowExecution", &HS(update_workflow_execution_request),
          td_hist_update, h },
        { TD_SVC_HISTORY "PollWorkflowExecutionUpdate", &HS(poll_workflow_execution_update_request),
          td_hist_poll_update, h },
        { TD_SVC_HISTORY "ExecuteMultiOperation", &HS(execute_multi_operation_request),
          td_hist_multi, h },
    };
    return td_svc_register_all(h->srv, m, (int)(sizeof(m) / sizeof(m[0])));
}
