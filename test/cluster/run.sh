#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The cluster suite: temporald split into processes on separate hosts (2 frontend, 3 history,
# 2 matching, 1 worker) sharing one PostgreSQL, driven by the real TypeScript SDK (test/js),
# with crashes, link cuts and rolling restarts (test/cluster/*.test.mjs, harness cluster.mjs).
#
# Hosts are network namespaces this script creates (names and links start with "tdcl<PID>-",
# PID being this script's): one bridge in the root namespace holding 198.18.N.1, one veth pair
# per host, the host end "eth0" with 198.18.N.(10+i) inside the namespace. 198.18.0.0/15 is
# reserved for network benchmarking and is never routed out; N is a /24 no local address uses.
# PostgreSQL (scripts/pg-cluster.sh) listens on 127.0.0.1 and 198.18.N.1. Everything is removed
# at the end, also when interrupted; namespaces and links left by a run whose script is gone
# (killed with SIGKILL) are removed at the start. Where namespaces cannot be created (not root,
# no `ip`, a container without CAP_NET_ADMIN) the hosts are distinct 127.0.0.x addresses
# instead, which the script says; link faults are then skipped.
#
# Forms: TD_CLUSTER=1 runs the short form (topology, functional workloads, one kill -9 round;
# a few minutes on 2 busy cores); TD_CLUSTER_LONG=1 (make test-cluster-long) runs every fault
# round with more load. Without either the suite is skipped with its closing line.
# Usage: test/cluster/run.sh [path/to/temporald]; TD_CLUSTER_FILES picks test files;
# TD_CLUSTER_NET=loopback forces the 127.0.0.x fallback; TD_CLUSTER_LOGS=DIR keeps every
# process log there (on failure they are kept in $BUILD/cluster-logs anyway).
# Closes with one line "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
export BUILD
files=${TD_CLUSTER_FILES:-$(ls test/cluster/*.test.mjs)}
# the number of tests, reported as skipped when the suite cannot run
nfiles=$(cat $files | grep -c '^clusterTest(')

if [ "${TD_CLUSTER:-0}" != 1 ] && [ "${TD_CLUSTER_LONG:-0}" != 1 ]; then
    echo "# cluster suite skipped: it needs TD_CLUSTER=1 (short form) or TD_CLUSTER_LONG=1"
    echo "# (make test-cluster / make test-cluster-long): it stays out of make test until"
    echo "# history, matching and worker are reachable over the network and SWIM membership runs"
    echo "0 passed, 0 failed, $nfiles skipped"
    exit 0
fi

TD_BIN=$(realpath "${1:-$BUILD/temporald}")
PREFIX=tdcl
ID=$PREFIX$$
HOSTS=8
tmp=$(mktemp -d /tmp/td-cluster.XXXXXX)
chmod 755 "$tmp"
echo $$ >"$tmp/run.pid"
pgdir=$tmp/pg
node_pid=""
mode=""

fail_early() {
    echo "$1"
    echo "0 passed, 1 failed"
    exit 1
}

# Whether process $1 runs (a zombie does not: a killed run whose parent has not reaped it yet).
running() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [ "${st#Z}" = "$st" ]
}

# Namespaces, links, folders (with their PostgreSQL and node process) of this suite whose
# run.sh is no longer running (it was killed with SIGKILL).
stale_cleanup() {
    local n pid d
    for d in /tmp/td-cluster.*; do
        [ -f "$d/run.pid" ] || continue
        running "$(cat "$d/run.pid")" && continue
        echo "# removing $d left by an earlier run (pid $(cat "$d/run.pid") is gone)"
        [ -f "$d/node.pid" ] && kill -KILL "$(cat "$d/node.pid")" 2>/dev/null
        [ -d "$d/pg" ] && scripts/pg-cluster.sh stop "$d/pg" >/dev/null 2>&1
        rm -rf "$d"
    done
    for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$PREFIX[0-9]+-"); do
        pid=${n#"$PREFIX"}
        pid=${pid%%-*}
        running "$pid" && continue
        echo "# removing namespace $n left by an earlier run (pid $pid is gone)"
        for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$n" 2>/dev/null
    done
    for n in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^$PREFIX[0-9]+-"); do
        pid=${n#"$PREFIX"}
        pid=${pid%%-*}
        running "$pid" && continue
        ip link del "$n" 2>/dev/null
    done
}

net_down() {
    local i p
    for i in $(seq 1 $HOSTS); do
        ip netns list 2>/dev/null | grep -q "^$ID-h$i\b" || continue
        # temporald processes the tests started and left behind (the node process kills them
        # on exit; this catches a node process that was itself killed)
        for p in $(ip netns pids "$ID-h$i" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ID-h$i" 2>/dev/null
        ip link del "$ID-v$i" 2>/dev/null
    done
    ip link del "$ID-br" 2>/dev/null
}

cleanup() {
    if [ -n "$node_pid" ]; then
        kill -TERM "$node_pid" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$node_pid" 2>/dev/null
    fi
    [ "$mode" = netns ] && net_down
    [ -d "$pgdir" ] && scripts/pg-cluster.sh stop "$pgdir" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stale_cleanup
[ -x "$TD_BIN" ] || fail_early "no temporald binary at $TD_BIN"
if [ ! -d test/js/node_modules/@temporalio/worker ]; then
    (cd test/js && npm ci --no-audit --no-fund --loglevel=error) || fail_early "npm ci failed in test/js"
fi
cp "$TD_BIN" "$tmp/temporald" || fail_early "cannot copy $TD_BIN"
chmod 755 "$tmp/temporald"

# A /24 of 198.18.0.0/16 that no address of this machine is in (runs side by side get
# different ones).
pick_subnet() {
    local used n
    used=$(ip -o -4 addr show 2>/dev/null | awk '{print $4}')
    for _ in $(seq 1 50); do
        n=$((1 + RANDOM % 254))
        echo "$used" | grep -q "^198\.18\.$n\." || { echo "$n"; return; }
    done
    return 1
}

# Builds the hosts; on success sets mode=netns and net (the 198.18.N prefix).
net_up() {
    [ "$(id -u)" -eq 0 ] || { why="not root"; return 1; }
    command -v ip >/dev/null || { why="no ip command"; return 1; }
    local n i
    n=$(pick_subnet) || { why="no free /24 in 198.18.0.0/16"; return 1; }
    net=198.18.$n
    ip link add "$ID-br" type bridge 2>"$tmp/ip.err" || { why="cannot create a bridge: $(head -1 "$tmp/ip.err")"; return 1; }
    mode=netns # from here on net_down cleans up
    ip addr add "$net.1/24" dev "$ID-br" && ip link set "$ID-br" up || { why="bridge address"; return 1; }
    for i in $(seq 1 $HOSTS); do
        ip netns add "$ID-h$i" 2>"$tmp/ip.err" || { why="cannot create a namespace: $(head -1 "$tmp/ip.err")"; return 1; }
        ip link add "$ID-v$i" type veth peer name eth0 netns "$ID-h$i" 2>"$tmp/ip.err" ||
            { why="cannot create a veth pair: $(head -1 "$tmp/ip.err")"; return 1; }
        ip link set "$ID-v$i" master "$ID-br" && ip link set "$ID-v$i" up &&
            ip netns exec "$ID-h$i" ip addr add "$net.$((10 + i))/24" dev eth0 &&
            ip netns exec "$ID-h$i" ip link set eth0 up &&
            ip netns exec "$ID-h$i" ip link set lo up || { why="configuring host $i"; return 1; }
    done
    # Every host reaches the bridge address (where PostgreSQL and the tests are).
    for i in $(seq 1 $HOSTS); do
        local ok=""
        for _ in $(seq 1 30); do
            if ip netns exec "$ID-h$i" bash -c "exec 3<>/dev/tcp/$net.1/$probe_port" 2>/dev/null; then ok=1; break; fi
            sleep 0.1
        done
        [ -n "$ok" ] || { why="host $i cannot reach $net.1"; return 1; }
    done
    return 0
}

# A TCP listener in the root namespace for the reachability check of net_up.
probe_port=$((20000 + RANDOM % 30000))
node -e "require('net').createServer(s=>s.end()).listen($probe_port,'0.0.0.0');setTimeout(()=>process.exit(0),60000)" &
probe_pid=$!
sleep 0.3
why=""
if [ "${TD_CLUSTER_NET:-netns}" = loopback ]; then
    why="TD_CLUSTER_NET=loopback"
elif net_up; then
    :
else
    [ "$mode" = netns ] && net_down
    mode=""
fi
kill "$probe_pid" 2>/dev/null
wait "$probe_pid" 2>/dev/null

if [ "$mode" = netns ]; then
    echo "# hosts: $HOSTS network namespaces $ID-h1..h$HOSTS on bridge $ID-br, $net.11-$net.$((10 + HOSTS))"
    pg_listen="127.0.0.1,$net.1" pg_net="$net.0/24" pg_host="$net.1"
else
    mode=loopback
    echo "# hosts: network namespaces unavailable ($why): falling back to 127.0.0.11-127.0.0.$((10 + HOSTS)) on this host's loopback (link faults skipped)"
    pg_listen="127.0.0.1" pg_net="" pg_host="127.0.0.1"
fi

# fsync off: the tests kill temporald processes and cut links, never PostgreSQL.
if pgenv=$(PG_FSYNC=off PG_LISTEN=$pg_listen PG_CLIENT_NET=$pg_net scripts/pg-cluster.sh start "$pgdir" 2>"$tmp/pg.err"); then
    eval "$pgenv"
else
    echo "# cluster suite skipped: $(sed 's/^skipped: //' "$tmp/pg.err" | head -3)"
    echo "0 passed, 0 failed, $nfiles skipped"
    exit 0
fi

node test/cluster/bundle.mjs "$tmp/bundle.js" || fail_early "the workflow bundle did not build"

# The topology file the harness reads (cluster.mjs).
{
    echo "{"
    echo "  \"mode\": \"$mode\", \"id\": \"$ID\", \"bin\": \"$tmp/temporald\", \"dir\": \"$tmp\","
    echo "  \"bundle\": \"$tmp/bundle.js\", \"pgDir\": \"$PG_DIR\","
    echo "  \"pgUrl\": \"${PG_URL/127.0.0.1/$pg_host}\", \"long\": ${TD_CLUSTER_LONG:-0},"
    echo "  \"hosts\": ["
    for i in $(seq 1 $HOSTS); do
        if [ "$mode" = netns ]; then
            echo "    {\"name\": \"h$i\", \"ns\": \"$ID-h$i\", \"link\": \"$ID-v$i\", \"ip\": \"$net.$((10 + i))\"}$([ "$i" -lt $HOSTS ] && echo ,)"
        else
            echo "    {\"name\": \"h$i\", \"ns\": null, \"link\": null, \"ip\": \"127.0.0.$((10 + i))\"}$([ "$i" -lt $HOSTS ] && echo ,)"
        fi
    done
    echo "  ]"
    echo "}"
} >"$tmp/topology.json"
export TD_CLUSTER_TOPOLOGY=$tmp/topology.json

start=$SECONDS
# One file at a time: every file uses the same hosts.
# shellcheck disable=SC2086
node --test --test-reporter=tap --test-concurrency=1 --test-timeout=1200000 $files >"$tmp/tap" 2>&1 &
node_pid=$!
echo "$node_pid" >"$tmp/node.pid"
wait "$node_pid"
rc=$?
node_pid=""
tap=$tmp/tap
# Test lines, comments (figures) and the whole diagnostic block of a failed test.
awk '/^ *not ok /{fail=1; print; next}
     /^ *ok /{fail=0; print; next}
     /^ *# Subtest/{fail=0}
     /^ *#/{if ($0 !~ /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /) print; next}
     fail && $0 !~ /^ +(duration_ms|type|location|failureType|code|\.\.\.|---)/{print}' "$tap"

count() { grep -E "^# $1 [0-9]+" "$tap" | tail -1 | awk '{print $3}'; }
p=$(count pass) f=$(count fail) c=$(count cancelled) s=$(count skipped) t=$(count todo)
if [ -n "${TD_CLUSTER_LOGS:-}" ] || [ "${f:-1}" != 0 ] || [ "${c:-0}" != 0 ]; then
    keep=${TD_CLUSTER_LOGS:-$BUILD/cluster-logs}
    rm -rf "$keep" && mkdir -p "$keep" && cp -r "$tmp/logs/." "$keep/" 2>/dev/null &&
        echo "# process logs kept in $keep"
fi
if [ -z "$p" ] || [ -z "$f" ]; then
    echo "node --test ended without a summary (exit $rc):"
    tail -40 "$tap"
    echo "${p:-0} passed, $((${f:-0} + 1)) failed"
    exit 1
fi
f=$((f + ${c:-0}))
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "node --test exited $rc with no failed test: counted as 1 failure"
    f=1
fi
echo "# cluster suite ($mode hosts, $([ "${TD_CLUSTER_LONG:-0}" = 1 ] && echo long || echo short) form) in $((SECONDS - start)) s"
echo "$p passed, $f failed, $((${s:-0} + ${t:-0})) skipped"
[ "$f" -eq 0 ]
