/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store conformance, second part: task queues and their backlog, visibility records with
 * filters, ordering and pagination, completions on the event loop, group commit isolation
 * and concurrent writers. Same rules as conformance_test.c.
 */
#include "test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "loop.h"
#include "store_fixture.h"

/* ---- task queues ---- */

TD_TEST(store_task_queue_lease_and_backlog)
{
    td_store_t *s = td_fx_open();
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_TQ_ACQUIRE);
    const char *ns = td_fx_id("ns"), *tq = td_fx_id("tq");
    td_store_backlog_task_t bt[10];
    int64_t lease;

    r->in.tq.rec.namespace_id = ns;
    r->in.tq.rec.name = tq;
    r->in.tq.rec.type = TD_STORE_TQ_TYPE_ACTIVITY;
    r->in.tq.rec.kind = TD_STORE_TQ_KIND_NORMAL;
    r->in.tq.rec.info = td_fx_blob("tq-info");
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.tq.rec.range_id, ==, 1);
    TD_CHECK_INT(r->out.tq.rec.ack_level, ==, 0);
    TD_CHECK(td_fx_blob_eq(&r->out.tq.rec.info, "tq-info"));
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    lease = r->out.tq.rec.range_id;
    TD_CHECK_INT(lease, ==, 2);
    /* the same name with the other type is another queue */
    td_store_req_reset(r, TD_STORE_OP_TQ_GET);
    r->in.tq.rec.namespace_id = ns;
    r->in.tq.rec.name = tq;
    r->in.tq.rec.type = TD_STORE_TQ_TYPE_WORKFLOW;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ENOTFOUND);
    /* backlog insert under the lease; a stale lease is refused */
    memset(bt, 0, sizeof(bt));
    for (int i = 0; i < 10; i++) {
        bt[i].task_id = lease * 1000 + i;
        bt[i].blob = td_fx_blob("activity-task");
    }
    td_store_req_reset(r, TD_STORE_OP_BACKLOG_INSERT);
    r->in.backlog_ins.namespace_id = ns;
    r->in.backlog_ins.name = tq;
    r->in.backlog_ins.type = TD_STORE_TQ_TYPE_ACTIVITY;
    r->in.backlog_ins.range_id = lease - 1;
    r->in.backlog_ins.tasks = bt;
    r->in.backlog_ins.n_tasks = 10;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ECONDITION);
    TD_CHECK_INT(r->out.tq.cur_range_id, ==, lease);
    r->in.backlog_ins.range_id = lease;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    /* a duplicate task id fails the whole insert */
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ECONDITION);
    /* read from the ack level, bounded */
    td_store_req_reset(r, TD_STORE_OP_BACKLOG_READ);
    r->in.backlog_read.namespace_id = ns;
    r->in.backlog_read.name = tq;
    r->in.backlog_read.type = TD_STORE_TQ_TYPE_ACTIVITY;
    r->in.backlog_read.min_task_id = lease * 1000 + 3;
    r->in.backlog_read.limit = 4;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.backlog_read.n_tasks, ==, 4);
    TD_CHECK_INT(r->out.backlog_read.tasks[0].task_id, ==, lease * 1000 + 3);
    TD_CHECK_INT(r->out.backlog_read.tasks[3].task_id, ==, lease * 1000 + 6);
    TD_CHECK(td_fx_blob_eq(&r->out.backlog_read.tasks[2].blob, "activity-task"));
    /* delete below the ack level, then update the queue's ack level under the lease */
    td_store_req_reset(r, TD_STORE_OP_BACKLOG_DELETE);
    r->in.backlog_del.namespace_id = ns;
    r->in.backlog_del.name = tq;
    r->in.backlog_del.type = TD_STORE_TQ_TYPE_ACTIVITY;
    r->in.backlog_del.ack_level = lease * 1000 + 7;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    td_store_req_reset(r, TD_STORE_OP_BACKLOG_READ);
    r->in.backlog_read.namespace_id = ns;
    r->in.backlog_read.name = tq;
    r->in.backlog_read.type = TD_STORE_TQ_TYPE_ACTIVITY;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.backlog_read.n_tasks, ==, 3);
    TD_CHECK_INT(r->out.backlog_read.tasks[0].task_id, ==, lease * 1000 + 7);
    td_store_req_reset(r, TD_STORE_OP_TQ_UPDATE);
    r->in.tq.rec.namespace_id = ns;
    r->in.tq.rec.name = tq;
    r->in.tq.rec.type = TD_STORE_TQ_TYPE_ACTIVITY;
    r->in.tq.rec.range_id = lease;
    r->in.tq.rec.ack_level = lease * 1000 + 7;
    r->in.tq.rec.info = td_fx_blob("tq-info-2");
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    /* a new lease holder fences the old one */
    td_store_req_reset(r, TD_STORE_OP_TQ_ACQUIRE);
    r->in.tq.rec.namespace_id = ns;
    r->in.tq.rec.name = tq;
    r->in.tq.rec.type = TD_STORE_TQ_TYPE_ACTIVITY;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.tq.rec.range_id, ==, lease + 1);
    TD_CHECK_INT(r->out.tq.rec.ack_level, ==, lease * 1000 + 7);
    TD_CHECK(td_fx_blob_eq(&r->out.tq.rec.info, "tq-info-2"));
    td_store_req_reset(r, TD_STORE_OP_TQ_UPDATE);
    r->in.tq.rec.namespace_id = ns;
    r->in.tq.rec.name = tq;
    r->in.tq.rec.type = TD_STORE_TQ_TYPE_ACTIVITY;
    r->in.tq.rec.range_id = lease;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ECONDITION);
    TD_CHECK_INT(r->out.tq.cur_range_id, ==, lease + 1);
    /* delete the queue (under the lease) removes its backlog */
    td_store_req_reset(r, TD_STORE_OP_TQ_DELETE);
    r->in.tq.rec.namespace_id = ns;
    r->in.tq.rec.name = tq;
    r->in.tq.rec.type = TD_STORE_TQ_TYPE_ACTIVITY;
    r->in.tq.rec.range_id = lease + 1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    td_store_req_reset(r, TD_STORE_OP_BACKLOG_READ);
    r->in.backlog_read.namespace_id = ns;
    r->in.backlog_read.name = tq;
    r->in.backlog_read.type = TD_STORE_TQ_TYPE_ACTIVITY;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.backlog_read.n_tasks, ==, 0);
    td_store_req_reset(r, TD_STORE_OP_BACKLOG_INSERT);
    r->in.backlog_ins.namespace_id = ns;
    r->in.backlog_ins.name = tq;
    r->in.backlog_ins.type = TD_STORE_TQ_TYPE_ACTIVITY;
    r->in.backlog_ins.range_id = lease + 1;
    r->in.backlog_ins.tasks = bt;
    r->in.backlog_ins.n_tasks = 1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ENOTFOUND);
    td_store_req_free(r);
    td_store_close(s);
}

/* ---- visibility ---- */

static void td_cv_put(td_store_t *s, int op, const char *ns, const char *run, const char *wf,
                      const char *type, int64_t start, int64_t close, int status,
                      const td_store_sa_t *sas, int n_sas)
{
    td_store_req_t *r = td_store_req_new(op);
    r->in.vis.namespace_id = ns;
    r->in.vis.run_id = run;
    r->in.vis.workflow_id = wf;
    r->in.vis.workflow_type = type;
    r->in.vis.task_queue = "tq";
    r->in.vis.start_time_ns = start;
    r->in.vis.execution_time_ns = start;
    r->in.vis.close_time_ns = close;
    r->in.vis.status = status;
    r->in.vis.history_length = 10;
    r->in.vis.memo = td_fx_blob("memo");
    r->in.vis.search_attributes = td_fx_blob("sa-payloads");
    r->in.vis.sas = sas;
    r->in.vis.n_sas = n_sas;
    if (td_store_call(s, r) != TD_OK) {
        td_test_fail(__FILE__, __LINE__, "visibility put %s: %s", run, r->err);
    }
    td_store_req_free(r);
}

static int64_t td_cv_count(td_store_t *s, const char *ns, const td_store_vfilter_t *f)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_VIS_COUNT);
    int64_t n;
    r->in.vis_query.namespace_id = ns;
    r->in.vis_query.filter = f;
    if (td_store_call(s, r) != TD_OK) {
        td_test_fail(__FILE__, __LINE__, "visibility count: %s", r->err);
    }
    n = r->out.vis_count;
    td_store_req_free(r);
    return n;
}

static td_store_vfilter_t td_cv_cmp(const char *field, int op, int type, int64_t i, const char *str)
{
    td_store_vfilter_t f;
    memset(&f, 0, sizeof(f));
    f.kind = TD_STORE_VF_CMP;
    f.field = field;
    f.op = op;
    f.value.type = type;
    f.value.i = i;
    f.value.s = str;
    return f;
}

TD_TEST(store_visibility)
{
    td_store_t *s = td_fx_open();
    const char *ns = td_fx_id("ns");
    char runs[20][64];
    td_store_sa_t sa[3];
    td_store_vfilter_t f1, f2, f3, fand, for_, fnot;
    const td_store_vfilter_t *args[2];
    td_store_req_t *r;
    uint8_t tok[256];
    size_t toklen = 0;
    int pages = 0, seen = 0;
    int64_t prev_key = INT64_MAX;

    /* 20 runs: even ones closed at 2000+i, odd ones running; start 1000+i */
    for (int i = 0; i < 20; i++) {
        snprintf(runs[i], sizeof(runs[i]), "run-%02d", i);
        memset(sa, 0, sizeof(sa));
        sa[0].name = "CustomIntField";
        sa[0].type = TD_STORE_SA_INT;
        sa[0].i = i;
        sa[1].name = "CustomKeywordList";
        sa[1].type = TD_STORE_SA_KEYWORD_LIST;
        sa[1].s = i % 3 == 0 ? "red" : "blue";
        sa[2].name = "CustomKeywordList";
        sa[2].type = TD_STORE_SA_KEYWORD_LIST;
        sa[2].s = "green";
        td_cv_put(s, TD_STORE_OP_VIS_UPSERT, ns, runs[i], i < 10 ? "wf-a" : "wf-b",
                  i % 2 ? "TypeOdd" : "TypeEven", 1000 + i, 0, 1, sa, 3);
    }
    for (int i = 0; i < 20; i += 2) {
        sa[0].name = "CustomIntField";
        sa[0].type = TD_STORE_SA_INT;
        sa[0].i = i;
        td_cv_put(s, TD_STORE_OP_VIS_CLOSE, ns, runs[i], i < 10 ? "wf-a" : "wf-b", "TypeEven",
                  1000 + i, 2000 + i, 2, sa, 1);
    }
    /* closing an unknown run is TD_ENOTFOUND */
    r = td_store_req_new(TD_STORE_OP_VIS_CLOSE);
    r->in.vis.namespace_id = ns;
    r->in.vis.run_id = "nope";
    r->in.vis.workflow_id = "nope";
    TD_CHECK_INT(td_store_call(s, r), ==, TD_ENOTFOUND);
    td_store_req_free(r);

    TD_CHECK_INT(td_cv_count(s, ns, NULL), ==, 20);
    TD_CHECK_INT(td_cv_count(s, td_fx_id("other-ns"), NULL), ==, 0);
    f1 = td_cv_cmp("ExecutionStatus", TD_STORE_VF_EQ, TD_STORE_SA_INT, 1, NULL);
    TD_CHECK_INT(td_cv_count(s, ns, &f1), ==, 10);
    f2 = td_cv_cmp("WorkflowId", TD_STORE_VF_EQ, TD_STORE_SA_KEYWORD, 0, "wf-a");
    TD_CHECK_INT(td_cv_count(s, ns, &f2), ==, 10);
    args[0] = &f1;
    args[1] = &f2;
    memset(&fand, 0, sizeof(fand));
    fand.kind = TD_STORE_VF_AND;
    fand.args = args;
    fand.n_args = 2;
    TD_CHECK_INT(td_cv_count(s, ns, &fand), ==, 5);
    for_ = fand;
    for_.kind = TD_STORE_VF_OR;
    TD_CHECK_INT(td_cv_count(s, ns, &for_), ==, 15);
    memset(&fnot, 0, sizeof(fnot));
    fnot.kind = TD_STORE_VF_NOT;
    fnot.args = args;
    fnot.n_args = 1;
    TD_CHECK_INT(td_cv_count(s, ns, &fnot), ==, 10);
    f3 = td_cv_cmp("CloseTime", TD_STORE_VF_IS_NULL, TD_STORE_SA_DATETIME, 0, NULL);
    TD_CHECK_INT(td_cv_count(s, ns, &f3), ==, 10);
    f3 = td_cv_cmp("StartTime", TD_STORE_VF_GE, TD_STORE_SA_DATETIME, 1015, NULL);
    TD_CHECK_INT(td_cv_count(s, ns, &f3), ==, 5);
    f3 = td_cv_cmp("WorkflowType", TD_STORE_VF_STARTS_WITH, TD_STORE_SA_KEYWORD, 0, "TypeO");
    TD_CHECK_INT(td_cv_count(s, ns, &f3), ==, 10);
    /* custom attributes: closed runs were re-indexed with CustomIntField only */
    f3 = td_cv_cmp("CustomIntField", TD_STORE_VF_LT, TD_STORE_SA_INT, 6, NULL);
    TD_CHECK_INT(td_cv_count(s, ns, &f3), ==, 6);
    f3 = td_cv_cmp("CustomKeywordList", TD_STORE_VF_EQ, TD_STORE_SA_KEYWORD_LIST, 0, "green");
    TD_CHECK_INT(td_cv_count(s, ns, &f3), ==, 10);
    f3 = td_cv_cmp("CustomKeywordList", TD_STORE_VF_EQ, TD_STORE_SA_KEYWORD_LIST, 0, "red");
    TD_CHECK_INT(td_cv_count(s, ns, &f3), ==, 3); /* odd multiples of 3: 3, 9, 15 */
    f3 = td_cv_cmp("CustomKeywordList", TD_STORE_VF_IS_NULL, TD_STORE_SA_KEYWORD_LIST, 0, NULL);
    TD_CHECK_INT(td_cv_count(s, ns, &f3), ==, 10);

    /* default order: running first (by start desc), then closed by close time desc */
    do {
        r = td_store_req_new(TD_STORE_OP_VIS_LIST);
        r->in.vis_query.namespace_id = ns;
        r->in.vis_query.page_size = 7;
        r->in.vis_query.token.data = tok;
        r->in.vis_query.token.len = toklen;
        TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
        for (int i = 0; i < r->out.vis_list.n_recs; i++) {
            const td_store_visibility_t *v = &r->out.vis_list.recs[i];
            int64_t key =
                    v->close_time_ns ? v->close_time_ns * 10 : INT64_MAX - 5000 + v->start_time_ns;
            TD_CHECK(key < prev_key);
            prev_key = key;
            TD_CHECK(td_fx_blob_eq(&v->memo, "memo"));
            TD_CHECK(td_fx_blob_eq(&v->search_attributes, "sa-payloads"));
            if (seen == 0) {
                TD_CHECK_STR(v->run_id, "run-19");
            }
            if (seen == 10) {
                TD_CHECK_STR(v->run_id, "run-18");
                TD_CHECK_INT(v->close_time_ns, ==, 2018);
                TD_CHECK_INT(v->status, ==, 2);
            }
            seen++;
        }
        toklen = r->out.vis_list.next_token.len;
        TD_CHECK(toklen <= sizeof(tok));
        if (toklen > 0) {
            memcpy(tok, r->out.vis_list.next_token.data, toklen);
        }
        td_store_req_free(r);
        pages++;
    } while (toklen > 0 && pages < 50);
    TD_CHECK_INT(seen, ==, 20);
    TD_CHECK_INT(pages, ==, 3);
    /* start-time ascending with a filter, paged */
    toklen = 0;
    seen = 0;
    pages = 0;
    do {
        r = td_store_req_new(TD_STORE_OP_VIS_LIST);
        r->in.vis_query.namespace_id = ns;
        r->in.vis_query.filter = &f2;
        r->in.vis_query.order = TD_STORE_VORDER_START_TIME_ASC;
        r->in.vis_query.page_size = 4;
        r->in.vis_query.token.data = tok;
        r->in.vis_query.token.len = toklen;
        TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
        for (int i = 0; i < r->out.vis_list.n_recs; i++) {
            TD_CHECK_INT(r->out.vis_list.recs[i].start_time_ns, ==, 1000 + seen);
            seen++;
        }
        toklen = r->out.vis_list.next_token.len;
        if (toklen > 0) {
            memcpy(tok, r->out.vis_list.next_token.data, toklen);
        }
        td_store_req_free(r);
        pages++;
    } while (toklen > 0 && pages < 50);
    TD_CHECK_INT(seen, ==, 10);
    /* delete */
    r = td_store_req_new(TD_STORE_OP_VIS_DELETE);
    r->in.vis.namespace_id = ns;
    r->in.vis.run_id = runs[3];
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    td_store_req_free(r);
    TD_CHECK_INT(td_cv_count(s, ns, NULL), ==, 19);
    f3 = td_cv_cmp("CustomKeywordList", TD_STORE_VF_EQ, TD_STORE_SA_KEYWORD_LIST, 0, "red");
    TD_CHECK_INT(td_cv_count(s, ns, &f3), ==, 2);
    /* a malformed filter is TD_EINVAL */
    r = td_store_req_new(TD_STORE_OP_VIS_COUNT);
    memset(&fnot, 0, sizeof(fnot));
    fnot.kind = 99;
    r->in.vis_query.namespace_id = ns;
    r->in.vis_query.filter = &fnot;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_EINVAL);
    td_store_req_free(r);
    td_store_close(s);
}

/* ---- completions on the loop ---- */

typedef struct {
    td_loop_t *loop;
    pthread_t loop_thread;
    int done, on_loop, failed, expected;
    int ok, cond;
} td_cl_state_t;

static void td_cl_done(td_store_req_t *req, void *arg)
{
    td_cl_state_t *st = arg;
    if (!pthread_equal(pthread_self(), st->loop_thread)) {
        st->failed++;
    }
    if (req->rc == TD_OK) {
        st->ok++;
    } else if (req->rc == TD_ECONDITION) {
        st->cond++;
    } else {
        st->failed++;
    }
    td_store_req_free(req);
    if (++st->done == st->expected) {
        td_loop_stop(st->loop);
    }
}

static void td_cl_stop(void *arg)
{
    td_loop_stop(arg);
}

/* Many concurrent submits from the loop: half of them fail their condition; each rolls back
 * alone (savepoints) and every callback runs on the loop thread. */
TD_TEST(store_async_group_commit_isolation)
{
    td_cl_state_t st;
    td_store_options_t opt;
    td_store_t *s = NULL;
    int32_t shard = td_fx_shard();
    int64_t range;
    char err[256];
    char wfs[200][64];
    td_timer_t *guard;
    const char *ns = td_fx_id("ns");

    memset(&st, 0, sizeof(st));
    memset(&opt, 0, sizeof(opt));
    st.loop = td_loop_new();
    st.loop_thread = pthread_self();
    opt.loop = st.loop;
    opt.schema = TD_STORE_SCHEMA_AUTO;
    TD_CHECK_INT(td_fx_open_opt(&opt, &s, err, sizeof(err)), ==, TD_OK);
    range = td_fx_acquire(s, shard);
    for (int i = 0; i < 200; i++) {
        snprintf(wfs[i], sizeof(wfs[i]), "%s-%d", ns, i); /* unique run ids */
        TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, wfs[i], wfs[i], 1000 + i), ==, TD_OK);
    }
    st.expected = 200;
    for (int i = 0; i < 200; i++) {
        td_store_req_t *r = td_store_req_new(TD_STORE_OP_WRITE);
        td_store_exec_write_t *w = td_arena_calloc(&r->arena, sizeof(*w));
        td_store_task_t *t = td_arena_calloc(&r->arena, sizeof(*t));
        w->mode = TD_STORE_EXEC_UPDATE;
        w->expected_db_record_version = i % 2 ? 7 : 1; /* odd ones are stale */
        w->row.namespace_id = ns;
        w->row.workflow_id = wfs[i];
        w->row.run_id = wfs[i];
        w->row.db_record_version = 2;
        t->category = TD_STORE_TASK_TRANSFER;
        t->task_id = 5000 + i;
        r->in.write.shard_id = shard;
        r->in.write.expected_range_id = range;
        r->in.write.execs = w;
        r->in.write.n_execs = 1;
        r->in.write.current_exec = -1;
        r->in.write.tasks = t;
        r->in.write.n_tasks = 1;
        r->cb = td_cl_done;
        r->arg = &st;
        td_store_submit(s, r);
    }
    TD_CHECK_INT(st.done, ==, 0); /* never synchronous */
    guard = td_timer_new(st.loop, td_cl_stop, st.loop);
    td_timer_start(guard, 20000);
    td_loop_run(st.loop);
    td_timer_free(guard);
    TD_CHECK_INT(st.done, ==, 200);
    TD_CHECK_INT(st.failed, ==, 0);
    TD_CHECK_INT(st.ok, ==, 100);
    TD_CHECK_INT(st.cond, ==, 100);
    for (int i = 0; i < 200; i++) {
        int64_t v;
        TD_CHECK_INT(td_fx_get_version(s, ns, wfs[i], wfs[i], &v), ==, TD_OK);
        TD_CHECK_INT(v, ==, i % 2 ? 1 : 2);
    }
    {
        td_store_req_t *r = td_store_req_new(TD_STORE_OP_TASKS_READ);
        r->in.tasks_read.shard_id = shard;
        r->in.tasks_read.category = TD_STORE_TASK_TRANSFER;
        r->in.tasks_read.min_task_id = 5000;
        TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
        TD_CHECK_INT(r->out.tasks_read.n_tasks, ==, 100);
        for (int i = 0; i < 100; i++) {
            TD_CHECK_INT(r->out.tasks_read.tasks[i].task_id % 2, ==, 0);
        }
        td_store_req_free(r);
    }
    td_store_close(s);
    td_loop_free(st.loop);
}

/* A request that fails after changing rows (its execution update went through, then its
 * history batch collided) shares a group with successful ones: it alone leaves no trace. */
TD_TEST(store_group_partial_failure_undone)
{
    td_cl_state_t st;
    td_store_options_t opt;
    td_store_t *s = NULL;
    int32_t shard = td_fx_shard();
    int64_t range;
    char err[256];
    char wfs[60][64];
    td_timer_t *guard;
    const char *ns = td_fx_id("ns");

    memset(&st, 0, sizeof(st));
    memset(&opt, 0, sizeof(opt));
    st.loop = td_loop_new();
    st.loop_thread = pthread_self();
    opt.loop = st.loop;
    opt.schema = TD_STORE_SCHEMA_AUTO;
    TD_CHECK_INT(td_fx_open_opt(&opt, &s, err, sizeof(err)), ==, TD_OK);
    range = td_fx_acquire(s, shard);
    for (int i = 0; i < 60; i++) {
        snprintf(wfs[i], sizeof(wfs[i]), "%s-%d", ns, i); /* unique run ids */
        TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, wfs[i], wfs[i], 1000 + i), ==, TD_OK);
    }
    st.expected = 60;
    for (int i = 0; i < 60; i++) {
        td_store_req_t *r = td_store_req_new(TD_STORE_OP_WRITE);
        td_store_exec_write_t *w = td_arena_calloc(&r->arena, sizeof(*w));
        td_store_history_batch_t *b = td_arena_calloc(&r->arena, sizeof(*b));
        w->mode = TD_STORE_EXEC_UPDATE;
        w->expected_db_record_version = 1;
        w->row.namespace_id = ns;
        w->row.workflow_id = wfs[i];
        w->row.run_id = wfs[i];
        w->row.db_record_version = 2;
        b->tree_id = wfs[i];
        b->branch_id = wfs[i];
        b->first_event_id = i % 5 == 0 ? 1 : 3; /* every fifth collides with the create's */
        b->event_count = 1;
        b->events = td_fx_blob("e");
        r->in.write.shard_id = shard;
        r->in.write.expected_range_id = range;
        r->in.write.execs = w;
        r->in.write.n_execs = 1;
        r->in.write.current_exec = -1;
        r->in.write.batches = b;
        r->in.write.n_batches = 1;
        r->cb = td_cl_done;
        r->arg = &st;
        td_store_submit(s, r);
    }
    guard = td_timer_new(st.loop, td_cl_stop, st.loop);
    td_timer_start(guard, 20000);
    td_loop_run(st.loop);
    td_timer_free(guard);
    TD_CHECK_INT(st.done, ==, 60);
    TD_CHECK_INT(st.failed, ==, 0);
    TD_CHECK_INT(st.ok, ==, 48);
    TD_CHECK_INT(st.cond, ==, 12);
    for (int i = 0; i < 60; i++) {
        int64_t v;
        TD_CHECK_INT(td_fx_get_version(s, ns, wfs[i], wfs[i], &v), ==, TD_OK);
        TD_CHECK_INT(v, ==, i % 5 == 0 ? 1 : 2);
    }
    td_store_close(s);
    td_loop_free(st.loop);
}

/* ---- concurrent writers ---- */

typedef struct {
    td_store_t *s;
    int32_t shard;
    int64_t range;
    const char *ns;
    const char *run;
    int wins, losses, errors;
} td_cw_arg_t;

#define TD_CW_THREADS 8
#define TD_CW_ROUNDS  150

/* Each thread reads the shared run's version and tries to move it one step; exactly one
 * contender wins each version. */
static void *td_cw_main(void *p)
{
    td_cw_arg_t *a = p;
    for (int i = 0; i < TD_CW_ROUNDS; i++) {
        td_store_req_t *r = td_store_req_new(TD_STORE_OP_EXEC_GET);
        td_store_exec_write_t *w;
        int64_t v;
        int rc;
        r->in.exec_get.namespace_id = a->ns;
        r->in.exec_get.workflow_id = "shared";
        if (td_store_call(a->s, r) != TD_OK) {
            a->errors++;
            td_store_req_free(r);
            continue;
        }
        v = r->out.exec_get.row.db_record_version;
        td_store_req_reset(r, TD_STORE_OP_WRITE);
        w = td_arena_calloc(&r->arena, sizeof(*w));
        w->mode = TD_STORE_EXEC_UPDATE;
        w->expected_db_record_version = v;
        w->row.namespace_id = a->ns;
        w->row.workflow_id = "shared";
        w->row.run_id = a->run;
        w->row.db_record_version = v + 1;
        w->row.next_event_id = v + 1;
        r->in.write.shard_id = a->shard;
        r->in.write.expected_range_id = a->range;
        r->in.write.execs = w;
        r->in.write.n_execs = 1;
        r->in.write.current_exec = -1;
        rc = td_store_call(a->s, r);
        if (rc == TD_OK) {
            a->wins++;
        } else if (rc == TD_ECONDITION) {
            a->losses++;
        } else {
            a->errors++;
        }
        td_store_req_free(r);
    }
    return NULL;
}

TD_TEST_T(store_concurrent_writers, 120)
{
    td_store_t *s = td_fx_open();
    td_cw_arg_t a[TD_CW_THREADS];
    pthread_t th[TD_CW_THREADS];
    int32_t shard = td_fx_shard();
    int64_t range = td_fx_acquire(s, shard);
    const char *ns = td_fx_id("ns");
    int wins = 0, losses = 0;
    int64_t v;

    const char *run = td_fx_id("shared-run");

    TD_CHECK_INT(td_fx_create_run(s, shard, range, ns, "shared", run, 1), ==, TD_OK);
    for (int i = 0; i < TD_CW_THREADS; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].s = s;
        a[i].shard = shard;
        a[i].range = range;
        a[i].ns = ns;
        a[i].run = run;
        pthread_create(&th[i], NULL, td_cw_main, &a[i]);
    }
    for (int i = 0; i < TD_CW_THREADS; i++) {
        pthread_join(th[i], NULL);
        TD_CHECK_INT(a[i].errors, ==, 0);
        wins += a[i].wins;
        losses += a[i].losses;
    }
    TD_CHECK_INT(wins + losses, ==, TD_CW_THREADS * TD_CW_ROUNDS);
    TD_CHECK(wins > 0);
    TD_CHECK_INT(td_fx_get_version(s, ns, "shared", run, &v), ==, TD_OK);
    TD_CHECK_INT(v, ==, 1 + wins); /* every win moved the version by exactly one */
    td_store_close(s);
}

/* A bad op or a malformed write is TD_EINVAL, delivered like any other result. */
TD_TEST(store_bad_requests)
{
    td_store_t *s = td_fx_open();
    td_store_req_t *r = td_store_req_new((td_store_op_t)999);
    TD_CHECK_INT(td_store_call(s, r), ==, TD_EINVAL);
    td_store_req_reset(r, TD_STORE_OP_WRITE);
    r->in.write.n_execs = 3;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_EINVAL);
    td_store_req_free(r);
    td_store_close(s);
}

/* ---- cluster membership seeds ---- */

/* Rows of the list whose address starts with prefix, into found[] (NULL when absent). */
static int members_find(td_store_req_t *r, const char *prefix, const char *const *addrs, int n,
                        const td_store_member_row_t **found)
{
    int count = 0;
    for (int i = 0; i < n; i++) {
        found[i] = NULL;
    }
    for (int j = 0; j < r->out.members.n_rows; j++) {
        const td_store_member_row_t *row = &r->out.members.rows[j];
        if (strncmp(row->membership_address, prefix, strlen(prefix)) != 0) {
            continue;
        }
        count++;
        for (int i = 0; i < n; i++) {
            if (strcmp(row->membership_address, addrs[i]) == 0) {
                found[i] = row;
            }
        }
    }
    return count;
}

TD_TEST(store_cluster_membership_heartbeats)
{
    td_store_t *s = td_fx_open();
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_MEMBERS_HEARTBEAT);
    const char *prefix = td_fx_id("m");
    char a[64], b[64], c[64];
    const char *addrs[3] = { a, b, c };
    const td_store_member_row_t *found[3];
    td_store_member_row_t rows[3];
    int64_t now = 1800000000000LL;

    snprintf(a, sizeof(a), "%s-a:6934", prefix);
    snprintf(b, sizeof(b), "%s-b:6935", prefix);
    snprintf(c, sizeof(c), "%s-c:6933", prefix);
    memset(rows, 0, sizeof(rows));
    for (int i = 0; i < 3; i++) {
        rows[i].membership_address = addrs[i];
        rows[i].host_id = "host-1";
        rows[i].role = i == 0 ? "history" : "matching";
        rows[i].rpc_address = "10.0.0.1:7234";
        rows[i].session_start_ms = now - 60000;
    }
    rows[0].heartbeat_ms = now;
    rows[1].heartbeat_ms = now - 30000;
    rows[2].heartbeat_ms = 1000; /* a process gone long ago */
    r->in.members.rows = rows;
    r->in.members.n_rows = 3;
    r->in.members.expire_before_ms = 0;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);

    /* fresh within 20 s: only a */
    td_store_req_reset(r, TD_STORE_OP_MEMBERS_LIST);
    r->in.members.since_ms = now - 20000;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(members_find(r, prefix, addrs, 3, found), ==, 1);
    TD_CHECK(found[0] != NULL);
    TD_CHECK_STR(found[0]->host_id, "host-1");
    TD_CHECK_STR(found[0]->role, "history");
    TD_CHECK_STR(found[0]->rpc_address, "10.0.0.1:7234");
    TD_CHECK_INT(found[0]->session_start_ms, ==, now - 60000);
    TD_CHECK_INT(found[0]->heartbeat_ms, ==, now);
    /* everything */
    td_store_req_reset(r, TD_STORE_OP_MEMBERS_LIST);
    r->in.members.since_ms = 0;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(members_find(r, prefix, addrs, 3, found), ==, 3);
    /* ordered by address */
    for (int j = 1; j < r->out.members.n_rows; j++) {
        TD_CHECK(strcmp(r->out.members.rows[j - 1].membership_address,
                        r->out.members.rows[j].membership_address) < 0);
    }

    /* a restarted process replaces its row; the row 48 h stale is deleted */
    td_store_req_reset(r, TD_STORE_OP_MEMBERS_HEARTBEAT);
    rows[0].heartbeat_ms = now + 10000;
    rows[0].session_start_ms = now + 5000;
    rows[0].rpc_address = "10.0.0.9:7234";
    r->in.members.rows = rows;
    r->in.members.n_rows = 1;
    r->in.members.expire_before_ms = now - 48LL * 3600 * 1000;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    td_store_req_reset(r, TD_STORE_OP_MEMBERS_LIST);
    r->in.members.since_ms = 0;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(members_find(r, prefix, addrs, 3, found), ==, 2);
    TD_CHECK(found[2] == NULL);
    TD_CHECK(found[1] != NULL);
    TD_CHECK_STR(found[0]->rpc_address, "10.0.0.9:7234");
    TD_CHECK_INT(found[0]->session_start_ms, ==, now + 5000);
    TD_CHECK_INT(found[0]->heartbeat_ms, ==, now + 10000);
    td_store_req_free(r);
    td_store_close(s);
}
