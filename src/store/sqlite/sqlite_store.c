/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite backend of the store: connections, threads, group commit, schema migrations
 * and a fault-injection VFS for tests. The operations themselves are in sqlite_ops.c.
 *
 * Threads: one writer thread owns the only write connection and runs every write request;
 * reader threads (files only) each own a read connection and run read requests in WAL
 * snapshots. An in-memory database (sqlite://:memory:) is private to the writer connection,
 * so its reads also run on the writer thread (outside the write transaction).
 *
 * Design notes -- the writer's group commit.
 * Invariants: only the writer thread writes; a request is completed only after the COMMIT
 * that contains its work returned (acknowledged = durable under synchronous=FULL); a
 * request whose condition failed leaves no trace (it changed nothing, or the group is run
 * again with a savepoint per request and it is rolled back to its own); a storage fault anywhere in
 * a group rolls back the whole group and fails every request of it that had not already failed on
 * its own condition.
 *
 *     IDLE --requests queued--> GROUP (BEGIN IMMEDIATE)
 *     GROUP: for each request: op (fast path, no savepoint); a request that failed after
 *            changing rows -> ROLLBACK, then the group again in SAFE mode:
 *     SAFE:  for each request: SAVEPOINT -> op -> RELEASE (ok) | ROLLBACK TO + RELEASE (cond)
 *     GROUP --all ran--> COMMIT --ok--> COMPLETE --> IDLE
 *     GROUP --fault--> ROLLBACK --> COMPLETE (fault rc) --> IDLE
 *     COMMIT --fault--> ROLLBACK --> COMPLETE (fault rc) --> IDLE
 *
 *     FROM    -> TO        [function]
 *     IDLE    -> GROUP     [td_sq_writer_main: queue non-empty]
 *     GROUP   -> SAFE      [td_sq_run_group: failed request changed rows]
 *     GROUP   -> COMMIT    [td_sq_run_group]
 *     SAFE    -> COMMIT    [td_sq_run_group(safe = 1)]
 *     GROUP   -> ROLLBACK  [td_sq_run_group: td_sq__is_fault(rc)]
 *     COMMIT  -> COMPLETE  [td_sq_run_group -> td_store__complete_list]
 *     any     -> (exit)    [td_sq_close: stopping and queue empty]
 */
#define TD_LOG_COMPONENT "sqlite"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "store/sqlite/sqlite_int.h"

#define TD_SQ_MAX_GROUP   1024
#define TD_SQ_BUSY_MS     5000
#define TD_SQ_DEF_READERS 2
/* WAL checkpoints run on their own thread once the WAL holds this many frames, so the
 * writer never copies pages into the database file inside a commit; past the hard limit
 * the writer checkpoints itself (the checkpointer cannot keep up, or readers hold it). */
#define TD_SQ_CKPT_FRAMES      16000
#define TD_SQ_CKPT_HARD_FRAMES 200000
/* After a write failed for lack of space the WAL is kept small: checkpoints from 1,000 frames
 * and the file cut back to 4 MiB whenever it rewinds. */
#define TD_SQ_CKPT_TIGHT_FRAMES 1000
#define TD_SQ_TIGHT_WAL_BYTES   "4194304"

typedef struct {
    td_store_req_t *head, *tail;
} td_sq_queue_t;

/* A committed group waiting for its WAL fdatasync (pipelined mode). */
typedef struct td_sq_group_s {
    struct td_sq_group_s *next;
    td_store_req_t **reqs;
    int n;
} td_sq_group_t;

struct td_store_backend_s {
    td_store_t *front;
    char *filename; /* for sqlite3_open_v2 */
    int memory;
    char *synchronous;
    char **pragmas;
    int n_pragmas;
    int use_fault_vfs;
    pthread_mutex_t mu;
    pthread_cond_t wcv; /* writer waits here */
    pthread_cond_t rcv; /* readers wait here */
    td_sq_queue_t wq;   /* writes (and reads, in memory mode) */
    td_sq_queue_t rq;   /* reads */
    int stopping;
    td_sq_conn_t writer;
    pthread_t writer_thread;
    int writer_started;
    td_sq_conn_t *readers;
    pthread_t *reader_threads;
    int n_readers;
    int n_readers_started;
    /* background checkpoints (files only) */
    td_sq_conn_t ckpt;
    pthread_t ckpt_thread;
    int ckpt_started;
    int ckpt_wanted;
    atomic_int ckpt_done; /* a background checkpoint finished: the writer tops it up */
    int ckpt_failures;    /* truncating checkpoints failed in a row (writer thread) */
    int tight;            /* a write failed for lack of space since the start (writer) */
    int wal_truncate;     /* a write failed for lack of space: truncate the WAL at the next
                             commit, and until a truncating checkpoint succeeds */
    pthread_cond_t ckcv;
    /* pipelined durability (files at synchronous=FULL): SQLite commits at NORMAL and the
     * syncer thread fdatasync()s the WAL before any request of a group is acknowledged */
    int pipelined;
    int wal_fd;
    int lock_fd; /* flock()ed: one temporald process per database file */
    pthread_t sync_thread;
    int sync_started;
    int sync_stopping;
    int sync_busy; /* the syncer holds groups it has not completed yet */
    td_sq_group_t *sq_head, *sq_tail;
    pthread_cond_t scv;
};

/* ---- queue ---- */

static void td_sq_push(td_sq_queue_t *q, td_store_req_t *req)
{
    req->next_ = NULL;
    if (q->tail != NULL) {
        q->tail->next_ = req;
    } else {
        q->head = req;
    }
    q->tail = req;
}

static td_store_req_t *td_sq_pop(td_sq_queue_t *q)
{
    td_store_req_t *req = q->head;
    if (req != NULL) {
        q->head = req->next_;
        if (q->head == NULL) {
            q->tail = NULL;
        }
        req->next_ = NULL;
    }
    return req;
}

/* ---- fault injection VFS ---- */

static atomic_int td_sq_fault_kind;      /* 0, 'e' or 'f' */
static atomic_long td_sq_fault_after;    /* successful writes before failing */
static atomic_long td_sq_fault_count;    /* failures left (< 0: unlimited) */
static atomic_long td_sq_fault_injected; /* failures so far */
static atomic_int td_sq_fault_vfs_on;    /* any fault ever requested in this process */
static pthread_once_t td_sq_fault_once = PTHREAD_ONCE_INIT;
static sqlite3_vfs td_sq_fault_vfs;
static sqlite3_vfs *td_sq_real_vfs;

typedef struct {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct in the same allocation */
} td_sq_ffile_t;

void td_store_sqlite_fault(int kind, long after, long count)
{
    atomic_store(&td_sq_fault_after, after);
    atomic_store(&td_sq_fault_count, count);
    atomic_store(&td_sq_fault_kind, kind);
    if (kind != 0) {
        atomic_store(&td_sq_fault_vfs_on, 1);
    }
}

long td_store_sqlite_faults_injected(void)
{
    return atomic_load(&td_sq_fault_injected);
}

/* SQLITE_OK, or the injected error for this write/sync. */
static int td_sq_fault_check(int ioerr)
{
    int kind = atomic_load(&td_sq_fault_kind);
    if (kind == 0) {
        return SQLITE_OK;
    }
    if (atomic_fetch_sub(&td_sq_fault_after, 1) > 0) {
        return SQLITE_OK;
    }
    atomic_store(&td_sq_fault_after, 0);
    long left = atomic_load(&td_sq_fault_count);
    if (left == 0) {
        return SQLITE_OK;
    }
    if (left > 0) {
        atomic_fetch_sub(&td_sq_fault_count, 1);
    }
    atomic_fetch_add(&td_sq_fault_injected, 1);
    return kind == 'f' ? SQLITE_FULL : ioerr;
}

#define TD_SQ_REAL(f) (((td_sq_ffile_t *)(f))->real)

static int td_sq_f_close(sqlite3_file *f)
{
    return TD_SQ_REAL(f)->pMethods->xClose(TD_SQ_REAL(f));
}
static int td_sq_f_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return TD_SQ_REAL(f)->pMethods->xRead(TD_SQ_REAL(f), p, n, off);
}
static int td_sq_f_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    int rc = td_sq_fault_check(SQLITE_IOERR_WRITE);
    return rc != SQLITE_OK ? rc : TD_SQ_REAL(f)->pMethods->xWrite(TD_SQ_REAL(f), p, n, off);
}
static int td_sq_f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return TD_SQ_REAL(f)->pMethods->xTruncate(TD_SQ_REAL(f), size);
}
static int td_sq_f_sync(sqlite3_file *f, int flags)
{
    int rc = td_sq_fault_check(SQLITE_IOERR_FSYNC);
    return rc != SQLITE_OK ? rc : TD_SQ_REAL(f)->pMethods->xSync(TD_SQ_REAL(f), flags);
}
static int td_sq_f_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return TD_SQ_REAL(f)->pMethods->xFileSize(TD_SQ_REAL(f), size);
}
static int td_sq_f_lock(sqlite3_file *f, int l)
{
    return TD_SQ_REAL(f)->pMethods->xLock(TD_SQ_REAL(f), l);
}
static int td_sq_f_unlock(sqlite3_file *f, int l)
{
    return TD_SQ_REAL(f)->pMethods->xUnlock(TD_SQ_REAL(f), l);
}
static int td_sq_f_check(sqlite3_file *f, int *out)
{
    return TD_SQ_REAL(f)->pMethods->xCheckReservedLock(TD_SQ_REAL(f), out);
}
static int td_sq_f_fcntl(sqlite3_file *f, int op, void *arg)
{
    return TD_SQ_REAL(f)->pMethods->xFileControl(TD_SQ_REAL(f), op, arg);
}
static int td_sq_f_sector(sqlite3_file *f)
{
    return TD_SQ_REAL(f)->pMethods->xSectorSize(TD_SQ_REAL(f));
}
static int td_sq_f_devchar(sqlite3_file *f)
{
    return TD_SQ_REAL(f)->pMethods->xDeviceCharacteristics(TD_SQ_REAL(f));
}
static int td_sq_f_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
    return TD_SQ_REAL(f)->pMethods->xShmMap(TD_SQ_REAL(f), pg, sz, ext, pp);
}
static int td_sq_f_shmlock(sqlite3_file *f, int off, int n, int flags)
{
    return TD_SQ_REAL(f)->pMethods->xShmLock(TD_SQ_REAL(f), off, n, flags);
}
static void td_sq_f_shmbarrier(sqlite3_file *f)
{
    TD_SQ_REAL(f)->pMethods->xShmBarrier(TD_SQ_REAL(f));
}
static int td_sq_f_shmunmap(sqlite3_file *f, int del)
{
    return TD_SQ_REAL(f)->pMethods->xShmUnmap(TD_SQ_REAL(f), del);
}

/* Version 2 methods: no memory-mapped I/O, so every write goes through xWrite. */
static const sqlite3_io_methods td_sq_fault_methods = {
    2,
    td_sq_f_close,
    td_sq_f_read,
    td_sq_f_write,
    td_sq_f_truncate,
    td_sq_f_sync,
    td_sq_f_size,
    td_sq_f_lock,
    td_sq_f_unlock,
    td_sq_f_check,
    td_sq_f_fcntl,
    td_sq_f_sector,
    td_sq_f_devchar,
    td_sq_f_shmmap,
    td_sq_f_shmlock,
    td_sq_f_shmbarrier,
    td_sq_f_shmunmap,
    NULL,
    NULL,
};

static int td_sq_fault_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
                            int *out_flags)
{
    td_sq_ffile_t *ff = (td_sq_ffile_t *)f;
    int rc;

    ff->real = (sqlite3_file *)(ff + 1);
    rc = td_sq_real_vfs->xOpen(td_sq_real_vfs, name, ff->real, flags, out_flags);
    ff->base.pMethods =
            (rc == SQLITE_OK && ff->real->pMethods != NULL) ? &td_sq_fault_methods : NULL;
    return rc;
}

static void td_sq_fault_register(void)
{
    td_sq_real_vfs = sqlite3_vfs_find(NULL);
    td_sq_fault_vfs = *td_sq_real_vfs;
    td_sq_fault_vfs.zName = "td-fault";
    td_sq_fault_vfs.szOsFile = (int)sizeof(td_sq_ffile_t) + td_sq_real_vfs->szOsFile;
    td_sq_fault_vfs.xOpen = td_sq_fault_open;
    td_sq_fault_vfs.pNext = NULL;
    sqlite3_vfs_register(&td_sq_fault_vfs, 0);
}

/* TD_STORE_FAULT=eio:AFTER[:COUNT] | full:AFTER[:COUNT] */
static void td_sq_fault_from_env(void)
{
    const char *e = getenv("TD_STORE_FAULT");
    char kind[8] = "";
    long after = 0, count = 1;

    if (e == NULL || e[0] == '\0') {
        return;
    }
    if (sscanf(e, "%7[a-z]:%ld:%ld", kind, &after, &count) < 2) {
        td_log_warn("TD_STORE_FAULT='%s' ignored (expected eio:AFTER[:COUNT])", e);
        return;
    }
    td_store_sqlite_fault(strcmp(kind, "full") == 0 ? 'f' : 'e', after, count);
}

/* ---- connections ---- */

static void td_sq_conn_close(td_sq_conn_t *c)
{
    for (int i = 0; i < TD_SQ__COUNT; i++) {
        sqlite3_finalize(c->stmts[i]);
        c->stmts[i] = NULL;
    }
    if (c->db != NULL) {
        sqlite3_close_v2(c->db);
        c->db = NULL;
    }
}

/* Runs SQL without results, retrying BUSY. Returns the SQLite code. */
static int td_sq_run(sqlite3 *db, const char *sql, char **errmsg)
{
    int src;
    int tries = 0;

    for (;;) {
        src = sqlite3_exec(db, sql, NULL, NULL, errmsg);
        if ((src & 0xff) != SQLITE_BUSY && (src & 0xff) != SQLITE_LOCKED) {
            return src;
        }
        if (errmsg != NULL && *errmsg != NULL) {
            sqlite3_free(*errmsg);
            *errmsg = NULL;
        }
        if (++tries > 600) {
            return src;
        }
        sqlite3_sleep(100);
    }
}

static int td_sq_conn_open(td_store_backend_t *b, td_sq_conn_t *c, int create, int readonly,
                           char *err, size_t errlen)
{
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
    const char *vfs = NULL;
    char sql[512];
    char *msg = NULL;
    int src, rc = TD_OK;

    memset(c, 0, sizeof(*c));
    if (!b->memory && (b->use_fault_vfs || atomic_load(&td_sq_fault_vfs_on))) {
        pthread_once(&td_sq_fault_once, td_sq_fault_register);
        vfs = "td-fault";
    }
    src = sqlite3_open_v2(b->filename, &c->db, flags, vfs);
    if (src != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database '%s': %s", b->filename,
                 c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(src));
        rc = td_sq__map(src) == TD_EIO ? TD_EIO : TD_EUNAVAIL;
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, TD_SQ_BUSY_MS);
    if (!b->memory) {
        if (!readonly) {
            src = td_sq_run(c->db, "PRAGMA journal_mode=WAL", &msg);
            if (src != SQLITE_OK) {
                goto fail;
            }
        }
        snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s",
                 b->pipelined ? "NORMAL" : b->synchronous);
        src = td_sq_run(c->db, sql, &msg);
        if (src != SQLITE_OK) {
            goto fail;
        }
    }
    td_sq_run(c->db, "PRAGMA foreign_keys=OFF", NULL);
    /* a larger page cache and memory-mapped reads keep hot b-tree pages out of pread() */
    td_sq_run(c->db, "PRAGMA cache_size=-65536", NULL);
    /* savepoint sub-journals and statement journals stay in memory, never in temp files */
    td_sq_run(c->db, "PRAGMA temp_store=MEMORY", NULL);
    if (!b->memory) {
        td_sq_run(c->db, "PRAGMA mmap_size=1073741824", NULL);
    }
    for (int i = 0; i < b->n_pragmas; i++) {
        snprintf(sql, sizeof(sql), "PRAGMA %s", b->pragmas[i]);
        src = td_sq_run(c->db, sql, &msg);
        if (src != SQLITE_OK) {
            goto fail;
        }
    }
    goto out;
fail:
    snprintf(err, errlen, "database '%s': %s", b->filename,
             msg != NULL ? msg : sqlite3_errmsg(c->db));
    rc = td_sq__map(src);
    if (rc == TD_ECONDITION || rc == TD_EINTERNAL) {
        rc = TD_EINVAL;
    }
out:
    sqlite3_free(msg);
    if (rc != TD_OK) {
        td_sq_conn_close(c);
    }
    return rc;
}

/* ---- schema ---- */

static int td_sq_schema_version(sqlite3 *db, int *version, int *has_tables, char *err,
                                size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src, rc = TD_OK;

    *version = 0;
    *has_tables = 0;
    src = sqlite3_prepare_v2(db,
                             "SELECT count(*), sum(name = 'schema_version') FROM "
                             "sqlite_master WHERE type = 'table'",
                             -1, &st, NULL);
    if (src == SQLITE_OK && (src = td_sq__step(st)) == SQLITE_ROW) {
        *has_tables = sqlite3_column_int(st, 0) > 0;
        if (sqlite3_column_int(st, 1) > 0) {
            sqlite3_finalize(st);
            st = NULL;
            src = sqlite3_prepare_v2(db, "SELECT version FROM schema_version WHERE id = 1", -1, &st,
                                     NULL);
            if (src == SQLITE_OK && (src = td_sq__step(st)) == SQLITE_ROW) {
                *version = sqlite3_column_int(st, 0);
                src = SQLITE_OK;
            } else if (src == SQLITE_DONE) {
                src = SQLITE_OK;
            }
        } else {
            src = SQLITE_OK;
        }
    }
    if (src != SQLITE_OK) {
        snprintf(err, errlen, "read schema version: %s", sqlite3_errmsg(db));
        rc = td_sq__map(src);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Applies migrations (from, to] of the sqlite folder, each in its own transaction. */
static int td_sq_schema_migrate(sqlite3 *db, int from, char *err, size_t errlen)
{
    char *msg = NULL;
    char sql[256];
    int rc = TD_OK, src;

    for (int i = 0; i < td_store_migrations_count && rc == TD_OK; i++) {
        const td_store_migration_t *m = &td_store_migrations[i];
        if (strcmp(m->backend, "sqlite") != 0 || m->version <= from) {
            continue;
        }
        src = td_sq_run(db, "BEGIN IMMEDIATE", &msg);
        if (src == SQLITE_OK) {
            src = td_sq_run(db,
                            "CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY "
                            "CHECK (id = 1), version INTEGER NOT NULL, updated_ns INTEGER NOT "
                            "NULL);"
                            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER "
                            "PRIMARY KEY, name TEXT NOT NULL, applied_ns INTEGER NOT NULL);",
                            &msg);
        }
        if (src == SQLITE_OK) {
            src = td_sq_run(db, m->sql, &msg);
        }
        if (src == SQLITE_OK) {
            snprintf(sql, sizeof(sql),
                     "INSERT OR REPLACE INTO schema_version (id, version, updated_ns) VALUES "
                     "(1, %d, %lld); INSERT OR REPLACE INTO schema_migrations VALUES "
                     "(%d, '%s', %lld)",
                     m->version, (long long)td_now_wall_ns(), m->version, m->name,
                     (long long)td_now_wall_ns());
            src = td_sq_run(db, sql, &msg);
        }
        if (src == SQLITE_OK) {
            src = td_sq_run(db, "COMMIT", &msg);
        }
        if (src != SQLITE_OK) {
            snprintf(err, errlen, "migration %s: %s", m->name,
                     msg != NULL ? msg : sqlite3_errmsg(db));
            rc = td_sq__map(src);
            if (rc == TD_ECONDITION || rc == TD_EINTERNAL) {
                rc = TD_ESCHEMA;
            }
            td_sq_run(db, "ROLLBACK", NULL);
        } else {
            td_log_info("schema: applied %s", m->name);
        }
        sqlite3_free(msg);
        msg = NULL;
    }
    return rc;
}

static int td_sq_schema_check(sqlite3 *db, td_store_schema_mode_t mode, char *err, size_t errlen)
{
    int want = td_store__schema_latest("sqlite");
    int cur = 0, has_tables = 0;
    int rc = td_sq_schema_version(db, &cur, &has_tables, err, errlen);

    if (rc != TD_OK || mode == TD_STORE_SCHEMA_IGNORE) {
        goto out;
    }
    if (mode == TD_STORE_SCHEMA_AUTO && cur < want && (cur > 0 || !has_tables)) {
        rc = td_sq_schema_migrate(db, cur, err, errlen);
        goto out;
    }
    rc = td_store__schema_check(cur, want, err, errlen);
out:
    return rc;
}

/* ---- the writer ---- */

static int td_sq_begin(td_sq_conn_t *c, const char *sql, char *msg, size_t msglen)
{
    char *e = NULL;
    int src = td_sq_run(c->db, sql, &e);
    if (src != SQLITE_OK) {
        snprintf(msg, msglen, "%s: %s (sqlite %d)", sql, e != NULL ? e : sqlite3_errmsg(c->db),
                 src);
    }
    sqlite3_free(e);
    return src;
}

static void td_sq_run_read(td_sq_conn_t *c, td_store_req_t *req)
{
    char msg[256];
    int src = td_sq_begin(c, "BEGIN", msg, sizeof(msg));

    if (src != SQLITE_OK) {
        td_store__fail(req, td_sq__map(src), "%s", msg);
        return;
    }
    td_sq__execute(c, req);
    if (td_sq_run(c->db, "COMMIT", NULL) != SQLITE_OK) {
        /* never leave a read transaction open: it would pin an old snapshot */
        for (sqlite3_stmt *st = sqlite3_next_stmt(c->db, NULL); st != NULL;
             st = sqlite3_next_stmt(c->db, st)) {
            sqlite3_reset(st);
        }
        if (!sqlite3_get_autocommit(c->db)) {
            td_sq_run(c->db, "ROLLBACK", NULL);
        }
        td_log_warn("read transaction did not end cleanly: %s", sqlite3_errmsg(c->db));
    }
}

/* Runs one savepoint step; returns the SQLite code. */
static int td_sq_stmt_run(td_sq_conn_t *c, td_store_req_t *req, int id)
{
    sqlite3_stmt *st = td_sq__stmt(c, req, id);
    int src;

    if (st == NULL) {
        return SQLITE_ERROR;
    }
    src = td_sq__step(st);
    sqlite3_reset(st);
    return src == SQLITE_DONE ? SQLITE_OK : src;
}

static void td_sq_fail_group(td_store_req_t **reqs, int n, const char *done, int rc,
                             const char *msg)
{
    for (int i = 0; i < n; i++) {
        /* a request that failed its own condition keeps that (accurate) answer */
        if (done[i] && reqs[i]->rc != TD_OK && !td_sq__is_fault(reqs[i]->rc)) {
            continue;
        }
        td_store__fail(reqs[i], rc, "transaction not committed: %s", msg);
    }
}

/* After a write failed for lack of space, and after the first commit that follows: copies the
 * WAL into the database and truncates it to zero bytes, so the space its frames hold goes back
 * to the file system instead of the WAL growing into whatever is freed next (the store front
 * pauses writes meanwhile, so this runs at most once per backoff delay). Waits for readers up
 * to the busy timeout. Writer thread. */
static void td_sq_wal_truncate(td_store_backend_t *b)
{
    int log = 0, done = 0, src;

    if (b->memory) {
        return;
    }
    src = sqlite3_wal_checkpoint_v2(b->writer.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    if (src == SQLITE_OK) {
        td_log_info("WAL checkpointed (%d frames) and truncated after a write failed for lack of "
                    "space",
                    done);
    } else if ((b->ckpt_failures & (b->ckpt_failures - 1)) == 0) {
        td_log_warn("WAL checkpoint after a write failed for lack of space: %s",
                    sqlite3_errmsg(b->writer.db));
    }
    b->ckpt_failures = src == SQLITE_OK ? 0 : b->ckpt_failures + 1;
    if (src == SQLITE_OK) {
        b->wal_truncate = 0;
    }
}

/* Runs a group in one transaction. Fast path (safe = 0): no savepoints; a request that
 * fails before changing anything (the usual condition failure) needs no undo. When one
 * fails after changing rows, the group is rolled back and run again with a savepoint per
 * request (safe = 1), which undoes exactly that request's work. */
static void td_sq_run_group(td_store_backend_t *b, td_store_req_t **reqs, int n, int safe)
{
    td_sq_conn_t *c = &b->writer;
    char msg[512];
    char done[TD_SQ_MAX_GROUP];
    int src, rc = TD_OK, redo = 0;

    memset(done, 0, sizeof(done));
    c->fence_ok = 0;
    src = td_sq_begin(c, "BEGIN IMMEDIATE", msg, sizeof(msg));
    if (src != SQLITE_OK) {
        td_sq_fail_group(reqs, n, done, td_sq__map(src), msg);
        return;
    }
    for (int i = 0; i < n && rc == TD_OK && !redo; i++) {
        td_store_req_t *req = reqs[i];
        sqlite3_int64 before = sqlite3_total_changes64(c->db);
        if (safe) {
            src = td_sq_stmt_run(c, req, TD_SQ_SAVEPOINT);
            if (src != SQLITE_OK) {
                rc = td_sq__map(src);
                snprintf(msg, sizeof(msg), "savepoint: %s", sqlite3_errmsg(c->db));
                break;
            }
        }
        td_sq__execute(c, req);
        done[i] = 1;
        if (req->rc != TD_OK && td_sq__is_fault(req->rc)) {
            rc = req->rc;
            snprintf(msg, sizeof(msg), "%s", req->err);
            break;
        }
        if (!safe) {
            redo = req->rc != TD_OK && sqlite3_total_changes64(c->db) != before;
            continue;
        }
        if (req->rc != TD_OK) {
            src = td_sq_stmt_run(c, req, TD_SQ_ROLLBACK_TO);
            if (src != SQLITE_OK) {
                rc = td_sq__map(src);
                snprintf(msg, sizeof(msg), "rollback to savepoint: %s", sqlite3_errmsg(c->db));
                break;
            }
        }
        src = td_sq_stmt_run(c, req, TD_SQ_RELEASE);
        if (src != SQLITE_OK) {
            rc = td_sq__map(src);
            snprintf(msg, sizeof(msg), "release savepoint: %s", sqlite3_errmsg(c->db));
            break;
        }
    }
    if (redo) {
        td_sq_run(c->db, "ROLLBACK", NULL);
        c->fence_ok = 0;
        for (int i = 0; i < n; i++) {
            reqs[i]->rc = TD_OK;
            reqs[i]->err = NULL;
            memset(&reqs[i]->out, 0, sizeof(reqs[i]->out));
        }
        td_sq_run_group(b, reqs, n, 1);
        return;
    }
    if (rc == TD_OK) {
        src = td_sq_begin(c, "COMMIT", msg, sizeof(msg));
        if (src != SQLITE_OK) {
            rc = td_sq__map(src);
        }
    }
    c->fence_ok = 0;
    if (rc != TD_OK) {
        if (!sqlite3_get_autocommit(c->db)) {
            td_sq_run(c->db, "ROLLBACK", NULL);
        }
        td_log_warn("group of %d write(s) rolled back: %s", n, msg);
        td_sq_fail_group(reqs, n, done, rc, msg);
        if (rc == TD_EFULL) {
            b->wal_truncate = 1;
            if (!b->tight && !b->memory) {
                /* From now on the disk is known to be tight: checkpoint early and keep the
                 * WAL file small once it rewinds (journal_size_limit). */
                b->tight = 1;
                td_sq_run(c->db, "PRAGMA journal_size_limit=" TD_SQ_TIGHT_WAL_BYTES, NULL);
            }
            td_sq_wal_truncate(b);
        }
    } else if (b->wal_truncate) {
        /* the first commit after a full disk: space is back, so the checkpoint can now grow
         * the database file and give the WAL's space back */
        td_sq_wal_truncate(b);
    }
}

static int td_sq_wal_sync(td_store_backend_t *b, char *msg, size_t msglen);

/* Pipelined mode, after a group committed: when nothing else waits (no queued writes, the
 * syncer idle) the writer flushes the WAL itself, saving a thread hop on the latency of a
 * lone request; otherwise the syncer flushes while the writer runs the next group. */
static void td_sq_hand_over(td_store_backend_t *b, td_store_req_t **batch, int n)
{
    td_sq_group_t *g;
    char msg[256];
    int alone, rc;

    pthread_mutex_lock(&b->mu);
    alone = b->wq.head == NULL && b->sq_head == NULL && !b->sync_busy;
    pthread_mutex_unlock(&b->mu);
    if (alone) {
        rc = td_sq_wal_sync(b, msg, sizeof(msg));
        for (int i = 0; rc != TD_OK && i < n; i++) {
            if (batch[i]->rc == TD_OK) {
                td_store__fail(batch[i], rc, "commit not confirmed durable: %s", msg);
            }
        }
        if (rc != TD_OK) {
            td_log_warn("%s: failing the waiting requests", msg);
        }
        td_store__complete_list(batch, n);
        return;
    }
    g = td_malloc(sizeof(*g));
    g->reqs = td_malloc(sizeof(*g->reqs) * (size_t)n);
    memcpy(g->reqs, batch, sizeof(*g->reqs) * (size_t)n);
    g->n = n;
    g->next = NULL;
    pthread_mutex_lock(&b->mu);
    if (b->sq_tail != NULL) {
        b->sq_tail->next = g;
    } else {
        b->sq_head = g;
    }
    b->sq_tail = g;
    pthread_cond_signal(&b->scv);
    pthread_mutex_unlock(&b->mu);
}

static void *td_sq_writer_main(void *arg)
{
    td_store_backend_t *b = arg;
    td_store_req_t *batch[TD_SQ_MAX_GROUP];
    td_store_req_t *writes[TD_SQ_MAX_GROUP];

    for (;;) {
        int n = 0, nw = 0;
        pthread_mutex_lock(&b->mu);
        while (b->wq.head == NULL && !b->stopping) {
            pthread_cond_wait(&b->wcv, &b->mu);
        }
        while (n < TD_SQ_MAX_GROUP && b->wq.head != NULL) {
            batch[n++] = td_sq_pop(&b->wq);
        }
        pthread_mutex_unlock(&b->mu);
        if (n == 0) {
            break; /* stopping and drained */
        }
        /* reads first (memory mode only): they never see this group's uncommitted work */
        for (int i = 0; i < n; i++) {
            if (td_store_op_is_read(batch[i]->op)) {
                td_sq_run_read(&b->writer, batch[i]);
            } else {
                writes[nw++] = batch[i];
            }
        }
        if (nw > 0) {
            td_sq_run_group(b, writes, nw, 0);
        }
        if (b->pipelined && nw > 0) {
            td_sq_hand_over(b, batch, n);
        } else {
            td_store__complete_list(batch, n);
        }
    }
    return NULL;
}

static void *td_sq_reader_main(void *arg)
{
    td_store_backend_t *b = ((void **)arg)[0];
    td_sq_conn_t *c = ((void **)arg)[1];

    td_free(arg);
    for (;;) {
        td_store_req_t *req;
        pthread_mutex_lock(&b->mu);
        while (b->rq.head == NULL && !b->stopping) {
            pthread_cond_wait(&b->rcv, &b->mu);
        }
        req = td_sq_pop(&b->rq);
        pthread_mutex_unlock(&b->mu);
        if (req == NULL) {
            break;
        }
        td_sq_run_read(c, req);
        td_store__complete(req);
    }
    return NULL;
}

/* ---- the syncer (pipelined durability) ----
 *
 * With synchronous=FULL on a file, the writer runs SQLite at NORMAL (no fsync inside
 * COMMIT) and queues each committed group here; this thread fdatasync()s the WAL once for
 * every group queued so far and only then completes their requests. The writer meanwhile
 * executes the next group, so CPU work and the disk flush overlap. Acknowledged still means
 * on disk: a request is completed only after an fdatasync that began after its COMMIT
 * returned (its frames were written). The WAL is a sequential log, so after a crash
 * recovery keeps a prefix of commits, and whatever a later (unacknowledged) group built on
 * is either kept with it or lost with it. If fdatasync fails, the group's successful
 * requests get TD_EIO although SQLite committed them (an uncertain outcome, as with a lost
 * COMMIT reply: the caller's retry meets the condition of the new state). */

static int td_sq_wal_sync(td_store_backend_t *b, char *msg, size_t msglen)
{
    int src;

    if (atomic_load(&td_sq_fault_vfs_on)) {
        src = td_sq_fault_check(SQLITE_IOERR_FSYNC);
        if (src != SQLITE_OK) {
            snprintf(msg, msglen, "fdatasync of the WAL: injected fault (sqlite %d)", src);
            return td_sq__map(src);
        }
    }
    if (fdatasync(b->wal_fd) != 0) {
        snprintf(msg, msglen, "fdatasync of the WAL: %s", strerror(errno));
        return errno == ENOSPC ? TD_EFULL : TD_EIO;
    }
    return TD_OK;
}

static void *td_sq_sync_main(void *arg)
{
    td_store_backend_t *b = arg;
    char msg[256];

    for (;;) {
        td_sq_group_t *list;
        int rc;
        pthread_mutex_lock(&b->mu);
        while (b->sq_head == NULL && !b->sync_stopping) {
            pthread_cond_wait(&b->scv, &b->mu);
        }
        list = b->sq_head;
        b->sq_head = b->sq_tail = NULL;
        b->sync_busy = list != NULL;
        pthread_mutex_unlock(&b->mu);
        if (list == NULL) {
            break; /* stopping and drained */
        }
        rc = td_sq_wal_sync(b, msg, sizeof(msg));
        if (rc != TD_OK) {
            td_log_warn("%s: failing the waiting requests", msg);
        }
        while (list != NULL) {
            td_sq_group_t *next = list->next;
            for (int i = 0; rc != TD_OK && i < list->n; i++) {
                if (list->reqs[i]->rc == TD_OK) {
                    td_store__fail(list->reqs[i], rc, "commit not confirmed durable: %s", msg);
                }
            }
            td_store__complete_list(list->reqs, list->n);
            td_free(list->reqs);
            td_free(list);
            list = next;
        }
        pthread_mutex_lock(&b->mu);
        b->sync_busy = 0;
        pthread_mutex_unlock(&b->mu);
    }
    return NULL;
}

/* After the writer exited: lets the syncer flush and complete what it holds, then joins it. */
static void td_sq_stop_syncer(td_store_backend_t *b)
{
    if (!b->sync_started) {
        return;
    }
    pthread_mutex_lock(&b->mu);
    b->sync_stopping = 1;
    pthread_cond_signal(&b->scv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->sync_thread, NULL);
    b->sync_started = 0;
}

/* ---- background checkpoints ---- */

static int td_sq_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    td_store_backend_t *b = arg;

    if (atomic_exchange(&b->ckpt_done, 0) || frames >= TD_SQ_CKPT_HARD_FRAMES) {
        /* The background pass copied all frames up to where it began; copying the few
         * written since lets the next write restart the WAL from its start (otherwise the
         * file would only ever grow while writes keep coming). */
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (frames >= (b->tight ? TD_SQ_CKPT_TIGHT_FRAMES : TD_SQ_CKPT_FRAMES)) {
        pthread_mutex_lock(&b->mu);
        if (!b->ckpt_wanted) {
            b->ckpt_wanted = 1;
            pthread_cond_signal(&b->ckcv);
        }
        pthread_mutex_unlock(&b->mu);
    }
    return SQLITE_OK;
}

static void *td_sq_ckpt_main(void *arg)
{
    td_store_backend_t *b = arg;

    for (;;) {
        int log = 0, done = 0, src;
        pthread_mutex_lock(&b->mu);
        while (!b->ckpt_wanted && !b->stopping) {
            pthread_cond_wait(&b->ckcv, &b->mu);
        }
        if (b->stopping) {
            pthread_mutex_unlock(&b->mu);
            break;
        }
        pthread_mutex_unlock(&b->mu);
        src = sqlite3_wal_checkpoint_v2(b->ckpt.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        if (src != SQLITE_OK && (src & 0xff) != SQLITE_BUSY) {
            td_log_warn("checkpoint: %s", sqlite3_errmsg(b->ckpt.db));
        }
        atomic_store(&b->ckpt_done, 1);
        pthread_mutex_lock(&b->mu);
        b->ckpt_wanted = 0;
        pthread_mutex_unlock(&b->mu);
    }
    return NULL;
}

/* ---- vtable ---- */

static void td_sq_free(td_store_backend_t *b)
{
    td_sq_conn_close(&b->writer);
    td_sq_conn_close(&b->ckpt);
    for (int i = 0; i < b->n_readers; i++) {
        td_sq_conn_close(&b->readers[i]);
    }
    td_free(b->readers);
    td_free(b->reader_threads);
    for (int i = 0; i < b->n_pragmas; i++) {
        td_free(b->pragmas[i]);
    }
    td_free(b->pragmas);
    td_free(b->filename);
    td_free(b->synchronous);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->wcv);
    pthread_cond_destroy(&b->rcv);
    pthread_cond_destroy(&b->ckcv);
    pthread_cond_destroy(&b->scv);
    if (b->wal_fd >= 0) {
        close(b->wal_fd);
    }
    if (b->lock_fd >= 0) {
        close(b->lock_fd);
    }
    td_free(b);
}

static int td_sq_check_sync(const char *s, char *err, size_t errlen)
{
    if (strcasecmp(s, "FULL") == 0 || strcasecmp(s, "NORMAL") == 0 || strcasecmp(s, "OFF") == 0 ||
        strcasecmp(s, "EXTRA") == 0) {
        return TD_OK;
    }
    snprintf(err, errlen, "sqlite_synchronous '%s': expected FULL, NORMAL or OFF", s);
    return TD_EINVAL;
}

static td_store_backend_t *td_sq_new(const td_store_url_t *url, const td_store_options_t *opt)
{
    static atomic_int mem_seq;
    td_store_backend_t *b = td_calloc(1, sizeof(*b));
    char name[64];

    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->wcv, NULL);
    pthread_cond_init(&b->rcv, NULL);
    pthread_cond_init(&b->ckcv, NULL);
    pthread_cond_init(&b->scv, NULL);
    b->wal_fd = -1;
    b->lock_fd = -1;
    b->memory = url->memory;
    if (b->memory) {
        /* a private named in-memory database: one connection, reads through the writer */
        snprintf(name, sizeof(name), "file:tdmem%d?mode=memory", atomic_fetch_add(&mem_seq, 1));
        b->filename = td_strdup(name);
    } else {
        b->filename = td_strdup(url->path);
    }
    b->synchronous = td_strdup(opt->sqlite_synchronous != NULL ? opt->sqlite_synchronous : "FULL");
    if (opt->n_pragmas > 0) {
        b->pragmas = td_calloc((size_t)opt->n_pragmas, sizeof(char *));
        for (int i = 0; i < opt->n_pragmas; i++) {
            b->pragmas[b->n_pragmas++] = td_strdup(opt->pragmas[i]);
        }
    }
    return b;
}

/* The pragma names accepted from configuration: letters, digits, '_' then '=' and a value
 * of letters, digits, '_', '-' or '.'. */
static int td_sq_check_pragmas(const td_store_backend_t *b, char *err, size_t errlen)
{
    for (int i = 0; i < b->n_pragmas; i++) {
        const char *p = b->pragmas[i];
        const char *eq = strchr(p, '=');
        int ok = eq != NULL && eq != p && eq[1] != '\0';
        for (const char *q = p; ok && *q; q++) {
            if (q == eq) {
                continue;
            }
            ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
                 *q == '_' || (q > eq && (*q == '-' || *q == '.'));
        }
        if (!ok) {
            snprintf(err, errlen, "sqlite pragma '%s': expected NAME=VALUE", p);
            return TD_EINVAL;
        }
    }
    return TD_OK;
}

static int td_sq_open(td_store_t *s, const td_store_url_t *url, const td_store_options_t *opt,
                      td_store_backend_t **out, char *err, size_t errlen)
{
    td_store_backend_t *b = td_sq_new(url, opt);
    struct stat sb;
    int create = opt->schema == TD_STORE_SCHEMA_AUTO;
    int rc;

    *out = NULL;
    b->front = s;
    td_sq_fault_from_env();
    rc = td_sq_check_sync(b->synchronous, err, errlen);
    if (rc == TD_OK) {
        rc = td_sq_check_pragmas(b, err, errlen);
    }
    if (rc != TD_OK) {
        goto out;
    }
    /* TD_SQLITE_PIPELINE=0 keeps SQLite's own fsync inside COMMIT (for comparisons) */
    b->pipelined =
            !b->memory &&
            (strcasecmp(b->synchronous, "FULL") == 0 || strcasecmp(b->synchronous, "EXTRA") == 0) &&
            !(getenv("TD_SQLITE_PIPELINE") != NULL &&
              strcmp(getenv("TD_SQLITE_PIPELINE"), "0") == 0);
    if (!b->memory && !create && stat(b->filename, &sb) != 0) {
        snprintf(err, errlen,
                 "database file '%s' does not exist: create it with `temporald schema setup`",
                 b->filename);
        rc = TD_EUNAVAIL;
        goto out;
    }
    rc = td_sq_conn_open(b, &b->writer, 1, 0, err, errlen);
    if (rc != TD_OK) {
        goto out;
    }
    /* SQLite serves one process: a second temporald on the same file (a cluster needs
     * PostgreSQL) is refused here rather than left to fight over the write lock */
    if (!b->memory && (b->lock_fd = open(b->filename, O_RDONLY | O_CLOEXEC)) >= 0 &&
        flock(b->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen,
                 "database file '%s' is in use by another temporald process: a SQLite database "
                 "serves one process (run a cluster of processes on PostgreSQL)",
                 b->filename);
        rc = TD_EBUSY;
        goto out;
    }
    rc = td_sq_schema_check(b->writer.db, b->memory ? TD_STORE_SCHEMA_AUTO : opt->schema, err,
                            errlen);
    if (rc != TD_OK) {
        goto out;
    }
    if (b->pipelined) {
        /* the WAL exists once the schema was read in WAL mode; both the writer and the
         * syncer flush it through this descriptor */
        const char *wal = sqlite3_filename_wal(sqlite3_db_filename(b->writer.db, "main"));
        b->wal_fd = open(wal, O_RDWR | O_CLOEXEC);
        if (b->wal_fd < 0) {
            snprintf(err, errlen, "open %s: %s", wal, strerror(errno));
            rc = TD_EIO;
            goto out;
        }
    }
    b->n_readers = b->memory ? 0 : (opt->max_conns > 0 ? opt->max_conns : TD_SQ_DEF_READERS);
    if (b->n_readers > 16) {
        b->n_readers = 16;
    }
    b->readers = td_calloc((size_t)(b->n_readers + 1), sizeof(*b->readers));
    b->reader_threads = td_calloc((size_t)(b->n_readers + 1), sizeof(*b->reader_threads));
    for (int i = 0; i < b->n_readers && rc == TD_OK; i++) {
        rc = td_sq_conn_open(b, &b->readers[i], 0, 0, err, errlen);
    }
    if (rc != TD_OK) {
        goto out;
    }
    if (!b->memory) {
        rc = td_sq_conn_open(b, &b->ckpt, 0, 0, err, errlen);
        if (rc != TD_OK) {
            goto out;
        }
        sqlite3_wal_autocheckpoint(b->writer.db, 0);
        sqlite3_wal_hook(b->writer.db, td_sq_wal_hook, b);
        if (pthread_create(&b->ckpt_thread, NULL, td_sq_ckpt_main, b) != 0) {
            snprintf(err, errlen, "cannot start the sqlite checkpoint thread");
            rc = TD_EINTERNAL;
            goto out;
        }
        b->ckpt_started = 1;
    }
    if (b->pipelined) {
        if (pthread_create(&b->sync_thread, NULL, td_sq_sync_main, b) != 0) {
            snprintf(err, errlen, "cannot start the sqlite syncer thread");
            rc = TD_EINTERNAL;
            goto out;
        }
        b->sync_started = 1;
    }
    if (pthread_create(&b->writer_thread, NULL, td_sq_writer_main, b) != 0) {
        snprintf(err, errlen, "cannot start the sqlite writer thread");
        rc = TD_EINTERNAL;
        goto out;
    }
    b->writer_started = 1;
    for (int i = 0; i < b->n_readers; i++) {
        void **arg = td_malloc(2 * sizeof(void *));
        arg[0] = b;
        arg[1] = &b->readers[i];
        if (pthread_create(&b->reader_threads[i], NULL, td_sq_reader_main, arg) != 0) {
            td_free(arg);
            snprintf(err, errlen, "cannot start a sqlite reader thread");
            rc = TD_EINTERNAL;
            goto out;
        }
        b->n_readers_started++;
    }
    td_log_info("opened %s (synchronous=%s%s, %d reader(s))", b->memory ? ":memory:" : b->filename,
                b->synchronous, b->pipelined ? ", pipelined WAL flush" : "", b->n_readers);
out:
    if (rc != TD_OK) {
        pthread_mutex_lock(&b->mu);
        b->stopping = 1;
        pthread_cond_broadcast(&b->wcv);
        pthread_cond_broadcast(&b->rcv);
        pthread_cond_broadcast(&b->ckcv);
        pthread_mutex_unlock(&b->mu);
        if (b->writer_started) {
            pthread_join(b->writer_thread, NULL);
        }
        td_sq_stop_syncer(b);
        if (b->ckpt_started) {
            pthread_join(b->ckpt_thread, NULL);
        }
        for (int i = 0; i < b->n_readers_started; i++) {
            pthread_join(b->reader_threads[i], NULL);
        }
        td_sq_free(b);
    } else {
        *out = b;
    }
    return rc;
}

static void td_sq_submit(td_store_backend_t *b, td_store_req_t *req)
{
    int read = td_store_op_is_read(req->op) && b->n_readers > 0;
    int closed;

    pthread_mutex_lock(&b->mu);
    closed = b->stopping;
    if (!closed) {
        td_sq_push(read ? &b->rq : &b->wq, req);
        pthread_cond_signal(read ? &b->rcv : &b->wcv);
    }
    pthread_mutex_unlock(&b->mu);
    if (closed) {
        td_store__fail(req, TD_ECLOSED, "store is closed");
        td_store__complete(req);
    }
}

static void td_sq_close(td_store_backend_t *b)
{
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    pthread_cond_broadcast(&b->wcv);
    pthread_cond_broadcast(&b->rcv);
    pthread_cond_broadcast(&b->ckcv);
    pthread_mutex_unlock(&b->mu);
    /* the threads finish what is queued before they exit */
    if (b->writer_started) {
        pthread_join(b->writer_thread, NULL);
    }
    td_sq_stop_syncer(b);
    if (b->ckpt_started) {
        pthread_join(b->ckpt_thread, NULL);
    }
    for (int i = 0; i < b->n_readers_started; i++) {
        pthread_join(b->reader_threads[i], NULL);
    }
    td_sq_free(b);
}

static int td_sq_schema(const td_store_url_t *url, const td_store_options_t *opt, const char *op,
                        int *from, int *to, int *want, char *err, size_t errlen)
{
    td_store_backend_t *b = td_sq_new(url, opt);
    int has_tables = 0;
    int rc = TD_OK;

    *want = td_store__schema_latest("sqlite");
    if (b->memory) {
        snprintf(err, errlen, "schema %s: an in-memory database has nothing to migrate", op);
        rc = TD_EINVAL;
        goto out;
    }
    rc = td_sq_check_sync(b->synchronous, err, errlen);
    if (rc == TD_OK && strcmp(op, "setup") != 0 && access(b->filename, F_OK) != 0) {
        snprintf(err, errlen,
                 "database file '%s' does not exist: create it with `temporald schema setup`",
                 b->filename);
        rc = TD_EUNAVAIL;
    }
    if (rc == TD_OK) {
        rc = td_sq_conn_open(b, &b->writer, strcmp(op, "setup") == 0, 0, err, errlen);
    }
    if (rc == TD_OK) {
        rc = td_sq_schema_version(b->writer.db, from, &has_tables, err, errlen);
    }
    if (rc != TD_OK) {
        goto out;
    }
    *to = *from;
    if (strcmp(op, "version") == 0) {
        goto out;
    }
    if (strcmp(op, "setup") == 0 && (*from > 0 || has_tables)) {
        snprintf(err, errlen,
                 "schema setup: the database already has a schema (version %d): use `temporald "
                 "schema update`",
                 *from);
        rc = TD_EEXIST;
        goto out;
    }
    if (strcmp(op, "setup") != 0 && strcmp(op, "update") != 0) {
        snprintf(err, errlen, "schema: unknown operation '%s'", op);
        rc = TD_EINVAL;
        goto out;
    }
    if (*from == 0 && has_tables) {
        snprintf(err, errlen,
                 "schema update: the database has tables but no temporald schema "
                 "version: refusing to touch it");
        rc = TD_ESCHEMA;
        goto out;
    }
    if (*from > *want) {
        snprintf(err, errlen, "schema version %d is newer than %d, the newest this binary knows",
                 *from, *want);
        rc = TD_ESCHEMA;
        goto out;
    }
    rc = td_sq_schema_migrate(b->writer.db, *from, err, errlen);
    if (rc == TD_OK) {
        rc = td_sq_schema_version(b->writer.db, to, &has_tables, err, errlen);
    }
out:
    td_sq_free(b);
    return rc;
}

const td_store_ops_t td_store_sqlite_ops = {
    .scheme = "sqlite",
    .open = td_sq_open,
    .submit = td_sq_submit,
    .close = td_sq_close,
    .schema = td_sq_schema,
};
