/* SPDX-License-Identifier: Apache-2.0 */
/*
 * temporald-bench: a load generator that acts as a Temporal client and as a minimal worker,
 * speaking only the public temporal.api.workflowservice.v1 API over gRPC (temporald's own
 * client, src/net/rpc.h) to a frontend it is told the port of. It runs one scenario
 * (single-activity, signal, timer) in a closed loop (N workflows in flight) or an open loop
 * (a target start rate), then checks every history it created and exits non-zero on any
 * mismatch or failed RPC. It also measures the cold start and idle RSS of `temporald
 * start-dev` (subcommand coldstart). It is a benchmark tool, not part of the server: it never
 * fakes a figure, and an RPC the server does not serve yet ends the run naming that RPC.
 * Called by test/bench/workflows.sh; usage with --help.
 */
#define TD_LOG_COMPONENT "bench"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>

#include "error.h"
#include "google/protobuf/duration.pb-c.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "net/rpc.h"
#include "temporal/api/command/v1/message.pb-c.h"
#include "temporal/api/common/v1/message.pb-c.h"
#include "temporal/api/enums/v1/command_type.pb-c.h"
#include "temporal/api/enums/v1/event_type.pb-c.h"
#include "temporal/api/enums/v1/task_queue.pb-c.h"
#include "temporal/api/history/v1/message.pb-c.h"
#include "temporal/api/taskqueue/v1/message.pb-c.h"
#include "temporal/api/workflow/v1/message.pb-c.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"
#include "uuid.h"

typedef Temporal__Api__Workflowservice__V1__StartWorkflowExecutionRequest start_req_t;
typedef Temporal__Api__Workflowservice__V1__StartWorkflowExecutionResponse start_resp_t;
typedef Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueRequest wft_poll_req_t;
typedef Temporal__Api__Workflowservice__V1__PollWorkflowTaskQueueResponse wft_poll_resp_t;
typedef Temporal__Api__Workflowservice__V1__RespondWorkflowTaskCompletedRequest wft_done_req_t;
typedef Temporal__Api__Workflowservice__V1__PollActivityTaskQueueRequest act_poll_req_t;
typedef Temporal__Api__Workflowservice__V1__PollActivityTaskQueueResponse act_poll_resp_t;
typedef Temporal__Api__Workflowservice__V1__RespondActivityTaskCompletedRequest act_done_req_t;
typedef Temporal__Api__Workflowservice__V1__SignalWorkflowExecutionRequest signal_req_t;
typedef Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryRequest hist_req_t;
typedef Temporal__Api__Workflowservice__V1__GetWorkflowExecutionHistoryResponse hist_resp_t;
typedef Temporal__Api__Workflowservice__V1__DescribeWorkflowExecutionRequest desc_req_t;
typedef Temporal__Api__Workflowservice__V1__DescribeWorkflowExecutionResponse desc_resp_t;
typedef Temporal__Api__Command__V1__Command command_t;
typedef Temporal__Api__History__V1__HistoryEvent event_t;
typedef Temporal__Api__Common__V1__Payload payload_t;
typedef Temporal__Api__Common__V1__Payloads payloads_t;

#define SVC   "/temporal.api.workflowservice.v1.WorkflowService/"
#define EV(x) TEMPORAL__API__ENUMS__V1__EVENT_TYPE__EVENT_TYPE_##x

#define TD_BENCH_SIGNALS     10    /* signals per workflow in the signal scenario */
#define TD_BENCH_MAX_CONNS   16    /* client connections */
#define TD_BENCH_MAX_POLLERS 512   /* outstanding polls per kind */
#define TD_BENCH_POLL_MS     20000 /* long-poll deadline (the server answers empty before it) */
#define TD_BENCH_RPC_MS      30000 /* deadline of every other call */
#define TD_BENCH_VERIFY_PAR  64    /* history checks in flight */

typedef enum {
    TD_BENCH_SC_ACTIVITY = 0,
    TD_BENCH_SC_SIGNAL,
    TD_BENCH_SC_TIMER,
} td_bench_scenario_t;

static const char *const td_bench_sc_names[] = { "single-activity", "signal", "timer" };
static const char *const td_bench_wf_types[] = { "bench-single-activity", "bench-signal",
                                                 "bench-timer" };

/* RPC kinds, also the latency series (plus end to end). */
typedef enum {
    TD_BENCH_R_START = 0,
    TD_BENCH_R_POLL_WFT,
    TD_BENCH_R_DONE_WFT,
    TD_BENCH_R_POLL_ACT,
    TD_BENCH_R_DONE_ACT,
    TD_BENCH_R_SIGNAL,
    TD_BENCH_R_HISTORY,
    TD_BENCH_R_DESCRIBE,
    TD_BENCH_R_COUNT,
} td_bench_rpc_t;

#define TD_BENCH_L_E2E   TD_BENCH_R_COUNT
#define TD_BENCH_L_COUNT (TD_BENCH_R_COUNT + 1)

static const char *const td_bench_rpc_names[TD_BENCH_L_COUNT] = {
    "StartWorkflowExecution",
    "PollWorkflowTaskQueue",
    "RespondWorkflowTaskCompleted",
    "PollActivityTaskQueue",
    "RespondActivityTaskCompleted",
    "SignalWorkflowExecution",
    "GetWorkflowExecutionHistory",
    "DescribeWorkflowExecution",
    "end-to-end (start sent -> workflow completed)",
};

/*
 * Design notes: the run
 *
 * Invariants:
 *   - Starts are issued only in WARMUP and MEASURE; a workflow counts toward the figures when
 *     its completion (the OK answer to the RespondWorkflowTaskCompleted that completed it)
 *     falls inside the measurement window; a latency sample counts when its request was sent
 *     inside the window.
 *   - Polls are re-issued after every answer until DRAIN ends; then they are cancelled.
 *   - Any failed RPC (other than a cancelled poll while stopping) ends the run as ABORTED.
 *
 *   WARMUP --warmup elapsed--> MEASURE --duration elapsed--> DRAIN --all completed--> VERIFY
 *      \________________________ any RPC failure / drain timeout _____________________\
 *                                                                                      v
 *   VERIFY --every history checked--> DONE                                          ABORTED
 *
 *   FROM    -> TO       [function]
 *   WARMUP  -> MEASURE  [td_bench_tick]
 *   MEASURE -> DRAIN    [td_bench_tick]
 *   DRAIN   -> VERIFY   [td_bench_tick]
 *   VERIFY  -> DONE     [td_bench_verify_next]
 *   any     -> ABORTED  [td_bench_abort]
 */
typedef enum {
    TD_BENCH_WARMUP = 0,
    TD_BENCH_MEASURE,
    TD_BENCH_DRAIN,
    TD_BENCH_VERIFY,
    TD_BENCH_DONE,
    TD_BENCH_ABORTED,
} td_bench_phase_t;

typedef struct {
    int64_t *v; /* microseconds */
    size_t n, cap;
} td_bench_lat_t;

typedef enum {
    TD_BENCH_WF_STARTING = 0,
    TD_BENCH_WF_RUNNING,
    TD_BENCH_WF_COMPLETED,
} td_bench_wf_state_t;

typedef struct {
    char run_id[TD_UUID_LEN + 1];
    int64_t t_start_ns; /* intended start time (open loop) or send time (closed loop) */
    int64_t t_done_ns;
    uint8_t state;
    uint8_t signals_sent;
    uint8_t measured;   /* completed inside the window */
    uint8_t verified;   /* history checked and found right */
    uint8_t completing; /* the completing RespondWorkflowTaskCompleted is in flight */
    uint16_t wft_done;  /* workflow tasks this worker completed for it */
    int64_t transitions;
} td_bench_wf_t;

/* One outstanding call. */
typedef struct {
    td_bench_rpc_t kind;
    uint32_t wf;
    int slot;        /* poll slot, or -1 */
    int64_t t0_ns;   /* send (or intended) time */
    int measure;     /* sent inside the window */
    int events_seen; /* history events read so far (verify) */
    int signals_seen;
    int last_type; /* type of the last history event read (verify) */
} td_bench_call_t;

typedef struct {
    /* options */
    const char *host;
    int port;
    const char *ns;
    td_bench_scenario_t scenario;
    int open_loop;
    int inflight; /* closed loop */
    double rate;  /* open loop, starts/s */
    double warmup_s, duration_s, drain_s;
    int pollers;
    int conns;
    int server_pid;
    int db_pid;   /* PostgreSQL postmaster: its tree's CPU is reported beside the server's */
    int max_open; /* open loop: in-flight cap */
    int gzip;
    int no_verify;

    /* state */
    td_loop_t *loop;
    td_rpc_client_t *cl[TD_BENCH_MAX_CONNS];
    unsigned rr;
    const char *md[4];
    char tag[48];
    char tq[80];
    char identity[96];
    td_bench_phase_t phase;
    td_timer_t *tick;
    td_bench_wf_t *wf;
    size_t n_wf, cap_wf;
    long running; /* started (or starting) and not completed */
    long completed;
    long missed;     /* open loop: starts skipped at the in-flight cap */
    long incomplete; /* workflows not completed when the drain time ran out */
    int64_t t_begin, t_measure, t_end, t_drain_deadline;
    long done_at_measure, done_at_end;
    unsigned long long cpu_at_measure, cpu_at_end; /* server clock ticks */
    unsigned long long db_at_measure, db_at_end;   /* database tree clock ticks */
    struct rusage self_at_measure, self_at_end;
    long rss_at_end_kb;
    long rss_max_kb;     /* largest VmRSS sampled during warm-up and window */
    long hwm_before_kb;  /* VmHWM when the last workflow completed, before the checks */
    int64_t next_rss_ns; /* next VmRSS sample */
    td_rpc_ccall_t *poll_cc[2][TD_BENCH_MAX_POLLERS];
    size_t verify_next;
    int verify_live;
    long verify_bad;
    td_bench_lat_t lat[TD_BENCH_L_COUNT];
    int64_t transitions_measured;
    int rc;
} td_bench_t;

static td_bench_t B;

/* ---- small helpers ---- */

static int64_t td_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void td_bench_lat_add(td_bench_lat_t *l, int64_t us)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->v = td_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = us;
}

static int td_bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Percentile (0..100) in milliseconds of a sorted series; NAN when empty. */
static double td_bench_pct_ms(const td_bench_lat_t *l, double p)
{
    size_t i;
    if (l->n == 0) {
        return NAN;
    }
    i = (size_t)ceil(p / 100.0 * (double)l->n);
    i = i == 0 ? 0 : i - 1;
    if (i >= l->n) {
        i = l->n - 1;
    }
    return (double)l->v[i] / 1000.0;
}

/* utime + stime of a process in clock ticks, or 0 when it cannot be read. */
static unsigned long long td_bench_proc_cpu(int pid)
{
    char path[64], buf[2048], *p;
    unsigned long long ut = 0, st = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name may hold spaces: fields are counted after its closing ')' */
    p = strrchr(buf, ')');
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
        return 0;
    }
    return ut + st;
}

/* CPU clock ticks of a process tree one level deep: pid itself (with the ticks of children
 * it already reaped) plus every live process whose parent is pid -- a PostgreSQL postmaster
 * and its backends. 0 when pid cannot be read. */
static unsigned long long td_bench_tree_cpu(int pid)
{
    char path[64], buf[2048], *p;
    unsigned long long total = 0, ut, st, cut, cst;
    struct dirent *de;
    DIR *d;
    FILE *f;
    size_t n;
    int ppid;

    d = opendir("/proc");
    if (d == NULL) {
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        int q = atoi(de->d_name);
        if (q <= 0) {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%d/stat", q);
        f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        p = strrchr(buf, ')');
        if (p == NULL ||
            sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ppid,
                   &ut, &st, &cut, &cst) != 5) {
            continue;
        }
        if (q == pid) {
            total += ut + st + cut + cst;
        } else if (ppid == pid) {
            total += ut + st;
        }
    }
    closedir(d);
    return total;
}

/* A "VmXXX:" figure of /proc/<pid>/status in KiB, or -1. */
static long td_bench_proc_kb(int pid, const char *field)
{
    char path[64], line[256];
    long kb = -1;
    size_t fl = strlen(field);
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            kb = strtol(line + fl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static double td_bench_tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* ---- the payload every request carries ---- */

static Temporal__Api__Common__V1__Payload__MetadataEntry td_bench_enc = {
    PROTOBUF_C_MESSAGE_INIT(&temporal__api__common__v1__payload__metadata_entry__descriptor),
    (char *)"encoding",
    { 9, (uint8_t *)"json/plain" },
};
static Temporal__Api__Common__V1__Payload__MetadataEntry *td_bench_enc_list[] = { &td_bench_enc };
static payload_t td_bench_payload = {
    PROTOBUF_C_MESSAGE_INIT(&temporal__api__common__v1__payload__descriptor),
    1,
    td_bench_enc_list,
    { 7, (uint8_t *)"\"bench\"" },
    0,
    NULL,
};
static payload_t *td_bench_payload_list[] = { &td_bench_payload };
static payloads_t td_bench_payloads = {
    PROTOBUF_C_MESSAGE_INIT(&temporal__api__common__v1__payloads__descriptor),
    1,
    td_bench_payload_list,
};

static void td_bench_duration(Google__Protobuf__Duration *d, int64_t ms)
{
    google__protobuf__duration__init(d);
    d->seconds = ms / 1000;
    d->nanos = (int32_t)(ms % 1000) * 1000000;
}

/* ---- calls ---- */

static void td_bench_abort(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void td_bench_on_result(const td_rpc_result_t *r, void *arg);

static const char *const td_bench_methods[TD_BENCH_R_COUNT] = {
    SVC "StartWorkflowExecution",       SVC "PollWorkflowTaskQueue",
    SVC "RespondWorkflowTaskCompleted", SVC "PollActivityTaskQueue",
    SVC "RespondActivityTaskCompleted", SVC "SignalWorkflowExecution",
    SVC "GetWorkflowExecutionHistory",  SVC "DescribeWorkflowExecution",
};

/* Sends req as an RPC of the given kind; the answer reaches td_bench_on_result with a fresh
 * context (a copy of state when given, for a history read that follows a page token). */
static td_rpc_ccall_t *td_bench_call(td_bench_rpc_t kind, uint32_t wf, int slot, int64_t t0,
                                     const ProtobufCMessage *req,
                                     const ProtobufCMessageDescriptor *resp, int64_t timeout_ms,
                                     const td_bench_call_t *state)
{
    td_bench_call_t *c = td_calloc(1, sizeof(*c));
    td_rpc_call_opts_t o = { resp, timeout_ms, B.md };

    if (state != NULL) {
        *c = *state;
    }
    c->kind = kind;
    c->wf = wf;
    c->slot = slot;
    c->t0_ns = t0 != 0 ? t0 : td_bench_now_ns();
    c->measure = B.phase == TD_BENCH_MEASURE;
    return td_rpc_client_call(B.cl[B.rr++ % (unsigned)B.conns], td_bench_methods[kind], req, &o,
                              td_bench_on_result, c);
}

static void td_bench_workflow_id(uint32_t i, char *out, size_t n)
{
    snprintf(out, n, "%s-%u", B.tag, i);
}

/* The workflow index named by a workflow id of this run, or -1. */
static long td_bench_wf_index(const char *workflow_id)
{
    size_t tl = strlen(B.tag);
    char *end;
    unsigned long v;

    if (workflow_id == NULL || strncmp(workflow_id, B.tag, tl) != 0 || workflow_id[tl] != '-') {
        return -1;
    }
    v = strtoul(workflow_id + tl + 1, &end, 10);
    if (*end != '\0' || v >= B.n_wf) {
        return -1;
    }
    return (long)v;
}

static void td_bench_start_one(int64_t intended_ns)
{
    start_req_t req = TEMPORAL__API__WORKFLOWSERVICE__V1__START_WORKFLOW_EXECUTION_REQUEST__INIT;
    Temporal__Api__Common__V1__WorkflowType wt = TEMPORAL__API__COMMON__V1__WORKFLOW_TYPE__INIT;
    Temporal__Api__Taskqueue__V1__TaskQueue tq = TEMPORAL__API__TASKQUEUE__V1__TASK_QUEUE__INIT;
    Google__Protobuf__Duration wtt;
    char wid[96], rid[TD_UUID_LEN + 1];
    uint32_t i;

    if (B.n_wf == B.cap_wf) {
        B.cap_wf = B.cap_wf ? B.cap_wf * 2 : 65536;
        B.wf = td_realloc(B.wf, B.cap_wf * sizeof(*B.wf));
    }
    i = (uint32_t)B.n_wf++;
    memset(&B.wf[i], 0, sizeof(B.wf[i]));
    B.wf[i].t_start_ns = intended_ns != 0 ? intended_ns : td_bench_now_ns();
    B.running++;
    td_bench_workflow_id(i, wid, sizeof(wid));
    td_uuid_v4(rid);
    wt.name = (char *)td_bench_wf_types[B.scenario];
    tq.name = B.tq;
    tq.kind = TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL;
    td_bench_duration(&wtt, 10000);
    req.namespace_ = (char *)B.ns;
    req.workflow_id = wid;
    req.workflow_type = &wt;
    req.task_queue = &tq;
    req.input = &td_bench_payloads;
    req.workflow_task_timeout = &wtt;
    req.identity = B.identity;
    req.request_id = rid;
    td_bench_call(
            TD_BENCH_R_START, i, -1, B.wf[i].t_start_ns, &req.base,
            &temporal__api__workflowservice__v1__start_workflow_execution_response__descriptor,
            TD_BENCH_RPC_MS, NULL);
}

static void td_bench_signal(uint32_t i)
{
    signal_req_t req = TEMPORAL__API__WORKFLOWSERVICE__V1__SIGNAL_WORKFLOW_EXECUTION_REQUEST__INIT;
    Temporal__Api__Common__V1__WorkflowExecution ex =
            TEMPORAL__API__COMMON__V1__WORKFLOW_EXECUTION__INIT;
    char wid[96], rid[TD_UUID_LEN + 1];

    td_bench_workflow_id(i, wid, sizeof(wid));
    td_uuid_v4(rid);
    ex.workflow_id = wid;
    ex.run_id = B.wf[i].run_id;
    req.namespace_ = (char *)B.ns;
    req.workflow_execution = &ex;
    req.signal_name = (char *)"bench-signal";
    req.input = &td_bench_payloads;
    req.identity = B.identity;
    req.request_id = rid;
    B.wf[i].signals_sent++;
    td_bench_call(
            TD_BENCH_R_SIGNAL, i, -1, 0, &req.base,
            &temporal__api__workflowservice__v1__signal_workflow_execution_response__descriptor,
            TD_BENCH_RPC_MS, NULL);
}

static void td_bench_poll(td_bench_rpc_t kind, int slot)
{
    Temporal__Api__Taskqueue__V1__TaskQueue tq = TEMPORAL__API__TASKQUEUE__V1__TASK_QUEUE__INIT;
    int k = kind == TD_BENCH_R_POLL_WFT ? 0 : 1;

    tq.name = B.tq;
    tq.kind = TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL;
    if (kind == TD_BENCH_R_POLL_WFT) {
        wft_poll_req_t req =
                TEMPORAL__API__WORKFLOWSERVICE__V1__POLL_WORKFLOW_TASK_QUEUE_REQUEST__INIT;
        req.namespace_ = (char *)B.ns;
        req.task_queue = &tq;
        req.identity = B.identity;
        B.poll_cc[k][slot] = td_bench_call(
                kind, 0, slot, 0, &req.base,
                &temporal__api__workflowservice__v1__poll_workflow_task_queue_response__descriptor,
                TD_BENCH_POLL_MS, NULL);
    } else {
        act_poll_req_t req =
                TEMPORAL__API__WORKFLOWSERVICE__V1__POLL_ACTIVITY_TASK_QUEUE_REQUEST__INIT;
        req.namespace_ = (char *)B.ns;
        req.task_queue = &tq;
        req.identity = B.identity;
        B.poll_cc[k][slot] = td_bench_call(
                kind, 0, slot, 0, &req.base,
                &temporal__api__workflowservice__v1__poll_activity_task_queue_response__descriptor,
                TD_BENCH_POLL_MS, NULL);
    }
}

/* Whether a scenario's workflow uses activity pollers. */
static int td_bench_wants_activities(void)
{
    return B.scenario == TD_BENCH_SC_ACTIVITY;
}

/* Decides the commands of one workflow task from its (full) history and answers it. */
static void td_bench_on_wft(const wft_poll_resp_t *t)
{
    wft_done_req_t req =
            TEMPORAL__API__WORKFLOWSERVICE__V1__RESPOND_WORKFLOW_TASK_COMPLETED_REQUEST__INIT;
    command_t cmd = TEMPORAL__API__COMMAND__V1__COMMAND__INIT;
    command_t *cmds[1] = { &cmd };
    Temporal__Api__Command__V1__ScheduleActivityTaskCommandAttributes sa =
            TEMPORAL__API__COMMAND__V1__SCHEDULE_ACTIVITY_TASK_COMMAND_ATTRIBUTES__INIT;
    Temporal__Api__Command__V1__StartTimerCommandAttributes st =
            TEMPORAL__API__COMMAND__V1__START_TIMER_COMMAND_ATTRIBUTES__INIT;
    Temporal__Api__Command__V1__CompleteWorkflowExecutionCommandAttributes cw =
            TEMPORAL__API__COMMAND__V1__COMPLETE_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES__INIT;
    Temporal__Api__Common__V1__ActivityType at = TEMPORAL__API__COMMON__V1__ACTIVITY_TYPE__INIT;
    Temporal__Api__Taskqueue__V1__TaskQueue tq = TEMPORAL__API__TASKQUEUE__V1__TASK_QUEUE__INIT;
    Google__Protobuf__Duration d1, d2;
    int act_scheduled = 0, act_done = 0, timer_started = 0, timer_fired = 0, signals = 0;
    long i = td_bench_wf_index(t->workflow_execution ? t->workflow_execution->workflow_id : NULL);

    if (i < 0) {
        td_bench_abort("PollWorkflowTaskQueue returned a task for workflow '%s', not one of "
                       "this run",
                       t->workflow_execution ? t->workflow_execution->workflow_id : "(none)");
        return;
    }
    if (t->history == NULL || t->next_page_token.len != 0) {
        td_bench_abort("PollWorkflowTaskQueue: workflow %ld: %s", i,
                       t->history == NULL ? "task without history"
                                          : "paginated history (not supported by the bench)");
        return;
    }
    for (size_t k = 0; k < t->history->n_events; k++) {
        switch ((int)t->history->events[k]->event_type) {
        case EV(ACTIVITY_TASK_SCHEDULED):
            act_scheduled++;
            break;
        case EV(ACTIVITY_TASK_COMPLETED):
            act_done++;
            break;
        case EV(TIMER_STARTED):
            timer_started++;
            break;
        case EV(TIMER_FIRED):
            timer_fired++;
            break;
        case EV(WORKFLOW_EXECUTION_SIGNALED):
            signals++;
            break;
        default:
            break;
        }
    }
    req.task_token = t->task_token;
    req.identity = B.identity;
    req.namespace_ = (char *)B.ns;
    req.commands = cmds;
    req.n_commands = 1;
    switch (B.scenario) {
    case TD_BENCH_SC_ACTIVITY:
        if (act_done > 0) {
            cmd.command_type =
                    TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION;
        } else if (act_scheduled == 0) {
            cmd.command_type =
                    TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK;
        } else {
            td_bench_abort("workflow %ld: a workflow task while its activity is pending", i);
            return;
        }
        break;
    case TD_BENCH_SC_SIGNAL:
        if (signals >= TD_BENCH_SIGNALS) {
            cmd.command_type =
                    TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION;
        } else {
            req.n_commands = 0; /* wait for more signals */
        }
        break;
    case TD_BENCH_SC_TIMER:
        if (timer_fired > 0) {
            cmd.command_type =
                    TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION;
        } else if (timer_started == 0) {
            cmd.command_type = TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_START_TIMER;
        } else {
            td_bench_abort("workflow %ld: a workflow task while its timer is pending", i);
            return;
        }
        break;
    }
    switch ((int)cmd.command_type) {
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        at.name = (char *)"bench-activity";
        tq.name = B.tq;
        tq.kind = TEMPORAL__API__ENUMS__V1__TASK_QUEUE_KIND__TASK_QUEUE_KIND_NORMAL;
        td_bench_duration(&d1, 60000);
        td_bench_duration(&d2, 30000);
        sa.activity_id = (char *)"1";
        sa.activity_type = &at;
        sa.task_queue = &tq;
        sa.input = &td_bench_payloads;
        sa.schedule_to_close_timeout = &d1;
        sa.start_to_close_timeout = &d2;
        cmd.attributes_case =
                TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_SCHEDULE_ACTIVITY_TASK_COMMAND_ATTRIBUTES;
        cmd.schedule_activity_task_command_attributes = &sa;
        break;
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_START_TIMER:
        td_bench_duration(&d1, 1000);
        st.timer_id = (char *)"1";
        st.start_to_fire_timeout = &d1;
        cmd.attributes_case =
                TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_START_TIMER_COMMAND_ATTRIBUTES;
        cmd.start_timer_command_attributes = &st;
        break;
    case TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
        cw.result = &td_bench_payloads;
        cmd.attributes_case =
                TEMPORAL__API__COMMAND__V1__COMMAND__ATTRIBUTES_COMPLETE_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES;
        cmd.complete_workflow_execution_command_attributes = &cw;
        break;
    default:
        break;
    }
    B.wf[i].completing =
            req.n_commands == 1 &&
            cmd.command_type ==
                    TEMPORAL__API__ENUMS__V1__COMMAND_TYPE__COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION;
    td_bench_call(
            TD_BENCH_R_DONE_WFT, (uint32_t)i, -1, 0, &req.base,
            &temporal__api__workflowservice__v1__respond_workflow_task_completed_response__descriptor,
            TD_BENCH_RPC_MS, NULL);
}

static void td_bench_on_activity(const act_poll_resp_t *t)
{
    act_done_req_t req =
            TEMPORAL__API__WORKFLOWSERVICE__V1__RESPOND_ACTIVITY_TASK_COMPLETED_REQUEST__INIT;
    long i = td_bench_wf_index(t->workflow_execution ? t->workflow_execution->workflow_id : NULL);

    if (i < 0) {
        td_bench_abort("PollActivityTaskQueue returned a task for workflow '%s', not one of "
                       "this run",
                       t->workflow_execution ? t->workflow_execution->workflow_id : "(none)");
        return;
    }
    if (t->start_to_close_timeout == NULL || t->schedule_to_close_timeout == NULL) {
        td_bench_abort("PollActivityTaskQueue: workflow %ld: the task lacks "
                       "start_to_close_timeout or schedule_to_close_timeout",
                       i);
        return;
    }
    req.task_token = t->task_token;
    req.result = &td_bench_payloads;
    req.identity = B.identity;
    req.namespace_ = (char *)B.ns;
    td_bench_call(
            TD_BENCH_R_DONE_ACT, (uint32_t)i, -1, 0, &req.base,
            &temporal__api__workflowservice__v1__respond_activity_task_completed_response__descriptor,
            TD_BENCH_RPC_MS, NULL);
}

static void td_bench_workflow_completed(uint32_t i, int64_t now)
{
    td_bench_wf_t *w = &B.wf[i];

    w->state = TD_BENCH_WF_COMPLETED;
    w->t_done_ns = now;
    w->completing = 0;
    B.running--;
    B.completed++;
    if (B.phase == TD_BENCH_MEASURE) {
        w->measured = 1;
        td_bench_lat_add(&B.lat[TD_BENCH_L_E2E], (now - w->t_start_ns) / 1000);
    }
    if (!B.open_loop && B.phase <= TD_BENCH_MEASURE) {
        td_bench_start_one(0);
    }
}

/* ---- verification ---- */

static void td_bench_verify_next(void);

/* Reads one page of a history (token NULL: the first); state carries the counters of the
 * pages read before. */
static void td_bench_history_call(uint32_t i, const ProtobufCBinaryData *token,
                                  const td_bench_call_t *state)
{
    hist_req_t req =
            TEMPORAL__API__WORKFLOWSERVICE__V1__GET_WORKFLOW_EXECUTION_HISTORY_REQUEST__INIT;
    Temporal__Api__Common__V1__WorkflowExecution ex =
            TEMPORAL__API__COMMON__V1__WORKFLOW_EXECUTION__INIT;
    char wid[96];

    td_bench_workflow_id(i, wid, sizeof(wid));
    ex.workflow_id = wid;
    ex.run_id = B.wf[i].run_id;
    req.namespace_ = (char *)B.ns;
    req.execution = &ex;
    if (token != NULL) {
        req.next_page_token = *token;
    }
    td_bench_call(
            TD_BENCH_R_HISTORY, i, -1, 0, &req.base,
            &temporal__api__workflowservice__v1__get_workflow_execution_history_response__descriptor,
            TD_BENCH_RPC_MS, state);
}

static void td_bench_verify_fail(uint32_t i, const char *what)
{
    char wid[96];
    td_bench_workflow_id(i, wid, sizeof(wid));
    if (B.verify_bad < 10) {
        fprintf(stderr, "temporald_bench: history of %s (run %s): %s\n", wid, B.wf[i].run_id, what);
    }
    B.verify_bad++;
}

/* Checks one page of a history; returns 1 when it is the last page. c carries the state. */
static int td_bench_check_page(td_bench_call_t *c, const hist_resp_t *h)
{
    static const int activity_seq[] = {
        EV(WORKFLOW_EXECUTION_STARTED), EV(WORKFLOW_TASK_SCHEDULED),      EV(WORKFLOW_TASK_STARTED),
        EV(WORKFLOW_TASK_COMPLETED),    EV(ACTIVITY_TASK_SCHEDULED),      EV(ACTIVITY_TASK_STARTED),
        EV(ACTIVITY_TASK_COMPLETED),    EV(WORKFLOW_TASK_SCHEDULED),      EV(WORKFLOW_TASK_STARTED),
        EV(WORKFLOW_TASK_COMPLETED),    EV(WORKFLOW_EXECUTION_COMPLETED),
    };
    static const int timer_seq[] = {
        EV(WORKFLOW_EXECUTION_STARTED),   EV(WORKFLOW_TASK_SCHEDULED), EV(WORKFLOW_TASK_STARTED),
        EV(WORKFLOW_TASK_COMPLETED),      EV(TIMER_STARTED),           EV(TIMER_FIRED),
        EV(WORKFLOW_TASK_SCHEDULED),      EV(WORKFLOW_TASK_STARTED),   EV(WORKFLOW_TASK_COMPLETED),
        EV(WORKFLOW_EXECUTION_COMPLETED),
    };
    size_t n = h->history != NULL ? h->history->n_events : 0;

    for (size_t k = 0; k < n; k++) {
        const event_t *e = h->history->events[k];
        int t = (int)e->event_type;
        int pos = c->events_seen++;
        char msg[160];

        if (e->event_id != (int64_t)pos + 1) {
            snprintf(msg, sizeof(msg), "event %d has id %lld", pos + 1, (long long)e->event_id);
            td_bench_verify_fail(c->wf, msg);
            return -1;
        }
        if (B.scenario == TD_BENCH_SC_ACTIVITY || B.scenario == TD_BENCH_SC_TIMER) {
            const int *seq = B.scenario == TD_BENCH_SC_ACTIVITY ? activity_seq : timer_seq;
            int len = B.scenario == TD_BENCH_SC_ACTIVITY ? (int)TD_ARRAY_LEN(activity_seq)
                                                         : (int)TD_ARRAY_LEN(timer_seq);
            if (pos >= len || seq[pos] != t) {
                snprintf(msg, sizeof(msg), "event %d is of type %d, expected %d", pos + 1, t,
                         pos < len ? seq[pos] : -1);
                td_bench_verify_fail(c->wf, msg);
                return -1;
            }
        } else {
            int ok = t == EV(WORKFLOW_TASK_SCHEDULED) || t == EV(WORKFLOW_TASK_STARTED) ||
                     t == EV(WORKFLOW_TASK_COMPLETED) || t == EV(WORKFLOW_EXECUTION_SIGNALED) ||
                     (pos == 0 && t == EV(WORKFLOW_EXECUTION_STARTED)) ||
                     t == EV(WORKFLOW_EXECUTION_COMPLETED);
            if (!ok || (pos == 0) != (t == EV(WORKFLOW_EXECUTION_STARTED))) {
                snprintf(msg, sizeof(msg), "event %d is of unexpected type %d", pos + 1, t);
                td_bench_verify_fail(c->wf, msg);
                return -1;
            }
            if (t == EV(WORKFLOW_EXECUTION_SIGNALED)) {
                c->signals_seen++;
            }
        }
        c->last_type = t;
    }
    if (h->next_page_token.len != 0) {
        return 0;
    }
    {
        char msg[160];
        td_bench_wf_t *w = &B.wf[c->wf];
        int expect = 0;
        switch (B.scenario) {
        case TD_BENCH_SC_ACTIVITY:
            expect = (int)TD_ARRAY_LEN(activity_seq);
            break;
        case TD_BENCH_SC_TIMER:
            expect = (int)TD_ARRAY_LEN(timer_seq);
            break;
        case TD_BENCH_SC_SIGNAL:
            expect = 2 + TD_BENCH_SIGNALS + 3 * (int)w->wft_done;
            break;
        }
        if (c->events_seen != expect || c->last_type != EV(WORKFLOW_EXECUTION_COMPLETED) ||
            (B.scenario == TD_BENCH_SC_SIGNAL && c->signals_seen != TD_BENCH_SIGNALS)) {
            snprintf(msg, sizeof(msg),
                     "%d events (expected %d), last of type %d (expected completed), %d signals",
                     c->events_seen, expect, c->last_type, c->signals_seen);
            td_bench_verify_fail(c->wf, msg);
            return -1;
        }
    }
    return 1;
}

static void td_bench_describe(uint32_t i)
{
    desc_req_t req = TEMPORAL__API__WORKFLOWSERVICE__V1__DESCRIBE_WORKFLOW_EXECUTION_REQUEST__INIT;
    Temporal__Api__Common__V1__WorkflowExecution ex =
            TEMPORAL__API__COMMON__V1__WORKFLOW_EXECUTION__INIT;
    char wid[96];

    td_bench_workflow_id(i, wid, sizeof(wid));
    ex.workflow_id = wid;
    ex.run_id = B.wf[i].run_id;
    req.namespace_ = (char *)B.ns;
    req.execution = &ex;
    td_bench_call(
            TD_BENCH_R_DESCRIBE, i, -1, 0, &req.base,
            &temporal__api__workflowservice__v1__describe_workflow_execution_response__descriptor,
            TD_BENCH_RPC_MS, NULL);
}

static void td_bench_verify_next(void)
{
    while (B.phase == TD_BENCH_VERIFY && B.verify_live < TD_BENCH_VERIFY_PAR &&
           B.verify_next < B.n_wf) {
        uint32_t i = (uint32_t)B.verify_next++;
        B.verify_live++;
        td_bench_history_call(i, NULL, NULL);
    }
    if (B.phase == TD_BENCH_VERIFY && B.verify_live == 0 && B.verify_next >= B.n_wf) {
        B.phase = TD_BENCH_DONE;
        td_loop_stop(B.loop);
    }
}

/* ---- results ---- */

static void td_bench_abort(const char *fmt, ...)
{
    va_list ap;
    if (B.phase == TD_BENCH_ABORTED || B.phase == TD_BENCH_DONE) {
        return;
    }
    fprintf(stderr, "temporald_bench: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    B.phase = TD_BENCH_ABORTED;
    B.rc = 1;
    td_loop_stop(B.loop);
}

static int td_bench_stopping(void)
{
    return B.phase >= TD_BENCH_VERIFY;
}

static void td_bench_on_result(const td_rpc_result_t *r, void *arg)
{
    td_bench_call_t *c = arg;
    int64_t now = td_bench_now_ns();
    int kind = c->kind;

    if (B.phase == TD_BENCH_ABORTED || B.phase == TD_BENCH_DONE) {
        goto out;
    }
    if (kind == TD_BENCH_R_POLL_WFT || kind == TD_BENCH_R_POLL_ACT) {
        B.poll_cc[kind == TD_BENCH_R_POLL_WFT ? 0 : 1][c->slot] = NULL;
        if (td_bench_stopping()) {
            goto out;
        }
        if (r->status == 4 /* DEADLINE_EXCEEDED: no empty answer in time; poll again */) {
            td_bench_poll(kind, c->slot);
            goto out;
        }
    }
    if (r->status != 0) {
        td_bench_abort("RPC %s failed: status %d %s: %s", td_bench_rpc_names[kind], r->status,
                       td_grpc_status_name(r->status), r->message ? r->message : "");
        goto out;
    }
    if (c->measure && kind != TD_BENCH_R_HISTORY && kind != TD_BENCH_R_DESCRIBE) {
        td_bench_lat_add(&B.lat[kind], (now - c->t0_ns) / 1000);
    }
    switch (kind) {
    case TD_BENCH_R_START: {
        const start_resp_t *s = (const start_resp_t *)r->resp;
        td_bench_wf_t *w = &B.wf[c->wf];
        if (s->run_id == NULL || strlen(s->run_id) > TD_UUID_LEN) {
            td_bench_abort("StartWorkflowExecution answered a bad run id");
            goto out;
        }
        strcpy(w->run_id, s->run_id);
        if (w->state == TD_BENCH_WF_STARTING) {
            w->state = TD_BENCH_WF_RUNNING;
        }
        if (B.scenario == TD_BENCH_SC_SIGNAL) {
            td_bench_signal(c->wf);
        }
        break;
    }
    case TD_BENCH_R_SIGNAL:
        if (B.wf[c->wf].signals_sent < TD_BENCH_SIGNALS) {
            td_bench_signal(c->wf);
        }
        break;
    case TD_BENCH_R_POLL_WFT: {
        const wft_poll_resp_t *t = (const wft_poll_resp_t *)r->resp;
        td_bench_poll(kind, c->slot);
        if (t->task_token.len != 0) {
            td_bench_on_wft(t);
        }
        break;
    }
    case TD_BENCH_R_POLL_ACT: {
        const act_poll_resp_t *t = (const act_poll_resp_t *)r->resp;
        td_bench_poll(kind, c->slot);
        if (t->task_token.len != 0) {
            td_bench_on_activity(t);
        }
        break;
    }
    case TD_BENCH_R_DONE_WFT: {
        td_bench_wf_t *w = &B.wf[c->wf];
        /* one workflow task per workflow is in flight at a time, so this is that one */
        w->wft_done++;
        if (w->completing) {
            td_bench_workflow_completed(c->wf, now);
        }
        break;
    }
    case TD_BENCH_R_DONE_ACT:
        break;
    case TD_BENCH_R_HISTORY: {
        const hist_resp_t *h = (const hist_resp_t *)r->resp;
        int last = td_bench_check_page(c, h);
        if (last == 0) {
            td_bench_history_call(c->wf, &h->next_page_token, c);
        } else if (last < 0) {
            B.verify_live--;
            td_bench_verify_next();
        } else {
            td_bench_describe(c->wf);
        }
        break;
    }
    case TD_BENCH_R_DESCRIBE: {
        const desc_resp_t *d = (const desc_resp_t *)r->resp;
        td_bench_wf_t *w = &B.wf[c->wf];
        if (d->workflow_execution_info != NULL) {
            w->transitions = d->workflow_execution_info->state_transition_count;
        }
        w->verified = 1;
        B.verify_live--;
        td_bench_verify_next();
        break;
    }
    default:
        break;
    }
out:
    td_free(c);
}

/* ---- phases ---- */

static void td_bench_cancel_polls(void)
{
    for (int k = 0; k < 2; k++) {
        for (int s = 0; s < TD_BENCH_MAX_POLLERS; s++) {
            if (B.poll_cc[k][s] != NULL) {
                td_rpc_ccall_t *cc = B.poll_cc[k][s];
                B.poll_cc[k][s] = NULL;
                td_rpc_client_cancel(cc);
            }
        }
    }
}

static void td_bench_tick(void *arg)
{
    int64_t now = td_bench_now_ns();
    (void)arg;

    if (B.phase == TD_BENCH_WARMUP && now >= B.t_begin + (int64_t)(B.warmup_s * 1e9)) {
        B.phase = TD_BENCH_MEASURE;
        B.t_measure = now;
        B.done_at_measure = B.completed;
        B.cpu_at_measure = B.server_pid > 0 ? td_bench_proc_cpu(B.server_pid) : 0;
        B.db_at_measure = B.db_pid > 0 ? td_bench_tree_cpu(B.db_pid) : 0;
        getrusage(RUSAGE_SELF, &B.self_at_measure);
    }
    if (B.phase == TD_BENCH_MEASURE && now >= B.t_measure + (int64_t)(B.duration_s * 1e9)) {
        B.phase = TD_BENCH_DRAIN;
        B.t_end = now;
        B.done_at_end = B.completed;
        B.cpu_at_end = B.server_pid > 0 ? td_bench_proc_cpu(B.server_pid) : 0;
        B.db_at_end = B.db_pid > 0 ? td_bench_tree_cpu(B.db_pid) : 0;
        B.rss_at_end_kb = B.server_pid > 0 ? td_bench_proc_kb(B.server_pid, "VmRSS") : -1;
        getrusage(RUSAGE_SELF, &B.self_at_end);
        B.t_drain_deadline = now + (int64_t)(B.drain_s * 1e9);
    }
    if (B.open_loop && B.phase <= TD_BENCH_MEASURE) {
        /* issue every start due by now, each stamped with its intended time */
        double since = (double)(now - B.t_begin) / 1e9;
        long due = (long)(since * B.rate) + 1;
        while ((long)B.n_wf + B.missed < due) {
            int64_t intended =
                    B.t_begin + (int64_t)((double)(B.n_wf + (size_t)B.missed) / B.rate * 1e9);
            if (B.running >= B.max_open) {
                B.missed++;
                continue;
            }
            td_bench_start_one(intended);
        }
    }
    if (B.server_pid > 0 && B.phase <= TD_BENCH_MEASURE && now >= B.next_rss_ns) {
        long kb = td_bench_proc_kb(B.server_pid, "VmRSS");
        B.rss_max_kb = kb > B.rss_max_kb ? kb : B.rss_max_kb;
        B.next_rss_ns = now + 100000000;
    }
    if (B.phase == TD_BENCH_DRAIN) {
        if (B.running == 0) {
            B.hwm_before_kb = B.server_pid > 0 ? td_bench_proc_kb(B.server_pid, "VmHWM") : -1;
            B.phase = TD_BENCH_VERIFY;
            td_bench_cancel_polls();
            if (B.no_verify) {
                B.phase = TD_BENCH_DONE;
                td_loop_stop(B.loop);
                return;
            }
            td_bench_verify_next();
            return;
        }
        if (now >= B.t_drain_deadline) {
            /* the window's figures stand; the histories cannot be checked */
            fprintf(stderr,
                    "temporald_bench: %ld workflows still running %.0f s after the window "
                    "closed (the server completes fewer than were started, or stopped); "
                    "figures below are for the window, histories not checked\n",
                    B.running, B.drain_s);
            B.incomplete = B.running;
            B.no_verify = 1;
            B.rc = 1;
            B.hwm_before_kb = B.server_pid > 0 ? td_bench_proc_kb(B.server_pid, "VmHWM") : -1;
            B.phase = TD_BENCH_DONE;
            td_bench_cancel_polls();
            td_loop_stop(B.loop);
            return;
        }
    }
    if (B.phase <= TD_BENCH_DRAIN) {
        td_timer_start(B.tick, B.open_loop ? 1 : 10);
    }
}

/* ---- the report ---- */

static void td_bench_report(void)
{
    double window = (double)(B.t_end - B.t_measure) / 1e9;
    long done = B.done_at_end - B.done_at_measure;
    double hz = (double)sysconf(_SC_CLK_TCK);
    double srv_cpu = B.server_pid > 0 ? (double)(B.cpu_at_end - B.cpu_at_measure) / hz : NAN;
    double self_cpu =
            td_bench_tv_s(B.self_at_end.ru_utime) + td_bench_tv_s(B.self_at_end.ru_stime) -
            td_bench_tv_s(B.self_at_measure.ru_utime) - td_bench_tv_s(B.self_at_measure.ru_stime);
    long hwm = B.server_pid > 0 ? td_bench_proc_kb(B.server_pid, "VmHWM") : -1;
    long verified = 0;
    int64_t transitions = 0;
    long measured = 0;

    for (size_t i = 0; i < B.n_wf; i++) {
        verified += B.wf[i].verified;
        if (B.wf[i].measured) {
            measured++;
            transitions += B.wf[i].transitions;
        }
    }
    for (int k = 0; k < TD_BENCH_L_COUNT; k++) {
        if (B.lat[k].n > 0) {
            qsort(B.lat[k].v, B.lat[k].n, sizeof(int64_t), td_bench_cmp_i64);
        }
    }
    printf("scenario %s, %s loop", td_bench_sc_names[B.scenario], B.open_loop ? "open" : "closed");
    if (B.open_loop) {
        printf(" at %.0f starts/s", B.rate);
    } else {
        printf(" with %d workflows in flight", B.inflight);
    }
    printf(", %d+%d pollers, %d connection(s); window %.2f s after %.1f s warm-up\n", B.pollers,
           td_bench_wants_activities() ? B.pollers : 0, B.conns, window, B.warmup_s);
    printf("  workflows started %zu, completed %ld, history checked %ld%s\n", B.n_wf, B.completed,
           verified, B.no_verify ? " (verification skipped)" : "");
    printf("  completed workflows/s            %10.1f\n", done / window);
    if (!B.no_verify) {
        printf("  state transitions/s              %10.1f  (server-reported per workflow)\n",
               (double)transitions / window);
    }
    if (B.open_loop && B.missed > 0) {
        printf("  starts skipped at the %d in-flight cap: %ld\n", B.max_open, B.missed);
    }
    printf("  %-46s %8s %8s %8s %8s %9s\n", "latency (ms), requests sent in the window", "p50",
           "p95", "p99", "max", "count");
    for (int k = 0; k < TD_BENCH_L_COUNT; k++) {
        const td_bench_lat_t *l = &B.lat[k];
        if (l->n == 0) {
            continue;
        }
        printf("  %-46s %8.2f %8.2f %8.2f %8.2f %9zu%s\n", td_bench_rpc_names[k],
               td_bench_pct_ms(l, 50), td_bench_pct_ms(l, 95), td_bench_pct_ms(l, 99),
               td_bench_pct_ms(l, 100), l->n,
               (k == TD_BENCH_R_POLL_WFT || k == TD_BENCH_R_POLL_ACT) ? " (includes waiting)" : "");
    }
    if (B.server_pid > 0) {
        printf("  server CPU s per 1,000 workflows %10.3f  (%.2f s CPU in the window)\n",
               done > 0 ? srv_cpu * 1000.0 / (double)done : NAN, srv_cpu);
        printf("  server RSS: largest sample in the run %.1f MiB, at window end %.1f MiB, peak "
               "(VmHWM) %.1f MiB before the history checks, %.1f MiB after them\n",
               (double)B.rss_max_kb / 1024.0, (double)B.rss_at_end_kb / 1024.0,
               (double)B.hwm_before_kb / 1024.0, (double)hwm / 1024.0);
    }
    if (B.db_pid > 0) {
        double db_cpu = (double)(B.db_at_end - B.db_at_measure) / hz;
        printf("  database CPU s per 1,000 workflows %8.3f  (%.2f s CPU in the window, "
               "postmaster %d and its backends)\n",
               done > 0 ? db_cpu * 1000.0 / (double)done : NAN, db_cpu, B.db_pid);
        printf("BENCH db_cpu_s_per_1000 %.3f\n", done > 0 ? db_cpu * 1000.0 / (double)done : NAN);
    }
    printf("  bench CPU s in the window        %10.2f\n", self_cpu);

    /* machine-readable lines for the scripts */
    printf("BENCH wf_per_s %.1f\n", done / window);
    printf("BENCH transitions_per_s %.1f\n", B.no_verify ? NAN : (double)transitions / window);
    printf("BENCH window_s %.3f\n", window);
    printf("BENCH completed %ld\n", done);
    printf("BENCH measured_transitions %lld over %ld workflows\n", (long long)transitions,
           measured);
    for (int k = 0; k < TD_BENCH_L_COUNT; k++) {
        static const char *const keys[TD_BENCH_L_COUNT] = { "start",    "poll_wft", "done_wft",
                                                            "poll_act", "done_act", "signal",
                                                            "history",  "describe", "e2e" };
        if (B.lat[k].n == 0) {
            continue;
        }
        printf("BENCH %s_p50_ms %.3f\nBENCH %s_p95_ms %.3f\nBENCH %s_p99_ms %.3f\n", keys[k],
               td_bench_pct_ms(&B.lat[k], 50), keys[k], td_bench_pct_ms(&B.lat[k], 95), keys[k],
               td_bench_pct_ms(&B.lat[k], 99));
    }
    if (B.server_pid > 0) {
        printf("BENCH server_cpu_s_per_1000 %.3f\n",
               done > 0 ? srv_cpu * 1000.0 / (double)done : NAN);
        printf("BENCH server_rss_end_mib %.1f\n", (double)B.rss_at_end_kb / 1024.0);
        printf("BENCH server_rss_max_mib %.1f\n", (double)B.rss_max_kb / 1024.0);
        printf("BENCH server_hwm_load_mib %.1f\n", (double)B.hwm_before_kb / 1024.0);
        printf("BENCH server_hwm_mib %.1f\n", (double)hwm / 1024.0);
    }
    printf("BENCH bench_cpu_s %.2f\n", self_cpu);
    printf("BENCH missed_starts %ld\n", B.missed);
    if (B.incomplete > 0) {
        printf("  NOT COMPLETED: %ld workflows were still running when the drain time ran out\n",
               B.incomplete);
        printf("BENCH incomplete %ld\n", B.incomplete);
    }
    if (!B.no_verify && (verified != B.completed || (long)B.n_wf != B.completed)) {
        fprintf(stderr,
                "temporald_bench: started %zu, completed %ld, histories right %ld (%ld wrong)\n",
                B.n_wf, B.completed, verified, B.verify_bad);
        B.rc = 1;
    }
}

/* ---- run mode ---- */

static void td_bench_usage(FILE *f)
{
    fprintf(f, "usage: temporald_bench run --port PORT [options]\n"
               "       temporald_bench coldstart --temporald PATH [--runs N] [--settle-ms MS] "
               "[-- server flags]\n"
               "run options:\n"
               "  --host IP              frontend address (default 127.0.0.1)\n"
               "  --namespace NS         (default: default)\n"
               "  --scenario S           single-activity (default), signal, timer\n"
               "  --inflight N           closed loop: workflows in flight (default 200)\n"
               "  --rate R               open loop: starts per second (instead of --inflight)\n"
               "  --duration S           measurement window in seconds (default 10)\n"
               "  --warmup S             seconds before the window (default 2)\n"
               "  --drain S              seconds allowed for in-flight workflows to finish "
               "(default 30)\n"
               "  --pollers N            outstanding polls per task kind (default 32)\n"
               "  --connections N        HTTP/2 connections (default 2)\n"
               "  --server-pid PID       read CPU and RSS of this process\n"
               "  --db-pid PID           also read the CPU of this process and its children "
               "(a PostgreSQL postmaster)\n"
               "  --max-inflight N       open loop: in-flight cap (default 100000)\n"
               "  --gzip                 gzip request messages (as sdk-core does)\n"
               "  --no-verify            skip the history checks\n");
}

static int td_bench_run(int argc, char **argv)
{
    static const struct option opts[] = {
        { "host", required_argument, NULL, 'h' },
        { "port", required_argument, NULL, 'p' },
        { "namespace", required_argument, NULL, 'n' },
        { "scenario", required_argument, NULL, 's' },
        { "inflight", required_argument, NULL, 'i' },
        { "rate", required_argument, NULL, 'r' },
        { "duration", required_argument, NULL, 'd' },
        { "warmup", required_argument, NULL, 'w' },
        { "drain", required_argument, NULL, 'D' },
        { "pollers", required_argument, NULL, 'P' },
        { "connections", required_argument, NULL, 'c' },
        { "server-pid", required_argument, NULL, 'S' },
        { "db-pid", required_argument, NULL, 'B' },
        { "max-inflight", required_argument, NULL, 'm' },
        { "gzip", no_argument, NULL, 'g' },
        { "no-verify", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'H' },
        { NULL, 0, NULL, 0 },
    };
    td_rpc_client_opts_t co;
    char host[64];
    int o;

    B.host = "127.0.0.1";
    B.ns = "default";
    B.inflight = 200;
    B.duration_s = 10;
    B.warmup_s = 2;
    B.drain_s = 30;
    B.pollers = 32;
    B.conns = 2;
    B.max_open = 100000;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'h':
            B.host = optarg;
            break;
        case 'p':
            B.port = atoi(optarg);
            break;
        case 'n':
            B.ns = optarg;
            break;
        case 's':
            if (strcmp(optarg, "single-activity") == 0) {
                B.scenario = TD_BENCH_SC_ACTIVITY;
            } else if (strcmp(optarg, "signal") == 0) {
                B.scenario = TD_BENCH_SC_SIGNAL;
            } else if (strcmp(optarg, "timer") == 0) {
                B.scenario = TD_BENCH_SC_TIMER;
            } else {
                fprintf(stderr, "temporald_bench: unknown scenario '%s'\n", optarg);
                return 2;
            }
            break;
        case 'i':
            B.inflight = atoi(optarg);
            break;
        case 'r':
            B.rate = atof(optarg);
            B.open_loop = 1;
            break;
        case 'd':
            B.duration_s = atof(optarg);
            break;
        case 'w':
            B.warmup_s = atof(optarg);
            break;
        case 'D':
            B.drain_s = atof(optarg);
            break;
        case 'P':
            B.pollers = atoi(optarg);
            break;
        case 'c':
            B.conns = atoi(optarg);
            break;
        case 'S':
            B.server_pid = atoi(optarg);
            break;
        case 'B':
            B.db_pid = atoi(optarg);
            break;
        case 'm':
            B.max_open = atoi(optarg);
            break;
        case 'g':
            B.gzip = 1;
            break;
        case 'V':
            B.no_verify = 1;
            break;
        case 'H':
            td_bench_usage(stdout);
            return 0;
        default:
            td_bench_usage(stderr);
            return 2;
        }
    }
    if (B.port <= 0 || B.port > 65535 || B.pollers < 1 || B.pollers > TD_BENCH_MAX_POLLERS ||
        B.conns < 1 || B.conns > TD_BENCH_MAX_CONNS || B.duration_s <= 0 || B.duration_s > 3600 ||
        B.warmup_s < 0 || B.warmup_s > 600 || B.drain_s <= 0 || B.drain_s > 3600 ||
        (B.open_loop ? (B.rate <= 0 || B.rate > 1e6) : (B.inflight < 1 || B.inflight > 100000))) {
        fprintf(stderr, "temporald_bench: bad or missing option (--help)\n");
        return 2;
    }
    gethostname(host, sizeof(host));
    host[sizeof(host) - 1] = '\0';
    snprintf(B.identity, sizeof(B.identity), "%d@%s-bench", (int)getpid(), host);
    snprintf(B.tag, sizeof(B.tag), "bench-%d-%lld", (int)getpid(),
             (long long)(td_now_wall_ns() / 1000000));
    snprintf(B.tq, sizeof(B.tq), "%s-tq", B.tag);
    B.md[0] = "temporal-namespace";
    B.md[1] = B.ns;
    B.md[2] = NULL;
    B.loop = td_loop_new();
    td_rpc_client_opts_init(&co);
    co.gzip_requests = B.gzip;
    for (int k = 0; k < B.conns; k++) {
        B.cl[k] = td_rpc_client_new(B.loop, B.host, B.port, &co);
    }
    B.tick = td_timer_new(B.loop, td_bench_tick, NULL);
    B.phase = TD_BENCH_WARMUP;
    B.t_begin = td_bench_now_ns();
    for (int s = 0; s < B.pollers; s++) {
        td_bench_poll(TD_BENCH_R_POLL_WFT, s);
        if (td_bench_wants_activities()) {
            td_bench_poll(TD_BENCH_R_POLL_ACT, s);
        }
    }
    if (!B.open_loop) {
        for (int k = 0; k < B.inflight; k++) {
            td_bench_start_one(0);
        }
    }
    td_bench_tick(NULL);
    td_loop_run(B.loop);
    if (B.phase == TD_BENCH_DONE) {
        td_bench_report();
    } else {
        B.rc = 1;
        fprintf(stderr, "temporald_bench: run aborted: %zu started, %ld completed; no figures\n",
                B.n_wf, B.completed);
    }
    td_timer_free(B.tick);
    for (int k = 0; k < B.conns; k++) {
        td_rpc_client_free(B.cl[k]);
    }
    td_loop_free(B.loop);
    for (int k = 0; k < TD_BENCH_L_COUNT; k++) {
        td_free(B.lat[k].v);
    }
    td_free(B.wf);
    return B.rc;
}

/* ---- coldstart mode ---- */

static int td_bench_free_port(void)
{
    struct sockaddr_in a = { 0 };
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

static int td_bench_tcp_open(int port)
{
    struct sockaddr_in a = { 0 };
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

typedef struct {
    td_loop_t *loop;
    int status;
    char message[200];
} td_bench_probe_t;

static void td_bench_probe_done(const td_rpc_result_t *r, void *arg)
{
    td_bench_probe_t *p = arg;
    p->status = r->status;
    snprintf(p->message, sizeof(p->message), "%s", r->message ? r->message : "");
    td_loop_stop(p->loop);
}

/* One GetSystemInfo on a fresh connection; returns the gRPC status. */
static int td_bench_probe(td_loop_t *loop, int port, char *msg, size_t msglen)
{
    Temporal__Api__Workflowservice__V1__GetSystemInfoRequest req =
            TEMPORAL__API__WORKFLOWSERVICE__V1__GET_SYSTEM_INFO_REQUEST__INIT;
    td_rpc_client_opts_t co;
    td_rpc_call_opts_t o = {
        &temporal__api__workflowservice__v1__get_system_info_response__descriptor, 5000, NULL
    };
    td_bench_probe_t p = { loop, -1, "" };
    td_rpc_client_t *cl;

    td_rpc_client_opts_init(&co);
    co.backoff_min_ms = 1;
    co.backoff_max_ms = 5;
    cl = td_rpc_client_new(loop, "127.0.0.1", port, &co);
    td_rpc_client_call(cl, SVC "GetSystemInfo", &req.base, &o, td_bench_probe_done, &p);
    td_loop_run(loop);
    td_rpc_client_free(cl);
    snprintf(msg, msglen, "%s", p.message);
    return p.status;
}

static int td_bench_cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int td_bench_coldstart(int argc, char **argv)
{
    const char *bin = NULL;
    int runs = 10, settle_ms = 2000, rc = 0, extra = 0, n_ok = 0;
    double ms[100], rss[100], hwm[100];
    td_loop_t *loop = td_loop_new();

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--temporald") == 0 && i + 1 < argc) {
            bin = argv[++i];
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--settle-ms") == 0 && i + 1 < argc) {
            settle_ms = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--") == 0) {
            extra = i + 1;
            break;
        } else {
            td_bench_usage(stderr);
            rc = 2;
            goto out;
        }
    }
    if (bin == NULL || runs < 1 || runs > 100 || settle_ms < 0 || settle_ms > 60000) {
        td_bench_usage(stderr);
        rc = 2;
        goto out;
    }
    for (int r = 0; r < runs; r++) {
        char portstr[16], dir[] = "/tmp/td-bench-cold.XXXXXX", logp[80], msg[200] = "";
        char *av[64], *owned[64];
        int n_owned = 0;
        int port = td_bench_free_port(), na = 0, st = -1, fd;
        int64_t t0, t1 = 0;
        pid_t pid;

        if (port < 0 || mkdtemp(dir) == NULL) {
            fprintf(stderr, "temporald_bench: no free port or temp dir\n");
            rc = 1;
            goto out;
        }
        snprintf(portstr, sizeof(portstr), "%d", port);
        snprintf(logp, sizeof(logp), "%s/server.log", dir);
        av[na++] = (char *)bin;
        av[na++] = (char *)"start-dev";
        av[na++] = (char *)"--ip";
        av[na++] = (char *)"127.0.0.1";
        av[na++] = (char *)"--port";
        av[na++] = portstr;
        av[na++] = (char *)"--headless";
        for (int i = extra; extra > 0 && i < argc && na < 60; i++) {
            /* "{dir}" in an extra flag names this run's temp folder */
            if (strncmp(argv[i], "{dir}", 5) == 0) {
                char *s = td_malloc(strlen(dir) + strlen(argv[i]));
                sprintf(s, "%s%s", dir, argv[i] + 5);
                av[na++] = s;
                owned[n_owned++] = s;
            } else {
                av[na++] = argv[i];
            }
        }
        av[na] = NULL;
        fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        t0 = td_bench_now_ns();
        pid = fork();
        if (pid == 0) {
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execv(bin, av);
            _exit(127);
        }
        if (fd >= 0) {
            close(fd);
        }
        /* the socket first (cheap connect attempts every 0.2 ms), then the RPC itself */
        while (td_bench_now_ns() - t0 < 5000000000LL) {
            if (td_bench_tcp_open(port)) {
                st = td_bench_probe(loop, port, msg, sizeof(msg));
                if (st == 0) {
                    t1 = td_bench_now_ns();
                    break;
                }
            }
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                pid = -1;
                break;
            }
            usleep(200);
        }
        if (t1 == 0) {
            fprintf(stderr,
                    "temporald_bench: start-dev run %d: no GetSystemInfo answer in 5 s "
                    "(status %d %s; log %s)\n",
                    r, st, msg, logp);
            rc = 1;
        } else {
            ms[n_ok] = (double)(t1 - t0) / 1e6;
            if (settle_ms > 0) {
                usleep((useconds_t)settle_ms * 1000);
            }
            rss[n_ok] = (double)td_bench_proc_kb(pid, "VmRSS") / 1024.0;
            hwm[n_ok] = (double)td_bench_proc_kb(pid, "VmHWM") / 1024.0;
            n_ok++;
        }
        if (pid > 0) {
            int wst;
            kill(pid, SIGTERM);
            for (int w = 0; w < 500 && waitpid(pid, &wst, WNOHANG) == 0; w++) {
                usleep(10000);
            }
            if (waitpid(pid, &wst, WNOHANG) == 0) {
                kill(pid, SIGKILL);
                waitpid(pid, &wst, 0);
            }
        }
        for (int i = 0; i < n_owned; i++) {
            td_free(owned[i]);
        }
        if (rc == 0) {
            char cmd[128];
            snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
            if (system(cmd) != 0) {
                fprintf(stderr, "temporald_bench: could not remove %s\n", dir);
            }
        }
        if (rc != 0) {
            goto out;
        }
    }
    qsort(ms, (size_t)n_ok, sizeof(double), td_bench_cmp_dbl);
    qsort(rss, (size_t)n_ok, sizeof(double), td_bench_cmp_dbl);
    qsort(hwm, (size_t)n_ok, sizeof(double), td_bench_cmp_dbl);
    printf("start-dev cold start (exec -> first GetSystemInfo answered), %d runs: median %.1f ms, "
           "min %.1f, max %.1f\n",
           n_ok, ms[n_ok / 2], ms[0], ms[n_ok - 1]);
    printf("idle RSS %.0f ms after the first answer: median %.1f MiB (peak %.1f MiB)\n",
           (double)settle_ms, rss[n_ok / 2], hwm[n_ok / 2]);
    printf("BENCH cold_start_ms %.1f\nBENCH cold_start_max_ms %.1f\nBENCH idle_rss_mib %.1f\n",
           ms[n_ok / 2], ms[n_ok - 1], rss[n_ok / 2]);
out:
    td_loop_free(loop);
    return rc;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    td_log_setup(TD_LOG_WARN, TD_LOG_TEXT);
    if (argc >= 2 && strcmp(argv[1], "run") == 0) {
        return td_bench_run(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "coldstart") == 0) {
        return td_bench_coldstart(argc - 1, argv + 1);
    }
    td_bench_usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
    return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
