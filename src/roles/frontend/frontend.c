/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The frontend role: the public API: it validates requests, resolves namespaces and routes each
 * call to the history or matching role that owns it. This file holds the role descriptor and its
 * lifecycle; the work itself lives beside it.
 */
#define TD_LOG_COMPONENT "frontend"

#include "roles/role.h"

#include "config.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "server.h"

typedef struct {
    td_server_t *srv;
    int running;
} td_frontend_t;

static int td_frontend_init(td_server_t *srv, void **state)
{
    td_frontend_t *r = td_calloc(1, sizeof(*r));
    r->srv = srv;
    *state = r;
    return TD_OK;
}

static int td_frontend_start(void *state)
{
    td_frontend_t *r = state;
    r->running = 1;
    td_log_debug("started");
    return TD_OK;
}

static void td_frontend_drain(void *state, td_loop_fn done, void *arg)
{
    td_frontend_t *r = state;
    r->running = 0;
    done(arg);
}

static void td_frontend_stop(void *state)
{
    td_free(state);
}

const td_role_t td_role_frontend = {
    "frontend",        TD_ROLE_FRONTEND,  td_frontend_init,
    td_frontend_start, td_frontend_drain, td_frontend_stop,
};
