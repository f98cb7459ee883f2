/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SWIM failure detection and gossip for one member, as a pure state machine: no sockets, no
 * clock, no event loop. The caller feeds it datagrams (td_swim_recv) and time
 * (td_swim_tick), and it sends through a callback and reports member changes through
 * another. swim_udp.c binds it to a UDP socket on the loop; the unit tests run many of them
 * in one simulated network with loss and a virtual clock.
 *
 * The wire format (td_swim_encode / td_swim_decode) is a small binary layout, optionally
 * closed by an HMAC-SHA256 over the whole datagram; see swim.c for the layout and the
 * protocol's design notes.
 */
#ifndef TD_CLUSTER_SWIM_H
#define TD_CLUSTER_SWIM_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/membership.h"

#define TD_SWIM_MAX_ID      64   /* "ip:port" of a member, or a gRPC address */
#define TD_SWIM_MAX_NAME    64   /* cluster name */
#define TD_SWIM_MAX_RECORDS 64   /* member records in one datagram */
#define TD_SWIM_MAX_PACKET  1400 /* largest datagram sent (fits an Ethernet MTU) */
#define TD_SWIM_MAC_LEN     32

typedef enum {
    TD_SWIM_PING = 1,
    TD_SWIM_ACK = 2,
    TD_SWIM_PING_REQ = 3,
    TD_SWIM_NACK = 4,
    TD_SWIM_SYNC_REQ = 5, /* full state, answer with yours */
    TD_SWIM_SYNC = 6,     /* full state */
    TD_SWIM_GOSSIP = 7,   /* records only */
} td_swim_type_t;

/* A string inside a decoded datagram (not NUL-terminated). */
typedef struct {
    const char *p;
    uint8_t len;
} td_swim_str_t;

/* One member's state as gossiped. */
typedef struct {
    td_swim_str_t id;
    uint8_t role;   /* one TD_ROLE_* bit */
    uint8_t status; /* td_member_status_t */
    uint8_t draining;
    uint64_t incarnation;
    int64_t session_start_ms;
    td_swim_str_t grpc_addr;
    td_swim_str_t by; /* SUSPECT: who suspects it; empty otherwise */
} td_swim_rec_t;

typedef struct {
    uint8_t type;
    uint32_t seq;
    td_swim_str_t cluster;
    uint32_t num_shards;
    td_swim_rec_t from;   /* the sender's own record */
    td_swim_str_t target; /* PING_REQ: whom to probe */
    int n_recs;
    td_swim_rec_t recs[TD_SWIM_MAX_RECORDS];
} td_swim_msg_t;

/* Decodes a datagram into *msg (whose strings point into buf). With a key, the datagram
 * must end with a valid HMAC-SHA256 of the rest; without one it must carry none. Returns
 * TD_OK, TD_EPROTO for a malformed datagram or TD_EPERM for a missing or wrong MAC. */
int td_swim_decode(const uint8_t *buf, size_t len, const uint8_t *key, size_t key_len,
                   td_swim_msg_t *msg);
/* Encodes msg into buf (at most cap bytes, MAC included when key_len > 0); returns the
 * length, or 0 when it does not fit. */
size_t td_swim_encode(const td_swim_msg_t *msg, const uint8_t *key, size_t key_len, uint8_t *buf,
                      size_t cap);

typedef struct {
    int probe_interval_ms;  /* one probe per member per interval */
    int probe_timeout_ms;   /* direct ack wait before asking k others */
    int indirect_k;         /* members asked to probe on our behalf */
    int suspicion_min_ms;   /* suspicion timeout with every expected confirmation */
    int suspicion_max_ms;   /* suspicion timeout with none */
    int retransmit_mult;    /* a change is piggy-backed mult * ceil(log10(n + 1)) times */
    int gossip_interval_ms; /* pending changes pushed to gossip_nodes members this often */
    int gossip_nodes;
    int sync_interval_ms; /* full-state exchange with one random member */
    int join_retry_ms;    /* seeds contacted this often while alone */
    int dead_forget_ms;   /* dead or left members are forgotten after this */
    int max_health;       /* Lifeguard local health multiplier cap */
} td_swim_timing_t;

/* The defaults: a crashed member is declared dead in about 4 s (see make bench). */
void td_swim_timing_default(td_swim_timing_t *t);

typedef struct {
    const char *id;        /* our "ip:membership_port" */
    int role;              /* TD_ROLE_* bit */
    const char *grpc_addr; /* our gRPC "ip:port" */
    const char *cluster_name;
    uint32_t num_shards;
    int64_t session_start_ms;
    const uint8_t *key; /* HMAC key, or NULL */
    size_t key_len;
    td_swim_timing_t timing; /* zero fields take the defaults */
    uint64_t rng_seed;
    /* Sends one datagram to the member with that id (an "ip:port"). */
    void (*send)(void *arg, const char *to, const uint8_t *buf, size_t len);
    /* A member's status, draining flag, address or incarnation changed (self included);
     * forgotten = 1 when it leaves the table for good. */
    void (*changed)(void *arg, const td_member_t *m, int forgotten);
    void *arg;
} td_swim_options_t;

typedef struct {
    uint64_t sent, received;
    uint64_t dropped_decode;  /* malformed datagrams */
    uint64_t dropped_auth;    /* missing or wrong MAC */
    uint64_t dropped_foreign; /* other cluster name or shard count */
    uint64_t suspected, declared_dead, refuted;
} td_swim_stats_t;

typedef struct td_swim_s td_swim_t;

td_swim_t *td_swim_new(const td_swim_options_t *o, int64_t now_ms);
void td_swim_free(td_swim_t *s);
/* Seeds ("ip:port" membership addresses): each one not known alive is sent a full-state
 * exchange every join retry while we are alone or in our first minute, every ten after.
 * Replaces the previous list. */
void td_swim_set_seeds(td_swim_t *s, const char *const *seeds, int n);
/* Advances timers to now_ms (probes, suspicion timeouts, gossip, joins). Call at least
 * every td_swim_tick_ms(). */
void td_swim_tick(td_swim_t *s, int64_t now_ms);
int td_swim_tick_ms(const td_swim_t *s);
/* Handles one received datagram. */
void td_swim_recv(td_swim_t *s, int64_t now_ms, const uint8_t *buf, size_t len);
/* Announces a change of our draining flag. */
void td_swim_set_draining(td_swim_t *s, int draining, int64_t now_ms);
/* Leaves gracefully: marks us LEFT and tells a few members at once. */
void td_swim_leave(td_swim_t *s, int64_t now_ms);
/* The members this node knows (self included), as td_member_t in no particular order. */
int td_swim_members(td_swim_t *s, td_member_t *out, int cap);
/* Status of one member as this node sees it, or -1 when unknown. */
int td_swim_status_of(td_swim_t *s, const char *id);
const td_swim_stats_t *td_swim_stats(const td_swim_t *s);

#endif
