#!/bin/bash
# Process-level tests of the temporald executable: exit codes, one-line errors on bad
# input and on a failed start (port in use), and the start-dev lifecycle (serves until
# SIGTERM, then exits 0).
# Usage: run.sh PATH/TO/temporald
set -u
bin=${1:?usage: run.sh temporald}
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
no() { echo "not ok - $1${2:+: $2}"; fail=$((fail + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# bad input: exit status 2 and exactly one line on stderr naming the token
expect_usage_error() {
    local want=$1; shift
    "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    local lines
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -qF -- "$want" "$tmp/err"; then
        ok "bad input: $*"
    else
        no "bad input: $*" "exit $rc, $lines line(s): $(head -c 300 "$tmp/err")"
    fi
}
expect_usage_error "unknown command 'nope'" nope
expect_usage_error "unknown flag '--bogus'" start-dev --bogus
expect_usage_error "flag '--port' needs a value" start-dev --port
expect_usage_error "expected a port" start-dev --port 123456
expect_usage_error "unknown role 'scheduler'" start --config /dev/null --services frontend,scheduler
printf '[server]\nip = 127.0.0.1\n[nosuch]\n' >"$tmp/bad.ini"
expect_usage_error "$tmp/bad.ini:3: unknown section [nosuch]" start --config "$tmp/bad.ini"

if "$bin" version | grep -q '^temporald [0-9]'; then ok "version"; else no "version"; fi
if "$bin" start-dev --help | grep -q -- '--dynamic-config-value'; then ok "start-dev --help"; else no "start-dev --help"; fi
if "$bin" --help | grep -q 'start-dev'; then ok "--help"; else no "--help"; fi

# a free port: the kernel picks one
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 17233)

# lifecycle: the line @temporalio/testing uses; alive after a second, exit 0 on SIGTERM
"$bin" server start-dev --port "$port" --namespace default --ip 127.0.0.1 --log-format pretty \
    --log-level warn --headless --dynamic-config-value frontend.enableServerVersionCheck=false \
    >"$tmp/dev.out" 2>"$tmp/dev.err" &
pid=$!
sleep 1
if kill -0 "$pid" 2>/dev/null; then
    ok "start-dev keeps running"
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    if [ "$rc" -eq 0 ]; then ok "start-dev exits 0 on SIGTERM"; else no "start-dev exits 0 on SIGTERM" "exit $rc"; fi
else
    wait "$pid"
    no "start-dev keeps running" "exited $?: $(head -c 300 "$tmp/dev.err")"
fi

"$bin" start-dev --port "$port" --headless --log-level error >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -INT "$pid"
wait "$pid"
rc=$?
if [ "$rc" -eq 0 ]; then ok "start-dev exits 0 on SIGINT"; else no "start-dev exits 0 on SIGINT" "exit $rc"; fi

# the banner names the UI, HTTP API and metrics addresses; each answers there
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
uport=$(free) hport=$(free) mport=$(free)
"$bin" start-dev --port "$port" --ui-port "$uport" --http-port "$hport" --metrics-port "$mport" \
    --log-level error >"$tmp/banner.out" 2>"$tmp/banner.err" &
pid=$!
for _ in $(seq 50); do grep -q '^Metrics:' "$tmp/banner.out" && break; sleep 0.1; done
if grep -qx "UI:      http://127.0.0.1:$uport" "$tmp/banner.out" &&
    grep -qx "HTTP:    http://127.0.0.1:$hport" "$tmp/banner.out" &&
    grep -qx "Metrics: http://127.0.0.1:$mport/metrics" "$tmp/banner.out" &&
    curl -sf "http://127.0.0.1:$uport/" | grep -q '<title>temporald</title>' &&
    curl -sf "http://127.0.0.1:$hport/api/v1/namespaces/default" | grep -q '"name":"default"' &&
    curl -sf "http://127.0.0.1:$mport/metrics" | grep -q '^process_open_fds '; then
    ok "start-dev banner: UI, HTTP and metrics addresses, each serving"
else
    no "start-dev banner" "$(cat "$tmp/banner.out" "$tmp/banner.err" | head -c 400)"
fi
kill -TERM "$pid"
wait "$pid"

# cluster members against start-dev: its four local members, alive; no membership socket
expect_usage_error "--address 'nowhere': expected HOST:PORT" cluster members --address nowhere
expect_usage_error "unknown cluster command 'list'" cluster list
"$bin" start-dev --port "$port" --headless --log-level error >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do
    "$bin" cluster members --address "127.0.0.1:$port" >"$tmp/members.out" 2>&1 && break
    sleep 0.1
done
if [ "$(grep -cE '^(frontend|history|matching|worker) +127\.0\.0\.1:69[0-9]+ .* alive .*answering process' "$tmp/members.out")" -eq 4 ]; then
    ok "cluster members on start-dev: the four local roles, alive"
else
    no "cluster members on start-dev" "$(cat "$tmp/members.out")"
fi
if ss -lunp 2>/dev/null | grep -q "pid=$pid,"; then
    no "start-dev opens no membership socket" "$(ss -lunp | grep "pid=$pid,")"
else
    ok "start-dev opens no membership socket"
fi
kill -TERM "$pid"
wait "$pid"
if "$bin" cluster members --address "127.0.0.1:$port" >"$tmp/members.out" 2>&1; then
    no "cluster members without a server fails"
elif grep -q "^temporald: cluster members: UNAVAILABLE" "$tmp/members.out"; then
    ok "cluster members without a server fails with one line"
else
    no "cluster members without a server fails with one line" "$(cat "$tmp/members.out")"
fi

# A port already in use: exit 1 and exactly one line naming the cause, for start-dev and for
# start (also with --ip localhost, the Temporal CLI's default address); never a crash, and no
# sanitizer report in the sanitizer build (that would be more lines).
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(300)' >"$tmp/holder.port" &
holder=$!
for _ in $(seq 100); do [ -s "$tmp/holder.port" ] && break; sleep 0.05; done
busy=$(cat "$tmp/holder.port")
printf '[server]\nip = localhost\nlog_level = warn\n[frontend]\nport = %s\n[persistence]\nurl = sqlite://%s\n' \
    "$busy" "$tmp/start.db" >"$tmp/start.ini"
"$bin" schema setup --config "$tmp/start.ini" >/dev/null 2>&1
expect_start_failure() {
    local what=$1; shift
    "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    local lines
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -eq 1 ] && [ "$lines" -eq 1 ] &&
        grep -qF "cannot listen on 127.0.0.1:$busy: Address already in use" "$tmp/err"; then
        ok "port in use: $what"
    else
        no "port in use: $what" "exit $rc, $lines line(s): $(head -c 600 "$tmp/err")"
    fi
}
expect_start_failure "start-dev" start-dev --port "$busy" --db-filename "$tmp/dev.db"
expect_start_failure "start-dev --ip localhost" start-dev --ip localhost --port "$busy" \
    --db-filename "$tmp/dev.db"
expect_start_failure "start (ip = localhost)" start --config "$tmp/start.ini"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

# --ip localhost serves on 127.0.0.1
"$bin" start-dev --ip localhost --port "$port" --headless --db-filename "$tmp/local.db" \
    >"$tmp/local.out" 2>"$tmp/local.err" &
pid=$!
for _ in $(seq 100); do grep -q "^temporald server:" "$tmp/local.out" && break; sleep 0.05; done
if grep -qxF "temporald server: 127.0.0.1:$port" "$tmp/local.out"; then
    ok "start-dev --ip localhost serves on 127.0.0.1"
else
    no "start-dev --ip localhost serves on 127.0.0.1" "$(head -c 300 "$tmp/local.out" "$tmp/local.err")"
fi
kill -TERM "$pid"
wait "$pid"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
