/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store conformance suite: every operation, every condition failure, pagination and
 * concurrent writers, against the backend named by TD_TEST_DB_URL (test/store/run.sh runs it
 * for SQLite file and memory; PostgreSQL joins by URL). Keys are unique per test process, so
 * backends may share one database between tests.
 */
#include "test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "loop.h"
#include "store_fixture.h"

/* ---- helpers ---- */

/* An UPDATE of run (expected version ev -> ev+1) with one batch at first_event and n_tasks
 * transfer tasks from task_id. */
static int td_ct_update(td_store_t *s, int32_t shard, int64_t range, const char *ns, const char *wf,
                        const char *run, int64_t ev, int64_t first_event, int64_t task_id,
                        int n_tasks, td_store_req_t **keep)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_WRITE);
    td_store_exec_write_t *w = td_arena_calloc(&r->arena, sizeof(*w));
    td_store_history_batch_t *b = td_arena_calloc(&r->arena, sizeof(*b));
    td_store_task_t *t = td_arena_calloc(&r->arena, sizeof(*t) * 4);
    int rc;

    w->mode = TD_STORE_EXEC_UPDATE;
    w->expected_db_record_version = ev;
    w->row.namespace_id = ns;
    w->row.workflow_id = wf;
    w->row.run_id = run;
    w->row.state = TD_STORE_EXEC_STATE_RUNNING;
    w->row.status = 1;
    w->row.next_event_id = first_event + 5;
    w->row.db_record_version = ev + 1;
    w->row.state_blob = td_fx_blob(td_arena_printf(&r->arena, "ms-v%lld", (long long)ev + 1));
    b->tree_id = run;
    b->branch_id = run;
    b->first_event_id = first_event;
    b->event_count = 5;
    b->events = td_fx_blob("five-events");
    for (int i = 0; i < n_tasks; i++) {
        t[i].category = TD_STORE_TASK_TRANSFER;
        t[i].task_id = task_id + i;
        t[i].blob = td_fx_blob("t");
    }
    r->in.write.shard_id = shard;
    r->in.write.expected_range_id = range;
    r->in.write.execs = w;
    r->in.write.n_execs = 1;
    r->in.write.current_exec = -1;
    r->in.write.batches = b;
    r->in.write.n_batches = 1;
    r->in.write.tasks = t;
    r->in.write.n_tasks = n_tasks;
    rc = td_store_call(s, r);
    if (keep != NULL) {
        *keep = r;
    } else {
        td_store_req_free(r);
    }
    return rc;
}

static int td_ct_count_batches(td_store_t *s, const char *run)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_HISTORY_READ);
    int n;
    r->in.hist_read.tree_id = run;
    r->in.hist_read.branch_id = run;
    r->in.hist_read.min_event_id = 1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    n = r->out.hist_read.n_batches;
    td_store_req_free(r);
    return n;
}

static int td_ct_count_tasks(td_store_t *s, int32_t shard, int category)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_TASKS_READ);
    int n;
    r->in.tasks_read.shard_id = shard;
    r->in.tasks_read.category = category;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    n = r->out.tasks_read.n_tasks;
    td_store_req_free(r);
    return n;
}

/* ---- cluster, namespaces, shards ---- */

TD_TEST(store_cluster_metadata)
{
    td_store_t *s = td_fx_open();
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_CLUSTER_INIT);
    int32_t shards;

    r->in.cluster.cluster_name = "active";
    r->in.cluster.history_shard_count = 4;
    r->in.cluster.info = td_fx_blob("info");
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    shards = r->out.cluster.history_shard_count;
    TD_CHECK(shards > 0);
    /* a second init with another shard count keeps the first one */
    td_store_req_reset(r, TD_STORE_OP_CLUSTER_INIT);
    r->in.cluster.cluster_name = "other";
    r->in.cluster.history_shard_count = shards + 7;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.cluster.history_shard_count, ==, shards);
    td_store_req_reset(r, TD_STORE_OP_CLUSTER_GET);
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.cluster.history_shard_count, ==, shards);
    TD_CHECK(r->out.cluster.cluster_name[0] != '\0');
    td_store_req_free(r);
    td_store_close(s);
}

TD_TEST(store_namespaces)
{
    td_store_t *s = td_fx_open();
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_NS_CREATE);
    const char *id = td_fx_id("00000000-ns");
    const char *name = td_fx_id("name");
    const char *name2 = td_fx_id("name2");
    int64_t v1, v2;

    r->in.ns.rec.id = id;
    r->in.ns.rec.name = name;
    r->in.ns.rec.detail = td_fx_blob("detail-1");
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    v1 = r->out.ns.rec.notification_version;
    TD_CHECK(v1 > 0);
    /* the same name, or the same id, again: TD_EEXIST */
    td_store_req_reset(r, TD_STORE_OP_NS_CREATE);
    r->in.ns.rec.id = td_fx_id("other-id");
    r->in.ns.rec.name = name;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_EEXIST);
    TD_CHECK(r->err[0] != '\0');
    td_store_req_reset(r, TD_STORE_OP_NS_CREATE);
    r->in.ns.rec.id = id;
    r->in.ns.rec.name = td_fx_id("other-name");
    TD_CHECK_INT(td_store_call(s, r), ==, TD_EEXIST);
    /* get by name and by id */
    td_store_req_reset(r, TD_STORE_OP_NS_GET);
    r->in.ns.rec.name = name;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_STR(r->out.ns.rec.id, id);
    TD_CHECK(td_fx_blob_eq(&r->out.ns.rec.detail, "detail-1"));
    TD_CHECK_INT(r->out.ns.rec.detail.encoding, ==, TD_STORE_ENC_PROTO3);
    td_store_req_reset(r, TD_STORE_OP_NS_GET);
    r->in.ns.rec.id = id;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_STR(r->out.ns.rec.name, name);
    td_store_req_reset(r, TD_STORE_OP_NS_GET);
    r->in.ns.rec.name = "no-such-namespace-anywhere";
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ENOTFOUND);
    /* update: stale version fails with the current one; rename works */
    td_store_req_reset(r, TD_STORE_OP_NS_UPDATE);
    r->in.ns.rec.id = id;
    r->in.ns.rec.name = name2;
    r->in.ns.rec.detail = td_fx_blob("detail-2");
    r->in.ns.rec.notification_version = v1 - 1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ECONDITION);
    TD_CHECK_INT(r->out.ns.cur_version, ==, v1);
    td_store_req_reset(r, TD_STORE_OP_NS_UPDATE);
    r->in.ns.rec.id = id;
    r->in.ns.rec.name = name2;
    r->in.ns.rec.detail = td_fx_blob("detail-2");
    r->in.ns.rec.notification_version = v1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    v2 = r->out.ns.rec.notification_version;
    TD_CHECK(v2 > v1);
    td_store_req_reset(r, TD_STORE_OP_NS_GET);
    r->in.ns.rec.name = name2;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK(td_fx_blob_eq(&r->out.ns.rec.detail, "detail-2"));
    TD_CHECK_INT(r->out.ns.rec.notification_version, ==, v2);
    td_store_req_reset(r, TD_STORE_OP_NS_UPDATE);
    r->in.ns.rec.id = td_fx_id("missing");
    r->in.ns.rec.name = td_fx_id("missing-name");
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ENOTFOUND);
    /* delete */
    td_store_req_reset(r, TD_STORE_OP_NS_DELETE);
    r->in.ns.rec.id = id;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ENOTFOUND);
    td_store_req_free(r);
    td_store_close(s);
}

TD_TEST(store_namespace_list_pages)
{
    td_store_t *s = td_fx_open();
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_NS_CREATE);
    const char *prefix = td_fx_id("list");
    char names[7][96];
    td_store_token_t tok = { NULL, 0 };
    uint8_t tokbuf[256];
    int seen = 0, pages = 0;
    char last[128] = "";

    for (int i = 0; i < 7; i++) {
        td_store_req_reset(r, TD_STORE_OP_NS_CREATE);
        snprintf(names[i], sizeof(names[i]), "%s-%d", prefix, i);
        r->in.ns.rec.id = td_fx_id("id");
        r->in.ns.rec.name = names[i];
        TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    }
    do {
        td_store_req_reset(r, TD_STORE_OP_NS_LIST);
        r->in.ns_list.page_size = 3;
        r->in.ns_list.token = tok;
        TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
        TD_CHECK(r->out.ns_list.n_recs <= 3);
        for (int i = 0; i < r->out.ns_list.n_recs; i++) {
            const char *n = r->out.ns_list.recs[i].name;
            TD_CHECK(strcmp(n, last) > 0); /* ordered by name, no repeats */
            snprintf(last, sizeof(last), "%s", n);
            if (strncmp(n, prefix, strlen(prefix)) == 0) {
                seen++;
            }
        }
        TD_CHECK(r->out.ns_list.next_token.len < sizeof(tokbuf));
        if (r->out.ns_list.next_token.len > 0) {
            memcpy(tokbuf, r->out.ns_list.next_token.data, r->out.ns_list.next_token.len);
        }
        tok.data = tokbuf;
        tok.len = r->out.ns_list.next_token.len;
        pages++;
    } while (tok.len > 0 && pages < 10000);
    TD_CHECK_INT(seen, ==, 7);
    TD_CHECK(pages >= 3);
    /* a garbage token is TD_EINVAL */
    td_store_req_reset(r, TD_STORE_OP_NS_LIST);
    r->in.ns_list.token.data = (const uint8_t *)"garbage";
    r->in.ns_list.token.len = 7;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_EINVAL);
    td_store_req_free(r);
    td_store_close(s);
}

TD_TEST(store_shards)
{
    td_store_t *s = td_fx_open();
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_SHARD_GET_OR_CREATE);
    int32_t shard = td_fx_shard();
    int64_t r1, r2;

    r->in.shard.rec.shard_id = shard;
    r->in.shard.rec.info = td_fx_blob("initial");
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.shard.rec.range_id, ==, 1);
    TD_CHECK(td_fx_blob_eq(&r->out.shard.rec.info, "initial"));
    /* get-or-create again returns the same row */
    td_store_req_reset(r, TD_STORE_OP_SHARD_GET_OR_CREATE);
    r->in.shard.rec.shard_id = shard;
    r->in.shard.rec.info = td_fx_blob("ignored");
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.shard.rec.range_id, ==, 1);
    TD_CHECK(td_fx_blob_eq(&r->out.shard.rec.info, "initial"));
    r1 = td_fx_acquire(s, shard);
    TD_CHECK_INT(r1, ==, 2);
    r2 = td_fx_acquire(s, shard);
    TD_CHECK_INT(r2, ==, 3);
    /* the fenced owner (r1) cannot update; the new one can */
    td_store_req_reset(r, TD_STORE_OP_SHARD_UPDATE);
    r->in.shard.rec.shard_id = shard;
    r->in.shard.rec.range_id = r1;
    r->in.shard.rec.info = td_fx_blob("stale");
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ESHARDLOST);
    TD_CHECK_INT(r->out.shard.cur_range_id, ==, r2);
    td_store_req_reset(r, TD_STORE_OP_SHARD_UPDATE);
    r->in.shard.rec.shard_id = shard;
    r->in.shard.rec.range_id = r2;
    r->in.shard.rec.info = td_fx_blob("acks");
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    td_store_req_reset(r, TD_STORE_OP_SHARD_GET_OR_CREATE);
    r->in.shard.rec.shard_id = shard;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK(td_fx_blob_eq(&r->out.shard.rec.info, "acks"));
    /* a fresh shard acquired directly starts at range 1 */
    TD_CHECK_INT(td_fx_acquire(s, td_fx_shard()), ==, 1);
    td_store_req_free(r);
    td_store_close(s);
}

/* ---- executions ---- */

TD_TEST(store_exec_create_and_conflict)
{
    td_store_t *s = td_fx_open();
    int32_t shard = td_fx_shard();
    int64_t range = td_fx_acquire(s, shard);
    const char *ns = td_fx_id("ns"), *wf = td_fx_id("wf");
    const char *run1 = td_fx_id("run1"), *run2 = td_fx_id("run2");
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_EXEC_GET);
    int64_t v;

    TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, wf, run1, 100), ==, TD_OK);
    /* a second brand-new start conflicts and reports the running run */
    {
        td_store_req_t *w = td_store_req_new(TD_STORE_OP_WRITE);
        td_store_exec_write_t ew;
        memset(&ew, 0, sizeof(ew));
        ew.mode = TD_STORE_EXEC_CREATE_BRAND_NEW;
        ew.row.namespace_id = ns;
        ew.row.workflow_id = wf;
        ew.row.run_id = run2;
        ew.row.db_record_version = 1;
        w->in.write.shard_id = shard;
        w->in.write.expected_range_id = range;
        w->in.write.execs = &ew;
        w->in.write.n_execs = 1;
        w->in.write.current_exec = 0;
        w->in.write.current.run_id = run2;
        w->in.write.current.create_request_id = "req-2";
        TD_CHECK_INT(td_store_call(s, w), ==, TD_EEXIST);
        TD_CHECK_INT(w->out.write.has_current, ==, 1);
        TD_CHECK_STR(w->out.write.current.run_id, run1);
        TD_CHECK_STR(w->out.write.current.create_request_id, "req-1");
        TD_CHECK_INT(w->out.write.current.state, ==, TD_STORE_EXEC_STATE_RUNNING);
        TD_CHECK_INT(w->out.write.failed_exec, ==, 0);
        td_store_req_free(w);
    }
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, run2, &v), ==, TD_ENOTFOUND);
    /* get the current run and get by run id */
    r->in.exec_get.namespace_id = ns;
    r->in.exec_get.workflow_id = wf;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_STR(r->out.exec_get.row.run_id, run1);
    TD_CHECK_INT(r->out.exec_get.row.db_record_version, ==, 1);
    TD_CHECK_INT(r->out.exec_get.row.next_event_id, ==, 3);
    TD_CHECK(td_fx_blob_eq(&r->out.exec_get.row.state_blob, "ms-v1"));
    TD_CHECK_INT(r->out.exec_get.has_current, ==, 1);
    TD_CHECK_STR(r->out.exec_get.current.create_request_id, "req-1");
    td_store_req_reset(r, TD_STORE_OP_EXEC_GET);
    r->in.exec_get.namespace_id = ns;
    r->in.exec_get.workflow_id = td_fx_id("nowf");
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ENOTFOUND);
    td_store_req_free(r);
    td_store_close(s);
}

/* Continue-as-new shape: close run1 (UPDATE) and create run2 replacing it, in one write. */
TD_TEST(store_exec_replace_current)
{
    td_store_t *s = td_fx_open();
    int32_t shard = td_fx_shard();
    int64_t range = td_fx_acquire(s, shard);
    const char *ns = td_fx_id("ns"), *wf = td_fx_id("wf");
    const char *run1 = td_fx_id("run1"), *run2 = td_fx_id("run2"), *run3 = td_fx_id("run3");
    td_store_req_t *w = td_store_req_new(TD_STORE_OP_WRITE);
    td_store_exec_write_t ew[2];
    int64_t v;

    TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, wf, run1, 1), ==, TD_OK);
    memset(ew, 0, sizeof(ew));
    ew[0].mode = TD_STORE_EXEC_UPDATE;
    ew[0].expected_db_record_version = 1;
    ew[0].row.namespace_id = ns;
    ew[0].row.workflow_id = wf;
    ew[0].row.run_id = run1;
    ew[0].row.state = TD_STORE_EXEC_STATE_COMPLETED;
    ew[0].row.status = 6; /* continued as new */
    ew[0].row.db_record_version = 2;
    ew[1].mode = TD_STORE_EXEC_CREATE_REPLACE_CURRENT;
    ew[1].expected_prev_run_id = run3; /* wrong on purpose */
    ew[1].row.namespace_id = ns;
    ew[1].row.workflow_id = wf;
    ew[1].row.run_id = run2;
    ew[1].row.state = TD_STORE_EXEC_STATE_RUNNING;
    ew[1].row.db_record_version = 1;
    w->in.write.shard_id = shard;
    w->in.write.expected_range_id = range;
    w->in.write.execs = ew;
    w->in.write.n_execs = 2;
    w->in.write.current_exec = 1;
    w->in.write.current.run_id = run2;
    w->in.write.current.create_request_id = "req-can";
    w->in.write.current.state = TD_STORE_EXEC_STATE_RUNNING;
    w->in.write.current.status = 1;
    TD_CHECK_INT(td_store_call(s, w), ==, TD_EEXIST);
    TD_CHECK_INT(w->out.write.failed_exec, ==, 1);
    TD_CHECK_STR(w->out.write.current.run_id, run1);
    /* nothing of the failed write is visible: run1 still at version 1 */
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, run1, &v), ==, TD_OK);
    TD_CHECK_INT(v, ==, 1);
    ew[1].expected_prev_run_id = run1;
    td_store_req_reset(w, TD_STORE_OP_WRITE);
    w->in.write.shard_id = shard;
    w->in.write.expected_range_id = range;
    w->in.write.execs = ew;
    w->in.write.n_execs = 2;
    w->in.write.current_exec = 1;
    w->in.write.current.run_id = run2;
    w->in.write.current.create_request_id = "req-can";
    w->in.write.current.state = TD_STORE_EXEC_STATE_RUNNING;
    w->in.write.current.status = 1;
    TD_CHECK_INT(td_store_call(s, w), ==, TD_OK);
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, run1, &v), ==, TD_OK);
    TD_CHECK_INT(v, ==, 2);
    td_store_req_reset(w, TD_STORE_OP_EXEC_GET);
    w->in.exec_get.namespace_id = ns;
    w->in.exec_get.workflow_id = wf;
    TD_CHECK_INT(td_store_call(s, w), ==, TD_OK);
    TD_CHECK_STR(w->out.exec_get.row.run_id, run2);
    TD_CHECK_STR(w->out.exec_get.current.create_request_id, "req-can");
    /* updating the old run while naming it current fails: it is no longer current */
    td_store_req_reset(w, TD_STORE_OP_WRITE);
    ew[0].expected_db_record_version = 2;
    ew[0].row.db_record_version = 3;
    w->in.write.shard_id = shard;
    w->in.write.expected_range_id = range;
    w->in.write.execs = ew;
    w->in.write.n_execs = 1;
    w->in.write.current_exec = 0;
    w->in.write.current.run_id = run1;
    TD_CHECK_INT(td_store_call(s, w), ==, TD_ECONDITION);
    TD_CHECK_STR(w->out.write.current.run_id, run2);
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, run1, &v), ==, TD_OK);
    TD_CHECK_INT(v, ==, 2);
    td_store_req_free(w);
    td_store_close(s);
}

TD_TEST(store_exec_update_conditions)
{
    td_store_t *s = td_fx_open();
    int32_t shard = td_fx_shard();
    int64_t range = td_fx_acquire(s, shard);
    const char *ns = td_fx_id("ns"), *wf = td_fx_id("wf"), *run = td_fx_id("run");
    td_store_req_t *r = NULL;
    int64_t v;

    TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, wf, run, 1), ==, TD_OK);
    TD_CHECK_INT(td_ct_update(s, shard, range, ns, wf, run, 1, 3, 10, 2, NULL), ==, TD_OK);
    /* stale record version: TD_ECONDITION with the current version, nothing written */
    TD_CHECK_INT(td_ct_update(s, shard, range, ns, wf, run, 1, 8, 20, 2, &r), ==, TD_ECONDITION);
    TD_CHECK_INT(r->out.write.cur_db_record_version, ==, 2);
    TD_CHECK_INT(r->out.write.failed_exec, ==, 0);
    TD_CHECK(strstr(r->err, "db_record_version") != NULL);
    td_store_req_free(r);
    /* a missing row: cur version -1 */
    TD_CHECK_INT(td_ct_update(s, shard, range, ns, wf, td_fx_id("none"), 1, 1, 30, 1, &r), ==,
                 TD_ECONDITION);
    TD_CHECK_INT(r->out.write.cur_db_record_version, ==, -1);
    td_store_req_free(r);
    /* stale range: TD_ESHARDLOST with the current range */
    TD_CHECK_INT(td_ct_update(s, shard, range - 1, ns, wf, run, 2, 8, 40, 2, &r), ==,
                 TD_ESHARDLOST);
    TD_CHECK_INT(r->out.write.cur_range_id, ==, range);
    td_store_req_free(r);
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, run, &v), ==, TD_OK);
    TD_CHECK_INT(v, ==, 2);
    TD_CHECK_INT(td_ct_count_batches(s, run), ==, 2);
    TD_CHECK_INT(td_ct_count_tasks(s, shard, TD_STORE_TASK_TRANSFER), ==, 3);
    /* a new owner fences the old one */
    TD_CHECK_INT(td_fx_acquire(s, shard), ==, range + 1);
    TD_CHECK_INT(td_ct_update(s, shard, range, ns, wf, run, 2, 8, 50, 2, NULL), ==, TD_ESHARDLOST);
    TD_CHECK_INT(td_ct_update(s, shard, range + 1, ns, wf, run, 2, 8, 50, 2, NULL), ==, TD_OK);
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, run, &v), ==, TD_OK);
    TD_CHECK_INT(v, ==, 3);
    td_store_close(s);
}

/* The execution update, its history and its tasks commit together or not at all: a batch
 * that collides with an existing one fails the whole write, execution row included. */
TD_TEST(store_write_atomic)
{
    td_store_t *s = td_fx_open();
    int32_t shard = td_fx_shard();
    int64_t range = td_fx_acquire(s, shard);
    const char *ns = td_fx_id("ns"), *wf = td_fx_id("wf"), *run = td_fx_id("run");
    int64_t v;

    TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, wf, run, 1), ==, TD_OK);
    /* history batch at event 1 exists already */
    TD_CHECK_INT(td_ct_update(s, shard, range, ns, wf, run, 1, 1, 10, 2, NULL), ==, TD_ECONDITION);
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, run, &v), ==, TD_OK);
    TD_CHECK_INT(v, ==, 1);
    TD_CHECK_INT(td_ct_count_tasks(s, shard, TD_STORE_TASK_TRANSFER), ==, 1);
    /* a task id that exists already */
    TD_CHECK_INT(td_ct_update(s, shard, range, ns, wf, run, 1, 3, 1, 2, NULL), ==, TD_ECONDITION);
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, run, &v), ==, TD_OK);
    TD_CHECK_INT(v, ==, 1);
    TD_CHECK_INT(td_ct_count_batches(s, run), ==, 1);
    TD_CHECK_INT(td_ct_count_tasks(s, shard, TD_STORE_TASK_TRANSFER), ==, 1);
    td_store_close(s);
}

TD_TEST(store_exec_delete)
{
    td_store_t *s = td_fx_open();
    int32_t shard = td_fx_shard();
    int64_t range = td_fx_acquire(s, shard);
    const char *ns = td_fx_id("ns"), *wf = td_fx_id("wf"), *run = td_fx_id("run");
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_EXEC_DELETE);
    int64_t v;

    TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, wf, run, 1), ==, TD_OK);
    r->in.exec_del.shard_id = shard;
    r->in.exec_del.expected_range_id = range + 5;
    r->in.exec_del.namespace_id = ns;
    r->in.exec_del.workflow_id = wf;
    r->in.exec_del.run_id = run;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ESHARDLOST);
    r->in.exec_del.expected_range_id = range;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, run, &v), ==, TD_ENOTFOUND);
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, NULL, &v), ==, TD_ENOTFOUND);
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ENOTFOUND);
    /* the workflow id is free again */
    TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, wf, td_fx_id("run2"), 2), ==, TD_OK);
    td_store_req_free(r);
    td_store_close(s);
}

/* ---- history ---- */

TD_TEST(store_history_pages)
{
    td_store_t *s = td_fx_open();
    int32_t shard = td_fx_shard();
    int64_t range = td_fx_acquire(s, shard);
    const char *ns = td_fx_id("ns"), *wf = td_fx_id("wf"), *run = td_fx_id("run");
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_HISTORY_READ);
    uint8_t tok[64];
    size_t toklen = 0;
    int64_t next = 3, expect;
    int pages = 0, batches = 0;

    TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, wf, run, 1), ==, TD_OK);
    /* batches: [1,2] then ten of 5 events: 3..7, 8..12, ..., 48..52 */
    for (int i = 0; i < 10; i++, next += 5) {
        TD_CHECK_INT(td_ct_update(s, shard, range, ns, wf, run, i + 1, next, 100 + i * 2, 0, NULL),
                     ==, TD_OK);
    }
    /* whole branch in pages of 10 events: a page ends after the batch reaching 10 */
    expect = 1;
    do {
        td_store_req_reset(r, TD_STORE_OP_HISTORY_READ);
        r->in.hist_read.tree_id = run;
        r->in.hist_read.branch_id = run;
        r->in.hist_read.min_event_id = 1;
        r->in.hist_read.page_size = 10;
        r->in.hist_read.token.data = tok;
        r->in.hist_read.token.len = toklen;
        TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
        TD_CHECK(r->out.hist_read.n_batches > 0);
        for (int i = 0; i < r->out.hist_read.n_batches; i++) {
            TD_CHECK_INT(r->out.hist_read.batches[i].first_event_id, ==, expect);
            expect += r->out.hist_read.batches[i].event_count;
            batches++;
        }
        toklen = r->out.hist_read.next_token.len;
        TD_CHECK(toklen <= sizeof(tok));
        if (toklen > 0) {
            memcpy(tok, r->out.hist_read.next_token.data, toklen);
        }
        pages++;
    } while (toklen > 0 && pages < 100);
    TD_CHECK_INT(batches, ==, 11);
    TD_CHECK_INT(expect, ==, 53);
    TD_CHECK_INT(pages, ==, 5);
    /* a range [10, 23): starts inside batch 8..12, stops before 23 */
    td_store_req_reset(r, TD_STORE_OP_HISTORY_READ);
    r->in.hist_read.tree_id = run;
    r->in.hist_read.branch_id = run;
    r->in.hist_read.min_event_id = 10;
    r->in.hist_read.max_event_id = 23;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.hist_read.n_batches, ==, 3);
    TD_CHECK_INT(r->out.hist_read.batches[0].first_event_id, ==, 8);
    TD_CHECK_INT(r->out.hist_read.batches[2].first_event_id, ==, 18);
    TD_CHECK(td_fx_blob_eq(&r->out.hist_read.batches[1].events, "five-events"));
    TD_CHECK_INT(r->out.hist_read.next_token.len, ==, 0);
    /* bad token */
    td_store_req_reset(r, TD_STORE_OP_HISTORY_READ);
    r->in.hist_read.tree_id = run;
    r->in.hist_read.branch_id = run;
    r->in.hist_read.token.data = (const uint8_t *)"xyz";
    r->in.hist_read.token.len = 3;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_EINVAL);
    /* delete the branch */
    td_store_req_reset(r, TD_STORE_OP_HISTORY_DELETE);
    r->in.hist_del.tree_id = run;
    r->in.hist_del.branch_id = run;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(td_ct_count_batches(s, run), ==, 0);
    td_store_req_free(r);
    td_store_close(s);
}

/* ---- history tasks ---- */

static int td_ct_put_tasks(td_store_t *s, int32_t shard, int64_t range, const td_store_task_t *t,
                           int n)
{
    td_store_req_t *w = td_store_req_new(TD_STORE_OP_WRITE);
    int rc;
    w->in.write.shard_id = shard;
    w->in.write.expected_range_id = range;
    w->in.write.current_exec = -1;
    w->in.write.tasks = t;
    w->in.write.n_tasks = n;
    rc = td_store_call(s, w);
    td_store_req_free(w);
    return rc;
}

TD_TEST(store_tasks_queues)
{
    td_store_t *s = td_fx_open();
    int32_t shard = td_fx_shard();
    int64_t range = td_fx_acquire(s, shard);
    td_store_task_t t[40];
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_TASKS_READ);
    uint8_t tok[64];
    size_t toklen = 0;
    int64_t want = 5;
    int pages = 0;

    memset(t, 0, sizeof(t));
    for (int i = 0; i < 20; i++) {
        t[i].category = TD_STORE_TASK_TRANSFER;
        t[i].task_id = 5 + i;
        t[i].blob = td_fx_blob("xfer");
        t[20 + i].category = i % 2 ? TD_STORE_TASK_VISIBILITY : TD_STORE_TASK_TIMER;
        t[20 + i].task_id = 100 + i;
        t[20 + i].fire_time_ns = 1000 - (int64_t)i * 10; /* later ids fire earlier */
        t[20 + i].blob = td_fx_blob("other");
    }
    TD_CHECK_INT(td_ct_put_tasks(s, shard, range, t, 40), ==, TD_OK);
    TD_CHECK_INT(td_ct_put_tasks(s, shard, range - 1, t, 1), ==, TD_ESHARDLOST);
    /* transfer tasks in pages of 6, in task id order */
    do {
        td_store_req_reset(r, TD_STORE_OP_TASKS_READ);
        r->in.tasks_read.shard_id = shard;
        r->in.tasks_read.category = TD_STORE_TASK_TRANSFER;
        r->in.tasks_read.min_task_id = 5;
        r->in.tasks_read.page_size = 6;
        r->in.tasks_read.token.data = tok;
        r->in.tasks_read.token.len = toklen;
        TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
        for (int i = 0; i < r->out.tasks_read.n_tasks; i++) {
            TD_CHECK_INT(r->out.tasks_read.tasks[i].task_id, ==, want);
            TD_CHECK(td_fx_blob_eq(&r->out.tasks_read.tasks[i].blob, "xfer"));
            want++;
        }
        toklen = r->out.tasks_read.next_token.len;
        if (toklen > 0) {
            memcpy(tok, r->out.tasks_read.next_token.data, toklen);
        }
        pages++;
    } while (toklen > 0 && pages < 100);
    TD_CHECK_INT(want, ==, 25);
    TD_CHECK_INT(pages, ==, 4);
    /* a bounded range [10, 13) */
    td_store_req_reset(r, TD_STORE_OP_TASKS_READ);
    r->in.tasks_read.shard_id = shard;
    r->in.tasks_read.category = TD_STORE_TASK_TRANSFER;
    r->in.tasks_read.min_task_id = 10;
    r->in.tasks_read.max_task_id = 13;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.tasks_read.n_tasks, ==, 3);
    /* timers by fire time: ids 118,116,...,100 fire at 820..1000; read fire < 900 */
    td_store_req_reset(r, TD_STORE_OP_TASKS_READ);
    r->in.tasks_read.shard_id = shard;
    r->in.tasks_read.category = TD_STORE_TASK_TIMER;
    r->in.tasks_read.max_fire_ns = 900;
    r->in.tasks_read.page_size = 3;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.tasks_read.n_tasks, ==, 3);
    TD_CHECK_INT(r->out.tasks_read.tasks[0].fire_time_ns, ==, 820);
    TD_CHECK_INT(r->out.tasks_read.tasks[0].task_id, ==, 118);
    TD_CHECK_INT(r->out.tasks_read.tasks[2].fire_time_ns, ==, 860);
    TD_CHECK(r->out.tasks_read.next_token.len > 0);
    toklen = r->out.tasks_read.next_token.len;
    if (toklen > 0) {
        memcpy(tok, r->out.tasks_read.next_token.data, toklen);
    }
    td_store_req_reset(r, TD_STORE_OP_TASKS_READ);
    r->in.tasks_read.shard_id = shard;
    r->in.tasks_read.category = TD_STORE_TASK_TIMER;
    r->in.tasks_read.max_fire_ns = 900;
    r->in.tasks_read.page_size = 3;
    r->in.tasks_read.token.data = tok;
    r->in.tasks_read.token.len = toklen;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.tasks_read.n_tasks, ==, 1);
    TD_CHECK_INT(r->out.tasks_read.tasks[0].fire_time_ns, ==, 880);
    TD_CHECK_INT(r->out.tasks_read.tasks[0].task_id, ==, 112);
    TD_CHECK_INT(r->out.tasks_read.next_token.len, ==, 0);
    /* delete below ack levels */
    td_store_req_reset(r, TD_STORE_OP_TASKS_DELETE);
    r->in.tasks_del.shard_id = shard;
    r->in.tasks_del.category = TD_STORE_TASK_TRANSFER;
    r->in.tasks_del.ack_task_id = 15;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(td_ct_count_tasks(s, shard, TD_STORE_TASK_TRANSFER), ==, 10);
    td_store_req_reset(r, TD_STORE_OP_TASKS_DELETE);
    r->in.tasks_del.shard_id = shard;
    r->in.tasks_del.category = TD_STORE_TASK_TIMER;
    r->in.tasks_del.ack_fire_ns = 860;
    r->in.tasks_del.ack_task_id = 114; /* (860, 114) itself stays */
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(td_ct_count_tasks(s, shard, TD_STORE_TASK_TIMER), ==, 8);
    TD_CHECK_INT(td_ct_count_tasks(s, shard, TD_STORE_TASK_VISIBILITY), ==, 10);
    td_store_req_reset(r, TD_STORE_OP_TASKS_DELETE);
    r->in.tasks_del.shard_id = shard;
    r->in.tasks_del.category = TD_STORE_TASK_VISIBILITY;
    r->in.tasks_del.ack_task_id = 1000;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(td_ct_count_tasks(s, shard, TD_STORE_TASK_VISIBILITY), ==, 0);
    /* other shards are untouched */
    TD_CHECK_INT(td_ct_count_tasks(s, shard + 1, TD_STORE_TASK_TRANSFER), ==, 0);
    td_store_req_free(r);
    td_store_close(s);
}
