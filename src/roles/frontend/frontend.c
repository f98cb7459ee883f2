/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The frontend role: the public API: it validates requests, resolves namespaces and routes each
 * call to the history or matching role that owns it. This file holds the role descriptor and its
 * lifecycle only: create the RPC server from the configuration (exposed as srv->rpc), register
 * the handler groups listed in frontend.h, listen, drain, free. The handlers live beside it.
 */
#define TD_LOG_COMPONENT "frontend"

#include "roles/frontend/frontend.h"

#include <stdio.h>

#include "config.h"
#include "error.h"
#include "grpc/health/v1/health.pb-c.h"
#include "log.h"
#include "mem.h"
#include "roles/frontend/fe_http.h"
#include "roles/frontend/fe_ui.h"
#include "roles/role.h"

typedef struct {
    td_server_t *srv;
    td_rpc_server_t *rpc;
    td_fe_http_t *gateway;      /* the HTTP API over the rpc server's handlers */
    td_http_server_t *http_api; /* [frontend] http_port */
    td_http_server_t *ui;       /* [ui] port: the Web UI */
    int running;
} td_frontend_t;

#define TD_HEALTH_SERVING     GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define TD_HEALTH_NOT_SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING

/* Every handler group of the frontend; add new groups here (see frontend.h). */
static int td_frontend_register_all(td_frontend_t *r)
{
    int rc = TD_OK;
    if (rc == TD_OK) {
        rc = td_frontend_system_info_register(r->rpc, r->srv);
    }
    if (rc == TD_OK) {
        rc = td_frontend_api_register(r->rpc, r->srv);
    }
    return rc;
}

static int td_frontend_init(td_server_t *srv, void **state)
{
    const td_config_t *cfg = srv->config;
    td_frontend_t *r = td_calloc(1, sizeof(*r));
    td_rpc_server_opts_t o;
    int rc = TD_OK;

    r->srv = srv;
    td_rpc_server_opts_init(&o);
    if (cfg->max_recv_bytes > 0) {
        o.max_recv_bytes = (size_t)cfg->max_recv_bytes;
    }
    o.tls.cert_file = cfg->tls_cert_file;
    o.tls.key_file = cfg->tls_key_file;
    o.tls.ca_file = cfg->tls_ca_file;
    o.tls.require_client_cert = cfg->tls_require_client_cert;
    r->rpc = td_rpc_server_new(srv->loop, &o);
    if (r->rpc == NULL) {
        rc = TD_EINVAL;
        goto out;
    }
    srv->rpc = r->rpc;
    rc = td_frontend_register_all(r);
    r->gateway = td_fe_http_new(srv->loop, r->rpc);
out:
    *state = r;
    return rc;
}

/* The HTTP API listener: HTTP/1.1, with the gRPC server's TLS certificate when it has one. */
static int td_frontend_start_http(td_frontend_t *r, const char *ip)
{
    const td_config_t *cfg = r->srv->config;
    int port = cfg->http_port == TD_PORT_ANY ? 0 : cfg->http_port;
    td_http_opts_t o;
    char err[256] = "cannot load the TLS files";

    td_http_opts_init(&o);
    o.tls.cert_file = cfg->tls_cert_file;
    o.tls.key_file = cfg->tls_key_file;
    o.tls.ca_file = cfg->tls_ca_file;
    o.tls.require_client_cert = cfg->tls_require_client_cert;
    r->http_api = td_http_server_new(r->srv->loop, &o, td_fe_http_serve, r->gateway);
    if (r->http_api == NULL ||
        td_http_server_listen(r->http_api, ip, port, err, sizeof(err)) != TD_OK) {
        td_log_error("HTTP API: %s", err); /* the one line a failed start prints */
        return TD_EIO;
    }
    r->srv->http_port = td_http_server_port(r->http_api);
    printf("frontend HTTP API listening on %s:%d%s\n", ip, r->srv->http_port,
           cfg->tls_cert_file != NULL ? " (TLS)" : "");
    fflush(stdout);
    return TD_OK;
}

/* The Web UI listener ([ui] enabled, port, ip). A port already taken is reported and the
 * rest of the server runs on (the UI is a convenience, the API is not). */
static void td_frontend_start_ui(td_frontend_t *r, const char *ip)
{
    const td_config_t *cfg = r->srv->config;
    const char *uip = cfg->ui_ip != NULL ? cfg->ui_ip : ip;
    char err[256] = "";

    r->ui = td_http_server_new(r->srv->loop, NULL, td_fe_ui_serve, r->gateway);
    if (r->ui == NULL ||
        td_http_server_listen(r->ui, uip, cfg->ui_port, err, sizeof(err)) != TD_OK) {
        td_log_error("cannot serve the Web UI on %s:%d: %s", uip, cfg->ui_port, err);
        fprintf(stderr, "temporald: the Web UI could not listen on %s:%d (--ui-port, --headless)\n",
                uip, cfg->ui_port);
        td_http_server_free(r->ui);
        r->ui = NULL;
        return;
    }
    r->srv->ui_port = td_http_server_port(r->ui);
}

static int td_frontend_start(void *state)
{
    td_frontend_t *r = state;
    const td_config_t *cfg = r->srv->config;
    const char *ip = cfg->ip != NULL ? cfg->ip : "127.0.0.1";
    char err[256] = "";
    int rc = td_rpc_server_listen(r->rpc, ip, cfg->frontend_port, err, sizeof(err));

    if (rc != TD_OK) {
        /* the one line a failed start prints (server.c adds nothing) */
        td_log_error("%s", err);
        return rc;
    }
    td_rpc_server_set_health(r->rpc, "temporal.api.workflowservice.v1.WorkflowService",
                             TD_HEALTH_SERVING);
    td_rpc_server_set_health(r->rpc, "temporal.api.operatorservice.v1.OperatorService",
                             TD_HEALTH_SERVING);
    r->running = 1;
    printf("frontend gRPC listening on %s:%d%s\n", ip, td_rpc_server_port(r->rpc),
           cfg->tls_cert_file != NULL ? " (TLS)" : "");
    fflush(stdout);
    td_log_info("listening on %s:%d", ip, td_rpc_server_port(r->rpc));
    if (cfg->http_port != 0) {
        rc = td_frontend_start_http(r, ip);
    }
    if (rc == TD_OK && cfg->ui_enabled) {
        td_frontend_start_ui(r, ip);
    }
    return rc;
}

static void td_frontend_drain(void *state, td_loop_fn done, void *arg)
{
    td_frontend_t *r = state;
    r->running = 0;
    td_rpc_server_drain(r->rpc, done, arg);
}

static void td_frontend_stop(void *state)
{
    td_frontend_t *r = state;
    if (r->srv->rpc == r->rpc) {
        r->srv->rpc = NULL;
    }
    td_http_server_free(r->http_api);
    td_http_server_free(r->ui);
    td_fe_http_free(r->gateway);
    td_rpc_server_free(r->rpc);
    td_free(r);
}

const td_role_t td_role_frontend = {
    "frontend",        TD_ROLE_FRONTEND,  td_frontend_init,
    td_frontend_start, td_frontend_drain, td_frontend_stop,
};
