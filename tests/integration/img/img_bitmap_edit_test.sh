#!/bin/bash
# Editing images with persistent dirty bitmaps, vessel img against qemu-img
# on copies of one image: resize grows and shrinks the bitmaps (new bits
# clear, the bits that still cover the disk kept), amend and rebase -u keep
# them, and all leave the same bitmaps; resize refuses an inconsistent
# bitmap and snapshot -a any bitmap, with qemu-img's words. amend to
# compat=0.10 drops them as qemu-img does, but frees their clusters, where
# qemu-img leaves them leaked behind an extension version 2 ignores.
# Usage: img_bitmap_edit_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img qemu-io python3"
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 b.qcow2 4M
qemu-img bitmap --add b.qcow2 e0
qemu-img bitmap --add -g 4k --disable b.qcow2 d1
qio -c 'write -P 1 64k 4k' -c 'write -P 2 3M 1M' b.qcow2
qemu-img bitmap --merge e0 b.qcow2 d1

# both NAME ARGS...: qemu-img ARGS and vessel img ARGS, each on a copy of
# ${base:-b.qcow2} (IMG in ARGS), exit alike with the same first error line
# after "qemu-img: "/"vessel: error: " and the same output; successful ones
# leave the same bitmaps.
both() {
  local name=$1 want=0 got=0 qemu=() vessel=() arg
  shift
  for arg in "$@"; do qemu+=("${arg//IMG/q-$name.qcow2}"); vessel+=("${arg//IMG/v-$name.qcow2}"); done
  cp "${base:-b.qcow2}" "q-$name.qcow2"
  cp "${base:-b.qcow2}" "v-$name.qcow2"
  qemu-img "${qemu[@]}" >want.out 2>want.err || want=$?
  "$VESSEL" img "${vessel[@]}" >got.out 2>got.err || got=$?
  [ "$got" = "$want" ] || fail "$*: exit $got, qemu-img $want: $(cat got.err)"
  cmp -s got.out want.out || fail "$*: stdout differs: $(diff got.out want.out)"
  if [ "$want" = 0 ]; then
    same_bitmaps "q-$name.qcow2" "v-$name.qcow2"
  else
    sed 's/^vessel: error: [^:]*: /qemu-img: /' got.err >got.norm
    [ "$(head -1 got.norm | sed 's/;.*//')" = "$(head -1 want.err)" ] ||
      fail "$*: error: $(cat got.err) / qemu-img: $(cat want.err)"
  fi
}

both grow resize IMG 8M
both grow_tables resize IMG 10G
both shrink resize --shrink IMG 3200k
both shrink_inside_a_bit resize --shrink IMG 3100k
base=v-shrink_inside_a_bit.qcow2 both regrow resize IMG 8M
# Written after the resize: the bitmaps record at the new size.
qio -c 'write 9G 64k' q-grow_tables.qcow2
qio -c 'write 9G 64k' v-grow_tables.qcow2
"$VESSEL" img bench -w -c 1 -s 64k -o 5G v-grow_tables.qcow2 >/dev/null
qemu-img bench -w -c 1 -s 64k -o 5G q-grow_tables.qcow2 >/dev/null
same_bitmaps q-grow_tables.qcow2 v-grow_tables.qcow2

both lazy amend -o lazy_refcounts=on IMG
base=v-lazy.qcow2 both lazy_off amend -o lazy_refcounts=off IMG
qemu-img create -q -f qcow2 base.qcow2 4M
both rebase_unsafe rebase -u -b base.qcow2 -F qcow2 IMG
grep -q '^backing file: base.qcow2' <<<"$(qemu-img info v-rebase_unsafe.qcow2)" || fail "rebase -u: no backing file"

# An inconsistent bitmap (qemu killed while writing) stops a resize; amend
# and rebase -u leave it as it is.
cp b.qcow2 broken.qcow2
qemu-io -c 'write 0 4k' -c 'sigraise 9' broken.qcow2 >/dev/null 2>&1 || true
base=broken.qcow2 both broken_grow resize IMG 8M
grep -q "Bitmap 'e0' is inconsistent and cannot be used" got.err || fail "resize: $(cat got.err)"
base=broken.qcow2 both broken_lazy amend -o lazy_refcounts=on IMG
base=broken.qcow2 both broken_rebase rebase -u -b base.qcow2 -F qcow2 IMG

# snapshot -a: refused while the image has bitmaps, as qemu-img refuses.
cp b.qcow2 snap.qcow2
qemu-img snapshot -c s1 snap.qcow2
base=snap.qcow2 both apply snapshot -a s1 IMG
grep -q "Device has active dirty bitmaps" got.err || fail "snapshot -a: $(cat got.err)"

# compat=0.10: version 2 keeps no bitmaps. qemu-img leaves the directory
# unreferenced (leaks, and a warning at every open); vessel frees it.
cp b.qcow2 q-v2.qcow2
cp b.qcow2 v-v2.qcow2
qemu-img amend -o compat=0.10 q-v2.qcow2
expect 0 "$VESSEL" img amend -o compat=0.10 v-v2.qcow2
[ ! -s err.txt ] || fail "amend compat=0.10: $(cat err.txt)"
qcheck v-v2.qcow2
qemu-img info v-v2.qcow2 >info.txt 2>&1
grep -q 'compat: 0.10' info.txt || fail "not version 2: $(cat info.txt)"
grep -q -e bitmaps -e warning info.txt && fail "bitmaps left: $(cat info.txt)"
grep -q 'extension no' <<<"$($DUMP v-v2.qcow2)" || fail "extension left: $($DUMP v-v2.qcow2)"
qemu-img compare q-v2.qcow2 v-v2.qcow2 >/dev/null 2>&1 || fail "compat=0.10: the disks differ"

finish "all img bitmap edit tests passed"
