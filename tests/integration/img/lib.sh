# Sourced by the vessel img test scripts after they set VESSEL (the
# executable), DIR (a scratch directory) and TOOLS (the reference tools they
# need). Skips the test (exit 77) when a tool is missing, starts in an empty
# DIR, and defines the checks; a script ends with `finish MESSAGE`.
for tool in $TOOLS; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not installed"; exit 77; }
done
rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect STATUS CMD...: runs CMD (output in out.txt, err.txt), checks its exit status.
expect() {
  want=$1; shift
  "$@" >out.txt 2>err.txt
  got=$?
  [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want: $(cat err.txt)"
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
qio() { qemu-io "$@" >/dev/null 2>&1 || fail "qemu-io $*"; }
finish() {
  if [ "$failures" != 0 ]; then
    echo "$failures failure(s)"
    exit 1
  fi
  echo "$1"
}
