#!/usr/bin/env bash
# Runs a command and checks how it ended, for the CLI integration tests.
#
#   expect_exit.sh STATUS STDERR_REGEX STDOUT_REGEX [--stdin TEXT] -- COMMAND...
#
# Passes when COMMAND exits with STATUS within 60 s, its stderr is exactly
# one line matching the extended regex STDERR_REGEX (or empty when
# STDERR_REGEX is empty), and its stdout matches STDOUT_REGEX (not checked
# when empty). Stdin is TEXT, or /dev/null.
set -u

want_status=$1 stderr_regex=$2 stdout_regex=$3
shift 3
stdin_text=""
use_stdin=0
if [ "${1:-}" = "--stdin" ]; then
  stdin_text=$2 use_stdin=1
  shift 2
fi
[ "${1:-}" = "--" ] && shift

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ $use_stdin -eq 1 ]; then
  printf '%s' "$stdin_text" | timeout 60 "$@" >"$work/out" 2>"$work/err"
  status=${PIPESTATUS[1]}
else
  timeout 60 "$@" </dev/null >"$work/out" 2>"$work/err"
  status=$?
fi

fail() {
  echo "FAIL: $*"
  echo "command: $*"
  echo "--- exit status: $status (wanted $want_status)"
  echo "--- stderr:"; cat "$work/err"
  echo "--- stdout (first 40 lines):"; head -n 40 "$work/out"
  exit 1
}

[ "$status" -eq "$want_status" ] || fail "exit status"
if [ -z "$stderr_regex" ]; then
  [ ! -s "$work/err" ] || fail "stderr should be empty"
else
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "stderr should be exactly one line"
  grep -Eq -- "$stderr_regex" "$work/err" || fail "stderr does not match: $stderr_regex"
fi
if [ -n "$stdout_regex" ]; then
  grep -Eq -- "$stdout_regex" "$work/out" || fail "stdout does not match: $stdout_regex"
fi
exit 0
