#!/bin/bash
# Store benchmark (SQLite file, WAL): execution-update transactions per second -- each one
# updates an execution row, appends a 5-event history batch and inserts 2 transfer tasks --
# with 1 and 64 concurrent submitters, at synchronous=FULL and NORMAL, printed next to the
# raw rate of single-row commits measured on the same machine in the same run. Each figure
# is the median of ROUNDS runs of SECONDS seconds (interleaved, to spread the noise of a
# shared machine). FULL means: acknowledged after an fdatasync of the WAL; by default the
# store's syncer thread does it, overlapped with the next group (pipelined); the "fsync
# inside SQLite COMMIT" rows show SQLite's own synchronous=FULL for comparison. Targets (2 cores): FULL with 64 submitters >= 20000 txn/s and >= 5x
# FULL with 1 submitter. Prints figures; does not pass or fail.
# Environment: BUILD (default build/release), ROUNDS (3), SECONDS (3), BENCH_DIR (a temp dir).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
ROUNDS=${ROUNDS:-3}
SECONDS_EACH=${SECONDS:-3}
bench=$BUILD/progs/store_bench
if [ ! -x "$bench" ]; then
    echo "store bench: $bench missing (make tests)"
    exit 1
fi
dir=$(mktemp -d "${BENCH_DIR:-/tmp}/td-store-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

configs="raw:FULL raw:NORMAL txn:FULL:1 txn:FULL:64 txn:NORMAL:1 txn:NORMAL:64 nopipe:FULL:1 nopipe:FULL:64"
declare -A results
for r in $(seq 1 "$ROUNDS"); do
    for c in $configs; do
        IFS=: read -r kind sync subs <<<"$c"
        rm -f "$dir"/db*
        if [ "$kind" = raw ]; then
            out=$("$bench" raw "$dir/db.sqlite" "$sync" "$SECONDS_EACH" 2>&1)
        elif [ "$kind" = nopipe ]; then
            out=$(TD_SQLITE_PIPELINE=0 "$bench" txn "sqlite://$dir/db.sqlite" "$sync" "$subs" "$SECONDS_EACH" 2>&1)
        else
            out=$("$bench" txn "sqlite://$dir/db.sqlite" "$sync" "$subs" "$SECONDS_EACH" 2>&1)
        fi
        rate=$(echo "$out" | sed -n 's/^RATE \([0-9]*\).*/\1/p')
        results[$c]="${results[$c]:-} ${rate:-0}"
    done
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
all() { echo "$1" | sed 's/^ //'; }
m() { median "${results[$1]}"; }

echo "store benchmark: SQLite WAL file, $(nproc) cores, median of $ROUNDS x ${SECONDS_EACH}s (all runs in brackets)"
printf '  %-52s %10s  %s\n' "single-row commits/s, synchronous=FULL (raw)" "$(m raw:FULL)" "[$(all "${results[raw:FULL]}")]"
printf '  %-52s %10s  %s\n' "single-row commits/s, synchronous=NORMAL (raw)" "$(m raw:NORMAL)" "[$(all "${results[raw:NORMAL]}")]"
for sync in FULL NORMAL; do
    for subs in 1 64; do
        printf '  %-52s %10s  %s\n' "execution-update txn/s, $sync, $subs submitter(s)" \
            "$(m txn:$sync:$subs)" "[$(all "${results[txn:$sync:$subs]}")]"
    done
done
for subs in 1 64; do
    printf '  %-52s %10s  %s\n' "  same, FULL, $subs, fsync inside SQLite COMMIT" \
        "$(m nopipe:FULL:$subs)" "[$(all "${results[nopipe:FULL:$subs]}")]"
done
full1=$(m txn:FULL:1)
full64=$(m txn:FULL:64)
ratio=$(awk -v a="$full64" -v b="$full1" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }')
echo "  target: FULL x64 >= 20000 txn/s: $full64 ($([ "$full64" -ge 20000 ] && echo met || echo NOT met))"
echo "  target: FULL x64 >= 5 x FULL x1: ${ratio}x ($(awk -v r="$ratio" 'BEGIN { print (r >= 5) ? "met" : "NOT met" }'))"
echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
