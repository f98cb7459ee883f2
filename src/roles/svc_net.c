/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal calls across processes (see svc.h): the rings of the routed roles, one gRPC
 * client per peer address (one multiplexed HTTP/2 connection, opened lazily, reopened with
 * backoff by rpc_client.c), and the internal listeners that serve this process's history and
 * matching methods to the others.
 *
 * A routed call is an in-process call of a forwarding method (td_svc_fwd), so the caller
 * gets the same handle, cancellation and deadline semantics whichever way it goes:
 *
 *              owner = self                       answer
 *     START ----------------> LOCAL (direct call) -------+
 *       |    owner = peer                                |   not ShardOwnershipLost,
 *       +-----------------> REMOTE (gRPC to the peer) ---+-- or already redirected --> ENDED
 *                                                        |
 *                         ShardOwnershipLost with owner  v
 *                         hint, first time:  REDIRECTED (LOCAL or REMOTE at the hint)
 *
 *   FROM            -> TO          [function]
 *   START           -> LOCAL/REMOTE [td_svc_fwd_start -> td_svc_fwd_send]
 *   LOCAL/REMOTE    -> REDIRECTED   [td_svc_fwd_outcome (hint, not yet redirected)]
 *   any             -> ENDED        [td_svc_fwd_outcome: td_rpc_reply / td_rpc_fail]
 *   LOCAL/REMOTE    -> (cancelled)  [td_svc_fwd_cancel: inner call cancelled; its outcome
 *                                    ends the call, never redirected]
 *
 * No owner on the ring (no history host alive, say) answers UNAVAILABLE at once: callers
 * (the SDKs, history's task queues) retry. Loop thread only.
 */
#define TD_LOG_COMPONENT "route"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/membership.h"
#include "cluster/ring.h"
#include "config.h"
#include "error.h"
#include "google/rpc/status.pb-c.h"
#include "historyservice.pb-c.h"
#include "log.h"
#include "matchingservice.pb-c.h"
#include "mem.h"
#include "roles/svc_int.h"
#include "server.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"

#define TD_SVC_NROLES 4

typedef struct {
    char *addr;
    td_rpc_client_t *cl;
} td_svc_peer_t;

typedef struct {
    td_server_t *srv;
    td_ring_t *ring[TD_SVC_NROLES]; /* by role bit index; NULL when not routed */
    td_svc_peer_t *peers;
    int npeers, cap;
    td_rpc_client_opts_t copts;
    td_rpc_server_t *listener[TD_SVC_NROLES];
    void **gates; /* td_svc_gate_t *, owned */
    int ngates;
    int closed; /* listeners and peers gone (shutdown): remote calls fail at once */
    td_svc_stats_t stats;
} td_svc_net_t;

static int td_svc_role_index(int role)
{
    switch (role) {
    case TD_ROLE_FRONTEND:
        return 0;
    case TD_ROLE_HISTORY:
        return 1;
    case TD_ROLE_MATCHING:
        return 2;
    case TD_ROLE_WORKER:
        return 3;
    }
    return -1;
}

td_ring_t *td_svc_ring(td_server_t *srv, int role)
{
    td_svc_net_t *n = srv->route;
    int i = td_svc_role_index(role);
    return n != NULL && i >= 0 ? n->ring[i] : NULL;
}

void td_svc_stats(td_server_t *srv, td_svc_stats_t *out)
{
    td_svc_net_t *n = srv->route;
    if (n != NULL) {
        *out = n->stats;
    } else {
        memset(out, 0, sizeof(*out));
    }
}

/* ---- peers ---- */

static td_rpc_client_t *td_svc_peer(td_svc_net_t *n, const char *addr)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    td_svc_peer_t *p;

    for (int i = 0; i < n->npeers; i++) {
        if (strcmp(n->peers[i].addr, addr) == 0) {
            return n->peers[i].cl;
        }
    }
    if (colon == NULL || colon == addr || (size_t)(colon - addr) >= sizeof(host)) {
        return NULL;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
    if (n->npeers == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 8;
        n->peers = td_realloc(n->peers, sizeof(*n->peers) * (size_t)n->cap);
    }
    p = &n->peers[n->npeers++];
    p->addr = td_strdup(addr);
    p->cl = td_rpc_client_new(n->srv->loop, host, atoi(colon + 1), &n->copts);
    td_log_info("peer %s: connecting on first call", addr);
    return p->cl;
}

/* ---- error details coming back over the wire ---- */

static const ProtobufCMessageDescriptor *const td_svc_detail_types[] = {
    &temporald__historyservice__shard_ownership_lost__descriptor,
    &temporal__api__errordetails__v1__not_found_failure__descriptor,
    &temporal__api__errordetails__v1__workflow_execution_already_started_failure__descriptor,
    &temporal__api__errordetails__v1__namespace_not_active_failure__descriptor,
    &temporal__api__errordetails__v1__namespace_unavailable_failure__descriptor,
    &temporal__api__errordetails__v1__namespace_invalid_state_failure__descriptor,
    &temporal__api__errordetails__v1__namespace_not_found_failure__descriptor,
    &temporal__api__errordetails__v1__namespace_already_exists_failure__descriptor,
    &temporal__api__errordetails__v1__client_version_not_supported_failure__descriptor,
    &temporal__api__errordetails__v1__server_version_not_supported_failure__descriptor,
    &temporal__api__errordetails__v1__cancellation_already_requested_failure__descriptor,
    &temporal__api__errordetails__v1__query_failed_failure__descriptor,
    &temporal__api__errordetails__v1__permission_denied_failure__descriptor,
    &temporal__api__errordetails__v1__resource_exhausted_failure__descriptor,
    &temporal__api__errordetails__v1__system_workflow_failure__descriptor,
    &temporal__api__errordetails__v1__workflow_not_ready_failure__descriptor,
    &temporal__api__errordetails__v1__newer_build_exists_failure__descriptor,
    &temporal__api__errordetails__v1__multi_operation_execution_failure__descriptor,
};

/* The first detail of a google.rpc.Status as a message of a known type, or NULL. */
static const ProtobufCMessage *td_svc_detail(const ProtobufCMessage *status, td_arena_t *a)
{
    const Google__Rpc__Status *st = (const Google__Rpc__Status *)status;
    const char *slash;

    if (st == NULL || st->n_details == 0 || st->details[0]->type_url == NULL) {
        return NULL;
    }
    slash = strrchr(st->details[0]->type_url, '/');
    slash = slash != NULL ? slash + 1 : st->details[0]->type_url;
    for (size_t i = 0; i < sizeof(td_svc_detail_types) / sizeof(td_svc_detail_types[0]); i++) {
        if (strcmp(td_svc_detail_types[i]->name, slash) == 0) {
            return protobuf_c_message_unpack(td_svc_detail_types[i], td_arena_pb(a),
                                             st->details[0]->value.len, st->details[0]->value.data);
        }
    }
    return NULL;
}

/* ---- forwarding ---- */

typedef struct {
    td_svc_net_t *n;
    td_rpc_call_t *call;                 /* the forwarding call, ended with the outcome */
    const td_rpc_method_t *m;            /* the local handler, or NULL */
    const ProtobufCMethodDescriptor *md; /* for the response type of remote calls */
    char *target;                        /* peer address; NULL = local */
    td_rpc_call_t *inner;                /* local call in flight */
    td_rpc_ccall_t *cc;                  /* remote call in flight */
    int redirected, cancelled;
    td_rpc_local_fn done; /* the caller's */
    void *arg;
} td_svc_fwd_t;

static void td_svc_fwd_send(td_svc_fwd_t *f);

static void td_svc_fwd_outcome(td_svc_fwd_t *f, const ProtobufCMessage *resp, int status,
                               const char *message, const ProtobufCMessage *detail)
{
    if (status != TD_GRPC_OK && detail != NULL && !f->redirected && !f->cancelled &&
        detail->descriptor == &temporald__historyservice__shard_ownership_lost__descriptor) {
        const Temporald__Historyservice__ShardOwnershipLost *lost = (const void *)detail;
        const char *hint = lost->owner_address;

        if (hint != NULL && hint[0] != '\0' &&
            (f->target == NULL || strcmp(hint, f->target) != 0)) {
            td_ring_t *ring = f->n->ring[td_svc_role_index(TD_ROLE_HISTORY)];
            int self = 0;

            for (int i = 0; ring != NULL && i < td_ring_count(ring); i++) {
                const td_ring_owner_t *o = td_ring_owner(ring, i);
                if (strcmp(o->grpc_addr, hint) == 0) {
                    self = o->self;
                }
            }
            td_log_debug("%s: shard %d moved; retrying at %s", td_rpc_method(f->call),
                         lost->shard_id, hint);
            f->redirected = 1;
            f->n->stats.redirected++;
            f->target = self ? NULL : td_arena_strdup(td_rpc_arena(f->call), hint);
            td_svc_fwd_send(f);
            return;
        }
    }
    if (status == TD_GRPC_OK) {
        td_rpc_reply(f->call, resp);
    } else {
        td_rpc_fail(f->call, status, message != NULL ? message : "", detail);
    }
}

static void td_svc_fwd_local_done(const ProtobufCMessage *resp, int status, const char *message,
                                  const ProtobufCMessage *detail, void *arg)
{
    td_svc_fwd_t *f = arg;
    f->inner = NULL;
    td_svc_fwd_outcome(f, resp, status, message, detail);
}

static void td_svc_fwd_remote_done(const td_rpc_result_t *r, void *arg)
{
    td_svc_fwd_t *f = arg;
    f->cc = NULL;
    td_svc_fwd_outcome(f, r->resp, r->status, r->message, td_svc_detail(r->details, r->arena));
}

static void td_svc_fwd_send(td_svc_fwd_t *f)
{
    const char *path = td_rpc_method(f->call);

    if (f->target == NULL) {
        if (f->m == NULL) {
            char *msg = td_arena_printf(td_rpc_arena(f->call),
                                        "%s: the ring names this process as the owner, but "
                                        "the role serving it is not hosted here",
                                        path);
            td_rpc_fail(f->call, TD_GRPC_UNAVAILABLE, msg, NULL);
            return;
        }
        f->n->stats.local++;
        f->inner = td_rpc_local_call(f->n->srv->loop, f->m, td_rpc_request(f->call),
                                     td_rpc_deadline(f->call), td_svc_fwd_local_done, f);
        return;
    }
    {
        td_rpc_client_t *cl = f->n->closed ? NULL : td_svc_peer(f->n, f->target);
        td_rpc_call_opts_t o;
        int64_t dl = td_rpc_deadline(f->call);

        if (cl == NULL || f->md == NULL) {
            td_rpc_fail(
                    f->call, TD_GRPC_UNAVAILABLE,
                    td_arena_printf(td_rpc_arena(f->call), "%s: cannot call %s", path, f->target),
                    NULL);
            return;
        }
        memset(&o, 0, sizeof(o));
        o.resp = f->md->output;
        if (dl > 0) {
            int64_t left = dl - td_now_mono_ms();
            o.timeout_ms = left > 1 ? left : 1;
        }
        f->n->stats.remote++;
        f->cc = td_rpc_client_call(cl, path, td_rpc_request(f->call), &o, td_svc_fwd_remote_done,
                                   f);
    }
}

static void td_svc_fwd_cancel(void *arg)
{
    td_svc_fwd_t *f = arg;

    f->cancelled = 1;
    if (f->inner != NULL) {
        td_rpc_local_cancel(f->inner);
    } else if (f->cc != NULL) {
        td_rpc_client_cancel(f->cc);
    }
}

/* The forwarding method's handler: ctx is the td_svc_fwd_t, allocated in the call arena. */
static void td_svc_fwd_start(td_rpc_call_t *call, void *ctx)
{
    td_svc_fwd_t *f = ctx;

    f->call = call;
    td_rpc_on_cancel(call, td_svc_fwd_cancel, f);
    td_svc_fwd_send(f);
}

/* The method descriptor of an internal path, from the generated service descriptors. */
static const ProtobufCMethodDescriptor *td_svc_method_desc(const char *path)
{
    const ProtobufCServiceDescriptor *sd = NULL;
    const char *name = strrchr(path, '/');

    switch (td_svc_route_role(path)) {
    case TD_ROLE_HISTORY:
        sd = &temporald__historyservice__history_service__descriptor;
        break;
    case TD_ROLE_MATCHING:
        sd = &temporald__matchingservice__matching_service__descriptor;
        break;
    }
    return sd != NULL && name != NULL
                   ? protobuf_c_service_descriptor_get_method_by_name(sd, name + 1)
                   : NULL;
}

/* The end of a forwarding call: hands the outcome to the caller and frees the state. */
static void td_svc_fwd_end(const ProtobufCMessage *resp, int status, const char *message,
                           const ProtobufCMessage *detail, void *arg)
{
    td_svc_fwd_t *f = arg;

    f->done(resp, status, message, detail, f->arg);
    td_free(f);
}

td_rpc_call_t *td_svc__routed_call(td_server_t *srv, const td_rpc_method_t *m, const char *path,
                                   const ProtobufCMessage *req, int64_t deadline,
                                   td_rpc_local_fn done, void *arg)
{
    td_svc_net_t *n = srv->route;
    int role = td_svc_route_role(path);
    td_ring_t *ring = n->ring[td_svc_role_index(role)];
    const td_ring_owner_t *owner;
    td_svc_fwd_t *f;
    td_rpc_method_t fm;
    td_arena_t a;
    char key[512];

    td_arena_init(&a, 512);
    td_svc_route_key(path, req, srv->config->num_history_shards, &a, key, sizeof(key));
    td_arena_destroy(&a);
    owner = ring != NULL ? td_ring_lookup(ring, key) : NULL;
    if (owner == NULL || owner->self) {
        if (m != NULL) {
            /* Owned here (the callee decides with the same ring, so it will not redirect),
             * or no one else can take it: a direct call, as colocated roles make. */
            n->stats.local++;
            return td_rpc_local_call(srv->loop, m, req, deadline, done, arg);
        }
        n->stats.no_owner++;
        {
            char msg[700];
            snprintf(msg, sizeof(msg),
                     "%s: no host serving this role is in the cluster (key %s); retry later", path,
                     key);
            done(NULL, TD_GRPC_UNAVAILABLE, msg, NULL, arg);
        }
        return NULL;
    }
    f = td_calloc(1, sizeof(*f) + strlen(owner->grpc_addr) + 1);
    f->n = n;
    f->m = m;
    f->md = td_svc_method_desc(path);
    f->done = done;
    f->arg = arg;
    f->target = (char *)(f + 1);
    strcpy(f->target, owner->grpc_addr);
    memset(&fm, 0, sizeof(fm));
    fm.path = path;
    fm.fn = td_svc_fwd_start;
    fm.ctx = f;
    return td_rpc_local_call(srv->loop, &fm, req, deadline, td_svc_fwd_end, f);
}

/* ---- the owner gate of the internal history listener ---- */

static void td_svc_gate_add(td_svc_net_t *n, void *g)
{
    n->gates = td_realloc(n->gates, sizeof(*n->gates) * (size_t)(n->ngates + 1));
    n->gates[n->ngates++] = g;
}

typedef struct {
    td_svc_net_t *n;
    td_rpc_method_t m; /* the role's handler */
} td_svc_gate_t;

/* Calls from other processes were routed with the caller's view of the ring; when ours names
 * another owner for the shard (or none), the call is answered UNAVAILABLE with a
 * ShardOwnershipLost detail naming the owner we know, and the caller retries there once. */
static void td_svc_owner_gate(td_rpc_call_t *call, void *ctx)
{
    td_svc_gate_t *g = ctx;
    td_ring_t *ring = g->n->ring[td_svc_role_index(TD_ROLE_HISTORY)];
    const td_ring_owner_t *o;
    char key[64];

    td_svc_route_key(td_rpc_method(call), td_rpc_request(call),
                     g->n->srv->config->num_history_shards, td_rpc_arena(call), key, sizeof(key));
    o = ring != NULL ? td_ring_lookup(ring, key) : NULL;
    if (o == NULL || !o->self) {
        Temporald__Historyservice__ShardOwnershipLost *lost =
                td_arena_calloc(td_rpc_arena(call), sizeof(*lost));
        temporald__historyservice__shard_ownership_lost__init(lost);
        lost->shard_id = atoi(key);
        lost->owner_address = td_arena_strdup(td_rpc_arena(call), o != NULL ? o->grpc_addr : "");
        td_rpc_fail(call, TD_GRPC_UNAVAILABLE,
                    td_arena_printf(td_rpc_arena(call),
                                    "history shard %s is not owned by this host (owner: %s)", key,
                                    o != NULL ? o->grpc_addr : "none known"),
                    &lost->base);
        return;
    }
    g->m.fn(call, g->m.ctx);
}

/* ---- lifecycle ---- */

/* [tls.internode]: the same certificate serves and calls; every peer must present one that
 * chains to ca_file (and, as a server, carry the address it is called at). */
static void td_svc_tls_client(const td_config_t *c, td_rpc_client_opts_t *o)
{
    if (c->tls_internode_cert_file != NULL) {
        o->tls.enabled = 1;
        o->tls.cert_file = c->tls_internode_cert_file;
        o->tls.key_file = c->tls_internode_key_file;
        o->tls.ca_file = c->tls_internode_ca_file;
    }
}

static void td_svc_tls_server(const td_config_t *c, td_rpc_server_opts_t *o)
{
    if (c->tls_internode_cert_file != NULL) {
        o->tls.cert_file = c->tls_internode_cert_file;
        o->tls.key_file = c->tls_internode_key_file;
        o->tls.ca_file = c->tls_internode_ca_file;
        o->tls.require_client_cert = 1;
    }
}

int td_svc_route_open(td_server_t *srv)
{
    td_svc_net_t *n;
    td_membership_t *m = td_membership_of(srv);
    static const int routed[] = { TD_ROLE_HISTORY, TD_ROLE_MATCHING };

    if (m == NULL) {
        return TD_EINVAL;
    }
    n = td_calloc(1, sizeof(*n));
    n->srv = srv;
    td_rpc_client_opts_init(&n->copts);
    n->copts.backoff_max_ms = 1000;
    n->copts.connect_timeout_ms = 2000;
    td_svc_tls_client(srv->config, &n->copts);
    srv->route = n;
    for (size_t i = 0; i < sizeof(routed) / sizeof(routed[0]); i++) {
        n->ring[td_svc_role_index(routed[i])] = td_ring_follow(m, routed[i]);
    }
    return TD_OK;
}

int td_svc_listen(td_server_t *srv)
{
    td_svc_net_t *n = srv->route;
    const td_config_t *c = srv->config;
    const char *ip = c->ip != NULL ? c->ip : "127.0.0.1";
    char err[256] = "";
    static const struct {
        int role;
        const char *prefix;
        const char *name;
    } roles[] = {
        { TD_ROLE_HISTORY, TD_SVC_HISTORY, "history" },
        { TD_ROLE_MATCHING, TD_SVC_MATCHING, "matching" },
    };

    if (n == NULL) {
        return TD_OK;
    }
    for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
        int port = roles[r].role == TD_ROLE_HISTORY ? c->history_port : c->matching_port;
        td_rpc_server_opts_t o;
        td_rpc_server_t *s;
        int added = 0;

        if (!td_server_hosts(srv, roles[r].role)) {
            continue;
        }
        td_rpc_server_opts_init(&o);
        if (c->max_recv_bytes > 0) {
            o.max_recv_bytes = (size_t)c->max_recv_bytes;
        }
        td_svc_tls_server(c, &o);
        s = td_rpc_server_new(srv->loop, &o);
        if (s == NULL) {
            return TD_EIO;
        }
        n->listener[td_svc_role_index(roles[r].role)] = s;
        for (int i = 0; i < td_svc__count(srv); i++) {
            const td_rpc_method_t *m = td_svc__method(srv, i);
            if (strncmp(m->path, roles[r].prefix, strlen(roles[r].prefix)) != 0) {
                continue;
            }
            if (roles[r].role == TD_ROLE_HISTORY) {
                td_svc_gate_t *g = td_calloc(1, sizeof(*g));
                td_rpc_method_t gm = *m;
                g->n = n;
                g->m = *m;
                gm.fn = td_svc_owner_gate;
                gm.ctx = g;
                td_svc_gate_add(n, g);
                td_rpc_server_add(s, &gm);
            } else {
                td_rpc_server_add(s, m);
            }
            added++;
        }
        if (td_rpc_server_listen(s, ip, port, err, sizeof(err)) != TD_OK) {
            /* the one line a failed start prints */
            td_log_error("%s (internal calls): %s", roles[r].name, err);
            return TD_EIO;
        }
        td_rpc_server_set_health(s, "", 1);
        printf("%s gRPC (internal) listening on %s:%d\n", roles[r].name, ip, td_rpc_server_port(s));
        td_log_info("%s: serving %d internal method(s) on %s:%d", roles[r].name, added, ip,
                    td_rpc_server_port(s));
    }
    return TD_OK;
}

void td_svc_set_serving(td_server_t *srv, int serving)
{
    td_svc_net_t *n = srv->route;

    for (int i = 0; n != NULL && i < TD_SVC_NROLES; i++) {
        if (n->listener[i] != NULL) {
            td_rpc_server_set_health(n->listener[i], "", serving ? 1 : 2);
        }
    }
}

void td_svc_route_close(td_server_t *srv)
{
    td_svc_net_t *n = srv->route;

    if (n == NULL || n->closed) {
        return;
    }
    n->closed = 1;
    for (int i = 0; i < TD_SVC_NROLES; i++) {
        td_rpc_server_free(n->listener[i]); /* incoming calls cancelled: roles still live */
        n->listener[i] = NULL;
    }
    for (int i = 0; i < n->npeers; i++) {
        td_rpc_client_free(n->peers[i].cl); /* outgoing calls end CANCELLED */
        td_free(n->peers[i].addr);
    }
    td_free(n->peers);
    n->peers = NULL;
    n->npeers = n->cap = 0;
}

void td_svc_route_free(td_server_t *srv)
{
    td_svc_net_t *n = srv->route;

    if (n == NULL) {
        return;
    }
    td_svc_route_close(srv);
    for (int i = 0; i < TD_SVC_NROLES; i++) {
        td_ring_free(n->ring[i]);
    }
    for (int i = 0; i < n->ngates; i++) {
        td_free(n->gates[i]);
    }
    td_free(n->gates);
    td_free(n);
    srv->route = NULL;
}
