/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Consistent-hash rings (see ring.h). A ring is a sorted array of points (hash, owner);
 * points with equal hashes are ordered by owner id so that every process builds the same
 * ring from the same owner set. Rebuilt whole on every change (100 points per owner: a ring
 * of 10 owners is rebuilt in microseconds).
 */
#include "cluster/ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/membership.h"
#include "mem.h"

typedef struct {
    uint32_t hash;
    int owner;
} td_ring_point_t;

typedef struct td_ring_listener_s {
    void (*fn)(void *arg);
    void *arg;
    struct td_ring_listener_s *next;
} td_ring_listener_t;

struct td_ring_s {
    int role;
    td_ring_owner_t *owners; /* sorted by id; strings owned */
    int n;
    td_ring_point_t *points;
    int npoints;
    uint64_t version;
    td_membership_t *m; /* followed membership, or NULL */
    void *watch;
    td_ring_listener_t *listeners;
};

uint32_t td_ring_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++) {
        h = (h ^ s[i]) * 16777619u;
    }
    /* FNV-1a alone clusters similar strings ("a#1", "a#2"); the finaliser spreads them. */
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

td_ring_t *td_ring_new(int role)
{
    td_ring_t *r = td_calloc(1, sizeof(*r));
    r->role = role;
    return r;
}

static void td_ring_clear(td_ring_t *r)
{
    for (int i = 0; i < r->n; i++) {
        td_free((char *)r->owners[i].id);
        td_free((char *)r->owners[i].grpc_addr);
    }
    td_free(r->owners);
    td_free(r->points);
    r->owners = NULL;
    r->points = NULL;
    r->n = r->npoints = 0;
}

void td_ring_free(td_ring_t *r)
{
    if (r == NULL) {
        return;
    }
    if (r->m != NULL) {
        td_membership_unwatch(r->m, r->watch);
    }
    while (r->listeners != NULL) {
        td_ring_listener_t *l = r->listeners;
        r->listeners = l->next;
        td_free(l);
    }
    td_ring_clear(r);
    td_free(r);
}

static int td_ring_owner_cmp(const void *a, const void *b)
{
    return strcmp(((const td_ring_owner_t *)a)->id, ((const td_ring_owner_t *)b)->id);
}

/* Sorting points needs the owners for ties: qsort has no context, so a file-level pointer
 * set just around the sort (loop thread only). */
static const td_ring_t *td_ring_sorting;

static int td_ring_point_cmp(const void *a, const void *b)
{
    const td_ring_point_t *x = a, *y = b;

    if (x->hash != y->hash) {
        return x->hash < y->hash ? -1 : 1;
    }
    return strcmp(td_ring_sorting->owners[x->owner].id, td_ring_sorting->owners[y->owner].id);
}

static int td_ring_same(const td_ring_t *r, const td_ring_owner_t *v, int n)
{
    if (n != r->n) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        const td_ring_owner_t *a = &r->owners[i], *b = &v[i];
        if (strcmp(a->id, b->id) != 0 || strcmp(a->grpc_addr, b->grpc_addr) != 0 ||
            a->self != b->self || a->loop != b->loop) {
            return 0;
        }
    }
    return 1;
}

int td_ring_set(td_ring_t *r, const td_ring_owner_t *owners, int n)
{
    td_ring_owner_t *v = td_calloc((size_t)(n > 0 ? n : 1), sizeof(*v));
    int m = 0;

    memcpy(v, owners, sizeof(*v) * (size_t)n);
    qsort(v, (size_t)n, sizeof(*v), td_ring_owner_cmp);
    for (int i = 0; i < n; i++) { /* drop duplicate ids */
        if (m == 0 || strcmp(v[m - 1].id, v[i].id) != 0) {
            v[m] = v[i];
            if (v[m].grpc_addr == NULL) {
                v[m].grpc_addr = "";
            }
            m++;
        }
    }
    if (td_ring_same(r, v, m)) {
        td_free(v);
        return 0;
    }
    td_ring_clear(r);
    for (int i = 0; i < m; i++) {
        v[i].id = td_strdup(v[i].id);
        v[i].grpc_addr = td_strdup(v[i].grpc_addr);
    }
    r->owners = v;
    r->n = m;
    r->npoints = m * TD_RING_VNODES;
    r->points = td_calloc((size_t)(r->npoints > 0 ? r->npoints : 1), sizeof(*r->points));
    for (int i = 0; i < m; i++) {
        for (int k = 0; k < TD_RING_VNODES; k++) {
            char buf[512];
            int len = snprintf(buf, sizeof(buf), "%s#%d", v[i].id, k);
            td_ring_point_t *p = &r->points[i * TD_RING_VNODES + k];
            p->hash = td_ring_hash(buf,
                                   (size_t)(len < (int)sizeof(buf) ? len : (int)sizeof(buf) - 1));
            p->owner = i;
        }
    }
    td_ring_sorting = r;
    qsort(r->points, (size_t)r->npoints, sizeof(*r->points), td_ring_point_cmp);
    td_ring_sorting = NULL;
    r->version++;
    return 1;
}

const td_ring_owner_t *td_ring_lookup(const td_ring_t *r, const char *key)
{
    uint32_t h;
    int lo = 0, hi;

    if (r == NULL || r->npoints == 0) {
        return NULL;
    }
    h = td_ring_hash(key, strlen(key));
    hi = r->npoints;
    while (lo < hi) { /* first point with hash >= h */
        int mid = lo + (hi - lo) / 2;
        if (r->points[mid].hash < h) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == r->npoints) {
        lo = 0;
    }
    return &r->owners[r->points[lo].owner];
}

const td_ring_owner_t *td_ring_lookup_shard(const td_ring_t *r, int shard_id)
{
    char key[16];
    snprintf(key, sizeof(key), "%d", shard_id);
    return td_ring_lookup(r, key);
}

int td_ring_count(const td_ring_t *r)
{
    return r->n;
}

const td_ring_owner_t *td_ring_owner(const td_ring_t *r, int i)
{
    return i >= 0 && i < r->n ? &r->owners[i] : NULL;
}

uint64_t td_ring_version(const td_ring_t *r)
{
    return r->version;
}

/* ---- following the membership ---- */

static void td_ring_rebuild(void *arg)
{
    td_ring_t *r = arg;
    const td_member_t *mem;
    int n = td_membership_list(r->m, r->role, &mem), k = 0;
    td_ring_owner_t *v = td_calloc((size_t)(n > 0 ? n : 1), sizeof(*v));

    for (int i = 0; i < n; i++) {
        if ((mem[i].status == TD_MEMBER_ALIVE || mem[i].status == TD_MEMBER_SUSPECT) &&
            !mem[i].draining) {
            v[k].id = mem[i].id;
            v[k].grpc_addr = mem[i].grpc_addr;
            v[k].self = mem[i].self;
            v[k].loop = 0;
            k++;
        }
    }
    if (td_ring_set(r, v, k)) {
        for (td_ring_listener_t *l = r->listeners; l != NULL; l = l->next) {
            l->fn(l->arg);
        }
    }
    td_free(v);
}

td_ring_t *td_ring_follow(td_membership_t *m, int role)
{
    td_ring_t *r = td_ring_new(role);

    r->m = m;
    r->watch = td_membership_watch(m, td_ring_rebuild, r);
    td_ring_rebuild(r);
    return r;
}

void *td_ring_listen(td_ring_t *r, void (*fn)(void *arg), void *arg)
{
    td_ring_listener_t *l = td_calloc(1, sizeof(*l)), **pp = &r->listeners;

    l->fn = fn;
    l->arg = arg;
    while (*pp != NULL) {
        pp = &(*pp)->next;
    }
    *pp = l;
    return l;
}

void td_ring_unlisten(td_ring_t *r, void *handle)
{
    for (td_ring_listener_t **pp = &r->listeners; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == handle) {
            *pp = ((td_ring_listener_t *)handle)->next;
            td_free(handle);
            return;
        }
    }
}
