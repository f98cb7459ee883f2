/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The machinery every forwarded public API call goes through (see fe_int.h): namespace
 * resolution, the generic internal request wrapper, and the forwarding of one call to the
 * history or matching role with its outcome and cancellation passed through. It holds no
 * state between calls. Used by the fe_*.c handler files only.
 *
 * Design notes: one forwarded call.
 *
 * Invariants: the public call outlives the internal one (the internal call is ended, by its
 * handler, before the public call is); the public call is ended exactly once, in done; the
 * context lives in the public call's arena and is not touched after the call ends.
 *
 *     CHECKED --td_svc_call--> FORWARDED --done--> ENDED
 *                 |                 |
 *                 | (done ran       +--public cancel--> CANCELLING --done--> ENDED
 *                 |  synchronously)
 *                 +--> ENDED
 *
 *   FROM       -> TO          [function]
 *   CHECKED    -> FORWARDED   [td_fe__forward]
 *   CHECKED    -> ENDED       [td_fe__forward via td_fe_done, synchronous done]
 *   FORWARDED  -> CANCELLING  [td_fe_on_cancel: td_svc_cancel of the internal call]
 *   FORWARDED  -> ENDED       [td_fe_done]
 *   CANCELLING -> ENDED       [td_fe_done]
 */
#define TD_LOG_COMPONENT "frontend"

#include "roles/frontend/fe_int.h"
#include "roles/frontend/frontend.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"
#include "temporal/api/operatorservice/v1/service.pb-c.h"
#include "temporal/api/workflowservice/v1/service.pb-c.h"
#include "uuid.h"

void td_fe__fail_ns_not_found(td_rpc_call_t *call, const char *name)
{
    td_arena_t *a = td_rpc_arena(call);
    Temporal__Api__Errordetails__V1__NamespaceNotFoundFailure *d = td_arena_calloc(a, sizeof(*d));

    temporal__api__errordetails__v1__namespace_not_found_failure__init(d);
    d->namespace_ = td_arena_strdup(a, name);
    td_rpc_fail(call, TD_GRPC_NOT_FOUND, td_arena_printf(a, "Namespace %s is not found.", name),
                &d->base);
}

const td_ns_t *td_fe__ns_resolve(td_rpc_call_t *call, td_server_t *srv, const char *name)
{
    const td_ns_t *ns = NULL;
    const int deleted = TEMPORAL__API__ENUMS__V1__NAMESPACE_STATE__NAMESPACE_STATE_DELETED;

    if (name == NULL || name[0] == '\0') {
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT, "Namespace is not set on request.", NULL);
    } else if (strlen(name) > td_fe__max_id_len(srv)) {
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT, "Namespace length exceeds limit.", NULL);
    } else if (srv->nsreg == NULL) {
        td_rpc_fail(call, TD_GRPC_UNAVAILABLE,
                    "this process has no namespace registry (no store is open)", NULL);
    } else {
        ns = td_nsreg_by_name(srv->nsreg, name);
        if (ns != NULL && ns->rec->info != NULL && (int)ns->rec->info->state == deleted) {
            ns = NULL; /* a deleted namespace is gone for the API */
        }
        if (ns == NULL) {
            td_fe__fail_ns_not_found(call, name);
        }
    }
    return ns;
}

const char *td_fe__str_field(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    const char *v = NULL;

    if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING && f->label != PROTOBUF_C_LABEL_REPEATED) {
        v = *(const char *const *)((const char *)m + f->offset);
    }
    return v != NULL ? v : "";
}

ProtobufCMessage *td_fe__new_msg(td_rpc_call_t *call, const ProtobufCMessageDescriptor *d)
{
    void *m = td_arena_alloc(td_rpc_arena(call), d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

/* Sets the singular field name of m (a string or message field) to v; no-op if absent. */
static void td_fe_set_field(ProtobufCMessage *m, const char *name, const void *v)
{
    const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);

    if (f != NULL && f->label != PROTOBUF_C_LABEL_REPEATED &&
        (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)) {
        *(const void **)((char *)m + f->offset) = v;
    }
}

ProtobufCMessage *td_fe__wrap(td_fe_call_t *x, const ProtobufCMessageDescriptor *d,
                              const ProtobufCMessage *req)
{
    ProtobufCMessage *m = td_fe__new_msg(x->call, d);

    td_fe_set_field(m, "namespace_id",
                    x->ns != NULL ? x->ns->id : td_arena_strdup(td_rpc_arena(x->call), ""));
    td_fe_set_field(m, "request", req);
    if (protobuf_c_message_descriptor_get_field_by_name(d, "poller_id") != NULL) {
        char *id = td_arena_alloc(td_rpc_arena(x->call), TD_UUID_LEN + 1);
        td_uuid_v4(id);
        td_fe_set_field(m, "poller_id", id);
    }
    return m;
}

/* Whether a synchronous UNAVAILABLE from td_svc_call means "no such internal method" while
 * the role that would serve it is hosted in this process (svc.c's message starts with the
 * path and says the role is not hosted). */
static int td_fe_target_missing(const td_fe_call_t *x, const char *message)
{
    int bit = strncmp(x->path, TD_SVC_HISTORY, strlen(TD_SVC_HISTORY)) == 0     ? TD_ROLE_HISTORY
              : strncmp(x->path, TD_SVC_MATCHING, strlen(TD_SVC_MATCHING)) == 0 ? TD_ROLE_MATCHING
                                                                                : 0;

    return bit != 0 && td_server_hosts(x->srv, bit) && message != NULL &&
           strncmp(message, x->path, strlen(x->path)) == 0 && strstr(message, "not hosted") != NULL;
}

static void td_fe_done(const ProtobufCMessage *resp, int status, const char *message,
                       const ProtobufCMessage *detail, void *arg)
{
    td_fe_call_t *x = arg;
    const td_fe_route_t *r = x->route;
    int empty = 0;

    if (x->ended != NULL) {
        *x->ended = 1;
    }
    x->inner = NULL;
    if (x->ended != NULL && status == TD_GRPC_UNAVAILABLE && td_fe_target_missing(x, message)) {
        /* The role is hosted here but does not serve this method (yet). */
        td_rpc_fail(x->call, TD_GRPC_UNIMPLEMENTED,
                    td_arena_printf(td_rpc_arena(x->call),
                                    "%s is not implemented by temporald yet: the %s role does "
                                    "not serve %s",
                                    strrchr(r->path, '/') + 1,
                                    strncmp(x->path, TD_SVC_HISTORY, strlen(TD_SVC_HISTORY)) == 0
                                            ? "history"
                                            : "matching",
                                    x->path),
                    NULL);
        goto out;
    }
    if (status == TD_GRPC_OK && x->reply != NULL) {
        td_rpc_reply(x->call, x->reply);
        goto out;
    }
    if (status == TD_GRPC_OK) {
        empty = (r->flags & TD_FE_REPLY_EMPTY) != 0;
    } else if (status == TD_GRPC_DEADLINE_EXCEEDED && (r->flags & TD_FE_LONG_POLL) &&
               !td_rpc_cancelled(x->call)) {
        /* The shortened poll expired inside matching: "no task", as Temporal answers. */
        empty = 1;
    }
    if (empty) {
        td_rpc_reply(x->call, td_fe__new_msg(x->call, r->resp));
    } else if (status == TD_GRPC_OK) {
        /* Replying packs resp at once, while it is still valid. */
        td_rpc_reply(x->call, resp);
    } else {
        td_log_debug("%s: %s answered %d: %s", r->path, x->path, status,
                     message != NULL ? message : "");
        td_rpc_fail(x->call, status, message != NULL ? message : "", detail);
    }
out:
    return;
}

static void td_fe_on_cancel(void *arg)
{
    td_fe_call_t *x = arg;
    if (x->inner != NULL) {
        td_svc_cancel(x->inner); /* may run td_fe_done, which ends the call */
    }
}

void td_fe__forward(td_fe_call_t *x, const char *path, const ProtobufCMessage *ireq)
{
    int64_t deadline = td_rpc_deadline(x->call);
    int ended = 0;
    td_rpc_call_t *inner;

    if ((x->route->flags & TD_FE_LONG_POLL) && deadline > 0) {
        deadline -= TD_FE_LONG_POLL_TAIL_MS;
    }
    x->ended = &ended;
    x->path = path;
    td_rpc_on_cancel(x->call, td_fe_on_cancel, x);
    inner = td_svc_call(x->srv, path, ireq, deadline, td_fe_done, x);
    if (!ended) {
        /* Still in flight: x is alive (the public call ends only in td_fe_done). */
        x->ended = NULL;
        x->inner = inner;
    }
}

/* Every route table. */
typedef struct {
    const td_fe_route_t *v;
    const int *n;
} td_fe_table_t;

static const td_fe_table_t td_fe_tables[] = {
    { td_fe__workflow_routes, &td_fe__workflow_routes_n },
    { td_fe__task_routes, &td_fe__task_routes_n },
    { td_fe__namespace_routes, &td_fe__namespace_routes_n },
    { td_fe__operator_routes, &td_fe__operator_routes_n },
    { td_fe__visibility_routes, &td_fe__visibility_routes_n },
    { td_fe__update_routes, &td_fe__update_routes_n },
};

/* The route of a public path, or NULL. */
static const td_fe_route_t *td_fe_route_find(const char *path)
{
    const td_fe_route_t *found = NULL;

    for (size_t t = 0; t < sizeof(td_fe_tables) / sizeof(td_fe_tables[0]) && !found; t++) {
        for (int i = 0; i < *td_fe_tables[t].n && !found; i++) {
            if (strcmp(td_fe_tables[t].v[i].path, path) == 0) {
                found = &td_fe_tables[t].v[i];
            }
        }
    }
    return found;
}

/* The handler of every route: check, resolve the namespace, build, forward. */
static void td_fe_handle(td_rpc_call_t *call, void *ctx)
{
    const ProtobufCMessage *req = td_rpc_request(call);
    const td_fe_route_t *r = td_fe_route_find(td_rpc_method(call));
    td_fe_call_t *x = td_arena_calloc(td_rpc_arena(call), sizeof(*x));
    const char *ns_name = td_fe__str_field(req, "namespace");
    ProtobufCMessage *ireq = NULL;

    x->call = call;
    x->route = r;
    x->srv = ctx;
    if (r == NULL) {
        td_rpc_fail(call, TD_GRPC_INTERNAL, "frontend: no route for this method", NULL);
        goto out;
    }
    if (r->flags & TD_FE_LONG_POLL) {
        x->status = td_fe__check_long_poll(x);
        if (x->status != TD_GRPC_OK) {
            td_rpc_fail(call, x->status, x->msg, NULL);
            goto out;
        }
    }
    if (ns_name[0] == '\0' && !(r->flags & TD_FE_NS_OPTIONAL)) {
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT, "Namespace is not set on request.", NULL);
        goto out;
    }
    if (td_fe__check_id_lengths(x, req) != NULL) {
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT, x->msg, NULL);
        goto out;
    }
    if (r->check != NULL) {
        x->status = r->check(x, req);
        if (x->status != TD_GRPC_OK) {
            td_rpc_fail(call, x->status, x->msg, NULL);
            goto out;
        }
    }
    if (ns_name[0] != '\0') {
        const td_ns_t *ns = td_fe__ns_resolve(call, x->srv, ns_name);
        if (ns == NULL) {
            goto out; /* ended: x is gone with the call's arena */
        }
        x->ns = ns;
    }
    if (r->flags & TD_FE_UNIMPLEMENTED) {
        td_rpc_fail(call, TD_GRPC_UNIMPLEMENTED,
                    td_arena_printf(td_rpc_arena(call),
                                    "%s is not implemented by temporald yet: %s",
                                    strrchr(r->path, '/') + 1, r->note),
                    NULL);
        goto out;
    }
    td_fe__sa_apply_types(x, req);
    ireq = r->build != NULL ? r->build(x, req) : td_fe__wrap(x, r->inner, req);
    if (ireq == NULL && x->msg == NULL && x->status == TD_GRPC_OK) {
        td_rpc_reply(call, td_fe__new_msg(call, r->resp));
        goto out;
    }
    if (ireq == NULL) {
        td_rpc_fail(call, x->status != TD_GRPC_OK ? x->status : TD_GRPC_INTERNAL,
                    x->msg != NULL ? x->msg : "frontend: cannot build the internal request", NULL);
        goto out;
    }
    td_fe__forward(x, x->target != NULL ? x->target : r->target, ireq);
out:
    return;
}


/* The answer of every method of the public services that temporald does not serve yet.
 * A request naming an unknown namespace gets NOT_FOUND first, as from a served method, so
 * that SDKs report NamespaceNotFoundError consistently. */
static void td_fe_unimplemented(td_rpc_call_t *call, void *ctx)
{
    td_server_t *srv = ctx;
    const char *name = strrchr(td_rpc_method(call), '/') + 1;
    const char *ns_name = td_fe__str_field(td_rpc_request(call), "namespace");

    if (ns_name[0] != '\0' && srv->nsreg != NULL && td_nsreg_by_name(srv->nsreg, ns_name) == NULL) {
        td_fe__fail_ns_not_found(call, ns_name);
    } else {
        td_rpc_fail(call, TD_GRPC_UNIMPLEMENTED,
                    td_arena_printf(td_rpc_arena(call),
                                    "%s is not implemented by temporald yet (unknown method)",
                                    name),
                    NULL);
    }
}

static int td_fe_register_rest(td_rpc_server_t *rpc, td_server_t *srv,
                               const ProtobufCServiceDescriptor *sd)
{
    int rc = TD_OK;
    char path[256];

    for (unsigned i = 0; i < sd->n_methods && rc == TD_OK; i++) {
        td_rpc_method_t m = { path, sd->methods[i].input, td_fe_unimplemented, srv };
        snprintf(path, sizeof(path), "/%s/%s", sd->name, sd->methods[i].name);
        rc = td_rpc_server_add(rpc, &m);
        if (rc == TD_EEXIST) {
            rc = TD_OK; /* served */
        }
    }
    return rc;
}

/* The method of a public service named by path ("/pkg.Service/Method"), or NULL. */
static const ProtobufCMethodDescriptor *td_fe_public_method(const char *path)
{
    const ProtobufCServiceDescriptor *sds[] = {
        &temporal__api__workflowservice__v1__workflow_service__descriptor,
        &temporal__api__operatorservice__v1__operator_service__descriptor,
    };
    const ProtobufCMethodDescriptor *found = NULL;
    const char *slash = strrchr(path, '/');

    for (size_t s = 0; s < TD_ARRAY_LEN(sds) && found == NULL && slash != NULL; s++) {
        size_t n = strlen(sds[s]->name);
        if (path[0] == '/' && strncmp(path + 1, sds[s]->name, n) == 0 && path + 1 + n == slash) {
            found = protobuf_c_service_descriptor_get_method_by_name(sds[s], slash + 1);
        }
    }
    return found;
}

int td_fe__method(td_server_t *srv, const char *path, td_rpc_method_t *out)
{
    const td_fe_route_t *r = td_fe_route_find(path);
    const ProtobufCMethodDescriptor *md = r == NULL ? td_fe_public_method(path) : NULL;

    if (r != NULL) {
        out->path = r->path;
        out->req = r->req;
        out->fn = r->fn != NULL ? r->fn : td_fe_handle;
        out->ctx = srv;
    } else if (md != NULL) {
        out->path = path;
        out->req = md->input;
        out->fn = td_fe_unimplemented;
        out->ctx = srv;
    }
    return r != NULL || md != NULL ? TD_OK : TD_ENOTFOUND;
}

int td_fe__register_all(td_rpc_server_t *rpc, td_server_t *srv)
{
    int rc = TD_OK;

    for (size_t t = 0; t < sizeof(td_fe_tables) / sizeof(td_fe_tables[0]) && rc == TD_OK; t++) {
        for (int i = 0; i < *td_fe_tables[t].n && rc == TD_OK; i++) {
            const td_fe_route_t *r = &td_fe_tables[t].v[i];
            td_rpc_method_t m = { r->path, r->req, r->fn != NULL ? r->fn : td_fe_handle, srv };
            rc = td_rpc_server_add(rpc, &m);
            if (rc != TD_OK) {
                td_log_error("cannot register %s: %s", r->path, td_strerror(rc));
            }
        }
    }
    if (rc == TD_OK) {
        rc = td_fe_register_rest(rpc, srv,
                                 &temporal__api__workflowservice__v1__workflow_service__descriptor);
    }
    if (rc == TD_OK) {
        rc = td_fe_register_rest(rpc, srv,
                                 &temporal__api__operatorservice__v1__operator_service__descriptor);
    }
    return rc;
}

int td_frontend_api_register(td_rpc_server_t *rpc, td_server_t *srv)
{
    return td_fe__register_all(rpc, srv);
}

int64_t td_fe__blob_limit(const td_server_t *srv)
{
    return (int64_t)td_config_dyn_int(srv->config, "limit.blobSize.error",
                                      TD_FE_BLOB_LIMIT_DEFAULT);
}

int td_fe__polls_complete_on_shutdown(const td_server_t *srv)
{
    return td_config_dyn_bool(srv->config, "frontend.enableCancelWorkerPollsOnShutdown", 1);
}
