#!/bin/bash
# vessel img bitmap against qemu-img bitmap: the same operations, on copies
# of one image, leave bitmaps that qemu-img info lists alike, that qemu-img
# check finds clean and whose bits (read from the files by qcow2_bitmaps.py,
# and by qemu itself through convert --bitmaps) are the same; qemu-img's own
# bitmap operations work on vessel's bitmaps and the other way round; the
# errors are qemu-img's.
# Usage: img_bitmap_verb_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img qemu-io python3"
. "$(dirname "$0")/lib.sh"

# both BASE ARGS...: qemu-img bitmap ARGS and vessel img bitmap ARGS, each on
# its own copy of BASE (the image name in ARGS is "img.qcow2"), exit alike
# with the same messages (vessel's after "vessel: error: " instead of
# "qemu-img: "), and leave the same bitmaps.
n=0
both() {
  local base=$1 want=0 got=0
  shift
  n=$((n + 1))
  cp "$base" img.qcow2
  qemu-img bitmap "$@" >want.out 2>want.err || want=$?
  mv img.qcow2 "qemu.$n.qcow2"
  cp "$base" img.qcow2
  "$VESSEL" img bitmap "$@" >got.out 2>got.err || got=$?
  mv img.qcow2 "vessel.$n.qcow2"
  [ "$got" = "$want" ] || fail "bitmap $*: exit $got, qemu-img $want: $(cat got.err)"
  sed 's/^vessel: error: /qemu-img: /' got.err >got.norm
  cmp -s got.norm want.err || fail "bitmap $*: stderr differs: $(diff got.norm want.err)"
  cmp -s got.out want.out || fail "bitmap $*: stdout differs"
  same_bitmaps "qemu.$n.qcow2" "vessel.$n.qcow2"
}
# vessel_error PATTERN ARGS...: vessel img bitmap fails with one error line
# matching PATTERN, and so does qemu-img bitmap (whose line may name an
# internal node instead of the file, or go on for a second line).
vessel_error() {
  local pattern=$1
  shift
  qemu-img bitmap "$@" >/dev/null 2>want.err && fail "qemu-img bitmap $* succeeded"
  grep -q -- "$pattern" want.err || fail "qemu-img bitmap $*: $(cat want.err)"
  expect_error "$VESSEL" img bitmap "$@"
  grep -q -- "$pattern" err.txt || fail "bitmap $*: error: $(cat err.txt)"
}

# A base image with bitmaps qemu filled: 'a' (64 KiB), 'b' (128 KiB) and
# 'c' (4 KiB, disabled after its writes), each with other dirty regions.
qemu-img create -q -f qcow2 base.qcow2 4M
qemu-img bitmap --add base.qcow2 a
qemu-img bitmap --add -g 128k base.qcow2 b
qio -c 'write 0 64k' -c 'write 1M 8k' -c 'write 3M 512' base.qcow2
qemu-img bitmap --add -g 4k base.qcow2 c
qio -c 'write 2M 4k' -c 'write 130k 1k' base.qcow2
qemu-img bitmap --disable base.qcow2 c
# Another image of the same size for -b, and one of another size.
qemu-img create -q -f qcow2 other.qcow2 4M
qemu-img bitmap --add -g 512 other.qcow2 o
qio -c 'write 3500k 1k' other.qcow2
qemu-img create -q -f qcow2 small.qcow2 2M
qemu-img bitmap --add small.qcow2 s
qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 4M
qemu-img create -q -f qcow2 -o cluster_size=2M big.qcow2 4M
qemu-img create -q -f qcow2 -o cluster_size=512 tiny.qcow2 4M

# --- the same operations, the same bitmaps ---
both base.qcow2 --add img.qcow2 new
both base.qcow2 --add -g 512 img.qcow2 new
both base.qcow2 --add -g 2M img.qcow2 new
both base.qcow2 --add -g 0 img.qcow2 new
both base.qcow2 --add --disable img.qcow2 new
both base.qcow2 --add img.qcow2 'with space, "quotes"'
both big.qcow2 --add img.qcow2 new   # default granularity: 64 KiB at most
both tiny.qcow2 --add img.qcow2 new  # and 4 KiB at least
both base.qcow2 --remove img.qcow2 b
both base.qcow2 --clear img.qcow2 a
both base.qcow2 --clear --clear img.qcow2 a
both base.qcow2 --disable img.qcow2 a
both base.qcow2 --enable img.qcow2 c
both base.qcow2 --merge a img.qcow2 c  # 64 KiB into 4 KiB
both base.qcow2 --merge c img.qcow2 b  # 4 KiB into 128 KiB
both base.qcow2 --merge a img.qcow2 a
both base.qcow2 --merge b --merge c img.qcow2 a
both base.qcow2 --add --merge a --merge c --disable img.qcow2 new
both base.qcow2 --merge o -b other.qcow2 img.qcow2 b
both base.qcow2 --merge o -b other.qcow2 -F qcow2 img.qcow2 c
both base.qcow2 --remove --add img.qcow2 a
both base.qcow2 --add --remove img.qcow2 new
both base.qcow2 --clear --merge b --disable --enable img.qcow2 a

# The last bitmap removed: the extension and the autoclear bit go too.
cp base.qcow2 q-none.qcow2
cp base.qcow2 v-none.qcow2
for name in a b c; do
  qemu-img bitmap --remove q-none.qcow2 $name
  expect 0 "$VESSEL" img bitmap --remove v-none.qcow2 $name
done
same_bitmaps q-none.qcow2 v-none.qcow2
$DUMP v-none.qcow2 | grep -q 'bit 0, extension no' || fail "after the last remove: $($DUMP v-none.qcow2)"

# --- errors: qemu-img's, and what the operations before them did is kept ---
both base.qcow2 --add img.qcow2 a
both base.qcow2 --remove img.qcow2 nope
both base.qcow2 --clear img.qcow2 nope
both base.qcow2 --enable img.qcow2 nope
both base.qcow2 --merge nope img.qcow2 a
both base.qcow2 --merge a img.qcow2 nope
both base.qcow2 --disable --add img.qcow2 new
both base.qcow2 --add --merge nope img.qcow2 new
both base.qcow2 --add -g 1000 img.qcow2 new
both base.qcow2 --add -g 256 img.qcow2 new
both base.qcow2 --add -g 4G img.qcow2 new
both base.qcow2 --add img.qcow2 ''
both base.qcow2 --merge s -b small.qcow2 img.qcow2 a
both base.qcow2 --merge a -b other.qcow2 img.qcow2 a
both base.qcow2 img.qcow2 a
both base.qcow2 --add img.qcow2
both base.qcow2 --add img.qcow2 a extra
both base.qcow2 -g 64k --remove img.qcow2 a
both base.qcow2 --add -b other.qcow2 img.qcow2 a
both base.qcow2 --merge a -F qcow2 img.qcow2 a
vessel_error "Cannot store dirty bitmaps in qcow2 v2 files" --add v2.qcow2 x
vessel_error "Name length exceeds maximum (1023 characters)" --add base.qcow2 "$(printf 'x%.0s' {1..1024})"
vessel_error "Invalid granularity specified" --add -g abc base.qcow2 x
qemu-img create -q -f raw r.raw 1M
vessel_error "Operation add on bitmap x failed: Can't store persistent bitmaps to .*: Operation not supported" \
  --add -f raw r.raw x
vessel_error "Operation remove on bitmap x failed: Dirty bitmap 'x' not found" --remove -f raw r.raw x
vessel_error "nope.qcow2" --merge a -b nope.qcow2 base.qcow2 a

# --- bitmaps in use (vessel killed while writing; the enabled ones): only --remove ---
cp base.qcow2 inuse.qcow2
crash_while_writing inuse.qcow2
# (The clusters the killed writer had allocated but not mapped yet leak.)
qemu-img check -q -r leaks inuse.qcow2 || fail "check -r leaks inuse.qcow2"
qemu-img info inuse.qcow2 | grep -q 'in-use' || fail "no bitmap in use"
for op in --clear --enable --disable "--merge c"; do
  # shellcheck disable=SC2086
  name=${op#--}
  vessel_error "Operation ${name%% *} on bitmap a failed: Bitmap 'a' is inconsistent and cannot be used" \
    $op inuse.qcow2 a
done
vessel_error "Operation merge on bitmap c failed: Bitmap 'a' is inconsistent" --merge a inuse.qcow2 c
both inuse.qcow2 --remove img.qcow2 a

# --- each tool on the other's bitmaps ---
# vessel adds, qemu-io records writes in them, qemu-img merges and removes;
# qemu-img adds, vessel merges: the same as qemu-img alone.
for tool in vessel qemu; do
  qemu-img create -q -f qcow2 $tool-x.qcow2 4M
done
expect 0 "$VESSEL" img bitmap --add vessel-x.qcow2 x
expect 0 "$VESSEL" img bitmap --add -g 4k vessel-x.qcow2 y
qemu-img bitmap --add qemu-x.qcow2 x
qemu-img bitmap --add -g 4k qemu-x.qcow2 y
for tool in vessel qemu; do
  qio -c 'write 64k 4k' -c 'write 2M 1M' $tool-x.qcow2
  qemu-img bitmap --disable $tool-x.qcow2 y
  qio -c 'write 3M 4k' $tool-x.qcow2
done
same_bitmaps vessel-x.qcow2 qemu-x.qcow2
qemu-img bitmap --merge y vessel-x.qcow2 x
expect 0 "$VESSEL" img bitmap --merge y qemu-x.qcow2 x
same_bitmaps vessel-x.qcow2 qemu-x.qcow2
qemu-img bitmap --remove vessel-x.qcow2 y
expect 0 "$VESSEL" img bitmap --remove qemu-x.qcow2 y
same_bitmaps vessel-x.qcow2 qemu-x.qcow2
# qemu reads vessel's bits as they are: its copy of them is the same.
expect 0 "$VESSEL" img bitmap --add -g 512 --merge x vessel-x.qcow2 z
qemu-img convert -O qcow2 --bitmaps vessel-x.qcow2 copy.qcow2
[ "$($DUMP copy.qcow2)" = "$($DUMP vessel-x.qcow2)" ] ||
  fail "qemu's copy of vessel's bitmaps differs: $(diff <($DUMP copy.qcow2) <($DUMP vessel-x.qcow2))"
qio -r -c 'read -P 0 0 64k' vessel-x.qcow2

finish "all img bitmap verb tests passed"
