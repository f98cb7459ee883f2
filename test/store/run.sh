#!/bin/bash
# The store suite: the C conformance suite (build/*/test-store) against every backend URL,
# then process-level checks on SQLite files: SIGKILL in the middle of a load (every
# acknowledged transaction present in full, none in part), injected I/O errors in a writer
# process, and the `temporald schema` command with `start`'s schema refusal.
# URLs: sqlite://:memory:, a folder of per-test SQLite files, plus TD_TEST_DB_URL when set
# (e.g. postgres://user:pass@127.0.0.1:PORT/db started by the caller).
# Usage: run.sh PATH/TO/temporald    (BUILD in the environment names the build folder)
set -u
bin=${1:?usage: run.sh temporald}
BUILD=${BUILD:-$(dirname "$bin")}
pass=0 fail=0 skip=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
no() { echo "not ok - $1${2:+: $2}"; fail=$((fail + 1)); }
tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- PostgreSQL (a throwaway cluster from scripts/pg-cluster.sh; owner: the postgres backend):
# SIGKILL crash rounds, injected connection loss (TD_STORE_PG_FAULT) and the schema command
# here; the conformance pass below runs against it through TD_TEST_DB_URL ----
pgdir=$tmp/pg
trap 'scripts/pg-cluster.sh stop "$pgdir" >/dev/null 2>&1; cleanup' EXIT
if pgenv=$(PG_SSL=1 scripts/pg-cluster.sh start "$pgdir" 2>"$tmp/pg.err"); then
    eval "$pgenv"
    if [ -n "${PG_SSL_ROOT:-}" ]; then export TD_TEST_PG_SSLROOT=$PG_SSL_ROOT; fi
    pgdb() { # a fresh database; prints its URL
        scripts/pg-cluster.sh psql "$pgdir" -d postgres -c "CREATE DATABASE $1 OWNER temporald" >/dev/null &&
            echo "postgres://temporald:tdpass@127.0.0.1:$PG_PORT/$1"
    }
    crash=$BUILD/progs/store_crash
    for round in 1 2; do
        db=$(pgdb "crash$round")
        "$crash" write "$db" 48 >"$tmp/pack$round.log" 2>"$tmp/pcrash$round.err" &
        pid=$!
        pids="$pids $pid"
        # kill in full flight: once it has acknowledged some (a busy machine starts slowly)
        for _ in $(seq 1 100); do
            [ "$(wc -l <"$tmp/pack$round.log")" -ge 20 ] && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        sleep "0.$((round * 3))"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        acks=$(wc -l <"$tmp/pack$round.log")
        if [ "$acks" -lt 20 ]; then
            no "postgres crash round $round" "writer acknowledged only $acks: $(head -c 300 "$tmp/pcrash$round.err")"
        elif out=$("$crash" check "$db" "$tmp/pack$round.log" 2>&1); then
            ok "postgres crash round $round: SIGKILL after $acks acks; $out"
        else
            no "postgres crash round $round" "$(echo "$out" | head -5 | tr '\n' ' ')"
        fi
    done
    # connection lost before the 400th statement: the writer sees EUNAVAIL, nothing in part
    db=$(pgdb fault1)
    TD_STORE_PG_FAULT=stmt:400 timeout 30 "$crash" write "$db" 16 >"$tmp/pfack.log" 2>"$tmp/pferr.log"
    rc=$?
    if [ "$rc" -eq 3 ] && grep -q EUNAVAIL "$tmp/pferr.log" && out=$("$crash" check "$db" "$tmp/pfack.log" 2>&1); then
        ok "postgres connection lost: writer saw EUNAVAIL after $(wc -l <"$tmp/pfack.log") acks; database whole ($out)"
    else
        no "postgres connection lost" "exit $rc; $(head -c 200 "$tmp/pferr.log"); $(echo "${out:-}" | head -3)"
    fi
    # COMMIT reply lost: resolved through the commit marker, the writer carries on
    db=$(pgdb fault2)
    TD_STORE_PG_FAULT=commit:20 "$crash" write "$db" 16 >"$tmp/pcack.log" 2>"$tmp/pcerr.log" &
    pid=$!
    pids="$pids $pid"
    for _ in $(seq 1 100); do
        [ "$(wc -l <"$tmp/pcack.log")" -ge 100 ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    sleep 0.5
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ "$(wc -l <"$tmp/pcack.log")" -gt 100 ] && ! [ -s "$tmp/pcerr.log" ] &&
        out=$("$crash" check "$db" "$tmp/pcack.log" 2>&1); then
        ok "postgres COMMIT reply lost: resolved, $(wc -l <"$tmp/pcack.log") acks, database whole ($out)"
    else
        no "postgres COMMIT reply lost" "$(head -c 200 "$tmp/pcerr.log"); $(echo "${out:-}" | head -3)"
    fi
    # the schema command through the postgres backend
    db=$(pgdb schema1)
    if "$bin" schema setup --db-url "$db" >"$tmp/o" 2>"$tmp/e" && grep -q "0 -> " "$tmp/o" &&
        "$bin" schema update --db-url "$db" >"$tmp/o2" 2>&1 && grep -q "already at version" "$tmp/o2" &&
        "$bin" schema version --db-url "$db" 2>&1 | grep -q "^schema version" &&
        ! "$bin" schema setup --db-url "$db" >/dev/null 2>&1; then
        ok "postgres schema setup/update/version: $(cat "$tmp/o")"
    else
        no "postgres schema command" "$(cat "$tmp/o" "$tmp/e" "$tmp/o2" 2>/dev/null | head -c 300)"
    fi
    if ! "$bin" schema version --db-url "postgres://temporald:wrong@127.0.0.1:$PG_PORT/temporald" \
        >/dev/null 2>"$tmp/e" && grep -q "password authentication failed" "$tmp/e"; then
        ok "postgres wrong password is one clear error"
    else
        no "postgres wrong password" "$(head -c 300 "$tmp/e")"
    fi
    if [ -z "${TD_TEST_DB_URL:-}" ]; then
        TD_TEST_DB_URL=$(pgdb conformance)
        export TD_TEST_DB_URL
        export TD_TEST_PG_DIR=$pgdir # lets the outage test stop and restart this cluster
    fi
else
    echo "# $(cat "$tmp/pg.err")"
    echo "# skipped: postgres suites (crash, fault, schema, conformance) need a local PostgreSQL server"
fi

# ---- conformance, once per backend URL ----
urls="sqlite://:memory: sqlite://$tmp/conf/"
mkdir -p "$tmp/conf"
if [ -n "${TD_TEST_DB_URL:-}" ]; then urls="$urls $TD_TEST_DB_URL"; fi
for u in $urls; do
    echo "# conformance against $u"
    TD_TEST_DB_URL=$u "$BUILD/test-store" >"$tmp/conf.out" 2>&1
    rc=$?
    grep -E '^(ok|not ok|#)' "$tmp/conf.out" | sed "s|^|  |"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/conf.out" | tail -1)
    if [ -z "$line" ]; then
        no "conformance $u" "no closing line (exit $rc)"
        continue
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | grep -oE '[0-9]+ skipped' | cut -d' ' -f1)
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + ${s:-0}))
    echo "# $u: $line"
done
rm -rf "$tmp/conf"

# ---- crash safety: SIGKILL a writer in the middle of a load, three times ----
crash=$BUILD/progs/store_crash
for round in 1 2 3; do
    db="sqlite://$tmp/crash$round.db"
    "$crash" write "$db" 48 >"$tmp/ack$round.log" 2>"$tmp/crash$round.err" &
    pid=$!
    pids="$pids $pid"
    sleep "0.$((round * 3))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    acks=$(wc -l <"$tmp/ack$round.log")
    if [ "$acks" -lt 100 ]; then
        no "crash round $round" "writer acknowledged only $acks transactions: $(head -c 300 "$tmp/crash$round.err")"
    elif out=$("$crash" check "$db" "$tmp/ack$round.log" 2>&1); then
        ok "crash round $round: SIGKILL after $acks acks; $out"
    else
        no "crash round $round" "$(echo "$out" | head -5 | tr '\n' ' ')"
    fi
done

# ---- injected I/O errors in a writer process (TD_STORE_FAULT) ----
for fault in eio:300:-1 full:300:-1; do
    db="sqlite://$tmp/fault-${fault%%:*}.db"
    TD_STORE_FAULT=$fault timeout 20 "$crash" write "$db" 16 >"$tmp/fack.log" 2>"$tmp/ferr.log"
    rc=$?
    want=$([ "${fault%%:*}" = eio ] && echo EIO || echo EFULL)
    if [ "$rc" -eq 3 ] && grep -q "$want" "$tmp/ferr.log" &&
        out=$("$crash" check "$db" "$tmp/fack.log" 2>&1); then
        ok "fault $fault: writer saw $want after $(wc -l <"$tmp/fack.log") acks; database whole ($out)"
    else
        no "fault $fault" "exit $rc; $(head -c 200 "$tmp/ferr.log"); $(echo "${out:-}" | head -3)"
    fi
done

# ---- the schema command and start's refusal ----
url="sqlite://$tmp/schema.db"
printf '[persistence]\nurl = %s\n[server]\nip = 127.0.0.1\n' "$url" >"$tmp/s.ini"
if "$bin" start --config "$tmp/s.ini" >"$tmp/o" 2>"$tmp/e"; then
    no "start without a database" "exit 0"
elif grep -q "temporald schema setup" "$tmp/e"; then
    ok "start without a database names 'temporald schema setup'"
else
    no "start without a database" "$(head -c 300 "$tmp/e")"
fi
if "$bin" schema setup --config "$tmp/s.ini" >"$tmp/o" 2>"$tmp/e" && grep -q "0 -> " "$tmp/o"; then
    ok "schema setup: $(cat "$tmp/o")"
else
    no "schema setup" "$(cat "$tmp/o" "$tmp/e" | head -c 300)"
fi
if "$bin" schema update --config "$tmp/s.ini" >"$tmp/o" 2>&1 && grep -q "already at version" "$tmp/o" &&
    "$bin" schema update --config "$tmp/s.ini" >/dev/null 2>&1; then
    ok "schema update is idempotent: $(cat "$tmp/o")"
else
    no "schema update" "$(head -c 300 "$tmp/o")"
fi
if "$bin" schema version --config "$tmp/s.ini" >"$tmp/o" 2>&1 && grep -q "^schema version" "$tmp/o"; then
    ok "schema version: $(cat "$tmp/o")"
else
    no "schema version" "$(head -c 300 "$tmp/o")"
fi
if ! "$bin" schema setup --config "$tmp/s.ini" >"$tmp/o" 2>"$tmp/e" && grep -q "schema update" "$tmp/e"; then
    ok "schema setup refuses an existing schema"
else
    no "schema setup twice" "$(head -c 300 "$tmp/e")"
fi
if python3 -c "import sqlite3;c=sqlite3.connect('$tmp/schema.db');c.execute('update schema_version set version=version+1');c.commit()" 2>/dev/null; then
    if "$bin" start --config "$tmp/s.ini" >"$tmp/o" 2>"$tmp/e"; then
        no "start on a newer schema" "exit 0"
    elif grep -q "newer" "$tmp/e"; then
        ok "start refuses a newer schema"
    else
        no "start on a newer schema" "$(head -c 300 "$tmp/e")"
    fi
fi
if ! "$bin" schema version --db-url "nope://x" >"$tmp/o" 2>"$tmp/e" && grep -q "unknown scheme" "$tmp/e"; then
    ok "bad db url is one clear error"
else
    no "bad db url" "$(head -c 300 "$tmp/e")"
fi

echo
if [ "$skip" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
