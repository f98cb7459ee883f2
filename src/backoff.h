/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exponential backoff with jitter: the one rule every retry loop of the server follows
 * (history task dispatch and timers, shard acquisition, task-queue leases, backlog reads and
 * writes, the store's write pause on a full disk). The delay of attempt n (from 0) is
 * min(max, initial * 2^n), of which a random half is taken off ("equal jitter"), so loops that
 * failed together do not retry together. Any thread; no allocation.
 */
#ifndef TD_BACKOFF_H
#define TD_BACKOFF_H

#include <stdint.h>

typedef struct {
    int64_t initial_ms;
    int64_t max_ms;
    int attempt; /* failures since the last success */
} td_backoff_t;

void td_backoff_init(td_backoff_t *b, int64_t initial_ms, int64_t max_ms);
/* The delay before the next try after one more failure (in [d/2, d] for the capped d above);
 * counts the failure. */
int64_t td_backoff_next(td_backoff_t *b);
/* A success: the next failure starts from initial_ms again. */
void td_backoff_reset(td_backoff_t *b);
/* The delay of attempt `attempt` (from 0) without state: the same rule. */
int64_t td_backoff_delay(int64_t initial_ms, int64_t max_ms, int attempt);
/* A uniform random number in [0, n) (n > 0) from a per-thread generator seeded from the
 * kernel; not for secrets. */
uint64_t td_backoff_rand(uint64_t n);

#endif
