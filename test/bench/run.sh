#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The "bench" test suite: a short smoke run of the workflow benchmark tool
# (test/progs/temporald_bench) so `make test` exercises the public worker path end to end
# in C and keeps the tool working. Each scenario runs about a second against a fresh
# in-memory `temporald start-dev` on a free port (stopped by its PID), and passes only if
# the tool exits 0 with every started workflow completed and its history checked. It also
# checks that the tool fails, naming the RPC, when no server answers, and that the cold-start
# probe works. This suite checks correctness, not speed: test/bench/workflows.sh measures.
# Closes with "bench: N passed, N failed". Usage: test/bench/run.sh [path/to/temporald]
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
server=${1:-$BUILD/temporald}
bench=$BUILD/progs/temporald_bench
pass=0 fail=0
tmp=$(mktemp -d /tmp/td-bench-suite.XXXXXX)
srv_pid=""
stop_server() {
    [ -n "$srv_pid" ] || return 0
    kill "$srv_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$srv_pid" 2>/dev/null
    wait "$srv_pid" 2>/dev/null
    srv_pid=""
}
trap 'stop_server; rm -rf "$tmp"' EXIT

ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() {
    echo "not ok - $1"
    sed 's/^/#   /' "$2" | tail -15
    fail=$((fail + 1))
}

if [ ! -x "$bench" ] || [ ! -x "$server" ]; then
    echo "not ok - $bench or $server missing (make tests)"
    echo "bench: 0 passed, 1 failed"
    exit 1
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_server() {
    srv_port=$(free_port)
    "$server" start-dev --ip 127.0.0.1 --port "$srv_port" --headless --log-level warn \
        >"$tmp/server.log" 2>&1 &
    srv_pid=$!
    for _ in $(seq 200); do
        (echo >"/dev/tcp/127.0.0.1/$srv_port") 2>/dev/null && return 0
        kill -0 "$srv_pid" 2>/dev/null || break
        sleep 0.05
    done
    return 1
}

# scenario NAME bench-args...: a clean run with every workflow completed and checked
scenario() {
    local name=$1
    shift
    if ! start_server; then
        not_ok "$name: temporald did not start" "$tmp/server.log"
        stop_server
        return
    fi
    "$bench" run --port "$srv_port" --server-pid "$srv_pid" --warmup 0.2 --duration 1 \
        --drain 20 "$@" >"$tmp/$name.out" 2>&1
    local rc=$?
    stop_server
    local counts started completed checked
    counts=$(sed -n 's/^  workflows started \([0-9]*\), completed \([0-9]*\), history checked \([0-9]*\)$/\1 \2 \3/p' \
        "$tmp/$name.out")
    read -r started completed checked <<<"${counts:-0 0 0}"
    if [ "$rc" -eq 0 ] && [ "$started" -gt 0 ] && [ "$started" = "$completed" ] &&
        [ "$completed" = "$checked" ] && grep -q '^BENCH wf_per_s ' "$tmp/$name.out"; then
        ok "$name: $started workflows started, completed and their histories checked"
    else
        not_ok "$name: exit $rc, started $started, completed $completed, checked $checked" \
            "$tmp/$name.out"
    fi
}

scenario single-activity --scenario single-activity --inflight 20
scenario signal --scenario signal --inflight 10
scenario timer --scenario timer --inflight 20
scenario open-loop --scenario single-activity --rate 100

# No server on the port: the tool must fail and name the RPC that failed.
port=$(free_port)
"$bench" run --port "$port" --duration 1 --warmup 0 --inflight 2 >"$tmp/noserver.out" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -qE 'RPC [A-Za-z]+ failed: status 14 UNAVAILABLE' "$tmp/noserver.out" &&
    ! grep -q '^BENCH wf_per_s' "$tmp/noserver.out"; then
    ok "no server: exit $rc, the failed RPC named, no figures"
else
    not_ok "no server: exit $rc" "$tmp/noserver.out"
fi

# The cold-start probe starts and stops start-dev itself.
"$bench" coldstart --temporald "$server" --runs 1 --settle-ms 100 >"$tmp/cold.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -qE '^BENCH cold_start_ms [0-9.]+$' "$tmp/cold.out" &&
    grep -qE '^BENCH idle_rss_mib [0-9.]+$' "$tmp/cold.out"; then
    ok "coldstart: $(sed -n 's/^BENCH cold_start_ms //p' "$tmp/cold.out") ms"
else
    not_ok "coldstart: exit $rc" "$tmp/cold.out"
fi

echo "bench: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
