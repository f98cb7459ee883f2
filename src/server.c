/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process lifecycle. States:
 *
 *     INIT --roles init+start--> SERVING --SIGINT/SIGTERM--> [HANDING OFF] --> DRAINING
 *     --all drained or drain timeout--> STOPPED (roles stopped in reverse order, loop freed,
 *     exit 0)
 *
 * HANDING OFF (cluster mode, when a live peer hosts one of our history/matching roles;
 * TD_SERVER_HANDOFF_MS, at most half the drain timeout): the local members are marked
 * draining, so this process leaves its own rings (its history shards are released, its task
 * queues' polls answered) and the internal listeners report NOT_SERVING, so peers drop it
 * from theirs and take its keys; calls still arriving are redirected to the new owners.
 *     INIT --a role's init or start failed--> DRAINING (the roles already started) -->
 *     STOPPED (exit 1; the failing step logged its cause, the one line a failed start prints)
 *
 * A second signal while draining stops at once. Nothing here depends on a clean exit:
 * durability comes from the store, and SIGKILL is a normal way for tests to end a server.
 */
#define TD_LOG_COMPONENT "server"

#include "server.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cluster/admin.h"
#include "cluster/membership.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "net/http1.h"
#include "net/rpc.h"
#include "roles/nsreg.h"
#include "roles/svc.h"
#include "store/store.h"

/* Cluster mode: how long a stopping process keeps serving after leaving the rings, so that
 * peers (static members probe once a second) take its keys over before its roles drain. */
#define TD_SERVER_HANDOFF_MS 2500

static void td_server_drained_one(void *arg)
{
    td_server_t *srv = arg;
    if (--srv->drain_pending == 0) {
        td_log_info("drained");
        td_loop_stop(srv->loop);
    }
}

static void td_server_drain_timeout(void *arg)
{
    td_server_t *srv = arg;
    td_log_warn("drain timeout after %d ms; stopping with %d role(s) still busy",
                srv->config->drain_timeout_ms, srv->drain_pending);
    td_loop_stop(srv->loop);
}

/* Drains the roles (after the hand-off pause in cluster mode). */
static void td_server_drain_roles(void *arg)
{
    td_server_t *srv = arg;

    /* One extra count so that roles draining synchronously cannot finish the drain early. */
    srv->drain_pending = 1;
    for (int i = td_roles_count - 1; i >= 0; i--) {
        if (srv->role_started[i]) {
            srv->drain_pending++;
            td_roles[i]->drain(srv->role_state[i], td_server_drained_one, srv);
        }
    }
    td_server_drained_one(srv);
}

/* Whether another live member serves one of the routed roles this process hosts (someone to
 * hand keys to). */
static int td_server_has_peers(td_server_t *srv)
{
    const td_member_t *v;
    int n = td_membership_list(td_membership_of(srv), 0, &v);

    for (int i = 0; i < n; i++) {
        if (!v[i].self && (v[i].status == TD_MEMBER_ALIVE || v[i].status == TD_MEMBER_SUSPECT) &&
            (v[i].role & (TD_ROLE_HISTORY | TD_ROLE_MATCHING)) != 0 &&
            td_server_hosts(srv, v[i].role)) {
            return 1;
        }
    }
    return 0;
}

void td_server_drain(td_server_t *srv)
{
    if (srv->draining) {
        td_log_warn("second stop signal: stopping now");
        td_loop_stop(srv->loop);
        return;
    }
    srv->draining = 1;
    td_log_info("draining");
    srv->drain_timer = td_timer_new(srv->loop, td_server_drain_timeout, srv);
    td_timer_start(srv->drain_timer, srv->config->drain_timeout_ms);
    if (srv->route != NULL && td_server_has_peers(srv)) {
        /* Cluster: leave the rings first (members draining, internal health NOT_SERVING) so
         * peers take the shards and task queues over while this process still answers,
         * redirecting callers to the new owners; then drain the roles. */
        int64_t pause = srv->config->drain_timeout_ms / 2;
        if (pause > TD_SERVER_HANDOFF_MS) {
            pause = TD_SERVER_HANDOFF_MS;
        }
        td_membership_set_draining(td_membership_of(srv));
        td_svc_set_serving(srv, 0);
        srv->handoff_timer = td_timer_new(srv->loop, td_server_drain_roles, srv);
        td_timer_start(srv->handoff_timer, pause);
        return;
    }
    td_server_drain_roles(srv);
}

static void td_server_on_signal(void *arg)
{
    td_server_drain(arg);
}

int td_server_hosts(const td_server_t *srv, int role_bit)
{
    return (srv->config->services & role_bit) != 0;
}

void *td_server_role(const td_server_t *srv, const char *name)
{
    for (int i = 0; i < td_roles_count; i++) {
        if (strcmp(td_roles[i]->name, name) == 0) {
            return srv->role_state[i];
        }
    }
    return NULL;
}

/* Opens the store named by [persistence] url before any role starts: start-dev creates or
 * migrates its schema, `start` refuses a schema that is not exactly current. */
static int td_server_open_store(td_server_t *srv)
{
    const td_config_t *c = srv->config;
    td_store_options_t opt;
    td_store_t *store = NULL;
    char err[512] = "";
    int rc;

    memset(&opt, 0, sizeof(opt));
    opt.loop = srv->loop;
    opt.schema = c->dev ? TD_STORE_SCHEMA_AUTO : TD_STORE_SCHEMA_REQUIRE;
    opt.sqlite_synchronous = c->sqlite_synchronous;
    opt.pragmas = (const char *const *)c->sqlite_pragmas.v;
    opt.n_pragmas = c->sqlite_pragmas.n;
    opt.max_conns = c->db_max_conns;
    rc = td_store_open(c->db_url, &opt, &store, err, sizeof(err));
    if (rc != TD_OK) {
        td_log_error("persistence: %s", err);
        return rc;
    }
    srv->store = store;
    return TD_OK;
}

/* Creates the namespace registry over the open store, loads it and makes sure "default"
 * and every --namespace exist with the configured retention and custom search
 * attributes. Blocking; runs before the roles start. */
static int td_server_open_namespaces(td_server_t *srv)
{
    const td_config_t *c = srv->config;
    char err[512] = "";
    int rc;

    srv->nsreg = td_nsreg_new(srv->store);
    rc = td_nsreg_load(srv->nsreg, err, sizeof(err));
    if (rc == TD_OK) {
        rc = td_nsreg_ensure(srv->nsreg, "default", c->namespace_retention_hours,
                             &c->search_attributes, err, sizeof(err));
    }
    for (int i = 0; i < c->namespaces.n && rc == TD_OK; i++) {
        rc = td_nsreg_ensure(srv->nsreg, c->namespaces.v[i], c->namespace_retention_hours,
                             &c->search_attributes, err, sizeof(err));
    }
    if (rc != TD_OK) {
        td_log_error("namespaces: %s", err);
    }
    return rc;
}

/* start-dev's banner once serving, as Temporal's dev server prints it: the gRPC address,
 * then the Web UI, HTTP API and metrics addresses of the listeners that run. */
static void td_server_print_banner(const td_server_t *srv)
{
    const td_config_t *c = srv->config;
    const char *ip = c->ip != NULL ? c->ip : "127.0.0.1";

    if (c->dev && srv->rpc != NULL) {
        printf("temporald server: %s:%d\n", ip, td_rpc_server_port(srv->rpc));
        if (srv->ui_port > 0) {
            printf("UI:      http://%s:%d\n", c->ui_ip != NULL ? c->ui_ip : ip, srv->ui_port);
        }
        if (srv->http_port > 0) {
            printf("HTTP:    http://%s:%d\n", ip, srv->http_port);
        }
        if (srv->metrics_port > 0) {
            printf("Metrics: http://%s:%d/metrics\n", ip, srv->metrics_port);
        }
        fflush(stdout);
    }
}

/* GET /metrics: the Prometheus text exposition (metrics.h). */
static void td_server_metrics_http(td_http_req_t *r, void *ctx)
{
    (void)ctx;
    if (strcmp(td_http_path(r), "/metrics") == 0 &&
        (strcmp(td_http_method(r), "GET") == 0 || strcmp(td_http_method(r), "HEAD") == 0)) {
        size_t len = 0;
        char *text = td_metrics_render(&len);
        td_http_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, text, len);
        td_free(text);
    } else {
        static const char nf[] = "not found: metrics are at GET /metrics\n";
        td_http_respond(r, 404, "text/plain", NULL, nf, sizeof(nf) - 1);
    }
}

/* The metrics listener ([frontend] metrics_port), for any set of roles. */
static int td_server_start_metrics(td_server_t *srv, td_http_server_t **out)
{
    const td_config_t *c = srv->config;
    const char *ip = c->ip != NULL ? c->ip : "127.0.0.1";
    int port = c->metrics_port == TD_PORT_ANY ? 0 : c->metrics_port;
    td_http_server_t *h;
    char err[256] = "";

    *out = NULL;
    if (c->metrics_port == 0) {
        return TD_OK;
    }
    h = td_http_server_new(srv->loop, NULL, td_server_metrics_http, srv);
    if (h == NULL || td_http_server_listen(h, ip, port, err, sizeof(err)) != TD_OK) {
        /* the one line a failed start prints */
        td_log_error("metrics: %s", err[0] != 0 ? err : "cannot create the listener");
        td_http_server_free(h);
        return TD_EIO;
    }
    srv->metrics_port = td_http_server_port(h);
    td_log_info("metrics on http://%s:%d/metrics", ip, srv->metrics_port);
    *out = h;
    return TD_OK;
}

static int td_server_any_started(const td_server_t *srv)
{
    for (int i = 0; i < td_roles_count; i++) {
        if (srv->role_started[i]) {
            return 1;
        }
    }
    return 0;
}

int td_server_run(const td_config_t *config)
{
    td_server_t srv;
    td_http_server_t *metrics = NULL;
    int rc = TD_OK;

    memset(&srv, 0, sizeof(srv));
    srv.config = config;
    srv.started_mono_ms = td_now_mono_ms();
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < config->dynamic_config.n; i++) {
        const char *kv = config->dynamic_config.v[i];
        int n = (int)strcspn(kv, "=");
        char key[256];
        snprintf(key, sizeof(key), "%.*s", n, kv);
        if (td_config_dyn_is_used(key)) {
            td_log_info("dynamic config %s", kv);
        } else {
            td_log_debug("dynamic config %s: accepted, not used by temporald", key);
        }
    }
    srv.loop = td_loop_new();
    if (srv.loop == NULL) {
        td_log_error("cannot create the event loop");
        return 1;
    }
    td_loop_on_signal(srv.loop, SIGINT, td_server_on_signal, &srv);
    td_loop_on_signal(srv.loop, SIGTERM, td_server_on_signal, &srv);
    rc = td_server_open_store(&srv);
    if (rc == TD_OK) {
        rc = td_server_open_namespaces(&srv);
    }
    if (rc == TD_OK) {
        rc = td_membership_open(&srv);
    }
    if (rc == TD_OK && !config->dev) {
        /* `start`: calls to roles go to the owner of their key on the role's ring, in this
         * process or another. start-dev keeps every call in process. */
        rc = td_svc_route_open(&srv);
    }

    for (int i = 0; i < td_roles_count && rc == TD_OK; i++) {
        if (td_server_hosts(&srv, td_roles[i]->bit)) {
            rc = td_roles[i]->init(&srv, &srv.role_state[i]);
            if (rc != TD_OK) {
                td_log_error("role %s: init failed: %s", td_roles[i]->name, td_strerror(rc));
            }
        }
    }
    if (rc == TD_OK) {
        rc = td_cluster_admin_register(&srv);
    }
    for (int i = 0; i < td_roles_count && rc == TD_OK; i++) {
        if (srv.role_state[i] != NULL) {
            rc = td_roles[i]->start(srv.role_state[i]);
            if (rc != TD_OK) {
                /* the role logged its cause: that is the one line a failed start prints */
                td_log_debug("role %s: start failed: %s", td_roles[i]->name, td_strerror(rc));
            } else {
                srv.role_started[i] = 1;
            }
        }
    }
    if (rc == TD_OK) {
        rc = td_server_start_metrics(&srv, &metrics);
    }
    if (rc == TD_OK) {
        rc = td_svc_listen(&srv);
    }
    if (rc == TD_OK && srv.route != NULL) {
        /* Other processes of the cluster register and update namespaces too. */
        td_nsreg_refresh_every(srv.nsreg, srv.loop, 2000);
    }
    if (rc == TD_OK) {
        td_log_info("serving (%s)", config->dev ? "start-dev" : "start");
        td_server_print_banner(&srv);
        fflush(stdout);
        if (td_loop_run(srv.loop) != TD_OK) {
            rc = TD_EINTERNAL;
        }
    } else if (td_server_any_started(&srv)) {
        /* The roles that did start have work in flight (history's shard acquisition, say)
         * whose completions call back into them: drain them as a stop signal would before
         * they are freed. */
        td_server_drain(&srv);
        if (srv.drain_pending > 0) { /* else every role drained at once */
            td_loop_run(srv.loop);
        }
    }
    td_svc_route_close(&srv);
    for (int i = td_roles_count - 1; i >= 0; i--) {
        if (srv.role_state[i] != NULL) {
            td_roles[i]->stop(srv.role_state[i]);
        }
    }
    td_http_server_free(metrics);
    /* The roles registered their internal methods at start; none is called once all stopped. */
    td_svc_route_free(&srv);
    td_svc_free(&srv);
    td_metrics_reset();
    td_membership_close(&srv);
    td_nsreg_free(srv.nsreg);
    td_store_close(srv.store);
    td_timer_free(srv.drain_timer);
    td_timer_free(srv.handoff_timer);
    td_loop_free(srv.loop);
    return rc == TD_OK ? 0 : 1;
}
