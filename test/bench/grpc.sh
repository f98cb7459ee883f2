#!/bin/bash
# gRPC benchmark: unary calls per second to a trivial method (/temporald.test.Test/Empty on
# test/progs/grpc_testserver, the same RPC layer as temporald's frontend) driven by h2load on
# loopback, at 1 connection and at 100 connections x 10 streams, next to nghttpd serving a
# small static file in the same run; prints both rates, their ratio (target >= 0.5) and the
# p99 latency at one connection, one call at a time (target < 1 ms). Figures, not a test.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
srv_bin=$BUILD/progs/grpc_testserver
N1=${BENCH_N1:-100000}      # requests for the 1-connection runs
N100=${BENCH_N100:-400000}  # requests for the 100x10 runs
# `make bench` builds temporald only; the test server comes with `make tests`.
[ -x "$srv_bin" ] || make -s "$srv_bin" >/dev/null 2>&1
for t in h2load nghttpd "$srv_bin"; do
    if ! command -v "$t" >/dev/null 2>&1 && [ ! -x "$t" ]; then
        echo "grpc bench: $t not found (scripts/deps.sh test installs nghttp2-client/-server;"
        echo "make tests builds $srv_bin)"
        exit 1
    fi
done
tmp=$(mktemp -d)
srv_pid="" ngh_pid=""
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
    [ -n "$ngh_pid" ] && kill "$ngh_pid" 2>/dev/null && wait "$ngh_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

"$srv_bin" --port 0 >"$tmp/srv.out" 2>"$tmp/srv.err" &
srv_pid=$!
for _ in $(seq 50); do grep -q '^port ' "$tmp/srv.out" && break; sleep 0.1; done
gport=$(awk '/^port /{print $2}' "$tmp/srv.out")
mkdir -p "$tmp/www"
printf 'hello from nghttpd, a small static file\n' >"$tmp/www/index.txt"
hport=$(free_port)
nghttpd --no-tls -d "$tmp/www" "$hport" >/dev/null 2>&1 &
ngh_pid=$!
sleep 0.5
printf '\0\0\0\0\0' >"$tmp/empty.grpc" # one empty Payload message

grpc_url="http://127.0.0.1:$gport/temporald.test.Test/Empty"
file_url="http://127.0.0.1:$hport/index.txt"
grpc_h=(-H 'content-type: application/grpc' -H 'te: trailers' -d "$tmp/empty.grpc")

# rate URL N CONNS STREAMS [extra h2load args...]: prints requests/s, checks all succeeded
rate() {
    local url=$1 n=$2 c=$3 m=$4
    shift 4
    h2load -t 1 -n "$n" -c "$c" -m "$m" "$@" "$url" >"$tmp/h2load.out" 2>&1
    local ok
    ok=$(awk '/^requests:/{for(i=1;i<=NF;i++) if($(i+1)=="succeeded,") print $i}' "$tmp/h2load.out")
    if [ "${ok:-0}" != "$n" ]; then
        echo "h2load: only ${ok:-0} of $n succeeded for $url" >&2
        grep -E '^(requests|status codes):' "$tmp/h2load.out" >&2
    fi
    awk '/^finished in/{gsub(",","",$4); print $4}' "$tmp/h2load.out"
}

# p99 latency (ms) of N sequential calls on one connection, from h2load's per-request log
p99() {
    local url=$1 n=$2
    shift 2
    h2load -t 1 -n "$n" -c 1 -m 1 --log-file="$tmp/lat.log" "$@" "$url" >/dev/null 2>&1
    sort -n -k3 "$tmp/lat.log" | awk -v n="$(wc -l <"$tmp/lat.log")" \
        'NR==int(n*0.99+0.5){printf "%.3f", $3/1000}'
}

# warm up both servers
rate "$grpc_url" 2000 1 10 "${grpc_h[@]}" >/dev/null
rate "$file_url" 2000 1 10 >/dev/null

g1=$(rate "$grpc_url" "$N1" 1 10 "${grpc_h[@]}")
f1=$(rate "$file_url" "$N1" 1 10)
g100=$(rate "$grpc_url" "$N100" 100 10 "${grpc_h[@]}")
f100=$(rate "$file_url" "$N100" 100 10)
gp99=$(p99 "$grpc_url" 20000 "${grpc_h[@]}")
fp99=$(p99 "$file_url" 20000)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
printf '%-44s %14s %14s %8s %s\n' "scenario" "temporald rps" "nghttpd rps" "ratio" "target"
printf '%-44s %14.0f %14.0f %8s %s\n' "1 connection x 10 streams" "$g1" "$f1" "$(ratio "$g1" "$f1")" ">= 0.5"
printf '%-44s %14.0f %14.0f %8s %s\n' "100 connections x 10 streams" "$g100" "$f100" "$(ratio "$g100" "$f100")" ">= 0.5"
printf '%-44s %14s %14s %8s %s\n' "p99 latency, 1 connection, 1 call at a time" "${gp99} ms" "${fp99} ms" "" "< 1 ms (temporald)"
