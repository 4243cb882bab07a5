#!/bin/bash
# vessel img on qcow2 images with an external data file (data_file=,
# data_file_raw=on): create, info, check, map, convert, resize and writes
# agree with qemu-img and qemu-io both ways (images vessel makes read the same
# in qemu; images qemu makes read the same in vessel), and what qemu-img
# refuses is refused.
# Usage: img_data_file_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img qemu-io"
. "$(dirname "$0")/lib.sh"

# create: the same "Formatting" line, header and info as qemu-img.
for o in data_file=d.raw data_file=d.raw,data_file_raw=on data_file=d.raw,data_file_raw=off \
  data_file=d.raw,extended_l2=on,cluster_size=32k data_file=d.raw,preallocation=metadata; do
  rm -f mine.qcow2 ref.qcow2 d.raw
  expect 0 "$VESSEL" img create -f qcow2 -o "$o" mine.qcow2 3M
  mv d.raw mine.raw
  qemu-img create -f qcow2 -o "$o" ref.qcow2 3M >ref.txt
  sed 's/mine.qcow2/ref.qcow2/' out.txt | cmp -s - ref.txt || fail "create $o: $(cat out.txt ref.txt)"
  [ "$(stat -c %s mine.raw)" = 3145728 ] || fail "create $o: data file size"
  mv mine.raw d.raw
  qcheck mine.qcow2
  "$VESSEL" img check mine.qcow2 >mine.txt 2>&1 || fail "check $o: $(cat mine.txt)"
  qemu-img check mine.qcow2 >ref.txt 2>&1
  cmp -s mine.txt ref.txt || fail "check $o: $(diff mine.txt ref.txt)"
  for fmt in human json; do
    "$VESSEL" img info --output=$fmt mine.qcow2 | grep -v -e 'disk size' -e actual-size >mine.txt
    qemu-img info --output=$fmt mine.qcow2 | grep -v -e 'disk size' -e actual-size >ref.txt
    cmp -s mine.txt ref.txt || fail "info --output=$fmt $o: $(diff mine.txt ref.txt)"
  done
  "$VESSEL" img map --output=json mine.qcow2 >mine.txt || fail "map $o"
  qemu-img map --output=json mine.qcow2 >ref.txt
  cmp -s mine.txt ref.txt || fail "map $o: $(diff mine.txt ref.txt)"
  "$VESSEL" img measure -O qcow2 -o "$o" --size 5G >mine.txt || fail "measure $o"
  qemu-img measure -O qcow2 -o "$o" --size 5G >ref.txt
  cmp -s mine.txt ref.txt || fail "measure $o: $(diff mine.txt ref.txt)"
done

# qemu-img's refusals, one error line each.
expect_error "$VESSEL" img create -f qcow2 -o data_file_raw=on x.qcow2 1M
grep -q 'data-file-raw requires data-file' err.txt || fail "raw alone: $(cat err.txt)"
expect_error "$VESSEL" img create -f qcow2 -o data_file=d.raw,compat=0.10 x.qcow2 1M
grep -q 'External data files are only supported with compatibility level 1.1' err.txt ||
  fail "compat=0.10: $(cat err.txt)"
qemu-img create -q -f qcow2 base.qcow2 1M
expect_error "$VESSEL" img create -f qcow2 -o data_file=d.raw,data_file_raw=on -b base.qcow2 \
  -F qcow2 x.qcow2 1M
grep -q 'Backing file and data-file-raw cannot be used at the same time' err.txt ||
  fail "raw with backing: $(cat err.txt)"

# Guest writes through vessel (convert -n, then commit from an overlay), and
# the same through qemu: qemu reads identical disks, the raw data file alone
# is the disk, and the map matches qemu's.
qemu-img create -q -f raw src.raw 3M
qio -f raw -c 'write -P 0x12 100k 300k' -c 'write -P 0x13 2M 500k' src.raw
for raw in off on; do
  rm -f mine.qcow2 ref.qcow2 mine.raw ref.raw o1.qcow2 o2.qcow2
  "$VESSEL" img create -q -f qcow2 -o data_file=mine.raw,data_file_raw=$raw mine.qcow2 3M ||
    fail "create raw=$raw"
  qemu-img create -q -f qcow2 -o data_file=ref.raw,data_file_raw=$raw ref.qcow2 3M
  expect 0 "$VESSEL" img convert -n -O qcow2 src.raw mine.qcow2
  qemu-img convert -n -O qcow2 src.raw ref.qcow2
  for i in 1 2; do
    img=$([ $i = 1 ] && echo mine || echo ref)
    qemu-img create -q -f qcow2 -b $img.qcow2 -F qcow2 o$i.qcow2
    qio -c 'write -P 0x5e 1000 700' -c 'write -z 1M 64k' -c 'write -P 0x6f 1500k 100k' o$i.qcow2
  done
  expect 0 "$VESSEL" img commit o1.qcow2
  qemu-img commit -q o2.qcow2
  same mine.qcow2 ref.qcow2
  qcheck mine.qcow2
  if [ $raw = on ]; then
    qemu-img compare -f raw -F qcow2 mine.raw mine.qcow2 >/dev/null ||
      fail "raw data file differs from the disk"
  fi
  # qemu-io writes into vessel's image; vessel reads qemu's image.
  qio -c 'write -P 0x77 64k 64k' -c 'discard 192k 64k' mine.qcow2
  qio -c 'write -P 0x77 64k 64k' -c 'discard 192k 64k' ref.qcow2
  expect 0 "$VESSEL" img compare mine.qcow2 ref.qcow2
  "$VESSEL" img convert -O raw ref.qcow2 ref-out.raw || fail "convert qemu's image"
  same ref.qcow2 ref-out.raw
done

# convert -O qcow2 -o data_file=: the data lands in the data file.
rm -f conv.qcow2 conv.raw
expect 0 "$VESSEL" img convert -O qcow2 -o data_file=conv.raw,data_file_raw=on src.raw conv.qcow2
same src.raw conv.qcow2
qemu-img compare -f raw -F raw src.raw conv.raw >/dev/null || fail "convert: raw data file"
qcheck conv.qcow2
expect_error "$VESSEL" img convert -c -O qcow2 -o data_file=conv2.raw src.raw conv2.qcow2

# What the format rules out: snapshots, compression, a downgrade.
expect_error "$VESSEL" img snapshot -c s1 conv.qcow2
grep -q 'internal snapshots are not supported with an external data file' err.txt ||
  fail "snapshot: $(cat err.txt)"
expect_error "$VESSEL" img amend -o compat=0.10 conv.qcow2
grep -q 'Cannot downgrade an image with a data file' err.txt || fail "amend: $(cat err.txt)"

qemu-img create -q -f qcow2 other.qcow2 3M
expect_error "$VESSEL" img rebase -u -b other.qcow2 -F qcow2 conv.qcow2
grep -q 'cannot have a backing file' err.txt || fail "rebase: $(cat err.txt)"

# resize: the data file follows; with raw data the new area is mapped too.
expect 0 "$VESSEL" img resize conv.qcow2 4M
[ "$(stat -c %s conv.raw)" = 4194304 ] || fail "resize: data file size"
qcheck conv.qcow2
! qemu-img map --output=json conv.qcow2 | grep -q '"data": false' ||
  fail "resize: new area not mapped: $(qemu-img map --output=json conv.qcow2)"
qio -c 'write -P 0x31 3M 1M' conv.qcow2
qemu-img compare -f raw -F qcow2 conv.raw conv.qcow2 >/dev/null || fail "resize: raw data differs"

# A missing data file is one clear error.
mv conv.raw gone.raw
expect_error "$VESSEL" img info conv.qcow2
grep -q 'external data file' err.txt || fail "missing data file: $(cat err.txt)"

finish "all data file tests passed"
