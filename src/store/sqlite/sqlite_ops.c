/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite backend's operations: one function per store op, each run on one connection
 * inside a transaction that sqlite_store.c manages (a savepoint of the group-commit
 * transaction for writes, a read transaction for reads). Conditions are checked here with
 * plain SELECTs before the writes, which is safe because a single writer thread holds the
 * only write transaction. This file knows nothing of threads or queues.
 */
#define TD_LOG_COMPONENT "sqlite"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "store/sqlite/sqlite_int.h"
#include "store/store_vis.h"

/* Every prepared statement: its SQL, then the layout of its parameters and of the columns it
 * returns, one letter per value (td_sq_bind, td_sq_cols): s text, z text that may be NULL,
 * i int, I int64, N int64 stored as NULL when 0, d double, b blob (two columns: the bytes,
 * then the encoding). Adding a column to a statement is one edit here plus its value at the
 * call site. */
typedef struct {
    const char *sql;
    const char *params;
    const char *cols;
} td_sq_stmt_def_t;

static const td_sq_stmt_def_t td_sq_stmts[TD_SQ__COUNT] = {
    [TD_SQ_SAVEPOINT] = { "SAVEPOINT td_req", "", "" },
    [TD_SQ_RELEASE] = { "RELEASE td_req", "", "" },
    [TD_SQ_ROLLBACK_TO] = { "ROLLBACK TO td_req", "", "" },
    [TD_SQ_CLUSTER_INIT] = { "INSERT OR IGNORE INTO cluster_metadata (id, cluster_name, "
                             "history_shard_count, data, data_encoding) VALUES (1, ?, ?, ?, ?)",
                             "sib", "" },
    [TD_SQ_CLUSTER_GET] = { "SELECT cluster_name, history_shard_count, data, data_encoding "
                            "FROM cluster_metadata WHERE id = 1",
                            "", "sib" },
    [TD_SQ_MEMBERS_PUT] = { "INSERT OR REPLACE INTO cluster_membership (membership_address, "
                            "host_id, role, rpc_address, session_start_ms, heartbeat_ms) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            "ssssII", "" },
    [TD_SQ_MEMBERS_EXPIRE] = { "DELETE FROM cluster_membership WHERE heartbeat_ms < ?", "I", "" },
    [TD_SQ_MEMBERS_LIST] = { "SELECT membership_address, host_id, role, rpc_address, "
                             "session_start_ms, heartbeat_ms FROM cluster_membership "
                             "WHERE heartbeat_ms >= ? ORDER BY membership_address",
                             "I", "ssssII" },
    [TD_SQ_NS_BUMP] = { "UPDATE namespace_metadata SET notification_version = "
                        "notification_version + 1 WHERE id = 1 RETURNING notification_version",
                        "", "" },
    [TD_SQ_NS_FIND] = { "SELECT id, name FROM namespaces WHERE id = ? OR name = ?", "ss", "" },
    [TD_SQ_NS_INSERT] = { "INSERT INTO namespaces (id, name, data, data_encoding, "
                          "notification_version) VALUES (?, ?, ?, ?, ?)",
                          "ssbI", "" },
    [TD_SQ_NS_GET_ID] = { "SELECT id, name, data, data_encoding, notification_version "
                          "FROM namespaces WHERE id = ?",
                          "s", "ssbI" },
    [TD_SQ_NS_GET_NAME] = { "SELECT id, name, data, data_encoding, notification_version "
                            "FROM namespaces WHERE name = ?",
                            "s", "ssbI" },
    [TD_SQ_NS_UPDATE] = { "UPDATE namespaces SET name = ?, data = ?, data_encoding = ?, "
                          "notification_version = ? WHERE id = ?",
                          "sbIs", "" },
    [TD_SQ_NS_LIST] = { "SELECT id, name, data, data_encoding, notification_version "
                        "FROM namespaces WHERE name > ? ORDER BY name LIMIT ?",
                        "sI", "ssbI" },
    [TD_SQ_NS_DELETE] = { "DELETE FROM namespaces WHERE id = ?", "s", "" },
    [TD_SQ_SHARD_INSERT] = { "INSERT OR IGNORE INTO shards (shard_id, range_id, data, "
                             "data_encoding) VALUES (?, ?, ?, ?)",
                             "iIb", "" },
    [TD_SQ_SHARD_GET] = { "SELECT range_id, data, data_encoding FROM shards WHERE shard_id = ?",
                          "i", "Ib" },
    [TD_SQ_SHARD_BUMP] = { "UPDATE shards SET range_id = range_id + 1 WHERE shard_id = ?", "i",
                           "" },
    [TD_SQ_SHARD_RANGE] = { "SELECT range_id FROM shards WHERE shard_id = ?", "i", "" },
    [TD_SQ_SHARD_SET] = { "UPDATE shards SET data = ?, data_encoding = ? WHERE shard_id = ?", "bi",
                          "" },
    [TD_SQ_CUR_GET] = { "SELECT run_id, create_request_id, state, status FROM current_executions "
                        "WHERE namespace_id = ? AND workflow_id = ?",
                        "ss", "ssii" },
    [TD_SQ_CUR_PUT] = { "INSERT OR REPLACE INTO current_executions (namespace_id, workflow_id, "
                        "shard_id, run_id, create_request_id, state, status) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        "ssissii", "" },
    [TD_SQ_CUR_DELETE_RUN] = { "DELETE FROM current_executions WHERE namespace_id = ? AND "
                               "workflow_id = ? AND run_id = ?",
                               "sss", "" },
    [TD_SQ_EXEC_VERSION] = { "SELECT db_record_version FROM executions WHERE namespace_id = ? "
                             "AND workflow_id = ? AND run_id = ?",
                             "sss", "" },
    [TD_SQ_EXEC_INSERT] = { "INSERT INTO executions (namespace_id, workflow_id, run_id, "
                            "shard_id, state, status, next_event_id, db_record_version, "
                            "last_write_ns, data, data_encoding) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            "sssiiiIIIb", "" },
    /* shard_id is not rewritten (a run never changes shard), so its index is untouched */
    [TD_SQ_EXEC_UPDATE] = { "UPDATE executions SET state = ?5, status = ?6, next_event_id = ?7, "
                            "db_record_version = ?8, last_write_ns = ?9, data = ?10, "
                            "data_encoding = ?11 WHERE namespace_id = ?1 AND workflow_id = ?2 "
                            "AND run_id = ?3 AND db_record_version = ?12",
                            "sssiiiIIIbI", "" },
    [TD_SQ_EXEC_GET] = { "SELECT state, status, next_event_id, db_record_version, "
                         "last_write_ns, data, data_encoding FROM executions "
                         "WHERE namespace_id = ? AND workflow_id = ? AND run_id = ?",
                         "sss", "iiIIIb" },
    [TD_SQ_EXEC_DELETE] = { "DELETE FROM executions WHERE namespace_id = ? AND workflow_id = ? "
                            "AND run_id = ?",
                            "sss", "" },
    [TD_SQ_HIST_INSERT] = { "INSERT INTO history_node (tree_id, branch_id, node_id, "
                            "event_count, data, data_encoding) VALUES (?, ?, ?, ?, ?, ?)",
                            "ssIib", "" },
    [TD_SQ_HIST_START] = { "SELECT max(node_id) FROM history_node WHERE tree_id = ? AND "
                           "branch_id = ? AND node_id <= ?",
                           "ssI", "" },
    [TD_SQ_HIST_READ] = { "SELECT node_id, event_count, data, data_encoding FROM history_node "
                          "WHERE tree_id = ? AND branch_id = ? AND node_id >= ? AND node_id < ? "
                          "ORDER BY node_id",
                          "ssII", "Iib" },
    [TD_SQ_HIST_DELETE] = { "DELETE FROM history_node WHERE tree_id = ? AND branch_id = ?", "ss",
                            "" },
    [TD_SQ_TASK_INSERT] = { "INSERT INTO history_tasks (shard_id, category, fire_ns, task_id, "
                            "data, data_encoding) VALUES (?, ?, ?, ?, ?, ?)",
                            "iiIIb", "" },
    [TD_SQ_TASK_READ] = { "SELECT task_id, fire_ns, data, data_encoding FROM history_tasks "
                          "WHERE shard_id = ? AND category = ? AND fire_ns = 0 AND task_id >= ? "
                          "AND task_id < ? ORDER BY task_id LIMIT ?",
                          "iiIII", "IIb" },
    [TD_SQ_TIMER_READ] = { "SELECT task_id, fire_ns, data, data_encoding FROM history_tasks "
                           "WHERE shard_id = ?1 AND category = ?2 AND (fire_ns, task_id) >= (?3, "
                           "?4) "
                           "AND fire_ns < ?5 ORDER BY fire_ns, task_id LIMIT ?6",
                           "iiIIII", "IIb" },
    [TD_SQ_TASK_DELETE] = { "DELETE FROM history_tasks WHERE shard_id = ? AND category = ? AND "
                            "fire_ns = 0 AND task_id < ?",
                            "iiI", "" },
    [TD_SQ_TIMER_DELETE] = { "DELETE FROM history_tasks WHERE shard_id = ?1 AND category = ?2 "
                             "AND (fire_ns, task_id) < (?3, ?4)",
                             "iiII", "" },
    [TD_SQ_TQ_INSERT] = { "INSERT OR IGNORE INTO task_queues (namespace_id, name, type, kind, "
                          "range_id, ack_level, expiry_ns, data, data_encoding) "
                          "VALUES (?, ?, ?, ?, 0, 0, ?, ?, ?)",
                          "ssiiIb", "" },
    [TD_SQ_TQ_BUMP] = { "UPDATE task_queues SET range_id = range_id + 1 WHERE namespace_id = ? "
                        "AND name = ? AND type = ?",
                        "ssi", "" },
    [TD_SQ_TQ_GET] = { "SELECT kind, range_id, ack_level, expiry_ns, data, data_encoding FROM "
                       "task_queues WHERE namespace_id = ? AND name = ? AND type = ?",
                       "ssi", "iIIIb" },
    [TD_SQ_TQ_RANGE] = { "SELECT range_id FROM task_queues WHERE namespace_id = ? AND name = ? "
                         "AND type = ?",
                         "ssi", "" },
    [TD_SQ_TQ_UPDATE] = { "UPDATE task_queues SET ack_level = ?4, expiry_ns = ?5, data = ?6, "
                          "data_encoding = ?7 WHERE namespace_id = ?1 AND name = ?2 AND type = ?3",
                          "ssiIIb", "" },
    [TD_SQ_TQ_DELETE] = { "DELETE FROM task_queues WHERE namespace_id = ? AND name = ? AND "
                          "type = ?",
                          "ssi", "" },
    [TD_SQ_BL_DELETE_ALL] = { "DELETE FROM tasks WHERE namespace_id = ? AND name = ? AND type = ?",
                              "ssi", "" },
    [TD_SQ_BL_INSERT] = { "INSERT INTO tasks (namespace_id, name, type, task_id, expiry_ns, data, "
                          "data_encoding) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          "ssiIIb", "" },
    [TD_SQ_BL_READ] = { "SELECT task_id, expiry_ns, data, data_encoding FROM tasks WHERE "
                        "namespace_id = ? AND name = ? AND type = ? AND task_id >= ? AND "
                        "task_id < ? ORDER BY task_id LIMIT ?",
                        "ssiIII", "IIb" },
    [TD_SQ_BL_DELETE] = { "DELETE FROM tasks WHERE namespace_id = ? AND name = ? AND type = ? "
                          "AND task_id < ?",
                          "ssiI", "" },
    [TD_SQ_VIS_EXISTS] = { "SELECT 1 FROM executions_visibility WHERE namespace_id = ? AND "
                           "run_id = ?",
                           "ss", "" },
    [TD_SQ_VIS_PUT] = { "INSERT OR REPLACE INTO executions_visibility (namespace_id, run_id, "
                        "workflow_id, workflow_type, task_queue, start_ns, execution_ns, "
                        "close_ns, sort_close, status, history_length, history_size_bytes, memo, "
                        "memo_encoding, search_attributes, sa_encoding, parent_workflow_id, "
                        "parent_run_id, root_workflow_id, root_run_id, first_run_id, "
                        "state_transition_count) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        "sssssIINIiIIbbzzzzzI", "" },
    [TD_SQ_VIS_DELETE] = { "DELETE FROM executions_visibility WHERE namespace_id = ? AND "
                           "run_id = ?",
                           "ss", "" },
    [TD_SQ_VIS_SA_DELETE] = { "DELETE FROM visibility_sa WHERE namespace_id = ? AND run_id = ?",
                              "ss", "" },
    [TD_SQ_VIS_SA_INSERT] = { "INSERT INTO visibility_sa (namespace_id, run_id, name, type, "
                              "ival, dval, sval) VALUES (?, ?, ?, ?, ?, ?, ?)",
                              "sssi", "" },
};

#define TD_SQ_INT64_MAX INT64_MAX

/* ---- helpers ---- */

int td_sq__map(int src)
{
    switch (src & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return TD_OK;
    case SQLITE_FULL:
        return TD_EFULL;
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_PROTOCOL:
        return TD_EIO;
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return TD_EUNAVAIL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return TD_EBUSY;
    case SQLITE_CONSTRAINT:
        return TD_ECONDITION;
    case SQLITE_NOMEM:
        return TD_ENOMEM;
    case SQLITE_TOOBIG:
        return TD_ETOOBIG;
    default:
        return TD_EINTERNAL;
    }
}

int td_sq__is_fault(int rc)
{
    return rc == TD_EFULL || rc == TD_EIO || rc == TD_EUNAVAIL || rc == TD_EBUSY ||
           rc == TD_ENOMEM || rc == TD_EINTERNAL || rc == TD_ETOOBIG;
}

int td_sq__fail(td_store_req_t *req, td_sq_conn_t *c, int src, const char *what)
{
    return td_store__fail(req, td_sq__map(src), "%s: %s (sqlite %d)", what,
                          c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(src), src);
}

sqlite3_stmt *td_sq__stmt(td_sq_conn_t *c, td_store_req_t *req, int id)
{
    sqlite3_stmt *st = c->stmts[id];
    int src;

    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    src = sqlite3_prepare_v3(c->db, td_sq_stmts[id].sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (src != SQLITE_OK) {
        td_sq__fail(req, c, src, "prepare");
        return NULL;
    }
    c->stmts[id] = st;
    return st;
}

int td_sq__step(sqlite3_stmt *st)
{
    int src;
    int tries = 0;

    for (;;) {
        src = sqlite3_step(st);
        if ((src & 0xff) != SQLITE_BUSY && (src & 0xff) != SQLITE_LOCKED) {
            return src;
        }
        /* busy_timeout already waited; keep trying, BUSY never reaches a caller unless the
         * database stays locked for minutes. */
        if (++tries > 600) {
            return src;
        }
        sqlite3_reset(st);
        sqlite3_sleep(100);
    }
}

static void td_sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s != NULL ? s : "", -1, SQLITE_STATIC);
}

static void td_sq_bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s != NULL && s[0] != '\0') {
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, i);
    }
}

/* NULL for a NULL column (else an arena copy). */
static const char *td_sq_col_text_or_null(td_store_req_t *req, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t != NULL ? td_arena_strdup(&req->arena, (const char *)t) : NULL;
}

static void td_sq_bind_blob(sqlite3_stmt *st, int i, int j, const td_store_blob_t *b)
{
    if (b->data != NULL && b->len > 0) {
        sqlite3_bind_blob64(st, i, b->data, b->len, SQLITE_STATIC);
    } else {
        sqlite3_bind_zeroblob(st, i, 0);
    }
    sqlite3_bind_int(st, j, b->encoding);
}

static const char *td_sq_col_text(td_store_req_t *req, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return td_arena_strdup(&req->arena, t != NULL ? (const char *)t : "");
}

static void td_sq_col_blob(td_store_req_t *req, sqlite3_stmt *st, int i, int j,
                           td_store_blob_t *out)
{
    const void *p = sqlite3_column_blob(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);

    out->data = n > 0 ? td_arena_memdup(&req->arena, p, n) : NULL;
    out->len = n;
    out->encoding = sqlite3_column_int(st, j);
}

/* Runs a statement expected to return no rows (or ignores them). */
static int td_sq_exec(td_sq_conn_t *c, td_store_req_t *req, sqlite3_stmt *st, const char *what)
{
    int src = td_sq__step(st);
    if (src != SQLITE_DONE && src != SQLITE_ROW) {
        return td_sq__fail(req, c, src, what);
    }
    sqlite3_reset(st);
    return TD_OK;
}

/* Binds one value of layout letter `l` at parameter *i (advancing it) from ap. */
static void td_sq_bind_one(sqlite3_stmt *st, int *i, char l, va_list *ap)
{
    switch (l) {
    case 's':
        td_sq_bind_text(st, (*i)++, va_arg(*ap, const char *));
        break;
    case 'z':
        td_sq_bind_text_or_null(st, (*i)++, va_arg(*ap, const char *));
        break;
    case 'i':
        sqlite3_bind_int(st, (*i)++, va_arg(*ap, int));
        break;
    case 'I':
        sqlite3_bind_int64(st, (*i)++, va_arg(*ap, int64_t));
        break;
    case 'N': {
        int64_t v = va_arg(*ap, int64_t);
        if (v != 0) {
            sqlite3_bind_int64(st, *i, v);
        } else {
            sqlite3_bind_null(st, *i);
        }
        (*i)++;
        break;
    }
    case 'd':
        sqlite3_bind_double(st, (*i)++, va_arg(*ap, double));
        break;
    case 'b':
        td_sq_bind_blob(st, *i, *i + 1, va_arg(*ap, const td_store_blob_t *));
        *i += 2;
        break;
    default:
        td_log_error("sqlite: bad parameter layout letter '%c'", l);
        abort();
    }
}

/* Binds the parameters of statement id from ap, one per letter of its params layout. */
static void td_sq_bindv(sqlite3_stmt *st, int id, va_list *ap)
{
    int i = 1;

    for (const char *l = td_sq_stmts[id].params; *l != '\0'; l++) {
        td_sq_bind_one(st, &i, *l, ap);
    }
}

/* Prepares (or resets) statement id and binds its parameters from the arguments, one per
 * letter of its params layout. NULL when preparing failed (req->rc set). */
static sqlite3_stmt *td_sq_bind(td_sq_conn_t *c, td_store_req_t *req, int id, ...)
{
    sqlite3_stmt *st = td_sq__stmt(c, req, id);
    va_list ap;

    if (st == NULL) {
        return NULL;
    }
    va_start(ap, id);
    td_sq_bindv(st, id, &ap);
    va_end(ap);
    return st;
}

/* Runs statement id with the arguments (td_sq_bind) as a statement expected to return no rows
 * (or whose rows are ignored); `what` names it in an error. */
static int td_sq_do(td_sq_conn_t *c, td_store_req_t *req, const char *what, int id, ...)
{
    sqlite3_stmt *st = td_sq__stmt(c, req, id);
    va_list ap;

    if (st == NULL) {
        return req->rc;
    }
    va_start(ap, id);
    td_sq_bindv(st, id, &ap);
    va_end(ap);
    return td_sq_exec(c, req, st, what);
}

/* The array arr of n elements of `size` bytes in the request arena, with room for one more:
 * doubled (*cap with it) when full. */
static void *td_sq_grow(td_store_req_t *req, void *arr, int n, int *cap, size_t size)
{
    void *bigger;

    if (n < *cap) {
        return arr;
    }
    bigger = td_arena_calloc(&req->arena, size * (size_t)*cap * 2);
    memcpy(bigger, arr, size * (size_t)*cap);
    *cap *= 2;
    return bigger;
}

/* Reads the current row into the arguments, one pointer per letter of layout: s/z const
 * char ** (an arena copy; a NULL column reads as "" for s, NULL for z), i int *, I int64_t *,
 * d double *, b td_store_blob_t *. */
static void td_sq_colsv(td_store_req_t *req, sqlite3_stmt *st, const char *layout, va_list ap)
{
    int i = 0;

    for (const char *l = layout; *l != '\0'; l++) {
        switch (*l) {
        case 's':
            *va_arg(ap, const char **) = td_sq_col_text(req, st, i++);
            break;
        case 'z':
            *va_arg(ap, const char **) = td_sq_col_text_or_null(req, st, i++);
            break;
        case 'i':
            *va_arg(ap, int *) = sqlite3_column_int(st, i++);
            break;
        case 'I':
        case 'N':
            *va_arg(ap, int64_t *) = sqlite3_column_int64(st, i++);
            break;
        case 'd':
            *va_arg(ap, double *) = sqlite3_column_double(st, i++);
            break;
        case 'b':
            td_sq_col_blob(req, st, i, i + 1, va_arg(ap, td_store_blob_t *));
            i += 2;
            break;
        default:
            td_log_error("sqlite: bad column layout letter '%c'", *l);
            abort();
        }
    }
}

static void td_sq_cols(td_store_req_t *req, sqlite3_stmt *st, const char *layout, ...)
{
    va_list ap;

    va_start(ap, layout);
    td_sq_colsv(req, st, layout, ap);
    va_end(ap);
}

/* Reads the current row of statement id by its cols layout. */
static void td_sq_row(td_store_req_t *req, sqlite3_stmt *st, int id, ...)
{
    va_list ap;

    va_start(ap, id);
    td_sq_colsv(req, st, td_sq_stmts[id].cols, ap);
    va_end(ap);
}

/* Prepares statement id and binds the arguments (td_sq_bind) into var; on failure sets rc and
 * jumps to out. */
#define TD_SQ_RUN(var, ...)                    \
    do {                                       \
        var = td_sq_bind(c, req, __VA_ARGS__); \
        if (var == NULL) {                     \
            rc = req->rc;                      \
            goto out;                          \
        }                                      \
    } while (0)

/* ---- cluster ---- */

static int td_sq_cluster_get(td_sq_conn_t *c, td_store_req_t *req)
{
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src;

    TD_SQ_RUN(st, TD_SQ_CLUSTER_GET);
    src = td_sq__step(st);
    if (src == SQLITE_DONE) {
        rc = td_store__fail(req, TD_ENOTFOUND, "cluster metadata not initialised");
    } else if (src != SQLITE_ROW) {
        rc = td_sq__fail(req, c, src, "read cluster metadata");
    } else {
        td_sq_row(req, st, TD_SQ_CLUSTER_GET, &req->out.cluster.cluster_name,
                  &req->out.cluster.history_shard_count, &req->out.cluster.info);
    }
out:
    if (st != NULL) {
        sqlite3_reset(st);
    }
    return rc;
}

static int td_sq_cluster_init(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_cluster_t *in = &req->in.cluster;
    int rc = TD_OK;

    if (in->cluster_name == NULL || in->history_shard_count <= 0) {
        rc = td_store__fail(req, TD_EINVAL, "cluster init: name and shard count required");
        goto out;
    }
    rc = td_sq_do(c, req, "init cluster metadata", TD_SQ_CLUSTER_INIT, in->cluster_name,
                  in->history_shard_count, &in->info);
    if (rc == TD_OK) {
        rc = td_sq_cluster_get(c, req);
    }
out:
    return rc;
}

/* ---- cluster membership ---- */

static int td_sq_members_heartbeat(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_members_in_t *in = &req->in.members;
    int rc = TD_OK;

    for (int i = 0; i < in->n_rows && rc == TD_OK; i++) {
        const td_store_member_row_t *r = &in->rows[i];
        rc = td_sq_do(c, req, "write cluster membership", TD_SQ_MEMBERS_PUT, r->membership_address,
                      r->host_id, r->role, r->rpc_address, r->session_start_ms, r->heartbeat_ms);
    }
    if (rc == TD_OK) {
        rc = td_sq_do(c, req, "expire cluster membership", TD_SQ_MEMBERS_EXPIRE,
                      in->expire_before_ms);
    }
    return rc;
}

static int td_sq_members_list(td_sq_conn_t *c, td_store_req_t *req)
{
    td_store_members_out_t *o = &req->out.members;
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src, cap = 16;

    TD_SQ_RUN(st, TD_SQ_MEMBERS_LIST, req->in.members.since_ms);
    o->rows = td_arena_alloc(&req->arena, sizeof(*o->rows) * (size_t)cap);
    while ((src = td_sq__step(st)) == SQLITE_ROW) {
        td_store_member_row_t *r;
        o->rows = td_sq_grow(req, o->rows, o->n_rows, &cap, sizeof(*o->rows));
        r = &o->rows[o->n_rows++];
        td_sq_row(req, st, TD_SQ_MEMBERS_LIST, &r->membership_address, &r->host_id, &r->role,
                  &r->rpc_address, &r->session_start_ms, &r->heartbeat_ms);
    }
    if (src != SQLITE_DONE) {
        rc = td_sq__fail(req, c, src, "list cluster membership");
    }
    sqlite3_reset(st);
out:
    return rc;
}

/* ---- namespaces ---- */

static int td_sq_ns_bump(td_sq_conn_t *c, td_store_req_t *req, int64_t *version)
{
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src;

    TD_SQ_RUN(st, TD_SQ_NS_BUMP);
    src = td_sq__step(st);
    if (src != SQLITE_ROW) {
        rc = td_sq__fail(req, c, src, "bump namespace notification version");
        goto out;
    }
    *version = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
out:
    return rc;
}

static void td_sq_ns_row(td_store_req_t *req, sqlite3_stmt *st, td_store_namespace_t *out)
{
    td_sq_row(req, st, TD_SQ_NS_GET_ID, &out->id, &out->name, &out->detail,
              &out->notification_version);
}

static int td_sq_ns_create(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_namespace_t *in = &req->in.ns.rec;
    sqlite3_stmt *st = NULL;
    int64_t version = 0;
    int rc = TD_OK, src;

    if (in->id == NULL || in->name == NULL || in->id[0] == '\0' || in->name[0] == '\0') {
        rc = td_store__fail(req, TD_EINVAL, "namespace create: id and name required");
        goto out;
    }
    TD_SQ_RUN(st, TD_SQ_NS_FIND, in->id, in->name);
    src = td_sq__step(st);
    if (src == SQLITE_ROW) {
        rc = td_store__fail(req, TD_EEXIST, "namespace %s (id %s) already exists",
                            (const char *)sqlite3_column_text(st, 1),
                            (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        goto out;
    } else if (src != SQLITE_DONE) {
        rc = td_sq__fail(req, c, src, "find namespace");
        goto out;
    }
    rc = td_sq_ns_bump(c, req, &version);
    if (rc != TD_OK) {
        goto out;
    }
    rc = td_sq_do(c, req, "insert namespace", TD_SQ_NS_INSERT, in->id, in->name, &in->detail,
                  version);
    if (rc == TD_OK) {
        req->out.ns.rec = *in;
        req->out.ns.rec.notification_version = version;
    }
out:
    return rc;
}

static int td_sq_ns_get(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_namespace_t *in = &req->in.ns.rec;
    int by_id = in->id != NULL && in->id[0] != '\0';
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src;

    TD_SQ_RUN(st, by_id ? TD_SQ_NS_GET_ID : TD_SQ_NS_GET_NAME, by_id ? in->id : in->name);
    src = td_sq__step(st);
    if (src == SQLITE_ROW) {
        td_sq_ns_row(req, st, &req->out.ns.rec);
    } else if (src == SQLITE_DONE) {
        rc = td_store__fail(req, TD_ENOTFOUND, "namespace %s not found",
                            by_id ? in->id : (in->name ? in->name : ""));
    } else {
        rc = td_sq__fail(req, c, src, "get namespace");
    }
    sqlite3_reset(st);
out:
    return rc;
}

static int td_sq_ns_update(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_namespace_t *in = &req->in.ns.rec;
    sqlite3_stmt *st = NULL;
    int64_t version = 0, cur;
    int rc = TD_OK, src;

    if (in->id == NULL || in->name == NULL) {
        rc = td_store__fail(req, TD_EINVAL, "namespace update: id and name required");
        goto out;
    }
    TD_SQ_RUN(st, TD_SQ_NS_FIND, in->id, in->name);
    while ((src = td_sq__step(st)) == SQLITE_ROW) {
        if (strcmp((const char *)sqlite3_column_text(st, 0), in->id) != 0) {
            rc = td_store__fail(req, TD_EEXIST, "namespace name %s is taken", in->name);
            sqlite3_reset(st);
            goto out;
        }
    }
    if (src != SQLITE_DONE) {
        rc = td_sq__fail(req, c, src, "find namespace");
        goto out;
    }
    TD_SQ_RUN(st, TD_SQ_NS_GET_ID, in->id);
    src = td_sq__step(st);
    if (src == SQLITE_DONE) {
        rc = td_store__fail(req, TD_ENOTFOUND, "namespace %s not found", in->id);
        goto out;
    } else if (src != SQLITE_ROW) {
        rc = td_sq__fail(req, c, src, "get namespace");
        goto out;
    }
    cur = sqlite3_column_int64(st, 4);
    sqlite3_reset(st);
    if (cur != in->notification_version) {
        req->out.ns.cur_version = cur;
        rc = td_store__fail(req, TD_ECONDITION,
                            "namespace %s: notification version is %" PRId64 ", expected %" PRId64,
                            in->id, cur, in->notification_version);
        goto out;
    }
    rc = td_sq_ns_bump(c, req, &version);
    if (rc != TD_OK) {
        goto out;
    }
    rc = td_sq_do(c, req, "update namespace", TD_SQ_NS_UPDATE, in->name, &in->detail, version,
                  in->id);
    if (rc == TD_OK) {
        req->out.ns.rec = *in;
        req->out.ns.rec.notification_version = version;
    }
out:
    return rc;
}

static int td_sq_ns_list(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_ns_list_in_t *in = &req->in.ns_list;
    td_store_ns_list_out_t *o = &req->out.ns_list;
    const char *after = "";
    int64_t none[1];
    int present = 0, cap = 16, limit = in->page_size > 0 ? in->page_size : INT32_MAX;
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src;

    if (td_store__token_read_str(req, &in->token, none, 0, &after, &present) != TD_OK) {
        rc = td_store__fail(req, TD_EINVAL, "namespace list: bad page token");
        goto out;
    }
    TD_SQ_RUN(st, TD_SQ_NS_LIST, present ? after : "", (int64_t)limit + 1);
    o->recs = td_arena_alloc(&req->arena, sizeof(*o->recs) * (size_t)cap);
    while ((src = td_sq__step(st)) == SQLITE_ROW) {
        if (o->n_recs == limit) {
            o->next_token = td_store__token_make_str(req, none, 0, o->recs[o->n_recs - 1].name);
            break;
        }
        o->recs = td_sq_grow(req, o->recs, o->n_recs, &cap, sizeof(*o->recs));
        td_sq_ns_row(req, st, &o->recs[o->n_recs++]);
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = td_sq__fail(req, c, src, "list namespaces");
    }
    sqlite3_reset(st);
out:
    return rc;
}

static int td_sq_ns_delete(td_sq_conn_t *c, td_store_req_t *req)
{
    int rc = TD_OK;

    rc = td_sq_do(c, req, "delete namespace", TD_SQ_NS_DELETE, req->in.ns.rec.id);
    if (rc == TD_OK && sqlite3_changes(c->db) == 0) {
        rc = td_store__fail(req, TD_ENOTFOUND, "namespace %s not found",
                            req->in.ns.rec.id ? req->in.ns.rec.id : "");
    }
    return rc;
}

/* ---- shards ---- */

static int td_sq_shard_read(td_sq_conn_t *c, td_store_req_t *req, int32_t shard_id)
{
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src;

    TD_SQ_RUN(st, TD_SQ_SHARD_GET, shard_id);
    src = td_sq__step(st);
    if (src == SQLITE_ROW) {
        req->out.shard.rec.shard_id = shard_id;
        td_sq_row(req, st, TD_SQ_SHARD_GET, &req->out.shard.rec.range_id, &req->out.shard.rec.info);
    } else if (src == SQLITE_DONE) {
        rc = td_store__fail(req, TD_ENOTFOUND, "shard %d not found", shard_id);
    } else {
        rc = td_sq__fail(req, c, src, "read shard");
    }
    sqlite3_reset(st);
out:
    return rc;
}

static int td_sq_shard_insert(td_sq_conn_t *c, td_store_req_t *req, int64_t range)
{
    int rc = TD_OK;

    c->fence_ok = 0;
    rc = td_sq_do(c, req, "create shard", TD_SQ_SHARD_INSERT, req->in.shard.rec.shard_id, range,
                  &req->in.shard.rec.info);
    return rc;
}

static int td_sq_shard_get_or_create(td_sq_conn_t *c, td_store_req_t *req)
{
    int rc = td_sq_shard_insert(c, req, 1);
    if (rc == TD_OK) {
        rc = td_sq_shard_read(c, req, req->in.shard.rec.shard_id);
    }
    return rc;
}

static int td_sq_shard_acquire(td_sq_conn_t *c, td_store_req_t *req)
{
    int rc = td_sq_shard_insert(c, req, 0);

    if (rc != TD_OK) {
        goto out;
    }
    rc = td_sq_do(c, req, "acquire shard", TD_SQ_SHARD_BUMP, req->in.shard.rec.shard_id);
    if (rc == TD_OK) {
        rc = td_sq_shard_read(c, req, req->in.shard.rec.shard_id);
    }
out:
    return rc;
}

/* TD_OK when shard's range_id is expected; else TD_ESHARDLOST with *cur set. */
static int td_sq_shard_fence(td_sq_conn_t *c, td_store_req_t *req, int32_t shard_id,
                             int64_t expected, int64_t *cur)
{
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src;

    *cur = 0;
    if (c->fence_ok && c->fence_shard == shard_id && c->fence_range == expected) {
        *cur = expected; /* checked earlier in this same write transaction */
        goto out;
    }
    TD_SQ_RUN(st, TD_SQ_SHARD_RANGE, shard_id);
    src = td_sq__step(st);
    if (src == SQLITE_ROW) {
        *cur = sqlite3_column_int64(st, 0);
    } else if (src != SQLITE_DONE) {
        rc = td_sq__fail(req, c, src, "read shard range");
        goto out;
    }
    sqlite3_reset(st);
    if (*cur == expected) {
        c->fence_ok = 1;
        c->fence_shard = shard_id;
        c->fence_range = expected;
    } else {
        rc = td_store__fail(req, TD_ESHARDLOST,
                            "shard %d: range_id is %" PRId64 ", expected %" PRId64, shard_id, *cur,
                            expected);
    }
out:
    return rc;
}

static int td_sq_shard_update(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_shard_t *in = &req->in.shard.rec;
    int rc;

    rc = td_sq_shard_fence(c, req, in->shard_id, in->range_id, &req->out.shard.cur_range_id);
    if (rc != TD_OK) {
        goto out;
    }
    c->fence_ok = 0;
    rc = td_sq_do(c, req, "update shard", TD_SQ_SHARD_SET, &in->info, in->shard_id);
    if (rc == TD_OK) {
        req->out.shard.rec = *in;
    }
out:
    return rc;
}

/* ---- executions ---- */

/* Reads the current pointer: TD_OK with *found 0/1, or an error. */
static int td_sq_current_get(td_sq_conn_t *c, td_store_req_t *req, const char *ns, const char *wf,
                             td_store_current_t *cur, int *found)
{
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src;

    *found = 0;
    TD_SQ_RUN(st, TD_SQ_CUR_GET, ns, wf);
    src = td_sq__step(st);
    if (src == SQLITE_ROW) {
        td_sq_row(req, st, TD_SQ_CUR_GET, &cur->run_id, &cur->create_request_id, &cur->state,
                  &cur->status);
        *found = 1;
    } else if (src != SQLITE_DONE) {
        rc = td_sq__fail(req, c, src, "read current execution");
    }
    sqlite3_reset(st);
out:
    return rc;
}

static int td_sq_exec_write_one(td_sq_conn_t *c, td_store_req_t *req, int32_t shard_id, int i)
{
    const td_store_exec_write_t *w = &req->in.write.execs[i];
    const td_store_execution_t *r = &w->row;
    td_store_write_out_t *o = &req->out.write;
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src, found = 0;

    if (r->namespace_id == NULL || r->workflow_id == NULL || r->run_id == NULL) {
        rc = td_store__fail(req, TD_EINVAL, "execution write %d: ids required", i);
        goto out;
    }
    if (w->mode == TD_STORE_EXEC_CREATE_BRAND_NEW ||
        w->mode == TD_STORE_EXEC_CREATE_REPLACE_CURRENT) {
        rc = td_sq_current_get(c, req, r->namespace_id, r->workflow_id, &o->current, &found);
        if (rc != TD_OK) {
            goto out;
        }
        if (w->mode == TD_STORE_EXEC_CREATE_BRAND_NEW && found) {
            o->has_current = 1;
            o->failed_exec = i;
            rc = td_store__fail(req, TD_EEXIST, "workflow %s already has run %s (state %d)",
                                r->workflow_id, o->current.run_id, o->current.state);
            goto out;
        }
        if (w->mode == TD_STORE_EXEC_CREATE_REPLACE_CURRENT &&
            (!found || w->expected_prev_run_id == NULL ||
             strcmp(o->current.run_id, w->expected_prev_run_id) != 0)) {
            o->has_current = found;
            o->failed_exec = i;
            rc = td_store__fail(req, TD_EEXIST, "workflow %s: current run is %s, expected %s",
                                r->workflow_id, found ? o->current.run_id : "(none)",
                                w->expected_prev_run_id ? w->expected_prev_run_id : "(none)");
            goto out;
        }
        memset(&o->current, 0, sizeof(o->current));
        TD_SQ_RUN(st, TD_SQ_EXEC_INSERT, r->namespace_id, r->workflow_id, r->run_id, shard_id,
                  r->state, r->status, r->next_event_id, r->db_record_version, r->last_write_ns,
                  &r->state_blob);
        src = td_sq__step(st);
        if ((src & 0xff) == SQLITE_CONSTRAINT) {
            o->failed_exec = i;
            rc = td_store__fail(req, TD_EEXIST, "run %s of workflow %s already exists", r->run_id,
                                r->workflow_id);
        } else if (src != SQLITE_DONE) {
            rc = td_sq__fail(req, c, src, "insert execution");
        }
        sqlite3_reset(st);
    } else if (w->mode == TD_STORE_EXEC_UPDATE) {
        /* the condition rides on the UPDATE; the version is read only when it failed */
        rc = td_sq_do(c, req, "update execution", TD_SQ_EXEC_UPDATE, r->namespace_id,
                      r->workflow_id, r->run_id, shard_id, r->state, r->status, r->next_event_id,
                      r->db_record_version, r->last_write_ns, &r->state_blob,
                      w->expected_db_record_version);
        if (rc != TD_OK || sqlite3_changes(c->db) == 1) {
            goto out;
        }
        TD_SQ_RUN(st, TD_SQ_EXEC_VERSION, r->namespace_id, r->workflow_id, r->run_id);
        src = td_sq__step(st);
        if (src == SQLITE_ROW) {
            o->cur_db_record_version = sqlite3_column_int64(st, 0);
        } else if (src == SQLITE_DONE) {
            o->cur_db_record_version = -1;
        } else {
            rc = td_sq__fail(req, c, src, "read execution version");
            goto out;
        }
        sqlite3_reset(st);
        o->failed_exec = i;
        rc = td_store__fail(req, TD_ECONDITION,
                            "run %s: db_record_version is %" PRId64 ", expected %" PRId64,
                            r->run_id, o->cur_db_record_version, w->expected_db_record_version);
    } else {
        rc = td_store__fail(req, TD_EINVAL, "execution write %d: bad mode %d", i, (int)w->mode);
    }
out:
    return rc;
}

static int td_sq_write(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_write_in_t *in = &req->in.write;
    td_store_write_out_t *o = &req->out.write;
    sqlite3_stmt *st = NULL;
    int rc, found = 0;

    o->failed_exec = -1;
    if (in->n_execs < 0 || in->n_execs > 2 || in->current_exec >= in->n_execs ||
        (in->n_execs > 0 && in->execs == NULL)) {
        rc = td_store__fail(req, TD_EINVAL, "write: bad execution list");
        goto out;
    }
    rc = td_sq_shard_fence(c, req, in->shard_id, in->expected_range_id, &o->cur_range_id);
    if (rc != TD_OK) {
        goto out;
    }
    for (int i = 0; i < in->n_execs && rc == TD_OK; i++) {
        rc = td_sq_exec_write_one(c, req, in->shard_id, i);
    }
    if (rc != TD_OK) {
        goto out;
    }
    if (in->current_exec >= 0) {
        const td_store_exec_write_t *w = &in->execs[in->current_exec];
        const td_store_execution_t *r = &w->row;
        if (w->mode == TD_STORE_EXEC_UPDATE) {
            rc = td_sq_current_get(c, req, r->namespace_id, r->workflow_id, &o->current, &found);
            if (rc != TD_OK) {
                goto out;
            }
            if (!found || strcmp(o->current.run_id, r->run_id) != 0) {
                o->has_current = found;
                rc = td_store__fail(req, TD_ECONDITION,
                                    "workflow %s: current run is %s, not the updated run %s",
                                    r->workflow_id, found ? o->current.run_id : "(none)",
                                    r->run_id);
                goto out;
            }
            memset(&o->current, 0, sizeof(o->current));
        }
        if (in->current.run_id == NULL || strcmp(in->current.run_id, r->run_id) != 0) {
            rc = td_store__fail(req, TD_EINVAL, "write: current.run_id must name execs[%d]",
                                in->current_exec);
            goto out;
        }
        rc = td_sq_do(c, req, "write current execution", TD_SQ_CUR_PUT, r->namespace_id,
                      r->workflow_id, in->shard_id, in->current.run_id,
                      in->current.create_request_id, in->current.state, in->current.status);
        if (rc != TD_OK) {
            goto out;
        }
    }
    for (int i = 0; i < in->n_batches; i++) {
        const td_store_history_batch_t *b = &in->batches[i];
        int src;
        TD_SQ_RUN(st, TD_SQ_HIST_INSERT, b->tree_id, b->branch_id, b->first_event_id,
                  b->event_count, &b->events);
        src = td_sq__step(st);
        sqlite3_reset(st);
        if ((src & 0xff) == SQLITE_CONSTRAINT) {
            rc = td_store__fail(req, TD_ECONDITION,
                                "history branch %s/%s already has a batch at event %" PRId64,
                                b->tree_id, b->branch_id, b->first_event_id);
            goto out;
        } else if (src != SQLITE_DONE) {
            rc = td_sq__fail(req, c, src, "append history");
            goto out;
        }
    }
    for (int i = 0; i < in->n_tasks; i++) {
        const td_store_task_t *t = &in->tasks[i];
        int src;
        if (t->category < TD_STORE_TASK_TRANSFER || t->category > TD_STORE_TASK_VISIBILITY) {
            rc = td_store__fail(req, TD_EINVAL, "write: task %d has bad category %d", i,
                                t->category);
            goto out;
        }
        TD_SQ_RUN(st, TD_SQ_TASK_INSERT, in->shard_id, t->category,
                  t->category == TD_STORE_TASK_TIMER ? t->fire_time_ns : 0, t->task_id, &t->blob);
        src = td_sq__step(st);
        sqlite3_reset(st);
        if ((src & 0xff) == SQLITE_CONSTRAINT) {
            rc = td_store__fail(req, TD_ECONDITION, "shard %d: task %" PRId64 " already exists",
                                in->shard_id, t->task_id);
            goto out;
        } else if (src != SQLITE_DONE) {
            rc = td_sq__fail(req, c, src, "insert task");
            goto out;
        }
    }
out:
    return rc;
}

static int td_sq_exec_get(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_exec_get_in_t *in = &req->in.exec_get;
    td_store_exec_get_out_t *o = &req->out.exec_get;
    const char *run = in->run_id;
    sqlite3_stmt *st = NULL;
    int rc, src;

    rc = td_sq_current_get(c, req, in->namespace_id, in->workflow_id, &o->current, &o->has_current);
    if (rc != TD_OK) {
        goto out;
    }
    if (run == NULL || run[0] == '\0') {
        if (!o->has_current) {
            rc = td_store__fail(req, TD_ENOTFOUND, "workflow %s not found",
                                in->workflow_id ? in->workflow_id : "");
            goto out;
        }
        run = o->current.run_id;
    }
    TD_SQ_RUN(st, TD_SQ_EXEC_GET, in->namespace_id, in->workflow_id, run);
    src = td_sq__step(st);
    if (src == SQLITE_ROW) {
        td_store_execution_t *r = &o->row;
        r->namespace_id = td_arena_strdup(&req->arena, in->namespace_id ? in->namespace_id : "");
        r->workflow_id = td_arena_strdup(&req->arena, in->workflow_id ? in->workflow_id : "");
        r->run_id = td_arena_strdup(&req->arena, run);
        td_sq_row(req, st, TD_SQ_EXEC_GET, &r->state, &r->status, &r->next_event_id,
                  &r->db_record_version, &r->last_write_ns, &r->state_blob);
    } else if (src == SQLITE_DONE) {
        rc = td_store__fail(req, TD_ENOTFOUND, "run %s of workflow %s not found", run,
                            in->workflow_id ? in->workflow_id : "");
    } else {
        rc = td_sq__fail(req, c, src, "get execution");
    }
    sqlite3_reset(st);
out:
    return rc;
}

static int td_sq_exec_delete(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_exec_del_in_t *in = &req->in.exec_del;
    int64_t cur = 0;
    int rc = TD_OK;

    if (in->expected_range_id != 0) {
        rc = td_sq_shard_fence(c, req, in->shard_id, in->expected_range_id, &cur);
        if (rc != TD_OK) {
            goto out;
        }
    }
    rc = td_sq_do(c, req, "delete execution", TD_SQ_EXEC_DELETE, in->namespace_id, in->workflow_id,
                  in->run_id);
    if (rc != TD_OK) {
        goto out;
    }
    if (sqlite3_changes(c->db) == 0) {
        rc = td_store__fail(req, TD_ENOTFOUND, "run %s not found", in->run_id ? in->run_id : "");
        goto out;
    }
    rc = td_sq_do(c, req, "delete current execution", TD_SQ_CUR_DELETE_RUN, in->namespace_id,
                  in->workflow_id, in->run_id);
out:
    return rc;
}

/* ---- history ---- */

static int td_sq_hist_read(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_hist_read_in_t *in = &req->in.hist_read;
    td_store_hist_read_out_t *o = &req->out.hist_read;
    int64_t start = in->min_event_id, key[1];
    int64_t events = 0;
    int present = 0, cap = 8;
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src;

    if (td_store__token_read(&in->token, key, 1, &present) != TD_OK) {
        rc = td_store__fail(req, TD_EINVAL, "history read: bad page token");
        goto out;
    }
    if (present) {
        start = key[0];
    } else {
        /* include a batch that starts before min_event_id but contains it */
        TD_SQ_RUN(st, TD_SQ_HIST_START, in->tree_id, in->branch_id, in->min_event_id);
        src = td_sq__step(st);
        if (src == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            start = sqlite3_column_int64(st, 0);
        } else if (src != SQLITE_ROW && src != SQLITE_DONE) {
            rc = td_sq__fail(req, c, src, "read history");
            goto out;
        }
        sqlite3_reset(st);
    }
    TD_SQ_RUN(st, TD_SQ_HIST_READ, in->tree_id, in->branch_id, start,
              in->max_event_id > 0 ? in->max_event_id : TD_SQ_INT64_MAX);
    o->batches = td_arena_alloc(&req->arena, sizeof(*o->batches) * (size_t)cap);
    while ((src = td_sq__step(st)) == SQLITE_ROW) {
        td_store_history_batch_t *b;
        if (in->page_size > 0 && events >= in->page_size) {
            key[0] = sqlite3_column_int64(st, 0);
            o->next_token = td_store__token_make(req, key, 1);
            break;
        }
        o->batches = td_sq_grow(req, o->batches, o->n_batches, &cap, sizeof(*o->batches));
        b = &o->batches[o->n_batches++];
        b->tree_id = in->tree_id;
        b->branch_id = in->branch_id;
        td_sq_row(req, st, TD_SQ_HIST_READ, &b->first_event_id, &b->event_count, &b->events);
        events += b->event_count;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = td_sq__fail(req, c, src, "read history");
    }
    sqlite3_reset(st);
out:
    return rc;
}

static int td_sq_hist_delete(td_sq_conn_t *c, td_store_req_t *req)
{
    return td_sq_do(c, req, "delete history branch", TD_SQ_HIST_DELETE, req->in.hist_del.tree_id,
                    req->in.hist_del.branch_id);
}

/* ---- history tasks ---- */

static int td_sq_tasks_read(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_tasks_read_in_t *in = &req->in.tasks_read;
    td_store_tasks_read_out_t *o = &req->out.tasks_read;
    int timer = in->category == TD_STORE_TASK_TIMER;
    int limit = in->page_size > 0 ? in->page_size : INT32_MAX;
    int64_t key[2] = { timer ? in->min_fire_ns : in->min_task_id, in->min_task_id };
    int present = 0, cap = 16;
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src;

    if (td_store__token_read(&in->token, key, 2, &present) != TD_OK) {
        rc = td_store__fail(req, TD_EINVAL, "tasks read: bad page token");
        goto out;
    }
    if (!present) {
        key[0] = timer ? in->min_fire_ns : in->min_task_id;
        key[1] = in->min_task_id;
    }
    if (timer) {
        TD_SQ_RUN(st, TD_SQ_TIMER_READ, in->shard_id, in->category, key[0], key[1],
                  in->max_fire_ns > 0 ? in->max_fire_ns : TD_SQ_INT64_MAX, (int64_t)limit + 1);
    } else {
        TD_SQ_RUN(st, TD_SQ_TASK_READ, in->shard_id, in->category, key[1],
                  in->max_task_id > 0 ? in->max_task_id : TD_SQ_INT64_MAX, (int64_t)limit + 1);
    }
    o->tasks = td_arena_alloc(&req->arena, sizeof(*o->tasks) * (size_t)cap);
    while ((src = td_sq__step(st)) == SQLITE_ROW) {
        td_store_task_t *t;
        if (o->n_tasks == limit) {
            int64_t next[2] = { timer ? sqlite3_column_int64(st, 1) : 0,
                                sqlite3_column_int64(st, 0) };
            next[0] = timer ? next[0] : next[1];
            o->next_token = td_store__token_make(req, next, 2);
            break;
        }
        o->tasks = td_sq_grow(req, o->tasks, o->n_tasks, &cap, sizeof(*o->tasks));
        t = &o->tasks[o->n_tasks++];
        t->category = in->category;
        td_sq_row(req, st, timer ? TD_SQ_TIMER_READ : TD_SQ_TASK_READ, &t->task_id,
                  &t->fire_time_ns, &t->blob);
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = td_sq__fail(req, c, src, "read tasks");
    }
    sqlite3_reset(st);
out:
    return rc;
}

static int td_sq_tasks_delete(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_tasks_del_in_t *in = &req->in.tasks_del;

    if (in->category == TD_STORE_TASK_TIMER) {
        return td_sq_do(c, req, "delete tasks", TD_SQ_TIMER_DELETE, in->shard_id, in->category,
                        in->ack_fire_ns, in->ack_task_id);
    }
    return td_sq_do(c, req, "delete tasks", TD_SQ_TASK_DELETE, in->shard_id, in->category,
                    in->ack_task_id);
}

/* ---- task queues ---- */

static int td_sq_tq_get(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_task_queue_t *in = &req->in.tq.rec;
    td_store_task_queue_t *r = &req->out.tq.rec;
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src;

    TD_SQ_RUN(st, TD_SQ_TQ_GET, in->namespace_id, in->name, in->type);
    src = td_sq__step(st);
    if (src == SQLITE_ROW) {
        r->namespace_id = td_arena_strdup(&req->arena, in->namespace_id ? in->namespace_id : "");
        r->name = td_arena_strdup(&req->arena, in->name ? in->name : "");
        r->type = in->type;
        td_sq_row(req, st, TD_SQ_TQ_GET, &r->kind, &r->range_id, &r->ack_level, &r->expiry_ns,
                  &r->info);
    } else if (src == SQLITE_DONE) {
        rc = td_store__fail(req, TD_ENOTFOUND, "task queue %s (type %d) not found",
                            in->name ? in->name : "", in->type);
    } else {
        rc = td_sq__fail(req, c, src, "get task queue");
    }
    sqlite3_reset(st);
out:
    return rc;
}

static int td_sq_tq_acquire(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_task_queue_t *in = &req->in.tq.rec;
    int rc = TD_OK;

    if (in->namespace_id == NULL || in->name == NULL) {
        rc = td_store__fail(req, TD_EINVAL, "task queue: namespace id and name required");
        goto out;
    }
    rc = td_sq_do(c, req, "create task queue", TD_SQ_TQ_INSERT, in->namespace_id, in->name,
                  in->type, in->kind != 0 ? in->kind : TD_STORE_TQ_KIND_NORMAL, in->expiry_ns,
                  &in->info);
    if (rc != TD_OK) {
        goto out;
    }
    rc = td_sq_do(c, req, "acquire task queue", TD_SQ_TQ_BUMP, in->namespace_id, in->name,
                  in->type);
    if (rc == TD_OK) {
        rc = td_sq_tq_get(c, req);
    }
out:
    return rc;
}

/* TD_OK when the queue's range_id is expected; TD_ECONDITION (or TD_ENOTFOUND) else. */
static int td_sq_tq_fence(td_sq_conn_t *c, td_store_req_t *req, const char *ns, const char *name,
                          int32_t type, int64_t expected)
{
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src;

    TD_SQ_RUN(st, TD_SQ_TQ_RANGE, ns, name, type);
    src = td_sq__step(st);
    if (src == SQLITE_DONE) {
        rc = td_store__fail(req, TD_ENOTFOUND, "task queue %s (type %d) not found",
                            name ? name : "", type);
    } else if (src != SQLITE_ROW) {
        rc = td_sq__fail(req, c, src, "read task queue range");
    } else {
        req->out.tq.cur_range_id = sqlite3_column_int64(st, 0);
        if (req->out.tq.cur_range_id != expected) {
            rc = td_store__fail(req, TD_ECONDITION,
                                "task queue %s: range_id is %" PRId64 ", expected %" PRId64,
                                name ? name : "", req->out.tq.cur_range_id, expected);
        }
    }
    sqlite3_reset(st);
out:
    return rc;
}

static int td_sq_tq_update(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_task_queue_t *in = &req->in.tq.rec;
    int rc;

    rc = td_sq_tq_fence(c, req, in->namespace_id, in->name, in->type, in->range_id);
    if (rc != TD_OK) {
        goto out;
    }
    rc = td_sq_do(c, req, "update task queue", TD_SQ_TQ_UPDATE, in->namespace_id, in->name,
                  in->type, in->ack_level, in->expiry_ns, &in->info);
out:
    return rc;
}

static int td_sq_tq_delete(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_task_queue_t *in = &req->in.tq.rec;
    int rc;

    rc = td_sq_tq_fence(c, req, in->namespace_id, in->name, in->type, in->range_id);
    if (rc != TD_OK) {
        goto out;
    }
    rc = td_sq_do(c, req, "delete task queue", TD_SQ_TQ_DELETE, in->namespace_id, in->name,
                  in->type);
    if (rc != TD_OK) {
        goto out;
    }
    rc = td_sq_do(c, req, "delete backlog", TD_SQ_BL_DELETE_ALL, in->namespace_id, in->name,
                  in->type);
out:
    return rc;
}

static int td_sq_backlog_insert(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_backlog_ins_in_t *in = &req->in.backlog_ins;
    sqlite3_stmt *st = NULL;
    int rc;

    rc = td_sq_tq_fence(c, req, in->namespace_id, in->name, in->type, in->range_id);
    for (int i = 0; i < in->n_tasks && rc == TD_OK; i++) {
        const td_store_backlog_task_t *t = &in->tasks[i];
        int src;
        TD_SQ_RUN(st, TD_SQ_BL_INSERT, in->namespace_id, in->name, in->type, t->task_id,
                  t->expiry_ns, &t->blob);
        src = td_sq__step(st);
        sqlite3_reset(st);
        if ((src & 0xff) == SQLITE_CONSTRAINT) {
            rc = td_store__fail(req, TD_ECONDITION, "backlog task %" PRId64 " already exists",
                                t->task_id);
        } else if (src != SQLITE_DONE) {
            rc = td_sq__fail(req, c, src, "insert backlog task");
        }
    }
out:
    return rc;
}

static int td_sq_backlog_read(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_backlog_read_in_t *in = &req->in.backlog_read;
    td_store_backlog_read_out_t *o = &req->out.backlog_read;
    int cap = 16;
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src;

    TD_SQ_RUN(st, TD_SQ_BL_READ, in->namespace_id, in->name, in->type, in->min_task_id,
              in->max_task_id > 0 ? in->max_task_id : TD_SQ_INT64_MAX,
              in->limit > 0 ? in->limit : INT64_MAX);
    o->tasks = td_arena_alloc(&req->arena, sizeof(*o->tasks) * (size_t)cap);
    while ((src = td_sq__step(st)) == SQLITE_ROW) {
        td_store_backlog_task_t *t;
        o->tasks = td_sq_grow(req, o->tasks, o->n_tasks, &cap, sizeof(*o->tasks));
        t = &o->tasks[o->n_tasks++];
        td_sq_row(req, st, TD_SQ_BL_READ, &t->task_id, &t->expiry_ns, &t->blob);
    }
    if (src != SQLITE_DONE) {
        rc = td_sq__fail(req, c, src, "read backlog");
    }
    sqlite3_reset(st);
out:
    return rc;
}

static int td_sq_backlog_delete(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_backlog_del_in_t *in = &req->in.backlog_del;
    int rc = TD_OK;

    rc = td_sq_do(c, req, "delete backlog", TD_SQ_BL_DELETE, in->namespace_id, in->name, in->type,
                  in->ack_level);
    return rc;
}

/* ---- visibility ---- */

/* The word rows of a Text value (store_vis.h). */
static int td_sq_vis_words(td_sq_conn_t *c, td_store_req_t *req, const td_store_visibility_t *v,
                           const td_store_sa_t *a)
{
    const char *words[TD_STORE_TEXT_WORDS_MAX];
    int n = td_store_text_words(a->s, &req->arena, words, TD_STORE_TEXT_WORDS_MAX);
    sqlite3_stmt *st = NULL;
    int rc = TD_OK;

    for (int i = 0; i < n && rc == TD_OK; i++) {
        TD_SQ_RUN(st, TD_SQ_VIS_SA_INSERT, v->namespace_id, v->run_id, a->name, TD_STORE_SA_WORD);
        sqlite3_bind_null(st, 5);
        sqlite3_bind_null(st, 6);
        td_sq_bind_text(st, 7, words[i]);
        rc = td_sq_exec(c, req, st, "write search attribute word");
    }
out:
    return rc;
}

static int td_sq_vis_put(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_visibility_t *v = &req->in.vis;
    int must_exist = req->op == TD_STORE_OP_VIS_CLOSE;
    sqlite3_stmt *st = NULL;
    int rc = TD_OK, src;

    if (v->namespace_id == NULL || v->run_id == NULL || v->workflow_id == NULL) {
        rc = td_store__fail(req, TD_EINVAL, "visibility: namespace, workflow and run ids required");
        goto out;
    }
    if (must_exist) {
        TD_SQ_RUN(st, TD_SQ_VIS_EXISTS, v->namespace_id, v->run_id);
        src = td_sq__step(st);
        sqlite3_reset(st);
        if (src == SQLITE_DONE) {
            rc = td_store__fail(req, TD_ENOTFOUND, "visibility record of run %s not found",
                                v->run_id);
            goto out;
        } else if (src != SQLITE_ROW) {
            rc = td_sq__fail(req, c, src, "read visibility");
            goto out;
        }
    }
    rc = td_sq_do(c, req, "write visibility", TD_SQ_VIS_PUT, v->namespace_id, v->run_id,
                  v->workflow_id, v->workflow_type, v->task_queue, v->start_time_ns,
                  v->execution_time_ns, v->close_time_ns,
                  v->close_time_ns != 0 ? v->close_time_ns : TD_SQ_INT64_MAX, v->status,
                  v->history_length, v->history_size_bytes, &v->memo, &v->search_attributes,
                  v->parent_workflow_id, v->parent_run_id, v->root_workflow_id, v->root_run_id,
                  v->first_run_id, v->state_transition_count);
    if (rc != TD_OK) {
        goto out;
    }
    rc = td_sq_do(c, req, "clear search attributes", TD_SQ_VIS_SA_DELETE, v->namespace_id,
                  v->run_id);
    for (int i = 0; i < v->n_sas && rc == TD_OK; i++) {
        const td_store_sa_t *a = &v->sas[i];
        TD_SQ_RUN(st, TD_SQ_VIS_SA_INSERT, v->namespace_id, v->run_id, a->name, a->type);
        switch (a->type) {
        case TD_STORE_SA_INT:
        case TD_STORE_SA_BOOL:
        case TD_STORE_SA_DATETIME:
            sqlite3_bind_int64(st, 5, a->i);
            break;
        case TD_STORE_SA_DOUBLE:
            sqlite3_bind_double(st, 6, a->d);
            break;
        default:
            td_sq_bind_text(st, 7, a->s);
            break;
        }
        rc = td_sq_exec(c, req, st, "write search attribute");
        if (rc == TD_OK && a->type == TD_STORE_SA_TEXT) {
            rc = td_sq_vis_words(c, req, v, a);
        }
    }
out:
    return rc;
}

static int td_sq_vis_delete(td_sq_conn_t *c, td_store_req_t *req)
{
    int rc = TD_OK;

    rc = td_sq_do(c, req, "delete visibility", TD_SQ_VIS_DELETE, req->in.vis.namespace_id,
                  req->in.vis.run_id);
    if (rc != TD_OK) {
        goto out;
    }
    rc = td_sq_do(c, req, "delete search attributes", TD_SQ_VIS_SA_DELETE, req->in.vis.namespace_id,
                  req->in.vis.run_id);
out:
    return rc;
}

/* A dynamic SQL text with its bound values. */
typedef struct {
    char *sql;
    size_t len, cap;
    const td_store_sa_t *binds[256];
    const char *bind_names[256]; /* non-NULL: bind this text instead of a value */
    int n;
    td_arena_t *a; /* values made while building (the request's arena) */
} td_sq_qb_t;

static void td_sq_qb_add(td_sq_qb_t *q, const char *s)
{
    size_t n = strlen(s);
    if (q->len + n + 1 > q->cap) {
        q->cap = (q->len + n + 1) * 2;
        q->sql = td_realloc(q->sql, q->cap);
    }
    memcpy(q->sql + q->len, s, n + 1);
    q->len += n;
}

static int td_sq_qb_bind(td_sq_qb_t *q, const td_store_sa_t *v, const char *text)
{
    if (q->n >= (int)TD_ARRAY_LEN(q->binds)) {
        return TD_ELIMIT;
    }
    q->binds[q->n] = v;
    q->bind_names[q->n] = text;
    q->n++;
    td_sq_qb_add(q, "?");
    return TD_OK;
}

typedef struct {
    const char *name;
    const char *column;
    int type;
} td_sq_vfield_t;

static const td_sq_vfield_t td_sq_vfields[] = {
    { "WorkflowId", "v.workflow_id", TD_STORE_SA_KEYWORD },
    { "RunId", "v.run_id", TD_STORE_SA_KEYWORD },
    { "WorkflowType", "v.workflow_type", TD_STORE_SA_KEYWORD },
    { "TaskQueue", "v.task_queue", TD_STORE_SA_KEYWORD },
    { "ParentWorkflowId", "v.parent_workflow_id", TD_STORE_SA_KEYWORD },
    { "ParentRunId", "v.parent_run_id", TD_STORE_SA_KEYWORD },
    { "RootWorkflowId", "v.root_workflow_id", TD_STORE_SA_KEYWORD },
    { "RootRunId", "v.root_run_id", TD_STORE_SA_KEYWORD },
    { "ExecutionStatus", "v.status", TD_STORE_SA_INT },
    { "HistoryLength", "v.history_length", TD_STORE_SA_INT },
    { "HistorySizeBytes", "v.history_size_bytes", TD_STORE_SA_INT },
    { "StartTime", "v.start_ns", TD_STORE_SA_DATETIME },
    { "ExecutionTime", "v.execution_ns", TD_STORE_SA_DATETIME },
    { "CloseTime", "v.close_ns", TD_STORE_SA_DATETIME },
    { "ExecutionDuration", "(v.close_ns - v.execution_ns)", TD_STORE_SA_INT }, /* NULL: open */
};

static const char *td_sq_vop(int op)
{
    switch (op) {
    case TD_STORE_VF_EQ:
        return " = ";
    case TD_STORE_VF_NE:
        return " != ";
    case TD_STORE_VF_LT:
        return " < ";
    case TD_STORE_VF_LE:
        return " <= ";
    case TD_STORE_VF_GT:
        return " > ";
    case TD_STORE_VF_GE:
        return " >= ";
    default:
        return NULL;
    }
}

static const char *td_sq_sa_column(int type)
{
    switch (type) {
    case TD_STORE_SA_INT:
    case TD_STORE_SA_BOOL:
    case TD_STORE_SA_DATETIME:
        return "s.ival";
    case TD_STORE_SA_DOUBLE:
        return "s.dval";
    default:
        return "s.sval";
    }
}

/* Appends "col OP value" for one comparison on a column expression. */
static int td_sq_qb_cmp(td_sq_qb_t *q, const char *col, const td_store_vfilter_t *f)
{
    const char *op = td_sq_vop(f->op);
    int rc = TD_OK;

    if (f->op == TD_STORE_VF_IS_NULL || f->op == TD_STORE_VF_IS_NOT_NULL) {
        td_sq_qb_add(q, col);
        td_sq_qb_add(q, f->op == TD_STORE_VF_IS_NULL ? " IS NULL" : " IS NOT NULL");
    } else if (f->op == TD_STORE_VF_STARTS_WITH) {
        td_sq_qb_add(q, "substr(");
        td_sq_qb_add(q, col);
        td_sq_qb_add(q, ", 1, length(");
        rc = td_sq_qb_bind(q, &f->value, NULL);
        td_sq_qb_add(q, ")) = ");
        if (rc == TD_OK) {
            rc = td_sq_qb_bind(q, &f->value, NULL);
        }
    } else if (op != NULL) {
        td_sq_qb_add(q, col);
        td_sq_qb_add(q, op);
        rc = td_sq_qb_bind(q, &f->value, NULL);
    } else {
        rc = TD_EINVAL;
    }
    return rc;
}

/* Appends " AND s.type = word AND s.sval IN (words of the value)" for a Text EQ. */
static int td_sq_qb_words(td_sq_qb_t *q, const td_store_vfilter_t *f)
{
    const char *words[TD_STORE_TEXT_WORDS_MAX];
    int n, rc = TD_OK;

    if (f->op != TD_STORE_VF_EQ || q->a == NULL) {
        return TD_EINVAL;
    }
    n = td_store_text_words(f->value.s, q->a, words, TD_STORE_TEXT_WORDS_MAX);
    if (n == 0) {
        return TD_EINVAL;
    }
    _Static_assert(TD_STORE_SA_WORD == 101, "word rows are type 101 in the SQL below");
    td_sq_qb_add(q, " AND s.type = 101 AND s.sval IN (");
    for (int i = 0; i < n && rc == TD_OK; i++) {
        td_store_sa_t *w = td_arena_calloc(q->a, sizeof(*w));
        w->type = TD_STORE_SA_KEYWORD;
        w->s = words[i];
        td_sq_qb_add(q, i > 0 ? ", " : "");
        rc = td_sq_qb_bind(q, w, NULL);
    }
    td_sq_qb_add(q, ")");
    return rc;
}

static int td_sq_qb_filter(td_sq_qb_t *q, const td_store_vfilter_t *f, int depth)
{
    int rc = TD_OK;

    if (f == NULL || depth > 32) {
        return TD_EINVAL;
    }
    switch (f->kind) {
    case TD_STORE_VF_AND:
    case TD_STORE_VF_OR:
        if (f->n_args == 0) {
            td_sq_qb_add(q, f->kind == TD_STORE_VF_AND ? "1" : "0");
            break;
        }
        td_sq_qb_add(q, "(");
        for (int i = 0; i < f->n_args && rc == TD_OK; i++) {
            if (i > 0) {
                td_sq_qb_add(q, f->kind == TD_STORE_VF_AND ? " AND " : " OR ");
            }
            rc = td_sq_qb_filter(q, f->args[i], depth + 1);
        }
        td_sq_qb_add(q, ")");
        break;
    case TD_STORE_VF_NOT:
        if (f->n_args != 1) {
            return TD_EINVAL;
        }
        td_sq_qb_add(q, "NOT (");
        rc = td_sq_qb_filter(q, f->args[0], depth + 1);
        td_sq_qb_add(q, ")");
        break;
    case TD_STORE_VF_CMP: {
        const td_sq_vfield_t *bf = NULL;
        if (f->field == NULL) {
            return TD_EINVAL;
        }
        for (size_t i = 0; i < TD_ARRAY_LEN(td_sq_vfields); i++) {
            if (strcmp(td_sq_vfields[i].name, f->field) == 0) {
                bf = &td_sq_vfields[i];
            }
        }
        if (bf != NULL) {
            td_sq_qb_add(q, "(");
            rc = td_sq_qb_cmp(q, bf->column, f);
            td_sq_qb_add(q, ")");
        } else {
            /* An uncorrelated subquery: SQLite builds the set of matching runs once from the
             * (namespace, name, value) index instead of scanning that index for every row. */
            int is_null = f->op == TD_STORE_VF_IS_NULL || f->op == TD_STORE_VF_IS_NOT_NULL;
            td_sq_qb_add(q, f->op == TD_STORE_VF_IS_NULL ? "v.run_id NOT IN" : "v.run_id IN");
            /* ?1 is the query's namespace (its first bound value) */
            td_sq_qb_add(q, " (SELECT s.run_id FROM visibility_sa s WHERE s.namespace_id = ?1 "
                            "AND s.name = ");
            rc = td_sq_qb_bind(q, NULL, f->field);
            if (!is_null && f->value.type == TD_STORE_SA_TEXT) {
                rc = rc == TD_OK ? td_sq_qb_words(q, f) : rc;
            } else if (!is_null) {
                td_sq_qb_add(q, " AND ");
                if (rc == TD_OK) {
                    rc = td_sq_qb_cmp(q, td_sq_sa_column(f->value.type), f);
                }
            }
            td_sq_qb_add(q, ")");
        }
        break;
    }
    default:
        rc = TD_EINVAL;
    }
    return rc;
}

static void td_sq_bind_value(sqlite3_stmt *st, int i, const td_store_sa_t *v, const char *text)
{
    if (text != NULL) {
        td_sq_bind_text(st, i, text);
        return;
    }
    switch (v->type) {
    case TD_STORE_SA_INT:
    case TD_STORE_SA_BOOL:
    case TD_STORE_SA_DATETIME:
        sqlite3_bind_int64(st, i, v->i);
        break;
    case TD_STORE_SA_DOUBLE:
        sqlite3_bind_double(st, i, v->d);
        break;
    default:
        td_sq_bind_text(st, i, v->s);
        break;
    }
}

static void td_sq_w_add(void *ctx, const char *text)
{
    td_sq_qb_add(ctx, text);
}

static int td_sq_w_bind(void *ctx, const td_store_sa_t *v)
{
    return td_sq_qb_bind(ctx, v, NULL);
}

/* The value of sort key column i of the current row. */
static void td_sq_col_skey(td_store_req_t *req, sqlite3_stmt *st, int i, int kind,
                           td_store_skey_t *k)
{
    memset(k, 0, sizeof(*k));
    k->kind = kind;
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        k->null = 1;
    } else if (kind == TD_STORE_SKEY_INT) {
        k->i = sqlite3_column_int64(st, i);
    } else if (kind == TD_STORE_SKEY_DOUBLE) {
        k->d = sqlite3_column_double(st, i);
    } else {
        k->s = td_sq_col_text(req, st, i);
    }
}

#define TD_SQ_VIS_COLS 22 /* columns of a listed record before the sort keys */

static int td_sq_vis_query(td_sq_conn_t *c, td_store_req_t *req)
{
    const td_store_vis_query_in_t *in = &req->in.vis_query;
    int count = req->op == TD_STORE_OP_VIS_COUNT;
    td_store_vis_list_out_t *o = &req->out.vis_list;
    td_sq_qb_t q;
    td_store_sa_t ns_val = { 0 };
    td_store_sa_t keys_val[3];
    int64_t keys[2] = { 0, 0 };
    const char *key_run = NULL;
    int present = 0, cap = 16, limit = in->page_size > 0 ? in->page_size : INT32_MAX;
    int order = in->order, sorted = !count && in->n_sort > 0;
    const char *sexpr[TD_STORE_VSORT_MAX];
    int skind[TD_STORE_VSORT_MAX];
    td_store_skey_t skeys[TD_STORE_VSORT_MAX];
    td_store_sqlw_t w = { &q, td_sq_w_add, td_sq_w_bind };
    sqlite3_stmt *st = NULL;
    char lim[32];
    int rc = TD_OK, src;

    memset(&q, 0, sizeof(q));
    memset(keys_val, 0, sizeof(keys_val));
    q.a = &req->arena;
    if (sorted && td_store__vsort_check(&req->arena, in, 1, sexpr, skind) != TD_OK) {
        rc = td_store__fail(req, TD_EINVAL, "visibility list: bad sort keys");
        goto out;
    }
    if (sorted ? td_store__vsort_token_read(&req->arena, &in->token, skind, in->n_sort, skeys,
                                            &key_run, &present) != TD_OK
               : !count && td_store__token_read_str(req, &in->token, keys, 2, &key_run, &present) !=
                                   TD_OK) {
        rc = td_store__fail(req, TD_EINVAL, "visibility list: bad page token");
        goto out;
    }
    ns_val.type = TD_STORE_SA_KEYWORD;
    ns_val.s = in->namespace_id;
    td_sq_qb_add(&q, count ? "SELECT count(*)"
                           : "SELECT v.namespace_id, v.run_id, v.workflow_id, v.workflow_type, "
                             "v.task_queue, v.start_ns, v.execution_ns, v.close_ns, v.status, "
                             "v.history_length, v.history_size_bytes, v.memo, v.memo_encoding, "
                             "v.search_attributes, v.sa_encoding, v.sort_close, "
                             "v.parent_workflow_id, v.parent_run_id, v.root_workflow_id, "
                             "v.root_run_id, v.first_run_id, v.state_transition_count");
    for (int i = 0; sorted && i < in->n_sort; i++) {
        td_sq_qb_add(&q, ", ");
        td_sq_qb_add(&q, sexpr[i]); /* no bound values: ?1 stays the namespace */
    }
    td_sq_qb_add(&q, " FROM executions_visibility v WHERE v.namespace_id = ");
    td_sq_qb_bind(&q, &ns_val, NULL);
    if (in->filter != NULL) {
        td_sq_qb_add(&q, " AND ");
        rc = td_sq_qb_filter(&q, in->filter, 0);
        if (rc != TD_OK) {
            rc = td_store__fail(req, rc, "visibility: malformed or too large filter");
            goto out;
        }
    }
    if (sorted) {
        if (present) {
            rc = td_store__vsort_after(&req->arena, in, sexpr, skeys, key_run, &w);
            if (rc != TD_OK) {
                rc = td_store__fail(req, rc, "visibility: too large a query");
                goto out;
            }
        }
        td_store__vsort_order_by(in, sexpr, &w);
        snprintf(lim, sizeof(lim), " LIMIT %lld", (long long)limit + 1);
        td_sq_qb_add(&q, lim);
    } else if (!count) {
        keys_val[0].type = keys_val[1].type = TD_STORE_SA_INT;
        keys_val[0].i = keys[0];
        keys_val[1].i = keys[1];
        keys_val[2].type = TD_STORE_SA_KEYWORD;
        keys_val[2].s = key_run;
        if (order == TD_STORE_VORDER_START_TIME_DESC || order == TD_STORE_VORDER_START_TIME_ASC) {
            const char *cmp = order == TD_STORE_VORDER_START_TIME_ASC ? " > (" : " < (";
            const char *dir = order == TD_STORE_VORDER_START_TIME_ASC ? "ASC" : "DESC";
            if (present) {
                td_sq_qb_add(&q, " AND (v.start_ns, v.run_id)");
                td_sq_qb_add(&q, cmp);
                td_sq_qb_bind(&q, &keys_val[1], NULL);
                td_sq_qb_add(&q, ", ");
                td_sq_qb_bind(&q, &keys_val[2], NULL);
                td_sq_qb_add(&q, ")");
            }
            td_sq_qb_add(&q, " ORDER BY v.start_ns ");
            td_sq_qb_add(&q, dir);
            td_sq_qb_add(&q, ", v.run_id ");
            td_sq_qb_add(&q, dir);
        } else {
            if (present) {
                td_sq_qb_add(&q, " AND (v.sort_close, v.start_ns, v.run_id) < (");
                td_sq_qb_bind(&q, &keys_val[0], NULL);
                td_sq_qb_add(&q, ", ");
                td_sq_qb_bind(&q, &keys_val[1], NULL);
                td_sq_qb_add(&q, ", ");
                td_sq_qb_bind(&q, &keys_val[2], NULL);
                td_sq_qb_add(&q, ")");
            }
            td_sq_qb_add(&q, " ORDER BY v.sort_close DESC, v.start_ns DESC, v.run_id DESC");
        }
        snprintf(lim, sizeof(lim), " LIMIT %lld", (long long)limit + 1);
        td_sq_qb_add(&q, lim);
    }
    src = sqlite3_prepare_v2(c->db, q.sql, -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = td_sq__fail(req, c, src, "prepare visibility query");
        goto out;
    }
    for (int i = 0; i < q.n; i++) {
        td_sq_bind_value(st, i + 1, q.binds[i], q.bind_names[i]);
    }
    if (count) {
        src = td_sq__step(st);
        if (src != SQLITE_ROW) {
            rc = td_sq__fail(req, c, src, "count visibility");
        } else {
            req->out.vis_count = sqlite3_column_int64(st, 0);
        }
        goto out;
    }
    o->recs = td_arena_calloc(&req->arena, sizeof(*o->recs) * (size_t)cap);
    while ((src = td_sq__step(st)) == SQLITE_ROW) {
        td_store_visibility_t *v;
        if (o->n_recs == limit) {
            td_store_visibility_t *last = &o->recs[o->n_recs - 1];
            int64_t next[2] = { last->close_time_ns != 0 ? last->close_time_ns : INT64_MAX,
                                last->start_time_ns };
            o->next_token = sorted ? td_store__vsort_token_make(&req->arena, skeys, in->n_sort,
                                                                last->run_id)
                                   : td_store__token_make_str(req, next, 2, last->run_id);
            break;
        }
        o->recs = td_sq_grow(req, o->recs, o->n_recs, &cap, sizeof(*o->recs));
        v = &o->recs[o->n_recs++];
        td_sq_cols(req, st, "sssssIIIiIIbb", &v->namespace_id, &v->run_id, &v->workflow_id,
                   &v->workflow_type, &v->task_queue, &v->start_time_ns, &v->execution_time_ns,
                   &v->close_time_ns, &v->status, &v->history_length, &v->history_size_bytes,
                   &v->memo, &v->search_attributes);
        v->parent_workflow_id = td_sq_col_text_or_null(req, st, 16);
        v->parent_run_id = td_sq_col_text_or_null(req, st, 17);
        v->root_workflow_id = td_sq_col_text_or_null(req, st, 18);
        v->root_run_id = td_sq_col_text_or_null(req, st, 19);
        v->first_run_id = td_sq_col_text_or_null(req, st, 20);
        v->state_transition_count = sqlite3_column_int64(st, 21);
        for (int i = 0; sorted && i < in->n_sort; i++) {
            /* the keys of the last row read: the token when the page ends after it */
            td_sq_col_skey(req, st, TD_SQ_VIS_COLS + i, skind[i], &skeys[i]);
        }
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = td_sq__fail(req, c, src, "list visibility");
    }
out:
    sqlite3_finalize(st);
    td_free(q.sql);
    return rc;
}

/* ---- dispatch ---- */

/* The function of every store op. */
typedef int (*td_sq_op_fn)(td_sq_conn_t *c, td_store_req_t *req);

static const td_sq_op_fn td_sq_ops[TD_STORE_OP__COUNT] = {
    [TD_STORE_OP_CLUSTER_INIT] = td_sq_cluster_init,
    [TD_STORE_OP_CLUSTER_GET] = td_sq_cluster_get,
    [TD_STORE_OP_MEMBERS_HEARTBEAT] = td_sq_members_heartbeat,
    [TD_STORE_OP_MEMBERS_LIST] = td_sq_members_list,
    [TD_STORE_OP_NS_CREATE] = td_sq_ns_create,
    [TD_STORE_OP_NS_GET] = td_sq_ns_get,
    [TD_STORE_OP_NS_UPDATE] = td_sq_ns_update,
    [TD_STORE_OP_NS_LIST] = td_sq_ns_list,
    [TD_STORE_OP_NS_DELETE] = td_sq_ns_delete,
    [TD_STORE_OP_SHARD_GET_OR_CREATE] = td_sq_shard_get_or_create,
    [TD_STORE_OP_SHARD_ACQUIRE] = td_sq_shard_acquire,
    [TD_STORE_OP_SHARD_UPDATE] = td_sq_shard_update,
    [TD_STORE_OP_WRITE] = td_sq_write,
    [TD_STORE_OP_EXEC_GET] = td_sq_exec_get,
    [TD_STORE_OP_EXEC_DELETE] = td_sq_exec_delete,
    [TD_STORE_OP_HISTORY_READ] = td_sq_hist_read,
    [TD_STORE_OP_HISTORY_DELETE] = td_sq_hist_delete,
    [TD_STORE_OP_TASKS_READ] = td_sq_tasks_read,
    [TD_STORE_OP_TASKS_DELETE] = td_sq_tasks_delete,
    [TD_STORE_OP_TQ_ACQUIRE] = td_sq_tq_acquire,
    [TD_STORE_OP_TQ_GET] = td_sq_tq_get,
    [TD_STORE_OP_TQ_UPDATE] = td_sq_tq_update,
    [TD_STORE_OP_TQ_DELETE] = td_sq_tq_delete,
    [TD_STORE_OP_BACKLOG_INSERT] = td_sq_backlog_insert,
    [TD_STORE_OP_BACKLOG_READ] = td_sq_backlog_read,
    [TD_STORE_OP_BACKLOG_DELETE] = td_sq_backlog_delete,
    [TD_STORE_OP_VIS_UPSERT] = td_sq_vis_put,
    [TD_STORE_OP_VIS_CLOSE] = td_sq_vis_put,
    [TD_STORE_OP_VIS_DELETE] = td_sq_vis_delete,
    [TD_STORE_OP_VIS_LIST] = td_sq_vis_query,
    [TD_STORE_OP_VIS_COUNT] = td_sq_vis_query,
};

int td_sq__execute(td_sq_conn_t *c, td_store_req_t *req)
{
    int rc;

    if ((unsigned)req->op >= TD_STORE_OP__COUNT || td_sq_ops[req->op] == NULL) {
        rc = td_store__fail(req, TD_EINVAL, "sqlite: unsupported op %s", td_store_op_name(req->op));
    } else {
        rc = td_sq_ops[req->op](c, req);
    }
    if (rc != TD_OK && req->rc == TD_OK) {
        req->rc = rc;
    }
    return rc;
}
