#!/bin/bash
# Enabled persistent dirty bitmaps record vessel img's writes as QEMU's
# record qemu-img's: the same writes (bench -w, convert -n, commit, rebase),
# on copies of one image, leave the same bitmaps (flags and bits, read from
# the files by qcow2_bitmaps.py) that qemu-img check finds clean; disabled
# bitmaps stay as they were. A vessel killed while writing leaves the
# recording bitmaps in use, and they stay so (inconsistent) when the image is
# written again, as with qemu; with lazy refcounts, the reopened image's
# refcounts are repaired.
# Usage: img_bitmap_write_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img qemu-io python3"
. "$(dirname "$0")/lib.sh"

# An image with data and three bitmaps: enabled (64 KiB and 4 KiB
# granularity, the first with bits already) and disabled.
qemu-img create -q -f qcow2 b.qcow2 8M
qemu-img bitmap --add b.qcow2 b0
qio -c 'write -P 1 0 256k' -c 'write -P 2 5M 64k' b.qcow2
qemu-img bitmap --add -g 4k b.qcow2 'b1 "quoted"'
qemu-img bitmap --add -g 512 --disable b.qcow2 b2
qemu-img bitmap --merge b0 b.qcow2 b2

# both NAME QEMU_ARGS -- VESSEL_ARGS: qemu-img QEMU_ARGS on q-NAME.qcow2 and
# vessel img VESSEL_ARGS on v-NAME.qcow2 (IMG in the arguments), each a copy
# of b.qcow2; both succeed and leave the same bitmaps.
both() {
  local name=$1 arg qemu=() vessel=()
  shift
  while [ "$1" != -- ]; do qemu+=("${1//IMG/q-$name.qcow2}"); shift; done
  shift
  for arg in "$@"; do vessel+=("${arg//IMG/v-$name.qcow2}"); done
  cp b.qcow2 "q-$name.qcow2"
  cp b.qcow2 "v-$name.qcow2"
  qemu-img "${qemu[@]}" >/dev/null 2>&1 || fail "qemu-img ${qemu[*]} failed"
  expect 0 "$VESSEL" img "${vessel[@]}"
  same_bitmaps "q-$name.qcow2" "v-$name.qcow2"
  # (A recording bitmap must have changed: the bits say something.)
  [ "$($DUMP "v-$name.qcow2")" != "$($DUMP b.qcow2)" ] || fail "$name: no bit recorded"
}

# Scattered 4 KiB writes, and unaligned ones crossing bits.
both bench bench -w -c 40 -d 4 -s 4k -S 1036k -o 12k IMG -- \
  bench -w -c 40 -d 4 -s 4k -S 1036k -o 12k IMG
both bench_unaligned bench -w -c 7 -d 1 -s 7000 -S 300000 -o 1000 IMG -- \
  bench -w -c 7 -d 1 -s 7000 -S 300000 -o 1000 IMG
both bench_direct bench -w -t none -c 16 -s 64k -S 448k IMG -- \
  bench -w -t none -c 16 -s 64k -S 448k IMG
# The same bits with -c 2: what one run records is stored at its close and
# recorded on top of by the next.
cp v-bench.qcow2 twice.qcow2
expect 0 "$VESSEL" img bench -w -c 40 -d 4 -s 4k -S 1036k -o 12k twice.qcow2
[ "$($DUMP twice.qcow2)" = "$($DUMP v-bench.qcow2)" ] || fail "a second run changed the bits"

# convert -n writes the whole disk: every bit of the enabled bitmaps.
qemu-img create -q -f qcow2 src.qcow2 8M
qio -c 'write -P 7 1M 1M' src.qcow2
both convert convert -n -O qcow2 src.qcow2 IMG -- convert -n -O qcow2 src.qcow2 IMG

# commit into a base with bitmaps: the base records what the top held.
for t in q v; do
  cp b.qcow2 "$t-commit.qcow2"
  qemu-img create -q -f qcow2 -b "$t-commit.qcow2" -F qcow2 "top-$t.qcow2"
  qio -c 'write -P 9 2M 192k' -c 'write -P 8 7M 4k' "top-$t.qcow2"
done
qemu-img commit -q top-q.qcow2
expect 0 "$VESSEL" img commit -q top-v.qcow2
same_bitmaps q-commit.qcow2 v-commit.qcow2
[ "$($DUMP v-commit.qcow2)" != "$($DUMP b.qcow2)" ] || fail "commit: no bit recorded"

# A rebase onto another backing file writes where the two differ.
qemu-img create -q -f qcow2 other.qcow2 8M
qio -c 'write -P 5 6M 128k' other.qcow2
both rebase rebase -b other.qcow2 -F qcow2 IMG -- rebase -b other.qcow2 -F qcow2 IMG

# Killed while writing: the enabled bitmaps are in use, the disabled one is
# not (qemu marks every bitmap in use while it has an image open; vessel only
# those that record, see qcow2_bitmap_track.cc). qemu-img info and vessel
# img info say the same, and check finds no corruption.
cp b.qcow2 k.qcow2
crash_while_writing k.qcow2
qemu-img info k.qcow2 >info.txt
[ "$(count '\[0\]: in-use' info.txt)" = 2 ] || fail "after the kill: $(cat info.txt)"
qemu-img info --output=json k.qcow2 >want.json
"$VESSEL" img info --output=json k.qcow2 >got.json
cmp -s got.json want.json || fail "info after the kill: $(diff got.json want.json)"
qemu-img check k.qcow2 >check.txt 2>&1 || [ $? = 3 ] || fail "check after the kill: $(cat check.txt)"
# Written again: the inconsistent bitmaps stay in use and unchanged, the
# disabled one too; qemu does the same on a copy.
cp k.qcow2 k-q.qcow2
$DUMP k.qcow2 >before.txt
expect 0 "$VESSEL" img bench -w -c 4 -s 4k k.qcow2
qio -c 'write 0 4k' k-q.qcow2
$DUMP k.qcow2 >after.txt
cmp -s before.txt after.txt || fail "an inconsistent bitmap changed: $(diff before.txt after.txt)"
qemu-img info k.qcow2 >info.txt
[ "$(count '\[0\]: in-use' info.txt)" = 2 ] || fail "no longer in use: $(cat info.txt)"
[ "$(info_of k.qcow2 | sed 1d)" = "$(info_of k-q.qcow2 | sed 1d)" ] ||
  fail "info after writing again: $(diff <(info_of k.qcow2) <(info_of k-q.qcow2))"
# Only --remove may touch them, in vessel img bitmap as in qemu-img bitmap.
expect_error "$VESSEL" img bitmap --clear k.qcow2 b0
grep -q "Bitmap 'b0' is inconsistent and cannot be used" err.txt || fail "clear: $(cat err.txt)"

# A qemu that crashed while writing an image with lazy refcounts (qemu-io's
# abort) leaves it dirty: opened again, its refcounts are repaired, as qemu
# repairs them, and the bitmap that was recording stays inconsistent. Both
# leave the same image behind.
qemu-img create -q -f qcow2 -o lazy_refcounts=on l.qcow2 8M
qemu-img bitmap --add l.qcow2 b0
qemu-io -c 'write 0 64k' -c abort l.qcow2 >/dev/null 2>&1 || true
cp l.qcow2 l-q.qcow2
expect 0 "$VESSEL" img bench -w -c 4 -s 4k l.qcow2
qio -c 'write 0 4k' l-q.qcow2
qemu-img check l.qcow2 >check.txt 2>&1 || fail "check after the repair: $(cat check.txt)"
[ "$(info_of l.qcow2 | sed 1d)" = "$(info_of l-q.qcow2 | sed 1d)" ] ||
  fail "info after the repair: $(diff <(info_of l.qcow2) <(info_of l-q.qcow2))"

finish "all img bitmap write tests passed"
