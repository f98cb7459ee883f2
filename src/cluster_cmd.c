/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `temporald cluster members --address HOST:PORT`: asks the process at that address (a
 * frontend's gRPC port) for its membership view (AdminService.ListClusterMembers) and prints
 * one line per member. Exit status 0, or 1 with one line on stderr when the call fails.
 * Only main.c calls it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adminservice.pb-c.h"
#include "cli.h"
#include "cluster/admin.h"
#include "error.h"
#include "loop.h"
#include "net/rpc.h"

int td_cluster_main(const td_cli_t *cli);

typedef struct {
    td_loop_t *loop;
    int status;
} td_ccmd_t;

static void td_ccmd_print(const Temporald__Adminservice__ListClusterMembersResponse *r)
{
    printf("cluster '%s', %d history shards, %zu member(s)\n", r->cluster_name,
           r->history_shard_count, r->n_members);
    printf("%-9s %-22s %-22s %-8s %11s %6s %s\n", "ROLE", "MEMBER", "RPC ADDRESS", "STATUS",
           "INCARNATION", "OWNED", "");
    for (size_t i = 0; i < r->n_members; i++) {
        const Temporald__Adminservice__ClusterMember *m = r->members[i];
        char owned[16] = "-";
        if (m->owned >= 0) {
            snprintf(owned, sizeof(owned), "%d", m->owned);
        }
        printf("%-9s %-22s %-22s %-8s %11llu %6s %s%s\n", m->role, m->id, m->rpc_address, m->status,
               (unsigned long long)m->incarnation, owned, m->draining ? "draining " : "",
               m->self ? "(answering process)" : "");
    }
    if (r->dropped_unauthenticated + r->dropped_malformed + r->dropped_foreign_cluster > 0) {
        printf("dropped membership datagrams: %llu unauthenticated, %llu malformed, %llu from "
               "another cluster\n",
               (unsigned long long)r->dropped_unauthenticated,
               (unsigned long long)r->dropped_malformed,
               (unsigned long long)r->dropped_foreign_cluster);
    }
}

static void td_ccmd_done(const td_rpc_result_t *r, void *arg)
{
    td_ccmd_t *x = arg;
    if (r->status == 0) {
        td_ccmd_print((const Temporald__Adminservice__ListClusterMembersResponse *)r->resp);
        x->status = 0;
    } else {
        fprintf(stderr, "temporald: cluster members: %s: %s\n", td_grpc_status_name(r->status),
                r->message != NULL ? r->message : "");
        x->status = 1;
    }
    td_loop_stop(x->loop);
}

int td_cluster_main(const td_cli_t *cli)
{
    char host[256];
    const char *colon = strrchr(cli->address, ':');
    Temporald__Adminservice__ListClusterMembersRequest req =
            TEMPORALD__ADMINSERVICE__LIST_CLUSTER_MEMBERS_REQUEST__INIT;
    td_rpc_call_opts_t o;
    td_rpc_client_t *cl;
    td_ccmd_t x = { NULL, 1 };

    snprintf(host, sizeof(host), "%.*s", (int)(colon - cli->address), cli->address);
    x.loop = td_loop_new();
    cl = td_rpc_client_new(x.loop, host, atoi(colon + 1), NULL);
    memset(&o, 0, sizeof(o));
    o.resp = &temporald__adminservice__list_cluster_members_response__descriptor;
    o.timeout_ms = 10000;
    td_rpc_client_call(cl, TD_ADMIN_LIST_MEMBERS_PATH, &req.base, &o, td_ccmd_done, &x);
    td_loop_run(x.loop);
    td_rpc_client_free(cl);
    td_loop_free(x.loop);
    return x.status;
}
