#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Workflow benchmarks end to end, each figure printed beside its target: temporald_bench
# (test/progs/temporald_bench.c, a client and minimal worker on the public API) runs the
# single-activity scenario (closed loop, INFLIGHT in flight; open loop at RATE starts/s), the
# signal scenario and the 1 s timer scenario against SQLite (a file, synchronous=FULL) and
# PostgreSQL (a throwaway cluster from scripts/pg-cluster.sh, fsync on), each run against a
# fresh `temporald start-dev` on a free port, stopped by its PID; then the same
# single-activity scenario driven by the TypeScript SDK (test/bench/sdk_single_activity.mjs),
# and the start-dev cold start and idle RSS. Figures, not a test: a run whose RPCs fail or
# whose histories are wrong shows "failed" in the table (and its output above it).
# Environment: BUILD (build/release), DURATION (10 s window), WARMUP (2 s), INFLIGHT (200),
# RATE (1000), SDK_INFLIGHT (50), BACKENDS ("sqlite postgres"), SKIP_SDK=1.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
INFLIGHT=${INFLIGHT:-200}
RATE=${RATE:-1000}
SDK_INFLIGHT=${SDK_INFLIGHT:-50}
BACKENDS=${BACKENDS:-sqlite postgres}
server=$BUILD/temporald
bench=$BUILD/progs/temporald_bench
for f in "$server" "$bench"; do
    if [ ! -x "$f" ]; then
        echo "workflows bench: $f missing (make tests)"
        exit 1
    fi
done

load0=$(cut -d" " -f1-3 /proc/loadavg)
tmp=$(mktemp -d /tmp/td-wf-bench.XXXXXX)
srv_pid=""
pg_started=""
stop_server() {
    [ -n "$srv_pid" ] || return 0
    kill "$srv_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$srv_pid" 2>/dev/null
    wait "$srv_pid" 2>/dev/null
    srv_pid=""
}
cleanup() {
    stop_server
    [ -n "$pg_started" ] && scripts/pg-cluster.sh stop "$tmp/pg" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server BACKEND RUN: a fresh temporald start-dev on a free port (fresh SQLite file or a
# fresh PostgreSQL database); sets srv_pid and srv_port, returns 1 if it did not come up.
nrun=0
start_server() {
    local backend=$1 run=$2 db
    nrun=$((nrun + 1))
    if [ "$backend" = sqlite ]; then
        db=(--db-filename "$tmp/$run.db")
    else
        scripts/pg-cluster.sh psql "$tmp/pg" -d postgres -q \
            -c "CREATE DATABASE b$nrun OWNER temporald" >/dev/null
        db=(--db-url "postgres://temporald:tdpass@127.0.0.1:$PG_PORT/b$nrun")
    fi
    srv_port=$(free_port)
    "$server" start-dev --ip 127.0.0.1 --port "$srv_port" --headless --log-level warn "${db[@]}" \
        >"$tmp/$run.server.log" 2>&1 &
    srv_pid=$!
    for _ in $(seq 200); do
        (echo >"/dev/tcp/127.0.0.1/$srv_port") 2>/dev/null && return 0
        kill -0 "$srv_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "workflows bench: temporald did not start for $run:"
    tail -5 "$tmp/$run.server.log"
    stop_server
    return 1
}

declare -A R # R[run.key] = figure from a "BENCH key value" line
# run_bench RUN BACKEND bench-args...: one temporald_bench run on a fresh server
run_bench() {
    local run=$1 backend=$2
    shift 2
    echo "--- $run ($backend): temporald_bench run $*"
    if ! start_server "$backend" "$run"; then
        R[$run.failed]=1
        return
    fi
    local dbpid=()
    [ "$backend" = postgres ] && dbpid=(--db-pid "$PG_PID")
    "$bench" run --port "$srv_port" --server-pid "$srv_pid" "${dbpid[@]}" --duration "$DURATION" \
        --warmup "$WARMUP" "$@" >"$tmp/$run.out" 2>&1
    local rc=$?
    stop_server
    grep -v '^BENCH ' "$tmp/$run.out"
    if [ $rc -ne 0 ]; then
        R[$run.failed]=1
        echo "(temporald_bench exited $rc; server log tail:)"
        tail -5 "$tmp/$run.server.log"
    fi
    while read -r _ k v _; do R[$run.$k]=$v; done < <(grep '^BENCH ' "$tmp/$run.out")
}

for backend in $BACKENDS; do
    if [ "$backend" = postgres ]; then
        if ! pgenv=$(scripts/pg-cluster.sh start "$tmp/pg" 2>"$tmp/pg.err"); then
            echo "workflows bench: PostgreSQL $(cat "$tmp/pg.err")"
            continue
        fi
        pg_started=1
        eval "$pgenv"
    fi
    run_bench "$backend.closed" "$backend" --scenario single-activity --inflight "$INFLIGHT"
    run_bench "$backend.open" "$backend" --scenario single-activity --rate "$RATE" --drain 15
    run_bench "$backend.signal" "$backend" --scenario signal --inflight 100
    run_bench "$backend.timer" "$backend" --scenario timer --inflight "$INFLIGHT"
done

if [ -z "${SKIP_SDK:-}" ] && command -v node >/dev/null && [ -d test/js/node_modules/@temporalio ]; then
    echo "--- sdk (sqlite): node test/bench/sdk_single_activity.mjs ($SDK_INFLIGHT in flight)"
    if start_server sqlite sdk; then
        node test/bench/sdk_single_activity.mjs "$srv_port" "$SDK_INFLIGHT" "$DURATION" 3 \
            "$srv_pid" >"$tmp/sdk.out" 2>&1
        rc=$?
        R[sdk.hwm]=$(awk '/^VmHWM:/{printf "%.1f", $2/1024}' "/proc/$srv_pid/status" 2>/dev/null)
        stop_server
        grep -v '^BENCH ' "$tmp/sdk.out"
        [ $rc -eq 0 ] || { R[sdk.failed]=1; echo "(sdk bench exited $rc)"; }
        while read -r _ k v _; do R[sdk.$k]=$v; done < <(grep '^BENCH ' "$tmp/sdk.out")
    else
        R[sdk.failed]=1
    fi
else
    echo "--- sdk: skipped (SKIP_SDK set, or node / test/js/node_modules missing)"
fi

echo "--- cold start: temporald_bench coldstart (in-memory SQLite, then a new SQLite file)"
"$bench" coldstart --temporald "$server" --runs 10 --settle-ms 1000 >"$tmp/cold.out" 2>&1 ||
    R[cold.failed]=1
"$bench" coldstart --temporald "$server" --runs 10 --settle-ms 1000 -- \
    --db-filename '{dir}/db.sqlite' >"$tmp/coldf.out" 2>&1 || R[coldf.failed]=1
grep -v '^BENCH ' "$tmp/cold.out" "$tmp/coldf.out"
while read -r _ k v _; do R[cold.$k]=$v; done < <(grep '^BENCH ' "$tmp/cold.out")
while read -r _ k v _; do R[coldf.$k]=$v; done < <(grep '^BENCH ' "$tmp/coldf.out")

# ---- the table ----
# fig RUN KEY: the figure ("!" after it when its run did not end cleanly), "failed" or "-"
fig() {
    local v=${R[$1.$2]:-}
    if [ -n "${R[$1.failed]:-}" ]; then
        if [ -n "$v" ]; then echo "$v!"; else echo failed; fi
        return
    fi
    echo "${v:--}"
}
# mark VALUE OP LIMIT: "ok" or "MISSED" (nothing when the value is not a number)
mark() {
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
        if (v !~ /^[0-9.]+$/) exit
        ok = (op == ">=") ? (v + 0 >= l + 0) : (v + 0 < l + 0)
        print ok ? "ok" : "MISSED" }'
}
row() { # label target sqlite-value postgres-value [op limit-sqlite limit-postgres]
    local s=$3 p=$4 ms="" mp=""
    if [ $# -ge 7 ]; then
        ms=$(mark "$s" "$5" "$6")
        mp=$(mark "$p" "$5" "$7")
    fi
    printf '%-52s %-18s %17s %-6s %17s %-6s\n' "$1" "$2" "$s" "$ms" "$p" "$mp"
}
# one decimal for the latency triples, so the columns stay narrow
f1() {
    awk -v v="$1" 'BEGIN { if (v ~ /^[0-9.]+!?$/) { n = v; sub(/!/, "", n); printf "%.1f%s", n,
        (v ~ /!/) ? "!" : "" } else printf "%s", v }'
}
trio() { echo "$(f1 "$(fig "$1" "$2_p50_ms")")/$(f1 "$(fig "$1" "$2_p95_ms")")/$(f1 "$(fig "$1" "$2_p99_ms")")"; }

echo
echo "workflow benchmark: $(nproc) cores, load generator on the same machine," \
    "$("$server" version 2>&1 | head -1), ${DURATION} s windows after ${WARMUP} s warm-up;" \
    "load average at the start: $load0"
printf '%-52s %-18s %17s %-6s %17s %-6s\n' "figure" "target" "SQLite FULL" "" "PostgreSQL" ""
row "single-activity, $INFLIGHT in flight: workflows/s" ">= 2000 / >= 1000" \
    "$(fig sqlite.closed wf_per_s)" "$(fig postgres.closed wf_per_s)" ">=" 2000 1000
row "  state transitions/s (server-reported)" "" \
    "$(fig sqlite.closed transitions_per_s)" "$(fig postgres.closed transitions_per_s)"
row "  StartWorkflowExecution p50/p95/p99 ms" "" "$(trio sqlite.closed start)" \
    "$(trio postgres.closed start)"
row "  RespondWorkflowTaskCompleted p50/p95/p99 ms" "" "$(trio sqlite.closed done_wft)" \
    "$(trio postgres.closed done_wft)"
row "  RespondActivityTaskCompleted p50/p95/p99 ms" "" "$(trio sqlite.closed done_act)" \
    "$(trio postgres.closed done_act)"
row "  PollWorkflowTaskQueue p50/p95/p99 ms (waits)" "" "$(trio sqlite.closed poll_wft)" \
    "$(trio postgres.closed poll_wft)"
row "  PollActivityTaskQueue p50/p95/p99 ms (waits)" "" "$(trio sqlite.closed poll_act)" \
    "$(trio postgres.closed poll_act)"
row "  end to end p50/p95/p99 ms" "" "$(trio sqlite.closed e2e)" "$(trio postgres.closed e2e)"
row "  server CPU s per 1,000 workflows" "" "$(fig sqlite.closed server_cpu_s_per_1000)" \
    "$(fig postgres.closed server_cpu_s_per_1000)"
row "  PostgreSQL CPU s per 1,000 workflows" "" "-" "$(fig postgres.closed db_cpu_s_per_1000)"
row "  server peak RSS MiB under the load (VmHWM)" "< 200" \
    "$(fig sqlite.closed server_hwm_load_mib)" "$(fig postgres.closed server_hwm_load_mib)" \
    "<" 200 200
row "  server peak RSS MiB after the history checks" "" "$(fig sqlite.closed server_hwm_mib)" \
    "$(fig postgres.closed server_hwm_mib)"
row "open loop $RATE starts/s: achieved workflows/s" "" "$(fig sqlite.open wf_per_s)" \
    "$(fig postgres.open wf_per_s)"
row "  StartWorkflowExecution p99 ms" "< 10" "$(fig sqlite.open start_p99_ms)" \
    "$(fig postgres.open start_p99_ms)" "<" 10 10
row "  StartWorkflowExecution p50 ms" "" "$(fig sqlite.open start_p50_ms)" \
    "$(fig postgres.open start_p50_ms)"
row "  end to end p50/p95/p99 ms" "" "$(trio sqlite.open e2e)" "$(trio postgres.open e2e)"
row "signal (start, 10 signals, complete), 100: wf/s" "" "$(fig sqlite.signal wf_per_s)" \
    "$(fig postgres.signal wf_per_s)"
row "  SignalWorkflowExecution p50/p95/p99 ms" "" "$(trio sqlite.signal signal)" \
    "$(trio postgres.signal signal)"
row "timer (1 s), $INFLIGHT in flight: workflows/s" "" "$(fig sqlite.timer wf_per_s)" \
    "$(fig postgres.timer wf_per_s)"
row "  end to end p50/p99 ms (1000 ms is the timer)" "" \
    "$(f1 "$(fig sqlite.timer e2e_p50_ms)")/$(f1 "$(fig sqlite.timer e2e_p99_ms)")" \
    "$(f1 "$(fig postgres.timer e2e_p50_ms)")/$(f1 "$(fig postgres.timer e2e_p99_ms)")"
row "TypeScript SDK single-activity, $SDK_INFLIGHT: wf/s" "" "$(fig sdk sdk_wf_per_s)" "-"
row "  start p99 ms / end to end p50/p99 ms" "" \
    "$(f1 "$(fig sdk sdk_start_p99_ms)") / $(f1 "$(fig sdk sdk_e2e_p50_ms)")/$(f1 "$(fig sdk sdk_e2e_p99_ms)")" "-"
row "  server CPU s per 1,000 workflows" "" "$(fig sdk sdk_server_cpu_s_per_1000)" "-"
row "start-dev cold start ms (in-memory / new file)" "< 100" "$(fig cold cold_start_ms)" \
    "$(fig coldf cold_start_ms)" "<" 100 100
row "start-dev idle RSS MiB (in-memory / new file)" "< 20" "$(fig cold idle_rss_mib)" \
    "$(fig coldf idle_rss_mib)" "<" 20 20
echo "(! = from a run that did not end cleanly -- an RPC failed, a history was wrong or the"
echo " workflows did not all complete in time; its output above says which)"
exit 0
