#!/bin/bash
# vessel img snapshot against qemu-img snapshot: the same listing (column for
# column), the same lookups and exit statuses, snapshots usable by the other
# tool, and `vessel img info` showing snapshots as qemu-img info does.
# Usage: img_snapshot_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img qemu-io python3"
. "$(dirname "$0")/lib.sh"
# The listing without the DATE column (the two tools take snapshots at
# different moments).
undated() { sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}/YYYY-MM-DD hh:mm:ss/'; }

# --- help ---
expect 0 "$VESSEL" img snapshot --help
grep -q "Usage: vessel img snapshot" out.txt || fail "img snapshot --help"
expect 0 "$VESSEL" img --help
grep -q "^  snapshot \[" out.txt || fail "img --help does not list snapshot"

# --- the same operations through both tools: same listings, same disks ---
for t in ours theirs; do
  qemu-img create -q -f qcow2 -o cluster_size=4096 $t.qcow2 4M
  qio -c "write -P 0x11 0 1M" $t.qcow2
done
long=$(python3 -c 'print("n" * 300)')
for name in first second first "" "$long" "with space"; do
  expect 0 "$VESSEL" img snapshot -c "$name" ours.qcow2
  [ -s out.txt ] && fail "-c printed something: $(cat out.txt)"
  qemu-img snapshot -c "$name" theirs.qcow2
  qio -c "write -P 0x22 512k 64k" ours.qcow2
  qio -c "write -P 0x22 512k 64k" theirs.qcow2
done
qcheck ours.qcow2
expect 0 "$VESSEL" img snapshot -l ours.qcow2
undated <out.txt >mine.txt
qemu-img snapshot -l theirs.qcow2 | undated >ref.txt
cmp -s mine.txt ref.txt || fail "-l differs from qemu-img: $(diff mine.txt ref.txt)"
qemu-img snapshot -l ours.qcow2 | undated >ref2.txt
cmp -s ref.txt ref2.txt || fail "qemu-img lists our snapshots differently: $(diff ref.txt ref2.txt)"

# -a: ID first, then name; -d: the first snapshot with that name only.
for args in "-a first" "-a 2" "-d first" "-a first" "-d 2" "-d with?space" "-a 5"; do
  set -- $args
  snap=$(echo "$2" | tr '?' ' ')
  ref=0
  qemu-img snapshot "$1" "$snap" theirs.qcow2 >/dev/null 2>&1 || ref=$?
  expect $ref "$VESSEL" img snapshot "$1" "$snap" ours.qcow2
  [ "$ref" = 0 ] || grep -q '^vessel: error: ' err.txt || fail "$args: no error line"
  qcheck ours.qcow2
  same ours.qcow2 theirs.qcow2
done
expect 0 "$VESSEL" img snapshot -l ours.qcow2
undated <out.txt >mine.txt
qemu-img snapshot -l theirs.qcow2 | undated >ref.txt
cmp -s mine.txt ref.txt || fail "-l after -a/-d differs: $(diff mine.txt ref.txt)"

# Each tool applies and deletes the other's snapshots.
expect 0 "$VESSEL" img snapshot -a first theirs.qcow2
qemu-img snapshot -a first ours.qcow2 || fail "qemu-img -a on our image"
same ours.qcow2 theirs.qcow2; qcheck ours.qcow2; qcheck theirs.qcow2
expect 0 "$VESSEL" img snapshot -d first theirs.qcow2
qemu-img snapshot -d first ours.qcow2 || fail "qemu-img -d on our image"
qcheck ours.qcow2; qcheck theirs.qcow2
expect 0 "$VESSEL" img snapshot -l ours.qcow2
undated <out.txt >mine.txt
qemu-img snapshot -l theirs.qcow2 | undated >ref.txt
cmp -s mine.txt ref.txt || fail "-l after cross -a/-d differs: $(diff mine.txt ref.txt)"

# --- the listing of fields qemu-img never writes: exact, dates included ---
qemu-img create -q -f qcow2 fields.qcow2 1M
qemu-img snapshot -c one fields.qcow2
qemu-img snapshot -c two fields.qcow2
python3 - <<'PY'
import struct
f = open("fields.qcow2", "r+b")
hdr = f.read(72)
table = struct.unpack(">Q", hdr[64:72])[0]
# First entry: VM clock 1:01:59.442, VM state 1234567 bytes, icount unknown (-1).
f.seek(table + 24); f.write(struct.pack(">QI", 3719442912903, 1234567))
f.seek(table + 40); f.write(struct.pack(">Q", 1234567))
f.seek(table + 56); f.write(b"\xff" * 8)
# Second entry (40 + 24 + 1 + 3 bytes, rounded to 8): 100 hours, icount 123456789.
second = table + 72
f.seek(second + 24); f.write(struct.pack(">Q", 360000 * 10**9))
f.seek(second + 56); f.write(struct.pack(">Q", 123456789))
PY
expect 0 "$VESSEL" img snapshot -l fields.qcow2
qemu-img snapshot -l fields.qcow2 >ref.txt
cmp -s out.txt ref.txt || fail "-l of unusual fields differs: $(diff out.txt ref.txt)"
expect 0 "$VESSEL" img info fields.qcow2
sed -n '/^Snapshot list:/,/^Format specific/p' out.txt >mine.txt
qemu-img info fields.qcow2 | sed -n '/^Snapshot list:/,/^Format specific/p' >ref.txt
[ -s ref.txt ] && cmp -s mine.txt ref.txt || fail "info snapshot list differs: $(diff mine.txt ref.txt)"
expect 0 "$VESSEL" img info --output=json fields.qcow2
qemu-img info --output=json fields.qcow2 >ref.json
python3 - <<'PY' || fail "info --output=json snapshots differ from qemu-img"
import json, sys
mine, ref = json.load(open("out.txt")), json.load(open("ref.json"))
if mine.get("snapshots") != ref.get("snapshots") or "snapshots" not in ref:
    print(mine.get("snapshots"), ref.get("snapshots"))
    sys.exit(1)
PY
# Field order too: the text of the snapshots array is qemu-img's.
sed -n '/"snapshots"/,/^    \]/p' out.txt >mine.txt
sed -n '/"snapshots"/,/^    \]/p' ref.json >ref.txt
cmp -s mine.txt ref.txt || fail "info json snapshot text differs: $(diff mine.txt ref.txt)"
# An image that is otherwise fine: rewriting the table keeps the fields.
qemu-img snapshot -l fields.qcow2 >before.txt
expect 0 "$VESSEL" img snapshot -c three fields.qcow2
qemu-img snapshot -l fields.qcow2 >after-all.txt
head -n 4 after-all.txt >after.txt
cmp -s before.txt after.txt || fail "rewritten table lost fields: $(diff before.txt after.txt)"
qcheck fields.qcow2

# --- exit statuses and errors like qemu-img ---
qemu-img create -q -f raw r.raw 1M
qemu-img create -q -f qcow2 e.qcow2 1M
qemu-img snapshot -c s e.qcow2
for args in "-l e.qcow2" "e.qcow2" "-l r.raw" "-U -l e.qcow2" "-q -l e.qcow2"; do
  ref=0
  qemu-img snapshot $args >ref.txt 2>/dev/null || ref=$?
  expect $ref "$VESSEL" img snapshot $args
  cmp -s out.txt ref.txt || fail "'snapshot $args' output differs: $(diff out.txt ref.txt)"
done
for args in "-a nope e.qcow2" "-d nope e.qcow2" "-d 1 e.qcow2" "-l -c x e.qcow2" "-a x -a y e.qcow2" \
            "-l" "-l e.qcow2 extra" "-x e.qcow2" "-a" "-l missing.qcow2" "-c x r.raw" "-a x r.raw" \
            "-d x r.raw" "-U -c x e.qcow2"; do
  ref=0
  qemu-img snapshot $args >/dev/null 2>&1 || ref=$?
  [ "$ref" = 1 ] || fail "qemu-img snapshot $args exited $ref"
  expect_error "$VESSEL" img snapshot $args
done
qcheck e.qcow2
qemu-img snapshot -l e.qcow2 >list.txt
[ "$(wc -l <list.txt)" = 3 ] || fail "failed commands changed e.qcow2: $(cat list.txt)"
# Malformed snapshot tables: every action fails with one error line and the
# file is left as it was.
for damage in nb_snapshots l1_offset l1_entry name_size; do
  cp e.qcow2 bad.qcow2
  python3 - "$damage" <<'PY'
import struct, sys
f = open("bad.qcow2", "r+b")
hdr = f.read(72)
table = struct.unpack(">Q", hdr[64:72])[0]
f.seek(table); l1 = struct.unpack(">Q", f.read(8))[0]
damage = sys.argv[1]
if damage == "nb_snapshots":
    f.seek(60); f.write(struct.pack(">I", 0x7fffffff))
elif damage == "l1_offset":
    f.seek(table); f.write(struct.pack(">Q", 1 << 40))
elif damage == "l1_entry":
    f.seek(l1); f.write(struct.pack(">Q", (1 << 40) | (1 << 63)))
else:
    f.seek(table + 14); f.write(struct.pack(">H", 0xffff))
PY
  cp bad.qcow2 bad.orig
  for args in "-a s" "-d s" "-a 1" "-c t"; do
    [ "$damage" = l1_entry ] && [ "$args" = "-c t" ] && continue
    expect_error "$VESSEL" img snapshot $args bad.qcow2
    cmp -s bad.qcow2 bad.orig || fail "$damage: 'snapshot $args' changed the file"
  done
done

printf 'garbage, not an image' >garbage.img
expect_error "$VESSEL" img snapshot -f qcow2 -l garbage.img
expect_error "$VESSEL" img snapshot -f vmdk -l e.qcow2

finish "all img snapshot tests passed"
