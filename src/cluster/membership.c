/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The membership view (membership.h): a sorted table of members, watchers notified once per
 * loop turn after a change, and the process's local members built from the configuration.
 * It holds no protocol: SWIM (swim.c) feeds it through td_membership_upsert/forget, and
 * start-dev's view is the local members alone. Loop thread only.
 *
 * Notification: a change that matters to routing (a new or removed member, status, draining
 * flag, gRPC address) sets `dirty` and arms a zero-delay timer; when it fires every watcher
 * runs once, however many changes came before. Incarnation or session changes alone are
 * stored silently.
 */
#define TD_LOG_COMPONENT "membership"

#include "cluster/membership.h"
#include "cluster/seeds.h"
#include "cluster/swim_udp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "server.h"

typedef struct td_mwatch_s {
    struct td_mwatch_s *next;
    void (*fn)(void *arg);
    void *arg;
    int removed;
} td_mwatch_t;

typedef struct {
    td_member_t *v;
    int n, cap;
    int role;
    uint64_t version;
} td_mlist_t;

struct td_membership_s {
    td_loop_t *loop;
    uint64_t version; /* bumped by every change of the table */
    td_mlist_t by_role[TD_MAX_ROLES + 1];
    td_member_t *v; /* sorted by id; id and grpc_addr owned */
    int n, cap;
    td_mwatch_t *watchers;
    int dispatching;
    int dirty;
    td_timer_t *notify;
    td_swim_udp_t *udp; /* SWIM on UDP (`start`); NULL for start-dev */
    td_seeds_t *seeds;  /* cluster_membership heartbeats (`start`) */
    void (*local_fn)(void *arg);
    void *local_arg;
    struct {
        td_membership_owned_fn fn;
        void *arg;
    } owned[TD_MAX_ROLES];
};

const char *td_member_status_name(td_member_status_t s)
{
    switch (s) {
    case TD_MEMBER_ALIVE:
        return "alive";
    case TD_MEMBER_SUSPECT:
        return "suspect";
    case TD_MEMBER_DEAD:
        return "dead";
    case TD_MEMBER_LEFT:
        return "left";
    }
    return "?";
}

const char *td_member_role_name(int role)
{
    switch (role) {
    case TD_ROLE_FRONTEND:
        return "frontend";
    case TD_ROLE_HISTORY:
        return "history";
    case TD_ROLE_MATCHING:
        return "matching";
    case TD_ROLE_WORKER:
        return "worker";
    }
    return "?";
}

static void td_membership_sweep_watchers(td_membership_t *m)
{
    td_mwatch_t **pp = &m->watchers;
    while (*pp != NULL) {
        td_mwatch_t *w = *pp;
        if (w->removed) {
            *pp = w->next;
            td_free(w);
        } else {
            pp = &w->next;
        }
    }
}

static void td_membership_notify_cb(void *arg)
{
    td_membership_t *m = arg;
    m->dirty = 0;
    m->dispatching = 1;
    for (td_mwatch_t *w = m->watchers; w != NULL; w = w->next) {
        if (!w->removed) {
            w->fn(w->arg);
        }
    }
    m->dispatching = 0;
    td_membership_sweep_watchers(m);
}

static void td_membership_changed(td_membership_t *m)
{
    if (!m->dirty) {
        m->dirty = 1;
        td_timer_start(m->notify, 0);
    }
}

td_membership_t *td_membership_new(td_loop_t *loop)
{
    td_membership_t *m = td_calloc(1, sizeof(*m));
    m->loop = loop;
    m->notify = td_timer_new(loop, td_membership_notify_cb, m);
    return m;
}

void td_membership_free(td_membership_t *m)
{
    if (m == NULL) {
        return;
    }
    for (int i = 0; i < m->n; i++) {
        td_free((char *)m->v[i].id);
        td_free((char *)m->v[i].grpc_addr);
    }
    td_free(m->v);
    for (int i = 0; i <= TD_MAX_ROLES; i++) {
        td_free(m->by_role[i].v);
    }
    for (td_mwatch_t *w = m->watchers, *next; w != NULL; w = next) {
        next = w->next;
        td_free(w);
    }
    td_timer_free(m->notify);
    td_free(m);
}

td_membership_t *td_membership_of(td_server_t *srv)
{
    return srv->membership;
}

/* Index of id, or -(insertion point) - 1. */
static int td_membership_index(const td_membership_t *m, const char *id)
{
    int lo = 0, hi = m->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(m->v[mid].id, id);
        if (c == 0) {
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return -lo - 1;
}

static int td_role_index(int role)
{
    for (int i = 0; i < TD_MAX_ROLES; i++) {
        if (role == 1 << i) {
            return i;
        }
    }
    return -1;
}

int td_membership_list(td_membership_t *m, int role, const td_member_t **out)
{
    int slot = td_role_index(role);
    td_mlist_t *l;

    if (role == 0) {
        *out = m->v;
        return m->n;
    }
    /* One filtered copy per role bit (other masks share the last slot), rebuilt when the
     * table changed since, so lists of different roles coexist within a loop turn. */
    l = &m->by_role[slot >= 0 ? slot : TD_MAX_ROLES];
    if (l->version != m->version || l->role != role) {
        if (l->cap < m->n) {
            l->cap = m->n;
            l->v = td_realloc(l->v, sizeof(*l->v) * (size_t)l->cap);
        }
        l->n = 0;
        for (int i = 0; i < m->n; i++) {
            if (m->v[i].role & role) {
                l->v[l->n++] = m->v[i];
            }
        }
        l->version = m->version;
        l->role = role;
    }
    *out = l->v;
    return l->n;
}

const td_member_t *td_membership_find(td_membership_t *m, const char *id)
{
    int i = td_membership_index(m, id);
    return i >= 0 ? &m->v[i] : NULL;
}

static int td_str_differs(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a != b;
    }
    return strcmp(a, b) != 0;
}

void td_membership_upsert(td_membership_t *m, const td_member_t *mem)
{
    int i = td_membership_index(m, mem->id);
    td_member_t *cur;

    m->version++;
    if (i < 0) {
        i = -i - 1;
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 8;
            m->v = td_realloc(m->v, sizeof(*m->v) * (size_t)m->cap);
        }
        memmove(&m->v[i + 1], &m->v[i], sizeof(*m->v) * (size_t)(m->n - i));
        m->n++;
        cur = &m->v[i];
        *cur = *mem;
        cur->id = td_strdup(mem->id);
        cur->grpc_addr = td_strdup(mem->grpc_addr != NULL ? mem->grpc_addr : "");
        td_log_info("member %s (%s, %s) joined: %s%s", cur->id, td_member_role_name(cur->role),
                    cur->grpc_addr, td_member_status_name(cur->status),
                    cur->draining ? ", draining" : "");
        td_membership_changed(m);
        return;
    }
    cur = &m->v[i];
    if (cur->status != mem->status || cur->draining != mem->draining ||
        td_str_differs(cur->grpc_addr, mem->grpc_addr) || cur->role != mem->role) {
        td_log_info("member %s (%s, %s): %s%s -> %s%s (incarnation %llu)", cur->id,
                    td_member_role_name(mem->role), mem->grpc_addr != NULL ? mem->grpc_addr : "",
                    td_member_status_name(cur->status), cur->draining ? " draining" : "",
                    td_member_status_name(mem->status), mem->draining ? " draining" : "",
                    (unsigned long long)mem->incarnation);
        td_membership_changed(m);
    }
    if (td_str_differs(cur->grpc_addr, mem->grpc_addr)) {
        td_free((char *)cur->grpc_addr);
        cur->grpc_addr = td_strdup(mem->grpc_addr != NULL ? mem->grpc_addr : "");
    }
    cur->role = mem->role;
    cur->status = mem->status;
    cur->incarnation = mem->incarnation;
    cur->draining = mem->draining;
    cur->self = mem->self;
    cur->session_start_ms = mem->session_start_ms;
}

void td_membership_forget(td_membership_t *m, const char *id)
{
    int i = td_membership_index(m, id);
    if (i < 0) {
        return;
    }
    m->version++;
    td_log_info("member %s (%s) forgotten", m->v[i].id, td_member_role_name(m->v[i].role));
    td_free((char *)m->v[i].id);
    td_free((char *)m->v[i].grpc_addr);
    memmove(&m->v[i], &m->v[i + 1], sizeof(*m->v) * (size_t)(m->n - i - 1));
    m->n--;
    td_membership_changed(m);
}

void *td_membership_watch(td_membership_t *m, void (*fn)(void *arg), void *arg)
{
    td_mwatch_t *w = td_calloc(1, sizeof(*w));
    td_mwatch_t **pp = &m->watchers;
    w->fn = fn;
    w->arg = arg;
    while (*pp != NULL) {
        pp = &(*pp)->next;
    }
    *pp = w;
    return w;
}

void td_membership_unwatch(td_membership_t *m, void *handle)
{
    td_mwatch_t *w = handle;
    if (w == NULL) {
        return;
    }
    w->removed = 1;
    if (!m->dispatching) {
        td_membership_sweep_watchers(m);
    }
}

void td_membership_set_draining(td_membership_t *m)
{
    int changed = 0;
    for (int i = 0; i < m->n; i++) {
        if (m->v[i].self && !m->v[i].draining) {
            m->v[i].draining = 1;
            m->version++;
            td_log_info("member %s (%s): draining", m->v[i].id, td_member_role_name(m->v[i].role));
            changed = 1;
        }
    }
    if (changed) {
        td_membership_changed(m);
        if (m->local_fn != NULL) {
            m->local_fn(m->local_arg);
        }
    }
}

void td_membership_on_local_change(td_membership_t *m, void (*fn)(void *arg), void *arg)
{
    m->local_fn = fn;
    m->local_arg = arg;
}

void td_membership_set_owned_fn(td_membership_t *m, int role, td_membership_owned_fn fn, void *arg)
{
    int i = td_role_index(role);
    if (i >= 0) {
        m->owned[i].fn = fn;
        m->owned[i].arg = arg;
    }
}

int td_membership_owned(td_membership_t *m, const td_member_t *mem)
{
    int i = td_role_index(mem->role);
    if (i < 0 || m->owned[i].fn == NULL) {
        return -1;
    }
    return m->owned[i].fn(m->owned[i].arg, mem);
}

static int td_ip_unspecified(const char *ip)
{
    return strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0 || strcmp(ip, "") == 0;
}

static void td_membership_udp_draining(void *arg)
{
    td_swim_udp_set_draining(arg);
}

/* The address peers reach this process at: [cluster] advertise_ip, else [server] ip. */
static int td_membership_advertise_ip(const td_config_t *c, const char **ip, char *err,
                                      size_t errlen)
{
    *ip = c->cluster_advertise_ip != NULL ? c->cluster_advertise_ip
                                          : (c->ip != NULL ? c->ip : "127.0.0.1");
    if (td_ip_unspecified(*ip)) {
        if (c->dev) {
            *ip = "127.0.0.1";
            return TD_OK;
        }
        snprintf(err, errlen,
                 "[server] ip = %s listens on every address: set [cluster] advertise_ip to the "
                 "address other hosts reach this one at",
                 *ip);
        return TD_EINVAL;
    }
    for (const char *p = c->cluster_name; *p != '\0'; p++) {
        if (*p < 0x21 || *p > 0x7e || p - c->cluster_name >= 64) {
            snprintf(err, errlen,
                     "[server] cluster_name '%s': up to 64 printable characters without spaces",
                     c->cluster_name);
            return TD_EINVAL;
        }
    }
    return TD_OK;
}

int td_membership_open(td_server_t *srv)
{
    const td_config_t *c = srv->config;
    const char *ip = NULL;
    char err[512] = "";
    int rc;
    const struct {
        int role, port, mport;
    } roles[] = {
        { TD_ROLE_FRONTEND, c->frontend_port, c->frontend_membership_port },
        { TD_ROLE_HISTORY, c->history_port, c->history_membership_port },
        { TD_ROLE_MATCHING, c->matching_port, c->matching_membership_port },
        { TD_ROLE_WORKER, c->worker_port, c->worker_membership_port },
    };
    int64_t session = td_now_wall_ns() / 1000000;
    td_membership_t *m;

    rc = td_membership_advertise_ip(c, &ip, err, sizeof(err));
    if (rc != TD_OK) {
        td_log_error("%s", err);
        return rc;
    }
    m = td_membership_new(srv->loop);

    for (size_t i = 0; i < TD_ARRAY_LEN(roles); i++) {
        char id[300], addr[300];
        td_member_t mem;
        if (!td_server_hosts(srv, roles[i].role)) {
            continue;
        }
        snprintf(id, sizeof(id), "%s:%d", ip, roles[i].mport);
        snprintf(addr, sizeof(addr), "%s:%d", ip, roles[i].port);
        memset(&mem, 0, sizeof(mem));
        mem.id = id;
        mem.role = roles[i].role;
        mem.grpc_addr = addr;
        mem.status = TD_MEMBER_ALIVE;
        mem.self = 1;
        mem.session_start_ms = session;
        td_membership_upsert(m, &mem);
    }
    srv->membership = m;
    if (!c->dev) {
        rc = td_swim_udp_open(srv, m, ip, &m->udp, err, sizeof(err));
        if (rc != TD_OK) {
            td_log_error("%s", err);
            return rc;
        }
        td_membership_on_local_change(m, td_membership_udp_draining, m->udp);
        if (srv->store != NULL) {
            m->seeds = td_seeds_start(srv, m->udp);
        }
    }
    return TD_OK;
}

void td_membership_drops(td_membership_t *m, uint64_t *unauthenticated, uint64_t *malformed,
                         uint64_t *foreign)
{
    td_swim_stats_t st;
    memset(&st, 0, sizeof(st));
    if (m->udp != NULL) {
        td_swim_udp_stats(m->udp, &st);
    }
    *unauthenticated = st.dropped_auth;
    *malformed = st.dropped_decode;
    *foreign = st.dropped_foreign;
}

void td_membership_close(td_server_t *srv)
{
    if (srv->membership != NULL) {
        td_seeds_stop(srv->membership->seeds);
        srv->membership->seeds = NULL;
        td_swim_udp_close(srv->membership->udp);
        srv->membership->udp = NULL;
    }
    td_membership_free(srv->membership);
    srv->membership = NULL;
}
