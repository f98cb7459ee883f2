/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Visibility query benchmark helper.
 *
 *   vis_bench URL N   writes N visibility records through the store (each with an Int, a
 *       Keyword, a KeywordList and a Text attribute, a third of them running), then at once
 *       times counts and listings that filter on custom attributes, the per-status counts of
 *       GROUP BY ExecutionStatus, and an ORDER BY a custom attribute. The store at URL must be
 *       empty of the namespace "vis-bench" (use a fresh database).
 *
 * Prints one line per query: "QUERY <ms> ms <result>". Not a test: numbers, not verdicts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "log.h"
#include "store/store.h"

#define NS "vis-bench"

static double td_vb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static td_store_vfilter_t td_vb_cmp(const char *field, int op, int type, int64_t i, const char *s)
{
    td_store_vfilter_t f;
    memset(&f, 0, sizeof(f));
    f.kind = TD_STORE_VF_CMP;
    f.field = field;
    f.op = op;
    f.value.type = type;
    f.value.i = i;
    f.value.s = s;
    return f;
}

static void td_vb_count(td_store_t *s, const char *name, const td_store_vfilter_t *f)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_VIS_COUNT);
    double t0 = td_vb_now_ms();

    r->in.vis_query.namespace_id = NS;
    r->in.vis_query.filter = f;
    if (td_store_call(s, r) != TD_OK) {
        fprintf(stderr, "count %s: %s\n", name, r->err);
        exit(1);
    }
    printf("%-44s %9.1f ms  count %lld\n", name, td_vb_now_ms() - t0, (long long)r->out.vis_count);
    td_store_req_free(r);
}

static void td_vb_list(td_store_t *s, const char *name, const td_store_vfilter_t *f,
                       const td_store_vsort_t *sort, int n_sort)
{
    td_store_req_t *r = td_store_req_new(TD_STORE_OP_VIS_LIST);
    double t0 = td_vb_now_ms();

    r->in.vis_query.namespace_id = NS;
    r->in.vis_query.filter = f;
    r->in.vis_query.sort = sort;
    r->in.vis_query.n_sort = n_sort;
    r->in.vis_query.page_size = 100;
    if (td_store_call(s, r) != TD_OK) {
        fprintf(stderr, "list %s: %s\n", name, r->err);
        exit(1);
    }
    printf("%-44s %9.1f ms  page of %d\n", name, td_vb_now_ms() - t0, r->out.vis_list.n_recs);
    td_store_req_free(r);
}

int main(int argc, char **argv)
{
    td_store_options_t opt;
    td_store_t *s = NULL;
    char err[512];
    int n = argc > 2 ? atoi(argv[2]) : 10000;
    double t0;

    if (argc < 2) {
        fprintf(stderr, "usage: vis_bench URL [N]\n");
        return 2;
    }
    td_log_setup(TD_LOG_WARN, TD_LOG_TEXT);
    memset(&opt, 0, sizeof(opt));
    opt.schema = TD_STORE_SCHEMA_AUTO;
    if (td_store_open(argv[1], &opt, &s, err, sizeof(err)) != TD_OK) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    t0 = td_vb_now_ms();
    for (int i = 0; i < n; i++) {
        td_store_req_t *r = td_store_req_new(TD_STORE_OP_VIS_UPSERT);
        td_store_sa_t sa[4];
        char run[32], wf[32], kw[16], text[64];
        snprintf(run, sizeof(run), "run-%d", i);
        snprintf(wf, sizeof(wf), "wf-%d", i);
        snprintf(kw, sizeof(kw), "k%d", i % 20);
        snprintf(text, sizeof(text), "order %d shipped to city%d", i, i % 100);
        memset(sa, 0, sizeof(sa));
        sa[0].name = "CustomIntField";
        sa[0].type = TD_STORE_SA_INT;
        sa[0].i = i % 1000;
        sa[1].name = "CustomKeywordField";
        sa[1].type = TD_STORE_SA_KEYWORD;
        sa[1].s = kw;
        sa[2].name = "TemporalChangeVersion";
        sa[2].type = TD_STORE_SA_KEYWORD_LIST;
        sa[2].s = i % 3 == 0 ? "p0" : "p1";
        sa[3].name = "Notes";
        sa[3].type = TD_STORE_SA_TEXT;
        sa[3].s = text;
        r->in.vis.namespace_id = NS;
        r->in.vis.run_id = run;
        r->in.vis.workflow_id = wf;
        r->in.vis.workflow_type = i % 5 == 0 ? "TypeA" : "TypeB";
        r->in.vis.task_queue = "tq";
        r->in.vis.start_time_ns = 1000000 + i;
        r->in.vis.execution_time_ns = 1000000 + i;
        r->in.vis.close_time_ns = i % 3 == 0 ? 0 : 2000000 + i;
        r->in.vis.status = i % 3 == 0 ? 1 : 2 + i % 5;
        r->in.vis.history_length = 10;
        r->in.vis.history_size_bytes = 1000 + i;
        r->in.vis.root_workflow_id = wf;
        r->in.vis.root_run_id = run;
        r->in.vis.sas = sa;
        r->in.vis.n_sas = 4;
        if (td_store_call(s, r) != TD_OK) {
            fprintf(stderr, "write %d: %s\n", i, r->err);
            return 1;
        }
        td_store_req_free(r);
    }
    printf("%-44s %9.1f ms  %d records\n", "write", td_vb_now_ms() - t0, n);
    {
        td_store_vfilter_t fi =
                td_vb_cmp("CustomIntField", TD_STORE_VF_LT, TD_STORE_SA_INT, 500, NULL);
        td_store_vfilter_t fk =
                td_vb_cmp("CustomKeywordField", TD_STORE_VF_EQ, TD_STORE_SA_KEYWORD, 0, "k3");
        td_store_vfilter_t ft = td_vb_cmp("Notes", TD_STORE_VF_EQ, TD_STORE_SA_TEXT, 0, "city7");
        td_store_vfilter_t fs =
                td_vb_cmp("ExecutionStatus", TD_STORE_VF_EQ, TD_STORE_SA_INT, 2, NULL);
        td_store_vfilter_t fl = td_vb_cmp("TemporalChangeVersion", TD_STORE_VF_EQ,
                                          TD_STORE_SA_KEYWORD_LIST, 0, "p0");
        const td_store_vfilter_t *a2[2] = { &fk, &fs };
        const td_store_vfilter_t *a3[2] = { &fi, &fl };
        td_store_vfilter_t and2, and3;
        td_store_vsort_t sort = { "CustomIntField", TD_STORE_SA_INT, 1 };
        char name[64];
        memset(&and2, 0, sizeof(and2));
        and2.kind = TD_STORE_VF_AND;
        and2.args = a2;
        and2.n_args = 2;
        and3 = and2;
        and3.args = a3;
        td_vb_count(s, "count all", NULL);
        td_vb_count(s, "count CustomIntField < 500", &fi);
        td_vb_count(s, "count Keyword = k3 AND status 2", &and2);
        td_vb_count(s, "count Int < 500 AND KeywordList = p0", &and3);
        td_vb_count(s, "count Text = city7", &ft);
        t0 = td_vb_now_ms();
        for (int st = 1; st <= 7; st++) {
            /* GROUP BY ExecutionStatus: one count per status, as the frontend asks */
            td_store_vfilter_t fst =
                    td_vb_cmp("ExecutionStatus", TD_STORE_VF_EQ, TD_STORE_SA_INT, st, NULL);
            const td_store_vfilter_t *ag[2] = { &fi, &fst };
            td_store_vfilter_t g = and2;
            g.args = ag;
            snprintf(name, sizeof(name), "  group status %d, Int < 500", st);
            td_vb_count(s, name, &g);
        }
        printf("%-44s %9.1f ms\n", "GROUP BY ExecutionStatus (7 counts)", td_vb_now_ms() - t0);
        td_vb_list(s, "list Keyword = k3 AND status 2", &and2, NULL, 0);
        td_vb_list(s, "list ORDER BY CustomIntField DESC", NULL, &sort, 1);
        td_vb_list(s, "list Int < 500 ORDER BY CustomIntField DESC", &fi, &sort, 1);
    }
    td_store_close(s);
    return 0;
}
