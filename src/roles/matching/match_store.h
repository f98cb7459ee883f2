/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The matching engine's backlog over the real store (store/store.h): td_match_store_ops
 * implements td_match_backlog_ops_t with TQ_ACQUIRE, BACKLOG_INSERT, BACKLOG_READ, TQ_UPDATE
 * and BACKLOG_DELETE requests, translating the engine's "ack level = highest id done" into
 * the store's "ack level = lowest id not done" and tasks into temporald.matching.BacklogTask
 * blobs. The matching role passes a td_store_t * as the backlog context; the store must
 * deliver its callbacks on the engine's loop.
 */
#ifndef TD_MATCH_STORE_H
#define TD_MATCH_STORE_H

#include "roles/matching/engine.h"

/* ctx: a td_store_t * opened with the engine's loop. */
extern const td_match_backlog_ops_t td_match_store_ops;

#endif
