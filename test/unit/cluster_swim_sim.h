/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A deterministic network of SWIM nodes (src/cluster/swim.h) on a virtual clock: datagrams
 * take 1-4 ms, a share of them is lost, nodes can crash, stall (their datagrams wait until
 * they resume) and restart. Used by the unit tests and by the membership benchmark
 * (test/progs/swim_bench.c). Header-only: static functions.
 */
#ifndef TD_CLUSTER_SWIM_SIM_H
#define TD_CLUSTER_SWIM_SIM_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/swim.h"
#include "config.h"
#include "mem.h"

#define SIM_MAX 64

typedef struct {
    int to;
    int64_t at;
    size_t len;
    uint8_t buf[TD_SWIM_MAX_PACKET];
} sim_pkt_t;

typedef struct sim_s sim_t;

typedef struct {
    sim_t *sim;
    int idx;
    td_swim_t *swim;
    char id[32], addr[32];
    int crashed, stalled;
    int64_t session;
} sim_node_t;

struct sim_s {
    int n;
    sim_node_t nodes[SIM_MAX];
    sim_pkt_t *q;
    int nq, capq;
    int64_t now;
    double loss;
    uint64_t rng;
    td_swim_timing_t timing;
    const char *cluster;
    uint32_t shards;
    const char *key;
    uint64_t packets;
};

static inline uint64_t sim_rand(sim_t *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

static inline int sim_index(sim_t *s, const char *id)
{
    for (int i = 0; i < s->n; i++) {
        if (strcmp(s->nodes[i].id, id) == 0) {
            return i;
        }
    }
    return -1;
}

static inline void sim_send(void *arg, const char *to, const uint8_t *buf, size_t len)
{
    sim_node_t *from = arg;
    sim_t *s = from->sim;
    int t = sim_index(s, to);
    sim_pkt_t *p;

    s->packets++;
    if (t < 0 || (double)(sim_rand(s) % 10000) < s->loss * 10000) {
        return;
    }
    if (s->nq == s->capq) {
        s->capq = s->capq ? s->capq * 2 : 64;
        s->q = td_realloc(s->q, sizeof(*s->q) * (size_t)s->capq);
    }
    p = &s->q[s->nq++];
    p->to = t;
    p->at = s->now + 1 + (int64_t)(sim_rand(s) % 4);
    p->len = len;
    memcpy(p->buf, buf, len);
}

static inline void sim_start_node(sim_t *s, int i, const char *cluster, const char *key)
{
    sim_node_t *nd = &s->nodes[i];
    td_swim_options_t o;
    const char *seed = s->nodes[0].id;

    memset(&o, 0, sizeof(o));
    o.id = nd->id;
    o.role = i % 2 ? TD_ROLE_HISTORY : TD_ROLE_MATCHING;
    o.grpc_addr = nd->addr;
    o.cluster_name = cluster;
    o.num_shards = s->shards;
    o.session_start_ms = nd->session;
    o.key = (const uint8_t *)key;
    o.key_len = key != NULL ? strlen(key) : 0;
    o.timing = s->timing;
    o.rng_seed = sim_rand(s) | 1;
    o.send = sim_send;
    o.arg = nd;
    nd->swim = td_swim_new(&o, s->now);
    td_swim_set_seeds(nd->swim, &seed, 1);
    nd->crashed = 0;
    nd->stalled = 0;
}

/* n nodes, all seeded with node 0; timing NULL = defaults. */
static inline void sim_init(sim_t *s, int n, double loss, uint64_t seed,
                            const td_swim_timing_t *timing)
{
    memset(s, 0, sizeof(*s));
    s->n = n;
    s->loss = loss;
    s->rng = seed | 1;
    s->now = 1000000;
    s->cluster = "sim";
    s->shards = 16;
    if (timing != NULL) {
        s->timing = *timing;
    }
    for (int i = 0; i < n; i++) {
        sim_node_t *nd = &s->nodes[i];
        nd->sim = s;
        nd->idx = i;
        snprintf(nd->id, sizeof(nd->id), "10.0.%d.%d:6934", i / 200, i % 200 + 1);
        snprintf(nd->addr, sizeof(nd->addr), "10.0.%d.%d:7234", i / 200, i % 200 + 1);
        nd->session = 1700000000000LL + i;
    }
}

static inline void sim_start_all(sim_t *s)
{
    for (int i = 0; i < s->n; i++) {
        sim_start_node(s, i, s->cluster, s->key);
    }
}

static inline void sim_free(sim_t *s)
{
    for (int i = 0; i < s->n; i++) {
        td_swim_free(s->nodes[i].swim);
    }
    td_free(s->q);
}

/* Advances the clock by ms in 5 ms steps: delivers due datagrams, ticks live nodes. */
static inline void sim_run(sim_t *s, int64_t ms)
{
    int64_t end = s->now + ms;
    while (s->now < end) {
        s->now += 5;
        for (int i = 0; i < s->nq; i++) {
            sim_pkt_t *p = &s->q[i];
            sim_node_t *nd = &s->nodes[p->to];
            if (p->at > s->now || nd->stalled) {
                continue;
            }
            if (!nd->crashed && nd->swim != NULL) {
                td_swim_recv(nd->swim, s->now, p->buf, p->len);
            }
            s->q[i--] = s->q[--s->nq];
        }
        for (int i = 0; i < s->n; i++) {
            sim_node_t *nd = &s->nodes[i];
            if (!nd->crashed && !nd->stalled && nd->swim != NULL) {
                td_swim_tick(nd->swim, s->now);
            }
        }
    }
}

static inline void sim_crash(sim_t *s, int i)
{
    s->nodes[i].crashed = 1;
}

/* A crashed node comes back as a new process (new session, incarnation 0). */
static inline void sim_restart(sim_t *s, int i)
{
    td_swim_free(s->nodes[i].swim);
    s->nodes[i].session += 1000;
    sim_start_node(s, i, s->cluster, s->key);
}

/* How many live nodes see node `of` with status st (-1: not known). */
static inline int sim_count_seeing(sim_t *s, int of, int st)
{
    int c = 0;
    for (int i = 0; i < s->n; i++) {
        sim_node_t *nd = &s->nodes[i];
        if (i != of && !nd->crashed && nd->swim != NULL &&
            td_swim_status_of(nd->swim, s->nodes[of].id) == st) {
            c++;
        }
    }
    return c;
}

static inline int sim_live(sim_t *s)
{
    int c = 0;
    for (int i = 0; i < s->n; i++) {
        c += !s->nodes[i].crashed && s->nodes[i].swim != NULL;
    }
    return c;
}

/* Whether every live node sees every live node alive. */
static inline int sim_converged(sim_t *s)
{
    int live = sim_live(s);
    for (int i = 0; i < s->n; i++) {
        if (!s->nodes[i].crashed && sim_count_seeing(s, i, TD_MEMBER_ALIVE) != live - 1) {
            return 0;
        }
    }
    return 1;
}

/* Runs until cond holds (checked every 5 ms) or limit ms pass; returns the ms it took or -1. */
#define SIM_UNTIL(s, cond, limit_ms)               \
    ({                                             \
        int64_t sim__t0 = (s)->now, sim__r = -1;   \
        while ((s)->now - sim__t0 <= (limit_ms)) { \
            if (cond) {                            \
                sim__r = (s)->now - sim__t0;       \
                break;                             \
            }                                      \
            sim_run((s), 5);                       \
        }                                          \
        sim__r;                                    \
    })

/* Sum of a statistic over all nodes. */
#define SIM_STAT(s, field)                                               \
    ({                                                                   \
        uint64_t sim__v = 0;                                             \
        for (int sim__i = 0; sim__i < (s)->n; sim__i++) {                \
            if ((s)->nodes[sim__i].swim != NULL) {                       \
                sim__v += td_swim_stats((s)->nodes[sim__i].swim)->field; \
            }                                                            \
        }                                                                \
        sim__v;                                                          \
    })

#endif
