#!/bin/bash
# vessel img where it used to differ from qemu-img: each case is done by
# vessel on one copy and by qemu-img on another (or checked with qemu-io),
# and the results must agree.
# Usage: img_parity_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img qemu-io python3"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# --- commit -b through a middle image shorter than the top ---
# The top reads zeros past the middle image's end; after the commit the
# base must read them too, not its old data.
for tool in vessel qemu; do
  mkdir "$tool"
  qemu-img create -q -f qcow2 "$tool/base" 4M
  qio -c 'write -P 0x11 0 4M' "$tool/base"
  qemu-img create -q -f qcow2 -b base -F qcow2 "$tool/mid" 1M
  qemu-img create -q -f qcow2 -b mid -F qcow2 "$tool/top" 4M
  qio -c 'write -P 0x22 0 64k' "$tool/top"
done
qio -c 'read -P 0 1M 3M' vessel/top
# -b names the base as the chain does (relative to the top image).
(cd vessel && "$VESSEL" img commit -q -b base top) || fail "vessel img commit -b base top"
(cd qemu && qemu-img commit -q -b base top)
qio -c 'read -P 0x22 0 64k' -c 'read -P 0x11 64k 960k' -c 'read -P 0 1M 3M' vessel/base
same vessel/base qemu/base
qcheck vessel/base

# --- amend to compat=1.1 with snapshot entries that have no extra data ---
qemu-img create -q -f qcow2 -o compat=0.10 old.qcow2 1M
qio -c 'write -P 0x33 0 64k' old.qcow2
qemu-img snapshot -c s1 old.qcow2
python3 "$HERE/strip_snapshot_extra.py" old.qcow2
qcheck old.qcow2  # fine as version 2
cp old.qcow2 up.v && cp old.qcow2 up.q
expect 0 "$VESSEL" img amend -o compat=1.1 up.v
qemu-img amend -o compat=1.1 up.q
qcheck up.v  # qemu-img check calls a short version 3 entry an error
same up.v up.q
[ "$("$VESSEL" img snapshot -l up.v)" = "$(qemu-img snapshot -l up.q)" ] ||
  fail "snapshot lists differ after amend"
# A version 3 image with such entries (as the old amend left them): check
# reports it as qemu-img does, -r all repairs it.
cp old.qcow2 bad3
python3 - bad3 <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(4)
    f.write((3).to_bytes(4, "big"))  # version 3 ...
    f.seek(96)
    f.write((4).to_bytes(4, "big") + (104).to_bytes(4, "big"))  # refcount_order, header_length
PY
for mode in "" "-r leaks" "-r all"; do
  cp bad3 chk.v && cp bad3 chk.q
  expect "$(qemu-img check $mode chk.q >want.out 2>want.err; echo $?)" "$VESSEL" img check $mode chk.v
  diff out.txt want.out >/dev/null || fail "check $mode: stdout differs: $(diff out.txt want.out)"
  sed 's/^vessel: error: //' err.txt | diff - want.err >/dev/null ||
    fail "check $mode: stderr differs: $(cat err.txt)"
done
qcheck chk.v

# --- create -u: the backing file need not exist ---
expect 0 "$VESSEL" img create -q -u -b missing.qcow2 -F qcow2 -f qcow2 u.v 1M
qemu-img create -q -u -b missing.qcow2 -F qcow2 -f qcow2 u.q 1M
cmp -s u.v u.q || fail "create -u: the image differs from qemu-img's"
expect_error "$VESSEL" img create -q -u -b missing.qcow2 -F qcow2 -f qcow2 u2.v

# --- new images are byte for byte what qemu-img writes (sizes too) ---
while read -r size opts; do
  rm -f new.v new.q
  expect 0 "$VESSEL" img create -q -f qcow2 ${opts:+-o "$opts"} new.v "$size"
  qemu-img create -q -f qcow2 ${opts:+-o "$opts"} new.q "$size"
  cmp -s new.v new.q ||
    fail "create $size $opts: $(stat -c %s new.v) bytes, qemu-img's $(stat -c %s new.q), or content differs"
done <<'CASES'
1M
0
100G
1234
0x100000
10M compat=0.10
1G cluster_size=512
8G cluster_size=512
50G refcount_bits=1,cluster_size=4096
1T cluster_size=2M
1G lazy_refcounts=on
3G refcount_bits=64
CASES

# --- sizes and repeated options as qemu-img reads them ---
for size in 0x10000 1234 1.5k " 10k" 0X10 1b; do
  rm -f s.v s.q
  expect 0 "$VESSEL" img create -q -f raw s.v "$size"
  qemu-img create -q -f raw s.q "$size"
  [ "$(stat -c %s s.v)" = "$(stat -c %s s.q)" ] || fail "size '$size': $(stat -c %s s.v) bytes"
done
for size in 1.5 10KB 0x 8E; do
  expect_error "$VESSEL" img create -q -f raw s.v "$size"
done
expect 0 "$VESSEL" img create -q -f foo -f qcow2 last.v 1M
qemu-img info last.v | grep -q '^file format: qcow2' || fail "-f foo -f qcow2 did not make qcow2"
expect_error "$VESSEL" img create -q -f qcow2 -f foo last2.v 1M
grep -q "Unknown file format 'foo'" err.txt || fail "unknown format message: $(cat err.txt)"

# --- map asks the host file of a preallocated image about holes ---
qemu-img create -q -f qcow2 -o preallocation=metadata pre.qcow2 1M
qio -c 'write -P 1 0 4k' pre.qcow2
for output in json human; do
  expect 0 "$VESSEL" img map --output=$output pre.qcow2
  qemu-img map --output=$output pre.qcow2 >want.out
  diff out.txt want.out >/dev/null || fail "map --output=$output: $(diff out.txt want.out)"
done

# --- rebase -u keeps header extensions it does not know (as qemu-img) ---
qemu-img create -q -f qcow2 ext.q 1M
qemu-img create -q -f qcow2 newbase.q 1M
python3 - ext.q <<'PY'
import struct, sys
# An unknown extension (type 0x12345678, 5 bytes) first in the extension area.
with open(sys.argv[1], "r+b") as f:
    cluster = bytearray(f.read(65536))
    length = struct.unpack(">I", cluster[100:104])[0]
    cluster[length:length] = struct.pack(">II", 0x12345678, 5) + b"hello\0\0\0"
    f.seek(0)
    f.write(bytes(cluster[:65536]))
PY
cp ext.q ext.v
qemu-img rebase -u -b newbase.q -F qcow2 ext.q
expect 0 "$VESSEL" img rebase -u -b newbase.q -F qcow2 ext.v
cmp -s ext.v ext.q || fail "rebase -u: the header differs from qemu-img's"

# --- dd: the same output images (sizes included) and errors as qemu-img dd ---
qemu-img create -q -f qcow2 dd.src 1M
qio -c 'write -P 7 0 512k' -c 'write -P 9 512k 300k' dd.src
n=0
while read -r operands; do
  n=$((n + 1))
  want=0
  qemu-img dd $operands if=dd.src of=dd$n.q >/dev/null 2>want.err || want=$?
  expect "$want" "$VESSEL" img dd $operands if=dd.src of=dd$n.v
  if [ "$want" = 0 ]; then
    [ "$(stat -c %s dd$n.v)" = "$(stat -c %s dd$n.q)" ] || fail "dd $operands: size differs"
    same dd$n.v dd$n.q
  else
    sed 's/^qemu-img: //' want.err | head -1 >want.line
    grep -qF "$(cat want.line)" err.txt || fail "dd $operands: '$(cat err.txt)', qemu-img: '$(cat want.line)'"
  fi
done <<'CASES'
bs=64k count=3 skip=2
-O qcow2 bs=1k
bs=1000
bs=1.5k
bs=3 count=5
bs=4k skip=10 count=100
skip=2000 bs=1k
count=0
-O qcow2 bs=512 skip=3 count=7
bs=0
bogus=1
count=x
CASES
expect_error "$VESSEL" img dd if=dd.src
grep -q 'Must specify both input and output files' err.txt || fail "dd without of=: $(cat err.txt)"

# --- convert -l: an internal snapshot instead of the current disk ---
qemu-img create -q -f qcow2 snap.src 1M
qio -c 'write -P 3 0 128k' snap.src
qemu-img snapshot -c first snap.src
qio -c 'write -P 4 64k 128k' snap.src
for param in first 1 snapshot.name=first snapshot.id=1 snapshot.id=1,snapshot.name=first; do
  rm -f snap.v snap.q
  expect 0 "$VESSEL" img convert -l "$param" -O raw snap.src snap.v
  qemu-img convert -l "$param" -O raw snap.src snap.q
  same snap.v snap.q
done
qio -c 'read -P 3 0 128k' -c 'read -P 0 128k 64k' snap.v  # not the current disk
for param in nosuch snapshot.id=1,snapshot.name=other; do
  expect_error "$VESSEL" img convert -l "$param" -O raw snap.src snap.v
  grep -q "Can't find snapshot" err.txt || fail "convert -l $param: $(cat err.txt)"
done

# --- error texts a script may match ---
qemu-img create -q -f raw plain.raw 1M
expect 63 "$VESSEL" img check plain.raw
grep -q 'This image format does not support checks' err.txt || fail "check raw: $(cat err.txt)"
expect_error "$VESSEL" img resize -f qcow2 plain.raw 2M
grep -q 'Image is not in qcow2 format' err.txt || fail "qcow2 magic: $(cat err.txt)"

finish "vessel img agrees with qemu-img on the parity cases"
