#!/usr/bin/env bash
# fetch-busybox.sh DEST
#
# Unpacks Debian's busybox source package (with Debian's patches applied)
# into DEST. Needs the deb-src entry that scripts/install-deps.sh adds.
set -euo pipefail

dest=${1:?usage: fetch-busybox.sh DEST}
tmp=$dest.fetch
rm -rf "$tmp" "$dest"
mkdir -p "$tmp"

if ! (cd "$tmp" && apt-get source -q busybox); then
  cat >&2 <<'MSG'
fetch-busybox: `apt-get source busybox` failed.
  It needs a deb-src entry for Debian 12 and a current package index:
  run scripts/install-deps.sh (it adds /etc/apt/sources.list.d/vessel-deb-src.sources
  and runs apt-get update).
MSG
  exit 1
fi

src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'busybox-*' | head -n 1)
[ -n "$src" ] && [ -f "$src/Makefile" ] || { echo "fetch-busybox: no source tree unpacked in $tmp" >&2; exit 1; }
ver=$(cd "$tmp" && ls busybox_*.dsc)
mv "$src" "$dest"
echo "${ver%.dsc}" > "$dest/.vessel-source"
rm -rf "$tmp"
echo "fetch-busybox: $(cat "$dest/.vessel-source") unpacked in $dest"
