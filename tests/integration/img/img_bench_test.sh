#!/bin/bash
# vessel img bench against qemu-img bench: same output lines, same exit
# statuses, and -w leaves the same bytes in the image. Also the paths of
# vessel img convert that exist for speed: holes of raw sources skipped,
# parallel compression, ordered multi-threaded copying, cache modes.
# Usage: img_bench_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img qemu-io python3 setpriv"
. "$(dirname "$0")/lib.sh"

expect 0 "$VESSEL" img bench --help
grep -q "Usage: vessel img bench" out.txt || fail "bench --help"
expect 0 "$VESSEL" img --help
grep -q "bench \[-c count\]" out.txt || fail "img --help lists bench"

qemu-img create -q -f raw r.raw 1M
qemu-img create -q -f qcow2 q.qcow2 1M

# --- output: the same lines as qemu-img (the time aside) ---
for flags in "-c 10" "-c 7 -d 3 -s 512 -S 12288 -o 4096" "-w -c 20 -d 4 --flush-interval=8" \
             "-q -c 3 -t none -n -i threads -U --no-drain"; do
  for img in r.raw q.qcow2; do
    fmt=${img#*.}
    # shellcheck disable=SC2086
    qemu-img bench -f "$fmt" $flags "$img" >ref.txt 2>/dev/null || fail "qemu-img bench $flags"
    # shellcheck disable=SC2086
    expect 0 "$VESSEL" img bench -f "$fmt" $flags "$img"
    sed '$d' ref.txt >ref-head.txt
    sed '$d' out.txt >out-head.txt
    cmp -s ref-head.txt out-head.txt || fail "bench $flags $img: $(cat out-head.txt) vs $(cat ref-head.txt)"
    tail -n 1 out.txt | grep -Eq '^Run completed in [0-9]+\.[0-9]{3} seconds\.$' ||
      fail "bench $flags $img: last line $(tail -n 1 out.txt)"
  done
done
qemu-img check q.qcow2 >/dev/null 2>&1 || fail "qemu-img check after bench -w"

# --- bad options and failed requests: exit 1, one error line ---
expect_error "$VESSEL" img bench
expect_error "$VESSEL" img bench r.raw q.qcow2
expect_error "$VESSEL" img bench -x r.raw
expect_error "$VESSEL" img bench -c
expect_error "$VESSEL" img bench -c x r.raw
expect_error "$VESSEL" img bench -c -1 r.raw
expect_error "$VESSEL" img bench -d 0 r.raw
expect_error "$VESSEL" img bench -d abc r.raw
expect_error "$VESSEL" img bench --pattern=256 r.raw
expect_error "$VESSEL" img bench -t sometimes r.raw
expect_error "$VESSEL" img bench -i posix r.raw
expect_error "$VESSEL" img bench -s 3G r.raw
expect_error "$VESSEL" img bench --flush-interval=64 r.raw
expect_error "$VESSEL" img bench -w -d 8 --flush-interval=4 r.raw
expect_error "$VESSEL" img bench -f vmdk r.raw
expect_error "$VESSEL" img bench missing.raw
# A request past the end fails, after the first line, as in qemu-img.
expect_error "$VESSEL" img bench -c 3 -o 1M r.raw
grep -q '^Sending 3 read requests' out.txt || fail "first line before a failed request"
expect_error "$VESSEL" img bench -c 3 -s 8192 -o 1044480 r.raw
expect_fail qemu-img bench -c 3 -o 1M r.raw  # the reference agrees

# --- -w writes the pattern at the requested offsets, wrapping like qemu-img ---
# 100 requests of 4 KiB, 12 KiB apart, wrap around a 1 MiB image (step and
# size are coprime in 4 KiB units) and overwrite some blocks.
for fmt in raw qcow2; do
  qemu-img create -q -f "$fmt" mine.$fmt 1M
  qemu-img create -q -f "$fmt" ref.$fmt 1M
  expect 0 "$VESSEL" img bench -f "$fmt" -w -c 100 -d 8 -S 12k -o 8192 --pattern=0xa5 mine.$fmt
  qemu-img bench -f "$fmt" -w -c 100 -d 8 -S 12k -o 8192 --pattern=0xa5 ref.$fmt >/dev/null ||
    fail "qemu-img bench -w $fmt"
  qemu-img compare -f "$fmt" -F "$fmt" mine.$fmt ref.$fmt >/dev/null 2>&1 ||
    fail "bench -w on $fmt left other bytes than qemu-img bench -w"
  # The first request, one past the wrap, and a block never written.
  qio -f "$fmt" -c "read -P 0xa5 8192 4096" -c "read -P 0xa5 4096 4096" -c "read -P 0 0 4096" \
    mine.$fmt
  [ "$fmt" = raw ] || qemu-img check mine.qcow2 >/dev/null 2>&1 || fail "qemu-img check mine.qcow2"
done
# The default pattern is zero: a filled image gets zeros where it was written.
qio -f raw -c "write -P 0x11 0 1M" r.raw
expect 0 "$VESSEL" img bench -f raw -w -c 2 -d 1 r.raw
qio -f raw -c "read -P 0 0 8192" -c "read -P 0x11 8192 4096" r.raw
# Without -w nothing changes, and an image its user cannot write can be read.
# Root writes whatever the mode says: as root, bench runs as nobody.
cp r.raw before.raw
chmod a-w r.raw
as_nobody test -r r.raw || fail "nobody cannot read $DIR/r.raw: a parent directory shuts it out"
as_nobody test -w r.raw && fail "r.raw is still writable"
expect 0 as_nobody "$VESSEL" img bench -f raw -c 300 r.raw
cmp -s r.raw before.raw || fail "bench without -w changed the image"
chmod u+w r.raw

# --- convert: sparse sources, -c on several threads, -n over old data, -t ---
# 9 MiB: data, a 3 MiB hole, compressible text, a hole up to the end.
python3 - <<'PY'
import os
with open("sparse.raw", "wb") as f:
    f.write(os.urandom(2 << 20))
    f.seek(5 << 20)
    f.write((b"compressible " * 200000)[:2 << 20])
    f.truncate(9 << 20)
PY
for args in "-O qcow2" "-O qcow2 -c" "-O raw" "-O qcow2 -t writeback" "-O raw -t none" \
            "-O qcow2 -S 0"; do
  rm -f conv.out
  # shellcheck disable=SC2086
  expect 0 "$VESSEL" img convert -f raw $args sparse.raw conv.out
  qemu-img compare -f raw sparse.raw conv.out >/dev/null 2>&1 || fail "convert $args: contents differ"
  case $args in *qcow2*) qemu-img check conv.out >/dev/null 2>&1 || fail "convert $args: check" ;; esac
done
rm -f conv.out
expect 0 "$VESSEL" img convert -f raw -O raw sparse.raw conv.out
[ "$(du -k conv.out | cut -f1)" -lt 6000 ] || fail "convert to raw filled the holes: $(du -k conv.out)"
# -n writes every byte: the holes of the source overwrite old data with zeros.
qio -f raw -c "write -P 0x11 0 9M" conv.out
expect 0 "$VESSEL" img convert -n -f raw -O raw sparse.raw conv.out
cmp -s sparse.raw conv.out || fail "convert -n left old data where the source has holes"
qemu-img create -q -f qcow2 convn.qcow2 9M
qio -f qcow2 -c "write -P 0x11 0 9M" convn.qcow2
expect 0 "$VESSEL" img convert -n -f raw -O qcow2 sparse.raw convn.qcow2
qemu-img compare -f raw -F qcow2 sparse.raw convn.qcow2 >/dev/null 2>&1 ||
  fail "convert -n into qcow2 left old data where the source has holes"
expect_error "$VESSEL" img convert -t sometimes -O raw sparse.raw conv2.out

finish "all img bench tests passed"
