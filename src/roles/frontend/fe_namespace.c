/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The namespace methods of WorkflowService: DescribeNamespace, RegisterNamespace,
 * ListNamespaces and UpdateNamespace, served from the namespace registry (roles/nsreg.h),
 * whose writes go to the store before the cache. Responses are built in the call arena and
 * point into registry records only until the reply packs them (at once). Not here:
 * namespace deletion (OperatorService.DeleteNamespace is UNIMPLEMENTED, fe_operator.c),
 * replication and archival, which temporald does not have.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "roles/frontend/fe_int.h"
#include "roles/frontend/frontend.h"
#include "temporal/api/errordetails/v1/message.pb-c.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"

typedef Temporal__Api__Workflowservice__V1__DescribeNamespaceRequest td_desc_ns_req_t;
typedef Temporal__Api__Workflowservice__V1__DescribeNamespaceResponse td_desc_ns_resp_t;
typedef Temporal__Api__Workflowservice__V1__RegisterNamespaceRequest td_reg_ns_req_t;
typedef Temporal__Api__Workflowservice__V1__ListNamespacesRequest td_list_ns_req_t;
typedef Temporal__Api__Workflowservice__V1__ListNamespacesResponse td_list_ns_resp_t;
typedef Temporal__Api__Workflowservice__V1__UpdateNamespaceRequest td_upd_ns_req_t;
typedef Temporal__Api__Workflowservice__V1__UpdateNamespaceResponse td_upd_ns_resp_t;
typedef Temporal__Api__Namespace__V1__NamespaceInfo td_ns_info_t;
typedef Temporal__Api__Namespace__V1__NamespaceConfig td_ns_config_t;
typedef Temporal__Api__Namespace__V1__NamespaceInfo__DataEntry td_ns_data_t;
typedef Temporal__Api__Replication__V1__NamespaceReplicationConfig td_ns_repl_t;
typedef Temporal__Api__Replication__V1__ClusterReplicationConfig td_ns_cluster_t;

/* Shortest retention accepted: dynamic config system.namespaceMinRetentionLocal (every
 * temporald namespace is local), Temporal's key and default (one hour); never below one
 * second, so that no namespace keeps its runs for "zero" time. */
#define TD_FE_MIN_RETENTION_KEY        "system.namespaceMinRetentionLocal"
#define TD_FE_MIN_RETENTION_DEFAULT_MS (3600 * 1000LL)
#define TD_FE_MIN_RETENTION_FLOOR_MS   1000LL
/* ListNamespaces page size when the request gives none, and the largest allowed. */
#define TD_FE_NS_PAGE_DEFAULT 100
#define TD_FE_NS_PAGE_MAX     1000

#define TD_ARCHIVAL_ENABLED TEMPORAL__API__ENUMS__V1__ARCHIVAL_STATE__ARCHIVAL_STATE_ENABLED
#define TD_NS_DELETED       TEMPORAL__API__ENUMS__V1__NAMESPACE_STATE__NAMESPACE_STATE_DELETED

/* The DescribeNamespace answer for ns, in the call arena (shallow over the record). */
static td_desc_ns_resp_t *td_fe_ns_describe(td_rpc_call_t *call, td_server_t *srv,
                                            const td_ns_t *ns)
{
    td_arena_t *a = td_rpc_arena(call);
    const td_ns_record_t *rec = ns->rec;
    td_desc_ns_resp_t *resp = (void *)td_fe__new_msg(
            call, &temporal__api__workflowservice__v1__describe_namespace_response__descriptor);
    td_ns_info_t *info = td_arena_alloc(a, sizeof(*info));
    Temporal__Api__Namespace__V1__NamespaceInfo__Capabilities *caps = (void *)td_fe__new_msg(
            call, &temporal__api__namespace__v1__namespace_info__capabilities__descriptor);
    Temporal__Api__Namespace__V1__NamespaceInfo__Limits *limits = (void *)td_fe__new_msg(
            call, &temporal__api__namespace__v1__namespace_info__limits__descriptor);

    if (rec->info != NULL) {
        *info = *rec->info;
    } else {
        temporal__api__namespace__v1__namespace_info__init(info);
    }
    info->name = ns->name;
    info->id = ns->id;
    /* What the worker reads at start-up: updates are served, and ShutdownWorker completes
     * the worker's outstanding polls (sdk-core then lets them finish instead of dropping
     * them); nothing else yet. */
    caps->sync_update = 1;
    caps->async_update = 1;
    caps->worker_poll_complete_on_shutdown = td_fe__polls_complete_on_shutdown(srv);
    limits->blob_size_limit_error = td_fe__blob_limit(srv);
    limits->memo_size_limit_error = (int64_t)td_config_dyn_int(srv->config, "limit.memoSize.error",
                                                               TD_FE_BLOB_LIMIT_DEFAULT);
    info->capabilities = caps;
    info->limits = limits;
    info->supports_schedules = 0;
    resp->namespace_info = info;
    resp->config = rec->config;
    if (rec->replication_config != NULL) {
        resp->replication_config = rec->replication_config;
    } else {
        td_ns_repl_t *repl = (void *)td_fe__new_msg(
                call, &temporal__api__replication__v1__namespace_replication_config__descriptor);
        td_ns_cluster_t *cl = (void *)td_fe__new_msg(
                call, &temporal__api__replication__v1__cluster_replication_config__descriptor);
        const char *cluster =
                srv->config->cluster_name != NULL ? srv->config->cluster_name : "active";
        cl->cluster_name = (char *)cluster;
        repl->active_cluster_name = (char *)cluster;
        repl->n_clusters = 1;
        repl->clusters = td_arena_alloc(a, sizeof(*repl->clusters));
        repl->clusters[0] = cl;
        repl->state = TEMPORAL__API__ENUMS__V1__REPLICATION_STATE__REPLICATION_STATE_NORMAL;
        resp->replication_config = repl;
    }
    resp->failover_version = rec->failover_version;
    resp->is_global_namespace = rec->is_global_namespace;
    (void)a;
    return resp;
}

static void td_fe_describe_namespace(td_rpc_call_t *call, void *ctx)
{
    td_server_t *srv = ctx;
    const td_desc_ns_req_t *r = (const void *)td_rpc_request(call);
    const td_ns_t *ns = NULL;

    if (r->id != NULL && r->id[0] != '\0') {
        ns = srv->nsreg != NULL ? td_nsreg_by_id(srv->nsreg, r->id) : NULL;
        if (ns == NULL && srv->nsreg != NULL) {
            td_fe__fail_ns_not_found(call, r->id);
            goto out;
        }
        if (ns == NULL) {
            ns = td_fe__ns_resolve(call, srv, r->id); /* fails: no registry */
        }
    } else {
        ns = td_fe__ns_resolve(call, srv, r->namespace_);
    }
    if (ns != NULL) {
        td_rpc_reply(call, &td_fe_ns_describe(call, srv, ns)->base);
    }
out:
    return;
}

/* Retention checks shared by register and update: NULL or the failure message. */
static const char *td_fe_check_retention(td_rpc_call_t *call, td_server_t *srv, const char *field,
                                         const Google__Protobuf__Duration *d)
{
    long long min_ms =
            td_config_dyn_ms(srv->config, TD_FE_MIN_RETENTION_KEY, TD_FE_MIN_RETENTION_DEFAULT_MS);
    int bad;

    if (min_ms < TD_FE_MIN_RETENTION_FLOOR_MS) {
        min_ms = TD_FE_MIN_RETENTION_FLOOR_MS;
    }
    bad = d != NULL && (d->seconds < 0 || d->nanos < 0 || d->nanos >= 1000000000 ||
                        d->seconds * 1000LL + d->nanos / 1000000 < min_ms);
    return bad ? td_arena_printf(td_rpc_arena(call),
                                 "%s is invalid: the minimum retention period is %lld.%03llds "
                                 "(" TD_FE_MIN_RETENTION_KEY ").",
                                 field, min_ms / 1000, min_ms % 1000)
               : NULL;
}

static void td_fe_ns_written(int rc, const char *msg, void *arg)
{
    td_rpc_call_t *call = arg;

    if (rc == TD_OK) {
        td_rpc_reply(
                call,
                td_fe__new_msg(
                        call,
                        &temporal__api__workflowservice__v1__register_namespace_response__descriptor));
    } else if (rc == TD_EEXIST) {
        Temporal__Api__Errordetails__V1__NamespaceAlreadyExistsFailure *d = (void *)td_fe__new_msg(
                call,
                &temporal__api__errordetails__v1__namespace_already_exists_failure__descriptor);
        td_rpc_fail(call, TD_GRPC_ALREADY_EXISTS, "Namespace already exists.", &d->base);
    } else {
        td_rpc_fail_err(call, rc, msg);
    }
}

static void td_fe_register_namespace(td_rpc_call_t *call, void *ctx)
{
    td_server_t *srv = ctx;
    td_arena_t *a = td_rpc_arena(call);
    const td_reg_ns_req_t *r = (const void *)td_rpc_request(call);
    const char *err = NULL;
    td_ns_record_t *rec;
    td_ns_info_t *info;
    td_ns_config_t *cfg;
    Google__Protobuf__Duration *ttl;

    if (r->namespace_ == NULL || r->namespace_[0] == '\0') {
        err = "Namespace is not set on request.";
    } else if (strlen(r->namespace_) > td_fe__max_id_len(srv)) {
        err = "Namespace length exceeds limit.";
    } else if ((err = td_fe_check_retention(call, srv, "WorkflowExecutionRetentionPeriod",
                                            r->workflow_execution_retention_period)) != NULL) {
        /* err set */
    } else if (r->is_global_namespace) {
        err = "IsGlobalNamespace: global namespaces need multi-cluster replication, which "
              "temporald does not have.";
    } else if (r->history_archival_state == TD_ARCHIVAL_ENABLED ||
               r->visibility_archival_state == TD_ARCHIVAL_ENABLED) {
        err = "HistoryArchivalState/VisibilityArchivalState: archival is not supported by "
              "temporald.";
    }
    if (err != NULL) {
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT, err, NULL);
        goto out;
    }
    if (srv->nsreg == NULL) {
        td_fe__ns_resolve(call, srv, r->namespace_); /* fails: no registry */
        goto out;
    }
    rec = (void *)td_fe__new_msg(call, &temporald__namespace__namespace_record__descriptor);
    info = (void *)td_fe__new_msg(call, &temporal__api__namespace__v1__namespace_info__descriptor);
    cfg = (void *)td_fe__new_msg(call, &temporal__api__namespace__v1__namespace_config__descriptor);
    ttl = (void *)td_fe__new_msg(call, &google__protobuf__duration__descriptor);
    info->name = r->namespace_;
    /* The registry assigns the id. A non-empty placeholder: td_nsreg_create frees the id of
     * its copy, which must then be an allocated string, not protobuf-c's empty default. */
    info->id = td_arena_strdup(a, "00000000-0000-0000-0000-000000000000");
    info->description = r->description;
    info->owner_email = r->owner_email;
    info->n_data = r->n_data;
    info->data = td_arena_alloc(a, sizeof(*info->data) * (r->n_data + 1));
    for (size_t i = 0; i < r->n_data; i++) {
        td_ns_data_t *e = (void *)td_fe__new_msg(
                call, &temporal__api__namespace__v1__namespace_info__data_entry__descriptor);
        e->key = r->data[i]->key;
        e->value = r->data[i]->value;
        info->data[i] = e;
    }
    if (r->workflow_execution_retention_period != NULL) {
        *ttl = *r->workflow_execution_retention_period;
    } else {
        ttl->seconds = (int64_t)srv->config->namespace_retention_hours * 3600;
    }
    cfg->workflow_execution_retention_ttl = ttl;
    cfg->history_archival_state = TEMPORAL__API__ENUMS__V1__ARCHIVAL_STATE__ARCHIVAL_STATE_DISABLED;
    cfg->visibility_archival_state =
            TEMPORAL__API__ENUMS__V1__ARCHIVAL_STATE__ARCHIVAL_STATE_DISABLED;
    rec->info = info;
    rec->config = cfg;
    td_nsreg_create(srv->nsreg, rec, td_fe_ns_written, call);
out:
    return;
}

static void td_fe_list_namespaces(td_rpc_call_t *call, void *ctx)
{
    td_server_t *srv = ctx;
    td_arena_t *a = td_rpc_arena(call);
    const td_list_ns_req_t *r = (const void *)td_rpc_request(call);
    td_list_ns_resp_t *resp = (void *)td_fe__new_msg(
            call, &temporal__api__workflowservice__v1__list_namespaces_response__descriptor);
    int page = r->page_size > 0 ? r->page_size : TD_FE_NS_PAGE_DEFAULT;
    int include_deleted = r->namespace_filter != NULL && r->namespace_filter->include_deleted;
    int start = 0, n, i;
    char tok[16];

    if (page > TD_FE_NS_PAGE_MAX) {
        page = TD_FE_NS_PAGE_MAX;
    }
    if (srv->nsreg == NULL) {
        td_fe__ns_resolve(call, srv, "default"); /* fails: no registry */
        goto out;
    }
    n = td_nsreg_count(srv->nsreg);
    if (r->next_page_token.len > 0) {
        /* The token is the decimal index of the next namespace in name order. */
        char buf[16];
        char *end = NULL;
        long v;
        if (r->next_page_token.len >= sizeof(buf)) {
            td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT, "Invalid NextPageToken.", NULL);
            goto out;
        }
        memcpy(buf, r->next_page_token.data, r->next_page_token.len);
        buf[r->next_page_token.len] = '\0';
        v = strtol(buf, &end, 10);
        if (end == buf || *end != '\0' || v < 0 || v > n) {
            td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT, "Invalid NextPageToken.", NULL);
            goto out;
        }
        start = (int)v;
    }
    resp->namespaces = td_arena_alloc(a, sizeof(*resp->namespaces) * (size_t)(page + 1));
    for (i = start; i < n && (int)resp->n_namespaces < page; i++) {
        const td_ns_t *ns = td_nsreg_at(srv->nsreg, i);
        if (!include_deleted && ns->rec->info != NULL && ns->rec->info->state == TD_NS_DELETED) {
            continue;
        }
        resp->namespaces[resp->n_namespaces++] = td_fe_ns_describe(call, srv, ns);
    }
    if (i < n) {
        int len = snprintf(tok, sizeof(tok), "%d", i);
        resp->next_page_token.data = td_arena_memdup(a, tok, (size_t)len);
        resp->next_page_token.len = (size_t)len;
    }
    td_rpc_reply(call, &resp->base);
out:
    return;
}

/* UpdateNamespace: the call waits for the store; then it answers the registry's new view. */
typedef struct {
    td_rpc_call_t *call;
    td_server_t *srv;
    char *id;
} td_fe_ns_update_t;

static void td_fe_ns_updated(int rc, const char *msg, void *arg)
{
    td_fe_ns_update_t *u = arg;
    const td_ns_t *ns = rc == TD_OK ? td_nsreg_by_id(u->srv->nsreg, u->id) : NULL;

    if (rc != TD_OK) {
        td_rpc_fail_err(u->call, rc, msg);
    } else if (ns == NULL) {
        td_rpc_fail(u->call, TD_GRPC_INTERNAL, "namespace vanished after its update", NULL);
    } else {
        td_desc_ns_resp_t *d = td_fe_ns_describe(u->call, u->srv, ns);
        td_upd_ns_resp_t *resp = (void *)td_fe__new_msg(
                u->call,
                &temporal__api__workflowservice__v1__update_namespace_response__descriptor);
        resp->namespace_info = d->namespace_info;
        resp->config = d->config;
        resp->replication_config = d->replication_config;
        resp->failover_version = d->failover_version;
        resp->is_global_namespace = d->is_global_namespace;
        td_rpc_reply(u->call, &resp->base);
    }
}

/* info->data with the entries of upd set (an empty value removes the key). */
static void td_fe_ns_merge_data(td_rpc_call_t *call, td_ns_info_t *info,
                                const Temporal__Api__Namespace__V1__UpdateNamespaceInfo *upd)
{
    td_arena_t *a = td_rpc_arena(call);
    td_ns_data_t **v = td_arena_alloc(a, sizeof(*v) * (info->n_data + upd->n_data + 1));
    size_t n = 0;

    for (size_t i = 0; i < info->n_data; i++) {
        v[n++] = info->data[i];
    }
    for (size_t j = 0; j < upd->n_data; j++) {
        size_t k;
        for (k = 0; k < n && strcmp(v[k]->key, upd->data[j]->key) != 0; k++) {
        }
        if (k == n) {
            v[n++] = (void *)td_fe__new_msg(
                    call, &temporal__api__namespace__v1__namespace_info__data_entry__descriptor);
        } else {
            td_ns_data_t *copy = td_arena_alloc(a, sizeof(*copy));
            *copy = *v[k];
            v[k] = copy;
        }
        v[k]->key = upd->data[j]->key;
        v[k]->value = upd->data[j]->value;
    }
    info->data = v;
    info->n_data = n;
}

static void td_fe_update_namespace(td_rpc_call_t *call, void *ctx)
{
    td_server_t *srv = ctx;
    td_arena_t *a = td_rpc_arena(call);
    const td_upd_ns_req_t *r = (const void *)td_rpc_request(call);
    const td_ns_t *ns = td_fe__ns_resolve(call, srv, r->namespace_);
    const char *err = NULL;
    td_ns_record_t *rec;
    td_ns_info_t *info;
    td_ns_config_t *cfg;
    td_fe_ns_update_t *u;

    if (ns == NULL) {
        goto out; /* ended */
    }
    if (r->config != NULL) {
        err = td_fe_check_retention(call, srv, "Config.WorkflowExecutionRetentionTtl",
                                    r->config->workflow_execution_retention_ttl);
        if (err == NULL && (r->config->history_archival_state == TD_ARCHIVAL_ENABLED ||
                            r->config->visibility_archival_state == TD_ARCHIVAL_ENABLED)) {
            err = "Config.HistoryArchivalState/VisibilityArchivalState: archival is not "
                  "supported by temporald.";
        }
    }
    if (err == NULL && r->replication_config != NULL && r->replication_config->n_clusters > 1) {
        err = "ReplicationConfig.Clusters: multi-cluster replication is not supported by "
              "temporald.";
    }
    if (err == NULL && r->promote_namespace) {
        err = "PromoteNamespace: global namespaces are not supported by temporald.";
    }
    if (err != NULL) {
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT, err, NULL);
        goto out;
    }
    /* A shallow copy of the record with the changed parts replaced; the registry copies it
     * before this handler returns. */
    rec = td_arena_alloc(a, sizeof(*rec));
    *rec = *ns->rec;
    info = td_arena_alloc(a, sizeof(*info));
    if (ns->rec->info != NULL) {
        *info = *ns->rec->info;
    } else {
        temporal__api__namespace__v1__namespace_info__init(info);
    }
    cfg = td_arena_alloc(a, sizeof(*cfg));
    if (ns->rec->config != NULL) {
        *cfg = *ns->rec->config;
    } else {
        temporal__api__namespace__v1__namespace_config__init(cfg);
    }
    if (r->update_info != NULL) {
        if (r->update_info->description != NULL && r->update_info->description[0] != '\0') {
            info->description = r->update_info->description;
        }
        if (r->update_info->owner_email != NULL && r->update_info->owner_email[0] != '\0') {
            info->owner_email = r->update_info->owner_email;
        }
        if (r->update_info->state != 0) {
            info->state = r->update_info->state;
        }
        td_fe_ns_merge_data(call, info, r->update_info);
    }
    if (r->config != NULL) {
        if (r->config->workflow_execution_retention_ttl != NULL) {
            cfg->workflow_execution_retention_ttl = r->config->workflow_execution_retention_ttl;
        }
        if (r->config->bad_binaries != NULL) {
            cfg->bad_binaries = r->config->bad_binaries;
        }
    }
    rec->info = info;
    rec->config = cfg;
    u = td_arena_alloc(a, sizeof(*u));
    u->call = call;
    u->srv = srv;
    u->id = td_arena_strdup(a, ns->id);
    td_nsreg_update(srv->nsreg, ns->id, rec, td_fe_ns_updated, u);
out:
    return;
}

#define TD_FE_OWN(Name, snake, fn)                                                               \
    {                                                                                            \
        TD_WORKFLOW_SERVICE #Name,                                                               \
                &temporal__api__workflowservice__v1__##snake##_request__descriptor,              \
                &temporal__api__workflowservice__v1__##snake##_response__descriptor, NULL, NULL, \
                NULL, NULL, 0, NULL, fn                                                          \
    }

const td_fe_route_t td_fe__namespace_routes[] = {
    TD_FE_OWN(DescribeNamespace, describe_namespace, td_fe_describe_namespace),
    TD_FE_OWN(RegisterNamespace, register_namespace, td_fe_register_namespace),
    TD_FE_OWN(ListNamespaces, list_namespaces, td_fe_list_namespaces),
    TD_FE_OWN(UpdateNamespace, update_namespace, td_fe_update_namespace),
};
const int td_fe__namespace_routes_n =
        (int)(sizeof(td_fe__namespace_routes) / sizeof(td_fe__namespace_routes[0]));
