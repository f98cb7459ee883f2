/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One temporald process: its configuration, its event loop, the roles it hosts and the
 * services they share. Built by td_server_run() from a parsed configuration; roles reach
 * each other and the shared layers only through this struct.
 */
#ifndef TD_SERVER_H
#define TD_SERVER_H

#include "config.h"
#include "loop.h"
#include "roles/role.h"

#define TD_MAX_ROLES 4

struct td_server_s {
    const td_config_t *config;
    td_loop_t *loop;
    int64_t started_mono_ms;
    /* role instances, indexed like td_roles; NULL when not hosted */
    void *role_state[TD_MAX_ROLES];
    int role_started[TD_MAX_ROLES];
    /* shared services, set by the layers that own them (NULL until then) */
    void *store; /* struct td_store_s *, opened before the roles start */
    void *rpc;   /* the frontend's RPC server, for roles that register methods */
    void *svc;   /* internal service methods hosted here (roles/svc.h) */
    void *nsreg; /* struct td_nsreg_s *: the namespace registry (roles/nsreg.h) */
    /* who hosts which role (cluster/membership.h); created before the roles start */
    struct td_membership_s *membership;
    /* bound ports of the HTTP listeners (0 = not serving), for the start-dev banner */
    int http_port, ui_port, metrics_port;
    void *route; /* routing of internal calls to other processes (roles/svc.h); NULL when
                  * every call stays in this process (start-dev, tests) */
    /* drain state */
    int draining;
    int drain_pending;
    td_timer_t *drain_timer;
    td_timer_t *handoff_timer; /* cluster: roles drain once peers took this process's keys */
    int exit_code;
};

/* Runs a server with the given configuration until SIGINT or SIGTERM, then drains and
 * returns the process exit status (0 after a clean drain). Prints one line per listener on
 * stdout once serving. */
int td_server_run(const td_config_t *config);
/* Begins draining (as SIGTERM does). Loop thread only. */
void td_server_drain(td_server_t *srv);
/* Whether the server hosts a role (TD_ROLE_* bit). */
int td_server_hosts(const td_server_t *srv, int role_bit);
/* The state of a hosted role by name, or NULL. */
void *td_server_role(const td_server_t *srv, const char *name);

#endif
