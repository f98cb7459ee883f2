/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An in-memory implementation of td_match_backlog_ops_t: one row per partition (range_id,
 * ack level) and its tasks, kept sorted by id. It behaves like the store would (range_id
 * fencing, all-or-nothing inserts, completions posted back to the loop) so the matching
 * engine can be tested without a database, and it injects failures on request. It persists
 * nothing across processes; the store adapter replaces it in a real server.
 */
#include "roles/matching/engine.h"

#include <string.h>

#include "error.h"
#include "mem.h"
#include "roles/matching/match_task.h"

enum { TD_MB_LEASE, TD_MB_INSERT, TD_MB_READ, TD_MB_COMPLETE, TD_MB_NOPS };

static const char *const td_mb_op_names[TD_MB_NOPS] = { "lease", "insert", "read", "complete" };

typedef struct td_mb_queue_s {
    struct td_mb_queue_s *next;
    char *key;
    int64_t range_id;
    int64_t ack_level;
    td_match_task_t **tasks; /* sorted by task_id */
    int n, cap;
} td_mb_queue_t;

struct td_match_membacklog_s {
    td_loop_t *loop;
    td_mb_queue_t *queues;
    int fail_err[TD_MB_NOPS];
    int fail_count[TD_MB_NOPS];
    int calls[TD_MB_NOPS];
};

/* A completion waiting to be delivered on the loop. */
typedef struct {
    int op;
    int err;
    int64_t range_id, ack_level;
    td_match_task_t **tasks; /* read results (copies, freed after cb) */
    int n;
    union {
        td_match_lease_cb lease;
        td_match_done_cb done;
        td_match_read_cb read;
    } cb;
    void *arg;
} td_mb_done_t;

static int td_mb_op_index(const char *op)
{
    for (int i = 0; i < TD_MB_NOPS; i++) {
        if (strcmp(td_mb_op_names[i], op) == 0) {
            return i;
        }
    }
    return -1;
}

static td_mb_queue_t *td_mb_find(td_match_membacklog_t *m, const td_match_key_t *key, int create)
{
    char *k = td_match__key_str(key);
    td_mb_queue_t *q;

    for (q = m->queues; q != NULL; q = q->next) {
        if (strcmp(q->key, k) == 0) {
            break;
        }
    }
    if (q == NULL && create) {
        q = td_calloc(1, sizeof(*q));
        q->key = k;
        k = NULL;
        q->next = m->queues;
        m->queues = q;
    }
    td_free(k);
    return q;
}

/* Consumes one injected failure of op, if any. */
static int td_mb_injected(td_match_membacklog_t *m, int op)
{
    m->calls[op]++;
    if (m->fail_count[op] > 0) {
        m->fail_count[op]--;
        return m->fail_err[op];
    }
    return TD_OK;
}

static void td_mb_deliver(void *arg)
{
    td_mb_done_t *d = arg;
    switch (d->op) {
    case TD_MB_LEASE:
        d->cb.lease(d->arg, d->err, d->range_id, d->ack_level);
        break;
    case TD_MB_READ: {
        td_match_task_t *views = td_calloc((size_t)d->n + 1, sizeof(*views));
        for (int i = 0; i < d->n; i++) {
            views[i] = *d->tasks[i];
        }
        d->cb.read(d->arg, d->err, views, d->n);
        td_free(views);
        for (int i = 0; i < d->n; i++) {
            td_free(d->tasks[i]);
        }
        td_free(d->tasks);
        break;
    }
    default:
        d->cb.done(d->arg, d->err);
        break;
    }
    td_free(d);
}

static void td_mb_finish(td_match_membacklog_t *m, td_mb_done_t *d)
{
    if (m->loop != NULL) {
        td_loop_post(m->loop, td_mb_deliver, d);
    } else {
        td_mb_deliver(d);
    }
}

static void td_mb_lease(void *ctx, const td_match_key_t *key, td_match_lease_cb cb, void *arg)
{
    td_match_membacklog_t *m = ctx;
    td_mb_done_t *d = td_calloc(1, sizeof(*d));
    td_mb_queue_t *q;

    d->op = TD_MB_LEASE;
    d->cb.lease = cb;
    d->arg = arg;
    d->err = td_mb_injected(m, TD_MB_LEASE);
    if (d->err == TD_OK) {
        q = td_mb_find(m, key, 1);
        q->range_id++;
        d->range_id = q->range_id;
        d->ack_level = q->ack_level;
    }
    td_mb_finish(m, d);
}

static void td_mb_insert(void *ctx, const td_match_key_t *key, int64_t range_id,
                         const td_match_task_t *tasks, int n, td_match_done_cb cb, void *arg)
{
    td_match_membacklog_t *m = ctx;
    td_mb_done_t *d = td_calloc(1, sizeof(*d));
    td_mb_queue_t *q = td_mb_find(m, key, 0);

    d->op = TD_MB_INSERT;
    d->cb.done = cb;
    d->arg = arg;
    d->err = td_mb_injected(m, TD_MB_INSERT);
    if (d->err == TD_OK && (q == NULL || q->range_id != range_id)) {
        d->err = TD_ECONDITION;
    }
    if (d->err == TD_OK) {
        if (q->n + n > q->cap) {
            q->cap = (q->n + n) * 2 + 16;
            q->tasks = td_realloc(q->tasks, (size_t)q->cap * sizeof(*q->tasks));
        }
        for (int i = 0; i < n; i++) {
            int at = q->n;
            /* ids normally arrive ascending; keep the array sorted regardless */
            while (at > 0 && q->tasks[at - 1]->task_id > tasks[i].task_id) {
                at--;
            }
            memmove(&q->tasks[at + 1], &q->tasks[at], (size_t)(q->n - at) * sizeof(*q->tasks));
            q->tasks[at] = td_match__task_dup(&tasks[i]);
            q->n++;
        }
    }
    td_mb_finish(m, d);
}

static void td_mb_read(void *ctx, const td_match_key_t *key, int64_t min_id, int64_t max_id,
                       int limit, td_match_read_cb cb, void *arg)
{
    td_match_membacklog_t *m = ctx;
    td_mb_done_t *d = td_calloc(1, sizeof(*d));
    td_mb_queue_t *q = td_mb_find(m, key, 0);

    d->op = TD_MB_READ;
    d->cb.read = cb;
    d->arg = arg;
    d->err = td_mb_injected(m, TD_MB_READ);
    if (d->err == TD_OK && q != NULL) {
        d->tasks = td_calloc((size_t)(limit > 0 ? limit : 1), sizeof(*d->tasks));
        for (int i = 0; i < q->n && d->n < limit; i++) {
            if (q->tasks[i]->task_id > min_id && q->tasks[i]->task_id <= max_id) {
                d->tasks[d->n++] = td_match__task_dup(q->tasks[i]);
            }
        }
    }
    td_mb_finish(m, d);
}

static void td_mb_complete(void *ctx, const td_match_key_t *key, int64_t range_id,
                           int64_t ack_level, td_match_done_cb cb, void *arg)
{
    td_match_membacklog_t *m = ctx;
    td_mb_done_t *d = td_calloc(1, sizeof(*d));
    td_mb_queue_t *q = td_mb_find(m, key, 0);

    d->op = TD_MB_COMPLETE;
    d->cb.done = cb;
    d->arg = arg;
    d->err = td_mb_injected(m, TD_MB_COMPLETE);
    if (d->err == TD_OK && (q == NULL || q->range_id != range_id)) {
        d->err = TD_ECONDITION;
    }
    if (d->err == TD_OK) {
        int keep = 0;
        if (ack_level > q->ack_level) {
            q->ack_level = ack_level;
        }
        for (int i = 0; i < q->n; i++) {
            if (q->tasks[i]->task_id <= ack_level) {
                td_free(q->tasks[i]);
            } else {
                q->tasks[keep++] = q->tasks[i];
            }
        }
        q->n = keep;
    }
    td_mb_finish(m, d);
}

const td_match_backlog_ops_t td_match_membacklog_ops = {
    .lease = td_mb_lease,
    .insert = td_mb_insert,
    .read = td_mb_read,
    .complete = td_mb_complete,
};

td_match_membacklog_t *td_match_membacklog_new(td_loop_t *loop)
{
    td_match_membacklog_t *m = td_calloc(1, sizeof(*m));
    m->loop = loop;
    return m;
}

void td_match_membacklog_free(td_match_membacklog_t *m)
{
    td_mb_queue_t *q;
    if (m == NULL) {
        return;
    }
    while ((q = m->queues) != NULL) {
        m->queues = q->next;
        for (int i = 0; i < q->n; i++) {
            td_free(q->tasks[i]);
        }
        td_free(q->tasks);
        td_free(q->key);
        td_free(q);
    }
    td_free(m);
}

void td_match_membacklog_fail(td_match_membacklog_t *m, const char *op, int err, int count)
{
    int i = td_mb_op_index(op);
    if (i >= 0) {
        m->fail_err[i] = err;
        m->fail_count[i] = count;
    }
}

int td_match_membacklog_count(td_match_membacklog_t *m, const td_match_key_t *key)
{
    td_mb_queue_t *q = td_mb_find(m, key, 0);
    return q != NULL ? q->n : 0;
}

int64_t td_match_membacklog_ack_level(td_match_membacklog_t *m, const td_match_key_t *key)
{
    td_mb_queue_t *q = td_mb_find(m, key, 0);
    return q != NULL ? q->ack_level : 0;
}

int64_t td_match_membacklog_range_id(td_match_membacklog_t *m, const td_match_key_t *key)
{
    td_mb_queue_t *q = td_mb_find(m, key, 0);
    return q != NULL ? q->range_id : 0;
}

int td_match_membacklog_calls(td_match_membacklog_t *m, const char *op)
{
    int i = td_mb_op_index(op);
    return i >= 0 ? m->calls[i] : 0;
}
