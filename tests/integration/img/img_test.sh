#!/bin/bash
# vessel img against qemu-img: images made by one are accepted by the other,
# info agrees, conversions round-trip, exit statuses match.
# Usage: img_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img python3"
. "$(dirname "$0")/lib.sh"

# --- help ---
expect 0 "$VESSEL" img --help
for verb in create info convert check compare map measure resize; do
  expect 0 "$VESSEL" img $verb --help
  grep -q "Usage: vessel img $verb" out.txt || fail "img $verb --help"
done

# --- create ---
expect 0 "$VESSEL" img create -f qcow2 a.qcow2 64M
grep -q "^Formatting 'a.qcow2', fmt=qcow2 cluster_size=65536" out.txt || fail "create output"
qcheck a.qcow2
expect 0 "$VESSEL" img create -f qcow2 -o compat=0.10,cluster_size=4k v2.qcow2 10M; qcheck v2.qcow2
expect 0 "$VESSEL" img create -f qcow2 -o refcount_bits=1,lazy_refcounts=on,compression_type=zstd z.qcow2 10M
qcheck z.qcow2
expect 0 "$VESSEL" img create -f qcow2 -o preallocation=metadata p.qcow2 10M; qcheck p.qcow2
expect 0 "$VESSEL" img create -f qcow2 -b a.qcow2 -F qcow2 b.qcow2; qcheck b.qcow2
expect 0 "$VESSEL" img create r.raw 1M
[ "$(stat -c %s r.raw)" = 1048576 ] || fail "raw size"

# --- info agrees with qemu-img ---
for img in a.qcow2 v2.qcow2 z.qcow2 b.qcow2 r.raw; do
  "$VESSEL" img info --output=json "$img" >mine.json || fail "info $img"
  qemu-img info --output=json "$img" >ref.json
  python3 - "$img" <<'PY' || fail "info --output=json $img differs from qemu-img"
import json, sys
mine, ref = json.load(open("mine.json")), json.load(open("ref.json"))
keys = ["virtual-size", "filename", "cluster-size", "format", "dirty-flag", "backing-filename",
        "backing-filename-format", "full-backing-filename", "format-specific"]
bad = [k for k in keys if mine.get(k) != ref.get(k)]
if bad:
    print(sys.argv[1], bad, mine, ref)
    sys.exit(1)
PY
done
expect 0 "$VESSEL" img info --backing-chain --output=json b.qcow2
python3 -c "import json; assert len(json.load(open('out.txt'))) == 2" || fail "backing chain"
expect 0 "$VESSEL" img info a.qcow2
grep -q "^virtual size: 64 MiB (67108864 bytes)" out.txt || fail "human info"

# --- convert round trips ---
python3 -c "
import os, sys
with open('src.raw', 'wb') as f:
    f.write(os.urandom(300000)); f.seek(2 << 20); f.write(b'compressible text ' * 100000); f.truncate(8 << 20)"
expect 0 "$VESSEL" img convert -O qcow2 src.raw c1.qcow2; qcheck c1.qcow2; same src.raw c1.qcow2
expect 0 "$VESSEL" img convert -c -O qcow2 src.raw c2.qcow2; qcheck c2.qcow2; same src.raw c2.qcow2
[ "$(stat -c %s c2.qcow2)" -lt "$(stat -c %s c1.qcow2)" ] || fail "-c did not compress"
expect 0 "$VESSEL" img convert -p -O qcow2 c2.qcow2 c3.qcow2; qcheck c3.qcow2; same src.raw c3.qcow2
expect 0 "$VESSEL" img convert -S 0 c3.qcow2 back.raw; cmp -s src.raw back.raw || fail "qcow2->raw"
expect 0 "$VESSEL" img convert -O qcow2 -B c1.qcow2 -F qcow2 src.raw ov.qcow2; qcheck ov.qcow2
same src.raw ov.qcow2
qemu-img convert -c -O qcow2 src.raw q.qcow2
expect 0 "$VESSEL" img convert q.qcow2 q.raw; cmp -s src.raw q.raw || fail "qemu-compressed -> raw"

# --- check ---
for img in a.qcow2 v2.qcow2 z.qcow2 p.qcow2 c1.qcow2 c2.qcow2 ov.qcow2 q.qcow2; do
  expect 0 "$VESSEL" img check "$img"
done
expect 0 "$VESSEL" img check --output=json c2.qcow2
python3 -c "import json; d = json.load(open('out.txt')); assert d['check-errors'] == 0" || fail "check json"
expect 63 "$VESSEL" img check r.raw
# A leak: a referenced-by-nobody cluster with refcount 1 (append one and count it).
cp c1.qcow2 leak.qcow2
qio -c "write 0 64k" leak.qcow2
qio -c "discard 0 64k" leak.qcow2
python3 - <<'PY'
import struct
f = open("leak.qcow2", "r+b")
hdr = f.read(104)
cluster_bits = struct.unpack(">I", hdr[20:24])[0]; cs = 1 << cluster_bits
rt = struct.unpack(">Q", hdr[48:56])[0]
f.seek(rt); rb = struct.unpack(">Q", f.read(8))[0]
f.seek(0, 2); n = f.tell() // cs
f.truncate((n + 1) * cs)
f.seek(rb + 2 * n); f.write(struct.pack(">H", 1))      # leaked cluster n
f.seek(rb + 2 * 0); f.write(struct.pack(">H", 0))      # header cluster: refcount 0
PY
ref=0
qemu-img check leak.qcow2 >/dev/null 2>&1 || ref=$?
expect $ref "$VESSEL" img check leak.qcow2
[ "$ref" = 2 ] || fail "qemu-img check of the damaged image exited $ref"

# --- compare ---
expect 0 "$VESSEL" img compare src.raw c2.qcow2
cp src.raw diff.raw
printf 'X' | dd of=diff.raw bs=1 seek=5000 conv=notrunc 2>/dev/null
expect 1 "$VESSEL" img compare src.raw diff.raw
grep -q "^Content mismatch at offset 4608!" out.txt || fail "compare output"
expect 2 "$VESSEL" img compare src.raw missing.raw

# --- resize ---
expect 0 "$VESSEL" img resize r.raw +1M
[ "$(stat -c %s r.raw)" = 2097152 ] || fail "resize +1M"
expect_error "$VESSEL" img resize r.raw 1M
expect 0 "$VESSEL" img resize --shrink r.raw 1M
expect_error "$VESSEL" img resize a.qcow2 1M  # shrinking needs --shrink (qcow2: img_edit_test.sh)

# --- bad input: one error line, exit 1 ---
printf 'garbage, not an image' >garbage.img
expect_error "$VESSEL" img info missing.qcow2
expect_error "$VESSEL" img info -f qcow2 garbage.img
expect_error "$VESSEL" img create -f qcow2 bad.qcow2 12Q
expect_error "$VESSEL" img create -f vmdk bad.img 1M
expect_error "$VESSEL" img create -f qcow2 bad.qcow2
expect_error "$VESSEL" img create -f qcow2 -o cluster_size=3000 bad.qcow2 1M
expect_error "$VESSEL" img convert -O vdi src.raw x.img
expect_error "$VESSEL" img convert missing.raw x.img
expect_error "$VESSEL" img check -f qcow2 garbage.img
expect_error "$VESSEL" img info --bogus a.qcow2
expect_error "$VESSEL" img frobnicate

# --- map: the same extents as qemu-img map, human and json ---
truncate -s 4M map.raw
printf 'abc' | dd of=map.raw bs=1 seek=1048576 conv=notrunc 2>/dev/null
qemu-img create -q -f qcow2 map.qcow2 4M
qio -c "write -P 1 0 64k" -c "write -z 128k 64k" -c "write -P 2 1M 4k" map.qcow2
qemu-img create -q -f qcow2 -b map.qcow2 -F qcow2 map-top.qcow2
qio -c "write -P 3 64k 64k" map-top.qcow2
for f in map.raw map.qcow2 map-top.qcow2; do
  for output in json human; do
    qemu-img map --output=$output "$f" >want.txt 2>&1
    expect 0 "$VESSEL" img map --output=$output "$f"
    cmp -s want.txt out.txt || fail "img map --output=$output $f differs from qemu-img"
  done
done

finish "all vessel img tests passed"
