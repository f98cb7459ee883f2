#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The "membership" suite: SWIM between real `temporald start` processes on 127.0.0.1 (each
# with its own SQLite file and free ports, stopped by PID). Three processes (history;
# matching; frontend+worker) join through a seed; a kill -9 is detected and the dead member
# comes back when restarted; a graceful stop is seen as "left"; a process of another cluster
# name or with a wrong [cluster] key never joins. Prints the measured detection times
# (figures, not assertions: the bound checked is a generous 20 s).
# Closes with "membership: N passed, N failed". Usage: test/membership/run.sh [temporald]
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
bin=${1:-$BUILD/temporald}
pass=0 fail=0
tmp=$(mktemp -d /tmp/td-membership.XXXXXX)
pids=()
pgdir=$tmp/pg
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    [ -d "$pgdir" ] && scripts/pg-cluster.sh stop "$pgdir" >/dev/null 2>&1
    if [ "$fail" -gt 0 ] && [ -n "${TD_KEEP:-}" ]; then echo "logs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ok() { echo "ok - $1"; pass=$((pass + 1)); }
no() { echo "not ok - $1${2:+: $2}"; fail=$((fail + 1)); }

# 40 consecutive ports free for TCP and UDP
base=$(python3 - <<'EOF'
import random, socket
for _ in range(200):
    b = random.randrange(20000, 60000 - 40)
    try:
        socks = []
        for p in range(b, b + 40):
            for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, t)
                s.bind(("127.0.0.1", p))
                socks.append(s)
        print(b)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
EOF
)
[ -n "$base" ] || { echo "no free ports"; echo "membership: 0 passed, 1 failed"; exit 1; }

# config NAME OFFSET [extra [cluster]/[server] lines]: gRPC ports base+OFF..., membership
# ports base+20+OFF...
config() {
    local name=$1 off=$2
    shift 2
    cat >"$tmp/$name.ini" <<EOF
[server]
ip = 127.0.0.1
log_level = info
cluster_name = ${CLUSTER:-membership-test}
[frontend]
port = $((base + off))
membership_port = $((base + 20 + off))
http_port = 0
[history]
port = $((base + off + 1))
membership_port = $((base + 20 + off + 1))
[matching]
port = $((base + off + 2))
membership_port = $((base + 20 + off + 2))
[worker]
port = $((base + off + 3))
membership_port = $((base + 20 + off + 3))
[persistence]
url = ${DBURL:-sqlite://$tmp/$name.db}
[cluster]
${NOSEEDS:+;} seeds = 127.0.0.1:$((base + 21))
$*
EOF
    "$bin" schema setup --config "$tmp/$name.ini" >"$tmp/$name.schema" 2>&1
}
declare -A pid
start() { # NAME SERVICES
    "$bin" start --config "$tmp/$1.ini" --services="$2" >>"$tmp/$1.log" 2>&1 &
    pid[$1]=$!
    pids+=($!)
}
now_ms() { date +%s%3N; }
# wait_log FILE PATTERN SECONDS: 0 once the pattern shows up
wait_log() {
    local end=$(($(now_ms) + $3 * 1000))
    while [ "$(now_ms)" -lt "$end" ]; do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
# first_ms FILE PATTERN: the log timestamp (ms since the epoch) of the first match
first_ms() {
    local ts
    ts=$(grep -E -- "$2" "$1" | head -1 | cut -d' ' -f1)
    [ -n "$ts" ] && date -d "$ts" +%s%3N
}

config a 0
config b 4
config c 8
start a history
start b matching
start c frontend,worker
h=127.0.0.1:$((base + 21))  # a: history
m=127.0.0.1:$((base + 26))  # b: matching
f=127.0.0.1:$((base + 28))  # c: frontend
w=127.0.0.1:$((base + 31))  # c: worker

joined=1
for n in a b c; do
    for id in $h $m $f $w; do
        wait_log "$tmp/$n.log" "member $id \(.*\) joined: alive" 15 || {
            joined=0
            no "join: $n sees $id" "$(tail -5 "$tmp/$n.log")"
        }
    done
done
[ $joined = 1 ] && ok "join: every process sees the 4 members (history, matching, frontend, worker)"

if grep -q "member $m (matching, 127.0.0.1:$((base + 6))) joined" "$tmp/a.log"; then
    ok "a member carries its role and gRPC address"
else
    no "a member carries its role and gRPC address" "$(grep "$m" "$tmp/a.log" | head -2)"
fi

# kill -9 the matching process: declared dead by the others
sleep 2
t0=$(now_ms)
kill -9 "${pid[b]}"
wait "${pid[b]}" 2>/dev/null
if wait_log "$tmp/a.log" "member $m .*-> dead" 20 && wait_log "$tmp/c.log" "member $m .*-> dead" 20; then
    ta=$(first_ms "$tmp/a.log" "member $m .*-> dead")
    tc=$(first_ms "$tmp/c.log" "member $m .*-> dead")
    ts=$(first_ms "$tmp/a.log" "member $m .*-> suspect")
    first=$((ta < tc ? ta : tc)) last=$((ta > tc ? ta : tc))
    ok "kill -9: declared dead (suspected after $((ts - t0)) ms, dead after $((first - t0)) ms, everywhere after $((last - t0)) ms)"
else
    no "kill -9: declared dead within 20 s" "$(grep "$m" "$tmp/a.log" | tail -3)"
fi
"$bin" cluster members --address "127.0.0.1:$((base + 8))" >"$tmp/members.out" 2>&1
if grep -qE "^matching +$m +127\.0\.0\.1:$((base + 6)) +dead " "$tmp/members.out" &&
    grep -qE "^history +$h +127\.0\.0\.1:$((base + 1)) +alive " "$tmp/members.out" &&
    [ "$(grep -c "answering process" "$tmp/members.out")" -eq 2 ]; then
    ok "cluster members: roles, addresses and statuses as the frontend sees them"
else
    no "cluster members" "$(cat "$tmp/members.out")"
fi
if grep -qE "member ($h|$f|$w) .*-> (suspect|dead)" "$tmp/a.log" "$tmp/c.log"; then
    no "no live member suspected" "$(grep -hE "member ($h|$f|$w) .*-> (suspect|dead)" "$tmp/a.log" "$tmp/c.log" | head -3)"
else
    ok "no live member suspected"
fi

# restart it: alive again everywhere
t0=$(now_ms)
start b matching
if wait_log "$tmp/a.log" "member $m .*dead -> alive" 15 && wait_log "$tmp/c.log" "member $m .*dead -> alive" 15; then
    ok "restart: the member is alive again ($(($(now_ms) - t0)) ms)"
else
    no "restart: the member is alive again" "$(grep "$m" "$tmp/a.log" | tail -3)"
fi

# another cluster name: refused with a clear line, never joins
CLUSTER=elsewhere config d 12
start d frontend
d_id=127.0.0.1:$((base + 32))
if wait_log "$tmp/a.log" "refusing member $d_id: it belongs to cluster 'elsewhere'" 10; then
    ok "another cluster name is refused: $(grep -m1 -o "refusing member.*" "$tmp/a.log")"
else
    no "another cluster name is refused" "$(tail -3 "$tmp/a.log")"
fi
# a wrong key: dropped and counted, never joins
config e 16 "key = not-the-cluster-key"
start e frontend
e_id=127.0.0.1:$((base + 36))
if wait_log "$tmp/a.log" "dropped [0-9]+ membership datagram\(s\) failing authentication" 15; then
    ok "datagrams with a MAC the cluster does not expect are dropped and counted"
else
    no "datagrams with a MAC are dropped and counted" "$(tail -3 "$tmp/a.log")"
fi
sleep 1
if grep -qE "member ($d_id|$e_id) .*joined" "$tmp/a.log" "$tmp/b.log" "$tmp/c.log"; then
    no "foreign processes never join" "$(grep -hE "member ($d_id|$e_id)" "$tmp/a.log" | head -2)"
else
    ok "foreign processes never join"
fi

# graceful stop: left, not dead
kill -TERM "${pid[c]}"
if wait_log "$tmp/a.log" "member $f .*-> left" 10; then
    ok "graceful stop: the others see it left"
else
    no "graceful stop: the others see it left" "$(grep "$f" "$tmp/a.log" | tail -3)"
fi

# seeds from the store: two processes on one PostgreSQL with no [cluster] seeds join through
# the cluster_membership rows, also after both restart together
skipped=0
if pgenv=$(PG_FSYNC=off scripts/pg-cluster.sh start "$pgdir" 2>"$tmp/pg.err"); then
    eval "$pgenv"
    NOSEEDS=1 DBURL=$PG_URL config p 20
    NOSEEDS=1 DBURL=$PG_URL config q 24
    ph=127.0.0.1:$((base + 41)) qm=127.0.0.1:$((base + 46))
    start p history
    wait_log "$tmp/p.log" "serving" 15
    start q matching
    if wait_log "$tmp/p.log" "member $qm .*joined: alive" 15 && wait_log "$tmp/q.log" "member $ph .*joined: alive" 15; then
        ok "seeds from cluster_membership: processes without [cluster] seeds join"
    else
        no "seeds from cluster_membership" "$(tail -3 "$tmp/q.log")"
    fi
    kill -9 "${pid[p]}" "${pid[q]}"
    wait "${pid[p]}" "${pid[q]}" 2>/dev/null
    : >"$tmp/p.log"
    : >"$tmp/q.log"
    start q matching
    start p history
    if wait_log "$tmp/p.log" "member $qm .*joined: alive" 15 && wait_log "$tmp/q.log" "member $ph .*joined: alive" 15; then
        ok "seeds from cluster_membership: both restarted at once, they join again"
    else
        no "seeds from cluster_membership after a full restart" "$(tail -3 "$tmp/q.log")"
    fi
else
    echo "# PostgreSQL: $(cat "$tmp/pg.err")"
    skipped=2
fi

if [ "$skipped" -gt 0 ]; then echo "membership: $pass passed, $fail failed, $skipped skipped"; else echo "membership: $pass passed, $fail failed"; fi
[ "$fail" -eq 0 ]
