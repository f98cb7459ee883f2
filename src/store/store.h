/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The persistence interface the roles call: one asynchronous, request-based API over the
 * durable records of a temporald cluster (cluster metadata, namespaces, history shards,
 * workflow executions, history event batches, history task queues, task-queue backlogs and
 * visibility records). It is not a database API: there is no SQL here, and a role never
 * includes sqlite3 or libpq headers. Record payloads are opaque blobs the caller encodes
 * (protobuf), stored next to an encoding tag so their format can evolve.
 *
 * How a call works:
 *
 *     td_store_req_t *req = td_store_req_new(TD_STORE_OP_EXEC_GET);
 *     req->in.exec_get.namespace_id = ...;  req->cb = my_done;  req->arg = me;
 *     td_store_submit(store, req);          (returns at once; never calls back synchronously)
 *     ...
 *     static void my_done(td_store_req_t *req, void *arg)    (on the loop thread)
 *     {   if (req->rc == TD_OK) use req->out.exec_get...; else log req->err;
 *         td_store_req_free(req); }
 *
 * Threads: td_store_submit() may be called from any thread. The request runs on a store
 * thread; its callback runs on the loop passed to td_store_open() (through td_loop_post), or,
 * when that loop is NULL, on the store thread itself. td_store_call() is the blocking form
 * for tools, tests and benchmarks (never call it on the loop thread of a serving process).
 *
 * Ownership: the caller owns the request. Inputs are borrowed: every pointer in req->in must
 * stay valid until the callback (allocating them in req->arena is the easy way). Outputs
 * (req->out, req->err) live in req->arena and die with the request. Between submit and
 * callback the store owns the request and the caller must not touch it.
 *
 * Errors (req->rc): TD_OK, or
 *   TD_ESHARDLOST  the shard's range_id is not the expected one (out.*.cur_range_id says
 *                  what it is): the shard was taken by another owner; stop using it.
 *   TD_ECONDITION  a record-version / lease / notification-version condition failed; the
 *                  current value is in the op's out struct (cur_* fields).
 *   TD_EEXIST      a create found an existing record (namespace name or id; execution
 *                  create whose current-run condition failed: out.write.current holds the
 *                  current run id, its state, status and create request id).
 *   TD_ENOTFOUND   a get or update named no record.
 *   TD_EIO, TD_EFULL, TD_EUNAVAIL   storage faults: the transaction did not commit, the
 *                  database is consistent, and later requests work again once the fault
 *                  clears (these map to UNAVAILABLE, which clients retry).
 *   TD_EINVAL      a malformed request (bad op, missing field, bad page token).
 *   TD_ECLOSED     the store was closed before the request ran.
 * req->err holds one human-readable line (library text included) whenever rc != TD_OK.
 * SQLITE_BUSY and friends never surface: backends retry them. When a group of writes hits
 * a storage fault, every request of the group that had not failed on its own condition gets
 * the fault (its err says "transaction not committed"): retrying is always safe.
 *
 * Durability: a write's callback runs only once its transaction is durable (for SQLite at
 * synchronous=FULL: after an fdatasync of the WAL). A read may already see a write whose
 * acknowledgement is still pending; if the process or machine dies before that, the write
 * and everything later are lost together (the log keeps a prefix), never in part.
 *
 * Backends: sqlite:///abs/path.db, sqlite://relative/path.db, sqlite://:memory: (SQLite,
 * src/store/sqlite/: WAL, one writer thread committing groups of requests, reader threads;
 * in memory, reads go through the writer) and postgres://user:pass@host:port/db
 * (src/store/postgres/). The conformance suite test/store/ holds every backend to this
 * contract.
 *
 * Conventions: ids are UTF-8 strings (namespace ids and run ids are 36-char UUIDs); times are
 * Unix nanoseconds (int64); an "ack level" is the lowest id NOT yet acknowledged, so "delete
 * below the ack level" removes ids < ack and "read from the ack level" returns ids >= it.
 * Page tokens are opaque bytes returned by the store; an empty token means "first page" on
 * input and "no more pages" on output.
 */
#ifndef TD_STORE_H
#define TD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "loop.h"

typedef struct td_store_s td_store_t;
typedef struct td_store_req_s td_store_req_t;

/* ------------------------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------------------------ */

/* Encoding tag stored beside every blob. */
typedef enum {
    TD_STORE_ENC_NONE = 0,   /* empty / no blob */
    TD_STORE_ENC_PROTO3 = 1, /* a protobuf message (which one is fixed by the column) */
    TD_STORE_ENC_JSON = 2,   /* reserved */
} td_store_encoding_t;

/* Bytes plus their encoding. On input the store copies them; on output they point into the
 * request's arena. */
typedef struct {
    const void *data;
    size_t len;
    int encoding; /* td_store_encoding_t */
} td_store_blob_t;

/* An opaque page token (empty = first page on input, no more pages on output). */
typedef struct {
    const uint8_t *data;
    size_t len;
} td_store_token_t;

/* ------------------------------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------------------------------ */

/* Cluster metadata: one row, written once at cluster creation. */
typedef struct {
    const char *cluster_name;
    int32_t history_shard_count; /* fixed forever once written */
    td_store_blob_t info;        /* ours, free-form (e.g. cluster id, versions) */
} td_store_cluster_t;

/* A row of cluster_membership: one member (a role of a process) and its last heartbeat,
 * the seeds a joining process contacts. Keyed by membership_address. */
typedef struct {
    const char *membership_address; /* "ip:port" of the member's SWIM socket */
    const char *host_id;            /* the process (one id per process) */
    const char *role;               /* "frontend", "history", "matching", "worker" */
    const char *rpc_address;        /* its gRPC "ip:port" */
    int64_t session_start_ms;
    int64_t heartbeat_ms; /* wall clock of the last heartbeat */
} td_store_member_row_t;

typedef struct {
    const td_store_member_row_t *rows; /* MEMBERS_HEARTBEAT: rows to insert or replace */
    int n_rows;
    int64_t expire_before_ms; /* MEMBERS_HEARTBEAT: rows beating before this are deleted */
    int64_t since_ms;         /* MEMBERS_LIST: rows beating at or after this */
} td_store_members_in_t;

typedef struct {
    td_store_member_row_t *rows; /* by membership_address */
    int n_rows;
} td_store_members_out_t;

/* A namespace. Names and ids are unique. notification_version is a store-wide counter bumped
 * by every create/update, so a cache can ask "anything newer than N?". */
typedef struct {
    const char *id;   /* 36-char UUID */
    const char *name; /* unique */
    td_store_blob_t detail;
    int64_t notification_version; /* output; on update the expected current value */
} td_store_namespace_t;

/* A history shard. Whoever increments range_id (TD_STORE_OP_SHARD_ACQUIRE) owns the shard;
 * every write of the previous owner then fails with TD_ESHARDLOST. */
typedef struct {
    int32_t shard_id;
    int64_t range_id;
    td_store_blob_t info; /* ours: ack levels, queue states; opaque to the store */
} td_store_shard_t;

/* Execution row states (Temporal's WorkflowExecutionState numbering). */
enum {
    TD_STORE_EXEC_STATE_CREATED = 1,
    TD_STORE_EXEC_STATE_RUNNING = 2,
    TD_STORE_EXEC_STATE_COMPLETED = 3, /* closed */
    TD_STORE_EXEC_STATE_ZOMBIE = 4,
};

/* One workflow run: the mutable state blob plus the indexed columns. */
typedef struct {
    const char *namespace_id;
    const char *workflow_id;
    const char *run_id;
    int32_t state;  /* TD_STORE_EXEC_STATE_* */
    int32_t status; /* temporal.api.enums.v1.WorkflowExecutionStatus */
    int64_t next_event_id;
    int64_t db_record_version;  /* written as given; conditions compare against it */
    int64_t last_write_ns;      /* set by the caller (wall clock) */
    td_store_blob_t state_blob; /* the history engine's encoded mutable state */
} td_store_execution_t;

/* The current-run pointer of a workflow id. */
typedef struct {
    const char *run_id;
    const char *create_request_id; /* the start request that created the run (dedup) */
    int32_t state;
    int32_t status;
} td_store_current_t;

/* How an execution write checks its conditions. */
typedef enum {
    /* No current run may exist for (namespace, workflow id). Else TD_EEXIST with the current
     * run in out.write.current (closed or not: the caller decides whether to replace it). */
    TD_STORE_EXEC_CREATE_BRAND_NEW = 1,
    /* The current run must be expected_prev_run_id (typically closed, possibly by an earlier
     * execution write of the same request, as continue-as-new does). Else TD_EEXIST with the
     * current run. The run row itself must not exist. */
    TD_STORE_EXEC_CREATE_REPLACE_CURRENT = 2,
    /* The row must exist with db_record_version == expected_db_record_version. Else
     * TD_ECONDITION with out.write.cur_db_record_version (-1 when the row is missing). */
    TD_STORE_EXEC_UPDATE = 3,
} td_store_exec_mode_t;

typedef struct {
    td_store_exec_mode_t mode;
    const char *expected_prev_run_id;   /* CREATE_REPLACE_CURRENT */
    int64_t expected_db_record_version; /* UPDATE */
    td_store_execution_t row;           /* the row as it must be after the write */
} td_store_exec_write_t;

/* One batch of history events appended to a branch. A branch is (tree_id, branch_id); the
 * history engine uses the run id for both until resets add forks. first_event_id is unique
 * per branch: appending an existing one fails with TD_ECONDITION. */
typedef struct {
    const char *tree_id;
    const char *branch_id;
    int64_t first_event_id;
    int32_t event_count;
    td_store_blob_t events; /* temporal.api.history.v1.History with those events */
} td_store_history_batch_t;

/* History task categories (one queue each per shard). */
typedef enum {
    TD_STORE_TASK_TRANSFER = 1,
    TD_STORE_TASK_TIMER = 2, /* ordered by (fire_time_ns, task_id) */
    TD_STORE_TASK_VISIBILITY = 3,
} td_store_task_category_t;

typedef struct {
    int category;         /* td_store_task_category_t */
    int64_t task_id;      /* allocated by the shard owner; unique per shard and category */
    int64_t fire_time_ns; /* timers only */
    td_store_blob_t blob; /* ours */
} td_store_task_t;

/* Task-queue kinds and types (Temporal's enum numbering). */
enum {
    TD_STORE_TQ_TYPE_WORKFLOW = 1,
    TD_STORE_TQ_TYPE_ACTIVITY = 2,
    TD_STORE_TQ_KIND_NORMAL = 1,
    TD_STORE_TQ_KIND_STICKY = 2,
};

/* A task queue (one partition: name carries the partition suffix). range_id is the lease:
 * the holder allocates backlog task ids from its range and every backlog write names it. */
typedef struct {
    const char *namespace_id;
    const char *name;
    int32_t type; /* TD_STORE_TQ_TYPE_* */
    int32_t kind; /* TD_STORE_TQ_KIND_* (output; input on acquire-create) */
    int64_t range_id;
    int64_t ack_level;    /* lowest backlog task id not yet acknowledged */
    int64_t expiry_ns;    /* sticky queues: when the record may be reaped; 0 = never */
    td_store_blob_t info; /* ours */
} td_store_task_queue_t;

/* One backlog task of a task queue. */
typedef struct {
    int64_t task_id;
    int64_t expiry_ns; /* 0 = never */
    td_store_blob_t blob;
} td_store_backlog_task_t;

/* Search attribute types (temporal.api.enums.v1.IndexedValueType numbering). */
typedef enum {
    TD_STORE_SA_TEXT = 1,
    TD_STORE_SA_KEYWORD = 2,
    TD_STORE_SA_INT = 3,
    TD_STORE_SA_DOUBLE = 4,
    TD_STORE_SA_BOOL = 5,
    TD_STORE_SA_DATETIME = 6, /* i = Unix ns */
    TD_STORE_SA_KEYWORD_LIST = 7,
} td_store_sa_type_t;

/* Text search attributes match word by word (Temporal's full-text semantics): a value's words
 * are its maximal runs of ASCII letters and digits and non-ASCII bytes, ASCII letters folded to
 * lower case. Writes out the distinct words of s (at most max, arena copies) and returns how
 * many; the query side and both backends use this one tokeniser, so they agree. */
int td_store_text_words(const char *s, td_arena_t *a, const char **out, int max);

/* One typed search attribute value. TEXT/KEYWORD/KEYWORD_LIST use s; INT, BOOL and DATETIME
 * use i; DOUBLE uses d. A keyword list is several entries with the same name. */
typedef struct {
    const char *name;
    int type; /* td_store_sa_type_t */
    int64_t i;
    double d;
    const char *s;
} td_store_sa_t;

/* A visibility record (one per run). */
typedef struct {
    const char *namespace_id;
    const char *workflow_id;
    const char *run_id;
    const char *workflow_type;
    const char *task_queue;
    int64_t start_time_ns;
    int64_t execution_time_ns;
    int64_t close_time_ns; /* 0 while running */
    int32_t status;        /* WorkflowExecutionStatus */
    int64_t history_length;
    int64_t history_size_bytes;
    /* The parent run that started this one as a child (NULL: none) and the root of its tree
     * (the run itself for a top-level run; NULL in records written before schema 2). */
    const char *parent_workflow_id, *parent_run_id;
    const char *root_workflow_id, *root_run_id;
    /* The first run of its continue-as-new / retry / cron chain and its state transition count
     * (NULL, 0 in records written before schema 3). */
    const char *first_run_id;
    int64_t state_transition_count;
    td_store_blob_t memo;              /* temporal.api.common.v1.Memo, returned as is */
    td_store_blob_t search_attributes; /* temporal.api.common.v1.SearchAttributes, as is */
    const td_store_sa_t *sas;          /* typed copies for filtering (input only) */
    int n_sas;
} td_store_visibility_t;

/* A structured visibility filter: a tree of comparisons. Fields are the built-in names
 * WorkflowId, RunId, WorkflowType, TaskQueue, ParentWorkflowId, ParentRunId, RootWorkflowId,
 * RootRunId (KEYWORD; the parent ones NULL without a parent), ExecutionStatus, HistoryLength,
 * HistorySizeBytes, ExecutionDuration (INT: ns from execution to close time, NULL while
 * open), StartTime, ExecutionTime, CloseTime (DATETIME), or the name of a
 * custom search attribute (compared with the value's type; a KEYWORD_LIST attribute matches
 * when any element matches; a TEXT value takes EQ only, true when the attribute has any of the
 * words of value.s, see td_store_text_words). The query language compiles into this. */
typedef enum {
    TD_STORE_VF_AND = 1, /* all of args */
    TD_STORE_VF_OR = 2,  /* any of args */
    TD_STORE_VF_NOT = 3, /* args[0] */
    TD_STORE_VF_CMP = 4, /* field op value */
} td_store_vf_kind_t;

typedef enum {
    TD_STORE_VF_EQ = 1,
    TD_STORE_VF_NE,
    TD_STORE_VF_LT,
    TD_STORE_VF_LE,
    TD_STORE_VF_GT,
    TD_STORE_VF_GE,
    TD_STORE_VF_STARTS_WITH, /* string prefix */
    TD_STORE_VF_IS_NULL,     /* attribute absent / CloseTime unset; value ignored */
    TD_STORE_VF_IS_NOT_NULL,
} td_store_vf_op_t;

typedef struct td_store_vfilter_s {
    int kind; /* td_store_vf_kind_t */
    const struct td_store_vfilter_s *const *args;
    int n_args;
    const char *field;
    int op;              /* td_store_vf_op_t */
    td_store_sa_t value; /* type selects which member is compared (name ignored) */
} td_store_vfilter_t;

/* Orderings for listing. The default is Temporal's: running first, then by close time
 * descending, then start time descending, then run id. */
typedef enum {
    TD_STORE_VORDER_DEFAULT = 0,
    TD_STORE_VORDER_START_TIME_DESC = 1,
    TD_STORE_VORDER_START_TIME_ASC = 2,
} td_store_vorder_t;

/* An ORDER BY key of a listing: a built-in name (StartTime, CloseTime, ExecutionTime,
 * HistoryLength, HistorySizeBytes, ExecutionStatus, ExecutionDuration, WorkflowId, RunId,
 * WorkflowType, TaskQueue) or a custom attribute of scalar type `type` (KEYWORD, INT,
 * DOUBLE, BOOL, DATETIME). A missing value sorts above every value (last ascending, first
 * descending), as CloseTime of a running workflow does in the default order. */
typedef struct {
    const char *field;
    int type; /* td_store_sa_type_t (custom attributes) */
    int desc;
} td_store_vsort_t;
#define TD_STORE_VSORT_MAX 3

/* ------------------------------------------------------------------------------------------
 * Operations. For each op: its in/out members of the request unions below.
 * ------------------------------------------------------------------------------------------ */

typedef enum {
    TD_STORE_OP_NONE = 0,
    /* cluster metadata */
    TD_STORE_OP_CLUSTER_INIT,      /* in.cluster: create if absent; out.cluster: the stored row
                                      (compare its shard count with yours: it never changes) */
    TD_STORE_OP_CLUSTER_GET,       /* out.cluster; TD_ENOTFOUND before init */
    TD_STORE_OP_MEMBERS_HEARTBEAT, /* in.members: upsert rows, delete expired ones */
    TD_STORE_OP_MEMBERS_LIST,      /* in.members.since_ms; out.members */
    /* namespaces */
    TD_STORE_OP_NS_CREATE, /* in.ns.rec (id, name, detail); TD_EEXIST if name or id taken;
                              out.ns.rec.notification_version */
    TD_STORE_OP_NS_GET,    /* in.ns.rec.id or .name (id wins); out.ns.rec; TD_ENOTFOUND */
    TD_STORE_OP_NS_UPDATE, /* in.ns.rec (by id; name may change) with notification_version =
                              the expected current one; TD_ECONDITION with out.ns.cur_version */
    TD_STORE_OP_NS_LIST,   /* in.ns_list (page); out.ns_list; ordered by name */
    TD_STORE_OP_NS_DELETE, /* in.ns.rec.id; TD_ENOTFOUND */
    /* shards */
    TD_STORE_OP_SHARD_GET_OR_CREATE, /* in.shard.rec (shard_id, info for a new row, range 1) */
    TD_STORE_OP_SHARD_ACQUIRE,       /* in.shard.rec.shard_id: range_id += 1 (row created with
                                        range 1 and in.shard.rec.info if absent); out.shard.rec */
    TD_STORE_OP_SHARD_UPDATE,        /* in.shard.rec (info) if range_id == in.shard.rec.range_id;
                                        else TD_ESHARDLOST with out.shard.cur_range_id */
    /* executions: the transition write (see td_store_write_in_t) */
    TD_STORE_OP_WRITE,
    TD_STORE_OP_EXEC_GET,    /* in.exec_get; out.exec_get; TD_ENOTFOUND */
    TD_STORE_OP_EXEC_DELETE, /* in.exec_del: removes the row and, when it points at this run,
                                the current pointer; history is deleted separately */
    /* history */
    TD_STORE_OP_HISTORY_READ,   /* in.hist_read; out.hist_read */
    TD_STORE_OP_HISTORY_DELETE, /* in.hist_del: every batch of the branch */
    /* history tasks */
    TD_STORE_OP_TASKS_READ,   /* in.tasks_read; out.tasks_read */
    TD_STORE_OP_TASKS_DELETE, /* in.tasks_del: ids (timers: (fire time, id)) below the ack */
    /* task queues and their backlog */
    TD_STORE_OP_TQ_ACQUIRE,     /* in.tq.rec key (+kind, info for a new row): range_id += 1,
                                   created with range 1 if absent; out.tq.rec */
    TD_STORE_OP_TQ_GET,         /* in.tq.rec key; out.tq.rec; TD_ENOTFOUND */
    TD_STORE_OP_TQ_UPDATE,      /* in.tq.rec (ack_level, expiry, info) if range_id matches;
                                   else TD_ECONDITION with out.tq.cur_range_id */
    TD_STORE_OP_TQ_DELETE,      /* in.tq.rec key with range_id as condition (TD_ECONDITION
                                   as for update); deletes the queue and its backlog */
    TD_STORE_OP_BACKLOG_INSERT, /* in.backlog_ins: all tasks or none, if the queue's range_id
                                   is in.backlog_ins.range_id (else TD_ECONDITION with
                                   out.tq.cur_range_id; TD_ENOTFOUND without the queue; an
                                   existing task id is TD_ECONDITION) */
    TD_STORE_OP_BACKLOG_READ,   /* in.backlog_read; out.backlog_read */
    TD_STORE_OP_BACKLOG_DELETE, /* in.backlog_del: task ids < ack_level */
    /* visibility */
    TD_STORE_OP_VIS_UPSERT, /* in.vis.rec: insert or replace the run's record (on start,
                               and on search-attribute upserts) */
    TD_STORE_OP_VIS_CLOSE,  /* in.vis.rec: replace the record with its closed form;
                               TD_ENOTFOUND when absent (the caller may upsert) */
    TD_STORE_OP_VIS_DELETE, /* in.vis.rec key (namespace_id, run_id) */
    TD_STORE_OP_VIS_LIST,   /* in.vis_query; out.vis_list */
    TD_STORE_OP_VIS_COUNT,  /* in.vis_query (filter only); out.vis_count */
    TD_STORE_OP__COUNT
} td_store_op_t;

/* TD_STORE_OP_WRITE: one workflow transition, committed atomically or not at all. Checks,
 * in this order, all inside the transaction: the shard's range_id (TD_ESHARDLOST); each
 * execution write's condition in array order (each sees the effect of the earlier ones); the
 * current-pointer condition. Then writes rows, history batches and tasks. n_execs may be 0
 * (history or tasks only, still fenced by the range_id). */
typedef struct {
    int32_t shard_id;
    int64_t expected_range_id;
    const td_store_exec_write_t *execs; /* 0..2 */
    int n_execs;
    /* The current-run pointer of execs[current_exec] after the write, or current_exec = -1 to
     * leave it alone. For a create it must name the created run. For an UPDATE the
     * current pointer must already point at that run (else TD_ECONDITION). */
    int current_exec;
    td_store_current_t current;
    const td_store_history_batch_t *batches;
    int n_batches;
    const td_store_task_t *tasks;
    int n_tasks;
} td_store_write_in_t;

typedef struct {
    int64_t cur_range_id;          /* TD_ESHARDLOST */
    int failed_exec;               /* index of the execution write that failed, or -1 */
    int64_t cur_db_record_version; /* TD_ECONDITION: -1 when the row is missing */
    int has_current;               /* TD_EEXIST: whether a current row exists */
    td_store_current_t current;    /* TD_EEXIST (and TD_ECONDITION on a current mismatch) */
} td_store_write_out_t;

typedef struct {
    const char *namespace_id;
    const char *workflow_id;
    const char *run_id; /* NULL or "" = the current run */
} td_store_exec_get_in_t;

typedef struct {
    td_store_execution_t row;
    int has_current;
    td_store_current_t current; /* the workflow id's current pointer, if any */
} td_store_exec_get_out_t;

typedef struct {
    int32_t shard_id;
    int64_t expected_range_id; /* 0 = not fenced */
    const char *namespace_id;
    const char *workflow_id;
    const char *run_id;
} td_store_exec_del_in_t;

typedef struct {
    const char *tree_id;
    const char *branch_id;
    int64_t min_event_id; /* inclusive */
    int64_t max_event_id; /* exclusive; 0 = no bound */
    int page_size;        /* events per page (whole batches: a page may exceed it by one
                             batch); 0 = everything */
    td_store_token_t token;
} td_store_hist_read_in_t;

typedef struct {
    td_store_history_batch_t *batches; /* in first_event_id order */
    int n_batches;
    td_store_token_t next_token;
} td_store_hist_read_out_t;

typedef struct {
    const char *tree_id;
    const char *branch_id;
} td_store_hist_del_in_t;

typedef struct {
    int32_t shard_id;
    int category;
    /* TRANSFER/VISIBILITY: task ids in [min_task_id, max_task_id) (max 0 = no bound).
     * TIMER: (fire_time_ns, task_id) in [(min_fire_ns, min_task_id), (max_fire_ns, 0)). */
    int64_t min_task_id;
    int64_t max_task_id;
    int64_t min_fire_ns;
    int64_t max_fire_ns;
    int page_size; /* tasks; 0 = everything */
    td_store_token_t token;
} td_store_tasks_read_in_t;

typedef struct {
    td_store_task_t *tasks;
    int n_tasks;
    td_store_token_t next_token;
} td_store_tasks_read_out_t;

typedef struct {
    int32_t shard_id;
    int category;
    int64_t ack_task_id; /* TRANSFER/VISIBILITY: delete ids < this */
    int64_t ack_fire_ns; /* TIMER: delete (fire, id) < (ack_fire_ns, ack_task_id) */
} td_store_tasks_del_in_t;

typedef struct {
    td_store_task_queue_t rec;
    int64_t cur_range_id; /* TD_ECONDITION */
} td_store_tq_io_t;

typedef struct {
    const char *namespace_id;
    const char *name;
    int32_t type;
    int64_t range_id; /* the lease held; TD_ECONDITION if it moved on */
    const td_store_backlog_task_t *tasks;
    int n_tasks;
} td_store_backlog_ins_in_t;

typedef struct {
    const char *namespace_id;
    const char *name;
    int32_t type;
    int64_t min_task_id; /* inclusive: the ack level */
    int64_t max_task_id; /* exclusive; 0 = no bound */
    int limit;           /* 0 = everything */
} td_store_backlog_read_in_t;

typedef struct {
    td_store_backlog_task_t *tasks;
    int n_tasks;
} td_store_backlog_read_out_t;

typedef struct {
    const char *namespace_id;
    const char *name;
    int32_t type;
    int64_t ack_level; /* delete task ids < ack_level */
} td_store_backlog_del_in_t;

typedef struct {
    td_store_token_t token;
    int page_size; /* 0 = everything */
} td_store_ns_list_in_t;

typedef struct {
    td_store_namespace_t *recs;
    int n_recs;
    td_store_token_t next_token;
} td_store_ns_list_out_t;

typedef struct {
    td_store_namespace_t rec;
    int64_t cur_version; /* TD_ECONDITION on update */
} td_store_ns_io_t;

typedef struct {
    td_store_shard_t rec;
    int64_t cur_range_id; /* TD_ESHARDLOST on update */
} td_store_shard_io_t;

typedef struct {
    const char *namespace_id;
    const td_store_vfilter_t *filter; /* NULL = all */
    int order;                        /* td_store_vorder_t (list only) */
    const td_store_vsort_t *sort;     /* list only: n_sort > 0 orders by these keys (then run
                                         id, in the first key's direction) instead of order */
    int n_sort;
    int page_size;          /* list only; 0 = everything */
    td_store_token_t token; /* list only */
} td_store_vis_query_in_t;

typedef struct {
    td_store_visibility_t *recs; /* sas/n_sas are not filled: decode search_attributes */
    int n_recs;
    td_store_token_t next_token;
} td_store_vis_list_out_t;

typedef void (*td_store_cb)(td_store_req_t *req, void *arg);

/* A request. Create with td_store_req_new() (or embed and td_store_req_init()), fill op,
 * the op's in member, cb and arg; submit; read rc, err and the op's out member in cb. */
struct td_store_req_s {
    td_store_op_t op;
    td_store_cb cb;
    void *arg;
    int rc;           /* result */
    const char *err;  /* "" when rc == TD_OK; one line otherwise (in arena) */
    td_arena_t arena; /* outputs; free for the caller's inputs too */
    union {
        td_store_cluster_t cluster;
        td_store_members_in_t members;
        td_store_ns_io_t ns;
        td_store_ns_list_in_t ns_list;
        td_store_shard_io_t shard;
        td_store_write_in_t write;
        td_store_exec_get_in_t exec_get;
        td_store_exec_del_in_t exec_del;
        td_store_hist_read_in_t hist_read;
        td_store_hist_del_in_t hist_del;
        td_store_tasks_read_in_t tasks_read;
        td_store_tasks_del_in_t tasks_del;
        td_store_tq_io_t tq;
        td_store_backlog_ins_in_t backlog_ins;
        td_store_backlog_read_in_t backlog_read;
        td_store_backlog_del_in_t backlog_del;
        td_store_visibility_t vis;
        td_store_vis_query_in_t vis_query;
    } in;
    union {
        td_store_cluster_t cluster;
        td_store_members_out_t members;
        td_store_ns_io_t ns;
        td_store_ns_list_out_t ns_list;
        td_store_shard_io_t shard;
        td_store_write_out_t write;
        td_store_exec_get_out_t exec_get;
        td_store_hist_read_out_t hist_read;
        td_store_tasks_read_out_t tasks_read;
        td_store_tq_io_t tq;
        td_store_backlog_read_out_t backlog_read;
        td_store_vis_list_out_t vis_list;
        int64_t vis_count;
    } out;
    /* private to the store */
    td_store_req_t *next_;
    void *sync_;
    td_store_t *store_;
    int64_t submit_ns_; /* for persistence_latency */
};

/* ------------------------------------------------------------------------------------------
 * Functions
 * ------------------------------------------------------------------------------------------ */

/* What open does about the schema. */
typedef enum {
    /* The schema must be exactly the version this binary wants; else TD_ESCHEMA with a
     * message naming `temporald schema update` (or setup, for an empty database). */
    TD_STORE_SCHEMA_REQUIRE = 0,
    /* Create or migrate the schema as needed (start-dev). */
    TD_STORE_SCHEMA_AUTO = 1,
    /* Do not look at the schema (the schema command, tools). */
    TD_STORE_SCHEMA_IGNORE = 2,
} td_store_schema_mode_t;

typedef struct {
    td_loop_t *loop; /* callbacks posted here; NULL = run on the store thread */
    td_store_schema_mode_t schema;
    const char *sqlite_synchronous; /* FULL (default) | NORMAL | OFF */
    const char *const *pragmas;     /* extra "name=value" pragmas (--sqlite-pragma) */
    int n_pragmas;
    int max_conns; /* reader connections (0 = backend default) */
} td_store_options_t;

/* Opens the store named by url (sqlite:///abs/path.db, sqlite://relative/path.db,
 * sqlite://:memory:, postgres://user:pass@host:port/db). On failure returns TD_EINVAL (bad
 * URL, unknown scheme), TD_EUNAVAIL/TD_EIO (cannot open/connect), TD_ESCHEMA (schema
 * mismatch) with one line in err, and *out = NULL. Blocking; call before the loop runs. */
int td_store_open(const char *url, const td_store_options_t *opt, td_store_t **out, char *err,
                  size_t errlen);
/* Stops the store threads and frees it. Requests still queued fail with TD_ECLOSED (their
 * callbacks are posted as usual); callers should drain their own requests first. NULL ok. */
void td_store_close(td_store_t *s);

/* Queues a request. Never calls back synchronously; the callback runs exactly once. */
void td_store_submit(td_store_t *s, td_store_req_t *req);
/* Runs a request and waits for it; returns req->rc. req->cb is not called. Any thread. */
int td_store_call(td_store_t *s, td_store_req_t *req);

/* Requests. new() allocates and inits (arena included); free() destroys and frees; NULL ok.
 * reset() clears in/out/rc and empties the arena so the request can be reused. */
td_store_req_t *td_store_req_new(td_store_op_t op);
void td_store_req_free(td_store_req_t *req);
void td_store_req_init(td_store_req_t *req, td_store_op_t op);
void td_store_req_destroy(td_store_req_t *req);
void td_store_req_reset(td_store_req_t *req, td_store_op_t op);

/* Name of an op ("WRITE", "EXEC_GET", ...) for logs. */
const char *td_store_op_name(int op);
/* Whether an op only reads (and may run on a reader connection). */
int td_store_op_is_read(int op);

/* The schema command: op is "setup" (empty database only), "update" (applies pending
 * migrations; idempotent) or "version". Reports the version found before and after in
 * *from / *to (0 = no schema) and the version this binary wants in *want. Blocking. */
int td_store_schema(const char *url, const td_store_options_t *opt, const char *op, int *from,
                    int *to, int *want, char *err, size_t errlen);

#endif
