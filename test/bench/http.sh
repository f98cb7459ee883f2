#!/bin/bash
# HTTP API and metrics benchmark: DescribeWorkflowExecution requests per second through the
# HTTP API (HTTP/1.1 + JSON, h2load --h1) next to the same call over gRPC (h2c, h2load), on one
# start-dev with a SQLite file; then the gRPC rate again while /metrics is scraped every second
# (the cost of metrics), and the server CPU and size of one scrape. Rates are medians of
# interleaved rounds; server CPU per request (from /proc) is the steadier figure on a shared
# machine. Figures, not a test.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
bin=$BUILD/temporald
N=${BENCH_HTTP_N:-50000}
command -v h2load >/dev/null 2>&1 || { echo "http bench: h2load not found (scripts/deps.sh test)"; exit 1; }
tmp=$(mktemp -d)
pid="" scr_pid=""
cleanup() {
    [ -n "$scr_pid" ] && kill "$scr_pid" 2>/dev/null && wait "$scr_pid" 2>/dev/null
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
gport=$(free_port) hport=$(free_port) mport=$(free_port)
"$bin" start-dev --headless --port "$gport" --http-port "$hport" --metrics-port "$mport" \
    --db-filename "$tmp/db.sqlite" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$hport/api/v1/namespaces/default" && break; sleep 0.1; done
curl -s -X POST "http://127.0.0.1:$hport/api/v1/namespaces/default/workflows/bench-wf" \
    -d '{"workflowType":{"name":"Bench"},"taskQueue":{"name":"bench"},"input":["x"]}' >/dev/null

# DescribeWorkflowExecutionRequest{namespace: "default", execution: {workflow_id: "bench-wf"}}
printf '\x00\x00\x00\x00\x15\x0a\x07default\x12\x0a\x0a\x08bench-wf' >"$tmp/describe.grpc"
grpc_url="http://127.0.0.1:$gport/temporal.api.workflowservice.v1.WorkflowService/DescribeWorkflowExecution"
http_url="http://127.0.0.1:$hport/api/v1/namespaces/default/workflows/bench-wf"

# rate N ARGS...: requests/s of an h2load run, with a warning unless all succeeded
rate() {
    local n=$1
    shift
    h2load -t 1 -n "$n" "$@" >"$tmp/h2load.out" 2>&1
    local ok
    ok=$(awk '/^requests:/{for(i=1;i<=NF;i++) if($(i+1)=="succeeded,") print $i}' "$tmp/h2load.out")
    [ "${ok:-0}" = "$n" ] || echo "h2load: only ${ok:-0} of $n succeeded" >&2
    awk '/^finished in/{gsub(",","",$4); print $4}' "$tmp/h2load.out"
}
grpc() { rate "$N" -c 10 -m 10 -H 'content-type: application/grpc' -H 'te: trailers' -d "$tmp/describe.grpc" "$grpc_url"; }

# server CPU time in seconds (utime + stime), robust on a shared machine where rates are not
cpu() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$pid/stat"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

rate 2000 -c 10 -m 10 -H 'content-type: application/grpc' -H 'te: trailers' -d "$tmp/describe.grpc" "$grpc_url" >/dev/null
ROUNDS=${BENCH_HTTP_ROUNDS:-3}
for r in $(seq "$ROUNDS"); do
    c0=$(cpu); grpc >>"$tmp/g1"; c1=$(cpu)
    rate "$N" --h1 -c 10 -m 1 "$http_url" >>"$tmp/h1"; c2=$(cpu)
    echo "$c0 $c1" | awk -v n="$N" '{ printf "%.1f\n", ($2 - $1) * 1e6 / n }' >>"$tmp/gcpu"
    echo "$c1 $c2" | awk -v n="$N" '{ printf "%.1f\n", ($2 - $1) * 1e6 / n }' >>"$tmp/hcpu"
    (while :; do curl -s -o /dev/null "http://127.0.0.1:$mport/metrics"; sleep 1; done) &
    scr_pid=$!
    grpc >>"$tmp/g2"
    kill "$scr_pid" 2>/dev/null && wait "$scr_pid" 2>/dev/null
    scr_pid=""
done
g1=$(median <"$tmp/g1") h1=$(median <"$tmp/h1") g2=$(median <"$tmp/g2")
gc=$(median <"$tmp/gcpu") hc=$(median <"$tmp/hcpu")
c0=$(cpu)
for _ in $(seq 100); do curl -s -o "$tmp/metrics.txt" "http://127.0.0.1:$mport/metrics"; done
c1=$(cpu)
scrape_cpu=$(echo "$c0 $c1" | awk '{ printf "%.2f", ($2 - $1) * 1000 / 100 }')
lines=$(grep -vc '^#' "$tmp/metrics.txt")
bytes=$(wc -c <"$tmp/metrics.txt")

echo "median of $ROUNDS interleaved rounds of $N requests; load average $(cut -d' ' -f1 /proc/loadavg)"
printf '%-58s %12s %14s\n' "DescribeWorkflowExecution, 10 connections" "requests/s" "server CPU/req"
printf '%-58s %12s %12s us\n' "  gRPC (h2c, 10 streams each)" "$g1" "$gc"
printf '%-58s %12s %12s us\n' "  HTTP API (HTTP/1.1 + JSON, keep-alive)" "$h1" "$hc"
printf '%-58s %12s\n' "  gRPC while /metrics is scraped every second" "$g2"
awk -v a="$h1" -v b="$g1" 'BEGIN { printf "%-58s %12.2f\n", "  HTTP / gRPC requests/s", a / b }'
awk -v a="$g2" -v b="$g1" 'BEGIN { printf "%-58s %12.3f\n", "  gRPC with scraping / without", a / b }'
printf '%-58s %12s ms\n' "one /metrics scrape: server CPU (mean of 100)" "$scrape_cpu"
printf '%-58s %12s\n' "one /metrics scrape: samples, bytes" "$lines, $bytes"
