/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crash-safety helper for test/store/run.sh (SQLite file databases).
 *
 *   store_crash write URL WORKFLOWS   runs transitions until killed; after each commit it
 *                                     prints "ack WF VERSION" (one write(2) per line)
 *   store_crash check URL ACKLOG      verifies the database after a SIGKILL
 *
 * Every transition of workflow w moves its row to version v, appends the 5-event batch
 * starting at event 5*(v-1)+1 and inserts two transfer tasks (ids w*10^6 + 2v, +1), in one
 * store transaction. check() asserts that each workflow is whole (version v <=> exactly v
 * batches and 2v tasks: no transaction present in part) and that every acknowledged version
 * is present (nothing reported committed was lost). Exit status 0 when both hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "store/store.h"

typedef struct {
    td_store_t *s;
    int wf;
    int64_t version; /* committed version */
    char ns[16], wfid[32], run[32];
} td_cr_wf_t;

static int td_cr_shard = 1;
static int64_t td_cr_range;

static void td_cr_submit(td_cr_wf_t *w);

static void td_cr_done(td_store_req_t *req, void *arg)
{
    td_cr_wf_t *w = arg;
    char line[64];
    int n;

    if (req->rc != TD_OK) {
        fprintf(stderr, "store_crash: wf %d: %s: %s\n", w->wf, td_err_name(req->rc), req->err);
        _exit(3);
    }
    w->version++;
    n = snprintf(line, sizeof(line), "ack %d %lld\n", w->wf, (long long)w->version);
    if (write(1, line, (size_t)n) != n) {
        _exit(4);
    }
    td_store_req_free(req);
    td_cr_submit(w);
}

static void td_cr_submit(td_cr_wf_t *w)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_WRITE);
    td_store_exec_write_t *ew = td_arena_calloc(&r->arena, sizeof(*ew));
    td_store_history_batch_t *b = td_arena_calloc(&r->arena, sizeof(*b));
    td_store_task_t *t = td_arena_calloc(&r->arena, 2 * sizeof(*t));
    int64_t v = w->version + 1;

    ew->mode = v == 1 ? TD_STORE_EXEC_CREATE_BRAND_NEW : TD_STORE_EXEC_UPDATE;
    ew->expected_db_record_version = w->version;
    ew->row.namespace_id = w->ns;
    ew->row.workflow_id = w->wfid;
    ew->row.run_id = w->run;
    ew->row.state = TD_STORE_EXEC_STATE_RUNNING;
    ew->row.status = 1;
    ew->row.next_event_id = 5 * v + 1;
    ew->row.db_record_version = v;
    ew->row.state_blob.data = td_arena_printf(&r->arena, "mutable-state-%lld", (long long)v);
    ew->row.state_blob.len = strlen(ew->row.state_blob.data);
    ew->row.state_blob.encoding = TD_STORE_ENC_PROTO3;
    b->tree_id = w->run;
    b->branch_id = w->run;
    b->first_event_id = 5 * (v - 1) + 1;
    b->event_count = 5;
    b->events.data = td_arena_calloc(&r->arena, 600);
    b->events.len = 600;
    b->events.encoding = TD_STORE_ENC_PROTO3;
    for (int i = 0; i < 2; i++) {
        t[i].category = TD_STORE_TASK_TRANSFER;
        t[i].task_id = (int64_t)w->wf * 1000000 + 2 * v + i;
    }
    r->in.write.shard_id = td_cr_shard;
    r->in.write.expected_range_id = td_cr_range;
    r->in.write.execs = ew;
    r->in.write.n_execs = 1;
    r->in.write.current_exec = v == 1 ? 0 : -1;
    r->in.write.current.run_id = w->run;
    r->in.write.current.create_request_id = "crash";
    r->in.write.current.state = TD_STORE_EXEC_STATE_RUNNING;
    r->in.write.batches = b;
    r->in.write.n_batches = 1;
    r->in.write.tasks = t;
    r->in.write.n_tasks = 2;
    r->cb = td_cr_done;
    r->arg = w;
    td_store_submit(w->s, r);
}

static void td_cr_names(td_cr_wf_t *w, int i)
{
    w->wf = i;
    snprintf(w->ns, sizeof(w->ns), "crash-ns");
    snprintf(w->wfid, sizeof(w->wfid), "wf-%d", i);
    snprintf(w->run, sizeof(w->run), "run-%d", i);
}

static int td_cr_open(const char *url, td_store_t **s)
{
    td_store_options_t opt;
    char err[512];
    int rc;

    memset(&opt, 0, sizeof(opt));
    opt.schema = TD_STORE_SCHEMA_AUTO;
    rc = td_store_open(url, &opt, s, err, sizeof(err));
    if (rc != TD_OK) {
        fprintf(stderr, "store_crash: open %s: %s\n", url, err);
    }
    return rc;
}

static int td_cr_write(const char *url, int n)
{
    td_store_t *s = NULL;
    td_store_req_t *r;
    td_cr_wf_t *wfs = td_calloc((size_t)n, sizeof(*wfs));

    if (td_cr_open(url, &s) != TD_OK) {
        return 2;
    }
    r = td_store_req_new(TD_STORE_OP_SHARD_ACQUIRE);
    r->in.shard.rec.shard_id = td_cr_shard;
    if (td_store_call(s, r) != TD_OK) {
        fprintf(stderr, "store_crash: acquire: %s\n", r->err);
        return 2;
    }
    td_cr_range = r->out.shard.rec.range_id;
    td_store_req_free(r);
    for (int i = 0; i < n; i++) {
        td_cr_names(&wfs[i], i);
        wfs[i].s = s;
    }
    for (int i = 0; i < n; i++) {
        td_cr_submit(&wfs[i]);
    }
    for (;;) {
        pause(); /* until SIGKILL */
    }
    return 0;
}

static int td_cr_check(const char *url, const char *acklog)
{
    td_store_t *s = NULL;
    FILE *f = fopen(acklog, "r");
    int64_t *acked = td_calloc(100000, sizeof(int64_t));
    int max_wf = -1, bad = 0;
    long acks = 0, versions = 0;
    char line[128];

    if (f == NULL) {
        fprintf(stderr, "store_crash: cannot read %s\n", acklog);
        return 2;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        int wf;
        long long v;
        if (sscanf(line, "ack %d %lld", &wf, &v) == 2 && wf >= 0 && wf < 100000) {
            if (v > acked[wf]) {
                acked[wf] = v;
            }
            if (wf > max_wf) {
                max_wf = wf;
            }
            acks++;
        }
    }
    fclose(f);
    if (td_cr_open(url, &s) != TD_OK) {
        return 2;
    }
    for (int i = 0; i <= max_wf + 8; i++) {
        td_cr_wf_t w;
        td_store_req_t *r = td_store_req_new(TD_STORE_OP_EXEC_GET);
        int64_t v = 0, events = 0;
        int batches = 0, tasks = 0, rc;

        td_cr_names(&w, i);
        r->in.exec_get.namespace_id = w.ns;
        r->in.exec_get.workflow_id = w.wfid;
        r->in.exec_get.run_id = w.run;
        rc = td_store_call(s, r);
        if (rc == TD_OK) {
            v = r->out.exec_get.row.db_record_version;
            if (r->out.exec_get.row.next_event_id != 5 * v + 1) {
                fprintf(stderr, "wf %d: version %lld but next_event_id %lld\n", i, (long long)v,
                        (long long)r->out.exec_get.row.next_event_id);
                bad++;
            }
        } else if (rc != TD_ENOTFOUND) {
            fprintf(stderr, "wf %d: get: %s\n", i, r->err);
            bad++;
        }
        td_store_req_reset(r, TD_STORE_OP_HISTORY_READ);
        r->in.hist_read.tree_id = w.run;
        r->in.hist_read.branch_id = w.run;
        r->in.hist_read.min_event_id = 1;
        if (td_store_call(s, r) == TD_OK) {
            batches = r->out.hist_read.n_batches;
            for (int b = 0; b < batches; b++) {
                if (r->out.hist_read.batches[b].first_event_id != events + 1) {
                    bad++;
                }
                events += r->out.hist_read.batches[b].event_count;
            }
        }
        td_store_req_reset(r, TD_STORE_OP_TASKS_READ);
        r->in.tasks_read.shard_id = td_cr_shard;
        r->in.tasks_read.category = TD_STORE_TASK_TRANSFER;
        r->in.tasks_read.min_task_id = (int64_t)i * 1000000;
        r->in.tasks_read.max_task_id = (int64_t)(i + 1) * 1000000;
        if (td_store_call(s, r) == TD_OK) {
            tasks = r->out.tasks_read.n_tasks;
        }
        td_store_req_free(r);
        if (batches != v || tasks != 2 * v || events != 5 * v) {
            fprintf(stderr, "wf %d: PARTIAL: version %lld, %d batches, %d tasks\n", i, (long long)v,
                    batches, tasks);
            bad++;
        }
        if (i < 100000 && acked[i] > v) {
            fprintf(stderr, "wf %d: LOST: acknowledged version %lld, database has %lld\n", i,
                    (long long)acked[i], (long long)v);
            bad++;
        }
        versions += v;
    }
    td_store_close(s);
    printf("checked %d workflows: %ld acknowledged transactions, %ld committed, %d problem(s)\n",
           max_wf + 1, acks, versions, bad);
    td_free(acked);
    return bad == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    td_log_setup(TD_LOG_WARN, TD_LOG_TEXT);
    if (argc == 4 && strcmp(argv[1], "write") == 0) {
        return td_cr_write(argv[2], atoi(argv[3]));
    }
    if (argc == 4 && strcmp(argv[1], "check") == 0) {
        return td_cr_check(argv[2], argv[3]);
    }
    fprintf(stderr, "usage: store_crash write URL WORKFLOWS | check URL ACKLOG\n");
    return 2;
}
