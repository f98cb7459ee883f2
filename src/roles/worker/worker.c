/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker role: system jobs: schedules, batch operations and namespace deletion.
 * This file holds the role descriptor and its lifecycle; the work itself lives beside it.
 * Retention is not here: history deletes each closed run from a timer written with its close
 * (src/roles/history/hist_retention.c), so no job has to scan for expired runs.
 */
#define TD_LOG_COMPONENT "worker"

#include "roles/role.h"

#include "config.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "server.h"

typedef struct {
    td_server_t *srv;
    int running;
} td_worker_t;

static int td_worker_init(td_server_t *srv, void **state)
{
    td_worker_t *r = td_calloc(1, sizeof(*r));
    r->srv = srv;
    *state = r;
    return TD_OK;
}

static int td_worker_start(void *state)
{
    td_worker_t *r = state;
    r->running = 1;
    td_log_debug("started");
    return TD_OK;
}

static void td_worker_drain(void *state, td_loop_fn done, void *arg)
{
    td_worker_t *r = state;
    r->running = 0;
    done(arg);
}

static void td_worker_stop(void *state)
{
    td_free(state);
}

const td_role_t td_role_worker = {
    "worker", TD_ROLE_WORKER, td_worker_init, td_worker_start, td_worker_drain, td_worker_stop,
};
