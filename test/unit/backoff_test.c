/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared retry backoff (src/backoff.c): exponential growth, the cap, equal jitter.
 */
#include "test.h"

#include "backoff.h"

TD_TEST(backoff_grows_caps_and_jitters)
{
    td_backoff_t b;
    int64_t lo = 1000000, hi = 0;
    int distinct = 0;
    int64_t prev = -1;

    /* attempt n lies in [d/2, d] for d = min(max, 100 * 2^n) */
    for (int n = 0; n < 12; n++) {
        int64_t d = 100;
        for (int i = 0; i < n && d < 5000; i++) {
            d *= 2;
        }
        if (d > 5000) {
            d = 5000;
        }
        for (int k = 0; k < 200; k++) {
            int64_t v = td_backoff_delay(100, 5000, n);
            TD_CHECK(v >= d - d / 2 && v <= d);
        }
    }
    /* jitter: the same attempt does not always give the same delay */
    for (int k = 0; k < 100; k++) {
        int64_t v = td_backoff_delay(1000, 1000, 0);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        distinct += v != prev;
        prev = v;
    }
    TD_CHECK(hi > lo);
    TD_CHECK(distinct > 10);
    /* the stateful form counts failures and starts over after a success */
    td_backoff_init(&b, 10, 80);
    for (int i = 0; i < 10; i++) {
        td_backoff_next(&b);
    }
    TD_CHECK_INT(b.attempt, ==, 10);
    TD_CHECK(td_backoff_next(&b) >= 40);
    td_backoff_reset(&b);
    TD_CHECK(td_backoff_next(&b) <= 10);
    TD_CHECK_INT(td_backoff_rand(1), ==, 0);
}
