#!/bin/bash
# vessel img on qcow2 images with extended L2 entries (subclusters) written by
# qemu-io: info, map, check, compare and convert agree with qemu-img; verbs
# that write refuse such images with one error line.
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

# Writing is refused with one clear error, and the image is left as it was.
cp x.qcow2 before.qcow2
expect_error "$VESSEL" img convert -n -O qcow2 out.raw x.qcow2
grep -q '^vessel: error: .*read-only' err.txt || fail "convert -n: $(cat err.txt)"
cmp -s x.qcow2 before.qcow2 || fail "convert -n changed the image"

finish "all extended L2 tests passed"
