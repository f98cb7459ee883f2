/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PostgreSQL backend's store ops: one function per td_store_op_t, each a few prepared
 * statements on one connection, plus the visibility filter compiler (a td_store_vfilter_t
 * tree into a parameterised WHERE clause). It does not manage transactions, threads or
 * reconnection: pg_store.c calls td_pg__execute() inside the group transaction (writes) or
 * in autocommit (reads) and decides what a failure does to the rest of the group.
 *
 * Conditions are checked in SQL where the statement can do it (UPDATE ... WHERE version = $n,
 * INSERT ... ON CONFLICT DO NOTHING); only when that finds nothing does a second statement
 * read the current value for the error. The shard fence (SELECT ... FOR SHARE) holds the
 * shard row until the group commits, so a concurrent SHARD_ACQUIRE from another process waits
 * for it and every write of the previous owner is ordered before the new range.
 */
#define TD_LOG_COMPONENT "store.pg"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mem.h"
#include "store/postgres/pg_int.h"
#include "store/store_vis.h"

#define TD_PG_NOLIMIT INT64_MAX

/* Every prepared statement: its SQL and the layout of its parameters, one letter per value
 * (td_pg_bind): s text (NULL binds NULL), i int32, I int64, N int64 bound as NULL when 0,
 * d double, b blob (two parameters: the bytes, then the encoding). VIS_SA_INSERT, whose value
 * columns depend on the attribute's type, binds its parameters by hand. Adding a column to a
 * statement is one edit here plus its value at the call site. */
typedef struct {
    const char *sql;
    const char *params;
} td_pg_stmt_def_t;

static const td_pg_stmt_def_t td_pg_stmts[TD_PQ__COUNT] = {
    [TD_PQ_CLUSTER_INIT] = { "INSERT INTO cluster_metadata (id, cluster_name, history_shard_count, "
                             "data, data_encoding) VALUES (1, $1, $2, $3, $4) "
                             "ON CONFLICT (id) DO NOTHING",
                             "sib" },
    [TD_PQ_CLUSTER_GET] = { "SELECT cluster_name, history_shard_count, data, data_encoding "
                            "FROM cluster_metadata WHERE id = 1",
                            "" },
    [TD_PQ_MEMBERS_PUT] = { "INSERT INTO cluster_membership (membership_address, host_id, role, "
                            "rpc_address, session_start_ms, heartbeat_ms) VALUES ($1, $2, $3, "
                            "$4, $5, $6) ON CONFLICT (membership_address) DO UPDATE SET "
                            "host_id = EXCLUDED.host_id, role = EXCLUDED.role, "
                            "rpc_address = EXCLUDED.rpc_address, "
                            "session_start_ms = EXCLUDED.session_start_ms, "
                            "heartbeat_ms = EXCLUDED.heartbeat_ms",
                            "ssssII" },
    [TD_PQ_MEMBERS_EXPIRE] = { "DELETE FROM cluster_membership WHERE heartbeat_ms < $1", "I" },
    [TD_PQ_MEMBERS_LIST] = { "SELECT membership_address, host_id, role, rpc_address, "
                             "session_start_ms, heartbeat_ms FROM cluster_membership "
                             "WHERE heartbeat_ms >= $1 ORDER BY membership_address",
                             "I" },
    [TD_PQ_NS_CREATE] = { "WITH v AS (UPDATE namespace_metadata SET notification_version = "
                          "notification_version + 1 WHERE id = 1 RETURNING notification_version) "
                          "INSERT INTO namespaces (id, name, data, data_encoding, "
                          "notification_version) SELECT $1, $2, $3, $4, v.notification_version "
                          "FROM v ON CONFLICT DO NOTHING RETURNING notification_version",
                          "ssb" },
    [TD_PQ_NS_GET_ID] = { "SELECT id, name, data, data_encoding, notification_version "
                          "FROM namespaces WHERE id = $1",
                          "s" },
    [TD_PQ_NS_GET_NAME] = { "SELECT id, name, data, data_encoding, notification_version "
                            "FROM namespaces WHERE name = $1",
                            "s" },
    [TD_PQ_NS_UPDATE] = { "WITH v AS (UPDATE namespace_metadata SET notification_version = "
                          "notification_version + 1 WHERE id = 1 RETURNING notification_version) "
                          "UPDATE namespaces n SET name = $2, data = $3, data_encoding = $4, "
                          "notification_version = v.notification_version FROM v "
                          "WHERE n.id = $1 AND n.notification_version = $5 "
                          "RETURNING n.notification_version",
                          "ssbI" },
    [TD_PQ_NS_VERSION] = { "SELECT notification_version FROM namespaces WHERE id = $1", "s" },
    [TD_PQ_NS_LIST] = { "SELECT id, name, data, data_encoding, notification_version "
                        "FROM namespaces WHERE name > $1 ORDER BY name LIMIT $2",
                        "sI" },
    [TD_PQ_NS_DELETE] = { "DELETE FROM namespaces WHERE id = $1", "s" },
    [TD_PQ_SHARD_INSERT] = { "INSERT INTO shards (shard_id, range_id, data, data_encoding) "
                             "VALUES ($1, 1, $2, $3) ON CONFLICT (shard_id) DO NOTHING",
                             "ib" },
    [TD_PQ_SHARD_GET] = { "SELECT range_id, data, data_encoding FROM shards WHERE shard_id = $1",
                          "i" },
    [TD_PQ_SHARD_ACQUIRE] = { "INSERT INTO shards (shard_id, range_id, data, data_encoding) "
                              "VALUES ($1, 1, $2, $3) ON CONFLICT (shard_id) DO UPDATE "
                              "SET range_id = shards.range_id + 1 "
                              "RETURNING range_id, data, data_encoding",
                              "ib" },
    [TD_PQ_SHARD_LOCK] = { "SELECT range_id FROM shards WHERE shard_id = $1 FOR SHARE", "i" },
    [TD_PQ_SHARD_SET] = { "UPDATE shards SET data = $3, data_encoding = $4 "
                          "WHERE shard_id = $1 AND range_id = $2",
                          "iIb" },
    [TD_PQ_CUR_GET] = { "SELECT run_id, create_request_id, state, status FROM current_executions "
                        "WHERE namespace_id = $1 AND workflow_id = $2 FOR UPDATE",
                        "ss" },
    [TD_PQ_CUR_PUT] = { "INSERT INTO current_executions (namespace_id, workflow_id, shard_id, "
                        "run_id, create_request_id, state, status) VALUES ($1, $2, $3, $4, $5, "
                        "$6, $7) ON CONFLICT (namespace_id, workflow_id) DO UPDATE SET "
                        "shard_id = EXCLUDED.shard_id, run_id = EXCLUDED.run_id, "
                        "create_request_id = EXCLUDED.create_request_id, "
                        "state = EXCLUDED.state, status = EXCLUDED.status",
                        "ssissii" },
    [TD_PQ_CUR_SET_RUN] = { "UPDATE current_executions SET create_request_id = "
                            "COALESCE($4, create_request_id), state = $5, status = $6 "
                            "WHERE namespace_id = $1 AND workflow_id = $2 AND run_id = $3",
                            "ssssii" },
    [TD_PQ_CUR_DELETE_RUN] = { "DELETE FROM current_executions WHERE namespace_id = $1 AND "
                               "workflow_id = $2 AND run_id = $3",
                               "sss" },
    [TD_PQ_EXEC_VERSION] = { "SELECT db_record_version FROM executions WHERE namespace_id = $1 "
                             "AND workflow_id = $2 AND run_id = $3",
                             "sss" },
    [TD_PQ_EXEC_INSERT] = { "INSERT INTO executions (namespace_id, workflow_id, run_id, shard_id, "
                            "state, status, next_event_id, db_record_version, last_write_ns, "
                            "data, data_encoding) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                            "$10, $11) ON CONFLICT DO NOTHING",
                            "sssiiiIIIb" },
    [TD_PQ_EXEC_UPDATE] = { "UPDATE executions SET shard_id = $4, state = $5, status = $6, "
                            "next_event_id = $7, db_record_version = $8, last_write_ns = $9, "
                            "data = $10, data_encoding = $11 WHERE namespace_id = $1 AND "
                            "workflow_id = $2 AND run_id = $3 AND db_record_version = $12",
                            "sssiiiIIIbI" },
    [TD_PQ_EXEC_GET] = { "SELECT e.run_id, e.state, e.status, e.next_event_id, "
                         "e.db_record_version, e.last_write_ns, e.data, e.data_encoding, "
                         "c.run_id, c.create_request_id, c.state, c.status "
                         "FROM executions e LEFT JOIN current_executions c "
                         "ON c.namespace_id = e.namespace_id AND c.workflow_id = e.workflow_id "
                         "WHERE e.namespace_id = $1 AND e.workflow_id = $2 "
                         "AND e.run_id = COALESCE(NULLIF($3, ''), c.run_id)",
                         "sss" },
    [TD_PQ_EXEC_DELETE] = { "DELETE FROM executions WHERE namespace_id = $1 AND workflow_id = $2 "
                            "AND run_id = $3",
                            "sss" },
    [TD_PQ_HIST_INSERT] = { "INSERT INTO history_node (tree_id, branch_id, node_id, event_count, "
                            "data, data_encoding) VALUES ($1, $2, $3, $4, $5, $6) "
                            "ON CONFLICT DO NOTHING",
                            "ssIib" },
    [TD_PQ_HIST_START] = { "SELECT max(node_id) FROM history_node WHERE tree_id = $1 AND "
                           "branch_id = $2 AND node_id <= $3",
                           "ssI" },
    [TD_PQ_HIST_READ] = { "SELECT node_id, event_count, data, data_encoding FROM history_node "
                          "WHERE tree_id = $1 AND branch_id = $2 AND node_id >= $3 AND "
                          "node_id < $4 ORDER BY node_id LIMIT $5",
                          "ssIII" },
    [TD_PQ_HIST_DELETE] = { "DELETE FROM history_node WHERE tree_id = $1 AND branch_id = $2",
                            "ss" },
    [TD_PQ_TASK_INSERT] = { "INSERT INTO history_tasks (shard_id, category, fire_ns, task_id, "
                            "data, data_encoding) VALUES ($1, $2, $3, $4, $5, $6)",
                            "iiIIb" },
    [TD_PQ_TASK_READ] = { "SELECT fire_ns, task_id, data, data_encoding FROM history_tasks "
                          "WHERE shard_id = $1 AND category = $2 AND fire_ns = 0 AND "
                          "task_id >= $3 AND task_id < $4 ORDER BY task_id LIMIT $5",
                          "iiIII" },
    [TD_PQ_TIMER_READ] = { "SELECT fire_ns, task_id, data, data_encoding FROM history_tasks "
                           "WHERE shard_id = $1 AND category = $2 AND (fire_ns, task_id) >= "
                           "($3, $4) AND fire_ns < $5 ORDER BY fire_ns, task_id LIMIT $6",
                           "iiIIII" },
    [TD_PQ_TASK_DELETE] = { "DELETE FROM history_tasks WHERE shard_id = $1 AND category = $2 "
                            "AND fire_ns = 0 AND task_id < $3",
                            "iiI" },
    [TD_PQ_TIMER_DELETE] = { "DELETE FROM history_tasks WHERE shard_id = $1 AND category = $2 "
                             "AND (fire_ns, task_id) < ($3, $4)",
                             "iiII" },
    [TD_PQ_TQ_ACQUIRE] = { "INSERT INTO task_queues (namespace_id, name, type, kind, range_id, "
                           "ack_level, expiry_ns, data, data_encoding) VALUES ($1, $2, $3, $4, 1, "
                           "0, $5, $6, $7) ON CONFLICT (namespace_id, name, type) DO UPDATE SET "
                           "range_id = task_queues.range_id + 1 "
                           "RETURNING kind, range_id, ack_level, expiry_ns, data, data_encoding",
                           "ssiiIb" },
    [TD_PQ_TQ_GET] = { "SELECT kind, range_id, ack_level, expiry_ns, data, data_encoding "
                       "FROM task_queues WHERE namespace_id = $1 AND name = $2 AND type = $3",
                       "ssi" },
    [TD_PQ_TQ_LOCK] = { "SELECT range_id FROM task_queues WHERE namespace_id = $1 AND name = $2 "
                        "AND type = $3 FOR SHARE",
                        "ssi" },
    [TD_PQ_TQ_UPDATE] = { "UPDATE task_queues SET ack_level = $5, expiry_ns = $6, data = $7, "
                          "data_encoding = $8 WHERE namespace_id = $1 AND name = $2 AND "
                          "type = $3 AND range_id = $4",
                          "ssiIIIb" },
    [TD_PQ_TQ_DELETE] = { "DELETE FROM task_queues WHERE namespace_id = $1 AND name = $2 AND "
                          "type = $3 AND range_id = $4",
                          "ssiI" },
    [TD_PQ_BL_DELETE_ALL] = { "DELETE FROM tasks WHERE namespace_id = $1 AND name = $2 AND "
                              "type = $3",
                              "ssi" },
    [TD_PQ_BL_INSERT] = { "INSERT INTO tasks (namespace_id, name, type, task_id, expiry_ns, data, "
                          "data_encoding) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                          "ssiIIb" },
    [TD_PQ_BL_READ] = { "SELECT task_id, expiry_ns, data, data_encoding FROM tasks "
                        "WHERE namespace_id = $1 AND name = $2 AND type = $3 AND task_id >= $4 "
                        "AND task_id < $5 ORDER BY task_id LIMIT $6",
                        "ssiIII" },
    [TD_PQ_BL_DELETE] = { "DELETE FROM tasks WHERE namespace_id = $1 AND name = $2 AND "
                          "type = $3 AND task_id < $4",
                          "ssiI" },
    [TD_PQ_VIS_UPSERT] = { "INSERT INTO executions_visibility (namespace_id, run_id, workflow_id, "
                           "workflow_type, task_queue, start_ns, execution_ns, close_ns, "
                           "sort_close, status, history_length, history_size_bytes, memo, "
                           "memo_encoding, search_attributes, sa_encoding, parent_workflow_id, "
                           "parent_run_id, root_workflow_id, root_run_id, first_run_id, "
                           "state_transition_count) VALUES ($1, $2, $3, "
                           "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
                           "$19, $20, $21, $22) "
                           "ON CONFLICT (namespace_id, run_id) DO UPDATE SET "
                           "workflow_id = EXCLUDED.workflow_id, "
                           "workflow_type = EXCLUDED.workflow_type, "
                           "task_queue = EXCLUDED.task_queue, start_ns = EXCLUDED.start_ns, "
                           "execution_ns = EXCLUDED.execution_ns, close_ns = EXCLUDED.close_ns, "
                           "sort_close = EXCLUDED.sort_close, status = EXCLUDED.status, "
                           "history_length = EXCLUDED.history_length, "
                           "history_size_bytes = EXCLUDED.history_size_bytes, "
                           "memo = EXCLUDED.memo, memo_encoding = EXCLUDED.memo_encoding, "
                           "search_attributes = EXCLUDED.search_attributes, "
                           "sa_encoding = EXCLUDED.sa_encoding, "
                           "parent_workflow_id = EXCLUDED.parent_workflow_id, "
                           "parent_run_id = EXCLUDED.parent_run_id, "
                           "root_workflow_id = EXCLUDED.root_workflow_id, "
                           "root_run_id = EXCLUDED.root_run_id, "
                           "first_run_id = EXCLUDED.first_run_id, "
                           "state_transition_count = EXCLUDED.state_transition_count",
                           "sssssIINIiIIbbsssssI" },
    [TD_PQ_VIS_CLOSE] = { "UPDATE executions_visibility SET workflow_id = $3, workflow_type = $4, "
                          "task_queue = $5, start_ns = $6, execution_ns = $7, close_ns = $8, "
                          "sort_close = $9, status = $10, history_length = $11, "
                          "history_size_bytes = $12, memo = $13, memo_encoding = $14, "
                          "search_attributes = $15, sa_encoding = $16, parent_workflow_id = $17, "
                          "parent_run_id = $18, root_workflow_id = $19, root_run_id = $20, "
                          "first_run_id = $21, state_transition_count = $22 "
                          "WHERE namespace_id = $1 AND run_id = $2",
                          "sssssIINIiIIbbsssssI" },
    [TD_PQ_VIS_DELETE] = { "DELETE FROM executions_visibility WHERE namespace_id = $1 AND "
                           "run_id = $2",
                           "ss" },
    [TD_PQ_VIS_SA_DELETE] = { "DELETE FROM visibility_sa WHERE namespace_id = $1 AND run_id = $2",
                              "ss" },
    [TD_PQ_VIS_SA_INSERT] = { "INSERT INTO visibility_sa (namespace_id, run_id, name, type, ival, "
                              "dval, sval) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                              "" },
    [TD_PQ_MARKER_INSERT] = { "INSERT INTO commit_markers (id) VALUES ($1)", "" },
    [TD_PQ_MARKER_PRUNE] = { "DELETE FROM commit_markers WHERE created_at < now() - "
                             "interval '1 day'",
                             "" },
    [TD_PQ_MARKER_DELETE] = { "DELETE FROM commit_markers WHERE id = $1", "" },
    [TD_PQ_FAST_FENCE] = { "SELECT 1 / (count(*) FILTER (WHERE s.range_id = $2))::int FROM "
                           "(SELECT range_id FROM shards WHERE shard_id = $1 FOR SHARE) s",
                           "iI" },
    [TD_PQ_FAST_EXEC_UPDATE] = { "WITH u AS (UPDATE executions SET shard_id = $4, state = $5, "
                                 "status = $6, next_event_id = $7, db_record_version = $8, "
                                 "last_write_ns = $9, data = $10, data_encoding = $11 "
                                 "WHERE namespace_id = $1 AND workflow_id = $2 AND run_id = $3 "
                                 "AND db_record_version = $12 RETURNING 1) "
                                 "SELECT 1 / count(*)::int FROM u",
                                 "sssiiiIIIbI" },
    [TD_PQ_FAST_CUR_SET] = { "WITH u AS (UPDATE current_executions SET create_request_id = "
                             "COALESCE($4, create_request_id), state = $5, status = $6 "
                             "WHERE namespace_id = $1 AND workflow_id = $2 AND run_id = $3 "
                             "RETURNING 1) SELECT 1 / count(*)::int FROM u",
                             "ssssii" },
    [TD_PQ_FAST_CUR_ABSENT] = { "SELECT 1 / (1 - count(*))::int FROM current_executions "
                                "WHERE namespace_id = $1 AND workflow_id = $2",
                                "ss" },
    [TD_PQ_FAST_CUR_IS] = { "SELECT 1 / count(*)::int FROM (SELECT 1 FROM current_executions "
                            "WHERE namespace_id = $1 AND workflow_id = $2 AND run_id = $3 "
                            "FOR UPDATE) s",
                            "sss" },
    [TD_PQ_FAST_CUR_INSERT] = { "INSERT INTO current_executions (namespace_id, workflow_id, "
                                "shard_id, run_id, create_request_id, state, status) VALUES ($1, "
                                "$2, $3, $4, $5, $6, $7)",
                                "ssissii" },
    [TD_PQ_FAST_EXEC_INSERT] = { "INSERT INTO executions (namespace_id, workflow_id, run_id, "
                                 "shard_id, state, status, next_event_id, db_record_version, "
                                 "last_write_ns, data, data_encoding) VALUES ($1, $2, $3, $4, $5, "
                                 "$6, $7, $8, $9, $10, $11)",
                                 "sssiiiIIIb" },
    [TD_PQ_FAST_HIST_INSERT] = { "INSERT INTO history_node (tree_id, branch_id, node_id, "
                                 "event_count, data, data_encoding) VALUES ($1, $2, $3, $4, $5, "
                                 "$6)",
                                 "ssIib" },
};

/* Fills p (reset first) with the parameters of statement id from ap, one per letter of its
 * layout (td_pg_stmts). */
static void td_pg_bindv(td_pg_params_t *p, td_store_req_t *req, int id, va_list *ap)
{
    td_pg__params_init(p, req);
    for (const char *l = td_pg_stmts[id].params; *l != '\0'; l++) {
        switch (*l) {
        case 's':
            td_pg__p_text(p, va_arg(*ap, const char *));
            break;
        case 'i':
            td_pg__p_i32(p, va_arg(*ap, int));
            break;
        case 'I':
            td_pg__p_i64(p, va_arg(*ap, int64_t));
            break;
        case 'N': {
            int64_t v = va_arg(*ap, int64_t);
            if (v != 0) {
                td_pg__p_i64(p, v);
            } else {
                td_pg__p_null_i64(p);
            }
            break;
        }
        case 'd':
            td_pg__p_f64(p, va_arg(*ap, double));
            break;
        case 'b': {
            const td_store_blob_t *b = va_arg(*ap, const td_store_blob_t *);
            td_pg__p_bytes(p, b->data, b->len);
            td_pg__p_i32(p, b->encoding);
            break;
        }
        default:
            abort(); /* a layout letter this binder does not know: a bug in td_pg_stmts */
        }
    }
}

/* td_pg_bindv from the arguments. Returns id, so it can sit in the call that runs it. */
static int td_pg_bind(td_pg_params_t *p, td_store_req_t *req, int id, ...)
{
    va_list ap;

    va_start(ap, id);
    td_pg_bindv(p, req, id, &ap);
    va_end(ap);
    return id;
}

/* Runs statement id with the arguments (td_pg_bind) into r; on failure sets rc and jumps to
 * out. Needs c, req and a td_pg_params_t p in scope. */
#define TD_PG_RUN(r, ...)                                                                \
    do {                                                                                 \
        if (((r) = td_pg__exec(c, req, td_pg_bind(&p, req, __VA_ARGS__), &p)) == NULL) { \
            rc = req->rc;                                                                \
            goto out;                                                                    \
        }                                                                                \
    } while (0)

const char *td_pg__sql(int id)
{
    return td_pg_stmts[id].sql;
}

static long td_pg_affected(PGresult *r)
{
    return atol(PQcmdTuples(r));
}

static int td_pg_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* Runs statement id with the arguments (td_pg_bind) for its effect; *affected (when not NULL)
 * gets the number of rows it changed. Returns TD_OK or the failure (req->rc). */
static int td_pg_do(td_pg_conn_t *c, td_store_req_t *req, long *affected, int id, ...)
{
    td_pg_params_t p;
    PGresult *r;
    va_list ap;

    va_start(ap, id);
    td_pg_bindv(&p, req, id, &ap);
    va_end(ap);
    if ((r = td_pg__exec(c, req, id, &p)) == NULL) {
        return req->rc;
    }
    if (affected != NULL) {
        *affected = td_pg_affected(r);
    }
    PQclear(r);
    return TD_OK;
}

/* ---- cluster ---- */

static void td_pg_read_cluster(td_store_req_t *req, PGresult *r)
{
    td_store_cluster_t *o = &req->out.cluster;
    o->cluster_name = td_pg__str(req, r, 0, 0);
    o->history_shard_count = (int32_t)td_pg__i64(r, 0, 1);
    o->info = td_pg__blob(req, r, 0, 2, 3);
}

static int td_pg_op_cluster(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_cluster_t *in = &req->in.cluster;
    int init = req->op == TD_STORE_OP_CLUSTER_INIT;
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc = TD_OK;

    if (init) {
        if (td_pg_empty(in->cluster_name) || in->history_shard_count <= 0) {
            rc = td_store__fail(req, TD_EINVAL,
                                "cluster init: needs a name and a positive shard count");
            goto out;
        }
        TD_PG_RUN(r, TD_PQ_CLUSTER_INIT, in->cluster_name, in->history_shard_count, &in->info);
        PQclear(r);
    }
    TD_PG_RUN(r, TD_PQ_CLUSTER_GET);
    if (PQntuples(r) == 0) {
        rc = td_store__fail(req, TD_ENOTFOUND, "cluster metadata: not initialised");
        goto out;
    }
    td_pg_read_cluster(req, r);
out:
    PQclear(r);
    return rc;
}

/* ---- cluster membership ---- */

static int td_pg_op_members_heartbeat(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_members_in_t *in = &req->in.members;
    int rc = TD_OK;

    for (int i = 0; i < in->n_rows && rc == TD_OK; i++) {
        const td_store_member_row_t *row = &in->rows[i];
        rc = td_pg_do(c, req, NULL, TD_PQ_MEMBERS_PUT, row->membership_address, row->host_id,
                      row->role, row->rpc_address, row->session_start_ms, row->heartbeat_ms);
    }
    if (rc == TD_OK) {
        rc = td_pg_do(c, req, NULL, TD_PQ_MEMBERS_EXPIRE, in->expire_before_ms);
    }
    return rc;
}

static int td_pg_op_members_list(td_pg_conn_t *c, td_store_req_t *req)
{
    td_store_members_out_t *o = &req->out.members;
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc = TD_OK;

    TD_PG_RUN(r, TD_PQ_MEMBERS_LIST, req->in.members.since_ms);
    o->n_rows = PQntuples(r);
    o->rows = td_arena_calloc(&req->arena, sizeof(*o->rows) * (size_t)(o->n_rows + 1));
    for (int i = 0; i < o->n_rows; i++) {
        td_store_member_row_t *row = &o->rows[i];
        row->membership_address = td_pg__str(req, r, i, 0);
        row->host_id = td_pg__str(req, r, i, 1);
        row->role = td_pg__str(req, r, i, 2);
        row->rpc_address = td_pg__str(req, r, i, 3);
        row->session_start_ms = td_pg__i64(r, i, 4);
        row->heartbeat_ms = td_pg__i64(r, i, 5);
    }
out:
    PQclear(r);
    return rc;
}

/* ---- namespaces ---- */

static void td_pg_read_ns(td_store_req_t *req, PGresult *r, int row, td_store_namespace_t *o)
{
    o->id = td_pg__str(req, r, row, 0);
    o->name = td_pg__str(req, r, row, 1);
    o->detail = td_pg__blob(req, r, row, 2, 3);
    o->notification_version = td_pg__i64(r, row, 4);
}

static int td_pg_op_ns_create(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_namespace_t *in = &req->in.ns.rec;
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc = TD_OK;

    if (td_pg_empty(in->id) || td_pg_empty(in->name)) {
        rc = td_store__fail(req, TD_EINVAL, "namespace create: needs an id and a name");
        goto out;
    }
    TD_PG_RUN(r, TD_PQ_NS_CREATE, in->id, in->name, &in->detail);
    if (PQntuples(r) == 0) {
        rc = td_store__fail(req, TD_EEXIST, "namespace create: name '%s' or id '%s' exists",
                            in->name, in->id);
        goto out;
    }
    req->out.ns.rec = *in;
    req->out.ns.rec.notification_version = td_pg__i64(r, 0, 0);
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_ns_get(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_namespace_t *in = &req->in.ns.rec;
    td_pg_params_t p;
    PGresult *r = NULL;
    int by_id = !td_pg_empty(in->id);
    int rc = TD_OK;

    if (!by_id && td_pg_empty(in->name)) {
        rc = td_store__fail(req, TD_EINVAL, "namespace get: needs an id or a name");
        goto out;
    }
    TD_PG_RUN(r, by_id ? TD_PQ_NS_GET_ID : TD_PQ_NS_GET_NAME, by_id ? in->id : in->name);
    if (PQntuples(r) == 0) {
        rc = td_store__fail(req, TD_ENOTFOUND, "namespace %s '%s' not found", by_id ? "id" : "name",
                            by_id ? in->id : in->name);
        goto out;
    }
    td_pg_read_ns(req, r, 0, &req->out.ns.rec);
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_ns_update(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_namespace_t *in = &req->in.ns.rec;
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc = TD_OK;

    if (td_pg_empty(in->id) || td_pg_empty(in->name)) {
        rc = td_store__fail(req, TD_EINVAL, "namespace update: needs an id and a name");
        goto out;
    }
    if ((r = td_pg__exec(c, req,
                         td_pg_bind(&p, req, TD_PQ_NS_UPDATE, in->id, in->name, &in->detail,
                                    in->notification_version),
                         &p)) == NULL) {
        rc = req->rc;
        if (rc == TD_ECONDITION) { /* unique violation: the new name belongs to another */
            rc = td_store__fail(req, TD_EEXIST, "namespace name '%s' is taken", in->name);
        }
        goto out;
    }
    if (PQntuples(r) == 1) {
        req->out.ns.rec = *in;
        req->out.ns.rec.notification_version = td_pg__i64(r, 0, 0);
        goto out;
    }
    PQclear(r);
    TD_PG_RUN(r, TD_PQ_NS_VERSION, in->id);
    if (PQntuples(r) == 0) {
        rc = td_store__fail(req, TD_ENOTFOUND, "namespace id '%s' not found", in->id);
        goto out;
    }
    req->out.ns.cur_version = td_pg__i64(r, 0, 0);
    rc = td_store__fail(req, TD_ECONDITION,
                        "namespace update: notification version is %" PRId64 ", not %" PRId64,
                        req->out.ns.cur_version, in->notification_version);
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_ns_list(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_ns_list_in_t *in = &req->in.ns_list;
    td_store_ns_list_out_t *o = &req->out.ns_list;
    td_pg_params_t p;
    PGresult *r = NULL;
    const char *after = "";
    int64_t none[1];
    int present = 0;
    int rc = TD_OK;
    int n;

    if (td_store__token_read_str(req, &in->token, none, 0, &after, &present) != TD_OK) {
        rc = td_store__fail(req, TD_EINVAL, "namespace list: bad page token");
        goto out;
    }
    if (!present) {
        after = "";
    }
    TD_PG_RUN(r, TD_PQ_NS_LIST, after,
              in->page_size > 0 ? (int64_t)in->page_size + 1 : TD_PG_NOLIMIT);
    n = PQntuples(r);
    if (in->page_size > 0 && n > in->page_size) {
        n = in->page_size;
    }
    o->recs = td_arena_calloc(&req->arena, sizeof(*o->recs) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        td_pg_read_ns(req, r, i, &o->recs[i]);
    }
    o->n_recs = n;
    if (n < PQntuples(r)) {
        o->next_token = td_store__token_make_str(req, none, 0, o->recs[n - 1].name);
    }
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_ns_delete(td_pg_conn_t *c, td_store_req_t *req)
{
    long n = 0;
    int rc;

    if (td_pg_empty(req->in.ns.rec.id)) {
        return td_store__fail(req, TD_EINVAL, "namespace delete: needs an id");
    }
    rc = td_pg_do(c, req, &n, TD_PQ_NS_DELETE, req->in.ns.rec.id);
    if (rc == TD_OK && n == 0) {
        rc = td_store__fail(req, TD_ENOTFOUND, "namespace id '%s' not found", req->in.ns.rec.id);
    }
    return rc;
}

/* ---- shards ---- */

static int td_pg_op_shard(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_shard_t *in = &req->in.shard.rec;
    td_store_shard_t *o = &req->out.shard.rec;
    int acquire = req->op == TD_STORE_OP_SHARD_ACQUIRE;
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc = TD_OK;

    TD_PG_RUN(r, acquire ? TD_PQ_SHARD_ACQUIRE : TD_PQ_SHARD_INSERT, in->shard_id, &in->info);
    if (!acquire) {
        PQclear(r);
        TD_PG_RUN(r, TD_PQ_SHARD_GET, in->shard_id);
    }
    if (PQntuples(r) != 1) {
        rc = td_store__fail(req, TD_EINTERNAL, "shard %d: row vanished", (int)in->shard_id);
        goto out;
    }
    o->shard_id = in->shard_id;
    o->range_id = td_pg__i64(r, 0, 0);
    o->info = td_pg__blob(req, r, 0, 1, 2);
out:
    PQclear(r);
    return rc;
}

/* Locks the shard row (FOR SHARE, until the group commits) and checks its range_id:
 * TD_ESHARDLOST with *cur when it moved on (or 0 when there is no row). */
static int td_pg_shard_fence(td_pg_conn_t *c, td_store_req_t *req, int32_t shard_id,
                             int64_t expected, int64_t *cur)
{
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc = TD_OK;

    TD_PG_RUN(r, TD_PQ_SHARD_LOCK, shard_id);
    *cur = PQntuples(r) == 1 ? td_pg__i64(r, 0, 0) : 0;
    if (*cur != expected) {
        rc = td_store__fail(req, TD_ESHARDLOST,
                            "shard %d: range_id is %" PRId64 ", expected %" PRId64, (int)shard_id,
                            *cur, expected);
    }
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_shard_update(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_shard_t *in = &req->in.shard.rec;
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc = TD_OK;

    TD_PG_RUN(r, TD_PQ_SHARD_SET, in->shard_id, in->range_id, &in->info);
    if (td_pg_affected(r) == 1) {
        req->out.shard.rec = *in;
        goto out;
    }
    PQclear(r);
    TD_PG_RUN(r, TD_PQ_SHARD_GET, in->shard_id);
    req->out.shard.cur_range_id = PQntuples(r) == 1 ? td_pg__i64(r, 0, 0) : 0;
    rc = td_store__fail(req, TD_ESHARDLOST, "shard %d: range_id is %" PRId64 ", expected %" PRId64,
                        (int)in->shard_id, req->out.shard.cur_range_id, in->range_id);
out:
    PQclear(r);
    return rc;
}

/* ---- executions ---- */

/* Reads the current pointer of (ns, wf) FOR UPDATE into out; *found says whether it exists. */
static int td_pg_current_get(td_pg_conn_t *c, td_store_req_t *req, const char *ns, const char *wf,
                             td_store_current_t *cur, int *found)
{
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc = TD_OK;

    *found = 0;
    memset(cur, 0, sizeof(*cur));
    TD_PG_RUN(r, TD_PQ_CUR_GET, ns, wf);
    if (PQntuples(r) == 1) {
        *found = 1;
        cur->run_id = td_pg__str(req, r, 0, 0);
        cur->create_request_id = td_pg__str(req, r, 0, 1);
        cur->state = (int32_t)td_pg__i64(r, 0, 2);
        cur->status = (int32_t)td_pg__i64(r, 0, 3);
    }
out:
    PQclear(r);
    return rc;
}

/* One execution write: its condition, then its row. */
static int td_pg_exec_write(td_pg_conn_t *c, td_store_req_t *req, int32_t shard_id,
                            const td_store_exec_write_t *w)
{
    const td_store_execution_t *e = &w->row;
    td_store_write_out_t *o = &req->out.write;
    td_pg_params_t p;
    PGresult *r = NULL;
    int found = 0;
    int rc = TD_OK;

    if (td_pg_empty(e->namespace_id) || td_pg_empty(e->workflow_id) || td_pg_empty(e->run_id)) {
        rc = td_store__fail(req, TD_EINVAL,
                            "write: an execution needs namespace, workflow "
                            "and run ids");
        goto out;
    }
    switch (w->mode) {
    case TD_STORE_EXEC_CREATE_BRAND_NEW:
    case TD_STORE_EXEC_CREATE_REPLACE_CURRENT:
        rc = td_pg_current_get(c, req, e->namespace_id, e->workflow_id, &o->current, &found);
        if (rc != TD_OK) {
            goto out;
        }
        o->has_current = found;
        if (w->mode == TD_STORE_EXEC_CREATE_BRAND_NEW && found) {
            rc = td_store__fail(req, TD_EEXIST, "write: workflow '%s' has a current run '%s'",
                                e->workflow_id, o->current.run_id);
            goto out;
        }
        if (w->mode == TD_STORE_EXEC_CREATE_REPLACE_CURRENT &&
            (!found || w->expected_prev_run_id == NULL ||
             strcmp(o->current.run_id, w->expected_prev_run_id) != 0)) {
            rc = td_store__fail(req, TD_EEXIST,
                                "write: workflow '%s' current run is '%s', expected '%s'",
                                e->workflow_id, found ? o->current.run_id : "(none)",
                                w->expected_prev_run_id ? w->expected_prev_run_id : "(null)");
            goto out;
        }
        TD_PG_RUN(r, TD_PQ_EXEC_INSERT, e->namespace_id, e->workflow_id, e->run_id, shard_id,
                  e->state, e->status, e->next_event_id, e->db_record_version, e->last_write_ns,
                  &e->state_blob);
        if (td_pg_affected(r) != 1) {
            rc = td_store__fail(req, TD_EEXIST, "write: run '%s' of workflow '%s' exists",
                                e->run_id, e->workflow_id);
        }
        break;
    case TD_STORE_EXEC_UPDATE:
        TD_PG_RUN(r, TD_PQ_EXEC_UPDATE, e->namespace_id, e->workflow_id, e->run_id, shard_id,
                  e->state, e->status, e->next_event_id, e->db_record_version, e->last_write_ns,
                  &e->state_blob, w->expected_db_record_version);
        if (td_pg_affected(r) == 1) {
            break;
        }
        PQclear(r);
        TD_PG_RUN(r, TD_PQ_EXEC_VERSION, e->namespace_id, e->workflow_id, e->run_id);
        o->cur_db_record_version = PQntuples(r) == 1 ? td_pg__i64(r, 0, 0) : -1;
        rc = td_store__fail(req, TD_ECONDITION,
                            "write: run '%s' db_record_version is %" PRId64 ", expected %" PRId64,
                            e->run_id, o->cur_db_record_version, w->expected_db_record_version);
        break;
    default:
        rc = td_store__fail(req, TD_EINVAL, "write: bad execution mode %d", (int)w->mode);
        break;
    }
out:
    PQclear(r);
    return rc;
}

/* Moves or refreshes the current pointer for execs[current_exec]. */
static int td_pg_current_write(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_write_in_t *in = &req->in.write;
    const td_store_exec_write_t *w = &in->execs[in->current_exec];
    const td_store_current_t *cur = &in->current;
    const char *run = td_pg_empty(cur->run_id) ? w->row.run_id : cur->run_id;
    td_store_write_out_t *o = &req->out.write;
    td_pg_params_t p;
    PGresult *r = NULL;
    int found = 0;
    int rc = TD_OK;

    if (strcmp(run, w->row.run_id) != 0) {
        rc = td_store__fail(req, TD_EINVAL, "write: current run '%s' is not the written run '%s'",
                            run, w->row.run_id);
        goto out;
    }
    if (w->mode != TD_STORE_EXEC_UPDATE) {
        if ((r = td_pg__exec(
                     c, req,
                     td_pg_bind(&p, req, TD_PQ_CUR_PUT, w->row.namespace_id, w->row.workflow_id,
                                in->shard_id, run,
                                cur->create_request_id != NULL ? cur->create_request_id : "",
                                cur->state, cur->status),
                     &p)) == NULL) {
            rc = req->rc;
        }
        goto out;
    }
    TD_PG_RUN(r, TD_PQ_CUR_SET_RUN, w->row.namespace_id, w->row.workflow_id, run,
              cur->create_request_id, cur->state, cur->status);
    if (td_pg_affected(r) == 1) {
        goto out;
    }
    rc = td_pg_current_get(c, req, w->row.namespace_id, w->row.workflow_id, &o->current, &found);
    if (rc != TD_OK) {
        goto out;
    }
    o->has_current = found;
    rc = td_store__fail(req, TD_ECONDITION, "write: workflow '%s' current run is '%s', not '%s'",
                        w->row.workflow_id, found ? o->current.run_id : "(none)", run);
out:
    PQclear(r);
    return rc;
}

static int td_pg_history_append(td_pg_conn_t *c, td_store_req_t *req,
                                const td_store_history_batch_t *b)
{
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc = TD_OK;

    if (td_pg_empty(b->tree_id) || td_pg_empty(b->branch_id) || b->first_event_id <= 0) {
        rc = td_store__fail(req, TD_EINVAL,
                            "write: a history batch needs a branch and a "
                            "positive first event id");
        goto out;
    }
    TD_PG_RUN(r, TD_PQ_HIST_INSERT, b->tree_id, b->branch_id, b->first_event_id, b->event_count,
              &b->events);
    if (td_pg_affected(r) != 1) {
        rc = td_store__fail(req, TD_ECONDITION,
                            "write: history batch %" PRId64 " of branch %s/%s exists",
                            b->first_event_id, b->tree_id, b->branch_id);
    }
out:
    PQclear(r);
    return rc;
}

static int td_pg_task_insert(td_pg_conn_t *c, td_store_req_t *req, int32_t shard_id,
                             const td_store_task_t *t)
{
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc = TD_OK;

    if (t->category < TD_STORE_TASK_TRANSFER || t->category > TD_STORE_TASK_VISIBILITY) {
        rc = td_store__fail(req, TD_EINVAL, "write: bad task category %d", t->category);
        goto out;
    }
    if ((r = td_pg__exec(c, req,
                         td_pg_bind(&p, req, TD_PQ_TASK_INSERT, shard_id, t->category,
                                    t->category == TD_STORE_TASK_TIMER ? t->fire_time_ns : 0,
                                    t->task_id, &t->blob),
                         &p)) == NULL) {
        rc = req->rc;
    }
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_write(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_write_in_t *in = &req->in.write;
    td_store_write_out_t *o = &req->out.write;
    int rc = TD_OK;

    o->failed_exec = -1;
    if (in->n_execs < 0 || in->n_execs > 2 || (in->n_execs > 0 && in->execs == NULL) ||
        in->current_exec >= in->n_execs || in->current_exec < -1 || in->n_batches < 0 ||
        (in->n_batches > 0 && in->batches == NULL) || in->n_tasks < 0 ||
        (in->n_tasks > 0 && in->tasks == NULL)) {
        rc = td_store__fail(req, TD_EINVAL, "write: malformed request");
        goto out;
    }
    rc = td_pg_shard_fence(c, req, in->shard_id, in->expected_range_id, &o->cur_range_id);
    if (rc != TD_OK) {
        goto out;
    }
    for (int i = 0; i < in->n_execs; i++) {
        o->failed_exec = i;
        rc = td_pg_exec_write(c, req, in->shard_id, &in->execs[i]);
        if (rc != TD_OK) {
            goto out;
        }
    }
    o->failed_exec = -1;
    if (in->current_exec >= 0) {
        rc = td_pg_current_write(c, req);
        if (rc != TD_OK) {
            goto out;
        }
    }
    for (int i = 0; i < in->n_batches; i++) {
        rc = td_pg_history_append(c, req, &in->batches[i]);
        if (rc != TD_OK) {
            goto out;
        }
    }
    for (int i = 0; i < in->n_tasks; i++) {
        rc = td_pg_task_insert(c, req, in->shard_id, &in->tasks[i]);
        if (rc != TD_OK) {
            goto out;
        }
    }
out:
    return rc;
}

static int td_pg_op_exec_get(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_exec_get_in_t *in = &req->in.exec_get;
    td_store_exec_get_out_t *o = &req->out.exec_get;
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc = TD_OK;

    if (td_pg_empty(in->namespace_id) || td_pg_empty(in->workflow_id)) {
        rc = td_store__fail(req, TD_EINVAL, "exec get: needs namespace and workflow ids");
        goto out;
    }
    TD_PG_RUN(r, TD_PQ_EXEC_GET, in->namespace_id, in->workflow_id,
              in->run_id != NULL ? in->run_id : "");
    if (PQntuples(r) == 0) {
        rc = td_store__fail(req, TD_ENOTFOUND, "execution %s/%s not found", in->workflow_id,
                            td_pg_empty(in->run_id) ? "(current)" : in->run_id);
        goto out;
    }
    o->row.namespace_id = td_arena_strdup(&req->arena, in->namespace_id);
    o->row.workflow_id = td_arena_strdup(&req->arena, in->workflow_id);
    o->row.run_id = td_pg__str(req, r, 0, 0);
    o->row.state = (int32_t)td_pg__i64(r, 0, 1);
    o->row.status = (int32_t)td_pg__i64(r, 0, 2);
    o->row.next_event_id = td_pg__i64(r, 0, 3);
    o->row.db_record_version = td_pg__i64(r, 0, 4);
    o->row.last_write_ns = td_pg__i64(r, 0, 5);
    o->row.state_blob = td_pg__blob(req, r, 0, 6, 7);
    o->has_current = !PQgetisnull(r, 0, 8);
    if (o->has_current) {
        o->current.run_id = td_pg__str(req, r, 0, 8);
        o->current.create_request_id = td_pg__str(req, r, 0, 9);
        o->current.state = (int32_t)td_pg__i64(r, 0, 10);
        o->current.status = (int32_t)td_pg__i64(r, 0, 11);
    }
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_exec_delete(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_exec_del_in_t *in = &req->in.exec_del;
    int64_t cur = 0;
    long n = 0;
    int rc = TD_OK;

    if (td_pg_empty(in->namespace_id) || td_pg_empty(in->workflow_id) || td_pg_empty(in->run_id)) {
        rc = td_store__fail(req, TD_EINVAL, "exec delete: needs namespace, workflow, run ids");
        goto out;
    }
    if (in->expected_range_id != 0) {
        rc = td_pg_shard_fence(c, req, in->shard_id, in->expected_range_id, &cur);
        if (rc != TD_OK) {
            req->out.write.cur_range_id = cur;
            goto out;
        }
    }
    rc = td_pg_do(c, req, &n, TD_PQ_EXEC_DELETE, in->namespace_id, in->workflow_id, in->run_id);
    if (rc == TD_OK && n == 0) {
        rc = td_store__fail(req, TD_ENOTFOUND, "run '%s' not found", in->run_id);
    }
    if (rc == TD_OK) {
        rc = td_pg_do(c, req, NULL, TD_PQ_CUR_DELETE_RUN, in->namespace_id, in->workflow_id,
                      in->run_id);
    }
out:
    return rc;
}

/* ---- history ---- */

static int td_pg_op_hist_read(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_hist_read_in_t *in = &req->in.hist_read;
    td_store_hist_read_out_t *o = &req->out.hist_read;
    td_pg_params_t p;
    PGresult *r = NULL;
    int64_t from = in->min_event_id;
    int64_t key = 0;
    int64_t events = 0;
    int present = 0;
    int rc = TD_OK;
    int n, rows;

    if (td_pg_empty(in->tree_id) || td_pg_empty(in->branch_id)) {
        rc = td_store__fail(req, TD_EINVAL, "history read: needs a branch");
        goto out;
    }
    if (td_store__token_read(&in->token, &key, 1, &present) != TD_OK) {
        rc = td_store__fail(req, TD_EINVAL, "history read: bad page token");
        goto out;
    }
    if (present) {
        from = key;
    } else {
        /* include a batch that starts before min_event_id but contains it */
        TD_PG_RUN(r, TD_PQ_HIST_START, in->tree_id, in->branch_id, in->min_event_id);
        if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
            from = td_pg__i64(r, 0, 0);
        }
        PQclear(r);
        r = NULL;
    }
    TD_PG_RUN(r, TD_PQ_HIST_READ, in->tree_id, in->branch_id, from,
              in->max_event_id > 0 ? in->max_event_id : TD_PG_NOLIMIT,
              in->page_size > 0 ? (int64_t)in->page_size + 1 : TD_PG_NOLIMIT);
    rows = PQntuples(r);
    o->batches = td_arena_calloc(&req->arena, sizeof(*o->batches) * (size_t)(rows > 0 ? rows : 1));
    for (n = 0; n < rows; n++) {
        if (in->page_size > 0 && events >= in->page_size) {
            break;
        }
        td_store_history_batch_t *b = &o->batches[n];
        b->tree_id = td_arena_strdup(&req->arena, in->tree_id);
        b->branch_id = td_arena_strdup(&req->arena, in->branch_id);
        b->first_event_id = td_pg__i64(r, n, 0);
        b->event_count = (int32_t)td_pg__i64(r, n, 1);
        b->events = td_pg__blob(req, r, n, 2, 3);
        events += b->event_count;
    }
    o->n_batches = n;
    if (n < rows) {
        key = td_pg__i64(r, n, 0);
        o->next_token = td_store__token_make(req, &key, 1);
    }
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_hist_delete(td_pg_conn_t *c, td_store_req_t *req)
{
    if (td_pg_empty(req->in.hist_del.tree_id) || td_pg_empty(req->in.hist_del.branch_id)) {
        return td_store__fail(req, TD_EINVAL, "history delete: needs a branch");
    }
    return td_pg_do(c, req, NULL, TD_PQ_HIST_DELETE, req->in.hist_del.tree_id,
                    req->in.hist_del.branch_id);
}

/* ---- history tasks ---- */

static int td_pg_op_tasks_read(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_tasks_read_in_t *in = &req->in.tasks_read;
    td_store_tasks_read_out_t *o = &req->out.tasks_read;
    int timer = in->category == TD_STORE_TASK_TIMER;
    td_pg_params_t p;
    PGresult *r = NULL;
    int64_t key[2] = { in->min_fire_ns, in->min_task_id };
    int64_t limit = in->page_size > 0 ? (int64_t)in->page_size + 1 : TD_PG_NOLIMIT;
    int present = 0;
    int rc = TD_OK;
    int n, rows;

    if (in->category < TD_STORE_TASK_TRANSFER || in->category > TD_STORE_TASK_VISIBILITY) {
        rc = td_store__fail(req, TD_EINVAL, "tasks read: bad category %d", in->category);
        goto out;
    }
    if (td_store__token_read(&in->token, key, 2, &present) != TD_OK) {
        rc = td_store__fail(req, TD_EINVAL, "tasks read: bad page token");
        goto out;
    }
    if (!present) {
        key[0] = timer ? in->min_fire_ns : 0;
        key[1] = in->min_task_id;
    }
    if (timer) {
        r = td_pg__exec(c, req,
                        td_pg_bind(&p, req, TD_PQ_TIMER_READ, in->shard_id, in->category, key[0],
                                   key[1], in->max_fire_ns > 0 ? in->max_fire_ns : TD_PG_NOLIMIT,
                                   limit),
                        &p);
    } else {
        r = td_pg__exec(c, req,
                        td_pg_bind(&p, req, TD_PQ_TASK_READ, in->shard_id, in->category, key[1],
                                   in->max_task_id > 0 ? in->max_task_id : TD_PG_NOLIMIT, limit),
                        &p);
    }
    if (r == NULL) {
        rc = req->rc;
        goto out;
    }
    rows = PQntuples(r);
    n = in->page_size > 0 && rows > in->page_size ? in->page_size : rows;
    o->tasks = td_arena_calloc(&req->arena, sizeof(*o->tasks) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        o->tasks[i].category = in->category;
        o->tasks[i].fire_time_ns = td_pg__i64(r, i, 0);
        o->tasks[i].task_id = td_pg__i64(r, i, 1);
        o->tasks[i].blob = td_pg__blob(req, r, i, 2, 3);
    }
    o->n_tasks = n;
    if (n < rows) {
        key[0] = td_pg__i64(r, n, 0);
        key[1] = td_pg__i64(r, n, 1);
        o->next_token = td_store__token_make(req, key, 2);
    }
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_tasks_delete(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_tasks_del_in_t *in = &req->in.tasks_del;

    if (in->category < TD_STORE_TASK_TRANSFER || in->category > TD_STORE_TASK_VISIBILITY) {
        return td_store__fail(req, TD_EINVAL, "tasks delete: bad category %d", in->category);
    }
    if (in->category == TD_STORE_TASK_TIMER) {
        return td_pg_do(c, req, NULL, TD_PQ_TIMER_DELETE, in->shard_id, in->category,
                        in->ack_fire_ns, in->ack_task_id);
    }
    return td_pg_do(c, req, NULL, TD_PQ_TASK_DELETE, in->shard_id, in->category, in->ack_task_id);
}

/* ---- task queues and backlog ---- */

static int td_pg_tq_key_ok(td_store_req_t *req, const char *what, const char *ns, const char *name)
{
    if (td_pg_empty(ns) || td_pg_empty(name)) {
        return td_store__fail(req, TD_EINVAL, "%s: needs a namespace id and a queue name", what);
    }
    return TD_OK;
}

static void td_pg_read_tq(td_store_req_t *req, PGresult *r, const td_store_task_queue_t *key)
{
    td_store_task_queue_t *o = &req->out.tq.rec;
    o->namespace_id = td_arena_strdup(&req->arena, key->namespace_id);
    o->name = td_arena_strdup(&req->arena, key->name);
    o->type = key->type;
    o->kind = (int32_t)td_pg__i64(r, 0, 0);
    o->range_id = td_pg__i64(r, 0, 1);
    o->ack_level = td_pg__i64(r, 0, 2);
    o->expiry_ns = td_pg__i64(r, 0, 3);
    o->info = td_pg__blob(req, r, 0, 4, 5);
}

static int td_pg_op_tq_get(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_task_queue_t *in = &req->in.tq.rec;
    int acquire = req->op == TD_STORE_OP_TQ_ACQUIRE;
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc;

    rc = td_pg_tq_key_ok(req, acquire ? "task queue acquire" : "task queue get", in->namespace_id,
                         in->name);
    if (rc != TD_OK) {
        goto out;
    }
    if (acquire) {
        r = td_pg__exec(c, req,
                        td_pg_bind(&p, req, TD_PQ_TQ_ACQUIRE, in->namespace_id, in->name, in->type,
                                   in->kind != 0 ? in->kind : TD_STORE_TQ_KIND_NORMAL,
                                   in->expiry_ns, &in->info),
                        &p);
    } else {
        r = td_pg__exec(c, req,
                        td_pg_bind(&p, req, TD_PQ_TQ_GET, in->namespace_id, in->name, in->type),
                        &p);
    }
    if (r == NULL) {
        rc = req->rc;
        goto out;
    }
    if (PQntuples(r) == 0) {
        rc = td_store__fail(req, TD_ENOTFOUND, "task queue '%s' (type %d) not found", in->name,
                            (int)in->type);
        goto out;
    }
    td_pg_read_tq(req, r, in);
out:
    PQclear(r);
    return rc;
}

/* After a lease-conditioned statement found nothing: TD_ENOTFOUND when the queue is absent,
 * else TD_ECONDITION with out.tq.cur_range_id. */
static int td_pg_tq_lease_fail(td_pg_conn_t *c, td_store_req_t *req, const char *what,
                               const char *ns, const char *name, int32_t type, int64_t expected)
{
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc;

    TD_PG_RUN(r, TD_PQ_TQ_LOCK, ns, name, type);
    if (PQntuples(r) == 0) {
        rc = td_store__fail(req, TD_ENOTFOUND, "%s: task queue '%s' (type %d) not found", what,
                            name, (int)type);
        goto out;
    }
    req->out.tq.cur_range_id = td_pg__i64(r, 0, 0);
    rc = td_store__fail(req, TD_ECONDITION,
                        "%s: task queue '%s' range_id is %" PRId64 ", expected %" PRId64, what,
                        name, req->out.tq.cur_range_id, expected);
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_tq_update(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_task_queue_t *in = &req->in.tq.rec;
    int del = req->op == TD_STORE_OP_TQ_DELETE;
    const char *what = del ? "task queue delete" : "task queue update";
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc;

    rc = td_pg_tq_key_ok(req, what, in->namespace_id, in->name);
    if (rc != TD_OK) {
        goto out;
    }
    if (del) {
        r = td_pg__exec(c, req,
                        td_pg_bind(&p, req, TD_PQ_TQ_DELETE, in->namespace_id, in->name, in->type,
                                   in->range_id),
                        &p);
    } else {
        r = td_pg__exec(c, req,
                        td_pg_bind(&p, req, TD_PQ_TQ_UPDATE, in->namespace_id, in->name, in->type,
                                   in->range_id, in->ack_level, in->expiry_ns, &in->info),
                        &p);
    }
    if (r == NULL) {
        rc = req->rc;
        goto out;
    }
    if (td_pg_affected(r) != 1) {
        rc = td_pg_tq_lease_fail(c, req, what, in->namespace_id, in->name, in->type, in->range_id);
        goto out;
    }
    if (del) {
        PQclear(r);
        TD_PG_RUN(r, TD_PQ_BL_DELETE_ALL, in->namespace_id, in->name, in->type);
    } else {
        req->out.tq.rec = *in;
    }
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_backlog_insert(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_backlog_ins_in_t *in = &req->in.backlog_ins;
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc;

    rc = td_pg_tq_key_ok(req, "backlog insert", in->namespace_id, in->name);
    if (rc != TD_OK) {
        goto out;
    }
    if (in->n_tasks < 0 || (in->n_tasks > 0 && in->tasks == NULL)) {
        rc = td_store__fail(req, TD_EINVAL, "backlog insert: malformed task list");
        goto out;
    }
    TD_PG_RUN(r, TD_PQ_TQ_LOCK, in->namespace_id, in->name, in->type);
    if (PQntuples(r) == 0) {
        rc = td_store__fail(req, TD_ENOTFOUND,
                            "backlog insert: task queue '%s' (type %d) "
                            "not found",
                            in->name, (int)in->type);
        goto out;
    }
    if (td_pg__i64(r, 0, 0) != in->range_id) {
        req->out.tq.cur_range_id = td_pg__i64(r, 0, 0);
        rc = td_store__fail(req, TD_ECONDITION,
                            "backlog insert: task queue '%s' range_id is %" PRId64
                            ", expected %" PRId64,
                            in->name, req->out.tq.cur_range_id, in->range_id);
        goto out;
    }
    for (int i = 0; i < in->n_tasks; i++) {
        const td_store_backlog_task_t *t = &in->tasks[i];
        PQclear(r);
        TD_PG_RUN(r, TD_PQ_BL_INSERT, in->namespace_id, in->name, in->type, t->task_id,
                  t->expiry_ns, &t->blob);
    }
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_backlog_read(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_backlog_read_in_t *in = &req->in.backlog_read;
    td_store_backlog_read_out_t *o = &req->out.backlog_read;
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc;
    int n;

    rc = td_pg_tq_key_ok(req, "backlog read", in->namespace_id, in->name);
    if (rc != TD_OK) {
        goto out;
    }
    TD_PG_RUN(r, TD_PQ_BL_READ, in->namespace_id, in->name, in->type, in->min_task_id,
              in->max_task_id > 0 ? in->max_task_id : TD_PG_NOLIMIT,
              in->limit > 0 ? in->limit : TD_PG_NOLIMIT);
    n = PQntuples(r);
    o->tasks = td_arena_calloc(&req->arena, sizeof(*o->tasks) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        o->tasks[i].task_id = td_pg__i64(r, i, 0);
        o->tasks[i].expiry_ns = td_pg__i64(r, i, 1);
        o->tasks[i].blob = td_pg__blob(req, r, i, 2, 3);
    }
    o->n_tasks = n;
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_backlog_delete(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_backlog_del_in_t *in = &req->in.backlog_del;
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc;

    rc = td_pg_tq_key_ok(req, "backlog delete", in->namespace_id, in->name);
    if (rc != TD_OK) {
        goto out;
    }
    if ((r = td_pg__exec(c, req,
                         td_pg_bind(&p, req, TD_PQ_BL_DELETE, in->namespace_id, in->name, in->type,
                                    in->ack_level),
                         &p)) == NULL) {
        rc = req->rc;
    }
out:
    PQclear(r);
    return rc;
}

/* ---- visibility: writes ---- */

static int td_pg_vis_sas(td_pg_conn_t *c, td_store_req_t *req, const td_store_visibility_t *v)
{
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc = TD_OK;

    TD_PG_RUN(r, TD_PQ_VIS_SA_DELETE, v->namespace_id, v->run_id);
    for (int i = 0; i < v->n_sas; i++) {
        const td_store_sa_t *sa = &v->sas[i];
        int is_s = sa->type == TD_STORE_SA_TEXT || sa->type == TD_STORE_SA_KEYWORD ||
                   sa->type == TD_STORE_SA_KEYWORD_LIST;
        int is_d = sa->type == TD_STORE_SA_DOUBLE;
        if (td_pg_empty(sa->name) || sa->type < TD_STORE_SA_TEXT ||
            sa->type > TD_STORE_SA_KEYWORD_LIST || (is_s && sa->s == NULL)) {
            rc = td_store__fail(req, TD_EINVAL, "visibility: bad search attribute #%d", i);
            goto out;
        }
        PQclear(r);
        td_pg__params_init(&p, req);
        td_pg__p_text(&p, v->namespace_id);
        td_pg__p_text(&p, v->run_id);
        td_pg__p_text(&p, sa->name);
        td_pg__p_i32(&p, sa->type);
        if (is_s || is_d) {
            td_pg__p_null_i64(&p);
        } else {
            td_pg__p_i64(&p, sa->i);
        }
        if (is_d) {
            td_pg__p_f64(&p, sa->d);
        } else {
            td_pg__p_null_f64(&p);
        }
        td_pg__p_text(&p, is_s ? sa->s : NULL);
        if ((r = td_pg__exec(c, req, TD_PQ_VIS_SA_INSERT, &p)) == NULL) {
            rc = req->rc;
            goto out;
        }
        if (sa->type == TD_STORE_SA_TEXT) {
            /* the words of a Text value (store_vis.h) */
            const char *words[TD_STORE_TEXT_WORDS_MAX];
            int nw = td_store_text_words(sa->s, &req->arena, words, TD_STORE_TEXT_WORDS_MAX);
            for (int k = 0; k < nw; k++) {
                PQclear(r);
                td_pg__params_init(&p, req);
                td_pg__p_text(&p, v->namespace_id);
                td_pg__p_text(&p, v->run_id);
                td_pg__p_text(&p, sa->name);
                td_pg__p_i32(&p, TD_STORE_SA_WORD);
                td_pg__p_null_i64(&p);
                td_pg__p_null_f64(&p);
                td_pg__p_text(&p, words[k]);
                if ((r = td_pg__exec(c, req, TD_PQ_VIS_SA_INSERT, &p)) == NULL) {
                    rc = req->rc;
                    goto out;
                }
            }
        }
    }
out:
    PQclear(r);
    return rc;
}

/* Statistics for the visibility tables while they are young. Until PostgreSQL has analyzed
 * them, the planner believes they hold a row or two and joins custom attributes with nested
 * loops that rescan visibility_sa per record: measured on 10,000 records (90,000 attribute
 * rows), a count with a Keyword attribute took 2.3 s and one with two attributes 28 s, against
 * 1.6 ms and 15 ms once analyzed. Autovacuum analyzes them eventually, but a table filled in
 * a burst is queried before; so the writes of this process analyze them at 500, 2000, 8000,
 * 32000 and 128000 records written, and leave the rest to autovacuum. */
static int td_pg_vis_analyze(td_pg_conn_t *c, td_store_req_t *req)
{
    static long long written;
    long long n = __atomic_add_fetch(&written, 1, __ATOMIC_RELAXED);
    td_pg_params_t p;
    PGresult *r;

    if (n != 500 && n != 2000 && n != 8000 && n != 32000 && n != 128000) {
        return TD_OK;
    }
    td_pg__params_init(&p, req);
    r = td_pg__exec_sql(c, req, "ANALYZE executions_visibility, visibility_sa", &p);
    PQclear(r);
    return r != NULL ? TD_OK : req->rc; /* a failure fails the write (retried as any other) */
}

static int td_pg_op_vis_put(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_visibility_t *v = &req->in.vis;
    int close = req->op == TD_STORE_OP_VIS_CLOSE;
    td_pg_params_t p;
    PGresult *r = NULL;
    int rc = TD_OK;

    if (td_pg_empty(v->namespace_id) || td_pg_empty(v->run_id) || td_pg_empty(v->workflow_id) ||
        v->n_sas < 0 || (v->n_sas > 0 && v->sas == NULL)) {
        rc = td_store__fail(req, TD_EINVAL, "visibility %s: needs namespace, run and workflow ids",
                            close ? "close" : "upsert");
        goto out;
    }
    TD_PG_RUN(r, close ? TD_PQ_VIS_CLOSE : TD_PQ_VIS_UPSERT, v->namespace_id, v->run_id,
              v->workflow_id, v->workflow_type != NULL ? v->workflow_type : "",
              v->task_queue != NULL ? v->task_queue : "", v->start_time_ns, v->execution_time_ns,
              v->close_time_ns, v->close_time_ns != 0 ? v->close_time_ns : INT64_MAX, v->status,
              v->history_length, v->history_size_bytes, &v->memo, &v->search_attributes,
              td_pg_empty(v->parent_workflow_id) ? NULL : v->parent_workflow_id,
              td_pg_empty(v->parent_run_id) ? NULL : v->parent_run_id,
              td_pg_empty(v->root_workflow_id) ? NULL : v->root_workflow_id,
              td_pg_empty(v->root_run_id) ? NULL : v->root_run_id,
              td_pg_empty(v->first_run_id) ? NULL : v->first_run_id, v->state_transition_count);
    if (close && td_pg_affected(r) == 0) {
        rc = td_store__fail(req, TD_ENOTFOUND, "visibility close: no record for run '%s'",
                            v->run_id);
        goto out;
    }
    rc = td_pg_vis_sas(c, req, v);
    if (rc == TD_OK) {
        rc = td_pg_vis_analyze(c, req);
    }
out:
    PQclear(r);
    return rc;
}

static int td_pg_op_vis_delete(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_visibility_t *v = &req->in.vis;
    int rc;

    if (td_pg_empty(v->namespace_id) || td_pg_empty(v->run_id)) {
        return td_store__fail(req, TD_EINVAL, "visibility delete: needs namespace and run ids");
    }
    rc = td_pg_do(c, req, NULL, TD_PQ_VIS_DELETE, v->namespace_id, v->run_id);
    if (rc == TD_OK) {
        rc = td_pg_do(c, req, NULL, TD_PQ_VIS_SA_DELETE, v->namespace_id, v->run_id);
    }
    return rc;
}

/* ---- visibility: the filter compiler ---- */

typedef struct {
    char *s;
    size_t len, cap;
} td_pg_sb_t;

static void td_pg_sb_add(td_pg_sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void td_pg_sb_add(td_pg_sb_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->s = td_realloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* The built-in fields: name, column, whether it is a string column. */
static const struct {
    const char *field;
    const char *column;
    int is_str;
} td_pg_vis_fields[] = {
    { "WorkflowId", "v.workflow_id", 1 },
    { "RunId", "v.run_id", 1 },
    { "WorkflowType", "v.workflow_type", 1 },
    { "TaskQueue", "v.task_queue", 1 },
    { "ParentWorkflowId", "v.parent_workflow_id", 1 },
    { "ParentRunId", "v.parent_run_id", 1 },
    { "RootWorkflowId", "v.root_workflow_id", 1 },
    { "RootRunId", "v.root_run_id", 1 },
    { "ExecutionStatus", "v.status", 0 },
    { "HistoryLength", "v.history_length", 0 },
    { "HistorySizeBytes", "v.history_size_bytes", 0 },
    { "StartTime", "v.start_ns", 0 },
    { "ExecutionTime", "v.execution_ns", 0 },
    { "CloseTime", "v.close_ns", 0 },
    { "ExecutionDuration", "(v.close_ns - v.execution_ns)", 0 }, /* NULL while open */
};

static const char *td_pg_vf_opsym(int op)
{
    switch (op) {
    case TD_STORE_VF_EQ:
        return "=";
    case TD_STORE_VF_NE:
        return "<>";
    case TD_STORE_VF_LT:
        return "<";
    case TD_STORE_VF_LE:
        return "<=";
    case TD_STORE_VF_GT:
        return ">";
    case TD_STORE_VF_GE:
        return ">=";
    default:
        return NULL;
    }
}

/* Binds the compared value as its type wants: a string for text types, a double for DOUBLE,
 * an int64 otherwise. Returns 1 for string, 2 for double, 0 for int. */
static int td_pg_vf_bind(td_pg_params_t *p, const td_store_sa_t *v, int want_str)
{
    int kind = (want_str >= 0) ? want_str
               : (v->type == TD_STORE_SA_TEXT || v->type == TD_STORE_SA_KEYWORD ||
                  v->type == TD_STORE_SA_KEYWORD_LIST)
                       ? 1
               : v->type == TD_STORE_SA_DOUBLE ? 2
                                               : 0;
    if (kind == 1) {
        td_pg__p_text(p, v->s != NULL ? v->s : "");
    } else if (kind == 2) {
        td_pg__p_f64(p, v->d);
    } else {
        td_pg__p_i64(p, v->i);
    }
    return kind;
}

static int td_pg_vf_cmp(td_store_req_t *req, td_pg_sb_t *b, td_pg_params_t *p,
                        const td_store_vfilter_t *f)
{
    const char *col = NULL;
    const char *sym = td_pg_vf_opsym(f->op);
    int is_str = 0;
    int kind;

    if (td_pg_empty(f->field) || f->op < TD_STORE_VF_EQ || f->op > TD_STORE_VF_IS_NOT_NULL) {
        return td_store__fail(req, TD_EINVAL, "visibility filter: bad comparison");
    }
    if (f->op != TD_STORE_VF_IS_NULL && f->op != TD_STORE_VF_IS_NOT_NULL &&
        (f->value.type == TD_STORE_SA_TEXT || f->value.type == TD_STORE_SA_KEYWORD ||
         f->value.type == TD_STORE_SA_KEYWORD_LIST) &&
        f->value.s == NULL) {
        return td_store__fail(req, TD_EINVAL, "visibility filter: %s: string value missing",
                              f->field);
    }
    for (size_t i = 0; i < TD_ARRAY_LEN(td_pg_vis_fields); i++) {
        if (strcmp(td_pg_vis_fields[i].field, f->field) == 0) {
            col = td_pg_vis_fields[i].column;
            is_str = td_pg_vis_fields[i].is_str;
        }
    }
    if (col != NULL) {
        if (f->op == TD_STORE_VF_IS_NULL || f->op == TD_STORE_VF_IS_NOT_NULL) {
            td_pg_sb_add(b, "(%s IS %sNULL)", col, f->op == TD_STORE_VF_IS_NULL ? "" : "NOT ");
            return TD_OK;
        }
        if (f->op == TD_STORE_VF_STARTS_WITH && !is_str) {
            return td_store__fail(req, TD_EINVAL, "visibility filter: %s is not a string",
                                  f->field);
        }
        td_pg_vf_bind(p, &f->value, is_str);
        if (f->op == TD_STORE_VF_STARTS_WITH) {
            td_pg_sb_add(b, "(starts_with(%s, $%d))", col, p->n);
        } else {
            td_pg_sb_add(b, "(%s %s $%d)", col, sym, p->n);
        }
        return TD_OK;
    }
    /* a custom search attribute: rows of visibility_sa */
    td_pg__p_text(p, f->field);
    td_pg_sb_add(b,
                 "(%sEXISTS (SELECT 1 FROM visibility_sa s WHERE s.namespace_id = "
                 "v.namespace_id AND s.run_id = v.run_id AND s.name = $%d",
                 f->op == TD_STORE_VF_IS_NULL ? "NOT " : "", p->n);
    if (f->op == TD_STORE_VF_IS_NULL || f->op == TD_STORE_VF_IS_NOT_NULL) {
        td_pg_sb_add(b, "))");
        return TD_OK;
    }
    if (f->value.type == TD_STORE_SA_TEXT) {
        /* Text: any word of the value among the attribute's words (store_vis.h) */
        const char *words[TD_STORE_TEXT_WORDS_MAX];
        int nw = f->op == TD_STORE_VF_EQ ? td_store_text_words(f->value.s, &req->arena, words,
                                                               TD_STORE_TEXT_WORDS_MAX)
                                         : 0;
        if (nw == 0) {
            return td_store__fail(req, TD_EINVAL,
                                  "visibility filter: %s: Text takes = with a value of words",
                                  f->field);
        }
        td_pg_sb_add(b, " AND s.type = %d AND s.sval IN (", TD_STORE_SA_WORD);
        for (int k = 0; k < nw; k++) {
            td_pg__p_text(p, words[k]);
            td_pg_sb_add(b, "%s$%d", k > 0 ? ", " : "", p->n);
        }
        td_pg_sb_add(b, ")))");
        return TD_OK;
    }
    kind = td_pg_vf_bind(p, &f->value, -1);
    col = kind == 1 ? "s.sval" : kind == 2 ? "s.dval" : "s.ival";
    if (f->op == TD_STORE_VF_STARTS_WITH) {
        if (kind != 1) {
            return td_store__fail(req, TD_EINVAL,
                                  "visibility filter: %s: STARTS_WITH needs "
                                  "a string",
                                  f->field);
        }
        td_pg_sb_add(b, " AND starts_with(%s, $%d)))", col, p->n);
    } else {
        td_pg_sb_add(b, " AND %s %s $%d))", col, sym, p->n);
    }
    return TD_OK;
}

static int td_pg_vf_build(td_store_req_t *req, td_pg_sb_t *b, td_pg_params_t *p,
                          const td_store_vfilter_t *f, int depth)
{
    int rc = TD_OK;

    if (f == NULL || depth > 64) {
        return td_store__fail(req, TD_EINVAL, "visibility filter: missing node or too deep");
    }
    switch (f->kind) {
    case TD_STORE_VF_AND:
    case TD_STORE_VF_OR:
        if (f->n_args <= 0) {
            td_pg_sb_add(b, f->kind == TD_STORE_VF_AND ? "TRUE" : "FALSE");
            break;
        }
        if (f->args == NULL) {
            return td_store__fail(req, TD_EINVAL, "visibility filter: missing arguments");
        }
        td_pg_sb_add(b, "(");
        for (int i = 0; i < f->n_args && rc == TD_OK; i++) {
            if (i > 0) {
                td_pg_sb_add(b, f->kind == TD_STORE_VF_AND ? " AND " : " OR ");
            }
            rc = td_pg_vf_build(req, b, p, f->args[i], depth + 1);
        }
        td_pg_sb_add(b, ")");
        break;
    case TD_STORE_VF_NOT:
        if (f->n_args < 1 || f->args == NULL) {
            return td_store__fail(req, TD_EINVAL, "visibility filter: NOT needs an argument");
        }
        td_pg_sb_add(b, "(NOT (");
        rc = td_pg_vf_build(req, b, p, f->args[0], depth + 1);
        td_pg_sb_add(b, "))");
        break;
    case TD_STORE_VF_CMP:
        rc = td_pg_vf_cmp(req, b, p, f);
        break;
    default:
        rc = td_store__fail(req, TD_EINVAL, "visibility filter: bad node kind %d", f->kind);
        break;
    }
    return rc;
}

/* The statement builder of store_vis.c over a string and its parameters. */
typedef struct {
    td_pg_sb_t *b;
    td_pg_params_t *p;
} td_pg_w_t;

static void td_pg_w_add(void *ctx, const char *text)
{
    td_pg_w_t *w = ctx;
    td_pg_sb_add(w->b, "%s", text);
}

static int td_pg_w_bind(void *ctx, const td_store_sa_t *v)
{
    td_pg_w_t *w = ctx;
    td_pg_vf_bind(w->p, v, -1);
    td_pg_sb_add(w->b, "$%d", w->p->n);
    return TD_OK;
}

/* The value of sort key column col of row (binary format). */
static void td_pg_skey(td_store_req_t *req, const PGresult *r, int row, int col, int kind,
                       td_store_skey_t *k)
{
    memset(k, 0, sizeof(*k));
    k->kind = kind;
    if (PQgetisnull(r, row, col)) {
        k->null = 1;
    } else if (kind == TD_STORE_SKEY_INT) {
        k->i = td_pg__i64(r, row, col);
    } else if (kind == TD_STORE_SKEY_DOUBLE && PQgetlength(r, row, col) == 8) {
        const uint8_t *d = (const uint8_t *)PQgetvalue(r, row, col);
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) {
            bits = (bits << 8) | d[i];
        }
        memcpy(&k->d, &bits, 8);
    } else {
        k->s = td_pg__str(req, r, row, col);
    }
}

#define TD_PG_VIS_COLS 21 /* columns of a listed record before the sort keys */

static int td_pg_op_vis_query(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_vis_query_in_t *in = &req->in.vis_query;
    td_store_vis_list_out_t *o = &req->out.vis_list;
    int count = req->op == TD_STORE_OP_VIS_COUNT;
    int sorted = !count && in->n_sort > 0;
    td_pg_sb_t b = { NULL, 0, 0 };
    td_pg_params_t p;
    td_pg_w_t wctx = { &b, &p };
    td_store_sqlw_t w = { &wctx, td_pg_w_add, td_pg_w_bind };
    const char *sexpr[TD_STORE_VSORT_MAX];
    int skind[TD_STORE_VSORT_MAX];
    td_store_skey_t skeys[TD_STORE_VSORT_MAX];
    PGresult *r = NULL;
    int64_t key[2] = { 0, 0 };
    const char *run = NULL;
    int present = 0;
    int rc = TD_OK;
    int rows, n;

    if (td_pg_empty(in->namespace_id)) {
        rc = td_store__fail(req, TD_EINVAL, "visibility query: needs a namespace id");
        goto out;
    }
    if (!count && in->order != TD_STORE_VORDER_DEFAULT &&
        in->order != TD_STORE_VORDER_START_TIME_DESC &&
        in->order != TD_STORE_VORDER_START_TIME_ASC) {
        rc = td_store__fail(req, TD_EINVAL, "visibility list: bad order %d", in->order);
        goto out;
    }
    if (sorted && td_store__vsort_check(&req->arena, in, 0, sexpr, skind) != TD_OK) {
        rc = td_store__fail(req, TD_EINVAL, "visibility list: bad sort keys");
        goto out;
    }
    if (sorted ? td_store__vsort_token_read(&req->arena, &in->token, skind, in->n_sort, skeys, &run,
                                            &present) != TD_OK
               : !count && td_store__token_read_str(req, &in->token, key, 2, &run, &present) !=
                                   TD_OK) {
        rc = td_store__fail(req, TD_EINVAL, "visibility list: bad page token");
        goto out;
    }
    td_pg__params_init(&p, req);
    td_pg__p_text(&p, in->namespace_id);
    td_pg_sb_add(&b, count ? "SELECT count(*)"
                           : "SELECT v.workflow_id, v.run_id, v.workflow_type, v.task_queue, "
                             "v.start_ns, v.execution_ns, v.close_ns, v.status, "
                             "v.history_length, v.history_size_bytes, v.memo, v.memo_encoding, "
                             "v.search_attributes, v.sa_encoding, v.sort_close, "
                             "v.parent_workflow_id, v.parent_run_id, v.root_workflow_id, "
                             "v.root_run_id, v.first_run_id, v.state_transition_count");
    for (int i = 0; sorted && i < in->n_sort; i++) {
        td_pg_sb_add(&b, ", %s", sexpr[i]);
    }
    td_pg_sb_add(&b, " FROM executions_visibility v WHERE v.namespace_id = $1");
    if (in->filter != NULL) {
        td_pg_sb_add(&b, " AND ");
        rc = td_pg_vf_build(req, &b, &p, in->filter, 0);
        if (rc != TD_OK) {
            goto out;
        }
    }
    if (sorted) {
        if (present) {
            td_store__vsort_after(&req->arena, in, sexpr, skeys, run, &w);
        }
        td_store__vsort_order_by(in, sexpr, &w);
    } else if (!count) {
        if (present) {
            td_pg__p_i64(&p, key[0]);
            td_pg__p_i64(&p, key[1]);
            td_pg__p_text(&p, run);
            if (in->order == TD_STORE_VORDER_DEFAULT) {
                td_pg_sb_add(&b, " AND (v.sort_close, v.start_ns, v.run_id) < ($%d, $%d, $%d)",
                             p.n - 2, p.n - 1, p.n);
            } else {
                td_pg_sb_add(&b, " AND (v.start_ns, v.run_id) %s ($%d, $%d)",
                             in->order == TD_STORE_VORDER_START_TIME_ASC ? ">" : "<", p.n - 1, p.n);
            }
        }
        td_pg_sb_add(&b, in->order == TD_STORE_VORDER_DEFAULT
                                 ? " ORDER BY v.sort_close DESC, v.start_ns DESC, v.run_id DESC"
                         : in->order == TD_STORE_VORDER_START_TIME_DESC
                                 ? " ORDER BY v.start_ns DESC, v.run_id DESC"
                                 : " ORDER BY v.start_ns ASC, v.run_id ASC");
    }
    if (!count) {
        td_pg__p_i64(&p, in->page_size > 0 ? (int64_t)in->page_size + 1 : TD_PG_NOLIMIT);
        td_pg_sb_add(&b, " LIMIT $%d", p.n);
    }
    if ((r = td_pg__exec_sql(c, req, b.s, &p)) == NULL) {
        rc = req->rc;
        goto out;
    }
    if (count) {
        req->out.vis_count = td_pg__i64(r, 0, 0);
        goto out;
    }
    rows = PQntuples(r);
    n = in->page_size > 0 && rows > in->page_size ? in->page_size : rows;
    o->recs = td_arena_calloc(&req->arena, sizeof(*o->recs) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        td_store_visibility_t *v = &o->recs[i];
        v->namespace_id = td_arena_strdup(&req->arena, in->namespace_id);
        v->workflow_id = td_pg__str(req, r, i, 0);
        v->run_id = td_pg__str(req, r, i, 1);
        v->workflow_type = td_pg__str(req, r, i, 2);
        v->task_queue = td_pg__str(req, r, i, 3);
        v->start_time_ns = td_pg__i64(r, i, 4);
        v->execution_time_ns = td_pg__i64(r, i, 5);
        v->close_time_ns = td_pg__i64(r, i, 6);
        v->status = (int32_t)td_pg__i64(r, i, 7);
        v->history_length = td_pg__i64(r, i, 8);
        v->history_size_bytes = td_pg__i64(r, i, 9);
        v->memo = td_pg__blob(req, r, i, 10, 11);
        v->search_attributes = td_pg__blob(req, r, i, 12, 13);
        v->parent_workflow_id = td_pg__str(req, r, i, 15);
        v->parent_run_id = td_pg__str(req, r, i, 16);
        v->root_workflow_id = td_pg__str(req, r, i, 17);
        v->root_run_id = td_pg__str(req, r, i, 18);
        v->first_run_id = td_pg__str(req, r, i, 19);
        v->state_transition_count = td_pg__i64(r, i, 20);
    }
    o->n_recs = n;
    if (n < rows && n > 0 && sorted) {
        for (int i = 0; i < in->n_sort; i++) {
            td_pg_skey(req, r, n - 1, TD_PG_VIS_COLS + i, skind[i], &skeys[i]);
        }
        o->next_token =
                td_store__vsort_token_make(&req->arena, skeys, in->n_sort, o->recs[n - 1].run_id);
    } else if (n < rows && n > 0) {
        key[0] = td_pg__i64(r, n - 1, 14);
        key[1] = o->recs[n - 1].start_time_ns;
        o->next_token = td_store__token_make_str(req, key, 2, o->recs[n - 1].run_id);
    }
out:
    td_free(b.s);
    PQclear(r);
    return rc;
}

/* ---- the pipelined write path ---- */

int td_pg__write_fast_ok(const td_store_req_t *req)
{
    const td_store_write_in_t *in = &req->in.write;

    if (req->op != TD_STORE_OP_WRITE || in->n_execs < 0 || in->n_execs > 2 ||
        (in->n_execs > 0 && in->execs == NULL) || in->current_exec < -1 ||
        in->current_exec >= in->n_execs || in->n_batches < 0 ||
        (in->n_batches > 0 && in->batches == NULL) || in->n_tasks < 0 ||
        (in->n_tasks > 0 && in->tasks == NULL)) {
        return 0;
    }
    for (int i = 0; i < in->n_execs; i++) {
        const td_store_exec_write_t *w = &in->execs[i];
        if ((w->mode != TD_STORE_EXEC_UPDATE && w->mode != TD_STORE_EXEC_CREATE_BRAND_NEW &&
             w->mode != TD_STORE_EXEC_CREATE_REPLACE_CURRENT) ||
            (w->mode == TD_STORE_EXEC_CREATE_REPLACE_CURRENT && w->expected_prev_run_id == NULL) ||
            td_pg_empty(w->row.namespace_id) || td_pg_empty(w->row.workflow_id) ||
            td_pg_empty(w->row.run_id)) {
            return 0;
        }
    }
    if (in->current_exec >= 0 && !td_pg_empty(in->current.run_id) &&
        strcmp(in->current.run_id, in->execs[in->current_exec].row.run_id) != 0) {
        return 0;
    }
    for (int i = 0; i < in->n_batches; i++) {
        const td_store_history_batch_t *b = &in->batches[i];
        if (td_pg_empty(b->tree_id) || td_pg_empty(b->branch_id) || b->first_event_id <= 0) {
            return 0;
        }
    }
    for (int i = 0; i < in->n_tasks; i++) {
        if (in->tasks[i].category < TD_STORE_TASK_TRANSFER ||
            in->tasks[i].category > TD_STORE_TASK_VISIBILITY) {
            return 0;
        }
    }
    return 1;
}

int td_pg__write_send(td_pg_conn_t *c, td_store_req_t *req)
{
    const td_store_write_in_t *in = &req->in.write;
    td_pg_params_t p;
    int total = 0, n;

#define TD_PG_SEND(...)                                                            \
    do {                                                                           \
        if ((n = td_pg__send(c, req, td_pg_bind(&p, req, __VA_ARGS__), &p)) < 0) { \
            return -1;                                                             \
        }                                                                          \
        total += n;                                                                \
    } while (0)

    TD_PG_SEND(TD_PQ_FAST_FENCE, in->shard_id, in->expected_range_id);
    for (int i = 0; i < in->n_execs; i++) {
        const td_store_exec_write_t *w = &in->execs[i];
        if (w->mode == TD_STORE_EXEC_UPDATE) {
            TD_PG_SEND(TD_PQ_FAST_EXEC_UPDATE, w->row.namespace_id, w->row.workflow_id,
                       w->row.run_id, in->shard_id, w->row.state, w->row.status,
                       w->row.next_event_id, w->row.db_record_version, w->row.last_write_ns,
                       &w->row.state_blob, w->expected_db_record_version);
            continue;
        }
        /* a create: the current-run condition, then the row (a duplicate is an error) */
        if (w->mode == TD_STORE_EXEC_CREATE_REPLACE_CURRENT) {
            TD_PG_SEND(TD_PQ_FAST_CUR_IS, w->row.namespace_id, w->row.workflow_id,
                       w->expected_prev_run_id);
        } else if (i != in->current_exec) {
            TD_PG_SEND(TD_PQ_FAST_CUR_ABSENT, w->row.namespace_id, w->row.workflow_id);
        }
        TD_PG_SEND(TD_PQ_FAST_EXEC_INSERT, w->row.namespace_id, w->row.workflow_id, w->row.run_id,
                   in->shard_id, w->row.state, w->row.status, w->row.next_event_id,
                   w->row.db_record_version, w->row.last_write_ns, &w->row.state_blob);
    }
    if (in->current_exec >= 0) {
        const td_store_exec_write_t *w = &in->execs[in->current_exec];
        const td_store_execution_t *e = &w->row;
        if (w->mode == TD_STORE_EXEC_UPDATE) {
            TD_PG_SEND(TD_PQ_FAST_CUR_SET, e->namespace_id, e->workflow_id, e->run_id,
                       in->current.create_request_id, in->current.state, in->current.status);
        } else {
            /* brand new: a plain insert (an existing pointer is an error); replacing: the
             * pointer was checked above, so overwrite it */
            TD_PG_SEND(w->mode == TD_STORE_EXEC_CREATE_BRAND_NEW ? TD_PQ_FAST_CUR_INSERT
                                                                 : TD_PQ_CUR_PUT,
                       e->namespace_id, e->workflow_id, in->shard_id, e->run_id,
                       in->current.create_request_id != NULL ? in->current.create_request_id : "",
                       in->current.state, in->current.status);
        }
    }
    for (int i = 0; i < in->n_batches; i++) {
        const td_store_history_batch_t *b = &in->batches[i];
        TD_PG_SEND(TD_PQ_FAST_HIST_INSERT, b->tree_id, b->branch_id, b->first_event_id,
                   b->event_count, &b->events);
    }
    for (int i = 0; i < in->n_tasks; i++) {
        const td_store_task_t *t = &in->tasks[i];
        TD_PG_SEND(TD_PQ_TASK_INSERT, in->shard_id, t->category,
                   t->category == TD_STORE_TASK_TIMER ? t->fire_time_ns : 0, t->task_id, &t->blob);
    }
#undef TD_PG_SEND
    req->out.write.failed_exec = -1;
    return total;
}

/* ---- dispatch ---- */

/* The function of every store op. */
typedef int (*td_pg_op_fn)(td_pg_conn_t *c, td_store_req_t *req);

static const td_pg_op_fn td_pg_ops[TD_STORE_OP__COUNT] = {
    [TD_STORE_OP_CLUSTER_INIT] = td_pg_op_cluster,
    [TD_STORE_OP_CLUSTER_GET] = td_pg_op_cluster,
    [TD_STORE_OP_MEMBERS_HEARTBEAT] = td_pg_op_members_heartbeat,
    [TD_STORE_OP_MEMBERS_LIST] = td_pg_op_members_list,
    [TD_STORE_OP_NS_CREATE] = td_pg_op_ns_create,
    [TD_STORE_OP_NS_GET] = td_pg_op_ns_get,
    [TD_STORE_OP_NS_UPDATE] = td_pg_op_ns_update,
    [TD_STORE_OP_NS_LIST] = td_pg_op_ns_list,
    [TD_STORE_OP_NS_DELETE] = td_pg_op_ns_delete,
    [TD_STORE_OP_SHARD_GET_OR_CREATE] = td_pg_op_shard,
    [TD_STORE_OP_SHARD_ACQUIRE] = td_pg_op_shard,
    [TD_STORE_OP_SHARD_UPDATE] = td_pg_op_shard_update,
    [TD_STORE_OP_WRITE] = td_pg_op_write,
    [TD_STORE_OP_EXEC_GET] = td_pg_op_exec_get,
    [TD_STORE_OP_EXEC_DELETE] = td_pg_op_exec_delete,
    [TD_STORE_OP_HISTORY_READ] = td_pg_op_hist_read,
    [TD_STORE_OP_HISTORY_DELETE] = td_pg_op_hist_delete,
    [TD_STORE_OP_TASKS_READ] = td_pg_op_tasks_read,
    [TD_STORE_OP_TASKS_DELETE] = td_pg_op_tasks_delete,
    [TD_STORE_OP_TQ_ACQUIRE] = td_pg_op_tq_get,
    [TD_STORE_OP_TQ_GET] = td_pg_op_tq_get,
    [TD_STORE_OP_TQ_UPDATE] = td_pg_op_tq_update,
    [TD_STORE_OP_TQ_DELETE] = td_pg_op_tq_update,
    [TD_STORE_OP_BACKLOG_INSERT] = td_pg_op_backlog_insert,
    [TD_STORE_OP_BACKLOG_READ] = td_pg_op_backlog_read,
    [TD_STORE_OP_BACKLOG_DELETE] = td_pg_op_backlog_delete,
    [TD_STORE_OP_VIS_UPSERT] = td_pg_op_vis_put,
    [TD_STORE_OP_VIS_CLOSE] = td_pg_op_vis_put,
    [TD_STORE_OP_VIS_DELETE] = td_pg_op_vis_delete,
    [TD_STORE_OP_VIS_LIST] = td_pg_op_vis_query,
    [TD_STORE_OP_VIS_COUNT] = td_pg_op_vis_query,
};

int td_pg__execute(td_pg_conn_t *c, td_store_req_t *req)
{
    if ((unsigned)req->op >= TD_STORE_OP__COUNT || td_pg_ops[req->op] == NULL) {
        return td_store__fail(req, TD_EINVAL, "store: bad op %d", (int)req->op);
    }
    return td_pg_ops[req->op](c, req);
}
