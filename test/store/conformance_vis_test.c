/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store conformance, visibility part two (schema 2): the lineage columns (parent and root
 * runs) in filters and listings, Text attributes matched word by word, listings ordered by
 * arbitrary keys (built-in and custom, missing values, both directions) paged with tokens
 * that visit every record once and in order, and `schema update` of a database at schema 1
 * holding visibility records (its Text values become words). Runs on the backend named by
 * TD_TEST_DB_URL like the rest of the conformance suite; the migration test makes its own
 * SQLite file, or its own PostgreSQL schema (search_path) in the database under test.
 */
#include "test.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "store/store_backend.h"
#include "store_fixture.h"

typedef struct {
    const char *run, *wf, *parent_wf, *parent_run, *root_wf, *root_run;
    int64_t start, close, size;
    const td_store_sa_t *sas;
    int n_sas;
} td_cw_rec_t;

static void td_cw_put(td_store_t *s, const char *ns, const td_cw_rec_t *x)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_VIS_UPSERT);

    r->in.vis.namespace_id = ns;
    r->in.vis.run_id = x->run;
    r->in.vis.workflow_id = x->wf;
    r->in.vis.workflow_type = "T";
    r->in.vis.task_queue = "tq";
    r->in.vis.start_time_ns = x->start;
    r->in.vis.execution_time_ns = x->start;
    r->in.vis.close_time_ns = x->close;
    r->in.vis.status = x->close != 0 ? 2 : 1;
    r->in.vis.history_length = 7;
    r->in.vis.history_size_bytes = x->size;
    r->in.vis.parent_workflow_id = x->parent_wf;
    r->in.vis.parent_run_id = x->parent_run;
    r->in.vis.root_workflow_id = x->root_wf;
    r->in.vis.root_run_id = x->root_run;
    r->in.vis.first_run_id = x->root_run;
    r->in.vis.state_transition_count = x->size + 1;
    r->in.vis.sas = x->sas;
    r->in.vis.n_sas = x->n_sas;
    if (td_store_call(s, r) != TD_OK) {
        td_test_fail(__FILE__, __LINE__, "visibility put %s: %s", x->run, r->err);
    }
    td_store_req_free(r);
}

static int64_t td_cw_count(td_store_t *s, const char *ns, const td_store_vfilter_t *f)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_VIS_COUNT);
    int64_t n = -1;

    r->in.vis_query.namespace_id = ns;
    r->in.vis_query.filter = f;
    if (td_store_call(s, r) != TD_OK) {
        td_test_fail(__FILE__, __LINE__, "visibility count: %s", r->err);
    }
    n = r->out.vis_count;
    td_store_req_free(r);
    return n;
}

static td_store_vfilter_t td_cw_str(const char *field, int op, int type, const char *v)
{
    td_store_vfilter_t f;

    memset(&f, 0, sizeof(f));
    f.kind = TD_STORE_VF_CMP;
    f.field = field;
    f.op = op;
    f.value.type = type;
    f.value.s = v;
    return f;
}

/* Lists everything under (sort, filter) in pages of page_size; writes the run ids in order,
 * comma-separated, into out. Returns the number of pages. */
static int td_cw_list(td_store_t *s, const char *ns, const td_store_vsort_t *sort, int n_sort,
                      const td_store_vfilter_t *f, int page_size, char *out, size_t cap)
{
    uint8_t tok[512];
    size_t toklen = 0;
    int pages = 0;

    out[0] = '\0';
    do {
        td_store_req_t *r = td_store_req_new(TD_STORE_OP_VIS_LIST);
        r->in.vis_query.namespace_id = ns;
        r->in.vis_query.filter = f;
        r->in.vis_query.sort = sort;
        r->in.vis_query.n_sort = n_sort;
        r->in.vis_query.page_size = page_size;
        r->in.vis_query.token.data = tok;
        r->in.vis_query.token.len = toklen;
        if (td_store_call(s, r) != TD_OK) {
            td_test_fail(__FILE__, __LINE__, "visibility list: %s", r->err);
        }
        for (int i = 0; i < r->out.vis_list.n_recs; i++) {
            size_t n = strlen(out);
            snprintf(out + n, cap - n, "%s%s", out[0] != '\0' ? "," : "",
                     r->out.vis_list.recs[i].run_id);
        }
        toklen = r->out.vis_list.next_token.len;
        TD_CHECK(toklen <= sizeof(tok));
        if (toklen > 0) {
            memcpy(tok, r->out.vis_list.next_token.data, toklen);
        }
        td_store_req_free(r);
        pages++;
    } while (toklen > 0 && pages < 100);
    return pages;
}

TD_TEST(store_visibility_lineage_and_text_words)
{
    td_store_t *s = td_fx_open();
    const char *ns = td_fx_id("ns");
    td_store_sa_t t1[2], t2[1];
    td_cw_rec_t root = { "r-root", "root", NULL, NULL, "root", "r-root", 100, 0, 512, t1, 2 };
    td_cw_rec_t child = { "r-child", "child", "root", "r-root", "root", "r-root",
                          200,       300,     2048,   t2,       1 };
    td_cw_rec_t grand = { "r-grand", "grand", "child", "r-child", "root", "r-root",
                          250,       0,       64,      NULL,      0 };
    td_store_vfilter_t f, g;
    const td_store_vfilter_t *args[2];
    td_store_req_t *r;

    memset(t1, 0, sizeof(t1));
    t1[0].name = "Notes";
    t1[0].type = TD_STORE_SA_TEXT;
    t1[0].s = "Order SHIPPED: blue-widget, 3 units (rush)";
    t1[1].name = "Kw";
    t1[1].type = TD_STORE_SA_KEYWORD;
    t1[1].s = "blue widget";
    memset(t2, 0, sizeof(t2));
    t2[0].name = "Notes";
    t2[0].type = TD_STORE_SA_TEXT;
    t2[0].s = "refund requested";
    td_cw_put(s, ns, &root);
    td_cw_put(s, ns, &child);
    td_cw_put(s, ns, &grand);

    /* lineage */
    f = td_cw_str("ParentWorkflowId", TD_STORE_VF_EQ, TD_STORE_SA_KEYWORD, "root");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 1);
    f = td_cw_str("ParentWorkflowId", TD_STORE_VF_IS_NULL, TD_STORE_SA_KEYWORD, NULL);
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 1);
    f = td_cw_str("ParentWorkflowId", TD_STORE_VF_NE, TD_STORE_SA_KEYWORD, "root");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 1); /* NULL never differs */
    f = td_cw_str("ParentRunId", TD_STORE_VF_EQ, TD_STORE_SA_KEYWORD, "r-child");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 1);
    f = td_cw_str("RootWorkflowId", TD_STORE_VF_EQ, TD_STORE_SA_KEYWORD, "root");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 3);
    f = td_cw_str("RootRunId", TD_STORE_VF_STARTS_WITH, TD_STORE_SA_KEYWORD, "r-ro");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 3);
    f = td_cw_str("HistorySizeBytes", TD_STORE_VF_GT, TD_STORE_SA_INT, NULL);
    f.value.i = 500;
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 2);
    r = td_store_req_new(TD_STORE_OP_VIS_LIST);
    r->in.vis_query.namespace_id = ns;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.vis_list.n_recs, ==, 3);
    for (int i = 0; i < r->out.vis_list.n_recs; i++) {
        const td_store_visibility_t *v = &r->out.vis_list.recs[i];
        TD_CHECK_STR(v->root_workflow_id, "root");
        TD_CHECK_STR(v->root_run_id, "r-root");
        if (strcmp(v->run_id, "r-grand") == 0) {
            TD_CHECK_STR(v->parent_workflow_id, "child");
            TD_CHECK_STR(v->parent_run_id, "r-child");
            TD_CHECK_INT(v->history_size_bytes, ==, 64);
            TD_CHECK_STR(v->first_run_id, "r-root");
            TD_CHECK_INT(v->state_transition_count, ==, 65);
        } else if (strcmp(v->run_id, "r-root") == 0) {
            TD_CHECK(v->parent_workflow_id == NULL);
            TD_CHECK(v->parent_run_id == NULL);
            TD_CHECK_INT(v->history_size_bytes, ==, 512);
            TD_CHECK_STR(v->first_run_id, "r-root");
            TD_CHECK_INT(v->state_transition_count, ==, 513);
        }
    }
    td_store_req_free(r);

    /* Text: any word of the value, case-folded, punctuation ignored */
    f = td_cw_str("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT, "shipped");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 1);
    f = td_cw_str("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT, "WIDGET");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 1);
    f = td_cw_str("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT, "rush refund");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 2);
    f = td_cw_str("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT, "widg");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 0); /* a word, not a prefix */
    f = td_cw_str("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT,
                  "Order SHIPPED: blue-widget, 3 "
                  "units (rush)");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 1);
    /* the Keyword is not split */
    f = td_cw_str("Kw", TD_STORE_VF_EQ, TD_STORE_SA_KEYWORD, "blue");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 0);
    f = td_cw_str("Kw", TD_STORE_VF_EQ, TD_STORE_SA_KEYWORD, "blue widget");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 1);
    /* != as the query language compiles it: present and NOT(=) */
    f = td_cw_str("Notes", TD_STORE_VF_IS_NOT_NULL, TD_STORE_SA_TEXT, NULL);
    g = td_cw_str("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT, "refund");
    {
        td_store_vfilter_t not, and;
        const td_store_vfilter_t *nargs[1] = { &g };
        memset(&not, 0, sizeof(not ));
        not .kind = TD_STORE_VF_NOT;
        not .args = nargs;
        not .n_args = 1;
        args[0] = &f;
        args[1] = &not ;
        memset(&and, 0, sizeof(and));
        and.kind = TD_STORE_VF_AND;
        and.args = args;
        and.n_args = 2;
        TD_CHECK_INT(td_cw_count(s, ns, &and), ==, 1);
    }
    /* a Text value without words, or another operator, is refused */
    f = td_cw_str("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT, " -- ");
    r = td_store_req_new(TD_STORE_OP_VIS_COUNT);
    r->in.vis_query.namespace_id = ns;
    r->in.vis_query.filter = &f;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_EINVAL);
    td_store_req_free(r);
    /* rewriting a record replaces its words */
    t2[0].s = "refund granted";
    td_cw_put(s, ns, &child);
    f = td_cw_str("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT, "requested");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 0);
    f = td_cw_str("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT, "granted");
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 1);
    /* and deleting it removes them */
    r = td_store_req_new(TD_STORE_OP_VIS_DELETE);
    r->in.vis.namespace_id = ns;
    r->in.vis.run_id = "r-child";
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    td_store_req_free(r);
    TD_CHECK_INT(td_cw_count(s, ns, &f), ==, 0);
    td_store_close(s);
}

/* 13 records: r00..r12. Start 1000 + 7i mod 13 (all distinct), closed when i is even (close
 * 5000 + i), custom Int = i mod 4 except every fifth record (missing), Keyword = "k" + (i mod
 * 3) for i < 10 (missing after), Double = (i mod 5) / 2. */
TD_TEST(store_visibility_sorted_pages)
{
    td_store_t *s = td_fx_open();
    const char *ns = td_fx_id("ns");
    char runs[13][16], got[512], want[512];
    td_store_sa_t sas[13][3];
    td_store_vsort_t k[3];
    td_store_req_t *r;

    for (int i = 0; i < 13; i++) {
        td_cw_rec_t x;
        int n = 0;
        snprintf(runs[i], sizeof(runs[i]), "r%02d", i);
        memset(sas[i], 0, sizeof(sas[i]));
        if (i % 5 != 0) {
            sas[i][n].name = "CInt";
            sas[i][n].type = TD_STORE_SA_INT;
            sas[i][n++].i = i % 4;
        }
        if (i < 10) {
            sas[i][n].name = "CKw";
            sas[i][n].type = TD_STORE_SA_KEYWORD;
            sas[i][n++].s = i % 3 == 0 ? "k0" : i % 3 == 1 ? "k1" : "k2";
        }
        sas[i][n].name = "CDbl";
        sas[i][n].type = TD_STORE_SA_DOUBLE;
        sas[i][n++].d = (i % 5) / 2.0;
        memset(&x, 0, sizeof(x));
        x.run = runs[i];
        x.wf = runs[i];
        x.root_wf = runs[i];
        x.root_run = runs[i];
        x.start = 1000 + (7 * i) % 13;
        x.close = i % 2 == 0 ? 5000 + i : 0;
        x.size = 100 * (i % 3);
        x.sas = sas[i];
        x.n_sas = n;
        td_cw_put(s, ns, &x);
    }
    memset(k, 0, sizeof(k));

    /* ExecutionTime ascending (= start here: 1000 + 7i mod 13) */
    k[0].field = "ExecutionTime";
    td_cw_list(s, ns, k, 1, NULL, 4, got, sizeof(got));
    TD_CHECK_STR(got, "r00,r02,r04,r06,r08,r10,r12,r01,r03,r05,r07,r09,r11");
    /* CloseTime ascending: closed by close time, running (missing) last by run id */
    k[0].field = "CloseTime";
    TD_CHECK_INT(td_cw_list(s, ns, k, 1, NULL, 3, got, sizeof(got)), ==, 5);
    TD_CHECK_STR(got, "r00,r02,r04,r06,r08,r10,r12,r01,r03,r05,r07,r09,r11");
    /* descending: missing first (run ids descending), then close time descending */
    k[0].desc = 1;
    td_cw_list(s, ns, k, 1, NULL, 2, got, sizeof(got));
    TD_CHECK_STR(got, "r11,r09,r07,r05,r03,r01,r12,r10,r08,r06,r04,r02,r00");
    /* a custom Int with ties and missing values, then HistorySizeBytes descending */
    k[0].field = "CInt";
    k[0].type = TD_STORE_SA_INT;
    k[0].desc = 0;
    k[1].field = "HistorySizeBytes";
    k[1].desc = 1;
    /* CInt: r01 1, r02 2, r03 3, r04 0, r06 2, r07 3, r08 0, r09 1, r11 3, r12 0; missing:
     * r00, r05, r10. sizes: 100*(i mod 3), descending within a CInt value */
    for (int ps = 1; ps <= 14; ps += 3) {
        td_cw_list(s, ns, k, 2, NULL, ps, got, sizeof(got));
        TD_CHECK_STR(got, "r08,r04,r12,r01,r09,r02,r06,r11,r07,r03,r05,r10,r00");
    }
    /* a custom Keyword descending, missing ones first; a Double third */
    k[0].field = "CKw";
    k[0].type = TD_STORE_SA_KEYWORD;
    k[0].desc = 1;
    k[1].field = "CDbl";
    k[1].type = TD_STORE_SA_DOUBLE;
    k[1].desc = 0;
    k[2].field = "StartTime";
    k[2].desc = 0;
    /* missing CKw: r10 (dbl 0), r11 (0.5), r12 (1); k2: r02 1, r05 0, r08 1.5; k1: r01 0.5,
     * r04 2, r07 1; k0: r00 0, r03 1.5, r06 0.5, r09 2 */
    snprintf(want, sizeof(want), "r10,r11,r12,r05,r02,r08,r01,r07,r04,r00,r06,r03,r09");
    for (int ps = 1; ps <= 13; ps += 4) {
        td_cw_list(s, ns, k, 3, NULL, ps, got, sizeof(got));
        TD_CHECK_STR(got, want);
    }
    /* with a filter */
    {
        td_store_vfilter_t f = td_cw_str("ExecutionStatus", TD_STORE_VF_EQ, TD_STORE_SA_INT, NULL);
        f.value.i = 1;
        td_cw_list(s, ns, k, 3, &f, 2, got, sizeof(got));
        TD_CHECK_STR(got, "r11,r05,r01,r07,r03,r09");
    }
    /* a token of another ordering, an unknown field and a Text key are TD_EINVAL */
    r = td_store_req_new(TD_STORE_OP_VIS_LIST);
    r->in.vis_query.namespace_id = ns;
    r->in.vis_query.page_size = 1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    {
        td_store_req_t *r2 = td_store_req_new(TD_STORE_OP_VIS_LIST);
        r2->in.vis_query.namespace_id = ns;
        r2->in.vis_query.sort = k;
        r2->in.vis_query.n_sort = 3;
        r2->in.vis_query.token = r->out.vis_list.next_token;
        TD_CHECK_INT(td_store_call(s, r2), ==, TD_EINVAL);
        td_store_req_free(r2);
    }
    td_store_req_free(r);
    k[0].field = "CText";
    k[0].type = TD_STORE_SA_TEXT;
    r = td_store_req_new(TD_STORE_OP_VIS_LIST);
    r->in.vis_query.namespace_id = ns;
    r->in.vis_query.sort = k;
    r->in.vis_query.n_sort = 1;
    TD_CHECK_INT(td_store_call(s, r), ==, TD_EINVAL);
    td_store_req_free(r);
    td_store_close(s);
}

/* ---- migration from schema 1 ---- */

static const char *td_cw_migration(const char *backend, int version)
{
    for (int i = 0; i < td_store_migrations_count; i++) {
        if (strcmp(td_store_migrations[i].backend, backend) == 0 &&
            td_store_migrations[i].version == version) {
            return td_store_migrations[i].sql;
        }
    }
    return NULL;
}

/* Schema 1 with one visibility record holding a Text and a Keyword attribute. */
static const char td_cw_v1_rows[] =
        "INSERT INTO executions_visibility (namespace_id, run_id, workflow_id, workflow_type, "
        "task_queue, start_ns, execution_ns, close_ns, sort_close, status, history_length, "
        "history_size_bytes) VALUES ('ns-mig', 'run-old', 'wf-old', 'T', 'tq', 10, 10, NULL, "
        "9223372036854775807, 1, 3, 0);"
        "INSERT INTO visibility_sa (namespace_id, run_id, name, type, sval) VALUES "
        "('ns-mig', 'run-old', 'Notes', 1, 'Legacy NOTE: Hello-World (v1)');"
        "INSERT INTO visibility_sa (namespace_id, run_id, name, type, sval) VALUES "
        "('ns-mig', 'run-old', 'Kw', 2, 'hello world');"
        "CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER "
        "NOT NULL, updated_ns BIGINT NOT NULL);"
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_ns BIGINT NOT NULL);"
        "INSERT INTO schema_version VALUES (1, 1, 1);"
        "INSERT INTO schema_migrations VALUES (1, '001_initial.sql', 1);";

/* After `schema update`: the old record is found by its words and lists without lineage, first
 * run id or state transition count until written again. */
static void td_cw_check_migrated(const char *url)
{
    td_store_options_t opt;
    td_store_t *s = NULL;
    td_store_req_t *r;
    td_store_vfilter_t f;
    char err[512] = "";
    int from = -1, to = -1, want = -1;

    memset(&opt, 0, sizeof(opt));
    TD_CHECK_INT(td_store_open(url, &opt, &s, err, sizeof(err)), ==, TD_ESCHEMA);
    TD_CHECK_CONTAINS(err, "schema update");
    TD_CHECK_INT(td_store_schema(url, &opt, "update", &from, &to, &want, err, sizeof(err)), ==,
                 TD_OK);
    TD_CHECK_INT(from, ==, 1);
    TD_CHECK_INT(to, ==, want);
    TD_CHECK(want >= 2);
    TD_CHECK_INT(td_store_open(url, &opt, &s, err, sizeof(err)), ==, TD_OK);
    f = td_cw_str("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT, "hello");
    TD_CHECK_INT(td_cw_count(s, "ns-mig", &f), ==, 1);
    f = td_cw_str("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT, "note v1");
    TD_CHECK_INT(td_cw_count(s, "ns-mig", &f), ==, 1);
    f = td_cw_str("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT, "legacy-note");
    TD_CHECK_INT(td_cw_count(s, "ns-mig", &f), ==, 1);
    f = td_cw_str("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT, "v2");
    TD_CHECK_INT(td_cw_count(s, "ns-mig", &f), ==, 0);
    f = td_cw_str("Kw", TD_STORE_VF_EQ, TD_STORE_SA_KEYWORD, "hello world");
    TD_CHECK_INT(td_cw_count(s, "ns-mig", &f), ==, 1);
    f = td_cw_str("RootWorkflowId", TD_STORE_VF_IS_NULL, TD_STORE_SA_KEYWORD, NULL);
    TD_CHECK_INT(td_cw_count(s, "ns-mig", &f), ==, 1);
    r = td_store_req_new(TD_STORE_OP_VIS_LIST);
    r->in.vis_query.namespace_id = "ns-mig";
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.vis_list.n_recs, ==, 1);
    TD_CHECK_STR(r->out.vis_list.recs[0].workflow_id, "wf-old");
    TD_CHECK(r->out.vis_list.recs[0].root_workflow_id == NULL);
    TD_CHECK(r->out.vis_list.recs[0].parent_workflow_id == NULL);
    TD_CHECK(r->out.vis_list.recs[0].first_run_id == NULL); /* schema 3 */
    TD_CHECK_INT(r->out.vis_list.recs[0].state_transition_count, ==, 0);
    td_store_req_free(r);
    /* written again (as history does), it gets its lineage */
    {
        td_cw_rec_t x = {
            "run-old", "wf-old", NULL, NULL, "wf-old", "run-old", 10, 20, 99, NULL, 0
        };
        td_cw_put(s, "ns-mig", &x);
    }
    f = td_cw_str("RootWorkflowId", TD_STORE_VF_EQ, TD_STORE_SA_KEYWORD, "wf-old");
    TD_CHECK_INT(td_cw_count(s, "ns-mig", &f), ==, 1);
    r = td_store_req_new(TD_STORE_OP_VIS_LIST);
    r->in.vis_query.namespace_id = "ns-mig";
    TD_CHECK_INT(td_store_call(s, r), ==, TD_OK);
    TD_CHECK_INT(r->out.vis_list.n_recs, ==, 1);
    TD_CHECK_STR(r->out.vis_list.recs[0].first_run_id, "run-old");
    TD_CHECK_INT(r->out.vis_list.recs[0].state_transition_count, ==, 100);
    td_store_req_free(r);
    td_store_close(s);
}

TD_TEST(store_visibility_schema_update_from_1)
{
    const char *v1 =
            td_cw_migration(strncmp(td_fx_url(), "postgres", 8) == 0 ? "postgresql" : "sqlite", 1);
    char url[700];

    TD_CHECK(v1 != NULL);
    if (strncmp(td_fx_url(), "postgres", 8) == 0) {
        /* a schema of our own in the database under test, named by search_path */
        PGconn *pg = PQconnectdb(td_fx_url());
        char sql[512], schema[64];
        PGresult *res;
        snprintf(schema, sizeof(schema), "mig%d", (int)getpid());
        TD_CHECK(PQstatus(pg) == CONNECTION_OK);
        snprintf(sql, sizeof(sql),
                 "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s; SET "
                 "search_path TO %s",
                 schema, schema, schema);
        res = PQexec(pg, sql);
        TD_CHECK_INT(PQresultStatus(res), ==, PGRES_COMMAND_OK);
        PQclear(res);
        res = PQexec(pg, v1);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            td_test_fail(__FILE__, __LINE__, "schema 1: %s", PQerrorMessage(pg));
        }
        PQclear(res);
        res = PQexec(pg, td_cw_v1_rows);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            td_test_fail(__FILE__, __LINE__, "schema 1 rows: %s", PQerrorMessage(pg));
        }
        PQclear(res);
        snprintf(url, sizeof(url), "%s%soptions=-csearch_path%%3D%s", td_fx_url(),
                 strchr(td_fx_url(), '?') != NULL ? "&" : "?", schema);
        td_cw_check_migrated(url);
        snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", schema);
        res = PQexec(pg, sql);
        PQclear(res);
        PQfinish(pg);
    } else {
        char dir[] = "/tmp/td-vismig-XXXXXX", path[128], *msg = NULL;
        sqlite3 *db = NULL;
        TD_CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/v1.sqlite", dir);
        TD_CHECK_INT(sqlite3_open(path, &db), ==, SQLITE_OK);
        if (sqlite3_exec(db, v1, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, td_cw_v1_rows, NULL, NULL, &msg) != SQLITE_OK) {
            td_test_fail(__FILE__, __LINE__, "schema 1: %s", msg);
        }
        sqlite3_close(db);
        snprintf(url, sizeof(url), "sqlite://%s", path);
        td_cw_check_migrated(url);
        unlink(path);
        rmdir(dir);
    }
}
