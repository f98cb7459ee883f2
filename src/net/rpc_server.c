/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gRPC server: HTTP/2 server sessions (nghttp2, fed bytes by conn.c) that turn each
 * request stream into a td_rpc_call_t, route it by :path to a registered handler and write
 * its answer back as gRPC (length-prefixed message, status in trailers, Trailers-Only for
 * errors). The handler API is in rpc.h; the wire encodings are in grpc_wire.c. Loop thread
 * only. It knows nothing of Temporal beyond the errordetails type_url convention and the
 * "namespace" request field it names when it logs a failed call. Every decoded request is
 * checked for invalid UTF-8 in its string fields (pb_utf8.c) before its handler runs; status
 * messages are cut to TD_GRPC_MESSAGE_MAX, and a status whose headers nghttp2 cannot encode
 * is replaced by INTERNAL, so that every call ends with a status.
 *
 * Design notes: the call (one per request stream)
 *
 * Invariants:
 *   - A call is referenced by its stream while on_stream is set (nghttp2 stream user data),
 *     and by its handler while with_handler is set. It is freed when both are clear.
 *   - A call is answered on the wire at most once (answered); the handler ends it exactly once
 *     (td_rpc_reply/td_rpc_fail clear with_handler); after cancellation the end is a no-op on
 *     the wire.
 *   - on_cancel fires at most once, and only while with_handler is set.
 *   - The request body buffer never exceeds 5 + max_recv_bytes; an oversize message is
 *     answered RESOURCE_EXHAUSTED from its prefix and the rest of its bytes are discarded.
 *   - Nothing is sent from inside nghttp2 callbacks or from td_rpc_reply itself: output is
 *     flushed by the read path after nghttp2_session_mem_recv() returns, or by the kick event.
 *   - A complete request whose connection holds more output than out_high_water waits in the
 *     session's deferred list (DEFERRED) and runs, in order, once the backlog shrinks.
 *
 *   RECV --complete--> (backlog high) DEFERRED --backlog low--> HANDLER
 *    |        '--method found, backlog low-----------------------> HANDLER --reply/fail-->
 *    |                                                               ANSWERED --stream closed-->
 * FREED
 *    |--layer error (unknown method, too big, bad frame, deadline)--> ANSWERED
 *    |                                HANDLER --RST/conn loss/deadline--> CANCELLED
 *    '--RST/conn loss (also from DEFERRED)--> FREED      CANCELLED --handler ends--> FREED
 *
 *   FROM      -> TO         [function]
 *   RECV      -> HANDLER    [td_h2s_dispatch]
 *   RECV      -> DEFERRED   [td_h2s_dispatch -> td_h2s_defer]
 *   DEFERRED  -> HANDLER    [td_h2s_run_deferred -> td_h2s_dispatch]
 *   RECV      -> ANSWERED   [td_h2s_answer via td_h2s_dispatch, td_h2s_on_data, td_h2s_deadline]
 *   RECV      -> FREED      [td_h2s_on_stream_close]
 *   DEFERRED  -> FREED      [td_h2s_on_stream_close, td_h2s_teardown]
 *   HANDLER   -> ANSWERED   [td_rpc_reply, td_rpc_fail]
 *   HANDLER   -> CANCELLED  [td_h2s_on_stream_close, td_h2s_teardown, td_h2s_deadline]
 *   CANCELLED -> FREED      [td_rpc_reply, td_rpc_fail]
 *   ANSWERED  -> FREED      [td_h2s_on_stream_close, td_h2s_teardown]
 */
#define TD_LOG_COMPONENT "rpc"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "net/grpc_wire.h"
#include "net/pb_utf8.h"
#include "net/rpc_internal.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"

typedef struct td_md_s {
    struct td_md_s *next;
    const char *name;
    const char *value;
} td_md_t;

struct td_h2s_s {
    td_h2s_t *prev, *next;
    td_rpc_server_t *srv;
    td_conn_t *conn;
    nghttp2_session *ng;
    td_rpc_call_t *calls; /* every call whose stream is open */
    int in_recv;          /* inside nghttp2_session_mem_recv: do not send */
    int closing;          /* dead or done: free from the kick event */
    int goaway_sent;
    size_t queued;           /* response bytes of calls not yet handed to nghttp2 */
    td_rpc_call_t *deferred; /* complete requests waiting for the backlog to shrink */
    /* memory sessions (conn == NULL; tests and fuzzing): output collects here */
    uint8_t *mem_out;
    size_t mem_len, mem_cap;
};

struct td_rpc_call_s {
    td_rpc_call_t *prev, *next;   /* in the session's list while on_stream */
    td_rpc_call_t *dprev, *dnext; /* in the session's deferred list while is_deferred */
    int is_deferred;
    td_h2s_t *sess;       /* NULL once the stream is gone */
    td_rpc_server_t *srv; /* NULL once detached */
    td_loop_t *loop;
    int32_t stream_id;
    td_arena_t arena;
    td_rpc_method_t method;
    int found;
    /* request headers */
    const char *path, *http_method, *content_type, *encoding, *timeout;
    td_md_t *md;
    size_t hdr_bytes;
    /* request body */
    uint8_t *body;
    size_t body_len, body_cap;
    int discard;
    const ProtobufCMessage *req;
    /* lifecycle */
    int on_stream, with_handler, answered, cancelled, cancel_fired, remote_closed;
    td_loop_fn cancel_fn;
    void *cancel_arg;
    int64_t deadline;
    td_timer_t *timer;
    /* response */
    int headers_sent;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    int out_eof;
    int status;
    const char *message;
    const char *details_b64;
    int status_fallback; /* the status headers failed once: INTERNAL was submitted instead */
    /* in-process calls (td_rpc_local_call): the end of the call is handed to local_done */
    td_rpc_local_fn local_done;
    void *local_arg;
    int *local_ended; /* set while the handler runs inside td_rpc_local_call */
    int64_t start_ns; /* public calls (wire or td_rpc_local_call_md): metrics at the end */
};

static void td_h2s_flush(td_h2s_t *s);
static void td_h2s_schedule(td_h2s_t *s);
static void td_h2s_answer(td_rpc_call_t *c, int status, const char *message,
                          const ProtobufCMessage *detail);
static void td_h2s_cancel(td_rpc_call_t *c);
static const char *td_h2s_peer(const td_h2s_t *s);

/* ---- server object ---- */

void td_rpc_server_opts_init(td_rpc_server_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->max_recv_bytes = 4u << 20;
    o->max_streams = 4096;
    o->stream_window = 8u << 20;
    o->conn_window = 64u << 20;
    o->max_header_bytes = 64u << 10;
    o->out_high_water = 1u << 20;
}

static char *td_dup_or_null(const char *s)
{
    return s != NULL ? td_strdup(s) : NULL;
}

td_rpc_server_t *td_rpc_server_new(td_loop_t *loop, const td_rpc_server_opts_t *opts)
{
    td_rpc_server_t *s = td_calloc(1, sizeof(*s));

    s->loop = loop;
    if (opts != NULL) {
        s->opts = *opts;
    } else {
        td_rpc_server_opts_init(&s->opts);
    }
    s->opts.tls.cert_file = td_dup_or_null(s->opts.tls.cert_file);
    s->opts.tls.key_file = td_dup_or_null(s->opts.tls.key_file);
    s->opts.tls.ca_file = td_dup_or_null(s->opts.tls.ca_file);
    s->opts.tls.server_name = NULL;
    s->last_port = -1;
    if (s->opts.tls.cert_file != NULL) {
        s->tls = td_tls_ctx_server(&s->opts.tls);
        if (s->tls == NULL) {
            td_rpc_server_free(s);
            return NULL;
        }
    }
    td_rpc__health_init(s);
    return s;
}

static int td_method_cmp(const void *a, const void *b)
{
    return strcmp(((const td_rpc_method_t *)a)->path, ((const td_rpc_method_t *)b)->path);
}

static const td_rpc_method_t *td_rpc_server_find(const td_rpc_server_t *s, const char *path)
{
    td_rpc_method_t key;
    if (s->n_methods == 0) {
        return NULL;
    }
    key.path = path;
    return bsearch(&key, s->methods, (size_t)s->n_methods, sizeof(key), td_method_cmp);
}

int td_rpc_server_add(td_rpc_server_t *s, const td_rpc_method_t *m)
{
    if (m->path == NULL || m->path[0] != '/' || m->fn == NULL || m->req == NULL) {
        return TD_EINVAL;
    }
    if (td_rpc_server_find(s, m->path) != NULL) {
        return TD_EEXIST;
    }
    if (s->n_methods == s->cap_methods) {
        s->cap_methods = s->cap_methods ? s->cap_methods * 2 : 64;
        s->methods = td_realloc(s->methods, (size_t)s->cap_methods * sizeof(*s->methods));
    }
    s->methods[s->n_methods] = *m;
    s->methods[s->n_methods].path = td_strdup(m->path);
    s->n_methods++;
    qsort(s->methods, (size_t)s->n_methods, sizeof(*s->methods), td_method_cmp);
    return TD_OK;
}

/* Whether any method of the service named by path ("/pkg.Svc/M") is registered. */
static int td_rpc_server_has_service(const td_rpc_server_t *s, const char *path, size_t svc_len)
{
    for (int i = 0; i < s->n_methods; i++) {
        if (strncmp(s->methods[i].path, path, svc_len) == 0 && s->methods[i].path[svc_len] == '/') {
            return 1;
        }
    }
    return 0;
}

/* ---- calls ---- */

static td_rpc_call_t *td_call_new(td_h2s_t *s, int32_t stream_id)
{
    td_rpc_call_t *c = td_calloc(1, sizeof(*c));

    td_arena_init(&c->arena, 2048);
    c->sess = s;
    c->srv = s->srv;
    c->loop = s->srv->loop;
    c->stream_id = stream_id;
    c->on_stream = 1;
    c->next = s->calls;
    if (s->calls != NULL) {
        s->calls->prev = c;
    }
    s->calls = c;
    s->srv->n_calls++;
    return c;
}

static void td_call_undefer(td_rpc_call_t *c)
{
    if (!c->is_deferred) {
        return;
    }
    if (c->dprev != NULL) {
        c->dprev->dnext = c->dnext;
    } else {
        c->sess->deferred = c->dnext;
    }
    if (c->dnext != NULL) {
        c->dnext->dprev = c->dprev;
    }
    c->dprev = c->dnext = NULL;
    c->is_deferred = 0;
}

static void td_call_unlink(td_rpc_call_t *c)
{
    if (c->sess == NULL) {
        return;
    }
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        c->sess->calls = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
    td_call_undefer(c);
    c->sess->queued -= c->out_len - c->out_off;
    c->sess = NULL;
    c->on_stream = 0;
    if (c->srv != NULL) {
        c->srv->n_calls--;
        c->srv = NULL;
    }
}

static void td_call_free(td_rpc_call_t *c)
{
    td_timer_free(c->timer);
    td_free(c->body);
    td_free(c->out);
    td_arena_destroy(&c->arena);
    td_free(c);
}

static void td_call_maybe_free(td_rpc_call_t *c)
{
    if (!c->on_stream && !c->with_handler) {
        td_call_free(c);
    }
}

static void td_call_out_reserve(td_rpc_call_t *c, size_t more)
{
    if (c->out_off > 0 && c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
    }
    if (c->out_len + more > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 256;
        while (cap < c->out_len + more) {
            cap *= 2;
        }
        c->out = td_realloc(c->out, cap);
        c->out_cap = cap;
    }
}

/* Appends one length-prefixed message to the call's output. */
static void td_call_out_message(td_rpc_call_t *c, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    td_call_out_reserve(c, TD_GRPC_PREFIX + n);
    td_grpc_prefix_write(c->out + c->out_len, 0, (uint32_t)n);
    protobuf_c_message_pack(m, c->out + c->out_len + TD_GRPC_PREFIX);
    c->out_len += TD_GRPC_PREFIX + n;
    if (c->sess != NULL) {
        c->sess->queued += TD_GRPC_PREFIX + n;
    }
}

/* ---- HTTP/2 output ---- */

#define TD_NV(n, v)                                                                    \
    {                                                                                  \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE \
    }

static int td_status_nv(td_rpc_call_t *c, nghttp2_nv *nv, char *code)
{
    int n = 0;
    snprintf(code, 12, "%d", c->status);
    nv[n++] = (nghttp2_nv)TD_NV("grpc-status", code);
    if (c->message != NULL && c->message[0] != '\0') {
        nv[n++] = (nghttp2_nv)TD_NV("grpc-message", c->message);
    }
    if (c->details_b64 != NULL) {
        nv[n++] = (nghttp2_nv)TD_NV("grpc-status-details-bin", c->details_b64);
    }
    return n;
}

static ssize_t td_h2s_data_read(nghttp2_session *ng, int32_t stream_id, uint8_t *buf, size_t length,
                                uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    td_rpc_call_t *c = src->ptr;
    size_t avail = c->out_len - c->out_off;
    size_t n = avail < length ? avail : length;
    (void)ud;

    if (avail == 0 && !c->out_eof) {
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n > 0) {
        memcpy(buf, c->out + c->out_off, n);
        c->out_off += n;
        c->sess->queued -= n;
    }
    if (c->out_off == c->out_len && c->out_eof) {
        nghttp2_nv nv[3];
        char code[12];
        int k = td_status_nv(c, nv, code);
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (nghttp2_submit_trailer(ng, stream_id, nv, (size_t)k) != 0) {
            /* Without trailers the client would see a missing status: end the stream. */
            *flags &= ~(uint32_t)NGHTTP2_DATA_FLAG_NO_END_STREAM;
        } else {
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
        td_free(c->out);
        c->out = NULL;
        c->out_len = c->out_off = c->out_cap = 0;
    }
    return (ssize_t)n;
}

/* Submits the response headers (with a data provider) or a Trailers-Only response. */
static void td_h2s_submit(td_rpc_call_t *c, int trailers_only)
{
    nghttp2_nv nv[8];
    char code[12];
    int n = 0;
    nghttp2_data_provider dp;

    nv[n++] = (nghttp2_nv)TD_NV(":status", "200");
    nv[n++] = (nghttp2_nv)TD_NV("content-type", "application/grpc");
    nv[n++] = (nghttp2_nv)TD_NV("grpc-accept-encoding", "identity,deflate,gzip");
    if (trailers_only) {
        n += td_status_nv(c, nv + n, code);
        nghttp2_submit_response(c->sess->ng, c->stream_id, nv, (size_t)n, NULL);
    } else {
        dp.source.ptr = c;
        dp.read_callback = td_h2s_data_read;
        nghttp2_submit_response(c->sess->ng, c->stream_id, nv, (size_t)n, &dp);
    }
    c->headers_sent = 1;
}

/* Whether a status is one an operator should hear about: the server could not do what was
 * asked (a method it lacks, an internal fault, a dependency down). */
static int td_h2s_status_logged(int status)
{
    return status == TD_GRPC_UNIMPLEMENTED || status == TD_GRPC_INTERNAL ||
           status == TD_GRPC_UNAVAILABLE;
}

/* The namespace a call names: the request's "namespace" string field, else the
 * temporal-namespace header, else "". */
static const char *td_h2s_call_namespace(td_rpc_call_t *c)
{
    const char *ns = NULL;

    if (c->req != NULL) {
        const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field_by_name(c->req->descriptor, "namespace");
        if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING &&
            f->label != PROTOBUF_C_LABEL_REPEATED) {
            ns = *(const char *const *)((const char *)c->req + f->offset);
        }
    }
    if (ns == NULL || ns[0] == '\0') {
        ns = td_rpc_metadata(c, "temporal-namespace");
    }
    return ns != NULL ? ns : "";
}

/* Logs a call answered UNIMPLEMENTED, INTERNAL or UNAVAILABLE: once a minute per (method,
 * status), with the count of the calls not logged since, and at most TD_FAILLOG_PER_MIN
 * lines a minute in all (a client trying many unknown paths cannot flood the log). */
#define TD_FAILLOG_EVERY_MS 60000
#define TD_FAILLOG_PER_MIN  30
static void td_h2s_log_failure(td_rpc_call_t *c, int status, const char *message)
{
    td_rpc_server_t *srv = c->srv;
    const char *path = c->path != NULL ? c->path : "(no :path)";
    uint32_t h = 2166136261u;
    td_rpc_faillog_t *slot;
    int64_t now = td_now_mono_ms();
    const char *ns;

    if (srv == NULL || !td_h2s_status_logged(status)) {
        return;
    }
    for (const char *p = path; *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 16777619u;
    }
    slot = &srv->faillog[(h ^ (uint32_t)status) % TD_RPC_FAILLOG_SLOTS];
    if (slot->status == status && strncmp(slot->path, path, sizeof(slot->path) - 1) == 0 &&
        now - slot->last_ms < TD_FAILLOG_EVERY_MS) {
        slot->suppressed++;
        return;
    }
    if (now - srv->faillog_window_ms >= TD_FAILLOG_EVERY_MS) {
        srv->faillog_window_ms = now;
        srv->faillog_in_window = 0;
    }
    if (srv->faillog_in_window >= TD_FAILLOG_PER_MIN) {
        return;
    }
    srv->faillog_in_window++;
    ns = td_h2s_call_namespace(c);
    if (slot->status == status && strncmp(slot->path, path, sizeof(slot->path) - 1) == 0 &&
        slot->suppressed > 0) {
        td_log_(status == TD_GRPC_UNIMPLEMENTED ? TD_LOG_INFO : TD_LOG_WARN,
                "call %s namespace=\"%.200s\" answered %s: %.300s (and %ld more since the "
                "last report)",
                path, ns, td_grpc_status_name(status), message != NULL ? message : "",
                slot->suppressed);
    } else {
        td_log_(status == TD_GRPC_UNIMPLEMENTED ? TD_LOG_INFO : TD_LOG_WARN,
                "call %s namespace=\"%.200s\" answered %s: %.300s", path, ns,
                td_grpc_status_name(status), message != NULL ? message : "");
    }
    snprintf(slot->path, sizeof(slot->path), "%s", path);
    slot->status = status;
    slot->last_ms = now;
    slot->suppressed = 0;
}

/* Details larger than this are dropped (the status and message still go out). */
#define TD_GRPC_DETAILS_B64_MAX (16u << 10)

/* Records the final status and schedules it (and any queued message) on the wire. */
static void td_h2s_finish(td_rpc_call_t *c, int status, const char *message,
                          const ProtobufCMessage *detail)
{
    td_h2s_log_failure(c, status, message);
    if (message != NULL) {
        message = td_grpc_message_clip(&c->arena, message, TD_GRPC_MESSAGE_MAX);
    }
    c->answered = 1;
    c->status = status;
    c->message = message != NULL ? td_grpc_percent_encode(&c->arena, message) : NULL;
    c->details_b64 = NULL;
    if (detail != NULL) {
        uint8_t *p;
        size_t n;
        td_grpc_status_pack(&c->arena, status, message, detail, &p, &n);
        if (n / 3 * 4 + 4 <= TD_GRPC_DETAILS_B64_MAX) {
            c->details_b64 = td_base64_encode(&c->arena, p, n);
        }
    }
    if (c->sess == NULL) {
        return;
    }
    if (!c->headers_sent && c->out_len == c->out_off) {
        td_h2s_submit(c, 1);
    } else {
        c->out_eof = 1;
        if (!c->headers_sent) {
            td_h2s_submit(c, 0);
        } else {
            nghttp2_session_resume_data(c->sess->ng, c->stream_id);
        }
    }
    td_h2s_schedule(c->sess);
}

static void td_h2s_answer(td_rpc_call_t *c, int status, const char *message,
                          const ProtobufCMessage *detail)
{
    if (c->answered) {
        return;
    }
    if (c->timer != NULL) {
        td_timer_stop(c->timer);
    }
    td_h2s_finish(c, status, message, detail);
}

/* Marks the call cancelled and fires on_cancel once. The call may be freed on return. */
static void td_h2s_cancel(td_rpc_call_t *c)
{
    c->cancelled = 1;
    if (c->timer != NULL) {
        td_timer_stop(c->timer);
    }
    if (c->with_handler && !c->cancel_fired && c->cancel_fn != NULL) {
        c->cancel_fired = 1;
        c->cancel_fn(c->cancel_arg);
    }
}

static void td_h2s_deadline(void *arg)
{
    td_rpc_call_t *c = arg;
    td_h2s_answer(c, TD_GRPC_DEADLINE_EXCEEDED, "deadline exceeded", NULL);
    if (c->with_handler) {
        td_h2s_cancel(c);
    }
}

/* ---- request processing ---- */

static void td_h2s_fail_early(td_rpc_call_t *c, int status, const char *message)
{
    td_h2s_answer(c, status, message, NULL);
    td_free(c->body);
    c->body = NULL;
    c->body_len = c->body_cap = 0;
    c->discard = 1;
}

static size_t td_h2s_backlog(const td_h2s_t *s);

/* Parks a complete request until the connection's backlog shrinks (FIFO). */
static void td_h2s_defer(td_rpc_call_t *c)
{
    td_rpc_call_t **pp = &c->sess->deferred, *prev = NULL;
    while (*pp != NULL) {
        prev = *pp;
        pp = &(*pp)->dnext;
    }
    *pp = c;
    c->dprev = prev;
    c->dnext = NULL;
    c->is_deferred = 1;
}

static void td_h2s_dispatch(td_rpc_call_t *c)
{
    int compressed = 0, rc;
    uint32_t len = 0;
    const uint8_t *msg;
    size_t msg_len;
    td_grpc_enc_t enc;
    size_t max = c->sess->srv->opts.max_recv_bytes;

    if (c->answered || c->discard) {
        return;
    }
    if (c->sess->conn != NULL && td_h2s_backlog(c->sess) >= c->sess->srv->opts.out_high_water) {
        td_h2s_defer(c);
        return;
    }
    if (c->path == NULL || c->http_method == NULL || strcmp(c->http_method, "POST") != 0) {
        td_h2s_fail_early(c, TD_GRPC_UNIMPLEMENTED, "gRPC requires method POST and a :path");
        return;
    }
    if (c->content_type == NULL || strncmp(c->content_type, "application/grpc", 16) != 0 ||
        (c->content_type[16] != '\0' && c->content_type[16] != '+' && c->content_type[16] != ';')) {
        td_h2s_fail_early(c, TD_GRPC_INTERNAL, "invalid gRPC request content-type");
        return;
    }
    if (!c->found) {
        const char *slash = strchr(c->path + 1, '/');
        size_t svc_len = slash != NULL ? (size_t)(slash - c->path) : strlen(c->path);
        char *m;
        if (slash != NULL && td_rpc_server_has_service(c->sess->srv, c->path, svc_len)) {
            m = td_arena_printf(&c->arena, "unknown method %s for service %.*s", slash + 1,
                                (int)svc_len - 1, c->path + 1);
        } else {
            m = td_arena_printf(&c->arena, "unknown service %.*s", (int)svc_len - 1, c->path + 1);
        }
        td_h2s_fail_early(c, TD_GRPC_UNIMPLEMENTED, m);
        return;
    }
    rc = td_grpc_prefix_parse(c->body, c->body_len, max, &compressed, &len);
    if (rc == TD_EAGAIN) {
        td_h2s_fail_early(c, TD_GRPC_INTERNAL,
                          c->body_len == 0 ? "missing request message" : "truncated message");
        return;
    }
    if (rc == TD_EPROTO) {
        td_h2s_fail_early(c, TD_GRPC_INTERNAL, "invalid message flags");
        return;
    }
    if (c->body_len - TD_GRPC_PREFIX < len) {
        td_h2s_fail_early(c, TD_GRPC_INTERNAL, "truncated message");
        return;
    }
    if (c->body_len - TD_GRPC_PREFIX > len) {
        td_h2s_fail_early(c, TD_GRPC_UNIMPLEMENTED, "more than one request message");
        return;
    }
    msg = c->body + TD_GRPC_PREFIX;
    msg_len = len;
    enc = td_grpc_encoding(c->encoding);
    if (compressed) {
        uint8_t *plain;
        size_t plain_len;
        if (enc == TD_GRPC_ENC_UNKNOWN) {
            td_h2s_fail_early(c, TD_GRPC_UNIMPLEMENTED,
                              td_arena_printf(&c->arena,
                                              "grpc: Decompressor is not installed for "
                                              "grpc-encoding \"%s\"",
                                              c->encoding));
            return;
        }
        if (enc == TD_GRPC_ENC_IDENTITY) {
            td_h2s_fail_early(c, TD_GRPC_INTERNAL,
                              "compressed flag set with identity or no grpc-encoding");
            return;
        }
        rc = td_grpc_inflate(&c->arena, enc, msg, msg_len, max, &plain, &plain_len);
        if (rc == TD_ETOOBIG) {
            td_h2s_fail_early(c, TD_GRPC_RESOURCE_EXHAUSTED,
                              td_arena_printf(&c->arena,
                                              "grpc: received message after decompression "
                                              "larger than max %zu",
                                              max));
            return;
        }
        if (rc != TD_OK) {
            td_h2s_fail_early(c, TD_GRPC_INTERNAL, "grpc: failed to decompress the message");
            return;
        }
        msg = plain;
        msg_len = plain_len;
    }
    c->req = protobuf_c_message_unpack(c->method.req, td_arena_pb(&c->arena), msg_len, msg);
    td_free(c->body);
    c->body = NULL;
    c->body_len = c->body_cap = 0;
    if (c->req == NULL) {
        td_h2s_fail_early(c, TD_GRPC_INTERNAL,
                          td_arena_printf(&c->arena, "grpc: error unmarshalling request as %s",
                                          c->method.req->name));
        return;
    }
    {
        const ProtobufCFieldDescriptor *bad_field;
        const ProtobufCMessageDescriptor *bad = td_pb_utf8_check(c->req, &bad_field);
        if (bad != NULL) {
            td_h2s_fail_early(c, TD_GRPC_INVALID_ARGUMENT,
                              td_arena_printf(&c->arena, "field %s.%s contains invalid UTF-8",
                                              bad->name, bad_field->name));
            return;
        }
    }
    c->with_handler = 1;
    c->start_ns = td_metrics_now_ns();
    c->method.fn(c, c->method.ctx);
}

/* ---- nghttp2 callbacks ---- */

static int td_h2s_on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    td_h2s_t *s = ud;
    td_rpc_call_t *c;

    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
    c = td_call_new(s, f->hd.stream_id);
    nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, c);
    return 0;
}

static int td_h2s_on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                            size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                            void *ud)
{
    td_h2s_t *s = ud;
    td_rpc_call_t *c;
    char *n, *v;
    (void)flags;

    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0; /* request trailers carry nothing gRPC needs */
    }
    c = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (c == NULL) {
        return 0;
    }
    c->hdr_bytes += namelen + valuelen + 32;
    if (c->hdr_bytes > s->srv->opts.max_header_bytes) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM INTERNAL_ERROR */
    }
    n = td_arena_strndup(&c->arena, (const char *)name, namelen);
    v = td_arena_strndup(&c->arena, (const char *)value, valuelen);
    if (n[0] == ':') {
        if (strcmp(n, ":path") == 0) {
            c->path = v;
        } else if (strcmp(n, ":method") == 0) {
            c->http_method = v;
        }
        return 0;
    }
    if (strcmp(n, "content-type") == 0) {
        c->content_type = v;
    } else if (strcmp(n, "grpc-encoding") == 0) {
        c->encoding = v;
    } else if (strcmp(n, "grpc-timeout") == 0) {
        c->timeout = v;
    }
    {
        td_md_t *m = td_arena_alloc(&c->arena, sizeof(*m));
        m->name = n;
        m->value = v;
        m->next = c->md;
        c->md = m;
    }
    return 0;
}

/* The request headers are complete: find the method, arm the deadline. */
static void td_h2s_headers_done(td_h2s_t *s, td_rpc_call_t *c)
{
    const td_rpc_method_t *m = c->path != NULL ? td_rpc_server_find(s->srv, c->path) : NULL;

    if (m != NULL) {
        c->method = *m;
        c->found = 1;
    }
    if (c->timeout != NULL) {
        int64_t ms;
        if (td_grpc_timeout_parse(c->timeout, &ms) != TD_OK) {
            td_h2s_fail_early(c, TD_GRPC_INTERNAL, "malformed grpc-timeout");
            return;
        }
        c->deadline = td_now_mono_ms() + ms;
        c->timer = td_timer_new(s->srv->loop, td_h2s_deadline, c);
        td_timer_start(c->timer, ms);
    }
}

static int td_h2s_on_data(nghttp2_session *ng, uint8_t flags, int32_t stream_id,
                          const uint8_t *data, size_t len, void *ud)
{
    td_h2s_t *s = ud;
    td_rpc_call_t *c = nghttp2_session_get_stream_user_data(ng, stream_id);
    size_t max = s->srv->opts.max_recv_bytes;
    (void)flags;

    if (c == NULL || c->discard || c->answered) {
        return 0;
    }
    if (c->body_len < TD_GRPC_PREFIX || c->body_len + len > c->body_cap) {
        /* Check the declared length before buffering past the prefix. */
        uint8_t pre[TD_GRPC_PREFIX];
        size_t have = c->body_len < TD_GRPC_PREFIX ? c->body_len : TD_GRPC_PREFIX;
        size_t take = TD_GRPC_PREFIX - have < len ? TD_GRPC_PREFIX - have : len;
        int compressed;
        uint32_t mlen = 0;
        size_t want;
        int rc;

        if (have > 0) {
            memcpy(pre, c->body, have);
        }
        memcpy(pre + have, data, take);
        rc = td_grpc_prefix_parse(pre, have + take, max, &compressed, &mlen);
        if (rc == TD_ETOOBIG) {
            td_h2s_fail_early(c, TD_GRPC_RESOURCE_EXHAUSTED,
                              td_arena_printf(&c->arena,
                                              "grpc: received message larger than max (%u vs. "
                                              "%zu)",
                                              mlen, max));
            return 0;
        }
        if (rc == TD_EPROTO) {
            td_h2s_fail_early(c, TD_GRPC_INTERNAL, "invalid message flags");
            return 0;
        }
        want = rc == TD_OK ? TD_GRPC_PREFIX + (size_t)mlen : TD_GRPC_PREFIX;
        if (c->body_len + len > want && rc == TD_OK) {
            td_h2s_fail_early(c, TD_GRPC_UNIMPLEMENTED, "more than one request message");
            return 0;
        }
        if (c->body_len + len > c->body_cap) {
            size_t cap = c->body_cap ? c->body_cap * 2 : 256;
            while (cap < c->body_len + len) {
                cap *= 2;
            }
            if (cap > want && rc == TD_OK) {
                cap = want;
            }
            if (cap < c->body_len + len) {
                cap = c->body_len + len;
            }
            c->body = td_realloc(c->body, cap);
            c->body_cap = cap;
        }
    }
    memcpy(c->body + c->body_len, data, len);
    c->body_len += len;
    return 0;
}

static int td_h2s_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    td_h2s_t *s = ud;
    td_rpc_call_t *c;

    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) {
        return 0;
    }
    c = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (c == NULL) {
        return 0;
    }
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        td_h2s_headers_done(s, c);
    }
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        c->remote_closed = 1;
        td_h2s_dispatch(c);
    }
    return 0;
}

static int td_h2s_on_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    td_rpc_call_t *c;
    (void)ud;

    /* Answered before the client finished sending (oversize, bad frame): stop its upload. */
    if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA)) {
        c = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
        if (c != NULL && !c->remote_closed) {
            nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
        }
    }
    return 0;
}

/* A HEADERS frame of a reply could not be sent (nghttp2 refused to encode it: a header block
 * over its send limit, say). The call must still end with a status: the first time, the
 * status becomes INTERNAL with a short message and is submitted again (as a Trailers-Only
 * response when no response headers went out, else as trailers); if that fails too, the
 * stream is reset (the client reports INTERNAL). */
static int td_h2s_on_frame_not_send(nghttp2_session *ng, const nghttp2_frame *f, int err, void *ud)
{
    td_h2s_t *s = ud;
    td_rpc_call_t *c;
    nghttp2_nv nv[3];
    char code[12];
    int k, rc = -1;

    if (f->hd.type != NGHTTP2_HEADERS) {
        return 0;
    }
    c = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    td_log_warn("%s: %s: the reply's headers could not be sent (%s)", td_h2s_peer(s),
                c != NULL && c->path != NULL ? c->path : "?", nghttp2_strerror(err));
    if (c != NULL && !c->status_fallback) {
        c->status_fallback = 1;
        c->status = TD_GRPC_INTERNAL;
        c->message = "the reply could not be encoded";
        c->details_b64 = NULL;
        if (f->headers.cat == NGHTTP2_HCAT_RESPONSE) {
            c->sess->queued -= c->out_len - c->out_off; /* the reply's message is dropped */
            c->out_len = c->out_off = 0;
            td_h2s_submit(c, 1);
            rc = 0;
        } else {
            k = td_status_nv(c, nv, code);
            rc = nghttp2_submit_trailer(ng, f->hd.stream_id, nv, (size_t)k);
        }
    }
    if (rc != 0) {
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_INTERNAL_ERROR);
    }
    return 0;
}

static int td_h2s_on_stream_close(nghttp2_session *ng, int32_t stream_id, uint32_t error_code,
                                  void *ud)
{
    td_rpc_call_t *c = nghttp2_session_get_stream_user_data(ng, stream_id);
    (void)ud;
    (void)error_code;

    if (c == NULL) {
        return 0;
    }
    nghttp2_session_set_stream_user_data(ng, stream_id, NULL);
    td_call_unlink(c);
    if (c->with_handler && !c->answered) {
        td_h2s_cancel(c); /* may end and free c */
        return 0;
    }
    td_call_maybe_free(c);
    return 0;
}

/* ---- sessions ---- */

static void td_h2s_close(td_h2s_t *s)
{
    if (!s->closing) {
        s->closing = 1;
        if (s->conn != NULL) {
            td_conn_kick(s->conn);
        }
    }
}

static size_t td_h2s_pending(const td_h2s_t *s)
{
    return s->conn != NULL ? td_conn_out_pending(s->conn) : 0;
}

/* Output this connection holds: bytes in the socket buffers plus responses waiting for
 * nghttp2 (a peer that does not read, or keeps its flow-control windows shut, makes this
 * grow). Above the high-water mark new requests wait in `deferred` instead of running:
 * frames are still read (WINDOW_UPDATEs must get through) but no new responses pile up.
 * Reading itself pauses only while the socket does not take our bytes. */
static size_t td_h2s_backlog(const td_h2s_t *s)
{
    return td_h2s_pending(s) + s->queued;
}

static const char *td_h2s_peer(const td_h2s_t *s)
{
    return s->conn != NULL ? td_conn_peer(s->conn) : "memory";
}

static void td_h2s_write(td_h2s_t *s, const uint8_t *p, size_t n)
{
    if (s->conn != NULL) {
        td_conn_write(s->conn, p, n);
        return;
    }
    if (s->mem_len + n > s->mem_cap) {
        size_t cap = s->mem_cap ? s->mem_cap : 4096;
        while (cap < s->mem_len + n) {
            cap *= 2;
        }
        s->mem_out = td_realloc(s->mem_out, cap);
        s->mem_cap = cap;
    }
    memcpy(s->mem_out + s->mem_len, p, n);
    s->mem_len += n;
}

/* Output is written from the connection's kick event, never from the function that queued
 * it: sending may close streams and free calls under the caller's feet. */
static void td_h2s_schedule(td_h2s_t *s)
{
    if (!s->in_recv && !s->closing && s->conn != NULL) {
        td_conn_kick(s->conn);
    }
}

/* Dispatches parked requests while the backlog allows; their output is flushed later. */
static void td_h2s_run_deferred(td_h2s_t *s)
{
    int ran = 0;
    while (s->deferred != NULL && td_h2s_backlog(s) < s->srv->opts.out_high_water) {
        td_rpc_call_t *c = s->deferred;
        td_call_undefer(c);
        td_h2s_dispatch(c);
        ran = 1;
    }
    if (ran) {
        td_h2s_schedule(s);
    }
}

static void td_h2s_flush(td_h2s_t *s)
{
    size_t high = s->srv->opts.out_high_water;

    if (s->in_recv || s->closing) {
        return;
    }
    /* Stage frames up to the high-water mark, hand them to the socket, repeat while it keeps
     * taking them; above the mark, reading pauses until the output drains (backpressure). */
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(s->ng, &data);
        if (n < 0) {
            td_log_debug("%s: nghttp2 send: %s", td_h2s_peer(s), nghttp2_strerror((int)n));
            td_h2s_close(s);
            return;
        }
        if (n == 0) {
            break;
        }
        td_h2s_write(s, data, (size_t)n);
        if (td_h2s_pending(s) >= high) {
            if (s->conn != NULL) {
                td_conn_flush(s->conn);
            }
            if (td_h2s_pending(s) >= high) {
                break;
            }
        }
    }
    if (s->conn != NULL) {
        td_conn_flush(s->conn);
        td_conn_pause_read(s->conn, td_h2s_pending(s) >= high);
    }
    if (s->deferred != NULL && td_h2s_backlog(s) < high) {
        td_h2s_run_deferred(s);
    }
    if (!nghttp2_session_want_read(s->ng) && !nghttp2_session_want_write(s->ng) &&
        td_h2s_pending(s) == 0) {
        td_h2s_close(s);
    }
}

static long td_h2s_on_read(void *ud, const uint8_t *p, size_t n)
{
    td_h2s_t *s = ud;
    ssize_t rc;

    if (s->closing) {
        return (long)n;
    }
    s->in_recv = 1;
    rc = nghttp2_session_mem_recv(s->ng, p, n);
    s->in_recv = 0;
    if (rc < 0) {
        td_log_debug("%s: nghttp2 recv: %s", td_h2s_peer(s), nghttp2_strerror((int)rc));
        /* nghttp2 queued a GOAWAY for protocol errors: try to send it, then close. */
        td_h2s_flush(s);
        td_h2s_close(s);
        return s->conn != NULL ? (long)n : TD_EPROTO;
    }
    td_h2s_flush(s);
    return (long)n;
}

static void td_h2s_teardown(td_h2s_t *s);

static void td_h2s_on_kick(void *ud)
{
    td_h2s_t *s = ud;
    if (s->closing) {
        td_h2s_teardown(s);
        return;
    }
    td_h2s_flush(s);
}

static void td_h2s_on_close(void *ud, int err)
{
    td_h2s_t *s = ud;
    (void)err;
    td_h2s_close(s);
}

static const td_conn_ops_t td_h2s_conn_ops = {
    td_h2s_on_read,
    td_h2s_on_kick,
    NULL,
    td_h2s_on_close,
};

static nghttp2_session_callbacks *td_h2s_callbacks(void)
{
    static nghttp2_session_callbacks *cbs;
    if (cbs == NULL) {
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, td_h2s_on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cbs, td_h2s_on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, td_h2s_on_data);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, td_h2s_on_frame_recv);
        nghttp2_session_callbacks_set_on_frame_send_callback(cbs, td_h2s_on_frame_send);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, td_h2s_on_stream_close);
        nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, td_h2s_on_frame_not_send);
    }
    return cbs;
}

/* A session on conn (NULL = a memory session whose output collects in mem_out). */
static td_h2s_t *td_h2s_new(td_rpc_server_t *srv, td_conn_t *conn)
{
    td_h2s_t *s = td_calloc(1, sizeof(*s));
    nghttp2_option *opt;
    nghttp2_settings_entry iv[4];

    s->srv = srv;
    s->conn = conn;
    nghttp2_option_new(&opt);
    /* nghttp2 answers PINGs itself and never sends GOAWAY for frequent ones; the bound on
     * queued ACKs only stops a peer that never reads. */
    nghttp2_option_set_max_outbound_ack(opt, 10000);
    if (srv->opts.max_send_header_bytes > 0) {
        nghttp2_option_set_max_send_header_block_length(opt, srv->opts.max_send_header_bytes);
    }
    nghttp2_session_server_new2(&s->ng, td_h2s_callbacks(), s, opt);
    nghttp2_option_del(opt);
    iv[0] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
                                      srv->opts.max_streams };
    iv[1] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
                                      srv->opts.stream_window };
    iv[2] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
                                      (uint32_t)srv->opts.max_header_bytes };
    iv[3] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 64 * 1024 };
    nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, 4);
    nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0,
                                          (int32_t)srv->opts.conn_window);
    s->next = srv->sessions;
    if (srv->sessions != NULL) {
        srv->sessions->prev = s;
    }
    srv->sessions = s;
    srv->n_conns++;
    if (srv->draining) {
        nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
        s->goaway_sent = 1;
    }
    return s; /* the caller flushes once the session has its transport */
}

static void td_rpc_server_check_drained(td_rpc_server_t *srv)
{
    if (srv->draining && srv->n_conns == 0 && srv->drain_done != NULL) {
        td_loop_fn fn = srv->drain_done;
        srv->drain_done = NULL;
        fn(srv->drain_arg);
    }
}

/* Detaches every call (cancelling those a handler holds), frees the session. */
static void td_h2s_teardown(td_h2s_t *s)
{
    td_rpc_server_t *srv = s->srv;

    s->closing = 1;
    while (s->deferred != NULL) {
        td_call_undefer(s->deferred);
    }
    while (s->calls != NULL) {
        td_rpc_call_t *c = s->calls;
        nghttp2_session_set_stream_user_data(s->ng, c->stream_id, NULL);
        td_call_unlink(c);
        if (c->with_handler && !c->answered) {
            c->answered = 1;
            td_h2s_cancel(c); /* may end and free c, and end other calls */
        } else {
            td_call_maybe_free(c);
        }
    }
    nghttp2_session_del(s->ng);
    td_conn_free(s->conn);
    td_free(s->mem_out);
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        srv->sessions = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    srv->n_conns--;
    td_free(s);
    td_rpc_server_check_drained(srv);
}

static void td_rpc_server_on_accept(void *ud, int fd)
{
    td_rpc_server_t *srv = ud;
    td_h2s_t *s;
    td_conn_t *conn;

    /* The session is created first so the connection's callbacks have their owner. */
    s = td_h2s_new(srv, NULL);
    conn = td_conn_accept(srv->loop, fd, srv->tls, &td_h2s_conn_ops, s);
    if (conn == NULL) {
        td_h2s_teardown(s);
        return;
    }
    s->conn = conn;
    td_h2s_flush(s);
}

/* ---- memory sessions (rpc_internal.h) ---- */

td_h2s_t *td_rpc__mem_open(td_rpc_server_t *srv)
{
    return td_h2s_new(srv, NULL);
}

int td_rpc__mem_feed(td_h2s_t *s, const uint8_t *p, size_t n)
{
    if (s->closing) {
        return TD_ECLOSED;
    }
    return td_h2s_on_read(s, p, n) < 0 ? TD_EPROTO : TD_OK;
}

size_t td_rpc__mem_take(td_h2s_t *s, uint8_t **out)
{
    size_t n;
    if (!s->closing) {
        td_h2s_flush(s);
    }
    n = s->mem_len;
    *out = s->mem_out;
    s->mem_out = NULL;
    s->mem_len = s->mem_cap = 0;
    return n;
}

int td_rpc__mem_closed(const td_h2s_t *s)
{
    return s->closing;
}

void td_rpc__mem_close(td_h2s_t *s)
{
    td_h2s_teardown(s);
}

int td_rpc_server_listen(td_rpc_server_t *s, const char *ip, int port, char *err, size_t errlen)
{
    td_listener_t *l;
    if (s->n_listeners == (int)TD_ARRAY_LEN(s->listeners)) {
        snprintf(err, errlen, "too many listeners");
        return TD_ELIMIT;
    }
    l = td_listener_new(s->loop, ip, port, td_rpc_server_on_accept, s, err, errlen);
    if (l == NULL) {
        return TD_EIO;
    }
    s->listeners[s->n_listeners++] = l;
    s->last_port = td_listener_port(l);
    return TD_OK;
}

const td_rpc_method_t *td_rpc_server_lookup(const td_rpc_server_t *s, const char *path)
{
    return td_rpc_server_find(s, path);
}

int td_rpc_server_port(const td_rpc_server_t *s)
{
    return s->last_port;
}

void td_rpc_server_drain(td_rpc_server_t *s, td_loop_fn done, void *arg)
{
    s->draining = 1;
    s->drain_done = done;
    s->drain_arg = arg;
    for (int i = 0; i < s->n_listeners; i++) {
        td_listener_free(s->listeners[i]);
        s->listeners[i] = NULL;
    }
    s->n_listeners = 0;
    td_rpc__health_end_watches(s);
    for (td_h2s_t *h = s->sessions; h != NULL; h = h->next) {
        if (!h->goaway_sent) {
            nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(h->ng), NGHTTP2_NO_ERROR,
                                  NULL, 0);
            h->goaway_sent = 1;
        }
        td_conn_kick(h->conn);
    }
    td_rpc_server_check_drained(s);
}

void td_rpc_server_free(td_rpc_server_t *s)
{
    if (s == NULL) {
        return;
    }
    s->drain_done = NULL;
    for (int i = 0; i < s->n_listeners; i++) {
        td_listener_free(s->listeners[i]);
    }
    while (s->sessions != NULL) {
        td_h2s_teardown(s->sessions);
    }
    td_rpc__health_free(s);
    for (int i = 0; i < s->n_methods; i++) {
        td_free((char *)s->methods[i].path);
    }
    td_free(s->methods);
    td_tls_ctx_free(s->tls);
    td_free((char *)s->opts.tls.cert_file);
    td_free((char *)s->opts.tls.key_file);
    td_free((char *)s->opts.tls.ca_file);
    td_free(s);
}

int td_rpc_server_conn_count(const td_rpc_server_t *s)
{
    return s->n_conns;
}

int td_rpc_server_call_count(const td_rpc_server_t *s)
{
    return s->n_calls;
}

/* ---- the handler API ---- */

const ProtobufCMessage *td_rpc_request(td_rpc_call_t *c)
{
    return c->req;
}

td_arena_t *td_rpc_arena(td_rpc_call_t *c)
{
    return &c->arena;
}

const char *td_rpc_metadata(td_rpc_call_t *c, const char *lowercase_name)
{
    for (td_md_t *m = c->md; m != NULL; m = m->next) {
        if (strcmp(m->name, lowercase_name) == 0) {
            return m->value;
        }
    }
    return NULL;
}

int64_t td_rpc_deadline(td_rpc_call_t *c)
{
    return c->deadline;
}

const char *td_rpc_method(td_rpc_call_t *c)
{
    return c->path;
}

const char *td_rpc_peer(td_rpc_call_t *c)
{
    return c->sess != NULL ? td_h2s_peer(c->sess) : "(gone)";
}

/* The request's string field "namespace", or NULL (metrics label). */
static const char *td_rpc_req_namespace(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f =
            m != NULL ? protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "namespace")
                      : NULL;
    if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED) {
        return NULL;
    }
    return *(char *const *)((const char *)m + f->offset);
}

/* Common end of a call by its handler. */
static void td_rpc_end(td_rpc_call_t *c, const ProtobufCMessage *resp, int status,
                       const char *message, const ProtobufCMessage *detail)
{
    if (!c->with_handler) {
        td_log_error("call %s ended twice (or before dispatch)", c->path ? c->path : "?");
        return;
    }
    c->with_handler = 0;
    if (c->start_ns != 0) {
        td_metrics_rpc(c->path, td_rpc_req_namespace(c->req), status,
                       td_metrics_now_ns() - c->start_ns);
    }
    if (c->local_done != NULL) {
        if (c->local_ended != NULL) {
            *c->local_ended = 1;
        }
        c->local_done(resp, status, message, detail, c->local_arg);
        td_call_free(c);
        return;
    }
    if (!c->answered && c->sess != NULL) {
        if (resp != NULL) {
            td_call_out_message(c, resp);
        }
        td_h2s_answer(c, status, message, detail);
    }
    td_call_maybe_free(c);
}

void td_rpc_reply(td_rpc_call_t *c, const ProtobufCMessage *resp)
{
    td_rpc_end(c, resp, TD_GRPC_OK, NULL, NULL);
}

void td_rpc_fail(td_rpc_call_t *c, int grpc_status, const char *message,
                 const ProtobufCMessage *detail)
{
    if (grpc_status == TD_GRPC_OK) {
        grpc_status = TD_GRPC_UNKNOWN;
    }
    td_rpc_end(c, NULL, grpc_status, message, detail);
}

/* The errordetails messages TD_ERR_MAP names, by short name. */
static const ProtobufCMessageDescriptor *const td_err_details[] = {
    &temporal__api__errordetails__v1__not_found_failure__descriptor,
    &temporal__api__errordetails__v1__namespace_not_found_failure__descriptor,
    &temporal__api__errordetails__v1__workflow_execution_already_started_failure__descriptor,
    &temporal__api__errordetails__v1__resource_exhausted_failure__descriptor,
    &temporal__api__errordetails__v1__permission_denied_failure__descriptor,
};

void td_rpc_fail_err(td_rpc_call_t *c, int td_err, const char *message)
{
    const char *dname = td_err_detail(td_err);
    ProtobufCMessage *detail = NULL;

    if (message == NULL) {
        message = td_strerror(td_err);
    }
    for (size_t i = 0; dname != NULL && i < TD_ARRAY_LEN(td_err_details); i++) {
        const ProtobufCMessageDescriptor *d = td_err_details[i];
        if (strcmp(d->short_name, dname) != 0) {
            continue;
        }
        detail = td_arena_calloc(&c->arena, d->sizeof_message);
        protobuf_c_message_init(d, detail);
        if (d == &temporal__api__errordetails__v1__namespace_not_found_failure__descriptor) {
            /* The SDKs name the namespace from the detail: take it from the request header. */
            const char *ns = td_rpc_metadata(c, "temporal-namespace");
            ((Temporal__Api__Errordetails__V1__NamespaceNotFoundFailure *)detail)->namespace_ =
                    (char *)(ns != NULL ? ns : "");
        } else if (d == &temporal__api__errordetails__v1__permission_denied_failure__descriptor) {
            ((Temporal__Api__Errordetails__V1__PermissionDeniedFailure *)detail)->reason =
                    (char *)message;
        }
        break;
    }
    td_rpc_fail(c, td_err_grpc_status(td_err), message, detail);
}

void td_rpc_on_cancel(td_rpc_call_t *c, td_loop_fn fn, void *arg)
{
    c->cancel_fn = fn;
    c->cancel_arg = arg;
    if (c->cancelled && !c->cancel_fired && fn != NULL) {
        c->cancel_fired = 1;
        td_loop_post(c->loop, fn, arg);
    }
}

int td_rpc_cancelled(const td_rpc_call_t *c)
{
    return c->cancelled;
}

void td_rpc_send(td_rpc_call_t *c, const ProtobufCMessage *msg)
{
    if (c->answered || c->sess == NULL) {
        return;
    }
    td_call_out_message(c, msg);
    if (!c->headers_sent) {
        td_h2s_submit(c, 0);
    } else {
        nghttp2_session_resume_data(c->sess->ng, c->stream_id);
    }
    td_h2s_schedule(c->sess);
}

/* ---- in-process calls ---- */

static td_rpc_call_t *td_rpc_local_start(td_loop_t *loop, const td_rpc_method_t *m,
                                         const ProtobufCMessage *req, int64_t deadline,
                                         const char *const *metadata, int public_call,
                                         td_rpc_local_fn done, void *arg)
{
    td_rpc_call_t *c = td_calloc(1, sizeof(*c));
    int ended = 0;

    c->start_ns = public_call ? td_metrics_now_ns() : 0;

    c->loop = loop;
    td_arena_init(&c->arena, 1024);
    for (int i = 0; metadata != NULL && metadata[i] != NULL && metadata[i + 1] != NULL; i += 2) {
        td_md_t *md = td_arena_calloc(&c->arena, sizeof(*md));
        md->name = td_arena_strdup(&c->arena, metadata[i]);
        md->value = td_arena_strdup(&c->arena, metadata[i + 1]);
        md->next = c->md;
        c->md = md;
    }
    c->method = *m;
    c->found = 1;
    c->path = m->path;
    c->req = req;
    c->deadline = deadline;
    c->with_handler = 1;
    c->local_done = done;
    c->local_arg = arg;
    c->local_ended = &ended;
    m->fn(c, m->ctx);
    if (ended) {
        return NULL;
    }
    c->local_ended = NULL;
    return c;
}

td_rpc_call_t *td_rpc_local_call(td_loop_t *loop, const td_rpc_method_t *m,
                                 const ProtobufCMessage *req, int64_t deadline,
                                 td_rpc_local_fn done, void *arg)
{
    return td_rpc_local_start(loop, m, req, deadline, NULL, 0, done, arg);
}

td_rpc_call_t *td_rpc_local_call_md(td_loop_t *loop, const td_rpc_method_t *m,
                                    const ProtobufCMessage *req, int64_t deadline,
                                    const char *const *metadata, td_rpc_local_fn done, void *arg)
{
    return td_rpc_local_start(loop, m, req, deadline, metadata, 1, done, arg);
}

void td_rpc_local_cancel(td_rpc_call_t *c)
{
    if (!c->cancelled) {
        td_h2s_cancel(c);
    }
}
