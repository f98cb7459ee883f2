/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the SQLite backend's two files: sqlite_store.c (connections, the
 * writer and reader threads, group commit, schema migrations, fault-injection VFS) and
 * sqlite_ops.c (one function per store op, run on a connection inside a transaction the
 * caller manages). Nothing outside src/store/sqlite/ includes this header.
 */
#ifndef TD_SQLITE_INT_H
#define TD_SQLITE_INT_H

#include <sqlite3.h>

#include "store/store_backend.h"

/* Prepared statements, cached per connection. */
enum {
    TD_SQ_SAVEPOINT,
    TD_SQ_RELEASE,
    TD_SQ_ROLLBACK_TO,
    TD_SQ_CLUSTER_INIT,
    TD_SQ_CLUSTER_GET,
    TD_SQ_MEMBERS_PUT,
    TD_SQ_MEMBERS_EXPIRE,
    TD_SQ_MEMBERS_LIST,
    TD_SQ_NS_BUMP,
    TD_SQ_NS_FIND,
    TD_SQ_NS_INSERT,
    TD_SQ_NS_GET_ID,
    TD_SQ_NS_GET_NAME,
    TD_SQ_NS_UPDATE,
    TD_SQ_NS_LIST,
    TD_SQ_NS_DELETE,
    TD_SQ_SHARD_INSERT,
    TD_SQ_SHARD_GET,
    TD_SQ_SHARD_BUMP,
    TD_SQ_SHARD_RANGE,
    TD_SQ_SHARD_SET,
    TD_SQ_CUR_GET,
    TD_SQ_CUR_PUT,
    TD_SQ_CUR_DELETE_RUN,
    TD_SQ_EXEC_VERSION,
    TD_SQ_EXEC_INSERT,
    TD_SQ_EXEC_UPDATE,
    TD_SQ_EXEC_GET,
    TD_SQ_EXEC_DELETE,
    TD_SQ_HIST_INSERT,
    TD_SQ_HIST_START,
    TD_SQ_HIST_READ,
    TD_SQ_HIST_DELETE,
    TD_SQ_TASK_INSERT,
    TD_SQ_TASK_READ,
    TD_SQ_TIMER_READ,
    TD_SQ_TASK_DELETE,
    TD_SQ_TIMER_DELETE,
    TD_SQ_TQ_INSERT,
    TD_SQ_TQ_BUMP,
    TD_SQ_TQ_GET,
    TD_SQ_TQ_RANGE,
    TD_SQ_TQ_UPDATE,
    TD_SQ_TQ_DELETE,
    TD_SQ_BL_DELETE_ALL,
    TD_SQ_BL_INSERT,
    TD_SQ_BL_READ,
    TD_SQ_BL_DELETE,
    TD_SQ_VIS_EXISTS,
    TD_SQ_VIS_PUT,
    TD_SQ_VIS_DELETE,
    TD_SQ_VIS_SA_DELETE,
    TD_SQ_VIS_SA_INSERT,
    TD_SQ__COUNT
};

/* One connection and its statement cache; used by one thread at a time. */
typedef struct {
    sqlite3 *db;
    sqlite3_stmt *stmts[TD_SQ__COUNT];
    /* the writer's shard-fence cache: valid only inside one group transaction, which holds
     * the database write lock, and cleared by any shard write */
    int fence_ok;
    int32_t fence_shard;
    int64_t fence_range;
} td_sq_conn_t;

/* Runs one op of req on c. The caller has begun a transaction (write ops: inside a
 * savepoint of the group transaction; reads: a read transaction). Returns req->rc. */
int td_sq__execute(td_sq_conn_t *c, td_store_req_t *req);
/* Maps a SQLite result code to TD_E*, storing "what: sqlite text" in req->err. */
int td_sq__fail(td_store_req_t *req, td_sq_conn_t *c, int src, const char *what);
/* Whether a TD_E* code from an op is a storage fault that dooms the whole group
 * transaction (as opposed to a condition failure that rolls back one savepoint). */
int td_sq__is_fault(int rc);
/* Maps a SQLite result code to TD_E*. */
int td_sq__map(int src);
/* The cached statement id (prepared on first use), reset and unbound. NULL on error, with
 * the error in req. */
sqlite3_stmt *td_sq__stmt(td_sq_conn_t *c, td_store_req_t *req, int id);
/* Steps a statement, retrying SQLITE_BUSY/LOCKED. Returns the SQLite code. */
int td_sq__step(sqlite3_stmt *st);

/* Fault injection (test builds and tests): after `after` more successful file writes or
 * syncs, the next `count` ones fail (count < 0: until cleared) with SQLITE_IOERR_WRITE
 * (kind 'e') or SQLITE_FULL (kind 'f'). Affects databases opened after the first call.
 * Also configured from the environment at open: TD_STORE_FAULT=eio:AFTER[:COUNT] or
 * full:AFTER[:COUNT]. kind 0 clears. */
void td_store_sqlite_fault(int kind, long after, long count);
/* How many faults have been injected so far. */
long td_store_sqlite_faults_injected(void);

#endif
