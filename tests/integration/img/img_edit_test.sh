#!/bin/bash
# The image-editing verbs (resize, amend, measure, commit, rebase) against
# qemu-img: each operation is done by vessel on one copy and by qemu-img on
# another, then qemu-img must find our image clean (no errors, no leaks), with
# the same contents and the same info; measure must print qemu-img's numbers.
# Usage: img_edit_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img qemu-io python3"
. "$(dirname "$0")/lib.sh"
# info_of IMG: size, compat, lazy refcounts, backing file (and format), dirty
# flag from qemu-img info, one line.
info_of() {
  qemu-img info --output=json "$1" | python3 -c '
import json, sys
i = json.load(sys.stdin)
d = i.get("format-specific", {}).get("data", {})
print(i["virtual-size"], d.get("compat"), d.get("lazy-refcounts"), i.get("backing-filename"),
      i.get("backing-filename-format"), i.get("dirty-flag"))'
}
# Assigned first, so that a failed qemu-img info ends the test instead of
# comparing two empty lines.
same_info() {
  a=$(info_of "$1")
  b=$(info_of "$2")
  [ "$a" = "$b" ] || fail "qemu-img info differs: $1 [$a] vs $2 [$b]"
}
# pair NAME SIZE [CREATE-OPTIONS...]: NAME.v (for vessel) and NAME.q (for
# qemu-img), identical files.
pair() {
  name=$1 size=$2; shift 2
  qemu-img create -q -f qcow2 "$@" "$name.v" "$size" && cp "$name.v" "$name.q"
}
# verdict NAME: our image clean, same contents and info as qemu-img's.
verdict() { qcheck "$1.v"; same "$1.v" "$1.q"; same_info "$1.v" "$1.q"; }

# --- help ---
for verb in resize amend measure commit rebase; do
  expect 0 "$VESSEL" img $verb --help
  grep -q "Usage: vessel img $verb" out.txt || fail "img $verb --help"
done

# --- resize: grow with the L1 table in place ---
pair g 1M
qio -c 'write -P 7 0 1M' g.v; cp g.v g.q
expect 0 "$VESSEL" img resize g.v 5G
grep -qx 'Image resized.' out.txt || fail "resize output: $(cat out.txt)"
qemu-img resize -q g.q 5G
verdict g
qio -c 'write -P 9 4G 64k' g.v  # the new area is usable
qcheck g.v
# --- resize: grow moving the L1 table (4 KiB clusters: 1 -> 8 L1 clusters) ---
pair m 1M -o cluster_size=4096
qio -c 'write -P 5 0 100k' -c 'write -P 6 900k 8k' m.v; cp m.v m.q
expect 0 "$VESSEL" img resize m.v 8G
qemu-img resize -q m.q 8G
verdict m
expect 0 "$VESSEL" img resize -q m.v +1G
[ -s out.txt ] && fail "resize -q printed: $(cat out.txt)"
qemu-img resize -q m.q +1G
verdict m
# --- resize: lazy refcounts, version 2 ---
pair l 3M -o lazy_refcounts=on
qio -c 'write -P 1 1M 1M' l.v; cp l.v l.q
expect 0 "$VESSEL" img resize l.v 3G; qemu-img resize -q l.q 3G; verdict l
pair v2 3M -o compat=0.10
qio -c 'write -P 1 1M 1M' v2.v; cp v2.v v2.q
expect 0 "$VESSEL" img resize v2.v 1G; qemu-img resize -q v2.q 1G; verdict v2
# --- resize: a larger backing file must not show through the new area ---
qemu-img create -q -f qcow2 base.qcow2 4M
qio -c 'write -P 3 0 4M' base.qcow2
pair bk 1M -b base.qcow2 -F qcow2
qio -c 'write -P 4 0 64k' bk.v; cp bk.v bk.q
expect 0 "$VESSEL" img resize bk.v 4M; qemu-img resize -q bk.q 4M; verdict bk
qio -c 'read -P 0 1M 3M' bk.v  # the grown area reads zeros
# --- resize: shrink ---
pair s 4M
qio -c 'write -P 1 0 4M' s.v; cp s.v s.q
expect_error "$VESSEL" img resize s.v 2M
expect_error "$VESSEL" img resize s.v -- -1M
expect_error "$VESSEL" img resize --shrink s.v 1000
same s.v s.q  # refused: unchanged
expect 0 "$VESSEL" img resize --shrink s.v 1000K; qemu-img resize -q --shrink s.q 1000K; verdict s
expect 0 "$VESSEL" img resize --shrink s.v -500K; qemu-img resize -q --shrink s.q -500K; verdict s
[ "$(stat -c %s s.v)" -le "$(stat -c %s s.q)" ] || fail "shrink left the file tail"
expect 0 "$VESSEL" img resize s.v 4M; qemu-img resize -q s.q 4M; verdict s
# Shrinking past whole L2 tables (4 KiB clusters: one table maps 2 MiB).
pair s4 16M -o cluster_size=4096
qio -c 'write -P 1 0 16M' s4.v; cp s4.v s4.q
expect 0 "$VESSEL" img resize --shrink s4.v 3M; qemu-img resize -q --shrink s4.q 3M; verdict s4
expect 0 "$VESSEL" img resize s4.v 16M; qemu-img resize -q s4.q 16M; verdict s4  # tail gone
# --- resize: internal snapshots stay intact ---
pair sn 4M
qio -c 'write -P 1 0 4M' sn.v
qemu-img snapshot -c snap sn.v; cp sn.v sn.q
qemu-img convert -O raw sn.v snap.raw
qio -c 'write -P 2 0 1M' sn.v; cp sn.v sn.q
expect 0 "$VESSEL" img resize --shrink sn.v 1M; qemu-img resize -q --shrink sn.q 1M; verdict sn
expect 0 "$VESSEL" img resize sn.v 1G; qemu-img resize -q sn.q 1G; verdict sn
qemu-img snapshot -l sn.v >list.txt
grep -q snap list.txt || fail "snapshot kept"
qemu-img convert -l snap -O raw sn.v snap2.raw && cmp -s -n 4194304 snap.raw snap2.raw || fail "snapshot data"
qemu-img create -q -f qcow2 -o compat=0.10 v2s.qcow2 1M
qemu-img snapshot -c snap v2s.qcow2
expect_error "$VESSEL" img resize v2s.qcow2 2M
# --- resize: raw still works ---
qemu-img create -q -f raw r.raw 1M
expect 0 "$VESSEL" img resize -f raw r.raw 3M
[ "$(stat -c %s r.raw)" = 3145728 ] || fail "raw resize"

# --- amend ---
pair up 4M -o compat=0.10
qio -c 'write -P 1 0 1M' up.v; cp up.v up.q
expect 0 "$VESSEL" img amend -f qcow2 -o compat=1.1 up.v
qemu-img amend -f qcow2 -o compat=1.1 up.q; verdict up
[ "$(info_of up.v | cut -d' ' -f2)" = 1.1 ] || fail "upgrade: $(info_of up.v)"
expect 0 "$VESSEL" img amend -o lazy_refcounts=on up.v
qemu-img amend -o lazy_refcounts=on up.q; verdict up
[ "$(info_of up.v | cut -d' ' -f3)" = True ] || fail "lazy on: $(info_of up.v)"
expect 0 "$VESSEL" img amend -o lazy_refcounts=off up.v
qemu-img amend -o lazy_refcounts=off up.q; verdict up
# Downgrade: zero clusters (plain, preallocated) without and with a backing file.
for b in "" "-b base.qcow2 -F qcow2"; do
  # shellcheck disable=SC2086
  pair dn 4M $b
  qio -c 'write -P 1 0 2M' -c 'write -z 0 64k' -c 'write -z -u 1M 64k' -c 'write -z 3M 128k' dn.v
  cp dn.v dn.q
  expect 0 "$VESSEL" img amend -f qcow2 -o compat=0.10 dn.v
  qemu-img amend -f qcow2 -o compat=0.10 dn.q; verdict dn
  [ "$(info_of dn.v | cut -d' ' -f2)" = 0.10 ] || fail "downgrade: $(info_of dn.v)"
  expect 0 "$VESSEL" img amend -o compat=1.1,lazy_refcounts=on dn.v
  qemu-img amend -o compat=1.1,lazy_refcounts=on dn.q; verdict dn
  expect 0 "$VESSEL" img amend -o compat=0.10 dn.v
  qemu-img amend -o compat=0.10 dn.q; verdict dn
done
# Turning lazy refcounts off on an image left dirty repairs it first.
pair dirty 4M -o lazy_refcounts=on
# qemu-io's abort command kills it before the lazy refcounts reach the file:
# the image is left dirty.
expect_fail qemu-io -c 'write -P 1 0 1M' -c abort dirty.v 2>/dev/null  # no "Aborted" notice
[ "$(info_of dirty.v | cut -d' ' -f6)" = True ] || fail "not dirty: $(info_of dirty.v)"
cp dirty.v dirty.q
expect 0 "$VESSEL" img amend -o lazy_refcounts=off dirty.v
qemu-img amend -o lazy_refcounts=off dirty.q 2>/dev/null; verdict dirty
[ "$(info_of dirty.v | cut -d' ' -f6)" = False ] || fail "still dirty: $(info_of dirty.v)"
# Size through amend.
expect 0 "$VESSEL" img amend -o size=8M dirty.v
qemu-img amend -o size=8M dirty.q; verdict dirty
# Refused, image unchanged.
pair rf 1M -o refcount_bits=8
expect_error "$VESSEL" img amend -o compat=0.10 rf.v
pair zs 1M -o compression_type=zstd
qio -c 'write -c -P 1 0 64k' zs.v; cp zs.v zs.q
expect_error "$VESSEL" img amend -o compat=0.10 zs.v
same zs.v zs.q
pair zn 1M -o compression_type=zstd  # no compressed cluster: downgrade allowed
expect 0 "$VESSEL" img amend -o compat=0.10 zn.v; qemu-img amend -o compat=0.10 zn.q; verdict zn
expect_error "$VESSEL" img amend -o cluster_size=4k up.v
expect_error "$VESSEL" img amend -o foo=1 up.v
expect_error "$VESSEL" img amend -o compat=2 up.v
expect_error "$VESSEL" img amend -o lazy_refcounts=maybe up.v
expect_error "$VESSEL" img amend -o backing_file=x up.v
expect_error "$VESSEL" img amend up.v
expect_error "$VESSEL" img amend -f raw -o compat=1.1 up.v
pair lz 1M -o compat=0.10
expect_error "$VESSEL" img amend -o lazy_refcounts=on lz.v
same_info lz.v lz.q

# --- measure: the numbers of qemu-img ---
qemu-img create -q -f qcow2 src.qcow2 100M
qio -c 'write -P 1 0 1M' -c 'write -P 2 10M 4k' -c 'write -z 20M 1M' -c 'write -c -P 3 50M 64k' \
  -c 'write -P 5 73465856 8k' src.qcow2  # 70M + 64k
qemu-img create -q -f qcow2 -b src.qcow2 -F qcow2 top.qcow2
qio -c 'write -P 4 60M 70k' top.qcow2
qemu-img create -q -f raw holes.raw 20M
qio -f raw -c 'write -P 1 4k 4k' -c 'write -P 2 1M 200k' -c 'write -P 3 19M 8k' holes.raw
measure_same() {
  "$VESSEL" img measure "$@" >mine.txt 2>&1 || fail "measure $*: $(cat mine.txt)"
  qemu-img measure "$@" >ref.txt 2>&1
  cmp -s mine.txt ref.txt || fail "measure $*: $(cat mine.txt) vs $(cat ref.txt)"
}
for out in "" "--output=json"; do
  measure_same $out --size 1G
  measure_same $out --size 1000 -O raw
  measure_same $out -O qcow2 --size 1G
  measure_same $out -O qcow2 --size 1000
  measure_same $out -O qcow2 -o cluster_size=4k,compat=0.10 --size 3G
  measure_same $out -O qcow2 -o cluster_size=512,refcount_bits=1 --size 300M
  measure_same $out -O qcow2 -o cluster_size=2M,refcount_bits=64 --size 10T
  measure_same $out -O qcow2 -o preallocation=full --size 5G
  measure_same $out src.qcow2
  measure_same $out -O qcow2 src.qcow2
  measure_same $out -O qcow2 -o cluster_size=4k src.qcow2
  measure_same $out -O qcow2 -o compat=0.10 src.qcow2
  measure_same $out -O qcow2 -o cluster_size=1M top.qcow2
  measure_same $out -O qcow2 -o cluster_size=2M src.qcow2
  measure_same $out -O qcow2 -o backing_file=src.qcow2 top.qcow2
  measure_same $out -O qcow2 -f raw holes.raw
  measure_same $out -O qcow2 -o cluster_size=512 holes.raw
  measure_same $out -O raw holes.raw
done
expect_error "$VESSEL" img measure
expect_error "$VESSEL" img measure --size 1G src.qcow2
expect_error "$VESSEL" img measure -O qcow2 -o foo=bar --size 1G

# --- commit ---
# commit_pair: the same chain in v/ and q/ (backing names are relative).
mkdir -p v q
commit_chain() {
  for d in v q; do
    rm -f $d/*
    qemu-img create -q -f qcow2 $d/base 1M
    qio -c 'write -P 1 0 1M' $d/base
    qemu-img create -q -f qcow2 -b base -F qcow2 $d/mid 2M
    qio -c 'write -P 2 64k 64k' $d/mid
    qemu-img create -q -f qcow2 -b mid -F qcow2 $d/top 3M
  done
  for d in v q; do qio -c 'write -P 3 0 32k' -c 'write -z 128k 64k' -c 'write -P 4 2560k 64k' $d/top; done
}
commit_chain
expect 0 "$VESSEL" img commit v/top
grep -qx 'Image committed.' out.txt || fail "commit output: $(cat out.txt)"
qemu-img commit -q q/top
for f in base mid top; do qcheck v/$f; same v/$f q/$f; same_info v/$f q/$f; done
qemu-img map --output=json v/top >map.json
grep -q '"depth": 0' map.json && fail "commit left data in the top"
commit_chain
expect 0 "$VESSEL" img commit -d v/top; qemu-img commit -q -d q/top
for f in base mid top; do qcheck v/$f; same v/$f q/$f; same_info v/$f q/$f; done
qemu-img map --output=json v/top >map.json
grep -q '"depth": 0' map.json || fail "commit -d emptied the top"
commit_chain
expect 0 "$VESSEL" img commit -q -b base v/top; qemu-img commit -q -b base q/top
[ -s out.txt ] && fail "commit -q printed: $(cat out.txt)"
for f in base top; do qcheck v/$f; same v/$f q/$f; same_info v/$f q/$f; done
qemu-img compare v/top v/base >/dev/null || fail "base holds the whole top after commit -b"
commit_chain
expect 0 "$VESSEL" img commit -q -b v/base v/top  # a path from here names it too
qcheck v/base; qemu-img compare v/top v/base >/dev/null || fail "commit -b v/base"
expect_error "$VESSEL" img commit v/base
expect_error "$VESSEL" img commit -b nope v/top

# --- rebase ---
rebase_chain() {
  for d in v q; do
    rm -f $d/*
    qemu-img create -q -f qcow2 $d/old 4M
    qio -c 'write -P 1 0 4M' $d/old
    qemu-img create -q -f qcow2 $d/new 2M
    qio -c 'write -P 1 0 1M' -c 'write -P 9 1M 1M' $d/new
    qemu-img create -q -f qcow2 -b old -F qcow2 $d/img 4M
    qio -c 'write -P 5 512k 64k' $d/img
  done
  qemu-img convert -O raw v/img view.raw
}
rebase_chain
expect 0 "$VESSEL" img rebase -b new -F qcow2 v/img; qemu-img rebase -b new -F qcow2 q/img
qcheck v/img; same v/img q/img; same_info v/img q/img; same v/img view.raw
[ "$(info_of v/img | cut -d' ' -f4)" = new ] || fail "rebase: $(info_of v/img)"
expect 0 "$VESSEL" img rebase -b "" v/img; qemu-img rebase -b "" q/img
qcheck v/img; same v/img q/img; same_info v/img q/img; same v/img view.raw
[ "$(info_of v/img | cut -d' ' -f4)" = None ] || fail "rebase -b '': $(info_of v/img)"
rebase_chain
expect 0 "$VESSEL" img rebase -u -b new -F qcow2 v/img; qemu-img rebase -u -b new -F qcow2 q/img
qcheck v/img; same v/img q/img; same_info v/img q/img
expect 0 "$VESSEL" img rebase -u -b missing -F qcow2 v/img
qemu-img rebase -u -b missing -F qcow2 q/img
expect_fail qemu-img check v/img  # the backing file is missing now
grep -q 'missing' err.txt || fail "rebase -u missing: $(cat err.txt)"
expect 0 "$VESSEL" img rebase -u -b old -F qcow2 v/img  # works without the backing file
[ "$(info_of v/img | cut -d' ' -f4)" = old ] || fail "rebase -u: $(info_of v/img)"
expect_error "$VESSEL" img rebase v/img
expect_error "$VESSEL" img rebase -b new v/img
expect_error "$VESSEL" img rebase -b nonexistent -F qcow2 v/img
expect_error "$VESSEL" img rebase -u -b img -F qcow2 v/img
qcheck v/img
qemu-img create -q -f qcow2 -o cluster_size=512 small.qcow2 1M
long=$(python3 -c 'print("x" * 600)')
expect_error "$VESSEL" img rebase -u -b "$long" -F raw small.qcow2
qcheck small.qcow2
[ "$(info_of small.qcow2 | cut -d' ' -f4)" = None ] || fail "failed rebase changed the header"

finish "all img edit tests passed"
