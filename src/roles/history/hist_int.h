/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the history service shared by the src/roles/history/hist_*.c files: the
 * shards this process owns, the per-workflow context cache with its queue of operations
 * (one transition in flight per workflow), the in-memory transfer/timer/visibility task
 * queues, and the handlers. Not for use outside src/roles/history/; other roles call the
 * service by path (proto/historyservice.proto), tests through hist.h.
 *
 * Design notes
 * ============
 *
 * Shard ownership (td_hist_shard_t.state)
 *
 *   Invariants: only an OWNED shard runs operations and writes; every write names the
 *   range_id returned by the last acquire. Pending tasks of earlier owners are loaded before
 *   the shard becomes OWNED, so no ack-level delete can remove a task nobody has seen. Task
 *   ids are range_id << 24 | seq: when seq runs out the shard takes a new range (RENEWING)
 *   once the writes naming the old one have finished.
 *
 *   Which shards to own is the history ring's answer (cluster/ring.h, td_svc_ring): the
 *   shard controller (td_hist__shards_reconcile) acquires every shard the ring gives this
 *   process and releases the others, on every ring change and every 10 s. Without a ring
 *   (start-dev, tests) the process owns every shard. Acquiring bumps range_id in the store,
 *   which fences the previous owner's next write.
 *
 *             td_hist_shard_acquire         tasks of the previous owner read
 *     NEW ----------------------> ACQUIRING -------------------------------> OWNED
 *                                  ^   |  ^                                  |  ^
 *       ring names us again        |   +--+ store error: retry,   ids out    |  | new range
 *     +----------------------------+        backoff 0.1..5 s                 v  |
 *     |                                                                   RENEWING
 *   RELEASED <-- ring names another owner (from ACQUIRING, OWNED, RENEWING)
 *   LOST     <-- TD_ESHARDLOST on a write (from OWNED, RENEWING); re-acquired like RELEASED
 *
 *   FROM       -> TO         [function]
 *   NEW        -> ACQUIRING  [td_hist__shards_reconcile -> td_hist_shard_acquire]
 *   ACQUIRING  -> ACQUIRING  [td_hist_acquire_done (error: retry timer with backoff)]
 *   ACQUIRING  -> OWNED      [td_hist_load_done (last task category read)]
 *   OWNED      -> RENEWING   [td_hist__task_id (seq exhausted)]
 *   RENEWING   -> OWNED      [td_hist_acquire_done (renewal: no task reload)]
 *   OWNED, RENEWING -> LOST  [td_hist__shard_lost]
 *   ACQUIRING, OWNED, RENEWING -> RELEASED [td_hist_shard_release]
 *   RELEASED, LOST -> ACQUIRING [td_hist__shards_reconcile, when the ring names us again]
 *   Not OWNED: operations fail with UNAVAILABLE, and the internal listener answers calls for
 *   a shard the ring gives to another host with ShardOwnershipLost naming it (svc_net.c).
 *   Released and lost shards keep their in-memory tasks (running ones finish; none is
 *   dispatched); a later acquire reads the store's tasks, skips ids already in memory and
 *   re-drives the ready ones. Each acquire bumps gen, so states cached under an earlier
 *   ownership are dropped before use. Tasks already committed keep being processed while
 *   RENEWING; operations wait (UNAVAILABLE).
 *
 * A task (td_hist_task_t.state)
 *
 *   Invariants: a task is on its category's pending list from the moment its id is allocated
 *   until it is acknowledged, so the ack level (lowest pending id) never passes a task whose
 *   write may still commit. A timer is on the timer heap only while READY and not yet due.
 *   Acknowledged tasks are deleted from the store below the ack level (once a second).
 *
 *     allocate          write committed          dispatched            effect happened
 *     --------> INFLIGHT ---------------> READY -------------> RUNNING ----------------> (acked)
 *                  | write failed           ^                    |
 *                  v                        +--------------------+ retryable failure:
 *               (freed)                         backoff timer      100 ms doubling to 5 s
 *
 *   FROM      -> TO        [function]
 *   (none)    -> INFLIGHT  [td_hist__task_alloc (write), td_hist_task_parse (restart: READY)]
 *   INFLIGHT  -> READY     [td_hist__tasks_committed]
 *   INFLIGHT  -> freed     [td_hist__tasks_abort]
 *   READY     -> RUNNING   [td_hist__task_dispatch: matching call, timer due, visibility op,
 *                           cross-workflow chain (hist_xfer.c)]
 *   RUNNING   -> READY     [td_hist__task_retry]
 *   RUNNING   -> freed     [td_hist__task_ack]
 *
 * An operation on a workflow (td_hist_op_t), queued on the workflow's context
 *
 *   Invariants: at most one operation per context is between LOADING and DONE (ctx->running);
 *   the reply of a caller goes out only from done, after the commit; a failed write drops the
 *   cached state, so no operation ever sees a state the store does not hold.
 *
 *              head of queue        state at hand        something to write
 *     QUEUED -------------> LOADING -----------> APPLY -----------------> WRITING
 *                             ^  (cached: no read)  | nothing to write      | committed
 *                             |                     v                       | or failed
 *                             +------------------ DONE <--------------------+
 *                          done() returned 1 (conflict: reload, run again)
 *
 *   FROM     -> TO       [function]
 *   QUEUED   -> LOADING  [td_hist_ctx_kick -> td_hist_op_run]
 *   LOADING  -> APPLY    [td_hist_op_run (cached), td_hist_load_done]
 *   APPLY    -> WRITING  [td_hist_op_apply -> td_hist_write]
 *   APPLY    -> DONE     [td_hist_op_apply (nothing to write)]
 *   WRITING  -> DONE     [td_hist_write_done]
 *   WRITING  -> LOADING  [td_hist_write_done (TD_ECONDITION, once)]
 *   DONE     -> LOADING  [td_hist_op_finish (done returned 1)]
 *   Work that spans workflows (child start, external signal, parent notification) is a chain
 *   of such operations, one workflow at a time (hist_xfer.c): no two contexts are ever held.
 */
#ifndef TD_HIST_INT_H
#define TD_HIST_INT_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "loop.h"
#include "net/pb_raw.h"
#include "net/rpc.h"
#include "roles/history/ms/ms.h"
#include "temporal/api/protocol/v1/message.pb-c.h"
#include "store/store.h"

typedef struct td_server_s td_server_t;
typedef struct td_hist_s td_hist_t;
typedef struct td_hist_shard_s td_hist_shard_t;
typedef struct td_hist_ctx_s td_hist_ctx_t;
typedef struct td_hist_op_s td_hist_op_t;
typedef struct td_hist_task_s td_hist_task_t;
typedef struct td_hist_waiter_s td_hist_waiter_t;
typedef struct td_hist_query_s td_hist_query_t;
typedef struct td_hist_evc_s td_hist_evc_t;
typedef struct td_hist_update_s td_hist_update_t;

/* Task ids: range_id << 24 | seq. */
#define TD_HIST_SEQ_BITS 24
#define TD_HIST_SEQ_MAX  ((INT64_C(1) << TD_HIST_SEQ_BITS) - 1)
/* Store task categories are 1..3. */
#define TD_HIST_NCAT 4

enum {
    TD_HIST_SHARD_NEW = 0,
    TD_HIST_SHARD_ACQUIRING,
    TD_HIST_SHARD_OWNED,
    TD_HIST_SHARD_RENEWING,
    TD_HIST_SHARD_LOST,
    TD_HIST_SHARD_RELEASED
};
enum { TD_HIST_TASK_INFLIGHT = 1, TD_HIST_TASK_READY, TD_HIST_TASK_RUNNING };

struct td_hist_task_s {
    int category; /* td_store_task_category_t */
    int state;    /* TD_HIST_TASK_* */
    int64_t task_id;
    int64_t fire_ns; /* timers */
    char *namespace_id, *workflow_id, *run_id;
    char *normal_tq; /* the run's normal task queue (sticky fallback for matching) */
    td_ms_task_t t;  /* task_queue and timer_id are td_malloc'd copies */
    int retries;
    td_timer_t *retry_timer;
    td_hist_shard_t *shard;
    td_hist_task_t *prev, *next; /* pending list of the category */
    size_t heap_idx;             /* timers: position on the heap while READY */
    int on_heap;
};

struct td_hist_shard_s {
    td_hist_t *h;
    int32_t id;
    int state;
    int64_t range_id;
    int64_t next_seq;
    int loads_pending;   /* task categories still being read at acquire */
    int writes_inflight; /* store writes naming range_id */
    int acquire_inflight;
    int acquire_failures; /* in a row: the retry's backoff (backoff.h) */
    int ack_failures;     /* ack-level flushes failed in a row */
    td_hist_task_t *pending[TD_HIST_NCAT];
    int n_pending[TD_HIST_NCAT];
    td_hist_task_t **heap; /* READY timers, min (fire_ns, task_id) first */
    size_t n_heap, cap_heap;
    td_timer_t *fire_timer;
    td_timer_t *ack_timer;
    td_timer_t *acquire_timer;
    int ack_inflight[TD_HIST_NCAT];
    int64_t acked_id[TD_HIST_NCAT], acked_fire[TD_HIST_NCAT];
    uint32_t gen; /* bumped each time the shard becomes OWNED: older cached states are stale */
};

struct td_hist_waiter_s {
    td_rpc_call_t *call;
    td_hist_ctx_t *ctx;
    td_timer_t *timer;
    void *u;                             /* hist_read.c state */
    void (*wake)(td_hist_waiter_t *w);   /* new events were committed (w is off the list) */
    void (*expire)(td_hist_waiter_t *w); /* answer now as if the poll expired (drain) */
    td_hist_waiter_t *next;
};

struct td_hist_ctx_s {
    char *namespace_id, *workflow_id;
    td_hist_shard_t *shard;
    td_ms_t *ms;    /* the run last loaded or created; NULL = load on next use */
    int ms_current; /* ms is the workflow id's current run */
    td_hist_op_t *head, *tail;
    td_hist_waiter_t *waiters;
    td_hist_query_t *queries; /* buffered queries (hist_query.c), arrival order */
    int n_queries;
    td_hist_update_t *updates; /* update requests and their callers (hist_update.c) */
    int running;               /* the head op is between load and done */
    uint32_t gen;              /* shard->gen when ms was cached */
    int kick_posted;           /* a td_hist_ctx_kick is queued on the loop for this context */
    td_hist_ctx_t *hnext;
    int64_t last_used_ms;
    td_hist_evc_t *evc; /* the committed events of one run (hist_evc.c), or NULL */
};

enum {
    TD_HIST_LOAD_NONE = 0,     /* create: no state needed */
    TD_HIST_LOAD_REQUIRED = 1, /* missing run: NOT_FOUND */
    TD_HIST_LOAD_OPTIONAL = 2, /* missing run: apply with ms NULL */
    TD_HIST_LOAD_CACHED = 3,   /* the cached current run or NULL, never a store read (a start
                                  tries a brand-new create first; a conflict reloads) */
};

/* apply: the transition. ms is the loaded run (NULL only for LOAD_OPTIONAL/NONE). Emit into
 * t; set op->created (and op->create_mode, op->prev_run_id) to create a run. Returns the
 * outcome handed to done (an error with events still gets them written). */
typedef int (*td_hist_apply_fn)(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t);
/* done: after the write committed (rc = apply's result) or failed (rc = the error, msg set).
 * Return 1 to run the operation again from the load (the cache was dropped), else 0; after
 * 0 the context no longer touches op. */
typedef int (*td_hist_done_fn)(td_hist_op_t *op, int rc, const char *msg);

struct td_hist_op_s {
    td_hist_ctx_t *ctx;
    td_rpc_call_t *call;      /* NULL for internal operations */
    td_arena_t *arena;        /* the call's, or owned (internal) */
    const char *run_id;       /* "" = current run */
    int load;                 /* TD_HIST_LOAD_* */
    int dirty;                /* write even without events or tasks (state-only changes) */
    const char *limit_reason; /* set when the run passed limit.history*.error: terminate */
    int read_only;            /* never writes: served from the store (uncached) also while the
                                 shard is not owned yet, e.g. acquisition failing on a full disk */
    td_hist_apply_fn apply;
    td_hist_done_fn done;
    td_ms_txn_t txn;
    td_ms_t *ms;         /* the state the transition ran on (borrowed from the context) */
    td_ms_t *private_ms; /* a closed older run loaded for this operation only (owned) */
    /* creation */
    td_ms_t *created;
    int terminate_prev; /* ms closed in txn (terminated, or into its successor);
                           created's events are in txn2 */
    char new_run_id[40];
    td_ms_txn_t txn2;
    int create_mode; /* TD_STORE_EXEC_CREATE_* */
    const char *prev_run_id;
    int rc_apply;
    td_hist_task_t **tasks; /* allocated for this write */
    int n_tasks;
    /* write outcome */
    td_store_write_out_t wout;
    int runs;     /* how many times it ran (reload + retry once) */
    void *u, *u2; /* the handler's data */
    int64_t i64;  /* the handler's scratch */
    td_hist_op_t *next;
};

/* The events cache (hist_evc.c): entries by run id, least recently used last. */
typedef struct {
    td_hist_evc_t **buckets;
    size_t nbuckets;
    td_hist_evc_t *lru_head, *lru_tail;
    size_t bytes;  /* held, entry overheads included */
    size_t budget; /* history.events_cache_mib; 0 = off */
    size_t n_runs;
    int64_t hits, misses, evictions, drops;
} td_hist_evcache_t;

struct td_hist_s {
    td_server_t *srv;
    td_loop_t *loop;
    td_store_t *store;
    int nshards;
    td_hist_shard_t *shards;
    td_timer_t *reconcile_timer; /* periodic td_hist__shards_reconcile */
    void *ring_listen;           /* td_ring_listen handle, or NULL without a ring */
    td_hist_ctx_t **buckets;
    size_t nbuckets, nctx;
    int running;
    int64_t long_poll_ms;  /* history.longPollExpirationInterval */
    long long cache_max;   /* history.cacheMaxSize: idle contexts beyond it are evicted */
    td_ms_limits_t limits; /* per-run limits from dynamic config (limit.*, history.maximum...) */
    int inflight;          /* store requests and dispatches not yet finished */
    td_hist_evcache_t evc;
};

/* ---- hist_shard.c ---- */
uint32_t td_hist__hash(const char *namespace_id, const char *workflow_id);
td_hist_shard_t *td_hist__shard_for(td_hist_t *h, const char *namespace_id,
                                    const char *workflow_id);
void td_hist__shards_start(td_hist_t *h);
void td_hist__shards_free(td_hist_t *h);
/* Allocates a task id (TD_EUNAVAIL when the range is exhausted). */
int td_hist__task_id(td_hist_shard_t *s, int64_t *out);
/* Registers an INFLIGHT task for a transition of (ns, wf, run); strings copied. */
td_hist_task_t *td_hist__task_alloc(td_hist_shard_t *s, const td_ms_task_t *t, int64_t task_id,
                                    const char *ns, const char *wf, const char *run,
                                    const char *normal_tq);
/* Encodes a task as stored: the workflow key, then the td_ms_task_encode bytes. */
void td_hist__task_blob(td_hist_task_t *task, td_arena_t *a, td_store_blob_t *out);
void td_hist__tasks_committed(td_hist_task_t **v, int n);
void td_hist__tasks_abort(td_hist_task_t **v, int n);
void td_hist__task_ack(td_hist_task_t *task);
void td_hist__shard_lost(td_hist_shard_t *s, int64_t cur_range);
/* Acquires the shards the history ring gives this process and releases the others. */
void td_hist__shards_reconcile(td_hist_t *h);
/* Shards OWNED or RENEWING here. */
int td_hist__owned_count(const td_hist_t *h);
/* A write naming the range finished: a pending renewal may go ahead. */
void td_hist__shard_write_done(td_hist_shard_t *s);

/* ---- hist_ctx.c ---- */
td_hist_ctx_t *td_hist__ctx_get(td_hist_t *h, const char *namespace_id, const char *workflow_id);
/* Queues op on its context (op->ctx set by caller) and runs it when its turn comes. */
void td_hist__op_submit(td_hist_op_t *op);
/* An internal operation with its own arena; td_hist__op_free releases it. */
td_hist_op_t *td_hist__op_new_internal(td_hist_t *h, const char *ns, const char *wf,
                                       const char *run);
void td_hist__op_free_internal(td_hist_op_t *op);
void td_hist__ctx_notify(td_hist_ctx_t *ctx);
void td_hist__ctx_free_all(td_hist_t *h);
/* Answers every parked long poll at once (drain). */
void td_hist__ctx_expire_waiters(td_hist_t *h);
/* Drops every cached state (tests: simulate a fresh process on the same store). */
void td_hist__ctx_drop_states(td_hist_t *h);
/* Maps a store/ms error to what the caller should see. */
void td_hist__fail(td_rpc_call_t *call, int rc, const char *msg);

/* ---- hist_evc.c: the events cache ---- */
/* A write of c committed with these batches: appends the ones that continue the cached run,
 * starts a new entry for a run's first batch, drops what a gap makes unknown; then evicts
 * least recently used runs down to the budget. Call before anything reads the new events. */
void td_hist__evc_committed(td_hist_ctx_t *c, const td_store_history_batch_t *b, int n);
/* Drops c's cached events (failed write, unknown state, context freed). */
void td_hist__evc_drop(td_hist_ctx_t *c);
/* Drops the cached events of run_id wherever they are: call when a run's history is deleted
 * (or rewritten outside td_hist__op_submit's write path). No-op when not cached. */
void td_hist__evc_forget(td_hist_t *h, const char *run_id);
/* Serves events [min, max) of run_id exactly as td_hist__read_events would (page_events,
 * next_min), decoded into a: returns 1 when every one of them is cached, else 0 (read the
 * store). Never calls back. */
int td_hist__evc_read(td_hist_t *h, td_arena_t *a, const char *run_id, int64_t min, int64_t max,
                      int page_events, td_ms_event_t ***ev, size_t *n, int64_t *next_min);
/* The packed batches holding exactly events [min, max) of run_id, when [min, max) starts and
 * ends on cached batch boundaries: 1 with *parts (array in a; the bytes stay in the cache
 * and are valid only until the run's next write or drop: copy them at once), else 0. Their
 * concatenation is a packed temporal.api.history.v1.History. */
int td_hist__evc_raw(td_hist_t *h, td_arena_t *a, const char *run_id, int64_t min, int64_t max,
                     td_pb_slice_t **parts, size_t *n_parts);
/* Frees every entry and the index (role teardown). */
void td_hist__evc_free_all(td_hist_t *h);

/* ---- hist_query.c: buffered (consistent) queries ---- */
/* history.MaxBufferedQueryCount (Temporal's default). */
#define TD_HIST_QUERY_MAX 1
enum {
    TD_HIST_QUERY_ANSWERED = 1,
    TD_HIST_QUERY_FAILED,
    TD_HIST_QUERY_UNBLOCKED,
    TD_HIST_QUERY_DROPPED /* the context is being freed: fail the caller */
};
/* The outcome of a buffered query: ANSWERED/FAILED with the worker's result (valid only
 * during the call), or UNBLOCKED (NULL: send a legacy query task instead). The entry is
 * already off the registry. */
typedef void (*td_hist_query_fn)(void *arg, int how,
                                 const Temporal__Api__Query__V1__WorkflowQueryResult *res);
/* The queries a workflow task carries, snapshotted when the task started (arena). */
typedef struct {
    Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse__QueriesEntry **entries;
    size_t n;
} td_hist_query_batch_t;
/* Buffers a query for run_id (copied); TD_ELIMIT beyond TD_HIST_QUERY_MAX per context. */
int td_hist__query_buffer(td_hist_ctx_t *ctx, const char *run_id,
                          const Temporal__Api__Query__V1__WorkflowQuery *query, td_hist_query_fn fn,
                          void *arg, td_hist_query_t **out);
/* Drops an entry without calling back (caller cancelled); no-op if already gone. */
void td_hist__query_remove(td_hist_ctx_t *ctx, td_hist_query_t *e);
/* Snapshots run_id's buffered queries for a workflow task that just started. */
void td_hist__query_attach(td_hist_ctx_t *ctx, const char *run_id, td_arena_t *a,
                           td_hist_query_batch_t *batch);
/* Sets resp->queries from a batch (resp or batch may be NULL/empty). */
void td_hist__query_set(Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse *resp,
                        const td_hist_query_batch_t *batch);
/* A workflow task of run_id completed: answers the queries named in results; when the
 * completion scheduled no new workflow task (new_task 0) the rest are UNBLOCKED. */
void td_hist__query_results(
        td_hist_ctx_t *ctx, const char *run_id,
        Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest__QueryResultsEntry
                *const *results,
        size_t n_results, int new_task);
/* UNBLOCKs every buffered query of run_id. */
void td_hist__query_unblock_run(td_hist_ctx_t *ctx, const char *run_id);
/* After each operation: UNBLOCKs the queries of a run that is now closed (terminated, timed
 * out, or succeeded by a newer current run). */
void td_hist__query_sweep(td_hist_ctx_t *ctx);
/* Context teardown: every entry is DROPPED (callback runs, then freed). */
void td_hist__query_free_all(td_hist_ctx_t *ctx);

/* ---- hist_api.c: the start decision, shared with update-with-start (hist_update.c) ---- */
typedef struct {
    const Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest *req;
    const char *namespace_id;
    /* signal-with-start */
    const Temporal__Api__Workflowservice__V1__SignalWithStartWorkflowExecutionRequest *sws;
    /* outcome */
    const char *run_id;
    int started;
    int status;
    const char *exist_request_id, *exist_run_id, *exist_first_run_id;
} td_hist_start_t;
/* apply of a start (op->u = td_hist_start_t): given the current run (NULL = none), TD_OK with
 * op->created set (a new run), TD_OK with started 0 (same request again / USE_EXISTING), or
 * TD_ESTARTED with the exist_* fields and txn.msg set. */
int td_hist__start_apply(td_hist_op_t *op, td_ms_t *ms, td_ms_txn_t *t);

/* ---- hist_update.c: workflow updates (the in-memory registry and the RPCs) ---- */
/* Before td_ms_wft_complete of run_id: the requests held for the run and how many are unsent
 * (t->update_reqs, t->updates_unsent; unpacked into t->arena). */
void td_hist__update_prepare(td_hist_ctx_t *ctx, const char *run_id, td_ms_txn_t *t);
/* After a workflow task completion of run_id committed: answers the callers from
 * t->update_effects and rejects the requests the worker was sent but did not answer. */
void td_hist__update_completed(td_hist_ctx_t *ctx, const char *run_id, const td_ms_txn_t *t);
/* The update requests a workflow task of run_id that just started carries (ADMITTED and SENT
 * ones; they become SENT), as protocol messages sequenced before started_id (arena). */
typedef struct {
    Temporal__Api__Protocol__V1__Message **v;
    size_t n;
} td_hist_update_batch_t;
void td_hist__update_attach(td_hist_ctx_t *ctx, const char *run_id, int64_t started_id,
                            td_arena_t *a, td_hist_update_batch_t *batch);
/* Sets resp->messages from a batch (resp or batch may be NULL/empty). */
void td_hist__update_set(Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse *resp,
                         const td_hist_update_batch_t *batch);
/* After each operation: fails the callers of updates of a run that is now closed. */
void td_hist__update_sweep(td_hist_ctx_t *ctx);
/* Drain: every waiting caller is answered now with the stage its update reached. */
void td_hist__update_expire(td_hist_ctx_t *ctx);
/* Context teardown: every caller fails UNAVAILABLE, every entry is freed. */
void td_hist__update_free_all(td_hist_ctx_t *ctx);
/* Registers UpdateWorkflowExecution, PollWorkflowExecutionUpdate, ExecuteMultiOperation. */
int td_hist__register_update(td_hist_t *h);

/* ---- hist_queue.c ---- */
void td_hist__task_dispatch(td_hist_task_t *task);
void td_hist__timer_arm(td_hist_shard_t *s);
void td_hist__task_retry(td_hist_task_t *task);
/* Fills lim from dynamic config: Temporal's limit.historyCount.*, limit.historySize.*,
 * limit.numPending*.error, history.maximumSignalsPerExecution and limit.blobSize.* keys, each
 * defaulting to td_ms_limits_default(). */
void td_hist__limits_load(td_ms_limits_t *lim, const td_config_t *config);
/* After op's transition on ms (count0 events, size0 bytes of history before it): logs the
 * crossing of limit.historyCount.warn / limit.historySize.warn, and returns 1 (setting
 * op->limit_reason) when the still-running run is past an error limit. hist_limits.c. */
int td_hist__limit_check(td_hist_op_t *op, const td_ms_t *ms, int64_t count0, int64_t size0);
/* The transition that replaces op's when op->limit_reason is set: terminates ms with Temporal's
 * reason as "history-service"; returns TD_EINVAL (the caller's answer, message = reason). */
int td_hist__limit_terminate(td_hist_op_t *op, td_ms_t *ms);
/* Whether the failure about to be retried should be logged: the first, then at retries 1, 2, 4,
 * 8, ... so a task failing for an hour writes a dozen lines, not thousands. */
int td_hist__task_retry_logged(const td_hist_task_t *task);
/* hist_xfer.c: START_CHILD, SIGNAL/CANCEL_EXTERNAL, NOTIFY_PARENT, PARENT_CLOSE_POLICY. */
void td_hist__xfer_cross(td_hist_task_t *task);

/* ---- hist_reset.c ---- */
/* Registers HistoryService.ResetWorkflowExecution. */
int td_hist__register_reset(td_hist_t *h);

/* ---- hist_delete.c: deleting a run (DeleteWorkflowExecution, retention) ---- */
enum {
    TD_HIST_DELETE_TERMINATE = 1, /* DeleteWorkflowExecution: a running run is terminated first;
                                     run "" = the current run; a missing run is NOT_FOUND */
    TD_HIST_DELETE_CLOSED = 2,    /* retention: only a closed run is deleted (a running one is
                                     left, rc TD_OK); a missing named run gets its history and
                                     visibility deletes finished */
};
/* rc TD_OK once every record is gone (or nothing was to be deleted), else the error (msg
 * valid during the call). */
typedef void (*td_hist_delete_cb)(void *arg, int rc, const char *msg);
/* Deletes run `run_id` (strings copied) of (namespace_id, workflow_id): row, current pointer
 * when it names the run, history, visibility record. cb never runs synchronously. */
void td_hist__delete_run(td_hist_t *h, const char *namespace_id, const char *workflow_id,
                         const char *run_id, int mode, td_hist_delete_cb cb, void *arg);
/* The run is gone from the store: whatever is cached about it on ctx goes too (buffered
 * queries are unblocked; a cache keyed by run id forgets the run here). Loop thread. */
void td_hist__run_deleted(td_hist_ctx_t *ctx, const char *run_id);

/* ---- hist_retention.c ---- */
/* The retention a run of ms's namespace gets when it closes now (ns, namespace retention
 * plus its share of history.retentionTimerJitterDuration); 0 = never deleted. */
int64_t td_hist__retention(td_hist_t *h, const td_ms_t *ms);
/* A DELETE_HISTORY timer task is due: deletes the run if closed, then acks (or retries). */
void td_hist__retention_fire(td_hist_task_t *task);

/* ---- hist_vis.c ---- */
/* Typed copies (arena) of the custom search attributes in a packed SearchAttributes blob. */
void td_hist__vis_sas(td_hist_t *h, const char *namespace_id, const uint8_t *blob, size_t len,
                      td_arena_t *a, const td_store_sa_t **out, int *n_out);

/* ---- hist_read.c: small protobuf helpers ---- */
void *td_hist__pb(td_arena_t *a, const ProtobufCMessageDescriptor *d);
Google__Protobuf__Timestamp *td_hist__ts(td_arena_t *a, int64_t ns);
Google__Protobuf__Duration *td_hist__dur(td_arena_t *a, int64_t ns);
/* Unpacks a td_ms_blob_t-style packed message into the arena; NULL when empty. */
void *td_hist__unblob(td_arena_t *a, const uint8_t *data, size_t len,
                      const ProtobufCMessageDescriptor *d);

/* ---- hist_api.c / hist_read.c ---- */
/* Registers every HistoryService method with the server (ctx = h). */
int td_hist__register(td_hist_t *h);
void td_hist__get_history(td_rpc_call_t *call, void *ctx);
void td_hist__get_history_reverse(td_rpc_call_t *call, void *ctx);
void td_hist__describe(td_rpc_call_t *call, void *ctx);
void td_hist__query(td_rpc_call_t *call, void *ctx);
/* Reads events [min, max) of a run, appends to *ev (arena), then cb: from the events cache
 * when it holds them all (cb runs before this returns), else from the store (cb runs later). */
typedef void (*td_hist_events_cb)(void *arg, int rc, const char *msg, td_ms_event_t **ev, size_t n,
                                  int64_t next_min);
void td_hist__read_events(td_hist_t *h, td_arena_t *a, const char *run_id, int64_t min, int64_t max,
                          int page_events, td_hist_events_cb cb, void *arg);
/* Fills a PollWorkflowTaskQueueResponse for a started workflow task (reads history). */
typedef void (*td_hist_poll_cb)(
        void *arg, int rc, const char *msg,
        Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse *resp);
void td_hist__build_wft_response(td_hist_t *h, td_arena_t *a, const td_ms_t *ms,
                                 const td_ms_wft_started_t *st, td_hist_poll_cb cb, void *arg);

#endif
