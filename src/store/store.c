/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store front: parses db_url, picks the backend from the static backend table, owns
 * request lifetimes and delivers completions (loop post, direct call, or wake-up of a blocking
 * td_store_call). It holds no data and runs no SQL; backends do (store_backend.h).
 *
 * Design notes -- the write pause on a full disk. A write that fails with TD_EFULL pauses
 * writes: until a backoff delay (backoff.h: 200 ms doubling to 5 s, jittered) has passed,
 * every write fails at once with TD_EFULL without reaching the backend; the first write after
 * the delay goes through as a probe. A write that succeeds ends the pause. Reads are never
 * paused. So however many retry loops spin above, a full disk sees one attempted transaction
 * per delay, and its log one rolled-back group.
 *
 *     OPEN --write fails TD_EFULL--> PAUSED (attempt 1, until = now + delay)
 *     PAUSED --write before until--> PAUSED (fails at once, no backend)
 *     PAUSED --write after until, fails TD_EFULL--> PAUSED (attempt + 1, new until)
 *     PAUSED --a write succeeds--> OPEN
 *
 *     FROM   -> TO      [function]
 *     OPEN   -> PAUSED  [td_store_note: write rc TD_EFULL]
 *     PAUSED -> OPEN    [td_store_note: write rc TD_OK]
 *     PAUSED -> PAUSED  [td_store_submit: write inside the pause]
 * The state is atomics: completions arrive on backend threads, submits on any thread.
 */
#define TD_LOG_COMPONENT "store"

#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "store/store_backend.h"

/* Every backend built into the binary, by URL scheme. A new backend adds one line. */
static const td_store_ops_t *const td_store_backends[] = {
    &td_store_sqlite_ops,
    &td_store_postgres_ops,
};

struct td_store_s {
    const td_store_ops_t *ops;
    td_store_backend_t *backend;
    td_loop_t *loop;
    td_store_url_t url;
    /* the write pause (design notes above) */
    atomic_llong full_until_ms; /* 0 = open */
    atomic_int full_attempt;
};

#define TD_STORE_FULL_MIN_MS 200
#define TD_STORE_FULL_MAX_MS 5000

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} td_store_sync_t;

static const char *const td_store_op_names[TD_STORE_OP__COUNT] = {
    [TD_STORE_OP_NONE] = "NONE",
    [TD_STORE_OP_CLUSTER_INIT] = "CLUSTER_INIT",
    [TD_STORE_OP_CLUSTER_GET] = "CLUSTER_GET",
    [TD_STORE_OP_MEMBERS_HEARTBEAT] = "MEMBERS_HEARTBEAT",
    [TD_STORE_OP_MEMBERS_LIST] = "MEMBERS_LIST",
    [TD_STORE_OP_NS_CREATE] = "NS_CREATE",
    [TD_STORE_OP_NS_GET] = "NS_GET",
    [TD_STORE_OP_NS_UPDATE] = "NS_UPDATE",
    [TD_STORE_OP_NS_LIST] = "NS_LIST",
    [TD_STORE_OP_NS_DELETE] = "NS_DELETE",
    [TD_STORE_OP_SHARD_GET_OR_CREATE] = "SHARD_GET_OR_CREATE",
    [TD_STORE_OP_SHARD_ACQUIRE] = "SHARD_ACQUIRE",
    [TD_STORE_OP_SHARD_UPDATE] = "SHARD_UPDATE",
    [TD_STORE_OP_WRITE] = "WRITE",
    [TD_STORE_OP_EXEC_GET] = "EXEC_GET",
    [TD_STORE_OP_EXEC_DELETE] = "EXEC_DELETE",
    [TD_STORE_OP_HISTORY_READ] = "HISTORY_READ",
    [TD_STORE_OP_HISTORY_DELETE] = "HISTORY_DELETE",
    [TD_STORE_OP_TASKS_READ] = "TASKS_READ",
    [TD_STORE_OP_TASKS_DELETE] = "TASKS_DELETE",
    [TD_STORE_OP_TQ_ACQUIRE] = "TQ_ACQUIRE",
    [TD_STORE_OP_TQ_GET] = "TQ_GET",
    [TD_STORE_OP_TQ_UPDATE] = "TQ_UPDATE",
    [TD_STORE_OP_TQ_DELETE] = "TQ_DELETE",
    [TD_STORE_OP_BACKLOG_INSERT] = "BACKLOG_INSERT",
    [TD_STORE_OP_BACKLOG_READ] = "BACKLOG_READ",
    [TD_STORE_OP_BACKLOG_DELETE] = "BACKLOG_DELETE",
    [TD_STORE_OP_VIS_UPSERT] = "VIS_UPSERT",
    [TD_STORE_OP_VIS_CLOSE] = "VIS_CLOSE",
    [TD_STORE_OP_VIS_DELETE] = "VIS_DELETE",
    [TD_STORE_OP_VIS_LIST] = "VIS_LIST",
    [TD_STORE_OP_VIS_COUNT] = "VIS_COUNT",
};

const char *td_store_op_name(int op)
{
    if (op < 0 || op >= TD_STORE_OP__COUNT || td_store_op_names[op] == NULL) {
        return "UNKNOWN";
    }
    return td_store_op_names[op];
}

int td_store_op_is_read(int op)
{
    switch (op) {
    case TD_STORE_OP_CLUSTER_GET:
    case TD_STORE_OP_MEMBERS_LIST:
    case TD_STORE_OP_NS_GET:
    case TD_STORE_OP_NS_LIST:
    case TD_STORE_OP_EXEC_GET:
    case TD_STORE_OP_HISTORY_READ:
    case TD_STORE_OP_TASKS_READ:
    case TD_STORE_OP_TQ_GET:
    case TD_STORE_OP_BACKLOG_READ:
    case TD_STORE_OP_VIS_LIST:
    case TD_STORE_OP_VIS_COUNT:
        return 1;
    default:
        return 0;
    }
}

/* ---- requests ---- */

void td_store_req_init(td_store_req_t *req, td_store_op_t op)
{
    memset(req, 0, sizeof(*req));
    req->op = op;
    req->err = "";
    td_arena_init(&req->arena, 1024);
}

void td_store_req_destroy(td_store_req_t *req)
{
    if (req != NULL) {
        td_arena_destroy(&req->arena);
    }
}

void td_store_req_reset(td_store_req_t *req, td_store_op_t op)
{
    td_arena_destroy(&req->arena);
    td_store_req_init(req, op);
}

td_store_req_t *td_store_req_new(td_store_op_t op)
{
    td_store_req_t *req = td_malloc(sizeof(*req));
    td_store_req_init(req, op);
    return req;
}

void td_store_req_free(td_store_req_t *req)
{
    if (req != NULL) {
        td_store_req_destroy(req);
        td_free(req);
    }
}

int td_store__fail(td_store_req_t *req, int rc, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    req->rc = rc;
    req->err = td_arena_strdup(&req->arena, buf);
    return rc;
}

/* ---- completion ---- */

static void td_store_run_cb(void *arg)
{
    td_store_req_t *req = arg;
    if (req->cb != NULL) {
        req->cb(req, req->arg);
    }
}

typedef struct {
    td_store_req_t **reqs;
    int n;
} td_store_group_t;

static void td_store_run_group(void *arg)
{
    td_store_group_t *g = arg;
    for (int i = 0; i < g->n; i++) {
        td_store_run_cb(g->reqs[i]);
    }
    td_free(g->reqs);
    td_free(g);
}

/* Wakes a blocked td_store_call(); returns 1 when req was a synchronous call. */
static int td_store_wake_sync(td_store_req_t *req)
{
    td_store_sync_t *sy = req->sync_;
    if (sy == NULL) {
        return 0;
    }
    pthread_mutex_lock(&sy->mu);
    sy->done = 1;
    pthread_cond_signal(&sy->cv);
    pthread_mutex_unlock(&sy->mu);
    return 1;
}

/* persistence_requests / _errors / _latency (metrics.h), on the completing thread. */
static void td_store_count(const td_store_req_t *req)
{
    td_metrics_persistence((int)req->op, td_store_op_name((int)req->op), req->rc,
                           td_metrics_now_ns() - req->submit_ns_);
}

/* Moves the write pause by the outcome of a write the backend ran. Any thread. */
static void td_store_note(td_store_req_t *req)
{
    td_store_t *s = req->store_;
    int attempt;

    if (s == NULL || td_store_op_is_read(req->op)) {
        return;
    }
    if (req->rc == TD_EFULL) {
        int64_t delay;
        attempt = atomic_fetch_add(&s->full_attempt, 1);
        delay = td_backoff_delay(TD_STORE_FULL_MIN_MS, TD_STORE_FULL_MAX_MS, attempt);
        atomic_store(&s->full_until_ms, td_now_mono_ms() + delay);
        if (attempt == 0) {
            td_log_warn("out of space: writes fail with UNAVAILABLE and are tried again with "
                        "backoff until one succeeds (%s)",
                        req->err ? req->err : "");
        }
    } else if (req->rc == TD_OK && atomic_load(&s->full_until_ms) != 0) {
        attempt = atomic_exchange(&s->full_attempt, 0);
        atomic_store(&s->full_until_ms, 0);
        if (attempt > 0) {
            td_log_warn("writes succeed again after %d failed attempt(s) for lack of space",
                        attempt);
        }
    }
}

static void td_store_deliver(td_store_req_t *req)
{
    td_store_t *s = req->store_;

    if (req->err == NULL) {
        req->err = "";
    }
    td_store_count(req);
    if (td_store_wake_sync(req)) {
        return;
    }
    if (s != NULL && s->loop != NULL) {
        td_loop_post(s->loop, td_store_run_cb, req);
    } else {
        td_store_run_cb(req);
    }
}

void td_store__complete(td_store_req_t *req)
{
    td_store_note(req);
    td_store_deliver(req);
}

void td_store__complete_list(td_store_req_t **reqs, int n)
{
    td_store_group_t *g = NULL;
    td_loop_t *loop = NULL;

    td_metrics_group_commit(n);
    for (int i = 0; i < n; i++) {
        td_store_req_t *req = reqs[i];
        if (req->err == NULL) {
            req->err = "";
        }
        td_store_count(req);
        td_store_note(req);
        if (td_store_wake_sync(req)) {
            continue;
        }
        if (req->store_ == NULL || req->store_->loop == NULL) {
            td_store_run_cb(req);
            continue;
        }
        if (g == NULL) {
            g = td_malloc(sizeof(*g));
            g->reqs = td_malloc(sizeof(*g->reqs) * (size_t)n);
            g->n = 0;
            loop = req->store_->loop;
        }
        g->reqs[g->n++] = req;
    }
    if (g != NULL) {
        td_loop_post(loop, td_store_run_group, g);
    }
}

/* ---- URL ---- */

void td_store__url_free(td_store_url_t *u)
{
    td_free(u->scheme);
    td_free(u->path);
    td_free(u->user);
    td_free(u->password);
    td_free(u->host);
    td_free(u->dbname);
    td_free(u->query);
    memset(u, 0, sizeof(*u));
}

/* postgres://user:pass@host:port/db?query */
static int td_store_url_parse_net(const char *rest, td_store_url_t *u, char *err, size_t errlen)
{
    const char *at = strrchr(rest, '@');
    const char *hp = rest;
    const char *slash, *q, *colon;
    int rc = TD_OK;

    q = strchr(rest, '?');
    if (q != NULL) {
        u->query = td_strdup(q + 1);
    }
    if (at != NULL && (q == NULL || at < q)) {
        const char *c = memchr(rest, ':', (size_t)(at - rest));
        if (c != NULL) {
            u->user = td_strndup(rest, (size_t)(c - rest));
            u->password = td_strndup(c + 1, (size_t)(at - c - 1));
        } else {
            u->user = td_strndup(rest, (size_t)(at - rest));
        }
        hp = at + 1;
    }
    slash = strchr(hp, '/');
    if (slash == NULL || (q != NULL && slash > q)) {
        snprintf(err, errlen, "db url '%s': expected /DBNAME after the host", u->raw);
        rc = TD_EINVAL;
        goto out;
    }
    u->dbname = td_strndup(slash + 1,
                           (size_t)((q != NULL ? q : slash + 1 + strlen(slash + 1)) - (slash + 1)));
    colon = memchr(hp, ':', (size_t)(slash - hp));
    if (colon != NULL) {
        char *end = NULL;
        long port = strtol(colon + 1, &end, 10);
        if (end != slash || port <= 0 || port > 65535) {
            snprintf(err, errlen, "db url '%s': bad port", u->raw);
            rc = TD_EINVAL;
            goto out;
        }
        u->port = (int)port;
        u->host = td_strndup(hp, (size_t)(colon - hp));
    } else {
        u->host = td_strndup(hp, (size_t)(slash - hp));
    }
    if (u->dbname[0] == '\0') {
        snprintf(err, errlen, "db url '%s': empty database name", u->raw);
        rc = TD_EINVAL;
    }
out:
    return rc;
}

int td_store__url_parse(const char *raw, td_store_url_t *u, char *err, size_t errlen)
{
    const char *sep;
    const char *rest;
    int rc = TD_OK;

    memset(u, 0, sizeof(*u));
    u->raw = raw;
    sep = raw != NULL ? strstr(raw, "://") : NULL;
    if (sep == NULL || sep == raw) {
        snprintf(err, errlen,
                 "db url '%s': expected SCHEME://... (sqlite:///path.db, "
                 "sqlite://:memory:, postgres://user:pass@host:port/db)",
                 raw != NULL ? raw : "");
        rc = TD_EINVAL;
        goto out;
    }
    u->scheme = td_strndup(raw, (size_t)(sep - raw));
    rest = sep + 3;
    if (strcmp(u->scheme, "sqlite") == 0) {
        if (strcmp(rest, ":memory:") == 0) {
            u->memory = 1;
        } else if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
            snprintf(err, errlen, "db url '%s': missing file path", raw);
            rc = TD_EINVAL;
        } else {
            /* sqlite:///abs -> "/abs"; sqlite://rel -> "rel" */
            u->path = td_strdup(rest);
        }
    } else if (strcmp(u->scheme, "postgres") == 0 || strcmp(u->scheme, "postgresql") == 0) {
        td_free(u->scheme);
        u->scheme = td_strdup("postgres");
        rc = td_store_url_parse_net(rest, u, err, errlen);
    } else {
        snprintf(err, errlen, "db url '%s': unknown scheme '%s' (expected sqlite or postgres)", raw,
                 u->scheme);
        rc = TD_EINVAL;
    }
out:
    if (rc != TD_OK) {
        td_store__url_free(u);
    }
    return rc;
}

static const td_store_ops_t *td_store_find_ops(const char *scheme)
{
    for (size_t i = 0; i < sizeof(td_store_backends) / sizeof(td_store_backends[0]); i++) {
        if (strcmp(td_store_backends[i]->scheme, scheme) == 0) {
            return td_store_backends[i];
        }
    }
    return NULL;
}

/* ---- open / close / submit ---- */

int td_store_open(const char *url, const td_store_options_t *opt, td_store_t **out, char *err,
                  size_t errlen)
{
    td_store_t *s = td_calloc(1, sizeof(*s));
    td_store_options_t dflt;
    int rc;

    *out = NULL;
    if (opt == NULL) {
        memset(&dflt, 0, sizeof(dflt));
        opt = &dflt;
    }
    rc = td_store__url_parse(url, &s->url, err, errlen);
    if (rc != TD_OK) {
        goto out;
    }
    s->ops = td_store_find_ops(s->url.scheme);
    if (s->ops == NULL) {
        snprintf(err, errlen, "db url '%s': the %s backend is not built into this binary", url,
                 s->url.scheme);
        rc = TD_EINVAL;
        goto out;
    }
    s->loop = opt->loop;
    rc = s->ops->open(s, &s->url, opt, &s->backend, err, errlen);
out:
    if (rc != TD_OK) {
        td_store__url_free(&s->url);
        td_free(s);
    } else {
        *out = s;
    }
    return rc;
}

void td_store_close(td_store_t *s)
{
    if (s == NULL) {
        return;
    }
    s->ops->close(s->backend);
    td_store__url_free(&s->url);
    td_free(s);
}

void td_store_submit(td_store_t *s, td_store_req_t *req)
{
    req->store_ = s;
    req->submit_ns_ = td_metrics_now_ns();
    req->rc = TD_OK;
    req->err = NULL;
    req->next_ = NULL;
    if (req->op <= TD_STORE_OP_NONE || req->op >= TD_STORE_OP__COUNT) {
        td_store__fail(req, TD_EINVAL, "store: bad op %d", (int)req->op);
        /* still asynchronous: through the loop when there is one */
        td_store__complete(req);
        return;
    }
    if (!td_store_op_is_read(req->op)) {
        int64_t until = atomic_load(&s->full_until_ms);
        int64_t left = until - td_now_mono_ms();
        if (until != 0 && left > 0) {
            td_store__fail(req, TD_EFULL,
                           "out of space: writes paused for %lld ms after a write failed for "
                           "lack of space",
                           (long long)left);
            td_store_deliver(req);
            return;
        }
    }
    s->ops->submit(s->backend, req);
}

int td_store_call(td_store_t *s, td_store_req_t *req)
{
    td_store_sync_t sy;

    pthread_mutex_init(&sy.mu, NULL);
    pthread_cond_init(&sy.cv, NULL);
    sy.done = 0;
    req->sync_ = &sy;
    td_store_submit(s, req);
    pthread_mutex_lock(&sy.mu);
    while (!sy.done) {
        pthread_cond_wait(&sy.cv, &sy.mu);
    }
    pthread_mutex_unlock(&sy.mu);
    req->sync_ = NULL;
    pthread_mutex_destroy(&sy.mu);
    pthread_cond_destroy(&sy.cv);
    return req->rc;
}

int td_store_schema(const char *url, const td_store_options_t *opt, const char *op, int *from,
                    int *to, int *want, char *err, size_t errlen)
{
    td_store_url_t u;
    const td_store_ops_t *ops;
    td_store_options_t dflt;
    int rc;

    *from = *to = *want = 0;
    if (opt == NULL) {
        memset(&dflt, 0, sizeof(dflt));
        opt = &dflt;
    }
    rc = td_store__url_parse(url, &u, err, errlen);
    if (rc != TD_OK) {
        return rc;
    }
    ops = td_store_find_ops(u.scheme);
    if (ops == NULL) {
        snprintf(err, errlen, "db url '%s': the %s backend is not built into this binary", url,
                 u.scheme);
        rc = TD_EINVAL;
    } else {
        rc = ops->schema(&u, opt, op, from, to, want, err, errlen);
    }
    td_store__url_free(&u);
    return rc;
}

int td_store__schema_latest(const char *backend)
{
    int v = 0;
    for (int i = 0; i < td_store_migrations_count; i++) {
        if (strcmp(td_store_migrations[i].backend, backend) == 0 &&
            td_store_migrations[i].version > v) {
            v = td_store_migrations[i].version;
        }
    }
    return v;
}

/* ---- page tokens: "TDT1" + n x int64 big-endian [+ string] ---- */

static void td_store_put64(uint8_t *p, int64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)((uint64_t)v & 0xff);
        v = (int64_t)((uint64_t)v >> 8);
    }
}

static int64_t td_store_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return (int64_t)v;
}

td_store_token_t td_store__token_make_str(td_store_req_t *req, const int64_t *keys, int n,
                                          const char *str)
{
    size_t slen = str != NULL ? strlen(str) : 0;
    size_t len = 5 + 8 * (size_t)n + slen;
    uint8_t *p = td_arena_alloc(&req->arena, len);
    td_store_token_t t = { p, len };

    memcpy(p, "TDT1", 4);
    p[4] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        td_store_put64(p + 5 + 8 * i, keys[i]);
    }
    if (slen > 0) {
        memcpy(p + 5 + 8 * n, str, slen);
    }
    return t;
}

td_store_token_t td_store__token_make(td_store_req_t *req, const int64_t *keys, int n)
{
    return td_store__token_make_str(req, keys, n, NULL);
}

int td_store__token_read_str(td_store_req_t *req, const td_store_token_t *t, int64_t *keys, int n,
                             const char **str, int *present)
{
    size_t need = 5 + 8 * (size_t)n;

    *present = 0;
    if (t == NULL || t->len == 0) {
        return TD_OK;
    }
    if (t->data == NULL || t->len < need || memcmp(t->data, "TDT1", 4) != 0 ||
        t->data[4] != (uint8_t)n || (str == NULL && t->len != need)) {
        return TD_EINVAL;
    }
    for (int i = 0; i < n; i++) {
        keys[i] = td_store_get64(t->data + 5 + 8 * i);
    }
    if (str != NULL) {
        *str = td_arena_strndup(&req->arena, (const char *)t->data + need, t->len - need);
    }
    *present = 1;
    return TD_OK;
}

int td_store__token_read(const td_store_token_t *t, int64_t *keys, int n, int *present)
{
    return td_store__token_read_str(NULL, t, keys, n, NULL, present);
}

int td_store__schema_check(int cur, int want, char *err, size_t errlen)
{
    if (cur == 0) {
        snprintf(err, errlen,
                 "the database has no temporald schema: run `temporald schema setup` "
                 "(then `temporald schema update`)");
        return TD_ESCHEMA;
    }
    if (cur < want) {
        snprintf(err, errlen,
                 "schema version %d is older than %d, which this binary needs: run "
                 "`temporald schema update`",
                 cur, want);
        return TD_ESCHEMA;
    }
    if (cur > want) {
        snprintf(err, errlen,
                 "schema version %d is newer than %d, the newest this binary knows: upgrade "
                 "temporald (`temporald schema update` cannot downgrade)",
                 cur, want);
        return TD_ESCHEMA;
    }
    return TD_OK;
}
