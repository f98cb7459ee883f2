/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cluster membership: which temporald processes exist, which roles they host and where
 * their gRPC listeners are. This header is the contract between the membership source
 * (SWIM gossip over UDP, membership.c + swim.c) and its users (the per-role hash rings of
 * ring.h, td_svc_call's routing, shard and task-queue ownership, the worker role's jobs,
 * `temporald cluster members`).
 *
 * One member per hosted role: a process hosting history and matching is two members, each
 * with the role's membership port as its identity. Every process, start-dev included, has a
 * membership; start-dev's holds only the local members and never touches the network.
 *
 * Member states (SWIM, with incarnation numbers):
 *
 *     ALIVE --no ack, no indirect ack--> SUSPECT --timeout--> DEAD (removed after a while)
 *       ^                                   |
 *       +--- refuted (higher incarnation) --+
 *     ALIVE --graceful leave--> LEFT
 *
 * Rings are built from members that are ALIVE or SUSPECT and not draining (a suspect still
 * owns its keys until it is confirmed dead, so a slow host does not cause a storm of moves).
 *
 * Loop thread only. Pointers returned stay valid until the next return to the event loop.
 */
#ifndef TD_CLUSTER_MEMBERSHIP_H
#define TD_CLUSTER_MEMBERSHIP_H

#include <stdint.h>

#include "loop.h"

typedef struct td_server_s td_server_t;
typedef struct td_membership_s td_membership_t;

typedef enum {
    TD_MEMBER_ALIVE = 0,
    TD_MEMBER_SUSPECT = 1,
    TD_MEMBER_DEAD = 2,
    TD_MEMBER_LEFT = 3,
} td_member_status_t;

typedef struct td_member_s {
    const char *id;        /* "ip:membership_port" of the role; unique in the cluster */
    int role;              /* one TD_ROLE_* bit */
    const char *grpc_addr; /* "ip:port" the role's gRPC server listens on */
    td_member_status_t status;
    uint64_t incarnation;
    int draining;             /* leaving: owns nothing new, hands its keys off */
    int self;                 /* hosted by this process */
    int64_t session_start_ms; /* wall-clock start of the member's process */
} td_member_t;

/* The process's membership (created by the server before the roles start). */
td_membership_t *td_membership_of(td_server_t *srv);

/* Members with the role bit (0 = every role), in a stable order (by id); statuses ALIVE,
 * SUSPECT, and LEFT/DEAD ones not yet forgotten. Returns the count, fills *out with a borrowed
 * array. */
int td_membership_list(td_membership_t *m, int role, const td_member_t **out);

/* Calls fn(arg) on the loop after any change of a member's status, draining flag or address
 * (batched: once per loop turn at most). Returns a handle for td_membership_unwatch. */
void *td_membership_watch(td_membership_t *m, void (*fn)(void *arg), void *arg);
void td_membership_unwatch(td_membership_t *m, void *handle);

/* This process starts leaving: every local member is marked draining (gossiped), so peers
 * move its keys away. */
void td_membership_set_draining(td_membership_t *m);

/* The member with that id, or NULL. Borrowed, like td_membership_list's array. */
const td_member_t *td_membership_find(td_membership_t *m, const char *id);

/* Owned key counts for the operator view (`temporald cluster members`): the ring and
 * ownership code of a role registers fn, which returns how many keys (history shards,
 * matching partitions, worker namespaces) mem owns, or -1 when it does not know. One
 * function per role bit; a later call replaces the earlier one, fn NULL removes it. */
typedef int (*td_membership_owned_fn)(void *arg, const td_member_t *mem);
void td_membership_set_owned_fn(td_membership_t *m, int role, td_membership_owned_fn fn, void *arg);
/* What the registered function says for mem, or -1 without one. */
int td_membership_owned(td_membership_t *m, const td_member_t *mem);

/* "frontend", "history", "matching", "worker" ("?" for anything else). */
const char *td_member_role_name(int role);
/* "alive", "suspect", "dead", "left". */
const char *td_member_status_name(td_member_status_t status);
/* Membership datagrams dropped since start: failing authentication, malformed, from another
 * cluster (all 0 without network membership). */
void td_membership_drops(td_membership_t *m, uint64_t *unauthenticated, uint64_t *malformed,
                         uint64_t *foreign);

/* ---- the process (server.c) and the membership source (swim.c) ---- */

/* Creates an empty membership whose watchers run on loop. */
td_membership_t *td_membership_new(td_loop_t *loop);
/* Frees it (NULL accepted); handles of watchers still registered become invalid. */
void td_membership_free(td_membership_t *m);

/* Builds srv->membership from the configuration: one local member per hosted role, ALIVE,
 * id "ip:membership_port", gRPC address "ip:port". Runs before the roles start. */
int td_membership_open(td_server_t *srv);
/* Frees srv->membership (after the roles stopped). */
void td_membership_close(td_server_t *srv);

/* Adds a member or replaces the one with the same id (strings are copied). Watchers are
 * notified when the member is new or its status, draining flag or address changed. */
void td_membership_upsert(td_membership_t *m, const td_member_t *mem);
/* Removes a member for good (watchers notified when it was there). */
void td_membership_forget(td_membership_t *m, const char *id);
/* Calls fn(arg) synchronously whenever td_membership_set_draining changed a local member,
 * so the membership source can announce it. One hook; NULL removes it. */
void td_membership_on_local_change(td_membership_t *m, void (*fn)(void *arg), void *arg);

#endif
