#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The SDK integration suite: the real TypeScript SDK (@temporalio/* 1.24.0 from test/js) against
# real temporald processes started by the tests (test/sdk/harness.mjs). Bundles the workflows
# once, then runs `node --test` over test/sdk/*.test.mjs once per backend: "sqlite" (each server
# on a SQLite file of its own) and "postgres" (one private PostgreSQL cluster from
# scripts/pg-cluster.sh on 127.0.0.1, each server on a fresh database in it; the cluster is
# stopped by PID at the end). Every test line names its backend ("[postgres] not ok 3 - ...").
# Closes with one line "N passed, N failed, N skipped" summing the passes (skipped = node's
# skipped + todo, and 1 for a pass that could not run, such as postgres without PostgreSQL
# installed). Exits non-zero on failures.
# Usage: test/sdk/run.sh [path/to/temporald]; BUILD from the env; TD_SDK_FILES to pick files;
# TD_SDK_BACKENDS (default "sqlite postgres"); TD_SDK_CONCURRENCY (default 2) test files at once
# in each pass; TD_SDK_PARALLEL=1 runs the passes at the same time (default: 1 on a machine with
# 4 or more cores, else 0: one pass after the other);
# TD_SDK_TAP=FILE keeps node's full TAP output (FILE.BACKEND per pass); TD_SAN=1 for a
# sanitizer build of temporald (harness.mjs fails a test on a sanitizer report in a server log).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
export BUILD
export TD_BIN=$(realpath "${1:-$BUILD/temporald}")
tmp=$(mktemp -d)
pgdir=$tmp/pg
declare -A pass_pid=() pass_start=()
cleanup() {
    for b in "${!pass_pid[@]}"; do kill "${pass_pid[$b]}" 2>/dev/null && wait "${pass_pid[$b]}"; done
    [ -d "$pgdir" ] && scripts/pg-cluster.sh stop "$pgdir" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail_early() {
    echo "$1"
    echo "0 passed, 1 failed"
    exit 1
}

[ -x "$TD_BIN" ] || fail_early "no temporald binary at $TD_BIN"
if [ ! -d test/js/node_modules/@temporalio/worker ]; then
    (cd test/js && npm ci --no-audit --no-fund --loglevel=error) || fail_early "npm ci failed in test/js"
fi

# A private copy, so a rebuild of the binary during the run cannot pull it from under the tests.
cp "$TD_BIN" "$tmp/temporald" || fail_early "cannot copy $TD_BIN"
export TD_BIN=$tmp/temporald

node test/sdk/bundle.mjs "$tmp/bundle.js" || fail_early "the workflow bundle did not build"
export TD_SDK_BUNDLE=$tmp/bundle.js

files=${TD_SDK_FILES:-$(ls test/sdk/*.test.mjs)}
total_p=0 total_f=0 total_s=0

# Starts node --test over $files with TD_SDK_BACKEND=$1 in the background.
launch() {
    local b=$1
    pass_start[$b]=$SECONDS
    # shellcheck disable=SC2086
    TD_SDK_BACKEND=$b node --test --test-reporter=tap --test-concurrency="${TD_SDK_CONCURRENCY:-2}" \
        --test-timeout=300000 $files >"$tmp/tap.$b" 2>&1 &
    pass_pid[$b]=$!
}

# Waits for the pass of backend $1, prints its lines and adds to the totals.
report() {
    local b=$1 tap=$tmp/tap.$1
    wait "${pass_pid[$b]}"
    local rc=$? secs=$((SECONDS - ${pass_start[$b]}))
    unset "pass_pid[$b]"
    [ -n "${TD_SDK_TAP:-}" ] && cp "$tap" "$TD_SDK_TAP.$b"
    # Test lines and their diagnostics, without the TAP YAML noise of passing tests.
    grep -vE '^ +(duration_ms|type|\.\.\.|---)' "$tap" | grep -E '^ *(not )?ok |^# |^ *# |error|Error' |
        grep -vE '^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' | sed "s/^/[$b] /"

    count() { grep -E "^# $1 [0-9]+" "$tap" | tail -1 | awk '{print $3}'; }
    local p f c s t
    p=$(count pass) f=$(count fail) c=$(count cancelled) s=$(count skipped) t=$(count todo)
    if [ -z "$p" ] || [ -z "$f" ]; then
        echo "[$b] node --test ended without a summary (exit $rc):"
        tail -40 "$tap" | sed "s/^/[$b] /"
        total_p=$((total_p + ${p:-0})) total_f=$((total_f + ${f:-0} + 1))
        return
    fi
    # node counts todo tests only under "todo" (whether they passed or not); list those that passed.
    if grep -qE '^ *ok [0-9]+ .*# TODO' "$tap"; then
        echo "[$b] todo tests that PASSED (promote them by removing their entry in test/sdk/todo.mjs):"
        grep -E '^ *ok [0-9]+ .*# TODO' "$tap" | sed -E 's/^ *ok [0-9]+ - /    /'
    fi
    # The slowest tests, for the record.
    awk '/^ *(not )?ok [0-9]+ - /{sub(/^ *(not )?ok [0-9]+ - /, ""); sub(/ # (TODO|SKIP).*/, ""); name=$0}
         /^ +duration_ms: /{if (name != "") {printf "%8.1f s  %s\n", $2 / 1000, name; name=""}}' "$tap" |
        sort -rn | head -5 | sed "s/^/[$b] slowest: /"
    f=$((f + ${c:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "[$b] node --test exited $rc with no failed test: counted as 1 failure"
        f=1
    fi
    echo "# $b pass: $p passed, $f failed, $((${s:-0} + ${t:-0})) skipped in ${secs} s"
    total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + ${s:-0} + ${t:-0}))
}

# The passes run one after the other, or at the same time with TD_SDK_PARALLEL=1 (a pass uses
# about 0.6 core, mostly waiting on timers and round trips; on 2 busy cores running both at once
# made no difference to the wall time but tripled the slowest tests, so it is off there).
parallel=${TD_SDK_PARALLEL:-$([ "$(nproc)" -ge 4 ] && echo 1 || echo 0)}
started=""
for b in ${TD_SDK_BACKENDS:-sqlite postgres}; do
    case $b in
    sqlite) ;;
    postgres)
        # fsync off: the tests kill temporald, never PostgreSQL, so durability of the cluster
        # itself is not under test here (test/store/run.sh covers it).
        if pgenv=$(PG_FSYNC=off scripts/pg-cluster.sh start "$pgdir" 2>"$tmp/pg.err"); then
            eval "$pgenv"
            TD_SDK_PG_DIR=$PG_DIR TD_SDK_PG_URL=$PG_URL
            export TD_SDK_PG_DIR TD_SDK_PG_URL
        else
            echo "[postgres] # pass skipped: $(sed 's/^skipped: //' "$tmp/pg.err" | head -3)"
            total_s=$((total_s + 1))
            continue
        fi
        ;;
    *)
        echo "[$b] # unknown backend in TD_SDK_BACKENDS (expected sqlite or postgres)"
        total_f=$((total_f + 1))
        continue
        ;;
    esac
    launch "$b"
    if [ "$parallel" = 1 ]; then started="$started $b"; else report "$b"; fi
done
for b in $started; do report "$b"; done

echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ]
