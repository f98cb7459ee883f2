/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Membership seeds kept in the store's cluster_membership table: each process heartbeats one
 * row per local member and joins through the rows fresh within 20 s (seeds.c). Runs beside
 * SWIM for `temporald start`; start-dev has neither. Loop thread only.
 */
#ifndef TD_CLUSTER_SEEDS_H
#define TD_CLUSTER_SEEDS_H

#include "cluster/swim_udp.h"

typedef struct td_seeds_s td_seeds_t;

/* Writes our rows and reads the fresh ones now (blocking, before the loop runs), then every
 * 10-15 s on the loop. Needs srv->store and srv->membership. */
td_seeds_t *td_seeds_start(td_server_t *srv, td_swim_udp_t *udp);
/* Stops the heartbeats. NULL accepted. */
void td_seeds_stop(td_seeds_t *sd);

#endif
