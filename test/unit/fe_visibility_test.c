/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The visibility RPCs (src/roles/frontend/fe_visibility.c), called in process with
 * td_rpc_local_call over a real in-memory SQLite store holding visibility records this test
 * writes: listing with queries and paging against the expected sets, orderings, counts and
 * GROUP BY ExecutionStatus, ListOpen/ListClosed typed filters, the decoded memo and typed search
 * attribute payloads, and the INVALID_ARGUMENT answers (bad query with its column, bad token).
 * TD_VIS_STORE_URL=postgres://... runs them against PostgreSQL instead.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "loop.h"
#include "roles/frontend/fe_int.h"
#include "roles/frontend/fe_query.h"
#include "roles/frontend/frontend.h"
#include "roles/nsreg.h"
#include "roles/svc.h"
#include "server.h"
#include "store/store.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

#define VT_WS(m)   TD_WORKFLOW_SERVICE m
#define VT_N       30
#define VT_BASE_NS 1700000000000000000LL
#define VT_SEC     1000000000LL

typedef struct {
    td_server_t srv;
    td_config_t cfg;
    td_store_t *store;
    td_timer_t *guard;
    int done;
    int status;
    char message[512];
    ProtobufCBinaryData resp;
} vt_t;

static void vt_guard(void *arg)
{
    (void)arg;
    td_test_fail(__FILE__, __LINE__, "loop guard fired: a call never ended");
}

/* Run i of the fixture: type A/B/C by i % 3, status by i % 5 (Running, Completed, Failed,
 * Terminated, TimedOut), started i seconds after the base, closed 10 s (+ i ms) later,
 * CustomKeywordField "k0"/"k1" by i % 2, and a memo. */
static int vt_status(int i)
{
    static const int s[] = { 1, 2, 3, 5, 7 };
    return s[i % 5];
}

static const char *vt_type(int i)
{
    return i % 3 == 0 ? "A" : i % 3 == 1 ? "B" : "C";
}

static int64_t vt_close(int i)
{
    return vt_status(i) == 1 ? 0 : VT_BASE_NS + (i + 10) * VT_SEC + i * 1000000LL;
}

/* A packed message of one payload field: Memo or SearchAttributes (both are a map of
 * string -> Payload, field 1). The payload has json/plain encoding and no "type" metadata. */
static ProtobufCBinaryData vt_pack_map(const ProtobufCMessageDescriptor *d, const char *key,
                                       const char *json)
{
    Temporal__Api__Common__V1__Payload p = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    Temporal__Api__Common__V1__Payload__MetadataEntry enc =
            TEMPORAL__API__COMMON__V1__PAYLOAD__METADATA_ENTRY__INIT;
    Temporal__Api__Common__V1__Payload__MetadataEntry *md[1] = { &enc };
    Temporal__Api__Common__V1__Memo__FieldsEntry me =
            TEMPORAL__API__COMMON__V1__MEMO__FIELDS_ENTRY__INIT;
    Temporal__Api__Common__V1__Memo__FieldsEntry *mes[1] = { &me };
    Temporal__Api__Common__V1__Memo memo = TEMPORAL__API__COMMON__V1__MEMO__INIT;
    Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry se =
            TEMPORAL__API__COMMON__V1__SEARCH_ATTRIBUTES__INDEXED_FIELDS_ENTRY__INIT;
    Temporal__Api__Common__V1__SearchAttributes__IndexedFieldsEntry *ses[1] = { &se };
    Temporal__Api__Common__V1__SearchAttributes sa =
            TEMPORAL__API__COMMON__V1__SEARCH_ATTRIBUTES__INIT;
    ProtobufCMessage *m;
    ProtobufCBinaryData out;

    enc.key = "encoding";
    enc.value.data = (uint8_t *)"json/plain";
    enc.value.len = 10;
    p.metadata = md;
    p.n_metadata = 1;
    p.data.data = (uint8_t *)json;
    p.data.len = strlen(json);
    if (d == &temporal__api__common__v1__memo__descriptor) {
        me.key = (char *)key;
        me.value = &p;
        memo.fields = mes;
        memo.n_fields = 1;
        m = &memo.base;
    } else {
        se.key = (char *)key;
        se.value = &p;
        sa.indexed_fields = ses;
        sa.n_indexed_fields = 1;
        m = &sa.base;
    }
    out.len = protobuf_c_message_get_packed_size(m);
    out.data = malloc(out.len);
    protobuf_c_message_pack(m, out.data);
    return out;
}

static void vt_put(vt_t *f, int i)
{
    const td_ns_t *ns = td_nsreg_by_name(f->srv.nsreg, "default");
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_VIS_UPSERT);
    td_store_visibility_t *v = &req->in.vis;
    char wid[32], rid[64], kw[8], memo_json[32], sa_json[16];
    ProtobufCBinaryData memo, sa;
    td_store_sa_t typed;

    snprintf(wid, sizeof(wid), "wf-%02d", i);
    snprintf(rid, sizeof(rid), "00000000-0000-4000-8000-0000000000%02d", i);
    snprintf(kw, sizeof(kw), "k%d", i % 2);
    snprintf(memo_json, sizeof(memo_json), "{\"n\":%d}", i);
    snprintf(sa_json, sizeof(sa_json), "\"%s\"", kw);
    memo = vt_pack_map(&temporal__api__common__v1__memo__descriptor, "note", memo_json);
    sa = vt_pack_map(&temporal__api__common__v1__search_attributes__descriptor,
                     "CustomKeywordField", sa_json);
    memset(&typed, 0, sizeof(typed));
    typed.name = "CustomKeywordField";
    typed.type = TD_STORE_SA_KEYWORD;
    typed.s = kw;
    v->namespace_id = ns->id;
    v->workflow_id = wid;
    v->run_id = rid;
    v->workflow_type = vt_type(i);
    v->task_queue = "tq";
    v->start_time_ns = VT_BASE_NS + i * VT_SEC;
    v->execution_time_ns = v->start_time_ns;
    v->close_time_ns = vt_close(i);
    v->status = vt_status(i);
    v->history_length = 10 + i;
    v->memo.data = memo.data;
    v->memo.len = memo.len;
    v->memo.encoding = TD_STORE_ENC_PROTO3;
    v->search_attributes.data = sa.data;
    v->search_attributes.len = sa.len;
    v->search_attributes.encoding = TD_STORE_ENC_PROTO3;
    v->sas = &typed;
    v->n_sas = 1;
    TD_CHECK_INT(td_store_call(f->store, req), ==, TD_OK);
    td_store_req_free(req);
    free(memo.data);
    free(sa.data);
}

static void vt_init(vt_t *f)
{
    td_store_options_t opt;
    td_strlist_t sas;
    char err[256];

    memset(f, 0, sizeof(*f));
    memset(&sas, 0, sizeof(sas));
    td_config_init(&f->cfg);
    td_config_dev_defaults(&f->cfg);
    f->srv.config = &f->cfg;
    f->srv.loop = td_loop_new();
    memset(&opt, 0, sizeof(opt));
    opt.loop = f->srv.loop;
    opt.schema = TD_STORE_SCHEMA_AUTO;
    /* TD_VIS_STORE_URL runs the same tests on another backend (a fresh PostgreSQL database:
     * the runs' ids are fixed, so the database must hold no other visibility records). */
    TD_CHECK_INT(td_store_open(getenv("TD_VIS_STORE_URL") != NULL ? getenv("TD_VIS_STORE_URL")
                                                                  : "sqlite://:memory:",
                               &opt, &f->store, err, sizeof(err)),
                 ==, TD_OK);
    f->srv.store = f->store;
    f->srv.nsreg = td_nsreg_new(f->store);
    TD_CHECK_INT(td_nsreg_load(f->srv.nsreg, err, sizeof(err)), ==, TD_OK);
    td_strlist_add(&sas, "CustomKeywordField=Keyword");
    TD_CHECK_INT(td_nsreg_ensure(f->srv.nsreg, "default", 24, &sas, err, sizeof(err)), ==, TD_OK);
    td_strlist_clear(&sas);
    f->guard = td_timer_new(f->srv.loop, vt_guard, f);
    for (int i = 0; i < VT_N; i++) {
        vt_put(f, i);
    }
}

static void vt_destroy(vt_t *f)
{
    td_timer_free(f->guard);
    td_svc_free(&f->srv);
    td_nsreg_free(f->srv.nsreg);
    td_store_close(f->store);
    td_loop_free(f->srv.loop);
    td_config_destroy(&f->cfg);
    free(f->resp.data);
}

static void vt_done(const ProtobufCMessage *resp, int status, const char *message,
                    const ProtobufCMessage *detail, void *arg)
{
    vt_t *f = arg;

    (void)detail;
    f->done++;
    f->status = status;
    snprintf(f->message, sizeof(f->message), "%s", message != NULL ? message : "");
    free(f->resp.data);
    f->resp.data = NULL;
    f->resp.len = 0;
    if (resp != NULL) {
        f->resp.len = protobuf_c_message_get_packed_size(resp);
        f->resp.data = malloc(f->resp.len + 1);
        protobuf_c_message_pack(resp, f->resp.data);
    }
    td_loop_stop(f->srv.loop);
}

/* Calls path with req and runs the loop until the call ends. */
static void vt_call(vt_t *f, const char *path, const ProtobufCMessage *req)
{
    td_rpc_method_t m;
    int before = f->done;

    TD_CHECK_INT(td_fe__method(&f->srv, path, &m), ==, TD_OK);
    td_rpc_local_call(f->srv.loop, &m, req, 0, vt_done, f);
    if (f->done == before) {
        td_timer_start(f->guard, 10000);
        td_loop_run(f->srv.loop);
        td_timer_stop(f->guard);
    }
    TD_CHECK_INT(f->done, ==, before + 1);
}

typedef Temporal__Api__Workflowservice__V1__ListWorkflowExecutionsResponse vt_list_resp_t;

/* Lists every page of query with page_size; fills ids[] with the workflow ids in order (their
 * index i), returns how many, checks every run's fields against the fixture. */
static int vt_list_all(vt_t *f, const char *path, const char *query, int page_size, int *ids,
                       int cap, int *pages)
{
    Temporal__Api__Workflowservice__V1__ListWorkflowExecutionsRequest r =
            TEMPORAL__API__WORKFLOWSERVICE__V1__LIST_WORKFLOW_EXECUTIONS_REQUEST__INIT;
    uint8_t token[256];
    int n = 0;

    *pages = 0;
    r.namespace_ = "default";
    r.query = (char *)query;
    r.page_size = page_size;
    for (;;) {
        vt_list_resp_t *resp;
        vt_call(f, path, &r.base);
        TD_CHECK_INT(f->status, ==, TD_GRPC_OK);
        /* the four list responses share field numbers: decode as ListWorkflowExecutions */
        resp = (void *)protobuf_c_message_unpack(
                &temporal__api__workflowservice__v1__list_workflow_executions_response__descriptor,
                NULL, f->resp.len, f->resp.data);
        TD_CHECK(resp != NULL);
        (*pages)++;
        TD_CHECK(page_size <= 0 || (int)resp->n_executions <= page_size);
        for (size_t k = 0; k < resp->n_executions; k++) {
            const Temporal__Api__Workflow__V1__WorkflowExecutionInfo *e = resp->executions[k];
            int i = atoi(e->execution->workflow_id + 3);
            TD_CHECK(n < cap);
            ids[n++] = i;
            TD_CHECK_STR(e->type->name, vt_type(i));
            TD_CHECK_INT(e->status, ==, vt_status(i));
            TD_CHECK_INT(e->history_length, ==, 10 + i);
            TD_CHECK_STR(e->task_queue, "tq");
            TD_CHECK_INT(e->start_time->seconds, ==, VT_BASE_NS / VT_SEC + i);
            TD_CHECK(vt_close(i) == 0 ? e->close_time == NULL : e->close_time != NULL);
            if (vt_close(i) != 0) {
                TD_CHECK_INT(e->close_time->nanos, ==, i * 1000000);
                TD_CHECK_INT(e->execution_duration->seconds, ==, 10);
            }
            /* memo decoded, search attribute payload typed */
            TD_CHECK(e->memo != NULL && e->memo->n_fields == 1);
            TD_CHECK_STR(e->memo->fields[0]->key, "note");
            TD_CHECK(e->search_attributes != NULL && e->search_attributes->n_indexed_fields == 1);
            {
                const Temporal__Api__Common__V1__Payload *p =
                        e->search_attributes->indexed_fields[0]->value;
                char want[8];
                int typed = 0;
                snprintf(want, sizeof(want), "\"k%d\"", i % 2);
                TD_CHECK_INT(p->data.len, ==, strlen(want));
                TD_CHECK(memcmp(p->data.data, want, p->data.len) == 0);
                for (size_t m = 0; m < p->n_metadata; m++) {
                    typed |= strcmp(p->metadata[m]->key, "type") == 0 &&
                             p->metadata[m]->value.len == 7 &&
                             memcmp(p->metadata[m]->value.data, "Keyword", 7) == 0;
                }
                TD_CHECK(typed);
            }
        }
        TD_CHECK(resp->next_page_token.len < sizeof(token));
        if (resp->next_page_token.len == 0) {
            protobuf_c_message_free_unpacked(&resp->base, NULL);
            break;
        }
        memcpy(token, resp->next_page_token.data, resp->next_page_token.len);
        r.next_page_token.data = token;
        r.next_page_token.len = resp->next_page_token.len;
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        TD_CHECK(*pages < 100);
    }
    return n;
}

/* Checks that got[0..n) holds exactly the fixture runs for which want(i) is true. */
static void vt_check_set(const int *got, int n, int (*want)(int))
{
    int seen[VT_N] = { 0 }, expected = 0;

    for (int i = 0; i < VT_N; i++) {
        expected += want(i) != 0;
    }
    TD_CHECK_INT(n, ==, expected);
    for (int k = 0; k < n; k++) {
        TD_CHECK(got[k] >= 0 && got[k] < VT_N);
        TD_CHECK(want(got[k]));
        TD_CHECK_INT(seen[got[k]], ==, 0);
        seen[got[k]] = 1;
    }
}

static int vt_all(int i)
{
    (void)i;
    return 1;
}
static int vt_a_completed(int i)
{
    return strcmp(vt_type(i), "A") == 0 && vt_status(i) == 2;
}
static int vt_k1_not_running(int i)
{
    return i % 2 == 1 && vt_status(i) != 1;
}
static int vt_open(int i)
{
    return vt_status(i) == 1;
}
static int vt_closed_b(int i)
{
    return vt_status(i) != 1 && strcmp(vt_type(i), "B") == 0;
}
static int vt_failed(int i)
{
    return vt_status(i) == 3;
}
static int vt_duration_5_20(int i)
{
    return vt_status(i) != 1 && i >= 5 && i <= 20;
}
static int vt_not_in_k0_range(int i)
{
    /* NOT (CustomKeywordField = 'k0') AND HistoryLength BETWEEN 15 AND 30 */
    return i % 2 == 1 && 10 + i >= 15 && 10 + i <= 30;
}

TD_TEST(fv_list_all_pages_in_default_order)
{
    vt_t f;
    int ids[VT_N * 2], pages = 0, n;

    vt_init(&f);
    n = vt_list_all(&f, VT_WS("ListWorkflowExecutions"), "", 7, ids, VT_N * 2, &pages);
    vt_check_set(ids, n, vt_all);
    TD_CHECK_INT(pages, >=, 5);
    /* running first (newest start first), then closed by close time, newest first */
    for (int k = 1; k < n; k++) {
        int a = ids[k - 1], b = ids[k];
        if (vt_status(a) == 1 && vt_status(b) == 1) {
            TD_CHECK_INT(a, >, b);
        } else {
            TD_CHECK(vt_status(b) != 1);
            TD_CHECK(vt_status(a) == 1 || vt_close(a) > vt_close(b));
        }
    }
    /* Scan answers the same listing */
    n = vt_list_all(&f, VT_WS("ScanWorkflowExecutions"), NULL, 4, ids, VT_N * 2, &pages);
    vt_check_set(ids, n, vt_all);
    vt_destroy(&f);
}

TD_TEST(fv_list_with_queries)
{
    vt_t f;
    int ids[VT_N * 2], pages = 0, n;

    vt_init(&f);
    n = vt_list_all(&f, VT_WS("ListWorkflowExecutions"),
                    "WorkflowType = 'A' AND ExecutionStatus = 'Completed'", 0, ids, VT_N * 2,
                    &pages);
    vt_check_set(ids, n, vt_a_completed);
    TD_CHECK_INT(n, >, 0);
    n = vt_list_all(&f, VT_WS("ListWorkflowExecutions"),
                    "CustomKeywordField = \"k1\" and ExecutionStatus != 'Running'", 3, ids,
                    VT_N * 2, &pages);
    vt_check_set(ids, n, vt_k1_not_running);
    n = vt_list_all(&f, VT_WS("ListWorkflowExecutions"),
                    "NOT (CustomKeywordField = 'k0') AND HistoryLength BETWEEN 15 AND 30", 100, ids,
                    VT_N * 2, &pages);
    vt_check_set(ids, n, vt_not_in_k0_range);
    n = vt_list_all(&f, VT_WS("ListWorkflowExecutions"),
                    "ExecutionStatus IN ('Failed') AND WorkflowId STARTS_WITH 'wf-' AND CloseTime "
                    "IS NOT NULL",
                    0, ids, VT_N * 2, &pages);
    vt_check_set(ids, n, vt_failed);
    /* ExecutionDuration: close - execution time = 10 s + i ms; NULL while running */
    n = vt_list_all(&f, VT_WS("ListWorkflowExecutions"),
                    "ExecutionDuration BETWEEN '10.005s' AND '10s20ms'", 0, ids, VT_N * 2, &pages);
    vt_check_set(ids, n, vt_duration_5_20);
    n = vt_list_all(&f, VT_WS("ListWorkflowExecutions"), "ExecutionDuration IS NULL", 0, ids,
                    VT_N * 2, &pages);
    vt_check_set(ids, n, vt_open);
    /* ascending start time */
    n = vt_list_all(&f, VT_WS("ListWorkflowExecutions"), "ORDER BY StartTime ASC", 8, ids, VT_N * 2,
                    &pages);
    vt_check_set(ids, n, vt_all);
    for (int k = 1; k < n; k++) {
        TD_CHECK_INT(ids[k - 1], <, ids[k]);
    }
    n = vt_list_all(&f, VT_WS("ListWorkflowExecutions"), "ORDER BY StartTime DESC", 8, ids,
                    VT_N * 2, &pages);
    for (int k = 1; k < n; k++) {
        TD_CHECK_INT(ids[k - 1], >, ids[k]);
    }
    /* other keys: sort keys carried by the page token (HistoryLength = 10 + i) */
    n = vt_list_all(&f, VT_WS("ListWorkflowExecutions"), "ORDER BY HistoryLength DESC", 5, ids,
                    VT_N * 2, &pages);
    vt_check_set(ids, n, vt_all);
    TD_CHECK_INT(pages, >=, 5);
    for (int k = 1; k < n; k++) {
        TD_CHECK_INT(ids[k - 1], >, ids[k]);
    }
    n = vt_list_all(&f, VT_WS("ListWorkflowExecutions"),
                    "ExecutionStatus != 'Running' ORDER BY ExecutionTime, WorkflowId DESC", 3, ids,
                    VT_N * 2, &pages);
    TD_CHECK_INT(n, >, 1);
    for (int k = 1; k < n; k++) {
        TD_CHECK_INT(ids[k - 1], <, ids[k]);
        TD_CHECK(vt_status(ids[k]) != 1);
    }
    vt_destroy(&f);
}

TD_TEST(fv_list_open_and_closed_typed_filters)
{
    vt_t f;
    Temporal__Api__Workflowservice__V1__ListOpenWorkflowExecutionsRequest o =
            TEMPORAL__API__WORKFLOWSERVICE__V1__LIST_OPEN_WORKFLOW_EXECUTIONS_REQUEST__INIT;
    Temporal__Api__Workflowservice__V1__ListClosedWorkflowExecutionsRequest c =
            TEMPORAL__API__WORKFLOWSERVICE__V1__LIST_CLOSED_WORKFLOW_EXECUTIONS_REQUEST__INIT;
    Temporal__Api__Filter__V1__WorkflowTypeFilter tf =
            TEMPORAL__API__FILTER__V1__WORKFLOW_TYPE_FILTER__INIT;
    Temporal__Api__Filter__V1__StatusFilter sf = TEMPORAL__API__FILTER__V1__STATUS_FILTER__INIT;
    Temporal__Api__Filter__V1__WorkflowExecutionFilter ef =
            TEMPORAL__API__FILTER__V1__WORKFLOW_EXECUTION_FILTER__INIT;
    Temporal__Api__Filter__V1__StartTimeFilter stf =
            TEMPORAL__API__FILTER__V1__START_TIME_FILTER__INIT;
    Google__Protobuf__Timestamp early = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Google__Protobuf__Timestamp late = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    vt_list_resp_t *resp;
    int ids[VT_N], n = 0;

    vt_init(&f);
    o.namespace_ = "default";
    vt_call(&f, VT_WS("ListOpenWorkflowExecutions"), &o.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    resp = (void *)protobuf_c_message_unpack(
            &temporal__api__workflowservice__v1__list_workflow_executions_response__descriptor,
            NULL, f.resp.len, f.resp.data);
    for (size_t k = 0; k < resp->n_executions; k++) {
        ids[n++] = atoi(resp->executions[k]->execution->workflow_id + 3);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    vt_check_set(ids, n, vt_open);

    c.namespace_ = "default";
    tf.name = "B";
    c.type_filter = &tf;
    c.filters_case =
            TEMPORAL__API__WORKFLOWSERVICE__V1__LIST_CLOSED_WORKFLOW_EXECUTIONS_REQUEST__FILTERS_TYPE_FILTER;
    vt_call(&f, VT_WS("ListClosedWorkflowExecutions"), &c.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    resp = (void *)protobuf_c_message_unpack(
            &temporal__api__workflowservice__v1__list_workflow_executions_response__descriptor,
            NULL, f.resp.len, f.resp.data);
    n = 0;
    for (size_t k = 0; k < resp->n_executions; k++) {
        ids[n++] = atoi(resp->executions[k]->execution->workflow_id + 3);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    vt_check_set(ids, n, vt_closed_b);

    /* status filter + close-time window: only wf-02 (Failed, closed at base + 12 s) */
    c.type_filter = NULL;
    sf.status =
            TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_FAILED;
    c.status_filter = &sf;
    c.filters_case =
            TEMPORAL__API__WORKFLOWSERVICE__V1__LIST_CLOSED_WORKFLOW_EXECUTIONS_REQUEST__FILTERS_STATUS_FILTER;
    early.seconds = VT_BASE_NS / VT_SEC + 12;
    late.seconds = VT_BASE_NS / VT_SEC + 13;
    stf.earliest_time = &early;
    stf.latest_time = &late;
    c.start_time_filter = &stf;
    vt_call(&f, VT_WS("ListClosedWorkflowExecutions"), &c.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    resp = (void *)protobuf_c_message_unpack(
            &temporal__api__workflowservice__v1__list_workflow_executions_response__descriptor,
            NULL, f.resp.len, f.resp.data);
    TD_CHECK_INT(resp->n_executions, ==, 1);
    TD_CHECK_STR(resp->executions[0]->execution->workflow_id, "wf-02");
    protobuf_c_message_free_unpacked(&resp->base, NULL);

    /* a status filter must name a closed status */
    sf.status =
            TEMPORAL__API__ENUMS__V1__WORKFLOW_EXECUTION_STATUS__WORKFLOW_EXECUTION_STATUS_RUNNING;
    vt_call(&f, VT_WS("ListClosedWorkflowExecutions"), &c.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_CONTAINS(f.message, "StatusFilter");

    /* execution filter on an open run; a quote in the id is escaped, not injected */
    o.execution_filter = &ef;
    o.filters_case =
            TEMPORAL__API__WORKFLOWSERVICE__V1__LIST_OPEN_WORKFLOW_EXECUTIONS_REQUEST__FILTERS_EXECUTION_FILTER;
    ef.workflow_id = "wf-05";
    vt_call(&f, VT_WS("ListOpenWorkflowExecutions"), &o.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    resp = (void *)protobuf_c_message_unpack(
            &temporal__api__workflowservice__v1__list_workflow_executions_response__descriptor,
            NULL, f.resp.len, f.resp.data);
    TD_CHECK_INT(resp->n_executions, ==, 1);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    ef.workflow_id = "wf-05' OR WorkflowId != '";
    vt_call(&f, VT_WS("ListOpenWorkflowExecutions"), &o.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    resp = (void *)protobuf_c_message_unpack(
            &temporal__api__workflowservice__v1__list_workflow_executions_response__descriptor,
            NULL, f.resp.len, f.resp.data);
    TD_CHECK_INT(resp->n_executions, ==, 0);
    protobuf_c_message_free_unpacked(&resp->base, NULL);

    /* earliest after latest */
    early.seconds = 100;
    late.seconds = 50;
    o.start_time_filter = &stf;
    vt_call(&f, VT_WS("ListOpenWorkflowExecutions"), &o.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_CONTAINS(f.message, "EarliestTime");
    vt_destroy(&f);
}

TD_TEST(fv_count_and_group_by_status)
{
    vt_t f;
    Temporal__Api__Workflowservice__V1__CountWorkflowExecutionsRequest r =
            TEMPORAL__API__WORKFLOWSERVICE__V1__COUNT_WORKFLOW_EXECUTIONS_REQUEST__INIT;
    Temporal__Api__Workflowservice__V1__CountWorkflowExecutionsResponse *resp;
    int64_t want[8] = { 0 }, total = 0;

    vt_init(&f);
    r.namespace_ = "default";
    vt_call(&f, VT_WS("CountWorkflowExecutions"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    resp = (void *)protobuf_c_message_unpack(
            &temporal__api__workflowservice__v1__count_workflow_executions_response__descriptor,
            NULL, f.resp.len, f.resp.data);
    TD_CHECK_INT(resp->count, ==, VT_N);
    TD_CHECK_INT(resp->n_groups, ==, 0);
    protobuf_c_message_free_unpacked(&resp->base, NULL);

    r.query = "WorkflowType = 'C'";
    vt_call(&f, VT_WS("CountWorkflowExecutions"), &r.base);
    resp = (void *)protobuf_c_message_unpack(
            &temporal__api__workflowservice__v1__count_workflow_executions_response__descriptor,
            NULL, f.resp.len, f.resp.data);
    TD_CHECK_INT(resp->count, ==, VT_N / 3);
    protobuf_c_message_free_unpacked(&resp->base, NULL);

    r.query = "WorkflowType != 'C' GROUP BY ExecutionStatus";
    for (int i = 0; i < VT_N; i++) {
        if (strcmp(vt_type(i), "C") != 0) {
            want[vt_status(i)]++;
            total++;
        }
    }
    vt_call(&f, VT_WS("CountWorkflowExecutions"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_OK);
    resp = (void *)protobuf_c_message_unpack(
            &temporal__api__workflowservice__v1__count_workflow_executions_response__descriptor,
            NULL, f.resp.len, f.resp.data);
    TD_CHECK_INT(resp->count, ==, total);
    TD_CHECK_INT(resp->n_groups, ==, 5); /* Running, Completed, Failed, Terminated, TimedOut */
    for (size_t g = 0; g < resp->n_groups; g++) {
        const Temporal__Api__Common__V1__Payload *p = resp->groups[g]->group_values[0];
        char name[32];
        int s = 0, typed = 0;
        TD_CHECK_INT(resp->groups[g]->n_group_values, ==, 1);
        TD_CHECK(p->data.len > 2 && p->data.len < sizeof(name));
        memcpy(name, p->data.data + 1, p->data.len - 2); /* JSON string without its quotes */
        name[p->data.len - 2] = '\0';
        for (int k = 1; k <= 7; k++) {
            if (strcmp(td_fe_query_status_name(k), name) == 0) {
                s = k;
            }
        }
        TD_CHECK(s != 0);
        TD_CHECK_INT(resp->groups[g]->count, ==, want[s]);
        for (size_t m = 0; m < p->n_metadata; m++) {
            typed |= strcmp(p->metadata[m]->key, "type") == 0 && p->metadata[m]->value.len == 7;
        }
        TD_CHECK(typed);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    vt_destroy(&f);
}

TD_TEST(fv_invalid_arguments)
{
    vt_t f;
    Temporal__Api__Workflowservice__V1__ListWorkflowExecutionsRequest r =
            TEMPORAL__API__WORKFLOWSERVICE__V1__LIST_WORKFLOW_EXECUTIONS_REQUEST__INIT;
    Temporal__Api__Workflowservice__V1__CountWorkflowExecutionsRequest c =
            TEMPORAL__API__WORKFLOWSERVICE__V1__COUNT_WORKFLOW_EXECUTIONS_REQUEST__INIT;

    vt_init(&f);
    r.namespace_ = "default";
    r.query = "WorkflowType = 'A' AND Nope = 1";
    vt_call(&f, VT_WS("ListWorkflowExecutions"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_STR(f.message,
                 "invalid query: unknown search attribute Nope at column 24 near 'Nope'");
    r.query = "GROUP BY ExecutionStatus";
    vt_call(&f, VT_WS("ListWorkflowExecutions"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_CONTAINS(f.message, "GROUP BY is only supported by CountWorkflowExecutions");
    r.query = "";
    r.next_page_token.data = (uint8_t *)"garbage";
    r.next_page_token.len = 7;
    vt_call(&f, VT_WS("ListWorkflowExecutions"), &r.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_CONTAINS(f.message, "token");
    c.namespace_ = "default";
    c.query = "ExecutionStatus = 'Bogus' GROUP BY ExecutionStatus";
    vt_call(&f, VT_WS("CountWorkflowExecutions"), &c.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_CONTAINS(f.message, "at column 19 near ''Bogus''");
    c.namespace_ = "nope";
    vt_call(&f, VT_WS("CountWorkflowExecutions"), &c.base);
    TD_CHECK_INT(f.status, ==, TD_GRPC_NOT_FOUND);
    vt_destroy(&f);
}
