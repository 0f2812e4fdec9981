#!/usr/bin/env bash
# Runs every test suite and prints one closing line: N passed, N failed.
# Suites: ctest on the release build, ctest on the ASan/UBSan build, the
# busted specs (contracts/, tests/lua/, tests/net/) through build/lunet test,
# the specs of tests/net again with ASan/UBSan nodes, and clients/js's tests
# under node's test runner (the JavaScript client and the dashboard in
# headless Chromium, each against a real lunet dev).
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
logdir=$(mktemp -d /tmp/lunet-test.XXXXXX)

count_ctest() {   # $1 build dir, $2 label
  local log="$logdir/ctest-$2.log"
  (cd "$1" && ctest -j2 --output-on-failure --timeout 300) >"$log" 2>&1
  local total fail
  total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$log" | tail -1)
  fail=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  if [ -z "$total" ]; then
    echo "ctest ($2): no summary; see $log"; tail -20 "$log"
    failed=$((failed + 1)); return
  fi
  echo "ctest ($2): $((total - fail)) passed, $fail failed"
  [ "$fail" -gt 0 ] && grep -E "^\s*[0-9]+ - |Failed|\*\*\*" "$log" | head -40
  passed=$((passed + total - fail))
  failed=$((failed + fail))
}

count_busted() {  # $1 label, then paths; LUNET_BIN picks the node binary
  local label=$1
  shift
  local log="$logdir/busted-$label.log"
  build/lunet test "$@" >"$log" 2>&1
  local rc=$?
  local line p f
  line=$(grep -E "^lunet test: [0-9]+ passed, [0-9]+ failed" "$log" | tail -1)
  if [ -z "$line" ]; then
    echo "lunet test: no summary (exit $rc); see $log"; tail -30 "$log"
    failed=$((failed + 1)); return
  fi
  p=$(echo "$line" | sed 's/^lunet test: \([0-9]*\) passed, \([0-9]*\) failed/\1/')
  f=$(echo "$line" | sed 's/^lunet test: \([0-9]*\) passed, \([0-9]*\) failed/\2/')
  if [ "$f" -gt 0 ] || [ $rc -ne 0 ]; then
    sed -n '/Failure\|Error/,+12p' "$log" | head -80
    [ "$f" -eq 0 ] && f=1
  fi
  echo "busted ($label): $p passed, $f failed"
  passed=$((passed + p))
  failed=$((failed + f))
}

count_node() {    # clients/js: node --test, TAP summary lines "# pass N", "# fail N"
  local log="$logdir/node-test.log"
  (cd clients/js && node --test --test-reporter=tap test/*.test.js) >"$log" 2>&1
  local rc=$?
  local p f c
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
  c=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$log" | tail -1)
  if [ -z "$p" ] || [ -z "$f" ]; then
    echo "node --test: no summary (exit $rc); see $log"; tail -30 "$log"
    failed=$((failed + 1)); return
  fi
  f=$((f + ${c:-0}))
  if [ "$f" -gt 0 ] || [ $rc -ne 0 ]; then
    grep -E "^\s*not ok|screenshot|kept in" "$log" | head -40
    [ "$f" -eq 0 ] && f=1
  fi
  echo "node --test (clients/js): $p passed, $f failed"
  passed=$((passed + p))
  failed=$((failed + f))
}

count_ctest build release
count_ctest build-asan asan
count_busted release contracts tests/lua tests/net
# The specs of tests/net again, against nodes of the ASan/UBSan build:
# support.lua fails a spec whose node logged a sanitizer report.
LUNET_BIN="$PWD/build-asan/lunet" count_busted asan tests/net
count_node

echo "logs: $logdir"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
