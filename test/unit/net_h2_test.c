/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the gRPC server session (src/net/rpc_server.c) without sockets: an nghttp2
 * client session in the test talks to a memory session of a td_rpc_server_t, bytes pumped
 * both ways by hand. Covers routing, statuses, bad input (malformed frames, header bombs,
 * bad gRPC lengths, truncated and oversize messages, garbage protobuf), cancellation,
 * deadlines and many concurrent streams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "error.h"
#include "mem.h"
#include "net/grpc_wire.h"
#include "net/pb_utf8.h"
#include "net/rpc_internal.h"
#include "google/protobuf/any.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "temporal/api/common/v1/message.pb-c.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"
#include "test.h"

typedef Temporal__Api__Common__V1__Payload td_payload_t;

#define TD_T_MAX_STREAMS 2048

typedef struct {
    int32_t id;
    int done;        /* stream closed */
    int status;      /* grpc-status, -1 if none */
    int http_status; /* :status */
    int rst;         /* closed with an error code */
    char message[256];
    char details[512];
    uint8_t *data;
    size_t len;
    int trailers_only;
    int headers_frames;
} td_t_stream_t;

typedef struct {
    td_loop_t *loop;
    td_rpc_server_t *srv;
    td_h2s_t *h;
    nghttp2_session *cl;
    td_t_stream_t streams[TD_T_MAX_STREAMS];
    int n;
    int goaway;
} td_t_env_t;

static int td_t_cancels;
static int td_t_hanging;

/* ---- server handlers ---- */

static void td_t_echo(td_rpc_call_t *c, void *ctx)
{
    (void)ctx;
    td_rpc_reply(c, td_rpc_request(c));
}

static void td_t_hang_cancel(void *arg)
{
    td_t_cancels++;
    td_t_hanging--;
    td_rpc_fail(arg, TD_GRPC_CANCELLED, "cancelled", NULL);
}

static void td_t_hang(td_rpc_call_t *c, void *ctx)
{
    (void)ctx;
    td_t_hanging++;
    td_rpc_on_cancel(c, td_t_hang_cancel, c);
}

static void td_t_nsnf(td_rpc_call_t *c, void *ctx)
{
    (void)ctx;
    td_rpc_fail_err(c, TD_ENSNOTFOUND, "Namespace ns9 is not found.");
}

/* Fails INVALID_ARGUMENT with the request payload's data as the message. */
static void td_t_fail_msg(td_rpc_call_t *c, void *ctx)
{
    const td_payload_t *p = (const td_payload_t *)td_rpc_request(c);
    char *m = td_arena_strndup(td_rpc_arena(c), (const char *)p->data.data, p->data.len);
    (void)ctx;
    td_rpc_fail(c, TD_GRPC_INVALID_ARGUMENT, m, NULL);
}

/* Replies with a copy of the request, then (when the data says "fail") fails it as above:
 * a status in trailers after a message. */
static void td_t_reply_then_fail(td_rpc_call_t *c, void *ctx)
{
    td_rpc_send(c, td_rpc_request(c));
    td_t_fail_msg(c, ctx);
}

/* The largest header block the server sends (0: nghttp2's default), for the next open. */
static size_t td_t_send_hdr_max;

/* ---- client side ---- */

static td_t_stream_t *td_t_find(td_t_env_t *e, int32_t id)
{
    for (int i = 0; i < e->n; i++) {
        if (e->streams[i].id == id) {
            return &e->streams[i];
        }
    }
    return NULL;
}

static int td_t_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                          size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    td_t_stream_t *st = td_t_find(ud, f->hd.stream_id);
    (void)s;
    (void)flags;
    if (st == NULL) {
        return 0;
    }
    if (nl == 11 && memcmp(name, "grpc-status", 11) == 0) {
        char b[16];
        snprintf(b, sizeof(b), "%.*s", (int)vl, value);
        st->status = atoi(b);
        if (st->headers_frames == 0) {
            st->trailers_only = 1;
        }
    } else if (nl == 12 && memcmp(name, "grpc-message", 12) == 0) {
        snprintf(st->message, sizeof(st->message), "%.*s", (int)vl, value);
    } else if (nl == 23 && memcmp(name, "grpc-status-details-bin", 23) == 0) {
        snprintf(st->details, sizeof(st->details), "%.*s", (int)vl, value);
    } else if (nl == 7 && memcmp(name, ":status", 7) == 0) {
        st->http_status = atoi((const char *)value);
    }
    return 0;
}

static int td_t_on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    td_t_env_t *e = ud;
    td_t_stream_t *st;
    (void)s;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        e->goaway = 1;
    }
    if (f->hd.type == NGHTTP2_HEADERS && (st = td_t_find(e, f->hd.stream_id)) != NULL) {
        st->headers_frames++;
    }
    return 0;
}

static int td_t_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
                        void *ud)
{
    td_t_stream_t *st = td_t_find(ud, id);
    (void)s;
    (void)flags;
    if (st != NULL) {
        st->data = td_realloc(st->data, st->len + n);
        memcpy(st->data + st->len, d, n);
        st->len += n;
    }
    return 0;
}

static int td_t_on_close(nghttp2_session *s, int32_t id, uint32_t err, void *ud)
{
    td_t_stream_t *st = td_t_find(ud, id);
    (void)s;
    if (st != NULL) {
        st->done = 1;
        st->rst = err != 0;
    }
    return 0;
}

static void td_t_open(td_t_env_t *e, size_t max_recv)
{
    nghttp2_session_callbacks *cb;
    td_rpc_server_opts_t o;
    td_rpc_method_t echo = { "/t.T/Echo", &temporal__api__common__v1__payload__descriptor,
                             td_t_echo, NULL };
    td_rpc_method_t hang = { "/t.T/Hang", &temporal__api__common__v1__payload__descriptor,
                             td_t_hang, NULL };
    td_rpc_method_t nsnf = { "/t.T/Nsnf", &temporal__api__common__v1__payload__descriptor,
                             td_t_nsnf, NULL };
    td_rpc_method_t failm = { "/t.T/Fail", &temporal__api__common__v1__payload__descriptor,
                              td_t_fail_msg, NULL };
    td_rpc_method_t sendf = { "/t.T/SendFail", &temporal__api__common__v1__payload__descriptor,
                              td_t_reply_then_fail, NULL };

    memset(e, 0, sizeof(*e));
    td_t_cancels = td_t_hanging = 0;
    e->loop = td_loop_new();
    td_rpc_server_opts_init(&o);
    if (max_recv) {
        o.max_recv_bytes = max_recv;
    }
    o.max_send_header_bytes = td_t_send_hdr_max;
    e->srv = td_rpc_server_new(e->loop, &o);
    TD_CHECK_INT(td_rpc_server_add(e->srv, &echo), ==, TD_OK);
    TD_CHECK_INT(td_rpc_server_add(e->srv, &echo), ==, TD_EEXIST);
    TD_CHECK_INT(td_rpc_server_add(e->srv, &hang), ==, TD_OK);
    TD_CHECK_INT(td_rpc_server_add(e->srv, &nsnf), ==, TD_OK);
    TD_CHECK_INT(td_rpc_server_add(e->srv, &failm), ==, TD_OK);
    TD_CHECK_INT(td_rpc_server_add(e->srv, &sendf), ==, TD_OK);
    e->h = td_rpc__mem_open(e->srv);
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, td_t_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, td_t_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, td_t_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, td_t_on_close);
    nghttp2_session_client_new(&e->cl, cb, e);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(e->cl, NGHTTP2_FLAG_NONE, NULL, 0);
}

/* Moves bytes both ways until neither side has anything to say. */
static void td_t_pump(td_t_env_t *e)
{
    for (int round = 0; round < 10000; round++) {
        const uint8_t *p;
        uint8_t *out = NULL;
        size_t moved = 0;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(e->cl, &p)) > 0) {
            td_rpc__mem_feed(e->h, p, (size_t)n);
            moved += (size_t)n;
        }
        n = (ssize_t)td_rpc__mem_take(e->h, &out);
        if (n > 0) {
            nghttp2_session_mem_recv(e->cl, out, (size_t)n);
            moved += (size_t)n;
        }
        td_free(out);
        if (moved == 0) {
            return;
        }
    }
}

static void td_t_close(td_t_env_t *e)
{
    td_rpc__mem_close(e->h);
    td_rpc_server_free(e->srv);
    nghttp2_session_del(e->cl);
    for (int i = 0; i < e->n; i++) {
        td_free(e->streams[i].data);
    }
    td_loop_free(e->loop);
}

typedef struct {
    const uint8_t *p;
    size_t n, off;
} td_t_body_t;

static ssize_t td_t_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    td_t_body_t *b = src->ptr;
    size_t k = b->n - b->off < len ? b->n - b->off : len;
    (void)s;
    (void)id;
    (void)ud;
    memcpy(buf, b->p + b->off, k);
    b->off += k;
    if (b->off == b->n) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return (ssize_t)k;
}

#define NV(n, v)                                                                   \
    {                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE \
    }

/* Submits a request with raw body bytes (NULL body = headers only with END_STREAM). Extra
 * headers as name, value pairs. */
static td_t_stream_t *td_t_request(td_t_env_t *e, const char *path, td_t_body_t *body,
                                   const char *const *extra)
{
    nghttp2_nv nv[300];
    int n = 0;
    nghttp2_data_provider dp;
    td_t_stream_t *st = &e->streams[e->n++];

    nv[n++] = (nghttp2_nv)NV(":method", "POST");
    nv[n++] = (nghttp2_nv)NV(":scheme", "http");
    nv[n++] = (nghttp2_nv)NV(":authority", "test");
    nv[n++] = (nghttp2_nv)NV(":path", path);
    nv[n++] = (nghttp2_nv)NV("content-type", "application/grpc");
    nv[n++] = (nghttp2_nv)NV("te", "trailers");
    for (int i = 0; extra != NULL && extra[i] != NULL; i += 2) {
        nv[n++] = (nghttp2_nv)NV(extra[i], extra[i + 1]);
    }
    dp.source.ptr = body;
    dp.read_callback = td_t_read;
    memset(st, 0, sizeof(*st));
    st->status = -1;
    st->id = nghttp2_submit_request(e->cl, NULL, nv, (size_t)n, body ? &dp : NULL, NULL);
    TD_CHECK(st->id > 0);
    return st;
}

/* A framed Payload message with data of n bytes. */
static uint8_t *td_t_frame(const char *data, size_t dn, size_t *n)
{
    td_payload_t p = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    size_t pn;
    uint8_t *b;
    p.data.data = (uint8_t *)data;
    p.data.len = dn;
    pn = protobuf_c_message_get_packed_size(&p.base);
    b = td_malloc(5 + pn);
    td_grpc_prefix_write(b, 0, (uint32_t)pn);
    protobuf_c_message_pack(&p.base, b + 5);
    *n = 5 + pn;
    return b;
}

static void td_t_check_echo(td_t_stream_t *st, const char *want)
{
    td_payload_t *p;
    TD_CHECK(st->done);
    TD_CHECK_INT(st->status, ==, 0);
    TD_CHECK_INT(st->len, >=, 5);
    p = temporal__api__common__v1__payload__unpack(NULL, st->len - 5, st->data + 5);
    TD_CHECK(p != NULL);
    TD_CHECK_INT(p->data.len, ==, strlen(want));
    TD_CHECK(memcmp(p->data.data, want, p->data.len) == 0);
    temporal__api__common__v1__payload__free_unpacked(p, NULL);
}

TD_TEST(net_h2_unary_and_unknown)
{
    td_t_env_t e;
    size_t n;
    uint8_t *f = td_t_frame("hello", 5, &n);
    td_t_body_t b = { f, n, 0 }, b2 = { f, n, 0 }, b3 = { f, n, 0 };
    td_t_stream_t *ok, *um, *us;

    td_t_open(&e, 0);
    ok = td_t_request(&e, "/t.T/Echo", &b, NULL);
    um = td_t_request(&e, "/t.T/Nope", &b2, NULL);
    us = td_t_request(&e, "/x.Y/Z", &b3, NULL);
    td_t_pump(&e);
    td_t_check_echo(ok, "hello");
    TD_CHECK(!ok->trailers_only);
    TD_CHECK_INT(um->status, ==, TD_GRPC_UNIMPLEMENTED);
    TD_CHECK(um->trailers_only);
    TD_CHECK_CONTAINS(um->message, "unknown method Nope for service t.T");
    TD_CHECK_INT(us->status, ==, TD_GRPC_UNIMPLEMENTED);
    TD_CHECK_CONTAINS(us->message, "unknown service x.Y");
    TD_CHECK_INT(td_rpc_server_call_count(e.srv), ==, 0);
    td_free(f);
    td_t_close(&e);
}

TD_TEST(net_h2_bad_messages)
{
    td_t_env_t e;
    uint8_t trunc[5 + 10], flag2[6] = { 2, 0, 0, 0, 1, 0 },
                           garbage[8] = { 0, 0, 0, 0, 3, 0xff, 0xff, 0xff };
    uint8_t two[10] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    td_t_body_t bt = { trunc, sizeof(trunc), 0 }, bf = { flag2, sizeof(flag2), 0 },
                bg = { garbage, sizeof(garbage), 0 }, b2 = { two, sizeof(two), 0 };
    td_t_stream_t *st, *sf, *sg, *s2, *se;

    td_grpc_prefix_write(trunc, 0, 100); /* says 100, has 10 */
    memset(trunc + 5, 0, 10);
    td_t_open(&e, 0);
    st = td_t_request(&e, "/t.T/Echo", &bt, NULL);
    sf = td_t_request(&e, "/t.T/Echo", &bf, NULL);
    sg = td_t_request(&e, "/t.T/Echo", &bg, NULL);
    s2 = td_t_request(&e, "/t.T/Echo", &b2, NULL);
    se = td_t_request(&e, "/t.T/Echo", NULL, NULL); /* no message at all */
    td_t_pump(&e);
    TD_CHECK_INT(st->status, ==, TD_GRPC_INTERNAL);
    TD_CHECK_CONTAINS(st->message, "truncated");
    TD_CHECK_INT(sf->status, ==, TD_GRPC_INTERNAL);
    TD_CHECK_INT(sg->status, ==, TD_GRPC_INTERNAL);
    TD_CHECK_CONTAINS(sg->message, "unmarshalling");
    TD_CHECK_INT(s2->status, ==, TD_GRPC_UNIMPLEMENTED);
    TD_CHECK_INT(se->status, ==, TD_GRPC_INTERNAL);
    TD_CHECK(!td_rpc__mem_closed(e.h));
    td_t_close(&e);
}

TD_TEST(net_h2_oversize_not_buffered)
{
    td_t_env_t e;
    static uint8_t body[200 * 1024];
    td_t_body_t b = { body, sizeof(body), 0 };
    td_t_stream_t *st;
    size_t n;
    uint8_t *f = td_t_frame("small", 5, &n);
    td_t_body_t ok = { f, n, 0 };

    td_grpc_prefix_write(body, 0, 150 * 1024);
    td_t_open(&e, 100 * 1024);
    st = td_t_request(&e, "/t.T/Echo", &b, NULL);
    td_t_pump(&e);
    TD_CHECK(st->done);
    TD_CHECK_INT(st->status, ==, TD_GRPC_RESOURCE_EXHAUSTED);
    TD_CHECK(st->trailers_only);
    TD_CHECK_CONTAINS(st->message, "larger than max");
    /* the connection keeps serving */
    st = td_t_request(&e, "/t.T/Echo", &ok, NULL);
    td_t_pump(&e);
    td_t_check_echo(st, "small");
    td_free(f);
    td_t_close(&e);
}

TD_TEST(net_h2_gzip_request)
{
    td_t_env_t e;
    td_arena_t a;
    size_t n, gzn;
    char text[4000];
    uint8_t *f, *gz, *framed;
    td_t_body_t b;
    td_t_body_t bu;
    const char *gzh[] = { "grpc-encoding", "gzip", NULL };
    const char *snappy[] = { "grpc-encoding", "snappy", NULL };
    td_t_stream_t *sgz, *sun;

    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    td_arena_init(&a, 1024);
    f = td_t_frame(text, strlen(text), &n);
    TD_CHECK_INT(td_grpc_gzip(&a, f + 5, n - 5, &gz, &gzn), ==, TD_OK);
    framed = td_arena_alloc(&a, gzn + 5);
    td_grpc_prefix_write(framed, 1, (uint32_t)gzn);
    memcpy(framed + 5, gz, gzn);
    b = (td_t_body_t){ framed, gzn + 5, 0 };
    bu = (td_t_body_t){ framed, gzn + 5, 0 };
    td_t_open(&e, 0);
    sgz = td_t_request(&e, "/t.T/Echo", &b, gzh);
    sun = td_t_request(&e, "/t.T/Echo", &bu, snappy);
    td_t_pump(&e);
    td_t_check_echo(sgz, text);
    TD_CHECK_INT(sun->status, ==, TD_GRPC_UNIMPLEMENTED);
    TD_CHECK_CONTAINS(sun->message, "Decompressor is not installed");
    td_free(f);
    td_arena_destroy(&a);
    td_t_close(&e);
}

TD_TEST(net_h2_cancel_and_close)
{
    td_t_env_t e;
    size_t n;
    uint8_t *f = td_t_frame("x", 1, &n);
    td_t_body_t b1 = { f, n, 0 }, b2 = { f, n, 0 };
    td_t_stream_t *s1;

    td_t_open(&e, 0);
    s1 = td_t_request(&e, "/t.T/Hang", &b1, NULL);
    td_t_request(&e, "/t.T/Hang", &b2, NULL);
    td_t_pump(&e);
    TD_CHECK_INT(td_t_hanging, ==, 2);
    TD_CHECK_INT(td_rpc_server_call_count(e.srv), ==, 2);
    /* the peer's RST_STREAM cancels the handler at once */
    nghttp2_submit_rst_stream(e.cl, NGHTTP2_FLAG_NONE, s1->id, NGHTTP2_CANCEL);
    td_t_pump(&e);
    TD_CHECK_INT(td_t_cancels, ==, 1);
    TD_CHECK_INT(td_t_hanging, ==, 1);
    TD_CHECK_INT(td_rpc_server_call_count(e.srv), ==, 1);
    /* connection loss cancels the rest */
    td_rpc__mem_close(e.h);
    e.h = td_rpc__mem_open(e.srv);
    TD_CHECK_INT(td_t_cancels, ==, 2);
    TD_CHECK_INT(td_t_hanging, ==, 0);
    TD_CHECK_INT(td_rpc_server_call_count(e.srv), ==, 0);
    td_free(f);
    td_t_close(&e);
}

static void td_t_stop_loop(void *arg)
{
    td_loop_stop(arg);
}

TD_TEST(net_h2_deadline)
{
    td_t_env_t e;
    size_t n;
    uint8_t *f = td_t_frame("x", 1, &n);
    td_t_body_t b = { f, n, 0 }, b0 = { f, n, 0 };
    const char *to[] = { "grpc-timeout", "30m", NULL };
    const char *bad[] = { "grpc-timeout", "1x", NULL };
    td_t_stream_t *st, *sb;
    td_timer_t *t;

    td_t_open(&e, 0);
    st = td_t_request(&e, "/t.T/Hang", &b, to);
    sb = td_t_request(&e, "/t.T/Hang", &b0, bad);
    td_t_pump(&e);
    TD_CHECK_INT(td_t_hanging, ==, 1);
    TD_CHECK_INT(sb->status, ==, TD_GRPC_INTERNAL);
    t = td_timer_new(e.loop, td_t_stop_loop, e.loop);
    td_timer_start(t, 150);
    td_loop_run(e.loop);
    td_timer_free(t);
    td_t_pump(&e);
    TD_CHECK(st->done);
    TD_CHECK_INT(st->status, ==, TD_GRPC_DEADLINE_EXCEEDED);
    TD_CHECK_INT(td_t_cancels, ==, 1);
    TD_CHECK_INT(td_t_hanging, ==, 0);
    TD_CHECK_INT(td_rpc_server_call_count(e.srv), ==, 0);
    td_free(f);
    td_t_close(&e);
}

TD_TEST(net_h2_header_bomb)
{
    td_t_env_t e;
    static char big[3000];
    const char *extra[2 * 100 + 1];
    td_t_stream_t *st;
    size_t n;
    uint8_t *f = td_t_frame("still", 5, &n);
    td_t_body_t b = { f, n, 0 }, b2 = { f, n, 0 };

    memset(big, 'h', sizeof(big) - 1);
    for (int i = 0; i < 100; i++) {
        extra[2 * i] = "x-bomb";
        extra[2 * i + 1] = big; /* HPACK sends repeats as one-byte references */
    }
    extra[200] = NULL;
    td_t_open(&e, 0);
    st = td_t_request(&e, "/t.T/Echo", &b, extra);
    td_t_pump(&e);
    TD_CHECK(st->done);
    TD_CHECK(st->status != 0);
    TD_CHECK_INT(td_rpc_server_call_count(e.srv), ==, 0);
    st = td_t_request(&e, "/t.T/Echo", &b2, NULL);
    td_t_pump(&e);
    td_t_check_echo(st, "still");
    td_free(f);
    td_t_close(&e);
}

TD_TEST(net_h2_many_streams)
{
    td_t_env_t e;
    size_t n;
    uint8_t *f = td_t_frame("x", 1, &n);
    static td_t_body_t bodies[1500];

    td_t_open(&e, 0);
    for (int i = 0; i < 1500; i++) {
        bodies[i] = (td_t_body_t){ f, n, 0 };
        td_t_request(&e, "/t.T/Hang", &bodies[i], NULL);
    }
    td_t_pump(&e);
    TD_CHECK_INT(td_t_hanging, ==, 1500);
    TD_CHECK_INT(td_rpc_server_call_count(e.srv), ==, 1500);
    td_t_close(&e); /* frees the server with 1500 live calls: every one cancelled */
    TD_CHECK_INT(td_t_cancels, ==, 1500);
    td_free(f);
}

TD_TEST(net_h2_malformed_frames)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    /* a SETTINGS frame with a length that is not a multiple of 6, then a DATA frame on stream 0 */
    static const uint8_t bad1[] = { 0, 0, 5, 4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5 };
    static const uint8_t bad2[] = { 0, 0, 0, 4, 0, 0, 0, 0,   0,   0,  0,
                                    3, 0, 1, 0, 0, 0, 0, 'a', 'b', 'c' };
    static const uint8_t junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    const uint8_t *cases[] = { bad1, bad2, junk };
    size_t lens[] = { sizeof(bad1), sizeof(bad2), sizeof(junk) };

    for (int i = 0; i < 3; i++) {
        td_loop_t *loop = td_loop_new();
        td_rpc_server_t *srv = td_rpc_server_new(loop, NULL);
        td_h2s_t *h = td_rpc__mem_open(srv);
        uint8_t *out = NULL;
        size_t outn;
        if (i < 2) {
            td_rpc__mem_feed(h, (const uint8_t *)preface, sizeof(preface) - 1);
        }
        td_rpc__mem_feed(h, cases[i], lens[i]);
        outn = td_rpc__mem_take(h, &out);
        TD_CHECK(td_rpc__mem_closed(h));
        /* the last frame written is a GOAWAY (type 7) for the HTTP/2 cases */
        TD_CHECK(outn > 0);
        td_free(out);
        td_rpc__mem_close(h);
        td_rpc_server_free(srv);
        td_loop_free(loop);
    }
}

TD_TEST(net_h2_fail_err_details)
{
    td_t_env_t e;
    size_t n, bn;
    uint8_t *f = td_t_frame("x", 1, &n), *bin;
    td_t_body_t b = { f, n, 0 };
    const char *ns[] = { "temporal-namespace", "ns9", NULL };
    td_t_stream_t *st;
    td_arena_t a;
    Google__Rpc__Status *rs;
    Temporal__Api__Errordetails__V1__NamespaceNotFoundFailure *d;

    td_t_open(&e, 0);
    st = td_t_request(&e, "/t.T/Nsnf", &b, ns);
    td_t_pump(&e);
    TD_CHECK_INT(st->status, ==, TD_GRPC_NOT_FOUND);
    TD_CHECK_STR(st->message, "Namespace ns9 is not found.");
    td_arena_init(&a, 512);
    TD_CHECK_INT(td_base64_decode(&a, st->details, strlen(st->details), &bin, &bn), ==, TD_OK);
    rs = google__rpc__status__unpack(td_arena_pb(&a), bn, bin);
    TD_CHECK(rs != NULL && rs->n_details == 1);
    TD_CHECK_STR(rs->details[0]->type_url,
                 "type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure");
    d = temporal__api__errordetails__v1__namespace_not_found_failure__unpack(
            td_arena_pb(&a), rs->details[0]->value.len, rs->details[0]->value.data);
    TD_CHECK(d != NULL);
    TD_CHECK_STR(d->namespace_, "ns9");
    td_arena_destroy(&a);
    td_free(f);
    td_t_close(&e);
}

/* A status message of 100,000 bytes goes out cut to TD_GRPC_MESSAGE_MAX, and is not split
 * inside a UTF-8 character. */
TD_TEST(net_h2_long_status_message_truncated)
{
    td_t_env_t e;
    size_t n, dn = 100000;
    char *data = td_malloc(dn);
    uint8_t *f;
    td_t_body_t b;
    td_t_stream_t *st;
    td_arena_t a;
    const char *clipped;

    for (size_t i = 0; i < dn; i += 2) {
        data[i] = (char)0xc3; /* "é" repeated: a cut at an odd offset would split one */
        data[i + 1] = (char)0xa9;
    }
    f = td_t_frame(data, dn, &n);
    b = (td_t_body_t){ f, n, 0 };
    td_t_open(&e, 0);
    st = td_t_request(&e, "/t.T/Fail", &b, NULL);
    td_t_pump(&e);
    TD_CHECK(st->done);
    TD_CHECK(!st->rst);
    TD_CHECK_INT(st->status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK(strncmp(st->message, "%C3%A9%C3%A9", 12) == 0);
    TD_CHECK_INT(td_rpc_server_call_count(e.srv), ==, 0);
    td_t_close(&e);

    td_arena_init(&a, 256);
    data[dn - 1] = '\0';
    clipped = td_grpc_message_clip(&a, data, TD_GRPC_MESSAGE_MAX);
    TD_CHECK_INT(strlen(clipped), <=, TD_GRPC_MESSAGE_MAX);
    TD_CHECK_INT(strlen(clipped), >, TD_GRPC_MESSAGE_MAX - 40);
    TD_CHECK_CONTAINS(clipped, "\xc3\xa9 ... (truncated)");
    TD_CHECK(td_grpc_message_clip(&a, "short", TD_GRPC_MESSAGE_MAX)[0] == 's');
    td_arena_destroy(&a);
    td_free(data);
    td_free(f);
}

/* When the status headers cannot be encoded (here: over a 300-byte send limit), the call
 * still ends with a status: INTERNAL, as Trailers-Only or as trailers after a message. */
TD_TEST(net_h2_unencodable_status_still_ends_call)
{
    td_t_env_t e;
    size_t n;
    char msg[1200];
    uint8_t *f;
    td_t_body_t b1, b2;
    td_t_stream_t *only, *after, *ok;
    size_t okn;
    uint8_t *okf = td_t_frame("fine", 4, &okn);
    td_t_body_t b3 = { okf, okn, 0 };

    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    f = td_t_frame(msg, strlen(msg), &n);
    b1 = (td_t_body_t){ f, n, 0 };
    b2 = (td_t_body_t){ f, n, 0 };
    td_t_send_hdr_max = 300;
    td_t_open(&e, 0);
    td_t_send_hdr_max = 0;
    only = td_t_request(&e, "/t.T/Fail", &b1, NULL);
    after = td_t_request(&e, "/t.T/SendFail", &b2, NULL);
    ok = td_t_request(&e, "/t.T/Echo", &b3, NULL);
    td_t_pump(&e);
    TD_CHECK(only->done);
    TD_CHECK_INT(only->status, ==, TD_GRPC_INTERNAL);
    TD_CHECK_STR(only->message, "the reply could not be encoded");
    TD_CHECK(after->done);
    TD_CHECK_INT(after->status, ==, TD_GRPC_INTERNAL);
    TD_CHECK_STR(after->message, "the reply could not be encoded");
    td_t_check_echo(ok, "fine");
    TD_CHECK_INT(td_rpc_server_call_count(e.srv), ==, 0);
    td_t_close(&e);
    td_free(f);
    td_free(okf);
}

/* Invalid UTF-8 in any string field (here a map key of a Payload) is refused before the
 * handler runs, naming the field; bytes fields may hold anything. */
TD_TEST(net_h2_invalid_utf8_refused)
{
    td_t_env_t e;
    td_payload_t p = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    Temporal__Api__Common__V1__Payload__MetadataEntry me =
            TEMPORAL__API__COMMON__V1__PAYLOAD__METADATA_ENTRY__INIT;
    Temporal__Api__Common__V1__Payload__MetadataEntry *mes[1] = { &me };
    uint8_t buf[256], *f2;
    size_t pn, n2;
    td_t_body_t b, b2;
    td_t_stream_t *bad, *good;

    me.key = "k\xe2\x82";
    me.value.data = (uint8_t *)"\xff\xfe";
    me.value.len = 2;
    p.n_metadata = 1;
    p.metadata = mes;
    pn = protobuf_c_message_get_packed_size(&p.base);
    td_grpc_prefix_write(buf, 0, (uint32_t)pn);
    protobuf_c_message_pack(&p.base, buf + 5);
    b = (td_t_body_t){ buf, 5 + pn, 0 };
    f2 = td_t_frame("\xff binary is fine", 16, &n2);
    b2 = (td_t_body_t){ f2, n2, 0 };
    td_t_open(&e, 0);
    bad = td_t_request(&e, "/t.T/Echo", &b, NULL);
    good = td_t_request(&e, "/t.T/Echo", &b2, NULL);
    td_t_pump(&e);
    TD_CHECK_INT(bad->status, ==, TD_GRPC_INVALID_ARGUMENT);
    TD_CHECK_CONTAINS(bad->message, "temporal.api.common.v1.Payload.MetadataEntry.key contains "
                                    "invalid UTF-8");
    td_t_check_echo(good, "\xff binary is fine");
    td_t_close(&e);
    td_free(f2);

    TD_CHECK(td_utf8_valid("plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 17));
    TD_CHECK(!td_utf8_valid("\xc0\xaf", 2));         /* overlong */
    TD_CHECK(!td_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    TD_CHECK(!td_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    TD_CHECK(!td_utf8_valid("\xe2\x82", 2));         /* truncated */
    TD_CHECK(!td_utf8_valid("\x80", 1));             /* lone continuation */
}
