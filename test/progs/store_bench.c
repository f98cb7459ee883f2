/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store benchmark helper for test/bench/store.sh.
 *
 *   store_bench txn URL SYNC SUBMITTERS SECONDS  execution-update transactions per second: each
 *       updates an execution row, appends a 5-event batch and inserts 2 transfer tasks; each
 *       submitter is one workflow with one transaction in flight, resubmitted from its
 *       completion on the event loop (as the history role does)
 *   store_bench raw PATH SYNC SECONDS        single-row INSERT commits per second through
 *       plain sqlite3 (WAL, the given synchronous), the machine's raw commit rate
 *
 * Prints one line "RATE <number> <unit>" plus detail. Not a test: numbers, not verdicts.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "store/store.h"

typedef struct td_bn_s td_bn_t;

typedef struct {
    td_bn_t *bn;
    int i;
    int64_t version;
    char wf[32];
} td_bn_sub_t;

struct td_bn_s {
    td_store_t *s;
    td_loop_t *loop;
    td_bn_sub_t *subs;
    int n;
    int64_t range;
    int stopping;
    int inflight;
    long done, errors, done_at_stop;
    int64_t next_task_id;
    int64_t t0, t1;
    char payload[600];
    char state[300];
};

static void td_bn_submit(td_bn_sub_t *sub);

static void td_bn_done(td_store_req_t *req, void *arg)
{
    td_bn_sub_t *sub = arg;
    td_bn_t *bn = sub->bn;

    bn->inflight--;
    if (req->rc == TD_OK) {
        sub->version++;
        bn->done++;
    } else {
        if (bn->errors++ < 5) {
            fprintf(stderr, "store_bench: %s\n", req->err);
        }
    }
    td_store_req_free(req);
    if (bn->stopping) {
        if (bn->inflight == 0) {
            td_loop_stop(bn->loop);
        }
        return;
    }
    td_bn_submit(sub);
}

static void td_bn_submit(td_bn_sub_t *sub)
{
    td_bn_t *bn = sub->bn;
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_WRITE);
    td_store_exec_write_t *w = td_arena_calloc(&r->arena, sizeof(*w));
    td_store_history_batch_t *b = td_arena_calloc(&r->arena, sizeof(*b));
    td_store_task_t *t = td_arena_calloc(&r->arena, 2 * sizeof(*t));
    int64_t v = sub->version;
    int create = v == 0;

    w->mode = create ? TD_STORE_EXEC_CREATE_BRAND_NEW : TD_STORE_EXEC_UPDATE;
    w->expected_db_record_version = v;
    w->row.namespace_id = "bench-ns";
    w->row.workflow_id = sub->wf;
    w->row.run_id = sub->wf;
    w->row.state = TD_STORE_EXEC_STATE_RUNNING;
    w->row.status = 1;
    w->row.next_event_id = 5 * (v + 1) + 1;
    w->row.db_record_version = v + 1;
    w->row.state_blob.data = bn->state;
    w->row.state_blob.len = sizeof(bn->state);
    w->row.state_blob.encoding = TD_STORE_ENC_PROTO3;
    b->tree_id = sub->wf;
    b->branch_id = sub->wf;
    b->first_event_id = 5 * v + 1;
    b->event_count = 5;
    b->events.data = bn->payload;
    b->events.len = sizeof(bn->payload);
    b->events.encoding = TD_STORE_ENC_PROTO3;
    for (int i = 0; i < 2; i++) {
        t[i].category = TD_STORE_TASK_TRANSFER;
        t[i].task_id = ++bn->next_task_id;
        t[i].blob.data = "transfer-task";
        t[i].blob.len = 13;
        t[i].blob.encoding = TD_STORE_ENC_PROTO3;
    }
    r->in.write.shard_id = 1;
    r->in.write.expected_range_id = bn->range;
    r->in.write.execs = w;
    r->in.write.n_execs = 1;
    r->in.write.current_exec = create ? 0 : -1;
    r->in.write.current.run_id = sub->wf;
    r->in.write.current.create_request_id = "bench";
    r->in.write.current.state = TD_STORE_EXEC_STATE_RUNNING;
    r->in.write.batches = b;
    r->in.write.n_batches = 1;
    r->in.write.tasks = t;
    r->in.write.n_tasks = 2;
    r->cb = td_bn_done;
    r->arg = sub;
    bn->inflight++;
    td_store_submit(bn->s, r);
}

static void td_bn_start(void *arg)
{
    td_bn_t *bn = arg;
    bn->done = 0;
    bn->t0 = td_now_mono_ms();
}

static void td_bn_stop(void *arg)
{
    td_bn_t *bn = arg;
    bn->t1 = td_now_mono_ms();
    bn->stopping = 1;
    bn->done_at_stop = bn->done;
}

static int td_bn_txn(const char *url, const char *sync, int n, double seconds)
{
    td_bn_t bn;
    td_store_options_t opt;
    td_store_req_t *r;
    char err[512];
    td_timer_t *warm, *stop;
    int rc;

    memset(&bn, 0, sizeof(bn));
    memset(bn.payload, 'e', sizeof(bn.payload));
    memset(bn.state, 's', sizeof(bn.state));
    bn.loop = td_loop_new();
    memset(&opt, 0, sizeof(opt));
    opt.loop = bn.loop;
    opt.schema = TD_STORE_SCHEMA_AUTO;
    opt.sqlite_synchronous = sync;
    if (getenv("TD_BENCH_PRAGMA") != NULL) {
        static const char *pragmas[1];
        pragmas[0] = getenv("TD_BENCH_PRAGMA");
        opt.pragmas = pragmas;
        opt.n_pragmas = 1;
    }
    rc = td_store_open(url, &opt, &bn.s, err, sizeof(err));
    if (rc != TD_OK) {
        fprintf(stderr, "store_bench: %s\n", err);
        return 2;
    }
    r = td_store_req_new(TD_STORE_OP_SHARD_ACQUIRE);
    r->in.shard.rec.shard_id = 1;
    td_store_call(bn.s, r);
    bn.range = r->out.shard.rec.range_id;
    td_store_req_free(r);
    bn.n = n;
    bn.subs = td_calloc((size_t)n, sizeof(*bn.subs));
    for (int i = 0; i < n; i++) {
        bn.subs[i].bn = &bn;
        bn.subs[i].i = i;
        snprintf(bn.subs[i].wf, sizeof(bn.subs[i].wf), "wf-%d", i);
        td_bn_submit(&bn.subs[i]);
    }
    /* measure after a short warm-up */
    warm = td_timer_new(bn.loop, td_bn_start, &bn);
    stop = td_timer_new(bn.loop, td_bn_stop, &bn);
    td_timer_start(warm, 300);
    td_timer_start(stop, 300 + (int64_t)(seconds * 1000));
    td_loop_run(bn.loop);
    printf("RATE %.0f txn/s (%d submitter(s), synchronous=%s, %ld txns in %.2f s, %ld errors)\n",
           (double)bn.done_at_stop * 1000.0 / (double)(bn.t1 - bn.t0), n, sync, bn.done_at_stop,
           (double)(bn.t1 - bn.t0) / 1000.0, bn.errors);
    td_timer_free(warm);
    td_timer_free(stop);
    td_store_close(bn.s);
    td_loop_free(bn.loop);
    td_free(bn.subs);
    return bn.errors == 0 ? 0 : 1;
}

static int td_bn_raw(const char *path, const char *sync, double seconds)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char sql[128];
    char payload[100];
    long n = 0;
    int64_t t0, t1 = 0;

    memset(payload, 'p', sizeof(payload));
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "store_bench: open %s: %s\n", path, sqlite3_errmsg(db));
        return 2;
    }
    snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s", sync);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB)", NULL, NULL,
                 NULL);
    sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES (?)", -1, &st, NULL);
    t0 = td_now_mono_ms();
    do {
        sqlite3_bind_blob(st, 1, payload, sizeof(payload), SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            fprintf(stderr, "store_bench: insert: %s\n", sqlite3_errmsg(db));
            break;
        }
        sqlite3_reset(st);
        n++;
        t1 = td_now_mono_ms();
    } while (t1 - t0 < (int64_t)(seconds * 1000));
    printf("RATE %.0f commits/s (single-row autocommit INSERT, synchronous=%s, %ld in %.2f s)\n",
           (double)n * 1000.0 / (double)(t1 - t0), sync, n, (double)(t1 - t0) / 1000.0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    td_log_setup(TD_LOG_WARN, TD_LOG_TEXT);
    if (argc == 6 && strcmp(argv[1], "txn") == 0) {
        return td_bn_txn(argv[2], argv[3], atoi(argv[4]), atof(argv[5]));
    }
    if (argc == 5 && strcmp(argv[1], "raw") == 0) {
        return td_bn_raw(argv[2], argv[3], atof(argv[4]));
    }
    fprintf(stderr, "usage: store_bench txn URL SYNC SUBMITTERS SECONDS | raw PATH SYNC SECONDS\n");
    return 2;
}
