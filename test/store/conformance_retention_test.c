/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Conformance: the store operations retention relies on, on every backend. A close that
 * continues into a new run is one write (the closed row, the new row replacing the current
 * pointer, the new run's history, a retention timer due far ahead); then the closed run is
 * deleted by EXEC_DELETE, HISTORY_DELETE and VIS_DELETE: its row, history and visibility
 * record go while the successor's row, current pointer, history and record stay, the timer
 * reads back with its due time until it is acknowledged, and every delete repeated finds
 * nothing and harms nothing (a retention task that is retried after a crash).
 */
#include "test.h"

#include <string.h>

#include "error.h"
#include "store_fixture.h"

static int td_cr_batches(td_store_t *s, const char *run)
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

static void td_cr_vis_upsert(td_store_t *s, const char *ns, const char *wf, const char *run,
                             int64_t close_ns)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_VIS_UPSERT);

    r->in.vis.namespace_id = ns;
    r->in.vis.workflow_id = wf;
    r->in.vis.run_id = run;
    r->in.vis.workflow_type = "Greet";
    r->in.vis.task_queue = "tq";
    r->in.vis.start_time_ns = 1000;
    r->in.vis.execution_time_ns = 1000;
    r->in.vis.close_time_ns = close_ns;
    r->in.vis.status = close_ns != 0 ? 6 /* CONTINUED_AS_NEW */ : 1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    td_store_req_free(r);
}

/* Visibility records of ns naming run (or all of ns when run is NULL). */
static int td_cr_vis(td_store_t *s, const char *ns, const char *run)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_VIS_LIST);
    int n = 0;

    r->in.vis_query.namespace_id = ns;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    for (int i = 0; i < r->out.vis_list.n_recs; i++) {
        n += run == NULL || strcmp(r->out.vis_list.recs[i].run_id, run) == 0;
    }
    td_store_req_free(r);
    return n;
}

TD_TEST(store_retention_delete_closed_run)
{
    td_store_t *s = td_fx_open();
    int32_t shard = td_fx_shard();
    int64_t range = td_fx_acquire(s, shard);
    const char *ns = td_fx_id("ns"), *wf = td_fx_id("wf");
    const char *run1 = td_fx_id("run1"), *run2 = td_fx_id("run2");
    const int64_t due = INT64_C(1700000000) * 1000000000 + INT64_C(30) * 86400 * 1000000000;
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_WRITE);
    td_store_exec_write_t w[2];
    td_store_history_batch_t b;
    td_store_task_t t;
    int64_t v;
    int rc;

    TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, wf, run1, 1), ==, TD_OK);
    /* one write: run1 closes into run2, with run1's retention timer */
    memset(w, 0, sizeof(w));
    memset(&b, 0, sizeof(b));
    memset(&t, 0, sizeof(t));
    w[0].mode = TD_STORE_EXEC_UPDATE;
    w[0].expected_db_record_version = 1;
    w[0].row = (td_store_execution_t){ ns, wf, run1, TD_STORE_EXEC_STATE_COMPLETED, 6,
                                       5,  2,  0,    td_fx_blob("ms-closed") };
    w[1].mode = TD_STORE_EXEC_CREATE_REPLACE_CURRENT;
    w[1].expected_prev_run_id = run1;
    w[1].row = (td_store_execution_t){ ns, wf, run2, TD_STORE_EXEC_STATE_RUNNING, 1,
                                       3,  1,  0,    td_fx_blob("ms-next") };
    b.tree_id = b.branch_id = run2;
    b.first_event_id = 1;
    b.event_count = 2;
    b.events = td_fx_blob("events-of-run2");
    t.category = TD_STORE_TASK_TIMER;
    t.task_id = 7;
    t.fire_time_ns = due;
    t.blob = td_fx_blob("delete-history");
    r->in.write.shard_id = shard;
    r->in.write.expected_range_id = range;
    r->in.write.execs = w;
    r->in.write.n_execs = 2;
    r->in.write.current_exec = 1;
    r->in.write.current = (td_store_current_t){ run2, "req-2", TD_STORE_EXEC_STATE_RUNNING, 1 };
    r->in.write.batches = &b;
    r->in.write.n_batches = 1;
    r->in.write.tasks = &t;
    r->in.write.n_tasks = 1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    td_cr_vis_upsert(s, ns, wf, run1, 2000);
    td_cr_vis_upsert(s, ns, wf, run2, 0);

    /* the retention timer reads back with its due time */
    td_store_req_reset(r, TD_STORE_OP_TASKS_READ);
    r->in.tasks_read.shard_id = shard;
    r->in.tasks_read.category = TD_STORE_TASK_TIMER;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.tasks_read.n_tasks, ==, 1);
    TD_CHECK_INT(r->out.tasks_read.tasks[0].fire_time_ns, ==, due);
    TD_CHECK_INT(r->out.tasks_read.tasks[0].task_id, ==, 7);
    TD_CHECK(td_fx_blob_eq(&r->out.tasks_read.tasks[0].blob, "delete-history"));

    /* delete the closed run: row, history, visibility */
    td_store_req_reset(r, TD_STORE_OP_EXEC_DELETE);
    r->in.exec_del.shard_id = shard;
    r->in.exec_del.expected_range_id = range;
    r->in.exec_del.namespace_id = ns;
    r->in.exec_del.workflow_id = wf;
    r->in.exec_del.run_id = run1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, run1, &v), ==, TD_ENOTFOUND);
    /* the successor keeps its row and the current pointer */
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, run2, &v), ==, TD_OK);
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, NULL, &v), ==, TD_OK);
    TD_CHECK_INT(v, ==, 1);
    td_store_req_reset(r, TD_STORE_OP_HISTORY_DELETE);
    r->in.hist_del.tree_id = run1;
    r->in.hist_del.branch_id = run1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(td_cr_batches(s, run1), ==, 0);
    TD_CHECK_INT(td_cr_batches(s, run2), ==, 1);
    td_store_req_reset(r, TD_STORE_OP_VIS_DELETE);
    r->in.vis.namespace_id = ns;
    r->in.vis.workflow_id = wf;
    r->in.vis.run_id = run1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(td_cr_vis(s, ns, run1), ==, 0);
    TD_CHECK_INT(td_cr_vis(s, ns, run2), ==, 1);

    /* all three again (a retried deletion): nothing left, nothing else touched */
    td_store_req_reset(r, TD_STORE_OP_EXEC_DELETE);
    r->in.exec_del.shard_id = shard;
    r->in.exec_del.expected_range_id = range;
    r->in.exec_del.namespace_id = ns;
    r->in.exec_del.workflow_id = wf;
    r->in.exec_del.run_id = run1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ENOTFOUND);
    td_store_req_reset(r, TD_STORE_OP_HISTORY_DELETE);
    r->in.hist_del.tree_id = run1;
    r->in.hist_del.branch_id = run1;
    rc = td_store_call(s, r);
    TD_CHECK(rc == TD_OK || rc == TD_ENOTFOUND);
    td_store_req_reset(r, TD_STORE_OP_VIS_DELETE);
    r->in.vis.namespace_id = ns;
    r->in.vis.workflow_id = wf;
    r->in.vis.run_id = run1;
    rc = td_store_call(s, r);
    TD_CHECK(rc == TD_OK || rc == TD_ENOTFOUND);
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, NULL, &v), ==, TD_OK);
    TD_CHECK_INT(td_cr_batches(s, run2), ==, 1);
    TD_CHECK_INT(td_cr_vis(s, ns, NULL), ==, 1);

    /* the timer, acknowledged, goes from the queue */
    td_store_req_reset(r, TD_STORE_OP_TASKS_DELETE);
    r->in.tasks_del.shard_id = shard;
    r->in.tasks_del.category = TD_STORE_TASK_TIMER;
    r->in.tasks_del.ack_fire_ns = due;
    r->in.tasks_del.ack_task_id = 8;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    td_store_req_reset(r, TD_STORE_OP_TASKS_READ);
    r->in.tasks_read.shard_id = shard;
    r->in.tasks_read.category = TD_STORE_TASK_TIMER;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.tasks_read.n_tasks, ==, 0);

    /* the closed run's workflow id, once the successor is deleted too, is free */
    td_store_req_reset(r, TD_STORE_OP_EXEC_DELETE);
    r->in.exec_del.shard_id = shard;
    r->in.exec_del.expected_range_id = range;
    r->in.exec_del.namespace_id = ns;
    r->in.exec_del.workflow_id = wf;
    r->in.exec_del.run_id = run2;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(td_fx_get_version(s, ns, wf, NULL, &v), ==, TD_ENOTFOUND);
    TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, wf, td_fx_id("run3"), 9), ==, TD_OK);
    td_store_req_free(r);
    td_store_close(s);
}
