#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The cost of the gRPC hop between roles: the same closed-loop single-activity workload
# (test/progs/temporald_bench, 50 workflows in flight) against
#   colocated  one `temporald start` process hosting every role (calls between roles are
#              direct function calls; cluster routing on, every key owned here), and
#   split      a frontend process, a history process and a matching+worker process
#              (every frontend->history, history->matching and matching->history call is a
#              gRPC call on 127.0.0.1),
# both on one fresh PostgreSQL database each (scripts/pg-cluster.sh). Prints workflows per
# second and the tool's latency lines for each, then the per-workflow difference.
# Usage: test/bench/route_hop.sh [seconds]; BUILD from the env.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
secs=${1:-10}
bin=$BUILD/temporald
bench=$BUILD/progs/temporald_bench
tmp=$(mktemp -d /tmp/td-route-hop.XXXXXX)
pgdir=$tmp/pg
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    scripts/pg-cluster.sh stop "$pgdir" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
out=$(scripts/pg-cluster.sh start "$pgdir" 2>"$tmp/pg.err") || { echo "skipped: $(cat "$tmp/pg.err")"; exit 0; }
eval "$out"
psql_admin() { scripts/pg-cluster.sh psql "$pgdir" -d postgres -q -c "$1" >/dev/null; }

# ini NAME SERVICES DB MEMBERS: a config with its own free ports; prints the frontend port
ini() {
    local f=$tmp/$1.ini fp hp mp
    fp=$(free_port) hp=$(free_port) mp=$(free_port)
    eval "${1}_fp=$fp ${1}_hp=$hp ${1}_mp=$mp"
    cat >"$f" <<INI
[server]
ip = 127.0.0.1
services = $2
log_level = warn
[frontend]
port = $fp
membership_port = $(free_port)
http_port = 0
[history]
port = $hp
membership_port = $(free_port)
num_shards = 16
[matching]
port = $mp
membership_port = $(free_port)
[worker]
port = $(free_port)
membership_port = $(free_port)
[persistence]
url = $3
INI
    if [ -n "$4" ]; then printf '[cluster]\nseeds = %s\n' "$4" >>"$f"; fi
}

wait_port() {
    for _ in $(seq 200); do
        (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

run() { # label port
    sleep 3 # shards acquired (first reconcile after 1.5 s)
    "$bench" run --port "$2" --inflight 50 --duration "$secs" --warmup 2 >"$tmp/$1.out" 2>&1
    echo "--- $1"
    cat "$tmp/$1.out"
}

for db in colo split; do
    psql_admin "CREATE DATABASE $db OWNER temporald"
    "$bin" schema setup --db-url "${PG_URL%/*}/$db" --log-level warn >/dev/null
done

ini colo frontend,history,matching,worker "${PG_URL%/*}/colo" ""
"$bin" start --config "$tmp/colo.ini" >"$tmp/colo.log" 2>&1 &
pids+=($!)
wait_port "$colo_fp" || { echo "colocated server did not start"; tail "$tmp/colo.log"; exit 1; }
run colocated "$colo_fp"
kill "${pids[0]}"

ini fe frontend "${PG_URL%/*}/split" "PLACEHOLDER"
ini hi history "${PG_URL%/*}/split" "PLACEHOLDER"
ini ma matching,worker "${PG_URL%/*}/split" "PLACEHOLDER"
# SWIM seeds: the history and matching members (everyone joins through them)
mport() { awk -F' = ' -v s="[$2]" '$0 == s {h=1} h && /^membership_port/ {print "127.0.0.1:" $2; exit}' "$tmp/$1.ini"; }
members="$(mport hi history),$(mport ma matching)"
for n in fe hi ma; do
    sed -i "s/^seeds = .*/seeds = $members/" "$tmp/$n.ini"
    "$bin" start --config "$tmp/$n.ini" >"$tmp/$n.log" 2>&1 &
    pids+=($!)
done
wait_port "$fe_fp" || { echo "split frontend did not start"; tail "$tmp/fe.log"; exit 1; }
run split "$fe_fp"
