/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The matching role: the descriptor and lifecycle around the matching engine (engine.h).
 * init creates the engine over the server's store (match_store.h) with history reached
 * through mr_record.c; start registers the MatchingService methods (mr_service.c) with the
 * server's internal services; drain closes the engine (waiting polls are answered, tasks
 * being recorded finish) and stop frees what is left. Not the work itself: that lives in the
 * engine and the mr_*.c files. Called by server.c only, on the loop thread.
 *
 * Design notes: the role instance.
 *
 *     INITED --start--> RUNNING --drain--> CLOSING --engine done--> CLOSED
 *        |                                                            |
 *        +--drain (never started)--> CLOSING                    stop: freed
 *
 *   FROM    -> TO      [function]
 *   (none)  -> INITED  [td_matching_init: engine created, methods not yet served]
 *   INITED  -> RUNNING [td_matching_start: methods registered]
 *   RUNNING -> CLOSING [td_matching_drain: td_matching_engine_close]
 *   CLOSING -> CLOSED  [td_matching_closed: engine freed, drain's done called]
 *   any     -> freed   [td_matching_stop]
 *
 * Invariants: r->engine is non-NULL until the engine's close completed; handlers refuse new
 * calls (UNAVAILABLE) once closing is set; the methods stay registered until the server
 * frees its internal service table, so a late call is refused rather than lost.
 */
#define TD_LOG_COMPONENT "matching"

#include "roles/role.h"

#include <stdio.h>

#include "cluster/ring.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "roles/nsreg.h"
#include "roles/matching/match_store.h"
#include "roles/matching/mr_int.h"
#include "roles/svc.h"
#include "server.h"

/* After a ring change, partitions that moved to another matching host are given up after
 * this delay (if still not ours): their waiting polls end empty, so the pollers poll again
 * and reach the new owner, whose lease (range_id + 1) fences any write of ours. The
 * partition itself unloads when idle. */
#define TD_MR_UNLOAD_DELAY_MS 500

static int td_mr_keeps(void *arg, const td_match_key_t *key)
{
    td_mr_t *r = arg;
    td_ring_t *ring = td_svc_ring(r->srv, TD_ROLE_MATCHING);
    const td_ring_owner_t *o;
    char k[600];

    td_svc_matching_key(key->namespace_id, key->name, k, sizeof(k));
    o = ring != NULL ? td_ring_lookup(ring, k) : NULL;
    return o == NULL || o->self;
}

static void td_mr_unload_moved(void *arg)
{
    td_mr_t *r = arg;
    int n;

    if (r->engine == NULL || !r->running) {
        return;
    }
    n = td_matching_release_polls(r->engine, td_mr_keeps, r);
    if (n > 0) {
        td_log_info("matching ring changed: %d poll(s) on task queues now owned elsewhere "
                    "answered empty",
                    n);
    }
}

static void td_mr_ring_changed(void *arg)
{
    td_mr_t *r = arg;
    td_timer_start(r->unload_timer, TD_MR_UNLOAD_DELAY_MS);
}

static int td_matching_init(td_server_t *srv, void **state)
{
    td_mr_t *r = NULL;
    int rc = TD_OK;

    *state = NULL;
    if (srv->store == NULL) {
        td_log_error("the matching role needs the store, which is not open");
        rc = TD_EINVAL;
        goto out;
    }
    r = td_calloc(1, sizeof(*r));
    r->srv = srv;
    td_matching_config_from(&r->cfg, srv->config);
    /* the frontend checked the caller's deadline (2 s minimum) and took 1 s off it */
    r->cfg.min_poll_timeout_ms = TD_MR_MIN_POLL_MS;
    r->ops.backlog = &td_match_store_ops;
    r->ops.backlog_ctx = srv->store;
    r->ops.history = &td_mr__history_ops;
    r->ops.history_ctx = r;
    r->engine = td_matching_engine_new(srv->loop, &r->cfg, &r->ops);
    *state = r;
out:
    return rc;
}

/* Task-queue gauges and counters per partition, with Temporal's names and labels. */
typedef struct {
    td_mr_t *r;
    td_metrics_out_t *o;
    int family;
} td_mr_collect_t;

static void td_mr_collect_one(const td_match_key_t *key, const td_match_stats_t *st, void *ud)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        { "poll_success_sync", "counter", "Tasks handed straight to a waiting poller" },
        { "poll_success", "counter", "Tasks handed to pollers" },
        { "persisted_tasks", "counter", "Tasks written to the backlog" },
        { "approximate_backlog_count", "gauge", "Tasks waiting in the backlog" },
        { "poller_waiting", "gauge", "Polls waiting for a task" },
    };
    td_mr_collect_t *c = ud;
    const td_ns_t *ns = c->r->srv != NULL && c->r->srv->nsreg != NULL
                                ? td_nsreg_by_id(c->r->srv->nsreg, key->namespace_id)
                                : NULL;
    char nsname[256], tq[512], labels[1024];
    double v[] = { (double)st->sync_matched, (double)st->tasks_dispatched, (double)st->persisted,
                   (double)st->backlog_hint, (double)st->waiting_polls };
    td_metrics_escape(ns != NULL ? ns->name : key->namespace_id, nsname, sizeof(nsname));
    td_metrics_escape(key->name, tq, sizeof(tq));
    snprintf(labels, sizeof(labels), "namespace=\"%s\",taskqueue=\"%s\",task_type=\"%s\"", nsname,
             tq, key->type == TD_MATCH_WORKFLOW ? "Workflow" : "Activity");
    td_metrics_sample(c->o, fam[c->family].name, fam[c->family].type, fam[c->family].help, labels,
                      v[c->family]);
}

static void td_mr_collect(td_metrics_out_t *o, void *ud)
{
    td_mr_t *r = ud;
    td_mr_collect_t c = { r, o, 0 };
    if (r->engine == NULL) {
        return;
    }
    for (c.family = 0; c.family < 5; c.family++) {
        td_matching_each(r->engine, td_mr_collect_one, &c);
    }
}

static int td_matching_start(void *state)
{
    td_mr_t *r = state;
    int rc = td_mr__register(r);

    if (rc != TD_OK) {
        td_log_error("cannot register the MatchingService methods: %s", td_strerror(rc));
        goto out;
    }
    r->running = 1;
    td_metrics_add_collector(td_mr_collect, r);
    if (td_svc_ring(r->srv, TD_ROLE_MATCHING) != NULL) {
        r->unload_timer = td_timer_new(r->srv->loop, td_mr_unload_moved, r);
        r->ring_listen =
                td_ring_listen(td_svc_ring(r->srv, TD_ROLE_MATCHING), td_mr_ring_changed, r);
    }
    td_log_debug("started (long poll %lld ms)", (long long)r->cfg.long_poll_ms);
out:
    return rc;
}

static void td_matching_closed(void *arg)
{
    td_mr_t *r = arg;
    td_loop_fn done = r->drain_done;
    void *done_arg = r->drain_arg;

    r->engine = NULL;
    r->drain_done = NULL;
    if (done != NULL) {
        done(done_arg);
    }
}

static void td_matching_drain(void *state, td_loop_fn done, void *arg)
{
    td_mr_t *r = state;

    r->running = 0;
    td_timer_free(r->unload_timer);
    r->unload_timer = NULL;
    if (r->ring_listen != NULL) {
        td_ring_unlisten(td_svc_ring(r->srv, TD_ROLE_MATCHING), r->ring_listen);
        r->ring_listen = NULL;
    }
    if (r->engine == NULL || r->closing) {
        done(arg);
        goto out;
    }
    r->closing = 1;
    r->drain_done = done;
    r->drain_arg = arg;
    td_matching_engine_close(r->engine, td_matching_closed, r);
out:
    return;
}

static void td_matching_stop(void *state)
{
    td_mr_t *r = state;

    if (r == NULL) {
        goto out;
    }
    td_metrics_remove_collector(td_mr_collect, r);
    td_timer_free(r->unload_timer);
    r->unload_timer = NULL;
    if (r->ring_listen != NULL && td_svc_ring(r->srv, TD_ROLE_MATCHING) != NULL) {
        td_ring_unlisten(td_svc_ring(r->srv, TD_ROLE_MATCHING), r->ring_listen);
        r->ring_listen = NULL;
    }
    if (r->engine != NULL) {
        /* The loop no longer runs (drain timed out or never ran): the engine cannot finish
         * its close, which needs the loop; its memory goes with the process. */
        td_log_warn("stopping with the matching engine still open");
        if (!r->closing) {
            r->closing = 1;
            td_matching_engine_close(r->engine, NULL, NULL);
        }
        r->engine = NULL;
        goto out; /* r stays: the engine's pending close holds r as its context */
    }
    td_free(r);
out:
    return;
}

const td_role_t td_role_matching = {
    "matching",        TD_ROLE_MATCHING,  td_matching_init,
    td_matching_start, td_matching_drain, td_matching_stop,
};
