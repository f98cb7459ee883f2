#!/bin/bash
# Runs every benchmark script test/bench/*.sh with BUILD set; each prints its own table of
# figures beside their targets. Benchmarks measure; they do not pass or fail.
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build/release}
for b in test/bench/*.sh; do
    [ -x "$b" ] || continue
    [ "$(basename "$b")" = run.sh ] && continue # test/bench/run.sh is a test suite (make test)
    echo "=== $(basename "$b" .sh)"
    "$b" || echo "(benchmark $b exited $?)"
done
