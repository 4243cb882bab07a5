#!/bin/bash
# vessel img convert into an image that already holds data (-n), with and
# without -c: every byte of the result must be the source's, checked with
# qemu-img compare; zero pieces become zero clusters (qcow2) rather than
# data. Then the cache modes (-t, -T): every mode gives the same result,
# none/directsync bypass the page cache (O_DIRECT, checked with strace when it
# is installed), and a file system without O_DIRECT gives qemu-img's error.
# Usage: img_convert_test.sh VESSEL SCRATCH_DIR [NO_ODIRECT_PRELOAD]
set -euo pipefail
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

# --- cache modes: -t for the output, -T for the source ---
# 12 MiB: data, compressible text, a hole, a short odd piece of data (so that
# compressed clusters end at odd offsets), a hole up to the end.
python3 - <<'PY'
import os
with open("mix.raw", "wb") as f:
    f.write(os.urandom(3 << 20))
    f.write((b"compressible " * 300000)[:3 << 20])
    f.seek(9 << 20)
    f.write(os.urandom(12345))
    f.truncate(12 << 20)
PY
for mode in none off directsync writethrough writeback unsafe; do
  for out in "-O raw" "-O qcow2" "-O qcow2 -c"; do
    rm -f mix.out
    # shellcheck disable=SC2086
    expect 0 "$VESSEL" img convert -f raw $out -t $mode -T $mode mix.raw mix.out
    qemu-img compare -f raw mix.raw mix.out >cmp.txt 2>&1 ||
      fail "convert $out -t $mode -T $mode: $(cat cmp.txt)"
    case $out in *qcow2*) qcheck mix.out ;; esac
  done
  # -n into an old image of each format, with the same mode.
  old_target t.qcow2 qcow2
  expect 0 "$VESSEL" img convert -n -c -f raw -O qcow2 -t $mode hole.raw t.qcow2
  same hole.raw t.qcow2
  qcheck t.qcow2
done
expect 0 "$VESSEL" img convert -U -f raw -O qcow2 mix.raw u.qcow2
same mix.raw u.qcow2
rm -f u.qcow2
expect 0 "$VESSEL" img convert --force-share -f raw -O qcow2 mix.raw u.qcow2
same mix.raw u.qcow2
expect_error "$VESSEL" img convert -t sometimes -O raw mix.raw bad.out
expect_error "$VESSEL" img convert -T sometimes -O raw mix.raw bad.out

# What each mode asks of the kernel: O_DIRECT for none and directsync,
# O_DSYNC for writethrough and directsync (the open flags of the output and
# of the source), no fdatasync with unsafe, fdatasync at the end otherwise.
if command -v strace >/dev/null 2>&1; then
  for mode in none directsync writethrough writeback unsafe; do
    rm -f s.out
    # LeakSanitizer cannot run under ptrace.
    ASAN_OPTIONS=detect_leaks=0 strace -f -o trace.txt -e trace=openat,fdatasync \
      "$VESSEL" img convert -f raw -O raw -t $mode -T $mode mix.raw s.out >/dev/null 2>&1 ||
      fail "strace convert -t $mode"
    out_open=$(grep '"s.out", O_RDWR' trace.txt | grep -v O_CREAT | tail -n 1)
    src_open=$(grep '"mix.raw", O_RDONLY' trace.txt | tail -n 1)
    syncs=$(count 'fdatasync(' trace.txt)
    for open in "$out_open" "$src_open"; do
      case $mode in
        none) want="O_DIRECT" nowant="O_DSYNC" ;;
        directsync) want="O_DIRECT O_DSYNC" nowant="" ;;
        writethrough) want="O_DSYNC" nowant="O_DIRECT" ;;
        *) want="" nowant="O_DIRECT O_DSYNC" ;;
      esac
      for flag in $want; do
        echo "$open" | grep -q "$flag" || fail "-t/-T $mode: no $flag in: $open"
      done
      for flag in $nowant; do
        echo "$open" | grep -q "$flag" && fail "-t/-T $mode: $flag in: $open"
      done
    done
    if [ "$mode" = unsafe ]; then
      [ "$syncs" = 0 ] || fail "-t unsafe called fdatasync $syncs times"
    else
      [ "$syncs" -ge 1 ] || fail "-t $mode never called fdatasync"
    fi
  done
else
  echo "strace not installed: open flags not checked"
fi

# A file system without O_DIRECT: none and directsync fail with qemu-img's
# reason, writeback and writethrough work.
if [ -n "$NO_ODIRECT" ]; then
  nodirect() { ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD=$NO_ODIRECT "$@"; }
  for args in "-t none" "-t directsync" "-T none" "-T directsync" "-t off"; do
    rm -f nd.out
    # shellcheck disable=SC2086
    expect_error nodirect "$VESSEL" img convert -f raw -O qcow2 $args mix.raw nd.out
    grep -q 'filesystem does not support O_DIRECT' err.txt ||
      fail "convert $args without O_DIRECT: $(cat err.txt)"
  done
  for args in "-t writeback" "-t writethrough -T writethrough"; do
    rm -f nd.out
    # shellcheck disable=SC2086
    expect 0 nodirect "$VESSEL" img convert -f raw -O qcow2 $args mix.raw nd.out
    same mix.raw nd.out
  done
fi

finish "all img convert tests passed"
