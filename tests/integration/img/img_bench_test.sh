#!/bin/bash
# vessel img bench against qemu-img bench: same output lines, same exit
# statuses, and -w leaves the same bytes in the image; the cache modes (-t)
# ask the kernel for what qemu-img asks (O_DIRECT, O_DSYNC, fdatasync at the
# close), requests of any alignment work with O_DIRECT, --no-drain flushes
# while requests go on. Also the paths of vessel img convert that exist for
# speed: holes of raw sources skipped, parallel compression, ordered
# multi-threaded copying, cache modes.
# Usage: img_bench_test.sh VESSEL SCRATCH_DIR [NO_ODIRECT_PRELOAD]
set -euo pipefail
VESSEL=$1
DIR=$2
NO_ODIRECT=${3:-}
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
             "-q -c 3 -t none -i threads -U --no-drain" \
             "-w -c 20 -d 4 --flush-interval=8 --no-drain -t directsync" \
             "-w -c 9 -d 2 -s 1000 -S 777 -o 3 -t none" "-c 9 -t writethrough" "-w -c 9 -t unsafe"; do
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
# No AIO engine to map native AIO or io_uring to: refused, with the reason.
for aio in "-n" "-i native" "-i io_uring" "-n -t none"; do
  # shellcheck disable=SC2086
  expect_error "$VESSEL" img bench $aio -c 1 r.raw
  grep -q 'aio=threads' err.txt || fail "bench $aio: $(cat err.txt)"
done
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

# --- cache modes: the same bytes whatever the mode, any alignment with O_DIRECT ---
# Unaligned requests (100 bytes, 100 apart, on several threads) over old
# data: with O_DIRECT each is a read-modify-write of its blocks, and two of
# them in one block must not lose each other's bytes.
for mode in none directsync writethrough writeback unsafe; do
  for fmt in raw qcow2; do
    qemu-img create -q -f "$fmt" mine.$fmt 1M
    qemu-img create -q -f "$fmt" ref.$fmt 1M
    qemu-io -f "$fmt" -c "write -P 0x11 0 1M" mine.$fmt >/dev/null 2>&1
    qemu-io -f "$fmt" -c "write -P 0x11 0 1M" ref.$fmt >/dev/null 2>&1
    expect 0 "$VESSEL" img bench -f "$fmt" -w -t $mode -c 3000 -d 8 -s 100 -S 100 -o 7 \
      --pattern=0x5a mine.$fmt
    qemu-img bench -f "$fmt" -w -c 3000 -d 8 -s 100 -S 100 -o 7 --pattern=0x5a ref.$fmt \
      >/dev/null 2>&1 || fail "qemu-img bench -w unaligned $fmt"
    qemu-img compare -f "$fmt" -F "$fmt" mine.$fmt ref.$fmt >cmp.txt 2>&1 ||
      fail "bench -w -t $mode unaligned on $fmt: $(cat cmp.txt)"
    [ "$fmt" = raw ] || qcheck mine.qcow2
    expect 0 "$VESSEL" img bench -f "$fmt" -t $mode -c 3000 -d 8 -s 100 -S 333 -o 5 mine.$fmt
  done
done

# What each mode asks of the kernel, next to qemu-img: the open flags of the
# image, and how many fdatasync calls a write run makes (one at the close
# unless unsafe; writethrough: O_DSYNC here, a flush after every write in
# qemu, so only the flags are compared).
if command -v strace >/dev/null 2>&1; then
  qemu-img create -q -f raw st.raw 1M
  for mode in none directsync writethrough writeback unsafe; do
    # LeakSanitizer cannot run under ptrace.
    ASAN_OPTIONS=detect_leaks=0 strace -f -o v.txt -e trace=openat,fdatasync \
      "$VESSEL" img bench -f raw -w -t $mode -c 50 -d 2 st.raw >/dev/null 2>&1 ||
      fail "strace bench -t $mode"
    strace -f -o q.txt -e trace=openat,fdatasync \
      qemu-img bench -f raw -w -t $mode -c 50 -d 2 st.raw >/dev/null 2>&1 ||
      fail "strace qemu-img bench -t $mode"
    grep -F '"st.raw", O_RDWR' v.txt >v.opens || true
    grep -F '"st.raw", O_RDWR' q.txt >q.opens || true
    v_direct=$(count O_DIRECT v.opens)
    q_direct=$(count O_DIRECT q.opens)
    [ "$v_direct" = "$q_direct" ] || fail "bench -t $mode: O_DIRECT $v_direct, qemu-img $q_direct"
    v_syncs=$(count 'fdatasync(' v.txt)
    q_syncs=$(count 'fdatasync(' q.txt)
    case $mode in
      writethrough | directsync)
        grep '"st.raw", O_RDWR' v.txt | grep -q O_DSYNC || fail "bench -t $mode: no O_DSYNC" ;;
      *)
        grep '"st.raw", O_RDWR' v.txt | grep -q O_DSYNC && fail "bench -t $mode: O_DSYNC"
        [ "$v_syncs" = "$q_syncs" ] ||
          fail "bench -w -t $mode: $v_syncs fdatasync calls, qemu-img $q_syncs" ;;
    esac
  done
  # --flush-interval: the same number of flushes as qemu-img when drained;
  # with --no-drain requests are written while a flush is under way (given
  # two threads to run them on).
  qemu-img create -q -f raw nd.raw 8M
  ASAN_OPTIONS=detect_leaks=0 strace -f -o v.txt -e trace=fdatasync,pwrite64 \
    "$VESSEL" img bench -f raw -w -c 4000 -d 4 --flush-interval=40 nd.raw >/dev/null 2>&1
  strace -f -o q.txt -e trace=fdatasync \
    qemu-img bench -f raw -w -c 4000 -d 4 --flush-interval=40 nd.raw >/dev/null 2>&1
  [ "$(count 'fdatasync(' v.txt)" = "$(count 'fdatasync(' q.txt)" ] ||
    fail "--flush-interval: $(count 'fdatasync(' v.txt) flushes, qemu-img $(count 'fdatasync(' q.txt)"
  # pwrite64 calls of one thread while another thread's fdatasync is unfinished.
  overlap() {
    awk '/fdatasync\(.*unfinished/ { open[$1] = 1 } /fdatasync resumed/ { delete open[$1] }
         /pwrite64\(/ { for (t in open) if (t != $1) { n++; break } } END { print n + 0 }' "$1"
  }
  [ "$(overlap v.txt)" = 0 ] || fail "drained flushes overlap writes: $(overlap v.txt)"
  if [ "$(nproc)" -ge 2 ]; then
    ASAN_OPTIONS=detect_leaks=0 strace -f -o v.txt -e trace=fdatasync,pwrite64 \
      "$VESSEL" img bench -f raw -w -c 4000 -d 4 --flush-interval=40 --no-drain nd.raw \
      >/dev/null 2>&1
    [ "$(overlap v.txt)" -gt 0 ] || fail "--no-drain: no write while a flush was under way"
  fi
else
  echo "strace not installed: open flags and flushes not checked"
fi

# A file system without O_DIRECT: -t none and directsync fail with qemu-img's reason.
if [ -n "$NO_ODIRECT" ]; then
  for mode in none directsync; do
    expect_error env ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD="$NO_ODIRECT" \
      "$VESSEL" img bench -t $mode -c 1 r.raw
    grep -q 'filesystem does not support O_DIRECT' err.txt || fail "bench -t $mode: $(cat err.txt)"
  done
fi

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
