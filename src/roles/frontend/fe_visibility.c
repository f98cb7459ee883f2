/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The visibility API of WorkflowService: ListWorkflowExecutions, ScanWorkflowExecutions (the
 * same listing), CountWorkflowExecutions (with GROUP BY ExecutionStatus),
 * ListOpenWorkflowExecutions and ListClosedWorkflowExecutions (their typed filters turned into
 * a query). Each compiles its query with fe_query.c against the namespace's custom search
 * attributes, asks the store (TD_STORE_OP_VIS_LIST / VIS_COUNT) and turns the records into
 * WorkflowExecutionInfo messages, search attribute payloads carrying their "type" metadata.
 * It does not write visibility records (the history role does). Loop thread only; registered
 * through the route table td_fe__visibility_routes.
 *
 * Design notes: one call. The call stays valid until it is ended, even when the caller
 * cancels it, so the store callbacks may always end it; nothing else holds the context.
 *
 *     RESOLVED --submit--> QUERYING --last store callback--> ENDED
 *         |                                    (a grouped count waits for all its requests)
 *         +--bad query / no store--> ENDED
 *
 *   FROM     -> TO        [function]
 *   RESOLVED -> QUERYING  [td_fv_submit]
 *   RESOLVED -> ENDED     [td_fv_list_start, td_fv_count: td_rpc_fail]
 *   QUERYING -> ENDED     [td_fv_listed, td_fv_counted]
 */
#define TD_LOG_COMPONENT "frontend"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "roles/frontend/fe_int.h"
#include "roles/frontend/fe_query.h"
#include "roles/frontend/frontend.h"
#include "roles/nsreg.h"
#include "store/store.h"
#include "temporal/api/workflow/v1/message.pb-c.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

/* frontend.visibilityMaxPageSize: the page size used when none (or a larger one) is asked. */
#define TD_FV_MAX_PAGE 1000
/* The field numbers of the typed filters in ListOpen/ListClosed's oneof (filters_case). */
#define TD_FV_EXEC_FILTER   5
#define TD_FV_TYPE_FILTER   6
#define TD_FV_STATUS_FILTER 7
/* Statuses counted by GROUP BY ExecutionStatus (RUNNING .. TIMED_OUT). */
#define TD_FV_STATUSES 7

typedef Temporal__Api__Workflow__V1__WorkflowExecutionInfo td_fv_info_t;
typedef Temporal__Api__Common__V1__Payload td_fv_payload_t;
typedef Temporal__Api__Common__V1__Payload__MetadataEntry td_fv_meta_t;
typedef Temporal__Api__Workflowservice__V1__CountWorkflowExecutionsResponse td_fv_count_resp_t;
typedef Temporal__Api__Workflowservice__V1__CountWorkflowExecutionsResponse__AggregationGroup
        td_fv_group_t;

/* The four list responses share one layout: base, executions, next_page_token. */
typedef struct {
    ProtobufCMessage base;
    size_t n_executions;
    td_fv_info_t **executions;
    ProtobufCBinaryData next_page_token;
} td_fv_list_resp_t;

#define TD_FV_SAME_LAYOUT(T)                                                                     \
    _Static_assert(offsetof(T, n_executions) == offsetof(td_fv_list_resp_t, n_executions) &&     \
                           offsetof(T, executions) == offsetof(td_fv_list_resp_t, executions) && \
                           offsetof(T, next_page_token) ==                                       \
                                   offsetof(td_fv_list_resp_t, next_page_token),                 \
                   #T " layout")
TD_FV_SAME_LAYOUT(Temporal__Api__Workflowservice__V1__ListWorkflowExecutionsResponse);
TD_FV_SAME_LAYOUT(Temporal__Api__Workflowservice__V1__ScanWorkflowExecutionsResponse);
TD_FV_SAME_LAYOUT(Temporal__Api__Workflowservice__V1__ListOpenWorkflowExecutionsResponse);
TD_FV_SAME_LAYOUT(Temporal__Api__Workflowservice__V1__ListClosedWorkflowExecutionsResponse);

typedef struct {
    td_rpc_call_t *call;
    td_server_t *srv;
    char *ns_id;
    const ProtobufCMessageDescriptor *resp; /* list calls */
    int grouped;                            /* count calls */
    int pending;
    int rc;
    const char *err;
    int64_t counts[TD_FV_STATUSES + 1];
} td_fv_ctx_t;

/* One store request of a count: which status it counts (0 = all). */
typedef struct {
    td_fv_ctx_t *x;
    int status;
} td_fv_slot_t;

/* ---- search attribute types ---- */

static int td_fv_custom_type(const void *arg, const char *name)
{
    const td_ns_record_t *rec = arg;
    int type = 0;

    for (size_t i = 0; rec != NULL && i < rec->n_custom_search_attributes && type == 0; i++) {
        if (strcmp(rec->custom_search_attributes[i]->key, name) == 0) {
            type = (int)rec->custom_search_attributes[i]->value;
        }
    }
    return type;
}

/* The type of a search attribute in a record: a custom one of the namespace, or a system one
 * that SDKs upsert. 0 when unknown. */
static int td_fv_sa_type(const td_ns_t *ns, const char *name)
{
    int type = ns != NULL ? td_fv_custom_type(ns->rec, name) : 0;

    if (type == 0 && (strcmp(name, "TemporalChangeVersion") == 0 || strcmp(name, "BuildIds") == 0 ||
                      strcmp(name, "BinaryChecksums") == 0)) {
        type = TD_STORE_SA_KEYWORD_LIST;
    }
    return type;
}

/* ---- records -> WorkflowExecutionInfo ---- */

static Google__Protobuf__Timestamp *td_fv_ts(td_arena_t *a, int64_t ns)
{
    Google__Protobuf__Timestamp *t = td_arena_alloc(a, sizeof(*t));

    google__protobuf__timestamp__init(t);
    t->seconds = ns / 1000000000;
    t->nanos = (int32_t)(ns % 1000000000);
    if (t->nanos < 0) {
        t->nanos += 1000000000;
        t->seconds--;
    }
    return t;
}

static td_fv_meta_t *td_fv_meta(td_arena_t *a, const char *key, const char *value)
{
    td_fv_meta_t *m = td_arena_alloc(a, sizeof(*m));

    temporal__api__common__v1__payload__metadata_entry__init(m);
    m->key = td_arena_strdup(a, key);
    m->value.data = (uint8_t *)td_arena_strdup(a, value);
    m->value.len = strlen(value);
    return m;
}

/* Adds metadata "type" to every payload that lacks it and whose type is known. */
static void td_fv_type_payloads(td_arena_t *a, const td_ns_t *ns,
                                Temporal__Api__Common__V1__SearchAttributes *sa)
{
    for (size_t i = 0; i < sa->n_indexed_fields; i++) {
        td_fv_payload_t *p = sa->indexed_fields[i]->value;
        const char *tname;
        td_fv_meta_t **md;
        int has_type = 0;

        if (p == NULL || sa->indexed_fields[i]->key == NULL) {
            continue;
        }
        for (size_t k = 0; k < p->n_metadata; k++) {
            has_type |= p->metadata[k]->key != NULL && strcmp(p->metadata[k]->key, "type") == 0;
        }
        tname = td_sa_type_name(td_fv_sa_type(ns, sa->indexed_fields[i]->key));
        if (has_type || tname == NULL) {
            continue;
        }
        md = td_arena_alloc(a, sizeof(*md) * (p->n_metadata + 1));
        if (p->n_metadata > 0) {
            memcpy(md, p->metadata, sizeof(*md) * p->n_metadata);
        }
        md[p->n_metadata] = td_fv_meta(a, "type", tname);
        p->metadata = md;
        p->n_metadata++;
    }
}

static Temporal__Api__Common__V1__WorkflowExecution *td_fv_exec(td_arena_t *a, const char *wid,
                                                                const char *rid)
{
    Temporal__Api__Common__V1__WorkflowExecution *ex = td_arena_alloc(a, sizeof(*ex));

    temporal__api__common__v1__workflow_execution__init(ex);
    ex->workflow_id = (char *)wid;
    ex->run_id = (char *)(rid != NULL ? rid : "");
    return ex;
}

static td_fv_info_t *td_fv_info(td_arena_t *a, const td_ns_t *ns, const td_store_visibility_t *v)
{
    td_fv_info_t *e = td_arena_alloc(a, sizeof(*e));
    Temporal__Api__Common__V1__WorkflowExecution *ex = td_arena_alloc(a, sizeof(*ex));
    Temporal__Api__Common__V1__WorkflowType *wt = td_arena_alloc(a, sizeof(*wt));

    temporal__api__workflow__v1__workflow_execution_info__init(e);
    temporal__api__common__v1__workflow_execution__init(ex);
    temporal__api__common__v1__workflow_type__init(wt);
    ex->workflow_id = (char *)(v->workflow_id != NULL ? v->workflow_id : "");
    ex->run_id = (char *)(v->run_id != NULL ? v->run_id : "");
    wt->name = (char *)(v->workflow_type != NULL ? v->workflow_type : "");
    e->execution = ex;
    e->type = wt;
    e->start_time = td_fv_ts(a, v->start_time_ns);
    e->execution_time = td_fv_ts(a, v->execution_time_ns);
    if (v->close_time_ns != 0) {
        e->close_time = td_fv_ts(a, v->close_time_ns);
        if (v->close_time_ns >= v->execution_time_ns) {
            Google__Protobuf__Duration *d = td_arena_alloc(a, sizeof(*d));
            int64_t ns_ = v->close_time_ns - v->execution_time_ns;
            google__protobuf__duration__init(d);
            d->seconds = ns_ / 1000000000;
            d->nanos = (int32_t)(ns_ % 1000000000);
            e->execution_duration = d;
        }
    }
    e->status = (Temporal__Api__Enums__V1__WorkflowExecutionStatus)v->status;
    e->history_length = v->history_length;
    e->history_size_bytes = v->history_size_bytes;
    e->first_run_id = (char *)(v->first_run_id != NULL ? v->first_run_id : "");
    e->state_transition_count = v->state_transition_count;
    e->task_queue = (char *)(v->task_queue != NULL ? v->task_queue : "");
    if (v->parent_workflow_id != NULL && v->parent_workflow_id[0] != '\0') {
        /* children run in their parent's namespace */
        e->parent_namespace_id = (char *)(v->namespace_id != NULL ? v->namespace_id : "");
        e->parent_execution = td_fv_exec(a, v->parent_workflow_id, v->parent_run_id);
    }
    if (v->root_workflow_id != NULL && v->root_workflow_id[0] != '\0') {
        e->root_execution = td_fv_exec(a, v->root_workflow_id, v->root_run_id);
    }
    if (v->memo.len > 0) {
        e->memo = (void *)protobuf_c_message_unpack(&temporal__api__common__v1__memo__descriptor,
                                                    td_arena_pb(a), v->memo.len, v->memo.data);
        if (e->memo == NULL) {
            td_log_warn("visibility record of run %s: memo does not decode", ex->run_id);
        }
    }
    if (v->search_attributes.len > 0) {
        e->search_attributes = (void *)protobuf_c_message_unpack(
                &temporal__api__common__v1__search_attributes__descriptor, td_arena_pb(a),
                v->search_attributes.len, v->search_attributes.data);
        if (e->search_attributes == NULL) {
            td_log_warn("visibility record of run %s: search attributes do not decode", ex->run_id);
        } else {
            td_fv_type_payloads(a, ns, e->search_attributes);
        }
    }
    return e;
}

/* ---- the calls ---- */

static td_fv_ctx_t *td_fv_ctx(td_rpc_call_t *call, td_server_t *srv, const td_ns_t *ns)
{
    td_fv_ctx_t *x = td_arena_calloc(td_rpc_arena(call), sizeof(*x));

    x->call = call;
    x->srv = srv;
    x->ns_id = td_arena_strdup(td_rpc_arena(call), ns->id);
    return x;
}

/* Compiles query for ns; on failure ends the call with INVALID_ARGUMENT and returns an error. */
static int td_fv_compile(td_rpc_call_t *call, const td_ns_t *ns, const char *query,
                         td_fe_query_t *out)
{
    const char *err = NULL;
    int rc = td_fe_query_compile(query, td_fv_custom_type, ns->rec, td_rpc_arena(call), out, &err);

    if (rc != TD_OK) {
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT, err, NULL);
    }
    return rc;
}

static void td_fv_submit(td_fv_ctx_t *x, td_store_op_t op, const td_fe_query_t *q, int page_size,
                         const ProtobufCBinaryData *token, td_store_cb cb, void *arg)
{
    td_store_req_t *req = td_store_req_new(op);
    td_arena_t *a = td_rpc_arena(x->call);

    req->in.vis_query.namespace_id = x->ns_id;
    req->in.vis_query.filter = q->filter;
    req->in.vis_query.order = q->order;
    if (op == TD_STORE_OP_VIS_LIST && q->n_sort > 0) {
        /* the call's arena outlives the request; q does not */
        td_store_vsort_t *sort = td_arena_alloc(a, sizeof(*sort) * (size_t)q->n_sort);
        memcpy(sort, q->sort, sizeof(*sort) * (size_t)q->n_sort);
        req->in.vis_query.sort = sort;
        req->in.vis_query.n_sort = q->n_sort;
    }
    req->in.vis_query.page_size = page_size;
    if (token != NULL) {
        req->in.vis_query.token.data = token->data;
        req->in.vis_query.token.len = token->len;
    }
    req->cb = cb;
    req->arg = arg;
    x->pending++;
    td_store_submit(x->srv->store, req);
}

/* Ends a call whose store request failed: a bad page token is the caller's error. */
static void td_fv_fail_store(td_rpc_call_t *call, int rc, const char *err)
{
    if (rc == TD_EINVAL) {
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT,
                    td_arena_printf(td_rpc_arena(call), "invalid visibility request: %s", err),
                    NULL);
    } else {
        td_rpc_fail_err(call, rc, err);
    }
}

static void td_fv_listed(td_store_req_t *req, void *arg)
{
    td_fv_ctx_t *x = arg;
    td_arena_t *a = td_rpc_arena(x->call);
    const td_store_vis_list_out_t *o = &req->out.vis_list;
    const td_ns_t *ns = x->srv->nsreg != NULL ? td_nsreg_by_id(x->srv->nsreg, x->ns_id) : NULL;
    td_fv_list_resp_t *resp;

    if (req->rc != TD_OK) {
        td_fv_fail_store(x->call, req->rc, req->err);
        goto out;
    }
    resp = (void *)td_fe__new_msg(x->call, x->resp);
    resp->executions = td_arena_alloc(a, sizeof(*resp->executions) * (size_t)(o->n_recs + 1));
    for (int i = 0; i < o->n_recs; i++) {
        resp->executions[resp->n_executions++] = td_fv_info(a, ns, &o->recs[i]);
    }
    if (o->next_token.len > 0) {
        resp->next_page_token.data = td_arena_memdup(a, o->next_token.data, o->next_token.len);
        resp->next_page_token.len = o->next_token.len;
    }
    td_rpc_reply(x->call, &resp->base); /* packs at once, while req's records are alive */
out:
    td_store_req_free(req);
}

/* The common start of every listing: the namespace is resolved; query is ours (typed
 * filters) or the caller's. Ends the call on any error. */
static void td_fv_list_start(td_rpc_call_t *call, td_server_t *srv, const td_ns_t *ns,
                             const char *query, int32_t page_size, const ProtobufCBinaryData *token,
                             const ProtobufCMessageDescriptor *d)
{
    td_fe_query_t q;
    td_fv_ctx_t *x;

    if (srv->store == NULL) {
        td_rpc_fail(call, TD_GRPC_UNAVAILABLE, "this process has no visibility store", NULL);
        goto out;
    }
    if (td_fv_compile(call, ns, query, &q) != TD_OK) {
        goto out; /* ended */
    }
    if (q.group_by_status) {
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT,
                    "invalid query: GROUP BY is only supported by CountWorkflowExecutions", NULL);
        goto out;
    }
    x = td_fv_ctx(call, srv, ns);
    x->resp = d;
    td_fv_submit(x, TD_STORE_OP_VIS_LIST, &q,
                 page_size <= 0 || page_size > TD_FV_MAX_PAGE ? TD_FV_MAX_PAGE : page_size, token,
                 td_fv_listed, x);
out:
    return;
}

static void td_fv_list(td_rpc_call_t *call, void *ctx)
{
    const Temporal__Api__Workflowservice__V1__ListWorkflowExecutionsRequest *r =
            (const void *)td_rpc_request(call);
    const td_ns_t *ns = td_fe__ns_resolve(call, ctx, r->namespace_);

    if (ns != NULL) {
        td_fv_list_start(
                call, ctx, ns, r->query, r->page_size, &r->next_page_token,
                &temporal__api__workflowservice__v1__list_workflow_executions_response__descriptor);
    }
}

static void td_fv_scan(td_rpc_call_t *call, void *ctx)
{
    const Temporal__Api__Workflowservice__V1__ScanWorkflowExecutionsRequest *r =
            (const void *)td_rpc_request(call);
    const td_ns_t *ns = td_fe__ns_resolve(call, ctx, r->namespace_);

    if (ns != NULL) {
        td_fv_list_start(
                call, ctx, ns, r->query, r->page_size, &r->next_page_token,
                &temporal__api__workflowservice__v1__scan_workflow_executions_response__descriptor);
    }
}

/* Appends " AND name = 'value'" with the value quoted for the query language. */
static char *td_fv_and_str(td_arena_t *a, const char *q, const char *name, const char *value)
{
    size_t n = strlen(value);
    char *quoted = td_arena_alloc(a, n * 2 + 1), *o = quoted;

    for (size_t i = 0; i < n; i++) {
        if (value[i] == '\'' || value[i] == '\\') {
            *o++ = '\\';
        }
        *o++ = value[i];
    }
    *o = '\0';
    return td_arena_printf(a, "%s AND %s = '%s'", q, name, quoted);
}

static int64_t td_fv_ts_ns(const Google__Protobuf__Timestamp *t)
{
    return t == NULL ? 0 : t->seconds * 1000000000 + t->nanos;
}

/* The query of ListOpen/ListClosedWorkflowExecutions' typed filters; NULL after ending the
 * call on a bad filter. Open runs are filtered on their start time, closed ones on their close
 * time (as Temporal's SQL visibility does). */
static const char *td_fv_typed_query(td_rpc_call_t *call, int closed,
                                     const Temporal__Api__Filter__V1__StartTimeFilter *tf,
                                     const Temporal__Api__Filter__V1__WorkflowExecutionFilter *ef,
                                     const Temporal__Api__Filter__V1__WorkflowTypeFilter *yf,
                                     const Temporal__Api__Filter__V1__StatusFilter *sf)
{
    td_arena_t *a = td_rpc_arena(call);
    int64_t earliest = tf != NULL ? td_fv_ts_ns(tf->earliest_time) : 0;
    int64_t latest =
            tf != NULL && tf->latest_time != NULL ? td_fv_ts_ns(tf->latest_time) : INT64_MAX;
    const char *q = NULL;

    if (earliest > latest) {
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT,
                    "EarliestTime in StartTimeFilter should not be larger than LatestTime", NULL);
        goto out;
    }
    q = td_arena_printf(a, "%s AND %s BETWEEN %lld AND %lld",
                        closed ? "ExecutionStatus != 'Running'" : "ExecutionStatus = 'Running'",
                        closed ? "CloseTime" : "StartTime", (long long)earliest, (long long)latest);
    if (ef != NULL) {
        if (ef->workflow_id == NULL || ef->workflow_id[0] == '\0') {
            td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT, "WorkflowId is not set on request.", NULL);
            q = NULL;
            goto out;
        }
        q = td_fv_and_str(a, q, "WorkflowId", ef->workflow_id);
        if (ef->run_id != NULL && ef->run_id[0] != '\0') {
            q = td_fv_and_str(a, q, "RunId", ef->run_id);
        }
    }
    if (yf != NULL) {
        q = td_fv_and_str(a, q, "WorkflowType", yf->name != NULL ? yf->name : "");
    }
    if (sf != NULL &&
        (sf->status == 0 ||
         sf->status ==
                 TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_RUNNING)) {
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT,
                    "StatusFilter must name a closed status (not Running or unspecified).", NULL);
        q = NULL;
        goto out;
    }
    if (sf != NULL) {
        q = td_arena_printf(a, "%s AND ExecutionStatus = %d", q, (int)sf->status);
    }
out:
    return q;
}

static void td_fv_list_open(td_rpc_call_t *call, void *ctx)
{
    const Temporal__Api__Workflowservice__V1__ListOpenWorkflowExecutionsRequest *r =
            (const void *)td_rpc_request(call);
    const td_ns_t *ns = td_fe__ns_resolve(call, ctx, r->namespace_);
    const char *q;

    if (ns == NULL) {
        goto out; /* ended */
    }
    /* execution_filter and type_filter share a oneof (a union): filters_case says which */
    q = td_fv_typed_query(call, 0, r->start_time_filter,
                          r->filters_case == TD_FV_EXEC_FILTER ? r->execution_filter : NULL,
                          r->filters_case == TD_FV_TYPE_FILTER ? r->type_filter : NULL, NULL);
    if (q != NULL) {
        td_fv_list_start(
                call, ctx, ns, q, r->maximum_page_size, &r->next_page_token,
                &temporal__api__workflowservice__v1__list_open_workflow_executions_response__descriptor);
    }
out:
    return;
}

static void td_fv_list_closed(td_rpc_call_t *call, void *ctx)
{
    const Temporal__Api__Workflowservice__V1__ListClosedWorkflowExecutionsRequest *r =
            (const void *)td_rpc_request(call);
    const td_ns_t *ns = td_fe__ns_resolve(call, ctx, r->namespace_);
    const char *q;

    if (ns == NULL) {
        goto out; /* ended */
    }
    /* the typed filters share a oneof (a union): filters_case says which */
    q = td_fv_typed_query(call, 1, r->start_time_filter,
                          r->filters_case == TD_FV_EXEC_FILTER ? r->execution_filter : NULL,
                          r->filters_case == TD_FV_TYPE_FILTER ? r->type_filter : NULL,
                          r->filters_case == TD_FV_STATUS_FILTER ? r->status_filter : NULL);
    if (q != NULL) {
        td_fv_list_start(
                call, ctx, ns, q, r->maximum_page_size, &r->next_page_token,
                &temporal__api__workflowservice__v1__list_closed_workflow_executions_response__descriptor);
    }
out:
    return;
}

/* A Keyword payload (json/plain) of a string. */
static td_fv_payload_t *td_fv_keyword(td_arena_t *a, const char *s)
{
    td_fv_payload_t *p = td_arena_alloc(a, sizeof(*p));
    td_fv_meta_t **md = td_arena_alloc(a, sizeof(*md) * 2);
    char *json = td_arena_printf(a, "\"%s\"", s); /* status names need no escaping */

    temporal__api__common__v1__payload__init(p);
    md[0] = td_fv_meta(a, "encoding", "json/plain");
    md[1] = td_fv_meta(a, "type", "Keyword");
    p->metadata = md;
    p->n_metadata = 2;
    p->data.data = (uint8_t *)json;
    p->data.len = strlen(json);
    return p;
}

static void td_fv_counted(td_store_req_t *req, void *arg)
{
    const td_fv_slot_t *slot = arg;
    td_fv_ctx_t *x = slot->x;
    td_arena_t *a = td_rpc_arena(x->call);
    td_fv_count_resp_t *resp;

    x->pending--;
    if (req->rc != TD_OK && x->rc == TD_OK) {
        x->rc = req->rc;
        x->err = td_arena_strdup(a, req->err);
    }
    if (req->rc == TD_OK) {
        x->counts[slot->status] += req->out.vis_count;
    }
    td_store_req_free(req);
    if (x->pending > 0) {
        goto out;
    }
    if (x->rc != TD_OK) {
        td_fv_fail_store(x->call, x->rc, x->err);
        goto out;
    }
    resp = (void *)td_fe__new_msg(
            x->call,
            &temporal__api__workflowservice__v1__count_workflow_executions_response__descriptor);
    resp->groups = td_arena_alloc(a, sizeof(*resp->groups) * (TD_FV_STATUSES + 1));
    for (int s = 0; s <= TD_FV_STATUSES; s++) {
        resp->count += x->counts[s];
        if (x->grouped && s > 0 && x->counts[s] > 0) {
            td_fv_group_t *g = td_arena_alloc(a, sizeof(*g));
            temporal__api__workflowservice__v1__count_workflow_executions_response__aggregation_group__init(
                    g);
            g->group_values = td_arena_alloc(a, sizeof(*g->group_values));
            g->group_values[0] = td_fv_keyword(a, td_fe_query_status_name(s));
            g->n_group_values = 1;
            g->count = x->counts[s];
            resp->groups[resp->n_groups++] = g;
        }
    }
    td_rpc_reply(x->call, &resp->base);
out:
    return;
}

static void td_fv_count(td_rpc_call_t *call, void *ctx)
{
    td_server_t *srv = ctx;
    td_arena_t *a = td_rpc_arena(call);
    const Temporal__Api__Workflowservice__V1__CountWorkflowExecutionsRequest *r =
            (const void *)td_rpc_request(call);
    const td_ns_t *ns = td_fe__ns_resolve(call, srv, r->namespace_);
    td_fe_query_t q;
    td_fv_ctx_t *x;

    if (ns == NULL) {
        goto out; /* ended */
    }
    if (srv->store == NULL) {
        td_rpc_fail(call, TD_GRPC_UNAVAILABLE, "this process has no visibility store", NULL);
        goto out;
    }
    if (td_fv_compile(call, ns, r->query, &q) != TD_OK) {
        goto out; /* ended */
    }
    x = td_fv_ctx(call, srv, ns);
    x->grouped = q.group_by_status;
    if (!x->grouped) {
        td_fv_slot_t *slot = td_arena_calloc(a, sizeof(*slot));
        slot->x = x;
        q.n_sort = 0;
        td_fv_submit(x, TD_STORE_OP_VIS_COUNT, &q, 0, NULL, td_fv_counted, slot);
        goto out;
    }
    /* One count per status, all in flight at once; the last callback answers. Every request
     * is counted in pending before the first is submitted, so no callback sees zero early
     * (they never run synchronously anyway). */
    x->pending = TD_FV_STATUSES;
    for (int s = 1; s <= TD_FV_STATUSES; s++) {
        td_store_vfilter_t *f = td_arena_calloc(a, sizeof(*f));
        td_store_vfilter_t *st = td_arena_calloc(a, sizeof(*st));
        const td_store_vfilter_t **args = td_arena_alloc(a, sizeof(*args) * 2);
        td_store_req_t *req = td_store_req_new(TD_STORE_OP_VIS_COUNT);
        td_fv_slot_t *slot = td_arena_calloc(a, sizeof(*slot));
        slot->x = x;
        slot->status = s;
        st->kind = TD_STORE_VF_CMP;
        st->field = "ExecutionStatus";
        st->op = TD_STORE_VF_EQ;
        st->value.type = TD_STORE_SA_INT;
        st->value.i = s;
        f->kind = TD_STORE_VF_AND;
        f->n_args = 0;
        if (q.filter != NULL) {
            args[f->n_args++] = q.filter;
        }
        args[f->n_args++] = st;
        f->args = args;
        req->in.vis_query.namespace_id = x->ns_id;
        req->in.vis_query.filter = f;
        req->cb = td_fv_counted;
        req->arg = slot;
        td_store_submit(srv->store, req);
    }
out:
    return;
}

#define TD_FV_ROUTE(Name, snake, fn)                                                             \
    {                                                                                            \
        TD_WORKFLOW_SERVICE #Name,                                                               \
                &temporal__api__workflowservice__v1__##snake##_request__descriptor,              \
                &temporal__api__workflowservice__v1__##snake##_response__descriptor, NULL, NULL, \
                NULL, NULL, 0, NULL, fn                                                          \
    }

const td_fe_route_t td_fe__visibility_routes[] = {
    TD_FV_ROUTE(ListWorkflowExecutions, list_workflow_executions, td_fv_list),
    TD_FV_ROUTE(ScanWorkflowExecutions, scan_workflow_executions, td_fv_scan),
    TD_FV_ROUTE(CountWorkflowExecutions, count_workflow_executions, td_fv_count),
    TD_FV_ROUTE(ListOpenWorkflowExecutions, list_open_workflow_executions, td_fv_list_open),
    TD_FV_ROUTE(ListClosedWorkflowExecutions, list_closed_workflow_executions, td_fv_list_closed),
};
const int td_fe__visibility_routes_n = (int)TD_ARRAY_LEN(td_fe__visibility_routes);
