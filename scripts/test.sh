#!/bin/bash
# Runs every test suite of temporald and closes with one line "N passed, N failed".
# Each suite prints its own closing line; this script adds them up. A suite that crashes
# before its closing line counts as one failure.
# Suites: "unit" (the C unit binary), then every test/NAME/run.sh in this order: cli store
# grpc sdk, then any other folder with a run.sh. Each run.sh gets BUILD in its environment.
# Environment: BUILD (build folder, default build/release), TD_TEST_SUITES (space-separated
# subset of suite names).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
export BUILD
order="unit cli store grpc sdk"
for d in test/*/run.sh; do
    n=$(basename "$(dirname "$d")")
    case " $order " in *" $n "*) ;; *) order="$order $n" ;; esac
done
suites=${TD_TEST_SUITES:-$order}
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
    *)
        if [ -x "test/$s/run.sh" ]; then
            run_suite "$s" "test/$s/run.sh" "$BUILD/temporald"
        elif [ -n "${TD_TEST_SUITES:-}" ] && [ ! -d "test/$s" ]; then
            echo "unknown suite $s"; total_fail=$((total_fail + 1))
        fi
        ;;
    esac
done

echo
if [ "$total_skip" -gt 0 ]; then
    echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
    echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
