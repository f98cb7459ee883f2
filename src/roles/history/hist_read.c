/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The read side of the history service: reading event batches back from the store, building
 * the workflow-task poll response (history from event 1, or from previous_started_event_id + 1
 * for a sticky delivery, plus the transient attempt's events), GetWorkflowExecutionHistory
 * (pages with an opaque token; wait_new_event long polls woken by commits; the CLOSE_EVENT
 * filter used by the SDK's result()), its reverse form, DescribeWorkflowExecution and
 * QueryWorkflow (buffered in hist_query.c while a workflow task is in flight, else a legacy
 * query task prepared here and handed to matching). Reads
 * never write; they go through the workflow's context only to see a consistent state. Loop
 * thread only; handlers are registered by hist_api.c.
 */
#define TD_LOG_COMPONENT "history"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "historyservice.pb-c.h"
#include "log.h"
#include "matchingservice.pb-c.h"
#include "mem.h"
#include "roles/history/hist_int.h"
#include "roles/svc.h"
#include "server.h"
#include "temporal/api/enums/v1/workflow.pb-c.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"
#include "temporal/api/sdk/v1/user_metadata.pb-c.h"
#include "temporal/api/workflow/v1/message.pb-c.h"

#define TD_HIST_PAGE_DEFAULT 256

typedef Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse td_poll_wft_resp_t;

/* ---- helpers ---- */

void *td_hist__pb(td_arena_t *a, const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = td_arena_calloc(a, d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

Google__Protobuf__Timestamp *td_hist__ts(td_arena_t *a, int64_t ns)
{
    Google__Protobuf__Timestamp *t;

    if (ns == 0) {
        return NULL;
    }
    t = td_hist__pb(a, &google__protobuf__timestamp__descriptor);
    t->seconds = ns / 1000000000;
    t->nanos = (int32_t)(ns % 1000000000);
    return t;
}

Google__Protobuf__Duration *td_hist__dur(td_arena_t *a, int64_t ns)
{
    Google__Protobuf__Duration *d = td_hist__pb(a, &google__protobuf__duration__descriptor);
    d->seconds = ns / 1000000000;
    d->nanos = (int32_t)(ns % 1000000000);
    return d;
}

void *td_hist__unblob(td_arena_t *a, const uint8_t *data, size_t len,
                      const ProtobufCMessageDescriptor *d)
{
    if (data == NULL || len == 0) {
        return NULL;
    }
    return protobuf_c_message_unpack(d, td_arena_pb(a), len, data);
}

/* ---- reading events ---- */

typedef struct {
    td_hist_t *h;
    td_arena_t *a;
    int64_t min, max;
    int page;
    td_hist_events_cb cb;
    void *arg;
} td_hist_rd_t;

static void td_hist_read_done(td_store_req_t *req, void *arg)
{
    td_hist_rd_t *rd = arg;
    td_ms_event_t **ev = NULL;
    size_t n = 0, cap = 0;
    int64_t next_min = 0, last = 0;
    int rc = req->rc;
    const char *msg = NULL;

    rd->h->inflight--;
    if (rc != TD_OK) {
        msg = td_arena_strdup(rd->a, req->err ? req->err : "");
        rc = TD_EUNAVAIL;
    }
    for (int i = 0; rc == TD_OK && i < req->out.hist_read.n_batches; i++) {
        const td_store_history_batch_t *b = &req->out.hist_read.batches[i];
        Temporal__Api__History__V1__History *hist =
                td_hist__unblob(rd->a, b->events.data, b->events.len,
                                &temporal__api__history__v1__history__descriptor);
        if (hist == NULL) {
            rc = TD_EINTERNAL;
            msg = "a stored history batch does not decode";
            break;
        }
        for (size_t j = 0; j < hist->n_events; j++) {
            td_ms_event_t *e = hist->events[j];
            if (e->event_id < rd->min || (rd->max > 0 && e->event_id >= rd->max)) {
                continue;
            }
            if (n == cap) {
                td_ms_event_t **nv;
                cap = cap ? cap * 2 : 64;
                nv = td_arena_alloc(rd->a, cap * sizeof(*nv));
                if (n > 0) {
                    memcpy(nv, ev, n * sizeof(*nv));
                }
                ev = nv;
            }
            ev[n++] = e;
            last = e->event_id;
        }
    }
    if (rc == TD_OK && req->out.hist_read.next_token.len > 0 && last > 0) {
        next_min = last + 1;
    }
    td_store_req_free(req);
    rd->cb(rd->arg, rc, msg, ev, n, next_min);
    td_free(rd);
}

void td_hist__read_events(td_hist_t *h, td_arena_t *a, const char *run_id, int64_t min, int64_t max,
                          int page_events, td_hist_events_cb cb, void *arg)
{
    td_hist_rd_t *rd;
    td_store_req_t *req;
    td_ms_event_t **ev = NULL;
    size_t n = 0;
    int64_t next_min = 0;

    if (td_hist__evc_read(h, a, run_id, min, max, page_events, &ev, &n, &next_min)) {
        cb(arg, TD_OK, NULL, ev, n, next_min);
        return;
    }
    rd = td_calloc(1, sizeof(*rd));
    req = td_store_req_new(TD_STORE_OP_HISTORY_READ);

    rd->h = h;
    rd->a = a;
    rd->min = min;
    rd->max = max;
    rd->page = page_events;
    rd->cb = cb;
    rd->arg = arg;
    req->in.hist_read.tree_id = req->in.hist_read.branch_id = td_arena_strdup(&req->arena, run_id);
    req->in.hist_read.min_event_id = min;
    req->in.hist_read.max_event_id = max;
    req->in.hist_read.page_size = page_events;
    req->cb = td_hist_read_done;
    req->arg = rd;
    h->inflight++;
    td_store_submit(h->store, req);
}

/* ---- the workflow-task poll response ---- */

typedef struct {
    td_arena_t *a;
    td_poll_wft_resp_t *resp;
    td_ms_event_t **transient;
    size_t n_transient;
    td_hist_poll_cb cb;
    void *arg;
} td_hist_wftb_t;

static void td_hist_wft_events(void *arg, int rc, const char *msg, td_ms_event_t **ev, size_t n,
                               int64_t next)
{
    td_hist_wftb_t *b = arg;
    Temporal__Api__History__V1__History *hist;

    (void)next;
    if (rc != TD_OK) {
        b->cb(b->arg, rc, msg, NULL);
        return;
    }
    hist = td_hist__pb(b->a, &temporal__api__history__v1__history__descriptor);
    hist->n_events = n + b->n_transient;
    hist->events =
            td_arena_alloc(b->a, (hist->n_events ? hist->n_events : 1) * sizeof(*hist->events));
    if (n > 0) {
        memcpy(hist->events, ev, n * sizeof(*ev));
    }
    for (size_t i = 0; i < b->n_transient; i++) {
        hist->events[n + i] = b->transient[i];
    }
    b->resp->history = hist;
    b->cb(b->arg, TD_OK, NULL, b->resp);
}

/* The history straight from the events cache's packed batches (plus the transient events),
 * never decoded here: it travels packed through matching to the wire (net/pb_raw.h), so
 * resp->history stays NULL. 0 when the cache does not hold exactly [min, next_event_id). */
static int td_hist_wft_raw(td_hist_t *h, td_arena_t *a, const td_ms_t *ms, int64_t min,
                           td_hist_wftb_t *b)
{
    static uint32_t history_id;
    td_pb_slice_t *parts = NULL, *all;
    size_t n = 0;

    if (!td_hist__evc_raw(h, a, ms->run_id, min, ms->next_event_id, &parts, &n)) {
        return 0;
    }
    if (history_id == 0) {
        history_id =
                protobuf_c_message_descriptor_get_field_by_name(
                        &temporal__api__workflowservice__v1__poll_workflow_task_queue_response__descriptor,
                        "history")
                        ->id;
    }
    all = td_arena_alloc(a, sizeof(*all) * (n + 1));
    memcpy(all, parts, sizeof(*all) * n);
    if (b->n_transient > 0) {
        Temporal__Api__History__V1__History tr = TEMPORAL__API__HISTORY__V1__HISTORY__INIT;
        uint8_t *buf;
        tr.n_events = b->n_transient;
        tr.events = b->transient;
        all[n].len = temporal__api__history__v1__history__get_packed_size(&tr);
        buf = td_arena_alloc(a, all[n].len + 1);
        temporal__api__history__v1__history__pack(&tr, buf);
        all[n++].data = buf;
    }
    td_pb_raw_add(a, &b->resp->base, history_id, all, n);
    b->cb(b->arg, TD_OK, NULL, b->resp);
    return 1;
}

void td_hist__build_wft_response(td_hist_t *h, td_arena_t *a, const td_ms_t *ms,
                                 const td_ms_wft_started_t *st, td_hist_poll_cb cb, void *arg)
{
    td_hist_wftb_t *b = td_arena_calloc(a, sizeof(*b));
    td_poll_wft_resp_t *r = td_hist__pb(
            a, &temporal__api__workflowservice__v1__poll_workflow_task_queue_response__descriptor);
    Temporal__Api__Common__V1__WorkflowExecution *we =
            td_hist__pb(a, &temporal__api__common__v1__workflow_execution__descriptor);
    Temporal__Api__Common__V1__WorkflowType *wt =
            td_hist__pb(a, &temporal__api__common__v1__workflow_type__descriptor);
    Temporal__Api__Taskqueue__V1__TaskQueue *tq =
            td_hist__pb(a, &temporal__api__taskqueue__v1__task_queue__descriptor);
    int64_t min =
            st->sticky && st->previous_started_event_id > 0 ? st->previous_started_event_id + 1 : 1;

    we->workflow_id = td_arena_strdup(a, ms->workflow_id);
    we->run_id = td_arena_strdup(a, ms->run_id);
    wt->name = td_arena_strdup(a, ms->workflow_type ? ms->workflow_type : "");
    tq->name = td_arena_strdup(a, ms->task_queue ? ms->task_queue : "");
    tq->kind = TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL;
    r->task_token = st->token;
    r->workflow_execution = we;
    r->workflow_type = wt;
    r->workflow_execution_task_queue = tq;
    r->previous_started_event_id = st->previous_started_event_id;
    r->started_event_id = st->started_id;
    r->attempt = st->attempt;
    r->scheduled_time = td_hist__ts(a, st->scheduled_time);
    r->started_time = td_hist__ts(a, st->started_time);
    b->a = a;
    b->resp = r;
    b->transient = st->transient_events;
    b->n_transient = st->n_transient_events;
    b->cb = cb;
    b->arg = arg;
    /* Committed events only, up to this transition: later commits must not slip in after the
     * WorkflowTaskStarted event. */
    if (td_hist_wft_raw(h, a, ms, min, b)) {
        return;
    }
    td_hist__read_events(h, a, ms->run_id, min, ms->next_event_id, 0, td_hist_wft_events, b);
}

/* ---- GetWorkflowExecutionHistory ---- */

/* Page token: "<run_id>:<next event id>" (opaque to clients). */
static int td_hist_token_parse(const ProtobufCBinaryData *tok, td_arena_t *a, char **run_id,
                               int64_t *next)
{
    char *s, *colon, *end;

    if (tok->len == 0) {
        return 0;
    }
    s = td_arena_strndup(a, (const char *)tok->data, tok->len);
    colon = strrchr(s, ':');
    if (colon == NULL) {
        return -1;
    }
    *colon = 0;
    *next = strtoll(colon + 1, &end, 10);
    if (*end != 0 || *next < 1 || s[0] == 0) {
        return -1;
    }
    *run_id = s;
    return 1;
}

static ProtobufCBinaryData td_hist_token_make(td_arena_t *a, const char *run_id, int64_t next)
{
    ProtobufCBinaryData b;
    char *s = td_arena_printf(a, "%s:%" PRId64, run_id, next);
    b.data = (uint8_t *)s;
    b.len = strlen(s);
    return b;
}

typedef struct {
    td_hist_t *h;
    td_rpc_call_t *call;
    td_arena_t *a;
    const Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryRequest *req;
    int close_only, wait;
    int64_t next; /* first event id wanted */
    int page;
    int64_t deadline_ms; /* long-poll end (mono) */
    /* snapshot from the context */
    char *run_id;
    int64_t snap_next, completion_id;
    int closed;
    td_hist_waiter_t *waiter;
    int cancelled;
} td_hist_gh_t;

static void td_hist_gh_submit(td_hist_gh_t *g);
static void td_hist_gh_timeout(void *arg);

static void td_hist_gh_reply(td_hist_gh_t *g, td_ms_event_t **ev, size_t n, int token, int64_t next)
{
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse *r = td_hist__pb(
            g->a,
            &temporal__api__workflowservice__v1__get_workflow_execution_history_response__descriptor);
    r->history = td_hist__pb(g->a, &temporal__api__history__v1__history__descriptor);
    r->history->events = ev;
    r->history->n_events = n;
    if (token) {
        r->next_page_token = td_hist_token_make(g->a, g->run_id, next);
    }
    td_rpc_reply(g->call, &r->base);
}

static void td_hist_gh_events(void *arg, int rc, const char *msg, td_ms_event_t **ev, size_t n,
                              int64_t next)
{
    td_hist_gh_t *g = arg;

    if (rc != TD_OK) {
        td_rpc_fail_err(g->call, rc, msg);
        return;
    }
    if (g->close_only) {
        td_hist_gh_reply(g, ev, n, 0, 0);
        return;
    }
    if (next == 0) {
        next = n > 0 ? ev[n - 1]->event_id + 1 : g->next;
    }
    /* More in this snapshot, or the run may still grow and the caller waits: keep a token. */
    td_hist_gh_reply(g, ev, n, next < g->snap_next || (!g->closed && g->wait), next);
}

static void td_hist_waiter_remove(td_hist_waiter_t *w)
{
    td_hist_waiter_t **pp;

    for (pp = &w->ctx->waiters; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    w->next = NULL;
}

static void td_hist_waiter_free(td_hist_waiter_t *w)
{
    td_timer_free(w->timer);
    td_free(w);
}

static void td_hist_gh_wake(td_hist_waiter_t *w)
{
    td_hist_gh_t *g = w->u;

    g->waiter = NULL;
    td_hist_waiter_free(w);
    td_hist_gh_submit(g);
}

static void td_hist_gh_expire(td_hist_waiter_t *w)
{
    td_hist_gh_timeout(w);
}

static void td_hist_gh_timeout(void *arg)
{
    td_hist_waiter_t *w = arg;
    td_hist_gh_t *g = w->u;

    td_hist_waiter_remove(w);
    g->waiter = NULL;
    td_hist_waiter_free(w);
    /* Nothing new before the long poll expired: an empty page with a token to continue. */
    td_hist_gh_reply(g, NULL, 0, 1, g->next);
}

static void td_hist_gh_cancel(void *arg)
{
    td_hist_gh_t *g = arg;

    g->cancelled = 1;
    if (g->waiter != NULL) {
        td_hist_waiter_remove(g->waiter);
        td_hist_waiter_free(g->waiter);
        g->waiter = NULL;
        td_rpc_fail_err(g->call, TD_ECANCELED, NULL);
    }
}

static int td_hist_gh_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_gh_t *g = op->u;

    (void)t;
    g->run_id = td_arena_strdup(g->a, ms->run_id);
    g->snap_next = ms->next_event_id;
    g->closed = ms->state == TD_MS_STATE_COMPLETED;
    g->completion_id = ms->completion_event_id;
    return TD_OK;
}

static int td_hist_gh_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_gh_t *g = op->u;
    int64_t now = td_now_mono_ms();

    if (rc != TD_OK) {
        td_rpc_fail_err(g->call, rc, msg);
        return 0;
    }
    if (g->cancelled) {
        td_rpc_fail_err(g->call, TD_ECANCELED, NULL);
        return 0;
    }
    if (g->close_only) {
        if (g->closed) {
            td_hist__read_events(g->h, g->a, g->run_id, g->completion_id, g->completion_id + 1, 0,
                                 td_hist_gh_events, g);
            return 0;
        }
    } else if (g->next < g->snap_next) {
        td_hist__read_events(g->h, g->a, g->run_id, g->next, g->snap_next, g->page,
                             td_hist_gh_events, g);
        return 0;
    }
    if (!g->wait || g->closed) {
        td_hist_gh_reply(g, NULL, 0, 0, 0);
        return 0;
    }
    if (now >= g->deadline_ms) {
        td_hist_gh_reply(g, NULL, 0, 1, g->next);
        return 0;
    }
    /* Long poll: park on the context until a commit adds events or the poll expires. */
    g->waiter = td_calloc(1, sizeof(*g->waiter));
    g->waiter->call = g->call;
    g->waiter->ctx = op->ctx;
    g->waiter->u = g;
    g->waiter->wake = td_hist_gh_wake;
    g->waiter->expire = td_hist_gh_expire;
    g->waiter->timer = td_timer_new(g->h->loop, td_hist_gh_timeout, g->waiter);
    g->waiter->next = op->ctx->waiters;
    op->ctx->waiters = g->waiter;
    td_timer_start(g->waiter->timer, g->deadline_ms - now);
    return 0;
}

static void td_hist_gh_submit(td_hist_gh_t *g)
{
    const Temporal__Api__Common__V1__WorkflowExecution *ex = g->req->execution;
    td_hist_op_t *op = td_arena_calloc(g->a, sizeof(*op));
    const char *ns =
            ((const Temporald__Historyservice__GetWorkflowExecutionHistoryRequest *)td_rpc_request(
                     g->call))
                    ->namespace_id;

    op->ctx = td_hist__ctx_get(g->h, ns, ex->workflow_id);
    op->call = g->call;
    op->arena = g->a;
    op->run_id = g->run_id != NULL ? g->run_id : (ex->run_id ? ex->run_id : "");
    op->load = TD_HIST_LOAD_REQUIRED;
    op->read_only = 1;
    op->apply = td_hist_gh_apply;
    op->done = td_hist_gh_done;
    op->u = g;
    td_hist__op_submit(op);
}

void td_hist__get_history(td_rpc_call_t *call, void *ctx)
{
    td_hist_t *h = ctx;
    const Temporald__Historyservice__GetWorkflowExecutionHistoryRequest *in =
            (const void *)td_rpc_request(call);
    td_arena_t *a = td_rpc_arena(call);
    td_hist_gh_t *g;
    int64_t poll_ms = h->long_poll_ms, dl = td_rpc_deadline(call);

    if (in->request == NULL || in->request->execution == NULL ||
        in->request->execution->workflow_id == NULL ||
        in->request->execution->workflow_id[0] == 0 || in->namespace_id == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "execution.workflow_id is required");
        return;
    }
    g = td_arena_calloc(a, sizeof(*g));
    g->h = h;
    g->call = call;
    g->a = a;
    g->req = in->request;
    g->close_only =
            in->request->history_event_filter_type ==
            TEMPORAL__API__ENUMS__V1__HISTORY_EVENT_FILTER_TYPE__HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT;
    g->wait = in->request->wait_new_event;
    g->page = in->request->maximum_page_size > 0 ? in->request->maximum_page_size
                                                 : TD_HIST_PAGE_DEFAULT;
    g->next = 1;
    if (td_hist_token_parse(&in->request->next_page_token, a, &g->run_id, &g->next) < 0) {
        td_rpc_fail_err(call, TD_EINVAL, "invalid next_page_token");
        return;
    }
    if (dl > 0 && dl - td_now_mono_ms() - 500 < poll_ms) {
        poll_ms = dl - td_now_mono_ms() - 500;
    }
    g->deadline_ms = td_now_mono_ms() + (poll_ms > 0 ? poll_ms : 0);
    td_rpc_on_cancel(call, td_hist_gh_cancel, g);
    td_hist_gh_submit(g);
}

/* ---- GetWorkflowExecutionHistoryReverse ---- */

typedef struct {
    td_hist_t *h;
    td_rpc_call_t *call;
    td_arena_t *a;
    char *run_id;
    int64_t hi; /* exclusive upper bound; 0 = from the end */
    int page;
} td_hist_rev_t;

static void td_hist_rev_events(void *arg, int rc, const char *msg, td_ms_event_t **ev, size_t n,
                               int64_t next)
{
    td_hist_rev_t *v = arg;
    Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryReverseResponse *r;
    int64_t lo = v->hi - v->page < 1 ? 1 : v->hi - v->page;

    (void)next;
    if (rc != TD_OK) {
        td_rpc_fail_err(v->call, rc, msg);
        return;
    }
    r = td_hist__pb(
            v->a,
            &temporal__api__workflowservice__v1__get_workflow_execution_history_reverse_response__descriptor);
    r->history = td_hist__pb(v->a, &temporal__api__history__v1__history__descriptor);
    r->history->n_events = n;
    r->history->events = td_arena_alloc(v->a, (n ? n : 1) * sizeof(*ev));
    for (size_t i = 0; i < n; i++) {
        r->history->events[i] = ev[n - 1 - i];
    }
    if (lo > 1) {
        r->next_page_token = td_hist_token_make(v->a, v->run_id, lo);
    }
    td_rpc_reply(v->call, &r->base);
}

static int td_hist_rev_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_rev_t *v = op->u;
    (void)t;
    v->run_id = td_arena_strdup(v->a, ms->run_id);
    if (v->hi == 0 || v->hi > ms->next_event_id) {
        v->hi = ms->next_event_id;
    }
    return TD_OK;
}

static int td_hist_rev_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_rev_t *v = op->u;
    int64_t lo = v->hi - v->page < 1 ? 1 : v->hi - v->page;

    if (rc != TD_OK) {
        td_rpc_fail_err(v->call, rc, msg);
        return 0;
    }
    td_hist__read_events(v->h, v->a, v->run_id, lo, v->hi, 0, td_hist_rev_events, v);
    return 0;
}

void td_hist__get_history_reverse(td_rpc_call_t *call, void *ctx)
{
    td_hist_t *h = ctx;
    const Temporald__Historyservice__GetWorkflowExecutionHistoryReverseRequest *in =
            (const void *)td_rpc_request(call);
    td_arena_t *a = td_rpc_arena(call);
    td_hist_rev_t *v;
    td_hist_op_t *op;
    int64_t next = 0;

    if (in->request == NULL || in->request->execution == NULL ||
        in->request->execution->workflow_id == NULL || in->namespace_id == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "execution.workflow_id is required");
        return;
    }
    v = td_arena_calloc(a, sizeof(*v));
    v->h = h;
    v->call = call;
    v->a = a;
    v->page = in->request->maximum_page_size > 0 ? in->request->maximum_page_size
                                                 : TD_HIST_PAGE_DEFAULT;
    if (td_hist_token_parse(&in->request->next_page_token, a, &v->run_id, &next) < 0) {
        td_rpc_fail_err(call, TD_EINVAL, "invalid next_page_token");
        return;
    }
    v->hi = next;
    op = td_arena_calloc(a, sizeof(*op));
    op->ctx = td_hist__ctx_get(h, in->namespace_id, in->request->execution->workflow_id);
    op->call = call;
    op->arena = a;
    op->run_id = v->run_id ? v->run_id
                           : (in->request->execution->run_id ? in->request->execution->run_id : "");
    op->load = TD_HIST_LOAD_REQUIRED;
    op->read_only = 1;
    op->apply = td_hist_rev_apply;
    op->done = td_hist_rev_done;
    op->u = v;
    td_hist__op_submit(op);
}

/* ---- DescribeWorkflowExecution ---- */

/* WorkflowExecutionExtendedInfo: the deadlines (unset without a timeout), the cancel request and
 * what a reset recorded. original_start_time is the start of the run whose history this run's
 * began as (its own start unless a reset copied it). Request id infos, pause and time
 * skipping are not kept by temporald and stay unset. */
static Temporal__Api__Workflow__V1__WorkflowExecutionExtendedInfo *
td_hist__describe_extended(td_arena_t *a, const td_ms_t *ms)
{
    Temporal__Api__Workflow__V1__WorkflowExecutionExtendedInfo *x = td_hist__pb(
            a, &temporal__api__workflow__v1__workflow_execution_extended_info__descriptor);

    if (ms->execution_expiration > 0) {
        x->execution_expiration_time = td_hist__ts(a, ms->execution_expiration);
    }
    if (ms->run_expiration > 0) {
        x->run_expiration_time = td_hist__ts(a, ms->run_expiration);
    }
    x->cancel_requested = ms->cancel_requested != 0;
    if (ms->last_reset_time > 0) {
        x->last_reset_time = td_hist__ts(a, ms->last_reset_time);
    }
    x->original_start_time =
            td_hist__ts(a, ms->original_start_time > 0 ? ms->original_start_time : ms->start_time);
    x->reset_run_id = td_arena_strdup(a, ms->reset_run_id ? ms->reset_run_id : "");
    return x;
}

static int td_hist_describe_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_arena_t *a = op->arena;
    Temporal__Api__Workflowservice__V1__DescribeWorkflowExecutionResponse *r = td_hist__pb(
            a,
            &temporal__api__workflowservice__v1__describe_workflow_execution_response__descriptor);
    Temporal__Api__Workflow__V1__WorkflowExecutionInfo *wi =
            td_hist__pb(a, &temporal__api__workflow__v1__workflow_execution_info__descriptor);
    Temporal__Api__Workflow__V1__WorkflowExecutionConfig *cfg =
            td_hist__pb(a, &temporal__api__workflow__v1__workflow_execution_config__descriptor);

    (void)t;
    wi->execution = td_hist__pb(a, &temporal__api__common__v1__workflow_execution__descriptor);
    wi->execution->workflow_id = td_arena_strdup(a, ms->workflow_id);
    wi->execution->run_id = td_arena_strdup(a, ms->run_id);
    wi->type = td_hist__pb(a, &temporal__api__common__v1__workflow_type__descriptor);
    wi->type->name = td_arena_strdup(a, ms->workflow_type ? ms->workflow_type : "");
    wi->start_time = td_hist__ts(a, ms->start_time);
    wi->execution_time = td_hist__ts(a, ms->start_time + ms->first_workflow_task_backoff);
    if (ms->state == TD_MS_STATE_COMPLETED) {
        wi->close_time = td_hist__ts(a, ms->close_time);
        if (ms->close_time > ms->start_time) {
            wi->execution_duration = td_hist__dur(a, ms->close_time - ms->start_time);
        }
    }
    wi->status = ms->status;
    wi->history_length = ms->next_event_id - 1;
    wi->task_queue = td_arena_strdup(a, ms->task_queue ? ms->task_queue : "");
    wi->first_run_id = td_arena_strdup(a, ms->first_execution_run_id ? ms->first_execution_run_id
                                                                     : ms->run_id);
    wi->memo = td_hist__unblob(a, ms->memo.data, ms->memo.len,
                               &temporal__api__common__v1__memo__descriptor);
    wi->search_attributes =
            td_hist__unblob(a, ms->search_attributes.data, ms->search_attributes.len,
                            &temporal__api__common__v1__search_attributes__descriptor);
    wi->state_transition_count = ms->db_record_version;
    wi->history_size_bytes = ms->history_size_bytes;
    if (ms->parent_workflow_id != NULL && ms->parent_workflow_id[0] != 0) {
        wi->parent_namespace_id =
                td_arena_strdup(a, ms->parent_namespace_id ? ms->parent_namespace_id : "");
        wi->parent_execution =
                td_hist__pb(a, &temporal__api__common__v1__workflow_execution__descriptor);
        wi->parent_execution->workflow_id = td_arena_strdup(a, ms->parent_workflow_id);
        wi->parent_execution->run_id =
                td_arena_strdup(a, ms->parent_run_id ? ms->parent_run_id : "");
    }
    wi->root_execution = td_hist__pb(a, &temporal__api__common__v1__workflow_execution__descriptor);
    if (ms->root_workflow_id != NULL && ms->root_workflow_id[0] != 0) {
        wi->root_execution->workflow_id = td_arena_strdup(a, ms->root_workflow_id);
        wi->root_execution->run_id = td_arena_strdup(a, ms->root_run_id ? ms->root_run_id : "");
    } else {
        wi->root_execution->workflow_id = wi->execution->workflow_id;
        wi->root_execution->run_id = wi->execution->run_id;
    }
    r->workflow_execution_info = wi;
    r->workflow_extended_info = td_hist__describe_extended(a, ms);
    if (ms->n_children > 0) {
        r->pending_children = td_arena_alloc(a, ms->n_children * sizeof(*r->pending_children));
    }
    for (size_t i = 0; i < ms->n_children; i++) {
        const td_ms_child_t *ch = &ms->children[i];
        Temporal__Api__Workflow__V1__PendingChildExecutionInfo *pc = td_hist__pb(
                a, &temporal__api__workflow__v1__pending_child_execution_info__descriptor);
        pc->workflow_id = td_arena_strdup(a, ch->workflow_id ? ch->workflow_id : "");
        pc->run_id = td_arena_strdup(a, ch->run_id ? ch->run_id : "");
        pc->workflow_type_name = td_arena_strdup(a, ch->workflow_type ? ch->workflow_type : "");
        pc->initiated_id = ch->initiated_id;
        pc->parent_close_policy = ch->parent_close_policy;
        r->pending_children[r->n_pending_children++] = pc;
    }

    cfg->task_queue = td_hist__pb(a, &temporal__api__taskqueue__v1__task_queue__descriptor);
    cfg->task_queue->name = wi->task_queue;
    cfg->task_queue->kind = TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL;
    /* unset (0) timeouts stay absent, as in the started event */
    cfg->workflow_execution_timeout =
            ms->execution_timeout > 0 ? td_hist__dur(a, ms->execution_timeout) : NULL;
    cfg->workflow_run_timeout = ms->run_timeout > 0 ? td_hist__dur(a, ms->run_timeout) : NULL;
    cfg->user_metadata = td_hist__unblob(a, ms->user_metadata.data, ms->user_metadata.len,
                                         &temporal__api__sdk__v1__user_metadata__descriptor);
    cfg->default_workflow_task_timeout = td_hist__dur(a, ms->task_timeout);
    r->execution_config = cfg;

    if (ms->n_activities > 0) {
        r->pending_activities =
                td_arena_alloc(a, ms->n_activities * sizeof(*r->pending_activities));
    }
    for (size_t i = 0; i < ms->n_activities; i++) {
        const td_ms_activity_t *ai = &ms->activities[i];
        Temporal__Api__Workflow__V1__PendingActivityInfo *pa =
                td_hist__pb(a, &temporal__api__workflow__v1__pending_activity_info__descriptor);
        pa->activity_id = td_arena_strdup(a, ai->activity_id ? ai->activity_id : "");
        pa->activity_type = td_hist__pb(a, &temporal__api__common__v1__activity_type__descriptor);
        pa->activity_type->name = td_arena_strdup(a, ai->activity_type ? ai->activity_type : "");
        pa->state =
                ai->cancel_requested
                        ? TEMPORAL__API__ENUMS__V1__PENDING_ACTIVITY_STATE__PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
                : ai->started
                        ? TEMPORAL__API__ENUMS__V1__PENDING_ACTIVITY_STATE__PENDING_ACTIVITY_STATE_STARTED
                        : TEMPORAL__API__ENUMS__V1__PENDING_ACTIVITY_STATE__PENDING_ACTIVITY_STATE_SCHEDULED;
        pa->heartbeat_details =
                td_hist__unblob(a, ai->heartbeat_details.data, ai->heartbeat_details.len,
                                &temporal__api__common__v1__payloads__descriptor);
        pa->last_heartbeat_time = td_hist__ts(a, ai->last_heartbeat_time);
        pa->last_started_time = td_hist__ts(a, ai->started_time);
        pa->attempt = ai->attempt;
        pa->maximum_attempts = ai->retry.maximum_attempts;
        pa->scheduled_time = td_hist__ts(a, ai->current_attempt_scheduled_time);
        if (ai->schedule_to_close > 0) {
            pa->expiration_time = td_hist__ts(a, ai->scheduled_time + ai->schedule_to_close);
        }
        pa->last_failure = td_hist__unblob(a, ai->last_failure.data, ai->last_failure.len,
                                           &temporal__api__failure__v1__failure__descriptor);
        pa->last_worker_identity =
                td_arena_strdup(a, ai->last_worker_identity ? ai->last_worker_identity : "");
        if (!ai->started && ai->current_attempt_scheduled_time > td_now_wall_ns()) {
            pa->next_attempt_schedule_time = td_hist__ts(a, ai->current_attempt_scheduled_time);
        }
        r->pending_activities[r->n_pending_activities++] = pa;
    }
    if (ms->wft.scheduled_id != 0) {
        Temporal__Api__Workflow__V1__PendingWorkflowTaskInfo *pw = td_hist__pb(
                a, &temporal__api__workflow__v1__pending_workflow_task_info__descriptor);
        pw->state =
                ms->wft.started_id != 0
                        ? TEMPORAL__API__ENUMS__V1__PENDING_WORKFLOW_TASK_STATE__PENDING_WORKFLOW_TASK_STATE_STARTED
                        : TEMPORAL__API__ENUMS__V1__PENDING_WORKFLOW_TASK_STATE__PENDING_WORKFLOW_TASK_STATE_SCHEDULED;
        pw->scheduled_time = td_hist__ts(a, ms->wft.scheduled_time);
        pw->original_scheduled_time = pw->scheduled_time;
        pw->started_time = td_hist__ts(a, ms->wft.started_time);
        pw->attempt = ms->wft.attempt;
        r->pending_workflow_task = pw;
    }
    op->u = r;
    return TD_OK;
}

static int td_hist_describe_done(td_hist_op_t *op, int rc, const char *msg)
{
    if (rc != TD_OK) {
        td_rpc_fail_err(op->call, rc, msg);
    } else {
        td_rpc_reply(op->call, op->u);
    }
    return 0;
}

void td_hist__describe(td_rpc_call_t *call, void *ctx)
{
    td_hist_t *h = ctx;
    const Temporald__Historyservice__DescribeWorkflowExecutionRequest *in =
            (const void *)td_rpc_request(call);
    td_arena_t *a = td_rpc_arena(call);
    td_hist_op_t *op;

    if (in->request == NULL || in->request->execution == NULL ||
        in->request->execution->workflow_id == NULL || in->namespace_id == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "execution.workflow_id is required");
        return;
    }
    op = td_arena_calloc(a, sizeof(*op));
    op->ctx = td_hist__ctx_get(h, in->namespace_id, in->request->execution->workflow_id);
    op->call = call;
    op->arena = a;
    op->run_id = in->request->execution->run_id ? in->request->execution->run_id : "";
    op->load = TD_HIST_LOAD_REQUIRED;
    op->read_only = 1;
    op->apply = td_hist_describe_apply;
    op->done = td_hist_describe_done;
    td_hist__op_submit(op);
}

/* ---- QueryWorkflow ----
 *
 * A running workflow with a workflow task scheduled or started gets the query buffered
 * (hist_query.c): it rides in the next task handed out and is answered from that task's
 * completion. Otherwise (closed run, no task in flight, or the buffered query was UNBLOCKED
 * because a completion scheduled no new task) a legacy query task goes through matching.
 *
 * A sticky run's legacy task goes to the worker's sticky queue first (with the history since
 * its last completed task), for at most the sticky schedule-to-start timeout. When matching
 * answers that nobody polls that queue, or the time runs out, stickiness is cleared
 * (ResetStickyTaskQueue, as Temporal's history does) and the task goes to the run's normal
 * queue with the whole history, until the caller's deadline (DEADLINE_EXCEEDED when no
 * worker answers). Any other error of the sticky attempt is the caller's answer. */

/* Temporal's failQueryWorkflowTaskAttemptCount: from this attempt on, queries fail. */
#define TD_HIST_QUERY_FAIL_ATTEMPT 3
/* Time given to clearing stickiness before a query falls back (Temporal's 5 s). */
#define TD_HIST_Q_RESET_STICKY_MS 5000

typedef struct {
    td_hist_t *h;
    td_rpc_call_t *call;
    td_arena_t *a;
    const Temporald__Historyservice__QueryWorkflowRequest *in;
    Temporald__Matchingservice__QueryWorkflowRequest *mreq;
    Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse *task;
    int64_t min, max;
    char *run_id;
    td_rpc_call_t *child;
    int rejected_status; /* != 0: answer query_rejected */
    int cancelled;
    int not_ready;     /* workflow task attempt >= TD_HIST_QUERY_FAIL_ATTEMPT */
    int buffer;        /* apply found a workflow task in flight: buffer in done */
    int force_legacy;  /* UNBLOCKED: a legacy task even with a workflow task in flight */
    int sticky;        /* the legacy task goes to the worker's sticky queue first */
    int running;       /* the run was open when looked at */
    int64_t sticky_ms; /* the sticky schedule-to-start timeout: the sticky attempt's time */
    char *normal_tq;   /* the run's normal task queue (the fallback) */
    td_hist_ctx_t *ctx;
    td_hist_query_t *qe;  /* while buffered */
    td_timer_t *deadline; /* while buffered, when the call has a deadline */
} td_hist_q_t;

/* Leaves the registry (if still there) and stops the deadline timer. */
static void td_hist_q_unbuffer(td_hist_q_t *q)
{
    if (q->qe != NULL) {
        td_hist__query_remove(q->ctx, q->qe);
        q->qe = NULL;
    }
    if (q->deadline != NULL) {
        td_timer_free(q->deadline);
        q->deadline = NULL;
    }
}

/* The caller's deadline passed while the query was buffered (in-process callers need not
 * cancel on their deadline, so history keeps its own). */
static void td_hist_q_deadline(void *arg)
{
    td_hist_q_t *q = arg;

    td_hist_q_unbuffer(q);
    td_rpc_fail_err(q->call, TD_ETIMEDOUT, "query timed out waiting for a workflow task");
}

static void td_hist_q_submit(td_hist_q_t *q);

static void td_hist_q_events(void *arg, int rc, const char *msg, td_ms_event_t **ev, size_t n,
                             int64_t next);

/* The sticky attempt failed: the query moves to the run's normal queue with the whole
 * history (after stickiness was cleared, when the run is open). */
static void td_hist_q_to_normal(td_hist_q_t *q)
{
    if (q->cancelled) {
        td_rpc_fail_err(q->call, TD_ECANCELED, NULL);
        return;
    }
    if (td_rpc_deadline(q->call) > 0 && td_rpc_deadline(q->call) <= td_now_mono_ms()) {
        td_rpc_fail(q->call, TD_GRPC_DEADLINE_EXCEEDED,
                    "query timed out: the sticky worker did not answer and no time is left", NULL);
        return;
    }
    q->sticky = 0;
    q->mreq->task_queue->name = q->normal_tq;
    q->mreq->task_queue->kind = TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL;
    q->min = 1;
    td_hist__read_events(q->h, q->a, q->run_id, q->min, q->max, 0, td_hist_q_events, q);
}

static void td_hist_q_unstuck(const ProtobufCMessage *resp, int status, const char *message,
                              const ProtobufCMessage *detail, void *arg)
{
    td_hist_q_t *q = arg;

    (void)resp;
    q->child = NULL;
    /* a run that closed meanwhile is not sticky any more either */
    if (status != TD_GRPC_OK && status != TD_GRPC_NOT_FOUND) {
        td_rpc_fail(q->call, status, message, detail);
        return;
    }
    td_hist_q_to_normal(q);
}

static void td_hist_q_done(const ProtobufCMessage *resp, int status, const char *message,
                           const ProtobufCMessage *detail, void *arg)
{
    td_hist_q_t *q = arg;

    q->child = NULL;
    if (status != TD_GRPC_OK && q->sticky && !q->cancelled &&
        (status == TD_GRPC_DEADLINE_EXCEEDED || status == TD_GRPC_CANCELLED ||
         (status == TD_GRPC_FAILED_PRECONDITION && message != NULL &&
          strcmp(message, TD_SVC_STICKY_UNAVAILABLE) == 0))) {
        /* As Temporal: the sticky worker is gone (no poller) or did not answer within the
         * sticky schedule-to-start timeout. Clear stickiness (the next workflow task goes to
         * the normal queue too), then ask the normal queue. */
        td_log_debug("query of %s/%s: sticky queue %s did not answer (%s); using %s",
                     q->in->request->execution->workflow_id, q->run_id, q->mreq->task_queue->name,
                     message != NULL ? message : "", q->normal_tq);
        if (q->running) {
            Temporald__Historyservice__ResetStickyTaskQueueRequest *r = td_hist__pb(
                    q->a, &temporald__historyservice__reset_sticky_task_queue_request__descriptor);
            td_rpc_call_t *child;
            r->namespace_id = q->in->namespace_id;
            r->execution =
                    td_hist__pb(q->a, &temporal__api__common__v1__workflow_execution__descriptor);
            r->execution->workflow_id = q->in->request->execution->workflow_id;
            r->execution->run_id = q->run_id;
            child = td_svc_call(q->h->srv, TD_SVC_HISTORY "ResetStickyTaskQueue", &r->base,
                                td_now_mono_ms() + TD_HIST_Q_RESET_STICKY_MS, td_hist_q_unstuck, q);
            if (child != NULL) {
                q->child = child;
            }
            return;
        }
        td_hist_q_to_normal(q);
        return;
    }
    if (status != TD_GRPC_OK) {
        td_rpc_fail(q->call, status, message, detail);
        return;
    }
    /* resp dies with this callback: the reply is packed before td_rpc_reply returns. */
    td_rpc_reply(q->call, resp);
}

static void td_hist_q_cancel(void *arg)
{
    td_hist_q_t *q = arg;
    q->cancelled = 1;
    if (q->qe != NULL) {
        td_hist_q_unbuffer(q);
        td_rpc_fail_err(q->call, TD_ECANCELED, NULL);
        return;
    }
    if (q->child != NULL) {
        td_svc_cancel(q->child);
    }
}

static void td_hist_q_events(void *arg, int rc, const char *msg, td_ms_event_t **ev, size_t n,
                             int64_t next)
{
    td_hist_q_t *q = arg;
    Temporal__Api__History__V1__History *hist;
    td_rpc_call_t *child;

    (void)next;
    if (rc != TD_OK) {
        td_rpc_fail_err(q->call, rc, msg);
        return;
    }
    if (q->cancelled) {
        td_rpc_fail_err(q->call, TD_ECANCELED, NULL);
        return;
    }
    hist = td_hist__pb(q->a, &temporal__api__history__v1__history__descriptor);
    hist->events = ev;
    hist->n_events = n;
    q->task->history = hist;
    /* td_svc_call returns NULL when done already ran (and q may be gone with the call). The
     * sticky attempt gets the sticky schedule-to-start timeout, whatever the caller's
     * deadline (as Temporal: a short caller deadline must not clear stickiness). */
    child = td_svc_call(q->h->srv, TD_SVC_MATCHING "QueryWorkflow", &q->mreq->base,
                        q->sticky ? td_now_mono_ms() + q->sticky_ms : td_rpc_deadline(q->call),
                        td_hist_q_done, q);
    if (child != NULL) {
        q->child = child;
    }
}

static int td_hist_q_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t)
{
    td_hist_q_t *q = op->u;
    td_arena_t *a = q->a;
    int cond = q->in->request->query_reject_condition;
    Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse *task;
    Temporal__Api__Taskqueue__V1__TaskQueue *tq;
    int sticky = ms->sticky_task_queue != NULL && ms->sticky_task_queue[0] != 0 &&
                 ms->state == TD_MS_STATE_RUNNING;

    (void)t;
    if (ms->state == TD_MS_STATE_RUNNING && ms->wft.scheduled_id != 0 &&
        ms->wft.attempt >= TD_HIST_QUERY_FAIL_ATTEMPT) {
        q->not_ready = 1;
        return TD_OK;
    }
    if (ms->state == TD_MS_STATE_RUNNING && ms->wft.scheduled_id != 0 && !q->force_legacy) {
        q->buffer = 1;
        q->run_id = td_arena_strdup(a, ms->run_id);
        return TD_OK;
    }
    if (ms->state == TD_MS_STATE_COMPLETED &&
        (cond == TEMPORAL__API__ENUMS__V1__QUERY_REJECT_CONDITION__QUERY_REJECT_CONDITION_NOT_OPEN ||
         (cond == TEMPORAL__API__ENUMS__V1__QUERY_REJECT_CONDITION__QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY &&
          ms->status !=
                  TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_COMPLETED))) {
        q->rejected_status = ms->status;
        return TD_OK;
    }
    task = td_hist__pb(
            a, &temporal__api__workflowservice__v1__poll_workflow_task_queue_response__descriptor);
    task->workflow_execution =
            td_hist__pb(a, &temporal__api__common__v1__workflow_execution__descriptor);
    task->workflow_execution->workflow_id = td_arena_strdup(a, ms->workflow_id);
    task->workflow_execution->run_id = td_arena_strdup(a, ms->run_id);
    task->workflow_type = td_hist__pb(a, &temporal__api__common__v1__workflow_type__descriptor);
    task->workflow_type->name = td_arena_strdup(a, ms->workflow_type ? ms->workflow_type : "");
    task->workflow_execution_task_queue =
            td_hist__pb(a, &temporal__api__taskqueue__v1__task_queue__descriptor);
    task->workflow_execution_task_queue->name =
            td_arena_strdup(a, ms->task_queue ? ms->task_queue : "");
    task->workflow_execution_task_queue->kind =
            TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL;
    task->previous_started_event_id = ms->previous_started_event_id;
    task->started_event_id = ms->previous_started_event_id;
    task->attempt = 1;
    q->task = task;

    /* Sticky runs get the query on the worker's sticky queue with the history since the last
     * completed task (the worker has the rest cached); others get everything. */
    tq = td_hist__pb(a, &temporal__api__taskqueue__v1__task_queue__descriptor);
    tq->name = td_arena_strdup(a, sticky ? ms->sticky_task_queue
                                         : (ms->task_queue ? ms->task_queue : ""));
    tq->kind = sticky ? TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_STICKY
                      : TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL;
    q->mreq = td_hist__pb(a, &temporald__matchingservice__query_workflow_request__descriptor);
    q->mreq->namespace_id = q->in->namespace_id;
    q->mreq->task_queue = tq;
    q->mreq->request = q->in->request;
    q->mreq->task = task;
    q->min = sticky && ms->previous_started_event_id > 0 ? ms->previous_started_event_id + 1 : 1;
    q->max = ms->next_event_id;
    q->run_id = td_arena_strdup(a, ms->run_id);
    q->sticky = sticky;
    q->running = ms->state != TD_MS_STATE_COMPLETED;
    q->sticky_ms = ms->sticky_schedule_to_start / 1000000;
    q->normal_tq = td_arena_strdup(a, ms->task_queue ? ms->task_queue : "");
    return TD_OK;
}

/* The outcome of a buffered query (hist_query.c). */
static void td_hist_q_buffered_done(void *arg, int how,
                                    const Temporal__Api__Query__V1__WorkflowQueryResult *res)
{
    td_hist_q_t *q = arg;

    q->qe = NULL; /* already off the registry */
    td_hist_q_unbuffer(q);
    if (how == TD_HIST_QUERY_ANSWERED) {
        Temporal__Api__Workflowservice__V1__QueryWorkflowResponse *r = td_hist__pb(
                q->a, &temporal__api__workflowservice__v1__query_workflow_response__descriptor);
        r->query_result = res->answer; /* packed by td_rpc_reply before res goes */
        td_rpc_reply(q->call, &r->base);
    } else if (how == TD_HIST_QUERY_FAILED) {
        Temporal__Api__Errordetails__V1__QueryFailedFailure *d = td_hist__pb(
                q->a, &temporal__api__errordetails__v1__query_failed_failure__descriptor);
        d->failure = res->failure;
        td_rpc_fail(q->call, TD_GRPC_INVALID_ARGUMENT,
                    res->error_message != NULL && res->error_message[0] != 0 ? res->error_message
                                                                             : "query failed",
                    &d->base);
    } else if (how == TD_HIST_QUERY_UNBLOCKED) {
        q->force_legacy = 1;
        td_hist_q_submit(q);
    } else {
        td_rpc_fail_err(q->call, TD_EUNAVAIL, "history is shutting down");
    }
}

static int td_hist_q_apply_done(td_hist_op_t *op, int rc, const char *msg)
{
    td_hist_q_t *q = op->u;

    if (rc != TD_OK) {
        td_rpc_fail_err(q->call, rc, msg);
        return 0;
    }
    if (q->not_ready) {
        Temporal__Api__Errordetails__V1__WorkflowNotReadyFailure *d = td_hist__pb(
                q->a, &temporal__api__errordetails__v1__workflow_not_ready_failure__descriptor);
        td_rpc_fail(q->call, TD_GRPC_FAILED_PRECONDITION,
                    "Unable to query workflow due to Workflow Task in failed state.", &d->base);
        return 0;
    }
    if (q->buffer) {
        q->buffer = 0;
        if (q->cancelled) {
            td_rpc_fail_err(q->call, TD_ECANCELED, NULL);
            return 0;
        }
        q->ctx = op->ctx;
        rc = td_hist__query_buffer(op->ctx, q->run_id, q->in->request->query,
                                   td_hist_q_buffered_done, q, &q->qe);
        if (rc != TD_OK) {
            td_rpc_fail_err(q->call, rc, "consistent query buffer is full");
            return 0;
        }
        if (td_rpc_deadline(q->call) > 0) {
            int64_t left = td_rpc_deadline(q->call) - td_now_mono_ms();
            q->deadline = td_timer_new(q->h->loop, td_hist_q_deadline, q);
            td_timer_start(q->deadline, left > 0 ? left : 0);
        }
        return 0;
    }
    if (q->rejected_status != 0) {
        Temporal__Api__Workflowservice__V1__QueryWorkflowResponse *r = td_hist__pb(
                q->a, &temporal__api__workflowservice__v1__query_workflow_response__descriptor);
        r->query_rejected =
                td_hist__pb(q->a, &temporal__api__query__v1__query_rejected__descriptor);
        r->query_rejected->status = q->rejected_status;
        td_rpc_reply(q->call, &r->base);
        return 0;
    }
    td_hist__read_events(q->h, q->a, q->run_id, q->min, q->max, 0, td_hist_q_events, q);
    return 0;
}

void td_hist__query(td_rpc_call_t *call, void *ctx)
{
    td_hist_t *h = ctx;
    const Temporald__Historyservice__QueryWorkflowRequest *in = (const void *)td_rpc_request(call);
    td_arena_t *a = td_rpc_arena(call);
    td_hist_q_t *q;

    if (in->request == NULL || in->request->execution == NULL ||
        in->request->execution->workflow_id == NULL || in->request->query == NULL ||
        in->namespace_id == NULL) {
        td_rpc_fail_err(call, TD_EINVAL, "execution.workflow_id and query are required");
        return;
    }
    q = td_arena_calloc(a, sizeof(*q));
    q->h = h;
    q->call = call;
    q->a = a;
    q->in = in;
    td_rpc_on_cancel(call, td_hist_q_cancel, q);
    td_hist_q_submit(q);
}

/* Queues the query's look at the workflow (again after an UNBLOCK, as a fresh op). */
static void td_hist_q_submit(td_hist_q_t *q)
{
    const Temporald__Historyservice__QueryWorkflowRequest *in = q->in;
    td_hist_op_t *op = td_arena_calloc(q->a, sizeof(*op));

    op->ctx = td_hist__ctx_get(q->h, in->namespace_id, in->request->execution->workflow_id);
    op->call = q->call;
    op->arena = q->a;
    op->run_id = in->request->execution->run_id ? in->request->execution->run_id : "";
    if (q->force_legacy) {
        op->run_id = q->run_id; /* the run the query was buffered on, even if no longer current */
    }
    op->load = TD_HIST_LOAD_REQUIRED;
    op->apply = td_hist_q_apply;
    op->done = td_hist_q_apply_done;
    op->u = q;
    td_hist__op_submit(op);
}
