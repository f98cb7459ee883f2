/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A byte-stream connection on the loop: TCP, optionally wrapped in TLS (OpenSSL, ALPN "h2"),
 * with one code path for both. It moves bytes only: the HTTP/2 sessions above it feed what it
 * reads to nghttp2 and hand it what nghttp2 wants written. Also listeners and TLS contexts.
 * Internal to src/net/; the only place besides loop.c that includes libevent headers.
 */
#ifndef TD_CONN_H
#define TD_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "net/rpc.h"

typedef struct td_conn_s td_conn_t;
typedef struct td_listener_s td_listener_t;
typedef struct td_tls_ctx_s td_tls_ctx_t;

/* Callbacks from a connection to its owner, all on the loop thread. None may free the
 * connection directly; call td_conn_kick() and free it from on_kick instead. */
typedef struct {
    /* Bytes arrived. Returns how many it consumed, or a negative TD_E* code to close
     * (on_close follows). Consuming fewer than n means "not now" (the owner paused reading):
     * the rest stays buffered and is offered again once reading resumes. */
    long (*on_read)(void *ud, const uint8_t *p, size_t n);
    /* Pending output fell to the low-water mark, or td_conn_kick() was called. */
    void (*on_kick)(void *ud);
    /* Client only: connected (and TLS handshake done). */
    void (*on_connected)(void *ud);
    /* EOF, error or failed connect; err is TD_ECLOSED or TD_EIO. The connection is dead:
     * its owner frees it (from on_kick or later). */
    void (*on_close)(void *ud, int err);
} td_conn_ops_t;

/* TLS contexts. Server: cert/key required, ca_file + require_client_cert for mTLS. Client:
 * ca_file verifies the server (system store when NULL), cert/key present a client cert.
 * NULL (logged) when files cannot be loaded. */
td_tls_ctx_t *td_tls_ctx_server(const td_rpc_tls_t *t);
td_tls_ctx_t *td_tls_ctx_client(const td_rpc_tls_t *t);
/* A server context for HTTP/1.1: ALPN "http/1.1" when the client offers it, none else. */
td_tls_ctx_t *td_tls_ctx_server_http1(const td_rpc_tls_t *t);
void td_tls_ctx_free(td_tls_ctx_t *ctx);

/* Wraps an accepted socket (tls NULL = cleartext). Takes ownership of fd. */
td_conn_t *td_conn_accept(td_loop_t *loop, int fd, td_tls_ctx_t *tls, const td_conn_ops_t *ops,
                          void *ud);
/* Starts connecting to host:port; on_connected or on_close follows (never synchronously). */
td_conn_t *td_conn_connect(td_loop_t *loop, const char *host, int port, td_tls_ctx_t *tls,
                           const char *server_name, const td_conn_ops_t *ops, void *ud);
/* Appends bytes to the output (copied); they leave with the next td_conn_flush(). */
void td_conn_write(td_conn_t *c, const uint8_t *p, size_t n);
/* Sends what td_conn_write staged: at once when the socket takes it, else queued. */
void td_conn_flush(td_conn_t *c);
size_t td_conn_out_pending(const td_conn_t *c);
/* Sets the pending-output level at which on_kick fires again. */
void td_conn_set_low_water(td_conn_t *c, size_t low);
/* Stops or resumes reading from the socket (backpressure). */
void td_conn_pause_read(td_conn_t *c, int pause);
/* Makes on_kick run soon from the loop (coalesced). */
void td_conn_kick(td_conn_t *c);
/* The peer as "ip:port". */
const char *td_conn_peer(const td_conn_t *c);
/* Whether the connection speaks TLS, and the negotiated ALPN protocol ("" if none). */
int td_conn_is_tls(const td_conn_t *c);
/* Closes the socket and frees. Not from inside this connection's own callbacks. NULL ok. */
void td_conn_free(td_conn_t *c);

typedef void (*td_accept_cb)(void *ud, int fd);
/* Listens on ip:port (port 0 = ephemeral). NULL on failure, with the cause in err (not
 * logged: the caller reports it once). */
td_listener_t *td_listener_new(td_loop_t *loop, const char *ip, int port, td_accept_cb cb, void *ud,
                               char *err, size_t errlen);
int td_listener_port(const td_listener_t *l);
void td_listener_free(td_listener_t *l);

#endif
