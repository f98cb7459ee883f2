/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PostgreSQL-specific store tests: clear errors for a bad URL, wrong credentials, a missing
 * database, an unreachable server and TLS options; connection loss at every statement of a
 * write (the backend's fault hook), a lost COMMIT reply resolved through the commit marker,
 * and pg_terminate_backend() under a concurrent load. After each fault the caller saw either
 * TD_OK (committed in full) or TD_EUNAVAIL (nothing committed), the database is consistent
 * and service resumes on its own. Runs only when TD_TEST_DB_URL is a postgres URL; the
 * server-outage test also needs TD_TEST_PG_DIR, the folder of a cluster started by
 * scripts/pg-cluster.sh (test/store/run.sh sets both), and runs from the repository root.
 */
#include "test.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "store/postgres/pg_int.h"
#include "store_fixture.h"

static void td_pf_need_pg(void)
{
    if (strncmp(td_fx_url(), "postgres", 8) != 0) {
        td_test_skip("needs TD_TEST_DB_URL=postgres://...");
    }
}

/* One transition of (ns, wf): version v -> v+1, a 5-event batch at 5v+1, two tasks. */
static int td_pf_step(td_store_t *s, int32_t shard, int64_t range, const char *ns, const char *wf,
                      int64_t v, char *err, size_t errlen)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_WRITE);
    td_store_exec_write_t *w = td_arena_calloc(&r->arena, sizeof(*w));
    td_store_history_batch_t *b = td_arena_calloc(&r->arena, sizeof(*b));
    td_store_task_t *t = td_arena_calloc(&r->arena, 2 * sizeof(*t));
    int rc;

    w->mode = TD_STORE_EXEC_UPDATE;
    w->expected_db_record_version = v;
    w->row.namespace_id = ns;
    w->row.workflow_id = wf;
    w->row.run_id = wf;
    w->row.state = TD_STORE_EXEC_STATE_RUNNING;
    w->row.db_record_version = v + 1;
    w->row.next_event_id = 5 * v + 6;
    w->row.state_blob = td_fx_blob("ms");
    b->tree_id = wf;
    b->branch_id = wf;
    b->first_event_id = 5 * v + 1;
    b->event_count = 5;
    b->events = td_fx_blob("events");
    for (int i = 0; i < 2; i++) {
        t[i].category = TD_STORE_TASK_TRANSFER;
        t[i].task_id = 1000 + 2 * v + i;
        t[i].blob = td_fx_blob("task");
    }
    r->in.write.shard_id = shard;
    r->in.write.expected_range_id = range;
    r->in.write.execs = w;
    r->in.write.n_execs = 1;
    r->in.write.current_exec = -1;
    r->in.write.batches = b;
    r->in.write.n_batches = 1;
    r->in.write.tasks = t;
    r->in.write.n_tasks = 2;
    rc = td_store_call(s, r);
    if (err != NULL) {
        snprintf(err, errlen, "%s", r->err);
    }
    td_store_req_free(r);
    return rc;
}

/* Creates the workflow at version 1 with no history, under its own shard. */
static void td_pf_create(td_store_t *s, int32_t shard, int64_t range, const char *ns,
                         const char *wf)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_WRITE);
    td_store_exec_write_t w;

    memset(&w, 0, sizeof(w));
    w.mode = TD_STORE_EXEC_CREATE_BRAND_NEW;
    w.row.namespace_id = ns;
    w.row.workflow_id = wf;
    w.row.run_id = wf;
    w.row.state = TD_STORE_EXEC_STATE_RUNNING;
    w.row.db_record_version = 0;
    w.row.state_blob = td_fx_blob("ms");
    r->in.write.shard_id = shard;
    r->in.write.expected_range_id = range;
    r->in.write.execs = &w;
    r->in.write.n_execs = 1;
    r->in.write.current_exec = 0;
    r->in.write.current.run_id = wf;
    r->in.write.current.create_request_id = "req";
    r->in.write.current.state = TD_STORE_EXEC_STATE_RUNNING;
    r->in.write.current.status = 1;
    if (td_store_call(s, r) != TD_OK) {
        td_test_fail(__FILE__, __LINE__, "create %s: %s", wf, r->err);
    }
    td_store_req_free(r);
}

/* Checks that wf is whole at version v: row version v, v batches, 2v tasks in its shard. */
static void td_pf_check_whole(td_store_t *s, int32_t shard, const char *ns, const char *wf,
                              int64_t v)
{
    td_store_req_t *r;
    int64_t got = -2;

    TD_CHECK_INT(td_fx_get_version(s, ns, wf, wf, &got), ==, TD_OK);
    TD_CHECK_INT(got, ==, v);
    r = td_store_req_new(TD_STORE_OP_HISTORY_READ);
    r->in.hist_read.tree_id = wf;
    r->in.hist_read.branch_id = wf;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.hist_read.n_batches, ==, v);
    td_store_req_free(r);
    r = td_store_req_new(TD_STORE_OP_TASKS_READ);
    r->in.tasks_read.shard_id = shard;
    r->in.tasks_read.category = TD_STORE_TASK_TRANSFER;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.tasks_read.n_tasks, ==, 2 * v);
    td_store_req_free(r);
}

/* The URL under test with one part replaced: what = "password", "dbname", "port", "query". */
static const char *td_pf_url_with(const char *what, const char *value)
{
    static char buf[600];
    const char *u = td_fx_url();
    const char *scheme_end = strstr(u, "://") + 3;
    const char *at = strrchr(u, '@');
    const char *slash = strchr(at != NULL ? at : scheme_end, '/');
    const char *colon = at != NULL ? memchr(at, ':', (size_t)(slash - at)) : NULL;
    const char *q = strchr(u, '?');
    size_t n;

    if (strcmp(what, "password") == 0 && at != NULL) {
        const char *pc = memchr(scheme_end, ':', (size_t)(at - scheme_end));
        n = (size_t)((pc != NULL ? pc : at) - u);
        snprintf(buf, sizeof(buf), "%.*s:%s%s", (int)n, u, value, at);
    } else if (strcmp(what, "dbname") == 0) {
        snprintf(buf, sizeof(buf), "%.*s/%s%s", (int)(slash - u), u, value, q != NULL ? q : "");
    } else if (strcmp(what, "port") == 0 && colon != NULL) {
        snprintf(buf, sizeof(buf), "%.*s:%s%s", (int)(colon - u), u, value, slash);
    } else {
        snprintf(buf, sizeof(buf), "%s%s%s", u, q != NULL ? "&" : "?", value);
    }
    return buf;
}

static int td_pf_open_url(const char *url, char *err, size_t errlen, td_store_t **s)
{
    td_store_options_t opt;
    memset(&opt, 0, sizeof(opt));
    opt.schema = TD_STORE_SCHEMA_AUTO;
    return td_store_open(url, &opt, s, err, errlen);
}

TD_TEST(pg_connection_errors)
{
    td_store_t *s = NULL;
    char err[512];
    int64_t t0;

    td_pf_need_pg();
    TD_CHECK_INT(td_pf_open_url(td_pf_url_with("password", "wrong-password"), err, sizeof(err), &s),
                 ==, TD_EUNAVAIL);
    TD_CHECK(s == NULL);
    TD_CHECK_CONTAINS(err, "password authentication failed");
    TD_CHECK_INT(td_pf_open_url(td_pf_url_with("dbname", "no_such_db"), err, sizeof(err), &s), ==,
                 TD_EUNAVAIL);
    TD_CHECK_CONTAINS(err, "does not exist");
    TD_CHECK_INT(td_pf_open_url(td_pf_url_with("query", "bogus_option=1"), err, sizeof(err), &s),
                 ==, TD_EINVAL);
    TD_CHECK_CONTAINS(err, "bogus_option");
    /* TLS options come from the query (TD_TEST_PG_SSLROOT: the server's certificate when it
     * has TLS on, as test/store/run.sh starts it) */
    if (getenv("TD_TEST_PG_SSLROOT") != NULL) {
        char q[400];
        snprintf(q, sizeof(q), "sslmode=verify-full&sslrootcert=%s", getenv("TD_TEST_PG_SSLROOT"));
        TD_CHECK_INT(td_pf_open_url(td_pf_url_with("query", q), err, sizeof(err), &s), ==, TD_OK);
        td_store_close(s);
        TD_CHECK_INT(td_pf_open_url(td_pf_url_with("query", "sslmode=verify-full&sslrootcert="
                                                            "/nonexistent.crt"),
                                    err, sizeof(err), &s),
                     ==, TD_EUNAVAIL);
        TD_CHECK_CONTAINS(err, "nonexistent.crt");
    } else {
        TD_CHECK_INT(
                td_pf_open_url(td_pf_url_with("query", "sslmode=require"), err, sizeof(err), &s),
                ==, TD_EUNAVAIL);
        TD_CHECK_CONTAINS(err, "SSL");
    }
    /* nobody listens on port 1: a quick, clear failure */
    t0 = td_now_mono_ms();
    TD_CHECK_INT(td_pf_open_url(td_pf_url_with("port", "1"), err, sizeof(err), &s), ==,
                 TD_EUNAVAIL);
    TD_CHECK_CONTAINS(err, "cannot connect");
    TD_CHECK(td_now_mono_ms() - t0 < 5000);
    /* sslmode=disable is accepted and works */
    TD_CHECK_INT(td_pf_open_url(td_pf_url_with("query", "sslmode=disable&connect_timeout=5"), err,
                                sizeof(err), &s),
                 ==, TD_OK);
    td_store_close(s);
}

TD_TEST_T(pg_connection_lost_at_every_statement, 60)
{
    td_store_t *s;
    int32_t shard = td_fx_shard();
    const char *ns = td_fx_id("ns");
    const char *wf = td_fx_id("wf");
    char err[512];
    int64_t range, v = 0;
    int rc;

    td_pf_need_pg();
    s = td_fx_open();
    range = td_fx_acquire(s, shard);
    td_pf_create(s, shard, range, ns, wf);
    TD_CHECK_INT(td_pf_step(s, shard, range, ns, wf, v, NULL, 0), ==, TD_OK);
    v++;
    /* a single-request group runs BEGIN, the new marker, the deletion of the previous one,
     * the fence, the update, the batch, two tasks and COMMIT: break the connection before
     * each in turn */
    for (long k = 1; k <= 9; k++) {
        td_store_postgres_fault("stmt", k);
        rc = td_pf_step(s, shard, range, ns, wf, v, err, sizeof(err));
        td_store_postgres_fault(NULL, 0);
        if (rc != TD_EUNAVAIL) {
            td_test_fail(__FILE__, __LINE__, "fault at statement %ld: %s: %s", k, td_err_name(rc),
                         err);
        }
        td_pf_check_whole(s, shard, ns, wf, v);
        /* service resumes on the next request */
        rc = td_pf_step(s, shard, range, ns, wf, v, err, sizeof(err));
        if (rc != TD_OK) {
            td_test_fail(__FILE__, __LINE__, "after fault %ld: %s: %s", k, td_err_name(rc), err);
        }
        v++;
        td_pf_check_whole(s, shard, ns, wf, v);
    }
    TD_CHECK(td_store_postgres_faults_injected() >= 9);
    td_store_close(s);
}

TD_TEST(pg_commit_reply_lost_is_resolved)
{
    td_store_t *s;
    int32_t shard = td_fx_shard();
    const char *ns = td_fx_id("ns");
    const char *wf = td_fx_id("wf");
    long yes0, no0, yes1, no1;
    char err[512];
    int64_t range, v = 0;

    td_pf_need_pg();
    s = td_fx_open();
    range = td_fx_acquire(s, shard);
    td_pf_create(s, shard, range, ns, wf);
    td_store_postgres_resolved(&yes0, &no0);
    for (int i = 0; i < 3; i++) {
        /* COMMIT reaches the server, the reply never reaches us: the marker says committed */
        td_store_postgres_fault("commit", 1);
        TD_CHECK_INT(td_pf_step(s, shard, range, ns, wf, v, err, sizeof(err)), ==, TD_OK);
        v++;
        td_pf_check_whole(s, shard, ns, wf, v);
    }
    td_store_postgres_resolved(&yes1, &no1);
    TD_CHECK_INT(yes1 - yes0, ==, 3);
    TD_CHECK_INT(no1 - no0, ==, 0);
    /* the connection before COMMIT is sent: certain not to have committed */
    td_store_postgres_fault("stmt", 9);
    TD_CHECK_INT(td_pf_step(s, shard, range, ns, wf, v, err, sizeof(err)), ==, TD_EUNAVAIL);
    td_store_postgres_fault(NULL, 0);
    td_pf_check_whole(s, shard, ns, wf, v);
    TD_CHECK_INT(td_pf_step(s, shard, range, ns, wf, v, err, sizeof(err)), ==, TD_OK);
    v++;
    td_pf_check_whole(s, shard, ns, wf, v);
    td_store_close(s);
}

#define TD_PF_THREADS 8

typedef struct {
    td_store_t *s;
    int32_t shard;
    int64_t range;
    const char *ns;
    char wf[64];
    int64_t v; /* committed version as this thread was told */
    int ok, unavail, other;
    volatile int *stop;
    char last_err[256];
} td_pf_worker_t;

static void *td_pf_worker(void *arg)
{
    td_pf_worker_t *w = arg;
    char err[256];

    while (!*w->stop) {
        int rc = td_pf_step(w->s, w->shard, w->range, w->ns, w->wf, w->v, err, sizeof(err));
        if (rc == TD_OK) {
            w->v++;
            w->ok++;
        } else if (rc == TD_EUNAVAIL) {
            w->unavail++;
            usleep(2000);
        } else {
            w->other++;
            snprintf(w->last_err, sizeof(w->last_err), "%s: %.200s", td_err_name(rc), err);
            break;
        }
    }
    return NULL;
}

/* Kills every other temporald session of this database; returns how many. */
static int td_pf_terminate(PGconn *admin)
{
    PGresult *r = PQexec(admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE application_name = 'temporald' AND datname = "
                                "current_database() AND pid <> pg_backend_pid()");
    int n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return n;
}

TD_TEST_T(pg_terminate_backend_under_load, 90)
{
    td_store_t *s;
    td_pf_worker_t w[TD_PF_THREADS];
    pthread_t th[TD_PF_THREADS];
    volatile int stop = 0;
    const char *ns = td_fx_id("ns");
    PGconn *admin;
    int killed = 0, unavail = 0, ok = 0;

    td_pf_need_pg();
    admin = PQconnectdb(td_fx_url());
    TD_CHECK(PQstatus(admin) == CONNECTION_OK);
    s = td_fx_open();
    for (int i = 0; i < TD_PF_THREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].s = s;
        w[i].shard = td_fx_shard();
        w[i].range = td_fx_acquire(s, w[i].shard);
        w[i].ns = ns;
        w[i].stop = &stop;
        snprintf(w[i].wf, sizeof(w[i].wf), "%s", td_fx_id("wf"));
        td_pf_create(s, w[i].shard, w[i].range, ns, w[i].wf);
        pthread_create(&th[i], NULL, td_pf_worker, &w[i]);
    }
    for (int round = 0; round < 10; round++) {
        usleep(150 * 1000);
        killed += td_pf_terminate(admin) > 0;
    }
    usleep(300 * 1000);
    stop = 1;
    for (int i = 0; i < TD_PF_THREADS; i++) {
        pthread_join(th[i], NULL);
        if (w[i].other > 0) {
            td_test_fail(__FILE__, __LINE__, "worker %d: unexpected %s", i, w[i].last_err);
        }
        ok += w[i].ok;
        unavail += w[i].unavail;
    }
    fprintf(stderr, "# %d kill rounds, %d writes committed, %d reported unavailable\n", killed, ok,
            unavail);
    TD_CHECK(killed >= 5);
    TD_CHECK(ok > 0);
    /* every write reported committed is there in full, nothing else is */
    for (int i = 0; i < TD_PF_THREADS; i++) {
        td_pf_check_whole(s, w[i].shard, ns, w[i].wf, w[i].v);
    }
    /* and service resumed by itself */
    TD_CHECK_INT(td_pf_step(s, w[0].shard, w[0].range, ns, w[0].wf, w[0].v, NULL, 0), ==, TD_OK);
    td_store_close(s);
    PQfinish(admin);
}

TD_TEST(pg_schema_command)
{
    td_store_options_t opt;
    int from = -1, to = -1, want = -1;
    char err[512];

    td_pf_need_pg();
    memset(&opt, 0, sizeof(opt));
    td_store_close(td_fx_open()); /* AUTO: the schema exists from here on */
    TD_CHECK_INT(td_store_schema(td_fx_url(), &opt, "version", &from, &to, &want, err, sizeof(err)),
                 ==, TD_OK);
    TD_CHECK(from >= 1);
    TD_CHECK_INT(from, ==, want);
    TD_CHECK_INT(td_store_schema(td_fx_url(), &opt, "update", &from, &to, &want, err, sizeof(err)),
                 ==, TD_OK);
    TD_CHECK_INT(to, ==, want);
    TD_CHECK_INT(td_store_schema(td_fx_url(), &opt, "setup", &from, &to, &want, err, sizeof(err)),
                 ==, TD_EEXIST);
    TD_CHECK_CONTAINS(err, "schema update");
    TD_CHECK_INT(td_store_schema(td_pf_url_with("password", "nope"), &opt, "version", &from, &to,
                                 &want, err, sizeof(err)),
                 ==, TD_EUNAVAIL);
}

/* Runs scripts/pg-cluster.sh CMD on the cluster under test. */
static int td_pf_cluster(const char *cmd)
{
    char line[700];
    snprintf(line, sizeof(line), "scripts/pg-cluster.sh %s '%s' >/dev/null 2>&1", cmd,
             getenv("TD_TEST_PG_DIR"));
    return system(line);
}

TD_TEST_T(pg_server_outage_and_recovery, 90)
{
    td_store_t *s;
    int32_t shard = td_fx_shard();
    const char *ns = td_fx_id("ns");
    const char *wf = td_fx_id("wf");
    char err[512];
    int64_t range, v = 0, got = 0, t0;
    int rc = TD_OK;

    td_pf_need_pg();
    if (getenv("TD_TEST_PG_DIR") == NULL || access("scripts/pg-cluster.sh", X_OK) != 0) {
        td_test_skip("needs TD_TEST_PG_DIR (a scripts/pg-cluster.sh cluster) and the repo root");
    }
    s = td_fx_open();
    range = td_fx_acquire(s, shard);
    td_pf_create(s, shard, range, ns, wf);
    TD_CHECK_INT(td_pf_step(s, shard, range, ns, wf, v++, NULL, 0), ==, TD_OK);
    TD_CHECK_INT(td_pf_cluster("stop"), ==, 0);
    /* the server is gone: writes and reads fail at once with TD_EUNAVAIL */
    for (int i = 0; i < 3; i++) {
        t0 = td_now_mono_ms();
        rc = td_pf_step(s, shard, range, ns, wf, v, err, sizeof(err));
        TD_CHECK_INT(rc, ==, TD_EUNAVAIL);
        TD_CHECK(td_now_mono_ms() - t0 < 5000);
        TD_CHECK_INT(td_fx_get_version(s, ns, wf, wf, &got), ==, TD_EUNAVAIL);
    }
    TD_CHECK_CONTAINS(err, "postgres");
    TD_CHECK_INT(td_pf_cluster("restart"), ==, 0);
    /* service resumes by itself: the first request reconnects */
    for (int i = 0; i < 50; i++) {
        rc = td_pf_step(s, shard, range, ns, wf, v, err, sizeof(err));
        if (rc == TD_OK) {
            break;
        }
        usleep(100 * 1000);
    }
    if (rc != TD_OK) {
        td_test_fail(__FILE__, __LINE__, "no recovery: %s: %s", td_err_name(rc), err);
    }
    v++;
    td_pf_check_whole(s, shard, ns, wf, v);
    td_store_close(s);
}
