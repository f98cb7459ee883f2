/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workflow updates in the mutable state: admission checks (the run is open, its workflow task
 * is not failing, the in-flight and total limits) with the workflow task that will carry the
 * request, the worker's protocol messages in a workflow task completion (Acceptance,
 * Rejection, Response, ordered among the commands by PROTOCOL_MESSAGE commands), and the
 * durable record of accepted updates. Admitted requests themselves are not here: the service
 * keeps them in memory (hist_update.c) and hands them to td_ms_wft_complete; a restart loses
 * them, as in Temporal. Pure functions, as the rest of ms_*.c.
 *
 * Design notes
 * ============
 *
 * An update, as the mutable state sees it (td_ms_update_t, keyed by update id)
 *
 *   Invariants: an entry exists exactly when a WorkflowExecutionUpdateAccepted event for its
 *   id is in history; completed_id != 0 exactly when its WorkflowExecutionUpdateCompleted
 *   event is too (after the accepted one). Entries are never removed: a repeated request for a
 *   completed update is answered from its completed event, even after the run closed.
 *   Rejections write no event and leave no entry.
 *
 *                  Acceptance message               Response message
 *     (admitted) -------------------> ACCEPTED ----------------------> COMPLETED
 *         |  Rejection message
 *         +--------------------> (no entry; the caller gets the rejection)
 *
 *   FROM      -> TO         [function]
 *   admitted  -> ACCEPTED   [td_ms_wft_complete -> td_ms__update_message (Acceptance)]
 *   admitted  -> rejected   [td_ms_wft_complete -> td_ms__update_message (Rejection)]
 *   ACCEPTED  -> COMPLETED  [td_ms_wft_complete -> td_ms__update_message (Response)]
 *
 * Messages are processed in the order of the PROTOCOL_MESSAGE commands that name them, among
 * the other commands (so the events interleave as the workflow produced them), then the
 * messages no command named, in the order the worker sent them (rejections normally). A
 * malformed message, an Acceptance or Rejection for a request the service does not hold, or a
 * Response for an update that is not accepted fail the workflow task with
 * BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE. After a close command, Acceptance and Response
 * messages are dropped (no event may follow the close event): the service fails their callers.
 */
#include "ms_int.h"

#include <string.h>

#include "error.h"
#include "mem.h"

#define TD_MS_UPDATE_TYPE_PREFIX "type.googleapis.com/"

td_ms_update_t *td_ms_update_find(const td_ms_t *ms, const char *update_id)
{
    for (size_t i = 0; i < ms->n_updates; i++) {
        if (strcmp(ms->updates[i].update_id, update_id) == 0) {
            return &ms->updates[i];
        }
    }
    return NULL;
}

size_t td_ms_update_inflight(const td_ms_t *ms)
{
    size_t n = 0;
    for (size_t i = 0; i < ms->n_updates; i++) {
        n += ms->updates[i].completed_id == 0;
    }
    return n;
}

int td_ms_update_admit(td_ms_t *ms, td_ms_txn_t *t, size_t held)
{
    int rc = td_ms__check_open(ms, t);

    if (rc != TD_OK) {
        return rc;
    }
    if (ms->wft.scheduled_id != 0 && ms->wft.attempt >= 3) {
        return td_ms__fail(t, TD_EPRECOND,
                           "Unable to perform workflow execution update due to Workflow Task in "
                           "failed state.");
    }
    if (held + td_ms_update_inflight(ms) >= TD_MS_UPDATE_MAX_INFLIGHT) {
        t->msg = td_arena_printf(
                t->arena, "limit on number of concurrent in-flight updates has been reached (%d)",
                TD_MS_UPDATE_MAX_INFLIGHT);
        return TD_ELIMIT;
    }
    if (held + ms->n_updates >= TD_MS_UPDATE_MAX_TOTAL) {
        t->msg = td_arena_printf(t->arena, "limit on number of total updates has been reached (%d)",
                                 TD_MS_UPDATE_MAX_TOTAL);
        return TD_EPRECOND;
    }
    /* A normal workflow task (Temporal would use a speculative one): it carries the request
     * when it starts. A task already scheduled or started is enough (a started one schedules
     * the next at its completion: td_ms_txn_t.updates_unsent). */
    td_ms__wft_need(ms, t);
    return TD_OK;
}

/* ---- persisted form ---- */

void td_ms__update_free_all(td_ms_t *ms)
{
    for (size_t i = 0; i < ms->n_updates; i++) {
        td_free(ms->updates[i].update_id);
    }
    td_free(ms->updates);
    ms->updates = NULL;
    ms->n_updates = 0;
}

static td_ms_update_t *td_ms_update_add(td_ms_t *ms, const char *update_id)
{
    td_ms_update_t *u;

    ms->updates = td_realloc(ms->updates, (ms->n_updates + 1) * sizeof(*ms->updates));
    u = &ms->updates[ms->n_updates++];
    memset(u, 0, sizeof(*u));
    u->update_id = td_ms__strdup(update_id);
    return u;
}

void td_ms__update_encode(const td_ms_t *ms, td_arena_t *a, Temporald__History__MutableState *m)
{
    m->n_updates = ms->n_updates;
    m->updates = td_arena_alloc(a, (ms->n_updates + 1) * sizeof(*m->updates));
    for (size_t i = 0; i < ms->n_updates; i++) {
        Temporald__History__UpdateInfo *p =
                td_ms__pb_new(a, &temporald__history__update_info__descriptor);
        p->update_id = (char *)td_ms__astr(a, ms->updates[i].update_id);
        p->accepted_event_id = ms->updates[i].accepted_id;
        p->completed_event_id = ms->updates[i].completed_id;
        m->updates[i] = p;
    }
}

void td_ms__update_decode(td_ms_t *ms, const Temporald__History__MutableState *m)
{
    for (size_t i = 0; i < m->n_updates; i++) {
        td_ms_update_t *u = td_ms_update_add(ms, m->updates[i]->update_id);
        u->accepted_id = m->updates[i]->accepted_event_id;
        u->completed_id = m->updates[i]->completed_event_id;
    }
}

int td_ms__update_replay(td_ms_t *ms, td_ms_txn_t *t, const td_ms_event_t *e)
{
    const char *id = NULL;
    td_ms_update_t *u;

    if (e->workflow_execution_update_accepted_event_attributes != NULL &&
        e->event_type == TD_MS_ET(WORKFLOW_EXECUTION_UPDATE_ACCEPTED)) {
        id = e->workflow_execution_update_accepted_event_attributes->protocol_instance_id;
        if (id != NULL && id[0] != '\0' && td_ms_update_find(ms, id) == NULL) {
            td_ms_update_add(ms, id)->accepted_id = e->event_id;
            return TD_OK;
        }
    } else if (e->workflow_execution_update_completed_event_attributes != NULL &&
               e->event_type == TD_MS_ET(WORKFLOW_EXECUTION_UPDATE_COMPLETED)) {
        const Temporal__Api__Update__V1__Meta *m =
                e->workflow_execution_update_completed_event_attributes->meta;
        id = m != NULL ? m->update_id : NULL;
        u = id != NULL ? td_ms_update_find(ms, id) : NULL;
        if (u != NULL && u->completed_id == 0) {
            u->completed_id = e->event_id;
            return TD_OK;
        }
    }
    t->msg = td_arena_printf(t->arena, "update event %lld does not match the updates before it",
                             (long long)e->event_id);
    return TD_EINVAL;
}

/* ---- protocol messages in a workflow task completion ---- */

typedef Temporal__Api__Protocol__V1__Message td_ms_msg_t;

static int td_ms_update_bad(td_ms_txn_t *t, const char *msg)
{
    t->cause = TD_MS_CAUSE(BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE);
    return td_ms__fail(t, TD_EINVAL, msg);
}

static void td_ms_update_effect(td_ms_txn_t *t, td_ms_update_effect_kind_t kind, const char *id,
                                int64_t event_id, const Temporal__Api__Failure__V1__Failure *f,
                                const Temporal__Api__Update__V1__Outcome *outcome)
{
    td_ms_update_effect_t *e;

    if (t->n_update_effects == t->cap_update_effects) {
        size_t cap = t->cap_update_effects ? 2 * t->cap_update_effects : 8;
        td_ms_update_effect_t *v = td_arena_alloc(t->arena, cap * sizeof(*v));
        if (t->n_update_effects > 0) {
            memcpy(v, t->update_effects, t->n_update_effects * sizeof(*v));
        }
        t->update_effects = v;
        t->cap_update_effects = cap;
    }
    e = &t->update_effects[t->n_update_effects++];
    e->kind = kind;
    e->update_id = td_ms__astr(t->arena, id);
    e->event_id = event_id;
    e->failure = f;
    e->outcome = outcome;
}

static const td_ms_update_req_t *td_ms_update_req(const td_ms_txn_t *t, const char *id)
{
    for (size_t i = 0; i < t->n_update_reqs; i++) {
        if (strcmp(t->update_reqs[i].update_id, id) == 0) {
            return &t->update_reqs[i];
        }
    }
    return NULL;
}

/* The body's message name ("temporal.api.update.v1.Acceptance"), or "" . */
static const char *td_ms_msg_type(const td_ms_msg_t *m)
{
    const char *url = m->body != NULL && m->body->type_url != NULL ? m->body->type_url : "";
    const char *slash = strrchr(url, '/');
    return slash != NULL ? slash + 1 : url;
}

static int td_ms_update_accept(td_ms_t *ms, td_ms_txn_t *t, const td_ms_msg_t *m, const char *id)
{
    const td_ms_update_req_t *r = td_ms_update_req(t, id);
    Temporal__Api__Update__V1__Acceptance *acc = temporal__api__update__v1__acceptance__unpack(
            td_arena_pb(t->arena), m->body->value.len, m->body->value.data);
    Temporal__Api__History__V1__WorkflowExecutionUpdateAcceptedEventAttributes *a;
    td_ms_event_t *e;
    td_ms_update_t *u;

    if (acc == NULL) {
        return td_ms_update_bad(t, "update Acceptance message does not parse");
    }
    if (td_ms_update_find(ms, id) != NULL) {
        return td_ms_update_bad(
                t, td_arena_printf(t->arena,
                                   "invalid state transition attempted for Update %s: received "
                                   "Acceptance message while in state Accepted",
                                   id));
    }
    if (r == NULL) {
        return td_ms_update_bad(
                t, td_arena_printf(t->arena, "update %s is not known to the server", id));
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, WORKFLOW_EXECUTION_UPDATE_ACCEPTED, workflow_execution_update_accepted);
    a->protocol_instance_id = (char *)td_ms__astr(t->arena, id);
    a->accepted_request_message_id = td_arena_printf(t->arena, "%s/request", id);
    a->accepted_request_sequencing_event_id = acc->accepted_request_sequencing_event_id;
    a->accepted_request = (Temporal__Api__Update__V1__Request *)r->request;
    u = td_ms_update_add(ms, id);
    u->accepted_id = td_ms__event_commit(ms, t, e, 0);
    td_ms_update_effect(t, TD_MS_UPDATE_ACCEPTED, id, u->accepted_id, NULL, NULL);
    return TD_OK;
}

static int td_ms_update_reject(td_ms_t *ms, td_ms_txn_t *t, const td_ms_msg_t *m, const char *id)
{
    Temporal__Api__Update__V1__Rejection *rej = temporal__api__update__v1__rejection__unpack(
            td_arena_pb(t->arena), m->body->value.len, m->body->value.data);

    if (rej == NULL || rej->failure == NULL) {
        return td_ms_update_bad(t, "update Rejection message has no failure");
    }
    if (td_ms_update_find(ms, id) != NULL) {
        return td_ms_update_bad(
                t, td_arena_printf(t->arena,
                                   "invalid state transition attempted for Update %s: received "
                                   "Rejection message while in state Accepted",
                                   id));
    }
    if (td_ms_update_req(t, id) == NULL) {
        return td_ms_update_bad(
                t, td_arena_printf(t->arena, "update %s is not known to the server", id));
    }
    td_ms_update_effect(t, TD_MS_UPDATE_REJECTED, id, 0, rej->failure, NULL);
    return TD_OK;
}

static int td_ms_update_respond(td_ms_t *ms, td_ms_txn_t *t, const td_ms_msg_t *m, const char *id)
{
    Temporal__Api__Update__V1__Response *resp = temporal__api__update__v1__response__unpack(
            td_arena_pb(t->arena), m->body->value.len, m->body->value.data);
    td_ms_update_t *u = td_ms_update_find(ms, id);
    Temporal__Api__History__V1__WorkflowExecutionUpdateCompletedEventAttributes *a;
    td_ms_event_t *e;

    if (resp == NULL || resp->outcome == NULL ||
        resp->outcome->value_case == TEMPORAL__API__UPDATE__V1__OUTCOME__VALUE__NOT_SET) {
        return td_ms_update_bad(t, "update Response message has no outcome");
    }
    if (u == NULL || u->completed_id != 0) {
        return td_ms_update_bad(
                t, td_arena_printf(t->arena,
                                   "invalid state transition attempted for Update %s: received "
                                   "Response message while in state %s",
                                   id, u == NULL ? "Admitted" : "Completed"));
    }
    if (resp->meta == NULL) {
        resp->meta = td_ms__pb_new(t->arena, &temporal__api__update__v1__meta__descriptor);
    }
    if (resp->meta->update_id == NULL || resp->meta->update_id[0] == '\0') {
        resp->meta->update_id = (char *)td_ms__astr(t->arena, id);
    }
    e = td_ms__event_new(t);
    a = TD_MS_EV(e, t, WORKFLOW_EXECUTION_UPDATE_COMPLETED, workflow_execution_update_completed);
    a->meta = resp->meta;
    a->accepted_event_id = u->accepted_id;
    a->outcome = resp->outcome;
    u->completed_id = td_ms__event_commit(ms, t, e, 0);
    td_ms_update_effect(t, TD_MS_UPDATE_COMPLETED, id, u->completed_id, NULL, resp->outcome);
    return TD_OK;
}

/* Processes message i of the completion (once). */
static int td_ms_update_one(td_ms_t *ms, td_ms_txn_t *t, const td_ms_msg_t *m, int closed)
{
    const char *type = td_ms_msg_type(m);
    const char *id = m->protocol_instance_id;

    if (id == NULL || id[0] == '\0' || m->body == NULL) {
        return td_ms_update_bad(t, "protocol message without protocol_instance_id or body");
    }
    if (strcmp(type, "temporal.api.update.v1.Rejection") == 0) {
        return td_ms_update_reject(ms, t, m, id);
    }
    if (strcmp(type, "temporal.api.update.v1.Acceptance") != 0 &&
        strcmp(type, "temporal.api.update.v1.Response") != 0) {
        return td_ms_update_bad(
                t, td_arena_printf(t->arena, "protocol message type %s is not supported", type));
    }
    if (closed) {
        return TD_OK; /* no event after the close event: the service fails the caller */
    }
    if (strcmp(type, "temporal.api.update.v1.Acceptance") == 0) {
        return td_ms_update_accept(ms, t, m, id);
    }
    return td_ms_update_respond(ms, t, m, id);
}

int td_ms__cmd_protocol_message(
        td_ms_t *ms, td_ms_txn_t *t, const td_ms_cmd_t *c,
        const Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req,
        unsigned char *done)
{
    const char *mid = c->protocol_message_command_attributes != NULL
                              ? c->protocol_message_command_attributes->message_id
                              : NULL;

    if (mid == NULL || mid[0] == '\0') {
        return td_ms_update_bad(t, "ProtocolMessageCommandAttributes.message_id is not set");
    }
    for (size_t i = 0; i < req->n_messages; i++) {
        if (req->messages[i] != NULL && req->messages[i]->id != NULL &&
            strcmp(req->messages[i]->id, mid) == 0) {
            if (done[i]) {
                return td_ms_update_bad(
                        t, td_arena_printf(t->arena, "protocol message %s named twice", mid));
            }
            done[i] = 1;
            return td_ms_update_one(ms, t, req->messages[i], 0);
        }
    }
    return td_ms_update_bad(
            t, td_arena_printf(t->arena, "ProtocolMessageCommand referenced absent message ID %s",
                               mid));
}

int td_ms__update_messages(
        td_ms_t *ms, td_ms_txn_t *t,
        const Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest *req,
        unsigned char *done, int closed)
{
    int rc = TD_OK;

    for (size_t i = 0; i < req->n_messages && rc == TD_OK; i++) {
        if (!done[i] && req->messages[i] != NULL) {
            done[i] = 1;
            rc = td_ms_update_one(ms, t, req->messages[i], closed);
        }
    }
    return rc;
}
