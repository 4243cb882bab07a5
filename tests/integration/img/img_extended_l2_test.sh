#!/bin/bash
# vessel img on qcow2 images with extended L2 entries (subclusters): images
# written by qemu-io read, map, check, compare and convert as qemu-img has
# them; images vessel creates, converts into and writes (create -o
# extended_l2=on, convert -o extended_l2=on, convert -n, commit) read the same
# in qemu and check clean; create and measure take qemu-img's options and
# refuse what it refuses.
# Usage: img_extended_l2_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img qemu-io python3"
. "$(dirname "$0")/lib.sh"

for cs in 16k 64k 1M; do
  rm -f base.qcow2 x.qcow2
  qemu-img create -q -f qcow2 base.qcow2 4M
  qio -c 'write -P 0x11 0 4M' base.qcow2
  qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=$cs -b base.qcow2 -F qcow2 x.qcow2 4M
  qio -c 'write -P 0xab 2k 2k' -c 'write -z 8k 4k' -c 'write -c -P 0xee 1M 1M' \
    -c 'write -P 0xcd 2100k 70k' -c 'write -z 3M 512k' x.qcow2

  "$VESSEL" img info --output=json x.qcow2 >mine.json || fail "info $cs"
  qemu-img info --output=json x.qcow2 >ref.json
  python3 - <<'PY' || fail "info --output=json differs from qemu-img ($cs)"
import json
mine, ref = json.load(open("mine.json")), json.load(open("ref.json"))
keys = ["virtual-size", "cluster-size", "format", "backing-filename", "format-specific"]
bad = [k for k in keys if mine.get(k) != ref.get(k)]
if bad:
    print(bad, mine, ref)
    raise SystemExit(1)
PY
  expect 0 "$VESSEL" img info x.qcow2
  grep -q '^    extended l2: true$' out.txt || fail "info: extended l2 ($cs)"

  "$VESSEL" img map --output=json x.qcow2 >mine.map || fail "map $cs"
  qemu-img map --output=json x.qcow2 >ref.map
  cmp -s mine.map ref.map || fail "map differs ($cs): $(diff mine.map ref.map)"

  "$VESSEL" img check x.qcow2 >check.out || fail "check $cs: $(cat check.out)"
  qemu-img check x.qcow2 >ref.out
  cmp -s check.out ref.out || fail "check output differs ($cs): $(diff check.out ref.out)"

  rm -f out.raw out.qcow2
  "$VESSEL" img convert -O raw x.qcow2 out.raw || fail "convert raw $cs"
  qemu-img compare x.qcow2 out.raw >/dev/null || fail "convert raw differs ($cs)"
  "$VESSEL" img convert -O qcow2 x.qcow2 out.qcow2 || fail "convert qcow2 $cs"
  qemu-img compare x.qcow2 out.qcow2 >/dev/null || fail "convert qcow2 differs ($cs)"
  "$VESSEL" img compare x.qcow2 out.raw >/dev/null || fail "compare $cs"
  qio -c 'write -P 0x01 2k 1' out.raw -f raw
  expect 1 "$VESSEL" img compare x.qcow2 out.raw  # sees a one-byte difference
done

# Writing into such an image (convert -n) gives what qemu reads back.
cp x.qcow2 before.qcow2
expect 0 "$VESSEL" img convert -n -O qcow2 out.raw x.qcow2
same out.raw x.qcow2
qcheck x.qcow2

# create: qemu-img's rules and "Formatting" line; the images are alike.
for o in extended_l2=on extended_l2=on,cluster_size=16k extended_l2=on,cluster_size=2M \
  extended_l2=on,preallocation=metadata extended_l2=on,lazy_refcounts=on,refcount_bits=8; do
  rm -f mine.qcow2 ref.qcow2
  expect 0 "$VESSEL" img create -f qcow2 -o "$o" mine.qcow2 3M
  qemu-img create -f qcow2 -o "$o" ref.qcow2 3M >ref.txt
  sed 's/mine.qcow2/ref.qcow2/' out.txt | cmp -s - ref.txt || fail "create $o: $(cat out.txt ref.txt)"
  qcheck mine.qcow2
  qemu-img info mine.qcow2 | grep -q '^    extended l2: true$' || fail "create $o: not extended"
  cmp -s <(qemu-img info --output=json mine.qcow2 | grep -v -e filename -e actual-size) \
    <(qemu-img info --output=json ref.qcow2 | grep -v -e filename -e actual-size) ||
    fail "create $o: qemu-img info differs"
  "$VESSEL" img measure -O qcow2 -o "$o" --size 100G >mine.txt || fail "measure $o"
  qemu-img measure -O qcow2 -o "$o" --size 100G >ref.txt
  cmp -s mine.txt ref.txt || fail "measure $o: $(cat mine.txt ref.txt)"
done
expect_error "$VESSEL" img create -f qcow2 -o extended_l2=on,cluster_size=8k small.qcow2 1M
grep -q 'Extended L2 entries are only supported with cluster sizes of at least 16384 bytes' \
  err.txt || fail "create 8k: $(cat err.txt)"
expect_error "$VESSEL" img create -f qcow2 -o extended_l2=on,compat=0.10 v2.qcow2 1M
grep -q 'Extended L2 entries are only supported with compatibility level 1.1' err.txt ||
  fail "create compat=0.10: $(cat err.txt)"
expect_error "$VESSEL" img measure -O qcow2 -o extended_l2=on,cluster_size=8k --size 1G
expect 0 "$VESSEL" img measure -O qcow2 -o extended_l2=on x.qcow2
qemu-img measure -O qcow2 -o extended_l2=on x.qcow2 >ref.txt
cmp -s out.txt ref.txt || fail "measure of an image: $(cat out.txt ref.txt)"

# convert -o extended_l2=on, with and without a backing file (-B): qemu reads
# the same disk, and an overlay holds only the subclusters that differ.
rm -f conv.qcow2
expect 0 "$VESSEL" img convert -O qcow2 -o extended_l2=on,cluster_size=32k x.qcow2 conv.qcow2
same x.qcow2 conv.qcow2
qcheck conv.qcow2
qemu-img info conv.qcow2 | grep -q '^    extended l2: true$' || fail "convert: not extended"
qemu-img info conv.qcow2 | grep -q '^cluster_size: 32768$' || fail "convert: cluster size"
expect_error "$VESSEL" img convert -O qcow2 -o extended_l2=on,cluster_size=4k x.qcow2 bad.qcow2

# A guest's writes through vessel (commit from an overlay into an image with
# subclusters) against qemu doing the same.
rm -f b1.qcow2 b2.qcow2 o1.qcow2 o2.qcow2
"$VESSEL" img create -q -f qcow2 -o extended_l2=on b1.qcow2 4M || fail "create b1"
qemu-img create -q -f qcow2 -o extended_l2=on b2.qcow2 4M
qio -c 'write -P 0x21 0 4M' b1.qcow2
qio -c 'write -P 0x21 0 4M' b2.qcow2
for i in 1 2; do
  qemu-img create -q -f qcow2 -b b$i.qcow2 -F qcow2 o$i.qcow2
  qio -c 'write -P 0x5e 1000 700' -c 'write -z 70k 6k' -c 'write -P 0x6f 300k 100k' o$i.qcow2
done
expect 0 "$VESSEL" img commit o1.qcow2
qemu-img commit -q o2.qcow2
same b1.qcow2 b2.qcow2
qcheck b1.qcow2

finish "all extended L2 tests passed"
