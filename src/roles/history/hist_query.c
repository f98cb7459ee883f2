/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-workflow registry of buffered (consistent) queries: a QueryWorkflow that arrives
 * while a workflow task is scheduled or started waits here, rides in the `queries` map of the
 * next workflow task handed out for its run, and is answered from that task's
 * query_results. Entries live only in memory, on the workflow's context (never persisted: a
 * restart drops them and their callers see an error or their deadline). This module does no
 * I/O and replies to no call itself; it reports each outcome to the owner's callback.
 * Loop thread only; for hist_read.c (QueryWorkflow) and hist_api.c (task started/completed).
 *
 * Design notes
 * ============
 *
 * A buffered query (td_hist_query_t)
 *
 *   Invariants: an entry is on its context's list from td_hist__query_buffer until its
 *   callback runs or its owner removes it; the callback runs at most once and the entry is
 *   off the list (and freed right after) when it does. At most TD_HIST_QUERY_MAX entries per
 *   context. An entry keeps riding in every workflow task of its run until that task's
 *   completion answers it or creates no new workflow task.
 *
 *     td_hist__query_buffer          query_results has its id         ANSWERED / FAILED
 *     ---------------------> BUFFERED -----------------------------> (callback, freed)
 *                              |  |  completion created no new task   UNBLOCKED
 *                              |  +-----------------------------------> (callback, freed)
 *                              |     caller cancelled / deadline
 *                              +--------------------------------------> (removed, freed)
 *
 *   FROM      -> TO         [function]
 *   (none)    -> BUFFERED   [td_hist__query_buffer]
 *   BUFFERED  -> BUFFERED   [td_hist__query_attach (delivered in a task; stays buffered)]
 *   BUFFERED  -> ANSWERED   [td_hist__query_results (result ANSWERED)]
 *   BUFFERED  -> FAILED     [td_hist__query_results (result FAILED)]
 *   BUFFERED  -> UNBLOCKED  [td_hist__query_results (no new workflow task),
 *                            td_hist__query_unblock_run, td_hist__query_sweep (the run closed
 *                            other than by a task completion: terminate, timeout, ...)]
 *   BUFFERED  -> removed    [td_hist__query_remove]
 *   BUFFERED  -> DROPPED    [td_hist__query_free_all (context freed)]
 */
#define TD_LOG_COMPONENT "history"

#include <string.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "roles/history/hist_int.h"
#include "temporal/api/enums/v1/query.pb-c.h"
#include "uuid.h"

struct td_hist_query_s {
    char id[TD_UUID_LEN + 1];
    char *run_id;
    uint8_t *packed; /* the temporal.api.query.v1.WorkflowQuery */
    size_t packed_len;
    td_hist_query_fn fn;
    void *arg;
    td_hist_query_t *next;
};

static void td_hist_query_destroy(td_hist_query_t *e)
{
    td_free(e->run_id);
    td_free(e->packed);
    td_free(e);
}

/* Unlinks e from ctx's list; 0 when it was not there. */
static int td_hist_query_unlink(td_hist_ctx_t *ctx, td_hist_query_t *e)
{
    for (td_hist_query_t **pp = &ctx->queries; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            ctx->n_queries--;
            return 1;
        }
    }
    return 0;
}

static void td_hist_query_finish(td_hist_ctx_t *ctx, td_hist_query_t *e, int how,
                                 const Temporal__Api__Query__V1__WorkflowQueryResult *res)
{
    td_hist_query_unlink(ctx, e);
    e->fn(e->arg, how, res);
    td_hist_query_destroy(e);
}

int td_hist__query_buffer(td_hist_ctx_t *ctx, const char *run_id,
                          const Temporal__Api__Query__V1__WorkflowQuery *query, td_hist_query_fn fn,
                          void *arg, td_hist_query_t **out)
{
    td_hist_query_t *e;
    td_hist_query_t **tail;

    if (ctx->n_queries >= TD_HIST_QUERY_MAX) {
        return TD_ELIMIT;
    }
    e = td_calloc(1, sizeof(*e));
    td_uuid_v4(e->id);
    e->run_id = td_strdup(run_id);
    e->packed_len = temporal__api__query__v1__workflow_query__get_packed_size(query);
    e->packed = td_malloc(e->packed_len > 0 ? e->packed_len : 1);
    temporal__api__query__v1__workflow_query__pack(query, e->packed);
    e->fn = fn;
    e->arg = arg;
    /* Append: queries are delivered (and answered) in arrival order. */
    for (tail = &ctx->queries; *tail != NULL; tail = &(*tail)->next) {
    }
    *tail = e;
    ctx->n_queries++;
    *out = e;
    td_log_debug("query %s buffered for %s/%s (a workflow task is in flight)", e->id,
                 ctx->workflow_id, run_id);
    return TD_OK;
}

void td_hist__query_remove(td_hist_ctx_t *ctx, td_hist_query_t *e)
{
    if (td_hist_query_unlink(ctx, e)) {
        td_hist_query_destroy(e);
    }
}

void td_hist__query_attach(td_hist_ctx_t *ctx, const char *run_id, td_arena_t *a,
                           td_hist_query_batch_t *batch)
{
    size_t n = 0, i = 0;

    batch->entries = NULL;
    batch->n = 0;
    for (td_hist_query_t *e = ctx->queries; e != NULL; e = e->next) {
        n += strcmp(e->run_id, run_id) == 0;
    }
    if (n == 0) {
        return;
    }
    batch->entries = td_arena_alloc(a, n * sizeof(*batch->entries));
    for (td_hist_query_t *e = ctx->queries; e != NULL; e = e->next) {
        Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse__QueriesEntry *ent;

        if (strcmp(e->run_id, run_id) != 0) {
            continue;
        }
        ent = td_arena_calloc(a, sizeof(*ent));
        temporal__api__workflowservice__v1__poll_workflow_task_queue_response__queries_entry__init(
                ent);
        ent->key = td_arena_strdup(a, e->id);
        ent->value = temporal__api__query__v1__workflow_query__unpack(td_arena_pb(a), e->packed_len,
                                                                      e->packed);
        if (ent->value == NULL) {
            /* Packed by us a moment ago: cannot happen short of memory corruption. */
            td_log_error("buffered query %s does not unpack", e->id);
            continue;
        }
        batch->entries[i++] = ent;
        td_log_debug("query %s delivered in a workflow task", e->id);
    }
    batch->n = i;
}

void td_hist__query_set(Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse *resp,
                        const td_hist_query_batch_t *batch)
{
    if (resp != NULL && batch != NULL && batch->n > 0) {
        resp->queries = batch->entries;
        resp->n_queries = batch->n;
    }
}

static td_hist_query_t *td_hist_query_find(td_hist_ctx_t *ctx, const char *run_id, const char *id)
{
    for (td_hist_query_t *e = ctx->queries; e != NULL; e = e->next) {
        if (strcmp(e->id, id) == 0 && strcmp(e->run_id, run_id) == 0) {
            return e;
        }
    }
    return NULL;
}

void td_hist__query_results(
        td_hist_ctx_t *ctx, const char *run_id,
        Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest__QueryResultsEntry
                *const *results,
        size_t n_results, int new_task)
{
    for (size_t i = 0; i < n_results; i++) {
        const Temporal__Api__Query__V1__WorkflowQueryResult *res = results[i]->value;
        td_hist_query_t *e;

        if (results[i]->key == NULL || res == NULL) {
            continue;
        }
        e = td_hist_query_find(ctx, run_id, results[i]->key);
        if (e == NULL) {
            /* Unknown or already released (caller gone): Temporal ignores it too. */
            continue;
        }
        td_log_debug("query %s answered in a workflow task completion (result type %d)", e->id,
                     (int)res->result_type);
        td_hist_query_finish(
                ctx, e,
                res->result_type ==
                                TEMPORAL__API__ENUMS__V1__QUERY_RESULT_TYPE__QUERY_RESULT_TYPE_ANSWERED
                        ? TD_HIST_QUERY_ANSWERED
                        : TD_HIST_QUERY_FAILED,
                res);
    }
    if (!new_task) {
        td_hist__query_unblock_run(ctx, run_id);
    }
}

void td_hist__query_unblock_run(td_hist_ctx_t *ctx, const char *run_id)
{
    td_hist_query_t *e = ctx->queries;

    while (e != NULL) {
        td_hist_query_t *next = e->next;
        if (strcmp(e->run_id, run_id) == 0) {
            /* Called while the context runs an operation: the callback only queues one, so
             * nothing else touches the list and next stays valid. */
            td_log_debug("query %s unblocked: a legacy query task answers it", e->id);
            td_hist_query_finish(ctx, e, TD_HIST_QUERY_UNBLOCKED, NULL);
        }
        e = next;
    }
}

/* As td_hist__query_unblock_run: called while ctx->running, so next stays valid. */
void td_hist__query_sweep(td_hist_ctx_t *ctx)
{
    const td_ms_t *ms = ctx->ms;
    td_hist_query_t *e = ctx->queries;

    if (ms == NULL) {
        return;
    }
    while (e != NULL) {
        td_hist_query_t *next = e->next;
        int same = strcmp(e->run_id, ms->run_id) == 0;
        if ((same && ms->state == TD_MS_STATE_COMPLETED) || (!same && ctx->ms_current)) {
            td_log_debug("query %s unblocked: its run closed", e->id);
            td_hist_query_finish(ctx, e, TD_HIST_QUERY_UNBLOCKED, NULL);
        }
        e = next;
    }
}

void td_hist__query_free_all(td_hist_ctx_t *ctx)
{
    while (ctx->queries != NULL) {
        td_hist_query_finish(ctx, ctx->queries, TD_HIST_QUERY_DROPPED, NULL);
    }
}
