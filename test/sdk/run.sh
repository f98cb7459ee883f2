#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The SDK integration suite: the real TypeScript SDK (@temporalio/* 1.24.0 from test/js) against
# real temporald processes started by the tests (test/sdk/harness.mjs). Bundles the workflows
# once, runs `node --test` over test/sdk/*.test.mjs and closes with one line
# "N passed, N failed, N skipped" (skipped = node's skipped + todo). Exits non-zero on failures.
# Usage: test/sdk/run.sh [path/to/temporald]; BUILD from the env; TD_SDK_FILES to pick files;
# TD_SDK_CONCURRENCY (default 2) test files at once; TD_SDK_TAP=FILE keeps node's full TAP output.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
export BUILD
export TD_BIN=$(realpath "${1:-$BUILD/temporald}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

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
# shellcheck disable=SC2086
node --test --test-reporter=tap --test-concurrency="${TD_SDK_CONCURRENCY:-2}" --test-timeout=300000 \
    $files >"$tmp/tap" 2>&1
rc=$?
[ -n "${TD_SDK_TAP:-}" ] && cp "$tmp/tap" "$TD_SDK_TAP"
# Test lines and their diagnostics, without the TAP YAML noise of passing tests.
grep -vE '^ +(duration_ms|type|\.\.\.|---)' "$tmp/tap" | grep -E '^ *(not )?ok |^# |^ *# |error|Error' |
    grep -vE '^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) '

count() { grep -E "^# $1 [0-9]+" "$tmp/tap" | tail -1 | awk '{print $3}'; }
p=$(count pass) f=$(count fail) c=$(count cancelled) s=$(count skipped) t=$(count todo)
if [ -z "$p" ] || [ -z "$f" ]; then
    echo "node --test ended without a summary (exit $rc):"
    tail -40 "$tmp/tap"
    echo "${p:-0} passed, $((${f:-0} + 1)) failed"
    exit 1
fi
# node counts todo tests only under "todo" (whether they passed or not); list those that passed.
if grep -qE '^ *ok [0-9]+ .*# TODO' "$tmp/tap"; then
    echo "todo tests that PASSED (promote them by removing their entry in test/sdk/todo.mjs):"
    grep -E '^ *ok [0-9]+ .*# TODO' "$tmp/tap" | sed -E 's/^ *ok [0-9]+ - /    /'
fi
# The slowest tests, for the record.
awk '/^ *(not )?ok [0-9]+ - /{sub(/^ *(not )?ok [0-9]+ - /, ""); sub(/ # (TODO|SKIP).*/, ""); name=$0}
     /^ +duration_ms: /{if (name != "") {printf "%8.1f s  %s\n", $2 / 1000, name; name=""}}' "$tmp/tap" |
    sort -rn | head -5 | sed 's/^/slowest: /'
f=$((f + ${c:-0}))
echo "$p passed, $f failed, $((${s:-0} + ${t:-0})) skipped"
[ "$f" -eq 0 ]
