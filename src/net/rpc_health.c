/* SPDX-License-Identifier: Apache-2.0 */
/*
 * grpc.health.v1.Health on every RPC server: Check answers the serving status of a service
 * name from a table the roles fill with td_rpc_server_set_health ("" = the whole server);
 * Watch streams the status now and after every change until the call is cancelled or the
 * server drains. Unknown services: Check fails NOT_FOUND, Watch streams SERVICE_UNKNOWN.
 * Loop thread only; internal to src/net/.
 */
#include <string.h>

#include "error.h"
#include "grpc/health/v1/health.pb-c.h"
#include "mem.h"
#include "net/rpc_internal.h"

static td_rpc_health_t *td_health_find(td_rpc_server_t *s, const char *service)
{
    for (td_rpc_health_t *h = s->health; h != NULL; h = h->next) {
        if (strcmp(h->service, service) == 0) {
            return h;
        }
    }
    return NULL;
}

static int td_health_status(td_rpc_server_t *s, const char *service)
{
    td_rpc_health_t *h = td_health_find(s, service);
    return h != NULL ? h->status
                     : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
}

static void td_health_check(td_rpc_call_t *call, void *ctx)
{
    td_rpc_server_t *s = ctx;
    const Grpc__Health__V1__HealthCheckRequest *req = (const void *)td_rpc_request(call);
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    const char *service = req->service != NULL ? req->service : "";

    if (td_health_find(s, service) == NULL) {
        td_rpc_fail(call, TD_GRPC_NOT_FOUND, "unknown service", NULL);
        return;
    }
    resp.status = td_health_status(s, service);
    td_rpc_reply(call, &resp.base);
}

static void td_health_watch_send(td_rpc_watch_t *w)
{
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = td_health_status(w->srv, w->service);
    w->last = resp.status;
    td_rpc_send(w->call, &resp.base);
}

static void td_health_watch_unlink(td_rpc_watch_t *w)
{
    if (w->prev != NULL) {
        w->prev->next = w->next;
    } else {
        w->srv->watches = w->next;
    }
    if (w->next != NULL) {
        w->next->prev = w->prev;
    }
}

static void td_health_watch_cancelled(void *arg)
{
    td_rpc_watch_t *w = arg;
    td_rpc_call_t *call = w->call;
    td_health_watch_unlink(w);
    td_free(w->service);
    td_free(w);
    td_rpc_fail(call, TD_GRPC_CANCELLED, "cancelled", NULL);
}

static void td_health_watch(td_rpc_call_t *call, void *ctx)
{
    td_rpc_server_t *s = ctx;
    const Grpc__Health__V1__HealthCheckRequest *req = (const void *)td_rpc_request(call);
    td_rpc_watch_t *w = td_calloc(1, sizeof(*w));

    w->srv = s;
    w->call = call;
    w->service = td_strdup(req->service != NULL ? req->service : "");
    w->next = s->watches;
    if (s->watches != NULL) {
        s->watches->prev = w;
    }
    s->watches = w;
    td_rpc_on_cancel(call, td_health_watch_cancelled, w);
    td_health_watch_send(w);
}

void td_rpc_server_set_health(td_rpc_server_t *s, const char *service, int status)
{
    td_rpc_health_t *h = td_health_find(s, service);
    if (h == NULL) {
        h = td_calloc(1, sizeof(*h));
        h->service = td_strdup(service);
        h->next = s->health;
        s->health = h;
    }
    h->status = status;
    for (td_rpc_watch_t *w = s->watches; w != NULL; w = w->next) {
        if (strcmp(w->service, service) == 0 && w->last != status) {
            td_health_watch_send(w);
        }
    }
}

void td_rpc__health_init(td_rpc_server_t *s)
{
    td_rpc_method_t check = { "/grpc.health.v1.Health/Check",
                              &grpc__health__v1__health_check_request__descriptor, td_health_check,
                              s };
    td_rpc_method_t watch = { "/grpc.health.v1.Health/Watch",
                              &grpc__health__v1__health_check_request__descriptor, td_health_watch,
                              s };
    td_rpc_server_add(s, &check);
    td_rpc_server_add(s, &watch);
    td_rpc_server_set_health(s, "",
                             GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
}

void td_rpc__health_end_watches(td_rpc_server_t *s)
{
    for (td_rpc_health_t *h = s->health; h != NULL; h = h->next) {
        td_rpc_server_set_health(
                s, h->service,
                GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
    }
    while (s->watches != NULL) {
        td_rpc_watch_t *w = s->watches;
        td_rpc_call_t *call = w->call;
        td_health_watch_unlink(w);
        td_free(w->service);
        td_free(w);
        td_rpc_on_cancel(call, NULL, NULL);
        td_rpc_fail(call, TD_GRPC_UNAVAILABLE, "server is shutting down", NULL);
    }
}

void td_rpc__health_free(td_rpc_server_t *s)
{
    /* Watch calls were cancelled with their sessions; their callbacks freed the watchers. */
    while (s->health != NULL) {
        td_rpc_health_t *h = s->health;
        s->health = h->next;
        td_free(h->service);
        td_free(h);
    }
}
