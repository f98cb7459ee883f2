/* SPDX-License-Identifier: Apache-2.0 */
/*
 * History shards: which shard owns a workflow, taking ownership of each shard in the store
 * (range_id fencing), allocating task ids from the owned range, the pending-task lists that
 * give the ack levels, the timer heap, and reading back the tasks a previous owner left
 * (restart). It does not run tasks (hist_queue.c) nor transitions (hist_ctx.c). Loop thread
 * only; called by the other hist_*.c files. Design notes on shard and task states: hist_int.h.
 */
#define TD_LOG_COMPONENT "history"

#include <stdio.h>
#include <string.h>

#include "backoff.h"
#include "cluster/membership.h"
#include "cluster/ring.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "roles/history/hist_int.h"
#include "roles/svc.h"

/* The ack levels are flushed to the store (tasks below them deleted) this often. */
#define TD_HIST_ACK_MS 1000
/* A failed acquisition is retried after 100 ms doubling to 5 s (backoff.h). */
#define TD_HIST_RETRY_ACQ_MIN 100
#define TD_HIST_RETRY_ACQ_MAX 5000
#define TD_HIST_RECONCILE_MS  10000
/* With a ring, the first reconcile waits this long, so that peers already up are in the
 * membership (SWIM syncs on join) and the process does not take shards for a moment only to
 * hand them back. */
#define TD_HIST_JOIN_DELAY_MS 1500

/*
 * Workflow -> shard: 32-bit FNV-1a over namespace_id, one zero byte, workflow_id; shard id =
 * hash % shard_count + 1 (shard ids are 1..N as in Temporal). This function must never change
 * for an existing cluster: every execution row lives on the shard it names.
 */
uint32_t td_hist__hash(const char *namespace_id, const char *workflow_id)
{
    uint32_t h = 2166136261u;
    const unsigned char *p;

    for (p = (const unsigned char *)namespace_id; *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    h = (h ^ 0) * 16777619u;
    for (p = (const unsigned char *)workflow_id; *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h;
}

td_hist_shard_t *td_hist__shard_for(td_hist_t *h, const char *namespace_id, const char *workflow_id)
{
    uint32_t x = td_hist__hash(namespace_id ? namespace_id : "", workflow_id ? workflow_id : "");
    return &h->shards[x % (uint32_t)h->nshards];
}

static void td_hist_shard_acquire(td_hist_shard_t *s);

/* Takes a fresh range once no write names the old one. */
static void td_hist_shard_renew(td_hist_shard_t *s)
{
    if (s->state == TD_HIST_SHARD_OWNED) {
        td_log_info("shard %d: task ids of range %lld used up; taking a new range", s->id,
                    (long long)s->range_id);
        s->state = TD_HIST_SHARD_RENEWING;
    }
    if (s->state == TD_HIST_SHARD_RENEWING && s->writes_inflight == 0 &&
        !td_timer_pending(s->acquire_timer) && !s->acquire_inflight) {
        td_hist_shard_acquire(s);
    }
}

void td_hist__shard_write_done(td_hist_shard_t *s)
{
    s->writes_inflight--;
    if (s->state == TD_HIST_SHARD_RENEWING) {
        td_hist_shard_renew(s);
    }
}

int td_hist__task_id(td_hist_shard_t *s, int64_t *out)
{
    if (s->next_seq > TD_HIST_SEQ_MAX) {
        td_hist_shard_renew(s);
        return TD_EUNAVAIL;
    }
    *out = (s->range_id << TD_HIST_SEQ_BITS) | s->next_seq++;
    return TD_OK;
}

/* ---- pending lists ---- */

static void td_hist_pending_add(td_hist_task_t *task)
{
    td_hist_shard_t *s = task->shard;
    int c = task->category;

    task->prev = NULL;
    task->next = s->pending[c];
    if (s->pending[c] != NULL) {
        s->pending[c]->prev = task;
    }
    s->pending[c] = task;
    s->n_pending[c]++;
}

static void td_hist_pending_remove(td_hist_task_t *task)
{
    td_hist_shard_t *s = task->shard;
    int c = task->category;

    if (task->prev != NULL) {
        task->prev->next = task->next;
    } else {
        s->pending[c] = task->next;
    }
    if (task->next != NULL) {
        task->next->prev = task->prev;
    }
    task->prev = task->next = NULL;
    s->n_pending[c]--;
}

/* ---- timer heap, ordered by (fire_ns, task_id) ---- */

static int td_hist_heap_less(const td_hist_task_t *a, const td_hist_task_t *b)
{
    return a->fire_ns < b->fire_ns || (a->fire_ns == b->fire_ns && a->task_id < b->task_id);
}

static void td_hist_heap_swap(td_hist_shard_t *s, size_t i, size_t j)
{
    td_hist_task_t *t = s->heap[i];
    s->heap[i] = s->heap[j];
    s->heap[j] = t;
    s->heap[i]->heap_idx = i;
    s->heap[j]->heap_idx = j;
}

static void td_hist_heap_up(td_hist_shard_t *s, size_t i)
{
    while (i > 0 && td_hist_heap_less(s->heap[i], s->heap[(i - 1) / 2])) {
        td_hist_heap_swap(s, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void td_hist_heap_down(td_hist_shard_t *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n_heap && td_hist_heap_less(s->heap[l], s->heap[m])) {
            m = l;
        }
        if (r < s->n_heap && td_hist_heap_less(s->heap[r], s->heap[m])) {
            m = r;
        }
        if (m == i) {
            return;
        }
        td_hist_heap_swap(s, i, m);
        i = m;
    }
}

void td_hist__heap_push(td_hist_shard_t *s, td_hist_task_t *task);
td_hist_task_t *td_hist__heap_pop_due(td_hist_shard_t *s, int64_t now_ns, int64_t *next_ns);

void td_hist__heap_push(td_hist_shard_t *s, td_hist_task_t *task)
{
    if (s->n_heap == s->cap_heap) {
        s->cap_heap = s->cap_heap ? s->cap_heap * 2 : 64;
        s->heap = td_realloc(s->heap, s->cap_heap * sizeof(*s->heap));
    }
    task->heap_idx = s->n_heap;
    task->on_heap = 1;
    s->heap[s->n_heap++] = task;
    td_hist_heap_up(s, task->heap_idx);
}

static void td_hist_heap_remove(td_hist_shard_t *s, td_hist_task_t *task)
{
    size_t i = task->heap_idx;

    task->on_heap = 0;
    s->n_heap--;
    if (i != s->n_heap) {
        s->heap[i] = s->heap[s->n_heap];
        s->heap[i]->heap_idx = i;
        td_hist_heap_down(s, i);
        td_hist_heap_up(s, i);
    }
}

/* Pops the earliest timer if it is due; else NULL and *next_ns = its fire time (0: none). */
td_hist_task_t *td_hist__heap_pop_due(td_hist_shard_t *s, int64_t now_ns, int64_t *next_ns)
{
    td_hist_task_t *t;

    *next_ns = 0;
    if (s->n_heap == 0) {
        return NULL;
    }
    t = s->heap[0];
    if (t->fire_ns > now_ns) {
        *next_ns = t->fire_ns;
        return NULL;
    }
    td_hist_heap_remove(s, t);
    return t;
}

/* ---- tasks ---- */

td_hist_task_t *td_hist__task_alloc(td_hist_shard_t *s, const td_ms_task_t *t, int64_t task_id,
                                    const char *ns, const char *wf, const char *run,
                                    const char *normal_tq)
{
    td_hist_task_t *task = td_calloc(1, sizeof(*task));

    task->shard = s;
    task->category = (int)td_ms_task_category(t->type);
    task->state = TD_HIST_TASK_INFLIGHT;
    task->task_id = task_id;
    task->fire_ns = task->category == TD_STORE_TASK_TIMER ? t->fire_time : 0;
    task->namespace_id = td_strdup(ns);
    task->workflow_id = td_strdup(wf);
    task->run_id = td_strdup(run);
    task->normal_tq = td_strdup(normal_tq ? normal_tq : "");
    task->t = *t;
    task->t.task_queue = t->task_queue ? td_strdup(t->task_queue) : NULL;
    task->t.timer_id = t->timer_id ? td_strdup(t->timer_id) : NULL;
    task->t.target_namespace_id = t->target_namespace_id ? td_strdup(t->target_namespace_id) : NULL;
    task->t.target_workflow_id = t->target_workflow_id ? td_strdup(t->target_workflow_id) : NULL;
    task->t.target_run_id = t->target_run_id ? td_strdup(t->target_run_id) : NULL;
    td_hist_pending_add(task);
    return task;
}

static void td_hist_task_free(td_hist_task_t *task)
{
    td_timer_free(task->retry_timer);
    td_free(task->namespace_id);
    td_free(task->workflow_id);
    td_free(task->run_id);
    td_free(task->normal_tq);
    td_free((char *)task->t.task_queue);
    td_free((char *)task->t.timer_id);
    td_free((char *)task->t.target_namespace_id);
    td_free((char *)task->t.target_workflow_id);
    td_free((char *)task->t.target_run_id);
    td_free(task);
}

/*
 * Stored task blob: four strings (namespace_id, workflow_id, run_id, the run's normal task
 * queue), each a 2-byte big-endian length then the bytes, followed by the td_ms_task_encode
 * bytes. The ms task carries no workflow identity; the queue needs it to re-drive the task
 * after a restart.
 */
void td_hist__task_blob(td_hist_task_t *task, td_arena_t *a, td_store_blob_t *out)
{
    const char *s3[4] = { task->namespace_id, task->workflow_id, task->run_id, task->normal_tq };
    uint8_t *enc = NULL, *buf, *p;
    size_t enc_len = 0, n = 0;

    td_ms_task_encode(&task->t, a, &enc, &enc_len);
    for (int i = 0; i < 4; i++) {
        n += 2 + strlen(s3[i]);
    }
    buf = p = td_arena_alloc(a, n + enc_len);
    for (int i = 0; i < 4; i++) {
        size_t l = strlen(s3[i]);
        *p++ = (uint8_t)(l >> 8);
        *p++ = (uint8_t)l;
        memcpy(p, s3[i], l);
        p += l;
    }
    memcpy(p, enc, enc_len);
    out->data = buf;
    out->len = n + enc_len;
    out->encoding = TD_STORE_ENC_PROTO3;
}

/* Parses a stored task; NULL when malformed. */
static td_hist_task_t *td_hist_task_parse(td_hist_shard_t *s, const td_store_task_t *st,
                                          td_arena_t *a)
{
    const uint8_t *p = st->blob.data, *end = p + st->blob.len;
    char *s3[4];
    td_ms_task_t mt;
    td_hist_task_t *task;

    for (int i = 0; i < 4; i++) {
        size_t l;
        if (end - p < 2) {
            return NULL;
        }
        l = ((size_t)p[0] << 8) | p[1];
        p += 2;
        if ((size_t)(end - p) < l) {
            return NULL;
        }
        s3[i] = td_arena_strndup(a, (const char *)p, l);
        p += l;
    }
    if (td_ms_task_decode(p, (size_t)(end - p), a, &mt) != TD_OK) {
        return NULL;
    }
    task = td_hist__task_alloc(s, &mt, st->task_id, s3[0], s3[1], s3[2], s3[3]);
    task->fire_ns = st->category == TD_STORE_TASK_TIMER ? st->fire_time_ns : 0;
    return task;
}

void td_hist__tasks_committed(td_hist_task_t **v, int n)
{
    for (int i = 0; i < n; i++) {
        v[i]->state = TD_HIST_TASK_READY;
        td_hist__task_dispatch(v[i]);
    }
}

void td_hist__tasks_abort(td_hist_task_t **v, int n)
{
    for (int i = 0; i < n; i++) {
        td_hist_pending_remove(v[i]);
        td_hist_task_free(v[i]);
    }
}

void td_hist__task_ack(td_hist_task_t *task)
{
    td_hist_shard_t *s = task->shard;

    if (task->on_heap) {
        td_hist_heap_remove(s, task);
    }
    td_hist_pending_remove(task);
    td_hist_task_free(task);
    if (s->ack_timer != NULL && !td_timer_pending(s->ack_timer)) {
        td_timer_start(s->ack_timer, TD_HIST_ACK_MS);
    }
}

/* ---- ack-level flush ---- */

typedef struct {
    td_hist_shard_t *s;
    int c;
    int64_t id, fire;
} td_hist_ack_t;

static void td_hist_ack_done(td_store_req_t *req, void *arg)
{
    td_hist_ack_t *a = arg;
    td_hist_shard_t *s = a->s;

    s->h->inflight--;
    s->ack_inflight[a->c] = 0;
    if (req->rc == TD_OK) {
        s->acked_id[a->c] = a->id;
        s->acked_fire[a->c] = a->fire;
        s->ack_failures = 0;
    } else {
        int n = s->ack_failures++;
        if ((n & (n - 1)) == 0) {
            td_log_warn("shard %d: deleting acknowledged tasks failed: %s", s->id, req->err);
        }
        /* tried again with backoff even when no new acknowledgement re-arms the flush */
        if (s->h->running && s->ack_timer != NULL && !td_timer_pending(s->ack_timer)) {
            td_timer_start(s->ack_timer,
                           td_backoff_delay(TD_HIST_ACK_MS, TD_HIST_RETRY_ACQ_MAX * 6, n));
        }
    }
    td_free(a);
    td_store_req_free(req);
}

static void td_hist_ack_flush(void *arg)
{
    td_hist_shard_t *s = arg;

    if (s->state != TD_HIST_SHARD_OWNED) {
        return; /* (RENEWING: after the new range; the timer is re-armed by the next ack) */
    }
    for (int c = 1; c < TD_HIST_NCAT; c++) {
        int64_t id = (s->range_id << TD_HIST_SEQ_BITS) | s->next_seq, fire = INT64_MAX;
        td_hist_ack_t *a;
        td_store_req_t *req;

        if (s->ack_inflight[c]) {
            continue;
        }
        for (td_hist_task_t *t = s->pending[c]; t != NULL; t = t->next) {
            if (c == TD_STORE_TASK_TIMER) {
                if (t->fire_ns < fire || (t->fire_ns == fire && t->task_id < id)) {
                    fire = t->fire_ns;
                    id = t->task_id;
                }
            } else if (t->task_id < id) {
                id = t->task_id;
            }
        }
        if (c == TD_STORE_TASK_TIMER && s->n_pending[c] == 0) {
            id = 0;
        }
        if (id == s->acked_id[c] && fire == s->acked_fire[c]) {
            continue;
        }
        a = td_calloc(1, sizeof(*a));
        a->s = s;
        a->c = c;
        a->id = id;
        a->fire = fire;
        req = td_store_req_new(TD_STORE_OP_TASKS_DELETE);
        req->in.tasks_del.shard_id = s->id;
        req->in.tasks_del.category = c;
        req->in.tasks_del.ack_task_id = id;
        req->in.tasks_del.ack_fire_ns = fire;
        req->cb = td_hist_ack_done;
        req->arg = a;
        s->ack_inflight[c] = 1;
        s->h->inflight++;
        td_store_submit(s->h->store, req);
    }
}

/* ---- acquire and restart ---- */

/* The acquire retry timer: acquire still, unless the ring moved the shard meanwhile. */
static void td_hist_acquire_retry(void *arg)
{
    td_hist_shard_t *s = arg;

    if (s->state == TD_HIST_SHARD_RENEWING) {
        td_hist_shard_acquire(s);
    } else {
        td_hist__shards_reconcile(s->h);
    }
}

static void td_hist_shard_ready(td_hist_shard_t *s)
{
    s->state = TD_HIST_SHARD_OWNED;
    s->gen++;
    td_log_info("shard %d owned (range_id %lld, %d transfer, %d timer, %d visibility tasks to "
                "re-drive)",
                s->id, (long long)s->range_id, s->n_pending[TD_STORE_TASK_TRANSFER],
                s->n_pending[TD_STORE_TASK_TIMER], s->n_pending[TD_STORE_TASK_VISIBILITY]);
    for (int c = 1; c < TD_HIST_NCAT; c++) {
        td_hist_task_t *t = s->pending[c], *next;
        for (; t != NULL; t = next) {
            next = t->next;
            if (t->state ==
                TD_HIST_TASK_READY) { /* (running ones of an earlier ownership finish) */
                td_hist__task_dispatch(t);
            }
        }
    }
    td_hist__timer_arm(s);
}

/* Whether a stored task is on the shard's pending list already. */
static int td_hist_task_known(const td_hist_shard_t *s, const td_store_task_t *st)
{
    int c = st->category;

    if (c < 1 || c >= TD_HIST_NCAT) {
        return 0;
    }
    for (const td_hist_task_t *t = s->pending[c]; t != NULL; t = t->next) {
        if (t->task_id == st->task_id) {
            return 1;
        }
    }
    return 0;
}

static void td_hist_load_done(td_store_req_t *req, void *arg)
{
    td_hist_shard_t *s = arg;

    s->h->inflight--;
    if (req->rc != TD_OK) {
        td_log_error("shard %d: reading pending tasks failed: %s", s->id, req->err);
    } else {
        for (int i = 0; i < req->out.tasks_read.n_tasks; i++) {
            td_hist_task_t *t;
            if (td_hist_task_known(s, &req->out.tasks_read.tasks[i])) {
                continue; /* still in memory from an earlier ownership */
            }
            t = td_hist_task_parse(s, &req->out.tasks_read.tasks[i], &req->arena);
            if (t == NULL) {
                td_log_error("shard %d: dropping malformed task %lld", s->id,
                             (long long)req->out.tasks_read.tasks[i].task_id);
                continue;
            }
            t->state = TD_HIST_TASK_READY;
        }
    }
    td_store_req_free(req);
    if (--s->loads_pending == 0 && s->state == TD_HIST_SHARD_ACQUIRING) {
        td_hist_shard_ready(s);
    }
}

static void td_hist_acquire_done(td_store_req_t *req, void *arg)
{
    td_hist_shard_t *s = arg;

    s->h->inflight--;
    s->acquire_inflight = 0;
    if (!s->h->running) {
        td_store_req_free(req);
        return;
    }
    if (s->state == TD_HIST_SHARD_RELEASED) {
        /* the ring moved the shard away while we were acquiring: the new owner's acquire
         * fences this one */
        td_store_req_free(req);
        return;
    }
    if (req->rc != TD_OK) {
        int n = s->acquire_failures++;
        if ((n & (n - 1)) == 0) { /* the 1st, 2nd, 3rd, 5th, 9th ... failure */
            td_log_error("shard %d: acquire failed (retrying): %s", s->id, req->err);
        }
        td_store_req_free(req);
        td_timer_start(s->acquire_timer,
                       td_backoff_delay(TD_HIST_RETRY_ACQ_MIN, TD_HIST_RETRY_ACQ_MAX, n));
        return;
    }
    s->acquire_failures = 0;
    if (s->state == TD_HIST_SHARD_RENEWING && req->out.shard.rec.range_id != s->range_id + 1) {
        /* Someone else acquired the shard between our ranges (SHARD_ACQUIRE is not
         * conditional): we now fence them. One owner per shard is the deployment's job. */
        td_log_warn("shard %d: range_id jumped from %lld to %lld while renewing: another owner "
                    "held the shard meanwhile",
                    s->id, (long long)s->range_id, (long long)req->out.shard.rec.range_id);
    }
    s->range_id = req->out.shard.rec.range_id;
    s->next_seq = 1;
    td_store_req_free(req);
    if (s->state == TD_HIST_SHARD_RENEWING) {
        /* a new range for ourselves: every pending task is already in memory */
        td_log_info("shard %d: new task id range %lld", s->id, (long long)s->range_id);
        s->state = TD_HIST_SHARD_OWNED;
        td_timer_start(s->ack_timer, 1000);
        return;
    }
    s->loads_pending = 3;
    for (int c = 1; c < TD_HIST_NCAT; c++) {
        td_store_req_t *r = td_store_req_new(TD_STORE_OP_TASKS_READ);
        r->in.tasks_read.shard_id = s->id;
        r->in.tasks_read.category = c;
        r->in.tasks_read.min_task_id = 0;
        r->in.tasks_read.min_fire_ns = 0;
        r->in.tasks_read.max_fire_ns = INT64_MAX;
        r->cb = td_hist_load_done;
        r->arg = s;
        s->h->inflight++;
        td_store_submit(s->h->store, r);
    }
}

static void td_hist_shard_acquire(td_hist_shard_t *s)
{
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_SHARD_ACQUIRE);

    if (s->state != TD_HIST_SHARD_RENEWING) {
        s->state = TD_HIST_SHARD_ACQUIRING;
    }
    s->acquire_inflight = 1;
    req->in.shard.rec.shard_id = s->id;
    req->cb = td_hist_acquire_done;
    req->arg = s;
    s->h->inflight++;
    td_store_submit(s->h->store, req);
}

/* Gives up a shard the ring moved to another owner: nothing more runs or is dispatched on
 * it; cached workflow states are dropped (the new owner changes them). */
static void td_hist_shard_release(td_hist_shard_t *s, const td_ring_owner_t *owner)
{
    td_log_info("shard %d released: the history ring gives it to %s", s->id,
                owner != NULL ? owner->grpc_addr : "no host");
    s->state = TD_HIST_SHARD_RELEASED;
    td_timer_stop(s->acquire_timer);
    if (s->fire_timer != NULL) {
        td_timer_stop(s->fire_timer);
    }
    td_hist__ctx_drop_states(s->h);
}

void td_hist__shards_reconcile(td_hist_t *h)
{
    td_ring_t *ring = td_svc_ring(h->srv, TD_ROLE_HISTORY);

    if (!h->running || h->shards == NULL) {
        return;
    }
    for (int i = 0; i < h->nshards; i++) {
        td_hist_shard_t *s = &h->shards[i];
        const td_ring_owner_t *o = ring != NULL ? td_ring_lookup_shard(ring, s->id) : NULL;
        int mine = ring == NULL || (o != NULL && o->self);

        if (mine) {
            if ((s->state == TD_HIST_SHARD_NEW || s->state == TD_HIST_SHARD_RELEASED ||
                 s->state == TD_HIST_SHARD_LOST) &&
                !s->acquire_inflight && !td_timer_pending(s->acquire_timer)) {
                td_hist_shard_acquire(s);
            } else if (s->state == TD_HIST_SHARD_ACQUIRING && !s->acquire_inflight &&
                       s->loads_pending == 0 && !td_timer_pending(s->acquire_timer)) {
                td_hist_shard_acquire(s); /* a retry cancelled by an earlier release */
            }
        } else if (s->state == TD_HIST_SHARD_ACQUIRING || s->state == TD_HIST_SHARD_OWNED ||
                   s->state == TD_HIST_SHARD_RENEWING) {
            td_hist_shard_release(s, o);
        }
    }
}

static void td_hist_ring_changed(void *arg)
{
    td_hist__shards_reconcile(arg);
}

static void td_hist_reconcile_tick(void *arg)
{
    td_hist_t *h = arg;
    td_hist__shards_reconcile(h);
    td_timer_start(h->reconcile_timer, TD_HIST_RECONCILE_MS);
}

int td_hist__owned_count(const td_hist_t *h)
{
    int n = 0;
    for (int i = 0; h->shards != NULL && i < h->nshards; i++) {
        n += h->shards[i].state == TD_HIST_SHARD_OWNED ||
             h->shards[i].state == TD_HIST_SHARD_RENEWING;
    }
    return n;
}

/* The operator view's shard count of a history member: ours as owned now, another's as our
 * ring gives it. */
static int td_hist_owned_fn(void *arg, const td_member_t *mem)
{
    td_hist_t *h = arg;
    td_ring_t *ring = td_svc_ring(h->srv, TD_ROLE_HISTORY);
    int n = 0;

    if (mem->self) {
        return td_hist__owned_count(h);
    }
    if (ring == NULL) {
        return -1;
    }
    for (int i = 1; i <= h->nshards; i++) {
        const td_ring_owner_t *o = td_ring_lookup_shard(ring, i);
        n += o != NULL && strcmp(o->id, mem->id) == 0;
    }
    return n;
}

void td_hist__shards_start(td_hist_t *h)
{
    h->shards = td_calloc((size_t)h->nshards, sizeof(*h->shards));
    for (int i = 0; i < h->nshards; i++) {
        td_hist_shard_t *s = &h->shards[i];
        s->h = h;
        s->id = i + 1;
        s->ack_timer = td_timer_new(h->loop, td_hist_ack_flush, s);
        s->acquire_timer = td_timer_new(h->loop, td_hist_acquire_retry, s);
        for (int c = 0; c < TD_HIST_NCAT; c++) {
            s->acked_id[c] = -1;
        }
    }
    if (td_svc_ring(h->srv, TD_ROLE_HISTORY) != NULL) {
        h->ring_listen =
                td_ring_listen(td_svc_ring(h->srv, TD_ROLE_HISTORY), td_hist_ring_changed, h);
    }
    if (td_membership_of(h->srv) != NULL) {
        td_membership_set_owned_fn(td_membership_of(h->srv), TD_ROLE_HISTORY, td_hist_owned_fn, h);
    }
    h->reconcile_timer = td_timer_new(h->loop, td_hist_reconcile_tick, h);
    if (h->ring_listen != NULL) {
        td_timer_start(h->reconcile_timer, TD_HIST_JOIN_DELAY_MS);
    } else {
        td_timer_start(h->reconcile_timer, TD_HIST_RECONCILE_MS);
        td_hist__shards_reconcile(h);
    }
}

void td_hist__shard_lost(td_hist_shard_t *s, int64_t cur_range)
{
    if (s->state != TD_HIST_SHARD_LOST) {
        td_log_error("shard %d lost: range_id is now %lld (ours %lld); another owner took it",
                     s->id, (long long)cur_range, (long long)s->range_id);
    }
    s->state = TD_HIST_SHARD_LOST;
    /* If the ring still gives it to us (views differ for a moment), take it back soon: the
     * retry timer reconciles. */
    if (!td_timer_pending(s->acquire_timer)) {
        td_timer_start(s->acquire_timer, TD_HIST_RETRY_ACQ_MIN * 10);
    }
}

void td_hist__shards_free(td_hist_t *h)
{
    if (h->ring_listen != NULL && td_svc_ring(h->srv, TD_ROLE_HISTORY) != NULL) {
        td_ring_unlisten(td_svc_ring(h->srv, TD_ROLE_HISTORY), h->ring_listen);
    }
    h->ring_listen = NULL;
    td_timer_free(h->reconcile_timer);
    h->reconcile_timer = NULL;
    if (td_membership_of(h->srv) != NULL) {
        td_membership_set_owned_fn(td_membership_of(h->srv), TD_ROLE_HISTORY, NULL, NULL);
    }
    for (int i = 0; h->shards != NULL && i < h->nshards; i++) {
        td_hist_shard_t *s = &h->shards[i];
        for (int c = 0; c < TD_HIST_NCAT; c++) {
            while (s->pending[c] != NULL) {
                td_hist_task_t *t = s->pending[c];
                td_hist_pending_remove(t);
                td_hist_task_free(t);
            }
        }
        td_free(s->heap);
        td_timer_free(s->fire_timer);
        td_timer_free(s->ack_timer);
        td_timer_free(s->acquire_timer);
    }
    td_free(h->shards);
    h->shards = NULL;
}
