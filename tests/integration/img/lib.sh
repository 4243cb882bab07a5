# Sourced by the vessel img test scripts (bash, `set -euo pipefail`) after
# they set VESSEL (the executable), DIR (a scratch directory) and TOOLS (the
# reference tools they need). Skips the test (exit 77) when a tool is missing,
# starts in an empty DIR, and defines the checks; a script ends with
# `finish MESSAGE`.
#
# A step that is not a check (making an image, a reference tool's run) must
# not fail silently, or the comparison after it proves less than it says: set
# -e ends the script and this trap names the line. It exits 1 whatever the
# step's status was (77 would read as a skip), and only from the script's own
# shell: a command failing inside $(...), such as diff in a failure message,
# is not a failed step.
set -E
trap 'step_failed "$LINENO" "$BASH_COMMAND" "$?"' ERR
step_failed() {
  [ "$BASHPID" = $$ ] || return 0
  echo "FAIL: line $1: '$2' exited $3"
  exit 1
}
# DUMP IMAGE: the bitmaps of IMAGE, read from the file (qcow2_bitmaps.py).
DUMP="python3 $(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/qcow2_bitmaps.py"
for tool in $TOOLS; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not installed"; exit 77; }
done
rm -rf "$DIR"
mkdir -p "$DIR"
cd "$DIR" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect STATUS CMD...: runs CMD (output in out.txt, err.txt), checks its exit status.
expect() {
  want=$1; shift
  got=0
  "$@" >out.txt 2>err.txt || got=$?
  [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want: $(cat err.txt)"
}
# expect_fail CMD...: CMD must fail, with any non-zero status (output in
# out.txt, err.txt).
expect_fail() {
  if "$@" >out.txt 2>err.txt; then fail "'$*' succeeded, expected it to fail"; fi
}
# expect_error CMD...: exit status 1 and exactly one 'vessel: error:' line.
expect_error() {
  expect 1 "$@"
  [ "$(wc -l <err.txt)" = 1 ] && grep -q '^vessel: error: ' err.txt ||
    fail "'$*' did not print one error line: $(cat err.txt)"
}
# qemu-img check exits 0 only without errors and without leaks.
qcheck() { qemu-img check "$1" >check.txt 2>&1 || fail "qemu-img check $1: $(cat check.txt)"; }
same() { qemu-img compare "$1" "$2" >/dev/null 2>&1 || fail "qemu-img compare $1 $2"; }
# qio ARGS...: qemu-io, whose every command must succeed. A failed pattern
# check ('read -P') prints "Pattern verification failed" and then the usual
# "read N/N bytes" line, so the output alone would pass: both the exit status
# and the absence of failure lines are checked.
qio() {
  if ! qemu-io "$@" >qio.txt 2>&1 || grep -q 'failed' qio.txt; then
    fail "qemu-io $*: $(cat qio.txt)"
  fi
}
# count PATTERN FILE: how many lines of FILE match (grep -c, whose exit
# status 1 for none would read as a failed step).
count() { grep -c -- "$1" "$2" || true; }
# as_nobody CMD...: runs CMD as the unprivileged user nobody when we are root,
# who ignores file permissions; as ourselves otherwise.
as_nobody() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    "$@"
  fi
}
# info_of IMAGE: qemu-img info without the lines that depend on the layout.
info_of() { qemu-img info "$1" | grep -v '^disk size'; }
# same_bitmaps A B: both images hold the same bitmaps, flags and bits, as
# qemu-img info and the files say; both are clean.
same_bitmaps() {
  qcheck "$1"
  qcheck "$2"
  [ "$(info_of "$1" | sed 1d)" = "$(info_of "$2" | sed 1d)" ] ||
    fail "$1, $2: info differs: $(diff <(info_of "$1") <(info_of "$2"))"
  [ "$($DUMP "$1")" = "$($DUMP "$2")" ] ||
    fail "$1, $2: bitmaps differ: $(diff <($DUMP "$1") <($DUMP "$2"))"
}
# crash_while_writing IMAGE: vessel img bench writes to IMAGE until it is
# killed (SIGKILL), once qemu-img info shows a bitmap in use.
crash_while_writing() {
  local pid
  "$VESSEL" img bench -w -c 100000000 -d 4 -s 4k -S 1036k "$1" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    grep -q 'in-use' <<<"$(qemu-img info -U "$1" 2>/dev/null)" && break
    sleep 0.1
  done
  kill -9 "$pid" || fail "the writer to $1 ended before it was killed"
  wait "$pid" 2>/dev/null || true
}
finish() {
  if [ "$failures" != 0 ]; then
    echo "$failures failure(s)"
    exit 1
  fi
  echo "$1"
}
