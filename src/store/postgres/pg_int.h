/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the PostgreSQL backend's files: pg_store.c (connections, the writer
 * and reader threads, group commit, commit-outcome resolution, schema migrations, fault
 * injection) and pg_ops.c (one function per store op, run on a connection inside a
 * transaction the caller manages). Nothing outside src/store/postgres/ includes this header.
 */
#ifndef TD_PG_INT_H
#define TD_PG_INT_H

#include <libpq-fe.h>
#include <stdint.h>

#include "store/store_backend.h"

/* Prepared statements, cached per connection (the SQL text is in pg_ops.c). */
enum {
    TD_PQ_CLUSTER_INIT,
    TD_PQ_CLUSTER_GET,
    TD_PQ_MEMBERS_PUT,
    TD_PQ_MEMBERS_EXPIRE,
    TD_PQ_MEMBERS_LIST,
    TD_PQ_NS_CREATE,
    TD_PQ_NS_GET_ID,
    TD_PQ_NS_GET_NAME,
    TD_PQ_NS_UPDATE,
    TD_PQ_NS_VERSION,
    TD_PQ_NS_LIST,
    TD_PQ_NS_DELETE,
    TD_PQ_SHARD_INSERT,
    TD_PQ_SHARD_GET,
    TD_PQ_SHARD_ACQUIRE,
    TD_PQ_SHARD_LOCK,
    TD_PQ_SHARD_SET,
    TD_PQ_CUR_GET,
    TD_PQ_CUR_PUT,
    TD_PQ_CUR_SET_RUN,
    TD_PQ_CUR_DELETE_RUN,
    TD_PQ_EXEC_VERSION,
    TD_PQ_EXEC_INSERT,
    TD_PQ_EXEC_UPDATE,
    TD_PQ_EXEC_GET,
    TD_PQ_EXEC_DELETE,
    TD_PQ_HIST_INSERT,
    TD_PQ_HIST_START,
    TD_PQ_HIST_READ,
    TD_PQ_HIST_DELETE,
    TD_PQ_TASK_INSERT,
    TD_PQ_TASK_READ,
    TD_PQ_TIMER_READ,
    TD_PQ_TASK_DELETE,
    TD_PQ_TIMER_DELETE,
    TD_PQ_TQ_ACQUIRE,
    TD_PQ_TQ_GET,
    TD_PQ_TQ_LOCK,
    TD_PQ_TQ_UPDATE,
    TD_PQ_TQ_DELETE,
    TD_PQ_BL_DELETE_ALL,
    TD_PQ_BL_INSERT,
    TD_PQ_BL_READ,
    TD_PQ_BL_DELETE,
    TD_PQ_VIS_UPSERT,
    TD_PQ_VIS_CLOSE,
    TD_PQ_VIS_DELETE,
    TD_PQ_VIS_SA_DELETE,
    TD_PQ_VIS_SA_INSERT,
    TD_PQ_MARKER_INSERT,
    TD_PQ_MARKER_PRUNE,
    TD_PQ_MARKER_DELETE,
    /* the pipelined write path: a failed condition is an error (division by zero) */
    TD_PQ_FAST_FENCE,
    TD_PQ_FAST_EXEC_UPDATE,
    TD_PQ_FAST_CUR_SET,
    TD_PQ_FAST_HIST_INSERT,
    TD_PQ_FAST_CUR_ABSENT,
    TD_PQ_FAST_CUR_IS,
    TD_PQ_FAST_CUR_INSERT,
    TD_PQ_FAST_EXEC_INSERT,
    TD_PQ__COUNT
};

/* One connection and the statements prepared on it; used by one thread at a time. A lost
 * connection (lost = 1) is finished and reopened by its owner before the next use. */
typedef struct {
    PGconn *conn;
    uint64_t prepared[(TD_PQ__COUNT + 63) / 64]; /* bit per statement id */
    int lost;                                    /* the connection broke: reconnect */
    int writer;                                  /* fault injection applies to writers only */
    int pipeline_prepared; /* a preparation was queued in the current pipeline */
} td_pg_conn_t;

/* Positional parameters of one statement, all sent in binary with explicit types. Values
 * live in the request arena. */
typedef struct {
    int n, cap;
    unsigned int *types; /* Oid */
    const char **vals;
    int *lens;
    int *fmts;
    td_store_req_t *req;
} td_pg_params_t;

void td_pg__params_init(td_pg_params_t *p, td_store_req_t *req);
void td_pg__p_i64(td_pg_params_t *p, int64_t v);
void td_pg__p_i32(td_pg_params_t *p, int32_t v);
void td_pg__p_f64(td_pg_params_t *p, double v);
/* NULL s binds SQL NULL. */
void td_pg__p_text(td_pg_params_t *p, const char *s);
/* A blob's bytes (NULL/empty binds an empty bytea); its encoding is a separate int. */
void td_pg__p_bytes(td_pg_params_t *p, const void *data, size_t len);
/* SQL NULL of type int8 / float8. */
void td_pg__p_null_i64(td_pg_params_t *p);
void td_pg__p_null_f64(td_pg_params_t *p);

/* Runs prepared statement id with p (preparing it on first use on this connection). Returns
 * the result (PGRES_COMMAND_OK or PGRES_TUPLES_OK, binary columns) or NULL with req->rc/err
 * set (td_pg__fail). The caller PQclear()s a non-NULL result. */
PGresult *td_pg__exec(td_pg_conn_t *c, td_store_req_t *req, int id, td_pg_params_t *p);
/* The same for ad-hoc SQL (visibility filters), unprepared. */
PGresult *td_pg__exec_sql(td_pg_conn_t *c, td_store_req_t *req, const char *sql, td_pg_params_t *p);
/* Maps a failed result (or a NULL one) to TD_E*, storing "what: server text" in req->err and
 * marking the connection lost when it is. Returns the code. */
int td_pg__fail(td_store_req_t *req, td_pg_conn_t *c, const PGresult *res, const char *what);

/* Binary result getters; NULL values read as 0 / NULL / an empty blob. */
int64_t td_pg__i64(const PGresult *r, int row, int col);
const char *td_pg__str(td_store_req_t *req, const PGresult *r, int row, int col);
td_store_blob_t td_pg__blob(td_store_req_t *req, const PGresult *r, int row, int col, int enc_col);

/* Runs one op of req on c. Write ops run inside the group transaction (and a savepoint when
 * the group has several requests); reads run in autocommit. Returns req->rc. */
int td_pg__execute(td_pg_conn_t *c, td_store_req_t *req);
/* Whether a WRITE can take the pipelined path (well-formed, its current pointer naming the
 * written run). */
int td_pg__write_fast_ok(const td_store_req_t *req);
/* Queues the statements of such a WRITE on c, which is in pipeline mode; a failed condition
 * or a duplicate becomes an error that aborts the pipeline (the caller then reruns the group
 * the ordinary way, which reports it properly). Returns the number of results queued, or -1
 * when sending failed (the connection is lost). */
int td_pg__write_send(td_pg_conn_t *c, td_store_req_t *req);
/* Queues prepared statement id with p in pipeline mode (queueing its preparation first when
 * needed). Returns the number of results queued (1 or 2), or -1 when sending failed. */
int td_pg__send(td_pg_conn_t *c, td_store_req_t *req, int id, td_pg_params_t *p);
/* The SQL text of a prepared statement id. */
const char *td_pg__sql(int id);

/* Fault injection (tests): point "stmt": the writer connection breaks before its Nth next
 * statement (counted from this call, 1 = the very next); "commit": the Nth next COMMIT is
 * sent and the connection broken before its reply is read (the outcome is then unknown to
 * the backend and must be resolved through the commit marker). after <= 0 clears. Also read
 * from the environment at open: TD_STORE_PG_FAULT=stmt:N or commit:N. */
void td_store_postgres_fault(const char *point, long after);
/* How many faults have been injected so far; how many commit outcomes were resolved
 * (committed / not committed) through the marker. */
long td_store_postgres_faults_injected(void);
void td_store_postgres_resolved(long *committed, long *not_committed);
/* Called by the exec helpers before each statement on a writer connection: breaks the
 * connection when a "stmt" fault is due. Returns 1 when it did. */
int td_pg__fault_stmt(td_pg_conn_t *c);

#endif
