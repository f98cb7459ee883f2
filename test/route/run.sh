#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Roles split across temporald processes on 127.0.0.1 (test/route/split.mjs): a private
# PostgreSQL cluster (scripts/pg-cluster.sh), its schema, then the SDK-driven checks of
# routing, shard ownership and moves. Skips (with the reason) when PostgreSQL is not
# installed. Closes with "N passed, N failed[, N skipped]".
# Usage: test/route/run.sh [path/to/temporald]; BUILD from the env.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
bin=$(realpath "${1:-$BUILD/temporald}")
tmp=$(mktemp -d)
pgdir=$tmp/pg
cleanup() {
    [ -d "$pgdir" ] && scripts/pg-cluster.sh stop "$pgdir" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -d test/js/node_modules/@temporalio/worker ]; then
    (cd test/js && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }
fi
out=$(scripts/pg-cluster.sh start "$pgdir" 2>"$tmp/pg.err")
rc=$?
if [ $rc -eq 3 ]; then
    echo "# $(cat "$tmp/pg.err")"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
elif [ $rc -ne 0 ]; then
    echo "# PostgreSQL did not start: $(tail -3 "$tmp/pg.err")"
    echo "0 passed, 1 failed"
    exit 1
fi
eval "$out"
"$bin" schema setup --db-url "$PG_URL" --log-level warn >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
cp "$bin" "$tmp/temporald"
TD_BIN="$tmp/temporald" PG_URL="$PG_URL" node test/route/split.mjs
