/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RPC layer that roles code against: a gRPC server (HTTP/2 cleartext or TLS, one code path)
 * routing "/package.Service/Method" to registered asynchronous handlers, and a gRPC client for
 * role-to-role calls. It knows nothing of workflows. Roles include only this header; they never
 * see nghttp2, libevent or OpenSSL. Everything here runs on the loop thread of the loop the
 * server or client was created with.
 */
#ifndef TD_RPC_H
#define TD_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "arena.h"
#include "loop.h"

typedef struct td_rpc_server_s td_rpc_server_t;
typedef struct td_rpc_call_s td_rpc_call_t;
typedef void (*td_rpc_handler_fn)(td_rpc_call_t *call, void *ctx);

typedef struct {
    const char *path; /* "/temporal.api.workflowservice.v1.WorkflowService/X" */
    const ProtobufCMessageDescriptor *req; /* request type, unpacked into the call arena */
    td_rpc_handler_fn fn;
    void *ctx;
} td_rpc_method_t;

/* TLS settings shared by server and client. cert_file/key_file NULL = cleartext (server) or
 * no client certificate (client). ca_file: server side, the CA that client certificates must
 * chain to (with require_client_cert = mTLS); client side, the CA the server must chain to. */
typedef struct {
    const char *cert_file;
    const char *key_file;
    const char *ca_file;
    int require_client_cert; /* server: reject peers without a valid certificate */
    int enabled;             /* client: speak TLS (server: implied by cert_file) */
    const char *server_name; /* client: SNI and name checked against the certificate */
} td_rpc_tls_t;

typedef struct {
    size_t max_recv_bytes;        /* largest request message (default 4 MiB) */
    uint32_t max_streams;         /* SETTINGS_MAX_CONCURRENT_STREAMS (default 4096) */
    uint32_t stream_window;       /* SETTINGS_INITIAL_WINDOW_SIZE (default 8 MiB) */
    uint32_t conn_window;         /* connection receive window (default 64 MiB) */
    size_t max_header_bytes;      /* decoded header list bound (default 64 KiB) */
    size_t out_high_water;        /* pending output bytes above which reading pauses (1 MiB) */
    size_t max_send_header_bytes; /* largest header block sent (0: nghttp2's 64 KiB) */
    td_rpc_tls_t tls;             /* server certificate; cleartext h2c when cert_file is NULL */
} td_rpc_server_opts_t;

/* Fills defaults. */
void td_rpc_server_opts_init(td_rpc_server_opts_t *o);

/* Creates a server on loop (opts NULL = defaults). Returns NULL when the TLS files cannot be
 * loaded (logged). It registers grpc.health.v1.Health/Check and /Watch itself. */
td_rpc_server_t *td_rpc_server_new(td_loop_t *loop, const td_rpc_server_opts_t *opts);
/* Registers a method (copies m; path must be unique). TD_OK, TD_EEXIST or TD_EINVAL. */
int td_rpc_server_add(td_rpc_server_t *s, const td_rpc_method_t *m);
/* Binds and listens (port 0 = any; see td_rpc_server_port). TD_OK, or TD_EIO / TD_ELIMIT with
 * the cause in err (not logged). */
int td_rpc_server_listen(td_rpc_server_t *s, const char *ip, int port, char *err, size_t errlen);
/* The registered method with this path, or NULL. */
const td_rpc_method_t *td_rpc_server_lookup(const td_rpc_server_t *s, const char *path);
/* The bound port of the last listener, or -1. */
int td_rpc_server_port(const td_rpc_server_t *s);
/* Stops accepting, sends GOAWAY on every connection and calls done(arg) once every connection
 * closed (in-flight calls finished). May call done synchronously. */
void td_rpc_server_drain(td_rpc_server_t *s, td_loop_fn done, void *arg);
/* Closes every connection (cancelling live calls: their on_cancel fires) and frees the
 * server. Calls still held by handlers stay valid until they are ended. NULL is allowed. */
void td_rpc_server_free(td_rpc_server_t *s);

/* grpc.health.v1 serving status of a service name ("" = the whole server). status uses the
 * HealthCheckResponse.ServingStatus numbering (1 SERVING, 2 NOT_SERVING). Watchers are told. */
void td_rpc_server_set_health(td_rpc_server_t *s, const char *service, int status);
/* Number of open connections and of live calls (for tests and metrics). */
int td_rpc_server_conn_count(const td_rpc_server_t *s);
int td_rpc_server_call_count(const td_rpc_server_t *s);

/* ---- the call object, as a handler sees it ---- */

const ProtobufCMessage *td_rpc_request(td_rpc_call_t *c);
td_arena_t *td_rpc_arena(td_rpc_call_t *c);
/* Request metadata by lower-case name, or NULL (the last value when repeated). Values of
 * "-bin" headers are returned as received (base64 text), not decoded. Valid for the call. */
const char *td_rpc_metadata(td_rpc_call_t *c, const char *lowercase_name);
/* Absolute td_now_mono_ms() deadline, 0 = none. */
int64_t td_rpc_deadline(td_rpc_call_t *c);
/* The :path. */
const char *td_rpc_method(td_rpc_call_t *c);
/* The peer's address "ip:port". */
const char *td_rpc_peer(td_rpc_call_t *c);
/* Sends resp with status OK and ends the call (resp may live in the call arena). */
void td_rpc_reply(td_rpc_call_t *c, const ProtobufCMessage *resp);
/* Ends the call with a status. detail: an errordetails.v1 message (or any message: its type
 * name gives the Any type_url) or NULL. */
void td_rpc_fail(td_rpc_call_t *c, int grpc_status, const char *message,
                 const ProtobufCMessage *detail);
/* td_rpc_fail with the status of a TD_E* code; message NULL = td_strerror(td_err). When
 * TD_ERR_MAP names an errordetails message for the code, an instance is attached (for
 * NamespaceNotFoundFailure, namespace = the temporal-namespace header). */
void td_rpc_fail_err(td_rpc_call_t *c, int td_err, const char *message);
/* fn(arg) runs at most once, on the loop thread, when the call is cancelled (peer RST_STREAM,
 * connection loss, server free, or deadline passing). If the call is already cancelled, fn is
 * posted to run soon. The call stays valid until ended. */
void td_rpc_on_cancel(td_rpc_call_t *c, td_loop_fn fn, void *arg);
int td_rpc_cancelled(const td_rpc_call_t *c);
/* Server-streaming: sends one message without ending the call (used by Health/Watch). */
void td_rpc_send(td_rpc_call_t *c, const ProtobufCMessage *msg);

/* ---- in-process calls ---- */

/* The end of an in-process call: resp (status 0) or status, message and detail (an
 * errordetails message or NULL), all valid only during the callback. */
typedef void (*td_rpc_local_fn)(const ProtobufCMessage *resp, int status, const char *message,
                                const ProtobufCMessage *detail, void *arg);

/* Calls method m in this process, the way a colocated role calls another: the handler gets
 * a call whose request is req (borrowed: keep it alive until done runs) and whose deadline is
 * the absolute td_now_mono_ms() value given (0 = none); when the handler ends the call, done
 * runs with the outcome and the call is freed. done may run before this function returns,
 * and then NULL is returned; otherwise the returned call may be passed to
 * td_rpc_local_cancel until done has run. */
td_rpc_call_t *td_rpc_local_call(td_loop_t *loop, const td_rpc_method_t *m,
                                 const ProtobufCMessage *req, int64_t deadline,
                                 td_rpc_local_fn done, void *arg);
/* A public call made in process (the HTTP API): td_rpc_local_call with request metadata
 * (NULL-terminated lower-case name, value pairs, copied; read by the handler through
 * td_rpc_metadata), counted in the service metrics like a gRPC call. */
td_rpc_call_t *td_rpc_local_call_md(td_loop_t *loop, const td_rpc_method_t *m,
                                    const ProtobufCMessage *req, int64_t deadline,
                                    const char *const *metadata, td_rpc_local_fn done, void *arg);
/* Cancels an in-process call: its on_cancel callback fires; the handler still ends it. */
void td_rpc_local_cancel(td_rpc_call_t *c);

/* ---- client ---- */

typedef struct td_rpc_client_s td_rpc_client_t;
typedef struct td_rpc_ccall_s td_rpc_ccall_t;

/* Result of a client call. resp is unpacked into arena (NULL unless status 0); details is
 * the google.rpc.Status from grpc-status-details-bin, unpacked, or NULL. All valid only
 * during the callback. */
typedef struct {
    int status;
    const char *message;
    const ProtobufCMessage *resp;
    const ProtobufCMessage *details; /* Google__Rpc__Status * */
    td_arena_t *arena;
} td_rpc_result_t;
typedef void (*td_rpc_done_fn)(const td_rpc_result_t *r, void *arg);

typedef struct {
    td_rpc_tls_t tls;
    int64_t backoff_min_ms;     /* first reconnect delay (default 100) */
    int64_t backoff_max_ms;     /* (default 5000) */
    int64_t connect_timeout_ms; /* (default 5000) */
    size_t max_recv_bytes;      /* largest response (default 128 MiB) */
    int gzip_requests;          /* compress request messages with gzip */
} td_rpc_client_opts_t;

void td_rpc_client_opts_init(td_rpc_client_opts_t *o);
/* One multiplexed connection to host:port, opened lazily and reopened with backoff. */
td_rpc_client_t *td_rpc_client_new(td_loop_t *loop, const char *host, int port,
                                   const td_rpc_client_opts_t *opts);
/* Cancels every pending call (their done runs with CANCELLED) and frees the client. */
void td_rpc_client_free(td_rpc_client_t *cl);

typedef struct {
    const ProtobufCMessageDescriptor *resp; /* response type to unpack */
    int64_t timeout_ms;                     /* 0 = no deadline */
    const char *const *metadata;            /* NULL-terminated name, value pairs, or NULL */
} td_rpc_call_opts_t;

/* Starts a unary call. done runs exactly once, never synchronously inside this function.
 * Returns a handle usable with td_rpc_client_cancel until done has run. */
td_rpc_ccall_t *td_rpc_client_call(td_rpc_client_t *cl, const char *path,
                                   const ProtobufCMessage *req, const td_rpc_call_opts_t *o,
                                   td_rpc_done_fn done, void *arg);
/* Cancels a pending call: RST_STREAM CANCEL; done runs (soon) with CANCELLED. */
void td_rpc_client_cancel(td_rpc_ccall_t *cc);
/* Whether the client currently has an open connection. */
int td_rpc_client_connected(const td_rpc_client_t *cl);

#endif
