/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The role registry. Each role (frontend, history, matching, worker) exports one descriptor
 * with its lifecycle hooks; td_roles lists them in start order. A role never includes
 * libevent, nghttp2, sqlite3 or libpq headers: it sees the server's shared services (loop,
 * store, RPC registry) through server.h.
 *
 * Lifecycle of a role instance, driven by server.c:
 *
 *     (none) --init--> INITED --start--> RUNNING --drain--> DRAINING --done--> DRAINED
 *        any state --stop--> (freed)
 *
 * init allocates and checks configuration; start opens listeners and begins work; drain
 * stops taking new work and calls done(arg) once in-flight work finished (it may call it
 * synchronously); stop frees everything and must accept a role that never started.
 */
#ifndef TD_ROLE_H
#define TD_ROLE_H

#include "loop.h"

typedef struct td_server_s td_server_t;

typedef struct td_role_s {
    const char *name;
    int bit; /* TD_ROLE_* */
    int (*init)(td_server_t *srv, void **state);
    int (*start)(void *state);
    void (*drain)(void *state, td_loop_fn done, void *arg);
    void (*stop)(void *state);
} td_role_t;

extern const td_role_t td_role_frontend;
extern const td_role_t td_role_history;
extern const td_role_t td_role_matching;
extern const td_role_t td_role_worker;

/* Start order: history and matching before the frontend that routes to them. */
extern const td_role_t *const td_roles[];
extern const int td_roles_count;

/* The descriptor with that name, or NULL. */
const td_role_t *td_role_find(const char *name);

#endif
