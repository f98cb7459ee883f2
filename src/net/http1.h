/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small HTTP/1.1 server on the loop (cleartext or TLS through conn.c): request line,
 * headers and a Content-Length body are parsed here, each complete request goes to one
 * handler, which answers it later or at once (td_http_respond). One request per connection
 * at a time (pipelined requests wait), keep-alive unless the client says close. It serves
 * the HTTP API, the Web UI and /metrics; it knows nothing of what it serves. Loop thread only.
 */
#ifndef TD_HTTP1_H
#define TD_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "net/rpc.h"

typedef struct td_http_server_s td_http_server_t;
typedef struct td_http_req_s td_http_req_t;

/* The request could not be taken as it came: the handler answers it in its own format
 * (the connection closes after the answer unless the body was read in full). */
enum {
    TD_HTTP_REQ_OK = 0,
    TD_HTTP_REQ_TOO_LARGE,     /* body over max_body (read and discarded) */
    TD_HTTP_REQ_LENGTH_NEEDED, /* a body without Content-Length (chunked) */
};

typedef void (*td_http_handler_fn)(td_http_req_t *r, void *ctx);

typedef struct {
    size_t max_body;   /* default 4 MiB */
    size_t max_header; /* request line + headers, default 64 KiB */
    td_rpc_tls_t tls;  /* cert_file NULL = cleartext */
} td_http_opts_t;

void td_http_opts_init(td_http_opts_t *o);
/* NULL when the TLS files cannot be loaded (logged). */
td_http_server_t *td_http_server_new(td_loop_t *loop, const td_http_opts_t *o,
                                     td_http_handler_fn fn, void *ctx);
/* TD_OK, or TD_EIO with the cause in err (not logged). port 0 = any free port. */
int td_http_server_listen(td_http_server_t *s, const char *ip, int port, char *err, size_t errlen);
int td_http_server_port(const td_http_server_t *s);
/* Closes the listener and every connection; requests still held by handlers stay valid
 * until answered (the answer goes nowhere). NULL ok. */
void td_http_server_free(td_http_server_t *s);

const char *td_http_method(const td_http_req_t *r);
/* The path without the query, percent-decoding left to the caller. */
const char *td_http_path(const td_http_req_t *r);
/* The raw query after '?', or "" */
const char *td_http_query(const td_http_req_t *r);
/* A header by lower-case name, or NULL. */
const char *td_http_header(const td_http_req_t *r, const char *lowercase_name);
const char *td_http_body(const td_http_req_t *r, size_t *len);
int td_http_req_state(const td_http_req_t *r);
const char *td_http_peer(const td_http_req_t *r);
/* Whether the client is gone (the answer would go nowhere). */
int td_http_gone(const td_http_req_t *r);
/* fn(arg) runs once if the connection closes before the request is answered. */
void td_http_on_gone(td_http_req_t *r, td_loop_fn fn, void *arg);
/* Answers and releases the request. extra_headers: "Name: value\r\n" lines or NULL. The
 * body is copied. */
void td_http_respond(td_http_req_t *r, int status, const char *content_type,
                     const char *extra_headers, const void *body, size_t len);

/* Parses "a=b&c=d" one pair at a time: percent-decodes into key/val (NUL-terminated,
 * truncated to their sizes). Returns the rest after the pair, or NULL at the end. */
const char *td_http_query_next(const char *q, char *key, size_t keylen, char *val, size_t vallen);
/* Percent-decodes s (n bytes) into out (size outlen); '+' kept. Returns the length or -1
 * on a bad escape or when out is too small. */
long td_http_unescape(const char *s, size_t n, char *out, size_t outlen);

#endif
