/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Consistent-hash rings, one per role: which owner holds a key (a history shard, a task-queue
 * partition, a namespace's worker jobs). Each owner contributes TD_RING_VNODES points, the
 * 32-bit hash of "<owner id>#<i>"; a key belongs to the owner of the first point at or after
 * the key's hash (wrapping). Adding or removing one of N owners moves about 1/N of the keys,
 * and only those of the owner that came or went.
 *
 * An owner is a member (cluster/membership.h) and an event loop index inside its process;
 * every process has one loop today, so the index is always 0, but callers route by the pair
 * so that a process with several loops is one more owner kind, not another mechanism.
 *
 * A ring either is filled by hand (td_ring_set: tests, tools) or follows the membership
 * (td_ring_follow): rebuilt from the members of its role that are ALIVE or SUSPECT and not
 * draining, on every membership change; listeners hear of rebuilds that changed the owner
 * set. Loop thread only. Owner pointers stay valid until the ring is rebuilt, which happens
 * only from the loop, so they are good until the caller returns to the loop.
 */
#ifndef TD_CLUSTER_RING_H
#define TD_CLUSTER_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct td_membership_s td_membership_t;
typedef struct td_ring_s td_ring_t;

#define TD_RING_VNODES 100

typedef struct {
    const char *id;        /* member id ("ip:membership_port") */
    const char *grpc_addr; /* where its role's gRPC server listens */
    int loop;              /* event loop index inside the member's process (0 today) */
    int self;              /* hosted by this process */
} td_ring_owner_t;

/* The ring's hash: 32-bit FNV-1a with a murmur3 finaliser. Stable forever: rings of
 * different processes must agree. */
uint32_t td_ring_hash(const void *p, size_t n);

/* An empty ring for role (a TD_ROLE_* bit, informative). */
td_ring_t *td_ring_new(int role);
void td_ring_free(td_ring_t *r);
/* Replaces the owners (copied; order does not matter; duplicates by id are kept once).
 * Returns 1 when the owner set changed (ids, addresses or self flags), else 0. */
int td_ring_set(td_ring_t *r, const td_ring_owner_t *owners, int n);

/* The owner of key, or NULL when the ring is empty. */
const td_ring_owner_t *td_ring_lookup(const td_ring_t *r, const char *key);
/* The owner of a history shard (key: the shard id in decimal). */
const td_ring_owner_t *td_ring_lookup_shard(const td_ring_t *r, int shard_id);
/* Number of owners, and owner i (sorted by id). */
int td_ring_count(const td_ring_t *r);
const td_ring_owner_t *td_ring_owner(const td_ring_t *r, int i);
/* Bumped by every td_ring_set that changed the owner set. */
uint64_t td_ring_version(const td_ring_t *r);

/* Follows membership m for role: builds the ring now and again after every membership
 * change. */
td_ring_t *td_ring_follow(td_membership_t *m, int role);
/* fn(arg) runs on the loop after each rebuild that changed the owner set. Returns a handle
 * for td_ring_unlisten. */
void *td_ring_listen(td_ring_t *r, void (*fn)(void *arg), void *arg);
void td_ring_unlisten(td_ring_t *r, void *handle);

#endif
