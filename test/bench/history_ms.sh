#!/bin/bash
# CPU cost of the history mutable-state transitions (no store, no network).
set -eu
"$BUILD/progs/history_ms_bench" "${HISTORY_MS_BENCH_N:-20000}"
