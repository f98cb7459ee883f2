#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Membership figures at the default SWIM timings: failure detection and convergence from the
# deterministic simulation (test/progs/swim_bench: 3, 8 and 24 members, 0 and 5 % loss, 40
# runs each), then from real processes on loopback (test/membership/run.sh, three rounds:
# kill -9 of one of three processes, times read from their logs).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
"$BUILD/progs/swim_bench" "${SWIM_BENCH_RUNS:-40}"
echo "real processes on loopback (3 processes, 4 members):"
for i in 1 2 3; do
    test/membership/run.sh "$BUILD/temporald" | grep -E "kill -9|restart:" | sed 's/^ok - /  /'
done
