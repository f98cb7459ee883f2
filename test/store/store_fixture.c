/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers of the store conformance suite (see store_fixture.h).
 */
#include "store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "test.h"

static char td_fx_dbpath[512];
static char td_fx_urlbuf[600];

const char *td_fx_url(void)
{
    const char *u = getenv("TD_TEST_DB_URL");
    size_t n;

    if (u == NULL || u[0] == '\0') {
        return "sqlite://:memory:";
    }
    n = strlen(u);
    if (strncmp(u, "sqlite://", 9) == 0 && u[n - 1] == '/') {
        if (td_fx_dbpath[0] == '\0') {
            static int seq;
            snprintf(td_fx_dbpath, sizeof(td_fx_dbpath), "%st%d-%d.db", u + 9, (int)getpid(),
                     seq++);
            snprintf(td_fx_urlbuf, sizeof(td_fx_urlbuf), "sqlite://%s", td_fx_dbpath);
        }
        return td_fx_urlbuf;
    }
    return u;
}

int td_fx_is_sqlite_file(void)
{
    const char *u = td_fx_url();
    return strncmp(u, "sqlite://", 9) == 0 && strcmp(u, "sqlite://:memory:") != 0;
}

const char *td_fx_path(void)
{
    td_fx_url();
    return td_fx_dbpath;
}

int td_fx_open_opt(const td_store_options_t *opt, td_store_t **out, char *err, size_t errlen)
{
    td_log_setup(TD_LOG_WARN, TD_LOG_TEXT);
    return td_store_open(td_fx_url(), opt, out, err, errlen);
}

td_store_t *td_fx_open(void)
{
    td_store_options_t opt;
    td_store_t *s = NULL;
    char err[512] = "";
    int rc;

    memset(&opt, 0, sizeof(opt));
    opt.schema = TD_STORE_SCHEMA_AUTO;
    td_log_setup(TD_LOG_WARN, TD_LOG_TEXT);
    rc = td_fx_open_opt(&opt, &s, err, sizeof(err));
    if (rc != TD_OK) {
        td_test_fail(__FILE__, __LINE__, "open %s: %s: %s", td_fx_url(), td_err_name(rc), err);
    }
    return s;
}

const char *td_fx_id(const char *prefix)
{
    static char ring[64][80];
    static int next, counter;
    char *p = ring[next++ % 64];
    snprintf(p, sizeof(ring[0]), "%s-%d-%d-%ld", prefix, (int)getpid(), counter++,
             (long)random() % 100000);
    return p;
}

int32_t td_fx_shard(void)
{
    static int n;
    return (int32_t)(((getpid() * 16) + n++) % 1000000000) + 1;
}

td_store_blob_t td_fx_blob(const char *s)
{
    td_store_blob_t b = { s, strlen(s), TD_STORE_ENC_PROTO3 };
    return b;
}

int td_fx_blob_eq(const td_store_blob_t *b, const char *s)
{
    return b->len == strlen(s) && (b->len == 0 || memcmp(b->data, s, b->len) == 0);
}

int64_t td_fx_acquire(td_store_t *s, int32_t shard)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_SHARD_ACQUIRE);
    int64_t range;
    r->in.shard.rec.shard_id = shard;
    r->in.shard.rec.info = td_fx_blob("shard-info");
    if (td_store_call(s, r) != TD_OK) {
        td_test_fail(__FILE__, __LINE__, "acquire shard %d: %s", shard, r->err);
    }
    range = r->out.shard.rec.range_id;
    td_store_req_free(r);
    return range;
}

int td_fx_create_run(td_store_t *s, int32_t shard, int64_t range, const char *ns, const char *wf,
                     const char *run, int64_t task_id)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_WRITE);
    td_store_exec_write_t w;
    td_store_history_batch_t b;
    td_store_task_t t;
    int rc;

    memset(&w, 0, sizeof(w));
    memset(&b, 0, sizeof(b));
    memset(&t, 0, sizeof(t));
    w.mode = TD_STORE_EXEC_CREATE_BRAND_NEW;
    w.row.namespace_id = ns;
    w.row.workflow_id = wf;
    w.row.run_id = run;
    w.row.state = TD_STORE_EXEC_STATE_RUNNING;
    w.row.status = 1;
    w.row.next_event_id = 3;
    w.row.db_record_version = 1;
    w.row.state_blob = td_fx_blob("ms-v1");
    b.tree_id = run;
    b.branch_id = run;
    b.first_event_id = 1;
    b.event_count = 2;
    b.events = td_fx_blob("events-1-2");
    t.category = TD_STORE_TASK_TRANSFER;
    t.task_id = task_id;
    t.blob = td_fx_blob("task");
    r->in.write.shard_id = shard;
    r->in.write.expected_range_id = range;
    r->in.write.execs = &w;
    r->in.write.n_execs = 1;
    r->in.write.current_exec = 0;
    r->in.write.current.run_id = run;
    r->in.write.current.create_request_id = "req-1";
    r->in.write.current.state = TD_STORE_EXEC_STATE_RUNNING;
    r->in.write.current.status = 1;
    r->in.write.batches = &b;
    r->in.write.n_batches = 1;
    r->in.write.tasks = &t;
    r->in.write.n_tasks = 1;
    rc = td_store_call(s, r);
    td_store_req_free(r);
    return rc;
}

int td_fx_get_version(td_store_t *s, const char *ns, const char *wf, const char *run,
                      int64_t *version)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_EXEC_GET);
    int rc;
    r->in.exec_get.namespace_id = ns;
    r->in.exec_get.workflow_id = wf;
    r->in.exec_get.run_id = run;
    rc = td_store_call(s, r);
    *version = rc == TD_OK ? r->out.exec_get.row.db_record_version : -1;
    td_store_req_free(r);
    return rc;
}
