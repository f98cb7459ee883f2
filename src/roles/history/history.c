/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The history role: history shards: workflow mutable state, events, and the transfer, timer and
 * visibility queues. This file holds the role descriptor and its lifecycle; the work itself lives
 * beside it.
 */
#define TD_LOG_COMPONENT "history"

#include "roles/role.h"

#include "config.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "server.h"

typedef struct {
    td_server_t *srv;
    int running;
} td_history_t;

static int td_history_init(td_server_t *srv, void **state)
{
    td_history_t *r = td_calloc(1, sizeof(*r));
    r->srv = srv;
    *state = r;
    return TD_OK;
}

static int td_history_start(void *state)
{
    td_history_t *r = state;
    r->running = 1;
    td_log_debug("started");
    return TD_OK;
}

static void td_history_drain(void *state, td_loop_fn done, void *arg)
{
    td_history_t *r = state;
    r->running = 0;
    done(arg);
}

static void td_history_stop(void *state)
{
    td_free(state);
}

const td_role_t td_role_history = {
    "history",        TD_ROLE_HISTORY,  td_history_init,
    td_history_start, td_history_drain, td_history_stop,
};
