/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The history role: history shards: workflow mutable state, events, and the transfer, timer and
 * visibility queues. This file holds the role descriptor and its lifecycle (acquire the shards,
 * register the HistoryService methods, drain, free); the work lives beside it in hist_*.c
 * (see hist_int.h for the design notes) and the workflow state machine in ms/ (design notes
 * in ms/ms.h).
 */
#define TD_LOG_COMPONENT "history"

#include "roles/role.h"

#include "cluster/ring.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "roles/history/hist.h"
#include "roles/history/hist_int.h"
#include "roles/svc.h"
#include "server.h"

#define TD_HIST_DRAIN_POLL_MS 10

static int td_history_init(td_server_t *srv, void **state)
{
    td_hist_t *h = td_calloc(1, sizeof(*h));

    h->srv = srv;
    h->loop = srv->loop;
    h->nshards = srv->config != NULL && srv->config->num_history_shards > 0
                         ? srv->config->num_history_shards
                         : 1;
    h->long_poll_ms = td_config_dyn_ms(srv->config, "history.longPollExpirationInterval", 20000);
    h->cache_max = td_config_dyn_int(srv->config, "history.cacheMaxSize", 8192);
    td_hist__limits_load(&h->limits, srv->config);
    if (h->cache_max < 1) {
        h->cache_max = 1;
    }
    h->evc.budget = srv->config != NULL ? (size_t)srv->config->history_events_cache_mib << 20 : 0;
    *state = h;
    return TD_OK;
}

/* numshards_gauge: the shards this process owns (Temporal's name). */
static void td_history_collect(td_metrics_out_t *o, void *ud)
{
    td_hist_t *h = ud;
    int owned = 0;
    for (int i = 0; h->shards != NULL && i < h->nshards; i++) {
        owned += h->shards[i].state == TD_HIST_SHARD_OWNED ||
                 h->shards[i].state == TD_HIST_SHARD_RENEWING;
    }
    td_metrics_sample(o, "numshards_gauge", "gauge", "History shards owned by this process",
                      "service_name=\"history\"", owned);
}

static int td_history_start(void *state)
{
    td_hist_t *h = state;
    int rc;

    h->store = h->srv->store;
    if (h->store == NULL) {
        /* Until server.c opens the store, the role cannot serve; its methods stay
         * unregistered, so callers get UNAVAILABLE naming the path. */
        td_log_warn("no store is open: the history role does not serve");
        return TD_OK;
    }
    h->running = 1;
    td_metrics_add_collector(td_history_collect, h);
    rc = td_hist__register(h);
    if (rc != TD_OK) {
        td_log_error("registering the history service failed: %s", td_strerror(rc));
        return rc;
    }
    td_hist__shards_start(h);
    td_log_debug("started with %d shard(s)", h->nshards);
    return TD_OK;
}

typedef struct {
    td_hist_t *h;
    td_loop_fn done;
    void *arg;
    td_timer_t *timer;
} td_hist_drain_t;

static void td_history_drain_poll(void *arg)
{
    td_hist_drain_t *d = arg;

    if (d->h->inflight > 0) {
        td_timer_start(d->timer, TD_HIST_DRAIN_POLL_MS);
        return;
    }
    td_timer_free(d->timer);
    d->done(d->arg);
    td_free(d);
}

static void td_history_drain(void *state, td_loop_fn done, void *arg)
{
    td_hist_t *h = state;
    td_hist_drain_t *d;

    h->running = 0;
    /* Parked history long polls answer now (an empty page with a token to continue) rather
     * than hold the drain for up to history.longPollExpirationInterval. */
    td_hist__ctx_expire_waiters(h);
    if (h->inflight == 0) {
        done(arg);
        return;
    }
    /* Store requests and dispatches in flight call back into us: wait for them. */
    d = td_calloc(1, sizeof(*d));
    d->h = h;
    d->done = done;
    d->arg = arg;
    d->timer = td_timer_new(h->loop, td_history_drain_poll, d);
    td_timer_start(d->timer, TD_HIST_DRAIN_POLL_MS);
}

static void td_history_stop(void *state)
{
    td_hist_t *h = state;

    if (h == NULL) {
        return;
    }
    h->running = 0;
    td_metrics_remove_collector(td_history_collect, h);
    td_hist__ctx_free_all(h);
    td_hist__shards_free(h);
    td_free(h);
}

int td_hist_ready(const void *role_state)
{
    const td_hist_t *h = role_state;

    if (h == NULL || h->shards == NULL) {
        return 0;
    }
    {
        td_ring_t *ring = td_svc_ring(h->srv, TD_ROLE_HISTORY);
        for (int i = 0; i < h->nshards; i++) {
            const td_ring_owner_t *o = ring != NULL ? td_ring_lookup_shard(ring, i + 1) : NULL;
            if ((ring == NULL || (o != NULL && o->self)) &&
                h->shards[i].state != TD_HIST_SHARD_OWNED) {
                return 0;
            }
        }
    }
    return 1;
}

int td_hist_idle(const void *role_state)
{
    const td_hist_t *h = role_state;

    if (h->inflight > 0) {
        return 0;
    }
    for (size_t b = 0; b < h->nbuckets; b++) {
        for (const td_hist_ctx_t *c = h->buckets[b]; c != NULL; c = c->hnext) {
            if (c->head != NULL || c->running) {
                return 0;
            }
        }
    }
    return 1;
}

void td_hist_drop_cache(void *role_state)
{
    td_hist__ctx_drop_states(role_state);
}

int td_hist_shard_of(const char *namespace_id, const char *workflow_id, int num_shards)
{
    return (int)(td_hist__hash(namespace_id, workflow_id) % (uint32_t)num_shards) + 1;
}

void td_hist_test_exhaust_ids(void *role_state, int64_t left)
{
    td_hist_t *h = role_state;

    for (int i = 0; i < h->nshards; i++) {
        h->shards[i].next_seq = TD_HIST_SEQ_MAX - left + 1;
    }
}

const td_role_t td_role_history = {
    "history",        TD_ROLE_HISTORY,  td_history_init,
    td_history_start, td_history_drain, td_history_stop,
};
