#!/bin/sh
# Seed corpus for the qcow2 fuzz target: small images made by qemu-img and
# qemu-io covering the format's variants (versions, cluster and refcount
# widths, lazy refcounts, zstd, preallocation, extended L2 entries (with
# zero subclusters, discards and a snapshot), external data files (also raw
# and with extended L2 entries), compressed and zero clusters, internal
# snapshots, a dirty image).
# Usage: make_corpus.sh DIR
set -eu
DIR=$1
command -v qemu-img >/dev/null 2>&1 || { echo "qemu-img not installed"; exit 77; }
mkdir -p "$DIR"
cd "$DIR"
n=0
seed() {  # seed OPTIONS SIZE [QEMU-IO COMMANDS...]
  n=$((n + 1))
  f=seed$n.qcow2
  rm -f "$f"
  qemu-img create -q -f qcow2 -o "$1" "$f" "$2"
  shift 2
  for cmd in "$@"; do qemu-io -c "$cmd" "$f" >/dev/null; done
}
seed cluster_size=512 64k 'write -P 0x11 0 3k' 'write -z 8k 4k'
seed cluster_size=512,compat=0.10 64k 'write -P 0x22 1k 2k'
seed cluster_size=1k,refcount_bits=1 128k 'write -P 0x33 0 5k' 'write -c -P 0x44 16k 1k'
seed cluster_size=1k,refcount_bits=64 128k 'write -P 0x55 7k 9k'
seed cluster_size=4k,refcount_bits=8,lazy_refcounts=on 256k 'write -P 0x66 0 20k'
seed cluster_size=4k,compression_type=zstd 256k 'write -c -P 0x77 0 4k' 'write -c -P 0x78 8k 4k'
seed cluster_size=2k,preallocation=metadata 32k
seed cluster_size=16k,extended_l2=on 512k 'write -P 0x88 2k 1k' 'write -z 4k 2k' \
  'write -c -P 0x89 32k 16k'
seed cluster_size=32k,extended_l2=on,lazy_refcounts=on 1M 'write -P 0x8a 40k 3k' \
  'write -z 64k 32k' 'write -P 0x8b 100k 100k' 'discard 160k 32k'
qemu-img snapshot -c snap seed$n.qcow2
qemu-io -c 'write -P 0x8c 101k 1k' seed$n.qcow2 >/dev/null
seed cluster_size=512 64k 'write -P 0x99 0 2k'
qemu-img snapshot -c snap seed$n.qcow2
qemu-io -c 'write -P 0x9a 512 1k' seed$n.qcow2 >/dev/null
seed cluster_size=512 16k
seed cluster_size=4k,data_file=seed.data 64k 'write -P 0x9b 5k 10k' 'write -z 32k 8k'
seed cluster_size=16k,data_file=seed.data,data_file_raw=on,extended_l2=on 256k \
  'write -P 0x9c 1k 3k' 'write -z 64k 2k' 'discard 128k 16k'
rm -f seed.data
# An image left dirty: lazy refcounts and the dirty bit set by hand.
seed cluster_size=512,lazy_refcounts=on 64k 'write -P 0xaa 0 4k'
printf '\001' | dd of=seed$n.qcow2 bs=1 seek=79 conv=notrunc 2>/dev/null
ls | wc -l
