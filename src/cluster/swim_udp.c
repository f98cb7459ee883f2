/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The thin socket layer under SWIM (swim_udp.h): sockets, address parsing, a tick timer and
 * the bridge from the first member's view to the process's membership. The protocol itself
 * lives in swim.c.
 */
#define TD_LOG_COMPONENT "membership"

#include "cluster/swim_udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "error.h"
#include "log.h"
#include "mem.h"
#include "server.h"

typedef struct {
    td_swim_udp_t *u;
    td_swim_t *swim;
    int fd;
    struct event *ev;
    char id[128];
} td_swim_unode_t;

struct td_swim_udp_s {
    td_loop_t *loop;
    td_membership_t *view;
    td_swim_unode_t nodes[TD_MAX_ROLES];
    int n;
    td_timer_t *tick;
    td_strlist_t seeds;  /* ours and the configured ones */
    td_strlist_t stored; /* from cluster_membership */
    int64_t next_drop_log_ms;
    uint64_t logged_auth, logged_decode;
};

/* Splits "host:port" / "[v6]:port" into a numeric sockaddr. */
static int td_swim_addr(const char *hostport, int numeric, struct sockaddr_storage *ss,
                        socklen_t *sl)
{
    char host[128];
    const char *colon = strrchr(hostport, ':');
    struct addrinfo hints, *res = NULL;
    size_t hl;
    int rc;

    if (colon == NULL || colon == hostport) {
        return TD_EINVAL;
    }
    hl = (size_t)(colon - hostport);
    if (hostport[0] == '[' && hl >= 2 && hostport[hl - 1] == ']') {
        hostport++;
        hl -= 2;
    }
    if (hl >= sizeof(host)) {
        return TD_EINVAL;
    }
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0);
    rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0 || res == NULL) {
        return TD_EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return TD_OK;
}

static void td_swim_udp_send(void *arg, const char *to, const uint8_t *buf, size_t len)
{
    td_swim_unode_t *nd = arg;
    struct sockaddr_storage ss;
    socklen_t sl;
    if (td_swim_addr(to, 1, &ss, &sl) != TD_OK) {
        return;
    }
    /* UDP: a full socket buffer or an unreachable peer is the same as a lost datagram */
    (void)sendto(nd->fd, buf, len, 0, (struct sockaddr *)&ss, sl);
}

static int td_swim_udp_is_local(const td_swim_udp_t *u, const char *id)
{
    for (int i = 0; i < u->n; i++) {
        if (strcmp(u->nodes[i].id, id) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The first member's view becomes the process's. */
static void td_swim_udp_changed(void *arg, const td_member_t *m, int forgotten)
{
    td_swim_unode_t *nd = arg;
    td_swim_udp_t *u = nd->u;
    td_member_t c = *m;
    const td_member_t *cur;

    if (nd != &u->nodes[0]) {
        return;
    }
    if (forgotten) {
        td_membership_forget(u->view, m->id);
        return;
    }
    c.self = td_swim_udp_is_local(u, m->id);
    cur = td_membership_find(u->view, m->id);
    if (c.self && cur != NULL) {
        c.draining = cur->draining; /* ours is decided here, not by gossip */
    }
    td_membership_upsert(u->view, &c);
}

static void td_swim_udp_on_read(evutil_socket_t fd, short what, void *arg)
{
    td_swim_unode_t *nd = arg;
    static uint8_t buf[65536];
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0) {
            break;
        }
        td_swim_recv(nd->swim, td_now_mono_ms(), buf, (size_t)n);
    }
}

static void td_swim_udp_on_tick(void *arg)
{
    td_swim_udp_t *u = arg;
    int64_t now = td_now_mono_ms();
    for (int i = 0; i < u->n; i++) {
        td_swim_tick(u->nodes[i].swim, now);
    }
    if (now >= u->next_drop_log_ms) {
        td_swim_stats_t st;
        td_swim_udp_stats(u, &st);
        if (st.dropped_auth > u->logged_auth || st.dropped_decode > u->logged_decode) {
            td_log_warn("dropped %llu membership datagram(s) failing authentication and %llu "
                        "malformed in the last 10 s (totals %llu, %llu)",
                        (unsigned long long)(st.dropped_auth - u->logged_auth),
                        (unsigned long long)(st.dropped_decode - u->logged_decode),
                        (unsigned long long)st.dropped_auth, (unsigned long long)st.dropped_decode);
            u->logged_auth = st.dropped_auth;
            u->logged_decode = st.dropped_decode;
        }
        u->next_drop_log_ms = now + 10000;
    }
    td_timer_start(u->tick, td_swim_tick_ms(u->nodes[0].swim));
}

static void td_swim_udp_apply_seeds(td_swim_udp_t *u)
{
    td_strlist_t all = { NULL, 0 };
    for (int i = 0; i < u->seeds.n; i++) {
        td_strlist_add(&all, u->seeds.v[i]);
    }
    for (int i = 0; i < u->stored.n; i++) {
        int dup = 0;
        for (int j = 0; j < u->seeds.n && !dup; j++) {
            dup = strcmp(u->seeds.v[j], u->stored.v[i]) == 0;
        }
        if (!dup) {
            td_strlist_add(&all, u->stored.v[i]);
        }
    }
    for (int i = 0; i < u->n; i++) {
        td_swim_set_seeds(u->nodes[i].swim, (const char *const *)all.v, all.n);
    }
    td_strlist_clear(&all);
}

void td_swim_udp_set_store_seeds(td_swim_udp_t *u, const char *const *seeds, int n)
{
    td_strlist_clear(&u->stored);
    for (int i = 0; i < n; i++) {
        td_strlist_add(&u->stored, seeds[i]);
    }
    td_swim_udp_apply_seeds(u);
}

void td_swim_udp_add_seeds(td_swim_udp_t *u, const char *const *seeds, int n)
{
    for (int i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t sl;
        char host[INET6_ADDRSTRLEN], id[INET6_ADDRSTRLEN + 16];
        int port, dup = 0;
        if (td_swim_addr(seeds[i], 0, &ss, &sl) != TD_OK) {
            td_log_warn("seed '%s': not a reachable host:port, ignored", seeds[i]);
            continue;
        }
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
            snprintf(id, sizeof(id), "%s:%d", host, port);
        } else {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
            snprintf(id, sizeof(id), "[%s]:%d", host, port);
        }
        for (int j = 0; j < u->seeds.n && !dup; j++) {
            dup = strcmp(u->seeds.v[j], id) == 0;
        }
        if (!dup) {
            td_strlist_add(&u->seeds, id);
        }
    }
    td_swim_udp_apply_seeds(u);
}

static int td_swim_udp_bind(td_swim_unode_t *nd, const char *bind_ip, int port, char *err,
                            size_t errlen)
{
    char hp[160];
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd;

    snprintf(hp, sizeof(hp), strchr(bind_ip, ':') ? "[%s]:%d" : "%s:%d", bind_ip, port);
    if (td_swim_addr(hp, 1, &ss, &sl) != TD_OK) {
        snprintf(err, errlen, "membership: cannot parse the bind address %s", hp);
        return TD_EINVAL;
    }
    fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(err, errlen, "membership: cannot bind UDP %s: %s", hp, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return TD_EIO;
    }
    nd->fd = fd;
    return TD_OK;
}

int td_swim_udp_open(td_server_t *srv, td_membership_t *view, const char *advertise_ip,
                     td_swim_udp_t **out, char *err, size_t errlen)
{
    const td_config_t *c = srv->config;
    td_swim_udp_t *u = td_calloc(1, sizeof(*u));
    const td_member_t *locals;
    int n_local = td_membership_list(view, 0, &locals);
    int rc = TD_OK;

    u->loop = srv->loop;
    u->view = view;
    for (int i = 0; i < n_local && rc == TD_OK; i++) {
        const td_member_t *m = &locals[i];
        td_swim_unode_t *nd = &u->nodes[u->n];
        td_swim_options_t o;
        const char *port = strrchr(m->id, ':');
        if (!m->self || port == NULL) {
            continue;
        }
        nd->u = u;
        nd->fd = -1;
        snprintf(nd->id, sizeof(nd->id), "%s", m->id);
        rc = td_swim_udp_bind(nd, c->ip != NULL ? c->ip : advertise_ip, atoi(port + 1), err,
                              errlen);
        if (rc != TD_OK) {
            break;
        }
        u->n++;
        memset(&o, 0, sizeof(o));
        o.id = m->id;
        o.role = m->role;
        o.grpc_addr = m->grpc_addr;
        o.cluster_name = c->cluster_name;
        o.num_shards = (uint32_t)c->num_history_shards;
        o.session_start_ms = m->session_start_ms;
        o.key = (const uint8_t *)c->cluster_key;
        o.key_len = c->cluster_key != NULL ? strlen(c->cluster_key) : 0;
        o.rng_seed = (uint64_t)td_now_wall_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)i;
        o.send = td_swim_udp_send;
        o.changed = td_swim_udp_changed;
        o.arg = nd;
        nd->swim = td_swim_new(&o, td_now_mono_ms());
        nd->ev = event_new(td_loop_base(srv->loop), nd->fd, EV_READ | EV_PERSIST,
                           td_swim_udp_on_read, nd);
        event_add(nd->ev, NULL);
    }
    if (rc != TD_OK) {
        td_swim_udp_close(u);
        return rc;
    }
    /* seeds: the configured ones, and our own members so they find each other at once */
    for (int i = 0; i < u->n; i++) {
        td_strlist_add(&u->seeds, u->nodes[i].id);
    }
    if (c->cluster_seeds != NULL) {
        td_strlist_t cfg = { NULL, 0 };
        const char *p = c->cluster_seeds;
        while (*p != '\0') {
            size_t len = strcspn(p, ", ");
            if (len > 0) {
                char *one = td_strndup(p, len);
                td_strlist_add(&cfg, one);
                td_free(one);
            }
            p += len;
            p += strspn(p, ", ");
        }
        td_swim_udp_add_seeds(u, (const char *const *)cfg.v, cfg.n);
        td_strlist_clear(&cfg);
    }
    td_swim_udp_apply_seeds(u);
    u->tick = td_timer_new(srv->loop, td_swim_udp_on_tick, u);
    td_timer_start(u->tick, 0);
    for (int i = 0; i < u->n; i++) {
        td_log_info("member %s listening (UDP), cluster '%s', %d history shards%s", u->nodes[i].id,
                    c->cluster_name, c->num_history_shards,
                    c->cluster_key != NULL ? ", authenticated" : "");
    }
    *out = u;
    return TD_OK;
}

void td_swim_udp_close(td_swim_udp_t *u)
{
    if (u == NULL) {
        return;
    }
    for (int i = 0; i < u->n; i++) {
        td_swim_unode_t *nd = &u->nodes[i];
        if (nd->swim != NULL) {
            td_swim_leave(nd->swim, td_now_mono_ms());
            td_swim_free(nd->swim);
        }
        if (nd->ev != NULL) {
            event_free(nd->ev);
        }
        if (nd->fd >= 0) {
            close(nd->fd);
        }
    }
    td_timer_free(u->tick);
    td_strlist_clear(&u->seeds);
    td_strlist_clear(&u->stored);
    td_free(u);
}

void td_swim_udp_set_draining(td_swim_udp_t *u)
{
    for (int i = 0; i < u->n; i++) {
        td_swim_set_draining(u->nodes[i].swim, 1, td_now_mono_ms());
    }
}

void td_swim_udp_stats(const td_swim_udp_t *u, td_swim_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < u->n; i++) {
        const td_swim_stats_t *s = td_swim_stats(u->nodes[i].swim);
        out->sent += s->sent;
        out->received += s->received;
        out->dropped_decode += s->dropped_decode;
        out->dropped_auth += s->dropped_auth;
        out->dropped_foreign += s->dropped_foreign;
        out->suspected += s->suspected;
        out->declared_dead += s->declared_dead;
        out->refuted += s->refuted;
    }
}
