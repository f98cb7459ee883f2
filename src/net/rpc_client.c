/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gRPC client for role-to-role calls: one HTTP/2 connection per peer (cleartext or TLS,
 * optionally with a client certificate), opened on the first call and reopened with
 * exponential backoff; unary calls multiplexed as streams, with deadlines (grpc-timeout and a
 * local timer), cancellation (RST_STREAM CANCEL), optional gzip requests and decoding of
 * grpc-status-details-bin. Loop thread only. Results are always delivered from the loop, never
 * inside td_rpc_client_call() or an nghttp2 callback.
 *
 * Design notes: the connection
 *
 * Invariants:
 *   - ng is non-NULL only in READY (and while a dying connection finishes: GOAWAY received).
 *   - Calls wait in `pending` until a connection is READY, then move to `active` with a stream.
 *   - A connect failure fails every pending call with UNAVAILABLE and starts the backoff;
 *     a call made during the backoff waits for the next attempt.
 *   - A call is finished once (status set, moved to `finished`), delivered once, then freed.
 *
 *   IDLE --call--> CONNECTING --connected--> READY --EOF/error/GOAWAY drained--> BACKOFF
 *                      '--failed--> BACKOFF --timer--> IDLE (--call--> CONNECTING ...)
 *
 *   FROM       -> TO          [function]
 *   IDLE       -> CONNECTING  [td_cl_connect]
 *   CONNECTING -> READY       [td_cl_on_connected]
 *   CONNECTING -> BACKOFF     [td_cl_on_close, td_cl_teardown]
 *   READY      -> BACKOFF     [td_cl_on_close, td_cl_flush (session done), td_cl_teardown]
 *   BACKOFF    -> IDLE        [td_cl_backoff_fire] (connects at once when calls wait)
 */
#define TD_LOG_COMPONENT "rpcclient"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "error.h"
#include "google/rpc/status.pb-c.h"
#include "log.h"
#include "mem.h"
#include "net/conn.h"
#include "net/grpc_wire.h"
#include "net/rpc.h"

typedef enum {
    TD_CL_IDLE = 0,
    TD_CL_CONNECTING,
    TD_CL_READY,
    TD_CL_BACKOFF,
} td_cl_state_t;

typedef struct td_ccall_list_s {
    td_rpc_ccall_t *head, *tail;
} td_ccall_list_t;

struct td_rpc_ccall_s {
    td_rpc_ccall_t *prev, *next;
    td_ccall_list_t *list;
    td_rpc_client_t *cl;
    int32_t stream_id;
    char *path;
    char **md; /* NULL-terminated name, value pairs */
    uint8_t *req;
    size_t req_len, req_off;
    uint8_t *resp;
    size_t resp_len, resp_cap;
    const ProtobufCMessageDescriptor *resp_desc;
    int64_t timeout_ms;
    td_timer_t *timer;
    td_rpc_done_fn done;
    void *arg;
    int status; /* -1 until known */
    char *message;
    char *details_b64;
    char *resp_encoding;
    int finished;
    int stream_open; /* nghttp2 may still read req or call back with this call */
    int http_status;
};

struct td_rpc_client_s {
    td_loop_t *loop;
    char *host;
    int port;
    td_rpc_client_opts_t opts;
    td_tls_ctx_t *tls;
    td_cl_state_t state;
    td_conn_t *conn;
    nghttp2_session *ng;
    int in_recv;
    int closing;
    int goaway;
    int64_t backoff_ms;
    td_timer_t *backoff_timer;
    td_timer_t *deliver_timer;
    td_timer_t *connect_timer;
    td_ccall_list_t pending, active, finished;
    td_ccall_list_t zombies; /* delivered, stream not yet closed by nghttp2 */
};

static void td_cl_flush(td_rpc_client_t *cl);
static void td_cl_connect(td_rpc_client_t *cl);

/* ---- lists ---- */

static void td_list_push(td_ccall_list_t *l, td_rpc_ccall_t *c)
{
    c->list = l;
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail != NULL) {
        l->tail->next = c;
    } else {
        l->head = c;
    }
    l->tail = c;
}

static void td_list_remove(td_rpc_ccall_t *c)
{
    td_ccall_list_t *l = c->list;
    if (l == NULL) {
        return;
    }
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        l->head = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    } else {
        l->tail = c->prev;
    }
    c->prev = c->next = NULL;
    c->list = NULL;
}

/* ---- finishing and delivering calls ---- */

static void td_cl_finish(td_rpc_ccall_t *c, int status, const char *message)
{
    td_rpc_client_t *cl = c->cl;
    if (c->finished) {
        return;
    }
    c->finished = 1;
    if (c->status < 0 || status != TD_GRPC_OK) {
        c->status = status;
        if (message != NULL) {
            td_free(c->message);
            c->message = td_strdup(message);
        }
    }
    if (c->timer != NULL) {
        td_timer_stop(c->timer);
    }
    td_list_remove(c);
    td_list_push(&cl->finished, c);
    if (!td_timer_pending(cl->deliver_timer)) {
        td_timer_start(cl->deliver_timer, 0);
    }
}

static void td_ccall_free(td_rpc_ccall_t *c)
{
    if (c->md != NULL) {
        for (int i = 0; c->md[i] != NULL; i++) {
            td_free(c->md[i]);
        }
        td_free(c->md);
    }
    td_timer_free(c->timer);
    td_free(c->path);
    td_free(c->req);
    td_free(c->resp);
    td_free(c->message);
    td_free(c->details_b64);
    td_free(c->resp_encoding);
    td_free(c);
}

static void td_cl_deliver_one(td_rpc_client_t *cl, td_rpc_ccall_t *c)
{
    td_arena_t a;
    td_rpc_result_t r;

    td_arena_init(&a, 1024);
    memset(&r, 0, sizeof(r));
    r.arena = &a;
    r.status = c->status;
    r.message = c->message != NULL ? td_grpc_percent_decode(&a, c->message) : "";
    if (r.status == TD_GRPC_OK) {
        int compressed = 0;
        uint32_t len = 0;
        int rc = td_grpc_prefix_parse(c->resp, c->resp_len, cl->opts.max_recv_bytes, &compressed,
                                      &len);
        const uint8_t *msg = c->resp + TD_GRPC_PREFIX;
        size_t mlen = len;
        if (rc != TD_OK || c->resp_len - TD_GRPC_PREFIX != len) {
            r.status = TD_GRPC_INTERNAL;
            r.message = "malformed response message";
        } else if (compressed) {
            uint8_t *plain;
            size_t pn;
            td_grpc_enc_t enc = td_grpc_encoding(c->resp_encoding);
            if (enc == TD_GRPC_ENC_IDENTITY || enc == TD_GRPC_ENC_UNKNOWN ||
                td_grpc_inflate(&a, enc, msg, mlen, cl->opts.max_recv_bytes, &plain, &pn) !=
                        TD_OK) {
                r.status = TD_GRPC_INTERNAL;
                r.message = "cannot decompress the response";
            } else {
                msg = plain;
                mlen = pn;
            }
        }
        if (r.status == TD_GRPC_OK && c->resp_desc != NULL) {
            r.resp = protobuf_c_message_unpack(c->resp_desc, td_arena_pb(&a), mlen, msg);
            if (r.resp == NULL) {
                r.status = TD_GRPC_INTERNAL;
                r.message = "cannot decode the response message";
            }
        }
    }
    if (c->details_b64 != NULL) {
        uint8_t *p;
        size_t n;
        if (td_base64_decode(&a, c->details_b64, strlen(c->details_b64), &p, &n) == TD_OK) {
            r.details =
                    (const ProtobufCMessage *)google__rpc__status__unpack(td_arena_pb(&a), n, p);
        }
    }
    c->done(&r, c->arg);
    td_arena_destroy(&a);
    if (c->stream_open) {
        td_list_push(&cl->zombies, c);
    } else {
        td_ccall_free(c);
    }
}

static void td_cl_deliver(void *arg)
{
    td_rpc_client_t *cl = arg;
    td_rpc_ccall_t *c;
    while ((c = cl->finished.head) != NULL) {
        td_list_remove(c);
        td_cl_deliver_one(cl, c);
    }
}

/* ---- nghttp2 client session ---- */

static ssize_t td_cl_read_req(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                              uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    td_rpc_ccall_t *c = src->ptr;
    size_t n = c->req_len - c->req_off;
    (void)ng;
    (void)id;
    (void)ud;
    if (n > length) {
        n = length;
    }
    memcpy(buf, c->req + c->req_off, n);
    c->req_off += n;
    if (c->req_off == c->req_len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        td_free(c->req);
        c->req = NULL;
    }
    return (ssize_t)n;
}

#define TD_CNV(n, v)                                                               \
    {                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE \
    }

static void td_cl_submit(td_rpc_client_t *cl, td_rpc_ccall_t *c)
{
    nghttp2_nv nv[64];
    int n = 0;
    char tmo[24], auth[300];
    nghttp2_data_provider dp;

    snprintf(auth, sizeof(auth), "%s:%d", cl->host, cl->port);
    nv[n++] = (nghttp2_nv)TD_CNV(":method", "POST");
    nv[n++] = (nghttp2_nv)TD_CNV(":scheme", cl->tls != NULL ? "https" : "http");
    nv[n++] = (nghttp2_nv)TD_CNV(":authority", auth);
    nv[n++] = (nghttp2_nv)TD_CNV(":path", c->path);
    nv[n++] = (nghttp2_nv)TD_CNV("content-type", "application/grpc");
    nv[n++] = (nghttp2_nv)TD_CNV("te", "trailers");
    nv[n++] = (nghttp2_nv)TD_CNV("grpc-accept-encoding", "identity,deflate,gzip");
    nv[n++] = (nghttp2_nv)TD_CNV("user-agent", "temporald-grpc/" TD_VERSION);
    if (cl->opts.gzip_requests) {
        nv[n++] = (nghttp2_nv)TD_CNV("grpc-encoding", "gzip");
    }
    if (c->timeout_ms > 0) {
        td_grpc_timeout_format(c->timeout_ms, tmo, sizeof(tmo));
        nv[n++] = (nghttp2_nv)TD_CNV("grpc-timeout", tmo);
    }
    for (int i = 0; c->md != NULL && c->md[i] != NULL && n < 62; i += 2) {
        nv[n++] = (nghttp2_nv)TD_CNV(c->md[i], c->md[i + 1]);
    }
    dp.source.ptr = c;
    dp.read_callback = td_cl_read_req;
    c->stream_id = nghttp2_submit_request(cl->ng, NULL, nv, (size_t)n, &dp, c);
    if (c->stream_id < 0) {
        td_cl_finish(c, TD_GRPC_UNAVAILABLE, nghttp2_strerror(c->stream_id));
        return;
    }
    c->stream_open = 1;
    td_list_remove(c);
    td_list_push(&cl->active, c);
}

static void td_cl_submit_pending(td_rpc_client_t *cl)
{
    while (cl->state == TD_CL_READY && !cl->goaway && cl->pending.head != NULL) {
        td_cl_submit(cl, cl->pending.head);
    }
}

static int td_cl_on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                           size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    td_rpc_ccall_t *c = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    (void)flags;
    (void)ud;
    if (c == NULL || c->finished || f->hd.type != NGHTTP2_HEADERS) {
        return 0;
    }
    if (nl == 7 && memcmp(name, ":status", 7) == 0) {
        c->http_status =
                vl == 3 ? (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0') : 0;
    } else if (nl == 11 && memcmp(name, "grpc-status", 11) == 0) {
        int v = 0;
        for (size_t i = 0; i < vl && i < 4; i++) {
            v = v * 10 + (value[i] - '0');
        }
        c->status = v;
    } else if (nl == 12 && memcmp(name, "grpc-message", 12) == 0) {
        td_free(c->message);
        c->message = td_strndup((const char *)value, vl);
    } else if (nl == 23 && memcmp(name, "grpc-status-details-bin", 23) == 0) {
        td_free(c->details_b64);
        c->details_b64 = td_strndup((const char *)value, vl);
    } else if (nl == 13 && memcmp(name, "grpc-encoding", 13) == 0) {
        td_free(c->resp_encoding);
        c->resp_encoding = td_strndup((const char *)value, vl);
    }
    return 0;
}

static int td_cl_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    td_rpc_ccall_t *c = nghttp2_session_get_stream_user_data(ng, id);
    td_rpc_client_t *cl = ud;
    (void)flags;
    if (c == NULL || c->finished) {
        return 0;
    }
    if (c->resp_len + len > cl->opts.max_recv_bytes + TD_GRPC_PREFIX) {
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        td_cl_finish(c, TD_GRPC_RESOURCE_EXHAUSTED, "response larger than max_recv_bytes");
        (void)cl;
        return 0;
    }
    if (c->resp_len + len > c->resp_cap) {
        size_t cap = c->resp_cap ? c->resp_cap : 1024;
        while (cap < c->resp_len + len) {
            cap *= 2;
        }
        c->resp = td_realloc(c->resp, cap);
        c->resp_cap = cap;
    }
    memcpy(c->resp + c->resp_len, data, len);
    c->resp_len += len;
    return 0;
}

static int td_cl_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    td_rpc_client_t *cl = ud;
    (void)ng;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        cl->goaway = 1; /* new calls wait for the next connection */
    }
    return 0;
}

static int td_cl_on_stream_close(nghttp2_session *ng, int32_t id, uint32_t err, void *ud)
{
    td_rpc_ccall_t *c = nghttp2_session_get_stream_user_data(ng, id);
    td_rpc_client_t *cl = ud;
    if (c == NULL) {
        return 0;
    }
    c->stream_open = 0;
    if (c->finished) {
        if (c->list == &cl->zombies) {
            td_list_remove(c);
            td_ccall_free(c);
        }
        return 0;
    }
    if (c->status >= 0) {
        td_cl_finish(c, c->status, NULL);
    } else if (err == NGHTTP2_REFUSED_STREAM) {
        td_cl_finish(c, TD_GRPC_UNAVAILABLE, "stream refused by the server");
    } else if (err == NGHTTP2_CANCEL) {
        td_cl_finish(c, TD_GRPC_CANCELLED, "stream cancelled by the server");
    } else if (c->http_status != 0 && c->http_status != 200) {
        char m[64];
        snprintf(m, sizeof(m), "HTTP status %d", c->http_status);
        td_cl_finish(c, c->http_status == 503 ? TD_GRPC_UNAVAILABLE : TD_GRPC_UNKNOWN, m);
    } else {
        td_cl_finish(c, TD_GRPC_INTERNAL, "stream closed without a grpc-status");
    }
    return 0;
}

static nghttp2_session_callbacks *td_cl_callbacks(void)
{
    static nghttp2_session_callbacks *cbs;
    if (cbs == NULL) {
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_on_header_callback(cbs, td_cl_on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, td_cl_on_data);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, td_cl_on_frame_recv);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, td_cl_on_stream_close);
    }
    return cbs;
}

/* ---- connection ---- */

static void td_cl_start_backoff(td_rpc_client_t *cl)
{
    cl->state = TD_CL_BACKOFF;
    td_timer_start(cl->backoff_timer, cl->backoff_ms);
    td_log_debug("%s:%d: reconnecting in %lld ms", cl->host, cl->port, (long long)cl->backoff_ms);
    cl->backoff_ms *= 2;
    if (cl->backoff_ms > cl->opts.backoff_max_ms) {
        cl->backoff_ms = cl->opts.backoff_max_ms;
    }
}

/* The session is going away: no call has a stream any more; delivered ones are freed. */
static void td_cl_forget_streams(td_rpc_client_t *cl)
{
    td_rpc_ccall_t *c;
    for (c = cl->finished.head; c != NULL; c = c->next) {
        c->stream_open = 0;
    }
    while ((c = cl->zombies.head) != NULL) {
        td_list_remove(c);
        td_ccall_free(c);
    }
}

/* Drops the connection: active calls fail UNAVAILABLE; pending ones fail too when the
 * connection never came up (connect failure). Not from inside conn or nghttp2 callbacks. */
static void td_cl_teardown(td_rpc_client_t *cl, const char *why)
{
    int was_ready = cl->state == TD_CL_READY;
    td_rpc_ccall_t *c;

    while ((c = cl->active.head) != NULL) {
        td_cl_finish(c, TD_GRPC_UNAVAILABLE, why);
    }
    td_cl_forget_streams(cl);
    if (!was_ready) {
        while ((c = cl->pending.head) != NULL) {
            td_cl_finish(c, TD_GRPC_UNAVAILABLE, why);
        }
    }
    if (cl->ng != NULL) {
        nghttp2_session_del(cl->ng);
        cl->ng = NULL;
    }
    td_conn_free(cl->conn);
    cl->conn = NULL;
    cl->closing = 0;
    cl->goaway = 0;
    if (was_ready) {
        /* A connection that worked: reconnect at once if calls wait, with a fresh backoff. */
        cl->backoff_ms = cl->opts.backoff_min_ms;
        cl->state = TD_CL_IDLE;
        if (cl->pending.head != NULL) {
            td_cl_connect(cl);
        }
    } else {
        td_cl_start_backoff(cl);
    }
}

static void td_cl_on_connected(void *ud)
{
    td_rpc_client_t *cl = ud;
    nghttp2_settings_entry iv[2] = {
        { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 8u << 20 },
        { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
    };

    nghttp2_session_client_new(&cl->ng, td_cl_callbacks(), cl);
    nghttp2_submit_settings(cl->ng, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(cl->ng, NGHTTP2_FLAG_NONE, 0, 64 << 20);
    cl->state = TD_CL_READY;
    td_timer_stop(cl->connect_timer);
    cl->backoff_ms = cl->opts.backoff_min_ms;
    td_cl_submit_pending(cl);
    td_cl_flush(cl);
}

static long td_cl_on_read(void *ud, const uint8_t *p, size_t n)
{
    td_rpc_client_t *cl = ud;
    ssize_t rc;
    if (cl->ng == NULL || cl->closing) {
        return (long)n;
    }
    cl->in_recv = 1;
    rc = nghttp2_session_mem_recv(cl->ng, p, n);
    cl->in_recv = 0;
    if (rc < 0) {
        td_log_warn("%s:%d: HTTP/2 error: %s", cl->host, cl->port, nghttp2_strerror((int)rc));
        return TD_EPROTO;
    }
    td_cl_submit_pending(cl);
    td_cl_flush(cl);
    return (long)n;
}

static void td_cl_on_kick(void *ud)
{
    td_rpc_client_t *cl = ud;
    if (cl->closing) {
        td_cl_teardown(cl, "connection closed");
        return;
    }
    td_cl_flush(cl);
}

static void td_cl_on_close(void *ud, int err)
{
    td_rpc_client_t *cl = ud;
    (void)err;
    cl->closing = 1;
    td_conn_kick(cl->conn);
}

static const td_conn_ops_t td_cl_conn_ops = {
    td_cl_on_read,
    td_cl_on_kick,
    td_cl_on_connected,
    td_cl_on_close,
};

static void td_cl_flush(td_rpc_client_t *cl)
{
    if (cl->ng == NULL || cl->in_recv || cl->closing) {
        return;
    }
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(cl->ng, &data);
        if (n < 0) {
            cl->closing = 1;
            td_conn_kick(cl->conn);
            return;
        }
        if (n == 0) {
            break;
        }
        td_conn_write(cl->conn, data, (size_t)n);
    }
    td_conn_flush(cl->conn);
    if (!nghttp2_session_want_read(cl->ng) && !nghttp2_session_want_write(cl->ng)) {
        cl->closing = 1;
        td_conn_kick(cl->conn);
    }
}

static void td_cl_connect_timeout(void *arg)
{
    td_rpc_client_t *cl = arg;
    if (cl->state == TD_CL_CONNECTING) {
        td_log_debug("%s:%d: connect timeout", cl->host, cl->port);
        td_cl_teardown(cl, "connect timeout");
    }
}

static void td_cl_connect(td_rpc_client_t *cl)
{
    cl->state = TD_CL_CONNECTING;
    td_timer_start(cl->connect_timer, cl->opts.connect_timeout_ms);
    cl->conn = td_conn_connect(cl->loop, cl->host, cl->port, cl->tls, cl->opts.tls.server_name,
                               &td_cl_conn_ops, cl);
    if (cl->conn == NULL) {
        td_cl_start_backoff(cl);
    }
}

static void td_cl_backoff_fire(void *arg)
{
    td_rpc_client_t *cl = arg;
    cl->state = TD_CL_IDLE;
    if (cl->pending.head != NULL) {
        td_cl_connect(cl);
    }
}

/* ---- public API ---- */

void td_rpc_client_opts_init(td_rpc_client_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->backoff_min_ms = 100;
    o->backoff_max_ms = 5000;
    o->connect_timeout_ms = 5000;
    o->max_recv_bytes = 128u << 20;
}

static const char *td_cl_dup(const char *s)
{
    return s != NULL ? td_strdup(s) : NULL;
}

td_rpc_client_t *td_rpc_client_new(td_loop_t *loop, const char *host, int port,
                                   const td_rpc_client_opts_t *opts)
{
    td_rpc_client_t *cl = td_calloc(1, sizeof(*cl));

    cl->loop = loop;
    cl->host = td_strdup(host);
    cl->port = port;
    if (opts != NULL) {
        cl->opts = *opts;
    } else {
        td_rpc_client_opts_init(&cl->opts);
    }
    cl->opts.tls.cert_file = td_cl_dup(cl->opts.tls.cert_file);
    cl->opts.tls.key_file = td_cl_dup(cl->opts.tls.key_file);
    cl->opts.tls.ca_file = td_cl_dup(cl->opts.tls.ca_file);
    cl->opts.tls.server_name = td_cl_dup(cl->opts.tls.server_name);
    cl->backoff_ms = cl->opts.backoff_min_ms;
    cl->backoff_timer = td_timer_new(loop, td_cl_backoff_fire, cl);
    cl->deliver_timer = td_timer_new(loop, td_cl_deliver, cl);
    cl->connect_timer = td_timer_new(loop, td_cl_connect_timeout, cl);
    if (cl->opts.tls.enabled || cl->opts.tls.ca_file != NULL || cl->opts.tls.cert_file != NULL) {
        cl->tls = td_tls_ctx_client(&cl->opts.tls);
        if (cl->tls == NULL) {
            td_rpc_client_free(cl);
            return NULL;
        }
    }
    return cl;
}

void td_rpc_client_free(td_rpc_client_t *cl)
{
    td_rpc_ccall_t *c;
    if (cl == NULL) {
        return;
    }
    while ((c = cl->active.head) != NULL) {
        td_cl_finish(c, TD_GRPC_CANCELLED, "client closed");
    }
    while ((c = cl->pending.head) != NULL) {
        td_cl_finish(c, TD_GRPC_CANCELLED, "client closed");
    }
    td_cl_forget_streams(cl);
    td_cl_deliver(cl);
    if (cl->ng != NULL) {
        nghttp2_session_del(cl->ng);
    }
    td_conn_free(cl->conn);
    td_timer_free(cl->backoff_timer);
    td_timer_free(cl->deliver_timer);
    td_timer_free(cl->connect_timer);
    td_tls_ctx_free(cl->tls);
    td_free((char *)cl->opts.tls.cert_file);
    td_free((char *)cl->opts.tls.key_file);
    td_free((char *)cl->opts.tls.ca_file);
    td_free((char *)cl->opts.tls.server_name);
    td_free(cl->host);
    td_free(cl);
}

/* Ends a call from this side: RST_STREAM CANCEL when it has a stream, then the status. */
static void td_cl_abort(td_rpc_ccall_t *c, int status, const char *message)
{
    td_rpc_client_t *cl = c->cl;
    if (c->finished) {
        return;
    }
    if (c->list == &cl->active && cl->ng != NULL && c->stream_open) {
        nghttp2_submit_rst_stream(cl->ng, NGHTTP2_FLAG_NONE, c->stream_id, NGHTTP2_CANCEL);
        td_conn_kick(cl->conn);
    }
    td_cl_finish(c, status, message);
}

static void td_cl_deadline(void *arg)
{
    td_cl_abort(arg, TD_GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
}

td_rpc_ccall_t *td_rpc_client_call(td_rpc_client_t *cl, const char *path,
                                   const ProtobufCMessage *req, const td_rpc_call_opts_t *o,
                                   td_rpc_done_fn done, void *arg)
{
    td_rpc_ccall_t *c = td_calloc(1, sizeof(*c));
    size_t n = protobuf_c_message_get_packed_size(req);

    c->cl = cl;
    c->path = td_strdup(path);
    c->done = done;
    c->arg = arg;
    c->status = -1;
    c->resp_desc = o != NULL ? o->resp : NULL;
    c->timeout_ms = o != NULL ? o->timeout_ms : 0;
    if (o != NULL && o->metadata != NULL) {
        int k = 0;
        while (o->metadata[k] != NULL && o->metadata[k + 1] != NULL) {
            k += 2;
        }
        c->md = td_calloc((size_t)k + 1, sizeof(char *));
        for (int i = 0; i < k; i++) {
            c->md[i] = td_strdup(o->metadata[i]);
        }
    }
    if (cl->opts.gzip_requests) {
        td_arena_t a;
        uint8_t *plain, *gz;
        size_t gzn;
        td_arena_init(&a, n + 64);
        plain = td_arena_alloc(&a, n);
        protobuf_c_message_pack(req, plain);
        td_grpc_gzip(&a, plain, n, &gz, &gzn);
        c->req = td_malloc(TD_GRPC_PREFIX + gzn);
        td_grpc_prefix_write(c->req, 1, (uint32_t)gzn);
        memcpy(c->req + TD_GRPC_PREFIX, gz, gzn);
        c->req_len = TD_GRPC_PREFIX + gzn;
        td_arena_destroy(&a);
    } else {
        c->req = td_malloc(TD_GRPC_PREFIX + n);
        td_grpc_prefix_write(c->req, 0, (uint32_t)n);
        protobuf_c_message_pack(req, c->req + TD_GRPC_PREFIX);
        c->req_len = TD_GRPC_PREFIX + n;
    }
    if (c->timeout_ms > 0) {
        c->timer = td_timer_new(cl->loop, td_cl_deadline, c);
        td_timer_start(c->timer, c->timeout_ms);
    }
    td_list_push(&cl->pending, c);
    switch (cl->state) {
    case TD_CL_IDLE:
        td_cl_connect(cl);
        break;
    case TD_CL_READY:
        if (!cl->in_recv) {
            td_cl_submit_pending(cl);
            td_conn_kick(cl->conn);
        }
        break;
    default:
        break; /* CONNECTING or BACKOFF: submitted once connected */
    }
    return c;
}

void td_rpc_client_cancel(td_rpc_ccall_t *c)
{
    td_cl_abort(c, TD_GRPC_CANCELLED, "cancelled by the caller");
}

int td_rpc_client_connected(const td_rpc_client_t *cl)
{
    return cl->state == TD_CL_READY;
}
