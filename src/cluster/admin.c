/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin service (proto/adminservice.proto) on the frontend's gRPC server: the operator's
 * view of the cluster membership (`temporald cluster members`). Reads the process's
 * membership view and the owned-key counts the ring code registers; changes nothing.
 */
#define TD_LOG_COMPONENT "admin"

#include "cluster/admin.h"

#include "adminservice.pb-c.h"
#include "cluster/membership.h"
#include "config.h"
#include "error.h"
#include "net/rpc.h"
#include "server.h"

typedef Temporald__Adminservice__ClusterMember td_pb_member_t;
typedef Temporald__Adminservice__ListClusterMembersResponse td_pb_members_resp_t;

static void td_admin_list_members(td_rpc_call_t *call, void *ctx)
{
    td_server_t *srv = ctx;
    td_arena_t *a = td_rpc_arena(call);
    td_membership_t *m = td_membership_of(srv);
    td_pb_members_resp_t *resp = td_arena_calloc(a, sizeof(*resp));
    const td_member_t *v;
    int n;

    if (m == NULL) {
        td_rpc_fail_err(call, TD_EUNAVAIL, "this process has no membership yet");
        return;
    }
    n = td_membership_list(m, 0, &v);
    temporald__adminservice__list_cluster_members_response__init(resp);
    resp->cluster_name = td_arena_strdup(a, srv->config->cluster_name);
    resp->history_shard_count = srv->config->num_history_shards;
    td_membership_drops(m, &resp->dropped_unauthenticated, &resp->dropped_malformed,
                        &resp->dropped_foreign_cluster);
    resp->members = td_arena_calloc(a, sizeof(*resp->members) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) {
        td_pb_member_t *pm = td_arena_calloc(a, sizeof(*pm));
        temporald__adminservice__cluster_member__init(pm);
        pm->id = td_arena_strdup(a, v[i].id);
        pm->role = (char *)td_member_role_name(v[i].role);
        pm->rpc_address = td_arena_strdup(a, v[i].grpc_addr);
        pm->status = (char *)td_member_status_name(v[i].status);
        pm->incarnation = v[i].incarnation;
        pm->draining = v[i].draining;
        pm->self = v[i].self;
        pm->session_start_ms = v[i].session_start_ms;
        pm->owned = td_membership_owned(m, &v[i]);
        resp->members[resp->n_members++] = pm;
    }
    td_rpc_reply(call, &resp->base);
}

int td_cluster_admin_register(td_server_t *srv)
{
    td_rpc_method_t me = {
        TD_ADMIN_LIST_MEMBERS_PATH,
        &temporald__adminservice__list_cluster_members_request__descriptor,
        td_admin_list_members,
        srv,
    };
    if (srv->rpc == NULL) {
        return TD_OK; /* no frontend here: nothing serves the admin service */
    }
    return td_rpc_server_add(srv->rpc, &me);
}
