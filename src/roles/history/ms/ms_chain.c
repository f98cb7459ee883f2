/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Run chains: how a run closes into a new run of the same workflow id (continue-as-new,
 * workflow retry, cron) and how that new run is built (td_ms_start_next), plus child runs
 * (td_ms_start_child) and the workflow retry decision. The rules and the wiring contract are
 * in ms.h ("Run chains"). Pure functions over the state; callers: ms_wft.c, ms_exec.c, the
 * history service and the unit tests.
 */
#include "ms_int.h"

#include <math.h>
#include <string.h>

#include "error.h"
#include "mem.h"

typedef Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest start_req_t;
typedef Temporal__Api__History__V1__WorkflowExecutionStartedEventAttributes started_attrs_t;

#define TIMEOUT_TYPE_PREFIX "TemporalTimeout:"

int td_ms_start_child(td_ms_txn_t *t, const start_req_t *req, const char *namespace_id,
                      const char *run_id, const td_ms_parent_t *parent, td_ms_t **out)
{
    td_ms_start_opts_t o = { .schedule = 1, .parent = parent };
    return td_ms__start(t, req, namespace_id, run_id, &o, out);
}

static int type_listed(const td_ms_retry_policy_t *p, const char *type)
{
    for (size_t i = 0; type && i < p->n_non_retryable_error_types; i++) {
        if (strcmp(type, p->non_retryable_error_types[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int td_ms__failure_retryable(const td_ms_retry_policy_t *p,
                             const Temporal__Api__Failure__V1__Failure *f)
{
    if (f == NULL) {
        return 1;
    }
    switch (f->failure_info_case) {
    case TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_TERMINATED_FAILURE_INFO:
    case TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_CANCELED_FAILURE_INFO:
        return 0;
    case TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_TIMEOUT_FAILURE_INFO: {
        int tt = f->timeout_failure_info ? f->timeout_failure_info->timeout_type : 0;
        if (tt == TD_MS_TO(START_TO_CLOSE)) {
            return !type_listed(p, TIMEOUT_TYPE_PREFIX "StartToClose");
        }
        if (tt == TD_MS_TO(HEARTBEAT)) {
            return !type_listed(p, TIMEOUT_TYPE_PREFIX "Heartbeat");
        }
        return 0;
    }
    case TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_SERVER_FAILURE_INFO:
        return !(f->server_failure_info && f->server_failure_info->non_retryable);
    case TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_APPLICATION_FAILURE_INFO:
        if (f->application_failure_info == NULL) {
            return 1;
        }
        return !f->application_failure_info->non_retryable &&
               !type_listed(p, f->application_failure_info->type);
    default:
        return 1;
    }
}

int td_ms_retry_backoff(const td_ms_t *ms, const Temporal__Api__Failure__V1__Failure *failure,
                        int64_t now, int64_t *backoff)
{
    const td_ms_retry_policy_t *p = &ms->retry_policy;
    int64_t initial = p->initial_interval > 0 ? p->initial_interval : TD_MS_SECOND;
    double coeff = p->backoff_coefficient >= 1 ? p->backoff_coefficient : 2.0;
    int64_t max = p->maximum_interval > 0 ? p->maximum_interval : 100 * initial;
    int32_t attempt = ms->attempt > 0 ? ms->attempt : 1;
    int64_t delay = 0;
    double d;

    *backoff = 0;
    if (!ms->has_retry_policy) {
        return TD_MS_RS(RETRY_POLICY_NOT_SET);
    }
    if (!td_ms__failure_retryable(p, failure)) {
        return TD_MS_RS(NON_RETRYABLE_FAILURE);
    }
    if (p->maximum_attempts > 0 && attempt >= p->maximum_attempts) {
        return TD_MS_RS(MAXIMUM_ATTEMPTS_REACHED);
    }
    if (failure != NULL &&
        failure->failure_info_case ==
                TEMPORAL__API__FAILURE__V1__FAILURE__FAILURE_INFO_APPLICATION_FAILURE_INFO &&
        failure->application_failure_info != NULL &&
        td_ms__dur_ns(failure->application_failure_info->next_retry_delay) > 0) {
        delay = td_ms__dur_ns(failure->application_failure_info->next_retry_delay);
    } else {
        d = (double)initial * pow(coeff, attempt - 1);
        delay = d >= (double)max ? max : (int64_t)d;
    }
    if (ms->execution_expiration > 0 && now + delay > ms->execution_expiration) {
        return TD_MS_RS(TIMEOUT);
    }
    *backoff = delay;
    return TD_MS_RS(IN_PROGRESS);
}

int64_t td_ms__chain_backoff(const td_ms_t *ms, int64_t now, int64_t backoff)
{
    /* lifetime counts from the first workflow task's time (start + its backoff) */
    int64_t lifetime = now - (ms->start_time + ms->first_workflow_task_backoff);

    if (backoff < 0) {
        backoff = 0;
    }
    if (lifetime < 0) {
        lifetime = 0;
    }
    if (lifetime + backoff < TD_MS_CHAIN_MIN_INTERVAL) {
        backoff = TD_MS_CHAIN_MIN_INTERVAL - lifetime;
    }
    return backoff;
}

void td_ms__close_with(td_ms_t *ms, td_ms_txn_t *t, td_ms_event_t *e, int status,
                       const Temporal__Api__Failure__V1__Failure *failure,
                       const Temporal__Api__Common__V1__Payloads *result)
{
    int chain = t->new_run_id != NULL && t->new_run_id[0] != '\0';
    int retry_state = 0, initiator = 0;
    int64_t backoff = 0;
    const char *new_run = NULL;
    const started_attrs_t *sa;

    if (status == TD_MS_WS(FAILED) || status == TD_MS_WS(TIMED_OUT)) {
        int expired = ms->execution_expiration > 0 && t->now >= ms->execution_expiration;
        retry_state =
                expired ? TD_MS_RS(TIMEOUT) : td_ms_retry_backoff(ms, failure, t->now, &backoff);
        if (retry_state == TD_MS_RS(IN_PROGRESS) && chain) {
            initiator = TD_MS_INIT(RETRY);
        }
        if (!chain) {
            /* Without follow-up runs: what this module reported before retries existed. */
            retry_state =
                    status == TD_MS_WS(FAILED) ? TD_MS_RS(RETRY_POLICY_NOT_SET) : TD_MS_RS(TIMEOUT);
        } else if (expired) {
            chain = 0;
        }
    }
    if (chain && initiator == 0 && status != TD_MS_WS(CANCELED) && ms->cron_schedule != NULL &&
        ms->cron_schedule[0] != '\0') {
        backoff = td_ms_cron_backoff(ms->cron_schedule,
                                     ms->start_time + ms->first_workflow_task_backoff, t->now);
        if (backoff >= 0) {
            initiator = TD_MS_INIT(CRON_SCHEDULE);
        }
    }
    if (initiator != 0) {
        new_run = td_ms__astr(t->arena, t->new_run_id);
        memset(&t->next, 0, sizeof(t->next));
        t->next.initiator = initiator;
        t->next.run_id = new_run;
        t->next.backoff = td_ms__chain_backoff(ms, t->now, backoff);
        t->next.continued_failure = failure;
        if (initiator == TD_MS_INIT(CRON_SCHEDULE)) {
            t->next.last_completion_result = result;
            if (status != TD_MS_WS(COMPLETED)) {
                /* After a failure the next run still sees the last successful result. */
                sa = td_ms__blob_get(
                        &ms->start_attrs,
                        &temporal__api__history__v1__workflow_execution_started_event_attributes__descriptor,
                        t->arena);
                t->next.last_completion_result = sa ? sa->last_completion_result : NULL;
            }
        }
    }
    switch (e->event_type) {
    case TD_MS_ET(WORKFLOW_EXECUTION_COMPLETED):
        e->workflow_execution_completed_event_attributes->new_execution_run_id = (char *)new_run;
        break;
    case TD_MS_ET(WORKFLOW_EXECUTION_FAILED):
        e->workflow_execution_failed_event_attributes->retry_state = retry_state;
        e->workflow_execution_failed_event_attributes->new_execution_run_id = (char *)new_run;
        break;
    case TD_MS_ET(WORKFLOW_EXECUTION_TIMED_OUT):
        e->workflow_execution_timed_out_event_attributes->retry_state = retry_state;
        e->workflow_execution_timed_out_event_attributes->new_execution_run_id = (char *)new_run;
        break;
    default:
        break;
    }
    td_ms__close(ms, t, status, td_ms__event_commit(ms, t, e, 0));
}

/* ---- the new run ---- */

static Temporal__Api__Common__V1__WorkflowType *wtype(td_arena_t *a, const char *name)
{
    Temporal__Api__Common__V1__WorkflowType *w =
            td_ms__pb_new(a, &temporal__api__common__v1__workflow_type__descriptor);
    w->name = (char *)td_ms__astr(a, name);
    return w;
}

static Temporal__Api__Taskqueue__V1__TaskQueue *tqueue(td_arena_t *a, const char *name)
{
    Temporal__Api__Taskqueue__V1__TaskQueue *q =
            td_ms__pb_new(a, &temporal__api__taskqueue__v1__task_queue__descriptor);
    q->name = (char *)td_ms__astr(a, name);
    q->kind = TD_MS_TQ_NORMAL;
    return q;
}

static int nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

int td_ms_start_next(const td_ms_t *prev, const td_ms_next_run_t *next, td_ms_txn_t *t,
                     td_ms_t **out)
{
    td_arena_t *a = t->arena;
    start_req_t *req = td_ms__pb_new(
            a, &temporal__api__workflowservice__v1__start_workflow_execution_request__descriptor);
    td_ms_start_opts_t o = { .schedule = 1 };
    td_ms_parent_t parent = { 0 };

    *out = NULL;
    if (next == NULL || next->initiator == 0 || !nonempty(next->run_id)) {
        return td_ms__fail(t, TD_EINVAL, "no new run to start");
    }
    req->workflow_id = prev->workflow_id;
    req->request_id = (char *)next->run_id;
    req->workflow_execution_timeout = td_ms__dur(a, prev->execution_timeout);
    if (next->can != NULL) {
        const Temporal__Api__Command__V1__ContinueAsNewWorkflowExecutionCommandAttributes *c =
                next->can;
        int64_t task = td_ms__dur_ns(c->workflow_task_timeout);
        req->workflow_type = wtype(a, (c->workflow_type && nonempty(c->workflow_type->name))
                                              ? c->workflow_type->name
                                              : prev->workflow_type);
        req->task_queue =
                tqueue(a, (c->task_queue && nonempty(c->task_queue->name)) ? c->task_queue->name
                                                                           : prev->task_queue);
        req->input = c->input;
        req->header = c->header;
        req->workflow_run_timeout = c->workflow_run_timeout;
        req->workflow_task_timeout =
                task > 0 ? c->workflow_task_timeout : td_ms__dur(a, prev->task_timeout);
        req->retry_policy = c->retry_policy;
        req->cron_schedule = c->cron_schedule;
        req->memo = c->memo;
        req->search_attributes = c->search_attributes;
    } else {
        const started_attrs_t *sa = td_ms__blob_get(
                &prev->start_attrs,
                &temporal__api__history__v1__workflow_execution_started_event_attributes__descriptor,
                a);
        req->workflow_type = wtype(a, prev->workflow_type);
        req->task_queue = tqueue(a, prev->task_queue);
        req->workflow_run_timeout = td_ms__dur(a, prev->run_timeout);
        req->workflow_task_timeout = td_ms__dur(a, prev->task_timeout);
        req->cron_schedule = prev->cron_schedule;
        if (prev->has_retry_policy) {
            req->retry_policy = td_ms__retry_pb(a, &prev->retry_policy);
        }
        if (sa != NULL) {
            req->input = sa->input;
            req->header = sa->header;
            req->memo = sa->memo;
            req->search_attributes = sa->search_attributes;
            req->priority = sa->priority;
        }
    }
    o.initiator = next->initiator;
    o.continued_run_id = prev->run_id;
    o.first_run_id = prev->first_execution_run_id;
    o.attempt = next->initiator == TD_MS_INIT(RETRY) ? prev->attempt + 1 : 1;
    o.has_backoff = 1;
    o.backoff = next->backoff > 0 ? next->backoff : 0;
    o.execution_expiration = prev->execution_expiration;
    o.last_completion_result = next->last_completion_result;
    o.continued_failure = next->continued_failure;
    if (nonempty(prev->parent_workflow_id)) {
        parent.namespace_name = prev->parent_namespace;
        parent.namespace_id = prev->parent_namespace_id;
        parent.workflow_id = prev->parent_workflow_id;
        parent.run_id = prev->parent_run_id;
        parent.initiated_id = prev->parent_initiated_id;
        parent.root_workflow_id = prev->root_workflow_id;
        parent.root_run_id = prev->root_run_id;
        o.parent = &parent;
    }
    return td_ms__start(t, req, prev->namespace_id, next->run_id, &o, out);
}
