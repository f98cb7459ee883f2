#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Store benchmark on PostgreSQL: execution-update transactions per second -- each one updates
# an execution row, appends a 5-event history batch and inserts 2 transfer tasks -- with 1 and
# 64 concurrent submitters (test/progs/store_bench through the postgres backend), printed next
# to the raw rate of single-row INSERT commits on the same server in the same run (pgbench, 1
# and 64 clients). The server is a throwaway cluster (scripts/pg-cluster.sh, fsync on) on a
# free port, stopped by its PID at the end. Each figure is the median of ROUNDS runs of
# SECONDS seconds, each txn run on a fresh database. Prints figures; does not pass or fail.
# Environment: BUILD (default build/release), ROUNDS (3), SECONDS (3).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
ROUNDS=${ROUNDS:-3}
SECONDS_EACH=${SECONDS:-3}
bench=$BUILD/progs/store_bench
if [ ! -x "$bench" ]; then
    echo "store_pg bench: $bench missing (make tests)"
    exit 1
fi
dir=$(mktemp -d /tmp/td-store-pg-bench.XXXXXX)
trap 'scripts/pg-cluster.sh stop "$dir/pg" >/dev/null 2>&1; rm -rf "$dir"' EXIT
if ! pgenv=$(scripts/pg-cluster.sh start "$dir/pg" 2>"$dir/err"); then
    echo "store_pg bench: $(cat "$dir/err")"
    exit 0
fi
eval "$pgenv"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
psql_admin() { scripts/pg-cluster.sh psql "$dir/pg" -d postgres "$@" >/dev/null; }
echo "CREATE TABLE IF NOT EXISTS raw_t (id BIGSERIAL PRIMARY KEY, v BYTEA);" |
    scripts/pg-cluster.sh psql "$dir/pg" -d temporald -U temporald >/dev/null
echo "INSERT INTO raw_t (v) VALUES (decode(repeat('70', 100), 'hex'));" >"$dir/raw.sql"

configs="raw:1 raw:64 txn:1 txn:64"
declare -A results
n=0
for r in $(seq 1 "$ROUNDS"); do
    for c in $configs; do
        IFS=: read -r kind subs <<<"$c"
        if [ "$kind" = raw ]; then
            out=$(PGPASSWORD=tdpass "$pgbin/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U temporald -n \
                -c "$subs" -j 2 -T "$SECONDS_EACH" -f "$dir/raw.sql" temporald 2>&1)
            rate=$(echo "$out" | sed -n 's/^tps = \([0-9]*\).*/\1/p' | head -1)
        else
            n=$((n + 1))
            psql_admin -c "CREATE DATABASE b$n OWNER temporald"
            out=$("$bench" txn "postgres://temporald:tdpass@127.0.0.1:$PG_PORT/b$n" FULL "$subs" \
                "$SECONDS_EACH" 2>&1)
            rate=$(echo "$out" | sed -n 's/^RATE \([0-9]*\).*/\1/p')
            psql_admin -c "DROP DATABASE b$n"
        fi
        [ -n "$rate" ] || echo "  ($c: $(echo "$out" | tail -2 | tr '\n' ' '))"
        results[$c]="${results[$c]:-} ${rate:-0}"
    done
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
all() { echo "$1" | sed 's/^ //'; }
m() { median "${results[$1]}"; }

echo "store benchmark: PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') (local cluster, fsync on," \
    "synchronous_commit on), $(nproc) cores, median of $ROUNDS x ${SECONDS_EACH}s (all runs in brackets)"
printf '  %-58s %10s  %s\n' "single-row INSERT commits/s, 1 client (raw, pgbench)" "$(m raw:1)" "[$(all "${results[raw:1]}")]"
printf '  %-58s %10s  %s\n' "single-row INSERT commits/s, 64 clients (raw, pgbench)" "$(m raw:64)" "[$(all "${results[raw:64]}")]"
printf '  %-58s %10s  %s\n' "execution-update txn/s, 1 submitter (temporald store)" "$(m txn:1)" "[$(all "${results[txn:1]}")]"
printf '  %-58s %10s  %s\n' "execution-update txn/s, 64 submitters (temporald store)" "$(m txn:64)" "[$(all "${results[txn:64]}")]"
