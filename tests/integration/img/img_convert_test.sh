#!/bin/sh
# vessel img convert into an image that already holds data (-n), with and
# without -c: every byte of the result must be the source's, checked with
# qemu-img compare; zero pieces become zero clusters (qcow2) rather than
# data. Then the cache modes (-t, -T): every mode gives the same result,
# none/directsync bypass the page cache (O_DIRECT, checked with strace when it
# is installed), and a file system without O_DIRECT gives qemu-img's error.
# Usage: img_convert_test.sh VESSEL SCRATCH_DIR [NO_ODIRECT_PRELOAD]
set -u
VESSEL=$1
DIR=$2
NO_ODIRECT=${3:-}
TOOLS="qemu-img qemu-io python3"
. "$(dirname "$0")/lib.sh"

# --- -n over old data ---
# 4 MiB sources: 1 MiB of 0x11, then zeros, as a hole (hole.raw) and as
# zero bytes on disk (zeros.raw): convert finds the first from the file's
# allocation and the second by looking at the data.
python3 - <<'PY'
with open("hole.raw", "wb") as f:
    f.write(b"\x11" * (1 << 20))
    f.truncate(4 << 20)
with open("zeros.raw", "wb") as f:
    f.write(b"\x11" * (1 << 20) + bytes(3 << 20))
PY
# A target full of old data (0x22), in each format.
old_target() {
  rm -f "$1"
  qemu-img create -q -f "$2" "$1" 4M
  qemu-io -f "$2" -c "write -P 0x22 0 4M" "$1" >/dev/null 2>&1 || fail "qemu-io fill $1"
}
for src in hole.raw zeros.raw; do
  for flags in "-c -n" "-n" "-n -S 0" "-c -n -S 0" "-c -n -S 64k"; do
    old_target t.qcow2 qcow2
    # shellcheck disable=SC2086
    expect 0 "$VESSEL" img convert -f raw -O qcow2 $flags "$src" t.qcow2
    qemu-img compare -f raw -F qcow2 "$src" t.qcow2 >cmp.txt 2>&1 ||
      fail "convert $flags $src onto old data: $(cat cmp.txt)"
    qcheck t.qcow2
    case $flags in
      *"-S 0"*) ;;
      *)
        # Zero pieces are written as zero clusters, not as data.
        qemu-img map --output=json -f qcow2 t.qcow2 >map.txt
        grep -q '"start": 1048576, "length": 3145728, .*"zero": true, "data": false' map.txt ||
          fail "convert $flags $src: zeros not written as zero clusters: $(cat map.txt)"
        ;;
    esac
  done
  for flags in "-n" "-n -S 0"; do
    old_target t.raw raw
    # shellcheck disable=SC2086
    expect 0 "$VESSEL" img convert -f raw -O raw $flags "$src" t.raw
    cmp -s "$src" t.raw || fail "convert $flags $src onto an old raw image"
  done
done
# A target whose backing file holds the old data: zeros of the source must
# hide it (zero clusters), not leave the backing file showing through.
qemu-img create -q -f raw base.raw 4M
qemu-io -f raw -c "write -P 0x33 0 4M" base.raw >/dev/null 2>&1
for flags in "-c -n" "-n"; do
  rm -f ov.qcow2
  qemu-img create -q -f qcow2 -b base.raw -F raw ov.qcow2
  # shellcheck disable=SC2086
  expect 0 "$VESSEL" img convert -f raw -O qcow2 $flags hole.raw ov.qcow2
  qemu-img compare -f raw -F qcow2 hole.raw ov.qcow2 >cmp.txt 2>&1 ||
    fail "convert $flags over a backing file: $(cat cmp.txt)"
  qcheck ov.qcow2
done
# A larger target keeps what lies past the source's end.
old_target big.qcow2 qcow2
qemu-img resize -q -f qcow2 big.qcow2 6M
qemu-io -f qcow2 -c "write -P 0x44 4M 2M" big.qcow2 >/dev/null 2>&1
expect 0 "$VESSEL" img convert -c -n -f raw -O qcow2 hole.raw big.qcow2
qemu-io -f qcow2 -c "read -P 0x11 0 1M" -c "read -P 0 1M 3M" -c "read -P 0x44 4M 2M" \
  big.qcow2 >io.txt 2>&1
grep -q 'Pattern verification failed' io.txt && fail "convert -c -n into a larger image: $(cat io.txt)"
# A raw size that is not a multiple of the sparse unit (4 KiB): the short
# last unit is written too, after a run of data and after a run of zeros.
python3 - <<'PY'
import os
with open("odd1.raw", "wb") as f:
    f.write(os.urandom(10000))
with open("odd2.raw", "wb") as f:
    f.write(os.urandom(1 << 20) + bytes(8192) + os.urandom(5000))
PY
for src in odd1.raw odd2.raw; do
  rm -f odd.out
  expect 0 "$VESSEL" img convert -f raw -O raw "$src" odd.out
  cmp -s "$src" odd.out || fail "convert of $src (odd size) lost its end"
  head -c "$(wc -c <"$src")" /dev/zero | tr '\0' '\042' >odd.out
  expect 0 "$VESSEL" img convert -n -f raw -O raw "$src" odd.out
  cmp -s "$src" odd.out || fail "convert -n of $src (odd size) lost its end"
done

finish "all img convert tests passed"
