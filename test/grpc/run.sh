#!/bin/bash
# The gRPC suite: a real gRPC client (@grpc/grpc-js, pinned in test/js) against temporald's
# RPC layer (test/progs/grpc_testserver and `temporald start-dev`), then temporald's own
# client against the same server (test/progs/grpc_client_matrix, when built), and a raw peer
# that never reads (test/grpc/slow_reader.py: backpressure). Closes with
# "N passed, N failed". Usage: test/grpc/run.sh [path/to/temporald]; BUILD from the env.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
export BUILD
export TD_BIN=${1:-$BUILD/temporald}
pass=0 fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if [ ! -d test/js/node_modules ]; then
    if ! (cd test/js && npm ci --no-audit --no-fund --loglevel=error); then
        echo "npm ci failed in test/js"
        echo "0 passed, 1 failed"
        exit 1
    fi
fi

node --test --test-reporter=tap --test-concurrency=1 --test-timeout=120000 test/js/grpc/ 2>&1 |
    tee "$log" | grep -E '^ *(not )?ok |^# (pass|fail)|^ *error:'
p=$(grep -E '^# pass [0-9]+' "$log" | tail -1 | awk '{print $3}')
f=$(grep -E '^# fail [0-9]+' "$log" | tail -1 | awk '{print $3}')
if [ -z "$p" ] || [ -z "$f" ]; then
    echo "grpc-js tests ended without a summary"
    tail -30 "$log"
    p=${p:-0}
    f=$((${f:-0} + 1))
fi
pass=$((pass + p))
fail=$((fail + f))

# backpressure: a peer that never reads must not make the server buffer without bound
python3 test/grpc/slow_reader.py "$BUILD/progs/grpc_testserver" 2>&1 | tee "$log"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
if [ -n "$line" ]; then
    pass=$((pass + $(echo "$line" | awk '{print $1}')))
    fail=$((fail + $(echo "$line" | awk '{print $3}')))
else
    echo "slow_reader.py ended without a summary"
    fail=$((fail + 1))
fi

if [ -x "$BUILD/progs/grpc_client_matrix" ]; then
    "$BUILD/progs/grpc_client_matrix" "$BUILD/progs/grpc_testserver" 2>&1 | tee "$log"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [ -n "$line" ]; then
        pass=$((pass + $(echo "$line" | awk '{print $1}')))
        fail=$((fail + $(echo "$line" | awk '{print $3}')))
    else
        echo "grpc_client_matrix ended without a summary"
        fail=$((fail + 1))
    fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
