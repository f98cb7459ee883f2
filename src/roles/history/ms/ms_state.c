/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mutable-state container: transaction outputs, event construction and commit, the
 * buffer of external events, close, lookup, and the persisted form (temporald.history
 * MutableState / Task). Transitions themselves live in ms_wft.c, ms_activity.c and
 * ms_exec.c; the design notes are in ms.h.
 */
#include "ms_int.h"

#include <string.h>

#include "error.h"
#include "history.pb-c.h"
#include "mem.h"

typedef Temporald__History__MutableState pb_ms_t;
typedef Temporald__History__ExecutionInfo pb_exec_t;
typedef Temporald__History__WorkflowTaskInfo pb_wft_t;
typedef Temporald__History__ActivityInfo pb_act_t;
typedef Temporald__History__TimerInfo pb_timer_t;
typedef Temporald__History__RetryPolicy pb_retry_t;
typedef Temporald__History__ChildInfo pb_child_t;
typedef Temporald__History__ExternalInfo pb_ext_t;

/* ---- small helpers ---- */

void *td_ms__pb_new(td_arena_t *a, const ProtobufCMessageDescriptor *d)
{
    void *m = td_arena_alloc(a, d->sizeof_message);
    d->message_init(m);
    return m;
}

Google__Protobuf__Timestamp *td_ms__ts(td_arena_t *a, int64_t ns)
{
    Google__Protobuf__Timestamp *ts = td_ms__pb_new(a, &google__protobuf__timestamp__descriptor);
    ts->seconds = ns / TD_MS_SECOND;
    ts->nanos = (int32_t)(ns % TD_MS_SECOND);
    return ts;
}

Google__Protobuf__Duration *td_ms__dur(td_arena_t *a, int64_t ns)
{
    Google__Protobuf__Duration *d = td_ms__pb_new(a, &google__protobuf__duration__descriptor);
    d->seconds = ns / TD_MS_SECOND;
    d->nanos = (int32_t)(ns % TD_MS_SECOND);
    return d;
}

int64_t td_ms__ts_ns(const Google__Protobuf__Timestamp *ts)
{
    return ts ? ts->seconds * TD_MS_SECOND + ts->nanos : 0;
}

int64_t td_ms__dur_ns(const Google__Protobuf__Duration *d)
{
    if (d == NULL) {
        return 0;
    }
    /* 100 years is plenty and keeps sums of times and durations far from overflow. */
    if (d->seconds < 0 || d->nanos < 0 || d->nanos >= TD_MS_SECOND ||
        d->seconds > INT64_C(3153600000)) {
        return -1;
    }
    return d->seconds * TD_MS_SECOND + d->nanos;
}

char *td_ms__strdup(const char *s)
{
    return td_strdup(s ? s : "");
}

void td_ms__str_set(char **dst, const char *s)
{
    td_free(*dst);
    *dst = td_ms__strdup(s);
}

const char *td_ms__astr(td_arena_t *a, const char *s)
{
    return td_arena_strdup(a, s ? s : "");
}

void td_ms__blob_free(td_ms_blob_t *b)
{
    td_free(b->data);
    b->data = NULL;
    b->len = 0;
}

void td_ms__blob_set(td_ms_blob_t *b, const ProtobufCMessage *m)
{
    td_ms__blob_free(b);
    if (m != NULL) {
        b->len = protobuf_c_message_get_packed_size(m);
        b->data = td_malloc(b->len ? b->len : 1);
        protobuf_c_message_pack(m, b->data);
    }
}

static void blob_set_bytes(td_ms_blob_t *b, const uint8_t *data, size_t len)
{
    td_ms__blob_free(b);
    if (len > 0) {
        b->data = td_malloc(len);
        memcpy(b->data, data, len);
        b->len = len;
    }
}

void *td_ms__blob_get(const td_ms_blob_t *b, const ProtobufCMessageDescriptor *d, td_arena_t *a)
{
    if (b->data == NULL) {
        return NULL;
    }
    return protobuf_c_message_unpack(d, td_arena_pb(a), b->len, b->data);
}

void td_ms__retry_free(td_ms_retry_policy_t *p)
{
    for (size_t i = 0; i < p->n_non_retryable_error_types; i++) {
        td_free(p->non_retryable_error_types[i]);
    }
    td_free(p->non_retryable_error_types);
    memset(p, 0, sizeof(*p));
}

void td_ms__retry_copy(td_ms_retry_policy_t *dst, const td_ms_retry_policy_t *src)
{
    *dst = *src;
    dst->non_retryable_error_types = NULL;
    if (src->n_non_retryable_error_types > 0) {
        dst->non_retryable_error_types =
                td_calloc(src->n_non_retryable_error_types, sizeof(char *));
        for (size_t i = 0; i < src->n_non_retryable_error_types; i++) {
            dst->non_retryable_error_types[i] = td_ms__strdup(src->non_retryable_error_types[i]);
        }
    }
}

Temporal__Api__Common__V1__RetryPolicy *td_ms__retry_pb(td_arena_t *a,
                                                        const td_ms_retry_policy_t *p)
{
    Temporal__Api__Common__V1__RetryPolicy *r =
            td_ms__pb_new(a, &temporal__api__common__v1__retry_policy__descriptor);
    r->initial_interval = td_ms__dur(a, p->initial_interval);
    r->backoff_coefficient = p->backoff_coefficient;
    r->maximum_interval = td_ms__dur(a, p->maximum_interval);
    r->maximum_attempts = p->maximum_attempts;
    r->n_non_retryable_error_types = p->n_non_retryable_error_types;
    if (p->n_non_retryable_error_types > 0) {
        r->non_retryable_error_types =
                td_arena_alloc(a, p->n_non_retryable_error_types * sizeof(char *));
        for (size_t i = 0; i < p->n_non_retryable_error_types; i++) {
            r->non_retryable_error_types[i] =
                    (char *)td_ms__astr(a, p->non_retryable_error_types[i]);
        }
    }
    return r;
}

int td_ms__fail(td_ms_txn_t *t, int rc, const char *msg)
{
    t->msg = msg;
    return rc;
}

const td_ms_limits_t *td_ms_limits_default(void)
{
    static const td_ms_limits_t d = {
        .history_count_warn = 10 * 1024,
        .history_count_error = 50 * 1024,
        .history_size_warn = 10 * 1024 * 1024,
        .history_size_error = 50 * 1024 * 1024,
        .suggest_can_count = TD_MS_SUGGEST_CAN_EVENTS,
        .suggest_can_size = TD_MS_SUGGEST_CAN_BYTES,
        .pending_activities = 2000,
        .pending_children = 2000,
        .pending_signals = 2000,
        .pending_cancels = 2000,
        .max_signals = 10000,
        .blob_warn = 512 * 1024,
        .blob_error = 2 * 1024 * 1024,
    };
    return &d;
}

const td_ms_limits_t *td_ms__limits(const td_ms_txn_t *t)
{
    return t->limits != NULL ? t->limits : td_ms_limits_default();
}

int td_ms__blob_check(td_ms_txn_t *t, const ProtobufCMessage *m, int cause, const char *msg)
{
    int64_t limit = td_ms__limits(t)->blob_error;

    if (m == NULL || limit <= 0 || (int64_t)protobuf_c_message_get_packed_size(m) <= limit) {
        return TD_OK;
    }
    t->cause = cause;
    t->terminate = 1;
    return td_ms__fail(t, TD_EINVAL, msg);
}

int td_ms__pending_check(td_ms_txn_t *t, int cause, size_t n, int64_t limit, const char *what)
{
    if (limit <= 0 || (int64_t)n < limit) {
        return TD_OK;
    }
    t->cause = cause;
    return td_ms__fail(t, TD_EINVAL,
                       td_arena_printf(t->arena,
                                       "the number of %s, %zu, has reached the per-workflow limit "
                                       "of %lld",
                                       what, n, (long long)limit));
}

int td_ms__check_open(const td_ms_t *ms, td_ms_txn_t *t)
{
    if (ms->state != TD_MS_STATE_RUNNING) {
        return td_ms__fail(t, TD_ENOTFOUND, TD_MS_CLOSED);
    }
    return TD_OK;
}

/* ---- transaction ---- */

void td_ms_txn_init(td_ms_txn_t *t, td_arena_t *arena, int64_t now)
{
    memset(t, 0, sizeof(*t));
    t->arena = arena;
    t->now = now;
}

td_ms_task_category_t td_ms_task_category(td_ms_task_type_t type)
{
    if (type < 10) {
        return TD_MS_CAT_TRANSFER;
    }
    if (type < 20) {
        return TD_MS_CAT_TIMER;
    }
    return TD_MS_CAT_VISIBILITY;
}

td_ms_event_t *td_ms__event_new(td_ms_txn_t *t)
{
    td_ms_event_t *e =
            td_ms__pb_new(t->arena, &temporal__api__history__v1__history_event__descriptor);
    e->event_time = td_ms__ts(t->arena, t->now);
    e->task_id = t->task_id;
    return e;
}

static void txn_push_event(td_ms_txn_t *t, td_ms_event_t *e)
{
    if (t->n_events == t->cap_events) {
        size_t cap = t->cap_events ? t->cap_events * 2 : 8;
        td_ms_event_t **ev = td_arena_alloc(t->arena, cap * sizeof(*ev));
        if (t->n_events > 0) {
            memcpy(ev, t->events, t->n_events * sizeof(*ev));
        }
        t->events = ev;
        t->cap_events = cap;
    }
    t->events[t->n_events++] = e;
}

static int64_t append_history(td_ms_t *ms, td_ms_txn_t *t, td_ms_event_t *e)
{
    e->event_id = ms->next_event_id++;
    e->task_id = t->task_id;
    ms->last_event_task_id = t->task_id;
    ms->history_size_bytes += (int64_t)protobuf_c_message_get_packed_size(&e->base);
    txn_push_event(t, e);
    return e->event_id;
}

int64_t td_ms__event_commit(td_ms_t *ms, td_ms_txn_t *t, td_ms_event_t *e, int bufferable)
{
    if (bufferable && ms->wft.started_id != 0) {
        td_ms_blob_t *b;
        ms->buffered = td_realloc(ms->buffered, (ms->n_buffered + 1) * sizeof(*ms->buffered));
        b = &ms->buffered[ms->n_buffered++];
        memset(b, 0, sizeof(*b));
        e->event_id = 0;
        td_ms__blob_set(b, &e->base);
        return 0;
    }
    if (ms->wft.scheduled_id != 0 && ms->wft.transient && ms->wft.started_id == 0) {
        /* New events are new information: as in Temporal, the failing task becomes an
         * ordinary attempt 1 (re-dispatched), written before the event so ids stay dense. */
        td_ms__wft_schedule(ms, t, 1, 1);
    }
    return append_history(ms, t, e);
}

void td_ms__task_add(td_ms_txn_t *t, const td_ms_task_t *task)
{
    if (t->n_tasks == t->cap_tasks) {
        size_t cap = t->cap_tasks ? t->cap_tasks * 2 : 8;
        td_ms_task_t *tasks = td_arena_alloc(t->arena, cap * sizeof(*tasks));
        if (t->n_tasks > 0) {
            memcpy(tasks, t->tasks, t->n_tasks * sizeof(*tasks));
        }
        t->tasks = tasks;
        t->cap_tasks = cap;
    }
    t->tasks[t->n_tasks] = *task;
    if (task->task_queue) {
        t->tasks[t->n_tasks].task_queue = td_arena_strdup(t->arena, task->task_queue);
    }
    if (task->timer_id) {
        t->tasks[t->n_tasks].timer_id = td_arena_strdup(t->arena, task->timer_id);
    }
    if (task->target_namespace_id) {
        t->tasks[t->n_tasks].target_namespace_id =
                td_arena_strdup(t->arena, task->target_namespace_id);
    }
    if (task->target_workflow_id) {
        t->tasks[t->n_tasks].target_workflow_id =
                td_arena_strdup(t->arena, task->target_workflow_id);
    }
    if (task->target_run_id) {
        t->tasks[t->n_tasks].target_run_id = td_arena_strdup(t->arena, task->target_run_id);
    }
    t->n_tasks++;
}

void td_ms__timer_add(td_ms_txn_t *t, td_ms_task_type_t type, int64_t fire, int64_t event_id,
                      int32_t attempt, int timeout_type)
{
    td_ms_task_t task = { .type = type,
                          .fire_time = fire,
                          .event_id = event_id,
                          .attempt = attempt,
                          .timeout_type = timeout_type };
    td_ms__task_add(t, &task);
}

/* ---- buffer ---- */

void td_ms__buffer_clear(td_ms_t *ms)
{
    for (size_t i = 0; i < ms->n_buffered; i++) {
        td_ms__blob_free(&ms->buffered[i]);
    }
    td_free(ms->buffered);
    ms->buffered = NULL;
    ms->n_buffered = 0;
}

static int is_completion_event(int type)
{
    return type == TD_MS_ET(ACTIVITY_TASK_COMPLETED) || type == TD_MS_ET(ACTIVITY_TASK_FAILED) ||
           type == TD_MS_ET(ACTIVITY_TASK_TIMED_OUT) || type == TD_MS_ET(ACTIVITY_TASK_CANCELED) ||
           type == TD_MS_ET(CHILD_WORKFLOW_EXECUTION_COMPLETED) ||
           type == TD_MS_ET(CHILD_WORKFLOW_EXECUTION_FAILED) ||
           type == TD_MS_ET(CHILD_WORKFLOW_EXECUTION_CANCELED) ||
           type == TD_MS_ET(CHILD_WORKFLOW_EXECUTION_TERMINATED) ||
           type == TD_MS_ET(CHILD_WORKFLOW_EXECUTION_TIMED_OUT);
}

/* The ChildWorkflowExecution* close events keep initiated/started ids at the same place. */
static void child_close_ids(td_ms_event_t *e, int64_t **init, int64_t **started)
{
    switch (e->attributes_case) {
    case TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_CHILD_WORKFLOW_EXECUTION_COMPLETED_EVENT_ATTRIBUTES:
        *init = &e->child_workflow_execution_completed_event_attributes->initiated_event_id;
        *started = &e->child_workflow_execution_completed_event_attributes->started_event_id;
        break;
    case TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_CHILD_WORKFLOW_EXECUTION_FAILED_EVENT_ATTRIBUTES:
        *init = &e->child_workflow_execution_failed_event_attributes->initiated_event_id;
        *started = &e->child_workflow_execution_failed_event_attributes->started_event_id;
        break;
    case TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_CHILD_WORKFLOW_EXECUTION_CANCELED_EVENT_ATTRIBUTES:
        *init = &e->child_workflow_execution_canceled_event_attributes->initiated_event_id;
        *started = &e->child_workflow_execution_canceled_event_attributes->started_event_id;
        break;
    case TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_CHILD_WORKFLOW_EXECUTION_TERMINATED_EVENT_ATTRIBUTES:
        *init = &e->child_workflow_execution_terminated_event_attributes->initiated_event_id;
        *started = &e->child_workflow_execution_terminated_event_attributes->started_event_id;
        break;
    case TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_CHILD_WORKFLOW_EXECUTION_TIMED_OUT_EVENT_ATTRIBUTES:
        *init = &e->child_workflow_execution_timed_out_event_attributes->initiated_event_id;
        *started = &e->child_workflow_execution_timed_out_event_attributes->started_event_id;
        break;
    default:
        *init = *started = NULL;
        break;
    }
}

/* A buffered ChildWorkflowExecutionStarted got its id: the child record and a close event
 * flushed with it learn it. */
static void wire_child_started(td_ms_t *ms, td_ms_txn_t *t, size_t from, td_ms_event_t *e)
{
    int64_t *init, *started;

    if (e->event_type == TD_MS_ET(CHILD_WORKFLOW_EXECUTION_STARTED)) {
        td_ms_child_t *ci;
        /* A decoded record is checked, not trusted: the type must come with its attributes. */
        if (e->child_workflow_execution_started_event_attributes == NULL ||
            e->attributes_case !=
                    TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_CHILD_WORKFLOW_EXECUTION_STARTED_EVENT_ATTRIBUTES) {
            return;
        }
        ci = td_ms_child_find(
                ms, e->child_workflow_execution_started_event_attributes->initiated_event_id);
        if (ci != NULL) {
            ci->started_id = e->event_id;
        }
        return;
    }
    child_close_ids(e, &init, &started);
    for (size_t j = from; init && *started == 0 && j < t->n_events; j++) {
        td_ms_event_t *s = t->events[j];
        if (s->event_type == TD_MS_ET(CHILD_WORKFLOW_EXECUTION_STARTED) &&
            s->attributes_case ==
                    TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_CHILD_WORKFLOW_EXECUTION_STARTED_EVENT_ATTRIBUTES &&
            s->child_workflow_execution_started_event_attributes->initiated_event_id == *init) {
            *started = s->event_id;
        }
    }
}

/* Activity completion events carry scheduled/started ids at the same place for each type. */
static void completion_ids(td_ms_event_t *e, int64_t **sched, int64_t **started)
{
    switch (e->attributes_case) {
    case TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_ACTIVITY_TASK_COMPLETED_EVENT_ATTRIBUTES:
        *sched = &e->activity_task_completed_event_attributes->scheduled_event_id;
        *started = &e->activity_task_completed_event_attributes->started_event_id;
        break;
    case TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_ACTIVITY_TASK_FAILED_EVENT_ATTRIBUTES:
        *sched = &e->activity_task_failed_event_attributes->scheduled_event_id;
        *started = &e->activity_task_failed_event_attributes->started_event_id;
        break;
    case TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_ACTIVITY_TASK_TIMED_OUT_EVENT_ATTRIBUTES:
        *sched = &e->activity_task_timed_out_event_attributes->scheduled_event_id;
        *started = &e->activity_task_timed_out_event_attributes->started_event_id;
        break;
    case TEMPORAL__API__HISTORY__V1__HISTORY_EVENT__ATTRIBUTES_ACTIVITY_TASK_CANCELED_EVENT_ATTRIBUTES:
        *sched = &e->activity_task_canceled_event_attributes->scheduled_event_id;
        *started = &e->activity_task_canceled_event_attributes->started_event_id;
        break;
    default:
        *sched = *started = NULL;
        break;
    }
}

void td_ms__flush_buffer(td_ms_t *ms, td_ms_txn_t *t)
{
    size_t n = ms->n_buffered;
    td_ms_event_t **ev;
    size_t first_started;

    if (n == 0) {
        return;
    }
    ev = td_arena_alloc(t->arena, n * sizeof(*ev));
    for (size_t i = 0; i < n; i++) {
        ev[i] = td_ms__blob_get(&ms->buffered[i],
                                &temporal__api__history__v1__history_event__descriptor, t->arena);
    }
    td_ms__buffer_clear(ms);
    first_started = t->n_events;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            int64_t *sched, *started;
            if (ev[i] == NULL || is_completion_event(ev[i]->event_type) != pass) {
                continue;
            }
            if (pass == 1) {
                /* Wire the completion to the ActivityTaskStarted flushed just before. */
                completion_ids(ev[i], &sched, &started);
                for (size_t j = first_started; sched && *started == 0 && j < t->n_events; j++) {
                    td_ms_event_t *s = t->events[j];
                    if (s->event_type == TD_MS_ET(ACTIVITY_TASK_STARTED) &&
                        s->activity_task_started_event_attributes->scheduled_event_id == *sched) {
                        *started = s->event_id;
                    }
                }
                wire_child_started(ms, t, first_started, ev[i]);
            }
            append_history(ms, t, ev[i]);
            if (pass == 0) {
                wire_child_started(ms, t, first_started, ev[i]);
            }
        }
    }
}

/* ---- close ---- */

void td_ms__activity_clear(td_ms_activity_t *ai)
{
    td_free(ai->activity_id);
    td_free(ai->activity_type);
    td_free(ai->task_queue);
    td_ms__retry_free(&ai->retry);
    td_free(ai->started_identity);
    td_free(ai->started_request_id);
    td_ms__blob_free(&ai->heartbeat_details);
    td_ms__blob_free(&ai->last_failure);
    td_free(ai->last_worker_identity);
    memset(ai, 0, sizeof(*ai));
}

void td_ms__activity_remove(td_ms_t *ms, int64_t scheduled_id)
{
    for (size_t i = 0; i < ms->n_activities; i++) {
        if (ms->activities[i].scheduled_id == scheduled_id) {
            td_ms__activity_clear(&ms->activities[i]);
            ms->activities[i] = ms->activities[--ms->n_activities];
            return;
        }
    }
}

void td_ms__timer_remove(td_ms_t *ms, const char *timer_id)
{
    for (size_t i = 0; i < ms->n_timers; i++) {
        if (strcmp(ms->timers[i].timer_id, timer_id) == 0) {
            td_free(ms->timers[i].timer_id);
            ms->timers[i] = ms->timers[--ms->n_timers];
            return;
        }
    }
}

void td_ms__child_clear(td_ms_child_t *ci)
{
    td_free(ci->namespace_name);
    td_free(ci->workflow_id);
    td_free(ci->workflow_type);
    td_free(ci->run_id);
    memset(ci, 0, sizeof(*ci));
}

void td_ms__external_clear(td_ms_external_t *x)
{
    td_free(x->namespace_name);
    td_free(x->workflow_id);
    td_free(x->run_id);
    td_free(x->control);
    memset(x, 0, sizeof(*x));
}

void td_ms__child_remove(td_ms_t *ms, int64_t initiated_id)
{
    for (size_t i = 0; i < ms->n_children; i++) {
        if (ms->children[i].initiated_id == initiated_id) {
            td_ms__child_clear(&ms->children[i]);
            ms->children[i] = ms->children[--ms->n_children];
            return;
        }
    }
}

void td_ms__external_remove(td_ms_t *ms, int64_t initiated_id)
{
    for (size_t i = 0; i < ms->n_externals; i++) {
        if (ms->externals[i].initiated_id == initiated_id) {
            td_ms__external_clear(&ms->externals[i]);
            ms->externals[i] = ms->externals[--ms->n_externals];
            return;
        }
    }
}

/* Parent close policy for the started children, then the parent notification (only at the
 * chain's final close: a run continuing into a new one keeps the parent waiting). */
static void close_relations(td_ms_t *ms, td_ms_txn_t *t, int64_t event_id)
{
    td_ms_task_t task = { 0 };

    for (size_t i = 0; i < ms->n_children; i++) {
        const td_ms_child_t *ci = &ms->children[i];
        if (ci->started &&
            ci->parent_close_policy !=
                    TEMPORAL__API__ENUMS__V1__PARENT_CLOSE_POLICY__PARENT_CLOSE_POLICY_ABANDON) {
            memset(&task, 0, sizeof(task));
            task.type = TD_MS_TASK_PARENT_CLOSE_POLICY;
            task.event_id = ci->initiated_id;
            task.target_namespace_id = ms->namespace_id;
            task.target_workflow_id = ci->workflow_id;
            task.target_run_id = ci->run_id;
            task.policy = ci->parent_close_policy;
            td_ms__task_add(t, &task);
        }
    }
    while (ms->n_children > 0) {
        td_ms__child_remove(ms, ms->children[0].initiated_id);
    }
    while (ms->n_externals > 0) {
        td_ms__external_remove(ms, ms->externals[0].initiated_id);
    }
    if (ms->parent_workflow_id != NULL && ms->parent_workflow_id[0] != '\0' &&
        t->next.initiator == 0) {
        memset(&task, 0, sizeof(task));
        task.type = TD_MS_TASK_NOTIFY_PARENT;
        task.event_id = ms->parent_initiated_id;
        task.target_namespace_id = ms->parent_namespace_id;
        task.target_workflow_id = ms->parent_workflow_id;
        task.target_run_id = ms->parent_run_id;
        task.ref_event_id = event_id;
        td_ms__task_add(t, &task);
    }
}

void td_ms__close(td_ms_t *ms, td_ms_txn_t *t, int status, int64_t event_id)
{
    td_ms_task_t task = { 0 };

    ms->state = TD_MS_STATE_COMPLETED;
    ms->status = status;
    ms->completion_event_id = event_id;
    ms->close_time = t->now;
    td_ms__wft_clear(ms);
    while (ms->n_activities > 0) {
        td_ms__activity_remove(ms, ms->activities[0].scheduled_id);
    }
    while (ms->n_timers > 0) {
        td_ms__timer_remove(ms, ms->timers[0].timer_id);
    }
    td_ms__buffer_clear(ms);
    td_free(ms->sticky_task_queue);
    ms->sticky_task_queue = NULL;
    close_relations(ms, t, event_id);
    task.type = TD_MS_TASK_CLOSE_EXECUTION;
    td_ms__task_add(t, &task);
    task.type = TD_MS_TASK_VIS_CLOSE;
    td_ms__task_add(t, &task);
    if (t->retention > 0) {
        task.type = TD_MS_TASK_DELETE_HISTORY;
        task.fire_time = t->now + t->retention;
        td_ms__task_add(t, &task);
    }
}

/* ---- lookup ---- */

td_ms_activity_t *td_ms_activity_find(const td_ms_t *ms, int64_t scheduled_id)
{
    for (size_t i = 0; i < ms->n_activities; i++) {
        if (ms->activities[i].scheduled_id == scheduled_id) {
            return &ms->activities[i];
        }
    }
    return NULL;
}

td_ms_activity_t *td_ms_activity_find_by_id(const td_ms_t *ms, const char *activity_id)
{
    for (size_t i = 0; activity_id && i < ms->n_activities; i++) {
        if (strcmp(ms->activities[i].activity_id, activity_id) == 0) {
            return &ms->activities[i];
        }
    }
    return NULL;
}

td_ms_child_t *td_ms_child_find(const td_ms_t *ms, int64_t initiated_id)
{
    for (size_t i = 0; i < ms->n_children; i++) {
        if (ms->children[i].initiated_id == initiated_id) {
            return &ms->children[i];
        }
    }
    return NULL;
}

td_ms_external_t *td_ms_external_find(const td_ms_t *ms, int64_t initiated_id)
{
    for (size_t i = 0; i < ms->n_externals; i++) {
        if (ms->externals[i].initiated_id == initiated_id) {
            return &ms->externals[i];
        }
    }
    return NULL;
}

td_ms_timer_t *td_ms_timer_find(const td_ms_t *ms, const char *timer_id)
{
    for (size_t i = 0; timer_id && i < ms->n_timers; i++) {
        if (strcmp(ms->timers[i].timer_id, timer_id) == 0) {
            return &ms->timers[i];
        }
    }
    return NULL;
}

/* ---- free ---- */

void td_ms__reset(td_ms_t *ms)
{
    char **strs[] = { &ms->namespace_id,
                      &ms->workflow_id,
                      &ms->run_id,
                      &ms->first_execution_run_id,
                      &ms->workflow_type,
                      &ms->task_queue,
                      &ms->start_request_id,
                      &ms->cancel_request_id,
                      &ms->sticky_task_queue,
                      &ms->cron_schedule,
                      &ms->parent_namespace,
                      &ms->parent_namespace_id,
                      &ms->parent_workflow_id,
                      &ms->parent_run_id,
                      &ms->root_workflow_id,
                      &ms->root_run_id,
                      &ms->reset_run_id };
    for (size_t i = 0; i < TD_ARRAY_LEN(strs); i++) {
        td_free(*strs[i]);
    }
    td_ms__retry_free(&ms->retry_policy);
    td_ms__blob_free(&ms->memo);
    td_ms__blob_free(&ms->search_attributes);
    td_ms__blob_free(&ms->start_attrs);
    td_ms__blob_free(&ms->user_metadata);
    while (ms->n_children > 0) {
        td_ms__child_remove(ms, ms->children[0].initiated_id);
    }
    td_free(ms->children);
    while (ms->n_externals > 0) {
        td_ms__external_remove(ms, ms->externals[0].initiated_id);
    }
    td_free(ms->externals);
    td_ms__update_free_all(ms);
    td_ms__wft_clear(ms);
    while (ms->n_activities > 0) {
        td_ms__activity_remove(ms, ms->activities[0].scheduled_id);
    }
    td_free(ms->activities);
    while (ms->n_timers > 0) {
        td_ms__timer_remove(ms, ms->timers[0].timer_id);
    }
    td_free(ms->timers);
    td_ms__buffer_clear(ms);
    for (size_t i = 0; i < ms->n_signal_request_ids; i++) {
        td_free(ms->signal_request_ids[i]);
    }
    td_free(ms->signal_request_ids);
    memset(ms, 0, sizeof(*ms));
}

void td_ms_free(td_ms_t *ms)
{
    if (ms != NULL) {
        td_ms__reset(ms);
        td_free(ms);
    }
}

/* ---- persisted form ---- */

static pb_retry_t *retry_to_pb(td_arena_t *a, const td_ms_retry_policy_t *p)
{
    pb_retry_t *r = td_ms__pb_new(a, &temporald__history__retry_policy__descriptor);
    r->initial_interval_ns = p->initial_interval;
    r->backoff_coefficient = p->backoff_coefficient;
    r->maximum_interval_ns = p->maximum_interval;
    r->maximum_attempts = p->maximum_attempts;
    r->n_non_retryable_error_types = p->n_non_retryable_error_types;
    r->non_retryable_error_types = p->non_retryable_error_types;
    return r;
}

static void retry_from_pb(td_ms_retry_policy_t *p, const pb_retry_t *r)
{
    memset(p, 0, sizeof(*p));
    if (r == NULL) {
        return;
    }
    p->initial_interval = r->initial_interval_ns;
    p->backoff_coefficient = r->backoff_coefficient;
    p->maximum_interval = r->maximum_interval_ns;
    p->maximum_attempts = r->maximum_attempts;
    if (r->n_non_retryable_error_types > 0) {
        p->n_non_retryable_error_types = r->n_non_retryable_error_types;
        p->non_retryable_error_types = td_calloc(r->n_non_retryable_error_types, sizeof(char *));
        for (size_t i = 0; i < r->n_non_retryable_error_types; i++) {
            p->non_retryable_error_types[i] = td_ms__strdup(r->non_retryable_error_types[i]);
        }
    }
}

static ProtobufCBinaryData bin(const td_ms_blob_t *b)
{
    ProtobufCBinaryData d = { b->len, b->data };
    return d;
}

static char *s_or_empty(char *s)
{
    return s ? s : (char *)"";
}

int td_ms_encode(const td_ms_t *ms, td_arena_t *a, uint8_t **out, size_t *out_len)
{
    pb_ms_t *m = td_ms__pb_new(a, &temporald__history__mutable_state__descriptor);
    pb_exec_t *x = td_ms__pb_new(a, &temporald__history__execution_info__descriptor);
    pb_wft_t *w = td_ms__pb_new(a, &temporald__history__workflow_task_info__descriptor);
    size_t n;

    m->execution = x;
    x->namespace_id = s_or_empty(ms->namespace_id);
    x->workflow_id = s_or_empty(ms->workflow_id);
    x->run_id = s_or_empty(ms->run_id);
    x->first_execution_run_id = s_or_empty(ms->first_execution_run_id);
    x->workflow_type = s_or_empty(ms->workflow_type);
    x->task_queue = s_or_empty(ms->task_queue);
    x->execution_timeout_ns = ms->execution_timeout;
    x->run_timeout_ns = ms->run_timeout;
    x->task_timeout_ns = ms->task_timeout;
    x->has_retry_policy = ms->has_retry_policy;
    x->retry_policy = retry_to_pb(a, &ms->retry_policy);
    x->status = ms->status;
    x->state = (int32_t)ms->state;
    x->start_time_ns = ms->start_time;
    x->execution_expiration_ns = ms->execution_expiration;
    x->run_expiration_ns = ms->run_expiration;
    x->attempt = ms->attempt;
    x->memo = bin(&ms->memo);
    x->search_attributes = bin(&ms->search_attributes);
    x->user_metadata = bin(&ms->user_metadata);
    x->start_request_id = s_or_empty(ms->start_request_id);
    x->cancel_requested = ms->cancel_requested;
    x->cancel_request_id = s_or_empty(ms->cancel_request_id);
    x->close_time_ns = ms->close_time;
    x->completion_event_id = ms->completion_event_id;
    x->sticky_task_queue = s_or_empty(ms->sticky_task_queue);
    x->sticky_schedule_to_start_ns = ms->sticky_schedule_to_start;
    x->first_workflow_task_backoff_ns = ms->first_workflow_task_backoff;
    x->cron_schedule = s_or_empty(ms->cron_schedule);
    x->parent_namespace = s_or_empty(ms->parent_namespace);
    x->parent_namespace_id = s_or_empty(ms->parent_namespace_id);
    x->parent_workflow_id = s_or_empty(ms->parent_workflow_id);
    x->parent_run_id = s_or_empty(ms->parent_run_id);
    x->parent_initiated_id = ms->parent_initiated_id;
    x->root_workflow_id = s_or_empty(ms->root_workflow_id);
    x->root_run_id = s_or_empty(ms->root_run_id);
    x->start_attributes = bin(&ms->start_attrs);
    x->original_start_time_ns = ms->original_start_time;
    x->last_reset_time_ns = ms->last_reset_time;
    x->reset_run_id = s_or_empty(ms->reset_run_id);

    m->workflow_task = w;
    w->scheduled_event_id = ms->wft.scheduled_id;
    w->started_event_id = ms->wft.started_id;
    w->attempt = ms->wft.attempt;
    w->request_id = s_or_empty(ms->wft.request_id);
    w->identity = s_or_empty(ms->wft.identity);
    w->task_queue = s_or_empty(ms->wft.task_queue);
    w->task_queue_kind = ms->wft.task_queue_kind;
    w->start_to_close_ns = ms->wft.start_to_close;
    w->scheduled_time_ns = ms->wft.scheduled_time;
    w->started_time_ns = ms->wft.started_time;
    w->transient = ms->wft.transient;
    w->sticky_schedule_to_start_ns = ms->wft.sticky_schedule_to_start;
    w->original_scheduled_time_ns = ms->wft.original_scheduled_time;

    m->n_activities = ms->n_activities;
    m->activities = td_arena_alloc(a, (ms->n_activities + 1) * sizeof(pb_act_t *));
    for (size_t i = 0; i < ms->n_activities; i++) {
        const td_ms_activity_t *ai = &ms->activities[i];
        pb_act_t *p = td_ms__pb_new(a, &temporald__history__activity_info__descriptor);
        p->scheduled_event_id = ai->scheduled_id;
        p->activity_id = s_or_empty(ai->activity_id);
        p->activity_type = s_or_empty(ai->activity_type);
        p->task_queue = s_or_empty(ai->task_queue);
        p->scheduled_time_ns = ai->scheduled_time;
        p->current_attempt_scheduled_time_ns = ai->current_attempt_scheduled_time;
        p->schedule_to_close_ns = ai->schedule_to_close;
        p->schedule_to_start_ns = ai->schedule_to_start;
        p->start_to_close_ns = ai->start_to_close;
        p->heartbeat_ns = ai->heartbeat;
        p->retry_policy = retry_to_pb(a, &ai->retry);
        p->attempt = ai->attempt;
        p->started = ai->started;
        p->started_time_ns = ai->started_time;
        p->started_identity = s_or_empty(ai->started_identity);
        p->started_request_id = s_or_empty(ai->started_request_id);
        p->last_heartbeat_details = bin(&ai->heartbeat_details);
        p->last_heartbeat_time_ns = ai->last_heartbeat_time;
        p->cancel_requested = ai->cancel_requested;
        p->cancel_requested_event_id = ai->cancel_requested_event_id;
        p->last_failure = bin(&ai->last_failure);
        p->last_worker_identity = s_or_empty(ai->last_worker_identity);
        m->activities[i] = p;
    }
    m->n_timers = ms->n_timers;
    m->timers = td_arena_alloc(a, (ms->n_timers + 1) * sizeof(pb_timer_t *));
    for (size_t i = 0; i < ms->n_timers; i++) {
        pb_timer_t *p = td_ms__pb_new(a, &temporald__history__timer_info__descriptor);
        p->timer_id = ms->timers[i].timer_id;
        p->started_event_id = ms->timers[i].started_id;
        p->expiry_time_ns = ms->timers[i].expiry_time;
        m->timers[i] = p;
    }
    m->n_buffered_events = ms->n_buffered;
    m->buffered_events = td_arena_alloc(a, (ms->n_buffered + 1) * sizeof(ProtobufCBinaryData));
    for (size_t i = 0; i < ms->n_buffered; i++) {
        m->buffered_events[i] = bin(&ms->buffered[i]);
    }
    m->n_signal_request_ids = ms->n_signal_request_ids;
    m->signal_request_ids = ms->signal_request_ids;
    m->next_event_id = ms->next_event_id;
    m->previous_started_event_id = ms->previous_started_event_id;
    m->db_record_version = ms->db_record_version;
    m->last_event_task_id = ms->last_event_task_id;
    m->history_size_bytes = ms->history_size_bytes;
    m->signal_count = ms->signal_count;
    m->n_children = ms->n_children;
    m->children = td_arena_alloc(a, (ms->n_children + 1) * sizeof(pb_child_t *));
    for (size_t i = 0; i < ms->n_children; i++) {
        const td_ms_child_t *ci = &ms->children[i];
        pb_child_t *p = td_ms__pb_new(a, &temporald__history__child_info__descriptor);
        p->initiated_event_id = ci->initiated_id;
        p->started_event_id = ci->started_id;
        p->started = ci->started;
        p->namespace_ = s_or_empty(ci->namespace_name);
        p->workflow_id = s_or_empty(ci->workflow_id);
        p->workflow_type = s_or_empty(ci->workflow_type);
        p->run_id = s_or_empty(ci->run_id);
        p->parent_close_policy = ci->parent_close_policy;
        m->children[i] = p;
    }
    m->n_externals = ms->n_externals;
    m->externals = td_arena_alloc(a, (ms->n_externals + 1) * sizeof(pb_ext_t *));
    for (size_t i = 0; i < ms->n_externals; i++) {
        const td_ms_external_t *xi = &ms->externals[i];
        pb_ext_t *p = td_ms__pb_new(a, &temporald__history__external_info__descriptor);
        p->initiated_event_id = xi->initiated_id;
        p->kind = (int32_t)xi->kind;
        p->namespace_ = s_or_empty(xi->namespace_name);
        p->workflow_id = s_or_empty(xi->workflow_id);
        p->run_id = s_or_empty(xi->run_id);
        p->control = s_or_empty(xi->control);
        m->externals[i] = p;
    }
    td_ms__update_encode(ms, a, m);

    n = temporald__history__mutable_state__get_packed_size(m);
    *out = td_arena_alloc(a, n ? n : 1);
    *out_len = temporald__history__mutable_state__pack(m, *out);
    return TD_OK;
}

static char *dup_nonempty(const char *s)
{
    return (s && s[0]) ? td_strdup(s) : NULL;
}

int td_ms_decode(const uint8_t *buf, size_t len, td_ms_t **out)
{
    int rc = TD_EINVAL;
    pb_ms_t *m = NULL;
    td_ms_t *ms = NULL;
    const pb_exec_t *x;
    const pb_wft_t *w;

    *out = NULL;
    m = temporald__history__mutable_state__unpack(NULL, len, buf);
    if (m == NULL || m->execution == NULL || m->workflow_task == NULL || m->next_event_id < 1) {
        goto out;
    }
    x = m->execution;
    w = m->workflow_task;
    if (x->state != TD_MS_STATE_RUNNING && x->state != TD_MS_STATE_COMPLETED) {
        goto out;
    }
    ms = td_calloc(1, sizeof(*ms));
    ms->namespace_id = td_ms__strdup(x->namespace_id);
    ms->workflow_id = td_ms__strdup(x->workflow_id);
    ms->run_id = td_ms__strdup(x->run_id);
    ms->first_execution_run_id = td_ms__strdup(x->first_execution_run_id);
    ms->workflow_type = td_ms__strdup(x->workflow_type);
    ms->task_queue = td_ms__strdup(x->task_queue);
    ms->execution_timeout = x->execution_timeout_ns;
    ms->run_timeout = x->run_timeout_ns;
    ms->task_timeout = x->task_timeout_ns;
    ms->has_retry_policy = x->has_retry_policy;
    retry_from_pb(&ms->retry_policy, x->retry_policy);
    ms->status = x->status;
    ms->state = (td_ms_state_t)x->state;
    ms->start_time = x->start_time_ns;
    ms->execution_expiration = x->execution_expiration_ns;
    ms->run_expiration = x->run_expiration_ns;
    ms->attempt = x->attempt;
    blob_set_bytes(&ms->memo, x->memo.data, x->memo.len);
    blob_set_bytes(&ms->search_attributes, x->search_attributes.data, x->search_attributes.len);
    blob_set_bytes(&ms->user_metadata, x->user_metadata.data, x->user_metadata.len);
    ms->start_request_id = td_ms__strdup(x->start_request_id);
    ms->cancel_requested = x->cancel_requested;
    ms->cancel_request_id = td_ms__strdup(x->cancel_request_id);
    ms->close_time = x->close_time_ns;
    ms->completion_event_id = x->completion_event_id;
    ms->sticky_task_queue = dup_nonempty(x->sticky_task_queue);
    ms->sticky_schedule_to_start = x->sticky_schedule_to_start_ns;
    ms->first_workflow_task_backoff = x->first_workflow_task_backoff_ns;
    ms->cron_schedule = td_ms__strdup(x->cron_schedule);
    ms->parent_namespace = dup_nonempty(x->parent_namespace);
    ms->parent_namespace_id = dup_nonempty(x->parent_namespace_id);
    ms->parent_workflow_id = dup_nonempty(x->parent_workflow_id);
    ms->parent_run_id = dup_nonempty(x->parent_run_id);
    ms->parent_initiated_id = x->parent_initiated_id;
    ms->root_workflow_id = dup_nonempty(x->root_workflow_id);
    ms->root_run_id = dup_nonempty(x->root_run_id);
    blob_set_bytes(&ms->start_attrs, x->start_attributes.data, x->start_attributes.len);
    ms->original_start_time = x->original_start_time_ns;
    ms->last_reset_time = x->last_reset_time_ns;
    ms->reset_run_id = dup_nonempty(x->reset_run_id);

    ms->wft.scheduled_id = w->scheduled_event_id;
    ms->wft.started_id = w->started_event_id;
    ms->wft.attempt = w->attempt;
    ms->wft.transient = w->transient;
    if (w->scheduled_event_id != 0) {
        ms->wft.request_id = td_ms__strdup(w->request_id);
        ms->wft.identity = td_ms__strdup(w->identity);
        ms->wft.task_queue = td_ms__strdup(w->task_queue);
    }
    ms->wft.task_queue_kind = w->task_queue_kind;
    ms->wft.start_to_close = w->start_to_close_ns;
    ms->wft.scheduled_time = w->scheduled_time_ns;
    ms->wft.started_time = w->started_time_ns;
    ms->wft.sticky_schedule_to_start = w->sticky_schedule_to_start_ns;
    ms->wft.original_scheduled_time = w->original_scheduled_time_ns;

    ms->activities = td_calloc(m->n_activities + 1, sizeof(*ms->activities));
    for (size_t i = 0; i < m->n_activities; i++) {
        const pb_act_t *p = m->activities[i];
        td_ms_activity_t *ai = &ms->activities[ms->n_activities++];
        ai->scheduled_id = p->scheduled_event_id;
        ai->activity_id = td_ms__strdup(p->activity_id);
        ai->activity_type = td_ms__strdup(p->activity_type);
        ai->task_queue = td_ms__strdup(p->task_queue);
        ai->scheduled_time = p->scheduled_time_ns;
        ai->current_attempt_scheduled_time = p->current_attempt_scheduled_time_ns;
        ai->schedule_to_close = p->schedule_to_close_ns;
        ai->schedule_to_start = p->schedule_to_start_ns;
        ai->start_to_close = p->start_to_close_ns;
        ai->heartbeat = p->heartbeat_ns;
        retry_from_pb(&ai->retry, p->retry_policy);
        ai->attempt = p->attempt;
        ai->started = p->started;
        ai->started_time = p->started_time_ns;
        ai->started_identity = td_ms__strdup(p->started_identity);
        ai->started_request_id = td_ms__strdup(p->started_request_id);
        blob_set_bytes(&ai->heartbeat_details, p->last_heartbeat_details.data,
                       p->last_heartbeat_details.len);
        ai->last_heartbeat_time = p->last_heartbeat_time_ns;
        ai->cancel_requested = p->cancel_requested;
        ai->cancel_requested_event_id = p->cancel_requested_event_id;
        blob_set_bytes(&ai->last_failure, p->last_failure.data, p->last_failure.len);
        ai->last_worker_identity = td_ms__strdup(p->last_worker_identity);
    }
    ms->timers = td_calloc(m->n_timers + 1, sizeof(*ms->timers));
    for (size_t i = 0; i < m->n_timers; i++) {
        td_ms_timer_t *ti = &ms->timers[ms->n_timers++];
        ti->timer_id = td_ms__strdup(m->timers[i]->timer_id);
        ti->started_id = m->timers[i]->started_event_id;
        ti->expiry_time = m->timers[i]->expiry_time_ns;
    }
    if (m->n_buffered_events > 0) {
        ms->buffered = td_calloc(m->n_buffered_events, sizeof(*ms->buffered));
        for (size_t i = 0; i < m->n_buffered_events; i++) {
            blob_set_bytes(&ms->buffered[i], m->buffered_events[i].data, m->buffered_events[i].len);
        }
        ms->n_buffered = m->n_buffered_events;
    }
    if (m->n_signal_request_ids > 0) {
        ms->signal_request_ids = td_calloc(m->n_signal_request_ids, sizeof(char *));
        for (size_t i = 0; i < m->n_signal_request_ids; i++) {
            ms->signal_request_ids[i] = td_ms__strdup(m->signal_request_ids[i]);
        }
        ms->n_signal_request_ids = m->n_signal_request_ids;
    }
    ms->next_event_id = m->next_event_id;
    ms->previous_started_event_id = m->previous_started_event_id;
    ms->db_record_version = m->db_record_version;
    ms->last_event_task_id = m->last_event_task_id;
    ms->history_size_bytes = m->history_size_bytes;
    ms->signal_count = m->signal_count;
    ms->children = td_calloc(m->n_children + 1, sizeof(*ms->children));
    for (size_t i = 0; i < m->n_children; i++) {
        const pb_child_t *p = m->children[i];
        td_ms_child_t *ci = &ms->children[ms->n_children++];
        ci->initiated_id = p->initiated_event_id;
        ci->started_id = p->started_event_id;
        ci->started = p->started;
        ci->namespace_name = td_ms__strdup(p->namespace_);
        ci->workflow_id = td_ms__strdup(p->workflow_id);
        ci->workflow_type = td_ms__strdup(p->workflow_type);
        ci->run_id = td_ms__strdup(p->run_id);
        ci->parent_close_policy = p->parent_close_policy;
    }
    ms->externals = td_calloc(m->n_externals + 1, sizeof(*ms->externals));
    for (size_t i = 0; i < m->n_externals; i++) {
        const pb_ext_t *p = m->externals[i];
        td_ms_external_t *xi = &ms->externals[ms->n_externals++];
        xi->initiated_id = p->initiated_event_id;
        xi->kind = (td_ms_external_kind_t)p->kind;
        xi->namespace_name = td_ms__strdup(p->namespace_);
        xi->workflow_id = td_ms__strdup(p->workflow_id);
        xi->run_id = td_ms__strdup(p->run_id);
        xi->control = td_ms__strdup(p->control);
    }
    td_ms__update_decode(ms, m);
    *out = ms;
    ms = NULL;
    rc = TD_OK;
out:
    td_ms_free(ms);
    if (m != NULL) {
        temporald__history__mutable_state__free_unpacked(m, NULL);
    }
    return rc;
}

int td_ms_task_encode(const td_ms_task_t *task, td_arena_t *a, uint8_t **out, size_t *len)
{
    Temporald__History__Task *p = td_ms__pb_new(a, &temporald__history__task__descriptor);
    size_t n;

    p->type = task->type;
    p->fire_time_ns = task->fire_time;
    p->event_id = task->event_id;
    p->attempt = task->attempt;
    p->timeout_type = task->timeout_type;
    p->task_queue = (char *)td_ms__astr(a, task->task_queue);
    p->task_queue_kind = task->task_queue_kind;
    p->schedule_to_start_ns = task->schedule_to_start;
    p->timer_id = (char *)td_ms__astr(a, task->timer_id);
    p->target_namespace_id = (char *)td_ms__astr(a, task->target_namespace_id);
    p->target_workflow_id = (char *)td_ms__astr(a, task->target_workflow_id);
    p->target_run_id = (char *)td_ms__astr(a, task->target_run_id);
    p->policy = task->policy;
    p->ref_event_id = task->ref_event_id;
    n = temporald__history__task__get_packed_size(p);
    *out = td_arena_alloc(a, n ? n : 1);
    *len = temporald__history__task__pack(p, *out);
    return TD_OK;
}

int td_ms_task_decode(const uint8_t *buf, size_t len, td_arena_t *a, td_ms_task_t *out)
{
    Temporald__History__Task *p = temporald__history__task__unpack(td_arena_pb(a), len, buf);

    memset(out, 0, sizeof(*out));
    if (p == NULL || p->type <= 0 || p->type > TD_MS_TASK_VIS_CLOSE) {
        return TD_EINVAL;
    }
    out->type = (td_ms_task_type_t)p->type;
    out->fire_time = p->fire_time_ns;
    out->event_id = p->event_id;
    out->attempt = p->attempt;
    out->timeout_type = p->timeout_type;
    out->task_queue = p->task_queue[0] ? p->task_queue : NULL;
    out->task_queue_kind = p->task_queue_kind;
    out->schedule_to_start = p->schedule_to_start_ns;
    out->timer_id = p->timer_id[0] ? p->timer_id : NULL;
    out->target_namespace_id = p->target_namespace_id[0] ? p->target_namespace_id : NULL;
    out->target_workflow_id = p->target_workflow_id[0] ? p->target_workflow_id : NULL;
    out->target_run_id = p->target_run_id[0] ? p->target_run_id : NULL;
    out->policy = p->policy;
    out->ref_event_id = p->ref_event_id;
    return TD_OK;
}
