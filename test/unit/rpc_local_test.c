/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-process RPC calls (td_rpc_local_call): how colocated roles call each other.
 */
#include "test.h"

#include <stdio.h>

#include "error.h"
#include "loop.h"
#include "net/rpc.h"
#include "temporal/api/common/v1/message.pb-c.h"

typedef struct {
    td_loop_t *loop;
    td_rpc_call_t *held;
    td_timer_t *timer;
    int done, status, cancels;
    char data[64];
} td_lt_t;

static void td_lt_echo(td_rpc_call_t *c, void *ctx)
{
    const Temporal__Api__Common__V1__Payload *in = (const void *)td_rpc_request(c);
    Temporal__Api__Common__V1__Payload *out = td_arena_calloc(td_rpc_arena(c), sizeof(*out));
    (void)ctx;
    temporal__api__common__v1__payload__init(out);
    out->data = in->data;
    td_rpc_reply(c, &out->base);
}

static void td_lt_later_fire(void *arg)
{
    td_lt_t *t = arg;
    td_rpc_fail_err(t->held, TD_ENOTFOUND, "gone away");
}

static void td_lt_later(td_rpc_call_t *c, void *ctx)
{
    td_lt_t *t = ctx;
    t->held = c;
    td_timer_start(t->timer, 10);
}

static void td_lt_on_cancel(void *arg)
{
    td_lt_t *t = arg;
    t->cancels++;
    td_rpc_fail_err(t->held, TD_ECANCELED, NULL);
}

static void td_lt_park(td_rpc_call_t *c, void *ctx)
{
    td_lt_t *t = ctx;
    t->held = c;
    td_rpc_on_cancel(c, td_lt_on_cancel, t);
}

static void td_lt_done(const ProtobufCMessage *resp, int status, const char *message,
                       const ProtobufCMessage *detail, void *arg)
{
    td_lt_t *t = arg;
    (void)detail;
    t->done++;
    t->status = status;
    if (resp != NULL) {
        const Temporal__Api__Common__V1__Payload *p = (const void *)resp;
        snprintf(t->data, sizeof(t->data), "%.*s", (int)p->data.len, (const char *)p->data.data);
    } else {
        snprintf(t->data, sizeof(t->data), "%s", message ? message : "");
    }
    td_loop_stop(t->loop);
}

TD_TEST(rpc_local_call_reply_fail_cancel)
{
    td_lt_t t = { 0 };
    Temporal__Api__Common__V1__Payload req = TEMPORAL__API__COMMON__V1__PAYLOAD__INIT;
    td_rpc_method_t echo = { "/t/Echo", &temporal__api__common__v1__payload__descriptor, td_lt_echo,
                             NULL };
    td_rpc_method_t later = { "/t/Later", &temporal__api__common__v1__payload__descriptor,
                              td_lt_later, &t };
    td_rpc_method_t park = { "/t/Park", &temporal__api__common__v1__payload__descriptor, td_lt_park,
                             &t };
    td_rpc_call_t *c;

    t.loop = td_loop_new();
    t.timer = td_timer_new(t.loop, td_lt_later_fire, &t);
    req.data.data = (uint8_t *)"hello";
    req.data.len = 5;

    /* a handler that answers at once: done runs inside the call */
    TD_CHECK(td_rpc_local_call(t.loop, &echo, &req.base, 0, td_lt_done, &t) == NULL);
    TD_CHECK_INT(t.done, ==, 1);
    TD_CHECK_INT(t.status, ==, 0);
    TD_CHECK_STR(t.data, "hello");

    /* a handler that answers later, with an error */
    TD_CHECK(td_rpc_local_call(t.loop, &later, &req.base, 0, td_lt_done, &t) != NULL);
    TD_CHECK_INT(t.done, ==, 1);
    td_loop_run(t.loop);
    TD_CHECK_INT(t.done, ==, 2);
    TD_CHECK_INT(t.status, ==, TD_GRPC_NOT_FOUND);
    TD_CHECK_STR(t.data, "gone away");

    /* a parked call cancelled by its caller */
    c = td_rpc_local_call(t.loop, &park, &req.base, td_now_mono_ms() + 1000, td_lt_done, &t);
    TD_CHECK_INT(td_rpc_deadline(t.held), >, 0);
    TD_CHECK_INT(t.done, ==, 2);
    td_rpc_local_cancel(c);
    TD_CHECK_INT(t.cancels, ==, 1);
    TD_CHECK_INT(t.done, ==, 3);
    TD_CHECK_INT(t.status, ==, TD_GRPC_CANCELLED);

    td_timer_free(t.timer);
    td_loop_free(t.loop);
}
