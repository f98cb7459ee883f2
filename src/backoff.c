/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exponential backoff with jitter (see backoff.h). The generator is a per-thread xorshift64*
 * seeded once from getrandom(2), so the store's threads and the loop never share state.
 */
#include "backoff.h"

#include <sys/random.h>

static _Thread_local uint64_t td_backoff_state;

uint64_t td_backoff_rand(uint64_t n)
{
    uint64_t x = td_backoff_state;

    if (x == 0) {
        if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t)sizeof(x) || x == 0) {
            x = (uint64_t)(uintptr_t)&td_backoff_state ^ 0x9e3779b97f4a7c15ull;
        }
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    td_backoff_state = x;
    return n == 0 ? 0 : (x * 0x2545f4914f6cdd1dull) % n;
}

int64_t td_backoff_delay(int64_t initial_ms, int64_t max_ms, int attempt)
{
    int64_t d = initial_ms > 0 ? initial_ms : 1;
    int64_t half;

    if (max_ms < d) {
        max_ms = d;
    }
    for (int i = 0; i < attempt && d < max_ms; i++) {
        d *= 2;
    }
    if (d > max_ms) {
        d = max_ms;
    }
    half = d / 2;
    return d - half + (int64_t)td_backoff_rand((uint64_t)half + 1);
}

void td_backoff_init(td_backoff_t *b, int64_t initial_ms, int64_t max_ms)
{
    b->initial_ms = initial_ms;
    b->max_ms = max_ms;
    b->attempt = 0;
}

int64_t td_backoff_next(td_backoff_t *b)
{
    int64_t d = td_backoff_delay(b->initial_ms, b->max_ms, b->attempt);

    if (b->attempt < 64) {
        b->attempt++;
    }
    return d;
}

void td_backoff_reset(td_backoff_t *b)
{
    b->attempt = 0;
}
