#!/bin/bash
# vessel img create/convert -o extent_size_hint: the files get the extent
# size hint qemu-img gives them (the same FS_IOC_FSSETXATTR calls, seen with
# strace, also the 1 MiB default and 0), the same "Formatting" line, values
# and errors; where the file system refuses the hint (tmpfs), a hint that was
# asked for is a warning and the image is made anyway, as with qemu-img.
# Usage: img_extent_size_hint_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img strace"
. "$(dirname "$0")/lib.sh"
# LeakSanitizer cannot run under ptrace.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

# hints CMD...: the FS_IOC_FSSETXATTR calls CMD makes, one per line.
hints() {
  strace -f -e trace=ioctl -o trace.txt "$@" >cmd.out 2>cmd.err || true
  grep -o 'FS_IOC_FSSETXATTR, {fsx_xflags=[A-Z_|]*, fsx_extsize=[0-9]*' trace.txt || true
}

for args in "-f raw -o extent_size_hint=1M a.img 1M" "-f raw a.img 1M" \
  "-f raw -o extent_size_hint=0 a.img 1M" "-f raw -o extent_size_hint=256k,preallocation=falloc a.img 1M" \
  "-f qcow2 -o extent_size_hint=2M a.img 1M" "-f qcow2 a.img 1M" \
  "-f qcow2 -o extent_size_hint=64k,data_file=d.raw a.img 1M" \
  "-f qcow2 -o extent_size_hint=4294967295 a.img 1M"; do
  # shellcheck disable=SC2086
  mine=$(hints "$VESSEL" img create $args)
  cp cmd.out mine.out
  # shellcheck disable=SC2086
  ref=$(hints qemu-img create $args)
  [ -n "$ref" ] || fail "qemu-img create $args set no hint"
  [ "$mine" = "$ref" ] || fail "create $args: hints '$mine', qemu-img '$ref'"
  cmp -s mine.out cmd.out || fail "create $args: $(cat mine.out cmd.out)"
done

# convert sets the hint on the files it makes too.
qemu-img create -q -f raw src.raw 1M
for args in "-O raw" "-O raw -o extent_size_hint=128k" "-O qcow2 -o extent_size_hint=3M"; do
  rm -f out.img
  # shellcheck disable=SC2086
  mine=$(hints "$VESSEL" img convert $args src.raw out.img)
  rm -f out.img
  # shellcheck disable=SC2086
  ref=$(hints qemu-img convert $args src.raw out.img)
  [ "$mine" = "$ref" ] || fail "convert $args: hints '$mine', qemu-img '$ref'"
done

# Out of range or not a size: refused, nothing made.
rm -f big.img
expect_error "$VESSEL" img create -f raw -o extent_size_hint=4G big.img 1M
grep -q 'big.img: Extent size hint is too large' err.txt || fail "4G: $(cat err.txt)"
[ ! -e big.img ] || fail "4G: the image was made"
expect_error "$VESSEL" img create -f qcow2 -o extent_size_hint=4G big.img 1M
grep -q 'Extent size hint is too large' err.txt || fail "qcow2 4G: $(cat err.txt)"
expect_error "$VESSEL" img create -f raw -o extent_size_hint=-1 big.img 1M
grep -q "Parameter 'extent_size_hint' expects a non-negative number" err.txt ||
  fail "-1: $(cat err.txt)"
expect_error "$VESSEL" img measure -O raw -o extent_size_hint=abc --size 1M
expect 0 "$VESSEL" img measure -O qcow2 -o extent_size_hint=2M --size 1M
qemu-img measure -O qcow2 -o extent_size_hint=2M --size 1M >ref.txt
cmp -s out.txt ref.txt || fail "measure: $(cat out.txt ref.txt)"

# tmpfs takes no hint: a warning only when one was asked for.
if [ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
  shm=$(mktemp -d /dev/shm/vessel-hint-XXXXXX)
  for o in extent_size_hint=1M extent_size_hint=0 preallocation=off; do
    for f in raw qcow2; do
      expect 0 "$VESSEL" img create -q -f $f -o $o "$shm/a.img" 1M
      sed 's/^vessel:/qemu-img:/' err.txt >mine.txt
      qemu-img create -q -f $f -o $o "$shm/b.img" 1M 2>ref.txt
      cmp -s mine.txt ref.txt || fail "tmpfs $f $o: $(cat err.txt ref.txt)"
      qemu-img check -f $f "$shm/a.img" >/dev/null 2>&1 || [ $f = raw ] ||
        fail "tmpfs $f $o: bad image"
    done
  done
  rm -rf "$shm"
fi

finish "all extent size hint tests passed"
