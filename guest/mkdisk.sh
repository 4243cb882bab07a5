#!/usr/bin/env bash
# mkdisk.sh OUT.ext4 SCRATCH_DIR
#
# The default guest's data disk: 64 MiB of ext4 holding hello.txt, made
# without mounting anything (mke2fs -d). UUID, hash seed and timestamps are
# fixed, so the image is reproducible.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: mkdisk.sh OUT.ext4 SCRATCH_DIR" >&2; exit 2; }
out=$1 root=$2
epoch=${SOURCE_DATE_EPOCH:-1700000000}

rm -rf "$root"
mkdir -p "$root"
printf 'hello from the vessel data disk\n' > "$root/hello.txt"
chmod 0644 "$root/hello.txt"
touch -d "@$epoch" "$root/hello.txt" "$root"

rm -f "$out.tmp"
E2FSPROGS_FAKE_TIME=$epoch mke2fs -q -F -t ext4 -L vessel-data \
  -U 5e55e100-0000-4000-8000-000000000001 \
  -E root_owner=0:0,hash_seed=5e55e100-0000-4000-8000-000000000002 \
  -d "$root" "$out.tmp" 64M
# mke2fs -d copies each file's ctime, which the host sets to "now".
E2FSPROGS_FAKE_TIME=$epoch debugfs -w -R "set_inode_field /hello.txt ctime @$epoch" "$out.tmp" 2>/dev/null
mv "$out.tmp" "$out"
echo "mkdisk: $out: $(stat -c %s "$out") bytes"
