#!/bin/bash
# The frontend suite: the public API handlers over the wire, `temporald start-dev` driven by
# the official TypeScript client (test/js/frontend/*.test.mjs, packages pinned in test/js).
# Closes with "N passed, N failed". Usage: test/frontend/run.sh [path/to/temporald]; BUILD
# from the env.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
export BUILD
export TD_BIN=${1:-$BUILD/temporald}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if [ ! -d test/js/node_modules ]; then
    if ! (cd test/js && npm ci --no-audit --no-fund --loglevel=error); then
        echo "npm ci failed in test/js"
        echo "0 passed, 1 failed"
        exit 1
    fi
fi

node --test --test-reporter=tap --test-concurrency=1 --test-timeout=60000 test/js/frontend/ 2>&1 |
    tee "$log" | grep -E '^ *(not )?ok |^# (pass|fail)|^ *(error|expected|actual):'
p=$(grep -E '^# pass [0-9]+' "$log" | tail -1 | awk '{print $3}')
f=$(grep -E '^# fail [0-9]+' "$log" | tail -1 | awk '{print $3}')
if [ -z "$p" ] || [ -z "$f" ]; then
    echo "frontend tests ended without a summary"
    tail -30 "$log"
    p=${p:-0}
    f=$((${f:-0} + 1))
fi
echo "$p passed, $f failed"
