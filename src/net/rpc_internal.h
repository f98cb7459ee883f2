/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the files of src/net/ that implement the RPC server (rpc_server.c,
 * rpc_health.c). Not for roles: they include net/rpc.h only.
 */
#ifndef TD_RPC_INTERNAL_H
#define TD_RPC_INTERNAL_H

#include "net/conn.h"
#include "net/rpc.h"

typedef struct td_h2s_s td_h2s_t;

typedef struct td_rpc_health_s {
    struct td_rpc_health_s *next;
    char *service;
    int status;
} td_rpc_health_t;

/* A call parked by Health/Watch, told of every status change of its service. */
typedef struct td_rpc_watch_s {
    struct td_rpc_watch_s *prev, *next;
    td_rpc_server_t *srv;
    td_rpc_call_t *call;
    char *service;
    int last;
} td_rpc_watch_t;

/* One remembered failure kind (method, status) of the failed-call log, for its rate limit. */
typedef struct {
    char path[96];
    int status;
    int64_t last_ms; /* when it was last logged (monotonic) */
    long suppressed; /* calls not logged since */
} td_rpc_faillog_t;

#define TD_RPC_FAILLOG_SLOTS 64

struct td_rpc_server_s {
    td_loop_t *loop;
    td_rpc_server_opts_t opts;
    td_tls_ctx_t *tls;
    td_rpc_method_t *methods; /* sorted by path */
    int n_methods, cap_methods;
    td_listener_t *listeners[4];
    int n_listeners;
    int last_port;
    td_h2s_t *sessions;
    int n_conns;
    int n_calls;
    int draining;
    td_loop_fn drain_done;
    void *drain_arg;
    td_rpc_health_t *health;
    td_rpc_watch_t *watches;
    td_rpc_faillog_t faillog[TD_RPC_FAILLOG_SLOTS];
    int64_t faillog_window_ms; /* start of the current one-minute window of the global cap */
    int faillog_in_window;     /* lines logged in it */
};

/* Memory sessions: an HTTP/2 server session with no socket, for unit tests and fuzz drivers.
 * feed hands it client bytes (TD_OK, or an error once the session is dead); take returns the
 * bytes it wrote since the last take (caller frees with td_free); close tears it down,
 * cancelling live calls. Handlers run as on a real connection. */
td_h2s_t *td_rpc__mem_open(td_rpc_server_t *srv);
int td_rpc__mem_feed(td_h2s_t *s, const uint8_t *p, size_t n);
size_t td_rpc__mem_take(td_h2s_t *s, uint8_t **out);
int td_rpc__mem_closed(const td_h2s_t *s);
void td_rpc__mem_close(td_h2s_t *s);

/* Registers grpc.health.v1.Health on s (rpc_health.c). */
void td_rpc__health_init(td_rpc_server_t *s);
/* Ends every Watch call (at drain) and frees the health table (at free). */
void td_rpc__health_end_watches(td_rpc_server_t *s);
void td_rpc__health_free(td_rpc_server_t *s);

#endif
