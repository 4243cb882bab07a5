#!/bin/bash
# vessel img convert --bitmaps against qemu-img convert --bitmaps: the same
# conversions leave targets with the same bitmaps (names, order, flags,
# granularity, bits) that qemu-img check finds clean; the refusals (raw or
# version 2 target, raw source, inconsistent bitmap, a name the target has
# already) exit alike with qemu-img's messages, and --skip-broken-bitmaps
# warns alike.
# Usage: img_bitmap_convert_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img qemu-io python3"
. "$(dirname "$0")/lib.sh"

# A source with data and four bitmaps, in a directory order that is not
# alphabetical: enabled ones with bits, a disabled one with 4 KiB granularity.
qemu-img create -q -f qcow2 s.qcow2 8M
for b in x1 a2 m3; do qemu-img bitmap --add s.qcow2 $b; done
qemu-img bitmap --add -g 4k --disable s.qcow2 d4
qio -c 'write -P 1 64k 4k' -c 'write -P 2 1M 200k' s.qcow2
qemu-img bitmap --add s.qcow2 late
qio -c 'write -P 3 6M 8k' s.qcow2
qemu-img bitmap --merge late s.qcow2 d4

# same ARGS...: qemu-img convert ARGS and vessel img convert ARGS (OUT in
# ARGS: q.out or v.out, which start as copies of $start when it is set) exit
# alike, with the same messages after "qemu-img: "/"vessel: error: " (and
# "vessel: warning: "), and, when they succeed, leave the same bitmaps.
n=0
same() {
  local want=0 got=0 qemu=() vessel=() arg
  n=$((n + 1))
  for arg in "$@"; do qemu+=("${arg//OUT/q.$n.out}"); vessel+=("${arg//OUT/v.$n.out}"); done
  rm -f "q.$n.out" "v.$n.out"
  if [ -n "${start:-}" ]; then cp "$start" "q.$n.out"; cp "$start" "v.$n.out"; fi
  qemu-img convert "${qemu[@]}" >want.out 2>want.err || want=$?
  "$VESSEL" img convert "${vessel[@]}" >got.out 2>got.err || got=$?
  [ "$got" = "$want" ] || fail "convert $*: exit $got, qemu-img $want: $(cat got.err)"
  # qemu-img's hint on a second line is vessel's after a semicolon.
  sed -e 's/^vessel: error: /qemu-img: /' -e 's/^vessel: warning: /qemu-img: warning: /' \
    -e 's/; try --skip-broken-bitmaps.*//' got.err >got.norm
  grep -v '^Try --skip-broken-bitmaps' want.err >want.norm || true
  cmp -s got.norm want.norm || fail "convert $*: stderr differs: $(diff got.norm want.norm)"
  [ -e "q.$n.out" ] && q_exists=yes || q_exists=no
  [ -e "v.$n.out" ] && v_exists=yes || v_exists=no
  [ "$q_exists" = "$v_exists" ] || fail "convert $*: output left by qemu-img: $q_exists, vessel: $v_exists"
  if [ "$want" = 0 ]; then same_bitmaps "q.$n.out" "v.$n.out"; fi
}

# The bitmaps copied, in their order, with -O qcow2, -c, and the options.
same --bitmaps -O qcow2 s.qcow2 OUT
grep -q '^x1 ' <<<"$($DUMP v.$n.out)" || fail "x1 not copied: $($DUMP v.$n.out)"
same --bitmaps -c -O qcow2 s.qcow2 OUT
same --bitmaps -O qcow2 -o cluster_size=4k s.qcow2 OUT
same --bitmaps -O qcow2 -o extended_l2=on s.qcow2 OUT
# Without --bitmaps: none.
same -O qcow2 s.qcow2 OUT
grep -q 'extension no' <<<"$($DUMP v.$n.out)" || fail "bitmaps without --bitmaps"

# Refusals, each at its moment: before the target exists, or after.
same --skip-broken-bitmaps -O qcow2 s.qcow2 OUT
same --bitmaps -O raw s.qcow2 OUT
same --bitmaps -O qcow2 -o compat=0.10 s.qcow2 OUT
qemu-img convert -O raw s.qcow2 s.raw
same --bitmaps -f raw -O qcow2 s.raw OUT
qemu-img convert -O qcow2 -o compat=0.10 s.qcow2 s-v2.qcow2
same --bitmaps -O qcow2 s-v2.qcow2 OUT

# An inconsistent bitmap (qemu killed while writing: all of them in use, then
# one added and one removed): refused, or skipped with a warning each.
cp s.qcow2 broken.qcow2
qemu-io -c 'write 0 4k' -c 'sigraise 9' broken.qcow2 >/dev/null 2>&1 || true
qemu-img bitmap --remove broken.qcow2 a2
qemu-img bitmap --add broken.qcow2 fresh
same --bitmaps -O qcow2 broken.qcow2 OUT
same --bitmaps --skip-broken-bitmaps -O qcow2 broken.qcow2 OUT
grep -q '^fresh ' <<<"$($DUMP v.$n.out)" || fail "fresh not copied: $($DUMP v.$n.out)"

# -n into an image with bitmaps: the enabled ones there record the
# conversion; a name it has already stops the copy there.
qemu-img create -q -f qcow2 t.qcow2 8M
qemu-img bitmap --add t.qcow2 own
start=t.qcow2 same -n --bitmaps -O qcow2 s.qcow2 OUT
qemu-img bitmap --add t.qcow2 a2
start=t.qcow2 same -n --bitmaps -O qcow2 s.qcow2 OUT
same_bitmaps q.$n.out v.$n.out
grep -q '^m3 ' <<<"$($DUMP v.$n.out)" || fail "m3, before a2, not copied: $($DUMP v.$n.out)"

finish "all img convert --bitmaps tests passed"
