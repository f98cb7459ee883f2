#!/bin/bash
# Runs every libFuzzer driver in DIR for SECONDS each, with its seed corpus from
# test/fuzz/corpus/NAME when present. Closes with "N passed, N failed" (a driver that finds a
# crash fails).
set -u
dir=${1:?usage: fuzz-run.sh DIR SECONDS}
secs=${2:-60}
pass=0 fail=0
for f in "$dir"/*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    work=$(mktemp -d)
    [ -d "test/fuzz/corpus/$name" ] && cp -r "test/fuzz/corpus/$name/." "$work/"
    echo "=== fuzz $name for ${secs}s"
    if "$f" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 "$work" \
        >"$work.log" 2>&1; then
        echo "ok - $name ($(grep -E 'stat::number_of_executed_units' "$work.log" | awk '{print $2}') runs)"
        pass=$((pass + 1))
    else
        tail -40 "$work.log"
        echo "not ok - $name"
        fail=$((fail + 1))
    fi
    rm -rf "$work" "$work.log"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
