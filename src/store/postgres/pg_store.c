/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PostgreSQL backend of the store (td_store_postgres_ops): libpq connections owned by
 * worker threads off the event loop, one writer thread that group-commits every queued write
 * request in one transaction (each in its own SAVEPOINT, so a failed condition or statement
 * rolls back only its own request), reader threads that run read ops in autocommit, schema
 * migrations from schema/postgresql/, reconnection, and the resolution of commits whose reply
 * was lost. It is not a general PostgreSQL client: only pg_ops.c's statements run here.
 * Only store.c calls in, through the vtable.
 *
 * Design notes: the writer's group transaction.
 *
 * Invariants
 *   - Only the writer thread touches the writer connection; each reader its own. Writes
 *     run in submission order, one group at a time; reads run beside them in autocommit.
 *   - A request is completed exactly once, after its fate is certain: committed (rc as the
 *     op computed it), not committed (TD_EUNAVAIL), or failed on its own (condition or
 *     statement error, its savepoint rolled back).
 *   - Every group transaction inserts a fresh commit marker (commit_markers.id) before any
 *     request runs, and deletes the previous committed group's marker. If the connection
 *     breaks after COMMIT may have reached the server and before its reply was read, the
 *     writer reconnects and inserts the same id in autocommit: a unique violation means
 *     the group committed; success means it did not (and now never can: the marker row is
 *     taken). The insert waits for the old transaction while the server still runs it, so
 *     the answer is certain. Until the database answers, the group's callers wait; they get
 *     TD_EUNAVAIL "may or may not have committed" only if the store is closed first. A
 *     break before COMMIT was sent, or a server error before it, needs no marker: nothing
 *     committed.
 *   - A group of plain execution updates (td_pg__write_fast_ok) first goes out as one
 *     pipeline, BEGIN to COMMIT, conditions written so that a failure is an SQL error. Any
 *     error aborts that transaction; the group is then rerun the ordinary way (savepoint per
 *     request), which gives each request its own outcome.
 *   - A broken connection (lost) is dropped and reopened before the next use; an idle one
 *     the server closed is noticed before use. While the server is unreachable every
 *     request fails fast with TD_EUNAVAIL, and a later one reconnects.
 *
 *   IDLE --take queue--> FAST (one pipeline) --all ok--> DONE --> IDLE
 *                          |  \--error--> ROLLBACK --> BEGIN
 *                          \--lost--> RESOLVE --> DONE
 *   BEGIN --marker--> RUN (per request: SAVEPOINT, op, RELEASE | ROLLBACK TO)
 *         --> COMMIT --reply--> DONE;  COMMIT --lost--> RESOLVE --> DONE
 *   any step before COMMIT --lost--> ABORTED (all: TD_EUNAVAIL) --> IDLE
 *
 *   FROM     -> TO        [function]
 *   IDLE     -> FAST      [td_pg_group_run]      (every request a plain update)
 *   IDLE     -> BEGIN     [td_pg_group_run]      (otherwise)
 *   FAST     -> DONE      [td_pg_group_fast]
 *   FAST     -> BEGIN     [td_pg_group_fast]     (a condition failed: rerun)
 *   FAST     -> RESOLVE   [td_pg_group_fast]     (connection lost after COMMIT was sent)
 *   BEGIN    -> RUN       [td_pg_group_run]
 *   RUN      -> COMMIT    [td_pg_group_run]
 *   RUN      -> ABORTED   [td_pg_group_run]      (connection lost; nothing committed)
 *   COMMIT   -> DONE      [td_pg_group_commit]
 *   COMMIT   -> RESOLVE   [td_pg_group_commit]   (reply lost)
 *   RESOLVE  -> DONE      [td_pg_resolve]
 */
#define TD_LOG_COMPONENT "store.pg"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "store/postgres/pg_int.h"

#define TD_PG_MAX_GROUP       256
#define TD_PG_DEFAULT_READERS 2
#define TD_PG_SCHEMA_LOCK     7242017 /* advisory lock key held while migrating */

/* Type OIDs (pg_type.h) of the parameters we send. */
enum {
    TD_PG_OID_BYTEA = 17,
    TD_PG_OID_INT8 = 20,
    TD_PG_OID_INT4 = 23,
    TD_PG_OID_TEXT = 25,
    TD_PG_OID_FLOAT8 = 701,
};

struct td_store_backend_s {
    td_store_t *store;
    char **kw; /* connection keywords/values, NULL-terminated */
    char **val;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    td_store_req_t *wq_head, *wq_tail; /* writes */
    td_store_req_t *rq_head, *rq_tail; /* reads */
    int closing;
    td_pg_conn_t writer;
    pthread_t writer_thread;
    int n_readers;
    td_pg_conn_t *readers;
    pthread_t *reader_threads;
    uint64_t marker_next; /* the next commit marker id */
    long groups;          /* group transactions started */
    int64_t last_marker;  /* the marker of the last group known committed (0: none); the
                             next group deletes it, so the table holds only unresolved ones */
};

/* ---- fault injection ---- */

static pthread_mutex_t td_pg_fault_mu = PTHREAD_MUTEX_INITIALIZER;
static long td_pg_fault_stmt_after, td_pg_fault_commit_after;
static long td_pg_faults, td_pg_resolved_yes, td_pg_resolved_no;

void td_store_postgres_fault(const char *point, long after)
{
    pthread_mutex_lock(&td_pg_fault_mu);
    if (point != NULL && strcmp(point, "stmt") == 0) {
        td_pg_fault_stmt_after = after > 0 ? after : 0;
    } else if (point != NULL && strcmp(point, "commit") == 0) {
        td_pg_fault_commit_after = after > 0 ? after : 0;
    } else {
        td_pg_fault_stmt_after = td_pg_fault_commit_after = 0;
    }
    pthread_mutex_unlock(&td_pg_fault_mu);
}

long td_store_postgres_faults_injected(void)
{
    long n;
    pthread_mutex_lock(&td_pg_fault_mu);
    n = td_pg_faults;
    pthread_mutex_unlock(&td_pg_fault_mu);
    return n;
}

void td_store_postgres_resolved(long *committed, long *not_committed)
{
    pthread_mutex_lock(&td_pg_fault_mu);
    *committed = td_pg_resolved_yes;
    *not_committed = td_pg_resolved_no;
    pthread_mutex_unlock(&td_pg_fault_mu);
}

/* Counts down a fault point; returns 1 when it fires now. */
static int td_pg_fault_due(long *after)
{
    int due = 0;
    pthread_mutex_lock(&td_pg_fault_mu);
    if (*after > 0 && --*after == 0) {
        due = 1;
        td_pg_faults++;
    }
    pthread_mutex_unlock(&td_pg_fault_mu);
    return due;
}

/* Breaks a connection the way a network failure would: the socket is shut down, so the next
 * exchange fails and libpq reports the connection bad. */
static void td_pg_break(td_pg_conn_t *c)
{
    if (c->conn != NULL && PQsocket(c->conn) >= 0) {
        shutdown(PQsocket(c->conn), SHUT_RDWR);
    }
}

int td_pg__fault_stmt(td_pg_conn_t *c)
{
    if (c->writer && td_pg_fault_due(&td_pg_fault_stmt_after)) {
        td_pg_break(c);
        return 1;
    }
    return 0;
}

static void td_pg_fault_from_env(void)
{
    const char *e = getenv("TD_STORE_PG_FAULT");
    char point[16];
    long after = 0;

    if (e != NULL && sscanf(e, "%15[a-z]:%ld", point, &after) == 2) {
        td_store_postgres_fault(point, after);
    }
}

/* ---- parameters ---- */

void td_pg__params_init(td_pg_params_t *p, td_store_req_t *req)
{
    memset(p, 0, sizeof(*p));
    p->req = req;
}

static void td_pg_p_add(td_pg_params_t *p, unsigned int type, const char *val, int len)
{
    if (p->n == p->cap) {
        int cap = p->cap > 0 ? p->cap * 2 : 16;
        td_arena_t *a = &p->req->arena;
        unsigned int *types = td_arena_alloc(a, sizeof(*types) * (size_t)cap);
        const char **vals = td_arena_alloc(a, sizeof(*vals) * (size_t)cap);
        int *lens = td_arena_alloc(a, sizeof(*lens) * (size_t)cap);
        int *fmts = td_arena_alloc(a, sizeof(*fmts) * (size_t)cap);
        if (p->n > 0) {
            memcpy(types, p->types, sizeof(*types) * (size_t)p->n);
            memcpy(vals, p->vals, sizeof(*vals) * (size_t)p->n);
            memcpy(lens, p->lens, sizeof(*lens) * (size_t)p->n);
            memcpy(fmts, p->fmts, sizeof(*fmts) * (size_t)p->n);
        }
        p->types = types;
        p->vals = vals;
        p->lens = lens;
        p->fmts = fmts;
        p->cap = cap;
    }
    p->types[p->n] = type;
    p->vals[p->n] = val;
    p->lens[p->n] = len;
    p->fmts[p->n] = 1;
    p->n++;
}

static void td_pg_put_be(uint8_t *b, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        b[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

void td_pg__p_i64(td_pg_params_t *p, int64_t v)
{
    uint8_t *b = td_arena_alloc(&p->req->arena, 8);
    td_pg_put_be(b, (uint64_t)v, 8);
    td_pg_p_add(p, TD_PG_OID_INT8, (const char *)b, 8);
}

void td_pg__p_i32(td_pg_params_t *p, int32_t v)
{
    uint8_t *b = td_arena_alloc(&p->req->arena, 4);
    td_pg_put_be(b, (uint32_t)v, 4);
    td_pg_p_add(p, TD_PG_OID_INT4, (const char *)b, 4);
}

void td_pg__p_f64(td_pg_params_t *p, double v)
{
    uint8_t *b = td_arena_alloc(&p->req->arena, 8);
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    td_pg_put_be(b, u, 8);
    td_pg_p_add(p, TD_PG_OID_FLOAT8, (const char *)b, 8);
}

void td_pg__p_text(td_pg_params_t *p, const char *s)
{
    td_pg_p_add(p, TD_PG_OID_TEXT, s, s != NULL ? (int)strlen(s) : 0);
}

void td_pg__p_bytes(td_pg_params_t *p, const void *data, size_t len)
{
    td_pg_p_add(p, TD_PG_OID_BYTEA, len > 0 && data != NULL ? (const char *)data : "",
                data != NULL ? (int)len : 0);
}

void td_pg__p_null_i64(td_pg_params_t *p)
{
    td_pg_p_add(p, TD_PG_OID_INT8, NULL, 0);
}

void td_pg__p_null_f64(td_pg_params_t *p)
{
    td_pg_p_add(p, TD_PG_OID_FLOAT8, NULL, 0);
}

/* ---- results ---- */

static uint64_t td_pg_get_be(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = (v << 8) | b[i];
    }
    return v;
}

int64_t td_pg__i64(const PGresult *r, int row, int col)
{
    const uint8_t *b = (const uint8_t *)PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col);

    if (PQgetisnull(r, row, col)) {
        return 0;
    }
    switch (len) {
    case 8:
        return (int64_t)td_pg_get_be(b, 8);
    case 4:
        return (int32_t)(uint32_t)td_pg_get_be(b, 4);
    case 2:
        return (int16_t)(uint16_t)td_pg_get_be(b, 2);
    case 1:
        return b[0]; /* bool */
    default:
        return 0;
    }
}

const char *td_pg__str(td_store_req_t *req, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) {
        return NULL;
    }
    return td_arena_strndup(&req->arena, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

td_store_blob_t td_pg__blob(td_store_req_t *req, const PGresult *r, int row, int col, int enc_col)
{
    td_store_blob_t b = { "", 0, 0 };
    int len = PQgetlength(r, row, col);

    if (!PQgetisnull(r, row, col) && len > 0) {
        b.data = td_arena_memdup(&req->arena, PQgetvalue(r, row, col), (size_t)len);
        b.len = (size_t)len;
    }
    b.encoding = (int)td_pg__i64(r, row, enc_col);
    return b;
}

/* ---- errors ---- */

/* Copies libpq's message onto one line (no trailing newline). */
static void td_pg_oneline(char *dst, size_t dstlen, const char *msg)
{
    size_t n = 0;

    for (const char *s = msg != NULL ? msg : ""; *s != '\0' && n + 1 < dstlen; s++) {
        char ch = (*s == '\n' || *s == '\r' || *s == '\t') ? ' ' : *s;
        if (ch == ' ' && (n == 0 || dst[n - 1] == ' ')) {
            continue;
        }
        dst[n++] = ch;
    }
    while (n > 0 && dst[n - 1] == ' ') {
        n--;
    }
    dst[n] = '\0';
}

/* Whether a SQLSTATE says the session is gone (connection failure, admin shutdown). */
static int td_pg_state_lost(const char *st)
{
    return st != NULL && (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
                          strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0);
}

static int td_pg_map_state(const char *st)
{
    if (st == NULL) {
        return TD_EUNAVAIL;
    }
    if (strcmp(st, "23505") == 0 || strcmp(st, "23P01") == 0) {
        return TD_ECONDITION; /* as SQLite's SQLITE_CONSTRAINT */
    }
    if (strcmp(st, "23502") == 0 || strncmp(st, "22", 2) == 0) {
        return TD_EINVAL;
    }
    if (strncmp(st, "23", 2) == 0) {
        return TD_ECONDITION;
    }
    if (strcmp(st, "53100") == 0) {
        return TD_EFULL;
    }
    if (strncmp(st, "53", 2) == 0 || strncmp(st, "57", 2) == 0 || strncmp(st, "08", 2) == 0) {
        return TD_EUNAVAIL;
    }
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0) {
        return TD_EBUSY;
    }
    if (strncmp(st, "42", 2) == 0) {
        return TD_EINTERNAL;
    }
    return TD_EIO;
}

int td_pg__fail(td_store_req_t *req, td_pg_conn_t *c, const PGresult *res, const char *what)
{
    const char *st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorMessage(res) : NULL;
    char line[400];
    int rc;

    if (msg == NULL || msg[0] == '\0') {
        msg = c->conn != NULL ? PQerrorMessage(c->conn) : "no connection";
    }
    td_pg_oneline(line, sizeof(line), msg);
    if (c->conn == NULL || PQstatus(c->conn) == CONNECTION_BAD || td_pg_state_lost(st) ||
        res == NULL) {
        c->lost = 1;
        rc = TD_EUNAVAIL;
    } else {
        rc = td_pg_map_state(st);
    }
    return td_store__fail(req, rc, "%s: postgres: %s%s%s", what, line,
                          st != NULL ? " SQLSTATE " : "", st != NULL ? st : "");
}

/* ---- statements ---- */

static PGresult *td_pg_check(td_pg_conn_t *c, td_store_req_t *req, PGresult *r, const char *what)
{
    ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        return r;
    }
    td_pg__fail(req, c, r, what);
    PQclear(r);
    return NULL;
}

PGresult *td_pg__exec(td_pg_conn_t *c, td_store_req_t *req, int id, td_pg_params_t *p)
{
    char name[16];
    PGresult *r;

    if (c->conn == NULL || c->lost) {
        td_store__fail(req, TD_EUNAVAIL, "postgres: connection lost");
        return NULL;
    }
    td_pg__fault_stmt(c);
    snprintf(name, sizeof(name), "td%d", id);
    if ((c->prepared[id / 64] & (1ULL << (id % 64))) == 0) {
        r = PQprepare(c->conn, name, td_pg__sql(id), p->n, (const Oid *)p->types);
        if (td_pg_check(c, req, r, "prepare") == NULL) {
            return NULL;
        }
        PQclear(r);
        c->prepared[id / 64] |= 1ULL << (id % 64);
    }
    r = PQexecPrepared(c->conn, name, p->n, p->vals, p->lens, p->fmts, 1);
    return td_pg_check(c, req, r, td_store_op_name(req->op));
}

PGresult *td_pg__exec_sql(td_pg_conn_t *c, td_store_req_t *req, const char *sql, td_pg_params_t *p)
{
    PGresult *r;

    if (c->conn == NULL || c->lost) {
        td_store__fail(req, TD_EUNAVAIL, "postgres: connection lost");
        return NULL;
    }
    td_pg__fault_stmt(c);
    r = PQexecParams(c->conn, sql, p->n, (const Oid *)p->types, p->vals, p->lens, p->fmts, 1);
    return td_pg_check(c, req, r, td_store_op_name(req->op));
}

int td_pg__send(td_pg_conn_t *c, td_store_req_t *req, int id, td_pg_params_t *p)
{
    char name[16];
    int n = 0;

    if (c->conn == NULL || c->lost) {
        return -1;
    }
    td_pg__fault_stmt(c);
    snprintf(name, sizeof(name), "td%d", id);
    if ((c->prepared[id / 64] & (1ULL << (id % 64))) == 0) {
        if (!PQsendPrepare(c->conn, name, td_pg__sql(id), p->n, (const Oid *)p->types)) {
            return -1;
        }
        c->prepared[id / 64] |= 1ULL << (id % 64);
        c->pipeline_prepared = 1;
        n++;
    }
    if (!PQsendQueryPrepared(c->conn, name, p->n, p->vals, p->lens, p->fmts, 1)) {
        return -1;
    }
    (void)req;
    return n + 1;
}

/* A parameterless statement (BEGIN, SAVEPOINT, ...) through the simple protocol. */
static int td_pg_simple(td_pg_conn_t *c, td_store_req_t *req, const char *sql)
{
    PGresult *r;

    if (c->conn == NULL || c->lost) {
        return td_store__fail(req, TD_EUNAVAIL, "postgres: connection lost");
    }
    td_pg__fault_stmt(c);
    r = td_pg_check(c, req, PQexec(c->conn, sql), sql);
    if (r == NULL) {
        return req->rc;
    }
    PQclear(r);
    return TD_OK;
}

/* ---- connections ---- */

static int td_pg_hex(int ch)
{
    return isdigit(ch) ? ch - '0' : tolower(ch) - 'a' + 10;
}

/* Percent-decodes s (NULL stays NULL). */
static char *td_pg_unescape(const char *s, size_t n)
{
    char *out = td_malloc(n + 1);
    size_t j = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            out[j++] = (char)(td_pg_hex((unsigned char)s[i + 1]) * 16 +
                              td_pg_hex((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

static void td_pg_kw_free(char **kw, char **val)
{
    for (int i = 0; kw != NULL && kw[i] != NULL; i++) {
        td_free(kw[i]);
        td_free(val[i]);
    }
    td_free(kw);
    td_free(val);
}

static int td_pg_kw_has(char **kw, int n, const char *k)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(kw[i], k) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Builds libpq keyword/value arrays from the URL: host, port, user, password, dbname, then
 * every key=value of the query (sslmode, sslrootcert, sslcert, sslkey, connect_timeout,
 * application_name, options, ... : any libpq connection keyword), then our defaults for
 * what the query left out. TD_EINVAL on an unknown keyword. */
static int td_pg_conninfo(const td_store_url_t *u, char ***kw_out, char ***val_out, char *err,
                          size_t errlen)
{
    int cap = 16, n = 0;
    char **kw = td_calloc((size_t)cap + 1, sizeof(*kw));
    char **val = td_calloc((size_t)cap + 1, sizeof(*val));
    PQconninfoOption *defs = PQconndefaults();
    char port[16];
    int rc = TD_OK;

#define TD_PG_KW(k, v)                                               \
    do {                                                             \
        if (n == cap) {                                              \
            cap *= 2;                                                \
            kw = td_realloc(kw, sizeof(*kw) * ((size_t)cap + 1));    \
            val = td_realloc(val, sizeof(*val) * ((size_t)cap + 1)); \
        }                                                            \
        kw[n] = (k);                                                 \
        val[n] = (v);                                                \
        n++;                                                         \
        kw[n] = NULL;                                                \
        val[n] = NULL;                                               \
    } while (0)

    if (u->host != NULL && u->host[0] != '\0') {
        TD_PG_KW(td_strdup("host"), td_pg_unescape(u->host, strlen(u->host)));
    }
    if (u->port > 0) {
        snprintf(port, sizeof(port), "%d", u->port);
        TD_PG_KW(td_strdup("port"), td_strdup(port));
    }
    if (u->user != NULL && u->user[0] != '\0') {
        TD_PG_KW(td_strdup("user"), td_pg_unescape(u->user, strlen(u->user)));
    }
    if (u->password != NULL) {
        TD_PG_KW(td_strdup("password"), td_pg_unescape(u->password, strlen(u->password)));
    }
    TD_PG_KW(td_strdup("dbname"), td_pg_unescape(u->dbname, strlen(u->dbname)));
    for (const char *q = u->query; q != NULL && *q != '\0';) {
        const char *amp = strchr(q, '&');
        size_t len = amp != NULL ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        char *k;
        int known = 0;

        if (len == 0) {
            q = amp != NULL ? amp + 1 : q + len;
            continue;
        }
        if (eq == NULL) {
            snprintf(err, errlen, "db url: query item '%.*s' is not key=value", (int)len, q);
            rc = TD_EINVAL;
            goto out;
        }
        k = td_pg_unescape(q, (size_t)(eq - q));
        for (PQconninfoOption *d = defs; d != NULL && d->keyword != NULL; d++) {
            if (strcmp(d->keyword, k) == 0 && strcmp(k, "dbname") != 0) {
                known = 1;
            }
        }
        if (!known) {
            snprintf(err, errlen,
                     "db url: unknown PostgreSQL connection option '%s' (expected libpq "
                     "keywords such as sslmode, sslrootcert, sslcert, sslkey, connect_timeout)",
                     k);
            td_free(k);
            rc = TD_EINVAL;
            goto out;
        }
        TD_PG_KW(k, td_pg_unescape(eq + 1, len - (size_t)(eq - q) - 1));
        q = amp != NULL ? amp + 1 : q + len;
    }
    if (!td_pg_kw_has(kw, n, "connect_timeout")) {
        TD_PG_KW(td_strdup("connect_timeout"), td_strdup("10"));
    }
    if (!td_pg_kw_has(kw, n, "application_name")) {
        TD_PG_KW(td_strdup("application_name"), td_strdup("temporald"));
    }
    if (!td_pg_kw_has(kw, n, "keepalives_idle")) {
        TD_PG_KW(td_strdup("keepalives_idle"), td_strdup("30"));
    }
#undef TD_PG_KW
out:
    PQconninfoFree(defs);
    if (rc != TD_OK) {
        td_pg_kw_free(kw, val);
        kw = val = NULL;
    }
    *kw_out = kw;
    *val_out = val;
    return rc;
}

/* libpq's notices (NOTICE lines, FATAL on a terminated session) go to our log, not stderr. */
static void td_pg_notice(void *arg, const char *msg)
{
    char line[400];
    (void)arg;
    td_pg_oneline(line, sizeof(line), msg);
    td_log_debug("postgres: %s", line);
}

/* Opens c (closing a broken one first). TD_EUNAVAIL with libpq's one-line reason. */
static int td_pg_connect(char **kw, char **val, td_pg_conn_t *c, char *err, size_t errlen)
{
    PGresult *r = NULL;
    char line[400];
    int rc = TD_OK;

    if (c->conn != NULL) {
        PQfinish(c->conn);
    }
    memset(c->prepared, 0, sizeof(c->prepared));
    c->lost = 0;
    c->conn = PQconnectdbParams((const char *const *)kw, (const char *const *)val, 0);
    if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK) {
        td_pg_oneline(line, sizeof(line),
                      c->conn != NULL ? PQerrorMessage(c->conn) : "out of memory");
        snprintf(err, errlen, "postgres: cannot connect: %s", line);
        rc = TD_EUNAVAIL;
        goto out;
    }
    PQsetNoticeProcessor(c->conn, td_pg_notice, NULL);
    /* a session of ours left idle inside a transaction (its client gone without the server
     * noticing) is ended by the server after a minute, so it cannot hold a commit marker's
     * lock (and the resolution waiting on it) for long */
    r = PQexec(c->conn, "SET TIME ZONE 'UTC'; SET idle_in_transaction_session_timeout = 60000");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        td_pg_oneline(line, sizeof(line), PQerrorMessage(c->conn));
        snprintf(err, errlen, "postgres: session setup: %s", line);
        rc = TD_EUNAVAIL;
    }
out:
    PQclear(r);
    if (rc != TD_OK && c->conn != NULL) {
        PQfinish(c->conn);
        c->conn = NULL;
    }
    return rc;
}

/* Makes sure c is usable, reconnecting a lost one. Sets req's error on failure. */
static int td_pg_ensure(td_store_backend_t *b, td_pg_conn_t *c, td_store_req_t *req)
{
    char err[512];
    int rc = TD_OK;

    /* an idle connection may have been closed by the server (restart, terminate): reading
     * what is pending finds out now, before a transaction is started on it */
    if (c->conn != NULL && !c->lost && PQstatus(c->conn) == CONNECTION_OK &&
        PQconsumeInput(c->conn) && PQstatus(c->conn) == CONNECTION_OK) {
        goto out;
    }
    rc = td_pg_connect(b->kw, b->val, c, err, sizeof(err));
    if (rc != TD_OK) {
        if (req != NULL) {
            td_store__fail(req, rc, "%s", err);
        }
    } else {
        td_log_info("reconnected to postgres");
    }
out:
    return rc;
}

/* ---- schema ---- */

static int td_pg_schema_version(PGconn *conn, int *version, int *has_tables, char *err,
                                size_t errlen)
{
    PGresult *r = NULL;
    char line[400];
    int rc = TD_OK;

    *version = 0;
    *has_tables = 0;
    r = PQexec(conn, "SELECT count(*), count(*) FILTER (WHERE tablename = 'schema_version') "
                     "FROM pg_tables WHERE schemaname = current_schema()");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        goto fail;
    }
    *has_tables = atoi(PQgetvalue(r, 0, 0)) > 0;
    if (atoi(PQgetvalue(r, 0, 1)) > 0) {
        PQclear(r);
        r = PQexec(conn, "SELECT version FROM schema_version WHERE id = 1");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            goto fail;
        }
        *version = PQntuples(r) > 0 ? atoi(PQgetvalue(r, 0, 0)) : 0;
    }
    goto out;
fail:
    td_pg_oneline(line, sizeof(line), PQerrorMessage(conn));
    snprintf(err, errlen, "postgres: read schema version: %s", line);
    rc = PQstatus(conn) == CONNECTION_BAD ? TD_EUNAVAIL : TD_EIO;
out:
    PQclear(r);
    return rc;
}

/* Applies the postgresql migrations above the current version, each in its own transaction
 * under an advisory lock, so concurrent `schema update`s and AUTO opens serialise. */
static int td_pg_schema_migrate(PGconn *conn, char *err, size_t errlen)
{
    char sql[512];
    char line[400];
    int rc = TD_OK;

    for (int i = 0; i < td_store_migrations_count && rc == TD_OK; i++) {
        const td_store_migration_t *m = &td_store_migrations[i];
        const char *steps[5];
        int cur = 0, has = 0;

        if (m->backend == NULL || strcmp(m->backend, "postgresql") != 0) {
            continue;
        }
        snprintf(sql, sizeof(sql),
                 "INSERT INTO schema_version (id, version, updated_ns) VALUES (1, %d, %lld) "
                 "ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, "
                 "updated_ns = EXCLUDED.updated_ns; INSERT INTO schema_migrations VALUES "
                 "(%d, '%s', %lld) ON CONFLICT DO NOTHING",
                 m->version, (long long)td_now_wall_ns(), m->version, m->name,
                 (long long)td_now_wall_ns());
        steps[0] = "BEGIN";
        steps[1] = "SELECT pg_advisory_xact_lock(7242017)";
        steps[2] = "CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY CHECK "
                   "(id = 1), version INTEGER NOT NULL, updated_ns BIGINT NOT NULL); "
                   "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                   "name TEXT NOT NULL, applied_ns BIGINT NOT NULL)";
        for (int s = 0; s < 3 && rc == TD_OK; s++) {
            PGresult *r = PQexec(conn, steps[s]);
            if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
                rc = TD_ESCHEMA;
            }
            PQclear(r);
        }
        /* under the lock: another process may have applied it meanwhile */
        if (rc == TD_OK) {
            rc = td_pg_schema_version(conn, &cur, &has, err, errlen);
        }
        if (rc == TD_OK && cur >= m->version) {
            PGresult *r = PQexec(conn, "COMMIT");
            PQclear(r);
            continue;
        }
        steps[0] = m->sql;
        steps[1] = sql;
        steps[2] = "COMMIT";
        for (int s = 0; s < 3 && rc == TD_OK; s++) {
            PGresult *r = PQexec(conn, steps[s]);
            if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
                rc = TD_ESCHEMA;
            }
            PQclear(r);
        }
        if (rc != TD_OK) {
            td_pg_oneline(line, sizeof(line), PQerrorMessage(conn));
            snprintf(err, errlen, "migration %s: postgres: %s", m->name, line);
            if (PQstatus(conn) == CONNECTION_BAD) {
                rc = TD_EUNAVAIL;
            } else {
                PGresult *r = PQexec(conn, "ROLLBACK");
                PQclear(r);
            }
        } else {
            td_log_info("schema: applied postgresql/%s", m->name);
        }
    }
    return rc;
}

static int td_pg_schema_check(PGconn *conn, td_store_schema_mode_t mode, char *err, size_t errlen)
{
    int want = td_store__schema_latest("postgresql");
    int cur = 0, has_tables = 0;
    int rc = TD_OK;

    if (mode == TD_STORE_SCHEMA_IGNORE) {
        goto out;
    }
    rc = td_pg_schema_version(conn, &cur, &has_tables, err, errlen);
    if (rc != TD_OK) {
        goto out;
    }
    if (mode == TD_STORE_SCHEMA_AUTO && cur < want && (cur > 0 || !has_tables)) {
        rc = td_pg_schema_migrate(conn, err, errlen);
        goto out;
    }
    rc = td_store__schema_check(cur, want, err, errlen);
out:
    return rc;
}

static int td_pg_schema(const td_store_url_t *url, const td_store_options_t *opt, const char *op,
                        int *from, int *to, int *want, char *err, size_t errlen)
{
    td_pg_conn_t c;
    char **kw = NULL, **val = NULL;
    int has_tables = 0;
    int rc;

    memset(&c, 0, sizeof(c));
    *want = td_store__schema_latest("postgresql");
    if (strcmp(op, "setup") != 0 && strcmp(op, "update") != 0 && strcmp(op, "version") != 0) {
        snprintf(err, errlen, "schema: unknown operation '%s'", op);
        rc = TD_EINVAL;
        goto out;
    }
    rc = td_pg_conninfo(url, &kw, &val, err, errlen);
    if (rc == TD_OK) {
        rc = td_pg_connect(kw, val, &c, err, errlen);
    }
    if (rc == TD_OK) {
        rc = td_pg_schema_version(c.conn, from, &has_tables, err, errlen);
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
    rc = td_pg_schema_migrate(c.conn, err, errlen);
    if (rc == TD_OK) {
        rc = td_pg_schema_version(c.conn, to, &has_tables, err, errlen);
    }
out:
    if (c.conn != NULL) {
        PQfinish(c.conn);
    }
    td_pg_kw_free(kw, val);
    return rc;
}

/* ---- the writer: group commit ---- */

/* Sleeps up to ms, waking early when the store closes. Returns 1 when closing. */
static int td_pg_nap(td_store_backend_t *b, int ms)
{
    struct timespec ts;
    int closing;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&b->mu);
    if (!b->closing) {
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
    closing = b->closing;
    pthread_mutex_unlock(&b->mu);
    return closing;
}

/* Learns whether the group transaction that inserted marker committed: 1 yes, 0 no, -1 the
 * store closed before the database answered. Retries (reconnecting) until it knows. */
static int td_pg_resolve(td_store_backend_t *b, int64_t marker)
{
    td_store_req_t tmp;
    td_pg_conn_t *c = &b->writer;
    td_pg_params_t p;
    PGresult *r = NULL;
    int delay = 50;
    int answer = -1;

    td_store_req_init(&tmp, TD_STORE_OP_WRITE);
    for (;;) {
        td_store_req_reset(&tmp, TD_STORE_OP_WRITE);
        /* the insert waits for the old transaction while the server still runs it; wait in
         * slices, so a closing store is noticed */
        if (td_pg_ensure(b, c, &tmp) == TD_OK &&
            td_pg_simple(c, &tmp, "SET lock_timeout = 5000") == TD_OK) {
            td_pg__params_init(&p, &tmp);
            td_pg__p_i64(&p, marker);
            r = td_pg__exec(c, &tmp, TD_PQ_MARKER_INSERT, &p);
            if (r != NULL) {
                answer = 0; /* our insert won: the group never committed, and now cannot */
                break;
            }
            if (!c->lost && tmp.rc == TD_ECONDITION) {
                answer = 1; /* the marker is there: the group committed */
                break;
            }
        }
        td_log_warn("commit outcome of group %lld unknown: %s; retrying", (long long)marker,
                    tmp.err);
        if (td_pg_nap(b, delay)) {
            break;
        }
        delay = delay < 2000 ? delay * 2 : 2000;
    }
    PQclear(r);
    if (answer >= 0) {
        td_store_req_reset(&tmp, TD_STORE_OP_WRITE);
        td_pg_simple(c, &tmp, "RESET lock_timeout");
    }
    td_store_req_destroy(&tmp);
    pthread_mutex_lock(&td_pg_fault_mu);
    if (answer == 1) {
        td_pg_resolved_yes++;
    } else if (answer == 0) {
        td_pg_resolved_no++;
    }
    pthread_mutex_unlock(&td_pg_fault_mu);
    return answer;
}

/* Fails the requests of a group that did not commit: all of them (all = 1: the group broke
 * before its requests' own results were final), or only those that had succeeded (all = 0:
 * a request that failed on its own keeps its own error, which stays true). */
static void td_pg_group_fail(td_store_req_t **reqs, int n, int rc, const char *why, int all)
{
    char buf[600];

    snprintf(buf, sizeof(buf), "%s", why != NULL ? why : "postgres: failed");
    for (int i = 0; i < n; i++) {
        if (all || reqs[i]->rc == TD_OK) {
            td_store__fail(reqs[i], rc, "%s", buf);
        }
    }
}

/* Sends COMMIT and reads its reply; when the reply is lost, resolves the outcome. Returns 1
 * when the group committed. */
static int td_pg_group_commit(td_store_backend_t *b, td_store_req_t **reqs, int n, int64_t marker)
{
    td_pg_conn_t *c = &b->writer;
    PGresult *r = NULL;
    char line[400];
    int lost = 0;
    int answer = 1;

    if (td_pg__fault_stmt(c) || !PQsendQuery(c->conn, "COMMIT")) {
        lost = 1;
    } else {
        if (td_pg_fault_due(&td_pg_fault_commit_after)) {
            PQflush(c->conn);
            td_pg_break(c);
        }
        r = PQgetResult(c->conn);
        if (r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK) {
            PGresult *rest;
            while ((rest = PQgetResult(c->conn)) != NULL) {
                PQclear(rest);
            }
            goto out; /* committed */
        }
        lost = PQstatus(c->conn) == CONNECTION_BAD || r == NULL ||
               td_pg_state_lost(PQresultErrorField(r, PG_DIAG_SQLSTATE));
        if (!lost) {
            /* the server refused the commit: the transaction rolled back */
            td_pg_oneline(line, sizeof(line), PQresultErrorMessage(r));
            td_pg_group_fail(reqs, n, TD_EIO, "postgres: commit failed, nothing committed", 0);
            td_log_warn("group commit refused: %s", line);
            answer = 0;
            PGresult *rest;
            while ((rest = PQgetResult(c->conn)) != NULL) {
                PQclear(rest);
            }
            goto out;
        }
    }
    c->lost = 1;
    answer = td_pg_resolve(b, marker);
    if (answer == 0) {
        td_pg_group_fail(reqs, n, TD_EUNAVAIL,
                         "postgres: connection lost at commit; the transaction did not commit", 0);
    } else if (answer < 0) {
        td_pg_group_fail(reqs, n, TD_EUNAVAIL,
                         "postgres: connection lost at commit and the store closed before the "
                         "outcome was known: the write may or may not have committed",
                         0);
    }
out:
    PQclear(r);
    return answer == 1;
}

/* The pipelined path for a group of simple WRITEs: BEGIN, the marker, every request's
 * statements and COMMIT go out in one pipeline (one round trip). Returns 1 when the group's
 * fate is decided (each request's rc set), 0 when a condition failed somewhere: the
 * transaction was rolled back and the caller reruns the group the ordinary way, which
 * reports each request's own outcome. */
static int td_pg_group_fast(td_store_backend_t *b, td_store_req_t **reqs, int n)
{
    td_pg_conn_t *c = &b->writer;
    td_store_req_t *head = reqs[0];
    int64_t marker = (int64_t)(b->marker_next++ & 0x7fffffffffffffffULL);
    td_pg_params_t p;
    char why[400] = "";
    int expected = 0, nulls = 0, failed = 0, lost = 0;
    int idx = 0, first_err = -1; /* result index of the first error */
    int decided = 1;
    int k;

    if (td_pg_ensure(b, c, head) != TD_OK) {
        td_pg_group_fail(reqs, n, head->rc, head->err, 1);
        goto out;
    }
    if (!PQenterPipelineMode(c->conn)) {
        decided = 0;
        goto out;
    }
    c->pipeline_prepared = 0;
    td_pg__fault_stmt(c);
    lost = !PQsendQueryParams(c->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 1);
    expected++;
    if (!lost) {
        td_pg__params_init(&p, head);
        td_pg__p_i64(&p, marker);
        k = td_pg__send(c, head, TD_PQ_MARKER_INSERT, &p);
        lost = k < 0;
        expected += k;
    }
    if (!lost && b->last_marker != 0) {
        td_pg__params_init(&p, head);
        td_pg__p_i64(&p, b->last_marker);
        k = td_pg__send(c, head, TD_PQ_MARKER_DELETE, &p);
        lost = k < 0;
        expected += k;
    }
    if (!lost && ++b->groups % 4096 == 0) {
        td_pg__params_init(&p, head);
        k = td_pg__send(c, head, TD_PQ_MARKER_PRUNE, &p);
        lost = k < 0;
        expected += k;
    }
    for (int i = 0; i < n && !lost; i++) {
        k = td_pg__write_send(c, reqs[i]);
        lost = k < 0;
        expected += k;
    }
    if (!lost) {
        td_pg__fault_stmt(c);
        lost = !PQsendQueryParams(c->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 1) ||
               !PQpipelineSync(c->conn);
        expected++;
    }
    if (!lost && td_pg_fault_due(&td_pg_fault_commit_after)) {
        td_pg_break(c); /* COMMIT is on its way; its reply will not arrive */
    }
    while (!lost) {
        PGresult *r = PQgetResult(c->conn);
        ExecStatusType st;
        if (r == NULL) {
            if (PQstatus(c->conn) == CONNECTION_BAD || ++nulls > expected + 2) {
                lost = 1;
            }
            continue;
        }
        st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR) {
            if (PQstatus(c->conn) == CONNECTION_BAD ||
                td_pg_state_lost(PQresultErrorField(r, PG_DIAG_SQLSTATE))) {
                lost = 1;
            }
            if (why[0] == '\0') {
                td_pg_oneline(why, sizeof(why), PQresultErrorMessage(r));
            }
            failed = 1;
            /* only the server's own errors say where it stopped; libpq's "connection
             * closed" results (no SQLSTATE) say nothing about the COMMIT */
            if (first_err < 0 && PQresultErrorField(r, PG_DIAG_SQLSTATE) != NULL) {
                first_err = idx;
            }
        } else if (st == PGRES_PIPELINE_ABORTED) {
            failed = 1; /* skipped after an earlier error, which set first_err if it could */
        }
        idx++;
        PQclear(r);
    }
    if (lost) {
        int answer;
        c->lost = 1;
        /* a statement before COMMIT failed: the transaction could not commit; otherwise the
         * COMMIT may have run, and the marker tells */
        answer = first_err >= 0 && first_err < expected - 1 ? 0 : td_pg_resolve(b, marker);
        if (answer == 1) {
            b->last_marker = marker;
        } else if (answer == 0) {
            char msg[600];
            snprintf(msg, sizeof(msg),
                     "postgres: connection lost (%s); the transaction did not "
                     "commit",
                     why[0] != '\0' ? why : "no reply");
            td_pg_group_fail(reqs, n, TD_EUNAVAIL, msg, 1);
        } else if (answer < 0) {
            td_pg_group_fail(reqs, n, TD_EUNAVAIL,
                             "postgres: connection lost at commit and the store closed before "
                             "the outcome was known: the write may or may not have committed",
                             1);
        }
        goto out;
    }
    PQexitPipelineMode(c->conn);
    if (failed) {
        /* a condition failed: undo, forget statements whose preparation was skipped, and let
         * the ordinary path find out which request it was */
        td_store_req_t tmp;
        td_store_req_init(&tmp, TD_STORE_OP_WRITE);
        if (td_pg_simple(c, &tmp, "ROLLBACK") != TD_OK) {
            c->lost = 1;
        } else if (c->pipeline_prepared) {
            if (td_pg_simple(c, &tmp, "DEALLOCATE ALL") == TD_OK) {
                memset(c->prepared, 0, sizeof(c->prepared));
            } else {
                c->lost = 1;
            }
        }
        td_store_req_destroy(&tmp);
        td_log_debug("pipelined group of %d fell back: %s", n, why);
        decided = 0;
    } else {
        b->last_marker = marker;
    }
out:
    return decided;
}

/* Runs one group of write requests in one transaction and completes them. */
static void td_pg_group_run(td_store_backend_t *b, td_store_req_t **reqs, int n)
{
    td_pg_conn_t *c = &b->writer;
    td_store_req_t *head = reqs[0];
    td_pg_params_t p;
    PGresult *r = NULL;
    int single = n == 1;
    int64_t marker = (int64_t)(b->marker_next++ & 0x7fffffffffffffffULL);
    int failed_alone = 0;
    int rc;

    int fast = 1;

    for (int i = 0; i < n; i++) {
        reqs[i]->rc = TD_OK;
        reqs[i]->err = NULL;
        memset(&reqs[i]->out, 0, sizeof(reqs[i]->out));
        fast = fast && td_pg__write_fast_ok(reqs[i]);
    }
    if (fast && td_pg_group_fast(b, reqs, n)) {
        goto out;
    }
    for (int i = 0; i < n; i++) {
        reqs[i]->rc = TD_OK;
        reqs[i]->err = NULL;
        memset(&reqs[i]->out, 0, sizeof(reqs[i]->out));
    }
    rc = td_pg_ensure(b, c, head);
    if (rc != TD_OK) {
        td_pg_group_fail(reqs, n, rc, head->err, 1);
        goto out;
    }
    rc = td_pg_simple(c, head, "BEGIN");
    if (rc == TD_OK) {
        td_pg__params_init(&p, head);
        td_pg__p_i64(&p, marker);
        r = td_pg__exec(c, head, TD_PQ_MARKER_INSERT, &p);
        rc = r != NULL ? TD_OK : head->rc;
        PQclear(r);
        r = NULL;
    }
    if (rc == TD_OK && b->last_marker != 0) {
        td_pg__params_init(&p, head);
        td_pg__p_i64(&p, b->last_marker);
        r = td_pg__exec(c, head, TD_PQ_MARKER_DELETE, &p);
        rc = r != NULL ? TD_OK : head->rc;
        PQclear(r);
        r = NULL;
    }
    if (rc == TD_OK && ++b->groups % 4096 == 0) {
        td_pg__params_init(&p, head);
        r = td_pg__exec(c, head, TD_PQ_MARKER_PRUNE, &p);
        rc = r != NULL ? TD_OK : head->rc;
        PQclear(r);
        r = NULL;
    }
    if (rc != TD_OK) {
        td_pg_group_fail(reqs, n, rc, head->err, 1);
        goto aborted;
    }
    for (int i = 0; i < n; i++) {
        td_store_req_t *req = reqs[i];
        if (!single && td_pg_simple(c, req, "SAVEPOINT td_req") != TD_OK) {
            td_pg_group_fail(reqs, n, req->rc, req->err, 1);
            goto aborted;
        }
        memset(&req->out, 0, sizeof(req->out));
        rc = td_pg__execute(c, req);
        req->rc = rc;
        if (c->lost) {
            char why[600];
            snprintf(why, sizeof(why), "%s; nothing of this group transaction committed", req->err);
            td_pg_group_fail(reqs, n, TD_EUNAVAIL, why, 1);
            goto aborted;
        }
        if (rc != TD_OK) {
            failed_alone++;
            if (!single && td_pg_simple(c, req, "ROLLBACK TO SAVEPOINT td_req") != TD_OK) {
                td_pg_group_fail(reqs, n, TD_EUNAVAIL,
                                 "postgres: lost the group transaction after a failed "
                                 "request; nothing committed",
                                 1);
                goto aborted;
            }
        }
        if (!single) {
            int keep = req->rc;
            const char *kerr = req->err;
            if (td_pg_simple(c, req, "RELEASE SAVEPOINT td_req") != TD_OK) {
                char why[600];
                snprintf(why, sizeof(why), "%s; nothing of this group transaction committed",
                         req->err);
                td_pg_group_fail(reqs, n, TD_EUNAVAIL, why, 1);
                goto aborted;
            }
            req->rc = keep;
            req->err = kerr;
        }
    }
    if (single && failed_alone) {
        /* the one request failed: nothing to keep */
        td_store_req_t tmp;
        td_store_req_init(&tmp, TD_STORE_OP_WRITE);
        if (td_pg_simple(c, &tmp, "ROLLBACK") != TD_OK) {
            c->lost = 1;
        }
        td_store_req_destroy(&tmp);
        goto out;
    }
    if (td_pg_group_commit(b, reqs, n, marker)) {
        b->last_marker = marker;
    }
    goto out;
aborted:
    if (c->conn != NULL && !c->lost) {
        td_store_req_t tmp;
        td_store_req_init(&tmp, TD_STORE_OP_WRITE);
        if (td_pg_simple(&b->writer, &tmp, "ROLLBACK") != TD_OK) {
            c->lost = 1;
        }
        td_store_req_destroy(&tmp);
    }
out:
    td_store__complete_list(reqs, n);
}

static void *td_pg_writer_main(void *arg)
{
    td_store_backend_t *b = arg;
    td_store_req_t *group[TD_PG_MAX_GROUP];

    for (;;) {
        int n = 0;
        pthread_mutex_lock(&b->mu);
        while (b->wq_head == NULL && !b->closing) {
            pthread_cond_wait(&b->cv, &b->mu);
        }
        if (b->closing) {
            pthread_mutex_unlock(&b->mu);
            break;
        }
        while (b->wq_head != NULL && n < TD_PG_MAX_GROUP) {
            group[n++] = b->wq_head;
            b->wq_head = b->wq_head->next_;
        }
        if (b->wq_head == NULL) {
            b->wq_tail = NULL;
        }
        pthread_mutex_unlock(&b->mu);
        td_pg_group_run(b, group, n);
    }
    if (b->last_marker != 0 && b->writer.conn != NULL && !b->writer.lost) {
        /* the last committed group's marker is no longer needed */
        td_store_req_t tmp;
        td_pg_params_t p;
        td_store_req_init(&tmp, TD_STORE_OP_WRITE);
        td_pg__params_init(&p, &tmp);
        td_pg__p_i64(&p, b->last_marker);
        PQclear(td_pg__exec(&b->writer, &tmp, TD_PQ_MARKER_DELETE, &p));
        td_store_req_destroy(&tmp);
    }
    return NULL;
}

/* ---- readers ---- */

typedef struct {
    td_store_backend_t *b;
    int idx;
} td_pg_reader_arg_t;

static void *td_pg_reader_run(void *arg)
{
    td_pg_reader_arg_t *ra = arg;
    td_store_backend_t *b = ra->b;
    td_pg_conn_t *c = &b->readers[ra->idx];

    td_free(ra);
    for (;;) {
        td_store_req_t *req;
        int rc;

        pthread_mutex_lock(&b->mu);
        while (b->rq_head == NULL && !b->closing) {
            pthread_cond_wait(&b->cv, &b->mu);
        }
        if (b->closing) {
            pthread_mutex_unlock(&b->mu);
            break;
        }
        req = b->rq_head;
        b->rq_head = req->next_;
        if (b->rq_head == NULL) {
            b->rq_tail = NULL;
        }
        pthread_mutex_unlock(&b->mu);

        /* a read is idempotent: after a lost connection, reconnect and try once more */
        for (int attempt = 0; attempt < 2; attempt++) {
            req->rc = TD_OK;
            req->err = NULL;
            memset(&req->out, 0, sizeof(req->out));
            rc = td_pg_ensure(b, c, req);
            if (rc == TD_OK) {
                rc = td_pg__execute(c, req);
                req->rc = rc;
            }
            if (rc == TD_OK || !c->lost) {
                break;
            }
        }
        td_store__complete(req);
    }
    return NULL;
}

/* ---- vtable ---- */

static void td_pg_free(td_store_backend_t *b)
{
    if (b == NULL) {
        return;
    }
    if (b->writer.conn != NULL) {
        PQfinish(b->writer.conn);
    }
    for (int i = 0; i < b->n_readers; i++) {
        if (b->readers[i].conn != NULL) {
            PQfinish(b->readers[i].conn);
        }
    }
    td_free(b->readers);
    td_free(b->reader_threads);
    td_pg_kw_free(b->kw, b->val);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    td_free(b);
}

static int td_pg_open(td_store_t *s, const td_store_url_t *url, const td_store_options_t *opt,
                      td_store_backend_t **out, char *err, size_t errlen)
{
    td_store_backend_t *b = td_calloc(1, sizeof(*b));
    uint64_t seed = 0;
    int started_writer = 0, started_readers = 0;
    int rc;

    *out = NULL;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->store = s;
    td_pg_fault_from_env();
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        seed = (uint64_t)td_now_wall_ns() ^ ((uint64_t)getpid() << 32);
    }
    b->marker_next = seed & 0x3fffffffffffffffULL;
    rc = td_pg_conninfo(url, &b->kw, &b->val, err, errlen);
    if (rc != TD_OK) {
        goto out;
    }
    b->writer.writer = 1;
    rc = td_pg_connect(b->kw, b->val, &b->writer, err, errlen);
    if (rc != TD_OK) {
        goto out;
    }
    rc = td_pg_schema_check(b->writer.conn, opt->schema, err, errlen);
    if (rc != TD_OK) {
        goto out;
    }
    b->n_readers = opt->max_conns > 0 ? opt->max_conns : TD_PG_DEFAULT_READERS;
    b->readers = td_calloc((size_t)b->n_readers, sizeof(*b->readers));
    b->reader_threads = td_calloc((size_t)b->n_readers, sizeof(*b->reader_threads));
    for (int i = 0; i < b->n_readers; i++) {
        rc = td_pg_connect(b->kw, b->val, &b->readers[i], err, errlen);
        if (rc != TD_OK) {
            goto out;
        }
    }
    if (pthread_create(&b->writer_thread, NULL, td_pg_writer_main, b) != 0) {
        snprintf(err, errlen, "postgres: cannot start the writer thread");
        rc = TD_EINTERNAL;
        goto out;
    }
    started_writer = 1;
    for (int i = 0; i < b->n_readers; i++) {
        td_pg_reader_arg_t *ra = td_malloc(sizeof(*ra));
        ra->b = b;
        ra->idx = i;
        if (pthread_create(&b->reader_threads[i], NULL, td_pg_reader_run, ra) != 0) {
            td_free(ra);
            snprintf(err, errlen, "postgres: cannot start a reader thread");
            rc = TD_EINTERNAL;
            goto out;
        }
        started_readers++;
    }
out:
    if (rc != TD_OK) {
        pthread_mutex_lock(&b->mu);
        b->closing = 1;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        if (started_writer) {
            pthread_join(b->writer_thread, NULL);
        }
        for (int i = 0; i < started_readers; i++) {
            pthread_join(b->reader_threads[i], NULL);
        }
        td_pg_free(b);
    } else {
        *out = b;
    }
    return rc;
}

static void td_pg_submit(td_store_backend_t *b, td_store_req_t *req)
{
    int read = td_store_op_is_read(req->op);
    int closed;

    pthread_mutex_lock(&b->mu);
    closed = b->closing;
    if (!closed) {
        req->next_ = NULL;
        if (read) {
            if (b->rq_tail != NULL) {
                b->rq_tail->next_ = req;
            } else {
                b->rq_head = req;
            }
            b->rq_tail = req;
        } else {
            if (b->wq_tail != NULL) {
                b->wq_tail->next_ = req;
            } else {
                b->wq_head = req;
            }
            b->wq_tail = req;
        }
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    if (closed) {
        td_store__fail(req, TD_ECLOSED, "store closed");
        td_store__complete(req);
    }
}

static void td_pg_close(td_store_backend_t *b)
{
    td_store_req_t *left;

    if (b == NULL) {
        return;
    }
    pthread_mutex_lock(&b->mu);
    b->closing = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->writer_thread, NULL);
    for (int i = 0; i < b->n_readers; i++) {
        pthread_join(b->reader_threads[i], NULL);
    }
    /* whatever is still queued never ran */
    for (int q = 0; q < 2; q++) {
        left = q == 0 ? b->wq_head : b->rq_head;
        while (left != NULL) {
            td_store_req_t *next = left->next_;
            td_store__fail(left, TD_ECLOSED, "store closed before the request ran");
            td_store__complete(left);
            left = next;
        }
    }
    b->wq_head = b->wq_tail = b->rq_head = b->rq_tail = NULL;
    td_pg_free(b);
}

const td_store_ops_t td_store_postgres_ops = {
    .scheme = "postgres",
    .open = td_pg_open,
    .submit = td_pg_submit,
    .close = td_pg_close,
    .schema = td_pg_schema,
};
