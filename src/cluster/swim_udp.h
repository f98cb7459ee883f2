/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SWIM on the network: one UDP socket and one SWIM member (swim.h) per hosted role, on the
 * role's membership port, driven by the server's loop. The first hosted role's member feeds
 * the process's membership view (membership.h); the others take part in the protocol so
 * that every role is probed on its own port. Used by td_membership_open for `start`;
 * start-dev never opens it. Loop thread only.
 */
#ifndef TD_CLUSTER_SWIM_UDP_H
#define TD_CLUSTER_SWIM_UDP_H

#include <stddef.h>

#include "cluster/membership.h"
#include "cluster/swim.h"

typedef struct td_swim_udp_s td_swim_udp_t;

/* Binds one socket per hosted role and starts gossiping (seeds: [cluster] seeds plus the
 * process's own members). Returns TD_OK, or an error with one line in err. */
int td_swim_udp_open(td_server_t *srv, td_membership_t *view, const char *advertise_ip,
                     td_swim_udp_t **out, char *err, size_t errlen);
/* Leaves gracefully (LEFT is gossiped) and closes the sockets. NULL accepted. */
void td_swim_udp_close(td_swim_udp_t *u);
/* Adds seeds ("host:port" membership addresses) to the configured ones; hostnames are
 * resolved here (blocking, at most once per call). */
void td_swim_udp_add_seeds(td_swim_udp_t *u, const char *const *seeds, int n);
/* Replaces the seeds read from the store (the configured ones and our own stay). */
void td_swim_udp_set_store_seeds(td_swim_udp_t *u, const char *const *seeds, int n);
/* Marks every local member draining. */
void td_swim_udp_set_draining(td_swim_udp_t *u);
/* Sums of the members' counters. */
void td_swim_udp_stats(const td_swim_udp_t *u, td_swim_stats_t *out);

#endif
