/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Membership seeds from the store (seeds.h): every ~10 s (plus 0-5 s of jitter) the process
 * writes one cluster_membership row per local member with the wall-clock time, deletes rows
 * silent for 48 hours, and reads the rows that beat within the last 20 s; their addresses,
 * with the static [cluster] seeds, are the seeds SWIM contacts while joining. The first round
 * runs synchronously at open, so a process joins at once after a full restart. Loop thread.
 */
#define TD_LOG_COMPONENT "membership"

#include "cluster/seeds.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "server.h"
#include "store/store.h"
#include "uuid.h"

#define TD_SEEDS_FRESH_MS  20000
#define TD_SEEDS_EXPIRE_MS (48LL * 3600 * 1000)

struct td_seeds_s {
    td_store_t *store;
    td_membership_t *view;
    td_swim_udp_t *udp;
    td_timer_t *timer;
    char host_id[TD_UUID_LEN + 1];
    int in_flight;
    int closing;
    int64_t interval_ms;
    uint64_t rng;
};

static const char *td_seeds_role_name(int role)
{
    switch (role) {
    case TD_ROLE_FRONTEND:
        return "frontend";
    case TD_ROLE_HISTORY:
        return "history";
    case TD_ROLE_MATCHING:
        return "matching";
    default:
        return "worker";
    }
}

static int64_t td_seeds_wall_ms(void)
{
    return td_now_wall_ns() / 1000000;
}

/* Fills a heartbeat request with our local members. */
static void td_seeds_fill(td_seeds_t *sd, td_store_req_t *req)
{
    const td_member_t *v;
    int n = td_membership_list(sd->view, 0, &v), k = 0;
    int64_t now = td_seeds_wall_ms();
    td_store_member_row_t *rows = td_arena_calloc(&req->arena, sizeof(*rows) * (size_t)(n + 1));

    for (int i = 0; i < n; i++) {
        if (!v[i].self) {
            continue;
        }
        rows[k].membership_address = td_arena_strdup(&req->arena, v[i].id);
        rows[k].host_id = sd->host_id;
        rows[k].role = td_seeds_role_name(v[i].role);
        rows[k].rpc_address = td_arena_strdup(&req->arena, v[i].grpc_addr);
        rows[k].session_start_ms = v[i].session_start_ms;
        rows[k].heartbeat_ms = now;
        k++;
    }
    req->in.members.rows = rows;
    req->in.members.n_rows = k;
    req->in.members.expire_before_ms = now - TD_SEEDS_EXPIRE_MS;
}

static void td_seeds_use(td_seeds_t *sd, const td_store_req_t *req)
{
    const char **addrs;
    int n = req->out.members.n_rows;
    if (req->rc != TD_OK) {
        td_log_warn("membership seeds: cannot read cluster_membership: %s", req->err);
        return;
    }
    addrs = td_calloc((size_t)(n + 1), sizeof(*addrs));
    for (int i = 0; i < n; i++) {
        addrs[i] = req->out.members.rows[i].membership_address;
    }
    td_swim_udp_set_store_seeds(sd->udp, addrs, n);
    td_free(addrs);
}

static void td_seeds_schedule(td_seeds_t *sd)
{
    sd->rng = sd->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    td_timer_start(sd->timer, sd->interval_ms + (int64_t)((sd->rng >> 33) % 5000));
}

static void td_seeds_on_list(td_store_req_t *req, void *arg)
{
    td_seeds_t *sd = arg;
    sd->in_flight = 0;
    if (!sd->closing) {
        td_seeds_use(sd, req);
        td_seeds_schedule(sd);
    }
    td_store_req_free(req);
    if (sd->closing) {
        td_free(sd);
    }
}

static void td_seeds_on_beat(td_store_req_t *req, void *arg)
{
    td_seeds_t *sd = arg;
    if (req->rc != TD_OK && !sd->closing) {
        td_log_warn("membership seeds: cannot write cluster_membership: %s", req->err);
    }
    if (sd->closing) {
        sd->in_flight = 0;
        td_store_req_free(req);
        td_free(sd);
        return;
    }
    td_store_req_reset(req, TD_STORE_OP_MEMBERS_LIST);
    req->in.members.since_ms = td_seeds_wall_ms() - TD_SEEDS_FRESH_MS;
    req->cb = td_seeds_on_list;
    req->arg = sd;
    td_store_submit(sd->store, req);
}

static void td_seeds_on_timer(void *arg)
{
    td_seeds_t *sd = arg;
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_MEMBERS_HEARTBEAT);
    td_seeds_fill(sd, req);
    req->cb = td_seeds_on_beat;
    req->arg = sd;
    sd->in_flight = 1;
    td_store_submit(sd->store, req);
}

td_seeds_t *td_seeds_start(td_server_t *srv, td_swim_udp_t *udp)
{
    td_seeds_t *sd = td_calloc(1, sizeof(*sd));
    td_store_req_t *req = td_store_req_new(TD_STORE_OP_MEMBERS_HEARTBEAT);

    sd->store = srv->store;
    sd->view = srv->membership;
    sd->udp = udp;
    sd->interval_ms = 10000;
    td_uuid_v4(sd->host_id);
    sd->rng = (uint64_t)td_now_wall_ns();
    sd->timer = td_timer_new(srv->loop, td_seeds_on_timer, sd);
    /* the first round before the loop runs: seeds at once */
    td_seeds_fill(sd, req);
    if (td_store_call(sd->store, req) != TD_OK) {
        td_log_warn("membership seeds: cannot write cluster_membership: %s", req->err);
    }
    td_store_req_reset(req, TD_STORE_OP_MEMBERS_LIST);
    req->in.members.since_ms = td_seeds_wall_ms() - TD_SEEDS_FRESH_MS;
    td_store_call(sd->store, req);
    td_seeds_use(sd, req);
    td_store_req_free(req);
    td_seeds_schedule(sd);
    return sd;
}

void td_seeds_stop(td_seeds_t *sd)
{
    if (sd == NULL) {
        return;
    }
    td_timer_free(sd->timer);
    sd->timer = NULL;
    if (sd->in_flight) {
        sd->closing = 1; /* the store's callback frees it, if the loop runs again */
        return;
    }
    td_free(sd);
}
