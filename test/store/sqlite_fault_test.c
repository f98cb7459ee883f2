/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQLite-specific store tests: injected I/O errors and disk-full at chosen writes (the
 * td-fault VFS), schema refusal and migration, and URL errors. The fault tests run only when
 * TD_TEST_DB_URL names SQLite files; the others use their own temporary files.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "store/sqlite/sqlite_int.h"
#include "store_fixture.h"

static void td_sf_need_file(void)
{
    if (!td_fx_is_sqlite_file()) {
        td_test_skip("fault injection needs a SQLite file database");
    }
}

/* One transition of (ns, wf, run): version v -> v+1, a batch at 5v+1.., two tasks. */
static int td_sf_step(td_store_t *s, int32_t shard, int64_t range, const char *ns, const char *wf,
                      int64_t v, td_store_req_t **keep)
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
    w->row.db_record_version = v + 1;
    w->row.next_event_id = 5 * v + 6;
    b->tree_id = wf;
    b->branch_id = wf;
    b->first_event_id = 5 * v + 1;
    b->event_count = 5;
    b->events.data = td_arena_calloc(&r->arena, 3000); /* spans pages */
    b->events.len = 3000;
    b->events.encoding = TD_STORE_ENC_PROTO3;
    for (int i = 0; i < 2; i++) {
        t[i].category = TD_STORE_TASK_TRANSFER;
        t[i].task_id = 1000 + 2 * v + i;
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
    if (keep != NULL) {
        *keep = r;
    } else {
        td_store_req_free(r);
    }
    return rc;
}

/* The run is whole: version v, v+1 batches (the create's [1,2] counts as the first one at
 * event 1; steps add 5-event batches from event 6... see td_fx_create_run), 2v+1 tasks. */
static int64_t td_sf_check_whole(td_store_t *s, int32_t shard, const char *ns, const char *wf)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_EXEC_GET);
    int64_t v;
    int batches, tasks;

    r->in.exec_get.namespace_id = ns;
    r->in.exec_get.workflow_id = wf;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    v = r->out.exec_get.row.db_record_version;
    TD_CHECK_INT(r->out.exec_get.row.next_event_id, ==, v == 1 ? 3 : 5 * (v - 1) + 6);
    td_store_req_reset(r, TD_STORE_OP_HISTORY_READ);
    r->in.hist_read.tree_id = wf;
    r->in.hist_read.branch_id = wf;
    r->in.hist_read.min_event_id = 1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    batches = r->out.hist_read.n_batches;
    td_store_req_reset(r, TD_STORE_OP_TASKS_READ);
    r->in.tasks_read.shard_id = shard;
    r->in.tasks_read.category = TD_STORE_TASK_TRANSFER;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    tasks = r->out.tasks_read.n_tasks;
    td_store_req_free(r);
    TD_CHECK_INT(batches, ==, v);
    TD_CHECK_INT(tasks, ==, 2 * (v - 1) + 1);
    return v;
}

static void td_sf_fault_once(int kind, int want_rc)
{
    td_store_t *s;
    int32_t shard = td_fx_shard();
    int64_t range;
    const char *ns = "ns", *wf = "wf-fault";
    td_store_req_t *r = NULL;

    td_sf_need_file();
    /* route the opens below through the fault VFS, with no fault armed yet */
    td_store_sqlite_fault('e', 1L << 40, 0);
    s = td_fx_open();
    range = td_fx_acquire(s, shard);
    TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, wf, wf, 1), ==, TD_OK);
    TD_CHECK_INT(td_sf_step(s, shard, range, ns, wf, 1, NULL), ==, TD_OK);
    /* the next file write fails once */
    td_store_sqlite_fault(kind, 0, 1);
    TD_CHECK_INT(td_sf_step(s, shard, range, ns, wf, 2, &r), ==, want_rc);
    TD_CHECK(strstr(r->err, "not committed") != NULL);
    td_store_req_free(r);
    TD_CHECK_INT(td_store_sqlite_faults_injected(), ==, 1);
    TD_CHECK_INT(td_sf_check_whole(s, shard, ns, wf), ==, 2);
    if (want_rc == TD_EFULL) {
        /* out of space pauses writes: the next one fails at once without reaching SQLite,
         * and after the backoff delay (at most 200 ms for the first) a write goes through */
        TD_CHECK_INT(td_sf_step(s, shard, range, ns, wf, 2, &r), ==, TD_EFULL);
        TD_CHECK_CONTAINS(r->err, "writes paused");
        td_store_req_free(r);
        TD_CHECK_INT(td_store_sqlite_faults_injected(), ==, 1);
        usleep(250 * 1000);
    }
    /* the fault cleared: service resumes without reopening */
    TD_CHECK_INT(td_sf_step(s, shard, range, ns, wf, 2, NULL), ==, TD_OK);
    TD_CHECK_INT(td_sf_check_whole(s, shard, ns, wf), ==, 3);
    td_store_close(s);
    /* and the file reopens consistent */
    td_store_sqlite_fault(0, 0, 0);
    s = td_fx_open();
    TD_CHECK_INT(td_sf_check_whole(s, shard, ns, wf), ==, 3);
    td_store_close(s);
}

TD_TEST(sqlite_fault_eio)
{
    td_sf_fault_once('e', TD_EIO);
}

TD_TEST(sqlite_fault_disk_full)
{
    td_sf_fault_once('f', TD_EFULL);
}

/* A fault at the Nth write or sync for N = 0..40 (WAL frames, fsyncs, checkpoints), a persistent
 * outage in between: each write either commits in full or fails with a storage error, and
 * the database is whole after every one of them. */
TD_TEST_T(sqlite_fault_sweep, 120)
{
    td_store_t *s;
    int32_t shard = td_fx_shard();
    int64_t range, v = 1;
    const char *ns = "ns", *wf = "wf-sweep";
    int failures = 0, uncertain = 0;

    td_sf_need_file();
    td_store_sqlite_fault('e', 1L << 40, 0);
    s = td_fx_open();
    range = td_fx_acquire(s, shard);
    TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, wf, wf, 1), ==, TD_OK);
    for (int n = 0; n < 80; n++) {
        td_store_req_t *r = NULL;
        int64_t now;
        int rc;
        /* I/O errors first, then a full disk (after which the store checkpoints and
         * truncates the WAL, which moves where the later faults land) */
        td_store_sqlite_fault(n < 40 ? 'e' : 'f', n % 40, 1);
        rc = td_sf_step(s, shard, range, ns, wf, v, &r);
        td_store_sqlite_fault(0, 0, 0);
        now = td_sf_check_whole(s, shard, ns, wf);
        if (rc == TD_OK) {
            TD_CHECK_INT(now, ==, v + 1);
        } else {
            TD_CHECK(rc == TD_EIO || rc == TD_EFULL);
            failures++;
            /* A failed write left no trace -- except when the fault hit the WAL flush after
             * COMMIT (pipelined durability): then the outcome is uncertain and says so. */
            if (now != v) {
                TD_CHECK_INT(now, ==, v + 1);
                TD_CHECK_CONTAINS(r->err, "not confirmed durable");
            }
            uncertain += strstr(r->err, "not confirmed durable") != NULL;
        }
        v = now;
        td_store_req_free(r);
        if (rc == TD_EFULL) {
            usleep(250 * 1000); /* the write pause after a full disk (store.c) */
        }
    }
    TD_CHECK(failures > 0);
    /* at synchronous=FULL the WAL flush before acknowledging was hit too: the request was
     * not acknowledged as a success */
    if (getenv("TD_SQLITE_PIPELINE") == NULL || strcmp(getenv("TD_SQLITE_PIPELINE"), "0") != 0) {
        TD_CHECK(uncertain > 0);
    }
    /* a persistent outage: every write fails, then everything works again */
    td_store_sqlite_fault('e', 0, -1);
    for (int i = 0; i < 5; i++) {
        TD_CHECK_INT(td_sf_step(s, shard, range, ns, wf, v, NULL), ==, TD_EIO);
    }
    td_store_sqlite_fault(0, 0, 0);
    TD_CHECK_INT(td_sf_step(s, shard, range, ns, wf, v, NULL), ==, TD_OK);
    v++;
    TD_CHECK_INT(td_sf_check_whole(s, shard, ns, wf), ==, v);
    td_store_close(s);
    s = td_fx_open();
    TD_CHECK_INT(td_sf_check_whole(s, shard, ns, wf), ==, v);
    td_store_close(s);
}

/* ---- schema and URLs (own temporary files) ---- */

TD_TEST(sqlite_schema_refusal_and_update)
{
    char dir[] = "/tmp/td-schema-XXXXXX";
    char url[128], err[512] = "";
    td_store_options_t opt;
    td_store_t *s = NULL;
    int from, to, want;

    TD_CHECK(mkdtemp(dir) != NULL);
    snprintf(url, sizeof(url), "sqlite://%s/db.sqlite", dir);
    memset(&opt, 0, sizeof(opt));
    /* start on a missing file: refused, naming the setup command */
    TD_CHECK_INT(td_store_open(url, &opt, &s, err, sizeof(err)), ==, TD_EUNAVAIL);
    TD_CHECK_CONTAINS(err, "temporald schema setup");
    /* update and version on a missing file also refuse */
    TD_CHECK_INT(td_store_schema(url, &opt, "update", &from, &to, &want, err, sizeof(err)), ==,
                 TD_EUNAVAIL);
    TD_CHECK_INT(td_store_schema(url, &opt, "setup", &from, &to, &want, err, sizeof(err)), ==,
                 TD_OK);
    TD_CHECK_INT(from, ==, 0);
    TD_CHECK_INT(to, ==, want);
    TD_CHECK(want >= 1);
    TD_CHECK_INT(td_store_schema(url, &opt, "setup", &from, &to, &want, err, sizeof(err)), ==,
                 TD_EEXIST);
    TD_CHECK_CONTAINS(err, "schema update");
    /* update is idempotent */
    TD_CHECK_INT(td_store_schema(url, &opt, "update", &from, &to, &want, err, sizeof(err)), ==,
                 TD_OK);
    TD_CHECK_INT(from, ==, want);
    TD_CHECK_INT(to, ==, want);
    TD_CHECK_INT(td_store_schema(url, &opt, "version", &from, &to, &want, err, sizeof(err)), ==,
                 TD_OK);
    TD_CHECK_INT(from, ==, want);
    TD_CHECK_INT(td_store_open(url, &opt, &s, err, sizeof(err)), ==, TD_OK);
    td_store_close(s);
    {
        /* a newer schema than the binary knows is refused */
        char cmd[256];
        snprintf(cmd, sizeof(cmd),
                 "python3 -c \"import sqlite3;c=sqlite3.connect('%s/db.sqlite');"
                 "c.execute('update schema_version set version=version+1');c.commit()\"",
                 dir);
        if (system(cmd) == 0) {
            TD_CHECK_INT(td_store_open(url, &opt, &s, err, sizeof(err)), ==, TD_ESCHEMA);
            TD_CHECK_CONTAINS(err, "newer");
        }
        snprintf(cmd, sizeof(cmd),
                 "python3 -c \"import sqlite3;c=sqlite3.connect('%s/db.sqlite');"
                 "c.execute('update schema_version set version=0');c.commit()\"",
                 dir);
        if (system(cmd) == 0) {
            TD_CHECK_INT(td_store_open(url, &opt, &s, err, sizeof(err)), ==, TD_ESCHEMA);
            TD_CHECK_CONTAINS(err, "temporald schema");
        }
    }
    /* an empty existing file in AUTO mode gets the schema */
    snprintf(url, sizeof(url), "sqlite://%s/auto.sqlite", dir);
    opt.schema = TD_STORE_SCHEMA_AUTO;
    TD_CHECK_INT(td_store_open(url, &opt, &s, err, sizeof(err)), ==, TD_OK);
    td_store_close(s);
    opt.schema = TD_STORE_SCHEMA_REQUIRE;
    TD_CHECK_INT(td_store_open(url, &opt, &s, err, sizeof(err)), ==, TD_OK);
    td_store_close(s);
    /* bad synchronous value and bad pragma */
    opt.sqlite_synchronous = "SOMETIMES";
    TD_CHECK_INT(td_store_open(url, &opt, &s, err, sizeof(err)), ==, TD_EINVAL);
    TD_CHECK_CONTAINS(err, "SOMETIMES");
    {
        const char *bad[] = { "cache_size=1; DROP TABLE shards" };
        opt.sqlite_synchronous = "NORMAL";
        opt.pragmas = bad;
        opt.n_pragmas = 1;
        TD_CHECK_INT(td_store_open(url, &opt, &s, err, sizeof(err)), ==, TD_EINVAL);
    }
    {
        const char *good[] = { "cache_size=-4000" };
        opt.pragmas = good;
        TD_CHECK_INT(td_store_open(url, &opt, &s, err, sizeof(err)), ==, TD_OK);
        td_store_close(s);
    }
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        TD_CHECK_INT(system(cmd), ==, 0);
    }
}

TD_TEST(sqlite_bad_urls)
{
    td_store_t *s = NULL;
    char err[512];
    const char *bad[] = { "",     "nourl",          "sqlite://", "sqlite:///", "mysql://x/y",
                          "://x", "postgres://host" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        TD_CHECK_INT(td_store_open(bad[i], NULL, &s, err, sizeof(err)), ==, TD_EINVAL);
        TD_CHECK(s == NULL);
        TD_CHECK(err[0] != '\0');
    }
    /* a directory that does not exist */
    TD_CHECK_INT(td_store_open("sqlite:///nonexistent-dir-td/x.db", NULL, &s, err, sizeof(err)), ==,
                 TD_EUNAVAIL);
}

/* A second process opening the same database file is refused with a clear error; once the
 * first closed it, the file opens again. The child is forked before the parent opens the
 * store (whose threads could hold locks at a fork) and waits on a pipe for it. */
TD_TEST(sqlite_second_process_refused)
{
    char dir[] = "/tmp/td-sqlock.XXXXXX", url[128];
    td_store_options_t opt;
    td_store_t *s = NULL, *again = NULL;
    char err[512] = "", go = 0;
    int status = 0, fds[2];
    pid_t pid;

    TD_CHECK(mkdtemp(dir) != NULL);
    snprintf(url, sizeof(url), "sqlite://%s/one.db", dir);
    memset(&opt, 0, sizeof(opt));
    opt.schema = TD_STORE_SCHEMA_AUTO;
    TD_CHECK(pipe(fds) == 0);
    pid = fork();
    if (pid == 0) {
        td_store_t *other = NULL;
        char e2[512] = "";
        int rc;
        close(fds[1]);
        if (read(fds[0], &go, 1) != 1) {
            _exit(2);
        }
        rc = td_store_open(url, &opt, &other, e2, sizeof(e2));
        _exit(rc == TD_EBUSY && strstr(e2, "in use by another temporald process") != NULL ? 0 : 1);
    }
    TD_CHECK(pid > 0);
    close(fds[0]);
    TD_CHECK_INT(td_store_open(url, &opt, &s, err, sizeof(err)), ==, TD_OK);
    TD_CHECK(write(fds[1], "g", 1) == 1);
    close(fds[1]);
    TD_CHECK(waitpid(pid, &status, 0) == pid);
    TD_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    td_store_close(s);
    TD_CHECK_INT(td_store_open(url, &opt, &again, err, sizeof(err)), ==, TD_OK);
    td_store_close(again);
    snprintf(url, sizeof(url), "rm -rf %s", dir);
    TD_CHECK_INT(system(url), ==, 0);
}
