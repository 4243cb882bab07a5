#!/bin/bash
# Persistent dirty bitmaps (made by qemu-img bitmap and qemu-io) in vessel
# img: info lists them as qemu-img does, check counts their clusters (no
# leaks, and -r leaves them alone), and after a vessel write the image keeps
# them, consistent (img_bitmap_write_test.sh compares the bits they record
# with qemu's, img_bitmap_edit_test.sh resizing them).
# Usage: img_bitmap_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img qemu-io"
. "$(dirname "$0")/lib.sh"

# same_as_qemu ARGS...: vessel img ARGS and qemu-img ARGS print the same
# and exit alike.
same_as_qemu() {
  local want=0 got=0
  qemu-img "$@" >want.out 2>want.err || want=$?
  "$VESSEL" img "$@" >got.out 2>got.err || got=$?
  [ "$got" = "$want" ] || fail "$*: exit $got, qemu-img $want: $(cat got.err)"
  cmp -s got.out want.out || fail "$*: stdout differs: $(diff got.out want.out)"
  cmp -s got.err want.err || fail "$*: stderr differs: $(diff got.err want.err)"
}

qemu-img create -q -f qcow2 b.qcow2 4M
qemu-img bitmap --add b.qcow2 b0
qemu-img bitmap --add -g 128k b.qcow2 'b1 "quoted"'
qemu-img bitmap --add --disable b.qcow2 b2
# qemu-io marks the enabled bitmaps and stores them: tables with data clusters.
qio -c 'write -P 1 0 256k' -c 'write -P 2 3M 64k' b.qcow2
qemu-img check b.qcow2 >/dev/null || fail "qemu-img check b.qcow2 before"

for output in human json; do
  same_as_qemu info --output=$output b.qcow2
  same_as_qemu check --output=$output b.qcow2
done
# (qemu-img check -r stores the bitmaps anew, elsewhere: its image end
# offset is not comparable; vessel's must leave the image as it is.)
"$VESSEL" img check b.qcow2 >plain.out
for mode in leaks all; do
  cp b.qcow2 r.qcow2
  expect 0 "$VESSEL" img check -r $mode r.qcow2
  cmp -s out.txt plain.out || fail "check -r $mode: $(diff out.txt plain.out)"
  cmp -s r.qcow2 b.qcow2 || fail "check -r $mode changed an image with bitmaps"
done

# No change of the guest's data: the bitmaps stay as they are.
cp b.qcow2 s.qcow2
expect 0 "$VESSEL" img snapshot -c s1 s.qcow2
qcheck s.qcow2
qemu-img info s.qcow2 | grep -q 'in-use' && fail "snapshot -c marked bitmaps in use"

# A write: the image keeps its bitmaps, none of them left in use, and is
# still consistent.
cp b.qcow2 w.qcow2
expect 0 "$VESSEL" img bench -w -c 4 -s 4k w.qcow2
qcheck w.qcow2
same_as_qemu info w.qcow2
same_as_qemu check w.qcow2
qemu-img info w.qcow2 >info.txt
[ "$(count 'name: ' info.txt)" = 3 ] || fail "bitmaps lost: $(cat info.txt)"
grep -q 'in-use' info.txt && fail "bitmaps left in use: $(cat info.txt)"
qio -r -c 'read -P 2 3M 64k' w.qcow2

# A bitmaps extension whose autoclear bit another program cleared is
# inconsistent: qemu-img and vessel both ignore it (its clusters leak).
cp b.qcow2 stale.qcow2
printf '\0\0\0\0\0\0\0\0' | dd of=stale.qcow2 bs=1 seek=88 conv=notrunc status=none
qemu-img check stale.qcow2 >want.out 2>/dev/null || want=$?
expect "$want" "$VESSEL" img check stale.qcow2
cmp -s out.txt want.out || fail "check stale.qcow2: $(diff out.txt want.out)"
grep -q "all bitmaps are now considered inconsistent" err.txt || fail "no warning: $(cat err.txt)"

finish "all img bitmap tests passed"
