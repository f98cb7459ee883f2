/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A gRPC server for the gRPC suite and benchmark: temporald's RPC layer with test-only methods
 * under /temporald.test.Test/ (requests and responses are temporal.api.common.v1.Payload), plus
 * GetSystemInfo. Not part of temporald. Prints "port N" once listening; SIGTERM drains.
 *
 * Usage: grpc_testserver [--port N] [--cert F --key F [--ca F] [--require-client-cert]]
 *                        [--max-recv BYTES]
 *
 *   Echo   returns the request; metadata "x-test" and "grpc-encoding" are copied into the
 *          response's Payload metadata
 *   Big    data = decimal N: returns N bytes of data
 *   Fail   fails NOT_FOUND with a NamespaceNotFoundFailure{namespace = data} detail
 *   Hang   never answers; cancellation ends it (counted)
 *   Delay  data = decimal ms: answers after that long
 *   Stats  metadata {cancels, calls, conns, hanging} as decimal strings
 *   Empty  returns an empty Payload (the benchmark's trivial method)
 */
#define TD_LOG_COMPONENT "testsrv"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "net/rpc.h"
#include "roles/frontend/frontend.h"
#include "temporal/api/common/v1/message.pb-c.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"

typedef Temporal__Api__Common__V1__Payload td_payload_t;
typedef Temporal__Api__Common__V1__Payload__MetadataEntry td_md_entry_t;

typedef struct {
    td_loop_t *loop;
    td_rpc_server_t *rpc;
    int cancels;
    int hanging;
    int draining;
} td_ts_t;

static td_ts_t ts;

static void td_ts_md_add(td_arena_t *a, td_payload_t *p, const char *k, const char *v)
{
    td_md_entry_t *e = td_arena_alloc(a, sizeof(*e));
    temporal__api__common__v1__payload__metadata_entry__init(e);
    e->key = td_arena_strdup(a, k);
    e->value.data = (uint8_t *)td_arena_strdup(a, v);
    e->value.len = strlen(v);
    if (p->metadata == NULL) {
        p->metadata = td_arena_alloc(a, sizeof(*p->metadata) * 8);
    }
    p->metadata[p->n_metadata++] = e;
}

static long td_ts_num(const td_payload_t *p)
{
    char buf[32];
    size_t n = p->data.len < sizeof(buf) - 1 ? p->data.len : sizeof(buf) - 1;
    memcpy(buf, p->data.data, n);
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

static void td_ts_echo(td_rpc_call_t *c, void *ctx)
{
    const td_payload_t *req = (const void *)td_rpc_request(c);
    td_payload_t resp = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    const char *x = td_rpc_metadata(c, "x-test");
    const char *enc = td_rpc_metadata(c, "grpc-encoding");
    (void)ctx;

    resp.data = req->data;
    if (x != NULL) {
        td_ts_md_add(td_rpc_arena(c), &resp, "x-test", x);
    }
    if (enc != NULL) {
        td_ts_md_add(td_rpc_arena(c), &resp, "grpc-encoding", enc);
    }
    td_rpc_reply(c, &resp.base);
}

static void td_ts_big(td_rpc_call_t *c, void *ctx)
{
    const td_payload_t *req = (const void *)td_rpc_request(c);
    td_payload_t resp = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    long n = td_ts_num(req);
    (void)ctx;

    if (n < 0 || n > (64L << 20)) {
        td_rpc_fail(c, TD_GRPC_INVALID_ARGUMENT, "size out of range", NULL);
        return;
    }
    resp.data.len = (size_t)n;
    resp.data.data = td_arena_alloc(td_rpc_arena(c), (size_t)n);
    for (long i = 0; i < n; i++) {
        resp.data.data[i] = (uint8_t)(i * 7);
    }
    td_rpc_reply(c, &resp.base);
}

static void td_ts_fail(td_rpc_call_t *c, void *ctx)
{
    const td_payload_t *req = (const void *)td_rpc_request(c);
    Temporal__Api__Errordetails__V1__NamespaceNotFoundFailure d =
            TEMPORAL__API__ERRORDETAILS__V1__NAMESPACE_NOT_FOUND_FAILURE__INIT;
    (void)ctx;

    d.namespace_ = td_arena_strndup(td_rpc_arena(c), (const char *)req->data.data, req->data.len);
    td_rpc_fail(
            c, TD_GRPC_NOT_FOUND,
            td_arena_printf(td_rpc_arena(c), "Namespace %s is not found. ünïcode%%", d.namespace_),
            &d.base);
}

static void td_ts_hang_cancelled(void *arg)
{
    td_rpc_call_t *c = arg;
    ts.cancels++;
    ts.hanging--;
    td_rpc_fail(c, TD_GRPC_CANCELLED, "cancelled", NULL);
}

static void td_ts_hang(td_rpc_call_t *c, void *ctx)
{
    (void)ctx;
    ts.hanging++;
    td_rpc_on_cancel(c, td_ts_hang_cancelled, c);
}

typedef struct {
    td_rpc_call_t *call;
    td_timer_t *timer;
    int cancelled;
} td_ts_delay_t;

static void td_ts_delay_fire(void *arg)
{
    td_ts_delay_t *d = arg;
    td_payload_t resp = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    td_rpc_call_t *c = d->call;

    td_timer_free(d->timer);
    td_free(d);
    resp.data.data = (uint8_t *)"done";
    resp.data.len = 4;
    td_rpc_reply(c, &resp.base);
}

static void td_ts_delay(td_rpc_call_t *c, void *ctx)
{
    const td_payload_t *req = (const void *)td_rpc_request(c);
    td_ts_delay_t *d = td_calloc(1, sizeof(*d));
    (void)ctx;

    d->call = c;
    d->timer = td_timer_new(ts.loop, td_ts_delay_fire, d);
    td_timer_start(d->timer, td_ts_num(req));
}

static void td_ts_stats(td_rpc_call_t *c, void *ctx)
{
    td_payload_t resp = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    td_arena_t *a = td_rpc_arena(c);
    char buf[32];
    (void)ctx;

    resp.metadata = td_arena_alloc(a, sizeof(*resp.metadata) * 4);
    {
        static const char *const keys[] = { "cancels", "calls", "conns", "hanging" };
        int vals[4];
        vals[0] = ts.cancels;
        vals[1] = td_rpc_server_call_count(ts.rpc) - 1; /* not counting this call */
        vals[2] = td_rpc_server_conn_count(ts.rpc);
        vals[3] = ts.hanging;
        for (int i = 0; i < 4; i++) {
            td_md_entry_t *e = td_arena_alloc(a, sizeof(*e));
            temporal__api__common__v1__payload__metadata_entry__init(e);
            snprintf(buf, sizeof(buf), "%d", vals[i]);
            e->key = (char *)keys[i];
            e->value.data = (uint8_t *)td_arena_strdup(a, buf);
            e->value.len = strlen(buf);
            resp.metadata[resp.n_metadata++] = e;
        }
    }
    td_rpc_reply(c, &resp.base);
}

static void td_ts_empty(td_rpc_call_t *c, void *ctx)
{
    td_payload_t resp = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    (void)ctx;
    td_rpc_reply(c, &resp.base);
}

static void td_ts_drained(void *arg)
{
    (void)arg;
    td_log_info("drained");
    td_loop_stop(ts.loop);
}

static void td_ts_on_term(void *arg)
{
    (void)arg;
    if (ts.draining++) {
        td_loop_stop(ts.loop);
        return;
    }
    td_rpc_server_drain(ts.rpc, td_ts_drained, NULL);
}

int main(int argc, char **argv)
{
    td_rpc_server_opts_t o;
    int port = 0;
    char err[256] = "";
    static const struct {
        const char *name;
        td_rpc_handler_fn fn;
    } methods[] = {
        { "Echo", td_ts_echo },   { "Big", td_ts_big },     { "Fail", td_ts_fail },
        { "Hang", td_ts_hang },   { "Delay", td_ts_delay }, { "Stats", td_ts_stats },
        { "Empty", td_ts_empty },
    };

    td_rpc_server_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--port") == 0 && v) {
            port = atoi(v);
            i++;
        } else if (strcmp(a, "--cert") == 0 && v) {
            o.tls.cert_file = v;
            i++;
        } else if (strcmp(a, "--key") == 0 && v) {
            o.tls.key_file = v;
            i++;
        } else if (strcmp(a, "--ca") == 0 && v) {
            o.tls.ca_file = v;
            i++;
        } else if (strcmp(a, "--require-client-cert") == 0) {
            o.tls.require_client_cert = 1;
        } else if (strcmp(a, "--max-recv") == 0 && v) {
            o.max_recv_bytes = (size_t)atol(v);
            i++;
        } else {
            fprintf(stderr, "grpc_testserver: unknown argument %s\n", a);
            return 2;
        }
    }
    td_log_setup(TD_LOG_WARN, TD_LOG_TEXT);
    signal(SIGPIPE, SIG_IGN);
    ts.loop = td_loop_new();
    ts.rpc = td_rpc_server_new(ts.loop, &o);
    if (ts.rpc == NULL) {
        return 1;
    }
    for (size_t i = 0; i < TD_ARRAY_LEN(methods); i++) {
        td_rpc_method_t m = { NULL, &temporal__api__common__v1__payload__descriptor, methods[i].fn,
                              NULL };
        char path[128];
        snprintf(path, sizeof(path), "/temporald.test.Test/%s", methods[i].name);
        m.path = path;
        td_rpc_server_add(ts.rpc, &m);
    }
    td_frontend_system_info_register(ts.rpc, NULL);
    td_rpc_server_set_health(ts.rpc, "temporald.test.Test", 1);
    if (td_rpc_server_listen(ts.rpc, "127.0.0.1", port, err, sizeof(err)) != TD_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    td_loop_on_signal(ts.loop, SIGTERM, td_ts_on_term, NULL);
    td_loop_on_signal(ts.loop, SIGINT, td_ts_on_term, NULL);
    printf("port %d\n", td_rpc_server_port(ts.rpc));
    fflush(stdout);
    td_loop_run(ts.loop);
    td_rpc_server_free(ts.rpc);
    td_loop_free(ts.loop);
    return 0;
}
