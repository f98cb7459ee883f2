/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The matching engine (see engine.h): one partition object per (namespace id, task queue,
 * type), each pairing waiting polls with tasks, writing unmatched tasks to the backlog in
 * batches, reading the backlog back in id order and moving the ack level. Everything runs on
 * the loop thread; calls into the ops are made only from deferred work (the partition's kick
 * timer) or from ops completions, so no callback of the public API runs inside the call that
 * registered it. Callers: the matching role's RPC handlers and, in-process, history.
 *
 * Design notes: the task-queue partition.
 *
 * Lease (persistence ownership of the partition's backlog):
 *
 *     NONE --kick--> LEASING --ok--> LEASED --ids exhausted / insert ECONDITION--> NONE
 *                       |                                          ^
 *                       +--error--> FAILED --lease timer/new add---+ (via NONE on retry)
 *
 *   FROM     -> TO       [function]
 *   NONE     -> LEASING  [td_mp_lease: first kick, or a write needs ids]
 *   FAILED   -> LEASING  [td_mp_lease: lease timer or a new write]
 *   LEASING  -> LEASED   [td_mp_on_leased ok: ids (r-1)*size+1 .. r*size]
 *   LEASING  -> FAILED   [td_mp_on_leased error: pending writes fail with the error]
 *   LEASED   -> NONE     [td_mp_write: id block exhausted; td_mp_on_inserted: ECONDITION]
 *
 * Task (one td_mtask_t; the list it sits on in brackets):
 *
 *     add --poller waiting--> SYNC [sync_q] --dispatch--> RECORDING --ok/stale--> done
 *      |                        | no poller left              |
 *      +--no poller-----------> WRITING [writes] <--error (unpersisted task)
 *                                 | insert ok                 |
 *                                 v                           | error (persisted task)
 *     backlog read ----------> READY [buffer] <--backoff-- RETRY [retry]
 *                                 | dispatch
 *                                 +--> RECORDING
 *     query ---> READY [query_q] --dispatch--> RECORDING --ok--> awaiting answer (registry)
 *
 *   FROM      -> TO         [function]
 *   (new)     -> SYNC       [td_matching_add_task: a poll is waiting]
 *   (new)     -> WRITING    [td_matching_add_task: no poll waiting]
 *   SYNC      -> RECORDING  [td_mp_dispatch]
 *   SYNC      -> WRITING    [td_mp_dispatch: the waiting polls went away]
 *   WRITING   -> READY      [td_mp_on_inserted: backlog fully in memory, room in buffer]
 *   WRITING   -> (freed)    [td_mp_on_inserted: left for td_mp_read; or insert error]
 *   (store)   -> READY      [td_mp_on_read]
 *   READY     -> RECORDING  [td_mp_dispatch]
 *   READY     -> done       [td_mp_next_task / td_mp_on_expiry: expired]
 *   RECORDING -> done       [td_mp_on_started: ok, or stale (ENOTFOUND/EEXIST)]
 *   RECORDING -> RETRY      [td_mp_on_started: other error, persisted or query task]
 *   RECORDING -> WRITING    [td_mp_on_started: other error, never persisted task]
 *   RETRY     -> READY      [td_mp_on_retry]
 *   (RECORDING ok, poll cancelled: the response becomes an orphan [orphans] until
 *    td_mp_dispatch hands it to a poll or td_mp_drop_orphans frees it)
 *
 * Invariants:
 *   - An add's callback runs once, after the task was started, dropped as stale or
 *     persisted; never for a task only held in memory.
 *   - A poll is on the waiters list iff it is WAITING; a cancelled poll is never handed a
 *     task; the oldest waiting poll is served first.
 *   - Every persisted task with ack_level < id <= read_level is on the outstanding list
 *     (ascending ids) until acked; ack_level only grows and never passes an unacked task,
 *     so a crash re-delivers instead of losing.
 *   - read_level <= written_level; tasks go straight from insert to the buffer only when
 *     read_level == written_level and no read is in flight (no unread task is older).
 *   - At most one lease, one insert, one read and one complete are in flight per partition.
 *   - A task is recorded started at most once by matching: a response recorded for a poll
 *     cancelled meanwhile (an orphan) goes to the next waiting poll before any task, or is
 *     freed after orphan_hold_ms (history's timeout then retries the task).
 */
#define TD_LOG_COMPONENT "matching"

#include "roles/matching/engine.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "roles/matching/match_task.h"

/* ---- intrusive circular lists ---- */

typedef struct td_mlink_s {
    struct td_mlink_s *prev, *next;
} td_mlink_t;

#define TD_MCONTAINER(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static void td_ml_init(td_mlink_t *l)
{
    l->prev = l->next = l;
}

static int td_ml_empty(const td_mlink_t *l)
{
    return l->next == l;
}

static void td_ml_insert_after(td_mlink_t *at, td_mlink_t *n)
{
    n->prev = at;
    n->next = at->next;
    at->next->prev = n;
    at->next = n;
}

static void td_ml_push_tail(td_mlink_t *head, td_mlink_t *n)
{
    td_ml_insert_after(head->prev, n);
}

static void td_ml_push_head(td_mlink_t *head, td_mlink_t *n)
{
    td_ml_insert_after(head, n);
}

static void td_ml_remove(td_mlink_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

static int td_ml_linked(const td_mlink_t *n)
{
    return n->next != n;
}

/* ---- a small chained hash table keyed by strings ---- */

typedef struct td_mh_ent_s {
    struct td_mh_ent_s *next;
    const char *key;
} td_mh_ent_t;

typedef struct {
    td_mh_ent_t **b;
    size_t nb, n;
} td_mh_t;

static size_t td_mh_hash(const char *s, size_t nb)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return (size_t)(h & (nb - 1));
}

static td_mh_ent_t *td_mh_find(const td_mh_t *h, const char *key)
{
    td_mh_ent_t *e;
    if (h->nb == 0) {
        return NULL;
    }
    for (e = h->b[td_mh_hash(key, h->nb)]; e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            return e;
        }
    }
    return NULL;
}

static void td_mh_put(td_mh_t *h, td_mh_ent_t *ent)
{
    size_t i;
    if (h->n >= h->nb) {
        size_t nb = h->nb ? h->nb * 2 : 16;
        td_mh_ent_t **b = td_calloc(nb, sizeof(*b));
        for (i = 0; i < h->nb; i++) {
            td_mh_ent_t *e = h->b[i], *next;
            for (; e != NULL; e = next) {
                size_t j = td_mh_hash(e->key, nb);
                next = e->next;
                e->next = b[j];
                b[j] = e;
            }
        }
        td_free(h->b);
        h->b = b;
        h->nb = nb;
    }
    i = td_mh_hash(ent->key, h->nb);
    ent->next = h->b[i];
    h->b[i] = ent;
    h->n++;
}

static void td_mh_del(td_mh_t *h, td_mh_ent_t *ent)
{
    td_mh_ent_t **pp;
    if (h->nb == 0) {
        return;
    }
    for (pp = &h->b[td_mh_hash(ent->key, h->nb)]; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == ent) {
            *pp = ent->next;
            h->n--;
            return;
        }
    }
}

/* ---- objects ---- */

typedef struct td_mpart_s td_mpart_t;

typedef enum {
    TD_MT_WRITING = 1,
    TD_MT_SYNC,
    TD_MT_READY,
    TD_MT_RETRY,
    TD_MT_RECORDING,
    TD_MT_DONE, /* acked, waiting on the outstanding list for older tasks */
} td_mt_state_t;

typedef struct td_mtask_s {
    td_mlink_t q;   /* writes, sync_q, buffer, query_q or retry */
    td_mlink_t out; /* outstanding (persisted tasks that were loaded) */
    td_mpart_t *part;
    td_match_task_t *t; /* owned copy */
    td_mt_state_t state;
    int persisted;
    int attempts;
    int64_t retry_at_ms;
    td_match_add_cb add_cb; /* until the task is accepted */
    void *add_arg;
    td_matching_query_t *query; /* query tasks, while the query waits */
    td_matching_poll_t *poll;   /* while RECORDING */
    td_match_poller_t poller;   /* what record_started sees */
    char request_id[40];
} td_mtask_t;

typedef enum {
    TD_MP_WAITING = 1,
    TD_MP_RECORDING,
    TD_MP_CANCELLED, /* cancelled while RECORDING */
} td_mpoll_state_t;

struct td_matching_poll_s {
    td_mlink_t link; /* waiters */
    td_mpart_t *part;
    td_mpoll_state_t state;
    td_timer_t *timer;
    int64_t expire_at_ms;
    td_match_poll_cb cb;
    void *arg;
    char *identity;
    char *worker_key; /* the worker's worker_instance_key; "" = none */
    void *ctx;
};

/* A worker that called ShutdownWorker: its polls that arrive late are answered empty. */
typedef struct td_mgone_s {
    struct td_mgone_s *next;
    int64_t until_ms;
    char key[];
} td_mgone_t;

struct td_matching_query_s {
    td_mh_ent_t h; /* engine->queries, key = id */
    td_matching_engine_t *e;
    char id[40];
    td_mtask_t *task; /* until delivered */
    td_timer_t *timer;
    td_match_query_cb cb;
    void *arg;
};

/* A response recorded for a poll that was cancelled meanwhile, kept for the next poll. */
typedef struct {
    td_mlink_t link;
    void *response;
    int64_t until_ms;
} td_morphan_t;

typedef enum {
    TD_ML_NONE = 0,
    TD_ML_LEASING,
    TD_ML_LEASED,
    TD_ML_FAILED,
} td_mlease_t;

struct td_mpart_s {
    td_mh_ent_t h; /* engine->parts, key = keystr */
    td_matching_engine_t *e;
    char *keystr, *ns_id, *name;
    td_match_key_t key;

    td_mlease_t lease;
    int loaded; /* the first lease answered: levels are valid */
    /* failures in a row, for backoff and for logging the 1st, 2nd, 4th, 8th ... only */
    int lease_failures, read_failures, insert_failures, complete_failures;
    int64_t range_id, next_id, block_end;
    int64_t ack_level, read_level, written_level, persisted_ack, completing_level;

    td_mlink_t waiters, sync_q, query_q, buffer, retry, writes, outstanding;
    td_mlink_t orphans; /* td_morphan_t: started tasks whose poll left, oldest first */
    int nwaiters, nbuffer, nwrites, ninflight, norphans;

    int writing, reading, completing;
    td_mtask_t **batch;
    td_match_task_t *batch_views;
    int nbatch;
    int64_t read_hi;
    int read_limit;

    td_timer_t *kick, *retry_timer, *gc_timer, *lease_timer, *read_timer, *expiry_timer;
    int64_t expiry_at_ns;
    int64_t last_poll_ms;
    int64_t last_used_ms; /* last add, poll or query: idle partitions are unloaded */

    td_match_poller_info_t *pollers;
    int npollers, cap_pollers;

    int64_t dispatched, sync_matched, persisted, dropped, redelivered, orphans_lost;
};

struct td_matching_engine_s {
    td_loop_t *loop;
    td_matching_config_t cfg;
    td_matching_ops_t ops;
    td_mh_t parts;
    td_mh_t queries;
    int closing;
    int inflight_ops;
    td_loop_fn done;
    void *done_arg;
    uint64_t seq;
    uint64_t salt;
    td_timer_t *idle_timer;
    td_mgone_t *gone_workers; /* newest first; pruned as they expire */
    int n_gone_workers;
};

static void td_mp_kick(td_mpart_t *part);
static void td_mp_ack(td_mpart_t *part, td_mtask_t *t);
static int td_me_worker_gone(td_matching_engine_t *e, const char *worker_key, int64_t now);
static void td_me_prune_gone(td_matching_engine_t *e, int64_t now);
static void td_mq_finish(td_matching_query_t *q);

/* ---- configuration ---- */

void td_matching_config_init(td_matching_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->long_poll_ms = 60000;
    c->empty_budget_ms = 1000;
    c->min_poll_timeout_ms = 2000;
    c->range_size = 100000;
    c->write_batch = 100;
    c->read_batch = 1000;
    c->buffer_max = 1000;
    c->gc_batch = 100;
    c->gc_interval_ms = 1000;
    c->retry_initial_ms = 50;
    c->retry_max_ms = 5000;
    c->sticky_unavailable_ms = 10000;
    c->poller_ttl_ms = 5 * 60 * 1000;
    c->idle_unload_ms = 5 * 60 * 1000;
    c->orphan_hold_ms = 5000;
}

void td_matching_config_from(td_matching_config_t *out, const td_config_t *c)
{
    td_matching_config_init(out);
    if (c != NULL) {
        out->long_poll_ms =
                td_config_dyn_ms(c, "matching.longPollExpirationInterval", out->long_poll_ms);
    }
}

int td_matching_check_deadline(int64_t now_ms, int64_t deadline_ms, int64_t min_ms,
                               const char **msg)
{
    int rc = TD_OK;
    const char *m = NULL;
    if (deadline_ms <= 0) {
        rc = TD_EINVAL;
        m = "Context timeout is not set.";
    } else if (deadline_ms - now_ms < min_ms) {
        rc = TD_EPRECOND;
        m = "Context timeout is too short.";
    }
    if (msg != NULL) {
        *msg = m;
    }
    return rc;
}

/* ---- engine bookkeeping ---- */

static void td_me_finalize(void *arg);

/* An ops call answered. Frees the engine once it is closing and nothing is in flight. */
static void td_me_op_done(td_matching_engine_t *e)
{
    e->inflight_ops--;
    if (e->closing && e->inflight_ops == 0) {
        td_loop_post(e->loop, td_me_finalize, e);
    }
}

/* The delay before try `attempts` + 1 of anything that failed (backoff.h). */
static int64_t td_mt_backoff(const td_matching_engine_t *e, int attempts)
{
    return td_backoff_delay(e->cfg.retry_initial_ms, e->cfg.retry_max_ms, attempts);
}

/* Whether failure number n (from 0) of a retry loop is logged: 0, 1, 2, 4, 8, ... */
static int td_mt_logged(int n)
{
    return (n & (n - 1)) == 0;
}

static int td_mt_expired(const td_mtask_t *t, int64_t now_ns)
{
    return t->t->expiry_time_ns > 0 && t->t->expiry_time_ns <= now_ns;
}

static td_mtask_t *td_mt_new(td_mpart_t *part, const td_match_task_t *src)
{
    td_mtask_t *t = td_calloc(1, sizeof(*t));
    td_ml_init(&t->q);
    td_ml_init(&t->out);
    t->part = part;
    t->t = td_match__task_dup(src);
    return t;
}

static void td_mt_free(td_mtask_t *t)
{
    if (t == NULL) {
        return;
    }
    td_ml_remove(&t->q);
    td_ml_remove(&t->out);
    td_free(t->t);
    td_free(t);
}

/* Calls and clears the add callback of a task (no-op if it has none). */
static void td_mt_answer_add(td_mtask_t *t, int err)
{
    td_match_add_cb cb = t->add_cb;
    if (cb != NULL) {
        t->add_cb = NULL;
        cb(t->add_arg, err);
    }
}

/* ---- partitions ---- */

static void td_mp_on_kick(void *arg);
static void td_mp_on_retry(void *arg);
static void td_mp_on_gc(void *arg);
static void td_mp_on_lease_timer(void *arg);
static void td_mp_on_expiry(void *arg);

static td_mpart_t *td_mp_get(td_matching_engine_t *e, const td_match_key_t *key)
{
    char *ks = td_match__key_str(key);
    td_mpart_t *part = (td_mpart_t *)td_mh_find(&e->parts, ks);

    if (part != NULL) {
        td_free(ks);
        part->last_used_ms = td_now_mono_ms();
        return part;
    }
    part = td_calloc(1, sizeof(*part));
    part->e = e;
    part->keystr = ks;
    part->h.key = ks;
    part->ns_id = td_strdup(key->namespace_id);
    part->name = td_strdup(key->name);
    part->key.namespace_id = part->ns_id;
    part->key.name = part->name;
    part->key.type = key->type;
    part->key.kind = key->kind;
    td_ml_init(&part->waiters);
    td_ml_init(&part->sync_q);
    td_ml_init(&part->query_q);
    td_ml_init(&part->buffer);
    td_ml_init(&part->retry);
    td_ml_init(&part->writes);
    td_ml_init(&part->outstanding);
    td_ml_init(&part->orphans);
    part->kick = td_timer_new(e->loop, td_mp_on_kick, part);
    part->retry_timer = td_timer_new(e->loop, td_mp_on_retry, part);
    part->gc_timer = td_timer_new(e->loop, td_mp_on_gc, part);
    part->lease_timer = td_timer_new(e->loop, td_mp_on_lease_timer, part);
    part->read_timer = td_timer_new(e->loop, td_mp_on_lease_timer, part);
    part->expiry_timer = td_timer_new(e->loop, td_mp_on_expiry, part);
    part->last_used_ms = td_now_mono_ms();
    td_mh_put(&e->parts, &part->h);
    td_mp_kick(part);
    return part;
}

static td_mpart_t *td_mp_find(td_matching_engine_t *e, const td_match_key_t *key)
{
    char *ks = td_match__key_str(key);
    td_mpart_t *part = ks != NULL ? (td_mpart_t *)td_mh_find(&e->parts, ks) : NULL;
    td_free(ks);
    return part;
}

static void td_mp_stop_timers(td_mpart_t *part)
{
    td_timer_stop(part->kick);
    td_timer_stop(part->retry_timer);
    td_timer_stop(part->gc_timer);
    td_timer_stop(part->lease_timer);
    td_timer_stop(part->read_timer);
    td_timer_stop(part->expiry_timer);
}

/* Frees orphaned responses; all of them, or only those past their hold time. */
static void td_mp_drop_orphans(td_mpart_t *part, int all)
{
    td_matching_engine_t *e = part->e;
    int64_t now = td_now_mono_ms();
    td_mlink_t *l, *n;

    for (l = part->orphans.next; l != &part->orphans; l = n) {
        td_morphan_t *o = TD_MCONTAINER(l, td_morphan_t, link);
        n = l->next;
        if (!all && o->until_ms > now) {
            continue;
        }
        td_ml_remove(&o->link);
        part->norphans--;
        part->orphans_lost++;
        if (o->response != NULL && e->ops.history->response_free != NULL) {
            e->ops.history->response_free(e->ops.history_ctx, o->response);
        }
        td_free(o);
    }
}

static void td_mp_free(td_mpart_t *part)
{
    td_mlink_t *l;
    td_mp_stop_timers(part);
    td_mp_drop_orphans(part, 1);
    /* whatever is left holds no callbacks any more (see td_matching_engine_close) */
    while (!td_ml_empty(&part->outstanding)) {
        l = part->outstanding.next;
        td_mt_free(TD_MCONTAINER(l, td_mtask_t, out));
    }
    td_mlink_t *lists[] = { &part->sync_q, &part->query_q, &part->buffer, &part->retry,
                            &part->writes };
    for (size_t i = 0; i < TD_ARRAY_LEN(lists); i++) {
        while (!td_ml_empty(lists[i])) {
            l = lists[i]->next;
            td_mt_free(TD_MCONTAINER(l, td_mtask_t, q));
        }
    }
    td_timer_free(part->kick);
    td_timer_free(part->retry_timer);
    td_timer_free(part->gc_timer);
    td_timer_free(part->lease_timer);
    td_timer_free(part->read_timer);
    td_timer_free(part->expiry_timer);
    td_free(part->batch);
    td_free(part->batch_views);
    td_free(part->pollers);
    td_free(part->keystr);
    td_free(part->ns_id);
    td_free(part->name);
    td_free(part);
}

static void td_mp_kick(td_mpart_t *part)
{
    if (!part->e->closing && !td_timer_pending(part->kick)) {
        td_timer_start(part->kick, 0);
    }
}

/* Remembers a poller for DescribeTaskQueue; forgets those older than poller_ttl_ms. */
static void td_mp_note_poller(td_mpart_t *part, const char *identity, double rate)
{
    int64_t now = td_now_wall_ns();
    int64_t ttl_ns = part->e->cfg.poller_ttl_ms * 1000000LL;
    int keep = 0, found = -1;

    for (int i = 0; i < part->npollers; i++) {
        if (now - part->pollers[i].last_access_ns <= ttl_ns) {
            part->pollers[keep++] = part->pollers[i];
        }
    }
    part->npollers = keep;
    for (int i = 0; i < part->npollers; i++) {
        if (strcmp(part->pollers[i].identity, identity) == 0) {
            found = i;
            break;
        }
    }
    if (found < 0) {
        if (part->npollers == part->cap_pollers) {
            part->cap_pollers = part->cap_pollers ? part->cap_pollers * 2 : 4;
            part->pollers =
                    td_realloc(part->pollers, (size_t)part->cap_pollers * sizeof(*part->pollers));
        }
        found = part->npollers++;
        memset(&part->pollers[found], 0, sizeof(part->pollers[found]));
        snprintf(part->pollers[found].identity, sizeof(part->pollers[found].identity), "%s",
                 identity);
    }
    part->pollers[found].last_access_ns = now;
    if (rate > 0) {
        part->pollers[found].rate_per_second = rate;
    }
}

/* ---- lease ---- */

static void td_mp_on_leased(void *arg, int err, int64_t range_id, int64_t ack_level)
{
    td_mpart_t *part = arg;
    td_matching_engine_t *e = part->e;

    if (e->closing) {
        part->lease = TD_ML_NONE;
        goto out;
    }
    if (err != TD_OK) {
        int n = part->lease_failures++;
        if (td_mt_logged(n)) {
            td_log_warn("task queue %s: lease failed: %s", part->name, td_strerror(err));
        }
        part->lease = TD_ML_FAILED;
        /* writes cannot get ids: answer them now rather than hold history's transfer task */
        while (!td_ml_empty(&part->writes)) {
            td_mtask_t *t = TD_MCONTAINER(part->writes.next, td_mtask_t, q);
            part->nwrites--;
            td_ml_remove(&t->q);
            td_mt_answer_add(t, err);
            td_mt_free(t);
        }
        td_timer_start(part->lease_timer, td_mt_backoff(e, n));
        goto out;
    }
    part->lease_failures = 0;
    part->lease = TD_ML_LEASED;
    part->range_id = range_id;
    part->next_id = (range_id - 1) * e->cfg.range_size + 1;
    part->block_end = range_id * e->cfg.range_size;
    if (!part->loaded) {
        part->loaded = 1;
        part->ack_level = part->persisted_ack = part->read_level = ack_level;
        part->written_level = part->next_id - 1 > ack_level ? part->next_id - 1 : ack_level;
    }
    td_log_debug("task queue %s: leased range %" PRId64 " ack %" PRId64, part->name, range_id,
                 part->ack_level);
    td_mp_kick(part);
out:
    td_me_op_done(e);
}

static void td_mp_lease(td_mpart_t *part)
{
    td_matching_engine_t *e = part->e;
    if (part->lease == TD_ML_LEASING || e->closing) {
        return;
    }
    td_timer_stop(part->lease_timer);
    part->lease = TD_ML_LEASING;
    e->inflight_ops++;
    e->ops.backlog->lease(e->ops.backlog_ctx, &part->key, td_mp_on_leased, part);
}

static void td_mp_on_lease_timer(void *arg)
{
    td_mpart_t *part = arg;
    if (part->lease == TD_ML_FAILED) {
        part->lease = TD_ML_NONE;
    }
    td_mp_kick(part);
}

/* ---- ack level and garbage collection ---- */

static void td_mp_on_completed(void *arg, int err)
{
    td_mpart_t *part = arg;
    td_matching_engine_t *e = part->e;

    part->completing = 0;
    if (e->closing) {
        goto out;
    }
    if (err == TD_OK) {
        part->complete_failures = 0;
        if (part->completing_level > part->persisted_ack) {
            part->persisted_ack = part->completing_level;
        }
    } else {
        if (td_mt_logged(part->complete_failures++)) {
            td_log_warn("task queue %s: completing tasks failed: %s", part->name, td_strerror(err));
        }
        if (err == TD_ECONDITION && part->lease == TD_ML_LEASED) {
            part->lease = TD_ML_NONE;
        }
    }
    if (part->ack_level > part->persisted_ack && !td_timer_pending(part->gc_timer)) {
        td_timer_start(part->gc_timer, e->cfg.gc_interval_ms);
    }
out:
    td_me_op_done(e);
}

static void td_mp_complete(td_mpart_t *part)
{
    td_matching_engine_t *e = part->e;
    if (part->completing || part->lease != TD_ML_LEASED || e->closing ||
        part->ack_level <= part->persisted_ack) {
        return;
    }
    part->completing = 1;
    part->completing_level = part->ack_level;
    e->inflight_ops++;
    e->ops.backlog->complete(e->ops.backlog_ctx, &part->key, part->range_id, part->completing_level,
                             td_mp_on_completed, part);
}

static void td_mp_on_gc(void *arg)
{
    td_mpart_t *part = arg;
    td_mp_drop_orphans(part, 0);
    if (part->norphans > 0) {
        td_timer_start(part->gc_timer, part->e->cfg.gc_interval_ms);
    }
    if (part->lease != TD_ML_LEASED) {
        td_mp_kick(part); /* takes the lease back; the next ack retries */
        return;
    }
    td_mp_complete(part);
}

/* Moves the ack level over every acked task at the head of the outstanding list. */
static void td_mp_advance(td_mpart_t *part)
{
    td_matching_engine_t *e = part->e;
    while (!td_ml_empty(&part->outstanding)) {
        td_mtask_t *t = TD_MCONTAINER(part->outstanding.next, td_mtask_t, out);
        if (t->state != TD_MT_DONE) {
            break;
        }
        part->ack_level = t->t->task_id;
        td_mt_free(t);
    }
    if (td_ml_empty(&part->outstanding) && part->read_level > part->ack_level) {
        part->ack_level = part->read_level;
    }
    if (part->ack_level - part->persisted_ack >= e->cfg.gc_batch) {
        td_mp_complete(part);
    } else if (part->ack_level > part->persisted_ack && !td_timer_pending(part->gc_timer)) {
        td_timer_start(part->gc_timer, e->cfg.gc_interval_ms);
    }
}

/* A task is finished (started, stale, expired): answers its adder and, for a backlog task,
 * acks it. t may be freed. */
static void td_mp_ack(td_mpart_t *part, td_mtask_t *t)
{
    td_ml_remove(&t->q);
    td_mt_answer_add(t, TD_OK);
    if (t->persisted && td_ml_linked(&t->out)) {
        t->state = TD_MT_DONE;
        td_mp_advance(part);
    } else {
        td_mt_free(t);
    }
}

/* ---- expiry of tasks with a schedule-to-start deadline (sticky queues) ---- */

static void td_mp_arm_expiry(td_mpart_t *part, int64_t expiry_ns)
{
    int64_t delay_ms;
    if (expiry_ns <= 0 || part->e->closing) {
        return;
    }
    if (td_timer_pending(part->expiry_timer) && part->expiry_at_ns <= expiry_ns) {
        return;
    }
    delay_ms = (expiry_ns - td_now_wall_ns()) / 1000000 + 1;
    part->expiry_at_ns = expiry_ns;
    td_timer_start(part->expiry_timer, delay_ms);
}

static void td_mp_on_expiry(void *arg)
{
    td_mpart_t *part = arg;
    int64_t now = td_now_wall_ns(), next = 0;
    td_mlink_t *l, *n;

    for (l = part->buffer.next; l != &part->buffer; l = n) {
        td_mtask_t *t = TD_MCONTAINER(l, td_mtask_t, q);
        n = l->next;
        if (td_mt_expired(t, now)) {
            part->nbuffer--;
            part->dropped++;
            td_mp_ack(part, t);
        } else if (t->t->expiry_time_ns > 0 && (next == 0 || t->t->expiry_time_ns < next)) {
            next = t->t->expiry_time_ns;
        }
    }
    td_mp_arm_expiry(part, next);
    td_mp_kick(part); /* the buffer has room to read more */
}

/* ---- polls ---- */

static void td_mpoll_free(td_matching_poll_t *p)
{
    td_timer_free(p->timer);
    td_free(p->identity);
    td_free(p->worker_key);
    td_free(p);
}

/* Answers a poll and frees it. */
static void td_mpoll_answer(td_matching_poll_t *p, int err, void *response)
{
    td_match_poll_cb cb = p->cb;
    void *arg = p->arg;
    p->part->last_poll_ms = td_now_mono_ms();
    td_mpoll_free(p);
    cb(arg, err, response);
}

/* Takes a WAITING poll off its partition's waiters (a refused poll never joined them). */
static void td_mpoll_unlink(td_matching_poll_t *p)
{
    if (!td_ml_empty(&p->link)) {
        td_ml_remove(&p->link);
        p->part->nwaiters--;
    }
}

static void td_mpoll_on_expire(void *arg)
{
    td_matching_poll_t *p = arg;
    if (p->state != TD_MP_WAITING) {
        return;
    }
    td_mpoll_unlink(p);
    td_mpoll_answer(p, TD_OK, NULL);
}

/* Puts a poll whose task fell through back at the head of the waiters (it stays the
 * oldest), or answers it empty if its time is up. */
static void td_mpoll_requeue(td_matching_poll_t *p)
{
    td_mpart_t *part = p->part;
    int64_t left = p->expire_at_ms - td_now_mono_ms();

    if (left <= 0) {
        td_mpoll_answer(p, TD_OK, NULL);
        return;
    }
    p->state = TD_MP_WAITING;
    td_ml_push_head(&part->waiters, &p->link);
    part->nwaiters++;
    td_timer_start(p->timer, left);
    td_mp_kick(part);
}

/* ---- dispatch ---- */

/* Schedules a failed task again after its backoff. */
static void td_mp_retry_later(td_mpart_t *part, td_mtask_t *t)
{
    int64_t now = td_now_mono_ms();
    int64_t delay = td_mt_backoff(part->e, t->attempts++);
    t->state = TD_MT_RETRY;
    t->retry_at_ms = now + delay;
    td_ml_push_tail(&part->retry, &t->q);
    if (!td_timer_pending(part->retry_timer)) {
        td_timer_start(part->retry_timer, delay);
    }
}

static void td_mp_on_retry(void *arg)
{
    td_mpart_t *part = arg;
    int64_t now = td_now_mono_ms(), next = 0;
    td_mlink_t *l, *n;

    for (l = part->retry.next; l != &part->retry; l = n) {
        td_mtask_t *t = TD_MCONTAINER(l, td_mtask_t, q);
        n = l->next;
        if (t->retry_at_ms > now) {
            if (next == 0 || t->retry_at_ms < next) {
                next = t->retry_at_ms;
            }
            continue;
        }
        td_ml_remove(&t->q);
        t->state = TD_MT_READY;
        if (t->query != NULL) {
            td_ml_push_tail(&part->query_q, &t->q);
        } else {
            /* back into id order near the head: it is older than most of the buffer */
            td_mlink_t *at = &part->buffer;
            while (at->next != &part->buffer &&
                   TD_MCONTAINER(at->next, td_mtask_t, q)->t->task_id < t->t->task_id) {
                at = at->next;
            }
            td_ml_insert_after(at, &t->q);
            part->nbuffer++;
        }
    }
    if (next != 0) {
        td_timer_start(part->retry_timer, next - now);
    }
    td_mp_kick(part);
}

/* The next task to hand out: queries, then tasks added while a poll waited, then the
 * backlog in id order. Expired tasks are dropped on the way. NULL if none. */
static td_mtask_t *td_mp_next_task(td_mpart_t *part)
{
    int64_t now = td_now_wall_ns();
    td_mtask_t *t;

    if (!td_ml_empty(&part->query_q)) {
        t = TD_MCONTAINER(part->query_q.next, td_mtask_t, q);
        td_ml_remove(&t->q);
        return t;
    }
    while (!td_ml_empty(&part->sync_q)) {
        t = TD_MCONTAINER(part->sync_q.next, td_mtask_t, q);
        td_ml_remove(&t->q);
        if (!td_mt_expired(t, now)) {
            return t;
        }
        part->dropped++;
        td_mp_ack(part, t);
    }
    while (!td_ml_empty(&part->buffer)) {
        t = TD_MCONTAINER(part->buffer.next, td_mtask_t, q);
        td_ml_remove(&t->q);
        part->nbuffer--;
        if (!td_mt_expired(t, now)) {
            return t;
        }
        part->dropped++;
        td_mp_ack(part, t);
    }
    return NULL;
}

static int td_mt_is_stale(int err)
{
    return err == TD_ENOTFOUND || err == TD_EEXIST;
}

static void td_mp_on_started(void *arg, int err, void *response)
{
    td_mtask_t *t = arg;
    td_mpart_t *part = t->part;
    td_matching_engine_t *e = part->e;
    td_matching_poll_t *p = t->poll;
    td_matching_query_t *q = t->query;
    int is_query = t->t->query_id != NULL;

    t->poll = NULL;
    part->ninflight--;
    if (err == TD_OK) {
        part->dispatched++;
        if (t->add_cb != NULL) {
            part->sync_matched++;
        }
        if (q != NULL) {
            q->task = NULL; /* delivered: now only the answer is awaited */
            t->query = NULL;
        }
        /* settle the task before any callback can re-enter the engine */
        td_mp_ack(part, t);
        if (p->state == TD_MP_CANCELLED) {
            /* started for a poller that left: the next poll of this queue gets it (else
             * history's timeout retries the task) */
            td_morphan_t *o = td_calloc(1, sizeof(*o));
            td_log_debug("task queue %s: poll cancelled while its task was recorded", part->name);
            td_mpoll_free(p);
            o->response = response;
            o->until_ms = td_now_mono_ms() + e->cfg.orphan_hold_ms;
            td_ml_push_tail(&part->orphans, &o->link);
            part->norphans++;
            if (e->closing) {
                td_mp_drop_orphans(part, 1);
            } else {
                td_mp_kick(part);
            }
        } else {
            td_mpoll_answer(p, TD_OK, response);
        }
        goto out;
    }

    /* the task was not handed out: first the poll goes back to waiting */
    if (p->state == TD_MP_CANCELLED) {
        td_mpoll_free(p);
    } else if (e->closing) {
        td_mpoll_answer(p, TD_ECLOSED, NULL);
    } else {
        td_mpoll_requeue(p);
    }

    if (td_mt_is_stale(err)) {
        td_log_debug("task queue %s: dropping stale task: %s", part->name, td_strerror(err));
        part->dropped++;
        if (q != NULL) {
            td_match_query_cb cb = q->cb;
            void *cb_arg = q->arg;
            q->task = NULL;
            t->query = NULL;
            td_mq_finish(q);
            td_mp_ack(part, t);
            cb(cb_arg, err, NULL, 0);
        } else {
            td_mp_ack(part, t);
        }
        goto out;
    }

    td_log_debug("task queue %s: record started failed, re-queueing: %s", part->name,
                 td_strerror(err));
    if (e->closing || (is_query && q == NULL)) {
        /* closing, or a query task whose query is gone: nobody takes it any more */
        td_mt_answer_add(t, TD_ECLOSED);
        td_mt_free(t);
        goto out;
    }
    if (!is_query && !t->persisted) {
        /* a sync-matched task: persist it, the adder is answered after the insert */
        t->state = TD_MT_WRITING;
        td_ml_push_tail(&part->writes, &t->q);
        part->nwrites++;
        td_mp_kick(part);
        goto out;
    }
    td_mp_retry_later(part, t);
out:
    td_me_op_done(e);
}

static void td_mp_record(td_mpart_t *part, td_mtask_t *t, td_matching_poll_t *p)
{
    td_matching_engine_t *e = part->e;

    td_timer_stop(p->timer);
    p->state = TD_MP_RECORDING;
    t->state = TD_MT_RECORDING;
    t->poll = p;
    snprintf(t->request_id, sizeof(t->request_id), "%016" PRIx64 "-%016" PRIx64, e->salt, ++e->seq);
    t->poller.identity = p->identity;
    t->poller.request_id = t->request_id;
    t->poller.poll_ctx = p->ctx;
    part->ninflight++;
    e->inflight_ops++;
    e->ops.history->record_started(e->ops.history_ctx, &part->key, t->t, &t->poller,
                                   td_mp_on_started, t);
}

/* Hands tasks to the waiting polls, oldest poll first: first responses already recorded for
 * polls that were cancelled meanwhile, then tasks. */
static void td_mp_dispatch(td_mpart_t *part)
{
    td_mp_drop_orphans(part, 0);
    while (!part->e->closing && !td_ml_empty(&part->waiters) && !td_ml_empty(&part->orphans)) {
        td_morphan_t *o = TD_MCONTAINER(part->orphans.next, td_morphan_t, link);
        td_matching_poll_t *p = TD_MCONTAINER(part->waiters.next, td_matching_poll_t, link);
        void *response = o->response;
        td_ml_remove(&o->link);
        part->norphans--;
        td_free(o);
        td_ml_remove(&p->link);
        part->nwaiters--;
        part->redelivered++;
        td_mpoll_answer(p, TD_OK, response);
    }
    if (!td_ml_empty(&part->orphans) && !td_timer_pending(part->gc_timer)) {
        td_timer_start(part->gc_timer, part->e->cfg.gc_interval_ms); /* drops expired ones */
    }
    while (!part->e->closing && !td_ml_empty(&part->waiters)) {
        td_mtask_t *t = td_mp_next_task(part);
        td_matching_poll_t *p;
        if (t == NULL) {
            break;
        }
        p = TD_MCONTAINER(part->waiters.next, td_matching_poll_t, link);
        td_ml_remove(&p->link);
        part->nwaiters--;
        td_mp_record(part, t, p);
    }
    /* tasks added for a poll that went away meanwhile go to the backlog */
    while (!part->e->closing && !td_ml_empty(&part->sync_q)) {
        td_mtask_t *t = TD_MCONTAINER(part->sync_q.next, td_mtask_t, q);
        td_ml_remove(&t->q);
        t->state = TD_MT_WRITING;
        td_ml_push_tail(&part->writes, &t->q);
        part->nwrites++;
    }
}

/* ---- backlog writes ---- */

/* An adder to answer once the engine state is settled. */
typedef struct {
    td_match_add_cb cb;
    void *arg;
} td_madd_t;

static void td_mp_on_inserted(void *arg, int err)
{
    td_mpart_t *part = arg;
    td_matching_engine_t *e = part->e;
    int n = part->nbatch, direct = 0, ncb = 0;
    td_mtask_t **batch = part->batch;
    td_madd_t *adds = td_calloc((size_t)n + 1, sizeof(*adds));

    part->writing = 0;
    part->batch = NULL;
    part->nbatch = 0;
    td_free(part->batch_views);
    part->batch_views = NULL;

    /* take the callbacks out first: they run last, as they may call back into the engine */
    for (int i = 0; i < n; i++) {
        if (batch[i]->add_cb != NULL) {
            adds[ncb].cb = batch[i]->add_cb;
            adds[ncb].arg = batch[i]->add_arg;
            batch[i]->add_cb = NULL;
            ncb++;
        }
    }
    if (err != TD_OK) {
        if (td_mt_logged(part->insert_failures++)) {
            td_log_warn("task queue %s: backlog insert of %d failed: %s", part->name, n,
                        td_strerror(err));
        }
        if (err == TD_ECONDITION && part->lease == TD_ML_LEASED) {
            part->lease = TD_ML_NONE; /* another owner fenced us: lease again */
        }
        for (int i = 0; i < n; i++) {
            td_mt_free(batch[i]);
        }
        goto out;
    }
    part->insert_failures = 0;
    part->persisted += n;
    direct = !e->closing && !part->reading && part->read_level == part->written_level &&
             part->nbuffer + n <= e->cfg.buffer_max;
    part->written_level = batch[n - 1]->t->task_id;
    if (direct) {
        part->read_level = part->written_level;
    }
    for (int i = 0; i < n; i++) {
        td_mtask_t *t = batch[i];
        t->persisted = 1;
        if (direct) {
            t->state = TD_MT_READY;
            td_ml_push_tail(&part->buffer, &t->q);
            td_ml_push_tail(&part->outstanding, &t->out);
            part->nbuffer++;
            td_mp_arm_expiry(part, t->t->expiry_time_ns);
        } else {
            td_mt_free(t); /* td_mp_read loads it back */
        }
    }
out:
    td_free(batch);
    td_mp_kick(part);
    for (int i = 0; i < ncb; i++) {
        adds[i].cb(adds[i].arg, err);
    }
    td_free(adds);
    td_me_op_done(e);
}

static void td_mp_write(td_mpart_t *part)
{
    td_matching_engine_t *e = part->e;
    int n;

    if (e->closing || part->writing || td_ml_empty(&part->writes)) {
        return;
    }
    if (part->lease == TD_ML_LEASED && part->next_id > part->block_end) {
        part->lease = TD_ML_NONE; /* id block used up: renew */
    }
    if (part->lease != TD_ML_LEASED) {
        if (part->lease == TD_ML_NONE || part->lease == TD_ML_FAILED) {
            td_mp_lease(part);
        }
        return;
    }
    n = part->nwrites < e->cfg.write_batch ? part->nwrites : e->cfg.write_batch;
    if (n > part->block_end - part->next_id + 1) {
        n = (int)(part->block_end - part->next_id + 1);
    }
    part->batch = td_calloc((size_t)n, sizeof(*part->batch));
    part->batch_views = td_calloc((size_t)n, sizeof(*part->batch_views));
    for (int i = 0; i < n; i++) {
        td_mtask_t *t = TD_MCONTAINER(part->writes.next, td_mtask_t, q);
        td_ml_remove(&t->q);
        part->nwrites--;
        t->t->task_id = part->next_id++;
        part->batch[i] = t;
        part->batch_views[i] = *t->t;
    }
    part->nbatch = n;
    part->writing = 1;
    e->inflight_ops++;
    e->ops.backlog->insert(e->ops.backlog_ctx, &part->key, part->range_id, part->batch_views, n,
                           td_mp_on_inserted, part);
}

/* ---- backlog reads ---- */

static void td_mp_on_read(void *arg, int err, const td_match_task_t *tasks, int n)
{
    td_mpart_t *part = arg;
    td_matching_engine_t *e = part->e;

    part->reading = 0;
    if (e->closing) {
        goto out;
    }
    if (err != TD_OK) {
        int nf = part->read_failures++;
        if (td_mt_logged(nf)) {
            td_log_warn("task queue %s: backlog read failed: %s", part->name, td_strerror(err));
        }
        td_timer_start(part->read_timer, td_mt_backoff(e, nf));
        goto out;
    }
    part->read_failures = 0;
    for (int i = 0; i < n; i++) {
        td_mtask_t *t;
        if (tasks[i].task_id <= part->read_level || tasks[i].task_id > part->read_hi) {
            continue;
        }
        t = td_mt_new(part, &tasks[i]);
        t->persisted = 1;
        t->state = TD_MT_READY;
        td_ml_push_tail(&part->buffer, &t->q);
        td_ml_push_tail(&part->outstanding, &t->out);
        part->nbuffer++;
        part->read_level = tasks[i].task_id;
        td_mp_arm_expiry(part, t->t->expiry_time_ns);
    }
    if (n < part->read_limit && part->read_hi > part->read_level) {
        part->read_level = part->read_hi; /* nothing more below read_hi */
    }
    td_mp_advance(part);
    td_mp_kick(part);
out:
    td_me_op_done(e);
}

static void td_mp_read(td_mpart_t *part)
{
    td_matching_engine_t *e = part->e;
    int low = e->cfg.buffer_max / 2 > 0 ? e->cfg.buffer_max / 2 : 1;
    int limit;

    if (e->closing || part->reading || !part->loaded || part->read_level >= part->written_level ||
        part->nbuffer >= low || td_timer_pending(part->read_timer)) {
        return;
    }
    limit = e->cfg.buffer_max - part->nbuffer;
    if (limit > e->cfg.read_batch) {
        limit = e->cfg.read_batch;
    }
    part->reading = 1;
    part->read_hi = part->written_level;
    part->read_limit = limit;
    e->inflight_ops++;
    e->ops.backlog->read(e->ops.backlog_ctx, &part->key, part->read_level, part->read_hi, limit,
                         td_mp_on_read, part);
}

/* The partition's deferred work: lease, dispatch, write, read. */
static void td_mp_on_kick(void *arg)
{
    td_mpart_t *part = arg;
    if (part->e->closing) {
        return;
    }
    if (part->lease == TD_ML_NONE) {
        td_mp_lease(part);
    }
    td_mp_dispatch(part);
    td_mp_write(part);
    td_mp_read(part);
}

/* ---- idle partitions ---- */

/* Whether a partition holds nothing but its lease: no poll, no task in memory or unread, no
 * call in flight, its ack level persisted, unused for idle_unload_ms. */
static int td_mp_idle(const td_mpart_t *part, int64_t now)
{
    return part->nwaiters == 0 && part->ninflight == 0 && part->nbuffer == 0 &&
           part->nwrites == 0 && td_ml_empty(&part->sync_q) && td_ml_empty(&part->query_q) &&
           td_ml_empty(&part->retry) && td_ml_empty(&part->outstanding) && part->norphans == 0 &&
           !part->writing && !part->reading && !part->completing && part->lease != TD_ML_LEASING &&
           part->read_level == part->written_level && part->ack_level == part->persisted_ack &&
           now - part->last_used_ms >= part->e->cfg.idle_unload_ms;
}

static void td_me_on_idle(void *arg)
{
    td_matching_engine_t *e = arg;
    int64_t now = td_now_mono_ms();
    int unloaded = 0;

    for (size_t i = 0; i < e->parts.nb; i++) {
        td_mh_ent_t **pp = &e->parts.b[i];
        while (*pp != NULL) {
            td_mpart_t *part = (td_mpart_t *)*pp;
            if (td_mp_idle(part, now)) {
                *pp = part->h.next;
                e->parts.n--;
                td_mp_free(part);
                unloaded++;
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    if (unloaded > 0) {
        td_log_debug("unloaded %d idle task queue partitions", unloaded);
    }
    td_timer_start(e->idle_timer, e->cfg.idle_unload_ms / 2 + 1);
}

/* ---- public API ---- */

td_matching_engine_t *td_matching_engine_new(td_loop_t *loop, const td_matching_config_t *cfg,
                                             const td_matching_ops_t *ops)
{
    td_matching_engine_t *e = td_calloc(1, sizeof(*e));
    e->loop = loop;
    if (cfg != NULL) {
        e->cfg = *cfg;
    } else {
        td_matching_config_init(&e->cfg);
    }
    if (e->cfg.write_batch < 1) {
        e->cfg.write_batch = 1;
    }
    if (e->cfg.read_batch < 1) {
        e->cfg.read_batch = 1;
    }
    if (e->cfg.buffer_max < 1) {
        e->cfg.buffer_max = 1;
    }
    if (e->cfg.range_size < 1) {
        e->cfg.range_size = 1;
    }
    e->ops = *ops;
    e->salt = (uint64_t)td_now_wall_ns() ^ ((uint64_t)getpid() << 32);
    e->idle_timer = td_timer_new(loop, td_me_on_idle, e);
    if (e->cfg.idle_unload_ms > 0) {
        td_timer_start(e->idle_timer, e->cfg.idle_unload_ms / 2 + 1);
    }
    return e;
}

static void td_me_finalize(void *arg)
{
    td_matching_engine_t *e = arg;
    td_loop_fn done = e->done;
    void *done_arg = e->done_arg;

    for (size_t i = 0; i < e->parts.nb; i++) {
        while (e->parts.b[i] != NULL) {
            td_mpart_t *part = (td_mpart_t *)e->parts.b[i];
            e->parts.b[i] = part->h.next;
            td_mp_free(part);
        }
    }
    td_free(e->parts.b);
    td_free(e->queries.b);
    td_timer_free(e->idle_timer);
    td_me_prune_gone(e, INT64_MAX);
    td_free(e);
    if (done != NULL) {
        done(done_arg);
    }
}

void td_matching_engine_close(td_matching_engine_t *e, td_loop_fn done, void *arg)
{
    if (e->closing) {
        return;
    }
    e->closing = 1;
    e->done = done;
    e->done_arg = arg;
    td_timer_stop(e->idle_timer);
    /* queries first: their queued tasks live on partition lists */
    for (size_t i = 0; i < e->queries.nb; i++) {
        while (e->queries.b[i] != NULL) {
            td_matching_query_t *q = (td_matching_query_t *)e->queries.b[i];
            td_match_query_cb cb = q->cb;
            void *cb_arg = q->arg;
            td_mq_finish(q);
            cb(cb_arg, TD_ECLOSED, NULL, 0);
        }
    }
    for (size_t i = 0; i < e->parts.nb; i++) {
        for (td_mh_ent_t *h = e->parts.b[i]; h != NULL; h = h->next) {
            td_mpart_t *part = (td_mpart_t *)h;
            td_mlink_t *l, *n;
            td_mp_stop_timers(part);
            while (!td_ml_empty(&part->waiters)) {
                td_matching_poll_t *p = TD_MCONTAINER(part->waiters.next, td_matching_poll_t, link);
                td_ml_remove(&p->link);
                part->nwaiters--;
                td_mpoll_answer(p, TD_ECLOSED, NULL);
            }
            td_mlink_t *adds[] = { &part->sync_q, &part->writes };
            for (size_t k = 0; k < TD_ARRAY_LEN(adds); k++) {
                while (!td_ml_empty(adds[k])) {
                    td_mtask_t *t = TD_MCONTAINER(adds[k]->next, td_mtask_t, q);
                    td_ml_remove(&t->q);
                    td_mt_answer_add(t, TD_ECLOSED);
                    td_mt_free(t);
                }
            }
            part->nwrites = 0;
            td_mp_drop_orphans(part, 1);
            /* persisted tasks stay in the backlog; free the memory copies not in flight */
            for (l = part->outstanding.next; l != &part->outstanding; l = n) {
                td_mtask_t *t = TD_MCONTAINER(l, td_mtask_t, out);
                n = l->next;
                if (t->state != TD_MT_RECORDING) {
                    td_mt_free(t);
                }
            }
            part->nbuffer = 0;
        }
    }
    if (e->inflight_ops == 0) {
        td_loop_post(e->loop, td_me_finalize, e);
    }
}

/* A sticky queue with no poll waiting and none seen within sticky_unavailable_ms. */
static int td_mp_sticky_unavailable(const td_mpart_t *part)
{
    const td_matching_config_t *c = &part->e->cfg;
    return part->key.kind == TD_MATCH_STICKY && c->sticky_unavailable_ms > 0 &&
           part->nwaiters == 0 &&
           (part->last_poll_ms == 0 ||
            td_now_mono_ms() - part->last_poll_ms > c->sticky_unavailable_ms);
}

int td_matching_add_task(td_matching_engine_t *e, const td_match_key_t *key,
                         const td_match_task_t *task, td_match_add_cb cb, void *arg)
{
    td_mpart_t *part;
    td_mtask_t *t;

    if (e->closing) {
        return TD_ECLOSED;
    }
    if (!td_match__key_valid(key) || task == NULL || task->query_id != NULL || cb == NULL) {
        return TD_EINVAL;
    }
    part = td_mp_get(e, key);
    if (td_mp_sticky_unavailable(part)) {
        return TD_EUNAVAIL; /* Temporal's StickyWorkerUnavailable */
    }
    t = td_mt_new(part, task);
    t->t->task_id = 0;
    if (t->t->create_time_ns == 0) {
        t->t->create_time_ns = td_now_wall_ns();
    }
    t->add_cb = cb;
    t->add_arg = arg;
    if (part->nwaiters > 0) {
        t->state = TD_MT_SYNC;
        td_ml_push_tail(&part->sync_q, &t->q);
    } else {
        t->state = TD_MT_WRITING;
        td_ml_push_tail(&part->writes, &t->q);
        part->nwrites++;
    }
    td_mp_kick(part);
    return TD_OK;
}

int td_matching_poll(td_matching_engine_t *e, const td_match_key_t *key,
                     const td_match_poll_req_t *req, td_match_poll_cb cb, void *arg,
                     td_matching_poll_t **out)
{
    td_mpart_t *part;
    td_matching_poll_t *p;
    int64_t now = td_now_mono_ms(), wait;
    int rc;

    *out = NULL;
    if (e->closing) {
        return TD_ECLOSED;
    }
    if (!td_match__key_valid(key) || req == NULL || cb == NULL) {
        return TD_EINVAL;
    }
    if (req->deadline_ms > 0) {
        rc = td_matching_check_deadline(now, req->deadline_ms, e->cfg.min_poll_timeout_ms, NULL);
        if (rc != TD_OK) {
            return rc;
        }
    }
    if (req->worker_key != NULL && td_me_worker_gone(e, req->worker_key, now)) {
        /* it crossed its worker's ShutdownWorker: never offered a task (nobody would run it) */
        return TD_ECANCELED;
    }
    part = td_mp_get(e, key);
    wait = e->cfg.long_poll_ms;
    if (req->deadline_ms > 0 && req->deadline_ms - e->cfg.empty_budget_ms - now < wait) {
        wait = req->deadline_ms - e->cfg.empty_budget_ms - now;
    }
    p = td_calloc(1, sizeof(*p));
    td_ml_init(&p->link);
    p->part = part;
    p->state = TD_MP_WAITING;
    p->cb = cb;
    p->arg = arg;
    p->identity = td_strdup(req->identity != NULL ? req->identity : "");
    p->worker_key = td_strdup(req->worker_key != NULL ? req->worker_key : "");
    p->ctx = req->ctx;
    p->timer = td_timer_new(e->loop, td_mpoll_on_expire, p);
    p->expire_at_ms = now + wait;
    td_timer_start(p->timer, wait);
    td_ml_push_tail(&part->waiters, &p->link);
    part->nwaiters++;
    part->last_poll_ms = now;
    td_mp_note_poller(part, p->identity, req->rate_per_second);
    td_mp_kick(part);
    *out = p;
    return TD_OK;
}

void td_matching_poll_cancel(td_matching_poll_t *p)
{
    if (p == NULL) {
        return;
    }
    if (p->state == TD_MP_WAITING) {
        td_mpoll_unlink(p);
        p->part->last_poll_ms = td_now_mono_ms();
        td_mpoll_free(p);
    } else if (p->state == TD_MP_RECORDING) {
        p->state = TD_MP_CANCELLED; /* td_mp_on_started frees it */
    }
}

/* Forgets shut-down workers whose time is up; the list is newest first. */
static void td_me_prune_gone(td_matching_engine_t *e, int64_t now)
{
    td_mgone_t **pp = &e->gone_workers;

    while (*pp != NULL && (*pp)->until_ms > now) {
        pp = &(*pp)->next;
    }
    while (*pp != NULL) {
        td_mgone_t *g = *pp;
        *pp = g->next;
        e->n_gone_workers--;
        td_free(g);
    }
}

static int td_me_worker_gone(td_matching_engine_t *e, const char *worker_key, int64_t now)
{
    if (worker_key[0] == '\0') {
        return 0;
    }
    td_me_prune_gone(e, now);
    for (const td_mgone_t *g = e->gone_workers; g != NULL; g = g->next) {
        if (strcmp(g->key, worker_key) == 0) {
            return 1;
        }
    }
    return 0;
}

int td_matching_cancel_worker_polls(td_matching_engine_t *e, const char *worker_key)
{
    int64_t now = td_now_mono_ms();
    td_mlink_t gone;
    size_t klen;
    td_mgone_t *g;
    int n = 0;

    if (e->closing || worker_key == NULL || worker_key[0] == '\0') {
        return 0;
    }
    if (!td_me_worker_gone(e, worker_key, now)) {
        if (e->n_gone_workers >= TD_MATCHING_GONE_WORKERS_MAX) {
            td_mgone_t **pp = &e->gone_workers; /* drop the oldest */
            while ((*pp)->next != NULL) {
                pp = &(*pp)->next;
            }
            td_free(*pp);
            *pp = NULL;
            e->n_gone_workers--;
        }
        klen = strlen(worker_key);
        g = td_malloc(sizeof(*g) + klen + 1);
        memcpy(g->key, worker_key, klen + 1);
        g->until_ms = now + TD_MATCHING_GONE_WORKER_MS;
        g->next = e->gone_workers;
        e->gone_workers = g;
        e->n_gone_workers++;
    }
    /* detach first: an answer's callback may poll again (that poll is answered at once) */
    td_ml_init(&gone);
    for (size_t b = 0; b < e->parts.nb; b++) {
        for (td_mh_ent_t *h = e->parts.b[b]; h != NULL; h = h->next) {
            td_mpart_t *part = (td_mpart_t *)h;
            td_mlink_t *l = part->waiters.next, *next;
            for (; l != &part->waiters; l = next) {
                td_matching_poll_t *p = TD_MCONTAINER(l, td_matching_poll_t, link);
                next = l->next;
                if (strcmp(p->worker_key, worker_key) == 0) {
                    td_ml_remove(&p->link);
                    part->nwaiters--;
                    td_ml_push_tail(&gone, &p->link);
                }
            }
        }
    }
    while (!td_ml_empty(&gone)) {
        td_matching_poll_t *p = TD_MCONTAINER(gone.next, td_matching_poll_t, link);
        td_ml_remove(&p->link);
        td_mpoll_answer(p, TD_OK, NULL);
        n++;
    }
    return n;
}

void td_matching_unload_sticky(td_matching_engine_t *e, const td_match_key_t *key)
{
    td_mpart_t *part = td_mp_find(e, key);
    td_mlink_t gone;

    if (e->closing || part == NULL) {
        return;
    }
    /* detach first: a callback may poll again (that poll is new and stays) */
    td_ml_init(&gone);
    if (!td_ml_empty(&part->waiters)) {
        gone.next = part->waiters.next;
        gone.prev = part->waiters.prev;
        gone.next->prev = &gone;
        gone.prev->next = &gone;
        td_ml_init(&part->waiters);
    }
    part->nwaiters = 0;
    while (!td_ml_empty(&gone)) {
        td_matching_poll_t *p = TD_MCONTAINER(gone.next, td_matching_poll_t, link);
        td_ml_remove(&p->link);
        td_mpoll_answer(p, TD_OK, NULL);
    }
    if (part->nwaiters == 0) {
        part->last_poll_ms = 0; /* adds fail TD_EUNAVAIL: history uses the normal queue */
        part->npollers = 0;
    }
}

int td_matching_release_polls(td_matching_engine_t *e,
                              int (*keep)(void *arg, const td_match_key_t *key), void *arg)
{
    int ended = 0;

    if (e->closing) {
        return 0;
    }
    for (size_t i = 0; i < e->parts.nb; i++) {
        for (td_mh_ent_t *h = e->parts.b[i]; h != NULL; h = h->next) {
            td_mpart_t *part = (td_mpart_t *)h;
            td_mlink_t gone;

            if (part->nwaiters == 0 || keep(arg, &part->key)) {
                continue;
            }
            /* detach first: an answer's callback may poll again (that poll stays) */
            td_ml_init(&gone);
            gone.next = part->waiters.next;
            gone.prev = part->waiters.prev;
            gone.next->prev = &gone;
            gone.prev->next = &gone;
            td_ml_init(&part->waiters);
            part->nwaiters = 0;
            while (!td_ml_empty(&gone)) {
                td_matching_poll_t *p = TD_MCONTAINER(gone.next, td_matching_poll_t, link);
                td_ml_remove(&p->link);
                td_mpoll_answer(p, TD_OK, NULL);
                ended++;
            }
        }
    }
    return ended;
}

/* ---- queries ---- */

/* Removes a query from the registry and frees it with its queued task (a task being
 * recorded is left to td_mp_on_started, orphaned). Does not call cb. */
static void td_mq_finish(td_matching_query_t *q)
{
    td_mtask_t *t = q->task;
    td_mh_del(&q->e->queries, &q->h);
    if (t != NULL) {
        t->query = NULL;
        if (t->state != TD_MT_RECORDING) {
            td_mt_free(t);
        }
    }
    td_timer_free(q->timer);
    td_free(q);
}

static void td_mq_on_timeout(void *arg)
{
    td_matching_query_t *q = arg;
    td_match_query_cb cb = q->cb;
    void *cb_arg = q->arg;
    td_mq_finish(q);
    cb(cb_arg, TD_ETIMEDOUT, NULL, 0);
}

int td_matching_query(td_matching_engine_t *e, const td_match_key_t *key,
                      const td_match_task_t *task, int64_t timeout_ms, td_match_query_cb cb,
                      void *arg, td_matching_query_t **out)
{
    td_matching_query_t *q;
    td_match_task_t copy;
    td_mpart_t *part;
    td_mtask_t *t;

    *out = NULL;
    if (e->closing) {
        return TD_ECLOSED;
    }
    if (!td_match__key_valid(key) || key->type != TD_MATCH_WORKFLOW || task == NULL || cb == NULL ||
        timeout_ms <= 0) {
        return TD_EINVAL;
    }
    part = td_mp_get(e, key);
    if (td_mp_sticky_unavailable(part)) {
        return TD_EUNAVAIL; /* history retries on the normal queue */
    }
    q = td_calloc(1, sizeof(*q));
    q->e = e;
    snprintf(q->id, sizeof(q->id), "%016" PRIx64 "%016" PRIx64, e->salt, ++e->seq);
    q->h.key = q->id;
    q->cb = cb;
    q->arg = arg;
    copy = *task;
    copy.query_id = q->id;
    copy.task_id = 0;
    t = td_mt_new(part, &copy);
    t->query = q;
    t->state = TD_MT_READY;
    q->task = t;
    q->timer = td_timer_new(e->loop, td_mq_on_timeout, q);
    td_timer_start(q->timer, timeout_ms);
    td_mh_put(&e->queries, &q->h);
    td_ml_push_tail(&part->query_q, &t->q);
    td_mp_kick(part);
    *out = q;
    return TD_OK;
}

const char *td_matching_query_id(const td_matching_query_t *q)
{
    return q->id;
}

void td_matching_query_cancel(td_matching_query_t *q)
{
    if (q != NULL) {
        td_mq_finish(q);
    }
}

int td_matching_respond_query(td_matching_engine_t *e, const char *query_id, int err,
                              const uint8_t *data, size_t len)
{
    td_matching_query_t *q =
            query_id != NULL ? (td_matching_query_t *)td_mh_find(&e->queries, query_id) : NULL;
    td_match_query_cb cb;
    void *cb_arg;

    if (q == NULL) {
        return TD_ENOTFOUND;
    }
    cb = q->cb;
    cb_arg = q->arg;
    td_mq_finish(q);
    cb(cb_arg, err, data, len);
    return TD_OK;
}

/* ---- introspection ---- */

void td_matching_stats(td_matching_engine_t *e, const td_match_key_t *key, td_match_stats_t *st)
{
    td_mpart_t *part = td_mp_find(e, key);
    memset(st, 0, sizeof(*st));
    if (part == NULL) {
        return;
    }
    st->exists = 1;
    st->leased = part->lease == TD_ML_LEASED;
    st->range_id = part->range_id;
    st->ack_level = part->ack_level;
    st->read_level = part->read_level;
    st->written_level = part->written_level;
    st->backlog_hint = part->nbuffer + (part->written_level - part->read_level) + part->nwrites;
    st->waiting_polls = part->nwaiters;
    st->inflight = part->ninflight;
    st->tasks_dispatched = part->dispatched;
    st->sync_matched = part->sync_matched;
    st->persisted = part->persisted;
    st->dropped = part->dropped;
    st->redelivered = part->redelivered;
    st->orphans_lost = part->orphans_lost;
}

void td_matching_each(td_matching_engine_t *e,
                      void (*fn)(const td_match_key_t *key, const td_match_stats_t *st, void *ud),
                      void *ud)
{
    for (size_t b = 0; b < e->parts.nb; b++) {
        for (td_mh_ent_t *ent = e->parts.b[b]; ent != NULL; ent = ent->next) {
            td_mpart_t *part = (td_mpart_t *)ent;
            td_match_stats_t st;
            td_matching_stats(e, &part->key, &st);
            fn(&part->key, &st, ud);
        }
    }
}

int td_matching_pollers(td_matching_engine_t *e, const td_match_key_t *key,
                        td_match_poller_info_t *out, int max)
{
    td_mpart_t *part = td_mp_find(e, key);
    int64_t now = td_now_wall_ns();
    int n = 0;

    if (part == NULL) {
        return 0;
    }
    for (int i = part->npollers - 1; i >= 0 && n < max; i--) {
        if (now - part->pollers[i].last_access_ns <= e->cfg.poller_ttl_ms * 1000000LL) {
            out[n++] = part->pollers[i];
        }
    }
    /* newest first */
    for (int i = 1; i < n; i++) {
        td_match_poller_info_t x = out[i];
        int j = i;
        while (j > 0 && out[j - 1].last_access_ns < x.last_access_ns) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = x;
    }
    return n;
}
