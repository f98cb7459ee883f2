#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Visibility query benchmark: test/progs/vis_bench writes N visibility records (Int, Keyword,
# KeywordList and Text attributes) through the store, then times counts and listings that
# filter on custom attributes, GROUP BY ExecutionStatus (7 counts) and ORDER BY a custom
# attribute, at once after the writes. Run on a SQLite file and on a fresh PostgreSQL database
# of a throwaway cluster (scripts/pg-cluster.sh, stopped by its PID at the end) whose
# visibility tables have autovacuum off: the figures are those of a table filled in a burst,
# before any autovacuum pass, i.e. with the statistics the store gathers itself. Prints
# figures; does not pass or fail. Environment: BUILD (default build/release), N (10000).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
N=${N:-10000}
bench=$BUILD/progs/vis_bench
if [ ! -x "$bench" ]; then
    echo "visibility bench: $bench missing (make tests)"
    exit 1
fi
dir=$(mktemp -d /tmp/td-vis-bench.XXXXXX)
trap 'scripts/pg-cluster.sh stop "$dir/pg" >/dev/null 2>&1; rm -rf "$dir"' EXIT

echo "visibility benchmark: $N records, $(nproc) cores"
echo "-- SQLite file (synchronous=FULL)"
"$bench" "sqlite://$dir/vis.sqlite" "$N" | sed 's/^/  /'
if ! pgenv=$(scripts/pg-cluster.sh start "$dir/pg" 2>"$dir/err"); then
    echo "-- PostgreSQL: skipped: $(cat "$dir/err")"
    exit 0
fi
eval "$pgenv"
scripts/pg-cluster.sh psql "$dir/pg" -d postgres -c "CREATE DATABASE vis OWNER temporald" >/dev/null
url="postgres://temporald:tdpass@127.0.0.1:$PG_PORT/vis"
"$BUILD/temporald" schema setup --db-url "$url" >/dev/null
scripts/pg-cluster.sh psql "$dir/pg" -d vis -c "ALTER TABLE executions_visibility SET \
    (autovacuum_enabled = false); ALTER TABLE visibility_sa SET (autovacuum_enabled = false)" >/dev/null
echo "-- PostgreSQL (fsync on, autovacuum off on the visibility tables)"
"$bench" "$url" "$N" | sed 's/^/  /'
echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
