/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The matching role: task queues: pollers, sync match and the persisted backlog.
 * This file holds the role descriptor and its lifecycle; the work itself lives beside it.
 */
#define TD_LOG_COMPONENT "matching"

#include "roles/role.h"

#include "config.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "server.h"

typedef struct {
    td_server_t *srv;
    int running;
} td_matching_t;

static int td_matching_init(td_server_t *srv, void **state)
{
    td_matching_t *r = td_calloc(1, sizeof(*r));
    r->srv = srv;
    *state = r;
    return TD_OK;
}

static int td_matching_start(void *state)
{
    td_matching_t *r = state;
    r->running = 1;
    td_log_debug("started");
    return TD_OK;
}

static void td_matching_drain(void *state, td_loop_fn done, void *arg)
{
    td_matching_t *r = state;
    r->running = 0;
    done(arg);
}

static void td_matching_stop(void *state)
{
    td_free(state);
}

const td_role_t td_role_matching = {
    "matching",        TD_ROLE_MATCHING,  td_matching_init,
    td_matching_start, td_matching_drain, td_matching_stop,
};
