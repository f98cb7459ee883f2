#!/bin/bash
# Runs every test suite of temporald and closes with one line "N passed, N failed".
# Each suite prints its own closing line; this script adds them up. A suite that crashes
# before its closing line counts as one failure.
# Environment: BUILD (build folder, default build/release), TD_TEST_SUITES (space-separated
# subset of: unit cli store grpc sdk).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
export BUILD
suites=${TD_TEST_SUITES:-"unit cli store grpc sdk"}
total_pass=0 total_fail=0 total_skip=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

run_suite() {
    local name=$1; shift
    echo "=== suite $name: $*"
    "$@" 2>&1 | tee "$log/$name.out"
    local rc=${PIPESTATUS[0]}
    local line
    line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log/$name.out" | tail -1)
    if [ -z "$line" ]; then
        echo "=== suite $name: no closing line (exit $rc): counted as 1 failure"
        total_fail=$((total_fail + 1))
        return
    fi
    local p f s
    p=$(echo "$line" | sed -E 's/.*\b([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.*\b([0-9]+) failed.*/\1/')
    s=$(echo "$line" | grep -oE '[0-9]+ skipped' | cut -d' ' -f1)
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    total_skip=$((total_skip + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "=== suite $name: exit $rc with no failed test: counted as 1 failure"
        total_fail=$((total_fail + 1))
    fi
}

for s in $suites; do
    case $s in
    unit) run_suite unit "$BUILD/test-unit" ;;
    cli) run_suite cli test/cli/run.sh "$BUILD/temporald" ;;
    store) [ -x test/store/run.sh ] && run_suite store test/store/run.sh ;;
    grpc) [ -x test/grpc/run.sh ] && run_suite grpc test/grpc/run.sh ;;
    sdk) [ -x test/sdk/run.sh ] && run_suite sdk test/sdk/run.sh ;;
    *) echo "unknown suite $s"; total_fail=$((total_fail + 1)) ;;
    esac
done

echo
if [ "$total_skip" -gt 0 ]; then
    echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
    echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
