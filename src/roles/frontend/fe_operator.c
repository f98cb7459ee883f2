/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Search attributes and cluster facts: OperatorService's Add/List/RemoveSearchAttributes
 * over the namespace registry's custom search attributes (each namespace has its own, as
 * with Temporal's SQL visibility), WorkflowService.GetSearchAttributes and GetClusterInfo.
 * OperatorService.DeleteNamespace is checked and answered UNIMPLEMENTED: deleting a
 * namespace's workflows is a worker-role job temporald does not have yet. Visibility itself
 * (indexing, queries) is not here.
 */
#include <string.h>

#include "config.h"
#include "error.h"
#include "mem.h"
#include "roles/frontend/fe_int.h"
#include "roles/frontend/frontend.h"
#include "temporal/api/operatorservice/v1/request_response.pb-c.h"
#include "temporal/api/workflowservice/v1/request_response.pb-c.h"
#include "uuid.h"

#ifndef TD_VERSION
#define TD_VERSION "0.0.0"
#endif

typedef Temporal__Api__Operatorservice__V1__AddSearchAttributesRequest td_add_sa_req_t;
typedef Temporal__Api__Operatorservice__V1__RemoveSearchAttributesRequest td_rm_sa_req_t;
typedef Temporal__Api__Operatorservice__V1__ListSearchAttributesRequest td_list_sa_req_t;
typedef Temporal__Api__Operatorservice__V1__ListSearchAttributesResponse td_list_sa_resp_t;
typedef Temporal__Api__Workflowservice__V1__GetSearchAttributesResponse td_get_sa_resp_t;
typedef Temporal__Api__Workflowservice__V1__GetClusterInfoResponse td_cluster_resp_t;
typedef Temporald__Namespace__NamespaceRecord__CustomSearchAttributesEntry td_csa_t;

/* Every generated search-attribute map entry has this layout: base, key, value. */
typedef struct {
    ProtobufCMessage base;
    char *key;
    Temporal__Api__Enums__V1__IndexedValueType value;
} td_sa_entry_t;

enum {
    TD_SA_TEXT = 1,
    TD_SA_KEYWORD,
    TD_SA_INT,
    TD_SA_DOUBLE,
    TD_SA_BOOL,
    TD_SA_DATETIME,
    TD_SA_KEYWORD_LIST
};

/* The system search attributes and their types (Temporal's sadefs list). */
static const struct {
    const char *name;
    int type;
} td_sa_system[] = {
    { "BatcherNamespace", TD_SA_KEYWORD },
    { "BatcherUser", TD_SA_KEYWORD },
    { "BinaryChecksums", TD_SA_KEYWORD_LIST },
    { "BuildIds", TD_SA_KEYWORD_LIST },
    { "CloseTime", TD_SA_DATETIME },
    { "ExecutionDuration", TD_SA_INT },
    { "ExecutionStatus", TD_SA_KEYWORD },
    { "ExecutionTime", TD_SA_DATETIME },
    { "HistoryLength", TD_SA_INT },
    { "HistorySizeBytes", TD_SA_INT },
    { "ParentRunId", TD_SA_KEYWORD },
    { "ParentWorkflowId", TD_SA_KEYWORD },
    { "RootRunId", TD_SA_KEYWORD },
    { "RootWorkflowId", TD_SA_KEYWORD },
    { "RunId", TD_SA_KEYWORD },
    { "StartTime", TD_SA_DATETIME },
    { "StateTransitionCount", TD_SA_INT },
    { "TaskQueue", TD_SA_KEYWORD },
    { "TemporalChangeVersion", TD_SA_KEYWORD_LIST },
    { "TemporalNamespaceDivision", TD_SA_KEYWORD },
    { "TemporalPauseInfo", TD_SA_KEYWORD_LIST },
    { "TemporalReportedProblems", TD_SA_KEYWORD_LIST },
    { "TemporalScheduledById", TD_SA_KEYWORD },
    { "TemporalScheduledStartTime", TD_SA_DATETIME },
    { "TemporalSchedulePaused", TD_SA_BOOL },
    { "TemporalWorkerDeployment", TD_SA_KEYWORD },
    { "TemporalWorkerDeploymentVersion", TD_SA_KEYWORD },
    { "TemporalWorkflowVersioningBehavior", TD_SA_KEYWORD },
    { "WorkflowId", TD_SA_KEYWORD },
    { "WorkflowType", TD_SA_KEYWORD },
};

/* Names reserved besides the system attributes. */
static const char *const td_sa_reserved[] = { "NamespaceId", "Memo", "Encoding",
                                              "VisibilityTaskKey" };

static int td_sa_is_reserved(const char *name)
{
    int reserved = 0;

    for (size_t i = 0; i < TD_ARRAY_LEN(td_sa_system); i++) {
        reserved |= strcmp(td_sa_system[i].name, name) == 0;
    }
    for (size_t i = 0; i < TD_ARRAY_LEN(td_sa_reserved); i++) {
        reserved |= strcmp(td_sa_reserved[i], name) == 0;
    }
    return reserved;
}

/* A map entry of type d in the call arena. */
static td_sa_entry_t *td_sa_entry(td_rpc_call_t *call, const ProtobufCMessageDescriptor *d,
                                  const char *key, int type)
{
    td_sa_entry_t *e = (void *)td_fe__new_msg(call, d);
    e->key = (char *)key;
    e->value = (Temporal__Api__Enums__V1__IndexedValueType)type;
    return e;
}

/* Fills a map of n_system (+ custom of ns when given) entries of type d. */
static td_sa_entry_t **td_sa_map(td_rpc_call_t *call, const ProtobufCMessageDescriptor *d,
                                 int system, const td_ns_t *ns, size_t *n)
{
    size_t cap = (system ? TD_ARRAY_LEN(td_sa_system) : 0) +
                 (ns != NULL ? ns->rec->n_custom_search_attributes : 0) + 1;
    td_sa_entry_t **v = td_arena_alloc(td_rpc_arena(call), sizeof(*v) * cap);

    *n = 0;
    for (size_t i = 0; system && i < TD_ARRAY_LEN(td_sa_system); i++) {
        v[(*n)++] = td_sa_entry(call, d, td_sa_system[i].name, td_sa_system[i].type);
    }
    for (size_t i = 0; ns != NULL && i < ns->rec->n_custom_search_attributes; i++) {
        const td_csa_t *c = ns->rec->custom_search_attributes[i];
        v[(*n)++] = td_sa_entry(call, d, c->key, (int)c->value);
    }
    return v;
}

static void td_fe_list_search_attributes(td_rpc_call_t *call, void *ctx)
{
    td_server_t *srv = ctx;
    const td_list_sa_req_t *r = (const void *)td_rpc_request(call);
    const td_ns_t *ns = td_fe__ns_resolve(call, srv, r->namespace_);
    td_list_sa_resp_t *resp;

    if (ns == NULL) {
        goto out; /* ended */
    }
    resp = (void *)td_fe__new_msg(
            call, &temporal__api__operatorservice__v1__list_search_attributes_response__descriptor);
    resp->system_attributes = (void *)td_sa_map(
            call,
            &temporal__api__operatorservice__v1__list_search_attributes_response__system_attributes_entry__descriptor,
            1, NULL, &resp->n_system_attributes);
    resp->custom_attributes = (void *)td_sa_map(
            call,
            &temporal__api__operatorservice__v1__list_search_attributes_response__custom_attributes_entry__descriptor,
            0, ns, &resp->n_custom_attributes);
    td_rpc_reply(call, &resp->base);
out:
    return;
}

/* WorkflowService.GetSearchAttributes has no namespace field: the namespace comes from the
 * temporal-namespace header the SDKs send, else "default". */
static void td_fe_get_search_attributes(td_rpc_call_t *call, void *ctx)
{
    td_server_t *srv = ctx;
    const char *name = td_rpc_metadata(call, "temporal-namespace");
    const td_ns_t *ns;
    td_get_sa_resp_t *resp;

    ns = td_fe__ns_resolve(call, srv, name != NULL && name[0] != '\0' ? name : "default");
    if (ns == NULL) {
        goto out; /* ended */
    }
    resp = (void *)td_fe__new_msg(
            call, &temporal__api__workflowservice__v1__get_search_attributes_response__descriptor);
    resp->keys = (void *)td_sa_map(
            call,
            &temporal__api__workflowservice__v1__get_search_attributes_response__keys_entry__descriptor,
            1, ns, &resp->n_keys);
    td_rpc_reply(call, &resp->base);
out:
    return;
}

static void td_fe_sa_written(int rc, const char *msg, void *arg)
{
    td_rpc_call_t *call = arg;
    const char *method = strrchr(td_rpc_method(call), '/') + 1;

    if (rc != TD_OK) {
        td_rpc_fail_err(call, rc, msg);
    } else if (strcmp(method, "AddSearchAttributes") == 0) {
        td_rpc_reply(
                call,
                td_fe__new_msg(
                        call,
                        &temporal__api__operatorservice__v1__add_search_attributes_response__descriptor));
    } else {
        td_rpc_reply(
                call,
                td_fe__new_msg(
                        call,
                        &temporal__api__operatorservice__v1__remove_search_attributes_response__descriptor));
    }
}

/* Writes ns's record with custom search attributes v[0..n). */
static void td_fe_sa_save(td_rpc_call_t *call, td_server_t *srv, const td_ns_t *ns, td_csa_t **v,
                          size_t n)
{
    td_ns_record_t *rec = td_arena_alloc(td_rpc_arena(call), sizeof(*rec));

    *rec = *ns->rec; /* shallow: the registry copies it before td_nsreg_update returns */
    rec->custom_search_attributes = v;
    rec->n_custom_search_attributes = n;
    td_nsreg_update(srv->nsreg, ns->id, rec, td_fe_sa_written, call);
}

static const td_csa_t *td_sa_custom_find(const td_ns_t *ns, const char *name)
{
    const td_csa_t *found = NULL;

    for (size_t i = 0; i < ns->rec->n_custom_search_attributes && found == NULL; i++) {
        if (strcmp(ns->rec->custom_search_attributes[i]->key, name) == 0) {
            found = ns->rec->custom_search_attributes[i];
        }
    }
    return found;
}

/* Adds the attributes a namespace lacks; names it has already are left as they are (as
 * Temporal's SQL visibility does), so repeating a registration succeeds. */
static void td_fe_add_search_attributes(td_rpc_call_t *call, void *ctx)
{
    td_server_t *srv = ctx;
    td_arena_t *a = td_rpc_arena(call);
    const td_add_sa_req_t *r = (const void *)td_rpc_request(call);
    const td_ns_t *ns;
    td_csa_t **v;
    size_t n = 0;

    if (r->n_search_attributes == 0) {
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT, "SearchAttributes are not set on request.",
                    NULL);
        goto out;
    }
    for (size_t i = 0; i < r->n_search_attributes; i++) {
        const char *name = r->search_attributes[i]->key;
        int type = (int)r->search_attributes[i]->value;
        if (name == NULL || name[0] == '\0' || strlen(name) > TD_FE_MAX_ID_LEN) {
            td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT,
                        "SearchAttributes: a name is empty or longer than 1000 bytes.", NULL);
            goto out;
        }
        if (td_sa_is_reserved(name)) {
            td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT,
                        td_arena_printf(a, "Search attribute %s is reserved by system.", name),
                        NULL);
            goto out;
        }
        if (td_sa_type_name(type) == NULL) {
            td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT,
                        td_arena_printf(a, "Unknown search attribute type: %d.", type), NULL);
            goto out;
        }
    }
    ns = td_fe__ns_resolve(call, srv, r->namespace_);
    if (ns == NULL) {
        goto out; /* ended */
    }
    v = td_arena_alloc(a,
                       sizeof(*v) * (ns->rec->n_custom_search_attributes + r->n_search_attributes));
    for (size_t i = 0; i < ns->rec->n_custom_search_attributes; i++) {
        v[n++] = ns->rec->custom_search_attributes[i];
    }
    for (size_t i = 0; i < r->n_search_attributes; i++) {
        const char *name = r->search_attributes[i]->key;
        size_t k;
        if (td_sa_custom_find(ns, name) != NULL) {
            continue;
        }
        for (k = ns->rec->n_custom_search_attributes; k < n && strcmp(v[k]->key, name) != 0; k++) {
        }
        if (k < n) {
            continue; /* named twice in the request */
        }
        v[n++] = (void *)td_sa_entry(
                call,
                &temporald__namespace__namespace_record__custom_search_attributes_entry__descriptor,
                name, (int)r->search_attributes[i]->value);
    }
    if (n == ns->rec->n_custom_search_attributes) {
        td_fe_sa_written(TD_OK, NULL, call); /* nothing new */
        goto out;
    }
    td_fe_sa_save(call, srv, ns, v, n);
out:
    return;
}

/* Removes custom attributes; unknown names are skipped, system names refused. */
static void td_fe_remove_search_attributes(td_rpc_call_t *call, void *ctx)
{
    td_server_t *srv = ctx;
    td_arena_t *a = td_rpc_arena(call);
    const td_rm_sa_req_t *r = (const void *)td_rpc_request(call);
    const td_ns_t *ns;
    td_csa_t **v;
    size_t n = 0;

    if (r->n_search_attributes == 0) {
        td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT, "SearchAttributes are not set on request.",
                    NULL);
        goto out;
    }
    for (size_t i = 0; i < r->n_search_attributes; i++) {
        if (td_sa_is_reserved(r->search_attributes[i])) {
            td_rpc_fail(call, TD_GRPC_INVALID_ARGUMENT,
                        td_arena_printf(a, "Unable to remove non-custom search attributes: %s.",
                                        r->search_attributes[i]),
                        NULL);
            goto out;
        }
    }
    ns = td_fe__ns_resolve(call, srv, r->namespace_);
    if (ns == NULL) {
        goto out; /* ended */
    }
    v = td_arena_alloc(a, sizeof(*v) * (ns->rec->n_custom_search_attributes + 1));
    for (size_t i = 0; i < ns->rec->n_custom_search_attributes; i++) {
        td_csa_t *c = ns->rec->custom_search_attributes[i];
        int drop = 0;
        for (size_t j = 0; j < r->n_search_attributes; j++) {
            drop |= strcmp(c->key, r->search_attributes[j]) == 0;
        }
        if (!drop) {
            v[n++] = c;
        }
    }
    if (n == ns->rec->n_custom_search_attributes) {
        td_fe_sa_written(TD_OK, NULL, call); /* nothing to remove */
        goto out;
    }
    td_fe_sa_save(call, srv, ns, v, n);
out:
    return;
}

/* The persistence backend named by the store URL ("sqlite", "postgres"). */
static char *td_fe_store_name(td_rpc_call_t *call, const td_config_t *cfg)
{
    const char *url = cfg->db_url != NULL ? cfg->db_url : "";
    const char *colon = strchr(url, ':');
    return colon != NULL ? td_arena_strndup(td_rpc_arena(call), url, (size_t)(colon - url))
                         : td_arena_strdup(td_rpc_arena(call), "unknown");
}

static void td_fe_get_cluster_info(td_rpc_call_t *call, void *ctx)
{
    td_server_t *srv = ctx;
    /* Not persisted yet: a fresh id per process (a known gap: Temporal keeps it in the
     * cluster metadata table). */
    static char cluster_id[TD_UUID_LEN + 1];
    td_cluster_resp_t *resp = (void *)td_fe__new_msg(
            call, &temporal__api__workflowservice__v1__get_cluster_info_response__descriptor);

    if (cluster_id[0] == '\0') {
        td_uuid_v4(cluster_id);
    }
    resp->server_version = (char *)TD_VERSION;
    resp->cluster_id = cluster_id;
    resp->cluster_name = srv->config->cluster_name != NULL ? srv->config->cluster_name : "active";
    resp->history_shard_count = srv->config->num_history_shards;
    resp->persistence_store = td_fe_store_name(call, srv->config);
    resp->visibility_store = resp->persistence_store;
    resp->initial_failover_version = 1;
    resp->failover_version_increment = 10;
    td_rpc_reply(call, &resp->base);
}

#define TD_WS_OWN(Name, snake, fn)                                                               \
    {                                                                                            \
        TD_WORKFLOW_SERVICE #Name,                                                               \
                &temporal__api__workflowservice__v1__##snake##_request__descriptor,              \
                &temporal__api__workflowservice__v1__##snake##_response__descriptor, NULL, NULL, \
                NULL, NULL, 0, NULL, fn                                                          \
    }
#define TD_OS_OWN(Name, snake, fn)                                                               \
    {                                                                                            \
        TD_OPERATOR_SERVICE #Name,                                                               \
                &temporal__api__operatorservice__v1__##snake##_request__descriptor,              \
                &temporal__api__operatorservice__v1__##snake##_response__descriptor, NULL, NULL, \
                NULL, NULL, 0, NULL, fn                                                          \
    }

const td_fe_route_t td_fe__operator_routes[] = {
    TD_WS_OWN(GetSearchAttributes, get_search_attributes, td_fe_get_search_attributes),
    TD_WS_OWN(GetClusterInfo, get_cluster_info, td_fe_get_cluster_info),
    TD_OS_OWN(ListSearchAttributes, list_search_attributes, td_fe_list_search_attributes),
    TD_OS_OWN(AddSearchAttributes, add_search_attributes, td_fe_add_search_attributes),
    TD_OS_OWN(RemoveSearchAttributes, remove_search_attributes, td_fe_remove_search_attributes),
    {
            TD_OPERATOR_SERVICE "DeleteNamespace",
            &temporal__api__operatorservice__v1__delete_namespace_request__descriptor,
            &temporal__api__operatorservice__v1__delete_namespace_response__descriptor,
            NULL,
            NULL,
            NULL,
            NULL,
            TD_FE_UNIMPLEMENTED | TD_FE_NS_OPTIONAL,
            "deleting a namespace and its workflows is a worker-role job temporald does not "
            "have yet",
            NULL,
    },
};
const int td_fe__operator_routes_n =
        (int)(sizeof(td_fe__operator_routes) / sizeof(td_fe__operator_routes[0]));
