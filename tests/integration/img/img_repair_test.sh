#!/bin/bash
# vessel img check -r against qemu-img check -r: images with leaked clusters,
# refcounts that are too low or zero, wrong "copied" flags, and a
# lazy-refcount image left dirty by a killed qemu-io. Each is repaired by
# vessel and by qemu-img (on a copy); the outputs and exit statuses must
# match, qemu-img check must then find the image clean, and both repaired
# copies must hold the same data.
# Usage: img_repair_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img qemu-io python3"
. "$(dirname "$0")/lib.sh"

# poke IMAGE CLUSTER REFCOUNT: sets a 16-bit refcount in the first refcount
# block (enough for these small images).
poke() {
  python3 - "$@" <<'PY'
import struct, sys
path, cluster, value = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "r+b") as f:
    header = f.read(104)
    table = struct.unpack(">Q", header[48:56])[0]
    f.seek(table)
    block = struct.unpack(">Q", f.read(8))[0]
    f.seek(block + 2 * cluster)
    f.write(struct.pack(">H", value))
PY
}

# data IMAGE: a 10 MiB image with data clusters 5..8 (64 KiB clusters).
data() {
  rm -f "$1"
  qemu-img create -q -f qcow2 "$1" 10M
  qio -c 'write -P 0xab 0 200k' -c 'write -P 0xcd 5M 4k' "$1"
}

# repair NAME MODE: repairs NAME.qcow2 with vessel and a copy with qemu-img;
# compares stdout and exit status, then checks the result.
repair() {
  name=$1 mode=$2
  cp "$name.qcow2" "$name.q.qcow2"
  want=0
  qemu-img check -r "$mode" "$name.q.qcow2" >"$name.q.out" 2>"$name.q.err" || want=$?
  got=0
  "$VESSEL" img check -r "$mode" "$name.qcow2" >"$name.v.out" 2>"$name.v.err" || got=$?
  [ "$got" = "$want" ] || fail "$name -r $mode: exit $got, qemu-img $want: $(cat "$name.v.err")"
  cmp -s "$name.v.out" "$name.q.out" ||
    fail "$name -r $mode: output differs: $(diff "$name.v.out" "$name.q.out")"
  if [ "$want" = 0 ]; then
    qemu-img check "$name.qcow2" >/dev/null 2>&1 || fail "$name: not clean after repair"
    qemu-img compare "$name.qcow2" "$name.q.qcow2" >/dev/null 2>&1 ||
      fail "$name: data differs from qemu-img's repair"
  fi
}

# Leak: a data cluster counted twice (its copied flag then looks wrong too).
data leak.qcow2
qemu-img check leak.qcow2 >/dev/null 2>&1 || fail "leak.qcow2 not clean before poking"
poke leak.qcow2 5 2
cp leak.qcow2 leak_all.qcow2
cp leak.qcow2 leak_json.qcow2
expect 2 "$VESSEL" img check leak.qcow2  # leaky, with a wrong copied flag
repair leak leaks
grep -q "^Repairing cluster 5 refcount=2 reference=1" leak.v.err || fail "no repair line"
repair leak_all all
"$VESSEL" img check -r leaks --output=json leak_json.qcow2 >json.out 2>/dev/null || fail "json repair"
grep -q '"leaks-fixed": 1' json.out || fail "json has no leaks-fixed: $(cat json.out)"

# A leak of a cluster nothing refers to, inside the file.
data free.qcow2
qio -c 'discard 0 64k' free.qcow2  # cluster 5 becomes free
poke free.qcow2 5 1
repair free leaks

# Refcount too low (not zero): snapshot-shared clusters counted once.
data low.qcow2
qemu-img snapshot -c s1 low.qcow2 || fail "snapshot"
poke low.qcow2 6 1
cp low.qcow2 low_all.qcow2
repair low leaks  # cannot fix: exit 2 like qemu-img
repair low_all all

# Refcount zero for a cluster in use: -r leaks refuses, -r all rebuilds.
data zero.qcow2
poke zero.qcow2 5 0
poke zero.qcow2 6 3
cp zero.qcow2 zero_all.qcow2
cp zero.qcow2 zero.orig
expect 1 "$VESSEL" img check -r leaks zero.qcow2  # after qemu-img's ERROR lines, one error
[ "$(grep -c '^vessel: error: ' err.txt)" = 1 ] || fail "zero: one error line: $(cat err.txt)"
cmp -s zero.qcow2 zero.orig || fail "-r leaks changed an image it could not repair"
repair zero_all all

# qemu-img's rebuild puts the new structure in the first free clusters and
# then frees the old one, with the same lines on stderr.
cmp -s zero_all.v.err zero_all.q.err ||
  fail "zero_all: stderr differs: $(diff zero_all.v.err zero_all.q.err)"

# No refcount table at all (refcount_table_clusters 0, with or without an
# offset), and a table whose entries are all gone. Only a check opens the
# first two; -r all rebuilds all three as qemu-img does, line for line.
data nort.qcow2
python3 - nort.qcow2 <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(48)
    f.write(bytes(12))  # refcount_table_offset, refcount_table_clusters
PY
data noclusters.qcow2
python3 - noclusters.qcow2 <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(56)
    f.write(bytes(4))  # refcount_table_clusters
PY
data noblocks.qcow2
python3 - noblocks.qcow2 <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(48)
    table = struct.unpack(">Q", f.read(8))[0]
    f.seek(table)
    f.write(bytes(8))  # the only refcount block entry
PY
for name in nort noclusters; do
  expect_error "$VESSEL" img info "$name.qcow2"
  grep -q "$name.qcow2: Image does not contain a reference count table" err.txt ||
    fail "$name: info error: $(cat err.txt)"
  expect_fail qemu-img info "$name.qcow2"
  grep -q "Image does not contain a reference count table" err.txt ||
    fail "$name: qemu-img info error: $(cat err.txt)"
  expect_error "$VESSEL" img map "$name.qcow2"
done
for name in nort noclusters noblocks; do
  for mode in "" "--output=json" "-r leaks"; do
    # The same name in two directories: JSON output shows it.
    mkdir -p v q && cp "$name.qcow2" v/chk && cp "$name.qcow2" q/chk
    want=0
    (cd q && qemu-img check $mode chk >../want.out 2>../want.err) || want=$?
    got=0
    (cd v && "$VESSEL" img check $mode chk >../out.txt 2>../err.txt) || got=$?
    [ "$got" = "$want" ] || fail "$name check $mode: exit $got, qemu-img $want: $(cat err.txt)"
    cmp -s out.txt want.out || fail "$name check $mode: stdout differs: $(diff out.txt want.out)"
    # The last line of a failed -r leaks is each program's own error line.
    grep -v '^qemu-img: ' want.err >want.lines || true
    grep -v '^vessel: error: ' err.txt >got.lines || true
    cmp -s got.lines want.lines ||
      fail "$name check $mode: stderr differs: $(diff got.lines want.lines)"
    cmp -s v/chk "$name.qcow2" || fail "$name check $mode changed the image"
  done
  repair "$name" all
  cmp -s "$name.v.err" "$name.q.err" ||
    fail "$name -r all: stderr differs: $(diff "$name.v.err" "$name.q.err")"
  [ "$(stat -c %s "$name.qcow2")" = "$(stat -c %s "$name.q.qcow2")" ] ||
    fail "$name -r all: file size differs from qemu-img's"
  expect 0 "$VESSEL" img info "$name.qcow2"
  qio -r -c 'read -P 0xab 0 200k' -c 'read -P 0xcd 5M 4k' "$name.qcow2"
done

# Clean images are left alone.
data clean.qcow2
cp clean.qcow2 clean.orig
repair clean all
cmp -s clean.qcow2 clean.orig || fail "a clean image was modified by -r all"

# Bad mode.
expect_error "$VESSEL" img check -r some clean.qcow2
grep -q "^vessel: error: .*'leaks' or 'all'" err.txt || fail "bad -r value: $(cat err.txt)"

# A lazy-refcount image whose qemu-io was killed: dirty, refcounts stale.
rm -f lazy.qcow2
qemu-img create -q -f qcow2 -o lazy_refcounts=on lazy.qcow2 16M
# The flush makes data and L2 tables durable; lazy refcounts stay in memory
# until qemu-io is killed during its sleep. Its output is line-buffered, so
# that the loop sees each "wrote" line when the write is done.
stdbuf -oL qemu-io -c 'write -P 0x11 0 1M' -c 'write -P 0x22 4M 512k' -c flush \
  -c 'write -P 0x33 8M 64k' -c 'sleep 20000' lazy.qcow2 >qio.log 2>&1 &
qio=$!
for _ in $(seq 120); do
  [ "$(grep -c wrote qio.log)" = 3 ] && break
  sleep 0.5
done
# Killed during its sleep, it ends with status 137; any other status means
# it failed before (kill then finds no process, which the status shows).
kill -9 $qio 2>/dev/null || true
status=0
wait $qio 2>/dev/null || status=$?  # no "Killed" notice
[ "$status" = 137 ] || fail "qemu-io was not killed in its sleep (status $status): $(cat qio.log)"
expect_fail qemu-img check lazy.qcow2  # else there is nothing to repair
repair lazy all
qio -r -c 'read -P 0x11 0 1M' -c 'read -P 0x22 4M 512k' lazy.qcow2  # no data lost

finish "all img repair tests passed"
