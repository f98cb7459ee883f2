/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The events cache: the committed history of the run a workflow context last wrote, kept as
 * the encoded batches the store was given (one temporal.api.history.v1.History per batch), so
 * that handing out a workflow task, starting an activity, following a cross-workflow task or
 * answering GetWorkflowExecutionHistory for that run decodes them from memory instead of
 * reading the store; a workflow task's history can even pass through still packed (see
 * td_hist__evc_raw). It never interprets events: any event type is carried as bytes. It is
 * bounded by history.events_cache_mib (least recently used runs go first) and owned by the
 * contexts (hist_ctx.c): a context's entry dies with it. Loop thread only.
 *
 * Design notes
 * ============
 *
 *   Invariants: an entry holds exactly the batches of one run with ids [lo, hi), contiguous,
 *   every one of them committed (appended only after the store acknowledged the write). A read
 *   is served only when [min, max) lies inside [lo, hi); anything else -- a gap, a batch that
 *   does not decode or does not hold the ids it claims, a run it never saw -- is a miss and the
 *   caller reads the store. At most one entry per context, at most one per run id.
 *
 *                 write of events 1.. committed          write at hi committed
 *     (no entry) ----------------------------------> CACHED <-----------------+
 *         ^                                            |  |                    |
 *         |  dropped: failed write, context evicted,   |  +--------------------+
 *         |  run deleted, budget, a gap or bad batch   |
 *         +--------------------------------------------+
 *
 *   FROM     -> TO        [function]
 *   (none)   -> CACHED    [td_hist__evc_committed (a batch starting at event 1)]
 *   CACHED   -> CACHED    [td_hist__evc_committed (a batch starting at hi)]
 *   CACHED   -> (none)    [td_hist__evc_drop (failed write, context freed or states dropped),
 *                          td_hist__evc_forget (run deleted), td_hist__evc_committed (a batch
 *                          of the run not at hi; budget), td_hist__evc_read (bad batch)]
 */
#define TD_LOG_COMPONENT "history"

#include <string.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "roles/history/hist_int.h"

#define TD_HIST_EVC_NBUCKETS 4096

typedef struct {
    int64_t first;
    int32_t count;
    size_t len;
    uint8_t data[];
} td_hist_evc_batch_t;

struct td_hist_evc_s {
    td_hist_ctx_t *ctx;
    char *run_id;
    int64_t lo, hi; /* cached event ids: [lo, hi) */
    td_hist_evc_batch_t **v;
    size_t n, cap;
    size_t bytes; /* counted against the budget */
    td_hist_evc_t *hnext;
    td_hist_evc_t *lprev, *lnext; /* lprev toward the most recently used */
};

static uint32_t td_hist_evc_hash(const char *s)
{
    uint32_t x = 2166136261u;
    for (; *s != 0; s++) {
        x = (x ^ (uint8_t)*s) * 16777619u;
    }
    return x;
}

static td_hist_evc_t **td_hist_evc_slot(td_hist_evcache_t *ec, const char *run_id)
{
    return &ec->buckets[td_hist_evc_hash(run_id) % ec->nbuckets];
}

static td_hist_evc_t *td_hist_evc_find(td_hist_evcache_t *ec, const char *run_id)
{
    if (ec->buckets == NULL || run_id == NULL) {
        return NULL;
    }
    for (td_hist_evc_t *e = *td_hist_evc_slot(ec, run_id); e != NULL; e = e->hnext) {
        if (strcmp(e->run_id, run_id) == 0) {
            return e;
        }
    }
    return NULL;
}

static void td_hist_evc_lru_unlink(td_hist_evcache_t *ec, td_hist_evc_t *e)
{
    if (e->lprev != NULL) {
        e->lprev->lnext = e->lnext;
    } else {
        ec->lru_head = e->lnext;
    }
    if (e->lnext != NULL) {
        e->lnext->lprev = e->lprev;
    } else {
        ec->lru_tail = e->lprev;
    }
    e->lprev = e->lnext = NULL;
}

static void td_hist_evc_lru_front(td_hist_evcache_t *ec, td_hist_evc_t *e)
{
    if (ec->lru_head == e) {
        return;
    }
    if (e->lprev != NULL || e->lnext != NULL || ec->lru_tail == e) {
        td_hist_evc_lru_unlink(ec, e);
    }
    e->lnext = ec->lru_head;
    if (ec->lru_head != NULL) {
        ec->lru_head->lprev = e;
    }
    ec->lru_head = e;
    if (ec->lru_tail == NULL) {
        ec->lru_tail = e;
    }
}

/* Unlinks and frees an entry (its context forgets it). */
static void td_hist_evc_free(td_hist_evcache_t *ec, td_hist_evc_t *e)
{
    td_hist_evc_t **pp = td_hist_evc_slot(ec, e->run_id);

    for (; *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == e) {
            *pp = e->hnext;
            break;
        }
    }
    td_hist_evc_lru_unlink(ec, e);
    if (e->ctx != NULL && e->ctx->evc == e) {
        e->ctx->evc = NULL;
    }
    ec->bytes -= e->bytes;
    ec->n_runs--;
    for (size_t i = 0; i < e->n; i++) {
        td_free(e->v[i]);
    }
    td_free(e->v);
    td_free(e->run_id);
    td_free(e);
}

static td_hist_evc_t *td_hist_evc_new(td_hist_evcache_t *ec, td_hist_ctx_t *c, const char *run_id,
                                      int64_t lo)
{
    td_hist_evc_t *e = td_calloc(1, sizeof(*e));
    td_hist_evc_t **slot;

    if (ec->buckets == NULL) {
        ec->nbuckets = TD_HIST_EVC_NBUCKETS;
        ec->buckets = td_calloc(ec->nbuckets, sizeof(*ec->buckets));
    }
    e->ctx = c;
    e->run_id = td_strdup(run_id);
    e->lo = e->hi = lo;
    e->bytes = sizeof(*e) + strlen(run_id) + 1;
    slot = td_hist_evc_slot(ec, run_id);
    e->hnext = *slot;
    *slot = e;
    ec->bytes += e->bytes;
    ec->n_runs++;
    c->evc = e;
    td_hist_evc_lru_front(ec, e);
    return e;
}

static void td_hist_evc_append(td_hist_evcache_t *ec, td_hist_evc_t *e,
                               const td_store_history_batch_t *b)
{
    td_hist_evc_batch_t *x = td_malloc(sizeof(*x) + b->events.len);
    size_t add = sizeof(*x) + b->events.len;

    x->first = b->first_event_id;
    x->count = b->event_count;
    x->len = b->events.len;
    memcpy(x->data, b->events.data, b->events.len);
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        e->v = td_realloc(e->v, cap * sizeof(*e->v));
        add += (cap - e->cap) * sizeof(*e->v);
        e->cap = cap;
    }
    e->v[e->n++] = x;
    e->hi = b->first_event_id + b->event_count;
    e->bytes += add;
    ec->bytes += add;
    td_hist_evc_lru_front(ec, e);
}

void td_hist__evc_drop(td_hist_ctx_t *c)
{
    if (c->evc != NULL) {
        td_hist_evcache_t *ec = &c->shard->h->evc;
        ec->drops++;
        td_hist_evc_free(ec, c->evc);
    }
}

void td_hist__evc_forget(td_hist_t *h, const char *run_id)
{
    td_hist_evc_t *e = td_hist_evc_find(&h->evc, run_id);

    if (e != NULL) {
        h->evc.drops++;
        td_hist_evc_free(&h->evc, e);
    }
}

void td_hist__evc_committed(td_hist_ctx_t *c, const td_store_history_batch_t *b, int n)
{
    td_hist_evcache_t *ec = &c->shard->h->evc;

    for (int i = 0; i < n; i++) {
        const td_store_history_batch_t *x = &b[i];
        td_hist_evc_t *e = c->evc;
        int ok = x->tree_id != NULL && x->branch_id != NULL &&
                 strcmp(x->tree_id, x->branch_id) == 0 && x->event_count > 0 &&
                 x->events.encoding == TD_STORE_ENC_PROTO3 && x->events.data != NULL;

        if (e != NULL && x->tree_id != NULL && strcmp(e->run_id, x->tree_id) == 0) {
            if (ok && x->first_event_id == e->hi) {
                td_hist_evc_append(ec, e, x);
            } else {
                td_hist__evc_drop(c); /* a gap: what came before is not known here */
            }
            continue;
        }
        if (!ok || x->first_event_id != 1 || ec->budget == 0) {
            /* Events of a run this context does not cache (or the cache is off): if some
             * other entry held that run it would be stale, so make sure none does. */
            if (x->tree_id != NULL) {
                td_hist__evc_forget(c->shard->h, x->tree_id);
            }
            continue;
        }
        /* A new run: it replaces whatever run the context cached. */
        td_hist__evc_drop(c);
        td_hist__evc_forget(c->shard->h, x->tree_id);
        td_hist_evc_append(ec, td_hist_evc_new(ec, c, x->tree_id, 1), x);
    }
    while (ec->bytes > ec->budget && ec->lru_tail != NULL) {
        ec->evictions++;
        td_hist_evc_free(ec, ec->lru_tail);
    }
}

/* The last batch whose first event id is <= id (the caller made sure id >= e->lo). */
static size_t td_hist_evc_find_batch(const td_hist_evc_t *e, int64_t id)
{
    size_t lo = 0, hi = e->n;

    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->v[mid]->first <= id) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

int td_hist__evc_read(td_hist_t *h, td_arena_t *a, const char *run_id, int64_t min, int64_t max,
                      int page, td_ms_event_t ***ev_out, size_t *n_out, int64_t *next_out)
{
    td_hist_evcache_t *ec = &h->evc;
    td_hist_evc_t *e = td_hist_evc_find(ec, run_id);
    td_ms_event_t **ev = NULL;
    size_t n = 0, cap = 0;
    int64_t events = 0, last = 0;
    int more = 0;

    if (e == NULL || e->n == 0 || min < e->lo || max <= min || max > e->hi) {
        ec->misses++;
        return 0;
    }
    for (size_t i = td_hist_evc_find_batch(e, min); i < e->n && e->v[i]->first < max; i++) {
        const td_hist_evc_batch_t *x = e->v[i];
        Temporal__Api__History__V1__History *hist;

        if (page > 0 && events >= page) {
            more = 1;
            break;
        }
        hist = td_hist__unblob(a, x->data, x->len,
                               &temporal__api__history__v1__history__descriptor);
        if (hist == NULL || hist->n_events != (size_t)x->count) {
            goto bad;
        }
        for (size_t j = 0; j < hist->n_events; j++) {
            td_ms_event_t *v = hist->events[j];
            if (v == NULL || v->event_id != x->first + (int64_t)j) {
                goto bad;
            }
            if (v->event_id < min || v->event_id >= max) {
                continue;
            }
            if (n == cap) {
                td_ms_event_t **nv;
                cap = cap ? cap * 2 : 64;
                nv = td_arena_alloc(a, cap * sizeof(*nv));
                if (n > 0) {
                    memcpy(nv, ev, n * sizeof(*nv));
                }
                ev = nv;
            }
            ev[n++] = v;
            last = v->event_id;
        }
        events += x->count;
    }
    ec->hits++;
    td_hist_evc_lru_front(ec, e);
    *ev_out = ev;
    *n_out = n;
    *next_out = more && last > 0 ? last + 1 : 0;
    return 1;

bad:
    /* Not what was written: forget the run here and let the store answer. */
    td_log_warn("events cache: a cached batch of run %s does not decode as written; dropped",
                run_id);
    ec->misses++;
    ec->drops++;
    td_hist_evc_free(ec, e);
    return 0;
}

int td_hist__evc_raw(td_hist_t *h, td_arena_t *a, const char *run_id, int64_t min, int64_t max,
                     td_pb_slice_t **parts_out, size_t *n_out)
{
    td_hist_evcache_t *ec = &h->evc;
    td_hist_evc_t *e = td_hist_evc_find(ec, run_id);
    size_t i, j;
    td_pb_slice_t *parts;

    if (e == NULL || e->n == 0 || min < e->lo || max <= min || max > e->hi) {
        return 0;
    }
    i = td_hist_evc_find_batch(e, min);
    if (e->v[i]->first != min) {
        return 0; /* min falls inside a batch: only whole batches pass through packed */
    }
    for (j = i; j < e->n && e->v[j]->first < max; j++) {
    }
    if ((j < e->n ? e->v[j]->first : e->hi) != max) {
        return 0;
    }
    parts = td_arena_alloc(a, sizeof(*parts) * (j - i));
    for (size_t k = i; k < j; k++) {
        parts[k - i].data = e->v[k]->data;
        parts[k - i].len = e->v[k]->len;
    }
    ec->hits++;
    td_hist_evc_lru_front(ec, e);
    *parts_out = parts;
    *n_out = j - i;
    return 1;
}

void td_hist__evc_free_all(td_hist_t *h)
{
    td_hist_evcache_t *ec = &h->evc;

    while (ec->lru_head != NULL) {
        td_hist_evc_free(ec, ec->lru_head);
    }
    td_free(ec->buckets);
    ec->buckets = NULL;
    ec->nbuckets = 0;
}
