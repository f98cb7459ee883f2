/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Metrics (see metrics.h): counters kept as plain numbers until a scrape formats them.
 */
#include "metrics.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"

/* service_latency buckets, seconds */
static const double td_lat_le[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                    0.5,   1,      2.5,   5,    10,    30,   60 };
#define TD_LAT_N (sizeof(td_lat_le) / sizeof(td_lat_le[0]))
/* group-commit size buckets */
static const double td_grp_le[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512 };
#define TD_GRP_N (sizeof(td_grp_le) / sizeof(td_grp_le[0]))

#define TD_CODES      17
#define TD_MAX_SERIES 4096
#define TD_STORE_OPS  64

typedef struct {
    uint64_t count;
    uint64_t bucket[TD_LAT_N + 1]; /* per bucket (not cumulative); the last is +Inf */
    double sum;
} td_hist_t;

typedef struct {
    char *op, *ns;
    uint64_t requests;
    uint64_t codes[TD_CODES];
    td_hist_t lat;
} td_svc_series_t;

typedef struct {
    char *ns;
    uint64_t closed[8]; /* by WorkflowExecutionStatus */
} td_wf_series_t;

/* Loop-thread tables. */
static td_svc_series_t **td_svc;
static size_t td_svc_n, td_svc_cap;
static td_wf_series_t **td_wf;
static size_t td_wf_n, td_wf_cap;

/* Store counters (any thread, relaxed atomics). */
static const char *td_st_name[TD_STORE_OPS];
static uint64_t td_st_req[TD_STORE_OPS], td_st_err[TD_STORE_OPS];
static uint64_t td_st_bucket[TD_STORE_OPS][TD_LAT_N + 1];
static uint64_t td_st_sum_ns[TD_STORE_OPS];
static uint64_t td_grp_bucket[TD_GRP_N + 1], td_grp_count, td_grp_sum;

typedef struct {
    td_metrics_collect_fn fn;
    void *ud;
} td_collector_t;
static td_collector_t td_collectors[16];
static int td_ncollectors;

#define TD_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define TD_LOAD(p)   __atomic_load_n((p), __ATOMIC_RELAXED)

int64_t td_metrics_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t td_bucket_of(const double *le, size_t n, double v)
{
    size_t i = 0;
    while (i < n && v > le[i]) {
        i++;
    }
    return i;
}

static const char *td_short_op(const char *method)
{
    const char *s = strrchr(method, '/');
    return s != NULL ? s + 1 : method;
}

static td_svc_series_t *td_svc_find(const char *op, const char *ns)
{
    td_svc_series_t *s;
    /* linear over a small, hot set: most processes have tens of series */
    for (size_t i = 0; i < td_svc_n; i++) {
        s = td_svc[i];
        if (strcmp(s->op, op) == 0 && strcmp(s->ns, ns) == 0) {
            if (i > 0) { /* move towards the front: the busiest calls are found first */
                td_svc[i] = td_svc[i - 1];
                td_svc[i - 1] = s;
            }
            return s;
        }
    }
    if (td_svc_n >= TD_MAX_SERIES) {
        ns = "_other_";
        for (size_t i = 0; i < td_svc_n; i++) {
            if (strcmp(td_svc[i]->op, op) == 0 && strcmp(td_svc[i]->ns, ns) == 0) {
                return td_svc[i];
            }
        }
    }
    if (td_svc_n == td_svc_cap) {
        td_svc_cap = td_svc_cap ? td_svc_cap * 2 : 64;
        td_svc = td_realloc(td_svc, td_svc_cap * sizeof(*td_svc));
    }
    s = td_calloc(1, sizeof(*s));
    s->op = td_strdup(op);
    s->ns = td_strdup(ns);
    td_svc[td_svc_n++] = s;
    return s;
}

void td_metrics_rpc(const char *method, const char *ns, int status, int64_t dur_ns)
{
    td_svc_series_t *s = td_svc_find(td_short_op(method), ns != NULL ? ns : "");
    double secs = (double)dur_ns / 1e9;
    s->requests++;
    if (status > 0 && status < TD_CODES) {
        s->codes[status]++;
    }
    s->lat.count++;
    s->lat.sum += secs;
    s->lat.bucket[td_bucket_of(td_lat_le, TD_LAT_N, secs)]++;
}

void td_metrics_persistence(int op, const char *op_name, int rc, int64_t dur_ns)
{
    double secs = (double)dur_ns / 1e9;
    if (op < 0 || op >= TD_STORE_OPS) {
        return;
    }
    if (TD_LOAD(&td_st_name[op]) == NULL) {
        __atomic_store_n(&td_st_name[op], op_name, __ATOMIC_RELAXED);
    }
    TD_ADD(&td_st_req[op], 1);
    if (rc != 0) {
        TD_ADD(&td_st_err[op], 1);
    }
    TD_ADD(&td_st_bucket[op][td_bucket_of(td_lat_le, TD_LAT_N, secs)], 1);
    TD_ADD(&td_st_sum_ns[op], (uint64_t)(dur_ns > 0 ? dur_ns : 0));
}

void td_metrics_group_commit(int n)
{
    TD_ADD(&td_grp_bucket[td_bucket_of(td_grp_le, TD_GRP_N, n)], 1);
    TD_ADD(&td_grp_count, 1);
    TD_ADD(&td_grp_sum, (uint64_t)n);
}

void td_metrics_workflow_closed(const char *ns, int status)
{
    td_wf_series_t *s = NULL;
    if (ns == NULL) {
        ns = "";
    }
    for (size_t i = 0; i < td_wf_n; i++) {
        if (strcmp(td_wf[i]->ns, ns) == 0) {
            s = td_wf[i];
            break;
        }
    }
    if (s == NULL) {
        if (td_wf_n == td_wf_cap) {
            td_wf_cap = td_wf_cap ? td_wf_cap * 2 : 8;
            td_wf = td_realloc(td_wf, td_wf_cap * sizeof(*td_wf));
        }
        s = td_calloc(1, sizeof(*s));
        s->ns = td_strdup(ns);
        td_wf[td_wf_n++] = s;
    }
    if (status >= 0 && status < 8) {
        s->closed[status]++;
    }
}

void td_metrics_add_collector(td_metrics_collect_fn fn, void *ud)
{
    if (td_ncollectors < (int)(sizeof(td_collectors) / sizeof(td_collectors[0]))) {
        td_collectors[td_ncollectors].fn = fn;
        td_collectors[td_ncollectors].ud = ud;
        td_ncollectors++;
    }
}

void td_metrics_remove_collector(td_metrics_collect_fn fn, void *ud)
{
    for (int i = 0; i < td_ncollectors; i++) {
        if (td_collectors[i].fn == fn && td_collectors[i].ud == ud) {
            td_collectors[i] = td_collectors[--td_ncollectors];
            return;
        }
    }
}

void td_metrics_reset(void)
{
    for (size_t i = 0; i < td_svc_n; i++) {
        td_free(td_svc[i]->op);
        td_free(td_svc[i]->ns);
        td_free(td_svc[i]);
    }
    td_free(td_svc);
    td_svc = NULL;
    td_svc_n = td_svc_cap = 0;
    for (size_t i = 0; i < td_wf_n; i++) {
        td_free(td_wf[i]->ns);
        td_free(td_wf[i]);
    }
    td_free(td_wf);
    td_wf = NULL;
    td_wf_n = td_wf_cap = 0;
}

/* ---- rendering ---- */

struct td_metrics_out_s {
    char *buf;
    size_t len, cap;
    const char *last_family; /* collector samples: TYPE line once per name */
};

static void td_out(td_metrics_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void td_out(td_metrics_out_t *o, const char *fmt, ...)
{
    va_list ap;
    int n;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap = o->cap * 2 + (size_t)(n > 0 ? n : 0) + 256;
        o->buf = td_realloc(o->buf, o->cap);
    }
}

void td_metrics_escape(const char *v, char *out, size_t n)
{
    size_t j = 0;
    for (const char *p = v; *p != '\0' && j + 3 < n; p++) {
        if (*p == '\\' || *p == '"') {
            out[j++] = '\\';
            out[j++] = *p;
        } else if (*p == '\n') {
            out[j++] = '\\';
            out[j++] = 'n';
        } else {
            out[j++] = *p;
        }
    }
    out[j] = '\0';
}

static void td_head(td_metrics_out_t *o, const char *name, const char *type, const char *help)
{
    td_out(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* labels of a service series */
static void td_svc_labels(const td_svc_series_t *s, char *out, size_t n)
{
    char op[256], ns[512];
    td_metrics_escape(s->op, op, sizeof(op));
    td_metrics_escape(s->ns, ns, sizeof(ns));
    snprintf(out, n, "operation=\"%s\",namespace=\"%s\",service_name=\"frontend\"", op, ns);
}

static void td_hist_out(td_metrics_out_t *o, const char *name, const char *labels,
                        const uint64_t *bucket, const double *le, size_t nle, uint64_t count,
                        double sum)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < nle; i++) {
        cum += bucket[i];
        td_out(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "", le[i],
               (unsigned long long)cum);
    }
    td_out(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
           (unsigned long long)count);
    if (*labels != '\0') {
        td_out(o, "%s_sum{%s} %.9g\n", name, labels, sum);
        td_out(o, "%s_count{%s} %llu\n", name, labels, (unsigned long long)count);
    } else {
        td_out(o, "%s_sum %.9g\n", name, sum);
        td_out(o, "%s_count %llu\n", name, (unsigned long long)count);
    }
}

/* Error counters by Temporal's names: the codes each one counts. */
static const struct {
    const char *name;
    int codes[4];
} td_err_names[] = {
    { "service_errors_invalid_argument", { 3, 0 } },
    { "service_errors_entity_not_found", { 5, 0 } },
    { "service_errors_execution_already_started", { 6, 0 } },
    { "service_errors_resource_exhausted", { 8, 0 } },
    { "service_errors_context_timeout", { 4, 0 } },
    { "service_errors_authorize_failed", { 7, 16, 0 } },
    { "service_errors", { 2, 13, 14, 15 } }, /* unexpected failures */
};

static const char *const td_code_names[TD_CODES] = {
    "OK",       "Canceled",        "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",   "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",      "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated",
};

static void td_render_service(td_metrics_out_t *o)
{
    char lab[1024];
    if (td_svc_n == 0) {
        return;
    }
    td_head(o, "service_requests", "counter", "Public API requests by operation and namespace");
    for (size_t i = 0; i < td_svc_n; i++) {
        td_svc_labels(td_svc[i], lab, sizeof(lab));
        td_out(o, "service_requests{%s} %llu\n", lab, (unsigned long long)td_svc[i]->requests);
    }
    for (size_t k = 0; k < sizeof(td_err_names) / sizeof(td_err_names[0]); k++) {
        int any = 0;
        for (size_t i = 0; i < td_svc_n; i++) {
            uint64_t n = 0;
            for (int c = 0; c < 4 && td_err_names[k].codes[c] != 0; c++) {
                n += td_svc[i]->codes[td_err_names[k].codes[c]];
            }
            if (n == 0) {
                continue;
            }
            if (!any) {
                td_head(o, td_err_names[k].name, "counter", "Public API errors of this kind");
                any = 1;
            }
            td_svc_labels(td_svc[i], lab, sizeof(lab));
            td_out(o, "%s{%s} %llu\n", td_err_names[k].name, lab, (unsigned long long)n);
        }
    }
    {
        int any = 0;
        for (size_t i = 0; i < td_svc_n; i++) {
            for (int c = 1; c < TD_CODES; c++) {
                if (td_svc[i]->codes[c] == 0) {
                    continue;
                }
                if (!any) {
                    td_head(o, "service_error_with_type", "counter",
                            "Public API errors by gRPC code name");
                    any = 1;
                }
                td_svc_labels(td_svc[i], lab, sizeof(lab));
                td_out(o, "service_error_with_type{%s,error_type=\"%s\"} %llu\n", lab,
                       td_code_names[c], (unsigned long long)td_svc[i]->codes[c]);
            }
        }
    }
    td_head(o, "service_latency", "histogram", "Public API latency in seconds");
    for (size_t i = 0; i < td_svc_n; i++) {
        td_svc_labels(td_svc[i], lab, sizeof(lab));
        td_hist_out(o, "service_latency", lab, td_svc[i]->lat.bucket, td_lat_le, TD_LAT_N,
                    td_svc[i]->lat.count, td_svc[i]->lat.sum);
    }
}

static void td_render_store(td_metrics_out_t *o)
{
    char lab[256];
    int any = 0;
    for (int op = 0; op < TD_STORE_OPS; op++) {
        if (TD_LOAD(&td_st_req[op]) == 0) {
            continue;
        }
        if (!any) {
            td_head(o, "persistence_requests", "counter", "Store requests by operation");
            any = 1;
        }
        td_out(o, "persistence_requests{operation=\"%s\"} %llu\n", TD_LOAD(&td_st_name[op]),
               (unsigned long long)TD_LOAD(&td_st_req[op]));
    }
    if (!any) {
        return;
    }
    td_head(o, "persistence_errors", "counter", "Store requests that failed, by operation");
    for (int op = 0; op < TD_STORE_OPS; op++) {
        if (TD_LOAD(&td_st_req[op]) != 0) {
            td_out(o, "persistence_errors{operation=\"%s\"} %llu\n", TD_LOAD(&td_st_name[op]),
                   (unsigned long long)TD_LOAD(&td_st_err[op]));
        }
    }
    td_head(o, "persistence_latency", "histogram", "Store request latency in seconds");
    for (int op = 0; op < TD_STORE_OPS; op++) {
        uint64_t b[TD_LAT_N + 1];
        if (TD_LOAD(&td_st_req[op]) == 0) {
            continue;
        }
        for (size_t i = 0; i <= TD_LAT_N; i++) {
            b[i] = TD_LOAD(&td_st_bucket[op][i]);
        }
        snprintf(lab, sizeof(lab), "operation=\"%s\"", TD_LOAD(&td_st_name[op]));
        td_hist_out(o, "persistence_latency", lab, b, td_lat_le, TD_LAT_N, TD_LOAD(&td_st_req[op]),
                    (double)TD_LOAD(&td_st_sum_ns[op]) / 1e9);
    }
    if (TD_LOAD(&td_grp_count) > 0) {
        uint64_t b[TD_GRP_N + 1];
        for (size_t i = 0; i <= TD_GRP_N; i++) {
            b[i] = TD_LOAD(&td_grp_bucket[i]);
        }
        td_head(o, "persistence_group_commit_size", "histogram",
                "Store requests committed together in one transaction");
        td_hist_out(o, "persistence_group_commit_size", "", b, td_grp_le, TD_GRP_N,
                    TD_LOAD(&td_grp_count), (double)TD_LOAD(&td_grp_sum));
    }
}

static void td_render_workflows(td_metrics_out_t *o)
{
    static const struct {
        const char *name;
        int status;
    } fam[] = {
        { "workflow_success", 2 },   { "workflow_failed", 3 },           { "workflow_cancel", 4 },
        { "workflow_terminate", 5 }, { "workflow_continued_as_new", 6 }, { "workflow_timeout", 7 },
    };
    char ns[512];
    if (td_wf_n == 0) {
        return;
    }
    for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
        td_head(o, fam[k].name, "counter", "Workflow runs closed with this outcome");
        for (size_t i = 0; i < td_wf_n; i++) {
            td_metrics_escape(td_wf[i]->ns, ns, sizeof(ns));
            td_out(o, "%s{namespace=\"%s\"} %llu\n", fam[k].name, ns,
                   (unsigned long long)td_wf[i]->closed[fam[k].status]);
        }
    }
}

static void td_render_process(td_metrics_out_t *o)
{
    FILE *f = fopen("/proc/self/stat", "r");
    unsigned long long utime = 0, stime = 0, starttime = 0, vsize = 0;
    long long rss = 0;
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    int fds = 0;
    struct rlimit rl;
    DIR *d;

    if (f != NULL) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        char *p;
        buf[n] = '\0';
        p = strrchr(buf, ')');
        /* fields after the command: state(3) ... utime(14) stime(15) ... starttime(22)
         * vsize(23) rss(24) */
        if (p != NULL &&
            sscanf(p + 2,
                   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                   "%*d %llu %llu %lld",
                   &utime, &stime, &starttime, &vsize, &rss) != 5) {
            utime = stime = 0;
        }
        fclose(f);
    }
    d = opendir("/proc/self/fd");
    if (d != NULL) {
        while (readdir(d) != NULL) {
            fds++;
        }
        closedir(d);
        fds -= 3; /* ".", ".." and the directory's own descriptor */
    }
    td_head(o, "process_cpu_seconds_total", "counter", "User and system CPU time in seconds");
    td_out(o, "process_cpu_seconds_total %.2f\n", (double)(utime + stime) / (double)tck);
    td_head(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes");
    td_out(o, "process_resident_memory_bytes %lld\n", rss * page);
    td_head(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes");
    td_out(o, "process_virtual_memory_bytes %llu\n", vsize);
    td_head(o, "process_open_fds", "gauge", "Open file descriptors");
    td_out(o, "process_open_fds %d\n", fds);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        td_head(o, "process_max_fds", "gauge", "Limit of open file descriptors");
        td_out(o, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
    {
        struct timespec now;
        FILE *u = fopen("/proc/uptime", "r");
        double uptime = 0;
        if (u != NULL) {
            if (fscanf(u, "%lf", &uptime) != 1) {
                uptime = 0;
            }
            fclose(u);
        }
        clock_gettime(CLOCK_REALTIME, &now);
        td_head(o, "process_start_time_seconds", "gauge", "Start time since the Unix epoch");
        td_out(o, "process_start_time_seconds %.2f\n",
               (double)now.tv_sec - uptime + (double)starttime / (double)tck);
    }
}

void td_metrics_sample(td_metrics_out_t *o, const char *name, const char *type, const char *help,
                       const char *labels, double value)
{
    if (o->last_family == NULL || strcmp(o->last_family, name) != 0) {
        td_head(o, name, type, help);
        o->last_family = name;
    }
    if (labels != NULL && *labels != '\0') {
        td_out(o, "%s{%s} %.17g\n", name, labels, value);
    } else {
        td_out(o, "%s %.17g\n", name, value);
    }
}

char *td_metrics_render(size_t *len)
{
    td_metrics_out_t o;
    memset(&o, 0, sizeof(o));
    o.cap = 16384;
    o.buf = td_malloc(o.cap);
    o.buf[0] = '\0';
    td_render_service(&o);
    td_render_store(&o);
    td_render_workflows(&o);
    for (int i = 0; i < td_ncollectors; i++) {
        o.last_family = NULL;
        td_collectors[i].fn(&o, td_collectors[i].ud);
    }
    td_render_process(&o);
    *len = o.len;
    return o.buf;
}
